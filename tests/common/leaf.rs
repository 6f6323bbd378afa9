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
        assert!(Instant::now() < deadline, "interest never crossed the link");
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
