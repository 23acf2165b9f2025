//! The registry over the years (issue 21), against the real relay and the Meta simulator:
//! renaming partners and tenants; deleting a tenant — its channels unsubscribed at Meta
//! (recorded), its tokens dead, its data gone from the relay, its connected desks told to
//! erase their copy, a deletion record kept — while another tenant is untouched; deleting a
//! partner only once it has no tenants.

#![allow(clippy::unwrap_used)]

use harness::desk::RawDesk;
use harness::sim::SimWorld;
use harness::{OPERATOR_TOKEN, WA_A, WA_B, World, wa_text};
use reqwest::Method;
use serde_json::{Value, json};

async fn call(
    w: &World,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    w.api
        .call(method, path, Some(token), body.as_ref())
        .await
        .unwrap()
}

#[tokio::test]
async fn partners_and_tenants_are_renamed_by_the_operator() {
    let w = World::new().await.unwrap();
    let partner = format!("/v1/partners/{}", w.partner);
    let tenant = format!("/v1/tenants/{}", w.a.id);
    let (status, v) = call(
        &w,
        Method::PATCH,
        &partner,
        OPERATOR_TOKEN,
        Some(json!({"name": "Agency Two", "brand": "Two Desk"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["name"], "Agency Two");
    let (status, v) = call(
        &w,
        Method::PATCH,
        &tenant,
        OPERATOR_TOKEN,
        Some(json!({"name": "Batik Baru"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // The listings and the owner's `/v1/me` show the new names.
    let (_, partners) = call(&w, Method::GET, "/v1/partners", OPERATOR_TOKEN, None).await;
    assert_eq!(partners["partners"][0]["name"], "Agency Two");
    assert_eq!(partners["partners"][0]["brand"], "Two Desk");
    let (_, me) = call(&w, Method::GET, "/v1/me", &w.a.owner_token, None).await;
    assert_eq!(me["tenant_name"], "Batik Baru", "{me}");
    assert_eq!(me["brand"], "Two Desk", "{me}");
    // Owners may not rename; bad input changes nothing; unknown ids are 404.
    let (status, _) = call(
        &w,
        Method::PATCH,
        &tenant,
        &w.a.owner_token,
        Some(json!({"name": "Mine"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, v) = call(
        &w,
        Method::PATCH,
        &tenant,
        OPERATOR_TOKEN,
        Some(json!({"name": "  "})),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = call(&w, Method::PATCH, &partner, OPERATOR_TOKEN, Some(json!({}))).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("nothing_to_change"))
    );
    let (status, _) = call(
        &w,
        Method::PATCH,
        "/v1/tenants/tn_nope",
        OPERATOR_TOKEN,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, 404);
    let (_, me) = call(&w, Method::GET, "/v1/me", &w.a.owner_token, None).await;
    assert_eq!(me["tenant_name"], "Batik Baru");
}

#[tokio::test]
async fn deleting_a_tenant_removes_it_everywhere_and_leaves_a_record() {
    let fx = SimWorld::start().await.unwrap();
    let w = &fx.w;
    for (number, id) in [(WA_A, "wamid.a1"), (WA_B, "wamid.b1")] {
        let body = wa_text(number, id, "16505551234", "hello");
        assert_eq!(w.api.webhook("whatsapp", &body).await.unwrap(), 200);
    }
    let mut desk_a = RawDesk::caught_up(&w.api.url, &w.a.agent_token)
        .await
        .unwrap();
    let mut desk_b = RawDesk::caught_up(&w.api.url, &w.b.agent_token)
        .await
        .unwrap();
    let b_events = w
        .api
        .all_events(&w.b.id, OPERATOR_TOKEN)
        .await
        .unwrap()
        .len();
    fx.sim.api.clear_calls().await.unwrap();

    // Only the operator deletes.
    let path = format!("/v1/tenants/{}", w.a.id);
    assert_eq!(
        call(w, Method::DELETE, &path, &w.a.owner_token, None)
            .await
            .0,
        403
    );
    let (status, answer) = call(w, Method::DELETE, &path, OPERATOR_TOKEN, None).await;
    assert_eq!(status, 200, "{answer}");
    let deleted = &answer["deleted"];
    assert_eq!(deleted["tenant"], w.a.id.as_str());
    assert_eq!(deleted["removed"]["agents"], 2, "{answer}");
    assert_eq!(deleted["removed"]["channels"], 2, "{answer}");
    assert!(
        deleted["removed"]["events"].as_u64().unwrap() >= 1,
        "{answer}"
    );
    let outcomes: Vec<&str> = deleted["unsubscribed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u[1].as_str())
        .collect();
    assert_eq!(outcomes, ["ok", "ok"], "{answer}");
    assert_eq!(deleted["head_hash"].as_str().unwrap().len(), 64);

    // Meta was asked to stop sending the accounts' webhooks.
    let calls = fx.sim.api.calls().await.unwrap();
    let unsubscribes = calls
        .iter()
        .filter(|c| {
            c["method"] == "DELETE" && c["path"].as_str().unwrap().ends_with("/subscribed_apps")
        })
        .count();
    assert_eq!(unsubscribes, 2, "{calls:?}");

    // Its connected desk is told to erase its copy; the other tenant's is not.
    let (code, reason) = desk_a.closed().await.unwrap();
    assert_eq!(code, protocol::frame::close::TENANT_DELETED, "{reason}");
    // Its tokens are dead, its data unreachable, its accounts route nowhere.
    assert_eq!(
        call(w, Method::GET, "/v1/me", &w.a.owner_token, None)
            .await
            .0,
        401
    );
    assert_eq!(
        call(
            w,
            Method::GET,
            &format!("{path}/threads"),
            OPERATOR_TOKEN,
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            w,
            Method::GET,
            &format!("{path}/events"),
            OPERATOR_TOKEN,
            None
        )
        .await
        .0,
        404
    );
    let unknown = w
        .metric("relay_ingest_items_total{outcome=\"unknown_account\"}")
        .await
        .unwrap();
    let body = wa_text(WA_A, "wamid.a2", "16505551234", "still there?");
    assert_eq!(w.api.webhook("whatsapp", &body).await.unwrap(), 200);
    assert_eq!(
        w.metric("relay_ingest_items_total{outcome=\"unknown_account\"}")
            .await
            .unwrap(),
        unknown + 1.0
    );
    let (_, tenants) = call(
        w,
        Method::GET,
        &format!("/v1/partners/{}/tenants", w.partner),
        OPERATOR_TOKEN,
        None,
    )
    .await;
    assert_eq!(tenants["tenants"].as_array().unwrap().len(), 1);
    assert!(
        !format!("{answer}").contains("hello"),
        "no contents in the record"
    );

    // Tenant B is untouched and still live.
    assert_eq!(
        w.api
            .all_events(&w.b.id, OPERATOR_TOKEN)
            .await
            .unwrap()
            .len(),
        b_events
    );
    w.api.audit_ok(&w.b.id, OPERATOR_TOKEN).await.unwrap();
    let body = wa_text(WA_B, "wamid.b2", "16505551234", "more");
    assert_eq!(w.api.webhook("whatsapp", &body).await.unwrap(), 200);
    desk_b
        .events_until(protocol::Seq(u64::try_from(b_events).unwrap() + 1))
        .await
        .unwrap();

    // The record stays outside the tenant's data.
    let (_, records) = call(w, Method::GET, "/v1/tenant-deletions", OPERATOR_TOKEN, None).await;
    assert_eq!(
        records["deletions"][0]["tenant"],
        w.a.id.as_str(),
        "{records}"
    );
    assert_eq!(records["deletions"][0]["head_seq"], deleted["head_seq"]);
    assert_eq!(
        call(
            w,
            Method::GET,
            "/v1/tenant-deletions",
            &w.b.owner_token,
            None
        )
        .await
        .0,
        403
    );

    // A partner goes only once it has no tenants.
    let partner = format!("/v1/partners/{}", w.partner);
    let (status, v) = call(w, Method::DELETE, &partner, OPERATOR_TOKEN, None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("has_tenants")),
        "{v}"
    );
    let (status, _) = call(
        w,
        Method::DELETE,
        &format!("/v1/tenants/{}", w.b.id),
        OPERATOR_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, v) = call(w, Method::DELETE, &partner, OPERATOR_TOKEN, None).await;
    assert_eq!(status, 200, "{v}");
    let (_, partners) = call(w, Method::GET, "/v1/partners", OPERATOR_TOKEN, None).await;
    assert_eq!(partners["partners"].as_array().unwrap().len(), 0);
    assert_eq!(
        call(w, Method::DELETE, &partner, OPERATOR_TOKEN, None)
            .await
            .0,
        404
    );
    w.assert_log_has_no_secrets().unwrap();
}
