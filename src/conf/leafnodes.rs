//! The `leafnodes` block → `Config::leafnodes` (ringmq as a hub: the leaf port) and
//! `Config::leaf_remotes` (ringmq as a leaf: the hubs it dials), with nats-server's key
//! names. Keys of features ringmq lacks refuse the start, naming the key.

use super::mapping::{boolean, integer, listen, parse_duration, port, string};
use super::parser::{Entry, Node, Value};
use super::{Diagnostic, Report};
use crate::config::Config;
use std::time::Duration;

/// `leafnodes { listen: HOST:PORT | host + port }` (ringmq as a hub) and `remotes`,
/// `reconnect` (ringmq as a leaf). The leaf port is opened only when `listen`, `port` or
/// `host` is given (nats-server opens none without a port). Every other key of the block
/// (authorization, tls, advertise, ...) and of a remote (credentials, tls, account,
/// deny_imports, ...) names a feature ringmq lacks and refuses the start.
pub(super) fn leafnodes_block(
    node: &Node,
    config: &mut Config,
    report: &mut Report,
) -> Result<(), String> {
    let Value::Map(map) = &node.value else {
        return Err(format!("expected a block, got {}", node.value.describe()));
    };
    let mut leaf = crate::config::LeafnodesConfig {
        host: "0.0.0.0".to_string(),
        port: crate::config::DEFAULT_LEAFNODE_PORT,
    };
    let mut listens = false;
    let mut remotes = crate::config::LeafRemotes::default();
    for entry in map.entries() {
        let value = &entry.node;
        let key = entry.key.to_ascii_lowercase();
        listens |= matches!(key.as_str(), "listen" | "port" | "host" | "net");
        let applied = match key.as_str() {
            "listen" => listen(value).map(|(host, port)| {
                if let Some(host) = host {
                    leaf.host = host;
                }
                leaf.port = port;
            }),
            "port" => integer(value)
                .and_then(|n| match n {
                    0 => Ok(crate::config::DEFAULT_LEAFNODE_PORT),
                    n => port(n),
                })
                .map(|port| leaf.port = port),
            "host" | "net" => string(value).map(|host| leaf.host = host),
            "remotes" => leaf_remotes(value, report).map(|list| remotes.remotes = list),
            "reconnect" | "reconnect_delay" | "reconnect_interval" => {
                leaf_reconnect(value).map(|every| remotes.reconnect = Some(every))
            }
            _ => {
                not_supported(report, entry, "leafnodes");
                Ok(())
            }
        };
        applied.map_err(|message| format!("{}: {message}", entry.key))?;
    }
    config.leafnodes = listens.then_some(leaf);
    remotes.resolve_names();
    config.leaf_remotes = remotes;
    Ok(())
}

fn not_supported(report: &mut Report, entry: &Entry, block: &str) {
    report.errors.push(Diagnostic {
        pos: Some(entry.key_pos.clone()),
        message: format!(
            "{block}: {} is not supported yet: refusing to start rather than run without it",
            entry.key
        ),
    });
}

/// `remotes: [ { url: "nats-leaf://H:P" } | { urls: [...] } ]`: each remote's URLs as
/// `host:port`. `no_randomize` is accepted (ringmq never shuffles the list).
fn leaf_remotes(node: &Node, report: &mut Report) -> Result<Vec<Vec<String>>, String> {
    let Value::Array(items) = &node.value else {
        return Err(format!("expected an array, got {}", node.value.describe()));
    };
    let mut remotes = Vec::new();
    for item in items {
        let Value::Map(map) = &item.value else {
            return Err(format!(
                "expected a remote leafnode entry to be a map, got {}",
                item.value.describe()
            ));
        };
        let mut urls = Vec::new();
        for entry in map.entries() {
            let value = &entry.node;
            let applied = match entry.key.to_ascii_lowercase().as_str() {
                "url" | "urls" => match &value.value {
                    Value::Array(list) => list.iter().try_for_each(|url| {
                        urls.push(leaf_url(&string(url)?)?);
                        Ok(())
                    }),
                    _ => leaf_url(&string(value)?).map(|url| urls.push(url)),
                },
                "no_randomize" | "dont_randomize" => boolean(value).map(|_| ()),
                _ => {
                    not_supported(report, entry, "leafnodes: remotes");
                    Ok(())
                }
            };
            applied.map_err(|message| format!("{}: {message}", entry.key))?;
        }
        if urls.is_empty() {
            return Err("a remote needs url or urls".to_string());
        }
        remotes.push(urls);
    }
    Ok(remotes)
}

/// `nats-leaf://HOST:PORT` (or `nats://`, `tls://` refused) → `HOST:PORT`.
fn leaf_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("nats-leaf://")
        .or_else(|| url.strip_prefix("nats://"))
        .ok_or_else(|| {
            format!("{url:?}: only nats-leaf:// URLs are supported yet (no TLS, no websocket)")
        })?;
    if rest.contains('@') {
        return Err(format!(
            "{url:?}: credentials in the URL are not supported yet"
        ));
    }
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(rest.to_string())
        }
        _ => Err(format!("{url:?}: expected nats-leaf://HOST:PORT")),
    }
}

/// `reconnect: 5` (whole seconds, as nats-server reads it) or a duration string.
fn leaf_reconnect(node: &Node) -> Result<Duration, String> {
    let every = match &node.value {
        Value::Integer(n) => Duration::from_secs(
            u64::try_from(*n).map_err(|_| format!("must not be negative, got {n}"))?,
        ),
        Value::String(s) => parse_duration(s)?,
        other => return Err(format!("expected seconds, got {}", other.describe())),
    };
    if every.is_zero() {
        return Err("must be more than 0".to_string());
    }
    Ok(every)
}
