//! Who a conversation is with, and on which of Meta's surfaces.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The surface a conversation lives on; it decides which messaging window applies.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Channel {
    /// Instagram direct messages.
    InstagramDm,
    /// Comments (and live comments) on the business's Instagram media.
    InstagramComment,
    /// WhatsApp Cloud API chats.
    WhatsApp,
}

impl Channel {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InstagramDm => "instagram_dm",
            Channel::InstagramComment => "instagram_comment",
            Channel::WhatsApp => "whatsapp",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How Meta identifies a customer to one business account.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum CustomerId {
    /// Instagram-scoped id (IGSID), or a Page-scoped id on Facebook-Login payloads.
    Igsid(String),
    /// Only a username is known (Instagram-Login comment examples carry no `from.id`).
    InstagramUsername(String),
    /// WhatsApp id: the customer's phone number without `+`.
    WhatsApp(String),
}

impl CustomerId {
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            CustomerId::Igsid(s) | CustomerId::InstagramUsername(s) | CustomerId::WhatsApp(s) => s,
        }
    }
}

/// A customer as far as Meta told us: an id and, when known, a handle and display name.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    pub username: Option<String>,
    pub name: Option<String>,
}

impl Customer {
    #[must_use]
    pub fn new(id: CustomerId) -> Self {
        Customer {
            id,
            username: None,
            name: None,
        }
    }

    /// What the desk shows: `@username`, the profile name, or the raw id.
    #[must_use]
    pub fn handle(&self) -> String {
        if let Some(u) = &self.username {
            return format!("@{u}");
        }
        if let CustomerId::InstagramUsername(u) = &self.id {
            return format!("@{u}");
        }
        if let Some(n) = &self.name {
            return n.clone();
        }
        self.id.as_str().to_owned()
    }

    /// What the desk shows where a customer appears: `Name (@username)` when the profile
    /// gave both, else [`Customer::handle`].
    #[must_use]
    pub fn display(&self) -> String {
        match (&self.name, &self.username) {
            (Some(n), Some(u)) if !n.is_empty() => format!("{n} (@{u})"),
            _ => self.handle(),
        }
    }
}

/// Whether the customer or the business spoke.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Direction {
    /// From the customer to the business.
    Inbound,
    /// From the business: an echo of a reply sent from Meta's own apps, or one of ours.
    Outbound,
}
