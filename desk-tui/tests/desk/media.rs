//! Attachments on the thread screen: numbered lines, `o` and its number, OSC 8 links, and
//! inline images drawn where a graphics protocol is (here: forced, with halfblocks standing
//! in for kitty/iTerm2/sixel so the snapshot is plain text).

use super::*;
use desk_tui::app::{ImageSlot, Input, MediaKey};
use desk_tui::fixtures::Events;
use protocol::Channel;
use protocol::Millis;
use protocol::inbound::{Attachment, AttachmentKind};

fn m(minutes: i64) -> Millis {
    NOW.plus(-minutes * Millis::MINUTE)
}

fn attachment(kind: AttachmentKind, url: Option<&str>, id: Option<&str>, name: &str) -> Attachment {
    let mut a = Attachment::new(kind);
    a.url = url.map(str::to_owned);
    a.reference_id = id.map(str::to_owned);
    a.filename = Some(name.to_owned()).filter(|n| !n.is_empty());
    a
}

/// One Instagram thread: a photo, then a message with a file and a like (nothing to
/// fetch), then a second photo: three numbered attachments.
fn three_attachments() -> (TempDir, App) {
    let mut e = Events::new("t1");
    e.attachments(
        "ig-media",
        Channel::InstagramDm,
        "ana.sousa",
        vec![attachment(
            AttachmentKind::Image,
            Some("https://cdn.example/p1.jpg"),
            None,
            "",
        )],
        m(30),
    );
    e.attachments(
        "ig-media",
        Channel::InstagramDm,
        "ana.sousa",
        vec![
            attachment(
                AttachmentKind::File,
                Some("https://cdn.example/f.pdf"),
                None,
                "order.pdf",
            ),
            attachment(AttachmentKind::LikeHeart, None, None, ""),
        ],
        m(20),
    );
    e.attachments(
        "ig-media",
        Channel::InstagramDm,
        "ana.sousa",
        vec![attachment(
            AttachmentKind::Image,
            Some("https://cdn.example/p2.jpg"),
            None,
            "",
        )],
        m(10),
    );
    let (dir, mut app) = app_with(&e.take());
    app.update(code(KeyCode::Enter));
    (dir, app)
}

fn opened(effects: &[Effect]) -> Vec<(MediaKey, usize)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::OpenMedia { key, number } => Some((key.clone(), *number)),
            _ => None,
        })
        .collect()
}

#[test]
fn attachments_are_numbered_across_the_thread_and_o_asks_which() {
    let (_dir, mut app) = three_attachments();
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("[1] image"), "{screen}");
    assert!(screen.contains("[2] file · order.pdf"), "{screen}");
    assert!(screen.contains("[3] image"), "{screen}");
    assert!(screen.contains("[❤]"), "a like stays a note: {screen}");

    // Several: `o` asks; a digit that no further digit could extend opens at once.
    assert!(opened(&press(&mut app, "o")).is_empty());
    assert!(matches!(app.input, Input::PickMedia(_)));
    assert!(draw(&app, 80, 24).contains("open attachment (1–3)"));
    let got = opened(&press(&mut app, "2"));
    assert_eq!(got.len(), 1);
    let (key, number) = &got[0];
    assert_eq!(*number, 2);
    assert_eq!(key.n, 0, "the file is the first attachment of its message");
    assert!(matches!(app.input, Input::Normal));

    // A number out of range is said, and nothing opens; Esc leaves quietly.
    assert!(opened(&press(&mut app, "o7")).is_empty());
    assert!(
        app.flash
            .as_deref()
            .unwrap_or_default()
            .contains("no attachment 7")
    );
    press(&mut app, "o");
    app.update(code(KeyCode::Esc));
    assert!(matches!(app.input, Input::Normal));

    // The command line names one directly.
    press(&mut app, ":");
    press(&mut app, "attachment 3");
    let got = opened(&app.update(code(KeyCode::Enter)));
    assert_eq!(got.iter().map(|(_, n)| *n).collect::<Vec<_>>(), vec![3]);
}

