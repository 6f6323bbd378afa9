//! What the server writes: MSG/HMSG lines, INFO, PING/PONG, +OK, -ERR.
//!
//! CONTRACT (used by `broker`): every function appends to `out` and allocates only if `out`
//! must grow (callers reuse one scratch `Vec` per core, so steady state allocates nothing).
//! Numbers are formatted without `String`.

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";
pub const CRLF: &[u8] = b"\r\n";

/// The exact -ERR texts of nats-server 2.9.10 (spec §8.2), CRLF included.
pub mod err {
    pub const UNKNOWN_OPERATION: &[u8] = b"-ERR 'Unknown Protocol Operation'\r\n";
    pub const MAX_CONTROL_LINE: &[u8] = b"-ERR 'maximum control line exceeded'\r\n";
    pub const MAX_PAYLOAD: &[u8] = b"-ERR 'Maximum Payload Violation'\r\n";
    pub const MAX_CONNECTIONS: &[u8] = b"-ERR 'maximum connections exceeded'\r\n";
    pub const MAX_SUBSCRIPTIONS: &[u8] = b"-ERR 'maximum subscriptions exceeded'\r\n";
    pub const INVALID_SUBJECT: &[u8] = b"-ERR 'Invalid Subject'\r\n";
    pub const INVALID_PUBLISH_SUBJECT: &[u8] = b"-ERR 'Invalid Publish Subject'\r\n";
    pub const INVALID_PROTOCOL: &[u8] = b"-ERR 'invalid client protocol'\r\n";
    pub const NO_RESPONDERS_NEEDS_HEADERS: &[u8] =
        b"-ERR 'no responders requires headers support'\r\n";
    pub const AUTHORIZATION_VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";
    pub const STALE_CONNECTION: &[u8] = b"-ERR 'Stale Connection'\r\n";
}

/// The status-only header block of a no-responders reply: `NATS/1.0 503\r\n\r\n` (16 bytes).
pub const NO_RESPONDERS_HEADER: &[u8] = b"NATS/1.0 503\r\n\r\n";

/// Appends `MSG <subject> <sid> [reply] <size>\r\n`; `size` is written verbatim.
pub fn msg_line(out: &mut Vec<u8>, subject: &[u8], sid: &[u8], reply: Option<&[u8]>, size: &[u8]) {
    let _ = (out, subject, sid, reply, size);
    todo!("protocol helper")
}

/// Appends `MSG <subject> <sid> [reply] <size>\r\n` with a numeric size.
pub fn msg_line_len(
    out: &mut Vec<u8>,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    size: usize,
) {
    let _ = (out, subject, sid, reply, size);
    todo!("protocol helper")
}

/// Appends `HMSG <subject> <sid> [reply] <hdr> <total>\r\n`; sizes written verbatim.
pub fn hmsg_line(
    out: &mut Vec<u8>,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_size: &[u8],
    total_size: &[u8],
) {
    let _ = (out, subject, sid, reply, header_size, total_size);
    todo!("protocol helper")
}

/// Appends `-ERR '<text>'\r\n`, for texts built at run time (permission errors later).
pub fn err_line(out: &mut Vec<u8>, text: &str) {
    let _ = (out, text);
    todo!("protocol helper")
}

/// Appends the decimal form of `n` (no allocation).
pub fn put_usize(out: &mut Vec<u8>, n: usize) {
    let _ = (out, n);
    todo!("protocol helper")
}
