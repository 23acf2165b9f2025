//! A tenant's ordered reply rules (part of its settings): the first rule whose channels and
//! matcher fit a customer message decides the answer before the drafter is asked.
//!
//! A matcher is keywords (whole words, case-insensitive, `any` or `all` of them) or one of
//! the drafter's intents (`complaint`, `price`, …: the drafter classifies the message). The
//! answer is a canned text with placeholders (`{business}`, `{customer}`) or an instruction
//! for the model — either way checked by the safety classifier like every draft — and a rule
//! may auto-send on its own or hide the comment it matched (for spam rules on comments).
//! A tenant's `default_reply` (settings) is a holding reply drafted when the drafter hands a
//! message to a person; it always waits for approval.

use protocol::Channel;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyRule {
    pub name: String,
    /// `instagram_dm`, `instagram_comment`, `whatsapp`; empty: every channel.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// `any` (default) or `all` of the keywords.
    #[serde(default)]
    pub mode: MatchMode,
    /// Match by the drafter's intent instead of keywords.
    #[serde(default)]
    pub intent: Option<String>,
    /// The canned reply; `None` with `hide_comment` for a spam rule that only hides.
    #[serde(default)]
    pub reply: Option<String>,
    /// Instead of a canned reply: an instruction for the model (with the retrieved facts);
    /// without a model, or when it fails, the grounded draft is used.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Overrides the tenant's auto-send for this rule's replies.
    #[serde(default)]
    pub auto_send: Option<bool>,
    /// Hide the matched comment (comments only).
    #[serde(default)]
    pub hide_comment: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    #[default]
    Any,
    All,
}

/// Why a rule set was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("rules[{index}] ({name}): {problem}")]
pub struct RuleError {
    pub index: usize,
    pub name: String,
    pub problem: String,
}

const CHANNELS: [&str; 3] = ["instagram_dm", "instagram_comment", "whatsapp"];

/// Checks a rule set before it is stored.
///
/// # Errors
/// The first rule that cannot work, named with its index.
pub fn validate(rules: &[ReplyRule]) -> Result<(), RuleError> {
    for (index, rule) in rules.iter().enumerate() {
        let fail = |problem: &str| RuleError {
            index,
            name: rule.name.clone(),
            problem: problem.to_owned(),
        };
        if rule.name.trim().is_empty() {
            return Err(fail("a rule needs a name"));
        }
        if let Some(c) = rule
            .channels
            .iter()
            .find(|c| !CHANNELS.contains(&c.as_str()))
        {
            return Err(fail(&format!(
                "unknown channel `{c}`; use one of {CHANNELS:?}"
            )));
        }
        let keywords = rule
            .keywords
            .iter()
            .filter(|k| !k.trim().is_empty())
            .count();
        match (keywords, &rule.intent) {
            (0, None) => return Err(fail("give keywords or an intent to match")),
            (n, Some(_)) if n > 0 => return Err(fail("give keywords or an intent, not both")),
            _ => {}
        }
        let reply = rule.reply.as_deref().is_some_and(|r| !r.trim().is_empty());
        let prompt = rule.prompt.as_deref().is_some_and(|p| !p.trim().is_empty());
        if reply && prompt {
            return Err(fail("give a reply or a prompt, not both"));
        }
        if !reply && !prompt && !rule.hide_comment {
            return Err(fail(
                "give a reply or a prompt, or hide_comment for a rule that only hides",
            ));
        }
    }
    Ok(())
}

/// The channel name rules use.
#[must_use]
pub fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::InstagramDm => "instagram_dm",
        Channel::InstagramComment => "instagram_comment",
        Channel::WhatsApp => "whatsapp",
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `keyword` (one or more words) occurs in `text` on word boundaries.
fn has_phrase(text_words: &[String], keyword: &str) -> bool {
    let phrase = words(keyword);
    !phrase.is_empty()
        && text_words
            .windows(phrase.len())
            .any(|w| w == phrase.as_slice())
}

