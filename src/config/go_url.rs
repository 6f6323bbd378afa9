//! The parts of Go's `net/url` and `net` that nats-server 2.9.10 applies to WebSocket
//! origins, with Go 1.19's rules and error texts (nats-server's messages embed them):
//! [`parse`] (`url.Parse`, how `allowed_origins` are validated at start-up),
//! [`parse_request_uri`] (`url.ParseRequestURI`, how an allowed origin, and a request's
//! `Origin` header, are read), [`split_host_port`] (`net.SplitHostPort`) and
//! [`ws_host_and_port`] (nats-server's `wsGetHostAndPort`: the default port by scheme).

/// What ringmq needs of a parsed URL: its scheme (lower case) and host (`host[:port]`,
/// unescaped, as Go's `URL.Host`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    pub host: String,
}

/// Go's `url.Parse`; the error as Go's `*url.Error` prints (`parse "…": reason`).
pub fn parse(raw: &str) -> Result<Url, String> {
    // The fragment is cut off first; a bad escape in it names the whole text.
    let (without_fragment, fragment) = match raw.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (raw, None),
    };
    let url = parse_inner(without_fragment, false)
        .map_err(|reason| format!("parse {}: {reason}", quote(without_fragment)))?;
    if let Some(fragment) = fragment {
        unescape(fragment, Mode::Fragment)
            .map_err(|reason| format!("parse {}: {reason}", quote(raw)))?;
    }
    Ok(url)
}

/// Go's `url.ParseRequestURI`: an absolute URI or an absolute path, no fragment.
pub fn parse_request_uri(raw: &str) -> Result<Url, String> {
    parse_inner(raw, true).map_err(|reason| format!("parse {}: {reason}", quote(raw)))
}

fn parse_inner(raw: &str, via_request: bool) -> Result<Url, String> {
    if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    if raw.is_empty() && via_request {
        return Err("empty url".into());
    }
    if raw == "*" {
        return Ok(Url {
            scheme: String::new(),
            host: String::new(),
        });
    }
    let (scheme, rest) = scheme(raw)?;
    let scheme = scheme.to_ascii_lowercase();
    let rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        &rest[..rest.len() - 1]
    } else {
        rest.split_once('?').map_or(rest, |(path, _query)| path)
    };
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            // Opaque (`mailto:x`): no host.
            return Ok(Url {
                scheme,
                host: String::new(),
            });
        }
        if via_request {
            return Err("invalid URI for request".into());
        }
        let segment = rest.split('/').next().unwrap_or_default();
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    let mut host = String::new();
    let mut path = rest;
    if (!scheme.is_empty() || !via_request && !rest.starts_with("///")) && rest.starts_with("//") {
        let authority_and_path = &rest[2..];
        let (authority, after) = match authority_and_path.find('/') {
            Some(i) => authority_and_path.split_at(i),
            None => (authority_and_path, ""),
        };
        host = parse_authority(authority)?;
        path = after;
    }
    unescape(path, Mode::Path)?;
    Ok(Url { scheme, host })
}

/// Go's `getScheme`.
fn scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// Go's `parseAuthority`: `[userinfo@]host`; returns the host.
fn parse_authority(authority: &str) -> Result<String, String> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let host = parse_host(host)?;
    if let Some(userinfo) = userinfo {
        let valid = userinfo.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '-' | '.'
                        | '_'
                        | ':'
                        | '~'
                        | '!'
                        | '$'
                        | '&'
                        | '\''
                        | '('
                        | ')'
                        | '*'
                        | '+'
                        | ','
                        | ';'
                        | '='
                        | '%'
                        | '@'
                )
        });
        if !valid {
            return Err("net/url: invalid userinfo".into());
        }
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        unescape(user, Mode::UserPassword)?;
        unescape(password, Mode::UserPassword)?;
    }
    Ok(host)
}

/// Go's `parseHost`.
fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let close = host.rfind(']').ok_or("missing ']' in host")?;
        let colon_port = &host[close + 1..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", quote(colon_port)));
        }
        if let Some(zone) = host[..close].find("%25") {
            let mut out = unescape(&host[..zone], Mode::Host)?;
            out.push_str(&unescape(&host[zone..close], Mode::Zone)?);
            out.push_str(&unescape(&host[close..], Mode::Host)?);
            return Ok(out);
        }
    } else if let Some(i) = host.rfind(':') {
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", quote(colon_port)));
        }
    }
    unescape(host, Mode::Host)
}

fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Fragment,
}

/// Go's `unescape`: checks `%XX` escapes (and, in a host, which bytes may appear).
fn unescape(text: &str, mode: Mode) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                let escape = match (bytes.get(i + 1), bytes.get(i + 2)) {
                    (Some(&a), Some(&b)) => hex(a).zip(hex(b)).map(|(a, b)| (a << 4 | b) as u8),
                    _ => None,
                };
                let shown = &text[i..text.len().min(i + 3)];
                let Some(value) = escape else {
                    return Err(format!("invalid URL escape {}", quote(shown)));
                };
                // In a host, %-encoding is only for non-ASCII bytes (and RFC 6874's %25).
                if mode == Mode::Host && value < 0x80 && shown != "%25" {
                    return Err(format!("invalid URL escape {}", quote(shown)));
                }
                if mode == Mode::Zone
                    && shown != "%25"
                    && value != b' '
                    && should_escape_in_host(value)
                {
                    return Err(format!("invalid URL escape {}", quote(shown)));
                }
                out.push(value);
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape_in_host(c) {
                    return Err(format!(
                        "invalid character {} in host name",
                        quote(&(c as char).to_string())
                    ));
                }
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `shouldEscape(c, encodeHost)`.
fn should_escape_in_host(c: u8) -> bool {
    !(c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
                | b'-'
                | b'_'
                | b'.'
                | b'~'
        ))
}

