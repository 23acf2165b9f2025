//! Customers acting: what `POST /_sim/inbound` and scenario steps make a customer do, turned
//! into the webhook Meta would post and into the simulator's own memory (the customer's
//! last message opens the windows the Graph endpoints then enforce; comments become
//! answerable; messages become reactable and listable in the Conversations API).
//!
//! Which channel an action is on follows from the account: an Instagram id (or its Page id)
//! or a WhatsApp phone number id. The same `type` names work on both where Meta has both.

use super::Sim;
use super::faults::WebhookKind;
use super::ids;
use super::state::State;
use super::time::{now_ms, parse_duration};
use super::webhooks::{self, Outgoing, Retry};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a customer does.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A text message (`reply_to` makes it an inline reply / WhatsApp context reply).
    Text,
    /// A message with attachments (`attachments: [{type, url}]`).
    Attachment,
    /// Instagram: a reply to one of the business's stories (`story: {id, url}`).
    StoryReply,
    /// Instagram: the customer mentioned the business in a story.
    StoryMention,
    /// A tapped quick reply (Instagram) or template quick-reply button (WhatsApp).
    QuickReply,
    /// Instagram: an ice-breaker / persistent-menu / button tap.
    Postback,
    /// WhatsApp: an interactive reply-button tap.
    ButtonReply,
    /// A reaction to a message (`mid`, default: the business's last message).
    Reaction,
    /// A reaction removed.
    Unreact,
    /// The customer read the business's messages (Instagram `read`, WhatsApp `read` statuses).
    Read,
    /// Instagram: the customer unsent one of their messages.
    Unsend,
    /// Instagram: a comment on the business's media (`media_id`, `parent_id`).
    Comment,
    /// Instagram: the business was @mentioned in a caption (`media_id`) or, with `id`, in
    /// that comment on the media: a `mentions` change, which names no customer.
    Mention,
}

/// One customer action.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSpec {
    /// IG id, Page id or phone number id.
    pub account: String,
    /// IGSID or WhatsApp id.
    pub customer: String,
    #[serde(rename = "type")]
    pub action: Action,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub attachments: Vec<AttachmentSpec>,
    #[serde(default)]
    pub story: Option<StorySpec>,
    /// The message a reaction, read, unsend or reply refers to.
    #[serde(default)]
    pub mid: Option<String>,
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Instagram reaction name (`love`, `like`…); default `love`.
    #[serde(default)]
    pub reaction: Option<String>,
    #[serde(default)]
    pub emoji: Option<String>,
    #[serde(default)]
    pub media_id: Option<String>,
    #[serde(default)]
    pub media_product_type: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// The id of the new message or comment (else a fresh Meta-like one).
    #[serde(default)]
    pub id: Option<String>,
    /// When it happened (ms); default now.
    #[serde(default)]
    pub at_ms: Option<i64>,
    /// Or how long ago, e.g. `23h59m`.
    #[serde(default)]
    pub ago: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSpec {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorySpec {
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
}

/// Why an action cannot be played.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InboundError {
    #[error("no account {0} is registered")]
    UnknownAccount(String),
    #[error("{0}")]
    Invalid(String),
}

/// An action turned into a webhook and the ids it used.
#[derive(Debug)]
pub struct Prepared {
    pub outgoing: Vec<Outgoing>,
    pub ids: Value,
}

impl InboundSpec {
    fn at(&self) -> Result<i64, InboundError> {
        match (&self.at_ms, &self.ago) {
            (Some(_), Some(_)) => Err(InboundError::Invalid("give at_ms or ago, not both".into())),
            (Some(at), None) => Ok(*at),
            (None, Some(ago)) => parse_duration(ago)
                .map(|d| now_ms() - d)
                .map_err(|e| InboundError::Invalid(e.to_string())),
            (None, None) => Ok(now_ms()),
        }
    }

    fn text(&self) -> Result<String, InboundError> {
        self.text
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| InboundError::Invalid(format!("{:?} needs text", self.action)))
    }
}

