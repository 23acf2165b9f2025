//! Everything the relay stores about a conversation, as the thread view shows it: reactions
//! under the message they react to, edits (previous text on `:edits`), unsends, postbacks and
//! quick-reply payloads, story replies and mentions (the link only while the story lives),
//! referrals, quoted replies and read receipts. At 80×24 and 160×48.

use super::*;
use desk_tui::app::Screen;
use protocol::ThreadId;

fn stored() -> (TempDir, App) {
    app_with(&fixtures::everything_stored())
}

fn open(app: &mut App, thread: &str) {
    let position = app
        .inbox
        .position(0, &ThreadId::new(thread))
        .expect("listed");
    app.selected = position;
    app.update(code(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Thread);
}

fn both(name: &str, app: &App) {
    insta::assert_snapshot!(format!("{name}_80x24"), draw(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), draw(app, 160, 48));
}

fn command(app: &mut App, line: &str) {
    app.update(key(':'));
    press(app, line);
    app.update(code(KeyCode::Enter));
}

#[test]
fn an_instagram_thread_shows_everything_stored() {
    let (_dir, mut app) = stored();
    open(&mut app, "ig-dewi");
    let screen = draw(&app, 160, 48);
    for shown in [
        "(edited, :edits)",
        "❤",
        "👁 read",
        "(unsent by the customer)",
        "tapped a button (CATALOG)",
        "quick reply: SIZE_XL",
        "↩ replied to your story: https://lookaside.example/story/9",
        "@ mentioned you in their story (expired",
        "came from an ig.me link (ref lebaran)",
        "↪ came from the ad «Promo Lebaran»",
        "↩ in reply to «Ada kak, tinggal 2.»",
        "↩ in reply to «Halo kak, ada dress batik ukuran XL?»",
    ] {
        assert!(screen.contains(shown), "{shown:?} missing:\n{screen}");
    }
    // What the customer unsent is not shown.
    assert!(!screen.contains("1234567"), "{screen}");
    both("thread_stored", &app);
}

#[test]
fn edits_show_the_text_before_on_demand() {
    let (_dir, mut app) = stored();
    open(&mut app, "ig-dewi");
    command(&mut app, "edits");
    let screen = draw(&app, 160, 48);
    assert!(
        screen.contains("before: Halo kak, ada dress batik ukuran L?"),
        "{screen}"
    );
    insta::assert_snapshot!("thread_stored_edits_160x48", screen);
    command(&mut app, "edits");
    assert!(!draw(&app, 160, 48).contains("before:"));
}

#[test]
fn a_click_to_whatsapp_referral_is_shown() {
    let (_dir, mut app) = stored();
    open(&mut app, "wa-rudi");
    let screen = draw(&app, 160, 48);
    assert!(
        screen.contains("↪ came from a click-to-WhatsApp ad «Batik Tulis Diskon 20%»")
            && screen.contains("(https://fb.me/3cr4Wqqkv)"),
        "{screen}"
    );
    both("thread_stored_ctwa", &app);
}
