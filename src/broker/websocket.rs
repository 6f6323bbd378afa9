//! WebSocket clients: the listener of the `websocket {}` block, the HTTP upgrade request
//! answered as nats-server answers it, then a NATS client like any other, whose bytes the
//! runtime frames (`runtime/websocket.rs`).
//!
//! A connection from the WebSocket listener is placed on a core like a TCP client and is
//! of kind `WebsocketUpgrade` until its request passed: its bytes are gathered (up to
//! `Limits::websocket_max_request_head`) and read as Go's HTTP server reads them; a refused
//! request gets nats-server's answer and, as Go keeps the connection alive, the next
//! request is read; an accepted one gets `101 Switching Protocols`, the runtime starts
//! framing, and the connection becomes a `Client` (INFO in the first frame).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};

use super::connection::ClosedReason;
use super::kind::ConnectionKind;
use super::timers::Timer;
use super::Shard;
use crate::config::Config;
use crate::runtime::{ConnId, Io, TimerId, WebsocketSettings};
use crate::websocket::frame::status;
use crate::websocket::handshake::{self, AllowedOrigin, Endpoint, Policy};
use crate::{error, info, warn};

/// What every core needs of the WebSocket listener (the rest, reloadable, is read from
/// the running configuration: `Live::websocket_tls` and `config.websocket`).
#[derive(Debug)]
pub struct WebsocketPort {
    /// The port bound.
    pub port: u16,
    /// `wss://`: a TLS block was configured (its files are `Live::websocket_tls`).
    pub tls: bool,
}

/// Binds the listener of a `websocket {}` block.
pub(super) fn bind(config: &Config) -> std::io::Result<Option<(TcpListener, WebsocketPort)>> {
    let Some(websocket) = &config.websocket else {
        return Ok(None);
    };
    let port = websocket.port.max(0) as u16;
    let address = super::parse_listen_address(&websocket.host, port, "websocket")?;
    let listener = super::bind_listener(address).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("Unable to listen for websocket connections: {error}"),
        )
    })?;
    let bound = listener.local_addr()?.port();
    let port = WebsocketPort {
        port: bound,
        tls: websocket.tls.is_some(),
    };
    Ok(Some((listener, port)))
}

/// The start-up log lines of the listener, as nats-server's (origins it cannot read
/// first).
pub(super) fn log_listening(config: &Config, port: &WebsocketPort) {
    let Some(websocket) = &config.websocket else {
        return;
    };
    for problem in websocket.origins().1 {
        error!("{problem}");
    }
    let scheme = if port.tls { "wss" } else { "ws" };
    info!(
        "Listening for websocket clients on {scheme}://{}",
        super::join_host_port(&websocket.host, port.port)
    );
    if !port.tls {
        warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
    }
}

/// What the handshake allows, from the running configuration.
fn policy(config: &Config, tls: bool) -> Policy {
    let Some(websocket) = &config.websocket else {
        return Policy::default();
    };
    Policy {
        compression: websocket.compression,
        same_origin: websocket.same_origin,
        allowed_origins: websocket
            .origins()
            .0
            .into_iter()
            .map(|(host, origin)| AllowedOrigin {
                host,
                scheme: origin.scheme,
                port: origin.port,
            })
            .collect(),
        tls,
    }
}

/// A connection whose upgrade request is still arriving.
#[derive(Debug)]
pub(super) struct Upgrading {
    peer: SocketAddr,
    head: Vec<u8>,
    deadline: Option<TimerId>,
}

/// The connections of this core in their upgrade.
pub(super) type UpgradingConnections = HashMap<ConnId, Upgrading>;

