//! Limits at the wire: max payload on both sides of the boundary, and a slow consumer cut
//! loose at max_pending without slowing a fast subscriber of the same subject.

mod common;

use std::time::{Duration, Instant};

use async_nats::client::PublishErrorKind;
use bytes::Bytes;
use common::{text, Opts, RawClient, Server, CONNECT_QUIET, REPLY_TIMEOUT};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// nats-server's default max_payload (1 MiB), announced in INFO.
const MAX_PAYLOAD: usize = 1024 * 1024;

/// nats-server's default max_pending (64 MiB): outbound bytes queued for one connection
/// before it is closed as a slow consumer.
const MAX_PENDING: usize = 64 * 1024 * 1024;

#[test]
fn raw_publish_over_max_payload_is_refused_and_closed() {
    let server = Server::start(Opts::default());
    let mut client = RawClient::connect_quiet(server.port(), b"");
    // Only the control line: the server must refuse before reading any payload.
    client.send(format!("PUB foo {}\r\n", MAX_PAYLOAD + 1).as_bytes());
    let reply = client.read_to_eof(Instant::now() + REPLY_TIMEOUT);
    assert_eq!(text(&reply), "-ERR 'Maximum Payload Violation'\r\n");
}

#[test]
fn raw_publish_of_exactly_max_payload_is_delivered() {
    let server = Server::start(Opts::default());
    let mut client = RawClient::connect_quiet(server.port(), b"SUB big 1\r\n");
    let mut publish = format!("PUB big {MAX_PAYLOAD}\r\n").into_bytes();
    publish.extend(std::iter::repeat_n(b'p', MAX_PAYLOAD));
    publish.extend_from_slice(b"\r\n");
    let reply = client.send_and_sync(&publish);
    let mut expected = format!("MSG big 1 {MAX_PAYLOAD}\r\n").into_bytes();
    expected.extend_from_slice(&publish[publish.len() - MAX_PAYLOAD - 2..]);
    expected.extend_from_slice(b"PONG\r\n");
    assert!(reply == expected, "reply of {} bytes differs", reply.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nats_refuses_payload_over_announced_max() {
    let server = Server::start(Opts::default());
    let client = server.client().await;
    assert_eq!(client.server_info().max_payload, MAX_PAYLOAD);
    let mut subscriber = client.subscribe("limit").await.unwrap();
    client.flush().await.unwrap();

    let error = client
        .publish("limit", vec![0u8; MAX_PAYLOAD + 1].into())
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        PublishErrorKind::MaxPayloadExceeded,
        "{error}"
    );
    client
        .publish("limit", vec![7u8; MAX_PAYLOAD].into())
        .await
        .unwrap();
    client.flush().await.unwrap();

    let message = tokio::time::timeout(REPLY_TIMEOUT, subscriber.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.payload, Bytes::from(vec![7u8; MAX_PAYLOAD]));
}

/// Size of each message in the slow-consumer test: large, so that few messages fill
/// max_pending and the test spends its time in the server, not in per-message overhead.
const SLOW_TEST_PAYLOAD: usize = 512 * 1024;

/// Enough to overflow max_pending plus the kernel socket buffers (small by construction).
const SLOW_TEST_MESSAGES: usize = (MAX_PENDING + 16 * 1024 * 1024) / SLOW_TEST_PAYLOAD;

/// A raw subscriber with a tiny receive buffer (which also stops the kernel auto-tuning it
/// up to tcp_rmem's maximum), so the server's outbound queue, not the kernel, absorbs the
/// backlog once it stops reading.
async fn slow_subscriber(server: &Server, subject: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let address = format!("127.0.0.1:{}", server.port()).parse().unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let mut handshake = CONNECT_QUIET.to_vec();
    handshake.extend_from_slice(format!("SUB {subject} 1\r\nPING\r\n").as_bytes());
    stream.write_all(&handshake).await.unwrap();
    let mut received = Vec::new();
    while !received.ends_with(b"PONG\r\n") {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(REPLY_TIMEOUT, stream.read(&mut chunk))
            .await
            .unwrap();
        let n = n.unwrap();
        assert!(n > 0, "EOF during handshake: {:?}", text(&received));
        received.extend_from_slice(&chunk[..n]);
    }
    assert!(
        text(&received).starts_with("INFO {"),
        "{:?}",
        text(&received)
    );
    stream
}

/// Reads until the server closes the connection; returns the bytes received.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, timeout: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut total = 0;
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await;
        match read.expect("slow consumer closed before the deadline") {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return total,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Makes sure `subscriber`'s interest is visible to `publisher`. async-nats 0.51 has no
/// PING/PONG barrier (`flush()` only drains its write buffer), so probe: publish empty
/// messages until one arrives. Receivers must skip empty payloads.
async fn await_interest(
    publisher: &async_nats::Client,
    subscriber: &mut async_nats::Subscriber,
    subject: &'static str,
) {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        publisher.publish(subject, Bytes::new()).await.unwrap();
        let poll_interval = Duration::from_millis(50);
        match tokio::time::timeout(poll_interval, subscriber.next()).await {
            Ok(Some(message)) if message.payload.is_empty() => return,
            Ok(other) => panic!("expected a probe, got {other:?}"),
            Err(_) => assert!(Instant::now() < deadline, "interest never became visible"),
        }
    }
}

/// Reads `count` flood messages (skipping probes) and checks their order: the sequence
/// number is in the first 8 payload bytes.
async fn read_flood(mut subscriber: async_nats::Subscriber, count: usize) -> usize {
    let mut sequence = 0;
    while sequence < count {
        let message = subscriber.next().await.expect("fast subscription open");
        if message.payload.is_empty() {
            continue;
        }
        assert_eq!(message.payload.len(), SLOW_TEST_PAYLOAD);
        let got = u64::from_be_bytes(message.payload[..8].try_into().unwrap());
        assert_eq!(got, sequence as u64, "fast subscriber: order or loss");
        sequence += 1;
    }
    sequence
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_cut_while_fast_subscriber_gets_everything() {
    let server = Server::start(Opts::default());
    let mut slow = slow_subscriber(&server, "flood").await;
    let fast_client = server.client().await;
    let mut fast = fast_client.subscribe("flood").await.unwrap();
    let publisher = server.client().await;
    await_interest(&publisher, &mut fast, "flood").await;
    let fast_reader = tokio::spawn(read_flood(fast, SLOW_TEST_MESSAGES));

    for sequence in 0..SLOW_TEST_MESSAGES as u64 {
        let mut payload = vec![0u8; SLOW_TEST_PAYLOAD];
        payload[..8].copy_from_slice(&sequence.to_be_bytes());
        publisher.publish("flood", payload.into()).await.unwrap();
    }
    publisher.flush().await.unwrap();

    // nats-server stalls the publisher while the slow consumer is over half its
    // max_pending, and here cuts it at the 10 s write deadline; hence the margin.
    let fast_count = tokio::time::timeout(Duration::from_secs(40), fast_reader).await;
    assert_eq!(
        fast_count.expect("fast subscriber done in time").unwrap(),
        SLOW_TEST_MESSAGES
    );

    let slow_bytes = read_until_closed(&mut slow, Duration::from_secs(20)).await;
    let published_bytes = SLOW_TEST_MESSAGES * SLOW_TEST_PAYLOAD;
    assert!(
        slow_bytes < published_bytes,
        "slow consumer got all {slow_bytes} bytes"
    );
    server.wait_for_log("Slow Consumer Detected", REPLY_TIMEOUT);
}
