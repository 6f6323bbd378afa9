//! Server → client frames: a zero-copy scanner over the bytes read from a socket.
//!
//! `parse_frame` is pure: it looks at a byte slice and returns one whole frame (borrowing the
//! slice) and its length, or `None` when more bytes are needed. `FrameReader` owns the read
//! buffer and keeps a partial frame at its front between reads. Nothing here allocates per
//! message; the buffer only grows when a single frame is larger than it.

use std::io::{self, Read};

use memchr::memchr;

/// Longest control line accepted from the server (INFO is the long one). Longer lines are a
/// protocol error: a broken server must not make loadgen buffer without bound.
pub const LINE_BYTES_MAX: usize = 1 << 20;

/// Initial read buffer size: big enough that one read drains a busy socket.
pub const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Largest frame (line plus payload) the reader grows its buffer for.
pub const FRAME_BYTES_MAX: usize = 128 << 20;

/// One frame sent by the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Msg(Message<'a>),
    Ping,
    Pong,
    Ok,
    Err(&'a [u8]),
    Info(&'a [u8]),
}

/// A delivered message (`MSG` or `HMSG`); every field borrows the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub subject: &'a [u8],
    pub sid: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The header block of an `HMSG` (empty for `MSG`).
    pub header: &'a [u8],
    pub payload: &'a [u8],
}

/// Why the byte stream cannot be a valid server stream; the connection is unusable after it.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The line starts with no operation a server sends.
    UnknownOperation(String),
    /// `MSG`/`HMSG` with the wrong number of arguments or a bad size.
    BadArguments(String),
    /// The payload is not followed by CRLF.
    MissingPayloadEnd,
    /// No LF within `LINE_BYTES_MAX` bytes.
    LineTooLong,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::UnknownOperation(line) => write!(f, "unknown operation in {line:?}"),
            FrameError::BadArguments(line) => write!(f, "bad MSG/HMSG arguments in {line:?}"),
            FrameError::MissingPayloadEnd => write!(f, "payload not followed by CRLF"),
            FrameError::LineTooLong => write!(f, "control line longer than {LINE_BYTES_MAX}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Parses one frame at the start of `buffer`: `Ok(None)` means "need more bytes".
pub fn parse_frame(buffer: &[u8]) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let Some(line_feed) = memchr(b'\n', buffer) else {
        if buffer.len() > LINE_BYTES_MAX {
            return Err(FrameError::LineTooLong);
        }
        return Ok(None);
    };
    let line_end = if line_feed > 0 && buffer[line_feed - 1] == b'\r' {
        line_feed - 1
    } else {
        line_feed
    };
    let line = &buffer[..line_end];
    let after_line = line_feed + 1;
    if let Some(arguments) = line.strip_prefix(b"MSG ") {
        return parse_message(buffer, line, arguments, after_line, false);
    }
    if let Some(arguments) = line.strip_prefix(b"HMSG ") {
        return parse_message(buffer, line, arguments, after_line, true);
    }
    let frame = if line.starts_with(b"PING") {
        Frame::Ping
    } else if line.starts_with(b"PONG") {
        Frame::Pong
    } else if line.starts_with(b"+OK") {
        Frame::Ok
    } else if let Some(text) = line.strip_prefix(b"-ERR") {
        Frame::Err(trim(text))
    } else if let Some(json) = line.strip_prefix(b"INFO") {
        Frame::Info(trim(json))
    } else {
        return Err(FrameError::UnknownOperation(snippet(line)));
    };
    Ok(Some((frame, after_line)))
}

