//! The server under test as a LEAF (`leafnodes { remotes [ { url } ] }`, 2 cores) of a
//! real nats-server 2.9.10 hub started by the test; clients on both sides exchange messages
//! across the link, and the hub is killed and restarted under the leaf.
//! `RINGMQ_TEST_SERVER=nats-server` runs the same tests with a nats-server leaf.
//!
//! Barriers, never sleeps: after a subscription (and its PONG) on one side, a sentinel
//! connection on that side subscribes too; the other side publishes the sentinel until it
//! arrives. The link carries interest in order, so the earlier subscription is then
//! visible on the publishing side.

mod common;

use common::leaf::{barrier, count_msgs, drain, frames, wait_link_ready, write_conf, LINK_TIMEOUT};
use common::{Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CREATED: &str = "Leafnode connection created";

fn temp_dir(name: &str) -> PathBuf {
    common::leaf::temp_dir("leafremote", name)
}

/// A port nothing listens on right now (bound, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// A nats-server hub with its leaf port on `leaf_port`.
fn start_hub(flavor: Flavor, dir: &Path, leaf_port: u16) -> Server {
    let conf = write_conf(
        dir,
        "hub.conf",
        &format!("server_name: hub\nleafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}\n"),
    );
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    Server::start_flavor(flavor, Opts::default(), &launch)
}

/// The server under test as a leaf of the hub at `leaf_port`.
fn start_leaf(dir: &Path, urls: &[u16]) -> Server {
    let urls: Vec<String> = urls
        .iter()
        .map(|port| format!("\"nats-leaf://127.0.0.1:{port}\""))
        .collect();
    let conf = write_conf(
        dir,
        "leaf.conf",
        &format!(
            "server_name: leaf1\nleafnodes {{ remotes [ {{ urls: [ {} ] }} ] }}\n",
            urls.join(", ")
        ),
    );
    Server::start_with_args(Opts::default(), &["-c", &conf])
}

struct Pair {
    hub: Server,
    leaf: Server,
    leaf_port: u16,
    dir: PathBuf,
}

/// A nats-server hub, then the leaf under test dialling it; returns once the link is up.
fn pair(name: &str) -> Pair {
    let dir = temp_dir(name);
    let leaf_port = free_port();
    let hub = start_hub(Flavor::NatsServer, &dir, leaf_port);
    let leaf = start_leaf(&dir, &[leaf_port]);
    leaf.wait_for_log(CREATED, LINK_TIMEOUT);
    hub.wait_for_log(CREATED, LINK_TIMEOUT);
    wait_link_ready(&hub, &leaf);
    Pair {
        hub,
        leaf,
        leaf_port,
        dir,
    }
}

const HEADERS: &[u8] = b"CONNECT {\"verbose\":false,\"headers\":true}\r\n";

#[test]
fn leaf_publishes_from_every_core_reach_hub_subscribers() {
    let pair = pair("l2h");
    let mut sub = RawClient::subscriber(
        pair.hub.port(),
        "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB up.> 7\r\n",
    );
    barrier(&pair.hub, &pair.leaf, "l2h");
    // Two publishers: with two cores they land on different ones.
    let mut first = RawClient::connect_quiet(pair.leaf.port(), HEADERS);
    let mut second = RawClient::connect_quiet(pair.leaf.port(), HEADERS);
    first.send_and_sync(b"PUB up.a reply.z 3\r\nabc\r\n");
    assert_eq!(frames(&mut sub, 1), "MSG up.a 7 reply.z 3\r\nabc\r\n");
    second.send_and_sync(b"HPUB up.b 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPUB nobody 1\r\nx\r\n");
    assert_eq!(
        frames(&mut sub, 1),
        "HMSG up.b 7 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    );
    assert_eq!(drain(&mut sub), "PONG\r\n");
}

#[test]
fn hub_publishes_reach_leaf_subscribers_on_every_core_once() {
    let pair = pair("h2l");
    let mut first = RawClient::subscriber(pair.leaf.port(), "SUB down.> 1\r\n");
    let mut second = RawClient::subscriber(
        pair.leaf.port(),
        "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB down.x 2\r\nSUB down.* 3\r\n",
    );
    barrier(&pair.leaf, &pair.hub, "h2l");
    let mut publisher = RawClient::connect_quiet(pair.hub.port(), HEADERS);
    publisher
        .send_and_sync(b"PUB down.x r.1 5\r\nhello\r\nHPUB down.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    assert_eq!(
        frames(&mut first, 2),
        "MSG down.x 1 r.1 5\r\nhello\r\nMSG down.x 1 2\r\nhi\r\n"
    );
    let got = frames(&mut second, 4);
    let mut got: Vec<&str> = got.split_inclusive("\r\n").collect();
    got.sort();
    let mut expected = vec![
        "MSG down.x 2 r.1 5\r\n",
        "hello\r\n",
        "MSG down.x 3 r.1 5\r\n",
        "hello\r\n",
        "HMSG down.x 2 12 14\r\n",
        "NATS/1.0\r\n",
        "\r\n",
        "hi\r\n",
        "HMSG down.x 3 12 14\r\n",
        "NATS/1.0\r\n",
        "\r\n",
        "hi\r\n",
    ];
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(drain(&mut first), "PONG\r\n");
    assert_eq!(drain(&mut second), "PONG\r\n");
}

#[test]
fn queue_groups_across_the_link_deliver_once_and_prefer_local_members() {
    let pair = pair("queue");
    let mut leaf_a = RawClient::subscriber(pair.leaf.port(), "SUB work workers 1\r\n");
    let mut leaf_b = RawClient::subscriber(pair.leaf.port(), "SUB work workers 2\r\n");
    barrier(&pair.leaf, &pair.hub, "queue");
    let mut batch = String::new();
    for i in 0..20 {
        batch.push_str(&format!("PUB work 2\r\n{i:02}\r\n"));
    }
    // Only leaf members: each message from the hub reaches exactly one of them.
    let mut hub_publisher = RawClient::connect_quiet(pair.hub.port(), b"");
    hub_publisher.send_and_sync(batch.as_bytes());
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let (mut a, mut b) = (0, 0);
    while a + b < 20 {
        assert!(Instant::now() < deadline, "{a} + {b} of 20");
        a += count_msgs(&mut leaf_a);
        b += count_msgs(&mut leaf_b);
    }
    assert_eq!(a + b, 20);
    // A hub member joins: messages published on the leaf go to the leaf's own members.
    let mut hub_member = RawClient::subscriber(pair.hub.port(), "SUB work workers 9\r\n");
    barrier(&pair.hub, &pair.leaf, "queue-hub");
    let mut leaf_publisher = RawClient::connect_quiet(pair.leaf.port(), b"");
    leaf_publisher.send_and_sync(batch.as_bytes());
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let (mut a, mut b) = (0, 0);
    while a + b < 20 {
        assert!(Instant::now() < deadline, "{a} + {b} of 20");
        a += count_msgs(&mut leaf_a);
        b += count_msgs(&mut leaf_b);
    }
    barrier(&pair.hub, &pair.leaf, "queue-end");
    assert_eq!(
        (a + b, count_msgs(&mut hub_member)),
        (20, 0),
        "the leaf's members are preferred for the leaf's messages"
    );
}

#[test]
fn request_reply_across_the_link_both_ways() {
    let pair = pair("reqrep");
    // Requester on the leaf, responder on the hub.
    let mut responder = RawClient::subscriber(pair.hub.port(), "SUB svc.up 1\r\n");
    barrier(&pair.hub, &pair.leaf, "svc-up");
    let mut requester = RawClient::subscriber(pair.leaf.port(), "SUB _INBOX.l.* 5\r\n");
    barrier(&pair.leaf, &pair.hub, "inbox-l");
    requester.send(b"PUB svc.up _INBOX.l.1 4\r\nping\r\n");
    assert_eq!(
        frames(&mut responder, 1),
        "MSG svc.up 1 _INBOX.l.1 4\r\nping\r\n"
    );
    responder.send(b"PUB _INBOX.l.1 4\r\npong\r\n");
    assert_eq!(frames(&mut requester, 1), "MSG _INBOX.l.1 5 4\r\npong\r\n");
    // Requester on the hub, responder on the leaf.
    let mut responder = RawClient::subscriber(pair.leaf.port(), "SUB svc.down 1\r\n");
    barrier(&pair.leaf, &pair.hub, "svc-down");
    let mut requester = RawClient::subscriber(pair.hub.port(), "SUB _INBOX.h.* 6\r\n");
    barrier(&pair.hub, &pair.leaf, "inbox-h");
    requester.send(b"PUB svc.down _INBOX.h.1 3\r\nreq\r\n");
    assert_eq!(
        frames(&mut responder, 1),
        "MSG svc.down 1 _INBOX.h.1 3\r\nreq\r\n"
    );
    responder.send(b"PUB _INBOX.h.1 3\r\nrep\r\n");
    assert_eq!(frames(&mut requester, 1), "MSG _INBOX.h.1 6 3\r\nrep\r\n");
}

/// Publishes `subject` from a new connection on `hub` until `sub` gets it; returns the
/// first frame and how long it took.
fn publish_until_received(hub: &Server, sub: &mut RawClient, subject: &str) -> (String, Duration) {
    let started = Instant::now();
    let mut publisher = RawClient::connect_quiet(hub.port(), b"");
    loop {
        publisher.send_and_sync(format!("PUB {subject} 2\r\nok\r\n").as_bytes());
        let got = drain(sub);
        if got.contains("MSG") {
            return (got, started.elapsed());
        }
        assert!(
            started.elapsed() < LINK_TIMEOUT,
            "the hub's publish never reached the leaf again"
        );
    }
}

#[test]
fn hub_killed_and_restarted_the_leaf_reconnects_and_restores_interest() {
    let Pair {
        hub,
        leaf,
        leaf_port,
        dir,
    } = pair("restart");
    let mut first = RawClient::subscriber(leaf.port(), "SUB after.restart 1\r\n");
    let mut second = RawClient::subscriber(leaf.port(), "SUB after.restart 2\r\n");
    barrier(&leaf, &hub, "restart");
    drop(hub); // SIGKILL, reaped
    leaf.wait_for_log("Leafnode connection closed", LINK_TIMEOUT);
    let hub = start_hub(Flavor::NatsServer, &dir, leaf_port);
    leaf.wait_for_log_count(CREATED, 2, LINK_TIMEOUT);
    // No client action: the leaf's existing subscriptions are sent again with the link.
    let (got, took) = publish_until_received(&hub, &mut first, "after.restart");
    assert!(
        got.starts_with("MSG after.restart 1 2\r\nok\r\n"),
        "{got:?}"
    );
    eprintln!("interest restored {took:?} after the new hub's link was created");
    let got = frames(&mut second, 1);
    assert_eq!(got, "MSG after.restart 2 2\r\nok\r\n");
}

#[test]
fn the_leaf_dials_until_the_hub_listens_rotating_through_urls() {
    let dir = temp_dir("dial");
    let (dead, live) = (free_port(), free_port());
    let leaf = start_leaf(&dir, &[dead, live]);
    // Both URLs fail (nats-server shuffles the list; either comes first).
    let line = leaf.wait_for_log("(attempt 1)", LINK_TIMEOUT);
    let tail = |port: u16| {
        format!(
            "[ERR] Error trying to connect as leafnode to remote server \"127.0.0.1:{port}\" (attempt 1): dial tcp 127.0.0.1:{port}: connect: connection refused"
        )
    };
    assert!(
        line.ends_with(&tail(dead)) || line.ends_with(&tail(live)),
        "{line:?}"
    );
    let hub = start_hub(Flavor::NatsServer, &dir, live);
    leaf.wait_for_log(CREATED, LINK_TIMEOUT);
    wait_link_ready(&hub, &leaf);
    let mut sub = RawClient::subscriber(leaf.port(), "SUB dialled 1\r\n");
    let (got, _) = publish_until_received(&hub, &mut sub, "dialled");
    assert!(got.starts_with("MSG dialled 1 2\r\nok\r\n"), "{got:?}");
}

#[test]
fn a_leaf_of_the_same_kind_of_hub_carries_pub_sub_both_ways() {
    // Hub and leaf both the server under test (ringmq ↔ ringmq by default).
    let dir = temp_dir("same");
    let leaf_port = free_port();
    let hub = start_hub(Flavor::from_env(), &dir, leaf_port);
    let leaf = start_leaf(&dir, &[leaf_port]);
    leaf.wait_for_log(CREATED, LINK_TIMEOUT);
    wait_link_ready(&hub, &leaf);
    let mut on_leaf = RawClient::subscriber(leaf.port(), "SUB to.leaf 1\r\n");
    let mut on_hub = RawClient::subscriber(hub.port(), "SUB to.hub 2\r\n");
    barrier(&leaf, &hub, "same-l");
    barrier(&hub, &leaf, "same-h");
    RawClient::connect_quiet(hub.port(), b"").send_and_sync(b"PUB to.leaf r 3\r\nabc\r\n");
    assert_eq!(frames(&mut on_leaf, 1), "MSG to.leaf 1 r 3\r\nabc\r\n");
    RawClient::connect_quiet(leaf.port(), b"").send_and_sync(b"PUB to.hub 3\r\ndef\r\n");
    assert_eq!(frames(&mut on_hub, 1), "MSG to.hub 2 3\r\ndef\r\n");
    assert_eq!(drain(&mut on_leaf), "PONG\r\n");
    assert_eq!(drain(&mut on_hub), "PONG\r\n");
}

/// A test-driven hub: one accepted leaf connection, read line by line.
struct ScriptedHub {
    reader: std::io::BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
}

impl ScriptedHub {
    fn send(&mut self, bytes: &str) {
        use std::io::Write;
        self.writer.write_all(bytes.as_bytes()).expect("hub send");
    }

    /// The next line with its CRLF; empty at EOF.
    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("hub read");
        line
    }

    /// Lines up to and including `PONG`, the leaf's keep-alive PINGs left out.
    fn lines_until_pong(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            assert!(!line.is_empty(), "EOF before PONG after {lines:?}");
            if line == "PING\r\n" {
                self.send("PONG\r\n");
                continue;
            }
            let done = line == "PONG\r\n";
            lines.push(line);
            if done {
                return lines;
            }
        }
    }
}

