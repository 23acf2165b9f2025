//! Key sequences → state, for every default key and the composer's.

use super::*;
use desk_tui::app::keymap::{Action, Keymap};
use desk_tui::app::{ComposeKind, Input, Overlay, Pane, Screen, Target};
use desk_tui::model::inbox::Filter;
use protocol::{Command, ReplyContent, Seq, ThreadId};

fn selected(app: &App) -> String {
    app.selected_thread().unwrap().1.as_str().to_owned()
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

/// The showcase's rows in urgency order (see `fixtures::showcase`).
const ORDER: [&str; 8] = [
    "ig-rina", "ig-budi", "ig-dewi", "wa-siti", "ig-img", "ig-quiet", "cmt-1", "ig-old",
];

#[test]
fn j_k_g_and_shift_g_move_the_cursor() {
    let (_dir, mut app) = showcase();
    assert_eq!(selected(&app), ORDER[0]);
    press(&mut app, "jj");
    assert_eq!(selected(&app), ORDER[2]);
    press(&mut app, "k");
    assert_eq!(selected(&app), ORDER[1]);
    press(&mut app, "G");
    assert_eq!(selected(&app), ORDER[7]);
    press(&mut app, "j");
    assert_eq!(selected(&app), ORDER[7], "the bottom stays the bottom");
    press(&mut app, "g");
    assert_eq!(selected(&app), ORDER[0]);
    press(&mut app, "k");
    assert_eq!(selected(&app), ORDER[0], "the top stays the top");
}

#[test]
fn enter_opens_and_marks_read_esc_goes_back() {
    let (_dir, mut app) = showcase();
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Thread);
    assert_eq!(app.open.as_ref().unwrap().thread, ThreadId::new("ig-rina"));
    let commands = submitted(&effects);
    assert!(
        matches!(commands.as_slice(), [Command::MarkRead { .. }]),
        "{commands:?}"
    );
    assert_eq!(
        app.pending.len(),
        1,
        "the read receipt is pending until acked"
    );
    app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Inbox);
    assert!(app.open.is_none());
}

#[test]
fn tab_cycles_the_panes() {
    let (_dir, mut app) = showcase();
    app.update(code(KeyCode::Enter));
    assert_eq!(app.pane, Pane::Conversation);
    app.update(code(KeyCode::Tab));
    assert_eq!(app.pane, Pane::Context);
    app.update(code(KeyCode::Tab));
    assert_eq!(app.pane, Pane::List);
    // In the list pane, j moves to the next thread and opens it.
    press(&mut app, "j");
    assert_eq!(app.open.as_ref().unwrap().thread, ThreadId::new(ORDER[1]));
}

/// Two unread threads, for read receipts.
fn two_unread() -> (TempDir, App) {
    let mut e = fixtures::Events::new("t-sari");
    e.message("th-a", protocol::Channel::InstagramDm, "ana", "halo", NOW);
    e.message(
        "th-b",
        protocol::Channel::InstagramDm,
        "budi",
        "halo juga",
        NOW,
    );
    app_with(&e.take())
}

/// The read receipts among `effects`, with their local ids.
fn read_receipts(effects: &[Effect]) -> Vec<(u64, ThreadId)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Submit {
                local,
                command: Command::MarkRead { thread, .. },
                ..
            } => Some((*local, thread.clone())),
            _ => None,
        })
        .collect()
}

/// The relay applies the command submitted as `local`.
fn ack(app: &mut App, local: u64, key: &str) {
    let key = protocol::CommandKey::new(key);
    app.update(Msg::Submitted {
        local,
        result: Ok(key.clone()),
    });
    app.update(Msg::Answered {
        profile: 0,
        key,
        answer: protocol::Answer::Applied { seq: Seq(99) },
    });
}

