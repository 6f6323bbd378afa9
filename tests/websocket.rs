//! NATS over WebSocket (`websocket {}`), with a raw client that writes the upgrade request
//! and masked frames by hand and reads the server's frames back: the 101 answer byte for
//! byte, INFO in the first frame, NATS operations split across frames and fragments,
//! ping/pong, close frames and their codes, framing faults, permessage-deflate both ways,
//! browser frame sizes, Go's HTTP answers to refused requests (and its keep-alive after
//! them), and a WebSocket client and TCP clients exchanging messages across cores.
//!
//! `RINGMQ_TEST_SERVER=nats-server` runs them against nats-server 2.9.10 (whose close
//! frame after a framing fault races its own close, so only ringmq's is asserted there).

mod common;

use common::leaf::{temp_dir, write_conf};
use common::ws::{binary, deflate, frame, upgrade_request, WsClient, ACCEPT};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::time::Instant;

const WS_LINE: &str = "Listening for websocket clients on ws://";

/// A server with a WebSocket listener configured by `block` (the inside of `websocket {}`
/// besides `listen` and `no_tls`); returns it and its WebSocket port.
fn start(name: &str, block: &str) -> (Server, u16) {
    start_conf(
        name,
        &format!("websocket {{\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n  {block}\n}}\n"),
    )
}

/// A server started from a whole configuration file (and monitoring if `monitor`); returns
/// it and its WebSocket port.
fn start_with(name: &str, body: &str, monitor: bool) -> (Server, u16) {
    let dir = temp_dir("ws", name);
    let conf = write_conf(&dir, "ws.conf", body);
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let opts = Opts {
        monitor,
        ..Opts::default()
    };
    let server = Server::start_launch(opts, &launch);
    let port = server.listening_port(WS_LINE);
    (server, port)
}

/// [`start_with`] without monitoring.
fn start_conf(name: &str, body: &str) -> (Server, u16) {
    start_with(name, body, false)
}

fn deadline() -> Instant {
    Instant::now() + REPLY_TIMEOUT
}

/// Upgrades, checks the first frame is INFO (a whole line, one binary final frame) and
/// sends CONNECT; returns the client.
fn connected(port: u16, extra: &str) -> WsClient {
    let (mut client, head) = WsClient::connect(port, extra);
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    let info = client.next_frame(deadline()).expect("INFO frame");
    assert_eq!(info.first_byte & 0x8f, 0x82, "INFO in a final binary frame");
    assert!(info.payload.starts_with(b"INFO {") && info.payload.ends_with(b"} \r\n"));
    assert_eq!(info.payload.iter().filter(|&&b| b == b'\n').count(), 1);
    client.send(&binary(b"CONNECT {\"verbose\":false,\"headers\":true}\r\n"));
    client
}

#[test]
fn the_upgrade_is_answered_as_nats_server_answers_it() {
    let (_server, port) = start("upgrade", "compression: true");
    let (mut plain, head) = WsClient::connect(port, "");
    assert_eq!(
        head,
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\r\n")
    );
    let info = plain.next_frame(deadline()).unwrap();
    assert_eq!(info.first_byte, 0x82, "plain INFO: FIN + binary, no RSV1");
    // A client offering permessage-deflate (as Chrome does) gets it, and INFO (over 64
    // bytes) comes compressed.
    let (mut compressed, head) = WsClient::connect(
        port,
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    );
    assert_eq!(
        head,
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n")
    );
    let info_compressed = compressed.next_frame(deadline()).unwrap();
    assert_eq!(info_compressed.first_byte, 0xC2, "FIN + RSV1 + binary");
    assert!(info_compressed.wire_length < info_compressed.payload.len());
    assert!(info_compressed.payload.starts_with(b"INFO {\"server_id\":"));
}

