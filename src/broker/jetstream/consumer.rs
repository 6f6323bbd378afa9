//! A consumer's state and the decisions that need no IO: where it starts, what it
//! delivers next, what an ack does, what is due for redelivery. `delivery` drives it with
//! the stream's engine and publishes.

use crate::jetstream::ack::PullRequest;
use crate::jetstream::api::{ConsumerInfo, SequenceInfo};
use crate::jetstream::consumer_config::{AckPolicy, ConsumerConfig, DeliverPolicy};
use crate::jetstream::json::GoTime;
use crate::store::StreamStore;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// A delivered message waiting for its ack.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pending {
    pub consumer_seq: u64,
    /// Deliveries so far (1 on the first).
    pub deliveries: u64,
    /// When it is due for redelivery.
    pub deadline: Instant,
}

/// The last count of `Consumer::num_pending`, with the stream state it was made in.
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingCache {
    from: u64,
    first: u64,
    last: u64,
    msgs: u64,
    count: u64,
}

/// A pull request waiting for messages.
#[derive(Debug)]
pub(super) struct Waiting {
    pub reply: String,
    pub batch: i64,
    /// Bytes it may still take (0: no limit).
    pub max_bytes: i64,
    pub expires: Option<Instant>,
    pub no_wait: bool,
    pub heartbeat: Option<Duration>,
    pub last_heartbeat: Instant,
    /// Messages delivered to it so far.
    pub delivered: u64,
}

/// A consumer of a stream.
#[derive(Debug)]
pub(super) struct Consumer {
    pub name: String,
    pub config: ConsumerConfig,
    pub created_ns: i64,
    /// The next stream sequence never delivered.
    pub next_seq: u64,
    /// Sequences to deliver before `next_seq` (deliver policy `last_per_subject`).
    pub start_queue: VecDeque<u64>,
    /// Last delivery: consumer sequence, stream sequence, time.
    pub delivered: (u64, u64, i64),
    pub ack_floor: (u64, u64, i64),
    pub pending: BTreeMap<u64, Pending>,
    /// Stream sequences due for redelivery, in order.
    pub redeliver: VecDeque<u64>,
    pub waiting: VecDeque<Waiting>,
    /// The last message or heartbeat sent to a push consumer's deliver subject.
    pub last_sent: Instant,
    /// Deliveries stopped at a message being read from disk.
    pub reading: bool,
    /// When the last ack (of any kind) arrived (`ack_floor.last_active`).
    pub last_ack_ns: i64,
    /// A push consumer's deliver subject has a subscriber (`push_bound`).
    pub push_bound: bool,
    /// Its state changed since its file was last written (`consumer_store`).
    pub dirty: bool,
    /// Numbers its file among the stream's consumers.
    pub slot: u32,
    /// `num_pending`'s last count (see there).
    pub pending_cache: std::cell::Cell<Option<PendingCache>>,
    /// The last sign of a client: a pull request, an ack, or a subscriber on the deliver
    /// subject (an ephemeral is removed after `inactive_threshold` without one).
    pub last_active: Instant,
}

impl Consumer {
    /// A new consumer of a stream in `store`'s state, starting where its deliver policy
    /// says.
    pub fn new(
        name: String,
        config: ConsumerConfig,
        store: &StreamStore,
        now: Instant,
    ) -> Consumer {
        let state = store.state();
        let filter = filter_of(&config);
        let mut start_queue = VecDeque::new();
        let next_seq = match config.deliver_policy {
            DeliverPolicy::All | DeliverPolicy::Undefined => state.first_seq.max(1),
            DeliverPolicy::ByStartTime => {
                let start = config.opt_start_time.as_ref().and_then(|t| t.unix_nanos());
                match start {
                    Some(ns) => store
                        .first_seq_at_or_after(ns)
                        .unwrap_or(state.last_seq + 1),
                    None => state.first_seq.max(1),
                }
            }
            DeliverPolicy::Last => state.last_seq.max(1),
            DeliverPolicy::New => state.last_seq + 1,
            DeliverPolicy::ByStartSequence => config.opt_start_seq.max(1),
            DeliverPolicy::LastPerSubject => {
                let pattern = filter.unwrap_or(">");
                let mut seqs: Vec<u64> = store
                    .subjects_matching(pattern)
                    .iter()
                    .filter_map(|(subject, _)| store.last_for_subject(subject))
                    .collect();
                seqs.sort_unstable();
                start_queue.extend(seqs);
                state.last_seq + 1
            }
        };
        let start = start_queue
            .front()
            .copied()
            .unwrap_or(next_seq)
            .saturating_sub(1);
        let mut consumer = Consumer::restored(name, config, now);
        consumer.created_ns = super::now_ns();
        consumer.next_seq = next_seq;
        consumer.start_queue = start_queue;
        consumer.delivered = (0, start, 0);
        consumer
    }

