//! One owner for every piece of state: the store owns sessions, nickname claims and memberships,
//! and what a server keeps in memory agrees with it, across tabs, restarts and time.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{cookie_token, http, test_config, Client, DataDir, TestServer, FORM};
use chinwag::server::store::Store;

async fn join_room(client: &mut Client, room: &str) {
    client.send(json!({"type":"join","room":room})).await;
    loop {
        let frame = client.recv().await;
        if frame["type"] == "joined" && frame["room"] == room {
            break;
        }
    }
}

fn rooms_of(welcome: &Value) -> Vec<String> {
    welcome["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_recycled_nickname_stays_with_its_current_owner() {
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.sessions.idle_hold = Duration::from_millis(300);
    let server = TestServer::start_on(data.clone(), config.clone()).await;

    // The first zed joins #rust and leaves; its hold runs out; a second session takes the name.
    let (mut first, first_token) = Client::join_session(&server, "zed").await;
    join_room(&mut first, "rust").await;
    drop(first);
    // Its hold runs out (300 ms after its last connection): then the name is free.
    let (second, second_token) = loop {
        let mut client = Client::connect(&server).await;
        let answer = client.hello("ZED").await;
        if answer["type"] == "welcome" {
            client.expect_frame("dm_history").await;
            let token = answer["session"]
                .as_str()
                .expect("a new session")
                .to_owned();
            break (client, token);
        }
        assert_eq!(answer["code"], "nick_taken", "{answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(second);
    server.shutdown().await;

    // After the restart the current owner is still zed, both by websocket and on the page.
    let server = TestServer::start_on(data.clone(), config).await;
    let (_owner, welcome) = Client::resume(&server, &second_token).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["nick"], "ZED");
    let cookie = crate::common::session_cookie(&second_token);
    let page = http(&server, "GET", "/", &[("cookie", cookie.as_str())], "").await;
    assert!(
        page.contains("class=\"app\""),
        "the chat, not the form: {page}"
    );
    assert!(!page.contains("Pick a nickname"), "{page}");

    // The first session is told its name is taken, and picking a new name keeps its rooms.
    let (_, refused, _) = Client::resume_since(&server, &first_token, None).await;
    assert_eq!(refused["code"], "nick_taken");
    let first_cookie = crate::common::session_cookie(&first_token);
    let form = [FORM, ("cookie", first_cookie.as_str())];
    let renamed = http(&server, "POST", "/join", &form, "nick=zed2").await;
    assert!(renamed.contains("location: /\r\n"), "{renamed}");
    assert_eq!(
        cookie_token(&renamed),
        None,
        "the same session, no new cookie"
    );
    let (_, welcome) = Client::resume(&server, &first_token).await;
    assert_eq!(welcome["nick"], "zed2");
    assert_eq!(rooms_of(&welcome), ["general", "rust"], "its rooms kept");
}

#[tokio::test]
async fn sessions_unseen_past_their_lifetime_are_forgotten_and_deleted() {
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.sessions.forget_after = Duration::from_millis(700);
    config.sessions.idle_hold = Duration::from_millis(100);
    config.sessions.sweep_every = Duration::from_millis(200);
    config.sessions.refresh_every = Duration::from_millis(50);
    let server = TestServer::start_on(data.clone(), config).await;
    let (stays, _) = Client::join_session(&server, "stays").await;
    let (goes, goes_token) = Client::join_session(&server, "goes").await;
    drop(goes);
    // Forgotten once unseen past its lifetime (700 ms), and deleted by the next sweep (200 ms).
    // Only the store is polled: trying the token would make the session seen again.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let store = Store::open(&data.store()).await.expect("store");
    while store.people().session_count().await.expect("count") != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the unseen session is deleted (a connected one is kept seen)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, answer, _) = Client::resume_since(&server, &goes_token, None).await;
    assert_eq!(answer["code"], "bad_session", "{answer}");
    store.close().await;
    drop(stays);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_tabs_joining_and_leaving_at_once_leave_one_truth() {
    let data = DataDir::new();
    let server = TestServer::start_on(data.clone(), test_config(&data)).await;
    let (_first, token) = Client::join_session(&server, "alice").await;
    let (mut watcher, _) = Client::join_session(&server, "watcher").await;
    join_room(&mut watcher, "race").await;
    for round in 0..20 {
        let (mut a, _) = Client::resume(&server, &token).await;
        let (mut b, _) = Client::resume(&server, &token).await;
        let join = a.send(json!({"type":"join","room":"race","id":"j"}));
        let leave = b.send(json!({"type":"leave","room":"race","id":"l"}));
        tokio::join!(join, leave);
        // Both answered (joined or left, or refused), whatever order they landed in.
        for (tab, id) in [(&mut a, "j"), (&mut b, "l")] {
            let deadline = tokio::time::Instant::now() + crate::common::WAIT;
            loop {
                let frame = tab.recv_until(deadline).await.expect("an answer");
                if frame["reply_to"] == id {
                    break;
                }
            }
        }
        // Whatever order they landed in, a fresh tab, the store and the room's members agree.
        let (fresh, welcome) = Client::resume(&server, &token).await;
        let in_memory = rooms_of(&welcome).contains(&"race".to_owned());
        let store = Store::open(&data.store()).await.expect("store");
        let person = stored_person(&store, &token).await;
        let in_store = store
            .rooms()
            .rooms_of(person)
            .await
            .expect("rooms")
            .contains(&"race".to_owned());
        store.close().await;
        watcher.send(json!({"type":"join","room":"race"})).await;
        let listed = loop {
            let frame = watcher.recv().await;
            if frame["type"] == "joined" {
                break frame["members"]
                    .as_array()
                    .expect("members")
                    .iter()
                    .any(|m| m == "alice");
            }
        };
        assert_eq!(
            in_memory, in_store,
            "round {round}: the session and the store"
        );
        assert_eq!(
            in_memory, listed,
            "round {round}: the session and the room's list"
        );
        drop((a, b, fresh));
        if in_memory {
            let (mut c, _) = Client::resume(&server, &token).await;
            c.send(json!({"type":"leave","room":"race"})).await;
            while c.recv().await["type"] != "left" {}
        }
    }
}

/// The person the session with this token belongs to, as the store has it.
async fn stored_person(store: &Store, token: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    store
        .people()
        .session_by_hash(&hash, "2000-01-01T00:00:00.000Z")
        .await
        .expect("read")
        .expect("the token's session is stored")
        .person
        .id
}

#[tokio::test]
async fn a_hello_naming_rooms_in_since_creates_none() {
    let data = DataDir::new();
    let server = TestServer::start_on(data.clone(), test_config(&data)).await;
    let since: serde_json::Map<String, Value> = (0..49)
        .map(|i| (format!("made-up-{i}"), json!(0)))
        .collect();
    let mut client = Client::connect(&server).await;
    client
        .send(json!({"type":"hello","nick":"curious","since":since}))
        .await;
    let welcome = client.recv().await;
    assert_eq!(rooms_of(&welcome), ["general"]);
    let store = Store::open(&data.store()).await.expect("store");
    assert!(
        store.rooms().room_count().await.expect("count") <= 1,
        "only general, if anything"
    );
    store.close().await;
    let metrics = http(&server, "GET", "/metrics", &[], "").await;
    assert!(metrics.contains("chinwag_rooms_live 1"), "{metrics}");
}

#[tokio::test]
async fn a_session_made_by_the_form_is_found_by_any_path() {
    let server = TestServer::start().await;
    let token = crate::common::join_by_form(&server, "%EF%BD%81nn").await;
    let (_, welcome) = Client::resume(&server, &token).await;
    assert_eq!(
        welcome["nick"], "ann",
        "shown normalized (fullwidth ａ is a)"
    );
}
