//! async-nats over WebSocket (its `websockets` feature, `ws://` URLs) end to end against a
//! server child process whose config has a `websocket {}` block: pub/sub in order,
//! request/reply and headers, between WebSocket clients and between WebSocket and TCP
//! clients, with the block's compression off and on (async-nats 0.51 does not offer
//! permessage-deflate, so with it on the server must still serve plain frames).
//!
//! Runs against ringmq (`--cores 2`: connections land on different cores), or against the
//! reference with `RINGMQ_TEST_SERVER=nats-server cargo test --test client_async_nats_ws`.
//! New subscriptions are waited for with [`await_interest`] (async-nats has no PING/PONG
//! round trip in its API).

mod common;

use async_nats::{Client, HeaderMap, Subscriber};
use bytes::Bytes;
use common::nats_client::{await_interest, header_values, next_message, publish_header_messages};
use common::{Opts, Server};

/// The start-up line that names the WebSocket port (both servers print it).
const WS_LINE: &str = "Listening for websocket clients on ";

/// A server with `websocket { listen: "127.0.0.1:-1", no_tls: true, compression }`, and
/// its WebSocket port.
fn start(compression: bool) -> (Server, u16, tempdir::Dir) {
    let dir = tempdir::Dir::new(if compression { "deflate" } else { "plain" });
    let path = dir.path.join("ws.conf");
    std::fs::write(
        &path,
        format!(
            "websocket {{\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n  compression: {compression}\n}}\n"
        ),
    )
    .expect("write config");
    let server = Server::start_with_args(Opts::default(), &["-c", path.to_str().expect("utf-8")]);
    let ws_port = server.listening_port(WS_LINE);
    (server, ws_port, dir)
}

/// A private directory for one test's config file, removed on drop.
mod tempdir {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static COUNTER: AtomicUsize = AtomicUsize::new(0);

    pub struct Dir {
        pub path: PathBuf,
    }

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "ringmq-async-nats-ws-{}-{tag}-{n}",
                std::process::id()
            ));
            std::fs::create_dir_all(&path).expect("create temp dir");
            Dir { path }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

async fn ws_client(port: u16) -> Client {
    async_nats::connect(format!("ws://127.0.0.1:{port}"))
        .await
        .expect("async-nats connects over WebSocket")
}

async fn take(sub: &mut Subscriber, count: usize, what: &str) -> Vec<Bytes> {
    let mut got = Vec::with_capacity(count);
    for i in 0..count {
        got.push(next_message(sub, &format!("{what} {i}")).await.payload);
    }
    got
}

/// 200 messages of 0..398 bytes (both sides of nats-server's 64-byte deflate threshold)
/// from one WebSocket client to another, in order; then 50 TCP → WebSocket and 50
/// WebSocket → TCP; a marker shows nothing more came.
async fn pub_sub(compression: bool) {
    let (server, ws_port, _dir) = start(compression);
    let subscriber = ws_client(ws_port).await;
    let publisher = ws_client(ws_port).await;
    let tcp = server.client().await;
    let mut sub = subscriber.subscribe("ws.ps").await.unwrap();
    let mut tcp_sub = tcp.subscribe("tcp.ps").await.unwrap();
    await_interest(&subscriber, &publisher).await;
    await_interest(&subscriber, &tcp).await;
    await_interest(&tcp, &publisher).await;

    let sent: Vec<Bytes> = (0..200u8)
        .map(|i| Bytes::from(vec![b'A' + i % 26; 2 * i as usize]))
        .collect();
    for payload in &sent {
        publisher.publish("ws.ps", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    assert_eq!(take(&mut sub, 200, "ws → ws").await, sent);

    for i in 0..50 {
        tcp.publish("ws.ps", format!("tcp{i}").into())
            .await
            .unwrap();
        publisher
            .publish("tcp.ps", format!("ws{i}").into())
            .await
            .unwrap();
    }
    tcp.flush().await.unwrap();
    publisher.flush().await.unwrap();
    let want = |prefix: &str| -> Vec<Bytes> {
        (0..50)
            .map(|i| Bytes::from(format!("{prefix}{i}")))
            .collect()
    };
    assert_eq!(take(&mut sub, 50, "tcp → ws").await, want("tcp"));
    assert_eq!(take(&mut tcp_sub, 50, "ws → tcp").await, want("ws"));
    publisher.publish("ws.ps", "marker".into()).await.unwrap();
    publisher.flush().await.unwrap();
    assert_eq!(next_message(&mut sub, "marker").await.payload, "marker");
}

#[tokio::test]
async fn websocket_pub_sub_in_order() {
    pub_sub(false).await;
}

#[tokio::test]
async fn websocket_pub_sub_in_order_with_compression_on() {
    pub_sub(true).await;
}

/// Echo service: answers each of `count` requests on `sub` with `re:<payload>`.
fn serve(client: Client, mut sub: Subscriber, count: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for _ in 0..count {
            let request = next_message(&mut sub, "request").await;
            let mut body = b"re:".to_vec();
            body.extend_from_slice(&request.payload);
            client
                .publish(request.reply.expect("reply subject"), body.into())
                .await
                .unwrap();
        }
        client.flush().await.unwrap();
    })
}

