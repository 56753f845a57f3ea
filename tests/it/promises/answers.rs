//! What docs/protocol.md promises about answers, as a client written from the document alone
//! would check it.
//!
//! The doc-only client found: `reply_to` missing from `welcome`, `ack`, `edited`/`deleted` and
//! `moderated`; a newcomer's own `presence` after its `welcome`; no `reset` for a `dm_since`
//! beyond the end; mentions only in the text; "characters" undefined; `rate_limited` saying "too
//! many frames" for every limit; a 1 MiB message ending in a reset (1006) instead of 1009 on a
//! busy machine.

use std::time::Duration;

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::{next, start};
use crate::common::{Client, TestServer};
use chinwag::server::limits::Rate;

#[tokio::test]
async fn every_answer_names_its_request() {
    let server = TestServer::start().await;
    let _bob = Client::join(&server, "bob").await;
    let mut alice = Client::connect(&server).await;
    alice
        .send(json!({"type":"hello","nick":"alice","id":"h-1"}))
        .await;
    let welcome = alice.recv().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["reply_to"], "h-1", "{welcome}");

    alice
        .send(json!({"type":"say","room":"general","text":"hi","client_id":"c-1","id":"s-1"}))
        .await;
    let ack = next(&mut alice, "ack").await;
    assert_eq!(ack["reply_to"], "s-1", "{ack}");
    let seq = ack["seq"].as_u64().expect("seq");

    alice
        .send(json!({"type":"edit","room":"general","seq":seq,"text":"hi all","id":"e-1"}))
        .await;
    let edited = next(&mut alice, "edited").await;
    assert_eq!(edited["reply_to"], "e-1", "{edited}");

    // A delete with only an id: its `deleted` names it (no ack: no client_id).
    alice
        .send(json!({"type":"delete","room":"general","seq":seq,"id":"x-1"}))
        .await;
    let deleted = next(&mut alice, "deleted").await;
    assert_eq!(deleted["reply_to"], "x-1", "{deleted}");
    // Again, a retry: answered with an ack naming it.
    alice
        .send(json!({"type":"delete","room":"general","seq":seq,"id":"x-2"}))
        .await;
    let again = next(&mut alice, "ack").await;
    assert_eq!(again["reply_to"], "x-2", "{again}");

    alice
        .send(json!({"type":"dm","to":"bob","text":"psst","client_id":"d-1","id":"m-1"}))
        .await;
    let ack = next(&mut alice, "ack").await;
    assert_eq!(
        (ack["reply_to"].clone(), ack["to"].clone()),
        (json!("m-1"), json!("bob"))
    );

    alice
        .send(json!({"type":"dm_history","before":1000,"id":"p-1"}))
        .await;
    assert_eq!(next(&mut alice, "dm_history").await["reply_to"], "p-1");
}

#[tokio::test]
async fn a_newcomer_is_not_told_of_itself_and_others_are() {
    let server = TestServer::start().await;
    let mut bob = Client::join(&server, "bob").await;
    let mut alice = Client::connect(&server).await;
    alice.send(json!({"type":"hello","nick":"alice"})).await;
    let welcome = alice.recv().await;
    assert_eq!(welcome["online"], json!(["alice", "bob"]));
    assert_eq!(
        next(&mut bob, "presence").await,
        json!({"type":"presence","nick":"alice","online":true})
    );
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(frame) = tokio::time::timeout_at(deadline, alice.recv()).await {
        assert_ne!(frame["type"], "presence", "its own presence: {frame}");
    }
}

#[tokio::test]
async fn a_dm_since_beyond_the_end_is_a_reset() {
    let server = TestServer::start().await;
    let mut bob = Client::join(&server, "bob").await;
    let (alice, token) = Client::join_session(&server, "alice").await;
    drop(alice);
    bob.send(json!({"type":"dm","to":"alice","text":"one","client_id":"d-1"}))
        .await;
    next(&mut bob, "ack").await;
    let mut alice = Client::connect(&server).await;
    alice
        .send(json!({"type":"hello","session":token,"dm_since":999_999}))
        .await;
    let history = next(&mut alice, "dm_history").await;
    assert_eq!(history["reset"], true, "{history}");
    assert_eq!(history["messages"][0]["text"], "one");
}

