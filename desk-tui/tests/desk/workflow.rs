//! Canned replies, the confirmation of a held reply, assignment and snooze: keys against an
//! `App` over a real replica, and the new screens at 80×24 and 160×48.

use super::*;
use desk_tui::app::{Input, Overlay, Remote, Screen};
use desk_tui::fixtures::Events;
use desk_tui::model::inbox::Filter;
use desk_tui::remote::CannedLine;
use protocol::{AgentId, Answer, Channel, Command, CommandKey, Millis, Rejection, ThreadId};

fn both(name: &str, app: &App) {
    insta::assert_snapshot!(format!("{name}_80x24"), draw(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), draw(app, 160, 48));
}

fn lines() -> Vec<CannedLine> {
    let l = |shortcut: &str, title: &str, text: &str, filled: &str| CannedLine {
        shortcut: shortcut.into(),
        title: title.into(),
        text: text.into(),
        filled: filled.into(),
    };
    vec![
        l(
            "ongkir",
            "Ongkos kirim",
            "Halo {{customer.name}}, ongkir ke Jawa gratis di atas Rp 500.000 🙏 — {{agent.name}}, {{business.name}}",
            "Halo {{customer.name}}, ongkir ke Jawa gratis di atas Rp 500.000 🙏 — Ayu, Batik Sari",
        ),
        l(
            "thanks",
            "Terima kasih",
            "Terima kasih {{customer.name}}!",
            "Terima kasih {{customer.name}}!",
        ),
        l("jam", "Jam buka", "Buka 09.00–17.00", "Buka 09.00–17.00"),
    ]
}

fn submitted(effects: &[Effect]) -> Vec<Command> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Submit { command, .. } => Some(command.clone()),
            _ => None,
        })
        .collect()
}

fn composer_text(app: &App) -> String {
    match &app.input {
        Input::Composer(c) => c.text(),
        other => panic!("no composer: {other:?}"),
    }
}

#[test]
fn capital_c_picks_a_canned_reply_fuzzily_and_fills_the_customer() {
    let (_dir, mut app) = showcase();
    app.update(code(KeyCode::Enter));
    let effects = press(&mut app, "C");
    assert!(
        effects.contains(&Effect::FetchCanned { profile: 0 }),
        "{effects:?}"
    );
    app.update(Msg::Canned {
        profile: 0,
        result: Ok(lines()),
    });
    press(&mut app, "ngkr");
    both("canned_picker", &app);
    app.update(code(KeyCode::Enter));
    let text = composer_text(&app);
    assert!(text.starts_with("Halo rina.putri, ongkir"), "{text}");
    assert!(text.ends_with("Ayu, Batik Sari"), "{text}");
    // Inserted, not sent: ctrl-s sends it as the agent's own reply.
    let sent = submitted(&app.update(ctrl('s')));
    assert!(
        matches!(&sent[..], [Command::SendReply { text: t, .. }] if *t == text),
        "{sent:?}"
    );
}

#[test]
fn a_slash_shortcut_and_tab_expand_in_the_composer() {
    let (_dir, mut app) = showcase();
    app.update(code(KeyCode::Enter));
    let effects = press(&mut app, "r");
    assert!(
        effects.contains(&Effect::FetchCanned { profile: 0 }),
        "{effects:?}"
    );
    app.update(Msg::Canned {
        profile: 0,
        result: Ok(lines()),
    });
    press(&mut app, "Oke. /thanks");
    app.update(code(KeyCode::Tab));
    assert_eq!(composer_text(&app), "Oke. Terima kasih rina.putri!");
    // An unknown shortcut stays as typed and says so.
    press(&mut app, " /nope");
    app.update(code(KeyCode::Tab));
    assert!(composer_text(&app).ends_with("/nope"));
    assert!(
        app.flash
            .as_deref()
            .is_some_and(|f| f.contains("no canned reply /nope"))
    );
}

