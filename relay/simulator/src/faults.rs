//! Fault modes, switched on through `POST /_sim/faults` or a scenario step: slow answers,
//! 5xx, timeouts, rate-limit errors and token expiry for Graph calls; dropped and duplicate
//! deliveries for webhooks. Each fault may be scoped to a path kind, an account and (for
//! webhooks) a webhook kind, and limited to a number of matching requests and/or a duration;
//! without a limit it lasts until cleared.
//!
//! This module only decides which faults apply to a request and consumes their counts; the
//! Graph handler and the webhook poster carry them out.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What goes wrong.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Graph answers after `ms` more milliseconds (then normally).
    Slow,
    /// Graph answers `status` (500 default, or 503) with a transient error body.
    ServerError,
    /// Graph holds the request for `ms` (default 30 s, longer than a client should wait).
    Timeout,
    /// Graph answers a rate-limit error with `code` (4 default; 613; 130429 on WhatsApp).
    RateLimit,
    /// Graph answers 190 / 463 as if the token had expired.
    TokenExpired,
    /// Webhooks are not posted at all.
    DropWebhooks,
    /// Webhooks are posted `times` times (default 2).
    DuplicateWebhooks,
}

impl FaultKind {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Slow => "slow",
            FaultKind::ServerError => "server_error",
            FaultKind::Timeout => "timeout",
            FaultKind::RateLimit => "rate_limit",
            FaultKind::TokenExpired => "token_expired",
            FaultKind::DropWebhooks => "drop_webhooks",
            FaultKind::DuplicateWebhooks => "duplicate_webhooks",
        }
    }

    fn is_webhook(self) -> bool {
        matches!(self, FaultKind::DropWebhooks | FaultKind::DuplicateWebhooks)
    }
}

/// The kind of Graph path a request is for (fault scope and call records).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// `/{id}/messages`, Instagram and WhatsApp sends.
    Messages,
    /// `/{comment}/replies`.
    Replies,
    /// `/{comment}?hide=…`.
    Hide,
    /// `/{waba}/message_templates`.
    Templates,
    /// `/{id}/conversations` and `/{conversation}`.
    Conversations,
    /// `/{id}/messenger_profile`.
    MessengerProfile,
    /// `/me` and `/{id}/subscribed_apps`.
    Account,
    /// Login flows (`super::oauth`): consent pages, code and token exchanges.
    Oauth,
    /// Anything else.
    Other,
}

/// What a webhook carries (fault scope and webhook records).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// A customer's action (DM, comment, reaction, WhatsApp message…).
    Inbound,
    /// An Instagram echo of a business send.
    Echo,
    /// An Instagram read receipt.
    Read,
    /// A WhatsApp delivery status.
    Status,
    /// The business's own public comment reply.
    Comment,
}

/// One fault as asked for.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub kind: FaultKind,
    /// Delay for `slow`, hold time for `timeout`.
    #[serde(default)]
    pub ms: Option<u64>,
    /// HTTP status for `server_error` (500 or 503).
    #[serde(default)]
    pub status: Option<u16>,
    /// Error code for `rate_limit` (4, 613 or 130429).
    #[serde(default)]
    pub code: Option<u32>,
    /// Deliveries per webhook for `duplicate_webhooks`.
    #[serde(default)]
    pub times: Option<u32>,
    /// For `server_error` / `timeout` on sends: the message is delivered first, then the
    /// answer fails, as when Meta did the work but the answer was lost.
    #[serde(default)]
    pub deliver: bool,
    /// Only Graph calls of this kind.
    #[serde(default)]
    pub path: Option<PathKind>,
    /// Only requests for (or webhooks of) this account: IG id, Page id, phone number id or WABA id.
    #[serde(default)]
    pub account: Option<String>,
    /// Only webhooks of this kind.
    #[serde(default)]
    pub webhook: Option<WebhookKind>,
    /// Only the next `count` matching requests.
    #[serde(default)]
    pub count: Option<u32>,
    /// Only for this many milliseconds from now.
    #[serde(default)]
    pub for_ms: Option<u64>,
}

