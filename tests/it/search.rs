//! Search against a real server, on SQLite and on PostgreSQL: it finds what the person may read
//! (their rooms, their own private messages), folds case and accents, takes prefixes, phrases and
//! filters, pages newest first, and never shows a message from a room they left or were never in,
//! someone else's private message, a deleted message, or an edited one by its old words.

use serde_json::{json, Value};

use crate::common::*;

async fn say_in(client: &mut Client, room: &str, text: &str, id: &str) -> u64 {
    client
        .send(json!({"type":"say","room":room,"text":text,"client_id":id}))
        .await;
    loop {
        let frame = until_frame(client, "ack").await;
        if frame["client_id"] == id {
            return frame["seq"].as_u64().expect("seq");
        }
    }
}

async fn join(client: &mut Client, room: &str) {
    client.send(json!({"type":"join","room":room})).await;
    until_frame(client, "joined").await;
}

/// The texts of one page of hits for `q`, and the whole answer.
async fn search(client: &mut Client, q: &str, before: Option<&str>) -> (Vec<String>, Value) {
    let mut frame = json!({"type":"search","q":q,"id":"s-1"});
    if let Some(before) = before {
        frame["before"] = json!(before);
    }
    client.send(frame).await;
    let answer = loop {
        let frame = client.recv().await;
        if frame["type"] == "results" || (frame["type"] == "error" && frame["reply_to"] == "s-1") {
            break frame;
        }
    };
    let texts = answer["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .map(|hit| hit["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (texts, answer)
}

async fn finds_only_what_one_may_read(server: &TestServer) {
    let (mut alice, _) = Client::join_session(server, "alice").await;
    let (mut bob, _) = Client::join_session(server, "bob").await;
    let (mut carol, _) = Client::join_session(server, "carol").await;

    join(&mut alice, "ops").await;
    join(&mut bob, "ops").await;
    say_in(&mut bob, "ops", "deploy the Staging DB tonight", "b-1").await;
    join(&mut carol, "hidden").await;
    say_in(&mut carol, "hidden", "deploy hidden plans", "c-1").await;
    join(&mut alice, "gone").await;
    join(&mut bob, "gone").await;
    say_in(&mut bob, "gone", "deploy leftovers", "b-2").await;
    alice.send(json!({"type":"leave","room":"gone"})).await;
    until_frame(&mut alice, "left").await;
    bob.send(json!({"type":"dm","to":"carol","text":"deploy secret between us","client_id":"b-3"}))
        .await;
    until_frame(&mut bob, "ack").await;
    bob.send(json!({"type":"dm","to":"alice","text":"deploy direct note","client_id":"b-4"}))
        .await;
    until_frame(&mut bob, "ack").await;
    say_in(&mut alice, "general", "Déployé au café", "a-1").await;
    let doomed = say_in(&mut alice, "general", "deploy to be deleted", "a-2").await;
    alice
        .send(json!({"type":"delete","room":"general","seq":doomed,"client_id":"a-3"}))
        .await;
    until_frame(&mut alice, "deleted").await;
    let edited = say_in(&mut alice, "general", "ancient wording", "a-4").await;
    alice
        .send(json!({"type":"edit","room":"general","seq":edited,"text":"fresh deploy wording","client_id":"a-5"}))
        .await;
    until_frame(&mut alice, "edited").await;

    let (texts, answer) = search(&mut alice, "deploy", None).await;
    assert_eq!(answer["reply_to"], "s-1");
    assert_eq!(answer["q"], "deploy");
    assert_eq!(
        texts,
        [
            "fresh deploy wording",
            "Déployé au café",
            "deploy direct note",
            "deploy the Staging DB tonight"
        ],
        "newest first, the last word a prefix; not the hidden room, the room left, carol's DM \
         or the deleted message"
    );
    let hits = answer["hits"].as_array().expect("hits");
    assert_eq!(
        (&hits[0]["room"], &hits[0]["seq"]),
        (&json!("general"), &json!(edited))
    );
    assert_eq!(
        (&hits[2]["dm"], &hits[2]["from"]),
        (&json!("bob"), &json!("bob"))
    );
    assert!(hits[2]["id"].is_u64());
    assert_eq!(hits[0]["marks"], json!([[6, 12]]));
    assert_eq!(answer.get("more"), None);

    // Accents and case folded both ways; the last word is a prefix.
    assert_eq!(
        search(&mut alice, "CAFE deploye", None).await.0,
        ["Déployé au café"]
    );
    assert_eq!(search(&mut alice, "depl", None).await.0.len(), 4);
    assert_eq!(
        search(&mut alice, "ancient", None).await.0,
        Vec::<String>::new()
    );
    assert_eq!(
        search(&mut alice, "\"staging db\"", None).await.0,
        ["deploy the Staging DB tonight"]
    );
    assert_eq!(search(&mut alice, "\"db staging\"", None).await.0.len(), 0);
    assert_eq!(search(&mut alice, "deploy from:bob", None).await.0.len(), 2);
    assert_eq!(
        search(&mut alice, "deploy in:#ops", None).await.0,
        ["deploy the Staging DB tonight"]
    );
    assert_eq!(
        search(&mut alice, "deploy in:@bob", None).await.0,
        ["deploy direct note"]
    );
    assert_eq!(
        search(&mut alice, "deploy before:2000-01-01", None)
            .await
            .0
            .len(),
        0
    );
    assert_eq!(
        search(&mut alice, "deploy after:2000-01-01", None)
            .await
            .0
            .len(),
        3
    );
    // A finished word is a word, not a prefix.
    assert_eq!(search(&mut alice, "deploy ", None).await.0.len(), 3);
    // Carol finds general's, her own room's and the DM bob sent her; not ops, nor bob's DM to
    // alice.
    assert_eq!(
        search(&mut carol, "deploy", None).await.0,
        [
            "fresh deploy wording",
            "Déployé au café",
            "deploy secret between us",
            "deploy hidden plans"
        ]
    );
    // Refusals name the request.
    let (_, refused) = search(&mut alice, "from:bob", None).await;
    assert_eq!(
        (&refused["type"], &refused["code"]),
        (&json!("error"), &json!("bad_frame"))
    );
    let (_, refused) = search(&mut alice, "x from:nobody-here", None).await;
    assert_eq!(refused["code"], "unknown_user");
}

async fn pages_newest_first(server: &TestServer) {
    let (mut ana, _) = Client::join_session(server, "ana").await;
    join(&mut ana, "logs").await;
    for i in 0..45 {
        let room = if i % 3 == 0 { "logs" } else { "general" };
        say_in(
            &mut ana,
            room,
            &format!("build {i} passed"),
            &format!("c-{i}"),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut times = Vec::new();
    let mut before: Option<String> = None;
    for page in 0.. {
        let (texts, answer) = search(&mut ana, "build passed", before.as_deref()).await;
        assert!(texts.len() <= 20);
        seen.extend(texts);
        for hit in answer["hits"].as_array().expect("hits") {
            times.push(hit["at"].as_str().expect("at").to_owned());
        }
        if answer["more"] != true {
            assert_eq!(page, 2, "20 + 20 + 5");
            break;
        }
        before = Some(answer["next"].as_str().expect("next").to_owned());
    }
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first across pages and rooms: {times:?}"
    );
    // Messages of the same millisecond come in one fixed order (by room, then seq), so none is
    // lost or repeated at a page's edge.
    seen.sort();
    let mut expected: Vec<String> = (0..45).map(|i| format!("build {i} passed")).collect();
    expected.sort();
    assert_eq!(seen, expected, "every hit once");

    // One room pages by its own order (PostgreSQL walks the room's key): general's 30, in pages of
    // 20 and 10, newest first, none repeated or lost.
    let mut in_room = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let (texts, answer) = search(&mut ana, "passed in:#general", before.as_deref()).await;
        in_room.extend(texts);
        if answer["more"] != true {
            break;
        }
        before = Some(answer["next"].as_str().expect("next").to_owned());
    }
    let newest_first: Vec<String> = (0..45)
        .rev()
        .filter(|i| i % 3 != 0)
        .map(|i| format!("build {i} passed"))
        .collect();
    assert_eq!(in_room, newest_first);
}

#[tokio::test]
async fn sqlite_finds_only_what_one_may_read() {
    let server = TestServer::start().await;
    finds_only_what_one_may_read(&server).await;
}

#[tokio::test]
async fn sqlite_pages_newest_first() {
    let server = TestServer::start().await;
    pages_newest_first(&server).await;
}

#[tokio::test]
async fn postgres_finds_only_what_one_may_read() {
    let (_db, server) = start_on_postgres().await;
    finds_only_what_one_may_read(&server).await;
}

#[tokio::test]
async fn postgres_pages_newest_first() {
    let (_db, server) = start_on_postgres().await;
    pages_newest_first(&server).await;
}
