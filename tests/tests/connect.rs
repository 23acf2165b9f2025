//! Connecting accounts end to end: a real relay whose Meta URLs (Graph, OAuth dialogs, the
//! JS SDK) point at a real `relay simulate`, driven with plain HTTP and redirects followed
//! by hand. Instagram Login, Facebook Login (the long-lived user token, the Page chooser) and
//! WhatsApp Embedded Signup; denial, replayed and expired links, states and choices, failed
//! exchanges, accounts of another tenant. Every page
//! is checked for the partner's brand and for the absence of any token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::connect::{
    CONFIG_ID, ConnectSetup, ConnectWorld, FB_USER, IG_APP_ID, IG_FB, IG_FB2, IG_NEW, MINTED,
    PAGE_FB, PAGE_FB2, WA_NEW, WABA_NEW, fetch, ig_fb_account, ig_fb2_account, ig_new_account,
    params, wa_new_account,
};
use harness::desk::RawDesk;
use harness::sim::eventually;
use protocol::{Answer, Command};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const BRAND: &str = "Agency Desk";

/// The relay configured for all three logins, with `extra` environment. The simulator
/// knows [`IG_FB2`] too, but its Facebook user manages only [`IG_FB`]'s Page until a test
/// says otherwise.
async fn setup(extra: &[(&str, &str)]) -> ConnectWorld {
    ConnectWorld::start(ConnectSetup {
        accounts: vec![
            ig_new_account(),
            ig_fb_account(),
            ig_fb2_account(),
            wa_new_account(),
        ],
        oauth: json!({"instagram_app_id": IG_APP_ID, "meta_app_id": "1000000000001",
                      "instagram_accounts": [IG_NEW], "pages": [IG_FB], "whatsapp": WA_NEW}),
        instagram: true,
        facebook: true,
        whatsapp: true,
        env: extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    })
    .await
    .unwrap()
}

