//! `StreamStore`: one stream's messages, indexes and limits. This file holds the operations
//! on messages (append, delete, purge, limits, lookups); `io_plan` turns their effects into
//! IO requests and takes the completions; `recover` rebuilds a store from its files.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;

use super::filter::matches_all;
use super::index::{Index, MsgEntry};
use super::io_plan::{After, FileSlot, FileState, Flight, Job, PendingRecord, ReadRequest};
use super::record::{self, Record, KIND_COMPACT, KIND_MSG, KIND_TOMBSTONE};
use super::segment::Segment;
use super::{
    Discard, IoOp, Lookup, StorageKind, StoreConfig, StoreError, StoreEvent, StoreLimits,
    StoredMsg, StreamState, SyncPolicy,
};

/// Bytes a cached message costs beyond its subject, headers and payload (the struct and
/// the map node), so a cache of tiny messages is still bounded.
const CACHE_ENTRY_OVERHEAD_BYTES: u64 = 96;

/// One stream's storage. Owned by one core; not shared.
#[derive(Debug)]
pub struct StreamStore {
    pub(super) cfg: StoreConfig,
    pub(super) index: Index,
    /// Recent messages by sequence: every one not yet written (they cannot be read back),
    /// then the newest written ones up to `cfg.cache_bytes`. Memory streams keep all here.
    pub(super) cache: BTreeMap<u64, StoredMsg>,
    pub(super) cache_used_bytes: u64,
    /// The highest message sequence whose write has completed (evictable from the cache).
    pub(super) written_through: u64,
    pub(super) durable_through: u64,
    /// Oldest first; the last one is open for appends. Empty for memory streams.
    pub(super) segments: VecDeque<Segment>,
    pub(super) files: HashMap<u32, FileSlot>,
    pub(super) next_file: u32,
    /// Sequential IO (opens, truncates, unlinks, meta), one in flight at a time, after the
    /// pending writes are cut into batches (`io_plan::next_write`).
    pub(super) jobs: VecDeque<Job>,
    /// The one sequential operation in flight (a job or a batch write).
    pub(super) in_flight: Option<(u64, Flight)>,
    /// A job of the current chain failed: later `needs_ok` jobs of the chain are skipped.
    pub(super) chain_failed: bool,
    pub(super) reads_waiting: VecDeque<ReadRequest>,
    pub(super) reads_in_flight: HashMap<u64, ReadRequest>,
    pub(super) next_token: u64,
    pub(super) next_ticket: u64,
    pub(super) events: VecDeque<StoreEvent>,
    pub(super) destroyed: bool,
    /// `SyncPolicy::Interval`: files written since their last fdatasync, and when it was.
    pub(super) dirty_files: BTreeSet<u32>,
    pub(super) last_sync_ns: Option<i64>,
}

impl StreamStore {
    /// An empty stream. File streams queue the directory's creation and the first segment's.
    pub fn create(cfg: StoreConfig) -> StreamStore {
        let mut store = StreamStore::empty(cfg);
        if store.cfg.storage == StorageKind::File {
            store.push_job(
                IoOp::MkDirAll {
                    path: store.cfg.dir.clone(),
                },
                After::Nothing,
            );
            store.open_new_segment(1);
        }
        store
    }

