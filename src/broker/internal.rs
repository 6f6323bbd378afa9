//! The server's own client on a core: subscriptions without a socket, whose messages are
//! kept (owned) for a service to handle at the turn's end, and publishes routed as any
//! client's. JetStream (`jetstream`) is its first user: `$JS.API.>`, the streams' subjects
//! and the ack subjects are internal subscriptions of the core that hosts it.
//!
//! An internal subscription is a `SubKey` whose connection slot is [`INTERNAL_SLOT`] (no
//! runtime slot ever has that value), so the tries, the other cores' interest, the links
//! and the visibility barrier treat it as a client subscription; only the last step of
//! delivery differs.

use super::connection::SubKey;
use super::routing::Message;
use super::Shard;
use crate::auth::AccountIndex;
use crate::runtime::{ConnId, Io};

/// The connection slot of internal subscriptions.
pub(super) const INTERNAL_SLOT: u32 = u32::MAX;

/// The publisher id of internal publishes (echo on: internal subscriptions receive them).
const INTERNAL_CONN: ConnId = ConnId {
    slot: INTERNAL_SLOT,
    generation: 0,
};

/// A message delivered to an internal subscription, copied out of the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InternalMsg {
    /// The subscription's slot ([`Shard::internal_subscribe`]'s answer).
    pub sub: usize,
    pub account: AccountIndex,
    pub subject: String,
    pub reply: Option<String>,
    /// The header block (`NATS/1.0 ...\r\n\r\n`); empty: none.
    pub headers: Vec<u8>,
    pub payload: Vec<u8>,
}

#[derive(Debug)]
struct InternalSub {
    account: AccountIndex,
    subject: Box<[u8]>,
    queue: Option<Box<[u8]>>,
}

/// A core's internal subscriptions and the messages they received this turn.
#[derive(Debug, Default)]
pub(super) struct Internal {
    subs: slab::Slab<InternalSub>,
    inbox: Vec<InternalMsg>,
    /// Scratch for the size fields of internal publishes.
    sizes: (String, String),
    body: Vec<u8>,
}

impl Shard {
    /// Subscribes the server itself to `subject` in `account`; the messages arrive in
    /// [`Shard::take_internal_inbox`]. Other cores and links learn the interest as they
    /// learn a client's.
    pub(super) fn internal_subscribe(
        &mut self,
        io: &mut Io<'_>,
        account: AccountIndex,
        subject: &str,
        queue: Option<&str>,
    ) -> usize {
        let slot = self.internal.subs.insert(InternalSub {
            account,
            subject: subject.as_bytes().into(),
            queue: queue.map(|q| q.as_bytes().into()),
        });
        let key = SubKey::new(INTERNAL_SLOT, slot);
        let queue = queue.map(str::as_bytes);
        let inserted = self.local[usize::from(account)].insert(subject.as_bytes(), queue, key);
        debug_assert!(inserted.is_ok(), "internal subjects are valid");
        self.broadcast_interest(io, true, account, subject.as_bytes(), queue);
        slot
    }

    /// Core 0's start-up subscriptions (JetStream's API and recovered streams): the other
    /// cores counted them when they were made (`preload_interest`), so only this core's
    /// trie and the links learn of them here.
    pub(super) fn internal_subscribe_preloaded(
        &mut self,
        io: &mut Io<'_>,
        account: AccountIndex,
        subject: &str,
    ) -> usize {
        let slot = self.internal.subs.insert(InternalSub {
            account,
            subject: subject.as_bytes().into(),
            queue: None,
        });
        let key = SubKey::new(INTERNAL_SLOT, slot);
        let inserted = self.local[usize::from(account)].insert(subject.as_bytes(), None, key);
        debug_assert!(inserted.is_ok(), "internal subjects are valid");
        if self.leaf_hub {
            self.note_hub_interest(io, true, account, subject.as_bytes(), None);
            self.note_route_interest(io, true, account, subject.as_bytes(), None);
        }
        slot
    }

