//! Connecting accounts in end-to-end tests: a relay whose Meta URLs (Graph, the OAuth
//! dialogs, the JS SDK) point at a real `relay simulate`, and the connect flows walked by
//! hand with plain HTTP: mint a link, open it, answer Meta's consent, follow the callback.
//!
//! The relay must know its public URL before it starts (its redirect URIs and links are
//! built from it), so [`ConnectWorld::start`] picks the relay's port itself. Redirects are
//! never followed, so every answer a test looks at is the relay's or the simulator's own.

use crate::sim::{Sim, SimWorld};
use crate::{Tenant, World};
use anyhow::{Context as _, bail, ensure};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The Instagram app the relay and the simulator's Instagram Login agree on.
pub const IG_APP_ID: &str = "990000000000123";
/// The Embedded Signup configuration the relay's WhatsApp connect page names.
pub const CONFIG_ID: &str = "880000000000456";
/// An Instagram-Login account nobody has connected yet ([`ig_new_account`]).
pub const IG_NEW: &str = "17841400000000777";
/// A Facebook-Login account (Page + linked Instagram) ([`ig_fb_account`]).
pub const IG_FB: &str = "17841400000000888";
pub const PAGE_FB: &str = "108000000000888";
/// A second Facebook-Login account ([`ig_fb2_account`]), for the Page chooser.
pub const IG_FB2: &str = "17841400000000999";
pub const PAGE_FB2: &str = "108000000000999";
/// The Facebook user the simulator's Facebook Login consents as (its default `user_id`).
pub const FB_USER: &str = "10150000000000001";
/// A WhatsApp number for Embedded Signup ([`wa_new_account`]).
pub const WA_NEW: &str = "106540352242777";
pub const WABA_NEW: &str = "102290129340777";
/// Prefixes of the tokens the simulator mints (short-lived, long-lived, user, page,
/// business): none of them may ever appear in what the relay says or logs.
pub const MINTED: [&str; 5] = ["IGQVsim", "IGAAsim", "EAAUsim", "EAAPsim", "EAABsim"];

/// The simulator account behind [`IG_NEW`] (`@kebaya_c`, Instagram Login).
#[must_use]
pub fn ig_new_account() -> Value {
    json!({"kind": "instagram", "ig_id": IG_NEW, "username": "kebaya_c", "token": "sim-unused-1",
           "login": "instagram"})
}

/// The simulator account behind [`IG_FB`] (`@tenun_d` on Page [`PAGE_FB`], Facebook Login).
#[must_use]
pub fn ig_fb_account() -> Value {
    json!({"kind": "instagram", "ig_id": IG_FB, "page_id": PAGE_FB, "username": "tenun_d",
           "token": "sim-unused-2", "login": "facebook"})
}

/// The simulator account behind [`IG_FB2`] (`@songket_e` on Page [`PAGE_FB2`], Facebook Login).
#[must_use]
pub fn ig_fb2_account() -> Value {
    json!({"kind": "instagram", "ig_id": IG_FB2, "page_id": PAGE_FB2, "username": "songket_e",
           "token": "sim-unused-4", "login": "facebook"})
}

/// The simulator number behind [`WA_NEW`] (`15550007777` in WABA [`WABA_NEW`]).
#[must_use]
pub fn wa_new_account() -> Value {
    json!({"kind": "whatsapp", "phone_number_id": WA_NEW, "waba_id": WABA_NEW,
           "display_phone_number": "15550007777", "token": "sim-unused-3"})
}

