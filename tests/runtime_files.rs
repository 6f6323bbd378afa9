//! File operations on a core's ring (`Io::submit_file`): a handler walks a file through
//! open, a write with its linked fdatasync, a read back, a truncate, close and unlink,
//! each step started from the previous one's `on_file_done`; the test compares the exact
//! results and the file on disk. Failures come back as errnos. Waits on conditions with
//! deadlines.

use std::ffi::CString;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringmq::runtime::{
    self, CloseReason, ConnId, FileDone, FileOp, FileResult, Handler, Io, RuntimeConfig,
};

const WAIT_MAX: Duration = Duration::from_secs(30);

fn config() -> RuntimeConfig {
    RuntimeConfig {
        cores: 1,
        recv_buffers: 8,
        recv_buffer_size: 4096,
        connections_per_core: 16,
        mailbox_bytes: 1 << 20,
        write_deadline: Duration::from_secs(5),
        shutdown_flush: Duration::from_secs(1),
        tls: None,
    }
}

/// What the test asks the core to run, and what came back.
#[derive(Default)]
struct Board {
    start: Mutex<Option<PathBuf>>,
    results: Mutex<Vec<(u64, FileResult)>>,
}

/// Runs the steps in order: tag i is step i.
struct Walker {
    board: Arc<Board>,
    path: Option<CString>,
    fd: i32,
}

const PAYLOAD: &[u8] = b"0123456789 durable bytes\n";

impl Walker {
    fn step(&mut self, io: &mut Io<'_>, tag: u64) {
        let fd = self.fd;
        let path = self.path.clone().expect("started");
        let op = match tag {
            1 => FileOp::Open {
                path,
                flags: libc::O_CREAT | libc::O_RDWR | libc::O_TRUNC,
                mode: 0o600,
            },
            2 => FileOp::Write {
                fd,
                offset: 0,
                bytes: PAYLOAD.to_vec(),
                sync: true,
            },
            3 => FileOp::Write {
                fd,
                offset: PAYLOAD.len() as u64,
                bytes: b"tail".to_vec(),
                sync: false,
            },
            4 => FileOp::Sync { fd },
            5 => FileOp::Read {
                fd,
                offset: 4,
                length: 1000,
            },
            6 => FileOp::Truncate { fd, length: 10 },
            7 => FileOp::Read {
                fd,
                offset: 0,
                length: 1000,
            },
            8 => FileOp::Close { fd },
            9 => FileOp::Write {
                fd,
                offset: 0,
                bytes: b"x".to_vec(),
                sync: true,
            },
            10 => FileOp::Unlink { path },
            11 => FileOp::Unlink { path },
            12 | 13 => FileOp::MkDir {
                path: with_suffix(&path, ".d"),
                mode: 0o700,
            },
            14 => FileOp::Rename {
                from: with_suffix(&path, ".d"),
                to: with_suffix(&path, ".e"),
            },
            15 | 16 => FileOp::RemoveDir {
                path: with_suffix(&path, ".e"),
            },
            _ => return,
        };
        io.submit_file(op, tag);
    }
}

fn with_suffix(path: &CString, suffix: &str) -> CString {
    CString::new(format!("{}{suffix}", path.to_str().unwrap())).unwrap()
}

impl Handler for Walker {
    fn on_open(&mut self, io: &mut Io<'_>, conn: ConnId, _peer: SocketAddr) {
        io.close(conn, false);
    }
    fn on_data(&mut self, _io: &mut Io<'_>, _conn: ConnId, _data: &[u8]) {}
    fn on_close(&mut self, _io: &mut Io<'_>, _conn: ConnId, _reason: CloseReason) {}
    fn on_mail(&mut self, _io: &mut Io<'_>, _from: usize, _record: &[u8]) {}
    fn on_timer(&mut self, _io: &mut Io<'_>, _token: u64) {}
    fn on_shutdown(&mut self, _io: &mut Io<'_>) {}
    fn on_turn_end(&mut self, io: &mut Io<'_>) {
        let start = self.board.start.lock().unwrap().take();
        if let Some(path) = start {
            self.path = Some(CString::new(path.to_str().unwrap()).unwrap());
            self.step(io, 1);
        }
    }
    fn on_file_done(&mut self, io: &mut Io<'_>, tag: u64, result: FileResult) {
        if let Ok(FileDone::Opened(fd)) = result {
            self.fd = fd;
        }
        self.board.results.lock().unwrap().push((tag, result));
        self.step(io, tag + 1);
    }
}

#[test]
fn files_and_directories_are_made_written_synced_read_renamed_and_removed_on_the_ring() {
    runtime::probe().expect("io_uring usable");
    let board = Arc::new(Board::default());
    let for_core = board.clone();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let handle = runtime::start(config(), listener, move |_| Walker {
        board: for_core.clone(),
        path: None,
        fd: -1,
    })
    .expect("start");
    let path = std::env::temp_dir().join(format!("ringmq-files-{}", std::process::id()));
    *board.start.lock().unwrap() = Some(path.clone());
    handle.wake();
    let deadline = Instant::now() + WAIT_MAX;
    while board.results.lock().unwrap().len() < 16 {
        assert!(Instant::now() < deadline, "file steps did not finish");
        std::thread::sleep(Duration::from_millis(1));
    }
    let results = std::mem::take(&mut *board.results.lock().unwrap());
    let fd = match results[0] {
        (1, Ok(FileDone::Opened(fd))) => fd,
        ref other => panic!("open: {other:?}"),
    };
    assert!(fd >= 0);
    let mut read_back = PAYLOAD[4..].to_vec();
    read_back.extend_from_slice(b"tail");
    assert_eq!(
        results[1..],
        [
            (2, Ok(FileDone::Written)),
            (3, Ok(FileDone::Written)),
            (4, Ok(FileDone::Synced)),
            (5, Ok(FileDone::Read(read_back))),
            (6, Ok(FileDone::Truncated)),
            (7, Ok(FileDone::Read(PAYLOAD[..10].to_vec()))),
            (8, Ok(FileDone::Closed)),
            // A write (and its linked sync) on the closed fd fails with EBADF.
            (9, Err(libc::EBADF)),
            (10, Ok(FileDone::Unlinked)),
            (11, Err(libc::ENOENT)),
            (12, Ok(FileDone::MadeDir)),
            (13, Err(libc::EEXIST)),
            (14, Ok(FileDone::Renamed)),
            (15, Ok(FileDone::RemovedDir)),
            (16, Err(libc::ENOENT)),
        ]
    );
    assert!(!path.exists());
    handle.shutdown();
}
