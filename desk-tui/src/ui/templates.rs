//! The WhatsApp template picker, drawn over the lower part of the screen like the composer:
//! the channel's templates with the chosen one's body, then its placeholders being filled
//! and a preview of the exact text the customer will read.

use super::theme::Theme;
use crate::app::{App, Remote, TemplatePicker};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(app: &App, picker: &TemplatePicker, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    // Half the screen: the conversation above stays readable while filling.
    let inner = super::composer::picker_box(
        app,
        picker.profile,
        &picker.thread,
        "WhatsApp template",
        12,
        theme,
        frame,
        area,
    );
    let mut lines = Vec::new();
    if let Some(reason) = &picker.reason {
        lines.push(Line::styled(reason.clone(), theme.warn()));
    }
    match (&picker.list, &picker.fill) {
        (_, Some(fill)) => {
            lines.push(Line::from(vec![
                Span::styled(fill.template.name.clone(), theme.title()),
                Span::styled(format!("  {}", fill.template.language), theme.dim()),
            ]));
            if fill.names.is_empty() {
                lines.push(Line::styled("no placeholders to fill", theme.dim()));
            }
            for (i, (name, value)) in fill.names.iter().zip(&fill.values).enumerate() {
                let current = i == fill.field;
                let mark = if current { "▸" } else { " " };
                let mut spans = vec![
                    Span::styled(format!("{mark} {{{{{name}}}}} "), theme.focus()),
                    Span::raw(value.clone()),
                ];
                if current {
                    spans.push(Span::raw("█"));
                } else if value.trim().is_empty() {
                    spans.push(Span::styled("(empty)", theme.dim()));
                }
                lines.push(Line::from(spans));
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled("The customer will read:", theme.dim()));
            lines.push(Line::styled(fill.preview(), theme.ours()));
        }
        (Remote::Loaded(list), None) if list.is_empty() => lines.push(Line::styled(
            "This WhatsApp account has no templates. Create one in WhatsApp Manager; Meta must approve it before it can be sent.",
            theme.dim(),
        )),
        (Remote::Loaded(list), None) => {
            return draw_list(picker, list, lines, theme, frame, inner);
        }
        (Remote::Failed(e), None) => {
            lines.push(Line::styled(format!("templates could not be listed: {e}"), theme.error()));
        }
        (Remote::Loading | Remote::NotLoaded, None) => {
            lines.push(Line::styled("asking Meta for this number's templates…", theme.dim()));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// The list on the left (or on top when narrow), the selected template's body beside it.
fn draw_list(
    picker: &TemplatePicker,
    list: &[crate::remote::TemplateLine],
    head: Vec<Line<'static>>,
    theme: &Theme,
    frame: &mut Frame<'_>,
    inner: Rect,
) {
    let head = Paragraph::new(head).wrap(Wrap { trim: false });
    let head_rows = u16::try_from(head.line_count(inner.width)).unwrap_or(u16::MAX);
    let [head_area, rest] =
        Layout::vertical([Constraint::Length(head_rows), Constraint::Min(1)]).areas(inner);
    frame.render_widget(head, head_area);
    let wide = rest.width >= 100;
    let [list_area, body_area] = if wide {
        Layout::horizontal([Constraint::Length(48), Constraint::Min(1)]).areas(rest)
    } else {
        let rows = u16::try_from(list.len())
            .unwrap_or(u16::MAX)
            .min(rest.height / 2)
            .max(1);
        Layout::vertical([Constraint::Length(rows), Constraint::Min(1)]).areas(rest)
    };
    // Keep the cursor on screen in a long list.
    let room = usize::from(list_area.height.max(1));
    let first = picker.selected.saturating_sub(room - 1);
    let rows: Vec<Line> = list
        .iter()
        .enumerate()
        .skip(first)
        .take(room)
        .map(|(i, t)| {
            let mark = if i == picker.selected { "▸" } else { " " };
            let text = format!(
                "{mark} {} · {} · {}",
                t.name,
                t.language,
                t.category.to_lowercase()
            );
            if !t.sendable {
                Line::styled(format!("{text} · not approved"), theme.dim())
            } else if i == picker.selected {
                Line::styled(text, theme.selected())
            } else {
                Line::raw(text)
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(rows), list_area);
    if let Some(t) = list.get(picker.selected) {
        let count = t.placeholders().len();
        let body = vec![
            Line::styled(
                format!(
                    "{count} placeholder{} to fill",
                    if count == 1 { "" } else { "s" }
                ),
                theme.dim(),
            ),
            Line::raw(t.body.clone()),
        ];
        let area = if wide {
            Rect {
                x: body_area.x + 1,
                width: body_area.width.saturating_sub(1),
                ..body_area
            }
        } else {
            body_area
        };
        frame.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), area);
    }
}
