//! What a draft may state: every amount, percentage, phone number, e-mail address, date and
//! sku that appears in the tenant's knowledge (structured values and free texts alike) or in
//! the customer's own message, and the link domains the tenant allows or the customer used.

use super::extract::{self, Amount, Claim};
use crate::draft::{BusinessField, FactRef};
use crate::knowledge::{Knowledge, Money, link};
use std::collections::HashSet;

/// The values a draft may repeat.
#[derive(Debug, Default)]
pub struct Grounds {
    amounts: Vec<Amount>,
    percents: HashSet<i64>,
    phones: HashSet<String>,
    emails: HashSet<String>,
    dates: HashSet<String>,
    skus: HashSet<String>,
    pub hosts: Vec<String>,
}

impl Grounds {
    /// Everything the knowledge states.
    #[must_use]
    pub fn knowledge(k: &Knowledge) -> Grounds {
        let mut g = Grounds::default();
        for item in &k.items {
            g.skus.insert(item.sku.to_ascii_lowercase());
            for p in item.prices() {
                g.money(p);
            }
            g.text(&item.name);
            g.text(&item.description);
            for v in item.details.values() {
                g.text(v);
            }
            for v in &item.variants {
                g.text(&v.label());
            }
        }
        for r in &k.business.shipping_regions {
            for m in [r.fee, r.free_over].into_iter().flatten() {
                g.money(m);
            }
        }
        if let Some(m) = k.business.free_shipping_over {
            g.money(m);
        }
        for p in &k.policies {
            g.text(&p.title);
            g.text(&p.text);
            for (title, text) in p.translations.values() {
                g.text(title);
                g.text(text);
            }
        }
        // v2: variant skus, dates (restock, closures, the knowledge's own), orders.
        for item in &k.items {
            for sku in item.skus() {
                g.skus.insert(sku.to_ascii_lowercase());
            }
            item.descriptions.values().for_each(|d| g.text(d));
            item.restock.iter().for_each(|d| g.text(d));
            item.variants
                .iter()
                .filter_map(|v| v.restock.as_ref())
                .for_each(|d| g.text(d));
        }
        for c in &k.business.closures {
            g.text(&c.from);
            g.text(&c.to);
            c.note.iter().for_each(|n| g.text(n));
        }
        k.business.as_of.iter().for_each(|d| g.text(d));
        for o in &k.orders {
            g.text(&o.number);
            g.text(&o.status);
            for t in [&o.eta, &o.updated, &o.note].into_iter().flatten() {
                g.text(t);
            }
        }
        let c = &k.business.contact;
        for phone in [&c.phone, &c.whatsapp].into_iter().flatten() {
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            g.phones.insert(extract::normalise_phone(&digits));
        }
        if let Some(e) = &c.email {
            g.emails.insert(e.trim().to_lowercase());
        }
        for t in [&k.business.address, &k.business.hours_note, &c.website]
            .into_iter()
            .flatten()
        {
            g.text(t);
        }
        g.hosts = k.allowed_domains.clone();
        g
    }

    /// Everything the customer's message states.
    #[must_use]
    pub fn message(customer_message: &str) -> Grounds {
        let mut g = Grounds::default();
        g.text(customer_message);
        g.hosts = link::find_links(customer_message)
            .into_iter()
            .map(|l| l.host)
            .collect();
        g
    }

    /// The amounts the cited facts state: the cited items' prices, the cited policies'
    /// texts, the shipping fees and thresholds when shipping is cited.
    #[must_use]
    pub fn facts(k: &Knowledge, facts: &[FactRef]) -> Grounds {
        let mut g = Grounds::default();
        for f in facts {
            match f {
                FactRef::Item { sku } => {
                    if let Some(item) = k.item(sku) {
                        item.prices().into_iter().for_each(|p| g.money(p));
                        g.text(&item.description);
                        item.details.values().for_each(|v| g.text(v));
                        item.variants.iter().for_each(|v| g.text(&v.label()));
                    }
                }
                FactRef::Policy { key } => {
                    if let Some(p) = k.policy(key) {
                        g.text(&p.text);
                        g.text(&p.title);
                        p.translations.values().for_each(|(a, b)| {
                            g.text(a);
                            g.text(b);
                        });
                    }
                }
                FactRef::Business { field } => match field {
                    BusinessField::ShippingRegions | BusinessField::FreeShipping => {
                        for r in &k.business.shipping_regions {
                            for m in [r.fee, r.free_over].into_iter().flatten() {
                                g.money(m);
                            }
                        }
                        if let Some(m) = k.business.free_shipping_over {
                            g.money(m);
                        }
                    }
                    _ => {
                        for t in [&k.business.address, &k.business.hours_note]
                            .into_iter()
                            .flatten()
                        {
                            g.text(t);
                        }
                    }
                },
                FactRef::Order { number } => {
                    if let Some(o) = k.order(number) {
                        g.text(&o.status);
                        o.note.iter().for_each(|n| g.text(n));
                    }
                }
            }
        }
        g
    }

    /// Adds the claims of `text` (a value looked up for this message).
    pub fn add_text(&mut self, text: &str) {
        self.text(text);
    }

    fn money(&mut self, m: Money) {
        let per = i128::from(m.currency.minor_per_major());
        self.amounts.push(Amount {
            milli: i128::from(m.minor) * 1000 / per,
            currency: Some(m.currency),
        });
    }

    fn text(&mut self, text: &str) {
        for f in extract::claims(text) {
            match f.claim {
                Claim::Amount(a) => self.amounts.push(a),
                Claim::Percent(p) => {
                    self.percents.insert(p);
                }
                Claim::Phone(p) => {
                    self.phones.insert(p);
                }
                Claim::Email(e) => {
                    self.emails.insert(e);
                }
                Claim::Date(d) => {
                    self.dates.insert(d);
                }
                Claim::Sku(s) => {
                    self.skus.insert(s);
                }
            }
        }
    }

    /// Whether `claim` was found in the knowledge or the customer's message.
    #[must_use]
    pub fn grounds(&self, claim: &Claim) -> bool {
        match claim {
            Claim::Amount(a) => self.amounts.iter().any(|g| {
                g.milli == a.milli
                    && (g.currency.is_none() || a.currency.is_none() || g.currency == a.currency)
            }),
            Claim::Percent(p) => self.percents.contains(p),
            Claim::Phone(p) => self.phones.contains(p),
            Claim::Email(e) => self.emails.contains(e),
            Claim::Date(d) => self.dates.contains(d),
            Claim::Sku(s) => self.skus.contains(s),
        }
    }
}
