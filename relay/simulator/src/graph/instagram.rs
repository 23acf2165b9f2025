//! Instagram sends (`POST /{IG_ID|PAGE_ID|me}/messages`), Instagram Login and Facebook Login
//! alike: authenticate → rate limit (by message type) → validate the body → the recipient
//! exists and is reachable → the window (24 h, `HUMAN_AGENT` 7 days, one private reply per
//! comment within 7 days) → deliver: the customer's inbox, the conversation, the echo and
//! read receipt follow-ups.

use super::ig_body::{self, IgRequest, Recipient, SenderAction};
use super::{Answer, GraphRequest, authenticate, check_addressing};
use crate::Sim;
use crate::errors::{GraphError, Surface};
use crate::followups::{self, InstagramFollowup};
use crate::ids;
use crate::ratelimit::Bucket;
use crate::record::InboxEntry;
use crate::window::{self, Refusal};
use serde_json::{Value, json};
use std::sync::Arc;

/// `POST /{id}/messages` for an Instagram account.
///
/// # Errors
/// Every refusal as Meta's error.
pub fn send(
    sim: &Arc<Sim>,
    req: &GraphRequest,
    account: &str,
    shown_id: &str,
    now: i64,
) -> Result<Answer, GraphError> {
    let mut st = sim.lock();
    let surface = authenticate(sim, &st, req, account, shown_id, now)?;
    check_addressing(&st, account, shown_id)?;
    let Some(a) = st.instagram.get(account).cloned() else {
        return Err(GraphError::unknown_object(shown_id));
    };
    let parsed = ig_body::parse(&req.body);
    let bucket = parsed.as_ref().map_or(Bucket::Text, IgRequest::bucket);
    let limit = match bucket {
        Bucket::Media => a.limits.media_per_second,
        Bucket::PrivateReplies => a.limits.private_replies_per_hour,
        _ => a.limits.text_per_second,
    };
    let usage = st.rate.take(account, bucket, limit, now);
    let buc_type = if surface == Surface::FacebookLogin {
        "messenger"
    } else {
        "instagram"
    };
    if !usage.allowed {
        let sub = (bucket == Bucket::PrivateReplies).then_some(2_534_013);
        let mut answer = Answer::from(GraphError::rate_limited(sub));
        answer = answer.with_usage(account, buc_type, usage);
        return Ok(answer);
    }
    let request = parsed?;
    let answer = match request {
        IgRequest::Message {
            recipient: Recipient::Comment(comment_id),
            message,
            text,
            ..
        } => {
            let Some(comment) = st.comments.get(&comment_id).cloned() else {
                return Err(GraphError::unknown_object(&comment_id));
            };
            if comment.account != account {
                return Err(GraphError::unknown_object(&comment_id));
            }
            if st
                .customer(account, &comment.customer)
                .is_some_and(|c| c.unavailable)
            {
                return Err(GraphError::unavailable());
            }
            window::private_reply(comment.created_ms, comment.private_reply.is_some(), now)
                .map_err(|r| refusal(r, surface))?;
            let mid = ids::instagram_mid(account);
            if let Some(c) = st.comments.get_mut(&comment_id) {
                c.private_reply = Some(mid.clone());
            }
            let mut entry = received(&a, &comment.customer, &mid, message, text, now);
            entry.kind = "private_reply";
            entry.comment_id = Some(comment_id);
            deliver(sim, &mut st, &a, entry);
            json!({"recipient_id": comment.customer, "message_id": mid})
        }
        IgRequest::Message {
            recipient: Recipient::Id(customer),
            message,
            text,
            human_agent,
            ..
        } => {
            let last = reachable(&st, account, &customer)?;
            if human_agent && !a.human_agent {
                return Err(GraphError::human_agent_not_approved());
            }
            window::instagram_dm(last, human_agent, now).map_err(|r| refusal(r, surface))?;
            let mid = ids::instagram_mid(account);
            let mut entry = received(&a, &customer, &mid, message, text, now);
            entry.tag = human_agent.then(|| "HUMAN_AGENT".to_owned());
            deliver(sim, &mut st, &a, entry);
            json!({"recipient_id": customer, "message_id": mid})
        }
        IgRequest::Action { recipient, action } => {
            let last = reachable(&st, account, &recipient)?;
            window::instagram_dm(last, false, now).map_err(|r| refusal(r, surface))?;
            let (kind, content) = match &action {
                SenderAction::React { mid, reaction } => {
                    known_message(&st, account, &recipient, mid)?;
                    ("reaction", json!({"message_id": mid, "reaction": reaction}))
                }
                SenderAction::Unreact { mid } => {
                    known_message(&st, account, &recipient, mid)?;
                    ("unreact", json!({"message_id": mid}))
                }
                other => ("action", json!({"sender_action": other.name()})),
            };
            let seq = st.records.seq();
            st.records.inbox.push(InboxEntry {
                seq,
                at_ms: now,
                account: account.to_owned(),
                customer: recipient.clone(),
                channel: "instagram",
                kind,
                message_id: None,
                text: None,
                content,
                tag: None,
                comment_id: None,
            });
            json!({"recipient_id": recipient})
        }
    };
    Ok(Answer::ok(answer).with_usage(account, buc_type, usage))
}

