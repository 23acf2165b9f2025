//! The admin-API calls behind the owner settings and partner report screens, over plain
//! HTTP with the profile's own token: `GET /v1/me`, the tenant's settings, channels and
//! credits, `PUT` auto-send, and the partner report. Errors are sentences for the status
//! line; none of them carries the token.

use crate::config::Token;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// Who a token is, as `GET /v1/me` says.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
pub struct Me {
    pub role: String,
    #[serde(default)]
    pub partner: Option<String>,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub tenant_name: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
}

/// One reply rule, as the settings screen lists it (read-only).
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
pub struct RuleLine {
    pub name: String,
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub reply: Option<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub auto_send: Option<bool>,
    #[serde(default)]
    pub hide_comment: bool,
}

/// One connected channel.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
pub struct ChannelLine {
    pub id: String,
    pub kind: String,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub last_event_at: Option<i64>,
    #[serde(default)]
    pub needs_reconnect: bool,
}

/// One WhatsApp template of a channel, as the template picker lists it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TemplateLine {
    pub name: String,
    pub language: String,
    pub category: String,
    /// The body text with its `{{n}}` placeholders (empty when Meta gave none).
    pub body: String,
    /// Approved by Meta: only these can be sent.
    pub sendable: bool,
}

impl TemplateLine {
    /// The placeholders the agent fills, in parameter order.
    #[must_use]
    pub fn placeholders(&self) -> Vec<String> {
        protocol::template::placeholders(&self.body)
    }

    /// One entry of the relay's `templates` list; `None` without a name or language.
    fn from_json(v: &serde_json::Value) -> Option<TemplateLine> {
        let body = v["components"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case("body"))
            })
            .and_then(|c| c["text"].as_str())
            .unwrap_or_default();
        Some(TemplateLine {
            name: v["name"].as_str()?.to_owned(),
            language: v["language"].as_str()?.to_owned(),
            category: v["category"].as_str().unwrap_or_default().to_owned(),
            body: body.to_owned(),
            sendable: v["sendable"].as_bool().unwrap_or(false),
        })
    }
}

/// What the owner settings screen shows.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SettingsData {
    pub auto_send: bool,
    pub hide_comments: bool,
    pub rules: Vec<RuleLine>,
    pub default_reply: Option<String>,
    pub channels: Vec<ChannelLine>,
    pub credits: i64,
    /// The tenant's unused, unexpired single-use connect links, by kind ("instagram",
    /// "facebook", "whatsapp"), or why they cannot be listed. Opening the screen mints
    /// none; the owner asks for one (`L`, `:link KIND`).
    pub connect_links: Vec<(String, Result<String, String>)>,
}

#[derive(Deserialize)]
struct SettingsJson {
    auto_send: bool,
    #[serde(default)]
    hide_comments: bool,
    #[serde(default)]
    rules: Vec<RuleLine>,
    #[serde(default)]
    default_reply: Option<String>,
}

#[derive(Deserialize)]
struct ChannelsJson {
    channels: Vec<ChannelLine>,
}

#[derive(Deserialize)]
struct CreditsJson {
    #[serde(alias = "credits")]
    balance: i64,
}

#[derive(Deserialize)]
struct LinkJson {
    url: String,
}

#[derive(Deserialize)]
struct LinksJson {
    links: Vec<ListedLink>,
}

#[derive(Deserialize)]
struct ListedLink {
    kind: String,
    url: String,
}

/// Replies sent, by how they came about.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
pub struct Replies {
    #[serde(default)]
    pub auto: u64,
    #[serde(default)]
    pub approved: u64,
    #[serde(default)]
    pub edited: u64,
    #[serde(default)]
    pub own: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
pub struct Volume {
    #[serde(default)]
    pub inbound_messages: u64,
    /// Per day, oldest first, today last.
    #[serde(default)]
    pub daily: Vec<u64>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
pub struct FirstResponse {
    #[serde(default)]
    pub median: Option<i64>,
    #[serde(default)]
    pub samples: u64,
}

/// One tenant's line of the partner report: aggregates only, never contents or contacts.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
pub struct TenantReport {
    pub tenant: String,
    pub name: String,
    #[serde(default)]
    pub volume: Volume,
    #[serde(default)]
    pub replies: Replies,
    #[serde(default)]
    pub first_response_ms: FirstResponse,
    #[serde(default)]
    pub held_drafts: u64,
    #[serde(default)]
    pub failures: u64,
    #[serde(default)]
    pub credits: Option<i64>,
    /// Per agent: only in the owner's own report.
    #[serde(default)]
    pub agents: Vec<AgentReport>,
}

/// One agent's line of the owner's report.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
pub struct AgentReport {
    pub agent: String,
    pub name: String,
    #[serde(default)]
    pub replies: u64,
    #[serde(default)]
    pub first_response_ms: FirstResponse,
    #[serde(default)]
    pub resolved: u64,
    #[serde(default)]
    pub resolution_ms: FirstResponse,
}

/// The partner report screen's data.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
pub struct ReportData {
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub days: u32,
    pub tenants: Vec<TenantReport>,
}

/// An attachment's bytes as the relay's media route streamed them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Fetched {
    pub content_type: String,
    pub bytes: bytes::Bytes,
}

/// A whole video may take longer than any JSON call should.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a call failed, in words.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("the relay could not be reached: {0}")]
    Network(String),
    #[error("the relay answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the relay's answer was not understood: {0}")]
    Decode(String),
    /// Refused by the desk itself before anything was sent (a file over a limit).
    #[error("{0}")]
    Refused(String),
}

