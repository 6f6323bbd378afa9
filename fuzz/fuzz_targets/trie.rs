//! `SubjectTrie` under a random sequence of inserts, removes and matches, against a naive
//! model: a list of counted (pattern, queue, value) entries checked one by one with the
//! reference matcher. Covers queue groups, counts, pruning (`node_count`), the generation,
//! the stats, and the match cache: every match runs twice (the second must be a hit when the
//! result is cacheable), recently matched subjects are matched again after every change (so a
//! stale patched result shows), bulk operations push past `ENTRIES_MAX` cached subjects and
//! `RESULT_ENTRIES_MAX` entries per result, and at the end everything is removed.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use ringmq::subjects::cache::{ENTRIES_MAX, RESULT_ENTRIES_MAX};
use ringmq::subjects::{InvalidSubject, Matches, SubjectTrie};
use ringmq_fuzz as reference;

/// Tokens that patterns and subjects are mostly built from: wildcards, near-wildcards, an
/// empty token and a non-UTF-8 byte.
const TOKENS: [&[u8]; 8] = [b"a", b"b", b"c", b"*", b">", b"", b"a*", b"\xff"];
/// Queue names by index.
const QUEUES: [&[u8]; 3] = [b"q1", b"q2", b"*"];
/// Distinct values a single insert or remove mostly uses, so entries collide across patterns.
const VALUES: u32 = 4;
/// Bulk inserts use values from here on, apart from the single-entry values.
const BULK_VALUE_BASE: u32 = 1_000;
/// A value byte from here on names the bulk values (`BULK_VALUE_BASE` + the excess), so a
/// single remove can take a result back under `RESULT_ENTRIES_MAX`.
const BULK_VALUE_BYTE_FROM: u8 = 128;
/// Small bulk counts are below this, so that common inputs stay cheap.
const BULK_SMALL_MAX: usize = 16;
/// Entries one input may create, to keep an execution in milliseconds.
const MODEL_ENTRIES_MAX: usize = RESULT_ENTRIES_MAX + 512;
/// While everything is removed at the end, the state is checked after every this many
/// distinct entries.
const REMOVE_ALL_CHECK_INTERVAL: usize = 256;
/// Recently matched subjects re-matched after every change.
const WATCHED_SUBJECTS_MAX: usize = 6;
/// Model entries one input may examine in naive matches before its remaining operations are
/// skipped, to keep an execution well under a second even with bulk operations.
const WORK_MAX: usize = 300_000;

/// Bulk operations take a count byte: `u8::MAX` means one more than the cache bound under
/// test (crossing it on the way), anything else a small count. Only the first large bulk
/// operation of an input runs (see `Harness::large_bulk_done`): it costs milliseconds.
fn bulk_count(count: u8, bound: usize) -> (usize, bool) {
    match count {
        u8::MAX => (bound + 1, true),
        _ => (usize::from(count) % BULK_SMALL_MAX, false),
    }
}

/// The value a single insert or remove names.
fn entry_value(byte: u8) -> u32 {
    match byte.checked_sub(BULK_VALUE_BYTE_FROM) {
        None => u32::from(byte) % VALUES,
        Some(bulk_index) => BULK_VALUE_BASE + u32::from(bulk_index),
    }
}

/// A pattern, subject or queue name: joined tokens from `TOKENS`, or raw bytes.
#[derive(Arbitrary, Debug)]
enum Text {
    Tokens(Vec<u8>),
    Raw(Vec<u8>),
}

impl Text {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Text::Tokens(indexes) => {
                let tokens: Vec<&[u8]> = indexes
                    .iter()
                    .map(|&index| TOKENS[usize::from(index) % TOKENS.len()])
                    .collect();
                tokens.join(&b'.')
            }
            Text::Raw(bytes) => bytes.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Queue {
    Named(u8),
    Raw(Vec<u8>),
}

impl Queue {
    fn bytes(queue: &Option<Queue>) -> Option<Vec<u8>> {
        queue.as_ref().map(|queue| match queue {
            Queue::Named(index) => QUEUES[usize::from(*index) % QUEUES.len()].to_vec(),
            Queue::Raw(bytes) => bytes.clone(),
        })
    }
}

#[derive(Arbitrary, Debug)]
enum Operation {
    Insert {
        pattern: Text,
        queue: Option<Queue>,
        value: u8,
    },
    Remove {
        pattern: Text,
        queue: Option<Queue>,
        value: u8,
    },
    Match {
        subject: Text,
    },
    /// Inserts `bulk_count(count, RESULT_ENTRIES_MAX)` distinct values under one pattern.
    InsertMany {
        pattern: Text,
        queue: Option<Queue>,
        count: u8,
    },
    /// Matches `bulk_count(count, ENTRIES_MAX)` distinct subjects `<prefix>.<n>`.
    MatchMany {
        prefix: Text,
        count: u8,
    },
}

type Entry = (Vec<u8>, Option<Vec<u8>>, u32);
/// A result in comparable form: plain (value, count) sorted; groups by name, members sorted.
type Normalized = (Vec<(u32, u32)>, Vec<(Vec<u8>, Vec<(u32, u32)>)>);

/// The naive model and the counters the trie must agree with.
#[derive(Default)]
struct Model {
    /// Entry → count (never 0).
    entries: BTreeMap<Entry, u32>,
    /// Each live pattern's tokens, split once rather than at every match.
    pattern_tokens: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
    generation: u64,
    inserts: u64,
    removes: u64,
    matches: u64,
    next_bulk_value: u32,
}

impl Model {
    fn insert(&mut self, entry: Entry) -> Result<u32, InvalidSubject> {
        if !reference::is_valid_pattern(&entry.0) {
            return Err(InvalidSubject);
        }
        if !self.pattern_tokens.contains_key(&entry.0) {
            let tokens = reference::tokens(&entry.0)
                .iter()
                .map(|token| token.to_vec())
                .collect();
            self.pattern_tokens.insert(entry.0.clone(), tokens);
        }
        let count = self.entries.entry(entry).or_insert(0);
        *count += 1;
        self.generation += 1;
        self.inserts += 1;
        Ok(*count)
    }

