//! A queue message from a route for a group this node has no member of (its interest at
//! the sender was stale), on the server under test (ringmq by default, nats-server with
//! `RINGMQ_TEST_SERVER=nats-server`): nats-server 2.9.10 hands it on to a leaf link with
//! a member, else to another route with one (its `processMsgResults` keeps a remote
//! member in reserve for a routed queue message), naming the group; a local member is
//! preferred; a plain message never goes from one route to another. Two scripted route
//! peers make the three-node cluster and read the exact bytes.

mod common;

use common::leaf::{temp_dir, write_conf};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::time::Instant;

const ROUTE_LINE: &str = "Listening for route connections on ";

fn start() -> (Server, u16) {
    let dir = temp_dir("queue-handoff", "b");
    let conf = write_conf(
        &dir,
        "b.conf",
        "server_name: qh-b\ncluster { name: qh, listen: \"127.0.0.1:-1\" }\n",
    );
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let server = Server::start_flavor(Flavor::from_env(), Opts::default(), &launch);
    let route_port = server.listening_port(ROUTE_LINE);
    (server, route_port)
}

/// A scripted route peer named `id`, registered (its PONG seen), its first frames read.
fn peer(route_port: u16, id: &str) -> RawClient {
    let stream = std::net::TcpStream::connect(("127.0.0.1", route_port)).expect("route port");
    let mut peer = RawClient::from_stream(stream);
    peer.send(format!("CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"qh\",\"lnoc\":true}}\r\nINFO {{\"server_id\":\"{id}\",\"server_name\":\"{id}\",\"version\":\"2.9.10\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,\"cluster\":\"qh\",\"lnoc\":true}}\r\n").as_bytes());
    peer.send_and_sync(b"");
    peer
}

/// Frames of `peer` up to the PONG of a PING sent now, without INFO (gossip) and
/// `$SYS` interest lines.
fn frames(peer: &mut RawClient) -> String {
    text(&peer.send_and_sync(b""))
        .split_inclusive("\r\n")
        .filter(|l| {
            !l.starts_with("INFO ") && !l.starts_with("RS+ $SYS ") && !l.starts_with("RS- $SYS ")
        })
        .collect()
}

#[test]
fn a_routed_queue_message_without_a_local_member_goes_on_to_a_route_with_one() {
    let (b, route_port) = start();
    let mut sender = peer(route_port, "NSENDER");
    let mut other = peer(route_port, "NOTHER");
    other.send(b"RS+ $G foo q 1\r\nRS+ $G foo\r\n");
    assert_eq!(frames(&mut other), "PONG\r\n");
    frames(&mut sender);
    // No member here: handed on, naming the group; the plain interest is not served
    // (one hop).
    sender.send(b"RMSG $G foo | q 1\r\nx\r\n");
    assert_eq!(frames(&mut sender), "PONG\r\n");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut got = String::new();
    while !got.ends_with("x\r\n") {
        got.push_str(&text(&other.next_frame(deadline).expect("a frame")));
    }
    assert_eq!(got, "RMSG $G foo | q 1\r\nx\r\n");
    // A plain routed message is not handed on.
    sender.send(b"RMSG $G foo 1\r\ny\r\n");
    assert_eq!(frames(&mut sender), "PONG\r\n");
    assert_eq!(frames(&mut other), "PONG\r\n");
    // A local member is preferred.
    let mut member = RawClient::subscriber(b.port(), "SUB foo q 1\r\n");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    while !frames(&mut sender).contains("RS+ $G foo q") {
        assert!(Instant::now() < deadline, "the member's RS+ never came");
    }
    sender.send(b"RMSG $G foo | q 1\r\nz\r\n");
    assert_eq!(frames(&mut sender), "PONG\r\n");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut got = String::new();
    while !got.ends_with("z\r\n") {
        got.push_str(&text(&member.next_frame(deadline).expect("a frame")));
    }
    assert_eq!(got, "MSG foo 1 1\r\nz\r\n");
    // The other peer was told of the member, and got nothing more.
    assert_eq!(frames(&mut other), "RS+ $G foo q 1\r\nPONG\r\n");
}
