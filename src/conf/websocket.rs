//! The `websocket` block (also `ws`) → `Config::websocket`, read as nats-server 2.9.10's
//! `parseWebsocket` reads it: its keys and aliases (case-insensitive), every problem
//! reported (not only the first) at the value it concerns. Without a port (`port`, or
//! `listen`'s) nats-server ignores the block after reading it, and so does ringmq. The
//! cross-field rules (TLS required, origins, `no_auth_user`, ...) are checked with the
//! rest of the configuration (`Config::validate`), last, as nats-server checks them.

use super::mapping::{boolean, integer, listen_parts, parse_duration, string};
use super::parser::{Entry, Node, Value};
use super::{Diagnostic, Pos, Report};
use crate::auth::Secret;
use crate::config::{Config, TlsConfig, WebsocketAuth, WebsocketConfig};
use std::path::PathBuf;
use std::time::Duration;

/// TLS keys of nats-server 2.9.10 that ringmq does not implement for WebSocket clients:
/// refused when they would change what is accepted (a `false` or an empty list is fine).
const REFUSED_TLS_KEYS: &[&str] = &[
    "verify_and_map",
    "pinned_certs",
    "cipher_suites",
    "curve_preferences",
];

/// `websocket { listen | host + port, advertise, no_tls, tls, compression, same_origin,
/// allowed_origins, handshake_timeout, authorization, no_auth_user, jwt_cookie }`.
pub(super) fn websocket_block(
    node: &Node,
    config: &mut Config,
    report: &mut Report,
) -> Result<(), String> {
    let Value::Map(map) = &node.value else {
        return Err(format!("expected a block, got {}", node.value.describe()));
    };
    let mut block = Block {
        ws: WebsocketConfig::new(0),
        report,
    };
    for entry in map.entries() {
        block.entry(entry);
    }
    let ws = block.ws;
    config.websocket = (ws.port != 0).then_some(ws);
    Ok(())
}

struct Block<'a> {
    ws: WebsocketConfig,
    report: &'a mut Report,
}

impl Block<'_> {
    fn error(&mut self, pos: &Pos, message: String) {
        self.report.errors.push(Diagnostic {
            pos: Some(pos.clone()),
            message: format!("websocket: {message}"),
        });
    }

    fn entry(&mut self, entry: &Entry) {
        let value = &entry.node;
        let ws = &mut self.ws;
        let applied = match entry.key.to_ascii_lowercase().as_str() {
            "listen" => listen_parts(value).and_then(|(host, number)| {
                ws.port = ws_port(number)?;
                if let Some(host) = host {
                    ws.host = host;
                }
                Ok(())
            }),
            "port" => integer(value).and_then(|n| ws_port(n).map(|port| ws.port = port)),
            "host" | "net" => string(value).map(|host| ws.host = host),
            "advertise" => string(value).map(|text| ws.advertise = non_empty(text)),
            "no_tls" => boolean(value).map(|on| ws.no_tls = on),
            "tls" => match tls_block(value, self.report) {
                Ok(tls) => {
                    self.ws.tls = tls;
                    Ok(())
                }
                Err((pos, message)) => {
                    self.error(&pos, format!("tls: {message}"));
                    return;
                }
            },
            "same_origin" => boolean(value).map(|on| ws.same_origin = on),
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => match origins(value) {
                Ok(list) => {
                    ws.allowed_origins = list;
                    Ok(())
                }
                Err((pos, message)) => {
                    self.error(&pos, format!("{}: {message}", entry.key));
                    return;
                }
            },
            "handshake_timeout" => handshake_timeout(value).map(|d| ws.handshake_timeout = d),
            "compress" | "compression" => boolean(value).map(|on| ws.compression = on),
            "authorization" | "authentication" => {
                let auth = authorization(value, self.report);
                self.ws.authorization = auth;
                return;
            }
            "jwt_cookie" => string(value).map(|name| ws.jwt_cookie = non_empty(name)),
            "no_auth_user" => string(value).map(|name| ws.no_auth_user = non_empty(name)),
            _ if entry.used_as_variable => Ok(()),
            _ => {
                let message = format!("unknown field {:?}", entry.key);
                self.error(&entry.key_pos, message);
                return;
            }
        };
        if let Err(message) = applied {
            self.error(&value.pos, format!("{}: {message}", entry.key));
        }
    }
}

