//! RFC 6455 frames as nats-server 2.9.10 reads and writes them: a decoder that walks a
//! client's byte stream frame by frame, unmasking data payloads in place and carrying only
//! what a read split (a frame header, a control frame's payload), and the server's frame
//! headers and close payloads.
//!
//! Checks and their texts are nats-server's (`wsRead`): they all look at a frame's first two
//! bytes, in this order: the mask bit, the control-frame length and final bit, a data frame
//! starting inside a fragmented message, a bad continuation, an unknown opcode.

use std::ops::Range;

/// A control frame's payload bound (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// Largest frame header a server reads or writes: 2 + 8 length bytes + 4 mask bytes.
pub const MAX_HEADER_BYTES: usize = 14;

/// Opcodes (RFC 6455 §5.2).
pub mod opcode {
    pub const CONTINUATION: u8 = 0;
    pub const TEXT: u8 = 1;
    pub const BINARY: u8 = 2;
    pub const CLOSE: u8 = 8;
    pub const PING: u8 = 9;
    pub const PONG: u8 = 10;
}

/// Close status codes (RFC 6455 §7.4.1) nats-server sends.
pub mod status {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const NO_STATUS: u16 = 1005;
    pub const ABNORMAL: u16 = 1006;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const INTERNAL_ERROR: u16 = 1011;
    pub const TLS_HANDSHAKE: u16 = 1015;
}

const FINAL_BIT: u8 = 0x80;
const RSV1_BIT: u8 = 0x40;
const MASK_BIT: u8 = 0x80;

/// A client broke the framing rules: the connection ends with a close frame carrying
/// [`FrameError::status`] and the text (nats-server's words), after the input before the
/// fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    MaskMissing,
    ControlTooLong,
    ControlNotFinal,
    MessageNotFinished,
    InvalidContinuation,
    UnknownOpcode(u8),
    /// A compressed data frame longer than the bound (ringmq's; nats-server has none).
    TooLarge {
        length: u64,
        max: u64,
    },
}

impl FrameError {
    /// The close frame's status code.
    pub fn status(self) -> u16 {
        match self {
            FrameError::TooLarge { .. } => status::MESSAGE_TOO_BIG,
            _ => status::PROTOCOL_ERROR,
        }
    }
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::MaskMissing => f.write_str("mask bit missing"),
            FrameError::ControlTooLong => write!(
                f,
                "control frame length bigger than maximum allowed of {MAX_CONTROL_PAYLOAD} bytes"
            ),
            FrameError::ControlNotFinal => f.write_str("control frame does not have final bit set"),
            FrameError::MessageNotFinished => f.write_str(
                "new message started before final frame for previous message was received",
            ),
            FrameError::InvalidContinuation => f.write_str("invalid continuation frame"),
            FrameError::UnknownOpcode(opcode) => write!(f, "unknown opcode {opcode}"),
            FrameError::TooLarge { length, max } => write!(
                f,
                "frame payload of {length} bytes exceeds the maximum of {max}"
            ),
        }
    }
}

/// What the decoder found next in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Payload bytes of a data message, now unmasked in place: `input[range]`. A frame's
    /// payload may come in several pieces (as reads split it). `compressed`: the message's
    /// first frame had RSV1 (permessage-deflate). `message_end`: the last byte of the
    /// message's final frame is in this piece (possibly an empty piece).
    Data {
        range: Range<usize>,
        compressed: bool,
        message_end: bool,
    },
    /// A ping; its payload is [`Decoder::control_payload`] (answered with a pong).
    Ping,
    /// A pong (nothing to do).
    Pong,
    /// A close: the status (1005 when the payload had none) and the body nats-server
    /// echoes (a body that is not UTF-8 becomes 1007 `invalid utf8 body in close frame`).
    Close { status: u16, body: String },
}

/// Where the decoder is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Collecting a frame header (possibly split across reads).
    Header,
    /// Inside a data frame's payload.
    Payload,
    /// Collecting a control frame's payload.
    Control,
}

/// A client stream's frame decoder. Holds at most a split header (14 bytes) and a control
/// payload (125 bytes); data payloads are never copied.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Client frames must be masked (false only after a `Nats-No-Masking` request: then
    /// no mask key is read, as nats-server does).
    masked: bool,
    /// Compressed frames with a longer payload end the connection (status 1009).
    max_frame_payload: u64,
    stage: Stage,
    header: [u8; MAX_HEADER_BYTES],
    header_len: usize,
    /// Bytes of the current frame's payload still to come.
    remaining: u64,
    key: [u8; 4],
    /// Index into `key` of the next payload byte.
    key_pos: usize,
    /// The current frame is the final one of its message.
    frame_final: bool,
    /// The current control frame's opcode.
    control_opcode: u8,
    control: [u8; MAX_CONTROL_PAYLOAD],
    control_len: usize,
    /// A fragmented data message is open (its final frame has not come).
    message_open: bool,
    /// The open (or current) data message is compressed.
    message_compressed: bool,
}

