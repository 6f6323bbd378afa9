//! The Rust NATS client's JetStream and key-value APIs (async-nats `jetstream`, `kv`) end to
//! end against a server started with `-js -sd DIR`: streams with their exact PubAcks and
//! de-duplication, a pull consumer (fetch, ack, nak and the redelivery with its delivery
//! count, the consumer's counts), a durable push consumer, ordered push and pull consumers,
//! and a key-value bucket (put, get, update at a revision, delete, history, keys, a watch
//! that sees one update). The same cases as nats-py's in
//! tests/clients/python/nats_py_js_client.py.
//!
//! Runs against ringmq with `--cores 2`: the publisher and the consumer are separate
//! connections, so they land on different cores and every delivery crosses between them.
//! `RINGMQ_TEST_SERVER=nats-server cargo test --test client_async_nats_js` runs the same
//! assertions against the reference.
//!
//! Synchronisation: every JetStream call here is a request the server answers, and acks
//! are sent with `double_ack` (an ack as a request: its empty reply says the server
//! applied it), so a later fetch or info sees its effect. Every wait has a deadline.

mod common;

use std::path::PathBuf;

use async_nats::jetstream::consumer::{pull, push, AckPolicy};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream, AckKind};
use bytes::Bytes;
use common::nats_client::MESSAGE_TIMEOUT;
use common::{Opts, Server};
use futures::{Stream, StreamExt, TryStreamExt};

/// A fresh store directory for one test (both servers keep streams across starts).
fn store_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ringmq-async-nats-js-{test}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The selected server with JetStream on, storing in [`store_dir`]; `--cores 2` for ringmq.
fn start(test: &str) -> Server {
    let dir = store_dir(test);
    Server::start(Opts {
        args: vec![
            "-js".into(),
            "-sd".into(),
            dir.to_str().expect("UTF-8 path").into(),
        ],
        ..Opts::default()
    })
}

/// A JetStream context on a connection of its own (a new connection per role, so that with
/// two cores the publisher and the consumer are served by different ones).
async fn context(server: &Server) -> jetstream::Context {
    jetstream::new(server.client().await)
}

/// The next item of `stream`, which must arrive before the deadline.
async fn next<S: Stream + Unpin>(stream: &mut S, what: &str) -> S::Item {
    tokio::time::timeout(MESSAGE_TIMEOUT, stream.next())
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {MESSAGE_TIMEOUT:?}"))
        .unwrap_or_else(|| panic!("{what}: the stream ended"))
}

/// Every message a no-wait fetch of up to `max` returns (what is there now, then the end).
async fn fetch(
    consumer: &jetstream::consumer::PullConsumer,
    max: usize,
) -> Vec<jetstream::Message> {
    let batch = consumer
        .fetch()
        .max_messages(max)
        .messages()
        .await
        .expect("fetch request");
    tokio::time::timeout(MESSAGE_TIMEOUT, batch.try_collect::<Vec<_>>())
        .await
        .expect("fetch completes before the deadline")
        .expect("fetched messages")
}

/// A key-value bucket of `history` revisions per key, made as async-nats's
/// `create_key_value` makes it (stream `KV_<bucket>` on `$KV.<bucket>.>`, the same config),
/// then opened with `get_key_value`. Not `create_key_value` itself: async-nats 0.51 asks
/// `$JS.API.INFO` first and requires `reserved_memory` and `reserved_storage` in the answer,
/// which nats-server 2.9.10 does not send (nor ringmq, whose answer is the same bytes), so
/// it fails with "data did not match any variant of untagged enum Response".
async fn create_bucket(context: &jetstream::Context, bucket: &str, history: i64) -> kv::Store {
    context
        .create_stream(stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: history,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            num_replicas: 1,
            ..Default::default()
        })
        .await
        .expect("create the bucket's stream");
    context
        .get_key_value(bucket)
        .await
        .expect("open the bucket")
}

