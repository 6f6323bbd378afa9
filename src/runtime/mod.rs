//! Per-core io_uring machinery. Knows nothing about NATS; holds every `unsafe` block of the
//! crate (each with a `// SAFETY:` comment) behind a safe API.
//!
//! CONTRACT (used by `broker` and `main`):
//! - [`start`] binds nothing itself: it takes a bound, listening `TcpListener`, spawns one
//!   thread per core (`ringmq-core-N`), each with its own ring, provided-buffer ring, timer
//!   wheel and mailboxes, and calls `make_handler(core)` on that thread.
//! - Core 0 runs a multishot accept and hands each connection to the core with the fewest
//!   live connections (ties round-robin). That core calls [`Handler::on_open`].
//! - [`start_with`] may add a *local* listener (the monitoring port): core 0 accepts on it
//!   too, but keeps those connections itself, does not count them as live connections
//!   ([`Io::total_connections`]), and opens them with [`Handler::on_open_local`]. Otherwise
//!   they are connections like any other. A *leaf* listener works the same way, its
//!   connections opened with [`Handler::on_open_leaf`].
//! - Received bytes arrive in [`Handler::on_data`] as a slice of a provided buffer, valid only
//!   during the call (the buffer goes back to the ring in the same loop turn).
//! - Output: [`Io::write`] appends to the connection's outbound queue (pooled chunks; no
//!   allocation in steady state). Once per loop turn every connection with queued output and
//!   no send in flight gets one send/writev. Exactly one send in flight per connection.
//! - A send that makes no progress for `write_deadline` closes the connection with
//!   [`CloseReason::WriteDeadline`]. Outbound size policing (max_pending) is the caller's.
//! - [`Io::close`] closes a connection; with `flush = true` queued output is sent first
//!   (bounded by the write deadline). [`Handler::on_close`] runs exactly once per opened
//!   connection, whoever closed it, after which its `ConnId` is dead (stale ids are ignored
//!   by every `Io` method).
//! - Mail: [`Io::send_mail`] appends one record (the concatenation of `parts`) for another
//!   core. Records are delivered in order per (sender, receiver) pair, in
//!   [`Handler::on_mail`], batched: a batch is published at the end of the sender's loop turn
//!   (or when a block fills) and a parked receiver is woken with MSG_RING. When more than
//!   `mailbox_bytes` are outstanding to one peer, the sender stops reading from its own
//!   connections until the peer has drained (records are never dropped).
//! - Outbound: [`Io::connect`] dials a TCP address from the calling core and returns the
//!   connection's id at once; the connect runs on this core's ring with a timeout. The dial
//!   ends in exactly one [`Handler::on_connected`] (then the connection is like an accepted
//!   one, and `on_close` ends it) or [`Handler::on_connect_failed`] (refused, timed out,
//!   cancelled by [`Io::close`], shutdown). Dialled connections stay on their core and are
//!   not counted in [`Io::total_connections`]. Reconnecting is the caller's policy.
//! - Timers: [`Io::set_timer`] schedules [`Handler::on_timer`] with a token; millisecond
//!   resolution; `cancel_timer` is idempotent.
//! - TLS: [`Io::start_tls`] makes a connection a TLS server connection (rustls, driven by
//!   this loop over the same buffers; [`Io::start_tls_with`] with a configuration of the
//!   caller's, [`Io::start_tls_client`] the client side of a session on a dialled
//!   connection): output queued before it stays plain, later output is
//!   encrypted at the flush (once per loop turn), input is decrypted before
//!   [`Handler::on_data`].
//!   [`Handler::on_tls_established`] reports the completed handshake; a TLS failure closes
//!   the connection with [`CloseReason::Tls`], a peer's close_notify with
//!   [`CloseReason::PeerClosed`]. A flushing close sends close_notify.
//! - Shutdown: [`RuntimeHandle::shutdown`] stops accepting, calls [`Handler::on_shutdown`] on
//!   each core, flushes queued output for up to `shutdown_flush`, closes every connection
//!   (with `on_close`), and ends the threads; [`RuntimeHandle::join`] waits for them.
//!
//! Files: `ring.rs` (setup flags, `user_data` tokens, submission that survives a full SQ;
//! owns the buffer ring), `buffer_ring.rs` (provided receive buffers), `ring_fd.rs` (ring
//! fds for MSG_RING wake-ups, withdrawn before a ring closes), `outbound.rs` (pooled send
//! chunks),
//! `connect.rs` (outbound connections),
//! `mailbox.rs` (SPSC block queues between cores; its safe channel API is public for
//! `benches/mailbox.rs`), `timer.rs` (deadline heap), `core_state.rs` (what `Io` reaches),
//! `event_loop.rs` (the turn) with `accept.rs`, `mail_turn.rs` and `connection_io.rs` (its
//! accepts, mail, and connection IO), `tls/` (TLS sessions over those buffers, both sides;
//! its configurations and failures), `probe.rs`,
//! `signals.rs`. Mail still unpublished when a core exits is dropped (only at shutdown);
//! an fd handed to a core that has already stopped is closed.

