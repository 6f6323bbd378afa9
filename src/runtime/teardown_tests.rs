//! How a core lets go of what the kernel shares with it, on each way a core can end: the
//! buffer ring is unregistered before it is unmapped (or its buffers leaked while a recv may
//! still write into them), and the ring fd is withdrawn from wakers before the ring closes.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use super::buffer_ring::{Disposal, DISPOSALS};
use super::{start, CloseReason, ConnId, Handler, Io, RuntimeConfig, RuntimeHandle};

/// These tests read the disposals of every core thread (all named `ringmq-core-N`), so they
/// run one at a time.
static ONE_RUNTIME_AT_A_TIME: Mutex<()> = Mutex::new(());

#[derive(Clone, Copy, PartialEq, Eq)]
enum PanicAt {
    Nowhere,
    Data,
    Shutdown,
}

struct TestHandler {
    panic_at: PanicAt,
}

impl Handler for TestHandler {
    fn on_open(&mut self, _io: &mut Io<'_>, _conn: ConnId, _peer: SocketAddr) {}
    fn on_data(&mut self, _io: &mut Io<'_>, _conn: ConnId, _data: &[u8]) {
        assert!(self.panic_at != PanicAt::Data, "handler failed in on_data");
    }
    fn on_close(&mut self, _io: &mut Io<'_>, _conn: ConnId, _reason: CloseReason) {}
    fn on_mail(&mut self, _io: &mut Io<'_>, _from: usize, _record: &[u8]) {}
    fn on_timer(&mut self, _io: &mut Io<'_>, _token: u64) {}
    fn on_turn_end(&mut self, _io: &mut Io<'_>) {}
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {
        assert!(
            self.panic_at != PanicAt::Shutdown,
            "handler failed in on_shutdown"
        );
    }
}

fn config() -> RuntimeConfig {
    RuntimeConfig {
        cores: 1,
        recv_buffers: 8,
        recv_buffer_size: 1024,
        connections_per_core: 16,
        mailbox_bytes: 1 << 20,
        write_deadline: Duration::from_secs(10),
        shutdown_flush: Duration::from_millis(100),
        tls: None,
    }
}

fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind")
}

/// Runs `body` with the runtime tests serialised; returns what core threads disposed of.
fn core_disposals(body: impl FnOnce()) -> Vec<Disposal> {
    let _serial = ONE_RUNTIME_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let before = DISPOSALS.lock().unwrap_or_else(|e| e.into_inner()).len();
    body();
    let disposals = DISPOSALS.lock().unwrap_or_else(|e| e.into_inner());
    disposals[before..]
        .iter()
        .filter(|(thread, _)| thread.starts_with("ringmq-core-"))
        .map(|&(_, disposal)| disposal)
        .collect()
}

fn start_handler(panic_at: PanicAt, listener: TcpListener) -> RuntimeHandle {
    start(config(), listener, move |_| TestHandler { panic_at }).expect("start")
}

fn assert_no_ring_fd_left(handle_shared: &super::Shared) {
    for (core, slot) in handle_shared.ring_fds.iter().enumerate() {
        assert_eq!(
            slot.acquire(),
            None,
            "core {core}'s ring fd is still published"
        );
    }
}

#[test]
fn a_normal_shutdown_unregisters_the_buffers_and_withdraws_the_ring_fd() {
    let disposals = core_disposals(|| {
        let handle = start_handler(PanicAt::Nowhere, listener());
        let shared = handle.shared.clone();
        assert!(
            shared.ring_fds[0].acquire().is_some(),
            "published while running"
        );
        shared.ring_fds[0].release();
        handle.shutdown();
        handle.join();
        assert_no_ring_fd_left(&shared);
        // A late wake-up (a bcrypt check finishing after shutdown) finds no fd to aim at.
        super::CoreWaker { shared, core: 0 }.wake();
    });
    assert_eq!(disposals, [Disposal::Unmapped]);
}

#[test]
fn a_handler_factory_that_panics_after_the_ring_is_built_unregisters_first() {
    let disposals = core_disposals(|| {
        let started = start(config(), listener(), |_| -> TestHandler {
            panic!("make_handler failed")
        });
        assert!(started.is_err());
    });
    assert_eq!(disposals, [Disposal::Unmapped]);
}

#[test]
fn unwinding_with_nothing_in_flight_unregisters_first() {
    let disposals = core_disposals(|| {
        let handle = start_handler(PanicAt::Shutdown, listener());
        let shared = handle.shared.clone();
        handle.shutdown();
        let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.join()));
        assert!(joined.is_err(), "the core's panic reaches join");
        assert_no_ring_fd_left(&shared);
    });
    assert_eq!(disposals, [Disposal::Unmapped]);
}

#[test]
fn unwinding_with_a_recv_in_flight_unregisters_and_keeps_the_buffers() {
    let disposals = core_disposals(|| {
        let listener = listener();
        let address = listener.local_addr().expect("address");
        let handle = start_handler(PanicAt::Data, listener);
        let shared = handle.shared.clone();
        let mut client = TcpStream::connect(address).expect("connect");
        client.write_all(b"boom").expect("write");
        let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.join()));
        assert!(joined.is_err(), "the core's panic reaches join");
        assert_no_ring_fd_left(&shared);
    });
    assert_eq!(disposals, [Disposal::DataLeaked]);
}
