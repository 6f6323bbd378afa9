//! A leaf that logs in to the leaf port of the server under test (ringmq by default,
//! nats-server with `RINGMQ_TEST_SERVER=nats-server`) as a user with `permissions`, as
//! nats-server 2.9.10 treats it: the user's permissions are turned around for the link
//! (its subscribe permission decides what is written to the leaf, its publish permission
//! which of our subscriptions the leaf is told about), the leaf is told them in the INFO
//! after its CONNECT (`import` = subscribe, `export` = publish), and an LS+ for a literal
//! subject it may not receive is a permissions violation that closes the link. A scripted
//! leaf reads the exact bytes. As a leaf (of a nats-server hub), the server under test
//! applies the permissions the hub tells it: no LS+ for what it may not receive (the hub
//! would close the link), no LMSG for what it may not publish.

mod common;

use common::leaf::{temp_dir, write_conf};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// The hub under test; its leaf port.
fn start_hub(name: &str) -> (Server, u16) {
    start_hub_of(Flavor::from_env(), name)
}

/// A hub of `flavor` whose user `leaf` has permissions; its leaf port.
fn start_hub_of(flavor: Flavor, name: &str) -> (Server, u16) {
    let dir = temp_dir("leafperm", name);
    let leaf_port = free_port();
    let body = format!(
        "server_name: hub\nauthorization {{ users: [\n  {{user: c, password: c}}\n  {{user: leaf, password: pw, permissions: {{ publish: {{ allow: [\"up.>\", \"both.>\"], deny: [\"up.no\"] }}, subscribe: {{ allow: [\"down.>\", \"both.>\"], deny: [\"down.no\"] }} }} }}\n] }}\nleafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}\n"
    );
    let conf = write_conf(&dir, "hub.conf", &body);
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    (
        Server::start_flavor(flavor, Opts::default(), &launch),
        leaf_port,
    )
}

/// A client of the hub logged in as `c`, with `subs` visible to later publishes.
fn client(hub: &Server, subs: &str) -> RawClient {
    let mut client = RawClient::connect(hub.port());
    client.send(b"CONNECT {\"verbose\":false,\"user\":\"c\",\"pass\":\"c\"}\r\n");
    client.send(subs.as_bytes());
    assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");
    client
}

/// A scripted leaf logged in as `leaf`: its frames up to the PONG after the CONNECT.
fn fake_leaf(leaf_port: u16) -> (RawClient, String) {
    let stream = TcpStream::connect(("127.0.0.1", leaf_port)).expect("leaf port");
    let mut leaf = RawClient::from_stream(stream);
    leaf.send(b"CONNECT {\"version\":\"2.9.10\",\"user\":\"leaf\",\"pass\":\"pw\",\"tls_required\":false,\"server_id\":\"NFAKELEAF\",\"name\":\"fake\",\"cluster\":\"fake\",\"headers\":true}\r\n");
    let frames = text(&leaf.send_and_sync(b""));
    (leaf, frames)
}

/// `frames` without nats-server's system account interest and our `$LDS` subject, sorted.
fn interest_lines(frames: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = frames
        .split_inclusive("\r\n")
        .filter(|line| !line.starts_with("LS+ $SYS.") && !line.starts_with("LS+ $LDS."))
        .collect();
    lines.sort();
    lines
}

/// The JSON of the INFO line that starts `frames`, and the rest.
fn split_info(frames: &str) -> (serde_json::Value, &str) {
    let (info, rest) = frames.split_once("\r\n").expect("a line");
    let json = info.strip_prefix("INFO ").expect("INFO first").trim_end();
    (serde_json::from_str(json).expect("INFO JSON"), rest)
}

const SUBS: &str =
    "SUB up.x 1\r\nSUB up.no 2\r\nSUB down.x 3\r\nSUB both.x 4\r\nSUB up.* 5\r\nSUB > 6\r\nSUB up.x q 7\r\n";

#[test]
fn the_leaf_is_told_its_users_permissions_and_only_interest_it_may_publish_to() {
    let (hub, leaf_port) = start_hub("told");
    let _subs = client(&hub, SUBS);
    let (mut leaf, frames) = fake_leaf(leaf_port);
    let (info, rest) = split_info(&frames);
    assert_eq!(info["connect_info"], true);
    assert_eq!(
        info["import"],
        serde_json::json!({"allow": ["down.>", "both.>"], "deny": ["down.no"]})
    );
    assert_eq!(
        info["export"],
        serde_json::json!({"allow": ["up.>", "both.>"], "deny": ["up.no"]})
    );
    assert!(frames.contains(",\"import\":{\"allow\":[\"down.\\u003e\",\"both.\\u003e\"],\"deny\":[\"down.no\"]},\"export\":{\"allow\":[\"up.\\u003e\",\"both.\\u003e\"],\"deny\":[\"up.no\"]},\"info_on_connect\":true,"), "{frames}");
    // Our subscriptions the user may publish to (a wildcard covering an allowed subject
    // included); not `up.no` (denied) nor `down.x` (not allowed).
    assert_eq!(
        interest_lines(rest),
        [
            "LS+ >\r\n",
            "LS+ both.x\r\n",
            "LS+ up.*\r\n",
            "LS+ up.x\r\n",
            "LS+ up.x q 1\r\n",
            "PONG\r\n"
        ]
    );
    let _later = client(&hub, "SUB up.late 1\r\nSUB down.late 2\r\n");
    assert_eq!(
        interest_lines(&text(&leaf.send_and_sync(b""))),
        ["LS+ up.late\r\n", "PONG\r\n"]
    );
}