/// Pulls `name="…" value="…"` out of a page.
fn hidden_value(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no hidden {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The Instagram consent page (which must offer `allow`'s account), then Allow (or Deny):
/// answers the relay callback URL.
async fn instagram_consent(fx: &ConnectWorld, authorize: &str, allow: Option<&str>) -> String {
    let page = fx.get(authorize).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    if let Some(account) = allow {
        assert!(
            page.body.contains(&format!("allow-{account}")),
            "{}",
            page.body
        );
    }
    fx.answer_instagram_consent(authorize, allow).await.unwrap()
}

/// A page carries the brand, never this software's name, and no token or secret.
fn check_page(fx: &ConnectWorld, html: &str) {
    assert!(html.contains(BRAND), "no brand: {html}");
    check_unbranded_page(fx, html);
}

/// A page for a link or state nobody minted (or already used): the same for every tenant,
/// so it names no brand; nor this software, a token or a secret.
fn check_generic_page(fx: &ConnectWorld, html: &str) {
    assert!(!html.contains(BRAND), "a brand on a generic page: {html}");
    check_unbranded_page(fx, html);
}

fn check_unbranded_page(fx: &ConnectWorld, html: &str) {
    let lower = html.to_lowercase();
    assert!(!lower.contains("chatdesk"), "{html}");
    assert!(!lower.contains("relay"), "{html}");
    // The minted tokens, and the codes Meta hands out.
    for marker in MINTED.iter().chain(&["AQB", "AQD"]) {
        assert!(
            !html.contains(marker),
            "a token or code in the page: {html}"
        );
    }
    for s in &fx.w.secrets {
        assert!(!html.contains(s.as_str()), "a secret in the page");
    }
}

/// A customer writes to `account`, an agent of `t` replies, and Meta's answer to the send
/// is returned (the outbox used the channel's stored token).
async fn reply_is_sent(
    fx: &ConnectWorld,
    t: &harness::Tenant,
    account: &str,
    customer: &str,
) -> Value {
    fx.sim
        .api
        .customer_writes(account, customer, "Halo, ready stock?")
        .await
        .unwrap();
    let thread = fx.w.thread_of(t, customer, WAIT).await.unwrap();
    fx.w.top_up(t, 2).await.unwrap();
    let mut desk = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    let (answer, _) = desk
        .command(
            "c1",
            Command::SendReply {
                thread,
                text: "Ready, kak!".into(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    eventually("the reply sent", WAIT, || async {
        Ok(fx.sim.api.send_calls().await?.into_iter().next())
    })
    .await
    .unwrap()
}

/// The relay's evidence: how many events `t`'s log holds.
async fn event_count(fx: &ConnectWorld, t: &harness::Tenant) -> usize {
    fx.w.api
        .all_events(&t.id, &t.owner_token)
        .await
        .unwrap()
        .len()
}

/// The calls the simulator's OAuth surface received at `path` (`/v23.0/…`).
fn calls_to<'a>(calls: &'a [Value], path: &str) -> Vec<&'a Value> {
    calls.iter().filter(|c| c["path"] == path).collect()
}

/// No token the simulator minted, and no code, reached the relay's log or the call log.
async fn check_no_tokens_leaked(fx: &ConnectWorld) {
    fx.w.assert_log_has_no_secrets().unwrap();
    let log = std::fs::read_to_string(&fx.w.options.log).unwrap();
    let calls = serde_json::to_string(&fx.sim.api.calls().await.unwrap()).unwrap();
    for marker in MINTED {
        assert!(!log.contains(marker), "a minted token in the relay log");
        assert!(!calls.contains(marker), "a minted token in the call log");
    }
}

#[tokio::test]
async fn instagram_login_connects_the_account_and_its_token_sends() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let link = fx.link(t, "instagram").await.unwrap();
    let authorize = fx.open_link(&link).await.unwrap();
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
    let callback = instagram_consent(&fx, &authorize, Some(IG_NEW)).await;
    let page = fx.get(&callback).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("@kebaya_c"), "{}", page.body);
    assert!(page.body.contains("is now connected"), "{}", page.body);
    check_page(&fx, &page.body);

    let ch = fx
        .channel_of(t, IG_NEW)
        .await
        .unwrap()
        .expect("the new channel");
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
    fx.w.api.audit_ok(&t.id, &t.owner_token).await.unwrap();

    // The sealed token works: a customer writes, an agent replies, Meta accepts the send.
    let send = reply_is_sent(&fx, t, IG_NEW, "5300000000000777").await;
    assert_eq!(send["status"], 200, "{send}");
    assert_eq!(send["path"], format!("/v23.0/{IG_NEW}/messages"));
    assert_eq!(send["token"], format!("account:{IG_NEW}"));

    // Reconnecting the same account on the same tenant updates the one channel.
    let again = fx.connect_instagram(t, IG_NEW).await.unwrap();
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.contains("was reconnected"), "{}", again.body);
    let same: Vec<Value> = fx
        .channels(t)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c["account_id"] == IG_NEW)
        .collect();
    assert_eq!(same.len(), 1);
    assert_eq!(same[0]["id"], ch["id"]);
    check_no_tokens_leaked(&fx).await;
}

#[tokio::test]
async fn a_denied_consent_writes_nothing() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let before = fx.channels(t).await.unwrap().len();
    let link = fx.link(t, "instagram").await.unwrap();
    let authorize = fx.open_link(&link).await.unwrap();
    let callback = instagram_consent(&fx, &authorize, None).await;
    assert_eq!(params(&callback)["error"], "access_denied");
    let page = fx.get(&callback).await.unwrap();
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Not connected"), "{}", page.body);
    check_page(&fx, &page.body);
    assert_eq!(fx.channels(t).await.unwrap().len(), before);
}

