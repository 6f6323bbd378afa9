//! Start-up recovery: rebuilds a `StreamStore`'s indexes from its segment files, blocking,
//! before the cores run (no message core waits on it). A sealed segment is read from its
//! index file when that checks out; the open one (and any sealed one without a usable
//! index) is scanned record by record. A damaged record followed by a valid
//! one is reported and skipped; a damaged or short record with nothing valid after it is a
//! torn tail, cut off with a log line. Zeros after the last record are the space the engine
//! zero-filled ahead (see `scan_segment`), not damage. Damaged records are never indexed, so never served.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::Path;

use super::index::MsgEntry;
use super::io_plan::After;
use super::record::{self, KIND_COMPACT, KIND_MSG, KIND_TOMBSTONE};
use super::segment::Segment;
use super::segment_index;
use super::stream_store::StreamStore;
use super::{IoOp, StorageKind, StoreConfig, StoreError, META_FILE, META_TMP_FILE};

/// The file system as recovery needs it (blocking; start-up only).
pub trait RecoverFs {
    /// The names of the entries of `dir`, or `None` if it does not exist.
    fn list(&mut self, dir: &Path) -> Result<Option<Vec<String>>, i32>;
    /// A whole file.
    fn read(&mut self, path: &Path) -> Result<Vec<u8>, i32>;
    /// A file's length.
    fn len(&mut self, path: &Path) -> Result<u64, i32>;
    /// Cuts a file to `len` bytes, durably.
    fn truncate(&mut self, path: &Path, len: u64) -> Result<(), i32>;
    fn remove(&mut self, path: &Path) -> Result<(), i32>;
}

/// [`RecoverFs`] on `std::fs`.
#[derive(Debug, Default)]
pub struct StdFs;

fn errno(error: std::io::Error) -> i32 {
    error.raw_os_error().unwrap_or(libc::EIO)
}

impl RecoverFs for StdFs {
    fn list(&mut self, dir: &Path) -> Result<Option<Vec<String>>, i32> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(errno(error)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(errno)?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(Some(names))
    }

    fn read(&mut self, path: &Path) -> Result<Vec<u8>, i32> {
        std::fs::read(path).map_err(errno)
    }

    fn len(&mut self, path: &Path) -> Result<u64, i32> {
        Ok(std::fs::metadata(path).map_err(errno)?.len())
    }

    fn truncate(&mut self, path: &Path, len: u64) -> Result<(), i32> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(errno)?;
        file.set_len(len).map_err(errno)?;
        file.sync_data().map_err(errno)
    }

    fn remove(&mut self, path: &Path) -> Result<(), i32> {
        std::fs::remove_file(path).map_err(errno)
    }
}

/// What the scan of all segments found, before deletes are applied.
#[derive(Default)]
struct Scan {
    msgs: BTreeMap<u64, MsgEntry>,
    tombstones: BTreeSet<u64>,
    /// Every sequence below it is gone (the highest compact record).
    floor: u64,
    last_seq: u64,
    last_ts_ns: i64,
    /// The markers of the segment being read (moved to it after).
    markers: Vec<(u8, u64, i64)>,
}

impl Scan {
    fn add_msg(&mut self, seq: u64, entry: MsgEntry) {
        if seq >= self.last_seq {
            self.last_seq = seq;
            self.last_ts_ns = entry.time_ns;
        }
        self.msgs.insert(seq, entry);
    }

    fn add_marker(&mut self, kind: u8, seq: u64, time_ns: i64) {
        match kind {
            KIND_TOMBSTONE => {
                self.tombstones.insert(seq);
            }
            KIND_COMPACT => self.floor = self.floor.max(seq),
            _ => return,
        }
        self.markers.push((kind, seq, time_ns));
    }
}

impl StreamStore {
    /// Rebuilds a stream from `cfg.dir` (an absent directory is a new, empty stream).
    /// Returns the store, with the opens of its segments queued, and the bytes of the last
    /// `set_meta`. Memory streams start empty.
    pub fn recover(
        cfg: StoreConfig,
        fs: &mut dyn RecoverFs,
        log: &mut dyn FnMut(String),
    ) -> Result<(StreamStore, Option<Vec<u8>>), StoreError> {
        if cfg.storage == StorageKind::Memory {
            return Ok((StreamStore::create(cfg), None));
        }
        let Some(names) = fs.list(&cfg.dir).map_err(StoreError::Io)? else {
            return Ok((StreamStore::create(cfg), None));
        };
        let meta = if names.iter().any(|name| name == META_FILE) {
            Some(fs.read(&cfg.dir.join(META_FILE)).map_err(StoreError::Io)?)
        } else {
            None
        };
        if names.iter().any(|name| name == META_TMP_FILE) {
            // A set_meta cut short: the old meta.json stands.
            let _ = fs.remove(&cfg.dir.join(META_TMP_FILE));
        }
        let mut firsts: Vec<u64> = names
            .iter()
            .filter_map(|name| name.strip_suffix(".seg")?.parse().ok())
            .collect();
        firsts.sort_unstable();
        if firsts.is_empty() {
            return Ok((StreamStore::create(cfg), meta));
        }
        let mut store = StreamStore::empty(cfg);
        let mut scan = Scan::default();
        let last_first = *firsts.last().expect("not empty");
        for &first in &firsts {
            let path = store.cfg.dir.join(format!("{first}.seg"));
            let file = store.new_file(path.clone());
            let mut segment = Segment::new(first, file, path.clone(), 0);
            let index_path = segment.index_path();
            let has_index = names.iter().any(|name| *name == format!("{first}.idx"));
            let markers_before = scan.markers.len();
            let indexed = first != last_first
                && has_index
                && read_index(&mut store, &mut scan, fs, &mut segment, log)?;
            if !indexed {
                if has_index {
                    // Stale (the open segment's) or unusable: rewritten once sealed.
                    let _ = fs.remove(&index_path);
                }
                let (len, allocated) = scan_segment(&mut store, &mut scan, fs, first, &path, log)?;
                segment.len = len;
                segment.allocated = allocated;
            }
            segment.markers = scan.markers.split_off(markers_before);
            segment.written_markers = segment.markers.len();
            segment.indexed = indexed;
            store.push_job(
                IoOp::Open {
                    file,
                    path,
                    create: false,
                },
                After::Opened(file),
            );
            store.segments.push_back(segment);
        }
        for name in &names {
            let orphan = name
                .strip_suffix(".idx")
                .and_then(|first| first.parse::<u64>().ok())
                .is_some_and(|first| !firsts.contains(&first));
            if orphan {
                let _ = fs.remove(&store.cfg.dir.join(name));
            }
        }
        store.index_scan(scan, last_first);
        // Limits hold after a restart too (removals not yet written when the power went
        // may have come back), as nats-server enforces them when it opens a stream.
        let limits = store.cfg.limits;
        store.set_limits(limits);
        store.drop_front_segments();
        store.write_indexes();
        Ok((store, meta))
    }

