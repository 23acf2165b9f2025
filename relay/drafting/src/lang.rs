//! The languages drafts can be written in, each described by one data file
//! (`assets/lang/<code>.toml`): the words that tell it apart in short chat messages, the
//! customer words that mean a cue of the drafter's own vocabulary (`precio` → `price`), the
//! function words that carry no content, and every phrase a grounded reply is built from.
//!
//! The shipped files are compiled in; a directory named by `RELAY_LANG_DIR` may replace one
//! or add a language without a release (a file there wins over the built-in of the same
//! code). A file that lacks a phrase the built-in English file has is refused, so no reply is
//! ever half in one language. This module decides nothing about replies; `draft` uses it.
//!
//! Beside a phrase file a language may have a generated everyday-word list
//! (`<code>.everyday.txt`, one word a line): words that say something about anything and
//! name no goods, so they never make a message look as if it asked about what the knowledge
//! lacks (`is_everyday_word`). They are no markers: a list that long would decide detection.
//!
//! Detection (`detect`) counts each language's marker words (its `words` keys included) and
//! adds `whatlang`'s guess when the message has three words or more; ties fall back to the
//! business's main language, because a two-word message ("ok thanks") says little.

pub mod text;

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::OnceLock;

/// A language with a phrase file, named by its code (`en`, `id`, `es`, `pt`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Language(&'static str);

impl Language {
    pub const ENGLISH: Language = Language("en");
    pub const INDONESIAN: Language = Language("id");

    /// The code as written in knowledge files and the dry run's output.
    #[must_use]
    pub fn code(self) -> &'static str {
        self.0
    }

    /// The language of `code`, if a phrase file for it is loaded.
    #[must_use]
    pub fn parse(code: &str) -> Option<Language> {
        registry()
            .get(code.trim())
            .map(|l| Language(l.code.as_str()))
    }

    /// This language's phrases and vocabulary.
    #[must_use]
    pub fn file(self) -> &'static LangFile {
        // Every `Language` value was made from a loaded file (or is one of the built-in
        // constants, whose files are compiled in and checked by a test).
        registry()
            .get(self.0)
            .or_else(|| registry().get("en"))
            .unwrap_or_else(|| &registry().fallback)
    }
}

impl Language {
    /// `word` without its longest inflection ending of this language, if at least four
    /// letters stay (`respaldan` → `respald`, `coloracao` → `color`); `None` for a language
    /// whose file lists no inflections or a word too short to strip.
    #[must_use]
    pub fn root(self, word: &str) -> Option<&str> {
        const MIN_ROOT: usize = 4;
        let file = self.file();
        file.inflections
            .iter()
            .filter(|e| word.len() >= e.len() + MIN_ROOT && word.ends_with(e.as_str()))
            .max_by_key(|e| e.len())
            .map(|e| &word[..word.len() - e.len()])
    }

    /// Every loaded language whose file lists inflections.
    #[must_use]
    pub fn inflected() -> Vec<Language> {
        let mut out: Vec<Language> = registry()
            .files
            .values()
            .filter(|f| !f.inflections.is_empty())
            .map(|f| Language(f.code.as_str()))
            .collect();
        out.sort_by_key(|l| l.code());
        out
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One language's data file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct LangFile {
    pub code: String,
    pub name: String,
    /// `whatlang`'s ISO 639-3 code for this language (`spa`), if it knows it.
    #[serde(default)]
    pub whatlang: Option<String>,
    /// Words that are typical of this language in short chat messages.
    #[serde(default)]
    pub markers: Vec<String>,
    /// Function words that say nothing about what is asked.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Everyday words (verbs, people, time, chat slang) that name no product, option or
    /// topic of a shop. Unlike `drop` they stay in every index and query; they only never
    /// make a message look as if it asked about something the knowledge does not have.
    #[serde(default)]
    pub common: Vec<String>,
    /// Words and phrases (folded) that point at something the customer shows and the
    /// drafter cannot see: the product in a photo ("this one in red?"), a message before.
    #[serde(default)]
    pub pointing: Vec<String>,
    /// Words (folded) a customer says of their own things (`my`, `mi`, `saya`): a
    /// statement with one describes what they have, not which option they want.
    #[serde(default)]
    pub own: Vec<String>,
    /// Customer words or phrases → the drafter's own cue words (`"cuanto cuesta" = "how much"`).
    #[serde(default)]
    pub words: BTreeMap<String, String>,
    /// Every reply phrase, `{name}` placeholders filled by the drafter.
    pub phrases: BTreeMap<String, String>,
    /// Weekday names, Monday first.
    pub days: Vec<String>,
    /// Labels for item detail keys (`material` → `Bahan`); missing keys are shown as written.
    #[serde(default)]
    pub detail_labels: BTreeMap<String, String>,
    /// Word endings (folded) that inflect one word: verb forms, plural, gender
    /// (`respaldan` / `respaldar`, `lindas` / `lindo`). Two words of this language that differ
    /// only in one of them are taken to be the same word (see [`Language::root`]).
    #[serde(default)]
    pub inflections: Vec<String>,
}

impl LangFile {
    /// The phrase `key` with its placeholders filled; the key itself when missing (the
    /// loader refuses files with missing phrases, so this only shows in a broken build).
    #[must_use]
    pub fn phrase(&self, key: &str, args: &[(&str, &str)]) -> String {
        let template = self.phrases.get(key).map_or(key, String::as_str);
        fill(template, args)
    }

