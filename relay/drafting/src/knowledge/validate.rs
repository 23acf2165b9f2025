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
    Business, Closure, Contact, Item, ItemKind, Knowledge, Language, Order, OrderKind, OrderLookup,
    OtherLanguages, Persona, Policy, ShippingRegion, Variant, order_key,
};
use super::money::{Currency, Money};
use super::raw::{
    RawBusiness, RawClosure, RawContact, RawDays, RawHours, RawItem, RawKnowledge, RawOrder,
    RawPolicy, RawShippingRegion, RawStock, RawVariant,
};
use std::collections::{BTreeMap, HashMap, HashSet};

type Result<T> = std::result::Result<T, KnowledgeError>;

pub(super) fn knowledge(raw: RawKnowledge) -> Result<Knowledge> {
    if let Some(v) = raw.version
        && !(1..=2).contains(&v)
    {
        return Err(KnowledgeError::invalid(
            "version",
            format!("{v}: this relay reads versions 1 and 2"),
        ));
    }
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
        let item = self::item(&at, item, business.currency, &allowed_domains)?;
        for (j, v) in item.variants.iter().enumerate() {
            if let Some(sku) = &v.sku {
                let key = sku.to_ascii_lowercase();
                if let Some(&first) = skus.get(&key)
                    && (first != i || key == item.sku.to_ascii_lowercase())
                {
                    return Err(KnowledgeError::DuplicateSku {
                        at: format!("{at}.variants[{j}]"),
                        sku: sku.clone(),
                        first,
                    });
                }
                skus.insert(key, i);
            }
        }
        items.push(item);
    }
    let mut numbers: HashMap<String, usize> = HashMap::new();
    let mut orders = Vec::with_capacity(raw.orders.len());
    for (i, o) in raw.orders.into_iter().enumerate() {
        let at = format!("orders[{i}] (number {})", o.number);
        let key = order_key(&o.number);
        if let Some(&first) = numbers.get(&key) {
            return Err(KnowledgeError::invalid(
                at,
                format!("number `{}` is already used by orders[{first}]", o.number),
            ));
        }
        numbers.insert(key, i);
        orders.push(order(&at, o)?);
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
        orders,
    })
}

fn order(at: &str, raw: RawOrder) -> Result<Order> {
    if order_key(&raw.number).is_empty() {
        return Err(KnowledgeError::invalid(
            format!("{at}.number"),
            "needs letters or digits",
        ));
    }
    if raw.status.trim().is_empty() {
        return Err(KnowledgeError::invalid(format!("{at}.status"), "is empty"));
    }
    let kind = match raw.kind.as_deref().map(str::trim) {
        None | Some("order") => OrderKind::Order,
        Some("repair" | "ticket") => OrderKind::Repair,
        Some(other) => {
            return Err(KnowledgeError::invalid(
                format!("{at}.kind"),
                format!("`{other}` is not `order` or `repair`"),
            ));
        }
    };
    for (key, d) in [("eta", &raw.eta), ("updated", &raw.updated)] {
        if let Some(d) = d {
            date(&format!("{at}.{key}"), d)?;
        }
    }
    Ok(Order {
        number: raw.number.trim().to_string(),
        kind,
        status: raw.status.trim().to_string(),
        eta: raw.eta,
        updated: raw.updated,
        note: raw.note,
    })
}

/// A calendar date written `YYYY-MM-DD`.
fn date(at: &str, d: &str) -> Result<String> {
    let parts: Vec<&str> = d.trim().split('-').collect();
    let ok = parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && parts[1].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && parts[2].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
    if ok {
        Ok(d.trim().to_string())
    } else {
        Err(KnowledgeError::invalid(
            at,
            format!("`{d}` is not a date written YYYY-MM-DD"),
        ))
    }
}

fn language(at: &str, code: &str) -> Result<Language> {
    Language::parse(code).ok_or_else(|| {
        KnowledgeError::invalid(
            at,
            format!(
                "`{code}` has no phrase file (built in: en, id, es, pt; more in RELAY_LANG_DIR)"
            ),
        )
    })
}

fn closure(i: usize, raw: RawClosure) -> Result<Closure> {
    let at = format!("business.closures[{i}]");
    let (from, to) = match (raw.date, raw.from, raw.to) {
        (Some(d), None, None) => {
            let d = date(&format!("{at}.date"), &d)?;
            (d.clone(), d)
        }
        (None, Some(f), Some(t)) => {
            let f = date(&format!("{at}.from"), &f)?;
            let t = date(&format!("{at}.to"), &t)?;
            if t < f {
                return Err(KnowledgeError::invalid(
                    format!("{at}.to"),
                    "is before `from`",
                ));
            }
            (f, t)
        }
        _ => {
            return Err(KnowledgeError::invalid(
                at,
                "needs `date`, or `from` and `to`",
            ));
        }
    };
    Ok(Closure {
        from,
        to,
        note: raw.note,
    })
}

