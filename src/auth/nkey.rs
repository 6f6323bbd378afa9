//! NKEY users: the nonce the server sends in INFO, and the check of the client's ed25519
//! signature of it (`nkey` + `sig` in CONNECT).

use data_encoding::{BASE64, BASE64URL_NOPAD};
use nkeys::{KeyPair, KeyPairType};

/// Random bytes in a nonce (nats-server's `nonceRawLen`); encoded, 15 characters.
const NONCE_RAW_BYTES: usize = 11;

/// A fresh nonce: 11 random bytes, base64url without padding, as nats-server sends.
pub fn new_nonce() -> String {
    let mut raw = [0u8; NONCE_RAW_BYTES];
    if getrandom::getrandom(&mut raw).is_err() {
        // The kernel's random source is always there on Linux; should it fail, a nonce from
        // the process's randomized hasher still differs per connection.
        let state = std::collections::hash_map::RandomState::new();
        let mixed = std::hash::BuildHasher::hash_one(&state, std::time::SystemTime::now());
        raw[..8].copy_from_slice(&mixed.to_le_bytes());
    }
    BASE64URL_NOPAD.encode(&raw)
}

/// Whether `public_key` is a valid public nkey of a user (`U…`, checksum included).
pub fn is_user_key(public_key: &str) -> bool {
    KeyPair::from_public_key(public_key).is_ok_and(|k| k.key_pair_type() == KeyPairType::User)
}

/// Why a signature was refused; nats-server logs these at debug level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    NotBase64,
    BadKey,
    NotVerified,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => "Signature missing",
            SignatureError::NotBase64 => "Signature not valid base64",
            SignatureError::BadKey => "User nkey not valid",
            SignatureError::NotVerified => "Signature not verified",
        })
    }
}

/// Checks that `signature` (base64url without padding, or standard base64) is `public_key`'s
/// ed25519 signature of the nonce's text.
pub fn verify(
    public_key: &str,
    nonce: &[u8],
    signature: Option<&str>,
) -> Result<(), SignatureError> {
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::Missing)?;
    let raw = BASE64URL_NOPAD
        .decode(signature.as_bytes())
        .or_else(|_| BASE64.decode(signature.as_bytes()))
        .map_err(|_| SignatureError::NotBase64)?;
    let key = KeyPair::from_public_key(public_key).map_err(|_| SignatureError::BadKey)?;
    key.verify(nonce, &raw)
        .map_err(|_| SignatureError::NotVerified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> KeyPair {
        KeyPair::new_from_raw(KeyPairType::User, [7u8; 32]).unwrap()
    }

    #[test]
    fn nonces_are_15_url_safe_characters_and_differ() {
        let a = new_nonce();
        let b = new_nonce();
        assert_eq!(a.len(), 15);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn signatures_verify_in_both_encodings() {
        let key = user();
        let nonce = new_nonce();
        let signature = key.sign(nonce.as_bytes()).unwrap();
        let public = key.public_key();
        let url = BASE64URL_NOPAD.encode(&signature);
        let std = BASE64.encode(&signature);
        assert_eq!(verify(&public, nonce.as_bytes(), Some(&url)), Ok(()));
        assert_eq!(verify(&public, nonce.as_bytes(), Some(&std)), Ok(()));
        assert_eq!(
            verify(&public, b"another nonce", Some(&url)),
            Err(SignatureError::NotVerified)
        );
        assert_eq!(
            verify(&public, nonce.as_bytes(), None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(&public, nonce.as_bytes(), Some("not base64!")),
            Err(SignatureError::NotBase64)
        );
    }

    #[test]
    fn only_user_keys_are_user_keys() {
        assert!(is_user_key(&user().public_key()));
        assert!(is_user_key(
            "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK"
        ));
        let account = KeyPair::new_from_raw(KeyPairType::Account, [7u8; 32]).unwrap();
        assert!(!is_user_key(&account.public_key()));
        assert!(!is_user_key(
            "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKA"
        ));
        assert!(!is_user_key("bob"));
    }
}
