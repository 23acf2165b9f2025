//! Every screen at 80×24 and 160×48.

use super::*;
use desk_tui::app::{Overlay, Remote};
use desk_tui::remote::{
    ChannelLine, FirstResponse, Replies, ReportData, RuleLine, SettingsData, TenantReport, Volume,
};

fn both(name: &str, app: &App) {
    insta::assert_snapshot!(format!("{name}_80x24"), draw(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), draw(app, 160, 48));
}

#[test]
fn inbox() {
    let (_dir, app) = showcase();
    both("inbox", &app);
}

#[test]
fn inbox_empty() {
    let (_dir, app) = app_with(&[]);
    both("inbox_empty", &app);
}

#[test]
fn thread_with_a_draft() {
    let (_dir, mut app) = showcase();
    // The most urgent row is Rina's draft with about an hour left.
    app.update(code(KeyCode::Enter));
    both("thread_draft", &app);
}

#[test]
fn thread_context_pane_narrow() {
    let (_dir, mut app) = showcase();
    app.update(code(KeyCode::Enter));
    app.update(code(KeyCode::Tab));
    insta::assert_snapshot!("thread_context_80x24", draw(&app, 80, 24));
}

#[test]
fn thread_with_a_failed_reply() {
    let (_dir, mut app) = showcase();
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('/'),
        KeyModifiers::NONE,
    )));
    press(&mut app, "budi");
    app.update(code(KeyCode::Enter));
    app.update(code(KeyCode::Enter));
    both("thread_failed", &app);
}

#[test]
fn composer_editing_a_draft() {
    let (_dir, mut app) = showcase();
    app.update(code(KeyCode::Enter));
    press(&mut app, "e");
    press(&mut app, " Terima kasih!");
    both("composer", &app);
}

#[test]
fn composer_on_a_comment() {
    let (_dir, mut app) = showcase();
    app.update(key('/'));
    press(&mut app, "mei");
    app.update(code(KeyCode::Enter));
    app.update(code(KeyCode::Enter));
    press(&mut app, "r");
    press(&mut app, "Yes we ship to SG!");
    app.update(ctrl('t'));
    both("composer_comment", &app);
}

#[test]
fn help_overlay() {
    let (_dir, mut app) = showcase();
    press(&mut app, "?");
    assert_eq!(app.overlay, Overlay::Help);
    both("help", &app);
}

#[test]
fn quit_question() {
    let (_dir, mut app) = showcase();
    app.update(ctrl('c'));
    both("quit", &app);
}

pub fn settings_data() -> SettingsData {
    SettingsData {
        auto_send: false,
        hide_comments: true,
        rules: vec![RuleLine {
            name: "cod".into(),
            channels: vec!["instagram_dm".into()],
            keywords: vec!["cod".into(), "bayar di tempat".into()],
            intent: None,
            reply: Some("Bisa COD untuk Jogja kak!".into()),
            prompt: None,
            auto_send: Some(true),
            hide_comment: false,
        }],
        default_reply: Some("Terima kasih, admin kami segera membalas.".into()),
        channels: vec![
            ChannelLine {
                id: "ch-ig".into(),
                kind: "instagram".into(),
                account_id: Some("17841400000000001".into()),
                username: Some("saribatik.jogja".into()),
                last_event_at: Some(NOW.plus(-60_000).0),
                needs_reconnect: false,
            },
            ChannelLine {
                id: "ch-wa".into(),
                kind: "whatsapp".into(),
                account_id: Some("106540352242922".into()),
                username: None,
                last_event_at: None,
                needs_reconnect: true,
            },
        ],
        credits: 480,
        connect_links: vec![
            (
                "instagram".into(),
                Ok("http://127.0.0.1:8080/oauth/instagram/start?link=Lk7x".into()),
            ),
            (
                "whatsapp".into(),
                Ok("http://127.0.0.1:8080/whatsapp/connect?link=Wa9q".into()),
            ),
        ],
    }
}

#[test]
fn owner_settings() {
    let (_dir, mut app) = showcase();
    let effects = press(&mut app, "S");
    assert_eq!(
        effects,
        vec![
            Effect::FetchSettings { profile: 0 },
            Effect::FetchCanned { profile: 0 }
        ]
    );
    app.update(Msg::Settings {
        profile: 0,
        result: Ok(settings_data()),
    });
    both("settings", &app);
}

#[test]
fn owner_settings_list_links_and_mint_one_only_on_request() {
    let (_dir, mut app) = showcase();
    // Opening the screen fetches (lists) and asks for no link.
    assert_eq!(
        press(&mut app, "S"),
        vec![
            Effect::FetchSettings { profile: 0 },
            Effect::FetchCanned { profile: 0 }
        ]
    );
    let mut data = settings_data();
    data.connect_links.clear();
    app.update(Msg::Settings {
        profile: 0,
        result: Ok(data),
    });
    both("settings_no_links", &app);
    // `L` asks for one Instagram link; `:link KIND` for another kind.
    assert_eq!(
        press(&mut app, "L"),
        vec![Effect::MintConnectLink {
            profile: 0,
            kind: "instagram".into()
        }]
    );
    press(&mut app, ":link whatsapp");
    assert_eq!(
        app.update(super::code(crossterm::event::KeyCode::Enter)),
        vec![Effect::MintConnectLink {
            profile: 0,
            kind: "whatsapp".into()
        }]
    );
    press(&mut app, ":link telegram");
    assert!(
        app.update(super::code(crossterm::event::KeyCode::Enter))
            .is_empty()
    );
    // Away from the settings screen it makes nothing.
    app.update(super::code(crossterm::event::KeyCode::Esc));
    assert!(press(&mut app, "L").is_empty());
}