    #[must_use]
    pub fn day(&self, index: usize) -> &str {
        self.days.get(index).map_or("", String::as_str)
    }
}

/// `{name}` → value, for every pair; unknown placeholders stay as written.
#[must_use]
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in args {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// A customer phrase (as tokens) and the cue words it stands for.
type Mapping = (Vec<String>, Vec<String>);

/// One language's customer-word table, indexed by a phrase's first token so a message word
/// is compared with the few phrases that can start there, not the whole table.
#[derive(Default)]
struct WordTable {
    /// First token → phrases starting with it, longest first.
    by_first: HashMap<String, Vec<Mapping>>,
}

impl WordTable {
    fn new(mut table: Vec<Mapping>) -> WordTable {
        table.sort_by_key(|m| std::cmp::Reverse(m.0.len()));
        let mut by_first: HashMap<String, Vec<Mapping>> = HashMap::new();
        for m in table {
            if let Some(first) = m.0.first() {
                by_first.entry(first.clone()).or_default().push(m);
            }
        }
        WordTable { by_first }
    }

    fn is_empty(&self) -> bool {
        self.by_first.is_empty()
    }

    /// The longest phrase starting at `tokens[0]`, and its cue words.
    fn longest_at(&self, tokens: &[String]) -> Option<&Mapping> {
        self.by_first
            .get(tokens.first()?)?
            .iter()
            .find(|(from, _)| from.len() <= tokens.len() && tokens[..from.len()] == from[..])
    }

    /// The cue words of a one-word phrase.
    fn single(&self, token: &str) -> Option<&[String]> {
        self.by_first
            .get(token)?
            .iter()
            .find(|(from, _)| from.len() == 1)
            .map(|(_, to)| to.as_slice())
    }
}

/// Every loaded language, plus the customer-word tables folded for matching.
pub struct Registry {
    files: HashMap<String, LangFile>,
    /// Per language: folded customer phrase (as tokens) → canonical tokens.
    words: HashMap<String, WordTable>,
    /// Every language's function words (`de`, `el`, `o`), which name nothing.
    function_words: std::collections::HashSet<String>,
    /// Every language's everyday words (`ikut`, `deixou`), which ask about nothing unknown.
    common_words: std::collections::HashSet<String>,
    /// Per language: its everyday words that no other language lists in any way, which
    /// tell the language apart as markers do (`udh`, `yet`, `vcs`).
    own_common: HashMap<String, std::collections::HashSet<String>>,
    /// Every language's one-word markers and customer words (`tienen`, `precio`).
    language_words: std::collections::HashSet<String>,
    /// Words of a language's generated everyday list (`<code>.everyday.txt`): words no
    /// sense of which names goods, a service, a person or an option. Not markers: a list
    /// this long would outvote the hand-written ones in detection.
    everyday_words: std::collections::HashSet<String>,
    fallback: LangFile,
}

impl Registry {
    fn get(&self, code: &str) -> Option<&LangFile> {
        self.files.get(code)
    }

    /// Every phrase and day name of every language: words a draft may use that are no
    /// tenant's (the safety classifier's vocabulary includes them).
    pub fn phrase_texts(&self) -> impl Iterator<Item = &str> {
        self.files.values().flat_map(|f| {
            f.phrases
                .values()
                .chain(f.days.iter())
                .chain(f.detail_labels.values())
                .map(String::as_str)
        })
    }
}

const BUILT_IN: &[(&str, &str)] = &[
    ("en", include_str!("../../../assets/lang/en.toml")),
    ("id", include_str!("../../../assets/lang/id.toml")),
    ("es", include_str!("../../../assets/lang/es.toml")),
    ("pt", include_str!("../../../assets/lang/pt.toml")),
];

/// The generated everyday-word lists shipped with the relay (`RELAY_LANG_DIR` may add or
/// replace one as `<code>.everyday.txt`).
const BUILT_IN_EVERYDAY: &[(&str, &str)] =
    &[("en", include_str!("../../../assets/lang/en.everyday.txt"))];

/// The words of an everyday list: one per line, `#` starts a comment line.
fn everyday_list(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains(' '))
        .map(crate::lang::text::fold)
}

/// Why a language file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LangError {
    #[error("{file}: {message}")]
    Toml { file: String, message: String },
    #[error("{file}: code `{code}` is not two or three lower-case letters")]
    Code { file: String, code: String },
    #[error("{file}: missing phrases {missing:?} (every phrase of en.toml is needed)")]
    Missing { file: String, missing: Vec<String> },
    #[error("{file}: `days` must name the seven weekdays, Monday first")]
    Days { file: String },
}

