//! Stored history over the real protocol: what a newcomer sees, exact catch-up with `since`, the
//! seam between catch-up and live traffic, and messages surviving a restart.

use std::time::Duration;

use crate::common::{
    get_as, http, join_by_form, session_cookie, test_config, Client, TestServer, FORM,
};
use serde_json::{json, Value};

fn seqs(history: &Value) -> Vec<u64> {
    history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect()
}

/// The chat page's first frames, as the server wrote them into the page for the island.
fn first_frames(page: &str) -> &str {
    page.split_once(r#"<script type="application/json" id="cw-init">"#)
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(init, _)| init)
        .expect("the chat's first frames")
}

async fn post(client: &mut Client, n: usize, tag: &str) -> Vec<u64> {
    let mut acked = Vec::new();
    for i in 0..n {
        client
            .say(&format!("{tag}{i}"), &format!("{tag}-{i}"))
            .await;
        let ack = client.expect_frame("ack").await;
        acked.push(ack["seq"].as_u64().expect("seq"));
    }
    acked
}

#[tokio::test]
async fn a_newcomer_gets_the_latest_messages_shaped_like_message_frames() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    post(&mut alice, 60, "m").await;

    let mut bob = Client::connect(&server).await;
    bob.send(json!({"type":"hello","nick":"bob"})).await;
    assert_eq!(bob.recv().await["type"], "welcome");
    let history = bob.recv().await;
    assert_eq!(history["type"], "history");
    assert_eq!(history["room"], "general");
    assert_eq!(history["complete"], false, "60 messages, 50 shown");
    assert_eq!(seqs(&history), (11..=60).collect::<Vec<_>>());
    let first = &history["messages"][0];
    assert_eq!(first["type"], "message");
    assert_eq!(
        (
            first["from"].as_str(),
            first["text"].as_str(),
            first["client_id"].as_str()
        ),
        (Some("alice"), Some("m10"), Some("m-10"))
    );
}

#[tokio::test]
async fn reconnecting_with_since_gets_exactly_what_was_missed_then_live() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let (bob, token) = Client::join_session(&server, "bob").await;
    post(&mut alice, 3, "a").await;
    drop(bob); // bob saw up to seq 3, say, then his train entered a tunnel
    let missed = post(&mut alice, 7, "b").await;

    let (mut bob, welcome, history) = Client::resume_since(&server, &token, Some(3)).await;
    assert_eq!(welcome["nick"], "bob");
    assert_eq!(history["complete"], true);
    assert_eq!(seqs(&history), missed, "exactly the missed ones, in order");

    // Live traffic continues right after, with nothing repeated.
    let live = post(&mut alice, 2, "c").await;
    for seq in live {
        assert_eq!(bob.recv_chat().await["seq"], seq);
    }
    bob.expect_no_chat(Duration::from_millis(300)).await;

    // Up to date: an empty catch-up.
    let (_bob2, _, history) = Client::resume_since(&server, &token, Some(12)).await;
    assert!(seqs(&history).is_empty());
}

#[tokio::test]
async fn messages_posted_during_catch_up_are_neither_lost_nor_doubled() {
    let server = TestServer::start().await;
    let (bob, token) = Client::join_session(&server, "bob").await;
    drop(bob);
    // The writer says how far it got, and waits for the reader to be back before it goes on, so
    // the catch-up certainly meets live traffic.
    let posted = std::sync::Arc::new(tokio::sync::Notify::new());
    let resumed = std::sync::Arc::new(tokio::sync::Notify::new());
    let writer = tokio::spawn({
        let mut alice = Client::join(&server, "alice").await;
        let (posted, resumed) = (posted.clone(), resumed.clone());
        async move {
            let mut acked = post(&mut alice, 100, "w").await;
            posted.notify_one();
            resumed.notified().await;
            acked.extend(post(&mut alice, 100, "v").await);
            acked
        }
    });
    posted.notified().await;
    let (mut bob, _, mut history) = Client::resume_since(&server, &token, Some(0)).await;
    resumed.notify_one();
    let mut got = seqs(&history);
    // A catch-up longer than a frame comes in several, all but the last with `more`.
    while history["more"] == true {
        history = bob.expect_frame("history").await;
        got.extend(seqs(&history));
    }
    let caught_up = got.len();
    let acked = writer.await.expect("writer");
    while got.last() != acked.last() {
        let frame = bob.recv_chat().await;
        assert_eq!(frame["type"], "message", "{frame}");
        got.push(frame["seq"].as_u64().expect("seq"));
    }
    assert!(
        caught_up >= 100,
        "the first 100 came by catch-up: {caught_up}"
    );
    assert!(got.len() > caught_up, "and the rest live");
    assert_eq!(got, acked, "every message once, in order");
}