fn clock(at: &str, t: &str) -> Result<String> {
    let ok = t.trim().split_once(':').is_some_and(|(h, m)| {
        h.len() == 2
            && m.len() == 2
            && h.parse::<u32>().is_ok_and(|h| h < 24)
            && m.parse::<u32>().is_ok_and(|m| m < 60)
    });
    if ok {
        Ok(t.trim().to_string())
    } else {
        Err(KnowledgeError::invalid(
            at,
            format!("`{t}` is not a time written HH:MM"),
        ))
    }
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
    let mut languages = Vec::new();
    if let Some(l) = &raw.language {
        languages.push(language("business.language", l)?);
    }
    for (i, l) in raw.languages.iter().enumerate() {
        let l = language(&format!("business.languages[{i}]"), l)?;
        if !languages.contains(&l) {
            languages.push(l);
        }
    }
    if raw.languages.is_empty() {
        // A v1 file named only its default: English and Indonesian were both answered.
        for l in [Language::ENGLISH, Language::INDONESIAN] {
            if !languages.contains(&l) {
                languages.push(l);
            }
        }
    }
    let language = languages[0];
    let other_languages = match raw.other_languages.as_deref().map(str::trim) {
        None | Some("main") => OtherLanguages::Main,
        Some("handoff") => OtherLanguages::Handoff,
        Some(other) => {
            return Err(KnowledgeError::invalid(
                "business.other_languages",
                format!("`{other}` is not `main` or `handoff`"),
            ));
        }
    };
    let as_of = raw
        .as_of
        .as_deref()
        .map(|d| date("business.as_of", d))
        .transpose()?;
    if let Some(url) = &raw.booking_url {
        check_url("business.booking_url", url, allowed)?;
    }
    let order_lookup = match raw.order_lookup_url {
        Some(url) => {
            if link::host_of(&url).is_none() {
                return Err(KnowledgeError::invalid(
                    "business.order_lookup_url",
                    format!("`{url}` is not an http(s) URL"),
                ));
            }
            Some(OrderLookup {
                url,
                timeout_ms: raw
                    .order_lookup_timeout_ms
                    .unwrap_or(2000)
                    .clamp(100, 10_000),
            })
        }
        None => None,
    };
    let free_shipping_over = raw
        .free_shipping_over
        .map(|f| non_negative("business.free_shipping_over", f).map(|f| Money::new(f, currency)))
        .transpose()?;
    let dispatch_cutoff = raw
        .dispatch_cutoff
        .as_deref()
        .map(|t| clock("business.dispatch_cutoff", t))
        .transpose()?;
    let closures = raw
        .closures
        .into_iter()
        .enumerate()
        .map(|(i, c)| closure(i, c))
        .collect::<Result<Vec<_>>>()?;
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
        languages,
        other_languages,
        as_of,
        booking_url: raw.booking_url,
        order_lookup,
        free_shipping_over,
        dispatch_cutoff,
        closures,
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
    let free_over = raw
        .free_over
        .map(|f| non_negative(&format!("{at}.free_over"), f).map(|f| Money::new(f, currency)))
        .transpose()?;
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
        free_over,
    })
}

