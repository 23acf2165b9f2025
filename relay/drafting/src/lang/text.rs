//! Text normalisation shared by indexing and querying: folding case and accents, splitting
//! into tokens, light stemming for English plurals and Indonesian `-nya`, the stopwords of
//! chat Indonesian and English, and guessing which of the two a message is in.
//!
//! Both sides of every comparison go through the same functions, so a stem only has to be
//! consistent, not linguistically right (`cookies` → `cookie`, `jeans` → `jean`).

/// Lower case, accents folded to ASCII where there is an obvious base letter, apostrophes
/// dropped (`what's` → `whats`, so no stray `s` token looks like a size).
#[must_use]
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\'' | '’' | '`' | '´' => {}
            _ => {
                for l in c.to_lowercase() {
                    out.push(fold_char(l));
                }
            }
        }
    }
    out
}

fn fold_char(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ñ' | 'ń' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
        'ý' | 'ÿ' => 'y',
        'ß' => 's',
        'ž' | 'ź' | 'ż' => 'z',
        'š' | 'ś' => 's',
        other => other,
    }
}

/// Folded tokens of `text`: runs of letters or of digits (`20cm` → `20`, `cm`), with the
/// Indonesian reduplication digit dropped (`tanya2` → `tanya`).
#[must_use]
pub fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = fold(text).chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut digits = false;
    for (i, &c) in chars.iter().enumerate() {
        // A one-letter prefix is part of its word (`e-bike`, `u-lock`, `t-shirt`): on its
        // own it is a stopword, and the rest (`bike`) would name the wrong item.
        if c == '-'
            && current.chars().count() == 1
            && current.chars().all(char::is_alphabetic)
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
        {
            continue;
        }
        if !c.is_alphanumeric() {
            push_token(&mut out, &mut current);
            continue;
        }
        let is_digit = c.is_ascii_digit();
        if !current.is_empty() && is_digit != digits {
            // `tanya2`: a lone `2` ending a word of letters marks reduplication.
            let ends_word = !chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
            if c == '2' && !digits && ends_word && current.chars().count() >= 3 {
                push_token(&mut out, &mut current);
                continue;
            }
            push_token(&mut out, &mut current);
        }
        current.push(c);
        digits = is_digit;
    }
    push_token(&mut out, &mut current);
    out
}

fn push_token(out: &mut Vec<String>, current: &mut String) {
    if !current.is_empty() {
        out.push(std::mem::take(current));
    }
}

/// A consistent stem: Indonesian `-nya` (`harganya` → `harga`) and English plurals
/// (`dresses` → `dress`, `cookies` → `cookie`, `croissants` → `croissant`).
#[must_use]
pub fn stem(token: &str) -> String {
    let t = token;
    if t.len() > 5
        && let Some(base) = t.strip_suffix("nya")
    {
        return base.to_string();
    }
    if t.len() > 4 && (t.ends_with("sses") || t.ends_with("shes") || t.ends_with("ches")) {
        return t[..t.len() - 2].to_string();
    }
    if t.len() > 3
        && t.ends_with('s')
        && !t.ends_with("ss")
        && !t.ends_with("us")
        && !t.ends_with("is")
        && t.chars().all(|c| c.is_ascii_alphabetic())
    {
        return t[..t.len() - 1].to_string();
    }
    t.to_string()
}

/// Stems of every token of `text`.
#[must_use]
pub fn stems(text: &str) -> Vec<String> {
    tokens(text).iter().map(|t| stem(t)).collect()
}