/// Parses one language file and checks it has every phrase `reference` has.
///
/// # Errors
/// Not TOML of this shape, a bad code, missing phrases or weekdays.
pub fn parse_file(
    file: &str,
    text: &str,
    reference: Option<&LangFile>,
) -> Result<LangFile, LangError> {
    let parsed: LangFile = toml::from_str(text).map_err(|e| LangError::Toml {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    let code_ok =
        (2..=3).contains(&parsed.code.len()) && parsed.code.chars().all(|c| c.is_ascii_lowercase());
    if !code_ok {
        return Err(LangError::Code {
            file: file.to_string(),
            code: parsed.code,
        });
    }
    if parsed.days.len() != 7 {
        return Err(LangError::Days {
            file: file.to_string(),
        });
    }
    if let Some(reference) = reference {
        let missing: Vec<String> = reference
            .phrases
            .keys()
            .filter(|k| !parsed.phrases.contains_key(*k))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(LangError::Missing {
                file: file.to_string(),
                missing,
            });
        }
    }
    Ok(parsed)
}

fn load() -> Registry {
    let mut files: HashMap<String, LangFile> = HashMap::new();
    let mut everyday: HashMap<String, std::collections::HashSet<String>> = BUILT_IN_EVERYDAY
        .iter()
        .map(|(code, text)| ((*code).to_string(), everyday_list(text).collect()))
        .collect();
    let reference = BUILT_IN
        .iter()
        .find(|(c, _)| *c == "en")
        .and_then(|(_, t)| parse_file("en.toml", t, None).ok());
    for (code, text) in BUILT_IN {
        match parse_file(&format!("{code}.toml"), text, reference.as_ref()) {
            Ok(f) => {
                files.insert(f.code.clone(), f);
            }
            Err(e) => tracing::error!(error = %e, "built-in language file refused"),
        }
    }
    if let Some(dir) = std::env::var_os("RELAY_LANG_DIR") {
        let dir = std::path::PathBuf::from(dir);
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                    let everyday_code = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_suffix(".everyday.txt"))
                        .map(str::to_string);
                    if let Some(code) = everyday_code {
                        match std::fs::read_to_string(&path) {
                            Ok(text) => {
                                everyday.insert(code, everyday_list(&text).collect());
                            }
                            Err(e) => tracing::warn!(
                                file = %path.display(),
                                error = %e,
                                "everyday word list unreadable"
                            ),
                        }
                        continue;
                    }
                    if path.extension().is_none_or(|e| e != "toml") {
                        continue;
                    }
                    let name = path.display().to_string();
                    let parsed = std::fs::read_to_string(&path)
                        .map_err(|e| LangError::Toml {
                            file: name.clone(),
                            message: e.to_string(),
                        })
                        .and_then(|t| parse_file(&name, &t, reference.as_ref()));
                    match parsed {
                        Ok(f) => {
                            files.insert(f.code.clone(), f);
                        }
                        Err(e) => tracing::warn!(error = %e, "language file refused"),
                    }
                }
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "RELAY_LANG_DIR unreadable");
            }
        }
    }
    let words = files
        .iter()
        .map(|(code, f)| {
            let table: Vec<Mapping> = f
                .words
                .iter()
                .map(|(k, v)| (crate::lang::text::tokens(k), crate::lang::text::tokens(v)))
                .filter(|(k, _)| !k.is_empty())
                .collect();
            (code.clone(), WordTable::new(table))
        })
        .collect();
    // Single words only: a phrase is matched through the word tables.
    let single_words = |list: fn(&LangFile) -> &Vec<String>| -> std::collections::HashSet<String> {
        files
            .values()
            .flat_map(list)
            .map(|d| crate::lang::text::fold(d))
            .filter(|d| !d.contains(' '))
            .collect()
    };
    let function_words = single_words(|f| &f.drop);
    let common_words = single_words(|f| &f.common);
    let own_common = files
        .iter()
        .map(|(code, f)| {
            let elsewhere = |w: &str| {
                files.iter().filter(|(c, _)| *c != code).any(|(_, o)| {
                    o.common
                        .iter()
                        .chain(&o.markers)
                        .chain(&o.drop)
                        .chain(o.words.keys())
                        .any(|x| crate::lang::text::fold(x) == w)
                })
            };
            let own = f
                .common
                .iter()
                .map(|d| crate::lang::text::fold(d))
                .filter(|d| !d.contains(' ') && !elsewhere(d))
                .collect();
            (code.clone(), own)
        })
        .collect();
    let language_words = files
        .values()
        .flat_map(|f| f.markers.iter().chain(f.words.keys()))
        .map(|d| crate::lang::text::fold(d))
        .filter(|d| !d.contains(' '))
        .collect();
    // A list for a language without a phrase file would describe no language drafts use.
    let everyday_words = everyday
        .into_iter()
        .filter(|(code, _)| files.contains_key(code))
        .flat_map(|(_, words)| words)
        .collect();
    Registry {
        files,
        words,
        function_words,
        common_words,
        own_common,
        language_words,
        everyday_words,
        fallback: LangFile {
            code: "en".into(),
            name: "English".into(),
            days: vec![String::new(); 7],
            ..LangFile::default()
        },
    }
}

