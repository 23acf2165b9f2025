//! The mention screen: what an account-level @mention says (post or comment, their ids,
//! the channel, when) and what an agent can do about it, with the list beside it when
//! there is room. It offers no action: the relay has no send for mentions and no command
//! about them, so the pane says to answer on Instagram rather than pretend.

use super::inbox;
use super::theme::Theme;
use super::thread::{clock, full_time};
use crate::app::{App, Pane};
use crate::model::mention::MentionRow;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub fn draw(app: &App, row: &MentionRow, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    if area.width >= 110 {
        let [list, detail] =
            Layout::horizontal([Constraint::Length(44), Constraint::Fill(1)]).areas(area);
        inbox::list(app, theme, frame, list, false, true);
        pane(app, row, theme, frame, detail);
    } else if app.pane == Pane::List {
        inbox::list(app, theme, frame, area, false, false);
    } else {
        pane(app, row, theme, frame, area);
    }
}

fn pane(app: &App, row: &MentionRow, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let style = if app.pane == Pane::List {
        theme.title()
    } else {
        theme.focus()
    };
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        format!(" @ mention · Instagram · {} ", row.place()),
        style,
    ));
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("  {name:<9} "), theme.dim()),
            Span::raw(value),
        ])
    };
    let unknown = || "not given by Meta".to_owned();
    let mut lines = vec![
        Line::raw(if row.in_comment() {
            "Someone @mentioned your Instagram account in a comment on a post."
        } else {
            "Someone @mentioned your Instagram account in a post's caption."
        }),
        Line::styled(
            "Meta's notice names the post and the comment only: not who wrote it, nor the text.",
            theme.dim(),
        ),
        Line::raw(""),
        field(
            "when",
            format!(
                "{}; reached the relay {}",
                full_time(row.occurred_at),
                clock(row.received_at, row.occurred_at)
            ),
        ),
        field(
            "where",
            if row.in_comment() {
                "a comment".into()
            } else {
                "a caption".into()
            },
        ),
        field("post", row.media_id.clone().unwrap_or_else(unknown)),
    ];
    if let Some(comment) = &row.comment_id {
        lines.push(field("comment", comment.clone()));
    }
    lines.push(field(
        "channel",
        format!("Instagram, channel {}", row.channel_id),
    ));
    lines.push(Line::raw(""));
    lines.push(Line::styled("What you can do", theme.title()));
    if row.in_comment() {
        lines.push(Line::raw(
            "  Reply on Instagram. Meta's mentions API lets the business answer a comment \
             that mentions it, but this relay has no such send: the desk cannot reply here.",
        ));
    } else {
        lines.push(Line::raw(
            "  Comment on the post on Instagram. Meta's mentions API lets the business \
             comment on media whose caption mentions it, but this relay has no such send: \
             the desk cannot answer here.",
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Read-only: the desk cannot mark a mention handled, so it stays under the open, \
         comments and mentions filters (f). Esc goes back.",
        theme.dim(),
    ));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}
