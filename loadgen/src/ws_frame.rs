//! RFC 6455 framing as a client speaks it, without sockets: `Encoder` turns each buffer
//! loadgen writes into one masked binary frame (deflated first when permessage-deflate was
//! agreed), and `Decoder` turns the server's frames back into the NATS byte stream, handing
//! control frames to the caller. permessage-deflate runs with no context takeover on either
//! side (as nats-server negotiates it): every message is deflated and inflated on its own,
//! its `00 00 ff ff` sync-flush tail stripped on the wire.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const RSV2_RSV3: u8 = 0x30;
const MASK_BIT: u8 = 0x80;

/// The tail a sync flush ends with; permessage-deflate leaves it off the wire.
pub const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Largest control frame payload (RFC 6455 §5.5).
pub const CONTROL_PAYLOAD_MAX: usize = 125;

/// Largest server frame payload loadgen accepts; over it the stream is broken (a bad
/// length must not make loadgen buffer without bound).
pub const SERVER_FRAME_BYTES_MAX: u64 = 64 << 20;

/// Largest inflated message; a deflate bomb is an error past it.
pub const INFLATED_BYTES_MAX: usize = 128 << 20;

/// Why the server's byte stream is not valid WebSocket; the connection is unusable after it.
#[derive(Debug, PartialEq, Eq)]
pub enum WsError {
    MaskedServerFrame,
    ReservedBits(u8),
    UnknownOpcode(u8),
    BadControlFrame,
    FrameTooLong(u64),
    UnexpectedContinuation,
    UnfinishedMessage,
    UnexpectedCompression,
    BadDeflate(String),
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::MaskedServerFrame => write!(f, "server frame is masked"),
            WsError::ReservedBits(byte) => write!(f, "reserved bits set: {byte:#04x}"),
            WsError::UnknownOpcode(op) => write!(f, "unknown opcode {op}"),
            WsError::BadControlFrame => write!(f, "control frame fragmented or over 125 bytes"),
            WsError::FrameTooLong(len) => write!(f, "frame of {len} bytes over the limit"),
            WsError::UnexpectedContinuation => write!(f, "continuation frame without a message"),
            WsError::UnfinishedMessage => write!(f, "new message before the last one finished"),
            WsError::UnexpectedCompression => write!(f, "compressed frame not negotiated"),
            WsError::BadDeflate(why) => write!(f, "invalid deflate data: {why}"),
        }
    }
}

impl std::error::Error for WsError {}

/// XORs `bytes` with the 4-byte `mask`, the first byte taking `mask[0]`; eight bytes a step.
pub fn apply_mask(bytes: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = bytes.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (index, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[index % 4];
    }
}

