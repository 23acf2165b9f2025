//! The Graph API calls the outbox makes, in Meta's request shapes (meta-platform.md §6,
//! §13.2): Instagram sends through Instagram Login (`graph.instagram.com/<IG_ID>/messages`)
//! or Facebook Login (`graph.facebook.com/<PAGE_ID>/messages`, chosen when the channel has
//! a page), WhatsApp sends through `/<PHONE_NUMBER_ID>/messages`, and the Conversations API
//! lookup used to settle a send left in doubt by a crash.

use crate::clock::{Clock, SystemClock};
use crate::meta_errors::{CallFailure, GraphErrorBody};
use crate::store::{ChannelKind, ChannelRecord};
use protocol::ChannelId;
use protocol::window::ReplyKind;
use protocol::{Choice, MediaKind, Millis, ReplyContent, SenderAction};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

mod upload;
pub use upload::Upload;

/// Graph API version the relay speaks.
pub const VERSION: &str = "v23.0";

/// How long one Graph call may take before the attempt counts as unanswered.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Graph {
    http: reqwest::Client,
    meta_base: String,
    instagram_base: String,
    /// Per channel, until when (relay time) Meta's usage headers asked to hold off.
    held: Mutex<HashMap<ChannelId, Millis>>,
    /// What holds are measured in: the relay's clock, so a test clock can end them.
    clock: Arc<dyn Clock>,
}

/// Whether an answer's usage headers may hold the channel's sends off. Only sends count:
/// lookups and settings calls have their own, smaller budgets (the Conversations API's is
/// 2 calls/s), which say nothing about sending.
#[derive(Clone, Copy)]
enum Track {
    Usage,
    Ignore,
}

/// A WhatsApp media node: where the bytes are (a URL that wants the same token).
#[derive(Clone, Debug)]
pub struct MediaNode {
    pub url: String,
    pub mime_type: Option<String>,
    pub file_size: Option<u64>,
}

/// One reply to send.
pub struct Outgoing<'a> {
    /// IGSID or WhatsApp id of the customer.
    pub recipient: &'a str,
    pub text: &'a str,
    /// What is sent when it is more than `text` alone.
    pub content: Option<&'a ReplyContent>,
    /// The customer message this answers (WhatsApp `context`).
    pub reply_to: Option<&'a str>,
    /// The comment a comment thread's reply answers.
    pub comment_id: Option<&'a str>,
    pub kind: ReplyKind,
    /// Echoed by WhatsApp in status webhooks (`biz_opaque_callback_data`).
    pub callback: &'a str,
}

/// `base/VERSION/segments…`, each segment encoded as one (`crate::graph_url`). A base that
/// is not a URL is a configuration mistake; the call is treated as unanswered.
fn url(base: &str, segments: &[&str]) -> Result<reqwest::Url, CallFailure> {
    let mut all = Vec::with_capacity(segments.len() + 1);
    all.push(VERSION);
    all.extend_from_slice(segments);
    crate::graph_url::build(base, &all).map_err(|e| CallFailure::NoAnswer(e.to_string()))
}

/// An object id from a command, checked before it can address anything: a malformed one
/// is refused as Meta would refuse it, without a call.
fn object(id: &str) -> Result<crate::meta_id::ObjectId, CallFailure> {
    crate::meta_id::ObjectId::parse(id, "the comment id").map_err(|_| CallFailure::Answered {
        status: 400,
        error: None,
    })
}

