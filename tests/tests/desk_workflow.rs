//! An agent's own text checked like a draft, canned replies, assignment and snooze, end to
//! end: the real relay (and `relay simulate` for Meta), desks over the WebSocket, and the
//! desk's own `App` and `Remote` where the desk decides something. Time moves with the
//! relay's test clock, never by sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use desk_tui::app::keymap::Keymap;
use desk_tui::app::{App, Effect, Msg, Overlay};
use desk_tui::config::Token;
use desk_tui::fixtures;
use desk_tui::remote::Remote;
use harness::WA_B;
use harness::desk::RawDesk;
use harness::sim::{SimWorld, eventually};
use protocol::{AgentId, Answer, Command, CommandKey, Millis, Rejection, ThreadId};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| app.update(key(KeyCode::Char(c))))
        .collect()
}

fn commands(effects: &[Effect]) -> Vec<(u64, Command)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Submit { local, command, .. } => Some((*local, command.clone())),
            _ => None,
        })
        .collect()
}

/// The tenant's log as `token`'s desk receives it, in a desk replica whose identity is that
/// desk's agent; keep the directory alive while using it.
async fn desk_app(relay: &str, token: &str, now: i64) -> (tempfile::TempDir, App, RawDesk) {
    let mut raw = RawDesk::connect(relay, token, None).await.unwrap();
    let welcome = raw.hello(0).await.unwrap();
    let (events, _) = raw.events_until(welcome.head).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let replica = fixtures::replica(dir.path(), &events).unwrap();
    let mut app = App::new(
        vec![fixtures::profile("b", replica)],
        Keymap::default(),
        Millis(now),
    );
    app.profiles[0].me = welcome.agent;
    app.profiles[0].tenant = Some(welcome.tenant.to_string());
    (dir, app, raw)
}

/// Carries out the desk's submits over `desk` and hands each answer back to the app, as the
/// runtime does; answers them in order.
async fn run_submits(app: &mut App, desk: &mut RawDesk, effects: &[Effect]) -> Vec<Answer> {
    let mut answers = Vec::new();
    for (local, command) in commands(effects) {
        let key = format!("k-{local}-{}", command.name());
        app.update(Msg::Submitted {
            local,
            result: Ok(CommandKey::new(&key)),
        });
        let (answer, _) = desk.command(&key, command).await.unwrap();
        app.update(Msg::Answered {
            profile: 0,
            key: CommandKey::new(&key),
            answer: answer.clone(),
        });
        answers.push(answer);
    }
    answers
}

async fn customer_writes(fx: &SimWorld, customer: &str, text: &str) -> ThreadId {
    fx.whatsapp_b_writes(customer, text, WAIT).await.unwrap()
}

async fn load_bakery(fx: &SimWorld) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/knowledge/bakery.toml"),
    )
    .unwrap();
    let resp = reqwest::Client::new()
        .put(format!(
            "{}/v1/tenants/{}/knowledge",
            fx.w.api.url, fx.w.b.id
        ))
        .bearer_auth(&fx.w.b.owner_token)
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

async fn reply_sent(fx: &SimWorld, thread: &ThreadId, i: usize) {
    fx.b_reply_reaches(thread, i, "sent", WAIT).await.unwrap();
}