/// The loaded languages (built once, on first use).
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(load)
}

/// Whether `token` (folded) is a function word of some language (`de`, `el`, `o`): such a
/// word names nothing, in the catalog or in a message.
#[must_use]
pub fn is_function_word(token: &str) -> bool {
    registry().function_words.contains(token)
}

/// Whether `tokens` (folded, in `lang`) point at something shown rather than name it.
#[must_use]
pub fn points(lang: Language, tokens: &[String]) -> bool {
    lang.file().pointing.iter().any(|p| {
        let words: Vec<&str> = p.split(' ').collect();
        tokens
            .windows(words.len())
            .any(|w| w.iter().zip(&words).all(|(t, p)| t == p))
    })
}

/// Whether `token` (folded) is a word of some language for the customer's own things.
#[must_use]
pub fn is_own_word(token: &str) -> bool {
    registry()
        .files
        .values()
        .any(|f| f.own.iter().any(|w| w == token))
}

/// Whether `token` (folded) is an everyday word of some language (`ikut`, `deixou`,
/// `add`): a customer may use it about anything, so it never marks a message as asking
/// about something the knowledge does not have.
#[must_use]
pub fn is_common_word(token: &str) -> bool {
    let reg = registry();
    reg.common_words.contains(token)
        || reg.function_words.contains(token)
        || common_roots()
            .iter()
            .any(|(lang, roots)| lang.root(token).is_some_and(|r| roots.contains(r)))
}

/// Whether `token` (folded) is a common word (`is_common_word`) or a word of a generated
/// everyday list (`buzzes`, `quit`, `loose`): a word that says something about anything,
/// so it never marks a message as about something the knowledge lacks. Unlike the
/// hand-written common words, it may still name an option a customer asks for (`oily`,
/// `mild`): option checks use `is_common_word`.
#[must_use]
pub fn is_everyday_word(token: &str) -> bool {
    registry().everyday_words.contains(token) || is_common_word(token)
}

/// What some language reads a single word as (`custa` → `price`), every language's.
#[must_use]
pub fn single_readings(token: &str) -> Vec<&'static [String]> {
    registry()
        .words
        .values()
        .filter_map(|table| table.single(token))
        .collect()
}

