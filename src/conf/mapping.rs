//! The parsed tree → [`Config`]: nats-server's key names and aliases (case-insensitive,
//! as it matches them), its types, and its rule that a zero limit means "the default".
//!
//! Security features ringmq lacks are errors (see [`UNSUPPORTED_SECURITY_KEYS`]); other
//! nats-server keys ringmq lacks, and unknown keys, are warnings. nats-server 2.9.10 refuses
//! unknown top-level keys; ringmq only warns, so that a file written for a newer server
//! still starts. Like nats-server, a key only used as `$variable` is not unknown.

use super::parser::{Entry, Map, Node, Value};
use super::{Diagnostic, Report};
use crate::config::{Config, Limits};
use std::path::PathBuf;
use std::time::Duration;

/// Keys whose features ringmq does not implement yet and whose absence would weaken
/// security (authentication, encryption, other listeners with their own auth). A file
/// with any of them is refused: starting without them would expose what the file
/// protects.
pub const UNSUPPORTED_SECURITY_KEYS: &[&str] = &[
    "gateway",
    "mqtt",
    "operator",
    "operators",
    "root",
    "roots",
    "root_operator",
    "root_operators",
    "trusted",
    "trusted_keys",
    "resolver",
    "account_resolver",
    "accounts_resolver",
    "resolver_tls",
    "resolver_preload",
    "resolver_pinned_accounts",
];

/// Other nats-server 2.9.10 top-level keys ringmq does not implement yet. Ignored with a
/// warning that says so (rather than "unknown").
pub const UNSUPPORTED_KEYS: &[&str] = &[
    "client_advertise",
    "trace_verbose",
    "mappings",
    "maps",
    "disable_sublist_cache",
    "no_sublist_cache",
    "http",
    "https",
    "https_port",
    "http_base_path",
    "logfile_size_limit",
    "log_size_limit",
    "syslog",
    "remote_syslog",
    "ports_file_dir",
    "prof_port",
    "max_traced_msg_len",
    "max_sub_tokens",
    "max_subscription_tokens",
    "ocsp",
    "system_account",
    "system",
    "no_system_account",
    "no_system",
    "no_sys_acc",
    "no_header_support",
    "connect_error_reports",
    "reconnect_error_reports",
    "server_tags",
    "default_js_domain",
];

/// Largest `max_payload` and `max_control_line`, as in nats-server (they are `int32`
/// there). Larger values are refused.
const INT32_MAX: i64 = i32::MAX as i64;

/// Applies every top-level key of `root` to `config`, in file order.
pub fn apply(root: &Map, config: &mut Config) -> Report {
    let mut report = Report::default();
    // Auth keys are read together at the end (`no_auth_user` names a user of the others).
    let mut auth_tree = serde_json::Map::new();
    let mut auth_pos = None;
    for entry in root.entries() {
        let key = entry.key.to_ascii_lowercase();
        if AUTH_KEYS.contains(&key.as_str()) {
            auth_pos.get_or_insert_with(|| entry.key_pos.clone());
            auth_tree.insert(key, to_json(&entry.node));
        } else if UNSUPPORTED_SECURITY_KEYS.contains(&key.as_str()) {
            report.errors.push(Diagnostic {
                pos: Some(entry.key_pos.clone()),
                message: format!(
                    "{} is not supported yet: refusing to start rather than run without it",
                    entry.key
                ),
            });
        } else if UNSUPPORTED_KEYS.contains(&key.as_str()) {
            report.warnings.push(Diagnostic {
                pos: Some(entry.key_pos.clone()),
                message: format!("{} is not supported yet, ignored", entry.key),
            });
        } else if let Err(message) = apply_key(&key, entry, config, &mut report) {
            report.errors.push(Diagnostic {
                pos: Some(entry.node.pos.clone()),
                message: format!("{}: {message}", entry.key),
            });
        }
    }
    if let Some(pos) = auth_pos {
        match crate::auth::AuthConfig::from_tree(&serde_json::Value::Object(auth_tree)) {
            Ok(auth) => config.auth = auth,
            Err(error) => report.errors.push(Diagnostic {
                pos: Some(pos),
                message: error.to_string(),
            }),
        }
    }
    report
}

