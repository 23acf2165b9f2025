//! Connecting accounts end to end: a real relay whose Meta URLs (Graph, OAuth dialogs, the
//! JS SDK) point at a real `relay simulate`, driven with plain HTTP and redirects followed
//! by hand. Instagram Login, Facebook Login and WhatsApp Embedded Signup; denial, replayed
//! and expired links and states, failed exchanges, accounts of another tenant. Every page
//! is checked for the partner's brand and for the absence of any token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::desk::RawDesk;
use harness::sim::{Sim, eventually, world_accounts};
use harness::{OPERATOR_TOKEN, Tenant, World};
use protocol::{Answer, Command, ThreadId};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const BRAND: &str = "Agency Desk";
const IG_APP_ID: &str = "990000000000123";
const CONFIG_ID: &str = "880000000000456";
/// An Instagram-Login account nobody has connected yet.
const IG_NEW: &str = "17841400000000777";
/// A Facebook-Login account (Page + linked Instagram).
const IG_FB: &str = "17841400000000888";
const PAGE_FB: &str = "108000000000888";
/// A WhatsApp number for Embedded Signup.
const WA_NEW: &str = "106540352242777";
const WABA_NEW: &str = "102290129340777";

struct Fx {
    w: World,
    sim: Sim,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn setup(extra: &[(&str, &str)]) -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start("http://127.0.0.1:9", dir.path()).await.unwrap();
    sim.api.accounts(&world_accounts()).await.unwrap();
    sim.api
        .accounts(&json!([
            {"kind": "instagram", "ig_id": IG_NEW, "username": "kebaya_c", "token": "sim-unused-1",
             "login": "instagram"},
            {"kind": "instagram", "ig_id": IG_FB, "page_id": PAGE_FB, "username": "tenun_d",
             "token": "sim-unused-2", "login": "facebook"},
            {"kind": "whatsapp", "phone_number_id": WA_NEW, "waba_id": WABA_NEW,
             "display_phone_number": "15550007777", "token": "sim-unused-3"},
        ]))
        .await
        .unwrap();
    sim.api
        .expect(
            Method::PUT,
            "/_sim/oauth",
            Some(
                &json!({"instagram_app_id": IG_APP_ID, "meta_app_id": "1000000000001",
                "instagram_accounts": [IG_NEW], "pages": [IG_FB], "whatsapp": WA_NEW}),
            ),
            200,
        )
        .await
        .unwrap();
    // The relay must know its public URL before it starts, so it gets a port picked here.
    let port = free_port();
    let mut env = sim.graph_env();
    for (k, v) in [
        ("RELAY_LISTEN", format!("127.0.0.1:{port}")),
        ("RELAY_PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("INSTAGRAM_OAUTH_URL", sim.url.clone()),
        ("FACEBOOK_OAUTH_URL", sim.url.clone()),
        ("INSTAGRAM_APP_ID", IG_APP_ID.to_owned()),
        ("WHATSAPP_SDK_URL", format!("{}/sdk.js", sim.url)),
        ("WHATSAPP_CONFIG_ID", CONFIG_ID.to_owned()),
    ] {
        env.push((k.to_owned(), v));
    }
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let w = World::with_env(env).await.unwrap();
    sim.api.set_relay(&w.api.url).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Fx {
        w,
        sim,
        http,
        _dir: dir,
    }
}

/// What a browser request got.
struct Got {
    status: u16,
    location: Option<String>,
    body: String,
}

fn params(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Pulls `name="…" value="…"` out of a page.
fn hidden_value(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no hidden {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

impl Fx {
    async fn got(&self, req: reqwest::RequestBuilder) -> Got {
        let resp = req.send().await.unwrap();
        Got {
            status: resp.status().as_u16(),
            location: resp
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: resp.text().await.unwrap(),
        }
    }

    async fn get(&self, url: &str) -> Got {
        self.got(self.http.get(url)).await
    }

    async fn link(&self, t: &Tenant, kind: &str) -> String {
        let v = self
            .w
            .api
            .expect(
                Method::POST,
                &format!("/v1/tenants/{}/connect-links", t.id),
                &t.owner_token,
                Some(json!({ "kind": kind })),
                201,
            )
            .await
            .unwrap();
        assert!(v["expires_at"].as_i64().unwrap() > harness::now_ms());
        v["url"].as_str().unwrap().to_owned()
    }

    /// Opens a link; answers Meta's consent URL it redirected to.
    async fn start(&self, link: &str) -> String {
        let g = self.get(link).await;
        assert!(
            matches!(g.status, 302 | 303 | 307),
            "{} {}",
            g.status,
            g.body
        );
        g.location.unwrap()
    }

    /// The Instagram consent page, then Allow (or Deny): answers the relay callback URL.
    async fn instagram_consent(&self, authorize: &str, allow: Option<&str>) -> String {
        let page = self.get(authorize).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let mut form = params(authorize);
        match allow {
            Some(account) => {
                assert!(
                    page.body.contains(&format!("allow-{account}")),
                    "{}",
                    page.body
                );
                form.insert("account".into(), account.into());
                form.insert("allow".into(), "1".into());
            }
            None => {
                form.insert("deny".into(), "1".into());
            }
        }
        let g = self
            .got(
                self.http
                    .post(format!("{}/oauth/authorize", self.sim.url))
                    .form(&form),
            )
            .await;
        assert_eq!(g.status, 302, "{}", g.body);
        g.location.unwrap()
    }

    async fn channels(&self, t: &Tenant) -> Vec<Value> {
        self.w
            .api
            .expect(
                Method::GET,
                &format!("/v1/tenants/{}/channels", t.id),
                &t.owner_token,
                None,
                200,
            )
            .await
            .unwrap()["channels"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn channel_of(&self, t: &Tenant, account: &str) -> Option<Value> {
        self.channels(t)
            .await
            .into_iter()
            .find(|c| c["account_id"] == account)
    }

    /// A page carries the brand, never this software's name, and no token or secret.
    async fn check_page(&self, html: &str) {
        assert!(html.contains(BRAND), "no brand: {html}");
        let lower = html.to_lowercase();
        assert!(!lower.contains("chatdesk"), "{html}");
        assert!(!lower.contains("relay"), "{html}");
        for marker in [
            "IGQVsim", "IGAAsim", "EAAUsim", "EAAPsim", "EAABsim", "AQB", "AQD",
        ] {
            assert!(
                !html.contains(marker),
                "a token or code in the page: {html}"
            );
        }
        for s in &self.w.secrets {
            assert!(!html.contains(s.as_str()), "a secret in the page");
        }
    }

    /// No token the simulator minted, and no code, reached the relay's log or the call log.
    async fn check_no_tokens_leaked(&self) {
        self.w.assert_log_has_no_secrets().unwrap();
        let log = std::fs::read_to_string(&self.w.options.log).unwrap();
        let calls = serde_json::to_string(&self.sim.api.calls().await.unwrap()).unwrap();
        for marker in ["IGQVsim", "IGAAsim", "EAAUsim", "EAAPsim", "EAABsim"] {
            assert!(!log.contains(marker), "a minted token in the relay log");
            assert!(!calls.contains(marker), "a minted token in the call log");
        }
    }

    async fn connect_instagram(&self, t: &Tenant) -> Got {
        let link = self.link(t, "instagram").await;
        let authorize = self.start(&link).await;
        let callback = self.instagram_consent(&authorize, Some(IG_NEW)).await;
        assert!(callback.ends_with("#_"), "{callback}");
        self.get(&callback).await
    }
}

#[tokio::test]
async fn instagram_login_connects_the_account_and_its_token_sends() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let link = fx.link(t, "instagram").await;
    let authorize = fx.start(&link).await;
    assert!(authorize.starts_with(&format!("{}/oauth/authorize?", fx.sim.url)));
    let p = params(&authorize);
    assert_eq!(p["client_id"], IG_APP_ID);
    assert_eq!(p["response_type"], "code");
    assert!(p["redirect_uri"].ends_with("/oauth/instagram/callback"));
    for s in [
        "instagram_business_basic",
        "instagram_business_manage_messages",
        "instagram_business_manage_comments",
    ] {
        assert!(p["scope"].contains(s));
    }
    let callback = fx.instagram_consent(&authorize, Some(IG_NEW)).await;
    let page = fx.get(&callback).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("@kebaya_c"), "{}", page.body);
    assert!(page.body.contains("is now connected"), "{}", page.body);
    fx.check_page(&page.body).await;

    let ch = fx.channel_of(t, IG_NEW).await.expect("the new channel");
    assert_eq!(ch["username"], "kebaya_c");
    assert_eq!(ch["login"], "instagram");
    assert_eq!(ch["has_token"], true);
    assert!(ch["page_id"].is_null());
    assert!(ch["followers_count"].as_i64().unwrap() > 0);
    assert!(
        ch["profile_picture_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let expires = ch["token_expires_at"].as_i64().expect("token expiry");
    let sixty_days = 5_183_944_000;
    assert!(
        (expires - harness::now_ms() - sixty_days).abs() < 120_000,
        "{expires}"
    );

    // The account was subscribed to the webhook fields with the long-lived token.
    let calls = fx.sim.api.calls().await.unwrap();
    let sub = calls
        .iter()
        .find(|c| {
            c["method"] == "POST" && c["path"].as_str().unwrap().ends_with("/me/subscribed_apps")
        })
        .expect("a subscription");
    assert_eq!(sub["status"], 200);
    assert_eq!(sub["token"], format!("account:{IG_NEW}"));
    for f in [
        "messages",
        "messaging_postbacks",
        "messaging_seen",
        "message_reactions",
        "comments",
    ] {
        assert!(
            sub["query"]["subscribed_fields"]
                .as_str()
                .unwrap()
                .contains(f)
        );
    }
    assert!(
        calls
            .iter()
            .any(|c| c["path_kind"] == "oauth" && c["path"] == "/oauth/access_token")
    );

    // Evidence: a `channel_connected` record, and the chain verifies.
    let events = fx.w.api.all_events(&t.id, &t.owner_token).await.unwrap();
    let connected = events
        .iter()
        .find(|e| e.to_string().contains("ChannelChanged") && e.to_string().contains("connected"))
        .expect("a connected event");
    assert!(connected.to_string().contains(IG_NEW));
    let verdict =
        fx.w.api
            .expect(
                Method::GET,
                &format!("/v1/tenants/{}/audit/verify", t.id),
                &t.owner_token,
                None,
                200,
            )
            .await
            .unwrap();
    assert_eq!(verdict["ok"], true, "{verdict}");

    // The sealed token works: a customer writes, an agent replies, Meta accepts the send.
    let customer = "5300000000000777";
    let ans = fx
        .sim
        .api
        .inbound(&json!({"account": IG_NEW, "customer": customer, "type": "text", "text": "Halo, ready stock?"}))
        .await
        .unwrap();
    assert_eq!(ans["status"], 200, "{ans}");
    let path = format!("/v1/tenants/{}/threads", t.id);
    let thread = eventually("the customer's thread", WAIT, || async {
        let v =
            fx.w.api
                .expect(Method::GET, &path, &t.agent_token, None, 200)
                .await?;
        Ok(v["threads"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|th| th["customer"]["id"] == customer)
            .and_then(|th| th["id"].as_str())
            .map(ThreadId::new))
    })
    .await
    .unwrap();
    fx.w.api
        .expect(
            Method::POST,
            &format!("/v1/tenants/{}/credits", t.id),
            OPERATOR_TOKEN,
            Some(json!({"add": 2})),
            200,
        )
        .await
        .unwrap();
    let mut desk = RawDesk::connect(&fx.w.api.url, &t.agent_token, None)
        .await
        .unwrap();
    let welcome = desk.hello(0).await.unwrap();
    desk.events_until(welcome.head).await.unwrap();
    let (answer, _) = desk
        .command(
            "c1",
            Command::SendReply {
                thread: thread.clone(),
                text: "Ready, kak!".into(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    let send = eventually("the reply sent", WAIT, || async {
        let calls = fx.sim.api.calls().await?;
        Ok(calls
            .into_iter()
            .find(|c| c["path_kind"] == "messages" && c["method"] == "POST"))
    })
    .await
    .unwrap();
    assert_eq!(send["status"], 200, "{send}");
    assert_eq!(send["path"], format!("/v23.0/{IG_NEW}/messages"));
    assert_eq!(send["token"], format!("account:{IG_NEW}"));

    // Reconnecting the same account on the same tenant updates the one channel.
    let again = fx.connect_instagram(t).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.contains("was reconnected"), "{}", again.body);
    let same: Vec<Value> = fx
        .channels(t)
        .await
        .into_iter()
        .filter(|c| c["account_id"] == IG_NEW)
        .collect();
    assert_eq!(same.len(), 1);
    assert_eq!(same[0]["id"], ch["id"]);
    fx.check_no_tokens_leaked().await;
}

#[tokio::test]
async fn a_denied_consent_writes_nothing() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let before = fx.channels(t).await.len();
    let link = fx.link(t, "instagram").await;
    let authorize = fx.start(&link).await;
    let callback = fx.instagram_consent(&authorize, None).await;
    assert_eq!(params(&callback)["error"], "access_denied");
    let page = fx.get(&callback).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Not connected"), "{}", page.body);
    fx.check_page(&page.body).await;
    assert_eq!(fx.channels(t).await.len(), before);
}

#[tokio::test]
async fn a_replayed_state_a_used_link_and_a_failed_exchange_write_nothing() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let before = fx.channels(t).await.len();

    // The link works once.
    let link = fx.link(t, "instagram").await;
    let authorize = fx.start(&link).await;
    let used = fx.get(&link).await;
    assert_eq!(used.status, 400);
    assert!(used.body.contains("no longer works"), "{}", used.body);
    fx.check_page(&used.body).await;

    // Meta refuses the code: nothing is written, and the state is spent.
    fx.sim
        .api
        .expect(
            Method::PUT,
            "/_sim/oauth",
            Some(&json!({"fail_exchange": true})),
            200,
        )
        .await
        .unwrap();
    let callback = fx.instagram_consent(&authorize, Some(IG_NEW)).await;
    let failed = fx.get(&callback).await;
    assert_eq!(failed.status, 502, "{}", failed.body);
    assert!(failed.body.contains("Could not finish"), "{}", failed.body);
    fx.check_page(&failed.body).await;
    assert_eq!(fx.channels(t).await.len(), before);

    // The same callback again: the state was used.
    fx.sim
        .api
        .expect(
            Method::PUT,
            "/_sim/oauth",
            Some(&json!({"fail_exchange": false})),
            200,
        )
        .await
        .unwrap();
    let replay = fx.get(&callback).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.body.contains("no longer works"), "{}", replay.body);
    fx.check_page(&replay.body).await;
    assert_eq!(fx.channels(t).await.len(), before);

    // A state nobody minted gets a page without any brand or detail.
    let bogus = fx
        .get(&format!(
            "{}/oauth/instagram/callback?code=x&state=nothing",
            fx.w.api.url
        ))
        .await;
    assert_eq!(bogus.status, 400);
    assert!(!bogus.body.to_lowercase().contains("relay"));

    // After a success, replaying its callback is refused and changes nothing.
    let link = fx.link(t, "instagram").await;
    let authorize = fx.start(&link).await;
    let callback = fx.instagram_consent(&authorize, Some(IG_NEW)).await;
    assert_eq!(fx.get(&callback).await.status, 200);
    let replay = fx.get(&callback).await;
    assert_eq!(replay.status, 400);
    assert_eq!(fx.channels(t).await.len(), before + 1);
    fx.check_no_tokens_leaked().await;
}

#[tokio::test]
async fn expired_links_and_states_are_refused() {
    let fx = setup(&[
        ("RELAY_CONNECT_LINK_TTL_SECS", "1"),
        ("RELAY_CONNECT_STATE_TTL_SECS", "1"),
    ])
    .await;
    let t = &fx.w.a;
    let before = fx.channels(t).await.len();
    let link = fx.link(t, "instagram").await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let expired = fx.get(&link).await;
    assert_eq!(expired.status, 400);
    assert!(expired.body.contains("expired"), "{}", expired.body);
    fx.check_page(&expired.body).await;

    let link = fx.link(t, "instagram").await;
    let authorize = fx.start(&link).await;
    let callback = fx.instagram_consent(&authorize, Some(IG_NEW)).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let page = fx.get(&callback).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("expired"), "{}", page.body);
    fx.check_page(&page.body).await;
    assert_eq!(fx.channels(t).await.len(), before);
}

#[tokio::test]
async fn an_account_of_another_tenant_is_refused() {
    let fx = setup(&[]).await;
    let got = fx.connect_instagram(&fx.w.a).await;
    assert_eq!(got.status, 200, "{}", got.body);
    let before_b = fx.channels(&fx.w.b).await;
    let refused = fx.connect_instagram(&fx.w.b).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("Already connected elsewhere"),
        "{}",
        refused.body
    );
    fx.check_page(&refused.body).await;
    assert_eq!(fx.channels(&fx.w.b).await.len(), before_b.len());
    assert!(fx.channel_of(&fx.w.a, IG_NEW).await.is_some());

    // Links are minted only by the tenant's owner or the operator.
    let (status, _) =
        fx.w.api
            .call(
                Method::POST,
                &format!("/v1/tenants/{}/connect-links", fx.w.a.id),
                Some(&fx.w.b.owner_token),
                Some(&json!({"kind": "instagram"})),
            )
            .await
            .unwrap();
    assert_eq!(status, 404);
    let (status, _) =
        fx.w.api
            .call(
                Method::POST,
                &format!("/v1/tenants/{}/connect-links", fx.w.a.id),
                Some(&fx.w.a.agent_token),
                Some(&json!({"kind": "instagram"})),
            )
            .await
            .unwrap();
    assert_eq!(status, 403);
}

#[tokio::test]
async fn facebook_login_connects_the_page_and_its_instagram_account() {
    let fx = setup(&[]).await;
    let t = &fx.w.b;
    let link = fx.link(t, "facebook").await;
    let dialog = fx.start(&link).await;
    assert!(
        dialog.starts_with(&format!("{}/v23.0/dialog/oauth?", fx.sim.url)),
        "{dialog}"
    );
    let page = fx.get(&dialog).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("tenun_d"));
    let mut form = params(&dialog);
    form.insert("allow".into(), "1".into());
    let g = fx
        .got(fx.http.post(dialog.split('?').next().unwrap()).form(&form))
        .await;
    assert_eq!(g.status, 302, "{}", g.body);
    let result = fx.get(&g.location.unwrap()).await;
    assert_eq!(result.status, 200, "{}", result.body);
    assert!(result.body.contains("@tenun_d"), "{}", result.body);
    fx.check_page(&result.body).await;
    let ch = fx.channel_of(t, IG_FB).await.expect("the channel");
    assert_eq!(ch["page_id"], PAGE_FB);
    assert_eq!(ch["login"], "facebook");
    assert_eq!(ch["has_token"], true);
    let calls = fx.sim.api.calls().await.unwrap();
    let sub = calls
        .iter()
        .find(|c| c["method"] == "POST" && c["path"] == format!("/v23.0/{PAGE_FB}/subscribed_apps"))
        .expect("the page subscribed");
    assert_eq!(sub["status"], 200, "{sub}");
    fx.check_no_tokens_leaked().await;
}

#[tokio::test]
async fn whatsapp_embedded_signup_connects_the_number() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let link = fx.link(t, "whatsapp").await;
    let page = fx.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    fx.check_page(&page.body).await;
    assert!(page.body.contains(&format!("{}/sdk.js", fx.sim.url)));
    assert!(page.body.contains(CONFIG_ID));
    let state = hidden_value(&page.body, "state");
    let signup = fx
        .sim
        .api
        .expect(Method::POST, "/_sim/oauth/embedded-signup", None, 201)
        .await
        .unwrap();
    assert_eq!(signup["phone_number_id"], WA_NEW);
    let result = fx
        .got(
            fx.http
                .post(format!("{}/whatsapp/embedded-signup", fx.w.api.url))
                .json(&json!({
                    "code": signup["code"], "waba_id": signup["waba_id"],
                    "phone_number_id": signup["phone_number_id"], "state": state,
                })),
        )
        .await;
    assert_eq!(result.status, 200, "{}", result.body);
    assert!(result.body.contains("15550007777"), "{}", result.body);
    fx.check_page(&result.body).await;
    let ch = fx.channel_of(t, WA_NEW).await.expect("the number");
    assert_eq!(ch["kind"], "whatsapp");
    assert_eq!(ch["waba_id"], WABA_NEW);
    assert_eq!(ch["login"], "whatsapp_embedded_signup");
    assert_eq!(ch["has_token"], true);
    let calls = fx.sim.api.calls().await.unwrap();
    assert!(calls.iter().any(|c| c["method"] == "POST"
        && c["path"] == format!("/v23.0/{WABA_NEW}/subscribed_apps")
        && c["status"] == 200));
    fx.check_no_tokens_leaked().await;
}

#[tokio::test]
async fn a_stale_or_cancelled_embedded_signup_writes_nothing() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let before = fx.channels(t).await.len();
    let post = |body: Value| {
        fx.got(
            fx.http
                .post(format!("{}/whatsapp/embedded-signup", fx.w.api.url))
                .json(&body),
        )
    };

