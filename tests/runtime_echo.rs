//! The runtime over real loopback sockets: echo handlers on 2 cores, exact bytes and counts,
//! waits on conditions with deadlines. Tests in this file run one at a time (they count
//! process-wide fds and connections).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ringmq::runtime::{self, CloseReason, ConnId, Handler, Io, RuntimeConfig, RuntimeHandle};

/// How long any condition may take before a test fails.
const WAIT_MAX: Duration = Duration::from_secs(30);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn config(cores: usize) -> RuntimeConfig {
    RuntimeConfig {
        cores,
        recv_buffers: 64,
        recv_buffer_size: 16 * 1024,
        connections_per_core: 4096,
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
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[derive(Default)]
struct Stats {
    opens_per_core: [AtomicUsize; 2],
    closes: AtomicUsize,
    bytes_in: AtomicUsize,
    reasons: Mutex<Vec<CloseReason>>,
}

impl Stats {
    fn opens(&self) -> usize {
        self.opens_per_core
            .iter()
            .map(|count| count.load(Ordering::SeqCst))
            .sum()
    }
}

struct Echo {
    stats: Arc<Stats>,
}

impl Handler for Echo {
    fn on_open(&mut self, io: &mut Io<'_>, _conn: ConnId, _peer: SocketAddr) {
        self.stats.opens_per_core[io.core()].fetch_add(1, Ordering::SeqCst);
    }
    fn on_data(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        assert!(!data.is_empty());
        self.stats.bytes_in.fetch_add(data.len(), Ordering::SeqCst);
        io.write(conn, data);
    }
    fn on_close(&mut self, io: &mut Io<'_>, conn: ConnId, reason: CloseReason) {
        assert_eq!(
            io.pending_bytes(conn),
            0,
            "a dead connection has nothing pending"
        );
        self.stats.reasons.lock().expect("reasons").push(reason);
        self.stats.closes.fetch_add(1, Ordering::SeqCst);
    }
    fn on_mail(&mut self, _io: &mut Io<'_>, _from: usize, _record: &[u8]) {}
    fn on_timer(&mut self, _io: &mut Io<'_>, _token: u64) {}
    fn on_turn_end(&mut self, _io: &mut Io<'_>) {}
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {}
}

fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    (listener, address)
}

fn start_echo(config: RuntimeConfig) -> (RuntimeHandle, SocketAddr, Arc<Stats>) {
    runtime::probe().expect("io_uring usable");
    let (listener, address) = listener();
    let stats = Arc::new(Stats::default());
    let for_cores = stats.clone();
    let handle = runtime::start(config, listener, move |_core| Echo {
        stats: for_cores.clone(),
    })
    .expect("start");
    (handle, address, stats)
}

fn stop(handle: RuntimeHandle) {
    handle.shutdown();
    handle.join();
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(WAIT_MAX)).expect("timeout");
    stream
}

fn pattern(length: usize, seed: usize) -> Vec<u8> {
    (0..length)
        .map(|index| ((index * 31 + seed * 7) % 251) as u8)
        .collect()
}

/// Writes `data` from a second thread while reading the echo here; returns what came back.
fn echo_through(stream: TcpStream, data: Vec<u8>) -> Vec<u8> {
    let mut writer = stream.try_clone().expect("clone");
    let length = data.len();
    let sender = std::thread::spawn(move || writer.write_all(&data).expect("write"));
    let mut reader = stream;
    let mut received = vec![0u8; length];
    reader.read_exact(&mut received).expect("echo");
    sender.join().expect("writer");
    received
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn raise_fd_limit() {
    ringmq::runtime::sys::raise_open_files_limit(65_536).expect("raise RLIMIT_NOFILE");
}

#[test]
fn echo_counts_opens_data_and_closes() {
    let _serial = serial();
    let (handle, address, stats) = start_echo(config(2));
    let mut sent = 0;
    for index in 0..10 {
        let mut stream = connect(address);
        let message = format!("hello {index}");
        stream.write_all(message.as_bytes()).expect("write");
        let mut echoed = vec![0u8; message.len()];
        stream.read_exact(&mut echoed).expect("read");
        assert_eq!(echoed, message.as_bytes());
        sent += message.len();
    }
    wait_until("10 closes", || stats.closes.load(Ordering::SeqCst) == 10);
    assert_eq!(stats.opens(), 10);
    assert_eq!(stats.bytes_in.load(Ordering::SeqCst), sent);
    let reasons = stats.reasons.lock().expect("reasons").clone();
    assert!(
        reasons
            .iter()
            .all(|reason| *reason == CloseReason::PeerClosed),
        "{reasons:?}"
    );
    stop(handle);
}

#[test]
fn one_mebibyte_stream_is_echoed_intact_and_in_order() {
    let _serial = serial();
    let (handle, address, stats) = start_echo(config(2));
    let data = pattern(1 << 20, 1);
    let received = echo_through(connect(address), data.clone());
    assert!(received == data, "echoed stream differs");
    wait_until("close", || stats.closes.load(Ordering::SeqCst) == 1);
    stop(handle);
}

#[test]
fn thousand_connections_spread_across_both_cores() {
    let _serial = serial();
    raise_fd_limit();
    let (handle, address, stats) = start_echo(config(2));
    let mut streams: Vec<TcpStream> = (0..1000).map(|_| connect(address)).collect();
    for (index, stream) in streams.iter_mut().enumerate() {
        stream
            .write_all(&(index as u32).to_le_bytes())
            .expect("write");
    }
    for (index, stream) in streams.iter_mut().enumerate() {
        let mut echoed = [0u8; 4];
        stream.read_exact(&mut echoed).expect("read");
        assert_eq!(u32::from_le_bytes(echoed), index as u32);
    }
    assert_eq!(stats.opens(), 1000);
    let core_0 = stats.opens_per_core[0].load(Ordering::SeqCst);
    let core_1 = stats.opens_per_core[1].load(Ordering::SeqCst);
    assert!(
        core_0 > 0 && core_1 > 0,
        "core 0: {core_0}, core 1: {core_1}"
    );
    assert!(
        core_0.abs_diff(core_1) <= 100,
        "unbalanced: {core_0} vs {core_1}"
    );
    drop(streams);
    wait_until("1000 closes", || {
        stats.closes.load(Ordering::SeqCst) == 1000
    });
    stop(handle);
}

#[test]
fn tiny_buffer_ring_recovers_from_enobufs_without_losing_bytes() {
    let _serial = serial();
    let mut tiny = config(2);
    tiny.recv_buffers = 4;
    tiny.recv_buffer_size = 1024;
    let (handle, address, stats) = start_echo(tiny);
    const CONNECTIONS: usize = 40;
    const BYTES: usize = 256 * 1024;
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|seed| {
            let stream = connect(address);
            std::thread::spawn(move || {
                let data = pattern(BYTES, seed);
                let received = echo_through(stream, data.clone());
                assert!(received == data, "connection {seed} got different bytes");
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client");
    }
    assert_eq!(stats.bytes_in.load(Ordering::SeqCst), CONNECTIONS * BYTES);
    wait_until("closes", || {
        stats.closes.load(Ordering::SeqCst) == CONNECTIONS
    });
    stop(handle);
}

#[test]
fn shutdown_closes_every_connection_and_join_returns() {
    let _serial = serial();
    let (handle, address, stats) = start_echo(config(2));
    let mut streams: Vec<TcpStream> = (0..20).map(|_| connect(address)).collect();
    for stream in &mut streams {
        stream.write_all(b"x").expect("write");
        let mut echoed = [0u8; 1];
        stream.read_exact(&mut echoed).expect("read");
    }
    stop(handle);
    assert_eq!(stats.closes.load(Ordering::SeqCst), 20);
    let reasons = stats.reasons.lock().expect("reasons").clone();
    assert!(
        reasons
            .iter()
            .all(|reason| *reason == CloseReason::Shutdown),
        "{reasons:?}"
    );
    for stream in &mut streams {
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).expect("EOF after shutdown");
        assert!(rest.is_empty());
    }
}

#[test]
fn no_fd_leak_across_a_full_run() {
    let _serial = serial();
    let before = open_fds();
    {
        let (handle, address, stats) = start_echo(config(2));
        let mut streams: Vec<TcpStream> = (0..50).map(|_| connect(address)).collect();
        wait_until("50 opens", || stats.opens() == 50);
        let kept = streams.split_off(25);
        drop(streams);
        wait_until("25 closes", || stats.closes.load(Ordering::SeqCst) == 25);
        stop(handle);
        assert_eq!(stats.closes.load(Ordering::SeqCst), 50);
        drop(kept);
    }
    assert_eq!(open_fds(), before, "fds leaked");
}

/// Writes a lot to every connection; connection `vanishing` is reset by its peer midway.
struct Firehose {
    stats: Arc<Stats>,
    chunk: Vec<u8>,
}

impl Handler for Firehose {
    fn on_open(&mut self, io: &mut Io<'_>, _conn: ConnId, _peer: SocketAddr) {
        self.stats.opens_per_core[io.core()].fetch_add(1, Ordering::SeqCst);
    }
    fn on_data(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        // Each byte received asks for one chunk of output.
        for _ in data {
            io.write(conn, &self.chunk);
        }
    }
    fn on_close(&mut self, _io: &mut Io<'_>, _conn: ConnId, reason: CloseReason) {
        self.stats.reasons.lock().expect("reasons").push(reason);
        self.stats.closes.fetch_add(1, Ordering::SeqCst);
    }
    fn on_mail(&mut self, _io: &mut Io<'_>, _from: usize, _record: &[u8]) {}
    fn on_timer(&mut self, _io: &mut Io<'_>, _token: u64) {}
    fn on_turn_end(&mut self, _io: &mut Io<'_>) {}
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {}
}

fn start_firehose(config: RuntimeConfig) -> (RuntimeHandle, SocketAddr, Arc<Stats>) {
    let (listener, address) = listener();
    let stats = Arc::new(Stats::default());
    let for_cores = stats.clone();
    let handle = runtime::start(config, listener, move |_| Firehose {
        stats: for_cores.clone(),
        chunk: pattern(64 * 1024, 3),
    })
    .expect("start");
    (handle, address, stats)
}

#[test]
fn peer_vanishing_mid_stream_costs_nothing_else() {
    let _serial = serial();
    let (handle, address, stats) = start_firehose(config(1));
    let mut steady = connect(address);
    let mut vanishing = connect(address);
    vanishing.write_all(&[1u8; 64]).expect("ask for 4 MiB");
    let mut first = [0u8; 1000];
    vanishing.read_exact(&mut first).expect("stream started");
    // Reset instead of FIN: unread data makes close() send RST.
    drop(vanishing);
    wait_until("the vanished peer is closed", || {
        stats.closes.load(Ordering::SeqCst) == 1
    });
    steady.write_all(&[1u8; 4]).expect("ask for 256 KiB");
    let mut received = vec![0u8; 4 * 64 * 1024];
    steady.read_exact(&mut received).expect("steady stream");
    assert!(received
        .chunks(64 * 1024)
        .all(|chunk| chunk == pattern(64 * 1024, 3)));
    let reasons = stats.reasons.lock().expect("reasons").clone();
    assert_eq!(reasons, vec![CloseReason::PeerClosed]);
    stop(handle);
}

#[test]
fn stalled_reader_is_cut_at_the_write_deadline() {
    let _serial = serial();
    let mut short = config(1);
    short.write_deadline = Duration::from_millis(200);
    let (handle, address, stats) = start_firehose(short);
    let mut stalled = connect(address);
    // 64 MiB requested, never read: the socket buffers fill and the send stops progressing.
    stalled.write_all(&[1u8; 1024]).expect("ask");
    let started = Instant::now();
    wait_until("write deadline close", || {
        stats.closes.load(Ordering::SeqCst) == 1
    });
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200),
        "cut early: {elapsed:?}"
    );
    let reasons = stats.reasons.lock().expect("reasons").clone();
    assert_eq!(reasons, vec![CloseReason::WriteDeadline]);
    stop(handle);
}

/// Core 0 sends `RECORDS` numbered records to core 1 on its first turn (far beyond
/// `mailbox_bytes`, so backpressure engages); core 1 checks the exact sequence.
struct Mail {
    sent: bool,
    received: Arc<AtomicUsize>,
    out_of_order: Arc<AtomicBool>,
}

const RECORDS: usize = 100_000;

impl Handler for Mail {
    fn on_open(&mut self, _io: &mut Io<'_>, _conn: ConnId, _peer: SocketAddr) {}
    fn on_data(&mut self, _io: &mut Io<'_>, _conn: ConnId, _data: &[u8]) {}
    fn on_close(&mut self, _io: &mut Io<'_>, _conn: ConnId, _reason: CloseReason) {}
    fn on_mail(&mut self, io: &mut Io<'_>, from: usize, record: &[u8]) {
        assert_eq!((io.core(), from), (1, 0));
        let expected = self.received.load(Ordering::SeqCst);
        let number = u64::from_le_bytes(record[..8].try_into().expect("8 bytes"));
        if number != expected as u64 || record.len() != 8 + expected % 100 {
            self.out_of_order.store(true, Ordering::SeqCst);
        }
        self.received.fetch_add(1, Ordering::SeqCst);
    }
    fn on_timer(&mut self, _io: &mut Io<'_>, _token: u64) {}
    fn on_turn_end(&mut self, io: &mut Io<'_>) {
        if io.core() != 0 || self.sent {
            return;
        }
        self.sent = true;
        let padding = [0x5au8; 100];
        for number in 0..RECORDS {
            io.send_mail(
                1,
                &[&(number as u64).to_le_bytes(), &padding[..number % 100]],
            );
        }
    }
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {}
}

#[test]
fn mail_between_cores_arrives_in_exact_order() {
    let _serial = serial();
    let (listener, _address) = listener();
    let received = Arc::new(AtomicUsize::new(0));
    let out_of_order = Arc::new(AtomicBool::new(false));
    let (for_cores, flag) = (received.clone(), out_of_order.clone());
    let mut small = config(2);
    small.mailbox_bytes = 64 * 1024;
    let handle = runtime::start(small, listener, move |_| Mail {
        sent: false,
        received: for_cores.clone(),
        out_of_order: flag.clone(),
    })
    .expect("start");
    let started = Instant::now();
    wait_until("all records", || received.load(Ordering::SeqCst) == RECORDS);
    let elapsed = started.elapsed();
    let rate = RECORDS as f64 / elapsed.as_secs_f64() / 1e6;
    eprintln!("mail: {RECORDS} records core 0 -> 1 in {elapsed:?} = {rate:.2} M records/s");
    assert!(
        !out_of_order.load(Ordering::SeqCst),
        "records out of order or resized"
    );
    stop(handle);
    assert_eq!(received.load(Ordering::SeqCst), RECORDS);
}

/// Core 0 sets timers on its first turn; one is cancelled; the last one ends the test.
struct Timers {
    armed: bool,
    fired: Arc<Mutex<Vec<u64>>>,
}

impl Handler for Timers {
    fn on_open(&mut self, _io: &mut Io<'_>, _conn: ConnId, _peer: SocketAddr) {}
    fn on_data(&mut self, _io: &mut Io<'_>, _conn: ConnId, _data: &[u8]) {}
    fn on_close(&mut self, _io: &mut Io<'_>, _conn: ConnId, _reason: CloseReason) {}
    fn on_mail(&mut self, _io: &mut Io<'_>, _from: usize, _record: &[u8]) {}
    fn on_timer(&mut self, io: &mut Io<'_>, token: u64) {
        assert!(io.now() >= io.now());
        self.fired.lock().expect("fired").push(token);
    }
    fn on_turn_end(&mut self, io: &mut Io<'_>) {
        if io.core() != 0 || self.armed {
            return;
        }
        self.armed = true;
        let now = io.now();
        let ms = Duration::from_millis;
        io.set_timer(now + ms(30), 30);
        io.set_timer(now + ms(10), 10);
        let cancelled = io.set_timer(now + ms(15), 15);
        io.set_timer(now + ms(20), 20);
        io.set_timer(now + ms(60), 60);
        io.cancel_timer(cancelled);
        io.cancel_timer(cancelled);
    }
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {}
}

#[test]
fn timers_fire_in_order_and_cancelled_ones_never_fire() {
    let _serial = serial();
    let (listener, _address) = listener();
    let fired = Arc::new(Mutex::new(Vec::new()));
    let for_cores = fired.clone();
    let started = Instant::now();
    let handle = runtime::start(config(2), listener, move |_| Timers {
        armed: false,
        fired: for_cores.clone(),
    })
    .expect("start");
    wait_until("the last timer", || {
        fired.lock().expect("fired").last() == Some(&60)
    });
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert_eq!(*fired.lock().expect("fired"), vec![10, 20, 30, 60]);
    stop(handle);
}

/// On "P": pauses reading, acknowledges, resumes 100 ms later from a timer.
struct Gate {
    events: Arc<Mutex<Vec<String>>>,
    paused: Option<ConnId>,
}

impl Handler for Gate {
    fn on_open(&mut self, _io: &mut Io<'_>, _conn: ConnId, _peer: SocketAddr) {}
    fn on_data(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        let text = String::from_utf8_lossy(data).to_string();
        self.events
            .lock()
            .expect("events")
            .push(format!("data:{text}"));
        if text == "P" {
            io.pause_reading(conn);
            self.paused = Some(conn);
            io.write(conn, b"paused");
            io.set_timer(io.now() + Duration::from_millis(100), 1);
        } else {
            io.write(conn, data);
        }
    }
    fn on_close(&mut self, _io: &mut Io<'_>, _conn: ConnId, _reason: CloseReason) {}
    fn on_mail(&mut self, _io: &mut Io<'_>, _from: usize, _record: &[u8]) {}
    fn on_timer(&mut self, io: &mut Io<'_>, _token: u64) {
        self.events
            .lock()
            .expect("events")
            .push("resume".to_string());
        if let Some(conn) = self.paused.take() {
            io.resume_reading(conn);
        }
    }
    fn on_turn_end(&mut self, _io: &mut Io<'_>) {}
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {}
}

#[test]
fn paused_connection_gets_no_data_until_resumed() {
    let _serial = serial();
    let (listener, address) = listener();
    let events = Arc::new(Mutex::new(Vec::new()));
    let for_cores = events.clone();
    let handle = runtime::start(config(2), listener, move |_| Gate {
        events: for_cores.clone(),
        paused: None,
    })
    .expect("start");
    let mut stream = connect(address);
    stream.write_all(b"P").expect("write");
    let mut ack = [0u8; 6];
    stream.read_exact(&mut ack).expect("ack");
    assert_eq!(&ack, b"paused");
    stream.write_all(b"hello").expect("write while paused");
    let mut echoed = [0u8; 5];
    stream.read_exact(&mut echoed).expect("echo after resume");
    assert_eq!(&echoed, b"hello");
    let events = events.lock().expect("events").clone();
    assert_eq!(events, vec!["data:P", "resume", "data:hello"]);
    stop(handle);
}

/// Answers any input with 1 MiB and closes with flush.
struct Farewell {
    stats: Arc<Stats>,
    body: Vec<u8>,
}

impl Handler for Farewell {
    fn on_open(&mut self, _io: &mut Io<'_>, _conn: ConnId, _peer: SocketAddr) {}
    fn on_data(&mut self, io: &mut Io<'_>, conn: ConnId, _data: &[u8]) {
        io.write(conn, &self.body);
        assert_eq!(io.pending_bytes(conn), self.body.len());
        io.close(conn, true);
        io.close(conn, true);
        io.write(conn, b"ignored after close");
    }
    fn on_close(&mut self, _io: &mut Io<'_>, _conn: ConnId, reason: CloseReason) {
        self.stats.reasons.lock().expect("reasons").push(reason);
        self.stats.closes.fetch_add(1, Ordering::SeqCst);
    }
    fn on_mail(&mut self, _io: &mut Io<'_>, _from: usize, _record: &[u8]) {}
    fn on_timer(&mut self, _io: &mut Io<'_>, _token: u64) {}
    fn on_turn_end(&mut self, _io: &mut Io<'_>) {}
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {}
}

#[test]
fn close_with_flush_sends_everything_queued_first() {
    let _serial = serial();
    let (listener, address) = listener();
    let stats = Arc::new(Stats::default());
    let for_cores = stats.clone();
    let body = pattern(1 << 20, 9);
    let expected = body.clone();
    let handle = runtime::start(config(2), listener, move |_| Farewell {
        stats: for_cores.clone(),
        body: body.clone(),
    })
    .expect("start");
    let mut stream = connect(address);
    stream.write_all(b"bye").expect("write");
    let mut received = Vec::new();
    stream.read_to_end(&mut received).expect("read to EOF");
    assert!(received == expected, "got {} bytes", received.len());
    wait_until("close", || stats.closes.load(Ordering::SeqCst) == 1);
    let reasons = stats.reasons.lock().expect("reasons").clone();
    assert_eq!(reasons, vec![CloseReason::Requested]);
    stop(handle);
}

/// The first connection (core 0) is a sink; input on core 1's connection is mailed to core 0
/// and written to the sink. A 1 KiB mailbox bound keeps core 1 pausing and resuming reads.
struct Relay {
    sink: Option<ConnId>,
    stats: Arc<Stats>,
}

impl Handler for Relay {
    fn on_open(&mut self, io: &mut Io<'_>, conn: ConnId, _peer: SocketAddr) {
        if io.core() == 0 {
            self.sink = Some(conn);
        }
        self.stats.opens_per_core[io.core()].fetch_add(1, Ordering::SeqCst);
    }
    fn on_data(&mut self, io: &mut Io<'_>, _conn: ConnId, data: &[u8]) {
        assert_eq!(io.core(), 1, "only the source sends");
        self.stats.bytes_in.fetch_add(data.len(), Ordering::SeqCst);
        io.send_mail(0, &[data]);
    }
    fn on_close(&mut self, _io: &mut Io<'_>, _conn: ConnId, _reason: CloseReason) {}
    fn on_mail(&mut self, io: &mut Io<'_>, _from: usize, record: &[u8]) {
        io.write(self.sink.expect("sink opened first"), record);
    }
    fn on_timer(&mut self, _io: &mut Io<'_>, _token: u64) {}
    fn on_turn_end(&mut self, _io: &mut Io<'_>) {}
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {}
}

#[test]
fn mailbox_backpressure_pauses_reading_and_loses_nothing() {
    let _serial = serial();
    let (listener, address) = listener();
    let stats = Arc::new(Stats::default());
    let for_cores = stats.clone();
    let mut tiny_mailbox = config(2);
    tiny_mailbox.mailbox_bytes = 1024;
    let handle = runtime::start(tiny_mailbox, listener, move |_| Relay {
        sink: None,
        stats: for_cores.clone(),
    })
    .expect("start");
    let mut sink = connect(address);
    wait_until("sink open", || stats.opens() == 1);
    let mut source = connect(address);
    wait_until("source open on core 1", || {
        stats.opens_per_core[1].load(Ordering::SeqCst) == 1
    });
    let data = pattern(8 << 20, 5);
    let to_send = data.clone();
    let sender = std::thread::spawn(move || source.write_all(&to_send).expect("source"));
    let mut received = vec![0u8; data.len()];
    if let Err(error) = sink.read_exact(&mut received) {
        panic!(
            "relay stalled after {} bytes in: {error}",
            stats.bytes_in.load(Ordering::SeqCst)
        );
    }
    sender.join().expect("sender");
    assert!(received == data, "relayed bytes differ");
    stop(handle);
}

fn set_fd_limit(soft: u64) -> u64 {
    ringmq::runtime::sys::set_open_files_limit(soft).expect("setrlimit")
}

fn highest_fd() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .expect("some fd")
}

fn echo_once(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).expect("write");
    let mut echoed = vec![0u8; message.len()];
    stream.read_exact(&mut echoed).expect("echo");
    assert_eq!(echoed, message);
}

#[test]
fn out_of_fds_keeps_old_connections_and_accepts_again_later() {
    let _serial = serial();
    // io_uring reads RLIMIT_NOFILE when the accept is armed, so lower it before starting.
    let previous = set_fd_limit(highest_fd() + 32);
    let (handle, address, stats) = start_echo(config(1));
    let mut first = connect(address);
    echo_once(&mut first, b"before");
    let mut fillers = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        fillers.push(file);
    }
    fillers.pop();
    // Our side of `second` takes the last fd; the server's accept gets EMFILE.
    let mut second = connect(address);
    second.write_all(b"waiting").expect("write");
    echo_once(&mut first, b"still served");
    assert_eq!(stats.opens(), 1);
    fillers.truncate(fillers.len() - 4);
    let mut echoed = [0u8; 7];
    second
        .read_exact(&mut echoed)
        .expect("accepted after the back-off");
    assert_eq!(&echoed, b"waiting");
    assert_eq!(stats.opens(), 2);
    drop(fillers);
    set_fd_limit(previous);
    stop(handle);
}

/// CPU clock ticks (user + system) of each live `ringmq-core-*` thread, by thread id.
fn core_thread_cpu_ticks() -> std::collections::HashMap<String, u64> {
    let mut ticks = std::collections::HashMap::new();
    for task in std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("ringmq-core-") {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let after_name = &stat[stat.rfind(')').map_or(0, |index| index + 2)..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; 12 and 13 after "pid (comm) ".
        let spent = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
        ticks.insert(task.file_name().to_string_lossy().into_owned(), spent);
    }
    ticks
}

#[test]
fn idle_cores_park_instead_of_spinning() {
    let _serial = serial();
    let (handle, address, stats) = start_echo(config(2));
    let mut idle = connect(address);
    echo_once(&mut idle, b"x");
    wait_until("open", || stats.opens() == 1);
    let before = core_thread_cpu_ticks();
    // Measuring an idle period, not synchronising: nothing happens during it.
    std::thread::sleep(Duration::from_millis(500));
    // Per thread: threads of an earlier runtime may exit meanwhile and leave the sum.
    let after = core_thread_cpu_ticks();
    let spent: u64 = after
        .iter()
        .map(|(tid, &ticks)| ticks.saturating_sub(before.get(tid).copied().unwrap_or(ticks)))
        .sum();
    assert!(spent <= 2, "idle cores used {spent} clock ticks in 500 ms");
    stop(handle);
}

/// Streams a large volume through one echo connection and reports the rate (larger in
/// release builds); asserts only that every byte came back in order.
#[test]
fn echo_stream_throughput_report() {
    let _serial = serial();
    let (handle, address, _stats) = start_echo(config(2));
    let total: usize = if cfg!(debug_assertions) {
        16 << 20
    } else {
        512 << 20
    };
    let block = pattern(256 * 1024, 11);
    let stream = connect(address);
    let mut writer = stream.try_clone().expect("clone");
    let to_send = block.clone();
    let started = Instant::now();
    let sender = std::thread::spawn(move || {
        for _ in 0..total / to_send.len() {
            writer.write_all(&to_send).expect("write");
        }
    });
    let mut reader = stream;
    let mut received = vec![0u8; block.len()];
    for _ in 0..total / block.len() {
        reader.read_exact(&mut received).expect("echo");
        assert!(received == block, "echoed block differs");
    }
    let elapsed = started.elapsed();
    sender.join().expect("sender");
    let rate = total as f64 / elapsed.as_secs_f64() / 1e6;
    eprintln!(
        "echo: {} MiB each way in {elapsed:?} = {rate:.0} MB/s",
        total >> 20
    );
    stop(handle);
}

/// 16-byte request/reply round trips over one connection; reports p50 / p99.
#[test]
fn echo_round_trip_latency_report() {
    let _serial = serial();
    let (handle, address, _stats) = start_echo(config(2));
    let mut stream = connect(address);
    stream.set_nodelay(true).expect("nodelay");
    let rounds = if cfg!(debug_assertions) {
        2_000
    } else {
        20_000
    };
    let mut latencies = Vec::with_capacity(rounds);
    let request = [7u8; 16];
    let mut reply = [0u8; 16];
    for _ in 0..rounds {
        let started = Instant::now();
        stream.write_all(&request).expect("write");
        stream.read_exact(&mut reply).expect("read");
        latencies.push(started.elapsed());
        assert_eq!(reply, request);
    }
    latencies.sort();
    let p50 = latencies[rounds / 2];
    let p99 = latencies[rounds * 99 / 100];
    eprintln!("round trip 16 B: p50 {p50:?}, p99 {p99:?} over {rounds} rounds");
    stop(handle);
}