/// `tls { cert_file, key_file, ca_file, verify, timeout }`. Other nats-server TLS keys
/// (cipher_suites, curve_preferences, pinned_certs, ...) are warned about and ignored.
fn tls_block(node: &Node, report: &mut Report) -> Result<crate::config::TlsConfig, String> {
    let Value::Map(map) = &node.value else {
        return Err(format!("expected a block, got {}", node.value.describe()));
    };
    let (mut cert_file, mut key_file) = (None, None);
    let mut tls = crate::config::TlsConfig::new("", "");
    for entry in map.entries() {
        let key = entry.key.to_ascii_lowercase();
        let value = &entry.node;
        let applied = match key.as_str() {
            "cert_file" => string(value).map(|text| cert_file = Some(PathBuf::from(text))),
            "key_file" => string(value).map(|text| key_file = Some(PathBuf::from(text))),
            "ca_file" => string(value).map(|text| tls.ca_file = Some(PathBuf::from(text))),
            "verify" => boolean(value).map(|flag| tls.verify = flag),
            // As nats-server: true also turns `verify` on; false leaves it as it is.
            "verify_and_map" => boolean(value).map(|flag| {
                tls.verify |= flag;
                tls.verify_and_map = flag;
            }),
            "handshake_first" | "first" | "immediate" => handshake_first(value, &mut tls),
            // Seconds (fractions allowed) or a duration string, as nats-server.
            "timeout" => match &value.value {
                Value::Integer(seconds) if *seconds > 0 => {
                    tls.timeout = Duration::from_secs(*seconds as u64);
                    Ok(())
                }
                Value::Float(seconds) if *seconds > 0.0 => {
                    tls.timeout = Duration::from_secs_f64(*seconds);
                    Ok(())
                }
                _ => duration(entry, report).map(|d| tls.timeout = d),
            },
            _ => {
                report.warnings.push(Diagnostic {
                    pos: Some(entry.key_pos.clone()),
                    message: format!("tls: {} is not supported yet, ignored", entry.key),
                });
                Ok(())
            }
        };
        applied.map_err(|message| format!("{}: {message}", entry.key))?;
    }
    match (cert_file, key_file) {
        (Some(cert), Some(key)) => {
            tls.cert_file = cert;
            tls.key_file = key;
            Ok(tls)
        }
        _ => Err("a tls block needs cert_file and key_file".to_string()),
    }
}

/// nats-server 2.10's `handshake_first`: a boolean, `"true"`/`"on"`/`"false"`/`"off"`,
/// `"auto"` (fallback after 50 ms) or a fallback delay (`"300ms"`).
fn handshake_first(node: &Node, tls: &mut crate::config::TlsConfig) -> Result<(), String> {
    let (first, fallback) = match &node.value {
        Value::Bool(flag) => (*flag, None),
        Value::String(text) => match text.to_ascii_lowercase().as_str() {
            "true" | "on" => (true, None),
            "false" | "off" => (false, None),
            "auto" | "auto_fallback" => (
                true,
                Some(crate::config::TlsConfig::DEFAULT_HANDSHAKE_FIRST_FALLBACK),
            ),
            // A zero delay is no fallback, as in nats-server.
            _ => match parse_duration(text) {
                Ok(delay) => (true, Some(delay).filter(|delay| !delay.is_zero())),
                Err(_) => return Err(format!("value {text:?} is invalid")),
            },
        },
        other => {
            return Err(format!(
                "should be a boolean or a string, got {}",
                other.describe()
            ))
        }
    };
    tls.handshake_first = first;
    tls.handshake_first_fallback = fallback;
    Ok(())
}

/// The keys `auth::AuthConfig::from_tree` reads.
const AUTH_KEYS: &[&str] = &["authorization", "accounts", "no_auth_user"];

/// A config value as JSON, the shape `auth::AuthConfig::from_tree` reads.
fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as Json;
    match &node.value {
        Value::String(text) | Value::DateTime(text) => Json::String(text.clone()),
        Value::Integer(number) => Json::from(*number),
        Value::Float(number) => Json::from(*number),
        Value::Bool(flag) => Json::Bool(*flag),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => Json::Object(
            map.entries()
                .iter()
                .map(|entry| (entry.key.clone(), to_json(&entry.node)))
                .collect(),
        ),
    }
}

