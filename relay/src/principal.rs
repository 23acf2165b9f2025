//! Who is calling, decided once from the bearer token, and the tenant scopes that follow.
//!
//! A [`TenantScope`] is the only key to a tenant's data in storage. It can be made in three
//! places only, all here: from an authenticated [`Principal`] that may act for that tenant,
//! from a webhook whose signature verified and whose account routed to that tenant's
//! channel, or from a connect grant (a single-use link or OAuth `state` minted for the
//! tenant by one of its principals, `crate::connect`). No other code can name a tenant to
//! storage, so no code path can read across tenants by passing the wrong id.

use crate::verify::Verified;
use protocol::{AgentId, PartnerId, Role, TenantId};
use sha2::{Digest, Sha256};

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// Holds `RELAY_OPERATOR_TOKEN`: runs the relay, may act for every tenant.
    Operator,
    /// A partner viewer: sees its partner's aggregate report, never tenant contents.
    PartnerViewer { partner: PartnerId, viewer: AgentId },
    /// A person of one tenant.
    TenantAgent {
        tenant: TenantId,
        agent: AgentId,
        role: Role,
    },
}

/// What a principal wants to do with a tenant's data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    /// Read threads, messages, events.
    Read,
    /// Change settings, channels, agents: operators and owners.
    Manage,
}

/// Why a principal may not act on a tenant.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Denied {
    /// Another tenant (or a partner viewer): answered as "not found" so existence does not leak.
    #[error("not found")]
    OtherTenant,
    /// Own tenant, but the role does not allow it.
    #[error("this action needs the owner role")]
    Role,
}

/// Proof that the holder may act on exactly one tenant's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantScope {
    tenant: TenantId,
}

impl TenantScope {
    #[must_use]
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The scope of a connect flow: the tenant a single-use connect link or OAuth `state`
    /// was minted for (by an operator or owner), read from the record that was just taken.
    /// Only `crate::connect` calls this, with a `connect::Grant` that only taking such a
    /// record yields (`relay/tests/scopes.rs` checks the callers).
    #[must_use]
    pub fn for_connect(granted_to: &TenantId) -> TenantScope {
        TenantScope {
            tenant: granted_to.clone(),
        }
    }

    /// The scope of a tenant deletion the operator started and the registry recorded:
    /// what a restarted relay finishes (`lifecycle::resume_deletions`), with no principal
    /// left to ask. Only `lifecycle` calls this, with the tenant of a stored deletion record
    /// (`relay/tests/scopes.rs` checks the callers).
    #[must_use]
    pub fn for_deletion(deleted: &TenantId) -> TenantScope {
        TenantScope {
            tenant: deleted.clone(),
        }
    }

    /// The scope of a verified webhook, for the tenant whose channel its account routed to.
    /// Only the webhook route calls this (`relay/tests/scopes.rs` checks the callers).
    #[must_use]
    pub fn for_webhook(_proof: &Verified, routed_to: &TenantId) -> TenantScope {
        TenantScope {
            tenant: routed_to.clone(),
        }
    }
}

impl Principal {
    /// The scope for `tenant`, if this principal may perform `access` there.
    ///
    /// # Errors
    /// `OtherTenant` for other tenants and partner viewers; `Role` for agents managing.
    pub fn scope(&self, tenant: &TenantId, access: Access) -> Result<TenantScope, Denied> {
        match self {
            Principal::Operator => Ok(TenantScope {
                tenant: tenant.clone(),
            }),
            Principal::PartnerViewer { .. } => Err(Denied::OtherTenant),
            Principal::TenantAgent {
                tenant: own, role, ..
            } => {
                if own != tenant {
                    return Err(Denied::OtherTenant);
                }
                if access == Access::Manage && *role != Role::Owner {
                    return Err(Denied::Role);
                }
                Ok(TenantScope {
                    tenant: tenant.clone(),
                })
            }
        }
    }

