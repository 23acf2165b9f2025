//! The desk's screens and keys without a terminal: an `App` over real replicas (temporary
//! sled directories) drawn with ratatui's `TestBackend` and driven with key events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod keys;
mod media;
mod owner_report;
mod screens;
mod stored;
mod templates;
mod workflow;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use desk_tui::app::keymap::Keymap;
use desk_tui::app::{App, Effect, Msg};
use desk_tui::fixtures::{self, NOW};
use desk_tui::ui::{self, theme::Theme};
use protocol::Event;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tempfile::TempDir;

/// An app over one replica holding `events`; keep the `TempDir` alive while using it.
pub fn app_with(events: &[Event]) -> (TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let replica = fixtures::replica(dir.path(), events).unwrap();
    let mut app = App::new(
        vec![fixtures::profile("sari", replica)],
        Keymap::default(),
        NOW,
    );
    // Credits as the welcome would have told them.
    app.profiles[0].credits = Some(500);
    (dir, app)
}

pub fn showcase() -> (TempDir, App) {
    app_with(&fixtures::showcase())
}

pub fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// Presses each key in turn; returns every effect asked for.
pub fn press(app: &mut App, keys: &str) -> Vec<Effect> {
    keys.chars().flat_map(|c| app.update(key(c))).collect()
}

/// The screen as text, `width`×`height`, without colour.
pub fn draw(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| ui::view(app, &Theme { color: false }, f))
        .unwrap();
    let buffer = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..height {
        let mut line = String::new();
        for x in 0..width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
