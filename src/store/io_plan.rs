//! The IO side of `StreamStore`: what to ask the driver next (`poll_io`), what its answers
//! mean (`complete`), group commit, rollback of failed writes, and dropping segments.
//!
//! Ordering without linked operations: the driver may run requests concurrently (io_uring
//! does), so at most one sequential request (a write, open, truncate, close, unlink, rename)
//! is in flight at a time, and a read is issued only on a file whose open has completed.
//! Reads run alongside; a close waits for the reads on its file.

use std::path::PathBuf;

use super::record::{self, KIND_COMPACT, KIND_MSG, KIND_TOMBSTONE};
use super::stream_store::StreamStore;
use super::{IoOp, IoResult, StorageKind, StoreError, StoreEvent, SyncPolicy};

/// What a pending or in-flight record was, to undo or redo it after a failed write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingRecord {
    pub kind: u8,
    pub seq: u64,
    pub time_ns: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileState {
    /// Its open is queued or in flight.
    Queued,
    Open,
    /// Its open failed; retried before the next write to it.
    Failed,
}

#[derive(Debug)]
pub(crate) struct FileSlot {
    pub path: PathBuf,
    pub state: FileState,
    /// Reads in flight on it (a close waits for them).
    pub reads: u32,
}

/// A sequential request and what to do when it completes.
#[derive(Debug)]
pub(crate) struct Job {
    pub op: IoOp,
    pub after: After,
    /// Starts a chain (clears `chain_failed`).
    pub chain_start: bool,
    /// Skipped when an earlier job of its chain failed.
    pub needs_ok: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum After {
    Nothing,
    Opened(u32),
    Closed(u32),
    /// A zero-fill of this segment up to `end` (`segment::next_preallocation`).
    Preallocated {
        segment: u64,
        end: u64,
    },
    /// The cut of a failed write is done: tell the owner those appends failed.
    ReportFailed {
        first: u64,
        last: u64,
        errno: i32,
    },
}

#[derive(Debug)]
pub(crate) enum Flight {
    Job { op: IoOp, after: After },
    Write(WriteFlight),
}

/// A batch write in flight (its bytes are with the driver).
#[derive(Debug)]
pub(crate) struct WriteFlight {
    pub segment: u64,
    pub file: u32,
    pub offset: u64,
    /// `offset` + its length.
    pub end: u64,
    pub records: Vec<PendingRecord>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadRequest {
    pub ticket: u64,
    pub seq: u64,
    pub file: u32,
    pub offset: u64,
    pub len: u32,
}

impl StreamStore {
    /// The next IO request, or `None` when nothing more may start now. The driver calls it at
    /// its turn end until `None`. All appends since the last write become one write (with
    /// its fdatasync under `SyncPolicy::Always`) when no write is in flight: group commit.
    pub fn poll_io(&mut self) -> Option<(u64, IoOp)> {
        if let Some(read) = self.next_read() {
            return Some(read);
        }
        if self.in_flight.is_some() {
            return None;
        }
        if let Some(job) = self.jobs.front() {
            if let IoOp::Close { file } = job.op {
                if self.files.get(&file).is_some_and(|slot| slot.reads > 0) {
                    return None;
                }
            }
            let job = self.jobs.pop_front().expect("front exists");
            if let IoOp::Close { file } = job.op {
                // Its open failed: nothing to close.
                if self
                    .files
                    .get(&file)
                    .is_some_and(|slot| slot.state == FileState::Failed)
                {
                    self.finish_job(job.after, Ok(()));
                    return self.poll_io();
                }
            }
            if job.chain_start {
                self.chain_failed = false;
            }
            if job.needs_ok && self.chain_failed {
                self.finish_job(job.after, Err(libc::ECANCELED));
                return self.poll_io();
            }
            if let IoOp::Open { file, .. } = job.op {
                if let Some(slot) = self.files.get_mut(&file) {
                    slot.state = FileState::Queued;
                }
            }
            let token = self.token();
            self.in_flight = Some((
                token,
                Flight::Job {
                    op: job.op.clone(),
                    after: job.after,
                },
            ));
            return Some((token, job.op));
        }
        if let Some((after, op)) = self.next_preallocation() {
            let token = self.token();
            let flight = Flight::Job {
                op: op.clone(),
                after,
            };
            self.in_flight = Some((token, flight));
            return Some((token, op));
        }
        self.next_write()
    }

