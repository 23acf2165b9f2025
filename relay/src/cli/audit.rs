//! The evidence commands: `relay admin audit export` (pages through the running relay's
//! `/v1/tenants/{t}/audit/export` and writes JSON lines) and `relay audit verify-file`
//! (checks such a file offline, with the same rules as the relay's own verify).

use super::call_admin;
use crate::audit::{self, ExportHeader};
use anyhow::{Context as _, bail};
use protocol::TenantId;
use serde_json::Value;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

/// Writes the tenant's log up to its head at the first page: a header line, then one
/// `{"event", "audit"}` line per event. `header` (a tenant file's, with its own `head`)
/// replaces the evidence export's header and bounds the log instead.
pub(super) async fn export(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    tenant: &str,
    header: Option<&Value>,
    out: &mut dyn Write,
    on_page: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<u64> {
    let mut out = BufWriter::new(out);
    let mut after = 0u64;
    let mut head = header.and_then(|h| h["head"].as_u64());
    if let Some(header) = header {
        writeln!(out, "{}", serde_json::to_string(header)?)?;
    }
    loop {
        let path = format!("/v1/tenants/{tenant}/audit/export?after={after}");
        let page = call_admin(client, base, token, reqwest::Method::GET, &path, None).await?;
        let head = *head.get_or_insert_with(|| page["head"].as_u64().unwrap_or_default());
        if after == 0 && header.is_none() {
            let header = ExportHeader {
                tenant: TenantId::new(page["tenant"].as_str().unwrap_or(tenant)),
                head,
            };
            writeln!(out, "{}", serde_json::to_string(&header)?)?;
        }
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        if entries.is_empty() {
            break;
        }
        let mut past_head = false;
        let before = after;
        for entry in &entries {
            let seq = entry["event"]["seq"]
                .as_u64()
                .context("an entry without a seq")?;
            // Events appended since the first page belong to a later export; a page that
            // does not move forward would repeat forever.
            if seq > head || seq <= after {
                past_head = true;
                break;
            }
            writeln!(out, "{}", serde_json::to_string(entry)?)?;
            after = seq;
        }
        // (head, entries written from this page), for the progress bar.
        on_page(head, after - before);
        if past_head || after >= head {
            break;
        }
    }
    out.flush()?;
    Ok(after)
}

/// Checks an export file; prints the verdict as JSON and fails when the log does not hold.
pub(super) fn verify_file(path: &Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let verdict = audit::verify_export(BufReader::new(file))
        .with_context(|| format!("{}", path.display()))?;
    println!("{}", serde_json::to_string_pretty(&verdict)?);
    broken(&serde_json::to_value(&verdict)?)
}

/// Fails with the first bad event when a verdict says the log does not hold.
pub(super) fn broken(verdict: &Value) -> anyhow::Result<()> {
    if verdict["ok"] == Value::Bool(false) {
        bail!(
            "the evidence does not hold at event {}: {}",
            verdict["first_bad"],
            verdict["problem"].as_str().unwrap_or("no details")
        );
    }
    Ok(())
}
