//! End to end against a real nats-server: exact counts for small runs of every workload,
//! checked against loadgen's own report and against the server's /varz counters.
//! Skipped, with a note on stderr, when `nats-server` is not on PATH (or in /usr/sbin).
//! The /varz agreement also runs against ringmq (in this process, monitoring on).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long nats-server may take to print "Server is ready".
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Longest wait for one /varz answer, and for the server to see loadgen's connections go.
const VARZ_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between two /varz reads while waiting for a condition.
const VARZ_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Stops the server when the test ends, pass or fail.
struct Server {
    process: Process,
    url: String,
    /// HTTP monitoring port (`-m`), when started with one.
    monitor_port: Option<u16>,
}

enum Process {
    NatsServer(Child),
    /// Taken out to be shut down on drop.
    Ringmq(Option<ringmq::broker::Server>),
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
    }
}

/// ringmq on free ports with monitoring on, two cores (so counters come from both).
fn start_ringmq() -> Server {
    let config = ringmq::config::Config {
        host: "127.0.0.1".to_string(),
        port: 0,
        http_port: Some(0),
        cores: 2,
        ..ringmq::config::Config::default()
    };
    let server = ringmq::broker::Server::start(config).expect("ringmq starts");
    Server {
        url: format!("nats://127.0.0.1:{}", server.port()),
        monitor_port: server.monitor_port(),
        process: Process::Ringmq(Some(server)),
    }
}

fn find_nats_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Starts nats-server on a free port (and a free monitoring port with `monitor`) and waits
/// until it says it is ready; `None`, with a note, when there is no nats-server.
fn start_server(monitor: bool) -> Option<Server> {
    let Some(binary) = find_nats_server() else {
        eprintln!("note: nats-server not found on PATH; skipping the end-to-end test");
        return None;
    };
    let port = free_port();
    let monitor_port = monitor.then(free_port);
    let mut command = Command::new(binary);
    command.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
    if let Some(monitor_port) = monitor_port {
        command.args(["-m", &monitor_port.to_string()]);
    }
    let mut child = command
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
        monitor_port,
    };
    is_ready
        .recv_timeout(START_TIMEOUT)
        .expect("nats-server became ready");
    Some(server)
}

/// Runs loadgen with `--json` and returns its exit success and the last stdout line parsed.
/// stderr is a pipe here, not a terminal, so loadgen must write nothing to it (the progress
/// line is for terminals only).
fn loadgen(server: &Server, arguments: &str) -> (bool, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(arguments.split_whitespace())
        .args(["--url", &server.url, "--json"])
        .output()
        .expect("loadgen runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let json = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last line is not JSON ({e}): {stdout}\n{stderr}"));
    assert_eq!(stderr, "", "stderr of loadgen {arguments}");
    (output.status.success(), json)
}

/// `GET /varz` from the server's monitoring port over a plain socket (HTTP/1.0, so the
/// server closes the connection after the body).
fn varz(server: &Server) -> Value {
    let port = server.monitor_port.expect("server started with -m");
    let address = ([127, 0, 0, 1], port).into();
    let mut stream = TcpStream::connect_timeout(&address, VARZ_TIMEOUT).expect("connect /varz");
    stream.set_read_timeout(Some(VARZ_TIMEOUT)).unwrap();
    stream
        .write_all(b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send GET /varz");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read /varz");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP head and body");
    let status = head.lines().next().unwrap_or_default();
    assert!(
        status.starts_with("HTTP/1.") && status.contains(" 200 "),
        "{status}"
    );
    serde_json::from_str(body).unwrap_or_else(|e| panic!("/varz is not JSON ({e}): {body}"))
}