/// Function words of chat Indonesian and English that say nothing about what is asked.
const STOPWORDS: &[&str] = &[
    // Indonesian, including chat spellings.
    "ada",
    "aja",
    "saja",
    "aku",
    "saya",
    "sy",
    "gue",
    "gw",
    "kamu",
    "kalian",
    "anda",
    "kak",
    "ka",
    "kakak",
    "sis",
    "gan",
    "min",
    "mba",
    "mbak",
    "mas",
    "bu",
    "pak",
    "ya",
    "yah",
    "yg",
    "yang",
    "ga",
    "gak",
    "nggak",
    "ngga",
    "enggak",
    "tidak",
    "tdk",
    "gk",
    "dong",
    "deh",
    "sih",
    "nih",
    "tuh",
    "loh",
    "lho",
    "kok",
    "kah",
    "ini",
    "itu",
    "dan",
    "atau",
    "di",
    "ke",
    "dari",
    "untuk",
    "utk",
    "buat",
    "dengan",
    "dgn",
    "sama",
    "apa",
    "apakah",
    "bisa",
    "bs",
    "mau",
    "pengen",
    "pingin",
    "ingin",
    "tanya",
    "nanya",
    "mo",
    "juga",
    "jg",
    "masih",
    "msh",
    "udah",
    "sudah",
    "sdh",
    "belum",
    "blm",
    "lagi",
    "lg",
    "nya",
    "klo",
    "kalo",
    "kalau",
    "gimana",
    "bagaimana",
    "gmn",
    "tolong",
    "mohon",
    "boleh",
    "ok",
    "oke",
    "okay",
    "sebelumnya",
    "kah",
    "pun",
    "akan",
    "bakal",
    "nanti",
    "dulu",
    "jadi",
    "jd",
    "karena",
    "soalnya",
    "tapi",
    "tp",
    "punya",
    "ku",
    "mu",
    "kami",
    "kita",
    "banget",
    "bgt",
    "sekali",
    "aj",
    "kan",
    "y",
    "nah",
    "hmm",
    "eh",
    "wah",
    "oh",
    "uda",
    "pas",
    "adakah",
    "sini",
    "situ",
    "sana",
    "siapa",
    "waktu",
    // English.
    "a",
    "an",
    "the",
    "is",
    "are",
    "am",
    "was",
    "were",
    "be",
    "been",
    "do",
    "does",
    "did",
    "you",
    "your",
    "ur",
    "u",
    "i",
    "im",
    "me",
    "my",
    "we",
    "our",
    "us",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "of",
    "in",
    "on",
    "at",
    "for",
    "to",
    "from",
    "with",
    "and",
    "or",
    "but",
    "so",
    "if",
    "any",
    "some",
    "can",
    "could",
    "would",
    "will",
    "should",
    "please",
    "pls",
    "plz",
    "there",
    "here",
    "what",
    "whats",
    "which",
    "who",
    "how",
    "have",
    "has",
    "had",
    "got",
    "get",
    "just",
    "still",
    "also",
    "too",
    "r",
    "re",
    "about",
    "like",
    "want",
    "need",
    "id",
    "ill",
    "ive",
    "one",
    "much",
    "many",
    "really",
    "very",
    "them",
    "they",
    "then",
    "be",
    "time",
    "out",
    "up",
    "im",
];

#[must_use]
pub fn is_stopword(token: &str) -> bool {
    STOPWORDS.contains(&token) || crate::lang::is_function_word(token)
}

/// Words customers use for the same thing in the other language or in slang, mapped to the
/// spelling catalogs use. Applied to queries only; generic commerce vocabulary, no shop's.
const SYNONYMS: &[(&str, &[&str])] = &[
    ("hitam", &["black"]),
    ("item", &["black"]),
    ("putih", &["white", "ivory"]),
    ("abu", &["grey", "gray"]),
    ("gray", &["grey"]),
    ("merah", &["red", "maroon"]),
    ("biru", &["blue", "navy"]),
    ("hijau", &["green", "olive", "sage"]),
    ("ijo", &["green", "olive", "sage"]),
    ("kuning", &["yellow", "mustard"]),
    ("coklat", &["brown", "chocolate", "mocha"]),
    ("cokelat", &["brown", "chocolate", "mocha"]),
    ("krem", &["cream"]),
    ("ungu", &["purple", "lilac"]),
    ("pink", &["pink"]),
    ("color", &["colour"]),
    ("celana", &["pant"]),
    ("rok", &["skirt"]),
    ("tas", &["bag"]),
    ("sepatu", &["shoe"]),
    ("jaket", &["jacket"]),
    ("kemeja", &["shirt"]),
    ("roti", &["bread", "loaf"]),
    ("kue", &["cake", "cookie"]),
    ("alergi", &["allergen"]),
    ("allergy", &["allergen"]),
    ("allergic", &["allergen"]),
    ("allergie", &["allergen"]),
    ("kacang", &["nut"]),
    ("peanut", &["nut"]),
    ("celiac", &["gluten"]),
    ("coeliac", &["gluten"]),
    ("susu", &["milk"]),
    ("telur", &["egg"]),
    ("babi", &["pork"]),
    ("deliver", &["delivery"]),
    ("delivered", &["delivery"]),
    ("pickup", &["pick"]),
    ("pengiriman", &["kirim"]),
    ("dikirim", &["kirim"]),
    ("ongkir", &["ongkir", "kirim"]),
    ("diretur", &["retur"]),
    ("refund", &["refund"]),
    ("cancel", &["cancel", "cancellation"]),
    ("wholesale", &["wholesale"]),
    ("cafe", &["cafe"]),
    ("ambil", &["diambil", "pick"]),
    ("parkiran", &["parkir"]),
    ("flavor", &["flavour"]),
    ("rasa", &["flavour"]),
    ("fresh", &["keep"]),
    ("simpan", &["keep"]),
    ("tahan", &["keep"]),
    ("diskon", &["diskon", "discount"]),
    ("discount", &["diskon", "discount"]),
    ("cuci", &["dicuci", "cuci"]),
    ("warranty", &["guarantee", "guaranteed", "garantia"]),
    ("guarantee", &["warranty"]),
    ("bahan", &["material"]),
    ("material", &["bahan"]),
];

