//! bcrypt off the message cores. A CONNECT (a client's, a leaf's or a route's) whose
//! password or token is a bcrypt hash, and whose success is not remembered from an earlier
//! CONNECT, needs a bcrypt run: about 100 ms at the usual costs, during which a core would
//! serve no one else. The shard hands such a check to these worker threads instead, holds
//! the connection's further input, and finishes the CONNECT when the answer comes back
//! (`Shard::finish_auth_checks`). A reload that changes a bcrypt hash re-checks its
//! connected clients the same way; they go on with their current permissions meanwhile.
//!
//! - Workers: one per core, started at the first check, at a lower scheduling priority
//!   (nice [`WORKER_NICE`]) so that a storm of bad passwords takes CPU from nothing but
//!   itself and the idle time.
//! - Limit: `Limits::auth_checks_queued` logins may wait for a worker. Over it, the CONNECT
//!   is refused as a failed login (`-ERR 'Authorization Violation'`, logged with the queue
//!   length), so a flood of logins cannot grow memory or delay the others without bound.
//!   Re-checks are not counted against it: there is at most one per connection.
//! - Answers go to a queue per core, and the core is woken ([`CoreWaker`]) to take them at
//!   the end of its turn.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use crate::auth::{Identity, SecretCheck};
use crate::runtime::{sys, ConnId, CoreWaker};

/// Scheduling priority of the workers (0 is the cores', 19 the lowest).
pub const WORKER_NICE: i32 = 10;

/// One check in flight: what to run, and where its answer goes.
struct Job {
    check: SecretCheck,
    conn: ConnId,
    ticket: u64,
    core: usize,
    waker: CoreWaker,
}

/// A finished check, for the core that owns `conn`.
#[derive(Debug)]
pub struct CheckDone {
    pub conn: ConnId,
    /// Matches the ticket the client waits with (a recycled slot's answer is dropped).
    pub ticket: u64,
    /// The identity the secret admits, `None` if it did not match.
    pub admitted: Option<Identity>,
}

/// Answers waiting for one core.
#[derive(Debug, Default)]
struct Answers {
    ready: AtomicBool,
    done: Mutex<Vec<CheckDone>>,
}

/// The workers, their queue and the per-core answers; shared by all cores.
#[derive(Debug)]
pub struct AuthChecks {
    workers: usize,
    /// `Limits::auth_checks_queued`.
    queued_max: usize,
    /// Unbounded: `in_flight` bounds the logins.
    sender: OnceLock<Sender<Job>>,
    /// Checks submitted and not yet finished (the queue bound counts these).
    in_flight: Arc<AtomicUsize>,
    answers: Arc<Vec<Answers>>,
}

/// Why a check was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    /// As many checks as the limit allows are waiting already (the number waiting).
    QueueFull(usize),
    /// No worker thread could be started.
    NoWorkers,
}

impl AuthChecks {
    pub fn new(cores: usize, queued_max: usize) -> AuthChecks {
        AuthChecks {
            workers: cores.max(1),
            queued_max: queued_max.max(1),
            sender: OnceLock::new(),
            in_flight: Arc::new(AtomicUsize::new(0)),
            answers: Arc::new((0..cores.max(1)).map(|_| Answers::default()).collect()),
        }
    }

    /// Queues `check` for `conn` on core `core`; its answer comes back through
    /// [`AuthChecks::take_answers`] after `waker` has woken that core. A login (`bounded`)
    /// is rejected over the queue bound; a reload's re-check of a connected client is not
    /// (there is at most one per connection, so connections bound them).
    pub fn submit(
        &self,
        check: SecretCheck,
        conn: ConnId,
        ticket: u64,
        core: usize,
        waker: CoreWaker,
        bounded: bool,
    ) -> Result<(), Rejected> {
        let queued = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if bounded && queued >= self.queued_max {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(Rejected::QueueFull(queued));
        }
        let Some(sender) = self.sender() else {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(Rejected::NoWorkers);
        };
        let job = Job {
            check,
            conn,
            ticket,
            core,
            waker,
        };
        sender.send(job).map_err(|_| {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            Rejected::NoWorkers
        })
    }

    /// The answers for `core` that arrived since the last call (cheap when there are none:
    /// one atomic load).
    pub fn take_answers(&self, core: usize, out: &mut Vec<CheckDone>) {
        let answers = &self.answers[core];
        // A plain load first: every turn of every core passes here, answers are rare.
        if !answers.ready.load(Ordering::Relaxed) || !answers.ready.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Ok(mut done) = answers.done.lock() {
            out.append(&mut done);
        }
    }

    /// The queue bound (`Limits::auth_checks_queued`), for the refusal's log line.
    pub fn queued_max(&self) -> usize {
        self.queued_max
    }