    /// A consumer with nothing delivered, starting at sequence 1: what `new` and a
    /// consumer read back from its file (`consumer_store::ConsumerFile::restore`) adjust.
    pub fn restored(name: String, config: ConsumerConfig, now: Instant) -> Consumer {
        Consumer {
            name,
            config,
            created_ns: 0,
            next_seq: 1,
            start_queue: VecDeque::new(),
            delivered: (0, 0, 0),
            ack_floor: (0, 0, 0),
            pending: BTreeMap::new(),
            redeliver: VecDeque::new(),
            waiting: VecDeque::new(),
            last_sent: now,
            reading: false,
            last_ack_ns: 0,
            push_bound: false,
            dirty: false,
            slot: 0,
            last_active: now,
            pending_cache: std::cell::Cell::new(None),
        }
    }

    pub fn acks(&self) -> bool {
        self.config.ack_policy != AckPolicy::None
    }

    pub fn ack_wait(&self, deliveries: u64) -> Duration {
        let backoff = &self.config.backoff;
        let ns = if backoff.is_empty() {
            self.config.ack_wait
        } else {
            let index = (deliveries.saturating_sub(1) as usize).min(backoff.len() - 1);
            backoff[index]
        };
        Duration::from_nanos(ns.max(1) as u64)
    }

    /// Whether max_ack_pending stops deliveries.
    pub fn saturated(&self) -> bool {
        self.acks()
            && self.config.max_ack_pending > 0
            && self.pending.len() as i64 >= self.config.max_ack_pending
    }

    /// The next stream sequence to deliver and whether it is a redelivery.
    pub fn next(&mut self, store: &StreamStore) -> Option<(u64, bool)> {
        while let Some(seq) = self.redeliver.pop_front() {
            if self.pending.contains_key(&seq) {
                return Some((seq, true));
            }
        }
        while let Some(seq) = self.start_queue.pop_front() {
            if store.next_matching(seq, filter_of(&self.config)) == Some(seq) {
                return Some((seq, false));
            }
        }
        let seq = store.next_matching(self.next_seq, filter_of(&self.config))?;
        Some((seq, false))
    }

    /// Gives back what `next` returned when it could not be delivered now.
    pub fn put_back(&mut self, seq: u64, redelivery: bool) {
        if redelivery {
            self.redeliver.push_front(seq);
        } else if seq < self.next_seq {
            self.start_queue.push_front(seq);
        }
    }

    /// Records a delivery of `seq` (stored at `time_ns`); returns (deliveries, consumer
    /// sequence).
    pub fn record_delivery(
        &mut self,
        seq: u64,
        redelivery: bool,
        time_ns: i64,
        now: Instant,
    ) -> (u64, u64) {
        let consumer_seq = self.delivered.0 + 1;
        let deliveries = if redelivery {
            self.pending.get(&seq).map_or(1, |p| p.deliveries + 1)
        } else {
            let from = self.next_seq;
            if seq >= from {
                self.next_seq = seq + 1;
                self.took_one(from, seq);
            }
            1
        };
        self.delivered = (consumer_seq, self.delivered.1.max(seq), super::now_ns());
        let _ = time_ns;
        if self.acks() {
            let deadline = now + self.ack_wait(deliveries);
            self.pending.insert(
                seq,
                Pending {
                    consumer_seq,
                    deliveries,
                    deadline,
                },
            );
        } else {
            self.ack_floor = (consumer_seq, seq, 0);
        }
        self.last_sent = now;
        self.dirty = true;
        (deliveries, consumer_seq)
    }

    /// An ack of `seq` (for `ack_policy: all`, of everything up to it).
    /// An ack of `seq` (for `ack_policy: all`, of everything up to it); returns the
    /// sequences it acknowledged.
    pub fn ack(&mut self, seq: u64) -> Vec<u64> {
        self.last_ack_ns = super::now_ns();
        self.dirty = true;
        let done: Vec<u64> = match self.config.ack_policy {
            AckPolicy::All => self.pending.range(..=seq).map(|(s, _)| *s).collect(),
            _ if self.pending.contains_key(&seq) => vec![seq],
            _ => Vec::new(),
        };
        for s in &done {
            self.pending.remove(s);
        }
        self.move_floor();
        done
    }

