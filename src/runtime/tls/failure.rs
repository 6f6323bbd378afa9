//! What a TLS session reports: its failures in the categories an operator acts on, worded
//! as Go's crypto/tls words them (nats-server's log lines), and what a completed handshake
//! agreed on.

use rustls::CertificateError;

/// TLS alert description codes the runtime itself names (RFC 8446 §6).
const ALERT_NAMES: &[(u8, &str)] = &[
    (0, "close notify"),
    (10, "unexpected message"),
    (20, "bad record MAC"),
    (21, "decryption failed"),
    (22, "record overflow"),
    (40, "handshake failure"),
    (42, "bad certificate"),
    (43, "unsupported certificate"),
    (44, "revoked certificate"),
    (45, "expired certificate"),
    (46, "unknown certificate"),
    (47, "illegal parameter"),
    (48, "unknown certificate authority"),
    (49, "access denied"),
    (50, "error decoding message"),
    (51, "error decrypting message"),
    (70, "protocol version not supported"),
    (71, "insufficient security level"),
    (80, "internal error"),
    (86, "inappropriate fallback"),
    (90, "user canceled"),
    (109, "missing extension"),
    (110, "unsupported extension"),
    (112, "unrecognized name"),
    (116, "certificate required"),
    (120, "no application protocol"),
];

/// What went wrong on a TLS connection, in the categories an operator acts on. `Display`
/// words them as Go's crypto/tls does (nats-server's log lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsFailure {
    /// The first bytes were not a TLS record: a plain-text client on a TLS port.
    NotTls,
    /// A client certificate is required and the client sent none.
    NoCertificate,
    /// The client's certificate did not verify.
    BadCertificate(CertificateProblem),
    /// The server's certificate did not verify (our side dialled).
    BadServerCertificate(CertificateProblem),
    /// The peer sent a fatal alert (its description code).
    AlertReceived(u8),
    /// No protocol version, cipher suite, key exchange group or signature scheme in common.
    Incompatible,
    /// A record failed authentication.
    Decrypt,
    /// Any other protocol error by the peer (malformed or unexpected messages).
    Protocol,
}

/// Why a peer's certificate was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateProblem {
    UnknownIssuer,
    /// Not issued for the name the server was dialled by.
    WrongName,
    /// Expired or not yet valid.
    OutsideValidity,
    WrongUsage,
    BadSignature,
    Other,
}

impl TlsFailure {
    /// `error` as the server side (`client` false) or the client side of a session saw it.
    pub(super) fn from_rustls(error: &rustls::Error, client: bool) -> TlsFailure {
        match error {
            rustls::Error::NoCertificatesPresented => TlsFailure::NoCertificate,
            rustls::Error::InvalidCertificate(problem) if client => {
                TlsFailure::BadServerCertificate(CertificateProblem::from_rustls(problem))
            }
            rustls::Error::InvalidCertificate(problem) => {
                TlsFailure::BadCertificate(CertificateProblem::from_rustls(problem))
            }
            rustls::Error::AlertReceived(description) => {
                TlsFailure::AlertReceived(u8::from(*description))
            }
            rustls::Error::PeerIncompatible(_) => TlsFailure::Incompatible,
            rustls::Error::DecryptError => TlsFailure::Decrypt,
            _ => TlsFailure::Protocol,
        }
    }
}

impl CertificateProblem {
    fn from_rustls(error: &CertificateError) -> CertificateProblem {
        match error {
            CertificateError::UnknownIssuer => CertificateProblem::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                CertificateProblem::WrongName
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => CertificateProblem::OutsideValidity,
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                CertificateProblem::WrongUsage
            }
            #[allow(deprecated)]
            CertificateError::BadSignature
            | CertificateError::UnsupportedSignatureAlgorithm
            | CertificateError::UnsupportedSignatureAlgorithmContext { .. } => {
                CertificateProblem::BadSignature
            }
            _ => CertificateProblem::Other,
        }
    }
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsFailure::NotTls => {
                f.write_str("tls: first record does not look like a TLS handshake")
            }
            TlsFailure::NoCertificate => f.write_str("tls: client didn't provide a certificate"),
            // Go 1.19's texts (nats-server 2.9.10's build): the client side names no step.
            TlsFailure::BadCertificate(problem) => write!(
                f,
                "tls: failed to verify client certificate: x509: {}",
                problem.reason()
            ),
            TlsFailure::BadServerCertificate(problem) => write!(f, "x509: {}", problem.reason()),
            TlsFailure::AlertReceived(code) => match alert_name(*code) {
                Some(name) => write!(f, "remote error: tls: {name}"),
                None => write!(f, "remote error: tls: alert({code})"),
            },
            TlsFailure::Incompatible => {
                f.write_str("tls: no protocol version or cipher suite supported by both sides")
            }
            TlsFailure::Decrypt => f.write_str("local error: tls: bad record MAC"),
            TlsFailure::Protocol => f.write_str("tls: protocol error"),
        }
    }
}