impl Graph {
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots).
    pub fn new(meta_base: &str, instagram_base: &str) -> reqwest::Result<Graph> {
        Ok(Graph {
            http: reqwest::Client::builder().timeout(CALL_TIMEOUT).build()?,
            meta_base: meta_base.trim_end_matches('/').to_owned(),
            instagram_base: instagram_base.trim_end_matches('/').to_owned(),
            held: Mutex::default(),
            clock: Arc::new(SystemClock),
        })
    }

    /// The same, measuring Meta's holds on `clock` (the relay's) instead of wall time.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Graph {
        self.clock = clock;
        self
    }

    fn base(&self, channel: &ChannelRecord) -> &str {
        match (channel.kind, &channel.page_id) {
            (ChannelKind::Instagram, None) => &self.instagram_base,
            _ => &self.meta_base,
        }
    }

    /// The account the Instagram Send API is addressed to.
    fn sender(channel: &ChannelRecord) -> &str {
        channel.page_id.as_deref().unwrap_or(&channel.account_id)
    }

    /// Sends one reply (or sender action, or comment moderation); answers Meta's id for it
    /// (`mid`, `wamid`, comment id), or a stand-in for calls that return none.
    ///
    /// # Errors
    /// Meta's error answer, or no answer at all; a reply that cannot be addressed (a
    /// comment reply without its comment) is refused as Meta would, without a call.
    pub async fn send(
        &self,
        channel: &ChannelRecord,
        token: &str,
        out: &Outgoing<'_>,
    ) -> Result<String, CallFailure> {
        let comment = || {
            out.comment_id.ok_or(CallFailure::Answered {
                status: 400,
                error: None,
            })
        };
        let base = self.base(channel);
        let request = match (channel.kind, out.content, out.kind) {
            (_, Some(ReplyContent::HideComment { comment_id, hidden }), _) => self
                .http
                .post(url(base, &[object(comment_id)?.as_str()])?)
                .query(&[("hide", hidden.to_string())]),
            (_, _, ReplyKind::PublicReply) => self
                .http
                .post(url(base, &[object(comment()?)?.as_str(), "replies"])?)
                .json(&json!({ "message": out.text })),
            (ChannelKind::Instagram, _, _) => {
                let url = url(base, &[Self::sender(channel), "messages"])?;
                let body = instagram_body(out, out.comment_id);
                self.http.post(url).json(&body)
            }
            (ChannelKind::Whatsapp, _, _) => {
                let url = url(&self.meta_base, &[&channel.account_id, "messages"])?;
                self.http.post(url).json(&whatsapp_body(out))
            }
        };
        let answer = self.call(channel, request, token, Track::Usage).await?;
        let id = answer["message_id"]
            .as_str()
            .or_else(|| answer["messages"][0]["id"].as_str())
            .or_else(|| answer["id"].as_str())
            .map(str::to_owned);
        match id {
            Some(id) => Ok(id),
            // Sender actions answer only `recipient_id`, moderation `{"success": true}`.
            None if answer["recipient_id"].is_string() || answer["success"] == true => {
                Ok(format!("{}:{}", out.kind_name(), out.callback))
            }
            None => Err(CallFailure::Answered {
                status: 200,
                error: None,
            }),
        }
    }

    /// Looks for a business message to `recipient` created at or after `since` (Conversations
    /// API) that is none of the `known` ids and, when `text` is given, has exactly that text
    /// (rich contents have none to compare); answers its id. Only Instagram has such a lookup.
    ///
    /// # Errors
    /// Meta's error answer, or no answer at all.
    pub async fn find_sent(
        &self,
        channel: &ChannelRecord,
        token: &str,
        recipient: &str,
        text: Option<&str>,
        since: Millis,
        known: &HashSet<String>,
    ) -> Result<Option<String>, CallFailure> {
        let base = self.base(channel);
        let list = self
            .call(
                channel,
                self.http
                    .get(url(base, &[Self::sender(channel), "conversations"])?)
                    .query(&[("platform", "instagram"), ("user_id", recipient)]),
                token,
                Track::Ignore,
            )
            .await?;
        let Some(conversations) = list["data"].as_array() else {
            return Ok(None);
        };
        for conversation in conversations {
            let Some(id) = conversation["id"].as_str() else {
                continue;
            };
            let messages = self
                .call(
                    channel,
                    self.http
                        .get(url(base, &[id])?)
                        .query(&[("fields", "messages{id,created_time,from,to,message}")]),
                    token,
                    Track::Ignore,
                )
                .await?;
            // Newest first: the oldest match is the attempt's own message.
            let found = messages["messages"]["data"]
                .as_array()
                .into_iter()
                .flatten()
                .rev()
                .find(|m| {
                    let id = m["id"].as_str().unwrap_or_default();
                    !id.is_empty()
                        && !known.contains(id)
                        && text.is_none_or(|t| m["message"].as_str() == Some(t))
                        && m["from"]["id"].as_str() != Some(recipient)
                        && created_ms(&m["created_time"]).is_none_or(|t| t >= since.0 - 60_000)
                });
            if let Some(m) = found {
                return Ok(m["id"].as_str().map(str::to_owned));
            }
        }
        Ok(None)
    }

    /// Looks for the business's public reply with exactly `text` under `comment_id`, made at
    /// or after `since` and none of the `known` ids (`GET /{COMMENT_ID}/replies`).
    ///
    /// # Errors
    /// Meta's error answer, or no answer at all.
    pub async fn find_public_reply(
        &self,
        channel: &ChannelRecord,
        token: &str,
        comment_id: &str,
        text: &str,
        since: Millis,
        known: &HashSet<String>,
    ) -> Result<Option<String>, CallFailure> {
        let url = url(
            self.base(channel),
            &[object(comment_id)?.as_str(), "replies"],
        )?;
        let request = self
            .http
            .get(url)
            .query(&[("fields", "id,text,timestamp,from")]);
        let answer = self.call(channel, request, token, Track::Ignore).await?;
        Ok(answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| {
                let id = r["id"].as_str().unwrap_or_default();
                !id.is_empty()
                    && !known.contains(id)
                    && r["text"].as_str() == Some(text)
                    && created_ms(&r["timestamp"]).is_none_or(|t| t >= since.0 - 60_000)
            })
            .and_then(|r| r["id"].as_str().map(str::to_owned)))
    }

    /// The WhatsApp Business Account's message templates, as Meta lists them.
    ///
    /// # Errors
    /// Meta's error answer, or no answer; `Answered{status: 409}` when the channel has no
    /// WABA id to ask about.
    pub async fn templates(
        &self,
        channel: &ChannelRecord,
        token: &str,
    ) -> Result<Vec<Value>, CallFailure> {
        let waba = channel.waba_id.as_deref().ok_or(CallFailure::Answered {
            status: 409,
            error: None,
        })?;
        let url = url(&self.meta_base, &[waba, "message_templates"])?;
        let answer = self
            .call(
                channel,
                self.http.get(url).query(&[("limit", "100")]),
                token,
                Track::Ignore,
            )
            .await?;
        Ok(answer["data"].as_array().cloned().unwrap_or_default())
    }

    /// The Instagram account's ice breakers (`messenger_profile`, meta-platform.md §8).
    ///
    /// # Errors
    /// Meta's error answer, or no answer.
    pub async fn ice_breakers(
        &self,
        channel: &ChannelRecord,
        token: &str,
    ) -> Result<Vec<Value>, CallFailure> {
        let url = url(
            self.base(channel),
            &[Self::sender(channel), "messenger_profile"],
        )?;
        let request = self
            .http
            .get(url)
            .query(&[("fields", "ice_breakers"), ("platform", "instagram")]);
        let answer = self.call(channel, request, token, Track::Ignore).await?;
        // `{"data": [{"call_to_actions": [...], "locale"}]}`: every locale's questions.
        Ok(answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|d| d["call_to_actions"].as_array().cloned().unwrap_or_default())
            .collect())
    }

    /// Replaces the Instagram account's ice breakers (up to four questions).
    ///
    /// # Errors
    /// Meta's error answer, or no answer.
    pub async fn set_ice_breakers(
        &self,
        channel: &ChannelRecord,
        token: &str,
        questions: &[Value],
    ) -> Result<(), CallFailure> {
        let url = url(
            self.base(channel),
            &[Self::sender(channel), "messenger_profile"],
        )?;
        let body = json!({"platform": "instagram", "ice_breakers": questions});
        self.call(
            channel,
            self.http.post(url).json(&body),
            token,
            Track::Ignore,
        )
        .await?;
        Ok(())
    }

    /// Unsubscribes the app from the channel's webhooks (disconnect): Instagram Login
    /// `DELETE /me/subscribed_apps`, Facebook Login `DELETE /{page}/subscribed_apps`,
    /// WhatsApp `DELETE /{waba}/subscribed_apps` (meta-platform.md §12.1, §12.2, §13.3).
    /// A WhatsApp channel without a WABA id has nothing to unsubscribe (`Ok(false)`).
    ///
    /// # Errors
    /// Meta's error answer, or no answer.
    pub async fn unsubscribe(
        &self,
        channel: &ChannelRecord,
        token: &str,
    ) -> Result<bool, CallFailure> {
        let url = match (channel.kind, &channel.page_id, &channel.waba_id) {
            (ChannelKind::Instagram, None, _) => {
                url(&self.instagram_base, &["me", "subscribed_apps"])?
            }
            (ChannelKind::Instagram, Some(page), _) => {
                url(&self.meta_base, &[page, "subscribed_apps"])?
            }
            (ChannelKind::Whatsapp, _, Some(waba)) => {
                url(&self.meta_base, &[waba, "subscribed_apps"])?
            }
            (ChannelKind::Whatsapp, _, None) => return Ok(false),
        };
        self.call(channel, self.http.delete(url), token, Track::Ignore)
            .await?;
        Ok(true)
    }

    /// Refreshes a long-lived Instagram-Login token (meta-platform.md §12.1 step 5):
    /// `GET {INSTAGRAM_GRAPH_URL}/refresh_access_token?grant_type=ig_refresh_token&access_token=…`.
    /// Answers the new token and its lifetime in seconds.
    ///
    /// # Errors
    /// Meta's error answer, no answer, or an answer without a token.
    pub async fn refresh_instagram_token(
        &self,
        token: &str,
    ) -> Result<(crate::secret::Secret, i64), CallFailure> {
        let request = self
            .http
            .get(
                crate::graph_url::build(&self.instagram_base, &["refresh_access_token"])
                    .map_err(|e| CallFailure::NoAnswer(e.to_string()))?,
            )
            .query(&[("grant_type", "ig_refresh_token"), ("access_token", token)]);
        // The token travels in the query, as Meta documents it: reqwest's error text would
        // name the URL, so it is dropped before anything can print it.
        let response = request
            .send()
            .await
            .map_err(|e| CallFailure::NoAnswer(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CallFailure::NoAnswer(e.without_url().to_string()))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status >= 300 {
            let error = serde_json::from_value::<GraphErrorBody>(body)
                .ok()
                .map(|b| b.error);
            return Err(CallFailure::Answered { status, error });
        }
        match (body["access_token"].as_str(), body["expires_in"].as_i64()) {
            (Some(t), Some(expires_in)) if !t.is_empty() => {
                Ok((crate::secret::Secret::new(t), expires_in))
            }
            _ => Err(CallFailure::Answered {
                status,
                error: None,
            }),
        }
    }

    /// Resolves a WhatsApp media id (`GET /{media-id}`, meta-platform.md §13.1): where its
    /// bytes are, their type and size. The id must look like Meta's before it addresses
    /// anything.
    ///
    /// # Errors
    /// Meta's error answer, no answer, or an answer without a URL.
    pub async fn media_node(
        &self,
        channel: &ChannelRecord,
        token: &str,
        media_id: &str,
    ) -> Result<MediaNode, CallFailure> {
        let id = crate::meta_id::ObjectId::parse(media_id, "the media id").map_err(|_| {
            CallFailure::Answered {
                status: 400,
                error: None,
            }
        })?;
        let url = url(&self.meta_base, &[id.as_str()])?;
        let answer = self
            .call(channel, self.http.get(url), token, Track::Ignore)
            .await?;
        let Some(media_url) = answer["url"].as_str() else {
            return Err(CallFailure::Answered {
                status: 200,
                error: None,
            });
        };
        Ok(MediaNode {
            url: media_url.to_owned(),
            mime_type: answer["mime_type"].as_str().map(str::to_owned),
            file_size: answer["file_size"]
                .as_u64()
                .or_else(|| answer["file_size"].as_str().and_then(|s| s.parse().ok())),
        })
    }

    /// Instagram's User Profile API (meta-platform.md §6.3): `GET /{IGSID}?fields=…` on the
    /// channel's Graph base with its token. Works only once the customer has consented (by
    /// messaging the business).
    ///
    /// # Errors
    /// Meta's error answer (consent missing, blocked, token trouble), or no answer.
    pub async fn user_profile(
        &self,
        channel: &ChannelRecord,
        token: &str,
        igsid: &str,
    ) -> Result<protocol::CustomerProfile, CallFailure> {
        let id = crate::meta_id::ObjectId::parse(igsid, "the IGSID").map_err(|_| {
            CallFailure::Answered {
                status: 400,
                error: None,
            }
        })?;
        let url = url(self.base(channel), &[id.as_str()])?;
        let request = self.http.get(url).query(&[(
            "fields",
            "name,username,profile_pic,follower_count,is_user_follow_business,is_business_follow_user",
        )]);
        let answer = self.call(channel, request, token, Track::Ignore).await?;
        let text = |k: &str| answer[k].as_str().map(str::to_owned);
        Ok(protocol::CustomerProfile {
            name: text("name"),
            username: text("username"),
            follower_count: answer["follower_count"].as_u64(),
            follows_business: answer["is_user_follow_business"].as_bool(),
            followed_by_business: answer["is_business_follow_user"].as_bool(),
        })
    }

    /// How long Meta asked this channel to hold off (usage headers or throttling errors),
    /// if it still must.
    #[must_use]
    pub fn throttled_for(&self, channel: &ChannelId) -> Option<Duration> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let until = *held.get(channel)?;
        let left = self.clock.now().until(until);
        if left <= 0 {
            held.remove(channel);
            return None;
        }
        Some(Duration::from_millis(u64::try_from(left).unwrap_or(0)))
    }

    async fn call(
        &self,
        channel: &ChannelRecord,
        request: reqwest::RequestBuilder,
        token: &str,
        track: Track,
    ) -> Result<Value, CallFailure> {
        let response = request
            .bearer_auth(token)
            .send()
            .await
            // reqwest's error text names the URL, never the bearer header.
            .map_err(|e| CallFailure::NoAnswer(e.to_string()))?;
        let status = response.status().as_u16();
        if let (Track::Usage, Some(wait)) = (track, usage_hold(response.headers())) {
            self.held
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(
                    channel.id.clone(),
                    self.clock
                        .now()
                        .plus(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
                );
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CallFailure::NoAnswer(e.to_string()))?;
        if status >= 300 {
            let error = serde_json::from_slice::<GraphErrorBody>(&bytes)
                .ok()
                .map(|b| b.error);
            return Err(CallFailure::Answered { status, error });
        }
        serde_json::from_slice(&bytes).map_err(|_| CallFailure::Answered {
            status,
            error: None,
        })
    }
}

