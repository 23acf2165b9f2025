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

/// A relay that dies in the middle of deleting a tenant finishes the deletion when it
/// starts again, whichever step it died after: the record written first says how far it
/// got, and every step removes only what is left.
#[tokio::test]
async fn a_tenant_deletion_cut_short_by_a_crash_is_finished_at_the_next_start() {
    for point in [
        "tenant-deletion-recorded",
        "tenant-deletion-unsubscribed",
        "tenant-deletion-registry",
    ] {
        let mut w = World::with_env(vec![("RELAY_TEST_CRASH_AT".into(), point.into())])
            .await
            .unwrap();
        let marker = format!("only-tenant-a-said-this-{point}");
        for (number, id, text) in [
            (WA_A, "wamid.a1", marker.as_str()),
            (WA_B, "wamid.b1", "hello"),
        ] {
            let body = wa_text(number, id, "16505551234", text);
            assert_eq!(w.api.webhook("whatsapp", &body).await.unwrap(), 200);
        }
        let head_before = w.api.head(&w.a.id).await.unwrap();
        let b_events = w.api.all_events(&w.b.id, OPERATOR_TOKEN).await.unwrap();

        // The relay aborts at the point: the request gets no answer.
        let path = format!("/v1/tenants/{}", w.a.id);
        let cut = w
            .api
            .call(Method::DELETE, &path, Some(OPERATOR_TOKEN), None)
            .await;
        assert!(cut.is_err(), "{point}: the relay answered {cut:?}");
        let log = std::fs::read_to_string(&w.options.log).unwrap();
        assert!(
            log.contains(&format!("crash point {point} reached")),
            "{log}"
        );

        w.options
            .extra_env
            .retain(|(k, _)| k != "RELAY_TEST_CRASH_AT");
        w.start_again().await.unwrap();

        // Finished before the relay served its first request.
        let (_, records) = call(
            &w,
            Method::GET,
            "/v1/tenant-deletions",
            OPERATOR_TOKEN,
            None,
        )
        .await;
        let record = &records["deletions"][0];
        assert_eq!(record["tenant"], w.a.id.as_str(), "{point}: {records}");
        assert_eq!(record["stage"], "finished", "{point}: {records}");
        assert_eq!(record["resumed"], 1, "{point}: {records}");
        assert!(
            record["head_seq"].as_u64().unwrap() >= head_before,
            "{records}"
        );
        assert_eq!(record["head_hash"].as_str().unwrap().len(), 64, "{records}");
        assert!(record.get("token_hashes").is_none(), "{records}");

        // Nothing reaches the tenant; its data is gone, not just unreachable.
        let gets = [
            ("/v1/me".to_owned(), w.a.owner_token.as_str(), 401),
            (format!("{path}/events"), OPERATOR_TOKEN, 404),
        ];
        for (get, token, status) in gets {
            assert_eq!(
                call(&w, Method::GET, &get, token, None).await.0,
                status,
                "{get}"
            );
        }
        let metrics = w.metrics_text().await.unwrap();
        assert!(
            !metrics.contains(&format!("tenant=\"{}\"", w.a.id)),
            "{point}: the deleted tenant still has a chain head:\n{metrics}"
        );
        if let Some(db) = &w.db {
            assert!(
                !harness::db_contains(db.url(), &marker).await.unwrap(),
                "{point}: the deleted tenant's message is still in the database"
            );
        }
        // A desk of the deleted tenant is told so, not that its token is wrong.
        let (status, v) = call(&w, Method::GET, "/v1/desk", &w.a.agent_token, None).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (410, Some("tenant_deleted")),
            "{v}"
        );

        // Tenant B is untouched.
        assert_eq!(
            w.api.all_events(&w.b.id, OPERATOR_TOKEN).await.unwrap(),
            b_events,
            "{point}"
        );
        w.api.audit_ok(&w.b.id, OPERATOR_TOKEN).await.unwrap();
        w.stop().await.unwrap();
    }
}