/// nats-server keeps an empty string as "not set".
fn non_empty(text: String) -> Option<String> {
    Some(text).filter(|text| !text.is_empty())
}

/// `-1` (a free port), 0 (no listener) or a port.
fn ws_port(number: i64) -> Result<i32, String> {
    match number {
        -1..=65_535 => Ok(number as i32),
        _ => Err(format!(
            "port must be 1-65535, 0 for none or -1 for a random port, got {number}"
        )),
    }
}

/// `allowed_origins: "http://a"` or `["http://a", "https://b:8443"]`; the URLs are checked
/// at start-up. An error names the value it is about.
fn origins(node: &Node) -> Result<Vec<String>, (Pos, String)> {
    let one = |item: &Node| string(item).map_err(|message| (item.pos.clone(), message));
    match &node.value {
        Value::Array(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(node)?]),
    }
}

/// Whole seconds, or a duration string (`"2s"`), as nats-server reads it (no warning).
fn handshake_timeout(node: &Node) -> Result<Duration, String> {
    match &node.value {
        Value::Integer(n) => u64::try_from(*n)
            .map(Duration::from_secs)
            .map_err(|_| format!("must not be negative, got {n}")),
        Value::String(text) => parse_duration(text),
        other => Err(format!(
            "expected a duration such as \"2s\" or whole seconds, got {}",
            other.describe()
        )),
    }
}

/// Seconds, fractions allowed, not negative.
fn seconds(node: &Node) -> Result<Duration, String> {
    let seconds = match &node.value {
        Value::Integer(n) => *n as f64,
        Value::Float(f) => *f,
        other => return Err(format!("expected seconds, got {}", other.describe())),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("must not be negative, got {seconds}"))
}

/// `authorization { user, password, token, timeout }` (nats-server's `parseSimpleAuth`:
/// `users` and permissions are unknown fields there).
fn authorization(node: &Node, report: &mut Report) -> Option<WebsocketAuth> {
    let mut error = |pos: &Pos, message: String| {
        report.errors.push(Diagnostic {
            pos: Some(pos.clone()),
            message: format!("websocket: authorization: {message}"),
        })
    };
    let Value::Map(map) = &node.value else {
        error(
            &node.pos,
            format!("expected a block, got {}", node.value.describe()),
        );
        return None;
    };
    let mut auth = WebsocketAuth::default();
    for entry in map.entries() {
        let value = &entry.node;
        let secret = |text: String| non_empty(text).map(Secret);
        let applied = match entry.key.to_ascii_lowercase().as_str() {
            "user" | "username" => string(value).map(|v| auth.user = non_empty(v)),
            "pass" | "password" => string(value).map(|v| auth.password = secret(v)),
            "token" => string(value).map(|v| auth.token = secret(v)),
            "timeout" => seconds(value).map(|v| auth.timeout = Some(v).filter(|t| !t.is_zero())),
            _ if entry.used_as_variable => Ok(()),
            _ => {
                error(&entry.key_pos, format!("unknown field {:?}", entry.key));
                continue;
            }
        };
        if let Err(message) = applied {
            error(&value.pos, format!("{}: {message}", entry.key));
        }
    }
    Some(auth)
}