impl CertificateProblem {
    /// Go's x509 wording (without the names Go lists for a wrong name).
    fn reason(self) -> &'static str {
        match self {
            CertificateProblem::UnknownIssuer => "certificate signed by unknown authority",
            CertificateProblem::WrongName => "certificate is not valid for the requested name",
            CertificateProblem::OutsideValidity => "certificate has expired or is not yet valid",
            CertificateProblem::WrongUsage => "certificate specifies an incompatible key usage",
            CertificateProblem::BadSignature => "certificate signature is invalid",
            CertificateProblem::Other => "certificate is not valid",
        }
    }
}

fn alert_name(code: u8) -> Option<&'static str> {
    ALERT_NAMES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, name)| *name)
}

/// What a completed handshake agreed on, in nats-server's log vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsHandshake {
    /// "1.2" or "1.3".
    pub protocol_version: &'static str,
    /// IANA name, e.g. "TLS_AES_128_GCM_SHA256".
    pub cipher_suite: &'static str,
}
/// rustls spells TLS 1.3 suites `TLS13_AES_128_GCM_SHA256`; IANA and Go say
/// `TLS_AES_128_GCM_SHA256`. TLS 1.2 names are the same in both.
pub(super) fn iana_suite_name(rustls_name: &'static str) -> &'static str {
    match rustls_name {
        "TLS13_AES_128_GCM_SHA256" => "TLS_AES_128_GCM_SHA256",
        "TLS13_AES_256_GCM_SHA384" => "TLS_AES_256_GCM_SHA384",
        "TLS13_CHACHA20_POLY1305_SHA256" => "TLS_CHACHA20_POLY1305_SHA256",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_like_go() {
        assert_eq!(
            TlsFailure::NotTls.to_string(),
            "tls: first record does not look like a TLS handshake"
        );
        assert_eq!(
            TlsFailure::NoCertificate.to_string(),
            "tls: client didn't provide a certificate"
        );
        assert_eq!(
            TlsFailure::BadCertificate(CertificateProblem::UnknownIssuer).to_string(),
            "tls: failed to verify client certificate: x509: certificate signed by unknown \
             authority"
        );
        assert_eq!(
            TlsFailure::AlertReceived(42).to_string(),
            "remote error: tls: bad certificate"
        );
        assert_eq!(
            TlsFailure::AlertReceived(200).to_string(),
            "remote error: tls: alert(200)"
        );
        assert_eq!(
            TlsFailure::from_rustls(
                &rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA),
                false
            ),
            TlsFailure::AlertReceived(48)
        );
        assert_eq!(
            TlsFailure::from_rustls(
                &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                false
            ),
            TlsFailure::BadCertificate(CertificateProblem::UnknownIssuer)
        );
        // The dialling side: the server's certificate, in Go 1.19's words.
        let failure = TlsFailure::from_rustls(
            &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
            true,
        );
        assert_eq!(
            failure,
            TlsFailure::BadServerCertificate(CertificateProblem::UnknownIssuer)
        );
        assert_eq!(
            failure.to_string(),
            "x509: certificate signed by unknown authority"
        );
    }

    #[test]
    fn tls13_suite_names_are_iana_names() {
        assert_eq!(
            iana_suite_name("TLS13_AES_128_GCM_SHA256"),
            "TLS_AES_128_GCM_SHA256"
        );
        assert_eq!(
            iana_suite_name("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        );
    }
}
