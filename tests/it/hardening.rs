//! Every limit and refusal, against a real server: what the offending client is told, exactly, and
//! that the server goes on serving everyone else.

use std::time::Duration;

use crate::common::{http, test_config, Client, DataDir, TestServer, FORM};
use chinwag::server::config::ServerConfig;
use chinwag::server::limits::Rate;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn start(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let data = DataDir::new();
    let mut config = test_config(&data);
    configure(&mut config);
    TestServer::start_on(data, config).await
}

/// Checks that the server still serves: a newcomer can join and chat with `peer`.
async fn still_serves(server: &TestServer, peer: &mut Client) {
    let mut newcomer = Client::join(server, &format!("n{}", rand_id())).await;
    newcomer.say("still here?", "n-1").await;
    assert_eq!(newcomer.expect_frame("ack").await["client_id"], "n-1");
    let got = peer.expect_frame("message").await;
    assert_eq!(got["text"], "still here?");
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn an_oversize_frame_closes_with_1009_and_a_reason() {
    let server = TestServer::start().await;
    let mut bob = Client::join(&server, "bob").await;
    let mut mallory = Client::join(&server, "mallory").await;
    bob.expect_frame("presence").await;
    let huge =
        json!({"type":"say","room":"general","text":"x".repeat(65 * 1024),"client_id":"m-1"});
    mallory.send(huge).await;
    let (code, reason) = mallory.closed_with_reason().await.expect("a close frame");
    assert_eq!(code, CloseCode::Size);
    assert_eq!(reason, "frame larger than 65536 bytes");
    still_serves(&server, &mut bob).await;
}

#[tokio::test]
async fn too_long_and_empty_messages_are_refused_by_name() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    alice.say(&"é".repeat(4001), "a-1").await;
    let err = alice.recv_chat().await;
    assert_eq!(
        (err["code"].as_str(), err["client_id"].as_str()),
        (Some("too_long"), Some("a-1"))
    );
    alice.say(" \n\t ", "a-2").await;
    let err = alice.recv_chat().await;
    assert_eq!(
        (err["code"].as_str(), err["client_id"].as_str()),
        (Some("empty"), Some("a-2"))
    );
    alice.say(&"é".repeat(4000), "a-3").await;
    assert_eq!(alice.expect_frame("ack").await["client_id"], "a-3");
}

#[tokio::test]
async fn a_flood_is_rate_limited_with_retry_after_and_others_are_unaffected() {
    let server = start(|config| {
        config.limits.messages = Rate::new(10.0, 20.0);
        config.limits.typing = Rate::new(2.0, 5.0);
    })
    .await;
    let mut bob = Client::join(&server, "bob").await;
    let mut flooder = Client::join(&server, "flooder").await;
    bob.expect_frame("presence").await;
    for i in 0..30 {
        flooder.say(&format!("spam {i}"), &format!("f-{i}")).await;
    }
    let (mut acks, mut limited) = (0, Vec::new());
    for _ in 0..30 {
        let frame = flooder.recv_chat().await;
        match frame["type"].as_str() {
            Some("ack") => acks += 1,
            Some("error") => {
                assert_eq!(frame["code"], "rate_limited", "{frame}");
                assert!(frame["client_id"].is_string(), "names the refused message");
                let wait = frame["retry_after_ms"].as_u64().expect("retry_after_ms");
                assert!((1..=1000).contains(&wait), "{wait}");
                limited.push(frame);
            }
            _ => panic!("unexpected {frame}"),
        }
    }
    assert!(
        (20..=22).contains(&acks),
        "the burst passes, the rest is refused: {acks} acked"
    );
    assert_eq!(acks + limited.len(), 30, "never a silent drop");
    // Bob got exactly the accepted ones, and can still talk.
    for _ in 0..acks {
        bob.expect_frame("message").await;
    }
    bob.say("unaffected", "b-1").await;
    assert_eq!(bob.expect_frame("ack").await["client_id"], "b-1");

    // Typing has a bucket of its own: the message flood did not use it up.
    flooder
        .send(json!({"type":"typing","room":"general","active":true}))
        .await;
    assert_eq!(bob.expect_frame("typing").await["nick"], "flooder");
    // After the wait, messages are accepted again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    flooder.say("patient now", "f-ok").await;
    loop {
        let frame = flooder.recv_chat().await;
        if frame["type"] == "ack" {
            assert_eq!(frame["client_id"], "f-ok");
            break;
        }
        assert_eq!(
            frame["type"], "message",
            "only bob's message may come first: {frame}"
        );
    }
}

#[tokio::test]
async fn a_cross_site_upgrade_is_refused_with_403_and_allowed_origins_pass() {
    let server = start(|config| {
        config.http.allowed_origins = vec!["https://chat.example.com".into()];
    })
    .await;
    let upgrade = |origin: Option<&str>| {
        let mut request = server.ws_url().into_client_request().expect("request");
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().expect("header"));
        }
        tokio_tungstenite::connect_async(request)
    };
    match upgrade(Some("https://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected a 403, got {:?}", other.map(|(_, r)| r.status())),
    }
    assert!(upgrade(Some("null")).await.is_err());
    let own = format!("http://{}", server.addr);
    for origin in [Some(own.as_str()), Some("https://chat.example.com"), None] {
        assert!(upgrade(origin).await.is_ok(), "{origin:?} is allowed");
    }
}

