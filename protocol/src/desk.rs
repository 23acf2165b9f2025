//! What agents did in the desk, as events of the tenant's log: claims, drafts, approvals,
//! replies, resolutions, reads and comment moderation. Every desk of the tenant replays
//! them, so all desks agree on who holds a thread and which draft version is current.

use crate::ids::CommandKey;
use crate::ids::{AgentId, ChannelId, Seq, ThreadId};
use crate::reply::ReplyContent;
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// Who wrote a draft's current text.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftAuthor {
    Agent(AgentId),
    /// The relay's drafter.
    Drafter,
}

/// The reply under review on a thread. `version` grows by one with every change, so a
/// command based on an older version is detected as a conflict.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Draft {
    pub version: u32,
    pub text: String,
    pub author: DraftAuthor,
    /// For the relay's drafts: what it was built from and what the classifier said (boxed:
    /// drafts travel inside rejections, which stay small).
    pub basis: Option<Box<DraftBasis>>,
}

/// What a drafted reply rests on, so an agent can check it before approving.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DraftBasis {
    /// What the customer asked (`price`, `availability`, …).
    pub intents: Vec<String>,
    /// The knowledge it cites: `sku:…`, `policy:…`, `business:…`.
    pub facts: Vec<String>,
    /// Why the safety classifier holds it for a person; empty when it passed.
    pub held: Vec<String>,
    /// Who wrote the text: `grounded` (the built-in drafter), `llm`, or the grounded drafter
    /// with why the model was not used.
    pub source: String,
}

/// One agent action, recorded in the log once the relay accepted it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DeskEvent {
    pub channel_id: ChannelId,
    pub thread: ThreadId,
    pub agent: AgentId,
    /// The command this came from (`None` for the relay's own actions).
    pub key: Option<CommandKey>,
    pub action: DeskAction,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeskAction {
    Claimed,
    Released,
    DraftEdited {
        draft: Draft,
    },
    DraftDiscarded {
        version: u32,
    },
    /// A reply queued for sending by this event's agent: the text of the draft version it
    /// approved (`from_draft`), or a reply the agent wrote. The draft is gone afterwards.
    ReplyQueued {
        /// The text, or a preview of a richer `content`.
        text: String,
        from_draft: Option<u32>,
        /// What is sent when it is more than `text` alone.
        content: Option<ReplyContent>,
        /// The customer message this answers (WhatsApp shows it as a quote).
        reply_to: Option<String>,
    },
    /// A failed reply goes back into the queue.
    SendRetried {
        send: Seq,
    },
    /// A failed reply is given up.
    SendDiscarded {
        send: Seq,
    },
    /// Drafting and auto-send work on the thread again (they pause when the business
    /// answers from the native app).
    DraftingResumed,
    /// The drafter will not answer this one: a person must (off-domain, complaint, …).
    HandedOff {
        reason: String,
        intents: Vec<String>,
    },
    Resolved,
    Reopened,
    Read {
        up_to: Seq,
    },
    CommentHidden {
        comment_id: String,
        hidden: bool,
    },
    /// A private note by this event's agent: shown to the tenant's desks, never sent. (Last,
    /// so stored events of the other kinds keep their tags.)
    NoteAdded {
        text: String,
    },
    /// The thread was given to `to` by this event's agent.
    Assigned {
        to: AgentId,
    },
    /// Put aside until `until` (relay time), or until the customer writes when `None`.
    Snoozed {
        until: Option<Millis>,
    },
    /// Back in the queue: by a person, or by the relay when the time came.
    Unsnoozed,
}

impl DeskAction {
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            DeskAction::Claimed => "claimed",
            DeskAction::Released => "released",
            DeskAction::DraftEdited { .. } => "draft_edited",
            DeskAction::DraftDiscarded { .. } => "draft_discarded",
            DeskAction::ReplyQueued { .. } => "reply_queued",
            DeskAction::SendRetried { .. } => "send_retried",
            DeskAction::SendDiscarded { .. } => "send_discarded",
            DeskAction::HandedOff { .. } => "handed_off",
            DeskAction::DraftingResumed => "drafting_resumed",
            DeskAction::Resolved => "resolved",
            DeskAction::Reopened => "reopened",
            DeskAction::Read { .. } => "read",
            DeskAction::CommentHidden { .. } => "comment_hidden",
            DeskAction::NoteAdded { .. } => "note_added",
            DeskAction::Assigned { .. } => "assigned",
            DeskAction::Snoozed { .. } => "snoozed",
            DeskAction::Unsnoozed => "unsnoozed",
        }
    }
}
