//! Cluster routes: the servers under test (ringmq by default, nats-server with
//! `RINGMQ_TEST_SERVER=nats-server`) and nats-server 2.9.10 nodes in one cluster, clients
//! on every node. Readiness and interest are waited for, never slept on: a cluster is
//! formed when every node's INFO lists every node's client URL, and interest has crossed
//! when a sentinel subscribed after it is reached (see `common::leaf`).

mod common;

use common::leaf::{barrier, drain, frames, LINK_TIMEOUT};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::time::Instant;

const ROUTE_LINE: &str = "Listening for route connections on ";

/// A cluster node and its route port.
struct Node {
    server: Server,
    route_port: u16,
}

/// Starts a node of cluster `mix` named `name`, dialling `routes` (route ports).
fn node(flavor: Flavor, name: &str, routes: &[u16]) -> Node {
    let mut args: Vec<String> = [
        "-n",
        name,
        "--cluster",
        "nats://127.0.0.1:-1",
        "--cluster_name",
        "mix",
    ]
    .map(String::from)
    .to_vec();
    if !routes.is_empty() {
        args.push("--routes".into());
        args.push(
            routes
                .iter()
                .map(|port| format!("nats://127.0.0.1:{port}"))
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    let launch = Launch {
        args,
        ..Launch::default()
    };
    let server = Server::start_flavor(flavor, Opts::default(), &launch);
    let line = server.wait_for_log(ROUTE_LINE, REPLY_TIMEOUT);
    let route_port = line
        .rsplit(':')
        .next()
        .and_then(|port| port.trim().parse().ok())
        .unwrap_or_else(|| panic!("no route port in {line:?}"));
    Node { server, route_port }
}

/// The `connect_urls` of an INFO line, sorted.
fn connect_urls(info: &str) -> Vec<String> {
    let json = info
        .trim_start_matches("INFO ")
        .trim_end_matches(['\r', '\n', ' ']);
    let value: serde_json::Value = serde_json::from_str(json).expect("INFO JSON");
    let mut urls: Vec<String> = value["connect_urls"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|url| url.as_str().expect("a URL").to_string())
                .collect()
        })
        .unwrap_or_default();
    urls.sort();
    urls
}

