//! Meta's Graph error bodies, exactly as the platform answers them (meta-platform.md §10):
//! `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`, plus
//! `error_data` on WhatsApp errors. `error_subcode` is left out when Meta has none, as
//! Meta does. Every error the simulator can give is built here, so the codes chosen for
//! each rule are listed in one place (and in the module documentation of `simulate`).
//!
//! HTTP statuses follow what Meta sends: 400 for almost everything, including rate limits
//! and invalid tokens on graph.facebook.com / graph.instagram.com; 401 for invalid or
//! expired tokens on the WhatsApp Cloud API; 500 / 503 for transient failures.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// Which surface answered, because a few statuses and subcodes differ between them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Surface {
    /// Instagram API with Instagram Login (`graph.instagram.com`).
    InstagramLogin,
    /// Instagram messaging through a Facebook Page (`graph.facebook.com`, Page token).
    FacebookLogin,
    /// WhatsApp Cloud API.
    WhatsApp,
    /// Any other Graph path (comments, templates, profile) where the surface does not matter.
    Graph,
}

/// One Graph error answer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: u32,
    pub subcode: Option<u32>,
    pub kind: &'static str,
    pub message: String,
    /// WhatsApp's `error_data.details`.
    pub details: Option<String>,
}

impl GraphError {
    fn new(
        status: StatusCode,
        code: u32,
        subcode: Option<u32>,
        message: impl Into<String>,
    ) -> Self {
        GraphError {
            status,
            code,
            subcode,
            kind: "OAuthException",
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// The JSON body, with a fresh `fbtrace_id`.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut error = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": fbtrace_id(),
        });
        if let Some(sub) = self.subcode {
            error["error_subcode"] = json!(sub);
        }
        if let Some(details) = &self.details {
            error["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
        }
        json!({ "error": error })
    }

    // ---- tokens (code 190 and its subcodes, 104 for no token at all) ----

