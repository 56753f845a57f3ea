//! The socket.io tutorial's homework, over real websockets: nicknames and sessions, join and leave
//! notices, who is online, no echo with at-most-once delivery, typing, and private messages.

use std::time::Duration;

use crate::common::{cookie_token, http, Client, TestServer, FORM};
use chinwag::server::hub::HubConfig;
use serde_json::json;

#[tokio::test]
async fn a_name_in_use_cannot_be_taken_by_another_session_in_any_case() {
    let server = TestServer::start().await;
    let _alice = Client::join(&server, "Alice").await;
    let mut impostor = Client::connect(&server).await;
    for nick in ["alice", "ALICE", " Alice "] {
        impostor.send(json!({"type":"hello","nick":nick})).await;
        let err = impostor.recv().await;
        assert_eq!(err["code"], "nick_taken", "{nick}");
    }
    // The connection stays open and another name works.
    impostor.send(json!({"type":"hello","nick":"Alice2"})).await;
    assert_eq!(impostor.recv().await["type"], "welcome");
}

/// Says hello as `nick` without expecting a presence frame of its own (a crowd sends none); returns
/// the client and its welcome.
async fn arrive(server: &TestServer, nick: &str) -> (Client, serde_json::Value) {
    let mut client = Client::connect(server).await;
    client.send(json!({"type":"hello","nick":nick})).await;
    let welcome = client.expect_frame("welcome").await;
    (client, welcome)
}

#[tokio::test]
async fn a_crowd_gets_a_cut_list_with_its_count_and_summaries_instead_of_a_frame_per_arrival() {
    let server = TestServer::start_with(HubConfig {
        crowd: 2,
        ..HubConfig::default()
    })
    .await;
    let mut ann = Client::join(&server, "ann").await;
    let _bob = Client::join(&server, "bob").await;
    assert_eq!(
        ann.recv().await,
        json!({"type":"presence","nick":"bob","online":true}),
        "two are no crowd: each arrival is announced"
    );

    let (_carol, welcome) = arrive(&server, "carol").await;
    assert_eq!(welcome["online"], json!(["ann", "bob"]), "{welcome}");
    assert_eq!(welcome["counts"], json!({"general": 3}), "{welcome}");
    let (_dave, welcome) = arrive(&server, "dave").await;
    assert_eq!(welcome["counts"], json!({"general": 4}), "{welcome}");

    // Nothing per arrival: only summaries, the last one counting everyone.
    loop {
        let frame = ann.recv().await;
        assert_eq!(frame["type"], "roster", "{frame}");
        assert_eq!(frame["room"], "general");
        assert!(
            frame.get("members").is_none(),
            "a crowd's list is not sent: {frame}"
        );
        if frame["count"] == 4 {
            break;
        }
    }
}

#[tokio::test]
async fn welcome_lists_everyone_online_including_the_newcomer() {
    let server = TestServer::start().await;
    let _bob = Client::join(&server, "bob").await;
    let _alice = Client::join(&server, "alice").await;
    let mut carol = Client::connect(&server).await;
    carol.send(json!({"type":"hello","nick":"carol"})).await;
    let welcome = carol.recv().await;
    assert_eq!(welcome["online"], json!(["alice", "bob", "carol"]));
}

