//! `loadgen js pub` end to end: exact ack counts and the stream's own count, three times on
//! one server (each run deletes and recreates the stream; the last has three publishers), against ringmq with JetStream
//! (in this process, durable by default) and nats-server 2.9.10 `-js` (skipped, with a note
//! on stderr, when `nats-server` is not on PATH or in /usr/sbin).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

/// How long nats-server may take to print "Server is ready".
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Messages per run: several windows' worth, so the window slides many times.
const MSGS: u64 = 3000;

/// PubAcks outstanding: small, so the run has to wait on acks again and again.
const WINDOW: u64 = 64;

enum Process {
    NatsServer(Child),
    /// Taken out to be shut down on drop.
    Ringmq(Option<ringmq::broker::Server>),
}

/// A server and its store directory, both gone when the test ends, pass or fail.
struct Server {
    process: Process,
    url: String,
    store_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.process {
            Process::NatsServer(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Process::Ringmq(server) => {
                if let Some(server) = server.take() {
                    server.shutdown();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.store_dir);
    }
}

/// A fresh store directory in Cargo's scratch space for integration tests.
fn store_dir(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("loadgen-e2e-js-{}-{name}", std::process::id()));
    match std::fs::remove_dir_all(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("{}: {e}", path.display()),
    }
    path
}

/// ringmq on two cores with JetStream's defaults (fdatasync before every PubAck).
/// `test` names the store directory: tests in this file run in parallel in one process.
fn start_ringmq(test: &str) -> Server {
    let store_dir = store_dir(&format!("ringmq-{test}"));
    let jetstream = ringmq::config::JetStreamConfig {
        store_dir: Some(store_dir.clone()),
        ..ringmq::config::JetStreamConfig::new()
    };
    let config = ringmq::config::Config {
        host: "127.0.0.1".to_string(),
        port: 0,
        cores: 2,
        jetstream: Some(jetstream),
        ..ringmq::config::Config::default()
    };
    let server = ringmq::broker::Server::start(config).expect("ringmq starts");
    Server {
        url: format!("nats://127.0.0.1:{}", server.port()),
        process: Process::Ringmq(Some(server)),
        store_dir,
    }
}

fn find_nats_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

/// nats-server `-js` on a free port, once it says it is ready; `None`, with a note, when
/// there is no nats-server.
fn start_nats_server(test: &str) -> Option<Server> {
    let Some(binary) = find_nats_server() else {
        eprintln!("note: nats-server not found on PATH; skipping the nats-server half");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let store_dir = store_dir(&format!("nats-{test}"));
    let mut child = Command::new(binary)
        .args(["-js", "-sd"])
        .arg(&store_dir)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nats-server starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (ready, is_ready) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Server is ready") {
                let _ = ready.send(());
            }
        }
    });
    let server = Server {
        process: Process::NatsServer(child),
        url: format!("nats://127.0.0.1:{port}"),
        store_dir,
    };
    is_ready
        .recv_timeout(START_TIMEOUT)
        .expect("nats-server became ready");
    Some(server)
}

/// `loadgen js pub … --json`: exit success and the last stdout line parsed.
fn js_pub(server: &Server, size: usize, publishers: usize) -> (bool, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "js",
            "pub",
            "--url",
            &server.url,
            "--json",
            "--stream",
            "E2E",
        ])
        .args(["--subject", "e2e.js", "--msgs", &MSGS.to_string()])
        .args(["--size", &size.to_string(), "--window", &WINDOW.to_string()])
        .args(["--publishers", &publishers.to_string()])
        .output()
        .expect("loadgen runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let json = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last line is not JSON ({e}): {stdout}\n{stderr}"));
    assert_eq!(stderr, "", "stderr of loadgen js pub");
    (output.status.success(), json)
}

