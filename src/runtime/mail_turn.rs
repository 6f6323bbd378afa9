//! A turn's mail: blocks taken from the peers' inboxes (bounded per turn, paused peers
//! skipped), records published to the peers at the flush, and the MSG_RING wake-ups of
//! parked peers with their ring-fd leases.

use std::sync::atomic::{fence, Ordering};

use super::event_loop::{EventLoop, INBOX_BLOCKS_PER_TURN};
use super::mailbox::{self, RecordKind};
use super::ring;
use super::{Handler, Io};

impl<H: Handler> EventLoop<'_, H> {
    /// Delivers mail from every peer (bounded per turn). Returns true if work was left.
    pub(super) fn drain_inboxes(&mut self) -> bool {
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
    pub(super) fn mail_paused(&self, peer: usize) -> bool {
        self.state.mail_paused[peer] && !self.state.shutting_down
    }

    pub(super) fn deliver_block(&mut self, peer: usize, block: &[u8]) {
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
                    let fd = i32::from_le_bytes(body[..4].try_into().expect("fd record"));
                    let kind = super::accept::ListenerKind::from_byte(body[4]);
                    self.open_connection(fd, kind);
                }
            }
        }
    }

    pub(super) fn wake_if_awaiting_returns(&mut self, peer: usize) {
        fence(Ordering::SeqCst);
        if self.state.shared.awaiting_returns[peer].load(Ordering::SeqCst) {
            self.wake(peer);
        }
    }

    /// Wakes `peer` with MSG_RING if it is parked (one wake per park). The peer's ring fd
    /// stays leased until the submit that carries the MSG_RING (see `submit`).
    pub(super) fn wake(&mut self, peer: usize) {
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
    pub(super) fn submit(&mut self) {
        self.ring.submit();
        self.release_wake_leases();
    }

    pub(super) fn release_wake_leases(&mut self) {
        for peer in self.wake_leases.drain(..) {
            self.state.shared.ring_fds[peer].release();
        }
    }

    /// Publishes every outbox, wakes peers that got blocks, updates mail backpressure.
    /// Receivers wake us for returned blocks only while we need them (blocks waiting for
    /// room, or reading paused): request/reply traffic costs no extra wake-ups.
    pub(super) fn publish_mail(&mut self) {
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
}