/// One known key, or an unknown-key warning.
fn apply_key(
    key: &str,
    entry: &Entry,
    config: &mut Config,
    report: &mut Report,
) -> Result<(), String> {
    let node = &entry.node;
    let limits = &mut config.limits;
    let defaults = Limits::default();
    match key {
        "listen" => {
            let (host, port) = listen(node)?;
            if let Some(host) = host {
                config.host = host;
            }
            config.port = port;
        }
        "port" => config.port = port(integer(node)?)?,
        "host" | "net" => config.host = string(node)?,
        "server_name" => config.server_name = Some(string(node)?),
        "leafnodes" | "leaf" => super::leafnodes::leafnodes_block(node, config, report)?,
        "cluster" => super::cluster::cluster_block(node, config, report)?,
        "websocket" | "ws" => super::websocket::websocket_block(node, config, report)?,
        "jetstream" => super::jetstream::jetstream_block(node, config, report)?,
        "store_dir" | "storedir" => config.store_dir = Some(PathBuf::from(string(node)?)),
        "debug" => config.debug = boolean(node)?,
        "trace" => config.trace = boolean(node)?,
        "logtime" => config.logtime = boolean(node)?,
        "log_file" | "logfile" => config.log_file = Some(PathBuf::from(string(node)?)),
        "pid_file" | "pidfile" => config.pid_file = Some(PathBuf::from(string(node)?)),
        "max_payload" => {
            limits.max_payload = or_default(size(node, INT32_MAX)?, defaults.max_payload)
        }
        "max_control_line" => {
            limits.max_control_line = or_default(size(node, INT32_MAX)?, defaults.max_control_line)
        }
        "max_pending" => {
            limits.max_pending = or_default(size(node, i64::MAX)?, defaults.max_pending)
        }
        "max_connections" | "max_conn" => {
            limits.max_connections = or_default(count(node)?, defaults.max_connections)
        }
        // 0 is unlimited, which is also the default.
        "max_subscriptions" | "max_subs" => limits.max_subscriptions = count(node)?,
        "ping_max" => {
            let value = count(node)?;
            let value = u32::try_from(value).map_err(|_| format!("value is too big: {value}"))?;
            limits.ping_max = if value == 0 { defaults.ping_max } else { value };
        }
        "ping_interval" => {
            let value = duration(entry, report)?;
            limits.ping_interval = if value.is_zero() {
                defaults.ping_interval
            } else {
                value
            };
        }
        "write_deadline" => {
            let value = duration(entry, report)?;
            limits.write_deadline = if value.is_zero() {
                defaults.write_deadline
            } else {
                value
            };
        }
        "http_port" | "monitor_port" => config.http_port = http_port(integer(node)?)?,
        "lame_duck_duration" => {
            let value = duration(entry, report)?;
            if value < crate::config::LAME_DUCK_DURATION_MIN {
                return Err(format!(
                    "invalid lame_duck_duration of {}, minimum is 30 seconds",
                    crate::config::go_duration(value)
                ));
            }
            config.lame_duck_duration = value;
        }
        "lame_duck_grace_period" => config.lame_duck_grace_period = duration(entry, report)?,
        "tls" => config.tls = Some(tls_block(node, report)?),
        "allow_non_tls" => config.allow_non_tls = boolean(node)?,
        _ if entry.used_as_variable => {}
        _ => report.warnings.push(Diagnostic {
            pos: Some(entry.key_pos.clone()),
            message: format!("unknown field {:?}, ignored", entry.key),
        }),
    }
    Ok(())
}

fn or_default(value: usize, default: usize) -> usize {
    if value == 0 {
        default
    } else {
        value
    }
}

pub(super) fn string(node: &Node) -> Result<String, String> {
    match &node.value {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("expected a string, got {}", other.describe())),
    }
}

pub(super) fn boolean(node: &Node) -> Result<bool, String> {
    match &node.value {
        Value::Bool(b) => Ok(*b),
        other => Err(format!(
            "expected true or false (or yes/no, on/off), got {}",
            other.describe()
        )),
    }
}

pub(super) fn integer(node: &Node) -> Result<i64, String> {
    match &node.value {
        Value::Integer(n) => Ok(*n),
        other => Err(format!("expected an integer, got {}", other.describe())),
    }
}

/// A byte count: an integer, size suffixes allowed (`1MB`), at most `max`.
fn size(node: &Node, max: i64) -> Result<usize, String> {
    let value = match &node.value {
        Value::Integer(n) => *n,
        other => {
            return Err(format!(
                "expected an integer or a size such as 64KB or 1MB, got {}",
                other.describe()
            ))
        }
    };
    if value < 0 {
        return Err(format!("must not be negative, got {value}"));
    }
    if value > max {
        return Err(format!("value is too big: {value} (at most {max})"));
    }
    usize::try_from(value).map_err(|_| format!("value is too big: {value}"))
}

