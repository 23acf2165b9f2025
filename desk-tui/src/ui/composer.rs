//! The composer, drawn over the lower part of the screen: the inline editor, what it
//! writes (draft edit, reply, public or private comment reply) and the length left.

use super::theme::Theme;
use crate::app::{App, ComposeKind, Composer, Target};
use crate::model::summary::length_left;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Clear};

pub fn draw(app: &App, composer: &Composer, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let box_area = lower(area, (area.height / 3).max(6));
    let channel = app
        .inbox
        .get(composer.profile, &composer.thread)
        .and_then(|e| e.thread())
        .map(|r| r.channel);
    let text = composer.text();
    let left = if composer.kind == ComposeKind::Note {
        // The relay's limit for notes; no channel ever carries them.
        4096 - i64::try_from(text.chars().count()).unwrap_or(i64::MAX)
    } else {
        channel.map_or(0, |c| length_left(c, &text))
    };
    let what = match composer.kind {
        ComposeKind::Draft { base, next } => format!("edit draft v{base} → v{next}"),
        ComposeKind::Reply(Target::Message) => "your reply".into(),
        ComposeKind::Note => "private note: only your team sees it, never the customer".into(),
        ComposeKind::Reply(t) => format!("{} (ctrl-t switches public/private)", t.label()),
    };
    let left_style = if left < 0 { theme.error() } else { theme.dim() };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focus())
        .title(Span::styled(format!(" {what} "), theme.focus()))
        .title_bottom(Span::styled(format!(" {left} left "), left_style));
    let inner = block.inner(box_area);
    frame.render_widget(Clear, box_area);
    frame.render_widget(block, box_area);
    frame.render_widget(&composer.editor, inner);
}

/// The bottom `height` rows of `area` (all of it when shorter): where the composer and the
/// template picker sit, so the conversation's newest lines stay above them.
pub fn lower(area: Rect, height: u16) -> Rect {
    let height = height.min(area.height);
    Rect {
        y: area.y + area.height - height,
        height,
        ..area
    }
}

/// A picker's framed box over the lower half of `area` (at least `min_height` rows),
/// titled `{what} to {customer}`; answers the inside to draw in.
#[allow(clippy::too_many_arguments)]
pub fn picker_box(
    app: &crate::app::App,
    profile: usize,
    thread: &protocol::ThreadId,
    what: &str,
    min_height: u16,
    theme: &super::theme::Theme,
    frame: &mut ratatui::Frame<'_>,
    area: Rect,
) -> Rect {
    let box_area = lower(area, (area.height / 2).max(min_height));
    let who = app
        .inbox
        .get(profile, thread)
        .and_then(|e| e.thread())
        .map(|r| r.customer.display())
        .unwrap_or_default();
    let block = ratatui::widgets::Block::default()
        .borders(ratatui::widgets::Borders::ALL)
        .border_style(theme.focus())
        .title(ratatui::text::Span::styled(
            format!(" {what} to {who} "),
            theme.focus(),
        ));
    let inner = block.inner(box_area);
    frame.render_widget(ratatui::widgets::Clear, box_area);
    frame.render_widget(block, box_area);
    inner
}
