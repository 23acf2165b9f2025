//! Sentences of a reply, in the language chosen for it, built only from values of the
//! knowledge: every price goes through the currency formatter, every stock count, hour, fee,
//! date and policy sentence is copied from the file. The phrases come from the language's
//! data file (`crate::lang`, `assets/lang/*.toml`) and add connecting words, never facts (no
//! dates, amounts, promises or links of their own), so the safety classifier can ground
//! every number and link in a draft.

use super::retrieve::VariantAsk;
use crate::knowledge::{Hours, Item, Money, Persona, ShippingRegion, Variant, Weekday};
use crate::lang::{LangFile, Language};

/// The reply language's phrases and how the customer is addressed.
pub struct Words {
    pub lang: Language,
    /// ` kak` or empty.
    pub you: String,
    f: &'static LangFile,
}

impl Words {
    /// `persona_lang` is the language the persona was written in: its honorific is used only
    /// when replying in that language.
    #[must_use]
    pub fn new(lang: Language, persona: &Persona, persona_lang: Language) -> Words {
        let you = if lang == persona_lang && !persona.honorific.is_empty() {
            format!(" {}", persona.honorific)
        } else {
            String::new()
        };
        Words {
            lang,
            you,
            f: lang.file(),
        }
    }

    /// The phrase `key` with `{you}` and `args` filled.
    #[must_use]
    pub fn say(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut all: Vec<(&str, &str)> = vec![("you", self.you.as_str())];
        all.extend_from_slice(args);
        self.f.phrase(key, &all)
    }

    #[must_use]
    pub fn greeting(&self, persona: &Persona) -> String {
        match &persona.greeting {
            Some(g) => format!("{g}!"),
            None => self.say("greeting", &[]),
        }
    }

    #[must_use]
    pub fn how_can_we_help(&self) -> String {
        self.say("how_can_we_help", &[])
    }

    #[must_use]
    pub fn you_are_welcome(&self) -> String {
        self.say("you_are_welcome", &[])
    }

    #[must_use]
    pub fn which_item(&self) -> String {
        self.say("which_item", &[])
    }

