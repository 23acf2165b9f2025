//! The canned-reply picker, drawn over the lower part of the screen like the template
//! picker: what is typed, the matching replies (shortcut and title), and the chosen one's
//! text as the customer would read it.

use super::theme::Theme;
use crate::app::{App, CannedPicker, Remote};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(app: &App, picker: &CannedPicker, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let inner = super::composer::picker_box(
        app,
        picker.profile,
        &picker.thread,
        "Canned reply",
        10,
        theme,
        frame,
        area,
    );
    let mut lines = vec![Line::from(vec![
        Span::styled("find: ", theme.dim()),
        Span::raw(picker.query.clone()),
        Span::raw("█"),
    ])];
    let list = app.canned_of(picker.profile);
    match app.canned.get(&picker.profile) {
        Some(Remote::Failed(e)) => {
            lines.push(Line::styled(
                format!("canned replies could not be listed: {e}"),
                theme.error(),
            ));
        }
        Some(Remote::Loading) if list.is_empty() => {
            lines.push(Line::styled("loading canned replies…", theme.dim()));
        }
        _ if list.is_empty() => lines.push(Line::styled(
            "No canned replies yet. An owner adds them on the settings screen (:canned set).",
            theme.dim(),
        )),
        _ if picker.matches.is_empty() => lines.push(Line::styled("nothing matches", theme.dim())),
        _ => {
            // Leave room for the chosen text under the list.
            let room = usize::from(inner.height.saturating_sub(4)).max(1);
            let first = picker.selected.saturating_sub(room.saturating_sub(1));
            for (i, &index) in picker.matches.iter().enumerate().skip(first).take(room) {
                let Some(line) = list.get(index) else {
                    continue;
                };
                let current = i == picker.selected;
                let mark = if current { "▸" } else { " " };
                let style = if current { theme.focus() } else { theme.dim() };
                lines.push(Line::from(vec![
                    Span::styled(format!("{mark} /{:<12} ", line.shortcut), style),
                    Span::raw(line.title.clone()),
                ]));
            }
            if let Some(line) = picker
                .matches
                .get(picker.selected)
                .and_then(|&i| list.get(i))
            {
                let customer = app
                    .inbox
                    .get(picker.profile, &picker.thread)
                    .and_then(|e| e.thread())
                    .map(|r| crate::app::customer_name(&r.customer))
                    .unwrap_or_default();
                lines.push(Line::styled("inserted as:", theme.dim()));
                lines.push(Line::styled(
                    crate::app::fill_canned(line, &customer),
                    theme.ours(),
                ));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
