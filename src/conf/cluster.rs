//! The `cluster` block → `Config::cluster`: the route port, the cluster's name and the
//! routes to dial, with nats-server's key names. Keys of features ringmq lacks (route
//! authorization, TLS, advertise, pool sizes of newer servers) refuse the start, naming
//! the key.

use super::mapping::{boolean, integer, listen, port, string};
use super::parser::{Node, Value};
use super::{Diagnostic, Report};
use crate::config::{ClusterConfig, Config, DEFAULT_CLUSTER_PORT};

/// `cluster { name, listen | host + port, routes: [...], no_advertise, connect_retries }`.
pub(super) fn cluster_block(
    node: &Node,
    config: &mut Config,
    report: &mut Report,
) -> Result<(), String> {
    let Value::Map(map) = &node.value else {
        return Err(format!("expected a block, got {}", node.value.describe()));
    };
    let mut cluster = ClusterConfig::new();
    for entry in map.entries() {
        let value = &entry.node;
        let applied = match entry.key.to_ascii_lowercase().as_str() {
            "name" => string(value).and_then(|name| {
                if name.contains(' ') {
                    Err(format!("cluster name cannot contain spaces: {name:?}"))
                } else {
                    cluster.name = Some(name);
                    Ok(())
                }
            }),
            "listen" => listen(value).map(|(host, port)| {
                if let Some(host) = host {
                    cluster.host = host;
                }
                cluster.port = port;
            }),
            "port" => integer(value)
                .and_then(|n| match n {
                    0 => Ok(DEFAULT_CLUSTER_PORT),
                    n => port(n),
                })
                .map(|port| cluster.port = port),
            "host" | "net" => string(value).map(|host| cluster.host = host),
            "routes" => route_list(value).map(|routes| cluster.routes = routes),
            "no_advertise" => boolean(value).map(|on| cluster.no_advertise = on),
            "connect_retries" => integer(value).and_then(|n| {
                u32::try_from(n)
                    .map(|n| cluster.connect_retries = n)
                    .map_err(|_| format!("expected a count, got {n}"))
            }),
            _ => {
                report.errors.push(Diagnostic {
                    pos: Some(entry.key_pos.clone()),
                    message: format!(
                        "cluster: {} is not supported yet: refusing to start rather than run \
                         without it",
                        entry.key
                    ),
                });
                Ok(())
            }
        };
        applied.map_err(|message| format!("{}: {message}", entry.key))?;
    }
    cluster.resolve_names();
    config.cluster = Some(cluster);
    Ok(())
}

/// `routes: [ "nats-route://H:P", ... ]` (or one string) → `host:port` each.
fn route_list(node: &Node) -> Result<Vec<String>, String> {
    match &node.value {
        Value::Array(items) => items.iter().map(|item| route_url(&string(item)?)).collect(),
        _ => Ok(vec![route_url(&string(node)?)?]),
    }
}

/// `nats-route://HOST:PORT` (or `nats://`) → `HOST:PORT`; credentials and TLS refused.
pub fn route_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("nats-route://")
        .or_else(|| url.strip_prefix("nats://"))
        .or_else(|| url.strip_prefix("route://"))
        .ok_or_else(|| format!("{url:?}: expected nats-route://HOST:PORT (no TLS yet)"))?;
    if rest.contains('@') {
        return Err(format!("{url:?}: route credentials are not supported yet"));
    }
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(rest.to_string())
        }
        _ => Err(format!("{url:?}: expected nats-route://HOST:PORT")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load(text: &str) -> Result<Config, String> {
        let root = crate::conf::parser::parse_str(text, std::path::Path::new("c.conf"), &no_env)
            .map_err(|e| e.to_string())?;
        let mut config = Config::default();
        let report = crate::conf::mapping::apply(&root, &mut config);
        match report.errors.first() {
            Some(error) => Err(error.to_string()),
            None => Ok(config),
        }
    }

    #[test]
    fn a_cluster_block_gives_name_port_and_routes() {
        let config = load(
            "cluster { name: edge, listen: 127.0.0.1:6333, no_advertise: true, \
             connect_retries: 3, routes: [nats-route://127.0.0.1:6334, \"nats://10.0.0.2:6222\"] }",
        )
        .expect("loads");
        let cluster = config.cluster.expect("cluster");
        assert_eq!(cluster.name.as_deref(), Some("edge"));
        assert_eq!((cluster.host.as_str(), cluster.port), ("127.0.0.1", 6333));
        assert_eq!(cluster.routes, vec!["127.0.0.1:6334", "10.0.0.2:6222"]);
        assert!(cluster.no_advertise);
        assert_eq!(cluster.connect_retries, 3);
    }

    #[test]
    fn defaults_and_refusals() {
        let cluster = load("cluster { port: -1 }")
            .expect("loads")
            .cluster
            .expect("cluster");
        assert_eq!(
            (cluster.name, cluster.host.as_str(), cluster.port),
            (None, "0.0.0.0", 0)
        );
        let refused = load("cluster { port: 6222, authorization { user: a, password: b } }")
            .expect_err("refused");
        assert!(
            refused.contains("authorization is not supported yet"),
            "{refused}"
        );
        let bad = load("cluster { routes: [\"tls://127.0.0.1:1\"] }").expect_err("refused");
        assert!(bad.contains("expected nats-route://HOST:PORT"), "{bad}");
    }
}
