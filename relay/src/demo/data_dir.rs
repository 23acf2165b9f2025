//! Where a demo keeps its files: the relay's sled store (`relay/`) and the token files
//! (`owner.token`, `agent.token`, `viewer.token`, mode 0600). Either a fresh temporary
//! directory, removed when the demo ends, or a directory the user named, which is kept.

use super::DemoError;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The demo's directory; a temporary one is removed by [`DataDir::close`] (or, on error
/// paths, when dropped).
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    temporary: bool,
    removed: bool,
}

impl DataDir {
    /// A fresh directory under the system's temporary directory, readable only by us
    /// (the token files inside are secrets).
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn temporary() -> Result<DataDir, DemoError> {
        let path = std::env::temp_dir().join(crate::ids::random("chatdesk-demo"));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        // `create`, not `create_all`: a random name that exists already is not ours.
        builder.create(&path).map_err(|e| DemoError::DataDir {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let path = absolute(&path)?;
        Ok(DataDir {
            path,
            temporary: true,
            removed: false,
        })
    }

    /// The directory the user named, created if needed and kept at exit. It must not hold
    /// an earlier demo: the demo provisions a fresh tenant whose channels would collide
    /// with the old ones, and the old access tokens were sealed under a key that is gone.
    ///
    /// # Errors
    /// The directory cannot be created, or already holds a relay store or token files.
    pub fn given(path: &Path) -> Result<DataDir, DemoError> {
        std::fs::create_dir_all(path).map_err(|e| DemoError::DataDir {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let path = absolute(path)?;
        let leftovers: Vec<&str> = std::iter::once(super::STORE_DIR)
            .chain(super::TOKEN_FILES)
            .filter(|name| path.join(name).exists())
            .collect();
        if !leftovers.is_empty() {
            return Err(DemoError::DataDir {
                reason: format!(
                    "already holds {} from an earlier demo; name an empty or new directory",
                    leftovers.join(", ")
                ),
                path,
            });
        }
        Ok(DataDir {
            path,
            temporary: false,
            removed: false,
        })
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the directory goes away when the demo ends.
    #[must_use]
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// Writes `token` to `name` inside the directory, readable and writable by us alone,
    /// and answers the file's path. The file is created with its mode, never widened later,
    /// so the token is never readable by others even for a moment.
    ///
    /// # Errors
    /// The file exists already or cannot be written.
    pub fn write_secret(&self, name: &str, token: &str) -> Result<PathBuf, DemoError> {
        let path = self.path.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&path).and_then(|mut file| {
            file.write_all(token.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        });
        written.map_err(|e| DemoError::DataDir {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(path)
    }

    /// Removes a temporary directory (a given one is kept).
    ///
    /// # Errors
    /// The directory cannot be removed.
    pub fn close(mut self) -> Result<(), DemoError> {
        self.removed = true;
        if !self.temporary {
            return Ok(());
        }
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DemoError::DataDir {
                path: self.path.clone(),
                reason: format!("cannot remove it: {e}"),
            }),
        }
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        // Error paths end here without `close`; a temporary directory full of tokens must
        // not outlive the demo either way.
        if self.temporary && !self.removed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The absolute form of `path`, so the JSON line names files a parent process in another
/// working directory can open.
fn absolute(path: &Path) -> Result<PathBuf, DemoError> {
    std::fs::canonicalize(path).map_err(|e| DemoError::DataDir {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_directory_and_its_secrets_go_away() {
        let dir = DataDir::temporary().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().to_owned();
        let file = dir
            .write_secret("owner.token", "cdt_secret")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap_or_default(),
            "cdt_secret\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
        assert!(
            dir.write_secret("owner.token", "again").is_err(),
            "never overwrites"
        );
        dir.close().unwrap_or_else(|e| panic!("{e}"));
        assert!(!path.exists());
    }

    #[test]
    fn a_given_directory_is_kept_and_must_not_hold_an_earlier_demo() {
        let parent = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = parent.path().join("demo");
        let dir = DataDir::given(&path).unwrap_or_else(|e| panic!("{e}"));
        dir.write_secret("agent.token", "t")
            .unwrap_or_else(|e| panic!("{e}"));
        dir.close().unwrap_or_else(|e| panic!("{e}"));
        assert!(path.join("agent.token").exists(), "kept");
        let again = DataDir::given(&path).map(|_| ()).map_err(|e| e.to_string());
        assert!(
            again.as_ref().is_err_and(|e| e.contains("agent.token")),
            "{again:?}"
        );
    }
}
