//! `POST /_test/clock`: absent (404, like any unknown route) unless the relay started with
//! `RELAY_TEST_CLOCK=1`; then the operator's only, forward only, and what it moves is the
//! time the relay's rules read (a connect link expires).

#![allow(clippy::unwrap_used)]

use harness::{OPERATOR_TOKEN, World};
use reqwest::Method;
use serde_json::json;

/// Mints a connect link for tenant A; answers when it expires (relay time).
async fn link_expiry(w: &World) -> i64 {
    let link = w
        .api
        .expect(
            Method::POST,
            &format!("/v1/tenants/{}/connect-links", w.a.id),
            OPERATOR_TOKEN,
            Some(json!({"kind": "instagram"})),
            201,
        )
        .await
        .unwrap();
    link["expires_at"].as_i64().unwrap()
}

#[tokio::test]
async fn the_route_exists_only_when_the_variable_was_set_at_start() {
    let w = World::with_env(vec![("RELAY_TEST_CLOCK".into(), "0".into())])
        .await
        .unwrap();
    let (status, body) = w
        .api
        .call(
            Method::POST,
            "/_test/clock",
            Some(OPERATOR_TOKEN),
            Some(&json!({"advance_ms": 1000})),
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn the_operator_moves_time_forward_and_links_expire_by_it() {
    let w = World::new().await.unwrap();
    let clock = |token: Option<String>, ms: i64| {
        let api = w.api.clone();
        async move {
            api.call(
                Method::POST,
                "/_test/clock",
                token.as_deref(),
                Some(&json!({ "advance_ms": ms })),
            )
            .await
            .unwrap()
            .0
        }
    };
    assert_eq!(clock(None, 1000).await, 401);
    assert_eq!(clock(Some(w.a.owner_token.clone()), 1000).await, 401);
    assert_eq!(clock(Some(OPERATOR_TOKEN.into()), -1).await, 400);
    let expires_at = link_expiry(&w).await;
    let now = w.advance_clock(0).await.unwrap();
    assert!(expires_at > now);
    let later = w.advance_clock(expires_at - now).await.unwrap();
    assert!(later >= expires_at);
    // Minted now, a link expires from the moved time on.
    let again = link_expiry(&w).await;
    assert!(again > later);
}
