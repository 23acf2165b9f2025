//! Retrieval over one tenant's knowledge: which items a message names, which of their
//! variants it asks about, which policy and which of its sentences answer it, and which
//! shipping region a destination falls in.
//!
//! Items are selected conservatively: a message must contain all the words of an item's
//! name or of one of its aliases (typos allowed), or a sku, or match one item clearly better
//! than any other on two or more words. A word shared by accident (`gold` in "gold
//! prices today") selects nothing, because a wrong item in a draft is worse than no draft.

use super::index::{DocInput, Hit, Index, Query, TermId};
use super::lexicon;
use super::text;
use crate::knowledge::{Item, ItemKind, Knowledge, Policy};
use crate::lang;
use std::collections::HashSet;

/// Question words that are never what a catalog entry is about; left out of item queries.
const ITEM_QUERY_NOISE: &[&str] = &[
    "harga",
    "price",
    "ready",
    "stok",
    "stock",
    "size",
    "ukuran",
    "warna",
    "color",
    "colour",
    "berapa",
    "brp",
    "available",
    "tersedia",
    "kirim",
    "ongkir",
    "beli",
    "order",
    "pesan",
    "jual",
    "sell",
    "mau",
    "ask",
    "tanya",
    "info",
];

/// Size-label words that say nothing about which variant (`All Size`, `20 cm`).
const VARIANT_NOISE: &[&str] = &["size", "cm", "of", "ukuran", "all"];
/// Words of an option label that make it the one of two (`front and rear`, `pair`).
const PAIR_WORDS: &[&str] = &["and", "both", "pair", "two", "2", "&"];

/// The catalog's index.
pub struct Catalog {
    index: Index,
    /// Lower-case skus, by item.
    skus: Vec<String>,
    /// Whether each item is a service.
    services: Vec<bool>,
    /// Stems of each item's category and option values.
    labels: Vec<HashSet<String>>,
}

/// An item a message names.
#[derive(Clone, Debug)]
pub struct Found {
    pub item: usize,
    /// Query words that name it (blanked out before looking for intent cues).
    pub naming: HashSet<String>,
}

impl Catalog {
    #[must_use]
    pub fn new(k: &Knowledge) -> Catalog {
        let docs: Vec<(String, Vec<String>)> = k.items.iter().map(item_text).collect();
        let inputs: Vec<DocInput<'_>> = k
            .items
            .iter()
            .zip(&docs)
            .map(|(item, (details, colours))| {
                let mut fields = vec![(item.name.as_str(), 3.0), (item.description.as_str(), 1.0)];
                // Translated descriptions: a customer asks in their own language's words.
                for d in item.descriptions.values() {
                    fields.push((d.as_str(), 1.0));
                }
                for a in &item.aliases {
                    fields.push((a.as_str(), 3.0));
                }
                if let Some(c) = &item.category {
                    fields.push((c.as_str(), 1.5));
                }
                fields.push((details.as_str(), 0.5));
                for c in colours {
                    fields.push((c.as_str(), 0.5));
                }
                let mut names = vec![item.name.as_str()];
                names.extend(item.aliases.iter().map(String::as_str));
                DocInput { fields, names }
            })
            .collect();
        // What names an item besides its names: its category and option values.
        let labels: Vec<HashSet<String>> = k
            .items
            .iter()
            .zip(&docs)
            .map(|(item, (_, colours))| {
                item.category
                    .iter()
                    .chain(colours)
                    .flat_map(|t| text::stems(t))
                    .collect()
            })
            .collect();
        Catalog {
            labels,
            index: Index::build(&inputs),
            skus: k.items.iter().map(|i| i.sku.to_ascii_lowercase()).collect(),
            services: k
                .items
                .iter()
                .map(|i| i.kind == ItemKind::Service)
                .collect(),
        }
    }

    #[must_use]
    pub fn knows(&self, stem: &str) -> bool {
        self.index.knows(stem)
    }

    /// Every word (stem) of the catalog.
    pub fn vocabulary(&self) -> impl Iterator<Item = &str> {
        self.index.terms()
    }