/// Three runs, each over the one before's stream, the last with three publishers: every
/// message acknowledged once, with sequences 1..=MSGS, and the stream holding exactly
/// those, payload bytes included.
fn assert_exact_runs(server: &Server) {
    for (run, size, publishers) in [(1, 16, 1), (2, 1024, 1), (3, 100, 3)] {
        let (success, json) = js_pub(server, size, publishers);
        assert!(success, "run {run}: {json}");
        assert_eq!(json["mode"], "js pub", "{json}");
        assert_eq!(json["publishers"], publishers, "{json}");
        assert_eq!(json["msgs_sent"], MSGS, "run {run}: {json}");
        assert_eq!(json["acks"], MSGS, "run {run}: {json}");
        assert_eq!(json["msgs_received"], MSGS, "run {run}: {json}");
        assert_eq!(json["seq_max"], MSGS, "run {run}: {json}");
        assert_eq!(json["latency_us"]["count"], MSGS, "run {run}: {json}");
        for key in [
            "ack_errors",
            "stray_acks",
            "lost",
            "duplicated",
            "corrupted",
        ] {
            assert_eq!(json[key], 0, "run {run}: {key} in {json}");
        }
        assert_eq!(json["errors"], serde_json::json!([]), "run {run}: {json}");
        let state = &json["stream_state"];
        assert_eq!(state["messages"], MSGS, "run {run}: {json}");
        assert_eq!(
            (&state["first_seq"], &state["last_seq"]),
            (&1.into(), &MSGS.into())
        );
        let bytes = state["bytes"].as_u64().expect("stream bytes");
        assert!(
            bytes >= MSGS * size as u64,
            "run {run}: {bytes} bytes for {json}"
        );
    }
}

#[test]
fn js_pub_counts_every_ack_against_ringmq() {
    assert_exact_runs(&start_ringmq("pub"));
}

#[test]
fn js_pub_counts_every_ack_against_nats_server() {
    if let Some(server) = start_nats_server("pub") {
        assert_exact_runs(&server);
    }
}

/// Messages per `js consume` run: several pull batches and several max_ack_pending windows.
const CONSUME_MSGS: u64 = 2000;

/// `loadgen js consume --mode MODE`: every sequence 1..=CONSUME_MSGS delivered once and
/// acked (ack floor at the last sequence, nothing pending), on a freshly filled stream.
fn assert_consumes_exactly(server: &Server) {
    for mode in ["pull", "push"] {
        let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(["js", "consume", "--url", &server.url, "--json"])
            .args([
                "--stream",
                "E2EC",
                "--subject",
                "e2e.consume",
                "--mode",
                mode,
            ])
            .args(["--msgs", &CONSUME_MSGS.to_string(), "--size", "100"])
            .args(["--batch", "64", "--max-ack-pending", "500"])
            .output()
            .expect("loadgen runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stdout.lines().last().unwrap_or_default();
        let json: Value = serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("last line is not JSON ({e}): {stdout}\n{stderr}"));
        assert!(output.status.success(), "{mode}: {json}\n{stderr}");
        assert_eq!(stderr, "", "stderr of loadgen js consume {mode}");
        assert_eq!(json["mode"], "js consume", "{json}");
        assert_eq!(json["consume_mode"], mode, "{json}");
        assert_eq!(json["msgs_sent"], CONSUME_MSGS, "{mode}: {json}");
        assert_eq!(json["msgs_received"], CONSUME_MSGS, "{mode}: {json}");
        for key in ["lost", "duplicated", "corrupted", "status_messages"] {
            assert_eq!(json[key], 0, "{mode}: {key} in {json}");
        }
        assert_eq!(json["errors"], serde_json::json!([]), "{mode}: {json}");
        let info = &json["consumer_info"];
        assert_eq!(info["num_ack_pending"], 0, "{mode}: {json}");
        assert_eq!(
            info["ack_floor"]["stream_seq"], CONSUME_MSGS,
            "{mode}: {json}"
        );
        assert_eq!(
            info["delivered"]["stream_seq"], CONSUME_MSGS,
            "{mode}: {json}"
        );
        assert_eq!(info["num_redelivered"], 0, "{mode}: {json}");
    }
}

#[test]
fn js_consume_gets_every_sequence_once_from_ringmq() {
    assert_consumes_exactly(&start_ringmq("consume"));
}

#[test]
fn js_consume_gets_every_sequence_once_from_nats_server() {
    if let Some(server) = start_nats_server("consume") {
        assert_consumes_exactly(&server);
    }
}
