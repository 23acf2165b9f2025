//! The end-to-end harness: starts the real `relay` binary on loopback with a fresh data
//! directory, signs webhooks the way Meta does, and wraps the admin API.
//!
//! Tests use [`World`]: one relay, one partner, two tenants (A and B) with the Instagram
//! and WhatsApp accounts the fixtures in `tests/fixtures/meta/` are addressed to.

pub mod bench;
pub mod connect;
pub mod desk;
pub mod proxy;
pub mod sim;
pub mod tls;

use anyhow::{Context as _, bail};
use hmac::{Hmac, Mac};
use relay::store::pg::testdb::TestDb;
use serde_json::{Value, json};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789";
pub const APP_SECRET: &str = "test-meta-app-secret";
pub const IG_APP_SECRET: &str = "test-instagram-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
/// base64 of 32 bytes of 7.
pub const MASTER_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

pub const IG_A: &str = "17841400000000001";
pub const PAGE_A: &str = "100000000000001";
pub const IG_B: &str = "17841400000000002";
pub const WA_A: &str = "106540352242922";
pub const WA_B: &str = "106540352242923";
pub const IG_UNKNOWN: &str = "17841499999999999";

/// Milliseconds since the Unix epoch, now (for webhooks inside the messaging window).
#[must_use]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A customer's Instagram DM to `account`, as Meta posts it, sent at `at` (ms).
#[must_use]
pub fn ig_dm(account: &str, mid: &str, customer: &str, text: &str, at: i64) -> Vec<u8> {
    json!({
        "object": "instagram",
        "entry": [{
            "id": account,
            "time": at,
            "messaging": [{
                "sender": {"id": customer},
                "recipient": {"id": account},
                "timestamp": at,
                "message": {"mid": mid, "text": text},
            }],
        }],
    })
    .to_string()
    .into_bytes()
}

/// A customer's WhatsApp text `id` from `from` to the number `phone_number_id`, as Meta
/// posts it.
#[must_use]
pub fn wa_text(phone_number_id: &str, id: &str, from: &str, text: &str) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
            "contacts": [{"profile": {"name": "Sheena"}, "wa_id": from}],
            "messages": [{"from": from, "id": id, "timestamp": "1734004967",
                          "type": "text", "text": {"body": text}}],
        }}]}],
    })
    .to_string()
    .into_bytes()
}

/// `X-Hub-Signature-256` for `body` under `secret`.
#[must_use]
pub fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The workspace's `target/<profile>` directory, found from the running test binary.
fn target_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test-binary>
    let deps = exe.parent().context("test binary has no directory")?;
    let profile = if deps.ends_with("deps") {
        deps.parent()
    } else {
        Some(deps)
    };
    profile
        .map(Path::to_path_buf)
        .context("cannot locate the target directory")
}

/// The `relay` binary under test: `RELAY_BIN`, or the one cargo built beside this test.
///
/// # Errors
/// When neither exists; the message says how to build it.
pub fn relay_bin() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("RELAY_BIN") {
        return Ok(PathBuf::from(p));
    }
    let path = target_dir()?.join("relay");
    if !path.exists() {
        bail!(
            "{} is missing: run `cargo build -p relay` first (cargo test --workspace does)",
            path.display()
        );
    }
    Ok(path)
}

/// The `desk` binary under test: `DESK_BIN`, or the one cargo built beside this test.
///
/// # Errors
/// When neither exists; the message says how to build it.
pub fn desk_bin() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("DESK_BIN") {
        return Ok(PathBuf::from(p));
    }
    let path = target_dir()?.join("desk");
    if !path.exists() {
        bail!(
            "{} is missing: run `cargo build -p desk-tui` first (cargo test --workspace does)",
            path.display()
        );
    }
    Ok(path)
}

