//! A small BM25F-style index over documents with weighted fields, built once per knowledge
//! and queried per message.
//!
//! On top of plain BM25 it knows three things short catalog queries need: typo tolerance
//! (an unknown query word matches vocabulary words within `fuzzy::allowed_edits`, at a
//! discount), adjacency (two query words next to each other that are also next to each
//! other in a document score extra: `oat milk`), and name coverage (how much of an item's
//! name or one of its aliases the query contains, which tells "asks for this item" from
//! "shares a word with it"). It does not decide what to answer; `retrieve` does.

use super::fuzzy;
use super::text;
use std::collections::{HashMap, HashSet};

/// BM25 term-frequency saturation.
const K1: f32 = 1.2;
/// BM25 length normalisation; catalog entries are short and similar, so it matters little.
const B: f32 = 0.5;
/// A typo'd match counts for this much of an exact one.
const FUZZY_WEIGHT: f32 = 0.7;
/// Added per query word pair found adjacent in the document.
const ADJACENT_BONUS: f32 = 1.5;

pub type TermId = u32;

/// One document to index: weighted text fields and the phrases that name it.
pub struct DocInput<'a> {
    pub fields: Vec<(&'a str, f32)>,
    /// Name and aliases: a query containing every word of one of these names the document.
    pub names: Vec<&'a str>,
}

/// The index; documents are numbered in the order given.
pub struct Index {
    vocab: HashMap<String, TermId>,
    /// Alphabetic terms by character count, for typo lookups.
    by_len: Vec<Vec<(TermId, Vec<char>)>>,
    postings: Vec<Vec<(usize, f32)>>,
    idf: Vec<f32>,
    doc_len: Vec<f32>,
    avg_len: f32,
    bigrams: Vec<HashSet<(TermId, TermId)>>,
    names: Vec<Vec<Vec<TermId>>>,
}

/// A message turned into index terms.
#[derive(Debug, Default)]
pub struct Query {
    /// Per content word, in order: the terms it matches and how strongly.
    pub positions: Vec<Vec<(TermId, f32)>>,
    /// Content words (stemmed) that matched nothing in the index.
    pub unknown: Vec<String>,
}

impl Query {
    fn term_weights(&self) -> HashMap<TermId, f32> {
        let mut out: HashMap<TermId, f32> = HashMap::new();
        for pos in &self.positions {
            for &(t, w) in pos {
                let e = out.entry(t).or_insert(0.0);
                *e = e.max(w);
            }
        }
        out
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.positions.iter().all(Vec::is_empty)
    }
}

/// How one document scored for a query.
#[derive(Clone, Debug)]
pub struct Hit {
    pub doc: usize,
    pub score: f32,
    /// Best share (0..=1) of one of the document's names found in the query.
    pub coverage: f32,
    /// The terms of that best-covered name.
    pub name_terms: Vec<TermId>,
    /// The terms of the shortest fully covered name (empty if none is): the words that
    /// merely name the item, as opposed to asking something about it.
    pub naming_terms: Vec<TermId>,
    /// Query positions whose words belong to the best-covered name.
    pub name_positions: Vec<usize>,
    /// Distinct query terms the document contains.
    pub matched: usize,
}

