//! The `cluster` block → `Config::cluster`: the route port, the cluster's name, the
//! routes to dial (with their credentials), the route port's single user and the routes'
//! TLS (`tls {}`), with nats-server's key names. Keys of features ringmq lacks (permissions,
//! advertise, pool sizes of newer servers) refuse the start, naming the key.

use super::mapping::{boolean, integer, listen, parse_duration, port, string};
use super::parser::{Node, Value};
use super::{Diagnostic, Report};
use crate::config::{ClusterConfig, Config, RouteAuthorization, DEFAULT_CLUSTER_PORT};
use std::time::Duration;

/// `cluster { name, listen | host + port, routes: [...], authorization, tls, no_advertise,
/// connect_retries }`.
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
            "routes" => route_list(value).map(|routes| {
                cluster.routes = routes.iter().map(|(url, _)| url.clone()).collect();
                cluster.credentials = routes
                    .into_iter()
                    .filter_map(|(url, credentials)| credentials.map(|c| (url, c)))
                    .collect();
            }),
            "authorization" => {
                route_authorization(value, report).map(|auth| cluster.authorization = Some(auth))
            }
            "tls" => super::leafnodes::tls_block(value, report, "cluster: tls", true)
                .map(|tls| cluster.tls = Some(tls)),
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

/// A route URL's `host:port` and its credentials, if any.
pub type RouteUrl = (String, Option<(String, String)>);

/// `routes: [ "nats-route://H:P", ... ]` (or one string).
fn route_list(node: &Node) -> Result<Vec<RouteUrl>, String> {
    match &node.value {
        Value::Array(items) => items.iter().map(|item| route_url(&string(item)?)).collect(),
        _ => Ok(vec![route_url(&string(node)?)?]),
    }
}

/// `nats-route://[user:pass@]HOST:PORT` (or `nats://`) → `HOST:PORT` and the credentials
/// (percent-decoded); TLS refused.
pub fn route_url(url: &str) -> Result<RouteUrl, String> {
    let rest = url
        .strip_prefix("nats-route://")
        .or_else(|| url.strip_prefix("nats://"))
        .or_else(|| url.strip_prefix("route://"))
        .ok_or_else(|| format!("{url:?}: expected nats-route://HOST:PORT (no TLS yet)"))?;
    let (credentials, rest) = super::leafnodes::url_credentials(url, rest)?;
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok((rest.to_string(), credentials))
        }
        _ => Err(format!("{url:?}: expected nats-route://HOST:PORT")),
    }
}

/// `authorization { user, password, timeout }`: the route port's single user. A bcrypt
/// password, `token`, `users` and `permissions` refuse the start.
fn route_authorization(node: &Node, report: &mut Report) -> Result<RouteAuthorization, String> {
    let Value::Map(map) = &node.value else {
        return Err(format!("expected a block, got {}", node.value.describe()));
    };
    let (mut user, mut password, mut timeout) = (None, None, None);
    for entry in map.entries() {
        let value = &entry.node;
        let applied = match entry.key.to_ascii_lowercase().as_str() {
            "user" | "username" => string(value).map(|v| user = Some(v)),
            "password" | "pass" => string(value).and_then(|v| {
                if v.starts_with("$2") {
                    Err("bcrypt route passwords are not supported yet".to_string())
                } else {
                    password = Some(v);
                    Ok(())
                }
            }),
            "timeout" => match &value.value {
                Value::Integer(n) => u64::try_from(*n)
                    .map(|n| timeout = Some(Duration::from_secs(n)))
                    .map_err(|_| format!("must not be negative, got {n}")),
                Value::Float(f) if *f >= 0.0 => {
                    timeout = Some(Duration::from_secs_f64(*f));
                    Ok(())
                }
                Value::String(text) => parse_duration(text).map(|d| timeout = Some(d)),
                other => Err(format!("expected seconds, got {}", other.describe())),
            },
            _ => {
                report.errors.push(Diagnostic {
                    pos: Some(entry.key_pos.clone()),
                    message: format!(
                        "cluster: authorization: {} is not supported yet: refusing to start \
                         rather than run without it",
                        entry.key
                    ),
                });
                Ok(())
            }
        };
        applied.map_err(|message| format!("authorization: {}: {message}", entry.key))?;
    }
    match (user, password) {
        (Some(user), Some(password)) => Ok(RouteAuthorization {
            user,
            password,
            timeout,
        }),
        _ => Err("authorization: a route user needs user and password".to_string()),
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
        assert!(cluster.credentials.is_empty() && cluster.authorization.is_none());
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
        let refused =
            load("cluster { port: 6222, authorization { token: t } }").expect_err("refused");
        assert!(
            refused.contains("authorization: token is not supported yet"),
            "{refused}"
        );
        let tls = load("cluster { port: 1, tls { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, timeout: 3 } }")
            .expect("loads")
            .cluster
            .and_then(|cluster| cluster.tls)
            .expect("tls");
        assert_eq!(tls.ca_file.as_deref(), Some(std::path::Path::new("ca.pem")));
        assert_eq!(tls.timeout, Duration::from_secs(3));
        let refused = load("cluster { port: 1, tls { cert_file: c.pem } }").expect_err("refused");
        assert!(
            refused.contains("cert_file and key_file go together"),
            "{refused}"
        );
        let refused = load(
            "cluster { port: 1, tls { cert_file: c.pem, key_file: k.pem, pinned_certs: [] } }",
        )
        .expect_err("refused");
        assert!(refused.contains("cluster: tls: pinned_certs"), "{refused}");
        let bad = load("cluster { routes: [\"tls://127.0.0.1:1\"] }").expect_err("refused");
        assert!(bad.contains("expected nats-route://HOST:PORT"), "{bad}");
    }
}

#[cfg(test)]
mod auth_tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn route_credentials_and_the_route_user_are_read() {
        let root = crate::conf::parser::parse_str(
            "cluster { port: -1, authorization { user: ruser, password: \"p w\", timeout: 0.5 }, \
             routes: [\"nats-route://a%40b:s%3Acret@127.0.0.1:6001\", \"nats://127.0.0.1:6002\"] }",
            std::path::Path::new("c.conf"),
            &no_env,
        )
        .expect("parses");
        let mut config = Config::default();
        let report = crate::conf::mapping::apply(&root, &mut config);
        assert!(report.errors.is_empty(), "{report:?}");
        let cluster = config.cluster.expect("cluster");
        assert_eq!(cluster.routes, vec!["127.0.0.1:6001", "127.0.0.1:6002"]);
        assert_eq!(
            cluster.credentials.get("127.0.0.1:6001"),
            Some(&("a@b".to_string(), "s:cret".to_string()))
        );
        assert_eq!(cluster.credentials.len(), 1);
        assert_eq!(
            cluster.authorization,
            Some(RouteAuthorization {
                user: "ruser".into(),
                password: "p w".into(),
                timeout: Some(Duration::from_millis(500)),
            })
        );
    }
}
