//! Certificates made in the test: a private CA (rcgen) that issues server pairs for
//! `localhost`/`127.0.0.1` (valid, expired, for another name), written as PEM files the
//! relay reads, and client configurations that trust that CA.

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A private certificate authority.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// How a server certificate should be made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Leaf {
    /// Valid now, for `localhost` and `127.0.0.1`.
    Valid,
    /// For `localhost` and `127.0.0.1`, but expired in 2021.
    Expired,
    /// Valid now, but only for `relay.invalid`.
    OtherName,
}

/// A certificate and key on disk, as `RELAY_TLS_CERT` / `RELAY_TLS_KEY` name them.
#[derive(Clone, Debug)]
pub struct PemPair {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The leaf certificate (DER), to tell which pair a server presented.
    pub leaf: Vec<u8>,
}

impl TestCa {
    /// A new CA with its own key.
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn new(name: &str) -> anyhow::Result<TestCa> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(TestCa { issuer })
    }

    /// The CA certificate as PEM (what `ca_file` holds).
    #[must_use]
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Writes the CA certificate to `path`.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_pem(&self, path: &Path) -> anyhow::Result<PathBuf> {
        std::fs::write(path, self.pem())?;
        Ok(path.to_owned())
    }

    /// Issues a server pair and writes it as `<dir>/<name>.crt` (leaf then CA) and
    /// `<dir>/<name>.key`.
    ///
    /// # Errors
    /// Signing or writing failed.
    pub fn issue(&self, dir: &Path, name: &str, leaf: Leaf) -> anyhow::Result<PemPair> {
        let names = match leaf {
            Leaf::Valid | Leaf::Expired => vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            Leaf::OtherName => vec!["relay.invalid".to_owned()],
        };
        let mut params = CertificateParams::new(names)?;
        params.distinguished_name.push(DnType::CommonName, name);
        if leaf == Leaf::Expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let pair = PemPair {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
            leaf: cert.der().to_vec(),
        };
        std::fs::write(&pair.cert, format!("{}{}", cert.pem(), self.pem()))?;
        std::fs::write(&pair.key, key.serialize_pem())?;
        Ok(pair)
    }
}

impl PemPair {
    /// The relay's environment for this pair.
    #[must_use]
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("RELAY_TLS_CERT".into(), self.cert.display().to_string()),
            ("RELAY_TLS_KEY".into(), self.key.display().to_string()),
        ]
    }

    /// Copies this pair over `onto`'s files (a renewal in place).
    ///
    /// # Errors
    /// The files cannot be copied.
    pub fn install_as(&self, onto: &PemPair) -> anyhow::Result<()> {
        std::fs::copy(&self.cert, &onto.cert)?;
        std::fs::copy(&self.key, &onto.key)?;
        Ok(())
    }
}

/// A rustls client configuration trusting only `ca_pem`, offering `alpn`.
///
/// # Errors
/// The PEM holds no usable certificate.
pub fn client_config(ca_pem: &str, alpn: &[&[u8]]) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.context("CA PEM")?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A reqwest client trusting `ca_pem` (and the public roots).
///
/// # Errors
/// The PEM holds no certificate.
pub fn reqwest_client(ca_pem: &str) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes())?)
        .build()?)
}

/// The leaf certificate (DER) a TLS server at `addr` presents now, over a fresh connection
/// that trusts `ca_pem`.
///
/// # Errors
/// The connection or the handshake failed.
pub async fn presented_leaf(addr: &str, ca_pem: &str) -> anyhow::Result<Vec<u8>> {
    let config = client_config(ca_pem, &[b"http/1.1"])?;
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost")?.to_owned();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    let (_, session) = tls.get_ref();
    let leaf = session
        .peer_certificates()
        .and_then(|c| c.first())
        .context("no certificate presented")?;
    Ok(leaf.to_vec())
}
