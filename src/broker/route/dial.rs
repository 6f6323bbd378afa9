//! The routes this server dials (core 0): the configured ones (`cluster.routes`, redialled
//! for ever, 1 s apart) and those learnt from gossip (implicit: `connect_retries` retries,
//! redialled at once when lost), with `backoff`'s policies. A route that proves to lead to
//! ourselves, or to a server already routed, is not dialled again. A dial never queries
//! DNS on the core: configured names were resolved when the configuration was read
//! (`ClusterConfig::addresses`), gossip carries addresses.

use super::{Route, Shard};
use crate::broker::backoff::{dial_error, Backoff, Failure, Policy, Retry};
use crate::broker::timers::Timer;
use crate::runtime::{ConnId, ConnectError, Io, TimerId};
use crate::{debug, error, info};
use std::net::SocketAddr;

/// Marks a dial's tag as a route's (a leaf remote's tag is its bare index).
pub(in crate::broker) const ROUTE_DIAL_TAG: u64 = 1 << 62;

#[derive(Debug)]
struct RouteDial {
    /// `host:port`.
    url: String,
    /// The server it leads to, once known (implicit routes know it from gossip).
    server_id: Option<String>,
    backoff: Backoff,
    attempts: u32,
    conn: Option<ConnId>,
    timer: Option<TimerId>,
    /// Never dialled again (it led to ourselves, or the retries ran out).
    done: bool,
    /// Sent in our CONNECT: the URL's, or, for a gossiped peer that wants credentials,
    /// our own route user's (nats-server's rule).
    credentials: Option<(String, String)>,
}

/// Every route dial of this server (core 0).
#[derive(Debug, Default)]
pub(in crate::broker) struct RouteDials {
    started: bool,
    list: Vec<RouteDial>,
}

impl Shard {
    /// Core 0's first turn: the first dial of every configured route.
    pub(in crate::broker) fn start_routes(&mut self, io: &mut Io<'_>) {
        if self.route_dials.started || self.core != 0 {
            return;
        }
        self.route_dials.started = true;
        let Some(cluster) = &self.live.config.cluster else {
            return;
        };
        self.route_dials.list = cluster
            .routes
            .iter()
            .map(|url| RouteDial {
                url: url.clone(),
                server_id: None,
                backoff: Backoff::new(Policy::ExplicitRoute),
                attempts: 0,
                conn: None,
                timer: None,
                done: false,
                credentials: cluster.credentials.get(url).cloned(),
            })
            .collect();
        for index in 0..self.route_dials.list.len() {
            self.dial_route(io, index);
        }
    }

    /// Gossip named a server and its route URL: dial it unless it is us, routed already,
    /// or being dialled.
    pub(super) fn learn_route(
        &mut self,
        io: &mut Io<'_>,
        server_id: &str,
        url: &str,
        auth_required: bool,
    ) {
        if server_id == self.live.info.server_id
            || super::active_routes(&self.routes).any(|route| route.remote_id == server_id)
        {
            return;
        }
        let known = self
            .route_dials
            .list
            .iter()
            .position(|dial| dial.server_id.as_deref() == Some(server_id) || dial.url == url);
        if let Some(index) = known {
            let dial = &mut self.route_dials.list[index];
            if dial.conn.is_some() || dial.timer.is_some() {
                return;
            }
            dial.done = false;
            dial.server_id = Some(server_id.to_string());
            self.dial_route(io, index);
            return;
        }
        let cluster = self.live.config.cluster.as_ref();
        let connect_retries = cluster.map_or(0, |cluster| cluster.connect_retries);
        let credentials = cluster
            .and_then(|cluster| cluster.authorization.as_ref())
            .filter(|_| auth_required)
            .map(|auth| (auth.user.clone(), auth.password.clone()));
        self.route_dials.list.push(RouteDial {
            url: url.to_string(),
            server_id: Some(server_id.to_string()),
            backoff: Backoff::new(Policy::ImplicitRoute { connect_retries }),
            attempts: 0,
            conn: None,
            timer: None,
            done: false,
            credentials,
        });
        let index = self.route_dials.list.len() - 1;
        self.dial_route(io, index);
    }