/// Server-wide message counters: (in_msgs, out_msgs).
fn message_counters(varz: &Value) -> (u64, u64) {
    let counter = |key: &str| {
        varz[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {varz}"))
    };
    (counter("in_msgs"), counter("out_msgs"))
}

/// /varz once the server has no client connections left. A connection is removed only
/// after its read loop has ended, and the read loop adds a buffer's messages to in_msgs
/// after parsing it (so possibly after the PONG that ended loadgen's flush went out): once
/// every connection is gone, every message loadgen sent is in the counters.
fn varz_when_idle(server: &Server) -> Value {
    let deadline = Instant::now() + VARZ_TIMEOUT;
    loop {
        let varz = varz(server);
        if varz["connections"] == 0 {
            return varz;
        }
        assert!(
            Instant::now() < deadline,
            "connections still open: {}",
            varz["connections"]
        );
        thread::sleep(VARZ_POLL_INTERVAL);
    }
}

/// A path in Cargo's scratch directory for integration tests, not left from an earlier run.
fn scratch_file(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("loadgen-e2e-{}-{name}", std::process::id()));
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("{}: {e}", path.display()),
    }
    path
}

/// The `--plot` file is a complete SVG with the run's heading, the axis labels and one
/// polyline point per row of the `--hdr-out` percentile text written by the same run.
fn assert_plot(plot: &Path, hdr: &Path, setup: &str, counts: &str) {
    let svg = std::fs::read_to_string(plot).expect("--plot wrote its file");
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.ends_with("</svg>\n"), "{svg}");
    assert_eq!(svg.matches("<svg").count(), 1);
    assert_eq!(svg.matches("<polyline").count(), 1);
    assert!(
        svg.contains(&format!(">{setup}</text>")),
        "{setup} in {svg}"
    );
    assert!(
        svg.contains(&format!(">{counts}</text>")),
        "{counts} in {svg}"
    );
    for label in [
        "0%",
        "90%",
        "99%",
        "99.9%",
        "99.99%",
        "99.999%",
        "Percentile",
    ] {
        assert!(
            svg.contains(&format!(">{label}</text>")),
            "{label} in {svg}"
        );
    }
    assert!(svg.contains(">Latency (µs)</text>"));
    let start = svg.find("points=\"").expect("a polyline") + "points=\"".len();
    let end = start + svg[start..].find('"').expect("end of points");
    let points = svg[start..end].split(' ').count();
    let text = std::fs::read_to_string(hdr).expect("--hdr-out wrote its file");
    let rows = text
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .count();
    assert!(rows > 10, "{text}");
    assert_eq!(points, rows, "{text}");
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
    let Some(server) = start_server(false) else {
        return;
    };

    let plot = scratch_file("pubsub.svg");
    let hdr = scratch_file("pubsub.hdr");
    let (ok, json) = loadgen(
        &server,
        &format!(
            "pubsub --publishers 1 --subscribers 2 --msgs 10000 --plot {} --hdr-out {}",
            plot.display(),
            hdr.display()
        ),
    );
    assert!(ok);
    assert_counts(&json, 10_000, 20_000);
    assert_eq!(json["out_of_order"], 0);
    assert_eq!(json["latency_us"]["count"], 20_000);
    assert_eq!(
        json["received_per_subscriber"],
        serde_json::json!([10_000, 10_000])
    );
    assert_plot(
        &plot,
        &hdr,
        "loadgen pubsub: 1 pub → 2 sub, 16 B",
        "10,000 sent, 20,000 received",
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

    // Over a second long, so a progress line would be due; stderr is not a terminal here,
    // so there must be none (`loadgen` asserts stderr is empty).
    let (ok, json) = loadgen(&server, "pubsub --msgs 2500 --rate 2000");
    assert!(ok);
    assert_counts(&json, 2_500, 2_500);
    assert!(json["elapsed_sec"].as_f64().unwrap() > 1.0, "{json}");

    let plot = scratch_file("reqrep.svg");
    let hdr = scratch_file("reqrep.hdr");
    let (ok, json) = loadgen(
        &server,
        &format!(
            "reqrep --requesters 2 --responders 2 --msgs 1000 --plot {} --hdr-out {}",
            plot.display(),
            hdr.display()
        ),
    );
    assert!(ok);
    assert_counts(&json, 1_000, 1_000);
    assert_eq!(json["latency_us"]["count"], 1_000);
    assert_plot(
        &plot,
        &hdr,
        "loadgen reqrep: 2 req → 2 resp, 16 B, closed loop",
        "1,000 requests, 1,000 replies",
    );

    let (ok, json) = loadgen(&server, "reqrep --msgs 500 --rate 5000 --size 64");
    assert!(ok);
    assert_counts(&json, 500, 500);

    let (ok, json) = loadgen(&server, "conns --count 300 --subs-per-conn 2");
    assert!(ok);
    assert_eq!(json["connections"], 300);
}

