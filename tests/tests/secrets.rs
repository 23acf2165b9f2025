//! No secret in any output (issue 7): one representative full flow against a real relay and
//! simulator, with distinctive secrets everywhere — access tokens given through the admin
//! API and the CLI, an Instagram account connected through the simulator's OAuth (so the
//! relay holds tokens it minted nobody typed), signed webhooks, drafting, approvals and sends
//! through the outbox, a failing send, a refused command, admin reads and error answers, the
//! operator CLI, metrics and health, and finally the relay's own log after a graceful stop.
//!
//! Every byte the relay produced for the test is kept as `(source, bytes)`: HTTP answers
//! with their headers, every desk frame's raw payload in both subprotocols, the CLI's stdout
//! and stderr, the log. Then each is scanned for every secret: channel access tokens, the
//! Meta and Instagram app secrets, the verify token, the master key (base64, raw and hex),
//! the operator token, every agent and viewer token (allowed only in the one answer that
//! created it), and the prefixes of the tokens the simulator mints (their text is never shown
//! to anyone, the test included). A failure names the source and the kind of secret, never
//! the secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::connect::{ConnectSetup, ConnectWorld, IG_APP_ID, IG_NEW, MINTED, ig_new_account};
use harness::desk::{BINARY, JSON, RawDesk};
use harness::sim::eventually;
use harness::{
    APP_SECRET, IG_A, IG_APP_SECRET, IG_B, MASTER_KEY, OPERATOR_TOKEN, Tenant, VERIFY_TOKEN, WA_B,
    ig_dm, now_ms, sign,
};
use protocol::{Answer, Command, Rejection, Seq, ServerFrame, ThreadId};
use reqwest::Method;
use serde_json::{Value, json};
use std::ops::Deref;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
/// An Instagram-Login account registered through `relay admin channels instagram`.
const IG_CLI: &str = "17841400000000555";
const CLI_TOKEN: &str = "IGAA-secret-cli-channel-token-5c1d0e9b";
/// A WhatsApp number registered through the admin API.
const WA_EXTRA: &str = "106540352242555";
const WABA_EXTRA: &str = "102290129340555";
const EXTRA_TOKEN: &str = "EAAG-secret-extra-whatsapp-token-8e4f2a71";

/// A request the test makes for its answer: source name, method, path, token, body.
type Request<'a> = (&'a str, Method, String, Option<&'a str>, Option<Value>);

/// Everything the relay said, by where it said it.
#[derive(Default)]
struct Outputs {
    items: Vec<(String, Vec<u8>)>,
}

impl Outputs {
    fn add(&mut self, source: impl Into<String>, bytes: impl AsRef<[u8]>) {
        self.items.push((source.into(), bytes.as_ref().to_vec()));
    }

    fn find(&self, source: &str) -> &[u8] {
        &self
            .items
            .iter()
            .find(|(s, _)| s == source)
            .unwrap_or_else(|| panic!("no output named {source}"))
            .1
    }
}

/// A secret to look for, by a name that may be printed.
struct Needle {
    what: String,
    bytes: Vec<u8>,
    /// The one source allowed to hold it (the answer that created it).
    allowed_in: Option<String>,
}