fn payload(message: &jetstream::Message) -> &[u8] {
    &message.payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_publish_acks_and_dedupe() {
    let server = start("stream");
    let admin = context(&server).await;
    let publisher = context(&server).await;

    let mut orders = admin
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            allow_direct: true,
            ..Default::default()
        })
        .await
        .expect("create stream");
    let info = orders.info().await.expect("stream info");
    assert_eq!(
        (info.config.name.as_str(), info.config.subjects.clone()),
        ("ORDERS", vec!["orders.>".to_string()])
    );
    assert_eq!(info.state.messages, 0);

    let mut acks = Vec::new();
    for (i, subject) in ["orders.a", "orders.b", "orders.a", "orders.c"]
        .into_iter()
        .enumerate()
    {
        let ack = publisher
            .publish(subject, format!("order {}", i + 1).into())
            .await
            .expect("publish")
            .await
            .expect("PubAck");
        acks.push((ack.stream, ack.sequence, ack.duplicate));
    }
    assert_eq!(
        acks,
        (1..=4)
            .map(|n| ("ORDERS".to_string(), n, false))
            .collect::<Vec<_>>()
    );

    // The same Nats-Msg-Id twice inside the duplicate window: stored once, the second
    // PubAck names the first one's sequence and says duplicate.
    let mut dedupe = Vec::new();
    for body in ["once", "once again"] {
        let ack = publisher
            .send_publish(
                "orders.d",
                PublishMessage::build()
                    .payload(body.into())
                    .message_id("m1"),
            )
            .await
            .expect("publish with id")
            .await
            .expect("PubAck with id");
        dedupe.push((ack.sequence, ack.duplicate));
    }
    assert_eq!(dedupe, vec![(5, false), (5, true)]);

    let wrong = publisher
        .send_publish(
            "orders.e",
            PublishMessage::build()
                .payload("late".into())
                .expected_last_sequence(4),
        )
        .await
        .expect("publish with expectation")
        .await
        .expect_err("a wrong expected last sequence is refused");
    assert_eq!(wrong.kind(), PublishErrorKind::WrongLastSequence);

    // Read back on the admin connection (the other core from the publisher).
    let info = orders.info().await.expect("stream info after publishes");
    assert_eq!(
        (
            info.state.messages,
            info.state.first_sequence,
            info.state.last_sequence
        ),
        (5, 1, 5)
    );
    let second = orders.get_raw_message(2).await.expect("message 2");
    assert_eq!(
        (
            second.subject.as_str(),
            second.sequence,
            &second.payload[..]
        ),
        ("orders.b", 2, &b"order 2"[..])
    );
    let last_a = orders
        .direct_get_last_for_subject("orders.a")
        .await
        .expect("direct get last orders.a");
    assert_eq!((last_a.sequence, &last_a.payload[..]), (3, &b"order 3"[..]));
    let once = orders.get_raw_message(5).await.expect("message 5");
    assert_eq!(
        &once.payload[..],
        b"once",
        "the first of the duplicates is kept"
    );
    assert!(orders.delete_message(2).await.expect("delete message 2"));
    let info = orders.info().await.expect("stream info after delete");
    assert_eq!((info.state.messages, info.state.last_sequence), (4, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_consumer_fetch_ack_nak_redelivery() {
    let server = start("pull");
    let publisher = context(&server).await;
    let worker = context(&server).await;

    publisher
        .create_stream(stream::Config {
            name: "WORK".into(),
            subjects: vec!["work.>".into()],
            ..Default::default()
        })
        .await
        .expect("create stream");
    for i in 0..5 {
        publisher
            .publish(format!("work.{i}"), format!("job {i}").into())
            .await
            .expect("publish")
            .await
            .expect("PubAck");
    }

    let stream = worker.get_stream("WORK").await.expect("get stream");
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("worker".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("create pull consumer");

    let first = fetch(&consumer, 3).await;
    assert_eq!(
        first.iter().map(payload).collect::<Vec<_>>(),
        vec![&b"job 0"[..], b"job 1", b"job 2"]
    );
    let infos: Vec<_> = first
        .iter()
        .map(|m| {
            let info = m.info().expect("ack reply metadata");
            (
                info.stream_sequence,
                info.consumer_sequence,
                info.delivered,
                info.pending,
            )
        })
        .collect();
    assert_eq!(infos, vec![(1, 1, 1, 4), (2, 2, 1, 3), (3, 3, 1, 2)]);
    for message in &first[..2] {
        message.double_ack().await.expect("ack");
    }
    first[2]
        .double_ack_with(AckKind::Nak(None))
        .await
        .expect("nak");

    let again = fetch(&consumer, 1).await;
    assert_eq!(again.len(), 1, "one message redelivered");
    let info = again[0].info().expect("redelivery metadata");
    assert_eq!(
        (
            payload(&again[0]),
            info.stream_sequence,
            info.consumer_sequence,
            info.delivered
        ),
        (&b"job 2"[..], 3, 4, 2)
    );
    again[0].double_ack().await.expect("ack redelivery");

    let rest = fetch(&consumer, 5).await;
    assert_eq!(
        rest.iter().map(payload).collect::<Vec<_>>(),
        vec![&b"job 3"[..], b"job 4"]
    );
    for message in &rest {
        message.double_ack().await.expect("ack the rest");
    }

    let info = stream.consumer_info("worker").await.expect("consumer info");
    assert_eq!(
        (
            info.delivered.stream_sequence,
            info.delivered.consumer_sequence,
            info.ack_floor.stream_sequence,
            info.ack_floor.consumer_sequence,
        ),
        (5, 6, 5, 6)
    );
    assert_eq!(
        (
            info.num_ack_pending,
            info.num_pending,
            info.num_redelivered,
            info.num_waiting
        ),
        (0, 0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_consumer_durable_in_order() {
    let server = start("push");
    let publisher = context(&server).await;
    let listener = context(&server).await;

    publisher
        .create_stream(stream::Config {
            name: "EVENTS".into(),
            subjects: vec!["events.>".into()],
            ..Default::default()
        })
        .await
        .expect("create stream");
    publisher
        .publish("events.a", "before".into())
        .await
        .expect("publish")
        .await
        .expect("PubAck");

    let stream = listener.get_stream("EVENTS").await.expect("get stream");
    let consumer: jetstream::consumer::PushConsumer = stream
        .create_consumer(push::Config {
            durable_name: Some("pusher".into()),
            deliver_subject: listener.client().new_inbox(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("create push consumer");
    let mut messages = consumer
        .messages()
        .await
        .expect("subscribe to the deliveries");

    let first = next(&mut messages, "stored message")
        .await
        .expect("a delivery");
    assert_eq!(
        (first.subject.as_str(), payload(&first)),
        ("events.a", &b"before"[..])
    );
    first.double_ack().await.expect("ack the stored message");

    // Published after the consumer exists, from the other connection (the other core).
    for (subject, body) in [
        ("events.b", "one"),
        ("events.c", "two"),
        ("events.b", "three"),
    ] {
        publisher
            .publish(subject, body.into())
            .await
            .expect("publish")
            .await
            .expect("PubAck");
    }
    let mut live = Vec::new();
    for _ in 0..3 {
        let message = next(&mut messages, "live message")
            .await
            .expect("a delivery");
        let info = message.info().expect("ack reply metadata");
        live.push((
            message.subject.to_string(),
            String::from_utf8(message.payload.to_vec()).expect("UTF-8"),
            info.stream_sequence,
            info.consumer_sequence,
            info.delivered,
        ));
        message.double_ack().await.expect("ack a live message");
    }
    assert_eq!(
        live,
        vec![
            ("events.b".to_string(), "one".to_string(), 2, 2, 1),
            ("events.c".to_string(), "two".to_string(), 3, 3, 1),
            ("events.b".to_string(), "three".to_string(), 4, 4, 1),
        ]
    );

    let info = stream.consumer_info("pusher").await.expect("consumer info");
    assert_eq!(
        (
            info.delivered.stream_sequence,
            info.ack_floor.stream_sequence,
            info.num_ack_pending,
            info.num_pending,
            info.num_redelivered,
        ),
        (4, 4, 0, 0, 0)
    );
    assert!(info.push_bound, "the deliver subject has a subscriber");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_consumers_push_and_pull() {
    let server = start("ordered");
    let publisher = context(&server).await;
    let reader = context(&server).await;

    let stream = reader
        .create_stream(stream::Config {
            name: "FEED".into(),
            subjects: vec!["feed.>".into()],
            ..Default::default()
        })
        .await
        .expect("create stream");
    let published = [("feed.a", "1"), ("feed.b", "2"), ("feed.a", "3")];
    for (subject, body) in published {
        publisher
            .publish(subject, body.into())
            .await
            .expect("publish")
            .await
            .expect("PubAck");
    }
    let expected: Vec<(String, String)> = published
        .iter()
        .chain([("feed.c", "4")].iter())
        .map(|(s, b)| (s.to_string(), b.to_string()))
        .collect();
    let as_pair = |m: &async_nats::Message| {
        (
            m.subject.to_string(),
            String::from_utf8(m.payload.to_vec()).expect("UTF-8"),
        )
    };

    // Ordered consumers are ephemeral, ack none, flow control and heartbeats on (push) or
    // pull requests with expiry (pull); each sees the stored three, then a live one.
    let mut push = stream
        .create_consumer(push::OrderedConfig {
            deliver_subject: reader.client().new_inbox(),
            ..Default::default()
        })
        .await
        .expect("create ordered push consumer")
        .messages()
        .await
        .expect("ordered push messages");
    let mut pull = stream
        .create_consumer(pull::OrderedConfig::default())
        .await
        .expect("create ordered pull consumer")
        .messages()
        .await
        .expect("ordered pull messages");
    let mut seen_push = Vec::new();
    let mut seen_pull = Vec::new();
    for _ in 0..3 {
        seen_push.push(as_pair(
            &next(&mut push, "ordered push").await.expect("a delivery"),
        ));
        seen_pull.push(as_pair(
            &next(&mut pull, "ordered pull").await.expect("a delivery"),
        ));
    }
    publisher
        .publish("feed.c", "4".into())
        .await
        .expect("publish")
        .await
        .expect("PubAck");
    seen_push.push(as_pair(
        &next(&mut push, "ordered push live")
            .await
            .expect("a delivery"),
    ));
    seen_pull.push(as_pair(
        &next(&mut pull, "ordered pull live")
            .await
            .expect("a delivery"),
    ));
    assert_eq!(seen_push, expected, "ordered push consumer");
    assert_eq!(seen_pull, expected, "ordered pull consumer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_value_put_get_update_history_keys_watch() {
    let server = start("kv");
    let writer = context(&server).await;
    let reader = context(&server).await;

    let bucket = create_bucket(&writer, "settings", 5).await;
    assert_eq!(bucket.put("mode", "auto".into()).await.expect("put"), 1);
    assert_eq!(bucket.put("level", "3".into()).await.expect("put"), 2);

    // The reader's handle on the same bucket, on the other connection.
    let view = reader.get_key_value("settings").await.expect("get bucket");
    let entry = view
        .entry("mode")
        .await
        .expect("entry")
        .expect("mode exists");
    assert_eq!(
        (
            entry.key.as_str(),
            &entry.value[..],
            entry.revision,
            entry.operation
        ),
        ("mode", &b"auto"[..], 1, Operation::Put)
    );
    assert_eq!(
        view.update("mode", "manual".into(), 1)
            .await
            .expect("update at revision 1"),
        3
    );
    let stale = bucket
        .update("mode", "stale".into(), 1)
        .await
        .expect_err("an update at a stale revision is refused");
    assert_eq!(stale.kind(), UpdateErrorKind::WrongLastRevision);
    let exists = bucket
        .create("mode", "again".into())
        .await
        .expect_err("create of an existing key is refused");
    assert_eq!(exists.kind(), CreateErrorKind::AlreadyExists);

    bucket.delete("level").await.expect("delete level");
    assert_eq!(view.get("level").await.expect("get level"), None);
    assert_eq!(
        view.get("mode").await.expect("get mode"),
        Some(Bytes::from_static(b"manual"))
    );

    let history: Vec<_> = tokio::time::timeout(
        MESSAGE_TIMEOUT,
        view.history("mode")
            .await
            .expect("history")
            .try_collect::<Vec<_>>(),
    )
    .await
    .expect("history before the deadline")
    .expect("history entries");
    assert_eq!(
        history
            .iter()
            .map(|e| (e.value.clone(), e.revision, e.operation))
            .collect::<Vec<_>>(),
        vec![
            (Bytes::from_static(b"auto"), 1, Operation::Put),
            (Bytes::from_static(b"manual"), 3, Operation::Put),
        ]
    );
    let level: Vec<_> = tokio::time::timeout(
        MESSAGE_TIMEOUT,
        view.history("level")
            .await
            .expect("history of level")
            .try_collect::<Vec<_>>(),
    )
    .await
    .expect("history before the deadline")
    .expect("history entries");
    assert_eq!(
        level
            .iter()
            .map(|e| (e.revision, e.operation))
            .collect::<Vec<_>>(),
        vec![(2, Operation::Put), (4, Operation::Delete)]
    );

    let mut keys: Vec<String> = tokio::time::timeout(
        MESSAGE_TIMEOUT,
        view.keys().await.expect("keys").try_collect::<Vec<_>>(),
    )
    .await
    .expect("keys before the deadline")
    .expect("keys");
    keys.sort();
    assert_eq!(
        keys,
        vec!["mode".to_string()],
        "deleted keys are not listed"
    );

    // A watch of new updates only: created (a consumer request the server answered)
    // before the writer puts, so the put is the first thing it sees.
    let mut watch = view.watch("mode").await.expect("watch mode");
    assert_eq!(bucket.put("mode", "remote".into()).await.expect("put"), 5);
    let update = next(&mut watch, "watched update").await.expect("an entry");
    assert_eq!(
        (
            update.key.as_str(),
            &update.value[..],
            update.revision,
            update.operation
        ),
        ("mode", &b"remote"[..], 5, Operation::Put)
    );

    // A fresh handle: async-nats 0.51's `status()` answers from the stream info cached when
    // the handle was opened.
    let status = reader
        .get_key_value("settings")
        .await
        .expect("reopen the bucket")
        .status()
        .await
        .expect("status");
    assert_eq!(
        (status.bucket(), status.values(), status.history()),
        ("settings", 5, 5)
    );
}
