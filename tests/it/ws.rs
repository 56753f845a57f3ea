//! The protocol as an outside websocket client sees it, against a real server.

use std::time::Duration;

use crate::common::{Client, TestServer};
use chinwag::server::hub::HubConfig;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn hello_is_answered_with_welcome_in_general() {
    let server = TestServer::start().await;
    let mut alice = Client::connect(&server).await;
    alice
        .send(json!({"type": "hello", "nick": "  alice  "}))
        .await;
    let welcome = alice.recv().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["nick"], "alice");
    assert_eq!(welcome["rooms"], json!(["general"]));
    assert_eq!(welcome["online"], json!(["alice"]));
    // A session was created; its token comes back once, for a client without cookies.
    assert!(welcome["session"].as_str().is_some_and(|t| t.len() >= 43));
}

#[tokio::test]
async fn a_message_reaches_the_others_and_the_sender_gets_only_an_ack() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    let mut carol = Client::join(&server, "carol").await;

    alice.say("hi", "c-1").await;

    let ack = alice.recv_chat().await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["client_id"], "c-1");
    let seq = ack["seq"].as_u64().expect("seq is a number");

    for receiver in [&mut bob, &mut carol] {
        let msg = receiver.recv_chat().await;
        assert_eq!(msg["type"], "message");
        assert_eq!(msg["room"], "general");
        assert_eq!(msg["seq"], seq);
        assert_eq!(msg["from"], "alice");
        assert_eq!(msg["text"], "hi");
        assert_eq!(msg["client_id"], "c-1");
        let at = msg["at"].as_str().expect("at is a string");
        assert!(
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok(),
            "{at}"
        );
        assert!(at.ends_with('Z'), "UTC: {at}");
    }
    // No echo: the sender's own message never comes back to it.
    alice.expect_no_chat(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn seq_only_grows() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    alice.say("one", "a-1").await;
    let first = alice.recv_chat().await["seq"].as_u64().expect("seq");
    assert_eq!(bob.recv_chat().await["seq"], first);
    bob.say("two", "b-1").await;
    let second = bob.recv_chat().await["seq"].as_u64().expect("seq");
    assert!(second > first, "{first} then {second}");
}

#[tokio::test]
async fn bad_frames_get_bad_frame_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    for bad in [
        "this is not json",
        r#"{"type":"shout","text":"hi"}"#,
        r#"{"type":"say","room":"general","text":"no client id"}"#,
        r#"{"no":"type"}"#,
    ] {
        alice.send_text(bad).await;
        let err = alice.recv_chat().await;
        assert_eq!(err["type"], "error", "{bad}");
        assert_eq!(err["code"], "bad_frame", "{bad}");
        assert!(!err["message"].as_str().unwrap_or_default().is_empty());
    }
    // Still open, still chatting.
    alice.say("still here", "c-9").await;
    assert_eq!(alice.recv_chat().await["type"], "ack");
    assert_eq!(bob.recv_chat().await["text"], "still here");
}

