//! Why a knowledge file was refused. Every error names where the problem is, as a path into
//! the file a tenant can find (`items[3] (sku KB-DR-004).price`), so the admin command and
//! the API can show it as is.

/// A knowledge file that cannot be loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KnowledgeError {
    /// Not TOML, a missing required key, a wrong type or an unknown key (toml's message
    /// carries the line and column).
    #[error("knowledge file is not valid: {0}")]
    Toml(String),
    /// A value that has the right type but is not acceptable.
    #[error("{at}: {problem}")]
    Invalid { at: String, problem: String },
    #[error("{at}: sku `{sku}` is already used by items[{first}]")]
    DuplicateSku {
        at: String,
        sku: String,
        first: usize,
    },
    #[error("{at}: policy key `{key}` is already used by policies[{first}]")]
    DuplicatePolicy {
        at: String,
        key: String,
        first: usize,
    },
    #[error(
        "{at}: link `{url}` is not within the allowed link domains {allowed:?} (add its domain to [links] allowed_domains)"
    )]
    LinkNotAllowed {
        at: String,
        url: String,
        allowed: Vec<String>,
    },
}

impl KnowledgeError {
    pub(super) fn invalid(at: impl Into<String>, problem: impl Into<String>) -> KnowledgeError {
        KnowledgeError::Invalid {
            at: at.into(),
            problem: problem.into(),
        }
    }
}
