//! Every kind of reply the desk composes on its `:` line, end to end: the desk's own `App`
//! (over a replica of the tenant's real log) turns the typed line into a command, or into
//! an upload of a local file that the test carries out through `Remote` as the runtime
//! would; the command goes over a desk WebSocket to a real relay whose Graph URLs point at
//! a real `relay simulate`, and the simulator's call log shows Meta's request shapes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use desk_tui::app::keymap::Keymap;
use desk_tui::app::{App, Effect, Msg};
use desk_tui::config::Token;
use desk_tui::fixtures;
use desk_tui::remote::{Remote, RemoteError};
use harness::desk::RawDesk;
use harness::sim::{SimWorld, eventually};
use harness::{IG_B, WA_B};
use protocol::{Answer, Millis, ThreadId};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const IG_CUSTOMER: &str = "5300000000000931";
const WA_CUSTOMER: &str = "6281234500931";

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Types `:line` and Enter; answers the effects.
fn command_line(app: &mut App, line: &str) -> Vec<Effect> {
    let mut effects = app.update(key(KeyCode::Char(':')));
    for c in line.chars() {
        effects.extend(app.update(key(KeyCode::Char(c))));
    }
    effects.extend(app.update(key(KeyCode::Enter)));
    effects
}

/// A desk `App` over everything tenant B's log holds now, at relay time `now`.
async fn desk_app(relay: &str, token: &str, now: i64) -> (tempfile::TempDir, App) {
    let mut raw = RawDesk::connect(relay, token, None).await.unwrap();
    let welcome = raw.hello(0).await.unwrap();
    let (events, _) = raw.events_until(welcome.head).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let replica = fixtures::replica(dir.path(), &events).unwrap();
    let app = App::new(
        vec![fixtures::profile("b", replica)],
        Keymap::default(),
        Millis(now),
    );
    (dir, app)
}

/// Opens `thread` in the desk (the `:` lines then work on it).
fn open(app: &mut App, thread: &ThreadId) {
    app.update(key(KeyCode::Esc));
    let position = app.inbox.position(0, thread).expect("the thread is listed");
    app.selected = position;
    app.update(key(KeyCode::Enter));
}

struct Fx {
    fx: SimWorld,
    desk: RawDesk,
    remote: Remote,
    sent: usize,
}

impl Fx {
    /// Carries out `effects` as the runtime would: an upload through `Remote` (its answer fed
    /// back to the app), a command over the desk socket, which must be applied.
    async fn carry_out(&mut self, app: &mut App, effects: Vec<Effect>) {
        let mut queue = effects;
        while !queue.is_empty() {
            let mut next = Vec::new();
            for effect in queue {
                match effect {
                    Effect::Submit { command, .. } => {
                        self.sent += 1;
                        let key = format!("kind-{}", self.sent);
                        let (answer, _) = self.desk.command(&key, command.clone()).await.unwrap();
                        assert!(
                            matches!(answer, Answer::Applied { .. }),
                            "{command:?}: {answer:?}"
                        );
                    }
                    Effect::Upload {
                        profile,
                        thread,
                        channel,
                        on,
                        kind,
                        path,
                        caption,
                    } => {
                        let tenant = self.fx.w.b.id.clone();
                        let result = self
                            .remote
                            .upload(&tenant, &channel, on, kind, &path)
                            .await
                            .map_err(|e| e.to_string());
                        next.extend(app.update(Msg::Uploaded {
                            profile,
                            thread,
                            kind,
                            caption,
                            result,
                        }));
                    }
                    _ => {}
                }
            }
            queue = next;
        }
    }

    /// Waits until every message send of `thread` is `sent`; answers how many there are.
    async fn all_sent(&self, thread: &ThreadId, count: usize) {
        let t = &self.fx.w.b;
        let path = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
        eventually(&format!("{count} sends sent"), WAIT, || async {
            let v = self
                .fx
                .w
                .api
                .expect(Method::GET, &path, &t.agent_token, None, 200)
                .await?;
            let sends = v["sends"].as_array().cloned().unwrap_or_default();
            Ok((sends.len() == count && sends.iter().all(|s| s["state"] == "sent")).then_some(()))
        })
        .await
        .unwrap();
    }