/// How long an upload may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// A failed request in words; a refused TLS certificate says so and why. The error's
/// causes are walked because reqwest's own text is only "error sending request".
fn unreachable(error: &reqwest::Error) -> RemoteError {
    let mut causes = Vec::<String>::new();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        causes.push(e.to_string());
        source = e.source();
    }
    if causes.is_empty() {
        let what = if error.is_timeout() {
            "timed out"
        } else {
            "the request failed"
        };
        causes.push(what.to_owned());
    }
    let detail = causes.join(": ");
    if detail.contains("certificate") {
        RemoteError::Network(format!("TLS certificate refused: {detail}"))
    } else {
        RemoteError::Network(detail)
    }
}

/// A refusal in the relay's words (its JSON error's message), else the status's name.
fn refusal(status: reqwest::StatusCode, body: &str) -> RemoteError {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    RemoteError::Status {
        status: status.as_u16(),
        message,
    }
}

/// One canned reply as the desk's picker and `/shortcut` use it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CannedLine {
    pub shortcut: String,
    pub title: String,
    /// As written (the owner's settings screen shows this).
    pub text: String,
    /// With the business's fields and the agent's name put in; `{{customer.name}}` is the
    /// desk's to fill for the thread.
    pub filled: String,
}

/// A client for one relay and token.
#[derive(Clone, Debug)]
pub struct Remote {
    base: String,
    token: Token,
    http: reqwest::Client,
}

