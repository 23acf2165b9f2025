//! Relay configuration: an optional TOML file overlaid by the environment (which wins).
//!
//! Every key of DESIGN.md's table has a TOML name (the variable in lower case, without the
//! `RELAY_` prefix) and an environment name. Validation turns the raw strings into typed
//! values and names the first missing or malformed key in one line, so start-up fails with
//! a sentence an operator can act on.

use crate::proxies::TrustedProxies;
use crate::secret::Secret;
use crate::vault::MasterKey;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The sled write-ahead log's segment size when `RELAY_WAL_SEGMENT_BYTES` is not set: big
/// enough that a checkpoint is rare under load, small enough that replay at start is quick.
pub const DEFAULT_WAL_SEGMENT_BYTES: u64 = 32 << 20;

/// Largest webhook body accepted by default (WhatsApp payloads "can be up to 3 MB").
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;
/// Webhook POSTs handled at once by default: far above what one core durably ingests
/// concurrently (README, Benchmark), low enough that a flood is refused in microseconds
/// instead of piling up sockets and memory.
pub const DEFAULT_MAX_INFLIGHT_WEBHOOKS: usize = 512;
/// Free space the data directory's file system keeps by default: room for the
/// write-ahead log to finish its current segment and for sled to checkpoint.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is required (set it in the environment or as `{key}` in the config file)")]
    Missing {
        var: &'static str,
        key: &'static str,
    },
    #[error(
        "{var} is required when {with} is set (set it in the environment or as `{key}` in the \
         config file), or unset both to serve plain HTTP"
    )]
    Pair {
        var: &'static str,
        with: &'static str,
        key: &'static str,
    },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("cannot read config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// Which storage backend keeps the data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StorageKind {
    Sled,
    Postgres,
}

/// The default of `RELAY_MEDIA_MAX_BYTES`: 25 MB.
pub const DEFAULT_MEDIA_MAX_BYTES: u64 = 25 * 1000 * 1000;

/// The validated configuration of `relay serve`.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub storage: StorageKind,
    pub database_url: Option<Secret>,
    pub public_url: String,
    pub operator_token: Secret,
    /// A token that may read `/metrics` besides the operator's (`RELAY_METRICS_TOKEN`), for
    /// a scraper that should hold nothing else.
    pub metrics_token: Option<Secret>,
    /// The key configured at start. Seal and open through the running relay's
    /// `vault::Keyring` (`Outbox::keys`), which also holds `old_master_keys` and follows
    /// rotations made while serving.
    pub master_key: MasterKey,
    /// Earlier keys whose sealed values must still open (`RELAY_OLD_MASTER_KEYS`,
    /// comma-separated base64), e.g. after a restart during a rotation.
    pub old_master_keys: Vec<MasterKey>,
    /// How often the token refresher looks for tokens near expiry
    /// (`RELAY_REFRESH_INTERVAL_SECS`).
    pub refresh_interval: Duration,
    /// How often expired single-use records are swept (`RELAY_SWEEP_INTERVAL_SECS`).
    pub sweep_interval: Duration,
    /// How long a SIGTERM/SIGINT shutdown may take, signal to exit (`RELAY_SHUTDOWN_SECS`).
    pub shutdown_bound: Duration,
    /// Webhook POSTs handled at once (`RELAY_MAX_INFLIGHT_WEBHOOKS`); one more is answered
    /// 503 with `Retry-After` at once instead of queueing until Meta's request times out.
    pub max_inflight_webhooks: usize,
    /// The least free space the data directory's file system must keep
    /// (`RELAY_MIN_FREE_BYTES`); below it the relay stops acknowledging webhooks.
    pub min_free_bytes: u64,
    /// The most the data directory may hold (`RELAY_DATA_MAX_BYTES`); `None`: no cap.
    /// Over it the relay stops acknowledging webhooks, as on a full disk.
    pub data_max_bytes: Option<u64>,
    /// How often the disk guard measures free space and the data directory
    /// (`RELAY_DISK_CHECK_MS`).
    pub disk_check: Duration,
    pub meta_app_id: String,
    pub meta_app_secret: Secret,
    pub meta_verify_token: Secret,
    pub instagram_app_secret: Option<Secret>,
    pub meta_graph_url: String,
    pub instagram_graph_url: String,
    pub instagram_oauth_url: String,
    /// The Instagram App ID (`client_id` of Instagram Login); needed only to connect.
    pub instagram_app_id: Option<String>,
    /// Base of Facebook Login's dialog (`/v{N}/dialog/oauth`).
    pub facebook_oauth_url: String,
    /// Where the WhatsApp Embedded Signup page loads Meta's JS SDK from.
    pub whatsapp_sdk_url: String,
    /// The Embedded Signup configuration id (`config_id` of `FB.login`).
    pub whatsapp_config_id: Option<String>,
    /// How long a connect link stays usable (`RELAY_CONNECT_LINK_TTL_SECS`).
    pub connect_link_ttl: Duration,
    /// How long an OAuth `state` stays usable (`RELAY_CONNECT_STATE_TTL_SECS`).
    pub connect_state_ttl: Duration,
    pub llm_base_url: Option<String>,
    pub llm_model: Option<String>,
    pub llm_api_key: Option<Secret>,
    pub max_body_bytes: usize,
    /// Largest attachment the media route fetches (`RELAY_MEDIA_MAX_BYTES`, TOML
    /// `media_max_bytes`; default [`DEFAULT_MEDIA_MAX_BYTES`]).
    pub media_max_bytes: u64,
    /// Size at which a write-ahead log segment is sealed and sled checkpointed
    /// (`RELAY_WAL_SEGMENT_BYTES`).
    pub wal_segment_bytes: u64,
    /// The relay's clock may be moved forward with `POST /_test/clock` (`RELAY_TEST_CLOCK=1`);
    /// for tests only.
    pub test_clock: bool,
    /// A crash point to abort at (`RELAY_TEST_CRASH_AT`, see `crash_point`); tests only.
    pub test_crash_at: Option<String>,
    /// A fault point to arm (`RELAY_TEST_FAULT_AT`, see `crash_point`); tests only.
    pub test_fault_at: Option<String>,
    pub desk: DeskLimits,
    /// The certificate chain and key to serve TLS with (`RELAY_TLS_CERT`, `RELAY_TLS_KEY`);
    /// `None`: plain HTTP, for a TLS-terminating reverse proxy in front.
    pub tls: Option<TlsFiles>,
    /// Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed
    /// (`RELAY_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
}

