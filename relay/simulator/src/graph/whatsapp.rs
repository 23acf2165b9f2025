//! WhatsApp Cloud API: sends (`POST /{PHONE_NUMBER_ID}/messages`) and the WABA's templates
//! (`GET /{WABA_ID}/message_templates`).
//!
//! A send is: authenticate → throughput (130429) → validate → mark-as-read, or: a template
//! must be an approved template of this WABA in that language with the right number of body
//! parameters (132001 / 132000) and may go at any time; anything else needs the 24 h
//! customer-service window (131047, synchronously or as a `failed` status per the number's
//! `reengagement` setting) → deliver: inbox, statuses `sent` → `delivered` → `read`, each
//! echoing `biz_opaque_callback_data`. A customer marked unavailable gets a `failed` status
//! with 131026, as the Cloud API reports undeliverable messages after accepting them.

use super::wa_body::{self, WaKind, WaRequest};
use super::{Answer, GraphRequest, authenticate};
use crate::Sim;
use crate::accounts::Reengagement;
use crate::errors::{GraphError, WA_REENGAGEMENT_DETAILS};
use crate::followups::{self, WhatsAppFollowup};
use crate::ids;
use crate::ratelimit::Bucket;
use crate::record::InboxEntry;
use crate::state::WaSent;
use crate::window;
use serde_json::json;
use std::sync::Arc;

/// `POST /{PHONE_NUMBER_ID}/messages`.
///
/// # Errors
/// Every refusal as the Cloud API's error.
pub fn send(
    sim: &Arc<Sim>,
    req: &GraphRequest,
    account: &str,
    shown_id: &str,
    now: i64,
) -> Result<Answer, GraphError> {
    let mut st = sim.lock();
    authenticate(sim, &st, req, account, shown_id, now)?;
    let Some(number) = st.whatsapp.get(account).cloned() else {
        return Err(GraphError::unknown_object(shown_id));
    };
    let usage = st.rate.take(
        account,
        Bucket::WhatsApp,
        number.limits.whatsapp_per_second,
        now,
    );
    if !usage.allowed {
        return Ok(Answer::from(GraphError::wa_throughput()).with_usage(
            &number.waba_id,
            "whatsapp_business_messaging",
            usage,
        ));
    }
    let with_usage =
        |a: Answer| a.with_usage(&number.waba_id, "whatsapp_business_messaging", usage);
    let (to, kind, text, content, opaque) = match wa_body::parse(&req.body)? {
        WaRequest::MarkRead { message_id } => {
            let Some(m) = st.messages.get(&message_id).cloned() else {
                return Err(GraphError::wa_invalid(format!(
                    "Parameter 'message_id' ({message_id}) is not a message this number received"
                )));
            };
            if m.account != account || m.from_business {
                return Err(GraphError::wa_invalid(format!(
                    "Parameter 'message_id' ({message_id}) is not a message this number received"
                )));
            }
            let seq = st.records.seq();
            st.records.inbox.push(InboxEntry {
                seq,
                at_ms: now,
                account: account.to_owned(),
                customer: m.customer,
                channel: "whatsapp",
                kind: "read",
                message_id: Some(message_id),
                text: None,
                content: req.body.clone(),
                tag: None,
                comment_id: None,
            });
            return Ok(with_usage(Answer::ok(json!({"success": true}))));
        }
        WaRequest::Send {
            to,
            kind,
            text,
            biz_opaque_callback_data,
            ..
        } => (to, kind, text, req.body.clone(), biz_opaque_callback_data),
    };
    let customer = st.customer(account, &to).cloned();
    let mut category = "service".to_owned();
    let mut failure = None;
    match &kind {
        WaKind::Template {
            name,
            language,
            body_params,
        } => {
            let Some(t) = number
                .templates
                .iter()
                .find(|t| &t.name == name && &t.language == language && t.approved())
            else {
                return Err(GraphError::wa_template_missing(name, language));
            };
            if t.body_params() != *body_params {
                return Err(GraphError::wa_template_params(
                    t.body_params(),
                    *body_params,
                ));
            }
            category = t.category.to_ascii_lowercase();
        }
        _ => {
            let last = customer.as_ref().and_then(|c| c.last_message_ms);
            if !window::whatsapp_free_form(last, now) {
                match number.reengagement {
                    Reengagement::Sync => return Err(GraphError::wa_reengagement()),
                    Reengagement::Status => {
                        failure = Some((
                            131_047,
                            "Re-engagement message",
                            WA_REENGAGEMENT_DETAILS.to_owned(),
                        ));
                    }
                }
            }
            if let WaKind::Reaction { message_id } = &kind
                && !st
                    .messages
                    .get(message_id)
                    .is_some_and(|m| m.account == account && m.customer == to)
            {
                return Err(GraphError::wa_invalid(format!(
                    "Parameter 'reaction.message_id' ({message_id}) is not a message of this chat"
                )));
            }
        }
    }
    if customer.as_ref().is_some_and(|c| c.unavailable) && failure.is_none() {
        failure = Some((
            131_026,
            "Message undeliverable",
            "Unable to deliver message. Reasons can include: the recipient is not on WhatsApp, \
             or has blocked the business."
                .to_owned(),
        ));
    }
    let wamid = ids::wamid(&to);
    let read = customer.as_ref().is_none_or(|c| c.auto_read);
    st.customer_mut(account, &to);
    let seq = st.records.seq();
    st.wa_sent.insert(
        wamid.clone(),
        WaSent {
            account: account.to_owned(),
            customer: to.clone(),
            biz_opaque_callback_data: opaque.clone(),
            seq,
            read: false,
            failed: failure.is_some(),
        },
    );
    if failure.is_none() {
        st.remember_message(account, &to, &wamid, now, true, text.clone());
        st.records.inbox.push(InboxEntry {
            seq,
            at_ms: now,
            account: account.to_owned(),
            customer: to.clone(),
            channel: "whatsapp",
            kind: match kind {
                WaKind::Template { .. } => "template",
                WaKind::Reaction { .. } => "reaction",
                _ => "message",
            },
            message_id: Some(wamid.clone()),
            text,
            content,
            tag: None,
            comment_id: None,
        });
    }
    followups::whatsapp(
        sim,
        WhatsAppFollowup {
            number: number.clone(),
            customer: to.clone(),
            wamid: wamid.clone(),
            biz_opaque_callback_data: opaque,
            category,
            read,
            failure,
        },
    );
    Ok(with_usage(Answer::ok(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": req.body["to"], "wa_id": to}],
        "messages": [{"id": wamid, "message_status": "accepted"}],
    }))))
}