    /// The Meta id of the customer's first message in `thread`.
    async fn first_mid(&self, thread: &ThreadId) -> String {
        let t = &self.fx.w.b;
        let path = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
        let v = self
            .fx
            .w
            .api
            .expect(Method::GET, &path, &t.agent_token, None, 200)
            .await
            .unwrap();
        v["messages"][0]["mid"].as_str().unwrap().to_owned()
    }

    /// The send calls addressed to `account`'s messages edge, bodies in order.
    async fn bodies_to(&self, account: &str) -> Vec<Value> {
        self.fx
            .sim
            .api
            .send_calls()
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c["path"].as_str().unwrap_or("").contains(account))
            .map(|c| {
                assert_eq!(c["status"], 200, "{c}");
                c["body"].clone()
            })
            .collect()
    }

    /// The upload calls (`…/media`, `…/message_attachments`) the simulator received.
    async fn uploads(&self) -> Vec<Value> {
        let mut calls = self.fx.sim.api.calls().await.unwrap();
        calls.retain(|c| {
            let path = c["path"].as_str().unwrap_or("");
            c["method"] == "POST"
                && (path.ends_with("/media") || path.ends_with("/message_attachments"))
        });
        calls
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

async fn setup() -> (Fx, ThreadId, ThreadId, tempfile::TempDir, App) {
    let fx = SimWorld::start().await.unwrap();
    let t = &fx.w.b;
    fx.sim
        .api
        .customer_writes(IG_B, IG_CUSTOMER, "Ada kue apa saja? 🍰")
        .await
        .unwrap();
    fx.sim
        .api
        .customer_writes(WA_B, WA_CUSTOMER, "Menu hari ini?")
        .await
        .unwrap();
    let ig = fx.w.thread_of(t, IG_CUSTOMER, WAIT).await.unwrap();
    let wa = fx.w.thread_of(t, WA_CUSTOMER, WAIT).await.unwrap();
    fx.w.top_up(t, 30).await.unwrap();
    let now = fx.w.advance_clock(0).await.unwrap();
    let (dir, app) = desk_app(&fx.w.api.url, &t.agent_token, now).await;
    let desk = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    let remote = Remote::new(&fx.w.api.url, Token::new(t.agent_token.clone()), None).unwrap();
    (
        Fx {
            fx,
            desk,
            remote,
            sent: 0,
        },
        ig,
        wa,
        dir,
        app,
    )
}

#[tokio::test]
async fn every_instagram_kind_composed_in_the_desk_reaches_meta_in_its_shape() {
    let (mut fx, ig, _wa, _dir, mut app) = setup().await;
    let files = tempfile::tempdir().unwrap();
    let voice = write(files.path(), "sapa.m4a", &[7u8; 3000]);
    let menu = write(files.path(), "menu.pdf", b"%PDF-1.4 menu");
    open(&mut app, &ig);
    let lines = [
        "image https://cdn.example/kue.jpg".to_owned(),
        "video https://cdn.example/kue.mp4".to_owned(),
        format!("audio {voice}"),
        format!("file {menu}"),
        "heart".to_owned(),
        "quick Ukuran apa? | Kecil | Besar=BIG".to_owned(),
        "buttons Pesan sekarang? | Ya | Nanti".to_owned(),
        "card Roti gandum | Rp 45.000 | https://cdn.example/rye.jpg | Beli || Sourdough".to_owned(),
        "reply-to 1 Ada banyak kak!".to_owned(),
    ];
    for line in &lines {
        let effects = command_line(&mut app, line);
        fx.carry_out(&mut app, effects).await;
    }
    fx.all_sent(&ig, lines.len()).await;
    let bodies = fx.bodies_to(IG_B).await;
    assert_eq!(bodies.len(), lines.len(), "{bodies:#?}");
    for b in &bodies {
        assert_eq!(b["recipient"]["id"], IG_CUSTOMER, "{b}");
    }
    let m = |i: usize| &bodies[i]["message"];
    assert_eq!(
        m(0)["attachments"][0],
        json!({"type": "image", "payload": {"url": "https://cdn.example/kue.jpg"}})
    );
    assert_eq!(
        m(1)["attachment"],
        json!({"type": "video", "payload": {"url": "https://cdn.example/kue.mp4"}})
    );
    // The local files went up first (Instagram's attachment upload), then by id.
    let uploads = fx.uploads().await;
    assert_eq!(uploads.len(), 2, "{uploads:#?}");
    for (upload, (kind, name, size)) in uploads
        .iter()
        .zip([("audio", "sapa.m4a", 3000), ("file", "menu.pdf", 13)])
    {
        assert!(
            upload["path"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{IG_B}/message_attachments")),
            "{upload}"
        );
        assert_eq!(upload["status"], 200, "{upload}");
        let body = &upload["body"];
        assert_eq!(body["platform"], "instagram");
        assert_eq!(
            body["message"],
            json!({"attachment": {"type": kind, "payload": {"is_reusable": true}}})
        );
        assert_eq!(body["filedata"]["filename"], name);
        assert_eq!(body["filedata"]["size"], size);
    }
    let audio_id = uploads[0]["response"]["attachment_id"].as_str().unwrap();
    let file_id = uploads[1]["response"]["attachment_id"].as_str().unwrap();
    assert_eq!(
        m(2)["attachment"],
        json!({"type": "audio", "payload": {"attachment_id": audio_id}})
    );
    assert_eq!(
        m(3)["attachment"],
        json!({"type": "file", "payload": {"attachment_id": file_id}})
    );
    assert_eq!(m(4)["attachment"], json!({"type": "like_heart"}));
    assert_eq!(m(5)["text"], "Ukuran apa?");
    assert_eq!(
        m(5)["quick_replies"],
        json!([{"content_type": "text", "title": "Kecil", "payload": "KECIL"},
               {"content_type": "text", "title": "Besar", "payload": "BIG"}])
    );
    let button = &m(6)["attachment"]["payload"];
    assert_eq!(button["template_type"], "button");
    assert_eq!(
        button["buttons"],
        json!([{"type": "postback", "title": "Ya", "payload": "YA"},
               {"type": "postback", "title": "Nanti", "payload": "NANTI"}])
    );
    let generic = &m(7)["attachment"]["payload"];
    assert_eq!(generic["template_type"], "generic");
    assert_eq!(
        generic["elements"],
        json!([{"title": "Roti gandum", "subtitle": "Rp 45.000",
                "image_url": "https://cdn.example/rye.jpg",
                "buttons": [{"type": "postback", "title": "Beli", "payload": "BELI"}]},
               {"title": "Sourdough"}])
    );
    assert_eq!(m(8)["text"], "Ada banyak kak!");
    assert_eq!(
        bodies[8]["reply_to"],
        json!({ "mid": fx.first_mid(&ig).await })
    );
}

#[tokio::test]
async fn every_whatsapp_kind_composed_in_the_desk_reaches_meta_in_its_shape() {
    let (mut fx, _ig, wa, _dir, mut app) = setup().await;
    let files = tempfile::tempdir().unwrap();
    let photo = write(files.path(), "kue.png", b"\x89PNG\r\n\x1a\nnot really");
    open(&mut app, &wa);
    let lines = [
        format!("image {photo} | Kue hari ini"),
        "file https://cdn.example/menu.pdf | Menu".to_owned(),
        "buttons Pesan sekarang? | Ya | Nanti".to_owned(),
        "list Pilih kue | Lihat menu | Roti gandum=RYE | Sourdough".to_owned(),
        "reply-to 1 Ini menunya kak".to_owned(),
    ];
    for line in &lines {
        let effects = command_line(&mut app, line);
        fx.carry_out(&mut app, effects).await;
    }
    fx.all_sent(&wa, lines.len()).await;
    let bodies = fx.bodies_to(WA_B).await;
    assert_eq!(bodies.len(), lines.len(), "{bodies:#?}");
    for b in &bodies {
        assert_eq!(b["messaging_product"], "whatsapp", "{b}");
        assert_eq!(b["to"], WA_CUSTOMER);
    }
    let uploads = fx.uploads().await;
    assert_eq!(uploads.len(), 1, "{uploads:#?}");
    assert!(
        uploads[0]["path"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{WA_B}/media"))
    );
    let body = &uploads[0]["body"];
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["type"], "image/png");
    assert_eq!(body["file"]["filename"], "kue.png");
    assert_eq!(body["file"]["content_type"], "image/png");
    let media_id = uploads[0]["response"]["id"].as_str().unwrap();
    assert_eq!(bodies[0]["type"], "image");
    assert_eq!(
        bodies[0]["image"],
        json!({"id": media_id, "caption": "Kue hari ini"})
    );
    assert_eq!(bodies[1]["type"], "document");
    assert_eq!(
        bodies[1]["document"],
        json!({"link": "https://cdn.example/menu.pdf", "caption": "Menu"})
    );
    assert_eq!(bodies[2]["type"], "interactive");
    assert_eq!(
        bodies[2]["interactive"],
        json!({"type": "button", "body": {"text": "Pesan sekarang?"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "YA", "title": "Ya"}},
            {"type": "reply", "reply": {"id": "NANTI", "title": "Nanti"}}]}})
    );
    assert_eq!(
        bodies[3]["interactive"],
        json!({"type": "list", "body": {"text": "Pilih kue"}, "action": {
            "button": "Lihat menu", "sections": [{"title": "Lihat menu", "rows": [
                {"id": "RYE", "title": "Roti gandum"},
                {"id": "SOURDOUGH", "title": "Sourdough"}]}]}})
    );
    assert_eq!(bodies[4]["type"], "text");
    assert_eq!(bodies[4]["text"]["body"], "Ini menunya kak");
    assert_eq!(
        bodies[4]["context"],
        json!({ "message_id": fx.first_mid(&wa).await })
    );
}

