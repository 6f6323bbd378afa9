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
    put_message_prefix(out, b"MSG ", subject, sid, reply);
    out.extend_from_slice(size);
    out.extend_from_slice(CRLF);
}

/// Appends `MSG <subject> <sid> [reply] <size>\r\n` with a numeric size.
pub fn msg_line_len(
    out: &mut Vec<u8>,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    size: usize,
) {
    put_message_prefix(out, b"MSG ", subject, sid, reply);
    put_usize(out, size);
    out.extend_from_slice(CRLF);
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
    put_message_prefix(out, b"HMSG ", subject, sid, reply);
    out.extend_from_slice(header_size);
    out.push(b' ');
    out.extend_from_slice(total_size);
    out.extend_from_slice(CRLF);
}

/// Appends `-ERR '<text>'\r\n`, for texts built at run time (permission errors later).
pub fn err_line(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"-ERR '");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"'\r\n");
}

/// Appends the decimal form of `n` (no allocation).
pub fn put_usize(out: &mut Vec<u8>, n: usize) {
    // usize::MAX has 20 decimal digits on 64-bit targets.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Appends `<op><subject> <sid> [reply ]`: everything up to the size fields, one space apart.
fn put_message_prefix(
    out: &mut Vec<u8>,
    op: &[u8],
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
) {
    out.extend_from_slice(op);
    out.extend_from_slice(subject);
    out.push(b' ');
    out.extend_from_slice(sid);
    out.push(b' ');
    if let Some(reply) = reply {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = b"prefix|".to_vec();
        write(&mut out);
        out
    }

    #[test]
    fn msg_lines_echo_the_size_field_verbatim() {
        assert_eq!(
            encoded(|out| msg_line(out, b"foo", b"1", None, b"005")),
            b"prefix|MSG foo 1 005\r\n"
        );
        assert_eq!(
            encoded(|out| msg_line(out, b"a.b", b"1", Some(b"r"), b"5")),
            b"prefix|MSG a.b 1 r 5\r\n"
        );
    }

    #[test]
    fn msg_line_with_numeric_size() {
        assert_eq!(
            encoded(|out| msg_line_len(out, b"h", b"1", None, 5)),
            b"prefix|MSG h 1 5\r\n"
        );
        assert_eq!(
            encoded(|out| msg_line_len(out, b"h", b"x", Some(b"_INBOX.1"), 1_048_576)),
            b"prefix|MSG h x _INBOX.1 1048576\r\n"
        );
    }

    #[test]
    fn hmsg_lines() {
        assert_eq!(
            encoded(|out| hmsg_line(out, b"h", b"3", None, b"22", b"27")),
            b"prefix|HMSG h 3 22 27\r\n"
        );
        assert_eq!(
            encoded(|out| hmsg_line(out, b"h", b"3", Some(b"r.1"), b"22", b"27")),
            b"prefix|HMSG h 3 r.1 22 27\r\n"
        );
        let mut no_responders = Vec::new();
        hmsg_line(&mut no_responders, b"_INBOX.abc", b"7", None, b"16", b"16");
        no_responders.extend_from_slice(NO_RESPONDERS_HEADER);
        no_responders.extend_from_slice(CRLF);
        assert_eq!(
            no_responders,
            b"HMSG _INBOX.abc 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
        );
        assert_eq!(NO_RESPONDERS_HEADER.len(), 16);
    }

    #[test]
    fn err_lines_quote_the_text() {
        assert_eq!(
            encoded(|out| err_line(out, "Permissions Violation for Publish to \"ok.no\"")),
            b"prefix|-ERR 'Permissions Violation for Publish to \"ok.no\"'\r\n"
        );
        let mut unknown = Vec::new();
        err_line(&mut unknown, "Unknown Protocol Operation");
        assert_eq!(unknown, err::UNKNOWN_OPERATION);
    }

    #[test]
    fn decimal_numbers() {
        for (n, text) in [
            (0, "0"),
            (7, "7"),
            (10, "10"),
            (999_999_999, "999999999"),
            (usize::MAX, "18446744073709551615"),
        ] {
            assert_eq!(
                encoded(|out| put_usize(out, n)),
                format!("prefix|{text}").as_bytes()
            );
        }
    }

    #[test]
    fn put_usize_does_not_allocate_when_capacity_suffices() {
        let mut out = Vec::with_capacity(32);
        let pointer = out.as_ptr();
        put_usize(&mut out, usize::MAX);
        assert_eq!(out.as_ptr(), pointer);
        assert_eq!(out.capacity(), 32);
    }
}
