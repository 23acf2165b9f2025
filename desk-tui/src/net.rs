//! The socket, and only the socket: the WebSocket upgrade to `/v1/desk`, frames to and
//! from bytes in the chosen subprotocol, and what the relay's close codes mean.
//!
//! It keeps no state between connections and decides nothing about retrying; the engine
//! does. The token goes into the `Authorization` header and nowhere else: no error text
//! made here contains it.

use crate::config::{ConfigError, Subprotocol, SyncConfig};
use futures_util::{FutureExt, SinkExt, StreamExt};
pub(crate) use protocol::frame::close;
use protocol::{ClientFrame, CodecError, PROTOCOL_VERSION, ServerFrame, codec};
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, ClientRequestBuilder, Message, http};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Why a connection could not be made or used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NetError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the relay answered the upgrade with HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Socket(String),
    /// The relay's TLS certificate was not accepted; `reason` says why in words.
    #[error("{}{relay} refused: {reason}", crate::state::CERTIFICATE_REFUSED)]
    Certificate { relay: String, reason: String },
    #[error("the relay sent a {got} frame, but {expected} frames were agreed")]
    WrongFrameType {
        got: &'static str,
        expected: &'static str,
    },
    #[error("the relay sent an undecodable frame: {0}")]
    Undecodable(CodecError),
    #[error("a frame could not be encoded: {0}")]
    Encode(CodecError),
}

impl NetError {
    /// The close code to send the relay before hanging up because of this error.
    pub(crate) fn close_code(&self) -> u16 {
        match self {
            NetError::WrongFrameType { .. } => close::UNSUPPORTED,
            NetError::Undecodable(_) => close::INVALID_PAYLOAD,
            _ => close::NORMAL,
        }
    }
}

fn socket_error(error: &tungstenite::Error) -> NetError {
    // tungstenite's texts name the failure (refused, reset, timed out); they never include
    // request headers, so the token cannot appear here.
    NetError::Socket(error.to_string())
}

/// What arrived on the socket.
// Moved once, from the decoder to the engine; boxing would only add an allocation per frame.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Incoming {
    Frame(ServerFrame),
    /// A ping or pong: proof the connection lives (tungstenite answers pings by itself).
    Heartbeat,
    /// The relay closed (`code` is `None` when the connection just ended).
    Closed {
        code: Option<u16>,
        reason: String,
    },
}

/// What the engine should do after the relay ended a connection.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Verdict {
    Reconnect(String),
    Refused(String),
    /// The tenant was deleted from the relay: erase the local copy, then stop for good.
    Erase(String),
}

/// The relay's close codes: only a policy refusal and an unsupported protocol version are
/// final; everything else (shutdown, fell behind, idle, errors) is worth a reconnect.
pub(crate) fn verdict_on_close(code: Option<u16>, reason: &str) -> Verdict {
    let detail = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    match code {
        None => Verdict::Reconnect("the connection to the relay ended".into()),
        Some(close::POLICY) => Verdict::Refused(format!(
            "the relay refused this desk by policy (token revoked or forbidden){detail}"
        )),
        Some(close::VERSION) => Verdict::Refused(format!(
            "the relay does not support desk protocol version {PROTOCOL_VERSION}; \
             update the desk{detail}"
        )),
        Some(close::TENANT_DELETED) => Verdict::Erase(format!(
            "this business was deleted from the relay; its local copy on this desk was erased{detail}"
        )),
        Some(close::TOO_SLOW) => {
            Verdict::Reconnect(format!("fell behind the relay, resyncing{detail}"))
        }
        Some(1001) => Verdict::Reconnect(format!("the relay is shutting down{detail}")),
        Some(4001) => Verdict::Reconnect(format!("the relay closed an idle connection{detail}")),
        Some(code) => {
            Verdict::Reconnect(format!("the relay closed the connection ({code}){detail}"))
        }
    }
}

