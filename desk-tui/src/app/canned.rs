//! Canned replies in the desk: the fuzzy picker (`C`), `/shortcut` + Tab in the composer,
//! and the owner's `:canned set|rm` on the settings screen.
//!
//! The list comes from the relay (`Effect::FetchCanned`, answered by `Msg::Canned`) with
//! the business's fields and this agent's name already filled; the desk fills
//! `{{customer.name}}` for the thread at hand ([`expand_shortcut`], [`fill_for`]). An
//! inserted text is only the start of a reply: it is sent like any reply the agent wrote, so
//! the relay's safety classifier checks it and may ask for a confirmation.

use super::{App, ComposeKind, Effect, Input, ProfileRole, Remote, Target};
use crate::remote::CannedLine;
use crossterm::event::{KeyCode, KeyEvent};
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher};
use protocol::{Channel, ThreadId};

/// The picker: what is typed, and the matching replies best first.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CannedPicker {
    pub profile: usize,
    pub thread: ThreadId,
    pub query: String,
    /// Indexes into the profile's list, best match first.
    pub matches: Vec<usize>,
    pub selected: usize,
}

/// The replies of `lines` matching `query` (over shortcut, title and text), best first; all
/// of them, in order, for an empty query.
#[must_use]
pub fn rank(lines: &[CannedLine], query: &str) -> Vec<usize> {
    if query.trim().is_empty() {
        return (0..lines.len()).collect();
    }
    let haystacks: Vec<String> = lines
        .iter()
        .map(|l| format!("{} {} {}", l.shortcut, l.title, l.text))
        .collect();
    let pattern = Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart);
    let mut matcher = Matcher::new(Config::DEFAULT);
    let scored = pattern.match_list(
        haystacks.iter().enumerate().map(|(i, h)| Item(i, h)),
        &mut matcher,
    );
    scored.into_iter().map(|(item, _)| item.0).collect()
}

/// A haystack that remembers its index.
struct Item<'a>(usize, &'a str);

impl AsRef<str> for Item<'_> {
    fn as_ref(&self) -> &str {
        self.1
    }
}

/// `line`'s text for a customer called `customer` (what the relay left unfilled stays).
#[must_use]
pub fn fill_for(line: &CannedLine, customer: &str) -> String {
    protocol::canned::fill(&line.filled, &[("customer.name", customer)])
}

/// What `{{customer.name}}` becomes: the name the customer goes by, else their handle
/// without the `@`, else how the desk shows them.
#[must_use]
pub fn customer_name(customer: &protocol::Customer) -> String {
    customer
        .name
        .clone()
        .or_else(|| customer.username.clone())
        .unwrap_or_else(|| customer.display())
}

/// The filled text of the reply whose shortcut is `word` without its `/`, if any.
#[must_use]
pub fn expand_shortcut(lines: &[CannedLine], word: &str, customer: &str) -> Option<String> {
    let shortcut = word.strip_prefix('/')?;
    lines
        .iter()
        .find(|l| l.shortcut == shortcut)
        .map(|l| fill_for(l, customer))
}

impl App {
    /// The canned replies of `profile`, if fetched.
    #[must_use]
    pub fn canned_of(&self, profile: usize) -> &[CannedLine] {
        match self.canned.get(&profile) {
            Some(Remote::Loaded(lines)) => lines,
            _ => &[],
        }
    }

    /// Fetches the profile's list unless it is already on its way.
    pub(super) fn want_canned(&mut self, profile: usize, effects: &mut Vec<Effect>) {
        if !matches!(self.canned.get(&profile), Some(Remote::Loading)) {
            self.canned.insert(profile, Remote::Loading);
            effects.push(Effect::FetchCanned { profile });
        }
    }

    /// `C`: the picker over the thread at hand (fetched afresh, so an owner's change shows).
    pub(super) fn open_canned(&mut self, effects: &mut Vec<Effect>) {
        let Some((profile, row)) = self.target() else {
            self.flash = Some("open or select a thread first".into());
            return;
        };
        self.want_canned(profile, effects);
        self.input = Input::Canned(Box::new(CannedPicker {
            profile,
            thread: row.id,
            query: String::new(),
            matches: rank(self.canned_of(profile), ""),
            selected: 0,
        }));
    }

    pub(super) fn canned_arrived(
        &mut self,
        profile: usize,
        result: Result<Vec<CannedLine>, String>,
    ) {
        match result {
            Ok(lines) => {
                self.canned.insert(profile, Remote::Loaded(lines));
            }
            Err(e) => {
                self.flash = Some(format!("canned replies not loaded: {e}"));
                self.canned.insert(profile, Remote::Failed(e));
            }
        }
        self.rerank();
    }

    fn rerank(&mut self) {
        let Input::Canned(picker) = &self.input else {
            return;
        };
        let matches = rank(self.canned_of(picker.profile), &picker.query);
        if let Input::Canned(picker) = &mut self.input {
            picker.selected = picker.selected.min(matches.len().saturating_sub(1));
            picker.matches = matches;
        }
    }