/// Appends one masked client frame: `first_byte` (FIN, RSV1, opcode), then length, key and
/// the masked payload.
pub fn encode_client_frame(out: &mut Vec<u8>, first_byte: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(first_byte);
    match payload.len() {
        n if n <= 125 => out.push(MASK_BIT | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(MASK_BIT | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(MASK_BIT | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask);
}

/// Writes each buffer as one frame. Masks come from a xorshift generator seeded from the
/// standard library's random hasher keys: unpredictable enough for a load generator, and no
/// system call per frame.
pub struct Encoder {
    deflate: Option<Compress>,
    deflated: Vec<u8>,
    frame: Vec<u8>,
    state: u64,
}

impl Encoder {
    pub fn new(compression: bool) -> Encoder {
        let seed = RandomState::new().hash_one(0x5eed_u64) | 1;
        Encoder {
            // Level 1: the client's deflate costs loadgen CPU on the machine it measures.
            deflate: compression.then(|| Compress::new(Compression::fast(), false)),
            deflated: Vec::new(),
            frame: Vec::new(),
            state: seed,
        }
    }

    fn next_mask(&mut self) -> [u8; 4] {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state as u32).to_ne_bytes()
    }

    /// One final binary frame carrying `payload` (deflated if negotiated).
    pub fn data(&mut self, payload: &[u8]) -> &[u8] {
        let mask = self.next_mask();
        self.frame.clear();
        match self.deflate.as_mut() {
            None => encode_client_frame(&mut self.frame, FIN | OP_BINARY, payload, mask),
            Some(deflate) => {
                deflate_message(deflate, payload, &mut self.deflated);
                encode_client_frame(
                    &mut self.frame,
                    FIN | RSV1 | OP_BINARY,
                    &self.deflated,
                    mask,
                );
            }
        }
        &self.frame
    }

    /// One control frame (`payload` at most 125 bytes: longer is cut there).
    pub fn control(&mut self, opcode: u8, payload: &[u8]) -> &[u8] {
        let mask = self.next_mask();
        self.frame.clear();
        let payload = &payload[..payload.len().min(CONTROL_PAYLOAD_MAX)];
        encode_client_frame(&mut self.frame, FIN | opcode, payload, mask);
        &self.frame
    }
}

/// Raw deflate of a whole message with a fresh window, sync-flushed, tail stripped.
pub fn deflate_message(deflate: &mut Compress, input: &[u8], out: &mut Vec<u8>) {
    deflate.reset();
    out.clear();
    out.reserve(input.len() / 2 + 64);
    loop {
        let consumed = deflate.total_in() as usize;
        deflate
            .compress_vec(&input[consumed..], out, FlushCompress::Sync)
            .expect("deflating into a Vec cannot fail");
        // Done when all input is in and the flush had room to finish.
        if deflate.total_in() as usize == input.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    debug_assert!(out.ends_with(&DEFLATE_TAIL));
    out.truncate(out.len() - DEFLATE_TAIL.len());
}

/// Inflates one permessage-deflate message (tail stripped) into `out`, replacing it.
#[cfg(test)]
pub fn inflate_message(
    inflate: &mut Decompress,
    message: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), WsError> {
    inflate.reset(false);
    message.extend_from_slice(&DEFLATE_TAIL);
    out.clear();
    out.reserve(message.len() * 4 + 64);
    loop {
        let consumed = inflate.total_in() as usize;
        let status = inflate
            .decompress_vec(&message[consumed..], out, FlushDecompress::Sync)
            .map_err(|e| WsError::BadDeflate(e.to_string()))?;
        let all_in = inflate.total_in() as usize == message.len();
        if (all_in && out.len() < out.capacity()) || status == Status::StreamEnd {
            return Ok(());
        }
        if out.len() >= INFLATED_BYTES_MAX {
            return Err(WsError::BadDeflate(
                "message inflates past the limit".into(),
            ));
        }
        if !all_in && status == Status::BufError && out.len() < out.capacity() {
            return Err(WsError::BadDeflate("truncated".into()));
        }
        out.reserve(out.capacity().max(64));
    }
}

/// A server frame's header.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: u8,
    pub payload_len: u64,
    pub header_len: usize,
}

/// Reads a server frame header from the start of `bytes`; `None` until it is all there.
pub fn parse_server_head(bytes: &[u8]) -> Result<Option<Head>, WsError> {
    let [first, second, ..] = *bytes else {
        return Ok(None);
    };
    if first & RSV2_RSV3 != 0 {
        return Err(WsError::ReservedBits(first));
    }
    if second & MASK_BIT != 0 {
        return Err(WsError::MaskedServerFrame);
    }
    let opcode = first & 0x0f;
    if !matches!(
        opcode,
        OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
    ) {
        return Err(WsError::UnknownOpcode(opcode));
    }
    let (payload_len, header_len) = match second & 0x7f {
        126 => match bytes.get(2..4) {
            None => return Ok(None),
            Some(len) => (u64::from(u16::from_be_bytes([len[0], len[1]])), 4),
        },
        127 => match bytes.get(2..10) {
            None => return Ok(None),
            Some(len) => (u64::from_be_bytes(len.try_into().expect("8 bytes")), 10),
        },
        len => (u64::from(len), 2),
    };
    let fin = first & FIN != 0;
    if opcode >= OP_CLOSE && (!fin || payload_len > CONTROL_PAYLOAD_MAX as u64) {
        return Err(WsError::BadControlFrame);
    }
    if payload_len > SERVER_FRAME_BYTES_MAX {
        return Err(WsError::FrameTooLong(payload_len));
    }
    Ok(Some(Head {
        fin,
        rsv1: first & RSV1 != 0,
        opcode,
        payload_len,
        header_len,
    }))
}

/// A control frame the caller must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    Ping(Vec<u8>),
    /// The close frame's status code, if it carried one.
    Close(Option<u16>),
}

/// What one `Decoder::decode` call did.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct Step {
    /// Wire bytes used from the input.
    pub consumed: usize,
    /// NATS bytes written to the output.
    pub written: usize,
    /// A ping or close met; decoding stopped right after it.
    pub control: Option<Control>,
}

