//! Everything the simulator knows, behind one lock: accounts, customers and the times of
//! their last messages (from the webhooks the simulator posted), conversations, comments,
//! messages by id, messenger profiles, faults, rate-limit windows and the records.
//!
//! Handlers hold the lock only for bookkeeping, never across an `.await`.

use super::accounts::{AccountSpec, InstagramAccount, WhatsAppNumber};
use super::faults::Faults;
use super::ratelimit::RateLimiter;
use super::record::{Records, TokenMatch};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A customer of one account: an IGSID or a WhatsApp id.
#[derive(Clone, Debug, Serialize)]
pub struct Customer {
    pub account: String,
    pub id: String,
    pub username: Option<String>,
    pub name: Option<String>,
    /// The customer's last message (opens the messaging windows).
    pub last_message_ms: Option<i64>,
    /// Whether the customer reads what the business sends (read receipts / read statuses).
    pub auto_read: bool,
    /// Blocked the business or deleted the account: sends fail with 551 / 131026.
    pub unavailable: bool,
}

/// One message of a conversation, for the Conversations API.
#[derive(Clone, Debug)]
pub struct ConvMessage {
    pub mid: String,
    pub at_ms: i64,
    pub from_business: bool,
    pub text: Option<String>,
}

/// A comment on the business's media.
#[derive(Clone, Debug, Serialize)]
pub struct Comment {
    pub id: String,
    pub account: String,
    pub customer: String,
    pub media_id: String,
    pub text: String,
    pub created_ms: i64,
    /// The message id of the one private reply, once sent.
    pub private_reply: Option<String>,
    pub hidden: bool,
    /// Ids of the business's public replies.
    pub replies: Vec<String>,
    /// Each public reply's (id, text, time in ms), for `GET /{COMMENT_ID}/replies`.
    pub reply_log: Vec<(String, String, i64)>,
}

/// Where a message id belongs.
#[derive(Clone, Debug)]
pub struct MessageRef {
    pub account: String,
    pub customer: String,
    pub from_business: bool,
}

/// A WhatsApp message the business sent, for its statuses.
#[derive(Clone, Debug)]
pub struct WaSent {
    pub account: String,
    pub customer: String,
    pub biz_opaque_callback_data: Option<String>,
    /// The order sends happened in (record sequence).
    pub seq: u64,
    pub read: bool,
    /// Whether it failed (no statuses but `failed` follow).
    pub failed: bool,
}

/// An account the path or token named.
#[derive(Clone, Copy, Debug)]
pub enum AccountRef<'a> {
    Instagram(&'a InstagramAccount),
    WhatsApp(&'a WhatsAppNumber),
}

impl AccountRef<'_> {
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            AccountRef::Instagram(a) => &a.ig_id,
            AccountRef::WhatsApp(n) => &n.phone_number_id,
        }
    }
}

/// The simulator's world.
#[derive(Default, Debug)]
pub struct State {
    pub instagram: BTreeMap<String, InstagramAccount>,
    pub whatsapp: BTreeMap<String, WhatsAppNumber>,
    pub customers: BTreeMap<(String, String), Customer>,
    pub conversations: BTreeMap<(String, String), Vec<ConvMessage>>,
    /// Conversation id → (account, customer).
    pub conversation_ids: HashMap<String, (String, String)>,
    pub comments: HashMap<String, Comment>,
    pub messages: HashMap<String, MessageRef>,
    /// WhatsApp messages the business sent, by wamid.
    pub wa_sent: HashMap<String, WaSent>,
    /// IG id → messenger profile fields (`ice_breakers`, `persistent_menu`…).
    pub profiles: HashMap<String, serde_json::Map<String, Value>>,
    /// Account → webhook fields subscribed through `subscribed_apps`.
    pub subscriptions: HashMap<String, Vec<String>>,
    /// Media the simulator serves, by media id (`super::graph::media`).
    pub media: HashMap<String, super::graph::media::SimMedia>,
    pub records: Records,
    pub faults: Faults,
    pub rate: RateLimiter,
    /// Login flows: codes, minted tokens, the consenting user (`super::oauth`).
    pub oauth: super::oauth::OAuthState,
}

impl State {
    /// Adds or replaces an account.
    ///
    /// # Errors
    /// The spec is unusable (one sentence).
    pub fn register(&mut self, spec: AccountSpec) -> Result<(), String> {
        spec.check()?;
        match spec {
            AccountSpec::Instagram(a) => {
                if self.whatsapp.contains_key(&a.ig_id) {
                    return Err(format!("{} is already a WhatsApp number", a.ig_id));
                }
                self.instagram.insert(a.ig_id.clone(), a);
            }
            AccountSpec::WhatsApp(n) => {
                if self.instagram.contains_key(&n.phone_number_id) {
                    return Err(format!(
                        "{} is already an Instagram account",
                        n.phone_number_id
                    ));
                }
                self.whatsapp.insert(n.phone_number_id.clone(), n);
            }
        }
        Ok(())
    }

    /// An Instagram account by IG id or Page id.
    #[must_use]
    pub fn instagram_by_any(&self, id: &str) -> Option<&InstagramAccount> {
        self.instagram.get(id).or_else(|| {
            self.instagram
                .values()
                .find(|a| a.page_id.as_deref() == Some(id))
        })
    }