#[tokio::test]
async fn an_ungrounded_edit_is_refused_with_its_reason_then_sent_once_confirmed() {
    let fx = SimWorld::start().await.unwrap();
    let t = &fx.w.b;
    // The customer writes before the business has knowledge, so no draft races the edit.
    let thread = customer_writes(&fx, "6281234500931", "Is the sourdough loaf ready today?").await;
    load_bakery(&fx).await;
    fx.w.top_up(t, 5).await.unwrap();
    fx.sim.api.clear_calls().await.unwrap();
    let (_dir, mut app, mut desk) =
        desk_app(&fx.w.api.url, &t.agent_token, harness::now_ms()).await;

    // `r`, a price and a phone number the knowledge never says, ctrl-s.
    app.update(key(KeyCode::Enter));
    app.update(key(KeyCode::Char('r')));
    let text = "Yes! The sourdough loaf is Rp 999.000 today, call 0812 7777 1234 to order.";
    type_text(&mut app, text);
    let effects = app.update(ctrl('s'));
    let answers = run_submits(&mut app, &mut desk, &effects).await;
    let [
        Answer::Rejected {
            rejection: Rejection::Unconfirmed { reasons },
        },
    ] = &answers[..]
    else {
        panic!("{answers:?}");
    };
    let why = reasons.join(" | ");
    assert!(why.contains("999.000"), "{why}");
    assert!(why.contains("0812 7777 1234"), "{why}");
    // Nothing was stored or sent for the refusal, and the desk asks with the reasons.
    let Overlay::ConfirmSend { reasons: shown, .. } = &app.overlay else {
        panic!("no confirmation asked: {:?}", app.overlay);
    };
    assert_eq!(shown, reasons);
    let path = format!("/v1/tenants/{}/threads/{thread}/messages", t.id);
    let v =
        fx.w.api
            .expect(Method::GET, &path, &t.agent_token, None, 200)
            .await
            .unwrap();
    assert_eq!(v["sends"].as_array().map_or(0, Vec::len), 0, "{v}");

    // `y`: the same reply, confirmed, goes out as written.
    let effects = app.update(key(KeyCode::Char('y')));
    let answers = run_submits(&mut app, &mut desk, &effects).await;
    assert!(
        matches!(answers[..], [Answer::Applied { .. }]),
        "{answers:?}"
    );
    reply_sent(&fx, &thread, 0).await;
    let calls = fx.sim.api.send_calls().await.unwrap();
    assert_eq!(calls.last().unwrap()["body"]["text"]["body"], text);

    // An agent's edit of a draft is held the same way when it is approved, and a confirm
    // of anything but a reply is refused.
    let (answer, _) = desk
        .command(
            "edit-1",
            Command::EditDraft {
                thread: thread.clone(),
                base_version: 0,
                text: "Free delivery with code GRATIS at https://cheap-bread.example".into(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    let approve = Command::ApproveDraft {
        thread: thread.clone(),
        version: 1,
    };
    let (answer, _) = desk.command("approve-1", approve.clone()).await.unwrap();
    assert!(
        matches!(&answer, Answer::Rejected { rejection: Rejection::Unconfirmed { reasons } }
            if reasons.join(" ").contains("cheap-bread.example")),
        "{answer:?}"
    );
    let (answer, _) = desk
        .command(
            "confirm-claim",
            Command::Confirm {
                command: Box::new(Command::Claim {
                    thread: thread.clone(),
                }),
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(
            answer,
            Answer::Rejected {
                rejection: Rejection::Invalid { .. }
            }
        ),
        "{answer:?}"
    );
    let (answer, _) = desk
        .command(
            "approve-1-confirmed",
            Command::Confirm {
                command: Box::new(approve),
            },
        )
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    reply_sent(&fx, &thread, 1).await;
    fx.w.api.audit_ok(&t.id, &t.owner_token).await.unwrap();
}

#[tokio::test]
async fn canned_replies_with_variables_are_inserted_and_sent_filled() {
    let fx = SimWorld::start().await.unwrap();
    let t = &fx.w.b;
    let thread = customer_writes(&fx, "6281234500932", "Halo, are you open on Monday?").await;
    load_bakery(&fx).await;
    fx.w.top_up(t, 5).await.unwrap();
    let base = format!("/v1/tenants/{}/canned", t.id);
    // Owners manage them; agents may not; bad shortcuts are refused.
    let body = json!({"title": "Thanks", "text": "Thanks {{customer.name}}! {{agent.name}} from {{business.name}} 🥖"});
    fx.w.api
        .expect(
            Method::PUT,
            &format!("{base}/thanks"),
            &t.owner_token,
            Some(body.clone()),
            201,
        )
        .await
        .unwrap();
    fx.w.api
        .expect(
            Method::PUT,
            &format!("{base}/thanks"),
            &t.owner_token,
            Some(body),
            200,
        )
        .await
        .unwrap();
    fx.w.api
        .expect(
            Method::PUT,
            &format!("{base}/nope"),
            &t.agent_token,
            Some(json!({"title": "x", "text": "y"})),
            403,
        )
        .await
        .unwrap();
    fx.w.api
        .expect(
            Method::PUT,
            &format!("{base}/Bad%20One"),
            &t.owner_token,
            Some(json!({"title": "x", "text": "y"})),
            400,
        )
        .await
        .unwrap();
    // Another tenant sees none of them.
    let other =
        fx.w.api
            .expect(
                Method::GET,
                &format!("/v1/tenants/{}/canned", fx.w.a.id),
                &fx.w.a.agent_token,
                None,
                200,
            )
            .await
            .unwrap();
    assert_eq!(other["canned"], json!([]));

    // The agent's desk lists them with the business's and the agent's fields filled.
    let (_dir, mut app, mut desk) =
        desk_app(&fx.w.api.url, &t.agent_token, harness::now_ms()).await;
    let remote = Remote::new(&fx.w.api.url, Token::new(t.agent_token.clone()), None).unwrap();
    let listed = remote.canned(&t.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].filled.contains("from Sourdough Lane 🥖"),
        "{listed:?}"
    );
    assert!(listed[0].filled.contains("{{customer.name}}"), "{listed:?}");
    assert!(!listed[0].filled.contains("{{agent.name}}"), "{listed:?}");
    app.update(key(KeyCode::Enter));
    let effects = app.update(key(KeyCode::Char('r')));
    assert!(
        effects.contains(&Effect::FetchCanned { profile: 0 }),
        "{effects:?}"
    );
    app.update(Msg::Canned {
        profile: 0,
        result: Ok(listed.clone()),
    });
    type_text(&mut app, "/thanks");
    app.update(key(KeyCode::Tab));
    let effects = app.update(ctrl('s'));
    let sent = commands(&effects);
    let [(_, Command::SendReply { text, .. })] = &sent[..] else {
        panic!("{sent:?}");
    };
    assert!(!text.contains("{{"), "every variable filled: {text}");
    assert!(text.ends_with("from Sourdough Lane 🥖"), "{text}");
    let mut answers = run_submits(&mut app, &mut desk, &effects).await;
    // A canned text goes through the classifier like any reply: confirm if it held it.
    if let [
        Answer::Rejected {
            rejection: Rejection::Unconfirmed { .. },
        },
    ] = &answers[..]
    {
        let effects = app.update(key(KeyCode::Char('y')));
        answers = run_submits(&mut app, &mut desk, &effects).await;
    }
    assert!(
        matches!(answers[..], [Answer::Applied { .. }]),
        "{answers:?}"
    );
    reply_sent(&fx, &thread, 0).await;
    let calls = fx.sim.api.send_calls().await.unwrap();
    assert_eq!(calls.last().unwrap()["body"]["text"]["body"], text.as_str());
    // Removed, it is gone from the list.
    fx.w.api
        .expect(
            Method::DELETE,
            &format!("{base}/thanks"),
            &t.owner_token,
            None,
            200,
        )
        .await
        .unwrap();
    assert!(remote.canned(&t.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn assignment_rings_the_assignees_desk_and_follows_the_tenants_setting() {
    let fx = SimWorld::start().await.unwrap();
    let t = &fx.w.b;
    let thread = customer_writes(&fx, "6281234500933", "Who can help me with a big order?").await;
    let mut owner = RawDesk::caught_up(&fx.w.api.url, &t.owner_token)
        .await
        .unwrap();
    let (_dir, mut app, _agent_desk) =
        desk_app(&fx.w.api.url, &t.agent_token, harness::now_ms()).await;
    app.bell = true;
    let me = app.profiles[0].me.clone();
    let owner_id = {
        let mut raw = RawDesk::connect(&fx.w.api.url, &t.owner_token, None)
            .await
            .unwrap();
        raw.hello(0).await.unwrap().agent
    };

    // Unknown agents are refused; the owner gives the thread to the agent.
    let (answer, _) = owner
        .command(
            "assign-ghost",
            Command::Assign {
                thread: thread.clone(),
                to: AgentId::new("ag_nobody"),
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(
            answer,
            Answer::Rejected {
                rejection: Rejection::Invalid { .. }
            }
        ),
        "{answer:?}"
    );
    let (answer, events) = owner
        .command(
            "assign-1",
            Command::Assign {
                thread: thread.clone(),
                to: me.clone(),
            },
        )
        .await
        .unwrap();
    let Answer::Applied { seq } = answer else {
        panic!("{answer:?}")
    };
    let mut events = events;
    if !events.iter().any(|e| e.seq == seq) {
        events.extend(owner.events_until(seq).await.unwrap().0);
    }
    let assigned: Vec<_> = events.into_iter().filter(|e| e.seq == seq).collect();

    // The agent's desk: the event arrives in its replica, the bell rings, `mine` lists it.
    let replica = app.profiles[0].replica.clone().unwrap();
    replica.apply(&assigned).unwrap();
    let effects = app.update(Msg::Applied {
        profile: 0,
        cursor: seq,
    });
    assert!(effects.contains(&Effect::Bell), "{effects:?}");
    assert!(
        app.flash
            .as_deref()
            .is_some_and(|f| f.contains("assigned you")),
        "{:?}",
        app.flash
    );
    app.filter = desk_tui::model::inbox::Filter::Mine;
    app.refresh();
    assert_eq!(app.selected_thread().map(|(_, t)| t), Some(thread.clone()));
    app.filter = desk_tui::model::inbox::Filter::Unassigned;
    app.refresh();
    assert_eq!(app.inbox.visible_len(), 0);

    // An agent may reassign only when the tenant allows it.
    let mut agent = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    let back = Command::Assign {
        thread: thread.clone(),
        to: owner_id.clone(),
    };
    let (answer, _) = agent.command("agent-assign-1", back.clone()).await.unwrap();
    assert!(
        matches!(
            answer,
            Answer::Rejected {
                rejection: Rejection::Forbidden { .. }
            }
        ),
        "{answer:?}"
    );
    fx.w.api
        .expect(
            Method::PUT,
            &format!("/v1/tenants/{}/settings", t.id),
            &t.owner_token,
            Some(json!({"agents_assign": true})),
            200,
        )
        .await
        .unwrap();
    let (answer, _) = agent.command("agent-assign-2", back).await.unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    fx.w.api.audit_ok(&t.id, &t.owner_token).await.unwrap();
}

#[tokio::test]
async fn a_snooze_ends_by_the_relays_clock_or_when_the_customer_writes() {
    let fx = SimWorld::start().await.unwrap();
    let t = &fx.w.b;
    let customer = "6281234500934";
    let thread = customer_writes(&fx, customer, "I'll transfer tomorrow").await;
    let mut desk = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    let (answer, _) = desk
        .command(
            "snooze-1",
            Command::Snooze {
                thread: thread.clone(),
                for_ms: Some(2 * 3_600_000),
            },
        )
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    let woken = |events: &[serde_json::Value]| {
        events
            .iter()
            .filter(|e| e.to_string().contains("\"unsnoozed\""))
            .count()
    };
    // An hour on, still asleep; two hours on, the relay wakes it (as the agent `relay`).
    fx.w.advance_clock(Millis::HOUR).await.unwrap();
    let events = fx.w.api.all_events(&t.id, &t.owner_token).await.unwrap();
    assert_eq!(woken(&events), 0);
    fx.w.advance_clock(Millis::HOUR + 1).await.unwrap();
    let all = eventually("the snooze to end", WAIT, || async {
        let all = fx.w.api.all_events(&t.id, &t.owner_token).await?;
        Ok((woken(&all) == 1).then_some(all))
    })
    .await
    .unwrap();
    let wake = all
        .iter()
        .find(|e| e.to_string().contains("\"unsnoozed\""))
        .unwrap();
    assert!(wake.to_string().contains("\"relay\""), "{wake}");

    // Until the customer writes: their next message wakes it in the desk's rows.
    let (answer, _) = desk
        .command(
            "snooze-2",
            Command::Snooze {
                thread: thread.clone(),
                for_ms: None,
            },
        )
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    let (_dir, app, _raw) = desk_app(&fx.w.api.url, &t.agent_token, harness::now_ms()).await;
    let row = app.inbox.get(0, &thread).unwrap().thread().unwrap().clone();
    assert_eq!(row.snoozed, Some(None));
    fx.sim
        .api
        .inbound(&json!({"account": WA_B, "customer": customer, "type": "text", "text": "done, transferred"}))
        .await
        .unwrap();
    eventually("the customer's message", WAIT, || async {
        let all = fx.w.api.all_events(&t.id, &t.owner_token).await?;
        Ok(all
            .iter()
            .any(|e| e.to_string().contains("done, transferred"))
            .then_some(()))
    })
    .await
    .unwrap();
    let (_dir2, app, _raw2) = desk_app(&fx.w.api.url, &t.agent_token, harness::now_ms()).await;
    let row = app.inbox.get(0, &thread).unwrap().thread().unwrap().clone();
    assert_eq!(row.snoozed, None);
}
