//! What the sync engine needs to know: which relay, which agent token, where the replica
//! lives, which subprotocol to speak, and how patiently to reconnect.
//!
//! `SyncConfig` is plain data built in code (the TUI's config file and the end-to-end tests
//! both end up here); this module reads no files and no environment.

use crate::backoff::BackoffConfig;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// An agent token. It is sent only in the `Authorization` header of the upgrade request;
/// `Debug` and `Display` print `[redacted]` so it cannot leak into logs or error texts.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The WebSocket subprotocol, i.e. how frames are encoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Subprotocol {
    /// Binary frames carrying bincode (`chatdesk.v1.bincode`).
    #[default]
    Bincode,
    /// Text frames carrying `"type"`-tagged JSON (`chatdesk.v1.json`).
    Json,
}

impl Subprotocol {
    /// The name sent in `Sec-WebSocket-Protocol`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Subprotocol::Bincode => protocol::frame::SUBPROTOCOL_BINARY,
            Subprotocol::Json => protocol::frame::SUBPROTOCOL_JSON,
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("relay URL {url:?} must start with http://, https://, ws:// or wss://")]
    RelayScheme { url: String },
    #[error("relay URL {url:?} is not a valid URL: {reason}")]
    RelayUrl { url: String, reason: String },
    #[error("the agent token is empty")]
    EmptyToken,
    #[error("no data directory: the home directory is unknown; set a data directory explicitly")]
    NoDataDir,
}

/// Everything the engine needs; construct with [`SyncConfig::new`] and adjust the fields.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// The relay's base URL, e.g. `http://127.0.0.1:8080` (a path prefix is kept).
    pub relay: String,
    pub token: Token,
    /// Base directory for replicas; `None` means the platform's data directory for
    /// `chatdesk`. Each relay and token gets its own sub-directory below it.
    pub data_dir: Option<PathBuf>,
    pub subprotocol: Subprotocol,
    pub backoff: BackoffConfig,
    /// A connection on which nothing (not even a ping) arrived for this long is dead.
    /// Also bounds the connect, upgrade and welcome steps.
    pub idle_timeout: Duration,
    /// Extra CA certificates (PEM) trusted for an `https://` relay besides the public
    /// roots: a self-hosted relay's private CA.
    pub ca_file: Option<PathBuf>,
}

impl SyncConfig {
    /// The relay pings every ~15 s; three missed pings mean the connection is gone.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(45);

    /// Defaults: bincode, the platform data directory, 250 ms → 30 s backoff, 45 s idle.
    pub fn new(relay: impl Into<String>, token: Token) -> Self {
        Self {
            relay: relay.into(),
            token,
            data_dir: None,
            subprotocol: Subprotocol::default(),
            backoff: BackoffConfig::default(),
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            ca_file: None,
        }
    }

    /// Checks what can be checked without a network.
    ///
    /// # Errors
    /// An unusable relay URL or an empty token.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.token.expose().is_empty() {
            return Err(ConfigError::EmptyToken);
        }
        self.desk_url().map(|_| ())
    }

    /// The WebSocket URL of the desk endpoint: `ws://host:port[/prefix]/v1/desk`, or
    /// `wss://…` for an `https://` (or `wss://`) relay.
    ///
    /// # Errors
    /// A scheme other than http(s)/ws(s), or an unparsable URL.
    pub fn desk_url(&self) -> Result<String, ConfigError> {
        let (scheme, rest) =
            split_scheme(self.relay_base()).ok_or_else(|| ConfigError::RelayScheme {
                url: self.relay.clone(),
            })?;
        let url = format!("{scheme}://{rest}/v1/desk");
        let uri = url
            .parse::<tokio_tungstenite::tungstenite::http::Uri>()
            .map_err(|e| ConfigError::RelayUrl {
                url: self.relay.clone(),
                reason: e.to_string(),
            })?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(ConfigError::RelayScheme {
                url: self.relay.clone(),
            });
        }
        Ok(url)
    }

    /// Whether the relay is reached over TLS (`https://` or `wss://`).
    #[must_use]
    pub fn is_tls(&self) -> bool {
        matches!(split_scheme(self.relay_base()), Some(("wss", _)))
    }

    /// The directory of this relay + token's replica.
    ///
    /// Named by a hash so that two relays, or two agents on one machine, never share a
    /// replica, and so that the token itself never appears on disk in a path.
    ///
    /// # Errors
    /// No `data_dir` was set and the platform has no data directory.
    pub fn replica_dir(&self) -> Result<PathBuf, ConfigError> {
        let base = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => directories::ProjectDirs::from("", "", "chatdesk")
                .ok_or(ConfigError::NoDataDir)?
                .data_dir()
                .to_path_buf(),
        };
        Ok(base.join(self.replica_name()))
    }

    fn replica_name(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.relay_base().as_bytes());
        // A separator no URL contains, so ("ab", "c") and ("a", "bc") hash differently.
        hasher.update([0u8]);
        hasher.update(self.token.expose().as_bytes());
        let mut name = hex::encode(hasher.finalize());
        name.truncate(16);
        name
    }

    /// The base URL without trailing slashes, so `http://x/` and `http://x` are one relay.
    fn relay_base(&self) -> &str {
        self.relay.trim().trim_end_matches('/')
    }
}

