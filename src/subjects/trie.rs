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
//!   invalidates: it bumps `generation` and patches the cached results it affects, so the
//!   cache never serves a stale result. A cache hit allocates nothing.
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
        // Cannot overflow: each count stands for a live subscription or queue member, and
        // the connection and subscription limits keep those far below 2^32.
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
        if self.entry_count == 0 {
            // Nothing can match: skip hashing the subject (publishers with no interest at
            // all, and the peer-interest trie of a core whose peers have no subscribers).
            return &self.empty;
        }
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

    /// Fan-out of the cached results, counted as nats-server's /subsz counts it (plain
    /// entries plus queue groups per subject): (largest, sum over `cache_len` subjects).
    pub fn cache_fanout(&self) -> (usize, usize) {
        self.cache.fanout()
    }

    /// Nodes in the trie: exactly one per distinct token prefix of the live patterns, since
    /// removal prunes every node left without entries and children. Walks the whole trie, so
    /// it is for tests and the fuzz target `trie` (which checks that count), not the data path.
    pub fn node_count(&self) -> usize {
        self.root.node_count()
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

    /// Nodes at and below this level; recursion depth is the longest pattern's token count.
    fn node_count(&self) -> usize {
        let wildcards = self.single_wildcard.iter().chain(&self.full_wildcard);
        self.literal
            .values()
            .chain(wildcards.map(|node| &**node))
            .map(|node| 1 + node.next.as_deref().map_or(0, Level::node_count))
            .sum()
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
    queues: Vec<CollectedGroup<'trie, V>>,
    queue_index_by_name: FastMap<&'trie [u8], usize>,
}

/// A queue group being collected: its name, borrowed from the trie, and its members.
type CollectedGroup<'trie, V> = (&'trie [u8], Vec<(V, u32)>);

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

#[cfg(test)]
mod tests {
    use super::super::cache::{ENTRIES_MAX, RESULT_ENTRIES_MAX};
    use super::*;

    type Members = Vec<(u32, u32)>;

    /// A result in comparable form: plain entries and each group's members sorted, groups
    /// sorted by name.
    pub(super) fn normalized(matches: &Matches<u32>) -> (Members, Vec<(Vec<u8>, Members)>) {
        let mut plain = matches.plain.clone();
        plain.sort_unstable();
        let mut queues: Vec<(Vec<u8>, Members)> = matches
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

    fn check(trie: &mut SubjectTrie<u32>, subject: &str, plain: &[u32], queues: &[(&str, &[u32])]) {
        let expected_plain: Members = plain.iter().map(|&value| (value, 1)).collect();
        let expected_queues: Vec<(&str, Members)> = queues
            .iter()
            .map(|&(name, members)| (name, members.iter().map(|&value| (value, 1)).collect()))
            .collect();
        check_counted(trie, subject, &expected_plain, &expected_queues);
    }

    /// Checks the result twice: the first call may build it, the second is a cache hit.
    fn check_counted(
        trie: &mut SubjectTrie<u32>,
        subject: &str,
        plain: &[(u32, u32)],
        queues: &[(&str, Members)],
    ) {
        let mut expected_plain = plain.to_vec();
        expected_plain.sort_unstable();
        let mut expected_queues: Vec<(Vec<u8>, Members)> = queues
            .iter()
            .map(|(name, members)| {
                let mut members = members.clone();
                members.sort_unstable();
                (name.as_bytes().to_vec(), members)
            })
            .collect();
        expected_queues.sort();
        for _ in 0..2 {
            let actual = normalized(trie.match_subject(subject.as_bytes()));
            assert_eq!(
                actual,
                (expected_plain.clone(), expected_queues.clone()),
                "{subject:?}"
            );
        }
    }

    fn insert(trie: &mut SubjectTrie<u32>, pattern: &str, queue: Option<&str>, value: u32) -> u32 {
        trie.insert(pattern.as_bytes(), queue.map(str::as_bytes), value)
            .expect("valid pattern")
    }

    /// Spec §14: subs `>`(1) `foo.*`(2) `foo.bar`(3).
    fn spec_wildcard_trie() -> SubjectTrie<u32> {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, ">", None, 1);
        insert(&mut trie, "foo.*", None, 2);
        insert(&mut trie, "foo.bar", None, 3);
        trie
    }

