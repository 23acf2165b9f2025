//! A thread's state and window in glyphs and words, never in colour alone.

use super::summary::{SendState, ThreadSummary};
use protocol::window::{self, WindowState};
use protocol::{Channel, Millis};

/// What a row says about where the conversation stands, most urgent first.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RowStatus {
    /// A reply failed and waits for a person to retry or discard it.
    Failed {
        reason: String,
    },
    /// A draft the classifier held, with why.
    Held {
        reason: String,
    },
    /// A draft that passed and waits for approval.
    NeedsApproval,
    /// The drafter left it to a person.
    HandedOff {
        reason: String,
    },
    Sending,
    /// Failed for now; the relay retries by itself.
    Retrying,
    Sent,
    Delivered,
    Read,
    Resolved,
    /// The customer wrote and nobody answered yet.
    New,
    Open,
}

impl RowStatus {
    /// The row's status for `row`.
    #[must_use]
    pub fn of(row: &ThreadSummary) -> RowStatus {
        let send = row.headline_send();
        if let Some(s) = send
            && let SendState::Failed {
                retry_at: None,
                message,
                ..
            } = &s.state
        {
            return RowStatus::Failed {
                reason: message.clone(),
            };
        }
        if let Some(draft) = &row.draft {
            return match draft.held.first() {
                Some(reason) => RowStatus::Held {
                    reason: reason.clone(),
                },
                None => RowStatus::NeedsApproval,
            };
        }
        if let Some(reason) = &row.handoff {
            return RowStatus::HandedOff {
                reason: reason.clone(),
            };
        }
        if row.resolved {
            return RowStatus::Resolved;
        }
        match send.map(|s| &s.state) {
            Some(SendState::Queued | SendState::Sending { .. }) => RowStatus::Sending,
            Some(SendState::Failed { .. }) => RowStatus::Retrying,
            Some(SendState::Sent) => RowStatus::Sent,
            Some(SendState::Delivered) => RowStatus::Delivered,
            Some(SendState::Read) => RowStatus::Read,
            _ if row.preview.as_ref().is_some_and(|p| !p.outbound) => RowStatus::New,
            _ => RowStatus::Open,
        }
    }

    /// A glyph that tells the state without colour.
    #[must_use]
    pub fn glyph(&self) -> &'static str {
        match self {
            RowStatus::Failed { .. } => "✗",
            RowStatus::Held { .. } => "⚑",
            RowStatus::NeedsApproval => "◆",
            RowStatus::HandedOff { .. } => "☛",
            RowStatus::Sending | RowStatus::Retrying => "↻",
            RowStatus::Sent => "✓",
            RowStatus::Delivered => "✓✓",
            RowStatus::Read => "👁",
            RowStatus::Resolved => "■",
            RowStatus::New => "●",
            RowStatus::Open => "○",
        }
    }

    /// The state in a few words.
    #[must_use]
    pub fn words(&self) -> String {
        match self {
            RowStatus::Failed { reason } => format!("failed: {reason}"),
            RowStatus::Held { reason } => format!("held: {reason}"),
            RowStatus::NeedsApproval => "needs approval".into(),
            RowStatus::HandedOff { reason } => format!("needs a person: {reason}"),
            RowStatus::Sending => "sending".into(),
            RowStatus::Retrying => "retrying".into(),
            RowStatus::Sent => "sent".into(),
            RowStatus::Delivered => "delivered".into(),
            RowStatus::Read => "read".into(),
            RowStatus::Resolved => "resolved".into(),
            RowStatus::New => "new".into(),
            RowStatus::Open => "open".into(),
        }
    }

    /// Waiting for someone at the desk to decide.
    #[must_use]
    pub fn needs_me(&self) -> bool {
        matches!(
            self,
            RowStatus::Failed { .. }
                | RowStatus::Held { .. }
                | RowStatus::NeedsApproval
                | RowStatus::HandedOff { .. }
                | RowStatus::New
        )
    }

    /// Has a draft waiting for approval (held or not).
    #[must_use]
    pub fn awaits_approval(&self) -> bool {
        matches!(self, RowStatus::Held { .. } | RowStatus::NeedsApproval)
    }
}

/// The window of a thread at `now`, as a row and the side pane show it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WindowInfo {
    pub state: WindowState,
    pub now: Millis,
}

impl WindowInfo {
    #[must_use]
    pub fn of(row: &ThreadSummary, now: Millis) -> WindowInfo {
        WindowInfo {
            state: window::state(&row.window(), now),
            now,
        }
    }

    /// "21h left", "human-agent tag: 5d", "template only", "closed", or "no window" for
    /// comments (public replies have none).
    #[must_use]
    pub fn label(&self, channel: Channel) -> String {
        match self.state {
            WindowState::Open { until: Some(until) } => {
                format!("{} left", duration(self.now.until(until)))
            }
            WindowState::Open { until: None } if channel == Channel::InstagramComment => {
                "public reply".into()
            }
            WindowState::Open { until: None } => "open".into(),
            WindowState::HumanAgentOnly { until } => {
                format!("human-agent tag: {}", duration(self.now.until(until)))
            }
            WindowState::TemplateOnly => "template only".into(),
            WindowState::Closed => "closed".into(),
        }
    }

    /// The label for narrow columns: "21h", "tag 5d", "template", "closed", "public".
    #[must_use]
    pub fn short_label(&self, channel: Channel) -> String {
        match self.state {
            WindowState::Open { until: Some(until) } => duration(self.now.until(until)),
            WindowState::Open { until: None } if channel == Channel::InstagramComment => {
                "public".into()
            }
            WindowState::Open { until: None } => "open".into(),
            WindowState::HumanAgentOnly { until } => {
                format!("tag {}", duration(self.now.until(until)))
            }
            WindowState::TemplateOnly => "template".into(),
            WindowState::Closed => "closed".into(),
        }
    }

    /// Sort key: the nearest deadline first, threads without one after, closed last.
    #[must_use]
    pub fn urgency(&self) -> (u8, i64) {
        match self.state {
            WindowState::Open { until: Some(until) } => (0, until.0),
            WindowState::HumanAgentOnly { until } => (1, until.0),
            WindowState::Open { until: None } => (2, 0),
            WindowState::TemplateOnly => (3, 0),
            WindowState::Closed => (4, 0),
        }
    }

    /// The window is closed to free-form replies.
    #[must_use]
    pub fn closed(&self) -> bool {
        matches!(self.state, WindowState::Closed | WindowState::TemplateOnly)
    }
}

/// A remaining time in its largest whole unit: "5d", "21h", "42m", "30s".
#[must_use]
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms >= Millis::DAY {
        format!("{}d", ms / Millis::DAY)
    } else if ms >= Millis::HOUR {
        format!("{}h", ms / Millis::HOUR)
    } else if ms >= Millis::MINUTE {
        format!("{}m", ms / Millis::MINUTE)
    } else {
        format!("{}s", ms / Millis::SECOND)
    }
}

/// The channel as a short tag for narrow columns.
#[must_use]
pub fn channel_tag(channel: Channel) -> &'static str {
    match channel {
        Channel::InstagramDm => "DM",
        Channel::InstagramComment => "CMT",
        Channel::WhatsApp => "WA",
    }
}