/// `MSG <subject> <sid> [reply] <#bytes>` or `HMSG <subject> <sid> [reply] <#hdr> <#total>`.
fn parse_message<'a>(
    buffer: &'a [u8],
    line: &'a [u8],
    arguments: &'a [u8],
    after_line: usize,
    has_header: bool,
) -> Result<Option<(Frame<'a>, usize)>, FrameError> {
    // One pass over the short argument list; memchr's set-up costs more than it saves here.
    let mut fields: [&[u8]; 5] = [&[]; 5];
    let mut field_count = 0;
    let mut field_start = 0;
    for (index, &byte) in arguments.iter().enumerate() {
        if byte == b' ' {
            if index > field_start {
                if field_count == fields.len() {
                    return Err(FrameError::BadArguments(snippet(line)));
                }
                fields[field_count] = &arguments[field_start..index];
                field_count += 1;
            }
            field_start = index + 1;
        }
    }
    if arguments.len() > field_start {
        if field_count == fields.len() {
            return Err(FrameError::BadArguments(snippet(line)));
        }
        fields[field_count] = &arguments[field_start..];
        field_count += 1;
    }
    let size_count = if has_header { 2 } else { 1 };
    let reply = match field_count.checked_sub(size_count) {
        Some(2) => None,
        Some(3) => Some(fields[2]),
        _ => return Err(FrameError::BadArguments(snippet(line))),
    };
    let bad = || FrameError::BadArguments(snippet(line));
    let total_bytes = parse_size(fields[field_count - 1]).ok_or_else(bad)?;
    let header_bytes = if has_header {
        parse_size(fields[field_count - 2]).ok_or_else(bad)?
    } else {
        0
    };
    if header_bytes > total_bytes {
        return Err(bad());
    }
    let payload_end = after_line + total_bytes;
    if buffer.len() < payload_end + 2 {
        return Ok(None);
    }
    if &buffer[payload_end..payload_end + 2] != b"\r\n" {
        return Err(FrameError::MissingPayloadEnd);
    }
    let message = Message {
        subject: fields[0],
        sid: fields[1],
        reply,
        header: &buffer[after_line..after_line + header_bytes],
        payload: &buffer[after_line + header_bytes..payload_end],
    };
    Ok(Some((Frame::Msg(message), payload_end + 2)))
}

/// ASCII decimal, 1 to 9 digits (the server's own limit).
pub fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0usize, |value, &digit| {
        digit
            .is_ascii_digit()
            .then(|| value * 10 + usize::from(digit - b'0'))
    })
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != b' ').unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

fn snippet(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(64)]).into_owned()
}

/// The read side of a connection: a buffer holding unparsed bytes in `start..end`.
pub struct FrameReader {
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::with_capacity(READ_BUFFER_BYTES)
    }
}

impl FrameReader {
    pub fn with_capacity(bytes: usize) -> Self {
        assert!(bytes > 0);
        FrameReader {
            buffer: vec![0; bytes],
            start: 0,
            end: 0,
        }
    }

