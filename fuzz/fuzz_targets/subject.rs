//! Subject and pattern validation, and the token-by-token matcher the match cache uses,
//! against the reference rules in `ringmq_fuzz` (spec §5).
//!
//! Input: `[pattern length, pattern..., subject...]`. Besides the random subject, a subject
//! built from the pattern (each `*` and `>` replaced by tokens from the input) is checked, so
//! that matches, not only misses, are common.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmq::subjects::subject::{has_empty_token, pattern_matches};
use ringmq::subjects::{is_valid_literal, is_valid_pattern};
use ringmq_fuzz as reference;

/// Checks every rule on one byte string, taken as a pattern and as a published subject.
fn check_validation(subject: &[u8]) {
    let valid_pattern = is_valid_pattern(subject);
    let valid_literal = is_valid_literal(subject);
    let empty_token = has_empty_token(subject);
    assert_eq!(
        valid_pattern,
        reference::is_valid_pattern(subject),
        "pattern {subject:?}"
    );
    assert_eq!(
        valid_literal,
        reference::is_valid_literal(subject),
        "literal {subject:?}"
    );
    assert_eq!(
        empty_token,
        reference::has_empty_token(subject),
        "empty {subject:?}"
    );
    // Relations that hold whatever the rules' details: a literal is a pattern, and neither
    // has an empty token.
    assert!(!valid_literal || valid_pattern, "{subject:?}");
    assert!(!valid_pattern || !empty_token, "{subject:?}");
    if valid_literal {
        assert!(
            pattern_matches(subject, subject),
            "{subject:?} misses itself"
        );
    }
}

/// The library matcher on its domain (valid pattern, subject without an empty token) against
/// the reference.
fn check_match(pattern: &[u8], subject: &[u8]) -> Option<bool> {
    if !reference::is_valid_pattern(pattern) || reference::has_empty_token(subject) {
        return None;
    }
    let matched = pattern_matches(pattern, subject);
    assert_eq!(
        matched,
        reference::matches(pattern, subject),
        "{pattern:?} vs {subject:?}"
    );
    Some(matched)
}

/// A subject the valid `pattern` must match: each `*` becomes one token and `>` one or more,
/// cut from `filler` (dots removed, never empty).
fn matching_subject(pattern: &[u8], filler: &[u8]) -> Vec<u8> {
    let mut filler = filler.iter().copied().filter(|&byte| byte != b'.').cycle();
    let mut next_token = |length: usize| -> Vec<u8> {
        let token: Vec<u8> = filler.by_ref().take(length.max(1)).collect();
        if token.is_empty() {
            b"x".to_vec()
        } else {
            token
        }
    };
    let mut tokens = Vec::new();
    for (index, token) in reference::tokens(pattern).into_iter().enumerate() {
        match token {
            b"*" => tokens.push(next_token(index % 3 + 1)),
            b">" => {
                tokens.push(next_token(1));
                for extra in 0..index % 3 {
                    tokens.push(next_token(extra + 1));
                }
            }
            literal => tokens.push(literal.to_vec()),
        }
    }
    tokens.join(&b'.')
}

fuzz_target!(|data: &[u8]| {
    let Some((&pattern_len, rest)) = data.split_first() else {
        return;
    };
    let (pattern, subject) = rest.split_at(usize::from(pattern_len).min(rest.len()));
    check_validation(pattern);
    check_validation(subject);
    check_match(pattern, subject);
    check_match(subject, pattern);
    if reference::is_valid_pattern(pattern) {
        let built = matching_subject(pattern, subject);
        assert_eq!(
            check_match(pattern, &built),
            Some(true),
            "{pattern:?} vs {built:?}"
        );
    }
});
