//! Helpers of the leaf node tests (`leafnode_hub`, `leafnode_remote`, `monitoring_leafz`).
//!
//! Barriers, never sleeps: after a subscription (and its PONG) on one side, a sentinel
//! connection on that side subscribes too; the other side publishes the sentinel until it
//! arrives. The link carries interest in order, so the earlier subscription is then
//! visible on the publishing side.

use super::{text, RawClient, Server, REPLY_TIMEOUT};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long interest may take to cross a link (a leaf redials every second).
pub const LINK_TIMEOUT: Duration = Duration::from_secs(10);

/// A directory of this test process for configuration files.
pub fn temp_dir(prefix: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringmq-{prefix}-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes `body` to `dir/name`; returns the path.
pub fn write_conf(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write conf");
    path.to_string_lossy().into_owned()
}

/// Waits until interest made on `subscriber_side` before this call is visible to
/// publishers on `publisher_side` (see the module docs). Returns the sentinel subscriber:
/// kept, it keeps its subscription (and a link's subscription count) as it is.
pub fn barrier(subscriber_side: &Server, publisher_side: &Server, tag: &str) -> RawClient {
    let subject = format!("sentinel.{tag}");
    let mut sentinel =
        RawClient::subscriber(subscriber_side.port(), &format!("SUB {subject} 1\r\n"));
    let mut publisher = RawClient::connect_quiet(publisher_side.port(), b"");
    let deadline = Instant::now() + LINK_TIMEOUT;
    loop {
        publisher.send_and_sync(format!("PUB {subject} 1\r\nx\r\n").as_bytes());
        if text(&sentinel.send_and_sync(b"")).contains("MSG") {
            return sentinel;
        }
        assert!(
            Instant::now() < deadline,
            "interest never crossed the link\nsubscriber side log:\n{}\npublisher side log:\n{}",
            subscriber_side.log_lines().join("\n"),
            publisher_side.log_lines().join("\n")
        );
    }
}

/// Waits until the link between `one` and `other` carries new interest both ways.
///
/// "Leafnode connection created" is logged before the link is ready: nats-server 2.9.10
/// sends a subscription made while its leaf handshake is still under way neither in the
/// link's first interest nor later (seen in CI: a sentinel subscribed 1 ms after that log
/// line never crossed). So each attempt subscribes a sentinel of its own for a while, a new
/// one when it does not cross; once one crosses, the link sends interest as it changes.
pub fn wait_link_ready(one: &Server, other: &Server) {
    const ATTEMPT: Duration = Duration::from_millis(250);
    for (subscriber_side, publisher_side) in [(one, other), (other, one)] {
        let deadline = Instant::now() + LINK_TIMEOUT;
        let mut publisher = RawClient::connect_quiet(publisher_side.port(), b"");
        'attempts: for attempt in 0.. {
            let subject = format!("link.ready.{attempt}");
            let mut sentinel =
                RawClient::subscriber(subscriber_side.port(), &format!("SUB {subject} 1\r\n"));
            let give_up = Instant::now() + ATTEMPT;
            while Instant::now() < give_up {
                publisher.send_and_sync(format!("PUB {subject} 1\r\nx\r\n").as_bytes());
                if text(&sentinel.send_and_sync(b"")).contains("MSG") {
                    break 'attempts;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the link never carried interest\nsubscriber side log:\n{}\npublisher side log:\n{}",
                subscriber_side.log_lines().join("\n"),
                publisher_side.log_lines().join("\n")
            );
        }
    }
}

/// Reads frames until PONG after a PING, for an exact comparison.
pub fn drain(client: &mut RawClient) -> String {
    text(&client.send_and_sync(b""))
}

/// Reads `count` frames (waiting for them), concatenated.
pub fn frames(client: &mut RawClient, count: usize) -> String {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    (0..count)
        .map(|_| text(&client.next_frame(deadline).expect("frame before EOF")))
        .collect()
}

/// The MSG frames received up to the PONG of a PING sent now.
pub fn count_msgs(client: &mut RawClient) -> usize {
    drain(client).matches("MSG ").count()
}
