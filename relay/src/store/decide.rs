//! Whether a desk command may happen, as a pure function of the thread as it is now.
//!
//! One decision per effect: a `send_message` content that has a dedicated command (hiding a
//! comment) passes exactly that command's permission, setting and ownership checks, and
//! every id a command carries (a comment, a message reacted to or replied to) must be the
//! shape of Meta's ids and name a stored message of the command's own thread
//! ([`named_ids`] says which the store must look up for [`Facts::named`]).
//!
//! The store calls this under the tenant's write lock, so the decision and the event it
//! produces can never interleave with another command on the same tenant: two agents
//! editing the same draft version get one success and one conflict, never two winners.

use super::{
    CommandRequest, MessageContent, MessageView, SendState, SendView, TenantSettings, ThreadView,
};
use protocol::window::{self, ReplyKind, Sender};
use protocol::{
    Channel, Command, DeskAction, Draft, DraftAuthor, Rejection, ReplyContent, Role, SenderAction,
};

/// Longest reply text the desk may queue; channel-specific limits are checked when sending.
pub const MAX_TEXT_CHARS: usize = 4096;

/// What the caller looked up for a decision, under the tenant's lock.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    pub thread: Option<&'a ThreadView>,
    /// The stored messages (of any thread) whose Meta ids the command names
    /// ([`named_ids`]); an id with no stored message is simply absent.
    pub named: &'a [MessageView],
    /// The reply named by `RetrySend` / `DiscardSend`.
    pub send: Option<&'a SendView>,
    /// The tenant's credit balance.
    pub credits: i64,
    pub settings: &'a TenantSettings,
}

/// The action `request` records, or why it is refused.
///
/// # Errors
/// The typed rejection the desk shows.
pub fn decide(facts: &Facts<'_>, request: &CommandRequest) -> Result<DeskAction, Rejection> {
    let Command::Confirm { command } = &request.command else {
        let action = decide_one(facts, request)?;
        return match unconfirmed(facts.thread, request, &action) {
            Some(reasons) => Err(Rejection::Unconfirmed { reasons }),
            None => Ok(action),
        };
    };
    if !matches!(
        **command,
        Command::ApproveDraft { .. } | Command::SendReply { .. } | Command::SendMessage { .. }
    ) {
        return Err(invalid("only a reply can be confirmed"));
    }
    let inner = CommandRequest {
        command: (**command).clone(),
        ..request.clone()
    };
    decide_one(facts, &inner)
}

/// Why a person's reply needs a second, explicit confirmation: the classifier holds the
/// text (checked by the session into [`crate::store::Vetted::held`]), or it is a draft the
/// classifier held. `None`: it may go as it is.
fn unconfirmed(
    thread: Option<&ThreadView>,
    request: &CommandRequest,
    action: &DeskAction,
) -> Option<Vec<String>> {
    let DeskAction::ReplyQueued {
        from_draft,
        content,
        ..
    } = action
    else {
        return None;
    };
    if matches!(content, Some(ReplyContent::HideComment { .. })) {
        return None;
    }
    let mut reasons = request.vetted.held.clone();
    if let (Some(version), Some(draft)) = (from_draft, thread.and_then(|t| t.draft.as_ref()))
        && draft.version == *version
        && let Some(basis) = &draft.basis
    {
        reasons.extend(basis.held.iter().cloned());
    }
    (!reasons.is_empty()).then_some(reasons)
}

