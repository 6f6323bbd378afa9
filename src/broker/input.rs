//! A client's input: bytes parsed in place into operations, each handled in order. When
//! something must finish before the next operation (a stalled publisher, a CONNECT whose
//! password is being checked, a PONG waiting for the barrier), the rest of the input is
//! held unparsed and reading pauses; it is parsed when the holder lets go.

use super::connection::ClosedReason;
use super::routing::Message;
use super::trace::TracedOp;
use super::Shard;
use crate::protocol::encoder::err;
use crate::protocol::{ClientOp, ParseError};
use crate::runtime::{ConnId, Io};
use crate::{error, trace};
use std::ops::ControlFlow;

/// A stalled publisher's held input buffer keeps at most this capacity once empty.
const HELD_INPUT_RETAINED_MAX: usize = 64 * 1024;

/// Bytes of client input quoted in a parser error's log line (nats-server quotes 32).
const LOG_SNIPPET_BYTES: usize = 32;

impl Shard {
    /// Bytes read from a client: the auth check of the first byte, then parsed, or held
    /// behind what is held already.
    pub(super) fn client_input(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        // Input read after a reload was published meets the new configuration (a CONNECT,
        // the new users).
        self.adopt_live_if_newer(io);
        let now = io.now();
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        if !client.is_open() {
            return;
        }
        if client.tls_handshaking {
            // Plain text before any handshake: an `allow_non_tls` client chose it.
            self.plain_text_chosen(io, conn);
        }
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        client.last_input = now;
        let first_byte = !client.input_seen && client.awaiting_auth;
        client.input_seen = true;
        if first_byte && !data.is_empty() && !self.check_first_byte(io, conn, data[0]) {
            return;
        }
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        if client.input_held() {
            // Reads that completed before the pause took effect: after what is held, in
            // order (at most the reads the kernel had already delivered).
            client.held_input.extend_from_slice(data);
            return;
        }
        self.parse_input(io, conn, data);
    }