#[tokio::test]
async fn a_replayed_state_a_used_link_and_a_failed_exchange_write_nothing() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let before = fx.channels(t).await.unwrap().len();

    // The link works once.
    let link = fx.link(t, "instagram").await.unwrap();
    let authorize = fx.open_link(&link).await.unwrap();
    let used = fx.get(&link).await.unwrap();
    assert_eq!(used.status, 400);
    assert!(used.body.contains("no longer works"), "{}", used.body);
    check_generic_page(&fx, &used.body);

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
    let callback = instagram_consent(&fx, &authorize, Some(IG_NEW)).await;
    let failed = fx.get(&callback).await.unwrap();
    assert_eq!(failed.status, 502, "{}", failed.body);
    assert!(failed.body.contains("Could not finish"), "{}", failed.body);
    check_page(&fx, &failed.body);
    assert_eq!(fx.channels(t).await.unwrap().len(), before);

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
    let replay = fx.get(&callback).await.unwrap();
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.body.contains("no longer works"), "{}", replay.body);
    check_generic_page(&fx, &replay.body);
    assert_eq!(fx.channels(t).await.unwrap().len(), before);

    // A state nobody minted gets a page without any brand or detail.
    let bogus = fx
        .get(&format!(
            "{}/oauth/instagram/callback?code=x&state=nothing",
            fx.w.api.url
        ))
        .await
        .unwrap();
    assert_eq!(bogus.status, 400);
    assert!(!bogus.body.to_lowercase().contains("relay"));

    // After a success, replaying its callback is refused and changes nothing.
    let link = fx.link(t, "instagram").await.unwrap();
    let authorize = fx.open_link(&link).await.unwrap();
    let callback = instagram_consent(&fx, &authorize, Some(IG_NEW)).await;
    assert_eq!(fx.get(&callback).await.unwrap().status, 200);
    let replay = fx.get(&callback).await.unwrap();
    assert_eq!(replay.status, 400);
    assert_eq!(fx.channels(t).await.unwrap().len(), before + 1);
    check_no_tokens_leaked(&fx).await;
}

/// Sweep rounds follow the relay's clock: moving it past the default interval would let the
/// sweeper remove an expired record before it is used, and the page would say "no longer
/// works" instead of "expired". Tests that look at expired records keep sweeps a day apart.
const NO_SWEEP: (&str, &str) = ("RELAY_SWEEP_INTERVAL_SECS", "86400");

#[tokio::test]
async fn expired_links_and_states_are_refused() {
    let fx = setup(&[NO_SWEEP]).await;
    let t = &fx.w.a;
    let before = fx.channels(t).await.unwrap().len();
    let link = fx.link(t, "instagram").await.unwrap();
    // Links live 30 minutes, states 10: the relay's clock moves past each.
    fx.w.advance_clock(30 * 60 * 1000 + 1).await.unwrap();
    let expired = fx.get(&link).await.unwrap();
    assert_eq!(expired.status, 400);
    assert!(expired.body.contains("expired"), "{}", expired.body);
    check_page(&fx, &expired.body);

    let link = fx.link(t, "instagram").await.unwrap();
    let authorize = fx.open_link(&link).await.unwrap();
    let callback = instagram_consent(&fx, &authorize, Some(IG_NEW)).await;
    fx.w.advance_clock(10 * 60 * 1000 + 1).await.unwrap();
    let page = fx.get(&callback).await.unwrap();
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("expired"), "{}", page.body);
    check_page(&fx, &page.body);
    assert_eq!(fx.channels(t).await.unwrap().len(), before);
}

