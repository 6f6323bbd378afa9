//! WebSocket as a transport under the handler, like TLS: frames are decoded from the
//! receive buffers (payloads unmasked in place, handed to `on_data` without a copy), and
//! what the handler wrote is framed at the flush: a flushed run of bytes goes as one binary
//! message (several past `MESSAGE_BYTES_MAX`), not a message per NATS operation.
//!
//! ```text
//!   recv (provided buffer, or TLS plaintext) ─► Decoder ─► payload slices ─► on_data
//!                                                    └─► compressed: Inflater ─► scratch ─► on_data
//!   Io::write ─► outbound tail ═ flush ═► [pongs] [frame header + tail (deflated?)] [close] ─► send
//! ```
//!
//! Control frames: a ping is answered by a pong ahead of the next flushed data, a close by
//! the same status and body (then the connection closes after what came before it), a
//! framing fault by a close frame with nats-server's status and text. A close frame the
//! handler asks for (`Io::websocket_close`) goes out last, once.
//!
//! Per connection this costs a boxed decoder (~200 bytes) and the compressed bytes of a
//! message split across reads; the deflate and inflate engines and their scratch buffers
//! are the core's, shared (no context takeover: no state outlives a message).

use crate::websocket::deflate::{Deflater, InflateError, Inflater};
use crate::websocket::frame::{self, opcode, Decoder, Frame, FrameError};

use super::core_state::{ConnectionState, CoreState};
use super::outbound::{ChunkPool, Outbound};
use super::{CloseReason, Handler, Io};

/// Bytes of the core's inflate scratch buffer: one `on_data` call per this much output.
const INFLATE_SCRATCH_BYTES: usize = 16 * 1024;
/// Server frames to a browser carry at most this much (nats-server's experience).
const BROWSER_FRAME_BYTES: usize = 4096;
/// A flush of at most this many bytes goes uncompressed.
const COMPRESS_THRESHOLD: usize = 64;
/// A flush longer than this goes out as several binary messages of at most this many bytes
/// each (counted before compression; each compressed one deflated on its own). A turn may
/// flush megabytes to one connection; bounded messages let the peer inflate (or, for a
/// client that delivers whole messages, hand on) the first while the rest arrives, in a
/// buffer of bounded size, and keep the core's deflate output scratch small.
const MESSAGE_BYTES_MAX: usize = 256 * 1024;

/// How a WebSocket connection frames (from the upgrade request and the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebsocketSettings {
    /// permessage-deflate was negotiated.
    pub compress: bool,
    /// Client frames are masked (false after a `Nats-No-Masking` request).
    pub masked: bool,
    /// Server frames of at most 4 KiB (a browser).
    pub browser: bool,
    /// A compressed message goes in one frame even to a browser (Safari).
    pub whole_compressed_frames: bool,
    /// A client data frame, or a compressed message inflated, may not be longer.
    pub max_frame_payload: u64,
}

/// Why a WebSocket connection was ended by its framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebsocketFault {
    Frame(FrameError),
    /// A compressed message was not valid deflate data, or inflated past the bound.
    Inflate {
        too_large: bool,
    },
}

impl std::fmt::Display for WebsocketFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebsocketFault::Frame(error) => error.fmt(f),
            WebsocketFault::Inflate { too_large: false } => f.write_str("invalid deflate data"),
            WebsocketFault::Inflate { too_large: true } => {
                f.write_str("compressed message inflates past the maximum size")
            }
        }
    }
}

/// One connection's WebSocket state. Boxed in the connection.
pub(super) struct WebsocketState {
    settings: WebsocketSettings,
    /// The input side; lent out while input is decoded (so that the handler, called
    /// meanwhile, may still queue a close frame on this state).
    input: Option<Box<WebsocketInput>>,
    /// `outbound.written_total()` after the last framing: bytes since are the tail.
    framed_up_to: usize,
    /// Pongs (whole frames) for the next flush, ahead of its data.
    controls: Vec<u8>,
    /// The close frame, sent after everything else.
    close_frame: Option<Vec<u8>>,
    /// A close frame was queued (only one is ever sent).
    close_sent: bool,
}

/// What decoding a connection's input keeps between reads.
struct WebsocketInput {
    decoder: Decoder,
    /// The compressed bytes of a message whose end has not arrived.
    compressed_pending: Vec<u8>,
}

