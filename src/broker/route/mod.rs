//! Cluster routes: the connections between the servers of one cluster, in nats-server
//! 2.9.10's route protocol, so that ringmq and nats-server nodes form one cluster. A route
//! lives on core 0 for its whole life, like a leaf link (the route listener is accepted
//! there and core 0 dials the routes), and shares the link machinery: its interest is kept
//! in `Shard::link_interest` under its slot and broadcast to the other cores as link
//! interest, and the publish path reaches it as a link target.
//!
//! - `handshake`: INFO, CONNECT, the cluster name, registering a route (duplicates, a route
//!   to ourselves), gossip of new peers and the cluster's client URLs.
//! - `dial`: explicit routes (`routes`, redialled for ever) and implicit ones (learnt from
//!   gossip, `connect_retries`).
//! - `interest`: RS+/RS- (and LS+/LS-, a peer's leaf interest) in; out, every core's
//!   client interest and our leaf links' interest, aggregated per account.
//! - `messages`: RMSG/HMSG in (to local clients and leaf links, never to another route)
//!   and out.
//! - `permissions`: `cluster { permissions { import, export } }` on the interest both ways
//!   and on the messages sent.
//! - `reload`: a reloaded `cluster` block applied (the name, the permissions, the route
//!   list), and a peer's reloaded `export`.
//! - `tls`: `cluster { tls {} }`, the handshake both sides run before anything else.
//!
//! Routing rules (nats-server's): a message from a route goes to no route (one hop), but
//! a queue message for a group with no member here or behind a leaf link goes on to a
//! route with one (the sender's view was stale); a
//! message from a client or a leaf link goes to every route with interest; a queue group
//! prefers local members, and a route named in RMSG serves only the groups it names.

mod dial;
mod handshake;
mod interest;
mod messages;
mod permissions;
mod reload;
mod tls;

use super::link_input::{LinkKind, LinkRead, LinkReader};
use super::timers::Timer;
use super::Shard;
use crate::protocol::link::{Dialect, LinkOp, LinkParser};
use crate::protocol::{encoder, ParserLimits};
use crate::runtime::{CloseReason, ConnId, Io, TimerId};
use crate::{error, info};
use std::collections::HashMap;
use std::net::SocketAddr;

pub(super) use dial::{RouteDials, ROUTE_DIAL_TAG};
pub(super) use handshake::Cluster;
pub(super) use interest::{RouteInterest, RouteOrigins};
pub(super) use permissions::{PeerPermission, PermissionJson, RouteRules};
pub use tls::RouteTlsConfigs;

/// How a route is read (see `link_input`).
const ROUTE_READS: LinkKind = LinkKind {
    reader: route_reader,
    on_op: Shard::on_route_op,
    on_end: Shard::route_read_end,
};

fn route_reader(shard: &mut Shard, conn: ConnId) -> Option<&mut LinkReader> {
    shard.route_mut(conn).map(|route| &mut route.reader)
}

/// When a route's first PING goes out (nats-server: a second, plus some jitter).
const FIRST_ROUTE_PING: std::time::Duration = std::time::Duration::from_secs(1);

/// Where a route is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The handshake: our INFO (and CONNECT, if we dialled) sent; the peer's CONNECT (if
    /// it dialled) and INFO not yet both in.
    Handshake,
    Active,
    Closing,
}

