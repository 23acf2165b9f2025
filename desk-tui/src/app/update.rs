//! [`App::update`]: every message in, state changed, effects out.

use super::keymap::Action;
use super::{
    App, ComposeKind, Composer, Effect, Input, Msg, OpenThread, Overlay, Pane, Pending,
    ProfileRole, Remote, Screen, Target,
};
use crate::model::detail::ThreadDetail;
use crate::model::inbox::{Filter, Query, Sort};
use crate::model::summary::{SendState, ThreadSummary, thread_of};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use protocol::inbound::InboundKind;
use protocol::{Answer, Channel, Command, Direction, EventBody, ReplyContent, Seq, ThreadId};
use ratatui_textarea::TextArea;
use std::collections::HashSet;

/// How many events one sync update reads from the replica at most; the rest come with the
/// next update (the engine sends one per batch anyway).
const READ_BATCH: usize = 10_000;

impl App {
    /// Reads every profile's rows and outbox from its replica (start-up).
    pub(super) fn load_all(&mut self) {
        for index in 0..self.profiles.len() {
            if self.profiles[index].replica.is_some() {
                self.load_profile(index);
            }
        }
        self.refresh();
    }

    /// Reads one profile's rows, cursor, credits and unanswered commands from its replica.
    fn load_profile(&mut self, index: usize) {
        let Some(replica) = self.profiles[index].replica.clone() else {
            return;
        };
        match replica.summaries() {
            Ok(rows) => {
                self.inbox.touch();
                for row in rows {
                    self.inbox.upsert(index, row);
                }
            }
            Err(e) => self.flash = Some(format!("cannot read the local replica: {e}")),
        }
        if let Ok(cursor) = replica.cursor() {
            self.profiles[index].cursor = cursor;
        }
        self.load_outbox(index, &replica);
    }

    fn load_outbox(&mut self, index: usize, replica: &crate::Replica) {
        if let Ok(Some(credits)) = replica.credits() {
            self.profiles[index].credits = Some(credits);
        }
        // Commands queued in an earlier session are still on their way: show them.
        if let Ok(pending) = replica.outbox().pending() {
            for p in pending {
                if self.pending.iter().any(|q| q.key.as_ref() == Some(&p.key)) {
                    continue;
                }
                let local = self.next_local();
                self.pending.push(Pending {
                    local,
                    profile: index,
                    thread: p.command.thread().clone(),
                    label: label(&p.command).into(),
                    key: Some(p.key),
                });
            }
        }
    }

    /// Shows rows read from an inbox snapshot before the profile's replica is open; the
    /// events after `cursor` are applied once it is (see [`Msg::ReplicaReady`]).
    pub fn preload(
        &mut self,
        index: usize,
        rows: Vec<crate::model::summary::ThreadSummary>,
        cursor: Seq,
    ) {
        // One sort for the lot rather than one insertion each.
        self.inbox.touch();
        for row in rows {
            self.inbox.upsert(index, row);
        }
        if let Some(p) = self.profiles.get_mut(index) {
            p.cursor = cursor;
        }
        self.refresh();
    }

