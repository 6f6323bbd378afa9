//! Subjects and subscriptions as pure data structures: validation, the subscription trie with
//! queue groups, and its bounded match cache. No IO, nothing of ours imported.
//!
//! Semantics follow nats-server 2.9.10 (spec §5, §10).

pub mod cache;
pub mod subject;
pub mod trie;

pub use subject::{is_valid_literal, is_valid_pattern};
pub use trie::{InvalidSubject, Matches, QueueMatch, SubjectTrie, TrieStats};

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hash map with [`FastHasher`]: the trie and cache hash a token or subject per lookup on
/// the publish path, where std's SipHash costs more than the rest of a cache hit.
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// FxHash-style word-at-a-time hasher with a folded-multiply finish.
///
/// Each 8-byte word is mixed with rotate, xor and multiply (as rustc's FxHasher). Plain Fx
/// leaves the low bits, which pick the bucket, blind to the high bytes of the last word, so
/// tokens such as `sub00001`/`sub00002` would share a bucket; the 128-bit folded multiply in
/// `finish` spreads every input bit over the whole output.
///
/// Not keyed: a client that crafts colliding tokens can slow its own account's lookups
/// (HashDoS). Accepted for now, as nats-server's Go maps are the only comparison point.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher {
    state: u64,
}

/// Odd multiplier from rustc's FxHasher (64-bit).
const WORD_MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;
/// Odd multiplier for the finishing fold (from the splitmix64 finalizer).
const FINISH_MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl FastHasher {
    #[inline]
    fn add_word(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(WORD_MULTIPLIER);
    }
}

/// Packs the 1 to 7 bytes after the last whole word into one word with fixed-size reads
/// (two overlapping 4-byte reads, or first/middle/last byte), avoiding a variable-length
/// copy. Distinct tails of one length give distinct words, and `Hash for [u8]` writes the
/// length first, so no collision is added.
#[inline]
fn tail_word(tail: &[u8]) -> u64 {
    debug_assert!((1..8).contains(&tail.len()));
    let length = tail.len();
    if length >= 4 {
        let mut low = [0u8; 4];
        let mut high = [0u8; 4];
        low.copy_from_slice(&tail[..4]);
        high.copy_from_slice(&tail[length - 4..]);
        u64::from(u32::from_le_bytes(low)) | (u64::from(u32::from_le_bytes(high)) << 32)
    } else {
        let (first, middle, last) = (tail[0], tail[length / 2], tail[length - 1]);
        u64::from(first) | (u64::from(middle) << 8) | (u64::from(last) << 16)
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut word_bytes = [0u8; 8];
            word_bytes.copy_from_slice(word);
            self.add_word(u64::from_le_bytes(word_bytes));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            self.add_word(tail_word(tail));
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.add_word(u64::from(value));
    }

    #[inline]
    fn write_u16(&mut self, value: u16) {
        self.add_word(u64::from(value));
    }

    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.add_word(u64::from(value));
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add_word(value);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add_word(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let product = u128::from(self.state) * u128::from(FINISH_MULTIPLIER);
        (product as u64) ^ ((product >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    /// Low bits pick the bucket: numbered tokens that differ only in their last byte of a
    /// word must not share them.
    #[test]
    fn fast_hasher_spreads_high_bytes_into_low_bits() {
        let build = BuildHasherDefault::<FastHasher>::default();
        let low_bits: HashSet<u64> = (0..256u32)
            .map(|number| build.hash_one(format!("sub{number:05}").as_bytes()) & 0xff)
            .collect();
        assert!(
            low_bits.len() > 128,
            "only {} distinct bucket indexes",
            low_bits.len()
        );
    }

    /// Every string over a small alphabet of lengths 0 to 10 (each tail length, with and
    /// without a whole word before it) hashes differently.
    #[test]
    fn fast_hasher_has_no_collisions_on_short_strings() {
        let build = BuildHasherDefault::<FastHasher>::default();
        let mut strings: Vec<Vec<u8>> = vec![Vec::new()];
        let mut hashes = HashSet::new();
        for _ in 0..11 {
            for string in &strings {
                assert!(
                    hashes.insert(build.hash_one(&string[..])),
                    "collision on {string:?}"
                );
            }
            strings = strings
                .iter()
                .flat_map(|string| [b'a', b'b', b'.'].map(|byte| [&string[..], &[byte]].concat()))
                .collect();
            strings.retain(|string| string.len() <= 4 || string.starts_with(b"ab.a"));
        }
    }
}
