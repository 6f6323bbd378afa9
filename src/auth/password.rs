//! Password and token comparison: bcrypt hashes through the `bcrypt` crate, plain text in
//! constant time.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
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

/// bcrypt checks that succeeded, remembered so that the next CONNECT with the same secret
/// costs a hash instead of a bcrypt run on the core that handles it (bcrypt at cost 11 takes
/// on the order of 100 ms, during which that core serves no one). One entry per configured
/// bcrypt secret, so the map is bounded by the configuration; a wrong secret is never
/// remembered and always pays the full bcrypt cost.
///
/// Entries are SHA-256 digests of a per-process random salt, the secret's name, its
/// configured hash and the offered secret, never the secret itself. Consulted at CONNECT only (the mutex is held for
/// one map lookup), never on the message path.
#[derive(Debug)]
pub struct VerifiedSecrets {
    salt: [u8; 16],
    digests: Mutex<HashMap<String, [u8; 32]>>,
    /// bcrypt runs so far (tests check that a remembered secret costs none).
    #[cfg(test)]
    bcrypt_runs: std::sync::atomic::AtomicUsize,
}

impl VerifiedSecrets {
    pub fn new() -> VerifiedSecrets {
        let mut salt = [0u8; 16];
        // Without the kernel's randomness the salt is zero: digests then only lose their
        // resistance to precomputation, they still never hold the secret.
        let _ = getrandom::getrandom(&mut salt);
        VerifiedSecrets {
            salt,
            digests: Mutex::new(HashMap::new()),
            #[cfg(test)]
            bcrypt_runs: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// [`matches`], remembering bcrypt successes under `name` (which secret it is).
    pub fn matches(&self, name: &str, configured: &str, offered: &str) -> bool {
        if !is_bcrypt(configured) {
            return matches(configured, offered);
        }
        if self.remembered(name, configured, offered) {
            return true;
        }
        let digest = self.digest(name, configured, offered);
        #[cfg(test)]
        self.bcrypt_runs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let verified = matches(configured, offered);
        if verified {
            if let Ok(mut digests) = self.digests.lock() {
                digests.insert(name.to_string(), digest);
            }
        }
        verified
    }

    /// The answer of [`VerifiedSecrets::matches`] when it needs no bcrypt run: plain
    /// secrets, and bcrypt secrets whose success is remembered. `None`: bcrypt decides.
    pub fn answer_without_bcrypt(
        &self,
        name: &str,
        configured: &str,
        offered: &str,
    ) -> Option<bool> {
        if !is_bcrypt(configured) {
            return Some(matches(configured, offered));
        }
        self.remembered(name, configured, offered).then_some(true)
    }

    fn remembered(&self, name: &str, configured: &str, offered: &str) -> bool {
        let digest = self.digest(name, configured, offered);
        let known = self
            .digests
            .lock()
            .map(|digests| digests.get(name).copied())
            .unwrap_or(None);
        known.is_some_and(|known| bool::from(known.ct_eq(&digest)))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.digests.lock().map(|d| d.len()).unwrap_or(0)
    }

    /// The configured hash is part of the digest: a changed configuration forgets.
    fn digest(&self, name: &str, configured: &str, offered: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        for field in [name, configured] {
            hasher.update((field.len() as u64).to_le_bytes());
            hasher.update(field.as_bytes());
        }
        hasher.update(offered.as_bytes());
        hasher.finalize().into()
    }
}

impl Default for VerifiedSecrets {
    fn default() -> Self {
        VerifiedSecrets::new()
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

    #[test]
    fn verified_bcrypt_secrets_are_remembered_by_digest_only() {
        let hash = bcrypt::hash("s3cr3t", 4).unwrap();
        let verified = VerifiedSecrets::new();
        assert!(!verified.matches("bob", &hash, "wrong"));
        assert_eq!(verified.len(), 0, "failures are not remembered");
        assert!(verified.matches("bob", &hash, "s3cr3t"));
        assert_eq!(verified.len(), 1);
        let runs = || {
            verified
                .bcrypt_runs
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        assert_eq!(runs(), 2);
        assert!(verified.matches("bob", &hash, "s3cr3t"), "from the digest");
        assert_eq!(runs(), 2, "a remembered secret costs no bcrypt run");
        assert!(!verified.matches("bob", &hash, "wrong"));
        assert!(!verified.matches("eve", &hash, "wrong"), "per name");
        assert!(verified.matches("plain", "pw", "pw"));
        assert_eq!(verified.len(), 1, "plain secrets need no memory");
        // What is remembered is a digest, neither the secret nor its hash.
        let digest = verified.digests.lock().unwrap()["bob"];
        assert_eq!(digest, verified.digest("bob", &hash, "s3cr3t"));
        assert_ne!(digest, verified.digest("bob", &hash, "wrong"));
        assert!(!digest.windows(6).any(|w| w == b"s3cr3t"));
        // The digest answers for the configured hash it was verified against, and only that.
        assert!(!verified.matches("bob", "$2a$04$garbage", "s3cr3t"));
        let other = bcrypt::hash("s3cr3t", 4).unwrap();
        assert!(verified.matches("bob", &other, "s3cr3t"));
    }
}
