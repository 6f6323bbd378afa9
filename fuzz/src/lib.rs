//! Shared pieces of the fuzz targets: reference implementations of the subject rules (spec
//! §5), written to be obviously right rather than fast, sharing no code with `ringmq`.
//!
//! Each rule is stated on the token list: the bytes between dots, empty tokens included, so
//! `""` is one empty token and `"a."` is `a` plus an empty token.

/// The separator between tokens.
const DOT: u8 = b'.';
/// The wildcard that matches exactly one token.
const STAR: &[u8] = b"*";
/// The wildcard that matches one or more trailing tokens.
const GREATER: &[u8] = b">";

/// The tokens of `subject`, split at every dot; never empty (`""` is one empty token).
pub fn tokens(subject: &[u8]) -> Vec<&[u8]> {
    let mut tokens = Vec::new();
    let mut start = 0;
    for (index, &byte) in subject.iter().enumerate() {
        if byte == DOT {
            tokens.push(&subject[start..index]);
            start = index + 1;
        }
    }
    tokens.push(&subject[start..]);
    tokens
}

/// Some token is empty (`""`, `.a`, `a.`, `a..b`).
pub fn has_empty_token(subject: &[u8]) -> bool {
    tokens(subject).iter().any(|token| token.is_empty())
}

/// SUB validity: no empty token, and `>` only as the last token.
pub fn is_valid_pattern(pattern: &[u8]) -> bool {
    let tokens = tokens(pattern);
    let last = tokens.len() - 1;
    tokens
        .iter()
        .enumerate()
        .all(|(index, token)| !token.is_empty() && (*token != GREATER || index == last))
}

/// Pedantic PUB validity: no empty token and no wildcard token.
pub fn is_valid_literal(subject: &[u8]) -> bool {
    tokens(subject)
        .iter()
        .all(|token| !token.is_empty() && *token != STAR && *token != GREATER)
}

/// Whether the valid `pattern` matches the published `subject`. A subject with an empty
/// token matches nothing; the subject's own `*` and `>` tokens are plain strings.
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    assert!(
        is_valid_pattern(pattern),
        "reference called with {pattern:?}"
    );
    !has_empty_token(subject) && tokens_match(&tokens(pattern), &tokens(subject))
}

/// [`matches`] on token lists (from [`tokens`]) of a valid pattern and of a subject without
/// an empty token, first token against first token; for callers that match one subject
/// against many patterns.
pub fn tokens_match<P: AsRef<[u8]>, S: AsRef<[u8]>>(pattern: &[P], subject: &[S]) -> bool {
    match (pattern.split_first(), subject.split_first()) {
        (None, None) => true,
        // `>` is last (the pattern is valid) and takes all the remaining tokens, at least one.
        (Some((first, _)), Some(_)) if first.as_ref() == GREATER => true,
        (Some((first, pattern_rest)), Some((token, subject_rest))) => {
            let first = first.as_ref();
            (first == STAR || first == token.as_ref()) && tokens_match(pattern_rest, subject_rest)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_rules_on_spec_examples() {
        assert_eq!(tokens(b""), vec![&b""[..]]);
        assert_eq!(tokens(b"a..b"), vec![&b"a"[..], b"", b"b"]);
        assert!(is_valid_pattern(b"foo.>") && is_valid_pattern(b"*") && is_valid_pattern(b"a*"));
        assert!(
            !is_valid_pattern(b"foo.>.bar") && !is_valid_pattern(b"a.") && !is_valid_pattern(b"")
        );
        assert!(is_valid_literal(b"foo*.bar") && !is_valid_literal(b"foo.*"));
        assert!(matches(b"foo.>", b"foo.a.b") && !matches(b"foo.>", b"foo"));
        assert!(matches(b"foo.*", b"foo.*") && !matches(b"foo.bar", b"foo.*"));
        assert!(!matches(b"*.*", b"a..") && !matches(b">", b""));
    }
}
