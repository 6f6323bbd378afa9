//! A stream's IO on the owner core's ring: the storage engine's requests (`store::IoOp`)
//! run one at a time, in the order the engine asked, as `runtime::FileOp`s. One at a time
//! keeps the engine's ordering promises (an open before the writes to it, a truncate
//! before the next write) without the engine knowing about io_uring; group commit still
//! makes one write + fdatasync carry every publish of a batch.

use crate::runtime::{FileDone, FileOp, FileResult, Io};
use crate::store::{IoOp, IoResult};
use std::collections::{HashMap, VecDeque};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One engine request, possibly several ring operations (`MkDirAll`: one per level).
#[derive(Debug)]
struct Request {
    token: u64,
    op: IoOp,
    /// For `MkDirAll`: the directories still to make, outermost first.
    dirs: VecDeque<PathBuf>,
}

/// The serial queue of one stream.
#[derive(Debug, Default)]
pub(super) struct StreamIo {
    queue: VecDeque<Request>,
    in_flight: bool,
    /// The engine's file numbers → descriptors.
    fds: HashMap<u32, i32>,
    /// The store directory's `jetstream/`, made at start-up: `MkDirAll` makes only what
    /// is below it (each level, an existing one being fine), never asking the disk first.
    root: PathBuf,
}

/// What a finished ring operation means for the engine.
pub(super) enum Step {
    /// The engine's request is done: tell it.
    Done(u64, IoResult),
    /// More ring operations of the same request follow.
    Continue,
}

impl StreamIo {
    pub(super) fn new(root: PathBuf) -> StreamIo {
        StreamIo {
            root,
            ..StreamIo::default()
        }
    }

    pub(super) fn push(&mut self, token: u64, op: IoOp) {
        let dirs = match &op {
            IoOp::MkDirAll { path } => dirs_below(&self.root, path),
            _ => VecDeque::new(),
        };
        self.queue.push_back(Request { token, op, dirs });
    }

    pub(super) fn idle(&self) -> bool {
        !self.in_flight && self.queue.is_empty()
    }

    /// Submits the next ring operation if none is in flight; `tag` names this stream.
    /// Requests that need no ring operation (an empty `MkDirAll`) finish at once and are
    /// returned.
    pub(super) fn submit(&mut self, io: &mut Io<'_>, tag: u64) -> Option<(u64, IoResult)> {
        if self.in_flight {
            return None;
        }
        // An unknown file number is a bad descriptor: the operation fails with EBADF and
        // the engine is told, rather than a wrong file being written.
        let fds = &self.fds;
        let fd = |file: &u32| fds.get(file).copied().unwrap_or(-1);
        let request = self.queue.front()?;
        let op = match &request.op {
            IoOp::MkDirAll { .. } => match request.dirs.front() {
                Some(dir) => FileOp::MkDir {
                    path: c_path(dir),
                    mode: 0o750,
                },
                None => {
                    let done = self.queue.pop_front().expect("front exists");
                    return Some((done.token, IoResult::Ok));
                }
            },
            IoOp::Open { path, create, .. } => FileOp::Open {
                path: c_path(path),
                flags: libc::O_RDWR
                    | if *create {
                        libc::O_CREAT | libc::O_TRUNC
                    } else {
                        0
                    },
                mode: 0o640,
            },
            IoOp::Write {
                file,
                offset,
                bytes,
                sync,
            } => FileOp::Write {
                fd: fd(file),
                offset: *offset,
                bytes: bytes.clone(),
                sync: *sync,
            },
            IoOp::Sync { file } => FileOp::Sync { fd: fd(file) },
            IoOp::Read { file, offset, len } => FileOp::Read {
                fd: fd(file),
                offset: *offset,
                length: *len,
            },
            IoOp::Truncate { file, len } => FileOp::Truncate {
                fd: fd(file),
                length: *len,
            },
            IoOp::Close { file } => FileOp::Close { fd: fd(file) },
            IoOp::Unlink { path } => FileOp::Unlink { path: c_path(path) },
            IoOp::Rename { from, to } => FileOp::Rename {
                from: c_path(from),
                to: c_path(to),
            },
            IoOp::RemoveDir { path } => FileOp::RemoveDir { path: c_path(path) },
        };
        self.in_flight = true;
        io.submit_file(op, tag);
        None
    }

    /// The ring finished the operation in flight.
    pub(super) fn finished(&mut self, result: FileResult) -> Step {
        self.in_flight = false;
        let Some(request) = self.queue.front_mut() else {
            return Step::Continue;
        };
        if let IoOp::MkDirAll { .. } = request.op {
            match result {
                Ok(_) | Err(libc::EEXIST) => {
                    request.dirs.pop_front();
                    if !request.dirs.is_empty() {
                        return Step::Continue;
                    }
                }
                Err(errno) => {
                    let done = self.queue.pop_front().expect("front exists");
                    return Step::Done(done.token, IoResult::Err(errno));
                }
            }
            let done = self.queue.pop_front().expect("front exists");
            return Step::Done(done.token, IoResult::Ok);
        }
        let done = self.queue.pop_front().expect("front exists");
        let answer = match (result, &done.op) {
            (Err(errno), _) => IoResult::Err(errno),
            (Ok(FileDone::Opened(fd)), IoOp::Open { file, .. }) => {
                self.fds.insert(*file, fd);
                IoResult::Opened
            }
            (Ok(FileDone::Read(bytes)), _) => IoResult::Read(bytes),
            (Ok(FileDone::Closed), IoOp::Close { file }) => {
                self.fds.remove(file);
                IoResult::Ok
            }
            (Ok(_), _) => IoResult::Ok,
        };
        Step::Done(done.token, answer)
    }

    /// Descriptors still open (closed at shutdown).
    pub(super) fn open_fds(&self) -> impl Iterator<Item = i32> + '_ {
        self.fds.values().copied()
    }
}

/// `path` and its ancestors below `root`, outermost first (all of `path`'s ancestors if
/// it is not under `root`).
fn dirs_below(root: &Path, path: &Path) -> VecDeque<PathBuf> {
    let mut dirs = VecDeque::new();
    let mut current = Some(path);
    while let Some(dir) = current {
        if dir.as_os_str().is_empty() || dir == root || dir == Path::new("/") {
            break;
        }
        dirs.push_front(dir.to_path_buf());
        current = dir.parent();
    }
    dirs
}

fn c_path(path: &Path) -> CString {
    // Paths are built from the store directory and stream names, which never hold NUL
    // (names are checked); a NUL would fail the operation with ENOENT.
    CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}
