//! Monitoring inside the broker (DESIGN.md §5): the HTTP port is served on core 0's ring,
//! and whatever lives in another core's shard is asked for by mail, never read across
//! threads.
//!
//! ```text
//!   HTTP request ─► core 0: parse, route ─┬─► its own snapshot (direct call)
//!                                         └─► Request record to every other core
//!   core j: on_mail ─► snapshot of its shard ─► Reply record to core 0
//!   core 0: all replies in (or SNAPSHOT_DEADLINE passed: 503) ─► merge, render, respond
//! ```
//!
//! The data plane pays nothing new: per-connection counters are plain fields of the
//! connection owned by its core, the server-wide ones are the core's existing `Counters`,
//! and both are read only when a snapshot is taken, on the owning core. A closed
//! connection's record (monitoring on only) is mailed to core 0, which keeps the last
//! `max_closed_clients`.

use super::connection::ClosedReason;
use super::interest;
use super::shard::Shard;
use super::{Live, Shared};
use crate::monitor::clock::http_date;
use crate::monitor::document::{self, ConnzPage, ServerFacts, VarzCounters, GLOBAL_ACCOUNT};
use crate::monitor::http::{Next, Request, RequestReader, Response};
use crate::monitor::leafz::{self, LeafVarz};
use crate::monitor::metrics;
use crate::monitor::query::{self, ConnState, ConnzOptions, Endpoint, SubsListing, SubszOptions};
use crate::monitor::routez::{self, ClusterVarz};
use crate::monitor::snapshot::{
    self, ConnRecord, ConnSelect, CoreSnapshot, CoreStats, SnapshotRequest, SubSelect,
};
use crate::monitor::websocket::WebsocketVarz;
use crate::runtime::{ConnId, Io, TimerId};
use crate::{debug, error};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Timer tokens of the monitoring port carry this bit (see `shard`'s token layout); with
/// [`GATHER_TIMER_BIT`] the rest is a gather id, otherwise a connection's token.
pub(super) const TIMER_BIT: u64 = 1 << 62;
const GATHER_TIMER_BIT: u64 = 1 << 61;

/// HTTP connections served at once. Over it, a new connection is closed at once (and
/// logged at debug level); monitoring requests are few and short.
pub const CONNECTIONS_MAX: usize = 64;

/// From the first byte of a request to its blank line. Over it, the connection is closed.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A kept-alive connection with no request for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long core 0 waits for every core's snapshot. Over it: `503 Service Unavailable`
/// and close (a core that cannot answer within seconds is stuck; partial counts would lie).
pub const SNAPSHOT_DEADLINE: Duration = Duration::from_secs(5);

/// /varz `cpu` is the process's CPU use over at least this window, as nats-server samples
/// it once a second.
const CPU_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// /varz `tls_timeout` without TLS: nats-server's default handshake deadline (seconds).
const TLS_TIMEOUT_SECONDS: f64 = 2.0;

/// Kinds of monitoring record (the byte after `interest::MONITOR`).
const REQUEST: u8 = 1;
const REPLY: u8 = 2;
const CLOSED: u8 = 3;

/// Core 0's side of monitoring: the HTTP connections, gathers in progress, the closed ring.
pub(super) struct Host {
    facts: ServerFacts,
    connections: HashMap<ConnId, HttpConnection>,
    gathers: HashMap<u64, Gather>,
    next_gather_id: u64,
    /// /varz `http_req_stats`.
    request_counts: BTreeMap<String, u64>,
    /// The most recently closed connections, oldest first.
    closed: VecDeque<ConnRecord>,
    closed_max: usize,
    cpu: CpuSampler,
}

struct HttpConnection {
    reader: RequestReader,
    /// A gather for its current request is outstanding: later requests wait.
    busy: bool,
    /// The response asked for a close; nothing more is read.
    closing: bool,
    timer: Option<(TimerId, Deadline)>,
}

/// Which timeout a connection's timer stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Deadline {
    Idle,
    Read,
}

