//! One core's loop: drain inboxes → reap and dispatch completions → fire timers → resume
//! paused readers → finish closes → `on_turn_end` → flush (publish buffers, arm recvs, one
//! send per dirty connection, publish mail, wake peers) → submit, or park until the next
//! timer when there is nothing to do.
//!
//! Invariant: a connection's slot (and with it its outbound chunks and iovecs, which
//! in-flight sends point into) is freed only when `in_flight` is zero, i.e. when the final
//! completion of every operation submitted for it has been reaped.

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use io_uring::cqueue;

use super::core_state::{self, ConnectionState, CoreState};
use super::mailbox::{self, RecordKind};
use super::outbound::{self, SendPlan};
use super::ring::{self, OpKind, Ring, Token};
use super::timer::TimerTarget;
use super::tls;
use super::{CloseReason, Handler, Io, Listeners};

/// Buffer group id of the core's provided-buffer ring.
pub const BUFFER_GROUP: u16 = 0;
/// Mail blocks taken from one peer per turn, so one busy peer cannot starve the loop.
pub const INBOX_BLOCKS_PER_TURN: usize = 64;
/// Completion batches reaped per turn before other work gets a go.
pub const COMPLETION_BATCHES_PER_TURN: usize = 16;
/// Capacity of a paused connection's held-input buffer that is kept for its next pause;
/// a larger buffer is freed after delivery.
pub const HELD_INPUT_KEEP_BYTES: usize = 256 * 1024;
/// How long the acceptor waits after running out of file descriptors.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Core 0's multishot accepts, one per listener.
struct Acceptor {
    /// Indexed by the slot of the listener's accept token: the client listener is slot 0,
    /// the local listener, if any, slot 1.
    listeners: Vec<AcceptListener>,
    backoff_pending: bool,
    /// EMFILE/ENFILE was logged for the current burst.
    exhaustion_logged: bool,
    /// Round-robin start for ties in the least-loaded choice.
    next_core: usize,
}

/// One listening socket and its multishot accept.
struct AcceptListener {
    /// `None` once lame duck mode has closed it.
    socket: Option<TcpListener>,
    /// Connections stay on this core and are not counted as live connections (see
    /// `Listeners::local`).
    local: bool,
    armed: bool,
    /// Lame duck: its accept is being cancelled; the socket closes once it has ended.
    stopping: bool,
}

pub struct EventLoop<'ring, H: Handler> {
    /// Owns the provided-buffer ring (`self.ring.buffers()`), and unregisters it when dropped.
    ring: Ring<'ring>,
    /// Recvs that ended with ENOBUFS this turn. One alone is a deep socket drained until the
    /// ring ran dry (its bytes wait in the socket until the re-arm); two or more mean the
    /// circulating set is too small for the connections with input, so it grows.
    buffers_starved: u32,
    /// Lame duck mode has stopped the client listener (core 0 only acts on it).
    clients_stopped: bool,
    /// Recvs that ended with ENOBUFS since start: logged (-D) when the core stops, so that
    /// a test can tell that the ring ran dry and was recovered from.
    buffers_starved_total: u64,
    state: CoreState,
    handler: H,
    acceptor: Option<Acceptor>,
    completions: Vec<cqueue::Entry>,
    fired: Vec<TimerTarget>,
    /// Peers whose ring fd this turn's wake-ups leased, released after the next submit.
    wake_leases: Vec<usize>,
}

impl<'ring, H: Handler> EventLoop<'ring, H> {
    pub fn new(
        ring: Ring<'ring>,
        state: CoreState,
        handler: H,
        listeners: Option<Listeners>,
    ) -> Self {
        let acceptor = listeners.map(|listeners| {
            let client = AcceptListener {
                socket: Some(listeners.clients),
                local: false,
                armed: false,
                stopping: false,
            };
            let local = listeners.local.map(|socket| AcceptListener {
                socket: Some(socket),
                local: true,
                armed: false,
                stopping: false,
            });
            Acceptor {
                listeners: std::iter::once(client).chain(local).collect(),
                backoff_pending: false,
                exhaustion_logged: false,
                next_core: 0,
            }
        });
        EventLoop {
            ring,
            buffers_starved: 0,
            clients_stopped: false,
            buffers_starved_total: 0,
            state,
            handler,
            acceptor,
            completions: Vec::with_capacity(ring::COMPLETION_BATCH_MAX),
            fired: Vec::new(),
            wake_leases: Vec::new(),
        }
    }

