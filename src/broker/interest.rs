//! Records between cores: interest changes, their acknowledgements, and forwarded messages.
//!
//! Each core keeps, for every other core, a trie of that core's subscription patterns with
//! counts (`remote`), kept current by `InterestAdd`/`InterestDel` records. Every interest
//! change bumps the sending core's *epoch*; the receiver acknowledges the highest epoch it
//! has applied. A connection's PONG is held until every other core has acknowledged the epoch
//! of that connection's last interest change: that is the visibility barrier of DESIGN.md §3.
//!
//! Interest and messages belong to an account: every interest and message record carries the
//! account index, and the receiver applies it to that account's tables only, so subjects never
//! cross accounts. Acknowledgements are per core pair, not per account: epochs count every
//! interest change of the sending core.
//!
//! Records are little-endian and length-prefixed per field; the runtime frames whole records.

use crate::auth::AccountIndex;

/// Record kinds.
const INTEREST_ADD: u8 = 1;
const INTEREST_DEL: u8 = 2;
const ACK: u8 = 3;
const MESSAGE: u8 = 4;
/// Monitoring's records (snapshot requests and replies, closed connections); their body
/// is `broker::monitoring`'s business.
pub const MONITOR: u8 = 5;
/// Interest of a leaf link on the sending core (kept apart: a queue group prefers members
/// that are not behind a link).
const LINK_INTEREST_ADD: u8 = 6;
const LINK_INTEREST_DEL: u8 = 7;
/// The cluster's client URLs changed (core 0 to the others): the URLs, one per line.
const CLUSTER_URLS: u8 = 8;
/// A message shown to subscribers with another subject than the one it was routed by
/// (JetStream deliveries): `MESSAGE`'s fields with that subject after the routed one.
const MESSAGE_AS: u8 = 9;

/// A message forwarded to another core. Byte fields borrow the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardedMessage<'a> {
    pub account: AccountIndex,
    pub subject: &'a [u8],
    /// The subject subscribers see, when it is not `subject` (`routing::Message::deliver_as`).
    pub deliver_as: Option<&'a [u8]>,
    pub reply: Option<&'a [u8]>,
    /// HPUB: header size field verbatim; `None` for PUB.
    pub header_size: Option<&'a [u8]>,
    /// The PUB size / HPUB total size field verbatim.
    pub total_size: &'a [u8],
    pub header_len: usize,
    /// Queue groups this core was chosen to serve, as length-prefixed names.
    queue_names: &'a [u8],
    /// Headers then payload.
    pub message: &'a [u8],
}

impl<'a> ForwardedMessage<'a> {
    /// Queue groups the receiving core must deliver to (one member each).
    pub fn queues(&self) -> QueueNames<'a> {
        QueueNames {
            rest: self.queue_names,
        }
    }
}

/// Iterator over the queue names in a forwarded message.
pub struct QueueNames<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for QueueNames<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = take_u16(self.rest)?;
        let (name, rest) = take(rest, len as usize)?;
        self.rest = rest;
        Some(name)
    }
}