impl Shard {
    /// A connection from the WebSocket listener: TLS first if configured, then the upgrade
    /// request, within `handshake_timeout` if one is set.
    pub(super) fn open_websocket(&mut self, io: &mut Io<'_>, conn: ConnId, peer: SocketAddr) {
        let Some(websocket) = self.live.config.websocket.as_ref() else {
            io.close(conn, false);
            return;
        };
        let timeout = websocket.handshake_timeout;
        if let Some(tls) = &self.live.websocket_tls {
            io.start_tls_with(conn, tls);
        }
        let deadline = (!timeout.is_zero())
            .then(|| io.set_timer(io.now() + timeout, Timer::Ping(conn).token()));
        self.kinds.insert(conn, ConnectionKind::WebsocketUpgrade);
        self.upgrading.insert(
            conn,
            Upgrading {
                peer,
                head: Vec::new(),
                deadline,
            },
        );
    }

    /// Bytes of an upgrade request (several, if refused ones were kept alive).
    pub(super) fn upgrade_input(&mut self, io: &mut Io<'_>, conn: ConnId, data: &[u8]) {
        let limit = self.live.config.limits.websocket_max_request_head;
        let Some(upgrading) = self.upgrading.get_mut(&conn) else {
            return;
        };
        upgrading.head.extend_from_slice(data);
        loop {
            let upgrading = self.upgrading.get_mut(&conn).expect("upgrading");
            let Some(end) = handshake::head_end(&upgrading.head) else {
                if upgrading.head.len() > limit {
                    self.count_refusal();
                    io.write(conn, handshake::HEAD_TOO_LARGE);
                    self.end_upgrade(io, conn, true);
                }
                return;
            };
            if end > limit {
                self.count_refusal();
                io.write(conn, handshake::HEAD_TOO_LARGE);
                self.end_upgrade(io, conn, true);
                return;
            }
            let peer = upgrading.peer;
            let request = match handshake::parse(&upgrading.head[..end]) {
                Ok(request) => request,
                Err(malformed) => {
                    self.count_refusal();
                    io.write(conn, malformed.response);
                    self.end_upgrade(io, conn, true);
                    return;
                }
            };
            let tls = self.shared.websocket.as_ref().is_some_and(|port| port.tls);
            match handshake::check(&request, &policy(&self.live.config, tls)) {
                Err(refusal) => {
                    self.count_refusal();
                    error!("{peer} - websocket handshake error: {}", refusal.reason);
                    let date = crate::monitor::clock::http_date(
                        crate::monitor::clock::WallClock::now_unix_nanos(),
                    );
                    io.write(
                        conn,
                        &handshake::refusal_response(refusal.status, &request, &date),
                    );
                    if !request.keeps_alive() || request.has_body() {
                        self.end_upgrade(io, conn, true);
                        return;
                    }
                    upgrading_mut(self, conn).head.drain(..end);
                }
                Ok(upgrade) => {
                    let early_data = end < upgrading_mut(self, conn).head.len();
                    if early_data {
                        self.count_refusal();
                        // nats-server's answer cannot be written (the connection is already
                        // hijacked): it logs and closes.
                        error!(
                            "{peer} - websocket handshake error: client sent data before handshake is complete"
                        );
                        self.end_upgrade(io, conn, false);
                        return;
                    }
                    io.write(conn, &handshake::switching_protocols(&upgrade));
                    match upgrade.endpoint {
                        Endpoint::Client => {}
                        Endpoint::Leafnode => {
                            self.count_refusal();
                            error!("Not configured to accept leaf node connections");
                            self.end_upgrade(io, conn, true);
                            return;
                        }
                        Endpoint::Mqtt => {
                            self.count_refusal();
                            error!("{peer} - MQTT over websocket is not supported");
                            self.end_upgrade(io, conn, true);
                            return;
                        }
                    }
                    let settings = WebsocketSettings {
                        compress: upgrade.compress,
                        masked: !upgrade.no_masking,
                        browser: upgrade.browser,
                        whole_compressed_frames: upgrade.whole_compressed_frames,
                        max_frame_payload: self.live.config.limits.websocket_max_frame_payload,
                    };
                    let peer = match upgrade.forwarded_for {
                        Some(ip) => SocketAddr::new(ip, peer.port()),
                        None => peer,
                    };
                    if let Some(upgrading) = self.upgrading.remove(&conn) {
                        if let Some(timer) = upgrading.deadline {
                            io.cancel_timer(timer);
                        }
                    }
                    io.start_websocket(conn, settings);
                    self.kinds.remove(conn);
                    self.kinds.insert(conn, ConnectionKind::Client);
                    self.open_client(io, conn, peer, true);
                    return;
                }
            }
        }
    }