/// Applies one action to the state and builds its webhook(s).
///
/// # Errors
/// Unknown account, or fields the action needs are missing.
pub fn prepare(
    st: &mut State,
    spec: &InboundSpec,
    has_ig_secret: bool,
) -> Result<Prepared, InboundError> {
    if spec.customer.trim().is_empty() {
        return Err(InboundError::Invalid("customer must not be empty".into()));
    }
    let at = spec.at()?;
    if let Some(a) = st.instagram_by_any(&spec.account).cloned() {
        let signer = webhooks::instagram_signer(&a, has_ig_secret);
        let entry_id = a.entry_id().to_owned();
        let (body, ids) = instagram(st, &a.ig_id, &entry_id, spec, at)?;
        let out = Outgoing {
            endpoint: "instagram",
            kind: WebhookKind::Inbound,
            account: a.ig_id.clone(),
            signer,
            body,
        };
        return Ok(Prepared {
            outgoing: vec![out],
            ids,
        });
    }
    if st.whatsapp.contains_key(&spec.account) {
        return whatsapp(st, spec, at);
    }
    Err(InboundError::UnknownAccount(spec.account.clone()))
}

fn remember_customer(st: &mut State, account: &str, spec: &InboundSpec) {
    let c = st.customer_mut(account, &spec.customer);
    if spec.username.is_some() {
        c.username.clone_from(&spec.username);
    }
    if spec.name.is_some() {
        c.name.clone_from(&spec.name);
    }
}

/// Opens (or keeps open) the customer's windows: only their messages do, not reactions
/// or reads (meta-platform.md §9: 24 h "from the user's last message"; ice-breaker and
/// menu taps also open it).
fn customer_spoke(st: &mut State, account: &str, customer: &str, at: i64) {
    let c = st.customer_mut(account, customer);
    c.last_message_ms = Some(c.last_message_ms.map_or(at, |l| l.max(at)));
}

/// The business's last message to this customer, for reactions and reads without `mid`.
fn last_business_message(st: &State, account: &str, customer: &str) -> Option<String> {
    st.conversations
        .get(&(account.to_owned(), customer.to_owned()))?
        .iter()
        .rev()
        .find(|m| m.from_business)
        .map(|m| m.mid.clone())
}

fn target(st: &State, account: &str, spec: &InboundSpec) -> Result<String, InboundError> {
    spec.mid
        .clone()
        .or_else(|| last_business_message(st, account, &spec.customer))
        .ok_or_else(|| {
            InboundError::Invalid(format!(
                "{:?} needs mid (the business has sent this customer nothing yet)",
                spec.action
            ))
        })
}