#[test]
fn nats_operations_cross_frame_boundaries_both_ways() {
    let (_server, port) = start("frames", "");
    let mut client = connected(port, "");
    // One line split over three frames, the middle one ending mid-payload; then a message
    // in a fragmented text message with a ping between its fragments.
    client.send(&binary(b"SUB chat."));
    client.send(&binary(b"room 1\r\nPUB chat.room 5\r\nhel"));
    client.send(&frame(0x81, b"lo\r\nPING\r\n"));
    assert_eq!(
        client.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"MSG chat.room 1 5\r\nhello\r\nPONG\r\n"
    );
    client.send(&frame(0x01, b"PUB chat.room 2\r\n"));
    client.send(&frame(0x89, b"hi"));
    client.send(&frame(0x00, b"o"));
    client.send(&frame(0x80, b"k\r\nPING\r\n"));
    let pong = client.next_frame(deadline()).unwrap();
    assert_eq!(
        (pong.first_byte, pong.payload.as_slice()),
        (0x8A, &b"hi"[..])
    );
    assert_eq!(
        client.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"MSG chat.room 1 2\r\nok\r\nPONG\r\n"
    );
    // Many operations in one frame.
    let mut many = Vec::new();
    for i in 0..50 {
        many.extend_from_slice(format!("PUB chat.room 2\r\n{i:02}\r\n").as_bytes());
    }
    many.extend_from_slice(b"PING\r\n");
    client.send(&binary(&many));
    let mut expected = Vec::new();
    for i in 0..50 {
        expected.extend_from_slice(format!("MSG chat.room 1 2\r\n{i:02}\r\n").as_bytes());
    }
    expected.extend_from_slice(b"PONG\r\n");
    assert_eq!(
        client.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        expected
    );
}

#[test]
fn a_close_frame_is_echoed_and_the_connection_ends() {
    let (_server, port) = start("close", "");
    let mut client = connected(port, "");
    client.send(&binary(b"PING\r\n"));
    assert_eq!(
        client.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"PONG\r\n"
    );
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    client.send(&frame(0x88, &payload));
    let echo = client.next_frame(deadline()).expect("close echoed");
    assert_eq!(
        (echo.first_byte, echo.payload.as_slice()),
        (0x88, &b"\x03\xe8bye"[..])
    );
    assert!(client.closed(deadline()));
    // Without a status, nats-server answers 1005.
    let mut client = connected(port, "");
    client.send(&frame(0x88, b""));
    let echo = client.next_frame(deadline()).expect("close echoed");
    assert_eq!(echo.payload, b"\x03\xed");
}

#[test]
fn a_protocol_error_is_answered_then_closed_with_1002() {
    let (_server, port) = start("parse", "");
    let mut client = connected(port, "");
    client.send(&binary(b"PING\r\nFOO\r\n"));
    assert_eq!(
        client.read_stream_until(b"'Unknown Protocol Operation'\r\n", REPLY_TIMEOUT),
        b"PONG\r\n-ERR 'Unknown Protocol Operation'\r\n"
    );
    let close = client.next_frame(deadline()).expect("close frame");
    assert_eq!(
        (close.first_byte, close.payload.as_slice()),
        (0x88, &b"\x03\xeaProtocol Violation"[..])
    );
    assert!(client.closed(deadline()));
}

#[test]
fn framing_faults_close_with_nats_servers_words() {
    let (server, port) = start("faults", "");
    let unmasked = [0x82u8, 0x06, b'P', b'I', b'N', b'G', b'\r', b'\n'];
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("unmasked", unmasked.to_vec(), "mask bit missing"),
        ("reserved opcode", frame(0x83, b"x"), "unknown opcode 3"),
        (
            "fragmented ping",
            frame(0x09, b"x"),
            "control frame does not have final bit set",
        ),
        (
            "stray continuation",
            frame(0x80, b"PING\r\n"),
            "invalid continuation frame",
        ),
        (
            "long ping",
            frame(0x89, &[b'x'; 126]),
            "control frame length bigger than maximum allowed of 125 bytes",
        ),
    ];
    for (name, bad, words) in cases {
        let mut client = connected(port, "");
        client.send(&binary(b"PING\r\n"));
        assert_eq!(
            client.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
            b"PONG\r\n"
        );
        client.send(&bad);
        let close = client.next_frame(deadline());
        if server.flavor == Flavor::Ringmq || close.is_some() {
            let close = close.unwrap_or_else(|| panic!("{name}: a close frame"));
            let mut expected = vec![0x03, 0xea];
            expected.extend_from_slice(words.as_bytes());
            assert_eq!(
                (close.first_byte, close.payload),
                (0x88, expected),
                "{name}"
            );
        }
        assert!(client.closed(deadline()), "{name}: closed");
        server.wait_for_log(&format!("read error: {words}"), REPLY_TIMEOUT);
    }
    let line = server.wait_for_log("read error: mask bit missing", REPLY_TIMEOUT);
    assert!(
        line.contains(" - wid:"),
        "WebSocket clients are wid in logs: {line}"
    );
}

