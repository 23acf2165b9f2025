//! What each token may read, end to end: the partner report's figures against a real relay
//! and simulator (customers write, the drafter drafts, agents approve, edit, type their own
//! replies, and Meta refuses one), who may read that report, `GET /v1/me` for every kind of
//! token, and the owner's settings screens. Every wait polls with a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::desk::RawDesk;
use harness::sim::{SimWorld, eventually};
use harness::{IG_A, IG_B, OPERATOR_TOKEN, Tenant, World, now_ms};
use protocol::{Answer, Command, ThreadId};
use reqwest::Method;
use serde_json::{Value, json};
use std::ops::Deref;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const DAY_MS: i64 = 86_400_000;

/// A relay calling a simulator, with this file's steps and reads on top.
struct Fx(SimWorld);

impl Deref for Fx {
    type Target = SimWorld;
    fn deref(&self) -> &SimWorld {
        &self.0
    }
}

async fn setup() -> Fx {
    Fx(SimWorld::start().await.unwrap())
}

impl Fx {
    async fn load_boutique(&self) {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../assets/knowledge/boutique.toml"),
        )
        .unwrap();
        let resp = reqwest::Client::new()
            .put(format!(
                "{}/v1/tenants/{}/knowledge",
                self.w.api.url, self.w.a.id
            ))
            .bearer_auth(&self.w.a.owner_token)
            .body(text)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }

    async fn top_up(&self, t: &Tenant, add: i64) {
        self.w.top_up(t, add).await.unwrap();
    }

    async fn customer_writes(&self, account: &str, customer: &str, text: &str) {
        self.sim
            .api
            .customer_writes(account, customer, text)
            .await
            .unwrap();
    }

    /// Waits until the customer's thread satisfies `done`; answers the thread JSON.
    async fn thread_when(
        &self,
        t: &Tenant,
        customer: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        self.w.thread_when(t, customer, WAIT, done).await.unwrap()
    }

    /// Waits until the thread's reply number `i` is in `state`.
    async fn send_in(&self, t: &Tenant, thread: &ThreadId, i: usize, state: &str) {
        let path = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
        let what = format!("reply {i} {state}");
        eventually(&what, WAIT, || async {
            let v = self
                .w
                .api
                .expect(Method::GET, &path, &t.agent_token, None, 200)
                .await?;
            Ok((v["sends"][i]["state"] == state).then_some(()))
        })
        .await
        .unwrap();
    }

    async fn desk(&self, t: &Tenant) -> RawDesk {
        RawDesk::caught_up(&self.w.api.url, &t.agent_token)
            .await
            .unwrap()
    }

    async fn report(&self, token: Option<&str>, partner: &str) -> (u16, Value) {
        self.w
            .api
            .call(
                Method::GET,
                &format!("/v1/partners/{partner}/report"),
                token,
                None,
            )
            .await
            .unwrap()
    }

    async fn viewer(&self, partner: &str) -> String {
        let v = self
            .w
            .api
            .expect(
                Method::POST,
                &format!("/v1/partners/{partner}/viewers"),
                OPERATOR_TOKEN,
                Some(json!({"name": "analyst"})),
                201,
            )
            .await
            .unwrap();
        v["token"].as_str().unwrap().to_owned()
    }
}

fn thread_id(thread: &Value) -> ThreadId {
    ThreadId::new(thread["id"].as_str().unwrap())
}

fn draft_version(thread: &Value) -> u32 {
    u32::try_from(thread["draft"]["version"].as_u64().unwrap()).unwrap()
}

async fn applied(desk: &mut RawDesk, key: &str, command: Command) {
    let (answer, _) = desk.command(key, command).await.unwrap();
    assert!(
        matches!(answer, Answer::Applied { .. }),
        "{key}: {answer:?}"
    );
}

