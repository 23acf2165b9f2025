//! Sentences of a reply, in Indonesian or English, built only from values of the knowledge:
//! every price goes through the currency formatter, every stock count, hour, fee and policy
//! sentence is copied from the file. The templates add connecting words, never facts (no
//! dates, amounts, promises or links of their own), so the safety classifier can ground
//! every number and link in a draft.

use super::retrieve::VariantAsk;
use crate::knowledge::{Hours, Item, Language, Money, Persona, ShippingRegion, Variant, Weekday};

/// Language-specific connecting words.
pub struct Words {
    pub lang: Language,
    /// `, kak` or empty.
    pub you: String,
}

impl Words {
    #[must_use]
    pub fn new(lang: Language, persona: &Persona) -> Words {
        let you = match lang {
            Language::Indonesian if !persona.honorific.is_empty() => {
                format!(" {}", persona.honorific)
            }
            _ => String::new(),
        };
        Words { lang, you }
    }

    fn id(&self) -> bool {
        self.lang == Language::Indonesian
    }

    #[must_use]
    pub fn greeting(&self, persona: &Persona) -> String {
        match (&persona.greeting, self.id()) {
            (Some(g), _) => format!("{g}!"),
            (None, true) => format!("Halo{}!", self.you),
            (None, false) => "Hi!".to_string(),
        }
    }

    #[must_use]
    pub fn how_can_we_help(&self) -> String {
        if self.id() {
            "Ada yang bisa kami bantu?".to_string()
        } else {
            "How can we help?".to_string()
        }
    }

    #[must_use]
    pub fn you_are_welcome(&self) -> String {
        if self.id() {
            format!("Sama-sama{}, senang bisa membantu!", self.you)
        } else {
            "You're welcome, happy to help!".to_string()
        }
    }

    #[must_use]
    pub fn which_item(&self) -> String {
        if self.id() {
            format!("Boleh info nama produk yang dimaksud{}?", self.you)
        } else {
            "Which item do you mean? Let us know the name and we'll check.".to_string()
        }
    }

    /// `Linen Wrap Dress harganya Rp 389.000.` with variant prices when they differ.
    #[must_use]
    pub fn price(&self, item: &Item, ask: &VariantAsk) -> String {
        let asked: Vec<&Variant> = ask.matched.iter().map(|&i| &item.variants[i]).collect();
        let priced: Vec<&Variant> = if asked.is_empty() {
            item.variants.iter().collect()
        } else {
            asked
        };
        let prices: Vec<(String, Money)> = priced
            .iter()
            .map(|v| (v.label(), v.price.unwrap_or(item.price)))
            .collect();
        let distinct = prices
            .iter()
            .map(|(_, p)| *p)
            .fold(Vec::<Money>::new(), |mut acc, p| {
                if !acc.contains(&p) {
                    acc.push(p);
                }
                acc
            });
        if distinct.len() <= 1 {
            let price = distinct.first().copied().unwrap_or(item.price);
            let label = if ask.matched.len() == 1 {
                format!(" {}", prices[0].0)
            } else {
                String::new()
            };
            return if self.id() {
                format!("{}{label} harganya {price}.", item.name)
            } else {
                format!("The {}{label} is {price}.", item.name)
            };
        }
        let list = prices
            .iter()
            .map(|(l, p)| labelled(l, *p))
            .collect::<Vec<_>>()
            .join(", ");
        if self.id() {
            format!("Harga {}: {list}.", item.name)
        } else {
            format!("{} prices: {list}.", item.name)
        }
    }

    /// Stock of the variants asked about, or of the item as a whole.
    #[must_use]
    pub fn stock(&self, item: &Item, ask: &VariantAsk) -> String {
        if item.lead_time_days.is_some() {
            return self.variant_list(item, true);
        }
        if item.variants.is_empty() {
            return match item.stock {
                Some(n) if n > 0 => {
                    if self.id() {
                        format!("{} ready{}, stok {n}.", item.name, self.you)
                    } else {
                        format!("The {} is in stock ({n} left).", item.name)
                    }
                }
                _ => {
                    if self.id() {
                        format!("Maaf{}, {} sedang habis.", self.you, item.name)
                    } else {
                        format!("Sorry, the {} is sold out right now.", item.name)
                    }
                }
            };
        }
        if ask.matched.is_empty() && !ask.asked.is_empty() {
            let asked = ask.asked.join(" ").to_uppercase_first();
            return if self.id() {
                format!(
                    "{} tidak tersedia dalam {asked}. {}",
                    item.name,
                    self.variant_list(item, false)
                )
            } else {
                format!(
                    "The {} doesn't come in {asked}. {}",
                    item.name,
                    self.variant_list(item, false)
                )
            };
        }
        if ask.matched.is_empty() {
            return self.variant_list(item, false);
        }
        let parts: Vec<String> = ask
            .matched
            .iter()
            .map(|&i| {
                let v = &item.variants[i];
                self.variant_stock(v)
            })
            .collect();
        if self.id() {
            format!("{} {}.", item.name, parts.join(", "))
        } else {
            format!("{}: {}.", item.name, parts.join(", "))
        }
    }

