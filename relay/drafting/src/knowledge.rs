//! A tenant's knowledge: the business facts, catalog, policies, persona and link rules that
//! drafts are built from and checked against. Loaded from one TOML file per tenant.
//!
//! This module parses and validates the file into [`Knowledge`]; it does not store it (the
//! relay's store does) and does not draft (see `draft`) or judge drafts (see `safety`).
//!
//! # File format
//!
//! Version 2 (`version = 2`) adds to version 1; every v1 file loads unchanged (its
//! `language` is the default reply language, and English and Indonesian are both answered,
//! as before).
//!
//! Prices and fees are integers in the currency's **minor units** as written in practice:
//! whole rupiah for `IDR` (`350000` is `Rp 350.000`), cents for `USD` and `EUR` (`1250` is
//! `$12.50`). Amounts use `business.currency` unless an item names its own `currency`.
//! Dates are `YYYY-MM-DD`, times `HH:MM`. Unknown keys are refused. Every URL (website,
//! booking link, item `url`, links inside descriptions and policy texts) must be on a domain
//! in `links.allowed_domains` or a subdomain of one. Keys with letters outside ASCII must be
//! quoted (`"alergênicos" = "…"`), as TOML requires.
//!
//! ```toml
//! version = 2
//!
//! [business]
//! name = "Kirana Boutique"
//! currency = "IDR"                 # ISO 4217; default for every price and fee
//! languages = ["id", "en", "es"]   # answered languages, main first (v1: `language = "id"`)
//! other_languages = "main"         # other languages: answer in the main one, or "handoff"
//! as_of = "2026-12-01"             # the date this knowledge is true for
//! address = "Jl. Kemang Raya No. 12, Jakarta Selatan 12730"
//! booking_url = "https://kirana.example/book"   # fittings, classes, repairs…
//! free_shipping_over = 500000      # orders over this ship free
//! dispatch_cutoff = "14:00"        # orders before this leave the same working day
//! order_lookup_url = "https://kirana.example/api/orders"  # optional, see below
//! order_lookup_timeout_ms = 2000
//!
//! [business.contact]               # all optional
//! phone = "+62 21 7199 0123"
//! whatsapp = "+62 812 1000 2000"
//! email = "halo@kirana.example"
//! website = "https://kirana.example"
//! instagram = "@kirana.boutique"
//!
//! [business.hours]                 # optional; a missing day is closed
//! timezone = "Asia/Jakarta"        # IANA name
//! mon = "10:00-20:00"
//! tue = "10:00-20:00"
//! wed = "10:00-20:00"
//! thu = "10:00-20:00"
//! fri = "10:00-12:00, 13:00-20:00" # several ranges, comma-separated
//! sat = "10:00-21:00"
//! sun = "closed"
//! note = "Closed on national holidays."
//!
//! [[business.closures]]            # days closed: `date`, or `from` and `to`
//! date = "2026-12-25"
//! note = "Christmas"
//!
//! [[business.shipping_regions]]
//! name = "Jabodetabek"
//! places = ["Jakarta", "Bogor", "Depok", "Tangerang", "Bekasi"]
//! fee = 15000                      # optional, minor units
//! days = [1, 2]                    # optional delivery estimate, fastest first
//! free_over = 300000               # optional: free to this region over this amount
//!
//! [persona]
//! tone = "warm, casual Indonesian; short sentences"
//! honorific = "kak"                # how customers are addressed (in the main language)
//! greeting = "Halo kak"
//! sign_off = "Salam, Kirana"
//! rules = ["Never promise a discount.", "Never guess a delivery date."]
//!
//! [links]
//! allowed_domains = ["kirana.example"]
//!
//! [safety]
//! blocked_words = ["murahan"]
//!
//! [[items]]
//! sku = "KB-DR-001"                # unique (case-insensitive), no spaces
//! name = "Linen Wrap Dress"
//! aliases = ["wrap dress", "dress lilit"]  # the words customers use, in every language
//! description = "Midi wrap dress in washed linen."
//! category = "dress"
//! price = 389000
//! url = "https://kirana.example/p/kb-dr-001"
//! details = { material = "100% linen", care = "Hand wash cold" }
//! restock = "2026-12-20"           # when sold-out stock is expected back
//! variants = [
//!   { size = "S", colour = "Sage", stock = 3 },
//!   { size = "M", colour = "Sage", stock = 0, restock = "2026-12-10" },
//!   { size = "L", colour = "Sage", stock = 2, price = 399000, sku = "KB-DR-001-L" },
//! ]
//! [items.translations.en]          # a description per answered language
//! description = "Midi wrap dress in washed linen."
//!
//! [[items]]
//! sku = "KB-AC-001"
//! name = "Silk Scrunchie"
//! price = 45000
//! stock = 12                       # an item without variants has its own stock
//! variants = []
//!
//! [[items]]
//! sku = "KB-SC-001"
//! name = "Silk Scarf"
//! price = 150000
//! variants = [                     # any option: shade, volume, width, valve…
//!   { options = { print = "Batik Parang", width = "90 cm" }, stock = 4 },
//!   { options = { print = "Kawung", width = "90 cm" }, stock = 0 },
//! ]
//!
//! [[items]]
//! sku = "KB-SV-001"
//! name = "Hemming"
//! kind = "service"                 # `product` (default), `service` or `gift_card`
//! price = 35000                    # services and gift cards have no stock to count
//! duration_minutes = 30
//! turnaround_days = [1, 2]
//!
//! [[items]]
//! sku = "KB-GC"
//! name = "Gift card"
//! kind = "gift_card"
//! price = 250000
//!
//! [[items]]
//! sku = "KB-CU-001"
//! name = "Custom Embroidered Kebaya"
//! price = 1250000
//! lead_time_days = 14              # made to order: stock may be left out
//! stock = "unlimited"              # or a count
//!
//! [[policies]]
//! key = "returns"                  # unique; lower case, digits, `_` or `-`
//! title = "Returns"
//! text = "Returns are accepted within 7 days of delivery, unworn and with tags."
//! [policies.translations.id]       # the text per answered language
//! title = "Retur"
//! text = "Retur diterima dalam 7 hari setelah barang sampai, belum dipakai dan dengan label."
//!
//! [[orders]]                       # small shops: orders and repair tickets in the file
//! number = "KRN-20931"
//! kind = "order"                   # or "repair"
//! status = "shipped with JNE"
//! eta = "2026-12-03"
//! note = "Tracking JNE 0123456789."
//! ```
//!
//! Orders and tickets not listed are looked up, when `order_lookup_url` is set, by
//! `GET {order_lookup_url}?number=N` answering `{"status", "kind"?, "eta"?, "updated"?,
//! "note"?}` (404: no such order); see `drafting::lookup`. Without either, the drafter
//! answers status questions only by asking for the number or handing off.

