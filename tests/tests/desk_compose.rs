//! What an agent composes in the desk beyond a plain reply, end to end: the desk's own
//! `App` (over a replica of the tenant's real log) and `Remote` against a real relay whose
//! Graph URLs point at a real `relay simulate`. The desk's effects are carried out here as
//! its runtime would (the HTTP call through `Remote`, the command over a desk WebSocket),
//! and the tests check what the simulator received in Meta's shape. Time moves with the
//! relay's test clock, never by sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use desk_tui::app::keymap::Keymap;
use desk_tui::app::{App, Effect, Input, Msg};
use desk_tui::config::Token;
use desk_tui::fixtures;
use desk_tui::remote::Remote;
use harness::WA_B;
use harness::desk::RawDesk;
use harness::sim::{SimWorld, eventually};
use protocol::{Answer, Command, Millis, Rejection, ThreadId};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| app.update(key(KeyCode::Char(c))))
        .collect()
}

/// A desk replica in a new directory holding everything the tenant's log holds now, as
/// `token`'s desk receives it; keep the directory alive while using it.
async fn replica_of(relay: &str, token: &str) -> (tempfile::TempDir, desk_tui::Replica) {
    let mut raw = RawDesk::connect(relay, token, None).await.unwrap();
    let welcome = raw.hello(0).await.unwrap();
    let (events, _) = raw.events_until(welcome.head).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let replica = fixtures::replica(dir.path(), &events).unwrap();
    (dir, replica)
}

/// A desk `App` over [`replica_of`] at relay time `now`.
async fn desk_app(relay: &str, token: &str, now: i64) -> (tempfile::TempDir, App) {
    let (dir, replica) = replica_of(relay, token).await;
    let app = App::new(
        vec![fixtures::profile("b", replica)],
        Keymap::default(),
        Millis(now),
    );
    (dir, app)
}

/// `customer` writes to tenant B's WhatsApp number now; answers
/// the thread once the relay lists it.
async fn customer_writes(fx: &SimWorld, customer: &str, text: &str) -> ThreadId {
    fx.whatsapp_b_writes(customer, text, WAIT).await.unwrap()
}

/// The one command among `effects`.
fn submitted(effects: &[Effect]) -> Command {
    let commands: Vec<&Command> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Submit { command, .. } => Some(command),
            _ => None,
        })
        .collect();
    assert_eq!(commands.len(), 1, "{effects:?}");
    commands[0].clone()
}

async fn reply_state(fx: &SimWorld, thread: &ThreadId, i: usize, state: &str) {
    fx.b_reply_reaches(thread, i, state, WAIT).await.unwrap();
}

