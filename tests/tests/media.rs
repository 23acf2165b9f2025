//! The media route end to end: `GET /v1/tenants/{t}/media/{message}/{n}` against the real
//! relay and the simulator playing Meta's WhatsApp media node, its lookaside download (which
//! wants the channel's token) and an Instagram CDN URL (which must never see a token).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::sim::{SimWorld, TOKEN_A, TOKEN_B};
use harness::{IG_A, OPERATOR_TOKEN, WA_A};
use relay::simulate::graph::media::pattern;
use reqwest::Method;
use serde_json::{Value, json};

/// A medium the simulator serves: its id and CDN URL.
async fn make_media(s: &SimWorld, account: &str, mime: &str, size: usize, declare: bool) -> Value {
    let (status, v) = s
        .sim
        .api
        .call(
            Method::POST,
            "/_sim/media",
            Some(&json!({"account": account, "mime_type": mime, "size": size,
                         "declare_length": declare})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    v
}

/// A customer sends one attachment; answers the message's Meta id once it is stored.
async fn customer_sends(s: &SimWorld, action: Value) -> String {
    let ans = s.sim.api.inbound(&action).await.unwrap();
    assert_eq!(ans["status"], 200, "{ans}");
    ans["ids"]["mid"].as_str().unwrap().to_owned()
}

struct Fetched {
    status: u16,
    content_type: String,
    cache: String,
    body: Vec<u8>,
}

async fn fetch(s: &SimWorld, tenant: &str, mid: &str, n: &str, token: &str) -> Fetched {
    let url = format!("{}/v1/tenants/{tenant}/media/{mid}/{n}", s.w.api.url);
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let content_type = header("content-type");
    let cache = header("cache-control");
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap().to_vec();
    Fetched {
        status,
        content_type,
        cache,
        body,
    }
}

fn no_secret_in(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in [TOKEN_A, TOKEN_B] {
        assert!(!text.contains(secret), "a token reached an answer");
    }
}

/// The file's text once another process has written it (it is renamed into place whole).
async fn written(path: &std::path::Path) -> String {
    for _ in 0..500 {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{} was never written", path.display());
}

async fn world(cap: Option<u64>) -> SimWorld {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimWorld::simulator(dir.path()).await.unwrap();
    let env = cap
        .map(|c| vec![("RELAY_MEDIA_MAX_BYTES".to_owned(), c.to_string())])
        .unwrap_or_default();
    SimWorld::relay_for(sim, dir, env).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_stream_through_for_their_tenant_only() {
    let s = world(None).await;
    let a = &s.w.a;

    // WhatsApp: a media id, resolved and downloaded with the channel's token.
    let wa_media = make_media(&s, WA_A, "image/jpeg", 300_000, true).await;
    let wamid = customer_sends(
        &s,
        json!({"account": WA_A, "customer": "6281234567890", "type": "attachment",
               "media_id": wa_media["id"], "attachments": [{"type": "image"}]}),
    )
    .await;
    let got = fetch(&s, &a.id, &wamid, "0", &a.agent_token).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.content_type, "image/jpeg");
    assert_eq!(got.cache, "private, no-store");
    assert!(got.body == pattern(300_000), "WhatsApp bytes differ");

    // Instagram: the CDN URL the webhook carried, chunked (no length), fetched without a
    // token (the simulated CDN refuses any Authorization header).
    let ig_media = make_media(&s, IG_A, "image/png", 120_000, false).await;
    let mid = customer_sends(
        &s,
        json!({"account": IG_A, "customer": "igsid-media-1", "type": "attachment",
               "attachments": [{"type": "image", "url": ig_media["cdn_url"]}]}),
    )
    .await;
    for token in [
        a.agent_token.as_str(),
        a.owner_token.as_str(),
        OPERATOR_TOKEN,
    ] {
        let got = fetch(&s, &a.id, &mid, "0", token).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.content_type, "image/png");
        assert!(got.body == pattern(120_000), "Instagram bytes differ");
    }

    // Another tenant's message, an unknown message and an unknown attachment all look the
    // same: 404, nothing fetched.
    let b = &s.w.b;
    let unknown = fetch(&s, &a.id, "m_nobody_sent_this", "0", &a.agent_token).await;
    assert_eq!(unknown.status, 404);
    let foreign_path = fetch(&s, &b.id, &mid, "0", &b.agent_token).await;
    assert_eq!(foreign_path.status, 404);
    assert_eq!(foreign_path.body, unknown.body);
    let other_tenant = fetch(&s, &a.id, &mid, "0", &b.agent_token).await;
    assert_eq!(other_tenant.status, 404);
    let past_end = fetch(&s, &a.id, &mid, "1", &a.agent_token).await;
    assert_eq!(past_end.status, 404);
    assert_eq!(past_end.body, unknown.body);
    let not_a_number = fetch(&s, &a.id, &mid, "x", &a.agent_token).await;
    assert_eq!(not_a_number.status, 404);

    // The token went to Meta only: in no answer, not in the relay's log.
    for f in [&unknown, &foreign_path, &other_tenant, &past_end] {
        no_secret_in(&f.body);
    }
    s.w.assert_log_has_no_secrets().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_over_the_cap_is_refused() {
    let cap = 50_000;
    let s = world(Some(cap)).await;
    let a = &s.w.a;

    // Exactly the cap passes.
    let fits = make_media(&s, IG_A, "video/mp4", 50_000, false).await;
    let mid = customer_sends(
        &s,
        json!({"account": IG_A, "customer": "igsid-media-2", "type": "attachment",
               "attachments": [{"type": "video", "url": fits["cdn_url"]}]}),
    )
    .await;
    let got = fetch(&s, &a.id, &mid, "0", &a.agent_token).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body.len(), 50_000);

    // WhatsApp declares the size in the media node: refused before any download.
    let big = make_media(&s, WA_A, "video/mp4", 60_000, true).await;
    let wamid = customer_sends(
        &s,
        json!({"account": WA_A, "customer": "6281234567891", "type": "attachment",
               "media_id": big["id"], "attachments": [{"type": "video"}]}),
    )
    .await;
    let got = fetch(&s, &a.id, &wamid, "0", &a.agent_token).await;
    assert_eq!(got.status, 413);
    let err: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(err["error"]["code"], "media_too_large", "{err}");
    no_secret_in(&got.body);

    // A CDN answer without a length is read only up to the cap, then refused.
    let chunked = make_media(&s, IG_A, "video/mp4", 60_000, false).await;
    let mid = customer_sends(
        &s,
        json!({"account": IG_A, "customer": "igsid-media-3", "type": "attachment",
               "attachments": [{"type": "video", "url": chunked["cdn_url"]}]}),
    )
    .await;
    let got = fetch(&s, &a.id, &mid, "0", &a.agent_token).await;
    assert_eq!(got.status, 413);

    // So is one with a length over the cap.
    let declared = make_media(&s, IG_A, "video/mp4", 60_000, true).await;
    let mid = customer_sends(
        &s,
        json!({"account": IG_A, "customer": "igsid-media-4", "type": "attachment",
               "attachments": [{"type": "video", "url": declared["cdn_url"]}]}),
    )
    .await;
    let got = fetch(&s, &a.id, &mid, "0", &a.agent_token).await;
    assert_eq!(got.status, 413);
    s.w.assert_log_has_no_secrets().unwrap();
}

/// The desk's side: `Media` fetches through the route with the agent's token, serves the
/// bytes on its loopback server, and `o` hands that URL to `$BROWSER` (here a script that
/// writes down the URL it was given); the "browser" then reads exactly the simulator's
/// bytes, without any token. The opener's environment is the process's own, so this test
/// starts the script through `media::open` with `BROWSER` passed explicitly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_opens_attachments_through_its_own_loopback_server() {
    use desk_tui::app::MediaKey;
    use desk_tui::media::{Media, Source};
    use desk_tui::remote::Remote;

    let s = world(None).await;
    let a = &s.w.a;
    let wa_media = make_media(&s, WA_A, "audio/ogg", 40_000, true).await;
    let wamid = customer_sends(
        &s,
        json!({"account": WA_A, "customer": "6281234567899", "type": "attachment",
               "media_id": wa_media["id"], "attachments": [{"type": "audio"}]}),
    )
    .await;
    let remote = Remote::new(
        &s.w.api.url,
        desk_tui::Token::new(a.agent_token.clone()),
        None,
    )
    .unwrap();
    let media = Media::new(
        vec![Some(Source {
            remote,
            tenant: a.id.clone(),
        })],
        None,
    );
    assert!(!media.inline_images(), "no terminal: no inline images");
    let key = MediaKey {
        profile: 0,
        message: wamid.clone(),
        n: 0,
    };

    // The browser stand-in records its argument.
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("url");
    let script = dir.path().join("browser.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > {}.tmp && mv {0}.tmp {0}\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let base = media.serve().await.unwrap();
    let url = key.url(&base);
    desk_tui::media::open_url(&url, Some(script.to_str().unwrap()))
        .await
        .unwrap();
    let given = written(&seen).await;
    assert_eq!(given, url);
    assert!(
        !given.contains(&a.agent_token),
        "no token in the browser's URL"
    );

    let resp = reqwest::get(&given).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/ogg");
    assert!(
        resp.bytes().await.unwrap() == pattern(40_000),
        "bytes differ"
    );

    // Without the secret path the server answers nothing.
    let guessed = url.replace(&base, &base[..base.rfind('/').unwrap()]);
    let resp = reqwest::get(format!("{guessed}/x")).await.unwrap();
    assert_eq!(resp.status(), 404);
    let wrong = format!("{}/{}", &base[..base.rfind('/').unwrap()], "0".repeat(32));
    let resp = reqwest::get(key.url(&wrong)).await.unwrap();
    assert_eq!(resp.status(), 404);

    // A photo sent without a medium made beforehand (the demo's) is a real picture that
    // the desk can draw.
    let photo = customer_sends(
        &s,
        json!({"account": WA_A, "customer": "6281234567899", "type": "attachment",
               "attachments": [{"type": "image", "caption": "Yang seperti ini kak"}]}),
    )
    .await;
    let photo = MediaKey {
        profile: 0,
        message: photo,
        n: 0,
    };
    let fetched = media.fetch(&photo).await.unwrap();
    assert_eq!(fetched.content_type, "image/png");
    let picker = ratatui_image::picker::Picker::halfblocks();
    let drawn = desk_tui::media::encode(&picker, &fetched.bytes, 30, 10).unwrap();
    assert!(
        drawn.cols <= 30 && drawn.rows <= 10 && drawn.cols > 0,
        "{drawn:?}"
    );

    // A refusal is said by `open` itself, before any browser starts.
    let gone = MediaKey {
        profile: 0,
        message: "m_nobody_sent_this".into(),
        n: 0,
    };
    let err = media.open(&gone).await.unwrap_err().to_string();
    assert!(err.contains("404"), "{err}");
    s.w.assert_log_has_no_secrets().unwrap();
}
