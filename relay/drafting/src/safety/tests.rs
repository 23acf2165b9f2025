//! Classifier rules against the demo boutique, including adversarial drafts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::knowledge::Knowledge;
use protocol::Channel;

fn boutique() -> Knowledge {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/knowledge/boutique.toml");
    Knowledge::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn usd_shop() -> Knowledge {
    Knowledge::from_toml(
        "[business]\nname = \"Corner Shop\"\ncurrency = \"USD\"\n\
         [[items]]\nsku = \"CS-1\"\nname = \"Mug\"\nprice = 1250\nstock = 3\n",
    )
    .unwrap()
}

fn verdict(draft: &str, message: &str) -> Verdict {
    classify(
        draft,
        &boutique(),
        message,
        Channel::InstagramDm,
        &["Sourdough Lane".into()],
    )
}

/// Asserts a hold for `rule` whose span is exactly `span`.
#[track_caller]
fn held(v: &Verdict, rule: Rule, span: &str) {
    assert!(
        v.reasons()
            .iter()
            .any(|r| r.rule == rule && r.span.text == span),
        "expected {rule} on {span:?}, got {v:?}"
    );
}

#[test]
fn grounded_drafts_pass() {
    let v = verdict(
        "Linen Wrap Dress harganya Rp 389.000, M / Terracotta ready 4 pcs. Cek https://kirana.example/p/kb-dr-001 \
         atau WA +62 812 1000 2000, email halo@kirana.example. Gratis ongkir min. Rp 500.000; member diskon 10%.",
        "kak linen wrap dress?",
    );
    assert!(v.is_pass(), "{v:?}");
    // Spelled differently from the knowledge, still the same facts.
    assert!(verdict("Harganya 389rb kak, WA 0812-1000-2000", "").is_pass());
}

#[test]
fn made_up_discount_is_held() {
    let v = verdict("Khusus hari ini ada diskon 20% off today!", "ada promo?");
    held(&v, Rule::UngroundedAmount, "20%");
}

#[test]
fn price_off_by_one_is_held() {
    held(
        &verdict("Harganya Rp 389.001 kak", ""),
        Rule::UngroundedAmount,
        "Rp 389.001",
    );
    let k = usd_shop();
    let ok = classify("The mug is $12.50.", &k, "", Channel::WhatsApp, &[]);
    assert!(ok.is_pass(), "{ok:?}");
    let v = classify("The mug is $12.51.", &k, "", Channel::WhatsApp, &[]);
    held(&v, Rule::UngroundedAmount, "$12.51");
}

#[test]
fn amounts_from_the_customer_are_grounded() {
    assert!(verdict("Budget Rp 300.000 ya kak, noted.", "budget aku Rp 300.000").is_pass());
}

#[test]
fn competitor_url_and_unknown_domain_are_held() {
    let v = verdict("Lebih murah di https://shopee.co.id/tokosebelah kak", "");
    held(&v, Rule::UngroundedLink, "https://shopee.co.id/tokosebelah");
    let v = verdict("cek zalora.co.id ya", "");
    held(&v, Rule::UngroundedLink, "zalora.co.id");
    // The customer's own link may be repeated.
    assert!(
        verdict(
            "Link tokopedia.com/x sudah kami cek.",
            "ini tokopedia.com/x"
        )
        .is_pass()
    );
}

#[test]
fn unknown_phone_email_sku_and_date_are_held() {
    held(
        &verdict("Hubungi 0813-9999-1234 ya", ""),
        Rule::UngroundedPhone,
        "0813-9999-1234",
    );
    held(
        &verdict("Email ke cs@gmail.com", ""),
        Rule::UngroundedEmail,
        "cs@gmail.com",
    );
    held(
        &verdict("Kode KB-DR-099 ready", ""),
        Rule::UngroundedSku,
        "KB-DR-099",
    );
    held(
        &verdict("Dikirim tanggal 17 Agustus", ""),
        Rule::UngroundedDate,
        "17 Agustus",
    );
    held(
        &verdict("Sampai besok ya kak", ""),
        Rule::UngroundedDate,
        "besok",
    );
    held(
        &verdict("Ready lagi 12/9", ""),
        Rule::UngroundedDate,
        "12/9",
    );
    // Dates the customer gave may be repeated.
    assert!(verdict("Siap, untuk besok kami cek dulu ya", "bisa kirim besok?").is_pass());
}

#[test]
fn channel_limits_count_bytes_for_instagram_and_chars_for_whatsapp() {
    let k = boutique();
    let emoji = "😊".repeat(251); // 1004 bytes, 251 characters
    let v = classify(&emoji, &k, "", Channel::InstagramDm, &[]);
    assert!(v.reasons().iter().any(|r| r.rule == Rule::TooLong), "{v:?}");
    let v = classify(&emoji, &k, "", Channel::WhatsApp, &[]);
    assert!(
        !v.reasons().iter().any(|r| r.rule == Rule::TooLong),
        "{v:?}"
    );
    let long = "a ".repeat(2100);
    let v = classify(&long, &k, "", Channel::WhatsApp, &[]);
    assert!(v.reasons().iter().any(|r| r.rule == Rule::TooLong));
}

#[test]
fn secrets_other_tenants_and_blocked_words_are_held() {
    held(
        &verdict("token: EAAGm0PX4ZCpsBAKZC8ZBxyz123456", ""),
        Rule::Secret,
        "EAAGm0PX4ZCpsBAKZC8ZBxyz123456",
    );
    held(
        &verdict("key sk-abcdefghijklmnopqrstu", ""),
        Rule::Secret,
        "sk-abcdefghijklmnopqrstu",
    );
    held(
        &verdict("Coba juga di SOURDOUGH LANE kak", ""),
        Rule::OtherTenant,
        "SOURDOUGH LANE",
    );
    held(
        &verdict("Ini bukan barang KW kak", ""),
        Rule::BlockedWord,
        "KW",
    );
    assert!(
        verdict("Kwalitas terbaik kak", "")
            .reasons()
            .iter()
            .all(|r| r.rule != Rule::BlockedWord)
    );
}

#[test]
fn open_domain_answers_are_held() {
    let v = verdict(
        "Besok Jakarta diperkirakan hujan ringan, jangan lupa payung ya kak",
        "cuaca besok?",
    );
    held(&v, Rule::OffDomain, "hujan");
    let v = verdict(
        "Rendang dimasak perlahan dengan santan, cabai, lengkuas, serai dan rempah sampai kering",
        "cara bikin rendang?",
    );
    assert!(
        v.reasons().iter().any(|r| r.rule == Rule::OffDomain),
        "{v:?}"
    );
}

#[test]
fn reasons_name_their_byte_span() {
    let draft = "Harga Rp 1.000.001 — cek evil.example";
    let v = verdict(draft, "");
    for r in v.reasons() {
        assert_eq!(&draft[r.span.range.clone()], r.span.text);
    }
    assert_eq!(v.reasons().len(), 2, "{v:?}");
}

/// A shop with two items, a shipping threshold, an order and a closure (format v2).
fn v2_shop() -> Knowledge {
    Knowledge::from_toml(
        "version = 2\n[business]\nname = \"Casa\"\ncurrency = \"BRL\"\nlanguages = [\"pt\", \"en\"]\n\
         free_shipping_over = 15000\n\
         [[business.closures]]\ndate = \"2026-12-25\"\n\
         [[items]]\nsku = \"A-1\"\nname = \"Bolo\"\nprice = 6500\nstock = 1\n\
         [[items]]\nsku = \"B-1\"\nname = \"Pão\"\nprice = 2800\nstock = 1\n\
         variants = [{ sku = \"B-1-INT\", options = { tipo = \"integral\" }, stock = 0, restock = \"2026-12-02\" }]\n\
         [[orders]]\nnumber = \"TV-1\"\nstatus = \"pronto\"\neta = \"2026-12-05\"\n",
    )
    .unwrap()
}

#[test]
fn amounts_must_belong_to_the_cited_facts() {
    use crate::draft::{BusinessField, FactRef};
    let k = v2_shop();
    let c = Classifier::new(&k);
    let cake = [FactRef::Item { sku: "A-1".into() }];
    let check = |draft: &str, facts: &[FactRef]| {
        c.check_cited(
            draft,
            "quanto custa?",
            Channel::WhatsApp,
            &[],
            &Cited {
                facts,
                looked_up: &[],
            },
        )
    };
    assert!(check("Bolo custa R$ 65,00.", &cake).is_pass());
    // The bread's price is in the file, but not an amount of the cake the draft cites.
    held(
        &check("Bolo custa R$ 28,00.", &cake),
        Rule::UngroundedAmount,
        "R$ 28,00",
    );
    // Uncited (a rule's canned reply): grounded in the whole file, as before.
    assert!(check("Bolo custa R$ 28,00.", &[]).is_pass());
    let shipping = [FactRef::Business {
        field: BusinessField::FreeShipping,
    }];
    assert!(check("O envio é grátis acima de R$ 150,00.", &shipping).is_pass());
    // v2 values ground claims: variant skus, restock and closure dates, order etas.
    assert!(check("B-1-INT volta em 2026-12-02; fechado 2026-12-25.", &[]).is_pass());
    assert!(check("Encomenda TV-1: pronto. Previsão: 2026-12-05.", &[]).is_pass());
    held(
        &check("Previsão: 2026-12-09.", &[]),
        Rule::UngroundedDate,
        "2026-12-09",
    );
    // A looked-up order's fields ground what the draft repeats from it.
    let looked = ["2026-12-09".to_string()];
    let v = c.check_cited(
        "Previsão: 2026-12-09.",
        "e a minha encomenda?",
        Channel::WhatsApp,
        &[],
        &Cited {
            facts: &[],
            looked_up: &looked,
        },
    );
    assert!(v.is_pass(), "{v:?}");
}

#[test]
fn phrases_of_every_language_are_not_off_domain() {
    let k = v2_shop();
    let c = Classifier::new(&k);
    let v = c.check(
        "Lo sentimos, Bolo está agotado ahora mismo. ¿En qué podemos ayudarte?",
        "tienen bolo?",
        Channel::WhatsApp,
        &[],
    );
    assert!(v.is_pass(), "{v:?}");
}

#[test]
fn every_boutique_draft_passes_the_classifier() {
    // The drafter only repeats facts, so its drafts must ground (here, above both, so
    // draft need not know the classifier).
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/knowledge/boutique.toml");
    let k = Knowledge::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap();
    let d = crate::draft::Drafter::new(&k);
    let c = Classifier::new(&k);
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
