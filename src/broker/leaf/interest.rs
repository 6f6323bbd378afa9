//! Interest across a leaf link, both ways.
//!
//! In: the leaf's `LS+ subject` / `LS+ subject queue weight` / `LS-` become entries of
//! `Shard::link_interest` on this core (count = weight) and link interest records to the
//! other cores (one record per unit of weight, so their counts match).
//!
//! Out: `HubInterest` counts every client subscription of every core per account (a
//! subject once, a queue group with its members), every route's and every leaf link's
//! interest; the link core keeps it from its own SUB/UNSUB, the other cores' interest
//! records and the links' LS+/RS+. A change goes to every active leaf link of the account
//! at once, in the order the changes were applied, as that link sees it: the count without
//! its own interest (a leaf's own interest is never sent back to it). `LS+` when that count
//! leaves 0, `LS-` when it returns to 0, `LS+ s q n` with the new weight of a queue group,
//! `LS- s q` when its last member elsewhere goes.

use super::{Phase, Shard};
use crate::auth::AccountIndex;
use crate::protocol::link_encoder::interest_line;
use crate::runtime::{ConnId, Io};
use std::collections::HashMap;

pub(in crate::broker) type InterestKey = (Box<[u8]>, Option<Box<[u8]>>);

/// All cores' client interest per account, as the leaf sees it.
#[derive(Debug, Default)]
pub(in crate::broker) struct HubInterest {
    accounts: Vec<HashMap<InterestKey, u32>>,
    /// Of those units, the ones a route gave as of leaf origin, by origin cluster: a leaf
    /// link of that cluster is not told them (nats-server's cluster-wide no echo).
    origins: HashMap<(AccountIndex, InterestKey), HashMap<Box<str>, u32>>,
}

impl HubInterest {
    /// Every account's map, with its index.
    pub(in crate::broker) fn accounts(
        &self,
    ) -> impl Iterator<Item = (AccountIndex, &HashMap<InterestKey, u32>)> {
        self.accounts
            .iter()
            .enumerate()
            .filter_map(|(index, map)| AccountIndex::try_from(index).ok().map(|a| (a, map)))
    }

    /// The units of (`account`, `key`) whose origin is `cluster`.
    fn of_origin(&self, account: AccountIndex, key: &InterestKey, cluster: Option<&str>) -> u32 {
        let Some(cluster) = cluster else {
            return 0;
        };
        self.origins
            .get(&(account, key.clone()))
            .and_then(|by_origin| by_origin.get(cluster))
            .copied()
            .unwrap_or(0)
    }

    /// Counts one unit of origin `origin` in or out.
    fn apply_origin(&mut self, add: bool, account: AccountIndex, key: &InterestKey, origin: &str) {
        let entry = (account, key.clone());
        let by_origin = self.origins.entry(entry.clone()).or_default();
        let count = by_origin.entry(origin.into()).or_insert(0);
        if add {
            *count += 1;
        } else {
            *count = count.saturating_sub(1);
            if *count == 0 {
                by_origin.remove(origin);
                if by_origin.is_empty() {
                    self.origins.remove(&entry);
                }
            }
        }
    }

    /// Applies one change; returns the count after it, or `None` if nothing changed.
    pub(in crate::broker) fn apply(
        &mut self,
        add: bool,
        account: AccountIndex,
        pattern: &[u8],
        queue: Option<&[u8]>,
    ) -> Option<u32> {
        let account = usize::from(account);
        if self.accounts.len() <= account {
            self.accounts.resize_with(account + 1, HashMap::new);
        }
        let map = &mut self.accounts[account];
        let key: InterestKey = (pattern.into(), queue.map(Into::into));
        if add {
            let count = map.entry(key).or_insert(0);
            *count += 1;
            Some(*count)
        } else {
            let count = map.get_mut(&key)?;
            *count -= 1;
            let left = *count;
            if left == 0 {
                map.remove(&key);
            }
            Some(left)
        }
    }
}

impl Shard {
    /// A client interest change on any core, seen by the link core: tells the links.
    pub(in crate::broker) fn note_hub_interest(
        &mut self,
        io: &mut Io<'_>,
        add: bool,
        account: AccountIndex,
        pattern: &[u8],
        queue: Option<&[u8]>,
    ) {
        self.note_leaf_visible_interest(io, add, account, pattern, queue, (None, None));
    }