#[tokio::test]
async fn invalid_messages_are_refused_with_a_precise_code_naming_the_message() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;

    alice.say("   ", "c-1").await;
    let err = alice.recv_chat().await;
    assert_eq!(
        (err["code"].as_str(), err["client_id"].as_str()),
        (Some("empty"), Some("c-1"))
    );

    alice.say(&"x".repeat(4001), "c-2").await;
    assert_eq!(alice.recv_chat().await["code"], "too_long");

    alice
        .send(json!({"type":"say","room":"nowhere","text":"hi","client_id":"c-3"}))
        .await;
    assert_eq!(alice.recv_chat().await["code"], "unknown_room");

    alice.send(json!({"type":"hello","nick":"again"})).await;
    assert_eq!(alice.recv_chat().await["code"], "already_hello");

    alice.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    assert_eq!(alice.recv_chat().await["code"], "unsupported");

    // None of it reached anyone.
    bob.expect_no_chat(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn the_first_frame_must_be_a_valid_hello() {
    let server = TestServer::start().await;
    let mut bot = Client::connect(&server).await;
    bot.say("hi", "c-1").await;
    assert_eq!(bot.recv().await["code"], "hello_required");
    bot.send(json!({"type":"hello","nick":""})).await;
    assert_eq!(bot.recv().await["code"], "nick_invalid");
    bot.send(json!({"type":"hello","nick":"a\u{0007}b"})).await;
    assert_eq!(bot.recv().await["code"], "nick_invalid");
    bot.send_text("{").await;
    assert_eq!(bot.recv().await["code"], "bad_frame");
    // Then a good hello still works.
    bot.send(json!({"type":"hello","nick":"bot"})).await;
    assert_eq!(bot.recv().await["type"], "welcome");
    // A forged session is refused, whatever nick comes with it.
    let mut forger = Client::connect(&server).await;
    forger
        .send(json!({"type":"hello","nick":"bot","session":"forged-token"}))
        .await;
    assert_eq!(forger.recv().await["code"], "bad_session");
}

#[tokio::test]
async fn three_hundred_messages_arrive_complete_and_in_order() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    const N: usize = 300;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            alice.say(&format!("message {i}"), &format!("c-{i}")).await;
        }
        let mut acks = Vec::with_capacity(N);
        for _ in 0..N {
            let ack = alice.recv_chat().await;
            assert_eq!(ack["type"], "ack");
            acks.push(ack["seq"].as_u64().expect("seq"));
        }
        acks
    });
    let mut seqs = Vec::with_capacity(N);
    for i in 0..N {
        let msg = bob.recv_chat().await;
        assert_eq!(msg["type"], "message", "{msg}");
        assert_eq!(msg["text"], format!("message {i}"));
        seqs.push(msg["seq"].as_u64().expect("seq"));
    }
    let acks = sender.await.expect("sender task");
    assert_eq!(acks, seqs, "acks and deliveries agree on every seq");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gap-free and increasing"
    );
    bob.expect_no_chat(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_slow_reader_is_told_it_lagged_resynced_and_the_others_get_everything() {
    let server = TestServer::start_with(HubConfig {
        room_capacity: 16,
        ..HubConfig::default()
    })
    .await;
    let mut writer = Client::join(&server, "writer").await;
    let mut fast = Client::join(&server, "fast").await;
    // `slow` reads nothing until the burst is over. ~12 MB of frames is more than the loopback
    // socket buffers hold, so its server task blocks on writing and the room's ring passes it by.
    let mut slow = Client::join(&server, "slow").await;
    const N: u64 = 2000;
    let body = "x".repeat(3990);
    for i in 0..N {
        writer
            .say(&format!("{i:05}{body}"), &format!("c-{i}"))
            .await;
        assert_eq!(writer.recv_chat().await["type"], "ack");
        let got = fast.recv_chat().await;
        assert_eq!(
            got["seq"],
            i + 1,
            "the fast reader gets every message, in order"
        );
    }
    // It is told it fell behind, then resynced from the store: every message exactly once, in order,
    // whether it came live or in the resync. A gap larger than the catch-up limit is answered with
    // the latest page and `reset` instead, after which it must again be complete and in order.
    let (mut seqs, mut lagged, mut reset) = (Vec::<u64>::new(), false, false);
    while seqs.last() != Some(&N) {
        let frame = slow.recv().await;
        match frame["type"].as_str() {
            Some("message") => seqs.push(frame["seq"].as_u64().expect("seq")),
            Some("history") => {
                if frame["reset"] == true {
                    reset = true;
                    seqs.clear();
                }
                let messages = frame["messages"].as_array().expect("messages");
                seqs.extend(messages.iter().map(|m| m["seq"].as_u64().expect("seq")));
            }
            Some("lagged") => {
                assert_eq!(frame["room"], "general");
                assert!(frame["missed"].as_u64().expect("missed") > 0);
                lagged = true;
            }
            Some("presence") => {}
            other => panic!("unexpected {other:?}: {frame}"),
        }
    }
    assert!(lagged, "the slow reader was told it fell behind");
    let gap = seqs.windows(2).find(|w| w[1] != w[0] + 1);
    assert_eq!(gap, None, "no gap and no duplicate (reset: {reset})");
    assert_eq!(seqs.last(), Some(&N), "up to the last message");
    if reset {
        // The latest page and what came after it: at least a page, never all of it again.
        let first = seqs.first().copied().unwrap_or(0);
        assert!(
            first > 1,
            "a reset starts at the latest page, not at 1: {first}"
        );
        assert!(
            N - first + 1 >= 50,
            "at least the latest page: from {first}"
        );
    } else {
        assert_eq!(seqs.first(), Some(&1), "every message from the first");
    }
}

#[tokio::test]
async fn shutdown_closes_websockets_with_1012() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::connect(&server).await; // not yet said hello
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(alice.closed().await, Some(CloseCode::Restart));
    assert_eq!(bob.closed().await, Some(CloseCode::Restart));
    stopping.await.expect("server stops");
}
