//! A scripted stand-in for the relay's `/v1/desk` endpoint on loopback, built on
//! tokio-tungstenite's server side. It decides nothing by itself: every upgrade is handed
//! to the test, which plays the relay's part frame by frame, so each test states exactly
//! what the relay does and in which order. The real relay is exercised by the workspace's
//! end-to-end tests.

use futures_util::{SinkExt, StreamExt};
use protocol::{
    AgentId, ChannelId, ClientFrame, Command, CommandKey, Event, EventBody, Millis, Role, Seq,
    ServerFrame, TenantId, UnknownEvent, codec,
};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// How long a test waits for the engine to do the next expected thing.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub const TENANT: &str = "t-a";
pub const AGENT: &str = "ag-1";
/// What the fake relay's welcome puts in the desk's header.
pub const BRAND: &str = "Agency Desk";
pub const TENANT_NAME: &str = "Boutique A";

/// One upgrade attempt as the fake saw it.
pub struct Upgrade {
    pub authorization: Option<String>,
    pub subprotocol: Option<String>,
    /// `None` when the fake refused the upgrade.
    pub conn: Option<FakeConn>,
}

pub struct FakeRelay {
    addr: SocketAddr,
    upgrades: mpsc::UnboundedReceiver<Upgrade>,
    refuse_with: Arc<Mutex<Option<StatusCode>>>,
    task: JoinHandle<()>,
}

impl FakeRelay {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, upgrades) = mpsc::unbounded_channel();
        let refuse_with = Arc::new(Mutex::new(None));
        let refuse = Arc::clone(&refuse_with);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let refuse = *refuse.lock().unwrap();
                tokio::spawn(upgrade(stream, refuse, tx.clone()));
            }
        });
        Self {
            addr,
            upgrades,
            refuse_with,
            task,
        }
    }

    /// The base URL the desk is configured with.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer every following upgrade with this HTTP status instead of upgrading.
    pub fn refuse_upgrades(&self, status: StatusCode) {
        *self.refuse_with.lock().unwrap() = Some(status);
    }

    /// Upgrade every following attempt again.
    pub fn accept_upgrades(&self) {
        *self.refuse_with.lock().unwrap() = None;
    }

    /// The next upgrade attempt.
    pub async fn next_upgrade(&mut self) -> Upgrade {
        timeout(PATIENCE, self.upgrades.recv())
            .await
            .expect("the desk did not connect in time")
            .expect("the fake relay stopped")
    }

    /// The next upgrade, which must have been accepted.
    pub async fn accept(&mut self) -> FakeConn {
        self.next_upgrade()
            .await
            .conn
            .expect("the upgrade was refused")
    }

    /// Waits `wait` for an upgrade attempt that should not come.
    pub async fn assert_no_upgrade_within(&mut self, wait: Duration) {
        if let Ok(Some(_)) = timeout(wait, self.upgrades.recv()).await {
            panic!("the desk connected again");
        }
    }
}

impl Drop for FakeRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn upgrade(
    stream: TcpStream,
    refuse: Option<StatusCode>,
    upgrades: mpsc::UnboundedSender<Upgrade>,
) {
    let seen = Arc::new(Mutex::new((None, None)));
    let record = Arc::clone(&seen);
    // The shape of the error is tungstenite's `Callback`, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = move |request: &Request, mut response: Response| {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let subprotocol = header("sec-websocket-protocol");
        *record.lock().unwrap() = (header("authorization"), subprotocol.clone());
        if let Some(status) = refuse {
            let mut refusal = ErrorResponse::new(Some("refused".into()));
            *refusal.status_mut() = status;
            return Err(refusal);
        }
        if let Some(offered) = subprotocol {
            let first = offered
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            response.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(&first).unwrap(),
            );
        }
        Ok(response)
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, callback).await;
    let (authorization, subprotocol) = seen.lock().unwrap().clone();
    let conn = ws.ok().map(|ws| FakeConn {
        ws,
        json: subprotocol.as_deref() == Some("chatdesk.v1.json"),
    });
    let _ = upgrades.send(Upgrade {
        authorization,
        subprotocol,
        conn,
    });
}