/// A request waiting for the other cores' snapshots.
struct Gather {
    conn: ConnId,
    endpoint: Endpoint,
    head_only: bool,
    keep_alive: bool,
    /// Cores yet to answer.
    waiting: usize,
    merged: CoreSnapshot,
    timer: TimerId,
}

/// Process CPU use between samples at least [`CPU_SAMPLE_INTERVAL`] apart.
struct CpuSampler {
    at: Instant,
    cpu_time: Duration,
    percent: f64,
}

impl CpuSampler {
    fn new() -> CpuSampler {
        CpuSampler {
            at: Instant::now(),
            cpu_time: crate::runtime::sys::process_cpu_time().unwrap_or_default(),
            percent: 0.0,
        }
    }

    /// Percent of one CPU, truncated to one decimal as nats-server reports it.
    fn percent(&mut self, now: Instant) -> f64 {
        let wall = now.saturating_duration_since(self.at);
        if wall >= CPU_SAMPLE_INTERVAL {
            let cpu_time = crate::runtime::sys::process_cpu_time().unwrap_or(self.cpu_time);
            let used = cpu_time.saturating_sub(self.cpu_time).as_secs_f64();
            self.percent = (used / wall.as_secs_f64() * 1000.0).floor() / 10.0;
            self.at = now;
            self.cpu_time = cpu_time;
        }
        self.percent
    }
}

/// Resident memory of the process in bytes (`VmRSS` of /proc/self/status), 0 if unknown.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// What /varz shows of the server and its configuration (rebuilt when a reload changes it).
fn server_facts(shared: &Shared, live: &Live) -> ServerFacts {
    let config = &live.config;
    let limits = &config.limits;
    ServerFacts {
        server_id: live.info.server_id.clone(),
        server_name: live.info.server_name.clone(),
        version: live.info.version.clone(),
        proto: live.info.proto,
        go: live.info.go.clone(),
        host: config.host.clone(),
        port: live.info.port,
        max_connections: limits.max_connections as u64,
        max_subscriptions: limits.max_subscriptions as u64,
        ping_interval: limits.ping_interval,
        ping_max: limits.ping_max,
        http_host: config.host.clone(),
        // nats-server shows the configured value: -1 for "any free port".
        http_port: match config.http_port {
            Some(0) => -1,
            configured => i32::from(configured.unwrap_or(0)),
        },
        auth_timeout: live.auth.timeout().as_secs_f64(),
        tls_timeout: config
            .tls
            .as_ref()
            .map_or(TLS_TIMEOUT_SECONDS, |tls| tls.timeout.as_secs_f64()),
        max_control_line: limits.max_control_line as u64,
        max_payload: limits.max_payload as u64,
        max_pending: limits.max_pending as u64,
        write_deadline: limits.write_deadline,
        start: shared.clock.start_unix_nanos(),
        config_load_time: live.loaded_at,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()) as u64,
        worker_cores: config.cores as u64,
        leaf: match (&config.leafnodes, shared.leaf_port) {
            (Some(leaf), Some(port)) => LeafVarz {
                auth_timeout: crate::monitor::document::GoFloat(
                    leaf.auth
                        .timeout
                        .unwrap_or(config.limits.leaf_auth_timeout)
                        .as_secs_f64(),
                ),
                ..LeafVarz::listening(&leaf.host, port)
            },
            _ => LeafVarz::default(),
        },
        cluster: match (&config.cluster, shared.route_port) {
            (Some(cluster), Some(port)) => {
                let mut varz = ClusterVarz::listening(
                    &shared.cluster_name,
                    &cluster.host,
                    port,
                    &cluster.routes,
                );
                if let Some(tls) = &cluster.tls {
                    varz = varz.with_tls(tls.timeout.as_secs_f64());
                }
                if let Some(timeout) = cluster.authorization.as_ref().and_then(|a| a.timeout) {
                    varz.auth_timeout = crate::monitor::document::GoFloat(timeout.as_secs_f64());
                }
                varz
            }
            _ => ClusterVarz::default(),
        },
        websocket: match (&config.websocket, shared.websocket_port) {
            (Some(ws), Some(port)) => WebsocketVarz::listening(ws, port),
            _ => WebsocketVarz::default(),
        },
    }
}

