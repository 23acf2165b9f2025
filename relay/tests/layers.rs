//! The relay's layers (ARCHITECTURE.md, "Layers"), checked from the source: every
//! `crate::<module>` path in `relay/src` and in the crates it re-exports module by module
//! (`relay/base`, `relay/drafting`; in `use` lines and written inline) must point to
//! the same layer or one below, and the top-level modules must form no cycle. The edges
//! that still break either rule are listed in [`ALLOWED`], each with why it is still there;
//! the list may only shrink — an entry that no longer matches any import fails the test too.
//!
//! It reads text, not the compiler's view: paths in comments are skipped, paths written
//! through `super::` stay inside one top-level module and are not edges. The same walk
//! checks the one-clock rule: time is read through `clock::Clock` only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bottom to top. A module may use its own layer and the layers listed before it.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "base",
        &[
            "secret",
            "ids",
            "meta_id",
            "graph_url",
            "html",
            "clock",
            "shutdown",
            "metrics",
            "proxies",
            "listener",
            "disk",
            "meta_errors",
            "crash_point",
        ],
    ),
    ("simulator", &["simulate"]),
    ("config", &["vault", "config", "tls"]),
    (
        "drafting",
        &["lang", "knowledge", "draft", "safety", "rules", "llm"],
    ),
    (
        "storage",
        &[
            "verify",
            "principal",
            "audit",
            "ingest",
            "store",
            "report",
            "media",
        ],
    ),
    (
        "engines",
        &[
            "desk",
            "outbox",
            "drafting",
            "profiles",
            "chain_heads",
            "snooze",
            "peers",
            "key_check",
        ],
    ),
    ("state", &["state", "api"]),
    (
        "flows",
        &["lifecycle", "connect", "refresh", "housekeeping"],
    ),
    ("http", &["http"]),
    ("edges", &["demo", "cli"]),
];

/// Edges (from, to) that may point up a layer or close a cycle, each with why. Empty since
/// issue 18 finished the layering; an entry is a debt to pay, and one whose import is gone
/// fails the test.
const ALLOWED: &[(&str, &str, &str)] = &[];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// Every `crate::<name>` in code (not comments) of `text`, as top-level module names; a
/// grouped `use crate::{a, b::{c, d}};` names each of its top-level paths.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let code: Vec<&str> = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect();
    let code = code.join("\n");
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            group_names(group, &mut out);
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
        rest = after;
    }
    out
}

/// The first segment of each comma-separated path of a `use` group, up to its closing brace.
fn group_names(group: &str, out: &mut BTreeSet<String>) {
    let mut depth = 0usize;
    let mut first = true;
    let mut word = String::new();
    for c in group.chars() {
        if depth == 0 && first && (c.is_ascii_alphanumeric() || c == '_') {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.insert(std::mem::take(&mut word));
            first = false;
        }
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return,
            '}' => depth -= 1,
            ',' if depth == 0 => first = true,
            _ => {}
        }
    }
}

/// The crates whose modules share one namespace of layers: the relay re-exports the modules
/// of `chatdesk-base` and `chatdesk-drafting` under their own names, so `crate::draft` means
/// the same module in the relay and in the drafting crate. The simulator is left out: its
/// module names are its own (its `ids` is not the base's), and the crate edge already keeps
/// it below everything but `chatdesk-base`.
const LAYERED_CRATES: &[&str] = &["src", "base/src", "drafting/src"];

/// Every crate directory whose code must read time through the clock.
const TIMED_CRATES: &[&str] = &["src", "base/src", "drafting/src", "simulator/src"];

/// Every `.rs` file under the given source directories of `relay/`: its path inside its
/// `src` and its text.
fn sources_of(dirs: &[&str]) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for dir in dirs {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path.strip_prefix(&src).unwrap().to_path_buf(), text));
                }
            }
        }
    }
    out
}

