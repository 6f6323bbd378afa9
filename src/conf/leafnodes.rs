//! The `leafnodes` block → `Config::leafnodes` (ringmq as a hub: the leaf port) and
//! `Config::leaf_remotes` (ringmq as a leaf: the hubs it dials), with nats-server's key
//! names. Keys of features ringmq lacks refuse the start, naming the key.

use crate::config::{LeafAuth, LeafRemoteSettings, LeafTls, LeafUser};

use super::mapping::{boolean, integer, listen, parse_duration, port, string};
use super::parser::{Entry, Node, Value};
use super::{Diagnostic, Report};
use crate::config::Config;
use std::time::Duration;

/// `leafnodes { listen: HOST:PORT | host + port, authorization, tls }` (ringmq as a hub)
/// and `remotes`, `reconnect` (ringmq as a leaf). The leaf port is opened only when
/// `listen`, `port` or `host` is given (nats-server opens none without a port). Every other
/// key of the block (advertise, ...) and of a remote (credentials, hub, ...) names a
/// feature ringmq lacks and refuses the start.
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
        auth: LeafAuth::default(),
        tls: None,
        advertise: None,
        no_advertise: false,
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
            "authorization" => leaf_authorization(value, report).map(|auth| leaf.auth = auth),
            "tls" => leaf_tls(value, report, true).map(|tls| leaf.tls = Some(tls)),
            "advertise" | "leafnode_advertise" => string(value).and_then(|text| {
                let parsed = text
                    .rsplit_once(':')
                    .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
                    .filter(|(host, port)| !host.is_empty() && *port > 0);
                match parsed {
                    Some((host, port)) => {
                        leaf.advertise = Some((host.to_string(), port));
                        Ok(())
                    }
                    None => Err(format!("{text:?}: expected host:port")),
                }
            }),
            "no_advertise" => boolean(value).map(|on| leaf.no_advertise = on),
            "remotes" => leaf_remotes(value, report).map(|list| {
                (remotes.remotes, remotes.settings) = list.into_iter().unzip();
            }),
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

/// `authorization { user, password, account, timeout, users: [ {user, password, account} ] }`
/// (nats-server's `parseLeafAuthorization`: no token, no permissions; any other key is an
/// error there too).
fn leaf_authorization(node: &Node, report: &mut Report) -> Result<LeafAuth, String> {
    let Value::Map(map) = &node.value else {
        return Err(format!("expected a block, got {}", node.value.describe()));
    };
    let mut auth = LeafAuth::default();
    let (mut user, mut password) = (None, None);
    for entry in map.entries() {
        let value = &entry.node;
        let applied = match entry.key.to_ascii_lowercase().as_str() {
            "user" | "username" => string(value).map(|v| user = Some(v)),
            "pass" | "password" => string(value).map(|v| password = Some(v)),
            "account" => string(value).map(|v| auth.account = Some(v)),
            "timeout" => auth_timeout(value).map(|v| auth.timeout = Some(v)),
            "users" => leaf_users(value).map(|users| auth.users = users),
            _ => {
                not_supported(report, entry, "leafnodes: authorization");
                Ok(())
            }
        };
        applied.map_err(|message| format!("{}: {message}", entry.key))?;
    }
    if let Some(user) = user.filter(|user| !user.is_empty()) {
        auth.user = Some((user, password.unwrap_or_default()));
    }
    if !auth.users.is_empty() && auth.user.is_some() {
        return Err("can not have a single user/pass and a users array".to_string());
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(user) = auth.users.iter().find(|user| !seen.insert(&user.user)) {
        return Err(format!(
            "duplicate user {:?} detected in leafnode authorization",
            user.user
        ));
    }
    Ok(auth)
}

/// A `tls {}` block: `cert_file`, `key_file`, `ca_file`, `verify`, `insecure`, `timeout`
/// (seconds, or a duration string). The leaf port's (`port`) needs a certificate and key;
/// a remote's may have both or neither. The leaf port's may have `pinned_certs`. Other TLS
/// keys (cipher_suites, a remote's pinned_certs, verify_and_map, ...) refuse the start.
fn leaf_tls(node: &Node, report: &mut Report, port: bool) -> Result<LeafTls, String> {
    let block = if port {
        "leafnodes: tls"
    } else {
        "leafnodes: remotes: tls"
    };
    tls_block(node, report, block, port)
}

/// A `tls {}` block (see [`leaf_tls`]) named `block` in diagnostics; `needs_cert`: the
/// certificate and key are required.
pub(super) fn tls_block(
    node: &Node,
    report: &mut Report,
    block: &str,
    needs_cert: bool,
) -> Result<LeafTls, String> {
    let Value::Map(map) = &node.value else {
        return Err(format!("expected a block, got {}", node.value.describe()));
    };
    let mut tls = LeafTls::default();
    for entry in map.entries() {
        let value = &entry.node;
        let path = |text: String| Some(std::path::PathBuf::from(text));
        let applied = match entry.key.to_ascii_lowercase().as_str() {
            "cert_file" => string(value).map(|v| tls.cert_file = path(v)),
            "key_file" => string(value).map(|v| tls.key_file = path(v)),
            "ca_file" => string(value).map(|v| tls.ca_file = path(v)),
            "verify" => boolean(value).map(|v| tls.verify = v),
            "insecure" => boolean(value).map(|v| tls.insecure = v),
            "timeout" => tls_timeout(value).map(|v| tls.timeout = v),
            // nats-server checks the leaf port's and the routes' pins (a remote's are not
            // used: refused here rather than ignored).
            "pinned_certs" if needs_cert => pinned_certs(value).map(|v| tls.pinned_certs = v),
            _ => {
                not_supported(report, entry, block);
                Ok(())
            }
        };
        applied.map_err(|message| format!("{}: {message}", entry.key))?;
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(_), Some(_)) => Ok(tls),
        (None, None) if !needs_cert => Ok(tls),
        (None, None) => Err("a tls block needs cert_file and key_file".to_string()),
        _ => Err("cert_file and key_file go together".to_string()),
    }
}

