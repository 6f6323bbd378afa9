//! Per-publisher sequence accounting: which messages a receiver has seen, and how.
//!
//! A bitset per publisher records every sequence number seen, so loss, duplication and
//! reordering are exact, not estimated. The bitsets grow as sequences arrive (amortized, not
//! per message). Trackers of one queue group are merged at the end: a message two members
//! both received counts as duplicated.

/// Counts for one receiver (or a merged group of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every message delivered, including duplicates and corrupted ones.
    pub received: u64,
    /// Distinct (publisher, sequence) pairs seen.
    pub unique: u64,
    pub duplicated: u64,
    /// New messages that arrived after a higher sequence of the same publisher.
    pub out_of_order: u64,
    /// Wrong payload length, or a stamp naming an unknown publisher.
    pub corrupted: u64,
    /// Messages too short to carry a sequence number (counted, never identified).
    pub unstamped: u64,
}

#[derive(Debug, Clone, Default)]
struct PublisherSeen {
    bits: Vec<u64>,
    /// One past the highest sequence seen; a new sequence below it is out of order.
    next_expected: u64,
    unique: u64,
}

/// What one receiver has seen, for `publisher_count` publishers.
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    publishers: Vec<PublisherSeen>,
    counts: Counts,
}

impl SequenceTracker {
    pub fn new(publisher_count: usize) -> Self {
        assert!(publisher_count > 0);
        SequenceTracker {
            publishers: vec![PublisherSeen::default(); publisher_count],
            counts: Counts::default(),
        }
    }

    /// Records a stamped message; returns true when it was new.
    pub fn record(&mut self, publisher: usize, sequence: u64) -> bool {
        self.counts.received += 1;
        let Some(seen) = self.publishers.get_mut(publisher) else {
            self.counts.corrupted += 1;
            return false;
        };
        let word = (sequence / 64) as usize;
        let bit = 1u64 << (sequence % 64);
        if word >= seen.bits.len() {
            seen.bits.resize((word + 1).max(seen.bits.len() * 2), 0);
        }
        if seen.bits[word] & bit != 0 {
            self.counts.duplicated += 1;
            return false;
        }
        seen.bits[word] |= bit;
        seen.unique += 1;
        self.counts.unique += 1;
        if sequence < seen.next_expected {
            self.counts.out_of_order += 1;
        } else {
            seen.next_expected = sequence + 1;
        }
        true
    }

    /// Records a message too short to carry a stamp.
    pub fn record_unstamped(&mut self) {
        self.counts.received += 1;
        self.counts.unstamped += 1;
    }