#[test]
fn a_scripted_hub_sees_the_leaf_connect_its_interest_messages_and_the_loop_error() {
    let dir = temp_dir("script");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let leaf = start_leaf(&dir, &[port]);
    let (stream, _) = listener.accept().expect("the leaf dials");
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .expect("timeout");
    let mut hub = ScriptedHub {
        reader: std::io::BufReader::new(stream.try_clone().expect("clone")),
        writer: stream,
    };
    // Interest on both cores before the handshake: `foo` twice (sent once), group
    // `workers` with two members.
    let mut a = RawClient::subscriber(leaf.port(), "SUB foo 1\r\nSUB q.bar workers 2\r\n");
    let mut b = RawClient::subscriber(leaf.port(), "SUB foo 1\r\nSUB q.bar workers 2\r\n");
    hub.send(&format!(
        "INFO {{\"server_id\":\"NSCRIPTEDHUB\",\"server_name\":\"hub\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,\"max_payload\":1048576,\"client_id\":7,\"nonce\":\"abc\",\"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:{port}\"]}}\r\n"
    ));
    let connect = hub.line();
    let id_at = connect.find("\"server_id\":\"").expect("server_id") + 13;
    let id_len = connect[id_at..].find('"').expect("closing quote");
    assert!(id_len > 0, "{connect:?}");
    let connect = format!("{}ID{}", &connect[..id_at], &connect[id_at + id_len..]);
    assert_eq!(
        connect,
        "CONNECT {\"version\":\"2.9.10\",\"tls_required\":false,\"server_id\":\"ID\",\"name\":\"leaf1\",\"cluster\":\"leaf1\",\"headers\":true}\r\n"
    );
    hub.send("INFO {\"server_id\":\"NSCRIPTEDHUB\",\"client_id\":7,\"info_on_connect\":true,\"connect_info\":true,\"remote_account\":\"$G\"}\r\nLS+ hubsub\r\nLS+ hubq work 3\r\nPING\r\n");
    // nats-server adds its system account's service imports (`LS+ $SYS.…`); ringmq has none.
    let mut lines = hub.lines_until_pong();
    lines.retain(|line| !line.starts_with("LS+ $SYS."));
    lines.sort();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[0].starts_with("LS+ $LDS."), "{lines:?}");
    assert_eq!(
        &lines[1..],
        ["LS+ foo\r\n", "LS+ q.bar workers 2\r\n", "PONG\r\n"]
    );
    let lds = lines[0]["LS+ ".len()..].trim_end().to_string();
    // The hub's interest reaches publishers on both cores; plain and queue forms.
    let mut first = RawClient::connect_quiet(leaf.port(), b"");
    let mut second = RawClient::connect_quiet(leaf.port(), b"");
    first.send_and_sync(b"PUB hubsub r.1 2\r\nhi\r\n");
    assert_eq!(hub.line(), "LMSG hubsub r.1 2\r\n");
    assert_eq!(hub.line(), "hi\r\n");
    second.send_and_sync(b"PUB hubq 2\r\nho\r\nPUB hubq r.2 2\r\nhu\r\n");
    assert_eq!(
        [hub.line(), hub.line(), hub.line(), hub.line()].concat(),
        "LMSG hubq | work 2\r\nho\r\nLMSG hubq + r.2 work 2\r\nhu\r\n"
    );
    // A message from the hub reaches the leaf's subscribers and never comes back, even
    // when the hub is interested in it.
    hub.send("LS+ foo\r\nLMSG foo 1\r\nx\r\nPING\r\n");
    assert_eq!(hub.lines_until_pong(), ["PONG\r\n"]);
    assert_eq!(frames(&mut a, 1), "MSG foo 1 1\r\nx\r\n");
    assert_eq!(frames(&mut b, 1), "MSG foo 1 1\r\nx\r\n");
    // The leaf's own loop detection subject sent back: the error, then the close.
    hub.send(&format!("LS+ {lds}\r\n"));
    assert_eq!(
        hub.line(),
        "-ERR 'Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s'\r\n"
    );
    assert_eq!(hub.line(), "", "the leaf closes the link");
    // After a loop the leaf waits 30 s, not its 1 s interval: no dial for 3 intervals.
    listener.set_nonblocking(true).expect("nonblocking");
    let quiet_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < quiet_until {
        match listener.accept() {
            Ok(_) => panic!("the leaf redialled within 3 s of a loop error"),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20)); // polling, not synchronisation
            }
            Err(error) => panic!("accept: {error}"),
        }
    }
}

