#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::fixtures::{Events, NOW};
use crate::model::status::{RowStatus, WindowInfo};
use proptest::prelude::*;
use protocol::outbox::FailureClass;

fn rows(events: &[Event]) -> std::collections::HashMap<ThreadId, ThreadSummary> {
    let me = AgentId::new("ayu");
    let mut out = std::collections::HashMap::new();
    for e in events {
        if let Some(t) = thread_of(e) {
            let before = out.remove(t);
            if let Some(after) = ThreadSummary::apply(before, e, &me) {
                out.insert(t.clone(), after);
            }
        }
    }
    out
}

fn row(events: &[Event], thread: &str) -> ThreadSummary {
    rows(events).remove(&ThreadId::new(thread)).expect("row")
}

#[test]
fn a_customer_message_opens_a_row_with_unread_and_window() {
    let mut e = Events::new("t");
    e.message(
        "th",
        Channel::InstagramDm,
        "rina",
        "halo",
        NOW.plus(-3 * Millis::HOUR),
    );
    let r = row(&e.events, "th");
    assert_eq!(r.unread, 1);
    assert_eq!(r.customer.handle(), "@rina");
    assert_eq!(r.preview.as_ref().unwrap().text, "halo");
    assert_eq!(RowStatus::of(&r), RowStatus::New);
    assert_eq!(WindowInfo::of(&r, NOW).label(r.channel), "21h left");
}

#[test]
fn draft_reply_send_delivery_move_the_status_forward() {
    let mut e = Events::new("t");
    e.message("th", Channel::WhatsApp, "Siti", "stok?", NOW);
    e.draft("th", 1, "ada kak", &["fact"], &[], NOW);
    assert_eq!(
        RowStatus::of(&row(&e.events, "th")),
        RowStatus::NeedsApproval
    );
    let send = e.reply("th", "ayu", "ada kak", Some(1), NOW);
    let r = row(&e.events, "th");
    assert_eq!(r.draft, None, "approving takes the draft away");
    assert_eq!(RowStatus::of(&r), RowStatus::Sending);
    e.sent("th", send, "wamid-1", NOW);
    assert_eq!(RowStatus::of(&row(&e.events, "th")), RowStatus::Sent);
    e.status("th", Channel::WhatsApp, "Siti", "wamid-1", true, NOW);
    // A late "delivered" after "read" does not move it back.
    e.status("th", Channel::WhatsApp, "Siti", "wamid-1", false, NOW);
    assert_eq!(RowStatus::of(&row(&e.events, "th")), RowStatus::Read);
}

#[test]
fn held_drafts_failures_and_handoffs_say_why() {
    let mut e = Events::new("t");
    e.message("a", Channel::InstagramDm, "x", "?", NOW);
    e.draft("a", 1, "besok sampai", &[], &["an ungrounded date"], NOW);
    e.message("b", Channel::InstagramDm, "y", "?", NOW);
    let send = e.reply("b", "ayu", "hi", None, NOW);
    e.failed(
        "b",
        send,
        FailureClass::OutsideWindow,
        "the window closed",
        NOW,
    );
    e.message("c", Channel::InstagramDm, "z", "?", NOW);
    e.handed_off("c", "a refund question", NOW);
    let all = rows(&e.events);
    assert_eq!(
        RowStatus::of(&all[&ThreadId::new("a")]).words(),
        "held: an ungrounded date"
    );
    assert_eq!(
        RowStatus::of(&all[&ThreadId::new("b")]).words(),
        "failed: the window closed"
    );
    assert_eq!(
        RowStatus::of(&all[&ThreadId::new("c")]).words(),
        "needs a person: a refund question"
    );
}

#[test]
fn echoes_of_our_replies_are_not_the_owner_replying_but_app_replies_are() {
    let mut e = Events::new("t");
    e.message("th", Channel::InstagramDm, "x", "?", NOW);
    let send = e.reply("th", "ayu", "hi", None, NOW);
    e.sent("th", send, "echo-ours", NOW);
    // Our own reply's echo carries the provider id we recorded.
    let mut ours = e.take();
    ours.extend(rows_echo(&mut e, "th", "echo-ours"));
    let r = row(&ours, "th");
    assert!(!r.owner_replying);
    assert_eq!(r.messages, 1, "the echo is not a second message");
    e.echo("th", Channel::InstagramDm, "x", "typed in the app", NOW);
    ours.extend(e.take());
    assert!(row(&ours, "th").owner_replying);
}

