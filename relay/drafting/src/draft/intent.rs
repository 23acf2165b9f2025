//! What a message asks, from its words alone: the intents whose cues it contains, the
//! signals that need a person, off-domain topics, named weekdays and calendar dates.
//!
//! Deciding the final intents needs retrieval too (a weak `ada?` is availability only when
//! an item is named), so `draft` combines this with what `retrieve` found.

use super::Intent;
use super::lexicon::{self, Signal};
use crate::knowledge::Weekday;
use std::collections::BTreeSet;

/// The cues found in one message.
#[derive(Debug, Default)]
pub struct Cues {
    pub strong: BTreeSet<Intent>,
    pub weak: BTreeSet<Intent>,
    pub signals: Vec<Signal>,
    pub holiday: bool,
    /// Off-domain topic words present (not yet checked against the tenant's vocabulary).
    pub topics: Vec<String>,
    pub weekday: Option<Weekday>,
    /// A calendar date (`14th`, `tanggal 14`, `14 Mei`, `14/2`): the drafter knows no dates.
    pub calendar_date: bool,
    /// An allergy question (answered only from an item's stated allergens).
    pub allergy: bool,
    /// Animals named (`lexicon::PET_WORDS`), by their folded form.
    pub pets: Vec<String>,
    /// The complaint cues are all words for something broken (a repair, not a grievance).
    pub damage_only: bool,
    /// The message asks for a repair or a service (`fix`, `tune`).
    pub repair: bool,
    /// The complaint cues all say something has not arrived yet (`not received`, `late`).
    pub late_only: bool,
    /// An amount of money with its currency (`$25`, `22 euros`): a price the customer
    /// quotes, to be checked against ours.
    pub amount: bool,
}

