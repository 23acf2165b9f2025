//! Ids that look like Meta's, so the relay's parsers and stores see realistic values:
//! Instagram `mid`s and conversation ids are base64 of `ig_…` strings (hence the `aWdf`
//! prefix of real ones), WhatsApp ids are `wamid.` + base64, comment and media ids are
//! 17-digit numbers. A counter inside each id keeps them unique within one simulator run;
//! random bytes keep them unique across runs against the same relay data.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(1);

fn next() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn salt() -> u32 {
    rand::thread_rng().r#gen()
}

/// An Instagram message id, e.g. `aWdfZAG1faXRlbToxOklHTWVzc2FnZAU…`.
#[must_use]
pub fn instagram_mid(account: &str) -> String {
    let raw = format!(
        "ig_message_item:1:IGMessageThread:{account}:{:08x}{:012}",
        salt(),
        next()
    );
    STANDARD_NO_PAD.encode(raw)
}

/// The id of the conversation between an account and a customer; stable for that pair.
#[must_use]
pub fn instagram_conversation(account: &str, customer: &str) -> String {
    STANDARD_NO_PAD.encode(format!("ig_conversation:1:IGThread:{account}:{customer}"))
}

/// A WhatsApp message id, e.g. `wamid.HBgLMTY1MDU1NTEyMzQVAgAR…`: base64 of a small binary
/// record (tag bytes, the customer's number, random bytes) like Meta's.
#[must_use]
pub fn wamid(customer: &str) -> String {
    let mut raw: Vec<u8> = vec![0x1c, 0x18, u8::try_from(customer.len()).unwrap_or(u8::MAX)];
    raw.extend_from_slice(customer.as_bytes());
    raw.extend_from_slice(&[0x15, 0x02, 0x00, 0x11, 0x18, 0x12]);
    raw.extend_from_slice(format!("{:08X}{:010}", salt(), next()).as_bytes());
    raw.push(0x00);
    format!("wamid.{}", STANDARD_NO_PAD.encode(raw))
}

/// A 17-digit Graph object id (comments, media, templates), e.g. `17890000000012345`.
#[must_use]
pub fn numeric(prefix: &str) -> String {
    let n = next() % 1_000_000;
    let r = rand::thread_rng().gen_range(0..100_000_000u64);
    let mut id = format!("{prefix}{r:08}{n:06}");
    id.truncate(17);
    id
}

/// A WhatsApp conversation (billing window) id.
#[must_use]
pub fn wa_conversation() -> String {
    let bytes: [u8; 16] = rand::thread_rng().r#gen();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_meta_shapes_and_differ() {
        let a = instagram_mid("17841400000000001");
        let b = instagram_mid("17841400000000001");
        assert!(a.starts_with("aWdf"), "{a}");
        assert_ne!(a, b);
        assert!(instagram_conversation("1", "2").starts_with("aWdf"));
        assert_eq!(
            instagram_conversation("1", "2"),
            instagram_conversation("1", "2")
        );
        let w = wamid("16505551234");
        assert!(w.starts_with("wamid.HBgL"), "{w}");
        let c = numeric("178");
        assert_eq!(c.len(), 17);
        assert!(c.starts_with("178") && c.bytes().all(|b| b.is_ascii_digit()));
    }
}
