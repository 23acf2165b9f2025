//! `relay simulate`: a stand-in for Meta, for development, demos, staging and end-to-end
//! tests. It serves the Graph endpoints the relay calls with Meta's request validation, answer
//! shapes and error bodies, enforces what Meta enforces (windows, private-reply rules, rate
//! limits, token expiry), posts correctly signed webhooks to the relay (customers acting, and
//! the echoes, read receipts and statuses that follow a send), and records everything it
//! received so tests can assert on exactly what the relay sent.
//!
//! Login flows (Instagram Login, Facebook Login, Embedded Signup, token exchange and
//! refresh) are played by `oauth.rs`, whose module doc lists its routes and `/_sim/oauth`.
//!
//! It does not simulate Messenger (Page)
//! conversations, WhatsApp pair-rate limits or webhook retries over hours; a real Meta is the
//! reference for those. State lives in memory and is gone when the process stops.
//!
//! # Running
//!
//! `relay simulate [--listen ADDR] [--relay-url URL] [--scenario FILE]… [--accounts FILE]
//! [--followup-delay-ms MS]` with `META_APP_SECRET` (required) and `INSTAGRAM_APP_SECRET`
//! (optional) in the environment. Point the relay's `META_GRAPH_URL` and
//! `INSTAGRAM_GRAPH_URL` at `http://<listen>`. The first stdout line is
//! `relay simulate listening on http://ADDR`.
//!
//! # Graph surface (any `/v{N}.{M}` prefix, or none)
//!
//! Tokens: `Authorization: Bearer`, `access_token` in the query or in a JSON / form body.
//! `appsecret_proof` is optional; when given it must be HMAC-SHA256(token) under either app
//! secret. Bodies: JSON, `application/x-www-form-urlencoded` (JSON-valued fields decoded),
//! or `multipart/form-data` (uploads; file parts logged as name, type, size and SHA-256).
//!
//! | route | answer |
//! |---|---|
//! | `POST /{IG_ID\|PAGE_ID\|me}/messages` | Instagram send → `{"recipient_id","message_id"}`; sender actions → `{"recipient_id"}` |
//! | `POST /{PHONE_NUMBER_ID}/messages` | WhatsApp send → `{"messaging_product","contacts":[{"input","wa_id"}],"messages":[{"id","message_status":"accepted"}]}`; mark read → `{"success":true}` |
//! | `POST /{COMMENT_ID}/replies` (`message`) | `{"id"}` |
//! | `GET /{COMMENT_ID}/replies` | `{"data":[{id,text,timestamp,from}]}`, the business's replies, oldest first |
//! | `POST /{COMMENT_ID}?hide=true\|false` | `{"success":true}` |
//! | `GET /{WABA_ID}/message_templates` | `{"data":[{name,language,status,category,components,id}],"paging"}` |
//! | `GET\|POST\|DELETE /{IG_ID\|PAGE_ID\|me}/messenger_profile` | ice breakers / persistent menu |
//! | `GET /{IG_ID\|PAGE_ID\|me}/conversations?platform=instagram&user_id=` | `{"data":[{"id","updated_time"}]}` |
//! | `GET /{CONV_ID}?fields=messages{id,created_time,from,to,message}` | `{"messages":{"data":[…newest first]},"id"}` (also `GET /{CONV_ID}/messages` → `{"data"}`) |
//! | `GET /me`, `GET\|POST\|DELETE /{id\|me}/subscribed_apps` | account identity, subscriptions |
//! | `POST /{PHONE_NUMBER_ID}/media` (multipart: `messaging_product`, `type`, `file`) | `{"id"}` |
//! | `POST /{IG_ID\|PAGE_ID\|me}/message_attachments` (multipart: `platform`, `message` with `is_reusable`, `filedata`) | `{"attachment_id"}` |
//!
//! Instagram-Login accounts are addressed by IG id, Facebook-Login accounts by Page id (the
//! relay's two Graph bases both point here, so the path is what tells the logins apart);
//! `me` works for both. Sends and Conversations API calls answer with
//! `X-Business-Use-Case-Usage` (`{"<id>":[{type, call_count, total_cputime, total_time,
//! estimated_time_to_regain_access}]}`, type `instagram`, `messenger` or
//! `whatsapp_business_messaging`) and `X-App-Usage`, in percent of the bucket used.
//!
//! # Errors: which code for which rule
//!
//! Body `{"error":{"message","type","code","error_subcode"?,"fbtrace_id","error_data"?}}`;
//! `error_subcode` only where Meta has one; `error_data` on WhatsApp errors.
//!
//! | rule | HTTP | code / subcode |
//! |---|---|---|
//! | no token | 400 | 104 |
//! | unknown token | 400 (WhatsApp 401) | 190 / 467 |
//! | expired token (`token_expires_at_ms`, or fault `token_expired`) | 400 (WhatsApp 401) | 190 / 463 |
//! | token of another account, unknown id, an Instagram-Login account addressed by its Page id or a Facebook-Login account by its IG id | 400 | 100 / 33 |
//! | wrong `appsecret_proof` | 400 | 100 |
//! | malformed body (missing recipient, text over 1000 bytes, bad attachment…) | 400 | 100 |
//! | recipient never messaged this account | 400 | 100 / 2018001 |
//! | recipient unavailable (customer `unavailable`) | 400 | 551 / 1545041 |
//! | outside 24 h untagged, or `HUMAN_AGENT` after 7 days, or private reply after 7 days | 400 | 10 / 2534022 (Instagram Login), 10 / 2018278 (Facebook Login) |
//! | `HUMAN_AGENT` not approved (`human_agent = false`) | 400 | 10 |
//! | second private reply to a comment (community-observed subcode, meta-platform.md §9) | 400 | 10 / 2534025 |
//! | Instagram per-second send limits (text 100/s, audio/video 10/s) | 400 | 613 |
//! | private replies over 750/h | 400 | 613 / 2534013 |
//! | Conversations API over 2/s | 400 | 613 |
//! | fault `rate_limit` | 400 | `code` (4 default; 17, 32, 613, 80002, 130429) |
//! | WhatsApp throughput (80/s per number) | 400 | 130429 |
//! | WhatsApp free-form outside 24 h | 400 | 131047 (or 200 + `failed` status with 131047 when `reengagement = "status"`) |
//! | WhatsApp template missing / not approved / wrong language | 400 | 132001 |
//! | WhatsApp template parameter count | 400 | 132000 |
//! | WhatsApp recipient unavailable | 200 | then `failed` status with 131026 |
//! | fault `server_error` | 500 / 503 | 1 / 2 (subcode 1545133) |
//! | fault `timeout` (after holding `ms`, if the client still listens) | 503 | 2 / 1545133 |
//! | a path the simulator does not serve | 400 | 2500 |
//!
//! Windows: the 24 h standard window and the WhatsApp 24 h window run from the customer's
//! last *message* (text, attachment, story reply or mention, quick reply, postback; not
//! reactions or reads) as the simulator posted it; deadlines are inclusive.
//!
//! # Webhooks to the relay
//!
//! `POST {relay}/webhooks/instagram` and `/webhooks/whatsapp`, signed
//! `X-Hub-Signature-256: sha256=<hex>` over the exact bytes, non-ASCII escaped as Meta does.
//! Instagram accounts are signed with `sign_with` (default: the Instagram app secret for
//! Instagram-Login accounts when `INSTAGRAM_APP_SECRET` is set, else the Meta app secret);
//! WhatsApp with the Meta app secret. After a send, with `--followup-delay-ms` between each:
//! Instagram echo (`is_echo`, sender = business), then `read` if the customer `auto_read`s;
//! WhatsApp `sent` → `delivered` → `read` with `biz_opaque_callback_data`; a public comment
//! reply comes back as a `comments` change from the business. Follow-ups are retried like
//! Meta (4 attempts, pauses 0.2 s, 1 s, 3 s); control-API inbound is posted once.
//!
//! # Control API (`/_sim`, JSON)
//!
//! | call | body | answer |
//! |---|---|---|
//! | `GET /_sim/healthz` | | `{"ok":true}` |
//! | `POST /_sim/accounts` | an account or an array (below) | `201 {"accounts":[{"kind","id"}]}` |
//! | `GET /_sim/accounts` | | `{"accounts":[…]}` without tokens |
//! | `POST /_sim/customers` | `{account, id, username?, name?, auto_read?, unavailable?}` or array | `{"customers":[…]}` |
//! | `POST /_sim/inbound` | an action or an array (batched into one webhook per endpoint) | `{"status","dropped","posts":[{"status","statuses","dropped","webhook_seq"}],"ids":{account,customer,at_ms,mid?,comment_id?,conversation_id?,target?},"items":[ids…]}` |
//! | `GET /_sim/calls[?path_kind=&account=&method=]` / `DELETE` | | `{"calls":[{seq,at_ms,method,path,path_kind,account,token,query,body,status,response,faults}],"in_flight":n}` (`n`: calls received, not yet answered and recorded) |
//! | `GET /_sim/webhooks` / `DELETE` | | `{"webhooks":[{seq,at_ms,endpoint,kind,account,signed_with,body,dropped,deliveries:[{status,error}],faults}]}` |
//! | `POST /_sim/faults` | a fault or an array | `201 {"id"}` (or `{"ids"}`) |
//! | `GET /_sim/faults`, `DELETE /_sim/faults`, `DELETE /_sim/faults/{id}` | | |
//! | `POST /_sim/scenario[?wait=false]` | a scenario file's TOML text | the run's results (or `202`) |
//! | `GET /_sim/customers/{id}/inbox[?account=]` | | `{"customer","inbox":[{seq,at_ms,account,customer,channel,kind,message_id,text,content,tag,comment_id}]}` |
//! | `GET /_sim/comments/{id}` | | the comment (private reply used, hidden, replies) |
//! | `POST /_sim/reset` | | forgets everything but accounts |
//! | `GET /_sim/relay`, `PUT /_sim/relay` | `{"url"}` | where webhooks go (move it when the relay restarts on another port) |
//!
//! In records, a token is shown as `account:<id>` (the account it belongs to) or `invalid`.
//! Inbox `kind`: `message`, `private_reply`, `public_reply`, `template`, `reaction`, `unreact`,
//! `action` (typing / mark_seen), `read` (WhatsApp mark-as-read).
//!
//! Accounts: `{"kind":"instagram", ig_id, page_id?, username, token, login:"instagram"|"facebook",
//! token_expires_at_ms?, sign_with?:"meta"|"instagram", human_agent?:true,
//! webhook_entry_id?:"ig_id"|"page_id", limits?}` or `{"kind":"whatsapp", phone_number_id,
//! waba_id, display_phone_number, token, token_expires_at_ms?, templates:[{name, language,
//! status?:"APPROVED", category?:"UTILITY", body?, components?}], reengagement?:"sync"|"status",
//! limits?}`; `limits` = `{text_per_second, media_per_second, private_replies_per_hour,
//! conversations_per_second, whatsapp_per_second}`.
//!
//! Actions: `{account, customer, type, at_ms? | ago?: "23h59m", id?, username?, name?, …}` with
//! `type` one of `text` (`text`, `reply_to?`), `attachment` (`attachments:[{type,url?,caption?}]`),
//! `story_reply` (`text`, `story:{id,url?}`), `story_mention`, `quick_reply` (`text`,
//! `payload?`), `postback` (`title`, `payload?`), `button_reply` (WhatsApp; `title`, `payload?`),
//! `reaction` / `unreact` (`mid?` default the business's last message; `reaction?`, `emoji?`),
//! `read` (Instagram receipt; WhatsApp `read` statuses of everything unread), `unsend` (`mid`),
//! `comment` (`text`, `media_id?`, `parent_id?`, `media_product_type?`), `mention` (Instagram:
//! a `mentions` change, `media_id?` and, for a mention in a comment, `id` as its comment id).
//!
//! Faults: `{kind, ms?, status?, code?, times?, deliver?, path?, account?, webhook?, count?,
//! for_ms?}` with `kind` one of `slow` (`ms`), `server_error` (`status` 500|503), `timeout`
//! (hold `ms`, default 30 s), `rate_limit` (`code`), `token_expired`, `drop_webhooks`,
//! `duplicate_webhooks` (`times`, default 2); `deliver: true` makes a 5xx / timeout strike
//! *after* the message was delivered (Meta did it, the answer was lost); `path` one of
//! `messages`, `replies`, `hide`, `templates`, `conversations`, `messenger_profile`,
//! `account`, `other`; `webhook` one of `inbound`, `echo`, `read`, `status`, `comment`;
//! `count` = the next N matching requests, `for_ms` = from now; neither = until cleared.
//!
//! # Scenario files
//!
//! ```toml
//! name = "demo"
//! description = "…"
//! delay_ms = 300                # pause before each step without its own
//!
//! [[accounts]]                  # exactly the account JSON above, as TOML
//! kind = "instagram"
//! ig_id = "17841400000000001"
//! username = "batiksari.id"
//! token_env = "SIM_IG_TOKEN"    # instead of `token`: read from the environment
//! login = "instagram"
//!
//! [[accounts]]
//! kind = "whatsapp"
//! phone_number_id = "106540352242922"
//! waba_id = "102290129340398"
//! display_phone_number = "6281100000000"
//! token = "demo-wa-token"
//! templates = [{ name = "order_update", language = "id", body = "Halo {{1}}, pesanan {{2}} sudah dikirim." }]
//!
//! [[customers]]                 # optional; lets steps leave out `account`
//! account = "17841400000000001"
//! id = "5300000000000001"
//! username = "rina.putri"
//!
//! [[steps]]                     # a customer action: the action JSON above
//! customer = "5300000000000001"
//! type = "text"
//! text = "Kak, batik tulis yang biru masih ada?"
//! ago = "2h"
//!
//! [[steps]]
//! delay_ms = 1000
//! fault = { kind = "duplicate_webhooks", webhook = "inbound", count = 1 }
//!
//! [[steps]]
//! clear_faults = true
//! ```

