//! Leaf node links, both roles: ringmq as a hub (a leaf dials our leaf port) and ringmq as
//! a leaf (we dial a hub's, `remote`). This module speaks spec beyond-core §B. A link lives
//! on core 0 (the leaf listener is accepted there, and core 0 dials the remotes) for its
//! whole life; after the handshake both roles run the same code.
//!
//! - `handshake`: the INFO on accept, the leaf's CONNECT, the second INFO (hub role).
//! - `auth`: the leaf port's authorization and accounts (hub role), the deny lists that
//!   keep subjects off a link (both roles).
//! - `remote`: dialling the remotes, the hub's INFOs, our CONNECT, redials (leaf role).
//! - `interest`: the leaf's LS+/LS- as interest entries every core sees, and the hub's
//!   interest (all cores, aggregated) sent to the leaf as LS+/LS-.
//! - `messages`: LMSG/HMSG in (routed like a publish, never back to the link) and out.
//! - `tls`: TLS on links, both roles (the leaf port's certificate, the remotes' client
//!   side, the handshake deadline and its failures).
//!
//! Interest model: a link's interest is kept on its core in `Shard::link_interest` (per
//! account; value = the link's slot, count = 1 for a subject, the weight for a queue
//! group) and broadcast to the other cores as link interest records; they keep it in their
//! `remote` trie under the core's index with `LINK_BIT` set, so a publish on any core
//! reaches the link with one record to its core, and a queue group prefers a member that
//! is not behind a link (nats-server's rule).

mod auth;
mod handshake;
mod interest;
mod messages;
mod remote;
mod tls;

use super::link_input::{LinkKind, LinkRead, LinkReader};
use super::timers::Timer;
use super::Shard;
use crate::auth::Authenticator;
use crate::monitor::leafz::LeafRecord;
use crate::protocol::link::{LinkOp, LinkParser};
use crate::protocol::{encoder, ParserLimits};
use crate::runtime::{CloseReason, ConnId, Io, TimerId};
use crate::{error, info};
use std::collections::HashMap;
use std::net::SocketAddr;

pub(super) use interest::HubInterest;
pub(super) use messages::{add_link_target, LinkTarget};
pub(super) use remote::{go_json, Remotes};
pub use tls::LeafTlsConfigs;
pub(super) use tls::{check_pinned, tls_server_name, NOT_PINNED};

/// In a `remote` trie value: the interest is behind a link on that core.
pub(super) const LINK_BIT: u16 = 0x8000;

/// The core index in a `remote` trie value.
pub(super) fn core_of(value: u16) -> usize {
    usize::from(value & !LINK_BIT)
}

/// Where a link is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// INFO sent; its CONNECT has not arrived.
    AwaitingConnect,
    /// Its CONNECT's password is being checked off the core; input read meanwhile waits.
    Authenticating,
    /// Leaf role: dialled; the hub's INFO has not arrived.
    AwaitingInfo,
    /// Leaf role: CONNECT sent; the hub's INFO with `connect_info` has not arrived.
    AwaitingConnectInfo,
    Active,
    Closing,
}

/// One leaf connection.
#[derive(Debug)]
pub(super) struct LeafLink {
    id: ConnId,
    /// Server-wide id (`lid` in logs).
    cid: u64,
    peer: SocketAddr,
    phase: Phase,
    reader: LinkReader,
    /// The leaf's `server_id` and `name` from its CONNECT.
    remote_id: String,
    remote_name: String,
    account: crate::auth::AccountIndex,
    /// Bound to `account`: an accepted link once authorized, a dialled one from the start.
    bound: bool,
    /// Subjects this link does not carry (`None`: all of them).
    deny: Option<Box<auth::LinkDeny>>,
    /// The cluster of the server at the other end (its CONNECT's or INFO's `cluster`): the
    /// origin its interest carries to the routes.
    remote_cluster: Option<Box<str>>,
    /// Hub role: the permissions of the user the leaf logged in as (`None`: none).
    permissions: Option<Box<auth::LeafPermissions>>,
    /// The leaf port's auth timer, until the CONNECT; during a TLS handshake (either
    /// role) its deadline.
    auth_timer: Option<TimerId>,
    /// A TLS handshake is under way on the link.
    tls_handshaking: bool,
    /// The CONNECT being checked off the core, and what was read after it.
    pending: Option<Box<auth::PendingConnect>>,
    /// The leaf's interest: (subject, queue) → weight (1 for a subject).
    interest: HashMap<interest::InterestKey, u32>,
    pings_out: u32,
    ping_timer: Option<TimerId>,
    /// /leafz counters: plain fields, the link's core alone writes and reads them.
    pub(super) in_msgs: u64,
    pub(super) out_msgs: u64,
    pub(super) in_bytes: u64,
    pub(super) out_bytes: u64,
    /// When our last PING went out (cleared by its PONG), and the round trip it measured.
    pub(super) ping_sent_at: Option<std::time::Instant>,
    rtt: std::time::Duration,
    /// Leaf role: the index of the remote this link was dialled for.
    remote: Option<usize>,
    /// Leaf role: closed for a loop (ours or the hub's -ERR): the next dial waits 30 s.
    refused: bool,
}

