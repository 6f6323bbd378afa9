//! Helpers for the tests that drive the server with async-nats (tests/client_async_nats.rs,
//! tests/client_async_nats_ws.rs, and interest waits elsewhere): waits with deadlines and
//! the header messages both client tests publish.

use std::time::{Duration, Instant};

use async_nats::{Client, HeaderMap, Message, Subscriber};
use bytes::Bytes;
use futures::StreamExt;

/// Deadline for one message that must arrive.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`await_interest`] waits for subscriptions to become visible.
pub const INTEREST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`await_interest`] waits for one probe before it publishes another.
pub const INTEREST_POLL: Duration = Duration::from_millis(10);

/// Waits until the subscriptions that `subscriber` made before this call reach publishes
/// from `publisher`: subscribes to a fresh probe subject after them and publishes probes
/// until one arrives. A server applies a connection's SUBs in order, so the probe's
/// arrival means the earlier SUBs are in place too.
pub async fn await_interest(subscriber: &Client, publisher: &Client) {
    let subject = subscriber.new_inbox();
    let mut probe = subscriber.subscribe(subject.clone()).await.unwrap();
    subscriber.flush().await.unwrap();
    let deadline = Instant::now() + INTEREST_TIMEOUT;
    loop {
        publisher
            .publish(subject.clone(), Bytes::new())
            .await
            .unwrap();
        publisher.flush().await.unwrap();
        match tokio::time::timeout(INTEREST_POLL, probe.next()).await {
            Ok(Some(_)) => break,
            Ok(None) => panic!("probe subscription ended"),
            Err(_) => assert!(
                Instant::now() < deadline,
                "subscriptions not visible within {INTEREST_TIMEOUT:?}"
            ),
        }
    }
    probe.unsubscribe().await.unwrap();
}

/// The next message of `subscriber`, which must arrive before the deadline.
pub async fn next_message(subscriber: &mut Subscriber, what: &str) -> Message {
    tokio::time::timeout(MESSAGE_TIMEOUT, subscriber.next())
        .await
        .unwrap_or_else(|_| panic!("{what}: no message within {MESSAGE_TIMEOUT:?}"))
        .unwrap_or_else(|| panic!("{what}: subscription ended"))
}

/// Every value of header `name`, in order.
pub fn header_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .map(|v| v.as_str().to_string())
        .collect()
}

/// Publishes to `subject` a message with headers (`X-Trace`, `X-Multi` twice, `X-Colon`)
/// and payload `with headers`, a headers-only message (`Only: headers`), and `no headers`
/// without any; then flushes.
pub async fn publish_header_messages(publisher: &Client, subject: &str) {
    let mut headers = HeaderMap::new();
    headers.insert("X-Trace", "abc-123");
    headers.append("X-Multi", "a");
    headers.append("X-Multi", "b c");
    headers.insert("X-Colon", "k: v");
    publisher
        .publish_with_headers(subject.to_string(), headers, "with headers".into())
        .await
        .unwrap();
    let mut only = HeaderMap::new();
    only.insert("Only", "headers");
    publisher
        .publish_with_headers(subject.to_string(), only, Bytes::new())
        .await
        .unwrap();
    publisher
        .publish(subject.to_string(), "no headers".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();
}
