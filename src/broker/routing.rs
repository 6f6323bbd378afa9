//! The publish path: match this core's subscriptions and the other cores' interest, write
//! to local subscribers, forward one record per interested core, choose queue members.

use super::connection::{pattern_matches, ClosedReason, SubKey};
use super::interest::{self, ForwardedMessage};
use super::leaf::{self, LINK_BIT};
use super::shard::Shard;
use crate::auth::AccountIndex;
use crate::protocol::encoder::{self, err};
use crate::runtime::{ConnId, Io};
use crate::subjects::{Matches, QueueMatch};
use crate::{error, info};
use std::sync::atomic::Ordering;

/// A published message. Byte fields are as the publisher sent them.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The subject the message is routed by.
    pub subject: &'a [u8],
    /// The subject subscribers see when it differs (JetStream deliveries are routed by the
    /// deliver subject and shown with the stored message's subject); `None` for clients'.
    pub deliver_as: Option<&'a [u8]>,
    pub reply: Option<&'a [u8]>,
    /// HPUB's header size field; `None` for PUB.
    pub header_size: Option<&'a [u8]>,
    /// PUB's size field or HPUB's total size field, echoed verbatim in MSG/HMSG.
    pub total_size: &'a [u8],
    /// Length of the header block (0 for PUB).
    pub header_len: usize,
    /// Header block then payload.
    pub message: &'a [u8],
}

/// Subjects reserved for gateway replies: publishing to them is refused (spec §1.3).
const RESERVED_SUBJECT_PREFIX: &[u8] = b"_GR_.";

/// Reply subjects reserved for the server's own use (spec §1.3).
const RESERVED_REPLY_PREFIXES: [&[u8]; 3] = [b"_R_.", b"$JS.ACK.", b"_GR_."];

impl Shard {
    /// A PUB or HPUB from a local connection.
    pub(super) fn on_publish(&mut self, io: &mut Io<'_>, conn: ConnId, message: &Message<'_>) {
        let now = io.now();
        let Some(client) = self
            .clients
            .get_mut(conn.slot as usize)
            .and_then(Option::as_mut)
        else {
            return;
        };
        debug_assert_eq!(client.id, conn);
        client.in_msgs += 1;
        client.in_bytes += message.message.len() as u64;
        client.last_activity = now;
        let options = &client.options;
        let (verbose, echo, no_responders) = (options.verbose, options.echo, options.no_responders);
        let pedantic = options.pedantic;
        let account = client.account;
        let reserved = message.subject.starts_with(RESERVED_SUBJECT_PREFIX);
        // Permissions in nats-server's order: the reserved prefix first, then the user's
        // rules (a response grant is used up only when those are reached).
        let allowed = match client.permissions.as_mut() {
            Some(permissions) if !reserved => permissions.may_publish(message.subject, io.now()),
            _ => true,
        };
        if pedantic && !crate::subjects::is_valid_literal(message.subject) {
            io.write(conn, err::INVALID_PUBLISH_SUBJECT);
        }
        self.counters.in_msgs += 1;
        self.counters.in_bytes += message.message.len() as u64;
        if reserved || !allowed {
            self.permission_violation(io, conn, "Publish to", "Subject", message.subject);
            return;
        }
        if let Some(reply) = message.reply {
            if RESERVED_REPLY_PREFIXES.iter().any(|p| reply.starts_with(p)) {
                self.permission_violation(io, conn, "Publish with Reply of", "Reply", reply);
                return;
            }
        }
        if verbose {
            io.write(conn, encoder::OK);
        }
        let delivered = self.route(io, conn, echo, account, message);
        if let Some(consumer) = self.congested.take() {
            if consumer != conn {
                self.stall_publisher(io, conn, consumer);
            }
        }
        if !delivered && no_responders {
            if let Some(reply) = message.reply {
                self.answer_no_responders(io, conn, reply);
            }
        }
    }

    /// `-ERR 'Permissions Violation for <what> "<subject>"'` and nats-server's log line
    /// (`Publish Violation - User "x", <field> "<subject>"`); the connection stays open.
    fn permission_violation(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        what: &str,
        field: &str,
        subject: &[u8],
    ) {
        // nats-server quotes with Go's %q; {:?} of a str gives the same for printable text.
        let subject = String::from_utf8_lossy(subject);
        let text = format!("Permissions Violation for {what} {subject:?}");
        self.send_violation(io, conn, &text);
        if let Some(client) = self.client(conn) {
            let options = &client.options;
            let user = crate::auth::user_label(options.nkey.as_deref(), options.user.as_deref());
            error!(
                "{} - {} - Publish Violation - {user}, {field} {subject:?}",
                client.peer,
                client.tag()
            );
        }
    }