    fn index_scan(&mut self, scan: Scan, last_first: u64) {
        for (seq, entry) in scan.msgs {
            if seq < scan.floor || scan.tombstones.contains(&seq) {
                continue;
            }
            if let Some(segment) = self.segment_mut(entry.segment) {
                segment.live += 1;
            }
            self.index.insert(seq, entry);
        }
        // An empty open segment still names the next sequence; a compact past the last
        // message moved it too.
        self.index.last_seq = scan
            .last_seq
            .max(scan.floor.saturating_sub(1))
            .max(last_first - 1);
        self.index.last_ts_ns = scan.last_ts_ns;
        self.written_through = self.index.last_seq;
        self.durable_through = self.index.last_seq;
    }
}

/// Scans one segment into `scan`; returns its valid length (after any torn-tail cut) and
/// the file's length. Zeros from a record boundary to the end of the file are the space
/// zero-filled ahead of the records (`StoreConfig::preallocate_bytes`), the clean end: kept,
/// not logged (no record starts with a zero byte). A damaged or short record followed by
/// zeros is still a torn tail, cut with its log line.
fn scan_segment(
    store: &mut StreamStore,
    scan: &mut Scan,
    fs: &mut dyn RecoverFs,
    first: u64,
    path: &Path,
    log: &mut dyn FnMut(String),
) -> Result<(u64, u64), StoreError> {
    let data = fs.read(path).map_err(StoreError::Io)?;
    let mut offset = 0;
    while offset < data.len() {
        if data[offset] == 0 && data[offset..].iter().all(|&byte| byte == 0) {
            return Ok((offset as u64, data.len() as u64));
        }
        match record::decode(&data[offset..]) {
            Ok((record, len)) => {
                match record.kind {
                    KIND_MSG => {
                        let entry = MsgEntry {
                            segment: first,
                            offset: offset as u64,
                            len: len as u32,
                            subject: store.index.intern(record.subject),
                            time_ns: record.time_ns,
                            size: store.msg_size(record.subject, record.headers, record.payload),
                        };
                        scan.add_msg(record.seq, entry);
                    }
                    kind => scan.add_marker(kind, record.seq, record.time_ns),
                }
                offset += len;
            }
            Err(error) => match record::next_valid(&data, offset) {
                Some(next) => {
                    log(format!(
                        "JetStream: {}: damaged record at offset {offset} ({error:?}), \
                         {} bytes skipped",
                        path.display(),
                        next - offset
                    ));
                    offset = next;
                }
                None => {
                    log(format!(
                        "JetStream: {}: torn tail at offset {offset} ({error:?}), \
                         {} bytes truncated",
                        path.display(),
                        data.len() - offset
                    ));
                    fs.truncate(path, offset as u64).map_err(StoreError::Io)?;
                    return Ok((offset as u64, offset as u64));
                }
            },
        }
    }
    Ok((offset as u64, offset as u64))
}

/// Reads a sealed segment's index file into `scan`; false (with a log line) if it cannot be
/// trusted, and the segment is to be scanned instead.
fn read_index(
    store: &mut StreamStore,
    scan: &mut Scan,
    fs: &mut dyn RecoverFs,
    segment: &mut Segment,
    log: &mut dyn FnMut(String),
) -> Result<bool, StoreError> {
    let index_path = segment.index_path();
    let bytes = fs.read(&index_path).map_err(StoreError::Io)?;
    let segment_len = fs.len(&segment.path).map_err(StoreError::Io)?;
    let entries = match segment_index::decode(&bytes) {
        Some((len, entries)) if len == segment_len => entries,
        found => {
            let why = match found {
                Some((len, _)) => format!("it records {len} bytes, the segment has {segment_len}"),
                None => "damaged".to_string(),
            };
            log(format!(
                "JetStream: {}: index unusable ({why}), scanning the segment",
                index_path.display()
            ));
            return Ok(false);
        }
    };
    for entry in entries {
        if entry.kind != KIND_MSG {
            scan.add_marker(entry.kind, entry.seq, entry.time_ns);
            continue;
        }
        let msg = MsgEntry {
            segment: segment.first_seq,
            offset: entry.offset,
            len: entry.len,
            subject: store.index.intern(&entry.subject),
            time_ns: entry.time_ns,
            size: entry.size,
        };
        scan.add_msg(entry.seq, msg);
    }
    segment.len = segment_len;
    segment.allocated = segment_len;
    Ok(true)
}
