//! Scenario files (`assets/scenarios/*.toml`): accounts, customers and a timeline of customer
//! actions with optional pauses and fault switches. The format is documented on the
//! `simulate` module; this file parses it into typed steps and plays them.
//!
//! Step tables are read loosely first (a TOML table) and then typed, so each step can be a
//! customer action (any `type` of `/_sim/inbound`), a `fault = {…}`, `clear_faults = true`, or
//! a bare pause, and a step may leave out `account` when its customer is declared.

use super::Sim;
use super::accounts::AccountSpec;
use super::faults::FaultSpec;
use super::inbound::{self, CustomerSpec, InboundSpec};
use super::time::now_ms;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Why a scenario cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario is not valid TOML: {0}")]
    Toml(String),
    #[error("account {index}: {message}")]
    Account { index: usize, message: String },
    #[error("step {index}: {message}")]
    Step { index: usize, message: String },
    #[error("{0}")]
    Other(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Pause before every step without its own `delay_ms`.
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    accounts: Vec<toml::Table>,
    #[serde(default)]
    customers: Vec<CustomerSpec>,
    #[serde(default)]
    steps: Vec<toml::Table>,
}

/// What one step does.
#[derive(Clone, Debug)]
pub enum StepAction {
    Inbound(Box<InboundSpec>),
    Fault(FaultSpec),
    ClearFaults,
    /// Only the pause.
    Pause,
}

/// One step: a pause, then an action.
#[derive(Clone, Debug)]
pub struct Step {
    pub delay_ms: u64,
    pub action: StepAction,
}

/// A parsed scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub accounts: Vec<AccountSpec>,
    pub customers: Vec<CustomerSpec>,
    pub steps: Vec<Step>,
}

fn to_json(table: toml::Table) -> Value {
    serde_json::to_value(toml::Value::Table(table)).unwrap_or(Value::Null)
}

/// Reads a scenario. `env` resolves `token_env` names (so real tokens stay out of files).
///
/// # Errors
/// Invalid TOML, an account or step that does not type-check, a `token_env` that is unset.
pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError::Toml(e.to_string()))?;
    let mut accounts = Vec::new();
    for (index, mut table) in raw.accounts.into_iter().enumerate() {
        if let Some(var) = table.remove("token_env") {
            let var = var.as_str().unwrap_or_default().to_owned();
            let token =
                env(&var)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| ScenarioError::Account {
                        index,
                        message: format!("token_env {var} is not set"),
                    })?;
            table.insert("token".into(), toml::Value::String(token));
        }
        let spec: AccountSpec =
            serde_json::from_value(to_json(table)).map_err(|e| ScenarioError::Account {
                index,
                message: e.to_string(),
            })?;
        spec.check()
            .map_err(|message| ScenarioError::Account { index, message })?;
        accounts.push(spec);
    }
    let default_delay = raw.delay_ms.unwrap_or(0);
    let mut steps = Vec::new();
    for (index, mut table) in raw.steps.into_iter().enumerate() {
        let err = |message: String| ScenarioError::Step { index, message };
        let delay_ms = match table.remove("delay_ms") {
            Some(v) => v
                .as_integer()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| err("delay_ms must be a non-negative integer".into()))?,
            None => default_delay,
        };
        let action = if let Some(f) = table.remove("fault") {
            if !table.is_empty() {
                return Err(err("a fault step takes only fault and delay_ms".into()));
            }
            let spec: FaultSpec =
                serde_json::from_value(serde_json::to_value(f).unwrap_or(Value::Null))
                    .map_err(|e| err(e.to_string()))?;
            spec.check().map_err(err)?;
            StepAction::Fault(spec)
        } else if let Some(c) = table.remove("clear_faults") {
            if c.as_bool() != Some(true) || !table.is_empty() {
                return Err(err("write clear_faults = true, alone".into()));
            }
            StepAction::ClearFaults
        } else if table.is_empty() {
            StepAction::Pause
        } else {
            if !table.contains_key("account") {
                let customer = table
                    .get("customer")
                    .and_then(|c| c.as_str())
                    .unwrap_or_default();
                let declared: Vec<&CustomerSpec> =
                    raw.customers.iter().filter(|c| c.id == customer).collect();
                match declared.as_slice() {
                    [one] => {
                        table.insert("account".into(), toml::Value::String(one.account.clone()));
                    }
                    [] => {
                        return Err(err(format!(
                            "no account given and customer {customer:?} is not declared"
                        )));
                    }
                    _ => {
                        return Err(err(format!(
                            "customer {customer:?} is declared on several accounts; name the account"
                        )));
                    }
                }
            }
            let spec: InboundSpec =
                serde_json::from_value(to_json(table)).map_err(|e| err(e.to_string()))?;
            StepAction::Inbound(Box::new(spec))
        };
        steps.push(Step { delay_ms, action });
    }
    Ok(Scenario {
        name: raw.name.unwrap_or_else(|| "scenario".into()),
        description: raw.description,
        accounts,
        customers: raw.customers,
        steps,
    })
}

