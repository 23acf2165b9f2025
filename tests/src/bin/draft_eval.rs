//! `draft-eval`: runs the built-in grounded drafter and the safety classifier over a set of
//! labelled customer messages and prints the figures issues 5 and 17 ask for. A program that
//! prints, not a test: it never fails on a figure.
//!
//! Sets: `assets/eval/*.toml` (the demo tenants the drafter was built beside, the default),
//! `assets/eval/dev/` (businesses to tune on) and `assets/eval/heldout/` (businesses kept
//! out of tuning: score on them, never change the drafter for them). A set's file names its
//! tenant (`assets/knowledge/<tenant>.toml`) or its own `knowledge` file, relative to it.
//!
//! Definitions (per message; "expected" is the label, "draft" the drafter's output):
//! - **intent accuracy**: the draft's intent set equals the expected set exactly. Micro
//!   precision and recall over intent labels are printed too.
//! - **fact recall**: over messages a person need not take, the share of expected facts the
//!   draft contains (`sku:`/`policy:`/`business:` among the draft's cited facts, `price:` in
//!   its text; `a|b` is satisfied by either). A hand-off contains no facts.
//! - **ungrounded-claim rate**: the share of drafts with text that (a) the safety classifier
//!   holds under a grounding rule (an amount, sku, link, phone, e-mail or date found neither
//!   in the knowledge nor in the message), or (b) cite an item sku outside the expected facts
//!   when the label names at least one sku (a fact about a product that was not asked about).
//! - **correct hand-off rate**: the share of messages where "the drafter handed off" equals
//!   "a person must take it"; hand-off recall (of messages a person must take) is printed too.
//! - **handled right**: the hand-off decision is right and, for a message the drafter should
//!   answer, every expected fact is there, nothing ungrounded or stray, and the customer's
//!   language (the case's `language` label) was recognised.
//! - **per language**: fact recall, handled right and hand-off decisions for each labelled
//!   language (unlabelled cases count under the language the drafter detected, marked `*`).
//! - **latency**: `Drafter::draft` per message (index built once per tenant), each message
//!   drafted `REPEAT` times, p50 and p99 from an HDR histogram in microseconds; and the same
//!   over each message's fastest run, which a busy shared machine does not inflate.
//!
//! Run: `cargo run --release -p chatdesk-tests --bin draft-eval -- [--set DIR] [--verbose]
//! [--repeat N]` (`--repeat 0` skips the latency runs: scores only, fast in a debug build).

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use relay::draft::{Drafter, Intent, Speaker, Turn};
use relay::knowledge::Knowledge;
use relay::safety::{Cited, Classifier, Verdict};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Times each message is drafted for the latency figures, unless `--repeat` says otherwise.
const REPEAT: usize = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalFile {
    tenant: String,
    /// The knowledge file, relative to the eval file (default: the demo tenant's).
    #[serde(default)]
    knowledge: Option<String>,
    #[serde(rename = "case")]
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    text: String,
    #[serde(default)]
    context: Vec<ContextTurn>,
    /// Expected intents; sets that leave them out are not scored on intents.
    #[serde(default)]
    intents: Option<Vec<String>>,
    facts: Vec<String>,
    human: bool,
    /// The language the customer wrote in (`en`, `es`…).
    #[serde(default)]
    language: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextTurn {
    from: String,
    text: String,
}

#[derive(Default)]
struct Tally {
    messages: usize,
    intent_exact: usize,
    intent_tp: usize,
    intent_fp: usize,
    intent_fn: usize,
    facts_expected: usize,
    facts_found: usize,
    drafts_with_text: usize,
    ungrounded: usize,
    handoff_agree: usize,
    human_needed: usize,
    human_handed: usize,
    handled_right: usize,
    language_right: usize,
    language_labelled: usize,
    intent_unlabelled: usize,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let verbose = args.iter().any(|a| a == "--verbose" || a == "-v");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let set = args
        .iter()
        .position(|a| a == "--set")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| root.join("assets/eval"), PathBuf::from);
    let repeat = match args.iter().position(|a| a == "--repeat") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .context("--repeat takes a number")?,
        None => REPEAT,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&set)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut tenants = tenant_names(&root.join("assets/knowledge"))?;
    if set.join("knowledge").is_dir() {
        tenants.extend(tenant_names(&set.join("knowledge"))?);
    }
    let mut total = Tally::default();
    let mut by_language: BTreeMap<String, Tally> = BTreeMap::new();
    let mut latency = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3)?;
    // Each message's fastest run: on a shared machine a wall-clock p99 measures the
    // scheduler (a preempted draft waits a time slice); the best of REPEAT runs does not.
    let mut best_latency = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3)?;
    for file in &files {
        let eval: EvalFile = toml::from_str(&std::fs::read_to_string(file)?)
            .with_context(|| format!("{}", file.display()))?;
        let kpath = match &eval.knowledge {
            Some(rel) => file.parent().unwrap_or(&set).join(rel),
            None => root
                .join("assets/knowledge")
                .join(format!("{}.toml", eval.tenant)),
        };
        let knowledge = Knowledge::from_toml(&std::fs::read_to_string(&kpath)?)
            .with_context(|| format!("{}", kpath.display()))?;
        let drafter = Drafter::new(&knowledge);
        let classifier = Classifier::new(&knowledge);
        let others: Vec<String> = tenants
            .iter()
            .filter(|n| **n != knowledge.business.name)
            .cloned()
            .collect();
        let mut tally = Tally::default();
        for case in &eval.cases {
            let conversation = case
                .context
                .iter()
                .map(|t| {
                    Ok(Turn {
                        from: match t.from.as_str() {
                            "customer" => Speaker::Customer,
                            "business" => Speaker::Business,
                            other => bail!("unknown speaker {other}"),
                        },
                        text: t.text.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let draft = drafter.draft(&case.text, &conversation);
            let mut best = u64::MAX;
            for _ in 0..repeat {
                let t = Instant::now();
                let d = drafter.draft(&case.text, &conversation);
                let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                latency.record(us.max(1))?;
                best = best.min(us.max(1));
                std::hint::black_box(d);
            }
            if best != u64::MAX {
                best_latency.record(best)?;
            }
            let key = case
                .language
                .clone()
                .unwrap_or_else(|| format!("{}*", draft.language));
            let mut one = Tally::default();
            score(case, &draft, &classifier, &others, &mut one, verbose)?;
            add(&mut tally, &one);
            add(by_language.entry(key).or_default(), &one);
        }
        println!(
            "{:<10} {:>3} messages: {}",
            eval.tenant,
            tally.messages,
            summary(&tally)
        );
        add(&mut total, &tally);
    }
    println!(
        "{:<10} {:>3} messages: {}",
        "all",
        total.messages,
        summary(&total)
    );
    println!();
    if total.messages > total.intent_unlabelled {
        println!(
            "intent accuracy (exact set)  {:>6.1} %",
            pct(total.intent_exact, total.messages - total.intent_unlabelled)
        );
        println!(
            "intent micro P / R          {:>6.1} % / {:.1} %",
            pct(total.intent_tp, total.intent_tp + total.intent_fp),
            pct(total.intent_tp, total.intent_tp + total.intent_fn)
        );
    } else {
        println!("intent accuracy                 n/a  (this set labels no intents)");
    }
    println!(
        "fact recall                  {:>6.1} %  ({} of {} expected facts; target >= 90 %)",
        pct(total.facts_found, total.facts_expected),
        total.facts_found,
        total.facts_expected
    );
    println!(
        "ungrounded-claim rate        {:>6.1} %  ({} of {} drafts with text; target 0)",
        pct(total.ungrounded, total.drafts_with_text),
        total.ungrounded,
        total.drafts_with_text
    );
    println!(
        "correct hand-off rate        {:>6.1} %  ({} of {}; target >= 95 %)",
        pct(total.handoff_agree, total.messages),
        total.handoff_agree,
        total.messages
    );
    println!(
        "hand-off recall              {:>6.1} %  ({} of {} that need a person)",
        pct(total.human_handed, total.human_needed),
        total.human_handed,
        total.human_needed
    );
    println!(
        "messages handled right       {:>6.1} %  ({} of {}; target >= 85 %)",
        pct(total.handled_right, total.messages),
        total.handled_right,
        total.messages
    );
    println!(
        "language recognised          {:>6.1} %  ({} of {} labelled)",
        pct(total.language_right, total.language_labelled),
        total.language_right,
        total.language_labelled
    );
    println!();
    println!("per language (* = unlabelled, by detected language):");
    for (lang, t) in &by_language {
        println!(
            "  {lang:<4} {:>3} messages: fact recall {:>5.1} %, handled right {:>5.1} %, hand-off {:>5.1} %, ungrounded {}",
            t.messages,
            pct(t.facts_found, t.facts_expected),
            pct(t.handled_right, t.messages),
            pct(t.handoff_agree, t.messages),
            t.ungrounded
        );
    }
    println!();
    println!(
        "drafting latency             p50 {} µs, p99 {} µs, max {} µs  ({} drafts; target p99 < 5000 µs)",
        latency.value_at_quantile(0.50),
        latency.value_at_quantile(0.99),
        latency.max(),
        latency.len()
    );
    println!(
        "  per message, best of {repeat}  p50 {} µs, p99 {} µs, max {} µs  ({} messages)",
        best_latency.value_at_quantile(0.50),
        best_latency.value_at_quantile(0.99),
        best_latency.max(),
        best_latency.len()
    );
    Ok(())
}

/// The business names of every knowledge file in `dir`, for the other-tenant rule.
fn tenant_names(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "toml") {
            let k = Knowledge::from_toml(&std::fs::read_to_string(&p)?)
                .with_context(|| format!("{}", p.display()))?;
            out.push(k.business.name);
        }
    }
    Ok(out)
}

fn score(
    case: &Case,
    draft: &relay::draft::Draft,
    classifier: &Classifier,
    others: &[String],
    t: &mut Tally,
    verbose: bool,
) -> Result<()> {
    t.messages += 1;
    let labelled = case.intents.as_deref().unwrap_or_default();
    let expected: BTreeSet<Intent> = labelled
        .iter()
        .map(|s| Intent::parse(s).with_context(|| format!("unknown intent {s}")))
        .collect::<Result<_>>()?;
    let got: BTreeSet<Intent> = draft.intents.iter().copied().collect();
    if case.intents.is_none() {
        t.intent_unlabelled += 1;
    } else if expected == got {
        t.intent_exact += 1;
    }
    if case.intents.is_some() {
        t.intent_tp += expected.intersection(&got).count();
        t.intent_fp += got.difference(&expected).count();
        t.intent_fn += expected.difference(&got).count();
    }

    let cited: Vec<String> = draft.facts.iter().map(ToString::to_string).collect();
    let text = draft.text.clone().unwrap_or_default();
    let mut missing = Vec::new();
    if !case.human {
        for fact in &case.facts {
            t.facts_expected += 1;
            let ok = fact.split('|').any(|alt| match alt.strip_prefix("price:") {
                Some(price) => text.contains(price),
                None => cited.iter().any(|c| c == alt),
            });
            if ok {
                t.facts_found += 1;
            } else {
                missing.push(fact.clone());
            }
        }
    }

    let mut problems = Vec::new();
    if let Some(text) = &draft.text {
        t.drafts_with_text += 1;
        let verdict = classifier.check_cited(
            text,
            &case.text,
            protocol::Channel::InstagramDm,
            others,
            &Cited {
                facts: &draft.facts,
                looked_up: &[],
            },
        );
        if let Verdict::Hold(reasons) = &verdict {
            for r in reasons {
                problems.push(r.to_string());
            }
        }
        let grounding = verdict.reasons().iter().any(|r| r.rule.is_grounding());
        let expected_skus: Vec<&str> = case
            .facts
            .iter()
            .flat_map(|f| f.split('|'))
            .filter(|f| f.starts_with("sku:"))
            .collect();
        let stray: Vec<&String> = cited
            .iter()
            .filter(|c| c.starts_with("sku:") && !expected_skus.contains(&c.as_str()))
            .collect();
        let wrong_item = !expected_skus.is_empty() && !stray.is_empty();
        if wrong_item {
            problems.push(format!("cites {stray:?}, expected {expected_skus:?}"));
        }
        if grounding || wrong_item {
            t.ungrounded += 1;
        }
    }
    let handed = draft.handoff.is_some();
    if handed == case.human {
        t.handoff_agree += 1;
    }
    let language_ok = case
        .language
        .as_deref()
        .is_none_or(|l| l == draft.language.code());
    if case.language.is_some() {
        t.language_labelled += 1;
        if language_ok {
            t.language_right += 1;
        }
    }
    let right = handed == case.human
        && (case.human || (missing.is_empty() && problems.is_empty() && language_ok));
    if right {
        t.handled_right += 1;
    }
    if case.human {
        t.human_needed += 1;
        if handed {
            t.human_handed += 1;
        }
    }
    if verbose {
        let mark = if right { "ok " } else { "ERR" };
        println!("{mark} {:?}", case.text);
        println!(
            "    intents {:?} (expected {:?})",
            got.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
            labelled
        );
        match (&draft.text, &draft.handoff) {
            (Some(text), _) => println!("    draft: {text}"),
            (None, Some(reason)) => println!("    handoff: {reason}"),
            (None, None) => {}
        }
        println!("    facts {cited:?}");
        if !missing.is_empty() {
            println!("    MISSING {missing:?}");
        }
        if handed != case.human {
            println!("    HANDOFF expected {}", case.human);
        }
        if !language_ok {
            println!(
                "    LANGUAGE {} (expected {:?})",
                draft.language, case.language
            );
        }
        for p in &problems {
            println!("    HOLD/STRAY {p}");
        }
    }
    Ok(())
}

fn add(total: &mut Tally, t: &Tally) {
    total.messages += t.messages;
    total.intent_exact += t.intent_exact;
    total.intent_tp += t.intent_tp;
    total.intent_fp += t.intent_fp;
    total.intent_fn += t.intent_fn;
    total.facts_expected += t.facts_expected;
    total.facts_found += t.facts_found;
    total.drafts_with_text += t.drafts_with_text;
    total.ungrounded += t.ungrounded;
    total.handoff_agree += t.handoff_agree;
    total.human_needed += t.human_needed;
    total.human_handed += t.human_handed;
    total.handled_right += t.handled_right;
    total.language_right += t.language_right;
    total.language_labelled += t.language_labelled;
    total.intent_unlabelled += t.intent_unlabelled;
}

fn summary(t: &Tally) -> String {
    let intents = if t.messages > t.intent_unlabelled {
        format!(
            "{:.1} %",
            pct(t.intent_exact, t.messages - t.intent_unlabelled)
        )
    } else {
        "n/a".to_string()
    };
    format!(
        "intents {intents}, fact recall {:.1} %, handled right {:.1} %, ungrounded {:.1} %, hand-off {:.1} %",
        pct(t.facts_found, t.facts_expected),
        pct(t.handled_right, t.messages),
        pct(t.ungrounded, t.drafts_with_text),
        pct(t.handoff_agree, t.messages)
    )
}

#[allow(clippy::cast_precision_loss)]
fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        100.0
    } else {
        n as f64 * 100.0 / d as f64
    }
}
