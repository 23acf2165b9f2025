//! What a desk asks the relay to do, and how the relay answers.
//!
//! Every command travels with a client-made [`CommandKey`]: the relay remembers the first
//! answer per agent and key, so a command replayed after a reconnect or a crash returns
//! that answer again and has no second effect. Commands name threads only by id; the
//! tenant always comes from the connection's token, never from a frame.

use crate::desk::Draft;
// The key lives with the other ids, so `desk` (which records it) need not import this file.
pub use crate::ids::CommandKey;
use crate::ids::{AgentId, Seq, ThreadId};
use crate::reply::ReplyContent;
use serde::{Deserialize, Serialize};

/// An action on one thread of the desk's own tenant.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Take the thread: other agents see who is working it.
    Claim {
        thread: ThreadId,
    },
    Release {
        thread: ThreadId,
    },
    /// Replace the draft's text; `base_version` is the version the edit started from (0 when
    /// there is no draft yet). A stale base is a conflict, never a silent overwrite.
    EditDraft {
        thread: ThreadId,
        base_version: u32,
        text: String,
    },
    /// Approve exactly this version for sending.
    ApproveDraft {
        thread: ThreadId,
        version: u32,
    },
    DiscardDraft {
        thread: ThreadId,
        version: u32,
    },
    /// Send something richer than text: media, buttons, a template, a private reply to a
    /// comment, a sender action. `reply_to` quotes a customer message (WhatsApp).
    SendMessage {
        thread: ThreadId,
        content: ReplyContent,
        reply_to: Option<String>,
    },
    /// Let the drafter (and auto-send) work on a thread again after the business answered
    /// from the native app.
    ResumeDrafting {
        thread: ThreadId,
    },
    /// Try a failed reply again (after reconnecting, topping up, or when Meta allows it).
    RetrySend {
        thread: ThreadId,
        /// The reply: the sequence number of the event that queued it.
        send: Seq,
    },
    /// Give up on a failed reply, so the thread's later replies go on.
    DiscardSend {
        thread: ThreadId,
        send: Seq,
    },
    /// Send a reply the agent wrote, without a draft.
    SendReply {
        thread: ThreadId,
        text: String,
    },
    Resolve {
        thread: ThreadId,
    },
    Reopen {
        thread: ThreadId,
    },
    /// Everything up to `up_to` (a seq of this tenant's log) has been read by this agent.
    MarkRead {
        thread: ThreadId,
        up_to: Seq,
    },
    /// Hide (or unhide) a comment of a comment thread.
    HideComment {
        thread: ThreadId,
        comment_id: String,
        hidden: bool,
    },
    /// A private note on the thread for the tenant's people: never sent to Meta. (Last, so
    /// older binary encodings of the other commands keep their tags.)
    AddNote {
        thread: ThreadId,
        text: String,
    },
    /// `command` again, after the relay refused it as [`Rejection::Unconfirmed`]: the agent
    /// read the reasons and confirms the text as it is. Only a sending command may be
    /// confirmed, and only once (no nesting).
    Confirm {
        command: Box<Command>,
    },
    /// Give the thread to `to`, an agent of the same tenant (owners always; agents when the
    /// tenant's settings allow it).
    Assign {
        thread: ThreadId,
        to: AgentId,
    },
    /// Put the thread aside for `for_ms` of the relay's clock (it decides the moment, so
    /// desks with skewed clocks agree), or until the customer writes again when `None`. A
    /// customer message always wakes it.
    Snooze {
        thread: ThreadId,
        for_ms: Option<u64>,
    },
    Unsnooze {
        thread: ThreadId,
    },
}

impl Command {
    #[must_use]
    pub fn thread(&self) -> &ThreadId {
        match self {
            Command::Claim { thread }
            | Command::Release { thread }
            | Command::EditDraft { thread, .. }
            | Command::ApproveDraft { thread, .. }
            | Command::DiscardDraft { thread, .. }
            | Command::SendReply { thread, .. }
            | Command::SendMessage { thread, .. }
            | Command::RetrySend { thread, .. }
            | Command::ResumeDrafting { thread }
            | Command::DiscardSend { thread, .. }
            | Command::Resolve { thread }
            | Command::Reopen { thread }
            | Command::MarkRead { thread, .. }
            | Command::HideComment { thread, .. }
            | Command::AddNote { thread, .. }
            | Command::Assign { thread, .. }
            | Command::Snooze { thread, .. }
            | Command::Unsnooze { thread } => thread,
            Command::Confirm { command } => command.thread(),
        }
    }

    /// A short, stable name for logs and metrics.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Command::Claim { .. } => "claim",
            Command::Release { .. } => "release",
            Command::EditDraft { .. } => "edit_draft",
            Command::ApproveDraft { .. } => "approve_draft",
            Command::DiscardDraft { .. } => "discard_draft",
            Command::SendReply { .. } => "send_reply",
            Command::SendMessage { .. } => "send_message",
            Command::RetrySend { .. } => "retry_send",
            Command::ResumeDrafting { .. } => "resume_drafting",
            Command::DiscardSend { .. } => "discard_send",
            Command::Resolve { .. } => "resolve",
            Command::Reopen { .. } => "reopen",
            Command::MarkRead { .. } => "mark_read",
            Command::HideComment { .. } => "hide_comment",
            Command::AddNote { .. } => "add_note",
            Command::Confirm { .. } => "confirm",
            Command::Assign { .. } => "assign",
            Command::Snooze { .. } => "snooze",
            Command::Unsnooze { .. } => "unsnooze",
        }
    }
}

/// Why the relay refused a command. Each carries what the desk needs to show or recover.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// The draft changed since the version the command was based on; `current` is the
    /// draft as it is now (`None`: there is no draft any more).
    Conflict { current: Option<Draft> },
    /// The agent's role does not allow this, or another agent holds the thread.
    Forbidden { reason: String },
    /// The command does not fit the thread (unknown thread, empty text, wrong kind).
    Invalid { reason: String },
    /// Meta's messaging window does not allow a reply now.
    OutsideWindow { reason: String },
    /// The tenant has no reply credits left.
    NoCredits,
    /// The agent sent more commands than the relay takes; send it again after
    /// `retry_after_ms` (nothing was recorded).
    RateLimited { retry_after_ms: u64 },
    /// The agent's own text needs a second, explicit confirmation: the safety classifier
    /// holds it (an ungrounded price, link or phone number…) or it is a draft the
    /// classifier held. Sending [`Command::Confirm`] with the same command sends it.
    Unconfirmed { reasons: Vec<String> },
}

impl Rejection {
    /// One sentence for people.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Rejection::Conflict { current: Some(d) } => format!(
                "the draft changed meanwhile (now version {}); review it and edit again",
                d.version
            ),
            Rejection::Conflict { current: None } => {
                "the draft was discarded or sent meanwhile".to_owned()
            }
            Rejection::Forbidden { reason }
            | Rejection::Invalid { reason }
            | Rejection::OutsideWindow { reason } => reason.clone(),
            Rejection::NoCredits => "no reply credits left; ask your partner to top up".into(),
            Rejection::RateLimited { retry_after_ms } => format!(
                "too many commands at once; sent again in {:.1} s",
                *retry_after_ms as f64 / 1000.0
            ),
            Rejection::Unconfirmed { reasons } => {
                format!("needs confirming: {}", reasons.join("; "))
            }
        }
    }
}

/// The relay's answer to one command, remembered per agent and key.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Applied; `seq` is the event that recorded it in the tenant's log.
    Applied {
        seq: Seq,
    },
    Rejected {
        rejection: Rejection,
    },
}