/// Registers the scenario's accounts and customers, then plays its steps in order. A step
/// that fails is reported and the run goes on (a scenario is a script, not a transaction).
///
/// # Errors
/// An account or customer cannot be registered (nothing is played then).
pub async fn run(sim: &Arc<Sim>, scenario: Scenario) -> Result<Value, ScenarioError> {
    for spec in &scenario.accounts {
        sim.register(spec.clone()).map_err(ScenarioError::Other)?;
    }
    for c in &scenario.customers {
        inbound::declare_customer(sim, c).map_err(|e| ScenarioError::Other(e.to_string()))?;
    }
    let mut results = Vec::new();
    let mut ok = true;
    for (i, step) in scenario.steps.iter().enumerate() {
        if step.delay_ms > 0 {
            sim.sleep(step.delay_ms).await;
        }
        let result = match &step.action {
            StepAction::Inbound(spec) => match inbound::play(sim, std::slice::from_ref(spec)).await
            {
                Ok(answer) => {
                    // Dropped on purpose, accepted, or nothing to post (a WhatsApp `read`
                    // with nothing unread) all count as played.
                    let relay_ok = answer["dropped"] == true
                        || answer["status"] == 200
                        || answer["posts"].as_array().is_some_and(Vec::is_empty);
                    ok &= relay_ok;
                    json!({"step": i, "type": spec.action, "status": answer["status"],
                           "dropped": answer["dropped"], "ids": answer["ids"]})
                }
                Err(e) => {
                    ok = false;
                    json!({"step": i, "type": spec.action, "error": e.to_string()})
                }
            },
            StepAction::Fault(spec) => match sim.lock().faults.add(spec.clone(), now_ms()) {
                Ok(id) => json!({"step": i, "fault": id}),
                Err(e) => {
                    ok = false;
                    json!({"step": i, "error": e})
                }
            },
            StepAction::ClearFaults => {
                sim.lock().faults.clear();
                json!({"step": i, "clear_faults": true})
            }
            StepAction::Pause => json!({"step": i, "pause_ms": step.delay_ms}),
        };
        results.push(result);
    }
    Ok(json!({
        "name": scenario.name,
        "accounts": scenario.accounts.iter().map(AccountSpec::id).collect::<Vec<_>>(),
        "customers": scenario.customers.len(),
        "steps": results,
        "ok": ok,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
name = "t"
delay_ms = 5

[[accounts]]
kind = "instagram"
ig_id = "178"
username = "shop"
token_env = "T_IG"

[[accounts]]
kind = "whatsapp"
phone_number_id = "106"
waba_id = "200"
display_phone_number = "15550001111"
token = "wa-token"
templates = [{ name = "order_update", language = "en_US", body = "Hi {{1}}" }]

[[customers]]
account = "178"
id = "900"
username = "rina"

[[steps]]
type = "text"
customer = "900"
text = "Halo, ready stock? ✨"
ago = "2h"

[[steps]]
delay_ms = 100
fault = { kind = "drop_webhooks", count = 1 }

[[steps]]
clear_faults = true

[[steps]]
delay_ms = 50

[[steps]]
account = "106"
customer = "6281234567890"
type = "text"
text = "Ongkir ke Bandung?"
"#;

    #[test]
    fn the_sample_parses_into_typed_steps() {
        let s = parse(SAMPLE, |k| (k == "T_IG").then(|| "ig-token".to_owned()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.accounts.len(), 2);
        assert_eq!(s.steps.len(), 5);
        match &s.steps[0].action {
            StepAction::Inbound(spec) => {
                assert_eq!(spec.account, "178", "filled in from the declared customer");
                assert_eq!(s.steps[0].delay_ms, 5, "scenario default");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(s.steps[1].action, StepAction::Fault(_)));
        assert_eq!(s.steps[1].delay_ms, 100);
        assert!(matches!(s.steps[2].action, StepAction::ClearFaults));
        assert!(matches!(s.steps[3].action, StepAction::Pause));
    }

    #[test]
    fn errors_name_the_step() {
        let e = parse(SAMPLE, |_| None).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("account 0: token_env T_IG is not set"));
        let bad = "[[steps]]\ncustomer = \"x\"\ntype = \"text\"\n";
        let e = parse(bad, |_| None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("step 0:"), "{e}");
        let bad = "[[steps]]\naccount = \"1\"\ncustomer = \"x\"\ntype = \"teleport\"\n";
        assert!(parse(bad, |_| None).is_err());
        assert!(parse("steps = 3", |_| None).is_err());
    }

    #[test]
    fn shipped_scenarios_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                parse(&text, |_| Some("env-token".into()))
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                n += 1;
            }
        }
        assert!(n >= 2, "demo.toml and faults.toml at least");
    }
}