/// Go's `net.SplitHostPort`, its error as `*net.AddrError` prints (`address X: reason`).
pub fn split_host_port(hostport: &str) -> Result<(String, String), String> {
    let error = |reason: &str| Err(format!("address {hostport}: {reason}"));
    let Some(last_colon) = hostport.rfind(':') else {
        return error("missing port in address");
    };
    let (host, after_host) = if let Some(rest) = hostport.strip_prefix('[') {
        let Some(end) = rest.find(']').map(|i| i + 1) else {
            return error("missing ']' in address");
        };
        if end + 1 == hostport.len() {
            return error("missing port in address");
        }
        if end + 1 != last_colon {
            if hostport.as_bytes()[end + 1] == b':' {
                return error("too many colons in address");
            }
            return error("missing port in address");
        }
        (&hostport[1..end], end + 1)
    } else {
        let host = &hostport[..last_colon];
        if host.contains(':') {
            return error("too many colons in address");
        }
        (host, 0)
    };
    let host_start = usize::from(hostport.starts_with('['));
    if hostport[host_start..].contains('[') {
        return error("unexpected '[' in address");
    }
    if hostport[after_host..].contains(']') {
        return error("unexpected ']' in address");
    }
    Ok((host.to_string(), hostport[last_colon + 1..].to_string()))
}

/// nats-server's `wsGetHostAndPort`: the host in lower case and the port, 443 (`tls`) or
/// 80 when the text has none.
pub fn ws_host_and_port(tls: bool, hostport: &str) -> Result<(String, String), String> {
    match split_host_port(hostport) {
        Ok((host, port)) => Ok((host.to_lowercase(), port)),
        Err(error) if error.ends_with("missing port in address") => {
            let port = if tls { "443" } else { "80" };
            Ok((hostport.to_lowercase(), port.to_string()))
        }
        Err(error) => Err(error),
    }
}

/// Go's `strconv.Quote` (`%q`): printable characters as they are, the rest escaped.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' ' => out.push(' '),
            c if !c.is_control() && !c.is_whitespace() => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_what_go_accepts() {
        for (text, scheme, host) in [
            ("http://example.com", "http", "example.com"),
            (
                "HTTPS://Example.com:8443/x?y#z",
                "https",
                "Example.com:8443",
            ),
            ("http://[::1]:80", "http", "[::1]:80"),
            ("x", "", ""),
            ("mailto:a@b", "mailto", ""),
            ("//h:1", "", "h:1"),
        ] {
            let url = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((url.scheme.as_str(), url.host.as_str()), (scheme, host));
        }
    }

    #[test]
    fn parse_refuses_with_go_texts() {
        for (text, error) in [
            ("http://[::1", r#"parse "http://[::1": missing ']' in host"#),
            ("%zz", r#"parse "%zz": invalid URL escape "%zz""#),
            ("a%4", r#"parse "a%4": invalid URL escape "%4""#),
            ("://x", r#"parse "://x": missing protocol scheme"#),
            (
                "1a:b",
                r#"parse "1a:b": first path segment in URL cannot contain colon"#,
            ),
            (
                "http://h:port",
                r#"parse "http://h:port": invalid port ":port" after host"#,
            ),
            (
                "http://a b",
                r#"parse "http://a b": invalid character " " in host name"#,
            ),
            (
                "http://a\u{1}",
                r#"parse "http://a\x01": net/url: invalid control character in URL"#,
            ),
            (
                "http://u{}@h",
                r#"parse "http://u{}@h": net/url: invalid userinfo"#,
            ),
            (
                "http://h/#%g",
                r#"parse "http://h/#%g": invalid URL escape "%g""#,
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), error, "{text}");
        }
    }

    #[test]
    fn request_uris_must_be_absolute() {
        assert_eq!(
            parse_request_uri("x").unwrap_err(),
            r#"parse "x": invalid URI for request"#
        );
        assert_eq!(parse_request_uri("").unwrap_err(), r#"parse "": empty url"#);
        let url = parse_request_uri("https://Web.Example:8443").unwrap();
        assert_eq!(
            (url.scheme.as_str(), url.host.as_str()),
            ("https", "Web.Example:8443")
        );
    }

    #[test]
    fn hosts_and_default_ports_as_nats_server() {
        let split = |tls, text| ws_host_and_port(tls, text);
        assert_eq!(
            split(false, "Example.COM"),
            Ok(("example.com".into(), "80".into()))
        );
        assert_eq!(split(true, "h"), Ok(("h".into(), "443".into())));
        assert_eq!(split(true, "h:8443"), Ok(("h".into(), "8443".into())));
        assert_eq!(split(false, "[::1]:80"), Ok(("::1".into(), "80".into())));
        // Go keeps the brackets when there is no port.
        assert_eq!(split(false, "[::1]"), Ok(("[::1]".into(), "80".into())));
        assert_eq!(
            split(false, "a:b:c"),
            Err("address a:b:c: too many colons in address".into())
        );
        assert_eq!(
            split_host_port("[::1"),
            Err("address [::1: missing ']' in address".into())
        );
    }

    #[test]
    fn quotes_as_go() {
        assert_eq!(quote("a\"b\\c\n\u{7f}é\u{a0}"), r#""a\"b\\c\n\x7fé\u00a0""#);
    }
}