/// The CONNECT with its server id (also the name of an unnamed server) replaced by `ID`.
fn masked_connect(connect: &str) -> String {
    let id_at = connect
        .find("\"server_id\":\"")
        .unwrap_or_else(|| panic!("{connect:?}"))
        + 13;
    let id_len = connect[id_at..].find('"').expect("closing quote");
    assert!(id_len > 0, "{connect:?}");
    connect.replace(&connect[id_at..id_at + id_len], "ID")
}

#[test]
fn a_leaf_without_a_server_name_sends_no_cluster_in_its_connect() {
    let dir = temp_dir("unnamed");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let conf = write_conf(
        &dir,
        "leaf.conf",
        &format!("leafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{port}\" }} ] }}\n"),
    );
    let _leaf = Server::start_with_args(Opts::default(), &["-c", &conf]);
    let stream = accept_within(&listener);
    let mut hub = ScriptedHub {
        reader: std::io::BufReader::new(stream.try_clone().expect("clone")),
        writer: stream,
    };
    hub.send(&format!(
        "INFO {{\"server_id\":\"NSCRIPTEDHUB\",\"server_name\":\"hub\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,\"max_payload\":1048576,\"client_id\":7,\"nonce\":\"abc\",\"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:{port}\"]}}\r\n"
    ));
    // nats-server 2.9.10 takes a standalone server's cluster name from `server_name`
    // only; the server id stands in for the name, never for the cluster.
    assert_eq!(
        masked_connect(&hub.line()),
        "CONNECT {\"version\":\"2.9.10\",\"tls_required\":false,\"server_id\":\"ID\",\"name\":\"ID\",\"headers\":true}\r\n"
    );
}

