//! What each action does: moving, opening, and the commands that go to the relay
//! (approve, edit, reply, discard, claim, resolve, hide, retry…), refused in words when the
//! target does not allow them.

use super::input::editor_with;
use super::keymap::Action;
use super::{
    App, ComposeKind, Composer, Effect, Input, OpenThread, Overlay, Pane, ProfileRole, Remote,
    Screen, Target,
};
use crate::model::detail::ThreadDetail;
use crate::model::inbox::{Filter, Sort};
use crate::model::summary::{SendState, ThreadSummary};
use protocol::{Channel, Command, Seq, ThreadId};

impl App {
    pub(super) fn move_by(&mut self, delta: isize, effects: &mut Vec<Effect>) {
        if self.screen == Screen::Settings {
            if let Remote::Loaded(data) = &self.settings {
                self.settings_selected = self
                    .settings_selected
                    .saturating_add_signed(delta)
                    .min(data.channels.len().saturating_sub(1));
            }
            return;
        }
        if self.screen == Screen::Thread && self.pane != Pane::List {
            if let Some(o) = &mut self.open {
                o.scroll = if delta > 0 {
                    o.scroll.saturating_sub(1)
                } else {
                    o.scroll.saturating_add(1)
                };
            }
            return;
        }
        let len = self.inbox.visible_len();
        if len == 0 {
            return;
        }
        self.selected = self.selected.saturating_add_signed(delta).min(len - 1);
        if self.screen == Screen::Thread {
            self.open_selected(effects);
        }
    }

    pub(super) fn open_selected(&mut self, effects: &mut Vec<Effect>) {
        if let Some((profile, thread)) = self.selected_thread() {
            self.open_thread(profile, thread, effects);
        }
    }

    /// Opens a thread: its events are read from the replica and a read receipt is sent
    /// when it has unread customer messages.
    pub fn open_thread(&mut self, profile: usize, thread: ThreadId, effects: &mut Vec<Effect>) {
        let Some(replica) = self.profiles.get(profile).and_then(|p| p.replica.clone()) else {
            return;
        };
        let detail = match replica.thread_events(&thread) {
            Ok(events) => ThreadDetail::from_events(&events),
            Err(e) => {
                self.flash = Some(format!("cannot read the conversation: {e}"));
                return;
            }
        };
        if let Some(position) = self.inbox.position(profile, &thread) {
            self.selected = position;
        }
        let unread = self
            .inbox
            .get(profile, &thread)
            .and_then(|e| e.thread())
            .is_some_and(|r| r.unread > 0);
        let up_to = detail.last_seq;
        self.open = Some(OpenThread {
            profile,
            thread: thread.clone(),
            detail,
            scroll: 0,
            show_edits: false,
        });
        self.screen = Screen::Thread;
        if unread
            && !self
                .pending_for(profile, &thread)
                .any(|p| p.label == "mark read")
        {
            effects.push(self.submit(
                profile,
                &thread,
                Command::MarkRead {
                    thread: thread.clone(),
                    up_to,
                },
            ));
        }
    }