/// Where the PEM certificate chain and private key live. Only the paths are kept: the
/// files are read (and re-read on reload) by `tls`, and the key never enters `Config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// How often the files' modification times are checked for a renewal
    /// (`RELAY_TLS_POLL_SECS`); SIGHUP reloads at once.
    pub poll: Duration,
}

/// Timers and limits of desk WebSocket sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeskLimits {
    /// How often the relay pings an idle desk (`RELAY_DESK_PING_MS`).
    pub ping: Duration,
    /// A desk silent for this long (not even a pong) is closed (`RELAY_DESK_IDLE_MS`).
    pub idle: Duration,
    /// A desk that takes longer than this to accept one frame is disconnected
    /// (`RELAY_DESK_SEND_TIMEOUT_MS`); it catches up from its cursor when it returns.
    pub send_timeout: Duration,
    /// Largest frame a desk may send (`RELAY_DESK_MAX_FRAME_BYTES`).
    pub max_frame_bytes: usize,
    /// Commands per second one agent may send, sustained (`RELAY_DESK_COMMANDS_PER_SEC`).
    pub commands_per_sec: usize,
    /// Commands one agent may send at once, e.g. replaying an offline outbox
    /// (`RELAY_DESK_COMMAND_BURST`).
    pub command_burst: usize,
}

impl Default for DeskLimits {
    fn default() -> DeskLimits {
        DeskLimits {
            ping: Duration::from_secs(15),
            idle: Duration::from_secs(45),
            send_timeout: Duration::from_secs(10),
            max_frame_bytes: 1024 * 1024,
            commands_per_sec: 20,
            command_burst: 200,
        }
    }
}

