//! The built-in grounded drafter: for one inbound customer message, what is asked, which of
//! the tenant's items and policies answer it, and a short reply built only from them — or no
//! reply and a reason a person should take the message.
//!
//! It needs no network and no model: [`Drafter::new`] indexes a tenant's [`Knowledge`] once
//! (BM25 over names, aliases, descriptions and policies, with typo tolerance), and
//! [`Drafter::draft`] is a pure, deterministic function of the message and the conversation
//! so far. It never answers open-domain questions, complaints, or anything the knowledge
//! does not say (a price negotiation, a payment to verify, a date to confirm): those produce
//! a [`Draft`] with `handoff` set and no text. Every draft still goes through the safety
//! classifier (`crate::safety`) before anything is sent; the drafter does not send, store
//! or decide auto-send.
//!
//! Layout: `text` (normalisation), `fuzzy` (typos), `index` (BM25), `lexicon` and `intent`
//! (what is asked), `retrieve` (what answers it), `compose` (the sentences).

mod compose;
mod fuzzy;
mod index;
mod intent;
mod lexicon;
mod orders;
mod retrieve;
// Words are split and normalised by the language layer; `draft::text` names it as before.
pub use crate::lang::text;

use crate::knowledge::{ItemKind, Knowledge, Order, OtherLanguages};
use crate::lang::{self, Language};
use compose::Words;
use lexicon::Signal;
use retrieve::{Catalog, Family, Found, Policies, STRONG_POLICY, VariantAsk};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

/// What a customer message asks. Order is the order answers are composed in.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Intent {
    Greeting,
    Product,
    Price,
    Availability,
    Variant,
    Shipping,
    Returns,
    Payment,
    Hours,
    Location,
    Policy,
    OrderStatus,
    Booking,
    Thanks,
    Complaint,
    OffDomain,
}

impl Intent {
    pub const ALL: [Intent; 16] = [
        Intent::Greeting,
        Intent::Product,
        Intent::Price,
        Intent::Availability,
        Intent::Variant,
        Intent::Shipping,
        Intent::Returns,
        Intent::Payment,
        Intent::Hours,
        Intent::Location,
        Intent::Policy,
        Intent::OrderStatus,
        Intent::Booking,
        Intent::Thanks,
        Intent::Complaint,
        Intent::OffDomain,
    ];

    /// The snake_case name used in labels and logs (`order_status`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Greeting => "greeting",
            Intent::Product => "product",
            Intent::Price => "price",
            Intent::Availability => "availability",
            Intent::Variant => "variant",
            Intent::Shipping => "shipping",
            Intent::Returns => "returns",
            Intent::Payment => "payment",
            Intent::Hours => "hours",
            Intent::Location => "location",
            Intent::Policy => "policy",
            Intent::OrderStatus => "order_status",
            Intent::Booking => "booking",
            Intent::Thanks => "thanks",
            Intent::Complaint => "complaint",
            Intent::OffDomain => "off_domain",
        }
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<Intent> {
        Intent::ALL.into_iter().find(|i| i.as_str() == name)
    }

    /// Intents answered from an item.
    fn about_items(self) -> bool {
        matches!(
            self,
            Intent::Product | Intent::Price | Intent::Availability | Intent::Variant
        )
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A business fact a draft used.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BusinessField {
    Hours,
    Address,
    Contact,
    ShippingRegions,
    FreeShipping,
    Dispatch,
    Closures,
    Booking,
}

impl BusinessField {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            BusinessField::Hours => "hours",
            BusinessField::Address => "address",
            BusinessField::Contact => "contact",
            BusinessField::ShippingRegions => "shipping_regions",
            BusinessField::FreeShipping => "free_shipping",
            BusinessField::Dispatch => "dispatch",
            BusinessField::Closures => "closures",
            BusinessField::Booking => "booking",
        }
    }
}

/// A fact of the knowledge a draft cites, shown to agents and checked by the evaluation.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum FactRef {
    Item {
        sku: String,
    },
    Policy {
        key: String,
    },
    Business {
        field: BusinessField,
    },
    /// An order or repair ticket, from the knowledge or the owner's lookup.
    Order {
        number: String,
    },
}

impl fmt::Display for FactRef {
    /// `sku:KB-DR-001`, `policy:returns`, `business:hours`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FactRef::Item { sku } => write!(f, "sku:{sku}"),
            FactRef::Policy { key } => write!(f, "policy:{key}"),
            FactRef::Business { field } => write!(f, "business:{}", field.as_str()),
            FactRef::Order { number } => write!(f, "order:{number}"),
        }
    }
}

/// Who wrote an earlier message of the conversation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Speaker {
    Customer,
    Business,
}

/// An earlier message of the conversation, oldest first in the slice given to `draft`.
#[derive(Clone, Debug)]
pub struct Turn {
    pub from: Speaker,
    pub text: String,
}

/// The drafter's answer to one message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Draft {
    /// The reply to propose; `None` when a person must answer.
    pub text: Option<String>,
    pub intents: Vec<Intent>,
    /// Facts the text states, in the order it states them.
    pub facts: Vec<FactRef>,
    /// Why a person must take the message (set exactly when `text` is `None`).
    pub handoff: Option<String>,
    /// The language the customer wrote in.
    pub language: Language,
}

/// A tenant's knowledge, indexed for drafting. Build once per knowledge version.
pub struct Drafter {
    k: Knowledge,
    catalog: Catalog,
    policies: Policies,
    /// Stems of business facts (name, address, places), so they are not "unknown" words.
    business_vocab: HashSet<String>,
    /// Stems of item names, aliases, categories and option values: the words that name
    /// something the business sells (a description's words do not).
    item_names: HashSet<String>,
    order_policy: Option<usize>,
    holiday_known: bool,
    /// Numbers joined by `/` or `-` that the catalog writes (`4/3` of a wetsuit, `80/12`
    /// of a needle): in a message they name the item's measure, not a date.
    catalog_fractions: HashSet<String>,
    /// Stems of the words policies are named by: keys and titles, translated titles too.
    policy_names: HashSet<String>,
    /// Per inflected language, the knowledge's words by their root (`respald` →
    /// `respaldar`), so a customer's inflected form finds the form the knowledge uses.
    roots: Vec<(Language, HashMap<String, String>)>,
}

/// How many earlier turns are searched for the item a short follow-up refers to.
const CONTEXT_TURNS: usize = 6;
/// A policy score that answers an item-shaped question with no item in it.
const CLEAR_POLICY: f32 = 3.0;
/// A policy score that answers a word of an item question only a policy knows.
const RESIDUAL_POLICY: f32 = 0.5;
/// Longest policy excerpt, in sentences.
const POLICY_SENTENCES: usize = 2;