    fn token(&mut self) -> u64 {
        let token = self.next_token;
        self.next_token += 1;
        token
    }

    fn next_read(&mut self) -> Option<(u64, IoOp)> {
        let position = self.reads_waiting.iter().position(|read| {
            self.files
                .get(&read.file)
                .is_none_or(|slot| slot.state != FileState::Queued)
        })?;
        let read = self.reads_waiting.remove(position).expect("position found");
        let open = self
            .files
            .get_mut(&read.file)
            .filter(|slot| slot.state == FileState::Open);
        let Some(slot) = open else {
            let msg = Err(StoreError::NotFound);
            self.events.push_back(StoreEvent::ReadDone {
                ticket: read.ticket,
                msg,
            });
            return self.next_read();
        };
        slot.reads += 1;
        let token = self.token();
        self.reads_in_flight.insert(token, read);
        let op = IoOp::Read {
            file: read.file,
            offset: read.offset,
            len: read.len,
        };
        Some((token, op))
    }

    /// The oldest segment's pending records as one write.
    fn next_write(&mut self) -> Option<(u64, IoOp)> {
        let index = self
            .segments
            .iter()
            .position(|segment| !segment.pending.is_empty())?;
        let file = self.segments[index].file;
        let state = self.files.get(&file).map(|slot| slot.state);
        if state != Some(FileState::Open) {
            // Its open failed: try again, then write.
            let segment = &self.segments[index];
            let written = segment.len - segment.pending.len() as u64;
            let op = IoOp::Open {
                file,
                path: segment.path.clone(),
                create: written == 0,
            };
            self.push_job(op, After::Opened(file));
            return self.poll_io();
        }
        let segment = &mut self.segments[index];
        let bytes = std::mem::take(&mut segment.pending);
        let records = std::mem::take(&mut segment.pending_records);
        let offset = segment.len - bytes.len() as u64;
        let sync = self.cfg.sync == SyncPolicy::Always;
        let flight = WriteFlight {
            segment: segment.first_seq,
            file,
            offset,
            end: segment.len,
            records,
        };
        let token = self.token();
        self.in_flight = Some((token, Flight::Write(flight)));
        Some((
            token,
            IoOp::Write {
                file,
                offset,
                bytes,
                sync,
            },
        ))
    }

    /// The driver's answer to the request with this token.
    pub fn complete(&mut self, token: u64, result: IoResult) {
        if let Some(read) = self.reads_in_flight.remove(&token) {
            self.on_read_complete(read, result);
            return;
        }
        let Some((in_flight_token, _)) = &self.in_flight else {
            self.log(format!(
                "JetStream: completion of unknown IO request {token}"
            ));
            return;
        };
        if *in_flight_token != token {
            self.log(format!(
                "JetStream: completion of unknown IO request {token}"
            ));
            return;
        }
        let (_, flight) = self.in_flight.take().expect("checked");
        let outcome = match result {
            IoResult::Err(errno) => Err(errno),
            _ => Ok(()),
        };
        match flight {
            // The stream is gone: nothing to acknowledge or roll back.
            Flight::Write(_) if self.destroyed => {}
            Flight::Write(flight) => match outcome {
                Ok(()) => self.on_write_done(flight),
                Err(errno) => self.on_write_failed(flight, errno),
            },
            Flight::Job { op, after } => {
                if let Err(errno) = outcome {
                    self.chain_failed = true;
                    if !matches!(op, IoOp::Unlink { .. } if errno == libc::ENOENT) {
                        self.log(format!(
                            "JetStream: {} failed: errno {errno}",
                            describe(&op)
                        ));
                    }
                }
                self.finish_job(after, outcome);
            }
        }
    }

