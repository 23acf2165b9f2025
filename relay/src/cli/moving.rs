//! `relay admin import`: a tenant file (`relay admin export`'s JSON lines) sent to a running
//! relay: the header line to `POST /v1/tenants/import`, then the log in pages to
//! `POST /v1/tenants/{t}/import/entries`, each durable before the next; a progress bar on a
//! terminal, then the relay's verdict on the imported evidence chain and a final count.
//! Exporting is `super::export_audit` (the evidence export with the tenant's records as its
//! header).

use super::{audit, call_admin, progress, runtime};
use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::Path;

/// Entries and bytes per page: well under the relay's default body limit.
const PAGE_ENTRIES: usize = 500;
const PAGE_BYTES: usize = 256 * 1024;

pub(super) fn import(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    file: Option<&Path>,
) -> anyhow::Result<()> {
    let input: Box<dyn BufRead> = match file {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut lines = input.lines();
    let header: Value = match lines.next() {
        Some(line) => {
            serde_json::from_str(&line?).context("the first line is not a tenant header")?
        }
        None => bail!("the file is empty"),
    };
    runtime()?.block_on(async move {
        let created = call_admin(
            client,
            base,
            token,
            reqwest::Method::POST,
            "/v1/tenants/import",
            Some(header),
        )
        .await?;
        let tenant = created["tenant"]
            .as_str()
            .context("no tenant in the answer")?
            .to_owned();
        let head = created["head"].as_u64().unwrap_or(0);
        let mut progress =
            progress::Progress::start(&format!("importing tenant {tenant}"), Some(head));
        let path = format!("/v1/tenants/{tenant}/import/entries");
        let mut page: Vec<Value> = Vec::new();
        let mut bytes = 0;
        let mut imported = 0u64;
        // Line 1 was the header; a page goes out when full or at the end of the file.
        let mut lines = (2u64..).zip(lines).peekable();
        while let Some((line_no, line)) = lines.next() {
            let line = line?;
            if !line.trim().is_empty() {
                bytes += line.len();
                page.push(serde_json::from_str(&line).with_context(|| format!("line {line_no}"))?);
            }
            let last = lines.peek().is_none();
            if page.len() >= PAGE_ENTRIES || bytes >= PAGE_BYTES || (last && !page.is_empty()) {
                let n = page.len() as u64;
                let body = json!({ "entries": std::mem::take(&mut page) });
                call_admin(
                    client,
                    base,
                    token,
                    reqwest::Method::POST,
                    &path,
                    Some(body),
                )
                .await?;
                imported += n;
                progress.advance(n);
                bytes = 0;
            }
        }
        let verify = format!("/v1/tenants/{tenant}/audit/verify");
        let verdict = call_admin(client, base, token, reqwest::Method::GET, &verify, None).await?;
        progress.finish(&format!(
            "imported tenant {tenant}: {imported} events; evidence chain {}",
            if verdict["ok"] == Value::Bool(true) {
                "verified"
            } else {
                "BROKEN"
            }
        ));
        audit::broken(&verdict)
    })
}