impl Drafter {
    #[must_use]
    pub fn new(knowledge: &Knowledge) -> Drafter {
        let k = knowledge.clone();
        let mut business_vocab: HashSet<String> = HashSet::new();
        let mut add = |s: &str| business_vocab.extend(text::stems(s));
        add(&k.business.name);
        if let Some(a) = &k.business.address {
            add(a);
        }
        if let Some(n) = &k.business.hours_note {
            add(n);
        }
        for r in &k.business.shipping_regions {
            add(&r.name);
            for p in &r.places {
                add(p);
            }
        }
        // A restock date makes "restock" a word the knowledge can answer.
        if k.items
            .iter()
            .any(|i| i.restock.is_some() || i.variants.iter().any(|v| v.restock.is_some()))
        {
            add("restock");
        }
        let policies = Policies::new(&k);
        let order_policy = policies.family(Family::OrderStatus).first().copied();
        let holiday_known = std::iter::once(k.business.hours_note.as_deref().unwrap_or(""))
            .chain(k.policies.iter().map(|p| p.text.as_str()))
            .any(|t| {
                let toks = text::tokens(t);
                lexicon::HOLIDAY_WORDS
                    .iter()
                    .any(|h| lexicon::contains_phrase(&toks, h))
            })
            || !k.business.closures.is_empty();
        let mut item_names: HashSet<String> = HashSet::new();
        for item in &k.items {
            for n in std::iter::once(&item.name)
                .chain(&item.aliases)
                .chain(item.category.iter())
            {
                item_names.extend(text::stems(n));
            }
            for v in &item.variants {
                item_names.extend(text::stems(&v.label()));
            }
        }
        let catalog_fractions: HashSet<String> = k
            .items
            .iter()
            .flat_map(|item| {
                let mut texts: Vec<String> = vec![item.name.clone(), item.description.clone()];
                texts.extend(item.aliases.iter().cloned());
                texts.extend(item.variants.iter().map(|v| v.label()));
                texts
            })
            .flat_map(|t| {
                t.split_whitespace()
                    .map(|w| {
                        w.trim_matches(|c: char| !c.is_ascii_alphanumeric())
                            .to_string()
                    })
                    .filter(|w| {
                        w.contains(['/', '-'])
                            && w.split(['/', '-'])
                                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let policy_names: HashSet<String> = k
            .policies
            .iter()
            .flat_map(|p| {
                std::iter::once(p.key.replace(['_', '-'], " "))
                    .chain(std::iter::once(p.title.clone()))
                    .chain(p.translations.values().map(|(t, _)| t.clone()))
                    .collect::<Vec<_>>()
            })
            .flat_map(|t| text::stems(&t))
            // Not a cue of how a question asks or what kind it is (`free`, `policy`): those
            // name no one policy.
            .filter(|s| {
                !text::is_stopword(s)
                    && !lang::is_function_word(s)
                    && !lang::is_everyday_word(s)
                    && !lexicon::is_cue_word(s)
            })
            .collect();
        let catalog = Catalog::new(&k);
        let mut vocabulary: Vec<&str> = catalog
            .vocabulary()
            .chain(policies.vocabulary())
            .chain(business_vocab.iter().map(String::as_str))
            .collect();
        // Sorted, so which of two words sharing a root wins does not depend on hashing.
        vocabulary.sort_unstable();
        vocabulary.dedup();
        let roots = Language::inflected()
            .into_iter()
            .map(|l| {
                let mut by_root: HashMap<String, String> = HashMap::new();
                for w in &vocabulary {
                    if let Some(r) = l.root(w) {
                        by_root
                            .entry(r.to_string())
                            .or_insert_with(|| (*w).to_string());
                    }
                }
                if l == Language::ENGLISH {
                    // `bleeding` is `bleed` plus an ending: a word is its own root.
                    for w in &vocabulary {
                        by_root
                            .entry((*w).to_string())
                            .or_insert_with(|| (*w).to_string());
                    }
                }
                // The index keeps stems, which lost a plural or verb `s` after a vowel
                // (`reconstruimos` → `reconstruimo`): their root is the word's with it.
                for w in vocabulary.iter().filter(|w| w.ends_with(['a', 'e', 'o'])) {
                    if let Some(r) = l.root(&format!("{w}s")) {
                        by_root
                            .entry(r.to_string())
                            .or_insert_with(|| (*w).to_string());
                    }
                }
                (l, by_root)
            })
            .collect();
        Drafter {
            catalog,
            policies,
            business_vocab,
            item_names,
            order_policy,
            holiday_known,
            catalog_fractions,
            policy_names,
            roots,
            k,
        }
    }

    #[must_use]
    pub fn knowledge(&self) -> &Knowledge {
        &self.k
    }

    /// Drafts a reply to `message`, given the conversation before it (oldest first).
    #[must_use]
    pub fn draft(&self, message: &str, conversation: &[Turn]) -> Draft {
        self.draft_with(message, conversation, None)
    }

    /// The order or ticket number a message (or, failing that, the conversation) gives, for
    /// the caller to look up through the owner's hook before drafting.
    #[must_use]
    pub fn order_number(&self, message: &str, conversation: &[Turn]) -> Option<String> {
        self.number_in(message).or_else(|| {
            conversation
                .iter()
                .rev()
                .filter(|t| t.from == Speaker::Customer)
                .take(CONTEXT_TURNS)
                .find_map(|t| self.number_in(&t.text))
        })
    }

    /// The order or ticket number in `text`: a number's shape that is not a sku the
    /// customer copied (`MV-TB-26`) or a model the catalog names (`GP5000`).
    fn number_in(&self, message: &str) -> Option<String> {
        orders::number(message).filter(|n| {
            !self.is_sku(n)
                && !text::tokens(n)
                    .iter()
                    .all(|t| self.catalog.knows(&text::stem(t)))
        })
    }

    /// [`Drafter::draft`] with an order or ticket the caller looked up (`order_lookup_url`).
    #[must_use]
    pub fn draft_with(
        &self,
        message: &str,
        conversation: &[Turn],
        looked_up: Option<&Order>,
    ) -> Draft {
        let raw_tokens = text::tokens(message);
        let main = self.k.business.language;
        // A quoted earlier reply ("'Ticket 12: ready'", «…», "> …") is in the business's
        // language; the customer's is the rest, when there is enough of it.
        let own = unquoted(message);
        let own_tokens = text::tokens(&own);
        let detected = if own_tokens.len() >= 2 && own_tokens.len() < raw_tokens.len() {
            lang::detect(&own, &own_tokens, main)
        } else {
            lang::detect(message, &raw_tokens, main)
        };
        let mut draft = self.draft_in(message, conversation, looked_up, detected, &raw_tokens);
        draft.language = detected;
        draft
    }

    fn draft_in(
        &self,
        message: &str,
        conversation: &[Turn],
        looked_up: Option<&Order>,
        detected: Language,
        raw_tokens: &[String],
    ) -> Draft {
        let business = &self.k.business;
        let lang = if business.languages.contains(&detected) {
            detected
        } else if business.other_languages == OtherLanguages::Handoff {
            return handoff(
                &[],
                format!(
                    "written in {}, which {} does not answer in",
                    detected.file().name,
                    business.name
                ),
            );
        } else {
            business.language
        };
        // The customer's words in the drafter's own vocabulary (`precio` → `price`).
        let words = Words::new(lang, &self.k.persona, business.language);
        // Items are named in the catalog's own words, which may be the customer's language
        // (`Cambio de llanta`), so they are looked up before the customer's words are put
        // in the drafter's vocabulary (`cambio` → `exchange`), and only then in it.
        // A verb after a negation ("the lamp won't light") names no item (a `light`). Items
        // are found in the words as written: a root shared by accident (`tatuar`, the
        // `tatuajes` a balm is for) must not name an item.
        let mut found = self.catalog.find(&verbs_masked(raw_tokens), message);
        // "> the wrap dress is back on the 14th \n and the floral one?": of items named in
        // a quote and in the customer's own words, the own words' are asked about.
        let own = unquoted(message);
        if !found.is_empty() && own.len() < message.len() {
            let own_found = self.catalog.find(&verbs_masked(&text::tokens(&own)), &own);
            if !own_found.is_empty() {
                found = own_found;
            }
        }
        // "what is a wheel true, and any spokes in stock?": an item one question names is
        // asked about, though another question's item explains its word (the repair's
        // description mentions tubes).
        if !found.is_empty() {
            let parts: Vec<&str> = clauses(message)
                .into_iter()
                .flat_map(|c| joined_questions(c.trim_end_matches('?')))
                .collect();
            if parts.len() > 1 {
                for part in parts {
                    let tokens = text::tokens(part);
                    // Only a question of its own that asks whether there is something
                    // ("and do you have tubes"), not a statement ("still on studs").
                    let opens = tokens
                        .iter()
                        .find(|w| !JOINING_WORDS.contains(&w.as_str()))
                        .is_some_and(|w| ASKING_WORDS.contains(&w.as_str()));
                    let cues = intent::detect(&lang::canonical_mixed(detected, &tokens), part);
                    let asks_have = cues.strong.contains(&Intent::Availability)
                        || cues.weak.contains(&Intent::Availability);
                    if !opens || !asks_have {
                        continue;
                    }
                    let more = self.catalog.find(&verbs_masked(&tokens), part);
                    if more.iter().any(|f| found.iter().any(|g| g.item == f.item)) {
                        continue;
                    }
                    found.extend(more);
                }
            }
        }
        let canon = lang::canonical(detected, raw_tokens);
        if found.is_empty() {
            found = self.catalog.find(&verbs_masked(&canon), message);
        } else if found.iter().all(|f| {
            // Named only by words a phrase of the language took in (`ban` of `ban
            // dalam`), not by words it merely translates (`cor` → `colour`), or by no
            // word of the message at all.
            f.naming.iter().all(|w| {
                !canon.contains(w)
                    && lang::canonical(detected, std::slice::from_ref(w)) == [w.clone()]
            })
        }) {
            // "ban dalam" is an inner tube: the items `ban` (tyre) named as written are
            // named by words the language reads as part of another phrase.
            let read = self.catalog.find(&verbs_masked(&canon), message);
            // An item found by no word at all gives way only to one the language's own
            // reading names (`inner tube` of `ban dalam`), not to one named as written.
            let unnamed = found.iter().all(|f| f.naming.is_empty());
            let translated = read
                .iter()
                .all(|f| !f.naming.is_empty() && f.naming.iter().all(|w| !raw_tokens.contains(w)));
            if !read.is_empty() && (!unnamed || translated) {
                found = read;
            }
        }
        // "…back wheel wobbles, chain is orange. what does the overhaul run?": in a long
        // message the items its question names are the ones asked about.
        // Of several items, those a question names when others are only in statements
        // ("the brake squeals. and a wheel true costs?"), in a message of any length.
        let asking = asking_words(message, detected).or_else(|| {
            (found.len() > 1)
                .then(|| question_words(message, detected))
                .flatten()
        });
        if let Some(asking) = asking {
            let asked: Vec<Found> = found
                .iter()
                .filter(|f| f.naming.iter().any(|w| asking.contains(w)))
                .cloned()
                .collect();
            if !asked.is_empty() {
                found = asked;
            }
        }
        let included = canon.iter().any(|t| t == "included");
        let mut part_of_service = false;
        if included
            && !found.is_empty()
            && found
                .iter()
                .all(|f| self.k.items[f.item].kind != ItemKind::Service)
        {
            // "tubeless per wheel, sealant included?": the service the message names best
            // (then: whose description has the part) is what is asked, the part a piece of
            // it.
            let stems: HashSet<String> = canon.iter().map(|t| text::stem(t)).collect();
            let parts: Vec<&String> = found.iter().flat_map(|f| &f.naming).collect();
            let scored: Vec<(usize, usize, bool)> = self
                .k
                .items
                .iter()
                .enumerate()
                .filter(|(_, item)| item.kind == ItemKind::Service)
                .map(|(i, item)| {
                    let named: HashSet<String> = std::iter::once(&item.name)
                        .chain(&item.aliases)
                        .flat_map(|n| text::stems(n))
                        .filter(|s| {
                            stems.contains(s)
                                && !text::is_stopword(s)
                                && !lang::is_function_word(s)
                                && !parts.iter().any(|p| text::stem(p) == *s)
                        })
                        .collect();
                    let words = item_words(item);
                    let has_part = parts
                        .iter()
                        .all(|p| text::expand(p).iter().any(|s| words.contains(s)));
                    (i, named.len(), has_part)
                })
                .filter(|(_, named, _)| *named > 0)
                .collect();
            let best = scored
                .iter()
                .map(|(_, n, has)| (*n, *has))
                .max()
                .unwrap_or_default();
            let services: Vec<usize> = scored
                .iter()
                .filter(|(_, n, has)| (*n, *has) == best)
                .map(|(i, _, _)| *i)
                .collect();
            if let [one] = services.as_slice() {
                found = vec![Found {
                    item: *one,
                    naming: HashSet::new(),
                }];
                part_of_service = true;
            }
        }
        let mut fitting_described = false;
        if !included
            && !found.is_empty()
            && found
                .iter()
                .all(|f| self.k.items[f.item].kind != ItemKind::Service)
            && canon.iter().any(|t| is_fitting(t))
        {
            if let Some(service) = self.fitting_service(&found, &canon) {
                // "how much to change the brake pads?": the part, and the service that fits
                // it.
                found.push(Found {
                    item: service,
                    naming: HashSet::new(),
                });
            } else {
                // "and will you put it on?" of a part whose description says what fitting
                // costs: the description answers.
                fitting_described = found.iter().all(|f| {
                    item_words(&self.k.items[f.item]).iter().any(|w| {
                        // `installation`, `fitted`: the verb's forms and its noun.
                        FITTING_WORDS
                            .iter()
                            .any(|v| w == v || (v.len() >= 4 && w.starts_with(v)))
                            || is_fitting(w)
                    })
                });
            }
        }
        if found.len() > 1 && included {
            // "a wheel conversion, is the sealant part of it?": a part the service's own
            // description names is asked about as part of it, not as an item to buy.
            let services: Vec<HashSet<String>> = found
                .iter()
                .filter(|f| self.k.items[f.item].kind == ItemKind::Service)
                .map(|f| item_words(&self.k.items[f.item]))
                .collect();
            found.retain(|f| {
                self.k.items[f.item].kind == ItemKind::Service
                    || !services.iter().any(|words| {
                        f.naming
                            .iter()
                            .all(|w| text::expand(w).iter().any(|s| words.contains(s)))
                    })
            });
        }
        // Inflected forms become the knowledge's own (`respaldan` → `respaldar`), so a
        // known word is not taken for an unknown one and policies find it.
        let raw_tokens: &[String] = &self.in_vocabulary(detected, raw_tokens);
        let tokens = self.in_vocabulary(detected, &lang::canonical_mixed(detected, raw_tokens));
        // A place a region lists ("Broken Arrow") is a destination, not a cue (`broken`).
        let place: Vec<String> = retrieve::region(&self.k, raw_tokens)
            .map(|hit| text::tokens(&hit.place))
            .unwrap_or_default();
        let naming = |t: &String| found.iter().any(|f| f.naming.contains(t)) || place.contains(t);
        // Words that name an item are not cues: `gift card` is not a card payment.
        let masked_raw: Vec<String> = raw_tokens
            .iter()
            .map(|t| if naming(t) { String::new() } else { t.clone() })
            .collect();
        // An order number's letters (`CA` of `CA-5599`) are not words of the message.
        let number: Vec<String> = self
            .number_in(message)
            .map(|n| text::tokens(&n))
            .unwrap_or_default();
        let masked: Vec<String> = lang::canonical_mixed(detected, &masked_raw)
            .into_iter()
            .map(|t| {
                if naming(&t) || number.contains(&t) {
                    String::new()
                } else {
                    t
                }
            })
            .collect();
        let cues = intent::detect(&masked, message);
        let mut intents: BTreeSet<Intent> = cues.strong.clone();
        if part_of_service || fitting_described {
            // Its description says what it includes, or what fitting it costs.
            intents.insert(Intent::Product);
        }
        let service_named = found
            .iter()
            .any(|f| self.k.items[f.item].kind == ItemKind::Service);
        if cues.damage_only && (cues.repair || service_named || intents.contains(&Intent::Price)) {
            // "the zip broke, what would mending it cost?": something to repair, not a grievance.
            intents.remove(&Intent::Complaint);
        }
        let wants_item = intents.iter().any(|i| i.about_items())
            || cues.weak.contains(&Intent::Availability)
            || cues.weak.contains(&Intent::Price);
        if found.is_empty() && wants_item {
            found = self.items_in_context(conversation);
        }
        // "📸 can this be fixed?": a photo sent along names what is asked about.
        let lower = message.to_lowercase();
        let photo = message.contains(['📷', '📸', '🖼'])
            || [
                ".jpg", ".jpeg", ".png", ".heic", "[photo]", "[image]", "[foto]", "[imagen]",
            ]
            .iter()
            .any(|e| lower.contains(e));
        if found.is_empty()
            && raw_tokens.len() <= POINTING_MAX_WORDS
            && (photo || lang::points(detected, raw_tokens))
        {
            // "this one in red??" under a photo: the item is in the picture. The conversation
            // names it, or an option only one item has does; otherwise a person, who sees
            // the photo, answers rather than a guess.
            found = self.items_in_context(conversation);
            if found.is_empty() {
                match self.items_by_option(&masked).as_slice() {
                    [one] => found = vec![one.clone()],
                    _ => {
                        return handoff(
                            &core_or_all(&intents),
                            "points at something in a photo or an earlier message".to_string(),
                        );
                    }
                }
            }
        }
        let content: Vec<String> = tokens
            .iter()
            .filter(|t| !t.is_empty() && !text::is_stopword(t))
            .cloned()
            .collect();
        let asks: Vec<VariantAsk> = found
            .iter()
            .map(|f| {
                retrieve::variants(
                    &self.k.items[f.item],
                    &masked,
                    intents.contains(&Intent::Variant),
                )
            })
            .collect();
        self.resolve_weak(
            &mut intents,
            &cues,
            &found,
            &asks,
            &tokens,
            !number.is_empty(),
        );
        if cues.amount && !found.is_empty() && cues.signals.is_empty() {
            // "the truing is $25, per wheel?", "that pump was $40, right?": a price the
            // customer quotes is answered with ours.
            intents.insert(Intent::Price);
        }
        let how_long = lexicon::contains_phrase(&tokens, "how long")
            || tokens
                .iter()
                .any(|t| matches!(t.as_str(), "last" | "lasts" | "duration"));
        if core_of(&intents) == [Intent::Availability]
            && !cues.strong.contains(&Intent::Availability)
            && self.asks_attribute(&found, &masked)
        {
            // "does the wool scarf have a lining?": `have` asks what it has, not whether
            // it is there.
            intents.remove(&Intent::Availability);
            intents.insert(Intent::Product);
        }
        if service_named && (intents.contains(&Intent::Booking) || how_long) {
            // "do I need a slot for an overhaul?", "a massage lasts how long?":
            // the service's own description and duration answer with (or before) the link.
            intents.insert(Intent::Product);
        }
        // `validade` of a Portuguese shop's own policy, which the language file reads as
        // `expiry`: a word the knowledge has as the customer wrote it is known, whatever
        // the language file makes of it.
        let known_as_written: HashSet<String> = masked_raw
            .iter()
            .filter(|r| !r.is_empty() && text::expand(r).iter().any(|s| self.known(s)))
            .flat_map(|r| lang::canonical(detected, std::slice::from_ref(r)))
            .collect();
        let unknown: Vec<String> = without_alternatives(self.unknown_words(&masked, true), &masked)
            .into_iter()
            .filter(|w| !known_as_written.contains(w))
            .collect();
        // An everyday word may still be an option a customer asks for (`oily` skin).
        let unknown_options: Vec<String> =
            without_alternatives(self.unknown_words(&masked, false), &masked)
                .into_iter()
                .filter(|w| !known_as_written.contains(w))
                .collect();
        let region = retrieve::region(&self.k, &tokens);

        // Intents that take the whole message.
        if let Some(signal) = cues.signals.iter().find(|s| {
            matches!(
                s,
                Signal::Health
                    | Signal::Legal
                    | Signal::Safety
                    | Signal::PaymentDone
                    | Signal::Person
            )
        }) {
            return handoff(&core_or_all(&intents), signal.reason().into());
        }
        if !found.is_empty()
            && offers_choice(raw_tokens)
            && lexicon::FOR_THE_CUSTOMER
                .iter()
                .any(|p| lexicon::contains_phrase(raw_tokens, p))
        {
            // "slick or knobby tyre for me?": choosing between two items for the
            // customer is advice, which a person gives.
            return handoff(
                &core_or_all(&intents),
                Signal::Recommendation.reason().into(),
            );
        }
        if cues
            .pets
            .iter()
            .any(|p| !text::expand(p).iter().any(|s| self.known(s)))
        {
            // "safe near cats?": unless the business sells for pets, a person answers.
            return handoff(&core_or_all(&intents), Signal::Safety.reason().into());
        }
        // "sealant without latex? I'm allergic": the item's own words name what is asked
        // (`latex-free`), which states it as well as an allergen list would.
        let says_asked = |item: &crate::knowledge::Item| {
            let words = item_words(item);
            masked.iter().any(|w| {
                !w.is_empty()
                    && !text::is_stopword(w)
                    && !lang::is_common_word(w)
                    && !lexicon::is_cue_word(w)
                    && words.contains(&text::stem(w))
            })
        };
        // "allergic to latex: can I use the rubber grips safely?": whether it is safe for
        // this customer is a judgement no file makes.
        let asks_safe = [
            "safe",
            "seguro",
            "segura",
            "aman",
            "ok for me",
            "okay for me",
            "ok for her",
            "ok for him",
            "ok for my",
            "ok for them",
        ]
        .iter()
        .any(|w| lexicon::contains_phrase(raw_tokens, w));
        // A severe allergy is a person's to answer, whatever the item states.
        let severe = [
            "severe",
            "severa",
            "severo",
            "grave",
            "anaphylaxis",
            "anafilaxia",
            "parah",
        ]
        .iter()
        .any(|w| raw_tokens.iter().any(|t| t == w));
        // Unless the item states its allergens or its own words name the one asked about
        // ("latex-free grips"); a word merely shared (`rubber`) is not enough.
        let named_allergens = allergens_named(raw_tokens);
        let names_allergen = |item: &crate::knowledge::Item| {
            let words = item_words(item);
            !named_allergens.is_empty()
                && named_allergens
                    .iter()
                    .all(|a| words.contains(&text::stem(a)))
        };
        if cues.allergy
            && (severe
                || (asks_safe
                    && !found.iter().any(|f| {
                        let item = &self.k.items[f.item];
                        states_allergens(item) || names_allergen(item)
                    }))
                || !found.iter().any(|f| {
                    let item = &self.k.items[f.item];
                    states_allergens(item) || says_asked(item)
                }))
        {
            return handoff(
                &core_or_all(&intents),
                "an allergy question with no stated allergens to answer from: a person answers"
                    .into(),
            );
        }
        let sells = tokens
            .iter()
            .any(|t| lexicon::SELL_WORDS.contains(&t.as_str()));
        if sells
            && !found.is_empty()
            && found
                .iter()
                .all(|f| self.k.items[f.item].kind == ItemKind::Service)
        {
            // "do you sell e-bikes?" where the catalog has only e-bike service: goods it does
            // not sell, not the service.
            return handoff(
                &core_or_all(&intents),
                format!(
                    "asks to buy goods the catalog has only as a service ({})",
                    self.k.items[found[0].item].name
                ),
            );
        }
        let allergens = allergens_named(&masked);
        // An allergen the file never names (`coconut` where the butter lists almond): none
        // of it can be ruled out. (One the file names elsewhere is left to the item's list:
        // `peanut` beside a stated `nuts` is not for a word match to decide.)
        let unstated = |w: &String| {
            unknown.contains(w) && !found.iter().any(|f| self.misspells_item(w, f.item))
        };
        if cues.allergy && allergens.iter().any(unstated) {
            // "allergic to coconut, does the butter have any?": an allergen the item's stated
            // list does not name is one nobody can rule out from the file.
            return handoff(
                &core_or_all(&intents),
                format!(
                    "an allergy to something the knowledge does not state ({}): a person answers",
                    unknown.join(" ")
                ),
            );
        }
        if intents.contains(&Intent::Complaint)
            && cues.late_only
            && self.order_for(message, conversation, looked_up).is_some()
        {
            // "parcel AB-12 is late!": its status is the answer a person
            // would give first; anger words (`late_only` is false then) still go to one.
            intents.remove(&Intent::Complaint);
            intents.insert(Intent::OrderStatus);
        }
        if intents.contains(&Intent::Complaint)
            && cues.damage_only
            && asks_what_to_do(&text::tokens(message), &masked)
            && self
                .policies
                .search(&content)
                .first()
                .is_some_and(|h| h.score >= STRONG_POLICY)
        {
            // "the jar came cracked, what now?", no grievance beside it: the policy for
            // what arrives damaged is the answer a person would give.
            intents.remove(&Intent::Complaint);
            intents.insert(Intent::Policy);
        }
        if intents.contains(&Intent::Complaint) {
            return handoff(
                &[Intent::Complaint],
                "complaint: a person should answer".into(),
            );
        }
        // `visa` beside paying is the card, not the travel document.
        let paying = intents.contains(&Intent::Payment);
        // "news about AB-12?": news of a known order is its status.
        let known_order = self.order_for(message, conversation, looked_up).is_some();
        let off_topic = !known_order
            && cues
                .topics
                .iter()
                .any(|t| !(self.known(&text::stem(t)) || (paying && t == "visa")));
        if off_topic {
            return self.off_domain(&intents);
        }
        // Policies are searched in the customer's own words too: a Portuguese policy titled
        // `Cuidados` answers `cuidados`, which the drafter itself reads as `care`.
        let policy_query: Vec<String> = content
            .iter()
            .cloned()
            .chain(
                raw_tokens
                    .iter()
                    .filter(|t| {
                        !t.is_empty()
                            && !text::is_stopword(t)
                            && !content.contains(t)
                            && !found.iter().any(|f| f.naming.contains(*t))
                    })
                    .cloned(),
            )
            .collect();
        let top_policy = self
            .policies
            .search(&policy_query)
            .first()
            .copied()
            .filter(|h| h.score >= STRONG_POLICY);
        let social = intents.contains(&Intent::Greeting) || intents.contains(&Intent::Thanks);
        let can_look_up = !self.k.orders.is_empty() || self.k.business.order_lookup.is_some();
        if can_look_up && !number.is_empty() {
            // "is R-2210 done?", "pesanan AB-1234 sampai mana?": where orders can be
            // looked up, a number asks for its status, whatever the words around it (`where`,
            // `status`, `ship`) seem to ask; a policy that mentions numbers is not the answer.
            intents.retain(|i| {
                !matches!(
                    i,
                    Intent::Availability | Intent::Shipping | Intent::Policy | Intent::Product
                )
            });
            intents.insert(Intent::OrderStatus);
        }
        // "news about AB-12?": the number of an order the knowledge or the lookup has
        // asks for its status, whatever words are around it.
        if core_of(&intents).is_empty() && known_order {
            intents.insert(Intent::OrderStatus);
        }
        if core_of(&intents).is_empty() {
            let foreign = unknown
                .iter()
                .any(|w| !found.iter().any(|f| self.misspells_item(w, f.item)));
            let policy_clear = top_policy.is_some_and(|h| h.score >= CLEAR_POLICY);
            if !found.is_empty() && foreign && policy_clear {
                // "how do I wash the wetsuit?": the care policy says, whatever else it
                // does not.
                intents.insert(Intent::Policy);
            } else if !found.is_empty() && foreign {
                // "can the lamp be dimmed?": something about the item the
                // knowledge does not say.
                return handoff(
                    &core_or_all(&intents),
                    format!(
                        "asks about {} something the knowledge does not say: {}",
                        self.k.items[found[0].item].name,
                        unknown.join(" ")
                    ),
                );
            } else if !found.is_empty()
                && (self.asks_attribute(&found, &masked) || offers_choice(&masked))
            {
                // "is the wool scarf lined?": a word of the item's description or
                // details asks what it is, not whether it is there.
                intents.insert(Intent::Product);
            } else if !found.is_empty()
                && (!intents.contains(&Intent::Thanks) || message.contains('?'))
            {
                // A bare item name ("the wool scarf?") asks whether it is there; thanks
                // that name one ("loved the haircut, thanks!") ask nothing.
                intents.insert(Intent::Availability);
            } else if social {
                // Pleasantries around a greeting or thanks need no more than a reply.
            } else if !unknown.is_empty()
                && (cues.weak.contains(&Intent::Availability) || cues.weak.contains(&Intent::Price))
            {
                // "any rain boots?": asks for something the catalog does not have.
                intents.insert(Intent::Availability);
            } else if !unknown.is_empty() && !top_policy.is_some_and(|h| h.score >= CLEAR_POLICY) {
                // Words the knowledge has never seen, and no policy clearly named: the
                // message is about something else.
                return self.off_domain(&intents);
            } else if top_policy.is_some() {
                intents.insert(Intent::Policy);
            } else if cues.weak.contains(&Intent::Availability)
                || cues.weak.contains(&Intent::Price)
            {
                intents.insert(Intent::Availability);
            } else if content
                .iter()
                .any(|w| !lexicon::is_cue_word(w) && !lang::is_everyday_word(w))
            {
                return self.off_domain(&intents);
            }
        }
        let intents_vec: Vec<Intent> = intents.iter().copied().collect();
        if let Some(signal) = cues.signals.first() {
            return handoff(&intents_vec, signal.reason().into());
        }
        if let Some(word) = tokens
            .iter()
            .chain(raw_tokens)
            .find(|t| lexicon::DISCOUNT_WORDS.contains(&t.as_str()))
            && !self.k.policies.iter().any(|p| {
                // A policy keyed for discounts (`student_discount`) answers any word for one.
                let key = text::tokens(&p.key.replace(['_', '-'], " "));
                key.iter()
                    .any(|k| lexicon::DISCOUNT_WORDS.contains(&k.as_str()))
                    || tokens
                        .iter()
                        .chain(raw_tokens)
                        .filter(|t| lexicon::DISCOUNT_WORDS.contains(&t.as_str()))
                        .any(|t| mentions(p, &text::stem(t)))
            })
        {
            // "10 kits for my salon, any discount?": a price the shop has not written
            // down is the owner's to give.
            return handoff(
                &intents_vec,
                format!("asks for a {word}: no policy in the knowledge offers one"),
            );
        }
        if let Some(what) = self.unlisted_goods_question(message, detected) {
            // "any sunscreen? and shipping to Seville?": answering only the shipping would
            // read as a whole answer.
            return handoff(
                &intents_vec,
                format!("part of the message asks for something the catalog does not have: {what}"),
            );
        }
        // "open on the 25th? want to fetch my bike": the closures answer the date, whatever
        // else the message mentions around the hours.
        let closures_answer = !self.k.business.closures.is_empty()
            && intents.contains(&Intent::Hours)
            && !intents.iter().any(|i| i.about_items());
        // "home on the 9th: what does an overhaul cost?": a date beside a
        // question about price or what something is, is the customer's plan, not the ask.
        // An order for a date ("a cake for the 14th?") is still a date to confirm.
        let date_is_context = intents.contains(&Intent::Price)
            && core_of(&intents)
                .iter()
                .all(|i| matches!(i, Intent::Price | Intent::Product | Intent::Variant));
        // "> …back on 28/12 \n and the other one?": a date in what the customer quotes
        // is ours, not one they ask about.
        // "wetsuit 4/3 in M?": a measure the catalog writes is not a date either.
        let own_date = cues.calendar_date && {
            let own: String = unquoted(message)
                .split_whitespace()
                .filter(|w| {
                    !self
                        .catalog_fractions
                        .contains(w.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
                })
                .collect::<Vec<_>>()
                .join(" ");
            let own_tokens = lang::canonical_mixed(detected, &text::tokens(&own));
            intent::detect(&own_tokens, &own).calendar_date
        };
        if own_date && !closures_answer && !date_is_context {
            return handoff(
                &intents_vec,
                "asks about a specific date: the drafter knows no calendar".into(),
            );
        }
        if let Some(part) = self.unanswerable_part(message, detected, known_order) {
            return handoff(
                &intents_vec,
                format!(
                    "part of the message is about something the knowledge does not cover: {part}"
                ),
            );
        }
        // "it's been ready two weeks and I can't collect it, do you charge?": readiness is
        // the story of a question about uncollected work, not one about an order's status.
        if number.is_empty()
            && tokens.iter().any(|t| t == "storage")
            && !self.policies.family(Family::Storage).is_empty()
        {
            intents.remove(&Intent::OrderStatus);
            intents.insert(Intent::Policy);
        }
        let intents_vec: Vec<Intent> = intents.iter().copied().collect();
        let order = self.order_for(message, conversation, looked_up);
        if intents.contains(&Intent::OrderStatus) || order.is_some() {
            if let Some(o) = &order {
                let raw = text::tokens(message);
                let delivered = text::tokens(&o.status)
                    .iter()
                    .any(|t| lexicon::DELIVERED_WORDS.contains(&t.as_str()));
                // "no nos llegó nada": a negation, then an arrival word two words on at most.
                let negated_arrival = raw.iter().enumerate().any(|(i, t)| {
                    matches!(t.as_str(), "no" | "nao" | "not" | "never" | "belum" | "blm")
                        && raw[i + 1..].iter().take(3).any(|w| {
                            matches!(
                                w.as_str(),
                                "llegado" | "llego" | "chegou" | "arrived" | "sampai"
                            )
                        })
                });
                if delivered
                    && (negated_arrival
                        || lexicon::NOT_ARRIVED
                            .iter()
                            .any(|p| lexicon::contains_phrase(&raw, p)))
                {
                    // "says delivered but nothing came": a lost parcel, not a status to read.
                    return handoff(
                        &intents_vec,
                        format!(
                            "order `{}` shows delivered and the customer says it did not arrive",
                            o.number
                        ),
                    );
                }
                let mut draft = self.order_reply(&words, &intents, o, cues.weekday);
                let policy_cued = cues.strong.contains(&Intent::Policy);
                self.policy_beside_order(&mut draft, message, detected, o, policy_cued);
                self.answer_questions_beside_order(&mut draft, message, detected, &o.number);
                return draft;
            }
            if let Some(n) = self.order_number(message, conversation)
                && can_look_up
            {
                return handoff(
                    &intents_vec,
                    format!("order or ticket `{n}` is not in the knowledge or the lookup"),
                );
            }
            if can_look_up && core_of(&intents) == [Intent::OrderStatus] && unknown.is_empty() {
                let mut reply = Reply::default();
                if intents.contains(&Intent::Greeting) {
                    reply.say(words.greeting(&self.k.persona));
                }
                reply.say(words.say("ask_order_number", &[]));
                return Draft {
                    text: Some(reply.sentences.join(" ")),
                    intents: intents_vec,
                    facts: Vec::new(),
                    handoff: None,
                    language: lang,
                };
            }
            if self.order_policy.is_none() {
                return handoff(
                    &intents_vec,
                    "order status: the knowledge has no way to look up orders".into(),
                );
            }
        }
        if intents.contains(&Intent::Booking) && found.is_empty() && !unknown.is_empty() {
            // "book the sunset cruise?": the link books what the business offers, and this
            // names something it does not.
            return handoff(
                &intents_vec,
                format!(
                    "a booking for something the catalog does not name: {}",
                    unknown.join(" ")
                ),
            );
        }
        if intents.contains(&Intent::Booking) && self.k.business.booking_url.is_none() {
            return handoff(
                &intents_vec,
                "a booking to arrange: the knowledge has no booking link".into(),
            );
        }
        if intents.contains(&Intent::Hours)
            && (self.k.business.hours.is_none() || (cues.holiday && !self.holiday_known))
        {
            return handoff(&intents_vec, "hours asked are not in the knowledge".into());
        }
        // Unknown words that are not typos of the named item's own words ("wrap dres").
        let foreign: Vec<String> = unknown_options
            .iter()
            .filter(|w| !found.iter().any(|f| self.misspells_item(w, f.item)))
            .cloned()
            .collect();
        // Of those, the ones that may be an option value of a named item: "the charger
        // for model 9?" asks for a model the catalog does not list, "cantik banget!" for none.
        let variant_cue = cues.strong.contains(&Intent::Variant);
        // In a long message only the asking sentence names options: the rest is the
        // customer's story ("my hairdresser said…", "the brakes squeak, the chain rusts").
        let asking = asking_words(message, detected);
        let own = own_statement_words(message, detected);
        let names = proper_names(message);
        let options: Vec<String> = foreign
            .iter()
            .filter(|w| asking.as_ref().is_none_or(|a| a.contains(*w)))
            .filter(|w| !own.contains(*w))
            // "two tubes posted to Albany": a name written capitalised mid-sentence is a
            // place or a brand, not an option value.
            .filter(|w| !names.contains(*w))
            .filter(|w| {
                found
                    .iter()
                    .any(|f| self.could_be_option(w, f.item, &masked, variant_cue))
            })
            .cloned()
            .collect();
        // "any Husqvarna blades?": a name written just before the item's word,
        // not after a preposition, is a make of it, which the catalog does not list.
        let make = foreign.iter().filter(|w| names.contains(*w)).find_map(|w| {
            raw_tokens.iter().enumerate().find_map(|(i, t)| {
                let after_place = i
                    .checked_sub(1)
                    .is_some_and(|p| PLACE_PREPOSITIONS.contains(&raw_tokens[p].as_str()));
                if t != w || after_place {
                    return None;
                }
                raw_tokens[i + 1..].iter().take(2).find_map(|n| {
                    // Goods before a service that works on them (a blade, not its sharpening).
                    found
                        .iter()
                        .filter(|f| f.naming.contains(n))
                        .min_by_key(|f| self.k.items[f.item].kind == ItemKind::Service)
                        .map(|f| (w, f.item))
                })
            })
        });
        if let Some((make, item)) = make
            && intents.contains(&Intent::Availability)
        {
            return handoff(
                &intents_vec,
                format!(
                    "asks for {make} {}, which the knowledge does not list",
                    self.k.items[item].name
                ),
            );
        }
        if !found.is_empty()
            && !options.is_empty()
            && (intents.contains(&Intent::Availability) || intents.contains(&Intent::Variant))
        {
            // Listing the options the item has would read as an answer.
            return handoff(
                &intents_vec,
                format!(
                    "asks for {} of {}, which the knowledge does not list",
                    options.join(" "),
                    self.k.items[found[0].item].name
                ),
            );
        }
        let asks_item = [Intent::Availability, Intent::Variant, Intent::Price];
        if asks_item.iter().any(|i| intents.contains(i))
            && let Some((n, item)) = found.iter().find_map(|f| {
                retrieve::unlisted_number(&self.k.items[f.item], &masked)
                    .map(|n| (n, &self.k.items[f.item].name))
            })
        {
            // Answering with the options it has would read as an answer about this one.
            return handoff(
                &intents_vec,
                format!("asks for {n} of {item}, which the knowledge does not list"),
            );
        }
        if found.is_empty() && intents.iter().any(|i| i.about_items()) {
            if !unknown.is_empty() {
                return handoff(
                    &intents_vec,
                    format!(
                        "asks about something not in the catalog: {}",
                        unknown.join(" ")
                    ),
                );
            }
            // "venden agujas?": a word of some description (`aguja esterilizada`) that names
            // no item, no policy and nothing of the business names a product not on offer.
            let unnamed: Vec<String> = content
                .iter()
                .filter(|w| {
                    !lexicon::is_cue_word(w)
                        && !lang::is_everyday_word(w)
                        && !w.chars().all(|c| c.is_ascii_digit())
                        && !text::expand(w).iter().any(|s| {
                            self.item_names.contains(s)
                                || self.policies.knows(s)
                                || self.business_vocab.contains(s)
                        })
                })
                .cloned()
                .collect();
            if !unnamed.is_empty() {
                return handoff(
                    &intents_vec,
                    format!(
                        "asks for something the catalog does not name: {}",
                        unnamed.join(" ")
                    ),
                );
            }
            let others = intents
                .iter()
                .any(|i| !i.about_items() && !matches!(i, Intent::Greeting | Intent::Thanks));
            let stock_or_price =
                intents.contains(&Intent::Availability) || intents.contains(&Intent::Price);
            if top_policy.is_some_and(|h| h.score >= CLEAR_POLICY) && !others && !stock_or_price {
                // "what are the measurements of a size M?": a size guide, not an item.
                intents.retain(|i| !i.about_items());
                intents.insert(Intent::Policy);
            } else if intents.contains(&Intent::Product) && !others {
                if top_policy.is_none() {
                    return handoff(&intents_vec, "no grounded answer in the knowledge".into());
                }
                intents.insert(Intent::Policy);
            }
        }

        let mut reply = Reply {
            lang: Some(lang),
            ..Reply::default()
        };
        let only_social = core_of(&intents).is_empty();
        // The persona's own greeting is in the business's language.
        let persona = if lang == business.language {
            self.k.persona.clone()
        } else {
            crate::knowledge::Persona {
                honorific: self.k.persona.honorific.clone(),
                ..Default::default()
            }
        };
        if intents.contains(&Intent::Greeting) {
            reply.say(words.greeting(&persona));
        }
        if let Err(reason) =
            self.compose_items(&mut reply, &words, &intents, &found, &asks, &masked)
        {
            return handoff(&intents_vec, reason);
        }
        let context = statement_words(message, detected);
        if let Err(reason) = self.compose_policies(
            &mut reply,
            &words,
            &intents,
            &policy_query,
            &tokens,
            region.as_ref(),
            &cues,
            &context,
        ) {
            return handoff(&intents_vec, reason);
        }
        if !only_social && !reply.sentences.is_empty() {
            self.answer_other_questions(&mut reply, message, detected);
        }
        if only_social {
            if intents.contains(&Intent::Thanks) {
                reply.say(words.you_are_welcome());
            } else {
                if !intents.contains(&Intent::Greeting) {
                    reply.say(words.greeting(&persona));
                }
                reply.say(words.how_can_we_help());
            }
            if let Some(s) = &persona.sign_off {
                reply.say(s.clone());
            }
        }
        if let Some(missed) = core_of(&intents)
            .into_iter()
            .find(|i| !reply.answered.contains(i) && *i != Intent::Policy)
        {
            // Half an answer reads as the whole one: a person answers the rest.
            return handoff(
                &intents.into_iter().collect::<Vec<_>>(),
                format!("part of the message ({missed}) has no grounded answer"),
            );
        }
        let intents: Vec<Intent> = intents.into_iter().collect();
        if reply.sentences.is_empty() {
            return handoff(&intents, "no grounded answer in the knowledge".into());
        }
        Draft {
            text: Some(reply.sentences.join(" ")),
            intents,
            facts: reply.facts,
            handoff: None,
            language: lang,
        }
    }

    /// The items of the most recent earlier turn that names any.
    /// The items whose option the message names best (`50 ml sem perfume`), when some does;
    /// a unit alone (`ml`) names no option.
    fn items_by_option(&self, tokens: &[String]) -> Vec<Found> {
        let words: Vec<String> = tokens
            .iter()
            .filter(|t| !retrieve::SIZE_UNITS.contains(&t.as_str()))
            .cloned()
            .collect();
        let mut best = 0;
        let mut out = Vec::new();
        for (i, item) in self.k.items.iter().enumerate() {
            let score = retrieve::variants(item, &words, true).score;
            if score > best {
                best = score;
                out.clear();
            }
            if score == best && score > 0 {
                out.push(Found {
                    item: i,
                    naming: HashSet::new(),
                });
            }
        }
        out
    }

    /// In a message of several questions, a question that only asks whether we have
    /// something (`have`, `sell`) and names goods no item is: its words.
    fn unlisted_goods_question(&self, message: &str, lang: Language) -> Option<String> {
        let all = clauses(message);
        if all.len() < 2 {
            return None;
        }
        all.into_iter()
            .filter(|c| c.ends_with('?'))
            .find_map(|clause| {
                let raw = self.in_vocabulary(lang, &text::tokens(clause));
                let canon = self.in_vocabulary(lang, &lang::canonical_mixed(lang, &raw));
                let cues = intent::detect(&canon, clause);
                let asked: BTreeSet<Intent> = cues.strong.union(&cues.weak).copied().collect();
                let only_have = cues.signals.is_empty()
                    && asked.len() == 1
                    && asked.contains(&Intent::Availability);
                if !only_have
                    || !self.catalog.find(&verbs_masked(&raw), clause).is_empty()
                    || !self.catalog.find(&verbs_masked(&canon), clause).is_empty()
                {
                    return None;
                }
                // Goods as the customer wrote them: a word the language reads as something
                // else (`repoem`, "restock") asks about that, not for goods; the letters of
                // an order number (`OV` of `OV-4492`) are none.
                let number: Vec<String> = orders::number(message)
                    .map(|n| text::tokens(&n))
                    .unwrap_or_default();
                let goods: Vec<&str> = raw
                    .iter()
                    .filter(|t| !number.contains(t) && !lexicon::UNIT_WORDS.contains(&t.as_str()))
                    .filter(|t| {
                        lang::canonical(lang, std::slice::from_ref(*t)) == [(*t).clone()]
                            && !t.is_empty()
                            && !text::is_stopword(t)
                            && !lang::is_function_word(t)
                            && !lang::is_everyday_word(t)
                            && !lexicon::is_cue_word(t)
                            && !t.chars().any(|c| c.is_ascii_digit())
                            && !self.policies.knows(&text::stem(t))
                    })
                    .map(String::as_str)
                    .collect();
                (!goods.is_empty()).then(|| goods.join(" "))
            })
    }

    fn items_in_context(&self, conversation: &[Turn]) -> Vec<Found> {
        conversation
            .iter()
            .rev()
            .take(CONTEXT_TURNS)
            .map(|turn| self.catalog.find(&text::tokens(&turn.text), &turn.text))
            .find(|f| !f.is_empty())
            .unwrap_or_default()
    }

    /// Weak cues count when the message is about an item and asks nothing stronger.
    fn resolve_weak(
        &self,
        intents: &mut BTreeSet<Intent>,
        cues: &intent::Cues,
        found: &[Found],
        asks: &[VariantAsk],
        tokens: &[String],
        has_number: bool,
    ) {
        if found.iter().any(|f| {
            f.naming
                .iter()
                .any(|w| asks_pickup(std::slice::from_ref(w)))
        }) {
            // "could you come and collect it from home?" where pickup is a catalog service:
            // the item answers (its price, its area), not the shipping regions.
            intents.remove(&Intent::Shipping);
        }
        if intents.contains(&Intent::OrderStatus) && !has_number && opens_with_if(tokens) {
            // "if the job is finished while I travel, is there a fee?": a what-if
            // about the rules, not the status of a job.
            intents.remove(&Intent::OrderStatus);
            intents.insert(Intent::Policy);
        }
        if intents.contains(&Intent::OrderStatus) && !has_number && asks_pickup(tokens) {
            // "may I fetch the parcel in store?": how orders are handed over, not where
            // one of them is.
            intents.remove(&Intent::OrderStatus);
            intents.insert(Intent::Shipping);
        }
        let core: BTreeSet<Intent> = intents
            .iter()
            .copied()
            .filter(|i| !matches!(i, Intent::Greeting | Intent::Thanks))
            .collect();
        let within = |allowed: &[Intent]| core.iter().all(|i| allowed.contains(i));
        if !found.is_empty() {
            // "got the scarf in grey? also do you ship abroad?": an item named with a
            // weak cue is asked about even beside another question.
            let items_asked = core.iter().any(|i| i.about_items());
            if cues.weak.contains(&Intent::Availability)
                && (within(&[Intent::Variant, Intent::Price]) || !items_asked)
            {
                intents.insert(Intent::Availability);
            }
            // "the tune-up, what does it run? book needed?": a service's price beside booking it.
            if cues.weak.contains(&Intent::Price)
                && within(&[Intent::Variant, Intent::Availability, Intent::Booking])
            {
                intents.insert(Intent::Price);
            }
            if asks
                .iter()
                .any(|a| !a.matched.is_empty() || !a.asked.is_empty())
            {
                intents.insert(Intent::Variant);
            }
        }
        if cues.weak.contains(&Intent::Shipping)
            && core.is_empty()
            && (retrieve::region(&self.k, tokens).is_some()
                || retrieve::destination(tokens).is_some())
        {
            intents.insert(Intent::Shipping);
        }
        if cues.weak.contains(&Intent::Location)
            && core.is_empty()
            && found.is_empty()
            && self.unknown_words(tokens, true).is_empty()
        {
            intents.insert(Intent::Location);
        }
        if intents.contains(&Intent::OrderStatus) {
            // "did my parcel ship?" is about that order, not about shipping in general;
            // "when is it ready" is its status, not our hours, unless they are asked in
            // so many words ("ready, great! until when are you open today?").
            intents.remove(&Intent::Shipping);
            intents.remove(&Intent::Availability);
            let hours_asked = tokens
                .iter()
                .any(|t| SHOP_HOURS_WORDS.contains(&t.as_str()))
                || ["to what time", "until what time", "till what time"]
                    .iter()
                    .any(|p| lexicon::contains_phrase(tokens, p));
            if !hours_asked {
                intents.remove(&Intent::Hours);
            }
        }
        let core_now = core_of(intents);
        if !found.is_empty()
            && core_now.iter().all(|i| *i == Intent::Variant)
            && asks.iter().any(|a| !a.matched.is_empty())
        {
            // "wool scarf, grey": naming a variant asks whether it is there.
            intents.insert(Intent::Availability);
        }
        if found.is_empty() && core_now.iter().any(|i| !i.about_items()) {
            // "delivery to Leeds, what fee?": the price asked is the fee, not an item's.
            intents.retain(|i| !i.about_items());
        }
    }

    /// Whether `word` is one edit or so from a word of the item's name or aliases.
    fn misspells_item(&self, word: &str, item: usize) -> bool {
        let item = &self.k.items[item];
        let w: Vec<char> = word.chars().collect();
        let max = fuzzy::allowed_edits(w.len()).max(1);
        std::iter::once(&item.name)
            .chain(&item.aliases)
            .flat_map(|n| text::tokens(n))
            .any(|t| {
                let t: Vec<char> = t.chars().collect();
                t.len() >= 3 && fuzzy::within(&w, &t, max).is_some()
            })
    }

    /// `tokens` with each word the knowledge does not know replaced by the knowledge's word
    /// of the same root in `lang` (`respaldan` → `respaldar`, `lindas` → `linda`); words of
    /// a language file, cue words and numbers stay as written.
    fn in_vocabulary(&self, lang: Language, tokens: &[String]) -> Vec<String> {
        // English words travel into every language's chat (`bleeding` of the brakes in an
        // Indonesian message): English forms are tried after the message's own.
        let tables: Vec<(Language, &HashMap<String, String>)> = self
            .roots
            .iter()
            .filter(|(l, _)| *l == lang)
            .chain(
                self.roots
                    .iter()
                    .filter(|(l, _)| *l == Language::ENGLISH && lang != Language::ENGLISH),
            )
            .map(|(l, m)| (*l, m))
            .collect();
        if tables.is_empty() {
            return tokens.to_vec();
        }
        tokens
            .iter()
            .map(|t| {
                let keep = t.is_empty()
                    || lang::is_language_word(t)
                    || lang::is_common_word(t)
                    || text::is_stopword(t)
                    || t.chars().any(|c| c.is_ascii_digit())
                    || self.known(&text::stem(t));
                if keep {
                    return t.clone();
                }
                let known_form = tables
                    .iter()
                    .find_map(|(l, by_root)| l.root(t).and_then(|r| by_root.get(r)));
                match known_form {
                    // A cue word stays one (`bleeding` is a symptom) unless its form names
                    // an item (`bleed`, the brake service).
                    Some(form) if !lexicon::is_cue_word(t) || self.item_names.contains(form) => {
                        form.clone()
                    }
                    _ => t.clone(),
                }
            })
            .collect()
    }

    /// Whether an unknown `word` of the message may name an option of `item` the catalog
    /// does not list: a number or a word beside one (`pixel 8`), any word when the message
    /// asks about options (`in colour X`, the item's own option kind) or the item's options
    /// are words (a shade, a scent); never a word of a language file (compliments, fillers).
    fn could_be_option(
        &self,
        word: &str,
        item: usize,
        tokens: &[String],
        variant_cue: bool,
    ) -> bool {
        if lang::is_language_word(word) {
            return false;
        }
        // The kind of option (`shade`, `valve`) names which one is asked, it is none itself.
        if self.k.items[item]
            .variants
            .iter()
            .flat_map(|v| v.options.keys())
            .any(|k| {
                text::tokens(k)
                    .iter()
                    .any(|t| lang::senses(t).iter().any(|s| s == word))
            })
        {
            return false;
        }
        // "32 wide" beside a width the item lists names that option; beside a number it
        // lacks ("model 9"), the word may name an option it does not have.
        let listed = retrieve::OptionNumbers::of(&self.k.items[item]);
        let number = |t: &String| {
            !t.is_empty()
                && t.chars().all(|c| c.is_ascii_digit())
                && !t.parse::<u64>().is_ok_and(|n| listed.lists(n))
        };
        if word.parse::<u64>().is_ok_and(|n| listed.lists(n)) {
            return false;
        }
        if word.chars().any(|c| c.is_ascii_digit())
            || tokens
                .windows(2)
                .any(|w| (w[0] == word && number(&w[1])) || (w[1] == word && number(&w[0])))
        {
            return true;
        }
        let item = &self.k.items[item];
        if item.variants.is_empty() {
            return false;
        }
        // `sinterizadas` for `sintered`, `resina` for `resin`: the same word in the
        // customer's language names a listed option.
        let cognate = item
            .variants
            .iter()
            .flat_map(|v| v.colour.iter().chain(v.options.values()))
            .flat_map(|val| text::tokens(val))
            .any(|t| {
                shared_prefix(&t, word) >= COGNATE_PREFIX
                    || lang::senses(&t).iter().any(|s| s == word)
            });
        if cognate {
            return false;
        }
        let kind_named = item
            .variants
            .iter()
            .flat_map(|v| v.options.keys())
            .any(|k| {
                text::tokens(k)
                    .iter()
                    .any(|t| lang::senses(t).iter().any(|s| tokens.contains(s)))
            });
        let word_valued = item.variants.iter().any(|v| {
            v.colour.is_some()
                || v.options.values().any(|val| {
                    text::tokens(val).iter().any(|t| {
                        t.len() >= 3
                            && t.chars().all(|c| c.is_alphabetic())
                            && !lexicon::SIZE_WORDS.contains(&t.as_str())
                    })
                })
        });
        // A word far from the item's name ("bleed both brakes? they feel spongy") says
        // something about the customer's own, not which option of ours they want.
        let near_name = tokens.iter().enumerate().any(|(i, t)| {
            t == word
                && tokens[i.saturating_sub(3)..(i + 4).min(tokens.len())]
                    .iter()
                    .any(String::is_empty)
        });
        // "the brakes feel spongy", "super mushy": a word after a linking verb or an
        // intensifier says how the customer's own thing is, not which option they want.
        let described = tokens.iter().enumerate().any(|(i, t)| {
            t == word
                && i > 0
                && matches!(
                    tokens[i - 1].as_str(),
                    "feel"
                        | "feels"
                        | "felt"
                        | "seem"
                        | "seems"
                        | "look"
                        | "looks"
                        | "keep"
                        | "keeps"
                        | "super"
                        | "so"
                        | "really"
                        | "very"
                )
        });
        !described && (variant_cue || kind_named || (word_valued && near_name))
    }

    /// Whether the message's words beyond the item's name are words of the item's own
    /// description or details (`lining` of the scarf's details).
    fn asks_attribute(&self, found: &[Found], masked: &[String]) -> bool {
        let about: HashSet<String> = found
            .iter()
            .flat_map(|f| item_words(&self.k.items[f.item]))
            .filter(|w| !text::is_stopword(w))
            .collect();
        masked.iter().any(|w| {
            !w.is_empty()
                && !text::is_stopword(w)
                && !lexicon::is_cue_word(w)
                && !self.item_names.contains(&text::stem(w))
                && text::expand(w).iter().any(|s| about.contains(s))
        })
    }

    /// Whether a stem is a word of this tenant's knowledge.
    /// Whether `code` is one of the catalog's skus (an item's or a variant's).
    fn is_sku(&self, code: &str) -> bool {
        self.k.items.iter().any(|i| {
            i.sku.eq_ignore_ascii_case(code)
                || i.variants.iter().any(|v| {
                    v.sku
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(code))
                })
        })
    }

    fn known(&self, stem: &str) -> bool {
        self.catalog.knows(stem) || self.policies.knows(stem) || self.business_vocab.contains(stem)
    }

    /// Content words the knowledge does not know at all, typos allowed (never a unit a
    /// number is written with, `450ml`); with `everyday`,
    /// not the words of the generated everyday lists either.
    fn unknown_words(&self, masked: &[String], everyday: bool) -> Vec<String> {
        masked
            .iter()
            .filter(|t| {
                !t.is_empty()
                    && !text::is_stopword(t)
                    && !lexicon::is_cue_word(t)
                    && !(if everyday {
                        lang::is_everyday_word(t)
                    } else {
                        lang::is_common_word(t)
                    })
                    && !t.chars().all(|c| c.is_ascii_digit())
                    && t.chars().count() > 1
                    && !lexicon::UNIT_WORDS.contains(&t.as_str())
            })
            .filter(|t| {
                !text::expand(t).iter().any(|s| self.known(s))
                    && !self.catalog.knows_fuzzy(t)
                    && !self.policies.knows_fuzzy(t)
            })
            .cloned()
            .collect()
    }

    fn off_domain(&self, intents: &BTreeSet<Intent>) -> Draft {
        let mut all: Vec<Intent> = intents
            .iter()
            .copied()
            .filter(|i| matches!(i, Intent::Greeting))
            .collect();
        all.push(Intent::OffDomain);
        handoff(
            &all,
            format!(
                "off-domain: not about {}'s products or policies",
                self.k.business.name
            ),
        )
    }

    fn compose_items(
        &self,
        reply: &mut Reply,
        words: &Words,
        intents: &BTreeSet<Intent>,
        found: &[Found],
        asks: &[VariantAsk],
        masked: &[String],
    ) -> Result<(), String> {
        if !intents.iter().any(|i| i.about_items()) {
            return Ok(());
        }
        if found.is_empty() {
            // "sell used e-bikes?": words that name goods, none of ours; asking "which item?"
            // would read as if we might have it.
            let goods: Vec<&String> = masked
                .iter()
                .filter(|t| {
                    !t.is_empty()
                        && !text::is_stopword(t)
                        && !lang::is_function_word(t)
                        && !lexicon::is_cue_word(t)
                        && !t.chars().any(|c| c.is_ascii_digit())
                })
                .collect();
            let named: Vec<&String> = goods
                .iter()
                .copied()
                .filter(|t| !lang::is_everyday_word(t))
                .collect();
            // "do you sell used bikes?": even everyday goods words (`sepeda`) name something
            // to buy, which no item is.
            let sells = masked
                .iter()
                .any(|t| lexicon::SELL_WORDS.contains(&t.as_str()));
            if !named.is_empty() || (sells && !goods.is_empty()) {
                let what = if named.is_empty() { &goods } else { &named };
                return Err(format!(
                    "asks for something the catalog does not have: {}",
                    what.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
            reply.say(words.which_item());
            reply.answer_items(intents);
            return Ok(());
        }
        reply.answer_items(intents);
        let content: Vec<String> = masked
            .iter()
            .filter(|t| !t.is_empty() && !text::is_stopword(t))
            .cloned()
            .collect();
        for (f, ask) in found.iter().zip(asks) {
            let item = &self.k.items[f.item];
            reply.cite(FactRef::Item {
                sku: item.sku.clone(),
            });
            if intents.contains(&Intent::Product) {
                reply.say(words.product(item, &content));
            }
            if item.kind == ItemKind::Service {
                for line in words.service(item) {
                    reply.say(line);
                }
            }
            // "gift cards?": a gift card's values are what there is to know of it.
            if intents.contains(&Intent::Price) || item.kind == ItemKind::GiftCard {
                reply.say(words.price(item, ask));
            }
            let stock_asked = intents.contains(&Intent::Availability)
                || (intents.contains(&Intent::Variant)
                    && (!ask.matched.is_empty() || !ask.asked.is_empty()));
            if stock_asked {
                if !(intents.contains(&Intent::Product) && item.lead_time_days.is_some()) {
                    reply.say(words.stock(item, ask));
                }
            } else if intents.contains(&Intent::Variant) {
                reply.say(words.variant_list(item, true));
            }
        }
        // A word the items do not explain may be about a policy (`restock`, `allergy`).
        let residual: Vec<String> = content
            .iter()
            .filter(|w| {
                !lexicon::COLOUR_WORDS.contains(&w.as_str())
                    && !lexicon::SIZE_WORDS.contains(&w.as_str())
                    && !lexicon::is_item_cue(w)
                    && (lexicon::is_info_cue(w)
                        || !text::expand(w).iter().any(|s| self.catalog.knows(s)))
            })
            .cloned()
            .collect();
        // A word no item has but a policy does ("deposit refundable?") asks
        // that policy, even when it scores below a whole question about it.
        let policy_words: Vec<String> = residual
            .iter()
            .filter(|w| {
                !lexicon::is_cue_word(w)
                    && text::expand(w)
                        .iter()
                        .any(|s| self.policies.knows(s) && !self.catalog.knows(s))
            })
            .cloned()
            .collect();
        let hit = if policy_words.is_empty() {
            self.policies
                .search(&residual)
                .first()
                .copied()
                .filter(|h| h.score >= STRONG_POLICY)
        } else {
            self.policies
                .search(&policy_words)
                .first()
                .copied()
                .filter(|h| h.score >= RESIDUAL_POLICY)
        };
        if let Some(hit) = hit {
            self.cite_policy(reply, hit.policy, &residual, 1);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn compose_policies(
        &self,
        reply: &mut Reply,
        words: &Words,
        intents: &BTreeSet<Intent>,
        content: &[String],
        tokens: &[String],
        region: Option<&retrieve::RegionHit>,
        cues: &intent::Cues,
        context: &HashSet<String>,
    ) -> Result<(), String> {
        if intents.contains(&Intent::Shipping) {
            self.compose_shipping(reply, words, content, tokens, region)?;
            self.compose_dispatch(reply, words, tokens);
            reply.answered.insert(Intent::Shipping);
        }
        if intents.contains(&Intent::Booking)
            && let Some(url) = &self.k.business.booking_url
        {
            reply.say(words.booking(url));
            reply.cite(FactRef::Business {
                field: BusinessField::Booking,
            });
            reply.answered.insert(Intent::Booking);
        }
        if intents.contains(&Intent::Returns) {
            let exchange = content.iter().any(|w| {
                matches!(
                    w.as_str(),
                    "tukar"
                        | "tuker"
                        | "ditukar"
                        | "exchange"
                        | "ganti"
                        | "kekecilan"
                        | "kebesaran"
                        | "fit"
                )
            });
            let fam = if exchange && !self.policies.family(Family::Exchanges).is_empty() {
                Family::Exchanges
            } else {
                Family::Returns
            };
            let cancel = content
                .iter()
                .any(|w| lexicon::CANCEL_WORDS.contains(&w.as_str()));
            let p = if cancel {
                // A cancellation is answered only by a policy that speaks of cancelling, a
                // returns policy first, then any (`Pembatalan kelas`), in any of its languages.
                let cancelling = |t: &String| lexicon::CANCEL_WORDS.contains(&t.as_str());
                let speaks = |p: usize| {
                    let policy = &self.k.policies[p];
                    std::iter::once((&policy.title, &policy.text))
                        .chain(policy.translations.values().map(|(t, x)| (t, x)))
                        .flat_map(|(t, x)| text::tokens(t).into_iter().chain(text::tokens(x)))
                        .any(|t| cancelling(&t))
                };
                // Outside returns, only a policy about cancelling (its key or title), not
                // one that mentions it ("unpaid orders are cancelled after 24 hours").
                let about = |p: usize| {
                    let policy = &self.k.policies[p];
                    text::tokens(&policy.key.replace(['_', '-'], " "))
                        .iter()
                        .chain(&text::tokens(&policy.title))
                        .chain(
                            policy
                                .translations
                                .values()
                                .flat_map(|(t, _)| text::tokens(t))
                                .collect::<Vec<_>>()
                                .iter(),
                        )
                        .any(cancelling)
                };
                self.policies
                    .family(Family::Returns)
                    .iter()
                    .copied()
                    .find(|&p| speaks(p))
                    .or_else(|| (0..self.k.policies.len()).find(|&p| about(p)))
                    .ok_or("cancelling an order: no cancellation policy in the knowledge")?
            } else {
                self.policies
                    .for_family(fam, content)
                    .ok_or("no returns policy in the knowledge")?
            };
            self.cite_policy(reply, p, content, POLICY_SENTENCES);
            reply.answered.insert(Intent::Returns);
        }
        if intents.contains(&Intent::Payment) {
            let Some(p) = self.policies.for_family(Family::Payment, content) else {
                return Err("no payment policy in the knowledge".into());
            };
            self.cite_policy(reply, p, content, POLICY_SENTENCES);
            reply.answered.insert(Intent::Payment);
        }
        if intents.contains(&Intent::Hours)
            && let Some(hours) = &self.k.business.hours
        {
            reply.say(words.hours(hours, cues.weekday));
            if let Some(note) = &self.k.business.hours_note {
                reply.say(note.clone());
            }
            reply.cite(FactRef::Business {
                field: BusinessField::Hours,
            });
            self.compose_closures(
                reply,
                words,
                cues.holiday || cues.calendar_date || cues.weekday.is_none(),
            );
            // "until what time can I order for it to arrive today?": the hours of the cut-off.
            let ordering = tokens.iter().any(|t| {
                matches!(
                    t.as_str(),
                    "order" | "orders" | "pedir" | "pido" | "pesan" | "encomendar" | "cutoff"
                )
            });
            if ordering && !intents.contains(&Intent::Shipping) {
                self.compose_dispatch(reply, words, tokens);
            }
            reply.answered.insert(Intent::Hours);
        }
        if intents.contains(&Intent::Location) && self.compose_location(reply, words, content) {
            reply.answered.insert(Intent::Location);
        }
        if intents.contains(&Intent::OrderStatus)
            && let Some(p) = self.order_policy
        {
            self.cite_policy(reply, p, content, 3);
            reply.answered.insert(Intent::OrderStatus);
        }
        // "can't collect it for two weeks, will you charge?": the policy on uncollected work,
        // whatever words its text uses (`Barang tidak diambil`, `Máquinas no recogidas`).
        if intents.contains(&Intent::Policy)
            && content.iter().any(|w| w == "storage")
            && let Some(&p) = self.policies.family(Family::Storage).first()
        {
            self.cite_policy(reply, p, content, POLICY_SENTENCES);
        }
        if intents.contains(&Intent::Policy) {
            // Ask the policies about the policy words and what the catalog does not explain,
            // not about the item the question mentions.
            let asked: Vec<String> = content
                .iter()
                .filter(|w| {
                    lexicon::is_info_cue(w)
                        || !text::expand(w).iter().any(|s| self.catalog.knows(s))
                        // A word a policy is named by (`alcohol`) asks that policy, though
                        // the catalog's descriptions use it too.
                        || text::expand(w).iter().any(|s| self.policy_names.contains(s))
                })
                .cloned()
                .collect();
            // Asked in so many words (`discount`) beside other questions: only a policy that
            // is not already cited, found by the policy words and words nothing else knows.
            let explicit: Vec<String> = asked
                .iter()
                .filter(|w| {
                    // "refund rules? we may travel later": a statement beside
                    // the question is why it is asked, not a second question.
                    !context.contains(*w)
                    // `policy` or `terms` alone name no subject of their own.
                    && !matches!(
                        w.as_str(),
                        "policy"
                            | "policies"
                            | "politica"
                            | "politicas"
                            | "kebijakan"
                            | "syarat"
                            | "terms"
                    )
                        && (lexicon::is_policy_cue(w)
                            || !text::expand(w).iter().any(|s| {
                                self.catalog.knows(s)
                                    || reply.facts.iter().any(|f| match f {
                                        FactRef::Policy { key } => self
                                            .k
                                            .policies
                                            .iter()
                                            .any(|p| &p.key == key && mentions(p, s)),
                                        _ => false,
                                    })
                            }))
                })
                .cloned()
                .collect();
            let narrowed = cues.strong.contains(&Intent::Policy)
                && !reply.sentences.is_empty()
                && !reply
                    .facts
                    .iter()
                    .any(|f| matches!(f, FactRef::Item { .. }));
            if narrowed && explicit.is_empty() {
                // "cancellation policy?": the policy already cited is the answer.
                return Ok(());
            }
            let asked = if narrowed { explicit } else { asked };
            let content = &asked;
            let hit = self
                .policies
                .search(content)
                .first()
                .copied()
                .filter(|h| h.score >= STRONG_POLICY);
            match hit {
                Some(h) => self.cite_policy(reply, h.policy, content, POLICY_SENTENCES),
                None if reply.sentences.is_empty() => {
                    return Err("no policy in the knowledge covers this".into());
                }
                // "pay by MB Way? and a student discount?": asked in so many words, so
                // answering only the rest would read as a whole answer.
                None if cues.strong.contains(&Intent::Policy)
                    && !reply
                        .facts
                        .iter()
                        .any(|f| matches!(f, FactRef::Item { .. })) =>
                {
                    return Err("part of the message (policy) has no grounded answer".into());
                }
                None => {}
            }
        }
        Ok(())
    }

    fn compose_shipping(
        &self,
        reply: &mut Reply,
        words: &Words,
        content: &[String],
        tokens: &[String],
        region: Option<&retrieve::RegionHit>,
    ) -> Result<(), String> {
        let free_asked = tokens.iter().any(|t| FREE_WORDS.contains(&t.as_str()));
        if asks_pickup(tokens)
            && let Some(p) = self.pickup_policy(content)
        {
            // "may I get it at your store in Leeds?": the place is where the shop is, not
            // a destination; the pickup policy answers.
            self.cite_policy(reply, p, content, POLICY_SENTENCES);
            return Ok(());
        }
        if let Some(hit) = region {
            let r = &self.k.business.shipping_regions[hit.region];
            reply.say(words.region(r, &hit.place));
            reply.cite(FactRef::Business {
                field: BusinessField::ShippingRegions,
            });
            // "to Leeds? free past some total?": the region's line has its own
            // threshold; otherwise the business's answers the second question.
            if free_asked
                && r.free_over.is_none()
                && let Some(over) = self.k.business.free_shipping_over
            {
                reply.say(words.free_shipping(over));
                reply.cite(FactRef::Business {
                    field: BusinessField::FreeShipping,
                });
            } else if free_asked && r.free_over.is_some() {
                // The region's line said its threshold: that answers "free from how much?".
                reply.cite(FactRef::Business {
                    field: BusinessField::FreeShipping,
                });
            }
            return Ok(());
        }
        let family = self.policies.family(Family::Shipping);
        if free_asked && let Some(over) = self.k.business.free_shipping_over {
            reply.say(words.free_shipping(over));
            reply.cite(FactRef::Business {
                field: BusinessField::FreeShipping,
            });
            return Ok(());
        }
        let free_regions: Vec<&crate::knowledge::ShippingRegion> = self
            .k
            .business
            .shipping_regions
            .iter()
            .filter(|r| r.free_over.is_some())
            .collect();
        if free_asked && !free_regions.is_empty() {
            // Thresholds per region only: each region's line says its fee and threshold.
            for r in free_regions {
                reply.say(words.region(r, &r.name));
            }
            reply.cite(FactRef::Business {
                field: BusinessField::ShippingRegions,
            });
            reply.cite(FactRef::Business {
                field: BusinessField::FreeShipping,
            });
            return Ok(());
        }
        if let Some(dest) = retrieve::destination(tokens) {
            // A place we do not list: answer only if a policy says we do not go there.
            let mut best: Option<(usize, &str, usize)> = None;
            for &p in family {
                for (sentence, overlap, catch_all) in
                    retrieve::restrictions(&self.k.policies[p].text, content)
                {
                    // "to the Canaries?": a sentence naming the place answers it.
                    let names_place = text::tokens(sentence).contains(&dest);
                    let relevant = overlap >= 2 || catch_all || names_place;
                    if relevant && best.is_none_or(|(_, _, o)| overlap > o) {
                        best = Some((p, sentence, overlap));
                    }
                }
            }
            if best.is_none() {
                // "to the Canaries?": a sentence of any policy that names the place.
                best = self.k.policies.iter().enumerate().find_map(|(p, policy)| {
                    text::sentences(&policy.text)
                        .into_iter()
                        .find(|s| text::tokens(s).contains(&dest))
                        .map(|s| (p, s, 1))
                });
            }
            let Some((p, sentence, _)) = best else {
                // A region named or listed as taking every other place ("rest of the
                // lower 48", "Resto de la UE").
                let catch_all: Vec<&crate::knowledge::ShippingRegion> = self
                    .k
                    .business
                    .shipping_regions
                    .iter()
                    .filter(|r| {
                        std::iter::once(&r.name).chain(&r.places).any(|n| {
                            text::tokens(n)
                                .iter()
                                .any(|t| CATCH_ALL_WORDS.contains(&t.as_str()))
                        })
                    })
                    .collect();
                // A country the catch-all cannot take: "rest of the US" is not Mexico, "rest
                // of the EU" is no country outside it.
                let country = lexicon::COUNTRIES
                    .iter()
                    .find(|(names, _)| names.iter().any(|n| lexicon::contains_phrase(tokens, n)));
                let takes = |r: &&crate::knowledge::ShippingRegion| {
                    let words: Vec<String> = std::iter::once(&r.name)
                        .chain(&r.places)
                        .flat_map(|n| text::tokens(n))
                        .collect();
                    let named = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
                    match country {
                        None => true,
                        Some(_) if named(lexicon::WORLD_WORDS) => true,
                        Some((_, eu)) if named(lexicon::EU_WORDS) => *eu,
                        Some((names, _)) => {
                            names.iter().any(|n| lexicon::contains_phrase(&words, n))
                        }
                    }
                };
                let catch_all: Vec<&crate::knowledge::ShippingRegion> =
                    catch_all.into_iter().filter(takes).collect();
                if catch_all.is_empty() {
                    return Err(format!(
                        "shipping to `{dest}`: not among the shipping regions in the knowledge"
                    ));
                }
                // A place the regions do not name: the regions are the grounded answer,
                // with the catch-all's fee said for itself (not claimed for the place).
                reply.say(words.we_ship_to(&self.k.business.shipping_regions));
                for r in catch_all {
                    reply.say(words.region(r, &r.name));
                }
                reply.cite(FactRef::Business {
                    field: BusinessField::ShippingRegions,
                });
                return Ok(());
            };
            reply.say(sentence.to_string());
            reply.cite(FactRef::Policy {
                key: self.k.policies[p].key.clone(),
            });
            if !self.k.business.shipping_regions.is_empty() {
                reply.say(words.we_ship_to(&self.k.business.shipping_regions));
                reply.cite(FactRef::Business {
                    field: BusinessField::ShippingRegions,
                });
            }
            return Ok(());
        }
        // A policy about collecting in person answers no delivery question ("can you send
        // it to another town?"); the regions do, when the file lists them.
        let regions = !self.k.business.shipping_regions.is_empty();
        let chosen = self
            .policies
            .for_family(Family::Shipping, content)
            .filter(|&p| !(regions && self.about_pickup(p) && !asks_pickup(tokens)));
        match chosen {
            Some(p) => self.cite_policy(reply, p, content, POLICY_SENTENCES),
            None if regions => {
                reply.say(words.we_ship_to(&self.k.business.shipping_regions));
                reply.cite(FactRef::Business {
                    field: BusinessField::ShippingRegions,
                });
            }
            None if self.k.business.free_shipping_over.is_some()
                || self.k.business.dispatch_cutoff.is_some() => {}
            None => return Err("no shipping information in the knowledge".into()),
        }
        Ok(())
    }

    /// The dispatch cut-off, when the message asks how soon an order leaves.
    fn compose_dispatch(&self, reply: &mut Reply, words: &Words, tokens: &[String]) {
        let Some(cutoff) = &self.k.business.dispatch_cutoff else {
            return;
        };
        let asked = tokens.iter().any(|t| DISPATCH_WORDS.contains(&t.as_str()))
            || lexicon::contains_phrase(tokens, "same day")
            || lexicon::contains_phrase(tokens, "how long")
            || reply.sentences.is_empty();
        if asked {
            let zone = words.zone_of(self.k.business.hours.as_ref());
            reply.say(words.dispatch_cutoff(cutoff, &zone));
            reply.cite(FactRef::Business {
                field: BusinessField::Dispatch,
            });
        }
    }

    /// Closures from the knowledge's date on, after the hours; all of them when asked.
    fn compose_closures(&self, reply: &mut Reply, words: &Words, asked: bool) {
        let from = self.k.business.as_of.as_deref().unwrap_or("");
        let coming: Vec<_> = self
            .k
            .business
            .closures
            .iter()
            .filter(|c| c.to.as_str() >= from)
            .take(3)
            .collect();
        if coming.is_empty() || !asked {
            return;
        }
        for c in coming {
            let when = if c.from == c.to {
                c.from.clone()
            } else {
                format!("{} – {}", c.from, c.to)
            };
            reply.say(words.closure(&when, c.note.as_deref()));
        }
        reply.cite(FactRef::Business {
            field: BusinessField::Closures,
        });
    }

    /// The order the message or conversation names, from the caller's lookup or the file.
    fn order_for(
        &self,
        message: &str,
        conversation: &[Turn],
        looked_up: Option<&Order>,
    ) -> Option<Order> {
        if let Some(o) = looked_up {
            return Some(o.clone());
        }
        let n = self.order_number(message, conversation)?;
        self.k.order(&n).cloned()
    }

    fn order_reply(
        &self,
        words: &Words,
        intents: &BTreeSet<Intent>,
        o: &Order,
        weekday: Option<crate::knowledge::Weekday>,
    ) -> Draft {
        let mut reply = Reply::default();
        if intents.contains(&Intent::Greeting) {
            reply.say(words.greeting(&self.k.persona));
        }
        let kind = match o.kind {
            crate::knowledge::OrderKind::Order => words.say("order_kind_order", &[]),
            crate::knowledge::OrderKind::Repair => words.say("order_kind_repair", &[]),
        };
        let status = o.status.trim_end_matches('.');
        reply.say(words.say(
            "order_status",
            &[("kind", &kind), ("number", &o.number), ("status", status)],
        ));
        if let Some(eta) = &o.eta {
            reply.say(words.say("order_eta", &[("date", eta)]));
        }
        if let Some(note) = &o.note {
            reply.say(note.clone());
        }
        reply.cite(FactRef::Order {
            number: o.number.clone(),
        });
        // "ready? great, until when are you open?": the hours asked beside the status.
        if intents.contains(&Intent::Hours)
            && let Some(hours) = &self.k.business.hours
        {
            reply.say(words.hours(hours, weekday));
            reply.cite(FactRef::Business {
                field: BusinessField::Hours,
            });
        }
        let mut all: Vec<Intent> = intents.iter().copied().collect();
        if !all.contains(&Intent::OrderStatus) {
            all.push(Intent::OrderStatus);
            all.sort();
        }
        Draft {
            text: Some(reply.sentences.join(" ")),
            intents: all,
            facts: reply.facts,
            handoff: None,
            language: words.lang,
        }
    }

    /// "ticket 4390 — do I owe storage?": the status answers only the order part. A policy
    /// answers the rest when the message names a policy topic (`policy_cued`) and its other
    /// words find that policy clearly, or when a question apart from the order ("got 10198,
    /// thanks! do you send samples?") does. Order words alone find policies about orders
    /// (pickup, dispatch) that the status already answers, so they are not enough.
    fn policy_beside_order(
        &self,
        draft: &mut Draft,
        message: &str,
        detected: Language,
        o: &Order,
        policy_cued: bool,
    ) {
        let number = text::tokens(&o.number);
        let apart: Vec<&str> = clauses(message)
            .into_iter()
            .filter(|c| c.ends_with('?'))
            .filter(|c| !text::tokens(c).iter().any(|t| number.contains(t)))
            .collect();
        let asked: Vec<String> = if policy_cued {
            vec![message.to_owned()]
        } else {
            apart
                .into_iter()
                .filter(|c| {
                    let raw = text::tokens(c);
                    let canon = lang::canonical_mixed(detected, &raw);
                    !intent::detect(&canon, c)
                        .strong
                        .contains(&Intent::OrderStatus)
                })
                .map(str::to_owned)
                .collect()
        };
        // Words the status itself answers ("ready?" of a ticket ready for pickup).
        let status = text::stems(&o.status);
        for question in asked {
            let mut raw = text::tokens(&question);
            raw.retain(|t| !number.contains(t));
            let canon = lang::canonical_mixed(detected, &raw);
            let mut content = content_words(&canon, &raw);
            content.retain(|w| !status.contains(&text::stem(w)));
            let Some(hit) = self
                .policies
                .search(&content)
                .first()
                .copied()
                .filter(|h| h.score >= CLEAR_POLICY)
                .filter(|h| names_topic(&self.k.policies[h.policy], &content))
            else {
                continue;
            };
            let mut reply = Reply {
                lang: Some(draft.language),
                facts: std::mem::take(&mut draft.facts),
                ..Reply::default()
            };
            self.cite_policy(&mut reply, hit.policy, &content, POLICY_SENTENCES);
            draft.facts = reply.facts;
            if let Some(text) = &mut draft.text
                && !reply.sentences.is_empty()
            {
                text.push(' ');
                text.push_str(&reply.sentences.join(" "));
            }
        }
    }

    /// The address and contacts asked for; `false` when something asked is not known
    /// (a contact the file does not give, parking no policy mentions).
    fn compose_location(&self, reply: &mut Reply, words: &Words, content: &[String]) -> bool {
        const PHONE: &[&str] = &[
            "wa", "whatsapp", "nomor", "nomer", "no", "telp", "telepon", "phone", "call",
            "hubungi", "contact", "kontak", "number",
        ];
        const EMAIL: &[&str] = &["email", "mail", "e"];
        const IG: &[&str] = &["instagram", "ig"];
        const WEB: &[&str] = &["website", "web", "situs", "site"];
        const ADDRESS: &[&str] = &[
            "alamat", "address", "lokasi", "location", "located", "dimana", "where", "maps",
            "google",
        ];
        let has = |list: &[&str]| content.iter().any(|w| list.contains(&w.as_str()));
        let contact = &self.k.business.contact;
        let want_phone = has(PHONE);
        let want_email = has(EMAIL);
        let want_ig = has(IG);
        let want_web = has(WEB);
        let want_address = has(ADDRESS) || !(want_phone || want_email || want_ig || want_web);
        let mut said_contact = false;
        if want_address && let Some(a) = &self.k.business.address {
            reply.say(words.address(a));
            reply.cite(FactRef::Business {
                field: BusinessField::Address,
            });
        }
        if want_phone {
            if let Some(wa) = &contact.whatsapp {
                reply.say(words.contact_line("label_whatsapp", wa));
                said_contact = true;
            }
            if let Some(p) = &contact.phone {
                reply.say(words.contact_line("label_phone", p));
                said_contact = true;
            }
        }
        if want_email && let Some(e) = &contact.email {
            reply.say(words.contact_line("label_email", e));
            said_contact = true;
        }
        if want_ig && let Some(i) = &contact.instagram {
            reply.say(words.contact_line("label_instagram", i));
            said_contact = true;
        }
        if want_web && let Some(w) = &contact.website {
            reply.say(words.contact_line("label_website", w));
            said_contact = true;
        }
        if said_contact {
            reply.cite(FactRef::Business {
                field: BusinessField::Contact,
            });
        }
        // Parking, fitting rooms, visiting: a location policy the message names.
        let rest: Vec<String> = content
            .iter()
            .filter(|w| {
                let w = w.as_str();
                ![PHONE, EMAIL, IG, WEB, ADDRESS]
                    .iter()
                    .any(|l| l.contains(&w))
            })
            .cloned()
            .collect();
        let missing = [
            want_phone && contact.whatsapp.is_none() && contact.phone.is_none(),
            want_email && contact.email.is_none(),
            want_ig && contact.instagram.is_none(),
            want_web && contact.website.is_none(),
        ];
        let mut complete = !missing.contains(&true);
        // A policy another part of the reply already cites (`apple pay` of the payment
        // policy) is not the one this part asks about (`parking`).
        if let Some(h) = self
            .policies
            .search(&rest)
            .into_iter()
            .find(|h| !reply.cites_policy(&self.k.policies[h.policy].key))
            && h.score >= STRONG_POLICY
        {
            self.cite_policy(reply, h.policy, &rest, 1);
        } else if rest.iter().any(|w| PARKING.contains(&w.as_str())) {
            complete = false;
        }
        complete && !reply.sentences.is_empty()
    }

    /// Of a message with several questions, each one that names no item and asks nothing
    /// the drafter's cues recognise ("boats leave when? pick-up from the hotel?") but that a
    /// policy answers clearly: that policy's best sentence, so the reply answers every
    /// question, not only the first one the cues found.
    /// "IWO-1192 ready? and what's your address": each other question of the message is
    /// drafted on its own and its answer added when it states facts. One a person must
    /// answer is left out here; what it asks stays unanswered only where it was before.
    fn answer_questions_beside_order(
        &self,
        draft: &mut Draft,
        message: &str,
        detected: Language,
        number: &str,
    ) {
        let number = text::tokens(number);
        let all = clauses(message);
        let last = all.len().saturating_sub(1);
        let questions: Vec<&str> = all
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                let opens_question = text::tokens(c)
                    .iter()
                    .find(|w| !JOINING_WORDS.contains(&w.as_str()))
                    .is_some_and(|w| {
                        ASKING_WORDS.contains(&w.as_str()) || QUESTION_WORDS.contains(&w.as_str())
                    });
                let asks = c.ends_with('?') || (i == last && opens_question);
                if asks {
                    joined_questions(c.trim_end_matches('?'))
                } else {
                    Vec::new()
                }
            })
            .collect();
        if questions.len() < 2 {
            return;
        }
        let Some(text) = draft.text.as_mut() else {
            return;
        };
        for question in questions {
            let tokens = text::tokens(question);
            if tokens.iter().any(|t| number.contains(t)) {
                continue;
            }
            let part = self.draft_in(question, &[], None, detected, &tokens);
            let new_facts: Vec<FactRef> = part
                .facts
                .iter()
                .filter(|f| !draft.facts.contains(f))
                .cloned()
                .collect();
            match part.text {
                Some(more) if !new_facts.is_empty() => {
                    text.push(' ');
                    text.push_str(&more);
                    draft.facts.extend(new_facts);
                    for i in part.intents {
                        if !draft.intents.contains(&i) {
                            draft.intents.push(i);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn answer_other_questions(&self, reply: &mut Reply, message: &str, detected: Language) {
        let clauses: Vec<&str> = clauses(message)
            .into_iter()
            .filter(|c| c.ends_with('?'))
            .collect();
        if clauses.len() < 2 {
            return;
        }
        for clause in clauses {
            let raw = text::tokens(clause.trim_end_matches('?'));
            let canon = lang::canonical_mixed(detected, &raw);
            if !self.catalog.find(&raw, clause).is_empty()
                || !self.catalog.find(&canon, clause).is_empty()
            {
                continue;
            }
            let cues = intent::detect(&canon, clause);
            if cues
                .strong
                .iter()
                .any(|i| !matches!(i, Intent::Greeting | Intent::Thanks))
            {
                continue;
            }
            let content = content_words(&canon, &raw);
            if let Some(h) = self
                .policies
                .search(&content)
                .first()
                .copied()
                .filter(|h| h.score >= STRONG_POLICY)
            {
                self.cite_policy(reply, h.policy, &content, 1);
            }
        }
    }

    /// The one service whose name or alias has a word of the message besides the words
    /// that named the parts `found`, and whose own words have every part: the labour that
    /// fits them ("cambio de pastillas" of "cambiar las pastillas").
    fn fitting_service(&self, found: &[Found], canon: &[String]) -> Option<usize> {
        let parts: HashSet<String> = found
            .iter()
            .flat_map(|f| &f.naming)
            .map(|w| text::stem(w))
            .collect();
        if parts.is_empty() {
            return None;
        }
        // Only a verb of fitting names the labour: "tubeless sealant" is the goods, not
        // the tubeless set-up.
        let fitting = is_fitting;
        let other: HashSet<String> = canon
            .iter()
            .filter(|t| fitting(t))
            .flat_map(|t| lang::senses(t).into_iter().chain([t.clone()]))
            .map(|t| text::stem(&t))
            .filter(|s| !parts.contains(s))
            .collect();
        if other.is_empty() {
            return None;
        }
        let services: Vec<usize> = self
            .k
            .items
            .iter()
            .enumerate()
            .filter(|(_, item)| item.kind == ItemKind::Service)
            .filter(|(_, item)| {
                let names: HashSet<String> = std::iter::once(&item.name)
                    .chain(&item.aliases)
                    .flat_map(|n| text::stems(n))
                    .collect();
                let words = item_words(item);
                // Any verb of fitting names any fitting labour: "replace" asks for an
                // "install" service.
                names.iter().any(|n| other.contains(n) || fitting(n))
                    && parts.iter().all(|p| {
                        names.contains(p) || text::expand(p).iter().any(|s| words.contains(s))
                    })
            })
            .map(|(i, _)| i)
            .collect();
        match services.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Whether policy `p`'s key or title names collecting in person.
    fn about_pickup(&self, p: usize) -> bool {
        let policy = &self.k.policies[p];
        text::tokens(&format!(
            "{} {}",
            policy.key.replace('_', " "),
            policy.title
        ))
        .iter()
        .flat_map(|w| lang::senses(w))
        .any(|t| PICKUP_WORDS.contains(&t.as_str()))
    }

    /// The policy about collecting a purchase in person: one whose key or title names it,
    /// else one whose text does; of several, the one the message's words find best.
    fn pickup_policy(&self, content: &[String]) -> Option<usize> {
        let names_pickup = |words: &str| {
            text::tokens(words)
                .iter()
                .flat_map(|w| lang::senses(w))
                .any(|t| PICKUP_WORDS.contains(&t.as_str()))
        };
        let ranked: Vec<usize> = self
            .policies
            .search(content)
            .iter()
            .map(|h| h.policy)
            .chain(0..self.k.policies.len())
            .collect();
        let titled = |p: &&usize| {
            let policy = &self.k.policies[**p];
            names_pickup(&format!(
                "{} {}",
                policy.key.replace('_', " "),
                policy.title
            ))
        };
        ranked
            .iter()
            .find(titled)
            .or_else(|| {
                ranked
                    .iter()
                    .find(|p| names_pickup(&self.k.policies[**p].text))
            })
            .copied()
    }

    /// A question of a message with several that names something the knowledge does not
    /// know and asks nothing the drafter recognises: answering the rest would read as if
    /// that part were answered too.
    fn unanswerable_part(
        &self,
        message: &str,
        detected: Language,
        known_order: bool,
    ) -> Option<String> {
        let all = clauses(message);
        // Only questions ask: "thinking of a gift." around a question is context. A message
        // with no `?` asks in its last sentence. "how much is X and do you sell Y" is two
        // questions in one sentence.
        let any_mark = all.iter().any(|c| c.ends_with('?'));
        let last = all.len().saturating_sub(1);
        let clauses: Vec<&str> = all
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                let parts = joined_questions(c.trim_end_matches('?'));
                // A last sentence that starts as a question asks without its `?` ("the lock,
                // price? and can you fit a rack too").
                let opens_question = text::tokens(c)
                    .iter()
                    .find(|w| {
                        !matches!(
                            w.as_str(),
                            "also" | "and" | "y" | "e" | "tambien" | "juga" | "terus" | "trus"
                        )
                    })
                    .is_some_and(|w| ASKING_WORDS.contains(&w.as_str()));
                let asks = c.ends_with('?')
                    || (i == last && (opens_question || (!any_mark && parts.len() > 1)));
                if asks { parts } else { Vec::new() }
            })
            .collect();
        if all.len() < 2 && clauses.len() < 2 {
            return None;
        }
        let number = orders::number(message).map(|n| text::tokens(&n));
        clauses.into_iter().find_map(|clause| {
            let mut raw = text::tokens(clause);
            // An order number or a destination is what the message's other words ask about.
            if let Some(n) = &number {
                // "news about AB-12?": the question about a known order is its status.
                if known_order && raw.iter().any(|t| n.contains(t)) {
                    return None;
                }
                raw.retain(|t| !n.contains(t));
            }
            if let Some(dest) = retrieve::destination(&raw) {
                raw.retain(|t| *t != dest);
            }
            let canon = lang::canonical_mixed(detected, &raw);
            if !self.catalog.find(&raw, clause).is_empty()
                || !self.catalog.find(&canon, clause).is_empty()
            {
                return None;
            }
            let unknown = self.unknown_words(&canon, true);
            let cues = intent::detect(&canon, clause);
            let asks = cues
                .strong
                .iter()
                .any(|i| !matches!(i, Intent::Greeting | Intent::Thanks | Intent::Availability));
            // A question a policy clearly answers is answerable, whatever word it uses.
            let content = content_words(&canon, &raw);
            let policy_answers = self
                .policies
                .search(&content)
                .first()
                .is_some_and(|h| h.score >= CLEAR_POLICY);
            (!unknown.is_empty() && !asks && !policy_answers).then(|| unknown.join(" "))
        })
    }

    fn cite_policy(&self, reply: &mut Reply, p: usize, content: &[String], max: usize) {
        let policy = &self.k.policies[p];
        if reply.cites_policy(&policy.key) {
            return;
        }
        let text = policy.text_in(reply.lang.unwrap_or(self.k.business.language));
        for s in retrieve::best_sentences(text, content, max) {
            reply.say(s.to_string());
        }
        reply.cite(FactRef::Policy {
            key: policy.key.clone(),
        });
    }
}

/// Whether `words` name the policy's topic: a word of its key or title, in any of its
/// languages, or a word that means one.
fn names_topic(policy: &crate::knowledge::Policy, words: &[String]) -> bool {
    let mut topic: HashSet<String> = text::stems(&policy.key.replace('_', " "))
        .into_iter()
        .chain(text::stems(&policy.title))
        .collect();
    for (title, _) in policy.translations.values() {
        topic.extend(text::stems(title));
    }
    words.iter().any(|w| {
        lang::senses(w)
            .iter()
            .any(|s| topic.contains(&text::stem(s)))
    })
}

/// Whether a policy's title or text, in any language, has the stem `stem`.
fn mentions(p: &crate::knowledge::Policy, stem: &str) -> bool {
    std::iter::once((&p.title, &p.text))
        .chain(p.translations.values().map(|(t, x)| (t, x)))
        .any(|(t, x)| {
            text::stems(t)
                .iter()
                .chain(&text::stems(x))
                .any(|w| w == stem)
        })
}

/// A message's sentences and questions, each with its closing mark (`?` tells a question).
/// Words that open a question of their own.
const ASKING_WORDS: &[&str] = &[
    "do", "does", "can", "could", "is", "are", "will", "would", "what", "how", "where", "when",
    "hacen", "tienen", "venden", "pueden", "puedo", "fazem", "tem", "vendem", "podem", "posso",
    "bisa", "ada", "jual",
];

/// Words before a place ("to Albany", `en Sevilla`, `ke Bandung`).
const PLACE_PREPOSITIONS: &[&str] = &[
    "to", "in", "from", "at", "near", "en", "para", "pra", "a", "de", "em", "ke", "di", "dari",
];

/// Question words that open a question without a `?` ("e qual o endereço").
const QUESTION_WORDS: &[&str] = &[
    "which", "why", "who", "whats", "qual", "quais", "cual", "cuales", "que", "quanto", "quanta",
    "cuanto", "cuanta", "quando", "cuando", "onde", "donde", "berapa", "brp", "kapan", "dimana",
    "gimana", "apa", "apakah",
];

/// Words that open a sentence joined to the one before ("and", `y`, `sekalian`).
const JOINING_WORDS: &[&str] = &[
    "and", "also", "plus", "y", "e", "tambien", "dan", "terus", "trus", "sekalian", "sama",
];

/// `clause` split where "and" (`y`, `e`, `dan`) starts a question of its own: "price of
/// the tire and do you sell valves" → "price of the tire", "do you sell valves".
fn joined_questions(clause: &str) -> Vec<&str> {
    const AND: &[&str] = &["and", "y", "e", "dan", "terus", "trus"];
    const ASKS: &[&str] = ASKING_WORDS;
    let lower = clause.to_lowercase();
    let words: Vec<(usize, &str)> = lower
        .split_whitespace()
        .scan(0usize, |at, w| {
            let start = lower[*at..].find(w).map_or(*at, |p| *at + p);
            *at = start + w.len();
            Some((start, w))
        })
        .collect();
    let mut out = Vec::new();
    let mut from = 0;
    for pair in words.windows(2) {
        let (at, w) = pair[0];
        let next = pair[1].1.trim_matches(|c: char| !c.is_alphanumeric());
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        if AND.contains(&w) && ASKS.contains(&next) && at > from {
            out.push(clause[from..at].trim().trim_end_matches(','));
            from = at + w.len();
        }
    }
    out.push(clause[from..].trim());
    out.retain(|c| c.chars().any(char::is_alphanumeric));
    out
}

fn clauses(message: &str) -> Vec<&str> {
    message
        .split_inclusive(['?', '!', '.', '\n', ';'])
        .map(str::trim)
        .filter(|c| c.chars().any(char::is_alphanumeric))
        .collect()
}

/// Words only the message's statements use, when it also asks a question: "we may travel
/// later" beside "refund rules?" (in the drafter's vocabulary and as written).
fn statement_words(message: &str, lang: Language) -> HashSet<String> {
    let all = clauses(message);
    let (asked, told): (Vec<&str>, Vec<&str>) = all.into_iter().partition(|c| c.ends_with('?'));
    if asked.is_empty() {
        return HashSet::new();
    }
    let in_questions = clause_words(&asked, lang);
    clause_words(&told, lang)
        .into_iter()
        .filter(|w| !in_questions.contains(w))
        .collect()
}

/// Words only statements about the customer's own things use, beside a question: "mine's
/// an old cruiser" says what they ride, not which option they ask for.
fn own_statement_words(message: &str, lang: Language) -> HashSet<String> {
    let told = statement_words(message, lang);
    clauses(message)
        .into_iter()
        .filter(|c| !c.ends_with('?'))
        .map(text::tokens)
        .filter(|raw| raw.iter().any(|t| lang::is_own_word(t)))
        .flat_map(|raw| {
            let canon = lang::canonical_mixed(lang, &raw);
            raw.into_iter().chain(canon)
        })
        .filter(|w| told.contains(w))
        .collect()
}

/// A clause's content words, in the drafter's vocabulary and as written (policies are
/// searched in both).
fn content_words(canon: &[String], raw: &[String]) -> Vec<String> {
    canon
        .iter()
        .chain(raw)
        .filter(|t| !t.is_empty() && !text::is_stopword(t))
        .cloned()
        .collect()
}

/// Whether an item states what it contains: a detail named for allergens or ingredients
/// (`allergens`, `alérgenos`, `ingredientes`, `komposisi`), or a description that says what
/// it contains (`Contains tree nuts`, `Contiene almendra`), in any of its languages.
/// Stems of what an item's description (every language) and details say.
fn item_words(item: &crate::knowledge::Item) -> HashSet<String> {
    let mut words: HashSet<String> = text::stems(&item.description).into_iter().collect();
    for d in item.descriptions.values() {
        words.extend(text::stems(d));
    }
    for (k, v) in &item.details {
        words.extend(text::stems(&format!("{} {v}", k.replace('_', " "))));
    }
    words
}

fn states_allergens(item: &crate::knowledge::Item) -> bool {
    const KEYS: &[&str] = &[
        "allergen",
        "alergen",
        "ingredient",
        "composi",
        "komposisi",
        "bahan",
    ];
    const CONTAINS: &[&str] = &["contains", "contiene", "contem", "mengandung", "allergens"];
    let keyed = item.details.keys().any(|k| {
        let k = text::fold(k);
        KEYS.iter().any(|w| k.contains(w))
    });
    keyed
        || std::iter::once(&item.description)
            .chain(item.descriptions.values())
            .any(|d| {
                text::tokens(d)
                    .iter()
                    .any(|t| CONTAINS.contains(&t.as_str()))
            })
}

/// `tokens` with each word right after a negated auxiliary or a negation blanked: "won't
/// light" and "doesn't turn on" use a verb, which names no item even when it spells like one.
fn verbs_masked(tokens: &[String]) -> Vec<String> {
    const NEGATED: &[&str] = &[
        "wont", "cant", "cannot", "doesnt", "didnt", "isnt", "wasnt", "wouldnt", "dont", "not",
        "aint", "couldnt", "havent", "hasnt",
        // Portuguese and Indonesian put the negation right before the verb ("não mergulha",
        // "gak nyala"); Spanish `no` is left out: it also answers and ends questions.
        "nao", "tidak", "tdk", "gak", "ga", "nggak", "ngga", "enggak", "gk",
    ];
    let mut out = tokens.to_vec();
    for i in 1..tokens.len() {
        if NEGATED.contains(&tokens[i - 1].as_str()) {
            out[i] = String::new();
        }
    }
    out
}

/// The intents that ask something (not greeting or thanks).
fn core_of(intents: &BTreeSet<Intent>) -> Vec<Intent> {
    intents
        .iter()
        .copied()
        .filter(|i| !matches!(i, Intent::Greeting | Intent::Thanks))
        .collect()
}

/// The asking intents, or every intent when none asks (a bare greeting).
/// Words (after the language files) that ask for the shop's hours in so many words.
const SHOP_HOURS_WORDS: &[&str] = &["open", "opens", "close", "closes", "closing", "hours"];

/// Words at most in a message that points at a photo: a caption, not a story.
const POINTING_MAX_WORDS: usize = 8;

fn core_or_all(intents: &BTreeSet<Intent>) -> Vec<Intent> {
    intents.iter().copied().collect()
}

fn handoff(intents: &[Intent], reason: String) -> Draft {
    Draft {
        text: None,
        intents: intents.to_vec(),
        facts: Vec::new(),
        handoff: Some(reason),
        // The caller sets the language the message was written in.
        language: Language::ENGLISH,
    }
}

/// Words that ask about parking, which only a policy can answer.
const PARKING: &[&str] = &["parking", "parkir", "parkiran", "park"];

/// Words in a shipping region's name that make it take every place the others do not
/// name (`Rest of Europe`, `Resto de España`, `Seluruh Indonesia`).
const CATCH_ALL_WORDS: &[&str] = &[
    "rest",
    "other",
    "others",
    "all",
    "everywhere",
    "nationwide",
    "worldwide",
    "international",
    "resto",
    "restante",
    "otras",
    "otros",
    "todo",
    "toda",
    "todas",
    "internacional",
    "outras",
    "outros",
    "demais",
    "lainnya",
    "seluruh",
    "semua",
];

/// Words that ask whether shipping is free.
const FREE_WORDS: &[&str] = &["free", "gratis", "threshold", "minimum", "gratuito"];
/// Words of a policy about collecting a purchase in person, in the languages owners write.
const PICKUP_WORDS: &[&str] = &[
    "pickup",
    "collect",
    "collection",
    "recogida",
    "levantamento",
    "retirada",
];

/// The words a message names as what the customer is allergic to: the word after
/// "allergic to" (`alergica al coco`, `allergy to kiwi`) and the one before "allergy"
/// (`peanut allergy`).
fn allergens_named(tokens: &[String]) -> Vec<String> {
    const ADJECTIVE: &[&str] = &["allergic", "alergica", "alergico", "alergic"];
    const NOUN: &[&str] = &["allergy", "alergia", "alergi"];
    const TO: &[&str] = &["to", "al", "a", "ao", "à", "de", "terhadap", "sama", "sm"];
    let content =
        |t: &&String| !t.is_empty() && !text::is_stopword(t) && !lang::is_function_word(t);
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let after = &tokens[i + 1..];
        let next = if ADJECTIVE.contains(&t.as_str()) {
            after.iter().take(2).find(content)
        } else if NOUN.contains(&t.as_str())
            && after.first().is_some_and(|p| TO.contains(&p.as_str()))
        {
            after.get(1).filter(content)
        } else {
            None
        };
        // "óleos essenciais", "tree nuts": the word after names the allergen as well.
        if let Some(n) = next
            && let Some(k) = after.iter().position(|w| w == n)
            && let Some(second) = after.get(k + 1).filter(content)
        {
            out.push(second.clone());
        }
        out.extend(next.cloned());
        if NOUN.contains(&t.as_str())
            && let Some(prev) = tokens[..i].last().filter(content)
        {
            out.push(prev.clone());
        }
    }
    out
}

/// Whether the message opens with "if" (after a greeting or a name at most).
fn opens_with_if(tokens: &[String]) -> bool {
    tokens.iter().filter(|t| !t.is_empty()).take(3).any(|t| {
        matches!(
            t.as_str(),
            "if" | "si" | "se" | "kalau" | "kalo" | "klo" | "seandainya" | "misalnya"
        )
    })
}

/// Content words up to which a message is short enough that any unknown word in it may
/// be an option asked for.
const SHORT_MESSAGE: usize = 12;

/// In a long message (more than `SHORT_MESSAGE` content words over several sentences),
/// the words of its questions, or of its last sentence when none ends in `?`, in the
/// drafter's vocabulary and as written; `None` for a short one, where every word counts.
fn asking_words(message: &str, lang: Language) -> Option<HashSet<String>> {
    let all = clauses(message);
    let content = text::tokens(message)
        .iter()
        .filter(|t| !text::is_stopword(t))
        .count();
    if all.len() < 2 || content <= SHORT_MESSAGE {
        return None;
    }
    // The last sentence asks too, with or without its `?` ("…stok ada? terus bisa pasang
    // sekalian").
    let last = all.len() - 1;
    let chosen: Vec<&str> = all
        .iter()
        .enumerate()
        .filter(|(i, c)| c.ends_with('?') || *i == last)
        .map(|(_, c)| *c)
        .collect();
    Some(clause_words(&chosen, lang))
}

/// The words of `clauses`, as written and in the drafter's vocabulary.
fn clause_words(clauses: &[&str], lang: Language) -> HashSet<String> {
    clauses
        .iter()
        .flat_map(|c| {
            let raw = text::tokens(c);
            let canon = lang::canonical_mixed(lang, &raw);
            raw.into_iter().chain(canon)
        })
        .collect()
}

/// Words of a message's questions (sentences ending in `?`) when it also has statements.
/// A sentence after the last `?` may ask without its mark: it counts as a statement only
/// when it opens with neither "and" nor a question's word and has no cue of a question
/// ("…gift card? it's for my sister who loves your cream").
fn question_words(message: &str, lang: Language) -> Option<HashSet<String>> {
    let all = clauses(message);
    let last_asked = all.iter().rposition(|c| c.ends_with('?'))?;
    let trailing_asks = all[last_asked + 1..].iter().any(|c| {
        let raw = text::tokens(c);
        let canon = lang::canonical_mixed(lang, &raw);
        let cues = intent::detect(&canon, c);
        raw.first().is_some_and(|w| {
            JOINING_WORDS.contains(&w.as_str()) || ASKING_WORDS.contains(&w.as_str())
        }) || !cues.strong.is_empty()
            || !cues.weak.is_empty()
    });
    if trailing_asks {
        return None;
    }
    let (asked, told): (Vec<&str>, Vec<&str>) = all.into_iter().partition(|c| c.ends_with('?'));
    if told.is_empty() {
        return None;
    }
    Some(clause_words(&asked, lang))
}

/// Letters two words must share from the start to be taken for the same word in two
/// languages (`sinter-`, `resin-`).
const COGNATE_PREFIX: usize = 5;

/// How many leading characters `a` and `b` share.
fn shared_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// `message` without what it quotes: text between quote marks and lines that start with
/// `>`.
fn unquoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for line in message.lines() {
        if line.trim_start().starts_with('>') {
            continue;
        }
        // The closing mark and where its quote opened.
        let mut open: Option<(char, usize)> = None;
        for (i, c) in line.char_indices() {
            match open {
                Some((end, _)) if c == end => open = None,
                Some(_) => {}
                None => {
                    // An apostrophe inside a word (`it's`) opens no quote.
                    let word_before = line[..i]
                        .chars()
                        .next_back()
                        .is_some_and(char::is_alphanumeric);
                    match c {
                        '«' => open = Some(('»', i)),
                        '“' => open = Some(('”', i)),
                        '"' => open = Some(('"', i)),
                        '\'' if !word_before => open = Some(('\'', i)),
                        _ => out.push(c),
                    }
                }
            }
        }
        // A mark never closed quoted nothing ("'cause it broke").
        if let Some((_, from)) = open {
            out.push_str(&line[from..]);
        }
        out.push('\n');
    }
    out
}

/// "or" in the languages read (not Spanish `o`: it is Portuguese for "the").
fn is_or(t: &str) -> bool {
    matches!(t, "or" | "ou" | "atau" | "ato")
}

/// "the baby sunscreen, mineral or synthetic?": a choice between two words asks what the
/// item is, not whether it is there.
fn offers_choice(tokens: &[String]) -> bool {
    tokens.windows(3).any(|w| {
        is_or(&w[1])
            && [&w[0], &w[2]]
                .iter()
                .all(|t| !text::is_stopword(t) && !lang::is_function_word(t))
    })
}

/// `unknown` without the words offered as the other choice to a known one: "mineral or
/// chemical?" is answered by what the knowledge says of `mineral`.
fn without_alternatives(unknown: Vec<String>, tokens: &[String]) -> Vec<String> {
    let or = is_or;
    // An item's own word (masked empty) or a content word the knowledge has.
    let is_known = |t: &String| {
        t.is_empty()
            || (!unknown.contains(t) && !text::is_stopword(t) && !lang::is_function_word(t))
    };
    let dropped: Vec<&String> = tokens
        .windows(3)
        .filter(|w| or(&w[1]))
        .filter_map(|w| match (is_known(&w[0]), is_known(&w[2])) {
            (true, false) => Some(&w[2]),
            (false, true) => Some(&w[0]),
            _ => None,
        })
        .collect();
    unknown
        .iter()
        .filter(|u| !dropped.contains(u))
        .cloned()
        .collect()
}

/// Whether the customer asks to collect rather than have it sent ("pick it up", "recoger").
fn asks_pickup(tokens: &[String]) -> bool {
    tokens
        .iter()
        .any(|t| matches!(t.as_str(), "pickup" | "collect"))
        || tokens.windows(2).any(|w| w[0] == "pick" && w[1] == "up")
        || tokens.windows(3).any(|w| w[0] == "pick" && w[2] == "up")
}
/// Words written with a capital inside a sentence (`Worcester`, `Cub Cadet`), folded as
/// tokens are: names of places, people and brands. All-capital words (`XL`, `SPF`) and
/// words opening a sentence are not counted.
fn proper_names(message: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut opening = true;
    for word in message.split_whitespace() {
        let letters: String = word.chars().filter(|c| c.is_alphabetic()).collect();
        let capitalised = letters.chars().next().is_some_and(char::is_uppercase)
            && letters.chars().skip(1).any(char::is_lowercase);
        if capitalised && !opening {
            names.extend(text::tokens(word));
        }
        opening =
            word.ends_with(['.', '!', '?', ':']) || word.chars().all(|c| !c.is_alphanumeric());
    }
    names
}

/// Whether the message asks what to do (`qué hago`, `como faço`, `gimana`),
/// in its own words or the drafter's.
fn asks_what_to_do(raw: &[String], canon: &[String]) -> bool {
    const ASKS: &[&str] = &[
        "what do i do",
        "what should i do",
        "what can i do",
        "que hago",
        "que debo hacer",
        "como hago",
        "que puedo hacer",
        "como faco",
        "o que faco",
        "que faco",
        "o que devo fazer",
        "harus gimana",
        "gimana ya",
        "gimana kak",
        "bagaimana ya",
    ];
    ASKS.iter()
        .any(|p| lexicon::contains_phrase(raw, p) || lexicon::contains_phrase(canon, p))
}

/// Whether `word` means fitting a part, in any language.
fn is_fitting(word: &str) -> bool {
    lang::senses(word)
        .iter()
        .any(|s| FITTING_WORDS.contains(&s.as_str()))
}

/// Verbs of fitting a part: with a part named, they ask for the labour too.
const FITTING_WORDS: &[&str] = &[
    "install", "fit", "replace", "change", "exchange", "swap", "mount", "put",
];

/// Words that ask how soon an order leaves.
const DISPATCH_WORDS: &[&str] = &[
    "today",
    "dispatch",
    "dispatched",
    "cutoff",
    "cut",
    "soon",
    "when",
    "tomorrow",
    "hari",
];

/// A reply being composed: sentences, the facts they state and the intents they answer.
#[derive(Default)]
struct Reply {
    sentences: Vec<String>,
    facts: Vec<FactRef>,
    answered: BTreeSet<Intent>,
    /// The reply's language, for policy translations.
    lang: Option<Language>,
}

impl Reply {
    fn answer_items(&mut self, intents: &BTreeSet<Intent>) {
        self.answered
            .extend(intents.iter().copied().filter(|i| i.about_items()));
    }

    fn say(&mut self, s: String) {
        if !self.sentences.contains(&s) {
            self.sentences.push(s);
        }
    }

    fn cite(&mut self, f: FactRef) {
        if !self.facts.contains(&f) {
            self.facts.push(f);
        }
    }

    fn cites_policy(&self, key: &str) -> bool {
        self.facts
            .iter()
            .any(|f| matches!(f, FactRef::Policy { key: k } if k == key))
    }
}

#[cfg(test)]
mod tests;