    /// No access token anywhere in the request.
    #[must_use]
    pub fn token_missing() -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            104,
            None,
            "An access token is required to request this resource.",
        )
    }

    /// A token the simulator does not know: 190 / 467.
    #[must_use]
    pub fn token_invalid(surface: Surface) -> Self {
        GraphError::new(
            token_status(surface),
            190,
            Some(467),
            "Error validating access token: The session is invalid because the user logged out.",
        )
    }

    /// A known token past its expiry (or the `token_expired` fault): 190 / 463.
    #[must_use]
    pub fn token_expired(surface: Surface) -> Self {
        GraphError::new(
            token_status(surface),
            190,
            Some(463),
            "Error validating access token: Session has expired.",
        )
    }

    /// `appsecret_proof` present but not the HMAC of the token with the app secret.
    #[must_use]
    pub fn bad_appsecret_proof() -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            100,
            None,
            "Invalid appsecret_proof provided in the API argument",
        )
    }

    // ---- objects and parameters (code 100) ----

    /// An id that does not exist or that this token may not touch: 100 / 33.
    #[must_use]
    pub fn unknown_object(id: &str) -> Self {
        let mut e = GraphError::new(
            StatusCode::BAD_REQUEST,
            100,
            Some(33),
            format!(
                "Unsupported request - method type: post. Object with ID '{id}' does not exist, \
                 cannot be loaded due to missing permissions, or does not support this operation."
            ),
        );
        e.kind = "GraphMethodException";
        e
    }

    /// A path the simulator does not serve.
    #[must_use]
    pub fn unknown_path(path: &str) -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            2500,
            None,
            format!("Unknown path components: {path}"),
        )
    }

    /// The User Profile API for a customer who has not messaged the business (or blocked
    /// it): meta-platform.md §6.3 quotes only the message; the code is Graph's generic 100.
    pub fn user_consent_required() -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            100,
            Some(2_018_218),
            "User consent is required to access user profile",
        )
    }

    /// A malformed request body: code 100 with the parameter named.
    #[must_use]
    pub fn invalid_parameter(what: impl Into<String>) -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            100,
            None,
            format!("(#100) {}", what.into()),
        )
    }

    /// The recipient never messaged this account: 100 / 2018001.
    #[must_use]
    pub fn no_matching_user() -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            100,
            Some(2_018_001),
            "(#100) No matching user found",
        )
    }

    /// The recipient blocked the business or deleted their account: 551 / 1545041.
    #[must_use]
    pub fn unavailable() -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            551,
            Some(1_545_041),
            "(#551) This person isn't available right now.",
        )
    }

    // ---- windows and policy (code 10) ----

    /// Outside the standard window (or the human-agent tag's 7 days): 10 / 2534022 on
    /// Instagram Login, 10 / 2018278 on Facebook Login.
    #[must_use]
    pub fn outside_window(surface: Surface) -> Self {
        let sub = if surface == Surface::FacebookLogin {
            2_018_278
        } else {
            2_534_022
        };
        GraphError::new(
            StatusCode::BAD_REQUEST,
            10,
            Some(sub),
            "(#10) This message is sent outside of allowed window. Learn more about the new \
             policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
        )
    }

    /// The human-agent feature is not approved for this account (code 10, no subcode).
    #[must_use]
    pub fn human_agent_not_approved() -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            10,
            None,
            "(#10) Application does not have permission for this action",
        )
    }

    /// The comment's single private reply is used: 10 / 2534025.
    #[must_use]
    pub fn private_reply_used() -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            10,
            Some(2_534_025),
            "(#10) This comment already has a private reply; only one is allowed.",
        )
    }

    // ---- rate limits ----

    /// App-level throttling: code 4.
    #[must_use]
    pub fn app_rate_limited() -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            4,
            None,
            "(#4) Application request limit reached",
        )
    }

    /// Per-account send limits: code 613 (subcode 2534013 for private replies per hour).
    #[must_use]
    pub fn rate_limited(subcode: Option<u32>) -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            613,
            subcode,
            "(#613) Calls to this API have exceeded the rate limit.",
        )
    }

    /// WhatsApp throughput: 130429.
    #[must_use]
    pub fn wa_throughput() -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            130_429,
            None,
            "(#130429) Rate limit hit",
        )
        .with_details(
            "Cloud API message throughput has been reached. Try again later or reduce \
                 the frequency of messages.",
        )
    }

    /// A rate-limit error by code, for the `rate_limit` fault.
    #[must_use]
    pub fn throttled(code: u32) -> Self {
        match code {
            613 => GraphError::rate_limited(None),
            130_429 => GraphError::wa_throughput(),
            17 => GraphError::new(
                StatusCode::BAD_REQUEST,
                17,
                None,
                "(#17) User request limit reached",
            ),
            32 => GraphError::new(
                StatusCode::BAD_REQUEST,
                32,
                None,
                "(#32) Page request limit reached",
            ),
            80_002 => GraphError::new(
                StatusCode::BAD_REQUEST,
                80_002,
                None,
                "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
            ),
            _ => GraphError::app_rate_limited(),
        }
    }

    // ---- WhatsApp ----

    /// Free-form message outside the 24 h customer-service window: 131047.
    #[must_use]
    pub fn wa_reengagement() -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            131_047,
            None,
            "(#131047) Re-engagement message",
        )
        .with_details(WA_REENGAGEMENT_DETAILS)
    }

    /// Template missing, not approved, or not in that language: 132001.
    #[must_use]
    pub fn wa_template_missing(name: &str, language: &str) -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            132_001,
            None,
            "(#132001) Template name does not exist in the translation",
        )
        .with_details(format!(
            "template name ({name}) does not exist in {language} or is not approved"
        ))
    }

    /// Template parameter count mismatch: 132000.
    #[must_use]
    pub fn wa_template_params(expected: usize, got: usize) -> Self {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            132_000,
            None,
            "(#132000) Number of parameters does not match the expected number of params",
        )
        .with_details(format!("body: number of localizable_params ({got}) does not match the expected number of params ({expected})"))
    }

    /// A malformed WhatsApp body: 100 with `error_data`.
    #[must_use]
    pub fn wa_invalid(what: impl Into<String>) -> Self {
        let what = what.into();
        GraphError::new(
            StatusCode::BAD_REQUEST,
            100,
            None,
            "(#100) Invalid parameter",
        )
        .with_details(what)
    }

    // ---- transient ----

    /// A transient server failure (fault mode): code 1 with 500, code 2 with 503.
    #[must_use]
    pub fn transient(status: StatusCode) -> Self {
        let (code, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
            (2, "(#2) Service temporarily unavailable")
        } else {
            (1, "An unknown error occurred")
        };
        let sub = (code == 2).then_some(1_545_133);
        let mut e = GraphError::new(status, code, sub, message);
        e.kind = "OAuthException";
        e
    }
}

