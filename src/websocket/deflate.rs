//! permessage-deflate (RFC 7692) with no context takeover either way, as nats-server
//! negotiates it: every message is a raw deflate stream of its own, ended by a sync flush
//! whose `00 00 ff ff` tail is not sent. flate2 does the deflate; this file only frames it.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The tail a sender strips from each message (RFC 7692 §7.2.1), fed back before inflating
/// the message's end.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A compressed message could not be inflated (bad deflate data, or it inflates past the
/// bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// Not deflate data (the engine's words).
    Invalid(String),
    /// The message (compressed or inflated) is longer than `max` bytes.
    TooLarge { max: u64 },
}

impl std::fmt::Display for InflateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InflateError::Invalid(error) => write!(f, "invalid deflate data: {error}"),
            InflateError::TooLarge { max } => {
                write!(
                    f,
                    "compressed message longer than the maximum of {max} bytes"
                )
            }
        }
    }
}

/// Inflates a client's compressed messages as their pieces arrive: no compressed message
/// is gathered, output goes out a scratch buffer at a time.
pub struct Inflater {
    state: Decompress,
    /// Inflated bytes of the current message so far.
    produced: u64,
    /// A message inflating to more ends the connection.
    max_message: u64,
}

impl Inflater {
    pub fn new(max_message: u64) -> Inflater {
        Inflater {
            state: Decompress::new(false),
            produced: 0,
            max_message,
        }
    }

    /// Changes the bound on a message's inflated size (from the next byte on).
    pub fn set_max_message(&mut self, max_message: u64) {
        self.max_message = max_message;
    }

    /// Forgets a message left half inflated (after an error).
    pub fn reset(&mut self) {
        self.state.reset(false);
        self.produced = 0;
    }

    /// Inflates `input`, a piece of the current message (the last one if `message_end`),
    /// into `scratch` (its whole length is used), handing each filled part to `sink`.
    pub fn inflate(
        &mut self,
        input: &[u8],
        message_end: bool,
        scratch: &mut [u8],
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), InflateError> {
        self.run(input, FlushDecompress::None, scratch, sink)?;
        if message_end {
            self.run(&SYNC_TAIL, FlushDecompress::Sync, scratch, sink)?;
            self.state.reset(false);
            self.produced = 0;
        }
        Ok(())
    }

    fn run(
        &mut self,
        mut input: &[u8],
        flush: FlushDecompress,
        scratch: &mut [u8],
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), InflateError> {
        loop {
            let (in_before, out_before) = (self.state.total_in(), self.state.total_out());
            let status = self
                .state
                .decompress(input, scratch, flush)
                .map_err(|error| InflateError::Invalid(error.to_string()))?;
            let consumed = (self.state.total_in() - in_before) as usize;
            let produced = (self.state.total_out() - out_before) as usize;
            input = &input[consumed..];
            if produced > 0 {
                self.produced += produced as u64;
                if self.produced > self.max_message {
                    return Err(InflateError::TooLarge {
                        max: self.max_message,
                    });
                }
                sink(&scratch[..produced]);
            }
            // Done when the input is used up and the output drained (it did not fill the
            // scratch), or when nothing moves (the stream ended, or the window is flushing
            // and the next call goes on).
            let drained = produced < scratch.len();
            let stuck = consumed == 0 && produced == 0;
            if status == Status::StreamEnd || stuck || (input.is_empty() && drained) {
                return Ok(());
            }
        }
    }
}

/// Compresses what one flush sends as one message (the bytes of several NATS operations).
pub struct Deflater {
    state: Compress,
}

impl Default for Deflater {
    fn default() -> Self {
        Deflater {
            // Go's flate.BestSpeed, as nats-server uses.
            state: Compress::new(Compression::fast(), false),
        }
    }
}

impl Deflater {
    /// Appends the compressed form of the concatenated `slices` to `out`, without the sync
    /// tail; the next call starts a fresh stream (no context takeover).
    pub fn compress<'a>(&mut self, slices: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
        self.begin();
        for slice in slices {
            self.append(slice, out);
        }
        self.finish(out);
    }

    /// Starts a message: a fresh stream (no context takeover).
    pub fn begin(&mut self) {
        self.state.reset();
    }

    /// Compresses `slice` as the next bytes of the message begun last, appending to `out`.
    pub fn append(&mut self, slice: &[u8], out: &mut Vec<u8>) {
        self.feed(slice, FlushCompress::None, out);
    }

    /// Ends the message: the sync flush, its tail left off.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.feed(&[], FlushCompress::Sync, out);
        if out.ends_with(&SYNC_TAIL) {
            out.truncate(out.len() - SYNC_TAIL.len());
        }
    }

    fn feed(&mut self, mut input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) {
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(4096));
            }
            let in_before = self.state.total_in();
            // Only fails on a stream error, which a reset stream fed bytes cannot reach.
            let _ = self.state.compress_vec(input, out, flush);
            input = &input[(self.state.total_in() - in_before) as usize..];
            let room_left = out.len() < out.capacity();
            if input.is_empty() && room_left {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_all(inflater: &mut Inflater, pieces: &[&[u8]]) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        let mut scratch = [0u8; 7];
        for (index, piece) in pieces.iter().enumerate() {
            inflater.inflate(
                piece,
                index == pieces.len() - 1,
                &mut scratch,
                &mut |bytes| out.extend_from_slice(bytes),
            )?;
        }
        Ok(out)
    }

    #[test]
    fn a_round_trip_in_any_pieces_gives_the_bytes_back() {
        let text = b"MSG chat.room 1 200\r\n".repeat(40);
        let mut deflater = Deflater::default();
        let mut compressed = Vec::new();
        deflater.compress([&text[..100], &text[100..]].into_iter(), &mut compressed);
        assert!(!compressed.ends_with(&SYNC_TAIL));
        assert!(compressed.len() < text.len() / 4);
        let mut inflater = Inflater::new(1 << 20);
        for cut in [0, 1, 5, compressed.len() / 2, compressed.len()] {
            let out = inflate_all(&mut inflater, &[&compressed[..cut], &compressed[cut..]]);
            assert_eq!(out.as_deref(), Ok(&text[..]), "cut at {cut}");
        }
        // No context takeover: a second message compresses and inflates on its own.
        let mut again = Vec::new();
        deflater.compress([&text[..]].into_iter(), &mut again);
        assert_eq!(again, compressed);
    }

    #[test]
    fn bad_data_and_bombs_are_refused() {
        let mut inflater = Inflater::new(1 << 20);
        assert!(inflate_all(&mut inflater, &[b"\xff\xff\xff\xff"]).is_err());
        let zeros = vec![0u8; 100_000];
        let mut compressed = Vec::new();
        Deflater::default().compress([&zeros[..]].into_iter(), &mut compressed);
        let mut small = Inflater::new(50_000);
        assert_eq!(
            inflate_all(&mut small, &[&compressed]),
            Err(InflateError::TooLarge { max: 50_000 })
        );
    }
}
