//! Moderation and bots over the real protocol, against a running server, with the moderator made by
//! the real `chinwag admin` binary on the server's store: a moderator's delete, mute and ban (the
//! banned person's connections closed, their session and their address refused), the audit log,
//! `chinwag admin` lifting a ban and revoking a moderator while the server runs; a bot made by
//! `chinwag admin bot`, its name reserved, marked as a bot, and the protocol document's example bot
//! answering in a room.

use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::common::{admin, admin_output, get_as, http, make_moderator, Client, TestServer};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn post(client: &mut Client, text: &str, client_id: &str) -> u64 {
    client.say(text, client_id).await;
    let ack = next(client, "ack").await;
    ack["seq"].as_u64().expect("seq")
}

/// The first frame of `kind` whose `nick` is `nick`.
async fn frame_about(client: &mut Client, kind: &str, nick: &str) -> Value {
    loop {
        let frame = next(client, kind).await;
        if frame["nick"] == nick {
            return frame;
        }
    }
}

/// The next frame of `kind`, whatever comes before it (messages and moderation notices
/// interleave with the answers these tests wait for).
async fn next(client: &mut Client, kind: &str) -> Value {
    loop {
        let frame = client.recv().await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_made_by_chinwag_admin_deletes_mutes_and_bans() {
    let server = TestServer::start().await;
    let (mut moderator, mod_token) = Client::join_session(&server, "mod").await;
    let (mut bob, _) = Client::join_session(&server, "bob").await;
    let mut troll = Client::connect_from(&server, [127, 0, 0, 66]).await;
    assert_eq!(troll.hello("troll").await["type"], "welcome");

    // Not a moderator yet: refused at once.
    moderator
        .send(json!({"type":"mute","nick":"troll","seconds":600,"id":"m-0"}))
        .await;
    let refused = next(&mut moderator, "error").await;
    assert_eq!(
        (&refused["code"], &refused["reply_to"]),
        (&json!("forbidden"), &json!("m-0"))
    );

    make_moderator(&server, &mod_token).await;
    // The moderator's next connection is told it is one.
    let (mut moderator, welcome) = Client::resume(&server, &mod_token).await;
    assert_eq!(welcome["moderator"], true, "{welcome}");

    // A moderator deletes someone else's message; everyone sees it, naming the moderator.
    let seq = post(&mut troll, "buy cheap stuff", "t-1").await;
    assert_eq!(next(&mut bob, "message").await["seq"], seq);
    moderator
        .send(json!({"type":"delete","room":"general","seq":seq}))
        .await;
    let deleted = next(&mut bob, "deleted").await;
    assert_eq!(
        (&deleted["seq"], &deleted["by"]),
        (&json!(seq), &json!("mod"))
    );
    assert_eq!(next(&mut troll, "deleted").await["seq"], seq);

    // Someone who is not a moderator cannot do it.
    let bobs = post(&mut bob, "hello", "b-1").await;
    troll
        .send(json!({"type":"delete","room":"general","seq":bobs,"id":"d-1"}))
        .await;
    assert_eq!(next(&mut troll, "error").await["code"], "forbidden");
    bob.send(json!({"type":"ban","nick":"troll","seconds":60,"id":"b"}))
        .await;
    assert_eq!(next(&mut bob, "error").await["code"], "forbidden");

    // A mute: everyone is told; the person can read but not post, and is told until when.
    moderator
        .send(json!({"type":"mute","nick":"troll","seconds":600,"reason":"spam"}))
        .await;
    let told = frame_about(&mut bob, "moderated", "troll").await;
    assert_eq!(
        (&told["action"], &told["by"], &told["reason"]),
        (&json!("muted"), &json!("mod"), &json!("spam"))
    );
    let until = told["until"].as_str().expect("until").to_owned();
    assert_eq!(
        frame_about(&mut troll, "moderated", "troll").await["until"],
        until
    );
    troll.say("still here", "t-2").await;
    let muted = next(&mut troll, "error").await;
    assert_eq!(
        (&muted["code"], &muted["client_id"], &muted["until"]),
        (&json!("muted"), &json!("t-2"), &json!(until))
    );
    troll
        .send(json!({"type":"dm","to":"bob","text":"psst","client_id":"t-3"}))
        .await;
    assert_eq!(next(&mut troll, "error").await["code"], "muted");
    // Nor is a muted person shown typing.
    troll
        .send(json!({"type":"typing","room":"general","active":true}))
        .await;
    bob.expect_no_chat(std::time::Duration::from_millis(300))
        .await;

    // A ban: the connection is told why and closed; the session and the address are refused.
    moderator
        .send(json!({"type":"ban","nick":"troll","seconds":3600,"reason":"spam"}))
        .await;
    assert_eq!(
        frame_about(&mut bob, "moderated", "troll").await["action"],
        "banned"
    );
    let banned = next(&mut troll, "error").await;
    assert_eq!(banned["code"], "banned", "{banned}");
    assert!(
        banned["message"]
            .as_str()
            .is_some_and(|m| m.ends_with(": spam")),
        "the moderator's reason is stated: {banned}"
    );
    assert!(banned["until"].is_string());
    let (code, reason) = troll.closed_with_reason().await.expect("closed");
    assert_eq!((code, reason.as_str()), (CloseCode::Policy, "banned"));
    // A new session from the same address is refused for the ban's duration.
    let mut again = Client::connect_from(&server, [127, 0, 0, 66]).await;
    let refused = again.hello("innocent").await;
    assert_eq!(refused["code"], "banned", "{refused}");
    assert_eq!(
        again.closed_with_reason().await.map(|(c, _)| c),
        Some(CloseCode::Policy)
    );
    // Another address is welcome.
    let mut elsewhere = Client::connect_from(&server, [127, 0, 0, 67]).await;
    assert_eq!(elsewhere.hello("newcomer").await["type"], "welcome");

    // The audit log lists every action, newest first, over the protocol and with chinwag admin.
    moderator.send(json!({"type":"audit","id":"a-1"})).await;
    let log = next(&mut moderator, "audit_log").await;
    assert_eq!(log["reply_to"], "a-1");
    let actions: Vec<String> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["by"].as_str().unwrap_or(""),
                e["action"].as_str().unwrap_or(""),
                e["target"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            "mod ban troll",
            "mod mute troll",
            "mod delete troll",
            "mod moderator_added mod",
            "chinwag admin moderator_link ",
        ]
    );
    let printed = admin(&server, &["audit"]).await;
    assert!(printed.contains("\tmod\tban\ttroll\t"), "{printed}");
    let bans = admin(&server, &["bans"]).await;
    assert!(bans.contains("troll") && bans.contains("spam"), "{bans}");
    let moderators = admin(&server, &["moderators"]).await;
    assert!(moderators.starts_with("mod\t"), "{moderators}");
    let page = get_as(&server, "/moderation", &mod_token).await;
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("moderator_added"),
        "{page}"
    );
    let not_for_others = http(&server, "GET", "/moderation", &[], "").await;
    assert!(
        not_for_others.starts_with("HTTP/1.1 403"),
        "{not_for_others}"
    );

    // chinwag admin lifts the ban while the server runs: the address is welcome again at once.
    admin(&server, &["lift-ban", "troll"]).await;
    let mut back = Client::connect_from(&server, [127, 0, 0, 66]).await;
    assert_eq!(back.hello("reformed").await["type"], "welcome");

    // And revokes the moderator: the store refuses their next action.
    admin(&server, &["revoke-moderator", "mod"]).await;
    moderator
        .send(json!({"type":"mute","nick":"bob","seconds":60,"id":"m-9"}))
        .await;
    let refused = next(&mut moderator, "error").await;
    assert_eq!(
        (&refused["code"], &refused["reply_to"]),
        (&json!("forbidden"), &json!("m-9"))
    );
    let denied = admin_output(&server, &["revoke-moderator", "mod"]).await;
    assert!(!denied.status.success(), "revoking twice is an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_session_is_refused_until_the_ban_is_lifted() {
    let server = TestServer::start().await;
    let (_moderator, mod_token) = Client::join_session(&server, "mod").await;
    make_moderator(&server, &mod_token).await;
    let (mut moderator, _) = Client::resume(&server, &mod_token).await;
    let (mut carol, carol_token) = Client::join_session(&server, "carol").await;
    // Dave was here a moment ago: his session is still in the server's memory, without a
    // connection, when he is banned and muted.
    let (dave, dave_token) = Client::join_session(&server, "dave").await;
    drop(dave);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    moderator
        .send(json!({"type":"ban","nick":"dave","seconds":3600}))
        .await;
    frame_about(&mut moderator, "moderated", "dave").await;
    let mut dave = Client::connect_with_cookie(&server, &dave_token).await;
    dave.send(json!({"type":"hello"})).await;
    let refused = dave.recv().await;
    assert_eq!(
        refused["code"], "banned",
        "a ban while away holds: {refused}"
    );
    moderator
        .send(json!({"type":"ban","nick":"carol","seconds":3600}))
        .await;
    assert_eq!(next(&mut carol, "error").await["code"], "banned");
    // Coming back with the same session, from anywhere, is refused.
    let mut back = Client::connect_with_cookie(&server, &carol_token).await;
    back.send(json!({"type":"hello"})).await;
    let refused = back.recv().await;
    assert_eq!(refused["code"], "banned", "{refused}");
    admin(&server, &["lift-ban", "carol"]).await;
    let (_client, welcome) = Client::resume(&server, &carol_token).await;
    assert_eq!(welcome["nick"], "carol");
    // Bad requests are refused with a reason, never a crash.
    for (frame, code) in [
        (
            json!({"type":"mute","nick":"carol","seconds":0}),
            "bad_frame",
        ),
        (
            json!({"type":"mute","nick":"carol","seconds":10,"reason":"x".repeat(201)}),
            "too_long",
        ),
        (
            json!({"type":"ban","nick":"nobody","seconds":10}),
            "unknown_user",
        ),
        (json!({"type":"ban","nick":"mod","seconds":10}), "forbidden"),
        (json!({"type":"ban","nick":"","seconds":10}), "nick_invalid"),
        (
            json!({"type":"ban","nick":"carol","seconds":-1}),
            "bad_frame",
        ),
    ] {
        moderator.send(frame.clone()).await;
        assert_eq!(next(&mut moderator, "error").await["code"], code, "{frame}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_keeps_its_name_is_marked_and_the_example_bot_answers() {
    let server = TestServer::start().await;
    // The server has opened (and migrated) its store once it answers.
    let (mut alice, _) = Client::join_session(&server, "alice").await;
    let printed = admin(&server, &["bot", "helper"]).await;
    let token = printed.lines().next().expect("a token").to_owned();
    // The name is reserved while the bot is away.
    let mut someone = Client::connect(&server).await;
    assert_eq!(someone.hello("Helper").await["code"], "nick_taken");
    let taken = admin_output(&server, &["bot", "helper"]).await;
    assert!(
        !taken.status.success(),
        "a second bot of one name is refused"
    );

    // The protocol document's example bot, as its readers would run it.
    let example = std::path::Path::new(env!("CARGO_BIN_EXE_chinwag"))
        .parent()
        .expect("target dir")
        .join("examples/bot");
    assert!(
        example.exists(),
        "cargo test builds the example bot at {}",
        example.display()
    );
    let mut bot = Command::new(&example)
        .env("CHINWAG_URL", server.ws_url())
        .env("CHINWAG_BOT_TOKEN", &token)
        .stderr(Stdio::null())
        .spawn()
        .expect("start the example bot");
    let online = frame_about(&mut alice, "presence", "helper").await;
    assert_eq!(
        (&online["online"], &online["bot"]),
        (&json!(true), &json!(true))
    );
    let (mut late, welcome) = {
        let mut client = Client::connect(&server).await;
        let welcome = client.hello("late").await;
        (client, welcome)
    };
    assert_eq!(welcome["bots"], json!(["helper"]), "{welcome}");
    let _ = &mut late;

    alice.say("!ping", "a-1").await;
    let answer = loop {
        let frame = next(&mut alice, "message").await;
        if frame["from"] == "helper" {
            break frame;
        }
    };
    assert_eq!(answer["text"], "pong, alice");
    alice.say("!echo hello there", "a-2").await;
    let echo = loop {
        let frame = next(&mut alice, "message").await;
        if frame["from"] == "helper" {
            break frame;
        }
    };
    assert_eq!(echo["text"], "hello there");
    let _ = std::process::Command::new("kill")
        .arg(bot.id().to_string())
        .status();
    let _ = bot.wait();

    // A bot cannot rename.
    let mut direct = Client::connect(&server).await;
    direct.send(json!({"type":"hello","session":token})).await;
    assert_eq!(next(&mut direct, "welcome").await["nick"], "helper");
    direct.send(json!({"type":"nick","nick":"other"})).await;
    assert_eq!(next(&mut direct, "error").await["code"], "forbidden");
}

/// The protocol document shows the example bot as it is: the file CI runs.
#[test]
fn the_protocol_document_carries_the_example_bot_verbatim() {
    let doc = include_str!("../../docs/protocol.md");
    let example = include_str!("../../examples/bot.rs");
    assert!(
        doc.contains(example.trim_end()),
        "docs/protocol.md must contain examples/bot.rs verbatim"
    );
}