/// One route connection (core 0).
#[derive(Debug)]
pub(super) struct Route {
    id: ConnId,
    /// Server-wide id (`rid` in logs).
    rid: u64,
    peer: SocketAddr,
    phase: Phase,
    reader: LinkReader,
    /// We dialled it: the index of its dial in `RouteDials`.
    dial: Option<usize>,
    /// The peer dialled us and its CONNECT has arrived.
    got_connect: bool,
    /// The peer's identity and addresses, from its INFO.
    remote_id: String,
    remote_name: String,
    /// The peer's route URL (`host:port`), told to the other routes (gossip).
    route_url: Option<String>,
    /// The `host` and `port` of the peer's INFO, forwarded in gossip as they came.
    remote_host: String,
    remote_port: u16,
    /// The peer's client URLs (its INFO `connect_urls`).
    client_urls: Vec<String>,
    /// The peer's route port wants credentials (told on in gossip).
    auth_required: bool,
    /// The peer's leaf URLs (its INFO `leafnode_urls`).
    leaf_urls: Vec<String>,
    /// The peer's interest: (account, subject, queue) → weight (1 for a subject).
    interest: HashMap<interest::RouteKey, u32>,
    /// The origin cluster of the peer's interest it sent as `LS+ origin ...`.
    origins: HashMap<interest::RouteKey, Box<str>>,
    pings_out: u32,
    ping_timer: Option<TimerId>,
    /// An accepted route's deadline for its CONNECT (route `authorization`), or, while
    /// `tls_handshaking`, the TLS handshake's.
    auth_timer: Option<TimerId>,
    /// The TLS handshake (route TLS) is under way: nothing has been sent yet.
    tls_handshaking: bool,
    /// The route permissions' state on this route (`None`: no route permissions): the
    /// delivery filter its wildcard interest may need.
    permissions: Option<Box<crate::auth::ClientPermissions>>,
    /// The peer's `export` as its INFO last told it (`None`: it takes everything); a
    /// later INFO that widens it gets our interest it now takes.
    peer_export: Option<crate::auth::SubjectPermission>,
    /// The peer takes leaf-origin interest and messages (`lnoc` in its INFO).
    lnoc: bool,
    /// An accepted route's CONNECT credentials, checked again when a reload changes the
    /// route `authorization` (nats-server's `isRouterAuthorized` on reload).
    login: Option<(String, String)>,
    /// The ticket of that re-check while its bcrypt comparison runs (the route goes on).
    recheck_ticket: Option<u64>,
    /// The peer's CONNECT while its bcrypt password check runs (its input held).
    pending_connect: Option<Box<handshake::PendingRouteConnect>>,
    pub(super) in_msgs: u64,
    pub(super) out_msgs: u64,
    pub(super) in_bytes: u64,
    pub(super) out_bytes: u64,
    ping_sent_at: Option<std::time::Instant>,
    rtt: std::time::Duration,
    /// For /routez: when the connection was made, and when it last received anything.
    started: std::time::Instant,
    last_activity: std::time::Instant,
}

impl Shard {
    fn route_ref(&self, conn: ConnId) -> Option<&Route> {
        match self.routes.get(conn.slot as usize) {
            Some(Some(route)) if route.id == conn => Some(route),
            _ => None,
        }
    }

    fn route_mut(&mut self, conn: ConnId) -> Option<&mut Route> {
        match self.routes.get_mut(conn.slot as usize) {
            Some(Some(route)) if route.id == conn => Some(route),
            _ => None,
        }
    }

    /// Registers a new route connection; returns its `rid`.
    fn new_route(
        &mut self,
        io: &Io<'_>,
        conn: ConnId,
        peer: SocketAddr,
        dial: Option<usize>,
    ) -> u64 {
        let now = io.now();
        let limits = &self.live.config.limits;
        let parser = LinkParser::with_dialect(
            Dialect::Route,
            ParserLimits {
                max_control_line: limits.max_control_line,
                max_payload: limits.max_payload,
            },
        );
        let rid = self
            .shared
            .next_client_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let permissions = self.new_route_permissions();
        let slot = conn.slot as usize;
        if self.routes.len() <= slot {
            self.routes.resize_with(slot + 1, || None);
        }
        self.routes[slot] = Some(Box::new(Route {
            id: conn,
            rid,
            peer,
            phase: Phase::Handshake,
            reader: LinkReader::new(parser),
            dial,
            got_connect: false,
            remote_id: String::new(),
            remote_name: String::new(),
            route_url: None,
            remote_host: String::new(),
            remote_port: 0,
            client_urls: Vec::new(),
            auth_required: false,
            leaf_urls: Vec::new(),
            interest: HashMap::new(),
            origins: HashMap::new(),
            pings_out: 0,
            ping_timer: None,
            auth_timer: None,
            tls_handshaking: false,
            pending_connect: None,
            permissions,
            peer_export: None,
            lnoc: false,
            login: None,
            recheck_ticket: None,
            in_msgs: 0,
            out_msgs: 0,
            in_bytes: 0,
            out_bytes: 0,
            ping_sent_at: None,
            rtt: std::time::Duration::ZERO,
            started: now,
            last_activity: now,
        }));
        rid
    }