    pub(super) fn canned_key(&mut self, key: KeyEvent, ctrl_c: bool, effects: &mut Vec<Effect>) {
        let Input::Canned(picker) = &mut self.input else {
            return;
        };
        match key.code {
            _ if ctrl_c => self.input = Input::Normal,
            KeyCode::Esc => self.input = Input::Normal,
            KeyCode::Down => {
                picker.selected = (picker.selected + 1).min(picker.matches.len().saturating_sub(1));
            }
            KeyCode::Up => picker.selected = picker.selected.saturating_sub(1),
            KeyCode::Backspace => {
                picker.query.pop();
                picker.selected = 0;
                self.rerank();
            }
            KeyCode::Char(c) => {
                picker.query.push(c);
                picker.selected = 0;
                self.rerank();
            }
            KeyCode::Enter => self.insert_picked(effects),
            _ => {}
        }
    }

    /// Enter in the picker: the chosen reply, filled for the customer, goes into the
    /// thread's composer (a new reply when none is open), never straight to the customer.
    fn insert_picked(&mut self, effects: &mut Vec<Effect>) {
        let Input::Canned(picker) = &self.input else {
            return;
        };
        let (profile, thread) = (picker.profile, picker.thread.clone());
        let Some(line) = picker
            .matches
            .get(picker.selected)
            .and_then(|&i| self.canned_of(profile).get(i))
            .cloned()
        else {
            self.flash = Some("no canned reply matches".into());
            return;
        };
        let Some(row) = self.inbox.get(profile, &thread).and_then(|e| e.thread()) else {
            self.input = Input::Normal;
            return;
        };
        let customer = customer_name(&row.customer);
        let target = if row.channel == Channel::InstagramComment {
            Target::PublicReply
        } else {
            Target::Message
        };
        let text = fill_for(&line, &customer);
        self.input = Input::Normal;
        self.open_composer(profile, &thread, ComposeKind::Reply(target), &text, effects);
        self.flash = Some(format!("/{} inserted; ctrl-s sends it", line.shortcut));
    }

    /// Tab in the composer: a `/shortcut` just before the cursor becomes its reply's text.
    pub(super) fn expand_in_composer(&mut self) {
        let Input::Composer(composer) = &self.input else {
            return;
        };
        let profile = composer.profile;
        let customer = self
            .inbox
            .get(profile, &composer.thread)
            .and_then(|e| e.thread())
            .map(|r| customer_name(&r.customer))
            .unwrap_or_default();
        let cursor = composer.editor.cursor();
        let (row, col) = (cursor.0, cursor.1);
        let before: String = composer
            .editor
            .lines()
            .get(row)
            .map(|l| l.chars().take(col).collect())
            .unwrap_or_default();
        let word = before
            .rsplit(char::is_whitespace)
            .next()
            .unwrap_or_default()
            .to_owned();
        let expanded = expand_shortcut(self.canned_of(profile), &word, &customer);
        let known = !self.canned_of(profile).is_empty();
        let Input::Composer(composer) = &mut self.input else {
            return;
        };
        match expanded {
            Some(text) => {
                for _ in 0..word.chars().count() {
                    composer.editor.delete_char();
                }
                composer.editor.insert_str(text);
            }
            None if word.starts_with('/') => {
                self.flash = Some(if known {
                    format!("no canned reply {word}; C lists them")
                } else {
                    "canned replies are still loading".into()
                });
            }
            None => {
                composer.editor.insert_tab();
            }
        }
    }

    /// `:canned set SHORTCUT TITLE | TEXT` and `:canned rm SHORTCUT` (owners).
    pub(super) fn canned_line(&mut self, rest: &str, effects: &mut Vec<Effect>) {
        let profile = self.settings_profile;
        if self.profile(profile).map(|p| p.role) != Some(ProfileRole::Owner) {
            self.flash = Some("only owners change canned replies".into());
            return;
        }
        let mut words = rest.splitn(2, ' ');
        let verb = words.next().unwrap_or_default();
        let args = words.next().unwrap_or_default().trim();
        match verb {
            "set" | "add" => {
                let mut parts = args.splitn(2, ' ');
                let shortcut = parts.next().unwrap_or_default().trim_start_matches('/');
                let (title, text) = parts
                    .next()
                    .unwrap_or_default()
                    .split_once('|')
                    .unwrap_or_default();
                if shortcut.is_empty() || title.trim().is_empty() || text.trim().is_empty() {
                    self.flash = Some("canned set SHORTCUT TITLE | TEXT".into());
                    return;
                }
                effects.push(Effect::PutCanned {
                    profile,
                    shortcut: shortcut.to_owned(),
                    title: title.trim().to_owned(),
                    text: text.trim().to_owned(),
                });
            }
            "rm" | "remove" if !args.is_empty() => effects.push(Effect::RemoveCanned {
                profile,
                shortcut: args.trim_start_matches('/').to_owned(),
            }),
            _ => {
                self.flash = Some("canned set SHORTCUT TITLE | TEXT, or canned rm SHORTCUT".into())
            }
        }
    }

    pub(super) fn canned_changed(
        &mut self,
        profile: usize,
        result: Result<String, String>,
        effects: &mut Vec<Effect>,
    ) {
        match result {
            Ok(done) => {
                self.flash = Some(done);
                self.want_canned(profile, effects);
            }
            Err(e) => self.flash = Some(format!("canned reply not changed: {e}")),
        }
    }
}
