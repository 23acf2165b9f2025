//! The checked, typed model of a tenant's knowledge: what the drafter retrieves from and what
//! the safety classifier grounds drafts against.
//!
//! Values here have passed validation (see `validate`): skus and policy keys are unique,
//! prices are non-negative minor units of a known currency shape, every URL is within the
//! tenant's allowed link domains. The model is plain data with no behaviour beyond lookups.

use super::hours::Hours;
use super::money::{Currency, Money};
pub use crate::lang::Language;
use std::collections::{BTreeMap, HashSet};

/// Everything one tenant's drafts may say, loaded from its knowledge file.
#[derive(Clone, Debug)]
pub struct Knowledge {
    pub business: Business,
    pub persona: Persona,
    pub items: Vec<Item>,
    pub policies: Vec<Policy>,
    /// Domains (and their subdomains) that links in drafts may point to.
    pub allowed_domains: Vec<String>,
    /// Words the tenant never wants in a reply, matched case-insensitively on word boundaries.
    pub blocked_words: Vec<String>,
    /// Orders and repair tickets a small shop lists in the file itself.
    pub orders: Vec<Order>,
}

impl Knowledge {
    #[must_use]
    pub fn item(&self, sku: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.sku.eq_ignore_ascii_case(sku))
    }

    #[must_use]
    pub fn policy(&self, key: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.key == key)
    }

    /// The order or ticket listed under `number` (case and spaces ignored).
    #[must_use]
    pub fn order(&self, number: &str) -> Option<&Order> {
        let want = order_key(number);
        self.orders.iter().find(|o| order_key(&o.number) == want)
    }
}

/// How order numbers are compared: `#R-1042`, `r1042` and `R 1042` are the same number.
#[must_use]
pub fn order_key(number: &str) -> String {
    number
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What to do with a message in a language the business does not answer in.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum OtherLanguages {
    /// Answer in the business's main language.
    #[default]
    Main,
    /// Hand the message to a person.
    Handoff,
}

/// A day or a run of days the business is closed (dates as written, `YYYY-MM-DD`).
#[derive(Clone, Debug)]
pub struct Closure {
    pub from: String,
    pub to: String,
    pub note: Option<String>,
}

/// Where order and ticket statuses are looked up when the file does not list them.
#[derive(Clone, Debug)]
pub struct OrderLookup {
    pub url: String,
    pub timeout_ms: u64,
}

/// An order or repair ticket and what the business says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub number: String,
    pub kind: OrderKind,
    pub status: String,
    pub eta: Option<String>,
    pub updated: Option<String>,
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Order,
    Repair,
}

/// What an item is: a thing with stock, a service, or a gift card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ItemKind {
    #[default]
    Product,
    Service,
    GiftCard,
}

#[derive(Clone, Debug)]
pub struct Business {
    pub name: String,
    /// Currency of item prices and fees that do not name their own.
    pub currency: Currency,
    /// The main language (the first of `languages`).
    pub language: Language,
    /// Every language the business answers in, main first.
    pub languages: Vec<Language>,
    pub other_languages: OtherLanguages,
    /// The date the knowledge is true for.
    pub as_of: Option<String>,
    pub booking_url: Option<String>,
    pub order_lookup: Option<OrderLookup>,
    /// Orders over this amount ship free.
    pub free_shipping_over: Option<Money>,
    /// `HH:MM`: orders placed earlier leave that working day.
    pub dispatch_cutoff: Option<String>,
    pub closures: Vec<Closure>,
    pub address: Option<String>,
    pub contact: Contact,
    /// `None` when the file gives no hours; the drafter then hands hour questions to a human.
    pub hours: Option<Hours>,
    /// Free text shown after the hours (public holidays, Ramadan hours…).
    pub hours_note: Option<String>,
    pub shipping_regions: Vec<ShippingRegion>,
}

#[derive(Clone, Debug, Default)]
pub struct Contact {
    pub phone: Option<String>,
    pub whatsapp: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    /// Instagram handle, e.g. `@kirana.boutique`.
    pub instagram: Option<String>,
}

/// A region the business ships to, with the places customers name when they ask.
#[derive(Clone, Debug)]
pub struct ShippingRegion {
    pub name: String,
    /// Cities or areas in the region (`Bandung`, `Bogor`…).
    pub places: Vec<String>,
    pub fee: Option<Money>,
    /// Delivery estimate in days, inclusive range.
    pub days: Option<(u32, u32)>,
    /// Orders over this amount ship free to this region.
    pub free_over: Option<Money>,
}