    /// A connection accepted on the route port: the TLS handshake first with route TLS,
    /// then (`greet_accepted_route`) our INFO and a PING, as nats-server.
    pub(super) fn open_route(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        self.new_route(io, conn, peer, None);
        if !self.start_route_server_tls(io, conn) {
            self.greet_accepted_route(io, conn);
        }
    }

    /// An accepted route is set up (past its TLS handshake, if any): INFO, the first PING's
    /// timer, and the deadline for its CONNECT when routes are authenticated.
    fn greet_accepted_route(&mut self, io: &mut Io<'_>, conn: ConnId) {
        if let Some(route) = self.route_ref(conn) {
            info!(
                "{} - rid:{} - Route connection created",
                route.peer, route.rid
            );
        }
        self.send_route_info(io, conn, None);
        self.arm_first_route_ping(io, conn);
        let default_timeout = match &self.shared.route_tls {
            Some(tls) => tls.auth_timeout(),
            None => self.live.config.limits.route_auth_timeout,
        };
        let auth_timeout = self.live.config.cluster.as_ref().and_then(|cluster| {
            let auth = cluster.authorization.as_ref()?;
            Some(auth.timeout.unwrap_or(default_timeout))
        });
        if let Some(timeout) = auth_timeout {
            let timer = io.set_timer(io.now() + timeout, Timer::Auth(conn).token());
            if let Some(route) = self.route_mut(conn) {
                route.auth_timer = Some(timer);
            }
        }
    }

    /// An accepted route sent no CONNECT in time.
    pub(super) fn on_route_auth_timer(&mut self, io: &mut Io<'_>, conn: ConnId) {
        if self.on_route_tls_deadline(io, conn) {
            return;
        }
        if let Some(route) = self.route_mut(conn) {
            route.auth_timer = None;
        }
        if !self.route_must_authenticate(conn)
            || self
                .route_ref(conn)
                .is_none_or(|route| route.phase == Phase::Closing)
        {
            return;
        }
        io.write(conn, b"-ERR 'Authentication Timeout'\r\n");
        self.close_route(io, conn, "Authentication Timeout");
    }

    pub(super) fn route_input(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        let Some(route) = self.route_mut(conn) else {
            return;
        };
        if route.phase == Phase::Closing {
            return;
        }
        route.last_activity = io.now();
        self.link_input(io, conn, data, &ROUTE_READS);
    }

    /// The stall gate let the route go: its held input first, then reading again.
    pub(super) fn resume_route(&mut self, io: &mut Io<'_>, conn: ConnId) {
        self.resume_link(io, conn, &ROUTE_READS);
    }

    /// The end of one read of a route: a refused operation or a protocol error closes it.
    fn route_read_end(&mut self, io: &mut Io<'_>, conn: ConnId, read: LinkRead) {
        match (read.parsed, read.failure) {
            (_, Some(reason)) => self.close_route(io, conn, reason),
            (Err(_), None) if self.route_must_authenticate(conn) => {
                let reason = self.refuse_route(io, conn, "");
                self.close_route(io, conn, reason);
            }
            (Err(error), None) => {
                let text = super::link_input::parse_error_text(error);
                self.write_route_error(io, conn, text);
                self.close_route(io, conn, "Protocol Violation");
            }
            (Ok(_), None) => {}
        }
    }

