//! The `cluster` block's reload rule, as nats-server 2.9.10's `validateClusterOpts` and
//! `diffRoutes`: the route listener's host and port cannot change (nats-server's own
//! texts, `cluster host` / `cluster port`); everything else may, and is applied by core 0
//! (`route::reload`): the name, `no_advertise`, `connect_retries`, `authorization`,
//! `advertise` and `permissions` (routes told and their interest re-evaluated), and the
//! route list (routes added are dialled, routes removed closed for good).
//!
//! Ours: the route TLS settings are loaded once at start-up (`Shared::leaf_tls`), so a
//! change of `cluster { tls }` refuses the reload, naming it, instead of being ignored.

use crate::config::ClusterConfig;

/// Whether the `cluster` block changed in a way nats-server reports as `Reloaded:
/// cluster`; `Err`: a change it refuses. The route list is compared apart
/// ([`route_urls`]), as nats-server keeps it outside the block.
pub(super) fn cluster_changed(
    old: Option<&ClusterConfig>,
    new: Option<&ClusterConfig>,
) -> Result<bool, String> {
    let host = |c: Option<&ClusterConfig>| c.map_or("", |c| c.host.as_str()).to_string();
    if host(old) != host(new) {
        return Err(format!(
            "config reload not supported for cluster host: old={}, new={}",
            host(old),
            host(new)
        ));
    }
    let port = |c: Option<&ClusterConfig>| c.map_or(0, |c| c.port);
    if port(old) != port(new) {
        return Err(format!(
            "config reload not supported for cluster port: old={}, new={}",
            port(old),
            port(new)
        ));
    }
    let (Some(old), Some(new)) = (old, new) else {
        return Ok(false);
    };
    if old.tls != new.tls {
        return Err(
            "config reload not supported for cluster tls (restart to change it)".to_string(),
        );
    }
    let settings = |c: &ClusterConfig| {
        (
            c.name.clone(),
            c.no_advertise,
            c.connect_retries,
            c.authorization.clone(),
            c.advertise.clone(),
            c.permissions.clone(),
        )
    };
    Ok(settings(old) != settings(new))
}

/// The explicit routes with the credentials their URLs carry: a route whose URL changed
/// in any part is one removed and one added (nats-server's `urlsAreEqual`).
pub(super) fn route_urls(
    cluster: Option<&ClusterConfig>,
) -> Vec<(String, Option<(String, String)>)> {
    cluster.map_or_else(Vec::new, |c| {
        c.routes
            .iter()
            .map(|url| (url.clone(), c.credentials.get(url).cloned()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(host: &str, port: u16) -> ClusterConfig {
        ClusterConfig {
            host: host.into(),
            port,
            ..ClusterConfig::new()
        }
    }

    #[test]
    fn host_and_port_are_refused_with_nats_servers_texts() {
        let old = cluster("127.0.0.1", 6222);
        assert_eq!(
            cluster_changed(Some(&old), Some(&cluster("127.0.0.2", 6222))),
            Err(
                "config reload not supported for cluster host: old=127.0.0.1, new=127.0.0.2".into()
            )
        );
        assert_eq!(
            cluster_changed(Some(&old), Some(&cluster("127.0.0.1", 6223))),
            Err("config reload not supported for cluster port: old=6222, new=6223".into())
        );
        assert_eq!(
            cluster_changed(None, Some(&cluster("0.0.0.0", 6222))),
            Err("config reload not supported for cluster host: old=, new=0.0.0.0".into())
        );
        assert_eq!(cluster_changed(None, None), Ok(false));
    }

    #[test]
    fn other_settings_are_a_change_the_route_list_is_not() {
        let old = cluster("127.0.0.1", 6222);
        let mut new = old.clone();
        new.routes.push("127.0.0.1:6223".into());
        assert_eq!(cluster_changed(Some(&old), Some(&new)), Ok(false));
        assert_ne!(route_urls(Some(&old)), route_urls(Some(&new)));
        new.no_advertise = true;
        assert_eq!(cluster_changed(Some(&old), Some(&new)), Ok(true));
    }
}