/// How a leaf link is read (see `link_input`).
const LEAF_READS: LinkKind = LinkKind {
    reader: leaf_reader,
    on_op: Shard::on_link_op,
    on_end: Shard::leaf_read_end,
};

fn leaf_reader(shard: &mut Shard, conn: ConnId) -> Option<&mut LinkReader> {
    shard.link_mut(conn).map(|link| &mut link.reader)
}

/// The close reason after a loop was detected (either side).
const LOOP_DETECTED: &str = "Leafnode Loop Detected";

impl Shard {
    fn link(&self, conn: ConnId) -> Option<&LeafLink> {
        match self.links.get(conn.slot as usize) {
            Some(Some(link)) if link.id == conn => Some(link),
            _ => None,
        }
    }

    fn link_mut(&mut self, conn: ConnId) -> Option<&mut LeafLink> {
        match self.links.get_mut(conn.slot as usize) {
            Some(Some(link)) if link.id == conn => Some(link),
            _ => None,
        }
    }

    /// A connection accepted on the leaf port: INFO, and the ping timer.
    pub(super) fn open_leaf(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        let cid = self.new_link(conn, peer, None, Phase::AwaitingConnect);
        // nats-server's text, with its trailing space (the leaf's name is not known yet).
        info!("{peer} - lid:{cid} - Leafnode connection created ");
        self.send_leaf_info(io, conn, cid, false);
        self.arm_leaf_ping(io, conn);
        // With TLS the auth timer starts once the handshake is done.
        if !self.start_leaf_port_tls(io, conn) {
            self.arm_leaf_auth_timer(io, conn);
        }
    }

    /// Registers a new link in `phase`; returns its `lid`.
    fn new_link(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        remote: Option<usize>,
        phase: Phase,
    ) -> u64 {
        let limits = &self.live.config.limits;
        let parser = LinkParser::new(ParserLimits {
            max_control_line: limits.max_control_line,
            max_payload: limits.max_payload,
        });
        let cid = self
            .shared
            .next_client_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let slot = conn.slot as usize;
        if self.links.len() <= slot {
            self.links.resize_with(slot + 1, || None);
        }
        self.links[slot] = Some(Box::new(LeafLink {
            id: conn,
            cid,
            peer,
            phase,
            reader: LinkReader::new(parser),
            remote_id: String::new(),
            remote_name: String::new(),
            account: crate::auth::GLOBAL_ACCOUNT,
            bound: false,
            deny: None,
            permissions: None,
            remote_cluster: None,
            auth_timer: None,
            tls_handshaking: false,
            pending: None,
            interest: HashMap::new(),
            pings_out: 0,
            ping_timer: None,
            in_msgs: 0,
            out_msgs: 0,
            in_bytes: 0,
            out_bytes: 0,
            ping_sent_at: None,
            rtt: std::time::Duration::ZERO,
            remote,
            refused: false,
        }));
        cid
    }

    pub(super) fn leaf_input(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        let Some(link) = self.link_mut(conn) else {
            return;
        };
        if link.phase == Phase::Closing {
            return;
        }
        self.link_input(io, conn, data, &LEAF_READS);
    }

    /// The stall gate or the auth check let the link go: its held input first, then
    /// reading again (unless that input paused it anew).
    pub(super) fn resume_leaf(&mut self, io: &mut Io<'_>, conn: ConnId) {
        self.resume_link(io, conn, &LEAF_READS);
    }

    /// Whether `conn` is a leaf whose CONNECT waits for its bcrypt check.
    pub(in crate::broker) fn leaf_awaits_auth(&self, conn: ConnId) -> bool {
        self.link(conn)
            .is_some_and(|link| link.phase == Phase::Authenticating)
    }

