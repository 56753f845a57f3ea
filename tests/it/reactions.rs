//! Reactions over the real protocol, on SQLite and PostgreSQL: live to everyone in the room, part
//! of the room's log (an exact catch-up after a disconnect brings the ones missed, in order),
//! carried by messages in history, idempotent, one emoji each, at most 20 different ones on a
//! message, not for someone muted, gone with a deleted message. Reactions to private messages
//! likewise take their places among private messages: live to both, exact after `dm_since`,
//! carried in private history, never on someone else's conversation.

use serde_json::{json, Value};

use crate::common::*;

async fn post(client: &mut Client, text: &str, id: &str) -> u64 {
    client.say(text, id).await;
    let ack = answer_to(client, id).await;
    ack["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("an ack with a seq: {ack}"))
}

/// Reacts and returns the answer: the `ack` (or the `error`) naming `id`.
async fn react(client: &mut Client, seq: u64, emoji: &str, on: bool, id: &str) -> Value {
    client
        .send(
            json!({"type":"react","room":"general","seq":seq,"emoji":emoji,"on":on,"client_id":id}),
        )
        .await;
    answer_to(client, id).await
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

/// Sends a private message and returns its id.
async fn private(client: &mut Client, to: &str, text: &str, client_id: &str) -> u64 {
    client
        .send(json!({"type":"dm","to":to,"text":text,"client_id":client_id}))
        .await;
    let ack = answer_to(client, client_id).await;
    ack["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("an ack with an id: {ack}"))
}

/// Reacts to private message `id` of the conversation with `with`; returns the `ack` or `error`.
async fn react_private(
    client: &mut Client,
    (with, id): (&str, u64),
    emoji: &str,
    on: bool,
    client_id: &str,
) -> Value {
    client
        .send(json!({"type":"react","dm":with,"id":id,"emoji":emoji,"on":on,"client_id":client_id}))
        .await;
    answer_to(client, client_id).await
}

/// Connects `token` with `dm_since` and returns its private catch-up (the `dm_history` frames,
/// merged, until one says no `more`).
async fn private_catch_up(
    server: &TestServer,
    token: &str,
    dm_since: u64,
) -> (Vec<Value>, Vec<Value>) {
    let mut client = Client::connect(server).await;
    client
        .send(json!({"type":"hello","session":token,"dm_since":dm_since}))
        .await;
    let (mut messages, mut reactions) = (Vec::new(), Vec::new());
    loop {
        let frame = until_frame(&mut client, "dm_history").await;
        for (into, key) in [(&mut messages, "messages"), (&mut reactions, "reactions")] {
            if let Some(items) = frame[key].as_array() {
                into.extend(items.iter().cloned());
            }
        }
        if frame["more"] != true {
            return (messages, reactions);
        }
    }
}

async fn private_reactions(server: &TestServer) {
    let (mut alice, alice_token) = Client::join_session(server, "alice").await;
    let (mut bob, _) = Client::join_session(server, "bob").await;
    let (mut carol, _) = Client::join_session(server, "carol").await;
    let id = private(&mut alice, "bob", "lunch?", "a-1").await;
    assert_eq!(until_frame(&mut bob, "dm").await["id"], id);

    // Live, to both of them (alice reads it on her socket too), in its own place.
    let ack = react_private(&mut bob, ("alice", id), "👍", true, "r-1").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let live = until_frame(&mut alice, "dm_reacted").await;
    assert_eq!(
        (
            &live["id"],
            &live["by"],
            &live["to"],
            &live["emoji"],
            &live["on"]
        ),
        (
            &json!(id),
            &json!("bob"),
            &json!("alice"),
            &json!("👍"),
            &json!(true)
        )
    );
    let position = live["log_id"].as_u64().expect("log_id");
    assert!(position > id, "after the message it names");
    assert_eq!(ack["id"], position, "the ack names the reaction's place");
    // Again: nothing changes, the request is still answered, without a place.
    let again = react_private(&mut bob, ("alice", id), "👍", true, "r-2").await;
    assert_eq!((&again["type"], again.get("id")), (&json!("ack"), None));

    // Carol is not one of the two: no reacting to their message, whoever she names.
    for with in ["alice", "bob"] {
        let refused = react_private(&mut carol, (with, id), "😂", true, "c-1").await;
        assert_eq!(refused["code"], "not_found", "{refused}");
    }
    // Half a target is a bad frame.
    carol
        .send(json!({"type":"react","dm":"alice","emoji":"👍","on":true,"client_id":"c-2"}))
        .await;
    assert_eq!(until_frame(&mut carol, "error").await["code"], "bad_frame");

    // Alice goes away; bob adds one, takes the first back, and writes again.
    drop(alice);
    assert_eq!(
        react_private(&mut bob, ("alice", id), "🎉", true, "r-3").await["type"],
        "ack"
    );
    assert_eq!(
        react_private(&mut bob, ("alice", id), "👍", false, "r-4").await["type"],
        "ack"
    );
    let later = private(&mut bob, "alice", "one o'clock", "b-1").await;
    let (messages, reactions) = private_catch_up(server, &alice_token, position).await;
    let texts: Vec<&Value> = messages.iter().map(|m| &m["text"]).collect();
    assert_eq!(
        texts,
        [&json!("one o'clock")],
        "only the message she missed"
    );
    assert_eq!(messages[0]["id"], later);
    let missed: Vec<(Value, Value)> = reactions
        .iter()
        .map(|r| {
            assert_eq!(r["id"], id, "{r}");
            (r["emoji"].clone(), r["on"].clone())
        })
        .collect();
    assert_eq!(
        missed,
        [(json!("🎉"), json!(true)), (json!("👍"), json!(false))],
        "exactly the reactions she missed, in order"
    );

    // A first load: the message carries its reactions now, and no reaction entries come.
    let (mut fresh, _) = Client::resume(server, &alice_token).await;
    let history = until_frame(&mut fresh, "dm_history").await;
    let first = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .expect("the message");
    assert_eq!(first["reactions"], json!({"🎉": ["bob"]}), "{history}");
    assert!(history.get("reactions").is_none(), "{history}");
    // Scrolling back: the same.
    fresh
        .send(json!({"type":"dm_history","before":later,"with":"bob"}))
        .await;
    let older = until_frame(&mut fresh, "dm_history").await;
    assert_eq!(
        older["messages"][0]["reactions"],
        json!({"🎉": ["bob"]}),
        "{older}"
    );
    // A reaction is no message to search.
    fresh
        .send(json!({"type":"search","q":"lunch","id":"s-1"}))
        .await;
    let results = until_frame(&mut fresh, "results").await;
    assert_eq!(
        results["hits"].as_array().map(Vec::len),
        Some(1),
        "{results}"
    );
}

#[tokio::test]
async fn sqlite_reactions_to_private_messages_arrive_live_and_exactly_on_catch_up() {
    let server = TestServer::start().await;
    private_reactions(&server).await;
}

#[tokio::test]
async fn postgres_reactions_to_private_messages_arrive_live_and_exactly_on_catch_up() {
    let (_db, server) = start_on_postgres().await;
    private_reactions(&server).await;
}
