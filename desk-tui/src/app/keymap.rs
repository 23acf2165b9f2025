//! Which key does what: the defaults, the `[keys]` table of the config file that changes
//! them, and the names the `?` overlay and the `:` command line use.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::HashMap;
use std::fmt;

/// Everything a key can do outside the composer. Each has a name (the `[keys]` table's key
/// and the `:` command) and a line of help.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Action {
    Down,
    Up,
    Top,
    Bottom,
    Open,
    Back,
    NextPane,
    Search,
    Filter,
    Sort,
    OpenAttachment,
    NextNeedingMe,
    Approve,
    Edit,
    EditExternal,
    Reply,
    Template,
    Note,
    Discard,
    Claim,
    Resolve,
    Hide,
    Retry,
    DiscardSend,
    ResumeDrafting,
    Disconnect,
    ConnectLink,
    Settings,
    Report,
    Help,
    CommandLine,
    Quit,
    Canned,
    Assign,
    Snooze,
}

impl Action {
    pub const ALL: [Action; 35] = [
        Action::Down,
        Action::Up,
        Action::Top,
        Action::Bottom,
        Action::Open,
        Action::Back,
        Action::NextPane,
        Action::Search,
        Action::Filter,
        Action::Sort,
        Action::OpenAttachment,
        Action::NextNeedingMe,
        Action::Approve,
        Action::Edit,
        Action::EditExternal,
        Action::Reply,
        Action::Template,
        Action::Note,
        Action::Discard,
        Action::Claim,
        Action::Resolve,
        Action::Hide,
        Action::Retry,
        Action::DiscardSend,
        Action::ResumeDrafting,
        Action::Disconnect,
        Action::ConnectLink,
        Action::Settings,
        Action::Report,
        Action::Help,
        Action::CommandLine,
        Action::Quit,
        Action::Canned,
        Action::Assign,
        Action::Snooze,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Action::Down => "down",
            Action::Up => "up",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Open => "open",
            Action::Back => "back",
            Action::NextPane => "next-pane",
            Action::Search => "search",
            Action::Filter => "filter",
            Action::Sort => "sort",
            Action::OpenAttachment => "attachment",
            Action::NextNeedingMe => "next",
            Action::Approve => "approve",
            Action::Edit => "edit",
            Action::EditExternal => "edit-external",
            Action::Reply => "reply",
            Action::Template => "template",
            Action::Note => "note",
            Action::Discard => "discard",
            Action::Claim => "claim",
            Action::Resolve => "resolve",
            Action::Hide => "hide",
            Action::Retry => "retry",
            Action::DiscardSend => "discard-send",
            Action::ResumeDrafting => "resume-drafting",
            Action::Disconnect => "disconnect",
            Action::ConnectLink => "connect-link",
            Action::Settings => "settings",
            Action::Report => "report",
            Action::Help => "help",
            Action::CommandLine => "command",
            Action::Quit => "quit",
            Action::Canned => "canned",
            Action::Assign => "assign",
            Action::Snooze => "snooze",
        }
    }

    #[must_use]
    pub fn help(self) -> &'static str {
        match self {
            Action::Down => "move down",
            Action::Up => "move up",
            Action::Top => "go to the top",
            Action::Bottom => "go to the bottom",
            Action::Open => "open the thread",
            Action::Back => "back / close",
            Action::NextPane => "next pane",
            Action::Search => "search",
            Action::Filter => "next filter",
            Action::Sort => "sort: urgency / newest",
            Action::OpenAttachment => "open an attachment",
            Action::NextNeedingMe => "next thread needing me",
            Action::Approve => "approve draft and send",
            Action::Edit => "edit the draft here",
            Action::EditExternal => "edit draft in $EDITOR",
            Action::Reply => "write your own reply",
            Action::Template => "send a WhatsApp template",
            Action::Note => "private note (not sent)",
            Action::Discard => "discard the draft",
            Action::Claim => "claim / release",
            Action::Resolve => "resolve / reopen",
            Action::Hide => "hide / unhide comment",
            Action::Retry => "retry a failed reply",
            Action::DiscardSend => "give up a failed reply",
            Action::ResumeDrafting => "resume paused drafting",
            Action::Disconnect => "disconnect a channel",
            Action::ConnectLink => "mint a connect link",
            Action::Settings => "owner settings",
            Action::Report => "partner report",
            Action::Help => "this help",
            Action::CommandLine => "command line",
            Action::Quit => "quit",
            Action::Canned => "insert a canned reply",
            Action::Assign => "assign to an agent",
            Action::Snooze => "snooze / wake",
        }
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// A key as written in the config file: `j`, `G`, `enter`, `esc`, `tab`, `ctrl-r`, `?`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    #[must_use]
    pub fn char(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: false,
        }
    }

    #[must_use]
    pub fn from_event(event: &KeyEvent) -> Key {
        Key {
            code: event.code,
            ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
        }
    }

    /// Parses a key name.
    ///
    /// # Errors
    /// A name that is not a single character or a known key.
    pub fn parse(text: &str) -> Result<Key, String> {
        let (ctrl, rest) = match text.strip_prefix("ctrl-") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let code = match rest.to_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    _ => return Err(format!("unknown key {text:?}")),
                }
            }
        };
        Ok(Key { code, ctrl })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        match self.code {
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Keys to actions.
#[derive(Clone, Debug)]
pub struct Keymap {
    bindings: HashMap<Key, Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        let c = Key::char;
        let mut bindings = HashMap::new();
        for (key, action) in [
            (c('j'), Action::Down),
            (
                Key {
                    code: KeyCode::Down,
                    ctrl: false,
                },
                Action::Down,
            ),
            (c('k'), Action::Up),
            (
                Key {
                    code: KeyCode::Up,
                    ctrl: false,
                },
                Action::Up,
            ),
            (c('g'), Action::Top),
            (c('G'), Action::Bottom),
            (
                Key {
                    code: KeyCode::Enter,
                    ctrl: false,
                },
                Action::Open,
            ),
            (
                Key {
                    code: KeyCode::Esc,
                    ctrl: false,
                },
                Action::Back,
            ),
            (
                Key {
                    code: KeyCode::Tab,
                    ctrl: false,
                },
                Action::NextPane,
            ),
            (c('/'), Action::Search),
            (c('f'), Action::Filter),
            (c('s'), Action::Sort),
            (c('o'), Action::OpenAttachment),
            (c('n'), Action::NextNeedingMe),
            (c('a'), Action::Approve),
            (c('e'), Action::Edit),
            (c('E'), Action::EditExternal),
            (c('r'), Action::Reply),
            (c('t'), Action::Template),
            (c('N'), Action::Note),
            (c('d'), Action::Discard),
            (c('c'), Action::Claim),
            (c('x'), Action::Resolve),
            (c('h'), Action::Hide),
            (c('R'), Action::Retry),
            (c('D'), Action::DiscardSend),
            (c('u'), Action::ResumeDrafting),
            (c('X'), Action::Disconnect),
            (c('L'), Action::ConnectLink),
            (c('S'), Action::Settings),
            (c('P'), Action::Report),
            (c('?'), Action::Help),
            (c(':'), Action::CommandLine),
            (c('q'), Action::Quit),
            (c('C'), Action::Canned),
            (c('A'), Action::Assign),
            (c('z'), Action::Snooze),
        ] {
            bindings.insert(key, action);
        }
        Keymap { bindings }
    }
}

