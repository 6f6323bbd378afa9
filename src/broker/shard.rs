//! One shard per core: owns that core's connections, its subscription tries, its view of the
//! other cores' interest, and the visibility barrier state. Implements `runtime::Handler` by
//! handing each event to the code of the connection's kind (`kind`); what a client
//! connection does is in `lifecycle`, `input`, `login`, `subscriptions`, `keepalive`,
//! `barrier`, `stall` and `routing`, monitoring's connections in `monitoring`.
//!
//! Per-account invariant: the tries are kept per account (`local[account]`,
//! `remote[account]`); a connection's operations touch only its own account's tries, and a
//! forwarded record is matched only against the account it names. Nothing crosses accounts.

use super::connection::{Client, SubKey};
use super::interest;
use super::kind::{ConnectionKind, Kinds};
use super::lame_duck::CoreLameDuck;
use super::stall::PeerStall;
use super::timers::Timer;
use super::{Live, Shared};
use crate::runtime::{CloseReason, ConnId, Handler, Io, TlsHandshake};
use crate::subjects::SubjectTrie;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Per-core message counters, published to [`Shared`] once per loop turn.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counters {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

pub struct Shard {
    pub(super) core: usize,
    pub(super) cores: usize,
    pub(super) shared: Arc<Shared>,
    /// Every connection's kind, which decides where its events go.
    pub(super) kinds: Kinds,
    /// Client connections by runtime slot.
    pub(super) clients: Vec<Option<Box<Client>>>,
    /// This core's subscriptions, one trie per account (indexed by `AccountIndex`).
    pub(super) local: Vec<SubjectTrie<SubKey>>,
    /// Other cores' interest per account: value = core index, count = subscriptions there.
    pub(super) remote: Vec<SubjectTrie<u16>>,
    /// This core's interest epoch: bumped by every interest record it sends.
    pub(super) epoch: u64,
    /// `acked[j]`: the highest of our epochs core j has applied.
    pub(super) acked: Vec<u64>,
    /// `applied[j]`: the highest of core j's epochs we have applied.
    pub(super) applied: Vec<u64>,
    /// `ack_sent[j]`: the value of `applied[j]` we last acknowledged.
    pub(super) ack_sent: Vec<u64>,
    /// PONGs held for the visibility barrier, in arrival order, with the epoch they wait for.
    pub(super) held_pongs: VecDeque<(ConnId, u64)>,
    /// Scratch: connections whose held PONG went out in this pass.
    pub(super) released: Vec<ConnId>,
    /// Scratch buffers, reused so that the steady state allocates nothing.
    pub(super) line: Vec<u8>,
    pub(super) record: Vec<u8>,
    pub(super) targets: Vec<SubKey>,
    /// Per other core: whether this message goes there, and the queue groups it must serve.
    pub(super) remote_targets: Vec<bool>,
    pub(super) remote_queues: Vec<Vec<u8>>,
    pub(super) rng: u64,
    pub(super) counters: Counters,
    /// A local consumer that a delivery left more than half-way to max_pending; the
    /// publisher of that message is stalled once the message is routed.
    pub(super) congested: Option<ConnId>,
    pub(super) lame_duck: CoreLameDuck,
    /// Per peer core: its mail is paused while a consumer here drains.
    pub(super) peer_stalls: Vec<Option<PeerStall>>,
    /// Connections not yet closing (/varz `connections`); see `retire`.
    pub(super) open_clients: u64,
    /// Monitoring is on (`-m`): closed connections are recorded for /connz.
    pub(super) monitoring: bool,
    /// Core 0 with monitoring on: the HTTP port's connections and requests in progress.
    pub(super) monitor: Option<Box<super::monitoring::Host>>,
    /// WebSocket connections whose upgrade request is still arriving.
    pub(super) upgrading: super::websocket::UpgradingConnections,
    /// The configuration this core runs with; replaced between loop turns when a reload
    /// publishes a newer generation (`reload`).
    pub(super) live: Arc<Live>,
    /// Numbers this core's bcrypt checks (`PendingCheck::ticket`).
    pub(super) auth_tickets: u64,
    /// Scratch for the answers of finished bcrypt checks.
    pub(super) auth_answers: Vec<super::auth_checks::CheckDone>,
    /// This core hosts the links (core 0 with a leaf port, leaf remotes or a cluster): it
    /// keeps `hub_interest` and `route_interest` and matches `link_interest` on the
    /// publish path.
    pub(super) leaf_hub: bool,
    /// Leaf links by runtime slot.
    pub(super) links: Vec<Option<Box<super::leaf::LeafLink>>>,
    /// The links' interest per account: value = link slot, count = weight.
    pub(super) link_interest: Vec<SubjectTrie<u32>>,
    /// Every core's client interest, aggregated for the links (`leaf::interest`).
    pub(super) hub_interest: super::leaf::HubInterest,
    /// Scratch: the links the current message goes to.
    pub(super) link_targets: Vec<super::leaf::LinkTarget>,
    /// The hubs this server dials as a leaf (`leaf::remote`; core 0).
    pub(super) remotes: super::leaf::Remotes,
    /// Links (leaf or route) whose reading is paused while a consumer drains (core 0).
    pub(super) link_stalls: Vec<super::stall::LinkStall>,
    /// Cluster routes by runtime slot (core 0).
    pub(super) routes: Vec<Option<Box<super::route::Route>>>,
    /// The routes this server dials (core 0).
    pub(super) route_dials: super::route::RouteDials,
    /// Every core's client interest and the leaf links', aggregated for the routes.
    pub(super) route_interest: super::route::RouteInterest,
    /// The origin cluster of route interest that a leaf link's interest opened (its first
    /// unit), sent to routes that take it as `LS+ origin account subject` (core 0).
    pub(super) route_origins: super::route::RouteOrigins,
    /// The leaf cluster the link message being routed comes from (a leaf link's, or a
    /// route's `LMSG origin`; empty: none), and whether it came from a leaf link: leaf
    /// links of that cluster do not get it, routes get it as `LMSG origin` (core 0).
    pub(super) message_origin: Vec<u8>,
    pub(super) message_from_leaf: bool,
    /// The cluster's name (core 0).
    pub(super) cluster: super::route::Cluster,
    /// Route permissions compiled for the running configuration (core 0).
    pub(super) route_rules: super::route::RouteRules,
    /// The cluster's client URLs (INFO `connect_urls`) and its name as core 0 last
    /// published them (empty: the start-up name), on every core.
    pub(super) connect_urls: Vec<String>,
    pub(super) cluster_name: String,
    /// Every cluster node's leaf URL, sorted (core 0; empty: not clustered, ours alone).
    pub(super) cluster_leaf_urls: Vec<String>,
    /// The server's own subscriptions on this core and what they received (`internal`).
    pub(super) internal: super::internal::Internal,
    /// JetStream's service (core 0 with `-js`, from its first turn).
    pub(super) jetstream: Option<Box<super::jetstream::JetStream>>,
}

impl Shard {
    pub fn new(core: usize, shared: Arc<Shared>) -> Shard {
        let live = shared.live.load();
        let cores = live.config.cores;
        let accounts = live.auth.account_count();
        let leaf_hub = core == 0
            && (live.config.leafnodes.is_some()
                || !live.config.leaf_remotes.remotes.is_empty()
                || live.config.cluster.is_some());
        let cluster = super::route::Cluster {
            name: shared.cluster_name.clone(),
            dynamic: live
                .config
                .cluster
                .as_ref()
                .is_some_and(|cluster| cluster.name.is_none()),
            published: Vec::new(),
            published_name: String::new(),
            lame_duck: false,
        };
        let seed = shared.seed ^ ((core as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut shard = Shard {
            core,
            cores,
            kinds: Kinds::default(),
            clients: Vec::new(),
            local: (0..accounts).map(|_| SubjectTrie::new()).collect(),
            remote: (0..accounts).map(|_| SubjectTrie::new()).collect(),
            epoch: 0,
            acked: vec![0; cores],
            applied: vec![0; cores],
            ack_sent: vec![0; cores],
            held_pongs: VecDeque::new(),
            released: Vec::new(),
            line: Vec::with_capacity(512),
            record: Vec::with_capacity(512),
            targets: Vec::with_capacity(64),
            remote_targets: vec![false; cores],
            remote_queues: vec![Vec::new(); cores],
            rng: seed | 1,
            counters: Counters::default(),
            congested: None,
            lame_duck: CoreLameDuck::default(),
            peer_stalls: (0..cores).map(|_| None).collect(),
            open_clients: 0,
            monitoring: shared.http_port.is_some(),
            monitor: (core == 0 && shared.http_port.is_some())
                .then(|| Box::new(super::monitoring::Host::new(&shared, &live))),
            upgrading: Default::default(),
            shared,
            live,
            auth_tickets: 0,
            auth_answers: Vec::new(),
            leaf_hub,
            links: Vec::new(),
            link_interest: (0..accounts).map(|_| SubjectTrie::new()).collect(),
            hub_interest: super::leaf::HubInterest::default(),
            link_targets: Vec::new(),
            remotes: super::leaf::Remotes::default(),
            link_stalls: Vec::new(),
            routes: Vec::new(),
            route_dials: super::route::RouteDials::default(),
            route_interest: super::route::RouteInterest::default(),
            route_origins: super::route::RouteOrigins::default(),
            message_origin: Vec::new(),
            message_from_leaf: false,
            cluster,
            route_rules: super::route::RouteRules::default(),
            connect_urls: Vec::new(),
            cluster_name: String::new(),
            cluster_leaf_urls: Vec::new(),
            internal: Default::default(),
            jetstream: None,
        };
        if core != 0 {
            shard.preload_jetstream_interest();
        }
        shard
    }

    /// A uniformly random number below `bound` (xorshift64*; queue member choice).
    pub(super) fn random_below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        super::routing::next_random(&mut self.rng) % bound
    }

    pub(super) fn client(&self, conn: ConnId) -> Option<&Client> {
        match self.clients.get(conn.slot as usize) {
            Some(Some(c)) if c.id == conn => Some(c),
            _ => None,
        }
    }

    pub(super) fn client_mut(&mut self, conn: ConnId) -> Option<&mut Client> {
        match self.clients.get_mut(conn.slot as usize) {
            Some(Some(c)) if c.id == conn => Some(c),
            _ => None,
        }
    }

    fn publish_counters(&self) {
        let slot = &self.shared.core_counters[self.core];
        slot.in_msgs.store(self.counters.in_msgs, Ordering::Relaxed);
        slot.in_bytes
            .store(self.counters.in_bytes, Ordering::Relaxed);
        slot.out_msgs
            .store(self.counters.out_msgs, Ordering::Relaxed);
        slot.out_bytes
            .store(self.counters.out_bytes, Ordering::Relaxed);
    }
}

/// The runtime's events, handed to the code of the connection's kind.
impl Handler for Shard {
    fn on_open(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        self.kinds.insert(conn, ConnectionKind::Client);
        self.open_client(io, conn, peer, false);
    }

    fn on_open_websocket(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        self.open_websocket(io, conn, peer);
    }

    fn on_open_local(&mut self, io: &mut Io<'_>, conn: ConnId, _peer: SocketAddr) {
        self.kinds.insert(conn, ConnectionKind::Monitor);
        self.on_monitor_open(io, conn);
    }

    fn on_open_leaf(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        self.kinds.insert(conn, ConnectionKind::Leaf);
        self.open_leaf(io, conn, peer);
    }

    fn on_open_route(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        self.kinds.insert(conn, ConnectionKind::Route);
        self.open_route(io, conn, peer);
    }

    fn on_connected(&mut self, io: &mut Io<'_>, conn: ConnId, tag: u64, peer: SocketAddr) {
        if tag & super::route::ROUTE_DIAL_TAG != 0 {
            self.kinds.insert(conn, ConnectionKind::Route);
            self.on_route_connected(io, conn, tag, peer);
            return;
        }
        self.kinds.insert(conn, ConnectionKind::Leaf);
        self.on_remote_connected(io, conn, tag, peer);
    }

    fn on_connect_failed(
        &mut self,
        io: &mut Io<'_>,
        _conn: ConnId,
        tag: u64,
        error: crate::runtime::ConnectError,
    ) {
        if tag & super::route::ROUTE_DIAL_TAG != 0 {
            self.on_route_connect_failed(io, tag, error);
        } else {
            self.on_remote_connect_failed(io, tag, error);
        }
    }

    fn on_tls_established(&mut self, io: &mut Io<'_>, conn: ConnId, handshake: TlsHandshake) {
        match self.kinds.get(conn) {
            Some(ConnectionKind::Client) => self.tls_established(io, conn, handshake),
            Some(ConnectionKind::Leaf) => self.leaf_tls_established(io, conn),
            Some(ConnectionKind::Route) => self.route_tls_established(io, conn),
            Some(ConnectionKind::Monitor | ConnectionKind::WebsocketUpgrade) | None => {}
        }
    }

    fn on_data(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        match self.kinds.get(conn) {
            Some(ConnectionKind::Client) => self.client_input(io, conn, data),
            Some(ConnectionKind::Monitor) => self.on_monitor_data(io, conn, data),
            Some(ConnectionKind::WebsocketUpgrade) => self.upgrade_input(io, conn, data),
            Some(ConnectionKind::Leaf) => self.leaf_input(io, conn, data),
            Some(ConnectionKind::Route) => self.route_input(io, conn, data),
            None => {}
        }
    }

    fn on_close(&mut self, io: &mut Io<'_>, conn: ConnId, reason: CloseReason) {
        match self.kinds.get(conn) {
            Some(ConnectionKind::Client) => self.client_closed(io, conn, reason),
            Some(ConnectionKind::Monitor) => self.on_monitor_close(io, conn),
            Some(ConnectionKind::WebsocketUpgrade) => self.upgrade_closed(io, conn),
            Some(ConnectionKind::Leaf) => self.leaf_closed(io, conn, reason),
            Some(ConnectionKind::Route) => self.route_closed(io, conn, reason),
            None => {}
        }
        self.kinds.remove(conn);
    }

    fn on_mail(&mut self, io: &mut Io<'_>, from: usize, record: &[u8]) {
        match interest::decode(record) {
            Some(record) => self.on_record(io, from, record),
            None => crate::error!("malformed record from core {from} ({} bytes)", record.len()),
        }
    }

    fn on_timer(&mut self, io: &mut Io<'_>, token: u64) {
        match Timer::decode(token) {
            Timer::Ping(conn) if self.kinds.get(conn) == Some(ConnectionKind::Leaf) => {
                self.on_leaf_ping_timer(io, conn)
            }
            Timer::Ping(conn) if self.kinds.get(conn) == Some(ConnectionKind::Route) => {
                self.on_route_ping_timer(io, conn)
            }
            Timer::Ping(conn) if self.kinds.get(conn) == Some(ConnectionKind::WebsocketUpgrade) => {
                self.upgrade_timed_out(io, conn)
            }
            Timer::Ping(conn) => self.on_ping_timer(io, conn),
            Timer::Stall(conn)
                if matches!(
                    self.kinds.get(conn),
                    Some(ConnectionKind::Leaf | ConnectionKind::Route)
                ) =>
            {
                self.on_link_stall_timer(io, conn)
            }
            Timer::Stall(conn) => self.on_stall_timer(io, conn),
            Timer::Auth(conn) if self.kinds.get(conn) == Some(ConnectionKind::Leaf) => {
                self.on_leaf_auth_timer(io, conn)
            }
            Timer::Auth(conn) if self.kinds.get(conn) == Some(ConnectionKind::Route) => {
                self.on_route_auth_timer(io, conn)
            }
            Timer::Auth(conn) => self.on_auth_timer(io, conn),
            Timer::PeerStall(peer) => self.on_peer_stall_timer(io, peer),
            Timer::LameDuck => self.close_next_lame_duck_batch(io),
            Timer::Monitor(token) => self.on_monitor_timer(io, token),
            Timer::LeafRedial(remote) => self.on_leaf_redial_timer(io, remote),
            Timer::RouteRedial(index) => self.on_route_redial_timer(io, index),
            Timer::JetStream => self.jetstream_tick(io),
        }
    }

    fn on_turn_end(&mut self, io: &mut Io<'_>) {
        if self.core == 0 && self.shared.jetstream.is_some() {
            if self.jetstream.is_none() {
                self.start_jetstream(io);
            }
            self.run_jetstream(io);
        }
        if self.leaf_hub {
            self.start_leaf_remotes(io);
            self.start_routes(io);
        }
        self.send_acks(io);
        self.adopt_live_if_newer(io);
        self.finish_auth_checks(io);
        self.check_lame_duck(io);
        self.publish_counters();
    }

    fn on_file_done(&mut self, io: &mut Io<'_>, tag: u64, result: crate::runtime::FileResult) {
        self.jetstream_file_done(io, tag, result);
    }

    fn on_shutdown(&mut self, io: &mut Io<'_>) {
        self.stop_jetstream();
        self.publish_counters();
        // nats-server closes each client as `ServerShutdown`: a WebSocket client is told
        // so in a close frame, which the runtime's shutdown flush sends.
        for client in self.clients.iter().flatten() {
            if client.websocket && client.is_open() {
                io.websocket_close(
                    client.id,
                    crate::websocket::frame::status::GOING_AWAY,
                    "Server Shutdown",
                );
            }
        }
    }
}
