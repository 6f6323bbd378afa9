//! Loading TLS configurations from PEM files: the server side (client port, leaf port) and
//! the client side (leaf remotes), each built once and shared by every core's sessions.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

/// Where the system's CA bundle lives on Debian and its derivatives (the first file Go's
/// crypto/x509 tries); `verify` without a CA file trusts it, as nats-server does.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A loaded, shareable server-side TLS configuration (certificate, key, client verifier).
/// Built once at start-up; every core's connections share it.
#[derive(Clone, Debug)]
pub struct TlsServerConfig {
    pub(super) config: Arc<ServerConfig>,
}

/// A loaded, shareable client-side TLS configuration (the CAs a server's certificate must
/// chain to, the certificate we present if any), for the connections this server dials.
#[derive(Clone, Debug)]
pub struct TlsClientConfig {
    pub(super) config: Arc<ClientConfig>,
}

/// Why the TLS files could not be loaded; the text names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsLoadError(pub String);

impl std::fmt::Display for TlsLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsLoadError {}

impl TlsServerConfig {
    /// Reads the certificate chain and key (PEM) and, with `verify`, the CAs that client
    /// certificates must chain to (`client_ca_file`, or the system bundle). A CA file given
    /// without `verify` is still read and checked, as nats-server does, but not used.
    ///
    /// TLS 1.3 and 1.2, no session resumption (so cores share no session cache).
    pub fn load(
        cert_file: &Path,
        key_file: &Path,
        client_ca_file: Option<&Path>,
        verify: bool,
    ) -> Result<TlsServerConfig, TlsLoadError> {
        let certificates = read_certificates(cert_file, "certificate")?;
        let key = read_key(key_file)?;
        let client_roots = match client_ca_file {
            Some(path) => Some(read_roots(path)?),
            None => None,
        };
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsLoadError(format!("TLS: {error}")))?;
        let builder = if verify {
            let roots = match client_roots {
                Some(roots) => roots,
                None => read_roots(Path::new(SYSTEM_CA_BUNDLE))?,
            };
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| TlsLoadError(format!("TLS client verification: {error}")))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder
            .with_single_cert(certificates, key)
            .map_err(|error| {
                TlsLoadError(format!(
                    "TLS certificate {} and key {}: {error}",
                    cert_file.display(),
                    key_file.display()
                ))
            })?;
        config.ignore_client_order = true;
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(TlsServerConfig {
            config: Arc::new(config),
        })
    }
}

impl TlsClientConfig {
    /// Trusts the CAs of `ca_file` (the system bundle without one, as Go trusts the
    /// system's roots), presents `identity` (certificate chain and key files) when the
    /// server asks for one. With `insecure`, the server's certificate and name are not
    /// checked at all (nats-server's `insecure`); its handshake signatures still are.
    ///
    /// TLS 1.3 and 1.2, no session resumption.
    pub fn load(
        ca_file: Option<&Path>,
        identity: Option<(&Path, &Path)>,
        insecure: bool,
    ) -> Result<TlsClientConfig, TlsLoadError> {
        let roots = match ca_file {
            Some(path) => read_roots(path)?,
            None if insecure => RootCertStore::empty(),
            None => read_roots(Path::new(SYSTEM_CA_BUNDLE))?,
        };
        TlsClientConfig::build(roots, identity, insecure)
    }

    /// The system's roots, no client certificate: what a dialled connection uses when the
    /// server requires TLS and nothing was configured (Go's default `tls.Config`). Without
    /// a readable system bundle it trusts nothing, so every handshake fails as unverified.
    pub fn system_roots() -> TlsClientConfig {
        let roots =
            read_roots(Path::new(SYSTEM_CA_BUNDLE)).unwrap_or_else(|_| RootCertStore::empty());
        TlsClientConfig::build(roots, None, false).expect("a configuration without files builds")
    }

    fn build(
        roots: RootCertStore,
        identity: Option<(&Path, &Path)>,
        insecure: bool,
    ) -> Result<TlsClientConfig, TlsLoadError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsLoadError(format!("TLS: {error}")))?;
        let builder = if insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServerCertificate { provider }))
        } else {
            builder.with_root_certificates(roots)
        };
        let mut config = match identity {
            Some((cert_file, key_file)) => {
                let certificates = read_certificates(cert_file, "certificate")?;
                let key = read_key(key_file)?;
                builder
                    .with_client_auth_cert(certificates, key)
                    .map_err(|error| {
                        TlsLoadError(format!(
                            "TLS certificate {} and key {}: {error}",
                            cert_file.display(),
                            key_file.display()
                        ))
                    })?
            }
            None => builder.with_no_client_auth(),
        };
        config.resumption = rustls::client::Resumption::disabled();
        Ok(TlsClientConfig {
            config: Arc::new(config),
        })
    }
}

