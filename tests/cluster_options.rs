//! The `cluster` block's options beyond forming a cluster, on the server under test
//! (ringmq by default, nats-server with `RINGMQ_TEST_SERVER=nats-server`), as nats-server
//! 2.9.10 has them: route authorization (its refusals, a bcrypt route password), the
//! advertised route address, route permissions. Scripted route peers read the exact INFO,
//! RS+ and RMSG bytes; readiness is waited for, never slept on.

mod common;

use common::leaf::{barrier, drain, frames, temp_dir, write_conf, LINK_TIMEOUT};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::time::Instant;

const ROUTE_LINE: &str = "Listening for route connections on ";

/// A server started from a configuration file written into `dir`, and its route port.
fn start_conf(flavor: Flavor, dir: &std::path::Path, name: &str, body: &str) -> (Server, u16) {
    let conf = write_conf(dir, &format!("{name}.conf"), body);
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    let server = Server::start_flavor(flavor, Opts::default(), &launch);
    let route_port = server.listening_port(ROUTE_LINE);
    (server, route_port)
}

/// The JSON of an `INFO ...` frame.
fn info_json(frame: &str) -> serde_json::Value {
    let json = frame
        .trim_start_matches("INFO ")
        .trim_end_matches(['\r', '\n', ' ']);
    serde_json::from_str(json).unwrap_or_else(|e| panic!("INFO JSON {frame:?}: {e}"))
}

/// The sorted `connect_urls` of a client's INFO.
fn connect_urls(info: &str) -> Vec<String> {
    let mut urls: Vec<String> = info_json(info)["connect_urls"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|u| u.as_str().expect("URL").into())
                .collect()
        })
        .unwrap_or_default();
    urls.sort();
    urls
}

/// Waits until a new client of `server` is told exactly the client ports `ports`.
fn wait_for_urls(server: &Server, ports: &[u16]) {
    let mut expected: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    expected.sort();
    let deadline = Instant::now() + LINK_TIMEOUT;
    while connect_urls(&RawClient::connect(server.port()).info) != expected {
        assert!(
            Instant::now() < deadline,
            "{} never listed {expected:?}\n{}",
            server.port(),
            server.log_lines().join("\n")
        );
    }
}

/// A scripted route peer: dials `route_port`, reads the server's INFO, then sends a
/// route CONNECT and INFO naming itself `id` in cluster `cluster` (`extra`: more INFO
/// fields, e.g. `"ip":...`), and waits for its PONG (the route is registered then).
fn fake_route(route_port: u16, id: &str, cluster: &str, extra: &str) -> RawClient {
    let stream = std::net::TcpStream::connect(("127.0.0.1", route_port)).expect("route port");
    let mut peer = RawClient::from_stream(stream);
    peer.send(
        format!(
            "CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"{cluster}\",\"lnoc\":true}}\r\n\
             INFO {{\"server_id\":\"{id}\",\"server_name\":\"{id}\",\"version\":\"2.9.10\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,{extra}\"cluster\":\"{cluster}\",\"lnoc\":true}}\r\n"
        )
        .as_bytes(),
    );
    peer
}

/// The frames a route peer receives up to the PONG of a PING sent now, without the
/// interest nats-server's system account announces (`RS+ $SYS ...`).
fn route_frames(peer: &mut RawClient) -> String {
    text(&peer.send_and_sync(b""))
        .split_inclusive("\r\n")
        .filter(|line| !line.starts_with("RS+ $SYS ") && !line.starts_with("RS- $SYS "))
        .collect()
}

/// Runs `-t -c FILE` (check the file and exit): stderr.
fn check_conf(flavor: Flavor, path: &str) -> String {
    let binary = match flavor {
        Flavor::Ringmq => env!("CARGO_BIN_EXE_ringmq"),
        Flavor::NatsServer => "nats-server",
    };
    let output = std::process::Command::new(binary)
        .args(["-t", "-c", path])
        .output()
        .expect("run the server");
    assert!(!output.status.success(), "{path} passed the check");
    text(&output.stderr)
}

#[test]
fn route_users_lists_and_tokens_are_refused_with_nats_servers_errors() {
    let flavor = Flavor::from_env();
    let dir = temp_dir("cluster-options", "refusals");
    let cases = [
        (
            "users.conf",
            "cluster {\n  port: -1\n  authorization {\n    users: [ {user: a, password: b} ]\n  }\n}\n",
            "users.conf:3:3: Cluster authorization does not allow multiple users",
        ),
        (
            "token.conf",
            "cluster {\n  port: -1\n  authorization {\n    token: abc\n  }\n}\n",
            "token.conf:3:3: Cluster authorization does not support tokens",
        ),
    ];
    for (name, body, expected) in cases {
        let path = write_conf(&dir, name, body);
        let stderr = check_conf(flavor, &path);
        assert!(stderr.contains(expected), "{name}: {stderr:?}");
    }
}

