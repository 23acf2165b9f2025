//! The Meta simulator in end-to-end tests: starts `relay simulate` as a child process (the
//! same binary as the relay) pointed at a relay, and wraps its `/_sim` control API and its
//! Graph endpoints in a typed client.
//!
//! [`world_accounts`] registers simulator accounts that match the harness `World`'s channels
//! (same ids, same access tokens), so a relay set up by `World` and the simulator agree on
//! who is who. [`eventually`] polls a condition with a deadline, so tests never sleep and hope.

use crate::{APP_SECRET, IG_A, IG_APP_SECRET, IG_B, PAGE_A, WA_A, WA_B, World, relay_bin};
use anyhow::{Context as _, bail};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The access token the harness `World` gives tenant A's channels.
pub const TOKEN_A: &str = "EAAG-secret-access-token-Boutique A";
/// The access token the harness `World` gives tenant B's channels.
pub const TOKEN_B: &str = "EAAG-secret-access-token-Bakery B";
/// The WABA ids the simulator gives the World's WhatsApp numbers.
pub const WABA_A: &str = "102290129340398";
pub const WABA_B: &str = "102290129340399";

/// Simulator accounts matching `World`: IG A (Facebook Login through Page A, since its
/// channel has a page), IG B (Instagram Login), WhatsApp A and B with a few templates.
#[must_use]
pub fn world_accounts() -> Value {
    let templates = json!([
        {"name": "order_update", "language": "en_US", "category": "UTILITY",
         "body": "Hi {{1}}, your order {{2}} has shipped."},
        {"name": "order_update", "language": "id", "category": "UTILITY",
         "body": "Halo {{1}}, pesanan {{2}} sudah dikirim."},
        {"name": "spring_sale", "language": "en_US", "category": "MARKETING", "status": "PENDING",
         "body": "Spring sale!"},
    ]);
    json!([
        {"kind": "instagram", "ig_id": IG_A, "page_id": PAGE_A, "username": "boutique_a",
         "token": TOKEN_A, "login": "facebook"},
        {"kind": "instagram", "ig_id": IG_B, "username": "bakery_b", "token": TOKEN_B,
         "login": "instagram"},
        {"kind": "whatsapp", "phone_number_id": WA_A, "waba_id": WABA_A,
         "display_phone_number": "15550001111", "token": TOKEN_A, "templates": templates},
        {"kind": "whatsapp", "phone_number_id": WA_B, "waba_id": WABA_B,
         "display_phone_number": "15550002222", "token": TOKEN_B, "templates": templates},
    ])
}

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub relay_url: String,
    pub log: PathBuf,
    pub followup_delay_ms: u64,
    pub args: Vec<String>,
    /// Whether to pass `INSTAGRAM_APP_SECRET` (the harness relay accepts both secrets).
    pub instagram_secret: bool,
}

impl SimOptions {
    #[must_use]
    pub fn new(relay_url: &str, dir: &Path) -> SimOptions {
        SimOptions {
            relay_url: relay_url.to_owned(),
            log: dir.join("sim.log"),
            followup_delay_ms: 20,
            args: Vec::new(),
            instagram_secret: true,
        }
    }
}

/// A running `relay simulate`.
pub struct Sim {
    child: Child,
    pub url: String,
    pub log: PathBuf,
    pub api: SimApi,
}

impl Sim {
    /// Starts a simulator for the relay at `relay_url`, logging to `dir/sim.log`.
    ///
    /// # Errors
    /// The binary is missing or exits before listening.
    pub async fn start(relay_url: &str, dir: &Path) -> anyhow::Result<Sim> {
        Sim::start_with(&SimOptions::new(relay_url, dir)).await
    }