/// The query terms a token stands for: itself (stemmed) plus its synonyms.
#[must_use]
pub fn expand(token: &str) -> Vec<String> {
    let s = stem(token);
    let mut out = vec![s.clone()];
    // `dailies`, `batteries` are plurals of `daily`, `battery` (and `cookies` of `cookie`,
    // which the stem keeps): both forms are looked up.
    if token.len() > 5 && token.ends_with("ies") && token.is_ascii() {
        out.push(format!("{}y", &token[..token.len() - 3]));
    }
    for (word, alts) in SYNONYMS {
        if *word == token || *word == s {
            for a in *alts {
                if !out.iter().any(|o| o == a) {
                    out.push((*a).to_string());
                }
            }
        }
    }
    out
}

/// Splits text into sentences on `.`, `!` and `?` followed by a space or the end, keeping
/// decimal points and abbreviations such as `Jl.` or `No.` inside their sentence.
#[must_use]
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if matches!(b, b'.' | b'!' | b'?') {
            let next_is_space = bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
            let word_start = text[..i]
                .rfind(|c: char| c.is_whitespace())
                .map_or(0, |p| p + 1);
            let word = &text[word_start..i];
            let abbreviation = matches!(word, "Jl" | "No" | "Rp" | "St" | "Mr" | "Mrs" | "Dr")
                || (word.len() == 1 && word.chars().all(|c| c.is_ascii_uppercase()));
            if next_is_space && !abbreviation {
                let s = text[start..=i].trim();
                if !s.is_empty() {
                    out.push(s);
                }
                start = i + 1;
            }
        }
        i += 1;
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_fold_split_and_drop_reduplication() {
        assert_eq!(
            tokens("Kak, READY size M? 20cm tanya2 crème what's"),
            vec![
                "kak", "ready", "size", "m", "20", "cm", "tanya", "creme", "whats"
            ]
        );
        assert_eq!(tokens("dateng2, co-ord"), vec!["dateng", "co", "ord"]);
        assert_eq!(tokens("size 28"), vec!["size", "28"]);
    }

    #[test]
    fn stems_are_consistent() {
        assert_eq!(stem("harganya"), "harga");
        assert_eq!(stem("dresses"), "dress");
        assert_eq!(stem("cookies"), "cookie");
        assert_eq!(stem("croissants"), "croissant");
        assert_eq!(stem("dress"), "dress");
        assert_eq!(stem("bus"), "bus");
        assert_eq!(stem("nya"), "nya");
        assert_eq!(stem("120s"), "120s");
    }

    #[test]
    fn sentences_keep_abbreviations_and_decimals() {
        let s = sentences("Butik di Jl. Kemang No. 12. Harga $12.50 saja! Tanya? ya");
        assert_eq!(
            s,
            vec![
                "Butik di Jl. Kemang No. 12.",
                "Harga $12.50 saja!",
                "Tanya?",
                "ya"
            ]
        );
    }
}
