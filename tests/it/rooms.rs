//! Rooms over the real websocket protocol: join, leave, create; messages only to members;
//! membership owned by the session (every tab, reconnects, restarts); catch-up per room; private
//! messages stored and read only by their two parties; the no-JavaScript room forms.

use std::time::Duration;

use crate::common::{
    get_as, http, join_by_form, session_cookie, test_config, Client, TestServer, FORM,
};
use serde_json::{json, Value};

/// Joins `room` and returns the `joined` frame, checking that the room's history follows.
async fn join(client: &mut Client, room: &str) -> (Value, Value) {
    client.send(json!({"type":"join","room":room})).await;
    let joined = client.expect_frame("joined").await;
    assert_eq!(joined["room"], room);
    let history = client.recv().await;
    assert_eq!(
        (history["type"].as_str(), history["room"].as_str()),
        (Some("history"), Some(room)),
        "{history}"
    );
    (joined, history)
}

async fn say_in(client: &mut Client, room: &str, text: &str, client_id: &str) -> Value {
    client
        .send(json!({"type":"say","room":room,"text":text,"client_id":client_id}))
        .await;
    client.expect_frame("ack").await
}

fn texts(history: &Value) -> Vec<String> {
    history["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["text"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_room_is_created_by_joining_and_its_messages_reach_only_members() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    let mut carol = Client::join(&server, "carol").await;
    alice.expect_frame("presence").await;
    alice.expect_frame("presence").await;
    bob.expect_frame("presence").await;

    let (joined, history) = join(&mut alice, "rust").await;
    assert_eq!(joined["members"], json!(["alice"]));
    assert_eq!(history["messages"], json!([]));
    assert_eq!(history["complete"], true);
    say_in(&mut alice, "rust", "first in rust", "a-1").await;

    // Bob joins: he gets the room's history, and alice hears that he joined.
    let (joined, history) = join(&mut bob, "rust").await;
    assert_eq!(joined["members"], json!(["alice", "bob"]));
    assert_eq!(texts(&history), ["first in rust"]);
    assert_eq!(
        alice.recv_chat().await,
        json!({"type":"member","room":"rust","nick":"bob","joined":true})
    );

    let ack = say_in(&mut bob, "rust", "hello rustaceans", "b-1").await;
    assert_eq!(
        (ack["room"].as_str(), ack["seq"].as_u64()),
        (Some("rust"), Some(2))
    );
    let got = alice.recv_chat().await;
    assert_eq!(
        (
            got["type"].as_str(),
            got["room"].as_str(),
            got["text"].as_str()
        ),
        (Some("message"), Some("rust"), Some("hello rustaceans"))
    );
    // Carol is not in #rust: she sees none of it, and cannot post or type there.
    carol.expect_no_chat(Duration::from_millis(300)).await;
    carol
        .send(json!({"type":"say","room":"rust","text":"let me in","client_id":"c-1"}))
        .await;
    let refused = carol.recv_chat().await;
    assert_eq!(
        (refused["code"].as_str(), refused["client_id"].as_str()),
        (Some("unknown_room"), Some("c-1"))
    );
    carol
        .send(json!({"type":"typing","room":"rust","active":true}))
        .await;
    assert_eq!(carol.recv_chat().await["code"], "unknown_room");
    carol
        .send(json!({"type":"history","room":"rust","before":3}))
        .await;
    assert_eq!(carol.recv_chat().await["code"], "unknown_room");
    alice.expect_no_chat(Duration::from_millis(300)).await;

    // Typing is per room.
    bob.send(json!({"type":"typing","room":"rust","active":true}))
        .await;
    assert_eq!(
        alice.recv_chat().await,
        json!({"type":"typing","room":"rust","nick":"bob","active":true})
    );
    carol.expect_no_chat(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn bad_room_requests_get_clear_errors_and_the_connection_goes_on() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    for (frame, code) in [
        (json!({"type":"join","room":"Rust"}), "room_invalid"),
        (json!({"type":"join","room":""}), "room_invalid"),
        (json!({"type":"join","room":"x".repeat(33)}), "room_invalid"),
        (json!({"type":"join","room":"a/b"}), "room_invalid"),
        (json!({"type":"leave","room":"general"}), "cannot_leave"),
        (
            json!({"type":"leave","room":"never-joined"}),
            "unknown_room",
        ),
        (json!({"type":"join"}), "bad_frame"),
    ] {
        alice.send(frame.clone()).await;
        let err = alice.recv_chat().await;
        assert_eq!(
            (err["type"].as_str(), err["code"].as_str()),
            (Some("error"), Some(code)),
            "{frame}"
        );
    }
    // Joining twice is not an error: it answers `joined` again.
    join(&mut alice, "ok-room").await;
    join(&mut alice, "ok-room").await;
    say_in(&mut alice, "general", "still here", "a-1").await;
}

#[tokio::test]
async fn membership_belongs_to_the_session_every_tab_follows_and_a_reconnect_keeps_it() {
    let server = TestServer::start().await;
    let (mut tab1, token) = Client::join_session(&server, "alice").await;
    let (mut tab2, _) = Client::resume(&server, &token).await;
    join(&mut tab1, "rust").await;
    // The other tab joins with it, and gets the room's history.
    let joined = tab2.expect_frame("joined").await;
    assert_eq!(joined["room"], "rust");
    assert_eq!(tab2.recv().await["type"], "history");

    let mut bob = Client::join(&server, "bob").await;
    join(&mut bob, "rust").await;
    say_in(&mut bob, "rust", "to both tabs", "b-1").await;
    for tab in [&mut tab1, &mut tab2] {
        let got = tab.expect_frame("message").await;
        assert_eq!(got["text"], "to both tabs");
    }

    // A new connection of the session is in the room from its welcome on.
    let (mut tab3, welcome) = Client::resume(&server, &token).await;
    assert_eq!(welcome["rooms"], json!(["general", "rust"]));
    assert_eq!(welcome["members"], json!({"rust": ["alice", "bob"]}));
    let history = tab3.expect_frame("history").await;
    assert_eq!(
        history["room"], "rust",
        "each room's history follows the welcome"
    );

    // Leaving on one tab leaves on all.
    tab3.send(json!({"type":"leave","room":"rust"})).await;
    assert_eq!(tab3.expect_frame("left").await["room"], "rust");
    for tab in [&mut tab1, &mut tab2] {
        assert_eq!(tab.expect_frame("left").await["room"], "rust");
    }
    assert_eq!(
        bob.recv_chat().await,
        json!({"type":"member","room":"rust","nick":"alice","joined":false})
    );
    say_in(&mut bob, "rust", "alice is gone", "b-2").await;
    for tab in [&mut tab1, &mut tab2, &mut tab3] {
        tab.expect_no_chat(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn catch_up_is_per_room_and_since_never_rejoins_a_room_the_session_left() {
    let server = TestServer::start().await;
    let (mut alice, token) = Client::join_session(&server, "alice").await;
    join(&mut alice, "rust").await;
    let (mut other_tab, _) = Client::resume(&server, &token).await;
    let mut bob = Client::join(&server, "bob").await;
    join(&mut bob, "rust").await;
    for i in 1..=3 {
        say_in(&mut bob, "general", &format!("g{i}"), &format!("g-{i}")).await;
        say_in(&mut bob, "rust", &format!("r{i}"), &format!("r-{i}")).await;
    }
    // A tab that was asleep still has #rust; meanwhile alice left it on another tab.
    drop(alice);
    other_tab.send(json!({"type":"leave","room":"rust"})).await;
    while other_tab.recv().await["type"] != "left" {}
    let mut alice = Client::connect(&server).await;
    alice
        .send(json!({"type":"hello","session":token,"since":{"general":1,"rust":2}}))
        .await;
    let welcome = alice.recv().await;
    assert_eq!(welcome["rooms"], json!(["general"]), "not re-joined");
    let history = alice.expect_frame("history").await;
    assert_eq!(history["room"], "general");
    assert_eq!(texts(&history), ["g2", "g3"], "exactly what it missed");
    // The other tab was not pulled back in, and nothing of #rust arrives.
    say_in(&mut bob, "rust", "live", "r-4").await;
    say_in(&mut bob, "general", "live here", "g-4").await;
    assert_eq!(alice.expect_frame("message").await["text"], "live here");
    let frame = other_tab.expect_frame("message").await;
    assert_eq!(
        frame["text"], "live here",
        "no joined, no #rust message: {frame}"
    );
}

#[tokio::test]
async fn rooms_and_private_messages_survive_a_restart() {
    let server = TestServer::start().await;
    let data = server.data.clone();
    let (mut alice, alice_token) = Client::join_session(&server, "alice").await;
    let (mut bob, bob_token) = Client::join_session(&server, "bob").await;
    alice.expect_frame("presence").await;
    join(&mut alice, "rust").await;
    say_in(&mut alice, "rust", "kept", "a-1").await;
    alice
        .send(json!({"type":"dm","to":"bob","text":"a secret","client_id":"d-1"}))
        .await;
    assert_eq!(alice.expect_frame("ack").await["to"], "bob");
    let dm = bob.expect_frame("dm").await;
    assert_eq!(dm["text"], "a secret");
    let first_id = dm["id"].as_u64().expect("a dm id");
    drop((alice, bob));
    server.shutdown().await;

    let server = TestServer::start_on(data.clone(), test_config(&data)).await;
    let (mut alice, welcome) = Client::resume(&server, &alice_token).await;
    assert_eq!(welcome["rooms"], json!(["general", "rust"]));
    let mut rust = alice.expect_frame("history").await;
    if rust["room"] != "rust" {
        rust = alice.expect_frame("history").await;
    }
    assert_eq!(texts(&rust), ["kept"]);
    let dms = alice.expect_frame("dm_history").await;
    assert_eq!(texts(&dms), ["a secret"], "my own, sent");

    // Bob reconnects having seen the first: he gets exactly what came after.
    let (mut bob, _) = Client::resume(&server, &bob_token).await;
    alice
        .send(json!({"type":"dm","to":"bob","text":"while you were away","client_id":"d-2"}))
        .await;
    alice.expect_frame("ack").await;
    assert_eq!(bob.expect_frame("dm").await["text"], "while you were away");
    drop(bob);
    let mut bob = Client::connect(&server).await;
    bob.send(json!({"type":"hello","session":bob_token,"dm_since":first_id}))
        .await;
    let dms = bob.expect_frame("dm_history").await;
    assert_eq!(texts(&dms), ["while you were away"]);

    // A third person never reads them.
    let mut carol = Client::connect(&server).await;
    carol.send(json!({"type":"hello","nick":"carol"})).await;
    let carol_dms = carol.expect_frame("dm_history").await;
    assert_eq!(carol_dms["messages"], json!([]));
}

#[tokio::test]
async fn a_resent_private_message_is_stored_and_delivered_once() {
    let server = TestServer::start().await;
    let (mut alice, _) = Client::join_session(&server, "alice").await;
    let (mut bob, bob_token) = Client::join_session(&server, "bob").await;
    for _ in 0..2 {
        alice
            .send(json!({"type":"dm","to":"bob","text":"once","client_id":"d-1"}))
            .await;
        assert_eq!(alice.expect_frame("ack").await["client_id"], "d-1");
    }
    assert_eq!(bob.expect_frame("dm").await["text"], "once");
    bob.expect_no_chat(Duration::from_millis(300)).await;
    let (_, _) = Client::resume(&server, &bob_token).await;
    let mut tab = Client::connect(&server).await;
    tab.send(json!({"type":"hello","session":bob_token})).await;
    let dms = tab.expect_frame("dm_history").await;
    assert_eq!(texts(&dms), ["once"]);
}

#[tokio::test]
async fn without_javascript_rooms_are_joined_read_posted_to_and_left_by_form() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    join(&mut alice, "rust").await;
    say_in(&mut alice, "rust", "borrow <checker>", "a-1").await;

    let token = join_by_form(&server, "dana").await;
    let cookie = session_cookie(&token);
    let headers = [FORM, ("cookie", cookie.as_str())];

    // Not a member yet: the room's page offers to join, and shows nothing of it.
    let page = get_as(&server, "/r/rust", &token).await;
    assert!(page.contains(r#"action="/rooms/join""#), "{page}");
    assert!(!page.contains("borrow &lt;checker&gt;"));

    let joined = http(&server, "POST", "/rooms/join", &headers, "room=%23Rust+").await;
    assert!(joined.contains("location: /r/rust"), "{joined}");
    // Dana has no websocket, so she is not online: nobody is told of a member they cannot see.
    alice.expect_no_chat(Duration::from_millis(300)).await;
    let page = get_as(&server, "/r/rust", &token).await;
    assert!(
        page.contains("borrow &lt;checker&gt;"),
        "history in the room's page"
    );
    assert!(
        page.contains(r#"name="room" value="rust""#),
        "the composer posts to the room"
    );

    let posted = http(
        &server,
        "POST",
        "/say",
        &headers,
        "room=rust&text=from+a+form",
    )
    .await;
    assert!(posted.contains("location: /r/rust"), "{posted}");
    let live = alice.recv_chat().await;
    assert_eq!(
        (live["room"].as_str(), live["text"].as_str()),
        (Some("rust"), Some("from a form"))
    );

    let bad = http(&server, "POST", "/rooms/join", &headers, "room=no+spaces").await;
    assert!(bad.contains("error=room_invalid"), "{bad}");
    let left = http(&server, "POST", "/rooms/leave", &headers, "room=rust").await;
    assert!(left.contains("location: /"), "{left}");
    let refused = http(
        &server,
        "POST",
        "/say",
        &headers,
        "room=rust&text=still+here%3F",
    )
    .await;
    assert!(refused.contains("error=unknown_room"), "{refused}");
}