    /// Reads once from `source`, after moving the unparsed tail to the front (and growing
    /// the buffer when one frame fills it). Returns the byte count; 0 means end of stream.
    pub fn fill(&mut self, source: &mut impl Read) -> io::Result<usize> {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            let grown = self.buffer.len() * 2;
            if grown > FRAME_BYTES_MAX {
                return Err(io::Error::other("frame larger than FRAME_BYTES_MAX"));
            }
            self.buffer.resize(grown, 0);
        }
        let count = source.read(&mut self.buffer[self.end..])?;
        self.end += count;
        Ok(count)
    }

    /// Appends bytes as if read.
    #[cfg(test)]
    pub fn push(&mut self, bytes: &[u8]) {
        let mut source = bytes;
        while !source.is_empty() {
            self.fill(&mut source)
                .expect("reading from a slice cannot fail");
        }
    }

    /// The next whole frame, or `None` when the buffer holds only part of one.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        let window = &self.buffer[self.start..self.end];
        match parse_frame(window)? {
            None => Ok(None),
            Some((frame, used)) => {
                debug_assert!(used <= window.len());
                self.start += used;
                Ok(Some(frame))
            }
        }
    }

    /// Bytes received but not yet returned as frames.
    #[cfg(test)]
    pub fn pending_bytes(&self) -> usize {
        self.end - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] = b"INFO {\"server_id\":\"x\"} \r\n\
        MSG foo 1 5\r\nhello\r\n\
        MSG foo.bar 22 _INBOX.a.1 3\r\nabc\r\n\
        PING\r\n\
        HMSG foo 2 12 17\r\nNATS/1.0\r\n\r\nhello\r\n\
        HMSG foo 3 reply 12 12\r\nNATS/1.0\r\n\r\n\r\n\
        MSG foo 1 4\r\n\r\n\r\n\r\n\
        MSG foo 1 0\r\n\r\n\
        +OK\r\n\
        -ERR 'Slow Consumer'\r\n\
        PONG\r\n";

    /// What `STREAM` must decode to, frame by frame, as a compact string.
    const EXPECTED: &[&str] = &[
        "INFO {\"server_id\":\"x\"}",
        "MSG foo 1 - [] hello",
        "MSG foo.bar 22 _INBOX.a.1 [] abc",
        "PING",
        "MSG foo 2 - [NATS/1.0\r\n\r\n] hello",
        "MSG foo 3 reply [NATS/1.0\r\n\r\n] ",
        "MSG foo 1 - [] \r\n\r\n",
        "MSG foo 1 - [] ",
        "+OK",
        "-ERR 'Slow Consumer'",
        "PONG",
    ];

    fn describe(frame: &Frame<'_>) -> String {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match frame {
            Frame::Msg(m) => format!(
                "MSG {} {} {} [{}] {}",
                text(m.subject),
                text(m.sid),
                m.reply.map_or("-".to_string(), text),
                text(m.header),
                text(m.payload)
            ),
            Frame::Ping => "PING".into(),
            Frame::Pong => "PONG".into(),
            Frame::Ok => "+OK".into(),
            Frame::Err(t) => format!("-ERR {}", text(t)),
            Frame::Info(t) => format!("INFO {}", text(t)),
        }
    }

    fn drain(reader: &mut FrameReader, out: &mut Vec<String>) {
        while let Some(frame) = reader.next_frame().expect("valid stream") {
            out.push(describe(&frame));
        }
    }

    #[test]
    fn whole_stream_decodes_exactly() {
        let mut reader = FrameReader::with_capacity(16);
        let mut frames = Vec::new();
        reader.push(STREAM);
        drain(&mut reader, &mut frames);
        assert_eq!(frames, EXPECTED);
        assert_eq!(reader.pending_bytes(), 0);
    }

    #[test]
    fn split_at_every_offset_gives_the_same_frames() {
        for split in 0..=STREAM.len() {
            let mut reader = FrameReader::with_capacity(8);
            let mut frames = Vec::new();
            reader.push(&STREAM[..split]);
            drain(&mut reader, &mut frames);
            reader.push(&STREAM[split..]);
            drain(&mut reader, &mut frames);
            assert_eq!(frames, EXPECTED, "split at {split}");
            assert_eq!(reader.pending_bytes(), 0, "split at {split}");
        }
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_frames() {
        let mut reader = FrameReader::with_capacity(4);
        let mut frames = Vec::new();
        for byte in STREAM.chunks(1) {
            reader.push(byte);
            drain(&mut reader, &mut frames);
        }
        assert_eq!(frames, EXPECTED);
    }

    #[test]
    fn many_messages_are_counted_exactly() {
        let mut stream = Vec::new();
        for i in 0..10_000u32 {
            stream.extend_from_slice(format!("MSG s {} 4\r\n", i % 7).as_bytes());
            stream.extend_from_slice(&i.to_le_bytes());
            stream.extend_from_slice(b"\r\n");
        }
        let mut reader = FrameReader::with_capacity(1000);
        let mut source = &stream[..];
        let mut sum = 0u64;
        let mut count = 0u32;
        while reader.fill(&mut source).unwrap() > 0 {
            while let Some(Frame::Msg(m)) = reader.next_frame().unwrap() {
                sum += u64::from(u32::from_le_bytes(m.payload.try_into().unwrap()));
                count += 1;
            }
        }
        assert_eq!(count, 10_000);
        assert_eq!(sum, 9_999 * 10_000 / 2);
    }

    #[test]
    fn malformed_streams_fail() {
        let cases: &[&[u8]] = &[
            b"MSG foo 5\r\nhello\r\n",
            b"MSG foo 1 a b c 5\r\nhello\r\n",
            b"MSG foo 1 x5\r\nhello\r\n",
            b"MSG foo 1 1234567890\r\n",
            b"HMSG foo 1 6 5\r\nhello\r\n",
            b"MSG foo 1 5\r\nhelloXY",
            b"WHAT\r\n",
            b"\r\n",
        ];
        for case in cases {
            assert!(
                parse_frame(case).is_err(),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn incomplete_frames_need_more_bytes() {
        for case in [
            &b"MSG foo 1 5\r\nhell"[..],
            b"MSG foo 1 5\r\nhello\r",
            b"PIN",
        ] {
            assert_eq!(parse_frame(case), Ok(None));
        }
    }

    #[test]
    fn large_frame_grows_the_buffer() {
        let mut stream = b"MSG big 1 100000\r\n".to_vec();
        stream.extend(std::iter::repeat_n(b'z', 100_000));
        stream.extend_from_slice(b"\r\nPING\r\n");
        let mut reader = FrameReader::with_capacity(64);
        reader.push(&stream);
        match reader.next_frame().unwrap() {
            Some(Frame::Msg(m)) => assert_eq!(m.payload.len(), 100_000),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(reader.next_frame().unwrap(), Some(Frame::Ping));
    }

    #[test]
    fn sizes_parse_like_the_server() {
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"005"), Some(5));
        assert_eq!(parse_size(b"999999999"), Some(999_999_999));
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"1000000000"), None);
        assert_eq!(parse_size(b"-1"), None);
    }
}