/// `tls { cert_file, key_file, ca_file, verify, timeout }` (`insecure` and
/// `connection_rate_limit` are accepted and do nothing here, as in nats-server). The keys
/// of [`REFUSED_TLS_KEYS`] refuse the start; other keys are unknown to nats-server 2.9.10
/// too. Problems other than the first are reported directly.
fn tls_block(node: &Node, report: &mut Report) -> Result<Option<TlsConfig>, (Pos, String)> {
    let Value::Map(map) = &node.value else {
        let message = format!("expected a block, got {}", node.value.describe());
        return Err((node.pos.clone(), message));
    };
    let mut tls = TlsConfig::new("", "");
    let (mut cert_file, mut key_file) = (None, None);
    for entry in map.entries() {
        let value = &entry.node;
        let key = entry.key.to_ascii_lowercase();
        let path = |text: String| Some(PathBuf::from(text)).filter(|p| !p.as_os_str().is_empty());
        let applied = match key.as_str() {
            "cert_file" => string(value).map(|v| cert_file = path(v)),
            "key_file" => string(value).map(|v| key_file = path(v)),
            "ca_file" => string(value).map(|v| tls.ca_file = path(v)),
            "verify" => boolean(value).map(|on| tls.verify = on),
            "insecure" => boolean(value).map(|_| ()),
            // nats-server reads it and applies it to the client port only.
            "connection_rate_limit" => integer(value).map(|_| ()),
            "timeout" => tls_timeout(value).map(|t| tls.timeout = t),
            "verify_cert_and_check_known_urls" => boolean(value).and_then(|on| match on {
                true => {
                    Err("verify_cert_and_check_known_urls not supported in this context".into())
                }
                false => Ok(()),
            }),
            _ if REFUSED_TLS_KEYS.contains(&key.as_str()) => {
                if changes_acceptance(value) {
                    report.errors.push(Diagnostic {
                        pos: Some(entry.key_pos.clone()),
                        message: format!(
                            "websocket: tls: {} is not supported yet: refusing to start rather \
                             than run without it",
                            entry.key
                        ),
                    });
                }
                Ok(())
            }
            _ if entry.used_as_variable => Ok(()),
            _ => {
                let message = format!("error parsing tls config, unknown field [{:?}]", entry.key);
                return Err((entry.key_pos.clone(), message));
            }
        };
        applied.map_err(|message| (value.pos.clone(), format!("{}: {message}", entry.key)))?;
    }
    match (cert_file, key_file) {
        (Some(cert), Some(key)) => {
            tls.cert_file = cert;
            tls.key_file = key;
            Ok(Some(tls))
        }
        (Some(_), None) => Err((
            node.pos.clone(),
            "missing 'key_file' in TLS configuration".into(),
        )),
        (None, Some(_)) => Err((
            node.pos.clone(),
            "missing 'cert_file' in TLS configuration".into(),
        )),
        (None, None) => Err((
            node.pos.clone(),
            "a tls block needs cert_file and key_file".into(),
        )),
    }
}

/// A refused TLS key's value does something: `true`, or a list that is not empty.
fn changes_acceptance(node: &Node) -> bool {
    match &node.value {
        Value::Bool(on) => *on,
        Value::Array(items) => !items.is_empty(),
        _ => true,
    }
}

/// Seconds (fractions allowed) or a duration string; 0 is the default 2 s.
fn tls_timeout(node: &Node) -> Result<Duration, String> {
    let timeout = match &node.value {
        Value::String(text) => parse_duration(text)?,
        _ => seconds(node)?,
    };
    Ok(if timeout.is_zero() {
        TlsConfig::DEFAULT_TIMEOUT
    } else {
        timeout
    })
}

#[cfg(test)]
mod tests {
    use super::super::mapping::apply;
    use super::super::parser::parse_str;
    use crate::config::{AllowedOrigin, Config, WebsocketConfig};
    use std::path::Path;
    use std::time::Duration;

    /// The configuration `text` (a whole file, `m.conf`) makes, and every diagnostic.
    fn check(text: &str) -> (Config, Vec<String>) {
        let root = parse_str(text, Path::new("m.conf"), &|_: &str| None)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let mut config = Config::default();
        let report = apply(&root, &mut config);
        let printed = report.errors.iter().chain(&report.warnings);
        (config, printed.map(ToString::to_string).collect())
    }