    /// Runs until shutdown has closed every connection, then drains and tears down.
    pub fn run(mut self) {
        self.arm_accept();
        loop {
            self.state.now = Instant::now();
            if !self.state.shutting_down && self.state.shared.shutdown.load(Ordering::Acquire) {
                self.begin_shutdown();
            }
            if !self.clients_stopped && self.state.shared.stop_accepting.load(Ordering::Acquire) {
                self.stop_accepting();
            }
            let mut busy = self.drain_inboxes();
            busy |= self.process_completions();
            self.fire_timers();
            self.process_resumes();
            self.process_closing();
            self.handler.on_turn_end(&mut Io {
                state: &mut self.state,
            });
            self.process_closing();
            self.flush();
            if self.state.shutting_down && self.is_finished() {
                break;
            }
            self.submit_or_park(busy);
        }
        self.finish();
    }

    // ---- accept (core 0) ----

    fn arm_accept(&mut self) {
        let Some(acceptor) = self.acceptor.as_mut() else {
            return;
        };
        if acceptor.backoff_pending || self.state.shutting_down {
            return;
        }
        for (index, listener) in acceptor.listeners.iter_mut().enumerate() {
            if listener.armed || listener.stopping {
                continue;
            }
            let Some(socket) = listener.socket.as_ref() else {
                continue;
            };
            listener.armed = true;
            let entry = ring::accept_entry(socket.as_raw_fd(), index as u32);
            // SAFETY: a multishot accept carries no user pointers.
            unsafe { self.ring.push(&entry) };
        }
    }

    /// Lame duck: cancels the client listener's multishot accept and closes the socket once
    /// it has ended (at once if none is armed), so the kernel refuses new clients. The
    /// local (monitoring) listener stays.
    fn stop_accepting(&mut self) {
        self.clients_stopped = true;
        let Some(acceptor) = self.acceptor.as_mut() else {
            return;
        };
        for (index, listener) in acceptor.listeners.iter_mut().enumerate() {
            if listener.local {
                continue;
            }
            listener.stopping = true;
            if listener.armed {
                let target = Token::new(OpKind::Accept, index as u32, 0).encode();
                let token = Token::new(OpKind::AcceptCancel, index as u32, 0);
                self.state
                    .pending_entries
                    .push(ring::cancel_user_data_entry(target, token));
            } else {
                listener.socket = None;
            }
        }
    }

    fn on_accept_complete(&mut self, index: u32, result: i32, flags: u32) {
        let Some(acceptor) = self.acceptor.as_mut() else {
            return;
        };
        let Some(listener) = acceptor.listeners.get_mut(index as usize) else {
            return;
        };
        if !ring::more(flags) {
            listener.armed = false;
        }
        let local = listener.local;
        if result >= 0 {
            acceptor.exhaustion_logged = false;
            if local {
                self.open_connection(result, true);
            } else {
                self.hand_off(result);
            }
        } else if result == -libc::EMFILE || result == -libc::ENFILE {
            self.on_accept_exhausted(index, result, flags);
        } else if result != -libc::ECANCELED {
            crate::debug!("runtime: accept failed: errno {}", -result);
        }
        if let Some(listener) = self
            .acceptor
            .as_mut()
            .and_then(|acceptor| acceptor.listeners.get_mut(index as usize))
        {
            if listener.stopping && !listener.armed {
                // Dropping the socket closes it: the kernel refuses new connections.
                listener.socket = None;
            }
        }
        self.arm_accept();
    }

    /// Out of file descriptors: existing connections keep working; accepting resumes after
    /// a back-off (logged once per burst).
    fn on_accept_exhausted(&mut self, index: u32, result: i32, flags: u32) {
        let now = self.state.now;
        let Some(acceptor) = self.acceptor.as_mut() else {
            return;
        };
        if !acceptor.exhaustion_logged {
            acceptor.exhaustion_logged = true;
            crate::error!(
                "runtime: accept failed (errno {}): out of file descriptors",
                -result
            );
        }
        if ring::more(flags) {
            let target = Token::new(OpKind::Accept, index, 0).encode();
            let token = Token::new(OpKind::AcceptCancel, index, 0);
            self.state
                .pending_entries
                .push(ring::cancel_user_data_entry(target, token));
        }
        if !acceptor.backoff_pending {
            acceptor.backoff_pending = true;
            self.state
                .timers
                .set(now + ACCEPT_BACKOFF, TimerTarget::AcceptBackoff);
        }
    }

