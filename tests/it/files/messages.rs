//! Files on messages: posted with `say` and `dm`, delivered in the frames, read back in history,
//! readable by the room's members or the private message's parties only, gone with their message.

use std::time::Duration;

use serde_json::{json, Value};

use super::{fetch, upload};
use crate::common::*;

async fn join_room(client: &mut Client, room: &str) {
    client.send(json!({"type":"join","room":room})).await;
    client.expect_frame("joined").await;
}

/// Uploads `content` as `name` for `token`; the file's id and url.
async fn uploaded(
    server: &TestServer,
    token: &str,
    name: &str,
    content: &[u8],
) -> (String, String) {
    let answer = upload(server.addr, token, name, content).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let info = answer.json();
    (
        info["id"].as_str().expect("id").to_owned(),
        info["url"].as_str().expect("url").to_owned(),
    )
}

/// Waits for the next chat frame of `kind`, skipping notices.
async fn next_of(client: &mut Client, kind: &str) -> Value {
    client.expect_frame(kind).await
}

#[tokio::test]
async fn a_posted_file_reaches_the_room_and_only_its_members() {
    let server = TestServer::start().await;
    let (mut alice, alice_token) = Client::join_session(&server, "alice").await;
    let (mut carol, carol_token) = Client::join_session(&server, "carol").await;
    let (_bob, bob_token) = Client::join_session(&server, "bob").await;
    join_room(&mut alice, "ops").await;
    join_room(&mut carol, "ops").await;
    let (id, url) = uploaded(&server, &alice_token, "plan.txt", b"step one\n").await;
    alice
        .send(json!({"type":"say","room":"ops","text":"the plan","client_id":"f-1","files":[id]}))
        .await;
    let ack = next_of(&mut alice, "ack").await;
    assert_eq!(ack["client_id"], "f-1");
    let message = carol.recv_chat().await;
    assert_eq!(message["type"], "message");
    assert_eq!(message["files"][0]["id"], id.as_str());
    assert_eq!(message["files"][0]["name"], "plan.txt");
    assert_eq!(message["files"][0]["type"], "text/plain");
    assert_eq!(message["files"][0]["url"], url.as_str());
    let seen = fetch(server.addr, &carol_token, &url).await;
    assert_eq!(
        (seen.status, seen.body.as_slice()),
        (200, &b"step one\n"[..])
    );
    assert_eq!(
        fetch(server.addr, &bob_token, &url).await.status,
        404,
        "bob is not in ops"
    );
    // History carries it too.
    carol
        .send(json!({"type":"history","room":"ops","before":1000}))
        .await;
    let history = next_of(&mut carol, "history").await;
    let posted = history["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["text"] == "the plan"))
        .cloned()
        .expect("the message in history");
    assert_eq!(posted["files"][0]["id"], id.as_str());
    // Posted once: the same upload cannot go on a second message.
    alice
        .send(json!({"type":"say","room":"ops","text":"again","client_id":"f-2","files":[id]}))
        .await;
    let refused = next_of(&mut alice, "error").await;
    assert_eq!(refused["code"], "not_found");
}

#[tokio::test]
async fn someone_elses_upload_cannot_be_posted() {
    let server = TestServer::start().await;
    let (_alice, alice_token) = Client::join_session(&server, "alice").await;
    let (mut bob, _) = Client::join_session(&server, "bob").await;
    let (id, _) = uploaded(&server, &alice_token, "mine.txt", b"mine\n").await;
    bob.send(json!({"type":"say","room":"general","text":"","client_id":"b-1","files":[id]}))
        .await;
    let refused = next_of(&mut bob, "error").await;
    assert_eq!(refused["code"], "not_found");
    assert_eq!(refused["client_id"], "b-1");
    let eleven: Vec<String> = (0..11).map(|i| format!("id{i}")).collect();
    bob.send(json!({"type":"say","room":"general","text":"x","client_id":"b-2","files":eleven}))
        .await;
    assert_eq!(next_of(&mut bob, "error").await["code"], "bad_frame");
}

#[tokio::test]
async fn a_deleted_messages_file_is_gone() {
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.files.config.collect_every = Duration::from_millis(100);
    let server = TestServer::start_on(data.clone(), config).await;
    let (mut alice, token) = Client::join_session(&server, "alice").await;
    let content = b"to be deleted, with its message\n".repeat(10);
    let (id, url) = uploaded(&server, &token, "gone.txt", &content).await;
    // No text at all: a message may be only its files.
    alice
        .send(json!({"type":"say","room":"general","text":"","client_id":"d-1","files":[id]}))
        .await;
    let seq = next_of(&mut alice, "ack").await["seq"]
        .as_u64()
        .expect("seq");
    let blobs = data.0.join("files");
    let stored =
        |dir: &std::path::Path| -> usize { walk(dir).into_iter().filter(|p| p.is_file()).count() };
    assert_eq!(stored(&blobs), 1, "the upload is kept");
    alice
        .send(json!({"type":"delete","room":"general","seq":seq,"client_id":"d-2"}))
        .await;
    next_of(&mut alice, "deleted").await;
    assert_eq!(fetch(server.addr, &token, &url).await.status, 404);
    let deadline = tokio::time::Instant::now() + WAIT;
    while stored(&blobs) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the collector removes the bytes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn a_private_messages_file_is_for_its_two_parties() {
    let server = TestServer::start().await;
    let (mut alice, alice_token) = Client::join_session(&server, "alice").await;
    let (mut bob, bob_token) = Client::join_session(&server, "bob").await;
    let (_carol, carol_token) = Client::join_session(&server, "carol").await;
    let (id, url) = uploaded(&server, &alice_token, "secret.pdf", b"%PDF-1.7\n...").await;
    alice
        .send(json!({"type":"dm","to":"bob","text":"for you","client_id":"p-1","files":[id]}))
        .await;
    next_of(&mut alice, "ack").await;
    let dm = next_of(&mut bob, "dm").await;
    assert_eq!(dm["files"][0]["type"], "application/pdf");
    assert_eq!(fetch(server.addr, &bob_token, &url).await.status, 200);
    assert_eq!(fetch(server.addr, &carol_token, &url).await.status, 404);
}

#[tokio::test]
async fn an_upload_never_posted_is_swept() {
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.files.config.collect_every = Duration::from_millis(100);
    config.files.config.unposted_ttl = Duration::ZERO;
    let server = TestServer::start_on(data.clone(), config).await;
    let (_alice, token) = Client::join_session(&server, "alice").await;
    let answer = upload(server.addr, &token, "forgotten.txt", b"never posted\n").await;
    let url = answer.json()["url"].as_str().expect("url").to_owned();
    let deadline = tokio::time::Instant::now() + WAIT;
    while fetch(server.addr, &token, &url).await.status != 404 {
        assert!(tokio::time::Instant::now() < deadline, "swept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while !walk(&data.0.join("files")).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "its bytes are removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_form_without_javascript_posts_a_file() {
    let server = TestServer::start().await;
    let token = join_by_form(&server, "alice").await;
    let (_bob, bob_token) = Client::join_session(&server, "bob").await;
    let boundary = "no-js-boundary-31";
    let mut body = Vec::new();
    for (name, value) in [("room", "general"), ("text", "minutes attached")] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"minutes.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nwe agreed\r\n--{boundary}--\r\n"
        )
        .as_bytes(),
    );
    let cookie = session_cookie(&token);
    let kind = format!("multipart/form-data; boundary={boundary}");
    let posted = super::request(
        server.addr,
        "POST",
        "/say",
        &[("content-type", &kind), ("cookie", &cookie)],
        &body,
    )
    .await;
    assert_eq!(posted.status, 303, "{}", posted.head);
    assert!(
        !posted.header("location").unwrap_or("").contains("error"),
        "{}",
        posted.head
    );
    // The page shows it, as everyone's history does.
    let page = get_as(&server, "/", &bob_token).await;
    assert!(page.contains("minutes attached"), "the text is on the page");
    assert!(page.contains("minutes.txt"), "the file is on the page");
    let start = page.find("/files/").expect("a file link");
    let url: String = page[start..].chars().take_while(|c| *c != '"').collect();
    let served = fetch(server.addr, &bob_token, &url).await;
    assert_eq!(
        (served.status, served.body.as_slice()),
        (200, &b"we agreed"[..])
    );
}

#[tokio::test]
async fn deleting_yourself_deletes_your_files() {
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.files.config.collect_every = Duration::from_millis(100);
    let server = TestServer::start_on(data.clone(), config).await;
    let (mut ola, ola_token) = Client::join_session(&server, "ola").await;
    let (_pia, pia_token) = Client::join_session(&server, "pia").await;
    let (id, url) = uploaded(&server, &ola_token, "mine.txt", b"ola's notes\n").await;
    ola.send(json!({"type":"say","room":"general","text":"notes","client_id":"o-1","files":[id]}))
        .await;
    next_of(&mut ola, "ack").await;
    assert_eq!(fetch(server.addr, &pia_token, &url).await.status, 200);
    let cookie = session_cookie(&ola_token);
    let gone = super::request(
        server.addr,
        "POST",
        "/account/delete",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &cookie),
        ],
        b"confirm=ola&messages=keep",
    )
    .await;
    assert_eq!(gone.status, 200, "{}", gone.head);
    assert_eq!(fetch(server.addr, &pia_token, &url).await.status, 404);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !walk(&data.0.join("files")).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bytes are removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_muted_person_cannot_upload() {
    let server = TestServer::start().await;
    let (_moderator, mod_token) = Client::join_session(&server, "mod").await;
    let (_troll, troll_token) = Client::join_session(&server, "troll").await;
    make_moderator(&server, &mod_token).await;
    let (mut moderator, _) = Client::resume(&server, &mod_token).await;
    moderator
        .send(json!({"type":"mute","nick":"troll","seconds":600,"id":"m-1"}))
        .await;
    next_of(&mut moderator, "moderated").await;
    let refused = upload(server.addr, &troll_token, "spam.txt", b"spam\n").await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"], "muted");
}