    /// Whether `word` is a word of the catalog, typos allowed.
    #[must_use]
    pub fn knows_fuzzy(&self, word: &str) -> bool {
        self.index.query(&[word.to_string()]).unknown.is_empty()
    }

    /// The items `tokens` names, best first, at most three.
    #[must_use]
    pub fn find(&self, tokens: &[String], raw: &str) -> Vec<Found> {
        let mut out: Vec<Found> = Vec::new();
        let lower = raw.to_ascii_lowercase();
        for (i, sku) in self.skus.iter().enumerate() {
            if contains_word(&lower, sku) {
                out.push(Found {
                    item: i,
                    naming: HashSet::new(),
                });
            }
        }
        let words: Vec<String> = tokens
            .iter()
            .filter(|t| !text::is_stopword(t) && !ITEM_QUERY_NOISE.contains(&t.as_str()))
            .cloned()
            .collect();
        let query = self.index.query(&words);
        if query.is_empty() {
            return out;
        }
        let hits = self.index.search(&query);
        let full: Vec<&Hit> = hits.iter().filter(|h| h.coverage >= 0.999).collect();
        let chosen: Vec<&Hit> = if full.is_empty() {
            // A customer names what they ask about (a name, its category, an option): the
            // words of a description alone ("bikes", "for") do not.
            clear_winner(&hits)
                .filter(|h| {
                    h.coverage > 0.0
                        || words
                            .iter()
                            .any(|w| self.labels[h.doc].contains(&text::stem(w)))
                })
                .into_iter()
                .collect()
        } else {
            // A name inside a longer one the message also contains is not meant on its own:
            // `wool scarf set` is the set, not also the `wool scarf`.
            full.iter()
                .filter(|a| {
                    !full.iter().any(|b| {
                        strict_subset(&a.name_terms, &b.name_terms)
                            || strict_subset_pos(&a.name_positions, &b.name_positions)
                    })
                })
                .copied()
                .collect()
        };
        let chosen = drop_explained(&self.index, &query, &self.services, chosen);
        for hit in chosen {
            if out.iter().any(|f| f.item == hit.doc) {
                continue;
            }
            out.push(Found {
                item: hit.doc,
                naming: self.naming_words(tokens, &query, &words, &hit.naming_terms),
            });
        }
        out.truncate(3);
        out
    }
}

/// With no full name in the message, one item may still be meant: it must match two or more
/// query words and score well clear of the runner-up.
fn clear_winner(hits: &[Hit]) -> Option<&Hit> {
    let top = hits.first()?;
    let second = hits.get(1).map_or(0.0, |h| h.score);
    (top.matched >= 2 && top.score >= 1.3 * second).then_some(top)
}

/// Drops an item whose naming words all occur in another chosen item (that is not itself
/// explained the other way round): `alquilo un patinete eléctrico` names an electric-scooter
/// hire, and a plain hire aliased by the one word `alquiler` is named by a word of the
/// scooter's name too; `lock included?` beside a hire whose description includes the lock
/// asks about the hire.
fn drop_explained<'a>(
    index: &Index,
    query: &Query,
    services: &[bool],
    chosen: Vec<&'a Hit>,
) -> Vec<&'a Hit> {
    if chosen.len() < 2 {
        return chosen;
    }
    // Query positions of the words of each hit's fully covered name.
    let naming: Vec<Vec<usize>> = chosen
        .iter()
        .map(|h| {
            (0..query.positions.len())
                .filter(|&p| {
                    query.positions[p]
                        .iter()
                        .any(|(t, _)| h.naming_terms.contains(t))
                })
                .collect()
        })
        .collect();
    let explains = |a: usize, b: usize| {
        !naming[b].is_empty()
            && naming[b].iter().all(|&p| {
                query.positions.get(p).is_some_and(|terms| {
                    terms.iter().any(|&(t, _)| index.doc_has(chosen[a].doc, t))
                })
            })
    };
    // Two names sharing a word of the message are two readings of one phrase: a service
    // done to a product is meant rather than the product (a fitting of contact lenses is
    // the fitting), otherwise the better match (`alquilar patinete eléctrico`: the
    // electric-scooter hire, not the plain one aliased `alquilar patinete`).
    let service = |h: usize| services.get(chosen[h].doc).copied().unwrap_or(false);
    let overlaps = |a: usize, b: usize| {
        let better = match (service(a), service(b)) {
            (true, false) => true,
            (false, true) => false,
            _ => chosen[a].score > chosen[b].score,
        };
        better && naming[a].iter().any(|p| naming[b].contains(p))
    };
    // Each naming words the other has ("tubeless setup… sealant included?" beside a
    // `Tubeless Sealant`): the far better match is the one asked about.
    let dominates = |a: usize, b: usize| {
        explains(a, b) && explains(b, a) && chosen[a].score >= MUTUAL_MARGIN * chosen[b].score
    };
    (0..chosen.len())
        .filter(|&b| {
            !(0..chosen.len()).any(|a| {
                a != b && ((explains(a, b) && !explains(b, a)) || overlaps(a, b) || dominates(a, b))
            })
        })
        .map(|b| chosen[b])
        .collect()
}

