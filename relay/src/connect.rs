//! Connecting a tenant's Meta accounts from a browser, without a bearer header: Instagram
//! Login, Facebook Login (a Page and its linked Instagram professional account) and
//! WhatsApp Embedded Signup (meta-platform.md §12, §13.3).
//!
//! An operator or owner mints a **connect link** (`POST /v1/tenants/{t}/connect-links`,
//! `links.rs`): single-use, expiring (`RELAY_CONNECT_LINK_TTL_SECS`, 30 min). Opening it
//! consumes it and starts the flow; OAuth flows carry a fresh single-use **state**
//! (`RELAY_CONNECT_STATE_TTL_SECS`, 10 min) to Meta and back. A second step inside a flow
//! (Facebook Login's Page chooser) carries a fresh single-use **choice** with the same
//! lifetime, whose record keeps what the step needs sealed with the vault. All are random
//! secrets prefixed with the tenant id (`<tenant>.<secret>`, so a refusal page can still
//! show the tenant's brand) and stored only as SHA-256 hashes (`Store::put_once` /
//! `take_once`).
//! Taking one is what yields a [`Grant`], the only input `TenantScope::for_connect`
//! accepts.
//!
//! Codes are exchanged server-side (`meta.rs`) and the account identified; then (`save.rs`)
//! its routes are checked against every tenant before anything changes at Meta, the
//! account is subscribed to the webhook fields, and only then is anything written: the token
//! sealed with the vault (tenant and channel as associated data), the channel created or
//! updated (the same account on the same tenant updates; an account another tenant proved is
//! refused, one another tenant holds without proof becomes a claim the operator confirms,
//! `claim.rs`), and a `channel_connected` evidence record appended. Every refusal (denied consent, unknown,
//! replayed or expired link, state or choice, a failed exchange) is a page that writes
//! nothing.
//!
//! Pages (`pages.rs`) carry the partner's brand, never this software's name, and never a
//! token or secret; everything shown is HTML-escaped.

pub mod claim;
pub mod facebook;
pub mod instagram;
pub mod links;
pub mod meta;
pub mod pages;
pub mod save;
pub mod vouch;
pub mod whatsapp;

use protocol::TenantId;

/// What a connect link connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Instagram,
    Facebook,
    Whatsapp,
}

impl Kind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instagram => "instagram",
            Kind::Facebook => "facebook",
            Kind::Whatsapp => "whatsapp",
        }
    }

    #[must_use]
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "instagram" => Some(Kind::Instagram),
            "facebook" => Some(Kind::Facebook),
            "whatsapp" => Some(Kind::Whatsapp),
            _ => None,
        }
    }

    /// What the person sees this flow as.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Kind::Instagram => "Instagram",
            Kind::Facebook => "Instagram (through Facebook)",
            Kind::Whatsapp => "WhatsApp",
        }
    }
}

/// Proof that a single-use link or state minted for `tenant` was just taken. Only
/// `links::take` makes one.
#[derive(Debug)]
pub struct Grant {
    tenant: TenantId,
    kind: Kind,
}

impl Grant {
    #[must_use]
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    #[must_use]
    pub fn kind(&self) -> Kind {
        self.kind
    }
}