    /// The end of one read of a leaf link: a refused operation or a protocol error closes
    /// it (before the CONNECT, as an authorization failure).
    fn leaf_read_end(&mut self, io: &mut Io<'_>, conn: ConnId, read: LinkRead) {
        match (read.parsed, read.failure) {
            (_, Some(reason)) => self.close_leaf(io, conn, reason),
            (Err(_), None)
                if self
                    .link(conn)
                    .is_some_and(|link| link.phase == Phase::AwaitingConnect) =>
            {
                io.write(conn, encoder::err::AUTHORIZATION_VIOLATION);
                self.close_leaf(io, conn, "Authentication Failure");
            }
            (Err(error), None) => {
                self.line.clear();
                encoder::err_line(&mut self.line, super::link_input::parse_error_text(error));
                io.write(conn, &self.line);
                self.close_leaf(io, conn, "Protocol Violation");
            }
            (Ok(_), None) => {}
        }
    }

    /// One operation from a link; an `Err` closes it with that reason.
    fn on_link_op(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        op: LinkOp<'_>,
    ) -> Result<(), &'static str> {
        let phase = self.link(conn).map_or(Phase::Closing, |link| link.phase);
        match (phase, op) {
            (Phase::Closing, _) => Ok(()),
            // Never reached: the input of a link whose CONNECT is being checked is held as
            // bytes (`leaf_input`, `parse_link_read`) until the answer.
            (Phase::Authenticating, _) => Err("Protocol Violation"),
            // The leaf port requires authentication: whatever comes before the CONNECT is
            // refused as nats-server refuses it.
            (Phase::AwaitingConnect, op) if !matches!(op, LinkOp::Connect(_)) => {
                io.write(conn, encoder::err::AUTHORIZATION_VIOLATION);
                Err("Authentication Failure")
            }
            (_, LinkOp::Ping) => {
                io.write(conn, encoder::PONG);
                Ok(())
            }
            (_, LinkOp::Pong) => {
                let now = io.now();
                if let Some(link) = self.link_mut(conn) {
                    link.pings_out = 0;
                    if let Some(sent) = link.ping_sent_at.take() {
                        link.rtt = now.saturating_duration_since(sent);
                    }
                }
                Ok(())
            }
            (_, LinkOp::Info(json)) => self.on_remote_info(io, conn, json),
            (_, LinkOp::Ok) => Ok(()),
            (_, LinkOp::Err(text)) => {
                let looped = text.windows(13).any(|w| w == b"Loop detected")
                    || text.windows(17).any(|w| w == b"same cluster name");
                if let Some(link) = self.link_mut(conn) {
                    link.refused |= looped;
                }
                if let Some(link) = self.link(conn) {
                    error!(
                        "{} - lid:{} - Leafnode Error {}",
                        link.peer,
                        link.cid,
                        String::from_utf8_lossy(text)
                    );
                }
                Err("Client Closed")
            }
            (Phase::AwaitingConnect, LinkOp::Connect(json)) => self.on_leaf_connect(io, conn, json),
            (Phase::AwaitingConnect | Phase::AwaitingInfo | Phase::AwaitingConnectInfo, _) => {
                Err("Protocol Violation")
            }
            (Phase::Active, LinkOp::Connect(_)) => Err("Protocol Violation"),
            (Phase::Active, LinkOp::Subscribe { subject, queue, .. }) => {
                self.on_leaf_subscribe(io, conn, subject, queue)
            }
            (Phase::Active, LinkOp::Unsubscribe { subject, queue, .. }) => {
                self.on_leaf_unsubscribe(io, conn, subject, queue);
                Ok(())
            }
            (Phase::Active, LinkOp::Message(message)) => {
                self.on_leaf_message(io, conn, &message);
                Ok(())
            }
        }
    }

    /// Closes a link (flushing what is queued, so an -ERR written before reaches it).
    pub(super) fn close_leaf(&mut self, io: &mut Io<'_>, conn: ConnId, reason: &str) {
        let Some(link) = self.link_mut(conn) else {
            return;
        };
        if link.phase == Phase::Closing {
            return;
        }
        link.phase = Phase::Closing;
        link.refused |= reason == LOOP_DETECTED;
        link.reader.drop_held();
        let timers = [link.ping_timer.take(), link.auth_timer.take()];
        let (peer, cid, account, bound) = (link.peer, link.cid, link.account, link.bound);
        let label = self.link_account_label(account, bound);
        info!("{peer} - lid:{cid} - Leafnode connection closed: {reason} account: {label}");
        for timer in timers.into_iter().flatten() {
            io.cancel_timer(timer);
        }
        self.withdraw_leaf_interest(io, conn);
        io.close(conn, true);
    }

    pub(super) fn leaf_closed(&mut self, io: &mut Io<'_>, conn: ConnId, reason: CloseReason) {
        if let Some(link) = self.link(conn).filter(|link| link.phase != Phase::Closing) {
            let handshaking = link.tls_handshaking;
            let text = match reason {
                CloseReason::WriteDeadline => "Slow Consumer (Write Deadline)",
                CloseReason::Shutdown => "Server Shutdown",
                CloseReason::Tls(failure) => self.leaf_tls_failed(conn, failure),
                CloseReason::PeerClosed if handshaking => self.leaf_tls_failed_eof(conn),
                _ => "Client Closed",
            };
            self.close_leaf(io, conn, text);
        }
        let Some(entry) = self.links.get_mut(conn.slot as usize) else {
            return;
        };
        if let Some(link) = entry.take_if(|link| link.id == conn) {
            self.remote_link_closed(io, &link, reason == CloseReason::Shutdown);
        }
    }

    pub(super) fn arm_leaf_ping(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let at = io.now() + self.live.config.limits.ping_interval;
        let timer = io.set_timer(at, Timer::Ping(conn).token());
        if let Some(link) = self.link_mut(conn) {
            if let Some(old) = link.ping_timer.replace(timer) {
                io.cancel_timer(old);
            }
        }
    }

    /// Keep-alive: a PING every `ping_interval`, `Stale Connection` after `ping_max`
    /// unanswered, as for clients.
    pub(super) fn on_leaf_ping_timer(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let ping_max = self.live.config.limits.ping_max;
        let Some(link) = self.link_mut(conn) else {
            return;
        };
        link.ping_timer = None;
        match link.phase {
            Phase::Closing => return,
            // Its password is being checked: the keep-alive starts over once it is done.
            Phase::Authenticating => {
                self.arm_leaf_ping(io, conn);
                return;
            }
            Phase::AwaitingInfo | Phase::AwaitingConnectInfo => {
                self.close_leaf(io, conn, "Stale Leaf Node Connection");
                return;
            }
            Phase::AwaitingConnect | Phase::Active => {}
        }
        if link.pings_out + 1 > ping_max {
            io.write(conn, encoder::err::STALE_CONNECTION);
            self.close_leaf(io, conn, "Stale Connection");
            return;
        }
        link.pings_out += 1;
        link.ping_sent_at = Some(io.now());
        io.write(conn, encoder::PING);
        self.arm_leaf_ping(io, conn);
    }
}