    fn finish_job(&mut self, after: After, outcome: Result<(), i32>) {
        match after {
            After::Nothing => {}
            After::Opened(file) => {
                if let Some(slot) = self.files.get_mut(&file) {
                    slot.state = match outcome {
                        Ok(()) => FileState::Open,
                        Err(_) => FileState::Failed,
                    };
                }
                if let Err(errno) = outcome {
                    self.fail_unwritten(file, errno);
                }
            }
            After::Closed(file) => {
                self.files.remove(&file);
            }
            After::Preallocated { segment, end } => {
                if let Some(segment) = self.segment_mut(segment) {
                    match outcome {
                        Ok(()) => segment.allocated = segment.allocated.max(end),
                        Err(_) => segment.preallocation_failed = true,
                    }
                }
            }
            After::ReportFailed { first, last, errno } => {
                self.events
                    .push_back(StoreEvent::AppendFailed { first, last, errno });
            }
        }
    }

    fn on_read_complete(&mut self, read: ReadRequest, result: IoResult) {
        if let Some(slot) = self.files.get_mut(&read.file) {
            slot.reads -= 1;
        }
        let msg = match result {
            _ if self.destroyed => Err(StoreError::Destroyed),
            IoResult::Read(bytes) => self.decode_read(&read, &bytes),
            IoResult::Err(errno) => Err(StoreError::Io(errno)),
            IoResult::Ok | IoResult::Opened => Err(StoreError::Io(libc::EIO)),
        };
        if let Err(StoreError::Corrupt(what)) = &msg {
            self.log(format!("JetStream: {what}"));
        }
        self.events.push_back(StoreEvent::ReadDone {
            ticket: read.ticket,
            msg,
        });
    }

    fn decode_read(
        &self,
        read: &ReadRequest,
        bytes: &[u8],
    ) -> Result<super::StoredMsg, StoreError> {
        let path = self
            .files
            .get(&read.file)
            .map(|slot| slot.path.display().to_string());
        let corrupt = |why: &str| {
            StoreError::Corrupt(format!(
                "message {} at offset {} of {}: {why}",
                read.seq,
                read.offset,
                path.as_deref().unwrap_or("a closed file")
            ))
        };
        let (record, _) = record::decode(bytes).map_err(|error| corrupt(&format!("{error:?}")))?;
        if record.kind != KIND_MSG || record.seq != read.seq {
            return Err(corrupt("a different record at its offset"));
        }
        if !self.index.msgs.contains_key(&read.seq) {
            return Err(StoreError::NotFound);
        }
        Ok(super::StoredMsg {
            seq: record.seq,
            subject: record.subject.to_string(),
            headers: record.headers.to_vec(),
            payload: record.payload.to_vec(),
            time_ns: record.time_ns,
        })
    }

    fn on_write_done(&mut self, flight: WriteFlight) {
        let last_msg = flight
            .records
            .iter()
            .filter(|record| record.kind == KIND_MSG)
            .map(|record| record.seq)
            .max();
        if self.cfg.sync != SyncPolicy::Always {
            self.dirty_files.insert(flight.file);
        }
        let markers = flight.records.iter().filter(|r| r.kind != KIND_MSG).count();
        if let Some(segment) = self.segment_mut(flight.segment) {
            segment.written_markers += markers;
            segment.allocated = segment.allocated.max(flight.end);
        }
        if let Some(last) = last_msg {
            self.written_through = self.written_through.max(last);
            if last > self.durable_through {
                self.durable_through = last;
                self.events.push_back(StoreEvent::Durable { through: last });
            }
        }
        self.trim_cache();
        self.drop_front_segments();
        self.write_indexes();
    }

