//! Limits set to non-default values, against an in-process broker. nats-server takes these
//! only from a config file (`tests/config_file.rs` covers `-c`); the expected bytes are spec
//! §14's "Limits" rows observed on nats-server 2.9.10 with the same settings.

mod common;

use common::{text, RawClient};
use ringmq::broker::Server;
use ringmq::config::{Config, Limits};
use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(10);

fn start(limits: Limits) -> Server {
    let config = Config {
        host: "127.0.0.1".into(),
        port: 0,
        cores: 2,
        limits,
        ..Config::default()
    };
    Server::start(config).expect("broker starts")
}

fn deadline() -> Instant {
    Instant::now() + DEADLINE
}

#[test]
fn max_payload_100() {
    let server = start(Limits {
        max_payload: 100,
        ..Limits::default()
    });
    let mut ok = RawClient::connect_quiet(server.port(), b"SUB ok.x 1\r\n");
    let payload = "x".repeat(100);
    let reply = ok.send_and_sync(format!("PUB ok.x 100\r\n{payload}\r\n").as_bytes());
    assert_eq!(
        text(&reply),
        format!("MSG ok.x 1 100\r\n{payload}\r\nPONG\r\n")
    );
    assert!(
        ok.info.contains("\"max_payload\":100,"),
        "INFO: {}",
        ok.info
    );

    let mut over = RawClient::connect_quiet(server.port(), b"PUB ok.x 101\r\n");
    assert_eq!(
        text(&over.read_to_eof(deadline())),
        "-ERR 'Maximum Payload Violation'\r\n"
    );
    server.shutdown();
}

#[test]
fn max_control_line_64() {
    let server = start(Limits {
        max_control_line: 64,
        ..Limits::default()
    });
    // An argument of exactly 64 bytes (62 + " 1") passes; 65 fails.
    let at_limit = format!("SUB {} 1\r\n", "a".repeat(62));
    let mut ok = RawClient::connect_quiet(server.port(), at_limit.as_bytes());
    assert_eq!(text(&ok.send_and_sync(b"")), "PONG\r\n");

    let over = format!("SUB {} 1\r\n", "a".repeat(63));
    let mut client = RawClient::connect_quiet(server.port(), over.as_bytes());
    assert_eq!(
        text(&client.read_to_eof(deadline())),
        "-ERR 'maximum control line exceeded'\r\n"
    );
    server.shutdown();
}

#[test]
fn max_subscriptions_2() {
    let server = start(Limits {
        max_subscriptions: 2,
        ..Limits::default()
    });
    let mut client = RawClient::connect_quiet(server.port(), b"");
    let reply = client.send_and_sync(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n");
    assert_eq!(
        text(&reply),
        "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n"
    );
    // The connection stays open and its first two subscriptions work.
    let reply = client.send_and_sync(b"PUB b 1\r\nx\r\nPUB c 1\r\ny\r\n");
    assert_eq!(text(&reply), "MSG b 2 1\r\nx\r\nPONG\r\n");
    server.shutdown();
}

#[test]
fn max_connections_2() {
    let server = start(Limits {
        max_connections: 2,
        ..Limits::default()
    });
    let mut first = RawClient::connect_quiet(server.port(), b"");
    let mut second = RawClient::connect_quiet(server.port(), b"");
    assert_eq!(text(&first.send_and_sync(b"")), "PONG\r\n");
    assert_eq!(text(&second.send_and_sync(b"")), "PONG\r\n");
    // The third still gets INFO, then the error, then EOF.
    let mut third = RawClient::connect(server.port());
    assert_eq!(
        text(&third.read_to_eof(deadline())),
        "-ERR 'maximum connections exceeded'\r\n"
    );
    // The first two are unaffected.
    assert_eq!(text(&first.send_and_sync(b"")), "PONG\r\n");
    server.shutdown();
}

#[test]
fn stale_connection_after_unanswered_ping() {
    let server = start(Limits {
        ping_interval: Duration::from_secs(1),
        ping_max: 1,
        ..Limits::default()
    });
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    std::io::Write::write_all(&mut stream, b"CONNECT {\"verbose\":false}\r\n").unwrap();
    let started = Instant::now();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("read: {e}; got {:?}", text(&received)),
        }
    }
    let elapsed = started.elapsed();
    let after_info = received
        .iter()
        .position(|&b| b == b'\n')
        .expect("INFO line")
        + 1;
    assert_eq!(
        text(&received[after_info..]),
        "PING\r\n-ERR 'Stale Connection'\r\n"
    );
    // First PING at 1 s (+ up to 20 % jitter), the verdict one interval later: nats-server
    // closed after about 2.1 s.
    assert!(
        elapsed >= Duration::from_millis(1900),
        "closed after {elapsed:?}"
    );
    server.shutdown();
}

