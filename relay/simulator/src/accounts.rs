//! The business accounts the simulator plays: Instagram professional accounts (Instagram
//! Login or Facebook Login) and WhatsApp numbers with their WABA's message templates.
//!
//! The same serde types are read from `POST /_sim/accounts`, from `--accounts FILE` and from
//! a scenario's `[[accounts]]` tables, tagged by `kind`. Tokens live here only; they are
//! never logged and never returned by the control API.

use serde::{Deserialize, Serialize};

/// How an Instagram account was connected, which decides the Graph host the relay calls,
/// the token kind, the outside-window subcode and which app secret signs its webhooks.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Login {
    #[default]
    Instagram,
    Facebook,
}

/// Which app secret signs an Instagram account's webhooks (meta-platform.md §2: which
/// one Meta uses for Instagram-Login apps is unconfirmed, so it is a per-account choice).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignWith {
    /// `META_APP_SECRET`.
    Meta,
    /// `INSTAGRAM_APP_SECRET`.
    Instagram,
}

/// Which id Instagram webhooks carry in `entry.id` / `recipient.id` (meta-platform.md §4:
/// Facebook-Login payloads have been seen with the Page id).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryId {
    #[default]
    IgId,
    PageId,
}

/// How WhatsApp reports a free-form message outside the 24 h window (meta-platform.md §9:
/// synchronous error or `failed` status webhook is unconfirmed, so both are playable).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reengagement {
    /// The send answers 400 with code 131047.
    #[default]
    Sync,
    /// The send answers 200; a `failed` status with 131047 follows.
    Status,
}

/// Per-account rate limits (meta-platform.md §11); defaults are Meta's.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Instagram sends of text, links, reactions, stickers, images, templates, sender actions.
    pub text_per_second: u32,
    /// Instagram sends of audio or video.
    pub media_per_second: u32,
    /// Private replies to comments on posts and reels.
    pub private_replies_per_hour: u32,
    /// Conversations API calls.
    pub conversations_per_second: u32,
    /// WhatsApp messages per number (Cloud API default throughput).
    pub whatsapp_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            text_per_second: 100,
            media_per_second: 10,
            private_replies_per_hour: 750,
            conversations_per_second: 2,
            whatsapp_per_second: 80,
        }
    }
}

fn yes() -> bool {
    true
}

/// An Instagram professional account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstagramAccount {
    pub ig_id: String,
    #[serde(default)]
    pub page_id: Option<String>,
    pub username: String,
    /// Instagram User token (Instagram Login) or Page token (Facebook Login).
    pub token: String,
    #[serde(default)]
    pub login: Login,
    #[serde(default)]
    pub token_expires_at_ms: Option<i64>,
    /// Defaults: Instagram Login → the Instagram app secret when configured; else Meta's.
    #[serde(default)]
    pub sign_with: Option<SignWith>,
    /// Whether the human-agent feature is approved for this account.
    #[serde(default = "yes")]
    pub human_agent: bool,
    #[serde(default)]
    pub webhook_entry_id: EntryId,
    #[serde(default)]
    pub limits: Limits,
}

impl InstagramAccount {
    /// The id its webhooks carry in `entry.id` and as the business's sender/recipient id.
    #[must_use]
    pub fn entry_id(&self) -> &str {
        match (self.webhook_entry_id, &self.page_id) {
            (EntryId::PageId, Some(page)) => page,
            _ => &self.ig_id,
        }
    }
}

/// One message template of a WABA.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    pub language: String,
    #[serde(default = "approved")]
    pub status: String,
    #[serde(default = "utility")]
    pub category: String,
    /// The body text with `{{1}}`-style placeholders; shorthand for a BODY component.
    #[serde(default)]
    pub body: Option<String>,
    /// Meta's `components` array, used as given when present.
    #[serde(default)]
    pub components: Option<serde_json::Value>,
    #[serde(default)]
    pub id: Option<String>,
}

fn approved() -> String {
    "APPROVED".into()
}

fn utility() -> String {
    "UTILITY".into()
}

