//! Sealing of access tokens with AES-256-GCM under the master key.
//!
//! A sealed value is `v1.<key id>.<base64(nonce ‖ ciphertext)>`: a fresh random 96-bit
//! nonce per seal, and the tenant and channel ids as associated data, so a sealed token
//! copied to another channel's row fails to open. The key id (a short hash of the key) lets
//! a later key rotation tell which key sealed a value. Plaintext tokens exist only while a
//! call is made; nothing here logs or formats them.
//!
//! [`Keyring`] is what the running relay holds: the current key (new seals) and earlier
//! keys (`RELAY_OLD_MASTER_KEYS`), so values sealed before a rotation still open until
//! they are re-sealed. A rotation (`POST /v1/keys/rotate`) makes a new key current while
//! serving; the old one stays on the ring for the life of the process.

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

    /// A fresh random key (for `relay admin keys rotate` without `--new-key`).
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        MasterKey(bytes)
    }

    /// The key as base64, the form `RELAY_MASTER_KEY` takes. Only the CLI that made a new
    /// key prints this, once, for the operator to store.
    #[must_use]
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Parses the base64 form of a 32-byte key.
    ///
    /// # Errors
    /// A sentence saying what is wrong (never the value).
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "is not base64 (make one with `openssl rand -base64 32`)".to_owned())?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(MasterKey)
            .map_err(|_| format!("must decode to 32 bytes, got {}", bytes.len()))
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

/// The current key and the earlier ones, shared by everything that seals or opens.
pub struct Keyring {
    keys: std::sync::RwLock<Keys>,
}

struct Keys {
    current: MasterKey,
    /// Newest first; never holds `current`.
    older: Vec<MasterKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.read();
        write!(
            f,
            "Keyring(current {}, {} older, [redacted])",
            keys.current.id(),
            keys.older.len()
        )
    }
}

impl Keyring {
    #[must_use]
    pub fn new(current: MasterKey, older: Vec<MasterKey>) -> Keyring {
        let older = older.into_iter().filter(|k| *k != current).collect();
        Keyring {
            keys: std::sync::RwLock::new(Keys { current, older }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        // The keys are replaced whole under the lock, so a poisoned guard is still consistent.
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The id of the key new seals use.
    #[must_use]
    pub fn current_id(&self) -> String {
        self.read().current.id()
    }

    /// Seals under the current key.
    #[must_use]
    pub fn seal(&self, tenant: &TenantId, channel: &ChannelId, plaintext: &str) -> String {
        if crate::crash_point::fault("keyring-seal-damaged") {
            // Sealed for another row, so the value fails its integrity check when opened
            // here, as one sealed under a key gone bad would.
            let elsewhere = ChannelId::new(format!("{channel}.damaged"));
            return seal(&self.read().current, tenant, &elsewhere, plaintext);
        }
        seal(&self.read().current, tenant, channel, plaintext)
    }

    /// Opens a value sealed under any key on the ring.
    ///
    /// # Errors
    /// As [`open`]; `UnknownKey` when no key on the ring has the value's key id.
    pub fn open(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        sealed: &str,
    ) -> Result<String, VaultError> {
        let keys = self.read();
        let id = key_id_of(sealed)?;
        let key = std::iter::once(&keys.current)
            .chain(&keys.older)
            .find(|k| k.id() == id)
            .ok_or_else(|| VaultError::UnknownKey(id.to_owned()))?;
        open(key, tenant, channel, sealed)
    }

    /// Makes `new` the current key; the previous one stays on the ring so values sealed
    /// under it keep opening. Answers the new key's id.
    pub fn rotate(&self, new: MasterKey) -> String {
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if keys.current != new {
            let old = std::mem::replace(&mut keys.current, new);
            let current = keys.current.clone();
            keys.older.retain(|k| *k != current);
            keys.older.insert(0, old);
        }
        keys.current.id()
    }

    /// `sealed` again under the current key, or `None` when it already is.
    ///
    /// # Errors
    /// The value does not open with any key on the ring.
    pub fn reseal(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        sealed: &str,
    ) -> Result<Option<String>, VaultError> {
        if key_id_of(sealed)? == self.current_id() {
            return Ok(None);
        }
        let plain = self.open(tenant, channel, sealed)?;
        Ok(Some(self.seal(tenant, channel, &plain)))
    }
}

/// The key id a sealed value names (not secret).
///
/// # Errors
/// The value is not a sealed value.
pub fn key_id_of(sealed: &str) -> Result<&str, VaultError> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(id), Some(_)) if !id.is_empty() => Ok(id),
        _ => Err(VaultError::Malformed),
    }
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
    fn round_trip_with_a_fresh_nonce_and_the_key_id_inside() {
        let key = MasterKey::new([1; 32]);
        let (t, c) = ids("tn_a", "ch_1");
        let a = seal(&key, &t, &c, "IGAA-secret");
        let b = seal(&key, &t, &c, "IGAA-secret");
        assert_ne!(a, b, "a random 96-bit nonce per seal");
        assert_eq!(key_id_of(&a).unwrap(), key.id());
        let blob = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(a.rsplit('.').next().unwrap())
            .unwrap();
        // 12-byte nonce, the ciphertext (same length as the text), the 16-byte GCM tag.
        assert_eq!(blob.len(), 12 + "IGAA-secret".len() + 16);
        assert_eq!(open(&key, &t, &c, &a).unwrap(), "IGAA-secret");
        assert_eq!(open(&key, &t, &c, &b).unwrap(), "IGAA-secret");
    }

