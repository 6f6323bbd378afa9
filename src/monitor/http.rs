//! Just enough HTTP/1.1 for the monitoring port: request heads parsed from bytes as they
//! arrive, responses written with the headers nats-server's Go server sends, in its order.
//!
//! No IO here. Requests carry no body we read: one that announces a body is answered and
//! the connection closed, so leftover bytes never desynchronise it. Every request is bounded
//! by [`REQUEST_HEAD_BYTES_MAX`].

/// Longest request head (request line and headers). Over it: `431 Request Header Fields Too
/// Large`, then close. nats-server allows 1 MiB; monitoring requests are a few hundred bytes.
pub const REQUEST_HEAD_BYTES_MAX: usize = 16 * 1024;

/// What a request asks for, as far as monitoring cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method as sent (`GET`, `HEAD`, anything else is refused).
    pub method: String,
    /// The path, percent-decoded (`/connz`).
    pub path: String,
    /// The raw query string after `?` (decoded later, pair by pair).
    pub query: String,
    /// Whether the connection stays open after the response (HTTP/1.1 without
    /// `Connection: close`, HTTP/1.0 with `Connection: keep-alive`, and no request body).
    pub keep_alive: bool,
}

impl Request {
    /// HEAD: the response without its body.
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Why a request head could not be used; each is answered and the connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Head longer than [`REQUEST_HEAD_BYTES_MAX`].
    HeadTooLarge,
    /// Not an HTTP/1.x request line or header.
    Malformed,
    /// HTTP/1.1 requires a `Host` header (RFC 7230 §5.4).
    MissingHost,
}

/// The result of looking for the next request in the bytes received so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// The head is not complete yet.
    Incomplete,
    Request(Request),
    Invalid(RequestError),
}

/// Bytes of one connection not yet consumed as requests.
#[derive(Debug, Default)]
pub struct RequestReader {
    buffer: Vec<u8>,
}

impl RequestReader {
    pub fn feed(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// Whether part of a request has arrived (for the read timeout).
    pub fn has_partial(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// Takes the next complete request head out of the buffer.
    pub fn next_request(&mut self) -> Next {
        let Some((head_len, consumed)) = find_head_end(&self.buffer) else {
            if self.buffer.len() > REQUEST_HEAD_BYTES_MAX {
                return Next::Invalid(RequestError::HeadTooLarge);
            }
            return Next::Incomplete;
        };
        if head_len > REQUEST_HEAD_BYTES_MAX {
            return Next::Invalid(RequestError::HeadTooLarge);
        }
        let parsed = parse_head(&self.buffer[..head_len]);
        self.buffer.drain(..consumed);
        match parsed {
            Ok(request) => Next::Request(request),
            Err(error) => Next::Invalid(error),
        }
    }
}

/// (length of the head without its blank line, bytes up to and including the blank line).
/// Lines may end in CRLF or a bare LF, as Go's server accepts.
fn find_head_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    // Leading empty lines before a request line are ignored (RFC 7230 §3.5).
    while buffer[start..].starts_with(b"\r\n") || buffer[start..].starts_with(b"\n") {
        start += if buffer[start] == b'\r' { 2 } else { 1 };
    }
    let mut line_start = start;
    while let Some(offset) = memchr::memchr(b'\n', &buffer[line_start..]) {
        let line_end = line_start + offset;
        let line = &buffer[line_start..line_end];
        if line.is_empty() || line == b"\r" {
            return Some((line_start, line_end + 1));
        }
        line_start = line_end + 1;
    }
    None
}

fn parse_head(head: &[u8]) -> Result<Request, RequestError> {
    let request = parse_head_fields(head).ok_or(RequestError::Malformed)?;
    if request.1 && !request.2 {
        return Err(RequestError::MissingHost);
    }
    Ok(request.0)
}

/// (the request, whether it is HTTP/1.1, whether it has a `Host` header).
fn parse_head_fields(head: &[u8]) -> Option<(Request, bool, bool)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .skip_while(|line| line.is_empty());
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.is_empty() || !method.bytes().all(is_token_byte) {
        return None;
    }
    let http_1_1 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return None,
    };
    let mut connection_close = !http_1_1;
    let mut has_body = false;
    let mut has_host = false;
    for line in lines.filter(|line| !line.is_empty()) {
        let (name, value) = line.split_once(':')?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return None;
        }
        let value = value.trim_matches([' ', '\t']);
        has_host |= name.eq_ignore_ascii_case("host");
        if name.eq_ignore_ascii_case("connection") {
            for option in value.split(',').map(str::trim) {
                if option.eq_ignore_ascii_case("close") {
                    connection_close = true;
                } else if option.eq_ignore_ascii_case("keep-alive") {
                    connection_close = false;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            has_body |= value != "0";
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            has_body = true;
        }
    }
    let (path, query) = split_target(target)?;
    let request = Request {
        method: method.to_string(),
        path,
        query: query.to_string(),
        keep_alive: !connection_close && !has_body,
    };
    Some((request, http_1_1, has_host))
}

