//! One tenant's outbox loop: finds the next send of each thread, settles sends left in
//! doubt, and takes each through window, credits, rate, `Sending`, the call and its result.

use super::graph::Outgoing;
use super::limits::Lane;
use super::{Shared, WorkerHealth};
use crate::meta_errors::{self as classify, CallFailure};
use crate::principal::{Access, Principal, TenantScope};
use crate::store::cluster::Lease;
use crate::store::project::send_callback;
use crate::store::{
    ChannelKind, ChannelRecord, MessageContent, NewEvent, SendState, SendView, StoreError,
    ThreadView,
};
use protocol::window::{self, ReplyKind, Sender};
use protocol::{
    Channel, CustomerId, Direction, Event, EventBody, FailureClass, Millis, OutboxEvent,
    ReplyContent, SendFailure, SendStatus, TenantId,
};
use rand::Rng as _;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long a WhatsApp send in doubt waits for a status webhook with its callback data
/// before it is sent again (Meta posts `sent` within seconds of accepting a message).
pub const WHATSAPP_STATUS_GRACE_MS: i64 = 30_000;

/// Attempts before a retried failure waits for a person.
pub const MAX_ATTEMPTS: u32 = 5;
const BACKOFF_BASE_MS: i64 = 500;
const BACKOFF_CAP_MS: i64 = 60_000;
/// Sleep bound when nothing is scheduled, in case a kick was lost; also how often an idle
/// holder renews its lease, well within [`LEASE_MS`].
const IDLE_MS: i64 = 30_000;
/// How long a tenant's outbox lease lasts unless renewed: another relay sends for the
/// tenant at most this long after its holder died.
pub const LEASE_MS: i64 = 60_000;

/// The lease job of a tenant's outbox.
#[must_use]
pub fn lease_job(tenant: &TenantId) -> String {
    format!("outbox/{tenant}")
}

pub async fn run(
    shared: Arc<Shared>,
    tenant: TenantId,
    notify: Arc<Notify>,
    health: Arc<WorkerHealth>,
) {
    let Ok(scope) = Principal::Operator.scope(&tenant, Access::Manage) else {
        return;
    };
    let job = lease_job(&tenant);
    loop {
        if shared.shutdown.is_stopping() {
            // Another relay may take the tenant's sends at once.
            shared.leases.release(&job).await;
            return;
        }
        // One relay at a time sends for a tenant: the others wait for the lease to lapse
        // (or for a kick, in case it was given up).
        let lease = match shared.leases.hold(&job, LEASE_MS).await {
            Ok(lease) => lease,
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "outbox lease not read");
                Lease::Busy {
                    until: shared.clock.now().plus(1000),
                }
            }
        };
        if let Lease::Busy { until } = lease {
            health.alive();
            tokio::select! {
                () = notify.notified() => {}
                () = shared.clock.sleep_until(until) => {}
                () = shared.shutdown.stopping() => return,
            }
            continue;
        }
        if crate::crash_point::fault("outbox-worker-panic")
            || crate::crash_point::fault_once("outbox-worker-panic-once")
        {
            panic!("outbox worker of {tenant}: fault point (RELAY_TEST_FAULT_AT)");
        }
        let next = match round(&shared, &scope, &job).await {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(tenant = %tenant, error = %e, "outbox round failed");
                Some(shared.clock.now().plus(1000))
            }
        };
        health.alive();
        let now = shared.clock.now();
        // In relay time, so a test clock moved past a back-off wakes the worker at once.
        let wake = next.map_or(now.plus(IDLE_MS), |at| at.min(now.plus(IDLE_MS)));
        if wake <= now {
            continue;
        }
        tokio::select! {
            () = notify.notified() => {}
            () = shared.clock.sleep_until(wake) => {}
            // The top of the loop gives the lease up.
            () = shared.shutdown.stopping() => {}
        }
    }
}