#[tokio::test]
async fn join_and_leave_are_announced_once_per_person_not_per_tab() {
    let server = TestServer::start().await;
    let mut bob = Client::join(&server, "bob").await;
    let (alice1, token) = Client::join_session(&server, "alice").await;
    assert_eq!(
        bob.recv().await,
        json!({"type":"presence","nick":"alice","online":true})
    );
    // Two more tabs of the same session: same name, no new join.
    let (alice2, welcome) = Client::resume(&server, &token).await;
    assert_eq!(welcome["nick"], "alice");
    assert!(
        welcome.get("session").is_none(),
        "the token is only handed out once"
    );
    let (alice3, _) = Client::resume(&server, &token).await;
    bob.expect_silence(Duration::from_millis(500)).await;

    // Closing two of three tabs: still online.
    drop(alice1);
    drop(alice2);
    bob.expect_silence(Duration::from_millis(800)).await;
    // Closing the last: one leave, after the grace.
    drop(alice3);
    let left = bob.recv().await;
    assert_eq!(
        left,
        json!({"type":"presence","nick":"alice","online":false})
    );
    bob.expect_silence(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_reload_within_the_grace_does_not_flap() {
    let server = TestServer::start().await;
    let (alice, token) = Client::join_session(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    drop(alice);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_alice_again, welcome) = Client::resume(&server, &token).await;
    assert_eq!(welcome["nick"], "alice");
    assert_eq!(welcome["online"], json!(["alice", "bob"]));
    bob.expect_silence(Duration::from_millis(800)).await;
}

#[tokio::test]
async fn a_rename_is_told_to_everyone_and_names_stay_unique() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    alice.send(json!({"type":"nick","nick":"alicia"})).await;
    let renamed = json!({"type":"renamed","from":"alice","to":"alicia"});
    assert_eq!(alice.recv_chat().await, renamed);
    assert_eq!(bob.recv_chat().await, renamed);

    alice.say("hi", "c-1").await;
    assert_eq!(bob.recv_chat().await["from"], "alicia");

    bob.send(json!({"type":"nick","nick":"ALICIA"})).await;
    assert_eq!(bob.recv_chat().await["code"], "nick_taken");
    bob.send(json!({"type":"nick","nick":""})).await;
    assert_eq!(bob.recv_chat().await["code"], "nick_invalid");
    // The old name is free again.
    let _new_alice = Client::join(&server, "alice").await;
}

#[tokio::test]
async fn a_duplicate_client_id_is_stored_and_delivered_once() {
    let server = TestServer::start().await;
    let (mut alice, token) = Client::join_session(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    alice.say("only once", "c-1").await;
    let first = alice.recv_chat().await;
    assert_eq!(first["type"], "ack");
    assert_eq!(bob.recv_chat().await["text"], "only once");

    // A retry on the same connection, and one from a reconnect of the same session.
    alice.say("only once", "c-1").await;
    let again = alice.recv_chat().await;
    assert_eq!(
        (again["type"].clone(), again["seq"].clone()),
        (json!("ack"), first["seq"].clone())
    );
    drop(alice);
    let (mut alice, _) = Client::resume(&server, &token).await;
    alice.say("only once", "c-1").await;
    assert_eq!(alice.recv_chat().await["seq"], first["seq"]);
    bob.expect_no_chat(Duration::from_millis(500)).await;

    // Another session may use the same client_id: ids are per session.
    bob.say("mine", "c-1").await;
    let bobs = bob.recv_chat().await;
    assert_ne!(bobs["seq"], first["seq"]);
}

#[tokio::test]
async fn typing_reaches_the_others_not_the_typer_and_clears_when_the_typer_leaves() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    alice
        .send(json!({"type":"typing","room":"general","active":true}))
        .await;
    assert_eq!(
        bob.recv_chat().await,
        json!({"type":"typing","room":"general","nick":"alice","active":true})
    );
    alice.expect_no_chat(Duration::from_millis(300)).await;

    // Repeats within the refresh interval are not passed on.
    alice
        .send(json!({"type":"typing","room":"general","active":true}))
        .await;
    bob.expect_silence(Duration::from_millis(300)).await;

    drop(alice);
    assert_eq!(
        bob.recv_chat().await,
        json!({"type":"typing","room":"general","nick":"alice","active":false})
    );
}

#[tokio::test]
async fn typing_stops_explicitly() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    alice
        .send(json!({"type":"typing","room":"general","active":true}))
        .await;
    assert_eq!(bob.recv_chat().await["active"], true);
    alice
        .send(json!({"type":"typing","room":"general","active":false}))
        .await;
    assert_eq!(bob.recv_chat().await["active"], false);
    alice
        .send(json!({"type":"typing","room":"elsewhere","active":true}))
        .await;
    assert_eq!(alice.recv_chat().await["code"], "unknown_room");
}

#[tokio::test]
async fn a_private_message_reaches_the_recipient_and_my_other_tabs_and_nobody_else() {
    let server = TestServer::start().await;
    let (mut alice1, token) = Client::join_session(&server, "alice").await;
    let (mut alice2, _) = Client::resume(&server, &token).await;
    let mut bob = Client::join(&server, "Bob").await;
    let mut carol = Client::join(&server, "carol").await;

    alice1
        .send(json!({"type":"dm","to":"bob","text":"psst","client_id":"d-1"}))
        .await;
    let ack = alice1.recv_chat().await;
    let id = ack["id"].as_u64().expect("the ack names the message's id");
    assert_eq!(
        ack,
        json!({"type":"ack","client_id":"d-1","to":"Bob","id":id})
    );
    for tab in [&mut bob, &mut alice2] {
        let dm = tab.recv_chat().await;
        assert_eq!(dm["type"], "dm");
        assert_eq!(dm["id"], id);
        assert_eq!(
            (dm["from"].as_str(), dm["to"].as_str()),
            (Some("alice"), Some("Bob"))
        );
        assert_eq!(dm["text"], "psst");
        assert!(dm["at"].as_str().is_some_and(|at| at.ends_with('Z')));
    }
    carol.expect_no_chat(Duration::from_millis(500)).await;
    alice1.expect_no_chat(Duration::from_millis(100)).await;

    // A retried dm is delivered once.
    alice1
        .send(json!({"type":"dm","to":"bob","text":"psst","client_id":"d-1"}))
        .await;
    assert_eq!(alice1.recv_chat().await["type"], "ack");
    bob.expect_no_chat(Duration::from_millis(300)).await;

    alice1
        .send(json!({"type":"dm","to":"nobody","text":"hello?","client_id":"d-2"}))
        .await;
    let err = alice1.recv_chat().await;
    assert_eq!(err["code"], "unknown_user");
    assert_eq!(err["client_id"], "d-2");
}