impl Decoder {
    pub fn new(masked: bool, max_frame_payload: u64) -> Decoder {
        Decoder {
            masked,
            max_frame_payload,
            stage: Stage::Header,
            header: [0; MAX_HEADER_BYTES],
            header_len: 0,
            remaining: 0,
            key: [0; 4],
            key_pos: 0,
            frame_final: true,
            control_opcode: 0,
            control: [0; MAX_CONTROL_PAYLOAD],
            control_len: 0,
            message_open: false,
            message_compressed: false,
        }
    }

    /// The payload of the last [`Frame::Ping`].
    pub fn control_payload(&self) -> &[u8] {
        &self.control[..self.control_len]
    }

    /// Whether the decoder stands between frames with nothing carried.
    pub fn at_frame_boundary(&self) -> bool {
        self.stage == Stage::Header && self.header_len == 0
    }

    /// Decodes from `input[*position..]`: returns the next frame (advancing `position`
    /// past what it consumed), or `Ok(None)` once all input is consumed (a split header or
    /// control payload carried to the next call). Data payloads are unmasked in place.
    pub fn next(
        &mut self,
        input: &mut [u8],
        position: &mut usize,
    ) -> Result<Option<Frame>, FrameError> {
        loop {
            match self.stage {
                Stage::Header => {
                    if *position >= input.len() {
                        return Ok(None);
                    }
                    if !self.read_header(input, position)? {
                        return Ok(None);
                    }
                    if self.stage == Stage::Payload && self.remaining == 0 {
                        // An empty data frame: an empty piece, which may end the message.
                        self.stage = Stage::Header;
                        return Ok(Some(Frame::Data {
                            range: *position..*position,
                            compressed: self.message_compressed,
                            message_end: self.frame_final,
                        }));
                    }
                }
                Stage::Payload => {
                    if *position >= input.len() {
                        return Ok(None);
                    }
                    let available = (input.len() - *position) as u64;
                    let take = available.min(self.remaining) as usize;
                    let range = *position..*position + take;
                    if self.masked {
                        self.key_pos = unmask(&mut input[range.clone()], self.key, self.key_pos);
                    }
                    *position += take;
                    self.remaining -= take as u64;
                    let frame_done = self.remaining == 0;
                    if frame_done {
                        self.stage = Stage::Header;
                    }
                    return Ok(Some(Frame::Data {
                        range,
                        compressed: self.message_compressed,
                        message_end: frame_done && self.frame_final,
                    }));
                }
                Stage::Control => {
                    let wanted = self.remaining as usize - self.control_len;
                    let take = wanted.min(input.len() - *position);
                    let start = self.control_len;
                    self.control[start..start + take]
                        .copy_from_slice(&input[*position..*position + take]);
                    *position += take;
                    self.control_len += take;
                    if self.control_len < self.remaining as usize {
                        return Ok(None);
                    }
                    if self.masked {
                        unmask(&mut self.control[..self.control_len], self.key, 0);
                    }
                    self.stage = Stage::Header;
                    self.remaining = 0;
                    return Ok(Some(self.control_frame()));
                }
            }
        }
    }

