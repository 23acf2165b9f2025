//! Keys to state: overlays first, then the input line (search, `:` commands), the
//! composer (which never quits on a bare `q`; ctrl-c cancels), else the key map.

use super::{App, ComposeKind, Effect, Input, Overlay, Remote, Target};
use crate::model::inbox::{Filter, Sort};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{Command, ReplyContent};
use ratatui_textarea::TextArea;

impl App {
    pub(super) fn key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        match &self.overlay {
            Overlay::Help => {
                self.overlay = Overlay::None;
                return;
            }
            Overlay::ConfirmQuit => {
                match key.code {
                    KeyCode::Char('y' | 'Y') => self.quit = true,
                    _ if ctrl_c => self.quit = true,
                    _ => self.overlay = Overlay::None,
                }
                return;
            }
            Overlay::ConfirmDisconnect { .. } => {
                let Overlay::ConfirmDisconnect {
                    profile,
                    channel,
                    name,
                } = std::mem::replace(&mut self.overlay, Overlay::None)
                else {
                    return;
                };
                if key.code != KeyCode::Char('y') {
                    return;
                }
                let listed = self.settings_profile == profile
                    && matches!(&self.settings, Remote::Loaded(data)
                        if data.channels.iter().any(|c| c.id == channel));
                if listed {
                    self.flash = Some(format!("disconnecting {name}…"));
                    effects.push(Effect::Disconnect { profile, channel });
                } else {
                    self.flash = Some(format!(
                        "{name} is no longer in the settings; nothing was disconnected"
                    ));
                }
                return;
            }
            Overlay::ConfirmSend { .. } => {
                self.confirm_key(key.code, effects);
                return;
            }
            Overlay::None => {}
        }
        match &mut self.input {
            Input::Canned(_) => self.canned_key(key, ctrl_c, effects),
            Input::Composer(_) => self.composer_key(key, ctrl_c, effects),
            Input::Templates(_) => self.template_key(key, ctrl_c, effects),
            Input::Search(text) => {
                match key.code {
                    _ if ctrl_c => {
                        self.search.clear();
                        self.input = Input::Normal;
                    }
                    KeyCode::Esc => {
                        self.search.clear();
                        self.input = Input::Normal;
                    }
                    KeyCode::Enter => self.input = Input::Normal,
                    KeyCode::Backspace => {
                        text.pop();
                        self.search.clone_from(text);
                    }
                    KeyCode::Char(c) => {
                        text.push(c);
                        self.search.clone_from(text);
                    }
                    _ => {}
                }
                self.selected = 0;
                self.inbox.touch();
            }
            Input::Command(text) => match key.code {
                _ if ctrl_c => self.input = Input::Normal,
                KeyCode::Esc => self.input = Input::Normal,
                KeyCode::Enter => {
                    let line = std::mem::take(text);
                    self.input = Input::Normal;
                    self.command_line(&line, effects);
                }
                KeyCode::Backspace if text.pop().is_none() => self.input = Input::Normal,
                KeyCode::Backspace => {}
                KeyCode::Char(c) => text.push(c),
                _ => {}
            },
            Input::PickMedia(_) if ctrl_c => self.input = Input::Normal,
            Input::PickMedia(_) => self.pick_media_key(key.code, effects),
            Input::Normal => {
                if ctrl_c {
                    self.overlay = Overlay::ConfirmQuit;
                    return;
                }
                self.flash = None;
                if let Some(action) = self.keymap.action(&key) {
                    self.act(action, effects);
                }
            }
        }
    }

    pub(super) fn composer_key(&mut self, key: KeyEvent, ctrl_c: bool, effects: &mut Vec<Effect>) {
        let Input::Composer(composer) = &mut self.input else {
            return;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c {
            // First Ctrl-C: stop composing (the text is kept for the next `r`/`e`). A
            // second Ctrl-C in the desk asks before quitting.
            self.flash = Some("reply cancelled; nothing was sent".into());
            self.input = Input::Normal;
            return;
        }
        match key.code {
            KeyCode::Esc => {
                self.flash = Some("reply put aside; nothing was sent".into());
                self.input = Input::Normal;
            }
            KeyCode::Char('s') if ctrl => self.send_composer(true, effects),
            KeyCode::Char('w') if ctrl => self.send_composer(false, effects),
            KeyCode::Char('e') if ctrl => effects.push(Effect::Editor {
                text: composer.text(),
            }),
            KeyCode::Tab => self.expand_in_composer(),
            KeyCode::Char('t') if ctrl => {
                if let ComposeKind::Reply(target) = &mut composer.kind {
                    *target = match *target {
                        Target::PublicReply => Target::PrivateReply,
                        Target::PrivateReply => Target::PublicReply,
                        Target::Message => Target::Message,
                    };
                }
            }
            _ => {
                composer.editor.input(key);
            }
        }
    }

    /// Ctrl-S (`send`): approve-and-send an edited draft, or send our own reply. Ctrl-W: save
    /// the edited draft without sending.
    pub(super) fn send_composer(&mut self, send: bool, effects: &mut Vec<Effect>) {
        let Input::Composer(composer) = &self.input else {
            return;
        };
        let text = composer.text().trim().to_owned();
        if text.is_empty() {
            self.flash = Some("the reply is empty".into());
            return;
        }
        let (profile, thread, kind) = (composer.profile, composer.thread.clone(), composer.kind);
        if kind == ComposeKind::Note {
            // Saved (ctrl-s or ctrl-w alike) as a note: no channel limit, nothing sent.
            effects.push(self.submit(
                profile,
                &thread,
                Command::AddNote {
                    thread: thread.clone(),
                    text,
                },
            ));
            self.input = Input::Normal;
            return;
        }
        if let Some(row) = self.inbox.get(profile, &thread).and_then(|e| e.thread()) {
            let left = crate::model::summary::length_left(row.channel, &text);
            if left < 0 {
                self.flash = Some(format!("{} characters too long for this channel", -left));
                return;
            }
        }
        match kind {
            ComposeKind::Draft { base, next } => {
                effects.push(self.submit(
                    profile,
                    &thread,
                    Command::EditDraft {
                        thread: thread.clone(),
                        base_version: base,
                        text,
                    },
                ));
                if send {
                    effects.push(self.submit(
                        profile,
                        &thread,
                        Command::ApproveDraft {
                            thread: thread.clone(),
                            version: next,
                        },
                    ));
                }
            }
            ComposeKind::Reply(Target::PrivateReply) => effects.push(self.submit(
                profile,
                &thread,
                Command::SendMessage {
                    thread: thread.clone(),
                    content: ReplyContent::PrivateReply { text },
                    reply_to: None,
                },
            )),
            ComposeKind::Note => {}
            ComposeKind::Reply(_) => effects.push(self.submit(
                profile,
                &thread,
                Command::SendReply {
                    thread: thread.clone(),
                    text,
                },
            )),
        }
        self.input = Input::Normal;
    }

    pub(super) fn command_line(&mut self, line: &str, effects: &mut Vec<Effect>) {
        let mut words = line.trim().splitn(2, ' ');
        let name = words.next().unwrap_or_default();
        let rest = words.next().unwrap_or_default().trim();
        match name {
            "" => {}
            "q" | "quit" => self.quit = true,
            "filter" => match Filter::parse(rest) {
                Some(filter) => {
                    self.filter = filter;
                    self.selected = 0;
                    self.inbox.touch();
                }
                None => {
                    let names: Vec<_> = Filter::ALL.iter().map(|f| f.name()).collect();
                    self.flash = Some(format!("filters: {}", names.join(", ")));
                }
            },
            "sort" => match rest {
                "urgency" | "window" => self.sort = Sort::Urgency,
                "newest" | "time" => self.sort = Sort::Newest,
                _ => self.flash = Some("sort: urgency or newest".into()),
            },
            "search" => {
                self.search = rest.to_owned();
                self.selected = 0;
                self.inbox.touch();
            }
            "link" => self.mint_connect_link(rest, effects),
            "assign" => self.assign_to(rest, effects),
            "snooze" if !rest.is_empty() => self.snooze_for(rest, effects),
            "canned" if !rest.is_empty() => self.canned_line(rest, effects),
            "bell" => match rest {
                "on" => self.bell = true,
                "off" => self.bell = false,
                _ => self.flash = Some("bell: on or off".into()),
            },
            "attachment" if !rest.is_empty() => match rest.parse::<usize>() {
                Ok(number) => self.open_numbered(number, effects),
                Err(_) => {
                    self.flash = Some("attachment: its number, as the thread lists it".into())
                }
            },
            "kinds" => self.flash = Some(super::compose_kinds::menu()),
            "edits" => match &mut self.open {
                Some(open) => open.show_edits = !open.show_edits,
                None => self.flash = Some("open a thread to see its edits".into()),
            },
            verb if super::compose_kinds::is_kind(verb) => {
                self.compose_kind(verb, rest, effects);
            }
            other => match super::keymap::Action::parse(other) {
                Some(action) => self.act(action, effects),
                None => self.flash = Some(format!("unknown command :{other} (? lists them)")),
            },
        }
        self.inbox.touch();
    }
}

pub(super) fn editor_with(text: &str) -> TextArea<'static> {
    let mut editor = TextArea::new(text.lines().map(str::to_owned).collect());
    editor.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
    editor.move_cursor(ratatui_textarea::CursorMove::Bottom);
    editor.move_cursor(ratatui_textarea::CursorMove::End);
    editor
}
