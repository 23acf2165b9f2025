//! [`App::update`]: every message in, state changed, effects out. The pieces live beside
//! it: `load` (replica → rows), `input` (keys, composer, command line), `actions` (what
//! each action does).

use super::input::editor_with;
use super::{App, Effect, ImageSlot, Input, Msg, Pending, Remote, Screen};
use crate::model::inbox::Query;
use crate::model::summary::ThreadSummary;
use crossterm::event::KeyEventKind;
use protocol::{Answer, Command, Seq, ThreadId};

impl App {
    pub(super) fn next_local(&mut self) -> u64 {
        self.next_local += 1;
        self.next_local
    }

    /// Recomputes the listed rows, keeping the cursor on the same thread when it is still
    /// listed.
    pub fn refresh(&mut self) {
        let keep = self.selected_thread();
        let me: Vec<_> = self.profiles.iter().map(|p| p.me.clone()).collect();
        self.inbox.refresh(&Query {
            filter: self.filter,
            sort: self.sort,
            search: &self.search,
            me: &me,
            now: self.now,
        });
        if let Some((profile, thread)) = keep
            && let Some(position) = self.inbox.position(profile, &thread)
        {
            self.selected = position;
        }
        self.clamp_selection();
    }

    pub(super) fn clamp_selection(&mut self) {
        self.selected = self
            .selected
            .min(self.inbox.visible_len().saturating_sub(1));
    }

    /// Handles one message.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut effects = Vec::new();
        match msg {
            Msg::Key(key) if key.kind != KeyEventKind::Release => self.key(key, &mut effects),
            Msg::Key(_) => {}
            Msg::Resize => self.refit_images(),
            Msg::Terminate => self.quit = true,
            Msg::Paste(text) => {
                if let Input::Composer(c) = &mut self.input {
                    c.editor.insert_str(text);
                } else {
                    self.template_paste(&text);
                }
            }
            Msg::Tick(now) => {
                self.now = now;
                self.inbox.tick(now);
            }
            Msg::Applied { profile, cursor } => self.applied(profile, cursor, &mut effects),
            Msg::Erased { profile } => self.erased(profile),
            Msg::ReplicaReady { profile, replica } => {
                let cursor = replica.cursor().unwrap_or(Seq(0));
                self.load_outbox(profile, &replica);
                if let Some(p) = self.profiles.get_mut(profile) {
                    p.replica = Some(replica);
                }
                // Everything the snapshot did not hold yet.
                self.applied(profile, cursor, &mut effects);
            }
            Msg::Connection { profile, state } => {
                if let Some(p) = self.profiles.get_mut(profile) {
                    p.retry_at = match &state {
                        crate::ConnectionState::Offline {
                            retry_in: Some(wait),
                            ..
                        } => Some(
                            self.now
                                .plus(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
                        ),
                        _ => None,
                    };
                    // A certificate problem is not cured by waiting: the status bar says
                    // so, once per new problem, naming the profile.
                    if let Some(problem) = state.certificate_problem()
                        && p.connection.certificate_problem() != Some(problem)
                    {
                        self.flash = Some(format!("{}: {problem}", p.name));
                    }
                    p.connection = state;
                }
            }
            Msg::Submitted { local, result } => match result {
                Ok(key) => {
                    if let Some(p) = self.pending.iter_mut().find(|p| p.local == local) {
                        p.key = Some(key.clone());
                        let profile = p.profile;
                        if let Some(i) = self
                            .early_answers
                            .iter()
                            .position(|(pr, k, _)| *pr == profile && *k == key)
                        {
                            let (_, key, answer) = self.early_answers.remove(i);
                            return self.update(Msg::Answered {
                                profile,
                                key,
                                answer,
                            });
                        }
                    }
                }
                Err(error) => {
                    if let Some(i) = self.pending.iter().position(|p| p.local == local) {
                        let p = self.pending.remove(i);
                        self.notices.insert(
                            (p.profile, p.thread),
                            format!("{} was not queued: {error}", p.label),
                        );
                    }
                }
            },
            Msg::Answered {
                profile,
                key,
                answer,
            } => {
                if let Some(i) = self
                    .pending
                    .iter()
                    .position(|p| p.profile == profile && p.key.as_ref() == Some(&key))
                {
                    let p = self.pending.remove(i);
                    if let Answer::Rejected {
                        rejection: protocol::Rejection::Unconfirmed { reasons },
                    } = answer
                    {
                        self.ask_to_confirm(p, reasons);
                    } else if let Answer::Rejected { rejection } = answer {
                        self.notices.insert(
                            (p.profile, p.thread),
                            format!("{} refused: {}", p.label, rejection.describe()),
                        );
                    }
                } else if self
                    .pending
                    .iter()
                    .any(|p| p.profile == profile && p.key.is_none())
                {
                    self.early_answers.push((profile, key, answer));
                }
            }
            Msg::EditorDone(result) => match result {
                Ok(text) => {
                    if let Input::Composer(c) = &mut self.input {
                        c.editor = editor_with(&text);
                    }
                }
                Err(error) => self.flash = Some(format!("$EDITOR failed: {error}")),
            },
            Msg::Settings { result, .. } => {
                self.settings = match result {
                    Ok(data) => Remote::Loaded(data),
                    Err(e) => Remote::Failed(e),
                };
            }
            Msg::Report { result, .. } => {
                self.report = match result {
                    Ok(data) => Remote::Loaded(data),
                    Err(e) => Remote::Failed(e),
                };
            }
            Msg::MediaOpened { number, result } => {
                self.flash = Some(match result {
                    Ok(()) => format!("attachment {number} opened"),
                    Err(e) => format!("attachment {number} could not be opened: {e}"),
                });
            }
            Msg::Image { key, result } => {
                let slot = match result {
                    Ok(image) => ImageSlot::Ready(image),
                    Err(e) => {
                        tracing::debug!(message = %key.message, n = key.n, error = %e, "image not shown inline");
                        ImageSlot::Failed
                    }
                };
                self.images.insert(key, slot);
            }
            Msg::Templates {
                profile,
                channel,
                result,
            } => self.templates_arrived(profile, &channel, result),
            Msg::Canned { profile, result } => self.canned_arrived(profile, result),
            Msg::CannedChanged { profile, result } => {
                self.canned_changed(profile, result, &mut effects);
            }
            Msg::Uploaded {
                profile,
                thread,
                kind,
                caption,
                result,
            } => self.uploaded(profile, &thread, kind, caption, result, &mut effects),
        }
        self.want_images(&mut effects);
        if self.inbox.is_dirty() {
            self.refresh();
        }
        if self.quit {
            effects.push(Effect::Quit);
        }
        effects
    }

