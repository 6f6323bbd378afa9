//! loadgen over WebSocket (`--url ws://…`), end to end: exact counts for small runs of every
//! workload, compressed and not, against ringmq (in this process) and nats-server 2.9.10
//! (skipped, with a note on stderr, when `nats-server` is not on PATH or in /usr/sbin).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

/// How long nats-server may take to print "Server is ready".
const START_TIMEOUT: Duration = Duration::from_secs(20);

enum Server {
    NatsServer(Child),
    /// Taken out to be shut down on drop.
    Ringmq(Option<ringmq::broker::Server>),
}

impl Drop for Server {
    fn drop(&mut self) {
        match self {
            Server::NatsServer(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Server::Ringmq(server) => {
                if let Some(server) = server.take() {
                    server.shutdown();
                }
            }
        }
    }
}

/// ringmq on two cores with a WebSocket listener; returns it and its `ws://` URL.
fn start_ringmq(compression: bool) -> (Server, String) {
    let websocket = ringmq::config::WebsocketConfig {
        host: "127.0.0.1".to_string(),
        no_tls: true,
        compression,
        ..ringmq::config::WebsocketConfig::new(0)
    };
    let config = ringmq::config::Config {
        host: "127.0.0.1".to_string(),
        port: 0,
        cores: 2,
        websocket: Some(websocket),
        ..ringmq::config::Config::default()
    };
    let server = ringmq::broker::Server::start(config).expect("ringmq starts");
    let port = server.shared().websocket_port.expect("a websocket port");
    (
        Server::Ringmq(Some(server)),
        format!("ws://127.0.0.1:{port}"),
    )
}

fn find_nats_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

/// nats-server with a `websocket {}` block on free ports; its `ws://` URL is read from the
/// line it logs. `None`, with a note, when there is no nats-server.
fn start_nats_server(compression: bool) -> Option<(Server, String)> {
    let Some(binary) = find_nats_server() else {
        eprintln!("note: nats-server not found on PATH; skipping its WebSocket end-to-end test");
        return None;
    };
    let config = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "loadgen-e2e-ws-{}-{compression}.conf",
        std::process::id()
    ));
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:-1\nwebsocket {{\n  listen: \"127.0.0.1:-1\"\n  no_tls: true\n  \
             compression: {compression}\n}}\n"
        ),
    )
    .expect("write the config");
    let mut child = Command::new(binary)
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nats-server starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (ready, is_ready) = mpsc::channel();
    thread::spawn(move || {
        let mut url = None;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("Listening for websocket clients on ") {
                let rest = &line[at + "Listening for websocket clients on ".len()..];
                url = Some(rest.trim().to_string());
            }
            if line.contains("Server is ready") {
                let _ = ready.send(url.take());
            }
        }
    });
    let server = Server::NatsServer(child);
    let url = is_ready
        .recv_timeout(START_TIMEOUT)
        .expect("nats-server became ready")
        .expect("nats-server logged its websocket URL");
    Some((server, url))
}

/// Runs loadgen against `url` with `--json`: exit success, the last stdout line parsed (or
/// Null when it is not JSON), and stderr.
fn loadgen(url: &str, arguments: &str) -> (bool, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(arguments.split_whitespace())
        .args(["--url", url, "--json"])
        .output()
        .expect("loadgen runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let json = serde_json::from_str(last).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), json, stderr)
}

fn assert_counts(json: &Value, sent: u64, received: u64) {
    assert_eq!(json["msgs_sent"], sent, "{json}");
    assert_eq!(json["msgs_received"], received, "{json}");
    for key in ["lost", "duplicated", "corrupted"] {
        assert_eq!(json[key], 0, "{key} in {json}");
    }
}

/// Every workload over `url` (a server with compression on), with and without
/// `--ws-compression`.
fn workloads(url: &str) {
    for compression in ["", "--ws-compression"] {
        let run = |arguments: &str| {
            let arguments = format!("{arguments} {compression}");
            let (ok, json, stderr) = loadgen(url, &arguments);
            assert!(ok, "loadgen {arguments}: {json} {stderr}");
            assert_eq!(stderr, "", "loadgen {arguments}");
            json
        };
        let json = run("pubsub --publishers 1 --subscribers 2 --msgs 10000 --size 128");
        assert_counts(&json, 10_000, 20_000);
        assert_eq!(json["out_of_order"], 0, "{json}");
        let json = run("pubsub --publishers 2 --subscribers 3 --queue q --msgs 3001 --size 1024");
        assert_counts(&json, 3_001, 3_001);
        let json = run("pubsub --subscribers 1 --msgs 2000 --size 8 --headers");
        assert_counts(&json, 2_000, 2_000);
        let json = run("reqrep --requesters 2 --responders 2 --msgs 1000");
        assert_counts(&json, 1_000, 1_000);
        assert_eq!(json["latency_us"]["count"], 1_000, "{json}");
        let json = run("reqrep --msgs 500 --rate 5000 --size 64");
        assert_counts(&json, 500, 500);
        let json = run("conns --count 200 --subs-per-conn 2");
        assert_eq!(json["connections"], 200, "{json}");
    }
}

/// `--ws-compression` against a server without compression fails the run with the reason.
fn declined(url: &str) {
    let (ok, _, stderr) = loadgen(url, "pubsub --msgs 10 --ws-compression");
    assert!(!ok);
    assert!(
        stderr.contains("server declined permessage-deflate (--ws-compression)"),
        "{stderr}"
    );
}

#[test]
fn workloads_over_websocket_against_ringmq() {
    let (_server, url) = start_ringmq(true);
    workloads(&url);
    let (_plain, url) = start_ringmq(false);
    declined(&url);
}

#[test]
fn workloads_over_websocket_against_nats_server() {
    let Some((_server, url)) = start_nats_server(true) else {
        return;
    };
    workloads(&url);
    let Some((_plain, url)) = start_nats_server(false) else {
        return;
    };
    declined(&url);
}