    /// One operation from a route; an `Err` closes it with that reason.
    fn on_route_op(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        op: LinkOp<'_>,
    ) -> Result<(), &'static str> {
        let phase = self
            .route_ref(conn)
            .map_or(Phase::Closing, |route| route.phase);
        match (phase, op) {
            (Phase::Closing, _) => Ok(()),
            // With route authorization, nothing before an accepted route's CONNECT counts.
            (Phase::Handshake, op)
                if !matches!(op, LinkOp::Connect(_)) && self.route_must_authenticate(conn) =>
            {
                Err(self.refuse_route(io, conn, ""))
            }
            (_, LinkOp::Ping) => {
                io.write(conn, encoder::PONG);
                Ok(())
            }
            (_, LinkOp::Pong) => {
                let now = io.now();
                if let Some(route) = self.route_mut(conn) {
                    route.pings_out = 0;
                    if let Some(sent) = route.ping_sent_at.take() {
                        route.rtt = now.saturating_duration_since(sent);
                    }
                }
                Ok(())
            }
            (_, LinkOp::Ok) => Ok(()),
            (_, LinkOp::Err(text)) => {
                if let Some(route) = self.route_ref(conn) {
                    error!(
                        "{} - rid:{} - Route Error {}",
                        route.peer,
                        route.rid,
                        String::from_utf8_lossy(text)
                    );
                }
                Err("Client Closed")
            }
            (_, LinkOp::Info(json)) => self.on_route_info(io, conn, json),
            (Phase::Handshake, LinkOp::Connect(json)) => self.on_route_connect(io, conn, json),
            (Phase::Handshake, _) => Err("Protocol Violation"),
            (Phase::Active, LinkOp::Connect(_)) => Err("Protocol Violation"),
            (
                Phase::Active,
                LinkOp::Subscribe {
                    account,
                    subject,
                    queue,
                    origin,
                },
            ) => {
                let account = account.unwrap_or_default();
                self.on_route_subscribe(io, conn, account, subject, queue, origin);
                Ok(())
            }
            (
                Phase::Active,
                LinkOp::Unsubscribe {
                    account,
                    subject,
                    queue,
                },
            ) => {
                self.on_route_unsubscribe(io, conn, account.unwrap_or_default(), subject, queue);
                Ok(())
            }
            (Phase::Active, LinkOp::Message(message)) => {
                self.on_route_message(io, conn, &message);
                Ok(())
            }
        }
    }

    /// Closes a route (flushing what is queued): its interest goes, its peer's client URLs
    /// go, and a route we dialled is dialled again as its policy says.
    pub(super) fn close_route(&mut self, io: &mut Io<'_>, conn: ConnId, reason: &str) {
        let Some(route) = self.route_mut(conn) else {
            return;
        };
        if route.phase == Phase::Closing {
            return;
        }
        let was_active = route.phase == Phase::Active;
        route.phase = Phase::Closing;
        info!(
            "{} - rid:{} - Router connection closed: {reason}",
            route.peer, route.rid
        );
        if let Some(timer) = route.ping_timer.take() {
            io.cancel_timer(timer);
        }
        if let Some(timer) = route.auth_timer.take() {
            io.cancel_timer(timer);
        }
        self.withdraw_route_interest(io, conn);
        if was_active {
            self.route_left(io, conn);
        }
        io.close(conn, true);
    }

    pub(super) fn route_closed(&mut self, io: &mut Io<'_>, conn: ConnId, reason: CloseReason) {
        if self
            .route_ref(conn)
            .is_some_and(|route| route.phase != Phase::Closing)
        {
            let text = match reason {
                CloseReason::WriteDeadline => "Slow Consumer (Write Deadline)",
                CloseReason::Shutdown => "Server Shutdown",
                CloseReason::Tls(failure) => self
                    .route_tls_failed(conn, Some(failure))
                    .unwrap_or("Read Error"),
                CloseReason::PeerClosed => {
                    self.route_tls_failed(conn, None).unwrap_or("Client Closed")
                }
                _ => "Client Closed",
            };
            self.close_route(io, conn, text);
        }
        let Some(entry) = self.routes.get_mut(conn.slot as usize) else {
            return;
        };
        if let Some(route) = entry.take_if(|route| route.id == conn) {
            self.route_dial_ended(io, &route, reason == CloseReason::Shutdown);
        }
    }

    pub(super) fn write_route_error(&mut self, io: &mut Io<'_>, conn: ConnId, text: &str) {
        if let Some(route) = self.route_ref(conn) {
            error!("{} - rid:{} - {text}", route.peer, route.rid);
        }
        self.line.clear();
        encoder::err_line(&mut self.line, text);
        io.write(conn, &self.line);
    }

    fn send_route_ping(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let now = io.now();
        if let Some(route) = self.route_mut(conn) {
            route.ping_sent_at = Some(now);
        }
        io.write(conn, encoder::PING);
    }

    /// The first PING of a route, about a second after it is set up (nats-server's first
    /// ping), which gives /routez its `rtt`; then every `ping_interval`.
    pub(super) fn arm_first_route_ping(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let first = self.live.config.limits.ping_interval.min(FIRST_ROUTE_PING);
        self.arm_route_ping_in(io, conn, first);
    }

    fn arm_route_ping(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let every = self.live.config.limits.ping_interval;
        self.arm_route_ping_in(io, conn, every);
    }

    fn arm_route_ping_in(&mut self, io: &mut Io<'_>, conn: ConnId, delay: std::time::Duration) {
        let at = io.now() + delay;
        let timer = io.set_timer(at, Timer::Ping(conn).token());
        if let Some(route) = self.route_mut(conn) {
            if let Some(old) = route.ping_timer.replace(timer) {
                io.cancel_timer(old);
            }
        }
    }

    /// Keep-alive as for clients: a PING every `ping_interval`, `Stale Connection` after
    /// `ping_max` unanswered; a handshake not done by the first tick closes the route.
    pub(super) fn on_route_ping_timer(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let ping_max = self.live.config.limits.ping_max;
        let Some(route) = self.route_mut(conn) else {
            return;
        };
        route.ping_timer = None;
        // A route still in its handshake is pinged too: a peer that never answers is stale.
        if route.phase == Phase::Closing {
            return;
        }
        if route.pings_out + 1 > ping_max {
            io.write(conn, encoder::err::STALE_CONNECTION);
            self.close_route(io, conn, "Stale Connection");
            return;
        }
        route.pings_out += 1;
        self.send_route_ping(io, conn);
        self.arm_route_ping(io, conn);
    }

    /// Whether `slot` is a route (for the routing rules).
    pub(super) fn is_route_slot(&self, slot: u32) -> bool {
        matches!(self.routes.get(slot as usize), Some(Some(_)))
    }
}