    pub(super) fn submit(&mut self, profile: usize, thread: &ThreadId, command: Command) -> Effect {
        let local = self.next_local();
        self.notices.remove(&(profile, thread.clone()));
        self.pending.push(Pending {
            local,
            profile,
            thread: thread.clone(),
            label: label(&command).into(),
            key: None,
            command: command.clone(),
        });
        Effect::Submit {
            local,
            profile,
            command,
        }
    }

    /// Why there is no thread to act on: none selected, or the row is an @mention, which
    /// no desk command is about (the business answers it on Instagram).
    pub(super) fn no_target(&self) -> &'static str {
        let (profile, id) = match (&self.screen, &self.open) {
            (Screen::Thread, Some(o)) => (o.profile, o.thread.clone()),
            _ => match self.selected_thread() {
                Some(row) => row,
                None => return "no thread selected",
            },
        };
        if self
            .inbox
            .get(profile, &id)
            .is_some_and(|e| e.mention().is_some())
        {
            "a mention is read-only here: reply on Instagram"
        } else {
            "no thread selected"
        }
    }

    /// The thread an action is about: the open one on the thread screen, else the row.
    pub(super) fn target(&self) -> Option<(usize, ThreadSummary)> {
        let (profile, thread) = match (&self.screen, &self.open) {
            (Screen::Thread, Some(o)) => (o.profile, o.thread.clone()),
            _ => self.selected_thread()?,
        };
        let row = self.inbox.get(profile, &thread)?.thread()?;
        Some((profile, row.clone()))
    }
}

/// What a pending command is called on its row.
#[must_use]
pub fn label(command: &Command) -> &'static str {
    match command {
        Command::Claim { .. } => "claim",
        Command::Release { .. } => "release",
        Command::EditDraft { .. } => "save edit",
        Command::ApproveDraft { .. } => "approve",
        Command::DiscardDraft { .. } => "discard",
        Command::SendMessage { .. } | Command::SendReply { .. } => "reply",
        Command::ResumeDrafting { .. } => "resume drafting",
        Command::RetrySend { .. } => "retry",
        Command::DiscardSend { .. } => "give up",
        Command::Resolve { .. } => "resolve",
        Command::Reopen { .. } => "reopen",
        Command::MarkRead { .. } => "mark read",
        Command::HideComment { hidden: true, .. } => "hide",
        Command::HideComment { hidden: false, .. } => "unhide",
        Command::AddNote { .. } => "note",
        Command::Confirm { .. } => "confirmed reply",
        Command::Assign { .. } => "assign",
        Command::Snooze { .. } => "snooze",
        Command::Unsnooze { .. } => "wake",
    }
}