/// The raw keys, as strings, before validation.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: Option<String>,
    data_dir: Option<String>,
    storage: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    operator_token: Option<String>,
    master_key: Option<String>,
    old_master_keys: Option<String>,
    refresh_interval_secs: Option<String>,
    sweep_interval_secs: Option<String>,
    shutdown_secs: Option<String>,
    max_inflight_webhooks: Option<String>,
    min_free_bytes: Option<String>,
    data_max_bytes: Option<String>,
    disk_check_ms: Option<String>,
    meta_app_id: Option<String>,
    meta_app_secret: Option<String>,
    meta_verify_token: Option<String>,
    instagram_app_secret: Option<String>,
    meta_graph_url: Option<String>,
    instagram_graph_url: Option<String>,
    instagram_oauth_url: Option<String>,
    instagram_app_id: Option<String>,
    facebook_oauth_url: Option<String>,
    whatsapp_sdk_url: Option<String>,
    whatsapp_config_id: Option<String>,
    connect_link_ttl_secs: Option<String>,
    connect_state_ttl_secs: Option<String>,
    llm_base_url: Option<String>,
    llm_model: Option<String>,
    llm_api_key: Option<String>,
    max_body_bytes: Option<String>,
    media_max_bytes: Option<String>,
    desk_ping_ms: Option<String>,
    desk_idle_ms: Option<String>,
    desk_send_timeout_ms: Option<String>,
    desk_max_frame_bytes: Option<String>,
    desk_commands_per_sec: Option<String>,
    desk_command_burst: Option<String>,
    metrics_token: Option<String>,
    wal_segment_bytes: Option<String>,
    test_clock: Option<String>,
    test_crash_at: Option<String>,
    test_fault_at: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    tls_poll_secs: Option<String>,
    trusted_proxies: Option<String>,
}

/// (environment variable, TOML key) for each setting, in the order they are reported.
macro_rules! each_key {
    ($raw:ident, $f:ident) => {
        $f!($raw, listen, "RELAY_LISTEN");
        $f!($raw, data_dir, "RELAY_DATA_DIR");
        $f!($raw, storage, "RELAY_STORAGE");
        $f!($raw, database_url, "DATABASE_URL");
        $f!($raw, public_url, "RELAY_PUBLIC_URL");
        $f!($raw, operator_token, "RELAY_OPERATOR_TOKEN");
        $f!($raw, master_key, "RELAY_MASTER_KEY");
        $f!($raw, old_master_keys, "RELAY_OLD_MASTER_KEYS");
        $f!($raw, refresh_interval_secs, "RELAY_REFRESH_INTERVAL_SECS");
        $f!($raw, sweep_interval_secs, "RELAY_SWEEP_INTERVAL_SECS");
        $f!($raw, shutdown_secs, "RELAY_SHUTDOWN_SECS");
        $f!($raw, max_inflight_webhooks, "RELAY_MAX_INFLIGHT_WEBHOOKS");
        $f!($raw, min_free_bytes, "RELAY_MIN_FREE_BYTES");
        $f!($raw, data_max_bytes, "RELAY_DATA_MAX_BYTES");
        $f!($raw, disk_check_ms, "RELAY_DISK_CHECK_MS");
        $f!($raw, meta_app_id, "META_APP_ID");
        $f!($raw, meta_app_secret, "META_APP_SECRET");
        $f!($raw, meta_verify_token, "META_VERIFY_TOKEN");
        $f!($raw, instagram_app_secret, "INSTAGRAM_APP_SECRET");
        $f!($raw, meta_graph_url, "META_GRAPH_URL");
        $f!($raw, instagram_graph_url, "INSTAGRAM_GRAPH_URL");
        $f!($raw, instagram_oauth_url, "INSTAGRAM_OAUTH_URL");
        $f!($raw, instagram_app_id, "INSTAGRAM_APP_ID");
        $f!($raw, facebook_oauth_url, "FACEBOOK_OAUTH_URL");
        $f!($raw, whatsapp_sdk_url, "WHATSAPP_SDK_URL");
        $f!($raw, whatsapp_config_id, "WHATSAPP_CONFIG_ID");
        $f!($raw, connect_link_ttl_secs, "RELAY_CONNECT_LINK_TTL_SECS");
        $f!($raw, connect_state_ttl_secs, "RELAY_CONNECT_STATE_TTL_SECS");
        $f!($raw, llm_base_url, "LLM_BASE_URL");
        $f!($raw, llm_model, "LLM_MODEL");
        $f!($raw, llm_api_key, "LLM_API_KEY");
        $f!($raw, max_body_bytes, "RELAY_MAX_BODY_BYTES");
        $f!($raw, media_max_bytes, "RELAY_MEDIA_MAX_BYTES");
        $f!($raw, desk_ping_ms, "RELAY_DESK_PING_MS");
        $f!($raw, desk_idle_ms, "RELAY_DESK_IDLE_MS");
        $f!($raw, desk_send_timeout_ms, "RELAY_DESK_SEND_TIMEOUT_MS");
        $f!($raw, desk_max_frame_bytes, "RELAY_DESK_MAX_FRAME_BYTES");
        $f!($raw, desk_commands_per_sec, "RELAY_DESK_COMMANDS_PER_SEC");
        $f!($raw, desk_command_burst, "RELAY_DESK_COMMAND_BURST");
        $f!($raw, metrics_token, "RELAY_METRICS_TOKEN");
        $f!($raw, wal_segment_bytes, "RELAY_WAL_SEGMENT_BYTES");
        $f!($raw, test_clock, "RELAY_TEST_CLOCK");
        $f!($raw, test_crash_at, "RELAY_TEST_CRASH_AT");
        $f!($raw, test_fault_at, "RELAY_TEST_FAULT_AT");
        $f!($raw, tls_cert, "RELAY_TLS_CERT");
        $f!($raw, tls_key, "RELAY_TLS_KEY");
        $f!($raw, tls_poll_secs, "RELAY_TLS_POLL_SECS");
        $f!($raw, trusted_proxies, "RELAY_TRUSTED_PROXIES");
    };
}

