//! Meta's error answers sorted into what the caller does next and what a person reads: the
//! outbox, the refresher, profile lookups, settings calls and the store's status projection
//! all classify through here (the base layer, so none of them imports another for it).
//!
//! The table follows meta-platform.md §10 ("Suggested classification for the relay") and
//! §13 for WhatsApp. Codes the sources mark UNCONFIRMED are mapped the way their text
//! suggests, and anything unknown is `Permanent` for 4xx and `Transient` for 5xx, so an
//! unexpected answer is never retried forever nor silently dropped.

use protocol::{FailureClass, SendFailure};
use serde::Deserialize;

/// Meta's error body: `{"error": {message, type, code, error_subcode, fbtrace_id}}`.
#[derive(Debug, Default, Deserialize)]
pub struct GraphErrorBody {
    pub error: GraphError,
}

#[derive(Debug, Default, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    pub code: Option<i64>,
    pub error_subcode: Option<i64>,
}

/// What went wrong with one Graph call, before classification.
#[derive(Debug)]
pub enum CallFailure {
    /// Meta answered with an HTTP error status (and maybe its error body).
    Answered {
        status: u16,
        error: Option<GraphError>,
    },
    /// No answer: connection refused, reset, or timed out. The message may or may not have
    /// been sent; the caller treats this attempt as in doubt.
    NoAnswer(String),
}

/// Sorts a failed call into a class with a sentence for the desk.
#[must_use]
pub fn classify(failure: &CallFailure) -> SendFailure {
    let (status, code, subcode) = match failure {
        CallFailure::NoAnswer(_) => {
            return SendFailure {
                class: FailureClass::Transient,
                code: None,
                subcode: None,
                message: "Meta did not answer in time; the reply is retried.".into(),
            };
        }
        CallFailure::Answered { status, error } => (
            *status,
            error.as_ref().and_then(|e| e.code),
            error.as_ref().and_then(|e| e.error_subcode),
        ),
    };
    let class = class_of(status, code, subcode);
    SendFailure {
        class,
        code,
        subcode,
        message: sentence(class).into(),
    }
}

/// Sorts a failure Meta reported afterwards in a WhatsApp `failed` status (HTTP was 200).
#[must_use]
pub fn classify_status(code: Option<i64>) -> SendFailure {
    let class = class_of(200, code, None);
    SendFailure {
        class,
        code,
        subcode: None,
        message: sentence(class).into(),
    }
}

fn class_of(status: u16, code: Option<i64>, subcode: Option<i64>) -> FailureClass {
    use FailureClass as F;
    match (code, subcode) {
        (Some(10), Some(2_534_022 | 2_018_278)) | (Some(131_047), _) => F::OutsideWindow,
        (Some(551 | 131_026), _) | (_, Some(2_534_014 | 2_018_001)) => F::RecipientUnavailable,
        (Some(4 | 17 | 32 | 613 | 130_429 | 131_056 | 80_002 | 80_006), _) => F::RateLimited,
        (Some(190), _) => F::TokenInvalid,
        (Some(10 | 3 | 230 | 200..=299), _) => F::Permission,
        (Some(1 | 2), _) => F::Transient,
        _ if status >= 500 || status == 429 => {
            if status == 429 {
                F::RateLimited
            } else {
                F::Transient
            }
        }
        _ => F::Permanent,
    }
}

/// What the desk says for each class: what happened and what to do.
#[must_use]
pub fn sentence(class: FailureClass) -> &'static str {
    match class {
        FailureClass::OutsideWindow => {
            "Meta's messaging window is closed: on WhatsApp send an approved template; on \
             Instagram only a person can still reply, within 7 days of the customer's last message."
        }
        FailureClass::RecipientUnavailable => {
            "The customer cannot receive messages right now (blocked, deleted or unavailable); \
             discard this reply."
        }
        FailureClass::RateLimited => {
            "Meta is throttling this account; the reply is retried after the back-off."
        }
        FailureClass::TokenInvalid => {
            "The channel's access token is expired or revoked: reconnect the channel, then retry."
        }
        FailureClass::Permission => {
            "The app lacks a permission or feature for this message; ask the operator, then retry."
        }
        FailureClass::Transient => "Meta had a temporary failure; the reply is retried.",
        FailureClass::Permanent => {
            "Meta refused this message; edit it and send again, or discard it."
        }
        FailureClass::NoCredits => "No credits left: ask the operator to top up, then retry.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureClass as F;

    fn answered(status: u16, code: i64, subcode: Option<i64>) -> FailureClass {
        classify(&CallFailure::Answered {
            status,
            error: Some(GraphError {
                message: String::new(),
                code: Some(code),
                error_subcode: subcode,
            }),
        })
        .class
    }

    #[test]
    fn meta_codes_map_to_the_documented_classes() {
        assert_eq!(answered(400, 10, Some(2_534_022)), F::OutsideWindow);
        assert_eq!(answered(400, 10, Some(2_018_278)), F::OutsideWindow);
        assert_eq!(answered(400, 131_047, None), F::OutsideWindow);
        assert_eq!(answered(400, 10, None), F::Permission);
        assert_eq!(answered(400, 551, None), F::RecipientUnavailable);
        assert_eq!(answered(400, 100, Some(2_018_001)), F::RecipientUnavailable);
        assert_eq!(answered(400, 4, None), F::RateLimited);
        assert_eq!(answered(400, 613, None), F::RateLimited);
        assert_eq!(answered(400, 130_429, None), F::RateLimited);
        assert_eq!(answered(401, 190, Some(463)), F::TokenInvalid);
        assert_eq!(answered(500, 2, None), F::Transient);
        assert_eq!(answered(400, 100, None), F::Permanent);
        assert_eq!(answered(403, 230, None), F::Permission);
    }

    #[test]
    fn failed_statuses_are_sorted_like_answers() {
        assert_eq!(classify_status(Some(131_047)).class, F::OutsideWindow);
        assert_eq!(
            classify_status(Some(131_026)).class,
            F::RecipientUnavailable
        );
        assert_eq!(classify_status(None).class, F::Permanent);
    }

    #[test]
    fn bodiless_answers_and_silence_fall_back_on_the_status() {
        let bare = |status| {
            classify(&CallFailure::Answered {
                status,
                error: None,
            })
            .class
        };
        assert_eq!(bare(503), F::Transient);
        assert_eq!(bare(429), F::RateLimited);
        assert_eq!(bare(400), F::Permanent);
        let silent = classify(&CallFailure::NoAnswer("timed out".into()));
        assert_eq!(silent.class, F::Transient);
        assert!(F::Transient.retried() && !F::Permanent.retried());
    }
}
