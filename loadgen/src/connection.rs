//! One client connection: a blocking TCP socket (WebSocket frames over it for `ws://`) plus
//! its frame reader, and the handshake
//! (CONNECT, setup lines, PING, then wait for PONG so the server has applied everything).

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::frame::{Frame, FrameReader};
use crate::transport::Stream;
use crate::ws_stream::WsTarget;

/// How long the handshake's PING (and a WebSocket upgrade's 101) may take to come back.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a single write may block: a server that stops reading altogether (a hung broker
/// under test) turns into an error instead of a hung loadgen.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Non-verbose, so the server sends no +OK per command; headers on, so HPUB/HMSG work.
const CONNECT_OPTIONS: &str = "\"verbose\":false,\"pedantic\":false,\"echo\":true,\
\"headers\":true,\"no_responders\":false,\"lang\":\"rust\",\"version\":\"0.1.0\",\
\"name\":\"loadgen\",\"protocol\":1";

/// Credentials a URL carries, as NATS clients read them: `user:pass@` or `token@`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
}

/// The server to connect to, and the CONNECT line every connection sends to it.
#[derive(Clone, Debug)]
pub struct Target {
    pub address: SocketAddr,
    /// `ws://` URLs: the upgrade to do before CONNECT.
    pub websocket: Option<WsTarget>,
    connect_line: Vec<u8>,
}

impl Target {
    pub fn new(
        address: SocketAddr,
        credentials: &Credentials,
        websocket: Option<WsTarget>,
    ) -> Target {
        let mut line = format!("CONNECT {{{CONNECT_OPTIONS}");
        let fields = [
            ("user", &credentials.user),
            ("pass", &credentials.pass),
            ("auth_token", &credentials.token),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                let quoted = serde_json::to_string(value).expect("a string serialises");
                line.push_str(&format!(",\"{name}\":{quoted}"));
            }
        }
        line.push_str("}\r\n");
        Target {
            address,
            websocket,
            connect_line: line.into_bytes(),
        }
    }

    pub fn connect_line(&self) -> &[u8] {
        &self.connect_line
    }
}

pub struct Connection {
    pub stream: Stream,
    pub reader: FrameReader,
}

impl Connection {
    /// Connects (and upgrades, for `ws://`), then sends CONNECT, `setup` (raw protocol lines)
    /// and PING, without waiting for the PONG.
    pub fn start(target: &Target, setup: &[u8], read_buffer_bytes: usize) -> io::Result<Self> {
        let socket = TcpStream::connect(target.address)?;
        socket.set_nodelay(true)?;
        socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
        let websocket = target.websocket.as_ref();
        let mut stream = Stream::connect(socket, websocket, read_buffer_bytes, deadline)?;
        let connect = target.connect_line();
        let mut hello = Vec::with_capacity(connect.len() + setup.len() + 6);
        hello.extend_from_slice(connect);
        hello.extend_from_slice(setup);
        hello.extend_from_slice(b"PING\r\n");
        stream.write_all(&hello)?;
        Ok(Connection {
            stream,
            reader: FrameReader::with_capacity(read_buffer_bytes),
        })
    }

    /// `start`, then wait until the server has answered the PING.
    pub fn open(target: &Target, setup: &[u8]) -> io::Result<Self> {
        let mut connection = Self::start(target, setup, crate::frame::READ_BUFFER_BYTES)?;
        connection.wait_pong(Instant::now() + HANDSHAKE_TIMEOUT)?;
        Ok(connection)
    }

    /// Reads until a PONG arrives, answering the server's PINGs; messages are not expected
    /// here and are dropped. Fails on -ERR, end of stream or the deadline.
    pub fn wait_pong(&mut self, deadline: Instant) -> io::Result<()> {
        loop {
            let mut ping = false;
            while let Some(frame) = self.reader.next_frame().map_err(io::Error::other)? {
                match frame {
                    Frame::Pong => return Ok(()),
                    Frame::Ping => ping = true,
                    Frame::Err(text) => return Err(server_error(text)),
                    Frame::Msg(_) | Frame::Ok | Frame::Info(_) => {}
                }
            }
            if ping {
                self.stream.write_all(b"PONG\r\n")?;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no PONG from server",
                ));
            }
            self.stream.set_read_timeout(Some(remaining))?;
            match self.reader.fill(&mut self.stream) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// PING and wait for the PONG: everything written before has been processed.
    pub fn round_trip(&mut self, deadline: Instant) -> io::Result<()> {
        self.stream.write_all(b"PING\r\n")?;
        self.wait_pong(deadline)
    }
}

pub fn server_error(text: &[u8]) -> io::Error {
    io::Error::other(format!(
        "server sent -ERR {}",
        String::from_utf8_lossy(text)
    ))
}

/// A read timeout shows up as WouldBlock or TimedOut depending on the platform.
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Appends `value` in decimal without allocating.
pub fn push_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// A protocol line such as `SUB subject [queue] sid\r\n`.
pub fn subscribe_line(subject: &str, queue: Option<&str>, sid: u64) -> Vec<u8> {
    let mut line = format!("SUB {subject} ");
    if let Some(queue) = queue {
        line.push_str(queue);
        line.push(' ');
    }
    line.push_str(&format!("{sid}\r\n"));
    line.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for value in [0, 7, 10, 99, 12345, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, value);
            assert_eq!(out, format!("x{value}").into_bytes());
        }
    }

    #[test]
    fn subscribe_lines() {
        assert_eq!(subscribe_line("a.b", None, 1), b"SUB a.b 1\r\n");
        assert_eq!(subscribe_line("a", Some("q"), 22), b"SUB a q 22\r\n");
    }
}