impl Host {
    pub(super) fn new(shared: &Shared, live: &Live) -> Host {
        let facts = server_facts(shared, live);
        let limits = &live.config.limits;
        Host {
            facts,
            connections: HashMap::new(),
            gathers: HashMap::new(),
            next_gather_id: 0,
            request_counts: BTreeMap::new(),
            closed: VecDeque::new(),
            closed_max: limits.max_closed_clients,
            cpu: CpuSampler::new(),
        }
    }

    fn keep_closed(&mut self, record: ConnRecord) {
        if self.closed_max == 0 {
            return;
        }
        if self.closed.len() >= self.closed_max {
            self.closed.pop_front();
        }
        self.closed.push_back(record);
    }

    fn count(&mut self, key: &str) {
        *self.request_counts.entry(key.to_string()).or_insert(0) += 1;
    }
}

fn connection_timer_token(conn: ConnId) -> u64 {
    TIMER_BIT | super::timers::connection_token(conn)
}

/// A monitoring record: kind, subtype, then the body parts.
fn encode_record(subtype: u8, id: Option<u64>, body: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(body.len() + 10);
    record.push(interest::MONITOR);
    record.push(subtype);
    if let Some(id) = id {
        record.extend_from_slice(&id.to_le_bytes());
    }
    record.extend_from_slice(body);
    record
}

fn split_id(body: &[u8]) -> Option<(u64, &[u8])> {
    let (id, rest) = body.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*id), rest))
}

impl Shard {
    /// A reload published a new configuration: /varz shows it from now on.
    pub(super) fn on_live_changed_for_monitoring(&mut self) {
        if let Some(host) = self.monitor.as_mut() {
            host.facts = server_facts(&self.shared, &self.live);
            host.closed_max = self.live.config.limits.max_closed_clients;
        }
    }

    // ---- the HTTP port (core 0) ----

    pub(super) fn on_monitor_open(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(host) = self.monitor.as_mut() else {
            io.close(conn, false);
            return;
        };
        if host.connections.len() >= CONNECTIONS_MAX {
            debug!("monitoring: {CONNECTIONS_MAX} HTTP connections open; closing a new one");
            io.close(conn, false);
            return;
        }
        let timer = io.set_timer(io.now() + IDLE_TIMEOUT, connection_timer_token(conn));
        host.connections.insert(
            conn,
            HttpConnection {
                reader: RequestReader::default(),
                busy: false,
                closing: false,
                timer: Some((timer, Deadline::Idle)),
            },
        );
    }

    pub(super) fn on_monitor_data(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        let Some(http) = self
            .monitor
            .as_mut()
            .and_then(|host| host.connections.get_mut(&conn))
        else {
            return;
        };
        if http.closing {
            return;
        }
        http.reader.feed(data);
        self.serve_requests(io, conn);
    }

    pub(super) fn on_monitor_close(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(host) = self.monitor.as_mut() else {
            return;
        };
        if let Some(http) = host.connections.remove(&conn) {
            if let Some((timer, _)) = http.timer {
                io.cancel_timer(timer);
            }
        }
    }

    pub(super) fn on_monitor_timer(&mut self, io: &mut Io<'_>, token: u64) {
        if token & GATHER_TIMER_BIT != 0 {
            self.on_gather_deadline(io, token & !(TIMER_BIT | GATHER_TIMER_BIT));
            return;
        }
        let conn = ConnId {
            slot: token as u32,
            generation: ((token & !TIMER_BIT) >> 32) as u32,
        };
        let Some(http) = self
            .monitor
            .as_mut()
            .and_then(|host| host.connections.get_mut(&conn))
        else {
            return;
        };
        http.timer = None;
        if !http.busy {
            http.closing = true;
            io.close(conn, false);
        }
    }

