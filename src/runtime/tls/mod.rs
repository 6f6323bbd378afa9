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
//! A session is the server side (`Io::start_tls`, `Io::start_tls_with`, `Io::offer_tls`) or
//! the client side (`Io::start_tls_client`, for connections this server dialled); both are
//! pumped by the same code. Files: `config.rs` (loading the PEM files into shareable
//! configurations), `failure.rs` (what a session reports, in Go's words), this one (the
//! session over the connection's buffers).
//!
//! Must not: call `on_data` for a connection that is closing or paused (decrypted bytes
//! wait in the session until `resume_reading`), or emit anything after a fatal alert.

mod config;
mod failure;

use std::io::{self, BufRead, IoSlice, Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection, ServerConnection};

use super::core_state::{ConnectionState, CoreState};
use super::outbound::{ChunkPool, Outbound};
use super::{CloseReason, ConnId, Handler, Io};

pub use config::{TlsClientConfig, TlsLoadError, TlsServerConfig};
pub use failure::{CertificateProblem, TlsFailure, TlsHandshake};

/// Bytes of the core's scratch buffer for decrypted input: one full TLS record, so one
/// `on_data` call per record at most.
pub const PLAINTEXT_SCRATCH_BYTES: usize = 16 * 1024;

/// Plaintext chunks handed to rustls in one vectored write.
const TAIL_SLICES_PER_WRITE: usize = 16;

/// One connection's TLS session. Boxed in the connection, so plain connections pay one
/// pointer.
///
/// Output: the handler writes plaintext into the connection's outbound queue as on any
/// connection (`Io::write` does not look at TLS). Everything appended since the last
/// encryption is the queue's plaintext tail; `encrypt` swaps it for records before any
/// send is planned, at the flush, so the kernel only ever sees records.
pub(super) struct TlsState {
    /// The server or the client side.
    session: Connection,
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
    fn new(mut session: Connection, outbound: &Outbound, offered: bool) -> TlsState {
        // Unlimited: rustls's buffers are drained into the outbound queue right away, which
        // the handler bounds (its max_pending); a limit here would only make writes short.
        session.set_buffer_limit(None);
        TlsState {
            session,
            encrypted_up_to: outbound.written_total(),
            header_bytes_checked: 0,
            offered,
            established: false,
            failed: false,
            peer_closed: false,
        }
    }

    /// Whether this is the client side (we dialled).
    fn is_client(&self) -> bool {
        matches!(self.session, Connection::Client(_))
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
            .map_or("unknown", failure::iana_suite_name);
        TlsHandshake {
            protocol_version,
            cipher_suite,
        }
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

/// Makes `conn` a TLS server connection with `config`: from now on its input is decrypted
/// before `on_data` and its output encrypted. Output queued before stays plain and goes
/// first. With `offered`, the client's first byte decides (see [`receive`]).
pub(super) fn start_server(
    state: &mut CoreState,
    conn: ConnId,
    config: &TlsServerConfig,
    offered: bool,
) -> bool {
    let session = ServerConnection::new(Arc::clone(&config.config)).map(Connection::Server);
    install(state, conn, session, offered)
}

/// Makes `conn` the client side of a TLS session with the server named `server_name` (a
/// DNS name or an IP address, which its certificate must name): the ClientHello leaves at
/// this turn's flush; plaintext written before the handshake completes is held by rustls
/// and sent encrypted right after it.
pub(super) fn start_client(
    state: &mut CoreState,
    conn: ConnId,
    config: &TlsClientConfig,
    server_name: &str,
) -> bool {
    let name = match ServerName::try_from(server_name.to_string()) {
        Ok(name) => name,
        Err(error) => {
            crate::error!("runtime: TLS server name {server_name:?}: {error}");
            return false;
        }
    };
    let session = ClientConnection::new(Arc::clone(&config.config), name).map(Connection::Client);
    let started = install(state, conn, session, false);
    if started {
        // The ClientHello is queued in the session: the flush encrypts and sends it.
        state.mark_dirty(conn.slot as usize);
    }
    started
}

/// Puts a new session on `conn` (open, not TLS yet); a session rustls refused closes it.
fn install(
    state: &mut CoreState,
    conn: ConnId,
    session: Result<Connection, rustls::Error>,
    offered: bool,
) -> bool {
    let Some(connection) = state.connection_mut(conn) else {
        return false;
    };
    if connection.state != ConnectionState::Open || connection.tls.is_some() {
        return false;
    }
    match session {
        Ok(session) => {
            let tls = TlsState::new(session, &connection.outbound, offered);
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
        connections,
        pool,
        websocket_engines,
        ..
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
        None => {
            let client = tls.is_client();
            tls.session.process_new_packets().map_err(|error| {
                crate::debug!("runtime: {peer}: TLS error: {error}");
                TlsFailure::from_rustls(&error, client)
            })
        }
    };
    // rustls's answers (handshake flights, key updates, the fatal alert of an error), after
    // the plaintext the handler wrote so far (so only when there are answers: otherwise the
    // plaintext waits for the flush and shares records with what follows).
    let wants_write = tls.session.wants_write();
    if wants_write {
        // Plaintext a WebSocket connection wrote becomes frames before it is encrypted.
        if let Some(websocket) = connection.websocket.as_mut() {
            websocket.frame_output(&mut connection.outbound, pool, websocket_engines);
        }
    }
    let tls = connection.tls.as_deref_mut().expect("a TLS connection");
    let wrote = wants_write && tls.encrypt(&mut connection.outbound, pool);
    if wants_write {
        if let Some(websocket) = connection.websocket.as_mut() {
            websocket.tail_replaced(&connection.outbound);
        }
    }
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
        if state.connections[slot].websocket.is_some() {
            super::websocket::receive(state, handler, slot, &mut scratch[..count]);
        } else {
            handler.on_data(&mut Io { state }, id, &scratch[..count]);
        }
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
            let session = ServerConnection::new(Arc::clone(&config.config)).unwrap();
            let mut tls = TlsState::new(Connection::Server(session), &Outbound::default(), false);
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
}
