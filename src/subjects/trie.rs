//! SubjectTrie: per level a literal-token map plus `*` and `>` slots; queue groups by name.
//!
//! CONTRACT (used by `broker`, both for a core's own subscriptions and for the interest of
//! other cores):
//! - Entries are (pattern, queue, value) with a count: inserting the same triple again
//!   increments its count, removing decrements it; at 0 the entry is gone. A core's own
//!   subscriptions use unique values (count 1); remote interest uses the core index as the
//!   value and the count as the number of subscriptions / queue members there.
//! - `match_subject` returns every plain entry whose pattern matches (a value appears once per
//!   matching pattern, with that pattern's count), and the queue entries grouped by queue
//!   name across all matching patterns (one `QueueMatch` per distinct name; inside it, too, a
//!   value appears once per matching pattern). Order is unspecified.
//! - Matching is cached per literal subject (bounded, see `cache.rs`); any insert or remove
//!   invalidates. A cache hit allocates nothing.
//!
//! Matching, before the optimised loop in `collect_level`:
//!
//! ```text
//! collect(level, tokens):
//!     for each token t (last = no tokens after it):
//!         add level.`>` node                      (one or more remaining tokens)
//!         if last: add level.`*` node else collect(level.`*`.next, tokens after t)
//!         node = level.literal[t] or stop
//!         if last: add node else level = node.next or stop
//! ```
//!
//! A published `*` or `>` token is looked up in the literal map like any other token, and
//! the map never holds those two tokens (patterns put them in the slots), so only wildcard
//! patterns match it.

use std::hash::Hash;

use super::cache::MatchCache;
use super::subject::{
    has_empty_token, is_valid_pattern, split_first_token, FULL_WILDCARD, SINGLE_WILDCARD,
};
use super::FastMap;

/// The pattern has an empty token or a `>` that is not last (`-ERR 'Invalid Subject'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSubject;

/// The result of matching one literal subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matches<V> {
    /// Plain (non-queue) entries: (value, count).
    pub plain: Vec<(V, u32)>,
    /// One entry per distinct queue name among matching queue entries.
    pub queues: Vec<QueueMatch<V>>,
}

impl<V> Default for Matches<V> {
    fn default() -> Self {
        Matches {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<V> Matches<V> {
    /// Plain entries plus queue members: the size bound of the cache is measured in these.
    pub fn entry_count(&self) -> usize {
        self.plain.len()
            + self
                .queues
                .iter()
                .map(|group| group.members.len())
                .sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

/// Members of one queue group that match a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMatch<V> {
    pub name: Box<[u8]>,
    /// (value, count); the count weighs the member when one is chosen.
    pub members: Vec<(V, u32)>,
}

/// Counters for monitoring (`/subsz`); they only grow.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TrieStats {
    /// Successful `insert` calls.
    pub inserts: u64,
    /// `remove` calls that found their entry.
    pub removes: u64,
    /// `match_subject` calls.
    pub matches: u64,
    /// `match_subject` calls answered from the cache.
    pub cache_hits: u64,
}

/// The trie. `V` is small and `Copy` (a packed subscription key or a core index).
#[derive(Debug)]
pub struct SubjectTrie<V> {
    root: Level<V>,
    /// Distinct (pattern, queue, value) entries, for `len`.
    entry_count: usize,
    /// Bumped by every insert and every successful remove, so a caller holding results
    /// elsewhere (e.g. a per-connection cache) can tell they are stale.
    generation: u64,
    cache: MatchCache<V>,
    /// Holds the result of a match too large to cache (see `cache::RESULT_ENTRIES_MAX`), so
    /// `match_subject` can still return a reference.
    uncached: Matches<V>,
    /// Returned for subjects with an empty token; never modified.
    empty: Matches<V>,
    stats: TrieStats,
}

/// One token position: literal tokens in a map, the two wildcards in their own slots so
/// matching never hashes them.
#[derive(Debug)]
struct Level<V> {
    literal: FastMap<Box<[u8]>, Node<V>>,
    single_wildcard: Option<Box<Node<V>>>,
    full_wildcard: Option<Box<Node<V>>>,
}

/// A token of some pattern. Both fields are boxed options so that the many inner nodes of a
/// large trie cost two words each.
#[derive(Debug)]
struct Node<V> {
    next: Option<Box<Level<V>>>,
    entries: Option<Box<Entries<V>>>,
}

/// The entries of the patterns that end at one node, value → count.
#[derive(Debug)]
struct Entries<V> {
    plain: FastMap<V, u32>,
    queues: FastMap<Box<[u8]>, FastMap<V, u32>>,
}

impl<V> Default for Level<V> {
    fn default() -> Self {
        Level {
            literal: FastMap::default(),
            single_wildcard: None,
            full_wildcard: None,
        }
    }
}

impl<V> Default for Node<V> {
    fn default() -> Self {
        Node {
            next: None,
            entries: None,
        }
    }
}

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Entries {
            plain: FastMap::default(),
            queues: FastMap::default(),
        }
    }
}

impl<V: Copy + Eq + Hash> Default for SubjectTrie<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Copy + Eq + Hash> SubjectTrie<V> {
    pub fn new() -> Self {
        SubjectTrie {
            root: Level::default(),
            entry_count: 0,
            generation: 0,
            cache: MatchCache::new(),
            uncached: Matches::default(),
            empty: Matches::default(),
            stats: TrieStats::default(),
        }
    }