#[tokio::test]
async fn a_gap_too_large_to_fill_is_answered_with_the_latest_page_and_reset() {
    let data = crate::common::DataDir::new();
    let mut config = test_config(&data);
    config.limits.catch_up_limit = 1000;
    let server = TestServer::start_on(data, config).await;
    let (bob, token) = Client::join_session(&server, "bob").await;
    drop(bob);
    let mut alice = Client::join(&server, "alice").await;
    post(&mut alice, 1100, "x").await;
    let (_bob, _, history) = Client::resume_since(&server, &token, Some(1)).await;
    assert_eq!(history["reset"], true);
    assert_eq!(seqs(&history), (1051..=1100).collect::<Vec<_>>());
}

#[tokio::test]
async fn messages_and_sessions_survive_a_restart_and_seqs_continue() {
    let server = TestServer::start().await;
    let data = server.data.clone();
    let (mut alice, token) = Client::join_session(&server, "alice").await;
    let before = post(&mut alice, 5, "r").await;
    alice.send(json!({"type":"nick","nick":"alicia"})).await;
    alice.expect_frame("renamed").await;
    drop(alice);
    server.shutdown().await;

    let server = TestServer::start_on(data.clone(), test_config(&data)).await;
    // Alice's session survived, under her new name, and she catches up exactly.
    let (mut alice, welcome, history) = Client::resume_since(&server, &token, Some(3)).await;
    assert_eq!(welcome["nick"], "alicia");
    assert_eq!(seqs(&history), [4, 5]);
    // A message she resends after the restart (its ack was lost, say) is recognised, not doubled.
    alice.say("r4", "r-4").await;
    assert_eq!(alice.expect_frame("ack").await["seq"], before[4]);
    let mut carol = Client::connect(&server).await;
    carol.send(json!({"type":"hello","nick":"carol"})).await;
    assert_eq!(carol.recv().await["type"], "welcome");
    let history = carol.recv().await;
    assert_eq!(seqs(&history), before);
    carol.say("after the restart", "c-1").await;
    assert_eq!(carol.expect_frame("ack").await["seq"], 6);
}

#[tokio::test]
async fn a_message_is_acked_only_once_it_is_stored() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    alice.say("durable", "c-1").await;
    let ack = alice.expect_frame("ack").await;
    // Read the store directly: the acked message is there under the acked seq.
    let store = chinwag::server::store::Store::open(&server.data.store())
        .await
        .expect("open");
    let page = store
        .messages()
        .history("general", None, 10)
        .await
        .expect("history");
    let stored = page.messages().last().expect("stored");
    assert_eq!(
        (stored.seq, stored.text.as_str()),
        (ack["seq"].as_u64().unwrap_or(0), "durable")
    );
    store.close().await;
}