fn decide_one(facts: &Facts<'_>, request: &CommandRequest) -> Result<DeskAction, Rejection> {
    let Facts {
        thread,
        named,
        send,
        credits,
        settings,
    } = *facts;
    // Sending a message costs a credit; at zero the reply waits (a draft stays for review).
    let needs_credit = match &request.command {
        Command::ApproveDraft { .. } | Command::SendReply { .. } => true,
        Command::SendMessage { content, .. } => content.is_message(),
        Command::RetrySend { .. } => send.is_some_and(SendView::is_message),
        _ => false,
    };
    if needs_credit && credits < 1 {
        return Err(Rejection::NoCredits);
    }
    let Some(thread) = thread else {
        return Err(invalid("no such thread"));
    };
    let agent = &request.agent;
    let owner = request.role == Role::Owner;
    match &request.command {
        Command::Claim { .. } => match &thread.assignee {
            Some(holder) if holder != agent && !owner => Err(Rejection::Forbidden {
                reason: format!("{holder} is working this thread; ask an owner to reassign it"),
            }),
            _ => Ok(DeskAction::Claimed),
        },
        Command::Release { .. } => match &thread.assignee {
            None => Err(invalid("the thread is not claimed")),
            Some(holder) if holder != agent && !owner => Err(Rejection::Forbidden {
                reason: format!("only {holder} or an owner can release this thread"),
            }),
            Some(_) => Ok(DeskAction::Released),
        },
        Command::EditDraft {
            base_version, text, ..
        } => {
            let current = thread.draft.as_ref().map_or(0, |d| d.version);
            if *base_version != current {
                return Err(conflict(thread));
            }
            check_text(text)?;
            Ok(DeskAction::DraftEdited {
                draft: Draft {
                    version: thread.draft_versions + 1,
                    text: text.clone(),
                    author: DraftAuthor::Agent(agent.clone()),
                    basis: None,
                },
            })
        }
        Command::ApproveDraft { version, .. } => {
            let draft = current_draft(thread, *version)?;
            check_window(thread, request)?;
            Ok(DeskAction::ReplyQueued {
                text: draft.text.clone(),
                from_draft: Some(draft.version),
                content: None,
                reply_to: None,
            })
        }
        Command::DiscardDraft { version, .. } => {
            current_draft(thread, *version)?;
            Ok(DeskAction::DraftDiscarded { version: *version })
        }
        Command::SendReply { text, .. } => {
            check_text(text)?;
            check_window(thread, request)?;
            Ok(DeskAction::ReplyQueued {
                text: text.clone(),
                from_draft: None,
                content: None,
                reply_to: None,
            })
        }
        Command::SendMessage {
            content: ReplyContent::HideComment { comment_id, hidden },
            reply_to,
            ..
        } => {
            if reply_to.is_some() {
                return Err(invalid("a comment moderation replies to nothing"));
            }
            hide(thread, named, settings, comment_id)?;
            Ok(DeskAction::ReplyQueued {
                text: ReplyContent::HideComment {
                    comment_id: comment_id.clone(),
                    hidden: *hidden,
                }
                .preview(),
                from_draft: None,
                content: Some(ReplyContent::HideComment {
                    comment_id: comment_id.clone(),
                    hidden: *hidden,
                }),
                reply_to: None,
            })
        }
        Command::SendMessage {
            content, reply_to, ..
        } => {
            content.check(thread.channel).map_err(invalid)?;
            if let Some(mid) = reply_to {
                own_message(thread, named, mid, "the message replied to")?;
            }
            if let ReplyContent::SenderAction(
                SenderAction::React { mid, .. } | SenderAction::Unreact { mid },
            ) = content
            {
                own_message(thread, named, mid, "the message reacted to")?;
            }
            check_text(&content.preview())?;
            check_content_window(thread, content, request)?;
            Ok(DeskAction::ReplyQueued {
                text: content.preview(),
                from_draft: None,
                content: Some(content.clone()),
                reply_to: reply_to.clone(),
            })
        }
        Command::RetrySend { send: seq, .. } => {
            let send = failed_send(thread, send)?;
            if send
                .failure
                .as_ref()
                .is_some_and(|f| f.class == protocol::FailureClass::OutsideWindow)
            {
                check_window(thread, request)?;
            }
            Ok(DeskAction::SendRetried { send: *seq })
        }
        Command::DiscardSend { send: seq, .. } => {
            failed_send(thread, send)?;
            Ok(DeskAction::SendDiscarded { send: *seq })
        }
        Command::ResumeDrafting { .. } if !thread.owner_replying => {
            Err(invalid("drafting is not paused on this thread"))
        }
        Command::ResumeDrafting { .. } => Ok(DeskAction::DraftingResumed),
        Command::Resolve { .. } if thread.resolved => {
            Err(invalid("the thread is already resolved"))
        }
        Command::Resolve { .. } => Ok(DeskAction::Resolved),
        Command::Reopen { .. } if !thread.resolved => Err(invalid("the thread is already open")),
        Command::Reopen { .. } => Ok(DeskAction::Reopened),
        Command::MarkRead { up_to, .. } => {
            if *up_to > thread.last_seq {
                return Err(invalid(format!(
                    "cannot mark read past the thread's newest event ({})",
                    thread.last_seq
                )));
            }
            Ok(DeskAction::Read { up_to: *up_to })
        }
        Command::HideComment {
            comment_id, hidden, ..
        } => {
            hide(thread, named, settings, comment_id)?;
            Ok(DeskAction::CommentHidden {
                comment_id: comment_id.clone(),
                hidden: *hidden,
            })
        }
        // Any person of the tenant may note anything on any of its threads: a note reaches
        // nobody outside the tenant, so no window, credit or claim applies.
        Command::AddNote { text, .. } => {
            check_length(text, "note")?;
            Ok(DeskAction::NoteAdded { text: text.clone() })
        }
        Command::Assign { to, .. } => {
            if !owner && !settings.agents_assign {
                return Err(Rejection::Forbidden {
                    reason: "only owners assign threads here; an owner can allow agents to \
                             in the settings"
                        .into(),
                });
            }
            if !request.vetted.assignee_known {
                return Err(invalid(format!("{to} is not an agent of this business")));
            }
            if thread.assignee.as_ref() == Some(to) {
                return Err(invalid(format!("the thread is already {to}'s")));
            }
            Ok(DeskAction::Assigned { to: to.clone() })
        }
        Command::Snooze { for_ms, .. } => {
            if thread.resolved {
                return Err(invalid("a resolved thread cannot be snoozed"));
            }
            let until = match for_ms {
                None => None,
                Some(0) => return Err(invalid("a snooze lasts at least a moment")),
                Some(ms) => Some(
                    request
                        .received_at
                        .plus(i64::try_from(*ms).unwrap_or(i64::MAX)),
                ),
            };
            Ok(DeskAction::Snoozed { until })
        }
        Command::Unsnooze { .. } if thread.snooze.is_none() => {
            Err(invalid("the thread is not snoozed"))
        }
        Command::Unsnooze { .. } => Ok(DeskAction::Unsnoozed),
        Command::Confirm { .. } => Err(invalid("a confirmation confirms one reply")),
    }
}