    pub(super) fn handle_op(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        op: ClientOp<'_>,
    ) -> ControlFlow<()> {
        if crate::log::enabled(crate::log::Level::Trace) {
            if let Some(client) = self.client(conn) {
                trace!(
                    "{} - {} - <<- [{}]",
                    client.peer,
                    client.tag(),
                    TracedOp(&op)
                );
            }
        }
        match op {
            ClientOp::Connect(json) => return self.on_connect(io, conn, json),
            ClientOp::Pub {
                subject,
                reply,
                size,
                payload,
            } => {
                let message = Message {
                    subject,
                    deliver_as: None,
                    reply,
                    header_size: None,
                    total_size: size,
                    header_len: 0,
                    message: payload,
                };
                self.on_publish(io, conn, &message);
            }
            ClientOp::Hpub {
                subject,
                reply,
                header_size,
                total_size,
                header_len,
                message,
            } => {
                let headers = self.client(conn).is_some_and(|c| c.options.headers);
                if !headers {
                    // nats-server: "message headers not supported", closed without -ERR.
                    // The parser leaves headers enabled: a CONNECT enabling them may sit in
                    // the same read as the HPUB, before the broker could tell the parser. So
                    // an oversized HPUB from a connection without headers gets the payload
                    // -ERR before the close, where nats-server closes silently.
                    self.close_client(io, conn, true, ClosedReason::ProtocolViolation);
                    return ControlFlow::Break(());
                }
                let message = Message {
                    subject,
                    deliver_as: None,
                    reply,
                    header_size: Some(header_size),
                    total_size,
                    header_len,
                    message,
                };
                self.on_publish(io, conn, &message);
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => self.on_subscribe(io, conn, subject, queue, sid),
            ClientOp::Unsub { sid, max } => self.on_unsubscribe(io, conn, sid, max),
            ClientOp::Ping => self.on_ping(io, conn),
            ClientOp::Pong => self.on_pong(io, conn),
            ClientOp::Info(_) | ClientOp::Ok => {}
        }
        match self.client(conn) {
            // A stalled publisher, or a CONNECT being checked, stops here: the rest of its
            // input waits (`held_input`).
            Some(client) if client.is_open() && !client.input_held() => ControlFlow::Continue(()),
            _ => ControlFlow::Break(()),
        }
    }

    /// Parses `data` from `conn`; if a publish stalls the connection part-way, the unparsed
    /// rest is held until the stall ends (`resume_publisher`), so one read cannot push a
    /// consumer past max_pending before its output was written.
    pub(super) fn parse_input(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        let Some(mut parser) = client.parser.take() else {
            return;
        };
        let result = parser.parse_until(data, |op| self.handle_op(io, conn, op));
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        client.parser = Some(parser);
        match result {
            Ok(Some(next)) if client.is_open() && client.input_held() => {
                client.held_input.extend_from_slice(&data[next..]);
            }
            Ok(_) => {}
            Err(error) => self.on_parse_error(io, conn, error, data),
        }
    }

    /// Parses the input held while `conn` could not go on (which may hold it again), then
    /// reads again if nothing holds it any more.
    pub(super) fn resume_input(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        if client.input_held() {
            // Something else still holds it (a PONG waiting while a stall ended): the
            // input goes on when that ends too.
            return;
        }
        let held = std::mem::take(&mut client.held_input);
        if !held.is_empty() {
            self.parse_input(io, conn, &held);
        }
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        if client.held_input.is_empty() && client.held_input.capacity() == 0 {
            client.held_input = held;
            client.held_input.clear();
            if client.held_input.capacity() > HELD_INPUT_RETAINED_MAX {
                client.held_input = Vec::new();
            }
        }
        if client.is_open() && !client.input_held() {
            io.resume_reading(conn);
        }
    }

    /// Answers and closes. Logged once, at error level as nats-server does, so that a TLS or
    /// HTTP client at the NATS port shows up in the log. `read` is the input in which the
    /// error was found; the parser does not say at which byte, so the line quotes how that
    /// read began.
    pub(super) fn on_parse_error(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        error: ParseError,
        read: &[u8],
    ) {
        let limits = &self.live.config.limits;
        let (reply, what, reason) = match error {
            ParseError::UnknownOperation => (
                Some(err::UNKNOWN_OPERATION),
                "Client parser ERROR: Unknown Protocol Operation".to_string(),
                ClosedReason::ProtocolViolation,
            ),
            ParseError::MaxControlLine => (
                Some(err::MAX_CONTROL_LINE),
                format!(
                    "maximum control line exceeded: max_control_line {}",
                    limits.max_control_line
                ),
                ClosedReason::MaxControlLineExceeded,
            ),
            ParseError::MaxPayload => (
                Some(err::MAX_PAYLOAD),
                format!(
                    "maximum payload exceeded: max_payload {}",
                    limits.max_payload
                ),
                ClosedReason::MaxPayloadExceeded,
            ),
            ParseError::ProtocolViolation => (
                None,
                "Client parser ERROR: protocol violation".to_string(),
                ClosedReason::ProtocolViolation,
            ),
            ParseError::ClientError => (None, "Client Error".to_string(), ClosedReason::ParseError),
        };
        if let Some(client) = self.client(conn) {
            error!(
                "{} - {} - {what}; read began {}",
                client.peer,
                client.tag(),
                quote_snippet(read)
            );
        }
        if let Some(text) = reply {
            io.write(conn, text);
        }
        self.close_client(io, conn, true, reason);
    }
}

/// Bytes shown in a log line: at most [`LOG_SNIPPET_BYTES`], quoted and escaped like Go's
/// `%q` for ASCII (`"\x16\x03\x01..."`), with `...` when cut.
fn quote_snippet(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(LOG_SNIPPET_BYTES)];
    let mut quoted = String::with_capacity(shown.len() * 2 + 5);
    quoted.push('"');
    for &byte in shown {
        match byte {
            b'"' => quoted.push_str("\\\""),
            b'\\' => quoted.push_str("\\\\"),
            b'\n' => quoted.push_str("\\n"),
            b'\r' => quoted.push_str("\\r"),
            b'\t' => quoted.push_str("\\t"),
            0x20..=0x7e => quoted.push(byte as char),
            _ => quoted.push_str(&format!("\\x{byte:02x}")),
        }
    }
    quoted.push('"');
    if shown.len() < bytes.len() {
        quoted.push_str("...");
    }
    quoted
}
