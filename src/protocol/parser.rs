//! A byte state machine for the client side of the NATS protocol.
//!
//! CONTRACT (used by `broker`):
//! - `Parser::parse(input, on_op)` consumes all of `input`, calling `on_op` once per complete
//!   operation, in order. Operation fields borrow either `input` or the parser's own carry
//!   buffer (for a frame split across reads), never a heap allocation per message.
//! - The result is identical however a byte stream is split across `parse` calls.
//! - `on_op` returns `ControlFlow::Break(())` to stop (the connection is closing); the rest of
//!   `input` is then discarded and `parse` returns `Ok(())`.
//! - On a protocol error `parse` returns the error; the parser must not be used again.

use std::ops::ControlFlow;

/// One operation a client sent. Byte fields are exactly as on the wire (no CR/LF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT <json>`: the raw JSON argument (may be empty: the broker decides).
    Connect(&'a [u8]),
    /// `PUB subject [reply] size` + payload. `size` is the size field verbatim (echoed in MSG).
    Pub {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        size: &'a [u8],
        payload: &'a [u8],
    },
    /// `HPUB subject [reply] hdr_len total_len` + header block + payload. `message` is all
    /// `total_len` bytes (headers then payload); `header_len` is the parsed `hdr_len`.
    Hpub {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header_size: &'a [u8],
        total_size: &'a [u8],
        header_len: usize,
        message: &'a [u8],
    },
    /// `SUB subject [queue] sid`.
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    /// `UNSUB sid [max]`; `max` verbatim (see [`super::parse_size`]).
    Unsub {
        sid: &'a [u8],
        max: Option<&'a [u8]>,
    },
    Ping,
    Pong,
    /// `INFO <json>` from a client (ignored by the broker).
    Info(&'a [u8]),
    /// `+OK` from a client (ignored).
    Ok,
}

/// Why parsing stopped. Each maps to exactly one reply of nats-server 2.9.10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Byte-level error: `-ERR 'Unknown Protocol Operation'` then close.
    UnknownOperation,
    /// Argument longer than `max_control_line`: `-ERR 'maximum control line exceeded'`, close.
    MaxControlLine,
    /// PUB/HPUB size above `max_payload`: `-ERR 'Maximum Payload Violation'` then close.
    MaxPayload,
    /// Wrong argument count, bad size field, hdr_len > total_len: close without -ERR.
    ProtocolViolation,
    /// The client sent `-ERR`: close without -ERR.
    ClientError,
}

/// Bounds the parser enforces while bytes pile up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    pub max_control_line: usize,
    pub max_payload: usize,
}

/// Per-connection parser state; survives across reads.
#[derive(Debug)]
pub struct Parser {
    limits: ParserLimits,
}

impl Parser {
    pub fn new(limits: ParserLimits) -> Parser {
        Parser { limits }
    }

    /// Feeds `input`; see the module contract.
    pub fn parse<F>(&mut self, input: &[u8], mut on_op: F) -> Result<(), ParseError>
    where
        F: FnMut(ClientOp<'_>) -> ControlFlow<()>,
    {
        let _ = (input, &mut on_op, self.limits);
        todo!("protocol helper")
    }

    /// Bytes held in the carry buffer (a split frame); for leak checks and stats.
    pub fn buffered(&self) -> usize {
        0
    }
}