#[test]
fn moving_in_the_list_pane_sends_the_next_threads_read_receipt() {
    let (_dir, mut app) = two_unread();
    let effects = app.update(code(KeyCode::Enter));
    let [(first_local, first)] = &read_receipts(&effects)[..] else {
        panic!("{effects:?}")
    };
    ack(&mut app, *first_local, "k-first");
    app.update(code(KeyCode::Tab));
    app.update(code(KeyCode::Tab));
    assert_eq!(app.pane, Pane::List);
    let effects = press(&mut app, "j");
    let second = app.open.as_ref().unwrap().thread.clone();
    assert_ne!(&second, first);
    let receipts = read_receipts(&effects);
    assert_eq!(
        receipts.iter().map(|(_, t)| t).collect::<Vec<_>>(),
        [&second],
        "{effects:?}"
    );
    ack(&mut app, receipts[0].0, "k-second");
    assert!(app.pending.is_empty(), "{:?}", app.pending);
}

#[test]
fn replying_or_editing_from_the_inbox_sends_the_read_receipt() {
    let (_dir, mut app) = two_unread();
    let thread = app.selected_thread().unwrap().1;
    let effects = press(&mut app, "r");
    assert!(matches!(app.input, Input::Composer(_)));
    let receipts = read_receipts(&effects);
    assert_eq!(
        receipts.iter().map(|(_, t)| t).collect::<Vec<_>>(),
        [&thread],
        "{effects:?}"
    );
    ack(&mut app, receipts[0].0, "k-r");
    assert!(app.pending.is_empty(), "{:?}", app.pending);

    // The showcase's top row has a draft to edit, and is unread.
    let (_dir, mut app) = showcase();
    let effects = press(&mut app, "e");
    assert!(matches!(app.input, Input::Composer(_)));
    assert_eq!(read_receipts(&effects).len(), 1, "{effects:?}");
}

#[test]
fn slash_searches_as_you_type_and_esc_clears() {
    let (_dir, mut app) = showcase();
    press(&mut app, "/siti");
    assert!(matches!(app.input, Input::Search(_)));
    assert_eq!(app.inbox.visible_len(), 1);
    assert_eq!(selected(&app), "wa-siti");
    app.update(code(KeyCode::Enter));
    assert!(matches!(app.input, Input::Normal));
    assert_eq!(app.search, "siti", "Enter keeps the search");
    press(&mut app, "/");
    app.update(code(KeyCode::Esc));
    assert_eq!(app.search, "");
    assert_eq!(app.inbox.visible_len(), 8);
}

#[test]
fn f_cycles_filters_and_the_command_line_picks_one() {
    let (_dir, mut app) = showcase();
    press(&mut app, "f");
    assert_eq!(app.filter, Filter::NeedsApproval);
    let mut listed: Vec<String> = app
        .inbox
        .visible()
        .map(|e| e.id().as_str().to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["ig-rina", "wa-siti"]);
    press(&mut app, ":filter resolved");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.filter, Filter::Resolved);
    assert_eq!(selected(&app), "ig-done");
    press(&mut app, ":filter comments");
    app.update(code(KeyCode::Enter));
    assert_eq!(selected(&app), "cmt-1");
    press(&mut app, ":filter nonsense");
    app.update(code(KeyCode::Enter));
    assert!(app.flash.as_deref().unwrap().starts_with("filters:"));
}

#[test]
fn s_switches_the_sort() {
    let (_dir, mut app) = showcase();
    press(&mut app, "s");
    assert_eq!(selected(&app), "ig-rina", "the cursor stays on its thread");
    press(&mut app, "g");
    // Newest message first: the image from five minutes ago.
    assert_eq!(selected(&app), "ig-img");
    press(&mut app, "s");
    press(&mut app, "g");
    assert_eq!(selected(&app), ORDER[0]);
}

#[test]
fn n_jumps_to_drafts_awaiting_approval_first_then_by_deadline() {
    let (_dir, mut app) = showcase();
    press(&mut app, "G");
    press(&mut app, "n");
    assert_eq!(
        app.open.as_ref().unwrap().thread,
        ThreadId::new("ig-rina"),
        "nearest-deadline draft"
    );
    press(&mut app, "n");
    assert_eq!(
        app.open.as_ref().unwrap().thread,
        ThreadId::new("wa-siti"),
        "the other draft"
    );
}

