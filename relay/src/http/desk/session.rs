//! One connected desk: the handshake, the backlog, the live stream and the commands.
//!
//! Two tasks per session. The reader decodes the desk's frames and applies commands (each
//! answered only after its event is durable). The writer owns the socket's sending half and
//! is the only place that decides what the desk sees next: it keeps `sent`, the highest seq
//! delivered, and serves every event after it exactly once and in order, from storage while
//! the desk is behind (backlog, a ring overflow, or a publisher race) and from the live ring
//! otherwise. Nothing here ever names a tenant except the session's own scope.

use crate::desk::hub::{Published, Subscription};
use crate::principal::TenantScope;
use crate::state::AppState;
use crate::store::{CommandRequest, StoreError, Vetted};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use protocol::codec::{decode_binary, decode_json_frame, encode_binary, encode_json_frame};
use protocol::frame::{SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON, close};
use protocol::{
    AgentId, Answer, ClientFrame, CommandKey, DeskAction, EventBody, PROTOCOL_VERSION, Rejection,
    Role, Seq, ServerFrame,
};
use tokio::sync::{broadcast, mpsc};
use tokio::time::timeout;

/// Events read from storage per step while a desk catches up.
const PAGE: usize = 256;

/// How frames are written on this connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Codec {
    /// `chatdesk.v1.bincode`: binary frames.
    Binary,
    /// `chatdesk.v1.json`: text frames with a `"type"` tag.
    Json,
}

impl Codec {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Codec::Binary => SUBPROTOCOL_BINARY,
            Codec::Json => SUBPROTOCOL_JSON,
        }
    }

    #[must_use]
    pub fn from_name(name: &str) -> Option<Codec> {
        match name.trim() {
            SUBPROTOCOL_BINARY => Some(Codec::Binary),
            SUBPROTOCOL_JSON => Some(Codec::Json),
            _ => None,
        }
    }

    fn encode(self, frame: &ServerFrame) -> Result<Message, String> {
        match self {
            Codec::Binary => encode_binary(frame)
                .map(|b| Message::Binary(b.into()))
                .map_err(|e| e.to_string()),
            Codec::Json => encode_json_frame(frame)
                .map(|t| Message::Text(t.into()))
                .map_err(|e| e.to_string()),
        }
    }

    fn encode_event(self, published: &Published) -> Result<Message, String> {
        match self {
            Codec::Binary => published.binary().map(Message::Binary),
            Codec::Json => published
                .json()
                .map(|t| Message::Text(Utf8Bytes::from(&*t))),
        }
    }

    fn decode(self, message: Message) -> Result<Option<ClientFrame>, Ending> {
        match (self, message) {
            (Codec::Binary, Message::Binary(bytes)) => decode_binary(&bytes)
                .map(Some)
                .map_err(|e| Ending::invalid(&e)),
            (Codec::Json, Message::Text(text)) => decode_json_frame(text.as_str())
                .map(Some)
                .map_err(|e| Ending::invalid(&e)),
            (Codec::Binary, Message::Text(_)) => Err(Ending::new(
                close::UNSUPPORTED,
                "this session speaks chatdesk.v1.bincode: send binary frames",
                "protocol",
            )),
            (Codec::Json, Message::Binary(_)) => Err(Ending::new(
                close::UNSUPPORTED,
                "this session speaks chatdesk.v1.json: send text frames",
                "protocol",
            )),
            (_, Message::Ping(_) | Message::Pong(_)) => Ok(None),
            (_, Message::Close(_)) => Err(Ending::new(close::NORMAL, "bye", "closed")),
        }
    }
}

/// Why a session ends: the close frame to send and the metric label.
#[derive(Debug)]
struct Ending {
    code: u16,
    reason: String,
    label: &'static str,
}

impl Ending {
    fn new(code: u16, reason: impl Into<String>, label: &'static str) -> Ending {
        Ending {
            code,
            reason: reason.into(),
            label,
        }
    }

    fn invalid(e: &impl std::fmt::Display) -> Ending {
        Ending::new(
            close::INVALID_PAYLOAD,
            format!("undecodable frame: {e}"),
            "protocol",
        )
    }

    /// The relay is stopping: the desk reconnects (to this relay once it is back).
    fn going_away() -> Ending {
        Ending::new(close::GOING_AWAY, "relay shutting down", "shutdown")
    }

