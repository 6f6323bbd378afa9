//! A reloaded `cluster` block, applied by core 0 as nats-server 2.9.10 applies it
//! (`clusterOption`, `routesOption`, `reloadClusterPermissions`), and a peer's reloaded
//! route permissions (`updateRemoteRoutePerms`):
//!
//! - a new name is taken (`Cluster name updated to ...`) and the leaf links we dialled are
//!   closed (`Cluster Name Conflict`) to meet their hubs again under it;
//! - new permissions: every route gets our new INFO (its `import`/`export`), then RS+ for
//!   our interest `import` now allows and did not, RS- for what it allowed and no longer
//!   does; each route's interest that `export` no longer allows is dropped;
//! - routes added to the list are dialled, routes removed are closed (`Route Removed`)
//!   and not dialled again;
//! - a peer's INFO whose `export` now takes interest it refused before gets that interest.
//!
//! The other settings (`no_advertise`, `connect_retries`, `authorization`, `advertise`)
//! are read from the running configuration when next used.

use super::permissions::{compile, compile_export};
use super::{interest::RouteKey, Shard};
use crate::auth::{Rules, SubjectPermission, Verdict};
use crate::broker::auth_checks::CheckDone;
use crate::config::{ClusterConfig, Config};
use crate::info;
use crate::runtime::{ConnId, Io};
use std::sync::Arc;

/// Whether `rules` (a route's compiled permissions) let our interest in `pattern` out.
fn imports(rules: &Option<Arc<Rules>>, pattern: &[u8]) -> bool {
    rules
        .as_ref()
        .is_none_or(|rules| rules.publish_allowed(pattern))
}

/// Whether a peer's `export` rules take our interest in `pattern`.
fn takes(rules: &Option<Arc<Rules>>, pattern: &[u8]) -> bool {
    rules
        .as_ref()
        .is_none_or(|rules| rules.subscribe_allowed(pattern, None))
}

impl Shard {
    /// Core 0, adopting a configuration: what changed in the `cluster` block since
    /// `previous` (a reload never adds or removes the block: `reload::cluster`).
    pub(in crate::broker) fn reload_cluster(&mut self, io: &mut Io<'_>, previous: &Config) {
        if self.core != 0 {
            return;
        }
        let (Some(old), Some(new)) = (&previous.cluster, &self.live.config.cluster) else {
            return;
        };
        let new = new.clone();
        if let Some(name) = new.name.as_ref().filter(|name| **name != self.cluster.name) {
            self.cluster.name = name.clone();
            self.cluster.dynamic = false;
            self.close_solicited_links(io, "Cluster Name Conflict");
            info!("Cluster name updated to {name}");
            self.publish_cluster_urls(io);
        }
        if old.permissions != new.permissions {
            self.reload_route_permissions(io, old);
        }
        if old.authorization != new.authorization {
            self.recheck_accepted_routes(io);
        }
        self.reload_route_list(io, old, &new);
    }

    fn reload_route_permissions(&mut self, io: &mut Io<'_>, old: &ClusterConfig) {
        let then = compile(old.permissions.as_ref());
        let now = self.route_rules();
        // RS+ (with the count) for what `import` now lets out, then RS- (count 0) for what
        // it no longer does.
        let mut changes: Vec<(RouteKey, u32)> = Vec::new();
        let mut unsubs = Vec::new();
        for (account, map) in self.route_interest.accounts() {
            for ((pattern, queue), &count) in map {
                let key = || (account, pattern.clone(), queue.clone());
                match (imports(&then, pattern), imports(&now, pattern)) {
                    (false, true) => changes.push((key(), count)),
                    (true, false) => unsubs.push((key(), 0)),
                    _ => {}
                }
            }
        }
        changes.extend(unsubs);
        let conns: Vec<ConnId> = self.routes.iter().flatten().map(|route| route.id).collect();
        for conn in conns {
            let permissions = self.new_route_permissions();
            let Some(route) = self.route_mut(conn) else {
                continue;
            };
            route.permissions = permissions;
            let keys: Vec<RouteKey> = route.interest.keys().cloned().collect();
            let mut refused = Vec::new();
            if let Some(permissions) = route.permissions.as_mut() {
                for key in keys {
                    if !permissions.may_subscribe(&key.1, None) {
                        refused.push(key);
                    }
                }
            }
            let active = route.phase == super::Phase::Active;
            for key in refused {
                let Some(weight) = self.route_mut(conn).and_then(|r| r.interest.remove(&key))
                else {
                    continue;
                };
                let (account, subject, queue) = key.clone();
                self.adjust_link_interest(io, conn, account, &subject, queue.as_deref(), weight, 0);
                if let Some(route) = self.route_mut(conn) {
                    route.origins.remove(&key);
                }
            }
            if active {
                // The peer learns our permissions (and takes what our export now gives it).
                self.send_route_info(io, conn, None);
                let lnoc = self.route_ref(conn).is_some_and(|route| route.lnoc);
                let mut out = Vec::new();
                for ((account, pattern, queue), count) in &changes {
                    self.route_interest_line(
                        &mut out,
                        lnoc,
                        *account,
                        pattern,
                        queue.as_deref(),
                        *count,
                    );
                }
                io.write(conn, &out);
            }
        }
    }

