//! Bounded literal-subject → match-result cache, invalidated by the trie's generation.