mod error;
pub mod hours;
pub mod link;
mod model;
pub mod money;
mod raw;
pub mod upgrade;
mod validate;

pub use error::KnowledgeError;
pub use hours::{ClockTime, Hours, TimeRange, Weekday};
pub use model::{
    Business, Closure, Contact, Item, ItemKind, Knowledge, Language, Order, OrderKind, OrderLookup,
    OtherLanguages, Persona, Policy, ShippingRegion, Variant, order_key,
};
pub use money::{Currency, Money};

impl Knowledge {
    /// Parses and validates a knowledge file.
    ///
    /// # Errors
    /// The text is not TOML of this format (with toml's line and column), or a value is
    /// unacceptable (named by its path in the file, e.g. `items[3] (sku KB-DR-004).price`).
    pub fn from_toml(text: &str) -> Result<Knowledge, KnowledgeError> {
        let raw: raw::RawKnowledge =
            toml::from_str(text).map_err(|e| KnowledgeError::Toml(e.to_string()))?;
        validate::knowledge(raw)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The example in this module's documentation, so the documentation cannot go stale.
    fn doc_example() -> String {
        let src = include_str!("knowledge.rs");
        let mut out = String::new();
        let mut inside = false;
        for line in src.lines() {
            let Some(doc) = line.strip_prefix("//!") else {
                continue;
            };
            let doc = doc.strip_prefix(' ').unwrap_or(doc);
            if doc.starts_with("```") {
                if inside {
                    break;
                }
                inside = doc == "```toml";
                continue;
            }
            if inside {
                out.push_str(doc);
                out.push('\n');
            }
        }
        out
    }

    fn load(text: &str) -> Knowledge {
        Knowledge::from_toml(text).unwrap()
    }

    #[track_caller]
    fn refused(text: &str, expected: &str) {
        let err = Knowledge::from_toml(text).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{err:?} should contain {expected:?}"
        );
    }

    const MINIMAL: &str = "[business]\nname = \"Shop\"\ncurrency = \"USD\"\n";

