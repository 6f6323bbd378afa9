//! Interest across routes, both ways.
//!
//! In: a peer's `RS+ account subject [queue weight]` / `RS-` (and `LS+`/`LS-`, interest it
//! has from its leaf nodes) become link interest entries under the route's slot, on this
//! core and, as link interest records, on the others; unknown accounts are ignored (a
//! nats-server peer announces its `$SYS` account's subscriptions).
//!
//! Route permissions (`permissions`) filter both ways: `export` the RS+ taken in, `import`
//! the interest sent.
//!
//! Out: `RouteInterest` counts every core's client subscriptions and our leaf links'
//! interest, per account, as the routes see it (a subject once, a queue group with its
//! total weight); a change the routes can see goes to every active route at once. A
//! peer's interest never goes to another route (one hop).

use super::{Phase, Shard};
use crate::auth::AccountIndex;
use crate::protocol::link_encoder::interest_line;
use crate::runtime::{ConnId, Io};

/// (account, subject, queue) of a route's interest entry.
pub(super) type RouteKey = (AccountIndex, Box<[u8]>, Option<Box<[u8]>>);

/// The interest the routes see, aggregated over every core and leaf link.
pub(in crate::broker) type RouteInterest = crate::broker::leaf::HubInterest;

/// The origin cluster of the route interest a leaf link's interest opened.
pub(in crate::broker) type RouteOrigins = std::collections::HashMap<RouteKey, Box<str>>;

/// `LS+ origin account subject [queue weight]`, or `LS-  account subject [queue]` when
/// `count` is 0: nats-server's form of interest of leaf origin on a route.
fn origin_line(
    out: &mut Vec<u8>,
    origin: &str,
    account: &str,
    pattern: &[u8],
    queue: Option<&[u8]>,
    count: u32,
) {
    if count > 0 {
        out.extend_from_slice(b"LS+ ");
        out.extend_from_slice(origin.as_bytes());
        out.push(b' ');
    } else {
        // Two blanks: nats-server 2.9.10 writes its blank after the origin it leaves out.
        out.extend_from_slice(b"LS-  ");
    }
    // The rest is an `RS+`/`RS-` line's after its account.
    let start = out.len();
    interest_line(out, Some(account), pattern, queue, count);
    out.drain(start..start + 4);
}

impl Shard {
    /// One unit of interest the routes can see changed (a client's subscription on any
    /// core): tells the routes when it shows.
    pub(in crate::broker) fn note_route_interest(
        &mut self,
        io: &mut Io<'_>,
        add: bool,
        account: AccountIndex,
        pattern: &[u8],
        queue: Option<&[u8]>,
    ) {
        self.note_route_interest_from(io, add, account, pattern, queue, None);
    }

    /// One unit of interest the routes can see changed, of a leaf link of cluster
    /// `origin` when it has one: the interest it opens is sent as nats-server sends a
    /// leaf's, `LS+ origin account subject` to the routes that take that form (`lnoc`),
    /// so that their hubs do not tell it to leaves of the same cluster; `RS+` to others.
    pub(in crate::broker) fn note_route_interest_from(
        &mut self,
        io: &mut Io<'_>,
        add: bool,
        account: AccountIndex,
        pattern: &[u8],
        queue: Option<&[u8]>,
        origin: Option<&str>,
    ) {
        if self.routes.is_empty() && self.live.config.cluster.is_none() {
            return;
        }
        let Some(count) = self.route_interest.apply(add, account, pattern, queue) else {
            return;
        };
        let key: RouteKey = (account, pattern.into(), queue.map(Into::into));
        // The origin is the first unit's, as nats-server's route subscription is.
        if let (true, Some(origin)) = (add && count == 1, origin) {
            self.route_origins.insert(key.clone(), origin.into());
        }
        let removed = if count == 0 {
            self.route_origins.remove(&key)
        } else {
            None
        };
        let visible = queue.is_some() || (add && count == 1) || (!add && count == 0);
        if !visible || !self.route_may_import(pattern) {
            return;
        }
        let mut plain = std::mem::take(&mut self.line);
        plain.clear();
        let name = self.live.auth.account_name(account);
        interest_line(&mut plain, Some(name), pattern, queue, count);
        let origin = removed.or_else(|| self.route_origins.get(&key).cloned());
        let mut leaf_form = Vec::new();
        if let Some(origin) = &origin {
            origin_line(&mut leaf_form, origin, name, pattern, queue, count);
        }
        for route in self.routes.iter().flatten() {
            if route.phase == Phase::Active {
                let line = if route.lnoc && origin.is_some() {
                    &leaf_form
                } else {
                    &plain
                };
                io.write(route.id, line);
            }
        }
        self.line = plain;
    }

