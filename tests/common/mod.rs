//! Shared harness for the wire-level integration tests: starts ringmq (default) or
//! nats-server (`RINGMQ_TEST_SERVER=nats-server`) as a child process on a free port, and
//! speaks raw NATS over TCP for exact-byte assertions.
//!
//! Every wait has a deadline; nothing here sleeps to synchronise. Validate the suite
//! against the reference with
//! `RINGMQ_TEST_SERVER=nats-server cargo test --test pubsub --test limits --test cross_core`.

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

pub mod http;
pub mod leaf;
pub mod nats_client;
pub mod ws;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The line both servers print once the client listener is bound; the port follows it.
pub const READY_LINE: &str = "Listening for client connections on ";

/// The line both servers print, before [`READY_LINE`], once the HTTP monitoring listener
/// is bound; the port follows it.
pub const MONITOR_LINE: &str = "Starting http monitor on ";

/// How long a server may take to print [`READY_LINE`] (generous: the machine is shared).
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Default deadline for one expected reply on a raw connection.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the Debian package installs the reference server.
const NATS_SERVER_PATH: &str = "/usr/sbin/nats-server";

/// CONNECT that turns off `+OK` acks and pedantic checks, so replies are only the frames a
/// test provokes (both default to true in nats-server).
pub const CONNECT_QUIET: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

/// Which server binary a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Ringmq,
    NatsServer,
}

impl Flavor {
    /// `RINGMQ_TEST_SERVER=nats-server` selects the reference server; unset or `ringmq`
    /// selects ringmq; any other value is a typo and fails loudly rather than test ringmq.
    pub fn from_env() -> Flavor {
        match std::env::var("RINGMQ_TEST_SERVER").as_deref() {
            Ok("nats-server") => Flavor::NatsServer,
            Ok("ringmq") | Err(_) => Flavor::Ringmq,
            Ok(other) => panic!("RINGMQ_TEST_SERVER={other}: expected nats-server or ringmq"),
        }
    }
}

/// Start-up options that both servers understand.
#[derive(Clone, Debug)]
pub struct Opts {
    /// `--cores` for ringmq (ignored by nats-server). Two, so that consecutive connections
    /// land on different cores and cross-core paths are exercised.
    pub cores: usize,
    /// More arguments for either server, after `-a 127.0.0.1 -p -1` (e.g. `-c FILE`).
    pub args: Vec<String>,
    /// Serve HTTP monitoring on a free port (`-m -1`); see [`Server::monitor_port`].
    pub monitor: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            cores: 2,
            args: Vec::new(),
            monitor: false,
        }
    }
}

/// Lines the server wrote to stderr so far, and whether stderr has closed.
#[derive(Default)]
struct LogState {
    lines: Vec<String>,
    closed: bool,
}

/// The stderr log, filled by a drain thread for the whole life of the child so the child
/// never blocks on a full pipe.
#[derive(Default)]
struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
}

/// A running server child process; killed and reaped on drop.
pub struct Server {
    child: Child,
    port: u16,
    monitor_port: Option<u16>,
    log: Arc<Log>,
    pub flavor: Flavor,
}

impl Server {
    /// Spawns the selected server on 127.0.0.1 with an OS-chosen port and waits until it
    /// reports that it listens.
    pub fn start(opts: Opts) -> Server {
        Server::start_launch(opts, &Launch::default())
    }

    /// Like [`Server::start`], with more command-line arguments that both servers take
    /// (`--user`/`--pass`, `--auth`, `-D`, ...; `-c FILE` for nats-server).
    pub fn start_with_args(opts: Opts, args: &[&str]) -> Server {
        let launch = Launch {
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Launch::default()
        };
        Server::start_launch(opts, &launch)
    }

    /// [`Server::start`] with extra arguments and process limits (see [`Launch`]).
    pub fn start_launch(opts: Opts, launch: &Launch) -> Server {
        Server::start_flavor(Flavor::from_env(), opts, launch)
    }

