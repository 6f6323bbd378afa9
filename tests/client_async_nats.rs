//! The Rust NATS client (async-nats) end to end against a server child process, the same
//! list as the Python and Node client scripts in `tests/clients/`: connect, wildcards, queue
//! groups, request/reply, headers, no-responders, unsubscribe with max, flush, drain, and
//! reconnect after a server restart on the same port. Every client here is async-nats;
//! `tests/pubsub.rs` checks the exact wire bytes of the same features with raw TCP.
//!
//! Runs against ringmq (`--cores 2`, so connections land on different cores), or against
//! the reference with `RINGMQ_TEST_SERVER=nats-server cargo test --test client_async_nats`.
//!
//! async-nats 0.51 has no PING/PONG round trip in its API (`flush()` only writes out its
//! buffer), so a test that needs a new subscription in place before another connection
//! publishes waits for it with [`await_interest`]: probe until a probe message arrives.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_nats::{Client, ConnectOptions, Event, HeaderMap, RequestErrorKind, Subscriber};
use bytes::Bytes;
use common::nats_client::{
    await_interest, header_values, next_message, publish_header_messages, MESSAGE_TIMEOUT,
};
use common::{Flavor, READY_LINE};
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;

/// How long a server may take to start listening (generous: the machine is shared).
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after SIGTERM (ringmq flushes for up to 2 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to notice a restart and reconnect.
const RECONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Poll interval of the condition waits below (never a synchronisation by itself).
const POLL: Duration = Duration::from_millis(10);
/// Where the Debian package installs the reference server.
const NATS_SERVER_PATH: &str = "/usr/sbin/nats-server";

/// Tells apart the log files of servers started by tests running in parallel.
static SERVER_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A server child process that can be restarted on the same port; killed on drop.
struct ServerProcess {
    flavor: Flavor,
    child: Option<Child>,
    port: u16,
    log_path: PathBuf,
}

impl ServerProcess {
    /// Starts the selected server on 127.0.0.1 with a free port.
    async fn start() -> ServerProcess {
        let id = SERVER_COUNTER.fetch_add(1, Ordering::Relaxed);
        let log_path = std::env::temp_dir().join(format!(
            "ringmq-client-async-nats-{}-{id}.log",
            std::process::id()
        ));
        let mut server = ServerProcess {
            flavor: Flavor::from_env(),
            child: None,
            port: 0,
            log_path,
        };
        server.spawn("-1").await;
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Spawns the server with `-p port` and waits until it reports listening and the port
    /// accepts connections.
    async fn spawn(&mut self, port: &str) {
        let mut command = match self.flavor {
            Flavor::Ringmq => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_ringmq"));
                c.args(["--cores", "2"]);
                c
            }
            Flavor::NatsServer => {
                Command::new(if std::path::Path::new(NATS_SERVER_PATH).exists() {
                    NATS_SERVER_PATH
                } else {
                    "nats-server"
                })
            }
        };
        command.args(["-a", "127.0.0.1", "-p", port]);
        let log = std::fs::File::create(&self.log_path).expect("create server log");
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        self.child = Some(
            command
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {command:?}: {e}")),
        );

        let deadline = Instant::now() + START_TIMEOUT;
        self.port = loop {
            let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains(READY_LINE)) {
                let address = line.split(READY_LINE).nth(1).expect("address follows");
                let port = address
                    .trim()
                    .rsplit(':')
                    .next()
                    .expect("address has a port");
                break port
                    .parse()
                    .unwrap_or_else(|e| panic!("port in {line:?}: {e}"));
            }
            self.check_alive("starting");
            assert!(
                Instant::now() < deadline,
                "server did not listen in time:\n{log}"
            );
            tokio::time::sleep(POLL).await;
        };
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            self.check_alive("starting");
            assert!(
                Instant::now() < deadline,
                "port {} never accepted",
                self.port
            );
            tokio::time::sleep(POLL).await;
        }
    }

    fn check_alive(&mut self, doing: &str) {
        let child = self.child.as_mut().expect("server started");
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("server exited ({status}) while {doing}:\n{}", self.log());
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGTERM (clients see their connections close) and waits until
    /// it has exited.
    async fn stop(&mut self) {
        let pid = self
            .child
            .as_ref()
            .expect("server started")
            .id()
            .to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid}: {status}");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            let child = self.child.as_mut().expect("server started");
            if child.try_wait().expect("try_wait").is_some() {
                self.child = None;
                return;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!(
                    "server still running {STOP_TIMEOUT:?} after SIGTERM:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the server and starts it again on the same port.
    ///
    /// SIGTERM, not SIGKILL: after a SIGKILL, ringmq's listening socket outlives the
    /// process for up to about a second (the kernel tears the io_uring down, and the accept
    /// it holds, after the process is gone), so an immediate restart can fail with
    /// "Address already in use". nats-server rebinds at once.
    async fn restart(&mut self) {
        let port = self.port;
        self.stop().await;
        self.spawn(&port.to_string()).await;
        assert_eq!(self.port, port, "port after restart");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

async fn connect(server: &ServerProcess) -> Client {
    async_nats::connect(server.url())
        .await
        .expect("async-nats connects")
}

/// The next `count` messages as (subject, payload) text pairs.
async fn take(subscriber: &mut Subscriber, count: usize, what: &str) -> Vec<(String, String)> {
    let mut got = Vec::with_capacity(count);
    for _ in 0..count {
        let message = next_message(subscriber, what).await;
        got.push((message.subject.to_string(), text(&message.payload)));
    }
    got
}

async fn payloads(subscriber: &mut Subscriber, count: usize, what: &str) -> Vec<String> {
    take(subscriber, count, what)
        .await
        .into_iter()
        .map(|(_, payload)| payload)
        .collect()
}

/// Asserts that nothing more is queued on `subscriber` right now. Only meaningful once a
/// later message on the same connection (a marker) has arrived: a connection's messages
/// arrive in order and async-nats hands each to its subscription as it reads it.
fn assert_nothing_queued(subscriber: &mut Subscriber, what: &str) {
    if let Some(extra) = queued(subscriber) {
        panic!("{what}: unexpected extra {extra:?}");
    }
}

/// The next message already queued on `subscriber`, without waiting. `unconstrained`:
/// tokio's cooperative budget would otherwise make a long run of reads report "nothing
/// queued" early.
fn queued(subscriber: &mut Subscriber) -> Option<Option<async_nats::Message>> {
    tokio::task::unconstrained(subscriber.next()).now_or_never()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 payload")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_sees_the_server_info_of_nats_server_2_9_10() {
    let server = ServerProcess::start().await;
    let client = ConnectOptions::new()
        .name("async-nats-connect")
        .connect(server.url())
        .await
        .expect("connects");
    let info = client.server_info();
    assert_eq!(info.version, "2.9.10");
    assert!(info.headers, "INFO headers");
    assert_eq!(info.max_payload, 1024 * 1024);
    assert_eq!(info.proto, 1);
    assert_eq!(info.port, server.port);
    assert_eq!(
        client.connection_state(),
        async_nats::connection::State::Connected
    );
    // A request to itself proves the CONNECT was accepted and the connection works.
    let mut echo = client.subscribe("connect.echo").await.unwrap();
    let responder = client.clone();
    let service = tokio::spawn(async move {
        let request = next_message(&mut echo, "request").await;
        responder
            .publish(request.reply.expect("reply subject"), "pong".into())
            .await
            .unwrap();
    });
    let reply = client.request("connect.echo", "ping".into()).await.unwrap();
    assert_eq!(reply.payload, Bytes::from("pong"));
    service.await.unwrap();
    assert_eq!(client.statistics().connects.load(Ordering::Relaxed), 1);
}

/// NATS subject matching, written out plainly to compute the expected deliveries.
fn matches(pattern: &str, subject: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let subject: Vec<&str> = subject.split('.').collect();
    for (i, token) in pattern.iter().enumerate() {
        if *token == ">" {
            return subject.len() > i;
        }
        if i >= subject.len() || (*token != "*" && *token != subject[i]) {
            return false;
        }
    }
    pattern.len() == subject.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcards_deliver_exactly_the_matching_subjects_in_order() {
    assert_eq!(
        ["wild", "wild.a", "wild.a.b.c"].map(|s| matches("wild.>", s)),
        [false, true, true],
        "matcher self-check"
    );
    let server = ServerProcess::start().await;
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let patterns = ["wild.*", "wild.>", "wild.*.c", "wild.a.b", "*.a"];
    let mut subs = Vec::new();
    for pattern in patterns {
        subs.push(subscriber.subscribe(pattern).await.unwrap());
    }
    let mut marker = subscriber.subscribe("marker.wild").await.unwrap();
    await_interest(&subscriber, &publisher).await;

    let published = [
        "wild",
        "wild.a",
        "wild.a.b",
        "wild.x.c",
        "wild.a.b.c",
        "other.a",
        "wild.b",
    ];
    for (i, subject) in published.iter().enumerate() {
        publisher
            .publish(*subject, format!("{i}:{subject}").into())
            .await
            .unwrap();
    }
    publisher
        .publish("marker.wild", "end".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();

    assert_eq!(payloads(&mut marker, 1, "marker").await, ["end"]);
    for (pattern, sub) in patterns.iter().zip(subs.iter_mut()) {
        let expected: Vec<(String, String)> = published
            .iter()
            .enumerate()
            .filter(|(_, subject)| matches(pattern, subject))
            .map(|(i, subject)| (subject.to_string(), format!("{i}:{subject}")))
            .collect();
        // In publish order: one publisher, one subscribing connection.
        let got = take(sub, expected.len(), pattern).await;
        assert_eq!(got, expected, "messages on {pattern}");
        assert_nothing_queued(sub, pattern);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_gives_each_message_to_exactly_one_member() {
    const TOTAL: usize = 300;
    let server = ServerProcess::start().await;
    let publisher = connect(&server).await;
    let mut members = Vec::new();
    for _ in 0..3 {
        let client = connect(&server).await;
        let work = client
            .queue_subscribe("work", "workers".into())
            .await
            .unwrap();
        let done = client.subscribe("work.done").await.unwrap();
        await_interest(&client, &publisher).await;
        members.push((client, work, done));
    }
    let plain_client = connect(&server).await;
    let mut plain = plain_client.subscribe("work").await.unwrap();
    let mut plain_done = plain_client.subscribe("work.done").await.unwrap();
    await_interest(&plain_client, &publisher).await;

    for i in 0..TOTAL {
        publisher
            .publish("work", i.to_string().into())
            .await
            .unwrap();
    }
    publisher.publish("work.done", Bytes::new()).await.unwrap();
    publisher.flush().await.unwrap();

    let mut per_member = Vec::new();
    for (_client, work, done) in &mut members {
        // The marker follows every work item on that connection.
        assert_eq!(payloads(done, 1, "done marker").await, [""]);
        let mut items = Vec::new();
        while let Some(Some(message)) = queued(work) {
            items.push(text(&message.payload).parse::<usize>().unwrap());
        }
        per_member.push(items);
    }
    let counts: Vec<usize> = per_member.iter().map(Vec::len).collect();
    let mut everything: Vec<usize> = per_member.iter().flatten().copied().collect();
    everything.sort_unstable();
    assert_eq!(everything.len(), TOTAL, "per member {counts:?}");
    assert_eq!(everything, (0..TOTAL).collect::<Vec<_>>());
    for (index, items) in per_member.iter().enumerate() {
        assert!(
            items.windows(2).all(|w| w[0] < w[1]),
            "member {index} order"
        );
        assert!(!items.is_empty(), "member {index} got nothing: {counts:?}");
    }

    assert_eq!(payloads(&mut plain_done, 1, "plain done").await, [""]);
    let got = payloads(&mut plain, TOTAL, "plain subscriber").await;
    let expected: Vec<String> = (0..TOTAL).map(|i| i.to_string()).collect();
    assert_eq!(got, expected);
    assert_nothing_queued(&mut plain, "plain subscriber");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_between_async_nats_clients() {
    const REQUESTS: usize = 50;
    let server = ServerProcess::start().await;
    let service_client = connect(&server).await;
    let requester = connect(&server).await;
    let mut requests = service_client.subscribe("svc.echo").await.unwrap();
    await_interest(&service_client, &requester).await;
    let responder = service_client.clone();
    let service = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..REQUESTS {
            let request = next_message(&mut requests, "request").await;
            let body = format!("re:{}", text(&request.payload));
            seen.push(text(&request.payload));
            responder
                .publish(request.reply.expect("reply subject"), body.into())
                .await
                .unwrap();
        }
        seen
    });
    for i in 0..REQUESTS {
        let reply = requester
            .request("svc.echo", format!("q{i}").into())
            .await
            .unwrap();
        assert_eq!(reply.payload, Bytes::from(format!("re:q{i}")));
    }
    let seen = service.await.unwrap();
    assert_eq!(
        seen,
        (0..REQUESTS).map(|i| format!("q{i}")).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_round_trip_through_publish_and_request_reply() {
    let server = ServerProcess::start().await;
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let mut sub = subscriber.subscribe("hdr.test").await.unwrap();
    let mut service = subscriber.subscribe("hdr.svc").await.unwrap();
    await_interest(&subscriber, &publisher).await;

    publish_header_messages(&publisher, "hdr.test").await;

    let first = next_message(&mut sub, "message 1").await;
    assert_eq!(first.payload, Bytes::from("with headers"));
    let received = first.headers.expect("headers on message 1");
    assert_eq!(received.len(), 3, "header names: {received:?}");
    assert_eq!(header_values(&received, "X-Trace"), ["abc-123"]);
    assert_eq!(header_values(&received, "X-Multi"), ["a", "b c"]);
    assert_eq!(header_values(&received, "X-Colon"), ["k: v"]);
    assert_eq!(first.status, None);
    let second = next_message(&mut sub, "message 2").await;
    assert_eq!(second.payload, Bytes::new());
    let received = second.headers.expect("headers on message 2");
    assert_eq!(received.len(), 1);
    assert_eq!(header_values(&received, "Only"), ["headers"]);
    let third = next_message(&mut sub, "message 3").await;
    assert_eq!(third.payload, Bytes::from("no headers"));
    assert!(third.headers.is_none(), "{:?}", third.headers);

    // Both ways through request/reply.
    let responder = subscriber.clone();
    let answer = tokio::spawn(async move {
        let request = next_message(&mut service, "request").await;
        let asked = request.headers.expect("request headers");
        let mut back = HeaderMap::new();
        for value in header_values(&asked, "Ask") {
            back.append("Echo", value.as_str());
        }
        let reversed: String = text(&request.payload).chars().rev().collect();
        responder
            .publish_with_headers(request.reply.expect("reply"), back, reversed.into())
            .await
            .unwrap();
    });
    let mut ask = HeaderMap::new();
    ask.append("Ask", "value 42");
    ask.append("Ask", "second");
    let reply = publisher
        .request_with_headers("hdr.svc", ask, "abc".into())
        .await
        .unwrap();
    answer.await.unwrap();
    assert_eq!(reply.payload, Bytes::from("cba"));
    let echoed = reply.headers.expect("reply headers");
    assert_eq!(echoed.len(), 1);
    assert_eq!(header_values(&echoed, "Echo"), ["value 42", "second"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_without_responders_fails_with_no_responders() {
    let server = ServerProcess::start().await;
    let client = ConnectOptions::new()
        // Far longer than the test may take: only the server's 503 can end the request.
        .request_timeout(Some(Duration::from_secs(600)))
        .connect(server.url())
        .await
        .unwrap();
    let error = tokio::time::timeout(
        MESSAGE_TIMEOUT,
        client.request("nobody.home", "anyone?".into()),
    )
    .await
    .expect("an answer well before the request timeout")
    .unwrap_err();
    assert_eq!(error.kind(), RequestErrorKind::NoResponders, "{error}");

    // The connection is still usable, and a responder that appears is reached.
    let mut service = client.subscribe("nobody.home").await.unwrap();
    let responder = client.clone();
    let answer = tokio::spawn(async move {
        let request = next_message(&mut service, "request").await;
        responder
            .publish(request.reply.expect("reply"), "here".into())
            .await
            .unwrap();
    });
    // Same connection: the server applies the SUB before the request that follows it.
    let reply = client
        .request("nobody.home", "anyone?".into())
        .await
        .unwrap();
    answer.await.unwrap();
    assert_eq!(reply.payload, Bytes::from("here"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_after_delivers_exactly_max_then_ends() {
    let server = ServerProcess::start().await;
    // One connection publishes and subscribes: the server handles its commands in order,
    // so no probe is needed and the connection's message count below is exact.
    let client = connect(&server).await;
    let mut limited = client.subscribe("limited").await.unwrap();
    limited.unsubscribe_after(3).await.unwrap();
    let mut marker = client.subscribe("limited.end").await.unwrap();
    for i in 0..10 {
        client
            .publish("limited", format!("m{i}").into())
            .await
            .unwrap();
    }
    client.publish("limited.end", "end".into()).await.unwrap();
    client.flush().await.unwrap();

    assert_eq!(payloads(&mut marker, 1, "marker").await, ["end"]);
    let got = payloads(&mut limited, 3, "limited").await;
    assert_eq!(got, ["m0", "m1", "m2"]);
    // The stream ends after the third message, with nothing after it.
    let end = tokio::time::timeout(MESSAGE_TIMEOUT, limited.next())
        .await
        .expect("the subscription ends");
    assert!(end.is_none(), "a fourth message: {end:?}");
    // The server stopped sending too (the client counts every message it reads, also
    // those for a subscription it dropped): 3 for `limited` and the marker.
    assert_eq!(client.statistics().in_messages.load(Ordering::Relaxed), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_writes_everything_published_before_it() {
    const TOTAL: usize = 1000;
    let server = ServerProcess::start().await;
    let subscriber = connect(&server).await;
    let mut bulk = subscriber.subscribe("flush.bulk").await.unwrap();
    let mut done = subscriber.subscribe("flush.done").await.unwrap();
    {
        let publisher = connect(&server).await;
        await_interest(&subscriber, &publisher).await;
        let sent_before = publisher.statistics().out_messages.load(Ordering::Relaxed);
        for i in 0..TOTAL {
            publisher
                .publish("flush.bulk", format!("b{i}").repeat(10).into())
                .await
                .unwrap();
        }
        publisher.publish("flush.done", Bytes::new()).await.unwrap();
        publisher.flush().await.unwrap();
        let sent = publisher.statistics().out_messages.load(Ordering::Relaxed) - sent_before;
        assert_eq!(sent, TOTAL as u64 + 1);
        // Dropped right after flush: what flush wrote out must still arrive.
    }
    assert_eq!(payloads(&mut done, 1, "done marker").await, [""]);
    let got = payloads(&mut bulk, TOTAL, "bulk").await;
    let expected: Vec<String> = (0..TOTAL).map(|i| format!("b{i}").repeat(10)).collect();
    assert_eq!(got, expected);
    assert_nothing_queued(&mut bulk, "bulk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_delivers_received_messages_then_closes() {
    const TOTAL: usize = 500;
    let server = ServerProcess::start().await;
    let client = connect(&server).await;
    let mut sub = client.subscribe("drain.own").await.unwrap();
    let mut marker = client.subscribe("drain.marker").await.unwrap();
    for i in 0..TOTAL {
        client
            .publish("drain.own", format!("d{i}").into())
            .await
            .unwrap();
    }
    client.publish("drain.marker", Bytes::new()).await.unwrap();
    // Once the marker is here, all 500 are in the subscription's queue, unread.
    next_message(&mut marker, "marker").await;
    client.drain().await.unwrap();

    // Every queued message comes out in order, then the subscription ends.
    let got = payloads(&mut sub, TOTAL, "drained messages").await;
    assert_eq!(got, (0..TOTAL).map(|i| format!("d{i}")).collect::<Vec<_>>());
    let end = tokio::time::timeout(MESSAGE_TIMEOUT, sub.next())
        .await
        .expect("the subscription ends after draining");
    assert!(end.is_none(), "a message after the drained ones: {end:?}");
    // The client is closed for new work.
    let deadline = Instant::now() + MESSAGE_TIMEOUT;
    while client.publish("drain.own", "late".into()).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "publish still accepted after drain"
        );
        tokio::time::sleep(POLL).await;
    }
    assert!(client.subscribe("drain.again").await.is_err());
}

/// Connects with fast reconnects and forwards the connection events to the returned channel.
async fn connect_reconnecting(server: &ServerProcess) -> (Client, mpsc::UnboundedReceiver<Event>) {
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let client = ConnectOptions::new()
        .reconnect_delay_callback(|_attempts| Duration::from_millis(50))
        .event_callback(move |event| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(event);
            }
        })
        .connect(server.url())
        .await
        .expect("connects");
    (client, events_rx)
}

/// Waits for Disconnected and then Connected.
async fn await_reconnect(events: &mut mpsc::UnboundedReceiver<Event>, who: &str) {
    let deadline = Instant::now() + RECONNECT_TIMEOUT;
    let mut disconnected = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(remaining, events.recv())
            .await
            .unwrap_or_else(|_| panic!("{who}: no reconnect within {RECONNECT_TIMEOUT:?}"))
            .expect("event channel open");
        match event {
            Event::Disconnected => disconnected = true,
            Event::Connected if disconnected => return,
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_after_restart_resubscribes_and_receives() {
    let mut server = ServerProcess::start().await;
    let (subscriber, mut sub_events) = connect_reconnecting(&server).await;
    let (publisher, mut pub_events) = connect_reconnecting(&server).await;
    let mut sub = subscriber.subscribe("recon.>").await.unwrap();
    let mut queued = subscriber
        .queue_subscribe("recon.q", "q".into())
        .await
        .unwrap();
    await_interest(&subscriber, &publisher).await;
    publisher.publish("recon.a", "before".into()).await.unwrap();
    publisher.flush().await.unwrap();
    assert_eq!(payloads(&mut sub, 1, "before").await, ["before"]);

    server.restart().await;
    await_reconnect(&mut sub_events, "subscriber").await;
    await_reconnect(&mut pub_events, "publisher").await;
    // The client re-sent its SUBs while reconnecting, before any later command.
    await_interest(&subscriber, &publisher).await;
    for i in 0..10 {
        publisher
            .publish(format!("recon.{}", i % 3), format!("after{i}").into())
            .await
            .unwrap();
    }
    publisher.publish("recon.q", "queued".into()).await.unwrap();
    publisher.flush().await.unwrap();
    let mut expected: Vec<(String, String)> = (0..10)
        .map(|i| (format!("recon.{}", i % 3), format!("after{i}")))
        .collect();
    expected.push(("recon.q".into(), "queued".into()));
    assert_eq!(take(&mut sub, 11, "after the restart").await, expected);
    assert_eq!(payloads(&mut queued, 1, "queue sub").await, ["queued"]);

    // Request/reply on the new server (the response inbox was re-subscribed too).
    let mut service = subscriber.subscribe("svc.recon").await.unwrap();
    await_interest(&subscriber, &publisher).await;
    let responder = subscriber.clone();
    let answer = tokio::spawn(async move {
        let request = next_message(&mut service, "request").await;
        let body = format!("ok:{}", text(&request.payload));
        responder
            .publish(request.reply.expect("reply"), body.into())
            .await
            .unwrap();
    });
    let reply = publisher.request("svc.recon", "ping".into()).await.unwrap();
    answer.await.unwrap();
    assert_eq!(reply.payload, Bytes::from("ok:ping"));
    assert_nothing_queued(&mut sub, "recon.>");
    for client in [&subscriber, &publisher] {
        assert_eq!(client.statistics().connects.load(Ordering::Relaxed), 2);
    }
}