impl Keymap {
    /// The defaults with `overrides` (action name → key name) applied: the new key is bound
    /// and the action's default keys are dropped, so a moved action does not keep its old key.
    ///
    /// # Errors
    /// An unknown action or key name, or two actions on one key.
    pub fn with_overrides(overrides: &HashMap<String, String>) -> Result<Keymap, String> {
        let mut map = Keymap::default();
        let mut chosen: HashMap<Key, Action> = HashMap::new();
        for (name, key) in overrides {
            let action = Action::parse(name).ok_or_else(|| {
                format!("[keys]: unknown action {name:?} (see `?` in the desk for the names)")
            })?;
            let key = Key::parse(key).map_err(|e| format!("[keys] {name}: {e}"))?;
            if let Some(other) = chosen.insert(key, action)
                && other != action
            {
                return Err(format!(
                    "[keys]: {key} is bound to both {} and {}",
                    other.name(),
                    action.name()
                ));
            }
        }
        for action in chosen.values() {
            map.bindings.retain(|_, a| a != action);
        }
        map.bindings.extend(chosen);
        Ok(map)
    }

    #[must_use]
    pub fn action(&self, event: &KeyEvent) -> Option<Action> {
        self.bindings.get(&Key::from_event(event)).copied()
    }

    /// The keys bound to `action`, for the help overlay.
    #[must_use]
    pub fn keys_of(&self, action: Action) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .bindings
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(k, _)| *k)
            .collect();
        keys.sort_by_key(|k| k.to_string());
        keys
    }

    /// The first key of `action` as text ("?" when unbound), for hints.
    #[must_use]
    pub fn hint(&self, action: Action) -> String {
        self.keys_of(action)
            .into_iter()
            .find(|k| matches!(k.code, KeyCode::Char(_)))
            .or_else(|| self.keys_of(action).into_iter().next())
            .map_or_else(|| format!(":{}", action.name()), |k| k.to_string())
    }
}
