//! Per-connection state: protocol options, the parser, subscriptions, keep-alive.
//!
//! Lifecycle: `Open` (INFO sent) → `Closing` (a close was requested; output may still flush;
//! input is ignored) → gone (`on_close`). With auth configured, an open connection is
//! `awaiting_auth` until a CONNECT authenticates it (or `no_auth_user` admits it): its first
//! byte must start a CONNECT, and the auth timer closes it if none does in time.
//!
//! Per-account invariant: a connection's `account` is fixed by authentication and read once
//! per operation; every subscription remembers the account it was made in.
//!
//! With TLS, `Open` starts with the handshake (`tls_handshaking`): nothing is read until it
//! completes.

use crate::auth::{AccountIndex, ClientPermissions, GLOBAL_ACCOUNT};
use crate::protocol::{ConnectOptions, DecodedConnect, Parser};
use crate::runtime::{ConnId, TimerId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One subscription of a connection.
#[derive(Debug)]
pub struct Subscription {
    /// The account whose tables hold it (the connection's account when it was made).
    pub account: AccountIndex,
    pub subject: Box<[u8]>,
    pub queue: Option<Box<[u8]>>,
    pub sid: Box<[u8]>,
    /// Messages delivered so far (for `UNSUB sid max`).
    pub delivered: u64,
    /// Auto-unsubscribe after this many deliveries in total.
    pub max: Option<u64>,
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    /// Close requested; nothing more is read or delivered.
    Closing,
}

/// A client connection owned by one core.
#[derive(Debug)]
pub struct Client {
    pub id: ConnId,
    /// Server-wide client id (INFO `client_id`, logs).
    pub cid: u64,
    pub peer: SocketAddr,
    pub state: State,
    /// A WebSocket client (the runtime frames its bytes; closes send a close frame).
    pub websocket: bool,
    pub options: ConnectOptions,
    /// Whether a CONNECT has been accepted (the first one re-arms the ping timer).
    pub connected: bool,
    /// The account this connection publishes and subscribes in.
    pub account: AccountIndex,
    /// The user's permissions; `None`: everything in the account.
    pub permissions: Option<Box<ClientPermissions>>,
    /// Auth is configured and this connection has not authenticated yet.
    pub awaiting_auth: bool,
    /// Logged in as `no_auth_user` (no credentials sent): a reload checks it as such.
    pub admitted_anonymously: bool,
    /// Whether any input arrived (the first byte decides nats-server's auth check).
    pub input_seen: bool,
    /// The nonce sent in INFO (nkey users configured), signed by the client in CONNECT.
    pub nonce: Option<Box<str>>,
    /// Closes the connection with 'Authentication Timeout' unless it authenticates first.
    pub auth_timer: Option<TimerId>,
    /// Taken out while parsing so that handlers can borrow the shard mutably.
    pub parser: Option<Parser>,
    /// Subscriptions by slot; the slot is half of the key stored in the tries.
    pub subscriptions: slab::Slab<Subscription>,
    /// sid → slot.
    pub sids: HashMap<Box<[u8]>, usize>,
    /// This core's interest epoch after this connection's last SUB/UNSUB.
    pub interest_epoch: u64,
    /// PONGs waiting for the visibility barrier: 0 or 1, since the input after a held PONG
    /// waits with it.
    pub pongs_held: u32,
    /// Server PINGs not yet answered.
    pub pings_out: u32,
    /// Whether a PONG answered one of our PINGs (nats-server's "RTT measured").
    pub rtt_measured: bool,
    /// Whether we have answered a PING of the client's (then it takes asynchronous INFO,
    /// such as lame duck mode's, if it speaks protocol 1).
    pub first_pong_sent: bool,
    /// Last time the client sent anything.
    pub last_input: Instant,
    pub ping_timer: Option<TimerId>,
    /// Stall gate: the local consumer whose backlog paused this publisher's reading, since
    /// when, and the timer that checks whether it has drained.
    pub stalled_by: Option<ConnId>,
    pub stalled_since: Instant,
    /// The stalling consumer's sent bytes (`Io::sent_bytes`) when the stall began.
    pub stalled_consumer_sent: usize,
    /// Input read but not parsed because a publish stalled this connection part-way through
    /// a read, or a CONNECT waits for its bcrypt check; parsed first when that ends. Bounded
    /// by the reads already completed when reading paused.
    pub held_input: Vec<u8>,
    /// A password being checked off the core (`auth_checks`).
    pub auth_check: Option<Box<PendingCheck>>,
    /// As a consumer: found not reading at all while it gated a publisher, with this many
    /// bytes sent. Until its sent bytes move on, it gates no publisher (it fills up to
    /// max_pending and is cut as a slow consumer instead).
    pub not_reading_at: Option<usize>,
    pub stall_timer: Option<TimerId>,
    /// Monitoring (/connz): messages and payload bytes from and to this connection.
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    /// When the connection was accepted, and last had traffic (messages either way,
    /// SUB/UNSUB, CONNECT), as nats-server counts activity.
    pub opened_at: Instant,
    pub last_activity: Instant,
    /// Round trip: accept → CONNECT at first, then each keep-alive PING → PONG.
    pub rtt: Duration,
    pub rtt_ping_sent: Option<Instant>,
    /// Its closed-connection record was taken (it is taken once, at the first close cause).
    pub retired: bool,
    /// The TLS handshake is under way: the ping timer is the handshake deadline meanwhile.
    pub tls_handshaking: bool,
    /// What the ping timer waits for while `tls_handshaking` (see `greeting`).
    pub tls_wait: TlsWait,
    /// `handshake_first`: INFO is written once the handshake is done.
    pub info_after_handshake: bool,
}

/// What a connection that has not finished its TLS handshake waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsWait {
    /// The handshake, within the TLS timeout.
    Handshake,
    /// `allow_non_tls`: the client's first byte (a TLS record or plain text).
    ClientChoice,
    /// `handshake_first` with a fallback delay: the client's first TLS bytes.
    FirstBytes,
}

