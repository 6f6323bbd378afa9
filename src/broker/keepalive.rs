//! Keep-alive: the first PING soon after CONNECT (nats-server's RTT probe), then one every
//! `ping_interval` unless the client was active, `Stale Connection` after `ping_max`
//! unanswered; the client's PONGs; and, while a TLS handshake runs, its deadline.

use super::connection::ClosedReason;
use super::timers::Timer;
use super::Shard;
use crate::debug;
use crate::protocol::encoder::{self, err};
use crate::runtime::{ConnId, Io};
use std::time::Duration;

/// Upper bound of the first keep-alive PING after CONNECT (nats-server measures RTT with it).
const FIRST_PING_DELAY: Duration = Duration::from_secs(2);

impl Shard {
    pub(super) fn arm_ping_timer(&mut self, io: &mut Io<'_>, conn: ConnId, delay: Duration) {
        let at = io.now() + delay;
        let timer = io.set_timer(at, Timer::Ping(conn).token());
        if let Some(client) = self.client_mut(conn) {
            if let Some(old) = client.ping_timer.replace(timer) {
                io.cancel_timer(old);
            }
        }
    }

    /// nats-server probes the round-trip time with a PING soon after CONNECT: at the smaller
    /// of the ping interval and 2 s, plus up to 20 % jitter.
    pub(super) fn arm_first_ping(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let base = self.live.config.limits.ping_interval.min(FIRST_PING_DELAY);
        let jitter_ms = self.random_below(base.as_millis() as u64 / 5 + 1);
        self.arm_ping_timer(io, conn, base + Duration::from_millis(jitter_ms));
    }

    pub(super) fn on_ping_timer(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let limits = &self.live.config.limits;
        let (interval, ping_max) = (limits.ping_interval, limits.ping_max);
        let now = io.now();
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        client.ping_timer = None;
        if !client.is_open() {
            return;
        }
        if client.tls_handshaking {
            self.on_tls_timer(io, conn);
            return;
        }
        let recently_active = now.duration_since(client.last_input) < interval;
        if !recently_active || !client.rtt_measured {
            if client.pings_out + 1 > ping_max {
                debug!(
                    "{} - {} - Stale Client Connection - Closing",
                    client.peer,
                    client.tag()
                );
                io.write(conn, err::STALE_CONNECTION);
                self.close_client(io, conn, true, ClosedReason::StaleConnection);
                return;
            }
            client.pings_out += 1;
            client.rtt_ping_sent = Some(now);
            io.write(conn, encoder::PING);
        }
        self.arm_ping_timer(io, conn, interval);
    }

    /// A client's PONG answers our PINGs: none outstanding, and the RTT measured from the
    /// last one we sent, as nats-server measures it.
    pub(super) fn on_pong(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let now = io.now();
        if let Some(client) = self.client_mut(conn) {
            client.pings_out = 0;
            client.rtt_measured = true;
            if let Some(sent) = client.rtt_ping_sent {
                client.rtt = now.duration_since(sent).max(Duration::from_nanos(1));
            }
        }
    }
}