#![allow(unsafe_code)]

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod accept;
mod buffer_ring;
mod connect;
mod connection_io;
mod core_state;
mod event_loop;
mod file_io;
// Public only for `benches/mailbox.rs` (a standalone core pair); see its module docs.
mod mail_turn;
pub mod mailbox;
mod outbound;
mod probe;
mod ring;
mod ring_fd;
pub mod signals;
mod start;
pub mod sys;
#[cfg(test)]
mod teardown_tests;
mod timer;
mod tls;
mod websocket;

pub use connect::{ConnectError, CONNECT_TIMEOUT_DEFAULT};
use core_state::{CoreState, Shared};
pub use file_io::{FileDone, FileOp, FileResult};
use mailbox::RecordKind;
pub use start::{start, start_with, Listeners};
use timer::TimerTarget;
pub use tls::{
    CertificateProblem, TlsClientConfig, TlsFailure, TlsHandshake, TlsLoadError, TlsServerConfig,
};
pub use websocket::{WebsocketFault, WebsocketSettings};

/// A connection owned by one core: slab slot + generation (a reused slot has a new
/// generation, so a stale id is recognised and ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub slot: u32,
    pub generation: u32,
}

/// A scheduled timer; cancel with [`Io::cancel_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(pub u64);

/// Why a connection ended, as seen by the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed its side (EOF) or reset the connection.
    PeerClosed,
    /// A socket error other than reset (errno).
    IoError(i32),
    /// A send made no progress for `write_deadline`.
    WriteDeadline,
    /// The handler called [`Io::close`].
    Requested,
    /// The server is shutting down.
    Shutdown,
    /// The TLS session failed (see [`Io::start_tls`]); any alert was sent first.
    Tls(TlsFailure),
    /// The WebSocket framing failed (see [`Io::start_websocket`]); a close frame with the
    /// fault's status and text was sent first.
    Websocket(WebsocketFault),
}

/// Sizes and bounds of the runtime (filled from `config::Limits`).
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub cores: usize,
    /// Provided receive buffers per core (power of two) and their size.
    pub recv_buffers: u16,
    pub recv_buffer_size: u32,
    /// Connections one core may own.
    pub connections_per_core: u32,
    /// Outstanding mail bytes to one peer before reading pauses.
    pub mailbox_bytes: usize,
    pub write_deadline: Duration,
    /// How long shutdown waits for queued output to drain.
    pub shutdown_flush: Duration,
    /// Server TLS settings for [`Io::start_tls`]; None: the runtime speaks plain TCP only.
    pub tls: Option<TlsServerConfig>,
}

/// io_uring is missing or unusable; the text names the cause and the fix.
#[derive(Debug, Clone)]
pub struct ProbeError(pub String);

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProbeError {}

/// Checks that this kernel and process can run the runtime (io_uring enabled, the opcodes and
/// setup flags we need). Called once before [`start`].
pub fn probe() -> Result<(), ProbeError> {
    probe::probe()
}