    /// `Wool Scarf harganya Rp 189.000.` with variant prices when they differ.
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
            let price = distinct.first().copied().unwrap_or(item.price).to_string();
            let label = if ask.matched.len() == 1 {
                format!(" {}", prices[0].0)
            } else {
                String::new()
            };
            return self.say(
                "price_one",
                &[("item", &item.name), ("label", &label), ("price", &price)],
            );
        }
        let list = prices
            .iter()
            .map(|(l, p)| labelled(l, *p))
            .collect::<Vec<_>>()
            .join(", ");
        self.say("price_list", &[("item", &item.name), ("list", &list)])
    }

    /// Stock of the variants asked about, or of the item as a whole.
    #[must_use]
    pub fn stock(&self, item: &Item, ask: &VariantAsk) -> String {
        if item.lead_time_days.is_some() {
            return self.variant_list(item, true);
        }
        if item.variants.is_empty() {
            if item.unlimited {
                return self.say("available", &[("item", &item.name)]);
            }
            return match item.stock {
                Some(n) if n > 0 => {
                    self.say("in_stock", &[("item", &item.name), ("n", &n.to_string())])
                }
                _ => self.sold_out(&item.name, item.restock.as_deref()),
            };
        }
        if ask.matched.is_empty() && !ask.asked.is_empty() {
            let asked = ask.asked.join(" ").to_uppercase_first();
            return self.say(
                "not_in_option",
                &[
                    ("item", &item.name),
                    ("asked", &asked),
                    ("list", &self.variant_list(item, false)),
                ],
            );
        }
        if ask.matched.is_empty() {
            return self.variant_list(item, false);
        }
        // Variants priced apart (a gift card's amounts, a size that costs more): the one
        // asked about is said with its price.
        let differ = item.prices().len() > 1;
        let parts: Vec<String> = ask
            .matched
            .iter()
            .map(|&i| {
                let v = &item.variants[i];
                let label = if differ {
                    labelled(&v.label(), v.price.unwrap_or(item.price))
                } else {
                    v.label()
                };
                self.variant_stock(v, &label)
            })
            .collect();
        self.say(
            "variant_stock",
            &[("item", &item.name), ("parts", &parts.join(", "))],
        )
    }

    fn sold_out(&self, name: &str, restock: Option<&str>) -> String {
        match restock {
            Some(date) => self.say("sold_out_restock", &[("item", name), ("date", date)]),
            None => self.say("sold_out", &[("item", name)]),
        }
    }

    fn variant_stock(&self, v: &Variant, label: &str) -> String {
        let label = label.to_string();
        if v.unlimited {
            return self.say("variant_available", &[("label", &label)]);
        }
        match (v.stock, &v.restock) {
            (Some(n), _) if n > 0 => self.say(
                "variant_in_stock",
                &[("label", &label), ("n", &n.to_string())],
            ),
            (_, Some(date)) => self.say(
                "variant_sold_out_restock",
                &[("label", &label), ("date", date)],
            ),
            _ => self.say("variant_sold_out", &[("label", &label)]),
        }
    }

    /// Every variant: those in stock with counts, then those sold out; prices when they
    /// differ between variants or `with_prices`. An item without variants is its own line.
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
        if item.variants.is_empty() {
            return self.stock(item, &VariantAsk::default());
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
            .filter(|v| v.unlimited || v.stock.is_some_and(|n| n > 0))
            .map(|v| {
                if v.unlimited {
                    show(v)
                } else {
                    format!("{} ({})", show(v), v.stock.unwrap_or(0))
                }
            })
            .collect();
        let out: Vec<String> = item
            .variants
            .iter()
            .filter(|v| !v.unlimited && v.stock.is_none_or(|n| n == 0))
            .map(show)
            .collect();
        let mut s = if in_stock.is_empty() {
            self.say("all_sold_out", &[("item", &item.name)])
        } else {
            self.say(
                "in_stock_list",
                &[("item", &item.name), ("list", &in_stock.join(", "))],
            )
        };
        if !out.is_empty() && !in_stock.is_empty() {
            s.push(' ');
            s.push_str(&self.say("sold_out_list", &[("list", &out.join(", "))]));
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
        self.say("options", &[("list", &list)])
    }

    fn days_word(&self, n: u32) -> String {
        if n == 1 {
            self.say("day_one", &[])
        } else {
            self.say("day_many", &[])
        }
    }

    #[must_use]
    pub fn lead_time(&self, item: &Item, days: u32) -> String {
        self.say(
            "lead_time",
            &[
                ("item", &item.name),
                ("days", &days.to_string()),
                ("unit", &self.days_word(days)),
            ],
        )
    }

    /// A service's duration and turnaround, when the file gives them.
    #[must_use]
    pub fn service(&self, item: &Item) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(m) = item.duration_minutes {
            out.push(self.say(
                "service_duration",
                &[("item", &item.name), ("minutes", &m.to_string())],
            ));
        }
        if let Some((a, b)) = item.turnaround_days {
            let range = if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            };
            out.push(self.say(
                "service_turnaround",
                &[
                    ("item", &item.name),
                    ("days", &range),
                    ("unit", &self.days_word(b)),
                ],
            ));
        }
        out
    }

    /// Description, then the details the message asks about (all of them when it names none).
    #[must_use]
    pub fn product(&self, item: &Item, words: &[String]) -> String {
        let description = item.description_in(self.lang);
        let mut out = if description.trim().is_empty() {
            item.name.clone()
        } else {
            format!("{}: {}", item.name, description.trim())
        };
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
        if let Some(l) = self.f.detail_labels.get(key) {
            return l.clone();
        }
        let k = key.replace('_', " ");
        let mut c = k.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    }

    /// `Ongkir ke Malang (Pulau Jawa) Rp 25.000, estimasi 2–4 hari.`
    #[must_use]
    pub fn region(&self, region: &ShippingRegion, place: &str) -> String {
        let area = if region.name.eq_ignore_ascii_case(place) {
            place.to_string()
        } else {
            format!("{place} ({})", region.name)
        };
        let days = region.days.map(|(a, b)| match (a, b) {
            (0, 0) => self.say("days_same_day", &[]),
            (0, b) => self.say(
                "days_within",
                &[("b", &b.to_string()), ("unit", &self.days_word(b))],
            ),
            (a, b) if a == b => self.say(
                "days_exact",
                &[("a", &a.to_string()), ("unit", &self.days_word(a))],
            ),
            (a, b) => self.say(
                "days_range",
                &[
                    ("a", &a.to_string()),
                    ("b", &b.to_string()),
                    ("unit", &self.days_word(b)),
                ],
            ),
        });
        let mut s = match region.fee {
            Some(fee) => self.say("region_fee", &[("area", &area), ("fee", &fee.to_string())]),
            None => self.say("region_no_fee", &[("area", &area)]),
        };
        if let Some(d) = days {
            s.push_str(", ");
            s.push_str(&d);
        }
        s.push('.');
        if let Some(free) = region.free_over {
            s.push(' ');
            s.push_str(&self.free_shipping(free));
        }
        s
    }

    #[must_use]
    pub fn free_shipping(&self, over: Money) -> String {
        self.say("free_shipping", &[("amount", &over.to_string())])
    }

    #[must_use]
    pub fn dispatch_cutoff(&self, time: &str, zone: &str) -> String {
        self.say("dispatch_cutoff", &[("time", time), ("zone", zone)])
    }

    #[must_use]
    pub fn closure(&self, when: &str, note: Option<&str>) -> String {
        match note {
            Some(n) => self.say("closed_on_note", &[("date", when), ("note", n)]),
            None => self.say("closed_on", &[("date", when)]),
        }
    }

    #[must_use]
    pub fn booking(&self, url: &str) -> String {
        self.say("booking", &[("url", url)])
    }

    fn zone(&self, hours: &Hours) -> String {
        match hours.local_zone_label() {
            Some(l) => self.say("zone_label", &[("label", l), ("tz", &hours.timezone)]),
            None => hours.timezone.clone(),
        }
    }

    /// The zone the business's hours are given in, for sentences about times of day.
    #[must_use]
    pub fn zone_of(&self, hours: Option<&Hours>) -> String {
        hours.map(|h| self.zone(h)).unwrap_or_default()
    }

    /// One day's hours, or the week grouped (`Senin–Kamis 10:00–20:00`), with the zone.
    #[must_use]
    pub fn hours(&self, hours: &Hours, day: Option<Weekday>) -> String {
        let zone = self.zone(hours);
        if let Some(d) = day {
            let ranges = hours.day(d);
            let name = self.f.day(d.index());
            return if ranges.is_empty() {
                self.say("closed_day", &[("day", name)])
            } else {
                self.say(
                    "open_day",
                    &[
                        ("day", name),
                        ("hours", &join_ranges(ranges)),
                        ("zone", &zone),
                    ],
                )
            };
        }
        let closed = self.say("closed", &[]);
        let mut groups: Vec<(Weekday, Weekday, String)> = Vec::new();
        for d in Weekday::ALL {
            let text = if hours.day(d).is_empty() {
                closed.clone()
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
                    format!("{} {t}", self.f.day(a.index()))
                } else {
                    format!("{}–{} {t}", self.f.day(a.index()), self.f.day(b.index()))
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        self.say("hours_week", &[("list", &list), ("zone", &zone)])
    }

    #[must_use]
    pub fn address(&self, address: &str) -> String {
        self.say("address", &[("address", address)])
    }

    /// `Phone: +62 …`, the label named by a phrase key (`label_phone`).
    #[must_use]
    pub fn contact_line(&self, label_key: &str, value: &str) -> String {
        let label = self.say(label_key, &[]);
        self.say("contact_line", &[("label", &label), ("value", value)])
    }

    #[must_use]
    pub fn we_ship_to(&self, regions: &[ShippingRegion]) -> String {
        let names = regions
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        self.say("we_ship_to", &[("names", &names)])
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