/// The first rule that fits; `intents` are the drafter's for the message.
#[must_use]
pub fn first_match<'a>(
    rules: &'a [ReplyRule],
    channel: Channel,
    message: &str,
    intents: &[String],
) -> Option<&'a ReplyRule> {
    let text_words = words(message);
    let name = channel_name(channel);
    rules.iter().find(|rule| {
        let on_channel = rule.channels.is_empty() || rule.channels.iter().any(|c| c == name);
        let matched = match &rule.intent {
            Some(intent) => intents.iter().any(|i| i == intent),
            None => {
                let mut hits = rule
                    .keywords
                    .iter()
                    .filter(|k| !k.trim().is_empty())
                    .map(|k| has_phrase(&text_words, k));
                match rule.mode {
                    MatchMode::Any => hits.any(|h| h),
                    MatchMode::All => hits.all(|h| h),
                }
            }
        };
        on_channel && matched
    })
}

/// `reply` with its placeholders filled.
#[must_use]
pub fn fill(reply: &str, business: &str, customer: &str) -> String {
    reply
        .replace("{business}", business)
        .replace("{customer}", customer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rule(name: &str, keywords: &[&str], mode: MatchMode) -> ReplyRule {
        ReplyRule {
            name: name.into(),
            channels: Vec::new(),
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
            mode,
            intent: None,
            reply: Some("ok".into()),
            prompt: None,
            auto_send: None,
            hide_comment: false,
        }
    }

    #[test]
    fn keywords_match_whole_words_in_order_of_the_rules() {
        let rules = vec![
            rule("promo", &["giveaway", "follow back"], MatchMode::Any),
            rule("cod", &["cod", "bayar"], MatchMode::All),
        ];
        let dm = Channel::InstagramDm;
        assert_eq!(
            first_match(&rules, dm, "Follow back dong!", &[]).map(|r| r.name.as_str()),
            Some("promo")
        );
        // Word boundaries: "codet" is not "cod".
        assert!(first_match(&rules, dm, "bayar codet", &[]).is_none());
        assert_eq!(
            first_match(&rules, dm, "bisa COD? bayar di tempat", &[]).map(|r| r.name.as_str()),
            Some("cod")
        );
        assert!(
            first_match(&rules, dm, "bisa cod?", &[]).is_none(),
            "all keywords needed"
        );
    }

    #[test]
    fn channels_and_intents_narrow_a_rule() {
        let mut spam = rule("spam", &["promo"], MatchMode::Any);
        spam.channels = vec!["instagram_comment".into()];
        let mut angry = rule("angry", &[], MatchMode::Any);
        angry.intent = Some("complaint".into());
        let rules = vec![spam, angry];
        assert!(first_match(&rules, Channel::InstagramDm, "promo", &[]).is_none());
        assert_eq!(
            first_match(&rules, Channel::InstagramComment, "cek promo", &[])
                .map(|r| r.name.as_str()),
            Some("spam")
        );
        assert_eq!(
            first_match(&rules, Channel::WhatsApp, "kecewa", &["complaint".into()])
                .map(|r| r.name.as_str()),
            Some("angry")
        );
    }

    #[test]
    fn broken_rules_are_named() {
        let mut no_reply = rule("x", &["a"], MatchMode::Any);
        no_reply.reply = None;
        let err = validate(&[rule("ok", &["a"], MatchMode::Any), no_reply]).unwrap_err();
        assert_eq!(err.index, 1);
        let mut bad_channel = rule("y", &["a"], MatchMode::Any);
        bad_channel.channels = vec!["sms".into()];
        assert!(
            validate(&[bad_channel])
                .unwrap_err()
                .problem
                .contains("sms")
        );
        assert!(validate(&[rule("z", &[], MatchMode::Any)]).is_err());
        assert_eq!(
            fill("Halo {customer}, dari {business}", "Kirana", "budi"),
            "Halo budi, dari Kirana"
        );
    }
}
