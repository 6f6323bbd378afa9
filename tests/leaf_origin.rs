//! Leaf-origin interest across routes, as nats-server 2.9.10 sends it: a leaf's interest
//! goes to the routes as `LS+ <origin cluster> <account> <subject>`, so a hub of the same
//! cluster does not tell it to a leaf of that origin cluster (cluster-wide no echo). The
//! server under test (ringmq by default, nats-server with `RINGMQ_TEST_SERVER=nats-server`)
//! is hub A; hub B and the leaf cluster L (L1 on A, L2 on B, routed to each other) are
//! nats-server. A message published on L2 for a subscriber on L1 reaches it once, over L's
//! own route; with plain RS+ from A, B would also tell L2 the interest and the message
//! would come a second time through B and A. Readiness and the end of traffic are barriers
//! (publish until seen, in-order links), never sleeps.

mod common;

use common::leaf::{temp_dir, write_conf, LINK_TIMEOUT};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::net::TcpListener;
use std::time::Instant;

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn start(flavor: Flavor, dir: &std::path::Path, name: &str, body: &str) -> Server {
    let conf = write_conf(dir, &format!("{name}.conf"), body);
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    Server::start_flavor(flavor, Opts::default(), &launch)
}

/// Publishes `subject` on `publisher` until `subscriber` (subscribed to it) gets it.
fn publish_until_seen(publisher: &mut RawClient, subject: &str, subscriber: &mut RawClient) {
    let deadline = Instant::now() + LINK_TIMEOUT;
    loop {
        publisher.send_and_sync(format!("PUB {subject} 1\r\nx\r\n").as_bytes());
        if text(&subscriber.send_and_sync(b"")).contains(&format!("MSG {subject} ")) {
            return;
        }
        assert!(Instant::now() < deadline, "{subject} never arrived");
    }
}

/// Frames of `client` until one ends with `suffix`.
fn read_until(client: &mut RawClient, suffix: &str) -> String {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut got = String::new();
    while !got.ends_with(suffix) {
        got.push_str(&text(&client.next_frame(deadline).expect("a frame")));
    }
    got
}

#[test]
fn a_message_from_a_leaf_cluster_reaches_a_subscriber_in_it_once() {
    leaf_cluster_at_two_hubs("once", Flavor::from_env(), Flavor::NatsServer, false);
}

#[test]
fn a_hub_keeps_interest_from_leaves_of_its_origin_cluster() {
    leaf_cluster_at_two_hubs("origin", Flavor::NatsServer, Flavor::from_env(), false);
}

/// With a subscriber on B too, the message goes L2 → B → A as `LMSG L ...`: A does not
/// hand it back to L (the server under test receiving it).
#[test]
fn a_route_message_of_leaf_origin_is_not_delivered_back_to_that_cluster() {
    leaf_cluster_at_two_hubs("lmsg-in", Flavor::from_env(), Flavor::NatsServer, true);
}

/// Likewise with the server under test at B, sending `LMSG L ...` to A.
#[test]
fn a_leafs_message_goes_to_routes_with_its_origin_cluster() {
    leaf_cluster_at_two_hubs("lmsg-out", Flavor::NatsServer, Flavor::from_env(), true);
}