/// loadgen's counts agree exactly with nats-server's own /varz.
#[test]
fn counts_match_server_varz() {
    let Some(server) = start_server(true) else {
        return;
    };
    assert_counts_match_varz(&server);
}

/// The same agreement with ringmq's /varz, so both servers count alike.
#[test]
fn counts_match_ringmq_varz() {
    assert_counts_match_varz(&start_ringmq());
}

/// /varz in_msgs grows by every PUB/HPUB loadgen sent (requests and replies for reqrep),
/// out_msgs by every MSG/HMSG it was delivered. CONNECT, SUB, PING and PONG are not
/// messages and must not show up.
fn assert_counts_match_varz(server: &Server) {
    // (arguments, in_msgs delta, out_msgs delta)
    let cases = [
        (
            "pubsub --publishers 1 --subscribers 2 --msgs 5000",
            5_000,
            10_000,
        ),
        (
            "pubsub --publishers 2 --subscribers 3 --queue q --headers --msgs 3001 --size 64",
            3_001,
            3_001,
        ),
        // Each request is one message in and one delivery to a responder; each echo is
        // one message in and one delivery to its requester.
        (
            "reqrep --requesters 2 --responders 2 --msgs 1000",
            2_000,
            2_000,
        ),
    ];
    for (arguments, in_delta, out_delta) in cases {
        let (in_before, out_before) = message_counters(&varz_when_idle(server));
        let (ok, json) = loadgen(server, arguments);
        assert!(ok, "{arguments}: {json}");
        let (in_after, out_after) = message_counters(&varz_when_idle(server));
        let (in_msgs, out_msgs) = (in_after - in_before, out_after - out_before);
        let sent = json["msgs_sent"].as_u64().unwrap();
        let received = json["msgs_received"].as_u64().unwrap();
        if json["mode"] == "reqrep" {
            let served: u64 = json["served_per_responder"]
                .as_array()
                .expect("served_per_responder")
                .iter()
                .map(|n| n.as_u64().unwrap())
                .sum();
            assert_eq!((sent, served, received), (1_000, 1_000, 1_000), "{json}");
            assert_eq!(in_msgs, sent + served, "{arguments}: in_msgs");
            assert_eq!(out_msgs, served + received, "{arguments}: out_msgs");
        } else {
            assert_eq!(in_msgs, sent, "{arguments}: in_msgs");
            assert_eq!(out_msgs, received, "{arguments}: out_msgs");
        }
        assert_eq!((in_msgs, out_msgs), (in_delta, out_delta), "{arguments}");
    }
}

/// Credentials in the URL go into loadgen's CONNECT: a server that requires a user and
/// password takes loadgen's messages with them, and refuses loadgen without them.
#[test]
fn url_credentials_authenticate() {
    let config = ringmq::config::Config {
        host: "127.0.0.1".to_string(),
        port: 0,
        cores: 2,
        auth: ringmq::auth::AuthConfig {
            user: Some("bench".into()),
            password: Some("s3cr3t".into()),
            ..ringmq::auth::AuthConfig::default()
        },
        ..ringmq::config::Config::default()
    };
    let server = ringmq::broker::Server::start(config).expect("ringmq starts");
    let port = server.port();
    let server = Server {
        url: format!("nats://bench:s3cr3t@127.0.0.1:{port}"),
        monitor_port: None,
        process: Process::Ringmq(Some(server)),
    };
    let (success, json) = loadgen(
        &server,
        "pubsub --publishers 1 --subscribers 1 --msgs 1000 --size 16",
    );
    assert!(success, "{json}");
    assert_counts(&json, 1000, 1000);

    let refused = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["pubsub", "--publishers", "1", "--subscribers", "1"])
        .args(["--msgs", "10", "--size", "16"])
        .args(["--url", &format!("nats://127.0.0.1:{port}")])
        .output()
        .expect("loadgen runs");
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("Authorization Violation"), "{stderr}");
}

