//! Timer tokens: which of the shard's timers fired, and for which connection or peer core.
//!
//! A connection's token has its slot in the low 32 bits and its generation in bits 32..56
//! (the runtime's generations are 24 bits); the top bits say which timer, one bit each:
//! 63 stall, 62 monitoring (`monitoring::TIMER_BIT`, with bit 61 for its gathers), 60 auth,
//! 59 a leaf remote's redial, 58 a route's redial (their index in the low bits, no
//! connection), 57 alone JetStream's tick;
//! the ping timer has none. The lame duck token (`u64::MAX`) and the peer-stall range sit
//! above every connection token and are recognised first.

use super::lame_duck::LAME_DUCK_TIMER;
use super::monitoring;
use crate::runtime::ConnId;

/// Marks a stalled publisher's check timer.
const STALL_BIT: u64 = 1 << 63;
/// Marks the auth timer's token.
const AUTH_BIT: u64 = 1 << 60;
/// Marks a leaf remote's redial timer; the low bits are the remote's index.
const LEAF_REDIAL_BIT: u64 = 1 << 59;
/// Marks a route dial's redial timer; the low bits are the dial's index.
const ROUTE_REDIAL_BIT: u64 = 1 << 58;
/// JetStream's tick (core 0): redeliveries, pull expiries, heartbeats.
const JETSTREAM_TICK: u64 = 1 << 57;
/// Timer tokens of the cross-core stall gate: this plus the peer core's index.
const PEER_STALL_BASE: u64 = u64::MAX - 1 - MAX_CORES;
/// More cores than any machine has; bounds the peer-stall token range.
const MAX_CORES: u64 = 4096;

/// One of the shard's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Keep-alive (and, during a TLS handshake, its deadline).
    Ping(ConnId),
    /// A stalled publisher checks whether its consumer drained.
    Stall(ConnId),
    /// A connection that must authenticate has not.
    Auth(ConnId),
    /// The mail of this peer core is paused while a consumer here drains.
    PeerStall(usize),
    /// The next batch of lame duck closes.
    LameDuck,
    /// Monitoring's own timers (its connections and gathers), decoded by `monitoring`.
    Monitor(u64),
    /// A leaf remote (by index) is due for its next dial.
    LeafRedial(usize),
    /// A route dial (by index) is due.
    RouteRedial(usize),
    /// JetStream's periodic work.
    JetStream,
}

impl Timer {
    pub(super) fn token(self) -> u64 {
        match self {
            Timer::Ping(conn) => connection_token(conn),
            Timer::Stall(conn) => connection_token(conn) | STALL_BIT,
            Timer::Auth(conn) => connection_token(conn) | AUTH_BIT,
            Timer::PeerStall(peer) => {
                debug_assert!((peer as u64) < MAX_CORES);
                PEER_STALL_BASE + peer as u64
            }
            Timer::LameDuck => LAME_DUCK_TIMER,
            Timer::Monitor(token) => token,
            Timer::LeafRedial(remote) => LEAF_REDIAL_BIT | remote as u64,
            Timer::RouteRedial(index) => ROUTE_REDIAL_BIT | index as u64,
            Timer::JetStream => JETSTREAM_TICK,
        }
    }

    pub(super) fn decode(token: u64) -> Timer {
        if token == LAME_DUCK_TIMER {
            return Timer::LameDuck;
        }
        if (PEER_STALL_BASE..PEER_STALL_BASE + MAX_CORES).contains(&token) {
            return Timer::PeerStall((token - PEER_STALL_BASE) as usize);
        }
        if token & monitoring::TIMER_BIT != 0 {
            return Timer::Monitor(token);
        }
        if token & LEAF_REDIAL_BIT != 0 && token & (STALL_BIT | AUTH_BIT) == 0 {
            return Timer::LeafRedial((token & u64::from(u32::MAX)) as usize);
        }
        if token == JETSTREAM_TICK {
            return Timer::JetStream;
        }
        if token & ROUTE_REDIAL_BIT != 0 && token & (STALL_BIT | AUTH_BIT) == 0 {
            return Timer::RouteRedial((token & u64::from(u32::MAX)) as usize);
        }
        let conn = ConnId {
            slot: token as u32,
            generation: ((token & !(STALL_BIT | AUTH_BIT)) >> 32) as u32,
        };
        if token & STALL_BIT != 0 {
            Timer::Stall(conn)
        } else if token & AUTH_BIT != 0 {
            Timer::Auth(conn)
        } else {
            Timer::Ping(conn)
        }
    }
}

/// A connection's slot and generation as a token, without a kind bit.
pub(super) fn connection_token(conn: ConnId) -> u64 {
    debug_assert!(conn.generation < 1 << 24);
    (u64::from(conn.generation) << 32) | u64::from(conn.slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_timer_decodes_to_itself() {
        let conn = ConnId {
            slot: 70_000,
            generation: (1 << 24) - 1,
        };
        let timers = [
            Timer::Ping(conn),
            Timer::Stall(conn),
            Timer::Auth(conn),
            Timer::PeerStall(0),
            Timer::PeerStall(4095),
            Timer::LameDuck,
            Timer::Monitor(monitoring::TIMER_BIT | connection_token(conn)),
        ];
        for timer in timers {
            assert_eq!(Timer::decode(timer.token()), timer, "{timer:?}");
        }
        let tokens: std::collections::HashSet<u64> = timers.iter().map(|t| t.token()).collect();
        assert_eq!(tokens.len(), timers.len());
    }
}