/// One decoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    InterestAdd {
        epoch: u64,
        account: AccountIndex,
        pattern: &'a [u8],
        queue: Option<&'a [u8]>,
        /// The interest is a leaf link's, not a client's.
        link: bool,
    },
    InterestDel {
        epoch: u64,
        account: AccountIndex,
        pattern: &'a [u8],
        queue: Option<&'a [u8]>,
        link: bool,
    },
    /// The sender has applied our interest records up to `epoch`.
    Ack {
        epoch: u64,
    },
    Message(ForwardedMessage<'a>),
    /// Everything after the kind byte of a [`MONITOR`] record.
    Monitor(&'a [u8]),
    /// The cluster's name, then the client URLs of every cluster node (INFO `cluster`
    /// and `connect_urls`), one per line.
    ClusterUrls(&'a [u8]),
}

/// Encodes the cluster's name and client URLs into `out` (cleared first).
pub fn encode_cluster_urls(out: &mut Vec<u8>, name: &str, urls: &[String]) {
    out.clear();
    out.push(CLUSTER_URLS);
    out.extend_from_slice(name.as_bytes());
    for url in urls {
        out.push(b'\n');
        out.extend_from_slice(url.as_bytes());
    }
}

/// Encodes a client's interest record into `out` (cleared first).
#[cfg(test)]
pub fn encode_interest(
    out: &mut Vec<u8>,
    add: bool,
    epoch: u64,
    account: AccountIndex,
    pattern: &[u8],
    queue: Option<&[u8]>,
) {
    encode_any_interest(out, add, false, epoch, account, pattern, queue);
}

/// Encodes an interest record of a client (`link` false) or a leaf link.
pub fn encode_any_interest(
    out: &mut Vec<u8>,
    add: bool,
    link: bool,
    epoch: u64,
    account: AccountIndex,
    pattern: &[u8],
    queue: Option<&[u8]>,
) {
    out.clear();
    out.push(match (add, link) {
        (true, false) => INTEREST_ADD,
        (false, false) => INTEREST_DEL,
        (true, true) => LINK_INTEREST_ADD,
        (false, true) => LINK_INTEREST_DEL,
    });
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(&account.to_le_bytes());
    put_field(out, pattern);
    match queue {
        Some(q) => {
            out.push(1);
            put_field(out, q);
        }
        None => out.push(0),
    }
}

/// Encodes an acknowledgement into `out` (cleared first).
pub fn encode_ack(out: &mut Vec<u8>, epoch: u64) {
    out.clear();
    out.push(ACK);
    out.extend_from_slice(&epoch.to_le_bytes());
}

/// Encodes everything of a forwarded message except the message bytes, which the caller
/// passes as a second part to `send_mail` (no copy of the payload here).
#[allow(clippy::too_many_arguments)]
pub fn encode_message_head(
    out: &mut Vec<u8>,
    account: AccountIndex,
    subject: &[u8],
    deliver_as: Option<&[u8]>,
    reply: Option<&[u8]>,
    header_size: Option<&[u8]>,
    total_size: &[u8],
    header_len: usize,
    queue_names: &[u8],
) {
    out.clear();
    out.push(if deliver_as.is_some() {
        MESSAGE_AS
    } else {
        MESSAGE
    });
    out.extend_from_slice(&account.to_le_bytes());
    put_field(out, subject);
    if let Some(shown) = deliver_as {
        put_field(out, shown);
    }
    put_optional(out, reply);
    put_optional(out, header_size);
    put_field(out, total_size);
    out.extend_from_slice(&(header_len as u32).to_le_bytes());
    out.extend_from_slice(&(queue_names.len() as u32).to_le_bytes());
    out.extend_from_slice(queue_names);
}

/// Appends one queue name in the form `ForwardedMessage::queues` reads.
pub fn push_queue_name(out: &mut Vec<u8>, name: &[u8]) {
    put_field(out, name);
}

/// Decodes a record; `None` means a malformed record (a bug: records are ours).
pub fn decode(record: &[u8]) -> Option<Record<'_>> {
    let (&kind, rest) = record.split_first()?;
    match kind {
        INTEREST_ADD | INTEREST_DEL | LINK_INTEREST_ADD | LINK_INTEREST_DEL => {
            let link = kind == LINK_INTEREST_ADD || kind == LINK_INTEREST_DEL;
            let (epoch, rest) = take_u64(rest)?;
            let (account, rest) = take_u16(rest)?;
            let (pattern, rest) = take_field(rest)?;
            let (&has_queue, rest) = rest.split_first()?;
            let queue = if has_queue == 1 {
                Some(take_field(rest)?.0)
            } else {
                None
            };
            Some(if kind == INTEREST_ADD || kind == LINK_INTEREST_ADD {
                Record::InterestAdd {
                    epoch,
                    account,
                    pattern,
                    queue,
                    link,
                }
            } else {
                Record::InterestDel {
                    epoch,
                    account,
                    pattern,
                    queue,
                    link,
                }
            })
        }
        ACK => Some(Record::Ack {
            epoch: take_u64(rest)?.0,
        }),
        MONITOR => Some(Record::Monitor(rest)),
        CLUSTER_URLS => Some(Record::ClusterUrls(rest)),
        MESSAGE | MESSAGE_AS => {
            let (account, rest) = take_u16(rest)?;
            let (subject, rest) = take_field(rest)?;
            let (deliver_as, rest) = if kind == MESSAGE_AS {
                let (shown, rest) = take_field(rest)?;
                (Some(shown), rest)
            } else {
                (None, rest)
            };
            let (reply, rest) = take_optional(rest)?;
            let (header_size, rest) = take_optional(rest)?;
            let (total_size, rest) = take_field(rest)?;
            let (header_len, rest) = take_u32(rest)?;
            let (names_len, rest) = take_u32(rest)?;
            let (queue_names, message) = take(rest, names_len as usize)?;
            Some(Record::Message(ForwardedMessage {
                account,
                subject,
                deliver_as,
                reply,
                header_size,
                total_size,
                header_len: header_len as usize,
                queue_names,
                message,
            }))
        }
        _ => None,
    }
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    // Subjects, replies and queue names are bounded by max_control_line, far below 64 KiB.
    debug_assert!(bytes.len() <= u16::MAX as usize);
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_optional(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => {
            out.push(1);
            put_field(out, b);
        }
        None => out.push(0),
    }
}

fn take(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= n).then(|| bytes.split_at(n))
}