impl FaultSpec {
    /// Refuses combinations that cannot mean anything.
    ///
    /// # Errors
    /// One sentence naming the field.
    pub fn check(&self) -> Result<(), String> {
        if let Some(s) = self.status
            && !(500..=599).contains(&s)
        {
            return Err("status must be a 5xx".into());
        }
        if let Some(c) = self.code
            && ![4, 17, 32, 613, 130_429, 80_002].contains(&c)
        {
            return Err("code must be one of 4, 17, 32, 613, 80002, 130429".into());
        }
        if self.kind.is_webhook() && self.path.is_some() {
            return Err("path scopes Graph faults; use webhook for webhook faults".into());
        }
        if !self.kind.is_webhook() && self.webhook.is_some() {
            return Err("webhook scopes webhook faults; use path for Graph faults".into());
        }
        if self.times == Some(0) || self.count == Some(0) {
            return Err("times and count must be at least 1".into());
        }
        Ok(())
    }
}

/// A fault in force.
#[derive(Clone, Debug)]
struct Fault {
    id: String,
    spec: FaultSpec,
    until_ms: Option<i64>,
    remaining: Option<u32>,
}

impl Fault {
    fn live(&self, now: i64) -> bool {
        self.until_ms.is_none_or(|u| now < u) && self.remaining != Some(0)
    }

    fn consume(&mut self) {
        if let Some(r) = self.remaining.as_mut() {
            *r = r.saturating_sub(1);
        }
    }
}

/// What a Graph call must suffer, once a terminal fault is chosen.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Terminal {
    ServerError { status: u16, deliver: bool },
    Timeout { ms: u64, deliver: bool },
    RateLimit { code: u32 },
    TokenExpired,
}

/// Every fault applying to one Graph call.
#[derive(Clone, Debug, Default)]
pub struct CallFaults {
    pub slow_ms: u64,
    pub terminal: Option<Terminal>,
    pub names: Vec<&'static str>,
}

/// Every fault applying to one webhook.
#[derive(Clone, Debug)]
pub struct WebhookFaults {
    pub drop: bool,
    pub copies: u32,
    pub names: Vec<&'static str>,
}

/// Default hold time of the `timeout` fault.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// The faults in force, in the order they were switched on.
#[derive(Default, Debug)]
pub struct Faults {
    next: u64,
    list: Vec<Fault>,
}

impl Faults {
    /// Switches a fault on; returns its id.
    ///
    /// # Errors
    /// The spec is contradictory.
    pub fn add(&mut self, spec: FaultSpec, now: i64) -> Result<String, String> {
        spec.check()?;
        self.next += 1;
        let id = format!("f{}", self.next);
        let until_ms = spec
            .for_ms
            .map(|ms| now.saturating_add(i64::try_from(ms).unwrap_or(i64::MAX)));
        self.list.push(Fault {
            id: id.clone(),
            remaining: spec.count,
            spec,
            until_ms,
        });
        Ok(id)
    }

    pub fn clear(&mut self) {
        self.list.clear();
    }