#[test]
fn only_messages_its_user_may_subscribe_to_are_written_to_the_leaf() {
    let (hub, leaf_port) = start_hub("messages");
    let (mut leaf, _) = fake_leaf(leaf_port);
    leaf.send(b"LS+ >\r\n");
    // The leaf's interest is in once a message on it arrives.
    let mut publisher = client(&hub, "");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        publisher.send_and_sync(b"PUB down.sync 1\r\ns\r\n");
        let got = text(&leaf.send_and_sync(b""));
        if got.contains("LMSG down.sync") {
            break;
        }
        assert!(Instant::now() < deadline, "the leaf's LS+ never took");
    }
    publisher.send_and_sync(
        b"PUB down.x 1\r\na\r\nPUB down.no 1\r\nb\r\nPUB up.x 1\r\nc\r\nPUB both.x 1\r\nd\r\n",
    );
    // (Late copies of the barrier's messages may come first.)
    assert_eq!(
        text(&leaf.send_and_sync(b"")).replace("LMSG down.sync 1\r\ns\r\n", ""),
        "LMSG down.x 1\r\na\r\nLMSG both.x 1\r\nd\r\nPONG\r\n"
    );
    // What the leaf sends is not checked (nats-server 2.9.10 neither).
    let mut subscriber = client(&hub, "SUB down.x 1\r\nSUB up.x 2\r\nSUB other 3\r\n");
    leaf.send(b"LMSG up.x 1\r\ne\r\nLMSG down.x 1\r\nf\r\nLMSG other 1\r\ng\r\n");
    leaf.send_and_sync(b"");
    assert_eq!(
        text(&subscriber.send_and_sync(b"")),
        "MSG up.x 2 1\r\ne\r\nMSG down.x 1 1\r\nf\r\nMSG other 3 1\r\ng\r\nPONG\r\n"
    );
}

#[test]
fn an_ls_plus_for_a_literal_subject_the_leaf_may_not_receive_closes_the_link() {
    let (hub, leaf_port) = start_hub("violation");
    let (mut leaf, _) = fake_leaf(leaf_port);
    // A wildcard is taken (what it would carry is pruned message by message).
    leaf.send(b"LS+ up.*\r\n");
    assert_eq!(text(&leaf.send_and_sync(b"")), "PONG\r\n");
    leaf.send(b"LS+ up.x\r\n");
    assert_eq!(
        text(&leaf.read_to_eof(Instant::now() + REPLY_TIMEOUT)),
        "-ERR 'Permissions Violation for Subscription to \"up.x\"'\r\n"
    );
    let line = hub.wait_for_log("Subscription Violation", REPLY_TIMEOUT);
    assert!(
        line.ends_with("Subscription Violation on \"up.x\" - Check other side configuration"),
        "{line}"
    );
    hub.wait_for_log(
        "Leafnode connection closed: Protocol Violation account: $G",
        REPLY_TIMEOUT,
    );
}

/// Publishes `subject` from `publisher` until `subscriber` gets it; returns what the
/// subscriber got meanwhile.
fn publish_until_seen(publisher: &mut RawClient, subject: &str, subscriber: &mut RawClient) {
    let deadline = Instant::now() + common::leaf::LINK_TIMEOUT;
    loop {
        publisher.send_and_sync(format!("PUB {subject} 1\r\nx\r\n").as_bytes());
        if text(&subscriber.send_and_sync(b"")).contains(&format!("MSG {subject} ")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{subject} never crossed the link"
        );
    }
}

#[test]
fn as_a_leaf_it_applies_the_permissions_the_hub_tells_it() {
    let (hub, leaf_port) = start_hub_of(Flavor::NatsServer, "leaf-role");
    let dir = temp_dir("leafperm", "leaf-role");
    let conf = write_conf(
        &dir,
        "leaf.conf",
        &format!("server_name: leaf1\nleafnodes {{ remotes [ {{ url: \"nats-leaf://leaf:pw@127.0.0.1:{leaf_port}\" }} ] }}\n"),
    );
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let leaf = Server::start_flavor(Flavor::from_env(), Opts::default(), &launch);
    // Interest in a subject the user may not receive is not sent (the hub would close the
    // link on it): the later sentinel crosses, and the link was made once.
    let mut leaf_subs = RawClient::subscriber(leaf.port(), "SUB up.x 1\r\nSUB down.x 2\r\n");
    let mut sentinel = RawClient::subscriber(leaf.port(), "SUB down.sync 1\r\n");
    let mut hub_client = client(&hub, "");
    publish_until_seen(&mut hub_client, "down.sync", &mut sentinel);
    hub_client.send_and_sync(b"PUB down.x 1\r\na\r\n");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut got = String::new();
    while !got.ends_with("a\r\n") {
        got.push_str(&text(&leaf_subs.next_frame(deadline).expect("a frame")));
    }
    assert_eq!(got, "MSG down.x 2 1\r\na\r\n");
    assert_eq!(
        hub.count_log("Violation"),
        0,
        "{}",
        hub.log_lines().join("\n")
    );
    assert_eq!(leaf.count_log("Leafnode connection created"), 1);
    // A message the user may not publish is not sent, though the hub wants everything.
    let mut everything = client(&hub, "SUB > 9\r\n");
    let mut leaf_client = RawClient::connect_quiet(leaf.port(), b"");
    publish_until_seen(&mut leaf_client, "both.sync", &mut everything);
    leaf_client.send_and_sync(b"PUB down.y 1\r\na\r\nPUB up.y 1\r\nb\r\n");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut got = String::new();
    while !got.ends_with("b\r\n") {
        got.push_str(&text(&everything.next_frame(deadline).expect("a frame")));
    }
    // (Late copies of the barrier's messages may come first.)
    assert_eq!(
        got.replace("MSG both.sync 9 1\r\nx\r\n", ""),
        "MSG up.y 9 1\r\nb\r\n"
    );
}