#[tokio::test]
async fn files_over_a_limit_are_refused_before_anything_reaches_meta() {
    let (fx, _ig, wa, _dir, mut app) = setup().await;
    let t = &fx.fx.w.b;
    let files = tempfile::tempdir().unwrap();
    // Six megabytes of PNG: WhatsApp takes images up to 5 MB.
    let big = files.path().join("besar.png");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(6 * 1024 * 1024)
        .unwrap();
    open(&mut app, &wa);
    let effects = command_line(&mut app, &format!("image {}", big.display()));
    let Some(Effect::Upload {
        channel, on, kind, ..
    }) = effects
        .iter()
        .find(|e| matches!(e, Effect::Upload { .. }))
        .cloned()
    else {
        panic!("no upload: {effects:?}");
    };
    let refused = fx
        .remote
        .upload(&t.id, &channel, on, kind, &big)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, RemoteError::Refused(why)
            if why == "the file has 6.0 MB; WhatsApp takes image files up to 5 MB"),
        "{refused:?}"
    );
    // A type the channel does not take is refused in the desk as it is typed.
    let effects = command_line(&mut app, "image /tmp/kue.webp");
    assert!(effects.iter().all(|e| !matches!(e, Effect::Upload { .. })));
    assert_eq!(
        app.flash.as_deref(),
        Some("WhatsApp sends image only as jpeg, png, not image/webp")
    );
    // The relay checks again: a client that skips the desk's check gets a clear refusal.
    let path = format!(
        "/v1/tenants/{}/channels/{channel}/media?kind=image&name=kue.webp",
        t.id
    );
    let answer = reqwest::Client::new()
        .post(format!("{}{path}", fx.fx.w.api.url))
        .bearer_auth(&t.agent_token)
        .body(vec![1u8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 422);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "media_refused");
    assert_eq!(
        body["error"]["message"],
        "WhatsApp sends image only as jpeg, png, not image/webp"
    );
    assert!(fx.uploads().await.is_empty(), "nothing reached Meta");
}
