//! `SimDisk`: a simulated disk for tests, both a driver of a store's IO requests and a
//! [`RecoverFs`]. It keeps what was written apart from what was synced, so a power cut
//! keeps the synced bytes and, of each unsynced write, all, none or a prefix (at random).
//! A seeded [`FaultPlan`] injects: a write torn after a prefix (failing with `EIO`), an
//! fdatasync acknowledged and then lost at the power cut, `ENOSPC` on a write, and a
//! flipped bit in a segment at the power cut. Directory entries (create, unlink, rename)
//! are durable at once: the store issues no directory fsync, and this model does not test
//! that gap.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::recover::RecoverFs;
use super::stream_store::StreamStore;
use super::{IoOp, IoResult};

/// A small deterministic generator (splitmix64): tests stay reproducible by seed.
#[derive(Debug, Clone)]
pub(crate) struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> SimRng {
        SimRng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        self.next_u64() % bound
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Which faults to inject, counted in write requests and syncs (a write with `sync` is one
/// of each).
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultPlan {
    /// This write writes a random prefix of its bytes, then fails with `EIO`.
    pub torn_write: Option<u64>,
    /// This write fails with `ENOSPC`, writing nothing.
    pub enospc_write: Option<u64>,
    /// This sync is acknowledged but does nothing (lost at the power cut unless a later
    /// sync of the file makes up for it).
    pub lost_sync: Option<u64>,
    /// At the power cut, one bit of one segment file is flipped.
    pub flip_at_cut: bool,
}

impl FaultPlan {
    /// A random plan: each fault with some chance, at a write or sync among the first `span`.
    pub fn random(rng: &mut SimRng, span: u64) -> FaultPlan {
        let mut at = |percent| rng.chance(percent).then(|| rng.below(span.max(1)));
        FaultPlan {
            torn_write: at(25),
            enospc_write: at(25),
            lost_sync: at(20),
            flip_at_cut: false,
        }
        .with_flip(rng.chance(20))
    }

    fn with_flip(mut self, flip: bool) -> FaultPlan {
        self.flip_at_cut = flip;
        self
    }
}

#[derive(Debug, Clone, Default)]
struct SimFile {
    /// What reads see.
    current: Vec<u8>,
    /// What survives a power cut for sure.
    durable: Vec<u8>,
    /// Writes since the last real sync, in order.
    unsynced: Vec<(u64, Vec<u8>)>,
    /// A sync of this file was acknowledged and dropped since its last real one.
    lied: bool,
}

/// What a power cut did.
#[derive(Debug, Clone, Default)]
pub(crate) struct CutReport {
    /// Some file had acknowledged-but-lost syncs: acknowledged appends may be gone.
    pub lost_acknowledged: bool,
    /// The flipped bit: (file, byte offset).
    pub flipped: Option<(PathBuf, usize)>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimDisk {
    files: BTreeMap<PathBuf, SimFile>,
    dirs: BTreeSet<PathBuf>,
    open: HashMap<u32, PathBuf>,
    rng: SimRng,
    plan: FaultPlan,
    writes_seen: u64,
    syncs_seen: u64,
    /// Faults that fired, for the test's messages.
    pub fired: Vec<String>,
    /// `RINGMQ_STORE_TRACE` set: every request and result goes to stderr.
    trace: bool,
}

fn apply(target: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let end = offset as usize + bytes.len();
    if target.len() < end {
        target.resize(end, 0);
    }
    target[offset as usize..end].copy_from_slice(bytes);
}

impl SimDisk {
    pub fn new(seed: u64, plan: FaultPlan) -> SimDisk {
        SimDisk {
            files: BTreeMap::new(),
            dirs: BTreeSet::new(),
            open: HashMap::new(),
            rng: SimRng::new(seed),
            plan,
            writes_seen: 0,
            syncs_seen: 0,
            fired: Vec::new(),
            trace: std::env::var_os("RINGMQ_STORE_TRACE").is_some(),
        }
    }

    /// Runs one request of the store's, if it has one; false if it had none.
    pub fn step(&mut self, store: &mut StreamStore) -> bool {
        match store.poll_io() {
            Some((token, op)) => {
                if self.trace {
                    match &op {
                        IoOp::Write {
                            file,
                            offset,
                            bytes,
                            sync,
                        } => eprintln!(
                            "{token}: write file {file} at {offset}, {} bytes, sync {sync}",
                            bytes.len()
                        ),
                        other => eprintln!("{token}: {other:?}"),
                    }
                }
                let result = self.execute(op);
                if self.trace {
                    eprintln!("{token}: -> {result:?}");
                }
                store.complete(token, result);
                true
            }
            None => false,
        }
    }

    /// Runs requests until the store has none.
    pub fn run(&mut self, store: &mut StreamStore) {
        while self.step(store) {}
    }

    pub fn execute(&mut self, op: IoOp) -> IoResult {
        match op {
            IoOp::MkDirAll { path } => {
                self.dirs.insert(path);
                IoResult::Ok
            }
            IoOp::Open { file, path, create } => {
                if create {
                    self.files.insert(path.clone(), SimFile::default());
                } else if !self.files.contains_key(&path) {
                    return IoResult::Err(libc::ENOENT);
                }
                self.open.insert(file, path);
                IoResult::Opened
            }
            IoOp::Write {
                file,
                offset,
                bytes,
                sync,
            } => self.write(file, offset, bytes, sync),
            IoOp::Sync { file } => match self.open.get(&file).cloned() {
                Some(path) => {
                    self.sync(&path);
                    IoResult::Ok
                }
                None => IoResult::Err(libc::EBADF),
            },
            IoOp::Read { file, offset, len } => match self.open_file(file) {
                Some(sim) => {
                    let start = (offset as usize).min(sim.current.len());
                    let end = (start + len as usize).min(sim.current.len());
                    IoResult::Read(sim.current[start..end].to_vec())
                }
                None => IoResult::Err(libc::EBADF),
            },
            IoOp::Truncate { file, len } => match self.open_file(file) {
                Some(sim) => {
                    sim.current.resize(len as usize, 0);
                    sim.durable.resize(len as usize, 0);
                    sim.unsynced.retain_mut(|(offset, bytes)| {
                        bytes.truncate(len.saturating_sub(*offset) as usize);
                        !bytes.is_empty()
                    });
                    IoResult::Ok
                }
                None => IoResult::Err(libc::EBADF),
            },
            IoOp::Close { file } => match self.open.remove(&file) {
                Some(_) => IoResult::Ok,
                None => IoResult::Err(libc::EBADF),
            },
            IoOp::Unlink { path } => match self.files.remove(&path) {
                Some(_) => IoResult::Ok,
                None => IoResult::Err(libc::ENOENT),
            },
            IoOp::Rename { from, to } => match self.files.remove(&from) {
                Some(sim) => {
                    self.files.insert(to, sim);
                    IoResult::Ok
                }
                None => IoResult::Err(libc::ENOENT),
            },
            IoOp::RemoveDir { path } => {
                if self.files.keys().any(|file| file.parent() == Some(&path)) {
                    return IoResult::Err(libc::ENOTEMPTY);
                }
                self.dirs.remove(&path);
                IoResult::Ok
            }
        }
    }

    fn open_file(&mut self, file: u32) -> Option<&mut SimFile> {
        let path = self.open.get(&file)?;
        self.files.get_mut(path)
    }

    fn write(&mut self, file: u32, offset: u64, bytes: Vec<u8>, sync: bool) -> IoResult {
        let Some(path) = self.open.get(&file).cloned() else {
            return IoResult::Err(libc::EBADF);
        };
        let number = self.writes_seen;
        self.writes_seen += 1;
        if self.plan.enospc_write == Some(number) {
            self.fired.push(format!("ENOSPC on write {number}"));
            return IoResult::Err(libc::ENOSPC);
        }
        let torn = self.plan.torn_write == Some(number) && !bytes.is_empty();
        let kept = if torn {
            self.rng.below(bytes.len() as u64) as usize
        } else {
            bytes.len()
        };
        let Some(sim) = self.files.get_mut(&path) else {
            panic!("write to unlinked {path:?} at {offset}: {:?}", &self.fired);
        };
        apply(&mut sim.current, offset, &bytes[..kept]);
        sim.unsynced.push((offset, bytes[..kept].to_vec()));
        if torn {
            self.fired.push(format!(
                "write {number} torn after {kept} of {} bytes",
                bytes.len()
            ));
            return IoResult::Err(libc::EIO);
        }
        if sync {
            self.sync(&path);
        }
        IoResult::Ok
    }

    fn sync(&mut self, path: &Path) {
        let number = self.syncs_seen;
        self.syncs_seen += 1;
        let sim = self.files.get_mut(path).expect("open files exist");
        if self.plan.lost_sync == Some(number) {
            self.fired
                .push(format!("sync {number} acknowledged and lost"));
            sim.lied = !sim.unsynced.is_empty() || sim.lied;
            return;
        }
        sim.durable = sim.current.clone();
        sim.unsynced.clear();
        sim.lied = false;
    }

    /// Power cut: every file keeps its synced bytes and, of each unsynced write, all, none
    /// or a prefix; open files are forgotten. Then the planned bit flip, if any. The plan is
    /// spent: after the cut, the disk is faultless (recovery is checked, not re-faulted).
    pub fn power_cut(&mut self) -> CutReport {
        let mut report = CutReport::default();
        let plan = std::mem::take(&mut self.plan);
        self.open.clear();
        for sim in self.files.values_mut() {
            report.lost_acknowledged |= sim.lied;
            let mut image = sim.durable.clone();
            for (offset, bytes) in std::mem::take(&mut sim.unsynced) {
                let kept = match self.rng.below(3) {
                    0 => 0,
                    1 => bytes.len(),
                    _ => self.rng.below(bytes.len() as u64 + 1) as usize,
                };
                apply(&mut image, offset, &bytes[..kept]);
            }
            sim.current = image.clone();
            sim.durable = image;
            sim.lied = false;
        }
        if plan.flip_at_cut {
            let segments: Vec<PathBuf> = self
                .files
                .iter()
                .filter(|(path, sim)| {
                    path.extension().is_some_and(|ext| ext == "seg") && !sim.current.is_empty()
                })
                .map(|(path, _)| path.clone())
                .collect();
            if !segments.is_empty() {
                let path = segments[self.rng.below(segments.len() as u64) as usize].clone();
                let sim = self.files.get_mut(&path).expect("listed");
                let bit = self.rng.below(sim.current.len() as u64 * 8) as usize;
                sim.current[bit / 8] ^= 1 << (bit % 8);
                sim.durable = sim.current.clone();
                self.fired
                    .push(format!("bit {bit} of {} flipped", path.display()));
                report.flipped = Some((path, bit / 8));
            }
        }
        report
    }

    /// A file's current bytes (tests corrupt or cut them directly).
    pub fn file_mut(&mut self, path: &Path) -> Option<&mut Vec<u8>> {
        let sim = self.files.get_mut(path)?;
        sim.unsynced.clear();
        Some(&mut sim.current)
    }

    /// Makes the current bytes of every file durable (after a test's direct edits).
    pub fn settle(&mut self) {
        for sim in self.files.values_mut() {
            sim.durable = sim.current.clone();
            sim.unsynced.clear();
        }
    }

    pub fn file_names(&self) -> Vec<PathBuf> {
        self.files.keys().cloned().collect()
    }
}

impl RecoverFs for SimDisk {
    fn list(&mut self, dir: &Path) -> Result<Option<Vec<String>>, i32> {
        let names: Vec<String> = self
            .files
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| Some(path.file_name()?.to_str()?.to_string()))
            .collect();
        if names.is_empty() && !self.dirs.contains(dir) {
            return Ok(None);
        }
        Ok(Some(names))
    }

    fn read(&mut self, path: &Path) -> Result<Vec<u8>, i32> {
        self.files
            .get(path)
            .map(|sim| sim.current.clone())
            .ok_or(libc::ENOENT)
    }

    fn len(&mut self, path: &Path) -> Result<u64, i32> {
        let sim = self.files.get(path).ok_or(libc::ENOENT)?;
        Ok(sim.current.len() as u64)
    }

    fn truncate(&mut self, path: &Path, len: u64) -> Result<(), i32> {
        let sim = self.files.get_mut(path).ok_or(libc::ENOENT)?;
        sim.current.truncate(len as usize);
        sim.durable.truncate(len as usize);
        sim.unsynced.clear();
        Ok(())
    }

    fn remove(&mut self, path: &Path) -> Result<(), i32> {
        self.files.remove(path).map(|_| ()).ok_or(libc::ENOENT)
    }
}