/// Hubs A (`a_flavor`) and B (`b_flavor`), the leaf cluster L of nats-server nodes, L1 on
/// A and L2 on B: a message published on L2 reaches a subscriber on L1 once (and one on
/// B, with `b_subscriber`).
fn leaf_cluster_at_two_hubs(name: &str, a_flavor: Flavor, b_flavor: Flavor, b_subscriber: bool) {
    let dir = temp_dir("leaf-origin", name);
    let (ra, la, lb, rl1) = (free_port(), free_port(), free_port(), free_port());
    let a = start(
        a_flavor,
        &dir,
        "a",
        &format!("server_name: A\ncluster {{ name: hub, listen: \"127.0.0.1:{ra}\" }}\nleafnodes {{ listen: \"127.0.0.1:{la}\" }}\n"),
    );
    a.wait_for_log("Listening for route connections on ", REPLY_TIMEOUT);
    let b = start(
        b_flavor,
        &dir,
        "b",
        &format!("server_name: B\ncluster {{ name: hub, listen: \"127.0.0.1:-1\", routes: [\"nats-route://127.0.0.1:{ra}\"] }}\nleafnodes {{ listen: \"127.0.0.1:{lb}\" }}\n"),
    );
    let l1 = start(
        Flavor::NatsServer,
        &dir,
        "l1",
        &format!("server_name: L1\ncluster {{ name: L, listen: \"127.0.0.1:{rl1}\" }}\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{la}\" }} ] }}\n"),
    );
    let l2 = start(
        Flavor::NatsServer,
        &dir,
        "l2",
        &format!("server_name: L2\ncluster {{ name: L, listen: \"127.0.0.1:-1\", routes: [\"nats-route://127.0.0.1:{rl1}\"] }}\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{lb}\" }} ] }}\n"),
    );
    // The subscriber on L1; its interest has crossed A and B once a sentinel subscribed
    // after it, on L1, gets a message published on B (it came A's route and leaf link).
    let mut subscriber = RawClient::subscriber(l1.port(), "SUB foo 1\r\nSUB mark.l1 2\r\n");
    let mut b_foo = b_subscriber.then(|| RawClient::subscriber(b.port(), "SUB foo 7\r\n"));
    let mut sentinel = RawClient::subscriber(l1.port(), "SUB sync.l1 1\r\n");
    publish_until_seen(
        &mut RawClient::connect_quiet(b.port(), b""),
        "sync.l1",
        &mut sentinel,
    );
    // Whatever B told L2 about foo it told before this: a client of B subscribes now, and
    // L2 publishes until it gets there.
    let mut on_b = RawClient::subscriber(b.port(), "SUB sync.b 1\r\n");
    let mut publisher = RawClient::connect_quiet(l2.port(), b"");
    publish_until_seen(&mut publisher, "sync.b", &mut on_b);
    // A client of A marks the end of what went through the hubs.
    let mut on_a = RawClient::subscriber(a.port(), "SUB mark.a 1\r\n");
    publish_until_seen(&mut publisher, "mark.a", &mut on_a);
    publisher.send_and_sync(b"PUB foo 3\r\none\r\nPUB mark.a 3\r\nend\r\n");
    assert_eq!(
        read_until(&mut subscriber, "one\r\n"),
        "MSG foo 1 3\r\none\r\n"
    );
    if let Some(b_foo) = b_foo.as_mut() {
        assert_eq!(read_until(b_foo, "one\r\n"), "MSG foo 7 3\r\none\r\n");
    }
    // (Copies of the earlier barrier may come first.)
    let marks = read_until(&mut on_a, "end\r\n");
    assert!(marks.ends_with("MSG mark.a 1 3\r\nend\r\n"), "{marks:?}");
    // A wrote to L1's link anything of foo before this mark.
    RawClient::connect_quiet(a.port(), b"").send_and_sync(b"PUB mark.l1 4\r\ndone\r\n");
    assert_eq!(
        read_until(&mut subscriber, "done\r\n"),
        "MSG mark.l1 2 4\r\ndone\r\n",
        "foo came twice"
    );
}

/// A scripted route peer named `id` (`lnoc`: whether it takes leaf-origin interest),
/// registered, its first frames read.
fn route_peer(route_port: u16, id: &str, lnoc: bool) -> (RawClient, String) {
    let stream = std::net::TcpStream::connect(("127.0.0.1", route_port)).expect("route port");
    let mut peer = RawClient::from_stream(stream);
    peer.send(format!("CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"hub\",\"lnoc\":{lnoc}}}\r\nINFO {{\"server_id\":\"{id}\",\"server_name\":\"{id}\",\"version\":\"2.9.10\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,\"cluster\":\"hub\",\"lnoc\":{lnoc}}}\r\n").as_bytes());
    let first = route_frames(&mut peer);
    (peer, first)
}

/// A route peer's frames up to the PONG of a PING sent now, without INFO and `$SYS` lines.
fn route_frames(peer: &mut RawClient) -> String {
    text(&peer.send_and_sync(b""))
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("INFO ") && !l.contains(" $SYS "))
        .collect()
}

/// Reads `peer` until its frames (without `$SYS` lines) hold `line`; returns them.
fn wait_route_line(peer: &mut RawClient, line: &str) -> String {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut got = String::new();
    while !got.contains(line) {
        assert!(
            Instant::now() < deadline,
            "never got {line:?}: {:?}",
            &got[..got.len().min(500)]
        );
        got.push_str(&route_frames(peer).replace("PONG\r\n", ""));
    }
    got.push_str("PONG\r\n");
    got
}

