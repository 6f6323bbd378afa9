//! ringmq as a leaf node hub: a real nats-server 2.9.10 leaf dials its leaf port
//! (`leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:PORT" } ] }`); clients on both sides
//! exchange messages across the link. `RINGMQ_TEST_SERVER=nats-server` runs the same tests
//! with a nats-server hub.
//!
//! Barriers, never sleeps: after a subscription (and its PONG) on one side, a sentinel
//! connection on that side subscribes too; the other side publishes the sentinel until it
//! arrives. The link carries interest in order, so the earlier subscription is then
//! visible on the publishing side.

mod common;

use common::leaf::{barrier, count_msgs, drain, frames, wait_link_ready, write_conf};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::time::{Duration, Instant};

const LEAF_LINE: &str = "Listening for leafnode connections on ";

struct Pair {
    hub: Server,
    leaf: Server,
    _dir: std::path::PathBuf,
}

/// Starts the hub (the server under test) with a leaf port, and a nats-server leaf that
/// dials it; returns once the link is up on both sides.
fn pair(name: &str) -> Pair {
    let dir = std::env::temp_dir().join(format!("ringmq-leafhub-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let hub_conf = write_conf(
        &dir,
        "hub.conf",
        "server_name: hub\nleafnodes { host: 127.0.0.1, port: -1 }\n",
    );
    let hub = Server::start_with_args(Opts::default(), &["-c", &hub_conf]);
    let leaf_port = hub.listening_port(LEAF_LINE);
    let leaf_conf = write_conf(
        &dir,
        "leaf.conf",
        &format!(
            "server_name: leaf1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{leaf_port}\" }} ] }}\n"
        ),
    );
    let launch = Launch {
        args: vec!["-c".into(), leaf_conf],
        ..Launch::default()
    };
    let leaf = Server::start_flavor(Flavor::NatsServer, Opts::default(), &launch);
    leaf.wait_for_log("Leafnode connection created", REPLY_TIMEOUT);
    hub.wait_for_log("Leafnode connection created", REPLY_TIMEOUT);
    wait_link_ready(&hub, &leaf);
    Pair {
        hub,
        leaf,
        _dir: dir,
    }
}

#[test]
fn hub_publishes_reach_leaf_subscribers_with_wildcards_replies_and_headers() {
    let pair = pair("h2l");
    let mut sub = RawClient::subscriber(
        pair.leaf.port(),
        "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB orders.> 1\r\nSUB orders.*.new 2\r\n",
    );
    barrier(&pair.leaf, &pair.hub, "h2l");
    let mut publisher = RawClient::connect_quiet(
        pair.hub.port(),
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\n",
    );
    publisher.send_and_sync(
        b"PUB orders.eu.new r.1 5\r\nhello\r\nHPUB orders.us 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPUB other 1\r\nx\r\n",
    );
    let got = frames(&mut sub, 3);
    let expected_a = "MSG orders.eu.new 1 r.1 5\r\nhello\r\nMSG orders.eu.new 2 r.1 5\r\nhello\r\n";
    let expected_b = "MSG orders.eu.new 2 r.1 5\r\nhello\r\nMSG orders.eu.new 1 r.1 5\r\nhello\r\n";
    let (first_two, last) = got.split_at(expected_a.len());
    assert!(
        first_two == expected_a || first_two == expected_b,
        "{got:?}"
    );
    assert_eq!(last, "HMSG orders.us 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    assert_eq!(drain(&mut sub), "PONG\r\n");
}

#[test]
fn leaf_publishes_reach_hub_subscribers_on_every_core() {
    let pair = pair("l2h");
    // Two subscribers: with two cores they land on different ones.
    let mut first = RawClient::subscriber(pair.hub.port(), "SUB up.> 7\r\n");
    let mut second = RawClient::subscriber(
        pair.hub.port(),
        "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB up.x 8\r\n",
    );
    barrier(&pair.hub, &pair.leaf, "l2h");
    let mut publisher = RawClient::connect_quiet(
        pair.leaf.port(),
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\n",
    );
    publisher
        .send_and_sync(b"PUB up.x reply.z 3\r\nabc\r\nHPUB up.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    assert_eq!(
        frames(&mut first, 2),
        "MSG up.x 7 reply.z 3\r\nabc\r\nMSG up.x 7 2\r\nhi\r\n"
    );
    assert_eq!(
        frames(&mut second, 2),
        "MSG up.x 8 reply.z 3\r\nabc\r\nHMSG up.x 8 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    );
    assert_eq!(drain(&mut first), "PONG\r\n");
    assert_eq!(drain(&mut second), "PONG\r\n");
}

#[test]
fn queue_groups_across_the_link_deliver_once_and_prefer_local_members() {
    let pair = pair("queue");
    let mut leaf_a = RawClient::subscriber(pair.leaf.port(), "SUB work workers 1\r\n");
    let mut leaf_b = RawClient::subscriber(pair.leaf.port(), "SUB work workers 2\r\n");
    barrier(&pair.leaf, &pair.hub, "queue");
    let mut publisher = RawClient::connect_quiet(pair.hub.port(), b"");
    let mut batch = String::new();
    for i in 0..20 {
        batch.push_str(&format!("PUB work 2\r\n{i:02}\r\n"));
    }
    publisher.send_and_sync(batch.as_bytes());
    // Only leaf members: one of them gets each message, in the `| workers` form on the link.
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let (mut a, mut b) = (0, 0);
    while a + b < 20 {
        assert!(Instant::now() < deadline, "{a} + {b} of 20");
        a += count_msgs(&mut leaf_a);
        b += count_msgs(&mut leaf_b);
    }
    assert_eq!(a + b, 20);
    // A hub member joins: the hub prefers it for every message published on the hub.
    let mut hub_member = RawClient::subscriber(pair.hub.port(), "SUB work workers 9\r\n");
    publisher.send_and_sync(batch.as_bytes());
    let got = frames(&mut hub_member, 20);
    assert_eq!(got.matches("MSG work 9 2\r\n").count(), 20, "{got:?}");
    // A message from the leaf side with the same group reaches exactly one member.
    let mut leaf_publisher = RawClient::connect_quiet(pair.leaf.port(), b"");
    leaf_publisher.send_and_sync(b"PUB work 2\r\nzz\r\n");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut seen = 0;
    while seen == 0 {
        assert!(Instant::now() < deadline, "the leaf's message went nowhere");
        seen += count_msgs(&mut leaf_a) + count_msgs(&mut leaf_b) + count_msgs(&mut hub_member);
    }
    assert_eq!(seen, 1);
    barrier(&pair.leaf, &pair.hub, "queue-end");
    assert_eq!(
        count_msgs(&mut leaf_a) + count_msgs(&mut leaf_b) + count_msgs(&mut hub_member),
        0
    );
}

#[test]
fn request_reply_across_the_link() {
    let pair = pair("reqrep");
    let mut responder = RawClient::subscriber(pair.leaf.port(), "SUB svc.echo 1\r\n");
    barrier(&pair.leaf, &pair.hub, "svc");
    let mut requester = RawClient::subscriber(pair.hub.port(), "SUB _INBOX.r.* 5\r\n");
    barrier(&pair.hub, &pair.leaf, "inbox");
    requester.send(b"PUB svc.echo _INBOX.r.1 4\r\nping\r\n");
    let request = frames(&mut responder, 1);
    assert_eq!(request, "MSG svc.echo 1 _INBOX.r.1 4\r\nping\r\n");
    responder.send(b"PUB _INBOX.r.1 4\r\npong\r\n");
    assert_eq!(frames(&mut requester, 1), "MSG _INBOX.r.1 5 4\r\npong\r\n");
}

#[test]
fn after_unsubscribe_nothing_more_crosses_the_link() {
    let pair = pair("unsub");
    let mut sub = RawClient::subscriber(pair.leaf.port(), "SUB gone 1\r\nSUB kept 2\r\n");
    barrier(&pair.leaf, &pair.hub, "before");
    let mut publisher = RawClient::connect_quiet(pair.hub.port(), b"");
    publisher.send_and_sync(b"PUB gone 1\r\na\r\n");
    assert_eq!(frames(&mut sub, 1), "MSG gone 1 1\r\na\r\n");
    sub.send(b"UNSUB 1\r\n");
    assert_eq!(drain(&mut sub), "PONG\r\n");
    barrier(&pair.leaf, &pair.hub, "after");
    publisher.send_and_sync(b"PUB gone 1\r\nb\r\nPUB kept 1\r\nc\r\n");
    assert_eq!(frames(&mut sub, 1), "MSG kept 2 1\r\nc\r\n");
    assert_eq!(drain(&mut sub), "PONG\r\n");
}

/// The hub alone, for a scripted fake leaf on its leaf port; returns (hub, leaf port).
fn hub_only(name: &str) -> (Server, u16) {
    hub_only_with(name, "")
}

/// [`hub_only`] with more configuration.
fn hub_only_with(name: &str, extra: &str) -> (Server, u16) {
    let dir = std::env::temp_dir().join(format!("ringmq-leafhub-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let conf = write_conf(
        &dir,
        "hub.conf",
        &format!("server_name: hub\nleafnodes {{ host: 127.0.0.1, port: -1 }}\n{extra}"),
    );
    let hub = Server::start_with_args(Opts::default(), &["-c", &conf]);
    let port = hub.listening_port(LEAF_LINE);
    (hub, port)
}

/// The keys of an `INFO {...} \r\n` line, in order.
fn info_keys(frame: &str) -> Vec<String> {
    assert!(
        frame.starts_with("INFO {") && frame.ends_with("} \r\n"),
        "{frame:?}"
    );
    let json = &frame[5..frame.len() - 3];
    let value: serde_json::Value = serde_json::from_str(json).expect("INFO JSON");
    let keys: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
    // serde_json's map is sorted unless preserve_order; compare against the text order.
    let mut ordered: Vec<(usize, String)> = keys
        .into_iter()
        .map(|k| (json.find(&format!("\"{k}\":")).expect("key in text"), k))
        .collect();
    ordered.sort();
    ordered.into_iter().map(|(_, k)| k).collect()
}

#[test]
fn a_scripted_leaf_sees_the_handshake_aggregated_interest_and_the_loop_error() {
    let (hub, leaf_port) = hub_only("script");
    // Interest on both cores: `foo` twice (sent once), group `workers` with two members.
    let _a = RawClient::subscriber(hub.port(), "SUB foo 1\r\nSUB q.bar workers 2\r\n");
    let _b = RawClient::subscriber(hub.port(), "SUB foo 1\r\nSUB q.bar workers 2\r\n");
    let stream = std::net::TcpStream::connect(("127.0.0.1", leaf_port)).expect("leaf port");
    let mut leaf = RawClient::from_stream(stream);
    assert_eq!(
        info_keys(&leaf.info),
        [
            "server_id",
            "server_name",
            "version",
            "proto",
            "go",
            "host",
            "port",
            "headers",
            "auth_required",
            "max_payload",
            "ip",
            "client_id",
            "nonce",
            "info_on_connect",
            "leafnode_urls"
        ]
    );
    leaf.send(b"CONNECT {\"version\":\"2.9.10\",\"tls_required\":false,\"server_id\":\"NFAKELEAF\",\"name\":\"leaf1\",\"cluster\":\"leaf1\",\"headers\":true}\r\n");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let second = text(&leaf.next_frame(deadline).expect("second INFO"));
    assert_eq!(
        info_keys(&second),
        [
            "server_id",
            "server_name",
            "version",
            "proto",
            "go",
            "host",
            "port",
            "headers",
            "auth_required",
            "max_payload",
            "ip",
            "client_id",
            "info_on_connect",
            "connect_info",
            "leafnode_urls",
            "remote_account"
        ]
    );
    assert!(second.contains("\"remote_account\":\"$G\""), "{second}");
    // The interest lines up to the PONG of our PING (nats-server adds its $SYS imports).
    let mut lines: Vec<String> = text(&leaf.send_and_sync(b""))
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with("LS+ $SYS.") && *l != "PONG")
        .map(str::to_string)
        .collect();
    lines.sort();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("LS+ $LDS."), "{lines:?}");
    assert_eq!(&lines[1..], ["LS+ foo", "LS+ q.bar workers 2"]);
    // Our own loop detection subject sent back: the error, then the close.
    let own = lines[0]["LS+ ".len()..].to_string();
    leaf.send(format!("LS+ {own}\r\n").as_bytes());
    assert_eq!(
        text(&leaf.read_to_eof(Instant::now() + REPLY_TIMEOUT)),
        "-ERR 'Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s'\r\n"
    );
    // A client's CONNECT (it has `lang`) on the leaf port is refused.
    let stream = std::net::TcpStream::connect(("127.0.0.1", leaf_port)).expect("leaf port");
    let mut client = RawClient::from_stream(stream);
    client.send(b"CONNECT {\"lang\":\"go\",\"verbose\":false}\r\n");
    assert_eq!(
        text(&client.read_to_eof(Instant::now() + REPLY_TIMEOUT)),
        "-ERR 'attempted to connect to leaf node port'\r\n"
    );
}

/// A leaf that reads slower than a hub client publishes is slowed like any consumer: the
/// publisher waits while the link is over half of max_pending (the stall gate), so every
/// message arrives and the link is not cut. The leaf is scripted: it reads 16 KiB at a time
/// with a pause between reads (the slowness is the stimulus, not a synchronisation).
#[test]
fn a_slow_leaf_slows_the_hub_publisher_instead_of_being_cut() {
    const MESSAGES: usize = 8_000;
    let (hub, leaf_port) = hub_only_with("slowleaf", "max_pending: 524288\nmax_payload: 65536\n");
    let stream = std::net::TcpStream::connect(("127.0.0.1", leaf_port)).expect("leaf port");
    let mut leaf = RawClient::from_stream(stream);
    leaf.send(b"CONNECT {\"version\":\"2.9.10\",\"tls_required\":false,\"server_id\":\"NSLOWLEAF\",\"name\":\"slow\",\"cluster\":\"slow\",\"headers\":true}\r\nLS+ bulk\r\nPING\r\n");
    leaf.read_until_pong(Instant::now() + REPLY_TIMEOUT);
    // The link's interest is in once a probe published on the hub crosses it.
    let mut probe = RawClient::connect_quiet(hub.port(), b"");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    for round in 0.. {
        // Numbered: once this round's probe is through, every earlier one is (one
        // publisher's messages keep their order), so none arrives during the count below.
        let body = format!("probe{round:04}");
        probe.send_and_sync(format!("PUB bulk 9\r\n{body}\r\n").as_bytes());
        let seen = text(&leaf.send_and_sync(b""));
        if seen.contains(&body) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the link's interest never reached the hub"
        );
    }
    let payload = "x".repeat(1024);
    let port = hub.port();
    let publisher = std::thread::spawn(move || {
        let mut publisher = RawClient::connect_quiet(port, b"");
        let batch: String = (0..100)
            .map(|_| format!("PUB bulk 1024\r\n{payload}\r\n"))
            .collect();
        for _ in 0..MESSAGES / 100 {
            publisher.send(batch.as_bytes());
        }
        text(&publisher.send_and_sync(b""))
    });
    let mut stream = leaf.into_stream();
    let expected = format!("LMSG bulk 1024\r\n{}\r\n", "x".repeat(1024)).len() * MESSAGES;
    let mut received = 0;
    let mut buffer = vec![0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(60);
    while received < expected {
        assert!(Instant::now() < deadline, "{received} of {expected} bytes");
        let n = std::io::Read::read(&mut stream, &mut buffer).expect("read");
        assert!(
            n > 0,
            "the hub cut the link after {received} of {expected} bytes"
        );
        // PINGs from the hub would interleave; none come within the ping interval.
        received += n;
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(received, expected);
    assert_eq!(publisher.join().expect("publisher"), "PONG\r\n");
    assert_eq!(hub.count_log("Slow Consumer"), 0);
}

#[test]
fn two_leaves_of_one_hub_reach_each_other() {
    let pair = pair("l2l");
    let dir = common::leaf::temp_dir("leafhub", "l2l-second");
    let leaf_port = pair.hub.listening_port(LEAF_LINE);
    let conf = write_conf(
        &dir,
        "leaf2.conf",
        &format!(
            "server_name: leaf2\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{leaf_port}\" }} ] }}\n"
        ),
    );
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let second = Server::start_flavor(Flavor::NatsServer, Opts::default(), &launch);
    second.wait_for_log("Leafnode connection created", REPLY_TIMEOUT);
    wait_link_ready(&pair.hub, &second);
    let mut on_first = RawClient::subscriber(pair.leaf.port(), "SUB l2l.* 1\r\n");
    let mut on_second = RawClient::subscriber(second.port(), "SUB l2l.* 1\r\nSUB r.* 2\r\n");
    barrier(&pair.leaf, &second, "to-first");
    barrier(&second, &pair.leaf, "to-second");
    let mut requester = RawClient::connect_quiet(second.port(), b"");
    requester.send_and_sync(b"PUB l2l.a r.1 2\r\nhi\r\n");
    assert_eq!(frames(&mut on_first, 1), "MSG l2l.a 1 r.1 2\r\nhi\r\n");
    RawClient::connect_quiet(pair.leaf.port(), b"").send_and_sync(b"PUB r.1 2\r\nyo\r\n");
    // The second leaf's own subscriber gets its own publish locally, once.
    assert_eq!(
        frames(&mut on_second, 2),
        "MSG l2l.a 1 r.1 2\r\nhi\r\nMSG r.1 2 2\r\nyo\r\n"
    );
    assert_eq!(drain(&mut on_first), "PONG\r\n");
    assert_eq!(drain(&mut on_second), "PONG\r\n");
}

#[test]
fn an_advertised_leaf_address_is_what_leaves_are_told() {
    let dir = common::leaf::temp_dir("leafhub", "advertise");
    let conf = write_conf(
        &dir,
        "hub.conf",
        "leafnodes { host: 127.0.0.1, port: -1, advertise: \"10.1.2.3:7777\", no_advertise: true }\n",
    );
    let hub = Server::start_with_args(Opts::default(), &["-c", &conf]);
    let port = hub.listening_port(LEAF_LINE);
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("leaf port");
    let leaf = RawClient::from_stream(stream);
    let info: serde_json::Value =
        serde_json::from_str(leaf.info.trim_start_matches("INFO ").trim_end()).expect("INFO");
    assert_eq!(
        (
            &info["host"],
            &info["port"],
            &info["ip"],
            &info["leafnode_urls"]
        ),
        (
            &serde_json::json!("10.1.2.3"),
            &serde_json::json!(7777),
            &serde_json::json!("10.1.2.3:7777"),
            &serde_json::json!(["10.1.2.3:7777"])
        )
    );
}
