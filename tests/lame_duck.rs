//! Lame duck mode: the bytes clients see (spec §14 "Lame duck", observed on nats-server
//! 2.9.10: a protocol-1 client that had PINGed gets the INFO again with `"ldm":true`, the
//! others get nothing; all are closed after the grace period), that the listener closes at
//! once, and the `--signal ldm=PID` / SIGUSR2 path of the binary.

mod common;

use common::{text, Opts, RawClient};
use ringmq::config::Config;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(15);
const CONNECT_PROTOCOL_1: &[u8] = b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n";

/// The greeting INFO with `"ldm":true` appended as nats-server does (last field).
fn ldm_info(greeting: &str) -> String {
    let body = greeting
        .strip_suffix("} \r\n")
        .expect("INFO ends with '} \\r\\n'");
    format!("{body},\"ldm\":true}} \r\n")
}

/// Waits until connecting to `port` is refused (the listener is closed).
fn wait_until_refused(port: u16) {
    let deadline = Instant::now() + DEADLINE;
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "listener still accepts");
        std::thread::yield_now();
    }
}

#[test]
fn clients_hear_ldm_then_are_closed_after_the_grace_period() {
    let config = Config {
        host: "127.0.0.1".into(),
        port: 0,
        cores: 2,
        lame_duck_duration: Duration::from_secs(30),
        lame_duck_grace_period: Duration::from_secs(1),
        ..Config::default()
    };
    let server = ringmq::broker::Server::start(config).expect("broker starts");
    let port = server.port();

    // Eligible: protocol 1 and its PING answered.
    let mut eligible = RawClient::connect(port);
    eligible.send(CONNECT_PROTOCOL_1);
    assert_eq!(text(&eligible.send_and_sync(b"")), "PONG\r\n");
    // Protocol 0, PING answered: no asynchronous INFO.
    let mut protocol_0 = RawClient::connect_quiet(port, b"");
    assert_eq!(text(&protocol_0.send_and_sync(b"")), "PONG\r\n");
    // Protocol 1 that never PINGed: no asynchronous INFO either (whether or not its CONNECT
    // is processed before lame duck mode starts, it has had no PONG).
    let mut never_pinged = RawClient::connect(port);
    never_pinged.send(CONNECT_PROTOCOL_1);

    let started = Instant::now();
    std::thread::scope(|scope| {
        let ldm = scope.spawn(|| {
            // The grace period and the poll for the last close: server-side timing, not
            // test synchronisation.
            server.lame_duck(|pause| {
                std::thread::sleep(pause);
                true
            })
        });
        wait_until_refused(port);
        let expected = ldm_info(&eligible.info);
        assert_eq!(text(&eligible.read_to_eof(started + DEADLINE)), expected);
        assert_eq!(text(&protocol_0.read_to_eof(started + DEADLINE)), "");
        assert_eq!(text(&never_pinged.read_to_eof(started + DEADLINE)), "");
        ldm.join().expect("lame duck returns");
    });
    let elapsed = started.elapsed();
    // Closing starts after the 1 s grace period; each core spreads its clients (one or
    // two here) over at most 1 s ticks.
    assert!(
        elapsed >= Duration::from_secs(1),
        "closed before the grace period: {elapsed:?}"
    );
    assert_eq!(server.connections(), 0);
    server.shutdown();
}

#[test]
fn lame_duck_with_no_clients_returns_at_once() {
    let config = Config {
        host: "127.0.0.1".into(),
        port: 0,
        cores: 1,
        ..Config::default()
    };
    let server = ringmq::broker::Server::start(config).expect("broker starts");
    let port = server.port();
    let mut pauses: Vec<Duration> = Vec::new();
    server.lame_duck(|pause| {
        pauses.push(pause);
        true
    });
    assert!(
        pauses.is_empty(),
        "no grace period without clients: {pauses:?}"
    );
    wait_until_refused(port);
    server.shutdown();
}

#[test]
fn signal_ldm_by_pid_enters_lame_duck_and_sigterm_still_stops() {
    let mut server = common::Server::start(Opts::default());
    let mut client = server.raw();
    client.send(CONNECT_PROTOCOL_1);
    assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");

    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ringmq"))
        .arg("--signal")
        .arg(format!("ldm={}", server.pid()))
        .status()
        .expect("run ringmq --signal");
    assert!(status.success(), "--signal ldm: {status:?}");
    server.wait_for_log(
        "Entering lame duck mode, stop accepting new clients",
        DEADLINE,
    );
    let expected = ldm_info(&client.info);
    let frame = client
        .next_frame(Instant::now() + DEADLINE)
        .expect("INFO before EOF");
    assert_eq!(text(&frame), expected);
    wait_until_refused(server.port());

    // The default grace period is 10 s; SIGTERM during it shuts down at once.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ringmq"))
        .arg("-sl")
        .arg(format!("term={}", server.pid()))
        .status()
        .expect("run ringmq -sl");
    assert!(status.success(), "-sl term: {status:?}");
    let exit = server
        .wait_exit(DEADLINE)
        .expect("ringmq exits after SIGTERM");
    assert!(exit.success(), "exit status {exit:?}");
    assert_eq!(text(&client.read_to_eof(Instant::now() + DEADLINE)), "");
    let log = server.log_lines().join("\n");
    assert!(!log.contains("Closing existing clients"), "log:\n{log}");
    assert!(log.contains("Initiating Shutdown..."), "log:\n{log}");
}

#[test]
fn signal_errors_are_reported_as_nats_server_does() {
    let run = |arg: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_ringmq"))
            .args(["--signal", arg])
            .output()
            .expect("run ringmq --signal");
        (output.status.code(), text(&output.stderr))
    };
    assert_eq!(
        run("ldm=abc"),
        (Some(1), "ringmq: invalid pid: abc\n".into())
    );
    assert_eq!(
        run("bogus=1"),
        (Some(1), "ringmq: unknown signal \"bogus\"\n".into())
    );
    // A pid that cannot exist (above the kernel's pid_max).
    assert_eq!(
        run("ldm=2147483646"),
        (Some(1), "ringmq: no such process\n".into())
    );
}