    #[test]
    fn published_star_reaches_only_wildcard_patterns() {
        let mut trie = spec_wildcard_trie();
        check(&mut trie, "foo.*", &[1, 2], &[]);
        check(&mut trie, "foo.bar", &[1, 2, 3], &[]);
    }

    #[test]
    fn published_full_wildcard_reaches_only_wildcard_patterns() {
        let mut trie = spec_wildcard_trie();
        check(&mut trie, "foo.>", &[1, 2], &[]);
        check(&mut trie, ">", &[1], &[]);
        check(&mut trie, "*", &[1], &[]);
    }

    #[test]
    fn subject_with_empty_token_matches_nothing() {
        let mut trie = spec_wildcard_trie();
        for subject in ["foo..bar", ".foo", "foo.", "", ".", ".."] {
            check(&mut trie, subject, &[], &[]);
        }
        assert_eq!(trie.cache_len(), 0, "invalid subjects are not cached");
    }

    #[test]
    fn full_wildcard_needs_at_least_one_token() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "foo.>", None, 1);
        check(&mut trie, "foo", &[], &[]);
        check(&mut trie, "foo.bar", &[1], &[]);
        check(&mut trie, "foo.bar.baz", &[1], &[]);
        check(&mut trie, "bar.foo", &[], &[]);
    }

    #[test]
    fn single_wildcard_matches_exactly_one_token() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "foo.*.bar", None, 1);
        insert(&mut trie, "*", None, 2);
        check(&mut trie, "foo.x.bar", &[1], &[]);
        check(&mut trie, "foo.bar", &[], &[]);
        check(&mut trie, "foo.x.y.bar", &[], &[]);
        check(&mut trie, "foo", &[2], &[]);
    }

    #[test]
    fn subjects_are_case_sensitive() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "Foo", None, 1);
        check(&mut trie, "foo", &[], &[]);
        check(&mut trie, "Foo", &[1], &[]);
    }

    #[test]
    fn partial_wildcard_tokens_are_literal() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "foo*", None, 1);
        insert(&mut trie, "*bar", None, 2);
        check(&mut trie, "foox", &[], &[]);
        check(&mut trie, "foo*", &[1], &[]);
        check(&mut trie, "xbar", &[], &[]);
        check(&mut trie, "*bar", &[2], &[]);
    }

    #[test]
    fn utf8_and_long_subjects_match() {
        let mut trie = SubjectTrie::new();
        let long = vec!["t"; 300].join(".");
        insert(&mut trie, "été", None, 1);
        insert(&mut trie, &long, None, 2);
        check(&mut trie, "été", &[1], &[]);
        check(&mut trie, &long, &[2], &[]);
    }

    #[test]
    fn invalid_patterns_are_rejected_without_change() {
        let mut trie = SubjectTrie::<u32>::new();
        for pattern in ["foo..bar", ".foo", "foo.", "foo.>.bar", ""] {
            assert_eq!(
                trie.insert(pattern.as_bytes(), None, 1),
                Err(InvalidSubject)
            );
            assert_eq!(trie.remove(pattern.as_bytes(), None, 1), None);
        }
        assert_eq!((trie.len(), trie.generation()), (0, 0));
    }

    /// Spec §14: `SUB foo g` and `SUB * g` are one group for `foo`.
    #[test]
    fn queue_group_spans_patterns() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "foo", Some("g"), 1);
        insert(&mut trie, "*", Some("g"), 2);
        check(&mut trie, "foo", &[], &[("g", &[1, 2])]);
        check(&mut trie, "bar", &[], &[("g", &[2])]);
    }

    /// Spec §14: one conn with `SUB foo 1`, `SUB foo g 2`, `SUB * 3`, `SUB > 4` gets four.
    #[test]
    fn plain_and_queue_subscriptions_together() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "foo", None, 1);
        insert(&mut trie, "foo", Some("g"), 2);
        insert(&mut trie, "*", None, 3);
        insert(&mut trie, ">", None, 4);
        check(&mut trie, "foo", &[1, 3, 4], &[("g", &[2])]);
    }

    /// Spec §14: 3 members of `grp`, a plain sub and a `grp2` member on `work`.
    #[test]
    fn distinct_queue_names_are_separate_groups() {
        let mut trie = SubjectTrie::new();
        for member in [1, 2, 3] {
            insert(&mut trie, "work", Some("grp"), member);
        }
        insert(&mut trie, "work", None, 9);
        insert(&mut trie, "work", Some("grp2"), 10);
        check(
            &mut trie,
            "work",
            &[9],
            &[("grp", &[1, 2, 3]), ("grp2", &[10])],
        );
    }

    #[test]
    fn queue_names_are_arbitrary_tokens() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "foo", Some("*"), 1);
        insert(&mut trie, "foo", Some(">"), 2);
        check(&mut trie, "foo", &[], &[("*", &[1]), (">", &[2])]);
    }

    #[test]
    fn counts_go_up_and_down_per_entry() {
        let mut trie = SubjectTrie::new();
        assert_eq!(insert(&mut trie, "foo", None, 7), 1);
        assert_eq!(insert(&mut trie, "foo", None, 7), 2);
        assert_eq!(insert(&mut trie, "foo", Some("g"), 7), 1);
        assert_eq!(trie.len(), 2);
        check_counted(&mut trie, "foo", &[(7, 2)], &[("g", vec![(7, 1)])]);
        assert_eq!(trie.remove(b"foo", None, 7), Some(1));
        check_counted(&mut trie, "foo", &[(7, 1)], &[("g", vec![(7, 1)])]);
        assert_eq!(trie.remove(b"foo", None, 7), Some(0));
        assert_eq!(trie.remove(b"foo", None, 7), None);
        assert_eq!(trie.len(), 1);
        check_counted(&mut trie, "foo", &[], &[("g", vec![(7, 1)])]);
        assert_eq!(trie.remove(b"foo", Some(b"g"), 7), Some(0));
        assert!(trie.is_empty());
        check(&mut trie, "foo", &[], &[]);
    }

    /// Remote interest: core 7 counted under two patterns appears once per pattern.
    #[test]
    fn value_appears_once_per_matching_pattern() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "foo", None, 7);
        insert(&mut trie, "foo", None, 7);
        insert(&mut trie, "*", None, 7);
        insert(&mut trie, "foo", Some("g"), 7);
        insert(&mut trie, ">", Some("g"), 7);
        insert(&mut trie, ">", Some("g"), 7);
        check_counted(
            &mut trie,
            "foo",
            &[(7, 2), (7, 1)],
            &[("g", vec![(7, 1), (7, 2)])],
        );
    }

    #[test]
    fn remove_of_missing_entries_changes_nothing() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "foo.bar", Some("g"), 1);
        let generation = trie.generation();
        assert_eq!(trie.remove(b"foo.bar", Some(b"g"), 2), None);
        assert_eq!(trie.remove(b"foo.bar", Some(b"h"), 1), None);
        assert_eq!(trie.remove(b"foo.bar", None, 1), None);
        assert_eq!(trie.remove(b"foo", Some(b"g"), 1), None);
        assert_eq!(trie.remove(b"foo.bar.baz", Some(b"g"), 1), None);
        assert_eq!(trie.remove(b"foo.*", Some(b"g"), 1), None);
        assert_eq!((trie.len(), trie.generation()), (1, generation));
        check(&mut trie, "foo.bar", &[], &[("g", &[1])]);
    }

    #[test]
    fn remove_prunes_every_empty_node() {
        let mut trie = SubjectTrie::new();
        let patterns = ["a.b.c", "a.b", "a.*.c", "a.>", ">", "*.*", "a.b.c.d.e"];
        for (value, pattern) in patterns.iter().enumerate() {
            insert(&mut trie, pattern, None, value as u32);
            insert(&mut trie, pattern, Some("q"), value as u32);
        }
        // One node per distinct prefix: a, a.b, a.b.c, a.b.c.d, a.b.c.d.e, a.*, a.*.c, a.>, >,
        // *, *.*.
        assert_eq!(trie.node_count(), 11);
        insert(&mut trie, "a.b", Some("q"), 99);
        assert_eq!(trie.remove(b"a.b", Some(b"q"), 99), Some(0));
        assert_eq!(trie.remove(b"a.b.c.d.e", None, 6), Some(0));
        assert_eq!(
            trie.node_count(),
            11,
            "the queue entry still holds a.b.c.d.e"
        );
        assert_eq!(trie.remove(b"a.b.c.d.e", Some(b"q"), 6), Some(0));
        assert_eq!(trie.node_count(), 9);
        assert!(trie.root.literal[&b"a"[..]]
            .next
            .as_ref()
            .unwrap()
            .literal
            .contains_key(&b"b"[..]));
        for (value, pattern) in patterns.iter().enumerate() {
            trie.remove(pattern.as_bytes(), None, value as u32);
            let already_removed = *pattern == "a.b.c.d.e";
            assert_eq!(
                trie.remove(pattern.as_bytes(), Some(b"q"), value as u32),
                (!already_removed).then_some(0)
            );
        }
        assert!(trie.is_empty());
        assert!(trie.root.is_empty(), "left behind: {:?}", trie.root);
        assert_eq!(trie.node_count(), 0);
    }

    #[test]
    fn generation_counts_changes() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "foo", None, 1);
        insert(&mut trie, "foo", None, 1);
        trie.remove(b"foo", None, 1);
        assert_eq!(trie.generation(), 3);
        trie.match_subject(b"foo");
        assert_eq!(trie.generation(), 3);
    }

    /// A counting global allocator cannot be installed for one unit test without counting
    /// every other test of the crate, so "a hit allocates nothing" is checked by identity:
    /// the hit returns the very same result (same address, same vector buffers), which can
    /// only be the stored one, not a rebuilt copy.
    #[test]
    fn cache_hit_returns_the_stored_result() {
        let mut trie = spec_wildcard_trie();
        insert(&mut trie, "foo.bar", Some("g"), 4);
        let first = trie.match_subject(b"foo.bar");
        let (first_result, first_plain) = (first as *const _, first.plain.as_ptr());
        let first_queues = first.queues.as_ptr();
        let second = trie.match_subject(b"foo.bar");
        assert_eq!(first_result, second as *const _);
        assert_eq!(first_plain, second.plain.as_ptr());
        assert_eq!(first_queues, second.queues.as_ptr());
        let stats = trie.stats();
        assert_eq!(
            (stats.matches, stats.cache_hits, trie.cache_len()),
            (2, 1, 1)
        );
    }

    #[test]
    fn cache_stays_bounded_under_unique_subjects() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "unique.*", None, 1);
        for number in 0..3 * ENTRIES_MAX {
            let subject = format!("unique.{number}");
            assert_eq!(trie.match_subject(subject.as_bytes()).plain, [(1, 1)]);
            assert!(trie.cache_len() <= ENTRIES_MAX);
        }
        assert!(trie.cache_len() > ENTRIES_MAX / 2);
        check(&mut trie, "unique.0", &[1], &[]);
        assert_eq!(trie.remove(b"unique.*", None, 1), Some(0));
        check(&mut trie, "unique.1", &[], &[]);
    }

    #[test]
    fn cache_is_patched_by_literal_and_wildcard_changes() {
        let mut trie = SubjectTrie::new();
        insert(&mut trie, "foo", None, 1);
        check(&mut trie, "foo", &[1], &[]);
        check(&mut trie, "bar", &[], &[]);
        insert(&mut trie, "*", Some("g"), 2);
        insert(&mut trie, "foo", Some("g"), 3);
        insert(&mut trie, "bar", None, 4);
        assert_eq!(trie.cache_len(), 2);
        check(&mut trie, "foo", &[1], &[("g", &[2, 3])]);
        check(&mut trie, "bar", &[4], &[("g", &[2])]);
        trie.remove(b"*", Some(b"g"), 2);
        trie.remove(b"foo", None, 1);
        check(&mut trie, "foo", &[], &[("g", &[3])]);
        check(&mut trie, "bar", &[4], &[]);
        let stats = trie.stats();
        assert_eq!(
            (stats.matches, stats.cache_hits),
            (12, 10),
            "patched entries stay cached"
        );
    }

    #[test]
    fn results_over_the_size_bound_are_not_cached() {
        let mut trie = SubjectTrie::new();
        for value in 0..RESULT_ENTRIES_MAX as u32 {
            insert(&mut trie, ">", None, value);
        }
        assert_eq!(trie.match_subject(b"a").entry_count(), RESULT_ENTRIES_MAX);
        assert_eq!(trie.cache_len(), 1);
        insert(&mut trie, "a", Some("g"), 0);
        assert_eq!(
            trie.cache_len(),
            0,
            "the patch that grew it past the bound evicted it"
        );
        assert_eq!(
            trie.match_subject(b"a").entry_count(),
            RESULT_ENTRIES_MAX + 1
        );
        assert_eq!(trie.match_subject(b"a").queues.len(), 1);
        assert_eq!(trie.cache_len(), 0);
    }
}