#[tokio::test]
async fn without_javascript_the_page_shows_history_and_the_form_posts_to_everyone() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    alice.say("said <b>earlier</b>", "c-1").await;
    alice.expect_frame("ack").await;

    // Dana has no JavaScript: a nickname by form, the page with history, a post by form.
    let token = join_by_form(&server, "dana").await;
    let page = get_as(&server, "/", &token).await;
    assert!(
        page.contains("said &lt;b&gt;earlier&lt;/b&gt;"),
        "history in the HTML, escaped"
    );
    assert!(page.contains(r#"action="/say""#));
    // The history is in the page once: the chat island reads it back from the rendered lines, so
    // neither its first frames nor any hydration data repeat it.
    assert_eq!(page.matches("earlier").count(), 1, "{page}");
    let frames: Vec<Value> = first_frames(&page)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a frame per line"))
        .collect();
    assert_eq!(frames[0]["type"], "welcome");
    assert_eq!(frames[0]["nick"], "dana");
    assert_eq!(frames[1]["type"], "history");
    assert_eq!(frames[1]["messages"], json!([]));
    assert!(page.contains("<leptos-island"), "the chat is an island");

    let cookie = session_cookie(&token);
    let headers = [FORM, ("cookie", cookie.as_str())];
    let posted = http(&server, "POST", "/say", &headers, "text=hello+from+a+form").await;
    assert!(posted.starts_with("HTTP/1.1 303"), "{posted}");
    let live = alice.recv_chat().await;
    assert_eq!(
        (live["from"].as_str(), live["text"].as_str()),
        (Some("dana"), Some("hello from a form"))
    );
    let page = get_as(&server, "/", &token).await;
    assert!(page.contains("hello from a form"));

    // Refusals come back as an error the page explains; without a session, nothing is posted.
    let long = format!("text={}", "x".repeat(4001));
    let refused = http(&server, "POST", "/say", &headers, &long).await;
    assert!(refused.contains("location: /?error=too_long"), "{refused}");
    let anonymous = http(&server, "POST", "/say", &[FORM], "text=hi").await;
    assert!(
        anonymous.contains("location: /?error=bad_session"),
        "{anonymous}"
    );
    alice.expect_no_chat(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn the_chat_page_says_its_own_hello_which_asks_only_for_what_is_newer() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let seqs = post(&mut alice, 3, "before").await;
    let token = join_by_form(&server, "erin").await;
    let page = get_as(&server, "/", &token).await;

    // The page opens the socket itself, in a script the CSP nonce allows, while the wasm loads;
    // its hello continues from the last message rendered.
    let (_, script) = page
        .split_once("<script nonce=\"")
        .expect("an inline script with the nonce");
    let script = script
        .split_once("</script>")
        .map(|(s, _)| s)
        .expect("closed");
    assert!(script.contains("new WebSocket("), "{script}");
    let hello = script
        .split_once("w.send(")
        .and_then(|(_, rest)| rest.split_once(");w.onmessage"))
        .map(|(hello, _)| hello)
        .expect("the hello");
    let hello: String = serde_json::from_str(hello).expect("a JSON string");
    let frame: Value = serde_json::from_str(&hello).expect("a JSON frame");
    assert_eq!(frame["type"], "hello");
    assert_eq!(frame["since"]["general"], json!(seqs[2]));

    // Said on a socket with the session's cookie: welcomed, and only what came after the page.
    let after = post(&mut alice, 1, "after").await;
    let mut erin = Client::connect_with_cookie(&server, &token).await;
    erin.send_text(&hello).await;
    let welcome = erin.expect_frame("welcome").await;
    assert_eq!(welcome["nick"], "erin");
    let history = erin.expect_frame("history").await;
    let seqs_caught_up: Vec<u64> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["seq"].as_u64())
        .collect();
    assert_eq!(seqs_caught_up, after);
}

#[tokio::test]
async fn scrolling_up_asks_for_the_page_before_the_oldest_shown() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    post(&mut alice, 120, "p").await;
    alice
        .send(json!({"type":"history","room":"general","before":71}))
        .await;
    let page = alice.expect_frame("history").await;
    assert_eq!(page["before"], 71);
    assert_eq!(page["complete"], false);
    assert_eq!(seqs(&page), (21..=70).collect::<Vec<_>>());
    alice
        .send(json!({"type":"history","room":"general","before":21}))
        .await;
    let page = alice.expect_frame("history").await;
    assert_eq!(page["complete"], true);
    assert_eq!(seqs(&page), (1..=20).collect::<Vec<_>>());
    alice
        .send(json!({"type":"history","room":"elsewhere","before":5}))
        .await;
    assert_eq!(alice.recv_chat().await["code"], "unknown_room");
}

