//! TLS for `https://` relays: which certificates the desk trusts (the platform's public
//! roots, as shipped by `webpki-roots`, plus a private CA from `ca_file` for self-hosted
//! relays), and what a certificate failure means in words.
//!
//! Builds configurations and explains errors; it opens no socket (`net` does) and decides
//! nothing about retrying (the engine does).

use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the trusted certificates could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("the CA file {path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("the CA file {path} holds a certificate that cannot be used: {reason}")]
    BadCertificate { path: PathBuf, reason: String },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// The client configuration for one relay: public roots plus `ca_file`'s certificates.
///
/// Only `http/1.1` is offered by ALPN: the desk's WebSocket client speaks HTTP/1.1.
///
/// # Errors
/// The CA file is unreadable, holds no certificate or a malformed one.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        for cert in read_ca_file(path)? {
            roots.add(cert).map_err(|e| TlsError::BadCertificate {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The PEM certificates in a CA file.
///
/// # Errors
/// As [`client_config`].
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.to_owned(),
        reason: e.kind().to_string(),
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::BadCertificate {
            path: path.to_owned(),
            reason: "malformed PEM".into(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// If a TLS handshake failed because of the relay's certificate, why, in words an agent
/// can pass on to whoever runs the relay. `None` for other failures (refused, reset…).
#[must_use]
pub fn certificate_problem(error: &io::Error) -> Option<String> {
    let rustls_error = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    let rustls::Error::InvalidCertificate(problem) = rustls_error else {
        return None;
    };
    use rustls::CertificateError as C;
    Some(match problem {
        C::Expired | C::ExpiredContext { .. } => "the certificate has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "the certificate is not valid yet".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "name mismatch: the certificate is not valid for this host name".into()
        }
        C::UnknownIssuer => "unknown issuer: the certificate is not signed by a trusted CA \
                             (for a private CA set ca_file, --ca-file or DESK_CA_FILE)"
            .into(),
        C::Revoked => "the certificate has been revoked".into(),
        C::BadSignature => "the certificate's signature is invalid".into(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "the certificate is not meant for a TLS server".into()
        }
        other => format!("the certificate is invalid ({other:?})"),
    })
}