#[test]
fn answered_pings_keep_a_silent_client_alive() {
    let server = start(Limits {
        ping_interval: Duration::from_millis(300),
        ping_max: 1,
        ..Limits::default()
    });
    let mut client = RawClient::connect_quiet(server.port(), b"");
    let stream_deadline = Instant::now() + Duration::from_secs(2);
    // Answer every server PING for 2 s (several intervals) by syncing: the client's own PING
    // round trip reads past the server's PINGs, and the PONG we send resets the count.
    while Instant::now() < stream_deadline {
        assert_eq!(text(&client.send_and_sync(b"PONG\r\n")), "PONG\r\n");
    }
    assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");
    server.shutdown();
}

/// A consumer that reads, but slower than its publisher on the other core publishes, is not
/// cut: the consumer's core stops taking the publisher core's mail while the consumer is
/// over half of max_pending, the publisher's core then stops reading, and TCP slows the
/// publisher (nats-server stalls the publisher the same way). Every message arrives in
/// order; nobody is counted as a slow consumer.
#[test]
fn slow_reader_on_another_core_slows_the_publisher_instead_of_being_cut() {
    use std::io::Write;
    const MESSAGES: usize = 4000;
    const PAYLOAD: usize = 1024;
    let server = start(Limits {
        max_pending: 256 * 1024,
        max_payload: 64 * 1024,
        ..Limits::default()
    });
    // Consecutive connections go to the least-loaded core: these two to different cores.
    let subscriber = RawClient::subscriber(server.port(), "SUB slow 1\r\n");
    let mut stream = subscriber.into_stream();
    let mut publisher = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let writer = std::thread::spawn(move || {
        publisher
            .write_all(b"CONNECT {\"verbose\":false}\r\n")
            .unwrap();
        let mut batch = Vec::new();
        for sequence in 0..MESSAGES {
            let payload = format!("{sequence:0PAYLOAD$}");
            batch.extend_from_slice(format!("PUB slow {PAYLOAD}\r\n{payload}\r\n").as_bytes());
        }
        publisher.write_all(&batch).unwrap();
        publisher
    });

    let expected_frame =
        |sequence: usize| format!("MSG slow 1 {PAYLOAD}\r\n{sequence:0PAYLOAD$}\r\n").into_bytes();
    let frame_len = expected_frame(0).len();
    let mut received = Vec::with_capacity(MESSAGES * frame_len);
    let mut chunk = [0u8; 8192];
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let until = deadline() + DEADLINE;
    while received.len() < MESSAGES * frame_len {
        assert!(Instant::now() < until, "{} bytes so far", received.len());
        let read = stream.read(&mut chunk).expect("subscriber stays connected");
        assert!(read > 0, "subscriber closed after {} bytes", received.len());
        received.extend_from_slice(&chunk[..read]);
        // A slow reader (about 8 MB/s): pacing the client under test, not synchronisation.
        std::thread::sleep(Duration::from_millis(1));
    }
    let publisher = writer.join().expect("publisher wrote everything");
    for sequence in 0..MESSAGES {
        let frame = &received[sequence * frame_len..(sequence + 1) * frame_len];
        assert_eq!(
            text(frame),
            text(&expected_frame(sequence)),
            "message {sequence}"
        );
    }
    assert_eq!(
        received.len(),
        MESSAGES * frame_len,
        "nothing after the last message"
    );
    assert_eq!(
        server
            .shared()
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    drop(publisher);
    server.shutdown();
}

/// A blocking socket with a 4 KiB SO_RCVBUF set before connect (which also stops the
/// kernel auto-tuning it), so the server's queue, not the kernel, takes the backlog.
fn connect_with_small_receive_buffer(port: u16) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let address = format!("127.0.0.1:{port}").parse().expect("address");
        socket.connect(address).await.expect("connect")
    });
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream
}