    pub(super) fn act(&mut self, action: Action, effects: &mut Vec<Effect>) {
        match action {
            Action::Down => self.move_by(1, effects),
            Action::Up => self.move_by(-1, effects),
            Action::Top => {
                if self.screen == Screen::Thread && self.pane != Pane::List {
                    if let Some(o) = &mut self.open {
                        o.scroll = u16::MAX;
                    }
                } else {
                    self.selected = 0;
                    if self.screen == Screen::Thread {
                        self.open_selected(effects);
                    }
                }
            }
            Action::Bottom => {
                if self.screen == Screen::Thread && self.pane != Pane::List {
                    if let Some(o) = &mut self.open {
                        o.scroll = 0;
                    }
                } else {
                    self.selected = self.inbox.visible_len().saturating_sub(1);
                    if self.screen == Screen::Thread {
                        self.open_selected(effects);
                    }
                }
            }
            Action::Open => match self.screen {
                Screen::Inbox => {
                    self.open_selected(effects);
                    self.pane = Pane::Conversation;
                }
                Screen::Thread => self.pane = Pane::Conversation,
                Screen::Settings => self.toggle_auto_send(effects),
                Screen::Report => {}
            },
            Action::Back => match self.screen {
                Screen::Thread | Screen::Settings => {
                    self.screen = Screen::Inbox;
                    self.pane = Pane::List;
                    self.open = None;
                }
                Screen::Report if self.has_conversations() => self.screen = Screen::Inbox,
                _ => {
                    self.search.clear();
                    self.inbox.touch();
                }
            },
            Action::NextPane => {
                if self.screen == Screen::Inbox {
                    self.open_selected(effects);
                    self.pane = Pane::Conversation;
                } else if self.screen == Screen::Thread {
                    self.pane = match self.pane {
                        Pane::List => Pane::Conversation,
                        Pane::Conversation => Pane::Context,
                        Pane::Context => Pane::List,
                    };
                }
            }
            Action::Search => self.input = Input::Search(self.search.clone()),
            Action::Filter => {
                self.filter = self.filter.next();
                self.selected = 0;
                self.inbox.touch();
            }
            Action::Sort => {
                self.sort = match self.sort {
                    Sort::Urgency => Sort::Newest,
                    Sort::Newest => Sort::Urgency,
                };
                self.inbox.touch();
            }
            Action::OpenAttachment => self.open_attachment(effects),
            Action::NextNeedingMe => {
                let current = self.open.as_ref().map(|o| (o.profile, &o.thread));
                match self.inbox.next_needing_me(self.now, current) {
                    Some((profile, thread)) => {
                        if self.inbox.position(profile, &thread).is_none() {
                            // Not listed under this filter: widen it so the cursor can be there.
                            self.filter = Filter::Open;
                            self.refresh();
                        }
                        self.open_thread(profile, thread, effects);
                        self.pane = Pane::Conversation;
                    }
                    None => self.flash = Some("nothing needs you right now".into()),
                }
            }
            Action::Approve => self.approve(effects),
            Action::Edit => self.edit(effects),
            Action::EditExternal => {
                self.edit(effects);
                if let Input::Composer(c) = &self.input {
                    effects.push(Effect::Editor { text: c.text() });
                }
            }
            Action::Reply => self.reply(effects),
            Action::Note => match self.target() {
                Some((profile, row)) => {
                    self.open_composer(profile, &row.id, ComposeKind::Note, "", effects);
                }
                None => self.flash = Some(self.no_target().into()),
            },
            Action::Template => match self.target() {
                Some((profile, row)) => self.open_templates(profile, &row, None, effects),
                None => self.flash = Some(self.no_target().into()),
            },
            Action::Discard => self.with_target(effects, |row| {
                let draft = row.draft.as_ref().ok_or("there is no draft to discard")?;
                Ok(Command::DiscardDraft {
                    thread: row.id.clone(),
                    version: draft.version,
                })
            }),
            Action::Claim => {
                let me = self
                    .target()
                    .and_then(|(p, _)| self.profiles.get(p))
                    .map(|p| p.me.clone());
                self.with_target(effects, |row| {
                    let thread = row.id.clone();
                    Ok(if row.assignee.is_some() && row.assignee == me {
                        Command::Release { thread }
                    } else {
                        Command::Claim { thread }
                    })
                });
            }
            Action::Resolve => self.with_target(effects, |row| {
                let thread = row.id.clone();
                Ok(if row.resolved {
                    Command::Reopen { thread }
                } else {
                    Command::Resolve { thread }
                })
            }),
            Action::Hide => self.with_target(effects, |row| {
                if row.channel != Channel::InstagramComment {
                    return Err("only comments can be hidden");
                }
                let comment_id = row.comment_id.clone().ok_or("this thread has no comment")?;
                Ok(Command::HideComment {
                    thread: row.id.clone(),
                    comment_id,
                    hidden: !row.comment_hidden,
                })
            }),
            Action::Retry => self.with_target(effects, |row| {
                let send = failed_send(row).ok_or("no failed reply to retry")?;
                Ok(Command::RetrySend {
                    thread: row.id.clone(),
                    send,
                })
            }),
            Action::DiscardSend => self.with_target(effects, |row| {
                let send = failed_send(row).ok_or("no failed reply to give up")?;
                Ok(Command::DiscardSend {
                    thread: row.id.clone(),
                    send,
                })
            }),
            Action::ResumeDrafting => self.with_target(effects, |row| {
                if !row.owner_replying {
                    return Err("drafting is not paused here");
                }
                Ok(Command::ResumeDrafting {
                    thread: row.id.clone(),
                })
            }),
            Action::Settings => match self
                .target()
                .map(|(p, _)| p)
                .filter(|p| self.profiles[*p].role == ProfileRole::Owner)
                .or_else(|| {
                    self.profiles
                        .iter()
                        .position(|p| p.role == ProfileRole::Owner)
                }) {
                Some(profile) => {
                    self.screen = Screen::Settings;
                    self.settings = Remote::Loading;
                    self.settings_profile = profile;
                    effects.push(Effect::FetchSettings { profile });
                    self.want_canned(profile, effects);
                }
                None => self.flash = Some("settings are for the owner role".into()),
            },
            Action::Report => {
                // A partner viewer's report, else an owner's own business's.
                let viewer = self
                    .profiles
                    .iter()
                    .position(|p| p.role == ProfileRole::Partner);
                let owner = || {
                    self.profiles
                        .iter()
                        .position(|p| p.role == ProfileRole::Owner)
                };
                match viewer.or_else(owner) {
                    Some(profile) => {
                        self.screen = Screen::Report;
                        self.report = Remote::Loading;
                        effects.push(Effect::FetchReport { profile });
                    }
                    None => {
                        self.flash = Some("the report is for owners and partner viewers".into());
                    }
                }
            }
            Action::ConnectLink => self.mint_connect_link("instagram", effects),
            Action::Disconnect => match (&self.screen, &self.settings) {
                (Screen::Settings, Remote::Loaded(data)) if !data.channels.is_empty() => {
                    let index = self.settings_selected.min(data.channels.len() - 1);
                    if let Some(channel) = data.channels.get(index) {
                        self.overlay = Overlay::ConfirmDisconnect {
                            profile: self.settings_profile,
                            channel: channel.id.clone(),
                            name: channel_name(channel),
                        };
                    }
                }
                _ => {
                    self.flash =
                        Some("channels are disconnected from the settings screen (S)".into())
                }
            },
            Action::Help => self.overlay = Overlay::Help,
            Action::CommandLine => self.input = Input::Command(String::new()),
            Action::Quit => self.quit = true,
            Action::Canned => self.open_canned(effects),
            Action::Assign => self.start_assign(),
            Action::Snooze => self.toggle_snooze(effects),
        }
    }