    fn dial_route(&mut self, io: &mut Io<'_>, index: usize) {
        let Some(dial) = self.route_dials.list.get(index) else {
            return;
        };
        let url = dial.url.clone();
        let address = self
            .live
            .config
            .cluster
            .as_ref()
            .and_then(|cluster| cluster.address(&url));
        let Some(address) = address else {
            let host = url.rsplit_once(':').map_or(url.as_str(), |(host, _)| host);
            let text = format!(
                "dial tcp {url}: lookup {host}: not resolved when the configuration was read"
            );
            self.route_dial_failed(io, index, &text);
            return;
        };
        debug!("Trying to connect to route on {url} ({address})");
        let timeout = self.live.config.limits.link_dial_timeout;
        match io.connect(address, ROUTE_DIAL_TAG | index as u64, timeout) {
            Ok(conn) => self.route_dials.list[index].conn = Some(conn),
            Err(error) => self.route_dial_failed(io, index, &dial_error(address, error)),
        }
    }

    /// A route dial connected: the route starts with the TLS handshake (route TLS), or at
    /// once with our CONNECT and INFO.
    pub(in crate::broker) fn on_route_connected(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        tag: u64,
        peer: SocketAddr,
    ) {
        let index = (tag & !ROUTE_DIAL_TAG) as usize;
        if self
            .route_dials
            .list
            .get(index)
            .is_some_and(|dial| dial.done)
        {
            // Removed by a reload while it was dialled.
            if let Some(dial) = self.route_dials.list.get_mut(index) {
                dial.conn = None;
            }
            io.close(conn, false);
            return;
        }
        self.new_route(io, conn, peer, Some(index));
        let url = self.route_dial_url(index).cloned().unwrap_or_default();
        if !self.start_route_client_tls(io, conn, &url) {
            self.greet_dialled_route(io, conn);
        }
    }

    /// A dialled route is set up (past its TLS handshake, if any): CONNECT and INFO.
    pub(super) fn greet_dialled_route(&mut self, io: &mut Io<'_>, conn: ConnId) {
        if let Some(route) = self.route_ref(conn) {
            let (peer, rid) = (route.peer, route.rid);
            debug!("{peer} - rid:{rid} - Route connect msg sent");
            info!("{peer} - rid:{rid} - Route connection created");
        }
        self.send_route_connect(io, conn);
        self.arm_first_route_ping(io, conn);
    }

    pub(in crate::broker) fn on_route_connect_failed(
        &mut self,
        io: &mut Io<'_>,
        tag: u64,
        error: ConnectError,
    ) {
        if matches!(error, ConnectError::Shutdown) {
            return;
        }
        let index = (tag & !ROUTE_DIAL_TAG) as usize;
        let Some(dial) = self.route_dials.list.get_mut(index) else {
            return;
        };
        dial.conn = None;
        let url = dial.url.clone();
        let text = match self
            .live
            .config
            .cluster
            .as_ref()
            .and_then(|cluster| cluster.address(&url))
        {
            Some(address) => dial_error(address, error),
            None => error.to_string(),
        };
        self.route_dial_failed(io, index, &text);
    }

    fn route_dial_failed(&mut self, io: &mut Io<'_>, index: usize, text: &str) {
        let Some(dial) = self.route_dials.list.get_mut(index) else {
            return;
        };
        dial.attempts += 1;
        let attempts = dial.attempts;
        if attempts == 1 || attempts % crate::broker::backoff::CONNECT_ERROR_REPORTS == 0 {
            error!("Error trying to connect to route (attempt {attempts}): {text}");
        } else {
            debug!("Error trying to connect to route (attempt {attempts}): {text}");
        }
        self.schedule_route_dial(io, index, Failure::Dial);
    }

    fn schedule_route_dial(&mut self, io: &mut Io<'_>, index: usize, failure: Failure) {
        let Some(dial) = self.route_dials.list.get_mut(index) else {
            return;
        };
        match dial.backoff.next(failure) {
            Retry::After(wait) => {
                let timer = io.set_timer(io.now() + wait, Timer::RouteRedial(index).token());
                if let Some(old) = dial.timer.replace(timer) {
                    io.cancel_timer(old);
                }
            }
            Retry::GiveUp => {
                dial.done = true;
                debug!("Not attempting to connect to route {:?} any more", dial.url);
            }
        }
    }