impl Outgoing<'_> {
    fn kind_name(&self) -> &'static str {
        match self.content {
            Some(ReplyContent::SenderAction(_)) => "action",
            Some(ReplyContent::HideComment { .. }) => "moderation",
            _ => "reply",
        }
    }
}

fn choices(choices: &[Choice], kind: &str) -> Vec<Value> {
    choices
        .iter()
        .map(|c| json!({"type": kind, "title": c.title, "payload": c.payload}))
        .collect()
}

/// An Instagram media message: images in the plural `attachments` array, the other kinds
/// in the singular `attachment` (meta-platform.md §6.2); `payload` holds a URL or an
/// uploaded `attachment_id`.
fn instagram_media(kind: MediaKind, payload: &Value) -> Value {
    match kind {
        MediaKind::Image => json!({"attachments": [{"type": "image", "payload": payload}]}),
        other => {
            let kind = match other {
                MediaKind::Video => "video",
                MediaKind::Audio => "audio",
                _ => "file",
            };
            json!({"attachment": {"type": kind, "payload": payload}})
        }
    }
}

/// The WhatsApp message type of a media kind.
fn whatsapp_media_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::File => "document",
    }
}

/// The Instagram Send API body (meta-platform.md §6.2).
fn instagram_body(out: &Outgoing<'_>, comment_id: Option<&str>) -> Value {
    let recipient = match (out.content, comment_id) {
        (Some(ReplyContent::PrivateReply { .. }), Some(c)) => json!({ "comment_id": c }),
        _ => json!({ "id": out.recipient }),
    };
    let message = match out.content {
        Some(ReplyContent::SenderAction(action)) => {
            let mut body = json!({ "recipient": recipient });
            let (name, payload) = match action {
                SenderAction::TypingOn => ("typing_on", None),
                SenderAction::TypingOff => ("typing_off", None),
                SenderAction::MarkSeen => ("mark_seen", None),
                SenderAction::React { mid, emoji } => {
                    ("react", Some(json!({"message_id": mid, "reaction": emoji})))
                }
                SenderAction::Unreact { mid } => ("unreact", Some(json!({ "message_id": mid }))),
            };
            body["sender_action"] = json!(name);
            if let Some(p) = payload {
                body["payload"] = p;
            }
            return body;
        }
        None | Some(ReplyContent::PrivateReply { .. } | ReplyContent::Text { .. }) => {
            json!({ "text": out.text })
        }
        Some(ReplyContent::Media { kind, url, .. }) => {
            instagram_media(*kind, &json!({ "url": url }))
        }
        Some(ReplyContent::Uploaded { kind, id, .. }) => {
            instagram_media(*kind, &json!({ "attachment_id": id }))
        }
        Some(ReplyContent::Heart) => json!({"attachment": {"type": "like_heart"}}),
        Some(ReplyContent::QuickReplies { text, options }) => {
            let options: Vec<Value> = options
                .iter()
                .map(|c| json!({"content_type": "text", "title": c.title, "payload": c.payload}))
                .collect();
            json!({"text": text, "quick_replies": options})
        }
        Some(ReplyContent::Buttons { text, buttons }) => json!({"attachment": {
            "type": "template",
            "payload": {"template_type": "button", "text": text,
                        "buttons": choices(buttons, "postback")},
        }}),
        Some(ReplyContent::Cards { cards }) => {
            let elements: Vec<Value> = cards
                .iter()
                .map(|c| {
                    let mut e = json!({"title": c.title});
                    if let Some(s) = &c.subtitle {
                        e["subtitle"] = json!(s);
                    }
                    if let Some(u) = &c.image_url {
                        e["image_url"] = json!(u);
                    }
                    if !c.buttons.is_empty() {
                        e["buttons"] = json!(choices(&c.buttons, "postback"));
                    }
                    e
                })
                .collect();
            json!({"attachment": {"type": "template",
                                  "payload": {"template_type": "generic", "elements": elements}}})
        }
        // Refused by `ReplyContent::check` before queueing; sent as text if ever met.
        Some(
            ReplyContent::Template { .. }
            | ReplyContent::HideComment { .. }
            | ReplyContent::List { .. },
        ) => {
            json!({ "text": out.text })
        }
    };
    let mut body = json!({"recipient": recipient, "message": message});
    // The only cited shape of a quoted reply on Instagram (meta-platform.md §6.2, UNCONFIRMED):
    // a top-level `reply_to`. WhatsApp's documented `context` is set in `whatsapp_body`.
    if let Some(mid) = out.reply_to {
        body["reply_to"] = json!({ "mid": mid });
    }
    if out.kind == ReplyKind::HumanAgent {
        body["messaging_type"] = json!("MESSAGE_TAG");
        body["tag"] = json!("HUMAN_AGENT");
    } else {
        body["messaging_type"] = json!("RESPONSE");
    }
    body
}

