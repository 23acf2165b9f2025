//! The owner's order and ticket lookup (`business.order_lookup_url` in the knowledge): one
//! `GET {url}?number={n}` per message that names a number the file does not list, bounded by
//! `order_lookup_timeout_ms`. It answers JSON status fields:
//!
//! ```json
//! {"status": "ready for pickup", "kind": "repair", "eta": "2026-12-08", "note": "…"}
//! ```
//!
//! `404` means no such order. Any other failure (timeout, error status, other JSON) is an
//! error the caller treats as "unknown", so the drafter asks or hands off rather than guess.
//! This module only fetches; the drafter decides what to say.

use crate::knowledge::{Order, OrderKind, OrderLookup};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("the order lookup did not answer in time")]
    Timeout,
    #[error("the order lookup could not be reached")]
    Unreachable,
    #[error("the order lookup answered {0}")]
    Status(u16),
    #[error("the order lookup's answer is not status JSON")]
    Shape,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    eta: Option<String>,
    #[serde(default)]
    updated: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// Looks `number` up through the owner's hook: `Ok(None)` when it says there is no such order.
///
/// # Errors
/// See [`LookupError`].
pub async fn order(
    http: &reqwest::Client,
    hook: &OrderLookup,
    number: &str,
) -> Result<Option<Order>, LookupError> {
    let response = http
        .get(&hook.url)
        .query(&[("number", number)])
        .timeout(Duration::from_millis(hook.timeout_ms))
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                LookupError::Timeout
            } else {
                LookupError::Unreachable
            }
        })?;
    let status = response.status().as_u16();
    if status == 404 {
        return Ok(None);
    }
    if status >= 300 {
        return Err(LookupError::Status(status));
    }
    let answer: Answer = response.json().await.map_err(|e| {
        if e.is_timeout() {
            LookupError::Timeout
        } else {
            LookupError::Shape
        }
    })?;
    if answer.status.trim().is_empty() {
        return Err(LookupError::Shape);
    }
    let kind = match answer.kind.as_deref() {
        Some("repair" | "ticket") => OrderKind::Repair,
        _ => OrderKind::Order,
    };
    Ok(Some(Order {
        number: number.to_string(),
        kind,
        status: answer.status.trim().to_string(),
        eta: answer.eta,
        updated: answer.updated,
        note: answer.note,
    }))
}

/// The texts of a looked-up order, which ground the claims a draft repeats from it.
#[must_use]
pub fn texts(o: &Order) -> Vec<String> {
    let mut out = vec![o.number.clone(), o.status.clone()];
    out.extend([&o.eta, &o.updated, &o.note].into_iter().flatten().cloned());
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use axum::extract::Query;
    use axum::routing::get;
    use std::collections::HashMap;

    /// A stand-in for an owner's order system: `R-1` is ready, `SLOW` never answers,
    /// `BAD` answers something else, anything else is unknown.
    async fn server() -> String {
        async fn answer(Query(q): Query<HashMap<String, String>>) -> axum::response::Response {
            use axum::response::IntoResponse;
            match q.get("number").map(String::as_str) {
                Some("R-1") => axum::Json(serde_json::json!({
                    "status": "ready for pickup", "kind": "repair", "eta": "2026-12-08"
                }))
                .into_response(),
                // Only the hook's timeout can end this request.
                Some("SLOW") => std::future::pending().await,
                Some("BAD") => "not json".into_response(),
                _ => axum::http::StatusCode::NOT_FOUND.into_response(),
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, axum::Router::new().route("/orders", get(answer)))
                .await
                .unwrap();
        });
        format!("http://{addr}/orders")
    }

    #[tokio::test]
    async fn found_unknown_slow_and_malformed() {
        let hook = OrderLookup {
            url: server().await,
            timeout_ms: 200,
        };
        let http = reqwest::Client::new();
        let o = order(&http, &hook, "R-1").await.unwrap().unwrap();
        assert_eq!(o.kind, OrderKind::Repair);
        assert_eq!(o.status, "ready for pickup");
        assert_eq!(o.eta.as_deref(), Some("2026-12-08"));
        assert!(texts(&o).contains(&"2026-12-08".to_string()));
        assert!(order(&http, &hook, "NOPE").await.unwrap().is_none());
        assert!(matches!(
            order(&http, &hook, "SLOW").await,
            Err(LookupError::Timeout)
        ));
        assert!(matches!(
            order(&http, &hook, "BAD").await,
            Err(LookupError::Shape)
        ));
    }
}