    /// Adds header bytes from the input; true once the header is complete (the stage then
    /// moved on). Checks the first two bytes as soon as they are there.
    fn read_header(&mut self, input: &[u8], position: &mut usize) -> Result<bool, FrameError> {
        while self.header_len < 2 {
            let Some(&byte) = input.get(*position) else {
                return Ok(false);
            };
            self.header[self.header_len] = byte;
            self.header_len += 1;
            *position += 1;
            if self.header_len == 2 {
                self.check_first_bytes()?;
            }
        }
        let length_bytes = match self.header[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let key_bytes = if self.masked { 4 } else { 0 };
        let needed = 2 + length_bytes + key_bytes;
        let take = (needed - self.header_len).min(input.len() - *position);
        self.header[self.header_len..self.header_len + take]
            .copy_from_slice(&input[*position..*position + take]);
        self.header_len += take;
        *position += take;
        if self.header_len < needed {
            return Ok(false);
        }
        let length = match length_bytes {
            2 => u16::from_be_bytes([self.header[2], self.header[3]]) as u64,
            8 => u64::from_be_bytes(self.header[2..10].try_into().expect("8 bytes")),
            _ => (self.header[1] & 0x7F) as u64,
        };
        if self.masked {
            let at = 2 + length_bytes;
            self.key.copy_from_slice(&self.header[at..at + 4]);
        }
        self.key_pos = 0;
        self.header_len = 0;
        let opcode = self.header[0] & 0x0F;
        self.remaining = length;
        if is_control(opcode) {
            self.control_opcode = opcode;
            self.control_len = 0;
            self.stage = Stage::Control;
        } else {
            // An uncompressed payload streams through (nats-server reads any length); a
            // compressed one is gathered, so it is bounded.
            if self.message_compressed && length > self.max_frame_payload {
                return Err(FrameError::TooLarge {
                    length,
                    max: self.max_frame_payload,
                });
            }
            self.stage = Stage::Payload;
        }
        Ok(true)
    }

    /// nats-server's checks of a frame's first two bytes, in its order.
    fn check_first_bytes(&mut self) -> Result<(), FrameError> {
        let [b0, b1] = [self.header[0], self.header[1]];
        let opcode = b0 & 0x0F;
        let fin = b0 & FINAL_BIT != 0;
        let compressed = b0 & RSV1_BIT != 0;
        if self.masked && b1 & MASK_BIT == 0 {
            return Err(FrameError::MaskMissing);
        }
        match opcode {
            opcode::CLOSE | opcode::PING | opcode::PONG => {
                if (b1 & 0x7F) as usize > MAX_CONTROL_PAYLOAD {
                    return Err(FrameError::ControlTooLong);
                }
                if !fin {
                    return Err(FrameError::ControlNotFinal);
                }
            }
            opcode::TEXT | opcode::BINARY => {
                if self.message_open {
                    return Err(FrameError::MessageNotFinished);
                }
                self.message_open = !fin;
                self.message_compressed = compressed;
                self.frame_final = fin;
            }
            opcode::CONTINUATION => {
                if !self.message_open || compressed {
                    return Err(FrameError::InvalidContinuation);
                }
                self.message_open = !fin;
                self.frame_final = fin;
            }
            other => return Err(FrameError::UnknownOpcode(other)),
        }
        Ok(())
    }

    /// The complete control frame just read.
    fn control_frame(&self) -> Frame {
        match self.control_opcode {
            opcode::PING => Frame::Ping,
            opcode::PONG => Frame::Pong,
            _ => {
                let payload = self.control_payload();
                if payload.len() < 2 {
                    return Frame::Close {
                        status: status::NO_STATUS,
                        body: String::new(),
                    };
                }
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                match std::str::from_utf8(&payload[2..]) {
                    Ok(body) => Frame::Close {
                        status: code,
                        body: body.to_string(),
                    },
                    Err(_) => Frame::Close {
                        status: status::INVALID_PAYLOAD,
                        body: "invalid utf8 body in close frame".to_string(),
                    },
                }
            }
        }
    }
}

fn is_control(opcode: u8) -> bool {
    opcode >= opcode::CLOSE
}

/// XORs `bytes` with the mask `key`, starting at key byte `key_pos`; returns the key
/// position after the last byte. Eight bytes at a time where it can.
pub fn unmask(bytes: &mut [u8], key: [u8; 4], key_pos: usize) -> usize {
    let mut rotated = [0u8; 8];
    for (index, byte) in rotated.iter_mut().enumerate() {
        *byte = key[(key_pos + index) & 3];
    }
    let wide = u64::from_ne_bytes(rotated);
    let mut chunks = bytes.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let value = u64::from_ne_bytes((&*chunk).try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    let rest = chunks.into_remainder();
    // Every whole chunk advanced the key by 8, a multiple of 4: the rest starts at key_pos.
    for (index, byte) in rest.iter_mut().enumerate() {
        *byte ^= key[(key_pos + index) & 3];
    }
    (key_pos + bytes.len()) & 3
}

/// Writes a server frame header (never masked) for a `length`-byte payload into `out`;
/// returns its length (2, 4 or 10). `first`: the frame carries the opcode (a continuation
/// frame carries 0); `compressed` sets RSV1.
pub fn write_header(
    out: &mut [u8; MAX_HEADER_BYTES],
    opcode: u8,
    first: bool,
    fin: bool,
    compressed: bool,
    length: usize,
) -> usize {
    let mut b0 = if first { opcode } else { opcode::CONTINUATION };
    if fin {
        b0 |= FINAL_BIT;
    }
    if compressed {
        b0 |= RSV1_BIT;
    }
    out[0] = b0;
    if length <= 125 {
        out[1] = length as u8;
        2
    } else if length < 65536 {
        out[1] = 126;
        out[2..4].copy_from_slice(&(length as u16).to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(length as u64).to_be_bytes());
        10
    }
}

/// A close frame's payload: the status, then `body`, cut to fit a control frame with
/// `...` at the end as nats-server does.
pub fn close_payload(status: u16, body: &str) -> Vec<u8> {
    let mut payload = Vec::with_capacity(MAX_CONTROL_PAYLOAD);
    payload.extend_from_slice(&status.to_be_bytes());
    if body.len() > MAX_CONTROL_PAYLOAD - 2 {
        let mut cut = MAX_CONTROL_PAYLOAD - 5;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        payload.extend_from_slice(&body.as_bytes()[..cut]);
        payload.extend_from_slice(b"...");
    } else {
        payload.extend_from_slice(body.as_bytes());
    }
    payload
}

/// A whole server control frame (close, ping, pong): header and payload.
pub fn control_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut header = [0u8; MAX_HEADER_BYTES];
    let length = write_header(&mut header, opcode, true, true, false, payload.len());
    let mut frame = Vec::with_capacity(length + payload.len());
    frame.extend_from_slice(&header[..length]);
    frame.extend_from_slice(payload);
    frame
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