#[derive(Clone, Debug)]
pub struct Item {
    pub sku: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub description: String,
    pub category: Option<String>,
    pub price: Money,
    pub url: Option<String>,
    pub kind: ItemKind,
    /// Stock of an item without variants.
    pub stock: Option<u32>,
    /// Never runs out (services, gift cards).
    pub unlimited: bool,
    /// When a sold-out item is expected back (`YYYY-MM-DD`).
    pub restock: Option<String>,
    /// How long a service takes.
    pub duration_minutes: Option<u32>,
    /// Days until a service is done, inclusive range.
    pub turnaround_days: Option<(u32, u32)>,
    /// Description by language code, for replies in other languages.
    pub descriptions: BTreeMap<String, String>,
    /// Made to order: must be ordered this many days ahead.
    pub lead_time_days: Option<u32>,
    /// Free facts such as `material`, `allergens`, `care`, `fit`.
    pub details: BTreeMap<String, String>,
    pub variants: Vec<Variant>,
}

impl Item {
    /// Units in stock across variants (or the item's own stock); `None` when not counted.
    ///
    /// Summed in `u64`, where no number of `u32` stocks a file can hold overflows (and the
    /// sum saturates rather than wraps if one ever did), so a large catalog is never
    /// reported as "0 in stock".
    #[must_use]
    pub fn total_stock(&self) -> Option<u64> {
        if self.variants.is_empty() {
            return self.stock.map(u64::from);
        }
        if self.variants.iter().any(|v| v.unlimited) {
            return None;
        }
        self.variants
            .iter()
            .filter_map(|v| v.stock)
            .fold(None, |sum: Option<u64>, n| {
                Some(sum.unwrap_or(0).saturating_add(u64::from(n)))
            })
    }

    /// Every distinct price this item can be sold at (its own and its variants').
    #[must_use]
    pub fn prices(&self) -> Vec<Money> {
        // A set beside the list keeps this linear in the variants (and the list in order).
        let mut seen = HashSet::from([self.price]);
        let mut out = vec![self.price];
        for p in self.variants.iter().filter_map(|v| v.price) {
            if seen.insert(p) {
                out.push(p);
            }
        }
        out
    }

    /// The description in `lang` when the file gives one, else as written.
    #[must_use]
    pub fn description_in(&self, lang: Language) -> &str {
        self.descriptions
            .get(lang.code())
            .map_or(self.description.as_str(), String::as_str)
    }

    /// Every sku of the item and its variants.
    pub fn skus(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.sku.as_str())
            .chain(self.variants.iter().filter_map(|v| v.sku.as_deref()))
    }
}

/// One sellable variant (a size, a colour, other options) and its stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub size: Option<String>,
    pub colour: Option<String>,
    /// Other options (`shade` → `02 Ivory`), in the file's order of keys.
    pub options: BTreeMap<String, String>,
    pub sku: Option<String>,
    /// Overrides the item's price (a larger cake, a longer dress).
    pub price: Option<Money>,
    /// `None` only for made-to-order items and unlimited ones.
    pub stock: Option<u32>,
    pub unlimited: bool,
    pub restock: Option<String>,
}

impl Variant {
    /// `M`, `Sage`, `M / Sage`, `30 ml / 02 Ivory`.
    #[must_use]
    pub fn label(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        parts.extend(self.size.as_deref());
        parts.extend(self.colour.as_deref());
        parts.extend(self.options.values().map(String::as_str));
        parts.join(" / ")
    }
}

/// A policy such as returns, shipping, payment or privacy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Stable key (`returns`, `shipping`, `payment`…), cited by drafts.
    pub key: String,
    pub title: String,
    pub text: String,
    /// Title and text by language code, for replies in other languages.
    pub translations: BTreeMap<String, (String, String)>,
}

impl Policy {
    /// The text in `lang` when the file gives one, else as written.
    #[must_use]
    pub fn text_in(&self, lang: Language) -> &str {
        self.translations
            .get(lang.code())
            .map_or(self.text.as_str(), |(_, t)| t.as_str())
    }
}

/// How the business speaks. `tone` and `rules` are the system prompt for a language model;
/// the built-in drafter uses the honorific, greeting and sign-off.
#[derive(Clone, Debug, Default)]
pub struct Persona {
    pub tone: String,
    pub rules: Vec<String>,
    /// How customers are addressed (`kak`); empty for none.
    pub honorific: String,
    pub greeting: Option<String>,
    pub sign_off: Option<String>,
}

impl Persona {
    /// The system prompt for a language model: tone, then the rules, one per line.
    #[must_use]
    pub fn system_prompt(&self, business: &str) -> String {
        let mut out = format!("You answer customer messages for {business}.");
        if !self.tone.is_empty() {
            out.push_str(&format!(" Tone: {}.", self.tone.trim_end_matches('.')));
        }
        for rule in &self.rules {
            out.push_str("\n- ");
            out.push_str(rule);
        }
        out
    }
}
