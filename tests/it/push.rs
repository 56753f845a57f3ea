//! Web Push's first half against real servers on one PostgreSQL store: both servers give out the
//! same VAPID key (made once, kept in the store); a signed-in device's subscription is kept for
//! its session (again replaces it), refused without a session, from another site, or with an
//! endpoint the server must not call; unsubscribing forgets it; a person keeps their newest 20;
//! a signed-out device's subscription is never read back.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chinwag::server::store::push::PushSubscription;
use chinwag::server::store::{SignOut, Store, StoreConfig};
use serde_json::{json, Value};

use crate::common::*;
use crate::files::{request, Answer};

async fn get_key(server: &TestServer) -> String {
    let answer = request(server.addr, "GET", "/push/key", &[], b"").await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    let body: Value = serde_json::from_slice(&answer.body).expect("json");
    body["key"].as_str().expect("a key").to_owned()
}

async fn post(server: &TestServer, path: &str, token: Option<&str>, body: &Value) -> Answer {
    let auth = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = auth.as_deref() {
        headers.push(("authorization", auth));
    }
    request(
        server.addr,
        "POST",
        path,
        &headers,
        body.to_string().as_bytes(),
    )
    .await
}

/// A subscription as a browser writes it, with a fresh key of its own.
fn subscription(endpoint: &str) -> Value {
    let keys = chinwag::server::push::new_keys();
    json!({
        "endpoint": endpoint,
        "expirationTime": null,
        "keys": {"p256dh": keys.public, "auth": URL_SAFE_NO_PAD.encode([9u8; 16])},
    })
}

fn endpoints(subscriptions: &[PushSubscription]) -> Vec<&str> {
    subscriptions.iter().map(|s| s.endpoint.as_str()).collect()
}

#[tokio::test]
async fn subscriptions_are_kept_per_device_and_the_key_is_the_clusters() {
    let (db, one) = start_on_postgres().await;
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.store = StoreConfig::Postgres(db.url.clone());
    let two = TestServer::start_on(data, config).await;

    // One key for both servers: a P-256 public key, uncompressed.
    let key = get_key(&one).await;
    assert_eq!(get_key(&two).await, key, "the same on every server");
    let raw = URL_SAFE_NO_PAD.decode(&key).expect("base64url");
    assert_eq!((raw.len(), raw[0]), (65, 4));

    let (alice, token) = Client::join_session(&one, "alice").await;
    drop(alice);
    let store = Store::open(&StoreConfig::Postgres(db.url.clone()))
        .await
        .expect("the store");
    let (person, _) = store
        .people()
        .person_named("alice")
        .await
        .expect("read")
        .expect("alice");
    let push = store.push();

    let phone = "https://push.example.net/send/phone";
    let first = subscription(phone);
    assert_eq!(
        post(&one, "/push/subscribe", Some(&token), &first)
            .await
            .status,
        204
    );
    // The browser renewed it: the same endpoint, new keys, through the other server.
    let renewed = subscription(phone);
    assert_eq!(
        post(&two, "/push/subscribe", Some(&token), &renewed)
            .await
            .status,
        204
    );
    let laptop = "https://push.example.net/send/laptop";
    assert_eq!(
        post(&one, "/push/subscribe", Some(&token), &subscription(laptop))
            .await
            .status,
        204
    );
    let kept = push.subscriptions_of(person).await.expect("read");
    assert_eq!(endpoints(&kept).len(), 2, "{kept:?}");
    let phone_kept = kept
        .iter()
        .find(|s| s.endpoint == phone)
        .expect("the phone");
    assert_eq!(phone_kept.p256dh, renewed["keys"]["p256dh"], "replaced");

    // Refusals: no session; an endpoint the server must not call; not a subscription; another site.
    assert_eq!(
        post(&one, "/push/subscribe", None, &first).await.status,
        401
    );
    for bad in [
        "http://push.example.net/x",
        "https://127.0.0.1/x",
        "https://localhost/x",
    ] {
        let answer = post(&one, "/push/subscribe", Some(&token), &subscription(bad)).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
    let mut no_key = subscription(phone);
    no_key["keys"]["p256dh"] = json!("AAAA");
    assert_eq!(
        post(&one, "/push/subscribe", Some(&token), &no_key)
            .await
            .status,
        400
    );
    assert_eq!(
        post(&one, "/push/subscribe", Some(&token), &json!({"x":1}))
            .await
            .status,
        400
    );
    let auth = format!("Bearer {token}");
    let cross = request(
        one.addr,
        "POST",
        "/push/subscribe",
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
            ("origin", "https://evil.example"),
        ],
        subscription("https://push.example.net/evil")
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(cross.status, 403);
    assert_eq!(push.subscriptions_of(person).await.expect("read").len(), 2);

    // Turning notifications off on the laptop forgets it.
    let off = post(
        &one,
        "/push/unsubscribe",
        Some(&token),
        &json!({"endpoint": laptop}),
    )
    .await;
    assert_eq!(off.status, 204);
    assert_eq!(
        endpoints(&push.subscriptions_of(person).await.expect("read")),
        [phone]
    );

    // At most twenty devices: the newest.
    let session = store.people().sessions_of(person).await.expect("read")[0].id;
    for n in 0..25 {
        let device = PushSubscription {
            endpoint: format!("https://push.example.net/send/{n:02}"),
            p256dh: "k".into(),
            auth: "a".into(),
        };
        let at = format!("2030-01-01T00:00:{n:02}.000Z");
        push.subscribe((person, session), &device, &at)
            .await
            .expect("kept");
    }
    let kept = push.subscriptions_of(person).await.expect("read");
    assert_eq!(kept.len(), 20);
    assert_eq!(
        kept[0].endpoint, "https://push.example.net/send/24",
        "newest first"
    );

    // Signed out: the device's subscriptions are never read back.
    store
        .people()
        .delete_sessions(person, SignOut::These(&[session]))
        .await
        .expect("signed out");
    assert!(push
        .subscriptions_of(person)
        .await
        .expect("read")
        .is_empty());
    store.close().await;
}
