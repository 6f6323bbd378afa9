//! A link's input, for both kinds (leaf links and routes): one read parsed operation by
//! operation until an operation fails, the link pauses (the stall gate, or a leaf's or a
//! route's CONNECT waiting for its bcrypt check: the rest is held by the caller, as bytes,
//! and parsed when it resumes), or the read ends.

use super::Shard;
use crate::protocol::link::{LinkOp, LinkParser};
use crate::protocol::ParseError;
use crate::runtime::{ConnId, Io};

/// One operation of a link, handed to its kind's code; an `Err` closes the link with that
/// reason.
pub(super) type OnLinkOp =
    fn(&mut Shard, &mut Io<'_>, ConnId, LinkOp<'_>) -> Result<(), &'static str>;

/// A link's reading: its parser and the input held while the link is paused.
#[derive(Debug)]
pub(super) struct LinkReader {
    /// Taken out while a read is parsed.
    parser: Option<LinkParser>,
    held: Vec<u8>,
}

impl LinkReader {
    pub(super) fn new(parser: LinkParser) -> LinkReader {
        LinkReader {
            parser: Some(parser),
            held: Vec::new(),
        }
    }

    /// Drops what is held (the link is closing).
    pub(super) fn drop_held(&mut self) {
        self.held = Vec::new();
    }
}

/// How one kind of link is read: where its reader is, its operations, and what the end
/// of a read means (a refused operation, a protocol error).
pub(super) struct LinkKind {
    pub reader: fn(&mut Shard, ConnId) -> Option<&mut LinkReader>,
    pub on_op: OnLinkOp,
    pub on_end: fn(&mut Shard, &mut Io<'_>, ConnId, LinkRead),
}

/// What one read came to.
pub(super) struct LinkRead {
    /// Bytes of the read consumed (all of it unless the link was paused), or the protocol
    /// error that ends the link.
    pub parsed: Result<usize, ParseError>,
    /// An operation refused: the close reason.
    pub failure: Option<&'static str>,
}

impl LinkRead {
    /// The unconsumed rest of `data`, to hold while the link is paused.
    pub(super) fn rest<'d>(&self, data: &'d [u8]) -> Option<&'d [u8]> {
        match (&self.parsed, self.failure) {
            (Ok(consumed), None) if *consumed < data.len() => Some(&data[*consumed..]),
            _ => None,
        }
    }
}

impl Shard {
    /// Bytes received on a link: held if the link is paused or already holds input (they
    /// keep their order), else parsed.
    pub(super) fn link_input(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        data: &[u8],
        kind: &LinkKind,
    ) {
        let paused = self.link_input_paused(conn);
        let Some(reader) = (kind.reader)(self, conn) else {
            return;
        };
        if paused || !reader.held.is_empty() {
            reader.held.extend_from_slice(data);
            return;
        }
        self.parse_link_input(io, conn, data, kind);
    }

    /// The stall gate or the auth check let the link go: its held input first, then
    /// reading again (unless that input paused it anew).
    pub(super) fn resume_link(&mut self, io: &mut Io<'_>, conn: ConnId, kind: &LinkKind) {
        let Some(reader) = (kind.reader)(self, conn) else {
            return;
        };
        let held = std::mem::take(&mut reader.held);
        if !held.is_empty() {
            self.parse_link_input(io, conn, &held, kind);
        }
        if !self.link_input_paused(conn) {
            io.resume_reading(conn);
        }
    }

    /// Parses `data` until the link fails or pauses; the rest is held for
    /// [`Shard::resume_link`].
    fn parse_link_input(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8], kind: &LinkKind) {
        let Some(mut parser) = (kind.reader)(self, conn).and_then(|r| r.parser.take()) else {
            return;
        };
        let read = self.parse_link_read(io, conn, &mut parser, data, kind.on_op);
        if let Some(reader) = (kind.reader)(self, conn) {
            reader.parser = Some(parser);
            if let Some(rest) = read.rest(data) {
                reader.held = rest.to_vec();
            }
        }
        (kind.on_end)(self, io, conn, read);
    }

    /// Parses one read of `conn` with `parser` (see the module docs).
    fn parse_link_read(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        parser: &mut LinkParser,
        data: &[u8],
        on_op: OnLinkOp,
    ) -> LinkRead {
        let mut failure = None;
        let parsed = parser.parse_some(data, |op| {
            if failure.is_none() {
                failure = on_op(self, io, conn, op).err();
            }
            failure.is_none() && !self.link_input_paused(conn)
        });
        LinkRead { parsed, failure }
    }

    /// Whether `conn`'s input waits: the stall gate paused it, or it is a leaf or a route
    /// whose CONNECT is being checked.
    pub(super) fn link_input_paused(&self, conn: ConnId) -> bool {
        self.link_stalled(conn) || self.leaf_awaits_auth(conn) || self.route_awaits_auth(conn)
    }
}

/// nats-server's `-ERR` text for a link's protocol error.
pub(super) fn parse_error_text(error: ParseError) -> &'static str {
    match error {
        ParseError::UnknownOperation => "Unknown Protocol Operation",
        ParseError::MaxControlLine => "maximum control line exceeded",
        ParseError::MaxPayload => "Maximum Payload Violation",
        _ => "Protocol Error",
    }
}
