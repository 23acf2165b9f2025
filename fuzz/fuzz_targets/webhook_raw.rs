//! Raw bytes into the webhook parser (`relay::ingest::parse::parse`), as the relay gets them
//! once the signature matched. Any input may be refused; none may panic, overflow, or make
//! more items than the limits allow. Work out of proportion to the input shows up as
//! libFuzzer's timeout or RSS limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relay::ingest::parse::{self, limits};

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = parse::parse(data) {
        assert!(envelope.items.len() <= limits::MAX_ITEMS);
    }
});