fn instagram(
    st: &mut State,
    account: &str,
    entry_id: &str,
    spec: &InboundSpec,
    at: i64,
) -> Result<(Value, Value), InboundError> {
    remember_customer(st, account, spec);
    let customer = spec.customer.as_str();
    let mid = spec
        .id
        .clone()
        .unwrap_or_else(|| ids::instagram_mid(account));
    let item =
        |key: &str, value: Value| webhooks::instagram_item(customer, entry_id, at, key, value);
    let mut ids = json!({"account": account, "customer": customer, "at_ms": at});
    let message = |st: &mut State, msg: Value, text: Option<String>| {
        customer_spoke(st, account, customer, at);
        st.remember_message(account, customer, &mid, at, false, text);
        item("message", msg)
    };
    let body_item = match spec.action {
        Action::Text => {
            let text = spec.text()?;
            let mut msg = json!({"mid": mid, "text": text});
            if let Some(r) = &spec.reply_to {
                msg["reply_to"] = json!({"mid": r});
            }
            message(st, msg, Some(text))
        }
        Action::Attachment => {
            if spec.attachments.is_empty() {
                return Err(InboundError::Invalid("attachment needs attachments".into()));
            }
            let list: Vec<Value> = spec
                .attachments
                .iter()
                .map(|a| match &a.url {
                    Some(url) => json!({"type": a.kind, "payload": {"url": url}}),
                    None => json!({"type": a.kind}),
                })
                .collect();
            message(st, json!({"mid": mid, "attachments": list}), None)
        }
        Action::StoryReply => {
            let text = spec.text()?;
            let story = spec
                .story
                .as_ref()
                .ok_or_else(|| InboundError::Invalid("story_reply needs story {id, url}".into()))?;
            let url = story.url.clone().unwrap_or_else(|| {
                format!(
                    "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id={}",
                    story.id
                )
            });
            let msg = json!({"mid": mid, "text": text,
                "reply_to": {"story": {"url": url, "id": story.id}}});
            message(st, msg, Some(text))
        }
        Action::StoryMention => {
            let url = spec
                .attachments
                .first()
                .and_then(|a| a.url.clone())
                .unwrap_or_else(|| {
                    "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=story".into()
                });
            let msg = json!({"mid": mid, "attachments": [{"type": "story_mention", "payload": {"url": url}}]});
            message(st, msg, None)
        }
        Action::QuickReply => {
            let text = spec.text()?;
            let payload = spec.payload.clone().unwrap_or_else(|| text.clone());
            let msg = json!({"mid": mid, "text": text, "quick_reply": {"payload": payload}});
            message(st, msg, Some(text))
        }
        Action::Postback => {
            let title = spec
                .title
                .clone()
                .or_else(|| spec.text.clone())
                .ok_or_else(|| InboundError::Invalid("postback needs title".into()))?;
            let payload = spec.payload.clone().unwrap_or_else(|| title.clone());
            customer_spoke(st, account, customer, at);
            st.remember_message(account, customer, &mid, at, false, Some(title.clone()));
            item(
                "postback",
                json!({"mid": mid, "title": title, "payload": payload}),
            )
        }
        Action::Reaction | Action::Unreact => {
            let on = target(st, account, spec)?;
            ids["target"] = json!(on);
            if spec.action == Action::Reaction {
                let reaction = spec.reaction.clone().unwrap_or_else(|| "love".into());
                let emoji = spec
                    .emoji
                    .clone()
                    .unwrap_or_else(|| "\u{2764}\u{fe0f}".into());
                item(
                    "reaction",
                    json!({"mid": on, "action": "react", "reaction": reaction, "emoji": emoji}),
                )
            } else {
                item("reaction", json!({"mid": on, "action": "unreact"}))
            }
        }
        Action::Read => {
            let on = target(st, account, spec)?;
            ids["target"] = json!(on);
            item("read", json!({"mid": on}))
        }
        Action::Unsend => {
            let on = spec
                .mid
                .clone()
                .ok_or_else(|| InboundError::Invalid("unsend needs mid".into()))?;
            ids["target"] = json!(on);
            item("message", json!({"mid": on, "is_deleted": true}))
        }
        Action::Comment => {
            let text = spec.text()?;
            let id = spec.id.clone().unwrap_or_else(|| ids::numeric("178"));
            let media_id = spec
                .media_id
                .clone()
                .unwrap_or_else(|| "18040000000000001".into());
            let username = st
                .customer(account, customer)
                .and_then(|c| c.username.clone())
                .unwrap_or_else(|| format!("user_{customer}"));
            let mut value = json!({
                "id": id,
                "from": {"id": customer, "username": username},
                "text": text,
                "media": {"id": media_id,
                          "media_product_type": spec.media_product_type.clone().unwrap_or_else(|| "FEED".into())},
            });
            if let Some(p) = &spec.parent_id {
                value["parent_id"] = json!(p);
            }
            st.comments.insert(
                id.clone(),
                super::state::Comment {
                    id: id.clone(),
                    account: account.to_owned(),
                    customer: customer.to_owned(),
                    media_id,
                    text,
                    created_ms: at,
                    private_reply: None,
                    hidden: false,
                    replies: Vec::new(),
                    reply_log: Vec::new(),
                },
            );
            ids["comment_id"] = json!(id);
            return Ok((webhooks::instagram_comment(entry_id, at, value), ids));
        }
        Action::Mention => {
            let media_id = spec.media_id.clone().unwrap_or_else(|| ids::numeric("179"));
            let mut value = json!({"media_id": media_id});
            if let Some(comment) = &spec.id {
                value["comment_id"] = json!(comment);
                ids["comment_id"] = json!(comment);
            }
            ids["media_id"] = json!(media_id);
            return Ok((
                webhooks::instagram_change(entry_id, at, "mentions", value),
                ids,
            ));
        }
        Action::ButtonReply => {
            return Err(InboundError::Invalid(
                "button_reply is a WhatsApp action; use postback on Instagram".into(),
            ));
        }
    };
    if matches!(
        spec.action,
        Action::Text
            | Action::Attachment
            | Action::StoryReply
            | Action::StoryMention
            | Action::QuickReply
            | Action::Postback
    ) {
        ids["mid"] = json!(mid);
        ids["conversation_id"] = json!(ids::instagram_conversation(account, customer));
    }
    Ok((webhooks::instagram_messaging(entry_id, at, body_item), ids))
}

fn wa_mime(kind: &str) -> &'static str {
    match kind {
        "image" => "image/jpeg",
        "video" => "video/mp4",
        "audio" => "audio/ogg; codecs=opus",
        "sticker" => "image/webp",
        _ => "application/pdf",
    }
}