impl WebsocketState {
    fn new(settings: WebsocketSettings, outbound: &Outbound) -> WebsocketState {
        WebsocketState {
            settings,
            input: Some(Box::new(WebsocketInput {
                decoder: Decoder::new(settings.masked, settings.max_frame_payload),
                compressed_pending: Vec::new(),
            })),
            framed_up_to: outbound.written_total(),
            controls: Vec::new(),
            close_frame: None,
            close_sent: false,
        }
    }

    /// Queues a close frame (the first one only).
    fn queue_close(&mut self, status: u16, body: &str) {
        if !self.close_sent {
            self.close_sent = true;
            let payload = frame::close_payload(status, body);
            self.close_frame = Some(frame::control_frame(opcode::CLOSE, &payload));
        }
    }

    /// The transport under this one (TLS) replaced the queue's tail, frames included, by
    /// its records: nothing written so far is this one's to frame any more.
    pub(super) fn tail_replaced(&mut self, outbound: &Outbound) {
        self.framed_up_to = outbound.written_total();
    }

    /// Replaces the plaintext tail of `outbound` by frames: queued pongs, then the tail as
    /// binary messages of at most `MESSAGE_BYTES_MAX` (each deflated on its own past the
    /// threshold when negotiated; cut into 4 KiB frames for a browser), then a queued close
    /// frame.
    pub(super) fn frame_output(
        &mut self,
        outbound: &mut Outbound,
        pool: &mut ChunkPool,
        engines: &mut Engines,
    ) {
        let tail = outbound.written_total().wrapping_sub(self.framed_up_to);
        if tail == 0 && self.controls.is_empty() && self.close_frame.is_none() {
            return;
        }
        // Compressed, the tail is deflated straight from the queue's chunks; plain, it is
        // copied out so that a frame header can go in front of it.
        let compress = self.settings.compress && tail > COMPRESS_THRESHOLD;
        let Engines {
            deflater,
            plain,
            compressed,
            message_ends,
            ..
        } = engines;
        plain.clear();
        compressed.clear();
        message_ends.clear();
        if compress {
            let deflater = deflater.get_or_insert_with(Deflater::default);
            deflate_messages(
                deflater,
                outbound.tail_slices(tail),
                compressed,
                message_ends,
            );
        } else {
            for slice in outbound.tail_slices(tail) {
                plain.extend_from_slice(slice);
            }
        }
        outbound.truncate_tail(pool, tail);
        if !self.controls.is_empty() {
            outbound.write(pool, &self.controls);
            self.controls.clear();
        }
        if tail > 0 {
            let browser_limit = self.settings.browser.then_some(BROWSER_FRAME_BYTES);
            if compress {
                let limit = browser_limit.filter(|_| !self.settings.whole_compressed_frames);
                let mut start = 0;
                for &end in message_ends.iter() {
                    write_fragments(outbound, pool, &compressed[start..end], limit);
                    start = end;
                }
            } else {
                let limit = browser_limit.unwrap_or(MESSAGE_BYTES_MAX);
                write_messages(outbound, pool, plain, limit);
            }
        }
        if let Some(close) = self.close_frame.take() {
            outbound.write(pool, &close);
        }
        self.framed_up_to = outbound.written_total();
        for scratch in [plain, compressed] {
            if scratch.capacity() > SCRATCH_KEEP_BYTES {
                *scratch = Vec::new();
            }
        }
    }
}

/// The core's scratch buffers keep at most this capacity between flushes (a flush is at
/// most what one turn wrote to one connection; past this a larger one reallocates).
const SCRATCH_KEEP_BYTES: usize = 4 * 1024 * 1024;

/// Deflates the concatenated `slices` as messages of at most `MESSAGE_BYTES_MAX` input
/// bytes each, appended to `out`; `ends` gets each message's end offset in `out`.
fn deflate_messages<'a>(
    deflater: &mut Deflater,
    slices: impl Iterator<Item = &'a [u8]>,
    out: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) {
    deflater.begin();
    // Input bytes the current message may still take.
    let mut room = MESSAGE_BYTES_MAX;
    for mut slice in slices {
        while !slice.is_empty() {
            if room == 0 {
                deflater.finish(out);
                ends.push(out.len());
                deflater.begin();
                room = MESSAGE_BYTES_MAX;
            }
            let take = room.min(slice.len());
            deflater.append(&slice[..take], out);
            slice = &slice[take..];
            room -= take;
        }
    }
    deflater.finish(out);
    ends.push(out.len());
}

