//! A plain WebSocket desk client for end-to-end tests: it speaks the wire protocol directly
//! (either subprotocol), so tests can also send what a real desk never would.

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use protocol::codec::{decode_binary, decode_json_frame, encode_binary, encode_json_frame};
use protocol::{
    AgentId, Answer, ClientFrame, Command, CommandKey, Event, PROTOCOL_VERSION, Role, Seq,
    ServerFrame, TenantId,
};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for one frame before calling the relay stuck.
pub const FRAME_WAIT: Duration = Duration::from_secs(10);

pub use protocol::frame::{SUBPROTOCOL_BINARY as BINARY, SUBPROTOCOL_JSON as JSON};

/// The welcome's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    pub tenant: TenantId,
    pub agent: AgentId,
    pub role: Role,
    /// The partner's brand (or name) and the tenant's name: the desk's header.
    pub brand: String,
    pub tenant_name: String,
    pub head: Seq,
    pub credits: i64,
}

pub struct RawDesk {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    json: bool,
    /// Every message's payload as it arrived, once [`RawDesk::record`] was called.
    recorded: Option<Vec<Vec<u8>>>,
}

/// Why an upgrade was refused, or how a session closed.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Http(u16),
    Closed(u16, String),
}

fn ws_url(relay: &str) -> String {
    format!("{}/v1/desk", relay.replacen("http", "ws", 1))
}

impl RawDesk {
    /// Opens `/v1/desk` with `token` offering `subprotocol` (`None`: offer nothing).
    ///
    /// # Errors
    /// The upgrade was refused (see [`RawDesk::try_connect`]) or the network failed.
    pub async fn connect(
        relay: &str,
        token: &str,
        subprotocol: Option<&str>,
    ) -> anyhow::Result<RawDesk> {
        match Self::try_connect(relay, Some(token), subprotocol).await? {
            Ok(desk) => Ok(desk),
            Err(refused) => bail!("upgrade refused: {refused:?}"),
        }
    }

    /// A desk of `token` (no subprotocol offered) that said hello from the start and has
    /// read every event up to the welcome's head: ready for commands.
    ///
    /// # Errors
    /// See [`RawDesk::connect`] and [`RawDesk::next`].
    pub async fn caught_up(relay: &str, token: &str) -> anyhow::Result<RawDesk> {
        let mut desk = Self::connect(relay, token, None).await?;
        let welcome = desk.hello(0).await?;
        desk.events_until(welcome.head).await?;
        Ok(desk)
    }

    /// Like `connect`, but a refused upgrade is a value.
    ///
    /// # Errors
    /// Network failures.
    pub async fn try_connect(
        relay: &str,
        token: Option<&str>,
        subprotocol: Option<&str>,
    ) -> anyhow::Result<Result<RawDesk, Refused>> {
        Self::try_connect_with(relay, token, subprotocol, None).await
    }

    /// Like `connect` to an `https://` relay, trusting what `tls` trusts.
    ///
    /// # Errors
    /// See [`RawDesk::connect`].
    pub async fn connect_tls(
        relay: &str,
        token: &str,
        tls: std::sync::Arc<rustls::ClientConfig>,
    ) -> anyhow::Result<RawDesk> {
        match Self::try_connect_with(relay, Some(token), None, Some(tls)).await? {
            Ok(desk) => Ok(desk),
            Err(refused) => bail!("upgrade refused: {refused:?}"),
        }
    }