pub mod accounts;
pub mod control;
pub mod errors;
pub mod faults;
pub mod followups;
pub mod graph;
pub mod ids;
pub mod inbound;
pub mod oauth;
pub mod ratelimit;
pub mod record;
pub mod scenario;
pub mod state;
pub mod time;
pub mod webhooks;
pub mod window;

use accounts::{AccountSpec, SignWith};
use chatdesk_base::secret::Secret;
use state::State;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use webhooks::Signer;

/// How the simulator runs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Base URL of the relay webhooks go to at start.
    pub relay_url: String,
    pub meta_app_secret: Secret,
    pub instagram_app_secret: Option<Secret>,
    /// Pause before each follow-up webhook (echo, read, statuses).
    pub followup_delay_ms: u64,
}

/// Why the simulator could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Scenario(#[from] scenario::ScenarioError),
}

/// The simulator: its world behind one lock, its configuration and its HTTP client.
pub struct Sim {
    state: Mutex<State>,
    pub config: SimConfig,
    /// Where webhooks go; starts as `config.relay_url`, movable through `PUT /_sim/relay`
    /// (a relay restarted on another port, or a relay started after the simulator).
    relay_url: Mutex<String>,
    pub http: reqwest::Client,
    stopping: watch::Sender<bool>,
    /// The simulator's own base URL (`http://ADDR`), known once `serve` has its listener;
    /// media answers point at it.
    own_url: std::sync::OnceLock<String>,
}

