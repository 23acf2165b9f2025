//! `relay admin media`: one attachment of a stored message, fetched by the relay from Meta
//! (`GET /v1/tenants/{t}/media/{message}/{n}`) and written to a file, for an operator who
//! must look at what a customer sent. Bytes only; nothing is kept elsewhere.

use super::{refused, unreachable};
use anyhow::Context as _;
use std::io::Write as _;
use std::path::Path;

/// Streams the attachment into `out`; the byte count and type go to stderr.
///
/// # Errors
/// The relay refused (its code and message), or the file cannot be written.
pub(super) async fn download(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let mut response = client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| unreachable(base, &e))?;
    let status = response.status();
    if !status.is_success() {
        let value: serde_json::Value = response.json().await.unwrap_or_default();
        return Err(refused(status, &value));
    }
    let kind = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let mut file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(base, &e))? {
        file.write_all(&chunk)
            .with_context(|| format!("cannot write {}", out.display()))?;
        written += chunk.len() as u64;
    }
    file.sync_all()
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("wrote {written} bytes ({kind}) to {}", out.display());
    Ok(())
}
