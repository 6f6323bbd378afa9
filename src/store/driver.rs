//! `StdDriver`: runs a store's IO requests with `std::fs`, synchronously. For tests and
//! tools; the broker runs them on its core's io_uring instead (`runtime::file_io`).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;

use super::stream_store::StreamStore;
use super::{IoOp, IoResult};

/// The files opened by `Open` requests, by the store's file numbers.
#[derive(Debug, Default)]
pub struct StdDriver {
    files: HashMap<u32, File>,
}

fn errno(error: std::io::Error) -> IoResult {
    IoResult::Err(error.raw_os_error().unwrap_or(libc::EIO))
}

impl StdDriver {
    pub fn new() -> StdDriver {
        StdDriver::default()
    }

    /// Runs every request the store has until it has none (completing each at once).
    pub fn run(&mut self, store: &mut StreamStore) {
        while let Some((token, op)) = store.poll_io() {
            let result = self.execute(op);
            store.complete(token, result);
        }
    }

    /// Runs one request.
    pub fn execute(&mut self, op: IoOp) -> IoResult {
        match self.try_execute(op) {
            Ok(result) => result,
            Err(error) => errno(error),
        }
    }

    fn file(&self, file: u32) -> std::io::Result<&File> {
        self.files
            .get(&file)
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EBADF))
    }

    fn try_execute(&mut self, op: IoOp) -> std::io::Result<IoResult> {
        match op {
            IoOp::MkDirAll { path } => std::fs::create_dir_all(path)?,
            IoOp::Open { file, path, create } => {
                let handle = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(create)
                    .truncate(create)
                    .open(path)?;
                self.files.insert(file, handle);
                return Ok(IoResult::Opened);
            }
            IoOp::Write {
                file,
                offset,
                bytes,
                sync,
            } => {
                let handle = self.file(file)?;
                handle.write_all_at(&bytes, offset)?;
                if sync {
                    handle.sync_data()?;
                }
            }
            IoOp::Sync { file } => self.file(file)?.sync_data()?,
            IoOp::Read { file, offset, len } => {
                let handle = self.file(file)?;
                let mut buffer = vec![0u8; len as usize];
                let mut filled = 0;
                while filled < buffer.len() {
                    let read = handle.read_at(&mut buffer[filled..], offset + filled as u64)?;
                    if read == 0 {
                        break;
                    }
                    filled += read;
                }
                buffer.truncate(filled);
                return Ok(IoResult::Read(buffer));
            }
            IoOp::Truncate { file, len } => self.file(file)?.set_len(len)?,
            IoOp::Close { file } => {
                self.files
                    .remove(&file)
                    .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EBADF))?;
            }
            IoOp::Unlink { path } => std::fs::remove_file(path)?,
            IoOp::Rename { from, to } => std::fs::rename(from, to)?,
            IoOp::RemoveDir { path } => std::fs::remove_dir(path)?,
        }
        Ok(IoResult::Ok)
    }
}