    /// `-ERR 'Permissions Violation for Subscription to "<subject>"'` (plus ` using queue
    /// "<queue>"`) and nats-server's log line; the connection stays open.
    pub(super) fn subscription_violation(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
    ) {
        let subject = String::from_utf8_lossy(subject);
        let queue = queue.map(String::from_utf8_lossy);
        let text = match &queue {
            Some(queue) => {
                format!(
                    "Permissions Violation for Subscription to {subject:?} using queue {queue:?}"
                )
            }
            None => format!("Permissions Violation for Subscription to {subject:?}"),
        };
        self.send_violation(io, conn, &text);
        if let Some(client) = self.client(conn) {
            let options = &client.options;
            let user = crate::auth::user_label(options.nkey.as_deref(), options.user.as_deref());
            let queue = queue.map(|q| format!(", Queue: {q:?}")).unwrap_or_default();
            error!(
                "{} - {} - Subscription Violation - {user}, Subject {subject:?}{queue}, SID {}",
                client.peer,
                client.tag(),
                String::from_utf8_lossy(sid)
            );
        }
    }

    fn send_violation(&mut self, io: &mut Io<'_>, conn: ConnId, text: &str) {
        self.line.clear();
        encoder::err_line(&mut self.line, text);
        io.write(conn, &self.line);
    }

    /// Delivers to local subscribers and forwards to interested cores; returns whether the
    /// message went anywhere (for no-responders).
    fn route(
        &mut self,
        io: &mut Io<'_>,
        publisher: ConnId,
        echo: bool,
        account: AccountIndex,
        message: &Message<'_>,
    ) -> bool {
        self.collect_targets(publisher, echo, account, message.subject, None);
        self.deliver_collected(io, account, message)
    }

    /// A publish of the server's own client (`internal`): echo on, no permissions.
    pub(super) fn route_internal(
        &mut self,
        io: &mut Io<'_>,
        publisher: ConnId,
        account: AccountIndex,
        message: &Message<'_>,
    ) -> bool {
        self.route(io, publisher, true, account, message)
    }

    /// A message from a leaf link or a route (see [`LinkSource`]): routed as a publish that
    /// never goes back to its link, and from a route to no other route.
    pub(super) fn route_from_link(
        &mut self,
        io: &mut Io<'_>,
        link: ConnId,
        account: AccountIndex,
        message: &Message<'_>,
        source: LinkSource<'_>,
    ) {
        self.message_from_leaf = !source.route;
        self.collect_targets(link, false, account, message.subject, Some(source));
        self.deliver_collected(io, account, message);
        self.message_origin.clear();
        self.message_from_leaf = false;
        if let Some(consumer) = self.congested.take() {
            self.stall_link(io, link, consumer);
        }
    }

    // Inlined into both callers: as a call, this and `collect_targets` cost a publish with
    // no subscriber 25 % more instructions (callgrind, pub-only 16 B, 1 core).
    #[inline(always)]
    fn deliver_collected(
        &mut self,
        io: &mut Io<'_>,
        account: AccountIndex,
        message: &Message<'_>,
    ) -> bool {
        let mut delivered = false;
        for index in 0..self.targets.len() {
            let key = self.targets[index];
            delivered |= self.deliver(io, key, message);
        }
        if !self.link_targets.is_empty() {
            delivered |= self.send_to_links(io, account, message);
        }
        if self.cores > 1 {
            delivered |= self.forward(io, account, message);
        }
        delivered
    }