impl Sim {
    #[must_use]
    pub fn new(mut config: SimConfig) -> Arc<Sim> {
        config.relay_url = config.relay_url.trim_end_matches('/').to_owned();
        Arc::new(Sim {
            state: Mutex::new(State::default()),
            relay_url: Mutex::new(config.relay_url.clone()),
            config,
            http: reqwest::Client::new(),
            stopping: watch::channel(false).0,
            own_url: std::sync::OnceLock::new(),
        })
    }

    /// The relay's base URL webhooks go to now.
    #[must_use]
    pub fn relay_url(&self) -> String {
        self.relay_url
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The simulator's own base URL (empty before `serve`).
    #[must_use]
    pub fn own_url(&self) -> &str {
        self.own_url.get().map_or("", String::as_str)
    }

    /// Points webhooks at another relay base URL.
    pub fn set_relay_url(&self, url: &str) {
        *self
            .relay_url
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = url.trim_end_matches('/').to_owned();
    }

    /// The world. A panic while holding the lock cannot leave it half-written in a way that
    /// matters to a simulator, so a poisoned lock is used as is.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The secret a signer signs with (the Meta app secret when no Instagram one is set).
    #[must_use]
    pub fn secret(&self, signer: Signer) -> &str {
        match (signer, &self.config.instagram_app_secret) {
            (Signer::Instagram, Some(s)) => s.expose(),
            _ => self.config.meta_app_secret.expose(),
        }
    }

    /// Adds or replaces an account.
    ///
    /// # Errors
    /// The spec is unusable, or asks to sign with an Instagram app secret that is not set.
    pub fn register(&self, spec: AccountSpec) -> Result<(), String> {
        if let AccountSpec::Instagram(a) = &spec
            && a.sign_with == Some(SignWith::Instagram)
            && self.config.instagram_app_secret.is_none()
        {
            return Err(format!(
                "account {} signs with the Instagram app secret, but INSTAGRAM_APP_SECRET is not set",
                a.ig_id
            ));
        }
        let id = spec.id().to_owned();
        self.lock().register(spec)?;
        tracing::info!(account = %id, "account registered");
        Ok(())
    }

    /// Sleeps `ms`, or less when the simulator is stopping (held requests end promptly).
    pub async fn sleep(&self, ms: u64) {
        let mut rx = self.stopping.subscribe();
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(ms)) => {}
            _ = rx.wait_for(|s| *s) => {}
        }
    }

    /// Wakes every held request and follow-up pause.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }
}

