//! `relay admin media`: one attachment of a stored message, fetched by the relay from Meta
//! (`GET /v1/tenants/{t}/media/{message}/{n}`) and written to a file, for an operator who
//! must look at what a customer sent. Bytes only; nothing is kept elsewhere. And `relay
//! admin upload`, the other way: a local file to Meta through a channel
//! (`POST /v1/tenants/{t}/channels/{c}/media`), answering the id a reply names.

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

/// Sends the file at `file` to the relay's upload route as `kind`; prints the relay's answer
/// (the media id) on stdout.
///
/// # Errors
/// The file cannot be read, or the relay refused it (its code and message: a type or size
/// Meta does not take, a channel that cannot upload).
pub(super) async fn upload(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    kind: &str,
    file: &Path,
) -> anyhow::Result<()> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("{} is not a file", file.display()))?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mime = protocol::upload::mime_of(&name).unwrap_or("application/octet-stream");
    let response = client
        .post(format!("{base}{path}"))
        .query(&[("kind", kind), ("name", name.as_str())])
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, mime)
        .body(bytes)
        .send()
        .await
        .map_err(|e| unreachable(base, &e))?;
    let status = response.status();
    let value: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(refused(status, &value));
    }
    println!("{value}");
    Ok(())
}
