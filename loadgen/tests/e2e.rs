//! End to end against a real nats-server: exact counts for small runs of every workload.
//! Skipped, with a note on stderr, when `nats-server` is not on PATH (or in /usr/sbin).

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

/// Kills the server when the test ends, pass or fail.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_nats_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

fn start_server() -> Option<Server> {
    let Some(binary) = find_nats_server() else {
        eprintln!("note: nats-server not found on PATH; skipping the end-to-end test");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new(binary)
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
        child,
        url: format!("nats://127.0.0.1:{port}"),
    };
    is_ready
        .recv_timeout(START_TIMEOUT)
        .expect("nats-server became ready");
    Some(server)
}

/// Runs loadgen with `--json` and returns its exit success and the last stdout line parsed.
fn loadgen(server: &Server, arguments: &str) -> (bool, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(arguments.split_whitespace())
        .args(["--url", &server.url, "--json"])
        .output()
        .expect("loadgen runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let json = serde_json::from_str(last).unwrap_or_else(|e| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        panic!("last line is not JSON ({e}): {stdout}\n{stderr}")
    });
    (output.status.success(), json)
}

fn assert_counts(json: &Value, sent: u64, received: u64) {
    assert_eq!(json["msgs_sent"], sent, "{json}");
    assert_eq!(json["msgs_received"], received, "{json}");
    for key in ["lost", "duplicated", "corrupted"] {
        assert_eq!(json[key], 0, "{key} in {json}");
    }
}

#[test]
fn workloads_against_nats_server() {
    let Some(server) = start_server() else {
        return;
    };

    let (ok, json) = loadgen(
        &server,
        "pubsub --publishers 1 --subscribers 2 --msgs 10000",
    );
    assert!(ok);
    assert_counts(&json, 10_000, 20_000);
    assert_eq!(json["out_of_order"], 0);
    assert_eq!(json["latency_us"]["count"], 20_000);
    assert_eq!(
        json["received_per_subscriber"],
        serde_json::json!([10_000, 10_000])
    );

    let queue = "pubsub --publishers 2 --subscribers 3 --queue workers --msgs 9001 --size 128";
    let (ok, json) = loadgen(&server, queue);
    assert!(ok);
    assert_counts(&json, 9_001, 9_001);

    let (ok, json) = loadgen(
        &server,
        "pubsub --subscribers 1 --msgs 3000 --size 8 --headers",
    );
    assert!(ok);
    assert_counts(&json, 3_000, 3_000);
    assert_eq!(json["latency_us"]["count"], 0);

    let (ok, json) = loadgen(&server, "pubsub --msgs 2000 --rate 20000");
    assert!(ok);
    assert_counts(&json, 2_000, 2_000);

    let (ok, json) = loadgen(&server, "reqrep --requesters 2 --responders 2 --msgs 1000");
    assert!(ok);
    assert_counts(&json, 1_000, 1_000);
    assert_eq!(json["latency_us"]["count"], 1_000);

    let (ok, json) = loadgen(&server, "reqrep --msgs 500 --rate 5000 --size 64");
    assert!(ok);
    assert_counts(&json, 500, 500);

    let (ok, json) = loadgen(&server, "conns --count 300 --subs-per-conn 2");
    assert!(ok);
    assert_eq!(json["connections"], 300);
}