/// Waits until a new client of every node is told every node's client URL.
fn wait_for_mesh(nodes: &[&Node]) {
    let mut expected: Vec<String> = nodes
        .iter()
        .map(|node| format!("127.0.0.1:{}", node.server.port()))
        .collect();
    expected.sort();
    let deadline = Instant::now() + LINK_TIMEOUT;
    for node in nodes {
        loop {
            let client = RawClient::connect(node.server.port());
            if connect_urls(&client.info) == expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no full mesh: {} lists {:?}\n{}",
                node.server.port(),
                connect_urls(&client.info),
                nodes
                    .iter()
                    .map(|n| format!(
                        "== {}\n{}",
                        n.server.port(),
                        n.server.log_lines().join("\n")
                    ))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

/// Two nodes under test and one nats-server, B and C dialling A; gossip meshes B and C.
fn mixed_cluster(name: &str) -> (Node, Node, Node) {
    let flavor = Flavor::from_env();
    let a = node(flavor, &format!("{name}-a"), &[]);
    let b = node(flavor, &format!("{name}-b"), &[a.route_port]);
    let c = node(Flavor::NatsServer, &format!("{name}-c"), &[a.route_port]);
    wait_for_mesh(&[&a, &b, &c]);
    (a, b, c)
}

#[test]
fn a_mixed_cluster_carries_pub_sub_and_request_reply_between_every_pair_of_nodes() {
    let (a, b, c) = mixed_cluster("pubsub");
    let nodes = [&a, &b, &c];
    let mut subs: Vec<RawClient> = nodes
        .iter()
        .map(|node| {
            RawClient::subscriber(
                node.server.port(),
                "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB news.> 1\r\n",
            )
        })
        .collect();
    for (i, sub_node) in nodes.iter().enumerate() {
        for (j, pub_node) in nodes.iter().enumerate() {
            if i != j {
                barrier(&sub_node.server, &pub_node.server, &format!("s{i}p{j}"));
            }
        }
    }
    for (j, pub_node) in nodes.iter().enumerate() {
        let mut publisher = RawClient::connect_quiet(
            pub_node.server.port(),
            b"CONNECT {\"verbose\":false,\"headers\":true}\r\n",
        );
        publisher.send_and_sync(
            format!("PUB news.{j} r.{j} 5\r\nhello\r\nHPUB news.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
                .as_bytes(),
        );
        for sub in subs.iter_mut() {
            assert_eq!(
                frames(sub, 2),
                format!(
                    "MSG news.{j} 1 r.{j} 5\r\nhello\r\nHMSG news.h 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
                )
            );
        }
    }
    for sub in subs.iter_mut() {
        assert_eq!(drain(sub), "PONG\r\n");
    }

    // Request/reply across routes: a responder on the nats-server node, requesters on the
    // others; and no responders anywhere: the 503 comes from the requester's node.
    let mut responder = RawClient::subscriber(c.server.port(), "SUB svc.echo 1\r\n");
    barrier(&c.server, &a.server, "svc-a");
    barrier(&c.server, &b.server, "svc-b");
    for (k, node) in [&a, &b].into_iter().enumerate() {
        let mut requester = RawClient::subscriber(
            node.server.port(),
            "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.r.* 5\r\n",
        );
        barrier(&node.server, &c.server, &format!("inbox{k}"));
        requester.send(format!("PUB svc.echo _INBOX.r.{k} 4\r\nping\r\n").as_bytes());
        assert_eq!(
            frames(&mut responder, 1),
            format!("MSG svc.echo 1 _INBOX.r.{k} 4\r\nping\r\n")
        );
        responder.send(format!("PUB _INBOX.r.{k} 4\r\npong\r\n").as_bytes());
        assert_eq!(
            frames(&mut requester, 1),
            format!("MSG _INBOX.r.{k} 5 4\r\npong\r\n")
        );
        let reply = requester.send_and_sync(b"PUB svc.none _INBOX.r.none 2\r\nhi\r\n");
        assert_eq!(
            text(&reply),
            "HMSG _INBOX.r.none 5 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n"
        );
    }
}

#[test]
fn a_queue_group_spread_over_the_cluster_gets_each_message_once() {
    let (a, b, c) = mixed_cluster("queue");
    // Members on B and C only: A's publishes must pick one of them over the routes.
    let mut members: Vec<RawClient> = [&b, &b, &c]
        .iter()
        .map(|node| RawClient::subscriber(node.server.port(), "SUB work.* workers 7\r\n"))
        .collect();
    barrier(&b.server, &a.server, "qb");
    barrier(&c.server, &a.server, "qc");
    let mut plain = RawClient::subscriber(c.server.port(), "SUB work.* 8\r\n");
    barrier(&c.server, &a.server, "plain");
    const COUNT: usize = 60;
    let mut publisher = RawClient::connect_quiet(a.server.port(), b"");
    let mut batch = String::new();
    for n in 0..COUNT {
        batch.push_str(&format!("PUB work.x {} \r\n{n:03}\r\n", 3).replace(" \r\n", "\r\n"));
    }
    publisher.send_and_sync(batch.as_bytes());
    // The plain subscriber sees every message once; the group, every message once in all.
    let plain_got = frames(&mut plain, COUNT);
    let expected_plain: String = (0..COUNT)
        .map(|n| format!("MSG work.x 8 3\r\n{n:03}\r\n"))
        .collect();
    assert_eq!(plain_got, expected_plain);
    let mut seen = vec![0u32; COUNT];
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut total = 0;
    while total < COUNT {
        for member in members.iter_mut() {
            let got = drain(member);
            for line in got.split("\r\n").filter(|l| l.len() == 3) {
                let n: usize = line.parse().expect("payload number");
                seen[n] += 1;
                total += 1;
            }
        }
        assert!(Instant::now() < deadline, "{total} of {COUNT} delivered");
    }
    assert_eq!(seen, vec![1u32; COUNT], "each message exactly once");
    for member in members.iter_mut() {
        assert_eq!(drain(member), "PONG\r\n");
    }
}

#[test]
fn clients_are_told_when_a_node_joins_and_when_it_leaves() {
    let flavor = Flavor::from_env();
    let a = node(flavor, "urls-a", &[]);
    let mut client = RawClient::connect(a.server.port());
    let own = format!("127.0.0.1:{}", a.server.port());
    // Alone, a node lists no URLs (nats-server's INFO has no connect_urls then).
    assert_eq!(connect_urls(&client.info), Vec::<String>::new());
    // Asynchronous INFO goes to protocol-1 clients whose first PING was answered.
    client.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
    assert_eq!(drain(&mut client), "PONG\r\n");
    let b = node(Flavor::NatsServer, "urls-b", &[a.route_port]);
    let joined = frames(&mut client, 1);
    let mut both = vec![own.clone(), format!("127.0.0.1:{}", b.server.port())];
    both.sort();
    assert!(joined.starts_with("INFO {"), "{joined:?}");
    assert_eq!(connect_urls(&joined), both);
    drop(b); // SIGKILL
    let left = frames(&mut client, 1);
    assert_eq!(connect_urls(&left), vec![own]);
    assert_eq!(drain(&mut client), "PONG\r\n");
}

#[test]
fn a_killed_node_is_routed_around_and_dialled_again_when_it_returns() {
    let flavor = Flavor::from_env();
    let a = node(flavor, "kill-a", &[]);
    let c = node(Flavor::NatsServer, "kill-c", &[a.route_port]);
    let b = node(flavor, "kill-b", &[a.route_port]);
    wait_for_mesh(&[&a, &b, &c]);
    let mut sub = RawClient::subscriber(c.server.port(), "SUB alive 1\r\n");
    barrier(&c.server, &a.server, "alive");
    let Node {
        server: b_server, ..
    } = b;
    drop(b_server);
    let mut publisher = RawClient::connect_quiet(a.server.port(), b"");
    publisher.send_and_sync(b"PUB alive 2\r\nok\r\n");
    assert_eq!(frames(&mut sub, 1), "MSG alive 1 2\r\nok\r\n");
    // A nats-server node restarted on A's routes joins again: A and C are told (C by
    // gossip from A) and a client of the new node reaches C's subscriber.
    let b = node(Flavor::NatsServer, "kill-b2", &[a.route_port]);
    wait_for_mesh(&[&a, &b, &c]);
    barrier(&c.server, &b.server, "back");
    RawClient::connect_quiet(b.server.port(), b"").send_and_sync(b"PUB alive 4\r\nback\r\n");
    assert_eq!(frames(&mut sub, 1), "MSG alive 1 4\r\nback\r\n");
    assert_eq!(drain(&mut sub), "PONG\r\n");
}

#[test]
fn a_route_to_ourselves_is_dropped_and_never_dialled_again() {
    let flavor = Flavor::from_env();
    let a = node(flavor, "self-a", &[]);
    // B lists A and itself, as clusters configured from one shared list do.
    let dir = common::leaf::temp_dir("cluster", "self");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let conf = common::leaf::write_conf(
        &dir,
        "b.conf",
        &format!(
            "server_name: self-b\ncluster {{ name: mix, listen: \"127.0.0.1:{port}\", routes: [\"nats-route://127.0.0.1:{}\", \"nats-route://127.0.0.1:{port}\"] }}\n",
            a.route_port
        ),
    );
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let b = Node {
        server: Server::start_flavor(flavor, Opts::default(), &launch),
        route_port: port,
    };
    wait_for_mesh(&[&a, &b]);
    // Still exactly the two nodes after B's dials to itself have been answered.
    let mut sub = RawClient::subscriber(a.server.port(), "SUB x 1\r\n");
    barrier(&a.server, &b.server, "self");
    RawClient::connect_quiet(b.server.port(), b"").send_and_sync(b"PUB x 1\r\n1\r\n");
    assert_eq!(frames(&mut sub, 1), "MSG x 1 1\r\n1\r\n");
    assert_eq!(drain(&mut sub), "PONG\r\n");
    assert_eq!(
        connect_urls(&RawClient::connect(b.server.port()).info).len(),
        2
    );
}