/// Callbacks from one core's loop. Runs on that core's thread only; need not be `Send`.
pub trait Handler {
    /// A new connection now owned by this core.
    fn on_open(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr);
    /// A new connection from the local listener (core 0 only; see [`Listeners::local`]).
    /// Handlers that start without one never see this; the default closes the connection.
    fn on_open_local(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        let _ = peer;
        io.close(conn, false);
    }
    /// A new connection from the leaf listener (core 0 only; see [`Listeners::leaf`]); the
    /// default closes it.
    fn on_open_leaf(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        let _ = peer;
        io.close(conn, false);
    }
    /// A new connection from the route listener (core 0 only; see [`Listeners::route`]);
    /// the default closes it.
    fn on_open_route(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        let _ = peer;
        io.close(conn, false);
    }
    /// A new connection from the WebSocket listener (see [`Listeners::websocket`]), placed
    /// on the least-loaded core like a client; the default closes it.
    fn on_open_websocket(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        let _ = peer;
        io.close(conn, false);
    }
    /// A file operation submitted with [`Io::submit_file`] finished (on a later turn);
    /// `tag` is the handler's. The default ignores it.
    fn on_file_done(&mut self, io: &mut Io<'_>, tag: u64, result: FileResult) {
        let _ = (io, tag, result);
    }
    /// Bytes received on `conn` (never empty).
    fn on_data(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]);
    /// `conn` is gone; called exactly once per opened connection.
    fn on_close(&mut self, io: &mut Io<'_>, conn: ConnId, reason: CloseReason);
    /// One record from core `from`, in send order.
    fn on_mail(&mut self, io: &mut Io<'_>, from: usize, record: &[u8]);
    /// A timer set with [`Io::set_timer`] fired.
    fn on_timer(&mut self, io: &mut Io<'_>, token: u64);
    /// End of a loop turn, before output is flushed and mail is published.
    fn on_turn_end(&mut self, io: &mut Io<'_>);
    /// The server is shutting down; connections are still open.
    fn on_shutdown(&mut self, io: &mut Io<'_>);
    /// `conn`'s TLS handshake completed (see [`Io::start_tls`]); plaintext input follows in
    /// `on_data`, and output written before now is sent.
    fn on_tls_established(&mut self, io: &mut Io<'_>, conn: ConnId, handshake: TlsHandshake) {
        let _ = (io, conn, handshake);
    }
    /// A connection dialled with [`Io::connect`] is established (`peer` is the address
    /// dialled); from now on it is a connection like any other (`on_data`, `on_close`).
    /// The default closes it.
    fn on_connected(&mut self, io: &mut Io<'_>, conn: ConnId, tag: u64, peer: SocketAddr) {
        let _ = (tag, peer);
        io.close(conn, false);
    }
    /// A dial ended without a connection (refused, timed out, closed by the handler, the
    /// runtime shutting down); `conn` is dead and no `on_close` follows.
    fn on_connect_failed(&mut self, io: &mut Io<'_>, conn: ConnId, tag: u64, error: ConnectError) {
        let _ = (io, conn, tag, error);
    }
}

/// What a handler may do during a callback.
pub struct Io<'a> {
    state: &'a mut CoreState,
}

impl Io<'_> {
    /// This core's index, 0-based.
    pub fn core(&self) -> usize {
        self.state.core
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.state.shared.cores
    }

    /// A handle another thread can use to wake this core (see [`CoreWaker`]).
    pub fn waker(&self) -> CoreWaker {
        CoreWaker {
            shared: Arc::clone(&self.state.shared),
            core: self.state.core,
        }
    }

    /// Time at the start of this loop turn (cheap).
    pub fn now(&self) -> Instant {
        self.state.now
    }

    /// Appends bytes to `conn`'s outbound queue. Ignored if `conn` is dead or closing.
    pub fn write(&mut self, conn: ConnId, bytes: &[u8]) {
        self.write_parts(conn, &[bytes]);
    }

    /// Appends several slices as one unit (e.g. MSG line, payload, CRLF).
    pub fn write_parts(&mut self, conn: ConnId, parts: &[&[u8]]) {
        let state = &mut *self.state;
        let Some(connection) = state.connections.get_mut(conn.slot as usize) else {
            return;
        };
        if connection.generation != conn.generation
            || connection.state != core_state::ConnectionState::Open
        {
            return;
        }
        // On a TLS connection these bytes are plaintext until the flush encrypts them.
        for part in parts {
            connection.outbound.write(&mut state.pool, part);
        }
        state.mark_dirty(conn.slot as usize);
    }

    /// Bytes queued for `conn` and not yet acknowledged by the kernel (0 if dead); for TLS,
    /// plaintext not yet encrypted plus records not yet sent.
    pub fn pending_bytes(&self, conn: ConnId) -> usize {
        self.state
            .connection(conn)
            .map_or(0, |connection| connection.outbound.queued_bytes())
    }

    /// Bytes of `conn`'s output the kernel has taken so far (wrapping; 0 for a connection
    /// that is gone): unchanged between two calls means the peer read nothing meanwhile.
    pub fn sent_bytes(&self, conn: ConnId) -> usize {
        self.state
            .connection(conn)
            .map_or(0, |connection| connection.outbound.sent_total())
    }

    /// Submits a file operation on this core's ring at this turn's flush; its result comes
    /// to [`Handler::on_file_done`] with `tag`. The runtime keeps the operation's buffers
    /// until then; shutdown waits for operations in flight.
    pub fn submit_file(&mut self, op: FileOp, tag: u64) {
        file_io::queue(self.state, op, tag);
    }

    /// Makes `conn` a WebSocket connection (after the handler wrote its 101 answer, which
    /// goes out as it is): input from now on is decoded from frames before `on_data` (ping,
    /// close and framing faults are answered by the runtime), output written from now on is
    /// framed at the flush. Under TLS if `conn` has a session. False if `conn` is not open.
    pub fn start_websocket(&mut self, conn: ConnId, settings: WebsocketSettings) -> bool {
        self.state.connection(conn).is_some()
            && websocket::start(self.state, conn.slot as usize, settings)
    }

    /// Queues a WebSocket close frame on `conn` with `status` and `body` (cut to fit), sent
    /// after the output written before it; typically right before [`Io::close`] with flush.
    /// Only a connection's first close frame is sent; ignored on other connections.
    pub fn websocket_close(&mut self, conn: ConnId, status: u16, body: &str) {
        if self.state.connection(conn).is_some() {
            websocket::queue_close(self.state, conn.slot as usize, status, body);
        }
    }

    /// Whether `conn` is a WebSocket connection.
    pub fn is_websocket(&self, conn: ConnId) -> bool {
        self.state
            .connection(conn)
            .is_some_and(|connection| connection.websocket.is_some())
    }

    /// Replaces the TLS settings [`Io::start_tls`] uses from now on (configuration reload);
    /// sessions already started keep theirs. None: new connections stay plain text.
    pub fn set_tls(&mut self, tls: Option<TlsServerConfig>) {
        self.state.config.tls = tls;
    }

    /// Replaces the write deadline (configuration reload): the next scan applies it to every
    /// connection, including sends already stalled.
    pub fn set_write_deadline(&mut self, deadline: Duration) {
        self.state.config.write_deadline = deadline;
    }

    /// Makes `conn` the server side of a TLS session, typically right after queuing a
    /// plain-text greeting (which is still sent in plain text, first). From then on its
    /// input is decrypted before `on_data` and its output encrypted; the handler's view
    /// stays plaintext. Returns false if the runtime has no TLS configuration, `conn` is
    /// not open, or it already speaks TLS. No handshake deadline: the caller sets a timer.
    pub fn start_tls(&mut self, conn: ConnId) -> bool {
        self.start_runtime_tls(conn, false)
    }

    /// Like [`Io::start_tls`], with `config` instead of the runtime's (a port with a
    /// certificate of its own, such as the leaf port).
    pub fn start_tls_with(&mut self, conn: ConnId, config: &TlsServerConfig) -> bool {
        tls::start_server(self.state, conn, config, false)
    }

    /// Makes `conn` (typically one this core dialled) the client side of a TLS session
    /// with the server named `server_name` (a DNS name or an IP address; its certificate
    /// must name it unless `config` is insecure). The ClientHello leaves at this turn's
    /// flush; output queued before stays plain and goes first; output written from now on
    /// is encrypted and, until the handshake completes, held by the session. Then as for
    /// [`Io::start_tls`]. False if `conn` is not open, already speaks TLS, or
    /// `server_name` is not a valid name (logged). No handshake deadline: the caller sets
    /// a timer.
    pub fn start_tls_client(
        &mut self,
        conn: ConnId,
        config: &TlsClientConfig,
        server_name: &str,
    ) -> bool {
        tls::start_client(self.state, conn, config, server_name)
    }

    fn start_runtime_tls(&mut self, conn: ConnId, offered: bool) -> bool {
        let Some(config) = self.state.config.tls.clone() else {
            crate::error!("runtime: start_tls without a TLS configuration");
            return false;
        };
        tls::start_server(self.state, conn, &config, offered)
    }

    /// Like [`Io::start_tls`], but TLS is offered, not required: the peer's first byte
    /// decides. A TLS handshake record's (0x16) keeps the session; any other byte drops it
    /// and that byte and the rest reach `on_data` as they came (plain text both ways).
    pub fn offer_tls(&mut self, conn: ConnId) -> bool {
        self.start_runtime_tls(conn, true)
    }

    /// Drops `conn`'s TLS session if the peer has not sent a byte yet: the connection is
    /// plain text again, output written since the start included (e.g. to fall back to a
    /// plain greeting and start again). False, and no change, once the peer has sent
    /// anything or if `conn` has no session.
    pub fn decline_tls(&mut self, conn: ConnId) -> bool {
        tls::decline(self.state, conn)
    }

    /// The certificate `conn`'s TLS peer presented (DER, the leaf of its chain), once the
    /// handshake has received it; verified when the TLS configuration verifies clients.
    /// None for plain connections and peers without one.
    pub fn peer_certificate(&self, conn: ConnId) -> Option<&[u8]> {
        self.state
            .connection(conn)?
            .tls
            .as_deref()?
            .peer_certificate()
    }

    /// `conn`'s local address (one syscall; for log lines).
    pub fn local_address(&self, conn: ConnId) -> Option<SocketAddr> {
        let connection = self.state.connection(conn)?;
        core_state::local_address(connection.fd)
    }

    /// Dials `address` from this core: a new connection owned by this core for its whole
    /// life, not counted as a client connection. The connect is submitted at this turn's
    /// flush; exactly one of [`Handler::on_connected`] or [`Handler::on_connect_failed`]
    /// follows, with `tag`, and [`ConnectError::TimedOut`] once `timeout` has passed
    /// (millisecond resolution). Until `on_connected`, writes to the id are ignored and
    /// [`Io::close`] cancels the dial ([`ConnectError::Cancelled`]). An `Err` here (the
    /// core is full or shutting down, no socket) means no callback follows.
    pub fn connect(
        &mut self,
        address: SocketAddr,
        tag: u64,
        timeout: Duration,
    ) -> Result<ConnId, ConnectError> {
        connect::dial(self.state, address, tag, timeout)
    }

    /// Closes `conn`; with `flush`, queued output is sent first. `on_close` follows with
    /// [`CloseReason::Requested`] (for a dial still connecting, `on_connect_failed` with
    /// [`ConnectError::Cancelled`]). Idempotent.
    pub fn close(&mut self, conn: ConnId, flush: bool) {
        if self.state.connection(conn).is_some() {
            self.state
                .close(conn.slot as usize, CloseReason::Requested, flush);
        }
    }

    /// Stops delivering `on_data` for `conn` until [`Io::resume_reading`] (bytes stay in the
    /// socket; TCP pushes back on the peer).
    pub fn pause_reading(&mut self, conn: ConnId) {
        let Some(connection) = self.state.connection_mut(conn) else {
            return;
        };
        connection.paused_by_handler = true;
        self.state.stop_reading(conn.slot as usize);
    }

    pub fn resume_reading(&mut self, conn: ConnId) {
        let Some(connection) = self.state.connection_mut(conn) else {
            return;
        };
        if connection.paused_by_handler {
            connection.paused_by_handler = false;
            self.state.to_resume.push(conn.slot as usize);
        }
    }

    /// Stops handing this core mail from core `from` (records, hand-offs and all) until
    /// [`Io::resume_mail_from`]. Its blocks stay queued; once `mailbox_bytes` are queued,
    /// `from` stops reading its connections, so its publishers are slowed by TCP. Ignored
    /// during shutdown. The handler must resume within a bounded time.
    pub fn pause_mail_from(&mut self, from: usize) {
        if let Some(paused) = self.state.mail_paused.get_mut(from) {
            *paused = from != self.state.core;
        }
    }

    pub fn resume_mail_from(&mut self, from: usize) {
        if let Some(paused) = self.state.mail_paused.get_mut(from) {
            *paused = false;
        }
    }

    /// Queues one record for core `to` (≠ this core); see the module contract.
    pub fn send_mail(&mut self, to: usize, parts: &[&[u8]]) {
        self.state.send_mail(to, RecordKind::Mail, parts);
    }

    /// Schedules `on_timer(token)` at `at` (millisecond resolution).
    pub fn set_timer(&mut self, at: Instant, token: u64) -> TimerId {
        TimerId(self.state.timers.set(at, TimerTarget::Handler(token)))
    }

    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.state.timers.cancel(timer.0);
    }

    /// Live connections on all cores (for max_connections).
    pub fn total_connections(&self) -> usize {
        self.state.shared.total_connections()
    }
}

/// Controls the running cores.
pub struct RuntimeHandle {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl RuntimeHandle {
    /// Begins the shutdown sequence; returns at once.
    pub fn shutdown(&self) {
        if !self.shared.shutdown.swap(true, Ordering::SeqCst) {
            wake_all(&self.shared);
        }
    }

    /// Closes the listener (core 0 cancels its accept first); live connections are not
    /// touched. Returns at once; connections already accepted may still arrive.
    pub fn stop_accepting(&self) {
        if !self.shared.stop_accepting.swap(true, Ordering::SeqCst) {
            wake_all(&self.shared);
        }
    }

    /// Wakes every core for one loop turn, so that handlers see state changed from outside
    /// (their `on_turn_end` runs).
    pub fn wake(&self) {
        wake_all(&self.shared);
    }

    /// Live connections on all cores.
    pub fn total_connections(&self) -> usize {
        self.shared.total_connections()
    }

    /// Live connections per core, by core index.
    pub fn connections_by_core(&self) -> Vec<usize> {
        self.shared
            .live_connections
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect()
    }

    /// Waits for every core thread to finish (a core's panic is re-raised here).
    pub fn join(self) {
        let mut panic = None;
        for thread in self.threads {
            if let Err(payload) = thread.join() {
                panic.get_or_insert(payload);
            }
        }
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
    }
}

/// Wakes every core from outside the cores (their rings accept MSG_RING from any ring): a
/// short-lived ring of our own posts one message to each.
/// Wakes one core from any thread, for one loop turn: the handler's `on_turn_end` runs, so
/// it sees what the waking thread left for it (publish that first, then wake). Every call
/// posts one MSG_RING, parked core or not (a turn that finds nothing new costs a few µs), so
/// no wake-up can be lost between a core's last check and its park. Meant for rare events
/// (a finished bcrypt check): each call sets up a small ring of its own. Cores wake each
/// other through the mailboxes instead.
#[derive(Clone)]
pub struct CoreWaker {
    shared: Arc<Shared>,
    core: usize,
}

impl std::fmt::Debug for CoreWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreWaker")
            .field("core", &self.core)
            .finish()
    }
}