/// Per inflected language, the roots of its everyday and function words, so another form
/// of one (`estaran` beside `estar`) is everyday too. Built after the registry, since
/// roots need the loaded files.
fn common_roots() -> &'static Vec<(Language, std::collections::HashSet<String>)> {
    static ROOTS: OnceLock<Vec<(Language, std::collections::HashSet<String>)>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        Language::inflected()
            .into_iter()
            .map(|lang| {
                let file = lang.file();
                let roots = file
                    .common
                    .iter()
                    .chain(&file.drop)
                    .map(|w| crate::lang::text::fold(w))
                    .filter_map(|w| lang.root(&w).map(str::to_string))
                    .collect();
                (lang, roots)
            })
            .collect()
    })
}

/// Whether `token` (folded) is a word some language file lists (a function word, a marker or
/// a customer word): a word of the language, never the name of an option or a product.
#[must_use]
pub fn is_language_word(token: &str) -> bool {
    let reg = registry();
    reg.function_words.contains(token) || reg.language_words.contains(token)
}

/// The language of a message: marker words per language (a language's own customer words
/// and the everyday words only it lists count as markers too), plus `whatlang`'s guess on messages of three words or more;
/// `fallback` on a tie or no clue.
#[must_use]
pub fn detect(message: &str, tokens: &[String], fallback: Language) -> Language {
    let reg = registry();
    let mut scores: Vec<(Language, f32)> = reg
        .files
        .values()
        .map(|f| {
            let n = tokens
                .iter()
                .filter(|t| {
                    f.markers.iter().any(|m| m == *t)
                        || (t.chars().count() >= 3 && f.words.contains_key(t.as_str()))
                        || reg.own_common.get(&f.code).is_some_and(|c| c.contains(*t))
                })
                .count();
            #[allow(clippy::cast_precision_loss)]
            (Language(f.code.as_str()), n as f32)
        })
        .collect();
    let words = tokens.iter().filter(|t| t.chars().count() > 1).count();
    let mut ranked: Vec<f32> = scores.iter().map(|(_, s)| *s).collect();
    ranked.sort_by(|a, b| b.total_cmp(a));
    // Markers that already decide (two more than any other language) need no trigram model,
    // which is most of detection's cost.
    let decided =
        ranked.first().copied().unwrap_or(0.0) >= ranked.get(1).copied().unwrap_or(0.0) + 2.0;
    if words >= 3
        && !decided
        && let Some(info) = whatlang::detect(message)
    {
        let guess = info.lang().code();
        for (lang, score) in &mut scores {
            if lang.file().whatlang.as_deref() == Some(guess) {
                // Worth a marker and a half: it breaks ties between close languages
                // (Spanish and Portuguese share many chat words) without outvoting markers.
                *score += 1.5 * info.confidence() as f32 + 0.5;
            }
        }
    }
    let best = scores.iter().map(|(_, s)| *s).fold(0.0_f32, f32::max);
    if best <= 0.0 {
        return fallback;
    }
    if let Some(mixed) = switched_from(&scores, tokens, best) {
        return mixed;
    }
    let leaders: Vec<Language> = scores
        .iter()
        .filter(|(_, s)| (*s - best).abs() < f32::EPSILON)
        .map(|(l, _)| *l)
        .collect();
    if leaders.contains(&fallback) || leaders.len() != 1 {
        fallback
    } else {
        leaders[0]
    }
}

/// `tokens` with `lang`'s customer words replaced by the drafter's cue words
/// (`cuanto cuesta el casco` → `how much el casco`). Function words stay, so phrases keep
/// their shape; they are stopwords everywhere (`is_function_word`).
#[must_use]
pub fn canonical(lang: Language, tokens: &[String]) -> Vec<String> {
    let Some(table) = registry().words.get(lang.code()) else {
        return tokens.to_vec();
    };
    if table.is_empty() {
        return tokens.to_vec();
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let Some((from, to)) = table.longest_at(&tokens[i..]) {
            out.extend(to.iter().cloned());
            i += from.len();
            continue;
        }
        // "holaa", "oláaa": chat stretches a word; its single-letter form may be listed.
        let squeezed = squeeze(&tokens[i]);
        match table.single(&squeezed).filter(|_| squeezed != tokens[i]) {
            Some(to) => out.extend(to.iter().cloned()),
            None => out.push(tokens[i].clone()),
        }
        i += 1;
    }
    out
}

