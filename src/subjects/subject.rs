//! Subject and pattern validation (spec §5).
//!
//! Tokens are separated by `.`; a wildcard is only a wildcard when it is the whole token
//! (`foo*` is a literal). Nothing here allocates.

/// The token separator.
pub(crate) const SEPARATOR: u8 = b'.';
/// Matches exactly one token.
pub(crate) const SINGLE_WILDCARD: &[u8] = b"*";
/// Matches one or more trailing tokens; only valid as the last token of a pattern.
pub(crate) const FULL_WILDCARD: &[u8] = b">";

/// SUB validity: no empty token (rejects ``, `.foo`, `foo.`, `foo..bar`) and `>` only as the
/// last token. Nothing else is checked (control bytes and non-ASCII are fine).
pub fn is_valid_pattern(subject: &[u8]) -> bool {
    let mut tokens = subject.split(|&byte| byte == SEPARATOR).peekable();
    while let Some(token) = tokens.next() {
        let is_last = tokens.peek().is_none();
        if token.is_empty() || (token == FULL_WILDCARD && !is_last) {
            return false;
        }
    }
    true
}

/// Pedantic PUB validity: no empty token and no `*` or `>` token.
pub fn is_valid_literal(subject: &[u8]) -> bool {
    subject
        .split(|&byte| byte == SEPARATOR)
        .all(|token| !token.is_empty() && token != SINGLE_WILDCARD && token != FULL_WILDCARD)
}

/// True if a published subject has an empty token; such a subject matches nothing. Its
/// wildcard tokens are not checked: a published `*` is routed as the literal string `*`.
/// Public for the fuzz target `subject`.
pub fn has_empty_token(subject: &[u8]) -> bool {
    subject.is_empty()
        || subject[0] == SEPARATOR
        || subject[subject.len() - 1] == SEPARATOR
        || subject
            .windows(2)
            .any(|pair| pair[0] == SEPARATOR && pair[1] == SEPARATOR)
}

/// Splits off the first token: (token, rest after the separator, or `None` if it was the last).
#[inline]
pub(crate) fn split_first_token(subject: &[u8]) -> (&[u8], Option<&[u8]>) {
    match subject.iter().position(|&byte| byte == SEPARATOR) {
        Some(index) => (&subject[..index], Some(&subject[index + 1..])),
        None => (subject, None),
    }
}

/// True if the valid `pattern` matches the published `subject` (which has no empty token).
/// Token by token, without the trie: used to patch cached results. Public for the fuzz
/// target `subject`; both preconditions are debug-asserted.
pub fn pattern_matches(pattern: &[u8], subject: &[u8]) -> bool {
    debug_assert!(is_valid_pattern(pattern));
    debug_assert!(!has_empty_token(subject));
    let mut pattern_tokens = pattern.split(|&byte| byte == SEPARATOR);
    let mut subject_tokens = subject.split(|&byte| byte == SEPARATOR);
    loop {
        match (pattern_tokens.next(), subject_tokens.next()) {
            (None, None) => return true,
            (Some(FULL_WILDCARD), Some(_)) => return true,
            (Some(SINGLE_WILDCARD), Some(_)) => {}
            (Some(pattern_token), Some(subject_token)) if pattern_token == subject_token => {}
            _ => return false,
        }
    }
}

/// True if the pattern has a `*` or `>` token (so it may match more than one subject).
pub(crate) fn has_wildcard(pattern: &[u8]) -> bool {
    pattern
        .split(|&byte| byte == SEPARATOR)
        .any(|token| token == SINGLE_WILDCARD || token == FULL_WILDCARD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_pattern(subject: &str, expected: bool) {
        assert_eq!(
            is_valid_pattern(subject.as_bytes()),
            expected,
            "pattern {subject:?}"
        );
    }

    fn check_literal(subject: &str, expected: bool) {
        assert_eq!(
            is_valid_literal(subject.as_bytes()),
            expected,
            "literal {subject:?}"
        );
    }

    fn check_match(pattern: &str, subject: &str, expected: bool) {
        let matched = pattern_matches(pattern.as_bytes(), subject.as_bytes());
        assert_eq!(matched, expected, "{pattern:?} vs {subject:?}");
    }

    #[test]
    fn pattern_rejects_empty_tokens_and_inner_full_wildcard() {
        for subject in [
            "",
            ".",
            "foo..bar",
            ".foo",
            "foo.",
            "foo.>.bar",
            ">.foo",
            "..",
            "a.b.",
        ] {
            check_pattern(subject, false);
        }
    }

    #[test]
    fn pattern_accepts_spec_examples() {
        let long = vec!["t"; 300].join(".");
        for subject in [
            ">",
            "*",
            "foo*",
            "foo.*.bar",
            "foo.>",
            "été",
            "*.*",
            "a\tb",
            &long,
        ] {
            check_pattern(subject, true);
        }
    }

    #[test]
    fn literal_rejects_wildcard_tokens_and_empty_tokens() {
        for subject in [
            "", "foo.*", "foo.>", "*", ">", "foo..bar", ".foo", "foo.", "*.foo",
        ] {
            check_literal(subject, false);
        }
    }

    #[test]
    fn literal_accepts_partial_wildcards() {
        for subject in [
            "foo",
            "foo*",
            "*bar",
            "a>b",
            "foo.bar",
            "été.x",
            "_INBOX.abc",
        ] {
            check_literal(subject, true);
        }
    }

    #[test]
    fn empty_token_detection() {
        for subject in ["", ".", "a..b", ".a", "a."] {
            assert!(has_empty_token(subject.as_bytes()), "{subject:?}");
        }
        for subject in ["a", "a.b", "*", "a.>"] {
            assert!(!has_empty_token(subject.as_bytes()), "{subject:?}");
        }
    }

    #[test]
    fn split_first_token_cases() {
        assert_eq!(
            split_first_token(b"foo.bar"),
            (&b"foo"[..], Some(&b"bar"[..]))
        );
        assert_eq!(split_first_token(b"foo"), (&b"foo"[..], None));
    }

    #[test]
    fn pattern_matches_cases() {
        check_match("foo.*", "foo.bar", true);
        check_match("foo.*", "foo.*", true);
        check_match("foo.bar", "foo.*", false);
        check_match("foo.>", "foo", false);
        check_match("foo.>", "foo.a.b", true);
        check_match(">", "foo", true);
        check_match("*", "foo.bar", false);
        check_match("foo", "Foo", false);
        check_match("foo*", "foox", false);
        check_match("foo*", "foo*", true);
    }
}
