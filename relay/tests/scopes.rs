//! Where tenant scopes are made. A `TenantScope` is the only key to a tenant's data, and
//! three of its constructors take a tenant id that the caller vouches for: a verified
//! webhook's routed channel, a connect grant just taken, and a stored tenant deletion that a
//! restarted relay finishes. This test keeps those
//! constructors in the one place each may be called from, so no other code can turn a
//! tenant id into a scope (the third way, `Principal::scope`, checks the principal itself).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// (constructor, the files under `relay/src` that may call it).
const CALLERS: &[(&str, &[&str])] = &[
    ("TenantScope::for_webhook(", &["http/webhook.rs"]),
    (
        "TenantScope::for_connect(",
        &["connect/save.rs", "connect/claim.rs"],
    ),
    ("TenantScope {", &["principal.rs"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn scopes_from_vouched_ids_are_made_only_where_the_proof_is() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut strays = Vec::new();
    let mut seen = vec![false; CALLERS.len()];
    for path in files {
        let rel = path.strip_prefix(&src).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, (call, allowed)) in CALLERS.iter().enumerate() {
            // A return type (`-> TenantScope {`) is not a struct literal.
            let used = text.lines().any(|l| {
                let code = l.split("//").next().unwrap_or("");
                code.contains(call) && !code.contains(&format!("-> {call}"))
            });
            if !used {
                continue;
            }
            if allowed.contains(&rel.as_str()) {
                seen[i] = true;
            } else {
                strays.push(format!("{call} in {rel}"));
            }
        }
    }
    assert!(
        strays.is_empty(),
        "scopes made outside their proof: {strays:?}"
    );
    // Each allowed caller still exists, so the list cannot silently go stale.
    assert!(
        seen.iter().all(|s| *s),
        "a listed caller no longer calls: {seen:?}"
    );
}