/// How many times better one of two mutually explained items must match to be the only
/// one asked about.
const MUTUAL_MARGIN: f32 = 2.0;

fn strict_subset_pos(a: &[usize], b: &[usize]) -> bool {
    a.len() < b.len() && a.iter().all(|t| b.contains(t))
}

fn strict_subset(a: &[TermId], b: &[TermId]) -> bool {
    a.len() < b.len() && a.iter().all(|t| b.contains(t))
}

impl Catalog {
    /// The message words that are (or misspell) a word of the item's name; a word that
    /// only reaches the name through a synonym (`celiac` → `gluten`) still asks something.
    fn naming_words(
        &self,
        tokens: &[String],
        query: &Query,
        words: &[String],
        name: &[TermId],
    ) -> HashSet<String> {
        let mut out = HashSet::new();
        for (word, pos) in words.iter().zip(&query.positions) {
            let naming = match self.index.term(&text::stem(word)) {
                Some(own) => name.contains(&own),
                // Not a catalog word itself: it names the item only as a typo of a name word.
                None => pos.iter().any(|(t, w)| *w < 1.0 && name.contains(t)),
            };
            if naming && tokens.contains(word) {
                out.insert(word.clone());
            }
        }
        out
    }
}

fn item_text(item: &Item) -> (String, Vec<String>) {
    let details = item
        .details
        .iter()
        .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(". ");
    // Colours and other option values (`Samsung A54`, `Ivory`) name what a customer asks
    // for; sizes are left to `variants`, since `M` or `40` say nothing about the item.
    let mut colours: Vec<String> = Vec::new();
    for v in &item.variants {
        for c in v.colour.iter().chain(v.options.values()) {
            if !colours.contains(c) {
                colours.push(c.clone());
            }
        }
    }
    (details, colours)
}

/// Whether `needle` occurs in `hay` with no letter or digit right before or after it.
#[must_use]
pub fn contains_word(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(p) = hay[from..].find(needle) {
        let start = from + p;
        let end = start + needle.len();
        let before = hay[..start].chars().next_back();
        let after = hay[end..].chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
            return true;
        }
        from = start + needle.len().max(1);
        if from >= hay.len() {
            break;
        }
    }
    false
}

/// What a message asks of an item's variants.
#[derive(Debug, Default)]
pub struct VariantAsk {
    /// Variants the message names, best match only.
    pub matched: Vec<usize>,
    /// Size or colour words in the message (`s`, `hitam`, `40`).
    pub asked: Vec<String>,
    /// How many words of the best label the message has.
    pub score: usize,
}