#[tokio::test]
async fn a_private_message_to_someone_offline_waits_for_them() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let (bob, bob_token) = Client::join_session(&server, "Bob").await;
    drop(bob);
    tokio::time::sleep(Duration::from_millis(500)).await; // past the leave grace: offline

    alice
        .send(json!({"type":"dm","to":"bob","text":"for later","client_id":"d-1"}))
        .await;
    let ack = alice.expect_frame("ack").await;
    assert_eq!(
        (&ack["client_id"], &ack["to"]),
        (&json!("d-1"), &json!("Bob"))
    );
    let id = ack["id"].as_u64().expect("id");
    // A retry is acked again, not stored twice, whether or not he is online.
    alice
        .send(json!({"type":"dm","to":"bob","text":"for later","client_id":"d-1"}))
        .await;
    assert_eq!(alice.expect_frame("ack").await["id"], id);

    // He comes back: it is in his private messages' catch-up, once.
    let (mut bob, welcome) = Client::resume(&server, &bob_token).await;
    assert_eq!(welcome["nick"], "Bob");
    let dms = bob.expect_frame("dm_history").await;
    let messages = dms["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{dms}");
    assert_eq!(
        (
            &messages[0]["id"],
            &messages[0]["from"],
            &messages[0]["text"]
        ),
        (&json!(id), &json!("alice"), &json!("for later"))
    );
    // And from a tab that had seen everything before it, exactly it.
    let mut tab = Client::connect(&server).await;
    tab.send(json!({"type":"hello","session":bob_token,"dm_since":id - 1}))
        .await;
    let dms = tab.expect_frame("dm_history").await;
    assert_eq!(dms["messages"].as_array().map(Vec::len), Some(1), "{dms}");

    // A name nobody goes by is still unknown.
    alice
        .send(json!({"type":"dm","to":"nobody","text":"hello?","client_id":"d-2"}))
        .await;
    assert_eq!(alice.expect_frame("error").await["code"], "unknown_user");
}

#[tokio::test]
async fn a_me_action_is_delivered_as_an_action() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    alice
        .send(json!({"type":"say","room":"general","text":"waves","client_id":"c-1","action":true}))
        .await;
    let msg = bob.recv_chat().await;
    assert_eq!(
        (msg["text"].clone(), msg["action"].clone()),
        (json!("waves"), json!(true))
    );
}

#[tokio::test]
async fn the_nickname_form_sets_a_safe_session_cookie_that_the_websocket_honours() {
    let server = TestServer::start().await;

    // Without a session, the page is the nickname form.
    let page = http(&server, "GET", "/", &[], "").await;
    assert!(page.contains(r#"action="/join""#), "{page}");
    assert!(!page.contains(r#"aria-label="Messages""#));

    let response = http(&server, "POST", "/join", &[FORM], "nick=Zo%C3%AB").await;
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    let set_cookie = response
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie:"))
        .expect("a cookie");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let token = cookie_token(&response).expect("session token");

    // With it, the page is the chat, and the websocket knows who this is without a nick.
    let cookie = crate::common::session_cookie(&token);
    let page = http(&server, "GET", "/", &[("cookie", &cookie)], "").await;
    assert!(page.contains(r#"aria-label="Messages""#), "{page}");
    assert!(page.contains("Zoë"));
    let mut tab = Client::connect_with_cookie(&server, &token).await;
    tab.send(json!({"type":"hello","nick":"someone-else"}))
        .await;
    let welcome = tab.recv().await;
    assert_eq!(welcome["nick"], "Zoë", "the session decides, not the hello");

    // The name is now taken for everyone else, and bad names are sent back to the form.
    let taken = http(&server, "POST", "/join", &[FORM], "nick=zo%C3%8B").await;
    assert!(taken.contains("location: /?error=nick_taken"), "{taken}");
    let bad = http(&server, "POST", "/join", &[FORM], "nick=").await;
    assert!(bad.contains("location: /?error=nick_invalid"), "{bad}");
    let page = http(&server, "GET", "/?error=nick_taken&nick=x", &[], "").await;
    assert!(page.contains("in use"), "{page}");
}

// Multi-threaded, so the two connection tasks really run at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_tabs_racing_with_the_same_client_ids_publish_each_once() {
    let server = TestServer::start().await;
    let (tab1, token) = Client::join_session(&server, "alice").await;
    let (tab2, _) = Client::resume(&server, &token).await;
    let mut bob = Client::join(&server, "bob").await;
    const N: usize = 50;
    let send_all = |mut tab: Client| async move {
        for i in 0..N {
            tab.say(&format!("m{i}"), &format!("race-{i}")).await;
        }
        let mut seqs = Vec::new();
        while seqs.len() < N {
            let frame = tab.recv_chat().await;
            if frame["type"] == "ack" {
                seqs.push(frame["seq"].as_u64().expect("seq"));
            }
        }
        seqs
    };
    let (one, two) = tokio::join!(send_all(tab1), send_all(tab2));
    assert_eq!(
        one, two,
        "both tabs are acked with the same seq for each id"
    );
    let mut got = Vec::new();
    for _ in 0..N {
        got.push(
            bob.recv_chat().await["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    got.sort();
    got.dedup();
    assert_eq!(got.len(), N, "each message delivered once");
    bob.expect_no_chat(Duration::from_millis(500)).await;
}