#[test]
fn one_attachment_opens_at_once_and_none_is_said() {
    let mut e = Events::new("t1");
    e.message("wa-2", Channel::WhatsApp, "6289999999999", "halo", m(4));
    let (_dir, mut app) = app_with(&e.take());
    app.update(code(KeyCode::Enter));
    assert!(opened(&press(&mut app, "o")).is_empty());
    assert!(
        app.flash
            .as_deref()
            .unwrap_or_default()
            .contains("no attachment")
    );

    let mut e = Events::new("t1");
    e.attachments(
        "wa-1",
        Channel::WhatsApp,
        "6281234567890",
        vec![attachment(
            AttachmentKind::Audio,
            None,
            Some("media-77"),
            "",
        )],
        m(5),
    );
    let (_dir, mut app) = app_with(&e.take());
    app.update(code(KeyCode::Enter));
    let got = opened(&press(&mut app, "o"));
    assert_eq!(got.len(), 1, "a WhatsApp media id is something to open");
    assert_eq!(got[0].0.n, 0);
}

#[test]
fn attachment_lines_link_to_the_desks_own_server() {
    let (_dir, mut app) = three_attachments();
    app.media_links = Some("http://127.0.0.1:4242/s3cr3t".into());
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|f| ui::view(&app, &Theme { color: false }, f))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let links: Vec<String> = buffer
        .content()
        .iter()
        .map(|c| c.symbol().to_owned())
        .filter(|s| s.starts_with("\x1b]8;;"))
        .collect();
    assert_eq!(links.len(), 3, "{links:?}");
    assert!(
        links[1].starts_with("\x1b]8;;http://127.0.0.1:4242/s3cr3t/0/m-")
            && links[1].ends_with("/0\x1b\\[2] file · order.pdf\x1b]8;;\x1b\\"),
        "{:?}",
        links[1]
    );
    // Without a server there are no links (and the snapshots stay plain).
    app.media_links = None;
    assert!(!draw(&app, 80, 24).contains("\x1b]8"));
}

/// A 200×120 picture (20×6 cells of 10×20 pixels) striped so that every cell's upper half
/// differs from its lower half: halfblocks then draw `▀` in every cell, which the text
/// snapshot shows (same-coloured halves would be drawn as a blank with a background).
fn picture() -> Vec<u8> {
    let img = image::RgbImage::from_fn(200, 120, |_, y| {
        if y % 20 < 10 {
            image::Rgb([200, 0, 0])
        } else {
            image::Rgb([0, 0, 200])
        }
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

#[test]
fn images_are_asked_for_and_drawn_inline_where_the_terminal_can() {
    let (_dir, mut app) = three_attachments();
    // A terminal without a graphics protocol: nothing is fetched, nothing changes.
    assert!(app.images.is_empty());
    let plain = draw(&app, 80, 24);

    app.inline_images = true;
    let effects = app.update(Msg::Tick(app.now));
    let keys: Vec<MediaKey> = effects
        .iter()
        .flat_map(|e| match e {
            Effect::FetchImages { keys } => keys.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(keys.len(), 2, "both photos, not the file: {keys:?}");
    assert!(
        app.update(Msg::Tick(app.now)).is_empty(),
        "asked once, not on every message"
    );
    assert_eq!(draw(&app, 80, 24), plain, "nothing drawn while loading");

    let picker = ratatui_image::picker::Picker::halfblocks();
    let image = desk_tui::media::encode(&picker, &picture(), 20, 6).unwrap();
    app.update(Msg::Image {
        key: keys[1].clone(),
        result: Ok(image),
    });
    app.update(Msg::Image {
        key: keys[0].clone(),
        result: Err("not an image".into()),
    });
    assert!(matches!(app.images.get(&keys[0]), Some(ImageSlot::Failed)));
    insta::assert_snapshot!("thread_inline_image_80x24", draw(&app, 80, 24));
    insta::assert_snapshot!("thread_inline_image_160x48", draw(&app, 160, 48));

    // A resize fits images again: the drawn one is asked for anew, the failed one is not.
    let effects = app.update(Msg::Resize);
    let again: Vec<MediaKey> = effects
        .iter()
        .flat_map(|e| match e {
            Effect::FetchImages { keys } => keys.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(again, vec![keys[1].clone()]);
}
