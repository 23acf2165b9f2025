//! Canned replies: a tenant's ready-made texts, each under a shortcut an agent types as
//! `/shortcut` in the composer or finds in the picker.
//!
//! Texts may hold variables in double braces: `{{customer.name}}`, `{{agent.name}}` and
//! the business's own fields (`{{business.name}}`, `{{business.address}}`, …). [`fill`]
//! replaces the ones it is given and leaves any other as written, so the relay can fill the
//! business's and the agent's fields and the desk the customer's. Filling is text only: what
//! is sent is still checked by the relay's safety classifier like any person's reply.

use serde::{Deserialize, Serialize};

/// Longest shortcut, in characters.
pub const MAX_SHORTCUT: usize = 32;
/// Longest title, in characters.
pub const MAX_TITLE: usize = 120;

/// One canned reply as stored and as the admin API shows it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CannedReply {
    pub shortcut: String,
    pub title: String,
    pub text: String,
}

/// Why a shortcut is refused (`None`: it is fine). Shortcuts are typed after a `/`, so they
/// are short lowercase words: ASCII letters, digits, `-` and `_`.
#[must_use]
pub fn shortcut_problem(shortcut: &str) -> Option<String> {
    if shortcut.is_empty() || shortcut.chars().count() > MAX_SHORTCUT {
        return Some(format!("a shortcut is 1 to {MAX_SHORTCUT} characters"));
    }
    if !shortcut
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Some("a shortcut has only lowercase letters, digits, - and _".into());
    }
    None
}

/// The distinct variable names of `text` (`customer.name`, …), in order of appearance.
#[must_use]
pub fn variables(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty() && !name.contains('{') && !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
        rest = &after[end + 2..];
    }
    out
}

/// `text` with each `{{name}}` whose name `values` lists replaced by its value; other
/// variables stay as written.
#[must_use]
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        out.push_str(&rest[..start]);
        match values.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, values: &[(&str, &str)], expected: &str) {
        assert_eq!(fill(text, values), expected);
    }

    #[test]
    fn fills_known_variables_and_keeps_the_rest() {
        check(
            "Hi {{customer.name}}!",
            &[("customer.name", "Zoë")],
            "Hi Zoë!",
        );
        check(
            "{{ agent.name }} at {{business.name}}",
            &[("agent.name", "Ana"), ("business.name", "Kopi Senja ☕")],
            "Ana at Kopi Senja ☕",
        );
        check("Hi {{customer.name}}", &[], "Hi {{customer.name}}");
        check("odd {{ and }} braces {{", &[], "odd {{ and }} braces {{");
        check(
            "Привет, {{customer.name}}",
            &[("customer.name", "Иван")],
            "Привет, Иван",
        );
    }

    #[test]
    fn lists_variables_once_in_order() {
        assert_eq!(
            variables("{{a}} {{b}} {{a}} {{}} {{c"),
            vec!["a".to_owned(), "b".to_owned()]
        );
    }

    #[test]
    fn shortcuts_are_short_words() {
        assert_eq!(shortcut_problem("thanks"), None);
        assert_eq!(shortcut_problem("ship-2"), None);
        assert!(shortcut_problem("").is_some());
        assert!(shortcut_problem("Thanks").is_some());
        assert!(shortcut_problem("a b").is_some());
        assert!(shortcut_problem(&"x".repeat(33)).is_some());
    }
}