#[tokio::test]
async fn an_account_of_another_tenant_is_refused() {
    let fx = setup(&[]).await;
    let got = fx.connect_instagram(&fx.w.a, IG_NEW).await.unwrap();
    assert_eq!(got.status, 200, "{}", got.body);
    let before_b = fx.channels(&fx.w.b).await.unwrap();
    let refused = fx.connect_instagram(&fx.w.b, IG_NEW).await.unwrap();
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("Already connected elsewhere"),
        "{}",
        refused.body
    );
    check_page(&fx, &refused.body);
    assert_eq!(fx.channels(&fx.w.b).await.unwrap().len(), before_b.len());
    assert!(fx.channel_of(&fx.w.a, IG_NEW).await.unwrap().is_some());

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
    let link = fx.link(t, "facebook").await.unwrap();
    let dialog = fx.open_link(&link).await.unwrap();
    assert!(
        dialog.starts_with(&format!("{}/v23.0/dialog/oauth?", fx.sim.url)),
        "{dialog}"
    );
    let page = fx.get(&dialog).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("tenun_d"));
    let mut form = params(&dialog);
    form.insert("allow".into(), "1".into());
    let g = fetch(fx.http.post(dialog.split('?').next().unwrap()).form(&form))
        .await
        .unwrap();
    assert_eq!(g.status, 302, "{}", g.body);
    let result = fx.get(&g.location.unwrap()).await.unwrap();
    assert_eq!(result.status, 200, "{}", result.body);
    assert!(result.body.contains("@tenun_d"), "{}", result.body);
    check_page(&fx, &result.body);
    let ch = fx.channel_of(t, IG_FB).await.unwrap().expect("the channel");
    assert_eq!(ch["page_id"], PAGE_FB);
    assert_eq!(ch["login"], "facebook");
    assert_eq!(ch["has_token"], true);
    let calls = fx.sim.api.calls().await.unwrap();
    let sub = calls
        .iter()
        .find(|c| c["method"] == "POST" && c["path"] == format!("/v23.0/{PAGE_FB}/subscribed_apps"))
        .expect("the page subscribed");
    assert_eq!(sub["status"], 200, "{sub}");
    check_no_tokens_leaked(&fx).await;
}

#[tokio::test]
async fn whatsapp_embedded_signup_connects_the_number() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let link = fx.link(t, "whatsapp").await.unwrap();
    let page = fx.get(&link).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    check_page(&fx, &page.body);
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
    let result = fetch(
        fx.http
            .post(format!("{}/whatsapp/embedded-signup", fx.w.api.url))
            .json(&json!({
                "code": signup["code"], "waba_id": signup["waba_id"],
                "phone_number_id": signup["phone_number_id"], "state": state,
            })),
    )
    .await
    .unwrap();
    assert_eq!(result.status, 200, "{}", result.body);
    assert!(result.body.contains("15550007777"), "{}", result.body);
    check_page(&fx, &result.body);
    let ch = fx.channel_of(t, WA_NEW).await.unwrap().expect("the number");
    assert_eq!(ch["kind"], "whatsapp");
    assert_eq!(ch["waba_id"], WABA_NEW);
    assert_eq!(ch["login"], "whatsapp_embedded_signup");
    assert_eq!(ch["has_token"], true);
    let calls = fx.sim.api.calls().await.unwrap();
    assert!(calls.iter().any(|c| c["method"] == "POST"
        && c["path"] == format!("/v23.0/{WABA_NEW}/subscribed_apps")
        && c["status"] == 200));
    check_no_tokens_leaked(&fx).await;
}

#[tokio::test]
async fn a_stale_or_cancelled_embedded_signup_writes_nothing() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let before = fx.channels(t).await.unwrap().len();
    let post = |body: Value| {
        fetch(
            fx.http
                .post(format!("{}/whatsapp/embedded-signup", fx.w.api.url))
                .json(&body),
        )
    };

    // Cancelled: the page posts nothing; a post without the finished signup is refused.
    let page = fx
        .get(&fx.link(t, "whatsapp").await.unwrap())
        .await
        .unwrap();
    let state = hidden_value(&page.body, "state");
    let cancelled = post(json!({"state": state})).await.unwrap();
    assert_eq!(cancelled.status, 400, "{}", cancelled.body);
    assert!(
        cancelled.body.contains("not finished"),
        "{}",
        cancelled.body
    );
    check_page(&fx, &cancelled.body);

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
    let page = fx
        .get(&fx.link(t, "whatsapp").await.unwrap())
        .await
        .unwrap();
    let state = hidden_value(&page.body, "state");
    let signup = fx
        .sim
        .api
        .expect(Method::POST, "/_sim/oauth/embedded-signup", None, 201)
        .await
        .unwrap();
    let body = json!({"code": signup["code"], "waba_id": WABA_NEW, "phone_number_id": WA_NEW, "state": state});
    let stale = post(body.clone()).await.unwrap();
    assert_eq!(stale.status, 502, "{}", stale.body);
    check_page(&fx, &stale.body);
    // And the state is spent.
    let again = post(body).await.unwrap();
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(fx.channels(t).await.unwrap().len(), before);
}

