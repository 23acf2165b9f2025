//! The shapes of Meta's ids, checked where an id enters the relay from a person (desk
//! commands, admin calls) before it can reach a Graph call.
//!
//! Object ids (accounts, Pages, numbers, WABAs, comments, media) are digits, or digits
//! joined by `_` (Facebook's `<page>_<post>` comment and post ids). Message ids (`mid`,
//! `wamid.…`) are opaque base64-like text; they only ever travel in JSON bodies, and every
//! one a command names must also be a stored message of the command's thread, so their
//! check here only bounds length and alphabet.

use std::fmt;

/// Longest object id accepted; Meta's are 15–40 characters.
const MAX_OBJECT: usize = 100;
/// Longest message id accepted; `wamid`s are about 60, Instagram `mid`s about 100.
const MAX_MESSAGE: usize = 512;

/// Why an id was refused (the id itself is not repeated: it came from a person).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} is not one of Meta's ids")]
pub struct BadId {
    pub what: &'static str,
}

/// A Graph object id that is safe to place in a URL path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId(String);

impl ObjectId {
    /// # Errors
    /// `text` is not digits (optionally joined by single `_`).
    pub fn parse(text: &str, what: &'static str) -> Result<ObjectId, BadId> {
        if is_object_id(text) {
            Ok(ObjectId(text.to_owned()))
        } else {
            Err(BadId { what })
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Digits, or digit groups joined by single underscores.
#[must_use]
pub fn is_object_id(text: &str) -> bool {
    text.len() <= MAX_OBJECT
        && !text.is_empty()
        && text
            .split('_')
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
}

/// A message id's length and alphabet (letters, digits, `. _ - = + / :`).
#[must_use]
pub fn is_message_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_MESSAGE
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-=+/:".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn object(text: &str, ok: bool) {
        assert_eq!(is_object_id(text), ok, "{text:?}");
        assert_eq!(ObjectId::parse(text, "id").is_ok(), ok, "{text:?}");
    }

    #[test]
    fn object_ids_are_digit_groups() {
        object("17841400000000777", true);
        object("108000000000888_17900000000000001", true);
        object("1", true);
        for hostile in [
            "",
            "me",
            "me/subscribed_apps",
            "../../_sim/x?y=1#",
            "1/../2",
            "1?hide=true",
            "1#x",
            "1%2F2",
            "1 2",
            "１２３",
            "_1",
            "1_",
            "1__2",
            "١٢٣",
            "1\n2",
        ] {
            object(hostile, false);
        }
        object(&"9".repeat(MAX_OBJECT), true);
        object(&"9".repeat(MAX_OBJECT + 1), false);
    }

    #[test]
    fn message_ids_bound_length_and_alphabet() {
        assert!(is_message_id("wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTND+/=="));
        assert!(is_message_id("aWdfZAG1faXRlbToxOklHTWVzc2FnZAU-_"));
        assert!(is_message_id("m_abc:1"));
        assert!(!is_message_id(""));
        assert!(!is_message_id("mid 1"));
        assert!(!is_message_id("mid?x#y"));
        assert!(!is_message_id("mïd"));
        assert!(!is_message_id(&"a".repeat(MAX_MESSAGE + 1)));
    }
}