/// `GET /{WABA_ID}/message_templates`, filterable by `name`, `language` and `status`.
///
/// # Errors
/// Unknown WABA or token errors.
pub fn templates(
    sim: &Arc<Sim>,
    req: &GraphRequest,
    waba: &str,
    now: i64,
) -> Result<Answer, GraphError> {
    let st = sim.lock();
    let Some(number) = st.whatsapp.values().find(|n| n.waba_id == waba).cloned() else {
        return Err(GraphError::unknown_object(waba));
    };
    authenticate(sim, &st, req, &number.phone_number_id, waba, now)?;
    let filter = |key: &str, value: &str| {
        req.query
            .get(key)
            .is_none_or(|want| want.eq_ignore_ascii_case(value))
    };
    let data: Vec<_> = st
        .whatsapp
        .values()
        .filter(|n| n.waba_id == waba)
        .flat_map(|n| n.templates.iter())
        .filter(|t| {
            filter("name", &t.name)
                && filter("language", &t.language)
                && filter("status", &t.status)
        })
        .map(|t| {
            json!({
                "name": t.name,
                "language": t.language,
                "status": t.status.to_ascii_uppercase(),
                "category": t.category.to_ascii_uppercase(),
                "components": t.components(),
                "id": t.id.clone().unwrap_or_else(|| template_id(&t.name, &t.language)),
            })
        })
        .collect();
    Ok(Answer::ok(json!({
        "data": data,
        "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}},
    })))
}

/// A stable numeric id for a template without one.
fn template_id(name: &str, language: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{name}:{language}").as_bytes());
    let n = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
        % 1_000_000_000_000_000;
    format!("{n:015}")
}
