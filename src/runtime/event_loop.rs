//! One core's loop: drain inboxes → reap and dispatch completions → fire timers → resume
//! paused readers → finish closes → `on_turn_end` → flush (publish buffers, arm recvs, one
//! send per dirty connection, publish mail, wake peers) → submit, or park until the next
//! timer when there is nothing to do.
//!
//! Invariant: a connection's slot (and with it its outbound chunks and iovecs, which
//! in-flight sends point into) is freed only when `in_flight` is zero, i.e. when the final
//! completion of every operation submitted for it has been reaped.

use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use io_uring::cqueue;

use super::accept::{AcceptListener, Acceptor, ListenerKind};
use super::core_state::{self, CoreState};
use super::mailbox::{self, RecordKind};
use super::ring::{self, OpKind, Ring, Token};
use super::timer::TimerTarget;
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

pub struct EventLoop<'ring, H: Handler> {
    /// Owns the provided-buffer ring (`self.ring.buffers()`), and unregisters it when dropped.
    pub(super) ring: Ring<'ring>,
    /// Recvs that ended with ENOBUFS this turn. One alone is a deep socket drained until the
    /// ring ran dry (its bytes wait in the socket until the re-arm); two or more mean the
    /// circulating set is too small for the connections with input, so it grows.
    pub(super) buffers_starved: u32,
    /// Lame duck mode has stopped the client listener (core 0 only acts on it).
    pub(super) clients_stopped: bool,
    /// Recvs that ended with ENOBUFS since start: logged (-D) when the core stops, so that
    /// a test can tell that the ring ran dry and was recovered from.
    pub(super) buffers_starved_total: u64,
    pub(super) state: CoreState,
    pub(super) handler: H,
    pub(super) acceptor: Option<Acceptor>,
    pub(super) completions: Vec<cqueue::Entry>,
    pub(super) fired: Vec<TimerTarget>,
    /// Peers whose ring fd this turn's wake-ups leased, released after the submit that
    /// carries the wake-ups (the one that parks, when the core parks).
    pub(super) wake_leases: Vec<usize>,
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
                kind: ListenerKind::Clients,
                armed: false,
                stopping: false,
            };
            let others = [
                (listeners.local, ListenerKind::Local),
                (listeners.leaf, ListenerKind::Leaf),
                (listeners.route, ListenerKind::Route),
                (listeners.websocket, ListenerKind::Websocket),
            ];
            let others = others.into_iter().filter_map(|(socket, kind)| {
                socket.map(|socket| AcceptListener {
                    socket: Some(socket),
                    kind,
                    armed: false,
                    stopping: false,
                })
            });
            Acceptor {
                listeners: std::iter::once(client).chain(others).collect(),
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

    // ---- mail ----

    // ---- completions ----

    /// Reaps and dispatches completions (bounded per turn). Returns true if more may wait.
    pub(super) fn process_completions(&mut self) -> bool {
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

    pub(super) fn dispatch(&mut self, user_data: u64, result: i32, flags: u32) {
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
            OpKind::Connect => self.on_connect_complete(token, result),
            OpKind::File => self.on_file_complete(token, result),
        }
    }

    /// Whether `token` still names a live slot; a completion for a recycled slot is dropped
    /// (cannot happen while slots are freed only at `in_flight == 0`, but it is cheap).
    pub(super) fn token_slot(&self, token: Token) -> Option<usize> {
        let slot = token.slot as usize;
        let connection = self.state.connections.get(slot)?;
        token.is_generation(connection.generation).then_some(slot)
    }

    // ---- timers, resumes, closes ----

    pub(super) fn fire_timers(&mut self) {
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
                TimerTarget::ConnectDeadline(id) => self.on_connect_deadline(id),
            }
        }
        self.fired = fired;
    }

    // ---- end of turn ----

    /// Submits without waiting when there is work, otherwise parks until a completion, a
    /// wake-up or the next timer. Peers check `parked` after publishing (SeqCst on both
    /// sides), and we re-check the inboxes after setting it, so no wake-up is lost.
    pub(super) fn submit_or_park(&mut self, busy: bool) {
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
        // This turn's wake-ups go out with the submit that parks: the leases of their ring
        // fds are released when it returns. A separate submit first, to release them
        // before parking, cost request/reply across cores 25 % more server CPU and 20-50 µs
        // of median latency. A peer that exits meanwhile waits for them (`ring_fd::clear`);
        // at shutdown every core is woken, so that wait is short.
        let timeout = self.state.timers.next_wait(Instant::now());
        self.ring.submit_and_wait(timeout);
        self.release_wake_leases();
        shared.parked[core].store(false, Ordering::SeqCst);
    }

    pub(super) fn has_input_without_waiting(&mut self) -> bool {
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

    pub(super) fn begin_shutdown(&mut self) {
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

    pub(super) fn end_shutdown_flush(&mut self) {
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

    pub(super) fn is_finished(&self) -> bool {
        let accepting = self
            .acceptor
            .as_ref()
            .is_some_and(|acceptor| acceptor.listeners.iter().any(|l| l.armed));
        self.state.connections.is_empty() && !accepting && self.state.files.in_flight() == 0
    }

    /// After the loop: wait for every core to leave its loop, close fds handed to us that
    /// were never opened, withdraw the buffer ring.
    pub(super) fn finish(mut self) {
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
                        let fd = i32::from_le_bytes(body[..4].try_into().expect("4-byte fd"));
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
        let in_flight = self.state.connections.iter().any(|(_, c)| c.in_flight > 0)
            || self.state.files.in_flight() > 0;
        if in_flight {
            // The kernel may still read or write an operation's buffers.
            std::mem::forget(std::mem::take(&mut self.state.files));
            std::mem::forget(std::mem::take(&mut self.state.connections));
            self.ring.buffers_mut().keep_data_mapped();
        }
    }
}