    /// Gives the fd to the core with the fewest live connections (ties round-robin).
    fn hand_off(&mut self, fd: i32) {
        core_state::set_no_delay(fd);
        let shared = self.state.shared.clone();
        let acceptor = self.acceptor.as_mut().expect("only core 0 accepts");
        let mut target = acceptor.next_core % shared.cores;
        let mut fewest = usize::MAX;
        for offset in 0..shared.cores {
            let core = (acceptor.next_core + offset) % shared.cores;
            let live = shared.live_connections[core].load(Ordering::Relaxed);
            if live < fewest {
                fewest = live;
                target = core;
            }
        }
        acceptor.next_core = (target + 1) % shared.cores;
        shared.live_connections[target].fetch_add(1, Ordering::Relaxed);
        if target == self.state.core {
            self.open_connection(fd, false);
        } else {
            let fd_bytes = fd.to_le_bytes();
            self.state
                .send_mail(target, RecordKind::NewConnection, &[&fd_bytes]);
        }
    }

    /// Takes a connection into this core; `local` ones come from the local listener.
    fn open_connection(&mut self, fd: i32, local: bool) {
        let Some(id) = self.state.insert_connection(fd, local) else {
            return;
        };
        let peer = self.state.connections[id.slot as usize].peer;
        let mut io = Io {
            state: &mut self.state,
        };
        if local {
            self.handler.on_open_local(&mut io, id, peer);
        } else {
            self.handler.on_open(&mut io, id, peer);
        }
        self.state.queue_arm(id.slot as usize);
    }

    // ---- mail ----

    /// Delivers mail from every peer (bounded per turn). Returns true if work was left.
    fn drain_inboxes(&mut self) -> bool {
        let mut work_left = false;
        for peer in 0..self.state.shared.cores {
            if peer == self.state.core {
                continue;
            }
            let mut returned = false;
            for _ in 0..INBOX_BLOCKS_PER_TURN {
                // The handler may pause this peer's mail while a block is delivered: the
                // rest waits (a pause overshoots by at most one block).
                if self.mail_paused(peer) {
                    break;
                }
                let inbox = self.state.inboxes[peer].as_mut().expect("inbox per peer");
                let Some(block) = inbox.pop() else { break };
                self.deliver_block(peer, &block);
                let inbox = self.state.inboxes[peer].as_mut().expect("inbox per peer");
                inbox.give_back(block);
                returned = true;
            }
            let inbox = self.state.inboxes[peer].as_ref().expect("inbox per peer");
            work_left |= !inbox.is_empty() && !self.mail_paused(peer);
            if returned {
                self.wake_if_awaiting_returns(peer);
            }
        }
        work_left
    }

    /// Whether the handler paused `peer`'s mail (never while shutting down: the last mail
    /// must be drained).
    fn mail_paused(&self, peer: usize) -> bool {
        self.state.mail_paused[peer] && !self.state.shutting_down
    }

    fn deliver_block(&mut self, peer: usize, block: &[u8]) {
        for (kind, body) in mailbox::records(block) {
            match kind {
                RecordKind::Mail => self.handler.on_mail(
                    &mut Io {
                        state: &mut self.state,
                    },
                    peer,
                    body,
                ),
                RecordKind::NewConnection => {
                    let fd = i32::from_le_bytes(body.try_into().expect("fd record is 4 bytes"));
                    self.open_connection(fd, false);
                }
            }
        }
    }

    fn wake_if_awaiting_returns(&mut self, peer: usize) {
        fence(Ordering::SeqCst);
        if self.state.shared.awaiting_returns[peer].load(Ordering::SeqCst) {
            self.wake(peer);
        }
    }

    /// Wakes `peer` with MSG_RING if it is parked (one wake per park). The peer's ring fd
    /// stays leased until the submit that carries the MSG_RING (see `submit`).
    fn wake(&mut self, peer: usize) {
        let shared = &self.state.shared;
        if shared.parked[peer].swap(false, Ordering::SeqCst) {
            // None: the peer has exited; nothing to wake.
            if let Some(ring_fd) = shared.ring_fds[peer].acquire() {
                self.state.pending_entries.push(ring::wake_entry(ring_fd));
                self.wake_leases.push(peer);
            }
        }
    }

    /// Submits without waiting, then releases the peers' ring fds leased for this turn's
    /// wake-ups: their MSG_RINGs have reached the kernel, which holds the target rings now.
    fn submit(&mut self) {
        self.ring.submit();
        self.release_wake_leases();
    }

    fn release_wake_leases(&mut self) {
        for peer in self.wake_leases.drain(..) {
            self.state.shared.ring_fds[peer].release();
        }
    }

