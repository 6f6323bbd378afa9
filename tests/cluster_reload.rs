//! Reload of the `cluster` block (SIGHUP) on the server under test (ringmq by default,
//! nats-server with `RINGMQ_TEST_SERVER=nats-server`), as nats-server 2.9.10 reloads it:
//! the listener's host and port are refused with its texts; new permissions reach the
//! routes (a new INFO, the interest sent re-evaluated, the interest taken filtered);
//! routes added are dialled and routes removed closed; a peer's widened `export` gets the
//! interest it now takes. Scripted route peers read the exact bytes; readiness is waited
//! for (log lines, PONGs), never slept on.

mod common;

use common::leaf::{temp_dir, write_conf};
use common::{text, Flavor, Launch, Opts, RawClient, Server, REPLY_TIMEOUT};
use std::time::{Duration, Instant};

const ROUTE_LINE: &str = "Listening for route connections on ";
const RELOADED: &str = "Reloaded server configuration";
const FAILED: &str = "Failed to reload server configuration: ";
/// Generous: the machine is shared.
const DEADLINE: Duration = Duration::from_secs(20);

/// A server started from `path`, and its route port (0 without a cluster).
fn start(path: &str, clustered: bool) -> (Server, u16) {
    let launch = Launch {
        args: vec!["-c".into(), path.into()],
        ..Launch::default()
    };
    let server = Server::start_flavor(Flavor::from_env(), Opts::default(), &launch);
    let route_port = if clustered {
        server.listening_port(ROUTE_LINE)
    } else {
        0
    };
    (server, route_port)
}

/// SIGHUP; waits for the `n`-th log line that ends a reload (`needle`: either outcome).
fn hangup(server: &Server, needle: &str, n: usize) -> String {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -HUP: {status:?}");
    server.wait_for_log_count(needle, n, DEADLINE)
}

/// A scripted route peer (see `cluster_options`): `extra` adds INFO fields.
fn fake_route(route_port: u16, id: &str, extra: &str) -> RawClient {
    fake_route_as(route_port, id, "", extra)
}

/// A scripted route peer whose CONNECT carries `login` (e.g. `"user":"u","pass":"p",`).
fn fake_route_as(route_port: u16, id: &str, login: &str, extra: &str) -> RawClient {
    let stream = std::net::TcpStream::connect(("127.0.0.1", route_port)).expect("route port");
    let mut peer = RawClient::from_stream(stream);
    peer.send(format!("CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,{login}\"tls_required\":false,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"rl\",\"lnoc\":true}}\r\n").as_bytes());
    peer.send(peer_info(id, extra).as_bytes());
    peer
}

fn peer_info(id: &str, extra: &str) -> String {
    format!("INFO {{\"server_id\":\"{id}\",\"server_name\":\"{id}\",\"version\":\"2.9.10\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,{extra}\"cluster\":\"rl\",\"lnoc\":true}}\r\n")
}

/// The frames a route peer receives up to the PONG of a PING sent now, without the
/// interest nats-server's system account announces.
fn route_frames(peer: &mut RawClient) -> String {
    text(&peer.send_and_sync(b""))
        .split_inclusive("\r\n")
        .filter(|line| !line.starts_with("RS+ $SYS ") && !line.starts_with("RS- $SYS "))
        .collect()
}

fn sorted_lines(frames: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = frames.split_inclusive("\r\n").collect();
    lines.sort();
    lines
}

/// `frames` without its leading `INFO` line; the INFO's JSON.
fn split_info(frames: &str) -> (serde_json::Value, String) {
    let (info, rest) = frames.split_once("\r\n").expect("a line");
    let json = info
        .strip_prefix("INFO ")
        .unwrap_or_else(|| panic!("no INFO: {frames:?}"));
    (
        serde_json::from_str(json.trim_end()).expect("INFO JSON"),
        rest.to_string(),
    )
}

const BASE: &str = "server_name: rl-a\ncluster { name: rl, listen: \"127.0.0.1:-1\" }\n";