    /// Starts a simulator with options.
    ///
    /// # Errors
    /// The binary is missing or exits before listening.
    pub async fn start_with(opts: &SimOptions) -> anyhow::Result<Sim> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&opts.log)?;
        let mut cmd = Command::new(relay_bin()?);
        cmd.arg("simulate")
            .args(&opts.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("SIM_LISTEN", "127.0.0.1:0")
            .env("RELAY_PUBLIC_URL", &opts.relay_url)
            .env("SIM_FOLLOWUP_DELAY_MS", opts.followup_delay_ms.to_string())
            .env("META_APP_SECRET", APP_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if opts.instagram_secret {
            cmd.env("INSTAGRAM_APP_SECRET", IG_APP_SECRET);
        }
        let mut child = cmd.spawn().context("cannot start relay simulate")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("simulator did not start within 30 s")??
            .with_context(|| {
                let log = std::fs::read_to_string(&opts.log).unwrap_or_default();
                format!("simulator exited before listening; log:\n{log}")
            })?;
        let url = line
            .strip_prefix("relay simulate listening on ")
            .with_context(|| format!("unexpected first line {line:?}"))?
            .to_owned();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Sim {
            child,
            api: SimApi::new(&url),
            url,
            log: opts.log.clone(),
        })
    }

    /// Environment for a relay that should call this simulator instead of Meta (pass to
    /// `World::with_env`).
    #[must_use]
    pub fn graph_env(&self) -> Vec<(String, String)> {
        vec![
            ("META_GRAPH_URL".to_owned(), self.url.clone()),
            ("INSTAGRAM_GRAPH_URL".to_owned(), self.url.clone()),
        ]
    }

    /// Stops the simulator (it holds nothing durable).
    ///
    /// # Errors
    /// The process cannot be signalled.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// What a Graph endpoint answered.
#[derive(Clone, Debug)]
pub struct GraphAnswer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl GraphAnswer {
    /// `(code, error_subcode)` of an error body.
    #[must_use]
    pub fn error(&self) -> Option<(u64, Option<u64>)> {
        let e = self.body.get("error")?;
        Some((e["code"].as_u64()?, e["error_subcode"].as_u64()))
    }

    /// A usage header parsed as JSON.
    #[must_use]
    pub fn usage(&self, name: &str) -> Option<Value> {
        let h = self.headers.get(name)?.to_str().ok()?;
        serde_json::from_str(h).ok()
    }
}

/// A client for one simulator: control API and Graph endpoints.
#[derive(Clone)]
pub struct SimApi {
    pub url: String,
    pub http: reqwest::Client,
}

impl SimApi {
    #[must_use]
    pub fn new(url: &str) -> SimApi {
        SimApi {
            url: url.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// A control-API call; returns status and JSON.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// A control-API call that must answer `expected`.
    ///
    /// # Errors
    /// Any other status.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expected: u16,
    ) -> anyhow::Result<Value> {
        let (status, json) = self.call(method.clone(), path, body).await?;
        if status != expected {
            bail!("{method} {path}: expected {expected}, got {status}: {json}");
        }
        Ok(json)
    }

    /// Registers accounts (one object or an array).
    ///
    /// # Errors
    /// Refused specs.
    pub async fn accounts(&self, specs: &Value) -> anyhow::Result<Value> {
        self.expect(Method::POST, "/_sim/accounts", Some(specs), 201)
            .await
    }

    /// Points webhooks at a relay (after the relay started, or restarted on another port).
    ///
    /// # Errors
    /// Refused URL.
    pub async fn set_relay(&self, url: &str) -> anyhow::Result<()> {
        self.expect(
            Method::PUT,
            "/_sim/relay",
            Some(&json!({ "url": url })),
            200,
        )
        .await?;
        Ok(())
    }

    /// Declares or updates customers (one object or an array).
    ///
    /// # Errors
    /// Refused specs.
    pub async fn customers(&self, specs: &Value) -> anyhow::Result<Value> {
        self.expect(Method::POST, "/_sim/customers", Some(specs), 200)
            .await
    }

    /// Makes a customer act; answers the relay's status and the ids used.
    ///
    /// # Errors
    /// Refused actions.
    pub async fn inbound(&self, action: &Value) -> anyhow::Result<Value> {
        self.expect(Method::POST, "/_sim/inbound", Some(action), 200)
            .await
    }

    /// A customer of `account` writes `text`; fails unless the relay took the webhook (200).
    ///
    /// # Errors
    /// Refused actions, or the relay answered the webhook with another status.
    pub async fn customer_writes(
        &self,
        account: &str,
        customer: &str,
        text: &str,
    ) -> anyhow::Result<()> {
        let action =
            json!({"account": account, "customer": customer, "type": "text", "text": text});
        let ans = self.inbound(&action).await?;
        if ans["status"] != 200 {
            bail!("the relay did not take the customer's message: {ans}");
        }
        Ok(())
    }

    /// Every Graph call received, in order.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn calls(&self) -> anyhow::Result<Vec<Value>> {
        let v = self.expect(Method::GET, "/_sim/calls", None, 200).await?;
        Ok(v["calls"].as_array().cloned().unwrap_or_default())
    }

