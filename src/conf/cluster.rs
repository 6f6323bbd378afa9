//! The `cluster` block → `Config::cluster`: the route port, the cluster's name, the
//! routes to dial (with their credentials), the route port's single user and the routes'
//! TLS (`tls {}`), the advertised route address and the route permissions, with
//! nats-server's key names. Keys of features ringmq lacks (pool sizes of newer servers)
//! refuse the start, naming the key.

use super::mapping::{boolean, integer, listen, parse_duration, port, string};
use super::parser::{Node, Value};
use super::{Diagnostic, Report};
use crate::auth::SubjectPermission;
use crate::config::{
    ClusterConfig, Config, RouteAuthorization, RoutePermissions, DEFAULT_CLUSTER_PORT,
};
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
    let mut auth_permissions = None;
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
                route_authorization(&entry.key_pos, value, report).map(|(auth, permissions)| {
                    cluster.authorization = auth;
                    if auth_permissions.is_none() {
                        auth_permissions = permissions;
                    }
                })
            }
            "permissions" => {
                route_permissions(value).map(|permissions| cluster.permissions = Some(permissions))
            }
            "advertise" | "cluster_advertise" => {
                string(value).map(|advertise| cluster.advertise = Some(advertise))
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
    // The block's own `permissions` win over the deprecated ones of `authorization`.
    if cluster.permissions.is_none() {
        cluster.permissions = auth_permissions;
    }
    cluster
        .advertised(cluster.port)
        .map_err(|e| format!("advertise: {e}"))?;
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

/// `authorization { user, password, timeout, permissions }`: the route port's single user
/// (a bcrypt password is checked off the cores). As nats-server 2.9.10: `users` and
/// `token` are refused with its errors, and `permissions` here is deprecated (a warning)
/// and applies as the block's `permissions` unless that is given too.
fn route_authorization(
    entry_pos: &super::Pos,
    node: &Node,
    report: &mut Report,
) -> Result<(Option<RouteAuthorization>, Option<RoutePermissions>), String> {
    let Value::Map(map) = &node.value else {
        return Err(format!("expected a block, got {}", node.value.describe()));
    };
    let (mut user, mut password, mut timeout, mut permissions) = (None, None, None, None);
    let refuse = |report: &mut Report, message: &str| {
        report.errors.push(Diagnostic {
            pos: Some(entry_pos.clone()),
            message: message.to_string(),
        });
    };
    for entry in map.entries() {
        let value = &entry.node;
        let applied = match entry.key.to_ascii_lowercase().as_str() {
            "user" | "username" => string(value).map(|v| user = Some(v)),
            "password" | "pass" => string(value).map(|v| password = Some(v)),
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
            "users" => {
                refuse(
                    report,
                    "Cluster authorization does not allow multiple users",
                );
                return Ok((None, None));
            }
            "token" => {
                refuse(report, "Cluster authorization does not support tokens");
                return Ok((None, None));
            }
            "permissions" => route_permissions(value).map(|p| {
                report.warnings.push(Diagnostic {
                    pos: Some(entry_pos.clone()),
                    message: "invalid use of field \"authorization\": setting \"permissions\" \
                              within cluster authorization block is deprecated"
                        .to_string(),
                });
                permissions = Some(p);
            }),
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
        (Some(user), Some(password)) => Ok((
            Some(RouteAuthorization {
                user,
                password,
                timeout,
            }),
            permissions,
        )),
        _ => Err("authorization: a route user needs user and password".to_string()),
    }
}

/// `permissions { import, export }` of the cluster block: each a subject, a list, or
/// `{ allow, deny }`, as a user's publish and subscribe permissions are written.
fn route_permissions(node: &Node) -> Result<RoutePermissions, String> {
    let Value::Map(map) = &node.value else {
        return Err(format!("expected a block, got {}", node.value.describe()));
    };
    let mut permissions = RoutePermissions::default();
    for entry in map.entries() {
        let side = match entry.key.to_ascii_lowercase().as_str() {
            "import" | "pub" | "publish" => &mut permissions.import,
            "export" | "sub" | "subscribe" => &mut permissions.export,
            "publish_allow_responses" | "allow_responses" => {
                return Err("Cluster permissions do not support dynamic responses".to_string())
            }
            other => return Err(format!("unknown field {other:?} in cluster permissions")),
        };
        *side = Some(subject_permission(&entry.node).map_err(|e| format!("{}: {e}", entry.key))?);
    }
    Ok(permissions)
}

/// A subject, a list of subjects (the allow list), or `{ allow, deny }`.
fn subject_permission(node: &Node) -> Result<SubjectPermission, String> {
    let list = |node: &Node| -> Result<Vec<String>, String> {
        let subjects = match &node.value {
            Value::Array(items) => items.iter().map(string).collect::<Result<Vec<_>, _>>()?,
            _ => vec![string(node)?],
        };
        for subject in &subjects {
            if !crate::subjects::is_valid_pattern(subject.as_bytes()) {
                return Err(format!("subject {subject:?} is not a valid subject"));
            }
        }
        Ok(subjects)
    };
    match &node.value {
        Value::Map(map) => {
            let mut permission = SubjectPermission::default();
            for entry in map.entries() {
                match entry.key.to_ascii_lowercase().as_str() {
                    "allow" => permission.allow = Some(list(&entry.node)?),
                    "deny" => permission.deny = list(&entry.node)?,
                    other => return Err(format!("unknown field {other:?}")),
                }
            }
            Ok(permission)
        }
        _ => Ok(SubjectPermission {
            allow: Some(list(node)?),
            deny: Vec::new(),
        }),
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
        assert_eq!(
            refused,
            "c.conf:1:23: Cluster authorization does not support tokens"
        );
        let refused =
            load("cluster {\n port: 6222\n authorization { users: [{user: a, password: b}] } }")
                .expect_err("refused");
        assert_eq!(
            refused,
            "c.conf:3:2: Cluster authorization does not allow multiple users"
        );
        let refused = load("cluster { port: 1, advertise: \"h:x\" }").expect_err("refused");
        assert!(
            refused.contains("invalid cluster advertise value"),
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
            "cluster { port: 1, tls { cert_file: c.pem, key_file: k.pem, cipher_suites: [] } }",
        )
        .expect_err("refused");
        assert!(refused.contains("cluster: tls: cipher_suites"), "{refused}");
        let key = "AB".repeat(32);
        let pinned = load(&format!(
            "cluster {{ port: 1, tls {{ cert_file: c.pem, key_file: k.pem, pinned_certs: [\"{key}\"] }} }}"
        ))
        .expect("loads")
        .cluster
        .and_then(|cluster| cluster.tls)
        .expect("tls");
        assert_eq!(pinned.pinned_certs, vec!["ab".repeat(32)]);
        let refused = load(
            "cluster { port: 1, tls { cert_file: c.pem, key_file: k.pem, pinned_certs: [\"abc\"] } }",
        )
        .expect_err("refused");
        assert!(
            refused.contains("error parsing tls config, 'pinned_certs' key abc does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"),
            "{refused}"
        );
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

    fn cluster_of(text: &str) -> (ClusterConfig, Report) {
        let root = crate::conf::parser::parse_str(text, std::path::Path::new("c.conf"), &no_env)
            .expect("parses");
        let mut config = Config::default();
        let report = crate::conf::mapping::apply(&root, &mut config);
        assert!(report.errors.is_empty(), "{report:?}");
        (config.cluster.expect("cluster"), report)
    }

    #[test]
    fn bcrypt_route_passwords_advertise_and_permissions_are_read() {
        let (cluster, report) = cluster_of(
            "cluster { port: 1, advertise: \"10.0.0.1\", authorization { user: r, password: \"$2a$04$abc\" }, \
             permissions { import: \"in.>\", export: { allow: [\"out.>\"], deny: \"out.x\" } } }",
        );
        assert!(report.warnings.is_empty(), "{report:?}");
        assert_eq!(
            cluster
                .authorization
                .as_ref()
                .map(|auth| auth.password.clone()),
            Some("$2a$04$abc".to_string())
        );
        assert_eq!(cluster.advertised(1), Ok(Some(("10.0.0.1".to_string(), 1))));
        let permissions = cluster.permissions.expect("permissions");
        assert_eq!(
            permissions.import,
            Some(SubjectPermission {
                allow: Some(vec!["in.>".into()]),
                deny: vec![],
            })
        );
        assert_eq!(
            permissions.export,
            Some(SubjectPermission {
                allow: Some(vec!["out.>".into()]),
                deny: vec!["out.x".into()],
            })
        );
        // Permissions inside `authorization`: deprecated, used unless the block has its own.
        let (cluster, report) = cluster_of(
            "cluster { port: 1, authorization { user: r, password: p, permissions { import: a } } }",
        );
        assert_eq!(
            report.warnings[0].message,
            "invalid use of field \"authorization\": setting \"permissions\" within cluster \
             authorization block is deprecated"
        );
        assert_eq!(
            cluster.permissions.and_then(|p| p.import),
            Some(SubjectPermission {
                allow: Some(vec!["a".into()]),
                deny: vec![],
            })
        );
        let (cluster, _) = cluster_of(
            "cluster { port: 1, permissions { import: b }, authorization { user: r, password: p, permissions { import: a } } }",
        );
        assert_eq!(
            cluster
                .permissions
                .and_then(|p| p.import)
                .and_then(|p| p.allow),
            Some(vec!["b".to_string()])
        );
    }

    #[test]
    fn advertise_reads_as_go_parse_host_port() {
        let with = |text: &str| ClusterConfig {
            advertise: Some(text.to_string()),
            ..ClusterConfig::new()
        };
        assert_eq!(with("h:5").advertised(9), Ok(Some(("h".into(), 5))));
        assert_eq!(with("h").advertised(9), Ok(Some(("h".into(), 9))));
        assert_eq!(with("h:0").advertised(9), Ok(Some(("h".into(), 9))));
        assert_eq!(with("h:-1").advertised(9), Ok(Some(("h".into(), 9))));
        assert_eq!(with("[::1]:5").advertised(9), Ok(Some(("::1".into(), 5))));
        assert_eq!(ClusterConfig::new().advertised(9), Ok(None));
        assert!(with("h:x").advertised(9).is_err());
    }
}
