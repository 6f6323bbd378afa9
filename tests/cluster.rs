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
    let route_port = server.listening_port(ROUTE_LINE);
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

/// A node from a configuration file written into `dir`.
fn node_from_conf(flavor: Flavor, dir: &std::path::Path, name: &str, body: &str) -> Node {
    let conf = common::leaf::write_conf(dir, &format!("{name}.conf"), body);
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let server = Server::start_flavor(flavor, Opts::default(), &launch);
    let route_port = server.listening_port(ROUTE_LINE);
    Node { server, route_port }
}

/// The leaf port a server logged.
fn leaf_port(server: &Server) -> u16 {
    server.listening_port("Listening for leafnode connections on ")
}

/// A nats-server leaf of cluster `leafy` dialling `hub_leaf_port`.
fn leaf_of(dir: &std::path::Path, name: &str, hub_leaf_port: u16) -> Server {
    let conf = common::leaf::write_conf(
        dir,
        &format!("{name}.conf"),
        &format!(
            "server_name: {name}\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{hub_leaf_port}\" }} ] }}\n"
        ),
    );
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let leaf = Server::start_flavor(Flavor::NatsServer, Opts::default(), &launch);
    leaf.wait_for_log("Leafnode connection created", LINK_TIMEOUT);
    leaf
}

#[test]
fn leaf_nodes_of_different_cluster_nodes_reach_each_other_across_the_route() {
    // A (under test) and C (nats-server) in one cluster, each a hub with a nats-server
    // leaf: interest and messages go leaf → hub → route → hub → leaf both ways, and C's
    // leaf interest reaches A in nats-server's leaf-origin form (LS+ origin account ...).
    let dir = common::leaf::temp_dir("cluster", "leaves");
    let a = node_from_conf(
        Flavor::from_env(),
        &dir,
        "lv-a",
        "server_name: lv-a\ncluster { name: mix, listen: \"127.0.0.1:-1\" }\nleafnodes { listen: \"127.0.0.1:-1\" }\n",
    );
    let c = node_from_conf(
        Flavor::NatsServer,
        &dir,
        "lv-c",
        &format!(
            "server_name: lv-c\ncluster {{ name: mix, listen: \"127.0.0.1:-1\", routes: [\"nats-route://127.0.0.1:{}\"] }}\nleafnodes {{ listen: \"127.0.0.1:-1\" }}\n",
            a.route_port
        ),
    );
    wait_for_mesh(&[&a, &c]);
    let leaf_a = leaf_of(&dir, "leaf-a", leaf_port(&a.server));
    let leaf_c = leaf_of(&dir, "leaf-c", leaf_port(&c.server));
    common::leaf::wait_link_ready(&a.server, &leaf_a);
    common::leaf::wait_link_ready(&c.server, &leaf_c);
    let mut on_a = RawClient::subscriber(leaf_a.port(), "SUB to.a 1\r\nSUB q.a workers 2\r\n");
    let mut on_c = RawClient::subscriber(leaf_c.port(), "SUB to.c 1\r\nSUB q.c workers 2\r\n");
    barrier(&leaf_a, &leaf_c, "ac");
    barrier(&leaf_c, &leaf_a, "ca");
    // From one leaf to the other, and from each cluster node to the far leaf.
    RawClient::connect_quiet(leaf_a.port(), b"")
        .send_and_sync(b"PUB to.c 2\r\nac\r\nPUB q.c 2\r\nqc\r\n");
    RawClient::connect_quiet(leaf_c.port(), b"")
        .send_and_sync(b"PUB to.a 2\r\nca\r\nPUB q.a 2\r\nqa\r\n");
    RawClient::connect_quiet(a.server.port(), b"").send_and_sync(b"PUB to.c 2\r\nAC\r\n");
    RawClient::connect_quiet(c.server.port(), b"").send_and_sync(b"PUB to.a 2\r\nCA\r\n");
    // Three publishers: no order between them is promised, so the frames are compared
    // as a set (each exactly once).
    let sorted = |client: &mut RawClient| {
        let mut got: Vec<String> = (0..3).map(|_| frames(client, 1)).collect();
        got.sort();
        got
    };
    assert_eq!(
        sorted(&mut on_c),
        [
            "MSG q.c 2 2\r\nqc\r\n",
            "MSG to.c 1 2\r\nAC\r\n",
            "MSG to.c 1 2\r\nac\r\n"
        ]
    );
    assert_eq!(
        sorted(&mut on_a),
        [
            "MSG q.a 2 2\r\nqa\r\n",
            "MSG to.a 1 2\r\nCA\r\n",
            "MSG to.a 1 2\r\nca\r\n"
        ]
    );
    assert_eq!(drain(&mut on_a), "PONG\r\n");
    assert_eq!(drain(&mut on_c), "PONG\r\n");
}

