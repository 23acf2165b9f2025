//! `relay admin templates` and `relay admin ice-breakers …`: a channel's settings that live
//! at Meta, read and changed by the relay with the channel's own token (so the operator
//! never handles it): a WhatsApp number's message templates, an Instagram account's ice
//! breakers.

use super::settings::read_list;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Subcommand)]
pub(super) enum IceBreakerCommand {
    /// The questions the account offers before a conversation starts.
    Show {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        channel: String,
    },
    /// Replace them with the file's (TOML `[[ice_breakers]]` or JSON, each
    /// `{question, payload}`; 1 to 4).
    Set {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        channel: String,
        file: PathBuf,
    },
}

/// `relay admin templates`: a WhatsApp channel's message templates.
pub(super) fn templates(tenant: &str, channel: &str) -> (Method, String, Option<Value>) {
    (
        Method::GET,
        format!("/v1/tenants/{tenant}/channels/{channel}/templates"),
        None,
    )
}

/// The request an ice-breaker command makes.
///
/// # Errors
/// The file cannot be read or holds no list.
pub(super) fn ice_breakers(
    command: IceBreakerCommand,
) -> anyhow::Result<(Method, String, Option<Value>)> {
    Ok(match command {
        IceBreakerCommand::Show { tenant, channel } => (
            Method::GET,
            format!("/v1/tenants/{tenant}/channels/{channel}/ice-breakers"),
            None,
        ),
        IceBreakerCommand::Set {
            tenant,
            channel,
            file,
        } => (
            Method::PUT,
            format!("/v1/tenants/{tenant}/channels/{channel}/ice-breakers"),
            Some(json!({ "ice_breakers": read_list(&file, "ice_breakers")? })),
        ),
    })
}