    /// Publishes every outbox, wakes peers that got blocks, updates mail backpressure.
    /// Receivers wake us for returned blocks only while we need them (blocks waiting for
    /// room, or reading paused): request/reply traffic costs no extra wake-ups.
    fn publish_mail(&mut self) {
        let mut awaiting = false;
        let mut over_half = false;
        let half = self.state.config.mailbox_bytes / 2;
        for peer in 0..self.state.shared.cores {
            let Some(outbox) = self.state.outboxes[peer].as_mut() else {
                continue;
            };
            let published = outbox.publish();
            awaiting |= outbox.has_pending();
            over_half |= outbox.backlog_bytes() > half;
            if published {
                fence(Ordering::SeqCst);
                self.wake(peer);
            }
        }
        if self.state.mail_blocked && !over_half {
            self.state.mail_blocked = false;
            let mut stalled = std::mem::take(&mut self.state.stalled);
            for &slot in &stalled {
                if let Some(connection) = self.state.connections.get_mut(slot) {
                    connection.stalled_by_mail = false;
                }
                self.state.to_resume.push(slot);
            }
            // Hand the capacity back: backpressure comes and goes, its lists must not
            // allocate each time.
            stalled.clear();
            self.state.stalled = stalled;
        }
        let core = self.state.core;
        awaiting |= self.state.mail_blocked;
        self.state.shared.awaiting_returns[core].store(awaiting, Ordering::SeqCst);
    }

    // ---- completions ----

    /// Reaps and dispatches completions (bounded per turn). Returns true if more may wait.
    fn process_completions(&mut self) -> bool {
        for _ in 0..COMPLETION_BATCHES_PER_TURN {
            let mut completions = std::mem::take(&mut self.completions);
            self.ring.reap(&mut completions);
            let count = completions.len();
            for completion in &completions {
                self.dispatch(
                    completion.user_data(),
                    completion.result(),
                    completion.flags(),
                );
            }
            self.completions = completions;
            if count < ring::COMPLETION_BATCH_MAX {
                return false;
            }
        }
        true
    }

    fn dispatch(&mut self, user_data: u64, result: i32, flags: u32) {
        let Some(token) = Token::decode(user_data) else {
            panic!("completion with unknown user_data {user_data:#x}");
        };
        match token.kind {
            OpKind::Accept => self.on_accept_complete(token.slot, result, flags),
            OpKind::AcceptCancel | OpKind::Wake => {}
            OpKind::WakeSent => {
                crate::debug!("runtime: MSG_RING wake failed: errno {}", -result);
            }
            OpKind::Recv => self.on_recv_complete(token, result, flags),
            OpKind::RecvCancel => self.on_connection_op_done(token, |connection| {
                connection.recv_cancel_in_flight = false;
            }),
            OpKind::Send => self.on_send_complete(token, result),
            OpKind::CloseCancel => self.on_connection_op_done(token, |_| {}),
        }
    }

    /// Whether `token` still names a live slot; a completion for a recycled slot is dropped
    /// (cannot happen while slots are freed only at `in_flight == 0`, but it is cheap).
    fn token_slot(&self, token: Token) -> Option<usize> {
        let slot = token.slot as usize;
        let connection = self.state.connections.get(slot)?;
        token.is_generation(connection.generation).then_some(slot)
    }

    /// One operation of the connection finished for good.
    fn on_connection_op_done(
        &mut self,
        token: Token,
        update: impl FnOnce(&mut core_state::Connection),
    ) {
        let Some(slot) = self.token_slot(token) else {
            return;
        };
        let connection = &mut self.state.connections[slot];
        update(connection);
        connection.in_flight -= 1;
        if connection.in_flight == 0 && matches!(connection.state, ConnectionState::Closing { .. })
        {
            self.state.closing.push(slot);
        }
    }

    fn on_recv_complete(&mut self, token: Token, result: i32, flags: u32) {
        if let Some(buffer_id) = ring::buffer_id(flags) {
            self.ring.buffers_mut().note_consumed();
            if result > 0 {
                self.deliver_input(token, buffer_id, result as usize);
            }
            self.ring.buffers_mut().recycle(buffer_id);
        }
        if ring::more(flags) {
            return;
        }
        let Some(slot) = self.token_slot(token) else {
            return;
        };
        self.state.connections[slot].recv_armed = false;
        let open = self.state.connections[slot].state == ConnectionState::Open;
        if open {
            match result {
                0 => self.on_end_of_stream(slot),
                error if error < 0 && error != -libc::ENOBUFS && error != -libc::ECANCELED => {
                    self.state.teardown(slot, reason_for_errno(-error))
                }
                error => {
                    if error == -libc::ENOBUFS {
                        self.buffers_starved += 1;
                        self.buffers_starved_total += 1;
                    }
                    self.state.queue_arm(slot)
                }
            }
        }
        self.on_connection_op_done(token, |_| {});
    }

