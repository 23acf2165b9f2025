//! Secrets that must never leave in a reply: access tokens and API keys by their known
//! shapes (Meta `EAA…`, OpenAI-style `sk-…`, GitHub, Slack, AWS, Google, JWTs, PEM blocks)
//! and long opaque blobs (hex of 32+ characters, base64 of 40+ with mixed case and digits).
//!
//! A false alarm costs an agent one approval; a leaked token costs the tenant its account.

use std::ops::Range;

/// Byte ranges of secret-looking strings in `text`.
#[must_use]
pub fn find(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    if let Some(p) = text.find("-----BEGIN") {
        out.push(p..text.len().min(p + 40));
    }
    for (start, word) in crate::knowledge::link::words(text) {
        // Look inside URLs and `key=value` too: a token hides in a query string.
        let mut offset = 0;
        for part in word.split(['/', '?', '&', '=', '"', '\'', ',', ';', '(', ')', '<', '>']) {
            let lead = part.len() - part.trim_start_matches(['.', ':']).len();
            let p = part
                .trim_start_matches(['.', ':'])
                .trim_end_matches(['.', ':', '!']);
            if is_secret(p) {
                let s = start + offset + lead;
                out.push(s..s + p.len());
            }
            offset += part.len() + 1;
        }
    }
    out
}

fn is_secret(p: &str) -> bool {
    let len = p.len();
    let alnum = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if p.starts_with("EAA") && len >= 24 && p.chars().all(|c| c.is_ascii_alphanumeric()) {
        return true;
    }
    for prefix in [
        "sk-",
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "ghp_",
        "gho_",
        "ghs_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "xoxa-",
        "glpat-",
        "AKIA",
        "AIza",
    ] {
        if let Some(rest) = p.strip_prefix(prefix)
            && rest.len() >= 16
            && alnum(rest)
        {
            return true;
        }
    }
    if p.starts_with("eyJ") && p.matches('.').count() == 2 && len >= 30 {
        return true;
    }
    if len >= 32
        && p.chars().all(|c| c.is_ascii_hexdigit())
        && p.chars().any(|c| c.is_ascii_digit())
    {
        return true;
    }
    len >= 40
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-'))
        && p.chars().any(|c| c.is_ascii_digit())
        && p.chars().any(|c| c.is_ascii_uppercase())
        && p.chars().any(|c| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: &[&str]) {
        let found: Vec<&str> = find(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn shapes() {
        check(
            "token EAAGm0PX4ZCpsBAKZC8ZBxyz123456 ok",
            &["EAAGm0PX4ZCpsBAKZC8ZBxyz123456"],
        );
        check(
            "key: sk-proj-abcdefghijklmnop1234.",
            &["sk-proj-abcdefghijklmnop1234"],
        );
        check(
            "see https://x.example/cb?access_token=0123456789abcdef0123456789abcdef",
            &["0123456789abcdef0123456789abcdef"],
        );
        check(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            &[
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            ],
        );
        check(
            "Harga Rp 350.000, sku KB-DR-001, https://kirana.example/p/kb-dr-001",
            &[],
        );
        check("Linen Wrap Dress ready kak, ukuran S (3)!", &[]);
    }
}
