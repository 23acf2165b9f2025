//! Checking, before an operator's hand-configured channel is saved, that the access token
//! handed over belongs to the account id the channel claims: Meta answers for the token,
//! and its answer must name that id. A token that cannot see the account, or sees another,
//! saves nothing.
//!
//! - Instagram Login (no Page): `GET {INSTAGRAM_GRAPH_URL}/me` → `user_id` is the account.
//! - Facebook Login (a Page): `GET /{PAGE_ID}?fields=instagram_business_account` → the
//!   linked account is the one claimed.
//! - WhatsApp: `GET /{PHONE_NUMBER_ID}` answers that number, and, with a WABA id,
//!   `GET /{WABA_ID}/phone_numbers` lists it.

use super::meta::{self, MetaError};
use crate::config::Config;
use crate::secret::Secret;

/// The ids a channel claims.
#[derive(Clone, Copy, Debug)]
pub enum Claimed<'a> {
    Instagram {
        account_id: &'a str,
        page_id: Option<&'a str>,
    },
    Whatsapp {
        phone_number_id: &'a str,
        waba_id: Option<&'a str>,
    },
}

/// Why a token was not accepted for the claimed ids.
#[derive(Debug, thiserror::Error)]
pub enum VouchError {
    /// Meta answered, and its answer does not match the claim.
    #[error("the access token does not belong to this {0}")]
    Mismatch(&'static str),
    /// Meta refused the token or did not answer.
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// Asks Meta whether `token` is the claimed account's.
///
/// # Errors
/// See [`VouchError`].
pub async fn vouch(cfg: &Config, claimed: Claimed<'_>, token: &Secret) -> Result<(), VouchError> {
    let http = meta::client()?;
    match claimed {
        Claimed::Instagram {
            account_id,
            page_id: None,
        } => {
            let me = meta::instagram_me(&http, &cfg.instagram_graph_url, token).await?;
            if me.ig_id != account_id {
                return Err(VouchError::Mismatch("Instagram account"));
            }
        }
        Claimed::Instagram {
            account_id,
            page_id: Some(page),
        } => {
            let linked = meta::page_instagram(&http, &cfg.meta_graph_url, page, token).await?;
            if linked.as_deref() != Some(account_id) {
                return Err(VouchError::Mismatch("Page and Instagram account"));
            }
        }
        Claimed::Whatsapp {
            phone_number_id,
            waba_id,
        } => {
            let number =
                meta::phone_number(&http, &cfg.meta_graph_url, phone_number_id, token).await?;
            if number.id != phone_number_id {
                return Err(VouchError::Mismatch("WhatsApp number"));
            }
            if let Some(waba) = waba_id {
                let listed = meta::phone_numbers(&http, &cfg.meta_graph_url, waba, token).await?;
                if !listed.iter().any(|n| n.id == phone_number_id) {
                    return Err(VouchError::Mismatch("WhatsApp business account"));
                }
            }
        }
    }
    Ok(())
}