impl Shard {
    /// The cluster was renamed by a reload: the links we dialled are closed (nats-server's
    /// `setClusterName`), and dialled again, to meet the hub under the new name.
    pub(super) fn close_solicited_links(&mut self, io: &mut Io<'_>, reason: &str) {
        let solicited: Vec<ConnId> = self
            .links
            .iter()
            .flatten()
            .filter(|link| link.remote.is_some())
            .map(|link| link.id)
            .collect();
        for conn in solicited {
            self.close_leaf(io, conn, reason);
        }
    }
}

/// Links past their CONNECT (nats-server counts and lists only those).
pub(super) fn active_links(links: &[Option<Box<LeafLink>>]) -> impl Iterator<Item = &LeafLink> {
    links
        .iter()
        .flatten()
        .map(|link| &**link)
        .filter(|link| link.phase == Phase::Active)
}

/// /leafz records of the links bound to `account` (all when empty), with their subjects
/// when `subjects` is set.
pub(super) fn leaf_records(
    links: &[Option<Box<LeafLink>>],
    auth: &Authenticator,
    account: &str,
    subjects: bool,
) -> Vec<LeafRecord> {
    active_links(links)
        .filter_map(|link| {
            let name = auth.account_name(link.account);
            if !account.is_empty() && account != name {
                return None;
            }
            Some(LeafRecord {
                account: name.to_string(),
                ip: link.peer.ip().to_string(),
                port: link.peer.port(),
                rtt_nanos: link.rtt.as_nanos() as u64,
                in_msgs: link.in_msgs,
                out_msgs: link.out_msgs,
                in_bytes: link.in_bytes,
                out_bytes: link.out_bytes,
                subscriptions: link.interest.len() as u32,
                subjects: subjects.then(|| {
                    link.interest
                        .keys()
                        .map(|(subject, _)| String::from_utf8_lossy(subject).into_owned())
                        .collect()
                }),
            })
        })
        .collect()
}