/// `pinned_certs: [ "<sha256 hex of the SubjectPublicKeyInfo>", ... ]`, lowercased, with
/// nats-server's errors.
fn pinned_certs(node: &Node) -> Result<Vec<String>, String> {
    let Value::Array(items) = &node.value else {
        return Err(
            "error parsing tls config, expected 'pinned_certs' to be a list of \
                    hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
                .to_string(),
        );
    };
    items
        .iter()
        .map(|item| {
            let entry = string(item)?.to_ascii_lowercase();
            if entry.len() == 64 && entry.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(entry)
            } else {
                Err(format!(
                    "error parsing tls config, 'pinned_certs' key {entry} does not look like \
                     hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
                ))
            }
        })
        .collect()
}

/// A TLS handshake deadline: seconds (fractions allowed) or a duration string.
fn tls_timeout(node: &Node) -> Result<Duration, String> {
    let timeout = match &node.value {
        Value::Integer(n) => Duration::try_from_secs_f64(*n as f64).ok(),
        Value::Float(f) => Duration::try_from_secs_f64(*f).ok(),
        Value::String(s) => Some(parse_duration(s)?),
        other => return Err(format!("expected seconds, got {}", other.describe())),
    };
    timeout
        .filter(|timeout| !timeout.is_zero())
        .ok_or_else(|| "must be more than 0 seconds".to_string())
}

/// `timeout: 1` or `1.5` (seconds, as nats-server reads it).
fn auth_timeout(node: &Node) -> Result<Duration, String> {
    let seconds = match &node.value {
        Value::Integer(n) => *n as f64,
        Value::Float(f) => *f,
        other => return Err(format!("expected seconds, got {}", other.describe())),
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|timeout| !timeout.is_zero())
        .ok_or_else(|| format!("must be more than 0 seconds, got {seconds}"))
}

/// `users: [ {user, password, account} ]`.
fn leaf_users(node: &Node) -> Result<Vec<LeafUser>, String> {
    let Value::Array(items) = &node.value else {
        return Err(format!("expected an array, got {}", node.value.describe()));
    };
    let mut users = Vec::new();
    for item in items {
        let Value::Map(map) = &item.value else {
            return Err(format!(
                "expected user entry to be a map, got {}",
                item.value.describe()
            ));
        };
        let mut user = LeafUser {
            user: String::new(),
            password: String::new(),
            account: None,
        };
        for entry in map.entries() {
            let value = &entry.node;
            let applied = match entry.key.to_ascii_lowercase().as_str() {
                "user" | "username" => string(value).map(|v| user.user = v),
                "pass" | "password" => string(value).map(|v| user.password = v),
                "account" => string(value).map(|v| user.account = Some(v)),
                _ => Err("unknown field (a leaf user has user, password, account)".to_string()),
            };
            applied.map_err(|message| format!("{}: {message}", entry.key))?;
        }
        users.push(user);
    }
    Ok(users)
}