impl Index {
    #[must_use]
    pub fn build(docs: &[DocInput<'_>]) -> Index {
        let mut vocab: HashMap<String, TermId> = HashMap::new();
        let mut tf: Vec<HashMap<TermId, f32>> = Vec::with_capacity(docs.len());
        let mut doc_len = Vec::with_capacity(docs.len());
        let mut bigrams = Vec::with_capacity(docs.len());
        let mut names = Vec::with_capacity(docs.len());
        let intern = |s: String, vocab: &mut HashMap<String, TermId>| -> TermId {
            let next = TermId::try_from(vocab.len()).unwrap_or(TermId::MAX);
            *vocab.entry(s).or_insert(next)
        };
        for doc in docs {
            let mut counts: HashMap<TermId, f32> = HashMap::new();
            let mut pairs = HashSet::new();
            let mut len = 0.0;
            for (field, weight) in &doc.fields {
                // Punctuation ends adjacency: `oats, milk` in a list is not `oat milk`.
                for segment in field.split([',', '.', ';', ':', '(', ')', '/', '!', '?']) {
                    let mut prev: Option<TermId> = None;
                    for s in text::stems(segment) {
                        if text::is_stopword(&s) {
                            continue;
                        }
                        // `aftercare` also answers a question about `care`.
                        if let Some(tail) = compound_tail(&s) {
                            let tail = intern(tail.to_string(), &mut vocab);
                            *counts.entry(tail).or_insert(0.0) += weight;
                        }
                        let id = intern(s, &mut vocab);
                        *counts.entry(id).or_insert(0.0) += weight;
                        len += weight;
                        if let Some(p) = prev {
                            pairs.insert((p, id));
                        }
                        prev = Some(id);
                    }
                }
            }
            let mut doc_names = Vec::new();
            for name in &doc.names {
                let all = text::stems(name);
                let content: Vec<String> = all
                    .iter()
                    .filter(|s| !text::is_stopword(s))
                    .cloned()
                    .collect();
                // "sin cámara" (tubeless) names the item by what it lacks: keeping the
                // negation as a term stops a bare "cámara" from naming it in full.
                let negated = all
                    .iter()
                    .any(|s| matches!(s.as_str(), "sin" | "sem" | "without" | "tanpa" | "non"));
                let chosen = if content.is_empty() || negated {
                    all
                } else {
                    content
                };
                let ids: Vec<TermId> = chosen.into_iter().map(|s| intern(s, &mut vocab)).collect();
                if !ids.is_empty() {
                    doc_names.push(ids);
                }
            }
            tf.push(counts);
            doc_len.push(len);
            bigrams.push(pairs);
            names.push(doc_names);
        }
        let n = docs.len();
        let mut postings: Vec<Vec<(usize, f32)>> = vec![Vec::new(); vocab.len()];
        for (d, counts) in tf.iter().enumerate() {
            for (&t, &c) in counts {
                postings[t as usize].push((d, c));
            }
        }
        for p in &mut postings {
            p.sort_by_key(|&(d, _)| d);
        }
        #[allow(clippy::cast_precision_loss)]
        let idf = postings
            .iter()
            .map(|p| {
                let df = p.len() as f32;
                (1.0 + (n as f32 - df + 0.5) / (df + 0.5)).ln()
            })
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let avg_len = if n == 0 {
            1.0
        } else {
            (doc_len.iter().sum::<f32>() / n as f32).max(1.0)
        };
        let mut by_len: Vec<Vec<(TermId, Vec<char>)>> = Vec::new();
        for (term, &id) in &vocab {
            if term.chars().all(|c| c.is_alphabetic()) {
                let chars: Vec<char> = term.chars().collect();
                if by_len.len() <= chars.len() {
                    by_len.resize_with(chars.len() + 1, Vec::new);
                }
                by_len[chars.len()].push((id, chars));
            }
        }
        for bucket in &mut by_len {
            // Deterministic typo matches regardless of hash order.
            bucket.sort_by_key(|(id, _)| *id);
        }
        Index {
            vocab,
            by_len,
            postings,
            idf,
            doc_len,
            avg_len,
            bigrams,
            names,
        }
    }

    /// The term of `stem`, if some document has it.
    #[must_use]
    pub fn term(&self, stem: &str) -> Option<TermId> {
        self.vocab.get(stem).copied()
    }

    /// Whether document `doc` has term `t` in any field.
    #[must_use]
    pub fn doc_has(&self, doc: usize, t: TermId) -> bool {
        self.postings
            .get(t as usize)
            .is_some_and(|p| p.binary_search_by_key(&doc, |&(d, _)| d).is_ok())
    }

    /// Whether `stem` is a word of some document.
    #[must_use]
    pub fn knows(&self, stem: &str) -> bool {
        self.vocab.contains_key(stem)
    }

    /// Every term of the index (stems).
    pub fn terms(&self) -> impl Iterator<Item = &str> {
        self.vocab.keys().map(String::as_str)
    }

    /// Turns content words (already without stopwords) into query terms.
    #[must_use]
    pub fn query(&self, words: &[String]) -> Query {
        let mut q = Query::default();
        for word in words {
            let mut pos: Vec<(TermId, f32)> = Vec::new();
            for form in text::expand(word) {
                if let Some(&id) = self.vocab.get(&form) {
                    push_max(&mut pos, id, 1.0);
                }
            }
            // A word of the language itself (`masuk`, "come in") is not a typo of a
            // catalog word (`mask`).
            // Nor is a word the language reads as a question's cue (`custa`, "costs", is
            // no `cesta`); topic words keep their cognates (`garantia`, `selante`).
            if pos.is_empty()
                && !crate::lang::is_common_word(word)
                && !super::lexicon::asks_only(word)
            {
                let stem = text::stem(word);
                for id in self.typo_matches(&stem) {
                    push_max(&mut pos, id, FUZZY_WEIGHT);
                }
            }
            if pos.is_empty() {
                q.unknown.push(text::stem(word));
            }
            q.positions.push(pos);
        }
        q
    }

    /// Vocabulary terms within the allowed edits of `word` (only the closest ones).
    fn typo_matches(&self, word: &str) -> Vec<TermId> {
        let chars: Vec<char> = word.chars().collect();
        if !chars.iter().all(|c| c.is_alphabetic()) {
            return Vec::new();
        }
        let max = fuzzy::allowed_edits(chars.len());
        if max == 0 {
            return Vec::new();
        }
        let mut best = usize::MAX;
        let mut out = Vec::new();
        let lo = chars.len().saturating_sub(max);
        let hi = (chars.len() + max).min(self.by_len.len().saturating_sub(1));
        for len in lo..=hi {
            let Some(bucket) = self.by_len.get(len) else {
                continue;
            };
            for (id, term) in bucket {
                // A typo keeps the first letter in practice; checking it first is also fast.
                if term.first() != chars.first() {
                    continue;
                }
                // A word that only grows another by two letters or more is another word
                // (`secadores` is not a typo of `secado`), not a slip of the finger.
                if term.len().abs_diff(chars.len()) >= 2
                    && (term.starts_with(&chars) || chars.starts_with(term))
                {
                    continue;
                }
                // In a four-letter word one changed letter is mostly another word (`care`
                // and `card`, `vape` and `vale`); a dropped, added or swapped one is a typo.
                if chars.len() == 4 && term.len() == 4 && !swapped(&chars, term) {
                    continue;
                }
                if let Some(d) = fuzzy::within(&chars, term, max.min(best)) {
                    // Two letters changed make another word (`pantalla`, a screen, is not
                    // `pastilla`, a pad; `anticaspa` is not `anticaída`); slips add, drop or
                    // swap letters, and only an ending changes two side by side.
                    if d == 2 && term.len() == chars.len() {
                        let changed: Vec<usize> =
                            (0..chars.len()).filter(|&i| chars[i] != term[i]).collect();
                        let in_ending = changed.first().is_some_and(|&i| i + 2 >= chars.len());
                        if changed.len() == 2 && (changed[1] - changed[0] >= 2 || !in_ending) {
                            continue;
                        }
                    }
                    if d < best {
                        best = d;
                        out.clear();
                    }
                    out.push(*id);
                }
            }
        }
        out
    }

    /// Every document matching at least one query term, best first (ties by document order).
    #[must_use]
    pub fn search(&self, q: &Query) -> Vec<Hit> {
        let weights = q.term_weights();
        let mut scores: HashMap<usize, (f32, usize)> = HashMap::new();
        for (&t, &w) in &weights {
            let idf = self.idf[t as usize];
            for &(d, tf) in &self.postings[t as usize] {
                let norm = K1 * (1.0 - B + B * self.doc_len[d] / self.avg_len);
                let s = idf * tf * (K1 + 1.0) / (tf + norm) * w;
                let e = scores.entry(d).or_insert((0.0, 0));
                e.0 += s;
                e.1 += 1;
            }
        }
        let present: HashSet<TermId> = weights.keys().copied().collect();
        let mut hits: Vec<Hit> = scores
            .into_iter()
            .map(|(doc, (mut score, matched))| {
                for pair in q.positions.windows(2) {
                    let adjacent = pair[0].iter().any(|&(a, _)| {
                        pair[1]
                            .iter()
                            .any(|&(b, _)| self.bigrams[doc].contains(&(a, b)))
                    });
                    if adjacent {
                        score += ADJACENT_BONUS;
                    }
                }
                let (coverage, name_terms, naming_terms) = self.coverage(doc, &present);
                let name_positions = q
                    .positions
                    .iter()
                    .enumerate()
                    .filter(|(_, pos)| pos.iter().any(|(t, _)| name_terms.contains(t)))
                    .map(|(i, _)| i)
                    .collect();
                Hit {
                    doc,
                    score,
                    coverage,
                    name_terms,
                    naming_terms,
                    name_positions,
                    matched,
                }
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
        hits
    }

    /// The best-covered name of `doc` (share of its terms present, preferring longer names)
    /// and the shortest fully covered one.
    fn coverage(&self, doc: usize, present: &HashSet<TermId>) -> (f32, Vec<TermId>, Vec<TermId>) {
        let mut best: (f32, usize, Vec<TermId>) = (0.0, 0, Vec::new());
        let mut shortest: Option<&Vec<TermId>> = None;
        for name in &self.names[doc] {
            let found = name.iter().filter(|t| present.contains(t)).count();
            #[allow(clippy::cast_precision_loss)]
            let share = found as f32 / name.len() as f32;
            if share > best.0 || (share == best.0 && found > best.1) {
                best = (share, found, name.clone());
            }
            if found == name.len() && shortest.is_none_or(|s| name.len() < s.len()) {
                shortest = Some(name);
            }
        }
        (best.0, best.2, shortest.cloned().unwrap_or_default())
    }
}

fn push_max(pos: &mut Vec<(TermId, f32)>, id: TermId, w: f32) {
    if let Some(e) = pos.iter_mut().find(|(t, _)| *t == id) {
        e.1 = e.1.max(w);
    } else {
        pos.push((id, w));
    }
}

/// The word inside an English compound made with a common prefix (`aftercare` → `care`,
/// `selfcare` → `care`), so the compound also answers the plain word.
fn compound_tail(stem: &str) -> Option<&str> {
    const PREFIXES: &[&str] = &["after", "self", "over", "under"];
    PREFIXES
        .iter()
        .find_map(|p| stem.strip_prefix(p))
        .filter(|t| t.len() >= 4)
}

/// Whether `a` and `b` (same length) differ only by two neighbouring letters swapped.
fn swapped(a: &[char], b: &[char]) -> bool {
    let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    diff.len() == 2
        && diff[1] == diff[0] + 1
        && a[diff[0]] == b[diff[1]]
        && a[diff[1]] == b[diff[0]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        Index::build(&[
            DocInput {
                fields: vec![("Chunky Knit Cardigan", 3.0), ("Warm cardigan", 1.0)],
                names: vec!["Chunky Knit Cardigan", "cardigan"],
            },
            DocInput {
                fields: vec![("Flat White", 3.0), ("Espresso with oat milk", 1.0)],
                names: vec!["Flat White", "coffee"],
            },
            DocInput {
                fields: vec![("Oat Cookie", 3.0), ("Contains wheat, oats, milk", 1.0)],
                names: vec!["Oat Cookie"],
            },
        ])
    }

    fn words(s: &str) -> Vec<String> {
        text::tokens(s)
            .into_iter()
            .filter(|t| !text::is_stopword(t))
            .collect()
    }

    #[test]
    fn typos_and_coverage() {
        let ix = index();
        let q = ix.query(&words("cardigen ada?"));
        let hits = ix.search(&q);
        assert_eq!(hits[0].doc, 0);
        assert!((hits[0].coverage - 1.0).abs() < f32::EPSILON);
        assert!(q.unknown.is_empty());
    }

    #[test]
    fn adjacency_breaks_ties() {
        let ix = index();
        let hits = ix.search(&ix.query(&words("do you have oat milk")));
        assert_eq!(hits[0].doc, 1, "{hits:?}");
    }

    #[test]
    fn unknown_words_are_reported() {
        let ix = index();
        let q = ix.query(&words("cuaca hujan"));
        assert!(q.is_empty());
        assert_eq!(q.unknown, vec!["cuaca", "hujan"]);
    }
}
