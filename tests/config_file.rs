//! ringmq started with `-c FILE`: the file's limits take effect on the wire, with the bytes
//! nats-server 2.9.10 sends for the same file (spec §14 "Limits"); explicit flags override
//! the file; `-t` checks a file and exits; a security block ringmq does not implement yet
//! refuses start-up instead of being ignored.
//!
//! The wire tests run against either server (`RINGMQ_TEST_SERVER=nats-server` validates
//! them); the `-t`, refusal and warning tests are about ringmq's own binary.

mod common;

use common::{text, Flavor, Opts, RawClient, Server};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Generous: the machine is shared. A server that should have exited but serves instead
/// fails the test at this deadline.
const DEADLINE: Duration = Duration::from_secs(20);

/// A directory of config files for one test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("ringmq-config-file-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write config");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn deadline() -> Instant {
    Instant::now() + DEADLINE
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("UTF-8 temp path").to_string()
}

/// The selected server with `-c FILE` and `extra` after the harness's `-a 127.0.0.1 -p -1`.
fn start_with(file: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["-c".to_string(), path_arg(file)];
    args.extend(extra.iter().map(|a| a.to_string()));
    Server::start(Opts {
        args,
        ..Opts::default()
    })
}

/// Runs the ringmq binary to its exit and returns its status and stderr. Panics (after
/// killing it) if it is still running at the deadline, e.g. serving when it should refuse.
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringmq"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ringmq");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stderr.read_to_string(&mut out);
        let _ = sender.send(out);
    });
    match receiver.recv_timeout(DEADLINE) {
        Ok(out) => (child.wait().expect("wait"), out),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ringmq {args:?} still running after {DEADLINE:?}");
        }
    }
}

#[test]
fn limits_from_the_file_take_effect() {
    let scratch = Scratch::new("limits");
    // Several syntax forms at once: a variable, `=`, a bare separator, an include relative
    // to the including file (not to the working directory), comments of both kinds.
    scratch.write("sub/subs.conf", "max_subscriptions: 2 // per connection\n");
    let file = scratch.write(
        "limits.conf",
        "# limits for the wire test\npayload_limit = 100\nmax_payload: $payload_limit\n\
         max_control_line 64\ninclude ./sub/subs.conf\n",
    );
    let server = start_with(&file, &[]);

    let mut client = RawClient::connect_quiet(server.port(), b"SUB ok.x 1\r\n");
    assert!(
        client.info.contains("\"max_payload\":100,"),
        "INFO: {}",
        client.info
    );
    let payload = "p".repeat(100);
    let reply = client.send_and_sync(format!("PUB ok.x 100\r\n{payload}\r\n").as_bytes());
    assert_eq!(
        text(&reply),
        format!("MSG ok.x 1 100\r\n{payload}\r\nPONG\r\n")
    );
    // max_subscriptions 2: the third is refused, the connection stays.
    let reply = client.send_and_sync(b"SUB b 2\r\nSUB c 3\r\n");
    assert_eq!(
        text(&reply),
        "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n"
    );

    let mut over = RawClient::connect_quiet(server.port(), b"PUB ok.x 101\r\n");
    assert_eq!(
        text(&over.read_to_eof(deadline())),
        "-ERR 'Maximum Payload Violation'\r\n"
    );

    // max_control_line 64: an argument of 64 bytes passes, 65 closes.
    let at_limit = format!("SUB {} 1\r\n", "a".repeat(62));
    let mut ok = RawClient::connect_quiet(server.port(), at_limit.as_bytes());
    assert_eq!(text(&ok.send_and_sync(b"")), "PONG\r\n");
    let too_long = format!("SUB {} 1\r\n", "a".repeat(63));
    let mut long = RawClient::connect_quiet(server.port(), too_long.as_bytes());
    assert_eq!(
        text(&long.read_to_eof(deadline())),
        "-ERR 'maximum control line exceeded'\r\n"
    );
    assert_eq!(text(&client.send_and_sync(b"")), "PONG\r\n");
}

#[test]
fn connection_limit_and_stale_connections_from_the_file() {
    let scratch = Scratch::new("conns");
    let file = scratch.write(
        "conns.conf",
        "max_connections = 2\nping_interval: \"1s\"\nping_max: 1\n",
    );
    let server = start_with(&file, &[]);
    let mut first = RawClient::connect_quiet(server.port(), b"");
    let mut second = RawClient::connect_quiet(server.port(), b"");
    assert_eq!(text(&first.send_and_sync(b"")), "PONG\r\n");
    assert_eq!(text(&second.send_and_sync(b"")), "PONG\r\n");
    let mut third = RawClient::connect(server.port());
    assert_eq!(
        text(&third.read_to_eof(deadline())),
        "-ERR 'maximum connections exceeded'\r\n"
    );
    // Both stay silent: each gets a PING (dropped by the reader), then the verdict.
    for silent in [&mut first, &mut second] {
        assert_eq!(
            text(&silent.read_to_eof(deadline())),
            "-ERR 'Stale Connection'\r\n"
        );
    }
}

#[test]
fn flags_given_override_the_file() {
    let scratch = Scratch::new("override");
    // Host and port here cannot be bound (TEST-NET-1, a privileged port): the server only
    // starts because the harness's -a 127.0.0.1 -p -1 override them.
    let file = scratch.write(
        "override.conf",
        "host: 192.0.2.1\nport: 1\nserver_name: from-file\ndebug: false\nlogtime: false\n\
         max_payload: 2KB\n",
    );
    let server = start_with(&file, &["-n", "from-flag", "-D"]);
    let client = RawClient::connect_quiet(server.port(), b"");
    assert!(
        client.info.contains("\"server_name\":\"from-flag\","),
        "INFO: {}",
        client.info
    );
    // KB is 1024, as in nats-server; the flags do not touch what they do not name.
    assert!(
        client.info.contains("\"max_payload\":2048,"),
        "INFO: {}",
        client.info
    );
    // -D overrides `debug: false`; `logtime: false` (no flag) drops the timestamps.
    let created = server.wait_for_log("Client connection created", DEADLINE);
    assert!(created.contains("] [DBG] "), "{created}");
    let ready = server.wait_for_log("Listening for client connections on", DEADLINE);
    let pid = server_pid_prefix(&ready);
    assert_eq!(
        ready,
        format!(
            "{pid} [INF] Listening for client connections on 127.0.0.1:{}",
            server.port()
        )
    );
}

