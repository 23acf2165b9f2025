//! The client's address for the log lines that name one (refused webhooks, desk sessions):
//! the connection's peer, or — only when that peer is a trusted proxy — the address it
//! forwarded (see `proxies`).
//!
//! `Peer` is what the server records per connection (plain or TLS listener alike);
//! `ClientAddr` is the extractor handlers take. A request without connection info (a
//! router driven by `oneshot` in tests) has an unknown client rather than a failure.

use super::AppState;
use crate::listener::PlainListener;
use crate::proxies::Client;
use crate::tls::TlsListener;
use axum::extract::FromRequestParts;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::http::request::Parts;
use axum::serve::IncomingStream;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;

/// The TCP peer of a connection.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

// One impl per listener the relay serves on (a generic one would overlap axum's own).
impl Connected<IncomingStream<'_, PlainListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, PlainListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// Who sent the request, as far as we may believe it.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<Client>);

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(client) => write!(f, "{}", client.ip),
            None => f.write_str("unknown"),
        }
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<ClientAddr, Infallible> {
        let Some(ConnectInfo(Peer(peer))) = parts.extensions.get::<ConnectInfo<Peer>>() else {
            return Ok(ClientAddr(None));
        };
        let values = |name: &str| {
            parts
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
        };
        let (forwarded_for, forwarded_proto) =
            (values("x-forwarded-for"), values("x-forwarded-proto"));
        Ok(ClientAddr(Some(app.config.trusted_proxies.client(
            peer.ip(),
            app.config.tls.is_some(),
            forwarded_for,
            forwarded_proto,
        ))))
    }
}
