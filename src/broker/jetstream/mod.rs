//! JetStream on the loop (ARCHITECTURE.md, "JetStream: the design"). This first step hosts
//! every stream on core 0: its internal client subscribes to `$JS.API.>` and to each
//! stream's subjects, so a publish or request on any core reaches core 0 through the
//! existing cross-core path; core 0 appends through the storage engine (`store`), runs its
//! IO on its own ring (`executor`) and publishes responses and PubAcks as messages.
//!
//! - `boot`: start-up (before the cores run): the store directory, the banner, recovery of
//!   every stream from disk.
//! - `api`: the `$JS.API.>` requests.
//! - `publish`: a message into a stream: expectations, dedupe, append, PubAck after the
//!   engine says it is durable.
//! - `consumer`, `delivery`: consumers (push and pull), acks on `$JS.ACK.>`, redelivery
//!   and heartbeats on a tick.
//! - `executor`: one stream's engine requests on the ring, in order.

mod api;
pub mod boot;
mod consumer;
mod consumer_store;
mod delivery;
mod executor;
mod monitor;
mod publish;

use super::internal::InternalMsg;
use super::Shard;
use crate::auth::GLOBAL_ACCOUNT;
use crate::jetstream::api::ApiStats;
use crate::jetstream::stream_config::StreamConfig;
use crate::runtime::{FileResult, Io};
use crate::store::{StoreEvent, StreamStore};
use crate::{error, info};
pub use boot::JetStreamShared;
use executor::{Step, StreamIo};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// How many times one turn's end re-reads the internal inbox when the service's own
/// publishes land in it again (a response on a stream's subject); the rest waits a turn.
const INBOX_ROUNDS: usize = 8;

/// The JetStream service of core 0.
pub(super) struct JetStream {
    shared: std::sync::Arc<JetStreamShared>,
    /// The `$JS.API.>` subscription (and `$JS.<domain>.API.>`).
    api_subs: Vec<usize>,
    /// The `$JS.ACK.>` subscription.
    ack_sub: usize,
    /// Consumers made this turn, to deliver to at its end.
    deliver_soon: Vec<(String, String)>,
    /// The tick timer is set.
    tick_armed: bool,
    /// Seeds ephemeral consumer names.
    name_seed: u64,
    /// Creates of a stream whose namesake is still being deleted, answered after.
    deferred: Vec<InternalMsg>,
    streams: BTreeMap<String, Stream>,
    /// Internal subscription slot → the stream it feeds.
    by_sub: HashMap<usize, String>,
    /// Ring tag (stream id) → stream name.
    by_id: HashMap<u32, String>,
    next_id: u32,
    stats: ApiStats,
}

/// A stream hosted here.
pub(super) struct Stream {
    id: u32,
    config: StreamConfig,
    created_ns: i64,
    store: StreamStore,
    io: StreamIo,
    subs: Vec<usize>,
    /// PubAcks waiting for the engine's `Durable` (in sequence order).
    acks: VecDeque<publish::PendingAck>,
    dedupe: publish::Dedupe,
    /// Reads in flight: for an API answer or a consumer's delivery.
    reads: HashMap<u64, ReadFor>,
    consumers: BTreeMap<String, consumer::Consumer>,
    /// Numbers the next consumer's file.
    next_consumer_slot: u32,
    /// Deleted: its files are being removed; gone from `streams` when the IO is done.
    deleting: bool,
}

/// Who waits for a read.
enum ReadFor {
    Api(api::PendingRead),
    Consumer(String),
}

impl Stream {
    /// A stream of `config` over `store`, fed by the internal subscriptions `subs`.
    fn new(
        config: StreamConfig,
        created_ns: i64,
        store: StreamStore,
        root: std::path::PathBuf,
        subs: Vec<usize>,
    ) -> Stream {
        Stream {
            id: 0,
            config,
            created_ns,
            store,
            io: StreamIo::new(root),
            subs,
            acks: VecDeque::new(),
            dedupe: publish::Dedupe::default(),
            reads: HashMap::new(),
            consumers: BTreeMap::new(),
            next_consumer_slot: 0,
            deleting: false,
        }
    }
}

impl JetStream {
    fn new(shared: std::sync::Arc<JetStreamShared>, seed: u64) -> JetStream {
        JetStream {
            shared,
            api_subs: Vec::new(),
            ack_sub: usize::MAX,
            deliver_soon: Vec::new(),
            tick_armed: false,
            name_seed: seed | 1,
            deferred: Vec::new(),
            streams: BTreeMap::new(),
            by_sub: HashMap::new(),
            by_id: HashMap::new(),
            next_id: 1,
            stats: ApiStats::default(),
        }
    }

