//! Behaviour that spans connections (and, under ringmq, cores: consecutive connections go
//! to alternating cores): the SUB+PING visibility barrier, per-publisher ordering, many
//! concurrent connections, and clients that vanish mid-frame.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{text, Opts, RawClient, Server, CONNECT_QUIET, REPLY_TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[test]
fn subscription_is_visible_to_other_connections_after_pong() {
    const ROUNDS: usize = 1000;
    let server = Server::start(Opts::default());
    let mut subscriber = RawClient::connect_quiet(server.port(), b"");
    let mut publisher = RawClient::connect_quiet(server.port(), b"");
    for round in 0..ROUNDS {
        // PONG means the interest is visible to every later publish, from any core.
        let pong = subscriber.send_and_sync(format!("SUB fresh.{round} {round}\r\n").as_bytes());
        assert_eq!(text(&pong), "PONG\r\n");
        let payload = round.to_string();
        publisher.send(format!("PUB fresh.{round} {}\r\n{payload}\r\n", payload.len()).as_bytes());
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let frame = subscriber.next_frame(deadline).expect("subscriber open");
        let expected = format!(
            "MSG fresh.{round} {round} {}\r\n{payload}\r\n",
            payload.len()
        );
        assert_eq!(text(&frame), expected, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_publisher_order_is_preserved_across_connections() {
    const PER_PUBLISHER: u32 = 10_000;
    let server = Server::start(Opts::default());
    let mut subscriber = RawClient::subscriber(server.port(), "SUB seq.* 1\r\n");
    // Two publishers: under ringmq one shares the subscriber's core, one does not.
    let publishers = [server.client().await, server.client().await];
    let mut tasks = Vec::new();
    for (index, publisher) in publishers.iter().cloned().enumerate() {
        tasks.push(tokio::spawn(async move {
            for sequence in 0..PER_PUBLISHER {
                let payload = Bytes::from(format!("{sequence:05}"));
                publisher
                    .publish(format!("seq.{index}"), payload)
                    .await
                    .unwrap();
            }
            publisher.flush().await.unwrap();
        }));
    }

    let reader = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut next_expected = [0u32; 2];
        while next_expected.iter().any(|&n| n < PER_PUBLISHER) {
            let frame = text(&subscriber.next_frame(deadline).expect("subscriber open"));
            let index: usize = frame["MSG seq.".len()..][..1].parse().unwrap();
            let expected = format!("MSG seq.{index} 1 5\r\n{:05}\r\n", next_expected[index]);
            assert_eq!(frame, expected, "publisher {index}");
            next_expected[index] += 1;
        }
        subscriber
    });
    for task in tasks {
        task.await.unwrap();
    }
    let mut subscriber = reader.await.expect("every message, in order per publisher");
    assert_eq!(text(&subscriber.send_and_sync(b"")), "PONG\r\n");
}

/// Connections in the many-connections test.
const MANY_CONNECTIONS: usize = 2000;

/// Reads frames from a raw async connection until one satisfies `done`; server PINGs are
/// skipped. Returns that frame.
async fn read_frame_where(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    done: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    loop {
        while let Some(len) = common::frame_len(buffer) {
            let frame: Vec<u8> = buffer.drain(..len).collect();
            if done(&frame) {
                return frame;
            }
            assert!(
                frame == b"PING\r\n" || frame.starts_with(b"INFO "),
                "unexpected frame {:?}",
                text(&frame)
            );
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "EOF; unparsed {:?}", text(buffer));
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// One of many connections: subscribes to `rt.<index>`, waits for everyone, publishes to
/// its neighbour (on the other core under ringmq) and expects exactly the message its other
/// neighbour sent.
async fn round_trip(port: u16, index: usize, barrier: Arc<tokio::sync::Barrier>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut buffer = Vec::new();
    let mut hello = CONNECT_QUIET.to_vec();
    hello.extend_from_slice(format!("SUB rt.{index} 1\r\nPING\r\n").as_bytes());
    stream.write_all(&hello).await.unwrap();
    read_frame_where(&mut stream, &mut buffer, |f| f == b"PONG\r\n").await;

    barrier.wait().await;
    let next = (index + 1) % MANY_CONNECTIONS;
    let payload = format!("from {index}");
    let publish = format!("PUB rt.{next} {}\r\n{payload}\r\n", payload.len());
    stream.write_all(publish.as_bytes()).await.unwrap();
    let previous = (index + MANY_CONNECTIONS - 1) % MANY_CONNECTIONS;
    let expected_payload = format!("from {previous}");
    let expected = format!(
        "MSG rt.{index} 1 {}\r\n{expected_payload}\r\n",
        expected_payload.len()
    );
    let frame = read_frame_where(&mut stream, &mut buffer, |f| f.starts_with(b"MSG ")).await;
    assert_eq!(text(&frame), expected);

    // Stay connected until everyone is done, so all connections are open at once.
    barrier.wait().await;
    stream.write_all(b"PING\r\n").await.unwrap();
    read_frame_where(&mut stream, &mut buffer, |f| f == b"PONG\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_concurrent_connections_each_round_trip() {
    common::ensure_open_files(MANY_CONNECTIONS as u64 + 256);
    let server = Server::start(Opts::default());
    let barrier = Arc::new(tokio::sync::Barrier::new(MANY_CONNECTIONS));
    let mut tasks = Vec::new();
    for index in 0..MANY_CONNECTIONS {
        tasks.push(tokio::spawn(round_trip(
            server.port(),
            index,
            Arc::clone(&barrier),
        )));
    }
    let all = futures::future::try_join_all(tasks);
    let result = tokio::time::timeout(Duration::from_secs(40), all).await;
    assert_eq!(
        result
            .expect("all round trips before deadline")
            .unwrap()
            .len(),
        MANY_CONNECTIONS
    );
}

/// A subscriber on `foo`, synchronised, to watch for damage from other clients.
fn foo_subscriber(server: &Server) -> RawClient {
    let mut subscriber = RawClient::connect_quiet(server.port(), b"SUB foo 1\r\n");
    assert_eq!(text(&subscriber.send_and_sync(b"")), "PONG\r\n");
    subscriber
}

/// Publishes `PUB foo 5 world` from a fresh connection and checks that the subscriber gets
/// exactly that message and nothing else.
fn assert_subscriber_unharmed(server: &Server, subscriber: &mut RawClient) {
    let mut publisher = RawClient::connect_quiet(server.port(), b"");
    assert_eq!(
        text(&publisher.send_and_sync(b"PUB foo 5\r\nworld\r\n")),
        "PONG\r\n"
    );
    let frame = subscriber
        .next_frame(Instant::now() + REPLY_TIMEOUT)
        .expect("subscriber open");
    assert_eq!(text(&frame), "MSG foo 1 5\r\nworld\r\n");
    assert_eq!(text(&subscriber.send_and_sync(b"")), "PONG\r\n");
}

#[test]
fn client_vanishing_mid_control_line_does_not_disturb_others() {
    let server = Server::start(Opts::default());
    let mut subscriber = foo_subscriber(&server);
    let mut vanishing = RawClient::connect_quiet(server.port(), b"PUB fo");
    vanishing.shutdown_write();
    // The server closes its side once it sees EOF; no bytes of a partial frame come back.
    assert_eq!(
        text(&vanishing.read_to_eof(Instant::now() + REPLY_TIMEOUT)),
        ""
    );
    assert_subscriber_unharmed(&server, &mut subscriber);
}

#[test]
fn client_vanishing_mid_payload_does_not_disturb_others() {
    let server = Server::start(Opts::default());
    let mut subscriber = foo_subscriber(&server);
    let mut half_closed = RawClient::connect_quiet(server.port(), b"PUB foo 5\r\nhel");
    half_closed.shutdown_write();
    assert_eq!(
        text(&half_closed.read_to_eof(Instant::now() + REPLY_TIMEOUT)),
        ""
    );
    // And one that just drops its socket without waiting for the server to notice.
    drop(RawClient::connect_quiet(
        server.port(),
        b"PUB foo 11\r\nhello",
    ));
    assert_subscriber_unharmed(&server, &mut subscriber);
}

/// Sends `input` in one write on a fresh connection, 20 times on each of 1 and 2 cores, and
/// asserts that everything up to its `pongs`-th PONG is `expected`.
fn assert_one_write_answered(input: &[u8], pongs: usize, expected: &str) {
    for cores in [1, 2] {
        let server = Server::start(Opts {
            cores,
            ..Opts::default()
        });
        for round in 0..20 {
            let mut client = RawClient::connect(server.port());
            client.send(input);
            let deadline = Instant::now() + REPLY_TIMEOUT;
            let answers: String = (0..pongs)
                .map(|_| text(&client.read_until_pong(deadline)))
                .collect();
            assert_eq!(answers, expected, "cores {cores}, round {round}");
        }
    }
}

/// A PONG that waits for the visibility barrier keeps its place in the output: nothing sent
/// in answer to a later command overtakes it (one write, as the official clients' suites
/// send it). With two cores the PONG after a SUB always waits for the other core.
#[test]
fn a_held_pong_keeps_its_place_among_the_answers() {
    assert_one_write_answered(
        b"CONNECT {\"verbose\":true,\"pedantic\":false}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\n\
          PING\r\nUNSUB 1\r\nUNSUB 99\r\nSUB foo..bar 2\r\nPONG\r\nPING\r\n",
        2,
        "+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n\
         +OK\r\n+OK\r\n-ERR 'Invalid Subject'\r\nPONG\r\n",
    );
}

/// A message a client publishes to itself after its PING comes after the PONG, as the
/// order of the commands says, also when the PONG waits for the barrier.
#[test]
fn a_held_pong_comes_before_later_deliveries_to_the_same_client() {
    assert_one_write_answered(
        b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB foo 1\r\nPING\r\n\
          PUB foo 2\r\nhi\r\nSUB bar 2\r\nPING\r\nPUB bar 1\r\nx\r\nPING\r\n",
        3,
        "PONG\r\nMSG foo 1 2\r\nhi\r\nPONG\r\nMSG bar 2 1\r\nx\r\nPONG\r\n",
    );
}