    /// Like `try_connect`; `tls` is the client configuration for a `wss://` URL.
    ///
    /// # Errors
    /// Network failures (a refused certificate among them).
    pub async fn try_connect_with(
        relay: &str,
        token: Option<&str>,
        subprotocol: Option<&str>,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> anyhow::Result<Result<RawDesk, Refused>> {
        let mut request = ws_url(relay).into_client_request()?;
        if let Some(token) = token {
            request.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}"))?,
            );
        }
        if let Some(p) = subprotocol {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_str(p)?);
        }
        let connector = tls.map(tokio_tungstenite::Connector::Rustls);
        match tokio_tungstenite::connect_async_tls_with_config(request, None, true, connector).await
        {
            Ok((ws, response)) => {
                let chosen = response
                    .headers()
                    .get("sec-websocket-protocol")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(BINARY)
                    .to_owned();
                Ok(Ok(RawDesk {
                    ws,
                    json: chosen == JSON,
                    recorded: None,
                }))
            }
            Err(WsError::Http(response)) => Ok(Err(Refused::Http(response.status().as_u16()))),
            Err(e) => Err(e.into()),
        }
    }

    /// From now on, keeps the raw payload of every message the relay sends (text, binary,
    /// close reason, ping data), for tests that scan what went over the wire.
    pub fn record(&mut self) {
        self.recorded.get_or_insert_with(Vec::new);
    }

    /// The payloads recorded so far (see [`RawDesk::record`]), leaving recording on.
    pub fn take_recorded(&mut self) -> Vec<Vec<u8>> {
        self.recorded
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Whether this session speaks the JSON subprotocol.
    #[must_use]
    pub fn is_json(&self) -> bool {
        self.json
    }

    fn keep(&mut self, message: &Message) {
        if let Some(recorded) = &mut self.recorded {
            recorded.push(match message {
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.to_vec(),
                Message::Close(frame) => frame
                    .as_ref()
                    .map(|f| f.reason.as_bytes().to_vec())
                    .unwrap_or_default(),
                Message::Frame(f) => f.payload().to_vec(),
            });
        }
    }

    /// Sends a client frame in this session's encoding.
    ///
    /// # Errors
    /// The socket is gone.
    pub async fn send(&mut self, frame: &ClientFrame) -> anyhow::Result<()> {
        let message = if self.json {
            Message::Text(encode_json_frame(frame)?.into())
        } else {
            Message::Binary(encode_binary(frame)?.into())
        };
        self.send_raw(message).await
    }

    /// Sends anything, e.g. garbage.
    ///
    /// # Errors
    /// The socket is gone.
    pub async fn send_raw(&mut self, message: Message) -> anyhow::Result<()> {
        self.ws.send(message).await.context("send")
    }

    /// Sends hello and returns the welcome.
    ///
    /// # Errors
    /// Anything but a welcome arrives.
    pub async fn hello(&mut self, cursor: u64) -> anyhow::Result<Welcome> {
        self.send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            cursor,
        })
        .await?;
        match self.next().await? {
            ServerFrame::Welcome {
                protocol,
                tenant,
                agent,
                role,
                brand,
                tenant_name,
                head,
                credits,
            } => {
                anyhow::ensure!(protocol == PROTOCOL_VERSION, "protocol {protocol}");
                Ok(Welcome {
                    tenant,
                    agent,
                    role,
                    brand,
                    tenant_name,
                    head,
                    credits,
                })
            }
            other => bail!("expected welcome, got {other:?}"),
        }
    }

    /// The next server frame (pings are skipped).
    ///
    /// # Errors
    /// Timeout, close, or an undecodable frame.
    pub async fn next(&mut self) -> anyhow::Result<ServerFrame> {
        loop {
            let message = tokio::time::timeout(FRAME_WAIT, self.ws.next())
                .await
                .context("no frame from the relay in time")?
                .context("socket ended")??;
            self.keep(&message);
            match message {
                Message::Binary(b) if !self.json => return Ok(decode_binary(&b)?),
                Message::Text(t) if self.json => return Ok(decode_json_frame(t.as_str())?),
                Message::Ping(_) | Message::Pong(_) => {}
                Message::Close(frame) => bail!("closed: {frame:?}"),
                other => bail!("unexpected message {other:?}"),
            }
        }
    }

    /// Collects events until `head` is reached, returning them in arrival order; answers
    /// that arrive meanwhile are returned separately.
    ///
    /// # Errors
    /// See [`RawDesk::next`].
    pub async fn events_until(
        &mut self,
        head: Seq,
    ) -> anyhow::Result<(Vec<Event>, Vec<(CommandKey, Answer)>)> {
        let mut events = Vec::new();
        let mut answers = Vec::new();
        let mut last = Seq(0);
        while last < head {
            match self.next().await? {
                ServerFrame::Event { event } => {
                    last = event.seq;
                    events.push(event);
                }
                ServerFrame::Answer { key, answer } => answers.push((key, answer)),
                ServerFrame::Welcome { .. } => bail!("a second welcome"),
            }
        }
        Ok((events, answers))
    }

    /// Sends a command and waits for its answer (events arriving meanwhile are returned).
    ///
    /// # Errors
    /// See [`RawDesk::next`].
    pub async fn command(
        &mut self,
        key: &str,
        command: Command,
    ) -> anyhow::Result<(Answer, Vec<Event>)> {
        let key = CommandKey::new(key);
        self.send(&ClientFrame::Command {
            key: key.clone(),
            command,
        })
        .await?;
        let mut events = Vec::new();
        loop {
            match self.next().await? {
                ServerFrame::Answer { key: k, answer } if k == key => return Ok((answer, events)),
                ServerFrame::Event { event } => events.push(event),
                other => bail!("unexpected {other:?} while waiting for an answer"),
            }
        }
    }

    /// Reads until `n` pings arrived (answering each, as any reading client does); events
    /// are skipped. Returns how many pings were seen before anything else ended the read.
    ///
    /// # Errors
    /// The socket closed or nothing came in time.
    pub async fn count_pings(&mut self, n: usize) -> anyhow::Result<usize> {
        let mut pings = 0;
        while pings < n {
            let message = tokio::time::timeout(FRAME_WAIT, self.ws.next())
                .await
                .context("no ping in time")?
                .context("socket ended")??;
            self.keep(&message);
            match message {
                Message::Ping(_) => pings += 1,
                Message::Close(frame) => bail!("closed after {pings} pings: {frame:?}"),
                _ => {}
            }
        }
        Ok(pings)
    }

    /// Reads until the relay closes, returning the close code and reason.
    ///
    /// # Errors
    /// The socket ended without a close frame, or nothing came in time.
    pub async fn closed(&mut self) -> anyhow::Result<(u16, String)> {
        loop {
            let message = tokio::time::timeout(FRAME_WAIT, self.ws.next())
                .await
                .context("the relay did not close in time")?;
            if let Some(Ok(m)) = &message {
                self.keep(m);
            }
            match message {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Ok((u16::from(frame.code), frame.reason.to_string()));
                }
                Some(Ok(Message::Close(None))) => {
                    return Ok((u16::from(CloseCode::Status), String::new()));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("socket error before close: {e}"),
                None => bail!("socket ended without a close frame"),
            }
        }
    }
}