impl Shard {
    /// /routez records of the active routes, with their subjects when `subs` is set.
    pub(super) fn route_records(&self, subs: bool) -> Vec<crate::monitor::routez::RouteRecord> {
        let configured = self
            .live
            .config
            .cluster
            .as_ref()
            .map(|cluster| &cluster.routes);
        active_routes(&self.routes)
            .map(|route| {
                let dial_url = route.dial.and_then(|index| self.route_dial_url(index));
                crate::monitor::routez::RouteRecord {
                    rid: route.rid,
                    remote_id: route.remote_id.clone(),
                    did_solicit: route.dial.is_some(),
                    is_configured: dial_url
                        .is_some_and(|url| configured.is_some_and(|list| list.contains(url))),
                    ip: route.peer.ip().to_string(),
                    port: route.peer.port(),
                    start: self.shared.clock.unix_nanos(route.started),
                    last_activity: self.shared.clock.unix_nanos(route.last_activity),
                    rtt_nanos: route.rtt.as_nanos() as u64,
                    pending_size: 0,
                    in_msgs: route.in_msgs,
                    out_msgs: route.out_msgs,
                    in_bytes: route.in_bytes,
                    out_bytes: route.out_bytes,
                    subscriptions: route.interest.len() as u32,
                    subjects: subs.then(|| {
                        route
                            .interest
                            .keys()
                            .map(|(_, subject, _)| String::from_utf8_lossy(subject).into_owned())
                            .collect()
                    }),
                }
            })
            .collect()
    }
}

/// Routes past their handshake.
pub(super) fn active_routes(routes: &[Option<Box<Route>>]) -> impl Iterator<Item = &Route> {
    routes
        .iter()
        .flatten()
        .map(|route| &**route)
        .filter(|route| route.phase == Phase::Active)
}