/// Which variants of `item` the message names.
#[must_use]
pub fn variants(item: &Item, tokens: &[String], size_cue: bool) -> VariantAsk {
    let mut present: HashSet<String> = HashSet::new();
    for t in tokens {
        for form in text::expand(t) {
            present.insert(form);
        }
        present.insert(t.clone());
        if let Some(letter) = lexicon::size_letter(t) {
            present.insert(letter.to_string());
        }
    }
    let numeric_sizes = item.variants.iter().any(|v| {
        v.size
            .as_deref()
            .is_some_and(|s| s.chars().all(|c| c.is_ascii_digit()))
    });
    let asked: Vec<String> = tokens
        .iter()
        .filter(|t| {
            lexicon::SIZE_WORDS.contains(&t.as_str())
                || lexicon::size_letter(t).is_some()
                || lexicon::COLOUR_WORDS.contains(&t.as_str())
                || (numeric_sizes
                    && size_cue
                    && t.parse::<u32>().is_ok_and(|n| (20..=50).contains(&n)))
        })
        .cloned()
        .collect();
    // "bleed both brakes" names the option of two (`front and rear`, `pair`, `2 wheels`).
    let both = present.contains("both");
    let mut best = 0;
    let mut matched = Vec::new();
    for (i, v) in item.variants.iter().enumerate() {
        // Size, colour and every other option (`iPhone 13`, `200 ml`).
        let label = v.label();
        let pair = both
            && text::tokens(&label)
                .iter()
                .any(|t| PAIR_WORDS.contains(&t.as_str()));
        // A label in the owner's language (`Cobre`) matches the customer's (`copper`).
        let score = text::stems(&label)
            .iter()
            .filter(|s| {
                !VARIANT_NOISE.contains(&s.as_str())
                    && (present.contains(*s) || lang::senses(s).iter().any(|x| present.contains(x)))
            })
            .count()
            + usize::from(pair);
        if score > best {
            best = score;
            matched.clear();
        }
        if score == best && score > 0 {
            matched.push(i);
        }
    }
    VariantAsk {
        matched,
        asked,
        score: best,
    }
}

/// A number in the message shaped like one of `item`'s option values that no variant has:
/// `tono 05` or `30 ml` when the shades are `01`–`04` and the volumes `50 ml` and `100 ml`.
/// Shaped means beside the option's kind (`shade 05`, a customer word the language file maps
/// to it), followed by a unit the values use (`ml`, `kg`), or zero-padded like them; a bare
/// count ("2 of them") is not an option.
#[must_use]
pub fn unlisted_number(item: &Item, tokens: &[String]) -> Option<String> {
    let numbers = OptionNumbers::of(item);
    let mut padded = false;
    let mut units: HashSet<String> = HashSet::new();
    let mut kinds: HashSet<String> = HashSet::new();
    for v in &item.variants {
        let label = text::tokens(&v.label());
        for (i, t) in label.iter().enumerate() {
            if value(t).is_some() {
                padded |= t.len() > 1 && t.starts_with('0');
                if let Some(u) = label.get(i + 1).filter(|u| value(u).is_none()) {
                    units.insert(u.clone());
                }
            }
        }
        for (key, val) in &v.options {
            if text::tokens(val).iter().any(|t| value(t).is_some()) {
                kinds.extend(text::tokens(key).iter().flat_map(|t| lang::senses(t)));
            }
        }
        if v.size
            .as_deref()
            .is_some_and(|s| s.chars().any(|c| c.is_ascii_digit()))
        {
            kinds.insert("size".into());
        }
    }
    if numbers.is_empty() {
        return unlisted_size(item, tokens);
    }
    // Options measured as `700x38` (a tyre's diameter by width): a number on either side
    // of an `x` is shaped like them (`650b x 47`).
    let dimensions = item.variants.iter().any(|v| is_dimension(&v.label()));
    tokens.iter().enumerate().find_map(|(i, t)| {
        let n = value(t)?;
        if numbers.lists(n) {
            return None;
        }
        let unit = tokens.get(i + 1).is_some_and(|u| units.contains(u));
        let kind = i > 0 && kinds.contains(&tokens[i - 1]);
        let shaped = padded && t.len() > 1 && t.starts_with('0');
        let by = dimensions
            && (tokens.get(i + 1).is_some_and(|x| x == "x") || (i > 0 && tokens[i - 1] == "x"));
        (unit || kind || shaped || by).then(|| t.clone())
    })
}

/// Whether `label` has a measure written `A x B` or `AxB` (`700x38`, `29 x 2.4`).
fn is_dimension(label: &str) -> bool {
    let chars: Vec<char> = label.to_lowercase().chars().filter(|c| *c != ' ').collect();
    chars
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && (w[1] == 'x' || w[1] == '×') && w[2].is_ascii_digit())
}