    /// Any account by IG id, Page id or phone number id.
    #[must_use]
    pub fn account(&self, id: &str) -> Option<AccountRef<'_>> {
        if let Some(a) = self.instagram_by_any(id) {
            return Some(AccountRef::Instagram(a));
        }
        self.whatsapp.get(id).map(AccountRef::WhatsApp)
    }

    /// The ids fault scopes may name for an account.
    #[must_use]
    pub fn scope_ids(&self, account: &str) -> Vec<String> {
        match self.account(account) {
            Some(AccountRef::Instagram(a)) => {
                let mut v = vec![a.ig_id.clone()];
                v.extend(a.page_id.clone());
                v
            }
            Some(AccountRef::WhatsApp(n)) => vec![n.phone_number_id.clone(), n.waba_id.clone()],
            None => vec![account.to_owned()],
        }
    }

    /// Which account a token belongs to. Instagram accounts are preferred for `/me`.
    #[must_use]
    pub fn token_owner(&self, token: &str) -> Option<AccountRef<'_>> {
        if let Some(a) = self.instagram.values().find(|a| a.token == token) {
            return Some(AccountRef::Instagram(a));
        }
        if let Some(account) = self.issued_account(token) {
            return self.account(account);
        }
        self.whatsapp
            .values()
            .find(|n| n.token == token)
            .map(AccountRef::WhatsApp)
    }

    /// How a presented token is shown in records: the addressed account when the token is
    /// its own (one token may serve several accounts), else the first account owning it.
    #[must_use]
    pub fn token_match(&self, token: Option<&str>, addressed: Option<&str>) -> TokenMatch {
        let Some(t) = token else {
            return TokenMatch::None;
        };
        let own = addressed.and_then(|a| self.account(a)).filter(|a| match a {
            AccountRef::Instagram(i) => i.token == t,
            AccountRef::WhatsApp(n) => n.token == t,
        });
        own.or_else(|| self.token_owner(t))
            .map_or(TokenMatch::Invalid, |a| {
                TokenMatch::Account(a.id().to_owned())
            })
    }

    /// The customer, created with defaults on first sight.
    pub fn customer_mut(&mut self, account: &str, id: &str) -> &mut Customer {
        self.customers
            .entry((account.to_owned(), id.to_owned()))
            .or_insert_with(|| Customer {
                account: account.to_owned(),
                id: id.to_owned(),
                username: None,
                name: None,
                last_message_ms: None,
                auto_read: true,
                unavailable: false,
            })
    }

    #[must_use]
    pub fn customer(&self, account: &str, id: &str) -> Option<&Customer> {
        self.customers.get(&(account.to_owned(), id.to_owned()))
    }

    /// Appends a message to the conversation of `account` and `customer` (Conversations API)
    /// and indexes its id.
    pub fn remember_message(
        &mut self,
        account: &str,
        customer: &str,
        mid: &str,
        at_ms: i64,
        from_business: bool,
        text: Option<String>,
    ) {
        let key = (account.to_owned(), customer.to_owned());
        self.conversation_ids
            .entry(super::ids::instagram_conversation(account, customer))
            .or_insert_with(|| key.clone());
        self.conversations
            .entry(key)
            .or_default()
            .push(ConvMessage {
                mid: mid.to_owned(),
                at_ms,
                from_business,
                text,
            });
        self.messages.insert(
            mid.to_owned(),
            MessageRef {
                account: account.to_owned(),
                customer: customer.to_owned(),
                from_business,
            },
        );
    }

    /// Everything but the accounts: customers, conversations, records (calls in flight stay
    /// counted), faults, limits.
    pub fn reset(&mut self) {
        let instagram = std::mem::take(&mut self.instagram);
        let whatsapp = std::mem::take(&mut self.whatsapp);
        let mut records = std::mem::take(&mut self.records);
        records.forget();
        *self = State {
            instagram,
            whatsapp,
            records,
            ..State::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> AccountSpec {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn accounts_are_found_by_every_id_and_token() {
        let mut s = State::default();
        s.register(spec(
            json!({"kind": "instagram", "ig_id": "178", "page_id": "100",
            "username": "shop", "token": "T1", "login": "facebook"}),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        s.register(spec(
            json!({"kind": "whatsapp", "phone_number_id": "106", "waba_id": "200",
            "display_phone_number": "15550001111", "token": "T2"}),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.account("100").map(|a| a.id().to_owned()),
            Some("178".into())
        );
        assert_eq!(
            s.account("106").map(|a| a.id().to_owned()),
            Some("106".into())
        );
        assert!(
            s.account("200").is_none(),
            "a WABA is not a sending account"
        );
        assert_eq!(s.scope_ids("178"), vec!["178", "100"]);
        assert_eq!(
            s.token_match(Some("T2"), None),
            TokenMatch::Account("106".into())
        );
        assert_eq!(
            s.token_match(Some("T2"), Some("178")),
            TokenMatch::Account("106".into())
        );
        assert_eq!(s.token_match(Some("nope"), None), TokenMatch::Invalid);
        assert_eq!(s.token_match(None, None), TokenMatch::None);
        assert!(
            s.register(spec(
                json!({"kind": "whatsapp", "phone_number_id": "178", "waba_id": "1",
                "display_phone_number": "1", "token": "x"})
            ))
            .is_err()
        );
    }
}