/// Finds cues in `tokens` (folded; words that name a retrieved item are blanked out so
/// `gift card` is not a card payment) and `raw` (for `#123` and `14/2`).
#[must_use]
pub fn detect(tokens: &[String], raw: &str) -> Cues {
    let stems: Vec<String> = tokens.iter().map(|t| super::text::stem(t)).collect();
    let has = |phrase: &str| {
        lexicon::contains_phrase(tokens, phrase) || lexicon::contains_phrase(&stems, phrase)
    };
    let mut cues = Cues::default();
    for group in lexicon::INTENT_CUES {
        if group.strong.iter().any(|c| has(c)) {
            cues.strong.insert(group.intent);
        } else if group.weak.iter().any(|c| has(c)) {
            cues.weak.insert(group.intent);
        }
    }
    // "$$?", "€?": a currency sign standing alone asks what it costs.
    if raw.split_whitespace().any(|w| {
        let w = w.trim_end_matches(['?', '!', '.']);
        !w.is_empty() && w.chars().all(|c| matches!(c, '$' | '€' | '£'))
    }) {
        cues.strong.insert(Intent::Price);
    }
    // "what does a wheel build run?": the price, with the item between.
    if tokens.iter().enumerate().any(|(i, t)| {
        t == "what"
            && tokens[i + 1..]
                .iter()
                .take(2)
                .any(|n| matches!(n.as_str(), "does" | "do" | "would" | "will"))
            && tokens[i + 1..].iter().take(8).any(|n| n == "run")
    }) {
        cues.strong.insert(Intent::Price);
    }
    // `P` alone is how many Indonesians open a chat.
    let words: Vec<&String> = tokens.iter().filter(|t| !t.is_empty()).collect();
    if words.len() == 1 && matches!(words[0].as_str(), "p" | "pp" | "ping") {
        cues.strong.insert(Intent::Greeting);
    }
    // `pagi` opens a greeting; elsewhere it is a time of day ("antar jam 4 sore").
    if words.first().is_some_and(|w| {
        matches!(
            w.as_str(),
            "pagi" | "siang" | "sore" | "malam" | "morning" | "evening"
        )
    }) {
        cues.strong.insert(Intent::Greeting);
    }
    for (signal, list) in lexicon::SIGNAL_CUES {
        if list.iter().any(|c| has(c)) {
            cues.signals.push(*signal);
        }
    }
    // "my baby is 3 months old": an infant's age, even when an item's name (`Baby SPF`)
    // took the word `baby` out of the tokens.
    let raw_tokens = super::text::tokens(raw);
    if (baby_age(&raw_tokens) || child_consumed(&raw_tokens))
        && !cues.signals.contains(&Signal::Health)
    {
        cues.signals.push(Signal::Health);
    }
    // "belum bisa saya ambil" (can't collect it yet) is not "saya ambil" (I'll take it).
    if cues.signals.contains(&Signal::OrderPlacement)
        && tokens.windows(3).any(|w| {
            matches!(
                w[0].as_str(),
                "bisa" | "blm" | "belum" | "gak" | "ga" | "tidak"
            ) && matches!(w[1].as_str(), "saya" | "aku" | "sy")
                && w[2] == "ambil"
        })
    {
        cues.signals.retain(|s| *s != Signal::OrderPlacement);
    }
    // "sent the $50 deposit by Zelle, can you confirm it came in?": a payment to verify.
    if lexicon::CONFIRM_WORDS.iter().any(|c| has(c))
        && lexicon::MONEY_SENT_WORDS.iter().any(|c| has(c))
        && !cues.signals.contains(&Signal::PaymentDone)
    {
        cues.signals.push(Signal::PaymentDone);
    }
    cues.amount = (0..tokens.len()).any(|i| is_amount(tokens, raw, i));
    if offers_price(tokens, raw) && !cues.signals.contains(&Signal::Negotiation) {
        cues.signals.push(Signal::Negotiation);
    }
    cues.holiday = lexicon::HOLIDAY_WORDS.iter().any(|c| has(c));
    cues.topics = tokens
        .iter()
        .filter(|t| lexicon::OFF_DOMAIN_TOPICS.contains(&t.as_str()))
        .cloned()
        .collect();
    cues.weekday = Weekday::ALL
        .into_iter()
        .find(|d| lexicon::WEEKDAYS[d.index()].iter().any(|w| has(w)));
    // `3 de mayo`: a function word between day and month still makes a date.
    let dated: Vec<String> = tokens
        .iter()
        .filter(|t| !crate::lang::is_function_word(t))
        .cloned()
        .collect();
    cues.calendar_date = calendar_date(&dated, raw);
    // "ok to collect it Friday after school?": coming for something on a day asks whether
    // the shop is open then, not how it ships.
    let collecting = [
        "pick up", "pickup", "collect", "grab", "come by", "swing by", "stop by",
    ]
    .iter()
    .any(|c| has(c));
    let shipping_word = lexicon::INTENT_CUES
        .iter()
        .filter(|g| g.intent == Intent::Shipping)
        .flat_map(|g| g.strong.iter())
        .filter(|c| has(c))
        .any(|c| !matches!(*c, "pick up" | "pickup" | "collect" | "grab"));
    if collecting && !shipping_word && cues.weekday.is_some() {
        cues.strong.remove(&Intent::Shipping);
        cues.strong.insert(Intent::Hours);
    }
    // `open` and `close` are verbs too ("the pump won't close"): they ask about hours only
    // beside a day, a time or a question about the shop itself.
    if cues.weak.contains(&Intent::Hours)
        && (cues.weekday.is_some()
            || cues.holiday
            || cues.calendar_date
            || names_month_or_day(tokens)
            || TIME_CONTEXT.iter().any(|c| has(c)))
    {
        cues.strong.insert(Intent::Hours);
    }
    cues.allergy = lexicon::ALLERGY_WORDS.iter().any(|c| has(c));
    // 😡 🤬 😤: anger needs a person whatever the words say.
    if raw.contains(['😡', '🤬', '😤', '👿']) {
        cues.strong.insert(Intent::Complaint);
    }
    // "tested on animals?", "cruelty-free?": how the products are made, not an animal's
    // safety.
    let testing = ["test", "tested", "testing", "cruelty", "vegan"]
        .iter()
        .any(|c| has(c));
    cues.pets = lexicon::PET_WORDS
        .iter()
        .filter(|c| !testing && has(c))
        .map(|c| (*c).to_string())
        .collect();
    cues.repair = lexicon::REPAIR_WORDS.iter().any(|c| has(c));
    if cues.strong.contains(&Intent::Complaint) {
        let grievance = lexicon::INTENT_CUES
            .iter()
            .filter(|g| g.intent == Intent::Complaint)
            .flat_map(|g| g.strong.iter())
            .filter(|c| has(c))
            .any(|c| {
                !lexicon::DAMAGE_WORDS
                    .iter()
                    .any(|d| c == d || c.split(' ').any(|w| w == *d))
            });
        cues.damage_only = !grievance;
        let complaint_cues: Vec<&&str> = lexicon::INTENT_CUES
            .iter()
            .filter(|g| g.intent == Intent::Complaint)
            .flat_map(|g| g.strong.iter())
            .filter(|c| has(c))
            .collect();
        cues.late_only = !complaint_cues.is_empty()
            && complaint_cues
                .iter()
                .all(|c| lexicon::LATE_WORDS.contains(*c));
        let angry = complaint_cues
            .iter()
            .any(|c| lexicon::ANGER_WORDS.contains(*c));
        // "open how late on Fridays?": the hours, not a parcel that is late.
        let hours_late =
            (has("how late") || has("open late")) && complaint_cues.iter().all(|c| **c == "late");
        // "if it arrives damaged, what happens?", "if I cancel, do I get the money back?":
        // a question about the policy, not a grievance, unless it is said in anger.
        let hypothetical = lexicon::CONDITIONAL_WORDS.iter().any(|c| has(c)) && !angry;
        if hours_late || hypothetical {
            cues.strong.remove(&Intent::Complaint);
            cues.damage_only = false;
            cues.late_only = false;
            if hours_late {
                cues.strong.insert(Intent::Hours);
            }
        }
    }
    cues
}

