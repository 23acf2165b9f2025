use super::*;
use proptest::prelude::*;

const T0: Millis = Millis(1_750_000_000_000);

fn dm(last: Millis) -> ThreadWindow {
    ThreadWindow {
        channel: Some(Channel::InstagramDm),
        last_customer_message_at: Some(last),
        ..ThreadWindow::default()
    }
}

fn wa(last: Millis) -> ThreadWindow {
    ThreadWindow {
        channel: Some(Channel::WhatsApp),
        last_customer_message_at: Some(last),
        ..ThreadWindow::default()
    }
}

fn comment(created: Millis, used: bool) -> ThreadWindow {
    ThreadWindow {
        channel: Some(Channel::InstagramComment),
        comment_created_at: Some(created),
        private_reply_used: used,
        ..ThreadWindow::default()
    }
}

#[track_caller]
fn check(thread: &ThreadWindow, sender: Sender, after_ms: i64, expected: &[ReplyKind]) {
    let got: Vec<ReplyKind> = allowed(thread, sender, T0.plus(after_ms))
        .iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(got, expected, "after {after_ms} ms");
}

const H: i64 = Millis::HOUR;
const D: i64 = Millis::DAY;

#[test]
fn instagram_standard_window_edges() {
    use ReplyKind::{HumanAgent, Standard};
    let t = dm(T0);
    check(&t, Sender::Automation, 0, &[Standard]);
    check(&t, Sender::Automation, 24 * H - 1, &[Standard]);
    check(&t, Sender::Automation, 24 * H, &[Standard]);
    check(&t, Sender::Automation, 24 * H + 1, &[]);
    check(&t, Sender::Human, 24 * H, &[Standard, HumanAgent]);
    check(&t, Sender::Human, 24 * H + 1, &[HumanAgent]);
    check(&t, Sender::Human, 7 * D, &[HumanAgent]);
    check(&t, Sender::Human, 7 * D + 1, &[]);
}

#[test]
fn human_agent_tag_is_chosen_only_after_standard_window_and_only_for_people() {
    let t = dm(T0);
    let at = |ms| T0.plus(ms);
    assert_eq!(
        choose(&t, Sender::Human, at(24 * H)),
        Some(Allowance {
            kind: ReplyKind::Standard,
            until: Some(at(24 * H))
        })
    );
    assert_eq!(
        choose(&t, Sender::Human, at(24 * H + 1)),
        Some(Allowance {
            kind: ReplyKind::HumanAgent,
            until: Some(at(7 * D))
        })
    );
    assert_eq!(choose(&t, Sender::Automation, at(24 * H + 1)), None);
    assert_eq!(choose(&t, Sender::Human, at(7 * D + 1)), None);
}

#[test]
fn thread_without_customer_message_has_no_dm_window() {
    let t = ThreadWindow {
        channel: Some(Channel::InstagramDm),
        ..ThreadWindow::default()
    };
    check(&t, Sender::Human, 0, &[]);
    assert_eq!(state(&t, T0), WindowState::Closed);
}

#[test]
fn self_messaging_has_no_deadline() {
    let t = ThreadWindow {
        self_messaging: true,
        ..dm(T0)
    };
    assert_eq!(
        allowed(&t, Sender::Automation, T0.plus(365 * D)),
        vec![Allowance {
            kind: ReplyKind::Standard,
            until: None
        }]
    );
}

#[test]
fn private_reply_once_within_seven_days_public_reply_always() {
    use ReplyKind::{PrivateReply, PublicReply};
    let fresh = comment(T0, false);
    check(&fresh, Sender::Automation, 0, &[PublicReply, PrivateReply]);
    check(
        &fresh,
        Sender::Automation,
        7 * D,
        &[PublicReply, PrivateReply],
    );
    check(&fresh, Sender::Automation, 7 * D + 1, &[PublicReply]);
    check(&fresh, Sender::Human, 400 * D, &[PublicReply]);
    let used = comment(T0, true);
    check(&used, Sender::Human, 0, &[PublicReply]);
}

#[test]
fn whatsapp_free_form_then_templates() {
    use ReplyKind::{WhatsAppFreeForm, WhatsAppTemplate};
    let t = wa(T0);
    check(
        &t,
        Sender::Automation,
        24 * H,
        &[WhatsAppFreeForm, WhatsAppTemplate],
    );
    check(&t, Sender::Automation, 24 * H + 1, &[WhatsAppTemplate]);
    check(&t, Sender::Human, 24 * H + 1, &[WhatsAppTemplate]);
    assert_eq!(state(&t, T0.plus(24 * H + 1)), WindowState::TemplateOnly);
    assert_eq!(
        state(&t, T0),
        WindowState::Open {
            until: Some(T0.plus(24 * H))
        }
    );
}

#[test]
fn states_for_the_desk() {
    let t = dm(T0);
    assert_eq!(
        state(&t, T0.plus(H)),
        WindowState::Open {
            until: Some(T0.plus(24 * H))
        }
    );
    assert_eq!(
        state(&t, T0.plus(2 * D)),
        WindowState::HumanAgentOnly {
            until: T0.plus(7 * D)
        }
    );
    assert_eq!(state(&t, T0.plus(8 * D)), WindowState::Closed);
    assert_eq!(
        state(&comment(T0, true), T0.plus(30 * D)),
        WindowState::Open { until: None }
    );
}

fn any_thread() -> impl Strategy<Value = ThreadWindow> {
    let channel = prop_oneof![
        Just(None),
        Just(Some(Channel::InstagramDm)),
        Just(Some(Channel::InstagramComment)),
        Just(Some(Channel::WhatsApp)),
    ];
    let moment = proptest::option::of((-10 * D..10 * D).prop_map(|d| T0.plus(d)));
    (
        channel,
        moment.clone(),
        moment,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(channel, last, created, used, self_messaging)| ThreadWindow {
                channel,
                last_customer_message_at: last,
                comment_created_at: created,
                private_reply_used: used,
                self_messaging,
            },
        )
}

fn any_sender() -> impl Strategy<Value = Sender> {
    prop_oneof![Just(Sender::Human), Just(Sender::Automation)]
}

proptest! {
    #[test]
    fn more_time_never_opens_a_window(
        thread in any_thread(),
        sender in any_sender(),
        start in (-20 * D..20 * D),
        extra in 0i64..(30 * D),
    ) {
        let early = T0.plus(start);
        let late = early.plus(extra);
        let before = allowed(&thread, sender, early);
        for later in allowed(&thread, sender, late) {
            prop_assert!(before.contains(&later), "{later:?} allowed at {late} but not at {early}");
        }
        if choose(&thread, sender, late).is_some() {
            prop_assert!(choose(&thread, sender, early).is_some());
        }
    }

    #[test]
    fn automation_never_gets_the_human_agent_tag(
        thread in any_thread(),
        at in (-20 * D..20 * D),
    ) {
        let now = T0.plus(at);
        prop_assert!(!permits(&thread, Sender::Automation, ReplyKind::HumanAgent, now));
    }

    #[test]
    fn deadlines_are_never_in_the_past(
        thread in any_thread(),
        sender in any_sender(),
        at in (-20 * D..20 * D),
    ) {
        let now = T0.plus(at);
        for a in allowed(&thread, sender, now) {
            if let Some(until) = a.until {
                prop_assert!(until >= now);
            }
        }
    }
}