#[test]
fn a_held_reply_asks_and_sends_only_when_confirmed() {
    let (_dir, mut app) = showcase();
    app.update(code(KeyCode::Enter));
    press(&mut app, "r");
    press(&mut app, "Diskon 70% hari ini, telp 0812-9999-0000");
    let effects = app.update(ctrl('s'));
    let local = effects
        .iter()
        .find_map(|e| match e {
            Effect::Submit {
                local,
                command: Command::SendReply { .. },
                ..
            } => Some(*local),
            _ => None,
        })
        .expect("a reply was submitted");
    let key = CommandKey::new("k-held");
    app.update(Msg::Submitted {
        local,
        result: Ok(key.clone()),
    });
    app.update(Msg::Answered {
        profile: 0,
        key,
        answer: Answer::Rejected {
            rejection: Rejection::Unconfirmed {
                reasons: vec![
                    "ungrounded_amount: `70%` is not in the knowledge or the customer's message"
                        .into(),
                    "ungrounded_phone: `0812-9999-0000` is not in the knowledge or the customer's message"
                        .into(),
                ],
            },
        },
    });
    assert!(matches!(app.overlay, Overlay::ConfirmSend { .. }));
    both("confirm_send", &app);
    let sent = submitted(&press(&mut app, "y"));
    assert!(
        matches!(&sent[..], [Command::Confirm { command }]
            if matches!(**command, Command::SendReply { ref text, .. } if text.starts_with("Diskon 70%"))),
        "{sent:?}"
    );
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn any_other_key_keeps_a_held_reply_unsent() {
    let (_dir, mut app) = showcase();
    app.update(code(KeyCode::Enter));
    press(&mut app, "a");
    let local = app.pending.last().expect("approve pending").local;
    app.update(Msg::Submitted {
        local,
        result: Ok(CommandKey::new("k1")),
    });
    app.update(Msg::Answered {
        profile: 0,
        key: CommandKey::new("k1"),
        answer: Answer::Rejected {
            rejection: Rejection::Unconfirmed {
                reasons: vec!["held".into()],
            },
        },
    });
    assert!(submitted(&press(&mut app, "n")).is_empty());
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn capital_a_assigns_and_z_snoozes_or_wakes() {
    let (_dir, mut app) = showcase();
    app.update(code(KeyCode::Enter));
    press(&mut app, "A");
    assert!(matches!(&app.input, Input::Command(t) if t == "assign "));
    press(&mut app, "budi");
    let sent = submitted(&app.update(code(KeyCode::Enter)));
    assert!(
        matches!(&sent[..], [Command::Assign { to, .. }] if *to == AgentId::new("budi")),
        "{sent:?}"
    );
    let sent = submitted(&press(&mut app, "z"));
    assert!(
        matches!(&sent[..], [Command::Snooze { for_ms: None, .. }]),
        "{sent:?}"
    );
    press(&mut app, ":snooze 2h");
    let sent = submitted(&app.update(code(KeyCode::Enter)));
    assert!(
        matches!(
            &sent[..],
            [Command::Snooze {
                for_ms: Some(7_200_000),
                ..
            }]
        ),
        "{sent:?}"
    );
}

fn assigned_and_snoozed() -> (tempfile::TempDir, App) {
    let m = |minutes: i64| NOW.plus(-minutes * Millis::MINUTE);
    let mut e = Events::new("t-sari");
    e.message(
        "ig-rina",
        Channel::InstagramDm,
        "rina.putri",
        "Kak, ada ukuran M?",
        m(30),
    );
    e.assigned("ig-rina", "owner", "ayu", m(20));
    e.message(
        "wa-siti",
        Channel::WhatsApp,
        "Siti Aminah",
        "Nanti saya kabari ya kak",
        m(50),
    );
    e.snoozed("wa-siti", "ayu", None, m(40));
    e.message(
        "ig-budi",
        Channel::InstagramDm,
        "budi",
        "Besok saya transfer",
        m(90),
    );
    e.snoozed("ig-budi", "ayu", Some(NOW.plus(2 * Millis::HOUR)), m(60));
    app_with(&e.take())
}

#[test]
fn snoozed_threads_leave_the_open_filters_until_they_wake() {
    let (_dir, mut app) = assigned_and_snoozed();
    assert_eq!(app.inbox.visible_len(), 1, "only Rina's is awake");
    app.filter = Filter::Mine;
    app.refresh();
    assert_eq!(
        app.selected_thread().map(|t| t.1),
        Some(ThreadId::new("ig-rina"))
    );
    press(&mut app, ":filter snoozed");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.inbox.visible_len(), 2);
    both("inbox_snoozed", &app);
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Thread);
    both("thread_snoozed", &app);
}

#[test]
fn owners_see_and_change_canned_replies_in_the_settings() {
    let (_dir, mut app) = showcase();
    press(&mut app, "S");
    app.update(Msg::Settings {
        profile: 0,
        result: Ok(super::screens::settings_data()),
    });
    app.update(Msg::Canned {
        profile: 0,
        result: Ok(lines()),
    });
    assert!(matches!(app.canned.get(&0), Some(Remote::Loaded(l)) if l.len() == 3));
    both("settings_canned", &app);
    press(
        &mut app,
        ":canned set salam Salam | Halo {{customer.name}}, ada yang bisa dibantu?",
    );
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::PutCanned {
            profile: 0,
            shortcut: "salam".into(),
            title: "Salam".into(),
            text: "Halo {{customer.name}}, ada yang bisa dibantu?".into(),
        }]
    );
    press(&mut app, ":canned rm jam");
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        effects,
        [Effect::RemoveCanned {
            profile: 0,
            shortcut: "jam".into(),
        }]
    );
    let effects = app.update(Msg::CannedChanged {
        profile: 0,
        result: Ok("/jam removed".into()),
    });
    assert_eq!(effects, [Effect::FetchCanned { profile: 0 }]);
}
