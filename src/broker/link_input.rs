//! A link's input, for both kinds (leaf links and routes): one read parsed operation by
//! operation until an operation fails, the link pauses (the stall gate, or a leaf's CONNECT
//! waiting for its bcrypt check: the rest is held by the caller, as bytes, and parsed when
//! it resumes), or the read ends.

use super::Shard;
use crate::protocol::link::{LinkOp, LinkParser};
use crate::protocol::ParseError;
use crate::runtime::{ConnId, Io};

/// One operation of a link, handed to its kind's code; an `Err` closes the link with that
/// reason.
pub(super) type OnLinkOp =
    fn(&mut Shard, &mut Io<'_>, ConnId, LinkOp<'_>) -> Result<(), &'static str>;

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
    /// Parses one read of `conn` with `parser` (see the module docs).
    pub(super) fn parse_link_read(
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

    /// Whether `conn`'s input waits: the stall gate paused it, or it is a leaf whose
    /// CONNECT is being checked.
    pub(super) fn link_input_paused(&self, conn: ConnId) -> bool {
        self.link_stalled(conn) || self.leaf_awaits_auth(conn)
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
