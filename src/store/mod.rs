//! JetStream's storage engine, sans-IO: a stream's messages as an append-only log of segment
//! files, with in-memory indexes. The engine never touches the disk itself: it turns appends,
//! reads, deletes and limits into [`IoOp`]s ([`StreamStore::poll_io`]) and is told their
//! outcomes ([`StreamStore::complete`]); the broker runs them with io_uring on the stream's
//! owner core, tests with [`StdDriver`] or the fault-injecting `SimDisk`. Recovery
//! ([`StreamStore::recover`]) is the one blocking path, at start-up, through [`RecoverFs`].
//!
//! ```text
//!  append ──► index + cache ──► pending bytes of the open segment
//!                                   │ poll_io: one Write{sync} per batch (group commit)
//!                                   ▼
//!                          driver (io_uring / std / SimDisk) ──► complete ──► Durable{through}
//! ```
//!
//! On disk, in `dir`: `<first seq>.seg` segment files (records, see `record`), beside each
//! sealed one its `<first seq>.idx` (see `segment_index`), `meta.json`
//! (the stream config, written by `set_meta` through `meta.json.tmp` and a rename). The open
//! segment's file runs ahead of its records by up to `preallocate_bytes` of zeros, which
//! recovery reads as its end.

mod driver;
mod filter;
mod index;
mod io_plan;
mod record;
mod recover;
mod segment;
mod segment_index;
#[cfg(test)]
pub(crate) mod sim_disk;
mod stream_store;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub use driver::StdDriver;
pub use filter::subject_matches;
pub use recover::{RecoverFs, StdFs};
pub use stream_store::StreamStore;

/// Default segment size: a segment file is sealed and a new one started past this many bytes.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Default zero-fill step of the open segment: its file is written with zeros this far
/// ahead of its records (`StoreConfig::preallocate_bytes`), so that a group commit's
/// fdatasync overwrites blocks that already exist and flushes data only: on ext4, an
/// append (or a write into a `fallocate`d, unwritten extent) also needs a journal commit
/// for the file's size or extents, one more device write per sync. Bounds what a stream
/// holds on disk beyond its records; the slack is cut when a segment is sealed.
pub const DEFAULT_PREALLOCATE_BYTES: u64 = 1024 * 1024;
/// Default bound of the read cache (recent records kept in memory). Records not yet written
/// are always kept, whatever this says (they cannot be read back from disk yet).
pub const DEFAULT_CACHE_BYTES: u64 = 8 * 1024 * 1024;
/// The stream config's file name in `dir`.
pub const META_FILE: &str = "meta.json";
/// Where `set_meta` writes before the atomic rename onto [`META_FILE`].
pub const META_TMP_FILE: &str = "meta.json.tmp";

/// Where a stream's records live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    File,
    /// Records in memory only, same indexes, no IO at all (lost at restart, as in nats-server).
    Memory,
}

/// When appends are acknowledged ([`StoreEvent::Durable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// After the batch's write and its linked fdatasync (group commit). The default.
    Always,
    /// After the write; an fdatasync every interval ([`StreamStore::tick`]) and when a
    /// segment is sealed. A power cut loses up to an interval of acknowledged appends.
    Interval(Duration),
    /// After the write; fdatasync'ed only when a segment is sealed (before its index file
    /// is written, which must describe bytes on disk).
    Never,
}

/// What happens at `max_msgs` / `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// Drop the oldest messages.
    Old,
    /// Refuse the new message.
    New,
}

/// A stream's limits, as in nats-server's stream config: `-1` (or `0`) means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age_ns: i64,
    pub max_msgs_per_subject: i64,
    pub max_msg_size: i32,
    pub discard: Discard,
    pub discard_new_per_subject: bool,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_msgs: -1,
            max_bytes: -1,
            max_age_ns: 0,
            max_msgs_per_subject: -1,
            max_msg_size: -1,
            discard: Discard::Old,
            discard_new_per_subject: false,
        }
    }
}

/// A stream's storage configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `<store_dir>/jetstream/<account>/streams/<name>`.
    pub dir: PathBuf,
    pub storage: StorageKind,
    pub segment_bytes: u64,
    pub cache_bytes: u64,
    pub sync: SyncPolicy,
    /// Zero-fill step ahead of the open segment's end (see [`DEFAULT_PREALLOCATE_BYTES`]);
    /// 0: none, every write appends. Never past `segment_bytes`; under
    /// `SyncPolicy::Always` only (the only policy that syncs every batch).
    pub preallocate_bytes: u64,
    pub limits: StoreLimits,
}