fn sources() -> Vec<(std::path::PathBuf, String)> {
    sources_of(LAYERED_CRATES)
}

/// The top-level module a file belongs to.
fn top_module(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// (from, to) → the files that make the edge.
fn edges() -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in sources() {
        let from = top_module(&rel);
        // The crate roots wire everything; they are not a layer.
        if from == "lib" || from == "main" {
            continue;
        }
        for to in crate_paths(&text) {
            if to != from {
                edges
                    .entry((from.clone(), to))
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    edges
}

fn allowed(from: &str, to: &str) -> bool {
    ALLOWED.iter().any(|(f, t, _)| *f == from && *t == to)
}

#[test]
fn every_top_level_module_has_a_layer() {
    let mut unplaced = Vec::new();
    for dir in LAYERED_CRATES {
        let lib = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(dir)
                .join("lib.rs"),
        )
        .unwrap();
        unplaced.extend(
            lib.lines()
                .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
                .filter(|m| layer_of(m).is_none())
                .map(str::to_owned),
        );
    }
    assert!(
        unplaced.is_empty(),
        "place these modules in LAYERS (and in ARCHITECTURE.md): {unplaced:?}"
    );
}

#[test]
fn imports_point_down_or_sideways() {
    let mut up = Vec::new();
    for ((from, to), files) in edges() {
        let (Some(f), Some(t)) = (layer_of(&from), layer_of(&to)) else {
            continue;
        };
        if t > f && !allowed(&from, &to) {
            up.push(format!(
                "{from} ({}) -> {to} ({}) in {files:?}",
                LAYERS[f].0, LAYERS[t].0
            ));
        }
    }
    assert!(
        up.is_empty(),
        "imports pointing up a layer:\n{}",
        up.join("\n")
    );
}

#[test]
fn top_level_modules_form_no_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges().into_keys() {
        if layer_of(&to).is_some() && !allowed(&from, &to) {
            graph.entry(from).or_default().insert(to);
        }
    }
    // Depth-first search; a node met again while on the path closes a cycle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("a cycle between top-level modules: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_allow_list_only_names_edges_that_still_exist() {
    let edges = edges();
    let stale: Vec<String> = ALLOWED
        .iter()
        .filter(|(f, t, _)| !edges.contains_key(&((*f).to_owned(), (*t).to_owned())))
        .map(|(f, t, _)| format!("{f} -> {t}"))
        .collect();
    assert!(
        stale.is_empty(),
        "these imports are gone; remove them from ALLOWED: {stale:?}"
    );
}

/// Files that may read the system's time directly, and why.
const OWN_TIME: &[(&str, &str)] = &[
    ("clock.rs", "the relay's clock itself"),
    (
        "store/commit.rs",
        "how long a device flush took, for metrics",
    ),
    (
        "store/sled.rs",
        "a bounded retry while sled's lock is released at open",
    ),
    (
        "store/group.rs",
        "a millisecond's wait for concurrent callers, on tokio's timer (not relay time)",
    ),
];

#[test]
fn time_is_read_only_through_the_clock() {
    let mut direct = Vec::new();
    for (rel, text) in sources_of(TIMED_CRATES) {
        let rel_text = rel.display().to_string();
        if OWN_TIME.iter().any(|(f, _)| *f == rel_text) {
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("Instant::now()") || code.contains("SystemTime::now()") {
                direct.push(format!("{rel_text}:{}", i + 1));
            }
        }
    }
    assert!(
        direct.is_empty(),
        "read the time through clock::Clock (or list the file in OWN_TIME with a reason): {direct:?}"
    );
}

#[test]
fn paths_are_read_from_use_groups_and_code() {
    let text = "use crate::{a::B, c, d::{\n    e,\n    f,\n}, i};\n// crate::not_me\nlet x = crate::g::h();\n";
    let names: Vec<String> = crate_paths(text).into_iter().collect();
    assert_eq!(names, ["a", "c", "d", "g", "i"]);
}