/// The Meta ids a command names, which the store looks up (in any thread) for
/// [`Facts::named`].
#[must_use]
pub fn named_ids(command: &Command) -> Vec<&str> {
    match command {
        Command::Confirm { command } => named_ids(command),
        Command::HideComment { comment_id, .. } => vec![comment_id],
        Command::SendMessage {
            content, reply_to, ..
        } => {
            let in_content = match content {
                ReplyContent::HideComment { comment_id, .. } => Some(comment_id.as_str()),
                ReplyContent::SenderAction(
                    SenderAction::React { mid, .. } | SenderAction::Unreact { mid },
                ) => Some(mid.as_str()),
                _ => None,
            };
            in_content.into_iter().chain(reply_to.as_deref()).collect()
        }
        _ => Vec::new(),
    }
}

/// Hiding or unhiding a comment, whichever command carries it: the tenant allows it, the
/// thread is a comment thread, and the id is one of its comments.
fn hide(
    thread: &ThreadView,
    named: &[MessageView],
    settings: &TenantSettings,
    comment_id: &str,
) -> Result<(), Rejection> {
    if !settings.hide_comments {
        return Err(Rejection::Forbidden {
            reason: "this business has not allowed hiding comments; an owner can change that \
                     in the settings"
                .into(),
        });
    }
    if thread.channel != Channel::InstagramComment {
        return Err(invalid("only comments can be hidden"));
    }
    if !crate::meta_id::is_object_id(comment_id) {
        return Err(invalid("the comment id is not one of Meta's ids"));
    }
    match named.iter().find(|m| m.mid == comment_id) {
        Some(m) if m.thread == thread.id && matches!(m.content, MessageContent::Comment { .. }) => {
            Ok(())
        }
        _ => Err(invalid("no such comment in this thread")),
    }
}

