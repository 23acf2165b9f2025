//! TLS for `relay serve` when `RELAY_TLS_CERT` and `RELAY_TLS_KEY` are set: loading the PEM
//! pair, the acceptor (TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`), and reloading the pair
//! on SIGHUP or when the files change, without touching connections already open.
//!
//! Reloading swaps the `Arc` a [`CertSlot`] hands out at each handshake: connections that
//! finished their handshake never look at it again, so connected desks stay connected,
//! and every new connection gets the new pair. A pair that does not load (unreadable,
//! malformed, key not matching the certificate) is refused with one log line and the
//! old pair keeps serving. Error texts name files and reasons, never file contents: a
//! malformed key file's lines are key material.
//!
//! Not here: HTTP (the listener hands finished TLS streams to `axum::serve`) and client
//! addresses (`http::client`).

use crate::config::TlsFiles;
use axum::serve::Listener;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject as _};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A handshake that takes longer than this is abandoned (slow or idle clients must not
/// hold a task and a socket forever).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for `axum::serve` to take them.
const ACCEPT_QUEUE: usize = 64;

/// Why a certificate pair cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)")]
    NoCertificate { path: PathBuf },
    #[error("{path} is not a valid PEM certificate chain: {reason}")]
    BadCertificate { path: PathBuf, reason: &'static str },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("{path} is not a valid PEM private key: {reason}")]
    BadKey { path: PathBuf, reason: &'static str },
    #[error("the private key in {key} does not belong to the certificate in {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// A PEM parse failure in words that quote nothing from the file.
fn pem_reason(error: &pem::Error) -> &'static str {
    match error {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a section is not valid base64",
        pem::Error::Io(_) => "the file could not be read",
        pem::Error::NoItemsFound => "no PEM section found",
        _ => "malformed PEM",
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.to_owned(),
        // The kind only ("not found", "permission denied"): never the OS's full text,
        // which is harmless, but keeps one wording across platforms.
        reason: e.kind().to_string(),
    })
}

/// Reads and checks a certificate chain and its key.
///
/// # Errors
/// Either file is unreadable or malformed, or the key does not match the certificate.
pub fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_pem = read(&files.cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCertificate {
            path: files.cert.clone(),
            reason: pem_reason(&e),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: files.key.clone(),
        },
        e => TlsError::BadKey {
            path: files.key.clone(),
            reason: pem_reason(&e),
        },
    })?;
    drop(key_pem);
    let provider = provider();
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(|_| TlsError::BadKey {
            path: files.key.clone(),
            reason: "not an RSA, ECDSA or Ed25519 key this relay can use",
        })?;
    let certified = CertifiedKey::new(chain, signer);
    match certified.keys_match() {
        Ok(()) => Ok(Arc::new(certified)),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::Mismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            })
        }
        // The certificate's public key could not be read from it.
        Err(_) => Err(TlsError::BadCertificate {
            path: files.cert.clone(),
            reason: "the first certificate cannot be parsed",
        }),
    }
}

/// One crypto provider for the relay, chosen explicitly: the build carries only ring.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The pair new handshakes get; swapped whole on reload.
pub struct CertSlot {
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for CertSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertSlot")
    }
}

impl CertSlot {
    fn get(&self) -> Arc<CertifiedKey> {
        // A poisoned lock still holds a whole `Arc` (the swap is one assignment).
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The relay's TLS: the files, the pair in use, and the server configuration built on it.
pub struct Tls {
    files: TlsFiles,
    slot: Arc<CertSlot>,
    config: Arc<ServerConfig>,
    /// Modification times of (cert, key) at the last load attempt, so the poll retries
    /// only after the files changed again (a renewal writes them one after the other).
    seen: Mutex<Option<(SystemTime, SystemTime)>>,
}

impl Tls {
    /// Loads the pair and builds the acceptor's configuration.
    ///
    /// # Errors
    /// The pair does not load (see [`load`]).
    pub fn new(files: TlsFiles) -> Result<Tls, TlsError> {
        let seen = stamps(&files);
        let slot = Arc::new(CertSlot {
            current: RwLock::new(load(&files)?),
        });
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(slot.clone());
        // HTTP/2 first: one connection carries many requests and WebSockets (RFC 8441).
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            files,
            slot,
            config: Arc::new(config),
            seen: Mutex::new(seen),
        })
    }