    fn storage() -> Ending {
        Ending::new(
            close::INTERNAL,
            "storage unavailable; reconnect later",
            "error",
        )
    }

    fn frame(&self) -> Message {
        Message::Close(Some(CloseFrame {
            code: self.code,
            reason: Utf8Bytes::from(truncate(&self.reason, 123)),
        }))
    }
}

/// Close reasons must fit 123 bytes; cut on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// axum hides tungstenite's error type, so an oversized frame is recognised by its text.
fn read_error(e: &axum::Error, max: usize) -> Ending {
    let text = e.to_string();
    if text.contains("too long") || text.contains("too big") || text.contains("Space limit") {
        return Ending::new(
            close::TOO_BIG,
            format!("frames are limited to {max} bytes"),
            "protocol",
        );
    }
    Ending::new(close::PROTOCOL, "unreadable frame", "protocol")
}

/// Who is connected: decided from the bearer token before the upgrade.
#[derive(Clone)]
pub struct Session {
    pub app: AppState,
    pub scope: TenantScope,
    pub agent: AgentId,
    pub role: Role,
    pub codec: Codec,
    /// Hash of the bearer token, to re-check it once the session is subscribed.
    pub token_hash: String,
    /// The client's address, for log lines (see `http::client`).
    pub client: String,
}

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

/// What the reader asks the writer to send.
enum Outgoing {
    Answer(CommandKey, Answer),
    End(Ending),
}

impl Session {
    /// Runs the session until either side ends it.
    pub async fn run(self, socket: WebSocket) {
        let metrics = self.app.metrics.clone();
        metrics.desk_sessions.inc();
        let (mut sink, stream) = socket.split();
        tracing::info!(client = %self.client, agent = %self.agent, "desk session started");
        let ending = self.serve(&mut sink, stream).await;
        tracing::info!(client = %self.client, code = ending.code, reason = %ending.reason, "desk session ended");
        metrics.desk_closed.with_label_values(&[ending.label]).inc();
        // A desk stuck in its socket gets only a brief chance to take the close frame.
        let wait = if ending.label == "slow" {
            std::time::Duration::from_millis(100)
        } else {
            self.app.config.desk.send_timeout
        };
        let _ = timeout(wait, sink.send(ending.frame())).await;
        metrics.desk_sessions.dec();
    }