    fn variant_stock(&self, v: &Variant) -> String {
        match (v.stock, self.id()) {
            (Some(n), true) if n > 0 => format!("{} ready {n} pcs", v.label()),
            (Some(n), false) if n > 0 => format!("{} in stock ({n} left)", v.label()),
            (_, true) => format!("{} sedang habis", v.label()),
            (_, false) => format!("{} sold out", v.label()),
        }
    }

    /// Every variant: those in stock with counts, then those sold out; prices when they
    /// differ between variants or `with_prices`.
    #[must_use]
    pub fn variant_list(&self, item: &Item, with_prices: bool) -> String {
        if let Some(days) = item.lead_time_days {
            let mut out = self.lead_time(item, days);
            if !item.variants.is_empty() {
                out.push(' ');
                out.push_str(&self.options_with_prices(item));
            }
            return out;
        }
        let differ = item.prices().len() > 1;
        let show = |v: &Variant| {
            if differ || with_prices {
                labelled(&v.label(), v.price.unwrap_or(item.price))
            } else {
                v.label()
            }
        };
        let in_stock: Vec<String> = item
            .variants
            .iter()
            .filter(|v| v.stock.is_some_and(|n| n > 0))
            .map(|v| format!("{} ({})", show(v), v.stock.unwrap_or(0)))
            .collect();
        let out: Vec<String> = item
            .variants
            .iter()
            .filter(|v| v.stock.is_none_or(|n| n == 0))
            .map(show)
            .collect();
        let mut s = match (in_stock.is_empty(), self.id()) {
            (true, true) => format!("Maaf{}, {} sedang habis semua.", self.you, item.name),
            (true, false) => format!("Sorry, the {} is sold out in every option.", item.name),
            (false, true) => format!("{} yang ready: {}.", item.name, in_stock.join(", ")),
            (false, false) => format!("{} in stock: {}.", item.name, in_stock.join(", ")),
        };
        if !out.is_empty() && !in_stock.is_empty() {
            if self.id() {
                s.push_str(&format!(" Habis: {}.", out.join(", ")));
            } else {
                s.push_str(&format!(" Sold out: {}.", out.join(", ")));
            }
        }
        s
    }

    fn options_with_prices(&self, item: &Item) -> String {
        let list = item
            .variants
            .iter()
            .map(|v| labelled(&v.label(), v.price.unwrap_or(item.price)))
            .collect::<Vec<_>>()
            .join(", ");
        if self.id() {
            format!("Pilihan: {list}.")
        } else {
            format!("Options: {list}.")
        }
    }

    #[must_use]
    pub fn lead_time(&self, item: &Item, days: u32) -> String {
        if self.id() {
            format!(
                "{} dibuat sesuai pesanan, mohon pesan minimal {days} hari sebelumnya.",
                item.name
            )
        } else {
            let unit = if days == 1 { "day" } else { "days" };
            format!(
                "The {} is made to order: please order at least {days} {unit} ahead.",
                item.name
            )
        }
    }

    /// Description, then the details the message asks about (all of them when it names none).
    #[must_use]
    pub fn product(&self, item: &Item, words: &[String]) -> String {
        let mut out = format!("{}: {}", item.name, item.description.trim());
        if !out.ends_with('.') {
            out.push('.');
        }
        let wanted: std::collections::HashSet<String> =
            words.iter().flat_map(|w| super::text::expand(w)).collect();
        let relevant: Vec<(&String, &String)> = item
            .details
            .iter()
            .filter(|(k, v)| {
                super::text::stems(&format!("{} {v}", k.replace('_', " ")))
                    .iter()
                    .any(|t| wanted.contains(t))
            })
            .collect();
        let shown: Vec<(&String, &String)> = if relevant.is_empty() {
            item.details.iter().collect()
        } else {
            relevant
        };
        for (k, v) in shown {
            out.push_str(&format!(" {}: {v}.", self.detail_label(k)));
        }
        if let Some(days) = item.lead_time_days {
            out.push(' ');
            out.push_str(&self.lead_time(item, days));
        }
        out
    }