/// A running relay process.
pub struct Relay {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

/// How to start a relay.
#[derive(Clone)]
pub struct RelayOptions {
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub extra_env: Vec<(String, String)>,
}

impl Relay {
    /// Starts the relay and waits for its "listening" line.
    ///
    /// # Errors
    /// The binary is missing or exits before listening.
    pub async fn start(opts: &RelayOptions) -> anyhow::Result<Relay> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&opts.log)?;
        let mut cmd = Command::new(relay_bin()?);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("RELAY_LISTEN", "127.0.0.1:0")
            .env("RELAY_DATA_DIR", &opts.data_dir)
            .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env("RELAY_MASTER_KEY", MASTER_KEY)
            .env("META_APP_ID", "1000000000001")
            .env("META_APP_SECRET", APP_SECRET)
            .env("INSTAGRAM_APP_SECRET", IG_APP_SECRET)
            .env("META_VERIFY_TOKEN", VERIFY_TOKEN)
            // Tests move the relay's time (`World::advance_clock`) instead of sleeping.
            .env("RELAY_TEST_CLOCK", "1")
            // Never Meta's real hosts from a test: sends without a simulator are refused
            // at once (port 9 is discard; nothing listens there on loopback).
            .env("META_GRAPH_URL", "http://127.0.0.1:9")
            .env("INSTAGRAM_GRAPH_URL", "http://127.0.0.1:9")
            .envs(opts.extra_env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("cannot start relay")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .context("relay did not start within 30 s")??
            .with_context(|| {
                let log = std::fs::read_to_string(&opts.log).unwrap_or_default();
                format!("relay exited before listening; log:\n{log}")
            })?;
        let url = line
            .strip_prefix("relay listening on ")
            .with_context(|| format!("unexpected first line {line:?}"))?
            .to_owned();
        // Keep draining stdout so the relay never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Relay {
            child,
            url,
            log: opts.log.clone(),
        })
    }

    /// `kill -9`: no chance to flush anything.
    ///
    /// # Errors
    /// The process cannot be signalled.
    pub async fn kill9(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// SIGTERM and wait for a clean exit.
    ///
    /// # Errors
    /// The process does not exit cleanly.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.child.id().context("relay already exited")?;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let exit = tokio::time::timeout(std::time::Duration::from_secs(30), self.child.wait())
            .await
            .context("relay did not stop within 30 s of SIGTERM")??;
        if !exit.success() {
            bail!("relay exited with {exit}");
        }
        Ok(())
    }

    /// The process id, for tests that signal it themselves.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// An HTTP client bound to one relay.
#[derive(Clone)]
pub struct Api {
    pub url: String,
    pub http: reqwest::Client,
}

impl Api {
    #[must_use]
    pub fn new(url: &str) -> Api {
        Api {
            url: url.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// A client for an `https://` relay whose certificate `ca_pem` issued (`None`: plain).
    ///
    /// # Errors
    /// The CA is not PEM.
    pub fn with_ca(url: &str, ca_pem: Option<&str>) -> anyhow::Result<Api> {
        Ok(Api {
            url: url.to_owned(),
            http: match ca_pem {
                Some(pem) => tls::reqwest_client(pem)?,
                None => reqwest::Client::new(),
            },
        })
    }

    /// Sends a request with an optional bearer token; returns status and JSON (or Null).
    ///
    /// # Errors
    /// Connection failures.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
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

    /// A call that must succeed with `expected`; returns the JSON.
    ///
    /// # Errors
    /// Any other status.
    pub async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        expected: u16,
    ) -> anyhow::Result<Value> {
        let (status, json) = self
            .call(method.clone(), path, Some(token), body.as_ref())
            .await?;
        if status != expected {
            bail!("{method} {path}: expected {expected}, got {status}: {json}");
        }
        Ok(json)
    }

    /// Posts raw bytes to `/webhooks/<endpoint>` with the given signature header.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn webhook_raw(
        &self,
        endpoint: &str,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> anyhow::Result<u16> {
        Ok(self
            .webhook_request(endpoint, body, signature)
            .send()
            .await?
            .status()
            .as_u16())
    }

    fn webhook_request(
        &self,
        endpoint: &str,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(format!("{}/webhooks/{endpoint}", self.url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = signature {
            req = req.header("x-hub-signature-256", s);
        }
        req
    }

    /// Posts `body` signed with the Meta app secret and answers the whole response, for
    /// tests that read a refusal's headers and JSON.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn webhook_response(
        &self,
        endpoint: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<reqwest::Response> {
        let signature = sign(&body, APP_SECRET);
        Ok(self
            .webhook_request(endpoint, body, Some(signature))
            .send()
            .await?)
    }

    /// Posts `body` signed with the Meta app secret.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn webhook(&self, endpoint: &str, body: &[u8]) -> anyhow::Result<u16> {
        self.webhook_raw(endpoint, body.to_vec(), Some(sign(body, APP_SECRET)))
            .await
    }

    /// Every event of a tenant, paging through the log.
    ///
    /// # Errors
    /// Any failed call.
    /// The tenant's head sequence number, as the operator sees it.
    ///
    /// # Errors
    /// The call fails or the answer has no head.
    pub async fn head(&self, tenant: &str) -> anyhow::Result<u64> {
        let page = self
            .expect(
                reqwest::Method::GET,
                &format!("/v1/tenants/{tenant}/events?after=0&limit=1"),
                OPERATOR_TOKEN,
                None,
                200,
            )
            .await?;
        page["head"].as_u64().context("head")
    }

    /// The relay's verdict on `tenant`'s evidence chain; fails unless the chain is whole
    /// (`ok` true and no `first_bad`).
    pub async fn audit_ok(&self, tenant: &str, token: &str) -> anyhow::Result<Value> {
        let verdict = self
            .expect(
                reqwest::Method::GET,
                &format!("/v1/tenants/{tenant}/audit/verify"),
                token,
                None,
                200,
            )
            .await?;
        anyhow::ensure!(
            verdict["ok"] == true && verdict["first_bad"].is_null(),
            "the evidence chain is broken: {verdict}"
        );
        Ok(verdict)
    }

    pub async fn all_events(&self, tenant: &str, token: &str) -> anyhow::Result<Vec<Value>> {
        let mut out: Vec<Value> = Vec::new();
        loop {
            let after = out.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0);
            let page = self
                .expect(
                    reqwest::Method::GET,
                    &format!("/v1/tenants/{tenant}/events?after={after}&limit=5000"),
                    token,
                    None,
                    200,
                )
                .await?;
            let events = page["events"].as_array().cloned().unwrap_or_default();
            if events.is_empty() {
                return Ok(out);
            }
            out.extend(events);
        }
    }
}

/// The kind name of an event as the relay returns it in JSON.
///
/// # Errors
/// The JSON is not a protocol `Event`.
pub fn kind_of(event: &Value) -> anyhow::Result<&'static str> {
    let e: protocol::Event = serde_json::from_value(event.clone())?;
    Ok(e.body.kind_name())
}

