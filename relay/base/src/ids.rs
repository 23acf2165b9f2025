//! How the relay mints ids: random ones for things people create, and hashed ones for
//! things Meta identifies, so the same customer or message always maps to the same id.

use protocol::{ChannelId, MessageId, TenantId, ThreadId};
use rand::Rng;
use sha2::{Digest, Sha256};

/// A fresh random id such as `tn_k3v9…` (lowercase letters and digits only, so it is safe
/// inside storage keys and URLs).
#[must_use]
pub fn random(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        random_text(b"abcdefghijkmnpqrstuvwxyz23456789", 20)
    )
}

/// `n` characters drawn uniformly from `alphabet` (ASCII) with the thread's CSPRNG.
#[must_use]
pub fn random_text(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

fn hashed(prefix: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    format!("{prefix}_{}", hex::encode(&h.finalize()[..12]))
}

/// The thread of `thread_key` (`dm:<igsid>`, `comment:<id>`, `wa:<wa_id>`) on a channel.
#[must_use]
pub fn thread(tenant: &TenantId, channel: &ChannelId, thread_key: &str) -> ThreadId {
    ThreadId(hashed(
        "th",
        &[tenant.as_str(), channel.as_str(), thread_key],
    ))
}

/// The message Meta calls `mid` within a tenant.
#[must_use]
pub fn message(tenant: &TenantId, mid: &str) -> MessageId {
    MessageId(hashed("ms", &[tenant.as_str(), mid]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_ids_are_stable_and_tenant_specific() {
        let (a, b) = (TenantId::new("tn_a"), TenantId::new("tn_b"));
        let c = ChannelId::new("ch_1");
        assert_eq!(thread(&a, &c, "dm:1"), thread(&a, &c, "dm:1"));
        assert_ne!(thread(&a, &c, "dm:1"), thread(&b, &c, "dm:1"));
        assert_ne!(message(&a, "m1"), message(&b, "m1"));
        let r = random("tn");
        assert!(r.starts_with("tn_") && r.len() == 23 && r != random("tn"));
    }
}
