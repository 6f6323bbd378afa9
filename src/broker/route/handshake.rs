//! The route handshake, as nats-server 2.9.10 does it: the accepting side sends its INFO
//! (and a PING) at once; the dialling side sends CONNECT then its INFO; each side registers
//! the route when the other's INFO is in, then sends its interest as RS+.
//!
//! Also here: the cluster's name (a configured one must match the peer's; a dynamic one
//! is replaced by a configured peer's, or by the smaller of two dynamic names), a route to
//! ourselves (dropped, never dialled again), a second route to a server already routed
//! (dropped), gossip (a peer that dialled us is announced to our other routes, which dial
//! it: the implicit routes of a full mesh) and the cluster's client URLs (`connect_urls`).

use super::{Phase, Shard};
use crate::auth::{Identity, Refusal, SecretCheck, Verdict};
use crate::broker::auth_checks::CheckDone;
use crate::broker::interest;
use crate::runtime::{ConnId, Io};
use crate::{debug, info};
use serde::{Deserialize, Serialize};

/// Close reasons, in nats-server's words.
const DUPLICATE_ROUTE: &str = "Duplicate Route";
const CLUSTER_NAME_CONFLICT: &str = "Cluster Name Conflict";

/// This server's cluster (core 0): its name and whether that name is dynamic.
#[derive(Debug, Default)]
pub(in crate::broker) struct Cluster {
    pub name: String,
    pub dynamic: bool,
    /// The client URLs last published to the cores (ours first, then the peers'), and
    /// the cluster name published with them.
    pub published: Vec<String>,
    pub published_name: String,
    /// We are in lame duck mode (our route INFO says so).
    pub lame_duck: bool,
}

/// A route INFO in nats-server's field order.
#[derive(Serialize)]
struct RouteInfo<'a> {
    server_id: &'a str,
    server_name: &'a str,
    version: &'a str,
    proto: u32,
    go: &'a str,
    host: &'a str,
    port: u16,
    headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_verify: bool,
    max_payload: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    cluster: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cluster_dynamic: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    connect_urls: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ldm: bool,
    /// Our route permissions, for the peer to know.
    #[serde(skip_serializing_if = "Option::is_none")]
    import: Option<super::permissions::PermissionJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<super::permissions::PermissionJson<'a>>,
    lnoc: bool,
    /// Our leaf URL (a gossiped peer's), for the peers to tell their leaves.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    leafnode_urls: &'a [String],
}

/// A peer announced to our other routes.
pub(super) struct Gossip {
    server_id: String,
    name: String,
    /// Its route `host:port`: the one its INFO's `ip` gives (its `advertise`), else its
    /// address and its INFO's port.
    route_url: String,
    /// Its INFO's `host` and `port`, forwarded as they came.
    host: String,
    port: u16,
    client_urls: Vec<String>,
    /// Its route port wants credentials.
    auth_required: bool,
    /// Its leaf URLs.
    leaf_urls: Vec<String>,
}

/// The fields of a peer's INFO that we read.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PeerInfo {
    server_id: String,
    server_name: String,
    host: String,
    port: u16,
    ip: String,
    cluster: String,
    cluster_dynamic: bool,
    connect_urls: Vec<String>,
    /// The peer is in lame duck mode: its clients' URLs are no longer offered.
    ldm: bool,
    /// The peer's route port wants credentials (a gossiped peer: we send ours).
    auth_required: bool,
    /// The peer's leaf URLs.
    leafnode_urls: Vec<String>,
    /// The peer's route `export` permission: what it takes from us.
    export: Option<super::permissions::PeerPermission>,
    /// The peer takes `LS+ origin ...` for interest of leaf origin.
    lnoc: bool,
}

/// The CONNECT a dialling nats-server 2.9.10 sends on a route, in its field order.
#[derive(Serialize)]
struct RouteConnect<'a> {
    echo: bool,
    verbose: bool,
    pedantic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pass: Option<&'a str>,
    tls_required: bool,
    headers: bool,
    name: &'a str,
    cluster: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cluster_dynamic: bool,
    lnoc: bool,
}

/// A route's CONNECT, kept while its bcrypt check runs.
pub(super) struct PendingRouteConnect {
    connect: PeerConnect,
    ticket: u64,
    /// The configuration generation it was asked under (a reload in between: asked again).
    generation: u64,
}

