//! A client connection's life on its core: opened (its state, the connection limit, INFO
//! and TLS as `greeting` decides, the first timers), closed by us (subscriptions removed at
//! once, output flushed if asked) or by the runtime (what /connz and the log say about why).

use super::connection::{Client, ClosedReason, State, TlsWait};
use super::Shard;
use crate::auth;
use crate::protocol::encoder::err;
use crate::protocol::{Parser, ParserLimits};
use crate::runtime::{CloseReason, ConnId, Io};
use crate::{debug, error, info};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Shard {
    /// A new client: INFO (with a nonce when nkey users exist), its state, the connection
    /// limit, then either the TLS handshake with its deadline or the auth and ping timers.
    /// A `websocket` client is framed by the runtime already: INFO goes at once, and the
    /// client port's TLS does not apply (the WebSocket listener has its own).
    pub(super) fn open_client(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        peer: SocketAddr,
        websocket: bool,
    ) {
        // A client accepted after a reload was published gets the new INFO and rules even
        // if this core has not reached its turn end since.
        self.adopt_live_if_newer(io);
        let live = Arc::clone(&self.live);
        let cid = self.shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let authenticator = live.auth_for(websocket);
        let nonce = authenticator.needs_nonce().then(auth::new_nonce);
        let limits = &live.config.limits;
        let parser = Parser::new(ParserLimits {
            max_control_line: limits.max_control_line,
            max_payload: limits.max_payload,
        });
        let slot = conn.slot as usize;
        if self.clients.len() <= slot {
            self.clients.resize_with(slot + 1, || None);
        }
        let mut client = Box::new(Client::new(conn, cid, peer, parser, io.now()));
        client.awaiting_auth = authenticator.is_required();
        client.websocket = websocket;
        client.nonce = nonce.map(String::into_boxed_str);
        self.clients[slot] = Some(client);
        self.open_clients += 1;
        if websocket || !self.info_after_handshake() {
            self.write_info(io, conn, false);
        }
        if io.total_connections() > limits.max_connections {
            error!(
                "{peer} - {} - maximum connections exceeded",
                tag(websocket, cid)
            );
            io.write(conn, err::MAX_CONNECTIONS);
            self.close_client(io, conn, true, ClosedReason::MaxConnectionsExceeded);
            return;
        }
        debug!(
            "{peer} - {} - Client connection created",
            tag(websocket, cid)
        );
        if websocket || !self.start_client_tls(io, conn) {
            if authenticator.is_required() {
                self.arm_auth_timer(io, conn);
            }
            self.arm_ping_timer(io, conn, limits.ping_interval);
        }
    }

    /// The runtime closed a client's connection (the peer went, an error, a write deadline,
    /// or our own close finished): logged, counted, and its state dropped.
    pub(super) fn client_closed(&mut self, io: &mut Io<'_>, conn: ConnId, reason: CloseReason) {
        self.retire(io, conn, closed_reason(reason));
        if let Some(client) = self.client(conn) {
            if let CloseReason::Websocket(fault) = reason {
                self.shared.websocket_faults.fetch_add(1, Ordering::Relaxed);
                error!("{} - {} - read error: {fault}", client.peer, client.tag());
            }
            log_tls_failure(client, reason);
            if reason == CloseReason::WriteDeadline {
                self.shared.slow_consumers.fetch_add(1, Ordering::Relaxed);
                info!(
                    "{} - {} - Slow Consumer Detected: WriteDeadline of {:?} exceeded",
                    client.peer,
                    client.tag(),
                    self.live.config.limits.write_deadline
                );
            }
            debug!(
                "{} - {} - Client connection closed: {:?}",
                client.peer,
                client.tag(),
                reason
            );
        }
        if let Some(client) = self.client_mut(conn) {
            mark_closing(client, io);
        }
        self.remove_all_subscriptions(io, conn);
        if let Some(entry) = self.clients.get_mut(conn.slot as usize) {
            if entry.as_ref().is_some_and(|c| c.id == conn) {
                *entry = None;
            }
        }
    }

    /// Closes a connection: its subscriptions go at once (no delivery to a closing
    /// connection), then the runtime closes the socket, flushing queued output if asked.
    /// `reason` is what /connz?state=closed shows.
    pub(super) fn close_client(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        flush: bool,
        reason: ClosedReason,
    ) {
        let Some(client) = self.client(conn) else {
            return;
        };
        if client.state == State::Closing {
            return;
        }
        self.retire(io, conn, reason);
        let Some(client) = self.client_mut(conn) else {
            return;
        };
        let websocket = client.websocket;
        mark_closing(client, io);
        self.remove_all_subscriptions(io, conn);
        if websocket && flush && super::websocket::flushes_on_close(reason) {
            io.websocket_close(conn, super::websocket::close_status(reason), reason.text());
        }
        io.close(conn, flush);
    }
}

/// `cid:N` / `wid:N` before the client exists.
fn tag(websocket: bool, cid: u64) -> String {
    let kind = if websocket { "wid" } else { "cid" };
    format!("{kind}:{cid}")
}

/// What /connz shows for a close the runtime saw (the handler's own closes say why).
fn closed_reason(reason: CloseReason) -> ClosedReason {
    match reason {
        CloseReason::PeerClosed | CloseReason::Requested => ClosedReason::ClientClosed,
        CloseReason::IoError(_) => ClosedReason::ReadError,
        CloseReason::WriteDeadline => ClosedReason::SlowConsumerWriteDeadline,
        CloseReason::Shutdown => ClosedReason::ServerShutdown,
        CloseReason::Tls(_) => ClosedReason::TlsHandshakeError,
        CloseReason::Websocket(_) => ClosedReason::ReadError,
    }
}

/// nats-server's line for a connection that ended in TLS trouble: an error during the
/// handshake (EOF included), a debug line after it.
fn log_tls_failure(client: &Client, reason: CloseReason) {
    match reason {
        CloseReason::Tls(failure) if client.tls_handshaking => error!(
            "{} - {} - TLS handshake error: {failure}",
            client.peer,
            client.tag()
        ),
        // (Not for an `allow_non_tls` client that had yet to choose: nats-server's peek
        // takes its EOF as a plain-text client's.)
        CloseReason::PeerClosed
            if client.tls_handshaking && client.tls_wait != TlsWait::ClientChoice =>
        {
            error!(
                "{} - {} - TLS handshake error: EOF",
                client.peer,
                client.tag()
            )
        }
        CloseReason::Tls(failure) => {
            debug!("{} - {} - TLS error: {failure}", client.peer, client.tag())
        }
        _ => {}
    }
}

/// A closing connection reads and receives nothing more and needs none of its timers.
fn mark_closing(client: &mut Client, io: &mut Io<'_>) {
    client.state = State::Closing;
    let timers = [
        client.ping_timer.take(),
        client.stall_timer.take(),
        client.auth_timer.take(),
    ];
    for timer in timers.into_iter().flatten() {
        io.cancel_timer(timer);
    }
}