/// A customer who writes part of a message in another language and part in English
/// ("vcs entregam no porto? and the fee") is a speaker of the other one:
/// English words travel (product names, "how much"), function words do not. When English
/// leads, the other language whose own markers (words English does not also use) are at
/// least [`SWITCHED_MARKERS`] and [`SWITCHED_SHARE`] of English's.
fn switched_from(scores: &[(Language, f32)], tokens: &[String], best: f32) -> Option<Language> {
    let english = scores
        .iter()
        .find(|(l, _)| *l == Language::ENGLISH)
        .filter(|(_, s)| (*s - best).abs() < f32::EPSILON)?;
    let en_file = english.0.file();
    scores
        .iter()
        .filter(|(l, _)| *l != Language::ENGLISH)
        .map(|(l, _)| {
            let own = tokens
                .iter()
                .filter(|t| {
                    l.file().markers.iter().any(|m| m == *t)
                        && !en_file.markers.contains(t)
                        && !en_file.drop.contains(t)
                        && !en_file.common.contains(t)
                        && !en_file.words.contains_key(t.as_str())
                })
                .count();
            (*l, own)
        })
        .filter(|(_, n)| {
            #[allow(clippy::cast_precision_loss)]
            let share = *n as f32 / best;
            *n >= SWITCHED_MARKERS && share >= SWITCHED_SHARE
        })
        .max_by_key(|(_, n)| *n)
        .map(|(l, _)| l)
}

/// Markers of its own a language needs in an English-led message to be taken as the
/// customer's, in number and as a share of English's: two stray words in a long English
/// story are not a switch.
const SWITCHED_MARKERS: usize = 2;
const SWITCHED_SHARE: f32 = 0.4;

/// `canonical` in `lang`, then, in an English message, each word English left as it was
/// that another loaded language's customer words know (`abrem`, "they open", in "are u
/// guys abrem tomorrow?"): customers mix languages. Only words of four letters or more
/// that no language reads as everyday or function words, so `sale` or `once` stay English.
#[must_use]
pub fn canonical_mixed(lang: Language, tokens: &[String]) -> Vec<String> {
    let first = canonical(lang, tokens);
    if lang != Language::ENGLISH {
        return first;
    }
    let reg = registry();
    let english = reg.files.get("en");
    first
        .into_iter()
        .flat_map(|t| {
            let plain = t.chars().count() < 4
                || !t.chars().all(char::is_alphabetic)
                || is_function_word(&t)
                || is_common_word(&t)
                || english.is_some_and(|f| f.markers.contains(&t))
                || !tokens.contains(&t);
            if !plain {
                for (code, table) in &reg.words {
                    if code == "en" {
                        continue;
                    }
                    if let Some(to) = table.single(&t) {
                        return to.to_vec();
                    }
                }
            }
            vec![t]
        })
        .collect()
}