    /// The block of a file without problems (start-up checks included).
    fn clean(text: &str) -> WebsocketConfig {
        let (config, problems) = check(text);
        assert_eq!(problems, Vec::<String>::new(), "{text}");
        assert_eq!(config.validate(), Ok(()), "{text}");
        config.websocket.expect("a websocket listener")
    }

    fn errors(text: &str) -> Vec<String> {
        check(text).1
    }

    /// What start-up says of a file that reads without problems.
    fn refused(text: &str) -> String {
        let (config, problems) = check(text);
        assert_eq!(problems, Vec::<String>::new(), "{text}");
        config.validate().expect_err(text).0
    }

    #[test]
    fn every_key_is_read() {
        let ws = clean(
            "authorization { users: [ {user: a, password: b} ] }\n\
             websocket {\n  listen: \"127.0.0.1:8443\"\n  advertise: \"ws.example:443\"\n  \
             no_tls: true\n  compression: true\n  same_origin: true\n  \
             allowed_origins: [\"https://a.example\", \"http://b.example:8080\"]\n  \
             handshake_timeout: \"2.5s\"\n  no_auth_user: a\n  \
             authorization { timeout: 1.5 }\n}\n",
        );
        assert_eq!((ws.host.as_str(), ws.port), ("127.0.0.1", 8443));
        assert_eq!(ws.advertise.as_deref(), Some("ws.example:443"));
        assert!(ws.no_tls && ws.compression && ws.same_origin && ws.tls.is_none());
        assert_eq!(
            ws.allowed_origins,
            ["https://a.example", "http://b.example:8080"]
        );
        assert_eq!(ws.handshake_timeout, Duration::from_millis(2500));
        assert_eq!(ws.no_auth_user.as_deref(), Some("a"));
        let auth = ws.authorization.clone().expect("authorization");
        assert_eq!(auth.timeout, Some(Duration::from_millis(1500)));
        assert_eq!((auth.user, auth.token), (None, None));
        assert!(ws.overrides_auth());
        assert_eq!(ws.jwt_cookie, None);
    }

    #[test]
    fn aliases_defaults_and_the_port_forms() {
        let ws = clean("ws { port: -1, no_tls: true }\n");
        assert_eq!((ws.host.as_str(), ws.port), ("0.0.0.0", -1));
        assert_eq!(ws.handshake_timeout, Duration::ZERO);
        assert!(!ws.compression && !ws.same_origin && !ws.overrides_auth());
        let ws = clean(
            "WebSocket { Host: \"::1\", PORT: 9000, No_TLS: true, compress: true, \
             origin: \"http://x\", handshake_timeout: 3, authentication { username: u, \
             pass: p } }\n",
        );
        assert_eq!((ws.host.as_str(), ws.port), ("::1", 9000));
        assert!(ws.compression);
        assert_eq!(ws.allowed_origins, ["http://x"]);
        assert_eq!(ws.handshake_timeout, Duration::from_secs(3));
        let auth = ws.authorization.clone().expect("authorization");
        assert_eq!(auth.user.as_deref(), Some("u"));
        assert_eq!(auth.password.map(|p| p.0).as_deref(), Some("p"));
        assert!(ws.overrides_auth());
        for (listen, host, port) in [
            ("\":8080\"", "0.0.0.0", 8080),
            ("\"[::1]:-1\"", "::1", -1),
            ("8081", "0.0.0.0", 8081),
        ] {
            let ws = clean(&format!("websocket {{ listen: {listen}, no_tls: true }}\n"));
            assert_eq!((ws.host.as_str(), ws.port), (host, port), "{listen}");
        }
        // Without a port nats-server reads the block and ignores it: nothing is checked.
        for text in [
            "websocket { no_tls: false, jwt_cookie: c }\n",
            "websocket { listen: \"127.0.0.1:0\" }\n",
            "websocket { port: 8080, port: 0 }\n",
        ] {
            let (config, problems) = check(text);
            assert_eq!((problems, config.validate()), (vec![], Ok(())), "{text}");
            assert_eq!(config.websocket, None, "{text}");
        }
    }