    /// Fills `targets` with local subscriptions, `link_targets` with this core's links, and
    /// `remote_targets`/`remote_queues` with the cores to forward to, choosing one member
    /// per queue group across all cores (a member behind a link only when there is no
    /// other). `from`: the link the message came from (see [`LinkSource`]).
    #[inline(always)]
    fn collect_targets(
        &mut self,
        publisher: ConnId,
        echo: bool,
        account: AccountIndex,
        subject: &[u8],
        from: Option<LinkSource<'_>>,
    ) {
        self.targets.clear();
        self.remote_targets.iter_mut().for_each(|t| *t = false);
        self.remote_queues.iter_mut().for_each(Vec::clear);
        self.link_targets.clear();
        let skip_slot = (!echo).then_some(publisher.slot);
        let account = usize::from(account);
        let local = self.local[account].match_subject(subject);
        for &(key, _) in &local.plain {
            if Some(key.conn_slot()) != skip_slot {
                self.targets.push(key);
            }
        }
        let remote = if self.cores > 1 {
            Some(self.remote[account].match_subject(subject))
        } else {
            None
        };
        if let Some(remote) = remote {
            for &(value, _) in &remote.plain {
                if from.is_none() || value & LINK_BIT == 0 {
                    self.remote_targets[leaf::core_of(value)] = true;
                }
            }
        }
        let links = if self.leaf_hub {
            Some(self.link_interest[account].match_subject(subject))
        } else {
            None
        };
        let routes = &self.routes;
        let may_take = |slot: u32| from.is_none_or(|from| from.may_go_to(slot, routes));
        // A routed queue message with no member here may go on to another route.
        let may_hand_on = |slot: u32| from.is_some_and(|from| from.may_hand_on(slot, routes));
        if let Some(links) = links {
            for &(slot, _) in &links.plain {
                if may_take(slot) {
                    leaf::add_link_target(&mut self.link_targets, slot, None);
                }
            }
        }
        let remote_queues = remote.map(|r| &r.queues);
        let link_queues = links.map(|l| &l.queues);
        // Most publishes reach no queue group: skip the group walk entirely.
        if local.queues.is_empty()
            && remote_queues.is_none_or(|queues| queues.is_empty())
            && link_queues.is_none_or(|queues| queues.is_empty())
        {
            return;
        }
        let wanted = |name: &[u8]| match from {
            Some(from) if !from.queues.is_empty() => from
                .queues
                .split(|&b| b == b' ' || b == b'\t')
                .any(|listed| listed == name),
            // A route names every group it chose us for; none named, none wanted.
            Some(from) => !from.route,
            None => true,
        };
        let mut rng = self.rng;
        let local_names = local.queues.iter().map(|q| &q.name);
        let remote_names = remote_queues.into_iter().flatten().map(|q| &q.name);
        let link_names = link_queues.into_iter().flatten().map(|q| &q.name);
        for (index, name) in local_names
            .chain(remote_names)
            .chain(link_names)
            .enumerate()
        {
            // Each group once: skip a name already seen in an earlier list.
            let local_group = match local.queues.get(index) {
                Some(group) => Some(group),
                None => find(Some(&local.queues), name),
            };
            let remote_group = find(remote_queues, name);
            let seen_before = match index.checked_sub(local.queues.len()) {
                None => false,
                Some(i) if i < remote_queues.map_or(0, Vec::len) => local_group.is_some(),
                Some(_) => local_group.is_some() || remote_group.is_some(),
            };
            if seen_before || !wanted(name) {
                continue;
            }
            let choice = choose_member(
                local_group,
                skip_slot,
                remote_group,
                find(link_queues, name),
                from.is_some(),
                (&may_take, &may_hand_on),
                &mut rng,
            );
            match choice {
                Choice::Local(key) => self.targets.push(key),
                Choice::Core(core) => {
                    self.remote_targets[core] = true;
                    interest::push_queue_name(&mut self.remote_queues[core], name);
                }
                Choice::Link(slot) => {
                    leaf::add_link_target(&mut self.link_targets, slot, Some(name));
                }
                Choice::None => {}
            }
        }
        self.rng = rng;
    }

    /// Sends one record to every core chosen by `collect_targets`.
    fn forward(&mut self, io: &mut Io<'_>, account: AccountIndex, message: &Message<'_>) -> bool {
        let mut forwarded = false;
        for core in 0..self.cores {
            if !self.remote_targets[core] {
                continue;
            }
            interest::encode_message_head(
                &mut self.record,
                account,
                message.subject,
                message.deliver_as,
                message.reply,
                message.header_size,
                message.total_size,
                message.header_len,
                &self.remote_queues[core],
            );
            io.send_mail(core, &[&self.record, message.message]);
            forwarded = true;
        }
        forwarded
    }

