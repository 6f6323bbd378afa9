//! Bounded literal-subject → match-result cache, kept exact by patching it on every change.
//!
//! Instead of dropping everything on each insert or remove (the trie's generation counter
//! still counts those changes for callers' own caches), the change is applied to the cached
//! results it affects, as nats-server does: a literal pattern touches at most its own key; a
//! wildcard pattern is tested against every cached subject (at most `ENTRIES_MAX`). So a
//! stream of `_INBOX.<unique>` subscriptions does not empty the cache for everyone else.
//!
//! Results live in a slot vector indexed through the map, so a hit is one hash lookup that
//! hands back a reference and allocates nothing.

use super::subject::{has_wildcard, pattern_matches};
use super::trie::{Matches, QueueMatch};
use super::FastMap;

/// Most subjects cached at once. When a new subject would exceed it, an arbitrary half of
/// the entries (every other one in map order) is evicted first, so a stream of unique
/// subjects costs one eviction pass per `ENTRIES_MAX / 2` misses.
pub const ENTRIES_MAX: usize = 1024;

/// Largest result cached, in plain entries plus queue members. A larger result is rebuilt on
/// every match (its fan-out costs more than the rebuild) and, if a patch grows a cached one
/// past it, that entry is evicted. Without it `ENTRIES_MAX` subjects matching the same
/// `>` subscriptions would hold `ENTRIES_MAX` copies of them.
pub const RESULT_ENTRIES_MAX: usize = 4096;

#[derive(Debug)]
pub(crate) struct MatchCache<V> {
    slot_by_subject: FastMap<Box<[u8]>, usize>,
    /// Indexed by slot; a free slot holds an empty result.
    results: Vec<Matches<V>>,
    free_slots: Vec<usize>,
}

impl<V: Copy + Eq> MatchCache<V> {
    pub(crate) fn new() -> Self {
        MatchCache {
            slot_by_subject: FastMap::default(),
            results: Vec::new(),
            free_slots: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slot_by_subject.len()
    }

    /// (largest, total) of plain entries plus queue groups over the cached results.
    pub(crate) fn fanout(&self) -> (usize, usize) {
        self.slot_by_subject
            .values()
            .map(|&slot| self.results[slot].plain.len() + self.results[slot].queues.len())
            .fold((0, 0), |(largest, total), fanout| {
                (largest.max(fanout), total + fanout)
            })
    }

    #[inline]
    pub(crate) fn lookup(&self, subject: &[u8]) -> Option<usize> {
        self.slot_by_subject.get(subject).copied()
    }

    #[inline]
    pub(crate) fn result(&self, slot: usize) -> &Matches<V> {
        &self.results[slot]
    }

    /// Caches `matches` for `subject` and returns its slot, or hands `matches` back if it is
    /// larger than `RESULT_ENTRIES_MAX`.
    pub(crate) fn store(
        &mut self,
        subject: &[u8],
        matches: Matches<V>,
    ) -> Result<usize, Matches<V>> {
        debug_assert!(self.lookup(subject).is_none());
        if matches.entry_count() > RESULT_ENTRIES_MAX {
            return Err(matches);
        }
        if self.len() >= ENTRIES_MAX {
            self.evict_half();
        }
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.results[slot] = matches;
                slot
            }
            None => {
                self.results.push(matches);
                self.results.len() - 1
            }
        };
        self.slot_by_subject.insert(Box::from(subject), slot);
        debug_assert!(self.len() <= ENTRIES_MAX);
        Ok(slot)
    }

    fn evict_half(&mut self) {
        let mut keep = false;
        let (results, free_slots) = (&mut self.results, &mut self.free_slots);
        self.slot_by_subject.retain(|_, slot| {
            keep = !keep;
            if !keep {
                results[*slot] = Matches::default();
                free_slots.push(*slot);
            }
            keep
        });
        debug_assert!(self.len() <= ENTRIES_MAX / 2);
    }

    /// Applies a count change of (pattern, queue, value) from `count_before` to `count_after`
    /// (one of them may be 0: the entry appears or disappears) to every cached subject the
    /// pattern matches.
    pub(crate) fn patch(
        &mut self,
        pattern: &[u8],
        queue: Option<&[u8]>,
        value: V,
        count_before: u32,
        count_after: u32,
    ) {
        let change = CountChange {
            queue,
            value,
            count_before,
            count_after,
        };
        if self.slot_by_subject.is_empty() {
            return;
        }
        if !has_wildcard(pattern) {
            let Some(slot) = self.lookup(pattern) else {
                return;
            };
            if !change.apply(&mut self.results[slot]) {
                self.slot_by_subject.remove(pattern);
                self.free(slot);
            }
            return;
        }
        let (results, free_slots) = (&mut self.results, &mut self.free_slots);
        self.slot_by_subject.retain(|subject, slot| {
            if !pattern_matches(pattern, subject) || change.apply(&mut results[*slot]) {
                return true;
            }
            results[*slot] = Matches::default();
            free_slots.push(*slot);
            false
        });
    }

    fn free(&mut self, slot: usize) {
        self.results[slot] = Matches::default();
        self.free_slots.push(slot);
    }
}

/// One entry's count going from `count_before` to `count_after`.
struct CountChange<'a, V> {
    queue: Option<&'a [u8]>,
    value: V,
    count_before: u32,
    count_after: u32,
}

impl<V: Copy + Eq> CountChange<'_, V> {
    /// Patches one cached result; false if it grew past `RESULT_ENTRIES_MAX` and must go.
    fn apply(&self, matches: &mut Matches<V>) -> bool {
        match self.queue {
            None => self.apply_to_members(&mut matches.plain),
            Some(name) => self.apply_to_queue(&mut matches.queues, name),
        }
        self.count_before != 0 || matches.entry_count() <= RESULT_ENTRIES_MAX
    }

    fn apply_to_queue(&self, queues: &mut Vec<QueueMatch<V>>, name: &[u8]) {
        match queues.iter().position(|group| &*group.name == name) {
            Some(index) => {
                self.apply_to_members(&mut queues[index].members);
                if queues[index].members.is_empty() {
                    queues.swap_remove(index);
                }
            }
            None => {
                debug_assert_eq!(self.count_before, 0);
                let members = vec![(self.value, self.count_after)];
                queues.push(QueueMatch {
                    name: Box::from(name),
                    members,
                });
            }
        }
    }

    /// Entries of one value from different patterns are interchangeable in a result (only
    /// the multiset counts), so any entry holding the old count stands for this pattern's.
    fn apply_to_members(&self, members: &mut Vec<(V, u32)>) {
        if self.count_before == 0 {
            members.push((self.value, self.count_after));
            return;
        }
        let index = members
            .iter()
            .position(|&(value, count)| value == self.value && count == self.count_before)
            .expect("a cached result holds every entry its subject matches");
        if self.count_after == 0 {
            members.swap_remove(index);
        } else {
            members[index].1 = self.count_after;
        }
    }
}