    /// Adds one to the count of (pattern, queue, value); returns the new count.
    pub fn insert(
        &mut self,
        pattern: &[u8],
        queue: Option<&[u8]>,
        value: V,
    ) -> Result<u32, InvalidSubject> {
        if !is_valid_pattern(pattern) {
            return Err(InvalidSubject);
        }
        let entries = self
            .root
            .find_or_create(pattern)
            .entries
            .get_or_insert_with(Box::default);
        let counts = match queue {
            None => &mut entries.plain,
            Some(name) => entries.queues.entry(Box::from(name)).or_default(),
        };
        let count = counts.entry(value).or_insert(0);
        *count += 1;
        let count = *count;
        if count == 1 {
            self.entry_count += 1;
        }
        self.generation += 1;
        self.stats.inserts += 1;
        self.cache.patch(pattern, queue, value, count - 1, count);
        Ok(count)
    }

    /// Subtracts one from the count of (pattern, queue, value); returns the remaining count,
    /// or `None` if the entry did not exist.
    pub fn remove(&mut self, pattern: &[u8], queue: Option<&[u8]>, value: V) -> Option<u32> {
        if !is_valid_pattern(pattern) {
            return None;
        }
        let remaining = self.root.remove(pattern, queue, value)?;
        if remaining == 0 {
            self.entry_count -= 1;
        }
        self.generation += 1;
        self.stats.removes += 1;
        self.cache
            .patch(pattern, queue, value, remaining + 1, remaining);
        Some(remaining)
    }

    /// Everything matching the published `subject`. Its tokens are literal: a published `*`
    /// or `>` token is the string `*`/`>`, so `foo.*` is matched by patterns `foo.*`, `foo.>`
    /// and `>` but not by `foo.bar` (spec §1.3). A subject with an empty token matches nothing.
    pub fn match_subject(&mut self, subject: &[u8]) -> &Matches<V> {
        self.stats.matches += 1;
        if let Some(slot) = self.cache.lookup(subject) {
            self.stats.cache_hits += 1;
            return self.cache.result(slot);
        }
        if has_empty_token(subject) {
            debug_assert!(self.empty.is_empty());
            return &self.empty;
        }
        let matches = self.collect(subject);
        match self.cache.store(subject, matches) {
            Ok(slot) => self.cache.result(slot),
            Err(too_large) => {
                self.uncached = too_large;
                &self.uncached
            }
        }
    }

    /// Distinct (pattern, queue, value) entries.
    pub fn len(&self) -> usize {
        self.entry_count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes so far (inserts plus successful removes); see the field.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Subjects currently cached (at most `cache::ENTRIES_MAX`).
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    pub fn stats(&self) -> TrieStats {
        self.stats
    }

    /// The uncached match: walks the trie and groups queue entries by name.
    fn collect(&self, subject: &[u8]) -> Matches<V> {
        debug_assert!(!has_empty_token(subject));
        let mut collector = Collector::default();
        collect_level(&self.root, subject, &mut collector);
        collector.into_matches()
    }
}

impl<V: Copy + Eq + Hash> Level<V> {
    /// Walks the valid `pattern` from this level, creating missing levels and nodes.
    fn find_or_create(&mut self, pattern: &[u8]) -> &mut Node<V> {
        let (token, rest) = split_first_token(pattern);
        let node = self.child_or_create(token);
        match rest {
            None => node,
            Some(rest) => node
                .next
                .get_or_insert_with(Box::default)
                .find_or_create(rest),
        }
    }

    fn child_or_create(&mut self, token: &[u8]) -> &mut Node<V> {
        match token {
            SINGLE_WILDCARD => self.single_wildcard.get_or_insert_with(Box::default),
            FULL_WILDCARD => self.full_wildcard.get_or_insert_with(Box::default),
            _ => self.literal.entry(Box::from(token)).or_default(),
        }
    }

    fn child_mut(&mut self, token: &[u8]) -> Option<&mut Node<V>> {
        match token {
            SINGLE_WILDCARD => self.single_wildcard.as_deref_mut(),
            FULL_WILDCARD => self.full_wildcard.as_deref_mut(),
            _ => self.literal.get_mut(token),
        }
    }

