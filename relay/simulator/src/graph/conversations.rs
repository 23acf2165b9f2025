//! The Conversations API, which a sender uses to reconcile after a crash ("did my message
//! go out before I died?"): `GET /{IG_ID|PAGE_ID|me}/conversations?platform=instagram
//! &user_id=<IGSID>` → `{"data": [{"id", "updated_time"}]}`, then `GET /{CONVERSATION_ID}
//! ?fields=messages{id,created_time,from,to,message}` → `{"messages": {"data": […]}, "id"}`
//! (or `GET /{CONVERSATION_ID}/messages` → `{"data": […]}`), customer's and business's
//! messages, newest first. Limited to `conversations_per_second` per account (2 by default).

use super::{Answer, GraphRequest, authenticate, check_addressing, resolve_account};
use crate::Sim;
use crate::errors::GraphError;
use crate::ratelimit::Bucket;
use crate::state::State;
use crate::time::graph_time;
use serde_json::{Value, json};
use std::sync::Arc;

/// Counts the call against the account's Conversations API budget.
fn throttle(st: &mut State, account: &str, now: i64) -> Result<crate::ratelimit::Usage, Answer> {
    let limit = st
        .instagram
        .get(account)
        .map_or(2, |a| a.limits.conversations_per_second);
    let usage = st.rate.take(account, Bucket::Conversations, limit, now);
    if usage.allowed {
        Ok(usage)
    } else {
        Err(Answer::from(GraphError::rate_limited(None)).with_usage(account, "instagram", usage))
    }
}

/// `GET /{id}/conversations`.
///
/// # Errors
/// Unknown account, token errors, a platform other than instagram.
pub fn list(sim: &Arc<Sim>, req: &GraphRequest, id: &str, now: i64) -> Result<Answer, GraphError> {
    let mut st = sim.lock();
    let account = resolve_account(&st, req, id)?;
    authenticate(sim, &st, req, &account, id, now)?;
    check_addressing(&st, &account, id)?;
    if !st.instagram.contains_key(&account) {
        return Err(GraphError::unknown_object(id));
    }
    if req.param("platform").as_deref() != Some("instagram") {
        return Err(GraphError::invalid_parameter(
            "param platform must be instagram",
        ));
    }
    let usage = match throttle(&mut st, &account, now) {
        Ok(u) => u,
        Err(answer) => return Ok(answer),
    };
    let user = req.param("user_id");
    let mut data: Vec<(i64, Value)> = st
        .conversations
        .iter()
        .filter(|((a, c), msgs)| a == &account && !msgs.is_empty() && user.as_ref().is_none_or(|u| u == c))
        .map(|((a, c), msgs)| {
            let last = msgs.iter().map(|m| m.at_ms).max().unwrap_or(0);
            (
                last,
                json!({"id": crate::ids::instagram_conversation(a, c), "updated_time": graph_time(last)}),
            )
        })
        .collect();
    data.sort_by_key(|d| std::cmp::Reverse(d.0));
    let data: Vec<Value> = data.into_iter().map(|(_, v)| v).collect();
    Ok(Answer::ok(json!({ "data": data })).with_usage(&account, "instagram", usage))
}

/// `GET /{CONVERSATION_ID}?fields=messages{…}` (`edge: false`) or `/{CONVERSATION_ID}/messages`.
///
/// # Errors
/// Unknown conversation or token errors.
pub fn messages(
    sim: &Arc<Sim>,
    req: &GraphRequest,
    conv: &str,
    edge: bool,
    now: i64,
) -> Result<Answer, GraphError> {
    let mut st = sim.lock();
    let Some((account, customer)) = st.conversation_ids.get(conv).cloned() else {
        return Err(GraphError::unknown_object(conv));
    };
    authenticate(sim, &st, req, &account, conv, now)?;
    let usage = match throttle(&mut st, &account, now) {
        Ok(u) => u,
        Err(answer) => return Ok(answer),
    };
    let business = st
        .instagram
        .get(&account)
        .map(|a| json!({"username": a.username, "id": a.ig_id}))
        .unwrap_or(Value::Null);
    let person = {
        let username = st
            .customer(&account, &customer)
            .and_then(|c| c.username.clone())
            .unwrap_or_else(|| format!("user_{customer}"));
        json!({"username": username, "id": customer})
    };
    let msgs = st
        .conversations
        .get(&(account.clone(), customer.clone()))
        .cloned()
        .unwrap_or_default();
    let mut data: Vec<(i64, Value)> = msgs
        .iter()
        .map(|m| {
            let (from, to) = if m.from_business {
                (&business, &person)
            } else {
                (&person, &business)
            };
            (
                m.at_ms,
                json!({
                    "id": m.mid,
                    "created_time": graph_time(m.at_ms),
                    "from": from,
                    "to": {"data": [to]},
                    "message": m.text.clone().unwrap_or_default(),
                }),
            )
        })
        .collect();
    // Newest first, as Graph lists them; equal times keep reverse arrival order.
    data.reverse();
    data.sort_by_key(|d| std::cmp::Reverse(d.0));
    let data: Vec<Value> = data.into_iter().map(|(_, v)| v).collect();
    let body = if edge {
        json!({ "data": data })
    } else if req.param("fields").is_some_and(|f| f.contains("messages")) {
        json!({"messages": {"data": data}, "id": conv})
    } else {
        json!({ "id": conv })
    };
    Ok(Answer::ok(body).with_usage(&account, "instagram", usage))
}