    /// Removes one fault; whether it existed.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|f| f.id != id);
        before != self.list.len()
    }

    /// The faults still in force, as JSON.
    pub fn list(&mut self, now: i64) -> Vec<Value> {
        self.list.retain(|f| f.live(now));
        self.list
            .iter()
            .map(|f| {
                json!({
                    "id": f.id, "spec": f.spec, "remaining": f.remaining, "until_ms": f.until_ms,
                })
            })
            .collect()
    }

    /// The faults a Graph call of `path` for `account_ids` suffers; consumes their counts.
    pub fn for_call(&mut self, path: PathKind, account_ids: &[&str], now: i64) -> CallFaults {
        let mut out = CallFaults::default();
        for f in &mut self.list {
            if f.spec.kind.is_webhook() || !f.live(now) {
                continue;
            }
            if f.spec.path.is_some_and(|p| p != path) {
                continue;
            }
            if let Some(a) = &f.spec.account
                && !account_ids.contains(&a.as_str())
            {
                continue;
            }
            let terminal = match f.spec.kind {
                FaultKind::Slow => {
                    out.slow_ms = out.slow_ms.saturating_add(f.spec.ms.unwrap_or(1000));
                    None
                }
                FaultKind::ServerError => Some(Terminal::ServerError {
                    status: f.spec.status.unwrap_or(500),
                    deliver: f.spec.deliver,
                }),
                FaultKind::Timeout => Some(Terminal::Timeout {
                    ms: f.spec.ms.unwrap_or(DEFAULT_TIMEOUT_MS),
                    deliver: f.spec.deliver,
                }),
                FaultKind::RateLimit => Some(Terminal::RateLimit {
                    code: f.spec.code.unwrap_or(4),
                }),
                FaultKind::TokenExpired => Some(Terminal::TokenExpired),
                FaultKind::DropWebhooks | FaultKind::DuplicateWebhooks => continue,
            };
            if terminal.is_some() {
                if out.terminal.is_some() {
                    // The first terminal fault wins; later ones keep their counts.
                    continue;
                }
                out.terminal = terminal;
            }
            f.consume();
            out.names.push(f.spec.kind.name());
        }
        out
    }

    /// The faults a webhook of `kind` for `account_ids` suffers; consumes their counts.
    pub fn for_webhook(
        &mut self,
        kind: WebhookKind,
        account_ids: &[&str],
        now: i64,
    ) -> WebhookFaults {
        let mut out = WebhookFaults {
            drop: false,
            copies: 1,
            names: Vec::new(),
        };
        for f in &mut self.list {
            if !f.spec.kind.is_webhook() || !f.live(now) {
                continue;
            }
            if f.spec.webhook.is_some_and(|w| w != kind) {
                continue;
            }
            if let Some(a) = &f.spec.account
                && !account_ids.contains(&a.as_str())
            {
                continue;
            }
            match f.spec.kind {
                FaultKind::DropWebhooks => out.drop = true,
                _ => out.copies = out.copies.max(f.spec.times.unwrap_or(2)),
            }
            f.consume();
            out.names.push(f.spec.kind.name());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: Value) -> FaultSpec {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn counted_faults_apply_to_that_many_matching_calls() {
        let mut f = Faults::default();
        f.add(
            spec(json!({"kind": "server_error", "status": 503, "path": "messages", "count": 2})),
            0,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let hit = f.for_call(PathKind::Messages, &["1"], 0);
        assert_eq!(
            hit.terminal,
            Some(Terminal::ServerError {
                status: 503,
                deliver: false
            })
        );
        assert!(f.for_call(PathKind::Replies, &["1"], 0).terminal.is_none());
        assert!(f.for_call(PathKind::Messages, &["1"], 0).terminal.is_some());
        assert!(f.for_call(PathKind::Messages, &["1"], 0).terminal.is_none());
        assert!(f.list(0).is_empty());
    }

    #[test]
    fn scoped_and_timed_faults() {
        let mut f = Faults::default();
        f.add(
            spec(json!({"kind": "slow", "ms": 300, "account": "A", "for_ms": 1000})),
            0,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        f.add(spec(json!({"kind": "rate_limit", "code": 613})), 0)
            .unwrap_or_else(|e| panic!("{e}"));
        let a = f.for_call(PathKind::Messages, &["A", "PAGE"], 10);
        assert_eq!(a.slow_ms, 300);
        assert_eq!(a.terminal, Some(Terminal::RateLimit { code: 613 }));
        assert_eq!(a.names, vec!["slow", "rate_limit"]);
        assert_eq!(f.for_call(PathKind::Messages, &["B"], 10).slow_ms, 0);
        assert_eq!(
            f.for_call(PathKind::Messages, &["A"], 1000).slow_ms,
            0,
            "expired"
        );
        assert!(f.remove("f2"));
        assert!(
            f.for_call(PathKind::Messages, &["A"], 1000)
                .terminal
                .is_none()
        );
    }

    #[test]
    fn webhook_faults() {
        let mut f = Faults::default();
        f.add(
            spec(json!({"kind": "duplicate_webhooks", "webhook": "inbound", "count": 1})),
            0,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        f.add(spec(json!({"kind": "drop_webhooks", "webhook": "echo"})), 0)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.for_webhook(WebhookKind::Inbound, &["A"], 0).copies, 2);
        assert_eq!(f.for_webhook(WebhookKind::Inbound, &["A"], 0).copies, 1);
        assert!(f.for_webhook(WebhookKind::Echo, &["A"], 0).drop);
        assert!(!f.for_webhook(WebhookKind::Status, &["A"], 0).drop);
        assert!(f.for_call(PathKind::Messages, &["A"], 0).names.is_empty());
    }

    #[test]
    fn contradictions_are_refused() {
        let mut f = Faults::default();
        for bad in [
            json!({"kind": "server_error", "status": 404}),
            json!({"kind": "rate_limit", "code": 190}),
            json!({"kind": "drop_webhooks", "path": "messages"}),
            json!({"kind": "slow", "webhook": "echo"}),
            json!({"kind": "slow", "count": 0}),
        ] {
            assert!(f.add(spec(bad.clone()), 0).is_err(), "{bad}");
        }
        assert!(serde_json::from_value::<FaultSpec>(json!({"kind": "meteor"})).is_err());
    }
}
