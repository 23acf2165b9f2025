//! The desk's config file: profiles (a relay and a token file each, for agents of several
//! tenants), key bindings and the bell. `~/.config/chatdesk/desk.toml` by default:
//!
//! ```toml
//! bell = true              # ring on new customer messages (default off)
//!
//! [keys]                   # action name = key; `?` in the desk lists the names
//! approve = "y"
//! next = "ctrl-n"
//!
//! [[profile]]
//! name = "sari"            # the badge rows carry in a combined queue
//! relay = "http://127.0.0.1:8080"
//! token_file = "~/.config/chatdesk/sari.token"
//!
//! [[profile]]
//! name = "toko"
//! relay = "https://relay.toko.example"    # wss:// follows from https://
//! token_file = "~/.config/chatdesk/toko.token"
//! ca_file = "~/.config/chatdesk/toko-ca.pem" # only for a relay with a private CA
//! ```

use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub bell: bool,
    #[serde(default)]
    pub keys: HashMap<String, String>,
    #[serde(default, rename = "profile")]
    pub profiles: Vec<ProfileConfig>,
    /// Where replicas live (default: the platform data directory).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    pub name: String,
    pub relay: String,
    pub token_file: PathBuf,
    /// Extra CA certificates (PEM) for an `https://` relay with a private CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// Why the config file or a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid desk config: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the token file {path} is empty")]
    EmptyToken { path: PathBuf },
    #[error("no profile named {name:?} in {path} (it has: {known})")]
    UnknownProfile {
        name: String,
        path: PathBuf,
        known: String,
    },
}

/// The default config file path, if the platform has a config directory.
#[must_use]
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "chatdesk").map(|d| d.config_dir().join("desk.toml"))
}

/// Reads the config file; a missing file at the default path is an empty config.
///
/// # Errors
/// The file exists but cannot be read or parsed.
pub fn load(path: &Path, required: bool) -> Result<FileConfig, ProfileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| ProfileError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_owned(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            Ok(FileConfig::default())
        }
        Err(source) => Err(ProfileError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// `~/` at the start of a path means the home directory.
#[must_use]
pub fn expand(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

/// Reads a token file: the first line, trimmed.
///
/// # Errors
/// Unreadable or empty file. The error never contains the token.
pub fn read_token(path: &Path) -> Result<String, ProfileError> {
    let path = expand(path);
    let text = std::fs::read_to_string(&path).map_err(|source| ProfileError::Read {
        path: path.clone(),
        source,
    })?;
    let token = text.lines().next().unwrap_or_default().trim().to_owned();
    if token.is_empty() {
        return Err(ProfileError::EmptyToken { path });
    }
    Ok(token)
}

impl FileConfig {
    /// The profiles named, or all of them when `names` is empty.
    ///
    /// # Errors
    /// A name no profile has.
    pub fn select(
        &self,
        names: &[String],
        path: &Path,
    ) -> Result<Vec<ProfileConfig>, ProfileError> {
        if names.is_empty() {
            return Ok(self.profiles.clone());
        }
        names
            .iter()
            .map(|name| {
                self.profiles
                    .iter()
                    .find(|p| &p.name == name)
                    .cloned()
                    .ok_or_else(|| ProfileError::UnknownProfile {
                        name: name.clone(),
                        path: path.to_path_buf(),
                        known: self
                            .profiles
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_profiles_keys_and_bell() {
        let config: FileConfig = toml::from_str(
            r#"
            bell = true
            [keys]
            approve = "y"
            [[profile]]
            name = "a"
            relay = "http://127.0.0.1:1"
            token_file = "/tmp/a.token"
            [[profile]]
            name = "b"
            relay = "http://127.0.0.1:2"
            token_file = "/tmp/b.token"
            "#,
        )
        .unwrap();
        assert!(config.bell);
        assert_eq!(config.keys["approve"], "y");
        let path = Path::new("desk.toml");
        assert_eq!(config.select(&[], path).unwrap().len(), 2);
        assert_eq!(
            config.select(&["b".into()], path).unwrap()[0].relay,
            "http://127.0.0.1:2"
        );
        let err = config.select(&["c".into()], path).unwrap_err().to_string();
        assert!(err.contains("\"c\"") && err.contains("a, b"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("colour = true").is_err());
    }

    #[test]
    fn token_files_are_trimmed_and_empty_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("t");
        std::fs::write(&good, "  secret-token \n").unwrap();
        assert_eq!(read_token(&good).unwrap(), "secret-token");
        let empty = dir.path().join("e");
        std::fs::write(&empty, "\n").unwrap();
        let err = read_token(&empty).unwrap_err().to_string();
        assert!(err.contains("empty"));
        let missing = read_token(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot read"));
    }
}