/// Units of quantity an item without variants states its one size in (`100 ml`, `50 g`).
pub const SIZE_UNITS: &[&str] = &["ml", "l", "g", "kg", "oz", "cl", "gr"];

/// For an item without variants: an amount in a unit its description or details state,
/// where the amount differs from every one they state ("the 400ml one?" of a 200 ml gel).
fn unlisted_size(item: &Item, tokens: &[String]) -> Option<String> {
    let mut stated: HashSet<(u64, String)> = HashSet::new();
    let texts = std::iter::once(item.description.as_str())
        .chain(item.descriptions.values().map(String::as_str))
        .chain(item.details.values().map(String::as_str));
    for text in texts {
        let t = text::tokens(text);
        for w in t.windows(2) {
            if let Some(n) = value(&w[0])
                && SIZE_UNITS.contains(&w[1].as_str())
            {
                stated.insert((n, w[1].clone()));
            }
        }
    }
    if stated.is_empty() {
        return None;
    }
    tokens.windows(2).find_map(|w| {
        let n = value(&w[0])?;
        let unit = w[1].as_str();
        let same_unit = stated.iter().any(|(_, u)| u == unit);
        (same_unit && !stated.contains(&(n, unit.to_string()))).then(|| w[0].clone())
    })
}

/// A token that is a whole number, as its value.
fn value(t: &str) -> Option<u64> {
    t.chars()
        .all(|c| c.is_ascii_digit())
        .then(|| t.parse().ok())
        .flatten()
}

/// The whole numbers `item`'s variant labels name (`25`, `28`, `32` of `700c 32 mm`) and
/// the ranges they span (`700x25-32c` fits a 28, `48-52 cm` a 50).
#[derive(Debug, Default)]
pub struct OptionNumbers {
    numbers: HashSet<u64>,
    ranges: Vec<(u64, u64)>,
}

impl OptionNumbers {
    #[must_use]
    pub fn of(item: &Item) -> OptionNumbers {
        let mut out = OptionNumbers::default();
        for v in &item.variants {
            let label = v.label();
            out.numbers
                .extend(text::tokens(&label).iter().filter_map(|t| value(t)));
            // Digits joined by a dash, read on the label itself (tokens drop the dash).
            let runs: Vec<(usize, usize)> = digit_runs(&label);
            for pair in runs.windows(2) {
                let between = &label[pair[0].1..pair[1].0];
                if matches!(between.trim(), "-" | "–")
                    && let (Some(a), Some(b)) = (
                        value(&label[pair[0].0..pair[0].1]),
                        value(&label[pair[1].0..pair[1].1]),
                    )
                    && a < b
                {
                    out.ranges.push((a, b));
                }
            }
        }
        out
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// Whether `n` is a value a variant names or falls in a range one spans.
    #[must_use]
    pub fn lists(&self, n: u64) -> bool {
        self.numbers.contains(&n) || self.ranges.iter().any(|&(a, b)| (a..=b).contains(&n))
    }
}

/// Byte ranges of the runs of ASCII digits in `s`.
fn digit_runs(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                out.push((st, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push((st, s.len()));
    }
    out
}

/// The policies' index and which policies serve which kind of question.
pub struct Policies {
    index: Index,
    families: Vec<(Family, Vec<usize>)>,
}

/// Kinds of question a policy can answer, recognised from its key and title.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    Shipping,
    Returns,
    Exchanges,
    Payment,
    OrderStatus,
    Allergens,
    Location,
    /// Work or goods left uncollected: how long they are kept, what it costs.
    Storage,
}

impl Family {
    fn words(self) -> &'static [&'static str] {
        match self {
            Family::Shipping => &[
                "ship",
                "shipping",
                "kirim",
                "pengiriman",
                "delivery",
                "deliver",
                "ongkir",
                "pickup",
                "pick",
                "antar",
            ],
            Family::Returns => &[
                "return",
                "returns",
                "retur",
                "refund",
                "refunds",
                "pengembalian",
                "cancel",
                "cancellation",
                "cancellations",
                "batal",
            ],
            Family::Exchanges => &["exchange", "exchanges", "tukar"],
            Family::Payment => &["payment", "pay", "bayar", "pembayaran"],
            Family::OrderStatus => &["order_status", "tracking", "track", "lacak", "status"],
            Family::Allergens => &["allergen", "allergens", "alergi", "alergen"],
            Family::Storage => &[
                "storage",
                "unclaimed",
                "uncollected",
                "abandoned",
                "diambil",
                "penyimpanan",
                "penitipan",
                "reclamadas",
                "reclamados",
                "recogidas",
                "recogidos",
                "retiradas",
                "almacenaje",
                "bodegaje",
                "levantados",
                "levantadas",
                "armazenamento",
                "abandonados",
                "abandonadas",
            ],
            Family::Location => &[
                "contact",
                "kontak",
                "visit",
                "kunjungan",
                "store",
                "toko",
                "location",
                "lokasi",
                "butik",
            ],
        }
    }
}

