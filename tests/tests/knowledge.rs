//! Tenant knowledge end to end: the demo files load through the admin API and the operator's
//! CLI, a broken file is refused with the place of the problem and changes nothing, and only
//! the tenant's owner (or the operator) may replace it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use harness::{OPERATOR_TOKEN, World};
use std::path::PathBuf;

fn asset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/knowledge")
        .join(name)
}

async fn put(w: &World, tenant: &str, token: &str, body: String) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .put(format!("{}/v1/tenants/{tenant}/knowledge", w.api.url))
        .bearer_auth(token)
        .header("content-type", "application/toml")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

async fn get(w: &World, tenant: &str, token: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/tenants/{tenant}/knowledge", w.api.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn knowledge_loads_whole_or_not_at_all() {
    let w = World::new().await.unwrap();
    let boutique = std::fs::read_to_string(asset("boutique.toml")).unwrap();
    let (status, summary) = put(&w, &w.a.id, &w.a.owner_token, boutique.clone()).await;
    assert_eq!(status, 200, "{summary}");
    assert!(summary["items"].as_u64().unwrap() >= 40, "{summary}");
    assert!(summary["policies"].as_u64().unwrap() >= 3, "{summary}");
    assert_eq!(
        get(&w, &w.a.id, &w.a.agent_token).await,
        (200, boutique.clone())
    );

    // A duplicated sku is refused, naming the item; the stored file is unchanged.
    let broken = format!(
        "{boutique}\n[[items]]\nsku = \"{}\"\nname = \"Copy\"\nprice = 1\n",
        first_sku(&boutique)
    );
    let (status, error) = put(&w, &w.a.id, &w.a.owner_token, broken).await;
    assert_eq!(status, 400, "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("items["), "{message}");
    assert_eq!(get(&w, &w.a.id, &w.a.agent_token).await.1, boutique);
    let (status, _) = put(&w, &w.a.id, &w.a.owner_token, "not = [toml".into()).await;
    assert_eq!(status, 400);

    // Agents read but do not replace; another tenant's people see nothing.
    let bakery = std::fs::read_to_string(asset("bakery.toml")).unwrap();
    assert_eq!(
        put(&w, &w.a.id, &w.a.agent_token, bakery.clone()).await.0,
        403
    );
    assert_eq!(get(&w, &w.a.id, &w.b.owner_token).await.0, 404);
    assert_eq!(
        get(&w, &w.b.id, &w.b.owner_token).await.0,
        404,
        "B has none yet"
    );

    // The operator's CLI loads a file the same way.
    let out = std::process::Command::new(harness::relay_bin().unwrap())
        .args([
            "admin",
            "--url",
            &w.api.url,
            "knowledge",
            "load",
            "--tenant",
            &w.b.id,
        ])
        .arg(asset("bakery.toml"))
        .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(get(&w, &w.b.id, &w.b.agent_token).await, (200, bakery));
}

fn first_sku(toml: &str) -> String {
    toml.lines()
        .find_map(|l| l.trim().strip_prefix("sku = \""))
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned()
}