/// A count: a non-negative integer.
fn count(node: &Node) -> Result<usize, String> {
    size(node, i64::MAX)
}

/// `-1` picks a free port, `0` means the default 4222, as on the command line.
pub(super) fn port(value: i64) -> Result<u16, String> {
    match value {
        -1 => Ok(0),
        0 => Ok(4222),
        1..=65_535 => Ok(value as u16),
        _ => Err(format!(
            "port must be 1-65535, 0 for the default 4222 or -1 for a random port, got {value}"
        )),
    }
}

/// `0` leaves monitoring off; `-1` picks a free port (stored as `Some(0)`).
fn http_port(value: i64) -> Result<Option<u16>, String> {
    match value {
        0 => Ok(None),
        -1 => Ok(Some(0)),
        1..=65_535 => Ok(Some(value as u16)),
        _ => Err(format!(
            "port must be 1-65535, 0 for off or -1 for a random port, got {value}"
        )),
    }
}

/// `listen: PORT` or `listen: HOST:PORT` (`[::1]:4222` for IPv6). An empty host is
/// `0.0.0.0`, as in nats-server.
pub(super) fn listen(node: &Node) -> Result<(Option<String>, u16), String> {
    let (host, number) = listen_parts(node)?;
    Ok((host, port(number)?))
}

/// [`listen`]'s host (`0.0.0.0` for an empty one) and port number, not checked yet.
pub(super) fn listen_parts(node: &Node) -> Result<(Option<String>, i64), String> {
    let text = match &node.value {
        Value::Integer(n) => return Ok((None, *n)),
        Value::String(s) => s,
        other => {
            return Err(format!(
                "expected a port or host:port, got {}",
                other.describe()
            ))
        }
    };
    let unparsable = || format!("could not parse address string {text:?}: expected host:port");
    let (host, port_text) = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']').ok_or_else(unparsable)?;
            (host, after.strip_prefix(':').ok_or_else(unparsable)?)
        }
        None => {
            let (host, port_text) = text.rsplit_once(':').ok_or_else(unparsable)?;
            if host.contains(':') {
                return Err(format!(
                    "could not parse address string {text:?}: put an IPv6 address in \
                     brackets, such as [::1]:4222"
                ));
            }
            (host, port_text)
        }
    };
    let number: i64 = port_text
        .parse()
        .map_err(|_| format!("could not parse port {port_text:?}"))?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok((Some(host.to_string()), number))
}

/// A duration string (`"2m"`, `"1h30m"`, `"500ms"`), or, as nats-server still accepts
/// with a warning, an integer number of seconds.
fn duration(entry: &Entry, report: &mut Report) -> Result<Duration, String> {
    match &entry.node.value {
        Value::String(s) => parse_duration(s),
        Value::Integer(n) => {
            let seconds =
                u64::try_from(*n).map_err(|_| format!("must not be negative, got {n}"))?;
            report.warnings.push(Diagnostic {
                pos: Some(entry.node.pos.clone()),
                message: format!(
                    "{}: a plain number is read as seconds; write a duration such as \"{n}s\"",
                    entry.key
                ),
            });
            Ok(Duration::from_secs(seconds))
        }
        other => Err(format!(
            "expected a duration such as \"2m\" or \"10s\", got {}",
            other.describe()
        )),
    }
}

/// Go's duration syntax (what nats-server uses): one or more decimal numbers, each with an
/// optional fraction and a unit `ns`, `us` (`µs`), `ms`, `s`, `m` or `h`; `"0"` alone is
/// allowed. Negative durations are refused, as no key of ours takes one. Up to Go's
/// bound, `i64::MAX` nanoseconds (about 292 years).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "invalid duration {text:?}: expected numbers with units (ns, us, ms, s, m, h), \
             such as \"2m\", \"10s\" or \"1h30m\""
        )
    };
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.starts_with('-') {
        return Err(format!("duration {text:?} must not be negative"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let too_big = || format!("duration {text:?} is too long");
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let (whole, after) = split_digits(rest);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => split_digits(after),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(format!(
                    "duration {text:?} is missing a unit (ns, us, ms, s, m, h)"
                ))
            }
            _ => return Err(format!("unknown unit {unit:?} in duration {text:?}")),
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_big())?
        };
        nanos = whole
            .checked_mul(unit_nanos)
            .and_then(|n| n.checked_add(nanos))
            .ok_or_else(too_big)?;
        // Digits past the 18th cannot matter at nanosecond resolution.
        let fraction = &fraction[..fraction.len().min(18)];
        if !fraction.is_empty() {
            let scale = 10u128.pow(fraction.len() as u32);
            let numerator: u128 = fraction.parse().map_err(|_| invalid())?;
            nanos += numerator * unit_nanos / scale;
        }
        if nanos > i64::MAX as u128 {
            return Err(too_big());
        }
        rest = after;
    }
    Ok(Duration::from_nanos(nanos as u64))
}

