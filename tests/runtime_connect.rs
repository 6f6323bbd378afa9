//! Outbound connections (`Io::connect`) over real loopback sockets: a dialling handler on 2
//! cores against std listeners in the test. Exact events and counts; waits on conditions
//! with deadlines. Tests in this file run one at a time (they count process-wide fds).
//!
//! The timeout and in-flight cases need a connect that stays pending: a listener with
//! backlog 0 that never accepts, filled first with std connects until one of them times
//! out. Linux then drops further SYNs (the accept queue is full), so a dial hangs in
//! SYN_SENT until our timeout or a cancel ends it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ringmq::runtime::{
    self, CloseReason, ConnId, ConnectError, Handler, Io, RuntimeConfig, RuntimeHandle,
};

/// How long any condition may take before a test fails.
const WAIT_MAX: Duration = Duration::from_secs(30);
/// A timeout no dial in these tests reaches unless it is meant to.
const LONG: Duration = Duration::from_secs(60);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn config(connections_per_core: u32) -> RuntimeConfig {
    RuntimeConfig {
        cores: 2,
        recv_buffers: 64,
        recv_buffer_size: 16 * 1024,
        connections_per_core,
        mailbox_bytes: 1 << 20,
        write_deadline: Duration::from_secs(5),
        shutdown_flush: Duration::from_secs(1),
        tls: None,
    }
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT_MAX;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

enum Command {
    Dial {
        address: SocketAddr,
        tag: u64,
        timeout: Duration,
    },
    /// Dial and close in the same callback: the connect is never submitted.
    DialAndClose {
        address: SocketAddr,
        tag: u64,
    },
    Close {
        tag: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Connected {
        core: usize,
        tag: u64,
        peer: SocketAddr,
        total_connections: usize,
    },
    Failed {
        core: usize,
        tag: u64,
        error: ConnectError,
    },
    /// `Io::connect` returned an error.
    Rejected { tag: u64, error: ConnectError },
    Closed {
        core: usize,
        tag: u64,
        reason: CloseReason,
    },
}

#[derive(Default)]
struct Board {
    commands: [Mutex<Vec<Command>>; 2],
    events: Mutex<Vec<Event>>,
}

impl Board {
    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    fn push(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }
}

struct Dialer {
    board: Arc<Board>,
    tags: HashMap<ConnId, u64>,
}

impl Handler for Dialer {
    fn on_open(&mut self, io: &mut Io<'_>, conn: ConnId, _peer: SocketAddr) {
        io.close(conn, false);
    }
    fn on_data(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        assert!(
            self.tags.contains_key(&conn),
            "data for a dialled connection"
        );
        io.write(conn, data);
    }
    fn on_close(&mut self, io: &mut Io<'_>, conn: ConnId, reason: CloseReason) {
        let tag = self
            .tags
            .remove(&conn)
            .expect("on_close for a connected dial");
        self.board.push(Event::Closed {
            core: io.core(),
            tag,
            reason,
        });
    }
    fn on_mail(&mut self, _io: &mut Io<'_>, _from: usize, _record: &[u8]) {}
    fn on_timer(&mut self, _io: &mut Io<'_>, _token: u64) {}
    fn on_turn_end(&mut self, io: &mut Io<'_>) {
        let commands = std::mem::take(&mut *self.board.commands[io.core()].lock().unwrap());
        for command in commands {
            match command {
                Command::Dial {
                    address,
                    tag,
                    timeout,
                } => match io.connect(address, tag, timeout) {
                    Ok(conn) => assert_eq!(self.tags.insert(conn, tag), None),
                    Err(error) => self.board.push(Event::Rejected { tag, error }),
                },
                Command::DialAndClose { address, tag } => {
                    let conn = io.connect(address, tag, LONG).expect("dial");
                    self.tags.insert(conn, tag);
                    io.write(conn, b"ignored: not connected yet");
                    assert_eq!(io.pending_bytes(conn), 0);
                    io.close(conn, true);
                }
                Command::Close { tag } => {
                    let conn = self.tags.iter().find(|(_, t)| **t == tag).map(|(c, _)| *c);
                    io.close(conn.expect("a dial with that tag"), false);
                }
            }
        }
    }
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {}
    fn on_connected(&mut self, io: &mut Io<'_>, conn: ConnId, tag: u64, peer: SocketAddr) {
        assert_eq!(self.tags.get(&conn), Some(&tag));
        self.board.push(Event::Connected {
            core: io.core(),
            tag,
            peer,
            total_connections: io.total_connections(),
        });
        io.write(conn, format!("HELLO {tag}\r\n").as_bytes());
    }
    fn on_connect_failed(&mut self, io: &mut Io<'_>, conn: ConnId, tag: u64, error: ConnectError) {
        assert_eq!(self.tags.remove(&conn), Some(tag), "one end per dial");
        self.board.push(Event::Failed {
            core: io.core(),
            tag,
            error,
        });
    }
}

struct Runtime {
    handle: RuntimeHandle,
    board: Arc<Board>,
}

impl Runtime {
    fn start(connections_per_core: u32) -> Runtime {
        runtime::probe().expect("io_uring usable");
        let board = Arc::new(Board::default());
        let for_cores = board.clone();
        // The runtime's own client listener is not used by these tests.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let handle = runtime::start(config(connections_per_core), listener, move |_| Dialer {
            board: for_cores.clone(),
            tags: HashMap::new(),
        })
        .expect("start");
        Runtime { handle, board }
    }

    fn command(&self, core: usize, command: Command) {
        self.board.commands[core].lock().unwrap().push(command);
        self.handle.wake();
    }

    fn dial(&self, core: usize, address: SocketAddr, tag: u64, timeout: Duration) {
        self.command(
            core,
            Command::Dial {
                address,
                tag,
                timeout,
            },
        );
    }

    fn wait_events(&self, count: usize) -> Vec<Event> {
        wait_until(&format!("{count} events"), || {
            self.board.events.lock().unwrap().len() >= count
        });
        self.board.events()
    }

    fn stop(self) -> Vec<Event> {
        self.handle.shutdown();
        self.handle.join();
        self.board.events()
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn accept(listener: &TcpListener) -> TcpStream {
    let (stream, _) = listener.accept().expect("accept");
    stream.set_read_timeout(Some(WAIT_MAX)).expect("timeout");
    stream
}

fn read_exactly(stream: &mut TcpStream, length: usize) -> Vec<u8> {
    let mut bytes = vec![0; length];
    stream.read_exact(&mut bytes).expect("read");
    bytes
}

/// An address nothing listens on (a port just released).
fn refusing_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// A listener whose accept queue is full (backlog 0, never accepts): connects to it stay
/// pending. Returns the connections that filled it, to be kept open.
fn full_listener() -> (TcpListener, SocketAddr, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    runtime::sys::set_listen_backlog(&listener, 0).expect("backlog 0");
    let address = listener.local_addr().expect("address");
    let mut fillers = Vec::new();
    loop {
        match TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => break,
            Err(error) => panic!("filling the accept queue: {error}"),
        }
        assert!(fillers.len() < 64, "the accept queue never filled");
    }
    (listener, address, fillers)
}

#[test]
fn a_dialled_connection_greets_echoes_and_closes_on_its_own_core() {
    let _serial = serial();
    let fds_before = open_fds();
    let runtime = Runtime::start(16);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    runtime.dial(1, address, 7, LONG);
    let mut stream = accept(&listener);
    assert_eq!(read_exactly(&mut stream, 9), b"HELLO 7\r\n");
    stream.write_all(b"ping through the dial").expect("write");
    assert_eq!(read_exactly(&mut stream, 21), b"ping through the dial");
    assert_eq!(
        runtime.board.events(),
        [Event::Connected {
            core: 1,
            tag: 7,
            peer: address,
            total_connections: 0,
        }],
        "dialled connections are not client connections"
    );
    assert_eq!(runtime.handle.connections_by_core(), [0, 0]);
    drop(stream);
    let events = runtime.wait_events(2);
    assert_eq!(
        events[1],
        Event::Closed {
            core: 1,
            tag: 7,
            reason: CloseReason::PeerClosed,
        }
    );
    assert_eq!(runtime.stop().len(), 2);
    drop(listener);
    assert_eq!(open_fds(), fds_before, "every socket closed");
}

#[test]
fn a_refused_dial_fails_with_econnrefused_and_no_close() {
    let _serial = serial();
    let fds_before = open_fds();
    let runtime = Runtime::start(16);
    let address = refusing_address();
    runtime.dial(0, address, 3, LONG);
    let events = runtime.wait_events(1);
    assert_eq!(
        events,
        [Event::Failed {
            core: 0,
            tag: 3,
            error: ConnectError::Refused,
        }]
    );
    assert_eq!(ConnectError::Refused.to_string(), "connection refused");
    assert_eq!(
        runtime.stop().len(),
        1,
        "no on_close for a dial that failed"
    );
    assert_eq!(open_fds(), fds_before, "the dial's socket is closed");
}

#[test]
fn a_dial_that_gets_no_answer_times_out_at_its_timeout() {
    let _serial = serial();
    let (listener, address, fillers) = full_listener();
    let fds_before = open_fds();
    let runtime = Runtime::start(16);
    let started = Instant::now();
    runtime.dial(1, address, 11, Duration::from_millis(300));
    let events = runtime.wait_events(1);
    let elapsed = started.elapsed();
    assert_eq!(
        events,
        [Event::Failed {
            core: 1,
            tag: 11,
            error: ConnectError::TimedOut,
        }]
    );
    assert!(
        elapsed >= Duration::from_millis(300),
        "failed after {elapsed:?}"
    );
    assert_eq!(ConnectError::TimedOut.to_string(), "i/o timeout");
    assert_eq!(runtime.stop().len(), 1);
    assert_eq!(
        open_fds(),
        fds_before,
        "the timed-out socket is closed once"
    );
    drop((listener, fillers));
}

#[test]
fn two_hundred_dials_at_once_all_connect_on_the_dialling_core() {
    let _serial = serial();
    let runtime = Runtime::start(256);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    runtime::sys::set_listen_backlog(&listener, 1024).expect("backlog");
    let address = listener.local_addr().expect("address");
    for tag in 0..200 {
        runtime.dial((tag % 2) as usize, address, tag, LONG);
    }
    let mut streams = Vec::new();
    let mut greetings: Vec<String> = (0..200)
        .map(|_| {
            let mut stream = accept(&listener);
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                line.extend(read_exactly(&mut stream, 1));
            }
            streams.push(stream);
            String::from_utf8(line).expect("ascii")
        })
        .collect();
    greetings.sort_by_key(|line| line[6..line.len() - 2].parse::<u64>().expect("tag"));
    let expected: Vec<String> = (0..200).map(|tag| format!("HELLO {tag}\r\n")).collect();
    assert_eq!(greetings, expected);
    let events = runtime.wait_events(200);
    for event in &events {
        let Event::Connected { core, tag, .. } = event else {
            panic!("unexpected {event:?}");
        };
        assert_eq!(*core as u64, tag % 2, "tag {tag} stayed on its core");
    }
    let closes = runtime
        .stop()
        .iter()
        .filter(|event| {
            matches!(
                event,
                Event::Closed {
                    reason: CloseReason::Shutdown,
                    ..
                }
            )
        })
        .count();
    assert_eq!(closes, 200);
    drop(streams);
}

#[test]
fn closing_a_dial_in_flight_ends_it_once_and_frees_the_socket() {
    let _serial = serial();
    let (listener, address, fillers) = full_listener();
    let fds_before = open_fds();
    let runtime = Runtime::start(16);
    // Submitted at the turn's flush, closed in a later turn while the connect is pending.
    runtime.dial(0, address, 1, LONG);
    // Never submitted: dialled and closed in one callback.
    runtime.command(0, Command::DialAndClose { address, tag: 2 });
    let events = runtime.wait_events(1);
    assert_eq!(
        events,
        [Event::Failed {
            core: 0,
            tag: 2,
            error: ConnectError::Cancelled,
        }]
    );
    runtime.command(0, Command::Close { tag: 1 });
    let events = runtime.wait_events(2);
    assert_eq!(
        events[1],
        Event::Failed {
            core: 0,
            tag: 1,
            error: ConnectError::Cancelled,
        }
    );
    // The core still dials: the slots were freed and the late completions were dropped.
    let live = TcpListener::bind("127.0.0.1:0").expect("bind");
    let live_address = live.local_addr().expect("address");
    runtime.dial(0, live_address, 3, LONG);
    let mut stream = accept(&live);
    assert_eq!(read_exactly(&mut stream, 9), b"HELLO 3\r\n");
    drop(stream);
    let events = runtime.wait_events(4);
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(matches!(events[2], Event::Connected { tag: 3, .. }));
    assert!(matches!(events[3], Event::Closed { tag: 3, .. }));
    assert_eq!(runtime.stop().len(), 4, "each dial ended exactly once");
    drop(live);
    assert_eq!(open_fds(), fds_before, "each socket closed once");
    drop((listener, fillers));
}

#[test]
fn shutdown_ends_a_pending_dial_and_refuses_new_ones_on_a_full_core() {
    let _serial = serial();
    let (listener, address, fillers) = full_listener();
    let runtime = Runtime::start(1);
    runtime.dial(1, address, 5, LONG);
    // Core 1 owns one slot, taken by the pending dial.
    runtime.dial(1, address, 6, LONG);
    let events = runtime.wait_events(1);
    assert_eq!(
        events,
        [Event::Rejected {
            tag: 6,
            error: ConnectError::CoreFull,
        }]
    );
    let started = Instant::now();
    let events = runtime.stop();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited"
    );
    assert_eq!(
        events[1..],
        [Event::Failed {
            core: 1,
            tag: 5,
            error: ConnectError::Shutdown,
        }]
    );
    drop((listener, fillers));
}