/// The trie and its cache against a naive model: a list of counted entries, matched one by
/// one with a token-vector matcher that shares no code with the trie.
#[cfg(test)]
mod property_tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    type Entry = (Vec<u8>, Option<Vec<u8>>, u32);
    type Normalized = (Vec<(u32, u32)>, Vec<(Vec<u8>, Vec<(u32, u32)>)>);

    #[derive(Debug, Clone)]
    enum Operation {
        Insert(usize, Option<usize>, u32),
        Remove(usize, Option<usize>, u32),
    }

    const QUEUES: [&[u8]; 2] = [b"q1", b"q2"];

    fn naive_matches(pattern: &[u8], subject: &[u8]) -> bool {
        let pattern: Vec<&[u8]> = pattern.split(|&byte| byte == b'.').collect();
        let subject: Vec<&[u8]> = subject.split(|&byte| byte == b'.').collect();
        if subject.iter().any(|token| token.is_empty()) {
            return false;
        }
        for (index, token) in pattern.iter().enumerate() {
            if *token == b">" {
                return subject.len() > index;
            }
            let Some(subject_token) = subject.get(index) else {
                return false;
            };
            if *token != b"*" && token != subject_token {
                return false;
            }
        }
        pattern.len() == subject.len()
    }

    fn naive_match(model: &HashMap<Entry, u32>, subject: &[u8]) -> Normalized {
        let mut plain = Vec::new();
        let mut queues: HashMap<Vec<u8>, Vec<(u32, u32)>> = HashMap::new();
        for ((pattern, queue, value), &count) in model {
            if !naive_matches(pattern, subject) {
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
        let mut queues: Vec<_> = queues.into_iter().collect();
        queues
            .iter_mut()
            .for_each(|(_, members)| members.sort_unstable());
        queues.sort();
        (plain, queues)
    }

    use super::tests::normalized;

    fn subject_strategy(tokens: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(tokens), 1..5)
            .prop_map(|tokens| tokens.join(".").into_bytes())
    }

    /// Valid patterns from a small alphabet, sometimes ending in `>`.
    fn pattern_strategy() -> impl Strategy<Value = Vec<u8>> {
        (subject_strategy(&["a", "b", "c", "*"]), any::<bool>()).prop_map(|(mut pattern, full)| {
            if full {
                pattern.extend_from_slice(b".>");
            }
            pattern
        })
    }

    /// Published subjects: literal tokens, `*` and `>` as literal strings, empty tokens.
    fn published_strategy() -> impl Strategy<Value = Vec<u8>> {
        subject_strategy(&["a", "b", "c", "*", ">", ""])
    }

    fn operation_strategy() -> impl Strategy<Value = Operation> {
        let queue = prop::option::of(0..QUEUES.len());
        (any::<bool>(), 0..8usize, queue, 0..3u32).prop_map(|(insert, pattern, queue, value)| {
            match insert {
                true => Operation::Insert(pattern, queue, value),
                false => Operation::Remove(pattern, queue, value),
            }
        })
    }

    fn apply(
        trie: &mut SubjectTrie<u32>,
        model: &mut HashMap<Entry, u32>,
        patterns: &[Vec<u8>],
        operation: &Operation,
    ) -> Result<(), TestCaseError> {
        match *operation {
            Operation::Insert(pattern, queue, value) => {
                let key = (
                    patterns[pattern].clone(),
                    queue.map(|q| QUEUES[q].to_vec()),
                    value,
                );
                let count = model.entry(key).or_insert(0);
                *count += 1;
                let inserted = trie.insert(&patterns[pattern], queue.map(|q| QUEUES[q]), value);
                prop_assert_eq!(inserted, Ok(*count));
            }
            Operation::Remove(pattern, queue, value) => {
                let key = (
                    patterns[pattern].clone(),
                    queue.map(|q| QUEUES[q].to_vec()),
                    value,
                );
                let expected = model.get_mut(&key).map(|count| {
                    *count -= 1;
                    *count
                });
                if expected == Some(0) {
                    model.remove(&key);
                }
                let removed = trie.remove(&patterns[pattern], queue.map(|q| QUEUES[q]), value);
                prop_assert_eq!(removed, expected);
            }
        }
        prop_assert_eq!(trie.len(), model.len());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn trie_agrees_with_naive_matcher(
            patterns in prop::collection::vec(pattern_strategy(), 8),
            subjects in prop::collection::vec(published_strategy(), 1..8),
            operations in prop::collection::vec(operation_strategy(), 1..60),
        ) {
            let mut trie = SubjectTrie::new();
            let mut model = HashMap::new();
            for operation in &operations {
                apply(&mut trie, &mut model, &patterns, operation)?;
                // Twice per subject: a miss or a patched hit, then certainly a hit.
                for subject in subjects.iter().chain(&subjects) {
                    let expected = naive_match(&model, subject);
                    prop_assert_eq!(normalized(trie.match_subject(subject)), expected, "{:?}",
                        String::from_utf8_lossy(subject));
                }
            }
            let entries: Vec<Entry> = model.keys().cloned().collect();
            for (pattern, queue, value) in entries {
                let count = model.remove(&(pattern.clone(), queue.clone(), value)).unwrap();
                for remaining in (0..count).rev() {
                    prop_assert_eq!(trie.remove(&pattern, queue.as_deref(), value), Some(remaining));
                }
            }
            prop_assert!(trie.is_empty());
            prop_assert!(trie.root.is_empty(), "empty nodes left behind");
            prop_assert_eq!(trie.node_count(), 0);
        }

        #[test]
        fn validation_agrees_with_token_rules(subject in published_strategy()) {
            let tokens: Vec<&[u8]> = subject.split(|&byte| byte == b'.').collect();
            let no_empty = tokens.iter().all(|token| !token.is_empty());
            let full_last = tokens.iter().rev().skip(1).all(|token| *token != b">");
            let no_wildcard = tokens.iter().all(|token| *token != b"*" && *token != b">");
            prop_assert_eq!(is_valid_pattern(&subject), no_empty && full_last);
            prop_assert_eq!(super::super::is_valid_literal(&subject), no_empty && no_wildcard);
        }
    }
}