/// A policy chosen for a message.
#[derive(Clone, Copy, Debug)]
pub struct PolicyHit {
    pub policy: usize,
    pub score: f32,
}

impl Policies {
    #[must_use]
    pub fn new(k: &Knowledge) -> Policies {
        let keys: Vec<String> = k
            .policies
            .iter()
            .map(|p| p.key.replace(['_', '-'], " "))
            .collect();
        let inputs: Vec<DocInput<'_>> = k
            .policies
            .iter()
            .zip(&keys)
            .map(|(p, key)| {
                let mut fields = vec![
                    (p.title.as_str(), 2.0),
                    (key.as_str(), 2.0),
                    (p.text.as_str(), 1.0),
                ];
                // Translations too: a Spanish question finds the policy of an English shop.
                for (title, text) in p.translations.values() {
                    fields.push((title.as_str(), 2.0));
                    fields.push((text.as_str(), 1.0));
                }
                DocInput {
                    fields,
                    names: vec![p.title.as_str()],
                }
            })
            .collect();
        let all = [
            Family::Shipping,
            Family::Returns,
            Family::Exchanges,
            Family::Payment,
            Family::OrderStatus,
            Family::Allergens,
            Family::Location,
            Family::Storage,
        ];
        let families = all
            .into_iter()
            .map(|f| {
                let members = k
                    .policies
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| in_family(p, f))
                    .map(|(i, _)| i)
                    .collect();
                (f, members)
            })
            .collect();
        Policies {
            index: Index::build(&inputs),
            families,
        }
    }

    #[must_use]
    pub fn knows(&self, stem: &str) -> bool {
        self.index.knows(stem)
    }

    /// Every word (stem) of the policies.
    pub fn vocabulary(&self) -> impl Iterator<Item = &str> {
        self.index.terms()
    }

    /// Whether `word` is a word of some policy, typos allowed.
    #[must_use]
    pub fn knows_fuzzy(&self, word: &str) -> bool {
        self.index.query(&[word.to_string()]).unknown.is_empty()
    }

    #[must_use]
    pub fn family(&self, f: Family) -> &[usize] {
        self.families
            .iter()
            .find(|(g, _)| *g == f)
            .map_or(&[], |(_, m)| m.as_slice())
    }

    /// Policies matching the content words, best first.
    #[must_use]
    pub fn search(&self, words: &[String]) -> Vec<PolicyHit> {
        let q = self.index.query(words);
        self.index
            .search(&q)
            .into_iter()
            .map(|h| PolicyHit {
                policy: h.doc,
                score: h.score,
            })
            .collect()
    }

    /// The best policy of `family` for the message (its best-scoring member, else the first),
    /// or a better-scoring policy outside the family when the message clearly names it.
    #[must_use]
    pub fn for_family(&self, f: Family, words: &[String]) -> Option<usize> {
        let members = self.family(f);
        let hits = self.search(words);
        let best_member = hits.iter().find(|h| members.contains(&h.policy));
        let best_any = hits.first();
        match (best_member, best_any) {
            (Some(m), Some(a)) if a.policy != m.policy && a.score >= 2.0 * m.score => {
                Some(a.policy)
            }
            (Some(m), _) => Some(m.policy),
            (None, Some(a)) if a.score >= STRONG_POLICY => Some(a.policy),
            _ => members.first().copied(),
        }
    }
}