    fn remove(&mut self, entry: &Entry) -> Option<u32> {
        let count = self.entries.get_mut(entry)?;
        *count -= 1;
        let remaining = *count;
        if remaining == 0 {
            self.entries.remove(entry);
            // (pattern, None, 0) is the least key with this pattern.
            let first_with_pattern = (entry.0.clone(), None, 0);
            let mut same_pattern = self.entries.range(first_with_pattern..);
            if !same_pattern
                .next()
                .is_some_and(|((pattern, _, _), _)| *pattern == entry.0)
            {
                self.pattern_tokens.remove(&entry.0);
            }
        }
        self.generation += 1;
        self.removes += 1;
        Some(remaining)
    }

    /// Every entry, one by one.
    fn matches(&self, subject: &[u8]) -> Normalized {
        let mut plain = Vec::new();
        let mut queues: BTreeMap<Vec<u8>, Vec<(u32, u32)>> = BTreeMap::new();
        let subject_tokens = reference::tokens(subject);
        // A subject with an empty token matches nothing.
        let entries = match reference::has_empty_token(subject) {
            true => None,
            false => Some(&self.entries),
        };
        for ((pattern, queue, value), &count) in entries.into_iter().flatten() {
            if !reference::tokens_match(&self.pattern_tokens[pattern], &subject_tokens) {
                continue;
            }
            match queue {
                None => plain.push((*value, count)),
                Some(name) => queues
                    .entry(name.clone())
                    .or_default()
                    .push((*value, count)),
            }
        }
        plain.sort_unstable();
        queues
            .values_mut()
            .for_each(|members| members.sort_unstable());
        (plain, queues.into_iter().collect())
    }

    /// One trie node per distinct token prefix of a live pattern.
    fn node_count(&self) -> usize {
        let mut prefixes = BTreeSet::new();
        for tokens in self.pattern_tokens.values() {
            for length in 1..=tokens.len() {
                prefixes.insert(&tokens[..length]);
            }
        }
        prefixes.len()
    }
}

fn normalized(matches: &Matches<u32>) -> Normalized {
    let mut plain = matches.plain.clone();
    plain.sort_unstable();
    let mut queues: Vec<(Vec<u8>, Vec<(u32, u32)>)> = matches
        .queues
        .iter()
        .map(|group| {
            let mut members = group.members.clone();
            members.sort_unstable();
            (group.name.to_vec(), members)
        })
        .collect();
    queues.sort();
    (plain, queues)
}

struct Harness {
    trie: SubjectTrie<u32>,
    model: Model,
    /// Subjects matched lately, re-matched after each change.
    watched: Vec<Vec<u8>>,
    /// Model entries examined so far; the input stops at `WORK_MAX`.
    work: usize,
    /// A large bulk operation ran; later ones are skipped to bound an execution's time.
    large_bulk_done: bool,
}

impl Harness {
    /// Matches twice: the first may build and cache the result, the second must then be a hit.
    fn check_match(&mut self, subject: &[u8]) {
        self.work += self.model.entries.len() + 1;
        let expected = self.model.matches(subject);
        let first = normalized(self.trie.match_subject(subject));
        assert_eq!(first, expected, "first match of {subject:?}");
        let hits_before = self.trie.stats().cache_hits;
        let matches = self.trie.match_subject(subject);
        let entry_count = matches.entry_count();
        assert_eq!(
            normalized(matches),
            expected,
            "repeated match of {subject:?}"
        );
        self.model.matches += 2;
        // An empty trie answers without its cache (nothing can match).
        let cacheable = !self.model.entries.is_empty()
            && !reference::has_empty_token(subject)
            && entry_count <= RESULT_ENTRIES_MAX;
        let hits = self.trie.stats().cache_hits - hits_before;
        assert_eq!(hits, u64::from(cacheable), "{subject:?}");
        assert!(self.trie.cache_len() <= ENTRIES_MAX);
    }

