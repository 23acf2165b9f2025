//! The holes an adversarial probe found, each driven end to end through the real relay and
//! the simulator: an owner claiming an account id before its real owner connects it, a
//! connect that would subscribe an account another tenant holds, a `send_message` carrying
//! an action its own command forbids, and ids that try to steer a Graph path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::connect::{ConnectSetup, ConnectWorld, IG_APP_ID, IG_NEW, ig_new_account};
use harness::desk::RawDesk;
use harness::sim::{SimWorld, eventually};
use harness::{IG_B, OPERATOR_TOKEN, Tenant};
use protocol::{Answer, Command, Rejection, ReplyContent, SenderAction, ThreadId};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
/// The token the simulator knows for [`IG_NEW`] (`ig_new_account`).
const IG_NEW_TOKEN: &str = "sim-unused-1";

async fn connect_world() -> ConnectWorld {
    ConnectWorld::start(ConnectSetup {
        accounts: vec![ig_new_account()],
        oauth: json!({"instagram_app_id": IG_APP_ID, "meta_app_id": "1000000000001",
                      "instagram_accounts": [IG_NEW]}),
        instagram: true,
        facebook: false,
        whatsapp: false,
        env: Vec::new(),
    })
    .await
    .unwrap()
}

async fn metric(fx: &ConnectWorld, name: &str) -> f64 {
    fx.w.metric(name).await.unwrap()
}

/// `POST /v1/tenants/{t}/channels` with `token`: the status and the answer.
async fn add_channel(fx: &ConnectWorld, t: &Tenant, token: &str, body: Value) -> (u16, Value) {
    fx.w.api
        .call(
            Method::POST,
            &format!("/v1/tenants/{}/channels", t.id),
            Some(token),
            Some(&body),
        )
        .await
        .unwrap()
}

/// Which tenant's threads hold `customer`, waiting until one does.
async fn holder_of(fx: &ConnectWorld, customer: &str) -> String {
    eventually("the customer's thread", WAIT, || async {
        for t in [&fx.w.a, &fx.w.b] {
            let v =
                fx.w.api
                    .expect(
                        Method::GET,
                        &format!("/v1/tenants/{}/threads", t.id),
                        OPERATOR_TOKEN,
                        None,
                        200,
                    )
                    .await?;
            let found = v["threads"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|th| th["customer"]["id"] == customer);
            if found {
                return Ok(Some(t.id.clone()));
            }
        }
        Ok(None)
    })
    .await
    .unwrap()
}

async fn dm_from(fx: &ConnectWorld, customer: &str) {
    let ans = fx
        .sim
        .api
        .inbound(&json!({"account": IG_NEW, "customer": customer, "type": "text", "text": "hi"}))
        .await
        .unwrap();
    assert_eq!(ans["status"], 200, "{ans}");
}

