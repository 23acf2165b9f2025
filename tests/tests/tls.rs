//! TLS end to end, with a private CA and certificates made in the test: the desk engine
//! and a raw WebSocket client syncing over `wss://`, webhooks and admin calls (API and
//! `relay admin --ca-file`) over `https://`, HTTP/2 (ALPN and prior knowledge, and the
//! desk WebSocket over an extended CONNECT), certificate problems as one clear line,
//! reloads on SIGHUP and on file change with a desk connected, start-up refusals, and
//! client addresses behind a trusted proxy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use desk_tui::{BackoffConfig, ConnectionState, Replica, SyncConfig, SyncHandle, Token, Update};
use futures_util::{SinkExt, StreamExt};
use harness::desk::{RawDesk, wait_cursor};
use harness::tls::{Leaf, PemPair, TestCa, client_config, presented_leaf, reqwest_client};
use harness::{
    APP_SECRET, IG_A, OPERATOR_TOKEN, Relay, RelayOptions, World, eventually, ig_dm, now_ms,
    relay_bin, sign,
};
use protocol::{ClientFrame, PROTOCOL_VERSION, Seq, ServerFrame, codec};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn engine_config(relay: &str, token: &str, data: &Path, ca_file: Option<&Path>) -> SyncConfig {
    let mut config = SyncConfig::new(relay, Token::new(token));
    config.data_dir = Some(data.to_owned());
    config.ca_file = ca_file.map(Path::to_owned);
    config.backoff = BackoffConfig {
        initial: Duration::from_millis(50),
        max: Duration::from_secs(3),
    };
    config
}

async fn wait_state(
    engine: &SyncHandle,
    want: impl Fn(&ConnectionState) -> bool,
) -> ConnectionState {
    let mut rx = engine.watch_state();
    tokio::time::timeout(WAIT, rx.wait_for(|s| want(s)))
        .await
        .expect("state in time")
        .expect("engine alive")
        .clone()
}

/// A relay serving `pair`, with tenants A and B.
async fn tls_world(ca: &TestCa, pair: &PemPair, extra: &[(&str, &str)]) -> World {
    let mut env = pair.env();
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let w = World::with_tls(env, Some(ca.pem())).await.unwrap();
    assert!(w.api.url.starts_with("https://127.0.0.1:"), "{}", w.api.url);
    w
}

fn addr_of(url: &str) -> &str {
    url.strip_prefix("https://").unwrap()
}