    /// Whether this principal may read `partner`'s report: the operator, or that partner's
    /// viewers.
    ///
    /// # Errors
    /// `OtherTenant` for everyone else (answered as "not found", like a partner that does
    /// not exist), tenant agents included: a business never sees its partner's figures.
    pub fn may_report(&self, partner: &PartnerId) -> Result<(), Denied> {
        match self {
            Principal::Operator => Ok(()),
            Principal::PartnerViewer { partner: own, .. } if own == partner => Ok(()),
            Principal::PartnerViewer { .. } | Principal::TenantAgent { .. } => {
                Err(Denied::OtherTenant)
            }
        }
    }

    /// The scope a report reads one of its partner's tenants through. Only the report's
    /// aggregate figures leave through it (`crate::report`), which is what a partner viewer
    /// may see of a tenant.
    ///
    /// `partner` is the one the tenant's record names.
    ///
    /// # Errors
    /// As [`Principal::may_report`] for the tenant's partner.
    pub fn report_scope(
        &self,
        tenant: &TenantId,
        partner: &PartnerId,
    ) -> Result<TenantScope, Denied> {
        self.may_report(partner)?;
        Ok(TenantScope {
            tenant: tenant.clone(),
        })
    }

    #[must_use]
    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::Operator)
    }
}

/// Agent tokens are stored only as this hash; the tokens are 256-bit random, so a plain
/// SHA-256 is enough (no password stretching needed).
#[must_use]
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh agent or viewer token.
#[must_use]
pub fn new_token() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "cdt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_roles_and_tenants() {
        let a = TenantId::new("tn_a");
        let b = TenantId::new("tn_b");
        let agent = Principal::TenantAgent {
            tenant: a.clone(),
            agent: AgentId::new("ag"),
            role: Role::Agent,
        };
        let owner = Principal::TenantAgent {
            tenant: a.clone(),
            agent: AgentId::new("ow"),
            role: Role::Owner,
        };
        let viewer = Principal::PartnerViewer {
            partner: PartnerId::new("pa"),
            viewer: AgentId::new("v"),
        };
        assert_eq!(
            agent.scope(&a, Access::Read).map(|s| s.tenant().clone()),
            Ok(a.clone())
        );
        assert_eq!(agent.scope(&a, Access::Manage), Err(Denied::Role));
        assert_eq!(agent.scope(&b, Access::Read), Err(Denied::OtherTenant));
        assert_eq!(owner.scope(&b, Access::Manage), Err(Denied::OtherTenant));
        assert!(owner.scope(&a, Access::Manage).is_ok());
        assert_eq!(viewer.scope(&a, Access::Read), Err(Denied::OtherTenant));
        assert!(Principal::Operator.scope(&b, Access::Manage).is_ok());
        assert!(!agent.is_operator() && Principal::Operator.is_operator());
    }

    #[test]
    fn reports_are_for_the_operator_and_the_partners_own_viewers() {
        let (p, q) = (PartnerId::new("pa"), PartnerId::new("pb"));
        let tenant = TenantId::new("tn_a");
        let viewer = |partner: &PartnerId| Principal::PartnerViewer {
            partner: partner.clone(),
            viewer: AgentId::new("v"),
        };
        let owner = Principal::TenantAgent {
            tenant: tenant.clone(),
            agent: AgentId::new("ow"),
            role: Role::Owner,
        };
        assert_eq!(Principal::Operator.may_report(&q), Ok(()));
        assert_eq!(viewer(&p).may_report(&p), Ok(()));
        assert_eq!(viewer(&q).may_report(&p), Err(Denied::OtherTenant));
        assert_eq!(owner.may_report(&p), Err(Denied::OtherTenant));
        assert_eq!(
            viewer(&p)
                .report_scope(&tenant, &p)
                .map(|s| s.tenant().clone()),
            Ok(tenant.clone())
        );
        assert_eq!(
            viewer(&q).report_scope(&tenant, &p),
            Err(Denied::OtherTenant)
        );
        assert_eq!(owner.report_scope(&tenant, &p), Err(Denied::OtherTenant));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let t1 = new_token();
        assert_ne!(t1, new_token());
        assert_eq!(token_hash(&t1).len(), 64);
        assert!(!token_hash(&t1).contains(&t1));
    }
}