fn subscriptions(calls: &[Value]) -> usize {
    calls
        .iter()
        .filter(|c| {
            c["method"] == "POST"
                && c["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("/subscribed_apps"))
        })
        .count()
}

#[tokio::test]
async fn an_owner_cannot_claim_an_account_id_and_its_real_owner_connects_it() {
    let fx = connect_world().await;
    let (a, d) = (&fx.w.a, &fx.w.b);
    // Tenant A's owner claims the account before its owner (D) connects it.
    let (status, body) = add_channel(
        &fx,
        a,
        &a.owner_token,
        json!({"kind": "instagram", "account_id": IG_NEW}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(fx.channel_of(a, IG_NEW).await.unwrap().is_none());
    // D proves the account through Instagram Login and gets it; its DMs reach D only.
    let page = fx.connect_instagram(d, IG_NEW).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(fx.channel_of(d, IG_NEW).await.unwrap().is_some());
    dm_from(&fx, "5310000000000701").await;
    assert_eq!(holder_of(&fx, "5310000000000701").await, d.id);
}

#[tokio::test]
async fn a_connect_of_an_account_another_tenant_proved_changes_nothing_at_meta() {
    let fx = connect_world().await;
    let (a, d) = (&fx.w.a, &fx.w.b);
    // The operator's token check: a token of another account is refused with nothing saved.
    let (status, body) = add_channel(
        &fx,
        a,
        OPERATOR_TOKEN,
        json!({"kind": "instagram", "account_id": IG_NEW,
                         "access_token": harness::sim::TOKEN_B}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "token_mismatch");
    assert!(fx.channel_of(a, IG_NEW).await.unwrap().is_none());
    // With the account's own token, the operator configures it for A.
    let (status, body) = add_channel(
        &fx,
        a,
        OPERATOR_TOKEN,
        json!({"kind": "instagram", "account_id": IG_NEW, "access_token": IG_NEW_TOKEN}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    fx.sim.api.clear_calls().await.unwrap();
    let before = metric(&fx, "relay_connect_conflicts_total{outcome=\"refused\"}").await;
    let page = fx.connect_instagram(d, IG_NEW).await.unwrap();
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains("already connected"), "{}", page.body);
    // The account was never subscribed again with D's token.
    assert_eq!(subscriptions(&fx.sim.api.calls().await.unwrap()), 0);
    assert_eq!(
        metric(&fx, "relay_connect_conflicts_total{outcome=\"refused\"}").await,
        before + 1.0
    );
    let log = std::fs::read_to_string(&fx.w.options.log).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("connect conflict"))
        .expect("a conflict line for the operator");
    assert!(line.contains(&a.id) && line.contains(&d.id), "{line}");
    // A keeps its customers.
    dm_from(&fx, "5310000000000702").await;
    assert_eq!(holder_of(&fx, "5310000000000702").await, a.id);
    fx.w.assert_log_has_no_secrets().unwrap();
}

/// A route held without proof (a channel an owner created by raw id before that was
/// refused) yields to the proven connect only when the operator confirms the claim.
#[tokio::test]
async fn an_unproven_holder_yields_to_the_proven_connect_after_the_operator_confirms() {
    let mut fx = connect_world().await;
    let (a, d) = (fx.w.a.clone(), fx.w.b.clone());
    let (status, body) = add_channel(
        &fx,
        &a,
        OPERATOR_TOKEN,
        json!({"kind": "instagram", "account_id": IG_NEW}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // Make it what earlier versions stored for an owner's raw id: login `manual`.
    fx.w.stop().await.unwrap();
    mark_manual(&fx.w, &a, IG_NEW).await;
    fx.w.start_again().await.unwrap();
    fx.sim.api.set_relay(&fx.w.api.url).await.unwrap();
    fx.sim.api.clear_calls().await.unwrap();

    let page = fx.connect_instagram(&d, IG_NEW).await.unwrap();
    assert_eq!(page.status, 202, "{}", page.body);
    assert!(page.body.contains("operator"), "{}", page.body);
    assert_eq!(subscriptions(&fx.sim.api.calls().await.unwrap()), 0);
    dm_from(&fx, "5310000000000703").await;
    assert_eq!(
        holder_of(&fx, "5310000000000703").await,
        a.id,
        "nothing moved yet"
    );
    let log = std::fs::read_to_string(&fx.w.options.log).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("connect conflict") && l.contains("claimed"))
        .expect("a claim line for the operator");
    let line = strip_ansi(line);
    assert!(line.contains(&a.id) && line.contains(&d.id), "{line}");
    let claim = line
        .split("claim=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .trim_matches('"')
        .to_owned();
    // Only the operator confirms; then the holder is disconnected and D subscribed.
    let confirm = format!("/v1/connect-claims/{claim}/confirm");
    let (status, _) =
        fx.w.api
            .call(Method::POST, &confirm, Some(&d.owner_token), None)
            .await
            .unwrap();
    assert_eq!(status, 403);
    let done =
        fx.w.api
            .expect(Method::POST, &confirm, OPERATOR_TOKEN, None, 200)
            .await
            .unwrap();
    assert_eq!(done["tenant"], d.id.as_str(), "{done}");
    assert_eq!(done["moved_from"], a.id.as_str(), "{done}");
    assert_eq!(subscriptions(&fx.sim.api.calls().await.unwrap()), 1);
    dm_from(&fx, "5310000000000704").await;
    assert_eq!(holder_of(&fx, "5310000000000704").await, d.id);
    // A claim works once.
    fx.w.api
        .expect(Method::POST, &confirm, OPERATOR_TOKEN, None, 404)
        .await
        .unwrap();
    fx.w.assert_log_has_no_secrets().unwrap();
}

/// The log line without terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Rewrites tenant `t`'s channel of `account` as an unproven (`manual`) one, directly in
/// the relay's storage (sled or PostgreSQL, as the world runs) while it is stopped.
async fn mark_manual(w: &harness::World, t: &Tenant, account: &str) {
    use relay::principal::Principal;
    use relay::store::Store;
    let store: Box<dyn Store> = match &w.db {
        Some(db) => Box::new(relay::store::pg::PgStore::open(db.url()).await.unwrap()),
        None => Box::new(
            relay::store::sled::SledStore::open(&w.options.data_dir, Box::new(|_, _| {})).unwrap(),
        ),
    };
    let scope = Principal::Operator
        .scope(
            &protocol::TenantId::new(&t.id),
            relay::principal::Access::Manage,
        )
        .unwrap();
    let channel = store
        .channels(&scope)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.account_id == account)
        .unwrap();
    let changed = store
        .modify_channel(
            &scope,
            &channel.id,
            Box::new(|c| {
                let mut c = c.clone();
                c.login = Some("manual".into());
                Some(c)
            }),
        )
        .await
        .unwrap();
    assert!(changed.is_some_and(|m| m.changed));
    store.sync().await.unwrap();
    store.close().await.unwrap();
}

/// A DM thread and a comment thread of tenant B, a desk of its agent, credits to spend.
struct Desked {
    fx: SimWorld,
    desk: RawDesk,
    dm: ThreadId,
    dm_mid: String,
    comments: ThreadId,
    comment: String,
    other_comment: String,
}

async fn desked() -> Desked {
    let fx = SimWorld::start().await.unwrap();
    let t = fx.w.b.clone();
    let customer = "5310000000000801";
    let dm = fx
        .sim
        .api
        .inbound(&json!({"account": IG_B, "customer": customer, "type": "text", "text": "hi"}))
        .await
        .unwrap();
    let dm_mid = dm["ids"]["mid"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for (who, media) in [
        ("5310000000000802", "18040000000000901"),
        ("5310000000000803", "18040000000000902"),
    ] {
        let c = fx
            .sim
            .api
            .inbound(&json!({"account": IG_B, "customer": who, "type": "comment",
                             "text": "spam", "media_id": media, "username": "x"}))
            .await
            .unwrap();
        ids.push(c["ids"]["comment_id"].as_str().unwrap().to_owned());
    }
    fx.w.top_up(&t, 5).await.unwrap();
    let dm_thread = fx.w.thread_of(&t, customer, WAIT).await.unwrap();
    // Each commenter has a thread of their own.
    let comments = fx.w.thread_of(&t, "5310000000000802", WAIT).await.unwrap();
    fx.w.thread_of(&t, "5310000000000803", WAIT).await.unwrap();
    let desk = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    let other_comment = ids.pop().unwrap();
    Desked {
        desk,
        dm: dm_thread,
        dm_mid,
        comments,
        comment: ids.pop().unwrap(),
        other_comment,
        fx,
    }
}

/// The calls that would change something at Meta (anything but a read: the relay reads
/// customers' profiles on its own after their messages).
fn changes_at_meta(calls: &[Value]) -> Vec<&Value> {
    calls.iter().filter(|c| c["method"] != "GET").collect()
}

fn rejected(answer: &Answer) -> Option<&Rejection> {
    match answer {
        Answer::Rejected { rejection } => Some(rejection),
        Answer::Applied { .. } => None,
    }
}

#[tokio::test]
async fn send_contents_pass_the_checks_of_their_own_commands() {
    let Desked {
        fx,
        mut desk,
        dm,
        dm_mid,
        comments,
        comment,
        other_comment,
    } = desked().await;
    let t = fx.w.b.clone();
    let head = fx.w.api.head(&t.id).await.unwrap();
    fx.sim.api.clear_calls().await.unwrap();
    let hide = |id: &str| ReplyContent::HideComment {
        comment_id: id.into(),
        hidden: true,
    };
    let send = |thread: &ThreadId, content: ReplyContent| Command::SendMessage {
        thread: thread.clone(),
        content,
        reply_to: None,
    };
    // Hiding is off for this tenant: the send content is refused like the command.
    let (a, _) = desk
        .command("h1", send(&comments, hide(&comment)))
        .await
        .unwrap();
    assert!(
        matches!(rejected(&a), Some(Rejection::Forbidden { .. })),
        "{a:?}"
    );
    fx.w.api
        .expect(
            Method::PUT,
            &format!("/v1/tenants/{}/settings", t.id),
            &t.owner_token,
            Some(json!({"hide_comments": true})),
            200,
        )
        .await
        .unwrap();
    // Allowed now, but only for this thread's own comment; the other comment belongs to
    // another thread; a DM's mid is not a comment.
    for (key, thread, id) in [
        ("h2", &comments, other_comment.as_str()),
        ("h3", &comments, dm_mid.as_str()),
        ("h4", &dm, comment.as_str()),
    ] {
        let (a, _) = desk.command(key, send(thread, hide(id))).await.unwrap();
        assert!(
            matches!(rejected(&a), Some(Rejection::Invalid { .. })),
            "{key}: {a:?}"
        );
        let (a, _) = desk
            .command(
                &format!("{key}-cmd"),
                Command::HideComment {
                    thread: thread.clone(),
                    comment_id: id.into(),
                    hidden: true,
                },
            )
            .await
            .unwrap();
        assert!(
            matches!(rejected(&a), Some(Rejection::Invalid { .. })),
            "{key}: {a:?}"
        );
    }
    // A reaction and a reply must name a message of the thread they are sent in.
    let react = ReplyContent::SenderAction(SenderAction::React {
        mid: "aWdfZAG1faXRlbToxOklHTWVzc2FnZA".into(),
        emoji: "love".into(),
    });
    let (a, _) = desk.command("r1", send(&dm, react)).await.unwrap();
    assert!(
        matches!(rejected(&a), Some(Rejection::Invalid { .. })),
        "{a:?}"
    );
    let (a, _) = desk
        .command(
            "r2",
            Command::SendMessage {
                thread: dm.clone(),
                content: ReplyContent::Heart,
                reply_to: Some(other_comment.clone()),
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(rejected(&a), Some(Rejection::Invalid { .. })),
        "{a:?}"
    );
    // Nothing was recorded and nothing reached Meta.
    assert_eq!(
        fx.w.api.head(&t.id).await.unwrap(),
        head,
        "nothing recorded"
    );
    assert!(changes_at_meta(&fx.sim.api.calls().await.unwrap()).is_empty());
    // The thread's own comment is hidden through the send content, as Meta's shape says.
    let (a, _) = desk
        .command("h5", send(&comments, hide(&comment)))
        .await
        .unwrap();
    assert!(matches!(a, Answer::Applied { .. }), "{a:?}");
    eventually("the comment hidden at Meta", WAIT, || async {
        let state = fx.sim.api.comment(&comment).await?;
        Ok((state["hidden"] == true).then_some(()))
    })
    .await
    .unwrap();
    let other = fx.sim.api.comment(&other_comment).await.unwrap();
    assert_eq!(other["hidden"], false, "{other}");
}

#[tokio::test]
async fn hostile_ids_never_reach_a_graph_path() {
    let Desked {
        fx,
        mut desk,
        comments,
        ..
    } = desked().await;
    let t = fx.w.b.clone();
    fx.w.api
        .expect(
            Method::PUT,
            &format!("/v1/tenants/{}/settings", t.id),
            &t.owner_token,
            Some(json!({"hide_comments": true})),
            200,
        )
        .await
        .unwrap();
    fx.sim.api.clear_calls().await.unwrap();
    for (i, id) in [
        "me/subscribed_apps",
        "../../_sim/x?y=1#",
        "me/messages?recipient=1&message=x",
        "1%2F2",
        "1 2",
        "١٢٣",
    ]
    .into_iter()
    .enumerate()
    {
        for (j, command) in [
            Command::HideComment {
                thread: comments.clone(),
                comment_id: id.into(),
                hidden: true,
            },
            Command::SendMessage {
                thread: comments.clone(),
                content: ReplyContent::HideComment {
                    comment_id: id.into(),
                    hidden: false,
                },
                reply_to: None,
            },
        ]
        .into_iter()
        .enumerate()
        {
            let (a, _) = desk.command(&format!("x{i}-{j}"), command).await.unwrap();
            assert!(
                matches!(rejected(&a), Some(Rejection::Invalid { .. })),
                "{id:?}: {a:?}"
            );
        }
    }
    assert!(changes_at_meta(&fx.sim.api.calls().await.unwrap()).is_empty());
}

#[tokio::test]
async fn an_agent_flooding_commands_is_slowed_down_and_nothing_is_stored() {
    let fx = SimWorld::relay_for(
        SimWorld::simulator(tempfile::tempdir().unwrap().path())
            .await
            .unwrap(),
        tempfile::tempdir().unwrap(),
        vec![
            ("RELAY_DESK_COMMANDS_PER_SEC".into(), "1".into()),
            ("RELAY_DESK_COMMAND_BURST".into(), "5".into()),
        ],
    )
    .await
    .unwrap();
    let t = fx.w.a.clone();
    let head = fx.w.api.head(&t.id).await.unwrap();
    let mut one = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    let mut two = RawDesk::caught_up(&fx.w.api.url, &t.agent_token)
        .await
        .unwrap();
    let mut limited = 0;
    for i in 0..10 {
        // Refused commands (no such thread): each changes nothing.
        let desk = if i % 2 == 0 { &mut one } else { &mut two };
        let (a, _) = desk
            .command(
                &format!("f{i}"),
                Command::Resolve {
                    thread: ThreadId::new("th_nope"),
                },
            )
            .await
            .unwrap();
        match rejected(&a) {
            Some(Rejection::RateLimited { retry_after_ms }) => {
                assert!(*retry_after_ms > 0 && *retry_after_ms <= 1000, "{a:?}");
                limited += 1;
            }
            Some(Rejection::Invalid { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    // Both desks of the agent share one budget: five at once, then slowed down.
    assert_eq!(limited, 5);
    assert_eq!(fx.w.api.head(&t.id).await.unwrap(), head, "nothing stored");
    // The other agent of the tenant (the owner) has its own budget.
    let mut owner = RawDesk::caught_up(&fx.w.api.url, &t.owner_token)
        .await
        .unwrap();
    let (a, _) = owner
        .command(
            "o1",
            Command::Resolve {
                thread: ThreadId::new("th_nope"),
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(rejected(&a), Some(Rejection::Invalid { .. })),
        "{a:?}"
    );
}

#[tokio::test]
async fn every_unknown_link_answers_the_same_page_without_a_brand() {
    let fx = connect_world().await;
    let base = &fx.w.api.url;
    let mut bodies = Vec::new();
    for link in [
        format!("{}.junk", fx.w.a.id),
        format!("{}.junk", fx.w.b.id),
        "junk".to_owned(),
        format!("{}.{}", fx.w.a.id, "A".repeat(43)),
    ] {
        let page = fx
            .get(&format!("{base}/oauth/instagram/start?link={link}"))
            .await
            .unwrap();
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(!page.body.contains("Agency"), "a brand: {}", page.body);
        bodies.push(page.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:#?}");
}

#[tokio::test]
async fn a_state_carried_to_another_browser_completes_nothing() {
    let fx = connect_world().await;
    let d = &fx.w.b;
    let link = fx.link(d, "instagram").await.unwrap();
    let authorize = fx.open_link(&link).await.unwrap();
    let callback = fx
        .answer_instagram_consent(&authorize, Some(IG_NEW))
        .await
        .unwrap();
    // A browser without the flow's cookie, and one with another browser's cookie.
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = harness::connect::fetch(bare.get(&callback)).await.unwrap();
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("same browser"), "{}", page.body);
    let other = harness::connect::fetch(
        bare.get(&callback)
            .header("cookie", format!("chatdesk_connect={}", "B".repeat(43))),
    )
    .await
    .unwrap();
    assert_eq!(other.status, 400, "{}", other.body);
    assert!(fx.channel_of(d, IG_NEW).await.unwrap().is_none());
    // Neither spent the state: the browser that started the flow still finishes it.
    let page = fx.get(&callback).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(fx.channel_of(d, IG_NEW).await.unwrap().is_some());
}

#[tokio::test]
async fn oversized_bodies_answer_the_json_error_shape_everywhere() {
    let w = harness::World::with_env(vec![("RELAY_MAX_BODY_BYTES".into(), "2048".into())])
        .await
        .unwrap();
    let big = "x".repeat(4096);
    for path in [
        "/meta/deauthorize",
        "/meta/data-deletion",
        "/oauth/facebook/choose",
        "/whatsapp/embedded-signup",
        "/webhooks/instagram",
    ] {
        let resp = w
            .api
            .http
            .post(format!("{}{path}", w.api.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 413, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
}