/// A policy score at which a message is taken to be about that policy.
pub const STRONG_POLICY: f32 = 1.2;

fn in_family(p: &Policy, f: Family) -> bool {
    let key = p.key.to_ascii_lowercase();
    let title = text::tokens(&p.title);
    if f == Family::OrderStatus {
        // `status` alone is too common (`Halal status`): it must be an order's status.
        let about_orders = title
            .iter()
            .any(|t| matches!(t.as_str(), "order" | "pesanan" | "orders"));
        let has_status = title.iter().any(|t| t == "status");
        return matches!(key.as_str(), "order_status" | "order-status" | "tracking")
            || title
                .iter()
                .any(|t| matches!(t.as_str(), "tracking" | "lacak" | "track"))
            || (about_orders && has_status);
    }
    f.words().iter().any(|w| {
        key == *w || key.split(['_', '-']).any(|k| k == *w) || title.iter().any(|t| t == w)
    })
}

/// Up to `max` sentences of `text` that share the most words with the message (in their
/// original order); the first sentence when none does.
#[must_use]
pub fn best_sentences<'a>(text: &'a str, words: &[String], max: usize) -> Vec<&'a str> {
    let sentences = text::sentences(text);
    let wanted: HashSet<String> = words.iter().flat_map(|w| text::expand(w)).collect();
    let mut scored: Vec<(usize, usize)> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let overlap = text::stems(s)
                .iter()
                .filter(|t| !text::is_stopword(t) && wanted.contains(*t))
                .collect::<HashSet<_>>()
                .len();
            (i, overlap)
        })
        .filter(|&(_, o)| o > 0)
        .collect();
    scored.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut picked: Vec<usize> = scored.iter().take(max).map(|&(i, _)| i).collect();
    if picked.is_empty() && !sentences.is_empty() {
        picked.push(0);
    }
    picked.sort_unstable();
    picked.into_iter().map(|i| sentences[i]).collect()
}

/// Sentences of `text` that refuse something (`parcels never go outside Crete`), with how many
/// message words each shares and whether it is a catch-all (`outside`, `di luar` + place).
#[must_use]
pub fn restrictions<'a>(text: &'a str, words: &[String]) -> Vec<(&'a str, usize, bool)> {
    const NEGATIONS: &[&str] = &[
        "not", "no", "never", "tidak", "belum", "tak", "bukan", "dont", "nao", "nunca", "ni",
    ];
    let wanted: HashSet<String> = words.iter().flat_map(|w| text::expand(w)).collect();
    text::sentences(text)
        .into_iter()
        .filter_map(|s| {
            let toks = text::tokens(s);
            if !toks.iter().any(|t| NEGATIONS.contains(&t.as_str())) {
                return None;
            }
            let overlap = toks
                .iter()
                .map(|t| text::stem(t))
                .filter(|t| !text::is_stopword(t) && wanted.contains(t))
                .collect::<HashSet<_>>()
                .len();
            let catch_all = toks.iter().enumerate().any(|(i, t)| {
                t == "outside"
                    || t == "fora"
                    || t == "fuera"
                    || (t == "luar"
                        && !toks
                            .get(i + 1)
                            .is_some_and(|n| n == "negeri" || n == "kota"))
            });
            Some((s, overlap, catch_all))
        })
        .collect()
}

/// A shipping region a message names, with the place as the customer wrote it.
#[derive(Clone, Debug)]
pub struct RegionHit {
    pub region: usize,
    pub place: String,
}

/// The region of the first place (or region name) the message names; longer names first,
/// so `Jakarta Selatan` wins over `Jakarta`.
#[must_use]
pub fn region(k: &Knowledge, tokens: &[String]) -> Option<RegionHit> {
    let mut best: Option<(usize, RegionHit)> = None;
    for (r, region) in k.business.shipping_regions.iter().enumerate() {
        for place in region.places.iter().chain(std::iter::once(&region.name)) {
            let p = text::tokens(place);
            if p.is_empty() || !lexicon::contains_phrase(tokens, &p.join(" ")) {
                continue;
            }
            if best.as_ref().is_none_or(|(n, _)| p.len() > *n) {
                best = Some((
                    p.len(),
                    RegionHit {
                        region: r,
                        place: place.clone(),
                    },
                ));
            }
        }
    }
    best.map(|(_, h)| h).or_else(|| member_state(k, tokens))
}

