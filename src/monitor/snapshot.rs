//! What each core reports about itself when monitoring asks, and the ordering and paging
//! rules that turn several cores' reports into one /connz or /subsz page.
//!
//! Paging across cores stays exact without shipping every connection to core 0: each core
//! sorts its own connections with the requested order and sends only its first
//! `offset + limit`; the page of the merged list can only contain those.

use super::query::SortKey;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One connection as /connz shows it, open or closed. Times are Unix nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnRecord {
    pub cid: u64,
    pub ip: String,
    pub port: u16,
    pub start: i64,
    pub last_activity: i64,
    /// Closed connections: when, and why in nats-server's words.
    pub stop: Option<i64>,
    pub reason: Option<String>,
    /// Accept → CONNECT, then each PING → PONG of the server's keep-alive; 0 before CONNECT.
    pub rtt_nanos: u64,
    pub pending_bytes: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscription_count: u32,
    pub name: String,
    pub lang: String,
    pub version: String,
    /// Filled when asked for (open), always kept (closed).
    pub subscriptions: Vec<SubRecord>,
}

/// One subscription as /connz detail and /subsz list it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubRecord {
    pub subject: String,
    pub queue: Option<String>,
    pub sid: String,
    /// Messages delivered to it so far.
    pub msgs: u64,
    /// `UNSUB sid max`.
    pub max: Option<u64>,
    pub cid: u64,
}

/// Counts of one core; summed over the cores for /varz and /subsz.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreStats {
    /// Open client connections.
    pub connections: u64,
    /// Client subscriptions (entries of the core's own subscription trie).
    pub subscriptions: u64,
    /// Subjects in the trie's match cache, and what the cached results fan out to.
    pub cache_entries: u64,
    pub fanout_max: u64,
    pub fanout_total: u64,
    /// The trie's counters (see `subjects::TrieStats`).
    pub inserts: u64,
    pub removes: u64,
    pub matches: u64,
    pub cache_hits: u64,
    /// Messages and payload bytes published by this core's clients, and delivered to them.
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

impl CoreStats {
    pub fn add(&mut self, other: &CoreStats) {
        self.connections += other.connections;
        self.subscriptions += other.subscriptions;
        self.cache_entries += other.cache_entries;
        self.fanout_max = self.fanout_max.max(other.fanout_max);
        self.fanout_total += other.fanout_total;
        self.inserts += other.inserts;
        self.removes += other.removes;
        self.matches += other.matches;
        self.cache_hits += other.cache_hits;
        self.in_msgs += other.in_msgs;
        self.in_bytes += other.in_bytes;
        self.out_msgs += other.out_msgs;
        self.out_bytes += other.out_bytes;
    }
}

/// What core 0 asks every core for. Stats always come back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRequest {
    pub connections: Option<ConnSelect>,
    pub subscriptions: Option<SubSelect>,
}

/// Open connections wanted: the first `top` in `sort` order (or the one with `cid`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnSelect {
    pub sort: SortKey,
    pub top: usize,
    /// 0: any.
    pub cid: u64,
    pub with_subscriptions: bool,
    /// The request's time, for the uptime order.
    pub now: i64,
}

/// Subscriptions wanted: the first `top` in (cid, sid) order, optionally only those a
/// message to the literal subject `test` reaches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubSelect {
    pub top: usize,
    pub test: Option<String>,
}

/// One core's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreSnapshot {
    pub stats: CoreStats,
    pub connections: Vec<ConnRecord>,
    pub subscriptions: Vec<SubRecord>,
}