#[test]
fn compressed_messages_are_inflated_and_large_output_deflated() {
    let (_server, port) = start("deflate", "compression: true");
    let mut client = connected(port, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    let body = "abc".repeat(100);
    let publish = format!("SUB z 1\r\nPUB z {}\r\n{body}\r\nPING\r\n", body.len());
    // A compressed message, split over a first frame (RSV1) and a continuation.
    let compressed = deflate(publish.as_bytes());
    let (first, rest) = compressed.split_at(compressed.len() / 2);
    client.send(&frame(0x42, first));
    client.send(&frame(0x80, rest));
    let expected = format!("MSG z 1 {}\r\n{body}\r\nPONG\r\n", body.len());
    let deadline = deadline();
    let mut stream = Vec::new();
    let mut compressed_frames = 0;
    while !stream.ends_with(b"PONG\r\n") {
        let frame = client.next_frame(deadline).expect("output");
        compressed_frames += usize::from(frame.first_byte & 0x40 != 0);
        stream.extend_from_slice(&frame.payload);
    }
    assert_eq!(text(&stream), expected);
    assert!(compressed_frames >= 1, "the 300-byte MSG goes compressed");
    // An uncompressed frame is still accepted on a compressing connection.
    client.send(&binary(b"PING\r\n"));
    assert_eq!(
        client.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"PONG\r\n"
    );
}

#[test]
fn browsers_get_frames_of_at_most_4096_bytes() {
    let (_server, port) = start("browser", "");
    let mut client = connected(
        port,
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156\r\n",
    );
    let body = "y".repeat(10_000);
    client.send(&binary(
        format!("SUB big 1\r\nPUB big {}\r\n{body}\r\nPING\r\n", body.len()).as_bytes(),
    ));
    let deadline = deadline();
    let mut stream = Vec::new();
    while !stream.ends_with(b"PONG\r\n") {
        let frame = client.next_frame(deadline).expect("output");
        assert_eq!(frame.first_byte, 0x82, "each a whole binary message");
        assert!(frame.payload.len() <= 4096, "{} bytes", frame.payload.len());
        stream.extend_from_slice(&frame.payload);
    }
    assert_eq!(
        text(&stream),
        format!("MSG big 1 {}\r\n{body}\r\nPONG\r\n", body.len())
    );
}

/// ringmq's bound on one server message, counted before compression
/// (`MESSAGE_BYTES_MAX` in src/runtime/websocket.rs).
const MESSAGE_BYTES_MAX: usize = 256 * 1024;

/// A flush longer than `MESSAGE_BYTES_MAX` (here one 600,000-byte MSG) goes as several
/// whole messages, the first ones exactly that long; compressed, each is deflated on its own
/// (RSV1 on each, each inflating alone). nats-server sends one message per flush instead.
#[test]
fn a_long_flush_goes_as_messages_of_at_most_256_kib() {
    if Flavor::from_env() == Flavor::NatsServer {
        return;
    }
    let body: String = (0..600_000)
        .map(|i| char::from(b'a' + (i % 23) as u8))
        .collect();
    let expected = format!("MSG big 1 {}\r\n{body}\r\nPONG\r\n", body.len());
    for (name, block, extension) in [
        ("long-plain", "", ""),
        (
            "long-deflate",
            "compression: true",
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        ),
    ] {
        let (_server, port) = start(name, block);
        let mut client = connected(port, extension);
        client.send(&binary(
            format!("SUB big 1\r\nPUB big {}\r\n{body}\r\nPING\r\n", body.len()).as_bytes(),
        ));
        let deadline = deadline();
        let mut stream = Vec::new();
        let mut lengths = Vec::new();
        while !stream.ends_with(b"PONG\r\n") {
            let frame = client.next_frame(deadline).expect("output");
            assert_eq!(
                frame.first_byte & 0xbf,
                0x82,
                "{name}: each a whole message"
            );
            if frame.payload.len() > 64 {
                let compressed = frame.first_byte & 0x40 != 0;
                assert_eq!(compressed, !extension.is_empty(), "{name}");
            }
            lengths.push(frame.payload.len());
            stream.extend_from_slice(&frame.payload);
        }
        assert_eq!(text(&stream), expected, "{name}");
        // The MSG alone (600,020 bytes) is more than two messages' worth.
        assert!(lengths.len() >= 3, "{name}: {lengths:?}");
        assert_eq!(lengths[..2], [MESSAGE_BYTES_MAX; 2], "{name}: {lengths:?}");
        assert!(lengths.iter().all(|&length| length <= MESSAGE_BYTES_MAX));
    }
}

/// The `Date` header's value replaced, so answers of different seconds compare.
fn without_date(head: &str) -> String {
    head.lines()
        .map(|line| {
            if line.starts_with("Date: ") {
                "Date: *"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn refused_requests_get_go_http_answers_and_keep_alive() {
    let (server, port) = start("refused", "same_origin: true");
    let no_version = upgrade_request("").replace("Sec-WebSocket-Version: 13\r\n", "");
    let mut client = WsClient::send_request(port, no_version.as_bytes());
    let head = client.read_head(deadline()).expect("an answer");
    assert_eq!(
        without_date(&head),
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: *\r\nContent-Length: 12\r\n"
    );
    assert_eq!(client.read_bytes(12, deadline()).unwrap(), b"Bad Request\n");
    server.wait_for_log("websocket handshake error: invalid version", REPLY_TIMEOUT);
    // Go keeps the connection: a good request on it is upgraded.
    client.send(upgrade_request("").as_bytes());
    let head = client.read_head(deadline()).expect("101");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    // A foreign origin is forbidden; a request Go cannot read is refused by Go itself.
    let foreign = upgrade_request("Origin: http://elsewhere:80\r\n");
    let mut client = WsClient::send_request(port, foreign.as_bytes());
    let head = client.read_head(deadline()).expect("an answer");
    assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{head}");
    assert_eq!(client.read_bytes(10, deadline()).unwrap(), b"Forbidden\n");
    server.wait_for_log("origin not allowed: not same origin", REPLY_TIMEOUT);
    let mut client = WsClient::send_request(port, b"GARBAGE\r\n\r\n");
    let head = client.read_head(deadline()).expect("an answer");
    assert_eq!(
        head,
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        client.read_bytes(15, deadline()).unwrap(),
        b"400 Bad Request"
    );
    assert!(client.closed(deadline()));
    // Bytes after the request, before the 101: logged, closed without an answer.
    let early = format!("{}\u{82}", upgrade_request(""));
    let mut client = WsClient::send_request(port, early.as_bytes());
    assert!(client.closed(deadline()));
    server.wait_for_log(
        "client sent data before handshake is complete",
        REPLY_TIMEOUT,
    );
}

#[test]
fn an_overlong_request_head_is_refused_with_431() {
    let (_server, port) = start("head", "");
    let mut request = upgrade_request("").into_bytes();
    request.truncate(request.len() - 2);
    request
        .extend_from_slice(format!("X-Pad: {}\r\n\r\n", "p".repeat((1 << 20) + 4096)).as_bytes());
    let mut client = WsClient::send_request(port, &request);
    let head = client.read_head(deadline()).expect("an answer");
    assert_eq!(
        head,
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
    );
    assert!(client.read_bytes(35, deadline()).is_some());
    assert!(client.closed(deadline()));
}

#[test]
fn websocket_and_tcp_clients_exchange_messages_across_cores() {
    let (server, port) = start("mixed", "");
    // Consecutive connections land on different cores.
    let mut websocket = connected(port, "");
    let mut tcp = RawClient::connect(server.port());
    tcp.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB from.ws 1\r\nSUB svc 2\r\n");
    assert_eq!(text(&tcp.send_and_sync(b"")), "PONG\r\n");
    let mut tcp_member = RawClient::subscriber(server.port(), "SUB jobs workers 1\r\n");
    websocket.send(&binary(
        b"SUB from.tcp 1\r\nSUB jobs workers 2\r\nSUB _INBOX.ws 3\r\nPING\r\n",
    ));
    assert_eq!(
        websocket.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"PONG\r\n"
    );
    // TCP to WebSocket, with headers.
    tcp.send_and_sync(b"HPUB from.tcp 20 25\r\nNATS/1.0\r\nA: b c\r\n\r\nhello\r\n");
    websocket.send(&binary(b"PING\r\n"));
    assert_eq!(
        websocket.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"HMSG from.tcp 1 20 25\r\nNATS/1.0\r\nA: b c\r\n\r\nhello\r\nPONG\r\n"
    );
    // WebSocket to TCP.
    websocket.send(&binary(b"PUB from.ws 3\r\nabc\r\nPING\r\n"));
    websocket.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT);
    assert_eq!(
        text(&tcp.send_and_sync(b"")),
        "MSG from.ws 1 3\r\nabc\r\nPONG\r\n"
    );
    // Request/reply: the WebSocket client asks a TCP responder.
    websocket.send(&binary(b"PUB svc _INBOX.ws 4\r\nping\r\nPING\r\n"));
    websocket.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT);
    assert_eq!(
        text(&tcp.send_and_sync(b"")),
        "MSG svc 2 _INBOX.ws 4\r\nping\r\nPONG\r\n"
    );
    tcp.send_and_sync(b"PUB _INBOX.ws 4\r\npong\r\n");
    websocket.send(&binary(b"PING\r\n"));
    assert_eq!(
        websocket.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"MSG _INBOX.ws 3 4\r\npong\r\nPONG\r\n"
    );
    // A queue group with a member on each side: each message exactly once.
    let mut publisher = RawClient::connect_quiet(server.port(), b"");
    let mut publish = Vec::new();
    for i in 0..200 {
        publish.extend_from_slice(format!("PUB jobs 3\r\n{i:03}\r\n").as_bytes());
    }
    publisher.send_and_sync(&publish);
    // Delivery to the other core's member may trail the publisher's PONG: gather until
    // all arrived, then one more round each to catch a duplicate.
    let jobs = |received: &str| -> Vec<String> {
        received
            .split("\r\n")
            .filter(|part| part.len() == 3 && part.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string)
            .collect()
    };
    let mut seen = Vec::new();
    let until = deadline();
    for round in 0.. {
        websocket.send(&binary(b"PING\r\n"));
        seen.extend(jobs(&text(
            &websocket.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        )));
        seen.extend(jobs(&text(&tcp_member.send_and_sync(b""))));
        if seen.len() >= 200 && round > 0 {
            break;
        }
        assert!(
            Instant::now() < until,
            "{} of 200 jobs delivered",
            seen.len()
        );
    }
    seen.sort();
    let expected: Vec<String> = (0..200).map(|i| format!("{i:03}")).collect();
    assert_eq!(seen, expected, "each job exactly once across the group");
}

/// Upgrades and returns the client and its INFO line.
fn upgraded(port: u16) -> (WsClient, String) {
    let (mut client, head) = WsClient::connect(port, "");
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let info = client.next_frame(deadline()).expect("INFO");
    (client, text(&info.payload))
}

#[test]
fn the_blocks_own_token_guards_websocket_clients_only() {
    let (server, port) = start_conf(
        "token",
        "websocket {\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n  authorization { token: \"s3cr3t\" }\n}\n",
    );
    let (mut refused, info) = upgraded(port);
    assert!(info.contains("\"auth_required\":true"), "{info}");
    refused.send(&binary(b"CONNECT {\"verbose\":false}\r\nPING\r\n"));
    assert_eq!(
        refused.read_stream_until(b"'Authorization Violation'\r\n", REPLY_TIMEOUT),
        b"-ERR 'Authorization Violation'\r\n"
    );
    let close = refused.next_frame(deadline()).expect("close frame");
    assert_eq!(
        (close.first_byte, close.payload.as_slice()),
        (0x88, &b"\x03\xf0Authentication Failure"[..])
    );
    assert!(refused.closed(deadline()));
    let (mut admitted, _) = upgraded(port);
    admitted.send(&binary(
        b"CONNECT {\"verbose\":false,\"auth_token\":\"s3cr3t\"}\r\nPING\r\n",
    ));
    assert_eq!(
        admitted.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"PONG\r\n"
    );
    // TCP clients are not asked for it.
    let mut tcp = RawClient::connect(server.port());
    assert!(!tcp.info.contains("\"auth_required\""), "{}", tcp.info);
    assert_eq!(text(&tcp.send_and_sync(common::CONNECT_QUIET)), "PONG\r\n");
}

#[test]
fn no_auth_user_of_the_block_logs_websocket_clients_in_to_its_account() {
    let (server, port) = start_conf(
        "noauth",
        "accounts {\n  A { users: [ { user: alice, password: pa } ] }\n  B { users: [ { user: bob, password: pb } ] }\n}\n\
         websocket {\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n  no_auth_user: alice\n}\n",
    );
    let (mut websocket, info) = upgraded(port);
    assert!(info.contains("\"auth_required\":true"), "{info}");
    websocket.send(&binary(
        b"CONNECT {\"verbose\":false}\r\nSUB in.a 1\r\nPING\r\n",
    ));
    assert_eq!(
        websocket.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"PONG\r\n"
    );
    // alice's account A reaches it; bob's account B does not.
    for (user, pass) in [("bob", "pb"), ("alice", "pa")] {
        let mut tcp = RawClient::connect(server.port());
        tcp.send(
            format!(
                "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\nPUB in.a {}\r\n{user}\r\n",
                user.len()
            )
                .as_bytes(),
        );
        assert_eq!(text(&tcp.send_and_sync(b"")), "PONG\r\n");
    }
    websocket.send(&binary(b"PING\r\n"));
    assert_eq!(
        websocket.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"MSG in.a 1 5\r\nalice\r\nPONG\r\n"
    );
    // A TCP client without credentials is refused (no top-level no_auth_user).
    let mut anonymous = RawClient::connect(server.port());
    anonymous.send(common::CONNECT_QUIET);
    assert!(text(&anonymous.read_to_eof(deadline())).contains("-ERR 'Authorization Violation'\r\n"));
}

#[test]
fn a_shutdown_says_going_away_in_a_close_frame() {
    let (mut server, port) = start("shutdown", "");
    let mut client = connected(port, "");
    client.send(&binary(b"PING\r\n"));
    assert_eq!(
        client.read_stream_until(b"PONG\r\n", REPLY_TIMEOUT),
        b"PONG\r\n"
    );
    server.terminate(REPLY_TIMEOUT);
    let close = client.next_frame(deadline()).expect("a close frame");
    assert_eq!(
        (close.first_byte, close.payload.as_slice()),
        (0x88, &b"\x03\xe9Server Shutdown"[..])
    );
    assert!(client.closed(deadline()));
}

#[test]
fn refusals_and_framing_faults_are_counted_in_metrics() {
    if Flavor::from_env() == Flavor::NatsServer {
        return; // ringmq's own /metrics series; nats-server has no /metrics.
    }
    let (server, port) = start_with(
        "metrics",
        "websocket {\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n}\n",
        true,
    );
    let no_version = upgrade_request("").replace("Sec-WebSocket-Version: 13\r\n", "");
    for _ in 0..2 {
        let mut refused = WsClient::send_request(port, no_version.as_bytes());
        assert!(refused
            .read_head(deadline())
            .unwrap()
            .starts_with("HTTP/1.1 400 "));
    }
    let mut faulty = connected(port, "");
    faulty.send(&[0x82, 0x02, b'h', b'i']);
    assert!(faulty
        .next_frame(deadline())
        .is_some_and(|f| f.first_byte == 0x88));
    assert!(faulty.closed(deadline()));
    server.wait_for_log("read error: mask bit missing", REPLY_TIMEOUT);
    let (status, metrics) = common::http::get(server.monitor_port(), "/metrics");
    assert_eq!(status, 200);
    let id = server_id(&metrics);
    for (series, count) in [
        ("ringmq_websocket_handshake_refusals_total", 2),
        ("ringmq_websocket_framing_faults_total", 1),
    ] {
        let line = format!("{series}{{server_id=\"{id}\"}} {count}\n");
        assert!(metrics.contains(&line), "{line:?} in\n{metrics}");
    }
}

/// The server id the /metrics series are labelled with.
fn server_id(metrics: &str) -> String {
    let start = metrics.find("server_id=\"").expect("a labelled series") + 11;
    metrics[start..].split('"').next().unwrap().to_string()
}