    /// The routes that dialled us, against the new route user: refused ones get nats-
    /// server's `Authorization Violation` and are closed; a bcrypt hash is compared on
    /// the auth workers while the route goes on.
    fn recheck_accepted_routes(&mut self, io: &mut Io<'_>) {
        let accepted: Vec<(ConnId, (String, String))> = self
            .routes
            .iter()
            .flatten()
            .filter(|route| route.phase != super::Phase::Closing)
            .filter_map(|route| Some((route.id, route.login.clone()?)))
            .collect();
        for (conn, (user, pass)) in accepted {
            match self.route_verdict(&user, &pass) {
                Verdict::Admit(_) => {}
                Verdict::Refuse(_) => {
                    let reason = self.refuse_route(io, conn, &user);
                    self.close_route(io, conn, reason);
                }
                Verdict::Check(check) => {
                    self.auth_tickets += 1;
                    let ticket = self.auth_tickets;
                    let submitted = self.shared.auth_checks.submit(
                        check,
                        conn,
                        ticket,
                        self.core,
                        io.waker(),
                        false,
                    );
                    if let (Ok(()), Some(route)) = (submitted, self.route_mut(conn)) {
                        route.recheck_ticket = Some(ticket);
                    }
                }
            }
        }
    }

    /// An auth worker's answer for a route's re-check; `false`: not one.
    pub(super) fn route_recheck_answer(&mut self, io: &mut Io<'_>, answer: &CheckDone) -> bool {
        let Some(route) = self.route_mut(answer.conn) else {
            return false;
        };
        if route.recheck_ticket != Some(answer.ticket) {
            return false;
        }
        route.recheck_ticket = None;
        let user = route
            .login
            .as_ref()
            .map_or_else(String::new, |l| l.0.clone());
        if answer.admitted.is_none() && route.phase != super::Phase::Closing {
            let reason = self.refuse_route(io, answer.conn, &user);
            self.close_route(io, answer.conn, reason);
        }
        true
    }

    fn reload_route_list(&mut self, io: &mut Io<'_>, old: &ClusterConfig, new: &ClusterConfig) {
        let urls = |c: &ClusterConfig| -> Vec<(String, Option<(String, String)>)> {
            c.routes
                .iter()
                .map(|url| (url.clone(), c.credentials.get(url).cloned()))
                .collect()
        };
        let (before, after) = (urls(old), urls(new));
        for (url, credentials) in before.iter().filter(|route| !after.contains(route)) {
            for conn in self.remove_explicit_route(io, url, credentials) {
                if self.route_ref(conn).is_some() {
                    self.close_route(io, conn, "Route Removed");
                    let user = credentials
                        .as_ref()
                        .map_or_else(String::new, |(user, pass)| format!("{user}:{pass}@"));
                    info!("Removed route nats-route://{user}{url}");
                }
            }
        }
        for (url, credentials) in after.into_iter().filter(|route| !before.contains(route)) {
            self.add_explicit_route(io, &url, credentials);
        }
    }

    /// A peer's INFO after the handshake (not in lame duck mode): its `export` may have
    /// changed; interest it takes now and did not is sent (and `import` allows).
    pub(super) fn on_peer_export(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        export: Option<SubjectPermission>,
    ) {
        let Some(route) = self.route_mut(conn) else {
            return;
        };
        if route.peer_export == export {
            return;
        }
        let then = compile_export(route.peer_export.as_ref());
        let now = compile_export(export.as_ref());
        route.peer_export = export;
        let lnoc = route.lnoc;
        let ours = self.route_rules();
        let mut out = Vec::new();
        for (account, map) in self.route_interest.accounts() {
            for ((pattern, queue), &count) in map {
                if takes(&now, pattern) && !takes(&then, pattern) && imports(&ours, pattern) {
                    self.route_interest_line(
                        &mut out,
                        lnoc,
                        account,
                        pattern,
                        queue.as_deref(),
                        count,
                    );
                }
            }
        }
        io.write(conn, &out);
    }
}