/// The WhatsApp Cloud API body (meta-platform.md §13.2).
fn whatsapp_body(out: &Outgoing<'_>) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": out.recipient,
        "biz_opaque_callback_data": out.callback,
    });
    if let Some(mid) = out.reply_to {
        body["context"] = json!({ "message_id": mid });
    }
    let (kind, part) = match out.content {
        Some(ReplyContent::Media { kind, url, caption }) => {
            let kind = whatsapp_media_type(*kind);
            let mut part = json!({ "link": url });
            if let Some(c) = caption.as_ref().filter(|_| kind != "audio") {
                part["caption"] = json!(c);
            }
            (kind, part)
        }
        Some(ReplyContent::Uploaded { kind, id, caption }) => {
            let kind = whatsapp_media_type(*kind);
            let mut part = json!({ "id": id });
            if let Some(c) = caption.as_ref().filter(|_| kind != "audio") {
                part["caption"] = json!(c);
            }
            (kind, part)
        }
        Some(ReplyContent::List { text, button, rows }) => {
            let rows: Vec<Value> = rows
                .iter()
                .map(|r| json!({"id": r.payload, "title": r.title}))
                .collect();
            (
                "interactive",
                json!({"type": "list", "body": {"text": text}, "action": {
                    "button": button, "sections": [{"title": button, "rows": rows}]}}),
            )
        }
        Some(ReplyContent::Buttons { text, buttons }) => {
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|b| json!({"type": "reply", "reply": {"id": b.payload, "title": b.title}}))
                .collect();
            (
                "interactive",
                json!({"type": "button", "body": {"text": text}, "action": {"buttons": buttons}}),
            )
        }
        Some(ReplyContent::Template {
            name,
            language,
            params,
        }) => {
            let mut template = json!({"name": name, "language": {"code": language}});
            if !params.is_empty() {
                let params: Vec<Value> = params
                    .iter()
                    .map(|p| json!({"type": "text", "text": p}))
                    .collect();
                template["components"] = json!([{"type": "body", "parameters": params}]);
            }
            ("template", template)
        }
        _ => ("text", json!({"preview_url": false, "body": out.text})),
    };
    body["type"] = json!(kind);
    body[kind] = part;
    body
}