impl Template {
    /// Meta's `components` array: the given one, or a BODY built from `body`.
    #[must_use]
    pub fn components(&self) -> serde_json::Value {
        if let Some(c) = &self.components {
            return c.clone();
        }
        match &self.body {
            Some(text) => serde_json::json!([{"type": "BODY", "text": text}]),
            None => serde_json::json!([]),
        }
    }

    /// The body text, from `body` or the BODY component.
    #[must_use]
    pub fn body_text(&self) -> Option<String> {
        if let Some(b) = &self.body {
            return Some(b.clone());
        }
        self.components.as_ref()?.as_array()?.iter().find(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("body"))
        })?["text"]
            .as_str()
            .map(str::to_owned)
    }

    /// How many distinct `{{n}}` placeholders the body has.
    #[must_use]
    pub fn body_params(&self) -> usize {
        self.body_text()
            .map_or(0, |text| protocol::template::placeholders(&text).len())
    }

    #[must_use]
    pub fn approved(&self) -> bool {
        self.status.eq_ignore_ascii_case("APPROVED")
    }
}

/// A WhatsApp Cloud API number.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppNumber {
    pub phone_number_id: String,
    pub waba_id: String,
    pub display_phone_number: String,
    pub token: String,
    #[serde(default)]
    pub token_expires_at_ms: Option<i64>,
    #[serde(default)]
    pub templates: Vec<Template>,
    #[serde(default)]
    pub reengagement: Reengagement,
    #[serde(default)]
    pub limits: Limits,
}

/// What `POST /_sim/accounts` and scenario `[[accounts]]` take.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AccountSpec {
    Instagram(InstagramAccount),
    #[serde(rename = "whatsapp")]
    WhatsApp(WhatsAppNumber),
}

impl AccountSpec {
    /// The id webhooks route on and tests name the account by.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            AccountSpec::Instagram(a) => &a.ig_id,
            AccountSpec::WhatsApp(n) => &n.phone_number_id,
        }
    }

    /// Refuses specs that could never work, with one sentence naming the field.
    ///
    /// # Errors
    /// An empty id or token, or a template without name or language.
    pub fn check(&self) -> Result<(), String> {
        let nonempty = |v: &str, what: &str| {
            if v.trim().is_empty() {
                Err(format!("{what} must not be empty"))
            } else {
                Ok(())
            }
        };
        match self {
            AccountSpec::Instagram(a) => {
                nonempty(&a.ig_id, "ig_id")?;
                nonempty(&a.username, "username")?;
                nonempty(&a.token, "token")?;
                if a.login == Login::Facebook && a.page_id.is_none() {
                    return Err("a Facebook-Login account needs page_id".into());
                }
                if a.webhook_entry_id == EntryId::PageId && a.page_id.is_none() {
                    return Err("webhook_entry_id = page_id needs page_id".into());
                }
            }
            AccountSpec::WhatsApp(n) => {
                nonempty(&n.phone_number_id, "phone_number_id")?;
                nonempty(&n.waba_id, "waba_id")?;
                nonempty(&n.token, "token")?;
                for t in &n.templates {
                    nonempty(&t.name, "template name")?;
                    nonempty(&t.language, "template language")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_read_from_json_with_defaults() {
        let spec: AccountSpec = serde_json::from_value(serde_json::json!({
            "kind": "instagram", "ig_id": "1", "username": "shop", "token": "t"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let AccountSpec::Instagram(a) = &spec else {
            panic!("kind")
        };
        assert_eq!(a.login, Login::Instagram);
        assert!(a.human_agent);
        assert_eq!(a.limits.text_per_second, 100);
        assert!(spec.check().is_ok());
        let fb: AccountSpec = serde_json::from_value(serde_json::json!({
            "kind": "instagram", "ig_id": "1", "username": "shop", "token": "t", "login": "facebook"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(fb.check().is_err(), "facebook login without page_id");
    }

    #[test]
    fn template_parameters_are_counted_once_each() {
        let t = Template {
            name: "order_update".into(),
            language: "en_US".into(),
            status: approved(),
            category: utility(),
            body: Some("Hi {{1}}, order {{2}} ships {{ 2 }} soon".into()),
            components: None,
            id: None,
        };
        assert_eq!(t.body_params(), 2);
        assert_eq!(t.components()[0]["type"], "BODY");
    }
}
