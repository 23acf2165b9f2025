//! The WhatsApp template picker: it opens by itself on a thread only a template can reach,
//! lists the channel's templates, fills placeholders with a preview and sends the relay's
//! template send; screens at 80×24 and 160×48.

use super::*;
use desk_tui::app::{Input, Remote};
use desk_tui::fixtures::Events;
use desk_tui::remote::TemplateLine;
use protocol::{Channel, Command, Millis, ReplyContent};

fn both(name: &str, app: &App) {
    insta::assert_snapshot!(format!("{name}_80x24"), draw(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), draw(app, 160, 48));
}

/// Siti wrote 25 hours ago on WhatsApp: only a template reaches her.
fn closed_window() -> (tempfile::TempDir, App) {
    let mut e = Events::new("t-sari");
    e.message(
        "wa-siti",
        Channel::WhatsApp,
        "Siti Aminah",
        "Kak, pesanan saya sudah dikirim belum?",
        NOW.plus(-25 * Millis::HOUR),
    );
    app_with(&e.take())
}

fn demo_templates() -> Vec<TemplateLine> {
    let t = |name: &str, language: &str, category: &str, body: &str, sendable| TemplateLine {
        name: name.into(),
        language: language.into(),
        category: category.into(),
        body: body.into(),
        sendable,
    };
    vec![
        t(
            "back_in_stock",
            "id",
            "MARKETING",
            "Kabar baik {{1}}! {{2}} sudah ready lagi. Balas pesan ini untuk pesan.",
            true,
        ),
        t(
            "order_shipped",
            "id",
            "UTILITY",
            "Halo {{1}}, pesanan {{2}} sudah dikirim via {{3}}. Nomor resi: {{4}}.",
            true,
        ),
        t(
            "order_shipped",
            "en_US",
            "UTILITY",
            "Hi {{1}}, your order {{2}} has shipped with {{3}}. Tracking number: {{4}}.",
            true,
        ),
        t(
            "payment_reminder",
            "id",
            "UTILITY",
            "Halo {{1}}, pembayaran untuk pesanan {{2}} belum kami terima.",
            false,
        ),
    ]
}

/// `r` on the closed thread: the picker instead of a composer, and the templates asked for.
fn picker_open() -> (tempfile::TempDir, App) {
    let (dir, mut app) = closed_window();
    let effects = press(&mut app, "r");
    let channel = effects
        .iter()
        .find_map(|e| match e {
            Effect::FetchTemplates { channel, .. } => Some(channel.clone()),
            _ => None,
        })
        .expect("the templates are fetched");
    assert_eq!(channel, "ch-wa");
    assert!(
        matches!(app.input, Input::Templates(_)),
        "no composer: {:?}",
        app.input
    );
    app.update(Msg::Templates {
        profile: 0,
        channel,
        result: Ok(demo_templates()),
    });
    (dir, app)
}

fn sent(effects: &[Effect]) -> Vec<ReplyContent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Submit {
                command: Command::SendMessage { content, .. },
                ..
            } => Some(content.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_closed_window_opens_the_picker_and_a_filled_template_is_sent() {
    let (_dir, mut app) = picker_open();
    both("templates_list", &app);
    press(&mut app, "j");
    app.update(code(KeyCode::Enter));
    press(&mut app, "Siti");
    app.update(code(KeyCode::Tab));
    press(&mut app, "R-1042");
    both("templates_fill", &app);
    // Enter on a middle field moves on; on the last one with fields empty it refuses.
    app.update(code(KeyCode::Enter));
    press(&mut app, "JNE");
    app.update(code(KeyCode::Enter));
    let refused = app.update(code(KeyCode::Enter));
    assert!(sent(&refused).is_empty());
    assert_eq!(app.flash.as_deref(), Some("fill {{4}} first"));
    press(&mut app, "JN123");
    let effects = app.update(code(KeyCode::Enter));
    assert_eq!(
        sent(&effects),
        [ReplyContent::Template {
            name: "order_shipped".into(),
            language: "id".into(),
            params: vec!["Siti".into(), "R-1042".into(), "JNE".into(), "JN123".into()],
        }]
    );
    assert!(matches!(app.input, Input::Normal));
}

#[test]
fn unapproved_templates_are_listed_but_not_chosen() {
    let (_dir, mut app) = picker_open();
    press(&mut app, "jjj");
    app.update(code(KeyCode::Enter));
    let Input::Templates(picker) = &app.input else {
        panic!("picker closed");
    };
    assert!(picker.fill.is_none());
    assert!(
        app.flash
            .as_deref()
            .unwrap_or_default()
            .contains("not approved")
    );
    // Esc closes without sending anything.
    let effects = app.update(code(KeyCode::Esc));
    assert!(sent(&effects).is_empty());
    assert!(matches!(app.input, Input::Normal));
}

#[test]
fn backspace_shift_tab_and_paste_edit_the_fields() {
    let (_dir, mut app) = picker_open();
    app.update(code(KeyCode::Enter)); // back_in_stock: two placeholders
    press(&mut app, "Sitx");
    app.update(code(KeyCode::Backspace));
    press(&mut app, "i");
    app.update(code(KeyCode::Tab));
    app.update(Msg::Paste("Batik\nParang".into()));
    app.update(code(KeyCode::BackTab));
    let Input::Templates(picker) = &app.input else {
        panic!("picker closed");
    };
    let fill = picker.fill.as_ref().unwrap();
    assert_eq!(fill.values, ["Siti", "Batik Parang"]);
    assert_eq!(fill.field, 0);
    assert_eq!(
        fill.preview(),
        "Kabar baik Siti! Batik Parang sudah ready lagi. Balas pesan ini untuk pesan."
    );
    let effects = app.update(ctrl('s'));
    assert_eq!(sent(&effects).len(), 1);
}

#[test]
fn t_opens_it_on_whatsapp_only_and_a_failed_listing_says_why() {
    let (_dir, mut app) = showcase();
    // The top row is Rina's Instagram DM.
    press(&mut app, "t");
    assert!(matches!(app.input, Input::Normal));
    assert_eq!(
        app.flash.as_deref(),
        Some("templates are for WhatsApp threads")
    );

    let (_dir, mut app) = closed_window();
    let effects = press(&mut app, "t");
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::FetchTemplates { .. }))
    );
    app.update(Msg::Templates {
        profile: 0,
        channel: "ch-wa".into(),
        result: Err("the relay answered 409: the WhatsApp channel has no waba_id".into()),
    });
    let Input::Templates(picker) = &app.input else {
        panic!("picker closed");
    };
    assert!(matches!(picker.list, Remote::Failed(_)));
    assert!(picker.reason.is_none(), "opened on purpose, no reason line");
    both("templates_failed", &app);
    // An answer for another channel does not land in this picker.
    app.update(Msg::Templates {
        profile: 0,
        channel: "ch-other".into(),
        result: Ok(demo_templates()),
    });
    let Input::Templates(picker) = &app.input else {
        panic!("picker closed");
    };
    assert!(matches!(picker.list, Remote::Failed(_)));
}

#[test]
fn an_open_whatsapp_window_still_gets_the_composer() {
    let (_dir, mut app) = showcase();
    press(&mut app, "/");
    press(&mut app, "siti");
    app.update(code(KeyCode::Enter));
    let effects = press(&mut app, "r");
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::FetchTemplates { .. }))
    );
    assert!(matches!(app.input, Input::Composer(_)));
}