/// A desk that completes the upgrade and says hello, then never reads or answers anything
/// (a raw socket, so not even pongs go out): the stalled desk of the load tests. The
/// caller holds the socket and reads nothing from it.
///
/// # Errors
/// The connection failed.
pub async fn stalled_desk(relay: &str, token: &str) -> anyhow::Result<TcpStream> {
    use tokio::io::AsyncWriteExt;
    let host = relay.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(host).await?;
    let request = format!(
        "GET /v1/desk HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: {JSON}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    let hello = br#"{"type":"hello","cursor":0}"#;
    // A masked text frame with an all-zero mask key, so the payload goes out as is.
    let mut frame = vec![0x81, 0x80 | u8::try_from(hello.len())?, 0, 0, 0, 0];
    frame.extend_from_slice(hello);
    tcp.write_all(&frame).await?;
    Ok(tcp)
}

/// A [`stalled_desk`]; returns the close code the relay finally sent, read from the raw
/// bytes once the relay drops the connection.
///
/// # Errors
/// The upgrade failed or no close frame arrived.
pub async fn silent_desk_close_code(relay: &str, token: &str) -> anyhow::Result<u16> {
    use tokio::io::AsyncReadExt;
    let mut tcp = stalled_desk(relay, token).await?;
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut bytes))
        .await
        .context("the relay never dropped the silent desk")??;
    anyhow::ensure!(bytes.starts_with(b"HTTP/1.1 101"), "upgrade refused");
    // Server frames are unmasked: a close is 0x88, a length, then the code big-endian.
    bytes
        .windows(4)
        .rev()
        .find(|w| w[0] == 0x88 && w[1] >= 2 && w[1] < 126)
        .map(|w| u16::from_be_bytes([w[2], w[3]]))
        .context("no close frame before the connection ended")
}

/// Waits until the desk's sync engine has applied the log up to `want` (its replica's
/// cursor), within [`FRAME_WAIT`] twice over.
///
/// # Errors
/// The cursor does not get there in time, or the replica cannot be read.
pub async fn wait_cursor(engine: &desk_tui::SyncHandle, want: protocol::Seq) -> anyhow::Result<()> {
    crate::eventually("the engine's cursor", FRAME_WAIT * 2, || async {
        Ok((engine.replica().cursor()? >= want).then_some(()))
    })
    .await
}