/// Uncompressed output: binary messages of at most `limit` bytes.
fn write_messages(outbound: &mut Outbound, pool: &mut ChunkPool, bytes: &[u8], limit: usize) {
    let mut header = [0u8; frame::MAX_HEADER_BYTES];
    let pieces = bytes.chunks(limit.max(1));
    for piece in pieces {
        let length =
            frame::write_header(&mut header, opcode::BINARY, true, true, false, piece.len());
        outbound.write(pool, &header[..length]);
        outbound.write(pool, piece);
    }
}

/// Compressed output: one message, in one frame or (for a browser) fragments of at most
/// `limit`, the first carrying RSV1.
fn write_fragments(
    outbound: &mut Outbound,
    pool: &mut ChunkPool,
    bytes: &[u8],
    limit: Option<usize>,
) {
    let mut header = [0u8; frame::MAX_HEADER_BYTES];
    let size = limit.unwrap_or(bytes.len().max(1));
    let count = bytes.len().div_ceil(size).max(1);
    for (index, piece) in bytes.chunks(size).enumerate() {
        let first = index == 0;
        let last = index + 1 == count;
        let length =
            frame::write_header(&mut header, opcode::BINARY, first, last, first, piece.len());
        outbound.write(pool, &header[..length]);
        outbound.write(pool, piece);
    }
}

/// The core's deflate and inflate engines and scratch buffers, made on first use.
#[derive(Default)]
pub(super) struct Engines {
    deflater: Option<Deflater>,
    inflater: Option<Inflater>,
    /// The tail being framed.
    plain: Vec<u8>,
    /// The tail deflated, message after message.
    compressed: Vec<u8>,
    /// The end offset in `compressed` of each message.
    message_ends: Vec<usize>,
    /// Inflated input lent to `on_data`.
    inflated: Vec<u8>,
}

/// Makes `slot` a WebSocket connection: input from now on is frames, output written from
/// now on is framed (what is queued now, the 101 answer, goes as it is).
pub(super) fn start(state: &mut CoreState, slot: usize, settings: WebsocketSettings) -> bool {
    let Some(connection) = state.connections.get_mut(slot) else {
        return false;
    };
    if connection.state != ConnectionState::Open || connection.websocket.is_some() {
        return false;
    }
    connection.websocket = Some(Box::new(WebsocketState::new(
        settings,
        &connection.outbound,
    )));
    true
}

/// Queues a close frame with `status` and `body` on `slot` (sent after the output before
/// it; only the first close frame of a connection is sent).
pub(super) fn queue_close(state: &mut CoreState, slot: usize, status: u16, body: &str) {
    if let Some(websocket) = state
        .connections
        .get_mut(slot)
        .and_then(|connection| connection.websocket.as_deref_mut())
    {
        websocket.queue_close(status, body);
        state.mark_dirty(slot);
    }
}

/// Decodes the frames in `input` (received on `slot`, or decrypted from it) and hands their
/// payloads to the handler. All of `input` is decoded: a handler that paused reading holds
/// what it is given (as it holds a plain read that completed before its pause).
pub(super) fn receive<H: Handler>(
    state: &mut CoreState,
    handler: &mut H,
    slot: usize,
    input: &mut [u8],
) {
    let Some(mut decoding) = state.connections[slot]
        .websocket
        .as_mut()
        .and_then(|websocket| websocket.input.take())
    else {
        return;
    };
    let settings = state.connections[slot]
        .websocket
        .as_ref()
        .expect("a WebSocket connection")
        .settings;
    let outcome = decode(state, handler, slot, settings, &mut decoding, input);
    let Some(websocket) = state.connections[slot].websocket.as_mut() else {
        return;
    };
    websocket.input = Some(decoding);
    match outcome {
        Outcome::Continue => {
            if !websocket.controls.is_empty() {
                state.mark_dirty(slot);
            }
        }
        Outcome::PeerClosed { status, body } => {
            websocket.queue_close(status, &body);
            state.close(slot, CloseReason::PeerClosed, true);
        }
        Outcome::Fault(fault @ WebsocketFault::Frame(error)) => {
            websocket.queue_close(error.status(), &error.to_string());
            state.close(slot, CloseReason::Websocket(fault), true);
        }
        Outcome::Fault(fault @ WebsocketFault::Inflate { .. }) => {
            // nats-server's read error: closed without a flush, so no close frame.
            state.close(slot, CloseReason::Websocket(fault), false);
        }
    }
}

