//! File operations on a core's own ring: open, write (optionally followed by fdatasync as
//! one linked pair), fdatasync, read, truncate, close, unlink, mkdir, rename, rmdir. A message core never blocks
//! on the disk: the handler submits an operation with a tag and is told its result by
//! `Handler::on_file_done` on a later turn. This is how JetStream's storage engine (sans-IO,
//! `src/store/`) reaches the disk on the core that owns a stream.
//!
//! The runtime owns an operation's buffers (the bytes to write, the buffer read into, the
//! path) from submission until its last completion, in a slab whose entries never move
//! their heap buffers; shutdown waits for operations in flight.

use std::ffi::CString;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types};

use super::core_state::CoreState;
use super::event_loop::EventLoop;
use super::ring::{OpKind, Token};
use super::{Handler, Io};

/// A file operation for [`Io::submit_file`].
#[derive(Debug)]
pub enum FileOp {
    /// `openat(AT_FDCWD, path, flags, mode)`; done: the new fd, owned by the handler.
    Open {
        path: CString,
        flags: i32,
        mode: u32,
    },
    /// `pwrite` of all of `bytes` at `offset`; with `sync`, an fdatasync linked after it
    /// (the pair is one operation: done only when both are; a short write fails it).
    Write {
        fd: RawFd,
        offset: u64,
        bytes: Vec<u8>,
        sync: bool,
    },
    /// `fdatasync`.
    Sync { fd: RawFd },
    /// `pread` of up to `length` bytes at `offset`.
    Read { fd: RawFd, offset: u64, length: u32 },
    /// `ftruncate` to `length`.
    Truncate { fd: RawFd, length: u64 },
    /// `close`.
    Close { fd: RawFd },
    /// `unlinkat(AT_FDCWD, path, 0)`.
    Unlink { path: CString },
    /// `mkdirat(AT_FDCWD, path, mode)` (one level; `EEXIST` is the caller's to judge).
    MkDir { path: CString, mode: u32 },
    /// `renameat(AT_FDCWD, from, AT_FDCWD, to)`: replaces `to` atomically.
    Rename { from: CString, to: CString },
    /// `unlinkat(AT_FDCWD, path, AT_REMOVEDIR)`: an empty directory.
    RemoveDir { path: CString },
}

/// A finished [`FileOp`].
#[derive(Debug, PartialEq, Eq)]
pub enum FileDone {
    Opened(RawFd),
    /// Every byte was written (and synced, if asked).
    Written,
    Synced,
    /// The bytes read (fewer than asked at the end of the file).
    Read(Vec<u8>),
    Truncated,
    Closed,
    Unlinked,
    MadeDir,
    Renamed,
    RemovedDir,
}

/// A file operation's outcome: done, or the errno it failed with (`ENOSPC` for a short
/// write: a regular file takes fewer bytes than asked only when the file system filled, and
/// the next write would fail with ENOSPC anyway).
pub type FileResult = Result<FileDone, i32>;

/// One operation between submission and its last completion.
#[derive(Debug)]
pub(super) struct PendingFile {
    tag: u64,
    op: FileOp,
    /// Read into this (its capacity is the length asked).
    read_buffer: Vec<u8>,
    /// Completions still to come (2 for a linked write + sync).
    completions_left: u8,
    /// The first failure seen, if any.
    failure: Option<i32>,
    /// Set at submission: a slot reused by a later operation is told apart.
    generation: u32,
    submitted: bool,
}

/// The core's file operations.
#[derive(Debug, Default)]
pub(super) struct Files {
    pending: slab::Slab<PendingFile>,
    /// Slots queued this turn, submitted at the flush.
    to_submit: Vec<usize>,
    next_generation: u32,
}

impl Files {
    /// Operations submitted or queued whose last completion has not been reaped.
    pub(super) fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

/// Queues `op` (submitted at this turn's flush).
pub(super) fn queue(state: &mut CoreState, op: FileOp, tag: u64) {
    let files = &mut state.files;
    files.next_generation = files.next_generation.wrapping_add(1) & 0x00FF_FFFF;
    let read_buffer = match &op {
        FileOp::Read { length, .. } => Vec::with_capacity(*length as usize),
        _ => Vec::new(),
    };
    let completions_left = match &op {
        FileOp::Write { sync: true, .. } => 2,
        _ => 1,
    };
    let slot = files.pending.insert(PendingFile {
        tag,
        op,
        read_buffer,
        completions_left,
        failure: None,
        generation: files.next_generation,
        submitted: false,
    });
    files.to_submit.push(slot);
}

impl<H: Handler> EventLoop<'_, H> {
    /// Pushes the entries of every file operation queued this turn.
    pub(super) fn submit_files(&mut self) {
        let to_submit = std::mem::take(&mut self.state.files.to_submit);
        for &slot in &to_submit {
            let Some(pending) = self.state.files.pending.get_mut(slot) else {
                continue;
            };
            pending.submitted = true;
            let token = Token::new(OpKind::File, slot as u32, pending.generation);
            let entries = entries(pending, token);
            // SAFETY: every pointer in the entries (the path, the bytes, the read buffer)
            // points into heap memory owned by this slot's `PendingFile`, which stays in the
            // slab, unmodified, until its last completion is reaped (`on_file_complete`
            // removes it only when `completions_left` reaches zero); moving the slab entry
            // does not move those heap buffers. Unwinding with operations in flight leaks
            // the slab (`EventLoop::drop`).
            unsafe { self.ring.push_linked(&entries) };
        }
        let mut to_submit = to_submit;
        to_submit.clear();
        if self.state.files.to_submit.is_empty() {
            self.state.files.to_submit = to_submit;
        }
    }