#[test]
fn reloaded_route_permissions_are_told_to_routes_and_reevaluate_the_interest() {
    let dir = temp_dir("cluster-reload", "permissions");
    let path = write_conf(&dir, "a.conf", BASE);
    let (a, a_route) = start(&path, true);
    let _subs = RawClient::subscriber(a.port(), "SUB foo 1\r\nSUB bar 2\r\n");
    let mut peer = fake_route(a_route, "NPEER", "");
    assert_eq!(
        sorted_lines(&route_frames(&mut peer)),
        ["PONG\r\n", "RS+ $G bar\r\n", "RS+ $G foo\r\n"]
    );
    peer.send(b"RS+ $G out.x\r\nRS+ $G out.y\r\n");
    assert_eq!(route_frames(&mut peer), "PONG\r\n");

    write_conf(
        &dir,
        "a.conf",
        "server_name: rl-a\ncluster { name: rl, listen: \"127.0.0.1:-1\", permissions { import: { deny: [\"foo\"] }, export: { deny: [\"out.y\"] } } }\n",
    );
    hangup(&a, RELOADED, 1);
    assert_eq!(
        ending(&a, "Reloaded: cluster"),
        1,
        "{}",
        a.log_lines().join("\n")
    );
    let (info, rest) = split_info(&route_frames(&mut peer));
    assert_eq!(info["import"], serde_json::json!({"deny": ["foo"]}));
    assert_eq!(info["export"], serde_json::json!({"deny": ["out.y"]}));
    assert_eq!(rest, "RS- $G foo\r\nPONG\r\n");
    // The peer's interest in out.y is gone; out.x stays.
    RawClient::connect_quiet(a.port(), b"")
        .send_and_sync(b"PUB out.y 1\r\ny\r\nPUB out.x 1\r\nx\r\n");
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let mut got = String::new();
    while !got.ends_with("x\r\n") {
        got.push_str(&text(&peer.next_frame(deadline).expect("a frame")));
    }
    assert_eq!(got, "RMSG $G out.x 1\r\nx\r\n");

    write_conf(&dir, "a.conf", BASE);
    hangup(&a, RELOADED, 2);
    let (info, rest) = split_info(&route_frames(&mut peer));
    assert_eq!(info.get("import"), None);
    assert_eq!(info.get("export"), None);
    assert_eq!(rest, "RS+ $G foo\r\nPONG\r\n");
}

#[test]
fn a_peer_whose_export_widens_gets_the_interest_it_now_takes() {
    let dir = temp_dir("cluster-reload", "peer-export");
    let path = write_conf(&dir, "a.conf", BASE);
    let (a, a_route) = start(&path, true);
    let _subs = RawClient::subscriber(a.port(), "SUB foo 1\r\nSUB bar 2\r\n");
    let mut peer = fake_route(a_route, "NPEER", "\"export\":{\"deny\":[\"foo\"]},");
    // Our first interest is not filtered by the peer's export.
    assert_eq!(
        sorted_lines(&route_frames(&mut peer)),
        ["PONG\r\n", "RS+ $G bar\r\n", "RS+ $G foo\r\n"]
    );
    // The peer reloaded without permissions: what it refused before is sent again.
    peer.send(peer_info("NPEER", "").as_bytes());
    assert_eq!(route_frames(&mut peer), "RS+ $G foo\r\nPONG\r\n");
    // The same INFO again changes nothing.
    peer.send(peer_info("NPEER", "").as_bytes());
    assert_eq!(route_frames(&mut peer), "PONG\r\n");
    drop(a);
}

#[test]
fn the_route_listeners_host_and_port_are_refused_with_nats_servers_texts() {
    let dir = temp_dir("cluster-reload", "refusals");
    let path = write_conf(&dir, "a.conf", BASE);
    let (a, a_route) = start(&path, true);
    let cases = [
        (
            "server_name: rl-a\ncluster { name: rl, listen: \"127.0.0.2:-1\" }\n".to_string(),
            "config reload not supported for cluster host: old=127.0.0.1, new=127.0.0.2"
                .to_string(),
        ),
        (
            format!(
                "server_name: rl-a\ncluster {{ name: rl, listen: \"127.0.0.1:{}\" }}\n",
                a_route + 1
            ),
            format!(
                "config reload not supported for cluster port: old={a_route}, new={}",
                a_route + 1
            ),
        ),
        (
            "server_name: rl-a\n".to_string(),
            "config reload not supported for cluster host: old=127.0.0.1, new=".to_string(),
        ),
    ];
    for (n, (body, error)) in cases.iter().enumerate() {
        write_conf(&dir, "a.conf", body);
        hangup(&a, FAILED, n + 1);
        let line = format!("{FAILED}{error}");
        assert_eq!(ending(&a, &line), 1, "{line}\n{}", a.log_lines().join("\n"));
    }
    // The same port written out is no change; a cluster added where there was none is.
    write_conf(
        &dir,
        "a.conf",
        &format!("server_name: rl-a\ncluster {{ name: rl, listen: \"127.0.0.1:{a_route}\" }}\n"),
    );
    hangup(&a, RELOADED, 1);
    let lone = write_conf(&dir, "b.conf", "server_name: rl-a\n");
    let (b, _) = start(&lone, false);
    write_conf(&dir, "b.conf", BASE);
    hangup(&b, FAILED, 1);
    let line = format!("{FAILED}config reload not supported for cluster host: old=, new=127.0.0.1");
    assert_eq!(ending(&b, &line), 1, "{line}\n{}", b.log_lines().join("\n"));
}

