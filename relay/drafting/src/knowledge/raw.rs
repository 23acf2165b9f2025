//! The knowledge file exactly as written: serde structs that mirror the TOML, before any
//! checking. Unknown keys are refused, so a misspelt key is an error, not a silent default.
//!
//! Nothing outside `knowledge` sees these types; `validate` turns them into the model.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKnowledge {
    /// `2` for files that use this format's additions; absent in v1 files, which load as is.
    #[serde(default)]
    pub version: Option<u32>,
    pub business: RawBusiness,
    #[serde(default)]
    pub persona: RawPersona,
    #[serde(default)]
    pub links: RawLinks,
    #[serde(default)]
    pub safety: RawSafety,
    #[serde(default)]
    pub items: Vec<RawItem>,
    #[serde(default)]
    pub policies: Vec<RawPolicy>,
    #[serde(default)]
    pub orders: Vec<RawOrder>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBusiness {
    pub name: String,
    pub currency: String,
    #[serde(default)]
    pub language: Option<String>,
    /// Languages answered in, main first (v2; `language` is the v1 spelling of the first).
    #[serde(default)]
    pub languages: Vec<String>,
    /// `main` (answer other languages in the main one) or `handoff`.
    #[serde(default)]
    pub other_languages: Option<String>,
    /// The date the knowledge is true for (`YYYY-MM-DD`).
    #[serde(default)]
    pub as_of: Option<String>,
    #[serde(default)]
    pub booking_url: Option<String>,
    #[serde(default)]
    pub order_lookup_url: Option<String>,
    #[serde(default)]
    pub order_lookup_timeout_ms: Option<u64>,
    #[serde(default)]
    pub free_shipping_over: Option<i64>,
    /// `HH:MM` in the hours' time zone: orders placed earlier leave that working day.
    #[serde(default)]
    pub dispatch_cutoff: Option<String>,
    #[serde(default)]
    pub closures: Vec<RawClosure>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub contact: RawContact,
    #[serde(default)]
    pub hours: Option<RawHours>,
    #[serde(default)]
    pub shipping_regions: Vec<RawShippingRegion>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContact {
    pub phone: Option<String>,
    pub whatsapp: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub instagram: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHours {
    pub timezone: String,
    pub mon: Option<String>,
    pub tue: Option<String>,
    pub wed: Option<String>,
    pub thu: Option<String>,
    pub fri: Option<String>,
    pub sat: Option<String>,
    pub sun: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShippingRegion {
    pub name: String,
    #[serde(default)]
    pub places: Vec<String>,
    pub fee: Option<i64>,
    pub days: Option<[u32; 2]>,
    #[serde(default)]
    pub free_over: Option<i64>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClosure {
    pub date: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub note: Option<String>,
}

/// Days as one number (`3`) or a range, fastest first (`[2, 4]`).
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(untagged)]
pub(super) enum RawDays {
    One(u32),
    Range([u32; 2]),
}

/// A stock count, or `"unlimited"` for services and gift cards.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub(super) enum RawStock {
    Count(i64),
    Word(String),
}

/// A text in another language: any of the fields it replaces.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTranslation {
    pub title: Option<String>,
    pub text: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOrder {
    pub number: String,
    #[serde(default)]
    pub kind: Option<String>,
    pub status: String,
    pub eta: Option<String>,
    pub updated: Option<String>,
    pub note: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPersona {
    pub tone: Option<String>,
    #[serde(default)]
    pub rules: Vec<String>,
    pub honorific: Option<String>,
    pub greeting: Option<String>,
    pub sign_off: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLinks {
    #[serde(default)]
    pub allowed_domains: Vec<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSafety {
    #[serde(default)]
    pub blocked_words: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawItem {
    pub sku: String,
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub category: Option<String>,
    pub price: i64,
    pub currency: Option<String>,
    pub url: Option<String>,
    pub stock: Option<RawStock>,
    pub lead_time_days: Option<u32>,
    /// `product` (default), `service` or `gift_card`.
    pub kind: Option<String>,
    pub duration_minutes: Option<u32>,
    pub turnaround_days: Option<RawDays>,
    pub restock: Option<String>,
    #[serde(default)]
    pub translations: BTreeMap<String, RawTranslation>,
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    #[serde(default)]
    pub variants: Vec<RawVariant>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVariant {
    pub size: Option<String>,
    #[serde(alias = "color")]
    pub colour: Option<String>,
    /// Other options (`shade`, `volume`, `valve`, `width`…), name → value.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub sku: Option<String>,
    pub price: Option<i64>,
    pub stock: Option<RawStock>,
    pub restock: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub key: String,
    pub title: String,
    pub text: String,
    #[serde(default)]
    pub translations: BTreeMap<String, RawTranslation>,
}