/// `[1234]` from the start of a log line.
fn server_pid_prefix(line: &str) -> &str {
    let end = line.find(']').expect("log line starts with [pid]") + 1;
    &line[..end]
}

#[test]
fn unknown_keys_warn_with_file_and_line() {
    // nats-server 2.9.10 refuses unknown keys; ringmq warns and starts (issue 5).
    if Flavor::from_env() != Flavor::Ringmq {
        return;
    }
    let scratch = Scratch::new("unknown");
    let file = scratch.write("unknown.conf", "max_payload: 1k\n\nbogus_option: {a: 1}\n");
    let server = start_with(&file, &[]);
    let warning = server.wait_for_log("bogus_option", DEADLINE);
    let expected = format!(
        "[WRN] {}:3:1: unknown field \"bogus_option\", ignored",
        file.display()
    );
    assert!(warning.ends_with(&expected), "{warning}");
    let client = RawClient::connect(server.port());
    assert!(
        client.info.contains("\"max_payload\":1000,"),
        "INFO: {}",
        client.info
    );
}

#[test]
fn unsupported_security_blocks_refuse_to_start() {
    let scratch = Scratch::new("unsupported");
    let file = scratch.write("gateway.conf", "port: -1\ngateway {\n  port: 7222\n}\n");
    let file_arg = path_arg(&file);
    let (status, stderr) = run_to_exit(&["-a", "127.0.0.1", "-p", "-1", "-c", &file_arg], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "ringmq: {file_arg}:2:1: gateway is not supported yet: refusing to start \
             rather than run without it\n"
        )
    );
    // In an included file, every such block is named with its own file and line.
    // Of `leafnodes`, what is not supported is named by its key.
    let leaf = scratch.write(
        "leaf.conf",
        "\nleafnodes {\n  port: 7422\n  min_version: \"2.8.0\"\n}\n",
    );
    let main = scratch.write("main.conf", "include leaf.conf\ngateway: {}\n");
    let main_arg = path_arg(&main);
    let (status, stderr) = run_to_exit(&["-a", "127.0.0.1", "-p", "-1", "-c", &main_arg], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "ringmq: {}:4:3: leafnodes: min_version is not supported yet: refusing to start rather \
             than run without it\n{main_arg}:2:1: gateway is not supported yet: refusing to start \
             rather than run without it\n",
            leaf.display()
        )
    );
}

#[test]
fn invalid_values_stop_start_up() {
    let scratch = Scratch::new("invalid");
    let file = scratch.write("invalid.conf", "port: -1\nmax_pending: \"lots\"\n");
    let file_arg = path_arg(&file);
    let (status, stderr) = run_to_exit(&["-a", "127.0.0.1", "-c", &file_arg], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "ringmq: {file_arg}:2:14: max_pending: expected an integer or a size such as 64KB \
             or 1MB, got the string \"lots\"\n"
        )
    );
}

#[test]
fn check_flag_reports_and_exits() {
    let scratch = Scratch::new("check");
    let valid = scratch.write(
        "valid.conf",
        "listen: 127.0.0.1:4333\nmax_payload: $RINGMQ_TEST_PAYLOAD\nwrite_deadline: \"2s\"\n",
    );
    let valid_arg = path_arg(&valid);
    let env = [("RINGMQ_TEST_PAYLOAD", "512KB")];
    let (status, stderr) = run_to_exit(&["-t", "-c", &valid_arg], &env);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr,
        format!("ringmq: configuration file {valid_arg} is valid\n")
    );

    // The same file without the environment variable.
    let (status, stderr) = run_to_exit(&["-t", "-c", &valid_arg], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "ringmq: {valid_arg}:2:14: variable reference for 'RINGMQ_TEST_PAYLOAD' can not be \
             found (no earlier key and no environment variable of that name)\n"
        )
    );

    // Warnings fail the check, as in nats-server; they come before errors.
    let mixed = scratch.write(
        "mixed.conf",
        "ping_interval: 60\nmax_payload: 128MB\nport: x\n",
    );
    let mixed_arg = path_arg(&mixed);
    let (status, stderr) = run_to_exit(&["-t", "-c", &mixed_arg], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "ringmq: {mixed_arg}:1:16: ping_interval: a plain number is read as seconds; write \
             a duration such as \"60s\"\n{mixed_arg}:3:7: port: expected an integer, got the \
             string \"x\"\n"
        )
    );

    // Cross-field rules are checked too, so a file that passes also starts.
    let too_big = scratch.write("too-big.conf", "max_payload: 128MB\n");
    let (status, stderr) = run_to_exit(&["-t", "-c", &path_arg(&too_big)], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "ringmq: max_payload (134217728) cannot be higher than max_pending (67108864)\n"
    );

    let (status, stderr) = run_to_exit(&["-t"], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "ringmq: must specify [-c, --config] option to check configuration file syntax\n"
    );

    let missing = scratch.0.join("missing.conf");
    let (status, stderr) = run_to_exit(&["-t", "-c", &path_arg(&missing)], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "ringmq: cannot read config file {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
}