    /// Re-reads both files. A good pair serves every handshake from now on; a bad one is
    /// refused with one log line and the current pair stays. Returns whether it swapped.
    pub fn reload(&self, why: &str) -> bool {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = stamps(&self.files);
        match load(&self.files) {
            Ok(key) => {
                self.slot.set(key);
                tracing::info!(
                    why,
                    cert = %self.files.cert.display(),
                    "TLS certificate reloaded; new connections use it"
                );
                true
            }
            Err(e) => {
                tracing::warn!(why, error = %e, "TLS reload refused; still serving the previous certificate");
                false
            }
        }
    }

    /// Reloads if either file's modification time moved since the last attempt.
    fn reload_if_changed(&self) {
        let now = stamps(&self.files);
        let changed =
            now.is_some() && *self.seen.lock().unwrap_or_else(PoisonError::into_inner) != now;
        if changed {
            self.reload("files changed");
        }
    }

    /// Watches for SIGHUP and polls the files' modification times, reloading on either,
    /// until the returned task is aborted.
    #[must_use]
    pub fn watch(self: Arc<Tls>) -> JoinHandle<()> {
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut hup = match tokio::signal::unix::signal(
                tokio::signal::unix::SignalKind::hangup(),
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch SIGHUP; TLS reloads only when the files change");
                    None
                }
            };
            let mut poll = tokio::time::interval(self.files.poll);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            poll.tick().await;
            loop {
                #[cfg(unix)]
                let hangup = async {
                    match hup.as_mut() {
                        Some(s) => {
                            s.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                #[cfg(not(unix))]
                let hangup = std::future::pending::<()>();
                tokio::select! {
                    () = hangup => {
                        let tls = Arc::clone(&self);
                        // File reads and key parsing are blocking work.
                        let _ = tokio::task::spawn_blocking(move || tls.reload("SIGHUP")).await;
                    }
                    _ = poll.tick() => {
                        let tls = Arc::clone(&self);
                        let _ = tokio::task::spawn_blocking(move || tls.reload_if_changed()).await;
                    }
                }
            }
        })
    }

    /// Wraps a bound TCP listener: connections come out of it with their TLS handshake
    /// done.
    #[must_use]
    pub fn listener(&self, tcp: TcpListener) -> TlsListener {
        TlsListener::new(tcp, TlsAcceptor::from(Arc::clone(&self.config)))
    }
}

fn stamps(files: &TlsFiles) -> Option<(SystemTime, SystemTime)> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((modified(&files.cert)?, modified(&files.key)?))
}

/// A listener whose connections are TLS streams. Handshakes run in their own tasks, so a
/// slow client never holds up the next accept; finished ones queue for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: JoinHandle<()>,
}

impl TlsListener {
    fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        let local = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, ready) = mpsc::channel(ACCEPT_QUEUE);
        let accepting = tokio::spawn(accept_loop(tcp, acceptor, tx));
        TlsListener {
            ready,
            local,
            accepting,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // `axum::serve` drops the listener when shutdown begins: stop accepting then.
        self.accepting.abort();
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Desk frames are small writes back to back: with Nagle's algorithm the second
        // waits for the desk's delayed ACK, up to 40 ms.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                // Scanners and clients that do not trust us fail here all day: debug only.
                Ok(Err(e)) => {
                    tracing::debug!(client = %peer.ip(), error = %e, "TLS handshake failed")
                }
                Err(_) => tracing::debug!(client = %peer.ip(), "TLS handshake timed out"),
            }
        });
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends when aborted by our own drop.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests;
