//! Replies over the real protocol: `say` with `reply_to` carries a quote of what it answers (its
//! author and first 120 characters, as they were), live, in history and on catch-up; a reply to
//! a message that is not there is refused; deleting the original takes its words out of every
//! quote, in the store too. `dm` takes `reply_to` too, for a private message of the same two.

use serde_json::{json, Value};

use crate::common::{answer_to, message_of, start_on_postgres, until_frame, Client, TestServer};

async fn post(client: &mut Client, text: &str, client_id: &str, reply_to: Option<u64>) -> Value {
    let mut frame = json!({"type":"say","room":"general","text":text,"client_id":client_id});
    if let Some(seq) = reply_to {
        frame["reply_to"] = json!(seq);
    }
    client.send(frame).await;
    answer_to(client, client_id).await
}

#[tokio::test]
async fn a_reply_carries_its_quote_live_in_history_and_after_a_delete_only_that_it_was_deleted() {
    let server = TestServer::start().await;
    let (mut alice, alice_token) = Client::join_session(&server, "alice").await;
    let (mut bob, _) = Client::join_session(&server, "bob").await;
    let long = format!("the original words {}", "é".repeat(200));
    let original = post(&mut alice, &long, "a-1", None).await["seq"]
        .as_u64()
        .expect("seq");
    until_frame(&mut bob, "message").await;

    let ack = post(&mut bob, "agreed", "b-1", Some(original)).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let reply = ack["seq"].as_u64().expect("seq");
    let live = until_frame(&mut alice, "message").await;
    let quoted: String = long.chars().take(120).collect();
    assert_eq!(
        live["reply_to"],
        json!({"seq": original, "from": "alice", "text": quoted}),
        "{live}"
    );

    // An edit of the original leaves the quote as it was when answered.
    alice
        .send(json!({"type":"edit","room":"general","seq":original,"text":"changed my mind"}))
        .await;
    let (_late, _, history) = Client::resume_since(&server, &alice_token, None).await;
    assert_eq!(
        message_of(&history, reply)["reply_to"]["text"],
        json!(quoted)
    );

    // A reply to a message that is not there (never was, or deleted) is refused.
    let refused = post(&mut bob, "to nothing", "b-2", Some(9_999)).await;
    assert_eq!(
        (&refused["type"], &refused["code"]),
        (&json!("error"), &json!("not_found"))
    );

    // Deleting the original: its words leave every quote, in the store too.
    alice
        .send(json!({"type":"delete","room":"general","seq":original,"client_id":"a-2"}))
        .await;
    loop {
        if alice.recv().await["type"] == "deleted" {
            break;
        }
    }
    let (_later, _, history) = Client::resume_since(&server, &alice_token, None).await;
    let quote = &message_of(&history, reply)["reply_to"];
    assert_eq!(quote["seq"], original);
    assert_eq!(quote["deleted"], true, "{quote}");
    assert!(quote.get("text").is_none_or(|t| t == ""), "{quote}");
    let refused = post(&mut bob, "too late", "b-3", Some(original)).await;
    assert_eq!(refused["code"], "not_found");
}

#[tokio::test]
async fn a_client_catching_up_gets_the_reply_with_its_quote() {
    let server = TestServer::start().await;
    let (mut alice, _) = Client::join_session(&server, "alice").await;
    let (bob, bob_token) = Client::join_session(&server, "bob").await;
    let original = post(&mut alice, "question?", "a-1", None).await["seq"]
        .as_u64()
        .expect("seq");
    drop(bob);
    let reply = post(&mut alice, "answering myself", "a-2", Some(original)).await["seq"]
        .as_u64()
        .expect("seq");
    let (_bob, _, history) = Client::resume_since(&server, &bob_token, Some(original)).await;
    let caught = message_of(&history, reply);
    assert_eq!(
        caught["reply_to"],
        json!({"seq": original, "from": "alice", "text": "question?"})
    );
}

/// Sends a private message and returns its `ack` or `error`.
async fn private(
    client: &mut Client,
    to: &str,
    text: &str,
    client_id: &str,
    reply_to: Option<u64>,
) -> Value {
    let mut frame = json!({"type":"dm","to":to,"text":text,"client_id":client_id});
    if let Some(id) = reply_to {
        frame["reply_to"] = json!(id);
    }
    client.send(frame).await;
    answer_to(client, client_id).await
}

async fn a_private_reply_quotes_a_message_of_the_same_two_and_no_one_elses(server: &TestServer) {
    let (mut alice, alice_token) = Client::join_session(server, "alice").await;
    let (mut bob, _) = Client::join_session(server, "bob").await;
    let (mut carol, _) = Client::join_session(server, "carol").await;
    let asked = private(&mut alice, "bob", "when do we ship?", "a-1", None).await;
    let id = asked["id"].as_u64().expect("the ack's id");
    assert_eq!(until_frame(&mut bob, "dm").await["id"], id);

    let ack = private(&mut bob, "alice", "at six", "b-1", Some(id)).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let quote = json!({"id": id, "from": "alice", "text": "when do we ship?"});
    let live = until_frame(&mut alice, "dm").await;
    assert_eq!(
        (&live["text"], &live["reply_to"]),
        (&json!("at six"), &quote)
    );

    // Carol is not one of the two: she cannot quote their message, and nothing is stored.
    let refused = private(&mut carol, "alice", "me too", "c-1", Some(id)).await;
    assert_eq!(
        (&refused["type"], &refused["code"]),
        (&json!("error"), &json!("not_found"))
    );
    let refused = private(&mut bob, "alice", "and this?", "b-2", Some(id + 1000)).await;
    assert_eq!(refused["code"], "not_found", "{refused}");

    // From the store: the quote is there in the next connection's private history.
    let (mut later, _) = Client::resume(server, &alice_token).await;
    let history = until_frame(&mut later, "dm_history").await;
    let messages = history["messages"].as_array().expect("messages");
    let texts: Vec<&str> = messages.iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["when do we ship?", "at six"], "{history}");
    assert_eq!(messages[1]["reply_to"], quote);
    assert!(messages[0].get("reply_to").is_none());
}

#[tokio::test]
async fn a_private_reply_quotes_a_message_of_the_same_two_on_sqlite() {
    let server = TestServer::start().await;
    a_private_reply_quotes_a_message_of_the_same_two_and_no_one_elses(&server).await;
}

#[tokio::test]
async fn a_private_reply_quotes_a_message_of_the_same_two_on_postgres() {
    let (_db, server) = start_on_postgres().await;
    a_private_reply_quotes_a_message_of_the_same_two_and_no_one_elses(&server).await;
}
