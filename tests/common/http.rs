//! Plain HTTP GETs against a server's monitoring port (`-m`), for tests that read /varz,
//! /connz, /leafz.

use super::REPLY_TIMEOUT;
use std::io::{Read, Write};
use std::net::TcpStream;

/// GET over a fresh connection (`Connection: close`); status and body (de-chunked: nats-
/// server sends larger bodies chunked).
pub fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to monitoring");
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("head and body");
    let status = head[9..12].parse().expect("status code");
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return (status, body.to_string());
    }
    let (mut rest, mut whole) = (body, String::new());
    loop {
        let (size, after) = rest.split_once("\r\n").expect("chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return (status, whole);
        }
        whole.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// [`get`], asserting status 200 and a JSON body; the document and its raw text.
pub fn get_json(port: u16, path: &str) -> (serde_json::Value, String) {
    let (status, body) = get(port, path);
    assert_eq!(status, 200, "{path}: {body}");
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (json, body)
}
