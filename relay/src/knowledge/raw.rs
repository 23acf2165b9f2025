//! The knowledge file exactly as written: serde structs that mirror the TOML, before any
//! checking. Unknown keys are refused, so a misspelt key is an error, not a silent default.
//!
//! Nothing outside `knowledge` sees these types; `validate` turns them into the model.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKnowledge {
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
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBusiness {
    pub name: String,
    pub currency: String,
    #[serde(default)]
    pub language: Option<String>,
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
    pub stock: Option<i64>,
    pub lead_time_days: Option<u32>,
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
    pub price: Option<i64>,
    pub stock: Option<i64>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub key: String,
    pub title: String,
    pub text: String,
}
