//! Interest between cores and the visibility barrier. Every SUB/UNSUB is broadcast to the
//! other cores as a record that bumps this core's epoch; they acknowledge the epochs they
//! applied. A client's PONG waits until every other core has applied the epoch of that
//! client's last interest change (after `SUB` + `PING`/`PONG`, a publish from any core
//! reaches the subscription), and the client's later input waits with it, so that no
//! answer overtakes the PONG.

use super::interest::{self, Record};
use super::Shard;
use crate::auth::AccountIndex;
use crate::error;
use crate::protocol::encoder;
use crate::runtime::{ConnId, Io};

impl Shard {
    /// Tells every other core about one interest change; returns the new epoch (0 when there
    /// are no other cores: nothing to wait for).
    pub(super) fn broadcast_interest(
        &mut self,
        io: &mut Io<'_>,
        add: bool,
        account: AccountIndex,
        pattern: &[u8],
        queue: Option<&[u8]>,
    ) -> u64 {
        if self.leaf_hub {
            self.note_hub_interest(io, add, account, pattern, queue);
            self.note_route_interest(io, add, account, pattern, queue);
        }
        self.broadcast_any_interest(io, add, false, account, pattern, queue)
    }

    /// Tells every other core about one change of a leaf link's interest on this core.
    pub(super) fn broadcast_link_interest(
        &mut self,
        io: &mut Io<'_>,
        add: bool,
        account: AccountIndex,
        pattern: &[u8],
        queue: Option<&[u8]>,
    ) -> u64 {
        self.broadcast_any_interest(io, add, true, account, pattern, queue)
    }

    fn broadcast_any_interest(
        &mut self,
        io: &mut Io<'_>,
        add: bool,
        link: bool,
        account: AccountIndex,
        pattern: &[u8],
        queue: Option<&[u8]>,
    ) -> u64 {
        if self.cores == 1 {
            return 0;
        }
        self.epoch += 1;
        interest::encode_any_interest(
            &mut self.record,
            add,
            link,
            self.epoch,
            account,
            pattern,
            queue,
        );
        for peer in 0..self.cores {
            if peer != self.core {
                io.send_mail(peer, &[&self.record]);
            }
        }
        self.epoch
    }

    /// Broadcasts one SUB/UNSUB of `conn` and remembers its epoch, which that connection's
    /// next PONG waits for (the visibility barrier).
    pub(super) fn change_interest(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        add: bool,
        account: AccountIndex,
        pattern: &[u8],
        queue: Option<&[u8]>,
    ) {
        let epoch = self.broadcast_interest(io, add, account, pattern, queue);
        if let Some(client) = self.client_mut(conn) {
            client.interest_epoch = client.interest_epoch.max(epoch);
        }
    }

    /// Whether every other core has applied our interest changes up to `epoch`.
    pub(super) fn barrier_passed(&self, epoch: u64) -> bool {
        self.acked
            .iter()
            .enumerate()
            .all(|(peer, &acked)| peer == self.core || acked >= epoch)
    }

    /// Sends the held PONGs whose barrier has passed, in the order they were held, then
    /// goes on with the input each of those connections received after its PING.
    pub(super) fn release_held_pongs(&mut self, io: &mut Io<'_>) {
        let mut released = std::mem::take(&mut self.released);
        while let Some(&(conn, epoch)) = self.held_pongs.front() {
            if !self.barrier_passed(epoch) {
                break;
            }
            self.held_pongs.pop_front();
            if let Some(client) = self.client_mut(conn) {
                client.pongs_held -= 1;
                if client.is_open() {
                    client.first_pong_sent = true;
                    io.write(conn, encoder::PONG);
                    released.push(conn);
                }
            }
        }
        // After the loop: the held input may hold a PONG again (a later PING), which then
        // queues behind those still waiting.
        for conn in released.drain(..) {
            self.resume_input(io, conn);
        }
        self.released = released;
    }

    /// PING: PONG at once when every other core has applied this connection's interest
    /// changes; otherwise the PONG waits for their acknowledgements and so does the rest
    /// of the connection's input, so that no later answer overtakes the PONG.
    pub(super) fn on_ping(&mut self, io: &mut Io<'_>, conn: ConnId) {
        let Some(client) = self.client(conn) else {
            return;
        };
        let epoch = client.interest_epoch;
        let must_wait = client.pongs_held > 0 || !self.barrier_passed(epoch);
        if must_wait {
            self.held_pongs.push_back((conn, epoch));
            if let Some(client) = self.client_mut(conn) {
                client.pongs_held += 1;
            }
            io.pause_reading(conn);
        } else {
            if let Some(client) = self.client_mut(conn) {
                client.first_pong_sent = true;
            }
            io.write(conn, encoder::PONG);
        }
    }

    pub(super) fn on_record(&mut self, io: &mut Io<'_>, from: usize, record: Record<'_>) {
        let account = match &record {
            Record::InterestAdd { account, .. } | Record::InterestDel { account, .. } => {
                Some(*account)
            }
            Record::Message(message) => Some(message.account),
            _ => None,
        };
        if account.is_some_and(|account| usize::from(account) >= self.local.len()) {
            // A peer adopted a reload that added accounts before this core did: adopt it
            // now (it is published), which sizes the tables.
            self.adopt_live_if_newer(io);
            if account.is_some_and(|account| usize::from(account) >= self.local.len()) {
                error!("record from core {from} for unknown account {account:?}");
                return;
            }
        }
        match record {
            Record::InterestAdd {
                epoch,
                account,
                pattern,
                queue,
                link,
            } => {
                let value = from as u16 | if link { super::leaf::LINK_BIT } else { 0 };
                let remote = &mut self.remote[usize::from(account)];
                let inserted = remote.insert(pattern, queue, value);
                debug_assert!(inserted.is_ok(), "peers only send valid patterns");
                self.applied[from] = epoch;
                if self.leaf_hub && !link {
                    self.note_hub_interest(io, true, account, pattern, queue);
                    self.note_route_interest(io, true, account, pattern, queue);
                }
            }
            Record::InterestDel {
                epoch,
                account,
                pattern,
                queue,
                link,
            } => {
                let value = from as u16 | if link { super::leaf::LINK_BIT } else { 0 };
                self.remote[usize::from(account)].remove(pattern, queue, value);
                self.applied[from] = epoch;
                if self.leaf_hub && !link {
                    self.note_hub_interest(io, false, account, pattern, queue);
                    self.note_route_interest(io, false, account, pattern, queue);
                }
            }
            Record::Ack { epoch } => {
                self.acked[from] = self.acked[from].max(epoch);
                self.release_held_pongs(io);
            }
            Record::Message(message) => self.deliver_forwarded(io, from, &message),
            Record::Monitor(body) => self.on_monitor_record(io, from, body),
            Record::ClusterUrls(urls) => self.adopt_cluster_urls(io, urls),
        }
    }

    /// Acknowledges to each peer the highest of its epochs this core applied since the last
    /// acknowledgement (once per turn: one record however many changes arrived).
    pub(super) fn send_acks(&mut self, io: &mut Io<'_>) {
        for peer in 0..self.cores {
            if peer != self.core && self.applied[peer] > self.ack_sent[peer] {
                self.ack_sent[peer] = self.applied[peer];
                interest::encode_ack(&mut self.record, self.applied[peer]);
                io.send_mail(peer, &[&self.record]);
            }
        }
    }
}
