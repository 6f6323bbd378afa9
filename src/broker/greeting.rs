//! A client's greeting: its INFO and the TLS around it, as nats-server 2.9.10 does it (and
//! 2.10 for `handshake_first`).
//!
//! - TLS required (`tls {}`): INFO in plain text, then the handshake within the TLS timeout
//!   (the ping timer stands in as its deadline).
//! - `allow_non_tls`: INFO says `tls_available`; the client's first byte chooses (0x16, a
//!   TLS handshake record: TLS; anything else: plain text). A client silent for the whole
//!   TLS timeout is served in plain text, as nats-server's peek gives up then.
//! - `handshake_first`: no INFO before the handshake; INFO (with `tls_required`) is the
//!   first thing sent encrypted. With a fallback delay, a client that has sent nothing when
//!   it runs out gets the plain INFO and then the usual TLS (or choice, with
//!   `allow_non_tls`).
//!
//! After the handshake (or once the client chose plain text) the auth timer and the ping
//! timer start, as in nats-server.

use super::connection::TlsWait;
use super::shard::Shard;
use crate::config::Config;
use crate::protocol::ServerInfo;
use crate::runtime::{ConnId, Io, TlsHandshake};
use crate::{debug, error};
use std::time::Duration;

/// How a new client's connection starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsMode {
    Plain,
    Required,
    Offered,
    First { fallback: Option<Duration> },
}

impl TlsMode {
    fn of(config: &Config) -> TlsMode {
        match &config.tls {
            None => TlsMode::Plain,
            Some(tls) if tls.handshake_first => TlsMode::First {
                fallback: tls.handshake_first_fallback,
            },
            Some(_) if config.allow_non_tls => TlsMode::Offered,
            Some(_) => TlsMode::Required,
        }
    }
}

/// INFO's TLS fields for `config` (the INFO of a `handshake_first` client says
/// `tls_required` whatever these say: [`Shard::write_info`]).
pub(super) fn set_info_tls(info: &mut ServerInfo, config: &Config) {
    let tls = config.tls.as_ref();
    info.tls_required = tls.is_some() && !config.allow_non_tls;
    info.tls_available = tls.is_some() && config.allow_non_tls;
    info.tls_verify = tls.is_some_and(|tls| tls.verify);
}

/// Whether client certificates name the users (`verify_and_map`).
pub(super) fn maps_certificates(config: &Config) -> bool {
    config.tls.as_ref().is_some_and(|tls| tls.verify_and_map)
}

impl Shard {
    /// Writes `conn`'s INFO; `encrypted`: after a first handshake, which nats-server's INFO
    /// then says is required.
    pub(super) fn write_info(&mut self, io: &mut Io<'_>, conn: ConnId, encrypted: bool) {
        let Some(client) = self.client(conn) else {
            return;
        };
        let mut info = self.live.info.clone();
        info.client_id = client.cid;
        info.client_ip = client.peer.ip().to_string();
        info.nonce = client.nonce.as_deref().map(str::to_string);
        info.tls_required |= encrypted;
        // nats-server: a WebSocket block with credentials of its own makes its clients'
        // INFO say auth_required, whatever the server's says.
        info.auth_required |= client.websocket && self.live.websocket_auth.is_some();
        self.add_cluster_fields(&mut info);
        self.line.clear();
        info.encode(&mut self.line);
        io.write(conn, &self.line);
    }

    /// Whether the configuration wants INFO only after a first TLS handshake.
    pub(super) fn info_after_handshake(&self) -> bool {
        matches!(TlsMode::of(&self.live.config), TlsMode::First { .. })
    }

    /// Starts the TLS the configuration asks for on a new client. False: the connection
    /// is plain text and the caller arms the usual timers; true: the ping timer is the
    /// handshake deadline (or the fallback delay) until [`Shard::tls_ready`].
    pub(super) fn start_client_tls(&mut self, io: &mut Io<'_>, conn: ConnId) -> bool {
        let mode = TlsMode::of(&self.live.config);
        let Some(tls) = self.live.config.tls.as_ref() else {
            return false;
        };
        let timeout = tls.timeout;
        let (started, wait, delay) = match mode {
            TlsMode::Plain => return false,
            TlsMode::Required => (io.start_tls(conn), TlsWait::Handshake, timeout),
            TlsMode::Offered => (io.offer_tls(conn), TlsWait::ClientChoice, timeout),
            TlsMode::First { fallback: None } => (io.start_tls(conn), TlsWait::Handshake, timeout),
            TlsMode::First {
                fallback: Some(delay),
            } => (io.start_tls(conn), TlsWait::FirstBytes, delay),
        };
        if !started {
            return false;
        }
        let Some(client) = self.client_mut(conn) else {
            return true;
        };
        debug!(
            "{} - {} - Starting TLS client connection handshake",
            client.peer,
            client.tag()
        );
        client.tls_handshaking = true;
        client.tls_wait = wait;
        client.info_after_handshake = matches!(mode, TlsMode::First { .. });
        // As nats-server: the auth and ping timers start once the handshake is done; until
        // then the handshake deadline runs in their place.
        self.arm_ping_timer(io, conn, delay);
        true
    }