    fn add_stream(&mut self, mut stream: Stream) {
        stream.id = self.next_id;
        self.next_id += 1;
        self.by_id.insert(stream.id, stream.config.name.clone());
        for &sub in &stream.subs {
            self.by_sub.insert(sub, stream.config.name.clone());
        }
        self.streams.insert(stream.config.name.clone(), stream);
    }
}

/// A finished IO request: the engine's, or a consumer file's (whose failure is logged; the
/// next change writes the file again).
fn complete(store: &mut StreamStore, stream: &str, token: u64, result: crate::store::IoResult) {
    if token & consumer_store::SERVICE_TOKEN == 0 {
        store.complete(token, result);
    } else if let crate::store::IoResult::Err(errno) = result {
        // ENOENT: a consumer directory that was never made, removed with its stream.
        if errno != libc::ENOENT {
            error!("JetStream stream '{stream}': a consumer file operation failed: errno {errno}");
        }
    }
}

/// Nanoseconds since the Unix epoch (stored message times, `created`).
pub(super) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl Shard {
    /// On cores other than 0, when the shard is made: core 0's start-up subscriptions
    /// (the API, the recovered streams' subjects) counted as its interest.
    pub(super) fn preload_jetstream_interest(&mut self) {
        let Some(shared) = self.shared.jetstream.clone() else {
            return;
        };
        let trie = &mut self.remote[usize::from(GLOBAL_ACCOUNT)];
        let ack = [boot::ACK_SUBJECT.to_string()];
        let service = shared.api_subjects().into_iter().chain(ack);
        for subject in service.chain(shared.stream_subjects.iter().cloned()) {
            let inserted = trie.insert(subject.as_bytes(), None, 0);
            debug_assert!(inserted.is_ok(), "stream subjects were checked");
        }
    }

    /// Core 0's first turn: the service takes the recovered streams and subscribes. Other
    /// cores counted the same interest when they were made (`boot::preload_interest`), so
    /// a request that reaches them before this turn is forwarded, not refused.
    pub(super) fn start_jetstream(&mut self, io: &mut Io<'_>) {
        let Some(shared) = self.shared.jetstream.clone() else {
            return;
        };
        let Some(boot) = shared.take_boot() else {
            return;
        };
        let mut js = JetStream::new(shared.clone(), self.shared.seed);
        for subject in shared.api_subjects() {
            js.api_subs
                .push(self.internal_subscribe_preloaded(io, GLOBAL_ACCOUNT, &subject));
        }
        js.ack_sub = self.internal_subscribe_preloaded(io, GLOBAL_ACCOUNT, boot::ACK_SUBJECT);
        let now = io.now();
        for recovered in boot.streams {
            let mut consumers = BTreeMap::new();
            let mut next_consumer_slot = 0;
            for file in recovered.consumers {
                let mut consumer = file.restore(now);
                consumer.slot = next_consumer_slot;
                next_consumer_slot += 1;
                consumers.insert(consumer.name.clone(), consumer);
            }
            let subs = recovered
                .config
                .subjects
                .iter()
                .map(|subject| self.internal_subscribe_preloaded(io, GLOBAL_ACCOUNT, subject))
                .collect();
            let root = shared.jetstream_dir.clone();
            let mut stream = Stream::new(
                recovered.config,
                recovered.created_ns,
                recovered.store,
                root,
                subs,
            );
            stream.consumers = consumers;
            stream.next_consumer_slot = next_consumer_slot;
            js.add_stream(stream);
        }
        self.jetstream = Some(Box::new(js));
        self.pump_jetstream(io);
    }

    /// At the turn's end: the internal inbox (API requests, publishes into streams), then
    /// every stream's IO.
    pub(super) fn run_jetstream(&mut self, io: &mut Io<'_>) {
        let Some(mut js) = self.jetstream.take() else {
            return;
        };
        for _ in 0..INBOX_ROUNDS {
            let inbox = self.take_internal_inbox();
            if inbox.is_empty() {
                self.return_internal_inbox(inbox);
                break;
            }
            for msg in &inbox {
                self.jetstream_message(io, &mut js, msg);
            }
            self.return_internal_inbox(inbox);
        }
        for (stream, consumer) in std::mem::take(&mut js.deliver_soon) {
            self.deliver_consumer(io, &mut js, &stream, &consumer);
        }
        self.jetstream = Some(js);
        self.pump_jetstream(io);
    }

    fn jetstream_message(&mut self, io: &mut Io<'_>, js: &mut JetStream, msg: &InternalMsg) {
        if msg.sub == js.ack_sub {
            self.jetstream_ack(io, js, msg);
        } else if js.api_subs.contains(&msg.sub) {
            self.jetstream_api(io, js, msg);
        } else if let Some(name) = js.by_sub.get(&msg.sub).cloned() {
            self.jetstream_publish(io, js, &name, msg);
        }
    }

    /// Runs every stream's queued IO and handles what its engine says.
    pub(super) fn pump_jetstream(&mut self, io: &mut Io<'_>) {
        let Some(mut js) = self.jetstream.take() else {
            return;
        };
        let names: Vec<String> = js.streams.keys().cloned().collect();
        for name in names {
            self.pump_stream(io, &mut js, &name);
        }
        let ticking = js.streams.values().any(|s| {
            !s.consumers.is_empty()
                || s.config.max_age > 0
                || matches!(js.shared.sync, crate::config::SyncPolicy::Interval(_))
        });
        if ticking && !js.tick_armed {
            js.tick_armed = true;
            let at = io.now() + delivery::TICK;
            io.set_timer(at, super::timers::Timer::JetStream.token());
        }
        self.jetstream = Some(js);
    }

    fn pump_stream(&mut self, io: &mut Io<'_>, js: &mut JetStream, name: &str) {
        loop {
            let Some(stream) = js.streams.get_mut(name) else {
                return;
            };
            while let Some((token, op)) = stream.store.poll_io() {
                stream.io.push(token, op);
            }
            let mut progressed = false;
            if let Some((token, result)) = stream.io.submit(io, u64::from(stream.id)) {
                complete(&mut stream.store, name, token, result);
                progressed = true;
            }
            let mut events = Vec::new();
            while let Some(event) = stream.store.poll_event() {
                events.push(event);
            }
            let gone = stream.deleting && stream.io.idle() && stream.store.idle();
            for event in events {
                progressed = true;
                self.stream_event(io, js, name, event);
            }
            if gone {
                if let Some(stream) = js.streams.remove(name) {
                    js.by_id.remove(&stream.id);
                }
                let (now, later): (Vec<InternalMsg>, Vec<InternalMsg>) =
                    std::mem::take(&mut js.deferred)
                        .into_iter()
                        .partition(|m| m.subject.ends_with(&format!(".STREAM.CREATE.{name}")));
                js.deferred = later;
                for msg in now {
                    self.jetstream_api(io, js, &msg);
                }
                return;
            }
            if !progressed {
                return;
            }
        }
    }

    fn stream_event(&mut self, io: &mut Io<'_>, js: &mut JetStream, name: &str, event: StoreEvent) {
        match event {
            StoreEvent::Durable { through } => {
                self.send_pubacks(io, js, name, through);
                self.deliver_stream(io, js, name);
            }
            StoreEvent::AppendFailed { first, last, errno } => {
                error!("JetStream stream '{name}': appends {first}..={last} failed: errno {errno}");
                self.fail_pubacks(io, js, name, first, last, errno);
            }
            StoreEvent::ReadDone { ticket, msg } => {
                let waiter = js
                    .streams
                    .get_mut(name)
                    .and_then(|s| s.reads.remove(&ticket));
                match waiter {
                    Some(ReadFor::Api(pending)) => self.finish_read(io, name, pending, msg),
                    Some(ReadFor::Consumer(consumer)) => {
                        self.consumer_read_done(io, js, name, &consumer, msg.ok())
                    }
                    None => {}
                }
            }
            StoreEvent::Log(line) => info!("JetStream stream '{name}': {line}"),
        }
    }

    /// A ring operation of a stream finished.
    pub(super) fn jetstream_file_done(&mut self, io: &mut Io<'_>, tag: u64, result: FileResult) {
        let Some(mut js) = self.jetstream.take() else {
            return;
        };
        let name = js.by_id.get(&(tag as u32)).cloned();
        if let Some(name) = name {
            if let Some(stream) = js.streams.get_mut(&name) {
                if let Step::Done(token, answer) = stream.io.finished(result) {
                    complete(&mut stream.store, &name, token, answer);
                }
                self.pump_stream(io, &mut js, &name);
            }
        }
        self.jetstream = Some(js);
    }

    /// Shutdown: nothing new is taken; descriptors are closed.
    pub(super) fn stop_jetstream(&mut self) {
        let Some(js) = self.jetstream.take() else {
            return;
        };
        info!("Initiating JetStream Shutdown...");
        for stream in js.streams.values() {
            for fd in stream.io.open_fds() {
                // The ring is stopping; a plain close is all that is left to do.
                crate::runtime::sys::close_fd(fd);
            }
        }
        info!("JetStream Shutdown");
    }
}
