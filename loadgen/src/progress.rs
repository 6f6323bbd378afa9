//! A once-a-second progress line on stderr, only when stderr is a terminal (so scripts that
//! capture output see none of it).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

/// Counters the workers bump once per batch (never per message).
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub received: AtomicU64,
}

/// Stops the progress thread when dropped.
pub struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn start(counters: Arc<Counters>) -> Progress {
    if !std::io::stderr().is_terminal() {
        return Progress {
            stop: None,
            thread: None,
        };
    }
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = thread::spawn(move || {
        let started = Instant::now();
        // The channel doubles as the tick: a timeout means "print", a hang-up means "stop".
        while let Err(mpsc::RecvTimeoutError::Timeout) =
            stopped.recv_timeout(Duration::from_secs(1))
        {
            let sent = counters.sent.load(Ordering::Relaxed);
            let received = counters.received.load(Ordering::Relaxed);
            let seconds = started.elapsed().as_secs_f64();
            eprint!(
                "\r{seconds:6.1} s  sent {sent:>12}  received {received:>12}  ({:.0} msgs/s in)",
                received as f64 / seconds
            );
            let _ = std::io::stderr().flush();
        }
        eprintln!();
    });
    Progress {
        stop: Some(stop),
        thread: Some(thread),
    }
}