#[test]
fn a_cluster_name_that_differs_is_refused_with_nats_servers_error() {
    let dir = common::leaf::temp_dir("cluster", "names");
    let a = node_from_conf(
        Flavor::from_env(),
        &dir,
        "nm-a",
        "server_name: nm-a\ncluster { name: one, listen: \"127.0.0.1:-1\" }\n",
    );
    let _b = node_from_conf(
        Flavor::NatsServer,
        &dir,
        "nm-b",
        &format!(
            "server_name: nm-b\ncluster {{ name: two, listen: \"127.0.0.1:-1\", routes: [\"nats-route://127.0.0.1:{}\"] }}\n",
            a.route_port
        ),
    );
    let line = a.server.wait_for_log("Rejecting connection", LINK_TIMEOUT);
    assert!(
        line.contains("[ERR] 127.0.0.1:")
            && line.contains(" - rid:")
            && line
                .ends_with(" - Rejecting connection, cluster name \"two\" does not match \"one\""),
        "{line:?}"
    );
    let closed = a
        .server
        .wait_for_log("connection closed: Cluster Name Conflict", LINK_TIMEOUT);
    assert!(closed.contains(" - rid:"), "{closed:?}");
    // No route was made: A's clients still see no other node.
    assert_eq!(
        connect_urls(&RawClient::connect(a.server.port()).info),
        Vec::<String>::new()
    );
}

#[test]
fn two_nodes_that_dial_each_other_keep_exactly_one_route() {
    let flavor = Flavor::from_env();
    let dir = common::leaf::temp_dir("cluster", "mutual");
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port()
    };
    let (pa, pb) = (free(), free());
    let conf = |me: u16, other: u16, name: &str| {
        format!(
            "server_name: {name}\nhttp_port: -1\ncluster {{ name: mix, listen: \"127.0.0.1:{me}\", routes: [\"nats-route://127.0.0.1:{other}\"] }}\n"
        )
    };
    let a = node_from_conf(flavor, &dir, "mu-a", &conf(pa, pb, "mu-a"));
    let b = node_from_conf(Flavor::NatsServer, &dir, "mu-b", &conf(pb, pa, "mu-b"));
    wait_for_mesh(&[&a, &b]);
    // A dialled first and failed (B was not listening); B's dial made the route; A's
    // second dial makes a duplicate, which is dropped.
    a.server
        .wait_for_log_count("Route connection created", 2, LINK_TIMEOUT);
    a.server.wait_for_log("connection closed", LINK_TIMEOUT);
    let mut sub = RawClient::subscriber(b.server.port(), "SUB once 1\r\n");
    barrier(&b.server, &a.server, "once");
    RawClient::connect_quiet(a.server.port(), b"").send_and_sync(b"PUB once 1\r\n1\r\n");
    // One route each way carries it: a second route would deliver it twice.
    assert_eq!(frames(&mut sub, 1), "MSG once 1 1\r\n1\r\n");
    assert_eq!(drain(&mut sub), "PONG\r\n");
    for node in [&a, &b] {
        let port = node.server.listening_port("Starting http monitor on ");
        let routez = common::http::wait_json(port, "/routez", |doc| doc["num_routes"] == 1);
        assert_eq!(
            routez["routes"].as_array().map(Vec::len),
            Some(1),
            "{routez}"
        );
    }
}

