//! One core's part of a monitoring request: its subscription statistics, and records of
//! its own connections (ranked and cut to the page on the core, so only the page's records
//! are built), answered on the core that owns them (`monitoring` gathers and merges).

use super::connection::{pattern_matches, Client, Subscription};
use super::shard::Shard;
use crate::monitor::snapshot::{
    self, ConnRecord, ConnSelect, CoreSnapshot, CoreStats, SnapshotRequest, SubRecord, SubSelect,
};
use crate::runtime::Io;

impl Shard {
    /// This core's part of a monitoring request.
    pub(super) fn snapshot(&mut self, io: &Io<'_>, request: &SnapshotRequest) -> CoreSnapshot {
        // One trie per account: /subsz sums them (the fan-out maximum is the largest).
        let (mut inserts, mut removes, mut matches, mut cache_hits) = (0, 0, 0, 0);
        let (mut subscriptions, mut cache_entries, mut fanout_max, mut fanout_total) =
            (0usize, 0usize, 0usize, 0usize);
        for trie in &self.local {
            let stats = trie.stats();
            inserts += stats.inserts;
            removes += stats.removes;
            matches += stats.matches;
            cache_hits += stats.cache_hits;
            subscriptions += trie.len();
            cache_entries += trie.cache_len();
            let (max, total) = trie.cache_fanout();
            fanout_max = fanout_max.max(max);
            fanout_total += total;
        }
        let stats = CoreStats {
            connections: self.open_clients,
            subscriptions: subscriptions as u64,
            cache_entries: cache_entries as u64,
            fanout_max: fanout_max as u64,
            fanout_total: fanout_total as u64,
            inserts,
            removes,
            matches,
            cache_hits,
            in_msgs: self.counters.in_msgs,
            in_bytes: self.counters.in_bytes,
            out_msgs: self.counters.out_msgs,
            out_bytes: self.counters.out_bytes,
        };
        CoreSnapshot {
            stats,
            connections: request
                .connections
                .as_ref()
                .map_or_else(Vec::new, |select| self.select_connections(io, select)),
            subscriptions: request
                .subscriptions
                .as_ref()
                .map_or_else(Vec::new, |select| self.select_subscriptions(select)),
        }
    }

    /// The first `select.top` open connections in `select.sort` order. Only their numbers
    /// are read while choosing, and at most twice `top` of those are held, so a core with
    /// a million connections builds a thousand records for the default page.
    pub(super) fn select_connections(&self, io: &Io<'_>, select: &ConnSelect) -> Vec<ConnRecord> {
        let by_order = |a: &(ConnRecord, usize), b: &(ConnRecord, usize)| {
            snapshot::compare(&a.0, &b.0, select.sort, select.now)
        };
        let mut chosen: Vec<(ConnRecord, usize)> = Vec::new();
        for (slot, client) in self.clients.iter().enumerate() {
            let Some(client) = client.as_ref().filter(|c| !c.retired) else {
                continue;
            };
            if select.cid != 0 && client.cid != select.cid {
                continue;
            }
            chosen.push((self.conn_numbers(io, client), slot));
            keep_first(&mut chosen, select.top, by_order, false);
        }
        keep_first(&mut chosen, select.top, by_order, true);
        chosen
            .into_iter()
            .filter_map(|(mut record, slot)| {
                let client = self.clients.get(slot)?.as_ref()?;
                add_details(&mut record, client, select.with_subscriptions);
                Some(record)
            })
            .collect()
    }

    /// The first `select.top` subscriptions in (cid, sid) order that `select.test` reaches.
    pub(super) fn select_subscriptions(&self, select: &SubSelect) -> Vec<SubRecord> {
        let by_order = |a: &(u64, &Subscription), b: &(u64, &Subscription)| {
            (a.0, &a.1.sid).cmp(&(b.0, &b.1.sid))
        };
        let mut chosen: Vec<(u64, &Subscription)> = Vec::new();
        for client in self.clients.iter().flatten().filter(|c| !c.retired) {
            for (_, sub) in &client.subscriptions {
                let reaches = select
                    .test
                    .as_ref()
                    .is_none_or(|test| pattern_matches(&sub.subject, test.as_bytes()));
                if !reaches {
                    continue;
                }
                chosen.push((client.cid, sub));
                keep_first(&mut chosen, select.top, by_order, false);
            }
        }
        keep_first(&mut chosen, select.top, by_order, true);
        chosen
            .into_iter()
            .map(|(cid, sub)| sub_record(cid, sub))
            .collect()
    }

    /// A connection's record with every number filled in and no text (allocates nothing).
    pub(super) fn conn_numbers(&self, io: &Io<'_>, client: &Client) -> ConnRecord {
        let clock = &self.shared.clock;
        ConnRecord {
            cid: client.cid,
            ip: String::new(),
            port: client.peer.port(),
            start: clock.unix_nanos(client.opened_at),
            last_activity: clock.unix_nanos(client.last_activity),
            stop: None,
            reason: None,
            rtt_nanos: client.rtt.as_nanos() as u64,
            pending_bytes: io.pending_bytes(client.id) as u64,
            in_msgs: client.in_msgs,
            out_msgs: client.out_msgs,
            in_bytes: client.in_bytes,
            out_bytes: client.out_bytes,
            subscription_count: client.subscriptions.len() as u32,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            subscriptions: Vec::new(),
        }
    }

    pub(super) fn conn_record(
        &self,
        io: &Io<'_>,
        client: &Client,
        with_subscriptions: bool,
    ) -> ConnRecord {
        let mut record = self.conn_numbers(io, client);
        add_details(&mut record, client, with_subscriptions);
        record
    }
}

/// The texts of a connection's record, and its subscriptions if wanted.
fn add_details(record: &mut ConnRecord, client: &Client, with_subscriptions: bool) {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    record.ip = client.peer.ip().to_string();
    record.name = text(&client.options.name);
    record.lang = text(&client.options.lang);
    record.version = text(&client.options.version);
    if with_subscriptions {
        record.subscriptions = client
            .subscriptions
            .iter()
            .map(|(_, sub)| sub_record(client.cid, sub))
            .collect();
    }
}

fn sub_record(cid: u64, sub: &Subscription) -> SubRecord {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    SubRecord {
        subject: text(&sub.subject),
        queue: sub.queue.as_deref().map(text),
        sid: text(&sub.sid),
        msgs: sub.delivered,
        max: sub.max,
        cid,
    }
}

/// Bounded top-N selection: keeps the first `top` of `chosen` in `order`. While choosing
/// (`finish` false) it sorts and cuts only once twice `top` (at least 64) are held, so a
/// selection holds O(top) items; `finish` sorts and cuts whatever is held.
fn keep_first<T>(
    chosen: &mut Vec<T>,
    top: usize,
    order: impl Fn(&T, &T) -> std::cmp::Ordering,
    finish: bool,
) {
    if finish || chosen.len() >= top.saturating_mul(2).max(64) {
        chosen.sort_by(order);
        chosen.truncate(top);
    }
}