#[tokio::test]
async fn facebook_login_exchanges_for_a_long_lived_user_token_whose_page_token_sends() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let callback = fx.facebook_callback(t).await.unwrap();
    let result = fx.get(&callback).await.unwrap();
    assert_eq!(result.status, 200, "{}", result.body);
    assert!(result.body.contains("@tenun_d"), "{}", result.body);
    assert!(result.body.contains("is now connected"), "{}", result.body);
    check_page(&fx, &result.body);

    // The code's user token was exchanged (token and secret redacted in the call log)
    // before the Pages were read, and the Pages were read with the long-lived one.
    let calls = fx.sim.api.calls().await.unwrap();
    let exchanges: Vec<&Value> = calls_to(&calls, "/v23.0/oauth/access_token")
        .into_iter()
        .filter(|c| c["query"]["grant_type"] == "fb_exchange_token")
        .collect();
    assert_eq!(exchanges.len(), 1, "{calls:?}");
    let exchange = exchanges[0];
    assert_eq!(exchange["status"], 200, "{exchange}");
    assert_eq!(exchange["query"]["fb_exchange_token"], "[redacted]");
    assert_eq!(exchange["query"]["client_secret"], "[redacted]");
    assert_eq!(exchange["query"]["client_id"], "1000000000001");
    assert_eq!(exchange["token"], format!("user:{FB_USER}"));
    assert_eq!(exchange["response"]["access_token"], "[redacted]");
    assert!(exchange["response"]["expires_in"].as_i64().unwrap() > 86_400);
    let accounts = calls_to(&calls, "/v23.0/me/accounts");
    assert_eq!(accounts.len(), 1);
    assert!(accounts[0]["seq"].as_u64() > exchange["seq"].as_u64());
    let tokens = fx
        .sim
        .api
        .expect(Method::GET, "/_sim/oauth/tokens", None, 200)
        .await
        .unwrap();
    let tokens = tokens["tokens"].as_array().unwrap();
    assert!(
        tokens.iter().any(|i| i["kind"] == "user_long_lived"),
        "{tokens:?}"
    );
    // Read with the long-lived token, the Page token does not expire, and the relay
    // records no expiry Meta did not state.
    let page_token = tokens
        .iter()
        .find(|i| i["kind"] == "page" && i["account"] == IG_FB)
        .expect("the Page token");
    assert!(page_token["expires_at_ms"].is_null(), "{page_token}");
    let ch = fx.channel_of(t, IG_FB).await.unwrap().expect("the channel");
    assert_eq!(ch["page_id"], PAGE_FB);
    assert_eq!(ch["login"], "facebook");
    assert!(ch["token_expires_at"].is_null(), "{ch}");

    // Two hours on, the code's short-lived user token (and any Page token read with it)
    // has lapsed; the stored Page token still sends through the outbox.
    fx.set_oauth(&json!({"clock_offset_ms": 7_200_000}))
        .await
        .unwrap();
    let send = reply_is_sent(&fx, t, IG_FB, "5300000000000888").await;
    assert_eq!(send["status"], 200, "{send}");
    assert_eq!(send["token"], format!("account:{IG_FB}"), "{send}");
    check_no_tokens_leaked(&fx).await;
}

