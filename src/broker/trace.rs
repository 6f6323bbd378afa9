//! Trace lines (`-V`): a client operation as nats-server prints it, with CONNECT's
//! password redacted.

use crate::protocol::ClientOp;

/// A client operation as nats-server's `-V` trace shows it: the control line, no payload.
pub(super) struct TracedOp<'a, 'b>(pub(super) &'a ClientOp<'b>);

impl std::fmt::Display for TracedOp<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let optional =
            |bytes: Option<&[u8]>| bytes.map(|b| format!("{} ", text(b))).unwrap_or_default();
        match *self.0 {
            ClientOp::Connect(json) => write!(f, "CONNECT {}", redact_password(&text(json))),
            ClientOp::Pub {
                subject,
                reply,
                size,
                ..
            } => {
                write!(f, "PUB {} {}{}", text(subject), optional(reply), text(size))
            }
            ClientOp::Hpub {
                subject,
                reply,
                header_size,
                total_size,
                ..
            } => write!(
                f,
                "HPUB {} {}{} {}",
                text(subject),
                optional(reply),
                text(header_size),
                text(total_size)
            ),
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => {
                write!(f, "SUB {} {}{}", text(subject), optional(queue), text(sid))
            }
            ClientOp::Unsub { sid, max } => match max {
                Some(max) => write!(f, "UNSUB {} {}", text(sid), text(max)),
                None => write!(f, "UNSUB {}", text(sid)),
            },
            ClientOp::Ping => f.write_str("PING"),
            ClientOp::Pong => f.write_str("PONG"),
            ClientOp::Info(json) => write!(f, "INFO {}", text(json)),
            ClientOp::Ok => f.write_str("+OK"),
        }
    }
}

/// The CONNECT trace without the password: nats-server replaces the value of the first
/// `pass…` key (`"pass":"[REDACTED]"`); tokens and signatures it leaves, and so do we.
pub(super) fn redact_password(json: &str) -> std::borrow::Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut from = 0;
    while let Some(found) = json[from..].find("pass") {
        let key_end = from + found + 4;
        // nats-server's pattern: `pass\S*?"?\s*[:=]\s*"?` then the value up to `",\r\n}`.
        let mut suffix = key_end;
        while suffix <= bytes.len() {
            if let Some(value_start) = value_start_after(bytes, suffix) {
                let value_end = bytes[value_start..]
                    .iter()
                    .position(|b| matches!(b, b'"' | b',' | b'\r' | b'\n' | b'}'))
                    .map_or(bytes.len(), |n| value_start + n);
                let mut redacted = String::with_capacity(json.len());
                redacted.push_str(&json[..value_start]);
                redacted.push_str("[REDACTED]");
                redacted.push_str(&json[value_end..]);
                return std::borrow::Cow::Owned(redacted);
            }
            if suffix == bytes.len() || bytes[suffix].is_ascii_whitespace() {
                break;
            }
            suffix += 1;
        }
        from = key_end;
    }
    std::borrow::Cow::Borrowed(json)
}

/// Where the value starts if `"?\s*[:=]\s*"?` matches at `at`.
fn value_start_after(bytes: &[u8], mut at: usize) -> Option<usize> {
    let skip_spaces = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    if bytes.get(at) == Some(&b'"') {
        at += 1;
    }
    at = skip_spaces(at);
    if !matches!(bytes.get(at), Some(b':' | b'=')) {
        return None;
    }
    at = skip_spaces(at + 1);
    if bytes.get(at) == Some(&b'"') {
        at += 1;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_traces_hide_the_password_as_nats_server_does() {
        let op = ClientOp::Connect(
            br#"{"verbose":false,"user":"u","pass":"secretpw","auth_token":"tok"}"#,
        );
        assert_eq!(
            TracedOp(&op).to_string(),
            r#"CONNECT {"verbose":false,"user":"u","pass":"[REDACTED]","auth_token":"tok"}"#
        );
        assert_eq!(
            redact_password(r#"{"password": "a b","pass":"c"}"#),
            r#"{"password": "[REDACTED]","pass":"c"}"#
        );
        // nats-server's pattern takes any key that starts with "pass".
        assert_eq!(
            redact_password(r#"{"passive":true}"#),
            r#"{"passive":[REDACTED]}"#
        );
        assert_eq!(redact_password(r#"{"user":"x"}"#), r#"{"user":"x"}"#);
    }

    #[test]
    fn traced_ops_read_like_the_control_line() {
        let op = ClientOp::Pub {
            subject: b"foo",
            reply: Some(b"r.1"),
            size: b"005",
            payload: b"hello",
        };
        assert_eq!(TracedOp(&op).to_string(), "PUB foo r.1 005");
        let op = ClientOp::Sub {
            subject: b"a.*",
            queue: None,
            sid: b"7",
        };
        assert_eq!(TracedOp(&op).to_string(), "SUB a.* 7");
        let op = ClientOp::Hpub {
            subject: b"h",
            reply: None,
            header_size: b"12",
            total_size: b"17",
            header_len: 12,
            message: b"NATS/1.0\r\n\r\nhello",
        };
        assert_eq!(TracedOp(&op).to_string(), "HPUB h 12 17");
        let op = ClientOp::Unsub {
            sid: b"7",
            max: Some(b"2"),
        };
        assert_eq!(TracedOp(&op).to_string(), "UNSUB 7 2");
        assert_eq!(TracedOp(&ClientOp::Ping).to_string(), "PING");
    }
}