    /// A message forwarded by another core: every local plain subscriber, plus one member of
    /// each queue group that core chose us for.
    pub(super) fn deliver_forwarded(
        &mut self,
        io: &mut Io<'_>,
        from: usize,
        forwarded: &ForwardedMessage<'_>,
    ) {
        let message = Message {
            subject: forwarded.subject,
            deliver_as: forwarded.deliver_as,
            reply: forwarded.reply,
            header_size: forwarded.header_size,
            total_size: forwarded.total_size,
            header_len: forwarded.header_len,
            message: forwarded.message,
        };
        self.targets.clear();
        let account = usize::from(forwarded.account);
        let local: &Matches<SubKey> = self.local[account].match_subject(message.subject);
        self.targets.extend(local.plain.iter().map(|&(key, _)| key));
        let mut rng = self.rng;
        self.link_targets.clear();
        let links = if self.leaf_hub {
            Some(self.link_interest[account].match_subject(message.subject))
        } else {
            None
        };
        if let Some(links) = links {
            for &(slot, _) in &links.plain {
                leaf::add_link_target(&mut self.link_targets, slot, None);
            }
        }
        for name in forwarded.queues() {
            if let Some(group) = local.queues.iter().find(|q| &q.name[..] == name) {
                if !group.members.is_empty() {
                    let pick = next_random(&mut rng) % group.members.len() as u64;
                    self.targets.push(group.members[pick as usize].0);
                    continue;
                }
            }
            // No client member here: the group was chosen for a link on this core.
            let group = links.and_then(|l| l.queues.iter().find(|q| &q.name[..] == name));
            if let Some(slot) = group.and_then(|g| weighted_pick(&g.members, &mut rng)) {
                leaf::add_link_target(&mut self.link_targets, slot, Some(name));
            }
        }
        self.rng = rng;
        for index in 0..self.targets.len() {
            let key = self.targets[index];
            self.deliver(io, key, &message);
        }
        if !self.link_targets.is_empty() {
            self.send_to_links(io, forwarded.account, &message);
        }
        // The publisher is on another core: stop taking that core's mail until the consumer
        // drains; its mail backpressure then slows its publishers (the cross-core stall).
        if let Some(consumer) = self.congested.take() {
            self.stall_peer(io, from, consumer);
        }
    }

    /// Writes one MSG/HMSG to a local subscription; enforces max_pending and UNSUB max.
    fn deliver(&mut self, io: &mut Io<'_>, key: SubKey, message: &Message<'_>) -> bool {
        if key.conn_slot() == super::internal::INTERNAL_SLOT {
            return self.deliver_internal(key, message);
        }
        let max_pending = self.live.config.limits.max_pending;
        let now = io.now();
        let Some(Some(client)) = self.clients.get_mut(key.conn_slot() as usize) else {
            return false;
        };
        if !client.is_open() {
            return false;
        }
        let conn = client.id;
        if let Some(permissions) = client.permissions.as_mut() {
            // A wildcard subscription may reach around a subscribe deny entry (nats-server
            // filters at delivery), and a reply subject received may be answered
            // (allow_responses).
            if !permissions.may_receive(message.subject) {
                return false;
            }
            if let (Some(reply), true) = (message.reply, permissions.grants_responses()) {
                permissions.grant_response(reply, io.now());
            }
        }
        let wants_headers = client.options.headers;
        let Some(sub) = client.subscriptions.get_mut(key.sub_slot()) else {
            return false;
        };
        sub.delivered += 1;
        let done = sub.max.is_some_and(|max| sub.delivered >= max);
        let line = &mut self.line;
        line.clear();
        let shown = message.deliver_as.unwrap_or(message.subject);
        let body = match message.header_size {
            Some(header_size) if message.header_len > 0 && wants_headers => {
                encoder::hmsg_line(
                    line,
                    shown,
                    &sub.sid,
                    message.reply,
                    header_size,
                    message.total_size,
                );
                message.message
            }
            Some(_) if message.header_len > 0 => {
                let payload = &message.message[message.header_len..];
                encoder::msg_line_len(line, shown, &sub.sid, message.reply, payload.len());
                payload
            }
            _ => {
                encoder::msg_line(line, shown, &sub.sid, message.reply, message.total_size);
                message.message
            }
        };
        io.write_parts(conn, &[line, body, encoder::CRLF]);
        client.out_msgs += 1;
        client.out_bytes += body.len() as u64;
        client.last_activity = now;
        self.counters.out_msgs += 1;
        self.counters.out_bytes += body.len() as u64;
        let pending = io.pending_bytes(conn);
        if pending > max_pending {
            self.slow_consumer(io, conn, max_pending);
            return true;
        }
        if pending > max_pending / 2 {
            // A consumer found not reading gates no one until it reads again.
            let reading = match client.not_reading_at {
                Some(sent) if io.sent_bytes(conn) == sent => false,
                Some(_) => {
                    client.not_reading_at = None;
                    true
                }
                None => true,
            };
            if reading {
                self.congested = Some(conn);
            }
        }
        if done {
            self.remove_subscription(io, conn, key.sub_slot());
        }
        true
    }