impl std::fmt::Debug for PendingRouteConnect {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRouteConnect")
            .field("user", &self.connect.user)
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

/// The fields of a route CONNECT that we read.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PeerConnect {
    name: String,
    cluster: String,
    cluster_dynamic: bool,
    lang: Option<String>,
    user: String,
    pass: String,
}

/// `nats-route://host:port/` → `host:port`.
fn route_address(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("nats-route://")
        .or_else(|| url.strip_prefix("nats://"))?;
    let rest = rest.trim_end_matches('/');
    let rest = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
    rest.rsplit_once(':')
        .filter(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        .map(|_| rest.to_string())
}

impl Shard {
    /// Our route INFO; `about`: instead, the INFO of a peer we announce to this route
    /// (gossip, as nats-server forwards it: the peer's id, name, route host and port, its
    /// route URL in `ip` and its client URLs; no nonce).
    pub(super) fn send_route_info(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        about: Option<&Gossip>,
    ) {
        let live = &self.live;
        let Some(cluster) = &live.config.cluster else {
            return;
        };
        let port = self.shared.route_port.unwrap_or(cluster.port);
        let client_urls = if cluster.no_advertise {
            &[][..]
        } else {
            &self.shared.client_urls[..]
        };
        // Gossip forwards the peer's own host and port, and its route URL in `ip`; our
        // own INFO gives the advertised address (host, port and `ip`) when there is one.
        let advertised = cluster.advertised(port).ok().flatten();
        let ip = match (about, &advertised) {
            (Some(peer), _) => Some(format!("nats-route://{}/", peer.route_url)),
            (None, Some((host, port))) => Some(format!(
                "nats-route://{}/",
                crate::broker::join_host_port(host, *port)
            )),
            (None, None) => None,
        };
        let own_leaf: Vec<String> = match &live.config.leafnodes {
            Some(leaf) if !leaf.no_advertise => self.own_leaf_url().into_iter().collect(),
            _ => Vec::new(),
        };
        let nonce = crate::auth::new_nonce();
        let permissions = cluster.permissions.as_ref().filter(|_| about.is_none());
        let (host, port) = match (about, &advertised) {
            (Some(peer), _) => (peer.host.as_str(), peer.port),
            (None, Some((host, port))) => (host.as_str(), *port),
            (None, None) => (cluster.host.as_str(), port),
        };
        let info = RouteInfo {
            server_id: about.map_or(live.info.server_id.as_str(), |peer| &peer.server_id),
            server_name: about.map_or(live.info.server_name.as_str(), |peer| &peer.name),
            version: &live.info.version,
            proto: 2,
            go: &live.info.go,
            host,
            port,
            headers: true,
            auth_required: about.map_or(cluster.authorization.is_some(), |peer| peer.auth_required),
            // nats-server forces verification on routes: both flags follow `tls {}`.
            tls_required: cluster.tls.is_some(),
            tls_verify: cluster.tls.is_some(),
            max_payload: live.config.limits.max_payload,
            ip: ip.as_deref(),
            nonce: (about.is_none() && !self.cluster.lame_duck).then_some(nonce.as_str()),
            cluster: &self.cluster.name,
            cluster_dynamic: self.cluster.dynamic,
            connect_urls: about.map_or(client_urls, |peer| &peer.client_urls[..]),
            ldm: about.is_none() && self.cluster.lame_duck,
            import: permissions
                .and_then(|p| p.import.as_ref())
                .map(super::permissions::PermissionJson::of),
            export: permissions
                .and_then(|p| p.export.as_ref())
                .map(super::permissions::PermissionJson::of),
            lnoc: true,
            leafnode_urls: about.map_or(&own_leaf[..], |peer| &peer.leaf_urls[..]),
        };
        let json =
            crate::broker::leaf::go_json(serde_json::to_string(&info).expect("INFO serialises"));
        // nats-server ends its own INFO with a blank before CRLF, a forwarded one without.
        let end: &[u8] = if about.is_some() { b"\r\n" } else { b" \r\n" };
        io.write_parts(conn, &[b"INFO ", json.as_bytes(), end]);
    }

    /// Our CONNECT (with the dial's credentials) then INFO, on a route we dialled.
    pub(super) fn send_route_connect(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let credentials = self
            .route_ref(conn)
            .and_then(|route| route.dial)
            .and_then(|index| self.route_dial_credentials(index));
        let connect = RouteConnect {
            echo: true,
            verbose: false,
            pedantic: false,
            user: credentials.map(|(user, _)| user.as_str()),
            pass: credentials.map(|(_, pass)| pass.as_str()),
            tls_required: self.shared.route_tls.is_some(),
            headers: true,
            name: &self.live.info.server_id,
            cluster: &self.cluster.name,
            cluster_dynamic: self.cluster.dynamic,
            lnoc: true,
        };
        let json = serde_json::to_string(&connect).expect("CONNECT serialises");
        io.write_parts(conn, &[b"CONNECT ", json.as_bytes(), b"\r\n"]);
        self.send_route_info(io, conn, None);
    }

    /// The CONNECT of a peer that dialled us: a client's is refused; with route
    /// authorization its user and password must be the route user's (a bcrypt hash is
    /// compared on the auth workers while the route's input waits); its cluster's name must
    /// be ours (or one of them dynamic).
    pub(super) fn on_route_connect(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        json: &[u8],
    ) -> Result<(), &'static str> {
        let connect: PeerConnect =
            serde_json::from_slice(json).map_err(|_| "Protocol Violation")?;
        if connect.lang.is_some() {
            self.write_route_error(io, conn, "attempted to connect to route port");
            return Err("Incorrect Port");
        }
        match self.route_verdict(&connect.user, &connect.pass) {
            Verdict::Admit(_) => self.finish_route_connect(io, conn, connect),
            Verdict::Refuse(_) => Err(self.refuse_route(io, conn, &connect.user)),
            Verdict::Check(check) => self.check_route_off_core(io, conn, check, connect),
        }
    }

    /// The route port's verdict on a CONNECT's credentials (nats-server's
    /// `isRouterAuthorized`: without a route user, every route is admitted).
    pub(super) fn route_verdict(&self, user: &str, pass: &str) -> Verdict {
        let auth = self
            .live
            .config
            .cluster
            .as_ref()
            .and_then(|cluster| cluster.authorization.as_ref());
        let admitted = Identity {
            account: crate::auth::GLOBAL_ACCOUNT,
            rules: None,
            assumed_user: None,
        };
        match auth {
            None => Verdict::Admit(admitted),
            Some(auth) if auth.user != user => Verdict::Refuse(Refusal { detail: None }),
            Some(auth) => self.live.auth.compare_secret(
                format!("route user {}", auth.user),
                &auth.password,
                pass,
                admitted,
            ),
        }
    }

    /// An admitted CONNECT: the cluster name, then the route waits for the peer's INFO.
    fn finish_route_connect(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        connect: PeerConnect,
    ) -> Result<(), &'static str> {
        self.check_cluster_name(io, conn, &connect.cluster, connect.cluster_dynamic, true)?;
        if let Some(route) = self.route_mut(conn) {
            route.got_connect = true;
            if route.dial.is_none() {
                route.login = Some((connect.user.clone(), connect.pass.clone()));
            }
            if route.remote_id.is_empty() {
                route.remote_id = connect.name;
            }
        }
        Ok(())
    }

    /// The route password is a bcrypt hash: the check goes to the auth workers, and the
    /// route's input after its CONNECT waits in its reader (see `link_input`).
    fn check_route_off_core(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        check: SecretCheck,
        connect: PeerConnect,
    ) -> Result<(), &'static str> {
        self.auth_tickets += 1;
        let ticket = self.auth_tickets;
        let submitted =
            self.shared
                .auth_checks
                .submit(check, conn, ticket, self.core, io.waker(), true);
        if let Err(rejected) = submitted {
            if let Some(route) = self.route_ref(conn) {
                crate::error!(
                    "{} - rid:{} - refusing a login: {rejected:?} (limit {})",
                    route.peer,
                    route.rid,
                    self.shared.auth_checks.queued_max()
                );
            }
            return Err(self.refuse_route(io, conn, &connect.user));
        }
        let generation = self.live.generation;
        if let Some(route) = self.route_mut(conn) {
            route.pending_connect = Some(Box::new(PendingRouteConnect {
                connect,
                ticket,
                generation,
            }));
        }
        io.pause_reading(conn);
        Ok(())
    }

    /// Whether a route's CONNECT waits for its bcrypt check (its input is held).
    pub(in crate::broker) fn route_awaits_auth(&self, conn: ConnId) -> bool {
        self.route_ref(conn)
            .is_some_and(|route| route.pending_connect.is_some())
    }

    /// A bcrypt answer for a route's CONNECT, if that route still waits for it.
    pub(in crate::broker) fn route_auth_answer(&mut self, io: &mut Io<'_>, answer: CheckDone) {
        let conn = answer.conn;
        if self.route_recheck_answer(io, &answer) {
            return;
        }
        let Some(pending) = self.route_mut(conn).and_then(|route| {
            route
                .pending_connect
                .take_if(|pending| pending.ticket == answer.ticket)
        }) else {
            return;
        };
        if self
            .route_ref(conn)
            .is_none_or(|route| route.phase == Phase::Closing)
        {
            return;
        }
        let PendingRouteConnect {
            connect,
            generation,
            ..
        } = *pending;
        let result = if generation != self.live.generation {
            // Reloaded meanwhile: the route user may have changed; ask again.
            match self.route_verdict(&connect.user, &connect.pass) {
                Verdict::Admit(_) => self.finish_route_connect(io, conn, connect),
                Verdict::Refuse(_) => Err(self.refuse_route(io, conn, &connect.user)),
                Verdict::Check(check) => self.check_route_off_core(io, conn, check, connect),
            }
        } else if answer.admitted.is_some() {
            self.finish_route_connect(io, conn, connect)
        } else {
            Err(self.refuse_route(io, conn, &connect.user))
        };
        if let Err(reason) = result {
            self.close_route(io, conn, reason);
            return;
        }
        if !self.route_awaits_auth(conn) {
            self.resume_route(io, conn);
        }
    }

    /// nats-server's rule for a name that differs from ours: a dynamic name of ours gives
    /// way to a configured one or to a greater one (and our other routes, of the old name,
    /// are closed); otherwise the route closes, with an error to the peer when the name
    /// came in its CONNECT.
    fn check_cluster_name(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        theirs: &str,
        their_dynamic: bool,
        from_connect: bool,
    ) -> Result<(), &'static str> {
        if theirs == self.cluster.name || (!from_connect && theirs.is_empty()) {
            return Ok(());
        }
        if self.cluster.dynamic && (!their_dynamic || self.cluster.name.as_str() < theirs) {
            info!("Cluster name updated to {theirs}");
            self.cluster.name = theirs.to_string();
            self.cluster.dynamic = their_dynamic;
            // Every core's client INFO says the new name.
            self.publish_cluster_urls(io);
            let others: Vec<ConnId> = self
                .routes
                .iter()
                .flatten()
                .filter(|route| route.id != conn)
                .map(|route| route.id)
                .collect();
            for other in others {
                self.close_route(io, other, CLUSTER_NAME_CONFLICT);
            }
            return Ok(());
        }
        if from_connect {
            let text = format!(
                "Rejecting connection, cluster name {theirs:?} does not match {:?}",
                self.cluster.name
            );
            self.write_route_error(io, conn, &text);
        }
        Err(CLUSTER_NAME_CONFLICT)
    }

    /// A peer's INFO: during the handshake, the route registers; later, a peer's client
    /// URLs changed, or gossip names a server to dial.
    pub(super) fn on_route_info(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        json: &[u8],
    ) -> Result<(), &'static str> {
        let info: PeerInfo = serde_json::from_slice(json).map_err(|_| "Protocol Violation")?;
        let Some(route) = self.route_ref(conn) else {
            return Ok(());
        };
        match route.phase {
            Phase::Handshake => self.register_route(io, conn, info),
            Phase::Active if info.server_id == route.remote_id => {
                let ldm = info.ldm;
                let export = info
                    .export
                    .map(super::permissions::PeerPermission::into_permission);
                if let Some(route) = self.route_mut(conn) {
                    // A peer in lame duck mode: its clients' URLs are offered no more.
                    route.client_urls = if info.ldm {
                        Vec::new()
                    } else {
                        info.connect_urls
                    };
                    route.leaf_urls = info.leafnode_urls;
                }
                if !ldm {
                    self.on_peer_export(io, conn, export);
                }
                self.publish_cluster_urls(io);
                Ok(())
            }
            Phase::Active => {
                if let Some(url) = route_address(&info.ip) {
                    self.learn_route(io, &info.server_id, &url, info.auth_required);
                }
                Ok(())
            }
            Phase::Closing => Ok(()),
        }
    }

    fn register_route(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        info: PeerInfo,
    ) -> Result<(), &'static str> {
        if info.server_id == self.live.info.server_id {
            debug!(
                "Detected route to self, ignoring {:?}",
                self.route_ref(conn).map(|r| r.peer)
            );
            self.route_to_self(conn);
            return Err(DUPLICATE_ROUTE);
        }
        self.check_cluster_name(io, conn, &info.cluster, info.cluster_dynamic, false)?;
        let duplicate = super::active_routes(&self.routes)
            .any(|other| other.id != conn && other.remote_id == info.server_id);
        let Some(route) = self.route_mut(conn) else {
            return Ok(());
        };
        if duplicate {
            // nats-server keeps the route it had; if we dialled this one, the kept route
            // takes over the dial, so that it is dialled again when lost (both sides may
            // have kept opposite connections and closed the other).
            let (peer, rid) = (route.peer, route.rid);
            debug!(
                "{peer} - rid:{rid} - Detected duplicate remote route {:?}",
                info.server_id
            );
            let dial = route.dial.take();
            let kept = super::active_routes(&self.routes)
                .find(|other| other.remote_id == info.server_id)
                .map(|other| other.id);
            if let (Some(index), Some(kept)) = (dial, kept) {
                self.route_dial_moved(index, kept);
            }
            return Err(DUPLICATE_ROUTE);
        }
        // nats-server's rule: the URL the peer advertises in `ip`, else its address with
        // the port of its INFO.
        route.route_url = route_address(&info.ip).or_else(|| {
            (info.port > 0)
                .then(|| crate::broker::join_host_port(&route.peer.ip().to_string(), info.port))
        });
        route.remote_host = info.host;
        route.remote_port = info.port;
        route.remote_id = info.server_id;
        route.remote_name = info.server_name;
        route.client_urls = info.connect_urls;
        route.leaf_urls = info.leafnode_urls;
        route.auth_required = info.auth_required;
        route.peer_export = info
            .export
            .map(super::permissions::PeerPermission::into_permission);
        route.lnoc = info.lnoc;
        route.phase = Phase::Active;
        let solicited = route.dial.is_some();
        let (peer, rid, id) = (route.peer, route.rid, route.remote_id.clone());
        let gossip = route.route_url.clone().map(|route_url| Gossip {
            server_id: route.remote_id.clone(),
            name: route.remote_name.clone(),
            route_url,
            host: route.remote_host.clone(),
            port: route.remote_port,
            client_urls: route.client_urls.clone(),
            auth_required: route.auth_required,
            leaf_urls: route.leaf_urls.clone(),
        });
        debug!("{peer} - rid:{rid} - Registering remote route {id:?}");
        self.route_dial_succeeded(conn);
        self.send_route_interest(io, conn);
        debug!("{peer} - rid:{rid} - Sent local subscriptions to route");
        // A peer that dialled us is announced to our other routes, which dial it.
        if let (false, Some(gossip)) = (solicited, gossip) {
            let others: Vec<ConnId> = super::active_routes(&self.routes)
                .filter(|other| other.id != conn)
                .map(|other| other.id)
                .collect();
            for other in others {
                self.send_route_info(io, other, Some(&gossip));
            }
        }
        self.publish_cluster_urls(io);
        Ok(())
    }

    /// A route that did not authenticate: nats-server's error and log line (which names
    /// the user when the server has client users, as its `authViolation` does).
    pub(super) fn refuse_route(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        user: &str,
    ) -> &'static str {
        if let Some(route) = self.route_ref(conn) {
            let line = self.live.auth.refusal_log(None, Some(user));
            crate::error!("{} - rid:{} - {line}", route.peer, route.rid);
        }
        io.write(conn, crate::protocol::encoder::err::AUTHORIZATION_VIOLATION);
        "Authentication Failure"
    }

    /// Whether an accepted route must authenticate and has not yet.
    pub(super) fn route_must_authenticate(&self, conn: ConnId) -> bool {
        let required = self
            .live
            .config
            .cluster
            .as_ref()
            .is_some_and(|cluster| cluster.authorization.is_some());
        required
            && self
                .route_ref(conn)
                .is_some_and(|route| route.dial.is_none() && !route.got_connect)
    }

    /// Lame duck mode (core 0): every route is told, with our route INFO and `ldm`.
    pub(in crate::broker) fn announce_lame_duck_to_routes(&mut self, io: &mut Io<'_>) {
        if self.core != 0 || self.cluster.lame_duck || self.live.config.cluster.is_none() {
            return;
        }
        self.cluster.lame_duck = true;
        let routes: Vec<ConnId> = super::active_routes(&self.routes)
            .map(|route| route.id)
            .collect();
        for conn in routes {
            self.send_route_info(io, conn, None);
        }
    }

    /// The route's peer left the cluster view: its client and leaf URLs go.
    pub(super) fn route_left(&mut self, io: &mut Io<'_>, conn: ConnId) {
        if let Some(route) = self.route_mut(conn) {
            route.client_urls.clear();
            route.leaf_urls.clear();
        }
        self.publish_cluster_urls(io);
    }

    /// Recomputes the cluster's client URLs (ours, then every peer's, each once) and, when
    /// they changed, tells every core (each sends its clients an INFO).
    pub(super) fn publish_cluster_urls(&mut self, io: &mut Io<'_>) {
        self.update_cluster_leaf_urls(io);
        let no_advertise = self
            .live
            .config
            .cluster
            .as_ref()
            .is_some_and(|cluster| cluster.no_advertise);
        let mut urls: Vec<String> = Vec::new();
        if !no_advertise {
            let peers = super::active_routes(&self.routes).flat_map(|r| r.client_urls.iter());
            for url in self.shared.client_urls.iter().chain(peers) {
                if !urls.contains(url) {
                    urls.push(url.clone());
                }
            }
        }
        if urls == self.cluster.published && self.cluster.name == self.cluster.published_name {
            return;
        }
        interest::encode_cluster_urls(&mut self.record, &self.cluster.name, &urls);
        for peer in 0..self.cores {
            if peer != self.core {
                io.send_mail(peer, &[&self.record]);
            }
        }
        let body = self.record[1..].to_vec();
        self.cluster.published = urls;
        self.cluster.published_name = self.cluster.name.clone();
        self.adopt_cluster_urls(io, &body);
    }

    /// The leaf URLs of every node (ours and the peers'), sorted: when they change, the
    /// leaves of this hub are sent the leaf INFO again, so that they can fail over to
    /// another node.
    fn update_cluster_leaf_urls(&mut self, io: &mut Io<'_>) {
        let Some(own) = self.own_leaf_url() else {
            return;
        };
        let mut urls: Vec<String> = std::iter::once(own)
            .chain(
                super::active_routes(&self.routes)
                    .flat_map(|route| route.leaf_urls.iter().cloned()),
            )
            .collect();
        urls.sort();
        urls.dedup();
        if urls != self.cluster_leaf_urls {
            self.cluster_leaf_urls = urls;
            self.send_async_leaf_info(io);
        }
    }

    /// Every core: the cluster's client URLs changed; clients that take asynchronous INFO
    /// (protocol 1, first PING answered) get an INFO with them.
    pub(in crate::broker) fn adopt_cluster_urls(&mut self, io: &mut Io<'_>, body: &[u8]) {
        let body = String::from_utf8_lossy(body);
        let mut lines = body.split('\n');
        // The name first (a dynamic one may have been replaced by a peer's).
        if let Some(name) = lines.next() {
            if name != self.cluster_name {
                self.cluster_name = name.to_string();
            }
        }
        let urls: Vec<String> = lines
            .filter(|url| !url.is_empty())
            .map(str::to_string)
            .collect();
        if urls == self.connect_urls {
            return;
        }
        self.connect_urls = urls;
        self.send_async_info(io);
    }
}

impl Shard {
    /// A client INFO's cluster fields: the cluster's name and its client URLs.
    pub(in crate::broker) fn add_cluster_fields(&self, info: &mut crate::protocol::ServerInfo) {
        if self.live.config.cluster.is_some() {
            info.cluster = Some(if self.cluster_name.is_empty() {
                self.shared.cluster_name.clone()
            } else {
                self.cluster_name.clone()
            });
            info.connect_urls = self.connect_urls.clone();
        }
    }

    /// The client INFO again, with the cluster's client URLs, to clients that take
    /// asynchronous INFO (protocol 1, first PING answered), as nats-server does when a node
    /// joins or leaves.
    fn send_async_info(&mut self, io: &mut Io<'_>) {
        let mut info = self.live.info.clone();
        self.add_cluster_fields(&mut info);
        for slot in 0..self.clients.len() {
            let Some(client) = self.clients[slot].as_deref() else {
                continue;
            };
            if !client.is_open() || client.options.protocol < 1 || !client.first_pong_sent {
                continue;
            }
            info.client_id = client.cid;
            info.client_ip = client.peer.ip().to_string();
            let conn = client.id;
            self.line.clear();
            info.encode(&mut self.line);
            io.write(conn, &self.line);
        }
    }
}
