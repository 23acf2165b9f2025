//! The owner settings screen: auto-send, the reply rules (read-only), connected channels
//! with their state, the unused connect links (made only when the owner asks: `L`, `:link
//! KIND`), and credits.

use super::theme::Theme;
use super::thread::clock;
use crate::app::{App, Remote};
use protocol::Millis;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let tenant = app
        .profiles
        .get(app.settings_profile)
        .map_or("", |p| p.tenant_name.as_str());
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        format!(" Settings · {tenant} "),
        theme.title(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let data = match &app.settings {
        Remote::Loaded(data) => data,
        Remote::NotLoaded | Remote::Loading => {
            frame.render_widget(Paragraph::new(Line::styled("loading…", theme.dim())), inner);
            return;
        }
        Remote::Failed(e) => {
            frame.render_widget(
                Paragraph::new(Line::styled(
                    format!("✗ could not load the settings: {e}"),
                    theme.error(),
                ))
                .wrap(Wrap { trim: false }),
                inner,
            );
            return;
        }
    };
    let label = |s: &str| Span::styled(format!("{s:<14}"), theme.dim());
    let on_off = |on: bool| if on { "● on" } else { "○ off" };
    let mut lines = vec![
        Line::from(vec![
            label("auto-send"),
            Span::styled(
                on_off(data.auto_send),
                if data.auto_send {
                    theme.ok()
                } else {
                    theme.warn()
                },
            ),
            Span::styled(
                "  (Enter switches; only drafts that pass the checks, inside the window)",
                theme.dim(),
            ),
        ]),
        Line::from(vec![
            label("hide comments"),
            Span::raw(on_off(data.hide_comments)),
        ]),
        Line::from(vec![
            label("credits"),
            Span::styled(
                data.credits.to_string(),
                if data.credits > 0 {
                    theme.ok()
                } else {
                    theme.error()
                },
            ),
        ]),
        Line::from(vec![
            label("default reply"),
            Span::raw(data.default_reply.clone().unwrap_or_else(|| "none".into())),
        ]),
        Line::raw(""),
        Line::styled(format!("Reply rules ({})", data.rules.len()), theme.title()),
    ];
    if data.rules.is_empty() {
        lines.push(Line::styled(
            "  none: every message goes to the drafter",
            theme.dim(),
        ));
    }
    for (i, rule) in data.rules.iter().enumerate() {
        let when = match (&rule.intent, rule.keywords.is_empty()) {
            (Some(intent), _) => format!("intent {intent}"),
            (None, false) => format!("keywords {}", rule.keywords.join(", ")),
            (None, true) => "always".into(),
        };
        let what = if let Some(reply) = &rule.reply {
            format!("reply “{}”", crate::model::summary::clip(reply))
        } else if rule.prompt.is_some() {
            "ask the model with an instruction".into()
        } else {
            "no reply".into()
        };
        let mut extra = Vec::new();
        if rule.hide_comment {
            extra.push("hides the comment");
        }
        match rule.auto_send {
            Some(true) => extra.push("auto-sends"),
            Some(false) => extra.push("never auto-sends"),
            None => {}
        }
        let channels = if rule.channels.is_empty() {
            "all channels".to_owned()
        } else {
            rule.channels.join(", ")
        };
        lines.push(Line::raw(format!(
            "  {}. {} — {when} on {channels} → {what}",
            i + 1,
            rule.name
        )));
        if !extra.is_empty() {
            lines.push(Line::styled(
                format!("     {}", extra.join(", ")),
                theme.dim(),
            ));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("Channels ({})", data.channels.len()),
        theme.title(),
    ));
    for (i, channel) in data.channels.iter().enumerate() {
        let name = crate::app::channel_name(channel);
        let cursor = if i == app.settings_selected {
            "▸"
        } else {
            " "
        };
        let (state, style) = if channel.needs_reconnect {
            ("✗ needs reconnecting", theme.error())
        } else {
            ("● connected", theme.ok())
        };
        let last = channel.last_event_at.map_or_else(
            || "no events yet".to_owned(),
            |at| format!("last event {}", clock(Millis(at), app.now)),
        );
        lines.push(Line::from(vec![
            Span::raw(format!("{cursor} {:<10} {name:<24} ", channel.kind)),
            Span::styled(state, style),
            Span::styled(format!("  {last}"), theme.dim()),
        ]));
    }
    lines.push(Line::styled(
        "  j/k select · X disconnects the selected channel",
        theme.dim(),
    ));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Connect a new account: open a link in a browser (single use, expires)",
        theme.title(),
    ));
    if data.connect_links.is_empty() {
        lines.push(Line::styled(
            "  none unused · L makes an Instagram link, :link whatsapp or :link facebook another",
            theme.dim(),
        ));
    }
    for (kind, link) in &data.connect_links {
        match link {
            Ok(url) => lines.push(Line::raw(format!("  {kind:<10} {url}"))),
            Err(why) => lines.push(Line::styled(format!("  {kind:<10} {why}"), theme.dim())),
        }
    }
    canned(app, theme, &mut lines);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// The canned replies as written, and how to change them.
fn canned(app: &App, theme: &Theme, lines: &mut Vec<Line<'static>>) {
    let list = app.canned_of(app.settings_profile);
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("Canned replies ({})", list.len()),
        theme.title(),
    ));
    for line in list {
        lines.push(Line::from(vec![
            Span::styled(format!("  /{:<12} ", line.shortcut), theme.focus()),
            Span::raw(format!("{:<24} ", line.title)),
            Span::styled(crate::model::summary::clip(&line.text), theme.dim()),
        ]));
    }
    lines.push(Line::styled(
        "  :canned set SHORTCUT TITLE | TEXT ({{customer.name}}, {{agent.name}}, {{business.name}}…) · :canned rm SHORTCUT",
        theme.dim(),
    ));
}
