//! The one place frames and stored values become bytes: bincode 2 (over serde) for binary
//! frames and storage, JSON with a `"type"` tag for the text subprotocol.
//!
//! bincode's own configuration is fixed here (standard varint encoding, with a size limit
//! so a hostile length prefix cannot make the decoder allocate gigabytes). Nothing outside
//! this module names bincode.

use crate::error::CodecError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Largest value the binary decoder will materialize.
pub const MAX_BINARY_LEN: usize = 16 * 1024 * 1024;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_BINARY_LEN>()
}

/// Encodes any protocol value (or storage record) as bincode.
///
/// # Errors
/// Only if a value cannot be represented (it never happens for protocol types).
pub fn encode_binary<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config())
        .map_err(|e| CodecError::BinaryEncode(e.to_string()))
}

/// Decodes bincode produced by [`encode_binary`]; trailing bytes are an error, so two
/// frames glued together are never mistaken for one.
///
/// # Errors
/// Malformed or truncated input, or input longer than one value.
pub fn decode_binary<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| CodecError::BinaryDecode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::TrailingBytes(bytes.len() - used));
    }
    Ok(value)
}

/// Encodes a value as plain JSON (no frame tag), e.g. for admin answers.
///
/// # Errors
/// Only if a value cannot be represented as JSON.
pub fn encode_json<T: Serialize>(value: &T) -> Result<String, CodecError> {
    serde_json::to_string(value).map_err(|e| CodecError::JsonEncode(e.to_string()))
}

/// Decodes plain JSON.
///
/// # Errors
/// Malformed JSON or a shape that does not match `T`.
pub fn decode_json<T: DeserializeOwned>(text: &str) -> Result<T, CodecError> {
    serde_json::from_str(text).map_err(|e| CodecError::JsonDecode(e.to_string()))
}

/// Encodes a frame enum as a JSON object tagged with `"type"`:
/// `Hello { cursor: 3 }` becomes `{"cursor":3,"protocol":4,"type":"hello"}` (keys sorted).
///
/// serde's internally tagged enums cannot be decoded by bincode, so frames derive the
/// default (externally tagged) form and the tag is moved here, for JSON only.
///
/// # Errors
/// If `frame` is not an enum of struct variants.
pub fn encode_json_frame<T: Serialize>(frame: &T) -> Result<String, CodecError> {
    let value = serde_json::to_value(frame).map_err(|e| CodecError::JsonEncode(e.to_string()))?;
    let Value::Object(outer) = value else {
        return Err(CodecError::JsonEncode(
            "frame is not a struct variant".into(),
        ));
    };
    let mut iter = outer.into_iter();
    let (Some((tag, Value::Object(fields))), None) = (iter.next(), iter.next()) else {
        return Err(CodecError::JsonEncode(
            "frame is not a struct variant".into(),
        ));
    };
    let mut tagged = Map::with_capacity(fields.len() + 1);
    tagged.insert("type".into(), Value::String(tag));
    tagged.extend(fields);
    serde_json::to_string(&Value::Object(tagged)).map_err(|e| CodecError::JsonEncode(e.to_string()))
}

/// Decodes a `"type"`-tagged JSON frame.
///
/// # Errors
/// Malformed JSON, a missing or non-string `"type"`, or fields that do not fit the variant.
pub fn decode_json_frame<T: DeserializeOwned>(text: &str) -> Result<T, CodecError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| CodecError::JsonDecode(e.to_string()))?;
    let Value::Object(mut fields) = value else {
        return Err(CodecError::JsonDecode(
            "a frame must be a JSON object".into(),
        ));
    };
    let Some(Value::String(tag)) = fields.remove("type") else {
        return Err(CodecError::MissingType);
    };
    let mut outer = Map::with_capacity(1);
    outer.insert(tag, Value::Object(fields));
    serde_json::from_value(Value::Object(outer)).map_err(|e| CodecError::JsonDecode(e.to_string()))
}