    /// The peer closed its side. Bytes held while reading was paused were sent before the
    /// FIN, so they are delivered (on resume) before the connection closes.
    fn on_end_of_stream(&mut self, slot: usize) {
        let connection = &mut self.state.connections[slot];
        let undelivered_tls = connection
            .tls
            .as_mut()
            .is_some_and(|tls| tls.has_undelivered_input());
        if connection.held_input.is_empty() && !undelivered_tls {
            self.state.teardown(slot, CloseReason::PeerClosed);
        } else {
            connection.end_of_stream = true;
        }
    }

    /// Hands received bytes to the handler, or holds them while the handler has paused
    /// reading. Held bytes always go first, so the handler sees the stream in order.
    ///
    /// Mail backpressure only stops the recv: bytes it had already received still go to the
    /// handler. The mail bound is thereby exceeded by at most what the socket had buffered,
    /// and a publisher paused again and again allocates nothing to hold its input.
    fn deliver_input(&mut self, token: Token, buffer_id: u16, length: usize) {
        let Some(slot) = self.token_slot(token) else {
            return;
        };
        let connection = &self.state.connections[slot];
        if connection.state != ConnectionState::Open {
            return;
        }
        let data = self.ring.buffers().filled(buffer_id, length);
        let paused_by_handler = connection.paused_by_handler;
        if !paused_by_handler && connection.held_input.is_empty() {
            let id = connection.id(slot);
            if connection.tls.is_some() {
                tls::receive(&mut self.state, &mut self.handler, slot, data);
            } else {
                self.handler.on_data(
                    &mut Io {
                        state: &mut self.state,
                    },
                    id,
                    data,
                );
            }
        } else {
            self.state.connections[slot]
                .held_input
                .extend_from_slice(data);
            if !paused_by_handler {
                self.deliver_held(slot);
            }
        }
        if !self.state.reading_allowed(&self.state.connections[slot]) {
            self.state.defer_reading(slot);
            self.state.stop_reading(slot);
        }
    }

    /// Delivers the bytes held for `slot` in one call.
    fn deliver_held(&mut self, slot: usize) {
        let connection = &mut self.state.connections[slot];
        let id = connection.id(slot);
        let mut held = std::mem::take(&mut connection.held_input);
        if connection.tls.is_some() {
            // Held bytes are ciphertext; they go through the session like fresh input,
            // after any plaintext a pause left in the session (hence even when empty).
            tls::receive(&mut self.state, &mut self.handler, slot, &held);
        } else if !held.is_empty() {
            self.handler.on_data(
                &mut Io {
                    state: &mut self.state,
                },
                id,
                &held,
            );
        }
        // A publisher paused by backpressure is paused again soon: keep the buffer so that
        // the next pause does not allocate, unless it grew past what a pause normally holds
        // (connections that never pause hold nothing).
        held.clear();
        let connection = &mut self.state.connections[slot];
        if held.capacity() <= HELD_INPUT_KEEP_BYTES && connection.held_input.is_empty() {
            connection.held_input = held;
        }
    }

    fn on_send_complete(&mut self, token: Token, result: i32) {
        let Some(slot) = self.token_slot(token) else {
            return;
        };
        let now = self.state.now;
        let state = &mut self.state;
        let connection = &mut state.connections[slot];
        connection.send_in_flight = false;
        if result < 0 {
            // Nothing was sent; the queue's bytes are no longer in flight.
            connection.outbound.advance(&mut state.pool, 0);
            if !matches!(connection.state, ConnectionState::Closing { .. }) {
                state.teardown(slot, reason_for_errno(-result));
            }
        } else {
            connection
                .outbound
                .advance(&mut state.pool, result as usize);
            if result > 0 {
                connection.send_progress_at = now;
            }
            match connection.state {
                ConnectionState::Draining { reason, .. } if connection.outbound.is_empty() => {
                    state.teardown(slot, reason)
                }
                ConnectionState::Closing { .. } => {}
                _ if !connection.outbound.is_empty() => state.mark_dirty(slot),
                _ => {}
            }
        }
        self.on_connection_op_done(token, |_| {});
    }

    // ---- timers, resumes, closes ----

