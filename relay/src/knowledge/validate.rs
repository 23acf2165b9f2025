//! Raw file → checked model. Stops at the first problem and names where it is.
//!
//! The checks are the ones a draft relies on: a sku or policy key cited by a draft names
//! exactly one thing; a price is a non-negative amount of a currency written as an ISO code;
//! a link the drafter might repeat is on the tenant's own domains; hours and stock can be
//! stated without guessing.

use super::error::KnowledgeError;
use super::hours::{self, Hours, Weekday};
use super::link;
use super::model::{
    Business, Contact, Item, Knowledge, Language, Persona, Policy, ShippingRegion, Variant,
};
use super::money::{Currency, Money};
use super::raw::{
    RawBusiness, RawContact, RawHours, RawItem, RawKnowledge, RawPolicy, RawShippingRegion,
    RawVariant,
};
use std::collections::{HashMap, HashSet};

type Result<T> = std::result::Result<T, KnowledgeError>;

pub(super) fn knowledge(raw: RawKnowledge) -> Result<Knowledge> {
    let allowed_domains = raw
        .links
        .allowed_domains
        .iter()
        .enumerate()
        .map(|(i, d)| allowed_domain(i, d))
        .collect::<Result<Vec<_>>>()?;
    let business = business(raw.business, &allowed_domains)?;
    let mut skus: HashMap<String, usize> = HashMap::new();
    let mut items = Vec::with_capacity(raw.items.len());
    for (i, item) in raw.items.into_iter().enumerate() {
        let at = format!("items[{i}] (sku {})", item.sku);
        let key = item.sku.trim().to_ascii_lowercase();
        if let Some(&first) = skus.get(&key) {
            return Err(KnowledgeError::DuplicateSku {
                at,
                sku: item.sku,
                first,
            });
        }
        skus.insert(key, i);
        items.push(self::item(&at, item, business.currency, &allowed_domains)?);
    }
    let mut keys: HashMap<String, usize> = HashMap::new();
    let mut policies = Vec::with_capacity(raw.policies.len());
    for (i, p) in raw.policies.into_iter().enumerate() {
        let at = format!("policies[{i}] (key {})", p.key);
        if let Some(&first) = keys.get(&p.key) {
            return Err(KnowledgeError::DuplicatePolicy {
                at,
                key: p.key,
                first,
            });
        }
        keys.insert(p.key.clone(), i);
        policies.push(policy(&at, p, &allowed_domains)?);
    }
    let blocked_words = raw
        .safety
        .blocked_words
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            let w = w.trim().to_string();
            if w.is_empty() {
                Err(KnowledgeError::invalid(
                    format!("safety.blocked_words[{i}]"),
                    "is empty",
                ))
            } else {
                Ok(w)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let persona = Persona {
        tone: raw.persona.tone.unwrap_or_default(),
        rules: raw.persona.rules,
        honorific: raw.persona.honorific.unwrap_or_default(),
        greeting: raw.persona.greeting,
        sign_off: raw.persona.sign_off,
    };
    Ok(Knowledge {
        business,
        persona,
        items,
        policies,
        allowed_domains,
        blocked_words,
    })
}

fn allowed_domain(i: usize, d: &str) -> Result<String> {
    let d = d.trim().to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let ok = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if ok {
        Ok(d)
    } else {
        Err(KnowledgeError::invalid(
            format!("links.allowed_domains[{i}]"),
            format!("`{d}` is not a domain name like `shop.example` (no scheme, no path)"),
        ))
    }
}

fn business(raw: RawBusiness, allowed: &[String]) -> Result<Business> {
    if raw.name.trim().is_empty() {
        return Err(KnowledgeError::invalid("business.name", "is empty"));
    }
    let currency = currency("business.currency", &raw.currency)?;
    let language = match raw.language.as_deref().map(str::trim) {
        None | Some("en") => Language::English,
        Some("id") => Language::Indonesian,
        Some(other) => {
            return Err(KnowledgeError::invalid(
                "business.language",
                format!("`{other}` is not `id` or `en`"),
            ));
        }
    };
    let contact = contact(raw.contact, allowed)?;
    let (hours, hours_note) = match raw.hours {
        Some(h) => {
            let note = h.note.clone();
            (Some(self::hours(h)?), note)
        }
        None => (None, None),
    };
    let shipping_regions = raw
        .shipping_regions
        .into_iter()
        .enumerate()
        .map(|(i, r)| shipping_region(i, r, currency))
        .collect::<Result<Vec<_>>>()?;
    Ok(Business {
        name: raw.name.trim().to_string(),
        currency,
        language,
        address: raw.address,
        contact,
        hours,
        hours_note,
        shipping_regions,
    })
}

fn currency(at: &str, code: &str) -> Result<Currency> {
    Currency::parse(code.trim()).ok_or_else(|| {
        KnowledgeError::invalid(
            at,
            format!("`{code}` is not an ISO 4217 code of three upper-case letters (IDR, USD, EUR)"),
        )
    })
}

fn contact(raw: RawContact, allowed: &[String]) -> Result<Contact> {
    if let Some(email) = &raw.email
        && !is_email(email)
    {
        return Err(KnowledgeError::invalid(
            "business.contact.email",
            format!("`{email}` is not an e-mail address"),
        ));
    }
    for (at, phone) in [
        ("business.contact.phone", &raw.phone),
        ("business.contact.whatsapp", &raw.whatsapp),
    ] {
        if let Some(p) = phone {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            let shape = p
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
            if !shape || !(7..=15).contains(&digits) {
                return Err(KnowledgeError::invalid(
                    at,
                    format!("`{p}` is not a phone number (7 to 15 digits, + - ( ) and spaces)"),
                ));
            }
        }
    }
    if let Some(url) = &raw.website {
        check_url("business.contact.website", url, allowed)?;
    }
    Ok(Contact {
        phone: raw.phone,
        whatsapp: raw.whatsapp,
        email: raw.email,
        website: raw.website,
        instagram: raw.instagram,
    })
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.trim().split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
}

fn hours(raw: RawHours) -> Result<Hours> {
    if !hours::is_iana_zone_name(raw.timezone.trim()) {
        return Err(KnowledgeError::invalid(
            "business.hours.timezone",
            format!(
                "`{}` is not an IANA time zone name such as `Asia/Jakarta`",
                raw.timezone
            ),
        ));
    }
    let texts = [
        raw.mon, raw.tue, raw.wed, raw.thu, raw.fri, raw.sat, raw.sun,
    ];
    let mut days: [Vec<hours::TimeRange>; 7] = Default::default();
    for (day, text) in Weekday::ALL.into_iter().zip(texts) {
        days[day.index()] = hours::parse_day(text.as_deref().unwrap_or("closed"))
            .map_err(|p| KnowledgeError::invalid(format!("business.hours.{}", day.key()), p.0))?;
    }
    Ok(Hours {
        timezone: raw.timezone.trim().to_string(),
        days,
    })
}

fn shipping_region(i: usize, raw: RawShippingRegion, currency: Currency) -> Result<ShippingRegion> {
    let at = format!("business.shipping_regions[{i}] ({})", raw.name);
    if raw.name.trim().is_empty() {
        return Err(KnowledgeError::invalid(at, "name is empty"));
    }
    let fee = match raw.fee {
        Some(f) if f < 0 => {
            return Err(KnowledgeError::invalid(format!("{at}.fee"), "is negative"));
        }
        Some(f) => Some(Money::new(f, currency)),
        None => None,
    };
    let days = match raw.days {
        Some([a, b]) if a > b => {
            return Err(KnowledgeError::invalid(
                format!("{at}.days"),
                format!("[{a}, {b}]: the first number is the fastest estimate"),
            ));
        }
        Some([a, b]) => Some((a, b)),
        None => None,
    };
    Ok(ShippingRegion {
        name: raw.name,
        places: raw.places,
        fee,
        days,
    })
}

fn item(at: &str, raw: RawItem, default: Currency, allowed: &[String]) -> Result<Item> {
    let sku = raw.sku.trim().to_string();
    if sku.is_empty() || sku.contains(char::is_whitespace) {
        return Err(KnowledgeError::invalid(
            format!("{at}.sku"),
            "must be non-empty without spaces",
        ));
    }
    if raw.name.trim().is_empty() {
        return Err(KnowledgeError::invalid(format!("{at}.name"), "is empty"));
    }
    let currency = match &raw.currency {
        Some(c) => currency(&format!("{at}.currency"), c)?,
        None => default,
    };
    let price = non_negative(&format!("{at}.price"), raw.price)?;
    if let Some(url) = &raw.url {
        check_url(&format!("{at}.url"), url, allowed)?;
    }
    check_links_in(&format!("{at}.description"), &raw.description, allowed)?;
    let stock = raw
        .stock
        .map(|s| count(&format!("{at}.stock"), s))
        .transpose()?;
    let made_to_order = raw.lead_time_days.is_some();
    if raw.variants.is_empty() && stock.is_none() && !made_to_order {
        return Err(KnowledgeError::invalid(
            at,
            "needs `stock`, `variants` with stock, or `lead_time_days` (made to order)",
        ));
    }
    let mut variants: Vec<Variant> = Vec::with_capacity(raw.variants.len());
    // Labels seen so far, lower-cased: one lookup per variant keeps validation linear in
    // the number of variants (comparing each with every earlier one was quadratic).
    let mut labels: HashSet<String> = HashSet::with_capacity(raw.variants.len());
    for (j, v) in raw.variants.into_iter().enumerate() {
        let v = variant(&format!("{at}.variants[{j}]"), v, currency, made_to_order)?;
        if !labels.insert(v.label().to_ascii_lowercase()) {
            return Err(KnowledgeError::invalid(
                format!("{at}.variants[{j}]"),
                format!("variant `{}` is listed twice", v.label()),
            ));
        }
        variants.push(v);
    }
    Ok(Item {
        sku,
        name: raw.name.trim().to_string(),
        aliases: raw.aliases,
        description: raw.description,
        category: raw.category,
        price: Money::new(price, currency),
        url: raw.url,
        stock,
        lead_time_days: raw.lead_time_days,
        details: raw.details,
        variants,
    })
}

fn variant(at: &str, raw: RawVariant, currency: Currency, made_to_order: bool) -> Result<Variant> {
    if raw.size.is_none() && raw.colour.is_none() {
        return Err(KnowledgeError::invalid(at, "needs a `size` or a `colour`"));
    }
    if raw.stock.is_none() && !made_to_order {
        return Err(KnowledgeError::invalid(
            at,
            "needs `stock` (only made-to-order items, with `lead_time_days`, may omit it)",
        ));
    }
    Ok(Variant {
        size: raw.size.map(|s| s.trim().to_string()),
        colour: raw.colour.map(|c| c.trim().to_string()),
        price: raw
            .price
            .map(|p| non_negative(&format!("{at}.price"), p).map(|p| Money::new(p, currency)))
            .transpose()?,
        stock: raw
            .stock
            .map(|s| count(&format!("{at}.stock"), s))
            .transpose()?,
    })
}

fn non_negative(at: &str, value: i64) -> Result<i64> {
    if value < 0 {
        Err(KnowledgeError::invalid(
            at,
            format!("{value} is negative (prices are minor units: whole rupiah, cents)"),
        ))
    } else {
        Ok(value)
    }
}

fn count(at: &str, value: i64) -> Result<u32> {
    u32::try_from(value)
        .map_err(|_| KnowledgeError::invalid(at, format!("{value} is not a stock count")))
}

fn policy(at: &str, raw: RawPolicy, allowed: &[String]) -> Result<Policy> {
    let key_ok = !raw.key.is_empty()
        && raw
            .key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !key_ok {
        return Err(KnowledgeError::invalid(
            format!("{at}.key"),
            "must be lower-case letters, digits, `_` or `-` (e.g. `returns`)",
        ));
    }
    if raw.title.trim().is_empty() {
        return Err(KnowledgeError::invalid(format!("{at}.title"), "is empty"));
    }
    if raw.text.trim().is_empty() {
        return Err(KnowledgeError::invalid(format!("{at}.text"), "is empty"));
    }
    check_links_in(&format!("{at}.text"), &raw.text, allowed)?;
    Ok(Policy {
        key: raw.key,
        title: raw.title.trim().to_string(),
        text: raw.text.trim().to_string(),
    })
}

fn check_url(at: &str, url: &str, allowed: &[String]) -> Result<()> {
    let host = link::host_of(url)
        .ok_or_else(|| KnowledgeError::invalid(at, format!("`{url}` is not an http(s) URL")))?;
    if link::domain_allowed(&host, allowed) {
        Ok(())
    } else {
        Err(KnowledgeError::LinkNotAllowed {
            at: at.to_string(),
            url: url.to_string(),
            allowed: allowed.to_vec(),
        })
    }
}

fn check_links_in(at: &str, text: &str, allowed: &[String]) -> Result<()> {
    for l in link::find_links(text) {
        if !link::domain_allowed(&l.host, allowed) {
            return Err(KnowledgeError::LinkNotAllowed {
                at: at.to_string(),
                url: text[l.range].to_string(),
                allowed: allowed.to_vec(),
            });
        }
    }
    Ok(())
}