/// HTTP answers to the upgrade: a bad token or a subprotocol the relay does not know will
/// not get better by retrying, and a 410 means the tenant was deleted (erase the copy);
/// anything else (a proxy's 502, a restarting relay) may.
pub(crate) fn verdict_on_status(status: u16, subprotocol: Subprotocol) -> Verdict {
    match status {
        401 => Verdict::Refused(
            "the relay refused the agent token (wrong or revoked); ask an owner for a new one"
                .into(),
        ),
        403 => Verdict::Refused("the relay forbids this token the desk (HTTP 403)".into()),
        // The relay says the token's tenant was deleted while this desk was away: the same
        // as the close code a connected desk gets.
        410 => Verdict::Erase(
            "this business was deleted from the relay while this desk was offline; its local \
             copy on this desk was erased"
                .into(),
        ),
        400 => Verdict::Refused(format!(
            "the relay does not accept the subprotocol {} (HTTP 400)",
            subprotocol.as_str()
        )),
        status => Verdict::Reconnect(format!("the relay answered the upgrade with HTTP {status}")),
    }
}

/// One open desk connection.
pub(crate) struct Connection {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    subprotocol: Subprotocol,
}

/// Upgrades `GET /v1/desk` with the token and the configured subprotocol; over TLS with
/// `tls` for a `wss://` URL.
pub(crate) async fn connect(
    config: &SyncConfig,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Connection, NetError> {
    let url = config.desk_url()?;
    let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| {
        NetError::Config(ConfigError::RelayUrl {
            url: config.relay.clone(),
            reason: e.to_string(),
        })
    })?;
    let request = ClientRequestBuilder::new(uri.clone())
        .with_header("Authorization", format!("Bearer {}", config.token.expose()))
        .with_sub_protocol(config.subprotocol.as_str());
    let upgraded = match (uri.scheme_str(), tls) {
        (Some("wss"), Some(tls)) => {
            // The TLS handshake is ours, not tungstenite's, so a certificate problem can be
            // told apart from a network one and explained.
            let stream = tls_stream(config, &uri, tls).await?;
            tokio_tungstenite::client_async_with_config(request, stream, None).await
        }
        (Some("wss"), None) => {
            return Err(NetError::Socket(
                "no TLS configuration for a wss:// relay".into(),
            ));
        }
        // Nagle off: frames are small and an agent waits on each answer.
        _ => tokio_tungstenite::connect_async_with_config(request, None, true).await,
    };
    match upgraded {
        Ok((ws, _response)) => Ok(Connection {
            ws,
            subprotocol: config.subprotocol,
        }),
        Err(tungstenite::Error::Http(response)) => {
            Err(NetError::Status(response.status().as_u16()))
        }
        Err(e) => Err(socket_error(&e)),
    }
}

/// TCP, then the TLS handshake against the URL's host name.
async fn tls_stream(
    config: &SyncConfig,
    uri: &http::Uri,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<MaybeTlsStream<TcpStream>, NetError> {
    let host = uri.host().unwrap_or_default();
    // `[::1]` in a URL, `::1` as a name to verify.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(443);
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| NetError::Socket(format!("cannot connect to {host}:{port}: {e}")))?;
    // Nagle off: frames are small and an agent waits on each answer.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let name = ServerName::try_from(host.to_owned()).map_err(|_| {
        NetError::Config(ConfigError::RelayUrl {
            url: config.relay.clone(),
            reason: format!("{host:?} is not a valid TLS server name"),
        })
    })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(tls));
    match connector.connect(name, tcp).await {
        Ok(stream) => Ok(MaybeTlsStream::Rustls(stream)),
        Err(e) => Err(match crate::tls::certificate_problem(&e) {
            Some(reason) => NetError::Certificate {
                relay: config.relay.trim().trim_end_matches('/').to_owned(),
                reason,
            },
            None => NetError::Socket(format!("TLS handshake with {host}:{port} failed: {e}")),
        }),
    }
}

