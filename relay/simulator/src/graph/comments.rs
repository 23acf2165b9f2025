//! Comment moderation (meta-platform.md §7): a public reply under a comment
//! (`POST /{COMMENT_ID}/replies` with `message`, → `{"id"}`) and hide / unhide
//! (`POST /{COMMENT_ID}?hide=true|false`, → `{"success": true}`). Public replies have no
//! window. The commenter's inbox records a public reply too (kind `public_reply`), so tests
//! can assert it was made exactly once.

use super::{Answer, GraphRequest, authenticate};
use crate::Sim;
use crate::errors::GraphError;
use crate::followups;
use crate::ids;
use crate::record::InboxEntry;
use serde_json::json;
use std::sync::Arc;

/// Instagram's caption/comment limit.
const COMMENT_MAX_CHARS: usize = 2200;

/// `POST /{COMMENT_ID}/replies`.
///
/// # Errors
/// Unknown comment, token errors, a missing or too long message.
pub fn reply(
    sim: &Arc<Sim>,
    req: &GraphRequest,
    comment_id: &str,
    now: i64,
) -> Result<Answer, GraphError> {
    let mut st = sim.lock();
    let Some(comment) = st.comments.get(comment_id).cloned() else {
        return Err(GraphError::unknown_object(comment_id));
    };
    authenticate(sim, &st, req, &comment.account, comment_id, now)?;
    let text = req
        .param("message")
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| GraphError::invalid_parameter("param message must be non-empty."))?;
    if text.chars().count() > COMMENT_MAX_CHARS {
        return Err(GraphError::invalid_parameter(format!(
            "param message must be at most {COMMENT_MAX_CHARS} characters"
        )));
    }
    let Some(account) = st.instagram.get(&comment.account).cloned() else {
        return Err(GraphError::unknown_object(comment_id));
    };
    let id = ids::numeric("179");
    if let Some(c) = st.comments.get_mut(comment_id) {
        c.replies.push(id.clone());
        c.reply_log.push((id.clone(), text.clone(), now));
    }
    let seq = st.records.seq();
    st.records.inbox.push(InboxEntry {
        seq,
        at_ms: now,
        account: comment.account.clone(),
        customer: comment.customer.clone(),
        channel: "instagram",
        kind: "public_reply",
        message_id: Some(id.clone()),
        text: Some(text.clone()),
        content: json!({"message": text}),
        tag: None,
        comment_id: Some(comment_id.to_owned()),
    });
    followups::comment_reply(sim, &account, &comment, &id, &text);
    Ok(Answer::ok(json!({ "id": id })))
}

/// `GET /{COMMENT_ID}/replies`: the business's replies under a comment, oldest first, as
/// `{"data": [{id, text, timestamp, from: {id, username}}]}`.
///
/// # Errors
/// Unknown comment, token errors.
pub fn list_replies(
    sim: &Arc<Sim>,
    req: &GraphRequest,
    comment_id: &str,
    now: i64,
) -> Result<Answer, GraphError> {
    let st = sim.lock();
    let Some(comment) = st.comments.get(comment_id).cloned() else {
        return Err(GraphError::unknown_object(comment_id));
    };
    authenticate(sim, &st, req, &comment.account, comment_id, now)?;
    let username = st
        .instagram
        .get(&comment.account)
        .map(|a| a.username.clone())
        .unwrap_or_default();
    let data: Vec<_> = comment
        .reply_log
        .iter()
        .map(|(id, text, at)| {
            json!({
                "id": id, "text": text,
                "timestamp": crate::time::graph_time(*at),
                "from": {"id": comment.account, "username": username},
            })
        })
        .collect();
    Ok(Answer::ok(json!({ "data": data })))
}

/// `POST /{COMMENT_ID}?hide=true|false`.
///
/// # Errors
/// Unknown comment, token errors, `hide` not a boolean.
pub fn hide(
    sim: &Arc<Sim>,
    req: &GraphRequest,
    comment_id: &str,
    now: i64,
) -> Result<Answer, GraphError> {
    let mut st = sim.lock();
    let Some(comment) = st.comments.get(comment_id).cloned() else {
        return Err(GraphError::unknown_object(comment_id));
    };
    authenticate(sim, &st, req, &comment.account, comment_id, now)?;
    let hide = match req.param("hide").as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(GraphError::invalid_parameter(
                "param hide must be a boolean (true or false)",
            ));
        }
    };
    if let Some(c) = st.comments.get_mut(comment_id) {
        c.hidden = hide;
    }
    Ok(Answer::ok(json!({"success": true})))
}
