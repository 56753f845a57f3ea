//! Reactions over the real protocol, on SQLite and PostgreSQL: live to everyone in the room, part
//! of the room's log (an exact catch-up after a disconnect brings the ones missed, in order),
//! carried by messages in history, idempotent, one emoji each, at most 20 different ones on a
//! message, not for someone muted, gone with a deleted message.

use serde_json::{json, Value};

use crate::common::*;

async fn post(client: &mut Client, text: &str, id: &str) -> u64 {
    client.say(text, id).await;
    loop {
        let frame = until_frame(client, "ack").await;
        if frame["client_id"] == id {
            return frame["seq"].as_u64().expect("seq");
        }
    }
}

/// Reacts and returns the answer: the `ack` (or the `error`) naming `id`.
async fn react(client: &mut Client, seq: u64, emoji: &str, on: bool, id: &str) -> Value {
    client
        .send(
            json!({"type":"react","room":"general","seq":seq,"emoji":emoji,"on":on,"client_id":id}),
        )
        .await;
    loop {
        let frame = client.recv().await;
        if frame["client_id"] == id && (frame["type"] == "ack" || frame["type"] == "error") {
            return frame;
        }
    }
}

fn message_of(history: &Value, seq: u64) -> Value {
    history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["seq"] == seq && m["type"] == "message")
        .cloned()
        .unwrap_or_else(|| panic!("message {seq} in {history}"))
}

async fn live_in_history_and_on_catch_up(server: &TestServer) {
    let (mut alice, alice_token) = Client::join_session(server, "alice").await;
    let (mut bob, _) = Client::join_session(server, "bob").await;
    let seq = post(&mut alice, "ship it?", "a-1").await;

    let ack = react(&mut bob, seq, "👍", true, "r-1").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let live = until_frame(&mut alice, "reacted").await;
    assert_eq!(
        (&live["seq"], &live["by"], &live["emoji"], &live["on"]),
        (&json!(seq), &json!("bob"), &json!("👍"), &json!(true))
    );
    let position = live["log_seq"].as_u64().expect("log_seq");
    assert_eq!(
        ack["seq"], position,
        "the ack names the reaction's place in the log"
    );
    // Again: nothing changes, nobody is told, the request is still answered.
    let again = react(&mut bob, seq, "👍", true, "r-2").await;
    assert_eq!((&again["type"], again.get("seq")), (&json!("ack"), None));

    // Alice goes away; bob adds one and takes the first back.
    drop(alice);
    assert_eq!(react(&mut bob, seq, "🎉", true, "r-3").await["type"], "ack");
    assert_eq!(
        react(&mut bob, seq, "👍", false, "r-4").await["type"],
        "ack"
    );
    let (_alice, _, caught) = Client::resume_since(server, &alice_token, Some(position)).await;
    let changes: Vec<(Value, Value)> = caught["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "reacted", "only what she missed: {e}");
            (e["emoji"].clone(), e["on"].clone())
        })
        .collect();
    assert_eq!(
        changes,
        [(json!("🎉"), json!(true)), (json!("👍"), json!(false))]
    );

    // A newcomer's history: the message with its reactions now.
    let (carol, _) = Client::join_session(server, "carol").await;
    drop(carol);
    let (_carol, _, history) = Client::resume_since(server, &alice_token, None).await;
    assert_eq!(
        message_of(&history, seq)["reactions"],
        json!({"🎉": ["bob"]})
    );

    // Refusals: not one emoji; no such message; a deleted message takes none and keeps none.
    for bad in ["", "ok", "👍👍", "<b>"] {
        let refused = react(&mut bob, seq, bad, true, "r-5").await;
        assert_eq!(refused["code"], "bad_frame", "{bad:?}");
    }
    assert_eq!(
        react(&mut bob, 9_999, "👍", true, "r-6").await["code"],
        "not_found"
    );
}

async fn bounded_and_gone_with_the_message(server: &TestServer) {
    let (mut alice, alice_token) = Client::join_session(server, "alice").await;
    let seq = post(&mut alice, "pick one", "a-1").await;
    let emoji = chinwag::ui::reactions::PICKER;
    for (i, (e, _)) in emoji.iter().take(20).enumerate() {
        let ack = react(&mut alice, seq, e, true, &format!("r-{i}")).await;
        assert_eq!(ack["type"], "ack", "{e}: {ack}");
    }
    let full = react(&mut alice, seq, emoji[20].0, true, "r-20").await;
    assert_eq!(full["code"], "forbidden", "{full}");
    // Another person may still add one of the twenty.
    let (mut bob, _) = Client::join_session(server, "bob").await;
    assert_eq!(
        react(&mut bob, seq, emoji[0].0, true, "b-1").await["type"],
        "ack"
    );

    alice
        .send(json!({"type":"delete","room":"general","seq":seq,"client_id":"d-1"}))
        .await;
    until_frame(&mut alice, "deleted").await;
    let (_again, _, history) = Client::resume_since(server, &alice_token, None).await;
    let message = message_of(&history, seq);
    assert_eq!(message["deleted"], true);
    assert!(message.get("reactions").is_none(), "{message}");
    assert_eq!(
        react(&mut bob, seq, "👍", true, "b-2").await["code"],
        "not_found"
    );
}

#[tokio::test]
async fn sqlite_reactions_arrive_live_in_history_and_on_catch_up() {
    let server = TestServer::start().await;
    live_in_history_and_on_catch_up(&server).await;
}

#[tokio::test]
async fn sqlite_reactions_are_bounded_and_go_with_their_message() {
    let server = TestServer::start().await;
    bounded_and_gone_with_the_message(&server).await;
}

#[tokio::test]
async fn postgres_reactions_arrive_live_in_history_and_on_catch_up() {
    let (_db, server) = start_on_postgres().await;
    live_in_history_and_on_catch_up(&server).await;
}

#[tokio::test]
async fn postgres_reactions_are_bounded_and_go_with_their_message() {
    let (_db, server) = start_on_postgres().await;
    bounded_and_gone_with_the_message(&server).await;
}

#[tokio::test]
async fn a_muted_person_cannot_react() {
    let server = TestServer::start().await;
    let (alice, alice_token) = Client::join_session(&server, "alice").await;
    drop(alice);
    make_moderator(&server, &alice_token).await;
    let (mut alice, _) = Client::resume(&server, &alice_token).await;
    let (mut troll, _) = Client::join_session(&server, "troll").await;
    let seq = post(&mut alice, "hello", "a-1").await;
    alice
        .send(json!({"type":"mute","nick":"troll","seconds":600}))
        .await;
    until_frame(&mut troll, "moderated").await;
    assert_eq!(
        react(&mut troll, seq, "👎", true, "t-1").await["code"],
        "muted"
    );
}