    /// Answers the complete requests buffered for `conn`, in order, until one has to wait
    /// for other cores or the bytes run out.
    fn serve_requests(&mut self, io: &mut Io<'_>, conn: ConnId) {
        loop {
            let Some(http) = self
                .monitor
                .as_mut()
                .and_then(|host| host.connections.get_mut(&conn))
            else {
                return;
            };
            if http.busy || http.closing {
                return;
            }
            match http.reader.next_request() {
                Next::Incomplete => {
                    let wanted = if http.reader.has_partial() {
                        Deadline::Read
                    } else {
                        Deadline::Idle
                    };
                    if http.timer.map(|(_, kind)| kind) != Some(wanted) {
                        if let Some((timer, _)) = http.timer.take() {
                            io.cancel_timer(timer);
                        }
                        let timeout = match wanted {
                            Deadline::Read => REQUEST_READ_TIMEOUT,
                            Deadline::Idle => IDLE_TIMEOUT,
                        };
                        let token = connection_timer_token(conn);
                        http.timer = Some((io.set_timer(io.now() + timeout, token), wanted));
                    }
                    return;
                }
                Next::Invalid(error) => {
                    self.respond(io, conn, &Response::for_error(error), false, false);
                    return;
                }
                Next::Request(request) => {
                    if let Some((timer, _)) = http.timer.take() {
                        io.cancel_timer(timer);
                    }
                    self.serve(io, conn, request);
                }
            }
        }
    }

    fn serve(&mut self, io: &mut Io<'_>, conn: ConnId, request: Request) {
        let head_only = request.is_head();
        let keep_alive = request.keep_alive;
        if request.method != "GET" && !head_only {
            let response = Response::method_not_allowed();
            self.respond(io, conn, &response, false, keep_alive);
            return;
        }
        let Some(host) = self.monitor.as_mut() else {
            return;
        };
        let endpoint = match query::route(&request.path, &request.query) {
            Ok(endpoint) => endpoint,
            Err(refusal) => {
                if let Some(key) = refusal.counted_as {
                    host.count(key);
                }
                self.respond(io, conn, &refusal.response, head_only, keep_alive);
                return;
            }
        };
        host.count(endpoint.stats_key());
        let now = self.shared.clock.unix_nanos(io.now());
        let server_id = &host.facts.server_id.clone();
        let body = match &endpoint {
            Endpoint::Root => Some(Response::html(document::root_page(&host.facts.version))),
            Endpoint::Routez(subs) => {
                // Routes live on core 0, as this port does: no gather.
                let routes = self.route_records(*subs);
                Some(Response::json(routez::routez(server_id, now, &routes)))
            }
            Endpoint::Gatewayz => Some(Response::json(document::gatewayz(server_id, now))),
            Endpoint::Leafz(options) => {
                // Links live on core 0, as this port does: no gather.
                let links = super::leaf::leaf_records(
                    &self.links,
                    &self.live.auth,
                    &options.account,
                    options.subs,
                );
                Some(Response::json(leafz::leafz(server_id, now, &links)))
            }
            Endpoint::Accountz => Some(Response::json(document::accountz(server_id, now))),
            Endpoint::Healthz => Some(Response::json(document::healthz())),
            // The JetStream service lives on core 0, as this port does: no gather.
            Endpoint::Jsz(options) => Some(self.jsz(server_id, now, options)),
            Endpoint::Varz | Endpoint::Connz(_) | Endpoint::Subsz(_) | Endpoint::Metrics => None,
        };
        match body {
            Some(response) => self.respond(io, conn, &response, head_only, keep_alive),
            None => self.start_gather(io, conn, endpoint, head_only, keep_alive),
        }
    }