#[test]
fn a_approves_the_current_draft_version() {
    let (_dir, mut app) = showcase();
    let effects = press(&mut app, "a");
    assert_eq!(
        submitted(&effects),
        [Command::ApproveDraft {
            thread: ThreadId::new("ig-rina"),
            version: 1
        }]
    );
    press(&mut app, "j");
    press(&mut app, "a");
    assert_eq!(
        app.flash.as_deref(),
        Some("there is no draft to approve; r writes your own reply")
    );
}

#[test]
fn e_edits_inline_and_ctrl_s_saves_then_approves_the_new_version() {
    let (_dir, mut app) = showcase();
    press(&mut app, "e");
    let Input::Composer(c) = &app.input else {
        panic!("no composer")
    };
    assert_eq!(c.kind, ComposeKind::Draft { base: 1, next: 2 });
    assert!(c.text().starts_with("Halo kak Rina!"));
    press(&mut app, " q");
    assert!(!app.quit, "a bare q in the composer is text");
    let effects = app.update(ctrl('s'));
    let commands = submitted(&effects);
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(
        matches!(&commands[0], Command::EditDraft { base_version: 1, text, .. } if text.ends_with("Mau dipesan? q"))
    );
    assert_eq!(
        commands[1],
        Command::ApproveDraft {
            thread: ThreadId::new("ig-rina"),
            version: 2
        }
    );
    assert!(matches!(app.input, Input::Normal));
}

#[test]
fn ctrl_w_saves_the_edit_without_sending() {
    let (_dir, mut app) = showcase();
    press(&mut app, "e!");
    let commands = submitted(&app.update(ctrl('w')));
    assert!(
        matches!(commands.as_slice(), [Command::EditDraft { .. }]),
        "{commands:?}"
    );
}

#[test]
fn capital_e_opens_the_external_editor_and_its_text_comes_back() {
    let (_dir, mut app) = showcase();
    let effects = press(&mut app, "E");
    // Opening the unread thread from the inbox sends its read receipt first.
    assert!(
        matches!(&effects[..], [Effect::Submit { command: Command::MarkRead { .. }, .. }, Effect::FetchCanned { profile: 0 }, Effect::Editor { text }] if text.starts_with("Halo kak Rina!")),
        "{effects:?}"
    );
    app.update(Msg::EditorDone(Ok("Dari editor".into())));
    let Input::Composer(c) = &app.input else {
        panic!("no composer")
    };
    assert_eq!(c.text(), "Dari editor");
    app.update(Msg::EditorDone(Err("vi: not found".into())));
    assert!(app.flash.as_deref().unwrap().contains("vi: not found"));
}

#[test]
fn r_replies_and_comments_choose_public_or_private() {
    let (_dir, mut app) = showcase();
    press(&mut app, "jr");
    press(&mut app, "Kami cek dulu ya");
    let commands = submitted(&app.update(ctrl('s')));
    assert_eq!(
        commands,
        [Command::SendReply {
            thread: ThreadId::new("ig-budi"),
            text: "Kami cek dulu ya".into()
        }]
    );
    app.update(code(KeyCode::Esc));

    press(&mut app, ":filter comments");
    app.update(code(KeyCode::Enter));
    press(&mut app, "r");
    let Input::Composer(c) = &app.input else {
        panic!("no composer")
    };
    assert_eq!(c.kind, ComposeKind::Reply(Target::PublicReply));
    press(&mut app, "Yes!");
    app.update(ctrl('t'));
    let commands = submitted(&app.update(ctrl('s')));
    assert_eq!(
        commands,
        [Command::SendMessage {
            thread: ThreadId::new("cmt-1"),
            content: ReplyContent::PrivateReply {
                text: "Yes!".into()
            },
            reply_to: None
        }]
    );
}

#[test]
fn the_composer_refuses_empty_and_too_long_replies() {
    let (_dir, mut app) = showcase();
    press(&mut app, "jr");
    assert!(submitted(&app.update(ctrl('s'))).is_empty());
    assert_eq!(app.flash.as_deref(), Some("the reply is empty"));
    app.update(Msg::Paste("x".repeat(1001)));
    assert!(submitted(&app.update(ctrl('s'))).is_empty());
    assert_eq!(
        app.flash.as_deref(),
        Some("1 characters too long for this channel")
    );
}