/// Runs `loadgen ARGS` (no server) and returns its exit code, stdout and stderr.
fn loadgen_offline(arguments: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(arguments)
        .output()
        .expect("loadgen runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The rows of an `--hdr-out` file: one per polyline point.
fn hdr_rows(hdr: &Path) -> usize {
    let text = std::fs::read_to_string(hdr).expect("--hdr-out wrote its file");
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .count()
}

/// Two real runs' `--hdr-out` files drawn by `loadgen plot`: one line per file with one
/// point per row, each named in the legend; bad inputs fail with the file's name, status 2
/// and no picture.
#[test]
fn plot_compares_two_runs() {
    let server = start_ringmq();
    let one = scratch_file("compare-one.hdr");
    let two = scratch_file("compare-two.hdr");
    for (hdr, requesters) in [(&one, 1), (&two, 2)] {
        let (ok, json) = loadgen(
            &server,
            &format!(
                "reqrep --requesters {requesters} --msgs 600 --rate 3000 --hdr-out {}",
                hdr.display()
            ),
        );
        assert!(ok, "{json}");
        assert_counts(&json, 600, 600);
    }
    drop(server);
    let svg_path = scratch_file("compare.svg");
    let labelled = format!("ringmq <1 req>={}", one.display());
    let (code, stdout, stderr) = loadgen_offline(&[
        "plot",
        &labelled,
        two.to_str().unwrap(),
        "--out",
        svg_path.to_str().unwrap(),
        "--title",
        "reqrep & friends",
    ]);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (Some(0), "", ""));
    let svg = std::fs::read_to_string(&svg_path).expect("plot wrote its file");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.ends_with("</svg>\n"));
    assert!(svg.contains(">reqrep &amp; friends</text>"), "{svg}");
    let polylines: Vec<&str> = svg.split("<polyline").skip(1).collect();
    assert_eq!(polylines.len(), 2, "{svg}");
    for (polyline, hdr) in polylines.iter().zip([&one, &two]) {
        let start = polyline.find("points=\"").expect("points") + "points=\"".len();
        let end = start + polyline[start..].find('"').expect("end of points");
        let points = polyline[start..end].split(' ').count();
        assert!(points > 10, "{polyline}");
        assert_eq!(points, hdr_rows(hdr));
    }
    let default_label = two.file_stem().unwrap().to_str().unwrap();
    for legend in [
        "ringmq &lt;1 req&gt; (600 samples)".to_string(),
        format!("{default_label} (600 samples)"),
    ] {
        assert_eq!(
            svg.matches(&format!(">{legend}</text>")).count(),
            1,
            "{legend}"
        );
    }

    // A file that is not there, a file that is not a histogram, and no files at all.
    let missing = scratch_file("compare-missing.hdr");
    let garbled = scratch_file("compare-garbled.hdr");
    std::fs::write(&garbled, "{\"msgs_sent\": 1}\n").unwrap();
    let out = scratch_file("compare-never.svg");
    let out_arg = out.to_str().unwrap();
    let (code, stdout, stderr) = loadgen_offline(&[
        "plot",
        one.to_str().unwrap(),
        missing.to_str().unwrap(),
        "--out",
        out_arg,
    ]);
    assert_eq!((code, stdout.as_str()), (Some(2), ""));
    assert_eq!(
        stderr,
        format!(
            "loadgen: {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
    let (code, _, stderr) = loadgen_offline(&[
        "plot",
        &format!("x={}", garbled.display()),
        "--out",
        out_arg,
    ]);
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        format!(
            "loadgen: {}: not an HdrHistogram percentile file (--hdr-out): no \"Value \
             Percentile\" heading\n",
            garbled.display()
        )
    );
    let (code, _, stderr) = loadgen_offline(&["plot", "--out", out_arg]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("error: the following required arguments were not provided:"),
        "{stderr}"
    );
    assert!(stderr.contains("<[LABEL=]FILE>..."), "{stderr}");
    assert!(!out.exists(), "no picture from failed runs");
}

/// Runs loadgen with exactly `arguments` and `--json`, no `--url` added.
fn loadgen_args(arguments: &[&str]) -> (bool, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(arguments)
        .arg("--json")
        .output()
        .expect("loadgen runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let json = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last line is not JSON ({e}): {stdout}\n{stderr}"));
    assert_eq!(stderr, "", "stderr of loadgen {arguments:?}");
    (output.status.success(), json)
}