    /// Writes a response; without keep-alive, closes the connection once it is sent.
    fn respond(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        response: &Response,
        head_only: bool,
        keep_alive: bool,
    ) {
        let date = http_date(self.shared.clock.unix_nanos(io.now()));
        let mut bytes = Vec::with_capacity(response.body.len() + 160);
        response.encode(&mut bytes, &date, head_only, !keep_alive);
        io.write(conn, &bytes);
        if keep_alive {
            return;
        }
        if let Some(http) = self
            .monitor
            .as_mut()
            .and_then(|host| host.connections.get_mut(&conn))
        {
            http.closing = true;
            if let Some((timer, _)) = http.timer.take() {
                io.cancel_timer(timer);
            }
        }
        io.close(conn, true);
    }

    // ---- gathering snapshots ----

    fn start_gather(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        endpoint: Endpoint,
        head_only: bool,
        keep_alive: bool,
    ) {
        let now = self.shared.clock.unix_nanos(io.now());
        let request = snapshot_request(&endpoint, now);
        let merged = self.snapshot(io, &request);
        let Some(host) = self.monitor.as_mut() else {
            return;
        };
        let id = host.next_gather_id;
        host.next_gather_id += 1;
        let token = TIMER_BIT | GATHER_TIMER_BIT | id;
        let gather = Gather {
            conn,
            endpoint,
            head_only,
            keep_alive,
            waiting: self.cores - 1,
            merged,
            timer: io.set_timer(io.now() + SNAPSHOT_DEADLINE, token),
        };
        if gather.waiting == 0 {
            self.finish_gather(io, gather);
            return;
        }
        if let Some(http) = host.connections.get_mut(&conn) {
            http.busy = true;
        }
        host.gathers.insert(id, gather);
        let body = serde_json::to_vec(&request).expect("a snapshot request serializes");
        let record = encode_record(REQUEST, Some(id), &body);
        for peer in (0..self.cores).filter(|&peer| peer != self.core) {
            io.send_mail(peer, &[&record]);
        }
    }

    fn on_gather_reply(&mut self, io: &mut Io<'_>, id: u64, reply: CoreSnapshot) {
        let Some(host) = self.monitor.as_mut() else {
            return;
        };
        let Some(gather) = host.gathers.get_mut(&id) else {
            return; // Answered after its deadline.
        };
        gather.merged.stats.add(&reply.stats);
        gather.merged.connections.extend(reply.connections);
        gather.merged.subscriptions.extend(reply.subscriptions);
        gather.waiting -= 1;
        if gather.waiting == 0 {
            let gather = host.gathers.remove(&id).expect("present");
            self.finish_gather(io, gather);
        }
    }

    fn on_gather_deadline(&mut self, io: &mut Io<'_>, id: u64) {
        let Some(gather) = self
            .monitor
            .as_mut()
            .and_then(|host| host.gathers.remove(&id))
        else {
            return;
        };
        error!(
            "monitoring: {} of {} cores did not answer within {:?}",
            gather.waiting, self.cores, SNAPSHOT_DEADLINE
        );
        self.set_idle(gather.conn);
        let text = format!("monitoring: a core did not answer within {SNAPSHOT_DEADLINE:?}");
        self.respond(io, gather.conn, &Response::unavailable(&text), false, false);
    }

    fn set_idle(&mut self, conn: ConnId) {
        if let Some(http) = self
            .monitor
            .as_mut()
            .and_then(|host| host.connections.get_mut(&conn))
        {
            http.busy = false;
        }
    }

    fn finish_gather(&mut self, io: &mut Io<'_>, gather: Gather) {
        io.cancel_timer(gather.timer);
        let Some(mut host) = self.monitor.take() else {
            return;
        };
        let (conn, head_only, keep_alive) = (gather.conn, gather.head_only, gather.keep_alive);
        let live = host.connections.contains_key(&conn);
        let response = live.then(|| self.render(io, &mut host, gather.endpoint, gather.merged));
        self.monitor = Some(host);
        let Some(response) = response else {
            return; // The HTTP connection went away meanwhile.
        };
        self.set_idle(conn);
        self.respond(io, conn, &response, head_only, keep_alive);
        self.serve_requests(io, conn);
    }

