//! The `jetstream` block → `Config::jetstream`, as nats-server 2.9.10's `parseJetStream`
//! reads it: `jetstream: true|false|enabled|disabled`, or a block of `store_dir` (`store`,
//! `storedir`), `max_memory_store` (`max_mem_store`, `max_mem`), `max_file_store`
//! (`max_file`), `domain`, `enabled`, and nats-server 2.10's `sync_interval`
//! (`always` or a duration). Encryption at rest (`key`, `cipher`) is refused: starting
//! without it would store in clear what the file asks to encrypt.

use super::mapping::{boolean, integer, parse_duration, string};
use super::parser::{Node, Value};
use super::{Diagnostic, Report};
use crate::config::{Config, JetStreamConfig, SyncPolicy};
use std::path::PathBuf;

/// Keys of nats-server's block ringmq ignores with a warning (they tune clustering or
/// placement, which a single ringmq server does not do).
const IGNORED_KEYS: &[&str] = &[
    "unique_tag",
    "max_outstanding_catchup",
    "max_buffered_msgs",
    "max_buffered_size",
    "request_queue_limit",
    "extension_hint",
    "limits",
    "strict",
];

/// Keys refused: encryption at rest.
const REFUSED_KEYS: &[&str] = &["key", "ek", "cipher", "prev_key", "prev_ek"];

pub(super) fn jetstream_block(
    node: &Node,
    config: &mut Config,
    report: &mut Report,
) -> Result<(), String> {
    let map = match &node.value {
        Value::Bool(enabled) => {
            config.jetstream = enabled.then(JetStreamConfig::new);
            return Ok(());
        }
        Value::String(word) => {
            config.jetstream = match word.to_ascii_lowercase().as_str() {
                "enabled" | "enable" => Some(JetStreamConfig::new()),
                "disabled" | "disable" => None,
                _ => return Err(format!("expected enabled or disabled, got {word:?}")),
            };
            return Ok(());
        }
        Value::Map(map) => map,
        other => return Err(format!("expected a block, got {}", other.describe())),
    };
    let mut js = JetStreamConfig::new();
    let mut enabled = true;
    for entry in map.entries() {
        let value = &entry.node;
        let key = entry.key.to_ascii_lowercase();
        let applied = match key.as_str() {
            "store_dir" | "store" | "storedir" => {
                string(value).map(|dir| js.store_dir = Some(PathBuf::from(dir)))
            }
            "max_memory_store" | "max_mem_store" | "max_mem" => {
                integer(value).map(|n| js.max_memory = Some(n))
            }
            "max_file_store" | "max_file" => integer(value).map(|n| js.max_store = Some(n)),
            "domain" => string(value).and_then(|domain| {
                if domain.contains(['.', ' ', '*', '>']) {
                    Err(format!("invalid domain name: {domain:?}"))
                } else {
                    js.domain = (!domain.is_empty()).then_some(domain);
                    Ok(())
                }
            }),
            "enabled" | "enable" => boolean(value).map(|flag| enabled = flag),
            "sync_interval" | "sync" => sync_policy(value).map(|sync| js.sync = sync),
            _ if REFUSED_KEYS.contains(&key.as_str()) => Err(format!(
                "{} (encryption at rest) is not supported yet: refusing to start rather than \
                 store messages unencrypted",
                entry.key
            )),
            _ if IGNORED_KEYS.contains(&key.as_str()) => {
                report.warnings.push(Diagnostic {
                    pos: Some(entry.key_pos.clone()),
                    message: format!("jetstream: {} is not supported yet, ignored", entry.key),
                });
                Ok(())
            }
            _ => {
                report.warnings.push(Diagnostic {
                    pos: Some(entry.key_pos.clone()),
                    message: format!("jetstream: unknown field {:?}, ignored", entry.key),
                });
                Ok(())
            }
        };
        if let Err(message) = applied {
            report.errors.push(Diagnostic {
                pos: Some(value.pos.clone()),
                message: format!("jetstream: {}: {message}", entry.key),
            });
        }
    }
    config.jetstream = enabled.then_some(js);
    Ok(())
}

/// `always`, or a duration (`"2m"`; nats-server 2.10's key): how a PubAck waits for the disk.
fn sync_policy(node: &Node) -> Result<SyncPolicy, String> {
    let text = string(node)?;
    if text.eq_ignore_ascii_case("always") {
        return Ok(SyncPolicy::Always);
    }
    let period = parse_duration(&text)?;
    if period.is_zero() {
        return Err("a sync interval must be positive (or \"always\")".into());
    }
    Ok(SyncPolicy::Interval(period))
}
