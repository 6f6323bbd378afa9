//! TLS as a transform over the runtime's own buffers: rustls does the protocol, the core's
//! loop does all IO. No second runtime, no extra thread, no socket of rustls's own.
//!
//! ```text
//!   recv (provided buffer) ─► read_tls ─► process_new_packets ─► reader ─► scratch ─► on_data
//!   Io::write ─► outbound tail (plaintext) ═ flush ═► writer ─► write_tls ─► outbound ─► send
//! ```
//!
//! Plaintext lives in three places only: the handler's own buffers, the tail of a
//! connection's outbound queue (what it wrote this loop turn; swapped for records at the
//! flush, before any send is planned, so that many small writes share records and
//! `Io::write` stays the same for plain and TLS connections), and the core's one scratch
//! buffer, which holds decrypted input for the length of one `on_data` call. rustls keeps
//! its own record buffers (a 4 KiB receive buffer at rest, grown while a record is split
//! across reads).
//!
//! Must not: call `on_data` for a connection that is closing or paused (decrypted bytes
//! wait in the session until `resume_reading`), or emit anything after a fatal alert.

use std::io::{self, BufRead, IoSlice, Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{CertificateError, RootCertStore, ServerConfig, ServerConnection};

use super::core_state::{ConnectionState, CoreState};
use super::outbound::{ChunkPool, Outbound};
use super::{CloseReason, ConnId, Handler, Io};

/// Bytes of the core's scratch buffer for decrypted input: one full TLS record, so one
/// `on_data` call per record at most.
pub const PLAINTEXT_SCRATCH_BYTES: usize = 16 * 1024;

/// Plaintext chunks handed to rustls in one vectored write.
const TAIL_SLICES_PER_WRITE: usize = 16;

/// Where the system's CA bundle lives on Debian and its derivatives (the first file Go's
/// crypto/x509 tries); `verify` without a CA file trusts it, as nats-server does.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

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

/// A loaded, shareable server-side TLS configuration (certificate, key, client verifier).
/// Built once at start-up; every core's connections share it.
#[derive(Clone, Debug)]
pub struct TlsServerConfig {
    config: Arc<ServerConfig>,
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
        let key = PrivateKeyDer::from_pem_file(key_file).map_err(|error| {
            TlsLoadError(format!(
                "TLS key file {}: {}",
                key_file.display(),
                pem_problem(&error, "private key")
            ))
        })?;
        let client_roots = match client_ca_file {
            Some(path) => Some(read_roots(path)?),
            None => None,
        };
        let mut provider = rustls::crypto::ring::default_provider();
        // Go (nats-server) picks AES-128-GCM first on machines with AES instructions, in its
        // own order rather than the client's; so do we (`ignore_client_order` below): the
        // same suites get picked, and it is the fastest of the three.
        provider.cipher_suites.sort_by_key(|suite| {
            let name = suite.suite().as_str().unwrap_or("");
            [name.contains("AES_128"), name.contains("AES_256")]
                .iter()
                .position(|&matched| matched)
                .unwrap_or(2)
        });
        let provider = Arc::new(provider);
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
    /// The peer sent a fatal alert (its description code).
    AlertReceived(u8),
    /// No protocol version, cipher suite, key exchange group or signature scheme in common.
    Incompatible,
    /// A record failed authentication.
    Decrypt,
    /// Any other protocol error by the peer (malformed or unexpected messages).
    Protocol,
}

/// Why a client certificate was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateProblem {
    UnknownIssuer,
    /// Expired or not yet valid.
    OutsideValidity,
    WrongUsage,
    BadSignature,
    Other,
}