    /// Removes an internal subscription (a stream deleted, a consumer gone).
    pub(super) fn internal_unsubscribe(&mut self, io: &mut Io<'_>, slot: usize) {
        let Some(sub) = self.internal.subs.try_remove(slot) else {
            return;
        };
        let key = SubKey::new(INTERNAL_SLOT, slot);
        self.local[usize::from(sub.account)].remove(&sub.subject, sub.queue.as_deref(), key);
        let queue = sub.queue.as_deref();
        self.broadcast_interest(io, false, sub.account, &sub.subject, queue);
    }

    /// Whether anything would receive a message on `subject` in `account`: a subscription
    /// on any core or a link's interest (a push consumer delivers only then, as
    /// nats-server's does).
    pub(super) fn has_interest(&mut self, account: AccountIndex, subject: &str) -> bool {
        let index = usize::from(account);
        let subject = subject.as_bytes();
        fn any<V>(m: &crate::subjects::Matches<V>) -> bool {
            !m.plain.is_empty() || !m.queues.is_empty()
        }
        if any(self.local[index].match_subject(subject)) {
            return true;
        }
        if self.cores > 1 && any(self.remote[index].match_subject(subject)) {
            return true;
        }
        self.leaf_hub && any(self.link_interest[index].match_subject(subject))
    }

    /// The last step of delivery for an internal subscription: the message is copied.
    pub(super) fn deliver_internal(&mut self, key: SubKey, message: &Message<'_>) -> bool {
        let Some(sub) = self.internal.subs.get(key.sub_slot()) else {
            return false;
        };
        let (headers, payload) = message.message.split_at(message.header_len);
        self.internal.inbox.push(InternalMsg {
            sub: key.sub_slot(),
            account: sub.account,
            subject: String::from_utf8_lossy(message.subject).into_owned(),
            reply: message
                .reply
                .map(|reply| String::from_utf8_lossy(reply).into_owned()),
            headers: headers.to_vec(),
            payload: payload.to_vec(),
        });
        true
    }

    /// The messages internal subscriptions received since the last call, in arrival order.
    pub(super) fn take_internal_inbox(&mut self) -> Vec<InternalMsg> {
        std::mem::take(&mut self.internal.inbox)
    }

    /// Gives back the (emptied) inbox so its capacity is reused.
    pub(super) fn return_internal_inbox(&mut self, mut inbox: Vec<InternalMsg>) {
        if self.internal.inbox.is_empty() {
            inbox.clear();
            self.internal.inbox = inbox;
        }
    }

    /// Publishes as the server: routed to local subscribers, other cores and links like a
    /// client's publish. `headers`: a full header block or empty.
    pub(super) fn internal_publish(
        &mut self,
        io: &mut Io<'_>,
        account: AccountIndex,
        subject: &str,
        reply: Option<&str>,
        headers: &[u8],
        payload: &[u8],
    ) {
        self.internal_deliver(io, account, subject, None, reply, headers, payload);
    }

    /// [`Shard::internal_publish`] routed by `subject` and shown to subscribers as
    /// `shown` (a JetStream delivery: routed by the deliver subject, shown with the stored
    /// message's subject).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn internal_deliver(
        &mut self,
        io: &mut Io<'_>,
        account: AccountIndex,
        subject: &str,
        shown: Option<&str>,
        reply: Option<&str>,
        headers: &[u8],
        payload: &[u8],
    ) {
        let mut body = std::mem::take(&mut self.internal.body);
        let mut sizes = std::mem::take(&mut self.internal.sizes);
        body.clear();
        body.extend_from_slice(headers);
        body.extend_from_slice(payload);
        sizes.0.clear();
        sizes.1.clear();
        use std::fmt::Write;
        let _ = write!(sizes.0, "{}", headers.len());
        let _ = write!(sizes.1, "{}", body.len());
        let message = Message {
            subject: subject.as_bytes(),
            deliver_as: shown.map(str::as_bytes),
            reply: reply.map(str::as_bytes),
            header_size: (!headers.is_empty()).then_some(sizes.0.as_bytes()),
            total_size: sizes.1.as_bytes(),
            header_len: headers.len(),
            message: &body,
        };
        self.route_internal(io, INTERNAL_CONN, account, &message);
        // The server is not stalled behind a slow consumer: that one is cut by max_pending.
        self.congested = None;
        self.internal.body = body;
        self.internal.sizes = sizes;
    }
}