/// RFC 7230 token characters (method and header names).
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Origin form `/path?query`, or absolute form `http://host/path?query`; the fragment is
/// dropped. Returns the decoded path and the raw query.
fn split_target(target: &str) -> Option<(String, &str)> {
    let target = target.split('#').next().unwrap_or_default();
    let target = match target.split_once("://") {
        Some((_scheme, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
        None => target,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = if path.is_empty() { "/" } else { path };
    if !path.starts_with('/') {
        return None;
    }
    let path = String::from_utf8(percent_decode(path, false)?).ok()?;
    Some((path, query))
}

/// Decodes `%XX` escapes (and `+` as a space in query components); `None` on a bad escape.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes.get(index + 1..index + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                index += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    Some(out)
}

/// The value of the first `name=value` pair in `query`, decoded as Go's `URL.Query().Get`
/// does (pairs with a bad escape or a `;` are skipped); empty when absent.
pub fn query_value(query: &str, name: &str) -> String {
    for pair in query.split('&') {
        if pair.contains(';') {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(key), Some(value)) = (percent_decode(key, true), percent_decode(value, true))
        else {
            continue;
        };
        if key == name.as_bytes() {
            return String::from_utf8_lossy(&value).into_owned();
        }
    }
    String::new()
}

/// A response status and body; the headers follow from the kind, in the order nats-server's
/// Go HTTP server writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    kind: Kind,
    pub body: Vec<u8>,
}

/// Which header set a response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A handler's answer: `Content-Type` set before the body (JSON, HTML, metrics).
    Content(&'static str),
    /// A handler's error text written after `WriteHeader`: type sniffed by Go, last.
    HandlerError,
    /// `http.Error`/`NotFound` style: plain text with `nosniff`.
    ServerError,
}

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

impl Response {
    pub fn json(body: Vec<u8>) -> Response {
        Response {
            status: 200,
            kind: Kind::Content("application/json"),
            body,
        }
    }

    pub fn html(body: Vec<u8>) -> Response {
        Response {
            status: 200,
            kind: Kind::Content("text/html; charset=utf-8"),
            body,
        }
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn prometheus(body: Vec<u8>) -> Response {
        Response {
            status: 200,
            kind: Kind::Content("text/plain; version=0.0.4; charset=utf-8"),
            body,
        }
    }

    /// 400 with nats-server's message for a bad query parameter.
    pub fn bad_query(text: String) -> Response {
        Response {
            status: 400,
            kind: Kind::HandlerError,
            body: text.into_bytes(),
        }
    }

    pub fn not_found() -> Response {
        Response::server_error(404, "404 page not found\n")
    }

    /// Monitoring answers GET and HEAD only.
    pub fn method_not_allowed() -> Response {
        Response::server_error(405, "Method Not Allowed\n")
    }

    /// A core did not answer a snapshot request in time.
    pub fn unavailable(text: &str) -> Response {
        Response::server_error(503, &format!("{text}\n"))
    }

    pub fn for_error(error: RequestError) -> Response {
        match error {
            RequestError::HeadTooLarge => {
                Response::server_error(431, "431 Request Header Fields Too Large")
            }
            RequestError::Malformed => Response::server_error(400, "400 Bad Request"),
            RequestError::MissingHost => {
                Response::server_error(400, "400 Bad Request: missing required Host header")
            }
        }
    }

    fn server_error(status: u16, text: &str) -> Response {
        Response {
            status,
            kind: Kind::ServerError,
            body: text.as_bytes().to_vec(),
        }
    }

    /// Appends the whole response. `date` is the `Date` header value; `head_only` leaves
    /// out the body (HEAD); `close` adds `Connection: close`.
    pub fn encode(&self, out: &mut Vec<u8>, date: &str, head_only: bool, close: bool) {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            503 => "Service Unavailable",
            _ => "Error",
        };
        let length = self.body.len();
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        match self.kind {
            Kind::Content(content_type) => {
                head += &format!(
                    "Content-Type: {content_type}\r\nDate: {date}\r\nContent-Length: {length}\r\n"
                );
            }
            Kind::HandlerError => {
                head += &format!(
                    "Date: {date}\r\nContent-Length: {length}\r\nContent-Type: {TEXT_PLAIN}\r\n"
                );
            }
            Kind::ServerError => {
                head += &format!(
                    "Content-Type: {TEXT_PLAIN}\r\nX-Content-Type-Options: nosniff\r\n\
                     Date: {date}\r\nContent-Length: {length}\r\n"
                );
                if self.status == 405 {
                    head += "Allow: GET, HEAD\r\n";
                }
            }
        }
        if close {
            head += "Connection: close\r\n";
        }
        head += "\r\n";
        out.extend_from_slice(head.as_bytes());
        if !head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> (Vec<Next>, RequestReader) {
        let mut reader = RequestReader::default();
        reader.feed(bytes);
        let mut out = Vec::new();
        loop {
            match reader.next_request() {
                Next::Incomplete => return (out, reader),
                next => {
                    let invalid = matches!(next, Next::Invalid(_));
                    out.push(next);
                    if invalid {
                        return (out, reader);
                    }
                }
            }
        }
    }

    fn request(method: &str, path: &str, query: &str, keep_alive: bool) -> Next {
        Next::Request(Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            keep_alive,
        })
    }

    #[test]
    fn heads_split_at_every_byte_give_the_same_requests() {
        let wire = b"GET /connz?subs=1&sort=cid HTTP/1.1\r\nHost: x\r\n\r\n\
                     HEAD /varz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let expected = vec![
            request("GET", "/connz", "subs=1&sort=cid", true),
            request("HEAD", "/varz", "", false),
        ];
        for split in 0..=wire.len() {
            let mut reader = RequestReader::default();
            let mut got = Vec::new();
            for part in [&wire[..split], &wire[split..]] {
                reader.feed(part);
                while let Next::Request(r) = reader.next_request() {
                    got.push(Next::Request(r));
                }
            }
            assert_eq!(got, expected, "split at {split}");
            assert!(!reader.has_partial());
        }
    }

    #[test]
    fn versions_connection_header_and_bodies_decide_keep_alive() {
        let (got, _) = read_all(b"GET /healthz HTTP/1.0\r\n\r\n");
        assert_eq!(got, [request("GET", "/healthz", "", false)]);
        let (got, _) = read_all(b"GET /healthz HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert_eq!(got, [request("GET", "/healthz", "", true)]);
        let (got, _) = read_all(b"POST /varz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
        assert_eq!(got, [request("POST", "/varz", "", false)]);
        let (got, _) = read_all(b"GET /varz HTTP/1.1\nhost:x\nTransfer-Encoding: chunked\n\n");
        assert_eq!(got, [request("GET", "/varz", "", false)]);
        let (got, _) = read_all(b"\r\nGET http://h:8222/var%7a?x#frag HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(got, [request("GET", "/varz", "x", true)]);
        let (got, _) = read_all(b"GET /varz HTTP/1.1\r\n\r\n");
        assert_eq!(got, [Next::Invalid(RequestError::MissingHost)]);
    }

    #[test]
    fn malformed_and_oversized_heads_are_refused() {
        for wire in [
            &b"GET /varz\r\n\r\n"[..],
            b"GET /varz HTTP/2.0\r\n\r\n",
            b"GET varz HTTP/1.1\r\n\r\n",
            b"GET /varz HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n",
            b"G(T /varz HTTP/1.1\r\n\r\n",
            b"GET /%zz HTTP/1.1\r\n\r\n",
        ] {
            let (got, _) = read_all(wire);
            assert_eq!(got, [Next::Invalid(RequestError::Malformed)], "{wire:?}");
        }
        let mut big = b"GET /varz HTTP/1.1\r\nX: ".to_vec();
        big.resize(REQUEST_HEAD_BYTES_MAX, b'a');
        let (got, reader) = read_all(&big);
        assert!(got.is_empty() && reader.has_partial(), "at the limit: wait");
        big.push(b'a');
        let (got, _) = read_all(&big);
        assert_eq!(got, [Next::Invalid(RequestError::HeadTooLarge)]);
    }

    #[test]
    fn query_values_decode_like_go() {
        let query = "subs=detail&sort=msgs_to&name=a%20b+c&bad=%zz&x;y=1&subs=1";
        assert_eq!(query_value(query, "subs"), "detail");
        assert_eq!(query_value(query, "name"), "a b c");
        assert_eq!(query_value(query, "bad"), "");
        assert_eq!(query_value(query, "missing"), "");
        assert_eq!(query_value("flag", "flag"), "");
    }

    #[test]
    fn responses_carry_go_headers_in_go_order() {
        let date = "Sun, 22 Nov 2026 07:04:47 GMT";
        let mut out = Vec::new();
        Response::json(b"{\"status\":\"ok\"}".to_vec()).encode(&mut out, date, false, false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
             Date: Sun, 22 Nov 2026 07:04:47 GMT\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}"
        );
        let mut out = Vec::new();
        Response::not_found().encode(&mut out, date, false, false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\
             X-Content-Type-Options: nosniff\r\nDate: Sun, 22 Nov 2026 07:04:47 GMT\r\n\
             Content-Length: 19\r\n\r\n404 page not found\n"
        );
        let mut out = Vec::new();
        Response::bad_query("invalid sorting option: x".into()).encode(&mut out, date, true, true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 400 Bad Request\r\nDate: Sun, 22 Nov 2026 07:04:47 GMT\r\n\
             Content-Length: 25\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Connection: close\r\n\r\n"
        );
    }
}
