//! Unit tests of the drafter against the demo tenants: one or more per intent, typos,
//! follow-ups, hand-offs. Data-driven where possible, so a case is one line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::knowledge::Knowledge;

fn load(name: &str) -> Drafter {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/knowledge")
        .join(format!("{name}.toml"));
    let text = std::fs::read_to_string(path).unwrap();
    Drafter::new(&Knowledge::from_toml(&text).unwrap())
}

/// Drafts `message` for `tenant` and checks intents, cited facts and text fragments.
#[track_caller]
fn check(d: &Drafter, message: &str, intents: &[Intent], facts: &[&str], says: &[&str]) {
    let draft = d.draft(message, &[]);
    assert_eq!(draft.intents, intents, "{message}: {draft:?}");
    let cited: Vec<String> = draft.facts.iter().map(ToString::to_string).collect();
    for f in facts {
        assert!(
            cited.iter().any(|c| c == f),
            "{message}: {f} not in {cited:?}"
        );
    }
    let text = draft.text.clone().unwrap_or_default();
    for s in says {
        assert!(text.contains(s), "{message}: {s:?} not in {text:?}");
    }
    assert!(draft.handoff.is_none(), "{message}: {draft:?}");
}

#[track_caller]
fn handed(d: &Drafter, message: &str, reason: &str) {
    let draft = d.draft(message, &[]);
    assert!(draft.text.is_none(), "{message}: {draft:?}");
    let why = draft.handoff.unwrap_or_default();
    assert!(
        why.contains(reason),
        "{message}: {why:?} should mention {reason:?}"
    );
}

use Intent::*;

#[test]
fn availability_price_and_variants() {
    let b = load("boutique");
    check(
        &b,
        "kak linen wrap dress masih ready?",
        &[Availability],
        &["sku:KB-DR-001"],
        &["Sage (3)"],
    );
    check(
        &b,
        "harga floral midi dress berapa ya?",
        &[Price],
        &["sku:KB-DR-002"],
        &["Rp 329.000"],
    );
    check(
        &b,
        "slip dress champagne M harga berapa, ready ga?",
        &[Price, Availability, Variant],
        &["sku:KB-DR-003"],
        &["Rp 299.000", "M / Champagne ready 3 pcs"],
    );
    check(
        &b,
        "kulot hitam size L ada?",
        &[Availability, Variant],
        &["sku:KB-BT-001"],
        &["L / Black ready 4"],
    );
    check(
        &b,
        "dress batik ada size S?",
        &[Availability, Variant],
        &["sku:KB-DR-004"],
        &["tidak tersedia dalam S"],
    );
    check(
        &b,
        "rok plisket ada warna apa aja?",
        &[Availability, Variant],
        &["sku:KB-BT-002"],
        &["Habis: All Size / Sage"],
    );
    check(
        &b,
        "berapa harga blazer sama cardigan?",
        &[Price],
        &["sku:KB-OW-001", "sku:KB-OW-002"],
        &["Rp 489.000", "Rp 319.000"],
    );
}

#[test]
fn typos_plurals_and_english() {
    let b = load("boutique");
    check(
        &b,
        "wrap dres sage M ada ga",
        &[Availability, Variant],
        &["sku:KB-DR-001"],
        &["M / Sage"],
    );
    check(
        &b,
        "cardigen rajut warna ijo ada?",
        &[Availability, Variant],
        &["sku:KB-OW-002"],
        &["Forest Green"],
    );
    let s = load("bakery");
    check(
        &s,
        "do you have croisants",
        &[Availability],
        &["sku:SL-PA-01"],
        &["in stock (24 left)"],
    );
    check(
        &s,
        "how much r the cheesecakes",
        &[Price],
        &["sku:SL-SL-01"],
        &["Rp 55.000"],
    );
    check(
        &s,
        "box of 12 cookies how much",
        &[Price, Variant],
        &["sku:SL-CK-01"],
        &["Rp 270.000"],
    );
}

#[test]
fn follow_ups_use_the_conversation() {
    let b = load("boutique");
    let turns = [Turn {
        from: Speaker::Customer,
        text: "mau tanya linen wrap dress yg warna terracotta".into(),
    }];
    let d = b.draft("kak ready size M?", &turns);
    assert_eq!(
        d.facts,
        vec![FactRef::Item {
            sku: "KB-DR-001".into()
        }]
    );
    assert!(d.text.unwrap().contains("M / Terracotta ready 4 pcs"));
    // Without context there is nothing to answer from, so the drafter asks.
    let d = b.draft("kak ready size M?", &[]);
    assert!(d.facts.is_empty());
    assert!(d.text.unwrap().contains("nama produk"));
}