impl Client {
    pub fn new(id: ConnId, cid: u64, peer: SocketAddr, parser: Parser, now: Instant) -> Client {
        Client {
            id,
            cid,
            peer,
            websocket: false,
            state: State::Open,
            options: ConnectOptions::default(),
            connected: false,
            account: GLOBAL_ACCOUNT,
            permissions: None,
            awaiting_auth: false,
            admitted_anonymously: false,
            input_seen: false,
            nonce: None,
            auth_timer: None,
            parser: Some(parser),
            subscriptions: slab::Slab::new(),
            sids: HashMap::new(),
            interest_epoch: 0,
            pongs_held: 0,
            pings_out: 0,
            rtt_measured: false,
            first_pong_sent: false,
            last_input: now,
            ping_timer: None,
            stalled_by: None,
            auth_check: None,
            stalled_since: now,
            stalled_consumer_sent: 0,
            held_input: Vec::new(),
            not_reading_at: None,
            stall_timer: None,
            in_msgs: 0,
            in_bytes: 0,
            out_msgs: 0,
            out_bytes: 0,
            opened_at: now,
            last_activity: now,
            rtt: Duration::ZERO,
            rtt_ping_sent: None,
            retired: false,
            tls_handshaking: false,
            tls_wait: TlsWait::Handshake,
            info_after_handshake: false,
        }
    }

    /// Whether a message to this connection's subscription may be written.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Whether its input waits unparsed in `held_input`: a stalled publisher, a CONNECT
    /// whose password is being checked, or a PONG waiting for the visibility barrier
    /// (nothing answered after it may overtake it).
    pub fn input_held(&self) -> bool {
        self.stalled_by.is_some()
            || self.pongs_held > 0
            || self
                .auth_check
                .as_ref()
                .is_some_and(|check| matches!(check.kind, CheckKind::Connect(_)))
    }
}

/// A bcrypt check in flight for this client (`broker::auth_checks`), finished when the answer
/// comes (`Shard::finish_auth_checks`).
#[derive(Debug)]
pub struct PendingCheck {
    /// The answer that belongs to this check carries the same ticket.
    pub ticket: u64,
    /// The configuration generation it was checked against; a reload in between means it
    /// is checked again against the new one.
    pub generation: u64,
    pub kind: CheckKind,
}