impl TlsFailure {
    fn from_rustls(error: &rustls::Error) -> TlsFailure {
        match error {
            rustls::Error::NoCertificatesPresented => TlsFailure::NoCertificate,
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
            TlsFailure::BadCertificate(problem) => {
                let reason = match problem {
                    CertificateProblem::UnknownIssuer => "certificate signed by unknown authority",
                    CertificateProblem::OutsideValidity => {
                        "certificate has expired or is not yet valid"
                    }
                    CertificateProblem::WrongUsage => {
                        "certificate specifies an incompatible key usage"
                    }
                    CertificateProblem::BadSignature => "certificate signature is invalid",
                    CertificateProblem::Other => "certificate is not valid",
                };
                write!(
                    f,
                    "tls: failed to verify client certificate: x509: {reason}"
                )
            }
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

/// One connection's TLS session. Boxed in the connection, so plain connections pay one
/// pointer.
///
/// Output: the handler writes plaintext into the connection's outbound queue as on any
/// connection (`Io::write` does not look at TLS). Everything appended since the last
/// encryption is the queue's plaintext tail; `encrypt` swaps it for records before any
/// send is planned, at the flush, so the kernel only ever sees records.
pub(super) struct TlsState {
    session: ServerConnection,
    /// `outbound.written_total()` right after the last encryption: bytes appended since are
    /// the plaintext tail.
    encrypted_up_to: usize,
    /// How many of the stream's first two bytes passed the plain-text client check.
    header_bytes_checked: u8,
    /// TLS is offered, not required: a first byte other than a handshake record's makes the
    /// connection plain text (`Io::offer_tls`).
    offered: bool,
    /// The handshake completed and the handler was told.
    established: bool,
    /// A fatal error or alert ended the session (or close_notify was sent): plaintext is
    /// dropped, nothing more goes through rustls.
    failed: bool,
    /// The peer sent close_notify; the connection closes once the plaintext before it is
    /// delivered.
    peer_closed: bool,
}

impl TlsState {
    /// A session whose plaintext starts after what `outbound` holds now (a plain greeting
    /// queued before stays plain).
    pub fn new(
        config: &TlsServerConfig,
        outbound: &Outbound,
        offered: bool,
    ) -> Result<TlsState, rustls::Error> {
        let mut session = ServerConnection::new(Arc::clone(&config.config))?;
        // Unlimited: rustls's buffers are drained into the outbound queue right away, which
        // the handler bounds (its max_pending); a limit here would only make writes short.
        session.set_buffer_limit(None);
        Ok(TlsState {
            session,
            encrypted_up_to: outbound.written_total(),
            header_bytes_checked: 0,
            offered,
            established: false,
            failed: false,
            peer_closed: false,
        })
    }

    /// Go's test for a plain-text client: the first record must be a handshake (22) or an
    /// alert (21), with a version major byte below 0x10. `input` continues the stream where
    /// the previous call stopped.
    fn check_first_record(&mut self, input: &[u8]) -> Result<(), TlsFailure> {
        let mut next = input.iter();
        while self.header_bytes_checked < 2 {
            let Some(&byte) = next.next() else {
                return Ok(());
            };
            let plausible = match self.header_bytes_checked {
                0 => byte == 21 || byte == 22,
                _ => byte < 0x10,
            };
            if !plausible {
                return Err(TlsFailure::NotTls);
            }
            self.header_bytes_checked += 1;
        }
        Ok(())
    }

    /// Whether the peer has sent no byte yet (the session can still be dropped).
    pub fn untouched(&self) -> bool {
        self.header_bytes_checked == 0
    }

    /// The leaf certificate the peer presented (verified, when a verifier is configured).
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        let chain = self.session.peer_certificates()?;
        chain.first().map(|certificate| certificate.as_ref())
    }

    /// Whether decrypted input or a close_notify still waits for the handler (it paused).
    pub fn has_undelivered_input(&mut self) -> bool {
        let pending = matches!(self.session.reader().fill_buf(), Ok(bytes) if !bytes.is_empty());
        pending || self.peer_closed
    }

    /// Replaces the plaintext tail of `outbound` by records, followed by any other records
    /// rustls has queued (handshake flights, alerts). Before the handshake completes,
    /// rustls keeps the plaintext and sends it right after. Returns whether records were
    /// queued.
    pub fn encrypt(&mut self, outbound: &mut Outbound, pool: &mut ChunkPool) -> bool {
        let tail = outbound.written_total().wrapping_sub(self.encrypted_up_to);
        if tail > 0 {
            if !self.failed {
                self.absorb(outbound, tail);
            }
            outbound.truncate_tail(pool, tail);
        }
        let mut wrote = false;
        while self.session.wants_write() {
            let mut sink = OutboundSink { outbound, pool };
            match self.session.write_tls(&mut sink) {
                Ok(count) if count > 0 => wrote = true,
                _ => break,
            }
        }
        self.encrypted_up_to = outbound.written_total();
        wrote
    }

    /// Hands the last `tail` bytes of `outbound` to rustls as plaintext to send.
    fn absorb(&mut self, outbound: &Outbound, tail: usize) {
        let mut slices = [IoSlice::new(&[]); TAIL_SLICES_PER_WRITE];
        let mut pending = outbound.tail_slices(tail).peekable();
        while pending.peek().is_some() {
            let mut count = 0;
            for (slot, bytes) in slices.iter_mut().zip(pending.by_ref()) {
                *slot = IoSlice::new(bytes);
                count += 1;
            }
            // Takes everything (no buffer limit); fails only after a fatal error.
            if self
                .session
                .writer()
                .write_vectored(&slices[..count])
                .is_err()
            {
                break;
            }
        }
    }

    /// Before a close that flushes: encrypt what was written and, after a completed
    /// handshake, say close_notify (as Go's `tls.Conn.Close` does). Plaintext written
    /// before the handshake completed is dropped.
    pub fn finish(&mut self, outbound: &mut Outbound, pool: &mut ChunkPool) {
        if self.established && !self.failed {
            self.encrypt(outbound, pool);
            self.session.send_close_notify();
        }
        self.failed = true;
        self.encrypt(outbound, pool);
    }

    fn handshake(&self) -> TlsHandshake {
        let protocol_version = match self.session.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "1.2",
            _ => "unknown",
        };
        let cipher_suite = self
            .session
            .negotiated_cipher_suite()
            .and_then(|suite| suite.suite().as_str())
            .map_or("unknown", iana_suite_name);
        TlsHandshake {
            protocol_version,
            cipher_suite,
        }
    }
}

/// rustls spells TLS 1.3 suites `TLS13_AES_128_GCM_SHA256`; IANA and Go say
/// `TLS_AES_128_GCM_SHA256`. TLS 1.2 names are the same in both.
fn iana_suite_name(rustls_name: &'static str) -> &'static str {
    match rustls_name {
        "TLS13_AES_128_GCM_SHA256" => "TLS_AES_128_GCM_SHA256",
        "TLS13_AES_256_GCM_SHA384" => "TLS_AES_256_GCM_SHA384",
        "TLS13_CHACHA20_POLY1305_SHA256" => "TLS_CHACHA20_POLY1305_SHA256",
        other => other,
    }
}

/// rustls writes records into the connection's outbound chunks through this.
struct OutboundSink<'a> {
    outbound: &'a mut Outbound,
    pool: &'a mut ChunkPool,
}

impl Write for OutboundSink<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.outbound.write(self.pool, bytes);
        Ok(bytes.len())
    }

    fn write_vectored(&mut self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut total = 0;
        for slice in slices {
            self.outbound.write(self.pool, slice);
            total += slice.len();
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Makes `conn` a TLS server connection: from now on its input is decrypted before
/// `on_data` and its output encrypted. Output queued before stays plain and goes first.
/// With `offered`, the client's first byte decides (see [`receive`]).
pub(super) fn start(state: &mut CoreState, conn: ConnId, offered: bool) -> bool {
    let Some(config) = state.config.tls.clone() else {
        crate::error!("runtime: start_tls without a TLS configuration");
        return false;
    };
    let Some(connection) = state.connection_mut(conn) else {
        return false;
    };
    if connection.state != ConnectionState::Open || connection.tls.is_some() {
        return false;
    }
    match TlsState::new(&config, &connection.outbound, offered) {
        Ok(tls) => {
            connection.tls = Some(Box::new(tls));
            true
        }
        Err(error) => {
            crate::error!("runtime: cannot start a TLS session: {error}");
            state.close(conn.slot as usize, CloseReason::Requested, true);
            false
        }
    }
}

/// Drops `conn`'s session if the peer has not sent a byte yet: the connection is plain
/// text again, output queued since the start included. False if it has (or is not TLS).
pub(super) fn decline(state: &mut CoreState, conn: ConnId) -> bool {
    let Some(connection) = state.connection_mut(conn) else {
        return false;
    };
    if !connection.tls.as_ref().is_some_and(|tls| tls.untouched()) {
        return false;
    }
    connection.tls = None;
    true
}

/// Feeds ciphertext received on `slot` through its session: handshake messages are
/// answered, a completed handshake is announced, plaintext goes to `on_data`, close_notify
/// and errors close the connection. `input` may hold any part of any record.
///
/// A handler that pauses reading gets no more `on_data`: decrypted bytes stay in the
/// session and the rest of `input` is held in the connection, both delivered (in order) by
/// the next call, which `resume_reading` brings about (with empty `input` if need be).
pub(super) fn receive<H: Handler>(
    state: &mut CoreState,
    handler: &mut H,
    slot: usize,
    input: &[u8],
) {
    let mut input = input;
    let id = state.connections[slot].id(slot);
    let tls = tls_of(state, slot);
    if tls.offered && tls.untouched() {
        match input.first() {
            None => return,
            // Go's test for a client that chose TLS: its first byte starts a handshake record.
            Some(&22) => tls.offered = false,
            Some(_) => {
                state.connections[slot].tls = None;
                handler.on_data(&mut Io { state }, id, input);
                return;
            }
        }
    }
    loop {
        match deliver_plaintext(state, handler, slot, id) {
            Delivery::Closed => return,
            Delivery::Paused => {
                state.connections[slot].held_input.extend_from_slice(input);
                return;
            }
            Delivery::Done => {}
        }
        let tls = tls_of(state, slot);
        if tls.peer_closed {
            // close_notify, and every byte before it delivered: answer it (Go's Close
            // does) and close.
            state.close(slot, CloseReason::PeerClosed, true);
            return;
        }
        if input.is_empty() || !feed(state, handler, slot, &mut input) {
            return;
        }
    }
}

/// The session of a TLS connection that is known to exist.
fn tls_of(state: &mut CoreState, slot: usize) -> &mut TlsState {
    state.connections[slot]
        .tls
        .as_deref_mut()
        .expect("a TLS connection")
}

/// Gives rustls the next part of `input` and processes it: queues its answers, announces a
/// completed handshake. Returns false if the connection was closed (after sending any
/// alert rustls queued).
fn feed<H: Handler>(
    state: &mut CoreState,
    handler: &mut H,
    slot: usize,
    input: &mut &[u8],
) -> bool {
    let CoreState {
        connections, pool, ..
    } = &mut *state;
    let connection = &mut connections[slot];
    let peer = connection.peer;
    let tls = connection.tls.as_deref_mut().expect("a TLS connection");
    let failure = if let Err(failure) = tls.check_first_record(input) {
        // Go does not answer a plain-text client at all (no alert): close, after whatever
        // plain output (INFO) is still queued.
        Some(failure)
    } else {
        match tls.session.read_tls(input) {
            Ok(count) if count > 0 => None,
            // rustls refuses input only when its buffers are full, which delivering after
            // every read prevents; treat it as the peer's protocol error.
            read => {
                crate::debug!("runtime: {peer}: TLS input refused: {read:?}");
                Some(TlsFailure::Protocol)
            }
        }
    };
    let processed = match failure {
        Some(failure) => Err(failure),
        None => tls.session.process_new_packets().map_err(|error| {
            crate::debug!("runtime: {peer}: TLS error: {error}");
            TlsFailure::from_rustls(&error)
        }),
    };
    // rustls's answers (handshake flights, key updates, the fatal alert of an error), after
    // the plaintext the handler wrote so far (so only when there are answers: otherwise the
    // plaintext waits for the flush and shares records with what follows).
    let wrote = tls.session.wants_write() && tls.encrypt(&mut connection.outbound, pool);
    let io_state = match processed {
        Ok(io_state) => io_state,
        Err(failure) => {
            tls.failed = true;
            state.close(slot, CloseReason::Tls(failure), true);
            return false;
        }
    };
    tls.peer_closed |= io_state.peer_has_closed();
    let newly_established = !tls.established && !tls.session.is_handshaking();
    let handshake = newly_established.then(|| tls.handshake());
    tls.established |= newly_established;
    if wrote || newly_established {
        state.mark_dirty(slot);
    }
    if let Some(handshake) = handshake {
        let id = state.connections[slot].id(slot);
        handler.on_tls_established(&mut Io { state }, id, handshake);
    }
    true
}

/// How a round of plaintext delivery ended.
enum Delivery {
    /// Everything decrypted so far was delivered.
    Done,
    /// The handler paused reading; the rest waits in the session.
    Paused,
    /// The connection is closing; nothing more is delivered.
    Closed,
}

/// Hands decrypted bytes to the handler, one scratch buffer at a time, while the
/// connection stays open and reading.
fn deliver_plaintext<H: Handler>(
    state: &mut CoreState,
    handler: &mut H,
    slot: usize,
    id: ConnId,
) -> Delivery {
    let mut scratch = std::mem::take(&mut state.tls_plaintext);
    if scratch.len() < PLAINTEXT_SCRATCH_BYTES {
        scratch.resize(PLAINTEXT_SCRATCH_BYTES, 0);
    }
    let outcome = loop {
        let connection = &mut state.connections[slot];
        if connection.state != ConnectionState::Open {
            break Delivery::Closed;
        }
        if connection.paused_by_handler {
            break Delivery::Paused;
        }
        let tls = connection.tls.as_deref_mut().expect("a TLS connection");
        let count = tls.session.reader().read(&mut scratch).unwrap_or(0);
        if count == 0 {
            break Delivery::Done;
        }
        handler.on_data(&mut Io { state }, id, &scratch[..count]);
    };
    state.tls_plaintext = scratch;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_clients_are_recognised_from_the_first_two_bytes() {
        let check = |chunks: &[&[u8]]| {
            let config = test_config();
            let mut tls = TlsState::new(&config, &Outbound::default(), false).unwrap();
            chunks
                .iter()
                .try_for_each(|chunk| tls.check_first_record(chunk))
        };
        assert_eq!(check(&[b"CONNECT {}\r\n"]), Err(TlsFailure::NotTls));
        assert_eq!(check(&[b"PING\r\n"]), Err(TlsFailure::NotTls));
        assert_eq!(check(&[b"GET / HTTP/1.1\r\n"]), Err(TlsFailure::NotTls));
        // A handshake or alert record with version 3.x passes, however it is split.
        assert_eq!(check(&[&[22, 3, 1, 0, 200]]), Ok(()));
        assert_eq!(check(&[&[22], &[3], &[1, 0]]), Ok(()));
        assert_eq!(check(&[&[21, 3, 3]]), Ok(()));
        assert_eq!(check(&[&[22], &[0x47]]), Err(TlsFailure::NotTls));
        assert_eq!(check(&[&[], &[23, 3, 3]]), Err(TlsFailure::NotTls));
        // Only the first record is checked.
        assert_eq!(check(&[&[22, 3], b"anything"]), Ok(()));
    }

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
            TlsFailure::from_rustls(&rustls::Error::AlertReceived(
                rustls::AlertDescription::UnknownCA
            )),
            TlsFailure::AlertReceived(48)
        );
        assert_eq!(
            TlsFailure::from_rustls(&rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )),
            TlsFailure::BadCertificate(CertificateProblem::UnknownIssuer)
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

    /// A throwaway self-signed configuration for the unit tests.
    fn test_config() -> TlsServerConfig {
        let directory = std::env::temp_dir().join(format!(
            "ringmq-tls-unit-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&directory).unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert_file = directory.join("cert.pem");
        let key_file = directory.join("key.pem");
        std::fs::write(&cert_file, certified.cert.pem()).unwrap();
        std::fs::write(&key_file, certified.signing_key.serialize_pem()).unwrap();
        let config = TlsServerConfig::load(&cert_file, &key_file, None, false).unwrap();
        std::fs::remove_dir_all(&directory).unwrap();
        config
    }

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
