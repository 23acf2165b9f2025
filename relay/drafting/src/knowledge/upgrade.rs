//! `relay knowledge upgrade`: a version 1 knowledge file rewritten as version 2, keeping
//! its comments and layout. A v1 file already loads as is; the upgrade only writes down
//! what v1 left implicit (`version = 2`, and the languages answered, which v1 took to be
//! its `language` plus English and Indonesian), so the owner can edit them.
//!
//! The file is loaded first, so a bad file is refused with the loader's line or key, and
//! the result is loaded again and must answer the same languages.

use super::{Knowledge, KnowledgeError};

/// The v2 text of a knowledge file; a file that already says `version = 2` comes back as is.
///
/// # Errors
/// The loader's error for a file that does not load (line and key), or an `Invalid` one
/// if the rewritten file would not load the same (a layout this rewrite does not know).
pub fn upgrade(text: &str) -> Result<String, KnowledgeError> {
    let before = Knowledge::from_toml(text)?;
    let raw: super::raw::RawKnowledge =
        toml::from_str(text).map_err(|e| KnowledgeError::Toml(e.to_string()))?;
    if raw.version == Some(2) {
        return Ok(text.to_string());
    }
    let codes: Vec<String> = before
        .business
        .languages
        .iter()
        .map(|l| format!("\"{}\"", l.code()))
        .collect();
    let languages = format!("languages = [{}]", codes.join(", "));
    let mut out = String::with_capacity(text.len() + 64);
    let mut table = String::new();
    let mut version_written = false;
    let mut languages_written = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let is_header = trimmed.starts_with('[');
        let is_key = !is_header && !trimmed.is_empty() && !trimmed.starts_with('#');
        // `version` is a top-level key: it goes before the first key or table.
        if !version_written && (is_header || is_key) {
            out.push_str("version = 2\n\n");
            version_written = true;
        }
        if is_header {
            // Leaving `[business]` without a `language` key: v1's default was English.
            if table == "business" && !languages_written {
                out.push_str(&languages);
                out.push('\n');
                languages_written = true;
            }
            table = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
        }
        if table == "business" && key_of(trimmed) == Some("language") {
            out.push_str(&languages);
            out.push('\n');
            languages_written = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if table == "business" && !languages_written {
        out.push_str(&languages);
        out.push('\n');
    }
    let after = Knowledge::from_toml(&out)?;
    if after.business.languages != before.business.languages {
        return Err(KnowledgeError::invalid(
            "business.language",
            "could not be rewritten as `languages`; add `version = 2` and `languages` by hand",
        ));
    }
    Ok(out)
}

/// The bare key a `key = value` line sets.
fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    Some(key.trim())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const V1: &str = "# A shop.\n\n[business]\nname = \"Toko\"\ncurrency = \"IDR\"\nlanguage = \"id\" # main\n\n[[items]]\nsku = \"A-1\"\nname = \"Kaos\"\nprice = 50000\nstock = 3\n";

    #[test]
    fn a_v1_file_gains_version_and_languages_and_keeps_the_rest() {
        let v2 = upgrade(V1).unwrap();
        assert!(
            v2.starts_with("# A shop.\n\nversion = 2\n\n[business]\n"),
            "{v2}"
        );
        assert!(v2.contains("languages = [\"id\", \"en\"]\n"), "{v2}");
        assert!(!v2.contains("language = \"id\""), "{v2}");
        assert!(v2.contains("[[items]]\nsku = \"A-1\""), "{v2}");
        let k = Knowledge::from_toml(&v2).unwrap();
        assert_eq!(k.items.len(), 1);
        // Upgrading twice changes nothing.
        assert_eq!(upgrade(&v2).unwrap(), v2);
    }

    #[test]
    fn a_file_without_a_language_gets_the_v1_default() {
        let v2 = upgrade("[business]\nname = \"Toko\"\ncurrency = \"USD\"\n").unwrap();
        assert!(v2.contains("languages = [\"en\", \"id\"]"), "{v2}");
    }

    #[test]
    fn a_bad_file_is_refused_with_line_and_key() {
        let e = upgrade("[business]\nname = \"Toko\"\ncurrency = \"USD\"\nlangauge = \"en\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4") && e.contains("langauge"), "{e}");
        let e = upgrade("[business]\nname = \"Toko\"\ncurrency = \"USD\"\nlanguage = \"xx\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("business.language"), "{e}");
    }
}
