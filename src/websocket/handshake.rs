//! The HTTP/1.1 upgrade request of a WebSocket client, answered as nats-server 2.9.10
//! answers it: Go's `net/http` server reads the request (its own 400/505 answers, keep-alive
//! after the handler's errors), then nats-server's `wsUpgrade` checks it in RFC 6455
//! §4.2.1's order and replies `101 Switching Protocols` or `http.Error`'s plain text.

use std::net::IpAddr;

use data_encoding::BASE64;
use sha1::{Digest, Sha1};

/// RFC 6455's key suffix.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The end of a request head: the index just past its blank line (CRLF or bare LF line
/// ends, as Go reads them), if `bytes` holds one.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = memchr::memchr(b'\n', &bytes[from..]) {
        let at = from + offset;
        let rest = &bytes[at + 1..];
        if rest.first() == Some(&b'\n') {
            return Some(at + 2);
        }
        if rest.starts_with(b"\r\n") {
            return Some(at + 3);
        }
        if rest.is_empty() || (rest.len() == 1 && rest[0] == b'\r') {
            return None;
        }
        from = at + 1;
    }
    None
}

/// A request head as Go's server read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Names as sent (compared case-insensitively), values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of header `name` (case-insensitive), as Go's `Header.Get`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether any value of `name`, split at commas, is `token` (case-insensitive).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .any(|(_, value)| {
                value
                    .split(',')
                    .any(|part| part.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
            })
    }

    /// Whether the connection stays open after an error answer (Go's keep-alive rules).
    pub fn keeps_alive(&self) -> bool {
        if self.header_has_token("Connection", "close") {
            return false;
        }
        self.minor_version == 1 || self.header_has_token("Connection", "keep-alive")
    }

    /// Whether the request announces a body (which an error answer would leave unread).
    pub fn has_body(&self) -> bool {
        self.header("Transfer-Encoding").is_some()
            || self
                .header("Content-Length")
                .is_some_and(|length| length.trim() != "0")
    }
}

/// Go's server refused the request before nats-server saw it; the answer is sent and the
/// connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub response: &'static [u8],
}

/// Go's answer to a request it cannot read (also to one cut short by its read timeout).
pub const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";
const NO_HOST: &[u8] = b"HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header";
const BAD_VERSION: &[u8] = b"HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n505 HTTP Version Not Supported: unsupported protocol version";
/// A head longer than the bound, as Go answers one over its `MaxHeaderBytes`.
pub const HEAD_TOO_LARGE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large";

/// Reads a complete head (up to and including its blank line).
pub fn parse(head: &[u8]) -> Result<Request, Malformed> {
    let malformed = Malformed {
        response: BAD_REQUEST,
    };
    let text = std::str::from_utf8(head).map_err(|_| malformed.clone())?;
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.splitn(3, ' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed);
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) || target.is_empty() {
        return Err(malformed);
    }
    let minor_version = match parse_version(version) {
        Some((1, minor @ (0 | 1))) => minor as u8,
        Some(_) => {
            return Err(Malformed {
                response: BAD_VERSION,
            })
        }
        None => return Err(malformed),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(malformed);
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(malformed);
        }
        headers.push((
            name.to_string(),
            value.trim_matches([' ', '\t']).to_string(),
        ));
    }
    let request = Request {
        method: method.to_string(),
        target: target.to_string(),
        minor_version,
        headers,
    };
    if request.minor_version == 1 && request.header("Host").is_none() {
        return Err(Malformed { response: NO_HOST });
    }
    Ok(request)
}

