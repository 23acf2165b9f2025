//! Colours and emphasis. With `NO_COLOR` set (any non-empty value, per no-color.org) the
//! theme keeps only bold, reverse and underline, which every state's glyph and word
//! already make redundant.

use crate::model::status::RowStatus;
use ratatui::style::{Color, Modifier, Style};

#[derive(Clone, Copy, Debug)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// The theme the environment asks for.
    #[must_use]
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    #[must_use]
    pub fn header(self) -> Style {
        if self.color {
            Style::default().fg(Color::Black).bg(Color::Cyan)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    #[must_use]
    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    #[must_use]
    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    #[must_use]
    pub fn title(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    #[must_use]
    pub fn customer(self) -> Style {
        self.fg(Color::Cyan)
    }

    #[must_use]
    pub fn ours(self) -> Style {
        self.fg(Color::Green)
    }

    #[must_use]
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    #[must_use]
    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    #[must_use]
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    #[must_use]
    pub fn focus(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// A row's status colour (its glyph and words say the same).
    #[must_use]
    pub fn status(self, status: &RowStatus) -> Style {
        match status {
            RowStatus::Failed { .. } => self.error(),
            RowStatus::Held { .. } | RowStatus::HandedOff { .. } => self.warn(),
            RowStatus::NeedsApproval | RowStatus::New => self.fg(Color::Magenta),
            RowStatus::Sending | RowStatus::Retrying => self.fg(Color::Blue),
            RowStatus::Sent | RowStatus::Delivered | RowStatus::Read => self.ok(),
            RowStatus::Resolved | RowStatus::Open => self.dim(),
        }
    }
}
