//! The in-memory indexes of a stream: sequence → where the record is, subject → its live
//! sequences. Interior deletes are not stored: they are the gaps between live sequences
//! in `[first, last]`, so a delete costs nothing to remember.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::filter::{has_wildcard, matches_all, subject_matches};

/// Where one live message is, and what limits and filters need without reading it.
#[derive(Debug, Clone)]
pub(crate) struct MsgEntry {
    /// The first sequence (the name) of its segment; 0 for memory streams.
    pub segment: u64,
    pub offset: u64,
    /// The record's encoded length.
    pub len: u32,
    /// Shared with the subject map's key, so a subject is stored once however many messages.
    pub subject: Arc<str>,
    pub time_ns: i64,
    /// nats-server's size of the message (see `StreamState::bytes`).
    pub size: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    pub msgs: BTreeMap<u64, MsgEntry>,
    /// Live sequences per subject: the count, the last (and the oldest, for discard old
    /// per subject) in one ordered set.
    subjects: HashMap<Arc<str>, BTreeSet<u64>>,
    pub bytes: u64,
    /// The highest sequence ever given (live or not); the next append gets `last_seq + 1`.
    pub last_seq: u64,
    pub last_ts_ns: i64,
}

impl Index {
    /// The shared subject string for `subject` (interned in the subject map when present).
    pub fn intern(&self, subject: &str) -> Arc<str> {
        match self.subjects.get_key_value(subject) {
            Some((key, _)) => key.clone(),
            None => Arc::from(subject),
        }
    }

    pub fn insert(&mut self, seq: u64, entry: MsgEntry) {
        debug_assert!(!self.msgs.contains_key(&seq));
        self.bytes += entry.size;
        self.subjects
            .entry(entry.subject.clone())
            .or_default()
            .insert(seq);
        self.msgs.insert(seq, entry);
    }

    pub fn remove(&mut self, seq: u64) -> Option<MsgEntry> {
        let entry = self.msgs.remove(&seq)?;
        self.bytes -= entry.size;
        if let Some(seqs) = self.subjects.get_mut(&*entry.subject) {
            seqs.remove(&seq);
            if seqs.is_empty() {
                self.subjects.remove(&*entry.subject);
            }
        }
        Some(entry)
    }

    pub fn first_seq(&self) -> u64 {
        match self.msgs.keys().next() {
            Some(&seq) => seq,
            None if self.last_seq == 0 => 0,
            None => self.last_seq + 1,
        }
    }

    pub fn num_subjects(&self) -> u64 {
        self.subjects.len() as u64
    }

    pub fn subject_count(&self, subject: &str) -> u64 {
        self.subjects
            .get(subject)
            .map_or(0, |seqs| seqs.len() as u64)
    }

    pub fn oldest_for_subject(&self, subject: &str) -> Option<u64> {
        self.subjects.get(subject)?.iter().next().copied()
    }

    pub fn last_for_subject(&self, subject: &str) -> Option<u64> {
        self.subjects.get(subject)?.iter().next_back().copied()
    }

    /// Live sequences `>= from` whose subject matches, in order.
    pub fn matching<'a>(
        &'a self,
        from: u64,
        filter: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = u64> + 'a> {
        match filter {
            _ if matches_all(filter) => Box::new(self.msgs.range(from..).map(|(&seq, _)| seq)),
            Some(literal) if !has_wildcard(literal) => match self.subjects.get(literal) {
                Some(seqs) => Box::new(seqs.range(from..).copied()),
                None => Box::new(std::iter::empty()),
            },
            Some(pattern) => Box::new(
                self.msgs
                    .range(from..)
                    .filter(move |(_, entry)| subject_matches(pattern, &entry.subject))
                    .map(|(&seq, _)| seq),
            ),
            None => unreachable!("matches_all(None)"),
        }
    }

    pub fn num_pending(&self, from: u64, filter: Option<&str>) -> u64 {
        if matches_all(filter) {
            return self.msgs.range(from..).count() as u64;
        }
        let pattern = filter.unwrap_or(">");
        if !has_wildcard(pattern) {
            return self.matching(from, filter).count() as u64;
        }
        // Per subject, counting each matching subject's sequences: cheaper than matching
        // every message when subjects are few and messages many.
        self.subjects
            .iter()
            .filter(|(subject, _)| subject_matches(pattern, subject))
            .map(|(_, seqs)| seqs.range(from..).count() as u64)
            .sum()
    }

    /// Subjects matching `filter` with their live message counts, sorted by subject.
    pub fn subjects_matching(&self, filter: &str) -> Vec<(String, u64)> {
        let mut found: Vec<(String, u64)> = self
            .subjects
            .iter()
            .filter(|(subject, _)| matches_all(Some(filter)) || subject_matches(filter, subject))
            .map(|(subject, seqs)| (subject.to_string(), seqs.len() as u64))
            .collect();
        found.sort();
        found
    }

    /// The interior deletes as nats-server counts them: sequences in `[first, last_seq]`
    /// that are not live (a deleted last message is one, its sequence stays the last).
    pub fn deleted(&self) -> Vec<u64> {
        let mut gaps = Vec::new();
        let mut previous: Option<u64> = None;
        for &seq in self.msgs.keys() {
            if let Some(previous) = previous {
                gaps.extend(previous + 1..seq);
            }
            previous = Some(seq);
        }
        if let Some(previous) = previous {
            gaps.extend(previous + 1..=self.last_seq);
        }
        gaps
    }

    pub fn num_deleted(&self) -> u64 {
        match self.msgs.keys().next() {
            Some(first) => self.last_seq - first + 1 - self.msgs.len() as u64,
            None => 0,
        }
    }

    pub fn clear(&mut self) {
        self.msgs.clear();
        self.subjects.clear();
        self.bytes = 0;
    }
}