/// `insecure`: any certificate for any name is accepted; the handshake's signatures are
/// still verified with the provider's algorithms.
#[derive(Debug)]
struct AnyServerCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// rustls's ring provider with Go's cipher suite preference.
fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    // Go (nats-server) picks AES-128-GCM first on machines with AES instructions, in its
    // own order rather than the client's; so do we (the server's `ignore_client_order`): the
    // same suites get picked, and it is the fastest of the three.
    provider.cipher_suites.sort_by_key(|suite| {
        let name = suite.suite().as_str().unwrap_or("");
        [name.contains("AES_128"), name.contains("AES_256")]
            .iter()
            .position(|&matched| matched)
            .unwrap_or(2)
    });
    Arc::new(provider)
}

fn read_key(key_file: &Path) -> Result<PrivateKeyDer<'static>, TlsLoadError> {
    PrivateKeyDer::from_pem_file(key_file).map_err(|error| {
        TlsLoadError(format!(
            "TLS key file {}: {}",
            key_file.display(),
            pem_problem(&error, "private key")
        ))
    })
}

fn read_certificates(
    path: &Path,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsLoadError> {
    let problem =
        |text: String| TlsLoadError(format!("TLS {what} file {}: {text}", path.display()));
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| problem(pem_problem(&error, "certificate")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| problem(pem_problem(&error, "certificate")))?;
    if certificates.is_empty() {
        return Err(problem(
            "no certificate found (expected a PEM CERTIFICATE block)".into(),
        ));
    }
    Ok(certificates)
}

fn read_roots(path: &Path) -> Result<RootCertStore, TlsLoadError> {
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(path, "CA")? {
        roots
            .add(certificate)
            .map_err(|error| TlsLoadError(format!("TLS CA file {}: {error}", path.display())))?;
    }
    Ok(roots)
}

fn pem_problem(error: &rustls::pki_types::pem::Error, what: &str) -> String {
    use rustls::pki_types::pem::Error;
    match error {
        Error::Io(io_error) => io_error.to_string(),
        Error::NoItemsFound => format!("no {what} found (expected a PEM block)"),
        other => format!("not valid PEM: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loading_errors_name_the_file() {
        let directory =
            std::env::temp_dir().join(format!("ringmq-tls-load-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert_file = directory.join("cert.pem");
        let key_file = directory.join("key.pem");
        let other_key_file = directory.join("other-key.pem");
        let missing = directory.join("missing.pem");
        std::fs::write(&cert_file, certified.cert.pem()).unwrap();
        std::fs::write(&key_file, certified.signing_key.serialize_pem()).unwrap();
        std::fs::write(&other_key_file, other.signing_key.serialize_pem()).unwrap();
        let load = |cert: &Path, key: &Path, ca: Option<&Path>, verify: bool| {
            TlsServerConfig::load(cert, key, ca, verify)
                .map(drop)
                .map_err(|e| e.0)
        };

        assert_eq!(load(&cert_file, &key_file, None, false), Ok(()));
        assert_eq!(load(&cert_file, &key_file, Some(&cert_file), true), Ok(()));
        let error = load(&missing, &key_file, None, false).unwrap_err();
        assert!(
            error.starts_with(&format!("TLS certificate file {}: ", missing.display()))
                && error.contains("No such file"),
            "{error}"
        );
        // A key where the certificate belongs, and the other way round.
        let error = load(&key_file, &key_file, None, false).unwrap_err();
        assert!(error.contains("no certificate found"), "{error}");
        assert!(error.contains(&key_file.display().to_string()), "{error}");
        let error = load(&cert_file, &cert_file, None, false).unwrap_err();
        assert!(
            error.starts_with(&format!("TLS key file {}: ", cert_file.display())),
            "{error}"
        );
        assert!(error.contains("no private key found"), "{error}");
        let error = load(&cert_file, &other_key_file, None, false).unwrap_err();
        assert!(
            error.contains(&other_key_file.display().to_string()),
            "{error}"
        );
        // A broken CA file stops start-up even without verify, as in nats-server.
        let error = load(&cert_file, &key_file, Some(&missing), false).unwrap_err();
        assert!(
            error.starts_with(&format!("TLS CA file {}: ", missing.display())),
            "{error}"
        );
        let error = load(&cert_file, &key_file, Some(&key_file), true).unwrap_err();
        assert!(error.contains("no certificate found"), "{error}");
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
