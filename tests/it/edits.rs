//! Edits and deletes over the real protocol: live to everyone in the room (the author's other tabs
//! included), exactly once to a client catching up with `since`, refused to anyone but the author.

use std::time::Duration;

use crate::common::{Client, TestServer};
use serde_json::{json, Value};

async fn post(client: &mut Client, text: &str, client_id: &str) -> u64 {
    client.say(text, client_id).await;
    let ack = client.expect_frame("ack").await;
    assert_eq!(ack["client_id"], client_id, "{ack}");
    ack["seq"].as_u64().expect("seq")
}

fn entries(history: &Value) -> Vec<Value> {
    history["messages"].as_array().expect("messages").clone()
}

#[tokio::test]
async fn an_edit_and_a_delete_reach_live_clients_and_a_client_catching_up() {
    let server = TestServer::start().await;
    let (mut alice, alice_token) = Client::join_session(&server, "alice").await;
    let (mut other_tab, _) = Client::resume(&server, &alice_token).await;
    let (mut bob, bob_token) = Client::join_session(&server, "bob").await;
    let seq = post(&mut alice, "helo wrold", "c-1").await;
    assert_eq!(bob.expect_frame("message").await["seq"], seq);
    assert_eq!(other_tab.expect_frame("message").await["seq"], seq);

    // An edit with a client_id: the author's connection gets the change, then its ack.
    alice
        .send(json!({"type":"edit","room":"general","seq":seq,"text":"hello world","client_id":"e-1"}))
        .await;
    let edited = alice.expect_frame("edited").await;
    assert_eq!(
        (
            &edited["room"],
            &edited["seq"],
            &edited["text"],
            &edited["by"]
        ),
        (
            &json!("general"),
            &json!(seq),
            &json!("hello world"),
            &json!("alice")
        )
    );
    let position = edited["log_seq"].as_u64().expect("log_seq");
    assert!(position > seq);
    let ack = alice.expect_frame("ack").await;
    assert_eq!(
        (&ack["client_id"], &ack["seq"]),
        (&json!("e-1"), &json!(position))
    );
    for client in [&mut bob, &mut other_tab] {
        let seen = client.expect_frame("edited").await;
        assert_eq!(seen, edited, "everyone gets the same change");
    }

    // Bob goes away; the message is deleted meanwhile.
    drop(bob);
    alice
        .send(json!({"type":"delete","room":"general","seq":seq}))
        .await;
    let deleted = alice.expect_frame("deleted").await;
    assert_eq!((&deleted["seq"], deleted.get("text")), (&json!(seq), None));
    let delete_position = deleted["log_seq"].as_u64().expect("log_seq");
    assert_eq!(other_tab.expect_frame("deleted").await, deleted);
    // Without a client_id there is no ack: nothing else comes.
    alice.expect_no_chat(Duration::from_millis(200)).await;

    // Catching up from where he was: exactly the delete, in its place.
    let (_bob, _, history) = Client::resume_since(&server, &bob_token, Some(position)).await;
    assert_eq!(entries(&history), vec![deleted.clone()]);

    // A newcomer sees the message as it is now: a tombstone, its words gone.
    let mut carol = Client::connect(&server).await;
    carol.send(json!({"type":"hello","nick":"carol"})).await;
    assert_eq!(carol.recv().await["type"], "welcome");
    let history = carol.expect_frame("history").await;
    let shown = entries(&history);
    let message = shown
        .iter()
        .find(|m| m["type"] == "message" && m["seq"] == seq)
        .expect("the message is in the page");
    assert_eq!(
        (&message["deleted"], &message["text"]),
        (&json!(true), &json!(""))
    );
    assert!(
        !history.to_string().contains("wrold") && !history.to_string().contains("hello world"),
        "no old text in {history}"
    );
    let last = shown.last().expect("entries");
    assert_eq!(
        last["log_seq"], delete_position,
        "the page ends at the room's last position"
    );
}

#[tokio::test]
async fn only_the_author_may_change_a_message_and_refusals_name_the_request() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    let seq = post(&mut alice, "mine", "c-1").await;
    bob.expect_frame("message").await;

    bob.send(
        json!({"type":"edit","room":"general","seq":seq,"text":"yours now","client_id":"e-1"}),
    )
    .await;
    let refused = bob.expect_frame("error").await;
    assert_eq!(
        (&refused["code"], &refused["client_id"]),
        (&json!("forbidden"), &json!("e-1"))
    );
    bob.send(json!({"type":"delete","room":"general","seq":seq,"id":"r-1"}))
        .await;
    let refused = bob.expect_frame("error").await;
    assert_eq!(
        (&refused["code"], &refused["reply_to"]),
        (&json!("forbidden"), &json!("r-1"))
    );
    bob.send(json!({"type":"delete","room":"general","seq":9999,"id":"r-2"}))
        .await;
    assert_eq!(bob.expect_frame("error").await["code"], "not_found");
    bob.send(json!({"type":"edit","room":"general","seq":seq,"text":"   ","id":"r-3"}))
        .await;
    assert_eq!(bob.expect_frame("error").await["code"], "empty");
    bob.send(json!({"type":"edit","room":"nowhere","seq":seq,"text":"x","id":"r-4"}))
        .await;
    assert_eq!(bob.expect_frame("error").await["code"], "unknown_room");
    bob.send(json!({"type":"edit","room":"general","seq":"one","text":"x","id":"r-5"}))
        .await;
    assert_eq!(bob.expect_frame("error").await["code"], "bad_frame");
    // Nothing changed for anyone.
    alice.expect_no_chat(Duration::from_millis(200)).await;

    // The author's delete goes through; a retry of it is acked again, an edit after it finds
    // nothing.
    alice
        .send(json!({"type":"delete","room":"general","seq":seq,"client_id":"d-1"}))
        .await;
    alice.expect_frame("deleted").await;
    assert_eq!(alice.expect_frame("ack").await["client_id"], "d-1");
    assert_eq!(bob.expect_frame("deleted").await["seq"], seq);
    alice
        .send(json!({"type":"delete","room":"general","seq":seq,"client_id":"d-1"}))
        .await;
    assert_eq!(alice.expect_frame("ack").await["client_id"], "d-1");
    alice
        .send(json!({"type":"edit","room":"general","seq":seq,"text":"back","client_id":"e-2"}))
        .await;
    assert_eq!(alice.expect_frame("error").await["code"], "not_found");
    bob.expect_no_chat(Duration::from_millis(200)).await;
}