    fn fire_timers(&mut self) {
        let mut fired = std::mem::take(&mut self.fired);
        self.state.timers.expire(self.state.now, &mut fired);
        for target in fired.drain(..) {
            match target {
                TimerTarget::Handler(token) => self.handler.on_timer(
                    &mut Io {
                        state: &mut self.state,
                    },
                    token,
                ),
                TimerTarget::AcceptBackoff => {
                    if let Some(acceptor) = self.acceptor.as_mut() {
                        acceptor.backoff_pending = false;
                    }
                    self.arm_accept();
                }
                TimerTarget::WriteDeadlineScan => self.scan_write_deadlines(),
                TimerTarget::ShutdownFlushEnd => self.end_shutdown_flush(),
            }
        }
        self.fired = fired;
    }

    /// Closes connections whose send (or drain) made no progress for the write deadline.
    fn scan_write_deadlines(&mut self) {
        self.state.write_scan_armed = false;
        let now = self.state.now;
        let deadline = self.state.config.write_deadline;
        let mut expired = Vec::new();
        let mut still_waiting = false;
        for (slot, connection) in self.state.connections.iter() {
            match connection.state {
                ConnectionState::Closing { .. } => continue,
                ConnectionState::Draining { reason, since } if now - since >= deadline => {
                    expired.push((slot, reason));
                    continue;
                }
                _ => {}
            }
            if connection.send_in_flight && now - connection.send_progress_at >= deadline {
                expired.push((slot, CloseReason::WriteDeadline));
            } else if connection.send_in_flight
                || matches!(connection.state, ConnectionState::Draining { .. })
            {
                still_waiting = true;
            }
        }
        for (slot, reason) in expired {
            self.state.teardown(slot, reason);
        }
        if still_waiting {
            self.state.arm_write_scan();
        }
    }

    /// Delivers input held while paused and re-arms recvs of connections allowed to read;
    /// a connection still blocked by mail goes back on the stalled list.
    fn process_resumes(&mut self) {
        let resumes = std::mem::take(&mut self.state.to_resume);
        for &slot in &resumes {
            let Some(connection) = self.state.connections.get(slot) else {
                continue;
            };
            if !self.state.reading_allowed(connection) {
                self.state.defer_reading(slot);
                continue;
            }
            self.deliver_held(slot);
            let connection = &mut self.state.connections[slot];
            if connection.end_of_stream {
                // Unless a new pause left input for the next resume (TLS only: plain held
                // input goes in one call).
                let undelivered = !connection.held_input.is_empty()
                    || connection
                        .tls
                        .as_mut()
                        .is_some_and(|tls| tls.has_undelivered_input());
                if !undelivered {
                    self.state.teardown(slot, CloseReason::PeerClosed);
                }
            } else {
                self.state.queue_arm(slot);
            }
        }
        let mut resumes = resumes;
        resumes.clear();
        if self.state.to_resume.is_empty() {
            self.state.to_resume = resumes;
        }
    }

    /// Starts teardown of closing connections and frees those with nothing in flight.
    fn process_closing(&mut self) {
        while let Some(slot) = self.state.closing.pop() {
            let Some(connection) = self.state.connections.get_mut(slot) else {
                continue;
            };
            let ConnectionState::Closing { reason } = connection.state else {
                continue;
            };
            if !connection.teardown_started {
                connection.teardown_started = true;
                core_state::shutdown_socket(connection.fd);
                if connection.in_flight > 0 {
                    let token = connection.token(OpKind::CloseCancel, slot);
                    connection.in_flight += 1;
                    let entry = ring::cancel_fd_entry(connection.fd, token);
                    self.state.pending_entries.push(entry);
                }
            }
            if connection.in_flight == 0 {
                self.free_connection(slot, reason);
            }
        }
    }

    fn free_connection(&mut self, slot: usize, reason: CloseReason) {
        let mut connection = self.state.connections.remove(slot);
        debug_assert_eq!(connection.in_flight, 0);
        core_state::close_fd(connection.fd);
        connection.outbound.clear(&mut self.state.pool);
        self.state.slot_generations[slot] = connection.generation.wrapping_add(1);
        if !connection.local {
            let core = self.state.core;
            self.state.shared.live_connections[core].fetch_sub(1, Ordering::Relaxed);
        }
        let id = connection.id(slot);
        self.handler.on_close(
            &mut Io {
                state: &mut self.state,
            },
            id,
            reason,
        );
    }

    // ---- end of turn ----

    fn flush(&mut self) {
        let starved = std::mem::take(&mut self.buffers_starved);
        let buffers = self.ring.buffers_mut();
        if starved >= 2 && buffers.posted() < buffers.entries() {
            buffers.grow();
            crate::debug!(
                "runtime: core {}: receives ran out of buffers; {} of {} now circulate",
                self.state.core,
                buffers.posted(),
                buffers.entries()
            );
        }
        buffers.publish();
        self.arm_recvs();
        self.submit_sends();
        self.publish_mail();
        for entry in self.state.pending_entries.drain(..) {
            // SAFETY: pending entries (cancels, MSG_RING) carry no user pointers.
            unsafe { self.ring.push(&entry) };
        }
    }

