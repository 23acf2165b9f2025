//! Newtype ids, so a tenant id can never be passed where a channel id is expected.
//!
//! Ids are opaque strings made by the relay (a short type prefix and random or hashed
//! characters); only the relay decides how they are minted. `Seq` is the tenant-local,
//! gap-free position of an event in that tenant's log.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

string_id!(
    /// One business (a "tenant"): the unit of data isolation.
    TenantId
);
string_id!(
    /// One agency hosting a relay for many tenants.
    PartnerId
);
string_id!(
    /// One connected Instagram account or WhatsApp number of a tenant.
    ChannelId
);
string_id!(
    /// One conversation: a customer's DM thread, a comment thread, or a WhatsApp chat.
    ThreadId
);
string_id!(
    /// One message inside a thread.
    MessageId
);
string_id!(
    /// One draft reply under review.
    DraftId
);
string_id!(
    /// One person working in the desk for a tenant, or a partner viewer.
    AgentId
);

/// Tenant-local sequence number of an event; the first event of a tenant is 1, and 0 means
/// "nothing seen yet" in a desk's cursor.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    #[must_use]
    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A desk-made idempotency key (at most [`CommandKey::MAX_LEN`] bytes).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommandKey(pub String);

impl CommandKey {
    pub const MAX_LEN: usize = 128;

    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Keys are printable ASCII so they can live inside storage keys and logs.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        !self.0.is_empty()
            && self.0.len() <= Self::MAX_LEN
            && self.0.bytes().all(|b| b.is_ascii_graphic())
    }
}

impl fmt::Debug for CommandKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommandKey({})", self.0)
    }
}

impl fmt::Display for CommandKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
