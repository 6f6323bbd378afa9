//! NATS subject filters over stored subjects: tokens split on `.`, `*` matches one token,
//! a final `>` one or more. Total on any input (no validity preconditions, unlike the trie's
//! matcher), because filters reach the store from API requests.

/// True if `filter` matches `subject`.
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut filter_tokens = filter.split('.');
    let mut subject_tokens = subject.split('.');
    loop {
        match (filter_tokens.next(), subject_tokens.next()) {
            (None, None) => return true,
            (Some(">"), Some(_)) => return filter_tokens.next().is_none(),
            (Some("*"), Some(_)) => {}
            (Some(filter_token), Some(subject_token)) if filter_token == subject_token => {}
            _ => return false,
        }
    }
}

/// True if the filter can match more than one subject.
pub(crate) fn has_wildcard(filter: &str) -> bool {
    filter.split('.').any(|token| token == "*" || token == ">")
}

/// A filter that matches everything (`None`, empty or `>`) needs no matching at all.
pub(crate) fn matches_all(filter: Option<&str>) -> bool {
    matches!(filter, None | Some("") | Some(">"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let cases = [
            ("a.b", "a.b", true),
            ("a.b", "a.c", false),
            ("a.*", "a.b", true),
            ("a.*", "a.b.c", false),
            ("a.>", "a.b.c", true),
            ("a.>", "a", false),
            (">", "a", true),
            ("*.b.*", "a.b.c", true),
            ("*.b.*", "a.c.c", false),
            ("a", "a.b", false),
            ("a.b.c", "a.b", false),
        ];
        for (filter, subject, expected) in cases {
            assert_eq!(
                subject_matches(filter, subject),
                expected,
                "{filter} {subject}"
            );
        }
        assert!(has_wildcard("a.*"));
        assert!(!has_wildcard("a.b"));
        assert!(matches_all(Some(">")));
        assert!(!matches_all(Some("a.>")));
    }
}
