//! Finding checkable claims in text: amounts of money, percentages, phone numbers, e-mail
//! addresses, calendar and relative dates, and sku-shaped codes, each with its byte range.
//!
//! The same extractors run over the draft, over the tenant's knowledge and over the
//! customer's message, so "grounded" means "the same value was found on the other side",
//! whatever the spelling (`Rp 350.000`, `350rb`, `IDR 350,000` are one amount).

use crate::knowledge::Currency;
use std::ops::Range;

/// An amount of money: thousandths of the major unit (so `$12.50` and `€12,50` compare by
/// value), with the currency when the text names one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Amount {
    pub milli: i128,
    pub currency: Option<Currency>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Claim {
    Amount(Amount),
    /// Percent, in hundredths (`12.5%` → 1250).
    Percent(i64),
    /// Phone digits, normalised to national form (`+62 812…` → `0812…`).
    Phone(String),
    /// Lower case.
    Email(String),
    /// `d/m` for calendar dates, or the lower-case relative word (`besok`, `tomorrow`).
    Date(String),
    /// Lower case.
    Sku(String),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Found {
    pub range: Range<usize>,
    pub claim: Claim,
}

/// Currency markers written before an amount, longest first.
const PREFIXES: &[(&str, &str)] = &[
    ("us$", "USD"),
    ("usd", "USD"),
    ("idr", "IDR"),
    ("rp.", "IDR"),
    ("rp", "IDR"),
    ("eur", "EUR"),
    ("sgd", "SGD"),
    ("s$", "SGD"),
    ("myr", "MYR"),
    ("rm", "MYR"),
    ("gbp", "GBP"),
    ("aud", "AUD"),
    ("a$", "AUD"),
    ("jpy", "JPY"),
    ("brl", "BRL"),
    ("r$", "BRL"),
    ("mxn", "MXN"),
    ("mx$", "MXN"),
    ("$", "USD"),
    ("€", "EUR"),
    ("£", "GBP"),
    ("¥", "JPY"),
];

/// Currency markers written after an amount.
const SUFFIX_CODES: &[(&str, &str)] = &[
    ("usd", "USD"),
    ("idr", "IDR"),
    ("eur", "EUR"),
    ("€", "EUR"),
    ("sgd", "SGD"),
    ("myr", "MYR"),
    ("gbp", "GBP"),
    ("brl", "BRL"),
    ("mxn", "MXN"),
    ("reais", "BRL"),
    ("pesos", "MXN"),
    ("rupiah", "IDR"),
    ("dollars", "USD"),
    ("dollar", "USD"),
    ("euro", "EUR"),
    ("euros", "EUR"),
];

/// Multipliers Indonesians write after a number (`350rb`, `1,5jt`).
const MULTIPLIERS: &[(&str, i128)] = &[
    ("ribu", 1_000),
    ("rb", 1_000),
    ("k", 1_000),
    ("juta", 1_000_000),
    ("jt", 1_000_000),
];

const RELATIVE_DATES: &[&str] = &[
    "besok",
    "lusa",
    "tomorrow",
    "day after tomorrow",
    "next week",
    "next month",
    "minggu depan",
    "bulan depan",
    "pekan depan",
    "tonight",
    "nanti malam",
    "this weekend",
    "weekend ini",
    "akhir pekan ini",
];

const MONTHS: &[(&str, u32)] = &[
    ("januari", 1),
    ("january", 1),
    ("jan", 1),
    ("februari", 2),
    ("february", 2),
    ("feb", 2),
    ("maret", 3),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("mei", 5),
    ("may", 5),
    ("juni", 6),
    ("june", 6),
    ("jun", 6),
    ("juli", 7),
    ("july", 7),
    ("jul", 7),
    ("agustus", 8),
    ("august", 8),
    ("agu", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("oktober", 10),
    ("october", 10),
    ("okt", 10),
    ("oct", 10),
    ("november", 11),
    ("nov", 11),
    ("desember", 12),
    ("december", 12),
    ("des", 12),
    ("dec", 12),
];

/// Every claim in `text`, in order, non-overlapping (amounts and dates before phones).
#[must_use]
pub fn claims(text: &str) -> Vec<Found> {
    let lower = text.to_lowercase();
    // Lower-casing can change byte lengths outside ASCII; work on the original when it does.
    let hay = if lower.len() == text.len() {
        lower
    } else {
        text.to_string()
    };
    let mut out: Vec<Found> = Vec::new();
    emails(&hay, &mut out);
    amounts(&hay, &mut out);
    dates(&hay, &mut out);
    skus(text, &mut out);
    phones(&hay, &mut out);
    out.sort_by_key(|f| f.range.start);
    out
}

fn overlaps(out: &[Found], r: &Range<usize>) -> bool {
    out.iter()
        .any(|f| f.range.start < r.end && r.start < f.range.end)
}

fn push(out: &mut Vec<Found>, range: Range<usize>, claim: Claim) {
    if !overlaps(out, &range) {
        out.push(Found { range, claim });
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn emails(hay: &str, out: &mut Vec<Found>) {
    for (start, word) in crate::knowledge::link::words(hay) {
        let trimmed = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let lead = word.find(trimmed).unwrap_or(0);
        if let Some((local, domain)) = trimmed.split_once('@')
            && !local.is_empty()
            && domain.contains('.')
            && !domain.ends_with('.')
        {
            let s = start + lead;
            push(out, s..s + trimmed.len(), Claim::Email(trimmed.to_string()));
        }
    }
}

/// A number as written: digits with `.` or `,` separators.
struct Number {
    range: Range<usize>,
    text: String,
}

fn numbers(hay: &str) -> Vec<Number> {
    let b = hay.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !is_word_byte(b[i - 1]) || b[i - 1] == b'p') {
            let start = i;
            let mut end = i;
            while end < b.len()
                && (b[end].is_ascii_digit()
                    || ((b[end] == b'.' || b[end] == b',')
                        && b.get(end + 1).is_some_and(u8::is_ascii_digit)))
            {
                end += 1;
            }
            out.push(Number {
                range: start..end,
                text: hay[start..end].to_string(),
            });
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Value of a written number in thousandths, deciding which separator is the decimal one.
fn value_milli(text: &str, exponent_hint: Option<u32>) -> Option<i128> {
    let last_dot = text.rfind('.');
    let last_comma = text.rfind(',');
    let decimal_at = match (last_dot, last_comma) {
        (Some(d), Some(c)) => Some(d.max(c)),
        (Some(p), None) | (None, Some(p)) => {
            let sep = text.as_bytes()[p];
            let count = text.bytes().filter(|&c| c == sep).count();
            let after = text.len() - p - 1;
            // One separator followed by other than three digits is a decimal point
            // (`12.50`, `9,9`); three digits are a thousands group (`350.000`), unless the
            // currency has decimals and nothing else suggests grouping.
            let decimal = count == 1 && (after != 3 || exponent_hint.is_some_and(|e| e == 3));
            decimal.then_some(p)
        }
        (None, None) => None,
    };
    let (int_part, frac_part) = match decimal_at {
        Some(p) => (&text[..p], &text[p + 1..]),
        None => (text, ""),
    };
    let int_digits: String = int_part.chars().filter(char::is_ascii_digit).collect();
    let int: i128 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().ok()?
    };
    let mut frac: i128 = 0;
    for (n, c) in frac_part.chars().take(3).enumerate() {
        let d = i128::from(c.to_digit(10)?);
        frac += d * 10_i128.pow(2 - u32::try_from(n).ok()?);
    }
    Some(int * 1000 + frac)
}

fn amounts(hay: &str, out: &mut Vec<Found>) {
    for n in numbers(hay) {
        let before = hay[..n.range.start].trim_end();
        let gap_before = n.range.start - before.len();
        let prefix = PREFIXES
            .iter()
            .find(|(p, _)| {
                before.ends_with(p)
                    && gap_before <= 1
                    && !before[..before.len() - p.len()]
                        .bytes()
                        .last()
                        .is_some_and(|c| p.as_bytes()[0].is_ascii_alphabetic() && is_word_byte(c))
            })
            .map(|(p, c)| (before.len() - p.len(), *c));
        let after_full = &hay[n.range.end..];
        let after = after_full.trim_start();
        let gap_after = after_full.len() - after.len();
        let word_after: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '€' || *c == '%')
            .collect();
        let word_after_lower = word_after.to_lowercase();
        let multiplier = MULTIPLIERS
            .iter()
            .find(|(m, _)| word_after_lower == *m && gap_after <= 1);
        let suffix = SUFFIX_CODES
            .iter()
            .find(|(s, _)| word_after_lower == *s && gap_after <= 1);
        let percent = after.starts_with('%') && gap_after <= 1
            || (gap_after >= 1 && matches!(word_after_lower.as_str(), "persen" | "percent"));
        if percent {
            let end = if after.starts_with('%') {
                n.range.end + gap_after + 1
            } else {
                n.range.end + gap_after + word_after.len()
            };
            if let Some(v) = value_milli(&n.text, Some(2)) {
                #[allow(clippy::cast_possible_truncation)]
                push(out, n.range.start..end, Claim::Percent((v / 10) as i64));
            }
            continue;
        }
        let currency = prefix
            .map(|(_, c)| c)
            .or(suffix.map(|(_, c)| *c))
            .and_then(Currency::parse);
        let grouped = is_grouped(&n.text);
        if currency.is_none() && multiplier.is_none() && !grouped {
            continue;
        }
        let exponent = currency.map(|c| c.exponent());
        let Some(mut milli) = value_milli(&n.text, exponent) else {
            continue;
        };
        if let Some((_, m)) = multiplier {
            milli *= m;
        }
        let start = prefix.map_or(n.range.start, |(s, _)| s);
        let mut end = n.range.end;
        if multiplier.is_some() || suffix.is_some() {
            end = n.range.end + gap_after + word_after.len();
        }
        // `Rp 350.000,-`
        if hay[end..].starts_with(",-") {
            end += 2;
        }
        push(out, start..end, Claim::Amount(Amount { milli, currency }));
    }
}

/// `350.000` or `1,250,000`: digits in groups of three, the way only amounts are written.
fn is_grouped(text: &str) -> bool {
    let parts: Vec<&str> = text.split(['.', ',']).collect();
    parts.len() >= 2
        && parts[0].len() <= 3
        && parts[1..].iter().all(|p| p.len() == 3)
        && text.bytes().filter(|&b| b == b'.' || b == b',').count() >= 1
        && (text.contains('.') != text.contains(','))
}

fn dates(hay: &str, out: &mut Vec<Found>) {
    let b = hay.as_bytes();
    for rel in RELATIVE_DATES {
        let mut from = 0;
        while let Some(p) = hay[from..].find(rel) {
            let s = from + p;
            let e = s + rel.len();
            let bounded =
                (s == 0 || !is_word_byte(b[s - 1])) && (e >= b.len() || !is_word_byte(b[e]));
            if bounded {
                push(out, s..e, Claim::Date((*rel).to_string()));
            }
            from = e;
        }
    }
    // Numeric: d/m, d/m/y, y-m-d.
    for (start, word) in crate::knowledge::link::words(hay) {
        let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let lead = word.find(w).unwrap_or(0);
        let parts: Vec<&str> = w.split(['/', '-']).collect();
        // `2-3 hari` is a range; a dashed date has all three parts (`12-05-2025`).
        let min_parts = if w.contains('-') { 3 } else { 2 };
        if !(min_parts..=3).contains(&parts.len())
            || !parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
        {
            continue;
        }
        let n: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
        let (d, m) = if parts[0].len() == 4 && n.len() == 3 {
            (n[2], n[1])
        } else if parts[0].len() <= 2 && parts[1].len() <= 2 {
            (n[0], n[1])
        } else {
            continue;
        };
        if (1..=31).contains(&d) && (1..=12).contains(&m) {
            let s = start + lead;
            push(out, s..s + w.len(), Claim::Date(format!("{d}/{m}")));
        }
    }
    // Day and month name in either order: `12 Mei`, `May 12th`.
    let words: Vec<(usize, &str)> = crate::knowledge::link::words(hay).collect();
    for (i, &(s, w)) in words.iter().enumerate() {
        let w = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let Some(&(_, month)) = MONTHS.iter().find(|(name, _)| *name == w) else {
            continue;
        };
        let day_of = |t: &str| -> Option<u32> {
            let t = t.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
            let rest = &t[digits.len()..];
            if digits.is_empty() || !matches!(rest, "" | "st" | "nd" | "rd" | "th") {
                return None;
            }
            digits.parse().ok().filter(|d| (1..=31).contains(d))
        };
        let prev = i.checked_sub(1).and_then(|p| words.get(p));
        let next = words.get(i + 1);
        if let Some(&(ps, pw)) = prev
            && let Some(d) = day_of(pw)
        {
            push(out, ps..s + w.len(), Claim::Date(format!("{d}/{month}")));
        } else if let Some(&(ns, nw)) = next
            && let Some(d) = day_of(nw)
        {
            let nw_t = nw.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
            push(out, s..ns + nw_t.len(), Claim::Date(format!("{d}/{month}")));
        }
    }
}

fn skus(text: &str, out: &mut Vec<Found>) {
    for (start, word) in crate::knowledge::link::words(text) {
        let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let lead = word.find(w).unwrap_or(0);
        let parts: Vec<&str> = w.split('-').collect();
        let shaped = parts.len() >= 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
            && parts[0].chars().all(|c| c.is_ascii_alphabetic())
            && parts[0].len() >= 2
            && w.chars().any(|c| c.is_ascii_digit())
            && w.chars()
                .filter(char::is_ascii_alphabetic)
                .all(|c| c.is_ascii_uppercase());
        if shaped && !w.contains('/') {
            let s = start + lead;
            push(out, s..s + w.len(), Claim::Sku(w.to_ascii_lowercase()));
        }
    }
}

fn phones(hay: &str, out: &mut Vec<Found>) {
    let b = hay.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let starts = c == b'+' || c == b'(' || c.is_ascii_digit();
        if !starts || (i > 0 && is_word_byte(b[i - 1])) {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < b.len()
            && (b[end].is_ascii_digit()
                || matches!(b[end], b'+' | b'(' | b')' | b'-' | b' ' | b'.'))
        {
            end += 1;
        }
        // Trim what cannot end a number (spaces, dashes, dots, an open parenthesis).
        let mut e = end;
        while e > i && !b[e - 1].is_ascii_digit() && b[e - 1] != b')' {
            e -= 1;
        }
        let span = &hay[i..e];
        let digits: String = span.chars().filter(char::is_ascii_digit).collect();
        let range = i..e;
        if (8..=15).contains(&digits.len()) && !overlaps(out, &range) && !span.contains("  ") {
            push(out, range, Claim::Phone(normalise_phone(&digits)));
        }
        i = end.max(i + 1);
    }
}

/// National form: `62812…` → `0812…`; other digits unchanged.
#[must_use]
pub fn normalise_phone(digits: &str) -> String {
    match digits.strip_prefix("62") {
        Some(rest) if digits.len() >= 10 => format!("0{rest}"),
        _ => digits.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn kinds(text: &str) -> Vec<(String, Claim)> {
        claims(text)
            .into_iter()
            .map(|f| (text[f.range].to_string(), f.claim))
            .collect()
    }

    fn idr(milli: i128) -> Claim {
        Claim::Amount(Amount {
            milli,
            currency: Currency::parse("IDR"),
        })
    }

    #[test]
    fn amounts_in_every_spelling() {
        assert_eq!(
            kinds("harga Rp 350.000 ya"),
            vec![("Rp 350.000".into(), idr(350_000_000))]
        );
        assert_eq!(
            kinds("Rp350.000,-"),
            vec![("Rp350.000,-".into(), idr(350_000_000))]
        );
        assert_eq!(
            kinds("IDR 350,000"),
            vec![("IDR 350,000".into(), idr(350_000_000))]
        );
        let k = kinds("cuma 350rb");
        assert_eq!(k[0].0, "350rb");
        assert_eq!(
            k[0].1,
            Claim::Amount(Amount {
                milli: 350_000_000,
                currency: None
            })
        );
        let k = kinds("$12.50 or €9,90 or 1,5 jt");
        assert_eq!(k.len(), 3, "{k:?}");
        assert_eq!(
            k[0].1,
            Claim::Amount(Amount {
                milli: 12_500,
                currency: Currency::parse("USD")
            })
        );
        assert_eq!(
            k[1].1,
            Claim::Amount(Amount {
                milli: 9_900,
                currency: Currency::parse("EUR")
            })
        );
        assert_eq!(k[2].0, "1,5 jt");
        assert_eq!(
            kinds("20% off, 10 persen"),
            vec![
                ("20%".into(), Claim::Percent(2000)),
                ("10 persen".into(), Claim::Percent(1000))
            ]
        );
        assert!(kinds("stok 3, ukuran 38, 2–4 hari, 10:00–20:00").is_empty());
    }

    #[test]
    fn phones_emails_dates_skus() {
        let k = kinds("WA +62 812 1000 2000 atau halo@kirana.example");
        assert_eq!(
            k[0],
            (
                "+62 812 1000 2000".into(),
                Claim::Phone("081210002000".into())
            )
        );
        assert_eq!(
            k[1],
            (
                "halo@kirana.example".into(),
                Claim::Email("halo@kirana.example".into())
            )
        );
        let k = kinds("kirim besok, atau 14/2, atau 12 Mei, May 3rd, 2025-05-12");
        let dates: Vec<Claim> = k.into_iter().map(|(_, c)| c).collect();
        assert_eq!(
            dates,
            vec![
                Claim::Date("besok".into()),
                Claim::Date("14/2".into()),
                Claim::Date("12/5".into()),
                Claim::Date("3/5".into()),
                Claim::Date("12/5".into()),
            ]
        );
        let k = kinds("sku KB-DR-001 and co-ord, t-shirt, 2-3");
        assert_eq!(
            k,
            vec![("KB-DR-001".into(), Claim::Sku("kb-dr-001".into()))]
        );
    }
}