/// How decoding a piece of input ended.
enum Outcome {
    Continue,
    PeerClosed { status: u16, body: String },
    Fault(WebsocketFault),
}

fn decode<H: Handler>(
    state: &mut CoreState,
    handler: &mut H,
    slot: usize,
    settings: WebsocketSettings,
    decoding: &mut WebsocketInput,
    input: &mut [u8],
) -> Outcome {
    let id = state.connections[slot].id(slot);
    let mut position = 0;
    loop {
        if state.connections[slot].state != ConnectionState::Open {
            return Outcome::Continue;
        }
        let frame = match decoding.decoder.next(input, &mut position) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Outcome::Continue,
            Err(error) => return Outcome::Fault(WebsocketFault::Frame(error)),
        };
        match frame {
            Frame::Data {
                range,
                compressed: false,
                ..
            } => {
                if !range.is_empty() {
                    handler.on_data(&mut Io { state }, id, &input[range]);
                }
            }
            Frame::Data {
                range,
                compressed: true,
                message_end,
            } => {
                let piece = &input[range];
                let inflated =
                    inflate(state, handler, slot, settings, decoding, piece, message_end);
                if let Err(error) = inflated {
                    crate::debug!("runtime: websocket: {error}");
                    let too_large = matches!(error, InflateError::TooLarge { .. });
                    return Outcome::Fault(WebsocketFault::Inflate { too_large });
                }
            }
            Frame::Ping => {
                let pong = frame::control_frame(opcode::PONG, decoding.decoder.control_payload());
                if let Some(websocket) = state.connections[slot].websocket.as_mut() {
                    websocket.controls.extend_from_slice(&pong);
                }
            }
            Frame::Pong => {}
            Frame::Close { status, body } => return Outcome::PeerClosed { status, body },
        }
    }
}

/// A piece of a compressed message: inflated at once if it ends the message and nothing
/// was gathered before, otherwise gathered until the message ends.
fn inflate<H: Handler>(
    state: &mut CoreState,
    handler: &mut H,
    slot: usize,
    settings: WebsocketSettings,
    websocket: &mut WebsocketInput,
    piece: &[u8],
    message_end: bool,
) -> Result<(), InflateError> {
    let max = settings.max_frame_payload;
    if !message_end {
        if (websocket.compressed_pending.len() + piece.len()) as u64 > max {
            return Err(InflateError::TooLarge { max });
        }
        websocket.compressed_pending.extend_from_slice(piece);
        return Ok(());
    }
    let gathered = std::mem::take(&mut websocket.compressed_pending);
    let mut engines = std::mem::take(&mut state.websocket_engines);
    let mut scratch = std::mem::take(&mut engines.inflated);
    scratch.resize(INFLATE_SCRATCH_BYTES, 0);
    let inflater = engines.inflater.get_or_insert_with(|| Inflater::new(max));
    inflater.set_max_message(max);
    let id = state.connections[slot].id(slot);
    let mut deliver = |bytes: &[u8]| {
        if state.connections[slot].state == ConnectionState::Open {
            handler.on_data(&mut Io { state: &mut *state }, id, bytes);
        }
    };
    let result = if gathered.is_empty() {
        inflater.inflate(piece, true, &mut scratch, &mut deliver)
    } else {
        inflater
            .inflate(&gathered, false, &mut scratch, &mut deliver)
            .and_then(|()| inflater.inflate(piece, true, &mut scratch, &mut deliver))
    };
    if result.is_err() {
        inflater.reset();
    }
    engines.inflated = scratch;
    state.websocket_engines = engines;
    if gathered.capacity() <= SCRATCH_KEEP_BYTES {
        let mut gathered = gathered;
        gathered.clear();
        websocket.compressed_pending = gathered;
    }
    result
}
