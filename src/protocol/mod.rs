//! The NATS client protocol as bytes: a parser for what clients send, an encoder for what the
//! server sends, and the CONNECT/INFO JSON. No IO and no per-message allocation.
//!
//! Wire behaviour follows nats-server 2.9.10 (../shared/spec/nats-protocol.md §1–§3, §7, §9).

pub mod connect;
pub mod encoder;
pub mod link;
pub mod link_encoder;
pub mod parser;

pub use connect::{ConnectError, ConnectOptions, DecodedConnect, ServerInfo};
pub use parser::{ClientOp, ParseError, Parser, ParserLimits};

/// Parses a size or count field the way nats-server does: 1 to 9 ASCII digits, leading zeros
/// allowed; anything else (empty, a sign, other bytes, 10 or more digits) is `None`.
pub fn parse_size(bytes: &[u8]) -> Option<usize> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    let mut n = 0usize;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"005"), Some(5));
        assert_eq!(parse_size(b"999999999"), Some(999_999_999));
        assert_eq!(parse_size(b"1234567890"), None);
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"-1"), None);
        assert_eq!(parse_size(b"+1"), None);
        assert_eq!(parse_size(b"1a"), None);
    }
}