#[tokio::test]
async fn a_session_whose_name_was_taken_cannot_post_under_it_by_form() {
    let data = crate::common::DataDir::new();
    let mut config = test_config(&data);
    config.sessions.idle_hold = Duration::ZERO;
    let server = TestServer::start_on(data, config).await;
    let token = join_by_form(&server, "zed").await;
    // Zed never connects; with no hold, the name is free, and someone else takes it.
    let mut other_zed = Client::join(&server, "zed").await;
    let cookie = session_cookie(&token);
    let headers = [FORM, ("cookie", cookie.as_str())];
    let refused = http(&server, "POST", "/say", &headers, "text=it+is+me").await;
    assert!(
        refused.contains("location: /?error=bad_session"),
        "{refused}"
    );
    other_zed.expect_no_chat(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_nickname_cannot_close_the_page_s_first_frames() {
    let server = TestServer::start().await;
    let token = join_by_form(&server, "x%3C%2Fscript%3Ey").await;
    let page = get_as(&server, "/", &token).await;
    let init = first_frames(&page);
    let welcome: Value = serde_json::from_str(init.lines().next().expect("welcome")).expect("json");
    assert_eq!(welcome["nick"], "x</script>y");
    assert!(!init.contains('<'), "{init}");
}

#[tokio::test]
async fn a_permalink_renders_the_messages_around_its_message_with_it_highlighted() {
    let server = TestServer::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut seqs = Vec::new();
    for i in 0..80 {
        alice.say(&format!("word{i:03}"), &format!("w-{i}")).await;
        seqs.push(
            alice.expect_frame("ack").await["seq"]
                .as_u64()
                .expect("seq"),
        );
    }
    let token = join_by_form(&server, "dana").await;
    let shown = |page: &str| -> Vec<usize> {
        (0..80)
            .filter(|i| page.contains(&format!("word{i:03}")))
            .collect()
    };

    // Readable without JavaScript: the 25 before, the message, the 25 after, and it is marked.
    let page = get_as(&server, &format!("/r/general?at={}", seqs[40]), &token).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert_eq!(shown(&page), (15..=65).collect::<Vec<_>>());
    let line = page
        .split("<li")
        .find(|item| item.contains(&format!("data-id=\"general:{}\"", seqs[40])))
        .and_then(|item| item.split_once('>'))
        .map(|(attributes, _)| attributes)
        .expect("the message's line");
    assert!(line.contains("jumped"), "{line}");
    assert_eq!(
        page.matches(" jumped").count(),
        1,
        "only that line is marked"
    );
    // The socket the page opens asks for what came after the last message shown.
    assert!(
        page.contains(&format!(r#"\"general\":{}"#, seqs[65])),
        "{page}"
    );

    // Near the room's start and end the window is what there is; the room's page is its latest.
    let first = get_as(&server, &format!("/r/general?at={}", seqs[2]), &token).await;
    assert_eq!(shown(&first), (0..=27).collect::<Vec<_>>());
    let last = get_as(&server, &format!("/r/general?at={}", seqs[79]), &token).await;
    assert_eq!(shown(&last), (54..80).collect::<Vec<_>>());
    let latest = get_as(&server, "/", &token).await;
    assert_eq!(shown(&latest), (30..80).collect::<Vec<_>>());
    assert!(!latest.contains(" jumped"));
    // Not a position: the room's latest page.
    let junk = get_as(&server, "/r/general?at=x1", &token).await;
    assert_eq!(shown(&junk), (30..80).collect::<Vec<_>>());
}