/// Server frames → NATS bytes, across any split of the input. A compressed message is
/// gathered whole (compressed), then inflated straight into the callers' outputs.
pub struct Decoder {
    inflate: Option<Decompress>,
    /// Payload bytes of the current data frame still to come.
    remaining: u64,
    /// The current data frame is the last of its message.
    fin: bool,
    /// A message is open: its frames so far lacked FIN.
    in_message: bool,
    /// The open message is compressed.
    compressed: bool,
    /// The compressed message's bytes so far (its deflate tail appended once it is whole).
    deflated: Vec<u8>,
    /// The whole compressed message is being inflated, straight into the callers' output
    /// (no buffer of the inflated message: a server may send megabytes in one message);
    /// `deflated[deflated_at..]` is still to go in.
    inflating: bool,
    deflated_at: usize,
    /// Data frames started so far (a server's framing, reported per received message).
    pub data_frames: u64,
}

impl Decoder {
    pub fn new(compression: bool) -> Decoder {
        Decoder {
            inflate: compression.then(|| Decompress::new(false)),
            remaining: 0,
            fin: true,
            in_message: false,
            compressed: false,
            deflated: Vec::new(),
            inflating: false,
            deflated_at: 0,
            data_frames: 0,
        }
    }

    /// Decodes from `input` into `out` until `out` is full, `input` is used up (a partial
    /// header stays unconsumed) or a ping/close frame is met.
    pub fn decode(&mut self, input: &[u8], out: &mut [u8]) -> Result<Step, WsError> {
        let mut step = Step::default();
        loop {
            if self.inflating {
                step.written += self.inflate_into(&mut out[step.written..])?;
            }
            if self.inflating || step.written == out.len() {
                return Ok(step);
            }
            let input_left = &input[step.consumed..];
            if self.remaining > 0 {
                if input_left.is_empty() {
                    return Ok(step);
                }
                let available = input_left.len().min(self.remaining as usize);
                if self.compressed {
                    self.deflated.extend_from_slice(&input_left[..available]);
                    step.consumed += available;
                    self.remaining -= available as u64;
                    self.finish_compressed()?;
                } else {
                    let count = available.min(out.len() - step.written);
                    out[step.written..step.written + count].copy_from_slice(&input_left[..count]);
                    step.written += count;
                    step.consumed += count;
                    self.remaining -= count as u64;
                }
                continue;
            }
            let Some(head) = parse_server_head(input_left)? else {
                return Ok(step);
            };
            if head.opcode >= OP_CLOSE {
                let total = head.header_len + head.payload_len as usize;
                let Some(payload) = input_left.get(head.header_len..total) else {
                    return Ok(step);
                };
                step.consumed += total;
                match head.opcode {
                    OP_PING => step.control = Some(Control::Ping(payload.to_vec())),
                    OP_CLOSE => {
                        let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                        step.control = Some(Control::Close(code));
                    }
                    _ => continue, // pong: nothing to do
                }
                return Ok(step);
            }
            self.start_data_frame(&head)?;
            step.consumed += head.header_len;
            self.finish_compressed()?;
        }
    }

