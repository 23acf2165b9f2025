//! Text into the knowledge loader (`Knowledge::from_toml`): TOML parsing and validation,
//! then the model's derived figures (total stock, distinct prices, variant labels) that
//! drafts and the model's prompt are built from, with overflow checks on.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relay::knowledge::Knowledge;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(knowledge) = Knowledge::from_toml(text) else {
        return;
    };
    for item in &knowledge.items {
        let stock = item.total_stock();
        let counted: Vec<u64> = item
            .variants
            .iter()
            .filter_map(|v| v.stock.map(u64::from))
            .collect();
        if !item.variants.is_empty() && !counted.is_empty() {
            // Never less than any one variant's stock: a wrapped sum would be.
            assert!(counted.iter().all(|&n| stock >= Some(n)));
        }
        let prices = item.prices();
        assert_eq!(prices.first(), Some(&item.price));
        for v in &item.variants {
            let _ = v.label();
        }
    }
});