#[tokio::test]
async fn a_failed_user_token_exchange_writes_nothing() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let before = fx.channels(t).await.unwrap().len();
    let events = event_count(&fx, t).await;
    fx.set_oauth(&json!({"fail_user_exchange": true}))
        .await
        .unwrap();
    let callback = fx.facebook_callback(t).await.unwrap();
    let failed = fx.get(&callback).await.unwrap();
    assert_eq!(failed.status, 502, "{}", failed.body);
    assert!(failed.body.contains("Could not finish"), "{}", failed.body);
    check_page(&fx, &failed.body);
    assert_eq!(fx.channels(t).await.unwrap().len(), before);
    assert!(fx.channel_of(t, IG_FB).await.unwrap().is_none());
    assert_eq!(event_count(&fx, t).await, events);
    let calls = fx.sim.api.calls().await.unwrap();
    assert!(
        calls_to(&calls, "/v23.0/oauth/access_token")
            .iter()
            .any(|c| c["query"]["grant_type"] == "fb_exchange_token" && c["status"] == 400),
        "{calls:?}"
    );
    // The Pages were never read with the short-lived token, nor subscribed.
    assert!(calls_to(&calls, "/v23.0/me/accounts").is_empty());
    assert!(calls_to(&calls, &format!("/v23.0/{PAGE_FB}/subscribed_apps")).is_empty());
    // The state is spent: the same callback again is refused.
    fx.set_oauth(&json!({"fail_user_exchange": false}))
        .await
        .unwrap();
    let replay = fx.get(&callback).await.unwrap();
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert_eq!(fx.channels(t).await.unwrap().len(), before);
    check_no_tokens_leaked(&fx).await;
}

#[tokio::test]
async fn two_pages_get_a_chooser_and_the_chosen_page_connects_once() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    fx.set_oauth(&json!({"pages": [IG_FB, IG_FB2]}))
        .await
        .unwrap();
    let before = fx.channels(t).await.unwrap().len();
    let events = event_count(&fx, t).await;
    let callback = fx.facebook_callback(t).await.unwrap();
    let chooser = fx.get(&callback).await.unwrap();
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    assert!(chooser.body.contains("Choose a Page"), "{}", chooser.body);
    for shown in ["tenun_d Page", "@tenun_d", "songket_e Page", "@songket_e"] {
        assert!(chooser.body.contains(shown), "{shown}: {}", chooser.body);
    }
    for page in [PAGE_FB, PAGE_FB2] {
        assert!(
            chooser
                .body
                .contains(&format!("name=\"page\" value=\"{page}\"")),
            "{}",
            chooser.body
        );
    }
    check_page(&fx, &chooser.body);
    // Nothing is written, nor subscribed, before the person chooses.
    assert_eq!(fx.channels(t).await.unwrap().len(), before);
    assert_eq!(event_count(&fx, t).await, events);
    let calls = fx.sim.api.calls().await.unwrap();
    assert!(
        !calls
            .iter()
            .any(|c| c["path"].as_str().unwrap().ends_with("/subscribed_apps"))
    );
    let state = hidden_value(&chooser.body, "state");
    // The choice is a fresh secret, not the OAuth state Meta carried.
    assert_ne!(state, params(&callback)["state"]);

    let chosen = fx.choose_page(&state, PAGE_FB2).await.unwrap();
    assert_eq!(chosen.status, 200, "{}", chosen.body);
    assert!(chosen.body.contains("@songket_e"), "{}", chosen.body);
    assert!(chosen.body.contains("is now connected"), "{}", chosen.body);
    check_page(&fx, &chosen.body);
    let ch = fx
        .channel_of(t, IG_FB2)
        .await
        .unwrap()
        .expect("the chosen Page's account");
    assert_eq!(ch["page_id"], PAGE_FB2);
    assert_eq!(ch["login"], "facebook");
    assert_eq!(ch["username"], "songket_e");
    assert_eq!(ch["has_token"], true);
    assert!(fx.channel_of(t, IG_FB).await.unwrap().is_none());
    let calls = fx.sim.api.calls().await.unwrap();
    let sub = calls_to(&calls, &format!("/v23.0/{PAGE_FB2}/subscribed_apps"));
    assert_eq!(sub.len(), 1);
    assert_eq!(sub[0]["status"], 200, "{}", sub[0]);
    assert!(calls_to(&calls, &format!("/v23.0/{PAGE_FB}/subscribed_apps")).is_empty());
    let after = fx.channels(t).await.unwrap().len();
    assert_eq!(after, before + 1);
    let events_after = event_count(&fx, t).await;
    assert_eq!(events_after, events + 1);

    // The same post again, or for the other Page: the choice is spent; nothing more.
    for page in [PAGE_FB2, PAGE_FB] {
        let replay = fx.choose_page(&state, page).await.unwrap();
        assert_eq!(replay.status, 400, "{}", replay.body);
        assert!(replay.body.contains("no longer works"), "{}", replay.body);
        check_generic_page(&fx, &replay.body);
    }
    assert_eq!(fx.channels(t).await.unwrap().len(), after);
    assert!(fx.channel_of(t, IG_FB).await.unwrap().is_none());
    assert_eq!(event_count(&fx, t).await, events_after);
    let calls = fx.sim.api.calls().await.unwrap();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c["path"].as_str().unwrap().ends_with("/subscribed_apps"))
            .count(),
        1
    );

    // A Page the chooser did not offer is refused, and spends the choice.
    let callback = fx.facebook_callback(t).await.unwrap();
    let chooser = fx.get(&callback).await.unwrap();
    let state = hidden_value(&chooser.body, "state");
    let odd = fx.choose_page(&state, "108000000000123").await.unwrap();
    assert_eq!(odd.status, 400, "{}", odd.body);
    assert!(odd.body.contains("not offered"), "{}", odd.body);
    check_page(&fx, &odd.body);
    let spent = fx.choose_page(&state, PAGE_FB).await.unwrap();
    assert_eq!(spent.status, 400, "{}", spent.body);
    assert!(fx.channel_of(t, IG_FB).await.unwrap().is_none());
    check_no_tokens_leaked(&fx).await;
}

