//! The stall gates (DESIGN.md §4): a publisher whose message left a consumer over half of
//! max_pending stops being read until that consumer drains, so TCP slows the publisher
//! instead of the consumer being cut. Locally the publisher's reading pauses; across cores
//! the consumer's core stops taking the publisher core's mail. A link (leaf or route) is
//! a publisher like a client: its reading pauses after the read that congested a consumer
//! on its core (the rest of that read is delivered first). A consumer that takes nothing
//! for [`STALL_NO_PROGRESS`] has stopped reading and gates no one until it reads.

use super::timers::Timer;
use super::Shard;
use crate::runtime::{ConnId, Io, TimerId};
use std::time::{Duration, Instant};

/// Stall gate (DESIGN.md §4): how often a stalled publisher checks its consumer, and the
/// longest it stays stalled (nats-server stalls a producer at most 1 s per message).
const STALL_CHECK_INTERVAL: Duration = Duration::from_millis(1);

const STALL_MAX: Duration = Duration::from_secs(1);

/// A consumer that takes not one byte for this long while it gates a publisher has stopped
/// reading rather than slowed down: the publisher resumes, and the consumer gates no one
/// until it reads again, so it reaches max_pending and is cut instead of holding back the
/// healthy subscribers of the same subjects (nats-server's shortest stall).
const STALL_NO_PROGRESS: Duration = Duration::from_millis(100);

/// The cross-core stall of one peer core's mail (see [`Shard::stall_peer`]).
#[derive(Debug)]
pub(super) struct PeerStall {
    consumer: ConnId,
    since: Instant,
    /// The consumer's `Io::sent_bytes` when the stall began.
    consumer_sent: usize,
    timer: TimerId,
}

/// A link whose reading is paused while a consumer on its core drains.
#[derive(Debug)]
pub(super) struct LinkStall {
    link: ConnId,
    consumer: ConnId,
    since: Instant,
    consumer_sent: usize,
}

impl Shard {
    /// The stall gate for a link: stops reading it until `consumer` drains (the local
    /// consumer a message from it left over half of max_pending).
    pub(super) fn stall_link(&mut self, io: &mut Io<'_>, link: ConnId, consumer: ConnId) {
        if consumer == link || self.link_stalled(link) {
            return;
        }
        let now = io.now();
        self.link_stalls.push(LinkStall {
            link,
            consumer,
            since: now,
            consumer_sent: io.sent_bytes(consumer),
        });
        io.pause_reading(link);
        io.set_timer(now + STALL_CHECK_INTERVAL, Timer::Stall(link).token());
    }

    /// A stalled link's check: reading resumes once its consumer drained, stopped reading,
    /// or STALL_MAX passed, as for a client publisher.
    pub(super) fn on_link_stall_timer(&mut self, io: &mut Io<'_>, link: ConnId) {
        let Some(index) = self.link_stalls.iter().position(|stall| stall.link == link) else {
            return;
        };
        let resume_below = self.live.config.limits.max_pending / 4;
        let now = io.now();
        let stall = &self.link_stalls[index];
        let (consumer, sent, since) = (stall.consumer, stall.consumer_sent, stall.since);
        let drained = io.pending_bytes(consumer) <= resume_below;
        if drained
            || now.duration_since(since) >= STALL_MAX
            || self.stopped_reading(io, consumer, sent, since)
        {
            self.link_stalls.swap_remove(index);
            if self.is_route_slot(link.slot) {
                self.resume_route(io, link);
            } else {
                self.resume_leaf(io, link);
            }
            return;
        }
        io.set_timer(now + STALL_CHECK_INTERVAL, Timer::Stall(link).token());
    }

    /// Whether the stall gate has paused `link`.
    pub(super) fn link_stalled(&self, link: ConnId) -> bool {
        self.link_stalls.iter().any(|stall| stall.link == link)
    }

    /// Stops reading from `publisher` until `consumer` has drained (stall gate): TCP then
    /// pushes back on the publishing client instead of the consumer being cut.
    pub(super) fn stall_publisher(&mut self, io: &mut Io<'_>, publisher: ConnId, consumer: ConnId) {
        let now = io.now();
        let Some(client) = self.client_mut(publisher) else {
            return;
        };
        if client.stalled_by.is_some() || !client.is_open() {
            return;
        }
        client.stalled_by = Some(consumer);
        client.stalled_since = now;
        client.stalled_consumer_sent = io.sent_bytes(consumer);
        io.pause_reading(publisher);
        let timer = io.set_timer(now + STALL_CHECK_INTERVAL, Timer::Stall(publisher).token());
        if let Some(client) = self.client_mut(publisher) {
            client.stall_timer = Some(timer);
        }
    }

