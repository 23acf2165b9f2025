//! The connect flows in a real browser: headless Chromium driven over WebDriver
//! (`chromedriver`, `fantoccini`), a real relay and a real `relay simulate` playing Meta's
//! consent page and JS SDK. Instagram: open the connect link, click Allow, land on the
//! result page. WhatsApp: open the connect link, click Connect, click Finish inside the
//! simulator's iframe, land on the result page. Needs `/usr/bin/chromium` and
//! `/usr/bin/chromedriver` (`.ci/run` installs them); without them the test fails, saying so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fantoccini::{ClientBuilder, Locator};
use harness::connect::{
    ConnectSetup, ConnectWorld, IG_APP_ID, IG_NEW, WA_NEW, WABA_NEW, free_port, ig_new_account,
    wa_new_account,
};
use harness::sim::eventually;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

#[tokio::test]
async fn instagram_and_whatsapp_connect_in_a_headless_browser() {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: install Debian's chromium and chromium-driver \
             (`apt-get install -y chromium chromium-driver`; .ci/run does it)"
        );
    }
    let fx = ConnectWorld::start(ConnectSetup {
        accounts: vec![ig_new_account(), wa_new_account()],
        oauth: json!({"instagram_app_id": IG_APP_ID, "instagram_accounts": [IG_NEW],
                      "whatsapp": WA_NEW}),
        instagram: true,
        whatsapp: true,
        ..ConnectSetup::default()
    })
    .await
    .unwrap();
    let w = &fx.w;

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

    // Instagram: the link → the simulator's consent page → Allow → the result page.
    browser
        .goto(&fx.link(&w.a, "instagram").await.unwrap())
        .await
        .unwrap();
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
    let ch = fx
        .channel_of(&w.a, IG_NEW)
        .await
        .unwrap()
        .expect("the Instagram channel");
    assert_eq!(ch["username"], "kebaya_c");
    assert_eq!(ch["has_token"], true);

    // WhatsApp: the link → the Embedded Signup page → Connect → Finish in the iframe.
    browser
        .goto(&fx.link(&w.a, "whatsapp").await.unwrap())
        .await
        .unwrap();
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
    let ch = fx
        .channel_of(&w.a, WA_NEW)
        .await
        .unwrap()
        .expect("the WhatsApp channel");
    assert_eq!(ch["waba_id"], WABA_NEW);
    assert_eq!(ch["has_token"], true);
    browser.close().await.unwrap();
    w.assert_log_has_no_secrets().unwrap();
}