    fn slow_consumer(&mut self, io: &mut Io<'_>, conn: ConnId, max_pending: usize) {
        if let Some(client) = self.client(conn) {
            info!(
                "{} - {} - Slow Consumer Detected: MaxPending of {} Exceeded",
                client.peer,
                client.tag(),
                max_pending
            );
        }
        self.shared.slow_consumers.fetch_add(1, Ordering::Relaxed);
        // nats-server drops pending data and sends no -ERR to a slow consumer.
        self.close_client(io, conn, false, ClosedReason::SlowConsumerPendingBytes);
    }

    /// The 503 status a requester with `no_responders` gets when its request reached no one:
    /// to its own first plain subscription matching the reply subject (spec §6).
    fn answer_no_responders(&mut self, io: &mut Io<'_>, conn: ConnId, reply: &[u8]) {
        // Field access, not `self.client()`, so that `self.line` stays borrowable.
        let Some(Some(client)) = self.clients.get(conn.slot as usize) else {
            return;
        };
        let Some(sub) = client
            .subscriptions
            .iter()
            .map(|(_, sub)| sub)
            .find(|sub| sub.queue.is_none() && pattern_matches(&sub.subject, reply))
        else {
            return;
        };
        // The status block is both the header and the whole message: `16 16`.
        const SIZE: &[u8] = b"16";
        debug_assert_eq!(encoder::NO_RESPONDERS_HEADER.len(), 16);
        self.line.clear();
        encoder::hmsg_line(&mut self.line, reply, &sub.sid, None, SIZE, SIZE);
        io.write_parts(
            conn,
            &[&self.line, encoder::NO_RESPONDERS_HEADER, encoder::CRLF],
        );
    }
}

/// The group called `name` in a match's queue list.
fn find<'a, V>(queues: Option<&'a Vec<QueueMatch<V>>>, name: &[u8]) -> Option<&'a QueueMatch<V>> {
    queues.and_then(|queues| queues.iter().find(|q| &q.name[..] == name))
}

/// Who serves a queue group for one message.
enum Choice {
    Local(SubKey),
    Core(usize),
    Link(u32),
    None,
}

/// Picks one member of a queue group: among local clients (`skip_slot` excluded) and
/// other cores' client members, weighted by members; only when there are none, among the
/// links (here and on other cores, by weight). A message from a link goes only to the links
/// `may_take` allows, and never through another core's.
fn choose_member(
    local: Option<&QueueMatch<SubKey>>,
    skip_slot: Option<u32>,
    remote: Option<&QueueMatch<u16>>,
    links: Option<&QueueMatch<u32>>,
    from_link: bool,
    (may_take, may_hand_on): (&dyn Fn(u32) -> bool, &dyn Fn(u32) -> bool),
    rng: &mut u64,
) -> Choice {
    let local_members = local.map_or(&[][..], |g| &g.members[..]);
    let remote_members = remote.map_or(&[][..], |g| &g.members[..]);
    let eligible = local_members
        .iter()
        .filter(|(key, _)| Some(key.conn_slot()) != skip_slot);
    let local_count = eligible.clone().count() as u64;
    let count_where = |link: bool| -> u64 {
        remote_members
            .iter()
            .filter(|&&(value, _)| (value & LINK_BIT != 0) == link)
            .map(|&(_, n)| u64::from(n))
            .sum()
    };
    let remote_count = count_where(false);
    let total = local_count + remote_count;
    if total > 0 {
        let pick = next_random(rng) % total;
        if pick < local_count {
            let (key, _) = eligible.clone().nth(pick as usize).expect("pick < count");
            return Choice::Local(*key);
        }
        let clients = remote_members.iter().filter(|&&(v, _)| v & LINK_BIT == 0);
        return weighted_member(clients, pick - local_count)
            .map_or(Choice::None, |value| Choice::Core(leaf::core_of(value)));
    }
    let link_members = links.map_or(&[][..], |g| &g.members[..]);
    let eligible_links = link_members.iter().filter(|&&(slot, _)| may_take(slot));
    let here: u64 = eligible_links.clone().map(|&(_, n)| u64::from(n)).sum();
    let elsewhere = if from_link { 0 } else { count_where(true) };
    let total = here + elsewhere;
    if total == 0 {
        // From a route, with no member but behind other routes: nats-server 2.9.10 hands
        // the message on to one of them (a leaf member would have been preferred).
        let routes = link_members.iter().filter(|&&(slot, _)| may_hand_on(slot));
        return weighted_pick_from(routes, rng).map_or(Choice::None, Choice::Link);
    }
    let pick = next_random(rng) % total;
    if pick < here {
        return weighted_member(eligible_links, pick).map_or(Choice::None, Choice::Link);
    }
    let behind_links = remote_members.iter().filter(|&&(v, _)| v & LINK_BIT != 0);
    weighted_member(behind_links, pick - here)
        .map_or(Choice::None, |value| Choice::Core(leaf::core_of(value)))
}