/// `deny_imports: "a.>"` or `["a.>", "b"]`: valid subjects.
fn subject_list(node: &Node) -> Result<Vec<String>, String> {
    let list = match &node.value {
        Value::Array(items) => items.iter().map(string).collect::<Result<Vec<_>, _>>()?,
        _ => vec![string(node)?],
    };
    match list
        .iter()
        .find(|s| !crate::subjects::is_valid_pattern(s.as_bytes()))
    {
        Some(bad) => Err(format!("invalid subject {bad:?}")),
        None => Ok(list),
    }
}

/// `remotes: [ { url: "nats-leaf://[USER:PASS@]H:P" } | { urls: [...] }, account,
/// deny_imports, deny_exports ]`: each remote's URLs as `host:port` and its settings.
/// `no_randomize` is accepted (ringmq never shuffles the list).
fn leaf_remotes(
    node: &Node,
    report: &mut Report,
) -> Result<Vec<(Vec<String>, LeafRemoteSettings)>, String> {
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
        let mut settings = LeafRemoteSettings::default();
        let mut add_url = |url: &Node| -> Result<(), String> {
            let (address, credentials) = leaf_url(&string(url)?)?;
            if let Some(credentials) = &credentials {
                let own = (address.clone(), credentials.clone());
                settings.url_credentials.push(own);
            }
            let host = address.rsplit_once(':').map_or("", |(host, _)| host);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if settings.tls_name.is_none() && host.parse::<std::net::IpAddr>().is_err() {
                settings.tls_name = Some(host.to_string());
            }
            urls.push(address);
            // nats-server's saveUserPassword: the first URL that has credentials.
            if settings.credentials.is_none() {
                settings.credentials = credentials;
            }
            Ok(())
        };
        for entry in map.entries() {
            let value = &entry.node;
            let applied = match entry.key.to_ascii_lowercase().as_str() {
                "url" | "urls" => match &value.value {
                    Value::Array(list) => list.iter().try_for_each(&mut add_url),
                    _ => add_url(value),
                },
                "no_randomize" | "dont_randomize" => boolean(value).map(|_| ()),
                "account" | "local" => string(value).map(|v| settings.account = Some(v)),
                "deny_imports" | "deny_import" => {
                    subject_list(value).map(|v| settings.deny_imports = v)
                }
                "deny_exports" | "deny_export" => {
                    subject_list(value).map(|v| settings.deny_exports = v)
                }
                "tls" => leaf_tls(value, report, false).map(|tls| settings.tls = Some(tls)),
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
        remotes.push((urls, settings));
    }
    Ok(remotes)
}

/// `nats-leaf://[USER[:PASS]@]HOST:PORT` (or `nats://`, `tls://`) → `HOST:PORT` and the
/// percent-decoded credentials. As in nats-server 2.9.10 the scheme does not decide TLS:
/// the remote's `tls` block or the hub's INFO does. Websocket schemes are refused.
fn leaf_url(url: &str) -> Result<(String, Option<(String, String)>), String> {
    let rest = url
        .strip_prefix("nats-leaf://")
        .or_else(|| url.strip_prefix("nats://"))
        .or_else(|| url.strip_prefix("tls://"))
        .ok_or_else(|| {
            format!("{url:?}: only nats-leaf://, nats:// and tls:// URLs are supported yet (no websocket)")
        })?;
    let (credentials, rest) = url_credentials(url, rest)?;
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok((rest.to_string(), credentials))
        }
        _ => Err(format!("{url:?}: expected nats-leaf://HOST:PORT")),
    }
}

/// `%XX` escapes of a URL's user information decoded (Go's `url.Parse`).
/// A URL's user and password.
pub(super) type Credentials = (String, String);