    /// A batch write failed: every append not yet written is rolled back (sequences stay
    /// contiguous), the segment is cut back to where the batch began, the cut is synced,
    /// then `AppendFailed` is sent. Tombstones and compacts are kept and written again.
    fn on_write_failed(&mut self, flight: WriteFlight, errno: i32) {
        let Some(index) = self
            .segments
            .iter()
            .position(|segment| segment.first_seq == flight.segment)
        else {
            return;
        };
        let mut records = flight.records;
        for segment in self.segments.iter_mut().skip(index) {
            records.append(&mut segment.pending_records);
            segment.pending.clear();
            segment.markers.truncate(segment.written_markers);
        }
        self.segments[index].len = flight.offset;
        // The cut below takes any zeros ahead with it.
        self.segments[index].allocated = flight.offset;
        let rolled_back = self.roll_back_msgs(&records);
        // Later segments were never written: remove them.
        while self.segments.len() > index + 1 {
            let segment = self.segments.pop_back().expect("len checked");
            self.close_and_unlink(segment);
        }
        self.requeue_markers(&records, rolled_back.map(|(first, _)| first));
        let after = match rolled_back {
            Some((first, last)) => After::ReportFailed { first, last, errno },
            None => After::Nothing,
        };
        self.log(format!(
            "JetStream: write to {} failed (errno {errno}); appends {rolled_back:?} rolled back",
            self.segments[index].path.display()
        ));
        self.jobs.push_front(Job {
            op: IoOp::Sync { file: flight.file },
            after,
            chain_start: false,
            needs_ok: false,
        });
        self.jobs.push_front(Job {
            op: IoOp::Truncate {
                file: flight.file,
                len: flight.offset,
            },
            after: After::Nothing,
            chain_start: true,
            needs_ok: false,
        });
    }

    /// A segment's open failed: its pending appends cannot be written; roll them back now
    /// (nothing of them is on disk).
    fn fail_unwritten(&mut self, file: u32, errno: i32) {
        let Some(index) = self
            .segments
            .iter()
            .position(|segment| segment.file == file)
        else {
            return;
        };
        let mut records = Vec::new();
        for segment in self.segments.iter_mut().skip(index) {
            records.append(&mut segment.pending_records);
            segment.len -= segment.pending.len() as u64;
            segment.pending.clear();
            segment.markers.truncate(segment.written_markers);
        }
        let rolled_back = self.roll_back_msgs(&records);
        self.requeue_markers(&records, rolled_back.map(|(first, _)| first));
        if let Some((first, last)) = rolled_back {
            self.events
                .push_back(StoreEvent::AppendFailed { first, last, errno });
        }
    }

    /// Removes the messages among `records` (and every later one) from the indexes; returns
    /// the rolled-back range.
    fn roll_back_msgs(&mut self, records: &[PendingRecord]) -> Option<(u64, u64)> {
        let first = records
            .iter()
            .filter(|record| record.kind == KIND_MSG)
            .map(|record| record.seq)
            .min()?;
        let last = self.index.last_seq.max(first);
        let doomed: Vec<u64> = self
            .index
            .msgs
            .range(first..)
            .map(|(&seq, _)| seq)
            .collect();
        for seq in doomed {
            self.remove_msg(seq);
        }
        self.index.last_seq = first - 1;
        self.index.last_ts_ns = self
            .index
            .msgs
            .values()
            .next_back()
            .map_or(0, |e| e.time_ns);
        Some((first, last))
    }

    /// Queues again the tombstones and compacts among `records`. A tombstone of a
    /// rolled-back message goes with it; a compact past the rollback point is lowered to it
    /// (it removed rolled-back messages too, whose sequences the next appends reuse).
    fn requeue_markers(&mut self, records: &[PendingRecord], rolled_back_from: Option<u64>) {
        let limit = rolled_back_from.unwrap_or(u64::MAX);
        for record in records.iter().filter(|record| record.kind != KIND_MSG) {
            if record.kind == KIND_TOMBSTONE && record.seq >= limit {
                continue;
            }
            let seq = if record.kind == KIND_COMPACT {
                record.seq.min(limit)
            } else {
                record.seq
            };
            self.queue_marker(record.kind, seq, record.time_ns);
        }
    }

