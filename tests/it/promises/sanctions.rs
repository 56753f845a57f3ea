//! Bans and mutes that hold: a second session made before a ban, a rename while muted, an IPv6
//! /64, the pages without JavaScript; lifting that is told; reasons that cannot forge a line of
//! the operator's output; a bot's token that can be replaced.
//!
//! The probe: a second session made before the ban from the same address still got `welcome`; a
//! muted person sent 100 renames in 10 s and everyone saw each; ESC, BEL and a newline in a reason
//! were printed raw by `chinwag admin bans` and `audit`.

use std::time::Duration;

use serde_json::json;

use super::{next, start};
use crate::common::{admin, get_as, http, make_moderator, Client, FORM};
use chinwag::server::limits::Rate;

/// A new session called `nick` from the local address `from`; returns it with its token.
async fn arrive_from(
    server: &crate::common::TestServer,
    from: [u8; 4],
    nick: &str,
) -> (Client, String) {
    let mut client = Client::connect_from(server, from).await;
    let welcome = client.hello(nick).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let token = welcome["session"].as_str().expect("a token").to_owned();
    next(&mut client, "dm_history").await;
    (client, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_covers_the_session_made_before_it_and_new_sessions_from_the_address() {
    let server = start(|_| {}).await;
    let (moderator, mod_token) = Client::join_session(&server, "mod").await;
    make_moderator(&server, &mod_token).await;
    let (mut moderator_tab, _) = Client::resume(&server, &mod_token).await;
    drop(moderator);
    let (_troll, _) = arrive_from(&server, [127, 0, 0, 61], "troll").await;
    // The second session, prepared before the ban from the same address.
    let (mut sock, sock_token) = arrive_from(&server, [127, 0, 0, 61], "sock").await;
    let (mut bystander, _) = arrive_from(&server, [127, 0, 0, 62], "bystander").await;

    moderator_tab
        .send(json!({"type":"ban","nick":"troll","seconds":3600,"reason":"spam","id":"b-1"}))
        .await;
    let told = next(&mut moderator_tab, "moderated").await;
    assert_eq!(told["reply_to"], "b-1", "{told}");
    // The prepared session is closed with the ban.
    let refused = next(&mut sock, "error").await;
    assert_eq!(refused["code"], "banned", "{refused}");
    assert_eq!(sock.closed().await.map(u16::from), Some(1008));
    // It comes back from anywhere: refused.
    let mut back = Client::connect_from(&server, [127, 0, 0, 63]).await;
    back.send(json!({"type":"hello","session":sock_token}))
        .await;
    assert_eq!(back.recv().await["code"], "banned");
    // A new session from the address: refused.
    let mut fresh = Client::connect_from(&server, [127, 0, 0, 61]).await;
    assert_eq!(fresh.hello("fresh").await["code"], "banned");
    // Without JavaScript, the banned session sees the ban and nothing else.
    let page = get_as(&server, "/", &sock_token).await;
    assert!(page.starts_with("HTTP/1.1 403"), "{page}");
    assert!(page.contains("banned you"), "{page}");
    assert!(
        !page.contains("class=\"messages\""),
        "no chat in it: {page}"
    );
    let cookie = crate::common::session_cookie(&sock_token);
    let joined = http(
        &server,
        "POST",
        "/rooms/join",
        &[("cookie", &cookie), FORM],
        "room=elsewhere",
    )
    .await;
    assert!(joined.contains("error=banned"), "{joined}");
    // Someone else from another address chats on.
    bystander.say("unaffected", "b-1").await;
    assert_eq!(next(&mut bystander, "ack").await["client_id"], "b-1");

    // Lifting the ban is told to everyone, and frees the prepared session too.
    moderator_tab
        .send(json!({"type":"unban","nick":"troll","id":"u-1"}))
        .await;
    let lifted = next(&mut moderator_tab, "moderated").await;
    assert_eq!(lifted["action"], "unbanned", "{lifted}");
    assert_eq!(lifted["reply_to"], "u-1");
    let told = next(&mut bystander, "moderated").await;
    assert_eq!(told["action"], "unbanned");
    assert!(
        told.get("reply_to").is_none(),
        "only the asker's copy: {told}"
    );
    let (_sock, welcome) = Client::resume(&server, &sock_token).await;
    assert_eq!(welcome["nick"], "sock", "{welcome}");
}

#[tokio::test]
async fn a_ban_holds_across_an_ipv6_slash_64() {
    let server =
        start(|config| config.http.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await;
    let (_moderator, mod_token) = Client::join_session(&server, "mod").await;
    make_moderator(&server, &mod_token).await;
    let (mut moderator, _) = Client::resume(&server, &mod_token).await;
    let from = |address: &'static str| [("x-forwarded-for", address)];
    let mut troll =
        Client::connect_with_headers(&server, [127, 0, 0, 1], &from("2001:db8:1:2::1")).await;
    assert_eq!(troll.hello("troll").await["type"], "welcome");
    moderator
        .send(json!({"type":"ban","nick":"troll","seconds":3600}))
        .await;
    next(&mut moderator, "moderated").await;
    // Another address of the same /64: still the banned network.
    let mut rotated =
        Client::connect_with_headers(&server, [127, 0, 0, 1], &from("2001:db8:1:2:ffff::9")).await;
    assert_eq!(rotated.hello("rotated").await["code"], "banned");
    // The next /64 is someone else.
    let mut neighbour =
        Client::connect_with_headers(&server, [127, 0, 0, 1], &from("2001:db8:1:3::1")).await;
    assert_eq!(neighbour.hello("neighbour").await["type"], "welcome");
}

#[tokio::test]
async fn a_muted_person_cannot_rename_and_renames_are_rate_limited() {
    let server = start(|config| config.limits.renames = Rate::per_hour(5.0, 3.0)).await;
    let (_moderator, mod_token) = Client::join_session(&server, "mod").await;
    make_moderator(&server, &mod_token).await;
    let (mut moderator, _) = Client::resume(&server, &mod_token).await;
    let mut troll = Client::join(&server, "troll").await;
    let mut bystander = Client::join(&server, "bystander").await;
    moderator
        .send(json!({"type":"mute","nick":"troll","seconds":3600}))
        .await;
    next(&mut troll, "moderated").await;
    for i in 0..5 {
        troll
            .send(json!({"type":"nick","nick":format!("FREE CRYPTO {i}"),"id":format!("n-{i}")}))
            .await;
        let refused = next(&mut troll, "error").await;
        assert_eq!(refused["code"], "muted", "{refused}");
        assert_eq!(refused["reply_to"], format!("n-{i}"));
    }
    // Nobody saw a rename.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(400);
    while let Ok(frame) = tokio::time::timeout_at(deadline, bystander.recv()).await {
        assert_ne!(frame["type"], "renamed", "{frame}");
    }
    // Anyone's renames: a few, then a wait.
    let mut chatty = Client::join(&server, "chatty").await;
    for i in 0..3 {
        chatty
            .send(json!({"type":"nick","nick":format!("chatty{i}")}))
            .await;
        assert_eq!(
            next(&mut chatty, "renamed").await["to"],
            format!("chatty{i}")
        );
    }
    chatty.send(json!({"type":"nick","nick":"chatty9"})).await;
    let refused = next(&mut chatty, "error").await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("renames")),
        "{refused}"
    );
}

#[tokio::test]
async fn a_mute_is_lifted_over_the_protocol_and_by_the_operator_and_everyone_is_told() {
    let server = start(|_| {}).await;
    let (_moderator, mod_token) = Client::join_session(&server, "mod").await;
    make_moderator(&server, &mod_token).await;
    let (mut moderator, _) = Client::resume(&server, &mod_token).await;
    let mut troll = Client::join(&server, "troll").await;
    let mut bystander = Client::join(&server, "bystander").await;
    for lift in ["protocol", "operator"] {
        moderator
            .send(json!({"type":"mute","nick":"troll","seconds":3600}))
            .await;
        assert_eq!(next(&mut troll, "moderated").await["action"], "muted");
        troll.say("let me", &format!("t-{lift}")).await;
        assert_eq!(next(&mut troll, "error").await["code"], "muted");
        if lift == "protocol" {
            moderator
                .send(json!({"type":"unmute","nick":"troll"}))
                .await;
        } else {
            let out = admin(&server, &["lift-mute", "troll"]).await;
            assert!(out.contains("Lifted the mute of troll"), "{out}");
        }
        for client in [&mut bystander, &mut troll] {
            loop {
                let told = next(client, "moderated").await;
                if told["action"] == "unmuted" {
                    assert_eq!(told["nick"], "troll", "{told}");
                    break;
                }
            }
        }
        troll.say("thanks", &format!("ok-{lift}")).await;
        assert_eq!(
            next(&mut troll, "ack").await["client_id"],
            format!("ok-{lift}")
        );
    }
    // A lift-ban for someone only muted says what to use instead.
    moderator
        .send(json!({"type":"mute","nick":"troll","seconds":3600}))
        .await;
    next(&mut troll, "moderated").await;
    let output = crate::common::admin_output(&server, &["lift-ban", "troll"]).await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("lift-mute"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn reasons_refuse_control_characters_and_the_operator_sees_stored_text_escaped() {
    let server = start(|_| {}).await;
    let (_moderator, mod_token) = Client::join_session(&server, "mod").await;
    make_moderator(&server, &mod_token).await;
    let (mut moderator, _) = Client::resume(&server, &mod_token).await;
    let _troll = Client::join(&server, "troll").await;
    for reason in [
        "spam\n2026-12-01T00:00:00.000Z\tmod\tban\tinnocent",
        "\u{1b}[2J\u{7}",
        "fine\u{202e}enif",
    ] {
        moderator
            .send(json!({"type":"ban","nick":"troll","seconds":60,"reason":reason,"id":"r"}))
            .await;
        let refused = next(&mut moderator, "error").await;
        assert_eq!(refused["code"], "bad_frame", "{reason:?}: {refused}");
        assert_eq!(refused["reply_to"], "r");
    }
    // Whatever is in the store (written by an older server, say) is printed escaped.
    let store = chinwag::server::store::Store::open(&server.data.store())
        .await
        .expect("store");
    store
        .moderation()
        .sanction(chinwag::server::store::SanctionDraft {
            kind: chinwag::server::store::SanctionKind::Ban,
            actor: 1,
            actor_nick: "mod".into(),
            target_key: "troll".into(),
            reason: "spam\n2026-12-01T00:00:00.000Z\tmod\tban\tinnocent\u{1b}[2J".into(),
            at: "2026-12-01T00:00:00.000Z".into(),
            until: "2999-01-01T00:00:00.000Z".into(),
            recent_since: "2999-01-01T00:00:00.000Z".into(),
        })
        .await
        .expect("sanction");
    store.close().await;
    for args in [&["bans"][..], &["audit"][..]] {
        let out = admin(&server, args).await;
        assert!(!out.contains('\u{1b}'), "{args:?}: {out:?}");
        assert!(
            !out.lines()
                .any(|l| l.starts_with("2026-12-01T00:00:00.000Z\tmod\tban\tinnocent")),
            "{args:?} printed a forged line: {out}"
        );
        assert!(out.contains("\\u{000A}"), "{args:?}: {out}");
    }
}

#[tokio::test]
async fn a_bots_token_can_be_replaced_and_the_old_one_stops_at_once() {
    let server = start(|_| {}).await;
    let printed = admin(&server, &["bot", "helper"]).await;
    let old = printed.lines().next().expect("a token").to_owned();
    let (mut bot, welcome) = Client::resume(&server, &old).await;
    assert_eq!(welcome["nick"], "helper");
    let printed = admin(&server, &["bot-token", "helper"]).await;
    let new = printed.lines().next().expect("a token").to_owned();
    assert_ne!(old, new);
    let ended = next(&mut bot, "error").await;
    assert_eq!(ended["code"], "bad_session", "{ended}");
    assert_eq!(
        bot.closed_with_reason()
            .await
            .map(|(code, reason)| (u16::from(code), reason)),
        Some((1008, "session revoked".to_owned()))
    );
    let mut again = Client::connect(&server).await;
    again.send(json!({"type":"hello","session":old})).await;
    assert_eq!(again.recv().await["code"], "bad_session");
    let (mut bot, welcome) = Client::resume(&server, &new).await;
    assert_eq!(welcome["nick"], "helper", "the new token works: {welcome}");
    // Revoked: its connection is closed, the token is nothing, the name is free again.
    admin(&server, &["revoke-bot", "helper"]).await;
    assert_eq!(next(&mut bot, "error").await["code"], "bad_session");
    bot.closed().await;
    let mut gone = Client::connect(&server).await;
    gone.send(json!({"type":"hello","session":new})).await;
    assert_eq!(gone.recv().await["code"], "bad_session");
    let mut taker = Client::connect(&server).await;
    assert_eq!(taker.hello("helper").await["type"], "welcome");
}