/// How long to hold off after an answer with these headers: Meta's own estimate
/// (`estimated_time_to_regain_access`, minutes, in `X-Business-Use-Case-Usage`), or a
/// minute when any usage figure reached 100 % without one (meta-platform.md §11). Parsed
/// leniently: unknown shapes mean no hold.
fn usage_hold(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let json = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| serde_json::from_str::<Value>(v).ok())
    };
    let full = |v: &Value| {
        ["call_count", "total_time", "total_cputime"]
            .iter()
            .any(|k| v[*k].as_f64().is_some_and(|p| p >= 100.0))
    };
    let mut hold: Option<Duration> = None;
    let mut longer = |d: Duration| hold = Some(hold.map_or(d, |h| h.max(d)));
    if let Some(buc) = json("x-business-use-case-usage") {
        for entry in buc.as_object().into_iter().flat_map(|o| o.values()) {
            for usage in entry.as_array().into_iter().flatten() {
                let minutes = usage["estimated_time_to_regain_access"]
                    .as_u64()
                    .unwrap_or(0);
                if minutes > 0 {
                    longer(Duration::from_secs(minutes * 60));
                } else if full(usage) {
                    longer(Duration::from_secs(60));
                }
            }
        }
    }
    if json("x-app-usage").is_some_and(|v| full(&v)) {
        longer(Duration::from_secs(60));
    }
    hold
}