    /// The Graph send calls received (`POST …/messages`), in order.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn send_calls(&self) -> anyhow::Result<Vec<Value>> {
        let mut calls = self.calls().await?;
        calls.retain(|c| c["path_kind"] == "messages" && c["method"] == "POST");
        Ok(calls)
    }

    /// How many send calls (`POST …/messages`) the simulator has received and not yet
    /// answered: one whose sender died is still delivered, and only then recorded.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn sends_in_flight(&self) -> anyhow::Result<u64> {
        let v = self
            .expect(
                Method::GET,
                "/_sim/calls?path_kind=messages&method=POST",
                None,
                200,
            )
            .await?;
        v["in_flight"].as_u64().context("no in_flight count")
    }

    /// Forgets the recorded calls.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn clear_calls(&self) -> anyhow::Result<()> {
        self.expect(Method::DELETE, "/_sim/calls", None, 200)
            .await?;
        Ok(())
    }

    /// Every webhook posted (or dropped), in order.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn webhooks(&self) -> anyhow::Result<Vec<Value>> {
        let v = self
            .expect(Method::GET, "/_sim/webhooks", None, 200)
            .await?;
        Ok(v["webhooks"].as_array().cloned().unwrap_or_default())
    }

    /// Switches a fault on; returns its id.
    ///
    /// # Errors
    /// Refused spec.
    pub async fn fault(&self, spec: &Value) -> anyhow::Result<String> {
        let v = self
            .expect(Method::POST, "/_sim/faults", Some(spec), 201)
            .await?;
        v["id"].as_str().map(str::to_owned).context("fault id")
    }

    /// Switches every fault off.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn clear_faults(&self) -> anyhow::Result<()> {
        self.expect(Method::DELETE, "/_sim/faults", None, 200)
            .await?;
        Ok(())
    }

    /// Plays a scenario (TOML text) to the end; answers its results.
    ///
    /// # Errors
    /// Refused scenario.
    pub async fn scenario(&self, toml: &str) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(format!("{}/_sim/scenario", self.url))
            .header("content-type", "application/toml")
            .body(toml.to_owned())
            .send()
            .await?;
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if status != 200 {
            bail!("scenario: {status}: {v}");
        }
        Ok(v)
    }

    /// What a customer received, in order.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn inbox(&self, customer: &str) -> anyhow::Result<Vec<Value>> {
        let v = self
            .expect(
                Method::GET,
                &format!("/_sim/customers/{customer}/inbox"),
                None,
                200,
            )
            .await?;
        Ok(v["inbox"].as_array().cloned().unwrap_or_default())
    }

    /// A comment's state (private reply used, hidden, replies).
    ///
    /// # Errors
    /// Unknown comment.
    pub async fn comment(&self, id: &str) -> anyhow::Result<Value> {
        self.expect(Method::GET, &format!("/_sim/comments/{id}"), None, 200)
            .await
    }

    /// A Graph call as the relay's outbox makes it: JSON body, bearer token.
    ///
    /// # Errors
    /// Connection failures and timeouts.
    pub async fn graph(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<GraphAnswer> {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.answer(req).await
    }

    /// Sends a prepared request and reads Graph's answer.
    ///
    /// # Errors
    /// Connection failures and timeouts.
    pub async fn answer(&self, req: reqwest::RequestBuilder) -> anyhow::Result<GraphAnswer> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        Ok(GraphAnswer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        })
    }
}