    #[test]
    fn the_documented_example_loads() {
        let k = load(&doc_example());
        assert_eq!(k.business.name, "Kirana Boutique");
        assert_eq!(k.business.language, Language::INDONESIAN);
        assert_eq!(k.business.languages.len(), 3);
        assert_eq!(k.business.other_languages, OtherLanguages::Main);
        assert_eq!(k.business.as_of.as_deref(), Some("2026-12-01"));
        assert_eq!(
            k.business.free_shipping_over.unwrap().to_string(),
            "Rp 500.000"
        );
        assert_eq!(k.business.dispatch_cutoff.as_deref(), Some("14:00"));
        assert_eq!(k.business.closures[0].from, "2026-12-25");
        assert_eq!(k.business.order_lookup.as_ref().unwrap().timeout_ms, 2000);
        assert_eq!(
            k.business.shipping_regions[0]
                .free_over
                .unwrap()
                .to_string(),
            "Rp 300.000"
        );
        assert_eq!(k.items.len(), 6);
        let scarf = k.item("KB-SC-001").unwrap();
        assert_eq!(scarf.variants[0].label(), "Batik Parang / 90 cm");
        let hemming = k.item("KB-SV-001").unwrap();
        assert_eq!(hemming.kind, ItemKind::Service);
        assert!(hemming.unlimited);
        assert_eq!(hemming.turnaround_days, Some((1, 2)));
        assert!(k.item("KB-GC").unwrap().unlimited);
        assert!(k.item("KB-CU-001").unwrap().unlimited);
        assert_eq!(
            k.policy("returns").unwrap().text_in(Language::INDONESIAN),
            "Retur diterima dalam 7 hari setelah barang sampai, belum dipakai dan dengan label."
        );
        assert_eq!(k.order("krn 20931").unwrap().status, "shipped with JNE");
        let dress = k.item("kb-dr-001").unwrap();
        assert_eq!(dress.variants[2].sku.as_deref(), Some("KB-DR-001-L"));
        assert_eq!(dress.variants[1].restock.as_deref(), Some("2026-12-10"));
        let dress = k.item("kb-dr-001").unwrap();
        assert_eq!(dress.price.to_string(), "Rp 389.000");
        assert_eq!(dress.variants[2].price.unwrap().to_string(), "Rp 399.000");
        assert_eq!(dress.total_stock(), Some(5));
        assert_eq!(dress.details["material"], "100% linen");
        assert_eq!(k.item("KB-CU-001").unwrap().total_stock(), None);
        assert_eq!(k.item("KB-AC-001").unwrap().total_stock(), Some(12));
        let hours = k.business.hours.as_ref().unwrap();
        assert_eq!(hours.day(Weekday::Fri).len(), 2);
        assert!(hours.day(Weekday::Sun).is_empty());
        assert_eq!(hours.local_zone_label(), Some("WIB"));
        let region = &k.business.shipping_regions[0];
        assert_eq!(region.fee.unwrap().to_string(), "Rp 15.000");
        assert_eq!(region.days, Some((1, 2)));
        assert_eq!(k.policy("returns").unwrap().title, "Returns");
        assert!(
            k.persona
                .system_prompt(&k.business.name)
                .contains("Never guess")
        );
    }

