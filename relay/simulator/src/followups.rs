//! What Meta posts after a successful send, on its own schedule: the Instagram echo (sender
//! = the business) and, when the customer reads, a read receipt; WhatsApp statuses
//! `sent` → `delivered` → `read` (or one `failed`), each carrying the send's
//! `biz_opaque_callback_data`; the business's own public comment reply as a `comments` change.
//!
//! Each follow-up runs as its own task after the configured delay, so the send's answer
//! normally reaches the caller first (as with Meta, that order is not guaranteed).

use super::Sim;
use super::accounts::{InstagramAccount, WhatsAppNumber};
use super::faults::WebhookKind;
use super::state::State;
use super::webhooks::{self, Outgoing, Retry, Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// After an Instagram send: the echo, then a read receipt if the customer reads.
pub struct InstagramFollowup {
    pub account: InstagramAccount,
    pub customer: String,
    pub mid: String,
    /// The `message` object to echo (without `mid`/`is_echo`, added here).
    pub message: Value,
    pub read: bool,
}

/// Spawns the Instagram follow-ups.
pub fn instagram(sim: &Arc<Sim>, f: InstagramFollowup) {
    let sim = Arc::clone(sim);
    tokio::spawn(async move {
        let signer =
            webhooks::instagram_signer(&f.account, sim.config.instagram_app_secret.is_some());
        let entry = f.account.entry_id().to_owned();
        sim.sleep(sim.config.followup_delay_ms).await;
        let at = super::time::now_ms();
        let mut echo = echo_message(&f.message);
        echo["mid"] = json!(f.mid);
        echo["is_echo"] = json!(true);
        let item = webhooks::instagram_item(&entry, &f.customer, at, "message", echo);
        let out = Outgoing {
            endpoint: "instagram",
            kind: WebhookKind::Echo,
            account: f.account.ig_id.clone(),
            signer,
            body: webhooks::instagram_messaging(&entry, at, item),
        };
        webhooks::post(&sim, out, Retry::LikeMeta).await;
        if !f.read {
            return;
        }
        sim.sleep(sim.config.followup_delay_ms).await;
        let at = super::time::now_ms();
        let item = webhooks::instagram_item(&f.customer, &entry, at, "read", json!({"mid": f.mid}));
        let out = Outgoing {
            endpoint: "instagram",
            kind: WebhookKind::Read,
            account: f.account.ig_id.clone(),
            signer,
            body: webhooks::instagram_messaging(&entry, at, item),
        };
        webhooks::post(&sim, out, Retry::LikeMeta).await;
    });
}

/// An echo carries the message as the customer sees it: attachments always as a list,
/// no quick replies (those are the business's buttons, not content).
fn echo_message(sent: &Value) -> Value {
    let mut m = json!({});
    if let Some(t) = sent.get("text") {
        m["text"] = t.clone();
    }
    let mut list: Vec<Value> = Vec::new();
    if let Some(a) = sent.get("attachment") {
        list.push(a.clone());
    }
    match sent.get("attachments") {
        Some(Value::Array(a)) => list.extend(a.iter().cloned()),
        Some(one @ Value::Object(_)) => list.push(one.clone()),
        _ => {}
    }
    if !list.is_empty() {
        m["attachments"] = Value::Array(list);
    }
    m
}

/// After a WhatsApp send: statuses, or one `failed` status.
pub struct WhatsAppFollowup {
    pub number: WhatsAppNumber,
    pub customer: String,
    pub wamid: String,
    pub biz_opaque_callback_data: Option<String>,
    /// `service` for free-form messages, the template's category otherwise.
    pub category: String,
    pub read: bool,
    /// `(code, title, details)` when the message fails after being accepted.
    pub failure: Option<(u32, &'static str, String)>,
}

/// Spawns the WhatsApp statuses.
pub fn whatsapp(sim: &Arc<Sim>, f: WhatsAppFollowup) {
    let sim = Arc::clone(sim);
    tokio::spawn(async move {
        let metadata =
            webhooks::whatsapp_metadata(&f.number.display_phone_number, &f.number.phone_number_id);
        let opaque = f.biz_opaque_callback_data.as_deref();
        let statuses: &[&str] = match (&f.failure, f.read) {
            (Some(_), _) => &["failed"],
            (None, true) => &["sent", "delivered", "read"],
            (None, false) => &["sent", "delivered"],
        };
        for status in statuses {
            sim.sleep(sim.config.followup_delay_ms).await;
            let at = super::time::now_ms();
            let mut value = wa_status_value(&f.wamid, status, at, &f.customer, opaque);
            if matches!(*status, "sent" | "delivered") {
                value["conversation"] = json!({
                    "id": conversation_id(&f.number.phone_number_id, &f.customer),
                    "expiration_timestamp": webhooks::wa_timestamp(at + 86_400_000),
                    "origin": {"type": f.category},
                });
                value["pricing"] = json!({
                    "billable": f.category != "service",
                    "pricing_model": "PMP",
                    "category": f.category,
                });
            }
            if let Some((code, title, details)) = &f.failure {
                value["errors"] = json!([{
                    "code": code, "title": title, "message": title,
                    "error_data": {"details": details},
                }]);
            }
            if *status == "read" {
                let mut st = sim.lock();
                if let Some(s) = st.wa_sent.get_mut(&f.wamid) {
                    if s.read {
                        // The customer already read it through an explicit `read` action.
                        return;
                    }
                    s.read = true;
                }
            }
            let out = Outgoing {
                endpoint: "whatsapp",
                kind: WebhookKind::Status,
                account: f.number.phone_number_id.clone(),
                signer: Signer::Meta,
                body: webhooks::whatsapp_status(&f.number.waba_id, metadata.clone(), value),
            };
            webhooks::post(&sim, out, Retry::LikeMeta).await;
        }
    });
}

/// One WhatsApp `statuses[]` element.
#[must_use]
pub fn wa_status_value(
    wamid: &str,
    status: &str,
    at: i64,
    customer: &str,
    biz_opaque_callback_data: Option<&str>,
) -> Value {
    let mut v = json!({
        "id": wamid,
        "status": status,
        "timestamp": webhooks::wa_timestamp(at),
        "recipient_id": customer,
    });
    if let Some(o) = biz_opaque_callback_data {
        v["biz_opaque_callback_data"] = json!(o);
    }
    v
}

fn conversation_id(account: &str, customer: &str) -> String {
    let digest = Sha256::digest(format!("{account}:{customer}").as_bytes());
    hex::encode(&digest[..16])
}

/// Marks every unread, unfailed business message to this customer read; returns their ids
/// and opaque data, oldest first.
pub fn mark_read_whatsapp(
    st: &mut State,
    account: &str,
    customer: &str,
) -> Vec<(String, Option<String>)> {
    let mut unread: Vec<(u64, String, Option<String>)> = st
        .wa_sent
        .iter_mut()
        .filter(|(_, s)| s.account == account && s.customer == customer && !s.read && !s.failed)
        .map(|(id, s)| {
            s.read = true;
            (s.seq, id.clone(), s.biz_opaque_callback_data.clone())
        })
        .collect();
    unread.sort_by_key(|(seq, _, _)| *seq);
    unread.into_iter().map(|(_, id, o)| (id, o)).collect()
}

/// After a public comment reply: the business's own comment, as Meta reports it.
pub fn comment_reply(
    sim: &Arc<Sim>,
    account: &InstagramAccount,
    comment: &super::state::Comment,
    reply_id: &str,
    text: &str,
) {
    let sim = Arc::clone(sim);
    let account = account.clone();
    let value = json!({
        "id": reply_id,
        "from": {"id": account.ig_id, "username": account.username,
                 "self_ig_scoped_id": account.ig_id},
        "text": text,
        "media": {"id": comment.media_id, "media_product_type": "FEED"},
        "parent_id": comment.id,
    });
    tokio::spawn(async move {
        sim.sleep(sim.config.followup_delay_ms).await;
        let at = super::time::now_ms();
        let signer =
            webhooks::instagram_signer(&account, sim.config.instagram_app_secret.is_some());
        let out = Outgoing {
            endpoint: "instagram",
            kind: WebhookKind::Comment,
            account: account.ig_id.clone(),
            signer,
            body: webhooks::instagram_comment(account.entry_id(), at, value),
        };
        webhooks::post(&sim, out, Retry::LikeMeta).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_list_attachments_and_drop_quick_replies() {
        let sent = json!({"text": "hi", "quick_replies": [{"content_type": "text"}]});
        assert_eq!(echo_message(&sent), json!({"text": "hi"}));
        let one = json!({"attachment": {"type": "audio", "payload": {"url": "u"}}});
        assert_eq!(echo_message(&one)["attachments"][0]["type"], "audio");
        let obj = json!({"attachments": {"type": "image", "payload": {"url": "u"}}});
        assert_eq!(
            echo_message(&obj)["attachments"].as_array().map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn status_values_carry_the_opaque_data() {
        let v = wa_status_value(
            "wamid.X",
            "sent",
            1_700_000_000_123,
            "16505551234",
            Some("ref-1"),
        );
        assert_eq!(v["timestamp"], "1700000000");
        assert_eq!(v["biz_opaque_callback_data"], "ref-1");
        assert!(
            wa_status_value("w", "read", 0, "1", None)
                .get("biz_opaque_callback_data")
                .is_none()
        );
    }
}