    fn next_local(&mut self) -> u64 {
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

    fn clamp_selection(&mut self) {
        self.selected = self
            .selected
            .min(self.inbox.visible_len().saturating_sub(1));
    }

    /// Handles one message.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut effects = Vec::new();
        match msg {
            Msg::Key(key) if key.kind != KeyEventKind::Release => self.key(key, &mut effects),
            Msg::Key(_) | Msg::Resize => {}
            Msg::Terminate => self.quit = true,
            Msg::Paste(text) => {
                if let Input::Composer(c) = &mut self.input {
                    c.editor.insert_str(text);
                }
            }
            Msg::Tick(now) => {
                self.now = now;
                self.inbox.tick(now);
            }
            Msg::Applied { profile, cursor } => self.applied(profile, cursor, &mut effects),
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
                    if let Answer::Rejected { rejection } = answer {
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
        }
        if self.inbox.is_dirty() {
            self.refresh();
        }
        if self.quit {
            effects.push(Effect::Quit);
        }
        effects
    }

    fn applied(&mut self, profile: usize, cursor: Seq, effects: &mut Vec<Effect>) {
        let Some(p) = self.profiles.get(profile) else {
            return;
        };
        let Some(replica) = p.replica.clone() else {
            return;
        };
        let from = p.cursor;
        if cursor <= from {
            return;
        }
        let events = match replica.events_after(from, READ_BATCH) {
            Ok(events) => events,
            Err(e) => {
                self.flash = Some(format!("cannot read the local replica: {e}"));
                return;
            }
        };
        let mut touched: HashSet<ThreadId> = HashSet::new();
        let mut ring = false;
        let open = self
            .open
            .as_ref()
            .filter(|o| o.profile == profile)
            .map(|o| o.thread.clone());
        let mut reload_open = false;
        for event in &events {
            // A customer's data was removed: the replica rewrote that thread's events.
            if let EventBody::Account(a) = &event.body
                && let protocol::AccountEventKind::CustomerRemoved { thread } = &a.kind
            {
                touched.insert(thread.clone());
                reload_open |= open.as_ref() == Some(thread);
            }
            if let Some(thread) = thread_of(event) {
                touched.insert(thread.clone());
                if open.as_ref() == Some(thread)
                    && let Some(o) = &mut self.open
                {
                    o.detail.apply(event);
                }
            }
            if let EventBody::Inbound(i) = &event.body
                && i.direction == Direction::Inbound
                && matches!(i.kind, InboundKind::Message(_) | InboundKind::Comment(_))
            {
                ring = true;
            }
        }
        let last = events.last().map_or(from, |e| e.seq);
        if let Some(p) = self.profiles.get_mut(profile) {
            p.cursor = last;
            if let Ok(Some(credits)) = replica.credits() {
                p.credits = Some(credits);
            }
        }
        if reload_open
            && let Some(o) = &mut self.open
            && let Ok(events) = replica.thread_events(&o.thread)
        {
            o.detail = ThreadDetail::from_events(&events);
        }
        let keep = self.selected_thread();
        for thread in touched {
            if let Ok(Some(row)) = replica.summary(&thread) {
                self.inbox.upsert(profile, row);
            }
        }
        // Rows moved around the cursor: keep it on its thread.
        if let Some((p, thread)) = keep
            && let Some(position) = self.inbox.position(p, &thread)
        {
            self.selected = position;
        }
        self.clamp_selection();
        if ring && self.bell {
            effects.push(Effect::Bell);
        }
        // More than one read's worth arrived: read the rest now rather than wait.
        if last < cursor && last > from {
            self.applied(profile, cursor, effects);
        }
    }

    fn key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        match self.overlay {
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
            Overlay::ConfirmDisconnect(index) => {
                self.overlay = Overlay::None;
                if key.code == KeyCode::Char('y')
                    && let Remote::Loaded(data) = &self.settings
                    && let Some(channel) = data.channels.get(index)
                {
                    self.flash = Some(format!("disconnecting {}…", channel_name(channel)));
                    effects.push(Effect::Disconnect {
                        profile: self.settings_profile,
                        channel: channel.id.clone(),
                    });
                }
                return;
            }
            Overlay::None => {}
        }
        match &mut self.input {
            Input::Composer(_) => self.composer_key(key, ctrl_c, effects),
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

    fn composer_key(&mut self, key: KeyEvent, ctrl_c: bool, effects: &mut Vec<Effect>) {
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
    fn send_composer(&mut self, send: bool, effects: &mut Vec<Effect>) {
        let Input::Composer(composer) = &self.input else {
            return;
        };
        let text = composer.text().trim().to_owned();
        if text.is_empty() {
            self.flash = Some("the reply is empty".into());
            return;
        }
        let (profile, thread, kind) = (composer.profile, composer.thread.clone(), composer.kind);
        if let Some(entry) = self.inbox.get(profile, &thread) {
            let left = crate::model::summary::length_left(entry.row.channel, &text);
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

    fn submit(&mut self, profile: usize, thread: &ThreadId, command: Command) -> Effect {
        let local = self.next_local();
        self.notices.remove(&(profile, thread.clone()));
        self.pending.push(Pending {
            local,
            profile,
            thread: thread.clone(),
            label: label(&command).into(),
            key: None,
        });
        Effect::Submit {
            local,
            profile,
            command,
        }
    }

    /// The thread an action is about: the open one on the thread screen, else the row.
    fn target(&self) -> Option<(usize, ThreadSummary)> {
        let (profile, thread) = match (&self.screen, &self.open) {
            (Screen::Thread, Some(o)) => (o.profile, o.thread.clone()),
            _ => self.selected_thread()?,
        };
        let entry = self.inbox.get(profile, &thread)?;
        Some((profile, entry.row.clone()))
    }

    fn move_by(&mut self, delta: isize) {
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
            self.open_selected(&mut Vec::new());
        }
    }

    fn open_selected(&mut self, effects: &mut Vec<Effect>) {
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
            .is_some_and(|e| e.row.unread > 0);
        let up_to = detail.last_seq;
        self.open = Some(OpenThread {
            profile,
            thread: thread.clone(),
            detail,
            scroll: 0,
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

    fn act(&mut self, action: Action, effects: &mut Vec<Effect>) {
        match action {
            Action::Down => self.move_by(1),
            Action::Up => self.move_by(-1),
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
            Action::Edit => self.edit(),
            Action::EditExternal => {
                self.edit();
                if let Input::Composer(c) = &self.input {
                    effects.push(Effect::Editor { text: c.text() });
                }
            }
            Action::Reply => self.reply(),
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
                }
                None => self.flash = Some("settings are for the owner role".into()),
            },
            Action::Report => {
                match self
                    .profiles
                    .iter()
                    .position(|p| p.role == ProfileRole::Partner)
                {
                    Some(profile) => {
                        self.screen = Screen::Report;
                        self.report = Remote::Loading;
                        effects.push(Effect::FetchReport { profile });
                    }
                    None => self.flash = Some("the report is for partner viewers".into()),
                }
            }
            Action::Disconnect => match (&self.screen, &self.settings) {
                (Screen::Settings, Remote::Loaded(data)) if !data.channels.is_empty() => {
                    self.overlay = Overlay::ConfirmDisconnect(
                        self.settings_selected.min(data.channels.len() - 1),
                    );
                }
                _ => {
                    self.flash =
                        Some("channels are disconnected from the settings screen (S)".into())
                }
            },
            Action::Help => self.overlay = Overlay::Help,
            Action::CommandLine => self.input = Input::Command(String::new()),
            Action::Quit => self.quit = true,
        }
    }

    fn has_conversations(&self) -> bool {
        self.profiles.iter().any(|p| p.role != ProfileRole::Partner)
    }

    fn toggle_auto_send(&mut self, effects: &mut Vec<Effect>) {
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
    fn with_target(
        &mut self,
        effects: &mut Vec<Effect>,
        make: impl FnOnce(&ThreadSummary) -> Result<Command, &'static str>,
    ) {
        let Some((profile, row)) = self.target() else {
            self.flash = Some("no thread selected".into());
            return;
        };
        match make(&row) {
            Ok(command) => effects.push(self.submit(profile, &row.id, command)),
            Err(why) => self.flash = Some(why.into()),
        }
    }

    fn approve(&mut self, effects: &mut Vec<Effect>) {
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

    fn edit(&mut self) {
        let Some((profile, row)) = self.target() else {
            self.flash = Some("no thread selected".into());
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
        );
    }

    fn reply(&mut self) {
        let Some((profile, row)) = self.target() else {
            self.flash = Some("no thread selected".into());
            return;
        };
        let target = if row.channel == Channel::InstagramComment {
            Target::PublicReply
        } else {
            Target::Message
        };
        self.open_composer(profile, &row.id, ComposeKind::Reply(target), "");
    }

    fn open_composer(&mut self, profile: usize, thread: &ThreadId, kind: ComposeKind, text: &str) {
        if self.screen == Screen::Inbox {
            self.open_thread(profile, thread.clone(), &mut Vec::new());
        }
        self.input = Input::Composer(Box::new(Composer {
            profile,
            thread: thread.clone(),
            kind,
            editor: editor_with(text),
            cancel_armed: false,
        }));
    }

    fn command_line(&mut self, line: &str, effects: &mut Vec<Effect>) {
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
            "bell" => match rest {
                "on" => self.bell = true,
                "off" => self.bell = false,
                _ => self.flash = Some("bell: on or off".into()),
            },
            other => match super::keymap::Action::parse(other) {
                Some(action) => self.act(action, effects),
                None => self.flash = Some(format!("unknown command :{other} (? lists them)")),
            },
        }
        self.inbox.touch();
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

fn editor_with(text: &str) -> TextArea<'static> {
    let mut editor = TextArea::new(text.lines().map(str::to_owned).collect());
    editor.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
    editor.move_cursor(ratatui_textarea::CursorMove::Bottom);
    editor.move_cursor(ratatui_textarea::CursorMove::End);
    editor
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
    }
}