    pub(super) fn has_conversations(&self) -> bool {
        self.profiles.iter().any(|p| p.role != ProfileRole::Partner)
    }

    /// Asks the relay for one new connect link of `kind`, from the settings screen only:
    /// opening the screen lists the existing ones and mints none.
    pub(super) fn mint_connect_link(&mut self, kind: &str, effects: &mut Vec<Effect>) {
        if !matches!(
            (&self.screen, &self.settings),
            (Screen::Settings, Remote::Loaded(_))
        ) {
            self.flash = Some("connect links are made from the settings screen (S)".into());
            return;
        }
        if !["instagram", "facebook", "whatsapp"].contains(&kind) {
            self.flash = Some("link: instagram, facebook or whatsapp".into());
            return;
        }
        effects.push(Effect::MintConnectLink {
            profile: self.settings_profile,
            kind: kind.to_owned(),
        });
        self.flash = Some(format!("new {kind} connect link requested"));
    }

    pub(super) fn toggle_auto_send(&mut self, effects: &mut Vec<Effect>) {
        if let Remote::Loaded(data) = &mut self.settings {
            data.auto_send = !data.auto_send;
            effects.push(Effect::SetAutoSend {
                profile: self.settings_profile,
                on: data.auto_send,
            });
            self.flash = Some(format!(
                "auto-send {}",
                if data.auto_send { "on" } else { "off" }
            ));
        }
    }