/// A loopback port free right now (for a process that must know its port before it starts).
#[must_use]
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Below the kernel's ephemeral range (32768 and up here), so the port cannot be handed to
    // another test's `bind(0)` between this check and the relay's own bind; each test
    // process counts up from its own offset, staying below 32768.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + u16::try_from(std::process::id() % 400).unwrap_or(0) * 30;
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = base + offset % 700;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The query parameters of `url`.
///
/// # Panics
/// `url` does not parse.
#[must_use]
#[allow(clippy::expect_used)]
pub fn params(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// What a browser request got: its status, where it redirects, its body.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// Sends `req` and keeps what a browser would see (no redirect is followed by
/// [`ConnectWorld::http`]).
///
/// # Errors
/// Connection failures, or a `location` header that is not text.
pub async fn fetch(req: reqwest::RequestBuilder) -> anyhow::Result<Page> {
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let location = match resp.headers().get("location") {
        Some(v) => Some(v.to_str()?.to_owned()),
        None => None,
    };
    Ok(Page {
        status,
        location,
        body: resp.text().await?,
    })
}

/// `t`'s channels, as its owner reads them.
///
/// # Errors
/// The relay refused the read or answered no list.
pub async fn channels(w: &World, t: &Tenant) -> anyhow::Result<Vec<Value>> {
    let v = w
        .api
        .expect(
            Method::GET,
            &format!("/v1/tenants/{}/channels", t.id),
            &t.owner_token,
            None,
            200,
        )
        .await?;
    v["channels"]
        .as_array()
        .cloned()
        .with_context(|| format!("no channel list: {v}"))
}

/// `t`'s channel of `account` (its `account_id`), if there is one.
///
/// # Errors
/// See [`channels`].
pub async fn channel_of(w: &World, t: &Tenant, account: &str) -> anyhow::Result<Option<Value>> {
    Ok(channels(w, t)
        .await?
        .into_iter()
        .find(|c| c["account_id"] == account))
}

/// How [`ConnectWorld::start`] sets up the simulator and the relay, beyond the World's
/// accounts, the Graph URLs and the relay's public URL (always set).
#[derive(Default)]
pub struct ConnectSetup {
    /// More simulator accounts (an array of specs), e.g. [`ig_new_account`].
    pub accounts: Vec<Value>,
    /// The simulator's OAuth settings (`PUT /_sim/oauth`).
    pub oauth: Value,
    /// Instagram Login: `INSTAGRAM_OAUTH_URL` at the simulator and [`IG_APP_ID`].
    pub instagram: bool,
    /// Facebook Login: `FACEBOOK_OAUTH_URL` at the simulator.
    pub facebook: bool,
    /// Embedded Signup: the simulator's JS SDK and [`CONFIG_ID`].
    pub whatsapp: bool,
    /// Any further relay environment.
    pub env: Vec<(String, String)>,
}

/// A relay with fixed public URL whose Meta URLs point at a simulator, and a client that
/// plays the browser.
pub struct ConnectWorld {
    pub w: World,
    pub sim: Sim,
    /// Follows no redirect, so each answer is the relay's (or Meta's) own.
    pub http: reqwest::Client,
    /// Holds the simulator's log; removed on drop.
    pub dir: tempfile::TempDir,
}

impl ConnectWorld {
    /// The simulator (the World's accounts and `setup`'s, its OAuth settings), then a relay
    /// on a port picked here with the Meta URLs `setup` asks for, then the simulator
    /// pointed at the relay.
    ///
    /// # Errors
    /// Start-up or registration failures.
    pub async fn start(setup: ConnectSetup) -> anyhow::Result<ConnectWorld> {
        let dir = tempfile::tempdir()?;
        let sim = SimWorld::simulator(dir.path()).await?;
        if !setup.accounts.is_empty() {
            sim.api.accounts(&Value::from(setup.accounts)).await?;
        }
        sim.api
            .expect(Method::PUT, "/_sim/oauth", Some(&setup.oauth), 200)
            .await?;
        let port = free_port();
        let mut env = vec![
            ("RELAY_LISTEN".to_owned(), format!("127.0.0.1:{port}")),
            (
                "RELAY_PUBLIC_URL".to_owned(),
                format!("http://127.0.0.1:{port}"),
            ),
        ];
        if setup.instagram {
            env.push(("INSTAGRAM_OAUTH_URL".to_owned(), sim.url.clone()));
            env.push(("INSTAGRAM_APP_ID".to_owned(), IG_APP_ID.to_owned()));
        }
        if setup.facebook {
            env.push(("FACEBOOK_OAUTH_URL".to_owned(), sim.url.clone()));
        }
        if setup.whatsapp {
            env.push(("WHATSAPP_SDK_URL".to_owned(), format!("{}/sdk.js", sim.url)));
            env.push(("WHATSAPP_CONFIG_ID".to_owned(), CONFIG_ID.to_owned()));
        }
        env.extend(setup.env);
        let SimWorld { w, sim, dir } = SimWorld::relay_for(sim, dir, env).await?;
        // A browser: it keeps the relay's flow cookie between the start page and the callback.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()?;
        Ok(ConnectWorld { w, sim, http, dir })
    }

    /// GETs `url` as a browser would.
    ///
    /// # Errors
    /// See [`fetch`].
    pub async fn get(&self, url: &str) -> anyhow::Result<Page> {
        fetch(self.http.get(url)).await
    }

    /// A connect link for `t` of `kind` (`instagram`, `facebook`, `whatsapp`), minted by
    /// its owner; checks it expires later than now.
    ///
    /// # Errors
    /// The relay refused, or the link is already expired.
    pub async fn link(&self, t: &Tenant, kind: &str) -> anyhow::Result<String> {
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
            .await?;
        ensure!(
            v["expires_at"]
                .as_i64()
                .is_some_and(|e| e > crate::now_ms()),
            "a link that does not expire later: {v}"
        );
        v["url"].as_str().map(str::to_owned).context("no link URL")
    }

    /// Opens a link; answers Meta's consent URL it redirected to.
    ///
    /// # Errors
    /// The link did not redirect.
    pub async fn open_link(&self, link: &str) -> anyhow::Result<String> {
        let page = self.get(link).await?;
        match page.location {
            Some(to) if matches!(page.status, 302 | 303 | 307) => Ok(to),
            _ => bail!("the link answered {}: {}", page.status, page.body),
        }
    }

    /// Posts Meta's Instagram consent form for `authorize` (the consent URL) as the page's
    /// Allow button for `account` would, or Deny when `None`; answers the relay callback
    /// URL Meta redirected to. Does not load the consent page itself.
    ///
    /// # Errors
    /// Meta did not redirect.
    pub async fn answer_instagram_consent(
        &self,
        authorize: &str,
        allow: Option<&str>,
    ) -> anyhow::Result<String> {
        let mut form = params(authorize);
        match allow {
            Some(account) => {
                form.insert("account".into(), account.into());
                form.insert("allow".into(), "1".into());
            }
            None => {
                form.insert("deny".into(), "1".into());
            }
        }
        let page = fetch(
            self.http
                .post(format!("{}/oauth/authorize", self.sim.url))
                .form(&form),
        )
        .await?;
        match page.location {
            Some(callback) if page.status == 302 => Ok(callback),
            _ => bail!("the consent answered {}: {}", page.status, page.body),
        }
    }

    /// Connects `account` to `t` through Instagram Login: mint a link, open it, Allow,
    /// open the callback (checking it ends in `#_` as Instagram's does); answers the relay's result page, whatever it says.
    ///
    /// # Errors
    /// A step before the result page failed.
    pub async fn connect_instagram(&self, t: &Tenant, account: &str) -> anyhow::Result<Page> {
        let link = self.link(t, "instagram").await?;
        let authorize = self.open_link(&link).await?;
        let callback = self
            .answer_instagram_consent(&authorize, Some(account))
            .await?;
        // Instagram appends `#_` to its redirect; the simulator does as Meta does.
        ensure!(
            callback.ends_with("#_"),
            "a callback without #_: {callback}"
        );
        self.get(&callback).await
    }

    /// Merges `patch` into the simulator's OAuth settings (`PUT /_sim/oauth`).
    ///
    /// # Errors
    /// The simulator refused the settings.
    pub async fn set_oauth(&self, patch: &Value) -> anyhow::Result<()> {
        self.sim
            .api
            .expect(Method::PUT, "/_sim/oauth", Some(patch), 200)
            .await?;
        Ok(())
    }

    /// Walks Facebook Login for `t` up to Meta's redirect: mint a link, open it, Allow on
    /// the dialog (every Page the simulator offers); answers the relay callback URL.
    ///
    /// # Errors
    /// The link or the dialog did not redirect.
    pub async fn facebook_callback(&self, t: &Tenant) -> anyhow::Result<String> {
        let link = self.link(t, "facebook").await?;
        let dialog = self.open_link(&link).await?;
        let mut form = params(&dialog);
        form.insert("allow".into(), "1".into());
        let action = dialog.split('?').next().unwrap_or_default().to_owned();
        let page = fetch(self.http.post(action).form(&form)).await?;
        match page.location {
            Some(callback) if page.status == 302 => Ok(callback),
            _ => bail!("the dialog answered {}: {}", page.status, page.body),
        }
    }

    /// Posts the Page chooser's form as its button for `page` would, with the chooser's
    /// `state`; answers the relay's page.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn choose_page(&self, state: &str, page: &str) -> anyhow::Result<Page> {
        fetch(
            self.http
                .post(format!("{}/oauth/facebook/choose", self.w.api.url))
                .form(&[("state", state), ("page", page)]),
        )
        .await
    }

    /// `t`'s channels, as its owner reads them.
    ///
    /// # Errors
    /// See [`channels`].
    pub async fn channels(&self, t: &Tenant) -> anyhow::Result<Vec<Value>> {
        channels(&self.w, t).await
    }

    /// `t`'s channel of `account`, if there is one.
    ///
    /// # Errors
    /// See [`channels`].
    pub async fn channel_of(&self, t: &Tenant, account: &str) -> anyhow::Result<Option<Value>> {
        channel_of(&self.w, t, account).await
    }
}
