//! The view: draws an [`App`] and changes nothing. One module per screen, plus the chrome
//! (header and status bar), the help overlay and the theme.
//!
//! Every state is told by a glyph or a word; colour only repeats it, and `NO_COLOR` drops
//! it (see [`theme`]).

mod canned;
mod chrome;
mod composer;
mod confirm;
mod help;
mod inbox;
mod media;
mod mention;
mod report;
mod settings;
mod templates;
pub mod theme;
mod thread;

pub use thread::image_room;

use crate::app::{App, Input, Overlay, Screen};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use theme::Theme;

/// Draws the whole desk.
pub fn view(app: &App, theme: &Theme, frame: &mut Frame<'_>) {
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    chrome::header(app, theme, frame, header);
    match app.screen {
        Screen::Inbox => inbox::draw(app, theme, frame, body),
        Screen::Thread => thread::draw(app, theme, frame, body),
        Screen::Settings => settings::draw(app, theme, frame, body),
        Screen::Report => report::draw(app, theme, frame, body),
    }
    chrome::status(app, theme, frame, status);
    if let Input::Composer(composer) = &app.input {
        composer::draw(app, composer, theme, frame, body);
    }
    if let Input::Templates(picker) = &app.input {
        templates::draw(app, picker, theme, frame, body);
    }
    if let Input::Canned(picker) = &app.input {
        canned::draw(app, picker, theme, frame, body);
    }
    match &app.overlay {
        Overlay::Help => help::draw(app, theme, frame, body),
        Overlay::ConfirmQuit => help::confirm_quit(app, theme, frame, body),
        Overlay::ConfirmDisconnect { name, .. } => help::confirm_disconnect(name, frame, body),
        Overlay::ConfirmSend { reasons, .. } => confirm::draw(reasons, theme, frame, body),
        Overlay::None => {}
    }
}