    /// Whether this consumer is done with `seq` (for interest retention): delivered and
    /// no longer awaiting an ack, or not a message it takes.
    pub fn done_with(&self, seq: u64, store: &StreamStore) -> bool {
        if store.next_matching(seq, filter_of(&self.config)) != Some(seq) {
            return true;
        }
        seq <= self.delivered.1 && !self.pending.contains_key(&seq)
    }

    /// The ack floor: everything delivered below the first pending message.
    pub fn move_floor(&mut self) {
        match self.pending.iter().next() {
            None => self.ack_floor = self.delivered,
            Some((&seq, pending)) => {
                let floor = (pending.consumer_seq - 1, seq - 1, 0);
                if floor.0 > self.ack_floor.0 || floor.1 > self.ack_floor.1 {
                    self.ack_floor = floor;
                }
            }
        }
    }

    /// Messages not delivered yet that the consumer would take. Counting them is linear in
    /// the backlog, and every delivery's ack subject carries the count: the last count is
    /// kept and moved by what happened since (a delivery takes one, appends add theirs);
    /// anything else (deletes, purges, limits) counts again.
    pub fn num_pending(&self, store: &StreamStore) -> u64 {
        let state = store.state();
        let filter = filter_of(&self.config);
        let counted = match self.pending_cache.get() {
            Some(c)
                if c.from == self.next_seq
                    && c.first == state.first_seq
                    && c.last == state.last_seq
                    && c.msgs == state.msgs =>
            {
                c.count
            }
            Some(c)
                if c.from == self.next_seq
                    && c.first == state.first_seq
                    && state.last_seq > c.last =>
            {
                // Only appends since, if the live count grew by exactly the live messages
                // above the old last sequence.
                let added = store.num_pending(c.last + 1, None);
                if state.msgs == c.msgs + added {
                    c.count + store.num_pending(c.last + 1, filter)
                } else {
                    store.num_pending(self.next_seq, filter)
                }
            }
            _ => store.num_pending(self.next_seq, filter),
        };
        self.pending_cache.set(Some(PendingCache {
            from: self.next_seq,
            first: state.first_seq,
            last: state.last_seq,
            msgs: state.msgs,
            count: counted,
        }));
        counted + self.start_queue.len() as u64
    }

    /// After the delivery of new message `seq` moved `next_seq` from `from` past it: the
    /// kept count loses that one message if it counted it (`next` found it as the first
    /// match at or after `from`); a message appended after the count makes it count again.
    fn took_one(&mut self, from: u64, seq: u64) {
        let kept = self.pending_cache.get().and_then(|mut c| {
            (c.from == from && seq <= c.last).then(|| {
                c.from = self.next_seq;
                c.count = c.count.saturating_sub(1);
                c
            })
        });
        self.pending_cache.set(kept);
    }

    pub fn info(&self, stream: &str, store: &StreamStore) -> ConsumerInfo {
        let time = |ns: i64| (ns > 0).then(|| GoTime::utc(ns));
        ConsumerInfo {
            stream_name: stream.to_string(),
            name: self.name.clone(),
            created: GoTime::utc(self.created_ns),
            config: self.config.clone(),
            delivered: SequenceInfo {
                consumer_seq: self.delivered.0,
                stream_seq: self.delivered.1,
                last_active: time(self.delivered.2),
            },
            ack_floor: SequenceInfo {
                consumer_seq: self.ack_floor.0,
                stream_seq: self.ack_floor.1,
                last_active: time(self.last_ack_ns),
            },
            num_ack_pending: self.pending.len() as u64,
            // nats-server counts the pending messages delivered more than once.
            num_redelivered: self.pending.values().filter(|p| p.deliveries > 1).count() as u64,
            num_waiting: self.waiting.len() as u64,
            num_pending: self.num_pending(store),
            push_bound: self.config.is_push() && self.push_bound,
        }
    }

