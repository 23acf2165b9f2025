//! The connect flows in a real browser: headless Chromium driven over WebDriver
//! (`chromedriver`, `fantoccini`), a real relay and a real `relay simulate` playing Meta's
//! consent page and JS SDK. Instagram: open the connect link, click Allow, land on the
//! result page. WhatsApp: open the connect link, click Connect, click Finish inside the
//! simulator's iframe, land on the result page. Needs `/usr/bin/chromium` and
//! `/usr/bin/chromedriver` (`.ci/run` installs them); without them the test fails, saying so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fantoccini::{ClientBuilder, Locator};
use harness::World;
use harness::sim::{Sim, eventually, world_accounts};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const IG_APP_ID: &str = "990000000000123";
const IG_NEW: &str = "17841400000000777";
const WA_NEW: &str = "106540352242777";
const WABA_NEW: &str = "102290129340777";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn channel(w: &World, account: &str) -> Option<Value> {
    let t = &w.a;
    let v = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/channels", t.id),
            &t.owner_token,
            None,
            200,
        )
        .await
        .unwrap();
    v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account_id"] == account)
        .cloned()
}

#[tokio::test]
async fn instagram_and_whatsapp_connect_in_a_headless_browser() {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: install Debian's chromium and chromium-driver \
             (`apt-get install -y chromium chromium-driver`; .ci/run does it)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start("http://127.0.0.1:9", dir.path()).await.unwrap();
    sim.api.accounts(&world_accounts()).await.unwrap();
    sim.api
        .accounts(&json!([
            {"kind": "instagram", "ig_id": IG_NEW, "username": "kebaya_c", "token": "sim-unused-1",
             "login": "instagram"},
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
                &json!({"instagram_app_id": IG_APP_ID, "instagram_accounts": [IG_NEW],
                "whatsapp": WA_NEW}),
            ),
            200,
        )
        .await
        .unwrap();
    let port = free_port();
    let mut env = sim.graph_env();
    for (k, v) in [
        ("RELAY_LISTEN", format!("127.0.0.1:{port}")),
        ("RELAY_PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("INSTAGRAM_OAUTH_URL", sim.url.clone()),
        ("INSTAGRAM_APP_ID", IG_APP_ID.to_owned()),
        ("WHATSAPP_SDK_URL", format!("{}/sdk.js", sim.url)),
        ("WHATSAPP_CONFIG_ID", "880000000000456".to_owned()),
    ] {
        env.push((k.to_owned(), v));
    }
    let w = World::with_env(env).await.unwrap();
    sim.api.set_relay(&w.api.url).await.unwrap();

    // chromedriver on its own port; killed with the test.
    let driver_port = free_port();
    let _driver = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={driver_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let driver_url = format!("http://127.0.0.1:{driver_port}");
    let probe = reqwest::Client::new();
    eventually("chromedriver ready", WAIT, || async {
        Ok(probe
            .get(format!("{driver_url}/status"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success()))
    })
    .await
    .unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": CHROMIUM, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run"]}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver_url)
        .await
        .expect("a Chromium session");

    let link = |kind: &'static str| {
        let api = w.api.clone();
        let t = (w.a.id.clone(), w.a.owner_token.clone());
        async move {
            let v = api
                .expect(
                    Method::POST,
                    &format!("/v1/tenants/{}/connect-links", t.0),
                    &t.1,
                    Some(json!({ "kind": kind })),
                    201,
                )
                .await
                .unwrap();
            v["url"].as_str().unwrap().to_owned()
        }
    };

    // Instagram: the link → the simulator's consent page → Allow → the result page.
    browser.goto(&link("instagram").await).await.unwrap();
    let allow = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!("#allow-{IG_NEW}")))
        .await
        .expect("the consent page's Allow button");
    allow.click().await.unwrap();
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//h1[text()='Connected']"))
        .await
        .expect("the result page");
    let url = browser.current_url().await.unwrap();
    assert!(url.as_str().starts_with(&w.api.url), "{url}");
    let html = browser.source().await.unwrap();
    assert!(
        html.contains("@kebaya_c") && html.contains("Agency Desk"),
        "{html}"
    );
    let ch = channel(&w, IG_NEW).await.expect("the Instagram channel");
    assert_eq!(ch["username"], "kebaya_c");
    assert_eq!(ch["has_token"], true);

    // WhatsApp: the link → the Embedded Signup page → Connect → Finish in the iframe.
    browser.goto(&link("whatsapp").await).await.unwrap();
    let start = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#start:not([disabled])"))
        .await
        .expect("the Connect button, enabled once the SDK loaded");
    start.click().await.unwrap();
    let frame = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#sim-embedded-signup"))
        .await
        .expect("the signup iframe");
    frame.enter_frame().await.unwrap();
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#finish"))
        .await
        .expect("the Finish button")
        .click()
        .await
        .unwrap();
    browser.enter_parent_frame().await.unwrap();
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//h1[text()='Connected']"))
        .await
        .expect("the WhatsApp result page");
    let html = browser.source().await.unwrap();
    assert!(
        html.contains("15550007777") && html.contains("Agency Desk"),
        "{html}"
    );
    let ch = channel(&w, WA_NEW).await.expect("the WhatsApp channel");
    assert_eq!(ch["waba_id"], WABA_NEW);
    assert_eq!(ch["has_token"], true);
    browser.close().await.unwrap();
    w.assert_log_has_no_secrets().unwrap();
}