/// A tenant with its ids and tokens.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    pub owner_token: String,
    pub agent_token: String,
}

/// A relay with a partner, two tenants and their channels, as the fixtures expect.
pub struct World {
    pub dir: tempfile::TempDir,
    pub relay: Option<Relay>,
    pub api: Api,
    pub options: RelayOptions,
    pub partner: String,
    pub a: Tenant,
    pub b: Tenant,
    /// Every token handed out, for the "no secret in any output" check.
    pub secrets: Vec<String>,
    /// The CA that issued the relay's certificate, when it serves TLS.
    pub ca_pem: Option<String>,
    /// The relay's database when the suite runs on PostgreSQL (`CHATDESK_TEST_STORAGE`);
    /// dropped, and so removed, after the relay.
    pub db: Option<TestDb>,
}

/// Whether any row of any table of the database at `url` holds `needle` (in a text or bytea
/// column), read as the tables' owner.
///
/// # Errors
/// The database cannot be read.
pub async fn db_contains(url: &str, needle: &str) -> anyhow::Result<bool> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text
             FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type IN ('text', 'bytea')",
            &[],
        )
        .await?;
    for c in &columns {
        let (table, column, kind): (String, String, String) = (c.get(0), c.get(1), c.get(2));
        let needle_sql = if kind == "bytea" {
            "convert_to($1, 'UTF8')"
        } else {
            "$1"
        };
        let sql = format!(
            "SELECT count(*) FROM \"{table}\" WHERE position({needle_sql} in \"{column}\") > 0"
        );
        let n: i64 = client.query_one(&sql, &[&needle]).await?.get(0);
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether end-to-end relays keep their data in PostgreSQL: `CHATDESK_TEST_STORAGE=postgres`
/// (each relay gets a fresh database), else sled in the test's directory.
#[must_use]
pub fn on_postgres() -> bool {
    std::env::var("CHATDESK_TEST_STORAGE").is_ok_and(|v| v == "postgres")
}

impl World {
    /// Starts a relay and registers tenants A and B.
    ///
    /// # Errors
    /// Start-up or registration failures.
    pub async fn new() -> anyhow::Result<World> {
        Self::with_env(Vec::new()).await
    }

    /// Like [`World::new`] with extra environment for the relay.
    ///
    /// # Errors
    /// Start-up or registration failures.
    pub async fn with_env(extra_env: Vec<(String, String)>) -> anyhow::Result<World> {
        Self::build(extra_env, None, false).await
    }

    /// Like [`World::with_env`] for a relay whose Graph URLs point at a simulator that knows
    /// the World's accounts (`sim::world_accounts`): the channels get their access tokens,
    /// which the relay checks with the simulator before saving them.
    ///
    /// # Errors
    /// Start-up or registration failures.
    pub async fn with_tokens(extra_env: Vec<(String, String)>) -> anyhow::Result<World> {
        Self::build(extra_env, None, true).await
    }

    /// Like [`World::with_env`] for a relay serving TLS with a certificate issued by
    /// `ca_pem` (given in `extra_env` as `RELAY_TLS_CERT`/`RELAY_TLS_KEY`).
    ///
    /// # Errors
    /// Start-up or registration failures.
    pub async fn with_tls(
        extra_env: Vec<(String, String)>,
        ca_pem: Option<String>,
    ) -> anyhow::Result<World> {
        Self::build(extra_env, ca_pem, false).await
    }

    async fn build(
        extra_env: Vec<(String, String)>,
        ca_pem: Option<String>,
        with_tokens: bool,
    ) -> anyhow::Result<World> {
        let dir = tempfile::tempdir()?;
        let mut extra_env = extra_env;
        let db = if on_postgres() {
            let db = TestDb::create().await?;
            extra_env.push(("RELAY_STORAGE".into(), "postgres".into()));
            extra_env.push(("DATABASE_URL".into(), db.url().to_owned()));
            Some(db)
        } else {
            None
        };
        let options = RelayOptions {
            data_dir: dir.path().join("data"),
            log: dir.path().join("relay.log"),
            extra_env,
        };
        let relay = Relay::start(&options).await?;
        let api = Api::with_ca(&relay.url, ca_pem.as_deref())?;
        let post = reqwest::Method::POST;
        let partner = api
            .expect(
                post.clone(),
                "/v1/partners",
                OPERATOR_TOKEN,
                Some(json!({"name": "Agency", "brand": "Agency Desk"})),
                201,
            )
            .await?["id"]
            .as_str()
            .context("partner id")?
            .to_owned();
        let mut secrets = vec![
            OPERATOR_TOKEN.to_owned(),
            APP_SECRET.to_owned(),
            IG_APP_SECRET.to_owned(),
            VERIFY_TOKEN.to_owned(),
            MASTER_KEY.to_owned(),
        ];
        let mut tenants = Vec::new();
        for (name, ig, page, wa, waba) in [
            ("Boutique A", IG_A, Some(PAGE_A), WA_A, sim::WABA_A),
            ("Bakery B", IG_B, None, WA_B, sim::WABA_B),
        ] {
            let id = api
                .expect(
                    post.clone(),
                    &format!("/v1/partners/{partner}/tenants"),
                    OPERATOR_TOKEN,
                    Some(json!({"name": name})),
                    201,
                )
                .await?["id"]
                .as_str()
                .context("tenant id")?
                .to_owned();
            let token = |role: &'static str| {
                let api = api.clone();
                let id = id.clone();
                async move {
                    let v = api
                        .expect(
                            reqwest::Method::POST,
                            &format!("/v1/tenants/{id}/agents"),
                            OPERATOR_TOKEN,
                            Some(json!({"name": role, "role": role})),
                            201,
                        )
                        .await?;
                    v["token"].as_str().map(str::to_owned).context("token")
                }
            };
            let owner_token = token("owner").await?;
            let agent_token = token("agent").await?;
            // Channels by raw id are the operator's; an access token is saved only once Meta
            // (the simulator) confirms it belongs to the ids, so only a World with a
            // simulator gets tokens.
            let access_token = format!("EAAG-secret-access-token-{name}");
            let token = with_tokens.then_some(access_token.as_str());
            api.expect(post.clone(), &format!("/v1/tenants/{id}/channels"), OPERATOR_TOKEN,
                Some(json!({"kind": "instagram", "account_id": ig, "page_id": page, "username": "shop", "access_token": token})), 201).await?;
            api.expect(post.clone(), &format!("/v1/tenants/{id}/channels"), OPERATOR_TOKEN,
                Some(json!({"kind": "whatsapp", "phone_number_id": wa, "waba_id": waba, "access_token": token})), 201).await?;
            secrets.extend([owner_token.clone(), agent_token.clone(), access_token]);
            tenants.push(Tenant {
                id,
                owner_token,
                agent_token,
            });
        }
        let b = tenants.pop().context("tenant b")?;
        let a = tenants.pop().context("tenant a")?;
        Ok(World {
            dir,
            relay: Some(relay),
            api,
            options,
            partner,
            a,
            b,
            secrets,
            ca_pem,
            db,
        })
    }

    /// Restarts the relay on the same data directory (after `stop` or `kill9`).
    ///
    /// # Errors
    /// Start-up failures.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        let relay = Relay::start(&self.options).await?;
        self.api = Api::with_ca(&relay.url, self.ca_pem.as_deref())?;
        self.relay = Some(relay);
        Ok(())
    }

    /// Stops the relay cleanly.
    ///
    /// # Errors
    /// The relay does not exit cleanly.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        match self.relay.take() {
            Some(r) => r.stop().await,
            None => Ok(()),
        }
    }

    /// Adds `add` credits to `t` as the operator; answers the new balance.
    ///
    /// # Errors
    /// The relay refused the top-up.
    pub async fn top_up(&self, t: &Tenant, add: i64) -> anyhow::Result<i64> {
        let v = self
            .api
            .expect(
                reqwest::Method::POST,
                &format!("/v1/tenants/{}/credits", t.id),
                OPERATOR_TOKEN,
                Some(json!({ "add": add })),
                200,
            )
            .await?;
        v["balance"].as_i64().context("no balance in the answer")
    }

    /// Polls `t`'s thread list (as its agent) until `customer`'s thread satisfies `done`,
    /// for at most `within`; answers the thread JSON.
    ///
    /// # Errors
    /// The deadline passed, or the list could not be read.
    pub async fn thread_when(
        &self,
        t: &Tenant,
        customer: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let path = format!("/v1/tenants/{}/threads", t.id);
        eventually("the customer's thread", within, || async {
            let v = self
                .api
                .expect(reqwest::Method::GET, &path, &t.agent_token, None, 200)
                .await?;
            Ok(v["threads"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|th| th["customer"]["id"] == customer && done(th))
                .cloned())
        })
        .await
    }

    /// Waits (at most `within`) for `customer`'s thread on `t`; answers its id.
    ///
    /// # Errors
    /// The deadline passed, or the list could not be read.
    pub async fn thread_of(
        &self,
        t: &Tenant,
        customer: &str,
        within: Duration,
    ) -> anyhow::Result<protocol::ThreadId> {
        let thread = self.thread_when(t, customer, within, |_| true).await?;
        thread["id"]
            .as_str()
            .map(protocol::ThreadId::new)
            .with_context(|| format!("a thread without an id: {thread}"))
    }

    /// The value of one metric sample, scraped with the operator's token (`name` includes
    /// labels, e.g. `x{reason="slow"}`); 0 when absent.
    ///
    /// # Errors
    /// The scrape failed.
    pub async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = self.metrics_text().await?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0))
    }

    /// The whole `/metrics` page, scraped with the operator's token.
    ///
    /// # Errors
    /// The scrape failed.
    pub async fn metrics_text(&self) -> anyhow::Result<String> {
        Ok(self
            .api
            .http
            .get(format!("{}/metrics", self.api.url))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    /// Moves the relay's clock `ms` forward (`POST /_test/clock`); answers its new now.
    ///
    /// # Errors
    /// The relay refused.
    pub async fn advance_clock(&self, ms: i64) -> anyhow::Result<i64> {
        let v = self
            .api
            .expect(
                reqwest::Method::POST,
                "/_test/clock",
                OPERATOR_TOKEN,
                Some(json!({ "advance_ms": ms })),
                200,
            )
            .await?;
        v["now"].as_i64().context("no `now` in the clock's answer")
    }

    /// Fails if any secret or token ever appeared in the relay's log.
    ///
    /// # Errors
    /// The log holds a secret.
    pub fn assert_log_has_no_secrets(&self) -> anyhow::Result<()> {
        let log = std::fs::read_to_string(&self.options.log)?;
        for s in &self.secrets {
            if log.contains(s.as_str()) {
                bail!("a secret leaked into the relay log");
            }
        }
        Ok(())
    }
}

/// Polls `check` until it yields `Some`, or fails after `within` naming `what`.
///
/// # Errors
/// The deadline passed, or `check` failed.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
