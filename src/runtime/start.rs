//! Starting the cores: the listeners core 0 accepts on, the configuration checked, the
//! mailboxes between every pair of cores, and one thread per core running its loop.

use std::net::TcpListener;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use super::core_state::{CoreState, Shared};
use super::{
    buffer_ring, event_loop, mailbox, outbound, ring, ring_fd, signals, timer, websocket, Handler,
    RuntimeConfig, RuntimeHandle,
};

/// The listening sockets core 0 accepts on.
#[derive(Debug)]
pub struct Listeners {
    /// Client connections: each goes to the least-loaded core and counts as live.
    pub clients: TcpListener,
    /// Connections that stay on core 0, uncounted, opened with [`Handler::on_open_local`]
    /// (the HTTP monitoring port: a handful of short requests that must not skew the
    /// least-loaded choice or `max_connections`).
    pub local: Option<TcpListener>,
    /// Leaf node connections: like `local` (core 0, uncounted), opened with
    /// [`Handler::on_open_leaf`].
    pub leaf: Option<TcpListener>,
    /// Cluster route connections: like `local` (core 0, uncounted), opened with
    /// [`Handler::on_open_route`].
    pub route: Option<TcpListener>,
    /// WebSocket client connections: spread over the cores and counted like `clients`,
    /// opened with [`Handler::on_open_websocket`].
    pub websocket: Option<TcpListener>,
}

/// Starts the cores with one client listener; see the module contract.
pub fn start<H, F>(
    config: RuntimeConfig,
    listener: TcpListener,
    make_handler: F,
) -> std::io::Result<RuntimeHandle>
where
    H: Handler + 'static,
    F: Fn(usize) -> H + Send + Sync + 'static,
{
    let listeners = Listeners {
        clients: listener,
        local: None,
        leaf: None,
        route: None,
        websocket: None,
    };
    start_with(config, listeners, make_handler)
}

/// Starts the cores with a client listener and, optionally, a local one; see the module
/// contract.
pub fn start_with<H, F>(
    config: RuntimeConfig,
    listeners: Listeners,
    make_handler: F,
) -> std::io::Result<RuntimeHandle>
where
    H: Handler + 'static,
    F: Fn(usize) -> H + Send + Sync + 'static,
{
    validate(&config)?;
    signals::ignore_sigpipe();
    let cores = config.cores;
    let shared = Arc::new(Shared::new(cores));
    let make_handler = Arc::new(make_handler);
    let (outboxes, inboxes) = mailboxes(cores, config.mailbox_bytes);
    let (ready_sender, ready_receiver) = mpsc::channel();
    let mut listeners = Some(listeners);
    let mut threads = Vec::with_capacity(cores);
    for ((core, outboxes), inboxes) in outboxes.into_iter().enumerate().zip(inboxes) {
        let seed = CoreSeed {
            core,
            config: config.clone(),
            shared: shared.clone(),
            outboxes,
            inboxes,
            listeners: if core == 0 { listeners.take() } else { None },
        };
        let make_handler = make_handler.clone();
        let ready = ready_sender.clone();
        let thread = std::thread::Builder::new()
            .name(format!("ringmq-core-{core}"))
            .spawn(move || run_core(seed, ready, move |core| make_handler(core)))?;
        threads.push(thread);
    }
    // Only the threads hold senders now: a thread that ends without reporting (its handler
    // factory panicked) ends the wait below instead of blocking it forever.
    drop(ready_sender);
    let handle = RuntimeHandle { shared, threads };
    for _ in 0..cores {
        let result = ready_receiver
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("a core thread ended during start-up")));
        if let Err(error) = result {
            handle.shutdown();
            let RuntimeHandle { threads, .. } = handle;
            for thread in threads {
                let _ = thread.join();
            }
            return Err(error);
        }
    }
    Ok(handle)
}

