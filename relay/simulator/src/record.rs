//! What the simulator remembers for tests to assert on: every Graph call it received (with
//! tokens replaced by the account they matched), every webhook it posted (with each
//! delivery's answer), and every customer's inbox (what that person actually received).
//!
//! Records never hold a token or an app secret, so they can be printed in test failures.

use super::faults::{PathKind, WebhookKind};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Which account a presented token belonged to, as shown in records.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TokenMatch {
    None,
    Account(String),
    Invalid,
}

impl TokenMatch {
    /// The replacement text for the token: `account:<id>` or `invalid`.
    #[must_use]
    pub fn shown(&self) -> Option<String> {
        match self {
            TokenMatch::None => None,
            TokenMatch::Account(id) => Some(format!("account:{id}")),
            TokenMatch::Invalid => Some("invalid".into()),
        }
    }
}

/// One Graph call as received and answered.
#[derive(Clone, Debug, Serialize)]
pub struct CallRecord {
    pub seq: u64,
    pub at_ms: i64,
    pub method: String,
    /// The path without the query, version prefix included (`/v23.0/1784…/messages`).
    pub path: String,
    pub path_kind: PathKind,
    /// The account the path addressed, when the simulator knows it.
    pub account: Option<String>,
    /// `account:<id>` for a token of a known account, `invalid` otherwise, null when absent.
    pub token: Option<String>,
    /// Query parameters, with `access_token` replaced like `token`.
    pub query: BTreeMap<String, String>,
    /// The JSON body (form bodies as an object, JSON-valued fields decoded), token replaced.
    pub body: Value,
    pub status: u16,
    pub response: Value,
    /// Names of the fault modes this call suffered.
    pub faults: Vec<&'static str>,
}

/// One delivery attempt of a webhook.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// The relay's HTTP status; null when the connection failed.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// One webhook the simulator posted (or dropped on purpose).
#[derive(Clone, Debug, Serialize)]
pub struct WebhookRecord {
    pub seq: u64,
    pub at_ms: i64,
    /// `instagram` or `whatsapp` (the relay path `/webhooks/<endpoint>`).
    pub endpoint: &'static str,
    pub kind: WebhookKind,
    pub account: String,
    /// Which app secret signed it: `meta` or `instagram`.
    pub signed_with: &'static str,
    pub body: Value,
    pub dropped: bool,
    pub deliveries: Vec<Delivery>,
    pub faults: Vec<&'static str>,
}

/// One thing a customer received from the business.
#[derive(Clone, Debug, Serialize)]
pub struct InboxEntry {
    pub seq: u64,
    pub at_ms: i64,
    pub account: String,
    pub customer: String,
    /// `instagram` or `whatsapp`.
    pub channel: &'static str,
    /// `message`, `private_reply`, `template`, `reaction`, `unreact`, `action`, `read`.
    pub kind: &'static str,
    /// The provider id of the message (the one returned to the sender), if any.
    pub message_id: Option<String>,
    pub text: Option<String>,
    /// The message object as sent (Instagram `message`, or the WhatsApp body).
    pub content: Value,
    /// `HUMAN_AGENT` when sent with that tag.
    pub tag: Option<String>,
    /// The comment a private reply answered.
    pub comment_id: Option<String>,
}

/// A Graph call received and not answered yet: held by a fault, or still being served.
#[derive(Clone, Debug, Serialize)]
pub struct HeldCall {
    pub method: String,
    pub path_kind: PathKind,
    pub account: Option<String>,
}

/// The three logs, each in arrival order with its own sequence, and the calls not yet
/// answered.
#[derive(Default, Debug)]
pub struct Records {
    pub calls: Vec<CallRecord>,
    pub webhooks: Vec<WebhookRecord>,
    pub inbox: Vec<InboxEntry>,
    /// A call leaves this only once it is in `calls` and its effects (an inbox entry, a
    /// conversation message) are in place, so "none held" means Meta's side is settled:
    /// a caller that died mid-call cannot still change what a later lookup finds.
    pub in_flight: BTreeMap<u64, HeldCall>,
    next: u64,
    next_held: u64,
}

impl Records {
    /// The next sequence number shared by all three logs, so their order can be compared.
    pub fn seq(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Forgets the logs; calls in flight stay counted, since they are still being served.
    pub fn forget(&mut self) {
        *self = Records {
            in_flight: std::mem::take(&mut self.in_flight),
            next_held: self.next_held,
            ..Records::default()
        };
    }

    /// Counts `call` in flight; answers the key [`Records::in_flight`] holds it under.
    pub fn hold(&mut self, call: HeldCall) -> u64 {
        self.next_held += 1;
        self.in_flight.insert(self.next_held, call);
        self.next_held
    }
}

/// Replaces token-like fields of a JSON object (`access_token`, `appsecret_proof`).
pub fn redact_body(body: &mut Value, token: &TokenMatch, proof: Option<bool>) {
    if let Some(obj) = body.as_object_mut() {
        if obj.contains_key("access_token") {
            obj.insert(
                "access_token".into(),
                token.shown().map_or(Value::Null, Value::String),
            );
        }
        if obj.contains_key("appsecret_proof") {
            obj.insert("appsecret_proof".into(), proof_shown(proof).into());
        }
        if obj.contains_key("client_secret") {
            obj.insert("client_secret".into(), "[redacted]".into());
        }
    }
}

/// Replaces token-like query parameters.
pub fn redact_query(query: &mut BTreeMap<String, String>, token: &TokenMatch, proof: Option<bool>) {
    if query.contains_key("access_token") {
        query.insert("access_token".into(), token.shown().unwrap_or_default());
    }
    if query.contains_key("appsecret_proof") {
        query.insert("appsecret_proof".into(), proof_shown(proof).into());
    }
    if query.contains_key("client_secret") {
        query.insert("client_secret".into(), "[redacted]".into());
    }
}

fn proof_shown(proof: Option<bool>) -> &'static str {
    if proof == Some(true) {
        "valid"
    } else {
        "invalid"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_never_survive_in_records() {
        let mut body = json!({"access_token": "EAAG-secret", "appsecret_proof": "abc", "x": 1});
        redact_body(&mut body, &TokenMatch::Account("178".into()), Some(true));
        assert_eq!(
            body,
            json!({"access_token": "account:178", "appsecret_proof": "valid", "x": 1})
        );
        let mut q = BTreeMap::from([
            ("access_token".to_owned(), "EAAG-secret".to_owned()),
            ("fields".to_owned(), "id".to_owned()),
        ]);
        redact_query(&mut q, &TokenMatch::Invalid, None);
        assert_eq!(q["access_token"], "invalid");
        assert_eq!(q["fields"], "id");
    }
}