#[test]
fn a_node_in_lame_duck_mode_is_no_longer_offered_to_clients() {
    let flavor = Flavor::from_env();
    let a = node(flavor, "ld-a", &[]);
    let b = node(flavor, "ld-b", &[a.route_port]);
    wait_for_mesh(&[&a, &b]);
    let connected = |node: &Node| {
        let mut client = RawClient::connect(node.server.port());
        client.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
        assert_eq!(drain(&mut client), "PONG\r\n");
        client
    };
    let (mut on_a, mut on_b) = (connected(&a), connected(&b));
    let status = std::process::Command::new("kill")
        .args(["-USR2", &b.server.pid().to_string()])
        .status()
        .expect("kill -USR2");
    assert!(status.success());
    let only_a = vec![format!("127.0.0.1:{}", a.server.port())];
    // B's clients hear lame duck mode and are pointed at A only; A's stop being offered B.
    let to_b = frames(&mut on_b, 1);
    assert!(to_b.contains(",\"ldm\":true}"), "{to_b:?}");
    assert_eq!(connect_urls(&to_b), only_a);
    let to_a = frames(&mut on_a, 1);
    assert!(!to_a.contains("\"ldm\""), "{to_a:?}");
    assert_eq!(connect_urls(&to_a), only_a);
    assert_eq!(drain(&mut on_a), "PONG\r\n");
}

#[test]
fn route_authorization_admits_the_cluster_user_and_refuses_others() {
    // A and B under test, C nats-server; every node has the route user, B and C dial A
    // with it; A tells B and C about each other and they dial each other with their own
    // credentials (the gossiped INFO says auth_required).
    let dir = common::leaf::temp_dir("cluster", "auth");
    let conf = |name: &str, routes: &str| {
        format!(
            "server_name: {name}\ncluster {{ name: mix, listen: \"127.0.0.1:-1\", authorization {{ user: ruser, password: rpass, timeout: 1 }}, routes: [{routes}] }}\n"
        )
    };
    let flavor = Flavor::from_env();
    let a = node_from_conf(flavor, &dir, "au-a", &conf("au-a", ""));
    let seed = format!("\"nats-route://ruser:rpass@127.0.0.1:{}\"", a.route_port);
    let b = node_from_conf(flavor, &dir, "au-b", &conf("au-b", &seed));
    let c = node_from_conf(Flavor::NatsServer, &dir, "au-c", &conf("au-c", &seed));
    wait_for_mesh(&[&a, &b, &c]);
    let mut sub = RawClient::subscriber(c.server.port(), "SUB secured 1\r\n");
    barrier(&c.server, &b.server, "auth");
    RawClient::connect_quiet(b.server.port(), b"").send_and_sync(b"PUB secured 2\r\nok\r\n");
    assert_eq!(frames(&mut sub, 1), "MSG secured 1 2\r\nok\r\n");

    // A stranger with the wrong password, one with none, one that never sends CONNECT.
    let wrong = node_from_conf(
        Flavor::NatsServer,
        &dir,
        "au-wrong",
        &format!(
            "server_name: au-wrong\ncluster {{ name: mix, listen: \"127.0.0.1:-1\", routes: [\"nats-route://ruser:nope@127.0.0.1:{}\"] }}\n",
            a.route_port
        ),
    );
    let line = a.server.wait_for_log("authentication error", LINK_TIMEOUT);
    assert!(
        line.contains("[ERR] 127.0.0.1:") && line.contains(" - rid:"),
        "{line:?}"
    );
    a.server
        .wait_for_log("connection closed: Authentication Failure", LINK_TIMEOUT);
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", a.route_port)).expect("dial");
    silent
        .set_read_timeout(Some(LINK_TIMEOUT))
        .expect("timeout");
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut silent, &mut got).expect("read to EOF");
    let got = text(&got);
    assert!(
        got.starts_with("INFO {") && got.contains("\"auth_required\":true"),
        "{got:?}"
    );
    assert!(
        got.ends_with("-ERR 'Authentication Timeout'\r\n"),
        "{got:?}"
    );
    drop(wrong);
    // The cluster is untouched: still three nodes.
    wait_for_mesh(&[&a, &b, &c]);
    assert_eq!(drain(&mut sub), "PONG\r\n");
}

