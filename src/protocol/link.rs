//! The operation set of a server-to-server link: `CONNECT`, `INFO`, `PING`, `PONG`, `+OK`,
//! `-ERR`, then, on a leaf node connection, `LS+`, `LS-`, `LMSG` and `HMSG` in their leaf
//! forms (spec beyond-core §B.3, §B.4); on a cluster route, `RS+`, `RS-`, `LS+`, `LS-`
//! (interest a peer has from its leaf nodes: `LS+ origin $G foo`, and `LS-  $G foo` whose
//! origin is left empty), `RMSG`, `HMSG` and `LMSG` (a message a peer has from its leaf
//! nodes: `LMSG origin $G foo 0 5`, header size always given), each naming the account
//! (`RS+ $G foo`, `RMSG $G foo reply 5`).
//!
//! CONTRACT (used by `broker::leaf`):
//! - `LinkParser::parse(input, on_op)` consumes all of `input`, calling `on_op` once per
//!   complete operation, in order; the result is the same however a stream is split.
//! - Frames wholly inside `input` are emitted borrowing it; only a frame cut by the end of
//!   `input` is copied into the carry buffer (bounded by `max_control_line` for a line and
//!   `max_payload` for a message).
//! - A protocol error is returned once; the parser must not be used again.
//! - `parse_some` stops after an operation its callback refuses to go on from, and says
//!   how many bytes it consumed; the caller gives the rest again later (a paused link).
//!
//! Links are few and their input is mostly messages, so this parser finds line ends with
//! `memchr` instead of stepping the client parser's byte state machine: the client path
//! pays nothing for it.

use memchr::memchr;

use super::parser::{ParseError, ParserLimits};

/// One operation received on a link. Byte fields are as on the wire (no CR/LF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOp<'a> {
    Connect(&'a [u8]),
    Info(&'a [u8]),
    Ping,
    Pong,
    Ok,
    /// `-ERR <text>`, the text verbatim (quotes included).
    Err(&'a [u8]),
    /// `LS+ subject` or `LS+ subject queue weight`; on a route `RS+`/`LS+` with the
    /// account first.
    Subscribe {
        account: Option<&'a [u8]>,
        subject: &'a [u8],
        queue: Option<(&'a [u8], u32)>,
        /// A route's `LS+`: the cluster of the leaf the interest comes from.
        origin: Option<&'a [u8]>,
    },
    /// `LS- subject [queue]`; on a route `RS-`/`LS-` with the account first.
    Unsubscribe {
        account: Option<&'a [u8]>,
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
    },
    /// `LMSG`/`HMSG` in any of the four leaf forms.
    Message(LinkMessage<'a>),
}

/// A message from a link: `LMSG subject [reply] size`, `LMSG subject | q.. size`,
/// `LMSG subject + reply q.. size`; HMSG adds the header size before the total size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkMessage<'a> {
    /// A route's `LMSG origin ...`: the cluster of the leaf the message comes from.
    pub origin: Option<&'a [u8]>,
    /// The account, on a route (`RMSG $G ...`); `None` on a leaf link.
    pub account: Option<&'a [u8]>,
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The queue names, separated by blanks (empty: none).
    pub queues: &'a [u8],
    /// HMSG's header size field verbatim; `None` for LMSG.
    pub header_size: Option<&'a [u8]>,
    /// The size (LMSG) or total size (HMSG) field verbatim.
    pub total_size: &'a [u8],
    pub header_len: usize,
    /// Headers then payload.
    pub message: &'a [u8],
}

impl<'a> LinkMessage<'a> {
    /// The queue groups named by the sender, one copy each.
    pub fn queue_names(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.queues
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|name| !name.is_empty())
    }
}

/// Where a frame cut by the end of an input stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carry {
    /// Nothing carried.
    None,
    /// Part of a control line.
    Line,
    /// A whole LMSG/HMSG control line (its length in `carry`) and part of its message; the
    /// message needs this many more bytes, CRLF included.
    Message { line_len: usize, message_len: usize },
}

/// Which link's operation set a parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// A leaf node connection: `LS+`/`LS-`/`LMSG`/`HMSG` without an account.
    Leaf,
    /// A cluster route: `RS+`/`RS-`/`LS+`/`LS-`/`RMSG`/`HMSG` with the account first.
    Route,
}

/// The link parser: one per link connection.
#[derive(Debug)]
pub struct LinkParser {
    dialect: Dialect,
    limits: ParserLimits,
    carry: Vec<u8>,
    state: Carry,
}

impl LinkParser {
    pub fn new(limits: ParserLimits) -> LinkParser {
        LinkParser::with_dialect(Dialect::Leaf, limits)
    }

