//! Subject and pattern validation (spec §5).

/// SUB validity: no empty token (rejects ``, `.foo`, `foo.`, `foo..bar`) and `>` only as the
/// last token. Nothing else is checked (control bytes and non-ASCII are fine).
pub fn is_valid_pattern(subject: &[u8]) -> bool {
    let _ = subject;
    todo!("subjects helper")
}

/// Pedantic PUB validity: no empty token and no `*` or `>` token.
pub fn is_valid_literal(subject: &[u8]) -> bool {
    let _ = subject;
    todo!("subjects helper")
}
