//! Webhooks to the relay, as Meta sends them: the payload shapes of meta-platform.md §3–5
//! and §13.1, serialized the way Meta does (non-ASCII escaped as `\uXXXX`, so a relay that
//! re-serializes instead of hashing the raw bytes fails on the first emoji), signed with
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the exact body>`.
//!
//! Builders are pure; [`post`] applies the webhook faults (drop, duplicate), retries
//! follow-ups the way Meta retries (a few times, growing pauses) and records every delivery.

use super::Sim;
use super::accounts::{InstagramAccount, Login, SignWith};
use super::faults::WebhookKind;
use super::record::{Delivery, WebhookRecord};
use super::time::now_ms;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;

/// Which app secret signs a webhook.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Signer {
    Meta,
    Instagram,
}

impl Signer {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Signer::Meta => "meta",
            Signer::Instagram => "instagram",
        }
    }
}

/// A webhook ready to post.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// `instagram` or `whatsapp`.
    pub endpoint: &'static str,
    pub kind: WebhookKind,
    /// The account it is about (fault scope and records).
    pub account: String,
    pub signer: Signer,
    pub body: Value,
}

/// What happened to a posted webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The first delivery's status (null when dropped or unreachable).
    pub status: Option<u16>,
    /// Every delivery's status, duplicates and retries included.
    pub statuses: Vec<Option<u16>>,
    pub dropped: bool,
    /// Sequence number of the webhook record.
    pub seq: u64,
}

/// Which secret signs an Instagram account's webhooks: its `sign_with`, else the Instagram
/// app secret for Instagram-Login accounts when one is configured, else Meta's.
#[must_use]
pub fn instagram_signer(a: &InstagramAccount, has_ig_secret: bool) -> Signer {
    match a.sign_with {
        Some(SignWith::Meta) => Signer::Meta,
        Some(SignWith::Instagram) => Signer::Instagram,
        None if a.login == Login::Instagram && has_ig_secret => Signer::Instagram,
        None => Signer::Meta,
    }
}

// ---- builders ----

/// `{"object":"instagram","entry":[{"id","time","messaging":[item]}]}`; `time` in ms.
#[must_use]
pub fn instagram_messaging(entry_id: &str, at_ms: i64, item: Value) -> Value {
    json!({
        "object": "instagram",
        "entry": [{"id": entry_id, "time": at_ms, "messaging": [item]}],
    })
}

/// A messaging item from `sender` to `recipient`: `{sender, recipient, timestamp, <key>: value}`.
#[must_use]
pub fn instagram_item(sender: &str, recipient: &str, at_ms: i64, key: &str, value: Value) -> Value {
    let mut item = json!({
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "timestamp": at_ms,
    });
    item[key] = value;
    item
}

/// A `comments` change on the business's media; entry `time` in seconds (as Meta sends).
#[must_use]
pub fn instagram_comment(entry_id: &str, at_ms: i64, value: Value) -> Value {
    instagram_change(entry_id, at_ms, "comments", value)
}

/// A `changes` item of `field` (comments, mentions…); entry `time` in seconds.
#[must_use]
pub fn instagram_change(entry_id: &str, at_ms: i64, field: &str, value: Value) -> Value {
    json!({
        "object": "instagram",
        "entry": [{
            "id": entry_id,
            "time": at_ms.div_euclid(1000),
            "changes": [{"field": field, "value": value}],
        }],
    })
}

/// The `metadata` block of a WhatsApp change.
#[must_use]
pub fn whatsapp_metadata(display_phone_number: &str, phone_number_id: &str) -> Value {
    json!({"display_phone_number": display_phone_number, "phone_number_id": phone_number_id})
}

/// A WhatsApp `messages` change carrying a customer's message.
#[must_use]
pub fn whatsapp_message(
    waba_id: &str,
    metadata: Value,
    contact_name: &str,
    wa_id: &str,
    message: Value,
) -> Value {
    whatsapp_change(
        waba_id,
        json!({
            "messaging_product": "whatsapp",
            "metadata": metadata,
            "contacts": [{"profile": {"name": contact_name}, "wa_id": wa_id}],
            "messages": [message],
        }),
    )
}

/// A WhatsApp `messages` change carrying one delivery status.
#[must_use]
pub fn whatsapp_status(waba_id: &str, metadata: Value, status: Value) -> Value {
    whatsapp_change(
        waba_id,
        json!({"messaging_product": "whatsapp", "metadata": metadata, "statuses": [status]}),
    )
}

fn whatsapp_change(waba_id: &str, value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": value}]}],
    })
}

/// WhatsApp timestamps are strings of seconds.
#[must_use]
pub fn wa_timestamp(at_ms: i64) -> String {
    at_ms.div_euclid(1000).to_string()
}

/// Merges envelopes of the same `object` into one body with all their entries, as Meta
/// batches (meta-platform.md §3). Order is kept.
#[must_use]
pub fn batch(envelopes: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for env in envelopes {
        let object = env["object"].clone();
        let entries = env["entry"].as_array().cloned().unwrap_or_default();
        if let Some(existing) = out.iter_mut().find(|e| e["object"] == object)
            && let Some(list) = existing["entry"].as_array_mut()
        {
            list.extend(entries);
            continue;
        }
        out.push(env);
    }
    out
}

// ---- wire form ----

/// serde_json formatter that escapes every non-ASCII character as `\uXXXX` (lowercase hex,
/// surrogate pairs above the BMP), which is how Meta's bodies arrive.
struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> std::io::Result<()>
    where
        W: ?Sized + std::io::Write,
    {
        let mut units = [0u16; 2];
        for ch in fragment.chars() {
            if ch.is_ascii() {
                let mut b = [0u8; 1];
                writer.write_all(ch.encode_utf8(&mut b).as_bytes())?;
            } else {
                for u in ch.encode_utf16(&mut units) {
                    write!(writer, "\\u{u:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// The exact bytes Meta would post for `body`.
#[must_use]
pub fn to_wire(body: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, AsciiFormatter);
    // Serializing a `Value` into a Vec cannot fail.
    let _ = serde::Serialize::serialize(body, &mut ser);
    out
}

/// `sha256=<hex>` over `bytes` with `secret`.
#[must_use]
pub fn signature(bytes: &[u8], secret: &str) -> String {
    let Ok(mut mac) = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(bytes);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

// ---- posting ----

/// How hard to try.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Retry {
    /// One attempt per copy: control-API inbound, so the caller sees the relay's answer.
    Once,
    /// Meta-like retries on non-200 or connection failure (4 attempts, growing pauses).
    LikeMeta,
}

const RETRY_PAUSES_MS: [u64; 3] = [200, 1000, 3000];

/// Posts a webhook to the relay, applying webhook faults, and records it.
pub async fn post(sim: &Sim, out: Outgoing, retry: Retry) -> Outcome {
    let now = now_ms();
    let (faults, seq) = {
        let mut st = sim.lock();
        let ids = st.scope_ids(&out.account);
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let faults = st.faults.for_webhook(out.kind, &refs, now);
        let seq = st.records.seq();
        st.records.webhooks.push(WebhookRecord {
            seq,
            at_ms: now,
            endpoint: out.endpoint,
            kind: out.kind,
            account: out.account.clone(),
            signed_with: out.signer.name(),
            body: out.body.clone(),
            dropped: faults.drop,
            deliveries: Vec::new(),
            faults: faults.names.clone(),
        });
        (faults, seq)
    };
    if faults.drop {
        tracing::info!(endpoint = out.endpoint, seq, "webhook dropped (fault)");
        return Outcome {
            status: None,
            statuses: Vec::new(),
            dropped: true,
            seq,
        };
    }
    let bytes = to_wire(&out.body);
    let sig = signature(&bytes, sim.secret(out.signer));
    let url = format!("{}/webhooks/{}", sim.relay_url(), out.endpoint);
    let mut statuses = Vec::new();
    let pauses: &[u64] = if retry == Retry::LikeMeta {
        &RETRY_PAUSES_MS
    } else {
        &[]
    };
    for _ in 0..faults.copies {
        let mut pauses_left = pauses.iter();
        loop {
            let delivery = deliver(sim, &url, &bytes, &sig).await;
            let ok = delivery.status == Some(200);
            statuses.push(delivery.status);
            {
                let mut st = sim.lock();
                if let Some(r) = st.records.webhooks.iter_mut().find(|r| r.seq == seq) {
                    r.deliveries.push(delivery);
                }
            }
            match pauses_left.next() {
                Some(pause) if !ok => sim.sleep(*pause).await,
                _ => break,
            }
        }
    }
    Outcome {
        status: statuses.first().copied().flatten(),
        statuses,
        dropped: false,
        seq,
    }
}

async fn deliver(sim: &Sim, url: &str, bytes: &[u8], sig: &str) -> Delivery {
    let result = sim
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sig)
        .body(bytes.to_vec())
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    match result {
        Ok(resp) => Delivery {
            status: Some(resp.status().as_u16()),
            error: None,
        },
        Err(e) => {
            // reqwest's error texts name the URL and the cause (refused, timed out…), never
            // the body or the signature.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            tracing::warn!(error = %text, "webhook delivery failed");
            Delivery {
                status: None,
                error: Some(text),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_escapes_non_ascii_like_meta() {
        let body = json!({"text": "Halo kak 👋 äöå"});
        let wire = to_wire(&body);
        assert!(wire.is_ascii());
        let text = String::from_utf8(wire.clone()).unwrap_or_default();
        assert!(text.contains("\\ud83d\\udc4b"), "{text}");
        assert!(text.contains("\\u00e4\\u00f6\\u00e5"), "{text}");
        let back: Value = serde_json::from_slice(&wire).unwrap_or(Value::Null);
        assert_eq!(back, body);
    }

    #[test]
    fn signatures_are_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"what do ya want for nothing?", "Jefe"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn batches_entries_of_the_same_object() {
        let a = instagram_messaging("1", 5, json!({"x": 1}));
        let b = instagram_comment("1", 5000, json!({"id": "c"}));
        let w = whatsapp_status("w", whatsapp_metadata("1", "2"), json!({"id": "s"}));
        let out = batch(vec![a, w, b]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["entry"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            out[0]["entry"][1]["time"], 5,
            "comment entry time in seconds"
        );
        assert_eq!(out[1]["object"], "whatsapp_business_account");
    }
}