    pub(super) fn empty(cfg: StoreConfig) -> StreamStore {
        StreamStore {
            cfg,
            index: Index::default(),
            cache: BTreeMap::new(),
            cache_used_bytes: 0,
            written_through: 0,
            durable_through: 0,
            segments: VecDeque::new(),
            files: HashMap::new(),
            next_file: 1,
            jobs: VecDeque::new(),
            in_flight: None,
            chain_failed: false,
            reads_waiting: VecDeque::new(),
            reads_in_flight: HashMap::new(),
            next_token: 1,
            next_ticket: 1,
            events: VecDeque::new(),
            destroyed: false,
            dirty_files: BTreeSet::new(),
            last_sync_ns: None,
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Stores a message: checks the limits that refuse it, gives it the next sequence,
    /// indexes it, applies the limits that drop old messages, and queues its bytes.
    pub fn append(
        &mut self,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
        now_ns: i64,
    ) -> Result<u64, StoreError> {
        if self.destroyed {
            return Err(StoreError::Destroyed);
        }
        if subject.is_empty() || subject.len() > u16::MAX as usize {
            return Err(StoreError::BadSubject);
        }
        self.check_refusals(subject, headers, payload)?;
        let seq = self.index.last_seq + 1;
        let (segment, offset, len) = self.queue_record(&Record {
            kind: KIND_MSG,
            seq,
            time_ns: now_ns,
            subject,
            headers,
            payload,
        });
        let entry = MsgEntry {
            segment,
            offset,
            len,
            subject: self.index.intern(subject),
            time_ns: now_ns,
            size: self.msg_size(subject, headers, payload),
        };
        self.index.insert(seq, entry);
        self.index.last_seq = seq;
        self.index.last_ts_ns = now_ns;
        self.cache_insert(StoredMsg {
            seq,
            subject: subject.to_string(),
            headers: headers.to_vec(),
            payload: payload.to_vec(),
            time_ns: now_ns,
        });
        self.enforce_limits(Some(subject), None);
        if self.cfg.storage == StorageKind::Memory {
            self.durable_through = seq;
            self.events.push_back(StoreEvent::Durable { through: seq });
        }
        Ok(seq)
    }

    /// The limits that refuse a message (nats-server's order: size, then discard new).
    fn check_refusals(
        &self,
        subject: &str,
        headers: &[u8],
        payload: &[u8],
    ) -> Result<(), StoreError> {
        let limits = &self.cfg.limits;
        let body_bytes = (headers.len() + payload.len()) as u64;
        if limits.max_msg_size > 0 && body_bytes > limits.max_msg_size as u64 {
            return Err(StoreError::MaxMsgSize);
        }
        if limits.discard != Discard::New {
            return Ok(());
        }
        // A per-subject limit at work drops one of this subject's messages, so the stream
        // does not grow: discard new does not refuse then (nats-server does the same).
        let per_subject_full = limits.max_msgs_per_subject > 0
            && self.index.subject_count(subject) >= limits.max_msgs_per_subject as u64;
        if per_subject_full && limits.discard_new_per_subject {
            return Err(StoreError::MaxMsgsPerSubject);
        }
        if limits.max_msgs > 0
            && self.index.msgs.len() as u64 >= limits.max_msgs as u64
            && !per_subject_full
        {
            return Err(StoreError::MaxMsgs);
        }
        if limits.max_bytes > 0
            && self.index.bytes + body_bytes >= limits.max_bytes as u64
            && !per_subject_full
        {
            return Err(StoreError::MaxBytes);
        }
        Ok(())
    }

    /// nats-server's size of a message, by storage kind (see `StreamState::bytes`).
    pub(super) fn msg_size(&self, subject: &str, headers: &[u8], payload: &[u8]) -> u64 {
        let parts = (subject.len() + headers.len() + payload.len()) as u64;
        match self.cfg.storage {
            StorageKind::Memory => parts + 16,
            StorageKind::File if headers.is_empty() => parts + 22 + 8,
            StorageKind::File => parts + 22 + 4 + 8,
        }
    }

    /// Drops what the limits say must go (discard old per subject, max msgs, max bytes, and
    /// max age when given the time: only `expire` is, so an append never pays for ages).
    /// `subject`: only that subject's per-subject limit, else every subject's.
    fn enforce_limits(&mut self, subject: Option<&str>, age_now_ns: Option<i64>) {
        let limits = self.cfg.limits;
        let now_ns = age_now_ns.unwrap_or(self.index.last_ts_ns);
        if limits.max_msgs_per_subject > 0 {
            let max = limits.max_msgs_per_subject as u64;
            let subjects: Vec<String> = match subject {
                Some(subject) => vec![subject.to_string()],
                None => self
                    .index
                    .subjects_matching(">")
                    .into_iter()
                    .filter(|(_, count)| *count > max)
                    .map(|(subject, _)| subject)
                    .collect(),
            };
            for subject in subjects {
                while self.index.subject_count(&subject) > max {
                    let oldest = self.index.oldest_for_subject(&subject).expect("count > 0");
                    self.remove_with_tombstone(oldest, now_ns);
                }
            }
        }
        let mut floor = None;
        while let Some((&first, entry)) = self.index.msgs.iter().next() {
            let over_msgs =
                limits.max_msgs > 0 && self.index.msgs.len() as u64 > limits.max_msgs as u64;
            let over_bytes = limits.max_bytes > 0 && self.index.bytes > limits.max_bytes as u64;
            let expired = limits.max_age_ns > 0
                && age_now_ns
                    .is_some_and(|now| entry.time_ns <= now.saturating_sub(limits.max_age_ns));
            if !(over_msgs || over_bytes || expired) {
                break;
            }
            self.remove_msg(first);
            floor = Some(first + 1);
        }
        if let Some(floor) = floor {
            self.queue_marker(KIND_COMPACT, floor, now_ns);
        }
        self.drop_front_segments();
    }

    /// Removes a live message and records its tombstone; false if it was not live.
    pub fn delete(&mut self, seq: u64) -> bool {
        if self.destroyed || !self.index.msgs.contains_key(&seq) {
            return false;
        }
        let now_ns = self.index.last_ts_ns;
        self.remove_with_tombstone(seq, now_ns);
        self.drop_front_segments();
        true
    }

    fn remove_with_tombstone(&mut self, seq: u64, now_ns: i64) {
        if self.remove_msg(seq) {
            self.queue_marker(KIND_TOMBSTONE, seq, now_ns);
        }
    }

    /// Removes a message from the indexes and the cache; the caller records why on disk.
    pub(super) fn remove_msg(&mut self, seq: u64) -> bool {
        let Some(entry) = self.index.remove(seq) else {
            return false;
        };
        self.cache_remove(seq);
        if self.cfg.storage == StorageKind::File {
            if let Some(segment) = self.segment_mut(entry.segment) {
                segment.live -= 1;
            }
        }
        true
    }

    /// nats-server's purge: everything (no filter), below `up_to_seq` (exclusive), or all but
    /// the last `keep`; with a filter, only matching messages. Returns how many went.
    pub fn purge(
        &mut self,
        filter: Option<&str>,
        up_to_seq: Option<u64>,
        keep: Option<u64>,
    ) -> u64 {
        if self.destroyed {
            return 0;
        }
        let up_to_seq = up_to_seq.filter(|&seq| seq > 1);
        let keep = keep.filter(|&keep| keep > 0);
        let now_ns = self.index.last_ts_ns;
        let before = self.index.msgs.len() as u64;
        if matches_all(filter) {
            let floor = match (up_to_seq, keep) {
                (Some(seq), _) => seq,
                (None, Some(keep)) if keep >= before => return 0,
                (None, Some(keep)) => self.index.last_seq - keep + 1,
                (None, None) => self.index.last_seq + 1,
            };
            self.compact(floor, now_ns);
        } else {
            let matching: Vec<u64> = self
                .index
                .matching(0, filter)
                .take_while(|&seq| up_to_seq.is_none_or(|up_to| seq < up_to))
                .collect();
            let count = match keep {
                Some(keep) if keep >= matching.len() as u64 => 0,
                Some(keep) => matching.len() - keep as usize,
                None => matching.len(),
            };
            for &seq in &matching[..count] {
                self.remove_with_tombstone(seq, now_ns);
            }
        }
        self.drop_front_segments();
        before - self.index.msgs.len() as u64
    }

    /// Every sequence below `floor` goes; a floor past the last sequence moves it too (the
    /// next append gets `floor`), as nats-server's compact does.
    fn compact(&mut self, floor: u64, now_ns: i64) {
        let doomed: Vec<u64> = self
            .index
            .msgs
            .range(..floor)
            .map(|(&seq, _)| seq)
            .collect();
        for seq in doomed {
            self.remove_msg(seq);
        }
        if floor > self.index.last_seq + 1 {
            self.index.last_seq = floor - 1;
        }
        self.queue_marker(KIND_COMPACT, floor, now_ns);
    }

    /// Drops the messages older than `max_age`; returns how many.
    pub fn expire(&mut self, now_ns: i64) -> u64 {
        if self.destroyed {
            return 0;
        }
        let before = self.index.msgs.len() as u64;
        self.enforce_limits(Some(""), Some(now_ns));
        before - self.index.msgs.len() as u64
    }

    /// New limits, applied now (whatever the discard policy, as nats-server does on a
    /// stream update); `max_age` is applied at the next `expire`.
    pub fn set_limits(&mut self, limits: StoreLimits) {
        self.cfg.limits = limits;
        self.enforce_limits(None, None);
    }

    /// The message with this sequence: from the cache, or `Pending` with a ticket that a
    /// `ReadDone` answers once the record is read and checked.
    pub fn get(&mut self, seq: u64) -> Lookup {
        if self.destroyed {
            return Lookup::Missing;
        }
        if let Some(msg) = self.cache.get(&seq) {
            return Lookup::Ready(msg.clone());
        }
        let Some(entry) = self.index.msgs.get(&seq) else {
            return Lookup::Missing;
        };
        let (offset, len) = (entry.offset, entry.len);
        let Some(file) = self.segment(entry.segment).map(|segment| segment.file) else {
            return Lookup::Missing;
        };
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.reads_waiting.push_back(ReadRequest {
            ticket,
            seq,
            file,
            offset,
            len,
        });
        Lookup::Pending(ticket)
    }

    /// The first live message stored at or after `time_ns` (deliver policy
    /// `by_start_time`); a walk of the in-memory index, done once per consumer.
    pub fn first_seq_at_or_after(&self, time_ns: i64) -> Option<u64> {
        self.index
            .msgs
            .iter()
            .find(|(_, entry)| entry.time_ns >= time_ns)
            .map(|(&seq, _)| seq)
    }

    pub fn last_for_subject(&self, subject: &str) -> Option<u64> {
        self.index.last_for_subject(subject)
    }

    pub fn next_matching(&self, from_seq: u64, filter: Option<&str>) -> Option<u64> {
        self.index.matching(from_seq, filter).next()
    }

    pub fn num_pending(&self, from_seq: u64, filter: Option<&str>) -> u64 {
        self.index.num_pending(from_seq, filter)
    }

    pub fn subjects_matching(&self, filter: &str) -> Vec<(String, u64)> {
        self.index.subjects_matching(filter)
    }

    pub fn state(&self) -> StreamState {
        let first = self.index.msgs.iter().next();
        StreamState {
            msgs: self.index.msgs.len() as u64,
            bytes: self.index.bytes,
            first_seq: self.index.first_seq(),
            first_ts_ns: first.map_or(0, |(_, entry)| entry.time_ns),
            last_seq: self.index.last_seq,
            last_ts_ns: self.index.last_ts_ns,
            num_deleted: self.index.num_deleted(),
            num_subjects: self.index.num_subjects(),
        }
    }

    pub fn deleted(&self) -> Vec<u64> {
        self.index.deleted()
    }

    pub fn poll_event(&mut self) -> Option<StoreEvent> {
        self.events.pop_front()
    }

    /// `SyncPolicy::Interval`: queues the fdatasync of written files once the interval has
    /// passed since the last one. Call it from a timer (any period below the interval).
    pub fn tick(&mut self, now_ns: i64) {
        let SyncPolicy::Interval(interval) = self.cfg.sync else {
            return;
        };
        let last = *self.last_sync_ns.get_or_insert(now_ns);
        if now_ns.saturating_sub(last) < interval.as_nanos() as i64 || self.dirty_files.is_empty() {
            return;
        }
        self.last_sync_ns = Some(now_ns);
        for file in std::mem::take(&mut self.dirty_files) {
            if self.files.contains_key(&file) {
                self.push_job(IoOp::Sync { file }, After::Nothing);
            }
        }
    }

    /// Writes the stream's config atomically: a temporary file, fdatasync'ed, renamed over
    /// `meta.json` (a reader sees the old or the new whole). Memory streams keep nothing.
    pub fn set_meta(&mut self, bytes: Vec<u8>) {
        if self.cfg.storage == StorageKind::Memory || self.destroyed {
            return;
        }
        let file = self.new_file(self.meta_tmp_path());
        self.files.get_mut(&file).expect("just added").state = FileState::Queued;
        self.push_chain(vec![
            (
                IoOp::Open {
                    file,
                    path: self.meta_tmp_path(),
                    create: true,
                },
                After::Opened(file),
                false,
            ),
            (
                IoOp::Write {
                    file,
                    offset: 0,
                    bytes,
                    sync: true,
                },
                After::Nothing,
                true,
            ),
            (IoOp::Close { file }, After::Closed(file), false),
            (
                IoOp::Rename {
                    from: self.meta_tmp_path(),
                    to: self.cfg.dir.join(super::META_FILE),
                },
                After::Nothing,
                true,
            ),
        ]);
    }

    pub(super) fn meta_tmp_path(&self) -> PathBuf {
        self.cfg.dir.join(super::META_TMP_FILE)
    }

    /// Appends a record to the open segment's pending bytes, opening a new segment first when
    /// this one is full. Returns (segment, offset, length); memory streams: (0, 0, length).
    fn queue_record(&mut self, record: &Record<'_>) -> (u64, u64, u32) {
        let len = record::encoded_len(record.subject, record.headers, record.payload);
        if self.cfg.storage == StorageKind::Memory {
            return (0, 0, len as u32);
        }
        // A new segment is named by its first sequence, which must be above the open one's
        // (after a rollback, re-queued markers can fill a segment before its first message).
        let full = self.segments.back().is_none_or(|segment| {
            segment.len > 0
                && segment.len + len as u64 > self.cfg.segment_bytes
                && record.seq > segment.first_seq
        });
        if full && record.kind == KIND_MSG {
            self.open_new_segment(record.seq);
        }
        let segment = self
            .segments
            .back_mut()
            .expect("a file stream has an open segment");
        let offset = segment.len;
        record::encode(&mut segment.pending, record);
        segment.len += len as u64;
        segment.pending_records.push(PendingRecord {
            kind: record.kind,
            seq: record.seq,
            time_ns: record.time_ns,
        });
        if record.kind == KIND_MSG {
            segment.live += 1;
        } else {
            segment
                .markers
                .push((record.kind, record.seq, record.time_ns));
        }
        (segment.first_seq, offset, len as u32)
    }

    pub(super) fn queue_marker(&mut self, kind: u8, seq: u64, time_ns: i64) {
        if self.cfg.storage == StorageKind::File {
            self.queue_record(&Record {
                kind,
                seq,
                time_ns,
                subject: "",
                headers: &[],
                payload: &[],
            });
        }
    }

    pub(super) fn segment(&self, first_seq: u64) -> Option<&Segment> {
        let index = self
            .segments
            .binary_search_by_key(&first_seq, |segment| segment.first_seq)
            .ok()?;
        self.segments.get(index)
    }

    pub(super) fn segment_mut(&mut self, first_seq: u64) -> Option<&mut Segment> {
        let index = self
            .segments
            .binary_search_by_key(&first_seq, |segment| segment.first_seq)
            .ok()?;
        self.segments.get_mut(index)
    }

    fn cache_insert(&mut self, msg: StoredMsg) {
        self.cache_used_bytes += cache_cost(&msg);
        self.cache.insert(msg.seq, msg);
        self.trim_cache();
    }

    pub(super) fn cache_remove(&mut self, seq: u64) {
        if let Some(msg) = self.cache.remove(&seq) {
            self.cache_used_bytes -= cache_cost(&msg);
        }
    }

    /// Evicts the oldest written messages past the cache's bound (never unwritten ones).
    pub(super) fn trim_cache(&mut self) {
        if self.cfg.storage == StorageKind::Memory {
            return;
        }
        while self.cache_used_bytes > self.cfg.cache_bytes {
            let Some((&seq, _)) = self.cache.iter().next() else {
                break;
            };
            if seq > self.written_through {
                break;
            }
            self.cache_remove(seq);
        }
    }
}

fn cache_cost(msg: &StoredMsg) -> u64 {
    (msg.subject.len() + msg.headers.len() + msg.payload.len()) as u64 + CACHE_ENTRY_OVERHEAD_BYTES
}
