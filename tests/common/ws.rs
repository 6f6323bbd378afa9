//! A raw WebSocket client for the WebSocket tests: the upgrade request written by hand,
//! masked client frames, server frames read back with a deadline (and inflated when
//! compressed), so tests assert the exact bytes a server sends.

use flate2::{Decompress, FlushDecompress};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The RFC 6455 sample key and its accept value.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The upgrade request a plain client sends, plus `extra` header lines (each ending CRLF).
pub fn upgrade_request(extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A client frame, masked with a fixed key. `first_byte`: FIN, RSV1 and opcode.
pub fn frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![first_byte];
    match payload.len() {
        n if n <= 125 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A final binary frame.
pub fn binary(payload: &[u8]) -> Vec<u8> {
    frame(0x82, payload)
}

/// A server frame as read: its first byte and payload (inflated if RSV1 was set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFrame {
    pub first_byte: u8,
    pub payload: Vec<u8>,
    /// The payload length on the wire (compressed, if it was).
    pub wire_length: usize,
}

/// Raw deflate of a whole message, sync-flushed, its `00 00 ff ff` tail removed.
pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::fast(), false);
    let mut out = Vec::with_capacity(bytes.len() + 64);
    compress
        .compress_vec(bytes, &mut out, flate2::FlushCompress::Sync)
        .expect("deflate");
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn inflate(bytes: &[u8]) -> Vec<u8> {
    let mut input = bytes.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut inflater = Decompress::new(false);
    let mut out = Vec::with_capacity(bytes.len() * 8 + 1024);
    loop {
        let consumed = inflater.total_in() as usize;
        inflater
            .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync)
            .expect("server frames inflate");
        if inflater.total_in() as usize == input.len() && out.len() < out.capacity() {
            return out;
        }
        out.reserve(out.capacity());
    }
}

/// The socket under the frames: plain TCP, or a TLS session over it (`wss://`).
enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(stream) => stream,
            Transport::Tls(stream) => &stream.sock,
        }
    }

    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.read(buffer),
            Transport::Tls(stream) => stream.read(buffer),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Transport::Plain(stream) => stream.write_all(bytes),
            Transport::Tls(stream) => {
                stream.write_all(bytes)?;
                stream.flush()
            }
        }
    }
}

pub struct WsClient {
    stream: Transport,
    buffer: Vec<u8>,
}

impl WsClient {
    /// Connects and sends `request` (an upgrade request or anything else).
    pub fn send_request(port: u16, request: &[u8]) -> WsClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut client = WsClient {
            stream: Transport::Plain(stream),
            buffer: Vec::new(),
        };
        client.send(request);
        client
    }

    /// Connects over TLS (trusting `config`'s roots, naming the server `localhost`),
    /// upgrades with `extra` headers, and returns the client and the response head.
    pub fn connect_tls(
        port: u16,
        config: std::sync::Arc<rustls::ClientConfig>,
        extra: &str,
    ) -> (WsClient, String) {
        let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let session = rustls::ClientConnection::new(config, name).expect("TLS session");
        let mut client = WsClient {
            stream: Transport::Tls(Box::new(rustls::StreamOwned::new(session, tcp))),
            buffer: Vec::new(),
        };
        client.send(upgrade_request(extra).as_bytes());
        let head = client
            .read_head(Instant::now() + Duration::from_secs(10))
            .expect("an answer to the upgrade request");
        (client, head)
    }

    /// Connects, upgrades with `extra` headers, and returns the client and the response
    /// head (through its blank line).
    pub fn connect(port: u16, extra: &str) -> (WsClient, String) {
        let mut client = WsClient::send_request(port, upgrade_request(extra).as_bytes());
        let head = client
            .read_head(Instant::now() + Duration::from_secs(10))
            .expect("an answer to the upgrade request");
        (client, head)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads until `want` more bytes are buffered, EOF or the deadline; false on EOF or
    /// deadline.
    fn fill(&mut self, want: usize, deadline: Instant) -> bool {
        let mut chunk = [0u8; 65536];
        while self.buffer.len() < want {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            self.stream
                .tcp()
                .set_read_timeout(Some(deadline - now))
                .expect("timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false
                }
                Err(_) => return false,
            }
        }
        true
    }

    /// An HTTP response head (through its blank line), as text.
    pub fn read_head(&mut self, deadline: Instant) -> Option<String> {
        loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buffer.drain(..at + 4).collect();
                return Some(String::from_utf8(head).expect("ASCII head"));
            }
            let want = self.buffer.len() + 1;
            if !self.fill(want, deadline) {
                return None;
            }
        }
    }

    /// Exactly `count` raw bytes (e.g. an HTTP body), if they come.
    pub fn read_bytes(&mut self, count: usize, deadline: Instant) -> Option<Vec<u8>> {
        if !self.fill(count, deadline) {
            return None;
        }
        Some(self.buffer.drain(..count).collect())
    }

    /// The next server frame, if one arrives before the deadline.
    pub fn next_frame(&mut self, deadline: Instant) -> Option<ServerFrame> {
        if !self.fill(2, deadline) {
            return None;
        }
        let (first_byte, length_byte) = (self.buffer[0], self.buffer[1]);
        assert_eq!(length_byte & 0x80, 0, "server frames are never masked");
        let (header, length) = match length_byte & 0x7f {
            126 => {
                if !self.fill(4, deadline) {
                    return None;
                }
                (
                    4,
                    u16::from_be_bytes([self.buffer[2], self.buffer[3]]) as usize,
                )
            }
            127 => {
                if !self.fill(10, deadline) {
                    return None;
                }
                let bytes: [u8; 8] = self.buffer[2..10].try_into().unwrap();
                (10, u64::from_be_bytes(bytes) as usize)
            }
            short => (2, short as usize),
        };
        if !self.fill(header + length, deadline) {
            return None;
        }
        let frame: Vec<u8> = self.buffer.drain(..header + length).collect();
        let raw = frame[header..].to_vec();
        let payload = if first_byte & 0x40 != 0 {
            inflate(&raw)
        } else {
            raw
        };
        Some(ServerFrame {
            first_byte,
            payload,
            wire_length: length,
        })
    }

    /// Data frame payloads, concatenated, until they end with `suffix` (frame boundaries
    /// are the server's flushes, which timing decides). Panics at the deadline.
    pub fn read_stream_until(&mut self, suffix: &[u8], timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        let mut stream = Vec::new();
        while !stream.ends_with(suffix) {
            let frame = self.next_frame(deadline).unwrap_or_else(|| {
                panic!(
                    "no {:?} within {timeout:?}; got {:?}",
                    String::from_utf8_lossy(suffix),
                    String::from_utf8_lossy(&stream)
                )
            });
            assert_eq!(
                frame.first_byte & 0x0f,
                2,
                "data frames are binary: {frame:?}"
            );
            stream.extend_from_slice(&frame.payload);
        }
        stream
    }

    /// Whether the server closed the connection (EOF) before the deadline, with nothing
    /// more sent.
    pub fn closed(&mut self, deadline: Instant) -> bool {
        let before = self.buffer.len();
        let more = self.fill(before + 1, deadline);
        !more && self.buffer.len() == before && Instant::now() < deadline
    }
}