/// Splits `user:pass@` (percent-decoded) off the part of `url` after its scheme.
pub(super) fn url_credentials<'a>(
    url: &str,
    rest: &'a str,
) -> Result<(Option<Credentials>, &'a str), String> {
    Ok(match rest.rsplit_once('@') {
        Some((userinfo, rest)) => {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |part: &str| {
                percent_decode(part).ok_or_else(|| format!("{url:?}: invalid escape in the URL"))
            };
            (Some((decode(user)?, decode(pass)?)), rest)
        }
        None => (None, rest),
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
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

#[cfg(test)]
mod tests {
    use super::super::mapping::apply;
    use super::super::parser::parse_str;
    use crate::config::{Config, LeafUser};
    use std::path::Path;
    use std::time::Duration;

    fn check(text: &str) -> (Config, Vec<String>) {
        let root = parse_str(text, Path::new("m.conf"), &|_: &str| None)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let mut config = Config::default();
        let report = apply(&root, &mut config);
        let errors = report.errors.iter().map(|d| d.to_string()).collect();
        (config, errors)
    }

    #[test]
    fn authorization_users_accounts_and_timeout_are_read() {
        let (config, errors) = check(
            "leafnodes { port: 7422, authorization { timeout: 1.5, users: [ {user: a, password: p, account: A}, {user: g, pass: q} ] } }\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let auth = config.leafnodes.expect("leafnodes").auth;
        assert_eq!(auth.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(auth.user, None);
        assert_eq!(
            auth.users,
            [
                LeafUser {
                    user: "a".into(),
                    password: "p".into(),
                    account: Some("A".into())
                },
                LeafUser {
                    user: "g".into(),
                    password: "q".into(),
                    account: None
                },
            ]
        );
        let (config, _) =
            check("leafnodes { port: 1, authorization { user: u, password: s, account: B } }\n");
        let auth = config.leafnodes.expect("leafnodes").auth;
        assert_eq!(auth.user, Some(("u".into(), "s".into())));
        assert_eq!(auth.account.as_deref(), Some("B"));
        // The password is never printed.
        assert!(!format!("{auth:?}").contains("\"s\""), "{auth:?}");
    }

    #[test]
    fn authorization_refuses_what_nats_server_refuses() {
        let errors = |text: &str| check(text).1;
        assert_eq!(
            errors("leafnodes { port: 1, authorization { user: u, password: p, users: [ {user: a, password: b} ] } }\n"),
            ["m.conf:1:11: leafnodes: authorization: can not have a single user/pass and a users array"]
        );
        assert_eq!(
            errors("leafnodes { port: 1, authorization { users: [ {user: a}, {user: a} ] } }\n"),
            ["m.conf:1:11: leafnodes: authorization: duplicate user \"a\" detected in leafnode authorization"]
        );
        assert_eq!(
            errors("leafnodes { port: 1, authorization { token: t } }\n"),
            ["m.conf:1:38: leafnodes: authorization: token is not supported yet: refusing to start rather than run without it"]
        );
    }

    #[test]
    fn remotes_read_credentials_account_and_deny_lists() {
        let (config, errors) = check(
            "leafnodes { remotes: [ { urls: [\"nats-leaf://h:1\", \"nats-leaf://us%40r:p%2Fss@h:2\", \"nats-leaf://x:y@h:3\"], account: A, deny_imports: [\"a.>\", b], deny_export: \"c.*\" } ] }\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let remotes = &config.leaf_remotes;
        assert_eq!(remotes.remotes, [vec!["h:1", "h:2", "h:3"]]);
        let settings = &remotes.settings[0];
        assert_eq!(settings.account.as_deref(), Some("A"));
        assert_eq!(settings.deny_imports, ["a.>", "b"]);
        assert_eq!(settings.deny_exports, ["c.*"]);
        // A URL's own credentials, else the first URL's that has some.
        assert_eq!(settings.credentials_for(Some("h:3")), Some(("x", "y")));
        assert_eq!(
            settings.credentials_for(Some("h:1")),
            Some(("us@r", "p/ss"))
        );
        assert_eq!(settings.credentials_for(None), Some(("us@r", "p/ss")));
        assert_eq!(
            check(
                "leafnodes { remotes: [ { url: \"nats-leaf://h:1\", deny_imports: \"a..b\" } ] }\n"
            )
            .1,
            ["m.conf:1:11: leafnodes: remotes: deny_imports: invalid subject \"a..b\""]
        );
    }

    #[test]
    fn leaf_accounts_must_exist() {
        let config = |text: &str| {
            let (config, errors) = check(text);
            assert!(errors.is_empty(), "{errors:?}");
            config.validate().map_err(|e| e.0)
        };
        assert_eq!(
            config("leafnodes { port: 1, authorization { user: u, password: p, account: X } }\n"),
            Err("cannot find local account \"X\" specified in leafnode authorization".into())
        );
        assert_eq!(
            config("leafnodes { remotes: [ { url: \"nats-leaf://h:1\", account: Y } ] }\n"),
            Err("cannot find local account \"Y\" specified in leafnode remote".into())
        );
        assert_eq!(
            config("accounts { Y { users [ {user: y, password: y} ] } }\nleafnodes { remotes: [ { url: \"nats-leaf://h:1\", account: Y } ] }\n"),
            Ok(())
        );
    }

    #[test]
    fn tls_blocks_of_the_port_and_of_remotes_are_read() {
        let (config, errors) = check(
            "leafnodes { port: 1, tls { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, verify: true, timeout: 0.5 }, remotes: [ { urls: [\"tls://10.0.0.1:1\", \"nats-leaf://hub.example:2\"], tls { ca_file: ca.pem, timeout: \"3s\" } }, { url: \"nats-leaf://10.0.0.2:3\" } ] }\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let tls = config.leafnodes.expect("leafnodes").tls.expect("tls");
        assert_eq!(tls.cert_file.as_deref(), Some(Path::new("c.pem")));
        assert_eq!(tls.key_file.as_deref(), Some(Path::new("k.pem")));
        assert_eq!(tls.ca_file.as_deref(), Some(Path::new("ca.pem")));
        assert!(tls.verify && !tls.insecure);
        assert_eq!(tls.timeout, Duration::from_millis(500));
        let remotes = &config.leaf_remotes;
        assert_eq!(remotes.remotes[0], ["10.0.0.1:1", "hub.example:2"]);
        let remote = remotes.settings[0].tls.as_ref().expect("remote tls");
        assert_eq!(remote.ca_file.as_deref(), Some(Path::new("ca.pem")));
        assert_eq!(
            (remote.cert_file.as_deref(), remote.key_file.as_deref()),
            (None, None)
        );
        assert_eq!(remote.timeout, Duration::from_secs(3));
        // The first host name among the URLs names the hub when an IP address is dialled.
        assert_eq!(remotes.settings[0].tls_name.as_deref(), Some("hub.example"));
        assert_eq!(remotes.settings[1].tls, None);
        assert_eq!(remotes.settings[1].tls_name, None);
        // The default deadline is nats-server's 2 s.
        let (config, _) = check(
            "leafnodes { remotes: [ { url: \"nats-leaf://h:1\", tls { insecure: true } } ] }\n",
        );
        let remote = config.leaf_remotes.settings[0].tls.clone().expect("tls");
        assert!(remote.insecure);
        assert_eq!(remote.timeout, Duration::from_secs(2));
    }

    #[test]
    fn tls_blocks_refuse_what_ringmq_cannot_do() {
        let errors = |text: &str| check(text).1;
        assert_eq!(
            errors("leafnodes { port: 1, tls { ca_file: ca.pem } }\n"),
            ["m.conf:1:11: leafnodes: tls: a tls block needs cert_file and key_file"]
        );
        assert_eq!(
            errors("leafnodes { remotes: [ { url: \"nats-leaf://h:1\", tls { cert_file: c.pem } } ] }\n"),
            ["m.conf:1:11: leafnodes: remotes: tls: cert_file and key_file go together"]
        );
        assert_eq!(
            errors("leafnodes { port: 1, tls { cert_file: c, key_file: k, cipher_suites: [] } }\n"),
            ["m.conf:1:55: leafnodes: tls: cipher_suites is not supported yet: refusing to start rather than run without it"]
        );
        assert_eq!(
            errors("leafnodes { port: 1, tls { cert_file: c, key_file: k, timeout: 0 } }\n"),
            ["m.conf:1:11: leafnodes: tls: timeout: must be more than 0 seconds"]
        );
    }
}