#[tokio::test]
async fn a_closed_whatsapp_window_is_reopened_by_a_template_filled_in_the_desk() {
    let fx = SimWorld::start().await.unwrap();
    let t = &fx.w.b;
    let customer = "6281234500911";
    let thread = customer_writes(&fx, customer, "pesanan saya sudah dikirim?").await;
    fx.w.top_up(t, 5).await.unwrap();
    // A day and an hour later by the relay's clock: the 24-hour window has closed.
    let now = fx.w.advance_clock(25 * Millis::HOUR).await.unwrap();
    let mut desk = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    let (refused, _) = desk
        .command(
            "free-1",
            Command::SendReply {
                thread: thread.clone(),
                text: "Sudah kak".into(),
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(
            refused,
            Answer::Rejected {
                rejection: Rejection::OutsideWindow { .. }
            }
        ),
        "{refused:?}"
    );

    // In the desk, `r` on that thread opens the template picker instead of a composer.
    let (_dir, mut app) = desk_app(&fx.w.api.url, &t.agent_token, now).await;
    let effects = app.update(key(KeyCode::Char('r')));
    let channel = effects
        .iter()
        .find_map(|e| match e {
            Effect::FetchTemplates { channel, .. } => Some(channel.clone()),
            _ => None,
        })
        .expect("the picker asks for the templates");
    assert!(matches!(app.input, Input::Templates(_)));
    // The runtime's call: the relay lists the WABA's templates with the channel's token.
    let remote = Remote::new(&fx.w.api.url, Token::new(t.agent_token.clone()), None).unwrap();
    let listed = remote.templates(&t.id, &channel).await.unwrap();
    let names: Vec<(&str, &str, bool)> = listed
        .iter()
        .map(|l| (l.name.as_str(), l.language.as_str(), l.sendable))
        .collect();
    assert_eq!(
        names,
        [
            ("order_update", "en_US", true),
            ("order_update", "id", true),
            ("spring_sale", "en_US", false),
        ]
    );
    app.update(Msg::Templates {
        profile: 0,
        channel,
        result: Ok(listed),
    });
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "Ana");
    app.update(key(KeyCode::Tab));
    type_text(&mut app, "#123");
    let Input::Templates(picker) = &app.input else {
        panic!("the picker closed");
    };
    assert_eq!(
        picker.fill.as_ref().unwrap().preview(),
        "Hi Ana, your order #123 has shipped."
    );
    let command = submitted(&app.update(key(KeyCode::Enter)));
    let (answer, _) = desk.command("tpl-1", command).await.unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    reply_state(&fx, &thread, 0, "sent").await;
    let calls = fx.sim.api.send_calls().await.unwrap();
    let body = &calls.last().unwrap()["body"];
    assert_eq!(body["messaging_product"], "whatsapp", "{body}");
    assert_eq!(body["to"], customer);
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "order_update");
    assert_eq!(body["template"]["language"]["code"], "en_US");
    assert_eq!(
        body["template"]["components"],
        json!([{"type": "body", "parameters": [
            {"type": "text", "text": "Ana"}, {"type": "text", "text": "#123"}]}])
    );

    // The customer answers the template (at the relay's time): the window is open again
    // and a free reply goes out.
    fx.sim
        .api
        .inbound(
            &json!({"account": WA_B, "customer": customer, "type": "text",
                         "text": "makasih!", "at_ms": now}),
        )
        .await
        .unwrap();
    let path = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
    eventually("the answer to the template", WAIT, || async {
        let v =
            fx.w.api
                .expect(Method::GET, &path, &t.agent_token, None, 200)
                .await?;
        Ok(v.to_string().contains("makasih!").then_some(()))
    })
    .await
    .unwrap();
    let (answer, _) = desk
        .command(
            "free-2",
            Command::SendReply {
                thread: thread.clone(),
                text: "Sama-sama kak".into(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    reply_state(&fx, &thread, 1, "sent").await;
    let calls = fx.sim.api.send_calls().await.unwrap();
    assert_eq!(
        calls.last().unwrap()["body"]["text"]["body"],
        "Sama-sama kak"
    );
}

#[tokio::test]
async fn a_note_reaches_every_desk_of_the_tenant_and_never_meta() {
    let fx = SimWorld::start().await.unwrap();
    let t = &fx.w.b;
    let customer = "6281234500912";
    let thread = customer_writes(&fx, customer, "kapan sampai?").await;
    fx.sim.api.clear_calls().await.unwrap();
    let mut agent = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    let mut owner = RawDesk::caught_up(&fx.w.api.url, &t.owner_token)
        .await
        .unwrap();
    // No credits are needed: a note is not a message.
    let text = "Courier says it leaves Jogja tonight; promise tomorrow noon.";
    let (answer, _) = agent
        .command(
            "note-1",
            Command::AddNote {
                thread: thread.clone(),
                text: text.into(),
            },
        )
        .await
        .unwrap();
    let Answer::Applied { seq } = answer else {
        panic!("{answer:?}");
    };
    // The owner's desk gets it as an event of the tenant's log.
    let (events, _) = owner.events_until(seq).await.unwrap();
    let note = events
        .iter()
        .find(|e| e.seq == seq)
        .expect("the note event");
    let protocol::EventBody::Desk(d) = &note.body else {
        panic!("{note:?}");
    };
    assert_eq!(d.thread, thread);
    assert_eq!(
        d.action,
        protocol::DeskAction::NoteAdded { text: text.into() }
    );
    // The owner's desk shows it as a note in the conversation.
    let (_dir, replica) = replica_of(&fx.w.api.url, &t.owner_token).await;
    let detail = desk_tui::model::detail::ThreadDetail::from_events(
        &replica.thread_events(&thread).unwrap(),
    );
    assert!(detail.items.iter().any(|i| matches!(i,
        desk_tui::model::detail::Item::Private(n) if n.text == text)));
    // Nothing went to Meta: no Graph call at all since the customer wrote, and no send.
    let path = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
    let v =
        fx.w.api
            .expect(Method::GET, &path, &t.agent_token, None, 200)
            .await
            .unwrap();
    assert_eq!(v["sends"].as_array().map_or(0, Vec::len), 0, "{v}");
    let calls = fx.sim.api.calls().await.unwrap();
    assert!(calls.is_empty(), "{calls:?}");
    // The evidence chain holds the note's digest, never its text, and verifies.
    let export =
        fx.w.api
            .expect(
                Method::GET,
                &format!("/v1/tenants/{}/audit/export", t.id),
                &t.owner_token,
                None,
                200,
            )
            .await
            .unwrap();
    let record = export["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["audit"]["kind"] == "note_added")
        .expect("a note_added record");
    assert!(!record["audit"].to_string().contains("Courier"), "{record}");
    assert!(!record["audit"]["content"].is_null(), "{record}");
    fx.w.api.audit_ok(&t.id, &t.owner_token).await.unwrap();
}