#[test]
fn a_dynamic_cluster_name_gives_way_to_a_configured_one() {
    // A (under test) has no cluster name; B (nats-server) is configured "fixed".
    let dir = common::leaf::temp_dir("cluster", "dynamic");
    let a = node_from_conf(
        Flavor::from_env(),
        &dir,
        "dy-a",
        "server_name: dy-a\ncluster { listen: \"127.0.0.1:-1\" }\n",
    );
    a.server.wait_for_log(
        "Cluster name was dynamically generated, consider setting one",
        REPLY_TIMEOUT,
    );
    let b = node_from_conf(
        Flavor::NatsServer,
        &dir,
        "dy-b",
        &format!(
            "server_name: dy-b\ncluster {{ name: fixed, listen: \"127.0.0.1:-1\", routes: [\"nats-route://127.0.0.1:{}\"] }}\n",
            a.route_port
        ),
    );
    let line = a
        .server
        .wait_for_log("Cluster name updated to ", LINK_TIMEOUT);
    assert!(
        line.ends_with("[INF] Cluster name updated to fixed"),
        "{line:?}"
    );
    wait_for_mesh(&[&a, &b]);
    let info = RawClient::connect(a.server.port()).info;
    assert!(info.contains("\"cluster\":\"fixed\""), "{info}");
}

#[test]
fn leaves_of_a_cluster_node_are_told_every_nodes_leaf_url() {
    let dir = common::leaf::temp_dir("cluster", "leafurls");
    let conf = |name: &str, routes: &str| {
        format!(
            "server_name: {name}\ncluster {{ name: mix, listen: \"127.0.0.1:-1\", routes: [{routes}] }}\nleafnodes {{ listen: \"127.0.0.1:-1\" }}\n"
        )
    };
    let a = node_from_conf(Flavor::from_env(), &dir, "lu-a", &conf("lu-a", ""));
    let a_leaf = leaf_port(&a.server);
    // A scripted leaf on A: its INFO names the cluster and A's leaf URL.
    let stream = std::net::TcpStream::connect(("127.0.0.1", a_leaf)).expect("leaf port");
    let mut leaf = RawClient::from_stream(stream);
    let info_of = |line: &str| -> serde_json::Value {
        serde_json::from_str(line.trim_start_matches("INFO ").trim_end()).expect("INFO JSON")
    };
    let urls = |info: &serde_json::Value| -> Vec<String> {
        let mut urls: Vec<String> = info["leafnode_urls"]
            .as_array()
            .expect("leafnode_urls")
            .iter()
            .map(|u| u.as_str().expect("a URL").to_string())
            .collect();
        urls.sort();
        urls
    };
    let first = info_of(&leaf.info);
    assert_eq!(first["cluster"], serde_json::json!("mix"));
    assert_eq!(urls(&first), vec![format!("127.0.0.1:{a_leaf}")]);
    leaf.send(b"CONNECT {\"version\":\"2.9.10\",\"tls_required\":false,\"server_id\":\"NFAKELEAF\",\"name\":\"fake\",\"cluster\":\"fake\",\"headers\":true}\r\n");
    let _ = drain(&mut leaf);
    // B joins: the leaf is told both nodes' leaf URLs, without per-connection fields.
    let b = node_from_conf(
        Flavor::NatsServer,
        &dir,
        "lu-b",
        &conf(
            "lu-b",
            &format!("\"nats-route://127.0.0.1:{}\"", a.route_port),
        ),
    );
    let b_leaf = leaf_port(&b.server);
    let deadline = Instant::now() + LINK_TIMEOUT;
    let joined = loop {
        let frame = text(&leaf.next_frame(deadline).expect("a frame"));
        if frame.starts_with("INFO ") {
            break info_of(&frame);
        }
    };
    let mut both = vec![format!("127.0.0.1:{a_leaf}"), format!("127.0.0.1:{b_leaf}")];
    both.sort();
    assert_eq!(urls(&joined), both);
    assert!(
        joined.get("client_id").is_none() && joined.get("nonce").is_none(),
        "{joined}"
    );
    drop(b);
    let left = loop {
        let frame = text(&leaf.next_frame(deadline).expect("a frame"));
        if frame.starts_with("INFO ") {
            break info_of(&frame);
        }
    };
    assert_eq!(urls(&left), vec![format!("127.0.0.1:{a_leaf}")]);
}