    pub fn with_dialect(dialect: Dialect, limits: ParserLimits) -> LinkParser {
        LinkParser {
            dialect,
            limits,
            carry: Vec::new(),
            state: Carry::None,
        }
    }

    /// Bytes carried between calls.
    pub fn buffered(&self) -> usize {
        self.carry.len()
    }

    /// Parses all of `input`; see the module contract.
    pub fn parse<F>(&mut self, input: &[u8], mut on_op: F) -> Result<(), ParseError>
    where
        F: FnMut(LinkOp<'_>),
    {
        self.parse_some(input, |op| {
            on_op(op);
            true
        })
        .map(|_| ())
    }

    /// Like [`LinkParser::parse`], but stops after an operation for which `on_op` returns
    /// false (a link whose reading is paused): returns how many bytes of `input` it
    /// consumed; the rest is to be given again, from its start, by a later call.
    pub fn parse_some<F>(&mut self, mut input: &[u8], mut on_op: F) -> Result<usize, ParseError>
    where
        F: FnMut(LinkOp<'_>) -> bool,
    {
        let total = input.len();
        if self.state != Carry::None {
            let (rest, go) = self.finish_carried(input, &mut on_op)?;
            input = rest;
            if !go {
                return Ok(total - input.len());
            }
        }
        while !input.is_empty() {
            let Some(line_end) = memchr(b'\n', input) else {
                self.check_line_length(input.len())?;
                self.carry.extend_from_slice(input);
                self.state = Carry::Line;
                return Ok(total);
            };
            self.check_line_length(line_end)?;
            let line = trim_cr(&input[..line_end]);
            match message_head(line, self.dialect, self.limits)? {
                None => {
                    let go = on_op(parse_line(line, self.dialect)?);
                    input = &input[line_end + 1..];
                    if !go {
                        return Ok(total - input.len());
                    }
                }
                Some(head) => {
                    let message_len = head.total;
                    let start = line_end + 1;
                    let end = start + message_len + 2;
                    if input.len() >= end {
                        check_crlf(&input[end - 2..end])?;
                        let message = &input[start..start + message_len];
                        let go = on_op(LinkOp::Message(head.with(message)));
                        input = &input[end..];
                        if !go {
                            return Ok(total - input.len());
                        }
                    } else {
                        self.carry.clear();
                        self.carry.extend_from_slice(line);
                        self.carry.extend_from_slice(&input[start..]);
                        self.state = Carry::Message {
                            line_len: line.len(),
                            message_len,
                        };
                        return Ok(total);
                    }
                }
            }
        }
        Ok(total)
    }

    fn check_line_length(&self, len: usize) -> Result<(), ParseError> {
        if len > self.limits.max_control_line + 1 {
            Err(ParseError::MaxControlLine)
        } else {
            Ok(())
        }
    }

    /// Completes the carried frame from the start of `input`; returns the rest of `input`
    /// and whether to go on (what `on_op` said of the completed frame).
    fn finish_carried<'i, F>(
        &mut self,
        input: &'i [u8],
        on_op: &mut F,
    ) -> Result<(&'i [u8], bool), ParseError>
    where
        F: FnMut(LinkOp<'_>) -> bool,
    {
        match self.state {
            Carry::None => Ok((input, true)),
            Carry::Line => {
                let Some(line_end) = memchr(b'\n', input) else {
                    self.check_line_length(self.carry.len() + input.len())?;
                    self.carry.extend_from_slice(input);
                    return Ok((&input[input.len()..], true));
                };
                self.check_line_length(self.carry.len() + line_end)?;
                self.carry.extend_from_slice(&input[..=line_end]);
                let rest = &input[line_end + 1..];
                // Re-parse the whole carried line (it may announce a message whose bytes
                // follow in `rest`): hand it back as the head of a fresh input.
                let mut joined = std::mem::take(&mut self.carry);
                self.state = Carry::None;
                let line_len = joined.len();
                let line = trim_cr(&joined[..line_len - 1]);
                let outcome = match message_head(line, self.dialect, self.limits)? {
                    None => {
                        let go = on_op(parse_line(line, self.dialect)?);
                        Ok((rest, go))
                    }
                    Some(Head {
                        total: message_len, ..
                    }) => {
                        let line_len = line.len();
                        joined.truncate(line_len);
                        self.carry = joined;
                        self.state = Carry::Message {
                            line_len,
                            message_len,
                        };
                        return self.finish_carried(rest, on_op);
                    }
                };
                joined.clear();
                self.carry = joined;
                outcome
            }
            Carry::Message {
                line_len,
                message_len,
            } => {
                let have = self.carry.len() - line_len;
                let need = message_len + 2 - have;
                let take = need.min(input.len());
                self.carry.extend_from_slice(&input[..take]);
                if take < need {
                    return Ok((&input[input.len()..], true));
                }
                let (line, body) = self.carry.split_at(line_len);
                check_crlf(&body[message_len..])?;
                let head = message_head(line, self.dialect, self.limits)?
                    .ok_or(ParseError::ProtocolViolation)?;
                let go = on_op(LinkOp::Message(head.with(&body[..message_len])));
                self.carry.clear();
                if self.carry.capacity() > 64 * 1024 {
                    self.carry = Vec::new();
                }
                self.state = Carry::None;
                Ok((&input[take..], go))
            }
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn check_crlf(bytes: &[u8]) -> Result<(), ParseError> {
    if bytes == b"\r\n" {
        Ok(())
    } else {
        Err(ParseError::ProtocolViolation)
    }
}

/// Splits a line into its verb (upper-cased comparison) and argument.
fn verb(line: &[u8]) -> (&[u8], &[u8]) {
    let line = trim_blanks(line);
    match line.iter().position(|&b| b == b' ' || b == b'\t') {
        Some(at) => (&line[..at], trim_blanks(&line[at + 1..])),
        None => (line, &[][..]),
    }
}

fn trim_blanks(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |at| at + 1);
    &bytes[start..end]
}

/// Splits off the first blank-separated field: (field, rest trimmed).
fn first_field(argument: &[u8]) -> (&[u8], &[u8]) {
    let argument = trim_blanks(argument);
    match argument.iter().position(|&b| b == b' ' || b == b'\t') {
        Some(at) => (&argument[..at], trim_blanks(&argument[at + 1..])),
        None => (argument, &[][..]),
    }
}

/// Splits off the last blank-separated field: (rest trimmed, field).
fn last_field(argument: &[u8]) -> (&[u8], &[u8]) {
    let argument = trim_blanks(argument);
    match argument.iter().rposition(|&b| b == b' ' || b == b'\t') {
        Some(at) => (trim_blanks(&argument[..at]), &argument[at + 1..]),
        None => (&[][..], argument),
    }
}

/// An LMSG/RMSG/HMSG line's parts: (names part, header size field, total size field,
/// whether the names part starts with an origin cluster); on a route the names part
/// starts with the account, after the origin of a leaf-origin `LMSG`.
type MessageFields<'a> = (&'a [u8], Option<&'a [u8]>, &'a [u8], bool);

fn message_fields(line: &[u8], dialect: Dialect) -> Option<MessageFields<'_>> {
    let (verb, argument) = verb(line);
    let plain = match dialect {
        Dialect::Leaf => &b"LMSG"[..],
        Dialect::Route => &b"RMSG"[..],
    };
    // On a route, `LMSG origin account subject ... header total` carries a message a peer
    // has from its leaf nodes; its header size is always there, `0` without headers.
    let leaf_origin = dialect == Dialect::Route && verb.eq_ignore_ascii_case(b"LMSG");
    let headers = if verb.eq_ignore_ascii_case(plain) {
        false
    } else if verb.eq_ignore_ascii_case(b"HMSG") || leaf_origin {
        true
    } else {
        return None;
    };
    let (rest, total) = last_field(argument);
    if !headers {
        return Some((rest, None, total, false));
    }
    let (rest, header) = last_field(rest);
    let header = (!(leaf_origin && header == b"0")).then_some(header);
    Some((rest, header, total, leaf_origin))
}

/// A message line's fields, checked against the limits: all of the operation but the
/// message bytes, which follow the line.
struct Head<'a> {
    origin: Option<&'a [u8]>,
    account: Option<&'a [u8]>,
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    queues: &'a [u8],
    header_size: Option<&'a [u8]>,
    total_size: &'a [u8],
    /// The message's length (headers and payload) and its header length.
    total: usize,
    header: usize,
}

impl<'a> Head<'a> {
    fn with(self, message: &'a [u8]) -> LinkMessage<'a> {
        LinkMessage {
            origin: self.origin,
            account: self.account,
            subject: self.subject,
            reply: self.reply,
            queues: self.queues,
            header_size: self.header_size,
            total_size: self.total_size,
            header_len: self.header,
            message,
        }
    }
}

/// A message line's head, split once; `None` for a line of another verb.
fn message_head(
    line: &[u8],
    dialect: Dialect,
    limits: ParserLimits,
) -> Result<Option<Head<'_>>, ParseError> {
    let Some((names, header_size, total_size, leaf_origin)) = message_fields(line, dialect) else {
        return Ok(None);
    };
    if names.is_empty() || total_size.is_empty() || header_size.is_some_and(<[u8]>::is_empty) {
        return Err(ParseError::ProtocolViolation);
    }
    let total = size(total_size)?;
    let header = header_size.map(size).transpose()?.unwrap_or(0);
    if header > total {
        return Err(ParseError::ProtocolViolation);
    }
    if total > limits.max_payload {
        return Err(ParseError::MaxPayload);
    }
    let (origin, names) = if leaf_origin {
        let (origin, rest) = first_field(names);
        (Some(origin), rest)
    } else {
        (None, names)
    };
    let (account, names) = match dialect {
        Dialect::Leaf => (None, names),
        Dialect::Route => {
            let (account, rest) = first_field(names);
            (Some(account), rest)
        }
    };
    let (subject, rest) = first_field(names);
    if subject.is_empty() {
        return Err(ParseError::ProtocolViolation);
    }
    let (second, after) = first_field(rest);
    let (reply, queues) = match second {
        b"" => (None, &[][..]),
        b"|" if !after.is_empty() => (None, after),
        b"+" => {
            let (reply, queues) = first_field(after);
            if reply.is_empty() || queues.is_empty() {
                return Err(ParseError::ProtocolViolation);
            }
            (Some(reply), queues)
        }
        b"|" => return Err(ParseError::ProtocolViolation),
        _ if after.is_empty() => (Some(second), &[][..]),
        _ => return Err(ParseError::ProtocolViolation),
    };
    Ok(Some(Head {
        origin,
        account,
        subject,
        reply,
        queues,
        header_size,
        total_size,
        total,
        header,
    }))
}

fn size(field: &[u8]) -> Result<usize, ParseError> {
    super::parse_size(field).ok_or(ParseError::ProtocolViolation)
}

/// A line that carries no message.
fn parse_line(line: &[u8], dialect: Dialect) -> Result<LinkOp<'_>, ParseError> {
    let (verb, argument) = verb(line);
    let is = |name: &[u8]| verb.eq_ignore_ascii_case(name);
    let route = dialect == Dialect::Route;
    if is(b"PING") {
        Ok(LinkOp::Ping)
    } else if is(b"PONG") {
        Ok(LinkOp::Pong)
    } else if is(b"+OK") {
        Ok(LinkOp::Ok)
    } else if is(b"-ERR") {
        Ok(LinkOp::Err(argument))
    } else if is(b"CONNECT") {
        Ok(LinkOp::Connect(argument))
    } else if is(b"INFO") {
        Ok(LinkOp::Info(argument))
    } else if is(b"LS+") || (route && is(b"RS+")) {
        // On a route, `LS+` (interest a peer has from its leaf nodes) names the leaf's
        // cluster first: `LS+ origin account subject [queue weight]`.
        let (origin, argument) = if route && is(b"LS+") {
            let (origin, rest) = first_field(argument);
            (Some(origin), rest)
        } else {
            (None, argument)
        };
        let (account, argument) = account_field(argument, dialect)?;
        let (subject, rest) = first_field(argument);
        let (queue, rest) = first_field(rest);
        let (weight, rest) = first_field(rest);
        match (
            subject.is_empty(),
            queue.is_empty(),
            weight.is_empty(),
            rest.is_empty(),
        ) {
            (false, true, true, true) => Ok(LinkOp::Subscribe {
                account,
                subject,
                queue: None,
                origin,
            }),
            (false, false, false, true) => {
                let weight = super::parse_size(weight).ok_or(ParseError::ProtocolViolation)?;
                Ok(LinkOp::Subscribe {
                    account,
                    subject,
                    queue: Some((queue, weight.min(u32::MAX as usize) as u32)),
                    origin,
                })
            }
            _ => Err(ParseError::ProtocolViolation),
        }
    } else if is(b"LS-") || (route && is(b"RS-")) {
        let (account, argument) = account_field(argument, dialect)?;
        let (subject, rest) = first_field(argument);
        let (queue, rest) = first_field(rest);
        if subject.is_empty() || !rest.is_empty() {
            return Err(ParseError::ProtocolViolation);
        }
        Ok(LinkOp::Unsubscribe {
            account,
            subject,
            queue: (!queue.is_empty()).then_some(queue),
        })
    } else {
        Err(ParseError::UnknownOperation)
    }
}

/// On a route, splits off the account that starts an interest line.
fn account_field(argument: &[u8], dialect: Dialect) -> Result<(Option<&[u8]>, &[u8]), ParseError> {
    match dialect {
        Dialect::Leaf => Ok((None, argument)),
        Dialect::Route => {
            let (account, rest) = first_field(argument);
            if account.is_empty() {
                return Err(ParseError::ProtocolViolation);
            }
            Ok((Some(account), rest))
        }
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