/// `daily` as the report says it, checked to hold `n` messages all sent today (or, if the
/// test crossed midnight UTC, yesterday and today).
fn assert_daily(tenant: &Value, n: u64, day_started: i64, generated_at: i64) {
    let daily: Vec<u64> = tenant["volume"]["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect();
    assert_eq!(daily.len(), 14, "{tenant}");
    assert_eq!(tenant["volume"]["inbound_messages"], n, "{tenant}");
    if day_started == generated_at.div_euclid(DAY_MS) {
        let mut expected = vec![0; 14];
        expected[13] = n;
        assert_eq!(daily, expected, "{tenant}");
    } else {
        assert_eq!(daily[12] + daily[13], n, "{tenant}");
    }
}

#[tokio::test]
async fn the_partner_report_counts_volume_outcomes_and_quality_per_tenant() {
    let fx = setup().await;
    let (a, b) = (fx.w.a.clone(), fx.w.b.clone());
    let day_started = now_ms().div_euclid(DAY_MS);
    fx.load_boutique().await;
    fx.top_up(&a, 10).await;
    fx.top_up(&b, 10).await;
    let mut desk_a = fx.desk(&a).await;
    let mut desk_b = fx.desk(&b).await;

    // A: the drafter's draft approved as it is.
    let price = "kak Linen Wrap Dress harganya berapa?";
    fx.customer_writes(IG_A, "7300000000000001", price).await;
    let t1 = fx
        .thread_when(&a, "7300000000000001", |t| !t["draft"].is_null())
        .await;
    let approve = Command::ApproveDraft {
        thread: thread_id(&t1),
        version: draft_version(&t1),
    };
    applied(&mut desk_a, "a1", approve).await;
    fx.send_in(&a, &thread_id(&t1), 0, "sent").await;

    // A: the drafter's draft edited by the agent, then approved.
    let size = "Linen Wrap Dress size M ready kak? harganya?";
    fx.customer_writes(IG_A, "7300000000000002", size).await;
    let t2 = fx
        .thread_when(&a, "7300000000000002", |t| !t["draft"].is_null())
        .await;
    let edit = Command::EditDraft {
        thread: thread_id(&t2),
        base_version: draft_version(&t2),
        text: "Ready kak, size M Terracotta masih ada 4".into(),
    };
    applied(&mut desk_a, "a2", edit).await;
    let t2 = fx
        .thread_when(&a, "7300000000000002", |t| {
            t["draft"]["author"] != "drafter"
        })
        .await;
    let approve = Command::ApproveDraft {
        thread: thread_id(&t2),
        version: draft_version(&t2),
    };
    applied(&mut desk_a, "a3", approve).await;
    fx.send_in(&a, &thread_id(&t2), 0, "sent").await;

    // A: off-domain, handed off and left waiting for a person.
    let weather = "besok cuaca jakarta hujan ga ya";
    fx.customer_writes(IG_A, "7300000000000003", weather).await;
    let t3 = fx
        .thread_when(&a, "7300000000000003", |t| !t["handoff"].is_null())
        .await;

    // A: with auto-send on, the drafter's passed draft goes out by itself.
    fx.w.api
        .expect(
            Method::PUT,
            &format!("/v1/tenants/{}/settings", a.id),
            &a.owner_token,
            Some(json!({"auto_send": true})),
            200,
        )
        .await
        .unwrap();
    fx.customer_writes(IG_A, "7300000000000005", price).await;
    let t5 = fx.thread_when(&a, "7300000000000005", |_| true).await;
    fx.send_in(&a, &thread_id(&t5), 0, "sent").await;

    // B (no knowledge): the agent's own reply, then one Meta refuses (over 1000 bytes).
    let hello = "Halo, roti gandum masih ada?";
    fx.customer_writes(IG_B, "7300000000000004", hello).await;
    let t4 = fx.thread_when(&b, "7300000000000004", |_| true).await;
    let own = Command::SendReply {
        thread: thread_id(&t4),
        text: "Masih ada kak, silakan mampir".into(),
    };
    applied(&mut desk_b, "b1", own).await;
    fx.send_in(&b, &thread_id(&t4), 0, "sent").await;
    let long = Command::SendReply {
        thread: thread_id(&t4),
        text: "é".repeat(600),
    };
    applied(&mut desk_b, "b2", long).await;
    fx.send_in(&b, &thread_id(&t4), 1, "failed").await;

    let (status, report) = fx.report(Some(OPERATOR_TOKEN), &fx.w.partner).await;
    assert_eq!(status, 200, "{report}");
    let generated_at = report["generated_at"].as_i64().unwrap();
    assert!((generated_at - now_ms()).abs() < 60_000, "{report}");
    assert_eq!(report["partner"], fx.w.partner.as_str());
    assert_eq!(report["brand"], "Agency Desk");
    assert_eq!(report["days"], 14);
    let tenants = report["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 2, "{report}");
    let (ra, rb) = (&tenants[0], &tenants[1]);
    assert_eq!(
        (ra["tenant"].as_str(), ra["name"].as_str()),
        (Some(a.id.as_str()), Some("Boutique A"))
    );
    assert_eq!(
        (rb["tenant"].as_str(), rb["name"].as_str()),
        (Some(b.id.as_str()), Some("Bakery B"))
    );
    assert_daily(ra, 4, day_started, generated_at);
    assert_daily(rb, 1, day_started, generated_at);
    assert_eq!(
        ra["replies"],
        json!({"auto": 1, "approved": 1, "edited": 1, "own": 0})
    );
    assert_eq!(
        rb["replies"],
        json!({"auto": 0, "approved": 0, "edited": 0, "own": 1})
    );
    // Three of A's customers were answered (the fourth waits); B's one was.
    assert_eq!(ra["first_response_ms"]["samples"], 3, "{ra}");
    assert_eq!(rb["first_response_ms"]["samples"], 1, "{rb}");
    for r in [ra, rb] {
        let median = r["first_response_ms"]["median"].as_i64().unwrap();
        assert!((0..WAIT.as_millis() as i64 * 3).contains(&median), "{r}");
    }
    assert_eq!(
        (ra["held_drafts"].as_u64(), rb["held_drafts"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        (ra["failures"].as_u64(), rb["failures"].as_u64()),
        (Some(0), Some(1))
    );
    // Credits: A sent three replies; B one (the refused one gave its credit back).
    assert_eq!(
        (ra["credits"].as_i64(), rb["credits"].as_i64()),
        (Some(7), Some(9))
    );
    let keys: Vec<&String> = ra.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "credits",
            "failures",
            "first_response_ms",
            "held_drafts",
            "name",
            "replies",
            "tenant",
            "volume"
        ]
    );

    // Counts only: no customer text, customer id, thread id or token anywhere in it.
    let text = report.to_string();
    let mut never: Vec<String> = [price, size, weather, hello, "Masih ada kak", "Terracotta"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    never.extend((1..=5).map(|n| format!("730000000000000{n}")));
    never.extend(
        [&t1, &t2, &t3, &t4, &t5]
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned()),
    );
    never.extend(fx.w.secrets.iter().cloned());
    for s in &never {
        assert!(!text.contains(s.as_str()), "{s:?} in the report: {text}");
    }

    // The partner's own viewer reads the same figures; nobody else learns it exists.
    let viewer = fx.viewer(&fx.w.partner).await;
    let (status, seen) = fx.report(Some(&viewer), &fx.w.partner).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["tenants"], report["tenants"]);
    let other =
        fx.w.api
            .expect(
                Method::POST,
                "/v1/partners",
                OPERATOR_TOKEN,
                Some(json!({"name": "Other Agency"})),
                201,
            )
            .await
            .unwrap();
    let other = other["id"].as_str().unwrap().to_owned();
    let other_viewer = fx.viewer(&other).await;
    let (status, empty) = fx.report(Some(&other_viewer), &other).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["brand"], "Other Agency", "no brand: the name");
    assert_eq!(empty["tenants"], json!([]));
    let missing = fx.report(Some(OPERATOR_TOKEN), "pa_doesnotexist").await;
    for (who, token, status, code) in [
        (
            "another partner's viewer",
            Some(other_viewer.as_str()),
            404,
            "not_found",
        ),
        (
            "a tenant agent",
            Some(a.agent_token.as_str()),
            404,
            "not_found",
        ),
        (
            "a tenant owner",
            Some(a.owner_token.as_str()),
            404,
            "not_found",
        ),
        ("no token", None, 401, "unauthorized"),
        ("a forged token", Some("cdt_forged"), 401, "unauthorized"),
    ] {
        let (got, body) = fx.report(token, &fx.w.partner).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{who}: {body}"
        );
        if status == 404 {
            // Exactly what a partner that does not exist answers.
            assert_eq!((got, &body), (missing.0, &missing.1), "{who}");
        }
    }

    // `relay admin report` prints the same report.
    let out = tokio::process::Command::new(harness::relay_bin().unwrap())
        .args([
            "admin",
            "--url",
            &fx.w.api.url,
            "--json",
            "report",
            "--partner",
            &fx.w.partner,
        ])
        .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["tenants"], report["tenants"]);
    assert_eq!(printed["partner"], report["partner"]);
    let refused = tokio::process::Command::new(harness::relay_bin().unwrap())
        .args([
            "admin",
            "--url",
            &fx.w.api.url,
            "report",
            "--partner",
            "pa_doesnotexist",
        ])
        .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("partner not found"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    fx.w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn me_says_who_each_token_is_and_never_the_token() {
    let w = World::new().await.unwrap();
    let viewer = w
        .api
        .expect(
            Method::POST,
            &format!("/v1/partners/{}/viewers", w.partner),
            OPERATOR_TOKEN,
            Some(json!({"name": "analyst"})),
            201,
        )
        .await
        .unwrap();
    let (viewer_id, viewer_token) = (
        viewer["id"].as_str().unwrap(),
        viewer["token"].as_str().unwrap(),
    );
    let me = |token: Option<&str>| {
        let api = w.api.clone();
        let token = token.map(str::to_owned);
        async move {
            api.call(Method::GET, "/v1/me", token.as_deref(), None)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        me(Some(OPERATOR_TOKEN)).await,
        (
            200,
            json!({"role": "operator", "partner": null, "brand": null, "tenant": null,
                   "tenant_name": null, "agent": null})
        )
    );
    assert_eq!(
        me(Some(viewer_token)).await,
        (
            200,
            json!({"role": "partner", "partner": w.partner, "brand": "Agency Desk",
                   "tenant": null, "tenant_name": null, "agent": viewer_id})
        )
    );
    for (token, role, tenant, name) in [
        (&w.a.owner_token, "owner", &w.a.id, "Boutique A"),
        (&w.a.agent_token, "agent", &w.a.id, "Boutique A"),
        (&w.b.agent_token, "agent", &w.b.id, "Bakery B"),
    ] {
        let (status, body) = me(Some(token)).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["agent"].as_str().unwrap().starts_with("ag_"), "{body}");
        let mut expected = json!({"role": role, "partner": w.partner, "brand": "Agency Desk",
                                  "tenant": tenant, "tenant_name": name});
        expected["agent"] = body["agent"].clone();
        assert_eq!(body, expected);
        assert!(!body.to_string().contains(token.as_str()));
    }
    for token in [None, Some("cdt_forged")] {
        let (status, body) = me(token).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    }
    w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test]
async fn owners_read_their_settings_screens_and_agents_cannot_change_settings() {
    let w = World::new().await.unwrap();
    let t = &w.a;
    for screen in ["channels", "settings", "credits"] {
        let path = format!("/v1/tenants/{}/{screen}", t.id);
        w.api
            .expect(Method::GET, &path, &t.owner_token, None, 200)
            .await
            .unwrap();
        // Another tenant's owner is told the tenant does not exist.
        let (status, body) = w
            .api
            .call(Method::GET, &path, Some(&w.b.owner_token), None)
            .await
            .unwrap();
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{screen}"
        );
    }
    let settings = format!("/v1/tenants/{}/settings", t.id);
    let (status, body) = w
        .api
        .call(
            Method::PUT,
            &settings,
            Some(&t.agent_token),
            Some(&json!({"auto_send": true})),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("owner"),
        "the refusal says which role it needs: {body}"
    );
    // Nothing changed.
    let now = w
        .api
        .expect(Method::GET, &settings, &t.owner_token, None, 200)
        .await
        .unwrap();
    assert_eq!(now["auto_send"], false);
    w.api
        .expect(
            Method::PUT,
            &settings,
            &t.owner_token,
            Some(json!({"auto_send": true})),
            200,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn owners_read_their_own_business_figures_per_agent() {
    let fx = setup().await;
    let t = &fx.w.b;
    let customer = "5300000000000951";
    fx.customer_writes(IG_B, customer, "Roti gandum masih ada? 🍞")
        .await;
    let thread = thread_id(&fx.thread_when(t, customer, |_| true).await);
    fx.top_up(t, 5).await;
    let mut desk = fx.desk(t).await;
    applied(
        &mut desk,
        "own-1",
        Command::SendReply {
            thread: thread.clone(),
            text: "Masih kak!".into(),
        },
    )
    .await;
    fx.send_in(t, &thread, 0, "sent").await;
    applied(
        &mut desk,
        "resolve-1",
        Command::Resolve {
            thread: thread.clone(),
        },
    )
    .await;
    let me =
        fx.w.api
            .expect(Method::GET, "/v1/me", &t.agent_token, None, 200)
            .await
            .unwrap();
    let path = format!("/v1/tenants/{}/report", t.id);
    let report =
        fx.w.api
            .expect(Method::GET, &path, &t.owner_token, None, 200)
            .await
            .unwrap();
    assert_eq!(report["tenant"], t.id.as_str(), "{report}");
    assert_eq!(report["days"], 14);
    assert_eq!(report["volume"]["inbound_messages"], 1, "{report}");
    assert_eq!(report["replies"]["own"], 1, "{report}");
    assert_eq!(report["first_response_ms"]["samples"], 1, "{report}");
    let agents = report["agents"].as_array().unwrap();
    let row = agents
        .iter()
        .find(|a| a["agent"] == me["agent"])
        .unwrap_or_else(|| panic!("no row for the agent: {report}"));
    assert_eq!(row["replies"], 1, "{row}");
    assert_eq!(row["first_response_ms"]["samples"], 1, "{row}");
    assert_eq!(row["resolved"], 1, "{row}");
    assert_eq!(row["resolution_ms"]["samples"], 1, "{row}");
    assert!(row["resolution_ms"]["median"].as_i64().unwrap() >= 0);
    assert!(row["name"].is_string());
    // Only counts: no text, no customer.
    let text = report.to_string();
    assert!(
        !text.contains("Masih kak") && !text.contains(customer),
        "{text}"
    );
    // Agents, other tenants' owners and partner viewers do not read it.
    let (status, _) =
        fx.w.api
            .call(Method::GET, &path, Some(&t.agent_token), None)
            .await
            .unwrap();
    assert_eq!(status, 403);
    let (status, _) =
        fx.w.api
            .call(Method::GET, &path, Some(&fx.w.a.owner_token), None)
            .await
            .unwrap();
    assert_eq!(status, 404);
    let viewer = fx.viewer(&fx.w.partner).await;
    let (status, _) =
        fx.w.api
            .call(Method::GET, &path, Some(&viewer), None)
            .await
            .unwrap();
    assert_eq!(status, 404);
    // The partner's report of the same tenant names no agent.
    let (status, partner) = fx.report(Some(&viewer), &fx.w.partner).await;
    assert_eq!(status, 200);
    assert!(
        partner["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("agents").is_none()),
        "{partner}"
    );
}
