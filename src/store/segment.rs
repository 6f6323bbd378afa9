//! Segment files: the open one and the sealed ones, rolling to a new segment, the sealed
//! ones' index files, and dropping the segments that hold nothing live any more.

use std::path::PathBuf;

use super::io_plan::{After, FileState, Flight, PendingRecord};
use super::record::KIND_MSG;
use super::segment_index::{self, IndexEntry};
use super::stream_store::StreamStore;
use super::{IoOp, SyncPolicy};

/// A segment file: `<first_seq>.seg`.
#[derive(Debug)]
pub(crate) struct Segment {
    pub first_seq: u64,
    pub file: u32,
    pub path: PathBuf,
    /// The logical end: bytes written, in flight and pending.
    pub len: u64,
    /// The file's length as far as the engine's requests have gone: records written, then
    /// zeros (`StoreConfig::preallocate_bytes`). Writes below it overwrite existing blocks.
    pub allocated: u64,
    /// A zero-fill of this segment failed (a full disk, most likely): no more are tried
    /// in it, its writes append.
    pub preallocation_failed: bool,
    /// Live messages in it; a segment with none, ahead of every other, is dropped.
    pub live: u64,
    /// Encoded records not yet handed to the driver (the next group commit).
    pub pending: Vec<u8>,
    pub pending_records: Vec<PendingRecord>,
    /// Its tombstones and compacts `(kind, seq, time_ns)`, for its index file.
    pub markers: Vec<(u8, u64, i64)>,
    /// How many of `markers` are written (the rest are pending or in flight).
    pub written_markers: usize,
    /// Its index file is written or queued (sealed segments only).
    pub indexed: bool,
}

impl Segment {
    pub fn new(first_seq: u64, file: u32, path: PathBuf, len: u64) -> Segment {
        Segment {
            first_seq,
            file,
            path,
            len,
            allocated: len,
            preallocation_failed: false,
            live: 0,
            pending: Vec::new(),
            pending_records: Vec::new(),
            markers: Vec::new(),
            written_markers: 0,
            indexed: false,
        }
    }

    /// `<first_seq>.idx` beside the segment.
    pub fn index_path(&self) -> PathBuf {
        self.path.with_extension("idx")
    }
}

impl StreamStore {
    /// Drops the segments at the front that hold no live message (never the open one, and
    /// only from the front, so no tombstone or compact outlives the segment it applies to).
    pub(super) fn drop_front_segments(&mut self) {
        let writing = match &self.in_flight {
            Some((_, Flight::Write(flight))) => Some(flight.segment),
            _ => None,
        };
        while self.segments.len() > 1 {
            let front = &self.segments[0];
            if front.live > 0 || !front.pending.is_empty() || writing == Some(front.first_seq) {
                break;
            }
            let segment = self.segments.pop_front().expect("len checked");
            self.close_and_unlink(segment);
        }
    }

    pub(super) fn close_and_unlink(&mut self, segment: Segment) {
        self.push_job(
            IoOp::Close { file: segment.file },
            After::Closed(segment.file),
        );
        // The index first: an index without its segment is removed at recovery, a segment
        // without its index is scanned.
        let index_path = segment.index_path();
        self.push_job(IoOp::Unlink { path: index_path }, After::Nothing);
        self.push_job(IoOp::Unlink { path: segment.path }, After::Nothing);
    }

    /// Queues the index file of every sealed segment whose writes are all done and that has
    /// none yet. Its entries are the segment's live messages and all its markers.
    pub(super) fn write_indexes(&mut self) {
        let writing = match &self.in_flight {
            Some((_, Flight::Write(flight))) => Some(flight.segment),
            _ => None,
        };
        let sealed = self.segments.len().saturating_sub(1);
        for position in 0..sealed {
            let segment = &self.segments[position];
            if segment.indexed || !segment.pending.is_empty() || writing == Some(segment.first_seq)
            {
                continue;
            }
            let next_first = self.segments[position + 1].first_seq;
            let mut entries: Vec<IndexEntry> = self
                .index
                .msgs
                .range(segment.first_seq..next_first)
                .filter(|(_, entry)| entry.segment == segment.first_seq)
                .map(|(&seq, entry)| IndexEntry {
                    kind: KIND_MSG,
                    seq,
                    time_ns: entry.time_ns,
                    offset: entry.offset,
                    len: entry.len,
                    size: entry.size,
                    subject: entry.subject.to_string(),
                })
                .collect();
            entries.extend(
                segment
                    .markers
                    .iter()
                    .map(|&(kind, seq, time_ns)| IndexEntry {
                        kind,
                        seq,
                        time_ns,
                        offset: 0,
                        len: 0,
                        size: 0,
                        subject: String::new(),
                    }),
            );
            let bytes = segment_index::encode(segment.len, &entries);
            let path = segment.index_path();
            let segment_len = segment.len;
            self.segments[position].indexed = true;
            self.segments[position].allocated = segment_len;
            let segment_file = self.segments[position].file;
            let file = self.new_file(path.clone());
            self.push_chain(vec![
                // The zeros past its records go (the index records the file's length, and a
                // sealed segment grows no more). A cut to the same length changes nothing.
                (
                    IoOp::Truncate {
                        file: segment_file,
                        len: segment_len,
                    },
                    After::Nothing,
                    false,
                ),
                // An index must describe bytes that are on disk: under every sync policy the
                // segment is synced before its index is written.
                (IoOp::Sync { file: segment_file }, After::Nothing, true),
                (
                    IoOp::Open {
                        file,
                        path,
                        create: true,
                    },
                    After::Opened(file),
                    true,
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
            ]);
        }
    }

    /// The zero-fill of the open segment's next step, once its end (records written, in
    /// flight and pending) comes within half a step of the zeros already there: a write
    /// of zeros and its fdatasync, which pay the file's growth (size, blocks, the journal
    /// commit) once per step instead of in every group commit. Called only with nothing
    /// in flight and no job queued, so it is computed from the file as it is.
    pub(super) fn next_preallocation(&mut self) -> Option<(After, IoOp)> {
        let step = self.cfg.preallocate_bytes;
        let cap = self.cfg.segment_bytes;
        let segment = self.segments.back()?;
        // Only group commit syncs every batch; the other policies' rare syncs would gain
        // nothing and pay a step's write and sync.
        let synced_batches = self.cfg.sync == SyncPolicy::Always;
        if step == 0 || !synced_batches || self.destroyed || segment.preallocation_failed {
            return None;
        }
        let open = self
            .files
            .get(&segment.file)
            .is_some_and(|slot| slot.state == FileState::Open);
        let written_end = segment.len - segment.pending.len() as u64;
        let start = segment.allocated.max(written_end);
        if !open || start >= cap || segment.len + step / 2 < start {
            return None;
        }
        let end = (start + step).min(cap);
        debug_assert!(end > start && end - start <= step);
        let after = After::Preallocated {
            segment: segment.first_seq,
            end,
        };
        let op = IoOp::Write {
            file: segment.file,
            offset: start,
            bytes: vec![0; (end - start) as usize],
            sync: true,
        };
        Some((after, op))
    }

    /// Starts `<first_seq>.seg` as the open segment.
    pub(super) fn open_new_segment(&mut self, first_seq: u64) {
        let path = self.cfg.dir.join(format!("{first_seq}.seg"));
        let file = self.new_file(path.clone());
        self.push_job(
            IoOp::Open {
                file,
                path: path.clone(),
                create: true,
            },
            After::Opened(file),
        );
        self.segments
            .push_back(Segment::new(first_seq, file, path, 0));
        self.write_indexes();
    }
}