/// A country the regions name only in another language ("Spain" for "España
/// peninsular"), or a member state of the European Union none names, taken by the one
/// region that is the Union ("Rest of the EU", "União Europeia"): that region's fee answers.
fn member_state(k: &Knowledge, tokens: &[String]) -> Option<RegionHit> {
    let (names, eu) = lexicon::COUNTRIES
        .iter()
        .find(|(names, _)| names.iter().any(|n| lexicon::contains_phrase(tokens, n)))?;
    let said = names.iter().find(|n| lexicon::contains_phrase(tokens, n))?;
    let words_of = |r: &crate::knowledge::ShippingRegion| -> Vec<String> {
        std::iter::once(&r.name)
            .chain(&r.places)
            .flat_map(|n| text::tokens(n))
            .collect()
    };
    let only = |mut hits: Vec<usize>| (hits.len() == 1).then(|| hits.remove(0));
    let naming: Vec<usize> = k
        .business
        .shipping_regions
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let words = words_of(r);
            names.iter().any(|n| lexicon::contains_phrase(&words, n))
        })
        .map(|(i, _)| i)
        .collect();
    let region = if naming.is_empty() {
        if !eu {
            return None;
        }
        only(
            k.business
                .shipping_regions
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    words_of(r)
                        .iter()
                        .any(|w| lexicon::EU_WORDS.contains(&w.as_str()))
                })
                .map(|(i, _)| i)
                .collect(),
        )?
    } else {
        only(naming)?
    };
    let place = said
        .split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    Some(RegionHit { region, place })
}

/// The word after `ke` / `to` that looks like a destination, if the message has one.
#[must_use]
pub fn destination(tokens: &[String]) -> Option<String> {
    let place = |next: &String| {
        !text::is_stopword(next)
            && !lexicon::is_cue_word(next)
            && !next.chars().all(|c| c.is_ascii_digit())
    };
    tokens
        .windows(2)
        .find_map(|w| {
            (lexicon::DESTINATION_MARKERS.contains(&w[0].as_str()) && place(&w[1]))
                .then(|| w[1].clone())
        })
        .or_else(|| {
            // `envían a Canarias`, `mandam para Faro`: `a` and `para` mean "to" only
            // right after a word for sending.
            tokens.windows(3).find_map(|w| {
                (matches!(
                    w[0].as_str(),
                    "ship" | "shipping" | "deliver" | "delivery" | "send"
                ) && matches!(w[1].as_str(), "a" | "al" | "para" | "pra" | "hasta")
                    && place(&w[2]))
                .then(|| w[2].clone())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_sentences() {
        assert!(contains_word("order kb-dr-001 ya", "kb-dr-001"));
        assert!(!contains_word("xkb-dr-001", "kb-dr-001"));
        let text = "Retur maksimal 7 hari. Anting tidak bisa diretur. Dana kembali 3 hari kerja.";
        let words = vec!["anting".to_string(), "diretur".to_string()];
        assert_eq!(
            best_sentences(text, &words, 1),
            vec!["Anting tidak bisa diretur."]
        );
        assert_eq!(
            best_sentences(text, &["zzz".to_string()], 2),
            vec!["Retur maksimal 7 hari."]
        );
        let r = restrictions(
            "Couriers come at noon. Parcels never go outside Crete.",
            &[],
        );
        assert_eq!(r, vec![("Parcels never go outside Crete.", 0, true)]);
        let r = restrictions("Pengiriman ke luar negeri belum tersedia.", &[]);
        assert!(!r[0].2);
    }

    #[test]
    fn destinations() {
        let t = text::tokens("kalau dikirim ke Papua kena ongkir berapa?");
        assert_eq!(destination(&t).as_deref(), Some("papua"));
        let t = text::tokens("mau order ke sini");
        assert_eq!(destination(&t), None);
    }
}
