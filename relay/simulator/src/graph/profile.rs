//! Ice breakers and the persistent menu (meta-platform.md §8) on
//! `/{IG_ID|PAGE_ID|me}/messenger_profile`: POST sets (`platform=instagram`, `ice_breakers`
//! as `[{question, payload}]` or `[{call_to_actions: […], locale}]`, at most 4 questions per
//! locale; `persistent_menu` kept as given) → `{"result": "success"}`; GET `?fields=…` →
//! `{"data": [{"call_to_actions": […], "locale"}]}` for ice breakers alone, else
//! `{"data": [{<field>: …}]}`; DELETE `fields=["ice_breakers"]` → `{"result": "success"}`.

use super::{Answer, GraphRequest, authenticate, check_addressing, resolve_account};
use crate::Sim;
use crate::errors::GraphError;
use axum::http::Method;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const ICE_BREAKERS_MAX: usize = 4;

/// Any method on `/{id}/messenger_profile`.
///
/// # Errors
/// Unknown account, token errors, malformed fields.
pub fn handle(
    sim: &Arc<Sim>,
    req: &GraphRequest,
    id: &str,
    now: i64,
) -> Result<Answer, GraphError> {
    let mut st = sim.lock();
    let account = resolve_account(&st, req, id)?;
    authenticate(sim, &st, req, &account, id, now)?;
    check_addressing(&st, &account, id)?;
    if !st.instagram.contains_key(&account) {
        return Err(GraphError::unknown_object(id));
    }
    let profile = st.profiles.entry(account).or_default();
    match req.method {
        Method::POST => {
            if req.param("platform").as_deref() != Some("instagram") {
                return Err(GraphError::invalid_parameter(
                    "param platform must be instagram",
                ));
            }
            let mut set = Map::new();
            if let Some(ib) = req.json_param("ice_breakers") {
                set.insert("ice_breakers".into(), ice_breakers(&ib)?);
            }
            if let Some(menu) = req.json_param("persistent_menu") {
                if !menu.is_array() {
                    return Err(GraphError::invalid_parameter(
                        "param persistent_menu must be an array",
                    ));
                }
                set.insert("persistent_menu".into(), menu);
            }
            if set.is_empty() {
                return Err(GraphError::invalid_parameter(
                    "at least one of ice_breakers and persistent_menu is required",
                ));
            }
            profile.extend(set);
            Ok(Answer::ok(json!({"result": "success"})))
        }
        Method::DELETE => {
            let fields = fields(req)
                .ok_or_else(|| GraphError::invalid_parameter("param fields is required"))?;
            for f in fields {
                profile.remove(&f);
            }
            Ok(Answer::ok(json!({"result": "success"})))
        }
        _ => {
            let fields = fields(req).unwrap_or_else(|| vec!["ice_breakers".into()]);
            if fields == ["ice_breakers"] {
                let data = profile
                    .get("ice_breakers")
                    .cloned()
                    .unwrap_or_else(|| json!([]));
                return Ok(Answer::ok(json!({ "data": data })));
            }
            let mut one = Map::new();
            for f in fields {
                if let Some(v) = profile.get(&f) {
                    one.insert(f, v.clone());
                }
            }
            let data = if one.is_empty() {
                vec![]
            } else {
                vec![Value::Object(one)]
            };
            Ok(Answer::ok(json!({ "data": data })))
        }
    }
}

/// `fields` as `ice_breakers`, `a,b` or a JSON array.
fn fields(req: &GraphRequest) -> Option<Vec<String>> {
    match req.json_param("fields")? {
        Value::Array(list) => Some(
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Value::String(s) => Some(
            s.split(',')
                .map(|f| f.trim().trim_matches(['[', ']', '\'', '"']).to_owned())
                .filter(|f| !f.is_empty())
                .collect(),
        ),
        _ => None,
    }
}

/// Both accepted input shapes, normalized to `[{call_to_actions, locale}]`.
fn ice_breakers(v: &Value) -> Result<Value, GraphError> {
    let Some(list) = v.as_array() else {
        return Err(GraphError::invalid_parameter(
            "param ice_breakers must be an array",
        ));
    };
    let nested = list.iter().any(|e| e.get("call_to_actions").is_some());
    let locales: Vec<Value> = if nested {
        list.clone()
    } else {
        vec![json!({"call_to_actions": list, "locale": "default"})]
    };
    for l in &locales {
        let Some(ctas) = l["call_to_actions"].as_array() else {
            return Err(GraphError::invalid_parameter(
                "param call_to_actions must be an array",
            ));
        };
        if ctas.is_empty() || ctas.len() > ICE_BREAKERS_MAX {
            return Err(GraphError::invalid_parameter(format!(
                "ice breakers hold 1 to {ICE_BREAKERS_MAX} questions per locale"
            )));
        }
        for c in ctas {
            let question = c["question"].as_str().unwrap_or_default();
            let payload = c["payload"].as_str().unwrap_or_default();
            if question.trim().is_empty() || payload.trim().is_empty() {
                return Err(GraphError::invalid_parameter(
                    "every ice breaker needs a question and a payload",
                ));
            }
            if question.chars().count() > 80 {
                return Err(GraphError::invalid_parameter(
                    "an ice breaker question is at most 80 characters",
                ));
            }
        }
    }
    let locales: Vec<Value> = locales
        .into_iter()
        .map(|mut l| {
            if l.get("locale").is_none() {
                l["locale"] = json!("default");
            }
            l
        })
        .collect();
    Ok(Value::Array(locales))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_normalize() {
        let flat = json!([{"question": "Price list?", "payload": "PRICES"}]);
        let n = ice_breakers(&flat).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(n[0]["locale"], "default");
        assert_eq!(n[0]["call_to_actions"][0]["payload"], "PRICES");
        let nested =
            json!([{"call_to_actions": [{"question": "Q", "payload": "P"}], "locale": "id_ID"}]);
        assert_eq!(
            ice_breakers(&nested).unwrap_or_default()[0]["locale"],
            "id_ID"
        );
        let five: Vec<Value> = (0..5)
            .map(|i| json!({"question": format!("Q{i}"), "payload": "P"}))
            .collect();
        assert!(ice_breakers(&Value::Array(five)).is_err());
        assert!(ice_breakers(&json!([{"question": "", "payload": "P"}])).is_err());
    }
}
