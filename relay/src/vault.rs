//! Sealing of access tokens with AES-256-GCM under the master key.
//!
//! A sealed value is `v1.<key id>.<base64(nonce ‖ ciphertext)>`: a fresh random 96-bit
//! nonce per seal, and the tenant and channel ids as associated data, so a sealed token
//! copied to another channel's row fails to open. The key id (a short hash of the key) lets
//! a later key rotation tell which key sealed a value. Plaintext tokens exist only while a
//! call is made; nothing here logs or formats them.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use protocol::{ChannelId, TenantId};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The 32-byte master key; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    #[must_use]
    pub fn new(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    /// A short, non-secret fingerprint naming this key inside sealed values.
    #[must_use]
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.0);
        hex::encode(&digest[..4])
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(id {}, [redacted])", self.id())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value was made with key {0}, which is not loaded")]
    UnknownKey(String),
    #[error("sealed value does not open for this tenant and channel")]
    Integrity,
}

fn associated_data(tenant: &TenantId, channel: &ChannelId) -> Vec<u8> {
    format!("chatdesk.token.v1\0{tenant}\0{channel}").into_bytes()
}

/// Seals `plaintext` for one tenant's channel.
#[must_use]
pub fn seal(key: &MasterKey, tenant: &TenantId, channel: &ChannelId, plaintext: &str) -> String {
    let cipher = Aes256Gcm::new(&key.0.into());
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    let aad = associated_data(tenant, channel);
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: &aad,
            },
        )
        .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a short token cannot fail"));
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&sealed);
    format!(
        "v1.{}.{}",
        key.id(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(blob)
    )
}

/// Opens a value made by [`seal`] for the same tenant and channel.
///
/// # Errors
/// A malformed value, a value sealed under another key, or one moved to another row.
pub fn open(
    key: &MasterKey,
    tenant: &TenantId,
    channel: &ChannelId,
    sealed: &str,
) -> Result<String, VaultError> {
    let mut parts = sealed.splitn(3, '.');
    let (Some("v1"), Some(key_id), Some(blob)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(VaultError::Malformed);
    };
    if key_id != key.id() {
        return Err(VaultError::UnknownKey(key_id.to_owned()));
    }
    let blob = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(blob)
        .map_err(|_| VaultError::Malformed)?;
    if blob.len() < 12 + 16 {
        return Err(VaultError::Malformed);
    }
    let (nonce, ciphertext) = blob.split_at(12);
    let aad = associated_data(tenant, channel);
    let plain = Aes256Gcm::new(&key.0.into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| VaultError::Integrity)?;
    String::from_utf8(plain).map_err(|_| VaultError::Malformed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ids(t: &str, c: &str) -> (TenantId, ChannelId) {
        (TenantId::new(t), ChannelId::new(c))
    }

    #[test]
    fn seals_open_only_for_their_own_row_and_key() {
        let key = MasterKey::new([7; 32]);
        let (t, c) = ids("tn_a", "ch_1");
        let sealed = seal(&key, &t, &c, "EAAG-token");
        assert!(!sealed.contains("EAAG"));
        assert_ne!(
            sealed,
            seal(&key, &t, &c, "EAAG-token"),
            "nonce must differ per seal"
        );
        assert_eq!(open(&key, &t, &c, &sealed).unwrap(), "EAAG-token");
        let (t2, c2) = ids("tn_b", "ch_2");
        assert_eq!(open(&key, &t2, &c, &sealed), Err(VaultError::Integrity));
        assert_eq!(open(&key, &t, &c2, &sealed), Err(VaultError::Integrity));
        let other = MasterKey::new([8; 32]);
        assert!(matches!(
            open(&other, &t, &c, &sealed),
            Err(VaultError::UnknownKey(_))
        ));
        assert_eq!(open(&key, &t, &c, "v1.x"), Err(VaultError::Malformed));
        let shown = format!("{key:?}");
        assert!(
            shown.contains("[redacted]") && !shown.contains("7, 7"),
            "{shown}"
        );
    }
}