#[tokio::test]
async fn connections_over_the_per_address_cap_are_refused_with_429() {
    let server = start(|config| {
        config.limits.max_connections_per_ip = 3;
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Client::connect(&server).await);
    }
    match tokio_tungstenite::connect_async(server.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        other => panic!("expected a 429, got {:?}", other.map(|(_, r)| r.status())),
    }
    // A closed one frees its slot.
    drop(open.pop());
    let mut retried = None;
    for _ in 0..50 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(server.ws_url()).await {
            retried = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(retried.is_some(), "the slot came back");
}

#[tokio::test]
async fn nobody_can_act_as_someone_else() {
    let server = TestServer::start().await;
    let (mut alice, alice_token) = Client::join_session(&server, "alice").await;
    // A forged or guessed token is refused.
    let mut mallory = Client::connect(&server).await;
    mallory
        .send(json!({"type":"hello","session":"forged-token"}))
        .await;
    assert_eq!(mallory.recv().await["code"], "bad_session");
    let almost = format!("{}x", &alice_token[..alice_token.len() - 1]);
    mallory.send(json!({"type":"hello","session":almost})).await;
    assert_eq!(mallory.recv().await["code"], "bad_session");
    // Claiming her name is refused; a `from` field in a frame is ignored.
    mallory.send(json!({"type":"hello","nick":"ALICE"})).await;
    assert_eq!(mallory.recv().await["code"], "nick_taken");
    mallory.send(json!({"type":"hello","nick":"mallory"})).await;
    assert_eq!(mallory.recv().await["type"], "welcome");
    mallory
        .send(json!({"type":"say","room":"general","text":"it is me, alice","client_id":"m-1","from":"alice"}))
        .await;
    mallory.expect_frame("ack").await;
    let got = alice.expect_frame("message").await;
    assert_eq!(got["from"], "mallory");
    // Renaming to her name is refused too.
    mallory.send(json!({"type":"nick","nick":"Alice"})).await;
    assert_eq!(mallory.recv_chat().await["code"], "nick_taken");
}

#[tokio::test]
async fn a_silent_connection_is_pinged_then_closed_and_leaves_presence() {
    let server = start(|config| {
        config.limits.ping_interval = Duration::from_millis(100);
        config.limits.idle_timeout = Duration::from_millis(400);
    })
    .await;
    let mut bob = Client::join(&server, "bob").await;
    // A client that answers pings (tungstenite does, while it is read) stays.
    let ghost = Client::join(&server, "ghost").await;
    bob.expect_frame("presence").await;
    // The ghost stops reading entirely: no pongs. It is closed and announced as gone.
    let ghost_stream = ghost.stop_reading();
    let left = bob.expect_frame("presence").await;
    assert_eq!(
        left,
        json!({"type":"presence","nick":"ghost","online":false})
    );
    drop(ghost_stream);
    // Bob, who reads (and so answers pings), is still here well past the idle timeout.
    bob.expect_no_chat(Duration::from_millis(800)).await;
    bob.say("still here", "b-1").await;
    assert_eq!(bob.expect_frame("ack").await["client_id"], "b-1");
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    alice.say("counted", "a-1").await;
    alice.expect_frame("ack").await;
    alice.say("", "a-2").await;
    alice.recv_chat().await;

    let health = http(&server, "GET", "/healthz", &[], "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = http(&server, "GET", "/readyz", &[], "").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let metrics = http(&server, "GET", "/metrics", &[], "").await;
    for line in [
        "chinwag_connections 1",
        "chinwag_errors_total{code=\"empty\"} 1",
        "chinwag_store_commit_seconds_count 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(metrics.contains("chinwag_frames_in_total"));
    assert!(!metrics.contains("counted"), "no message text in metrics");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_and_secure_behind_https() {
    let server = TestServer::start().await;
    let set_cookie = |response: &str| {
        response
            .lines()
            .find(|l| l.to_lowercase().starts_with("set-cookie:"))
            .expect("a cookie")
            .to_owned()
    };
    let plain = http(&server, "POST", "/join", &[FORM], "nick=plain").await;
    let cookie = set_cookie(&plain);
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP cannot carry a Secure cookie: {cookie}"
    );
    let behind_tls = http(
        &server,
        "POST",
        "/join",
        &[FORM, ("x-forwarded-proto", "https")],
        "nick=tls",
    )
    .await;
    let cookie = set_cookie(&behind_tls);
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // The token is long and random (256 bits, base64url) and never appears in the page.
    let token = crate::common::cookie_token(&behind_tls).expect("token");
    assert!(token.len() >= 43, "{token}");
    let page = crate::common::get_as(&server, "/", &token).await;
    let (head, body) = page.split_once("\r\n\r\n").expect("a head and a body");
    assert!(!body.contains(&token), "the page never shows the token");
    // The cookie (only there) is renewed with every page, for as long as a session is kept.
    assert!(
        head.lines().any(
            |l| l.to_lowercase().starts_with("set-cookie: chinwag_session=")
                && l.contains("Max-Age=2592000")
        ),
        "{head}"
    );
    for header in [
        "x-content-type-options: nosniff",
        "content-security-policy:",
    ] {
        assert!(page.to_lowercase().contains(header), "{header}");
    }
}

#[tokio::test]
async fn pages_are_served_compressed_to_browsers_that_accept_it() {
    let server = TestServer::start().await;
    for (accept, expected) in [
        ("br", "content-encoding: br"),
        ("gzip", "content-encoding: gzip"),
    ] {
        let page = http(&server, "GET", "/", &[("accept-encoding", accept)], "").await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(
            page.to_lowercase().contains(expected),
            "{accept}: {page:.400}"
        );
    }
    let plain = http(&server, "GET", "/", &[], "").await;
    assert!(!plain.to_lowercase().contains("content-encoding"));
    assert!(plain.contains("chinwag"));
}
