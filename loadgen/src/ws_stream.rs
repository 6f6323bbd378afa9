//! A NATS connection over WebSocket: the HTTP/1.1 upgrade, then a socket whose writes go out
//! as one masked frame each (one per write of loadgen's buffer, as real clients frame each
//! flush) and whose reads return the NATS bytes carried by the server's frames.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use data_encoding::BASE64;
use sha1::{Digest, Sha1};

use crate::connection::is_timeout;
use crate::ws_frame::{Control, Decoder, Encoder, OP_CLOSE, OP_PONG};

/// RFC 6455's GUID appended to the key for `Sec-WebSocket-Accept`.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Longest upgrade response head read before giving up on the server.
pub const RESPONSE_HEAD_BYTES_MAX: usize = 16 * 1024;

/// What loadgen offers when `--ws-compression` is given; nats-server answers with the same
/// parameters.
const DEFLATE_OFFER: &str =
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

/// How to reach the server's WebSocket listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsTarget {
    /// `Host` header value (the URL's host and port).
    pub host: String,
    /// Offer permessage-deflate, and require the server to take it.
    pub compression: bool,
}

/// The upgrade request for `key` (16 random bytes in base64).
pub fn upgrade_request(target: &WsTarget, key: &str) -> String {
    let mut request = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
        target.host
    );
    if target.compression {
        request.push_str(&format!("Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n"));
    }
    request.push_str("\r\n");
    request
}

/// base64(SHA-1(key + GUID)).
pub fn accept_value(key: &str) -> String {
    let mut hash = Sha1::new();
    hash.update(key.as_bytes());
    hash.update(ACCEPT_GUID.as_bytes());
    BASE64.encode(&hash.finalize())
}

/// Checks the response head (through its blank line) to an upgrade with `key`; returns
/// whether permessage-deflate is on.
pub fn check_response(head: &str, key: &str, offered_deflate: bool) -> Result<bool, String> {
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 101 ") {
        return Err(format!("upgrade refused: {status:?}"));
    }
    let mut accept = None;
    let mut deflate = false;
    let (mut upgrade, mut connection) = (false, false);
    for line in lines.filter(|line| !line.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("bad header line {line:?}"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "upgrade" => upgrade = value.eq_ignore_ascii_case("websocket"),
            "connection" => connection = value.eq_ignore_ascii_case("upgrade"),
            "sec-websocket-accept" => accept = Some(value.to_string()),
            "sec-websocket-extensions" => {
                deflate |= value.split(',').any(|extension| {
                    extension.split(';').next().map(str::trim) == Some("permessage-deflate")
                })
            }
            _ => {}
        }
    }
    if !upgrade || !connection {
        return Err("101 without Upgrade: websocket and Connection: Upgrade".into());
    }
    let expected = accept_value(key);
    if accept.as_deref() != Some(expected.as_str()) {
        return Err(format!(
            "Sec-WebSocket-Accept {accept:?}, expected {expected:?}"
        ));
    }
    match (deflate, offered_deflate) {
        (true, false) => Err("server turned on permessage-deflate without an offer".into()),
        (false, true) => Err("server declined permessage-deflate (--ws-compression)".into()),
        (deflate, _) => Ok(deflate),
    }
}

pub struct WsStream {
    socket: TcpStream,
    encoder: Encoder,
    decoder: Decoder,
    compression: bool,
    /// Wire bytes read but not yet decoded, in `raw[start..end]`.
    raw: Vec<u8>,
    start: usize,
    end: usize,
    closed: bool,
    /// Socket reads that returned bytes.
    socket_reads: u64,
}