    /// Starts the workers on first use.
    fn sender(&self) -> Option<&Sender<Job>> {
        if let Some(sender) = self.sender.get() {
            return Some(sender);
        }
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut started = 0;
        for index in 0..self.workers {
            let receiver = Arc::clone(&receiver);
            let answers = Arc::clone(&self.answers);
            let in_flight = Arc::clone(&self.in_flight);
            let spawned = std::thread::Builder::new()
                .name(format!("ringmq-auth-{index}"))
                .spawn(move || work(&receiver, &answers, &in_flight));
            match spawned {
                Ok(_) => started += 1,
                Err(error) => crate::error!("cannot start an authentication worker: {error}"),
            }
        }
        if started == 0 {
            return None;
        }
        // Two cores racing here: one set of workers wins; the other's see their channel
        // closed at once and end.
        let _ = self.sender.set(sender);
        self.sender.get()
    }
}

/// A worker: runs checks until the server (every sender) is gone.
fn work(receiver: &Mutex<Receiver<Job>>, answers: &[Answers], in_flight: &AtomicUsize) {
    if let Err(error) = sys::lower_thread_priority(WORKER_NICE) {
        crate::debug!("authentication worker keeps its priority: {error}");
    }
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let admitted = job.check.run().then(|| job.check.identity.clone());
        let answers = &answers[job.core];
        if let Ok(mut done) = answers.done.lock() {
            done.push(CheckDone {
                conn: job.conn,
                ticket: job.ticket,
                admitted,
            });
        }
        answers.ready.store(true, Ordering::Release);
        in_flight.fetch_sub(1, Ordering::AcqRel);
        job.waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthConfig, Authenticator, Credentials, User, Verdict};
    use std::time::{Duration, Instant};

    fn check(auth: &Authenticator, pass: &str) -> SecretCheck {
        let credentials = Credentials {
            user: Some("u"),
            pass: Some(pass),
            ..Credentials::default()
        };
        match auth.verdict(&credentials, b"") {
            Verdict::Check(check) => check,
            other => panic!("expected a bcrypt check, got {other:?}"),
        }
    }

    fn authenticator(hash: &str) -> Authenticator {
        Authenticator::new(&AuthConfig {
            users: vec![User {
                name: "u".into(),
                password: hash.into(),
                account: None,
                permissions: None,
            }],
            ..AuthConfig::default()
        })
        .unwrap()
    }

    /// A waker for a core that does not exist (no ring yet): waking it does nothing.
    fn waker() -> CoreWaker {
        crate::runtime::CoreWaker::detached()
    }

    fn wait_for_answers(checks: &AuthChecks, count: usize) -> Vec<CheckDone> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut answers = Vec::new();
        while answers.len() < count {
            assert!(Instant::now() < deadline, "answers: {answers:?}");
            checks.take_answers(0, &mut answers);
            std::thread::yield_now();
        }
        answers
    }

    #[test]
    fn answers_come_back_to_the_core_with_their_ticket() {
        let hash = bcrypt::hash("right", 4).unwrap();
        let auth = authenticator(&hash);
        let checks = AuthChecks::new(1, 8);
        let conn = ConnId {
            slot: 3,
            generation: 1,
        };
        checks
            .submit(check(&auth, "wrong"), conn, 7, 0, waker(), true)
            .unwrap();
        checks
            .submit(check(&auth, "right"), conn, 8, 0, waker(), true)
            .unwrap();
        let mut answers = wait_for_answers(&checks, 2);
        answers.sort_by_key(|answer| answer.ticket);
        assert_eq!(answers.len(), 2);
        assert_eq!((answers[0].conn, answers[0].ticket), (conn, 7));
        assert!(answers[0].admitted.is_none());
        assert_eq!((answers[1].conn, answers[1].ticket), (conn, 8));
        assert!(answers[1].admitted.is_some());
        assert_eq!(checks.in_flight.load(Ordering::Acquire), 0);
    }

    #[test]
    fn over_the_queue_bound_a_check_is_rejected() {
        // A cost-4 hash relabelled cost 12: a valid hash whose check takes far longer than
        // filling the queue, so the first check holds the one worker meanwhile.
        let slow = bcrypt::hash("right", 4)
            .unwrap()
            .replacen("$04$", "$12$", 1);
        let auth = authenticator(&slow);
        const QUEUED_MAX: usize = 4;
        let checks = AuthChecks::new(1, QUEUED_MAX);
        let conn = ConnId {
            slot: 0,
            generation: 0,
        };
        for ticket in 0..QUEUED_MAX as u64 {
            checks
                .submit(check(&auth, "x"), conn, ticket, 0, waker(), true)
                .unwrap();
        }
        assert_eq!(
            checks.submit(check(&auth, "x"), conn, 999, 0, waker(), true),
            Err(Rejected::QueueFull(QUEUED_MAX))
        );
        assert_eq!(checks.in_flight.load(Ordering::Acquire), QUEUED_MAX);
        // A reload's re-check of a connected client is not bounded by it.
        assert_eq!(
            checks.submit(check(&auth, "x"), conn, 1000, 0, waker(), false),
            Ok(())
        );
        assert_eq!(checks.in_flight.load(Ordering::Acquire), QUEUED_MAX + 1);
    }
}
