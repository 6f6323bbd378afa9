//! Lame duck mode (SIGUSR2, `--signal ldm`), as nats-server 2.9.10 does it: stop accepting,
//! tell clients that can hear it (protocol 1, first PING answered) with an INFO carrying
//! `"ldm":true`, wait the grace period, then close the clients spread over the rest of the
//! lame duck duration so that they do not all reconnect elsewhere at once, and shut down.
//!
//! The main thread drives the phases ([`super::Server::lame_duck`]); each core acts on a
//! phase change at the end of its next turn (one relaxed load per turn) and spreads the
//! closing of its own clients with a timer.

use super::connection::{ClosedReason, State};
use super::routing::next_random;
use super::shard::Shard;
use crate::runtime::{ConnId, Io, TimerId};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

/// Timer token of a core's next lame-duck close (connection timers use slot | generation
/// << 32, so no connection can produce it).
pub(super) const LAME_DUCK_TIMER: u64 = u64::MAX;

/// The finest spacing of closes; below it, several clients close per tick.
const CLOSE_TICK_MIN: Duration = Duration::from_millis(1);
/// The widest spacing of closes, as nats-server (no point spreading 10 clients over 2 m).
const CLOSE_TICK_MAX: Duration = Duration::from_secs(1);

/// Phases, in order; they only advance.
pub(super) const PHASE_NONE: u8 = 0;
/// Listener closed; eligible clients get the `ldm` INFO.
pub(super) const PHASE_NOTIFY: u8 = 1;
/// Clients are closed, spread over `close_over`.
pub(super) const PHASE_CLOSE: u8 = 2;

/// What the main thread publishes to the cores.
#[derive(Debug, Default)]
pub struct LameDuckSignal {
    phase: AtomicU8,
    close_over_ms: AtomicU64,
}

impl LameDuckSignal {
    pub(super) fn notify(&self) {
        self.phase.store(PHASE_NOTIFY, Ordering::Release);
    }

    pub(super) fn close_over(&self, duration: Duration) {
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self.close_over_ms.store(ms, Ordering::Relaxed);
        self.phase.store(PHASE_CLOSE, Ordering::Release);
    }

    pub fn active(&self) -> bool {
        self.phase.load(Ordering::Acquire) != PHASE_NONE
    }
}

/// One core's progress through the phases.
#[derive(Debug, Default)]
pub(super) struct CoreLameDuck {
    seen: u8,
    /// Spacing of closes and clients closed per tick, fixed when closing starts.
    tick: Duration,
    per_tick: usize,
    timer: Option<TimerId>,
}

impl Shard {
    /// Called at the end of every turn: acts on a phase the main thread has advanced to.
    pub(super) fn check_lame_duck(&mut self, io: &mut Io<'_>) {
        let phase = self.shared.lame_duck.phase.load(Ordering::Acquire);
        if phase == self.lame_duck.seen {
            return;
        }
        if self.lame_duck.seen < PHASE_NOTIFY && phase >= PHASE_NOTIFY {
            self.send_lame_duck_info(io);
            self.announce_lame_duck_to_routes(io);
        }
        if phase == PHASE_CLOSE {
            let close_over =
                Duration::from_millis(self.shared.lame_duck.close_over_ms.load(Ordering::Relaxed));
            self.start_lame_duck_closing(io, close_over);
        }
        self.lame_duck.seen = phase;
    }

    /// The client's INFO again with `"ldm":true`, to clients that take asynchronous INFO:
    /// protocol 1 and their first PING answered.
    fn send_lame_duck_info(&mut self, io: &mut Io<'_>) {
        let mut info = self.live.info.clone();
        info.ldm = true;
        self.add_cluster_fields(&mut info);
        // Clients are pointed at the other nodes only, as nats-server does.
        info.connect_urls
            .retain(|url| !self.shared.client_urls.contains(url));
        for slot in 0..self.clients.len() {
            let Some(client) = self.clients[slot].as_deref() else {
                continue;
            };
            if client.state != State::Open || client.options.protocol < 1 || !client.first_pong_sent
            {
                continue;
            }
            info.client_id = client.cid;
            info.client_ip = client.peer.ip().to_string();
            let conn = client.id;
            self.line.clear();
            info.encode(&mut self.line);
            io.write(conn, &self.line);
        }
    }

    /// Spreads this core's clients over `close_over`: one close every `close_over / n`
    /// (between 1 ms and 1 s, jittered down to half), several per tick when that is finer.
    fn start_lame_duck_closing(&mut self, io: &mut Io<'_>, close_over: Duration) {
        let open = self.open_clients().count();
        if open == 0 {
            return;
        }
        let spacing = close_over / u32::try_from(open).unwrap_or(u32::MAX);
        let tick = spacing.clamp(CLOSE_TICK_MIN, CLOSE_TICK_MAX);
        let ticks = (close_over.as_nanos() / tick.as_nanos()).max(1);
        let per_tick = (open as u128).div_ceil(ticks).max(1);
        self.lame_duck.tick = tick;
        self.lame_duck.per_tick = usize::try_from(per_tick).unwrap_or(usize::MAX);
        self.close_next_lame_duck_batch(io);
    }

    /// Timer: closes the next batch and schedules the one after, until none is left.
    pub(super) fn close_next_lame_duck_batch(&mut self, io: &mut Io<'_>) {
        self.lame_duck.timer = None;
        let batch: Vec<ConnId> = self.open_clients().take(self.lame_duck.per_tick).collect();
        for conn in batch {
            self.close_client(io, conn, true, ClosedReason::ServerShutdown);
        }
        if self.open_clients().next().is_none() {
            return;
        }
        // A random wait in [tick/2, tick), as nats-server, so that the clients of several
        // servers do not reconnect in step.
        let tick_ns = u64::try_from(self.lame_duck.tick.as_nanos()).unwrap_or(u64::MAX);
        let wait_ns = (next_random(&mut self.rng) % tick_ns).max(tick_ns / 2);
        let at = io.now() + Duration::from_nanos(wait_ns);
        self.lame_duck.timer = Some(io.set_timer(at, LAME_DUCK_TIMER));
    }

    fn open_clients(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.clients
            .iter()
            .flatten()
            .filter(|client| client.state == State::Open)
            .map(|client| client.id)
    }
}
