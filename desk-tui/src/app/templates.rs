//! The WhatsApp template picker: the channel's templates (fetched from the relay, which asks
//! Meta with the channel's token), one chosen, its placeholders filled with a live preview of
//! the text the customer will read, sent as the relay's template send.
//!
//! It opens with `t` on a WhatsApp thread, and by itself when `r` is pressed on one whose
//! 24-hour window has closed: there a free reply would only be refused, so the desk offers
//! the one thing Meta still delivers. Only approved templates can be chosen; the rest are
//! listed (greyed) so the agent knows why one they expect is missing.

use super::{App, Effect, Input, Remote};
use crate::model::summary::ThreadSummary;
use crate::remote::TemplateLine;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{Channel, Command, ReplyContent, ThreadId};

/// The picker's state, while it is up.
#[derive(Debug)]
pub struct TemplatePicker {
    pub profile: usize,
    pub thread: ThreadId,
    /// The relay's id of the thread's channel (the templates are its WABA's).
    pub channel: String,
    /// Why it opened by itself, shown at its top.
    pub reason: Option<String>,
    pub list: Remote<Vec<TemplateLine>>,
    /// Position in the list.
    pub selected: usize,
    /// The chosen template, being filled.
    pub fill: Option<Fill>,
}

/// One template's placeholders being filled.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Fill {
    pub template: TemplateLine,
    /// The placeholders (`"1"`, `"2"`), in parameter order.
    pub names: Vec<String>,
    /// What the agent typed for each.
    pub values: Vec<String>,
    /// The placeholder being typed.
    pub field: usize,
}

impl Fill {
    fn new(template: TemplateLine) -> Fill {
        let names = template.placeholders();
        Fill {
            values: vec![String::new(); names.len()],
            names,
            template,
            field: 0,
        }
    }

    /// The text the customer will read, placeholders not yet filled shown as written.
    #[must_use]
    pub fn preview(&self) -> String {
        protocol::template::fill(&self.template.body, &self.values)
    }

    /// The first placeholder still empty (Meta refuses an empty parameter).
    fn missing(&self) -> Option<usize> {
        self.values.iter().position(|v| v.trim().is_empty())
    }
}

/// Whether `row` can only take a template now (WhatsApp, 24-hour window closed).
#[must_use]
pub fn template_only(row: &ThreadSummary, now: protocol::Millis) -> bool {
    row.channel == Channel::WhatsApp
        && protocol::window::state(&row.window(), now)
            == protocol::window::WindowState::TemplateOnly
}

impl App {
    /// Opens the picker on the target thread and asks the relay for the templates.
    pub(super) fn open_templates(
        &mut self,
        profile: usize,
        row: &ThreadSummary,
        reason: Option<String>,
        effects: &mut Vec<Effect>,
    ) {
        if row.channel != Channel::WhatsApp {
            self.flash = Some("templates are for WhatsApp threads".into());
            return;
        }
        if self.screen == super::Screen::Inbox {
            self.open_thread(profile, row.id.clone(), effects);
            // The conversation, not the list, is what the picker writes into.
            self.pane = super::Pane::Conversation;
        }
        let channel = row.channel_id.as_str().to_owned();
        self.input = Input::Templates(Box::new(TemplatePicker {
            profile,
            thread: row.id.clone(),
            channel: channel.clone(),
            reason,
            list: Remote::Loading,
            selected: 0,
            fill: None,
        }));
        effects.push(Effect::FetchTemplates { profile, channel });
    }

    /// The relay's answer to [`Effect::FetchTemplates`], if the picker still waits for it.
    pub(super) fn templates_arrived(
        &mut self,
        profile: usize,
        channel: &str,
        result: Result<Vec<TemplateLine>, String>,
    ) {
        if let Input::Templates(picker) = &mut self.input
            && picker.profile == profile
            && picker.channel == channel
        {
            picker.selected = 0;
            picker.list = match result {
                Ok(list) => Remote::Loaded(list),
                Err(e) => Remote::Failed(e),
            };
        }
    }

    pub(super) fn template_key(&mut self, key: KeyEvent, ctrl_c: bool, effects: &mut Vec<Effect>) {
        let Input::Templates(picker) = &mut self.input else {
            return;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        // A refusal said on the status line lasts until the next key, as outside the picker.
        self.flash = None;
        if ctrl_c {
            self.flash = Some("template put aside; nothing was sent".into());
            self.input = Input::Normal;
            return;
        }
        if let Some(fill) = &mut picker.fill {
            let last = fill.names.len().saturating_sub(1);
            match key.code {
                KeyCode::Esc => picker.fill = None,
                KeyCode::Char('s') if ctrl => self.send_template(effects),
                KeyCode::Enter if fill.field >= last => self.send_template(effects),
                KeyCode::Enter | KeyCode::Tab | KeyCode::Down => {
                    fill.field = (fill.field + 1).min(last);
                }
                KeyCode::BackTab | KeyCode::Up => fill.field = fill.field.saturating_sub(1),
                KeyCode::Backspace => {
                    if let Some(v) = fill.values.get_mut(fill.field) {
                        v.pop();
                    }
                }
                KeyCode::Char(c) if !ctrl => {
                    if let Some(v) = fill.values.get_mut(fill.field) {
                        v.push(c);
                    }
                }
                _ => {}
            }
            return;
        }
        let len = match &picker.list {
            Remote::Loaded(list) => list.len(),
            _ => 0,
        };
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => {
                self.flash = Some("no template sent".into());
                self.input = Input::Normal;
            }
            KeyCode::Char('j') | KeyCode::Down => {
                picker.selected = (picker.selected + 1).min(len.saturating_sub(1));
            }
            KeyCode::Char('k') | KeyCode::Up => picker.selected = picker.selected.saturating_sub(1),
            KeyCode::Enter => {
                let Remote::Loaded(list) = &picker.list else {
                    return;
                };
                let Some(template) = list.get(picker.selected) else {
                    return;
                };
                if !template.sendable {
                    self.flash = Some(format!(
                        "{} ({}) is not approved by Meta yet; it cannot be sent",
                        template.name, template.language
                    ));
                    return;
                }
                picker.fill = Some(Fill::new(template.clone()));
            }
            _ => {}
        }
    }

    /// A paste goes into the placeholder being typed (line breaks as spaces: Meta refuses
    /// them in parameters).
    pub(super) fn template_paste(&mut self, text: &str) {
        if let Input::Templates(picker) = &mut self.input
            && let Some(fill) = &mut picker.fill
            && let Some(v) = fill.values.get_mut(fill.field)
        {
            v.push_str(&text.replace(['\n', '\r', '\t'], " "));
        }
    }

    fn send_template(&mut self, effects: &mut Vec<Effect>) {
        let Input::Templates(picker) = &mut self.input else {
            return;
        };
        let Some(fill) = &mut picker.fill else {
            return;
        };
        if let Some(i) = fill.missing() {
            fill.field = i;
            self.flash = Some(format!("fill {{{{{}}}}} first", fill.names[i]));
            return;
        }
        let (profile, thread) = (picker.profile, picker.thread.clone());
        let content = ReplyContent::Template {
            name: fill.template.name.clone(),
            language: fill.template.language.clone(),
            params: fill.values.iter().map(|v| v.trim().to_owned()).collect(),
        };
        self.flash = Some(format!("template {} queued", fill.template.name));
        self.input = Input::Normal;
        effects.push(self.submit(
            profile,
            &thread,
            Command::SendMessage {
                thread: thread.clone(),
                content,
                reply_to: None,
            },
        ));
    }
}
