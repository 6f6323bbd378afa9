//! Process signals: SIGPIPE ignored; SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 delivered
//! to one waiting thread instead of interrupting the cores; sending signals for `--signal`.

/// A signal the main thread acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    Hangup,
    User1,
    User2,
}

/// The signals `wait` returns, in one place so `block_signals` and `wait` agree.
const HANDLED: [(libc::c_int, Signal); 5] = [
    (libc::SIGINT, Signal::Interrupt),
    (libc::SIGTERM, Signal::Terminate),
    (libc::SIGHUP, Signal::Hangup),
    (libc::SIGUSR1, Signal::User1),
    (libc::SIGUSR2, Signal::User2),
];

/// Ignores SIGPIPE and blocks the handled signals in the calling thread; call before any
/// other thread starts so every thread inherits the mask.
pub fn block_signals() {
    ignore_sigpipe();
    let set = handled_set();
    // SAFETY: `set` is an initialised sigset_t; a null old-set pointer is allowed.
    let result = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    assert_eq!(result, 0, "pthread_sigmask failed");
}

/// Waits for the next handled signal (the mask must be set by [`block_signals`]).
pub fn wait() -> Signal {
    let set = handled_set();
    loop {
        let mut number: libc::c_int = 0;
        // SAFETY: `set` is initialised and `number` is a live out-parameter.
        let result = unsafe { libc::sigwait(&set, &mut number) };
        if result != 0 {
            continue;
        }
        if let Some(&(_, signal)) = HANDLED.iter().find(|(handled, _)| *handled == number) {
            return signal;
        }
    }
}

/// Like [`wait`], but gives up after `timeout` (then `None`).
pub fn wait_timeout(timeout: std::time::Duration) -> Option<Signal> {
    let set = handled_set();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        let spec = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `set` and `spec` are initialised; a null siginfo pointer is allowed.
        let number = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &spec) };
        if number < 0 {
            // EAGAIN: timed out; EINTR: interrupted by an unhandled signal, wait on.
            continue;
        }
        if let Some(&(_, signal)) = HANDLED.iter().find(|(handled, _)| *handled == number) {
            return Some(signal);
        }
    }
}

/// Sends `signal` (a libc signal number) to process `pid`.
pub fn send(pid: i32, signal: libc::c_int) -> std::io::Result<()> {
    // SAFETY: kill takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A write to a socket the peer closed must fail with EPIPE, not kill the process (Writev
/// has no MSG_NOSIGNAL).
pub fn ignore_sigpipe() {
    // SAFETY: setting the disposition of SIGPIPE to SIG_IGN installs no handler code.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    debug_assert_ne!(previous, libc::SIG_ERR);
}

fn handled_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set before any use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live sigset_t; the signal numbers are valid.
    unsafe {
        libc::sigemptyset(&mut set);
        for (number, _) in HANDLED {
            libc::sigaddset(&mut set, number);
        }
    }
    set
}