#[test]
fn d_discards_the_draft() {
    let (_dir, mut app) = showcase();
    let commands = submitted(&press(&mut app, "d"));
    assert_eq!(
        commands,
        [Command::DiscardDraft {
            thread: ThreadId::new("ig-rina"),
            version: 1
        }]
    );
}

#[test]
fn c_claims_or_releases() {
    let (_dir, mut app) = showcase();
    assert_eq!(
        submitted(&press(&mut app, "c")),
        [Command::Claim {
            thread: ThreadId::new("ig-rina")
        }]
    );
    // Dewi's thread is claimed by me (ayu): c releases it.
    press(&mut app, "jj");
    assert_eq!(selected(&app), "ig-dewi");
    assert_eq!(
        submitted(&press(&mut app, "c")),
        [Command::Release {
            thread: ThreadId::new("ig-dewi")
        }]
    );
}

#[test]
fn x_resolves_or_reopens() {
    let (_dir, mut app) = showcase();
    assert_eq!(
        submitted(&press(&mut app, "x")),
        [Command::Resolve {
            thread: ThreadId::new("ig-rina")
        }]
    );
    press(&mut app, ":filter resolved");
    app.update(code(KeyCode::Enter));
    assert_eq!(
        submitted(&press(&mut app, "x")),
        [Command::Reopen {
            thread: ThreadId::new("ig-done")
        }]
    );
}

#[test]
fn h_hides_comments_only() {
    let (_dir, mut app) = showcase();
    assert!(submitted(&press(&mut app, "h")).is_empty());
    assert_eq!(app.flash.as_deref(), Some("only comments can be hidden"));
    press(&mut app, ":filter comments");
    app.update(code(KeyCode::Enter));
    assert_eq!(
        submitted(&press(&mut app, "h")),
        [Command::HideComment {
            thread: ThreadId::new("cmt-1"),
            comment_id: "c-1".into(),
            hidden: true
        }]
    );
}

#[test]
fn capital_r_and_d_retry_or_give_up_a_failed_reply() {
    let (_dir, mut app) = showcase();
    press(&mut app, "j");
    let retry = submitted(&press(&mut app, "R"));
    let send = match retry.as_slice() {
        [Command::RetrySend { send, .. }] => *send,
        other => panic!("{other:?}"),
    };
    assert!(send > Seq(0));
    assert_eq!(
        submitted(&press(&mut app, "D")),
        [Command::DiscardSend {
            thread: ThreadId::new("ig-budi"),
            send
        }]
    );
    press(&mut app, "g");
    assert!(submitted(&press(&mut app, "R")).is_empty());
    assert_eq!(app.flash.as_deref(), Some("no failed reply to retry"));
}

#[test]
fn u_resumes_drafting_only_where_it_is_paused() {
    let mut e = fixtures::Events::new("t-sari");
    e.message("th", protocol::Channel::InstagramDm, "x", "halo", NOW);
    e.echo("th", protocol::Channel::InstagramDm, "x", "dari app", NOW);
    let (_dir, mut app) = app_with(&e.take());
    assert_eq!(
        submitted(&press(&mut app, "u")),
        [Command::ResumeDrafting {
            thread: ThreadId::new("th")
        }]
    );
    let (_dir2, mut other) = showcase();
    assert!(submitted(&press(&mut other, "u")).is_empty());
}