    /// The upgrade did not finish within `handshake_timeout`: Go's server answers a
    /// request it has begun to read with its plain 400 and closes; a silent connection it
    /// just closes.
    pub(super) fn upgrade_timed_out(&mut self, io: &mut Io<'_>, conn: ConnId) {
        if let Some(upgrading) = self.upgrading.get_mut(&conn) {
            upgrading.deadline = None;
            let begun = !upgrading.head.is_empty();
            self.count_refusal();
            if begun {
                io.write(conn, handshake::BAD_REQUEST);
            }
            self.end_upgrade(io, conn, begun);
        }
    }

    /// One more refused upgrade request (/metrics).
    fn count_refusal(&self) {
        self.shared
            .websocket_refusals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Closes a connection in its upgrade (after what was written, if `flush`).
    fn end_upgrade(&mut self, io: &mut Io<'_>, conn: ConnId, flush: bool) {
        if let Some(upgrading) = self.upgrading.remove(&conn) {
            if let Some(timer) = upgrading.deadline {
                io.cancel_timer(timer);
            }
        }
        io.close(conn, flush);
    }

    /// The runtime closed a connection in its upgrade.
    pub(super) fn upgrade_closed(&mut self, io: &mut Io<'_>, conn: ConnId) {
        if let Some(upgrading) = self.upgrading.remove(&conn) {
            if let Some(timer) = upgrading.deadline {
                io.cancel_timer(timer);
            }
        }
    }
}

fn upgrading_mut(shard: &mut Shard, conn: ConnId) -> &mut Upgrading {
    shard.upgrading.get_mut(&conn).expect("upgrading")
}

/// The close frame nats-server sends a WebSocket client it closes (`wsEnqueueCloseMessage`):
/// the status for the reason, and the reason's text.
pub(super) fn close_status(reason: ClosedReason) -> u16 {
    match reason {
        ClosedReason::ClientClosed => status::NORMAL,
        ClosedReason::AuthenticationTimeout
        | ClosedReason::AuthenticationViolation
        | ClosedReason::SlowConsumerPendingBytes
        | ClosedReason::SlowConsumerWriteDeadline
        | ClosedReason::MaxConnectionsExceeded
        | ClosedReason::MaxControlLineExceeded => status::POLICY_VIOLATION,
        ClosedReason::TlsHandshakeError => status::TLS_HANDSHAKE,
        ClosedReason::ParseError
        | ClosedReason::ProtocolViolation
        | ClosedReason::BadClientProtocolVersion => status::PROTOCOL_ERROR,
        ClosedReason::MaxPayloadExceeded => status::MESSAGE_TOO_BIG,
        ClosedReason::ServerShutdown => status::GOING_AWAY,
        ClosedReason::ReadError | ClosedReason::StaleConnection => status::ABNORMAL,
        ClosedReason::NoRespondersRequiresHeaders => status::INTERNAL_ERROR,
    }
}

/// Whether nats-server flushes (and so sends a close frame) when closing for `reason`.
pub(super) fn flushes_on_close(reason: ClosedReason) -> bool {
    !matches!(
        reason,
        ClosedReason::ReadError
            | ClosedReason::SlowConsumerPendingBytes
            | ClosedReason::SlowConsumerWriteDeadline
            | ClosedReason::TlsHandshakeError
    )
}