/// What `error_data.details` says for 131047, also used in `failed` status webhooks.
pub const WA_REENGAGEMENT_DETAILS: &str = "Message failed to send because more than 24 hours \
     have passed since the customer last replied to this number.";

fn token_status(surface: Surface) -> StatusCode {
    if surface == Surface::WhatsApp {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// Meta's request trace id: 11 or so characters of base64-ish letters.
#[must_use]
pub fn fbtrace_id() -> String {
    chatdesk_base::ids::random_text(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
        11,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(e: &GraphError, status: u16, code: u64, subcode: Option<u64>) {
        let body = e.body();
        let err = &body["error"];
        assert_eq!(e.status.as_u16(), status, "{body}");
        assert_eq!(err["code"].as_u64(), Some(code), "{body}");
        assert_eq!(err["error_subcode"].as_u64(), subcode, "{body}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(
            err["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("Exception"))
        );
        assert_eq!(err["fbtrace_id"].as_str().map(str::len), Some(11));
        let keys: Vec<&str> = err
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        for k in &keys {
            assert!(
                [
                    "message",
                    "type",
                    "code",
                    "error_subcode",
                    "fbtrace_id",
                    "error_data"
                ]
                .contains(k),
                "unexpected key {k}"
            );
        }
    }

    #[test]
    fn every_rule_has_its_code() {
        check(
            &GraphError::token_invalid(Surface::InstagramLogin),
            400,
            190,
            Some(467),
        );
        check(
            &GraphError::token_invalid(Surface::WhatsApp),
            401,
            190,
            Some(467),
        );
        check(
            &GraphError::token_expired(Surface::FacebookLogin),
            400,
            190,
            Some(463),
        );
        check(
            &GraphError::token_expired(Surface::WhatsApp),
            401,
            190,
            Some(463),
        );
        check(
            &GraphError::outside_window(Surface::InstagramLogin),
            400,
            10,
            Some(2_534_022),
        );
        check(
            &GraphError::outside_window(Surface::FacebookLogin),
            400,
            10,
            Some(2_018_278),
        );
        check(&GraphError::private_reply_used(), 400, 10, Some(2_534_025));
        check(&GraphError::no_matching_user(), 400, 100, Some(2_018_001));
        check(&GraphError::unavailable(), 400, 551, Some(1_545_041));
        check(&GraphError::app_rate_limited(), 400, 4, None);
        check(&GraphError::rate_limited(None), 400, 613, None);
        check(&GraphError::wa_throughput(), 400, 130_429, None);
        check(&GraphError::wa_reengagement(), 400, 131_047, None);
        check(
            &GraphError::wa_template_missing("x", "en"),
            400,
            132_001,
            None,
        );
        check(
            &GraphError::invalid_parameter("param recipient must be non-empty."),
            400,
            100,
            None,
        );
        check(&GraphError::unknown_object("123"), 400, 100, Some(33));
        check(
            &GraphError::transient(StatusCode::INTERNAL_SERVER_ERROR),
            500,
            1,
            None,
        );
        check(
            &GraphError::transient(StatusCode::SERVICE_UNAVAILABLE),
            503,
            2,
            Some(1_545_133),
        );
    }

    #[test]
    fn whatsapp_errors_carry_error_data() {
        let body = GraphError::wa_reengagement().body();
        assert_eq!(body["error"]["error_data"]["messaging_product"], "whatsapp");
        assert!(body["error"]["error_data"]["details"].is_string());
        assert!(
            GraphError::outside_window(Surface::InstagramLogin).body()["error"]
                .get("error_data")
                .is_none()
        );
    }

    #[test]
    fn trace_ids_differ() {
        assert_ne!(fbtrace_id(), fbtrace_id());
    }
}