    fn start_data_frame(&mut self, head: &Head) -> Result<(), WsError> {
        self.data_frames += 1;
        if head.opcode == OP_CONTINUATION {
            if !self.in_message {
                return Err(WsError::UnexpectedContinuation);
            }
            if head.rsv1 {
                return Err(WsError::ReservedBits(0x40));
            }
        } else {
            if self.in_message {
                return Err(WsError::UnfinishedMessage);
            }
            if head.rsv1 && self.inflate.is_none() {
                return Err(WsError::UnexpectedCompression);
            }
            self.compressed = head.rsv1;
            self.deflated.clear();
        }
        self.in_message = !head.fin;
        self.fin = head.fin;
        self.remaining = head.payload_len;
        Ok(())
    }

    /// Inflates the compressed message once its last frame is all in.
    fn finish_compressed(&mut self) -> Result<(), WsError> {
        if !self.compressed || self.remaining > 0 || !self.fin {
            return Ok(());
        }
        self.compressed = false;
        self.inflate
            .as_mut()
            .expect("compression was negotiated")
            .reset(false);
        self.deflated.extend_from_slice(&DEFLATE_TAIL);
        self.deflated_at = 0;
        self.inflating = true;
        Ok(())
    }

    /// Inflates more of the whole compressed message into `out`; returns the bytes written.
    /// `inflating` stays set while the message may have more to give (`out` was filled).
    fn inflate_into(&mut self, out: &mut [u8]) -> Result<usize, WsError> {
        let inflate = self.inflate.as_mut().expect("compression was negotiated");
        let mut written = 0;
        while written < out.len() {
            let (in_before, out_before) = (inflate.total_in(), inflate.total_out());
            let status = inflate
                .decompress(
                    &self.deflated[self.deflated_at..],
                    &mut out[written..],
                    FlushDecompress::Sync,
                )
                .map_err(|e| WsError::BadDeflate(e.to_string()))?;
            let consumed = (inflate.total_in() - in_before) as usize;
            let produced = (inflate.total_out() - out_before) as usize;
            self.deflated_at += consumed;
            written += produced;
            if inflate.total_out() > INFLATED_BYTES_MAX as u64 {
                return Err(WsError::BadDeflate(
                    "message inflates past the limit".into(),
                ));
            }
            let all_in = self.deflated_at == self.deflated.len();
            // All input in and room left over: the sync flush put out everything.
            if (all_in && written < out.len()) || status == Status::StreamEnd {
                self.inflating = false;
                return Ok(written);
            }
            if consumed == 0 && produced == 0 {
                return Err(WsError::BadDeflate("truncated".into()));
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unmasked server frame.
    fn server_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![first_byte];
        match payload.len() {
            n if n <= 125 => out.push(n as u8),
            n if n <= 65535 => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    fn deflated(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        deflate_message(
            &mut Compress::new(Compression::fast(), false),
            bytes,
            &mut out,
        );
        out
    }

    /// Everything `decode` yields from `wire` fed in pieces of `piece` bytes into outputs
    /// of `out_len` bytes: the NATS bytes and the controls in order.
    fn decode_all(
        wire: &[u8],
        piece: usize,
        out_len: usize,
        compression: bool,
    ) -> (Vec<u8>, Vec<Control>) {
        let mut decoder = Decoder::new(compression);
        let (mut nats, mut controls) = (Vec::new(), Vec::new());
        let mut pending: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut out = vec![0; out_len];
        loop {
            let step = decoder.decode(&pending, &mut out).unwrap();
            nats.extend_from_slice(&out[..step.written]);
            pending.drain(..step.consumed);
            controls.extend(step.control.clone());
            let stuck = step.written == 0 && step.consumed == 0 && step.control.is_none();
            if stuck {
                if fed == wire.len() {
                    break;
                }
                let next = (fed + piece).min(wire.len());
                pending.extend_from_slice(&wire[fed..next]);
                fed = next;
            }
        }
        assert!(pending.is_empty(), "undecoded tail {pending:?}");
        (nats, controls)
    }

    #[test]
    fn mask_matches_the_bytewise_rule_and_round_trips() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..40 {
            let original: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(31)).collect();
            let mut bytes = original.clone();
            apply_mask(&mut bytes, mask);
            let expected: Vec<u8> = original
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            assert_eq!(bytes, expected, "length {len}");
            apply_mask(&mut bytes, mask);
            assert_eq!(bytes, original);
        }
    }

    #[test]
    fn client_frames_have_the_rfc_bytes() {
        // RFC 6455 §5.7: a masked text "Hello".
        let mut out = Vec::new();
        encode_client_frame(&mut out, 0x81, b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(
            out,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        let mask = [1, 2, 3, 4];
        for (len, header) in [
            (125, vec![0x82, 0x80 | 125]),
            (126, vec![0x82, 0xfe, 0x00, 0x7e]),
            (65535, vec![0x82, 0xfe, 0xff, 0xff]),
            (65536, vec![0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let mut out = Vec::new();
            encode_client_frame(&mut out, 0x82, &vec![0; len], mask);
            assert_eq!(out[..header.len()], header[..], "length {len}");
            assert_eq!(out[header.len()..header.len() + 4], mask);
            assert_eq!(out.len(), header.len() + 4 + len);
        }
    }

    #[test]
    fn encoder_frames_unmask_and_inflate_to_the_input() {
        let payload = b"PUB a 5\r\nhello\r\n".repeat(50);
        for compression in [false, true] {
            let mut encoder = Encoder::new(compression);
            let frame = encoder.data(&payload).to_vec();
            assert_eq!(frame[0], if compression { 0xc2 } else { 0x82 });
            let (len, at) = match frame[1] & 0x7f {
                126 => (usize::from(u16::from_be_bytes([frame[2], frame[3]])), 4),
                len => (usize::from(len), 2),
            };
            assert_eq!(frame[1] & 0x80, 0x80, "client frames are masked");
            let mask: [u8; 4] = frame[at..at + 4].try_into().unwrap();
            let mut body = frame[at + 4..].to_vec();
            assert_eq!(body.len(), len);
            apply_mask(&mut body, mask);
            if compression {
                assert!(body.len() < payload.len() / 10, "{} bytes", body.len());
                let mut inflated = Vec::new();
                inflate_message(&mut Decompress::new(false), &mut body, &mut inflated).unwrap();
                body = inflated;
            }
            assert_eq!(body, payload);
        }
        let mut encoder = Encoder::new(false);
        let pong = encoder.control(OP_PONG, b"hi").to_vec();
        assert_eq!(pong[..2], [0x8a, 0x82]);
        let mut body = pong[6..].to_vec();
        apply_mask(&mut body, pong[2..6].try_into().unwrap());
        assert_eq!(body, b"hi");
    }

    #[test]
    fn deflate_round_trip_and_the_rfc_7692_sample() {
        // RFC 7692 §7.2.3.1: "Hello" compressed with no context takeover.
        let mut sample = vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut out = Vec::new();
        inflate_message(&mut Decompress::new(false), &mut sample, &mut out).unwrap();
        assert_eq!(out, b"Hello");
        let mut inflate = Decompress::new(false);
        for input in [&b""[..], b"x", &b"MSG a 1 3\r\nabc\r\n".repeat(5000)] {
            let mut message = deflated(input);
            assert!(!message.ends_with(&DEFLATE_TAIL));
            inflate_message(&mut inflate, &mut message, &mut out).unwrap();
            assert_eq!(out, input);
        }
        let mut garbage = vec![0xff; 16];
        assert!(matches!(
            inflate_message(&mut inflate, &mut garbage, &mut out),
            Err(WsError::BadDeflate(_))
        ));
    }

    /// Every split of a stream of frames, into outputs of every small size, gives the same
    /// NATS bytes and the same controls at the same place.
    #[test]
    fn every_split_gives_the_same_stream() {
        let big = b"MSG big 1 300\r\n".iter().chain(&[b'z'; 300]).copied();
        let big: Vec<u8> = big.chain(*b"\r\n").collect();
        let mut wire = server_frame(0x82, b"INFO {}\r\n");
        wire.extend(server_frame(0x02, b"MSG a 1 5\r\nhe")); // fragment 1
        wire.extend(server_frame(0x89, b"p1")); // ping between fragments
        wire.extend(server_frame(0x80, b"llo\r\n")); // continuation, FIN
        wire.extend(server_frame(0x8a, b"")); // pong: ignored
        wire.extend(server_frame(0x81, &big)); // text, 126 length form
        wire.extend(server_frame(0xc2, &deflated(b"PING\r\nMSG c 2 1\r\nx\r\n")));
        wire.extend(server_frame(0x42, &deflated(b"PONG\r\n")[..3]));
        wire.extend(server_frame(0x80, &deflated(b"PONG\r\n")[3..]));
        wire.extend(server_frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e']));
        let mut expected = b"INFO {}\r\nMSG a 1 5\r\nhello\r\n".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"PING\r\nMSG c 2 1\r\nx\r\nPONG\r\n");
        let controls = vec![Control::Ping(b"p1".to_vec()), Control::Close(Some(1000))];
        for piece in 1..=wire.len() {
            for out_len in [1, 3, 64, 4096] {
                let (nats, seen) = decode_all(&wire, piece, out_len, true);
                assert_eq!(nats, expected, "pieces of {piece}, outputs of {out_len}");
                assert_eq!(seen, controls, "pieces of {piece}, outputs of {out_len}");
            }
        }
    }

    /// A compressed message far larger than the output (as a server flushing megabytes
    /// sends) comes out whole, in order, output after output, and the frames after it too;
    /// invalid deflate data is an error.
    #[test]
    fn a_long_compressed_message_is_inflated_output_by_output() {
        let long: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut wire = server_frame(0xc2, &deflated(&long));
        wire.extend(server_frame(0x82, b"PONG\r\n"));
        let mut expected = long.clone();
        expected.extend_from_slice(b"PONG\r\n");
        for (piece, out_len) in [(wire.len(), 4096), (1000, 4096), (65536, 7)] {
            let (nats, controls) = decode_all(&wire, piece, out_len, true);
            assert_eq!(
                nats.len(),
                expected.len(),
                "pieces of {piece}, outputs of {out_len}"
            );
            assert!(nats == expected, "pieces of {piece}, outputs of {out_len}");
            assert!(controls.is_empty());
        }
        let mut decoder = Decoder::new(true);
        let mut out = vec![0; 4096];
        let frame = server_frame(0xc2, &[0xff; 16]);
        let error = decoder.decode(&frame, &mut out).unwrap_err();
        assert!(matches!(error, WsError::BadDeflate(_)), "{error:?}");
    }

    #[test]
    fn bad_server_frames_are_errors() {
        let cases: [(&[u8], WsError); 7] = [
            (&[0x82, 0x81, 1, 2, 3, 4, 5], WsError::MaskedServerFrame),
            (&[0xa2, 0x00], WsError::ReservedBits(0xa2)),
            (&[0x83, 0x00], WsError::UnknownOpcode(3)),
            (&[0x09, 0x00], WsError::BadControlFrame),
            (&[0x89, 126, 0, 126], WsError::BadControlFrame),
            (&[0x80, 0x00], WsError::UnexpectedContinuation),
            (&[0xc2, 0x00], WsError::UnexpectedCompression),
        ];
        for (wire, error) in cases {
            let mut decoder = Decoder::new(false);
            assert_eq!(
                decoder.decode(wire, &mut [0; 64]),
                Err(error),
                "{wire:02x?}"
            );
        }
        let mut too_long = vec![0x82, 127];
        too_long.extend_from_slice(&(SERVER_FRAME_BYTES_MAX + 1).to_be_bytes());
        let mut decoder = Decoder::new(false);
        let result = decoder.decode(&too_long, &mut [0; 64]);
        assert_eq!(
            result,
            Err(WsError::FrameTooLong(SERVER_FRAME_BYTES_MAX + 1))
        );
        let mut decoder = Decoder::new(false);
        let unfinished = [0x02, 0x01, b'a', 0x82, 0x01, b'b'];
        let result = decoder.decode(&unfinished, &mut [0; 64]);
        assert_eq!(result, Err(WsError::UnfinishedMessage));
    }
}