#[test]
fn a_leafs_interest_goes_to_routes_with_its_origin_cluster() {
    let dir = temp_dir("leaf-origin", "wire");
    let (ra, la) = (free_port(), free_port());
    let a = start(
        Flavor::from_env(),
        &dir,
        "a",
        &format!("server_name: A\ncluster {{ name: hub, listen: \"127.0.0.1:{ra}\" }}\nleafnodes {{ listen: \"127.0.0.1:{la}\" }}\n"),
    );
    a.wait_for_log("Listening for route connections on ", REPLY_TIMEOUT);
    let (mut lnoc, _) = route_peer(ra, "NLNOC", true);
    let (mut old, _) = route_peer(ra, "NOLD", false);
    let stream = std::net::TcpStream::connect(("127.0.0.1", la)).expect("leaf port");
    let mut leaf = RawClient::from_stream(stream);
    leaf.send(b"CONNECT {\"version\":\"2.9.10\",\"tls_required\":false,\"server_id\":\"NFAKELEAF\",\"name\":\"fake\",\"cluster\":\"LC\",\"headers\":true}\r\n");
    leaf.send_and_sync(b"LS+ foo\r\nLS+ bar q 3\r\n");
    let got = wait_route_line(&mut lnoc, "LS+ LC $G bar q 1\r\n");
    assert_eq!(got, "LS+ LC $G foo\r\nLS+ LC $G bar q 1\r\nPONG\r\n");
    let got = wait_route_line(&mut old, "RS+ $G bar q 1\r\n");
    assert_eq!(got, "RS+ $G foo\r\nRS+ $G bar q 1\r\nPONG\r\n");
    // A client's interest in the same subject adds nothing; the leaf's going leaves it.
    let _client = RawClient::subscriber(a.port(), "SUB foo 1\r\n");
    leaf.send_and_sync(b"LS- foo\r\nLS- bar q\r\n");
    // (nats-server writes two blanks after `LS-`, where the origin would be.)
    let got = wait_route_line(&mut lnoc, "LS-  $G bar q\r\n");
    assert_eq!(got, "LS-  $G bar q\r\nPONG\r\n");
    let got = wait_route_line(&mut old, "RS- $G bar q\r\n");
    assert_eq!(got, "RS- $G bar q\r\nPONG\r\n");
    // A route that registers later is told the interest without origins (nats-server's
    // first interest on a route is all `RS+`).
    leaf.send_and_sync(b"LS+ baz\r\n");
    let (mut late, first) = route_peer(ra, "NLATE", true);
    let got = if first.contains("baz") {
        first
    } else {
        first + &wait_route_line(&mut late, "baz")
    };
    let mut lines: Vec<&str> = got.split_inclusive("\r\n").collect();
    lines.sort();
    assert_eq!(lines, ["PONG\r\n", "RS+ $G baz\r\n", "RS+ $G foo\r\n"]);
}

/// A scripted leaf of cluster `cluster` on leaf port `port`: its frames after the CONNECT.
fn fake_leaf(port: u16, cluster: &str) -> (RawClient, String) {
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("leaf port");
    let mut leaf = RawClient::from_stream(stream);
    leaf.send(format!("CONNECT {{\"version\":\"2.9.10\",\"tls_required\":false,\"server_id\":\"NLEAF{cluster}\",\"name\":\"leaf{cluster}\",\"cluster\":\"{cluster}\",\"headers\":true}}\r\n").as_bytes());
    let frames = text(&leaf.send_and_sync(b""));
    (leaf, frames)
}

/// `frames`' LS+/LS- lines, without `$SYS`, `$LDS` and INFO lines.
fn leaf_interest(frames: &str) -> String {
    frames
        .split_inclusive("\r\n")
        .filter(|l| (l.starts_with("LS+ ") || l.starts_with("LS- ")) && !l.contains(" $"))
        .collect()
}

#[test]
fn a_routes_leaf_origin_interest_is_kept_from_leaves_of_that_cluster() {
    let dir = temp_dir("leaf-origin", "kept");
    let (ra, la) = (free_port(), free_port());
    let a = start(
        Flavor::from_env(),
        &dir,
        "a",
        &format!("server_name: A\ncluster {{ name: hub, listen: \"127.0.0.1:{ra}\" }}\nleafnodes {{ listen: \"127.0.0.1:{la}\" }}\n"),
    );
    a.wait_for_log("Listening for route connections on ", REPLY_TIMEOUT);
    let (mut peer, _) = route_peer(ra, "NPEER", true);
    peer.send(b"LS+ LC $G foo\r\nLS+ LC $G bar q 2\r\nRS+ $G baz\r\n");
    assert_eq!(route_frames(&mut peer), "PONG\r\n");
    // First interest: a leaf of cluster LC is told only what did not come from LC.
    let (mut same, frames) = fake_leaf(la, "LC");
    assert_eq!(leaf_interest(&frames), "LS+ baz\r\n");
    let (mut other, frames) = fake_leaf(la, "OTHER");
    let mut lines: Vec<&str> = frames
        .split_inclusive("\r\n")
        .filter(|l| l.starts_with("LS+ ") && !l.contains(" $"))
        .collect();
    lines.sort();
    assert_eq!(lines, ["LS+ bar q 2\r\n", "LS+ baz\r\n", "LS+ foo\r\n"]);
    // Later changes likewise.
    peer.send(b"LS+ LC $G later\r\nLS-  $G foo\r\n");
    assert_eq!(route_frames(&mut peer), "PONG\r\n");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut got = String::new();
    while !got.contains("LS- foo\r\n") {
        assert!(Instant::now() < deadline, "{got:?}");
        got.push_str(&leaf_interest(&text(&other.send_and_sync(b""))));
    }
    assert_eq!(got, "LS+ later\r\nLS- foo\r\n");
    assert_eq!(leaf_interest(&text(&same.send_and_sync(b""))), "");
}