fn take_u16(bytes: &[u8]) -> Option<(u16, &[u8])> {
    let (head, rest) = take(bytes, 2)?;
    Some((u16::from_le_bytes(head.try_into().ok()?), rest))
}

fn take_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = take(bytes, 4)?;
    Some((u32::from_le_bytes(head.try_into().ok()?), rest))
}

fn take_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = take(bytes, 8)?;
    Some((u64::from_le_bytes(head.try_into().ok()?), rest))
}

fn take_field(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = take_u16(bytes)?;
    take(rest, len as usize)
}

fn take_optional(bytes: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let (&flag, rest) = bytes.split_first()?;
    if flag == 1 {
        let (field, rest) = take_field(rest)?;
        Some((Some(field), rest))
    } else {
        Some((None, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_round_trip() {
        let mut out = Vec::new();
        encode_interest(&mut out, true, 7, 3, b"foo.*", Some(b"workers"));
        assert_eq!(
            decode(&out),
            Some(Record::InterestAdd {
                epoch: 7,
                account: 3,
                pattern: b"foo.*",
                queue: Some(b"workers"),
                link: false,
            })
        );
        encode_interest(&mut out, false, u64::MAX, u16::MAX, b">", None);
        assert_eq!(
            decode(&out),
            Some(Record::InterestDel {
                epoch: u64::MAX,
                account: u16::MAX,
                pattern: b">",
                queue: None,
                link: false,
            })
        );
        encode_any_interest(&mut out, true, true, 9, 0, b"a.>", None);
        assert_eq!(
            decode(&out),
            Some(Record::InterestAdd {
                epoch: 9,
                account: 0,
                pattern: b"a.>",
                queue: None,
                link: true,
            })
        );
        encode_ack(&mut out, 42);
        assert_eq!(decode(&out), Some(Record::Ack { epoch: 42 }));
    }

    #[test]
    fn message_round_trip_with_queues() {
        let mut names = Vec::new();
        push_queue_name(&mut names, b"g1");
        push_queue_name(&mut names, b"g2");
        let mut head = Vec::new();
        encode_message_head(
            &mut head,
            2,
            b"a.b",
            None,
            Some(b"_INBOX.1"),
            Some(b"12"),
            b"017",
            12,
            &names,
        );
        head.extend_from_slice(b"NATS/1.0\r\n\r\nhello");
        let Some(Record::Message(m)) = decode(&head) else {
            panic!("not a message")
        };
        assert_eq!(m.account, 2);
        assert_eq!(m.subject, b"a.b");
        assert_eq!(m.reply, Some(&b"_INBOX.1"[..]));
        assert_eq!(m.header_size, Some(&b"12"[..]));
        assert_eq!(m.total_size, b"017");
        assert_eq!(m.header_len, 12);
        assert_eq!(m.message, b"NATS/1.0\r\n\r\nhello");
        assert_eq!(m.queues().collect::<Vec<_>>(), vec![&b"g1"[..], &b"g2"[..]]);
    }

    #[test]
    fn truncated_records_are_rejected() {
        let mut out = Vec::new();
        encode_interest(&mut out, true, 1, 1, b"foo", Some(b"q"));
        for len in 0..out.len() {
            assert_eq!(decode(&out[..len]), None, "prefix of {len} bytes");
        }
        assert_eq!(decode(&[99]), None);
    }
}
