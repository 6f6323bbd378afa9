//! SUB and UNSUB: permissions, limits and validation in nats-server's order, the local
//! trie of the connection's account, and the interest broadcast to the other cores.

use super::connection::{SubKey, Subscription};
use super::Shard;
use crate::protocol::encoder::{self, err};
use crate::runtime::{ConnId, Io};

/// A queue group name nats-server keeps for its own services: refused to every client as a
/// subscription permissions violation.
const RESERVED_QUEUE: &[u8] = b"_sys_";

impl Shard {
    pub(super) fn on_subscribe(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
    ) {
        let max_subscriptions = self.live.config.limits.max_subscriptions;
        let now = io.now();
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        client.last_activity = now;
        let verbose = client.options.verbose;
        let permitted = match client.permissions.as_mut() {
            Some(permissions) => permissions.may_subscribe(subject, queue),
            None => true,
        };
        if !permitted || queue == Some(RESERVED_QUEUE) {
            self.subscription_violation(io, conn, subject, queue, sid);
            return;
        }
        let account = client.account;
        if max_subscriptions > 0 && client.subscriptions.len() >= max_subscriptions {
            io.write(conn, err::MAX_SUBSCRIPTIONS);
            return;
        }
        if client.sids.contains_key(sid) {
            // nats-server keeps the first subscription and ignores the new subject.
            if verbose {
                io.write(conn, encoder::OK);
            }
            return;
        }
        if !crate::subjects::is_valid_pattern(subject) {
            io.write(conn, err::INVALID_SUBJECT);
            return;
        }
        let slot = client.subscriptions.insert(Subscription {
            account,
            subject: subject.into(),
            queue: queue.map(Into::into),
            sid: sid.into(),
            delivered: 0,
            max: None,
        });
        client.sids.insert(sid.into(), slot);
        let key = SubKey::new(conn.slot, slot);
        let inserted = self.local[usize::from(account)].insert(subject, queue, key);
        debug_assert!(inserted.is_ok(), "pattern was validated");
        self.change_interest(io, conn, true, account, subject, queue);
        if verbose {
            io.write(conn, encoder::OK);
        }
    }

    pub(super) fn on_unsubscribe(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        sid: &[u8],
        max: Option<&[u8]>,
    ) {
        let now = io.now();
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        client.last_activity = now;
        let verbose = client.options.verbose;
        if let Some(&slot) = client.sids.get(sid) {
            let delivered = client.subscriptions[slot].delivered;
            match max.and_then(crate::protocol::parse_size) {
                Some(max) if max > 0 && max as u64 > delivered => {
                    client.subscriptions[slot].max = Some(max as u64);
                }
                _ => self.remove_subscription(io, conn, slot),
            }
        }
        if verbose {
            io.write(conn, encoder::OK);
        }
    }

    /// Removes one subscription (UNSUB, or its max reached).
    pub(super) fn remove_subscription(&mut self, io: &mut Io<'_>, conn: ConnId, slot: usize) {
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        let Some(sub) = client.subscriptions.try_remove(slot) else {
            return;
        };
        client.sids.remove(&sub.sid);
        self.local[usize::from(sub.account)].remove(
            &sub.subject,
            sub.queue.as_deref(),
            SubKey::new(conn.slot, slot),
        );
        let queue = sub.queue.as_deref();
        self.change_interest(io, conn, false, sub.account, &sub.subject, queue);
    }

    pub(super) fn remove_all_subscriptions(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        client.sids.clear();
        let subscriptions = std::mem::take(&mut client.subscriptions);
        for (slot, sub) in subscriptions {
            let key = SubKey::new(conn.slot, slot);
            self.local[usize::from(sub.account)].remove(&sub.subject, sub.queue.as_deref(), key);
            self.broadcast_interest(io, false, sub.account, &sub.subject, sub.queue.as_deref());
        }
    }
}
