//! A link faster than a subscriber it feeds: the link is slowed down, the subscriber is
//! not cut and loses nothing (DESIGN.md §4's stall gate, applied to links as to client
//! publishers). Here ringmq goes beyond nats-server 2.9.10, which stalls only client
//! publishers and cuts such a subscriber as a slow consumer: these tests run against
//! ringmq only.

mod common;

use common::leaf::{temp_dir, write_conf};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const MESSAGES: usize = 12_000;
const SIZE: usize = 1024;

/// A node with a small `max_pending` (above the 1 MiB cross-core mailbox, which a stalled
/// peer core may still deliver at once, as in production where it is 64 MiB), on `cores`
/// cores; its route port (its leaf port is in its log).
fn node(cores: usize) -> (Server, u16) {
    let dir = temp_dir("linkstall", &format!("c{cores}"));
    let conf = write_conf(
        &dir,
        "node.conf",
        "max_pending: 4194304\nmax_payload: 65536\ncluster { name: stall, listen: \"127.0.0.1:-1\" }\n\
         leafnodes { listen: \"127.0.0.1:-1\" }\n",
    );
    let opts = Opts {
        cores,
        ..Opts::default()
    };
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let server = Server::start_flavor(Flavor::Ringmq, opts, &launch);
    let port = server.listening_port("Listening for route connections on ");
    (server, port)
}

/// One test, the cases in turn: in parallel, two floods on this 2-core machine could keep a
/// reader off the CPU for the stall gate's 100 ms "stopped reading" limit.
#[test]
fn a_link_faster_than_a_subscriber_is_slowed_and_the_subscriber_loses_nothing() {
    a_route_faster_than_a_subscriber();
    a_leaf_faster_than_a_hub_subscriber();
}

fn a_route_faster_than_a_subscriber() {
    for cores in [1, 2] {
        let (server, route_port) = node(cores);
        // A scripted peer dials the route port and floods RMSGs once its interest is in.
        flood(
            &server,
            cores,
            route_port,
            b"CONNECT {\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"NFAST\",\"cluster\":\"stall\",\"lnoc\":true}\r\n\
              INFO {\"server_id\":\"NFAST\",\"server_name\":\"fast\",\"version\":\"2.9.10\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,\"cluster\":\"stall\",\"lnoc\":true}\r\n",
            "RS+ $G bulk\r\n",
            "RMSG $G bulk",
        );
    }
}

fn a_leaf_faster_than_a_hub_subscriber() {
    for cores in [1, 2] {
        let (server, _) = node(cores);
        let leaf_port = server.listening_port("Listening for leafnode connections on ");
        // A scripted leaf; the hub's interest reaches it as LS+ with the handshake.
        flood(
            &server,
            cores,
            leaf_port,
            b"CONNECT {\"version\":\"2.9.10\",\"tls_required\":false,\"server_id\":\"NFASTLEAF\",\"name\":\"fast\",\"cluster\":\"fast\",\"headers\":true}\r\n",
            "LS+ bulk\r\n",
            "LMSG bulk",
        );
    }
}

/// A slow subscriber on `server`; a scripted link dials `port`, says `hello`, waits for
/// `interest`, then floods `MESSAGES` messages (`verb` and subject, then the size): every
/// one reaches the subscriber, which is never cut.
fn flood(server: &Server, cores: usize, port: u16, hello: &[u8], interest: &str, verb: &str) {
    let sub = slow_subscriber(server.port());
    let mut link = std::net::TcpStream::connect(("127.0.0.1", port)).expect("dial");
    link.write_all(hello).expect("handshake");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + REPLY_TIMEOUT;
    while !text(&seen).contains(interest) {
        assert!(
            Instant::now() < deadline,
            "no {interest:?}: {:?}",
            text(&seen)
        );
        let n = link.read(&mut buffer).expect("read");
        assert!(n > 0, "link closed: {:?}", text(&seen));
        seen.extend_from_slice(&buffer[..n]);
    }
    let batch: String = (0..100)
        .map(|_| format!("{verb} {SIZE}\r\n{}\r\n", "x".repeat(SIZE)))
        .collect();
    let writer = std::thread::spawn(move || {
        for _ in 0..MESSAGES / 100 {
            link.write_all(batch.as_bytes()).expect("write the flood");
        }
        link
    });
    let mut stream = sub.into_stream();
    let received = read_slowly(&mut stream, cores);
    assert_eq!(received, expected_bytes(), "cores {cores}");
    drop(writer.join().expect("writer"));
    assert_eq!(server.count_log("Slow Consumer"), 0, "cores {cores}");
    still_served(&mut stream, cores);
}

/// The bytes of every MSG the subscriber must get.
fn expected_bytes() -> usize {
    format!("MSG bulk 1 {SIZE}\r\n{}\r\n", "x".repeat(SIZE)).len() * MESSAGES
}

/// Reads as a slow subscriber does (a pause per read) until every MSG byte is in; returns
/// the count (panics if the server cuts it).
fn read_slowly(stream: &mut std::net::TcpStream, cores: usize) -> usize {
    let expected = expected_bytes();
    let mut received = 0;
    // 64 KiB a millisecond at most: far slower than a link's flood, fast enough that the
    // megabytes the server's kernel buffers for the socket drain within the stall gate's
    // 100 ms "stopped reading" limit.
    let mut buffer = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(60);
    while received < expected {
        assert!(
            Instant::now() < deadline,
            "{received} of {expected} bytes (cores {cores})"
        );
        let n = stream
            .read(&mut buffer[..(expected - received).min(64 * 1024)])
            .expect("read");
        assert!(
            n > 0,
            "the subscriber was cut after {received} of {expected} bytes (cores {cores})"
        );
        received += n;
        std::thread::sleep(Duration::from_millis(1));
    }
    received
}

/// The subscriber is still served: a PING gets its PONG.
fn still_served(stream: &mut std::net::TcpStream, cores: usize) {
    stream.write_all(b"PING\r\n").expect("ping");
    let mut pong = [0u8; 6];
    stream.read_exact(&mut pong).expect("pong");
    assert_eq!(&pong, b"PONG\r\n", "cores {cores}");
}

/// A subscriber to `bulk` whose socket buffers little (a fixed SO_RCVBUF): what the server
/// sends it shows as sent only as it reads, so the stall gate sees it making progress
/// (with loopback's autotuned buffers, megabytes would sit in the kernel unread).
fn slow_subscriber(port: u16) -> RawClient {
    let mut sub = RawClient::from_stream(common::connect_with_receive_buffer(port, 64 * 1024));
    sub.send(common::CONNECT_QUIET);
    assert_eq!(text(&sub.send_and_sync(b"SUB bulk 1\r\n")), "PONG\r\n");
    sub
}