fn needle(what: impl Into<String>, bytes: impl AsRef<[u8]>) -> Needle {
    Needle {
        what: what.into(),
        bytes: bytes.as_ref().to_vec(),
        allowed_in: None,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Names every (source, secret) pair that leaked, without the secret.
fn leaks(outputs: &Outputs, needles: &[Needle]) -> Vec<String> {
    let mut found = Vec::new();
    for (source, bytes) in &outputs.items {
        for n in needles {
            if n.allowed_in.as_deref() != Some(source.as_str()) && contains(bytes, &n.bytes) {
                found.push(format!("{} in {source}", n.what));
            }
        }
    }
    found
}

fn headers_text(resp: &reqwest::Response) -> String {
    resp.headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

/// The connect world, with every answer the test reads kept in `out`.
struct Fx {
    c: ConnectWorld,
    out: Outputs,
}

impl Deref for Fx {
    type Target = ConnectWorld;
    fn deref(&self) -> &ConnectWorld {
        &self.c
    }
}

async fn setup() -> Fx {
    let c = ConnectWorld::start(ConnectSetup {
        accounts: vec![
            ig_new_account(),
            json!({"kind": "instagram", "ig_id": IG_CLI, "username": "batik_e", "token": CLI_TOKEN,
                   "login": "instagram"}),
            json!({"kind": "whatsapp", "phone_number_id": WA_EXTRA, "waba_id": WABA_EXTRA,
                   "display_phone_number": "15550005555", "token": EXTRA_TOKEN}),
        ],
        oauth: json!({"instagram_app_id": IG_APP_ID, "meta_app_id": "1000000000001",
                      "instagram_accounts": [IG_NEW]}),
        instagram: true,
        facebook: true,
        ..ConnectSetup::default()
    })
    .await
    .unwrap();
    Fx {
        c,
        out: Outputs::default(),
    }
}

impl Fx {
    /// Sends a prepared request; keeps the answer's headers and body under `source`.
    async fn keep(&mut self, source: &str, req: reqwest::RequestBuilder) -> (u16, String) {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = headers_text(&resp);
        let body = resp.text().await.unwrap();
        self.out.add(source, format!("{headers}\n{body}"));
        (status, body)
    }

    /// A relay call with an optional bearer token and JSON body, kept under `source`;
    /// answers status and JSON (a string when the body is not JSON).
    async fn call(
        &mut self,
        source: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.w.api.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, text) = self.keep(source, req).await;
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    /// Like `call`, but the status must be `expected`.
    async fn expect(
        &mut self,
        source: &str,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        expected: u16,
    ) -> Value {
        let (status, json) = self.call(source, method, path, Some(token), body).await;
        assert_eq!(status, expected, "{source}: {json}");
        json
    }

    /// `relay admin --url <relay> <args>` with `operator` as its token; keeps stdout and
    /// stderr apart.
    async fn cli(&mut self, source: &str, operator: &str, args: &[&str]) -> std::process::Output {
        let out = tokio::process::Command::new(harness::relay_bin().unwrap())
            .args(["admin", "--url", &self.w.api.url, "--json"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RELAY_OPERATOR_TOKEN", operator)
            .output()
            .await
            .unwrap();
        self.out.add(format!("{source} (stdout)"), &out.stdout);
        self.out.add(format!("{source} (stderr)"), &out.stderr);
        out
    }

    async fn customer_writes(&self, account: &str, customer: &str, text: &str) {
        self.sim
            .api
            .customer_writes(account, customer, text)
            .await
            .unwrap();
    }

    /// Waits until the customer's thread satisfies `done` (read without keeping: the same
    /// reads are kept below, once the flow has settled).
    async fn thread_when(
        &self,
        t: &Tenant,
        customer: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        self.w.thread_when(t, customer, WAIT, done).await.unwrap()
    }

    /// Waits until the thread's reply number `i` is in `state`; answers the send.
    async fn send_in(&self, t: &Tenant, thread: &ThreadId, i: usize, state: &str) -> Value {
        let path = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
        let what = format!("reply {i} of {thread} {state}");
        let found = eventually(&what, WAIT, || async {
            let v = self
                .w
                .api
                .expect(Method::GET, &path, &t.agent_token, None, 200)
                .await?;
            let send = v["sends"][i].clone();
            Ok((send["state"] == state).then_some(send))
        })
        .await;
        match found {
            Ok(send) => send,
            Err(e) => {
                let v = self
                    .w
                    .api
                    .expect(Method::GET, &path, &t.agent_token, None, 200)
                    .await
                    .unwrap();
                panic!("{e}: {}", v["sends"]);
            }
        }
    }

    async fn channel_id(&self, t: &Tenant, account: &str) -> String {
        let channels = self.channels(t).await.unwrap();
        channels
            .iter()
            .find(|c| c["account_id"] == account || c["phone_number_id"] == account)
            .and_then(|c| c["id"].as_str())
            .unwrap_or_else(|| panic!("no channel for {account}: {channels:?}"))
            .to_owned()
    }
}

fn thread_id(thread: &Value) -> ThreadId {
    ThreadId::new(thread["id"].as_str().unwrap())
}

/// A desk whose every frame is recorded, with the newest event seq it has read.
struct Desk {
    raw: RawDesk,
    seen: u64,
    name: String,
}

impl Desk {
    async fn open(url: &str, token: &str, subprotocol: &str, name: &str) -> Desk {
        let mut raw = RawDesk::connect(url, token, Some(subprotocol))
            .await
            .unwrap();
        assert_eq!(raw.is_json(), subprotocol == JSON, "{name}");
        raw.record();
        let welcome = raw.hello(0).await.unwrap();
        let mut desk = Desk {
            raw,
            seen: 0,
            name: name.to_owned(),
        };
        desk.drain(welcome.head.0).await;
        desk
    }

    /// Reads frames until event `head` has arrived.
    async fn drain(&mut self, head: u64) {
        while self.seen < head {
            match self.raw.next().await.unwrap() {
                ServerFrame::Event { event } => self.seen = event.seq.0,
                ServerFrame::Answer { .. } => {}
                ServerFrame::Welcome { .. } => panic!("{}: a second welcome", self.name),
            }
        }
    }

    async fn command(&mut self, key: &str, command: Command) -> Answer {
        let (answer, events) = self.raw.command(key, command).await.unwrap();
        if let Some(e) = events.last() {
            self.seen = self.seen.max(e.seq.0);
        }
        answer
    }

    async fn applied(&mut self, key: &str, command: Command) {
        let answer = self.command(key, command).await;
        assert!(
            matches!(answer, Answer::Applied { .. }),
            "{}: {key}: {answer:?}",
            self.name
        );
    }

    fn into_output(mut self, out: &mut Outputs) {
        let frames = self.raw.take_recorded();
        assert!(!frames.is_empty(), "{}: nothing recorded", self.name);
        for (i, frame) in frames.iter().enumerate() {
            out.add(format!("{} frame {i}", self.name), frame);
        }
    }
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn no_secret_reaches_any_answer_frame_cli_output_metric_or_log() {
    let mut fx = setup().await;
    let (a, b) = (fx.w.a.clone(), fx.w.b.clone());
    let operator = Some(OPERATOR_TOKEN);

    // ---- Channels with access tokens: the admin API and the CLI (token from a file). ----
    let created = fx
        .expect(
            "admin: create WhatsApp channel",
            Method::POST,
            &format!("/v1/tenants/{}/channels", b.id),
            OPERATOR_TOKEN,
            Some(
                json!({"kind": "whatsapp", "phone_number_id": WA_EXTRA, "waba_id": WABA_EXTRA,
                        "access_token": EXTRA_TOKEN}),
            ),
            201,
        )
        .await;
    assert!(created["id"].is_string(), "{created}");
    let token_file = fx.dir.path().join("ig-token");
    std::fs::write(&token_file, CLI_TOKEN).unwrap();
    let out = fx
        .cli(
            "cli: channels instagram",
            OPERATOR_TOKEN,
            &[
                "channels",
                "instagram",
                "--tenant",
                &b.id,
                "--account-id",
                IG_CLI,
                "--username",
                "batik_e",
                "--access-token-file",
                token_file.to_str().unwrap(),
            ],
        )
        .await;
    assert!(out.status.success(), "{out:?}");

    // ---- Tokens handed out in the test: each may appear in its creation answer only. ----
    let viewer = fx
        .expect(
            "admin: create viewer",
            Method::POST,
            &format!("/v1/partners/{}/viewers", fx.w.partner),
            OPERATOR_TOKEN,
            Some(json!({"name": "analyst"})),
            201,
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = fx
        .cli(
            "cli: agents create",
            OPERATOR_TOKEN,
            &[
                "agents",
                "create",
                "--tenant",
                &a.id,
                "--name",
                "night shift",
            ],
        )
        .await;
    assert!(out.status.success(), "{out:?}");
    let night: Value = serde_json::from_slice(&out.stdout).unwrap();
    let night = night["token"].as_str().unwrap().to_owned();

    // ---- Instagram Login through the simulator: the relay now holds minted tokens. ----
    let link = fx
        .expect(
            "admin: connect link",
            Method::POST,
            &format!("/v1/tenants/{}/connect-links", a.id),
            &a.owner_token,
            Some(json!({"kind": "instagram"})),
            201,
        )
        .await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = fx.keep("connect: start", fx.http.get(&link)).await;
    assert!(matches!(status, 302 | 303 | 307), "{status}");
    let authorize = fx.out.find("connect: start").to_vec();
    let authorize = String::from_utf8(authorize).unwrap();
    let authorize = authorize
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap()
        .to_owned();
    let callback = fx
        .answer_instagram_consent(&authorize, Some(IG_NEW))
        .await
        .unwrap();
    let (status, page) = fx
        .keep("connect: callback page", fx.http.get(&callback))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("is now connected"), "{page}");
    // A callback replayed (its state is single-use) is refused with a page of its own.
    let (status, _) = fx
        .keep("connect: replayed callback", fx.http.get(&callback))
        .await;
    assert_ne!(status, 200);
    let issued = fx
        .sim
        .api
        .expect(Method::GET, "/_sim/oauth/tokens", None, 200)
        .await
        .unwrap();
    assert!(
        issued["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["account"] == IG_NEW && t["kind"] == "long_lived"),
        "{issued}"
    );

    // ---- Knowledge, credits, desks in both subprotocols. ----
    let knowledge = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/knowledge/boutique.toml"),
    )
    .unwrap();
    let req = fx
        .http
        .put(format!("{}/v1/tenants/{}/knowledge", fx.w.api.url, a.id))
        .bearer_auth(&a.owner_token)
        .body(knowledge);
    let (status, body) = fx.keep("admin: put knowledge", req).await;
    assert_eq!(status, 200, "{body}");
    for t in [&a, &b] {
        fx.expect(
            "admin: top up",
            Method::POST,
            &format!("/v1/tenants/{}/credits", t.id),
            OPERATOR_TOKEN,
            Some(json!({"add": 20})),
            200,
        )
        .await;
    }
    let url = fx.w.api.url.clone();
    let mut desk_a = Desk::open(&url, &a.agent_token, JSON, "desk A (json)").await;
    let mut desk_b = Desk::open(&url, &b.agent_token, BINARY, "desk B (binary)").await;
    let mut night_desk = Desk::open(&url, &night, BINARY, "desk A night (binary)").await;

    // ---- Webhooks: signed by the simulator, by the test, badly signed, the handshake. ----
    let body = ig_dm(
        IG_A,
        "m_secrets_direct_1",
        "7400000000000009",
        "halo kak",
        now_ms(),
    );
    let req = fx
        .http
        .post(format!("{url}/webhooks/instagram"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(&body, APP_SECRET))
        .body(body.clone());
    assert_eq!(fx.keep("webhook: signed", req).await.0, 200);
    let req = fx
        .http
        .post(format!("{url}/webhooks/instagram"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(&body, "not-the-app-secret"))
        .body(body.clone());
    assert_eq!(fx.keep("webhook: bad signature", req).await.0, 401);
    let req = fx
        .http
        .post(format!("{url}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(b"{not json", APP_SECRET))
        .body("{not json");
    assert_eq!(fx.keep("webhook: bad JSON", req).await.0, 400);
    let handshake = |token: &str| {
        format!(
            "{url}/webhooks/instagram?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=4242"
        )
    };
    let (status, text) = fx
        .keep("webhook: handshake", fx.http.get(handshake(VERIFY_TOKEN)))
        .await;
    assert_eq!((status, text.as_str()), (200, "4242"));
    let (status, _) = fx
        .keep(
            "webhook: wrong handshake",
            fx.http.get(handshake("wrong-verify")),
        )
        .await;
    assert_eq!(status, 403);

    // ---- Drafting and approval (A, Facebook Login, Page token). ----
    let price = "kak Linen Wrap Dress harganya berapa?";
    fx.customer_writes(IG_A, "7400000000000001", price).await;
    let t1 = fx
        .thread_when(&a, "7400000000000001", |t| !t["draft"].is_null())
        .await;
    let version = u32::try_from(t1["draft"]["version"].as_u64().unwrap()).unwrap();
    let approve = Command::ApproveDraft {
        thread: thread_id(&t1),
        version,
    };
    desk_a.applied("a1", approve).await;
    fx.send_in(&a, &thread_id(&t1), 0, "sent").await;
    // A refused command: the draft it names is gone.
    let stale = Command::ApproveDraft {
        thread: thread_id(&t1),
        version,
    };
    let refused = desk_a.command("a2", stale).await;
    assert!(matches!(refused, Answer::Rejected { .. }), "{refused:?}");
    let missing = Command::SendReply {
        thread: ThreadId::new("th_doesnotexist"),
        text: "to nobody".into(),
    };
    let refused = night_desk.command("n1", missing).await;
    assert!(matches!(refused, Answer::Rejected { .. }), "{refused:?}");

    // ---- A send with the token the OAuth flow minted (A, Instagram Login). ----
    fx.customer_writes(IG_NEW, "7400000000000002", "masih ada kebaya merah?")
        .await;
    let t2 = fx.thread_when(&a, "7400000000000002", |_| true).await;
    let own = Command::SendReply {
        thread: thread_id(&t2),
        text: "Masih ada kak".into(),
    };
    desk_a.applied("a3", own).await;
    fx.send_in(&a, &thread_id(&t2), 0, "sent").await;
    let calls = fx.sim.api.calls().await.unwrap();
    assert!(
        calls.iter().any(|c| c["path_kind"] == "messages"
            && c["status"] == 200
            && c["token"] == format!("account:{IG_NEW}")),
        "the minted token sent the reply"
    );

    // ---- B: the admin-API and CLI channels' tokens send; a transient and a refused token. ----
    for (account, customer, key) in [
        (WA_EXTRA, "6281234500555", "b1"),
        (IG_CLI, "7400000000000555", "b2"),
    ] {
        fx.customer_writes(account, customer, "hello?").await;
        let th = fx.thread_when(&b, customer, |_| true).await;
        let reply = Command::SendReply {
            thread: thread_id(&th),
            text: "Hello from the shop".into(),
        };
        desk_b.applied(key, reply).await;
        fx.send_in(&b, &thread_id(&th), 0, "sent").await;
    }
    fx.customer_writes(WA_B, "6281234500101", "buka jam berapa?")
        .await;
    let t3 = fx.thread_when(&b, "6281234500101", |_| true).await;
    let reply = Command::SendReply {
        thread: thread_id(&t3),
        text: "Jam 7 pagi kak".into(),
    };
    desk_b.applied("b3", reply).await;
    fx.send_in(&b, &thread_id(&t3), 0, "sent").await;

    // Instagram: a transient failure retried, a refused token, a permanent failure.
    fx.customer_writes(IG_B, "7400000000000004", "rye bread today?")
        .await;
    let t4 = fx.thread_when(&b, "7400000000000004", |_| true).await;
    fx.sim
        .api
        .fault(
            &json!({"kind": "server_error", "status": 500, "path": "messages",
                       "account": IG_B, "count": 1}),
        )
        .await
        .unwrap();
    let reply = Command::SendReply {
        thread: thread_id(&t4),
        text: "Yes, baked this morning".into(),
    };
    desk_b.applied("b4", reply).await;
    let sent = fx.send_in(&b, &thread_id(&t4), 0, "sent").await;
    assert_eq!(sent["attempts"], 2, "{sent}");
    let fault = fx
        .sim
        .api
        .fault(&json!({"kind": "token_expired", "path": "messages", "account": IG_B}))
        .await
        .unwrap();
    let reply = Command::SendReply {
        thread: thread_id(&t4),
        text: "And the sourdough too".into(),
    };
    desk_b.applied("b4b", reply).await;
    let failed = fx.send_in(&b, &thread_id(&t4), 1, "failed").await;
    assert_eq!(failed["failure"]["class"], "token_invalid", "{failed}");
    fx.sim
        .api
        .call(Method::DELETE, &format!("/_sim/faults/{fault}"), None)
        .await
        .unwrap();
    let retry = Command::RetrySend {
        thread: thread_id(&t4),
        send: Seq(failed["send"].as_u64().unwrap()),
    };
    desk_b.applied("b5", retry).await;
    fx.send_in(&b, &thread_id(&t4), 1, "sent").await;
    // A permanent failure (over Instagram's 1000 bytes), left failed.
    let long = Command::SendReply {
        thread: thread_id(&t4),
        text: "é".repeat(600),
    };
    desk_b.applied("b6", long).await;
    fx.send_in(&b, &thread_id(&t4), 2, "failed").await;
    // Outside the window: refused before anything is queued.
    fx.sim
        .api
        .inbound(
            &json!({"account": IG_B, "customer": "7400000000000005", "type": "text",
                         "text": "hi", "ago": "8d"}),
        )
        .await
        .unwrap();
    let t5 = fx.thread_when(&b, "7400000000000005", |_| true).await;
    let late = Command::SendReply {
        thread: thread_id(&t5),
        text: "too late".into(),
    };
    let refused = desk_b.command("b7", late).await;
    assert!(
        matches!(
            refused,
            Answer::Rejected {
                rejection: Rejection::OutsideWindow { .. }
            }
        ),
        "{refused:?}"
    );

    // ---- Admin reads, with every kind of token that may read them. ----
    let threads_a = [t1.clone(), t2.clone()];
    let threads_b = [t3.clone(), t4.clone(), t5.clone()];
    for (t, threads) in [(&a, &threads_a[..]), (&b, &threads_b[..])] {
        let base = format!("/v1/tenants/{}", t.id);
        for (who, token) in [
            ("operator", OPERATOR_TOKEN),
            ("owner", t.owner_token.as_str()),
            ("agent", t.agent_token.as_str()),
        ] {
            for what in ["threads", "channels", "settings", "credits", "knowledge"] {
                fx.call(
                    &format!("admin: {what} of {} as {who}", t.id),
                    Method::GET,
                    &format!("{base}/{what}"),
                    Some(token),
                    None,
                )
                .await;
            }
            fx.expect(
                &format!("admin: events of {} as {who}", t.id),
                Method::GET,
                &format!("{base}/events?after=0&limit=5000"),
                token,
                None,
                200,
            )
            .await;
            for th in threads {
                fx.expect(
                    &format!("admin: messages of {} as {who}", th["id"].as_str().unwrap()),
                    Method::GET,
                    &format!("{base}/threads/{}/messages", th["id"].as_str().unwrap()),
                    token,
                    None,
                    200,
                )
                .await;
            }
        }
        let verified = fx
            .expect(
                &format!("admin: audit verify of {}", t.id),
                Method::GET,
                &format!("{base}/audit/verify"),
                &t.owner_token,
                None,
                200,
            )
            .await;
        assert_eq!(verified["ok"], true, "{verified}");
    }
    for (who, token) in [
        ("operator", OPERATOR_TOKEN),
        ("viewer", viewer.as_str()),
        ("owner A", a.owner_token.as_str()),
        ("agent B", b.agent_token.as_str()),
        ("night agent", night.as_str()),
    ] {
        fx.expect(
            &format!("admin: /v1/me as {who}"),
            Method::GET,
            "/v1/me",
            token,
            None,
            200,
        )
        .await;
    }
    for (who, token) in [("operator", OPERATOR_TOKEN), ("viewer", viewer.as_str())] {
        fx.expect(
            &format!("admin: report as {who}"),
            Method::GET,
            &format!("/v1/partners/{}/report", fx.w.partner),
            token,
            None,
            200,
        )
        .await;
    }

    // ---- Settings at Meta with the channels' own tokens: templates, ice breakers. ----
    let wa = fx.channel_id(&b, WA_B).await;
    let ig = fx.channel_id(&b, IG_B).await;
    let base = format!("/v1/tenants/{}/channels", b.id);
    fx.expect(
        "admin: templates",
        Method::GET,
        &format!("{base}/{wa}/templates"),
        &b.agent_token,
        None,
        200,
    )
    .await;
    let ice = format!("{base}/{ig}/ice-breakers");
    fx.expect(
        "admin: set ice breakers",
        Method::PUT,
        &ice,
        &b.owner_token,
        Some(json!({"ice_breakers": [{"question": "Do you deliver?", "payload": "DELIVERY"}]})),
        200,
    )
    .await;
    fx.expect(
        "admin: ice breakers",
        Method::GET,
        &ice,
        &b.agent_token,
        None,
        200,
    )
    .await;
    fx.sim
        .api
        .fault(&json!({"kind": "token_expired", "path": "messenger_profile"}))
        .await
        .unwrap();
    fx.expect(
        "admin: ice breakers, token refused by Meta",
        Method::GET,
        &ice,
        &b.agent_token,
        None,
        502,
    )
    .await;
    fx.sim
        .api
        .fault(&json!({"kind": "token_expired", "path": "templates"}))
        .await
        .unwrap();
    fx.expect(
        "admin: templates, token refused by Meta",
        Method::GET,
        &format!("{base}/{wa}/templates"),
        &b.agent_token,
        None,
        502,
    )
    .await;
    fx.sim.api.clear_faults().await.unwrap();

    // ---- Meta's callbacks and disconnecting (unsubscribing with the channel's token). ----
    let form = |secret: &str, user: &str| {
        let payload = json!({"user_id": user, "algorithm": "HMAC-SHA256",
                             "issued_at": 1_291_836_800, "expires": 1_291_840_400});
        format!("signed_request={}", signed_request(secret, &payload))
    };
    let deletion = fx
        .http
        .post(format!("{url}/meta/data-deletion"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(APP_SECRET, "7400000000000009"));
    let (status, text) = fx.keep("meta: data deletion", deletion).await;
    assert_eq!(status, 200, "{text}");
    let status_url = serde_json::from_str::<Value>(&text).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = fx
        .keep("meta: data deletion status", fx.http.get(&status_url))
        .await;
    assert_eq!(status, 200);
    let forged = fx
        .http
        .post(format!("{url}/meta/deauthorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form("not-the-app-secret", IG_NEW));
    let (status, _) = fx.keep("meta: forged deauthorize", forged).await;
    assert!((400..500).contains(&status), "{status}");
    fx.sim
        .api
        .fault(&json!({"kind": "token_expired", "path": "account"}))
        .await
        .unwrap();
    let deauthorize = fx
        .http
        .post(format!("{url}/meta/deauthorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(APP_SECRET, IG_NEW));
    let (status, text) = fx.keep("meta: deauthorize", deauthorize).await;
    assert_eq!(status, 200, "{text}");
    let cli_channel = fx.channel_id(&b, IG_CLI).await;
    let out = fx
        .cli(
            "cli: channels disconnect",
            OPERATOR_TOKEN,
            &[
                "channels",
                "disconnect",
                "--tenant",
                &b.id,
                "--channel",
                &cli_channel,
            ],
        )
        .await;
    assert!(out.status.success(), "{out:?}");
    let extra_channel = fx.channel_id(&b, WA_EXTRA).await;
    fx.expect(
        "admin: disconnect",
        Method::DELETE,
        &format!("/v1/tenants/{}/channels/{extra_channel}", b.id),
        &b.owner_token,
        None,
        200,
    )
    .await;
    fx.sim.api.clear_faults().await.unwrap();

    // ---- Admin error answers: bad input, wrong and misplaced tokens. ----
    let bad: Vec<Request> = vec![
        (
            "error: channel of unknown kind",
            Method::POST,
            format!("/v1/tenants/{}/channels", a.id),
            Some(a.owner_token.as_str()),
            Some(json!({"kind": "telegram", "account_id": "1", "access_token": EXTRA_TOKEN})),
        ),
        (
            "error: another tenant's number with a token",
            Method::POST,
            format!("/v1/tenants/{}/channels", a.id),
            Some(a.owner_token.as_str()),
            Some(json!({"kind": "whatsapp", "phone_number_id": WA_B,
                        "access_token": EXTRA_TOKEN})),
        ),
        (
            "error: the operator's token for a number it does not serve",
            Method::POST,
            format!("/v1/tenants/{}/channels", a.id),
            operator,
            Some(
                json!({"kind": "whatsapp", "phone_number_id": "106540352242999",
                        "access_token": EXTRA_TOKEN}),
            ),
        ),
        (
            "error: credits not a number",
            Method::POST,
            format!("/v1/tenants/{}/credits", a.id),
            operator,
            Some(json!({"add": "lots"})),
        ),
        (
            "error: bad settings",
            Method::PUT,
            format!("/v1/tenants/{}/settings", a.id),
            Some(a.owner_token.as_str()),
            Some(json!({"auto_send": "maybe"})),
        ),
        (
            "error: agent changes settings",
            Method::PUT,
            format!("/v1/tenants/{}/settings", a.id),
            Some(a.agent_token.as_str()),
            Some(json!({"auto_send": true})),
        ),
        (
            "error: forged token",
            Method::GET,
            format!("/v1/tenants/{}/threads", a.id),
            Some("cdt_forged"),
            None,
        ),
        (
            "error: access token as bearer",
            Method::GET,
            format!("/v1/tenants/{}/threads", b.id),
            Some(EXTRA_TOKEN),
            None,
        ),
        (
            "error: app secret as bearer",
            Method::GET,
            "/v1/me".to_owned(),
            Some(APP_SECRET),
            None,
        ),
        (
            "error: master key as bearer",
            Method::GET,
            "/v1/me".to_owned(),
            Some(MASTER_KEY),
            None,
        ),
        (
            "error: no token",
            Method::GET,
            format!("/v1/tenants/{}/events", a.id),
            None,
            None,
        ),
        (
            "error: other tenant",
            Method::GET,
            format!("/v1/tenants/{}/threads", b.id),
            Some(a.owner_token.as_str()),
            None,
        ),
        (
            "error: agent reads the audit",
            Method::GET,
            format!("/v1/tenants/{}/audit/verify", a.id),
            Some(a.agent_token.as_str()),
            None,
        ),
        (
            "error: unknown thread",
            Method::GET,
            format!("/v1/tenants/{}/threads/th_nope/messages", a.id),
            Some(a.agent_token.as_str()),
            None,
        ),
        (
            "error: unknown channel's templates",
            Method::GET,
            format!("/v1/tenants/{}/channels/ch_nope/templates", a.id),
            Some(a.owner_token.as_str()),
            None,
        ),
        (
            "error: bad connect link kind",
            Method::POST,
            format!("/v1/tenants/{}/connect-links", a.id),
            Some(a.owner_token.as_str()),
            Some(json!({"kind": "myspace"})),
        ),
        (
            "error: unknown route",
            Method::GET,
            "/v1/nothing-here".to_owned(),
            operator,
            None,
        ),
    ];
    for (source, method, path, token, body) in bad {
        let (status, json) = fx.call(source, method, &path, token, body).await;
        assert!((400..500).contains(&status), "{source}: {status} {json}");
    }
    let req = fx
        .http
        .put(format!("{url}/v1/tenants/{}/knowledge", a.id))
        .bearer_auth(&a.owner_token)
        .body("[business]\nname = \"Kirana\"\nbroken =");
    let (status, _) = fx.keep("error: broken knowledge", req).await;
    assert_eq!(status, 400);
    for (source, token) in [
        ("error: desk with a forged token", "cdt_forged"),
        ("error: desk with an access token", EXTRA_TOKEN),
    ] {
        let req = fx
            .http
            .get(format!("{url}/v1/desk"))
            .bearer_auth(token)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        let (status, _) = fx.keep(source, req).await;
        assert_eq!(status, 401, "{source}");
    }

    // ---- The operator's CLI. ----
    let (a_id, b_id, partner) = (a.id.clone(), b.id.clone(), fx.w.partner.clone());
    let t4_id = t4["id"].as_str().unwrap().to_owned();
    let ok: Vec<(&str, Vec<&str>)> = vec![
        (
            "cli: channels list",
            vec!["channels", "list", "--tenant", &a_id],
        ),
        (
            "cli: channels list B",
            vec!["channels", "list", "--tenant", &b_id],
        ),
        (
            "cli: threads list",
            vec!["threads", "list", "--tenant", &b_id],
        ),
        (
            "cli: events list",
            vec!["events", "list", "--tenant", &b_id],
        ),
        (
            "cli: messages list",
            vec!["messages", "list", "--tenant", &b_id, "--thread", &t4_id],
        ),
        (
            "cli: credits show",
            vec!["credits", "show", "--tenant", &a_id],
        ),
        (
            "cli: audit verify",
            vec!["audit", "verify", "--tenant", &a_id],
        ),
        ("cli: report", vec!["report", "--partner", &partner]),
        (
            "cli: connect-link",
            vec!["connect-link", "--tenant", &b_id, "--kind", "instagram"],
        ),
        (
            "cli: knowledge show",
            vec!["knowledge", "show", "--tenant", &a_id],
        ),
    ];
    for (source, args) in &ok {
        let out = fx.cli(source, OPERATOR_TOKEN, args).await;
        assert!(out.status.success(), "{source}: {out:?}");
    }
    let refused: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "cli: wrong operator token",
            "not-the-operator-token",
            vec!["channels", "list", "--tenant", &a_id],
        ),
        (
            "cli: unknown partner",
            OPERATOR_TOKEN,
            vec!["report", "--partner", "pa_doesnotexist"],
        ),
        (
            "cli: bad connect-link kind",
            OPERATOR_TOKEN,
            vec!["connect-link", "--tenant", &b_id, "--kind", "myspace"],
        ),
        (
            "cli: channel token file missing",
            OPERATOR_TOKEN,
            vec![
                "channels",
                "instagram",
                "--tenant",
                &b_id,
                "--account-id",
                "17841400000000556",
                "--access-token-file",
                "/nonexistent/token",
            ],
        ),
    ];
    for (source, token, args) in &refused {
        let out = fx.cli(source, token, args).await;
        assert!(!out.status.success(), "{source}: {out:?}");
    }

    // ---- Metrics and health. ----
    for path in ["/healthz", "/readyz"] {
        let (status, _) = fx
            .keep(&format!("GET {path}"), fx.http.get(format!("{url}{path}")))
            .await;
        assert_eq!(status, 200, "{path}");
    }
    // The scrape is the operator's (or a metrics token's), in the JSON error shape otherwise.
    let (status, body) = fx
        .keep("GET /metrics", fx.http.get(format!("{url}/metrics")))
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = fx
        .keep(
            "GET /metrics (operator)",
            fx.http
                .get(format!("{url}/metrics"))
                .bearer_auth(OPERATOR_TOKEN),
        )
        .await;
    assert_eq!(status, 200);

    // ---- Every event of both tenants once more, in both encodings, and the live desks. ----
    for t in [&a, &b] {
        let head = fx.w.api.head(&t.id).await.unwrap();
        for (sub, name) in [(JSON, "json"), (BINARY, "binary")] {
            let desk = Desk::open(
                &url,
                &t.agent_token,
                sub,
                &format!("replay {} ({name})", t.id),
            )
            .await;
            assert!(desk.seen >= head);
            desk.into_output(&mut fx.out);
        }
    }
    let head_a = fx.w.api.head(&a.id).await.unwrap();
    let head_b = fx.w.api.head(&b.id).await.unwrap();
    desk_a.drain(head_a).await;
    night_desk.drain(head_a).await;
    desk_b.drain(head_b).await;
    for desk in [desk_a, night_desk, desk_b] {
        desk.into_output(&mut fx.out);
    }

    // ---- The relay's log, after a graceful stop. ----
    fx.c.w.stop().await.unwrap();
    let log = std::fs::read(&fx.w.options.log).unwrap();
    assert!(!log.is_empty());
    fx.out.add("relay log", log);

    // ---- The scan. ----
    let master_raw = base64_decode(MASTER_KEY);
    let mut needles = vec![
        needle("the Meta app secret", APP_SECRET),
        needle("the Instagram app secret", IG_APP_SECRET),
        needle("the webhook verify token", VERIFY_TOKEN),
        needle("the master key (base64)", MASTER_KEY),
        needle("the master key (raw)", &master_raw),
        needle("the master key (hex)", hex::encode(&master_raw)),
        needle("the operator token", OPERATOR_TOKEN),
        needle("tenant A's channel access token", harness::sim::TOKEN_A),
        needle("tenant B's channel access token", harness::sim::TOKEN_B),
        needle("the admin-API WhatsApp channel's token", EXTRA_TOKEN),
        needle("the CLI Instagram channel's token", CLI_TOKEN),
        needle("tenant A's owner token", &a.owner_token),
        needle("tenant A's agent token", &a.agent_token),
        needle("tenant B's owner token", &b.owner_token),
        needle("tenant B's agent token", &b.agent_token),
    ];
    for prefix in MINTED {
        needles.push(needle(
            format!("a token the simulator minted ({prefix}…)"),
            prefix,
        ));
    }
    // Whatever else the harness handed out is looked for too.
    for (i, secret) in fx.w.secrets.iter().enumerate() {
        if !needles.iter().any(|n| n.bytes == secret.as_bytes()) {
            needles.push(needle(format!("World::secrets[{i}]"), secret));
        }
    }
    needles.push(Needle {
        allowed_in: Some("admin: create viewer".into()),
        ..needle("the viewer's token", &viewer)
    });
    needles.push(Needle {
        allowed_in: Some("cli: agents create (stdout)".into()),
        ..needle("the night agent's token", &night)
    });
    // The scan sees what it should: the creation answers do hold their tokens.
    assert!(contains(
        fx.out.find("admin: create viewer"),
        viewer.as_bytes()
    ));
    assert!(contains(
        fx.out.find("cli: agents create (stdout)"),
        night.as_bytes()
    ));
    let sources = fx.out.items.len();
    assert!(sources > 150, "only {sources} outputs collected");
    let found = leaks(&fx.out, &needles);
    assert!(
        found.is_empty(),
        "secrets leaked ({} of {sources} outputs scanned):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// Meta's `signed_request`, made here independently of the relay's code.
fn signed_request(secret: &str, payload: &Value) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let encoded = b64(payload.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(encoded.as_bytes());
    format!("{}.{encoded}", b64(&mac.finalize().into_bytes()))
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
