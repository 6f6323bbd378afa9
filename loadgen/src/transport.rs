//! The byte stream under a connection: plain TCP, or WebSocket frames over TCP. The TCP arm
//! forwards straight to the socket; the WebSocket code runs only for `ws://` URLs.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::ws_stream::{WsStream, WsTarget};

pub enum Stream {
    Tcp(TcpStream),
    Ws(Box<WsStream>),
}

impl Stream {
    /// A connected socket, upgraded first when `websocket` is given (blocking until the 101
    /// or `deadline`).
    pub fn connect(
        socket: TcpStream,
        websocket: Option<&WsTarget>,
        read_buffer_bytes: usize,
        deadline: Instant,
    ) -> io::Result<Stream> {
        Ok(match websocket {
            None => Stream::Tcp(socket),
            Some(target) => Stream::Ws(Box::new(WsStream::upgrade(
                socket,
                target,
                read_buffer_bytes,
                deadline,
            )?)),
        })
    }

    /// A second handle for a writer thread (see `WsStream::try_clone`: one reader only).
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(socket) => Stream::Tcp(socket.try_clone()?),
            Stream::Ws(ws) => Stream::Ws(Box::new(ws.try_clone()?)),
        })
    }

    fn socket(&self) -> &TcpStream {
        match self {
            Stream::Tcp(socket) => socket,
            Stream::Ws(ws) => ws.socket(),
        }
    }

    /// WebSocket only: (data frames received, socket reads that returned bytes).
    pub fn ws_counts(&self) -> Option<(u64, u64)> {
        match self {
            Stream::Tcp(_) => None,
            Stream::Ws(ws) => Some(ws.counts()),
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket().set_read_timeout(timeout)
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(socket) => socket.read(buf),
            Stream::Ws(ws) => ws.read(buf),
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(socket) => socket.write(buf),
            Stream::Ws(ws) => ws.write(buf),
        }
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(socket) => socket.write_all(buf),
            Stream::Ws(ws) => ws.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(socket) => socket.flush(),
            Stream::Ws(ws) => ws.flush(),
        }
    }
}