fn rows_echo(e: &mut Events, thread: &str, mid: &str) -> Vec<Event> {
    e.echo(thread, Channel::InstagramDm, "x", "hi", NOW);
    let mut out = e.take();
    if let Some(EventBody::Inbound(i)) = out.last_mut().map(|e| &mut e.body)
        && let protocol::inbound::InboundKind::Message(b) = &mut i.kind
    {
        b.mid = mid.into();
    }
    out
}

#[test]
fn only_my_read_receipt_clears_unread() {
    let mut e = Events::new("t");
    let first = e.message("th", Channel::InstagramDm, "x", "1", NOW);
    e.message("th", Channel::InstagramDm, "x", "2", NOW);
    e.read("th", "someone-else", Seq(99), NOW);
    assert_eq!(row(&e.events, "th").unread, 2);
    e.read("th", "ayu", first, NOW);
    assert_eq!(
        row(&e.events, "th").unread,
        2,
        "a receipt before the newest message"
    );
    let last = e.next_seq();
    e.read("th", "ayu", last, NOW);
    assert_eq!(row(&e.events, "th").unread, 0);
}

#[test]
fn comments_remember_their_comment_for_hiding() {
    let mut e = Events::new("t");
    e.comment("c", "mei", "c-9", "ship to SG?", "post-1", NOW);
    let r = row(&e.events, "c");
    assert_eq!(r.comment_id.as_deref(), Some("c-9"));
    assert_eq!(r.comment_created_at, Some(NOW));
    assert_eq!(WindowInfo::of(&r, NOW).label(r.channel), "public reply");
}

#[test]
fn desk_events_for_unknown_threads_make_no_row() {
    let mut e = Events::new("t");
    e.claimed("ghost", "ayu", NOW);
    assert!(rows(&e.events).is_empty());
}

#[test]
fn length_left_counts_bytes_on_instagram_and_chars_on_whatsapp() {
    assert_eq!(length_left(Channel::InstagramDm, "é"), 998);
    assert_eq!(length_left(Channel::WhatsApp, "é"), 4095);
    assert_eq!(length_left(Channel::InstagramDm, &"a".repeat(1001)), -1);
}

proptest! {
    /// Applying the same events in the same order always gives the same row, and the
    /// unread count never exceeds the customer messages seen.
    #[test]
    fn rows_are_a_function_of_the_events(n in 1usize..20, reads in proptest::collection::vec(0u64..40, 0..5)) {
        let mut e = Events::new("t");
        for i in 0..n {
            e.message("th", Channel::InstagramDm, "x", &format!("m{i}"), NOW.plus(i64::try_from(i).unwrap()));
        }
        for r in reads {
            e.read("th", "ayu", Seq(r), NOW);
        }
        let a = row(&e.events, "th");
        let b = row(&e.events, "th");
        prop_assert_eq!(&a, &b);
        prop_assert!(a.unread as usize <= n);
        prop_assert_eq!(a.messages as usize, n);
    }
}

#[test]
fn a_profile_names_the_customer_and_a_refusal_leaves_the_id() {
    let mut e = Events::new("t");
    e.message(
        "th",
        Channel::InstagramDm,
        "5550001",
        "halo",
        NOW.plus(-Millis::HOUR),
    );
    e.customer_profile("th", "5550001", None, NOW.plus(-Millis::HOUR));
    let r = row(&e.events, "th");
    assert_eq!(r.customer.display(), r.customer.handle());
    assert!(r.customer.name.is_none());
    let profile = protocol::CustomerProfile {
        name: Some("Sari Wijaya".into()),
        username: Some("sari.wijaya".into()),
        follower_count: Some(812),
        follows_business: Some(true),
        followed_by_business: Some(false),
    };
    e.customer_profile("th", "5550001", Some(profile.clone()), NOW);
    let r = row(&e.events, "th");
    assert_eq!(r.customer.display(), "Sari Wijaya (@sari.wijaya)");
    let detail = crate::model::detail::ThreadDetail::from_events(&e.events);
    assert_eq!(detail.profile, Some(profile));
    // Search matches the name.
    assert!(r.customer.name.as_deref() == Some("Sari Wijaya"));
}