fn split_digits(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::parser::parse_str;
    use std::path::Path;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// The config that `text` makes from the defaults, and what it reported.
    fn check(text: &str) -> (Config, Report) {
        let root = parse_str(text, Path::new("m.conf"), &no_env)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let mut config = Config::default();
        let report = apply(&root, &mut config);
        (config, report)
    }

    /// A file with no problems.
    fn clean(text: &str) -> Config {
        let (config, report) = check(text);
        assert_eq!(report, Report::default(), "{text:?}");
        config
    }

    fn errors(text: &str) -> Vec<String> {
        check(text)
            .1
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn warnings(text: &str) -> Vec<String> {
        check(text)
            .1
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_supported_key() {
        let c = clean(
            "host: 127.0.0.1\nport: 4333\nserver_name: edge-1\nmax_payload: 100\n\
             max_pending: 64KB\nmax_connections: 2\nmax_control_line: 64\n\
             max_subscriptions: 3\nping_interval: \"1s\"\nping_max: 1\n\
             write_deadline: \"500ms\"\ndebug: true\ntrace: on\nlogtime: false\n\
             log_file: /tmp/r.log\npid_file: \"/tmp/r.pid\"\nhttp_port: 8222\n",
        );
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 4333));
        assert_eq!(c.server_name.as_deref(), Some("edge-1"));
        let l = &c.limits;
        assert_eq!(
            (
                l.max_payload,
                l.max_pending,
                l.max_connections,
                l.max_control_line
            ),
            (100, 65_536, 2, 64)
        );
        assert_eq!(l.max_subscriptions, 3);
        assert_eq!(l.ping_interval, Duration::from_secs(1));
        assert_eq!(l.ping_max, 1);
        assert_eq!(l.write_deadline, Duration::from_millis(500));
        assert!(c.debug && c.trace && !c.logtime);
        assert_eq!(c.log_file, Some(PathBuf::from("/tmp/r.log")));
        assert_eq!(c.pid_file, Some(PathBuf::from("/tmp/r.pid")));
        assert_eq!(c.http_port, Some(8222));
    }

    #[test]
    fn aliases_and_key_case() {
        let c = clean(
            "net: ::1\nmax_conn: 7\nmax_subs: 9\nlogfile: a.log\npidfile: a.pid\n\
             monitor_port: 9000\nMAX_PAYLOAD: 2KB\nPort: 5000\n",
        );
        assert_eq!(c.host, "::1");
        assert_eq!(
            (c.limits.max_connections, c.limits.max_subscriptions),
            (7, 9)
        );
        assert_eq!(c.log_file, Some(PathBuf::from("a.log")));
        assert_eq!(c.pid_file, Some(PathBuf::from("a.pid")));
        assert_eq!(c.http_port, Some(9000));
        assert_eq!((c.limits.max_payload, c.port), (2048, 5000));
    }

    #[test]
    fn listen_forms() {
        for (text, host, port) in [
            ("listen: 127.0.0.1:4333", "127.0.0.1", 4333),
            ("listen: \"localhost:5000\"", "localhost", 5000),
            ("listen: \"[::1]:4222\"", "::1", 4222),
            ("listen: \":4444\"", "0.0.0.0", 4444),
            ("listen: 4555", "0.0.0.0", 4555),
            ("host: 10.0.0.1\nlisten: 4555", "10.0.0.1", 4555),
            ("listen: 127.0.0.1:-1", "127.0.0.1", 0),
        ] {
            let c = clean(text);
            assert_eq!((c.host.as_str(), c.port), (host, port), "{text}");
        }
        assert_eq!(
            errors("listen: \"::1:4222\""),
            [
                "m.conf:1:9: listen: could not parse address string \"::1:4222\": put an IPv6 \
              address in brackets, such as [::1]:4222"
            ]
        );
        assert_eq!(
            errors("listen: nohost"),
            ["m.conf:1:9: listen: could not parse address string \"nohost\": expected host:port"]
        );
        assert_eq!(
            errors("listen: 127.0.0.1:99999"),
            [
                "m.conf:1:9: listen: port must be 1-65535, 0 for the default 4222 or -1 for a \
              random port, got 99999"
            ]
        );
    }

    #[test]
    fn zero_means_default_as_in_nats_server() {
        let c = clean(
            "port: 0\nmax_payload: 0\nmax_pending: 0\nmax_connections: 0\n\
             max_control_line: 0\nping_interval: \"0\"\nping_max: 0\nwrite_deadline: \"0s\"\n\
             max_subscriptions: 0\nhttp_port: 0\n",
        );
        let d = Config::default();
        assert_eq!(c.port, 4222);
        assert_eq!(c.limits, d.limits);
        assert_eq!(c.http_port, None);
        let c = clean("port: -1\nhttp_port: -1");
        assert_eq!((c.port, c.http_port), (0, Some(0)));
    }

    #[test]
    fn later_setting_wins_in_file_order() {
        let c = clean("listen: 127.0.0.1:4000\nport: 5000\nmax_payload: 1k\nmax_payload: 2k\n");
        assert_eq!(
            (c.host.as_str(), c.port, c.limits.max_payload),
            ("127.0.0.1", 5000, 2000)
        );
        let c = clean("port: 5000\nlisten: 127.0.0.1:4000\n");
        assert_eq!(c.port, 4000);
    }

    #[test]
    fn invalid_values_name_file_line_and_key() {
        assert_eq!(
            errors("port: 4222\nmax_payload: \"abc\"\n"),
            [
                "m.conf:2:14: max_payload: expected an integer or a size such as 64KB or 1MB, got \
              the string \"abc\""
            ]
        );
        assert_eq!(
            errors("max_payload: 2GB"),
            ["m.conf:1:14: max_payload: value is too big: 2147483648 (at most 2147483647)"]
        );
        assert_eq!(
            errors("max_connections: -5"),
            ["m.conf:1:18: max_connections: must not be negative, got -5"]
        );
        assert_eq!(
            errors("port: \"x\""),
            ["m.conf:1:7: port: expected an integer, got the string \"x\""]
        );
        assert_eq!(errors("port: 70000"), ["m.conf:1:7: port: port must be 1-65535, 0 for the default 4222 or -1 for a random port, got 70000"]);
        assert_eq!(
            errors("debug: 1"),
            ["m.conf:1:8: debug: expected true or false (or yes/no, on/off), got the integer 1"]
        );
        assert_eq!(
            errors("server_name: [a]"),
            ["m.conf:1:14: server_name: expected a string, got an array"]
        );
        assert_eq!(
            errors("ping_max: 5000000000"),
            ["m.conf:1:11: ping_max: value is too big: 5000000000"]
        );
        assert_eq!(errors("http_port: 65536"), ["m.conf:1:12: http_port: port must be 1-65535, 0 for off or -1 for a random port, got 65536"]);
        assert_eq!(
            errors("ping_interval: \"2 min\""),
            ["m.conf:1:16: ping_interval: unknown unit \" min\" in duration \"2 min\""]
        );
        assert_eq!(
            errors("write_deadline: 1.5"),
            ["m.conf:1:17: write_deadline: expected a duration such as \"2m\" or \"10s\", got the float 1.5"]
        );
        // Every problem is reported, not just the first.
        assert_eq!(errors("port: a\nhost: 1\ntrace: x\n").len(), 3);
    }

    #[test]
    fn leafnodes_listen_is_read_and_its_other_keys_refuse_to_start() {
        let (config, report) = check("leafnodes { listen: 127.0.0.1:7500 }\n");
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let leaf = config.leafnodes.expect("leafnodes");
        assert_eq!((leaf.host.as_str(), leaf.port), ("127.0.0.1", 7500));
        let (config, _) = check("leaf { port: -1 }\n");
        let leaf = config.leafnodes.expect("leafnodes");
        assert_eq!((leaf.host.as_str(), leaf.port), ("0.0.0.0", 0));
        assert_eq!(
            errors("leafnodes {\n  port: 7422\n  remotes: [ { url: \"nats-leaf://h:1\", credentials: \"a.creds\" } ]\n  min_version: \"2.8.0\"\n}\n"),
            [
                "m.conf:3:40: leafnodes: remotes: credentials is not supported yet: refusing to start rather than run without it",
                "m.conf:4:3: leafnodes: min_version is not supported yet: refusing to start rather than run without it",
            ]
        );
    }

    #[test]
    fn leafnodes_remotes_and_reconnect_are_read_without_opening_a_leaf_port() {
        let (config, report) = check(
            "leafnodes {\n  remotes: [ { url: \"nats-leaf://127.0.0.1:7422\" }, { urls: [\"nats-leaf://a.invalid:1\", \"nats-leaf://localhost:2/\"], no_randomize: true } ]\n  reconnect: 5\n}\n",
        );
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(config.leafnodes, None);
        let remotes = &config.leaf_remotes;
        assert_eq!(
            remotes.remotes,
            [
                vec!["127.0.0.1:7422".to_string()],
                vec!["a.invalid:1".to_string(), "localhost:2".to_string()],
            ]
        );
        assert_eq!(remotes.reconnect, Some(Duration::from_secs(5)));
        // Names are resolved as the file is read, so a dial on a core needs no DNS query:
        // an address is dialled as written, `.invalid` never resolves (RFC 6761).
        assert_eq!(
            remotes.addresses.keys().collect::<Vec<_>>(),
            ["localhost:2"]
        );
        assert!(remotes.addresses["localhost:2"].ip().is_loopback());
        assert_eq!(
            remotes.address("127.0.0.1:7422"),
            Some("127.0.0.1:7422".parse().unwrap())
        );
        assert_eq!(remotes.address("a.invalid:1"), None);
        let (config, _) = check(
            "leafnodes { reconnect: \"250ms\", remotes: [ { url: \"nats-leaf://h:9\" } ] }\n",
        );
        assert_eq!(
            config.leaf_remotes.reconnect,
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            errors("leafnodes { remotes: [ { url: \"wss://h:1\", account: A } ] }\n"),
            ["m.conf:1:11: leafnodes: remotes: url: \"wss://h:1\": only nats-leaf://, nats:// and tls:// URLs are supported yet (no websocket)"]
        );
    }

    #[test]
    fn security_features_not_implemented_refuse_to_start() {
        for key in UNSUPPORTED_SECURITY_KEYS {
            let text = format!("port: 4222\n{key} {{ x: 1 }}\n");
            assert_eq!(
                errors(&text),
                [format!("m.conf:2:1: {key} is not supported yet: refusing to start rather than run without it")],
                "{key}"
            );
        }
        // Whatever the value's form and the key's case.
        assert_eq!(
            errors("  Gateway: { port: 1 }\nMQTT: 1\n"),
            [
                "m.conf:1:3: Gateway is not supported yet: refusing to start rather than run without it",
                "m.conf:2:1: MQTT is not supported yet: refusing to start rather than run without it",
            ]
        );
        // Auth blocks are read by auth::AuthConfig::from_tree, errors placed at the first
        // auth key.
        let (config, report) = check(
            "port: 1\nauthorization { users: [ {user: a, password: b} ] }\nno_auth_user: a\n",
        );
        assert!(report.errors.is_empty(), "{report:?}");
        assert_eq!(config.auth.users.len(), 1);
        assert_eq!(config.auth.no_auth_user.as_deref(), Some("a"));
        assert_eq!(errors("authorization { users: [] }\n").len(), 1);
        let (config, report) = check(
            "tls {\n  cert_file: \"c.pem\"\n  key_file: k.pem\n  verify: true\n  timeout: 0.5\n}\n",
        );
        assert!(report.errors.is_empty(), "{report:?}");
        let tls = config.tls.expect("tls block read");
        assert_eq!(
            (tls.cert_file, tls.key_file, tls.verify, tls.timeout),
            (
                PathBuf::from("c.pem"),
                PathBuf::from("k.pem"),
                true,
                Duration::from_millis(500)
            )
        );
        assert_eq!(
            errors("tls { cert_file: c.pem }\n"),
            ["m.conf:1:5: tls: a tls block needs cert_file and key_file"]
        );
    }

    #[test]
    fn tls_modes_are_read_as_nats_server_reads_them() {
        let read = |body: &str| {
            let (config, report) = check(&format!(
                "allow_non_tls: true\ntls {{ cert_file: c, key_file: k, {body} }}\n"
            ));
            assert!(report.errors.is_empty(), "{report:?}");
            assert!(config.allow_non_tls);
            let tls = config.tls.unwrap();
            (
                tls.verify,
                tls.verify_and_map,
                tls.handshake_first,
                tls.handshake_first_fallback,
            )
        };
        let ms = Duration::from_millis;
        assert_eq!(read("verify_and_map: true"), (true, true, false, None));
        assert_eq!(
            read("verify: true, verify_and_map: false"),
            (true, false, false, None)
        );
        assert_eq!(read("handshake_first: true"), (false, false, true, None));
        assert_eq!(read("first: \"on\""), (false, false, true, None));
        assert_eq!(
            read("handshake_first: auto"),
            (false, false, true, Some(ms(50)))
        );
        assert_eq!(
            read("immediate: \"300ms\""),
            (false, false, true, Some(ms(300)))
        );
        assert_eq!(read("handshake_first: \"0s\""), (false, false, true, None));
        assert_eq!(
            errors("tls { cert_file: c, key_file: k, handshake_first: soon }\n"),
            ["m.conf:1:5: tls: handshake_first: value \"soon\" is invalid"]
        );
    }

    #[test]
    fn unknown_and_unsupported_keys_warn() {
        let (config, report) = check("port: 4333\nbogus_option: 1\nmax_traced_msg_len: 10\n");
        assert!(report.errors.is_empty());
        assert_eq!(config.port, 4333);
        assert_eq!(
            report
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "m.conf:2:1: unknown field \"bogus_option\", ignored",
                "m.conf:3:1: max_traced_msg_len is not supported yet, ignored",
            ]
        );
        // A top-level key used as a variable is a definition, not an unknown field.
        assert_eq!(
            warnings("limit = 100\nmax_payload: $limit\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            clean("limit = 100\nmax_payload: $limit\n")
                .limits
                .max_payload,
            100
        );
    }

    #[test]
    fn integer_durations_are_seconds_with_a_warning() {
        let (config, report) =
            check("lame_duck_duration: \"45s\"\nlame_duck_grace_period: \"3s\"\n");
        assert!(report.errors.is_empty(), "{report:?}");
        assert_eq!(
            (config.lame_duck_duration, config.lame_duck_grace_period),
            (Duration::from_secs(45), Duration::from_secs(3))
        );
        assert_eq!(
            errors("lame_duck_duration: \"5s\"\n"),
            ["m.conf:1:21: lame_duck_duration: invalid lame_duck_duration of 5s, minimum is 30 seconds"]
        );
        let (config, report) = check("ping_interval: 60\nwrite_deadline: 2\n");
        assert!(report.errors.is_empty());
        assert_eq!(config.limits.ping_interval, Duration::from_secs(60));
        assert_eq!(config.limits.write_deadline, Duration::from_secs(2));
        assert_eq!(
            report.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "m.conf:1:16: ping_interval: a plain number is read as seconds; write a duration such as \"60s\"",
                "m.conf:2:17: write_deadline: a plain number is read as seconds; write a duration such as \"2s\"",
            ]
        );
        // Unquoted, `2m` is a size (2,000,000), as in nats-server: durations need quotes.
        let (config, _) = check("ping_interval: 2m\n");
        assert_eq!(config.limits.ping_interval, Duration::from_secs(2_000_000));
    }

    #[test]
    fn go_duration_syntax() {
        for (text, expected) in [
            ("0", Duration::ZERO),
            ("10s", Duration::from_secs(10)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("500ms", Duration::from_millis(500)),
            ("250us", Duration::from_micros(250)),
            ("250µs", Duration::from_micros(250)),
            ("7ns", Duration::from_nanos(7)),
            ("+3s", Duration::from_secs(3)),
            ("1m0.000000001s", Duration::from_nanos(60_000_000_001)),
            ("1.s", Duration::from_secs(1)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        for (text, message) in [
            ("", "invalid duration"),
            ("s", "invalid duration"),
            ("10", "missing a unit"),
            ("1d", "unknown unit \"d\""),
            ("-1s", "must not be negative"),
            ("3000000h", "too long"),
            (".s", "invalid duration"),
            ("1..5s", "missing a unit"),
        ] {
            let error = parse_duration(text).unwrap_err();
            assert!(error.contains(message), "{text}: {error}");
        }
    }
}
