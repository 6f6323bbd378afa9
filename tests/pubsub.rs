//! Core publish/subscribe semantics over loopback: delivery, wildcards, queue groups,
//! request/reply, headers, auto-unsubscribe and echo, against a server child process.

mod common;

use std::time::{Duration, Instant};

use async_nats::{HeaderMap, RequestErrorKind};
use bytes::Bytes;
use common::{text, Opts, RawClient, Server, REPLY_TIMEOUT};
use futures::StreamExt;

/// Deadline for one async-nats message that must arrive.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

async fn next_message(subscriber: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(MESSAGE_TIMEOUT, subscriber.next())
        .await
        .expect("message before deadline")
        .expect("subscription still open")
}

#[test]
fn raw_publish_reaches_own_subscription_with_exact_bytes() {
    let server = Server::start(Opts::default());
    let mut client = RawClient::connect_quiet(server.port(), b"SUB foo 1\r\n");
    let reply =
        client.send_and_sync(b"PUB foo 5\r\nhello\r\nPUB foo r.1 2\r\nhi\r\nPUB foo 0\r\n\r\n");
    assert_eq!(
        text(&reply),
        "MSG foo 1 5\r\nhello\r\nMSG foo 1 r.1 2\r\nhi\r\nMSG foo 1 0\r\n\r\nPONG\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nats_publishes_reach_raw_subscriber_in_order_with_exact_bytes() {
    let server = Server::start(Opts::default());
    let mut subscriber = RawClient::subscriber(server.port(), "SUB basic.a 1\r\n");
    let publisher = server.client().await;
    for i in 0..100 {
        publisher
            .publish("basic.a", format!("m{i:02}").into())
            .await
            .unwrap();
    }
    publisher
        .publish("basic.other", "not for us".into())
        .await
        .unwrap();
    publisher.publish("basic.a", "end".into()).await.unwrap();
    publisher.flush().await.unwrap();

    for i in 0..100 {
        subscriber.expect_frame(&format!("MSG basic.a 1 3\r\nm{i:02}\r\n"));
    }
    subscriber.expect_frame("MSG basic.a 1 3\r\nend\r\n");
    assert_eq!(text(&subscriber.send_and_sync(b"")), "PONG\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nats_subscriber_gets_own_publishes_in_order() {
    let server = Server::start(Opts::default());
    let client = server.client().await;
    // SUB and PUB share one connection, which the server handles in order: no barrier needed.
    let mut subscriber = client.subscribe("own.*").await.unwrap();
    for i in 0..100 {
        client
            .publish(format!("own.{}", i % 3), format!("m{i}").into())
            .await
            .unwrap();
    }
    client.publish("elsewhere", "x".into()).await.unwrap();
    client.publish("own.end", "end".into()).await.unwrap();
    for i in 0..100 {
        let message = next_message(&mut subscriber).await;
        assert_eq!(message.subject.as_str(), format!("own.{}", i % 3));
        assert_eq!(message.payload, Bytes::from(format!("m{i}")));
        assert_eq!(message.reply, None);
    }
    assert_eq!(
        next_message(&mut subscriber).await.payload,
        Bytes::from("end")
    );
}

#[test]
fn wildcards_match_exactly_the_specified_subjects() {
    let server = Server::start(Opts::default());
    let subs = b"SUB foo.* 1\r\nSUB foo.> 2\r\nSUB > 3\r\nSUB *.bar 4\r\nSUB foo.bar 5\r\n";
    let mut client = RawClient::connect_quiet(server.port(), subs);
    let published = ["foo", "foo.bar", "foo.bar.baz", "x.bar", "bar", "foo.baz"];
    let mut bytes = Vec::new();
    for subject in published {
        bytes.extend_from_slice(format!("PUB {subject} 1\r\nx\r\n").as_bytes());
    }
    let reply = client.send_and_sync(&bytes);

    let mut frames = split_frames(&reply);
    assert_eq!(frames.pop().as_deref(), Some("PONG\r\n"));
    // Order across subscriptions of one message is unspecified; compare as sorted sets.
    frames.sort();
    let mut expected: Vec<String> = [
        // `foo`: only `>` (`foo.>` needs at least one more token).
        ("foo", 3),
        ("foo.bar", 1),
        ("foo.bar", 2),
        ("foo.bar", 3),
        ("foo.bar", 4),
        ("foo.bar", 5),
        ("foo.bar.baz", 2),
        ("foo.bar.baz", 3),
        ("x.bar", 3),
        ("x.bar", 4),
        ("bar", 3),
        ("foo.baz", 1),
        ("foo.baz", 2),
        ("foo.baz", 3),
    ]
    .iter()
    .map(|(subject, sid)| format!("MSG {subject} {sid} 1\r\nx\r\n"))
    .collect();
    expected.sort();
    assert_eq!(frames, expected);
}

fn split_frames(mut bytes: &[u8]) -> Vec<String> {
    let mut frames = Vec::new();
    while let Some(len) = common::frame_len(bytes) {
        frames.push(text(&bytes[..len]));
        bytes = &bytes[len..];
    }
    assert!(bytes.is_empty(), "trailing partial frame {:?}", text(bytes));
    frames
}

/// Queue members, each on its own connection (so under ringmq they alternate cores), each
/// with a plain subscription on `done` (sid 2) used as an end marker: a publisher's
/// messages reach each connection in order, so once a member saw `done` it has all its
/// queue messages.
fn queue_members(server: &Server, count: usize) -> Vec<RawClient> {
    let subs = "SUB work grp 1\r\nSUB done 2\r\n";
    (0..count)
        .map(|_| RawClient::subscriber(server.port(), subs))
        .collect()
}

/// Publishes `total` messages to `work`, then one to `done`.
async fn publish_work(publisher: &async_nats::Client, total: usize) {
    for i in 0..total {
        publisher
            .publish("work", format!("{i}").into())
            .await
            .unwrap();
    }
    publisher.publish("done", Bytes::new()).await.unwrap();
    publisher.flush().await.unwrap();
}

/// The work items (payloads of `MSG work <sid> ...`) before the `done` marker.
fn collect_work(client: &mut RawClient, sid: u32) -> Vec<usize> {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let prefix = format!("MSG work {sid} ");
    let mut items = Vec::new();
    loop {
        let frame = text(&client.next_frame(deadline).expect("open until done"));
        if frame == "MSG done 2 0\r\n\r\n" {
            return items;
        }
        assert!(frame.starts_with(&prefix), "unexpected frame {frame:?}");
        let payload = frame.split("\r\n").nth(1).expect("payload line");
        items.push(payload.parse().expect("numeric payload"));
    }
}

fn assert_each_item_exactly_once(per_member: &[Vec<usize>], total: usize) {
    let mut all: Vec<usize> = per_member.iter().flatten().copied().collect();
    assert_eq!(
        all.len(),
        total,
        "counts per member: {:?}",
        counts(per_member)
    );
    all.sort_unstable();
    assert_eq!(all, (0..total).collect::<Vec<_>>());
    for (index, items) in per_member.iter().enumerate() {
        assert!(
            !items.is_empty(),
            "member {index} got nothing: {:?}",
            counts(per_member)
        );
    }
}

fn counts(per_member: &[Vec<usize>]) -> Vec<usize> {
    per_member.iter().map(Vec::len).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_delivers_each_message_to_exactly_one_member() {
    const TOTAL: usize = 1000;
    let server = Server::start(Opts::default());
    let mut members = queue_members(&server, 4);
    let publisher = server.client().await;
    publish_work(&publisher, TOTAL).await;
    let per_member: Vec<_> = members.iter_mut().map(|m| collect_work(m, 1)).collect();
    assert_each_item_exactly_once(&per_member, TOTAL);
    // Nothing trails the marker: no member got a second copy late.
    for member in &mut members {
        assert_eq!(text(&member.send_and_sync(b"")), "PONG\r\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_and_plain_subscription_on_same_subject() {
    const TOTAL: usize = 500;
    let server = Server::start(Opts::default());
    let mut members = queue_members(&server, 3);
    let mut plain = RawClient::subscriber(server.port(), "SUB work 9\r\nSUB done 2\r\n");
    let publisher = server.client().await;
    publish_work(&publisher, TOTAL).await;

    let per_member: Vec<_> = members.iter_mut().map(|m| collect_work(m, 1)).collect();
    assert_each_item_exactly_once(&per_member, TOTAL);
    // The plain subscriber gets every message once, in publish order.
    assert_eq!(collect_work(&mut plain, 9), (0..TOTAL).collect::<Vec<_>>());
    assert_eq!(text(&plain.send_and_sync(b"")), "PONG\r\n");
}

/// A raw service on `svc.echo` answering `count` requests with `re:` + the request payload.
fn spawn_echo_service(server: &Server, count: usize) -> std::thread::JoinHandle<()> {
    let mut service = RawClient::subscriber(server.port(), "SUB svc.echo 1\r\n");
    std::thread::spawn(move || {
        for _ in 0..count {
            let frame = service
                .next_frame(Instant::now() + REPLY_TIMEOUT)
                .expect("request");
            let frame = text(&frame);
            let (line, rest) = frame.split_once("\r\n").expect("control line");
            let args: Vec<&str> = line.split(' ').collect();
            assert_eq!(args[..3], ["MSG", "svc.echo", "1"], "request line {line:?}");
            let reply_to = args[3];
            let body = format!("re:{}", rest.strip_suffix("\r\n").expect("payload end"));
            service.send(format!("PUB {reply_to} {}\r\n{body}\r\n", body.len()).as_bytes());
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_across_connections() {
    const REQUESTS: usize = 100;
    let server = Server::start(Opts::default());
    let service = spawn_echo_service(&server, REQUESTS);
    let requester = server.client().await;
    for i in 0..REQUESTS {
        let response = requester
            .request("svc.echo", format!("q{i}").into())
            .await
            .unwrap();
        assert_eq!(response.payload, Bytes::from(format!("re:q{i}")));
    }
    service.join().expect("service answered every request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_without_subscribers_gets_no_responders() {
    let server = Server::start(Opts::default());
    let requester = server.client().await;
    let started = Instant::now();
    let error = requester
        .request("nobody.home", "x".into())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RequestErrorKind::NoResponders, "{error}");
    // The 503 comes from the server at once, not from the client's request timeout.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn raw_no_responders_status_has_exact_bytes() {
    let server = Server::start(Opts::default());
    let mut client = RawClient::connect(server.port());
    client.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n");
    let reply = client.send_and_sync(b"SUB _INBOX.abc 7\r\nPUB svc.none _INBOX.abc 2\r\nhi\r\n");
    assert_eq!(
        text(&reply),
        "HMSG _INBOX.abc 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_round_trip_with_exact_values() {
    let server = Server::start(Opts::default());
    let mut raw = RawClient::connect(server.port());
    raw.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB hdr 5\r\n");
    assert_eq!(text(&raw.send_and_sync(b"")), "PONG\r\n");
    let client = server.client().await;
    let mut own = client.subscribe("hdr").await.unwrap();

    let mut headers = HeaderMap::new();
    headers.append("X-Multi", "a");
    headers.append("X-Multi", "b c");
    client
        .publish_with_headers("hdr", headers, "body".into())
        .await
        .unwrap();
    client.flush().await.unwrap();

    // On the wire: the header block exactly as the client wrote it.
    let block = "NATS/1.0\r\nX-Multi: a\r\nX-Multi: b c\r\n\r\n";
    let sizes = format!("{} {}", block.len(), block.len() + 4);
    raw.expect_frame(&format!("HMSG hdr 5 {sizes}\r\n{block}body\r\n"));
    // And parsed back by a client: exact values, nothing added.
    let message = next_message(&mut own).await;
    assert_eq!(message.payload, Bytes::from("body"));
    let received = message.headers.expect("headers delivered");
    let values: Vec<&str> = received.get_all("X-Multi").map(|v| v.as_str()).collect();
    assert_eq!(values, ["a", "b c"]);
    assert_eq!(received.len(), 1, "exactly one header name");
}

#[test]
fn header_message_reaches_non_header_subscriber_as_stripped_msg() {
    let server = Server::start(Opts::default());
    // No `headers` in CONNECT: this subscriber cannot take HMSG.
    let mut plain = RawClient::connect_quiet(server.port(), b"SUB h 1\r\n");
    assert_eq!(text(&plain.send_and_sync(b"")), "PONG\r\n");
    let mut with_headers = RawClient::connect(server.port());
    with_headers.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB h 3\r\n");
    assert_eq!(text(&with_headers.send_and_sync(b"")), "PONG\r\n");

    let mut publisher = RawClient::connect(server.port());
    publisher.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\n");
    let hpub = b"HPUB h 22 27\r\nNATS/1.0\r\nFoo: Bar\r\n\r\nhello\r\n";
    assert_eq!(text(&publisher.send_and_sync(hpub)), "PONG\r\n");

    let deadline = Instant::now() + REPLY_TIMEOUT;
    assert_eq!(
        text(&plain.next_frame(deadline).unwrap()),
        "MSG h 1 5\r\nhello\r\n"
    );
    assert_eq!(
        text(&with_headers.next_frame(deadline).unwrap()),
        "HMSG h 3 22 27\r\nNATS/1.0\r\nFoo: Bar\r\n\r\nhello\r\n"
    );
    assert_eq!(text(&plain.send_and_sync(b"")), "PONG\r\n");
}

#[test]
fn unsub_with_max_delivers_exactly_max_messages() {
    let server = Server::start(Opts::default());
    let mut client = RawClient::connect_quiet(server.port(), b"SUB foo 1\r\nUNSUB 1 3\r\n");
    let mut publishes = Vec::new();
    for i in 0..10 {
        publishes.extend_from_slice(format!("PUB foo 2\r\nm{i}\r\n").as_bytes());
    }
    let reply = client.send_and_sync(&publishes);
    assert_eq!(
        text(&reply),
        "MSG foo 1 2\r\nm0\r\nMSG foo 1 2\r\nm1\r\nMSG foo 1 2\r\nm2\r\nPONG\r\n"
    );
    // The subscription is gone, not merely paused.
    assert_eq!(
        text(&client.send_and_sync(b"PUB foo 1\r\nx\r\n")),
        "PONG\r\n"
    );
}

#[test]
fn unsub_max_counts_messages_delivered_before_it() {
    let server = Server::start(Opts::default());
    let mut client = RawClient::connect_quiet(server.port(), b"SUB bar 2\r\n");
    let two = client.send_and_sync(b"PUB bar 1\r\na\r\nPUB bar 1\r\nb\r\n");
    assert_eq!(
        text(&two),
        "MSG bar 2 1\r\na\r\nMSG bar 2 1\r\nb\r\nPONG\r\n"
    );
    assert_eq!(
        text(&client.send_and_sync(b"UNSUB 2 2\r\nPUB bar 1\r\nc\r\n")),
        "PONG\r\n"
    );
}

#[test]
fn echo_false_suppresses_only_own_messages() {
    let server = Server::start(Opts::default());
    let mut quiet = RawClient::connect(server.port());
    quiet.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\n");
    assert_eq!(
        text(&quiet.send_and_sync(b"SUB e 1\r\nPUB e 1\r\na\r\n")),
        "PONG\r\n"
    );

    // Default echo=true: the same sequence delivers the connection's own message.
    let mut echo = RawClient::connect_quiet(server.port(), b"");
    let own = echo.send_and_sync(b"SUB e 1\r\nPUB e 1\r\nb\r\n");
    assert_eq!(text(&own), "MSG e 1 1\r\nb\r\nPONG\r\n");

    // Messages from other connections still reach the echo=false subscriber.
    let deadline = Instant::now() + REPLY_TIMEOUT;
    assert_eq!(
        text(&quiet.next_frame(deadline).unwrap()),
        "MSG e 1 1\r\nb\r\n"
    );
    assert_eq!(text(&quiet.send_and_sync(b"")), "PONG\r\n");
}
