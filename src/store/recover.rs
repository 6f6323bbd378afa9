//! Start-up recovery: rebuilds a `StreamStore`'s indexes from its segment files, blocking,
//! before the cores run (no message core waits on it). Every segment is scanned record by
//! record (sealed segments have no index files yet). A damaged record followed by a valid
//! one is reported and skipped; a damaged or short record with nothing valid after it is a
//! torn tail, cut off with a log line. Damaged records are never indexed, so never served.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::Path;

use super::index::MsgEntry;
use super::io_plan::{After, Segment};
use super::record::{self, KIND_COMPACT, KIND_MSG, KIND_TOMBSTONE};
use super::stream_store::StreamStore;
use super::{IoOp, StorageKind, StoreConfig, StoreError, META_FILE, META_TMP_FILE};

/// The file system as recovery needs it (blocking; start-up only).
pub trait RecoverFs {
    /// The names of the entries of `dir`, or `None` if it does not exist.
    fn list(&mut self, dir: &Path) -> Result<Option<Vec<String>>, i32>;
    /// A whole file.
    fn read(&mut self, path: &Path) -> Result<Vec<u8>, i32>;
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
        for &first in &firsts {
            let path = store.cfg.dir.join(format!("{first}.seg"));
            let len = scan_segment(&mut store, &mut scan, fs, first, &path, log)?;
            let file = store.new_file(path.clone());
            store.push_job(
                IoOp::Open {
                    file,
                    path: path.clone(),
                    create: false,
                },
                After::Opened(file),
            );
            store.segments.push_back(Segment {
                first_seq: first,
                file,
                path,
                len,
                live: 0,
                pending: Vec::new(),
                pending_records: Vec::new(),
            });
        }
        store.index_scan(scan, *firsts.last().expect("not empty"));
        store.drop_front_segments();
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

/// Scans one segment into `scan`; returns its valid length (after any torn-tail cut).
fn scan_segment(
    store: &mut StreamStore,
    scan: &mut Scan,
    fs: &mut dyn RecoverFs,
    first: u64,
    path: &Path,
    log: &mut dyn FnMut(String),
) -> Result<u64, StoreError> {
    let data = fs.read(path).map_err(StoreError::Io)?;
    let mut offset = 0;
    while offset < data.len() {
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
                        if record.seq >= scan.last_seq {
                            scan.last_seq = record.seq;
                            scan.last_ts_ns = record.time_ns;
                        }
                        scan.msgs.insert(record.seq, entry);
                    }
                    KIND_TOMBSTONE => {
                        scan.tombstones.insert(record.seq);
                    }
                    KIND_COMPACT => scan.floor = scan.floor.max(record.seq),
                    _ => unreachable!("decode checks the kind"),
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
                    return Ok(offset as u64);
                }
            },
        }
    }
    Ok(offset as u64)
}