    // Cancelled: the page posts nothing; a post without the finished signup is refused.
    let page = fx.get(&fx.link(t, "whatsapp").await).await;
    let state = hidden_value(&page.body, "state");
    let cancelled = post(json!({"state": state})).await;
    assert_eq!(cancelled.status, 400, "{}", cancelled.body);
    assert!(
        cancelled.body.contains("not finished"),
        "{}",
        cancelled.body
    );
    fx.check_page(&cancelled.body).await;

    // A code past its 30 s (here 0 s): Meta refuses it; nothing is written.
    fx.sim
        .api
        .expect(
            Method::PUT,
            "/_sim/oauth",
            Some(&json!({"signup_code_ttl_secs": 0})),
            200,
        )
        .await
        .unwrap();
    let page = fx.get(&fx.link(t, "whatsapp").await).await;
    let state = hidden_value(&page.body, "state");
    let signup = fx
        .sim
        .api
        .expect(Method::POST, "/_sim/oauth/embedded-signup", None, 201)
        .await
        .unwrap();
    let body = json!({"code": signup["code"], "waba_id": WABA_NEW, "phone_number_id": WA_NEW, "state": state});
    let stale = post(body.clone()).await;
    assert_eq!(stale.status, 502, "{}", stale.body);
    fx.check_page(&stale.body).await;
    // And the state is spent.
    let again = post(body).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(fx.channels(t).await.len(), before);
}
