//! The checked, typed model of a tenant's knowledge: what the drafter retrieves from and what
//! the safety classifier grounds drafts against.
//!
//! Values here have passed validation (see `validate`): skus and policy keys are unique,
//! prices are non-negative minor units of a known currency shape, every URL is within the
//! tenant's allowed link domains. The model is plain data with no behaviour beyond lookups.

use super::hours::Hours;
use super::money::{Currency, Money};
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
}

/// The language replies default to when a message gives no clue.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Language {
    Indonesian,
    English,
}

#[derive(Clone, Debug)]
pub struct Business {
    pub name: String,
    /// Currency of item prices and fees that do not name their own.
    pub currency: Currency,
    pub language: Language,
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
    /// Stock of an item without variants.
    pub stock: Option<u32>,
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
}

/// One sellable variant (a size, a colour, or both) and its stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub size: Option<String>,
    pub colour: Option<String>,
    /// Overrides the item's price (a larger cake, a longer dress).
    pub price: Option<Money>,
    /// `None` only for made-to-order items.
    pub stock: Option<u32>,
}

impl Variant {
    /// `M`, `Sage`, `M / Sage`.
    #[must_use]
    pub fn label(&self) -> String {
        match (&self.size, &self.colour) {
            (Some(s), Some(c)) => format!("{s} / {c}"),
            (Some(s), None) => s.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) => String::new(),
        }
    }
}

/// A policy such as returns, shipping, payment or privacy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Stable key (`returns`, `shipping`, `payment`…), cited by drafts.
    pub key: String,
    pub title: String,
    pub text: String,
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