    /// Drops the child for `token`: called once it holds nothing, so empty nodes never stay.
    fn remove_child(&mut self, token: &[u8]) {
        match token {
            SINGLE_WILDCARD => self.single_wildcard = None,
            FULL_WILDCARD => self.full_wildcard = None,
            _ => {
                self.literal.remove(token);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.single_wildcard.is_none() && self.full_wildcard.is_none()
    }

    /// Decrements (pattern, queue, value) below this level and prunes what became empty on
    /// the way back up. Recursion depth is the pattern's token count, bounded by the control
    /// line limit.
    fn remove(&mut self, pattern: &[u8], queue: Option<&[u8]>, value: V) -> Option<u32> {
        let (token, rest) = split_first_token(pattern);
        let node = self.child_mut(token)?;
        let remaining = match rest {
            None => node.remove_entry(queue, value)?,
            Some(rest) => {
                let next = node.next.as_deref_mut()?;
                let remaining = next.remove(rest, queue, value)?;
                if next.is_empty() {
                    node.next = None;
                }
                remaining
            }
        };
        if node.next.is_none() && node.entries.is_none() {
            self.remove_child(token);
        }
        Some(remaining)
    }
}

impl<V: Copy + Eq + Hash> Node<V> {
    /// Decrements the entry at this node; drops the count map, queue and `Entries` once empty.
    fn remove_entry(&mut self, queue: Option<&[u8]>, value: V) -> Option<u32> {
        let entries = self.entries.as_deref_mut()?;
        let counts = match queue {
            None => &mut entries.plain,
            Some(name) => entries.queues.get_mut(name)?,
        };
        let count = counts.get_mut(&value)?;
        debug_assert!(*count > 0);
        *count -= 1;
        let remaining = *count;
        if remaining == 0 {
            counts.remove(&value);
            if let Some(name) = queue.filter(|_| counts.is_empty()) {
                entries.queues.remove(name);
            }
        }
        if entries.plain.is_empty() && entries.queues.is_empty() {
            self.entries = None;
        }
        Some(remaining)
    }
}

/// Walks `level` for the remaining `subject` (see the pseudo-code at the top). Loops down
/// literal tokens and recurses only into `*` slots.
fn collect_level<'trie, V: Copy + Eq + Hash>(
    mut level: &'trie Level<V>,
    mut subject: &[u8],
    collector: &mut Collector<'trie, V>,
) {
    loop {
        let (token, rest) = split_first_token(subject);
        if let Some(full) = level.full_wildcard.as_deref() {
            collector.add_node(full);
        }
        if let Some(single) = level.single_wildcard.as_deref() {
            match rest {
                None => collector.add_node(single),
                Some(rest) => {
                    if let Some(next) = single.next.as_deref() {
                        collect_level(next, rest, collector);
                    }
                }
            }
        }
        let Some(node) = level.literal.get(token) else {
            return;
        };
        match (rest, node.next.as_deref()) {
            (None, _) => return collector.add_node(node),
            (Some(rest), Some(next)) => {
                level = next;
                subject = rest;
            }
            (Some(_), None) => return,
        }
    }
}

/// Builds one match result; queue groups are merged by name through an index borrowed from
/// the trie's own keys, so merging costs a hash lookup rather than a scan of the groups.
struct Collector<'trie, V> {
    plain: Vec<(V, u32)>,
    queues: Vec<(&'trie [u8], Vec<(V, u32)>)>,
    queue_index_by_name: FastMap<&'trie [u8], usize>,
}

impl<V> Default for Collector<'_, V> {
    fn default() -> Self {
        Collector {
            plain: Vec::new(),
            queues: Vec::new(),
            queue_index_by_name: FastMap::default(),
        }
    }
}

impl<'trie, V: Copy + Eq + Hash> Collector<'trie, V> {
    fn add_node(&mut self, node: &'trie Node<V>) {
        let Some(entries) = node.entries.as_deref() else {
            return;
        };
        self.plain
            .extend(entries.plain.iter().map(|(&value, &count)| (value, count)));
        for (name, members) in &entries.queues {
            let next_index = self.queues.len();
            let index = *self.queue_index_by_name.entry(name).or_insert(next_index);
            if index == next_index {
                self.queues.push((name, Vec::with_capacity(members.len())));
            }
            let group = &mut self.queues[index].1;
            group.extend(members.iter().map(|(&value, &count)| (value, count)));
        }
    }

    fn into_matches(self) -> Matches<V> {
        let queues = self
            .queues
            .into_iter()
            .map(|(name, members)| QueueMatch {
                name: Box::from(name),
                members,
            })
            .collect();
        Matches {
            plain: self.plain,
            queues,
        }
    }
}