/// Graph's `created_time` (`2025-06-01T12:00:00+0000`), or epoch numbers, in ms.
fn created_ms(v: &Value) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(if n < 10_000_000_000 { n * 1000 } else { n });
    }
    let s = v.as_str()?;
    let (date, time) = s.get(..19)?.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    // Days from civil (Howard Hinnant's algorithm), UTC.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + min) * 60_000 + sec * 1000)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn usage_headers_say_how_long_to_hold_off() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = reqwest::header::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let buc = r#"{"178":[{"type":"instagram","call_count":40,"total_cputime":5,"total_time":5,"estimated_time_to_regain_access":3}]}"#;
        assert_eq!(
            usage_hold(&headers(&[("x-business-use-case-usage", buc)])),
            Some(Duration::from_secs(180))
        );
        let full = r#"{"call_count":100,"total_time":20,"total_cputime":20}"#;
        assert_eq!(
            usage_hold(&headers(&[("x-app-usage", full)])),
            Some(Duration::from_secs(60))
        );
        let calm = r#"{"call_count":28,"total_time":25,"total_cputime":25}"#;
        assert_eq!(usage_hold(&headers(&[("x-app-usage", calm)])), None);
        assert_eq!(usage_hold(&headers(&[("x-app-usage", "not json")])), None);
    }

    #[test]
    fn graph_times_parse_to_epoch_millis() {
        assert_eq!(created_ms(&json!("1970-01-01T00:00:00+0000")), Some(0));
        assert_eq!(
            created_ms(&json!("2025-06-01T12:00:00+0000")),
            Some(1_748_779_200_000)
        );
        assert_eq!(created_ms(&json!(1_748_779_200)), Some(1_748_779_200_000));
        assert_eq!(created_ms(&json!("garbage")), None);
    }
}