    /// One completion of a file operation; the handler hears of it after the last one.
    pub(super) fn on_file_complete(&mut self, token: Token, result: i32) {
        let slot = token.slot as usize;
        let Some(pending) = self.state.files.pending.get_mut(slot) else {
            return;
        };
        if !token.is_generation(pending.generation) {
            return;
        }
        pending.completions_left -= 1;
        if pending.failure.is_none() {
            if result < 0 {
                pending.failure = Some(-result);
            } else if let FileOp::Write { bytes, .. } = &pending.op {
                // The write's own completion comes first; a short write fails the pair
                // (its linked sync is then cancelled).
                if pending.completions_left + 1 == completions_of(&pending.op)
                    && (result as usize) < bytes.len()
                {
                    pending.failure = Some(libc::ENOSPC);
                }
            } else if let FileOp::Read { .. } = &pending.op {
                // SAFETY: the kernel wrote `result` bytes into the buffer's capacity.
                unsafe { pending.read_buffer.set_len(result as usize) };
            }
        }
        if pending.completions_left > 0 {
            return;
        }
        let pending = self.state.files.pending.remove(slot);
        let outcome = match pending.failure {
            Some(errno) => Err(errno),
            None => Ok(match pending.op {
                FileOp::Open { .. } => FileDone::Opened(result),
                FileOp::Write { .. } => FileDone::Written,
                FileOp::Sync { .. } => FileDone::Synced,
                FileOp::Read { .. } => FileDone::Read(pending.read_buffer),
                FileOp::Truncate { .. } => FileDone::Truncated,
                FileOp::Close { .. } => FileDone::Closed,
                FileOp::Unlink { .. } => FileDone::Unlinked,
                FileOp::MkDir { .. } => FileDone::MadeDir,
                FileOp::Rename { .. } => FileDone::Renamed,
                FileOp::RemoveDir { .. } => FileDone::RemovedDir,
            }),
        };
        self.handler.on_file_done(
            &mut Io {
                state: &mut self.state,
            },
            pending.tag,
            outcome,
        );
    }
}

fn completions_of(op: &FileOp) -> u8 {
    match op {
        FileOp::Write { sync: true, .. } => 2,
        _ => 1,
    }
}

/// The SQEs of one operation (two, linked, for a write with sync).
fn entries(pending: &mut PendingFile, token: Token) -> Vec<squeue::Entry> {
    let user_data = token.encode();
    let at_cwd = types::Fd(libc::AT_FDCWD);
    match &pending.op {
        FileOp::Open { path, flags, mode } => vec![opcode::OpenAt::new(at_cwd, path.as_ptr())
            .flags(*flags | libc::O_CLOEXEC)
            .mode(*mode)
            .build()
            .user_data(user_data)],
        FileOp::Write {
            fd,
            offset,
            bytes,
            sync,
        } => {
            let write = opcode::Write::new(types::Fd(*fd), bytes.as_ptr(), bytes.len() as u32)
                .offset(*offset)
                .build()
                .user_data(user_data);
            if *sync {
                vec![
                    write.flags(squeue::Flags::IO_LINK),
                    opcode::Fsync::new(types::Fd(*fd))
                        .flags(types::FsyncFlags::DATASYNC)
                        .build()
                        .user_data(user_data),
                ]
            } else {
                vec![write]
            }
        }
        FileOp::Sync { fd } => vec![opcode::Fsync::new(types::Fd(*fd))
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .user_data(user_data)],
        FileOp::Read { fd, offset, length } => {
            vec![
                opcode::Read::new(types::Fd(*fd), pending.read_buffer.as_mut_ptr(), *length)
                    .offset(*offset)
                    .build()
                    .user_data(user_data),
            ]
        }
        FileOp::Truncate { fd, length } => vec![opcode::Ftruncate::new(types::Fd(*fd), *length)
            .build()
            .user_data(user_data)],
        FileOp::Close { fd } => vec![opcode::Close::new(types::Fd(*fd))
            .build()
            .user_data(user_data)],
        FileOp::Unlink { path } => vec![opcode::UnlinkAt::new(at_cwd, path.as_ptr())
            .build()
            .user_data(user_data)],
        FileOp::MkDir { path, mode } => vec![opcode::MkDirAt::new(at_cwd, path.as_ptr())
            .mode(*mode)
            .build()
            .user_data(user_data)],
        FileOp::Rename { from, to } => {
            vec![
                opcode::RenameAt::new(at_cwd, from.as_ptr(), at_cwd, to.as_ptr())
                    .build()
                    .user_data(user_data),
            ]
        }
        FileOp::RemoveDir { path } => vec![opcode::UnlinkAt::new(at_cwd, path.as_ptr())
            .flags(libc::AT_REMOVEDIR)
            .build()
            .user_data(user_data)],
    }
}
