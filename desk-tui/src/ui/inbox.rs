//! The inbox: one row per thread, most urgent window first, and one per account-level
//! @mention (`@IG`, its time where a thread shows its window).

use super::theme::Theme;
use crate::app::App;
use crate::model::inbox::{Entry, Row as InboxRow, Sort};
use crate::model::mention::MentionRow;
use crate::model::status::{RowStatus, WindowInfo, channel_tag};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

/// What a row's status column says: a pending action or a refusal wins over the state.
pub fn status_cell(app: &App, entry: &Entry, theme: &Theme, compact: bool) -> (String, Style) {
    if let Some(p) = app.pending_for(entry.profile, entry.id()).last() {
        return (format!("⧗ {}…", p.label), theme.focus());
    }
    if let Some(notice) = app.notices.get(&(entry.profile, entry.id().clone())) {
        return (format!("✗ {notice}"), theme.error());
    }
    let row = match &entry.row {
        InboxRow::Thread(row) => row,
        // Where a thread says its state, a mention says what it is about: which comment
        // (else which post) in the list, and what to do on the wide one.
        InboxRow::Mention(m) => {
            let words = match (compact, &m.comment_id, &m.media_id) {
                (true, _, _) => "@ mention".to_owned(),
                (false, Some(comment), _) => format!("@ comment {comment}"),
                (false, None, Some(media)) => format!("@ post {media}"),
                (false, None, None) => "@ mention".to_owned(),
            };
            return (words, theme.dim());
        }
    };
    let status = RowStatus::of(row);
    let words = status.words();
    // Narrow lists keep the state's name and drop its reason (the thread shows it).
    let words = match words.split_once(':') {
        Some((name, _)) if compact => name.to_owned(),
        _ => words,
    };
    (format!("{} {words}", status.glyph()), theme.status(&status))
}

/// The first rows shown so that `selected` is on screen.
#[must_use]
pub fn offset(selected: usize, height: usize) -> usize {
    if height == 0 || selected < height {
        0
    } else {
        selected + 1 - height
    }
}

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    list(app, theme, frame, area, area.width >= 100, false);
}

/// The thread list, also the left pane of the thread screen (`wide`: with previews).
pub fn list(
    app: &App,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
    wide: bool,
    compact: bool,
) {
    let sort = match app.sort {
        Sort::Urgency => "window urgency",
        Sort::Newest => "newest",
    };
    let title = if compact {
        format!(" {} · {} ", app.filter.name(), app.inbox.visible_len())
    } else {
        format!(
            " Inbox · {} · {} of {} · sort: {sort} ",
            app.filter.name(),
            app.inbox.visible_len(),
            app.inbox.len()
        )
    };
    let block = Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.inbox.visible_len() == 0 {
        let text = if app.inbox.is_empty() {
            "No conversations yet. New messages appear here as they arrive."
        } else {
            "Nothing under this filter. f changes the filter, Esc clears the search."
        };
        frame.render_widget(Paragraph::new(Line::styled(text, theme.dim())), inner);
        return;
    }
    let height = usize::from(inner.height);
    let start = offset(app.selected, height);
    let combined = app.combined();
    let rows: Vec<Row> = (start..(start + height).min(app.inbox.visible_len()))
        .filter_map(|i| app.inbox.visible_at(i).map(|e| (i, e)))
        .map(|(i, entry)| {
            let (status, style) = status_cell(app, entry, theme, compact);
            let mut cells = Vec::new();
            if combined {
                let badge = app
                    .profiles
                    .get(entry.profile)
                    .map_or("?", |p| p.name.as_str());
                cells.push(Cell::from(format!("[{badge}]")));
            }
            let row = match &entry.row {
                InboxRow::Thread(row) => row,
                InboxRow::Mention(m) => {
                    mention_cells(app, m, (status, style), theme, wide, &mut cells);
                    let r = Row::new(cells);
                    return if i == app.selected {
                        r.style(theme.selected())
                    } else {
                        r
                    };
                }
            };
            let info = WindowInfo::of(row, app.now);
            let window = if wide {
                info.label(row.channel)
            } else {
                info.short_label(row.channel)
            };
            let unread = if row.unread > 0 {
                format!("{}", row.unread)
            } else {
                String::new()
            };
            let assignee = row
                .assignee
                .as_ref()
                .map(|a| {
                    if app.profiles.get(entry.profile).is_some_and(|p| &p.me == a) {
                        "me".to_owned()
                    } else {
                        a.as_str().to_owned()
                    }
                })
                .unwrap_or_default();
            cells.push(Cell::from(channel_tag(row.channel)));
            cells.push(Cell::from(row.customer.display()));
            if wide {
                let preview = row
                    .preview
                    .as_ref()
                    .map(|p| {
                        if p.outbound {
                            format!("↳ {}", p.text)
                        } else {
                            p.text.clone()
                        }
                    })
                    .unwrap_or_default();
                cells.push(Cell::from(preview).style(theme.dim()));
            }
            cells.push(Cell::from(unread).style(theme.focus()));
            cells.push(Cell::from(status).style(style));
            if wide {
                cells.push(Cell::from(assignee));
            }
            cells.push(Cell::from(window));
            let r = Row::new(cells);
            if i == app.selected {
                r.style(theme.selected())
            } else {
                r
            }
        })
        .collect();
    let mut widths = Vec::new();
    if combined {
        widths.push(Constraint::Length(8));
    }
    widths.push(Constraint::Length(3));
    if wide {
        widths.extend([
            Constraint::Length(20),
            Constraint::Fill(1),
            Constraint::Length(3),
            Constraint::Length(44),
            Constraint::Length(8),
            Constraint::Length(20),
        ]);
    } else if compact {
        widths.extend([
            Constraint::Fill(1),
            Constraint::Length(2),
            Constraint::Length(16),
            Constraint::Length(8),
        ]);
    } else {
        widths.extend([
            Constraint::Fill(1),
            Constraint::Length(3),
            Constraint::Fill(2),
            Constraint::Length(8),
        ]);
    }
    frame.render_widget(Table::new(rows, widths).column_spacing(1), inner);
}

/// A mention's cells in the thread columns: `@IG`, where (Meta does not say who), the ids
/// and what to do, and its time where a thread shows its window.
fn mention_cells(
    app: &App,
    row: &MentionRow,
    status: (String, Style),
    theme: &Theme,
    wide: bool,
    cells: &mut Vec<Cell<'static>>,
) {
    cells.push(Cell::from("@IG"));
    cells.push(Cell::from(format!("@ {}", row.place())));
    if wide {
        cells.push(
            Cell::from(match &row.media_id {
                Some(media) => format!("on post {media} · answer it on Instagram"),
                None => "answer it on Instagram".to_owned(),
            })
            .style(theme.dim()),
        );
    }
    cells.push(Cell::from(""));
    cells.push(Cell::from(status.0).style(status.1));
    if wide {
        cells.push(Cell::from(""));
    }
    cells.push(Cell::from(super::thread::clock(row.occurred_at, app.now)));
}