/// Accepts one connection on `listener` within `LINK_TIMEOUT`, polling.
fn accept_within(listener: &std::net::TcpListener) -> std::net::TcpStream {
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + LINK_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking");
                stream
                    .set_read_timeout(Some(REPLY_TIMEOUT))
                    .expect("timeout");
                return stream;
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no dial before the deadline");
                std::thread::sleep(Duration::from_millis(5)); // polling, not synchronisation
            }
            Err(error) => panic!("accept: {error}"),
        }
    }
}

#[test]
fn the_hubs_leafnode_urls_join_the_rotation_and_are_dialled_after_a_lost_link() {
    let dir = temp_dir("urls");
    let configured = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let advertised = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let (port, other) = (
        configured.local_addr().expect("address").port(),
        advertised.local_addr().expect("address").port(),
    );
    let leaf = start_leaf(&dir, &[port]);
    let stream = accept_within(&configured);
    let mut hub = ScriptedHub {
        reader: std::io::BufReader::new(stream.try_clone().expect("clone")),
        writer: stream,
    };
    hub.send(&format!(
        "INFO {{\"server_id\":\"NSCRIPTEDHUB\",\"version\":\"2.9.10\",\"headers\":true,\"client_id\":3,\"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:{other}\"]}}\r\n"
    ));
    assert!(hub.line().starts_with("CONNECT {"));
    // The link is lost: the next dial goes to the URL the hub advertised, the configured
    // one is tried after it.
    drop(hub);
    let stream = accept_within(&advertised);
    let mut hub = ScriptedHub {
        reader: std::io::BufReader::new(stream.try_clone().expect("clone")),
        writer: stream,
    };
    hub.send(&format!(
        "INFO {{\"server_id\":\"NSCRIPTEDHUB2\",\"version\":\"2.9.10\",\"headers\":true,\"client_id\":4,\"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:{other}\"]}}\r\n"
    ));
    assert!(hub.line().starts_with("CONNECT {"));
    drop(hub);
    drop(advertised);
    let _again = accept_within(&configured);
    leaf.wait_for_log_count(CREATED, 2, LINK_TIMEOUT);
}