    /// One unit of interest the leaf links can see changed: a client's (any core), a
    /// route's, or leaf link `source`'s (its own change is never sent back to it). Each
    /// link is told what the others have: `LS+` when that count leaves 0, `LS-` when it
    /// returns to 0, a queue group's weight at each change. A route's unit of leaf
    /// `origin` (its `LS+ origin ...`) is not told to links of that cluster.
    pub(in crate::broker) fn note_leaf_visible_interest(
        &mut self,
        io: &mut Io<'_>,
        add: bool,
        account: AccountIndex,
        pattern: &[u8],
        queue: Option<&[u8]>,
        (source, origin): (Option<u32>, Option<&str>),
    ) {
        let Some(count) = self.hub_interest.apply(add, account, pattern, queue) else {
            return;
        };
        let key: InterestKey = (pattern.into(), queue.map(Into::into));
        if let Some(origin) = origin {
            self.hub_interest.apply_origin(add, account, &key, origin);
        }
        if self.links.is_empty() {
            return;
        }
        let before = if add { count - 1 } else { count + 1 };
        let mut line = std::mem::take(&mut self.line);
        for link in self.links.iter().flatten() {
            if link.phase != Phase::Active
                || link.account != account
                || Some(link.id.slot) == source
                || !link
                    .deny
                    .as_ref()
                    .is_none_or(|deny| deny.may_announce(pattern))
                || !link
                    .permissions
                    .as_ref()
                    .is_none_or(|permissions| permissions.may_announce(pattern))
            {
                continue;
            }
            // What the other links and clients have, without this link's own interest
            // (one member for a queue group of its own, whatever its weight).
            let own = u32::from(link.interest.contains_key(&key));
            // Nor what a route has from leaves of this link's own cluster.
            let cluster = link.remote_cluster.as_deref();
            let theirs = self.hub_interest.of_origin(account, &key, cluster);
            let changed = u32::from(origin.is_some() && origin == cluster);
            let theirs_before = if add {
                theirs - changed
            } else {
                theirs + changed
            };
            let others_before = before.saturating_sub(own + theirs_before);
            let others = count.saturating_sub(own + theirs);
            let visible = if queue.is_some() {
                others_before != others
            } else {
                (others_before == 0) != (others == 0)
            };
            if visible {
                line.clear();
                interest_line(&mut line, None, pattern, queue, others);
                io.write(link.id, &line);
            }
        }
        self.line = line;
    }

    /// Right after the handshake: the account's whole interest, then our `$LDS` subject.
    pub(super) fn send_hub_interest(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let mut out = std::mem::take(&mut self.line);
        let Some(link) = self.link(conn) else {
            self.line = out;
            return;
        };
        let account = link.account;
        out.clear();
        if let Some(map) = self.hub_interest.accounts.get(usize::from(account)) {
            for (key, &count) in map {
                let (pattern, queue) = key;
                let theirs =
                    self.hub_interest
                        .of_origin(account, key, link.remote_cluster.as_deref());
                let count = count.saturating_sub(theirs);
                if count > 0
                    && link
                        .deny
                        .as_ref()
                        .is_none_or(|deny| deny.may_announce(pattern))
                    && link
                        .permissions
                        .as_ref()
                        .is_none_or(|permissions| permissions.may_announce(pattern))
                {
                    interest_line(&mut out, None, pattern, queue.as_deref(), count);
                }
            }
        }
        interest_line(&mut out, None, self.shared.leaf_lds.as_bytes(), None, 1);
        io.write(conn, &out);
        self.line = out;
    }