/// Handles every send that is due; answers when the next scheduled retry is.
async fn round(
    shared: &Shared,
    scope: &TenantScope,
    job: &str,
) -> Result<Option<Millis>, StoreError> {
    let sends = shared.store.unfinished_sends(scope).await?;
    let now = shared.clock.now();
    // A channel whose token Meta refused stops until a person retries after reconnecting.
    let stopped: HashSet<_> = sends
        .iter()
        .filter(|s| s.waits_for_reconnection())
        .map(|s| s.channel_id.clone())
        .collect();
    let mut seen_threads = HashSet::new();
    let mut next: Option<Millis> = None;
    let mut due = Vec::new();
    for send in sends {
        if matches!(send.state, SendState::Sent | SendState::Abandoned) {
            continue;
        }
        // Only the oldest unfinished send of a thread may move.
        if !seen_threads.insert(send.thread.clone()) {
            continue;
        }
        if send.state == SendState::Failed {
            match send.retry_at {
                Some(at) if at <= now => {}
                Some(at) => {
                    next = Some(next.map_or(at, |n| n.min(at)));
                    continue;
                }
                None => continue,
            }
        }
        if stopped.contains(&send.channel_id) && !send.waits_for_reconnection() {
            continue;
        }
        // Meta's usage headers asked this channel to hold off: come back then.
        if let Some(wait) = shared.graph.throttled_for(&send.channel_id) {
            let at = now.plus(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
            next = Some(next.map_or(at, |n| n.min(at)));
            continue;
        }
        due.push(send);
    }
    let moved = !due.is_empty();
    for send in due {
        // The send in hand finishes; the rest wait for the next start.
        if shared.shutdown.is_stopping() {
            break;
        }
        // Renewed before each send, so a long round never outlives the lease; lost (this
        // relay was taken for dead): the new holder settles what is left.
        if shared.leases.hold(job, LEASE_MS).await? != Lease::Held {
            break;
        }
        let events = step(shared, scope, &send).await?;
        if !events.is_empty() {
            shared.store.sync().await?;
            shared.hub.publish(scope, events);
        }
    }
    // A finished send may unblock the next one of its thread at once.
    Ok(if moved { Some(now) } else { next })
}

/// Takes one send one step further; answers the events appended.
async fn step(
    shared: &Shared,
    scope: &TenantScope,
    send: &SendView,
) -> Result<Vec<Event>, StoreError> {
    let store = &shared.store;
    let now = shared.clock.now();
    let Some(thread) = store.thread(scope, &send.thread).await? else {
        return Ok(Vec::new());
    };
    let channel = store
        .channels(scope)
        .await?
        .into_iter()
        .find(|c| c.id == send.channel_id);
    let record = |status| record(shared, scope, send, status);
    let Some(channel) = channel else {
        return record(failed(
            FailureClass::Permanent,
            "The channel was removed.",
            None,
        ))
        .await;
    };
    let secret = match super::open_token(&shared.keys, scope, &channel) {
        Ok(token) => token,
        Err(super::TokenError::Disconnected) => {
            return record(failed(
                FailureClass::TokenInvalid,
                "The channel was disconnected: connect it again, then retry.",
                None,
            ))
            .await;
        }
        Err(_) => {
            return record(failed(
                FailureClass::TokenInvalid,
                "The channel has no usable access token: reconnect it, then retry.",
                None,
            ))
            .await;
        }
    };
    let token = secret.expose();
    let on_comment = thread.channel == Channel::InstagramComment;
    let recipient = match &thread.customer.id {
        CustomerId::Igsid(id) | CustomerId::WhatsApp(id) => id.clone(),
        // Comment replies and moderation address the comment, not the person.
        CustomerId::InstagramUsername(_) if on_comment => String::new(),
        CustomerId::InstagramUsername(_) => {
            return record(failed(
                FailureClass::Permanent,
                "Meta gave only a username for this customer, so no message can be addressed to them.",
                None,
            ))
            .await;
        }
    };
    let comment_id = if on_comment {
        newest_customer_comment(shared, scope, send).await?
    } else {
        None
    };
    let mut appended = Vec::new();
    // Settle a send that may already have reached the customer: one left `Sending` by a
    // crash, or one whose call failed transiently (Meta may have done the work and lost
    // the answer, or the answer never came).
    let in_doubt = send.state == SendState::Sending
        || (send.attempts > 0
            && send
                .failure
                .as_ref()
                .is_some_and(|f| f.class == FailureClass::Transient));
    // WhatsApp: a status webhook carrying this send's callback data proves Meta took it.
    // Without one yet, give the statuses time to arrive before sending again.
    if in_doubt && channel.kind == ChannelKind::Whatsapp {
        if let Some(provider_id) = send.provider_seen.clone() {
            let kind = send.kind.unwrap_or(ReplyKind::WhatsAppFreeForm);
            return settled(shared, scope, send, provider_id, kind).await;
        }
        let settle_by = send
            .sending_since
            .unwrap_or(send.queued_at)
            .plus(WHATSAPP_STATUS_GRACE_MS);
        if now < settle_by {
            return record(failed(
                FailureClass::Transient,
                "Meta's answer was lost; waiting for its delivery status before sending again.",
                Some(settle_by),
            ))
            .await;
        }
    }
    // Instagram DMs are looked up in Meta's Conversations API: a text by its text, a rich
    // content as the first business message since the attempt that no recorded send
    // explains; a private reply (a DM to the commenter) by its text; a public comment reply
    // under its comment. Sender actions and moderation are harmless to repeat.
    let lookup = in_doubt && channel.kind == ChannelKind::Instagram && send.is_message();
    let public_reply = on_comment && send.content.is_none();
    let private_reply = matches!(send.content, Some(ReplyContent::PrivateReply { .. }));
    if lookup && (thread.channel == Channel::InstagramDm || public_reply || private_reply) {
        let since = send.sending_since.unwrap_or(send.queued_at);
        // Ids our other sends produced; an echo of this very attempt is not among them.
        let known: HashSet<String> = store
            .sends_of(scope, &send.thread)
            .await?
            .into_iter()
            .filter(|s| s.send != send.send)
            .filter_map(|s| s.provider_id)
            .collect();
        let found = match (public_reply, comment_id.as_deref()) {
            (true, Some(comment)) => {
                shared
                    .graph
                    .find_public_reply(&channel, token, comment, &send.text, since, &known)
                    .await
            }
            (true, None) => Ok(None),
            (false, _) if recipient.is_empty() => Ok(None),
            (false, _) => {
                let text = (send.content.is_none() || private_reply).then_some(send.text.as_str());
                shared
                    .graph
                    .find_sent(&channel, token, &recipient, text, since, &known)
                    .await
            }
        };
        match found {
            Ok(Some(provider_id)) => {
                let kind = send.kind.unwrap_or(ReplyKind::Standard);
                return settled(shared, scope, send, provider_id, kind).await;
            }
            Ok(None) => {}
            Err(failure) => {
                let f = classify::classify(&failure);
                let retry_at = retry_at(send.attempts, now);
                return record(SendStatus::Failed {
                    failure: f,
                    retry_at,
                })
                .await;
            }
        }
    }
    if send.state == SendState::Sending {
        // Not delivered: close the doubtful attempt (its credit comes back) and go again.
        appended.extend(
            record(failed(
                FailureClass::Transient,
                "The relay stopped during this send; it was not delivered and is sent again.",
                Some(now),
            ))
            .await?,
        );
    }
    // Auto-sent drafts are automation: the human-agent tag is never theirs.
    let sender = if send.is_automated() {
        Sender::Automation
    } else {
        Sender::Human
    };
    let Some(kind) = reply_kind(&channel, &thread, send.content.as_ref(), sender, now) else {
        appended.extend(
            record(failed(
                FailureClass::OutsideWindow,
                classify::sentence(FailureClass::OutsideWindow),
                None,
            ))
            .await?,
        );
        return Ok(appended);
    };
    if send.is_message() && store.credits(scope).await? < 1 {
        appended.extend(
            record(failed(
                FailureClass::NoCredits,
                classify::sentence(FailureClass::NoCredits),
                None,
            ))
            .await?,
        );
        return Ok(appended);
    }
    let lane = Lane::of(send.content.as_ref());
    let wait = shared.limits.reserve(&channel.account_id, lane, now);
    if wait > Duration::from_secs(1) {
        // An hourly budget is spent: come back when it frees up, nothing taken meanwhile.
        let at = now.plus(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        appended.extend(
            record(failed(
                FailureClass::RateLimited,
                classify::sentence(FailureClass::RateLimited),
                Some(at),
            ))
            .await?,
        );
        return Ok(appended);
    }
    shared
        .clock
        .sleep(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
        .await;
    let attempt = send.attempts + 1;
    appended.extend(record(sending(attempt, kind)).await?);
    // Durable before the call: a crash from here on leaves the send in doubt, not lost.
    store.sync().await?;
    let callback = send_callback(scope.tenant(), send.send);
    let out = Outgoing {
        recipient: &recipient,
        text: &send.text,
        content: send.content.as_ref(),
        reply_to: send.reply_to.as_deref(),
        comment_id: comment_id.as_deref(),
        kind,
        callback: &callback,
    };
    let status = match shared.graph.send(&channel, token, &out).await {
        Ok(provider_id) => SendStatus::Sent {
            provider_id,
            kind,
            reconciled: false,
        },
        Err(failure) => {
            let f = classify::classify(&failure);
            let retry = if f.class.retried() && attempt < MAX_ATTEMPTS {
                let backoff = retry_at(attempt, shared.clock.now());
                // Meta's own estimate wins when it is later than our back-off.
                let held = shared.graph.throttled_for(&channel.id).map(|d| {
                    shared
                        .clock
                        .now()
                        .plus(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                });
                backoff.max(held)
            } else {
                None
            };
            if matches!(failure, CallFailure::NoAnswer(_)) {
                tracing::warn!(send = %send.send, "send got no answer; settled before its retry");
            }
            SendStatus::Failed {
                failure: f,
                retry_at: retry,
            }
        }
    };
    appended.extend(record(status).await?);
    Ok(appended)
}

/// Records a send in doubt as sent, found in Meta's records. After a failure its credit was
/// given back, so an attempt is recorded again to take it: the message did go out.
async fn settled(
    shared: &Shared,
    scope: &TenantScope,
    send: &SendView,
    provider_id: String,
    kind: ReplyKind,
) -> Result<Vec<Event>, StoreError> {
    let mut events = Vec::new();
    if send.state != SendState::Sending {
        events.extend(record(shared, scope, send, sending(send.attempts + 1, kind)).await?);
    }
    let sent = SendStatus::Sent {
        provider_id,
        kind,
        reconciled: true,
    };
    events.extend(record(shared, scope, send, sent).await?);
    Ok(events)
}

fn sending(attempt: u32, kind: ReplyKind) -> SendStatus {
    SendStatus::Sending { attempt, kind }
}

fn failed(class: FailureClass, message: &str, retry_at: Option<Millis>) -> SendStatus {
    SendStatus::Failed {
        failure: SendFailure {
            class,
            code: None,
            subcode: None,
            message: message.to_owned(),
        },
        retry_at,
    }
}

/// Jittered exponential back-off after `attempt` attempts.
fn retry_at(attempt: u32, now: Millis) -> Option<Millis> {
    let exp = BACKOFF_BASE_MS.saturating_mul(1 << attempt.min(16));
    let cap = exp.min(BACKOFF_CAP_MS);
    let jittered = rand::thread_rng().gen_range(cap / 2..=cap);
    Some(now.plus(jittered))
}

/// The kind of reply Meta permits now for a person-approved reply of `content`, or `None`
/// when the window is closed for it.
fn reply_kind(
    channel: &ChannelRecord,
    thread: &ThreadView,
    content: Option<&ReplyContent>,
    sender: Sender,
    now: Millis,
) -> Option<ReplyKind> {
    let matches = match channel.kind {
        ChannelKind::Instagram => thread.channel != Channel::WhatsApp,
        ChannelKind::Whatsapp => thread.channel == Channel::WhatsApp,
    };
    if !matches {
        return None;
    }
    let window = thread.window();
    let allows = |kind| {
        window::allowed(&window, sender, now)
            .iter()
            .any(|a| a.kind == kind)
    };
    match (thread.channel, content) {
        (_, Some(ReplyContent::HideComment { .. })) => Some(ReplyKind::PublicReply),
        (Channel::WhatsApp, Some(ReplyContent::Template { .. })) => {
            Some(ReplyKind::WhatsAppTemplate)
        }
        (Channel::InstagramComment, Some(ReplyContent::PrivateReply { .. })) => {
            allows(ReplyKind::PrivateReply).then_some(ReplyKind::PrivateReply)
        }
        (Channel::InstagramComment, None) => Some(ReplyKind::PublicReply),
        (Channel::InstagramComment, Some(_)) => None,
        _ => window::choose(&window, sender, now).map(|a| a.kind),
    }
}

/// The comment a comment thread's reply answers: the customer's newest comment in it.
async fn newest_customer_comment(
    shared: &Shared,
    scope: &TenantScope,
    send: &SendView,
) -> Result<Option<String>, StoreError> {
    Ok(shared
        .store
        .messages(scope, &send.thread)
        .await?
        .into_iter()
        .rev()
        .find(|m| {
            m.direction == Direction::Inbound && matches!(m.content, MessageContent::Comment { .. })
        })
        .map(|m| m.mid))
}

async fn record(
    shared: &Shared,
    scope: &TenantScope,
    send: &SendView,
    status: SendStatus,
) -> Result<Vec<Event>, StoreError> {
    let now = shared.clock.now();
    // Unique per step, so a step is recorded once however often the loop sees it.
    let step = match &status {
        SendStatus::Sending { attempt, .. } => format!("sending:{attempt}"),
        SendStatus::Sent { .. } => "sent".to_owned(),
        SendStatus::Failed { .. } => format!("failed:{}:{}", send.attempts, now.0),
    };
    let event = NewEvent {
        dedup_key: format!("o:{}:{step}", send.send),
        received_at: now,
        body: EventBody::Outbox(OutboxEvent {
            channel_id: send.channel_id.clone(),
            thread: send.thread.clone(),
            send: send.send,
            status,
        }),
    };
    Ok(shared
        .store
        .append(scope, vec![event])
        .await?
        .into_iter()
        .filter_map(|a| match a {
            crate::store::Appended::Stored(e) => Some(e),
            crate::store::Appended::Duplicate(_) => None,
        })
        .collect())
}
