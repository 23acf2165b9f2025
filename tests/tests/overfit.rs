//! The drafter must carry to businesses it never saw, so none of its rules may be written
//! around an eval message: no drafting source (comments included, unit tests excepted) and
//! no language file contains a run of five words of any message of any eval set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

const RUN: usize = 5;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Lower-case words of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Every message (and context turn) of every eval set under `assets/eval`.
fn eval_messages() -> Vec<String> {
    let mut paths = Vec::new();
    files(&root().join("assets/eval"), "toml", &mut paths);
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(value) = text.parse::<toml::Table>() else {
            continue;
        };
        let Some(cases) = value.get("case").and_then(toml::Value::as_array) else {
            continue;
        };
        for case in cases {
            if let Some(t) = case.get("text").and_then(toml::Value::as_str) {
                out.push(t.to_string());
            }
        }
    }
    out
}

/// The drafting code without its unit tests, and the language files.
fn sources() -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    files(&root().join("relay/drafting/src"), "rs", &mut paths);
    files(&root().join("relay/src/drafting"), "rs", &mut paths);
    paths.push(root().join("relay/src/drafting.rs"));
    files(&root().join("assets/lang"), "toml", &mut paths);
    paths
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "tests.rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(at) => text[..at].to_string(),
                None => text,
            };
            (p, code)
        })
        .collect()
}

#[test]
fn no_drafting_source_or_language_file_repeats_five_words_of_an_eval_message() {
    let messages = eval_messages();
    assert!(messages.len() > 300, "eval sets not found");
    let mut runs: HashSet<Vec<String>> = HashSet::new();
    for m in &messages {
        for w in words(m).windows(RUN) {
            runs.insert(w.to_vec());
        }
    }
    let mut hits = Vec::new();
    for (path, text) in sources() {
        for w in words(&text).windows(RUN) {
            if runs.contains(w) {
                hits.push(format!("{}: {}", path.display(), w.join(" ")));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "eval message words in drafting code:\n{}",
        hits.join("\n")
    );
}
