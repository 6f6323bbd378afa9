//! Messages across a leaf link. In: LMSG/HMSG are routed like a local publish from the
//! link (never back to a link; the queue groups it names get one copy each, all of them
//! when it names none). Out: one LMSG/HMSG per link per message, in the form of spec
//! beyond-core §B.4 (`| queues` / `+ reply queues` when the link was chosen for groups).

use super::{Phase, Shard};
use crate::broker::routing::Message;
use crate::info;
use crate::protocol::link::LinkMessage;
use crate::runtime::{ConnId, Io};

/// A link chosen for one message: its slot and the queue groups (blank-separated) it was
/// chosen for; empty: a plain delivery.
#[derive(Debug, Default)]
pub(in crate::broker) struct LinkTarget {
    pub slot: u32,
    pub queues: Vec<u8>,
}

/// Marks `slot` as a target of the current message, adding `queue` when given.
pub(in crate::broker) fn add_link_target(
    targets: &mut Vec<LinkTarget>,
    slot: u32,
    queue: Option<&[u8]>,
) {
    let index = match targets.iter().position(|t| t.slot == slot) {
        Some(index) => index,
        None => {
            targets.push(LinkTarget {
                slot,
                queues: Vec::new(),
            });
            targets.len() - 1
        }
    };
    if let Some(queue) = queue {
        let queues = &mut targets[index].queues;
        if !queues.is_empty() {
            queues.push(b' ');
        }
        queues.extend_from_slice(queue);
    }
}

impl Shard {
    pub(super) fn on_leaf_message(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        message: &LinkMessage<'_>,
    ) {
        let Some(link) = self.link_mut(conn) else {
            return;
        };
        link.in_msgs += 1;
        link.in_bytes += message.message.len() as u64;
        let account = link.account;
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
        let source = crate::broker::routing::LinkSource {
            slot: conn.slot,
            route: false,
            queues: message.queues,
        };
        self.message_origin.clear();
        let cluster = self.links[conn.slot as usize]
            .as_ref()
            .and_then(|link| link.remote_cluster.as_deref());
        if let Some(cluster) = cluster {
            self.message_origin.extend_from_slice(cluster.as_bytes());
        }
        self.route_from_link(io, conn, account, &routed, source);
    }

    /// Writes the current message to every link (leaf or route) in `link_targets`;
    /// returns whether any got it.
    pub(in crate::broker) fn send_to_links(
        &mut self,
        io: &mut Io<'_>,
        account: crate::auth::AccountIndex,
        message: &Message<'_>,
    ) -> bool {
        let max_pending = self.live.config.limits.max_pending;
        let now = io.now();
        let mut targets = std::mem::take(&mut self.link_targets);
        let mut sent = false;
        for target in &targets {
            if self.is_route_slot(target.slot) {
                sent |= self.send_to_route(io, target.slot, &target.queues, account, message);
                continue;
            }
            let Some(Some(link)) = self.links.get_mut(target.slot as usize) else {
                continue;
            };
            // Cluster-wide no echo (nats-server): never to a leaf of the message's origin.
            let same_cluster = !self.message_origin.is_empty()
                && link
                    .remote_cluster
                    .as_deref()
                    .is_some_and(|cluster| cluster.as_bytes() == self.message_origin);
            if same_cluster
                || link.phase != Phase::Active
                || link
                    .deny
                    .as_ref()
                    .is_some_and(|deny| !deny.may_send(message.subject))
                || link
                    .permissions
                    .as_mut()
                    .is_some_and(|permissions| !permissions.may_send(message.subject, now))
            {
                continue;
            }
            let conn = link.id;
            link.out_msgs += 1;
            link.out_bytes += message.message.len() as u64;
            let line = &mut self.line;
            line.clear();
            crate::protocol::link_encoder::message_line(
                line,
                None,
                message.subject,
                message.reply,
                &target.queues,
                message.header_size,
                message.total_size,
            );
            io.write_parts(conn, &[line, message.message, b"\r\n"]);
            self.counters.out_msgs += 1;
            self.counters.out_bytes += message.message.len() as u64;
            sent = true;
            let pending = io.pending_bytes(conn);
            if pending > max_pending / 2 && pending <= max_pending {
                // The stall gate, as for a client consumer: the publisher (or, across
                // cores, the publisher core's mail) waits while the link drains, so a leaf
                // slower than the hub's publishers slows them instead of being cut.
                self.congested = Some(conn);
            }
            if pending > max_pending {
                let (peer, cid) = (link.peer, link.cid);
                info!("{peer} - lid:{cid} - Slow Consumer Detected: MaxPending of {max_pending} Exceeded");
                self.shared
                    .slow_consumers
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.close_leaf(io, conn, "Slow Consumer (Pending Bytes)");
            }
        }
        targets.clear();
        self.link_targets = targets;
        sent
    }
}