impl CoreWaker {
    /// A waker bound to no running core (for tests of code that hands wakers around).
    #[cfg(test)]
    pub fn detached() -> CoreWaker {
        CoreWaker {
            shared: Arc::new(Shared::new(1)),
            core: 0,
        }
    }

    pub fn wake(&self) {
        post_wakes(&self.shared, Some(self.core));
    }
}

fn wake_all(shared: &Shared) {
    post_wakes(shared, None);
}

/// Posts a MSG_RING wake-up to one core (`Some`) or to every core, from a small ring made
/// for the purpose (wake-ups from outside the cores are rare: a signal, a reload, a finished
/// bcrypt check; a ring costs microseconds and holds no descriptor afterwards). Completions
/// are not waited for: a woken core may exit and close its ring before the kernel reports
/// our MSG_RING done, which can take long. Dropping the ring is fine.
fn post_wakes(shared: &Shared, only: Option<usize>) {
    let mut ring = match io_uring::IoUring::new(8) {
        Ok(ring) => ring,
        Err(error) => {
            crate::error!("runtime: cannot create a ring to wake the cores: {error}");
            return;
        }
    };
    let mut leased = Vec::new();
    for (core, slot) in shared.ring_fds.iter().enumerate() {
        if only.is_some_and(|only| only != core) {
            continue;
        }
        // A core that has exited (or is closing its ring) has no fd any more.
        let Some(ring_fd) = slot.acquire() else {
            continue;
        };
        leased.push(core);
        let entry = ring::wake_entry(ring_fd);
        // SAFETY: MSG_RING carries no user pointers.
        while unsafe { ring.submission().push(&entry) }.is_err() {
            let _ = ring.submit();
        }
    }
    let _ = ring.submit();
    // Submitted (the kernel holds the target rings now), or never to be: this ring is
    // dropped without another submit.
    for core in leased {
        shared.ring_fds[core].release();
    }
}