#[tokio::test]
async fn mentions_are_on_the_wire_as_the_server_matches_names() {
    let server = TestServer::start().await;
    let mut bob = Client::join(&server, "Bob").await;
    let (away, _) = Client::join_session(&server, "zoë").await;
    drop(away);
    let mut alice = Client::join(&server, "alice").await;
    alice
        .say(
            "hi @BOB, @ｂｏｂ and @zoe. mail bob@example.org, @nobody",
            "c-1",
        )
        .await;
    let seq = next(&mut alice, "ack").await["seq"].clone();
    let message = next(&mut bob, "message").await;
    assert_eq!(message["mentions"], json!(["Bob", "zoë"]), "{message}");
    // An edit says whom its new text names.
    alice
        .send(json!({"type":"edit","room":"general","seq":seq,"text":"only @alice"}))
        .await;
    let edited = next(&mut bob, "edited").await;
    assert_eq!(edited["mentions"], json!(["alice"]), "{edited}");
    // And a history page keeps it.
    let mut carol = Client::connect(&server).await;
    carol.send(json!({"type":"hello","nick":"carol"})).await;
    let page = next(&mut carol, "history").await;
    let last = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .rev()
        .find(|m| m["type"] == "message")
        .cloned()
        .expect("a message");
    assert_eq!(last["mentions"], json!(["alice"]), "{page}");
}

#[tokio::test]
async fn characters_are_code_points() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    // 4000 emoji: 8000 UTF-16 units, 16000 bytes, 4000 characters.
    alice.say(&"🦀".repeat(4000), "c-1").await;
    assert_eq!(next(&mut alice, "ack").await["client_id"], "c-1");
    alice.say(&"🦀".repeat(4001), "c-2").await;
    let refused = next(&mut alice, "error").await;
    assert_eq!(refused["code"], "too_long", "{refused}");
}

#[tokio::test]
async fn a_rate_limit_says_which_limit() {
    let server = start(|config| {
        config.limits.messages = Rate::new(1.0, 2.0);
        config.limits.typing = Rate::new(1.0, 2.0);
    })
    .await;
    let mut alice = Client::join(&server, "alice").await;
    for i in 0..3 {
        alice.say("fast", &format!("c-{i}")).await;
    }
    let refused = next(&mut alice, "error").await;
    assert_eq!(refused["code"], "rate_limited");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("too many messages from this session; wait")),
        "{refused}"
    );
    for _ in 0..3 {
        alice
            .send(json!({"type":"typing","room":"general","active":true}))
            .await;
    }
    let refused = next(&mut alice, "error").await;
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("too many typing notices")),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_mebibyte_message_always_closes_with_1009_even_on_a_busy_server() {
    let server = TestServer::start().await;
    // Something else keeps the server busy meanwhile.
    let mut busy = Client::join(&server, "busy").await;
    let load = tokio::spawn(async move {
        for i in 0.. {
            busy.say(&"x".repeat(3000), &format!("b-{i}")).await;
            if i % 20 == 19 {
                for _ in 0..20 {
                    next(&mut busy, "ack").await;
                }
            }
        }
    });
    let huge = "x".repeat(1024 * 1024);
    for run in 0..5 {
        let mut client = Client::join(&server, &format!("big{run}")).await;
        let _ = client.try_send_raw(Message::text(huge.clone())).await;
        let closed = client.closed_with_reason().await;
        assert_eq!(
            closed.map(|(code, reason)| (u16::from(code), reason)),
            Some((1009, "frame larger than 65536 bytes".to_owned())),
            "run {run}"
        );
    }
    load.abort();
}
