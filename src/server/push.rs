//! Web Push (RFC 8030, its message encryption RFC 8291 and VAPID, RFC 8292): the server's key pair
//! and the subscriptions browsers hand it.
//!
//! The key pair is made on the first start and kept in the store ([`crate::server::store::push`]),
//! so every server of a cluster signs with the one key browsers subscribed with. A browser asks
//! for the public key (`GET /push/key`), subscribes with it, and posts the subscription
//! (`POST /push/subscribe`), which then belongs to that device's session.
//!
//! An endpoint must be an `https` address on a named host: the server will send requests there,
//! so no IP literal and no `localhost` (a subscription must not turn the server into a client of
//! its own network).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use web_push_native::jwt_simple::algorithms::ES256KeyPair;
use web_push_native::p256;

use super::clock::now_rfc3339;
use super::store::push::{PushSubscription, VapidKeys};
use super::store::{Store, StoreError};

/// The longest endpoint kept, in bytes (push services' are a few hundred).
pub const MAX_ENDPOINT_BYTES: usize = 2048;

/// The store's VAPID key pair, made now if the store has none.
pub async fn vapid_keys(store: &Store) -> Result<VapidKeys, StoreError> {
    store.push().vapid_keys(new_keys(), &now_rfc3339()).await
}

/// A fresh P-256 key pair, in unpadded base64url: the private scalar and the uncompressed public
/// point (what `pushManager.subscribe` takes as `applicationServerKey`).
pub fn new_keys() -> VapidKeys {
    let private = ES256KeyPair::generate().to_bytes();
    VapidKeys {
        public: public_of(&private).unwrap_or_default(),
        private: URL_SAFE_NO_PAD.encode(private),
    }
}

/// The uncompressed public key of a private scalar, in unpadded base64url.
fn public_of(private: &[u8]) -> Option<String> {
    let secret = p256::SecretKey::from_slice(private).ok()?;
    let point =
        p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&secret.public_key(), false);
    Some(URL_SAFE_NO_PAD.encode(point.as_bytes()))
}

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSubscription {
    #[error("the endpoint must be an https address on a named host, at most 2048 bytes")]
    Endpoint,
    #[error("p256dh must be a P-256 public key (65 bytes, base64url)")]
    Key,
    #[error("auth must be 16 bytes, base64url")]
    Auth,
}

/// Checks a subscription as a browser posts it: the endpoint (see the module's doc), the
/// browser's public key and its authentication secret. Returns it with its endpoint as the URL
/// parser reads it, which is what is kept and later called.
pub fn validate(mut subscription: PushSubscription) -> Result<PushSubscription, BadSubscription> {
    subscription.endpoint = allowed_endpoint(&subscription.endpoint)?;
    let key = decode(&subscription.p256dh).ok_or(BadSubscription::Key)?;
    if key.len() != 65 || p256::PublicKey::from_sec1_bytes(&key).is_err() {
        return Err(BadSubscription::Key);
    }
    match decode(&subscription.auth) {
        Some(auth) if auth.len() == 16 => Ok(subscription),
        _ => Err(BadSubscription::Auth),
    }
}

fn allowed_endpoint(endpoint: &str) -> Result<String, BadSubscription> {
    let url = url::Url::parse(endpoint).map_err(|_| BadSubscription::Endpoint)?;
    let named = match url.host() {
        Some(url::Host::Domain(host)) => {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            host != "localhost" && !host.ends_with(".localhost")
        }
        _ => false,
    };
    let allowed = url.scheme() == "https"
        && named
        && url.username().is_empty()
        && url.password().is_none()
        && url.as_str().len() <= MAX_ENDPOINT_BYTES;
    allowed
        .then(|| url.as_str().to_owned())
        .ok_or(BadSubscription::Endpoint)
}

/// Unpadded (or padded) base64url, as browsers write the keys.
fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(endpoint: &str) -> PushSubscription {
        // A browser's key: the public half of a fresh pair.
        let keys = new_keys();
        PushSubscription {
            endpoint: endpoint.to_owned(),
            p256dh: keys.public,
            auth: URL_SAFE_NO_PAD.encode([7u8; 16]),
        }
    }

    #[test]
    fn keys_are_a_p256_pair() {
        let keys = new_keys();
        let private = decode(&keys.private).expect("base64url");
        assert_eq!(private.len(), 32);
        let public = decode(&keys.public).expect("base64url");
        assert_eq!(public.len(), 65);
        assert_eq!(public[0], 4, "uncompressed");
        assert_eq!(public_of(&private), Some(keys.public));
        assert_ne!(new_keys().private, keys.private);
    }

    #[test]
    fn only_https_endpoints_on_named_hosts() {
        for ok in [
            "https://fcm.googleapis.com/fcm/send/abc:123",
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        ] {
            let kept = validate(subscription(ok)).unwrap_or_else(|bad| panic!("{ok}: {bad}"));
            assert_eq!(kept.endpoint, ok);
        }
        for bad in [
            "http://fcm.googleapis.com/fcm/send/abc",
            "https://127.0.0.1/push",
            "https://[::1]/push",
            "https://localhost/push",
            "https://a.localhost./push",
            "https://user:pw@push.example/x",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert_eq!(
                validate(subscription(bad)),
                Err(BadSubscription::Endpoint),
                "{bad}"
            );
        }
        let long = format!(
            "https://push.example/{}",
            "é".repeat(MAX_ENDPOINT_BYTES / 2)
        );
        assert_eq!(
            validate(subscription(&long)),
            Err(BadSubscription::Endpoint)
        );
        // What is kept is what the parser reads, and later called.
        let kept = validate(subscription("https://Push.Example/a\tb")).expect("allowed");
        assert_eq!(kept.endpoint, "https://push.example/ab");
    }

    #[test]
    fn keys_and_secrets_must_be_what_browsers_make() {
        let good = subscription("https://push.example/x");
        let mut bad_key = good.clone();
        bad_key.p256dh = URL_SAFE_NO_PAD.encode([4u8; 65]);
        assert_eq!(
            validate(bad_key.clone()),
            Err(BadSubscription::Key),
            "not on the curve"
        );
        bad_key.p256dh = "!!".into();
        assert_eq!(validate(bad_key), Err(BadSubscription::Key));
        let mut bad_auth = good;
        bad_auth.auth = URL_SAFE_NO_PAD.encode([1u8; 15]);
        assert_eq!(validate(bad_auth), Err(BadSubscription::Auth));
    }
}