    #[test]
    fn every_shipped_knowledge_file_loads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/knowledge");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                let k = Knowledge::from_toml(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(!k.items.is_empty(), "{}", path.display());
                n += 1;
            }
        }
        assert!(n >= 2, "expected the demo tenants in {}", dir.display());
    }

    #[test]
    fn errors_name_the_field() {
        refused("[business]\nname = \"S\"\n", "currency");
        refused(
            "[business]\nname = \"S\"\ncurrency = \"usd\"\n",
            "business.currency",
        );
        refused(
            &format!("{MINIMAL}[[items]]\nsku = \"A-1\"\nname = \"A\"\nprice = -1\nstock = 1\n"),
            "items[0] (sku A-1).price",
        );
        refused(
            &format!(
                "{MINIMAL}[[items]]\nsku = \"A-1\"\nname = \"A\"\nprice = 1\nstock = 1\n\
                 [[items]]\nsku = \"a-1\"\nname = \"B\"\nprice = 1\nstock = 1\n"
            ),
            "items[1] (sku a-1): sku `a-1` is already used by items[0]",
        );
        refused(
            &format!(
                "{MINIMAL}[links]\nallowed_domains = [\"shop.example\"]\n[[items]]\nsku = \"A\"\n\
                 name = \"A\"\nprice = 1\nstock = 1\nurl = \"https://evil.example/a\"\n"
            ),
            "items[0] (sku A).url: link `https://evil.example/a` is not within",
        );
        refused(
            &format!(
                "{MINIMAL}[[policies]]\nkey = \"returns\"\ntitle = \"R\"\ntext = \"See other.example\"\n"
            ),
            "policies[0] (key returns).text: link `other.example`",
        );
        refused(
            &format!(
                "{MINIMAL}[[policies]]\nkey = \"r\"\ntitle = \"R\"\ntext = \"t\"\n\
                 [[policies]]\nkey = \"r\"\ntitle = \"R2\"\ntext = \"t\"\n"
            ),
            "policies[1] (key r): policy key `r` is already used",
        );
        refused(
            &format!("{MINIMAL}[[items]]\nsku = \"A\"\nname = \"A\"\nprice = 1\n"),
            "needs `stock`",
        );
        refused(
            &format!(
                "{MINIMAL}[[items]]\nsku = \"A\"\nname = \"A\"\nprice = 1\n\
                 variants = [{{ size = \"M\" }}]\n"
            ),
            "items[0] (sku A).variants[0]: needs `stock`",
        );
        refused(
            &format!("{MINIMAL}[business.hours]\ntimezone = \"WIB\"\n"),
            "business.hours.timezone",
        );
        refused(
            &format!("{MINIMAL}[business.hours]\ntimezone = \"UTC\"\nmon = \"9-5\"\n"),
            "business.hours.mon",
        );
        refused(&format!("{MINIMAL}colour = \"red\"\n"), "unknown field");
        refused(
            &format!("{MINIMAL}[business.contact]\nemail = \"nope\"\n"),
            "business.contact.email",
        );
    }

    #[test]
    fn v2_errors_name_the_field() {
        refused(&format!("version = 3\n{MINIMAL}"), "version");
        refused(
            "[business]\nname = \"S\"\ncurrency = \"USD\"\nlanguages = [\"xx\"]\n",
            "business.languages[0]: `xx` has no phrase file",
        );
        refused(
            &format!("{MINIMAL}other_languages = \"maybe\"\n"),
            "business.other_languages",
        );
        refused(
            &format!("{MINIMAL}as_of = \"1/12/2026\"\n"),
            "business.as_of",
        );
        refused(
            &format!("{MINIMAL}dispatch_cutoff = \"2pm\"\n"),
            "business.dispatch_cutoff",
        );
        refused(
            &format!(
                "{MINIMAL}[[business.closures]]\nfrom = \"2026-12-26\"\nto = \"2026-12-25\"\n"
            ),
            "business.closures[0].to",
        );
        refused(
            &format!("{MINIMAL}[[business.closures]]\nnote = \"x\"\n"),
            "business.closures[0]: needs `date`",
        );
        refused(
            &format!(
                "{MINIMAL}[[items]]\nsku = \"A\"\nname = \"A\"\nprice = 1\nstock = \"lots\"\n"
            ),
            "items[0] (sku A).stock: `lots`",
        );
        refused(
            &format!(
                "{MINIMAL}[[items]]\nsku = \"A\"\nname = \"A\"\nprice = 1\nkind = \"thing\"\nstock = 1\n"
            ),
            "items[0] (sku A).kind",
        );
        refused(
            &format!(
                "{MINIMAL}[[items]]\nsku = \"A\"\nname = \"A\"\nprice = 1\n\
                 variants = [{{ sku = \"B\", size = \"S\", stock = 1 }}]\n\
                 [[items]]\nsku = \"B\"\nname = \"B\"\nprice = 1\nstock = 1\n"
            ),
            "items[1] (sku B): sku `B` is already used by items[0]",
        );
        refused(
            &format!(
                "{MINIMAL}[[items]]\nsku = \"A\"\nname = \"A\"\nprice = 1\nvariants = [{{ stock = 1 }}]\n"
            ),
            "needs a `size`, a `colour` or `options`",
        );
        refused(
            &format!("{MINIMAL}[[orders]]\nnumber = \"1\"\nstatus = \"ok\"\nkind = \"parcel\"\n"),
            "orders[0] (number 1).kind",
        );
        refused(
            &format!(
                "{MINIMAL}[[orders]]\nnumber = \"#1\"\nstatus = \"ok\"\n[[orders]]\nnumber = \"1\"\nstatus = \"ok\"\n"
            ),
            "orders[1] (number 1): number `1` is already used by orders[0]",
        );
        refused(
            &format!("{MINIMAL}booking_url = \"https://elsewhere.example/b\"\n"),
            "business.booking_url",
        );
    }

    #[test]
    fn turnaround_may_be_one_number() {
        let k = load(&format!(
            "{MINIMAL}[[items]]\nsku = \"S\"\nname = \"Tune-up\"\nkind = \"service\"\nprice = 5000\nturnaround_days = 3\n"
        ));
        assert_eq!(k.items[0].turnaround_days, Some((3, 3)));
        assert!(k.items[0].unlimited);
    }

    #[test]
    fn a_v1_file_answers_english_and_indonesian() {
        let k = load("[business]\nname = \"S\"\ncurrency = \"USD\"\nlanguage = \"id\"\n");
        assert_eq!(k.business.language, Language::INDONESIAN);
        assert_eq!(
            k.business.languages,
            vec![Language::INDONESIAN, Language::ENGLISH]
        );
    }

    #[test]
    fn items_may_name_their_own_currency() {
        let k = load(&format!(
            "{MINIMAL}[[items]]\nsku = \"A\"\nname = \"A\"\nprice = 990\ncurrency = \"EUR\"\nstock = 1\n"
        ));
        assert_eq!(k.items[0].price.to_string(), "€9,90");
    }
}
