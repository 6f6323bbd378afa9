//! Per-core io_uring machinery. Knows nothing about NATS; holds every `unsafe` block of the
//! crate (each with a `// SAFETY:` comment) behind a safe API.
//!
//! CONTRACT (used by `broker` and `main`):
//! - [`start`] binds nothing itself: it takes a bound, listening `TcpListener`, spawns one
//!   thread per core (`ringmq-core-N`), each with its own ring, provided-buffer ring, timer
//!   wheel and mailboxes, and calls `make_handler(core)` on that thread.
//! - Core 0 runs a multishot accept and hands each connection to the core with the fewest
//!   live connections (ties round-robin). That core calls [`Handler::on_open`].
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
//! - Timers: [`Io::set_timer`] schedules [`Handler::on_timer`] with a token; millisecond
//!   resolution; `cancel_timer` is idempotent.
//! - Shutdown: [`RuntimeHandle::shutdown`] stops accepting, calls [`Handler::on_shutdown`] on
//!   each core, flushes queued output for up to `shutdown_flush`, closes every connection
//!   (with `on_close`), and ends the threads; [`RuntimeHandle::join`] waits for them.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

pub mod signals;

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
    todo!("runtime helper")
}

/// Callbacks from one core's loop. Runs on that core's thread only; need not be `Send`.
pub trait Handler {
    /// A new connection now owned by this core.
    fn on_open(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr);
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
}

/// What a handler may do during a callback.
pub struct Io<'a> {
    _core: std::marker::PhantomData<&'a mut ()>,
}

impl Io<'_> {
    /// This core's index, 0-based.
    pub fn core(&self) -> usize {
        todo!("runtime helper")
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        todo!("runtime helper")
    }

    /// Time at the start of this loop turn (cheap).
    pub fn now(&self) -> Instant {
        todo!("runtime helper")
    }

    /// Appends bytes to `conn`'s outbound queue. Ignored if `conn` is dead or closing.
    pub fn write(&mut self, conn: ConnId, bytes: &[u8]) {
        let _ = (conn, bytes);
        todo!("runtime helper")
    }

    /// Appends several slices as one unit (e.g. MSG line, payload, CRLF).
    pub fn write_parts(&mut self, conn: ConnId, parts: &[&[u8]]) {
        let _ = (conn, parts);
        todo!("runtime helper")
    }

    /// Bytes queued for `conn` and not yet acknowledged by the kernel (0 if dead).
    pub fn pending_bytes(&self, conn: ConnId) -> usize {
        let _ = conn;
        todo!("runtime helper")
    }

    /// Closes `conn`; with `flush`, queued output is sent first. `on_close` follows with
    /// [`CloseReason::Requested`]. Idempotent.
    pub fn close(&mut self, conn: ConnId, flush: bool) {
        let _ = (conn, flush);
        todo!("runtime helper")
    }

    /// Stops delivering `on_data` for `conn` until [`Io::resume_reading`] (bytes stay in the
    /// socket; TCP pushes back on the peer).
    pub fn pause_reading(&mut self, conn: ConnId) {
        let _ = conn;
        todo!("runtime helper")
    }

    pub fn resume_reading(&mut self, conn: ConnId) {
        let _ = conn;
        todo!("runtime helper")
    }

    /// Queues one record for core `to` (≠ this core); see the module contract.
    pub fn send_mail(&mut self, to: usize, parts: &[&[u8]]) {
        let _ = (to, parts);
        todo!("runtime helper")
    }

    /// Schedules `on_timer(token)` at `at` (millisecond resolution).
    pub fn set_timer(&mut self, at: Instant, token: u64) -> TimerId {
        let _ = (at, token);
        todo!("runtime helper")
    }

    pub fn cancel_timer(&mut self, timer: TimerId) {
        let _ = timer;
        todo!("runtime helper")
    }

    /// Live connections on all cores (for max_connections).
    pub fn total_connections(&self) -> usize {
        todo!("runtime helper")
    }
}

/// Controls the running cores.
pub struct RuntimeHandle {
    _p: (),
}

impl RuntimeHandle {
    /// Begins the shutdown sequence; returns at once.
    pub fn shutdown(&self) {
        todo!("runtime helper")
    }

    /// Waits for every core thread to finish.
    pub fn join(self) {
        todo!("runtime helper")
    }
}

/// Starts the cores; see the module contract.
pub fn start<H, F>(
    config: RuntimeConfig,
    listener: TcpListener,
    make_handler: F,
) -> std::io::Result<RuntimeHandle>
where
    H: Handler + 'static,
    F: Fn(usize) -> H + Send + Sync + 'static,
{
    let _ = (config, listener, make_handler);
    todo!("runtime helper")
}
