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
    let mut roles: Vec<&str> = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["role"].as_str())
        .collect();
    // Listed by creation time, then id: the world creates both people in the same
    // millisecond often enough that their order is the ids' (random) one.
    roles.sort_unstable();
    assert_eq!(roles, ["agent", "owner"]);
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
                .args(["admin", "--url", &url, "--json"])
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

/// `relay admin` against the world's relay: (success, stdout, stderr).
async fn admin_cli(w: &World, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(relay_bin().unwrap())
        .args(["admin", "--url", &w.api.url])
        .args(args)
        .env("RELAY_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_prints_tables_for_people_json_for_scripts_and_progress_for_long_work() {
    let w = World::new().await.unwrap();
    // A table by default: a header row and a row per partner.
    let (ok, table, err) = admin_cli(&w, &["partners", "list"]).await;
    assert!(ok, "{err}");
    let header = table.lines().nth(1).unwrap();
    for column in ["id", "name", "tenants"] {
        assert!(header.contains(column), "{table}");
    }
    assert!(table.contains(w.partner.as_str()), "{table}");
    assert!(serde_json::from_str::<Value>(&table).is_err());
    // The same answer as JSON with --json, before or after the subcommand.
    for args in [
        vec!["--json", "partners", "list"],
        vec!["partners", "list", "--json"],
    ] {
        let (ok, json, _) = admin_cli(&w, &args).await;
        assert!(ok);
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["partners"][0]["id"], w.partner.as_str());
    }
    // An answer that is not a list is a field/value table.
    let (ok, table, _) = admin_cli(&w, &["credits", "show", "--tenant", &w.a.id]).await;
    assert!(ok);
    assert!(table.contains("balance"), "{table}");

    // Long operations print plain progress lines when stderr is not a terminal, and a
    // final count; stdout keeps only the output.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.jsonl");
    let (ok, _, err) = admin_cli(
        &w,
        &[
            "audit",
            "export",
            "--tenant",
            &w.a.id,
            "--out",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(err.contains("exported events 1..="), "{err}");
    // Deleting wants --yes; then a spinner line, the final count and the record.
    let (ok, _, err) = admin_cli(&w, &["tenants", "delete", "--tenant", &w.b.id]).await;
    assert!(!ok);
    assert!(err.contains("--yes"), "{err}");
    let (ok, out, err) = admin_cli(
        &w,
        &["--json", "tenants", "delete", "--tenant", &w.b.id, "--yes"],
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!("deleting tenant {}...", w.b.id)),
        "{err}"
    );
    assert!(
        err.contains(&format!("deleted tenant {}:", w.b.id)),
        "{err}"
    );
    let record: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(record["tenant"], w.b.id.as_str());
    let (ok, table, _) = admin_cli(&w, &["tenants", "deletions"]).await;
    assert!(ok);
    assert!(table.contains(w.b.id.as_str()), "{table}");
    // Renames through the CLI.
    let (ok, _, err) = admin_cli(
        &w,
        &[
            "tenants", "rename", "--tenant", &w.a.id, "--name", "Renamed",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let (_, table, _) = admin_cli(&w, &["tenants", "list", "--partner", &w.partner]).await;
    assert!(table.contains("Renamed"), "{table}");
}

#[tokio::test]
async fn unused_connect_links_are_listed_for_their_tenant_until_they_expire() {
    let w = World::new().await.unwrap();
    let path = format!("/v1/tenants/{}/connect-links", w.a.id);
    let (status, minted) = w
        .api
        .call(
            Method::POST,
            &path,
            Some(&w.a.owner_token),
            Some(&serde_json::json!({"kind": "instagram"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{minted}");
    let (status, listed) = get(&w, &path, &w.a.owner_token).await;
    assert_eq!(status, 200);
    let links = listed["links"].as_array().unwrap();
    assert_eq!(links.len(), 1, "{listed}");
    assert_eq!(links[0]["kind"], "instagram");
    assert_eq!(links[0]["url"], minted["url"], "the same link, shown again");
    assert_eq!(links[0]["expires_at"], minted["expires_at"]);
    // Listing mints nothing; the operator sees them too; agents and other tenants do not.
    assert_eq!(get(&w, &path, &w.a.owner_token).await.1, listed);
    assert_eq!(get(&w, &path, OPERATOR_TOKEN).await.1, listed);
    assert_eq!(get(&w, &path, &w.a.agent_token).await.0, 403);
    assert_eq!(get(&w, &path, &w.b.owner_token).await.0, 404);
    let other = format!("/v1/tenants/{}/connect-links", w.b.id);
    assert_eq!(
        get(&w, &other, OPERATOR_TOKEN).await.1["links"],
        serde_json::json!([])
    );
    // Past their lifetime (RELAY_CONNECT_LINK_TTL_SECS, 30 min) they are not shown.
    w.advance_clock(30 * 60 * 1000 + 1).await.unwrap();
    assert_eq!(
        get(&w, &path, &w.a.owner_token).await.1["links"],
        serde_json::json!([])
    );
}

/// The settings and reply rules an owner changes in the desk, from the operator's CLI:
/// only the fields given change, a rules file (TOML) replaces the list, a bad one is
/// refused whole.
#[tokio::test]
async fn the_cli_shows_and_changes_settings_and_reply_rules() {
    let w = World::new().await.unwrap();
    let (ok, out, err) = admin_cli(&w, &["--json", "me"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["role"],
        "operator"
    );

    let tenant = w.a.id.as_str();
    let (ok, _, err) = admin_cli(
        &w,
        &[
            "settings",
            "set",
            "--tenant",
            tenant,
            "--auto-send",
            "true",
            "--default-reply",
            "We will answer soon.",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, out, _) = admin_cli(&w, &["--json", "settings", "show", "--tenant", tenant]).await;
    assert!(ok);
    let settings: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(settings["auto_send"], true, "{settings}");
    assert_eq!(
        settings["default_reply"], "We will answer soon.",
        "{settings}"
    );

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rules]]\nname = \"opening hours\"\nkeywords = [\"open\", \"hours\"]\n\
         reply = \"We are open 9 to 5.\"\n\n[[rules]]\nname = \"spam\"\n\
         keywords = [\"crypto\"]\nchannels = [\"instagram_comment\"]\nhide_comment = true\n",
    )
    .unwrap();
    let (ok, _, err) = admin_cli(
        &w,
        &["rules", "set", "--tenant", tenant, rules.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, table, _) = admin_cli(&w, &["rules", "show", "--tenant", tenant]).await;
    assert!(ok);
    assert!(
        table.contains("opening hours") && table.contains("spam"),
        "{table}"
    );

    // A rule without anything to match is refused, and the list stays as it was.
    std::fs::write(&rules, "[[rules]]\nname = \"empty\"\nreply = \"x\"\n").unwrap();
    let (ok, _, err) = admin_cli(
        &w,
        &["rules", "set", "--tenant", tenant, rules.to_str().unwrap()],
    )
    .await;
    assert!(!ok);
    assert!(err.contains("invalid_rules"), "{err}");
    let (_, out, _) = admin_cli(&w, &["--json", "rules", "show", "--tenant", tenant]).await;
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["rules"].as_array().unwrap().len(), 2, "{shown}");
    // The other settings were not touched by the rules.
    let (_, out, _) = admin_cli(&w, &["--json", "settings", "show", "--tenant", tenant]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["auto_send"],
        true
    );
}