/// The simulator's routes: `/_sim/…` for control, everything else is Graph.
pub fn router(sim: Arc<Sim>) -> axum::Router {
    control::routes()
        .merge(graph::media::routes())
        .merge(oauth::control_routes())
        .fallback(oauth::handle)
        // Meta's upload calls take files up to WhatsApp's 100 MB document limit.
        .layer(axum::extract::DefaultBodyLimit::max(
            usize::try_from(protocol::upload::MAX_UPLOAD_BYTES).unwrap_or(usize::MAX) + 1024 * 1024,
        ))
        .with_state(sim)
}

/// Registers accounts from a file: a scenario file without steps (TOML), or a JSON array
/// of accounts.
///
/// # Errors
/// Unreadable or invalid file.
pub fn load_accounts(sim: &Sim, text: &str, json: bool) -> Result<usize, SimError> {
    let (accounts, customers) = if json {
        let specs: Vec<AccountSpec> = serde_json::from_str(text)
            .map_err(|e| scenario::ScenarioError::Other(format!("accounts file: {e}")))?;
        (specs, Vec::new())
    } else {
        let s = scenario::parse(text, |k| std::env::var(k).ok())?;
        if !s.steps.is_empty() {
            return Err(scenario::ScenarioError::Other(
                "the accounts file has steps; pass it with --scenario instead".into(),
            )
            .into());
        }
        (s.accounts, s.customers)
    };
    let n = accounts.len();
    for spec in accounts {
        sim.register(spec).map_err(scenario::ScenarioError::Other)?;
    }
    for c in &customers {
        inbound::declare_customer(sim, c)
            .map_err(|e| scenario::ScenarioError::Other(e.to_string()))?;
    }
    Ok(n)
}

/// Serves until `shutdown` resolves.
///
/// # Errors
/// The listener fails.
pub async fn serve(
    sim: Arc<Sim>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SimError> {
    if let Ok(addr) = listener.local_addr() {
        // Set once per process: a second `serve` of the same `Sim` keeps the first address.
        let _ = sim.own_url.set(format!("http://{addr}"));
    }
    let stopper = Arc::clone(&sim);
    axum::serve(listener, router(sim))
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopper.stop();
        })
        .await?;
    Ok(())
}
