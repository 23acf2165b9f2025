//! `relay admin settings …` and `relay admin rules …`: a tenant's settings (auto-send,
//! hiding comments, the default reply) and its ordered reply rules, through
//! `GET|PUT /v1/tenants/{t}/settings`. Only the fields given change; a rules file replaces
//! the whole list, since their order is their priority.
//!
//! A rules file is TOML (`[[rules]]` tables, the fields of `rules::ReplyRule`) or JSON (an
//! array, or an object with `rules`); the relay validates it and refuses it whole.

use anyhow::Context as _;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub(super) enum SettingsCommand {
    /// Auto-send, hiding comments, the default reply and the reply rules.
    Show {
        #[arg(long)]
        tenant: String,
    },
    /// Change the given settings; the others stay.
    Set {
        #[arg(long)]
        tenant: String,
        /// Send drafts that pass the classifier without a person approving them.
        #[arg(long)]
        auto_send: Option<bool>,
        /// Hide comments that a reply rule matched as spam.
        #[arg(long)]
        hide_comments: Option<bool>,
        /// Drafted, held for a person, when the drafter hands off; "" removes it.
        #[arg(long)]
        default_reply: Option<String>,
    },
}

#[derive(Subcommand)]
pub(super) enum RulesCommand {
    /// The tenant's reply rules, in the order they are tried.
    Show {
        #[arg(long)]
        tenant: String,
    },
    /// Replace every reply rule with the file's (TOML `[[rules]]` or JSON); an empty list
    /// removes them all.
    Set {
        #[arg(long)]
        tenant: String,
        file: PathBuf,
    },
}

/// The request a settings command makes.
pub(super) fn settings(command: SettingsCommand) -> (Method, String, Option<Value>) {
    match command {
        SettingsCommand::Show { tenant } => {
            (Method::GET, format!("/v1/tenants/{tenant}/settings"), None)
        }
        SettingsCommand::Set {
            tenant,
            auto_send,
            hide_comments,
            default_reply,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(v) = auto_send {
                body.insert("auto_send".into(), json!(v));
            }
            if let Some(v) = hide_comments {
                body.insert("hide_comments".into(), json!(v));
            }
            if let Some(v) = default_reply {
                body.insert("default_reply".into(), json!(v));
            }
            (
                Method::PUT,
                format!("/v1/tenants/{tenant}/settings"),
                Some(Value::Object(body)),
            )
        }
    }
}

/// The request a rules command makes; `Show` reads the settings and prints their rules
/// (`rules_of`).
///
/// # Errors
/// The rules file cannot be read or is neither TOML nor JSON of a list.
pub(super) fn rules(command: RulesCommand) -> anyhow::Result<(Method, String, Option<Value>)> {
    Ok(match command {
        RulesCommand::Show { tenant } => {
            (Method::GET, format!("/v1/tenants/{tenant}/settings"), None)
        }
        RulesCommand::Set { tenant, file } => (
            Method::PUT,
            format!("/v1/tenants/{tenant}/settings"),
            Some(json!({ "rules": read_list(&file, "rules")? })),
        ),
    })
}

/// The rules of a settings answer: what `rules show` and `rules set` print.
pub(super) fn rules_of(settings: &Value) -> Value {
    json!({ "rules": settings["rules"].clone() })
}

/// A list from a file: TOML whose `key` is an array of tables, or JSON — the array
/// itself or an object holding it under `key`.
///
/// # Errors
/// The file cannot be read, does not parse, or holds no such list.
pub(super) fn read_list(path: &Path, key: &str) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?
    } else {
        toml::from_str(&text).with_context(|| format!("{}", path.display()))?
    };
    let list = match value {
        Value::Array(_) => value,
        Value::Object(mut fields) => fields.remove(key).unwrap_or(Value::Array(Vec::new())),
        _ => Value::Null,
    };
    anyhow::ensure!(
        list.is_array(),
        "{}: expected a list of {key} (TOML `[[{key}]]` or a JSON array)",
        path.display()
    );
    Ok(list)
}