pub fn report_data() -> ReportData {
    let tenant = |name: &str, scale: u64| TenantReport {
        tenant: format!("t-{name}"),
        name: name.into(),
        volume: Volume {
            inbound_messages: 130 * scale,
            daily: (0..14).map(|d| (d * 7 + 3) % 17 * scale).collect(),
        },
        replies: Replies {
            auto: 40 * scale,
            approved: 55 * scale,
            edited: 12 * scale,
            own: 9 * scale,
        },
        first_response_ms: FirstResponse {
            median: Some(4 * 60_000),
            samples: 98 * scale,
        },
        held_drafts: 3,
        failures: scale - 1,
        credits: Some(420),
        agents: Vec::new(),
    };
    ReportData {
        brand: Some("Nusantara Desk".into()),
        days: 14,
        tenants: vec![
            tenant("Sari Batik", 2),
            tenant("Roti Bu Tini", 1),
            tenant("Kopi Kita", 3),
        ],
    }
}

#[test]
fn partner_report() {
    let (_dir, mut app) = app_with(&[]);
    app.profiles[0].role = desk_tui::app::ProfileRole::Partner;
    app.screen = desk_tui::app::Screen::Report;
    app.report = Remote::Loaded(report_data());
    both("report", &app);
}

#[test]
fn offline_with_queued_actions() {
    let (_dir, mut app) = showcase();
    app.update(Msg::Connection {
        profile: 0,
        state: desk_tui::ConnectionState::Offline {
            retry_in: Some(std::time::Duration::from_secs(4)),
            last_error: Some("connection refused".into()),
        },
    });
    press(&mut app, "a");
    insta::assert_snapshot!("offline_80x24", draw(&app, 80, 24));
}

#[test]
fn no_color_still_tells_every_state_in_words() {
    let (_dir, app) = showcase();
    let screen = draw(&app, 160, 48);
    for words in [
        "needs approval",
        "held:",
        "failed:",
        "delivered",
        "needs a person",
        "closed",
    ] {
        // (Resolved rows are not in the default view; keys.rs covers the resolved filter.)
        assert!(screen.contains(words), "{words} missing:\n{screen}");
    }
}

#[test]
fn a_refused_certificate_is_one_line_and_plain_http_off_loopback_is_marked() {
    let (_dir, mut app) = showcase();
    let problem = "TLS certificate of https://relay.example refused: the certificate has expired";
    app.update(Msg::Connection {
        profile: 0,
        state: desk_tui::ConnectionState::Offline {
            retry_in: Some(std::time::Duration::from_secs(30)),
            last_error: Some(problem.into()),
        },
    });
    let screen = draw(&app, 160, 48);
    let lines: Vec<&str> = screen.lines().filter(|l| l.contains(problem)).collect();
    assert_eq!(lines.len(), 1, "{screen}");
    assert!(screen.contains("reconnecting in 30s"), "{screen}");
    assert!(!screen.contains("not encrypted"), "{screen}");

    app.profiles[0].unencrypted = true;
    let screen = draw(&app, 160, 48);
    assert!(
        screen
            .lines()
            .next()
            .is_some_and(|header| header.contains("⚠ not encrypted")),
        "{screen}"
    );
}

#[test]
fn private_notes_are_written_in_the_composer_and_shown_apart() {
    let mut e = desk_tui::fixtures::Events::new("t-sari");
    let m = |minutes: i64| NOW.plus(-minutes * protocol::Millis::MINUTE);
    e.message(
        "wa-siti",
        protocol::Channel::WhatsApp,
        "Siti Aminah",
        "Kak, pesanan R-1042 kapan sampai?",
        m(30),
    );
    e.note(
        "wa-siti",
        "budi",
        "Called the courier: it leaves Jogja tonight.",
        m(20),
    );
    e.note(
        "wa-siti",
        "ayu",
        "Tell her tomorrow noon, not earlier.",
        m(10),
    );
    let (_dir, mut app) = app_with(&e.take());
    app.update(code(KeyCode::Enter));
    press(&mut app, "N");
    press(&mut app, "Resi JN0001");
    both("notes", &app);
    let effects = app.update(ctrl('s'));
    let notes: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Submit {
                command: protocol::Command::AddNote { text, .. },
                ..
            } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(notes, ["Resi JN0001"]);
}

/// The showcase inbox with two account-level @mentions among the rows, and the detail
/// pane of the comment mention, reached with the keys that open a thread.
#[test]
fn an_account_mention_is_a_row_of_its_own_and_opens_a_detail_pane() {
    let (_dir, mut app) = app_with(&fixtures::showcase_with_mentions());
    assert_eq!(app.inbox.mentions(), 2);
    both("inbox_mentions", &app);
    let position = (0..app.inbox.visible_len())
        .find(|&i| {
            app.inbox
                .visible_at(i)
                .and_then(|e| e.mention())
                .is_some_and(|m| m.in_comment())
        })
        .expect("the comment mention is listed");
    app.selected = position;
    app.update(code(KeyCode::Enter));
    both("mention_detail", &app);
    // Thread actions are refused in words, and nothing goes to the relay.
    let effects = press(&mut app, "racx");
    assert!(
        effects.iter().all(|e| !matches!(e, Effect::Submit { .. })),
        "{effects:?}"
    );
    assert_eq!(
        app.flash.as_deref(),
        Some("a mention is read-only here: reply on Instagram")
    );
}