#[test]
fn capital_s_opens_settings_for_owners_and_enter_switches_auto_send() {
    let (_dir, mut app) = showcase();
    assert_eq!(
        press(&mut app, "S"),
        [
            Effect::FetchSettings { profile: 0 },
            Effect::FetchCanned { profile: 0 }
        ]
    );
    assert_eq!(app.screen, Screen::Settings);
    app.update(Msg::Settings {
        profile: 0,
        result: Ok(screens::settings_data()),
    });
    assert_eq!(
        app.update(code(KeyCode::Enter)),
        [Effect::SetAutoSend {
            profile: 0,
            on: true
        }]
    );
    app.update(code(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Inbox);
    // An agent has no settings screen.
    app.profiles[0].role = desk_tui::app::ProfileRole::Agent;
    assert!(press(&mut app, "S").is_empty());
    assert_eq!(
        app.flash.as_deref(),
        Some("settings are for the owner role")
    );
}

#[test]
fn capital_p_opens_the_report_for_owners_and_partner_viewers_only() {
    let (_dir, mut app) = showcase();
    app.profiles[0].role = desk_tui::app::ProfileRole::Agent;
    assert!(press(&mut app, "P").is_empty());
    assert_eq!(
        app.flash.as_deref(),
        Some("the report is for owners and partner viewers")
    );
    for role in [
        desk_tui::app::ProfileRole::Partner,
        desk_tui::app::ProfileRole::Owner,
    ] {
        app.screen = Screen::Inbox;
        app.profiles[0].role = role;
        assert_eq!(press(&mut app, "P"), [Effect::FetchReport { profile: 0 }]);
        assert_eq!(app.screen, Screen::Report);
    }
}

#[test]
fn question_mark_shows_help_and_any_key_closes_it() {
    let (_dir, mut app) = showcase();
    press(&mut app, "?");
    assert_eq!(app.overlay, Overlay::Help);
    press(&mut app, "j");
    assert_eq!(app.overlay, Overlay::None);
    assert_eq!(
        selected(&app),
        ORDER[0],
        "the closing key does nothing else"
    );
}

#[test]
fn colon_runs_any_action_by_name() {
    let (_dir, mut app) = showcase();
    press(&mut app, ":approve");
    let commands = submitted(&app.update(code(KeyCode::Enter)));
    assert_eq!(
        commands,
        [Command::ApproveDraft {
            thread: ThreadId::new("ig-rina"),
            version: 1
        }]
    );
    press(&mut app, ":bogus");
    app.update(code(KeyCode::Enter));
    assert_eq!(
        app.flash.as_deref(),
        Some("unknown command :bogus (? lists them)")
    );
}

#[test]
fn q_quits_but_ctrl_c_first_cancels_then_asks() {
    let (_dir, mut app) = showcase();
    press(&mut app, "r");
    app.update(ctrl('c'));
    assert!(
        matches!(app.input, Input::Normal),
        "the first ctrl-c leaves the composer"
    );
    assert!(!app.quit);
    app.update(ctrl('c'));
    assert_eq!(app.overlay, Overlay::ConfirmQuit);
    press(&mut app, "n");
    assert_eq!(app.overlay, Overlay::None);
    assert!(!app.quit);
    app.update(ctrl('c'));
    assert_eq!(press(&mut app, "y"), [Effect::Quit]);

    let (_dir2, mut other) = showcase();
    assert_eq!(press(&mut other, "q"), [Effect::Quit]);
}

#[test]
fn esc_in_the_composer_puts_the_reply_aside_without_sending() {
    let (_dir, mut app) = showcase();
    press(&mut app, "rhalo");
    let effects = app.update(code(KeyCode::Esc));
    assert!(effects.is_empty());
    assert!(matches!(app.input, Input::Normal));
    assert!(app.pending.iter().all(|p| p.label == "mark read"));
}

#[test]
fn rejections_are_shown_in_words_on_the_row() {
    let (_dir, mut app) = showcase();
    let effects = press(&mut app, "a");
    let local = match &effects[..] {
        [Effect::Submit { local, .. }] => *local,
        other => panic!("{other:?}"),
    };
    let key = protocol::CommandKey::new("k-1");
    app.update(Msg::Submitted {
        local,
        result: Ok(key.clone()),
    });
    assert!(
        draw(&app, 80, 24).contains("⧗ approve…"),
        "pending until acked"
    );
    app.update(Msg::Answered {
        profile: 0,
        key,
        answer: protocol::Answer::Rejected {
            rejection: protocol::Rejection::NoCredits,
        },
    });
    assert!(app.pending.is_empty());
    let screen = draw(&app, 160, 48);
    assert!(
        screen.contains("✗ approve refused: no reply credits left"),
        "{screen}"
    );
}

#[test]
fn an_answer_that_overtakes_its_submission_is_not_lost() {
    let (_dir, mut app) = showcase();
    let effects = press(&mut app, "a");
    let [Effect::Submit { local, .. }] = &effects[..] else {
        panic!()
    };
    let key = protocol::CommandKey::new("k-2");
    app.update(Msg::Answered {
        profile: 0,
        key: key.clone(),
        answer: protocol::Answer::Rejected {
            rejection: protocol::Rejection::OutsideWindow {
                reason: "the window closed".into(),
            },
        },
    });
    app.update(Msg::Submitted {
        local: *local,
        result: Ok(key),
    });
    assert!(app.pending.is_empty());
    assert!(
        app.notices
            .values()
            .any(|n| n.contains("the window closed"))
    );
}

#[test]
fn keys_are_configurable() {
    let overrides = [
        ("approve".to_owned(), "y".to_owned()),
        ("quit".to_owned(), "ctrl-q".to_owned()),
    ]
    .into_iter()
    .collect();
    let keymap = Keymap::with_overrides(&overrides).unwrap();
    let (_dir, mut app) = showcase();
    app.keymap = keymap;
    assert!(
        submitted(&press(&mut app, "a")).is_empty(),
        "a no longer approves"
    );
    assert_eq!(submitted(&press(&mut app, "y")).len(), 1);
    assert!(press(&mut app, "q").is_empty());
    assert_eq!(app.update(ctrl('q')), [Effect::Quit]);
    assert_eq!(app.keymap.hint(Action::Approve), "y");
    let clash = [
        ("approve".to_owned(), "x".to_owned()),
        ("resolve".to_owned(), "x".to_owned()),
    ]
    .into_iter()
    .collect();
    assert!(
        Keymap::with_overrides(&clash)
            .unwrap_err()
            .contains("bound to both")
    );
    let unknown = [("fly".to_owned(), "z".to_owned())].into_iter().collect();
    assert!(
        Keymap::with_overrides(&unknown)
            .unwrap_err()
            .contains("unknown action")
    );
}

#[test]
fn new_events_update_rows_and_the_open_thread_and_ring_when_asked() {
    let mut e = fixtures::Events::new("t-sari");
    e.message("th", protocol::Channel::InstagramDm, "rina", "halo", NOW);
    let (_d, mut app) = app_with(&e.take());
    app.bell = true;
    app.update(code(KeyCode::Enter));
    // A second message arrives in the same replica.
    let mut more = fixtures::Events::new("t-sari");
    more.message("th", protocol::Channel::InstagramDm, "rina", "skip", NOW);
    more.message(
        "th",
        protocol::Channel::InstagramDm,
        "rina",
        "masih ada?",
        NOW,
    );
    let mut events = more.take();
    events.remove(0);
    let replica = app.profiles[0].replica.clone().unwrap();
    replica.apply(&events).unwrap();
    let effects = app.update(Msg::Applied {
        profile: 0,
        cursor: Seq(2),
    });
    assert!(effects.contains(&Effect::Bell));
    assert_eq!(
        app.inbox
            .get(0, &ThreadId::new("th"))
            .unwrap()
            .thread()
            .unwrap()
            .messages,
        2
    );
    assert!(draw(&app, 80, 24).contains("masih ada?"));
}

#[test]
fn a_combined_queue_badges_rows_and_acts_through_each_rows_own_profile() {
    // Two tenants whose thread ids collide: still two rows, each acting for its own tenant.
    let mut a = fixtures::Events::new("t-a");
    a.message(
        "th",
        protocol::Channel::InstagramDm,
        "ana",
        "halo dari A",
        NOW.plus(-60_000),
    );
    a.draft("th", 1, "Halo A", &[], &[], NOW.plus(-60_000));
    let mut b = fixtures::Events::new("t-b");
    b.message(
        "th",
        protocol::Channel::WhatsApp,
        "Budi",
        "halo dari B",
        NOW.plus(-30 * 60_000),
    );
    b.draft("th", 4, "Halo B", &[], &[], NOW.plus(-30 * 60_000));
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let profiles = vec![
        fixtures::profile("a", fixtures::replica(dir_a.path(), &a.take()).unwrap()),
        fixtures::profile("b", fixtures::replica(dir_b.path(), &b.take()).unwrap()),
    ];
    let mut app = App::new(profiles, Keymap::default(), NOW);
    assert!(app.combined());
    assert_eq!(app.inbox.visible_len(), 2);
    let screen = draw(&app, 160, 48);
    assert!(screen.contains("[a]") && screen.contains("[b]"), "{screen}");
    // B's window closes first (its last message is older), so it is on top.
    let effects = press(&mut app, "a");
    assert!(
        matches!(
            &effects[..],
            [Effect::Submit {
                profile: 1,
                command: Command::ApproveDraft { version: 4, .. },
                ..
            }]
        ),
        "{effects:?}"
    );
    let effects = press(&mut app, "ja");
    assert!(
        matches!(
            &effects[..],
            [Effect::Submit {
                profile: 0,
                command: Command::ApproveDraft { version: 1, .. },
                ..
            }]
        ),
        "{effects:?}"
    );
}

#[test]
fn the_reconnect_wait_counts_down_with_the_clock() {
    let (_dir, mut app) = showcase();
    app.update(Msg::Connection {
        profile: 0,
        state: desk_tui::ConnectionState::Offline {
            retry_in: Some(std::time::Duration::from_secs(9)),
            last_error: None,
        },
    });
    assert!(draw(&app, 80, 24).contains("reconnecting in 9s"));
    app.update(Msg::Tick(NOW.plus(5_000)));
    assert!(draw(&app, 80, 24).contains("reconnecting in 4s"));
}

#[test]
fn capital_x_disconnects_the_selected_channel_after_asking() {
    let (_dir, mut app) = showcase();
    press(&mut app, "X");
    assert_eq!(
        app.flash.as_deref(),
        Some("channels are disconnected from the settings screen (S)")
    );
    press(&mut app, "S");
    app.update(Msg::Settings {
        profile: 0,
        result: Ok(screens::settings_data()),
    });
    press(&mut app, "jX");
    assert_eq!(
        app.overlay,
        Overlay::ConfirmDisconnect {
            profile: 0,
            channel: "ch-wa".into(),
            name: "106540352242922".into()
        }
    );
    assert!(draw(&app, 80, 24).contains("Disconnect 106540352242922?"));
    // Anything but y keeps it.
    assert!(press(&mut app, "n").is_empty());
    press(&mut app, "X");
    assert_eq!(
        press(&mut app, "y"),
        [Effect::Disconnect {
            profile: 0,
            channel: "ch-wa".into()
        }]
    );
}

#[test]
fn the_disconnect_question_stays_on_its_channel_when_settings_reload() {
    let (_dir, mut app) = showcase();
    press(&mut app, "S");
    app.update(Msg::Settings {
        profile: 0,
        result: Ok(screens::settings_data()),
    });
    press(&mut app, "jX");
    // The settings come back (say after a reconnect elsewhere) in another order.
    let mut reordered = screens::settings_data();
    reordered.channels.reverse();
    app.update(Msg::Settings {
        profile: 0,
        result: Ok(reordered.clone()),
    });
    assert!(draw(&app, 80, 24).contains("Disconnect 106540352242922?"));
    assert_eq!(
        press(&mut app, "y"),
        [Effect::Disconnect {
            profile: 0,
            channel: "ch-wa".into()
        }]
    );

    // Gone from the settings meanwhile: nothing is disconnected.
    press(&mut app, "X");
    let mut without = reordered;
    without.channels.retain(|c| c.id != "ch-ig");
    app.update(Msg::Settings {
        profile: 0,
        result: Ok(without),
    });
    assert!(press(&mut app, "y").is_empty());
    assert_eq!(app.overlay, Overlay::None);
    assert!(
        app.flash.as_deref().unwrap().contains("no longer"),
        "{:?}",
        app.flash
    );
}

#[test]
fn sigterm_quits_even_from_the_composer() {
    let (_dir, mut app) = showcase();
    press(&mut app, "rhalo");
    assert_eq!(app.update(Msg::Terminate), [Effect::Quit]);
}