    fn watch(&mut self, subject: Vec<u8>) {
        if !self.watched.contains(&subject) {
            if self.watched.len() == WATCHED_SUBJECTS_MAX {
                self.watched.remove(0);
            }
            self.watched.push(subject);
        }
    }

    /// After a change: counters, pruning, and the results of watched (cached) subjects.
    fn check_state(&mut self) {
        assert_eq!(self.trie.len(), self.model.entries.len());
        assert_eq!(self.trie.is_empty(), self.model.entries.is_empty());
        assert_eq!(self.trie.generation(), self.model.generation);
        let stats = self.trie.stats();
        assert_eq!(
            (stats.inserts, stats.removes, stats.matches),
            (self.model.inserts, self.model.removes, self.model.matches)
        );
        assert!(stats.cache_hits <= stats.matches);
        assert_eq!(self.trie.node_count(), self.model.node_count());
        for subject in self.watched.clone() {
            self.check_match(&subject);
        }
    }

    fn insert(&mut self, entry: Entry) {
        let expected = self.model.insert(entry.clone());
        let (pattern, queue, value) = entry;
        assert_eq!(
            self.trie.insert(&pattern, queue.as_deref(), value),
            expected
        );
    }

    fn remove(&mut self, entry: Entry) {
        let expected = self.model.remove(&entry);
        let (pattern, queue, value) = entry;
        assert_eq!(
            self.trie.remove(&pattern, queue.as_deref(), value),
            expected
        );
    }

    /// The count of a bulk operation, `None` if it is a large one after the first.
    fn bulk_count(&mut self, count: u8, bound: usize) -> Option<usize> {
        let (count, large) = bulk_count(count, bound);
        if large && std::mem::replace(&mut self.large_bulk_done, true) {
            return None;
        }
        Some(count)
    }

    fn apply(&mut self, operation: &Operation) {
        match operation {
            Operation::Insert {
                pattern,
                queue,
                value,
            } => {
                let value = entry_value(*value);
                self.insert((pattern.bytes(), Queue::bytes(queue), value));
            }
            Operation::Remove {
                pattern,
                queue,
                value,
            } => {
                let value = entry_value(*value);
                self.remove((pattern.bytes(), Queue::bytes(queue), value));
            }
            Operation::Match { subject } => {
                let subject = subject.bytes();
                self.check_match(&subject);
                self.watch(subject);
            }
            Operation::InsertMany {
                pattern,
                queue,
                count,
            } => {
                let Some(count) = self.bulk_count(*count, RESULT_ENTRIES_MAX) else {
                    return;
                };
                let room = MODEL_ENTRIES_MAX.saturating_sub(self.model.entries.len());
                let (pattern, queue) = (pattern.bytes(), Queue::bytes(queue));
                for _ in 0..count.min(room) {
                    let value = BULK_VALUE_BASE + self.model.next_bulk_value;
                    self.model.next_bulk_value += 1;
                    self.insert((pattern.clone(), queue.clone(), value));
                }
            }
            Operation::MatchMany { prefix, count } => {
                let prefix = prefix.bytes();
                let Some(count) = self.bulk_count(*count, ENTRIES_MAX) else {
                    return;
                };
                for number in 0..count {
                    if self.work > WORK_MAX {
                        return;
                    }
                    let subject = [&prefix[..], b".", number.to_string().as_bytes()].concat();
                    self.check_match(&subject);
                }
            }
        }
    }

    /// Removes every entry, count by count, then checks that nothing is left anywhere.
    fn remove_all(&mut self) {
        let entries: Vec<(Entry, u32)> = self
            .model
            .entries
            .iter()
            .map(|(entry, &count)| (entry.clone(), count))
            .collect();
        for (index, (entry, count)) in entries.into_iter().enumerate() {
            for _ in 0..count {
                self.remove(entry.clone());
            }
            // Watched results must follow the removals on the way down, not only at the end.
            if index % REMOVE_ALL_CHECK_INTERVAL == 0 {
                self.check_state();
            }
        }
        self.check_state();
        assert!(self.trie.is_empty());
        assert_eq!(self.trie.node_count(), 0);
    }
}

fuzz_target!(|operations: Vec<Operation>| {
    let mut harness = Harness {
        trie: SubjectTrie::new(),
        model: Model::default(),
        watched: Vec::new(),
        work: 0,
        large_bulk_done: false,
    };
    for operation in &operations {
        if harness.work > WORK_MAX {
            break;
        }
        harness.apply(operation);
        harness.check_state();
    }
    harness.remove_all();
});