    /// Records a message whose payload had the wrong length.
    pub fn record_corrupted(&mut self) {
        self.counts.received += 1;
        self.counts.corrupted += 1;
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Messages seen as new, stamped or not: what "all delivered" is compared against.
    pub fn delivered(&self) -> u64 {
        self.counts.unique + self.counts.unstamped
    }

    /// Messages missing, given how many each publisher sent. Unstamped messages can only
    /// be counted: a shortfall is loss, an excess is duplication (see `duplicated`).
    pub fn lost(&self, sent_per_publisher: &[u64]) -> u64 {
        assert_eq!(sent_per_publisher.len(), self.publishers.len());
        if self.counts.unstamped > 0 {
            let sent: u64 = sent_per_publisher.iter().sum();
            return sent.saturating_sub(self.counts.unstamped);
        }
        self.publishers
            .iter()
            .zip(sent_per_publisher)
            .map(|(seen, sent)| sent.saturating_sub(seen.unique))
            .sum()
    }

    /// Duplicates seen, plus (for unstamped messages) any excess over what was sent.
    pub fn duplicated(&self, sent_per_publisher: &[u64]) -> u64 {
        let sent: u64 = sent_per_publisher.iter().sum();
        self.counts.duplicated + self.counts.unstamped.saturating_sub(sent)
    }

    /// Folds another member of the same queue group into this one.
    pub fn merge(&mut self, other: &SequenceTracker) {
        assert_eq!(self.publishers.len(), other.publishers.len());
        for (mine, theirs) in self.publishers.iter_mut().zip(&other.publishers) {
            if mine.bits.len() < theirs.bits.len() {
                mine.bits.resize(theirs.bits.len(), 0);
            }
            let mut both = 0u64;
            for (a, b) in mine.bits.iter_mut().zip(&theirs.bits) {
                both += u64::from((*a & *b).count_ones());
                *a |= *b;
            }
            mine.unique = mine.unique + theirs.unique - both;
            mine.next_expected = mine.next_expected.max(theirs.next_expected);
            self.counts.duplicated += both;
        }
        self.counts.received += other.counts.received;
        self.counts.unique = self.publishers.iter().map(|seen| seen.unique).sum();
        self.counts.duplicated += other.counts.duplicated;
        self.counts.out_of_order += other.counts.out_of_order;
        self.counts.corrupted += other.counts.corrupted;
        self.counts.unstamped += other.counts.unstamped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_delivery_is_clean() {
        let mut tracker = SequenceTracker::new(2);
        for sequence in 0..1000 {
            assert!(tracker.record(0, sequence));
            assert!(tracker.record(1, sequence));
        }
        let counts = tracker.counts();
        assert_eq!(counts.received, 2000);
        assert_eq!(counts.unique, 2000);
        assert_eq!(
            counts.duplicated + counts.out_of_order + counts.corrupted,
            0
        );
        assert_eq!(tracker.lost(&[1000, 1000]), 0);
        assert_eq!(tracker.lost(&[1000, 1003]), 3);
    }

    #[test]
    fn loss_duplication_and_reordering_are_exact() {
        let mut tracker = SequenceTracker::new(1);
        // 0..100 without multiples of 10 (10 lost), 5 and 7 twice, 99 before 98.
        for sequence in (0..98).filter(|s| s % 10 != 0) {
            tracker.record(0, sequence);
        }
        tracker.record(0, 99);
        tracker.record(0, 98);
        tracker.record(0, 5);
        tracker.record(0, 7);
        let counts = tracker.counts();
        assert_eq!(counts.received, 88 + 2 + 2);
        assert_eq!(counts.unique, 90);
        assert_eq!(counts.duplicated, 2);
        assert_eq!(counts.out_of_order, 1);
        assert_eq!(tracker.lost(&[100]), 10);
        assert_eq!(tracker.duplicated(&[100]), 2);
    }

    #[test]
    fn unknown_publisher_is_corrupted() {
        let mut tracker = SequenceTracker::new(1);
        assert!(!tracker.record(3, 0));
        tracker.record_corrupted();
        assert_eq!(tracker.counts().corrupted, 2);
        assert_eq!(tracker.counts().received, 2);
        assert_eq!(tracker.lost(&[1]), 1);
    }

    #[test]
    fn queue_members_merge_with_cross_member_duplicates() {
        let mut first = SequenceTracker::new(1);
        let mut second = SequenceTracker::new(1);
        for sequence in 0..600 {
            if sequence % 2 == 0 {
                first.record(0, sequence);
            } else {
                second.record(0, sequence);
            }
        }
        // Sequence 10 reached both members; 1000..1004 are missing from both.
        second.record(0, 10);
        first.merge(&second);
        let counts = first.counts();
        assert_eq!(counts.received, 601);
        assert_eq!(counts.unique, 600);
        assert_eq!(counts.duplicated, 1);
        assert_eq!(first.lost(&[604]), 4);
    }

    #[test]
    fn unstamped_messages_are_counted_only() {
        let mut tracker = SequenceTracker::new(2);
        for _ in 0..7 {
            tracker.record_unstamped();
        }
        assert_eq!(tracker.delivered(), 7);
        assert_eq!(tracker.lost(&[5, 5]), 3);
        assert_eq!(tracker.duplicated(&[5, 5]), 0);
        assert_eq!(tracker.lost(&[3, 2]), 0);
        assert_eq!(tracker.duplicated(&[3, 2]), 2);
    }
}