    fn render(
        &self,
        io: &Io<'_>,
        host: &mut Host,
        endpoint: Endpoint,
        merged: CoreSnapshot,
    ) -> Response {
        let now_instant = io.now();
        let now = self.shared.clock.unix_nanos(now_instant);
        match &endpoint {
            Endpoint::Varz | Endpoint::Metrics => {
                let counters = VarzCounters {
                    now,
                    mem: resident_bytes(),
                    cpu: host.cpu.percent(now_instant),
                    total_connections: self.shared.next_client_id.load(Ordering::Relaxed) - 1,
                    slow_consumers: self.shared.slow_consumers.load(Ordering::Relaxed),
                    leafnodes: super::leaf::active_links(&self.links).count() as u64,
                    routes: super::route::active_routes(&self.routes).count() as u64,
                    websocket_refusals: self.shared.websocket_refusals.load(Ordering::Relaxed),
                    websocket_faults: self.shared.websocket_faults.load(Ordering::Relaxed),
                    connect_urls: self.connect_urls.clone(),
                    http_req_stats: host.request_counts.clone(),
                    jetstream: self.jetstream_varz(),
                };
                // A dynamic cluster name may have given way to a peer's since start-up (core
                // 0 keeps the current one, as its client INFO says).
                if !host.facts.cluster.name.is_empty() && !self.cluster.name.is_empty() {
                    host.facts.cluster.name.clone_from(&self.cluster.name);
                }
                if endpoint == Endpoint::Varz {
                    Response::json(document::varz(&host.facts, &counters, &merged.stats))
                } else {
                    Response::prometheus(metrics::render(&host.facts, &counters, &merged.stats))
                }
            }
            Endpoint::Connz(options) => Response::json(connz(host, options, merged, now)),
            Endpoint::Subsz(options) => {
                Response::json(subsz(&host.facts.server_id, options, merged, now))
            }
            _ => Response::not_found(),
        }
    }

    // ---- every core: snapshots and closed connections ----

    pub(super) fn on_monitor_record(&mut self, io: &mut Io<'_>, from: usize, body: &[u8]) {
        let Some((&subtype, rest)) = body.split_first() else {
            error!("monitoring: empty record from core {from}");
            return;
        };
        let handled = match subtype {
            REQUEST => split_id(rest).and_then(|(id, json)| {
                let request: SnapshotRequest = serde_json::from_slice(json).ok()?;
                let snapshot = self.snapshot(io, &request);
                let body = serde_json::to_vec(&snapshot).ok()?;
                io.send_mail(from, &[&encode_record(REPLY, Some(id), &body)]);
                Some(())
            }),
            REPLY => split_id(rest).and_then(|(id, json)| {
                let reply: CoreSnapshot = serde_json::from_slice(json).ok()?;
                self.on_gather_reply(io, id, reply);
                Some(())
            }),
            CLOSED => serde_json::from_slice::<ConnRecord>(rest)
                .ok()
                .map(|record| {
                    if let Some(host) = self.monitor.as_mut() {
                        host.keep_closed(record);
                    }
                }),
            _ => None,
        };
        if handled.is_none() {
            error!("monitoring: malformed record {subtype} from core {from}");
        }
    }

    /// A connection stops being open (the first close cause wins): /varz stops counting it
    /// and, with monitoring on, its record goes to core 0's closed ring.
    pub(super) fn retire(&mut self, io: &mut Io<'_>, conn: ConnId, reason: ClosedReason) {
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        if client.retired {
            return;
        }
        client.retired = true;
        self.open_clients -= 1;
        if !self.monitoring {
            return;
        }
        let now = self.shared.clock.unix_nanos(io.now());
        let Some(client) = self.client(conn) else {
            return;
        };
        let mut record = self.conn_record(io, client, true);
        record.stop = Some(now);
        record.reason = Some(reason.text().to_string());
        match self.monitor.as_mut() {
            Some(host) => host.keep_closed(record),
            None => {
                let body = serde_json::to_vec(&record).expect("a record serializes");
                io.send_mail(0, &[&encode_record(CLOSED, None, &body)]);
            }
        }
    }
}

