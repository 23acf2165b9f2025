//! The `?` overlay (every action with its keys and its `:` name) and the quit and disconnect
//! questions.

use super::theme::Theme;
use crate::app::App;
use crate::app::keymap::Action;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    // Two columns always (27 actions fit 24 rows that way); the `:` names need room.
    let with_names = area.width >= 120;
    let entries: Vec<Line> = Action::ALL
        .iter()
        .map(|&action| {
            let keys: Vec<String> = app
                .keymap
                .keys_of(action)
                .iter()
                .map(ToString::to_string)
                .collect();
            let keys = if keys.is_empty() {
                "—".to_owned()
            } else {
                keys.join(" ")
            };
            let mut spans = vec![
                Span::styled(format!("{keys:>7} "), theme.focus()),
                Span::raw(format!("{:<24}", action.help())),
            ];
            if with_names {
                spans.push(Span::styled(
                    format!(" :{:<16}", action.name()),
                    theme.dim(),
                ));
            }
            Line::from(spans)
        })
        .collect();
    let rows = entries.len().div_ceil(2);
    let width = if with_names { 112 } else { 68 };
    // The reply kinds of the `:` line under the keys, where the screen has room for them.
    let kinds = crate::app::compose_kinds::KINDS;
    let with_kinds = with_names && usize::from(area.height) >= rows + kinds.len() + 4;
    let extra = if with_kinds { kinds.len() + 1 } else { 0 };
    let height = u16::try_from(rows + 2 + extra).unwrap_or(u16::MAX);
    let box_area = centered(area, width, height);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Keys · any key closes ", theme.title()))
        .title_bottom(Span::styled(
            " :filter NAME · :sort urgency|newest · :search TEXT · :bell on|off ",
            theme.dim(),
        ));
    let inner = block.inner(box_area);
    frame.render_widget(Clear, box_area);
    frame.render_widget(block, box_area);
    let half = inner.width / 2;
    let (left, right) = entries.split_at(rows);
    if with_kinds {
        let mut lines = vec![Line::styled(
            "reply kinds on the : line (parts split by |):",
            theme.title(),
        )];
        lines.extend(kinds.iter().map(|(verb, what)| {
            Line::from(vec![
                Span::styled(format!("{:>10} ", format!(":{verb}")), theme.focus()),
                Span::raw(*what),
            ])
        }));
        let rows = u16::try_from(rows).unwrap_or(u16::MAX);
        frame.render_widget(
            Paragraph::new(lines),
            Rect {
                y: inner.y + rows,
                height: inner.height.saturating_sub(rows),
                ..inner
            },
        );
    }
    frame.render_widget(
        Paragraph::new(left.to_vec()),
        Rect {
            width: half,
            ..inner
        },
    );
    frame.render_widget(
        Paragraph::new(right.to_vec()),
        Rect {
            x: inner.x + half,
            width: inner.width - half,
            ..inner
        },
    );
}

pub fn confirm_quit(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let queued = app.queued();
    let mut lines = vec![Line::raw("Quit the desk? y quits, any other key stays.")];
    if queued > 0 {
        lines.push(Line::styled(
            format!("{queued} action(s) wait for the relay; they are kept and sent next time."),
            theme.warn(),
        ));
    }
    let box_area = centered(area, 70, 4 + u16::from(queued > 0));
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Quit? ")),
        box_area,
    );
}

pub fn confirm_disconnect(name: &str, frame: &mut Frame<'_>, area: Rect) {
    // The name on a line of its own: a long one must not push the rest off the box.
    let lines = vec![
        Line::raw(format!("Disconnect {name}?")),
        Line::raw("Its token and webhook subscription are removed; past conversations stay."),
        Line::raw("y disconnects, any other key keeps it."),
    ];
    let box_area = centered(area, 76, 5);
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Disconnect? "),
        ),
        box_area,
    );
}