/// Where a message from a link came from, for the routing rules: it never goes back to its
/// link; from a route it goes to no route (one hop inside a cluster), except a queue
/// message for a group with no member here (handed on, as nats-server), from a leaf link to
/// routes and other leaf links. `queues` (blank-separated) are the groups the sender chose
/// this server for: from a leaf link none means every group, from a route none means no
/// group (its plain subscribers only).
#[derive(Clone, Copy, Debug)]
pub(super) struct LinkSource<'a> {
    pub slot: u32,
    pub route: bool,
    pub queues: &'a [u8],
}

impl LinkSource<'_> {
    fn may_go_to(&self, slot: u32, routes: &[Option<Box<super::route::Route>>]) -> bool {
        let to_route = matches!(routes.get(slot as usize), Some(Some(_)));
        slot != self.slot && !(self.route && to_route)
    }

    /// Whether a queue message from this route, for a group with no member here or behind
    /// a leaf link, may go on to `slot`: another route.
    fn may_hand_on(&self, slot: u32, routes: &[Option<Box<super::route::Route>>]) -> bool {
        let to_route = matches!(routes.get(slot as usize), Some(Some(_)));
        self.route && to_route && slot != self.slot
    }
}

/// One of `members` (slot, weight), each counted by its weight.
fn weighted_pick_from<'a>(
    members: impl Iterator<Item = &'a (u32, u32)> + Clone,
    rng: &mut u64,
) -> Option<u32> {
    let total: u64 = members.clone().map(|&(_, n)| u64::from(n)).sum();
    if total == 0 {
        return None;
    }
    weighted_member(members, next_random(rng) % total)
}

/// One member of `members`, each counted by its weight.
fn weighted_pick(members: &[(u32, u32)], rng: &mut u64) -> Option<u32> {
    let total: u64 = members.iter().map(|&(_, n)| u64::from(n)).sum();
    if total == 0 {
        return None;
    }
    weighted_member(members.iter(), next_random(rng) % total)
}

/// The member at position `pick` when each counts as many times as its count (`pick` <
/// the sum of the counts).
fn weighted_member<'a, V: Copy + 'a>(
    members: impl IntoIterator<Item = &'a (V, u32)>,
    mut pick: u64,
) -> Option<V> {
    for &(core, count) in members {
        if pick < u64::from(count) {
            return Some(core);
        }
        pick -= u64::from(count);
    }
    None
}

/// xorshift64* step; a free function so it can run while shard fields are borrowed.
pub(super) fn next_random(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[cfg(test)]
mod tests {
    use super::weighted_member;

    #[test]
    fn weighted_member_counts_each_core_by_its_members() {
        let members = [(1, 2), (3, 1), (1, 1)];
        let picks: Vec<_> = (0..5)
            .map(|pick| weighted_member(&members, pick))
            .collect::<Vec<Option<u16>>>();
        assert_eq!(picks, [Some(1), Some(1), Some(3), Some(1), None]);
    }
}