/// `("ws" | "wss", rest)` for an http(s)/ws(s) URL.
fn split_scheme(base: &str) -> Option<(&'static str, &str)> {
    for (prefix, scheme) in [
        ("http://", "ws"),
        ("ws://", "ws"),
        ("https://", "wss"),
        ("wss://", "wss"),
    ] {
        if let Some(rest) = base.strip_prefix(prefix) {
            return (!rest.is_empty()).then_some((scheme, rest));
        }
    }
    None
}

/// Whether traffic to `relay` travels unencrypted over a network: `http://`/`ws://` to a
/// host other than loopback. The header marks such a profile "not encrypted".
#[must_use]
pub fn unencrypted_over_network(relay: &str) -> bool {
    let base = relay.trim().trim_end_matches('/');
    let Some(("ws", rest)) = split_scheme(base) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn config(relay: &str, token: &str) -> SyncConfig {
        let mut config = SyncConfig::new(relay, Token::new(token));
        config.data_dir = Some(PathBuf::from("/data"));
        config
    }

    #[track_caller]
    fn check_url(relay: &str, expected: Result<&str, &str>) {
        let got = config(relay, "t").desk_url();
        match (got, expected) {
            (Ok(url), Ok(want)) => assert_eq!(url, want),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e}"),
            (got, want) => panic!("{relay}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn desk_url_from_base_url() {
        check_url("http://127.0.0.1:8080", Ok("ws://127.0.0.1:8080/v1/desk"));
        check_url("http://127.0.0.1:8080/", Ok("ws://127.0.0.1:8080/v1/desk"));
        check_url("ws://relay.lan/chat/", Ok("ws://relay.lan/chat/v1/desk"));
        check_url("https://relay.example", Ok("wss://relay.example/v1/desk"));
        check_url(
            "wss://relay.example:8443/x/",
            Ok("wss://relay.example:8443/x/v1/desk"),
        );
        check_url("ftp://relay.example", Err("must start with"));
        check_url("http://relay example", Err("not a valid URL"));
        check_url("http://", Err("must start with"));
    }

    #[test]
    fn plain_http_off_loopback_is_marked() {
        for relay in [
            "http://relay.example",
            "ws://10.0.0.5:8080/x",
            "http://[2001:db8::1]:80",
        ] {
            assert!(unencrypted_over_network(relay), "{relay}");
        }
        for relay in [
            "http://127.0.0.1:8080",
            "http://localhost:1/",
            "http://[::1]:8080",
            "https://relay.example",
            "wss://10.0.0.5",
        ] {
            assert!(!unencrypted_over_network(relay), "{relay}");
        }
        assert!(config("https://r", "t").is_tls());
        assert!(!config("http://r", "t").is_tls());
    }

    #[test]
    fn replica_dir_is_per_relay_and_token_and_hides_the_token() {
        let a = config("http://r:1", "secret-token").replica_dir().unwrap();
        let same = config("http://r:1/", "secret-token").replica_dir().unwrap();
        let other_token = config("http://r:1", "other").replica_dir().unwrap();
        let other_relay = config("http://r:2", "secret-token").replica_dir().unwrap();
        assert_eq!(a, same);
        assert_ne!(a, other_token);
        assert_ne!(a, other_relay);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert_eq!(name.len(), 16);
        assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(a.starts_with("/data"));
        assert!(!a.to_string_lossy().contains("secret"));
    }

    #[test]
    fn token_never_prints() {
        let config = config("http://r:1", "secret-token");
        assert!(!format!("{config:?}").contains("secret"));
        assert_eq!(config.token.to_string(), "[redacted]");
    }

    #[test]
    fn empty_token_is_refused() {
        assert!(matches!(
            config("http://r:1", "").validate(),
            Err(ConfigError::EmptyToken)
        ));
    }
}