/// A count, `"unlimited"` (→ `None`, true), or absent.
fn stock(at: &str, raw: Option<RawStock>) -> Result<(Option<u32>, bool)> {
    match raw {
        None => Ok((None, false)),
        Some(RawStock::Count(n)) => Ok((Some(count(at, n)?), false)),
        Some(RawStock::Word(w)) if w.trim() == "unlimited" => Ok((None, true)),
        Some(RawStock::Word(w)) => Err(KnowledgeError::invalid(
            at,
            format!("`{w}` is not a count or \"unlimited\""),
        )),
    }
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
    let kind = match raw.kind.as_deref().map(str::trim) {
        None | Some("product") => ItemKind::Product,
        Some("service") => ItemKind::Service,
        Some("gift_card") => ItemKind::GiftCard,
        Some(other) => {
            return Err(KnowledgeError::invalid(
                format!("{at}.kind"),
                format!("`{other}` is not `product`, `service` or `gift_card`"),
            ));
        }
    };
    let (stock, mut unlimited) = stock(&format!("{at}.stock"), raw.stock)?;
    // A service or a gift card has no stock to count unless the file gives one.
    if kind != ItemKind::Product && stock.is_none() {
        unlimited = true;
    }
    let made_to_order = raw.lead_time_days.is_some();
    if raw.variants.is_empty() && stock.is_none() && !made_to_order && !unlimited {
        return Err(KnowledgeError::invalid(
            at,
            "needs `stock` (a count or \"unlimited\"), `variants` with stock, or \
             `lead_time_days` (made to order)",
        ));
    }
    let restock = raw
        .restock
        .as_deref()
        .map(|d| date(&format!("{at}.restock"), d))
        .transpose()?;
    let turnaround_days = match raw.turnaround_days.map(|d| match d {
        RawDays::One(n) => [n, n],
        RawDays::Range(r) => r,
    }) {
        Some([a, b]) if a > b => {
            return Err(KnowledgeError::invalid(
                format!("{at}.turnaround_days"),
                format!("[{a}, {b}]: the first number is the fastest estimate"),
            ));
        }
        Some([a, b]) => Some((a, b)),
        None => None,
    };
    let mut descriptions = BTreeMap::new();
    for (code, t) in raw.translations {
        language(&format!("{at}.translations.{code}"), &code)?;
        check_links_in(
            &format!("{at}.translations.{code}.description"),
            t.description.as_deref().unwrap_or(""),
            allowed,
        )?;
        if let Some(d) = t.description {
            descriptions.insert(code, d);
        }
    }
    let mut variants: Vec<Variant> = Vec::with_capacity(raw.variants.len());
    // Labels seen so far, lower-cased: one lookup per variant keeps validation linear in
    // the number of variants (comparing each with every earlier one was quadratic).
    let mut labels: HashSet<String> = HashSet::with_capacity(raw.variants.len());
    for (j, v) in raw.variants.into_iter().enumerate() {
        let v = variant(
            &format!("{at}.variants[{j}]"),
            v,
            currency,
            made_to_order,
            unlimited,
        )?;
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
        kind,
        stock,
        unlimited,
        restock,
        duration_minutes: raw.duration_minutes,
        turnaround_days,
        descriptions,
        lead_time_days: raw.lead_time_days,
        details: raw.details,
        variants,
    })
}

fn variant(
    at: &str,
    raw: RawVariant,
    currency: Currency,
    made_to_order: bool,
    item_unlimited: bool,
) -> Result<Variant> {
    if raw.size.is_none() && raw.colour.is_none() && raw.options.is_empty() {
        return Err(KnowledgeError::invalid(
            at,
            "needs a `size`, a `colour` or `options` (e.g. { shade = \"Ivory\" })",
        ));
    }
    let (stock, mut unlimited) = stock(&format!("{at}.stock"), raw.stock)?;
    // A service's options (a basic or a complete service) are as unlimited as the service.
    unlimited |= item_unlimited && stock.is_none();
    if stock.is_none() && !unlimited && !made_to_order {
        return Err(KnowledgeError::invalid(
            at,
            "needs `stock` (only made-to-order items, with `lead_time_days`, may omit it)",
        ));
    }
    if let Some(sku) = &raw.sku
        && (sku.trim().is_empty() || sku.contains(char::is_whitespace))
    {
        return Err(KnowledgeError::invalid(
            format!("{at}.sku"),
            "must be non-empty without spaces",
        ));
    }
    let restock = raw
        .restock
        .as_deref()
        .map(|d| date(&format!("{at}.restock"), d))
        .transpose()?;
    Ok(Variant {
        size: raw.size.map(|s| s.trim().to_string()),
        colour: raw.colour.map(|c| c.trim().to_string()),
        options: raw
            .options
            .into_iter()
            .map(|(k, v)| (k, v.trim().to_string()))
            .collect(),
        sku: raw.sku.map(|s| s.trim().to_string()),
        unlimited,
        restock,
        price: raw
            .price
            .map(|p| non_negative(&format!("{at}.price"), p).map(|p| Money::new(p, currency)))
            .transpose()?,
        stock,
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
    let mut translations = BTreeMap::new();
    for (code, t) in raw.translations {
        language(&format!("{at}.translations.{code}"), &code)?;
        let text = t.text.unwrap_or_default();
        check_links_in(&format!("{at}.translations.{code}.text"), &text, allowed)?;
        if !text.trim().is_empty() {
            translations.insert(
                code,
                (
                    t.title.unwrap_or_else(|| raw.title.clone()),
                    text.trim().to_string(),
                ),
            );
        }
    }
    Ok(Policy {
        key: raw.key,
        title: raw.title.trim().to_string(),
        text: raw.text.trim().to_string(),
        translations,
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
