//! What the relay holds, listed for the people who run it: partners and tenants for the
//! operator, a tenant's people for the operator and its owner; revoking shows in the list;
//! no answer carries a token or a token's hash; `relay admin` lists the same.

#![allow(clippy::unwrap_used)]

use harness::{OPERATOR_TOKEN, World, relay_bin};
use reqwest::Method;
use serde_json::Value;

async fn get(w: &World, path: &str, token: &str) -> (u16, Value) {
    w.api
        .call(Method::GET, path, Some(token), None)
        .await
        .unwrap()
}

#[tokio::test]
async fn operators_list_partners_and_tenants_and_owners_their_people() {
    let w = World::new().await.unwrap();
    let (status, partners) = get(&w, "/v1/partners", OPERATOR_TOKEN).await;
    assert_eq!(status, 200);
    let listed = partners["partners"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{partners}");
    assert_eq!(listed[0]["id"], w.partner.as_str());
    assert_eq!(listed[0]["tenants"], 2);
    let (status, tenants) = get(
        &w,
        &format!("/v1/partners/{}/tenants", w.partner),
        OPERATOR_TOKEN,
    )
    .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = tenants["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, [w.a.id.as_str(), w.b.id.as_str()]);
    // Only the operator lists partners and tenants.
    for path in [
        "/v1/partners".to_owned(),
        format!("/v1/partners/{}/tenants", w.partner),
    ] {
        assert_eq!(get(&w, &path, &w.a.owner_token).await.0, 403, "{path}");
    }
    assert_eq!(
        get(&w, "/v1/partners/pa_nope/tenants", OPERATOR_TOKEN)
            .await
            .0,
        404
    );

    // A tenant's people: its owner and the operator see them; an agent may not; another
    // tenant's owner sees nothing.
    let path = format!("/v1/tenants/{}/agents", w.a.id);
    let (status, agents) = get(&w, &path, &w.a.owner_token).await;
    assert_eq!(status, 200);
    let roles: Vec<&str> = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["role"].as_str())
        .collect();
    assert_eq!(roles, ["owner", "agent"]);
    assert!(
        agents["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["active"] == true)
    );
    assert_eq!(get(&w, &path, OPERATOR_TOKEN).await.0, 200);
    assert_eq!(get(&w, &path, &w.a.agent_token).await.0, 403);
    assert_eq!(get(&w, &path, &w.b.owner_token).await.0, 404);
    let text = format!("{partners}{tenants}{agents}");
    for s in &w.secrets {
        assert!(!text.contains(s.as_str()), "a secret in a listing");
    }
    assert!(!text.contains("token"), "{text}");

    // Revoking through the CLI shows in the list.
    let agent = agents["agents"][1]["id"].as_str().unwrap().to_owned();
    let cli = |args: Vec<String>| {
        let url = w.api.url.clone();
        async move {
            tokio::process::Command::new(relay_bin().unwrap())
                .args(["admin", "--url", &url])
                .args(args)
                .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN)
                .output()
                .await
                .unwrap()
        }
    };
    let out = cli(vec![
        "agents".into(),
        "revoke".into(),
        "--tenant".into(),
        w.a.id.clone(),
        "--agent".into(),
        agent.clone(),
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let out = cli(vec![
        "agents".into(),
        "list".into(),
        "--tenant".into(),
        w.a.id.clone(),
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let revoked = listed["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == agent.as_str())
        .unwrap();
    assert_eq!(revoked["active"], false, "{listed}");
    let out = cli(vec!["partners".into(), "list".into()]).await;
    assert!(out.status.success(), "{out:?}");
    w.assert_log_has_no_secrets().unwrap();
}