    #[test]
    fn start_up_refuses_with_nats_server_texts() {
        assert_eq!(
            refused("websocket { port: 8080 }\n"),
            "websocket requires TLS configuration"
        );
        assert_eq!(
            refused("websocket { port: -1, no_tls: true, allowed_origins: [\"http://ok\", \"http://[::1\"] }\n"),
            "unable to parse allowed origin: parse \"http://[::1\": missing ']' in host"
        );
        assert_eq!(
            refused("websocket { port: -1, no_tls: true, allowed_origins: \"%zz\" }\n"),
            "unable to parse allowed origin: parse \"%zz\": invalid URL escape \"%zz\""
        );
        assert_eq!(
            refused("websocket { port: -1, no_tls: true, no_auth_user: bob }\n"),
            "no_auth_user: \"bob\" present, but users are not defined"
        );
        let users = "authorization { users: [ {user: a, password: b} ] }\n";
        assert_eq!(
            refused(&format!(
                "{users}websocket {{ port: -1, no_tls: true, no_auth_user: bob }}\n"
            )),
            "no_auth_user: \"bob\" not present as user in authorization block or account \
             configuration"
        );
        assert_eq!(
            refused(&format!("{users}websocket {{ port: -1, no_tls: true, authorization {{ user: x, password: y }} }}\n")),
            "websocket authentication username not compatible with presence of users/nkeys"
        );
        assert_eq!(
            refused(&format!(
                "{users}websocket {{ port: -1, no_tls: true, authorization {{ token: t }} }}\n"
            )),
            "websocket authentication token not compatible with presence of users/nkeys"
        );
        assert_eq!(
            refused("websocket { port: -1, no_tls: true, jwt_cookie: my_jwt }\n"),
            "trusted operators or trusted keys configuration is required for JWT \
             authentication via cookie \"my_jwt\""
        );
        // Checked after the rest, as in nats-server: the first other problem is reported.
        assert_eq!(
            refused("max_payload: 128MB\nwebsocket { port: 1 }\n"),
            "max_payload (134217728) cannot be higher than max_pending (67108864)"
        );
        // A user of an account counts, as in nats-server.
        let ws = clean(
            "accounts { A { users: [ {user: w, password: p} ] } }\n\
             websocket { port: -1, no_tls: true, no_auth_user: w }\n",
        );
        assert_eq!(ws.no_auth_user.as_deref(), Some("w"));
    }

    #[test]
    fn bad_values_are_reported_where_they_are_each_of_them() {
        assert_eq!(
            errors(
                "websocket {\n  port: \"x\"\n  bogus: 1\n  handshake_timeout: 1.5\n  \
                 compression: 3\n  allowed_origins: [\"http://a\", 2]\n  \
                 authorization { users: [ {user: a, password: b} ], timeout: \"5s\" }\n  \
                 listen: \"nohost\"\n  handshake_timeout: \"2x\"\n}\n"
            ),
            [
                "m.conf:2:9: websocket: port: expected an integer, got the string \"x\"",
                "m.conf:3:3: websocket: unknown field \"bogus\"",
                "m.conf:5:16: websocket: compression: expected true or false (or yes/no, \
                 on/off), got the integer 3",
                "m.conf:6:33: websocket: allowed_origins: expected a string, got the integer 2",
                "m.conf:7:19: websocket: authorization: unknown field \"users\"",
                "m.conf:7:63: websocket: authorization: timeout: expected seconds, got the \
                 string \"5s\"",
                "m.conf:8:11: websocket: listen: could not parse address string \"nohost\": \
                 expected host:port",
                "m.conf:9:22: websocket: handshake_timeout: unknown unit \"x\" in duration \"2x\"",
            ]
        );
        assert_eq!(
            errors("websocket: 5\n"),
            ["m.conf:1:12: websocket: expected a block, got the integer 5"]
        );
        assert_eq!(
            errors("websocket { port: 70000 }\n"),
            [
                "m.conf:1:19: websocket: port: port must be 1-65535, 0 for none or -1 for a \
              random port, got 70000"
            ]
        );
    }

