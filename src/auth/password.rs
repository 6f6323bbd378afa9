//! Password and token comparison: bcrypt hashes through the `bcrypt` crate, plain text in
//! constant time.

use subtle::ConstantTimeEq;

/// Whether a configured password or token is a bcrypt hash: `$2a$`, `$2b$`, `$2x$` or `$2y$`
/// then a two-digit cost and `$` (nats-server's isBcrypt).
pub fn is_bcrypt(secret: &str) -> bool {
    let bytes = secret.as_bytes();
    bytes.len() >= 7
        && bytes.starts_with(b"$2")
        && matches!(bytes[2], b'a' | b'b' | b'x' | b'y')
        && bytes[3] == b'$'
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
}

/// Whether the client's `offered` secret matches the configured one. Plain secrets are
/// compared in constant time (only their length can show in the timing); bcrypt costs what
/// its cost factor says, on the calling core.
pub fn matches(configured: &str, offered: &str) -> bool {
    if is_bcrypt(configured) {
        bcrypt::verify(offered, configured).unwrap_or(false)
    } else {
        configured.as_bytes().ct_eq(offered.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_prefixes() {
        for hash in ["$2a$11$x", "$2b$04$", "$2x$10$abc", "$2y$12$abc"] {
            assert!(is_bcrypt(hash), "{hash}");
        }
        for plain in [
            "", "secret", "$2c$10$x", "$2a$1$x", "$2a10$x", "$2a$1x$", "2a$10$",
        ] {
            assert!(!is_bcrypt(plain), "{plain}");
        }
    }

    #[test]
    fn plain_and_hashed_comparisons() {
        assert!(matches("secret", "secret"));
        assert!(!matches("secret", "secreT"));
        assert!(!matches("secret", "secret2"));
        assert!(!matches("secret", ""));
        assert!(matches("", ""));
        let hash = bcrypt::hash("s3cr3t", 4).unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(matches(&hash, "s3cr3t"));
        assert!(!matches(&hash, "wrong"));
        let a_form = hash.replacen("$2b$", "$2a$", 1);
        assert!(matches(&a_form, "s3cr3t"), "$2a$ hashes verify too");
        assert!(
            !matches("$2a$04$garbage", "s3cr3t"),
            "a malformed hash never matches"
        );
    }
}