    /// `LS+` from a leaf: loop detection, then the entry (or its new weight).
    pub(super) fn on_leaf_subscribe(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        subject: &[u8],
        queue: Option<(&[u8], u32)>,
    ) -> Result<(), &'static str> {
        let Some(link) = self.link(conn) else {
            return Ok(());
        };
        if subject == self.shared.leaf_lds.as_bytes() {
            let account = self.live.auth.account_name(link.account);
            let text = format!(
                "Loop detected for leafnode account={account:?}. Delaying attempt to reconnect for 30s"
            );
            self.write_leaf_error(io, conn, &text);
            return Err(super::LOOP_DETECTED);
        }
        if !crate::subjects::is_valid_pattern(subject) {
            return Ok(());
        }
        if link
            .deny
            .as_ref()
            .is_some_and(|deny| deny.refuses_interest(subject))
            || link
                .permissions
                .as_ref()
                .is_some_and(|permissions| permissions.refuses_interest(subject))
        {
            // A leaf ignores it (the hub told it what it may not have); a hub refuses it.
            if link.remote.is_some() {
                return Ok(());
            }
            let subject = String::from_utf8_lossy(subject);
            crate::error!(
                "{} - lid:{} - Subscription Violation on {subject:?} - Check other side configuration",
                link.peer,
                link.cid
            );
            let mut line = Vec::new();
            let text = format!("Permissions Violation for Subscription to {subject:?}");
            crate::protocol::encoder::err_line(&mut line, &text);
            io.write(conn, &line);
            return Err("Protocol Violation");
        }
        let weight_max = self.live.config.limits.link_queue_weight_max;
        let (queue_name, weight) = match queue {
            Some((name, weight)) => (Some(name), weight.min(weight_max)),
            None => (None, 1),
        };
        let Some(link) = self.link_mut(conn) else {
            return Ok(());
        };
        let key: InterestKey = (subject.into(), queue_name.map(Into::into));
        let old = link.interest.get(&key).copied().unwrap_or(0);
        if weight == 0 {
            link.interest.remove(&key);
        } else {
            link.interest.insert(key, weight);
        }
        let account = link.account;
        self.adjust_link_interest(io, conn, account, subject, queue_name, old, weight);
        Ok(())
    }

    /// `LS-` from a leaf.
    pub(super) fn on_leaf_unsubscribe(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        subject: &[u8],
        queue: Option<&[u8]>,
    ) {
        let Some(link) = self.link_mut(conn) else {
            return;
        };
        let key: InterestKey = (subject.into(), queue.map(Into::into));
        let Some(old) = link.interest.remove(&key) else {
            return;
        };
        let account = link.account;
        self.adjust_link_interest(io, conn, account, subject, queue, old, 0);
    }

    /// The link is closing: all its interest goes.
    pub(super) fn withdraw_leaf_interest(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(link) = self.link_mut(conn) else {
            return;
        };
        let account = link.account;
        let interest = std::mem::take(&mut link.interest);
        for ((subject, queue), weight) in interest {
            self.adjust_link_interest(io, conn, account, &subject, queue.as_deref(), weight, 0);
        }
    }

    /// Moves one (subject, queue) of a link (leaf or route) from weight `old` to `new`,
    /// here and on the other cores, and tells the links of the other kind: a route's
    /// interest goes to the leaf links, a leaf link's to the routes.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::broker) fn adjust_link_interest(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        account: AccountIndex,
        subject: &[u8],
        queue: Option<&[u8]>,
        old: u32,
        new: u32,
    ) {
        let trie = &mut self.link_interest[usize::from(account)];
        for _ in new..old {
            trie.remove(subject, queue, conn.slot);
        }
        for _ in old..new {
            let inserted = trie.insert(subject, queue, conn.slot);
            debug_assert!(inserted.is_ok(), "pattern was validated");
        }
        let add = new > old;
        for _ in 0..old.abs_diff(new) {
            self.broadcast_link_interest(io, add, account, subject, queue);
        }
        if self.is_route_slot(conn.slot) {
            // A route's queue weight is its members: each unit counts for the leaves, with
            // the leaf cluster it came from, if any.
            let origin = self.route_origin(conn, account, subject, queue);
            for _ in 0..old.abs_diff(new) {
                let origin = origin.as_deref();
                self.note_leaf_visible_interest(io, add, account, subject, queue, (None, origin));
            }
        } else if (old == 0) != (new == 0) {
            // A leaf's interest goes to the routes and to the other leaf links, a queue
            // group as one member whatever its weight (as nats-server counts a leaf's).
            let origin = self.link(conn).and_then(|link| link.remote_cluster.clone());
            self.note_route_interest_from(io, add, account, subject, queue, origin.as_deref());
            let source = Some(conn.slot);
            self.note_leaf_visible_interest(io, add, account, subject, queue, (source, None));
        }
    }
}