/// How many log lines end with `text`.
fn ending(server: &Server, text: &str) -> usize {
    server
        .log_lines()
        .iter()
        .filter(|line| line.trim_end().ends_with(text))
        .count()
}

/// Accepts one connection on `listener` within `timeout` (`None`: none came).
fn accept_within(
    listener: &std::net::TcpListener,
    timeout: Duration,
) -> Option<std::net::TcpStream> {
    let listener = listener.try_clone().expect("clone listener");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let _ = tx.send(stream);
        }
    });
    rx.recv_timeout(timeout).ok()
}

#[test]
fn routes_added_by_reload_are_dialled_and_routes_removed_are_closed_for_good() {
    let dir = temp_dir("cluster-reload", "routes");
    let path = write_conf(&dir, "a.conf", BASE);
    let (a, _) = start(&path, true);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    write_conf(
        &dir,
        "a.conf",
        &format!(
            "server_name: rl-a\ncluster {{ name: rl, listen: \"127.0.0.1:-1\", routes: [\"nats-route://127.0.0.1:{port}\"] }}\n"
        ),
    );
    hangup(&a, RELOADED, 1);
    assert_eq!(
        a.count_log("Reloaded: cluster routes"),
        1,
        "{}",
        a.log_lines().join("\n")
    );
    assert_eq!(ending(&a, "Reloaded: cluster"), 0);
    let stream = accept_within(&listener, DEADLINE).expect("the added route is dialled");
    let mut peer = RawClient::wrap(stream);
    peer.send(peer_info("NPEER", "").as_bytes());
    let frames = route_frames(&mut peer);
    assert!(frames.starts_with("CONNECT {"), "{frames}");
    assert!(frames.ends_with("PONG\r\n"), "{frames}");

    write_conf(&dir, "a.conf", BASE);
    hangup(&a, RELOADED, 2);
    let rest = text(&peer.read_to_eof(Instant::now() + DEADLINE));
    assert!(
        rest.is_empty() || rest == "PING\r\n",
        "after the removal: {rest:?}"
    );
    a.wait_for_log(
        &format!("Removed route nats-route://127.0.0.1:{port}"),
        DEADLINE,
    );
    a.wait_for_log("Router connection closed: Route Removed", DEADLINE);
    // Not dialled again (nats-server redials an explicit route after 1 s).
    assert!(accept_within(&listener, Duration::from_secs(3)).is_none());
}

#[test]
fn a_route_whose_credentials_the_reload_refuses_is_closed_with_an_authorization_violation() {
    let dir = temp_dir("cluster-reload", "authorization");
    let conf = |pass: &str| {
        format!("server_name: rl-a\ncluster {{ name: rl, listen: \"127.0.0.1:-1\", authorization {{ user: ru, password: {pass} }} }}\n")
    };
    let path = write_conf(&dir, "a.conf", &conf("rp"));
    let (a, a_route) = start(&path, true);
    let mut peer = fake_route_as(a_route, "NPEER", "\"user\":\"ru\",\"pass\":\"rp\",", "");
    assert_eq!(route_frames(&mut peer), "PONG\r\n");
    // The same user and password written again: the route stays.
    write_conf(&dir, "a.conf", &format!("{}# again\n", conf("rp")));
    hangup(&a, RELOADED, 1);
    assert_eq!(route_frames(&mut peer), "PONG\r\n");
    write_conf(&dir, "a.conf", &conf("other"));
    hangup(&a, RELOADED, 2);
    assert_eq!(
        ending(&a, "Reloaded: cluster"),
        1,
        "{}",
        a.log_lines().join("\n")
    );
    let rest = text(&peer.read_to_eof(Instant::now() + DEADLINE));
    assert_eq!(rest, "-ERR 'Authorization Violation'\r\n");
    a.wait_for_log("Router connection closed: Authentication Failure", DEADLINE);
}