    /// The handshake completed: INFO if it was held for it, then the usual timers.
    pub(super) fn tls_established(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        handshake: TlsHandshake,
    ) {
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        debug!(
            "{} - {} - TLS handshake complete",
            client.peer,
            client.tag()
        );
        debug!(
            "{} - {} - TLS version {}, cipher suite {}",
            client.peer,
            client.tag(),
            handshake.protocol_version,
            handshake.cipher_suite
        );
        let info_due = std::mem::take(&mut client.info_after_handshake);
        if info_due {
            self.write_info(io, conn, true);
        }
        self.tls_ready(io, conn);
    }

    /// Plain text arrived while a handshake was awaited: an `allow_non_tls` client chose
    /// it (the runtime has dropped the session). Called before the bytes are parsed.
    pub(super) fn plain_text_chosen(&mut self, io: &mut Io<'_>, conn: ConnId) {
        if let Some(timer) = self.client_mut(conn).and_then(|c| c.ping_timer.take()) {
            io.cancel_timer(timer);
        }
        self.tls_ready(io, conn);
    }

    /// The handshake is done or not needed: the auth timer (when auth is required) and the
    /// ping timer start.
    fn tls_ready(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let interval = self.live.config.limits.ping_interval;
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        client.tls_handshaking = false;
        client.tls_wait = TlsWait::Handshake;
        let websocket = client.websocket;
        if self.live.auth_for(websocket).is_required() {
            self.arm_auth_timer(io, conn);
        }
        self.arm_ping_timer(io, conn, interval);
    }

    /// The ping timer fired while the handshake was awaited: the TLS timeout (the client
    /// is closed, or with `allow_non_tls` served in plain text if it sent nothing), or the
    /// `handshake_first` fallback delay.
    pub(super) fn on_tls_timer(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(client) = self.client(conn) else {
            return;
        };
        let timeout = self
            .live
            .config
            .tls
            .as_ref()
            .map_or(crate::config::TlsConfig::DEFAULT_TIMEOUT, |tls| tls.timeout);
        match client.tls_wait {
            TlsWait::ClientChoice if io.decline_tls(conn) => self.tls_ready(io, conn),
            TlsWait::FirstBytes => {
                let offered = self.live.config.allow_non_tls;
                let Some(client) = self.client_mut(conn) else {
                    return;
                };
                client.tls_wait = TlsWait::Handshake;
                if io.decline_tls(conn) {
                    // Silent so far: the plain INFO, then TLS as without handshake_first.
                    client.info_after_handshake = false;
                    self.write_info(io, conn, false);
                    let restarted = if offered {
                        io.offer_tls(conn)
                    } else {
                        io.start_tls(conn)
                    };
                    if !restarted {
                        return;
                    }
                    if let Some(client) = self.client_mut(conn) {
                        client.tls_wait = if offered {
                            TlsWait::ClientChoice
                        } else {
                            TlsWait::Handshake
                        };
                    }
                }
                self.arm_ping_timer(io, conn, timeout);
            }
            TlsWait::Handshake | TlsWait::ClientChoice => {
                // Go's read deadline fires first and logs the read's timeout error.
                let local = io
                    .local_address(conn)
                    .map_or_else(|| "?".to_string(), |address| address.to_string());
                error!(
                    "{} - {} - TLS handshake error: read tcp {local}->{}: i/o timeout",
                    client.peer,
                    client.tag(),
                    client.peer
                );
                if let Some(client) = self.client_mut(conn) {
                    client.tls_handshaking = false;
                }
                self.close_client(
                    io,
                    conn,
                    true,
                    super::connection::ClosedReason::TlsHandshakeError,
                );
            }
        }
    }
}