/// A subscriber that stops reading is cut as a slow consumer, and a healthy subscriber of
/// the same subject receives every message, in order, meanwhile. (How much of its
/// throughput the healthy one keeps is a benchmark's figure: `benches/slow_consumer.sh`.)
#[test]
fn a_stopped_reader_is_cut_without_holding_back_the_healthy_subscriber() {
    // 16 MB through a 2 MiB max_pending: the kernel's socket buffers take a few MB of the
    // stopped reader's backlog, the server's queue the rest.
    const MESSAGES: usize = 16_000;
    const PAYLOAD: usize = 1024;
    let server = start(Limits {
        max_pending: 2 * 1024 * 1024,
        max_payload: 64 * 1024,
        ..Limits::default()
    });
    let mut stopped = RawClient::from_stream(connect_with_small_receive_buffer(server.port()));
    stopped.send(common::CONNECT_QUIET);
    assert_eq!(text(&stopped.send_and_sync(b"SUB feed 1\r\n")), "PONG\r\n");
    let mut healthy = RawClient::subscriber(server.port(), "SUB feed 2\r\n");
    let mut publisher = RawClient::connect_quiet(server.port(), b"");
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for sequence in 0..MESSAGES {
        let payload = format!("{sequence:0PAYLOAD$}");
        batch.extend_from_slice(format!("PUB feed {PAYLOAD}\r\n{payload}\r\n").as_bytes());
        expected.extend_from_slice(format!("MSG feed 2 {PAYLOAD}\r\n{payload}\r\n").as_bytes());
    }
    batch.extend_from_slice(b"PING\r\n");
    let writer = std::thread::spawn(move || {
        publisher.send(&batch);
        let pong = publisher.read_until_pong(Instant::now() + DEADLINE * 3);
        (publisher, pong)
    });
    let mut received = Vec::new();
    let until = Instant::now() + DEADLINE * 3;
    while received.len() < expected.len() {
        let frame = healthy
            .next_frame(until)
            .unwrap_or_else(|| panic!("healthy subscriber closed after {} bytes", received.len()));
        received.extend_from_slice(&frame);
    }
    assert_eq!(text(&received), text(&expected));
    let (_publisher, pong) = writer.join().expect("publisher thread");
    assert_eq!(text(&pong), "PONG\r\n");
    assert_eq!(
        server
            .shared()
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the stopped reader is cut as a slow consumer"
    );
    drop(stopped);
    server.shutdown();
}

/// One core, so publisher and subscriber share it: a burst far over max_pending in one read
/// (40 x 50 KB against 256 KiB) reaches a subscriber that reads, whole and in order. The
/// publisher is stalled part-way through its read and the rest waits until the subscriber
/// drains, as nats-server writes while it routes; before, the whole read was queued and the
/// subscriber cut at max_pending.
#[test]
fn a_burst_over_max_pending_reaches_a_reading_subscriber_on_the_same_core() {
    const MESSAGES: usize = 40;
    const PAYLOAD: usize = 50_000;
    let config = Config {
        host: "127.0.0.1".into(),
        port: 0,
        cores: 1,
        limits: Limits {
            max_pending: 256 * 1024,
            max_payload: 64 * 1024,
            ..Limits::default()
        },
        ..Config::default()
    };
    let server = Server::start(config).expect("broker starts");
    let mut subscriber = RawClient::subscriber(server.port(), "SUB burst 1\r\n");
    let mut publisher = RawClient::connect_quiet(server.port(), b"");
    let mut burst = Vec::new();
    let mut expected = Vec::new();
    for sequence in 0..MESSAGES {
        let payload = format!("{sequence:0PAYLOAD$}");
        burst.extend_from_slice(format!("PUB burst {PAYLOAD}\r\n{payload}\r\n").as_bytes());
        expected.extend_from_slice(format!("MSG burst 1 {PAYLOAD}\r\n{payload}\r\n").as_bytes());
    }
    let writer = std::thread::spawn(move || {
        publisher.send(&burst);
        let pong = publisher.send_and_sync(b"");
        (publisher, pong)
    });
    let mut received = Vec::new();
    let until = deadline();
    while received.len() < expected.len() {
        let frame = subscriber
            .next_frame(until)
            .unwrap_or_else(|| panic!("subscriber closed after {} bytes", received.len()));
        received.extend_from_slice(&frame);
    }
    assert_eq!(received.len(), expected.len());
    assert!(received == expected, "messages differ");
    let (_publisher, pong) = writer.join().expect("publisher thread");
    assert_eq!(text(&pong), "PONG\r\n");
    assert_eq!(text(&subscriber.send_and_sync(b"")), "PONG\r\n");
    assert_eq!(
        server
            .shared()
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    server.shutdown();
}