/// Client connections a server has accepted so far, and messages it took in.
fn accepted_and_in_msgs(server: &Server) -> (u64, u64) {
    let varz = varz_when_idle(server);
    let connections = varz["total_connections"]
        .as_u64()
        .expect("total_connections");
    (connections, message_counters(&varz).0)
}

/// Several `--url`s: each side's connection i goes to URL i mod N. Two separate ringmq
/// servers (not linked, so only workloads that need no path between them): idle
/// connections spread 3/2, publishers 2/1 with their messages, and `--pub-url` /
/// `--sub-url` placing each side on its own server.
#[test]
fn several_urls_spread_connections_round_robin() {
    let (a, b) = (start_ringmq(), start_ringmq());
    let both = format!("{},{}", a.url, b.url);
    let (success, json) = loadgen_args(&["conns", "--count", "5", "--url", &both]);
    assert!(success, "{json}");
    assert_eq!(json["connections"], 5, "{json}");
    assert_eq!(accepted_and_in_msgs(&a), (3, 0));
    assert_eq!(accepted_and_in_msgs(&b), (2, 0));

    // Repeating the flag is the same as a comma; 3 publishers share 900 messages.
    let (success, json) = loadgen_args(&[
        "pubsub",
        "--publishers",
        "3",
        "--subscribers",
        "0",
        "--msgs",
        "900",
        "--url",
        &a.url,
        "--url",
        &b.url,
    ]);
    assert!(success, "{json}");
    assert_counts(&json, 900, 0);
    assert_eq!(accepted_and_in_msgs(&a), (3 + 2, 600));
    assert_eq!(accepted_and_in_msgs(&b), (2 + 1, 300));

    // Publishers on A, subscribers on B: 2 connections each, to their own server.
    let (success, json) = loadgen_args(&[
        "pubsub",
        "--publishers",
        "2",
        "--subscribers",
        "0",
        "--msgs",
        "10",
        "--pub-url",
        &a.url,
        "--sub-url",
        &b.url,
        "--url",
        "nats://127.0.0.1:1",
    ]);
    assert!(success, "{json}");
    assert_eq!(accepted_and_in_msgs(&a), (5 + 2, 610));
    assert_eq!(accepted_and_in_msgs(&b), (3, 300));
    let (success, json) = loadgen_args(&[
        "reqrep",
        "--requesters",
        "1",
        "--responders",
        "2",
        "--msgs",
        "20",
        "--url",
        &a.url,
        "--sub-url",
        &a.url,
        "--sub-url",
        &b.url,
    ]);
    // The responder on B hears nothing (the servers are not linked); A's answers all.
    assert!(success, "{json}");
    assert_eq!(accepted_and_in_msgs(&a), (7 + 2, 610 + 20 + 20));
    assert_eq!(accepted_and_in_msgs(&b), (3 + 1, 300));
}
