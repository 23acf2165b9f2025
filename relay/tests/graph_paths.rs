//! Every Graph call that carries an id from input, made with hostile ids against a local
//! server that records the exact path it was asked for: a comment id that is not Meta's
//! shape is refused before any call, and ids that come from storage or from Meta's own
//! answers stay one encoded path segment, so no input can address another Graph path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::IntoResponse;
use protocol::window::ReplyKind;
use protocol::{ChannelId, Millis, ReplyContent, TenantId};
use relay::meta_errors::CallFailure;
use relay::outbox::graph::{Graph, Outgoing};
use relay::store::{ChannelKind, ChannelRecord};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

const HOSTILE: [&str; 9] = [
    "me/subscribed_apps",
    "../../_sim/x?y=1#",
    "me/messages?recipient=1&message=x",
    "1%2F2",
    "..",
    "1 2",
    "１２３",
    "1#frag",
    "é",
];

type Seen = Arc<Mutex<Vec<String>>>;

async fn record(State(seen): State<Seen>, uri: Uri) -> impl IntoResponse {
    seen.lock().unwrap().push(
        uri.path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    axum::Json(json!({"id": "1", "success": true, "data": []}))
}

async fn server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new().fallback(record).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn channel(kind: ChannelKind, account: &str, page: Option<&str>) -> ChannelRecord {
    ChannelRecord {
        id: ChannelId::new("ch_1"),
        tenant: TenantId::new("tn_a"),
        kind,
        account_id: account.into(),
        page_id: page.map(str::to_owned),
        username: None,
        waba_id: Some("102290129340398".into()),
        sealed_token: None,
        created_at: Millis(0),
        token_expires_at: None,
        login: Some("operator".into()),
        app_user_id: None,
        profile_picture_url: None,
        followers_count: None,
        needs_reconnect: None,
    }
}

fn out<'a>(
    content: Option<&'a ReplyContent>,
    comment: Option<&'a str>,
    kind: ReplyKind,
) -> Outgoing<'a> {
    Outgoing {
        recipient: "5310000000000004",
        text: "hello",
        content,
        reply_to: None,
        comment_id: comment,
        kind,
        callback: "cb",
    }
}

fn refused_without_a_call<T: std::fmt::Debug>(r: Result<T, CallFailure>, seen: &Seen, id: &str) {
    assert!(
        matches!(r, Err(CallFailure::Answered { status: 400, .. })),
        "{id:?}: {r:?}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "{id:?} reached the server: {:?}",
        seen.lock().unwrap()
    );
}

#[tokio::test]
async fn hostile_comment_ids_are_refused_before_any_call() {
    let (url, seen) = server().await;
    let graph = Graph::new(&url, &url).unwrap();
    let ig = channel(ChannelKind::Instagram, "17841400000000001", None);
    for id in HOSTILE {
        let hide = ReplyContent::HideComment {
            comment_id: id.into(),
            hidden: true,
        };
        let r = graph
            .send(&ig, "t", &out(Some(&hide), None, ReplyKind::Standard))
            .await;
        refused_without_a_call(r, &seen, id);
        let r = graph
            .send(&ig, "t", &out(None, Some(id), ReplyKind::PublicReply))
            .await;
        refused_without_a_call(r, &seen, id);
        let r = graph
            .find_public_reply(&ig, "t", id, "hello", Millis(0), &HashSet::new())
            .await;
        refused_without_a_call(r, &seen, id);
    }
}

#[tokio::test]
async fn well_formed_ids_reach_exactly_their_path() {
    let (url, seen) = server().await;
    let graph = Graph::new(&url, &url).unwrap();
    let ig = channel(ChannelKind::Instagram, "17841400000000001", None);
    let comment = "17900000000000001";
    let hide = ReplyContent::HideComment {
        comment_id: comment.into(),
        hidden: true,
    };
    graph
        .send(&ig, "t", &out(Some(&hide), None, ReplyKind::Standard))
        .await
        .unwrap();
    graph
        .send(&ig, "t", &out(None, Some(comment), ReplyKind::PublicReply))
        .await
        .unwrap();
    graph
        .send(&ig, "t", &out(None, None, ReplyKind::Standard))
        .await
        .unwrap();
    let wa = channel(ChannelKind::Whatsapp, "106540352242398", None);
    graph
        .send(&wa, "t", &out(None, None, ReplyKind::WhatsAppFreeForm))
        .await
        .unwrap();
    graph.templates(&wa, "t").await.unwrap();
    let fb = channel(
        ChannelKind::Instagram,
        "17841400000000002",
        Some("108000000000001"),
    );
    graph.ice_breakers(&fb, "t").await.unwrap();
    assert!(graph.unsubscribe(&fb, "t").await.unwrap());
    let paths = seen.lock().unwrap().clone();
    assert_eq!(
        paths,
        vec![
            format!("/v23.0/{comment}?hide=true"),
            format!("/v23.0/{comment}/replies"),
            "/v23.0/17841400000000001/messages".to_owned(),
            "/v23.0/106540352242398/messages".to_owned(),
            "/v23.0/102290129340398/message_templates?limit=100".to_owned(),
            "/v23.0/108000000000001/messenger_profile?fields=ice_breakers&platform=instagram"
                .to_owned(),
            "/v23.0/108000000000001/subscribed_apps".to_owned(),
        ]
    );
}

/// Ids that come from storage or from Meta's answers are not checked for shape (Meta's
/// conversation ids are base64), but each stays one encoded segment.
#[tokio::test]
async fn stored_ids_stay_one_encoded_segment() {
    let (url, seen) = server().await;
    let graph = Graph::new(&url, &url).unwrap();
    for id in HOSTILE {
        seen.lock().unwrap().clear();
        let ig = channel(ChannelKind::Instagram, id, None);
        // The call's outcome does not matter here; the path it asked for does.
        let _ = graph
            .send(&ig, "t", &out(None, None, ReplyKind::Standard))
            .await;
        let paths = seen.lock().unwrap().clone();
        for p in &paths {
            let path = p.split('?').next().unwrap_or_default();
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            assert!(
                segments.first() == Some(&"v23.0") && segments.last() == Some(&"messages"),
                "{id:?} steered the path: {p}"
            );
            assert!(segments.len() <= 3, "{id:?} added segments: {p}");
            assert!(!p.contains('#') && !p.contains("?recipient"), "{id:?}: {p}");
        }
    }
}