/// 25 requests from a WebSocket client to a TCP responder and 25 the other way, each
/// reply exact.
async fn request_reply(compression: bool) {
    const N: usize = 25;
    let (server, ws_port, _dir) = start(compression);
    let ws = ws_client(ws_port).await;
    let tcp = server.client().await;
    let tcp_service = serve(tcp.clone(), tcp.subscribe("svc.tcp").await.unwrap(), N);
    let ws_service = serve(ws.clone(), ws.subscribe("svc.ws").await.unwrap(), N);
    await_interest(&tcp, &ws).await;
    await_interest(&ws, &tcp).await;
    for i in 0..N {
        let reply = ws.request("svc.tcp", format!("w{i}").into()).await.unwrap();
        assert_eq!(reply.payload, Bytes::from(format!("re:w{i}")));
        let reply = tcp.request("svc.ws", format!("t{i}").into()).await.unwrap();
        assert_eq!(reply.payload, Bytes::from(format!("re:t{i}")));
    }
    tcp_service.await.unwrap();
    ws_service.await.unwrap();
}

#[tokio::test]
async fn websocket_request_reply_with_tcp_both_ways() {
    request_reply(false).await;
}

#[tokio::test]
async fn websocket_request_reply_with_compression_on() {
    request_reply(true).await;
}

/// Headers (multi-valued, with spaces and colons) from a WebSocket publisher to a
/// WebSocket and a TCP subscriber, a headers-only message, a message without; then a
/// request with headers answered with headers by a WebSocket responder.
#[tokio::test]
async fn websocket_headers_to_websocket_and_tcp_and_through_request_reply() {
    let (server, ws_port, _dir) = start(false);
    let publisher = ws_client(ws_port).await;
    let subscriber = ws_client(ws_port).await;
    let tcp = server.client().await;
    let mut ws_sub = subscriber.subscribe("hdr.ws").await.unwrap();
    let mut service = subscriber.subscribe("hdr.svc").await.unwrap();
    let mut tcp_sub = tcp.subscribe("hdr.ws").await.unwrap();
    await_interest(&subscriber, &publisher).await;
    await_interest(&tcp, &publisher).await;

    publish_header_messages(&publisher, "hdr.ws").await;

    for (who, sub) in [("ws", &mut ws_sub), ("tcp", &mut tcp_sub)] {
        let first = next_message(sub, who).await;
        assert_eq!(first.payload, "with headers", "{who}");
        let h = first.headers.expect("headers on message 1");
        assert_eq!(h.len(), 3, "{who}: {h:?}");
        assert_eq!(header_values(&h, "X-Trace"), ["abc-123"], "{who}");
        assert_eq!(header_values(&h, "X-Multi"), ["a", "b c"], "{who}");
        assert_eq!(header_values(&h, "X-Colon"), ["k: v"], "{who}");
        let second = next_message(sub, who).await;
        assert_eq!(second.payload, Bytes::new(), "{who}");
        assert_eq!(
            header_values(&second.headers.expect("headers"), "Only"),
            ["headers"]
        );
        let third = next_message(sub, who).await;
        assert_eq!(third.payload, "no headers", "{who}");
        assert!(third.headers.is_none(), "{who}: {:?}", third.headers);
    }

    let responder = subscriber.clone();
    let answer = tokio::spawn(async move {
        let request = next_message(&mut service, "request").await;
        let asked = header_values(&request.headers.expect("request headers"), "Ask");
        let mut reply = HeaderMap::new();
        reply.insert("Echo", asked.join(",").as_str());
        let body: Vec<u8> = request.payload.iter().rev().copied().collect();
        responder
            .publish_with_headers(request.reply.expect("reply subject"), reply, body.into())
            .await
            .unwrap();
        responder.flush().await.unwrap();
    });
    let mut ask = HeaderMap::new();
    ask.insert("Ask", "value 42");
    let reply = tcp
        .request_with_headers("hdr.svc", ask, "abc".into())
        .await
        .unwrap();
    assert_eq!(reply.payload, "cba");
    assert_eq!(
        header_values(&reply.headers.expect("reply headers"), "Echo"),
        ["value 42"]
    );
    answer.await.unwrap();
}