    /// The cross-core stall gate: a message forwarded from core `peer` left `consumer` more
    /// than half-way to max_pending. This core takes no more mail from `peer` until the
    /// consumer is below a quarter (or STALL_MAX passes, as the local gate); `peer` then
    /// fills its mailbox to us and stops reading its connections, which slows the
    /// publishers there the way the local gate slows a local one.
    pub(super) fn stall_peer(&mut self, io: &mut Io<'_>, peer: usize, consumer: ConnId) {
        if self.peer_stalls[peer].is_some() {
            return;
        }
        let now = io.now();
        io.pause_mail_from(peer);
        let timer = io.set_timer(now + STALL_CHECK_INTERVAL, Timer::PeerStall(peer).token());
        self.peer_stalls[peer] = Some(PeerStall {
            consumer,
            since: now,
            consumer_sent: io.sent_bytes(consumer),
            timer,
        });
    }

    pub(super) fn on_peer_stall_timer(&mut self, io: &mut Io<'_>, peer: usize) {
        let resume_below = self.live.config.limits.max_pending / 4;
        let now = io.now();
        let Some(stall) = self.peer_stalls.get_mut(peer).and_then(Option::as_mut) else {
            return;
        };
        // A consumer that is gone reports 0 pending bytes: resume.
        let drained = io.pending_bytes(stall.consumer) <= resume_below;
        let (consumer, sent, since) = (stall.consumer, stall.consumer_sent, stall.since);
        if drained
            || now.duration_since(since) >= STALL_MAX
            || self.stopped_reading(io, consumer, sent, since)
        {
            self.peer_stalls[peer] = None;
            io.resume_mail_from(peer);
            return;
        }
        let Some(stall) = self.peer_stalls.get_mut(peer).and_then(Option::as_mut) else {
            return;
        };
        stall.timer = io.set_timer(now + STALL_CHECK_INTERVAL, Timer::PeerStall(peer).token());
    }

    /// Whether `consumer` has taken nothing since a stall began at `since` with `sent` bytes
    /// sent, for [`STALL_NO_PROGRESS`]; if so it is marked as not reading, so that it gates
    /// no publisher until it reads again (see `Client::not_reading_at`).
    pub(super) fn stopped_reading(
        &mut self,
        io: &Io<'_>,
        consumer: ConnId,
        sent: usize,
        since: Instant,
    ) -> bool {
        let now_sent = io.sent_bytes(consumer);
        if now_sent != sent || io.now().duration_since(since) < STALL_NO_PROGRESS {
            return false;
        }
        if let Some(client) = self.client_mut(consumer) {
            crate::debug!(
                "{} - {} - Not reading: no longer slowing its publishers",
                client.peer,
                client.tag()
            );
            client.not_reading_at = Some(now_sent);
        }
        true
    }

    pub(super) fn on_stall_timer(&mut self, io: &mut Io<'_>, publisher: ConnId) {
        let resume_below = self.live.config.limits.max_pending / 4;
        let now = io.now();
        let Some(client) = self.client_mut(publisher) else {
            return;
        };
        client.stall_timer = None;
        let Some(consumer) = client.stalled_by else {
            return;
        };
        let drained = io.pending_bytes(consumer) <= resume_below;
        let (sent, since) = (client.stalled_consumer_sent, client.stalled_since);
        if drained
            || now.duration_since(since) >= STALL_MAX
            || self.stopped_reading(io, consumer, sent, since)
        {
            self.resume_publisher(io, publisher);
            return;
        }
        let Some(client) = self.client_mut(publisher) else {
            return;
        };
        let timer = io.set_timer(now + STALL_CHECK_INTERVAL, Timer::Stall(publisher).token());
        client.stall_timer = Some(timer);
    }

    /// Ends a publisher's stall: parses the input held meanwhile (which may stall it again),
    /// then reads again if it is still not stalled.
    pub(super) fn resume_publisher(&mut self, io: &mut Io<'_>, publisher: ConnId) {
        let Some(client) = self.client_mut(publisher) else {
            return;
        };
        client.stalled_by = None;
        self.resume_input(io, publisher);
    }
}