fn validate(config: &RuntimeConfig) -> std::io::Result<()> {
    let invalid = |text: &str| Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, text));
    if config.cores == 0 {
        return invalid("runtime: cores must be at least 1");
    }
    if !config.recv_buffers.is_power_of_two() || config.recv_buffers > buffer_ring::ENTRIES_MAX {
        return invalid("runtime: recv_buffers must be a power of two no larger than 32768");
    }
    if config.recv_buffer_size == 0 {
        return invalid("runtime: recv_buffer_size must be positive");
    }
    if config.connections_per_core == 0 {
        return invalid("runtime: connections_per_core must be positive");
    }
    Ok(())
}

/// Per core: its outboxes (indexed by receiver) and inboxes (indexed by sender).
type MailboxEnds = (
    Vec<Vec<Option<mailbox::Outbox>>>,
    Vec<Vec<Option<mailbox::Inbox>>>,
);

fn mailboxes(cores: usize, mailbox_bytes: usize) -> MailboxEnds {
    let mut outboxes: Vec<Vec<Option<mailbox::Outbox>>> = (0..cores)
        .map(|_| (0..cores).map(|_| None).collect())
        .collect();
    let mut inboxes: Vec<Vec<Option<mailbox::Inbox>>> = (0..cores)
        .map(|_| (0..cores).map(|_| None).collect())
        .collect();
    for sender in 0..cores {
        for receiver in 0..cores {
            if sender != receiver {
                let (outbox, inbox) = mailbox::channel(mailbox_bytes);
                outboxes[sender][receiver] = Some(outbox);
                inboxes[receiver][sender] = Some(inbox);
            }
        }
    }
    (outboxes, inboxes)
}

/// Everything a core thread starts with.
struct CoreSeed {
    core: usize,
    config: RuntimeConfig,
    shared: Arc<Shared>,
    outboxes: Vec<Option<mailbox::Outbox>>,
    inboxes: Vec<Option<mailbox::Inbox>>,
    listeners: Option<Listeners>,
}

/// A core thread: builds its ring on this thread (SINGLE_ISSUER), reports readiness, runs.
fn run_core<H: Handler>(
    seed: CoreSeed,
    ready: mpsc::Sender<std::io::Result<()>>,
    make_handler: impl FnOnce(usize) -> H,
) {
    let shared = seed.shared.clone();
    // Dropped last (after the loop and its `Ring`, which borrow it), also when unwinding:
    // withdraws the fd from wakers before the ring closes.
    let mut io_ring = match ring::build_ring() {
        Ok(io_ring) => ring_fd::PublishedRing::new(io_ring, shared.clone(), seed.core),
        Err(error) => {
            shared.note_exited();
            let _ = ready.send(Err(error));
            return;
        }
    };
    let setup = buffer_ring::BufferRing::new(
        event_loop::BUFFER_GROUP,
        seed.config.recv_buffers,
        seed.config.recv_buffer_size,
    )
    .and_then(|buffers| ring::Ring::new(io_ring.ring_mut(), buffers));
    let ring = match setup {
        Ok(parts) => parts,
        Err(error) => {
            shared.note_exited();
            let _ = ready.send(Err(error));
            return;
        }
    };
    let now = Instant::now();
    let state = CoreState {
        core: seed.core,
        config: seed.config,
        shared: seed.shared,
        now,
        connections: slab::Slab::new(),
        slot_generations: Vec::new(),
        pool: outbound::ChunkPool::default(),
        dirty: Vec::new(),
        closing: Vec::new(),
        to_arm: Vec::new(),
        to_resume: Vec::new(),
        stalled: Vec::new(),
        pending_entries: Vec::new(),
        outboxes: seed.outboxes,
        mail_paused: vec![false; seed.inboxes.len()],
        inboxes: seed.inboxes,
        timers: timer::Timers::new(now),
        mail_blocked: false,
        write_scan_armed: false,
        shutting_down: false,
        tls_plaintext: Vec::new(),
        websocket_engines: websocket::Engines::default(),
        files: Default::default(),
        to_connect: Vec::new(),
    };
    let handler = make_handler(seed.core);
    let _ = ready.send(Ok(()));
    let event_loop = event_loop::EventLoop::new(ring, state, handler, seed.listeners);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| event_loop.run()));
    if let Err(payload) = outcome {
        shared.note_exited();
        std::panic::resume_unwind(payload);
    }
}