#[test]
fn policies_hours_location_shipping() {
    let b = load("boutique");
    check(
        &b,
        "ongkir ke Bandung berapa kak?",
        &[Shipping],
        &["business:shipping_regions"],
        &["Rp 25.000", "2–4 hari"],
    );
    check(
        &b,
        "gratis ongkir ga?",
        &[Shipping],
        &["policy:shipping"],
        &["Rp 500.000"],
    );
    check(
        &b,
        "anting mutiara bisa diretur?",
        &[Returns],
        &["policy:returns"],
        &["anting"],
    );
    check(
        &b,
        "bisa bayar cod?",
        &[Payment],
        &["policy:payment"],
        &["COD"],
    );
    check(
        &b,
        "jam buka toko hari minggu?",
        &[Hours],
        &["business:hours"],
        &["Minggu kami buka 12:00–18:00 (WIB)"],
    );
    check(
        &b,
        "alamat butiknya dimana?",
        &[Location],
        &["business:address"],
        &["Jl. Kemang Raya"],
    );
    check(
        &b,
        "ada diskon ga kak?",
        &[Policy],
        &["policy:promo"],
        &["10%"],
    );
    check(
        &b,
        "pesanan aku udah dikirim belum ya kak?",
        &[OrderStatus],
        &["policy:order_status"],
        &["kirana.example/lacak"],
    );
    let s = load("bakery");
    check(
        &s,
        "Are you open on Monday?",
        &[Hours],
        &["business:hours"],
        &["closed on Mondays"],
    );
    check(
        &s,
        "Can you deliver to Jakarta?",
        &[Shipping],
        &["policy:delivery"],
        &["do not ship outside Bali"],
    );
}

#[test]
fn greetings_and_thanks() {
    let b = load("boutique");
    check(
        &b,
        "Halo kak",
        &[Greeting],
        &[],
        &["Halo kak!", "Ada yang bisa kami bantu?"],
    );
    check(&b, "P", &[Greeting], &[], &["Ada yang bisa kami bantu?"]);
    check(&b, "makasih kak", &[Thanks], &[], &["Sama-sama kak"]);
    let s = load("bakery");
    check(&s, "thanks!!", &[Thanks], &[], &["You're welcome"]);
}

#[test]
fn hand_offs() {
    let b = load("boutique");
    handed(&b, "barangnya cacat, jahitannya lepas 😡", "complaint");
    handed(&b, "besok cuaca jakarta hujan ga ya", "off-domain");
    handed(&b, "siapa presiden indonesia sekarang?", "off-domain");
    handed(&b, "kak bisa kurang ga harganya? 300rb deh", "negotiation");
    handed(&b, "kak aku udah transfer ya, tolong dicek", "payment");
    handed(&b, "ongkir ke Papua berapa?", "papua");
    handed(&b, "jual baju anak ga?", "not in the catalog");
    handed(&b, "kak aku mau cancel pesanan", "cancel");
    let s = load("bakery");
    handed(&s, "where is my order? ordered 2 hours ago", "order status");
    handed(
        &s,
        "I want a custom birthday cake with a unicorn design for the 14th",
        "design",
    );
    handed(&s, "Can I order a cake for the 14th?", "date");
    handed(&s, "Hello, are you open on public holidays?", "hours");
    handed(&s, "Is there any discount for students?", "no policy");
}

#[test]
fn drafts_are_deterministic_and_fast_enough() {
    let b = load("boutique");
    let a = b.draft("kak linen wrap dress sage M ready? harganya?", &[]);
    for _ in 0..20 {
        assert_eq!(
            b.draft("kak linen wrap dress sage M ready? harganya?", &[]),
            a
        );
    }
}

#[test]
fn every_boutique_draft_passes_the_classifier() {
    // The drafter only repeats facts, so its drafts must ground.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/knowledge/boutique.toml");
    let k = Knowledge::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap();
    let d = Drafter::new(&k);
    let c = crate::safety::Classifier::new(&k);
    for m in [
        "harga gift card?",
        "kak linen wrap dress masih ready?",
        "ongkir ke Medan?",
        "nomor wa admin berapa?",
        "email kalian apa",
        "cara cuci baju linen gimana?",
        "pesanan aku udah dikirim belum ya kak?",
    ] {
        let text = d.draft(m, &[]).text.unwrap();
        let v = c.check(
            &text,
            m,
            protocol::Channel::InstagramDm,
            &["Sourdough Lane".into()],
        );
        assert!(v.is_pass(), "{m}: {text} → {v:?}");
    }
}