#[test]
fn a_bcrypt_route_password_admits_the_route_user_and_refuses_others() {
    let flavor = Flavor::from_env();
    let dir = temp_dir("cluster-options", "bcrypt");
    let hash = bcrypt::hash("rpass", 4).expect("bcrypt");
    let (a, a_route) = start_conf(
        flavor,
        &dir,
        "bc-a",
        &format!(
            "server_name: bc-a\ncluster {{ name: bc, listen: \"127.0.0.1:-1\", authorization {{ user: ruser, password: \"{hash}\" }} }}\n"
        ),
    );
    // B (under test) and C (nats-server) dial A with the route user; A tells each about the
    // other, and they dial each other without credentials (their ports want none).
    let dialling = |name: &str| {
        format!(
            "server_name: {name}\ncluster {{ name: bc, listen: \"127.0.0.1:-1\", routes: [\"nats-route://ruser:rpass@127.0.0.1:{a_route}\"] }}\n"
        )
    };
    let (b, _) = start_conf(flavor, &dir, "bc-b", &dialling("bc-b"));
    let (c, _) = start_conf(Flavor::NatsServer, &dir, "bc-c", &dialling("bc-c"));
    let ports = [a.port(), b.port(), c.port()];
    for server in [&a, &b, &c] {
        wait_for_urls(server, &ports);
    }
    let mut sub = RawClient::subscriber(c.port(), "SUB hashed 1\r\n");
    barrier(&c, &a, "bcrypt");
    RawClient::connect_quiet(a.port(), b"").send_and_sync(b"PUB hashed 2\r\nok\r\n");
    assert_eq!(frames(&mut sub, 1), "MSG hashed 1 2\r\nok\r\n");

    // The right user with the wrong password: nats-server's log lines, and no route.
    let (_wrong, _) = start_conf(
        Flavor::NatsServer,
        &dir,
        "bc-wrong",
        &format!(
            "server_name: bc-wrong\ncluster {{ name: bc, listen: \"127.0.0.1:-1\", routes: [\"nats-route://ruser:rpas@127.0.0.1:{a_route}\"] }}\n"
        ),
    );
    let line = a.wait_for_log("authentication error", LINK_TIMEOUT);
    assert!(
        line.contains("[ERR] 127.0.0.1:") && line.ends_with(" - authentication error"),
        "{line:?}"
    );
    let closed = a.wait_for_log("connection closed: Authentication Failure", LINK_TIMEOUT);
    assert!(closed.contains(" - rid:"), "{closed:?}");
    assert_eq!(connect_urls(&RawClient::connect(a.port()).info).len(), 3);
    assert_eq!(drain(&mut sub), "PONG\r\n");
}

#[test]
fn cluster_advertise_is_the_route_address_in_our_info_and_in_gossip() {
    let flavor = Flavor::from_env();
    let dir = temp_dir("cluster-options", "advertise");
    let (a, a_route) = start_conf(
        flavor,
        &dir,
        "ad-a",
        "server_name: ad-a\ncluster { name: adv, listen: \"127.0.0.1:-1\", advertise: \"10.1.2.3:4567\" }\n",
    );
    // Our INFO: the advertised host and port, and the route URL in `ip`; the client URLs
    // are the client port's (advertise is for routes only).
    let mut first = fake_route(a_route, "NFIRST", "adv", "");
    let info = info_json(&first.info);
    assert_eq!(info["host"], "10.1.2.3", "{info}");
    assert_eq!(info["port"], 4567, "{info}");
    assert_eq!(info["ip"], "nats-route://10.1.2.3:4567/", "{info}");
    assert!(
        first.info.contains(
            ",\"max_payload\":1048576,\"ip\":\"nats-route://10.1.2.3:4567/\",\"nonce\":\""
        ),
        "{}",
        first.info
    );
    let _ = route_frames(&mut first);
    // A second peer that advertises itself: the first is told its advertised URL, with the
    // host and port of its INFO as they came.
    let mut second = fake_route(
        a_route,
        "NSECOND",
        "adv",
        "\"ip\":\"nats-route://127.0.0.2:2222/\",",
    );
    let _ = route_frames(&mut second);
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let gossip = loop {
        let frame = text(&first.next_frame(deadline).expect("a frame"));
        if frame.starts_with("INFO ") {
            break info_json(&frame);
        }
    };
    assert_eq!(gossip["server_id"], "NSECOND", "{gossip}");
    assert_eq!(gossip["ip"], "nats-route://127.0.0.2:2222/", "{gossip}");
    assert_eq!(
        (&gossip["host"], &gossip["port"]),
        (&"127.0.0.1".into(), &1.into())
    );
    // A third without `ip`: its address and the port of its INFO.
    let mut third = fake_route(a_route, "NTHIRD", "adv", "");
    let _ = route_frames(&mut third);
    let gossip = loop {
        let frame = text(&first.next_frame(deadline).expect("a frame"));
        if frame.starts_with("INFO ") {
            break info_json(&frame);
        }
    };
    assert_eq!(gossip["server_id"], "NTHIRD", "{gossip}");
    assert_eq!(gossip["ip"], "nats-route://127.0.0.1:1/", "{gossip}");
    drop(a);
}