/// nats-server's ordering for `sort` (ties broken by cid, so a page is repeatable).
pub fn compare(a: &ConnRecord, b: &ConnRecord, sort: SortKey, now: i64) -> Ordering {
    let uptime = |c: &ConnRecord| c.stop.unwrap_or(now).saturating_sub(c.start);
    let active = |c: &ConnRecord| c.last_activity.saturating_sub(c.start);
    let order = match sort {
        SortKey::Cid | SortKey::Start => Ordering::Equal,
        SortKey::Subs => b.subscription_count.cmp(&a.subscription_count),
        SortKey::Pending => b.pending_bytes.cmp(&a.pending_bytes),
        SortKey::MsgsTo => b.out_msgs.cmp(&a.out_msgs),
        SortKey::MsgsFrom => b.in_msgs.cmp(&a.in_msgs),
        SortKey::BytesTo => b.out_bytes.cmp(&a.out_bytes),
        SortKey::BytesFrom => b.in_bytes.cmp(&a.in_bytes),
        SortKey::Last => b.last_activity.cmp(&a.last_activity),
        // nats-server's "idle" order is by last activity minus start, largest first.
        SortKey::Idle => active(b).cmp(&active(a)),
        SortKey::Uptime => uptime(a).cmp(&uptime(b)),
        SortKey::Stop => b.stop.cmp(&a.stop),
        SortKey::Reason => a.reason.cmp(&b.reason),
    };
    order.then(a.cid.cmp(&b.cid))
}

/// Sorts `records` and keeps the first `top`.
pub fn keep_top(records: &mut Vec<ConnRecord>, sort: SortKey, now: i64, top: usize) {
    records.sort_by(|a, b| compare(a, b, sort, now));
    records.truncate(top);
}

/// Subscriptions in (cid, sid) order, the first `top` kept.
pub fn keep_top_subscriptions(records: &mut Vec<SubRecord>, top: usize) {
    records.sort_by(|a, b| (a.cid, &a.sid).cmp(&(b.cid, &b.sid)));
    records.truncate(top);
}

/// `[offset, offset + limit)` of `length`, clamped as nats-server clamps it.
pub fn page_bounds(length: usize, offset: usize, limit: usize) -> std::ops::Range<usize> {
    let start = offset.min(length);
    let end = offset.saturating_add(limit).min(length);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cid: u64, out_msgs: u64, start: i64, stop: Option<i64>) -> ConnRecord {
        ConnRecord {
            cid,
            out_msgs,
            start,
            last_activity: start,
            stop,
            ..ConnRecord::default()
        }
    }

    /// Merging each core's top `offset + limit` gives the same page as sorting everything.
    #[test]
    fn per_core_tops_merge_into_the_global_page() {
        let all: Vec<ConnRecord> = (1..=40)
            .map(|cid| record(cid, (cid * 7919) % 13, cid as i64, None))
            .collect();
        for sort in [
            SortKey::Cid,
            SortKey::MsgsTo,
            SortKey::Uptime,
            SortKey::Idle,
        ] {
            for (offset, limit) in [(0, 5), (3, 4), (10, 100), (39, 1), (45, 2)] {
                let mut expected = all.clone();
                keep_top(&mut expected, sort, 100, usize::MAX);
                let expected = expected[page_bounds(expected.len(), offset, limit)].to_vec();
                let mut merged = Vec::new();
                for core in 0..3 {
                    let mut mine: Vec<ConnRecord> =
                        all.iter().filter(|c| c.cid % 3 == core).cloned().collect();
                    keep_top(&mut mine, sort, 100, offset + limit);
                    merged.extend(mine);
                }
                keep_top(&mut merged, sort, 100, usize::MAX);
                let page = merged[page_bounds(merged.len(), offset, limit)].to_vec();
                assert_eq!(page, expected, "{sort:?} {offset} {limit}");
            }
        }
    }

    #[test]
    fn orders_follow_nats_server() {
        let now = 1000;
        let mut records = vec![
            record(1, 5, 10, None),
            record(2, 9, 20, Some(500)),
            record(3, 9, 30, None),
        ];
        keep_top(&mut records, SortKey::MsgsTo, now, 3);
        assert_eq!(records.iter().map(|c| c.cid).collect::<Vec<_>>(), [2, 3, 1]);
        // Uptime ascends: the closed one lived 480, the others 990 and 970.
        keep_top(&mut records, SortKey::Uptime, now, 3);
        assert_eq!(records.iter().map(|c| c.cid).collect::<Vec<_>>(), [2, 3, 1]);
        keep_top(&mut records, SortKey::Cid, now, 2);
        assert_eq!(records.iter().map(|c| c.cid).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(page_bounds(10, 4, 3), 4..7);
        assert_eq!(page_bounds(10, 8, 5), 8..10);
        assert_eq!(page_bounds(10, 12, 5), 10..10);
        assert_eq!(page_bounds(10, 2, usize::MAX), 2..10);
    }
}