    /// [`Server::start_launch`] with the server chosen by the test, not the environment
    /// (a nats-server leaf in front of the server under test).
    pub fn start_flavor(flavor: Flavor, opts: Opts, launch: &Launch) -> Server {
        let mut command = launch.wrap(server_command(flavor, &opts));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        let log = Arc::new(Log::default());
        spawn_log_drain(
            child.stderr.take().expect("stderr is piped"),
            Arc::clone(&log),
        );
        let mut server = Server {
            child,
            port: 0,
            monitor_port: None,
            log,
            flavor,
        };
        let line = server.wait_for_log(READY_LINE, START_TIMEOUT);
        server.port = parse_port_after(&line, READY_LINE);
        if opts.monitor {
            let line = server.wait_for_log(MONITOR_LINE, START_TIMEOUT);
            server.monitor_port = Some(parse_port_after(&line, MONITOR_LINE));
        }
        server
    }

    /// The HTTP monitoring port (started with [`Opts::monitor`]).
    pub fn monitor_port(&self) -> u16 {
        self.monitor_port
            .expect("server started with Opts { monitor: true }")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:PORT`, for async-nats.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port of the `HOST:PORT` a start-up line ending with `marker` names ("Listening
    /// for route connections on "), waited for.
    pub fn listening_port(&self, marker: &str) -> u16 {
        parse_port_after(&self.wait_for_log(marker, REPLY_TIMEOUT), marker)
    }

    /// Waits until a stderr line contains `needle` and returns that line. Panics with the
    /// whole log if the deadline passes or the server exits first.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_log_count(needle, 1, timeout)
    }

    /// Waits until `count` stderr lines contain `needle` and returns the last of them (a
    /// test that repeats an action waits for its n-th log line).
    pub fn wait_for_log_count(&self, needle: &str, count: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut state = self.log.state.lock().unwrap();
        loop {
            let mut found = state.lines.iter().filter(|l| l.contains(needle));
            if let Some(line) = found.nth(count - 1) {
                return line.clone();
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                let why = if state.closed {
                    "server exited"
                } else {
                    "timed out"
                };
                panic!(
                    "{why} waiting for log {needle:?}; log:\n{}",
                    state.lines.join("\n")
                );
            }
            state = self
                .log
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Waits for the child to exit on its own, up to `timeout`; `None` if it is still
    /// running then.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            // Polling a child's exit: there is no blocking wait with a timeout in std.
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A copy of the stderr lines so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.state.lock().unwrap().lines.clone()
    }

    /// A raw connection that has read the server's INFO line.
    pub fn raw(&self) -> RawClient {
        RawClient::connect(self.port)
    }

    /// An async-nats client connected to this server.
    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .expect("async-nats connects")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Kill, then wait so no zombie outlives the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_command(flavor: Flavor, opts: &Opts) -> Command {
    let mut command = match flavor {
        Flavor::Ringmq => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_ringmq"));
            c.arg("--cores").arg(opts.cores.to_string());
            c
        }
        Flavor::NatsServer => {
            let path = std::path::Path::new(NATS_SERVER_PATH);
            Command::new(if path.exists() {
                NATS_SERVER_PATH
            } else {
                "nats-server"
            })
        }
    };
    command.args(["-a", "127.0.0.1", "-p", "-1"]);
    command.args(&opts.args);
    if opts.monitor {
        command.args(["-m", "-1"]);
    }
    command
}

fn spawn_log_drain(stderr: std::process::ChildStderr, log: Arc<Log>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // Lossy: a log line is for humans and substring matches, never for bytes.
            let line = String::from_utf8_lossy(&raw).trim_end().to_string();
            // A test that panicked while holding the lock poisons it; keep draining anyway so
            // the child never blocks and the failure is reported once, by that test.
            let mut state = log.state.lock().unwrap_or_else(|e| e.into_inner());
            state.lines.push(line);
            drop(state);
            log.changed.notify_all();
        }
        log.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        log.changed.notify_all();
    });
}

/// `... Listening for client connections on 127.0.0.1:38879` → 38879 (with `marker` =
/// [`READY_LINE`]; likewise for [`MONITOR_LINE`]).
fn parse_port_after(line: &str, marker: &str) -> u16 {
    let address = line
        .split(marker)
        .nth(1)
        .expect("line holds the marker text");
    let port = address
        .trim()
        .rsplit(':')
        .next()
        .expect("address has a port");
    port.parse()
        .unwrap_or_else(|e| panic!("port in {line:?}: {e}"))
}

/// Length of the first complete server frame in `buf`, or `None` if more bytes are needed.
/// A frame is a CRLF-terminated line, plus for `MSG`/`HMSG` the payload and its CRLF (the
/// size is the last argument of the line).
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")? + 2;
    let line = &buf[..line_end - 2];
    if !(line.starts_with(b"MSG ") || line.starts_with(b"HMSG ")) {
        return Some(line_end);
    }
    let size_text = line
        .rsplit(|&b| b == b' ')
        .next()
        .expect("rsplit yields one item");
    let size: usize = std::str::from_utf8(size_text)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad size in {:?}", String::from_utf8_lossy(line)));
    let total = line_end + size + 2;
    (buf.len() >= total).then_some(total)
}

/// True for the keep-alive PING the server sends on its own ~2 s after CONNECT; exact-byte
/// assertions must not depend on when it lands, so readers drop it.
fn is_server_ping(frame: &[u8]) -> bool {
    frame == b"PING\r\n"
}

/// A blocking TCP connection speaking raw NATS.
pub struct RawClient {
    stream: TcpStream,
    /// Bytes read; those before `consumed` were already returned as frames.
    pending: Vec<u8>,
    consumed: usize,
    /// The INFO line the server greeted with.
    pub info: String,
}

impl RawClient {
    /// Connects and consumes the INFO line.
    pub fn connect(port: u16) -> RawClient {
        RawClient::from_stream(TcpStream::connect(("127.0.0.1", port)).expect("raw connect"))
    }

    /// Wraps an already connected stream and reads the INFO line the server greets it with.
    pub fn from_stream(stream: TcpStream) -> RawClient {
        stream.set_nodelay(true).expect("nodelay");
        let mut client = RawClient {
            stream,
            pending: Vec::new(),
            consumed: 0,
            info: String::new(),
        };
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let info = client.next_frame(deadline).expect("INFO before EOF");
        assert!(
            info.starts_with(b"INFO {"),
            "greeting: {:?}",
            String::from_utf8_lossy(&info)
        );
        client.info = String::from_utf8(info).expect("INFO is UTF-8");
        client
    }

    /// Wraps a connected stream that is not greeted with an INFO (a route we accepted
    /// from the server under test, which speaks first with its CONNECT).
    pub fn wrap(stream: TcpStream) -> RawClient {
        stream.set_nodelay(true).expect("nodelay");
        RawClient {
            stream,
            pending: Vec::new(),
            consumed: 0,
            info: String::new(),
        }
    }

    /// The socket, for a test that reads it at its own pace; only whole frames have been
    /// read from it so far.
    pub fn into_stream(self) -> TcpStream {
        assert_eq!(
            self.consumed,
            self.pending.len(),
            "unread bytes would be lost"
        );
        self.stream
    }

    /// Connects and sends [`CONNECT_QUIET`] plus `extra` (SUBs, usually).
    pub fn connect_quiet(port: u16, extra: &[u8]) -> RawClient {
        let mut client = RawClient::connect(port);
        client.send(CONNECT_QUIET);
        client.send(extra);
        client
    }

    /// A quiet connection whose subscriptions `subs` are visible to every later publish from
    /// any connection: it has seen the PONG for a PING sent after them (the NATS interest
    /// barrier; async-nats 0.51's `flush()` only drains its write buffer and is no barrier).
    pub fn subscriber(port: u16, subs: &str) -> RawClient {
        let mut client = RawClient::connect_quiet(port, subs.as_bytes());
        assert_eq!(
            text(&client.send_and_sync(b"")),
            "PONG\r\n",
            "after {subs:?}"
        );
        client
    }

    /// A second handle on the socket, to write from another thread while this one reads.
    pub fn try_clone_stream(&self) -> TcpStream {
        self.stream.try_clone().expect("clone the socket")
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("raw send");
    }

    /// The client's own port (the server sees the connection coming from it).
    pub fn local_port(&self) -> u16 {
        self.stream.local_addr().expect("local address").port()
    }

    /// The `client_id` the server gave this connection in its INFO.
    pub fn client_id(&self) -> u64 {
        let json = self.info.trim_end().trim_start_matches("INFO ");
        let info: serde_json::Value = serde_json::from_str(json).expect("INFO is JSON");
        info["client_id"].as_u64().expect("INFO has client_id")
    }

    /// Sends `bytes` and then `PING`, and returns everything up to and including `PONG`.
    pub fn send_and_sync(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.send(bytes);
        self.send(b"PING\r\n");
        self.read_until_pong(Instant::now() + REPLY_TIMEOUT)
    }

    /// Half-closes the write side: the server sees EOF, as from a client that vanished.
    pub fn shutdown_write(&self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("shutdown write");
    }

    /// The next frame (server PINGs skipped), `None` on EOF. Panics at the deadline.
    pub fn next_frame(&mut self, deadline: Instant) -> Option<Vec<u8>> {
        loop {
            while let Some(len) = frame_len(&self.pending[self.consumed..]) {
                let frame = self.pending[self.consumed..self.consumed + len].to_vec();
                self.consumed += len;
                if !is_server_ping(&frame) {
                    return Some(frame);
                }
            }
            if self.fill(deadline) == 0 {
                return None;
            }
        }
    }

    /// Every frame up to and including `PONG\r\n`, concatenated.
    pub fn read_until_pong(&mut self, deadline: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let frame = self.next_frame(deadline).unwrap_or_else(|| {
                panic!("EOF before PONG; got {:?}", String::from_utf8_lossy(&out))
            });
            out.extend_from_slice(&frame);
            if frame == b"PONG\r\n" {
                return out;
            }
        }
    }

    /// Every frame until the server closes, plus any trailing partial frame.
    pub fn read_to_eof(&mut self, deadline: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(frame) = self.next_frame(deadline) {
            out.extend_from_slice(&frame);
        }
        out.extend_from_slice(&self.pending[self.consumed..]);
        self.pending.clear();
        self.consumed = 0;
        out
    }

    /// Reads the next frame and asserts its exact bytes.
    pub fn expect_frame(&mut self, expected: &str) {
        let frame = self.next_frame(Instant::now() + REPLY_TIMEOUT);
        let frame = frame.unwrap_or_else(|| panic!("EOF while expecting {expected:?}"));
        assert_eq!(text(&frame), expected);
    }

    /// Reads once into `pending`; returns the byte count (0 = EOF or reset).
    fn fill(&mut self, deadline: Instant) -> usize {
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(
            !remaining.is_zero(),
            "deadline passed; unparsed bytes: {:?}",
            String::from_utf8_lossy(&self.pending[self.consumed..])
        );
        self.stream
            .set_read_timeout(Some(remaining))
            .expect("read timeout");
        // Drop returned frames first, so the buffer holds at most one partial frame.
        self.pending.drain(..self.consumed);
        self.consumed = 0;
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.pending.extend_from_slice(&chunk[..n]);
                n
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) if is_timeout(&e) => panic!(
                "no reply before deadline; unparsed bytes: {:?}",
                String::from_utf8_lossy(&self.pending[self.consumed..])
            ),
            Err(e) => panic!("raw read: {e}"),
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Makes the byte strings in assertion failures readable.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Raises the soft RLIMIT_NOFILE to at least `wanted`; panics with the reason if the hard
/// limit does not allow it.
pub fn ensure_open_files(wanted: u64) {
    let now = ringmq::runtime::sys::raise_open_files_limit(wanted).expect("getrlimit/setrlimit");
    assert!(
        now >= wanted,
        "need RLIMIT_NOFILE >= {wanted} (have {now}): raise the hard limit with ulimit -Hn"
    );
}

/// Extra start-up settings (fault tests): arguments both servers understand and process
/// limits applied before the server runs.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// Appended to the command line, e.g. `-D`.
    pub args: Vec<String>,
    /// Soft and hard RLIMIT_NOFILE of the server process. Applied by util-linux `prlimit`,
    /// which sets it on itself and then execs the server, so the child's pid is the server's.
    pub open_files: Option<u64>,
}

const PRLIMIT_PATH: &str = "/usr/bin/prlimit";

impl Launch {
    fn wrap(&self, server: Command) -> Command {
        let mut command = match self.open_files {
            None => Command::new(server.get_program()),
            Some(limit) => {
                let mut command = Command::new(PRLIMIT_PATH);
                command
                    .arg(format!("--nofile={limit}:{limit}"))
                    .arg("--")
                    .arg(server.get_program());
                command
            }
        };
        command.args(server.get_args()).args(&self.args);
        command
    }
}

/// What the server process holds open, from `/proc/<pid>/fd`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFiles {
    /// Sockets: the listener plus one per connection the server still holds.
    pub sockets: usize,
    /// io_uring instances (ringmq: one per core).
    pub rings: usize,
    /// Every descriptor, including stdio and anything inherited.
    pub total: usize,
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's open descriptors, classified.
    pub fn open_files(&self) -> OpenFiles {
        let directory = format!("/proc/{}/fd", self.pid());
        let mut files = OpenFiles::default();
        let entries = std::fs::read_dir(&directory).unwrap_or_else(|e| panic!("{directory}: {e}"));
        for entry in entries.flatten() {
            // A descriptor closed between readdir and readlink is simply not counted.
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            files.total += 1;
            if target.starts_with("socket:") {
                files.sockets += 1;
            } else if target == "anon_inode:[io_uring]" {
                files.rings += 1;
            }
        }
        files
    }

    /// The numbers of the server's open descriptors (RLIMIT_NOFILE bounds the number a new
    /// one gets, so descriptors inherited with high numbers do not count against it).
    pub fn open_fd_numbers(&self) -> Vec<u64> {
        let directory = format!("/proc/{}/fd", self.pid());
        let entries = std::fs::read_dir(&directory).unwrap_or_else(|e| panic!("{directory}: {e}"));
        let mut numbers: Vec<u64> = entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
            .collect();
        numbers.sort_unstable();
        numbers
    }

    /// Waits until the server holds exactly `sockets` sockets; returns what it holds then.
    /// Panics at the deadline with the last count.
    pub fn wait_for_sockets(&self, sockets: usize, timeout: Duration) -> OpenFiles {
        let deadline = Instant::now() + timeout;
        loop {
            let files = self.open_files();
            if files.sockets == sockets {
                return files;
            }
            assert!(
                Instant::now() < deadline,
                "server holds {files:?}, expected {sockets} sockets"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The server's resident set size (VmRSS) in KiB.
    pub fn resident_kib(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let line = status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .unwrap_or_else(|| panic!("no VmRSS in {path}"));
        line.split_whitespace()
            .nth(1)
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_else(|| panic!("bad VmRSS line {line:?}"))
    }

    /// Asks the server to stop as an operator would (SIGTERM) and waits until it exits.
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        ringmq::runtime::sys::terminate(self.pid())
            .unwrap_or_else(|e| panic!("SIGTERM to {}: {e}", self.pid()));
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// How many stderr lines so far contain `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        let state = self.log.state.lock().unwrap();
        state.lines.iter().filter(|l| l.contains(needle)).count()
    }
}

/// A blocking socket connected with a fixed SO_RCVBUF (set before connect, so the window
/// scale fits it).
pub fn connect_with_receive_buffer(port: u16, bytes: u32) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        let address = format!("127.0.0.1:{port}").parse().expect("address");
        socket.connect(address).await.expect("connect")
    });
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream
}