    pub(super) fn new_file(&mut self, path: PathBuf) -> u32 {
        let file = self.next_file;
        self.next_file += 1;
        self.files.insert(
            file,
            FileSlot {
                path,
                state: FileState::Queued,
                reads: 0,
            },
        );
        file
    }

    pub(super) fn push_job(&mut self, op: IoOp, after: After) {
        self.jobs.push_back(Job {
            op,
            after,
            chain_start: true,
            needs_ok: false,
        });
    }

    /// Jobs that belong together: `(op, after, needs_ok)`.
    pub(super) fn push_chain(&mut self, chain: Vec<(IoOp, After, bool)>) {
        for (position, (op, after, needs_ok)) in chain.into_iter().enumerate() {
            self.jobs.push_back(Job {
                op,
                after,
                chain_start: position == 0,
                needs_ok,
            });
        }
    }

    pub(super) fn log(&mut self, line: String) {
        self.events.push_back(StoreEvent::Log(line));
    }

    /// Stream delete: forgets every message and queues the close and unlink of every file,
    /// then the directory's removal. Reads still waiting are answered `Destroyed`.
    pub fn destroy(&mut self) {
        if self.destroyed {
            return;
        }
        self.destroyed = true;
        for read in std::mem::take(&mut self.reads_waiting) {
            self.events.push_back(StoreEvent::ReadDone {
                ticket: read.ticket,
                msg: Err(StoreError::Destroyed),
            });
        }
        self.index.clear();
        self.cache.clear();
        self.cache_used_bytes = 0;
        if self.cfg.storage == StorageKind::Memory {
            return;
        }
        self.jobs.clear();
        let in_flight_open = match &self.in_flight {
            Some((
                _,
                Flight::Job {
                    op: IoOp::Open { file, .. },
                    ..
                },
            )) => Some(*file),
            _ => None,
        };
        let mut open: Vec<u32> = self
            .files
            .iter()
            .filter(|(&file, slot)| slot.state == FileState::Open || in_flight_open == Some(file))
            .map(|(&file, _)| file)
            .collect();
        open.sort_unstable();
        self.files.retain(|file, _| open.contains(file));
        for file in open {
            self.push_job(IoOp::Close { file }, After::Closed(file));
        }
        for segment in std::mem::take(&mut self.segments) {
            let index_path = segment.index_path();
            self.push_job(IoOp::Unlink { path: index_path }, After::Nothing);
            self.push_job(IoOp::Unlink { path: segment.path }, After::Nothing);
        }
        for name in [super::META_FILE, super::META_TMP_FILE] {
            let path = self.cfg.dir.join(name);
            self.push_job(IoOp::Unlink { path }, After::Nothing);
        }
        let path = self.cfg.dir.clone();
        self.push_job(IoOp::RemoveDir { path }, After::Nothing);
    }

    /// Nothing queued, pending or in flight.
    pub fn idle(&self) -> bool {
        self.jobs.is_empty()
            && self.in_flight.is_none()
            && self.reads_waiting.is_empty()
            && self.reads_in_flight.is_empty()
            && self
                .segments
                .iter()
                .all(|segment| segment.pending.is_empty())
    }

    /// The highest sequence a `Durable` event has covered.
    pub fn durable_through(&self) -> u64 {
        self.durable_through
    }
}

fn describe(op: &IoOp) -> String {
    match op {
        IoOp::MkDirAll { path } => format!("mkdir {}", path.display()),
        IoOp::Open { path, .. } => format!("open {}", path.display()),
        IoOp::Write { file, offset, .. } => format!("write file {file} at {offset}"),
        IoOp::Sync { file } => format!("fdatasync file {file}"),
        IoOp::Read { file, offset, .. } => format!("read file {file} at {offset}"),
        IoOp::Truncate { file, len } => format!("truncate file {file} to {len}"),
        IoOp::Close { file } => format!("close file {file}"),
        IoOp::Unlink { path } => format!("unlink {}", path.display()),
        IoOp::Rename { from, to } => format!("rename {} to {}", from.display(), to.display()),
        IoOp::RemoveDir { path } => format!("rmdir {}", path.display()),
    }
}