#[tokio::test]
async fn an_expired_page_choice_writes_nothing() {
    let fx = setup(&[NO_SWEEP]).await;
    let t = &fx.w.a;
    fx.set_oauth(&json!({"pages": [IG_FB, IG_FB2]}))
        .await
        .unwrap();
    let before = fx.channels(t).await.unwrap().len();
    let events = event_count(&fx, t).await;
    let callback = fx.facebook_callback(t).await.unwrap();
    let chooser = fx.get(&callback).await.unwrap();
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    let state = hidden_value(&chooser.body, "state");
    fx.w.advance_clock(10 * 60 * 1000 + 1).await.unwrap();
    let late = fx.choose_page(&state, PAGE_FB).await.unwrap();
    assert_eq!(late.status, 400, "{}", late.body);
    assert!(late.body.contains("expired"), "{}", late.body);
    check_page(&fx, &late.body);
    assert_eq!(fx.channels(t).await.unwrap().len(), before);
    assert_eq!(event_count(&fx, t).await, events);
}

/// Links and states nobody used are swept once expired: the relay's metric counts them and
/// an expired link then answers as unknown, because its record is gone. Sweep rounds are
/// spaced in relay time, so moving the clock past the default interval brings one.
#[tokio::test]
async fn expired_links_and_states_are_swept() {
    let fx = setup(&[]).await;
    let t = &fx.w.a;
    let unused = fx.link(t, "instagram").await.unwrap();
    let started = fx.link(t, "instagram").await.unwrap();
    fx.open_link(&started).await.unwrap();
    let before = fx.w.metric("relay_swept_records_total").await.unwrap();
    fx.w.advance_clock(30 * 60 * 1000 + 1).await.unwrap();
    // The unused link and the started flow's state (the spent link is already gone).
    let swept = eventually("the sweep", WAIT, || async {
        let n = fx.w.metric("relay_swept_records_total").await?;
        Ok((n >= before + 2.0).then_some(n))
    })
    .await
    .unwrap();
    assert_eq!(swept, before + 2.0);
    let page = fx.get(&unused).await.unwrap();
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("no longer works"), "{}", page.body);
}