/// `mid` is a Meta message id of a message stored in this thread.
fn own_message(
    thread: &ThreadView,
    named: &[MessageView],
    mid: &str,
    what: &str,
) -> Result<(), Rejection> {
    if !crate::meta_id::is_message_id(mid) {
        return Err(invalid(format!("{what} is not one of Meta's message ids")));
    }
    if named.iter().any(|m| m.mid == mid && m.thread == thread.id) {
        Ok(())
    } else {
        Err(invalid(format!("{what} is not a message of this thread")))
    }
}

/// The named reply, if it belongs to this thread and has failed.
fn failed_send<'a>(
    thread: &ThreadView,
    send: Option<&'a SendView>,
) -> Result<&'a SendView, Rejection> {
    match send {
        Some(s) if s.thread == thread.id && s.state == SendState::Failed => Ok(s),
        Some(s) if s.thread == thread.id => Err(invalid(format!(
            "the reply is {}, not failed",
            s.state.name()
        ))),
        _ => Err(invalid("no such reply in this thread")),
    }
}

fn invalid(reason: impl Into<String>) -> Rejection {
    Rejection::Invalid {
        reason: reason.into(),
    }
}

fn conflict(thread: &ThreadView) -> Rejection {
    Rejection::Conflict {
        current: thread.draft.clone(),
    }
}

fn current_draft(thread: &ThreadView, version: u32) -> Result<&Draft, Rejection> {
    match &thread.draft {
        Some(d) if d.version == version => Ok(d),
        _ => Err(conflict(thread)),
    }
}

fn check_text(text: &str) -> Result<(), Rejection> {
    check_length(text, "reply")
}

/// Not empty and at most [`MAX_TEXT_CHARS`]; `what` names the text in the refusal.
fn check_length(text: &str, what: &str) -> Result<(), Rejection> {
    if text.trim().is_empty() {
        return Err(invalid(format!("the {what} is empty")));
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(invalid(format!(
            "the {what} has {chars} characters; at most {MAX_TEXT_CHARS} fit"
        )));
    }
    Ok(())
}

/// Replies are written or approved by a person, so the human rules apply; comment threads
/// can always be answered publicly.
/// The window rules for a rich content: templates go any time, a private reply only once
/// and within 7 days of the comment, moderation any time, the rest like text.
fn check_content_window(
    thread: &ThreadView,
    content: &ReplyContent,
    request: &CommandRequest,
) -> Result<(), Rejection> {
    match content {
        ReplyContent::Template { .. } | ReplyContent::HideComment { .. } => Ok(()),
        ReplyContent::PrivateReply { .. } => {
            let allowed = window::allowed(&thread.window(), Sender::Human, request.received_at);
            if allowed.iter().any(|a| a.kind == ReplyKind::PrivateReply) {
                Ok(())
            } else {
                Err(Rejection::OutsideWindow {
                    reason: "this comment's private reply was already sent, or 7 days have \
                             passed since the comment"
                        .into(),
                })
            }
        }
        _ => check_window(thread, request),
    }
}

fn check_window(thread: &ThreadView, request: &CommandRequest) -> Result<(), Rejection> {
    if thread.channel == Channel::InstagramComment {
        return Ok(());
    }
    if window::choose(&thread.window(), Sender::Human, request.received_at).is_some() {
        return Ok(());
    }
    let reason = match thread.channel {
        Channel::WhatsApp => {
            "the 24-hour WhatsApp window is closed; only an approved template can be sent"
        }
        _ => "the 7-day window for replies is closed; wait for the customer to write again",
    };
    Err(Rejection::OutsideWindow {
        reason: reason.into(),
    })
}

#[cfg(test)]
mod tests;
