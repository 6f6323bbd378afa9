//! Per-core timers at millisecond resolution: a binary min-heap of deadlines with lazy
//! cancellation (a cancelled timer's slab entry is removed; its heap entry is skipped when
//! it surfaces, or dropped when cancelled entries come to outnumber live ones).
//!
//! Why a heap and not a hashed wheel: the loop needs "time of the next deadline" for its
//! timed wait on every turn; the heap answers in O(1) while a wheel must scan empty slots or
//! keep a second structure. Our timers are few per connection (ping, auth, write-deadline
//! scan) so O(log n) inserts cost less than a wheel's per-tick work while idle, and an idle
//! core with no timers never wakes up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use slab::Slab;

/// What a timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerTarget {
    /// The handler's `on_timer(token)`.
    Handler(u64),
    /// Runtime-internal: re-arm the accept after EMFILE/ENFILE.
    AcceptBackoff,
    /// Runtime-internal: look for sends past the write deadline.
    WriteDeadlineScan,
    /// Runtime-internal: the shutdown flush period is over.
    ShutdownFlushEnd,
    /// Runtime-internal: a dialled connection's connect timeout.
    ConnectDeadline(super::ConnId),
}

struct Timer {
    sequence: u32,
    target: TimerTarget,
}

/// Heap entry: (deadline in ms since `epoch`, sequence for FIFO among equal deadlines, slot).
type HeapEntry = Reverse<(u64, u64, usize)>;

/// Below this many heap entries cancelled ones are left to surface on their own; above it
/// the heap is rebuilt without them once they outnumber the live timers. A connection's
/// keep-alive timer is cancelled long before it is due, so under connection churn cancelled
/// entries would otherwise pile up for a whole ping interval (2 min), and the heap's
/// capacity with them. Rebuilding at twice the live count costs O(1) per cancel, amortized.
const COMPACT_ENTRIES_MIN: usize = 1024;

pub struct Timers {
    epoch: Instant,
    heap: BinaryHeap<HeapEntry>,
    live: Slab<Timer>,
    sequence_next: u64,
}

impl Timers {
    pub fn new(epoch: Instant) -> Timers {
        Timers {
            epoch,
            heap: BinaryHeap::new(),
            live: Slab::new(),
            sequence_next: 0,
        }
    }

    /// Schedules `target` at `at` (rounded up to the next millisecond, never early).
    /// The id is `sequence << 32 | slot`.
    pub fn set(&mut self, at: Instant, target: TimerTarget) -> u64 {
        let deadline_ms = self.deadline_ms(at);
        let sequence = self.sequence_next;
        self.sequence_next += 1;
        let slot = self.live.insert(Timer {
            sequence: sequence as u32,
            target,
        });
        assert!(slot <= u32::MAX as usize, "timer slab beyond 2^32 entries");
        self.heap.push(Reverse((deadline_ms, sequence, slot)));
        ((sequence as u32 as u64) << 32) | slot as u64
    }

    /// Cancels the timer `id`; idempotent (a fired or cancelled id is ignored).
    pub fn cancel(&mut self, id: u64) {
        let slot = (id as u32) as usize;
        let sequence = (id >> 32) as u32;
        if self
            .live
            .get(slot)
            .is_some_and(|timer| timer.sequence == sequence)
        {
            self.live.remove(slot);
            self.compact_if_mostly_cancelled();
        }
    }

    fn compact_if_mostly_cancelled(&mut self) {
        if self.heap.len() <= COMPACT_ENTRIES_MIN || self.heap.len() <= 2 * self.live.len() {
            return;
        }
        let live = &self.live;
        self.heap.retain(|&Reverse((_, sequence, slot))| {
            live.get(slot)
                .is_some_and(|timer| timer.sequence == sequence as u32)
        });
        debug_assert_eq!(self.heap.len(), self.live.len());
    }

    /// Moves every timer due at `now` into `fired`, earliest first.
    pub fn expire(&mut self, now: Instant, fired: &mut Vec<TimerTarget>) {
        let now_ms = self.elapsed_ms(now);
        while let Some(&Reverse((deadline_ms, sequence, slot))) = self.heap.peek() {
            if deadline_ms > now_ms {
                break;
            }
            self.heap.pop();
            let is_live = self
                .live
                .get(slot)
                .is_some_and(|timer| timer.sequence == sequence as u32);
            if is_live {
                fired.push(self.live.remove(slot).target);
            }
        }
    }