/// Whether the customer names a price of their own: an offer word, then an amount with its
/// currency ("2 for 40€?", "por 30 euros", "jadi 300rb"). "free over 40€" offers nothing,
/// and "for 2 items, $5?" names a count, not an amount.
fn offers_price(tokens: &[String], raw: &str) -> bool {
    let raw = raw.to_lowercase();
    // "could you do maybe $40?": a filler between the offer word and the amount.
    let offer_before = |i: usize| {
        let w = |j: usize| tokens[j].as_str();
        lexicon::OFFER_WORDS.contains(&w(i - 1))
            || (i >= 2
                && matches!(w(i - 1), "like" | "around" | "maybe" | "about")
                && lexicon::OFFER_WORDS.contains(&w(i - 2)))
    };
    (1..tokens.len()).any(|i| offer_before(i) && is_amount(tokens, &raw, i))
        || percent_off(&raw)
        || names_own_price(&super::text::tokens(&raw))
}

/// "¿me lo dejan en 90?", "faz por 40?": a price the customer names for
/// something, with or without a currency. (English `do it for 20` is left to currency
/// words: `do` and `take` ask for counts too, "do a cake for 20 guests".)
fn names_own_price(raw: &[String]) -> bool {
    const LET_HAVE: &[&str] = &[
        "dejan", "deja", "dejas", "dejarias", "dejarian", "deixa", "deixam", "deixas", "faz",
        "fazem", "fazes",
    ];
    const FOR: &[&str] = &["en", "por"];
    let number = |t: &String| t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty();
    let spanish = raw.iter().enumerate().any(|(i, t)| {
        if !LET_HAVE.contains(&t.as_str()) {
            return false;
        }
        let after = &raw[i + 1..(i + 7).min(raw.len())];
        after
            .windows(2)
            .any(|w| FOR.contains(&w[0].as_str()) && number(&w[1]))
    });
    // "could you do a wheel build for 300 cash?": `do … for N` with nothing counted
    // after the number ("for 2 bikes" counts, it names no price).
    let english = raw.iter().enumerate().any(|(i, t)| {
        t == "do"
            && raw[i + 1..].iter().take(6).enumerate().any(|(k, w)| {
                let at = i + 1 + k;
                w == "for"
                    && raw.get(at + 1).is_some_and(number)
                    && raw.get(at + 2).is_none_or(|n| {
                        matches!(n.as_str(), "if" | "cash" | "total" | "flat" | "and" | "all")
                    })
            })
    });
    spanish || english
}