    pub(in crate::broker) fn on_route_redial_timer(&mut self, io: &mut Io<'_>, index: usize) {
        let Some(dial) = self.route_dials.list.get_mut(index) else {
            return;
        };
        dial.timer = None;
        if dial.conn.is_none() && !dial.done {
            self.dial_route(io, index);
        }
    }

    /// A reload added an explicit route: dialled at once, for ever.
    pub(super) fn add_explicit_route(
        &mut self,
        io: &mut Io<'_>,
        url: &str,
        credentials: Option<(String, String)>,
    ) {
        self.route_dials.list.push(RouteDial {
            url: url.to_string(),
            server_id: None,
            backoff: Backoff::new(Policy::ExplicitRoute),
            attempts: 0,
            conn: None,
            timer: None,
            done: false,
            credentials,
        });
        let index = self.route_dials.list.len() - 1;
        self.dial_route(io, index);
    }

    /// A reload removed an explicit route: never dialled again; returns the connections
    /// it has (a dial under way is closed when it connects).
    pub(super) fn remove_explicit_route(
        &mut self,
        io: &mut Io<'_>,
        url: &str,
        credentials: &Option<(String, String)>,
    ) -> Vec<ConnId> {
        let mut conns = Vec::new();
        for dial in &mut self.route_dials.list {
            let explicit = matches!(dial.backoff.policy(), Policy::ExplicitRoute);
            if !explicit || dial.done || dial.url != url || &dial.credentials != credentials {
                continue;
            }
            dial.done = true;
            if let Some(timer) = dial.timer.take() {
                io.cancel_timer(timer);
            }
            conns.extend(dial.conn);
        }
        conns
    }

    /// The credentials dial `index` sends in its CONNECT.
    pub(super) fn route_dial_credentials(&self, index: usize) -> Option<&(String, String)> {
        self.route_dials
            .list
            .get(index)
            .and_then(|dial| dial.credentials.as_ref())
    }

    /// The URL dial `index` dials.
    pub(super) fn route_dial_url(&self, index: usize) -> Option<&String> {
        self.route_dials.list.get(index).map(|dial| &dial.url)
    }

    /// The route we dialled registered: counting starts again.
    pub(super) fn route_dial_succeeded(&mut self, conn: ConnId) {
        let Some(index) = self.route_ref(conn).and_then(|route| route.dial) else {
            return;
        };
        let remote_id = self.route_ref(conn).map(|route| route.remote_id.clone());
        if let Some(dial) = self.route_dials.list.get_mut(index) {
            dial.backoff.connected();
            dial.attempts = 0;
            dial.server_id = remote_id;
        }
    }

    /// A duplicate route we dialled was dropped: the route kept in its place (`kept`)
    /// takes the dial over, unless it has one of its own.
    pub(super) fn route_dial_moved(&mut self, index: usize, kept: ConnId) {
        let Some(route) = self.route_mut(kept) else {
            return;
        };
        if route.dial.is_some() {
            if let Some(dial) = self.route_dials.list.get_mut(index) {
                dial.conn = None;
            }
            return;
        }
        route.dial = Some(index);
        let remote_id = route.remote_id.clone();
        if let Some(dial) = self.route_dials.list.get_mut(index) {
            dial.conn = Some(kept);
            dial.server_id = Some(remote_id);
            dial.backoff.connected();
            dial.attempts = 0;
        }
    }

    /// The route dialled to `conn` led to ourselves: never again.
    pub(super) fn route_to_self(&mut self, conn: ConnId) {
        let Some(index) = self.route_ref(conn).and_then(|route| route.dial) else {
            return;
        };
        if let Some(dial) = self.route_dials.list.get_mut(index) {
            dial.done = true;
        }
    }

    /// A route we dialled is gone: dial again as its policy says (not while shutting down,
    /// nor after it proved useless).
    pub(super) fn route_dial_ended(&mut self, io: &mut Io<'_>, route: &Route, shutdown: bool) {
        let Some(index) = route.dial else {
            return;
        };
        let Some(dial) = self.route_dials.list.get_mut(index) else {
            return;
        };
        dial.conn = None;
        if shutdown || dial.done {
            return;
        }
        self.schedule_route_dial(io, index, Failure::Lost);
    }
}
