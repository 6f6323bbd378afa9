//! Subjects and subscriptions as pure data structures: validation, the subscription trie with
//! queue groups, and its bounded match cache. No IO, nothing of ours imported.
//!
//! Semantics follow nats-server 2.9.10 (spec §5, §10).

pub mod cache;
pub mod subject;
pub mod trie;

pub use subject::{is_valid_literal, is_valid_pattern};
pub use trie::{InvalidSubject, Matches, QueueMatch, SubjectTrie};
