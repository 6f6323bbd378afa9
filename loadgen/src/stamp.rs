//! The 16-byte stamp at the front of every payload, and the clock that fills it.
//!
//! ```text
//! bytes 0..8   little-endian u64: publisher index << 48 | sequence number
//! bytes 8..16  little-endian u64: send time, nanoseconds since the run's shared epoch
//! ```
//! Payloads shorter than 16 bytes carry only the first word (8..15 bytes) or nothing (< 8);
//! the rest of a payload is filler that nobody reads.

use std::time::Instant;

/// Bytes a full stamp takes.
pub const STAMP_BYTES: usize = 16;

/// Bytes the sequence word takes; payloads shorter than this carry no stamp at all.
pub const SEQUENCE_BYTES: usize = 8;

/// Bits of the sequence word that hold the sequence; the rest hold the publisher index.
const SEQUENCE_BITS: u32 = 48;

/// Publishers a stamp can tell apart.
pub const PUBLISHERS_MAX: usize = 1 << (64 - SEQUENCE_BITS);

/// Messages one publisher can number.
pub const SEQUENCE_MAX: u64 = (1 << SEQUENCE_BITS) - 1;

/// What a stamp says, as far as the payload was long enough to carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub publisher: usize,
    pub sequence: u64,
    pub sent_ns: Option<u64>,
}

/// Writes as much of the stamp as fits into the front of `payload`.
pub fn write_stamp(payload: &mut [u8], publisher: usize, sequence: u64, sent_ns: u64) {
    debug_assert!(publisher < PUBLISHERS_MAX);
    debug_assert!(sequence <= SEQUENCE_MAX);
    let word = ((publisher as u64) << SEQUENCE_BITS) | sequence;
    if payload.len() >= STAMP_BYTES {
        payload[..8].copy_from_slice(&word.to_le_bytes());
        payload[8..16].copy_from_slice(&sent_ns.to_le_bytes());
    } else if payload.len() >= SEQUENCE_BYTES {
        payload[..8].copy_from_slice(&word.to_le_bytes());
    }
}

/// Reads the stamp back; `None` when the payload is too short to carry one.
pub fn read_stamp(payload: &[u8]) -> Option<Stamp> {
    let word = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let sent_ns = payload
        .get(8..16)
        .map(|bytes| u64::from_le_bytes(bytes.try_into().expect("8 bytes")));
    Some(Stamp {
        publisher: (word >> SEQUENCE_BITS) as usize,
        sequence: word & SEQUENCE_MAX,
        sent_ns,
    })
}

/// Monotonic nanoseconds since an epoch shared by every thread of one run.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    pub fn start() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The instant `ns` nanoseconds after the epoch.
    pub fn instant_at(&self, ns: u64) -> Instant {
        self.epoch + std::time::Duration::from_nanos(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_stamp_round_trips() {
        let mut payload = [0u8; 16];
        write_stamp(&mut payload, 7, 123_456, 999);
        let expected = Stamp {
            publisher: 7,
            sequence: 123_456,
            sent_ns: Some(999),
        };
        assert_eq!(read_stamp(&payload), Some(expected));
    }

    #[test]
    fn short_payloads_carry_what_fits() {
        let mut payload = [0u8; 12];
        write_stamp(&mut payload, PUBLISHERS_MAX - 1, SEQUENCE_MAX, 5);
        let stamp = read_stamp(&payload).unwrap();
        assert_eq!(stamp.publisher, PUBLISHERS_MAX - 1);
        assert_eq!(stamp.sequence, SEQUENCE_MAX);
        assert_eq!(stamp.sent_ns, None);
        let mut tiny = [0u8; 7];
        write_stamp(&mut tiny, 1, 1, 1);
        assert_eq!(tiny, [0; 7]);
        assert_eq!(read_stamp(&tiny), None);
    }
}