    /// Arms a multishot recv for every queued connection, never on a ring below half full
    /// (a multishot armed on an empty ring fails at once with ENOBUFS).
    fn arm_recvs(&mut self) {
        let buffers = self.ring.buffers();
        if buffers.available() < buffers.posted() / 2 {
            return;
        }
        let group = buffers.group();
        let to_arm = std::mem::take(&mut self.state.to_arm);
        for &slot in &to_arm {
            let Some(connection) = self.state.connections.get_mut(slot) else {
                continue;
            };
            connection.arm_queued = false;
            if self.state.mail_blocked {
                self.state.queue_arm(slot);
                continue;
            }
            let allowed =
                connection.state == ConnectionState::Open && !connection.paused_by_handler;
            if !allowed || connection.recv_armed {
                continue;
            }
            connection.recv_armed = true;
            connection.in_flight += 1;
            let token = connection.token(OpKind::Recv, slot);
            let entry = ring::recv_entry(connection.fd, group, token);
            // SAFETY: the recv writes only into provided buffers, owned by `self.ring`, which
            // is dropped only after every recv's final completion (`finish`) or, unwinding
            // with recvs in flight, leaks them (`Drop`); they are never unmapped while
            // registered (see buffer_ring's module docs).
            unsafe { self.ring.push(&entry) };
        }
        let mut to_arm = to_arm;
        to_arm.clear();
        if self.state.to_arm.is_empty() {
            self.state.to_arm = to_arm;
        }
    }

    /// One send (or sendmsg) per dirty connection without a send in flight.
    fn submit_sends(&mut self) {
        let now = self.state.now;
        let dirty = std::mem::take(&mut self.state.dirty);
        let mut any_sent = false;
        for &slot in &dirty {
            let Some(connection) = self.state.connections.get_mut(slot) else {
                continue;
            };
            connection.dirty = false;
            if let Some(tls) = connection.tls.as_mut() {
                // The plaintext tail becomes records before any send is planned (even with a
                // send in flight: the next one is planned from its completion).
                tls.encrypt(&mut connection.outbound, &mut self.state.pool);
            }
            if connection.send_in_flight
                || matches!(connection.state, ConnectionState::Closing { .. })
            {
                continue;
            }
            let token = connection.token(OpKind::Send, slot);
            let Some(plan) = connection.outbound.plan_send(&mut connection.vectors) else {
                continue;
            };
            let entry = match plan {
                SendPlan::Single { bytes, length } => {
                    ring::send_entry(connection.fd, bytes, length, token)
                }
                SendPlan::Vectored { message, length } => {
                    debug_assert!(length <= outbound::SEND_BYTES_MAX);
                    ring::send_message_entry(connection.fd, message, token)
                }
            };
            connection.send_in_flight = true;
            connection.send_progress_at = now;
            connection.in_flight += 1;
            any_sent = true;
            // SAFETY: the bytes live in this connection's outbound chunks and the msghdr and
            // iovecs in its boxed `vectors`; neither moves nor is freed or rewritten until
            // this send's completion: `plan_send` marked the bytes in flight, and until
            // `advance` runs on the completion, `truncate_tail` and `clear` panic rather than
            // release them, writes only append, and the slot is freed only when `in_flight`
            // is zero.
            unsafe { self.ring.push(&entry) };
        }
        let mut dirty = dirty;
        dirty.clear();
        if self.state.dirty.is_empty() {
            self.state.dirty = dirty;
        }
        if any_sent {
            self.state.arm_write_scan();
        }
    }

    /// Submits without waiting when there is work, otherwise parks until a completion, a
    /// wake-up or the next timer. Peers check `parked` after publishing (SeqCst on both
    /// sides), and we re-check the inboxes after setting it, so no wake-up is lost.
    fn submit_or_park(&mut self, busy: bool) {
        let has_local_work = busy
            || !self.state.to_resume.is_empty()
            || !self.state.closing.is_empty()
            || !self.state.to_arm.is_empty();
        if has_local_work {
            self.submit();
            return;
        }
        let core = self.state.core;
        let shared = self.state.shared.clone();
        shared.parked[core].store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.has_input_without_waiting() || shared.shutdown.load(Ordering::SeqCst) {
            shared.parked[core].store(false, Ordering::SeqCst);
            self.submit();
            return;
        }
        if !self.wake_leases.is_empty() {
            // Leases are not held across the wait: a peer closing its ring waits for them.
            self.submit();
        }
        let timeout = self.state.timers.next_wait(Instant::now());
        self.ring.submit_and_wait(timeout);
        shared.parked[core].store(false, Ordering::SeqCst);
    }

