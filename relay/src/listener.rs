//! The plain-HTTP listener of `relay serve`: TCP with Nagle's algorithm off. Its TLS
//! sibling is `tls::TlsListener`; both report the peer as a `SocketAddr`, which
//! `http::client::Peer` records per connection.

use axum::serve::Listener;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};

/// Accepts TCP connections and sets `TCP_NODELAY` on each.
pub struct PlainListener(pub TcpListener);

impl Listener for PlainListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        let (stream, peer) = Listener::accept(&mut self.0).await;
        // Desk frames are small writes back to back (`Sending` then `Sent`): with Nagle's
        // algorithm the second waits for the desk's delayed ACK, up to 40 ms.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        (stream, peer)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}