/// Whether an account filter lets the global account's connections through.
pub(super) fn account_matches(account: &str) -> bool {
    account.is_empty() || account == GLOBAL_ACCOUNT
}

/// What every core is asked for, by endpoint.
fn snapshot_request(endpoint: &Endpoint, now: i64) -> SnapshotRequest {
    match endpoint {
        Endpoint::Connz(options) => SnapshotRequest {
            connections: open_connections_wanted(options).then(|| ConnSelect {
                sort: options.sort,
                top: options.offset.saturating_add(options.limit),
                cid: options.cid,
                with_subscriptions: options.subs != SubsListing::None,
                now,
            }),
            subscriptions: None,
        },
        Endpoint::Subsz(options) => SnapshotRequest {
            connections: None,
            subscriptions: (options.subs && account_matches(&options.account)).then(|| SubSelect {
                top: options.offset.saturating_add(options.limit),
                test: options.test.clone(),
            }),
        },
        _ => SnapshotRequest::default(),
    }
}

/// nats-server searches open connections by cid only with `state=open`; filters by user
/// name and MQTT client id match no ringmq connection (it has neither).
fn open_connections_wanted(options: &ConnzOptions) -> bool {
    let by_cid_elsewhere = options.cid > 0 && options.state != ConnState::Open;
    options.state.wants_open()
        && !by_cid_elsewhere
        && options.user.is_empty()
        && options.mqtt_client.is_empty()
        && account_matches(&options.account)
}

fn connz(host: &Host, options: &ConnzOptions, merged: CoreSnapshot, now: i64) -> Vec<u8> {
    let server_id = &host.facts.server_id;
    let mut page = ConnzPage {
        offset: options.offset,
        limit: options.limit,
        total: 0,
        connections: None,
        subs: options.subs,
    };
    if !account_matches(&options.account) {
        // nats-server: an unknown account answers an empty document with `null`.
        return document::connz(server_id, now, &page);
    }
    let open_count = merged.stats.connections as usize;
    page.total = match options.state {
        ConnState::Open => open_count,
        ConnState::Closed => host.closed.len(),
        ConnState::All => open_count + host.closed.len(),
    };
    // References, so the closed ring is sorted and paged without copying it.
    let mut records: Vec<&ConnRecord> = merged.connections.iter().collect();
    let closed_wanted =
        options.state.wants_closed() && options.user.is_empty() && options.mqtt_client.is_empty();
    if closed_wanted {
        let closed = host.closed.iter();
        if options.cid > 0 {
            records.extend(closed.filter(|c| c.cid == options.cid).take(1));
        } else {
            records.extend(closed);
        }
    }
    records.sort_by(|a, b| snapshot::compare(a, b, options.sort, now));
    let range = snapshot::page_bounds(records.len(), options.offset, options.limit);
    page.connections = Some(&records[range]);
    document::connz(server_id, now, &page)
}

fn subsz(server_id: &str, options: &SubszOptions, merged: CoreSnapshot, now: i64) -> Vec<u8> {
    if !account_matches(&options.account) {
        return document::subsz(server_id, now, &CoreStats::default(), 0, 0, &[]);
    }
    let mut records = merged.subscriptions;
    snapshot::keep_top_subscriptions(&mut records, usize::MAX);
    let range = snapshot::page_bounds(records.len(), options.offset, options.limit);
    document::subsz(
        server_id,
        now,
        &merged.stats,
        options.offset,
        options.limit,
        &records[range],
    )
}