/// Whether `tokens[i]` is a number with a currency beside it: a currency word after it
/// (`25 euros`) or a sign (`$25`, `25€`) in `raw`.
fn is_amount(tokens: &[String], raw: &str, i: usize) -> bool {
    let Some(n) = tokens
        .get(i)
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()))
    else {
        return false;
    };
    tokens
        .get(i + 1)
        .is_some_and(|u| lexicon::CURRENCY_WORDS.contains(&u.as_str()))
        || ['€', '$', '£'].iter().any(|c| {
            [
                format!("{n}{c}"),
                format!("{n} {c}"),
                format!("{c}{n}"),
                format!("{c} {n}"),
            ]
            .iter()
            .any(|f| raw.contains(f.as_str()))
        })
}

/// "20% off?", "un 10 % de descuento", "would you do me 15%?": a share off the price is
/// a discount asked for; a share in a name ("vitamin C 15%") is not.
fn percent_off(raw: &str) -> bool {
    // Doing or giving a share: "do me 10%", "nos haces 20%", "faz 10%", "kasih 10%".
    const GIVE: &[&str] = &[
        "do", "give", "hacen", "haceis", "haces", "hace", "hacer", "dejan", "deja", "fazem", "faz",
        "fazes", "fazer", "dao", "kasih", "kasi",
    ];
    let lower = raw.to_lowercase();
    lower.match_indices('%').any(|(at, _)| {
        let before = lower[..at].trim_end();
        let after = lower[at + 1..].trim_start();
        if !before.ends_with(|c: char| c.is_ascii_digit()) {
            return false;
        }
        let named_off = ["off", "de desc", "desc", "discount", "diskon", "potongan"]
            .iter()
            .any(|w| after.starts_with(w));
        let given = before
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .rev()
            .skip(1)
            .take(3)
            .any(|w| GIVE.contains(&w));
        named_off || given
    })
}

/// Words that make `open` / `close` a question about hours.
const TIME_CONTEXT: &[&str] = &[
    "today", "tomorrow", "tonight", "now", "time", "when", "hours", "late", "early", "weekend",
    "until", "till", "til", "hari ini", "besok", "jam", "sekarang", "shop", "store", "toko",
    "still",
];

/// A person's age in weeks or months beside a word for a baby or a child, or "N months
/// old": the age of an infant, whose skin and safety a person answers for.
fn baby_age(raw: &[String]) -> bool {
    const UNITS: &[&str] = &[
        "month", "months", "mo", "meses", "mes", "bulan", "bln", "week", "weeks", "semanas",
        "minggu",
    ];
    const INFANT: &[&str] = &[
        "baby", "bebe", "bebes", "bayi", "newborn", "recien", "nene", "nena", "filho", "filha",
        "hijo", "hija", "son", "daughter", "anak", "anakku",
    ];
    raw.windows(2).enumerate().any(|(i, w)| {
        w[0].chars().all(|c| c.is_ascii_digit())
            && UNITS.contains(&w[1].as_str())
            && (raw.get(i + 2).is_some_and(|n| n == "old")
                || raw.iter().any(|t| INFANT.contains(&t.as_str())))
    })
}