    #[test]
    fn wrong_tenant_or_channel_as_associated_data_fails() {
        let key = MasterKey::new([2; 32]);
        let sealed = seal(&key, &TenantId::new("tn_a"), &ChannelId::new("ch_1"), "tok");
        let open_as = |t: &str, c: &str| open(&key, &TenantId::new(t), &ChannelId::new(c), &sealed);
        assert_eq!(open_as("tn_b", "ch_1"), Err(VaultError::Integrity));
        assert_eq!(open_as("tn_a", "ch_2"), Err(VaultError::Integrity));
        // The separator keeps "tn_a" + "xch_1" from meaning "tn_ax" + "ch_1".
        assert_eq!(open_as("tn_a\0ch", "_1"), Err(VaultError::Integrity));
        assert_eq!(open_as("tn_a", "ch_1").unwrap(), "tok");
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let key = MasterKey::new([3; 32]);
        let (t, c) = ids("tn_a", "ch_1");
        let sealed = seal(&key, &t, &c, "token-value");
        let (head, blob) = sealed.rsplit_once('.').unwrap();
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(blob)
            .unwrap();
        for i in [0, 12, bytes.len() - 1] {
            let mut changed = bytes.clone();
            changed[i] ^= 1;
            let forged = format!(
                "{head}.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&changed)
            );
            assert_eq!(
                open(&key, &t, &c, &forged),
                Err(VaultError::Integrity),
                "byte {i}"
            );
        }
        bytes.truncate(20);
        let short = format!(
            "{head}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes)
        );
        assert_eq!(open(&key, &t, &c, &short), Err(VaultError::Malformed));
    }

    #[test]
    fn unknown_key_id_fails_with_a_clear_error() {
        let (t, c) = ids("tn_a", "ch_1");
        let old = MasterKey::new([4; 32]);
        let sealed = seal(&old, &t, &c, "tok");
        let ring = Keyring::new(MasterKey::new([5; 32]), Vec::new());
        let err = ring.open(&t, &c, &sealed).unwrap_err();
        assert_eq!(err, VaultError::UnknownKey(old.id()));
        let text = err.to_string();
        assert!(
            text.contains(&old.id()) && text.contains("not loaded"),
            "{text}"
        );
    }

    #[test]
    fn a_rotated_ring_opens_old_values_and_seals_under_the_new_key() {
        let (t, c) = ids("tn_a", "ch_1");
        let first = MasterKey::new([6; 32]);
        let second = MasterKey::new([9; 32]);
        let ring = Keyring::new(first.clone(), Vec::new());
        let before = ring.seal(&t, &c, "tok");
        assert_eq!(ring.rotate(second.clone()), second.id());
        assert_eq!(ring.current_id(), second.id());
        assert_eq!(ring.open(&t, &c, &before).unwrap(), "tok");
        let after = ring.reseal(&t, &c, &before).unwrap().unwrap();
        assert_eq!(key_id_of(&after).unwrap(), second.id());
        assert_eq!(ring.reseal(&t, &c, &after).unwrap(), None);
        // After a restart with only the new key, only re-sealed values open.
        let restarted = Keyring::new(second, Vec::new());
        assert_eq!(restarted.open(&t, &c, &after).unwrap(), "tok");
        assert!(matches!(
            restarted.open(&t, &c, &before),
            Err(VaultError::UnknownKey(_))
        ));
        assert!(!format!("{ring:?}").contains("[6"), "{ring:?}");
        assert_eq!(MasterKey::from_base64(&first.to_base64()).unwrap(), first);
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
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