    /// Our interest in `pattern` as route `lnoc` is told it (see `note_route_interest_from`).
    pub(super) fn route_interest_line(
        &self,
        out: &mut Vec<u8>,
        lnoc: bool,
        account: AccountIndex,
        pattern: &[u8],
        queue: Option<&[u8]>,
        count: u32,
    ) {
        let name = self.live.auth.account_name(account);
        let key: RouteKey = (account, pattern.into(), queue.map(Into::into));
        match self.route_origins.get(&key).filter(|_| lnoc) {
            Some(origin) => origin_line(out, origin, name, pattern, queue, count),
            None => interest_line(out, Some(name), pattern, queue, count),
        }
    }

    /// Right after registering: every account's interest as the routes see it, all as
    /// `RS+` (nats-server's first interest on a route carries no origin).
    pub(super) fn send_route_interest(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let mut out = std::mem::take(&mut self.line);
        out.clear();
        let rules = self.route_rules();
        for (account, map) in self.route_interest.accounts() {
            let name = self.live.auth.account_name(account);
            for ((pattern, queue), &count) in map {
                if rules
                    .as_ref()
                    .is_none_or(|rules| rules.publish_allowed(pattern))
                {
                    interest_line(&mut out, Some(name), pattern, queue.as_deref(), count);
                }
            }
        }
        io.write(conn, &out);
        self.line = out;
    }

    /// `RS+`/`LS+` from a peer.
    pub(super) fn on_route_subscribe(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        account: &[u8],
        subject: &[u8],
        queue: Option<(&[u8], u32)>,
        origin: Option<&[u8]>,
    ) {
        let Some(account) = self.live.auth.account_by_wire_name(account) else {
            return;
        };
        if !crate::subjects::is_valid_pattern(subject) {
            return;
        }
        if !self.route_may_export(conn, subject) {
            if let Some(route) = self.route_ref(conn) {
                crate::debug!(
                    "{} - rid:{} - Can not export {:?}, ignoring remote subscription request",
                    route.peer,
                    route.rid,
                    String::from_utf8_lossy(subject)
                );
            }
            return;
        }
        let weight_max = self.live.config.limits.link_queue_weight_max;
        let (queue_name, weight) = match queue {
            Some((name, weight)) => (Some(name), weight.min(weight_max)),
            None => (None, 1),
        };
        let Some(route) = self.route_mut(conn) else {
            return;
        };
        let key: RouteKey = (account, subject.into(), queue_name.map(Into::into));
        let old = route.interest.get(&key).copied().unwrap_or(0);
        if old == 0 {
            // The origin of the first unit stays with the entry (nats-server keeps the
            // subscription it made of the first LS+).
            let origin = origin.filter(|o| !o.is_empty());
            match origin.map(|o| String::from_utf8_lossy(o).into()) {
                Some(origin) => route.origins.insert(key.clone(), origin),
                None => route.origins.remove(&key),
            };
        }
        if weight == 0 {
            route.interest.remove(&key);
        } else {
            route.interest.insert(key, weight);
        }
        self.adjust_link_interest(io, conn, account, subject, queue_name, old, weight);
    }

    /// `RS-`/`LS-` from a peer.
    pub(super) fn on_route_unsubscribe(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        account: &[u8],
        subject: &[u8],
        queue: Option<&[u8]>,
    ) {
        let Some(account) = self.live.auth.account_by_wire_name(account) else {
            return;
        };
        let Some(route) = self.route_mut(conn) else {
            return;
        };
        let key: RouteKey = (account, subject.into(), queue.map(Into::into));
        let Some(old) = route.interest.remove(&key) else {
            return;
        };
        self.adjust_link_interest(io, conn, account, subject, queue, old, 0);
        if let Some(route) = self.route_mut(conn) {
            route.origins.remove(&key);
        }
    }

    /// The leaf cluster a route's interest entry came from (`LS+ origin ...`).
    pub(in crate::broker) fn route_origin(
        &self,
        conn: ConnId,
        account: AccountIndex,
        subject: &[u8],
        queue: Option<&[u8]>,
    ) -> Option<Box<str>> {
        let key: RouteKey = (account, subject.into(), queue.map(Into::into));
        self.route_ref(conn)?.origins.get(&key).cloned()
    }

    /// The route is closing: all its interest goes.
    pub(super) fn withdraw_route_interest(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(route) = self.route_mut(conn) else {
            return;
        };
        let interest = std::mem::take(&mut route.interest);
        for ((account, subject, queue), weight) in interest {
            self.adjust_link_interest(io, conn, account, &subject, queue.as_deref(), weight, 0);
        }
        if let Some(route) = self.route_mut(conn) {
            route.origins.clear();
        }
    }
}