/// `HTTP/major.minor` with one or more digits each, as Go's `ParseHTTPVersion`.
fn parse_version(version: &str) -> Option<(u32, u32)> {
    let numbers = version.strip_prefix("HTTP/")?;
    let (major, minor) = numbers.split_once('.')?;
    let digits = |part: &str| {
        (!part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    Some((digits(major)?, digits(minor)?))
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// What the server allows: from the `websocket {}` block.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `compression: true`: offered permessage-deflate is accepted.
    pub compression: bool,
    /// `same_origin: true`: an Origin must name this server's host and port.
    pub same_origin: bool,
    /// `allowed_origins`, parsed: (host lower-cased, scheme, port).
    pub allowed_origins: Vec<AllowedOrigin>,
    /// The listener speaks TLS (the default port of a port-less Host is then 443).
    pub tls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin {
    pub host: String,
    pub scheme: String,
    pub port: String,
}

impl AllowedOrigin {
    /// An `allowed_origins` entry (`scheme://host[:port]`); None if it does not parse as
    /// nats-server's `url.ParseRequestURI` needs.
    pub fn parse(origin: &str) -> Option<AllowedOrigin> {
        let (scheme, rest) = origin.split_once("://")?;
        let authority = rest.split('/').next().unwrap_or("");
        if scheme.is_empty() || authority.is_empty() {
            return None;
        }
        let (host, port) = host_and_port(scheme == "https", authority)?;
        Some(AllowedOrigin {
            host,
            scheme: scheme.to_string(),
            port,
        })
    }
}

/// Go's `wsGetHostAndPort`: the host lower-cased and the port, 80 or 443 when absent.
fn host_and_port(tls: bool, authority: &str) -> Option<(String, String)> {
    let default_port = if tls { "443" } else { "80" };
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        match after.strip_prefix(':') {
            Some(port) => (host, port),
            None if after.is_empty() => (host, default_port),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => return None,
            Some((host, port)) => (host, port),
            None => (authority, default_port),
        }
    };
    Some((host.to_ascii_lowercase(), port.to_string()))
}

/// Which server behind the path nats-server would open (`/leafnode…`, `/mqtt…`, or a
/// NATS client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Client,
    Leafnode,
    Mqtt,
}

/// A request that passed: what the connection does from now on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    pub endpoint: Endpoint,
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
    /// permessage-deflate both ways.
    pub compress: bool,
    /// The client asked (`Nats-No-Masking: true`) to send unmasked frames.
    pub no_masking: bool,
    /// A browser (`User-Agent: Mozilla/…`): server frames of at most 4 KiB.
    pub browser: bool,
    /// Safari (its agent names `Version/` and `Safari/`) with compression: a compressed
    /// message goes in one frame, not in 4 KiB fragments.
    pub whole_compressed_frames: bool,
    /// A valid `X-Forwarded-For` address: the client's address from now on.
    pub forwarded_for: Option<IpAddr>,
}

/// A request nats-server refuses: `status` is sent with Go's `http.Error` text, `reason`
/// is what its log line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

fn refuse(status: u16, reason: impl Into<String>) -> Result<Upgrade, Refusal> {
    Err(Refusal {
        status,
        reason: reason.into(),
    })
}

/// nats-server's checks, in its order.
pub fn check(request: &Request, policy: &Policy) -> Result<Upgrade, Refusal> {
    if request.method != "GET" {
        return refuse(405, "request method must be GET");
    }
    if request.header("Host").is_none_or(str::is_empty) {
        return refuse(400, "'Host' missing in request");
    }
    if !request.header_has_token("Upgrade", "websocket") {
        return refuse(400, "invalid value for header 'Upgrade'");
    }
    if !request.header_has_token("Connection", "Upgrade") {
        return refuse(400, "invalid value for header 'Connection'");
    }
    let Some(key) = request
        .header("Sec-Websocket-Key")
        .filter(|key| !key.is_empty())
    else {
        return refuse(400, "key missing");
    };
    if !request.header_has_token("Sec-Websocket-Version", "13") {
        return refuse(400, "invalid version");
    }
    if let Err(reason) = check_origin(request, policy) {
        return refuse(403, format!("origin not allowed: {reason}"));
    }
    let compress = policy.compression && offers_deflate(request);
    let agent = request.header("User-Agent").unwrap_or("");
    let browser = agent.starts_with("Mozilla/");
    let safari = agent.contains("Version/") && agent.contains("Safari/");
    let endpoint = if request.target.starts_with("/leafnode") {
        Endpoint::Leafnode
    } else if request.target.starts_with("/mqtt") {
        Endpoint::Mqtt
    } else {
        Endpoint::Client
    };
    Ok(Upgrade {
        endpoint,
        accept: accept_key(key),
        compress,
        no_masking: request.header("Nats-No-Masking") == Some("true"),
        browser: browser && endpoint != Endpoint::Leafnode,
        whole_compressed_frames: browser && compress && safari,
        forwarded_for: request
            .header("X-Forwarded-For")
            .and_then(|value| value.parse().ok()),
    })
}

