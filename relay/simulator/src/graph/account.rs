//! The account calls a connect flow makes after the token exchange: `GET /me` (Instagram
//! Login: `{user_id, username, id, account_type}` where `user_id` is the IG id webhooks
//! carry and `id` the app-scoped id, which differ as on the real platform, meta-platform.md
//! §0; a Page token: `{id: PAGE_ID, name}`; a WhatsApp token: `{id, name}`) and
//! `GET /{PAGE_ID|IG_ID|PHONE_NUMBER_ID}` (the account node, for a token check) and
//! `/{IG_ID|PAGE_ID|WABA_ID|me}/subscribed_apps` (POST → `{"success": true}`, GET → the subscribed fields,
//! DELETE → `{"success": true}`). Token exchange and refresh are not simulated.

use super::{Answer, GraphRequest, authenticate, check_addressing, resolve_account};
use crate::Sim;
use crate::accounts::Login;
use crate::errors::{GraphError, Surface};
use crate::state::AccountRef;
use axum::http::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The app-scoped user id: stable, numeric, and not the IG id.
fn app_scoped(ig_id: &str) -> String {
    let d = Sha256::digest(format!("app-scoped:{ig_id}").as_bytes());
    let n = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
        % 10_000_000_000_000_000;
    format!("{n:016}")
}

/// `GET /me`.
///
/// # Errors
/// Token errors.
pub fn me(sim: &Arc<Sim>, req: &GraphRequest, now: i64) -> Result<Answer, GraphError> {
    let st = sim.lock();
    let token = req.token.as_deref().ok_or_else(GraphError::token_missing)?;
    let Some(owner) = st.token_owner(token) else {
        return Err(GraphError::token_invalid(Surface::Graph));
    };
    let id = owner.id().to_owned();
    authenticate(sim, &st, req, &id, "me", now)?;
    let body = match owner {
        AccountRef::Instagram(a) if a.login == Login::Facebook => {
            json!({"id": a.page_id, "name": a.username})
        }
        AccountRef::Instagram(a) => {
            let (picture, followers) = crate::oauth::profile_of(&a.ig_id);
            json!({
                "user_id": a.ig_id, "username": a.username, "id": app_scoped(&a.ig_id),
                "account_type": "BUSINESS", "name": a.username,
                "profile_picture_url": picture, "followers_count": followers,
            })
        }
        AccountRef::WhatsApp(n) => json!({"id": n.waba_id, "name": n.display_phone_number}),
    };
    Ok(Answer::ok(body))
}

/// `GET /{id}` of an account: a Facebook-Login account's Page (`{id, name,
/// instagram_business_account: {id}}`), an Instagram-Login account (`{id, user_id,
/// username}`), a WhatsApp number (`{id, display_phone_number, verified_name}`). Each is
/// addressed as its login addresses it, with a token that may see it.
///
/// # Errors
/// Unknown account, token errors, the other login's id.
pub fn node(sim: &Arc<Sim>, req: &GraphRequest, id: &str, now: i64) -> Result<Answer, GraphError> {
    let st = sim.lock();
    let account = super::resolve_account(&st, req, id)?;
    authenticate(sim, &st, req, &account, id, now)?;
    check_addressing(&st, &account, id)?;
    let body = match st.account(&account) {
        Some(AccountRef::Instagram(a)) if a.login == Login::Facebook => json!({
            "id": a.page_id, "name": a.username,
            "instagram_business_account": {"id": a.ig_id},
        }),
        Some(AccountRef::Instagram(a)) => {
            json!({"id": a.ig_id, "user_id": a.ig_id, "username": a.username})
        }
        Some(AccountRef::WhatsApp(n)) => json!({
            "id": n.phone_number_id, "display_phone_number": n.display_phone_number,
            "verified_name": n.display_phone_number,
        }),
        None => return Err(GraphError::unknown_object(id)),
    };
    Ok(Answer::ok(body))
}

/// `/{id|me}/subscribed_apps`.
///
/// # Errors
/// Unknown account or token errors.
pub fn subscribed_apps(
    sim: &Arc<Sim>,
    req: &GraphRequest,
    id: &str,
    now: i64,
) -> Result<Answer, GraphError> {
    let mut st = sim.lock();
    // Embedded Signup subscribes the WABA; it answers for its numbers' tokens.
    let by_waba = st
        .whatsapp
        .values()
        .find(|n| n.waba_id == id)
        .map(|n| n.phone_number_id.clone());
    let account = match by_waba {
        Some(number) => number,
        None => resolve_account(&st, req, id)?,
    };
    authenticate(sim, &st, req, &account, id, now)?;
    check_addressing(&st, &account, id)?;
    match req.method {
        Method::POST => {
            let fields: Vec<String> = req
                .param("subscribed_fields")
                .unwrap_or_default()
                .split(',')
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty())
                .collect();
            st.subscriptions.insert(account, fields);
            Ok(Answer::ok(json!({"success": true})))
        }
        Method::DELETE => {
            st.subscriptions.remove(&account);
            Ok(Answer::ok(json!({"success": true})))
        }
        _ => {
            let data = st
                .subscriptions
                .get(&account)
                .map(|f| vec![json!({"subscribed_fields": f})])
                .unwrap_or_default();
            Ok(Answer::ok(json!({ "data": data })))
        }
    }
}