/// `relay admin` against `url`, with the operator token; (success, stdout, stderr).
async fn admin(url: &str, ca_file: Option<&Path>, args: &[&str]) -> (bool, String, String) {
    let mut cmd = tokio::process::Command::new(relay_bin().unwrap());
    cmd.arg("admin")
        .arg("--url")
        .arg(url)
        .args(args)
        .env_clear()
        .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN);
    if let Some(ca) = ca_file {
        cmd.env("RELAY_CA_FILE", ca);
    }
    let out = cmd.output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn desks_webhooks_and_admin_calls_work_over_tls_with_a_private_ca() {
    let pki = tempfile::tempdir().unwrap();
    let ca = TestCa::new("chatdesk test CA").unwrap();
    let ca_file = ca.write_pem(&pki.path().join("ca.pem")).unwrap();
    let pair = ca.issue(pki.path(), "relay", Leaf::Valid).unwrap();
    let w = tls_world(&ca, &pair, &[]).await;
    let url = w.api.url.clone();

    // A signed webhook over https.
    let body = ig_dm(IG_A, "m_tls_1", "77", "halo kak", now_ms());
    assert_eq!(w.api.webhook("instagram", &body).await.unwrap(), 200);

    // The desk engine over wss://, trusting the private CA through ca_file.
    let data = w.dir.path().join("desk");
    let config = engine_config(&url, &w.a.agent_token, &data, Some(&ca_file));
    assert!(config.desk_url().unwrap().starts_with("wss://127.0.0.1:"));
    let engine = SyncHandle::spawn(config.clone(), Replica::open(&config).unwrap()).unwrap();
    wait_state(&engine, |s| *s == ConnectionState::Live).await;
    wait_cursor(&engine, Seq(1)).await.unwrap();

    // A raw WebSocket client over wss:// sees the same event, then a live one.
    let tls = client_config(&ca.pem(), &[b"http/1.1"]).unwrap();
    let mut raw = RawDesk::connect_tls(&url, &w.a.agent_token, tls)
        .await
        .unwrap();
    let welcome = raw.hello(0).await.unwrap();
    assert_eq!(welcome.head, Seq(1));
    raw.events_until(Seq(1)).await.unwrap();
    let body = ig_dm(IG_A, "m_tls_2", "77", "masih ada?", now_ms());
    assert_eq!(w.api.webhook("instagram", &body).await.unwrap(), 200);
    let (events, _) = raw.events_until(Seq(2)).await.unwrap();
    assert_eq!(events.last().unwrap().seq, Seq(2));
    wait_cursor(&engine, Seq(2)).await.unwrap();

    // Admin calls over https: the API, and `relay admin` with the CA file.
    let (status, _) = w
        .api
        .call(
            reqwest::Method::GET,
            &format!("/v1/tenants/{}/threads", w.a.id),
            Some(OPERATOR_TOKEN),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let credits = ["credits", "show", "--tenant", w.a.id.as_str()];
    let (ok, stdout, stderr) = admin(&url, Some(&ca_file), &credits).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("balance") || stdout.contains("credits"),
        "{stdout}"
    );
    // Without the CA the CLI refuses the certificate in one line that says so.
    let (ok, _, stderr) = admin(&url, None, &credits).await;
    assert!(!ok);
    let line = stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.contains(&url) && line.contains("TLS certificate refused"),
        "{line}"
    );
    assert!(line.contains("UnknownIssuer"), "{line}");

    engine.shutdown().await.unwrap();
    w.assert_log_has_no_secrets().unwrap();
    let log = std::fs::read_to_string(&w.options.log).unwrap();
    let key = std::fs::read_to_string(&pair.key).unwrap();
    assert!(!log.contains(key.lines().nth(1).unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http2_works_by_alpn_by_prior_knowledge_and_for_the_desk_websocket() {
    let pki = tempfile::tempdir().unwrap();
    let ca = TestCa::new("chatdesk test CA").unwrap();
    let pair = ca.issue(pki.path(), "relay", Leaf::Valid).unwrap();
    let w = tls_world(&ca, &pair, &[]).await;
    let url = w.api.url.clone();

    // ALPN: reqwest offers h2 and http/1.1; the relay prefers h2.
    let by_alpn = reqwest_client(&ca.pem()).unwrap();
    let response = by_alpn.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    // A signed webhook over HTTP/2.
    let body = ig_dm(IG_A, "m_h2", "78", "h2", now_ms());
    let response = by_alpn
        .post(format!("{url}/webhooks/instagram"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(&body, APP_SECRET))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (response.version(), response.status().as_u16()),
        (reqwest::Version::HTTP_2, 200)
    );
    // Prior knowledge: HTTP/2 from the first byte.
    let prior = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = prior.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(
        (response.version(), response.status().as_u16()),
        (reqwest::Version::HTTP_2, 200)
    );

    // The desk WebSocket over HTTP/2: an extended CONNECT (RFC 8441) on an h2 connection.
    let config = client_config(&ca.pem(), &[b"h2"]).unwrap();
    let tcp = tokio::net::TcpStream::connect(addr_of(&url)).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (sender, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .handshake::<_, http_body_util::Empty<Bytes>>(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut request = hyper::Request::builder()
        .method(hyper::Method::CONNECT)
        .uri(format!("{url}/v1/desk"))
        .header("authorization", format!("Bearer {}", w.a.agent_token))
        .header("sec-websocket-version", "13")
        .body(http_body_util::Empty::new())
        .unwrap();
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    // The relay announces extended CONNECT in its first SETTINGS; wait until the
    // connection has read them.
    let response = eventually("extended CONNECT accepted", WAIT, || {
        let request = clone_request(&request);
        // HTTP/2 senders are handles to one connection: a clone per try.
        let mut sender = sender.clone();
        async move {
            sender.ready().await?;
            match sender.send_request(request).await {
                Ok(response) => Ok(Some(response)),
                Err(e) if e.to_string().contains("extended") => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let upgraded = hyper::upgrade::on(response).await.unwrap();
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        hyper_util::rt::TokioIo::new(upgraded),
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        cursor: 0,
    };
    ws.send(codec::encode_binary(&hello).unwrap().into())
        .await
        .unwrap();
    let welcome = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let frame = codec::decode_binary(&welcome.into_data()).unwrap();
    assert!(
        matches!(frame, ServerFrame::Welcome { head: Seq(1), .. }),
        "{frame:?}"
    );
}

fn clone_request(
    request: &hyper::Request<http_body_util::Empty<Bytes>>,
) -> hyper::Request<http_body_util::Empty<Bytes>> {
    let mut copy = hyper::Request::builder()
        .method(request.method().clone())
        .uri(request.uri().clone())
        .body(http_body_util::Empty::new())
        .unwrap();
    *copy.headers_mut() = request.headers().clone();
    copy.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    copy
}

/// The engine's line for `w`'s relay when the desk trusts `trust`.
async fn refused_line(w: &World, trust: &Path, name: &str) -> (String, Option<Duration>) {
    let data = w.dir.path().join(name);
    let config = engine_config(&w.api.url, &w.a.agent_token, &data, Some(trust));
    let engine = SyncHandle::spawn(config.clone(), Replica::open(&config).unwrap()).unwrap();
    let state = wait_state(&engine, |s| s.certificate_problem().is_some()).await;
    let ConnectionState::Offline {
        retry_in,
        last_error: Some(line),
    } = state
    else {
        panic!("{state:?}")
    };
    assert!(line.contains(&w.api.url), "names the relay: {line}");
    assert_eq!(line.lines().count(), 1);
    // No fast loop: it waits the backoff's ceiling, and stays on the same line.
    let mut updates = engine.subscribe();
    let changes = tokio::time::timeout(Duration::from_millis(1500), async {
        let mut n = 0;
        while let Ok(u) = updates.recv().await {
            if matches!(u, Update::State(_)) {
                n += 1;
            }
        }
        n
    })
    .await
    .unwrap_or(0);
    assert!(changes <= 2, "{changes} state changes in 1.5 s");
    engine.shutdown().await.unwrap();
    (line, retry_in)
}

/// Puts `pair` in place of the relay's files and reloads; waits until a client trusting
/// the CA is refused (the bad pair is being served).
async fn serve_bad_pair(w: &World, live: &PemPair, pair: &PemPair, ca: &TestCa) {
    pair.install_as(live).unwrap();
    let pid = w.relay.as_ref().unwrap().pid().unwrap().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    let addr = addr_of(&w.api.url).to_owned();
    eventually("the bad pair served", WAIT, || async {
        Ok(presented_leaf(&addr, &ca.pem())
            .await
            .is_err()
            .then_some(()))
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_unknown_and_misnamed_certificates_are_one_clear_line() {
    let pki = tempfile::tempdir().unwrap();
    let ca = TestCa::new("chatdesk test CA").unwrap();
    let other = TestCa::new("someone else's CA").unwrap();
    let ca_file = ca.write_pem(&pki.path().join("ca.pem")).unwrap();
    let other_file = other.write_pem(&pki.path().join("other.pem")).unwrap();
    // Set up over a good certificate, then serve the bad ones (a reload takes any pair
    // whose key matches: expiry is the clients' business).
    let live = ca.issue(pki.path(), "live", Leaf::Valid).unwrap();
    let w = tls_world(&ca, &live, &[("RELAY_TLS_POLL_SECS", "3600")]).await;

    let (line, _) = refused_line(&w, &other_file, "desk-other-ca").await;
    assert!(line.contains("unknown issuer"), "{line}");

    let expired = ca.issue(pki.path(), "expired", Leaf::Expired).unwrap();
    serve_bad_pair(&w, &live, &expired, &ca).await;
    let (line, retry) = refused_line(&w, &ca_file, "desk-expired").await;
    assert!(
        line.contains("TLS certificate of https://127.0.0.1:"),
        "{line}"
    );
    assert!(line.contains("expired"), "{line}");
    assert_eq!(retry, Some(Duration::from_secs(3)));
    // A raw client is refused too (its TLS stack, its words).
    let tls = client_config(&ca.pem(), &[b"http/1.1"]).unwrap();
    let err = RawDesk::try_connect_with(&w.api.url, Some(&w.a.agent_token), None, Some(tls))
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{err:#}").to_lowercase().contains("expired"),
        "{err:#}"
    );

    let misnamed = ca.issue(pki.path(), "misnamed", Leaf::OtherName).unwrap();
    serve_bad_pair(&w, &live, &misnamed, &ca).await;
    let (line, _) = refused_line(&w, &ca_file, "desk-misnamed").await;
    assert!(line.contains("name mismatch"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sighup_and_renewed_files_reload_the_certificate_without_dropping_desks() {
    let pki = tempfile::tempdir().unwrap();
    let ca = TestCa::new("chatdesk test CA").unwrap();
    let ca_file = ca.write_pem(&pki.path().join("ca.pem")).unwrap();
    let live = ca.issue(pki.path(), "live", Leaf::Valid).unwrap();
    // A long poll: only SIGHUP reloads in the first part.
    let mut w = tls_world(&ca, &live, &[("RELAY_TLS_POLL_SECS", "3600")]).await;
    let url = w.api.url.clone();
    let addr = addr_of(&url).to_owned();
    let pid = w.relay.as_ref().unwrap().pid().unwrap().to_string();
    assert_eq!(presented_leaf(&addr, &ca.pem()).await.unwrap(), live.leaf);

    // A desk engine and a raw desk, connected before the reload.
    let data = w.dir.path().join("desk");
    let config = engine_config(&url, &w.a.agent_token, &data, Some(&ca_file));
    let engine = SyncHandle::spawn(config.clone(), Replica::open(&config).unwrap()).unwrap();
    wait_state(&engine, |s| *s == ConnectionState::Live).await;
    let mut states = engine.subscribe();
    let tls = client_config(&ca.pem(), &[b"http/1.1"]).unwrap();
    let mut raw = RawDesk::connect_tls(&url, &w.a.agent_token, tls)
        .await
        .unwrap();
    raw.hello(0).await.unwrap();

    // Renewal in place, then SIGHUP: new connections get the new certificate.
    let renewed = ca.issue(pki.path(), "renewed", Leaf::Valid).unwrap();
    renewed.install_as(&live).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    eventually("the renewed certificate", WAIT, || async {
        Ok((presented_leaf(&addr, &ca.pem()).await? == renewed.leaf).then_some(()))
    })
    .await
    .unwrap();

    // Both desks kept their connections: the next event reaches them without a reconnect.
    let body = ig_dm(IG_A, "m_after_reload", "79", "after", now_ms());
    assert_eq!(w.api.webhook("instagram", &body).await.unwrap(), 200);
    let (events, _) = raw.events_until(Seq(1)).await.unwrap();
    assert_eq!(events.len(), 1);
    wait_cursor(&engine, Seq(1)).await.unwrap();
    while let Ok(update) = states.try_recv() {
        // A reconnect passes through Offline and Connecting; a Live may be the one the
        // engine announced as we subscribed.
        assert!(
            !matches!(update, Update::State(ref s) if *s != ConnectionState::Live),
            "the engine reconnected: {update:?}"
        );
    }
    assert_eq!(engine.state(), ConnectionState::Live);

    // A bad new pair (a key of another certificate) is refused; the renewed one stays.
    let stray = ca.issue(pki.path(), "stray", Leaf::Valid).unwrap();
    std::fs::copy(&stray.key, &live.key).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    let log_path = w.options.log.clone();
    let line = eventually("the refusal in the log", WAIT, || async {
        let log = std::fs::read_to_string(&log_path)?;
        Ok(log
            .lines()
            .find(|l| l.contains("TLS reload refused"))
            .map(str::to_owned))
    })
    .await
    .unwrap();
    assert!(
        line.contains("does not belong to the certificate"),
        "{line}"
    );
    let stray_key = std::fs::read_to_string(&stray.key).unwrap();
    assert!(
        !std::fs::read_to_string(&log_path)
            .unwrap()
            .contains(stray_key.lines().nth(1).unwrap())
    );
    assert_eq!(
        presented_leaf(&addr, &ca.pem()).await.unwrap(),
        renewed.leaf
    );
    assert_eq!(engine.state(), ConnectionState::Live);

    // Graceful shutdown as without TLS: SIGTERM with both desks connected exits cleanly,
    // and their connections end (with a close frame, or, as over plain HTTP today, when
    // the process exits), so they reconnect rather than hang.
    w.stop().await.unwrap();
    match raw.closed().await {
        Ok((code, _)) => assert_eq!(code, 1001),
        Err(e) => assert!(!format!("{e:#}").contains("in time"), "{e:#}"),
    }
    let state = wait_state(&engine, |s| *s != ConnectionState::Live).await;
    assert!(
        !matches!(state, ConnectionState::Refused { .. }),
        "{state:?}"
    );
    engine.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changed_files_are_picked_up_without_a_signal() {
    let pki = tempfile::tempdir().unwrap();
    let ca = TestCa::new("chatdesk test CA").unwrap();
    let live = ca.issue(pki.path(), "live", Leaf::Valid).unwrap();
    let w = tls_world(&ca, &live, &[("RELAY_TLS_POLL_SECS", "1")]).await;
    let addr = addr_of(&w.api.url).to_owned();
    let renewed = ca.issue(pki.path(), "renewed", Leaf::Valid).unwrap();
    renewed.install_as(&live).unwrap();
    eventually("the renewed certificate", WAIT, || async {
        Ok((presented_leaf(&addr, &ca.pem()).await? == renewed.leaf).then_some(()))
    })
    .await
    .unwrap();
}

/// Starts a relay that must refuse to start; its log.
async fn refused_start(extra_env: Vec<(String, String)>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let options = RelayOptions {
        data_dir: dir.path().join("data"),
        log: dir.path().join("relay.log"),
        extra_env,
    };
    let err = Relay::start(&options).await.err().expect("start refused");
    format!("{err:#}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_pair_a_bad_pair_and_bad_proxies_stop_the_start_in_one_line() {
    let pki = tempfile::tempdir().unwrap();
    let ca = TestCa::new("chatdesk test CA").unwrap();
    let pair = ca.issue(pki.path(), "relay", Leaf::Valid).unwrap();
    let cert_only = vec![("RELAY_TLS_CERT".to_owned(), pair.cert.display().to_string())];
    let log = refused_start(cert_only).await;
    assert!(
        log.contains("relay: RELAY_TLS_KEY is required when RELAY_TLS_CERT is set"),
        "{log}"
    );

    let other = ca.issue(pki.path(), "other", Leaf::Valid).unwrap();
    let mixed = vec![
        ("RELAY_TLS_CERT".to_owned(), pair.cert.display().to_string()),
        ("RELAY_TLS_KEY".to_owned(), other.key.display().to_string()),
    ];
    let log = refused_start(mixed).await;
    assert!(log.contains("does not belong to the certificate"), "{log}");
    let key = std::fs::read_to_string(&other.key).unwrap();
    assert!(!log.contains(key.lines().nth(1).unwrap()));

    let proxies = vec![(
        "RELAY_TRUSTED_PROXIES".to_owned(),
        "10.0.0.0/8, caddy".to_owned(),
    )];
    let log = refused_start(proxies).await;
    assert!(
        log.contains("RELAY_TRUSTED_PROXIES is invalid: `caddy`"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_are_logged_only_from_trusted_proxies() {
    for (trusted, want, not) in [
        ("127.0.0.1", "198.51.100.7", "127.0.0.1"),
        ("10.0.0.0/8", "127.0.0.1", "198.51.100.7"),
    ] {
        let w = World::with_env(vec![("RELAY_TRUSTED_PROXIES".into(), trusted.into())])
            .await
            .unwrap();
        let status = w
            .api
            .http
            .post(format!("{}/webhooks/instagram", w.api.url))
            .header("x-forwarded-for", "198.51.100.7")
            .header("x-hub-signature-256", "sha256=00")
            .body("{}")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
        let log_path = w.options.log.clone();
        let line = eventually("the refusal in the log", WAIT, || async {
            let log = std::fs::read_to_string(&log_path)?;
            Ok(log
                .lines()
                .find(|l| l.contains("webhook refused"))
                .map(str::to_owned))
        })
        .await
        .unwrap();
        assert!(
            line.contains(want) && !line.contains(not),
            "{trusted}: {line}"
        );
    }
}
