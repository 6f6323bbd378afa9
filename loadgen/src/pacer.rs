//! Open-loop pacing: when each message is due, so latency can be measured from the
//! intended send time rather than the actual one (no coordinated omission).

/// A fixed rate, as an offset from the start of sending.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    interval_ns: f64,
}

impl Pacer {
    pub fn new(messages_per_sec: f64) -> Self {
        assert!(messages_per_sec > 0.0 && messages_per_sec.is_finite());
        Pacer {
            interval_ns: 1e9 / messages_per_sec,
        }
    }

    /// Nanoseconds after the start at which message `sequence` is due.
    pub fn offset_ns(&self, sequence: u64) -> u64 {
        (sequence as f64 * self.interval_ns) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_rate() {
        let pacer = Pacer::new(1000.0);
        assert_eq!(pacer.offset_ns(0), 0);
        assert_eq!(pacer.offset_ns(1), 1_000_000);
        assert_eq!(pacer.offset_ns(2500), 2_500_000_000);
    }
}