impl WsStream {
    /// Upgrades `socket` (blocking until the 101 or `deadline`); `read_buffer_bytes` sizes the
    /// wire buffer.
    pub fn upgrade(
        mut socket: TcpStream,
        target: &WsTarget,
        read_buffer_bytes: usize,
        deadline: Instant,
    ) -> io::Result<WsStream> {
        let key = BASE64.encode(&rand_bytes());
        socket.write_all(upgrade_request(target, &key).as_bytes())?;
        let mut raw = vec![0; read_buffer_bytes.max(RESPONSE_HEAD_BYTES_MAX)];
        let mut end = 0;
        let head_end = loop {
            if let Some(at) = raw[..end].windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if end == RESPONSE_HEAD_BYTES_MAX {
                return Err(io::Error::other("upgrade response head too long"));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no upgrade response",
                ));
            }
            socket.set_read_timeout(Some(remaining))?;
            match socket.read(&mut raw[end..RESPONSE_HEAD_BYTES_MAX]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(count) => end += count,
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        };
        let head = String::from_utf8_lossy(&raw[..head_end]);
        let compression =
            check_response(&head, &key, target.compression).map_err(io::Error::other)?;
        // The server's first frames may have come with the head: keep them at the front.
        raw.copy_within(head_end..end, 0);
        end -= head_end;
        raw.truncate(read_buffer_bytes.max(end).max(64));
        raw.shrink_to_fit();
        Ok(WsStream {
            socket,
            encoder: Encoder::new(compression),
            decoder: Decoder::new(compression),
            compression,
            raw,
            start: 0,
            end,
            closed: false,
            socket_reads: 0,
        })
    }

    /// A second handle on the same connection, for a writer thread: its own encoder; its
    /// decoder starts between frames, so only one of the two handles may read.
    pub fn try_clone(&self) -> io::Result<WsStream> {
        Ok(WsStream {
            socket: self.socket.try_clone()?,
            encoder: Encoder::new(self.compression),
            decoder: Decoder::new(self.compression),
            compression: self.compression,
            raw: vec![0; 64],
            start: 0,
            end: 0,
            closed: false,
            socket_reads: 0,
        })
    }

    /// (data frames decoded, socket reads that returned bytes) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.decoder.data_frames, self.socket_reads)
    }

    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    fn answer(&mut self, control: Control) -> io::Result<()> {
        match control {
            Control::Ping(payload) => {
                let frame = self.encoder.control(OP_PONG, &payload);
                self.socket.write_all(frame)
            }
            Control::Close(code) => {
                self.closed = true;
                let payload = code.map(u16::to_be_bytes).unwrap_or_default();
                let payload = if code.is_some() { &payload[..] } else { &[] };
                let frame = self.encoder.control(OP_CLOSE, payload);
                // The peer may be gone already; the close is a courtesy.
                let _ = self.socket.write_all(frame);
                Ok(())
            }
        }
    }
}

impl Read for WsStream {
    /// NATS bytes from the server's frames: at least one byte unless the connection ended
    /// (0) or the socket's read timeout passed (the socket's error).
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.closed {
                return Ok(0);
            }
            let step = self
                .decoder
                .decode(&self.raw[self.start..self.end], out)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            self.start += step.consumed;
            if let Some(control) = step.control {
                self.answer(control)?;
            }
            if step.written > 0 {
                return Ok(step.written);
            }
            if step.consumed > 0 {
                continue;
            }
            if self.start > 0 {
                self.raw.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.raw.len() {
                // Only a control frame (≤ 139 bytes) must be whole to decode.
                self.raw.resize(self.raw.len().max(256) * 2, 0);
            }
            match self.socket.read(&mut self.raw[self.end..])? {
                0 => return Ok(0),
                count => {
                    self.end += count;
                    self.socket_reads += 1;
                }
            }
        }
    }
}

impl Write for WsStream {
    /// One frame carrying all of `buf`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let frame = self.encoder.data(buf);
        self.socket.write_all(frame)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// 16 bytes for the handshake key, from the standard library's random hasher keys.
fn rand_bytes() -> [u8; 16] {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    let low = RandomState::new().hash_one(1u8);
    let high = RandomState::new().hash_one(2u8);
    let mut out = [0; 16];
    out[..8].copy_from_slice(&low.to_ne_bytes());
    out[8..].copy_from_slice(&high.to_ne_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn target(compression: bool) -> WsTarget {
        WsTarget {
            host: "127.0.0.1:8080".into(),
            compression,
        }
    }

    #[test]
    fn accept_is_the_rfc_sample() {
        assert_eq!(accept_value(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn upgrade_requests_are_exact() {
        let plain = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Sec-WebSocket-Version: 13\r\n";
        assert_eq!(upgrade_request(&target(false), KEY), format!("{plain}\r\n"));
        assert_eq!(
            upgrade_request(&target(true), KEY),
            format!(
                "{plain}Sec-WebSocket-Extensions: permessage-deflate; \
                 client_no_context_takeover; server_no_context_takeover\r\n\r\n"
            )
        );
    }

    #[test]
    fn responses_are_checked() {
        let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
        let deflate = "Sec-WebSocket-Extensions: permessage-deflate; \
            server_no_context_takeover; client_no_context_takeover\r\n";
        assert_eq!(check_response(&format!("{ok}\r\n"), KEY, false), Ok(false));
        assert_eq!(
            check_response(&format!("{ok}{deflate}\r\n"), KEY, true),
            Ok(true)
        );
        assert_eq!(
            check_response(&format!("{ok}\r\n"), KEY, true),
            Err("server declined permessage-deflate (--ws-compression)".into())
        );
        assert!(check_response(&format!("{ok}{deflate}\r\n"), KEY, false).is_err());
        let wrong_key = check_response(&format!("{ok}\r\n"), "AAAAAAAAAAAAAAAAAAAAAA==", false);
        assert!(wrong_key.unwrap_err().starts_with("Sec-WebSocket-Accept"));
        assert_eq!(
            check_response("HTTP/1.1 400 Bad Request\r\n\r\n", KEY, false),
            Err("upgrade refused: \"HTTP/1.1 400 Bad Request\"".into())
        );
    }
}