fn whatsapp(st: &mut State, spec: &InboundSpec, at: i64) -> Result<Prepared, InboundError> {
    let Some(number) = st.whatsapp.get(&spec.account).cloned() else {
        return Err(InboundError::UnknownAccount(spec.account.clone()));
    };
    let account = number.phone_number_id.as_str();
    remember_customer(st, account, spec);
    let customer = spec.customer.as_str();
    let metadata = webhooks::whatsapp_metadata(&number.display_phone_number, account);
    let mut ids = json!({"account": account, "customer": customer, "at_ms": at});
    if spec.action == Action::Read {
        // Reading is a status of the business's messages, not a customer message.
        let unread = super::followups::mark_read_whatsapp(st, account, customer);
        let outgoing = unread
            .iter()
            .map(|(wamid, opaque)| Outgoing {
                endpoint: "whatsapp",
                kind: WebhookKind::Status,
                account: account.to_owned(),
                signer: webhooks::Signer::Meta,
                body: webhooks::whatsapp_status(
                    &number.waba_id,
                    metadata.clone(),
                    super::followups::wa_status_value(
                        wamid,
                        "read",
                        at,
                        customer,
                        opaque.as_deref(),
                    ),
                ),
            })
            .collect();
        ids["read"] = json!(unread.iter().map(|(w, _)| w).collect::<Vec<_>>());
        return Ok(Prepared { outgoing, ids });
    }
    let wamid = spec.id.clone().unwrap_or_else(|| ids::wamid(customer));
    let mut msg = json!({"from": customer, "id": wamid, "timestamp": webhooks::wa_timestamp(at)});
    let mut opens_window = true;
    let mut text_seen = None;
    match spec.action {
        Action::Text => {
            let text = spec.text()?;
            msg["type"] = json!("text");
            msg["text"] = json!({"body": text});
            text_seen = Some(text);
        }
        Action::Attachment => {
            let a = spec
                .attachments
                .first()
                .ok_or_else(|| InboundError::Invalid("attachment needs attachments".into()))?;
            let kind = match a.kind.as_str() {
                "file" => "document",
                k @ ("image" | "video" | "audio" | "document" | "sticker") => k,
                other => {
                    return Err(InboundError::Invalid(format!(
                        "WhatsApp media type {other} is not image, video, audio, document or sticker"
                    )));
                }
            };
            // A medium made with `POST /_sim/media` is named by `media_id`; its node and
            // download then serve its bytes (`graph::media`).
            // A photo sent without one (the demo's) gets a real picture, so a desk can open
            // it and draw it.
            let media_id = match &spec.media_id {
                Some(id) => id.clone(),
                None if kind == "image" => {
                    let id = format!("{}", 1_056_000_000_000_000u64 + st.media.len() as u64 + 1);
                    st.media.insert(
                        id.clone(),
                        super::graph::media::SimMedia {
                            account: spec.account.clone(),
                            mime_type: "image/png".into(),
                            bytes: super::graph::media::sample_picture().into(),
                            declare_length: true,
                        },
                    );
                    id
                }
                None => ids::numeric("900"),
            };
            let mime = st
                .media
                .get(&media_id)
                .map_or_else(|| wa_mime(kind).to_owned(), |m| m.mime_type.clone());
            let mut media = json!({"id": media_id, "mime_type": mime,
                "sha256": hex::encode(wamid.as_bytes()).chars().take(44).collect::<String>()});
            if let Some(c) = &a.caption {
                media["caption"] = json!(c);
            }
            if kind == "audio" {
                media["voice"] = json!(true);
            }
            msg["type"] = json!(kind);
            msg[kind] = media;
        }
        Action::Reaction | Action::Unreact => {
            let on = target(st, account, spec)?;
            let emoji = if spec.action == Action::Reaction {
                spec.emoji.clone().unwrap_or_else(|| "\u{1f44d}".into())
            } else {
                String::new()
            };
            msg["type"] = json!("reaction");
            msg["reaction"] = json!({"message_id": on, "emoji": emoji});
            ids["target"] = json!(on);
            opens_window = false;
        }
        Action::ButtonReply => {
            let title = spec
                .title
                .clone()
                .or_else(|| spec.text.clone())
                .ok_or_else(|| InboundError::Invalid("button_reply needs title".into()))?;
            let id = spec.payload.clone().unwrap_or_else(|| title.clone());
            msg["type"] = json!("interactive");
            msg["interactive"] =
                json!({"type": "button_reply", "button_reply": {"id": id, "title": title}});
            if let Ok(on) = target(st, account, spec) {
                msg["context"] = json!({"from": number.display_phone_number, "id": on});
            }
            text_seen = Some(title);
        }
        Action::QuickReply => {
            let text = spec.text()?;
            let payload = spec.payload.clone().unwrap_or_else(|| text.clone());
            msg["type"] = json!("button");
            msg["button"] = json!({"payload": payload, "text": text});
            text_seen = Some(text);
        }
        other => {
            return Err(InboundError::Invalid(format!(
                "{other:?} is not a WhatsApp action (text, attachment, reaction, unreact, \
                 button_reply, quick_reply, read)"
            )));
        }
    }
    if let Some(r) = &spec.reply_to {
        msg["context"] = json!({"from": number.display_phone_number, "id": r});
    }
    if opens_window {
        customer_spoke(st, account, customer, at);
        st.remember_message(account, customer, &wamid, at, false, text_seen);
        ids["mid"] = json!(wamid);
    }
    let name = st
        .customer(account, customer)
        .and_then(|c| c.name.clone().or_else(|| c.username.clone()))
        .unwrap_or_else(|| "Customer".into());
    let body = webhooks::whatsapp_message(&number.waba_id, metadata, &name, customer, msg);
    Ok(Prepared {
        outgoing: vec![Outgoing {
            endpoint: "whatsapp",
            kind: WebhookKind::Inbound,
            account: account.to_owned(),
            signer: webhooks::Signer::Meta,
            body,
        }],
        ids,
    })
}