    /// How long until the earliest live timer is due (zero if overdue), or None.
    pub fn next_wait(&mut self, now: Instant) -> Option<Duration> {
        while let Some(&Reverse((deadline_ms, sequence, slot))) = self.heap.peek() {
            let is_live = self
                .live
                .get(slot)
                .is_some_and(|timer| timer.sequence == sequence as u32);
            if !is_live {
                self.heap.pop();
                continue;
            }
            let due = self.epoch + Duration::from_millis(deadline_ms);
            return Some(due.saturating_duration_since(now));
        }
        None
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    #[cfg(test)]
    fn heap_entries(&self) -> usize {
        self.heap.len()
    }

    fn deadline_ms(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch);
        let ms = since.as_millis() as u64;
        if since > Duration::from_millis(ms) {
            ms + 1
        } else {
            ms
        }
    }

    fn elapsed_ms(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire(timers: &mut Timers, now: Instant) -> Vec<u64> {
        let mut fired = Vec::new();
        timers.expire(now, &mut fired);
        fired
            .into_iter()
            .map(|target| match target {
                TimerTarget::Handler(token) => token,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn fire_in_deadline_order_then_insertion_order() {
        let epoch = Instant::now();
        let mut timers = Timers::new(epoch);
        let ms = Duration::from_millis;
        timers.set(epoch + ms(30), TimerTarget::Handler(3));
        timers.set(epoch + ms(10), TimerTarget::Handler(1));
        timers.set(epoch + ms(20), TimerTarget::Handler(2));
        timers.set(epoch + ms(20), TimerTarget::Handler(22));
        assert_eq!(timers.next_wait(epoch), Some(ms(10)));
        assert_eq!(fire(&mut timers, epoch + ms(9)), Vec::<u64>::new());
        assert_eq!(fire(&mut timers, epoch + ms(25)), vec![1, 2, 22]);
        assert_eq!(fire(&mut timers, epoch + ms(30)), vec![3]);
        assert!(timers.is_empty());
        assert_eq!(timers.next_wait(epoch), None);
    }

    #[test]
    fn cancelled_timers_never_fire_and_cancel_is_idempotent() {
        let epoch = Instant::now();
        let mut timers = Timers::new(epoch);
        let ms = Duration::from_millis;
        let first = timers.set(epoch + ms(5), TimerTarget::Handler(1));
        let second = timers.set(epoch + ms(6), TimerTarget::Handler(2));
        timers.cancel(first);
        timers.cancel(first);
        assert_eq!(timers.next_wait(epoch), Some(ms(6)));
        assert_eq!(fire(&mut timers, epoch + ms(10)), vec![2]);
        // The slot of `second` is reused; its old id must not cancel the new timer.
        timers.cancel(second);
        let third = timers.set(epoch + ms(20), TimerTarget::Handler(3));
        timers.cancel(second);
        assert_eq!(fire(&mut timers, epoch + ms(20)), vec![3]);
        assert_ne!(second, third);
    }

    #[test]
    fn cancelled_entries_do_not_pile_up_under_churn() {
        let epoch = Instant::now();
        let mut timers = Timers::new(epoch);
        let minutes = Duration::from_secs(120);
        let kept: Vec<u64> = (0..100)
            .map(|token| timers.set(epoch + minutes, TimerTarget::Handler(token)))
            .collect();
        // Connection churn: a far keep-alive timer set and cancelled, 100,000 times.
        for token in 0..100_000 {
            let id = timers.set(epoch + minutes, TimerTarget::Handler(1000 + token));
            timers.cancel(id);
            assert!(timers.heap_entries() <= COMPACT_ENTRIES_MIN + 1);
        }
        timers.cancel(kept[0]);
        let mut fired = fire(&mut timers, epoch + minutes);
        fired.sort_unstable();
        assert_eq!(fired, (1..100).collect::<Vec<u64>>());
        assert!(timers.is_empty());
    }

    #[test]
    fn never_fires_early_on_sub_millisecond_deadlines() {
        let epoch = Instant::now();
        let mut timers = Timers::new(epoch);
        let at = epoch + Duration::from_micros(1500);
        timers.set(at, TimerTarget::Handler(7));
        assert_eq!(
            fire(&mut timers, epoch + Duration::from_micros(1999)),
            Vec::<u64>::new()
        );
        assert_eq!(fire(&mut timers, epoch + Duration::from_millis(2)), vec![7]);
    }
}
