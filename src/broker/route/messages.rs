//! Messages across routes. In: `RMSG account subject [reply | + reply queues | | queues]
//! size` and its HMSG form go to local clients and leaf links, never to another route; the
//! groups named are served here, one member each, and none when none is named. Out: one
//! RMSG/HMSG per route per message, naming the groups this server chose that route for.

use super::{Phase, Shard};
use crate::broker::routing::{LinkSource, Message};
use crate::protocol::link::LinkMessage;
use crate::runtime::{ConnId, Io};

impl Shard {
    pub(super) fn on_route_message(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        message: &LinkMessage<'_>,
    ) {
        let Some(account) = message
            .account
            .and_then(|name| self.live.auth.account_by_wire_name(name))
        else {
            return;
        };
        let Some(route) = self.route_mut(conn) else {
            return;
        };
        route.in_msgs += 1;
        route.in_bytes += message.message.len() as u64;
        self.counters.in_msgs += 1;
        self.counters.in_bytes += message.message.len() as u64;
        let routed = Message {
            subject: message.subject,
            deliver_as: None,
            reply: message.reply,
            header_size: message.header_size,
            total_size: message.total_size,
            header_len: message.header_len,
            message: message.message,
        };
        let source = LinkSource {
            slot: conn.slot,
            route: true,
            queues: message.queues,
        };
        self.message_origin.clear();
        if let Some(origin) = message.origin {
            self.message_origin.extend_from_slice(origin);
        }
        self.route_from_link(io, conn, account, &routed, source);
    }

    /// Writes the current message to the route in `slot` (`queues`: the groups it was
    /// chosen for, blank-separated); returns whether it went.
    pub(in crate::broker) fn send_to_route(
        &mut self,
        io: &mut Io<'_>,
        slot: u32,
        queues: &[u8],
        account: crate::auth::AccountIndex,
        message: &Message<'_>,
    ) -> bool {
        let Some(Some(route)) = self.routes.get_mut(slot as usize) else {
            return false;
        };
        if route.phase != Phase::Active {
            return false;
        }
        // The delivery filter of route permissions (a wildcard RS+ around an export deny).
        if let Some(permissions) = route.permissions.as_mut() {
            if !permissions.may_receive(message.subject) {
                return false;
            }
        }
        let conn = route.id;
        route.out_msgs += 1;
        route.out_bytes += message.message.len() as u64;
        let lnoc = route.lnoc;
        let line = &mut self.line;
        line.clear();
        let account = self.live.auth.account_name(account);
        if lnoc && self.message_from_leaf && !self.message_origin.is_empty() {
            // A leaf's message, as nats-server sends it to a route that takes it.
            origin_message_line(line, &self.message_origin, account, message, queues);
        } else {
            crate::protocol::link_encoder::message_line(
                line,
                Some(account),
                message.subject,
                message.reply,
                queues,
                message.header_size,
                message.total_size,
            );
        }
        io.write_parts(conn, &[line, message.message, b"\r\n"]);
        self.counters.out_msgs += 1;
        self.counters.out_bytes += message.message.len() as u64;
        let max_pending = self.live.config.limits.max_pending;
        let pending = io.pending_bytes(conn);
        if pending > max_pending / 2 && pending <= max_pending {
            // The stall gate, as for a leaf link: publishers wait while the route drains.
            self.congested = Some(conn);
        }
        if pending > max_pending {
            if let Some(Some(route)) = self.routes.get(slot as usize) {
                crate::info!(
                    "{} - rid:{} - Slow Consumer Detected: MaxPending of {max_pending} Exceeded",
                    route.peer,
                    route.rid
                );
            }
            self.shared
                .slow_consumers
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.close_route(io, conn, "Slow Consumer (Pending Bytes)");
        }
        true
    }
}

/// `LMSG origin account subject [reply | + reply queues | | queues] header total`: a leaf's
/// message as nats-server 2.9.10 sends it to a route that takes leaf-origin messages
/// (`lnoc`); the header size is always there, `0` without headers.
fn origin_message_line(
    line: &mut Vec<u8>,
    origin: &[u8],
    account: &str,
    message: &Message<'_>,
    queues: &[u8],
) {
    line.extend_from_slice(b"LMSG ");
    line.extend_from_slice(origin);
    line.push(b' ');
    let start = line.len();
    crate::protocol::link_encoder::message_line(
        line,
        Some(account),
        message.subject,
        message.reply,
        queues,
        Some(message.header_size.unwrap_or(b"0")),
        message.total_size,
    );
    // An `HMSG ` line's fields after its verb.
    line.drain(start..start + b"HMSG ".len());
}
