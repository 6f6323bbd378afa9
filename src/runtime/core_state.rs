//! One core's state as the handler sees it through `Io`: connections, outbound queues,
//! timers, mailboxes. Holds no ring: everything that needs a submission is recorded here
//! (dirty, closing, arm lists, pointer-free entries) and submitted by the event loop at the
//! end of the turn.

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use io_uring::squeue;
use slab::Slab;

use super::connect::Dial;
use super::mailbox::{Inbox, Outbox, RecordKind};
use super::outbound::{ChunkPool, Outbound, SendVectors};
use super::ring::{self, OpKind, Token};
use super::ring_fd::RingFdSlot;
use super::timer::{TimerTarget, Timers};
use super::tls::TlsState;
use super::websocket::{Engines, WebsocketState};
use super::{CloseReason, ConnId, RuntimeConfig};

/// State shared by all cores (and the `RuntimeHandle`): atomics only, no locks on the data
/// path.
pub struct Shared {
    pub cores: usize,
    pub shutdown: AtomicBool,
    /// Core 0 stops accepting and closes the listener (lame duck mode); connections stay.
    pub stop_accepting: AtomicBool,
    /// Each core's ring fd, for MSG_RING wake-ups: published before the core first parks,
    /// withdrawn before its ring closes; a waker leases it (see `ring_fd.rs`).
    pub ring_fds: Vec<RingFdSlot>,
    /// The core is (about to be) blocked in the kernel waiting for completions.
    pub parked: Vec<AtomicBool>,
    /// The core waits for peers to return mail blocks; a receiver that returns blocks wakes
    /// it if it is parked.
    pub awaiting_returns: Vec<AtomicBool>,
    /// Live connections per core, including hand-offs in flight (for least-loaded choice).
    pub live_connections: Vec<AtomicUsize>,
    /// Cores that have left their loop; all must have left before inboxes are drained for
    /// the last time (so no hand-off arrives after the final drain).
    exited: Mutex<usize>,
    exited_changed: Condvar,
}

/// How long a core waits at exit for the others before draining its inboxes anyway (a core
/// that panicked never arrives).
pub const EXIT_WAIT_MAX: Duration = Duration::from_secs(10);

impl Shared {
    pub fn new(cores: usize) -> Shared {
        Shared {
            cores,
            shutdown: AtomicBool::new(false),
            stop_accepting: AtomicBool::new(false),
            ring_fds: (0..cores).map(|_| RingFdSlot::default()).collect(),
            parked: (0..cores).map(|_| AtomicBool::new(false)).collect(),
            awaiting_returns: (0..cores).map(|_| AtomicBool::new(false)).collect(),
            live_connections: (0..cores).map(|_| AtomicUsize::new(0)).collect(),
            exited: Mutex::new(0),
            exited_changed: Condvar::new(),
        }
    }

    /// Records that one core left its loop.
    pub fn note_exited(&self) {
        let mut exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        *exited += 1;
        self.exited_changed.notify_all();
    }