    /// An ephemeral consumer nobody used for its `inactive_threshold`.
    pub fn abandoned(&self, now: Instant) -> bool {
        let threshold = self.config.inactive_threshold;
        self.config.durable_name.is_empty()
            && threshold > 0
            && self.waiting.is_empty()
            && !(self.config.is_push() && self.push_bound)
            && now.duration_since(self.last_active) >= Duration::from_nanos(threshold as u64)
    }

    /// A pull request as it waits.
    pub fn waiting_from(request: &PullRequest, reply: String, now: Instant) -> Waiting {
        let ns = |v: i64| Duration::from_nanos(v as u64);
        Waiting {
            reply,
            batch: request.batch,
            max_bytes: request.max_bytes,
            expires: (request.expires > 0).then(|| now + ns(request.expires)),
            no_wait: request.no_wait,
            heartbeat: (request.idle_heartbeat > 0).then(|| ns(request.idle_heartbeat)),
            last_heartbeat: now,
            delivered: 0,
        }
    }
}

/// The consumer's filter (`None`: the whole stream).
pub(super) fn filter_of(config: &ConsumerConfig) -> Option<&str> {
    (!config.filter_subject.is_empty()).then_some(config.filter_subject.as_str())
}

/// A random name for an ephemeral consumer (8 characters, as nats-server's), from the
/// shard's generator.
pub(super) fn ephemeral_name(seed: &mut u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..8)
        .map(|_| {
            let pick = super::super::routing::next_random(seed) % ALPHABET.len() as u64;
            ALPHABET[pick as usize] as char
        })
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StorageKind, StoreConfig};

    fn memory_store() -> StreamStore {
        StreamStore::create(StoreConfig::new(
            std::path::PathBuf::new(),
            StorageKind::Memory,
        ))
    }

    /// `by_start_time` starts at the first message stored at or after the time.
    #[test]
    fn by_start_time_starts_at_the_first_message_at_or_after_it() {
        use crate::jetstream::json::GoTime;
        let mut store = memory_store();
        for t in [10, 20, 30, 40] {
            store.append("a", b"", b"x", t).expect("append");
        }
        let at = |ns: i64| ConsumerConfig {
            deliver_policy: DeliverPolicy::ByStartTime,
            opt_start_time: Some(GoTime::utc(ns)),
            ..ConsumerConfig::default()
        };
        let now = Instant::now();
        let starts: Vec<Option<u64>> = [5, 20, 25, 40, 41]
            .into_iter()
            .map(|ns| {
                Consumer::new("C".into(), at(ns), &store, now)
                    .next(&store)
                    .map(|n| n.0)
            })
            .collect();
        assert_eq!(starts, [Some(1), Some(2), Some(3), Some(4), None]);
    }

    /// The kept pending count always equals a fresh count, through deliveries, appends,
    /// deletes and purges in random order, unfiltered and filtered. (A delivery of a message
    /// appended after the last count once took one off a count that never had it.)
    #[test]
    fn the_kept_pending_count_equals_a_fresh_count() {
        for filter in ["", "a"] {
            for seed in 1..200u64 {
                let mut rng = seed;
                let mut roll = |n: u64| {
                    rng = rng
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (rng >> 33) % n
                };
                let mut store = memory_store();
                let now = Instant::now();
                let config = ConsumerConfig {
                    filter_subject: filter.to_string(),
                    ..ConsumerConfig::default()
                };
                let mut consumer = Consumer::new("C".into(), config, &store, now);
                for step in 0..60 {
                    match roll(10) {
                        0..=3 => {
                            let subject = if roll(2) == 0 { "a" } else { "b" };
                            store.append(subject, b"", b"x", step).expect("append");
                        }
                        4..=7 => {
                            if let Some((seq, redelivery)) = consumer.next(&store) {
                                consumer.record_delivery(seq, redelivery, 0, now);
                            }
                        }
                        8 => {
                            let last = store.state().last_seq;
                            if last > 0 {
                                store.delete(1 + roll(last));
                            }
                        }
                        _ => {
                            store.purge(None, Some(1 + roll(store.state().last_seq + 1)), None);
                        }
                    }
                    // Asked now and then, as deliveries ask it: between two questions any
                    // mix of operations may happen.
                    if roll(3) == 0 || step == 59 {
                        let fresh =
                            store.num_pending(consumer.next_seq, filter_of(&consumer.config));
                        assert_eq!(
                            consumer.num_pending(&store),
                            fresh,
                            "seed {seed}, step {step}, filter {filter:?}"
                        );
                    }
                }
            }
        }
    }
}