/// One accepted desk connection, played by the test.
pub struct FakeConn {
    ws: WebSocketStream<TcpStream>,
    json: bool,
}

impl FakeConn {
    /// The next frame from the desk.
    pub async fn recv(&mut self) -> ClientFrame {
        loop {
            let message = timeout(PATIENCE, self.ws.next())
                .await
                .expect("the desk sent nothing in time")
                .expect("the desk closed the connection")
                .expect("the connection failed");
            match message {
                Message::Binary(bytes) => {
                    assert!(!self.json, "binary frame on the JSON subprotocol");
                    return codec::decode_binary(&bytes).unwrap();
                }
                Message::Text(text) => {
                    assert!(self.json, "text frame on the bincode subprotocol");
                    return codec::decode_json_frame(text.as_str()).unwrap();
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected message from the desk: {other:?}"),
            }
        }
    }

    /// Expects `hello` and returns its cursor.
    pub async fn expect_hello(&mut self) -> u64 {
        match self.recv().await {
            ClientFrame::Hello { protocol, cursor } => {
                assert_eq!(protocol, protocol::PROTOCOL_VERSION);
                cursor
            }
            other => panic!("expected hello, got {other:?}"),
        }
    }

    pub async fn expect_command(&mut self) -> (CommandKey, Command) {
        match self.recv().await {
            ClientFrame::Command { key, command } => (key, command),
            other => panic!("expected a command, got {other:?}"),
        }
    }

    /// Waits for the desk to close the connection and returns its close code.
    pub async fn expect_close(&mut self) -> Option<u16> {
        loop {
            let next = timeout(PATIENCE, self.ws.next())
                .await
                .expect("the desk did not close in time");
            match next {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(other)) => panic!("expected a close, got {other:?}"),
                None | Some(Err(_)) => return None,
            }
        }
    }

    pub async fn send(&mut self, frame: &ServerFrame) {
        let message = if self.json {
            Message::Text(Utf8Bytes::from(codec::encode_json_frame(frame).unwrap()))
        } else {
            Message::Binary(codec::encode_binary(frame).unwrap().into())
        };
        self.ws.send(message).await.unwrap();
    }

    pub async fn ping(&mut self) {
        self.ws
            .send(Message::Ping(b"hb".to_vec().into()))
            .await
            .unwrap();
    }

    pub async fn welcome(&mut self, head: u64) {
        self.welcome_as(TENANT, AGENT, head).await;
    }

    pub async fn welcome_as(&mut self, tenant: &str, agent: &str, head: u64) {
        self.send(&ServerFrame::Welcome {
            protocol: protocol::PROTOCOL_VERSION,
            tenant: TenantId::new(tenant),
            agent: AgentId::new(agent),
            role: Role::Agent,
            brand: BRAND.into(),
            tenant_name: TENANT_NAME.into(),
            head: Seq(head),
            credits: 0,
        })
        .await;
    }

    pub async fn events(&mut self, seqs: impl IntoIterator<Item = u64>) {
        for seq in seqs {
            self.send(&ServerFrame::Event { event: event(seq) }).await;
        }
    }

    pub async fn close(mut self, code: u16, reason: &str) {
        self.ws
            .close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            }))
            .await
            .unwrap();
        // Drain until the desk's close reply, so the desk reads our frame before the socket goes.
        let _ = timeout(PATIENCE, async { while self.ws.next().await.is_some() {} }).await;
    }
}

/// Event `seq` of the test tenant; the same seq always makes the same event.
pub fn event(seq: u64) -> Event {
    Event {
        tenant: TenantId::new(TENANT),
        seq: Seq(seq),
        received_at: Millis(1_700_000_000_000 + i64::try_from(seq).unwrap()),
        body: EventBody::Unknown(UnknownEvent {
            channel_id: ChannelId::new("ch-1"),
            object: "instagram".into(),
            kind: "test".into(),
            raw: format!("{{\"n\":{seq}}}"),
        }),
    }
}