/// A young child's age in years beside eating or drinking ("my girl is 2 years, she ate…",
/// "can my 4 yo drink it?"): whether it is safe for the child is a person's call.
fn child_consumed(raw: &[String]) -> bool {
    const YEARS: &[&str] = &["anos", "ano", "years", "year", "yo", "tahun", "thn"];
    const CONSUMING: &[&str] = &[
        "drink",
        "drinks",
        "drinking",
        "drank",
        "eat",
        "eats",
        "eating",
        "ate",
        "swallowed",
        "beber",
        "bebe",
        "bebio",
        "tomar",
        "toma",
        "tomo",
        "comer",
        "comio",
        "beba",
        "coma",
        "bebeu",
        "comeu",
        "engoliu",
        "minum",
        "makan",
        "ketelen",
        "tertelan",
    ];
    let young = raw
        .windows(2)
        .any(|w| w[0].parse::<u32>().is_ok_and(|n| n <= 12) && YEARS.contains(&w[1].as_str()));
    young && raw.iter().any(|t| CONSUMING.contains(&t.as_str()))
}

/// A month alone ("closed in february?") or a day of the month after an article ("abren
/// el 25?", "buka tgl 5?"): not a full date, but a day, which `open` and `close` ask about.
fn names_month_or_day(tokens: &[String]) -> bool {
    let is_day = |t: &str| t.parse::<u32>().is_ok_and(|n| (1..=31).contains(&n));
    tokens.iter().any(|t| lexicon::MONTHS.contains(&t.as_str()))
        || tokens.windows(2).any(|w| {
            matches!(w[0].as_str(), "el" | "dia" | "the" | "tgl" | "tanggal") && is_day(&w[1])
        })
}

/// Units a fraction may measure ("1/4 lb", `1/2 kilo`, `3/4 pol`).
const MEASURE_UNITS: &[&str] = &[
    "lb", "lbs", "pound", "pounds", "kg", "kilo", "kilos", "quilo", "quilos", "libra", "libras",
    "g", "gr", "oz", "mm", "cm", "m", "in", "inch", "inches", "ft", "foot", "feet", "gal",
    "gallon", "gallons", "galon", "galones", "l", "ml", "litre", "liter", "pol", "polegada",
    "pulgada", "pulgadas", "cup", "cups", "tsp", "tbsp",
];

