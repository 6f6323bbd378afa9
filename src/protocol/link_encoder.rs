//! What a server writes on a link (spec beyond-core §B.3, §B.4 and the route forms): the
//! interest lines and the message lines, in the leaf form (`LS+ foo`, `LMSG foo 2`) or,
//! given the account, the route form (`RS+ $G foo`, `RMSG $G foo 2`).

/// Appends `LS+ subject`, `LS+ subject queue weight`, or the `LS-` forms (`count` 0); with
/// `account`, the `RS+`/`RS-` forms naming it.
pub fn interest_line(
    out: &mut Vec<u8>,
    account: Option<&str>,
    pattern: &[u8],
    queue: Option<&[u8]>,
    count: u32,
) {
    out.extend_from_slice(match (account.is_some(), count > 0) {
        (false, true) => b"LS+ ",
        (false, false) => b"LS- ",
        (true, true) => b"RS+ ",
        (true, false) => b"RS- ",
    });
    if let Some(account) = account {
        out.extend_from_slice(account.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(pattern);
    if let Some(queue) = queue {
        out.push(b' ');
        out.extend_from_slice(queue);
        if count > 0 {
            out.push(b' ');
            super::encoder::put_usize(out, count as usize);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a message line: `LMSG`/`RMSG` (or `HMSG` with `header_size`), the account on a
/// route, the subject, then `reply`, `+ reply queues` or `| queues` (`queues`: the groups
/// the link was chosen for, blank-separated; empty: a plain delivery), then the sizes.
pub fn message_line(
    out: &mut Vec<u8>,
    account: Option<&str>,
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: &[u8],
    header_size: Option<&[u8]>,
    total_size: &[u8],
) {
    out.extend_from_slice(match (header_size.is_some(), account.is_some()) {
        (true, _) => b"HMSG ",
        (false, false) => b"LMSG ",
        (false, true) => b"RMSG ",
    });
    if let Some(account) = account {
        out.extend_from_slice(account.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(subject);
    match (reply, queues.is_empty()) {
        (Some(reply), true) => {
            out.push(b' ');
            out.extend_from_slice(reply);
        }
        (None, true) => {}
        (Some(reply), false) => {
            out.extend_from_slice(b" + ");
            out.extend_from_slice(reply);
            out.push(b' ');
            out.extend_from_slice(queues);
        }
        (None, false) => {
            out.extend_from_slice(b" | ");
            out.extend_from_slice(queues);
        }
    }
    if let Some(header_size) = header_size {
        out.push(b' ');
        out.extend_from_slice(header_size);
    }
    out.push(b' ');
    out.extend_from_slice(total_size);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interest(account: Option<&str>, queue: Option<&[u8]>, count: u32) -> String {
        let mut out = Vec::new();
        interest_line(&mut out, account, b"foo.*", queue, count);
        String::from_utf8(out).unwrap()
    }

    fn message(
        account: Option<&str>,
        reply: Option<&[u8]>,
        queues: &[u8],
        header: Option<&[u8]>,
    ) -> String {
        let mut out = Vec::new();
        message_line(&mut out, account, b"foo", reply, queues, header, b"14");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn interest_lines_of_both_link_kinds() {
        assert_eq!(interest(None, None, 1), "LS+ foo.*\r\n");
        assert_eq!(interest(None, None, 0), "LS- foo.*\r\n");
        assert_eq!(interest(None, Some(b"q"), 3), "LS+ foo.* q 3\r\n");
        assert_eq!(interest(None, Some(b"q"), 0), "LS- foo.* q\r\n");
        assert_eq!(interest(Some("$G"), None, 2), "RS+ $G foo.*\r\n");
        assert_eq!(
            interest(Some("$G"), Some(b"q"), 12),
            "RS+ $G foo.* q 12\r\n"
        );
        assert_eq!(interest(Some("A"), Some(b"q"), 0), "RS- A foo.* q\r\n");
    }

    #[test]
    fn message_lines_of_both_link_kinds() {
        assert_eq!(message(None, None, b"", None), "LMSG foo 14\r\n");
        assert_eq!(message(None, Some(b"r"), b"", None), "LMSG foo r 14\r\n");
        assert_eq!(
            message(None, Some(b"r"), b"a b", None),
            "LMSG foo + r a b 14\r\n"
        );
        assert_eq!(
            message(None, None, b"a", Some(b"12")),
            "HMSG foo | a 12 14\r\n"
        );
        assert_eq!(message(Some("$G"), None, b"", None), "RMSG $G foo 14\r\n");
        assert_eq!(
            message(Some("$G"), Some(b"r"), b"q", Some(b"12")),
            "HMSG $G foo + r q 12 14\r\n"
        );
    }
}