impl Remote {
    /// A client trusting the public roots and, for a relay with a private CA, `ca_file`.
    ///
    /// # Errors
    /// The CA file is unusable, or the HTTP client could not be built.
    pub fn new(relay: &str, token: Token, ca_file: Option<&Path>) -> Result<Remote, RemoteError> {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
        if let Some(path) = ca_file {
            let certs =
                crate::tls::read_ca_file(path).map_err(|e| RemoteError::Network(e.to_string()))?;
            for cert in certs {
                let cert = reqwest::Certificate::from_der(&cert)
                    .map_err(|e| RemoteError::Network(e.without_url().to_string()))?;
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| RemoteError::Network(e.without_url().to_string()))?;
        Ok(Remote {
            base: relay.trim().trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, RemoteError> {
        let response = request
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| RemoteError::Network(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(refusal(status, &body));
        }
        serde_json::from_str(&body).map_err(|e| RemoteError::Decode(e.to_string()))
    }

    /// # Errors
    /// Network, status or decoding failure.
    pub async fn me(&self) -> Result<Me, RemoteError> {
        self.call(self.http.get(format!("{}/v1/me", self.base)))
            .await
    }

    /// The owner screen's data for `tenant`.
    ///
    /// # Errors
    /// Network, status or decoding failure of the settings, channels or credits call (the
    /// connect-link listing may fail alone; it is shown as such).
    pub async fn settings(&self, tenant: &str) -> Result<SettingsData, RemoteError> {
        let base = format!("{}/v1/tenants/{tenant}", self.base);
        let settings: SettingsJson = self.call(self.http.get(format!("{base}/settings"))).await?;
        let channels: ChannelsJson = self.call(self.http.get(format!("{base}/channels"))).await?;
        let credits: CreditsJson = self.call(self.http.get(format!("{base}/credits"))).await?;
        let listed: Result<LinksJson, RemoteError> = self
            .call(self.http.get(format!("{base}/connect-links")))
            .await;
        let connect_links = match listed {
            Ok(l) => l.links.into_iter().map(|l| (l.kind, Ok(l.url))).collect(),
            Err(RemoteError::Status {
                status: 404 | 405, ..
            }) => vec![(
                "links".to_owned(),
                Err("this relay cannot list connect links".to_owned()),
            )],
            Err(other) => vec![("links".to_owned(), Err(other.to_string()))],
        };
        Ok(SettingsData {
            auto_send: settings.auto_send,
            hide_comments: settings.hide_comments,
            rules: settings.rules,
            default_reply: settings.default_reply,
            channels: channels.channels,
            credits: credits.balance,
            connect_links,
        })
    }

    /// The settings screen after an owner's change: reloaded when `change` went through,
    /// else why it did not (`failed`, then the error).
    ///
    /// # Errors
    /// The change failed, or reading the settings back did.
    pub async fn settings_after<T>(
        &self,
        tenant: &str,
        change: Result<T, RemoteError>,
        failed: &str,
    ) -> Result<SettingsData, String> {
        match change {
            Ok(_) => self.settings(tenant).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("{failed}: {e}")),
        }
    }

    /// Mints one single-use connect link of `kind` for the tenant; answers its URL.
    ///
    /// # Errors
    /// Network, status or decoding failure.
    pub async fn mint_link(&self, tenant: &str, kind: &str) -> Result<String, RemoteError> {
        let link: LinkJson = self
            .call(
                self.http
                    .post(format!("{}/v1/tenants/{tenant}/connect-links", self.base))
                    .json(&serde_json::json!({ "kind": kind })),
            )
            .await?;
        Ok(link.url)
    }

    /// Turns auto-send on or off.
    ///
    /// # Errors
    /// Network, status or decoding failure.
    pub async fn set_auto_send(&self, tenant: &str, on: bool) -> Result<(), RemoteError> {
        let _: serde_json::Value = self
            .call(
                self.http
                    .put(format!("{}/v1/tenants/{tenant}/settings", self.base))
                    .json(&serde_json::json!({"auto_send": on})),
            )
            .await?;
        Ok(())
    }

    /// Disconnects a channel (owner): its token and subscription are cleared, history kept.
    ///
    /// # Errors
    /// Network or status failure.
    pub async fn disconnect(&self, tenant: &str, channel: &str) -> Result<(), RemoteError> {
        let _: serde_json::Value = self
            .call(self.http.delete(format!(
                "{}/v1/tenants/{tenant}/channels/{channel}",
                self.base
            )))
            .await?;
        Ok(())
    }

    /// The WhatsApp templates of `channel`, as Meta lists them for its business account:
    /// approved ones first, then by name and language.
    ///
    /// # Errors
    /// Network, status or decoding failure (a channel without a WABA id is a refusal in the
    /// relay's words).
    pub async fn templates(
        &self,
        tenant: &str,
        channel: &str,
    ) -> Result<Vec<TemplateLine>, RemoteError> {
        let mut url = reqwest::Url::parse(&self.base)
            .map_err(|e| RemoteError::Network(format!("the relay URL is not usable: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| RemoteError::Network("the relay URL is not usable".into()))?
            .pop_if_empty()
            .extend(["v1", "tenants", tenant, "channels", channel, "templates"]);
        let answer: serde_json::Value = self.call(self.http.get(url)).await?;
        let list = answer["templates"]
            .as_array()
            .ok_or_else(|| RemoteError::Decode("no templates list".into()))?;
        let mut lines: Vec<TemplateLine> =
            list.iter().filter_map(TemplateLine::from_json).collect();
        lines.sort_by(|a, b| {
            (!a.sendable, &a.name, &a.language).cmp(&(!b.sendable, &b.name, &b.language))
        });
        Ok(lines)
    }

    /// The tenant's canned replies, by shortcut, with the business's fields and this agent's
    /// name already filled by the relay.
    ///
    /// # Errors
    /// Network, status or decoding failure.
    pub async fn canned(&self, tenant: &str) -> Result<Vec<CannedLine>, RemoteError> {
        let url = self.tenant_url(tenant, &["canned"])?;
        let answer: serde_json::Value = self.call(self.http.get(url)).await?;
        let list = answer["canned"]
            .as_array()
            .ok_or_else(|| RemoteError::Decode("no canned list".into()))?;
        Ok(list
            .iter()
            .filter_map(|v| {
                Some(CannedLine {
                    shortcut: v["shortcut"].as_str()?.to_owned(),
                    title: v["title"].as_str()?.to_owned(),
                    text: v["text"].as_str()?.to_owned(),
                    filled: v["filled"].as_str()?.to_owned(),
                })
            })
            .collect())
    }

    /// Adds or replaces a canned reply (owner).
    ///
    /// # Errors
    /// Network failure or the relay's refusal (a bad shortcut, an empty text) in its words.
    pub async fn put_canned(
        &self,
        tenant: &str,
        shortcut: &str,
        title: &str,
        text: &str,
    ) -> Result<(), RemoteError> {
        let url = self.tenant_url(tenant, &["canned", shortcut])?;
        let _: serde_json::Value = self
            .call(
                self.http
                    .put(url)
                    .json(&serde_json::json!({"title": title, "text": text})),
            )
            .await?;
        Ok(())
    }

    /// Removes a canned reply (owner).
    ///
    /// # Errors
    /// Network failure or the relay's refusal.
    pub async fn remove_canned(&self, tenant: &str, shortcut: &str) -> Result<(), RemoteError> {
        let url = self.tenant_url(tenant, &["canned", shortcut])?;
        let _: serde_json::Value = self.call(self.http.delete(url)).await?;
        Ok(())
    }

    /// Reads the local file at `path`, checks it against `on`'s limits for `kind`
    /// (`protocol::upload`: nothing over them is read whole or sent), and uploads it to Meta
    /// through the relay's upload route; answers the id to send.
    ///
    /// # Errors
    /// The file cannot be read or breaks a limit (`Refused`), or the relay refused it.
    pub async fn upload(
        &self,
        tenant: &str,
        channel: &str,
        on: protocol::Channel,
        kind: protocol::MediaKind,
        path: &Path,
    ) -> Result<String, RemoteError> {
        let unreadable = |e: std::io::Error| {
            RemoteError::Refused(format!("{} cannot be read: {e}", path.display()))
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| RemoteError::Refused(format!("{} is not a file", path.display())))?;
        let mime = protocol::upload::mime_of(&name).unwrap_or("unknown type");
        let size = tokio::fs::metadata(path).await.map_err(unreadable)?.len();
        protocol::upload::check(on, kind, mime, size).map_err(RemoteError::Refused)?;
        let bytes = tokio::fs::read(path).await.map_err(unreadable)?;
        let mut url = reqwest::Url::parse(&self.base)
            .map_err(|e| RemoteError::Network(format!("the relay URL is not usable: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| RemoteError::Network("the relay URL is not usable".into()))?
            .pop_if_empty()
            .extend(["v1", "tenants", tenant, "channels", channel, "media"]);
        url.query_pairs_mut()
            .append_pair("kind", protocol::upload::kind_name(kind))
            .append_pair("name", &name);
        let request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, mime)
            // A large file on a slow link takes longer than a settings call.
            .timeout(UPLOAD_TIMEOUT)
            .body(bytes);
        let answer: serde_json::Value = self.call(request).await?;
        answer["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| RemoteError::Decode("no media id".into()))
    }

    /// `<relay>/v1/tenants/<tenant>/<rest…>`, each segment encoded as one.
    fn tenant_url(&self, tenant: &str, rest: &[&str]) -> Result<reqwest::Url, RemoteError> {
        let mut url = reqwest::Url::parse(&self.base)
            .map_err(|e| RemoteError::Network(format!("the relay URL is not usable: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| RemoteError::Network("the relay URL is not usable".into()))?
            .pop_if_empty()
            .extend(["v1", "tenants", tenant])
            .extend(rest);
        Ok(url)
    }

    /// Attachment `n` (0-based) of message `message` (its Meta id), through the relay.
    ///
    /// # Errors
    /// Network failure, or the relay refused (not this tenant's, gone, too large).
    pub async fn media(
        &self,
        tenant: &str,
        message: &str,
        n: usize,
    ) -> Result<Fetched, RemoteError> {
        let mut url = reqwest::Url::parse(&self.base)
            .map_err(|e| RemoteError::Network(format!("the relay URL is not usable: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| RemoteError::Network("the relay URL is not usable".into()))?
            .pop_if_empty()
            .extend(["v1", "tenants", tenant, "media", message, &n.to_string()]);
        let response = self
            .http
            .get(url)
            .timeout(MEDIA_TIMEOUT)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(refusal(status, &body));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| RemoteError::Network(e.without_url().to_string()))?;
        Ok(Fetched {
            content_type,
            bytes,
        })
    }

    /// # Errors
    /// Network, status or decoding failure.
    /// The owner's own report (`GET /v1/tenants/{t}/report`), as a report of one business.
    ///
    /// # Errors
    /// Network, status or decoding failure.
    pub async fn tenant_report(&self, tenant: &str) -> Result<ReportData, RemoteError> {
        let answer: serde_json::Value = self
            .call(
                self.http
                    .get(format!("{}/v1/tenants/{tenant}/report", self.base)),
            )
            .await?;
        let days = answer["days"]
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or_default();
        let one: TenantReport =
            serde_json::from_value(answer).map_err(|e| RemoteError::Decode(e.to_string()))?;
        Ok(ReportData {
            brand: None,
            days,
            tenants: vec![one],
        })
    }

    pub async fn report(&self, partner: &str) -> Result<ReportData, RemoteError> {
        self.call(
            self.http
                .get(format!("{}/v1/partners/{partner}/report", self.base)),
        )
        .await
    }
}