    async fn serve(&self, sink: &mut Sink, mut stream: Stream) -> Ending {
        let limits = self.app.config.desk;
        let hello = tokio::select! {
            hello = timeout(limits.idle, stream.next()) => hello,
            () = self.app.shutdown.stopping() => return Ending::going_away(),
        };
        let cursor = match hello {
            Err(_) => return Ending::new(close::IDLE, "no hello received", "idle"),
            Ok(None) => return Ending::new(close::NORMAL, "gone", "closed"),
            Ok(Some(Err(e))) => return read_error(&e, limits.max_frame_bytes),
            Ok(Some(Ok(message))) => match self.codec.decode(message) {
                Ok(Some(ClientFrame::Hello { protocol, cursor })) => {
                    if protocol != PROTOCOL_VERSION {
                        return Ending::new(
                            close::VERSION,
                            format!(
                                "protocol {protocol} is not supported; this relay speaks {PROTOCOL_VERSION}"
                            ),
                            "protocol",
                        );
                    }
                    Seq(cursor)
                }
                Ok(_) => {
                    return Ending::new(
                        close::PROTOCOL,
                        "the first frame must be hello",
                        "protocol",
                    );
                }
                Err(ending) => return ending,
            },
        };
        // Subscribe to revocations first, then re-check the token: a revoke between the
        // upgrade and here is either seen now or delivered on the channel.
        let revoked = self.app.hub.revocations();
        match self.app.store.agent_by_token_hash(&self.token_hash).await {
            Ok(Some(_)) => {}
            Ok(None) => return Ending::new(close::POLICY, "token revoked", "revoked"),
            Err(_) => return Ending::storage(),
        }
        let subscription = self.app.hub.subscribe(&self.scope);
        if cursor > subscription.durable {
            return Ending::new(
                close::POLICY,
                format!(
                    "cursor {cursor} is ahead of this tenant's log (head {}); reset the desk's replica",
                    subscription.durable
                ),
                "protocol",
            );
        }
        // Read after subscribing: an event published meanwhile reaches this desk too, so its
        // balance can only be newer than the one it applies on top.
        let Ok(credits) = self.app.store.credits(&self.scope).await else {
            return Ending::storage();
        };
        let Ok((brand, tenant_name)) = self.header().await else {
            return Ending::storage();
        };
        let welcome = ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            tenant: self.scope.tenant().clone(),
            agent: self.agent.clone(),
            role: self.role,
            brand,
            tenant_name,
            head: subscription.durable,
            credits,
        };
        if let Err(ending) = self.send(sink, &welcome).await {
            return ending;
        }
        let (out_tx, out_rx) = mpsc::channel(64);
        let reader = tokio::spawn(self.reader(stream, out_tx));
        let ending = self
            .writer(sink, subscription, revoked, cursor, out_rx)
            .await;
        reader.abort();
        ending
    }

    /// The desk's header: the partner's brand (or name) and the tenant's name. Tenants and
    /// partners are never deleted, so a missing record can only be a registry written by
    /// hand; the desk then shows empty names rather than refusing the agent.
    async fn header(&self) -> Result<(String, String), StoreError> {
        let Some(tenant) = self.app.store.tenant(self.scope.tenant()).await? else {
            return Ok((String::new(), String::new()));
        };
        let brand = self
            .app
            .store
            .partner(&tenant.partner)
            .await?
            .map(|p| p.brand_or_name().to_owned())
            .unwrap_or_default();
        Ok((brand, tenant.name))
    }

    /// The reading half runs as its own task, so it owns a clone of the session.
    fn reader(
        &self,
        stream: Stream,
        out: mpsc::Sender<Outgoing>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let session = self.clone();
        async move {
            let ending = session.read(stream, &out).await;
            let _ = out.send(Outgoing::End(ending)).await;
        }
    }

    async fn writer(
        &self,
        sink: &mut Sink,
        mut sub: Subscription,
        mut revoked: broadcast::Receiver<crate::desk::hub::Revocation>,
        cursor: Seq,
        mut out: mpsc::Receiver<Outgoing>,
    ) -> Ending {
        let mut sent = cursor;
        let mut target = sub.durable;
        let mut ping = tokio::time::interval(self.app.config.desk.ping);
        ping.tick().await;
        loop {
            if self.app.shutdown.is_stopping() {
                return Ending::going_away();
            }
            if sent < target {
                // Answers go out between pages, so a long backlog never delays them.
                if let Ok(message) = out.try_recv() {
                    if let Err(ending) = self.outgoing(sink, message).await {
                        return ending;
                    }
                    continue;
                }
                match self.catch_up(sink, sent, target).await {
                    Ok(now) => sent = now,
                    Err(ending) => return ending,
                }
                continue;
            }
            tokio::select! {
                biased;
                () = self.app.shutdown.stopping() => return Ending::going_away(),
                message = out.recv() => {
                    let Some(message) = message else {
                        return Ending::new(close::NORMAL, "bye", "closed");
                    };
                    if let Err(ending) = self.outgoing(sink, message).await {
                        return ending;
                    }
                }
                live = sub.live.recv() => match live {
                    Ok(p) if p.event.seq <= sent => {}
                    Ok(p) if p.event.seq == sent.next() => {
                        let message = match self.codec.encode_event(&p) {
                            Ok(m) => m,
                            Err(e) => return Ending::new(close::INTERNAL, e, "error"),
                        };
                        if let Err(ending) = self.send_message(sink, message).await {
                            return ending;
                        }
                        sent = p.event.seq;
                    }
                    Ok(p) => {
                        // A racing publisher got ahead; everything before it is durable.
                        self.count_catch_up("gap");
                        target = target.max(p.event.seq);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.count_catch_up("lagged");
                        target = target.max(self.app.hub.durable(&self.scope));
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ending::going_away(),
                },
                _ = ping.tick() => {
                    if let Err(ending) = self.send_message(sink, Message::Ping(bytes::Bytes::new())).await {
                        return ending;
                    }
                }
                revocation = revoked.recv() => {
                    use crate::desk::hub::Revocation;
                    match revocation {
                        Ok(Revocation::Agent(a)) if a == self.agent => {
                            return Ending::new(close::POLICY, "token revoked", "revoked");
                        }
                        Ok(Revocation::Tenant(t)) if t == *self.scope.tenant() => {
                            return Ending::new(
                                close::TENANT_DELETED,
                                "tenant deleted: erase this desk's copy",
                                "tenant_deleted",
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn count_catch_up(&self, cause: &str) {
        self.app
            .metrics
            .desk_catch_ups
            .with_label_values(&[cause])
            .inc();
    }

    /// Sends the next page of stored events after `sent`, up to `target`; returns the new
    /// `sent`.
    async fn catch_up(&self, sink: &mut Sink, sent: Seq, target: Seq) -> Result<Seq, Ending> {
        let want = usize::try_from(target.0 - sent.0).unwrap_or(PAGE).min(PAGE);
        let page = self
            .app
            .store
            .events_after(&self.scope, sent, want)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "desk backlog read failed");
                Ending::storage()
            })?;
        let mut now = sent;
        for event in page {
            if event.seq != now.next() || event.seq > target {
                break;
            }
            now = event.seq;
            self.send(sink, &ServerFrame::Event { event }).await?;
        }
        if now == sent {
            tracing::error!(%sent, %target, "durable events missing from storage");
            return Err(Ending::storage());
        }
        Ok(now)
    }

    async fn outgoing(&self, sink: &mut Sink, message: Outgoing) -> Result<(), Ending> {
        match message {
            Outgoing::Answer(key, answer) => {
                self.send(sink, &ServerFrame::Answer { key, answer }).await
            }
            Outgoing::End(ending) => Err(ending),
        }
    }

    async fn send(&self, sink: &mut Sink, frame: &ServerFrame) -> Result<(), Ending> {
        let message = self
            .codec
            .encode(frame)
            .map_err(|e| Ending::new(close::INTERNAL, e, "error"))?;
        self.send_message(sink, message).await
    }

    /// A desk that does not take a frame within the send timeout is dropped: its socket
    /// buffers are full, and waiting longer would only hold memory for it.
    async fn send_message(&self, sink: &mut Sink, message: Message) -> Result<(), Ending> {
        match timeout(self.app.config.desk.send_timeout, sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Ending::new(close::NORMAL, "gone", "closed")),
            Err(_) => Err(Ending::new(
                close::TOO_SLOW,
                "fell behind; reconnect and catch up from your cursor",
                "slow",
            )),
        }
    }
}

/// The session's reading half.
impl Session {
    async fn read(&self, mut stream: Stream, out: &mpsc::Sender<Outgoing>) -> Ending {
        let idle = self.app.config.desk.idle;
        loop {
            let message = match timeout(idle, stream.next()).await {
                Err(_) => {
                    return Ending::new(
                        close::IDLE,
                        format!("nothing received for {} s", idle.as_secs()),
                        "idle",
                    );
                }
                Ok(None) => return Ending::new(close::NORMAL, "gone", "closed"),
                Ok(Some(Err(e))) => {
                    return read_error(&e, self.app.config.desk.max_frame_bytes);
                }
                Ok(Some(Ok(message))) => message,
            };
            let frame = match self.codec.decode(message) {
                Ok(None) => continue,
                Ok(Some(frame)) => frame,
                Err(ending) => return ending,
            };
            match frame {
                ClientFrame::Hello { .. } => {
                    return Ending::new(close::PROTOCOL, "hello was already sent", "protocol");
                }
                ClientFrame::Command { key, command } => {
                    let answer = match self.apply(key.clone(), command).await {
                        Ok(answer) => answer,
                        Err(ending) => return ending,
                    };
                    if out.send(Outgoing::Answer(key, answer)).await.is_err() {
                        return Ending::new(close::NORMAL, "bye", "closed");
                    }
                }
            }
        }
    }

    /// Applies a command and returns its answer once its event is durable and published.
    async fn apply(&self, key: CommandKey, command: protocol::Command) -> Result<Answer, Ending> {
        let metrics = &self.app.metrics;
        if !key.is_valid() {
            metrics.desk_commands.with_label_values(&["rejected"]).inc();
            return Ok(Answer::Rejected {
                rejection: Rejection::Invalid {
                    reason: format!(
                        "a command key is 1 to {} printable ASCII characters",
                        CommandKey::MAX_LEN
                    ),
                },
            });
        }
        let now = self.app.clock.now();
        if let Err(retry_after_ms) =
            self.app
                .command_limits
                .check(self.scope.tenant(), &self.agent, now)
        {
            metrics.desk_commands.with_label_values(&["limited"]).inc();
            return Ok(Answer::Rejected {
                rejection: Rejection::RateLimited { retry_after_ms },
            });
        }
        let vetted = self.vet(&command).await.map_err(|e| {
            tracing::error!(error = %e, "desk command not vetted");
            Ending::storage()
        })?;
        let request = CommandRequest {
            agent: self.agent.clone(),
            role: self.role,
            key,
            command,
            received_at: now,
            vetted,
        };
        let store = &self.app.store;
        let outcome = store
            .apply_command(&self.scope, request)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "desk command not applied");
                Ending::storage()
            })?;
        // Replays and rejections wait too: the first answer may still be unflushed.
        store.sync().await.map_err(|e| {
            tracing::error!(error = %e, "desk command not flushed");
            Ending::storage()
        })?;
        let label = match (&outcome.answer, &outcome.event) {
            (Answer::Applied { .. }, Some(_)) => "applied",
            (Answer::Rejected { .. }, _) => "rejected",
            (Answer::Applied { .. }, None) => "replayed",
        };
        metrics.desk_commands.with_label_values(&[label]).inc();
        if let Some(event) = outcome.event {
            let queued = matches!(
                &event.body,
                EventBody::Desk(d) if matches!(
                    d.action,
                    DeskAction::ReplyQueued { .. }
                        | DeskAction::SendRetried { .. }
                        | DeskAction::SendDiscarded { .. }
                        | DeskAction::CommentHidden { .. }
                )
            );
            if let EventBody::Desk(d) = &event.body
                && let DeskAction::Snoozed { until: Some(at) } = d.action
            {
                self.app.snoozes.wake_at(self.scope.tenant(), &d.thread, at);
            }
            self.app.hub.publish(&self.scope, [event]);
            if queued {
                self.app.outbox.kick(self.scope.tenant());
            }
        }
        Ok(outcome.answer)
    }

    /// What the decision needs beyond the thread: the classifier's verdict on a person's
    /// text (a reply, or an agent's draft being approved), and whether an assignee is one
    /// of the tenant's active agents. Read outside the tenant's lock; a draft changed
    /// meanwhile is a version conflict in the decision anyway. A confirmed command skips
    /// the classifier: the agent has read its reasons.
    async fn vet(&self, command: &protocol::Command) -> Result<Vetted, StoreError> {
        use protocol::{Command, DraftAuthor, ReplyContent};
        let mut vetted = Vetted::default();
        let store = &self.app.store;
        match command {
            Command::Assign { to, .. } => {
                vetted.assignee_known = store
                    .agents(&self.scope)
                    .await?
                    .iter()
                    .any(|(a, active)| *active && &a.id == to);
            }
            Command::SendReply { thread, text } => {
                vetted.held = self.screen(thread, |_| Some(text.clone())).await?;
            }
            Command::SendMessage {
                thread, content, ..
            } if !matches!(
                content,
                ReplyContent::HideComment { .. }
                    | ReplyContent::SenderAction(_)
                    | ReplyContent::Template { .. }
            ) =>
            {
                let text = content.preview();
                vetted.held = self.screen(thread, |_| Some(text.clone())).await?;
            }
            Command::ApproveDraft { thread, version } => {
                vetted.held = self
                    .screen(thread, |t| {
                        t.draft
                            .as_ref()
                            .filter(|d| {
                                d.version == *version && matches!(d.author, DraftAuthor::Agent(_))
                            })
                            .map(|d| d.text.clone())
                    })
                    .await?;
            }
            _ => {}
        }
        Ok(vetted)
    }

    /// The classifier's reasons to hold the text `pick` chooses from the thread.
    async fn screen(
        &self,
        thread: &protocol::ThreadId,
        pick: impl FnOnce(&crate::store::ThreadView) -> Option<String>,
    ) -> Result<Vec<String>, StoreError> {
        let Some(view) = self.app.store.thread(&self.scope, thread).await? else {
            return Ok(Vec::new());
        };
        match pick(&view) {
            Some(text) => self.app.drafting.screen(&self.scope, &view, &text).await,
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_and_codecs_are_named() {
        let long = "é".repeat(100);
        let cut = truncate(&long, 123);
        assert!(cut.len() <= 123 && cut.chars().all(|c| c == 'é'));
        assert_eq!(Codec::from_name(" chatdesk.v1.json"), Some(Codec::Json));
        assert_eq!(Codec::from_name(Codec::Binary.name()), Some(Codec::Binary));
        assert_eq!(Codec::from_name("chatdesk.v2.json"), None);
    }
}
