//! Session tokens. A token is 256 random bits, given to the browser once (in an HttpOnly cookie)
//! or to a bot (in its `welcome`); the server keeps only its SHA-256, so a copy of the session table
//! cannot be used to act as anyone.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// A token's SHA-256: how a session is found.
pub type Digest = [u8; 32];

/// A fresh token and its digest.
pub fn generate() -> (String, Digest) {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let digest = digest(&token);
    (token, digest)
}

/// The SHA-256 of `token`.
pub fn digest(token: &str) -> Digest {
    Sha256::digest(token.as_bytes()).into()
}

/// A digest in hex, as the store keys sessions.
pub fn hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let (a, digest_a) = generate();
        let (b, _) = generate();
        assert_ne!(a, b);
        assert!(a.len() >= 43, "256 bits");
        assert_eq!(digest(&a), digest_a);
        assert_eq!(hex(&digest_a).len(), 64);
        assert!(!hex(&digest_a).contains(&a));
    }
}