impl StoreConfig {
    /// The defaults: 64 MiB segments, an 8 MiB cache, group commit, 1 MiB zero-filled
    /// ahead, no limits.
    pub fn new(dir: PathBuf, storage: StorageKind) -> StoreConfig {
        StoreConfig {
            dir,
            storage,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            cache_bytes: DEFAULT_CACHE_BYTES,
            sync: SyncPolicy::Always,
            preallocate_bytes: DEFAULT_PREALLOCATE_BYTES,
            limits: StoreLimits::default(),
        }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    pub seq: u64,
    pub subject: String,
    /// Empty means no headers.
    pub headers: Vec<u8>,
    pub payload: Vec<u8>,
    pub time_ns: i64,
}

/// nats-server's `StreamState`, the numbers of stream info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamState {
    pub msgs: u64,
    /// nats-server's accounting: file streams count a record's size as its file store does
    /// (`22 + subject + msg + 8`, plus `4 + headers` with headers), memory streams as its
    /// memory store does (`subject + headers + msg + 16`).
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts_ns: i64,
    pub last_seq: u64,
    pub last_ts_ns: i64,
    pub num_deleted: u64,
    pub num_subjects: u64,
}

/// One IO request. `file` numbers are the engine's own; the driver maps them to descriptors
/// (from the `Open` with that number until its `Close`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoOp {
    MkDirAll {
        path: PathBuf,
    },
    /// Read and write; `create` also creates and truncates (`O_CREAT | O_TRUNC`).
    Open {
        file: u32,
        path: PathBuf,
        create: bool,
    },
    /// All of `bytes` at `offset` (a short write is an error); with `sync`, an fdatasync
    /// linked after it, the pair succeeding only if both do.
    Write {
        file: u32,
        offset: u64,
        bytes: Vec<u8>,
        sync: bool,
    },
    Sync {
        file: u32,
    },
    /// Up to `len` bytes (fewer at the end of the file).
    Read {
        file: u32,
        offset: u64,
        len: u32,
    },
    Truncate {
        file: u32,
        len: u64,
    },
    Close {
        file: u32,
    },
    Unlink {
        path: PathBuf,
    },
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    /// Removes the (by then empty) directory.
    RemoveDir {
        path: PathBuf,
    },
}

/// An [`IoOp`]'s outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoResult {
    Ok,
    Opened,
    Read(Vec<u8>),
    /// The errno it failed with (`ENOSPC` for a short write, as the runtime reports it).
    Err(i32),
}

/// What the engine tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// Every append with a sequence `<= through` is on disk as the sync policy promises:
    /// send their PubAcks.
    Durable { through: u64 },
    /// Those appends are not stored and no longer served (rolled back; their sequences
    /// will be given to the next appends). Sent once the failed bytes are cut off the
    /// segment and that cut is synced, so a power cut cannot bring them back.
    AppendFailed { first: u64, last: u64, errno: i32 },
    ReadDone {
        ticket: u64,
        msg: Result<StoredMsg, StoreError>,
    },
    /// A line for the server log.
    Log(String),
}

/// [`StreamStore::get`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Ready(StoredMsg),
    /// Being read; a [`StoreEvent::ReadDone`] with this ticket follows.
    Pending(u64),
    Missing,
}

/// Why an append or a read failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Discard new: `max_msgs` reached.
    MaxMsgs,
    /// Discard new: `max_bytes` reached.
    MaxBytes,
    /// Headers and payload above `max_msg_size`.
    MaxMsgSize,
    /// Discard new per subject: `max_msgs_per_subject` reached.
    MaxMsgsPerSubject,
    /// The subject is empty or longer than a record can hold (65535 bytes).
    BadSubject,
    /// The stream was destroyed.
    Destroyed,
    /// Deleted between the lookup and the read's completion.
    NotFound,
    Io(i32),
    /// A record failed its checksum or its framing; never served.
    Corrupt(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::MaxMsgs => f.write_str("maximum messages exceeded"),
            StoreError::MaxBytes => f.write_str("maximum bytes exceeded"),
            StoreError::MaxMsgSize => f.write_str("message size exceeds maximum allowed"),
            StoreError::MaxMsgsPerSubject => f.write_str("maximum messages per subject exceeded"),
            StoreError::BadSubject => f.write_str("invalid subject"),
            StoreError::Destroyed => f.write_str("stream destroyed"),
            StoreError::NotFound => f.write_str("no message found"),
            StoreError::Io(errno) => write!(f, "io error (errno {errno})"),
            StoreError::Corrupt(what) => write!(f, "corrupt record: {what}"),
        }
    }
}

impl std::error::Error for StoreError {}