fn calendar_date(tokens: &[String], raw: &str) -> bool {
    let is_day = |t: &str| t.parse::<u32>().is_ok_and(|n| (1..=31).contains(&n));
    for (i, t) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).map(String::as_str);
        let prev = i
            .checked_sub(1)
            .and_then(|p| tokens.get(p))
            .map(String::as_str);
        if is_day(t) {
            // "the 4th" is a date; "4th st" or "3rd floor" is a place.
            let place = tokens.get(i + 2).is_some_and(|w| {
                matches!(
                    w.as_str(),
                    "st" | "street" | "ave" | "avenue" | "floor" | "fl" | "rd"
                )
            });
            if next.is_some_and(|n| matches!(n, "st" | "nd" | "rd" | "th")) && !place {
                return true;
            }
            if next.is_some_and(|n| lexicon::MONTHS.contains(&n)) {
                return true;
            }
            if prev.is_some_and(|p| matches!(p, "tanggal" | "tgl" | "tg")) {
                return true;
            }
            if prev.is_some_and(|p| lexicon::MONTHS.contains(&p)) {
                return true;
            }
        }
    }
    // `14/2`, `14-02-2025`: one word of two or three numbers joined by `/` or `-`, the
    // first two a day and a month in either order (`75/11` is a needle size, not a date).
    let day_and_month = |a: &str, b: &str| {
        let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) else {
            return false;
        };
        (1..=31).contains(&a) && (1..=31).contains(&b) && (a <= 12 || b <= 12)
    };
    let words: Vec<&str> = raw.split_whitespace().collect();
    words.iter().enumerate().any(|(i, w)| {
        let w = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        // "1/4 lb", "3/4 inch": a fraction of a unit is a measure.
        let unit = words.get(i + 1).is_some_and(|n| {
            let n = n
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            MEASURE_UNITS.contains(&n.as_str())
        });
        if unit {
            return false;
        }
        let parts: Vec<&str> = w.split(['/', '-']).collect();
        let numeric = parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        numeric
            && (2..=3).contains(&parts.len())
            && parts[0].len() <= 2
            && parts[1].len() <= 2
            && day_and_month(parts[0], parts[1])
            && parts.get(2).is_none_or(|y| y.len() == 2 || y.len() == 4)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draft::text;

    fn cues(s: &str) -> Cues {
        detect(&text::tokens(s), s)
    }

    #[test]
    fn strong_and_weak() {
        let c = cues("kak harganya berapa, ready size M?");
        assert!(c.strong.contains(&Intent::Price));
        assert!(c.strong.contains(&Intent::Availability));
        assert!(c.strong.contains(&Intent::Variant));
        let c = cues("ada yang M?");
        assert!(c.weak.contains(&Intent::Availability));
        assert!(cues("P").strong.contains(&Intent::Greeting));
        assert!(
            cues("ongkir ke Bandung?")
                .strong
                .contains(&Intent::Shipping)
        );
        assert!(cues("makasih ya").strong.contains(&Intent::Thanks));
    }

    #[test]
    fn signals_and_dates() {
        assert_eq!(
            cues("bisa kurang ga kak").signals,
            vec![Signal::Negotiation]
        );
        assert_eq!(cues("udah transfer ya").signals, vec![Signal::PaymentDone]);
        assert!(cues("cake for the 14th").calendar_date);
        assert!(cues("tanggal 3 bisa?").calendar_date);
        assert!(cues("kirim 12 Mei ya").calendar_date);
        assert!(cues("pickup 14/2").calendar_date);
        assert!(cues("pickup 2/14?").calendar_date);
        // Sizes written like dates are not dates.
        assert!(!cues("denim needles 80/12 in stock?").calendar_date);
        assert!(!cues("a 1/2 lb bag of seed?").calendar_date);
        assert!(!cues("3/4 inch hose?").calendar_date);
        assert!(!cues("agujas 90/14 hay?").calendar_date);
        assert!(!cues("pickup 0/5").calendar_date);
        assert!(cues("abren el 25 de december?").calendar_date);
        assert!(!cues("order #KRN-20931").calendar_date);
        assert!(!cues("size 12 and 3 pcs").calendar_date);
        assert!(!cues("tomorrow please").calendar_date);
        assert_eq!(cues("buka hari minggu?").weekday, Some(Weekday::Sun));
        assert!(cues("buka hari libur?").holiday);
        assert_eq!(cues("cuaca hari ini").topics, vec!["cuaca"]);
    }

    #[track_caller]
    fn hours(message: &str, expected: bool) {
        assert_eq!(
            cues(message).strong.contains(&Intent::Hours),
            expected,
            "{message}"
        );
    }

    #[test]
    fn open_and_close_ask_about_hours_only_in_context() {
        hours("are you open on sunday?", true);
        hours("what time do you close today", true);
        hours("buka jam berapa kak?", true);
        hours("the bottle won't open", false);
        hours("how do I close the clasp", false);
        hours("can I open a return", false);
    }

    #[test]
    fn lateness_alone_is_told_from_anger() {
        assert!(cues("my order still not received").late_only);
        assert!(!cues("not received, worst shop ever").late_only);
        assert!(!cues("thanks").late_only);
    }

    #[test]
    fn a_holiday_of_the_customer_is_not_a_question_about_hours() {
        hours("can you look after my dog while I'm on holiday?", false);
        hours("are you open during the holidays?", true);
    }

    #[test]
    fn damage_is_a_repair_unless_it_is_a_grievance() {
        let c = cues("my chain is broken, can you fix it?");
        assert!(c.damage_only && c.repair);
        let c = cues("the bottle arrived broken, really disappointed");
        assert!(!c.damage_only);
        assert!(!cues("thanks").damage_only);
    }
}
