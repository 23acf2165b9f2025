//! Meta's `signed_request` (deauthorize and data-deletion callbacks) into
//! `verify_signed_request`, two ways: any string as it arrives (which must never verify
//! without the secret), and any payload bytes correctly signed with the secret, so the
//! payload's JSON, `algorithm` and `user_id` checks are reached too.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use relay::http::meta_callbacks::{SignedRequestError, verify_signed_request};
use relay::secret::Secret;
use sha2::Sha256;

const SECRET: &str = "fuzz-app-secret";

#[derive(Arbitrary, Debug)]
enum Input<'a> {
    /// The form field as sent, signature and all.
    Raw(&'a str),
    /// A payload, signed here with the right secret (optionally with `=` padding added).
    Signed { payload: &'a [u8], padded: bool },
}

fn sign(payload: &[u8], padded: bool) -> String {
    let encoded = URL_SAFE_NO_PAD.encode(payload);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(encoded.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let pad = if padded { "=" } else { "" };
    format!("{sig}{pad}.{encoded}")
}

fuzz_target!(|input: Input<'_>| {
    let secret = Secret::new(SECRET);
    match input {
        Input::Raw(text) => {
            // Without the secret, nothing verifies (a 2^-256 chance aside).
            assert!(verify_signed_request(text, &[&secret]).is_err());
        }
        Input::Signed { payload, padded } => {
            match verify_signed_request(&sign(payload, padded), &[&secret]) {
                Ok(user) => {
                    assert!(!user.is_empty() && user.len() <= 64);
                    assert!(user.bytes().all(|b| b.is_ascii_digit()));
                }
                Err(e) => assert_ne!(e, SignedRequestError::Signature, "a good signature refused"),
            }
        }
    }
});