#[derive(Debug)]
pub enum CheckKind {
    /// A CONNECT, with the options it sent; the client's further input waits.
    Connect(Box<DecodedConnect>),
    /// A reload's re-check of a connected client; it goes on meanwhile.
    Recheck,
}

/// Why a connection closed, as `/connz?state=closed` names it (nats-server's words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosedReason {
    ClientClosed,
    ReadError,
    ParseError,
    ProtocolViolation,
    BadClientProtocolVersion,
    NoRespondersRequiresHeaders,
    AuthenticationViolation,
    AuthenticationTimeout,
    TlsHandshakeError,
    MaxConnectionsExceeded,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    StaleConnection,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    ServerShutdown,
}

/// How log lines name a client: `cid:N`, or `wid:N` for a WebSocket client (nats-server's
/// prefixes).
pub struct ClientTag {
    websocket: bool,
    cid: u64,
}

impl std::fmt::Display for ClientTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.websocket { "wid" } else { "cid" };
        write!(f, "{kind}:{}", self.cid)
    }
}

impl Client {
    /// `cid:N` or `wid:N`, as log lines name this client.
    pub fn tag(&self) -> ClientTag {
        ClientTag {
            websocket: self.websocket,
            cid: self.cid,
        }
    }
}

impl ClosedReason {
    pub fn text(self) -> &'static str {
        match self {
            ClosedReason::ClientClosed => "Client Closed",
            ClosedReason::ReadError => "Read Error",
            ClosedReason::ParseError => "Parse Error",
            ClosedReason::ProtocolViolation => "Protocol Violation",
            ClosedReason::BadClientProtocolVersion => "Bad Client Protocol Version",
            ClosedReason::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            ClosedReason::AuthenticationViolation => "Authentication Failure",
            ClosedReason::AuthenticationTimeout => "Authentication Timeout",
            ClosedReason::TlsHandshakeError => "TLS Handshake Error",
            ClosedReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            ClosedReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            ClosedReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            ClosedReason::StaleConnection => "Stale Connection",
            ClosedReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            ClosedReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            ClosedReason::ServerShutdown => "Server Shutdown",
        }
    }
}

/// A subscription's key in a core's own trie: connection slot and subscription slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubKey(u64);

impl SubKey {
    pub fn new(conn_slot: u32, sub_slot: usize) -> SubKey {
        SubKey((u64::from(conn_slot) << 32) | sub_slot as u64)
    }

    pub fn conn_slot(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub fn sub_slot(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
}

/// Whether the literal `subject` matches `pattern` (for the no-responders check against the
/// publisher's own subscriptions; the trie does the matching on the hot path).
pub fn pattern_matches(pattern: &[u8], subject: &[u8]) -> bool {
    let mut pattern_tokens = pattern.split(|&b| b == b'.');
    let mut subject_tokens = subject.split(|&b| b == b'.');
    loop {
        match (pattern_tokens.next(), subject_tokens.next()) {
            (Some(b">"), Some(_)) => return true,
            (Some(p), Some(s)) if p == b"*" || p == s => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_key_round_trip() {
        let key = SubKey::new(0xdead_beef, 0x1234_5678);
        assert_eq!(key.conn_slot(), 0xdead_beef);
        assert_eq!(key.sub_slot(), 0x1234_5678);
    }

    #[test]
    fn pattern_matching() {
        assert!(pattern_matches(b"_INBOX.abc", b"_INBOX.abc"));
        assert!(pattern_matches(b"_INBOX.*", b"_INBOX.abc"));
        assert!(pattern_matches(b"_INBOX.>", b"_INBOX.abc.def"));
        assert!(pattern_matches(b">", b"a"));
        assert!(!pattern_matches(b"_INBOX.>", b"_INBOX"));
        assert!(!pattern_matches(b"_INBOX.*", b"_INBOX.a.b"));
        assert!(!pattern_matches(b"a.b", b"a.c"));
        assert!(!pattern_matches(b"a", b"a.b"));
    }
}