    fn has_input_without_waiting(&mut self) -> bool {
        let inbox_ready = (0..self.state.inboxes.len()).any(|peer| {
            !self.mail_paused(peer)
                && self.state.inboxes[peer]
                    .as_ref()
                    .is_some_and(|inbox| !inbox.is_empty())
        });
        let returns_ready = self
            .state
            .outboxes
            .iter()
            .flatten()
            .any(|outbox| outbox.has_returns());
        inbox_ready || returns_ready || self.ring.has_completions()
    }

    // ---- shutdown ----

    fn begin_shutdown(&mut self) {
        self.state.shutting_down = true;
        if let Some(acceptor) = self.acceptor.as_ref() {
            for (index, listener) in acceptor.listeners.iter().enumerate() {
                if listener.armed {
                    let index = index as u32;
                    let target = Token::new(OpKind::Accept, index, 0).encode();
                    let token = Token::new(OpKind::AcceptCancel, index, 0);
                    self.state
                        .pending_entries
                        .push(ring::cancel_user_data_entry(target, token));
                }
            }
        }
        self.handler.on_shutdown(&mut Io {
            state: &mut self.state,
        });
        let slots: Vec<usize> = self
            .state
            .connections
            .iter()
            .map(|(slot, _)| slot)
            .collect();
        for slot in slots {
            self.state.close(slot, CloseReason::Shutdown, true);
        }
        let at = self.state.now + self.state.config.shutdown_flush;
        self.state.timers.set(at, TimerTarget::ShutdownFlushEnd);
    }

    fn end_shutdown_flush(&mut self) {
        let slots: Vec<usize> = self
            .state
            .connections
            .iter()
            .map(|(slot, _)| slot)
            .collect();
        for slot in slots {
            self.state.teardown(slot, CloseReason::Shutdown);
        }
    }

    fn is_finished(&self) -> bool {
        let accepting = self
            .acceptor
            .as_ref()
            .is_some_and(|acceptor| acceptor.listeners.iter().any(|l| l.armed));
        self.state.connections.is_empty() && !accepting
    }

    /// After the loop: wait for every core to leave its loop, close fds handed to us that
    /// were never opened, withdraw the buffer ring.
    fn finish(mut self) {
        crate::debug!(
            "runtime: core {}: {} receives found no free buffer (ENOBUFS); {} of {} circulate",
            self.state.core,
            self.buffers_starved_total,
            self.ring.buffers().posted(),
            self.ring.buffers().entries()
        );
        self.submit();
        self.state.shared.note_exited();
        self.state.shared.wait_all_exited();
        for peer in 0..self.state.shared.cores {
            let Some(inbox) = self.state.inboxes[peer].as_mut() else {
                continue;
            };
            while let Some(block) = inbox.pop() {
                for (kind, body) in mailbox::records(&block) {
                    if kind == RecordKind::NewConnection {
                        let fd = i32::from_le_bytes(body.try_into().expect("4-byte fd"));
                        core_state::close_fd(fd);
                        let core = self.state.core;
                        self.state.shared.live_connections[core].fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
        }
        // Dropping `self` drops the ring, which unregisters the buffers.
    }
}

impl<H: Handler> Drop for EventLoop<'_, H> {
    /// After a normal `finish` nothing is in flight and everything is freed. If the loop
    /// unwinds (a handler panicked) with operations in flight, the kernel may still read
    /// outbound chunks or write into a provided buffer a recv picked, so the connections
    /// and the buffers are leaked instead. Then `ring` drops: the buffer ring is
    /// unregistered (leaked whole if that fails) before the io_uring can close.
    fn drop(&mut self) {
        // Unwinding: wake-ups still queued are never submitted (nothing submits after this).
        self.release_wake_leases();
        let in_flight = self.state.connections.iter().any(|(_, c)| c.in_flight > 0);
        if in_flight {
            std::mem::forget(std::mem::take(&mut self.state.connections));
            self.ring.buffers_mut().keep_data_mapped();
        }
    }
}

/// Reset / broken pipe mean the peer went away; anything else is an IO error.
fn reason_for_errno(errno: i32) -> CloseReason {
    match errno {
        libc::ECONNRESET | libc::EPIPE | libc::ECONNABORTED | libc::ETIMEDOUT => {
            CloseReason::PeerClosed
        }
        other => CloseReason::IoError(other),
    }
}
