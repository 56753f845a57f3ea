//! Accounts: what makes a person's name theirs on every device.
//!
//! - [`signup`]: who may become a person here (open, by invitation, closed).
//! - [`password`]: argon2id passwords, and the throttle on failed sign-ins.
//! - [`passkeys`]: WebAuthn passkeys (webauthn-rs), added on `/account`, used on `/login`.
//!
//! The HTTP side (the `/login`, `/account`, `/link` and `/invite` pages and their forms) is in
//! `http::account`; the store's side in `store::accounts`.

pub mod passkeys;
pub mod password;
pub mod signup;

pub use signup::Signup;
