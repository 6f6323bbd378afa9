//! A turn's connection IO: receive completions delivered to the handler (or held while it
//! paused reading), send completions advancing the outbound queues, write deadlines,
//! resumes and closes, and at the flush the recvs armed and one send per connection with
//! output.

use std::sync::atomic::Ordering;

use super::core_state::{self, ConnectionState};
use super::event_loop::{EventLoop, HELD_INPUT_KEEP_BYTES};
use super::outbound::{self, SendPlan};
use super::ring::{self, OpKind, Token};
use super::tls;
use super::websocket;
use super::{CloseReason, Handler, Io};

impl<H: Handler> EventLoop<'_, H> {
    /// One operation of the connection finished for good.
    pub(super) fn on_connection_op_done(
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

    pub(super) fn on_recv_complete(&mut self, token: Token, result: i32, flags: u32) {
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
    pub(super) fn on_end_of_stream(&mut self, slot: usize) {
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
    pub(super) fn deliver_input(&mut self, token: Token, buffer_id: u16, length: usize) {
        let Some(slot) = self.token_slot(token) else {
            return;
        };
        let connection = &self.state.connections[slot];
        if connection.state != ConnectionState::Open {
            return;
        }
        let paused_by_handler = connection.paused_by_handler;
        let data = self.ring.buffers_mut().filled_mut(buffer_id, length);
        if !paused_by_handler && connection.held_input.is_empty() {
            let id = connection.id(slot);
            if connection.tls.is_some() {
                tls::receive(&mut self.state, &mut self.handler, slot, data);
            } else if connection.websocket.is_some() {
                websocket::receive(&mut self.state, &mut self.handler, slot, data);
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
    pub(super) fn deliver_held(&mut self, slot: usize) {
        let connection = &mut self.state.connections[slot];
        let id = connection.id(slot);
        let mut held = std::mem::take(&mut connection.held_input);
        if connection.tls.is_some() {
            // Held bytes are ciphertext; they go through the session like fresh input,
            // after any plaintext a pause left in the session (hence even when empty).
            tls::receive(&mut self.state, &mut self.handler, slot, &held);
        } else if connection.websocket.is_some() {
            // Held bytes are frames, decoded like fresh input.
            websocket::receive(&mut self.state, &mut self.handler, slot, &mut held);
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

    pub(super) fn on_send_complete(&mut self, token: Token, result: i32) {
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

    /// Closes connections whose send (or drain) made no progress for the write deadline.
    pub(super) fn scan_write_deadlines(&mut self) {
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
    pub(super) fn process_resumes(&mut self) {
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
    pub(super) fn process_closing(&mut self) {
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

    pub(super) fn free_connection(&mut self, slot: usize, reason: CloseReason) {
        let mut connection = self.state.connections.remove(slot);
        debug_assert_eq!(connection.in_flight, 0);
        core_state::close_fd(connection.fd);
        connection.outbound.clear(&mut self.state.pool);
        self.state.slot_generations[slot] = connection.generation.wrapping_add(1);
        if connection.counted {
            let core = self.state.core;
            self.state.shared.live_connections[core].fetch_sub(1, Ordering::Relaxed);
        }
        let id = connection.id(slot);
        if let Some(dial) = connection.dial.take() {
            // Never connected: the handler hears of the dial's end, not of a close.
            self.dial_failed(id, *dial, reason);
            return;
        }
        self.handler.on_close(
            &mut Io {
                state: &mut self.state,
            },
            id,
            reason,
        );
    }

    pub(super) fn flush(&mut self) {
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
        self.submit_connects();
        self.submit_files();
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
    pub(super) fn arm_recvs(&mut self) {
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
    pub(super) fn submit_sends(&mut self) {
        let now = self.state.now;
        let dirty = std::mem::take(&mut self.state.dirty);
        let mut any_sent = false;
        for &slot in &dirty {
            let Some(connection) = self.state.connections.get_mut(slot) else {
                continue;
            };
            connection.dirty = false;
            if let Some(websocket) = connection.websocket.as_mut() {
                // Written bytes become frames first (TLS then encrypts the frames).
                websocket.frame_output(
                    &mut connection.outbound,
                    &mut self.state.pool,
                    &mut self.state.websocket_engines,
                );
            }
            if let Some(tls) = connection.tls.as_mut() {
                // The plaintext tail becomes records before any send is planned (even with a
                // send in flight: the next one is planned from its completion).
                tls.encrypt(&mut connection.outbound, &mut self.state.pool);
                if let Some(websocket) = connection.websocket.as_mut() {
                    websocket.tail_replaced(&connection.outbound);
                }
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
