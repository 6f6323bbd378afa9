//! Process signals: SIGPIPE ignored, SIGINT/SIGTERM (and later SIGHUP/SIGUSR2) delivered to
//! one waiting thread instead of interrupting the cores.

/// A signal the main thread acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    Hangup,
    User1,
    User2,
}

/// Ignores SIGPIPE and blocks the handled signals in the calling thread; call before any
/// other thread starts so every thread inherits the mask.
pub fn block_signals() {
    todo!("runtime helper")
}

/// Waits for the next handled signal (the mask must be set by [`block_signals`]).
pub fn wait() -> Signal {
    todo!("runtime helper")
}