    #[test]
    fn tls_is_read_and_what_ringmq_lacks_refuses_the_start() {
        let ws = clean(
            "websocket { port: 443, tls { cert_file: c.pem, key_file: k.pem, ca_file: ca.pem, \
             verify: true, timeout: 0.5, insecure: false, verify_and_map: false, \
             pinned_certs: [], connection_rate_limit: 10 } }\n",
        );
        let tls = ws.tls.expect("tls");
        assert_eq!(
            (tls.cert_file.to_str(), tls.key_file.to_str()),
            (Some("c.pem"), Some("k.pem"))
        );
        assert_eq!(
            tls.ca_file.as_deref().and_then(|p| p.to_str()),
            Some("ca.pem")
        );
        assert!(tls.verify && !tls.verify_and_map && !ws.no_tls);
        assert_eq!(tls.timeout, Duration::from_millis(500));
        assert_eq!(
            errors(
                "websocket { port: 443, tls { cert_file: c, key_file: k, verify_and_map: true, \
                 pinned_certs: [\"ab\"], cipher_suites: [\"x\"] } }\n"
            ),
            [
                "m.conf:1:57: websocket: tls: verify_and_map is not supported yet: refusing to \
                 start rather than run without it",
                "m.conf:1:79: websocket: tls: pinned_certs is not supported yet: refusing to \
                 start rather than run without it",
                "m.conf:1:101: websocket: tls: cipher_suites is not supported yet: refusing \
                 to start rather than run without it",
            ]
        );
        for (body, error) in [
            (
                "cert_file: c",
                "m.conf:1:28: websocket: tls: missing 'key_file' in TLS configuration",
            ),
            (
                "key_file: k",
                "m.conf:1:28: websocket: tls: missing 'cert_file' in TLS configuration",
            ),
            (
                "ca_file: x",
                "m.conf:1:28: websocket: tls: a tls block needs cert_file and key_file",
            ),
            (
                "cert_file: c, key_file: k, handshake_first: true",
                "m.conf:1:57: websocket: tls: error parsing tls config, unknown field \
                 [\"handshake_first\"]",
            ),
            (
                "cert_file: c, key_file: k, verify_cert_and_check_known_urls: true",
                "m.conf:1:91: websocket: tls: verify_cert_and_check_known_urls: \
                 verify_cert_and_check_known_urls not supported in this context",
            ),
        ] {
            assert_eq!(
                errors(&format!("websocket {{ port: 443, tls {{ {body} }} }}\n")),
                [error],
                "{body}"
            );
        }
    }

    #[test]
    fn origins_are_read_as_the_handshake_compares_them() {
        let ws = clean(
            "websocket { port: -1, no_tls: true, allowed_origins: [\"http://A.example\", \
             \"https://b.example\", \"https://c.example:8443\", \"x\", \
             \"https://a.example:9\"] }\n",
        );
        let (origins, problems) = ws.origins();
        let origin = |scheme: &str, port: &str| AllowedOrigin {
            scheme: scheme.into(),
            port: port.into(),
        };
        assert_eq!(
            origins.into_iter().collect::<Vec<_>>(),
            [
                ("a.example".to_string(), origin("https", "9")),
                ("b.example".to_string(), origin("https", "443")),
                ("c.example".to_string(), origin("https", "8443")),
            ]
        );
        assert_eq!(
            problems,
            ["error parsing allowed origin: parse \"x\": invalid URI for request"]
        );
    }
}
