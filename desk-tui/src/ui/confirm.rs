//! The question after the relay held a reply of ours: what it found, and whether to send it
//! as it is (`y`) or keep it unsent (any other key).

use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub fn draw(reasons: &[String], theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let mut lines = vec![Line::raw("The safety check held this reply. It found:")];
    lines.extend(
        reasons
            .iter()
            .map(|r| Line::styled(format!(" • {r}"), theme.warn())),
    );
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("y", theme.focus()),
        Span::raw(" sends it as it is · any other key keeps it unsent"),
    ]));
    let width = area.width.min(76);
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .saturating_add(
            u16::try_from(
                reasons
                    .iter()
                    .map(|r| r.chars().count() / 70)
                    .sum::<usize>(),
            )
            .unwrap_or(0),
        )
        .min(area.height);
    let box_area = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Send anyway? "),
        ),
        box_area,
    );
}
