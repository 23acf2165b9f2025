//! The open-domain check: a reply must be about this business. Two heuristics, both cheap
//! and explainable to an agent:
//!
//! 1. **Topic words.** A draft that uses a word of a known off-domain topic (weather,
//!    politics, sport, finance, medicine, homework…) is held, unless the tenant's own
//!    knowledge uses that word (a bakery may mention a recipe).
//! 2. **Vocabulary coverage.** Of the draft's content words (four letters or more, not
//!    function words, not the everyday words of customer service), at least half must occur
//!    in the tenant's knowledge or in the customer's message. A draft of six or more content
//!    words that fails this talks mostly about something else.
//!
//! Neither understands meaning: a fluent off-domain answer built from the shop's own words
//! would pass, and the grounding rules (prices, links, phones, dates) still apply to it.

use crate::draft::text;
use std::collections::HashSet;
use std::ops::Range;

/// Topics no shop's reply should discuss.
const TOPICS: &[&str] = &[
    "cuaca",
    "weather",
    "hujan",
    "rain",
    "forecast",
    "suhu",
    "temperature",
    "presiden",
    "president",
    "politik",
    "politics",
    "pemilu",
    "election",
    "partai",
    "party",
    "menteri",
    "minister",
    "bola",
    "football",
    "soccer",
    "sepakbola",
    "match",
    "liga",
    "league",
    "crypto",
    "bitcoin",
    "saham",
    "stocks",
    "investasi",
    "investment",
    "forex",
    "visa",
    "imigrasi",
    "immigration",
    "dokter",
    "doctor",
    "obat",
    "medicine",
    "diagnosis",
    "penyakit",
    "disease",
    "resep",
    "recipe",
    "homework",
    "tugas",
    "skripsi",
    "agama",
    "religion",
    "film",
    "movie",
    "lagu",
    "song",
    "zodiak",
    "horoscope",
    "berita",
    "news",
    "pajak",
    "lawyer",
    "pengacara",
    "hukum",
    "chatgpt",
];

/// Everyday words of customer service in both languages, which no knowledge file needs to
/// contain for a reply to be on topic (including the built-in drafter's own phrasing).
const SERVICE_WORDS: &[&str] = &[
    "harganya",
    "harga",
    "ready",
    "stok",
    "sedang",
    "habis",
    "semua",
    "tersedia",
    "dalam",
    "pilihan",
    "dibuat",
    "sesuai",
    "pesanan",
    "mohon",
    "pesan",
    "minimal",
    "sebelumnya",
    "ongkir",
    "estimasi",
    "hari",
    "kirim",
    "kami",
    "alamat",
    "telepon",
    "buka",
    "tutup",
    "senang",
    "membantu",
    "bantu",
    "maaf",
    "boleh",
    "info",
    "nama",
    "produk",
    "dimaksud",
    "halo",
    "terima",
    "kasih",
    "salam",
    "hangat",
    "sampai",
    "bisa",
    "sama",
    "sama-sama",
    "price",
    "prices",
    "stock",
    "left",
    "sold",
    "every",
    "option",
    "options",
    "made",
    "order",
    "please",
    "least",
    "ahead",
    "days",
    "delivery",
    "deliver",
    "arrives",
    "within",
    "takes",
    "about",
    "same",
    "opening",
    "hours",
    "closed",
    "open",
    "address",
    "phone",
    "welcome",
    "happy",
    "help",
    "which",
    "item",
    "mean",
    "know",
    "name",
    "check",
    "sorry",
    "right",
    "doesnt",
    "come",
    "thanks",
    "hello",
    "there",
    "here",
    "your",
    "with",
    "from",
    "this",
    "that",
    "will",
    "have",
    "been",
    "what",
    "when",
    "where",
    "shop",
    "store",
    "team",
    "would",
    "could",
    "regards",
    "youre",
    "were",
    "theyre",
    "whatsapp",
    "email",
    "mail",
    "instagram",
    "website",
    "senin",
    "selasa",
    "rabu",
    "kamis",
    "jumat",
    "sabtu",
    "minggu",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "today",
    "kakak",
    "customer",
    "pelanggan",
    "admin",
    "ukuran",
    "warna",
    "size",
    "colour",
    "color",
];

/// Spans of off-domain topic words that the knowledge does not use.
#[must_use]
pub fn topic_words(draft: &str, knowledge_vocab: &HashSet<String>) -> Vec<(Range<usize>, String)> {
    let mut out = Vec::new();
    for (start, word) in crate::knowledge::link::words(draft) {
        for t in text::tokens(word) {
            if TOPICS.contains(&t.as_str()) && !knowledge_vocab.contains(&text::stem(&t)) {
                let lower = word.to_lowercase();
                let at = if lower.len() == word.len() {
                    lower.find(t.as_str()).unwrap_or(0)
                } else {
                    0
                };
                let end = (start + at + t.len()).min(start + word.len());
                out.push((start + at..end, t));
            }
        }
    }
    out
}

/// Share of the draft's content words known to the knowledge or the message, and how many
/// content words there were.
#[must_use]
pub fn coverage(draft: &str, knowledge_vocab: &HashSet<String>, message: &str) -> (f32, usize) {
    let said: HashSet<String> = text::stems(message).into_iter().collect();
    let content: Vec<String> = text::tokens(draft)
        .into_iter()
        .filter(|t| {
            t.chars().count() >= 4
                && t.chars().all(char::is_alphabetic)
                && !text::is_stopword(t)
                && !SERVICE_WORDS.contains(&t.as_str())
        })
        .collect();
    if content.is_empty() {
        return (1.0, 0);
    }
    let known = content
        .iter()
        .filter(|t| {
            let s = text::stem(t);
            knowledge_vocab.contains(&s) || said.contains(&s)
        })
        .count();
    #[allow(clippy::cast_precision_loss)]
    let share = known as f32 / content.len() as f32;
    (share, content.len())
}

/// Content words below which coverage is not judged (a short reply says too little).
pub const MIN_CONTENT_WORDS: usize = 6;
/// Share of known content words a reply needs.
pub const MIN_COVERAGE: f32 = 0.5;
