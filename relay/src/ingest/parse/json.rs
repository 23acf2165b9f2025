//! Lenient readers over `serde_json::Value`, Meta's time units, and the hashing used for
//! dedup keys.
//!
//! Meta sends the same field as a string in one payload and a number in the next (ids,
//! `num_edit`, `expiration_timestamp`, timestamps), so every reader here accepts both and
//! answers `None` instead of failing.

use protocol::Millis;
use protocol::inbound::ProviderError;
use serde_json::Value;
use sha2::{Digest, Sha256};

static NULL: Value = Value::Null;

/// `v[key]`, or `null` when `v` is not an object or lacks the key, so lookups chain.
pub(super) fn at<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&NULL)
}

/// The elements of an array; a lone object counts as a one-element list, because a
/// single-item array is sometimes printed unwrapped.
pub(super) fn list(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        Value::Object(_) => std::slice::from_ref(v),
        _ => &[],
    }
}

/// A string as is (empty strings too: an empty emoji means "removed" on WhatsApp).
pub(super) fn string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// A string that carries meaning only when non-empty (titles, names, URLs).
pub(super) fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// An identifier: a non-empty string, or an integer some payloads send unquoted.
pub(super) fn id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// `true`, or the string `"true"`.
pub(super) fn flag(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// `true`/`false`, or their string forms; anything else is unknown.
pub(super) fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// An integer from a number or a string of digits.
pub(super) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A finite float from a number or a numeric string.
pub(super) fn float(v: &Value) -> Option<f64> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    f.is_finite().then_some(f)
}

/// Below this, a Unix time is in seconds (it would be 1973 in ms); at or above, in ms.
const MS_THRESHOLD: i64 = 100_000_000_000;

/// A Unix time in seconds or milliseconds, as a number or a string of digits, normalized to
/// milliseconds. ISO strings, placeholders like `"<TIME>"` and negatives give `None`.
pub(super) fn millis(v: &Value) -> Option<Millis> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                scale(i)
            } else if n.is_u64() {
                // Beyond i64::MAX: not a time anyone means.
                None
            } else {
                let f = n.as_f64()?;
                if !(0.0..9.0e15).contains(&f) {
                    return None;
                }
                // Fractional seconds keep their milliseconds.
                let ms = if f < MS_THRESHOLD as f64 {
                    f * 1000.0
                } else {
                    f
                };
                Some(Millis(ms as i64))
            }
        }
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            scale(s.parse().ok()?)
        }
        _ => None,
    }
}

fn scale(n: i64) -> Option<Millis> {
    if n < 0 {
        return None;
    }
    Some(Millis(if n < MS_THRESHOLD {
        n.saturating_mul(1000)
    } else {
        n
    }))
}

/// An item's JSON text. Serializing a `Value` cannot fail (its keys are strings), so the
/// empty fallback is unreachable in practice.
pub(super) fn to_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Lowercase hex SHA-256 of the concatenated parts.
pub(super) fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Meta's `errors[]` (WhatsApp messages, statuses and values) in our shape.
pub(super) fn errors(v: &Value) -> Vec<ProviderError> {
    list(v)
        .iter()
        .map(|e| ProviderError {
            code: int(at(e, "code")),
            title: text(at(e, "title")),
            message: text(at(e, "message")),
            details: text(at(at(e, "error_data"), "details")),
        })
        .collect()
}

/// A short name of a JSON value's type, for error messages.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