impl Config {
    /// Loads the file (if any), overlays `env`, validates.
    ///
    /// # Errors
    /// The first missing or invalid value, or an unreadable file.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut raw = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
                toml::from_str::<Raw>(&text).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    reason: e.message().to_owned(),
                })?
            }
            None => Raw::default(),
        };
        macro_rules! overlay {
            ($raw:ident, $field:ident, $var:literal) => {
                if let Some(v) = env($var).filter(|v| !v.is_empty()) {
                    $raw.$field = Some(v);
                }
            };
        }
        each_key!(raw, overlay);
        Self::validate(raw)
    }

    fn validate(raw: Raw) -> Result<Config, ConfigError> {
        fn required(
            v: Option<String>,
            var: &'static str,
            key: &'static str,
        ) -> Result<String, ConfigError> {
            v.filter(|s| !s.trim().is_empty())
                .ok_or(ConfigError::Missing { var, key })
        }
        let listen_text = raw.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| ConfigError::Invalid {
            var: "RELAY_LISTEN",
            reason: format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
        })?;
        let storage = match raw.storage.as_deref().unwrap_or("sled") {
            "sled" => StorageKind::Sled,
            "postgres" => StorageKind::Postgres,
            other => {
                return Err(ConfigError::Invalid {
                    var: "RELAY_STORAGE",
                    reason: format!("`{other}` is neither `sled` nor `postgres`"),
                });
            }
        };
        let database_url = raw.database_url.map(Secret::new);
        if storage == StorageKind::Postgres && database_url.is_none() {
            return Err(ConfigError::Missing {
                var: "DATABASE_URL",
                key: "database_url",
            });
        }
        let operator_token = Secret::new(required(
            raw.operator_token,
            "RELAY_OPERATOR_TOKEN",
            "operator_token",
        )?);
        if operator_token.expose().len() < 16 {
            return Err(ConfigError::Invalid {
                var: "RELAY_OPERATOR_TOKEN",
                reason: "must be at least 16 characters".into(),
            });
        }
        let master_key =
            parse_master_key(&required(raw.master_key, "RELAY_MASTER_KEY", "master_key")?)?;
        let old_master_keys = raw
            .old_master_keys
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| {
                MasterKey::from_base64(k).map_err(|reason| ConfigError::Invalid {
                    var: "RELAY_OLD_MASTER_KEYS",
                    reason: format!("a key {reason}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let secs = |v: Option<String>, var, default: u64| {
            number(v, var, "seconds").map(|n| Duration::from_secs(n.map_or(default, |s| s as u64)))
        };
        let refresh_interval = secs(
            raw.refresh_interval_secs,
            "RELAY_REFRESH_INTERVAL_SECS",
            3600,
        )?;
        let sweep_interval = secs(raw.sweep_interval_secs, "RELAY_SWEEP_INTERVAL_SECS", 600)?;
        let shutdown_bound = secs(raw.shutdown_secs, "RELAY_SHUTDOWN_SECS", 10)?;
        let max_inflight_webhooks = number(
            raw.max_inflight_webhooks,
            "RELAY_MAX_INFLIGHT_WEBHOOKS",
            "requests",
        )?
        .unwrap_or(DEFAULT_MAX_INFLIGHT_WEBHOOKS);
        let min_free_bytes = number(raw.min_free_bytes, "RELAY_MIN_FREE_BYTES", "bytes")?
            .map_or(DEFAULT_MIN_FREE_BYTES, |n| n as u64);
        let data_max_bytes =
            number(raw.data_max_bytes, "RELAY_DATA_MAX_BYTES", "bytes")?.map(|n| n as u64);
        let disk_check = number(raw.disk_check_ms, "RELAY_DISK_CHECK_MS", "milliseconds")?
            .map_or(Duration::from_secs(1), |ms| {
                Duration::from_millis(ms.max(1) as u64)
            });
        let meta_app_id = required(raw.meta_app_id, "META_APP_ID", "meta_app_id")?;
        let meta_app_secret = Secret::new(required(
            raw.meta_app_secret,
            "META_APP_SECRET",
            "meta_app_secret",
        )?);
        let meta_verify_token = Secret::new(required(
            raw.meta_verify_token,
            "META_VERIFY_TOKEN",
            "meta_verify_token",
        )?);
        let max_body_bytes = number(raw.max_body_bytes, "RELAY_MAX_BODY_BYTES", "bytes")?
            .unwrap_or(DEFAULT_MAX_BODY);
        let media_max_bytes = number(raw.media_max_bytes, "RELAY_MEDIA_MAX_BYTES", "bytes")?
            .map_or(DEFAULT_MEDIA_MAX_BYTES, |n| n as u64);
        let wal_segment_bytes = number(raw.wal_segment_bytes, "RELAY_WAL_SEGMENT_BYTES", "bytes")?
            .map_or(DEFAULT_WAL_SEGMENT_BYTES, |n| n as u64);
        let defaults = DeskLimits::default();
        let millis = |v: Option<String>, var, default: Duration| {
            number(v, var, "milliseconds")
                .map(|n| n.map_or(default, |ms| Duration::from_millis(ms as u64)))
        };
        let desk = DeskLimits {
            ping: millis(raw.desk_ping_ms, "RELAY_DESK_PING_MS", defaults.ping)?,
            idle: millis(raw.desk_idle_ms, "RELAY_DESK_IDLE_MS", defaults.idle)?,
            send_timeout: millis(
                raw.desk_send_timeout_ms,
                "RELAY_DESK_SEND_TIMEOUT_MS",
                defaults.send_timeout,
            )?,
            max_frame_bytes: number(
                raw.desk_max_frame_bytes,
                "RELAY_DESK_MAX_FRAME_BYTES",
                "bytes",
            )?
            .unwrap_or(defaults.max_frame_bytes),
            commands_per_sec: number(
                raw.desk_commands_per_sec,
                "RELAY_DESK_COMMANDS_PER_SEC",
                "commands",
            )?
            .unwrap_or(defaults.commands_per_sec),
            command_burst: number(
                raw.desk_command_burst,
                "RELAY_DESK_COMMAND_BURST",
                "commands",
            )?
            .unwrap_or(defaults.command_burst),
        };
        let metrics_token = match raw.metrics_token {
            Some(t) if t.len() < 16 => {
                return Err(ConfigError::Invalid {
                    var: "RELAY_METRICS_TOKEN",
                    reason: "must be at least 16 characters".into(),
                });
            }
            other => other.map(Secret::new),
        };
        let connect_link_ttl = secs(
            raw.connect_link_ttl_secs,
            "RELAY_CONNECT_LINK_TTL_SECS",
            30 * 60,
        )?;
        let connect_state_ttl = secs(
            raw.connect_state_ttl_secs,
            "RELAY_CONNECT_STATE_TTL_SECS",
            10 * 60,
        )?;
        if raw.llm_base_url.is_some() && raw.llm_model.is_none() {
            return Err(ConfigError::Missing {
                var: "LLM_MODEL",
                key: "llm_model",
            });
        }
        let tls_poll = secs(raw.tls_poll_secs, "RELAY_TLS_POLL_SECS", 60)?;
        let tls = match (
            raw.tls_cert.filter(|s| !s.trim().is_empty()),
            raw.tls_key.filter(|s| !s.trim().is_empty()),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
                poll: tls_poll,
            }),
            (None, None) => None,
            // Half a pair would silently serve plain HTTP where TLS was meant.
            (Some(_), None) => {
                return Err(ConfigError::Pair {
                    var: "RELAY_TLS_KEY",
                    with: "RELAY_TLS_CERT",
                    key: "tls_key",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Pair {
                    var: "RELAY_TLS_CERT",
                    with: "RELAY_TLS_KEY",
                    key: "tls_cert",
                });
            }
        };
        let trusted_proxies = TrustedProxies::parse(
            raw.trusted_proxies.as_deref().unwrap_or_default(),
        )
        .map_err(|reason| ConfigError::Invalid {
            var: "RELAY_TRUSTED_PROXIES",
            reason,
        })?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = raw
            .public_url
            .unwrap_or_else(|| format!("{scheme}://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        Ok(Config {
            listen,
            data_dir: PathBuf::from(raw.data_dir.unwrap_or_else(|| "./relay-data".into())),
            storage,
            database_url,
            public_url,
            operator_token,
            metrics_token,
            master_key,
            old_master_keys,
            refresh_interval,
            sweep_interval,
            shutdown_bound,
            max_inflight_webhooks,
            min_free_bytes,
            data_max_bytes,
            disk_check,
            meta_app_id,
            meta_app_secret,
            meta_verify_token,
            instagram_app_secret: raw
                .instagram_app_secret
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            meta_graph_url: raw
                .meta_graph_url
                .unwrap_or_else(|| "https://graph.facebook.com".into()),
            instagram_graph_url: raw
                .instagram_graph_url
                .unwrap_or_else(|| "https://graph.instagram.com".into()),
            instagram_oauth_url: raw
                .instagram_oauth_url
                .unwrap_or_else(|| "https://api.instagram.com".into()),
            instagram_app_id: raw.instagram_app_id.filter(|s| !s.trim().is_empty()),
            facebook_oauth_url: raw
                .facebook_oauth_url
                .unwrap_or_else(|| "https://www.facebook.com".into()),
            whatsapp_sdk_url: raw
                .whatsapp_sdk_url
                .unwrap_or_else(|| "https://connect.facebook.net/en_US/sdk.js".into()),
            whatsapp_config_id: raw.whatsapp_config_id.filter(|s| !s.trim().is_empty()),
            connect_link_ttl,
            connect_state_ttl,
            llm_base_url: raw.llm_base_url,
            llm_model: raw.llm_model,
            llm_api_key: raw.llm_api_key.map(Secret::new),
            max_body_bytes,
            media_max_bytes,
            wal_segment_bytes,
            test_clock: match raw.test_clock.as_deref().map(str::trim) {
                None | Some("" | "0" | "false") => false,
                Some("1" | "true") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        var: "RELAY_TEST_CLOCK",
                        reason: format!("`{other}` is not 1 or 0"),
                    });
                }
            },
            test_crash_at: match raw.test_crash_at.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(name) if crate::crash_point::POINTS.contains(&name) => Some(name.to_owned()),
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        var: "RELAY_TEST_CRASH_AT",
                        reason: format!("`{other}` is not a crash point"),
                    });
                }
            },
            test_fault_at: match raw.test_fault_at.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(name) if crate::crash_point::FAULTS.contains(&name) => Some(name.to_owned()),
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        var: "RELAY_TEST_FAULT_AT",
                        reason: format!("`{other}` is not a fault point"),
                    });
                }
            },
            desk,
            tls,
            trusted_proxies,
        })
    }
}

/// A positive whole number, if given.
fn number(v: Option<String>, var: &'static str, unit: &str) -> Result<Option<usize>, ConfigError> {
    v.map(|v| {
        v.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ConfigError::Invalid {
                var,
                reason: format!("`{v}` is not a positive number of {unit}"),
            })
    })
    .transpose()
}

fn parse_master_key(text: &str) -> Result<MasterKey, ConfigError> {
    MasterKey::from_base64(text).map_err(|reason| ConfigError::Invalid {
        var: "RELAY_MASTER_KEY",
        reason,
    })
}

#[cfg(test)]
mod tests;