/// Plays customer actions: all of them are applied, then posted in one batched webhook per
/// endpoint and signer (one action: one plain webhook). Answers with the relay's statuses
/// and the ids used.
///
/// # Errors
/// An action is invalid; nothing is posted then.
pub async fn play(sim: &Sim, specs: &[InboundSpec]) -> Result<Value, InboundError> {
    let has_ig = sim.config.instagram_app_secret.is_some();
    let mut prepared = Vec::new();
    {
        let mut st = sim.lock();
        // An invalid action stops the batch before anything is posted (actions before it
        // stay in the simulator's memory, which only matters to a caller that sent garbage).
        for spec in specs {
            prepared.push(prepare(&mut st, spec, has_ig)?);
        }
    }
    let items: Vec<Value> = prepared.iter().map(|p| p.ids.clone()).collect();
    let mut groups: Vec<Outgoing> = Vec::new();
    for out in prepared.into_iter().flat_map(|p| p.outgoing) {
        if let Some(g) = groups
            .iter_mut()
            .find(|g| g.endpoint == out.endpoint && g.signer == out.signer && g.kind == out.kind)
        {
            if let Some(merged) = webhooks::batch(vec![g.body.clone(), out.body]).pop() {
                g.body = merged;
            }
        } else {
            groups.push(out);
        }
    }
    let mut posts = Vec::new();
    for g in groups {
        let o = webhooks::post(sim, g, Retry::Once).await;
        posts.push(
            json!({"status": o.status, "statuses": o.statuses, "dropped": o.dropped,
            "webhook_seq": o.seq}),
        );
    }
    let status = posts.first().map_or(Value::Null, |p| p["status"].clone());
    let dropped = posts.first().is_some_and(|p| p["dropped"] == true);
    Ok(json!({
        "status": status,
        "dropped": dropped,
        "posts": posts,
        "ids": items.first().cloned().unwrap_or(Value::Null),
        "items": items,
    }))
}

/// A customer declared ahead of their actions (`POST /_sim/customers`, scenario
/// `[[customers]]`): who they are and how they behave.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerSpec {
    pub account: String,
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Reads what the business sends (read receipts / `read` statuses); default true.
    #[serde(default)]
    pub auto_read: Option<bool>,
    /// Blocked the business or deleted the account; default false.
    #[serde(default)]
    pub unavailable: Option<bool>,
}

/// Adds or updates a customer; answers the customer as stored.
///
/// # Errors
/// Unknown account or empty id.
pub fn declare_customer(sim: &Sim, spec: &CustomerSpec) -> Result<Value, InboundError> {
    if spec.id.trim().is_empty() {
        return Err(InboundError::Invalid("id must not be empty".into()));
    }
    let mut st = sim.lock();
    let account = st
        .account(&spec.account)
        .map(|a| a.id().to_owned())
        .ok_or_else(|| InboundError::UnknownAccount(spec.account.clone()))?;
    let c = st.customer_mut(&account, &spec.id);
    if spec.username.is_some() {
        c.username.clone_from(&spec.username);
    }
    if spec.name.is_some() {
        c.name.clone_from(&spec.name);
    }
    if let Some(r) = spec.auto_read {
        c.auto_read = r;
    }
    if let Some(u) = spec.unavailable {
        c.unavailable = u;
    }
    Ok(serde_json::to_value(&*c).unwrap_or(Value::Null))
}