/// Whether `Sec-WebSocket-Extensions` offers permessage-deflate (its parameters are not
/// looked at: the answer always says no context takeover).
fn offers_deflate(request: &Request) -> bool {
    request
        .headers
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case("Sec-Websocket-Extensions"))
        .flat_map(|(_, value)| value.split([',', ';']))
        .any(|param| {
            param
                .trim_matches([' ', '\t'])
                .eq_ignore_ascii_case("permessage-deflate")
        })
}

/// nats-server's `checkOrigin`: without `same_origin` and `allowed_origins`, or without an
/// Origin header, anything goes.
fn check_origin(request: &Request, policy: &Policy) -> Result<(), String> {
    if !policy.same_origin && policy.allowed_origins.is_empty() {
        return Ok(());
    }
    let origin = request
        .header("Origin")
        .filter(|origin| !origin.is_empty())
        .or_else(|| request.header("Sec-Websocket-Origin"))
        .unwrap_or("");
    if origin.is_empty() {
        return Ok(());
    }
    let parsed = AllowedOrigin::parse(origin)
        .ok_or_else(|| format!("parse {origin:?}: invalid URI for request"))?;
    if policy.same_origin {
        let host = request.header("Host").unwrap_or("");
        let (own_host, own_port) = host_and_port(policy.tls, host)
            .ok_or_else(|| format!("address {host}: missing port in address"))?;
        if parsed.host != own_host || parsed.port != own_port {
            return Err("not same origin".into());
        }
    }
    if !policy.allowed_origins.is_empty() {
        let allowed = policy
            .allowed_origins
            .iter()
            .rev()
            .find(|allowed| allowed.host == parsed.host);
        match allowed {
            Some(allowed) if allowed.scheme == parsed.scheme && allowed.port == parsed.port => {}
            _ => return Err("not in the allowed list".into()),
        }
    }
    Ok(())
}

/// base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut hash = Sha1::new();
    hash.update(key.as_bytes());
    hash.update(ACCEPT_GUID);
    BASE64.encode(&hash.finalize())
}

/// The `101 Switching Protocols` answer, byte for byte nats-server's.
pub fn switching_protocols(upgrade: &Upgrade) -> Vec<u8> {
    let mut response = Vec::with_capacity(256);
    response.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    response.extend_from_slice(upgrade.accept.as_bytes());
    response.extend_from_slice(b"\r\n");
    if upgrade.compress {
        response.extend_from_slice(
            b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n",
        );
    }
    if upgrade.no_masking {
        response.extend_from_slice(b"Nats-No-Masking: true\r\n");
    }
    if upgrade.endpoint == Endpoint::Mqtt {
        response.extend_from_slice(b"Sec-Websocket-Protocol: mqtt\r\n");
    }
    response.extend_from_slice(b"\r\n");
    response
}

/// Go's `http.Error` answer to a refused request; `date` in HTTP's format
/// (`Mon, 07 Dec 2026 05:57:51 GMT`). `close`: the connection ends after it (a
/// `Connection: close` request gets that header back).
pub fn refusal_response(status: u16, request: &Request, date: &str) -> Vec<u8> {
    let text = match status {
        403 => "Forbidden",
        405 => "Method Not Allowed",
        _ => "Bad Request",
    };
    let mut response = format!(
        "HTTP/1.{} {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: {date}\r\nContent-Length: {}\r\n",
        request.minor_version,
        text.len() + 1
    );
    if request.header_has_token("Connection", "close") {
        response.push_str("Connection: close\r\n");
    }
    response.push_str("\r\n");
    response.push_str(text);
    response.push('\n');
    response.into_bytes()
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