pub use crate::eventually;

/// A relay whose Graph URLs point at a simulator that knows the World's accounts: what the
/// tests that send (or otherwise need Meta to answer) start from.
///
/// The simulator starts first, because the relay is configured with its URL; it is then
/// pointed at the relay, and again after every restart (the relay comes back on another
/// port): [`SimWorld::start_again`].
pub struct SimWorld {
    pub w: World,
    pub sim: Sim,
    /// Holds the simulator's log; removed on drop.
    pub dir: tempfile::TempDir,
}

impl SimWorld {
    /// `customer` writes `text` to tenant B's WhatsApp number; answers the thread once the
    /// relay lists it (within `within`).
    ///
    /// # Errors
    /// The relay refused the message or never listed its thread.
    pub async fn whatsapp_b_writes(
        &self,
        customer: &str,
        text: &str,
        within: Duration,
    ) -> anyhow::Result<protocol::ThreadId> {
        self.sim.api.customer_writes(WA_B, customer, text).await?;
        self.w.thread_of(&self.w.b, customer, within).await
    }

    /// Waits until tenant B's reply `i` of `thread` is in send state `state` (`sent`,
    /// `failed`…).
    ///
    /// # Errors
    /// It is not within `within`, or the relay refused the read.
    pub async fn b_reply_reaches(
        &self,
        thread: &protocol::ThreadId,
        i: usize,
        state: &str,
        within: Duration,
    ) -> anyhow::Result<()> {
        let t = &self.w.b;
        let path = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
        eventually(&format!("reply {i} {state}"), within, || async {
            let v = self
                .w
                .api
                .expect(Method::GET, &path, &t.agent_token, None, 200)
                .await?;
            Ok((v["sends"][i]["state"] == state).then_some(()))
        })
        .await
    }

    /// The simulator with the World's accounts, then the relay, then the simulator pointed
    /// at the relay.
    ///
    /// # Errors
    /// Start-up or registration failures.
    pub async fn start() -> anyhow::Result<SimWorld> {
        let dir = tempfile::tempdir()?;
        let sim = SimWorld::simulator(dir.path()).await?;
        SimWorld::relay_for(sim, dir, Vec::new()).await
    }

    /// Step one of [`SimWorld::start`], for tests that prepare the simulator further before
    /// the relay starts: a simulator logging into `dir` with the World's accounts, pointed
    /// at no relay yet.
    ///
    /// # Errors
    /// Start-up or registration failures.
    pub async fn simulator(dir: &Path) -> anyhow::Result<Sim> {
        // Nothing listens on the discard port: webhooks before `set_relay` go nowhere.
        let sim = Sim::start("http://127.0.0.1:9", dir).await?;
        sim.api.accounts(&world_accounts()).await?;
        Ok(sim)
    }

    /// Step two: a World whose relay calls `sim` (with `extra_env` after the Graph URLs),
    /// and `sim` pointed at it.
    ///
    /// # Errors
    /// Start-up or registration failures.
    pub async fn relay_for(
        sim: Sim,
        dir: tempfile::TempDir,
        extra_env: Vec<(String, String)>,
    ) -> anyhow::Result<SimWorld> {
        let mut env = sim.graph_env();
        env.extend(extra_env);
        let w = World::with_tokens(env).await?;
        sim.api.set_relay(&w.api.url).await?;
        Ok(SimWorld { w, sim, dir })
    }

    /// Starts the relay again on its data (after `stop` or `kill9`) and repoints the
    /// simulator at it.
    ///
    /// # Errors
    /// Start-up failures.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        start_again(&mut self.w, &self.sim).await
    }
}

/// Starts `w`'s relay again on its data (after `stop` or `kill9`) and repoints `sim` at it,
/// since the relay comes back on another port.
///
/// # Errors
/// Start-up failures.
pub async fn start_again(w: &mut World, sim: &Sim) -> anyhow::Result<()> {
    w.start_again().await?;
    sim.api.set_relay(&w.api.url).await
}
