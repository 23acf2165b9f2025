//! Throw-away databases for tests: each [`TestDb`] is a fresh database with a random name
//! on the server named by `CHATDESK_TEST_PG` (default: the local server, user `postgres`,
//! database `test`), dropped when the value is dropped. Nothing relies on a database made
//! by hand; CI starts the server (`.ci/run`).

use std::str::FromStr;
use tokio_postgres::NoTls;

/// The server's URL tests connect through (any existing database of it).
#[must_use]
pub fn admin_url() -> String {
    std::env::var("CHATDESK_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database created for one test, dropped (connections and all) when this is dropped.
pub struct TestDb {
    admin: String,
    name: String,
    url: String,
}

/// Why a test database could not be made.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot create a test database on {server} (is PostgreSQL running? `.ci/run` starts it): {reason}"
)]
pub struct TestDbError {
    server: String,
    reason: String,
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; its error then is not news.
        let _ = connection.await;
    });
    Ok(client)
}

impl TestDb {
    /// Creates a database with a random name.
    ///
    /// # Errors
    /// The server cannot be reached or refuses.
    pub async fn create() -> Result<TestDb, TestDbError> {
        let admin = admin_url();
        let fail = |reason: String| TestDbError {
            server: tokio_postgres::Config::from_str(&admin)
                .ok()
                .and_then(|c| c.get_hosts().first().map(|h| format!("{h:?}")))
                .unwrap_or_else(|| "the configured server".into()),
            reason,
        };
        let name = format!(
            "chatdesk_test_{}_{:016x}",
            std::process::id(),
            rand::random::<u64>()
        );
        let client = connect(&admin).await.map_err(|e| fail(e.to_string()))?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let mut config =
            tokio_postgres::Config::from_str(&admin).map_err(|e| fail(e.to_string()))?;
        config.dbname(&name);
        let url = url_of(&config, &name);
        Ok(TestDb { admin, name, url })
    }

    /// The URL of this database (for `DATABASE_URL`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `config` as a URL naming `dbname` (key=value form, which the driver also accepts).
fn url_of(config: &tokio_postgres::Config, dbname: &str) -> String {
    let mut parts = Vec::new();
    if let Some(tokio_postgres::config::Host::Tcp(h)) = config.get_hosts().first() {
        parts.push(format!("host={h}"));
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={user}"));
    }
    if let Some(password) = config.get_password() {
        parts.push(format!("password={}", String::from_utf8_lossy(password)));
    }
    parts.push(format!("dbname={dbname}"));
    parts.join(" ")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run inside a runtime; a thread of its own can block on one of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let client = connect(&admin).await.ok()?;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
