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
//!   name across all matching patterns (one `QueueMatch` per distinct name).
//! - Matching is cached per literal subject (bounded, see `cache.rs`); any insert or remove
//!   invalidates. A cache hit allocates nothing.

use std::hash::Hash;

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

/// Members of one queue group that match a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMatch<V> {
    pub name: Box<[u8]>,
    /// (value, count); the count weighs the member when one is chosen.
    pub members: Vec<(V, u32)>,
}

/// The trie. `V` is small and `Copy` (a packed subscription key or a core index).
#[derive(Debug)]
pub struct SubjectTrie<V> {
    _v: std::marker::PhantomData<V>,
}

impl<V: Copy + Eq + Hash> Default for SubjectTrie<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Copy + Eq + Hash> SubjectTrie<V> {
    pub fn new() -> Self {
        todo!("subjects helper")
    }

    /// Adds one to the count of (pattern, queue, value); returns the new count.
    pub fn insert(
        &mut self,
        pattern: &[u8],
        queue: Option<&[u8]>,
        value: V,
    ) -> Result<u32, InvalidSubject> {
        let _ = (pattern, queue, value);
        todo!("subjects helper")
    }

    /// Subtracts one from the count of (pattern, queue, value); returns the remaining count,
    /// or `None` if the entry did not exist.
    pub fn remove(&mut self, pattern: &[u8], queue: Option<&[u8]>, value: V) -> Option<u32> {
        let _ = (pattern, queue, value);
        todo!("subjects helper")
    }

    /// Everything matching the published `subject`. Its tokens are literal: a published `*`
    /// or `>` token is the string `*`/`>`, so `foo.*` is matched by patterns `foo.*`, `foo.>`
    /// and `>` but not by `foo.bar` (spec §1.3). A subject with an empty token matches nothing.
    pub fn match_subject(&mut self, subject: &[u8]) -> &Matches<V> {
        let _ = subject;
        todo!("subjects helper")
    }

    /// Distinct (pattern, queue, value) entries.
    pub fn len(&self) -> usize {
        todo!("subjects helper")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
