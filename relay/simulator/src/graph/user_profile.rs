//! Instagram's User Profile API (meta-platform.md §6.3): `GET /{IGSID}?fields=name,username,
//! profile_pic,follower_count,is_user_follow_business,is_business_follow_user` with the
//! account's token. Separate from `profile.rs`, which is the account's own
//! `messenger_profile`.
//!
//! The customer must have messaged the account (consent); one who never did, or who blocked
//! the account (`unavailable`), gets "User consent is required to access user profile".
//! Names are the ones an inbound action gave (`name`, `username`), else realistic ones
//! derived from the IGSID, so the same customer always has the same profile.

use super::{Answer, GraphRequest, authenticate, resolve_account};
use crate::Sim;
use crate::errors::GraphError;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const FIRST: [&str; 8] = [
    "Sari", "Budi", "Maya", "Rizky", "Ayu", "Dewi", "Andi", "Putri",
];
const LAST: [&str; 8] = [
    "Wijaya", "Santoso", "Lestari", "Pratama", "Kusuma", "Halim", "Nugroho", "Rahman",
];

fn seed(id: &str) -> usize {
    id.bytes().fold(7usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    })
}

/// GET `/{IGSID}?fields=…`.
///
/// # Errors
/// Token errors; no consent.
pub fn get(sim: &Arc<Sim>, req: &GraphRequest, id: &str, now: i64) -> Result<Answer, GraphError> {
    let st = sim.lock();
    let account = resolve_account(&st, req, "me")?;
    authenticate(sim, &st, req, &account, "me", now)?;
    let customer = st
        .customers
        .get(&(account.clone(), id.to_owned()))
        .filter(|c| c.last_message_ms.is_some() && !c.unavailable)
        .ok_or_else(GraphError::user_consent_required)?;
    let s = seed(id);
    let first = FIRST[s % FIRST.len()];
    let last = LAST[(s / 8) % LAST.len()];
    let name = customer
        .name
        .clone()
        .unwrap_or_else(|| format!("{first} {last}"));
    let username = customer.username.clone().unwrap_or_else(|| {
        format!(
            "{}.{}{}",
            first.to_lowercase(),
            last.to_lowercase(),
            s % 100
        )
    });
    let full = json!({
        "name": name,
        "username": username,
        "profile_pic": format!("{}/_sim/cdn/profile-{id}.jpg", sim.own_url()),
        "follower_count": (s % 5000) as u64,
        "is_user_follow_business": s.is_multiple_of(2),
        "is_business_follow_user": s.is_multiple_of(3),
        "is_verified_user": false,
    });
    // Only the fields asked for, plus the id, as Graph answers.
    let mut out = Map::new();
    for f in req
        .query
        .get("fields")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
    {
        if let Some(v) = full.get(f.trim()) {
            out.insert(f.trim().to_owned(), v.clone());
        }
    }
    out.insert("id".into(), Value::String(id.to_owned()));
    Ok(Answer::ok(Value::Object(out)))
}