impl Connection {
    pub(crate) async fn send(&mut self, frame: &ClientFrame) -> Result<(), NetError> {
        let message = match self.subprotocol {
            Subprotocol::Bincode => Message::Binary(
                codec::encode_binary(frame)
                    .map_err(NetError::Encode)?
                    .into(),
            ),
            Subprotocol::Json => Message::Text(
                codec::encode_json_frame(frame)
                    .map_err(NetError::Encode)?
                    .into(),
            ),
        };
        self.ws.send(message).await.map_err(|e| socket_error(&e))
    }

    /// The next thing to arrive. Cancel-safe: dropping the future loses nothing.
    pub(crate) async fn recv(&mut self) -> Result<Incoming, NetError> {
        match self.ws.next().await {
            None => Ok(Incoming::Closed {
                code: None,
                reason: String::new(),
            }),
            Some(Err(e)) => Err(socket_error(&e)),
            Some(Ok(message)) => self.decode(message),
        }
    }

    /// What has already arrived, without waiting.
    pub(crate) fn recv_ready(&mut self) -> Option<Result<Incoming, NetError>> {
        self.recv().now_or_never()
    }

    /// Says goodbye with `code`, best effort: the connection is abandoned either way.
    pub(crate) async fn close(mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        let goodbye = self.ws.close(Some(frame));
        if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(1), goodbye).await {
            tracing::debug!(error = %e, "closing the relay connection failed");
        }
    }

    fn decode(&self, message: Message) -> Result<Incoming, NetError> {
        match (message, self.subprotocol) {
            (Message::Binary(bytes), Subprotocol::Bincode) => codec::decode_binary(&bytes)
                .map(Incoming::Frame)
                .map_err(NetError::Undecodable),
            (Message::Text(text), Subprotocol::Json) => codec::decode_json_frame(text.as_str())
                .map(Incoming::Frame)
                .map_err(NetError::Undecodable),
            (Message::Binary(_), Subprotocol::Json) => Err(NetError::WrongFrameType {
                got: "binary",
                expected: "text",
            }),
            (Message::Text(_), Subprotocol::Bincode) => Err(NetError::WrongFrameType {
                got: "text",
                expected: "binary",
            }),
            (Message::Close(frame), _) => Ok(match frame {
                Some(frame) => Incoming::Closed {
                    code: Some(u16::from(frame.code)),
                    reason: frame.reason.to_string(),
                },
                None => Incoming::Closed {
                    code: None,
                    reason: String::new(),
                },
            }),
            (Message::Ping(_) | Message::Pong(_) | Message::Frame(_), _) => Ok(Incoming::Heartbeat),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn only_policy_and_version_close_codes_are_final() {
        for code in [1000, 1001, 1002, 1003, 1007, 1009, 1011, 4000, 4001, 4999] {
            assert!(
                matches!(verdict_on_close(Some(code), "x"), Verdict::Reconnect(_)),
                "{code}"
            );
        }
        assert!(matches!(verdict_on_close(None, ""), Verdict::Reconnect(_)));
        for code in [1008, 4002] {
            let Verdict::Refused(reason) = verdict_on_close(Some(code), "token revoked") else {
                panic!("{code} must refuse");
            };
            assert!(reason.ends_with(": token revoked"), "{reason}");
        }
        assert!(matches!(
            verdict_on_close(Some(close::TENANT_DELETED), ""),
            Verdict::Erase(_)
        ));
    }

    #[test]
    fn bad_token_and_unknown_subprotocol_are_final() {
        for status in [400, 401, 403] {
            assert!(matches!(
                verdict_on_status(status, Subprotocol::Json),
                Verdict::Refused(_)
            ));
        }
        assert!(matches!(
            verdict_on_status(410, Subprotocol::Bincode),
            Verdict::Erase(_)
        ));
        for status in [404, 429, 500, 502, 503] {
            assert!(matches!(
                verdict_on_status(status, Subprotocol::Bincode),
                Verdict::Reconnect(_)
            ));
        }
    }
}