    fn detail_label(&self, key: &str) -> String {
        let id = match key {
            "material" => Some("Bahan"),
            "care" => Some("Perawatan"),
            "fit" => Some("Potongan"),
            "allergens" => Some("Alergen"),
            "serves" => Some("Porsi"),
            "flavours" => Some("Pilihan rasa"),
            _ => None,
        };
        match (self.id(), id) {
            (true, Some(l)) => l.to_string(),
            _ => {
                let k = key.replace('_', " ");
                let mut c = k.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
        }
    }

    /// `Ongkir ke Bandung (Pulau Jawa) Rp 25.000, estimasi 2–4 hari.`
    #[must_use]
    pub fn region(&self, region: &ShippingRegion, place: &str) -> String {
        let area = if region.name.eq_ignore_ascii_case(place) {
            place.to_string()
        } else {
            format!("{place} ({})", region.name)
        };
        let days = region.days.map(|(a, b)| match (a, b, self.id()) {
            (0, 0, true) => "bisa sampai di hari yang sama".to_string(),
            (0, 0, false) => "same-day delivery".to_string(),
            (0, b, true) => format!("estimasi sampai dalam {b} hari"),
            (0, b, false) => format!("arrives within {b} day{}", plural(b)),
            (a, b, true) if a == b => format!("estimasi {a} hari"),
            (a, b, false) if a == b => format!("takes about {a} day{}", plural(a)),
            (a, b, true) => format!("estimasi {a}–{b} hari"),
            (a, b, false) => format!("takes about {a}–{b} days"),
        });
        let mut s = match (region.fee, self.id()) {
            (Some(fee), true) => format!("Ongkir ke {area} {fee}"),
            (Some(fee), false) => format!("Delivery to {area} is {fee}"),
            (None, true) => format!("Kami kirim ke {area}"),
            (None, false) => format!("We deliver to {area}"),
        };
        if let Some(d) = days {
            s.push_str(", ");
            s.push_str(&d);
        }
        s.push('.');
        s
    }

    /// One day's hours, or the week grouped (`Senin–Kamis 10:00–20:00`), with the zone.
    #[must_use]
    pub fn hours(&self, hours: &Hours, day: Option<Weekday>) -> String {
        let zone = match (self.id(), hours.local_zone_label()) {
            (true, Some(l)) => l.to_string(),
            (false, Some(l)) => format!("{l}, {}", hours.timezone),
            (_, None) => hours.timezone.clone(),
        };
        if let Some(d) = day {
            let ranges = hours.day(d);
            let name = self.day_name(d);
            return match (ranges.is_empty(), self.id()) {
                (true, true) => format!("Hari {name} kami tutup{}.", self.you),
                (true, false) => format!("We're closed on {name}s."),
                (false, true) => format!("Hari {name} kami buka {} ({zone}).", join_ranges(ranges)),
                (false, false) => {
                    format!("On {name}s we're open {} ({zone}).", join_ranges(ranges))
                }
            };
        }
        let mut groups: Vec<(Weekday, Weekday, String)> = Vec::new();
        for d in Weekday::ALL {
            let text = if hours.day(d).is_empty() {
                if self.id() { "tutup" } else { "closed" }.to_string()
            } else {
                join_ranges(hours.day(d))
            };
            match groups.last_mut() {
                Some((_, end, t)) if *t == text => *end = d,
                _ => groups.push((d, d, text)),
            }
        }
        let list = groups
            .iter()
            .map(|(a, b, t)| {
                if a == b {
                    format!("{} {t}", self.day_name(*a))
                } else {
                    format!("{}–{} {t}", self.day_name(*a), self.day_name(*b))
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        if self.id() {
            format!("Jam buka kami: {list} ({zone}).")
        } else {
            format!("Our opening hours: {list} ({zone}).")
        }
    }

    fn day_name(&self, d: Weekday) -> &'static str {
        if self.id() {
            d.indonesian()
        } else {
            d.english()
        }
    }

    #[must_use]
    pub fn address(&self, address: &str) -> String {
        if self.id() {
            format!("Alamat kami: {address}.")
        } else {
            format!("Our address: {address}.")
        }
    }

    #[must_use]
    pub fn contact_line(&self, label_id: &str, label_en: &str, value: &str) -> String {
        if self.id() {
            format!("{label_id}: {value}.")
        } else {
            format!("{label_en}: {value}.")
        }
    }

    #[must_use]
    pub fn we_ship_to(&self, regions: &[ShippingRegion]) -> String {
        let names = regions
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if self.id() {
            format!("Kami kirim ke: {names}.")
        } else {
            format!("We deliver to: {names}.")
        }
    }
}

/// `M Rp 389.000`, but `Rp 250.000` alone when the label already is the amount.
fn labelled(label: &str, price: Money) -> String {
    let p = price.to_string();
    if label.contains(&p) {
        label.to_string()
    } else {
        format!("{label} {p}")
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn join_ranges(ranges: &[crate::knowledge::TimeRange]) -> String {
    ranges
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" & ")
}

trait UpperFirst {
    fn to_uppercase_first(&self) -> String;
}

impl UpperFirst for String {
    /// `s` → `S`, `xl` → `XL` for size words; colours get a capital first letter.
    fn to_uppercase_first(&self) -> String {
        if self.len() <= 3 && self.chars().all(|c| c.is_ascii_alphanumeric()) {
            return self.to_uppercase();
        }
        let mut c = self.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    }
}
