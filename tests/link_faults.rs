//! Faults on links between real servers: the server under test (ringmq, or nats-server
//! with `RINGMQ_TEST_SERVER=nats-server`) and nats-server 2.9.10. A hub frozen with
//! SIGSTOP for longer than the leaf's keep-alive allows, and two hubs that are each
//! other's leaf (a loop). Waits are on log lines and message arrival, with deadlines.

mod common;

use common::leaf::{barrier, drain, frames, temp_dir, write_conf, LINK_TIMEOUT};
use common::{Flavor, Launch, Opts, RawClient, Server};

const CREATED: &str = "Leafnode connection created";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

fn start(flavor: Flavor, dir: &std::path::Path, name: &str, body: &str) -> Server {
    let conf = write_conf(dir, &format!("{name}.conf"), body);
    let launch = Launch {
        args: vec!["-c".into(), conf],
        ..Launch::default()
    };
    Server::start_flavor(flavor, Opts::default(), &launch)
}

fn signal(server: &Server, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name}");
}

#[test]
fn a_hub_frozen_past_the_keep_alive_is_left_and_rejoined_when_it_wakes() {
    let dir = temp_dir("faults", "sigstop");
    let leaf_port = free_port();
    let hub = start(
        Flavor::NatsServer,
        &dir,
        "hub",
        &format!("server_name: hub\nleafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}\n"),
    );
    // The leaf under test pings every 250 ms and gives up after 2 unanswered.
    let leaf = start(
        Flavor::from_env(),
        &dir,
        "leaf",
        &format!(
            "server_name: leaf\nping_interval: \"250ms\"\nping_max: 2\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{leaf_port}\" }} ] }}\n"
        ),
    );
    leaf.wait_for_log(CREATED, LINK_TIMEOUT);
    common::leaf::wait_link_ready(&hub, &leaf);
    // (No client is kept on the leaf across the freeze: the 250 ms keep-alive applies to
    // clients too, and a test client idle meanwhile would be cut as stale.)
    signal(&hub, "STOP");
    let closed = leaf.wait_for_log("Leafnode connection closed", LINK_TIMEOUT);
    signal(&hub, "CONT");
    assert!(closed.contains("Stale Connection"), "{closed:?}");
    // The leaf dials again; the link carries interest and messages both ways again.
    leaf.wait_for_log_count(CREATED, 2, LINK_TIMEOUT);
    common::leaf::wait_link_ready(&hub, &leaf);
    let mut sub = RawClient::subscriber(leaf.port(), "SUB after.wake 1\r\n");
    barrier(&leaf, &hub, "after");
    RawClient::connect_quiet(hub.port(), b"").send_and_sync(b"PUB after.wake 2\r\nok\r\n");
    assert_eq!(frames(&mut sub, 1), "MSG after.wake 1 2\r\nok\r\n");
    assert_eq!(drain(&mut sub), "PONG\r\n");
}

#[test]
fn two_hubs_that_are_each_others_leaf_detect_the_loop() {
    let dir = temp_dir("faults", "loop");
    let (a_leaf_port, b_leaf_port) = (free_port(), free_port());
    let conf = |name: &str, mine: u16, theirs: u16| {
        format!(
            "server_name: {name}\nleafnodes {{ listen: \"127.0.0.1:{mine}\", remotes [ {{ url: \"nats-leaf://127.0.0.1:{theirs}\" }} ] }}\n"
        )
    };
    let a = start(
        Flavor::from_env(),
        &dir,
        "a",
        &conf("a", a_leaf_port, b_leaf_port),
    );
    let b = start(
        Flavor::NatsServer,
        &dir,
        "b",
        &conf("b", b_leaf_port, a_leaf_port),
    );
    let line = a.wait_for_log("Loop detected", LINK_TIMEOUT);
    assert!(
        line.contains(
            "Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s"
        ),
        "{line:?}"
    );
    // Clients on either side are unharmed: each server still serves its own.
    for server in [&a, &b] {
        let mut client = RawClient::subscriber(server.port(), "SUB own 1\r\n");
        client.send(b"PUB own 2\r\nok\r\n");
        assert_eq!(frames(&mut client, 1), "MSG own 1 2\r\nok\r\n");
        assert_eq!(drain(&mut client), "PONG\r\n");
    }
}