#[test]
fn route_permissions_filter_the_interest_sent_and_taken_and_the_messages_sent() {
    let flavor = Flavor::from_env();
    let dir = temp_dir("cluster-options", "permissions");
    let (a, a_route) = start_conf(
        flavor,
        &dir,
        "pm-a",
        "server_name: pm-a\ncluster { name: perm, listen: \"127.0.0.1:-1\", permissions { import: { allow: [\"in.>\"] }, export: { allow: \"out.>\", deny: [\"out.secret\"] } } }\n",
    );
    let _sub = RawClient::subscriber(
        a.port(),
        "SUB in.x 1\r\nSUB other.y 2\r\nSUB in.q workers 3\r\n",
    );
    // The peer is told the permissions, and only the interest `import` allows.
    let mut peer = fake_route(a_route, "NPERM", "perm", "");
    assert!(
        peer.info.contains(",\"import\":{\"allow\":[\"in.\\u003e\"]},\"export\":{\"allow\":[\"out.\\u003e\"],\"deny\":[\"out.secret\"]},\"lnoc\":true"),
        "{}",
        peer.info
    );
    let interest = route_frames(&mut peer);
    let mut lines: Vec<&str> = interest.split_inclusive("\r\n").collect();
    lines.sort();
    assert_eq!(
        lines,
        ["PONG\r\n", "RS+ $G in.q workers 1\r\n", "RS+ $G in.x\r\n"]
    );
    // Later interest likewise.
    let mut later = RawClient::subscriber(a.port(), "SUB in.later 1\r\nSUB other.later 2\r\n");
    assert_eq!(
        text(
            &peer
                .next_frame(Instant::now() + REPLY_TIMEOUT)
                .expect("RS+")
        ),
        "RS+ $G in.later\r\n"
    );
    later.send_and_sync(b"UNSUB 1\r\nUNSUB 2\r\n");
    assert_eq!(
        text(
            &peer
                .next_frame(Instant::now() + REPLY_TIMEOUT)
                .expect("RS-")
        ),
        "RS- $G in.later\r\n"
    );
    // `export`: a denied subject and one outside the allow list are ignored; a wildcard
    // over a denied subject is taken, and the denied subject is not sent on it.
    assert_eq!(
        text(&peer.send_and_sync(b"RS+ $G out.secret\r\nRS+ $G nope.z\r\nRS+ $G out.*\r\n")),
        "PONG\r\n"
    );
    RawClient::connect_quiet(a.port(), b"")
        .send_and_sync(b"PUB out.secret 1\r\na\r\nPUB nope.z 1\r\nb\r\nPUB out.ok 1\r\nc\r\n");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut got = String::new();
    while !got.ends_with("c\r\n") {
        got.push_str(&text(&peer.next_frame(deadline).expect("a frame")));
    }
    assert_eq!(got, "RMSG $G out.ok 1\r\nc\r\n");
    assert_eq!(route_frames(&mut peer), "PONG\r\n");
}

#[test]
fn varz_names_the_cluster_a_dynamic_name_gave_way_to() {
    let dir = temp_dir("cluster-options", "varz-name");
    let (a, a_route) = start_conf(
        Flavor::from_env(),
        &dir,
        "vn-a",
        "server_name: vn-a\nhttp_port: -1\ncluster { listen: \"127.0.0.1:-1\" }\n",
    );
    let (b, _) = start_conf(
        Flavor::NatsServer,
        &dir,
        "vn-b",
        &format!(
            "server_name: vn-b\ncluster {{ name: fixed, listen: \"127.0.0.1:-1\", routes: [\"nats-route://127.0.0.1:{a_route}\"] }}\n"
        ),
    );
    a.wait_for_log("Cluster name updated to fixed", LINK_TIMEOUT);
    wait_for_urls(&a, &[a.port(), b.port()]);
    // The first /varz after the change (nats-server keeps the section of its first /varz).
    let http_port = a.listening_port("Starting http monitor on ");
    let (varz, _) = common::http::get_json(http_port, "/varz");
    assert_eq!(varz["cluster"]["name"], "fixed", "{}", varz["cluster"]);
    assert_eq!(varz["cluster"]["cluster_port"], a_route);
}