fn refusal(r: Refusal, surface: Surface) -> GraphError {
    match r {
        Refusal::OutsideWindow => GraphError::outside_window(surface),
        Refusal::PrivateReplyUsed => GraphError::private_reply_used(),
    }
}

/// The customer's last message time, if the customer exists and can receive messages.
fn reachable(
    st: &crate::state::State,
    account: &str,
    customer: &str,
) -> Result<Option<i64>, GraphError> {
    let c = st
        .customer(account, customer)
        .ok_or_else(GraphError::no_matching_user)?;
    if c.unavailable {
        return Err(GraphError::unavailable());
    }
    Ok(c.last_message_ms)
}

fn known_message(
    st: &crate::state::State,
    account: &str,
    customer: &str,
    mid: &str,
) -> Result<(), GraphError> {
    match st.messages.get(mid) {
        Some(m) if m.account == account && m.customer == customer => Ok(()),
        _ => Err(GraphError::invalid_parameter(
            "param payload[message_id] is not a message of this conversation",
        )),
    }
}

/// What the customer receives from a send, before it gets its place in the records.
fn received(
    a: &crate::accounts::InstagramAccount,
    customer: &str,
    mid: &str,
    message: Value,
    text: Option<String>,
    now: i64,
) -> InboxEntry {
    InboxEntry {
        seq: 0,
        at_ms: now,
        account: a.ig_id.clone(),
        customer: customer.to_owned(),
        channel: "instagram",
        kind: "message",
        message_id: Some(mid.to_owned()),
        text,
        content: message,
        tag: None,
        comment_id: None,
    }
}

/// Delivers a message: the conversation, the customer's inbox, then Meta's follow-ups.
fn deliver(
    sim: &Arc<Sim>,
    st: &mut crate::state::State,
    a: &crate::accounts::InstagramAccount,
    mut entry: InboxEntry,
) {
    let mid = entry.message_id.clone().unwrap_or_default();
    st.remember_message(
        &a.ig_id,
        &entry.customer,
        &mid,
        entry.at_ms,
        true,
        entry.text.clone(),
    );
    let read = st
        .customer(&a.ig_id, &entry.customer)
        .is_some_and(|c| c.auto_read);
    entry.seq = st.records.seq();
    let followup = InstagramFollowup {
        account: a.clone(),
        customer: entry.customer.clone(),
        mid,
        message: entry.content.clone(),
        read,
    };
    st.records.inbox.push(entry);
    followups::instagram(sim, followup);
}