/// The visibility bound across a link: after a SUB and its PONG on the leaf (on either
/// core), the hub delivers to it once the link has carried the LS+. Measured 20 times:
/// the time from the PONG to the first publish on the hub that arrives (publishing every
/// round trip); the bound asserted is one keep-alive-free second, the figures are printed.
#[test]
fn interest_made_on_the_leaf_reaches_the_hub_within_a_bound() {
    let pair = pair("bound");
    let mut publisher = RawClient::connect_quiet(pair.hub.port(), b"");
    let mut delays = Vec::new();
    for round in 0..20 {
        let subject = format!("bound.{round}");
        let mut sub = RawClient::subscriber(pair.leaf.port(), &format!("SUB {subject} 1\r\n"));
        let after_pong = Instant::now();
        loop {
            publisher.send_and_sync(format!("PUB {subject} 1\r\nx\r\n").as_bytes());
            if drain(&mut sub).contains("MSG") {
                break;
            }
            assert!(
                after_pong.elapsed() < Duration::from_secs(1),
                "round {round}: the hub did not see the interest within 1 s"
            );
        }
        delays.push(after_pong.elapsed());
    }
    delays.sort();
    eprintln!(
        "interest across the link after the PONG: median {:?}, max {:?}",
        delays[delays.len() / 2],
        delays[delays.len() - 1]
    );
}