    /// Runs `make` on the target row and submits its command, or says why not.
    pub(super) fn with_target(
        &mut self,
        effects: &mut Vec<Effect>,
        make: impl FnOnce(&ThreadSummary) -> Result<Command, &'static str>,
    ) {
        let Some((profile, row)) = self.target() else {
            self.flash = Some(self.no_target().into());
            return;
        };
        match make(&row) {
            Ok(command) => effects.push(self.submit(profile, &row.id, command)),
            Err(why) => self.flash = Some(why.into()),
        }
    }

    pub(super) fn approve(&mut self, effects: &mut Vec<Effect>) {
        // The newcomer's hint has done its job once something was approved.
        self.hint = false;
        self.with_target(effects, |row| {
            let draft = row
                .draft
                .as_ref()
                .ok_or("there is no draft to approve; r writes your own reply")?;
            Ok(Command::ApproveDraft {
                thread: row.id.clone(),
                version: draft.version,
            })
        });
    }

    pub(super) fn edit(&mut self, effects: &mut Vec<Effect>) {
        let Some((profile, row)) = self.target() else {
            self.flash = Some(self.no_target().into());
            return;
        };
        let Some(draft) = &row.draft else {
            self.flash = Some("there is no draft to edit; r writes your own reply".into());
            return;
        };
        self.open_composer(
            profile,
            &row.id,
            ComposeKind::Draft {
                base: draft.version,
                next: row.draft_versions.max(draft.version) + 1,
            },
            &draft.text,
            effects,
        );
    }

    pub(super) fn reply(&mut self, effects: &mut Vec<Effect>) {
        let Some((profile, row)) = self.target() else {
            self.flash = Some(self.no_target().into());
            return;
        };
        if super::template_only(&row, self.now) {
            // A free reply would only be refused: offer what Meta still delivers.
            let reason = "The 24-hour WhatsApp window has closed: only an approved template \
                          reaches the customer now."
                .to_owned();
            self.open_templates(profile, &row, Some(reason), effects);
            return;
        }
        let target = if row.channel == Channel::InstagramComment {
            Target::PublicReply
        } else {
            Target::Message
        };
        self.open_composer(profile, &row.id, ComposeKind::Reply(target), "", effects);
    }

    pub(super) fn open_composer(
        &mut self,
        profile: usize,
        thread: &ThreadId,
        kind: ComposeKind,
        text: &str,
        effects: &mut Vec<Effect>,
    ) {
        if self.screen == Screen::Inbox {
            self.open_thread(profile, thread.clone(), effects);
        }
        // `/shortcut` + Tab needs the list; fetched once, again whenever `C` opens.
        if kind != ComposeKind::Note && !self.canned.contains_key(&profile) {
            self.want_canned(profile, effects);
        }
        self.input = Input::Composer(Box::new(Composer {
            profile,
            thread: thread.clone(),
            kind,
            editor: editor_with(text),
            cancel_armed: false,
        }));
    }
}

/// A channel as people know it: its handle, else its account id.
#[must_use]
pub fn channel_name(channel: &crate::remote::ChannelLine) -> String {
    channel
        .username
        .as_ref()
        .map(|u| format!("@{u}"))
        .or_else(|| channel.account_id.clone())
        .unwrap_or_else(|| channel.id.clone())
}

fn failed_send(row: &ThreadSummary) -> Option<Seq> {
    row.sends
        .iter()
        .rev()
        .find(|s| matches!(s.state, SendState::Failed { .. }))
        .map(|s| s.send)
}
