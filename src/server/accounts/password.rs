//! Passwords: argon2id with OWASP's parameters (19 MiB, two passes, one lane), and the throttle on
//! failed sign-ins.
//!
//! A sign-in with a name nobody can sign in as (nobody holds it, or its holder has no password)
//! costs the same as one with a wrong password: the password is checked against a hash made the
//! same way, so the time taken says nothing about the name. Failures are counted in the store, by
//! name and by address (so every server counts them): past [`MAX_FAILURES`] in [`WINDOW`] for
//! either, sign-in is refused until the oldest counted failure is that old.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore as _;

/// Failed sign-ins a name (or an address) may have in [`WINDOW`].
pub const MAX_FAILURES: u32 = 5;

/// How far back failed sign-ins are counted.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The shortest password taken, and the longest (a longer one only costs the hashing).
pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 256;

/// Argon2id as OWASP's cheat sheet recommends it: 19 MiB, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (a PHC string, salt and parameters included). CPU-bound for tens of
/// milliseconds: run it off the async workers (`spawn_blocking`).
pub fn hash(password: &str) -> Option<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).ok()?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .ok()
        .map(|hash| hash.to_string())
}

/// Whether `password` is the one `phc` was made from. With no `phc` (nobody to sign in as), the
/// password is checked against a hash of nothing anyone knows, so it takes as long and fails.
pub fn verify(password: &str, phc: Option<&str>) -> bool {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    let decoy = DECOY.get_or_init(|| {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        hash(&String::from_utf8_lossy(&secret))
    });
    let (phc, real) = match phc {
        Some(phc) => (phc, true),
        None => match decoy {
            Some(decoy) => (decoy.as_str(), false),
            None => return false,
        },
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// Checks a new password: [`MIN_CHARS`] to [`MAX_CHARS`] characters.
pub fn check_new(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(format!("a password has at least {MIN_CHARS} characters"));
    }
    if chars > MAX_CHARS {
        return Err(format!("a password has at most {MAX_CHARS} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let phc = hash("correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", Some(&phc)));
        assert!(!verify("correct horse batterx", Some(&phc)));
        assert!(
            !verify("correct horse battery", None),
            "nobody signs in as nobody"
        );
        assert!(!verify("anything", Some("not a hash")));
        assert_ne!(
            hash("same").expect("hash"),
            hash("same").expect("hash"),
            "salted"
        );
    }

    #[test]
    fn new_passwords_have_a_length() {
        assert!(check_new("short").is_err());
        assert!(check_new("long enough").is_ok());
        assert!(check_new(&"x".repeat(257)).is_err());
    }
}
