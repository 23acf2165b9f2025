//! Webhook signature verification: `X-Hub-Signature-256` over the raw body.
//!
//! The HMAC is computed over the bytes exactly as received; Meta signs its own escaped
//! serialization, so re-serialized JSON would fail on any non-ASCII text. The comparison is
//! constant-time (via `hmac`'s `verify_slice`). A body that passes becomes `Verified`, the
//! only input ingest accepts, and that type cannot be built anywhere else.

use crate::secret::Secret;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook's signature was refused. The texts never contain the secret or the digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    #[error("X-Hub-Signature-256 is not of the form sha256=<64 hex digits>")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match the body")]
    Mismatch,
}

/// A webhook body whose signature matched one of the configured secrets.
#[derive(Debug, Clone)]
pub struct Verified {
    body: Bytes,
}

impl Verified {
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as a shared buffer, for work that must own it (parsing on the blocking pool).
    #[must_use]
    pub fn shared_body(&self) -> Bytes {
        self.body.clone()
    }
}

/// Checks `header` (the value of `X-Hub-Signature-256`) against every secret in turn.
///
/// # Errors
/// `Missing`, `Malformed`, or `Mismatch` when no secret produced the digest.
pub fn verify(
    body: Bytes,
    header: Option<&[u8]>,
    secrets: &[&Secret],
) -> Result<Verified, VerifyError> {
    let header = header.ok_or(VerifyError::Missing)?;
    let hex_digest = header
        .strip_prefix(b"sha256=")
        .or_else(|| header.strip_prefix(b"SHA256="))
        .ok_or(VerifyError::Malformed)?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut digest).map_err(|_| VerifyError::Malformed)?;
    for secret in secrets {
        let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose().as_bytes()) else {
            continue;
        };
        mac.update(&body);
        if mac.verify_slice(&digest).is_ok() {
            return Ok(Verified { body });
        }
    }
    Err(VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// The header value Meta would send for `body` signed with `secret` .
    #[must_use]
    pub fn sign(body: &[u8], secret: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    fn secrets() -> (Secret, Secret) {
        (Secret::new("meta-secret"), Secret::new("ig-secret"))
    }

    #[test]
    fn accepts_either_secret_and_refuses_others() {
        let (meta, ig) = secrets();
        let body = Bytes::from_static(br#"{"object":"instagram","entry":[]}"#);
        for key in ["meta-secret", "ig-secret"] {
            let header = sign(&body, key);
            assert!(verify(body.clone(), Some(header.as_bytes()), &[&meta, &ig]).is_ok());
        }
        let wrong = sign(&body, "other");
        assert_eq!(
            verify(body.clone(), Some(wrong.as_bytes()), &[&meta, &ig]).unwrap_err(),
            VerifyError::Mismatch
        );
        assert_eq!(
            verify(body.clone(), None, &[&meta]).unwrap_err(),
            VerifyError::Missing
        );
        for bad in ["sha1=abc", "sha256=zz", "sha256=", "sha256=abcd"] {
            assert_eq!(
                verify(body.clone(), Some(bad.as_bytes()), &[&meta]).unwrap_err(),
                VerifyError::Malformed
            );
        }
    }

    #[test]
    fn escaped_unicode_is_hashed_as_sent_not_as_decoded() {
        let (meta, _) = secrets();
        let escaped = Bytes::from_static(br#"{"text":"\u00e4\u00f6\u00e5 \ud83d\ude0a"}"#);
        let decoded = Bytes::from("{\"text\":\"äöå 😊\"}");
        let header = sign(&escaped, "meta-secret");
        assert!(verify(escaped, Some(header.as_bytes()), &[&meta]).is_ok());
        assert_eq!(
            verify(decoded, Some(header.as_bytes()), &[&meta]).unwrap_err(),
            VerifyError::Mismatch
        );
    }

    proptest! {
        #[test]
        fn any_body_verifies_with_its_own_signature_and_not_when_changed(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            flip in any::<usize>(),
        ) {
            let (meta, _) = secrets();
            let header = sign(&body, "meta-secret");
            prop_assert!(verify(Bytes::from(body.clone()), Some(header.as_bytes()), &[&meta]).is_ok());
            if !body.is_empty() {
                let mut changed = body.clone();
                let i = flip % changed.len();
                changed[i] ^= 0x01;
                prop_assert!(verify(Bytes::from(changed), Some(header.as_bytes()), &[&meta]).is_err());
            }
        }
    }
}