/// `word` and what any loaded language's customer words make of it (`tom` → `shade`): an
/// owner names an option's kind in their own language, the customer's words arrive mapped.
#[must_use]
pub fn senses(word: &str) -> Vec<String> {
    let mut out = vec![word.to_string()];
    for table in registry().words.values() {
        if let Some(to) = table.single(word) {
            out.extend(
                to.iter()
                    .filter(|t| !out.contains(t))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
    }
    out
}

/// `holaaa` → `hola`: runs of one letter made one.
fn squeeze(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    for c in token.chars() {
        if !out.ends_with(c) || c.is_ascii_digit() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::lang::text::tokens;

    #[test]
    fn everyday_words_are_words_that_name_no_goods() {
        // A verb of trouble and a state are everyday; goods, a service, a colour, a size
        // and a person are not.
        for w in ["buzzes", "quit", "loose", "amount"] {
            assert!(is_everyday_word(w), "{w} should be everyday");
            assert!(!is_common_word(w), "{w} is not hand-written common");
        }
        for w in [
            "guitar", "shoe", "repair", "red", "large", "dentist", "silk",
        ] {
            assert!(
                !is_everyday_word(w),
                "{w} may name goods, a service or an option"
            );
        }
        let parsed: Vec<String> =
            everyday_list("# comment\n  Quit \n\ntwo words\nloose\n").collect();
        assert_eq!(parsed, ["quit", "loose"]);
    }

    #[test]
    fn every_built_in_file_loads_with_every_phrase() {
        let reg = registry();
        for (code, _) in BUILT_IN {
            assert!(reg.get(code).is_some(), "{code} not loaded");
        }
        let bad = parse_file(
            "x.toml",
            "code = \"xx\"\nname = \"X\"\ndays = []\n[phrases]\n",
            None,
        );
        assert!(matches!(bad, Err(LangError::Days { .. })));
        let en = reg.get("en").unwrap();
        let partial = "code = \"xx\"\nname = \"X\"\ndays = [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\"]\n\
                       [phrases]\ngreeting = \"Yo!\"\n";
        assert!(matches!(
            parse_file("x.toml", partial, Some(en)),
            Err(LangError::Missing { .. })
        ));
    }

    #[track_caller]
    fn detects(message: &str, fallback: &str, expected: &str) {
        let got = detect(
            message,
            &tokens(message),
            Language::parse(fallback).unwrap(),
        );
        assert_eq!(got.code(), expected, "{message}");
    }

    #[test]
    fn detection_table() {
        detects("hola, cuánto cuesta el envío a Madrid?", "en", "es");
        detects("olá, quanto custa o frete para Lisboa?", "en", "pt");
        detects("vcs têm esse produto? obrigada", "en", "pt");
        detects("tienen disponible la talla M? gracias", "en", "es");
        detects("kak ready ga size M?", "en", "id");
        detects("do you have this in stock?", "id", "en");
        detects("ok", "pt", "pt");
        detects("👍", "es", "es");
        // Half in English: the other half's own words say whose language it is; two
        // stray words in a long English story do not.
        detects("hey vcs entregam amanha? my sis wants one", "en", "pt");
        detects(
            "so um my cousin lent me her bike, shifting is a mess, no idea what to do, \
             what do you charge to service it and when could I pick it back up",
            "en",
            "en",
        );
    }

    #[test]
    fn canonical_words() {
        let es = Language::parse("es").unwrap();
        let got = canonical(es, &tokens("¿Cuánto cuesta el sombrero?"));
        assert!(got.contains(&"much".to_string()), "{got:?}");
        assert!(got.contains(&"sombrero".to_string()));
        // Goods the file names map onto a catalog's English (`casco` → `helmet`).
        let got = canonical(es, &tokens("el casco"));
        assert!(got.contains(&"helmet".to_string()), "{got:?}");
        assert!(crate::lang::text::is_stopword("el"));
        let en = Language::ENGLISH;
        assert_eq!(canonical(en, &tokens("how much")), tokens("how much"));
        let pt = Language::parse("pt").unwrap();
        assert_eq!(canonical(pt, &tokens("oláaa")), tokens("hi"));
        assert_eq!(squeeze("holaa"), "hola");
        assert_eq!(squeeze("1100"), "1100");
    }

    #[test]
    fn ambiguous_words_are_read_in_their_phrase() {
        let has = |lang: &str, text: &str, word: &str| {
            let got = canonical(Language::parse(lang).unwrap(), &tokens(text));
            got.contains(&word.to_string())
        };
        // `marco` is March on its own, booking in "como marco".
        assert!(has("pt", "como marco?", "book"));
        assert!(has("pt", "abrem em março?", "march"));
        // `cambio` is an exchange, but an oil change is a service.
        assert!(has("es", "cambio de aceite", "oil"));
        assert!(!has("es", "cambio de aceite", "exchange"));
        // `minggu` is Sunday, `minggu depan` next week.
        assert!(has("id", "minggu depan buka?", "week"));
        assert!(!has("id", "minggu depan buka?", "sunday"));
    }

    #[test]
    fn roots_join_inflected_forms() {
        let es = Language::parse("es").unwrap();
        assert_eq!(es.root("respaldan"), es.root("respaldar"));
        assert_eq!(es.root("lindas"), es.root("lindo"));
        let pt = Language::parse("pt").unwrap();
        assert_eq!(pt.root("coloracao"), pt.root("coloracoes"));
        assert_eq!(pt.root("casa"), None, "too short to strip");
        assert_eq!(
            Language::ENGLISH.root("pierced"),
            Language::ENGLISH.root("piercing")
        );
        assert_eq!(
            Language::ENGLISH.root("charger"),
            None,
            "no ending of English"
        );
        assert!(Language::inflected().contains(&es));
    }

    #[test]
    fn fill_placeholders() {
        assert_eq!(fill("{a} y {b}", &[("a", "1"), ("b", "2")]), "1 y 2");
        assert_eq!(fill("{a} {c}", &[("a", "1")]), "1 {c}");
    }
}
