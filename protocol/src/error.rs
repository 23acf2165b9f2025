//! Errors of the codec; the only fallible part of `protocol`.

/// Why bytes or text could not become a protocol value (or the reverse).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("binary frame could not be encoded: {0}")]
    BinaryEncode(String),
    #[error("binary frame is malformed: {0}")]
    BinaryDecode(String),
    #[error("binary frame has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("JSON frame could not be encoded: {0}")]
    JsonEncode(String),
    #[error("JSON frame is malformed: {0}")]
    JsonDecode(String),
    #[error("JSON frame has no \"type\" tag")]
    MissingType,
}