    /// Waits until every core has left its loop (bounded by [`EXIT_WAIT_MAX`]).
    pub fn wait_all_exited(&self) {
        let deadline = Instant::now() + EXIT_WAIT_MAX;
        let mut exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        while *exited < self.cores {
            let now = Instant::now();
            if now >= deadline {
                crate::warn!("runtime: a core did not exit within {:?}", EXIT_WAIT_MAX);
                return;
            }
            exited = match self.exited_changed.wait_timeout(exited, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    pub fn total_connections(&self) -> usize {
        self.live_connections
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .sum()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    Open,
    /// Closing after queued output is sent (bounded by the write deadline / shutdown flush).
    Draining {
        reason: CloseReason,
        since: Instant,
    },
    /// Dialled with `Io::connect`; the connect (or its cancel) has not completed. Not yet
    /// the handler's connection: no reads, writes are ignored.
    Connecting,
    /// Cancelling operations; freed when the last one completes.
    Closing {
        reason: CloseReason,
    },
}

pub struct Connection {
    pub fd: RawFd,
    /// Counted in `live_connections` (a client connection); connections from the local
    /// listener and dialled ones are not.
    pub counted: bool,
    pub generation: u32,
    pub peer: SocketAddr,
    pub state: ConnectionState,
    pub paused_by_handler: bool,
    /// Data arrived while the core was blocked on mail; resumed when mail drains.
    pub stalled_by_mail: bool,
    /// A multishot recv is armed (its final completion has not arrived).
    pub recv_armed: bool,
    /// A cancel of the recv is in flight.
    pub recv_cancel_in_flight: bool,
    /// The slot is in the arm list.
    pub arm_queued: bool,
    pub send_in_flight: bool,
    /// Last time the in-flight send started or made progress (write deadline).
    pub send_progress_at: Instant,
    /// The slot is in the dirty list.
    pub dirty: bool,
    /// Cancel of every op on the fd has been submitted.
    pub teardown_started: bool,
    /// Operations whose final completion has not arrived; the slot is freed at zero.
    pub in_flight: u32,
    /// The peer's FIN arrived while bytes were held; close once they are delivered.
    pub end_of_stream: bool,
    /// Bytes received while reading was paused (delivered on resume; rare path).
    pub held_input: Vec<u8>,
    pub outbound: Outbound,
    pub vectors: Box<SendVectors>,
    /// The TLS session once the handler called `start_tls`; `outbound` then holds records.
    pub tls: Option<Box<TlsState>>,
    /// The WebSocket framing once the handler called `start_websocket` (under TLS if both).
    pub websocket: Option<Box<WebsocketState>>,
    /// A dialled connection until its connect succeeds: the address the kernel reads, the
    /// handler's tag, the deadline (see `connect.rs`). Boxed: the slab may move the
    /// connection, the address must not move while the connect is in flight.
    pub dial: Option<Box<Dial>>,
}

impl Connection {
    pub fn id(&self, slot: usize) -> ConnId {
        ConnId {
            slot: slot as u32,
            generation: self.generation,
        }
    }

    pub fn token(&self, kind: OpKind, slot: usize) -> Token {
        Token::new(kind, slot as u32, self.generation)
    }
}

pub struct CoreState {
    pub core: usize,
    pub config: RuntimeConfig,
    pub shared: Arc<Shared>,
    pub now: Instant,
    pub connections: Slab<Connection>,
    /// Next generation per slot index; bumped when a slot is freed.
    pub slot_generations: Vec<u32>,
    pub pool: ChunkPool,
    pub dirty: Vec<usize>,
    pub closing: Vec<usize>,
    pub to_arm: Vec<usize>,
    pub to_resume: Vec<usize>,
    pub stalled: Vec<usize>,
    /// Dialled connections whose connect is submitted at the flush.
    pub to_connect: Vec<ConnId>,
    /// Entries without user pointers (cancels, wakes), submitted at the end of the turn.
    pub pending_entries: Vec<squeue::Entry>,
    /// Indexed by peer core; None at our own index.
    pub outboxes: Vec<Option<Outbox>>,
    pub inboxes: Vec<Option<Inbox>>,
    /// Per peer core: the handler asked not to be given that peer's mail for now (its
    /// blocks stay queued, so the peer's mail backpressure slows its publishers).
    pub mail_paused: Vec<bool>,
    pub timers: Timers,
    /// Too many mail bytes outstanding to some peer: reading is paused on this core.
    pub mail_blocked: bool,
    pub write_scan_armed: bool,
    pub shutting_down: bool,
    /// Decrypted input of one TLS record, lent to `on_data` (empty until the first TLS
    /// connection; see `tls::PLAINTEXT_SCRATCH_BYTES`).
    pub tls_plaintext: Vec<u8>,
    /// The WebSocket deflate/inflate engines and scratch buffers (made on first use).
    pub websocket_engines: Engines,
    /// File operations submitted by the handler and not yet finished (`file_io.rs`).
    pub files: super::file_io::Files,
}

impl CoreState {
    /// The connection `id` names, if it is still alive.
    pub fn connection(&self, id: ConnId) -> Option<&Connection> {
        let connection = self.connections.get(id.slot as usize)?;
        (connection.generation == id.generation).then_some(connection)
    }

    pub fn connection_mut(&mut self, id: ConnId) -> Option<&mut Connection> {
        let connection = self.connections.get_mut(id.slot as usize)?;
        (connection.generation == id.generation).then_some(connection)
    }

    /// Takes ownership of an accepted fd: a new slab slot, or None when this core is full or
    /// shutting down (the fd is then closed). A `local` connection (local listener) is not
    /// counted in `live_connections`; any other was counted by the hand-off.
    pub fn insert_connection(&mut self, fd: RawFd, local: bool) -> Option<ConnId> {
        let limit = self.config.connections_per_core as usize;
        if self.shutting_down || self.connections.len() >= limit {
            if !self.shutting_down {
                crate::warn!("runtime: core {} is full ({limit} connections)", self.core);
            }
            close_fd(fd);
            if !local {
                self.shared.live_connections[self.core].fetch_sub(1, Ordering::Relaxed);
            }
            return None;
        }
        let peer = peer_address(fd);
        Some(self.insert_slot(fd, !local, peer, ConnectionState::Open, None))
    }

    /// Puts a connection into a free slot (the caller checked the per-core limit).
    pub fn insert_slot(
        &mut self,
        fd: RawFd,
        counted: bool,
        peer: SocketAddr,
        state: ConnectionState,
        dial: Option<Box<Dial>>,
    ) -> ConnId {
        let entry = self.connections.vacant_entry();
        let slot = entry.key();
        if self.slot_generations.len() <= slot {
            self.slot_generations.resize(slot + 1, 0);
        }
        let generation = self.slot_generations[slot];
        entry.insert(Connection {
            fd,
            counted,
            generation,
            peer,
            state,
            paused_by_handler: false,
            stalled_by_mail: false,
            recv_armed: false,
            recv_cancel_in_flight: false,
            arm_queued: false,
            send_in_flight: false,
            send_progress_at: self.now,
            dirty: false,
            teardown_started: false,
            in_flight: 0,
            end_of_stream: false,
            held_input: Vec::new(),
            outbound: Outbound::default(),
            vectors: SendVectors::new(),
            tls: None,
            websocket: None,
            dial,
        });
        ConnId {
            slot: slot as u32,
            generation,
        }
    }

    pub fn reading_allowed(&self, connection: &Connection) -> bool {
        connection.state == ConnectionState::Open
            && !connection.paused_by_handler
            && !self.mail_blocked
    }

    /// Puts the slot on the arm list if it should have a recv and has none; while mail
    /// backpressure holds, remembers it for when the peers have drained.
    pub fn queue_arm(&mut self, slot: usize) {
        let Some(connection) = self.connections.get_mut(slot) else {
            return;
        };
        let wants_recv = connection.state == ConnectionState::Open
            && !connection.end_of_stream
            && !connection.paused_by_handler
            && !connection.recv_armed;
        if !wants_recv {
            return;
        }
        if self.mail_blocked {
            if !connection.stalled_by_mail {
                connection.stalled_by_mail = true;
                self.stalled.push(slot);
            }
        } else if !connection.arm_queued {
            connection.arm_queued = true;
            self.to_arm.push(slot);
        }
    }

    /// Reading is not allowed right now: if mail backpressure is the reason, remember the
    /// slot so it resumes when the peers have drained (a handler pause is undone by
    /// `resume_reading` instead).
    pub fn defer_reading(&mut self, slot: usize) {
        let mail_blocked = self.mail_blocked;
        let Some(connection) = self.connections.get_mut(slot) else {
            return;
        };
        let open = connection.state == ConnectionState::Open;
        if mail_blocked && open && !connection.stalled_by_mail {
            connection.stalled_by_mail = true;
            self.stalled.push(slot);
        }
    }

    /// Cancels the slot's multishot recv (pause, drain, mail backpressure).
    pub fn stop_reading(&mut self, slot: usize) {
        let Some(connection) = self.connections.get_mut(slot) else {
            return;
        };
        if connection.recv_armed && !connection.recv_cancel_in_flight {
            let target = connection.token(OpKind::Recv, slot).encode();
            let token = connection.token(OpKind::RecvCancel, slot);
            connection.recv_cancel_in_flight = true;
            connection.in_flight += 1;
            self.pending_entries
                .push(ring::cancel_user_data_entry(target, token));
        }
    }

    pub fn mark_dirty(&mut self, slot: usize) {
        let Some(connection) = self.connections.get_mut(slot) else {
            return;
        };
        if !connection.dirty {
            connection.dirty = true;
            self.dirty.push(slot);
        }
    }

    /// Begins closing: with `flush` and queued output, drain first; otherwise tear down.
    pub fn close(&mut self, slot: usize, reason: CloseReason, flush: bool) {
        let now = self.now;
        let Some(connection) = self.connections.get_mut(slot) else {
            return;
        };
        match connection.state {
            ConnectionState::Closing { .. } => return,
            ConnectionState::Draining { .. } if flush => return,
            _ => {}
        }
        if let Some(websocket) = connection.websocket.as_mut() {
            if flush && connection.state == ConnectionState::Open {
                websocket.frame_output(
                    &mut connection.outbound,
                    &mut self.pool,
                    &mut self.websocket_engines,
                );
            }
        }
        if let Some(tls) = connection.tls.as_mut() {
            if flush && connection.state == ConnectionState::Open {
                tls.finish(&mut connection.outbound, &mut self.pool);
                if let Some(websocket) = connection.websocket.as_mut() {
                    websocket.tail_replaced(&connection.outbound);
                }
            }
        }
        if flush && !connection.outbound.is_empty() {
            connection.state = ConnectionState::Draining { reason, since: now };
            self.stop_reading(slot);
            self.mark_dirty(slot);
            self.arm_write_scan();
        } else {
            self.teardown(slot, reason);
        }
    }

    /// Marks the connection closing; the event loop cancels its operations and frees it.
    pub fn teardown(&mut self, slot: usize, reason: CloseReason) {
        let Some(connection) = self.connections.get_mut(slot) else {
            return;
        };
        if matches!(connection.state, ConnectionState::Closing { .. }) {
            return;
        }
        connection.state = ConnectionState::Closing { reason };
        self.closing.push(slot);
    }

    /// Makes sure the write deadline is checked while sends are outstanding.
    pub fn arm_write_scan(&mut self) {
        if self.write_scan_armed {
            return;
        }
        self.write_scan_armed = true;
        let at = self.now + write_scan_interval(self.config.write_deadline);
        self.timers.set(at, TimerTarget::WriteDeadlineScan);
    }

    /// Appends handler mail for `to`; pauses reading when the peer is too far behind.
    pub fn send_mail(&mut self, to: usize, kind: RecordKind, parts: &[&[u8]]) {
        assert!(
            to < self.shared.cores && to != self.core,
            "mail to core {to} from itself"
        );
        let outbox = self.outboxes[to]
            .as_mut()
            .expect("an outbox for every peer");
        outbox.append(kind, parts);
        if outbox.backlog_bytes() > self.config.mailbox_bytes && !self.mail_blocked {
            self.mail_blocked = true;
        }
    }
}

/// How often the write deadline is checked: a quarter of it (a stuck send is cut within
/// 1.25 x the deadline), at least every millisecond.
pub fn write_scan_interval(write_deadline: Duration) -> Duration {
    (write_deadline / 4).max(Duration::from_millis(1))
}

pub fn close_fd(fd: RawFd) {
    // SAFETY: `fd` is owned by the runtime (accepted by us) and closed exactly once, after
    // every io_uring operation on it has completed.
    let result = unsafe { libc::close(fd) };
    debug_assert_eq!(result, 0, "close({fd})");
}

/// `SO_PEERNAME` in asm-generic/socket.h (x86, Arm, RISC-V; the libc crate does not export
/// it for Linux).
const SO_PEERNAME: libc::c_int = 28;

/// The peer of an accepted socket, even one the peer has already reset (as accept(2) itself
/// reports it; unspecified only if the kernel has no address at all).
pub fn peer_address(fd: RawFd) -> SocketAddr {
    let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
    // SAFETY: zeroed sockaddr_storage is a valid out-buffer; getpeername writes at most
    // `length` bytes into it.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut length = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: pointers to live locals with the right sizes.
    let result = unsafe {
        libc::getpeername(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut length,
        )
    };
    if result == 0 {
        return socket_address(&storage).unwrap_or(unknown);
    }
    // A reset connection has no peer for getpeername (ENOTCONN), but SO_PEERNAME asks the
    // way accept does and still answers. It wants a length no larger than the address's:
    // IPv6's first, then IPv4's.
    for size in [
        std::mem::size_of::<libc::sockaddr_in6>(),
        std::mem::size_of::<libc::sockaddr_in>(),
    ] {
        let mut length = size as libc::socklen_t;
        // SAFETY: `storage` is larger than `length` bytes; getsockopt writes at most that.
        let result = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                SO_PEERNAME,
                (&mut storage as *mut libc::sockaddr_storage).cast(),
                &mut length,
            )
        };
        if result == 0 {
            return socket_address(&storage).unwrap_or(unknown);
        }
    }
    unknown
}

/// The IPv4 or IPv6 address a getpeername/getsockname call filled in.
fn socket_address(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let address: &libc::sockaddr_in = unsafe { &*(storage as *const _ as *const _) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(address.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(address.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let address: &libc::sockaddr_in6 = unsafe { &*(storage as *const _ as *const _) };
            let ip = std::net::Ipv6Addr::from(address.sin6_addr.s6_addr);
            Some(SocketAddr::from((ip, u16::from_be(address.sin6_port))))
        }
        _ => None,
    }
}

/// The local address of a connected socket (None if it cannot be had).
pub fn local_address(fd: RawFd) -> Option<SocketAddr> {
    // SAFETY: zeroed sockaddr_storage is a valid out-buffer; getsockname writes at most
    // `length` bytes into it.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut length = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: pointers to live locals with the right sizes.
    let result = unsafe {
        libc::getsockname(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut length,
        )
    };
    if result != 0 {
        return None;
    }
    socket_address(&storage)
}

/// Turns off Nagle: the runtime already batches writes per loop turn.
pub fn set_no_delay(fd: RawFd) {
    let enable: libc::c_int = 1;
    // SAFETY: a pointer to a live c_int with its exact size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&enable as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// Stops both directions so in-flight operations on the socket finish promptly.
pub fn shutdown_socket(fd: RawFd) {
    // SAFETY: `fd` is an open socket owned by the runtime; shutdown touches no memory.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}
