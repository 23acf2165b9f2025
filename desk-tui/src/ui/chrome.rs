//! The header (partner brand, tenant, counts, connection) and the status bar (typed input,
//! messages, key hints).

use super::theme::Theme;
use crate::ConnectionState;
use crate::app::keymap::Action;
use crate::app::{App, Input, ProfileRole, Screen};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The connection in a glyph and words: "● connected", "↻ reconnecting in 3s", "○ offline";
/// the wait counts down from `retry_at` when known.
#[must_use]
pub fn connection(
    state: &ConnectionState,
    retry_at: Option<protocol::Millis>,
    now: protocol::Millis,
) -> String {
    if let (ConnectionState::Offline { .. }, Some(at)) = (state, retry_at) {
        let secs = (now.until(at).max(0) + 999) / 1000;
        return format!("↻ reconnecting in {secs}s");
    }
    match state {
        ConnectionState::Live => "● connected".into(),
        ConnectionState::Connecting => "↻ connecting".into(),
        ConnectionState::Syncing { cursor, head } => format!("↻ syncing {cursor}/{head}"),
        ConnectionState::Offline {
            retry_in: Some(wait),
            ..
        } => format!("↻ reconnecting in {}s", wait.as_secs_f64().ceil()),
        ConnectionState::Offline { retry_in: None, .. } => "○ offline".into(),
        ConnectionState::Refused { reason } => format!("✗ refused: {reason}"),
    }
}

pub fn header(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let brand = app
        .profiles
        .first()
        .map_or("chatdesk", |p| p.brand.as_str());
    let tenants: Vec<&str> = app
        .profiles
        .iter()
        .filter(|p| p.role != ProfileRole::Partner)
        .map(|p| p.tenant_name.as_str())
        .collect();
    let mut left = format!(" {brand}");
    if !tenants.is_empty() {
        left.push_str(" · ");
        left.push_str(&tenants.join(" + "));
    }
    if app.screen != Screen::Report {
        let (approval, failed) = app.inbox.counts();
        let wide = area.width >= 100;
        left.push_str(&if wide {
            format!("  ◆ {approval} to approve")
        } else {
            format!("  ◆{approval}")
        });
        if failed > 0 {
            left.push_str(&if wide {
                format!("  ✗ {failed} failed")
            } else {
                format!(" ✗{failed}")
            });
        }
        let mentions = app.inbox.mentions();
        if mentions > 0 {
            left.push_str(&match (wide, mentions) {
                (true, 1) => "  @ 1 mention".to_owned(),
                (true, n) => format!("  @ {n} mentions"),
                (false, n) => format!(" @{n}"),
            });
        }
    }
    let states: Vec<String> = app
        .profiles
        .iter()
        .filter(|p| p.role != ProfileRole::Partner)
        .map(|p| {
            let mut state = connection(&p.connection, p.retry_at, app.now);
            if p.unencrypted {
                state.push_str(" · ⚠ not encrypted");
            }
            if app.combined() {
                format!("{} {state}", p.name)
            } else {
                state
            }
        })
        .collect();
    let mut right = states.join("  ");
    if app.queued() > 0 {
        right.push_str(&format!("  ({} queued)", app.queued()));
    }
    right.push(' ');
    let right_width = u16::try_from(Line::raw(right.as_str()).width()).unwrap_or(u16::MAX);
    let [left_area, right_area] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(right_width.min(area.width)),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(left).style(theme.header()), left_area);
    frame.render_widget(
        Paragraph::new(right)
            .alignment(Alignment::Right)
            .style(theme.header()),
        right_area,
    );
}

pub fn status(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let k = |a| app.keymap.hint(a);
    let line = match &app.input {
        Input::Search(text) => Line::from(vec![
            Span::styled("/", theme.focus()),
            Span::raw(text.clone()),
            Span::raw("█"),
        ]),
        Input::Command(text) => Line::from(vec![
            Span::styled(":", theme.focus()),
            Span::raw(text.clone()),
            Span::raw("█"),
        ]),
        Input::PickMedia(typed) => {
            let count = app.open.as_ref().map_or(0, |o| o.detail.media().len());
            Line::from(vec![
                Span::styled(format!(" open attachment (1–{count}): "), theme.focus()),
                Span::raw(typed.clone()),
                Span::raw("█"),
                Span::styled("  Enter opens · Esc cancels", theme.dim()),
            ])
        }
        Input::Composer(c) if c.kind == crate::app::ComposeKind::Note => Line::styled(
            " ctrl-s saves the note (never sent) · ctrl-e $EDITOR · esc put aside",
            theme.dim(),
        ),
        Input::Composer(_) => Line::styled(
            " ctrl-s send · ctrl-w save draft · ctrl-e $EDITOR · ctrl-t public/private · esc put aside",
            theme.dim(),
        ),
        Input::Canned(_) => Line::styled(
            " type to find · ↑/↓ move · Enter inserts into the reply · Esc close (nothing is sent)",
            theme.dim(),
        ),
        Input::Templates(picker) => match (&app.flash, &picker.fill) {
            (Some(text), _) => Line::styled(format!(" {text}"), theme.warn()),
            (None, None) => Line::styled(
                " j/k move · Enter choose · Esc close (nothing is sent)",
                theme.dim(),
            ),
            (None, Some(_)) => Line::styled(
                " type · Tab next · shift-Tab back · Enter on the last sends · Esc list",
                theme.dim(),
            ),
        },
        Input::Normal => match &app.flash {
            Some(text) => Line::styled(format!(" {text}"), theme.warn()),
            None if app.hint => Line::styled(
                format!(
                    " new here? {} next thread that needs you · {} approve & send · {} edit · {} help · {} quit",
                    k(Action::NextNeedingMe),
                    k(Action::Approve),
                    k(Action::Edit),
                    k(Action::Help),
                    k(Action::Quit)
                ),
                theme.focus(),
            ),
            None => {
                let mut hint = match app.screen {
                    Screen::Inbox => format!(
                        " {}/{} move · {} open · {} next · {} approve · {} filter · / search · ? help",
                        k(Action::Down),
                        k(Action::Up),
                        k(Action::Open),
                        k(Action::NextNeedingMe),
                        k(Action::Approve),
                        k(Action::Filter)
                    ),
                    // A mention has no action here: only moving on and back.
                    Screen::Thread
                        if app.open.as_ref().is_some_and(|o| {
                            app.inbox
                                .get(o.profile, &o.thread)
                                .is_some_and(|e| e.mention().is_some())
                        }) =>
                    {
                        format!(
                            " read-only: answer this mention on Instagram · {}/{} move · {} back · ? help",
                            k(Action::Down),
                            k(Action::Up),
                            k(Action::Back)
                        )
                    }
                    Screen::Thread => format!(
                        " {} approve · {} edit · {} reply · {} discard · {} claim · {} resolve · {} back · ? help",
                        k(Action::Approve),
                        k(Action::Edit),
                        k(Action::Reply),
                        k(Action::Discard),
                        k(Action::Claim),
                        k(Action::Resolve),
                        k(Action::Back)
                    ),
                    Screen::Settings => {
                        format!(" Enter auto-send on/off · {} back", k(Action::Back))
                    }
                    Screen::Report => format!(" {} quit · ? help", k(Action::Quit)),
                };
                if !app.search.is_empty() {
                    hint = format!(" search: {} ·{hint}", app.search);
                }
                Line::styled(hint, theme.dim())
            }
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}
