//! Floods that cost only the flooder: rooms, catch-ups nobody reads, private-message inboxes,
//! edits, invisible messages.
//!
//! The probe: 102 addresses filled the 1,000-room cap in 50 s, for good; 1,000 connections over 4
//! addresses asking for 5,000 missed messages each and never reading took the server from 29 to
//! 482 MB and a bystander's round trip to 1.5–2.7 s; 30 sessions from one address stored 5,786
//! private messages for one offline person in 20 s, who then got a `reset` and only the latest;
//! 198 edits of one message left a newcomer's first page without a message; a message of
//! zero-width spaces was accepted.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::{next, percentile, round_trips, start};
use crate::common::{admin, Client, Process, TempDir};
use chinwag::server::limits::Rate;

/// Joins `room`; returns the answer (`joined` or an error).
async fn join(client: &mut Client, room: &str) -> Value {
    client
        .send(json!({"type":"join","room":room,"id":format!("j-{room}")}))
        .await;
    loop {
        let frame = client.recv().await;
        if frame["reply_to"] == format!("j-{room}").as_str() {
            return frame;
        }
    }
}

#[tokio::test]
async fn rooms_are_capped_per_address_reclaimed_when_idle_and_deletable_by_the_operator() {
    let server = start(|config| {
        config.limits.max_rooms_per_addr = 3;
        config.limits.room_idle = Duration::from_secs(1);
    })
    .await;
    let mut spammer = Client::connect_from(&server, [127, 0, 0, 71]).await;
    assert_eq!(spammer.hello("spammer").await["type"], "welcome");
    for room in ["r1", "r2", "r3"] {
        assert_eq!(join(&mut spammer, room).await["type"], "joined");
    }
    let refused = join(&mut spammer, "r4").await;
    assert_eq!(refused["code"], "room_limit", "{refused}");
    // Someone else, elsewhere, can still make rooms.
    let mut other = Client::connect_from(&server, [127, 0, 0, 72]).await;
    assert_eq!(other.hello("other").await["type"], "welcome");
    assert_eq!(join(&mut other, "r4").await["type"], "joined");

    // A room written in, then left by everyone, goes once idle: its creator may make another.
    spammer
        .send(json!({"type":"say","room":"r1","text":"hello?","client_id":"s-1"}))
        .await;
    next(&mut spammer, "ack").await;
    spammer.send(json!({"type":"leave","room":"r1"})).await;
    next(&mut spammer, "left").await;
    let started = std::time::Instant::now();
    let listed = loop {
        let listed = admin(&server, &["rooms"]).await;
        if !listed.contains("r1\t") {
            break listed;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the idle room is reclaimed: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        listed.contains("r2\t") && listed.contains("r4\t"),
        "{listed}"
    );
    assert_eq!(join(&mut spammer, "r5").await["type"], "joined");

    // The operator deletes a room: its members are told they left it.
    let out = admin(&server, &["delete-room", "r4"]).await;
    assert!(out.contains("Deleted #r4"), "{out}");
    let left = next(&mut other, "left").await;
    assert_eq!(left["room"], "r4", "{left}");
}

#[tokio::test]
async fn an_inbox_takes_a_few_from_strangers_blocks_hold_and_nothing_is_cut_to_a_reset() {
    let server = start(|config| {
        config.limits.max_unanswered = 5;
        config.limits.max_strangers_per_day = 12;
    })
    .await;
    let (victim, victim_token) = Client::join_session(&server, "victim").await;
    drop(victim);
    // Five senders from one address, eight messages each, while the victim is away.
    let mut senders = Vec::new();
    let (mut stored, mut full) = (0, 0);
    for n in 0..5 {
        let mut sender = Client::connect_from(&server, [127, 0, 0, 81]).await;
        assert_eq!(sender.hello(&format!("sender{n}")).await["type"], "welcome");
        for i in 0..8 {
            let client_id = format!("d-{n}-{i}");
            sender
                .send(json!({"type":"dm","to":"victim","text":"buy now","client_id":client_id}))
                .await;
            let answer = loop {
                let frame = sender.recv().await;
                if frame["client_id"] == client_id.as_str() {
                    break frame;
                }
            };
            match (answer["type"].as_str(), answer["code"].as_str()) {
                (Some("ack"), _) => stored += 1,
                (Some("error"), Some("inbox_full")) => full += 1,
                _ => panic!("{answer}"),
            }
        }
        senders.push(sender);
    }
    assert_eq!(stored, 12, "the day's strangers' share");
    assert_eq!(full, 28);

    // Back, with what it had: exactly what was stored, however much, never a reset.
    let mut victim = Client::connect(&server).await;
    victim
        .send(json!({"type":"hello","session":victim_token,"dm_since":0}))
        .await;
    let mut ids = Vec::new();
    loop {
        let frame = next(&mut victim, "dm_history").await;
        assert!(frame.get("reset").is_none(), "{frame}");
        ids.extend(
            frame["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .map(|m| m["id"].as_u64().expect("id")),
        );
        if frame.get("more").is_none() {
            break;
        }
    }
    assert_eq!(ids.len(), 12, "{ids:?}");
    // Paging back through one conversation.
    let last = *ids.last().expect("an id");
    victim
        .send(json!({"type":"dm_history","before":last + 1,"with":"sender0","id":"p-1"}))
        .await;
    let page = next(&mut victim, "dm_history").await;
    assert_eq!(page["reply_to"], "p-1", "{page}");
    assert_eq!(page["complete"], true);
    assert!(page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .all(|m| m["from"] == "sender0"));

    // Answering makes a sender no stranger; blocking one stops them.
    victim
        .send(json!({"type":"dm","to":"sender0","text":"who are you?","client_id":"v-1"}))
        .await;
    next(&mut victim, "ack").await;
    victim
        .send(json!({"type":"block","nick":"sender1","id":"b-1"}))
        .await;
    let blocked = next(&mut victim, "blocked").await;
    assert_eq!(
        blocked,
        json!({"type":"blocked","nick":"sender1","blocked":true,"reply_to":"b-1"})
    );
    senders[0]
        .send(json!({"type":"dm","to":"victim","text":"a friend","client_id":"ok-0"}))
        .await;
    assert_eq!(next(&mut senders[0], "ack").await["client_id"], "ok-0");
    senders[1]
        .send(json!({"type":"dm","to":"victim","text":"again","client_id":"no-1"}))
        .await;
    let refused = next(&mut senders[1], "error").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    let (_tab, welcome) = Client::resume(&server, &victim_token).await;
    assert_eq!(welcome["blocked"], json!(["sender1"]), "{welcome}");
}

#[tokio::test]
async fn many_sessions_from_one_address_share_one_message_rate() {
    let server = start(|config| config.limits.messages_per_addr = Rate::new(5.0, 10.0)).await;
    let mut answers = Vec::new();
    for n in 0..4 {
        let mut client = Client::connect_from(&server, [127, 0, 0, 82]).await;
        assert_eq!(client.hello(&format!("many{n}")).await["type"], "welcome");
        for i in 0..6 {
            client.say("flood", &format!("f-{n}-{i}")).await;
        }
        for _ in 0..6 {
            let frame = loop {
                let frame = client.recv().await;
                if matches!(frame["type"].as_str(), Some("ack" | "error")) {
                    break frame;
                }
            };
            answers.push(frame);
        }
    }
    let limited: Vec<&Value> = answers
        .iter()
        .filter(|f| f["code"] == "rate_limited")
        .collect();
    assert!(limited.len() >= 10, "24 sent, a burst of 10: {answers:?}");
    assert!(limited[0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("from your address")));
    // Another address is not held up.
    let mut elsewhere = Client::connect_from(&server, [127, 0, 0, 83]).await;
    assert_eq!(elsewhere.hello("elsewhere").await["type"], "welcome");
    elsewhere.say("fine", "e-1").await;
    assert_eq!(next(&mut elsewhere, "ack").await["client_id"], "e-1");
}

#[tokio::test]
async fn a_message_with_nothing_visible_is_refused_everywhere() {
    let server = start(|_| {}).await;
    let mut alice = Client::join(&server, "alice").await;
    let _bob = Client::join(&server, "bob").await;
    for (i, blank) in [
        "\u{200b}\u{200b}\u{200b}",
        "\u{3164}",
        "\u{202e}\u{2066}",
        " \u{feff} ",
    ]
    .iter()
    .enumerate()
    {
        alice.say(blank, &format!("z-{i}")).await;
        let refused = next(&mut alice, "error").await;
        assert_eq!(refused["code"], "empty", "{blank:?}: {refused}");
        assert_eq!(refused["client_id"], format!("z-{i}"));
        alice
            .send(json!({"type":"dm","to":"bob","text":blank,"client_id":format!("dz-{i}")}))
            .await;
        assert_eq!(next(&mut alice, "error").await["code"], "empty");
    }
    alice.say("real", "r-1").await;
    let seq = next(&mut alice, "ack").await["seq"].as_u64().expect("seq");
    alice
        .send(json!({"type":"edit","room":"general","seq":seq,"text":"\u{200b}","id":"e"}))
        .await;
    assert_eq!(next(&mut alice, "error").await["code"], "empty");
}

#[tokio::test]
async fn edits_are_bounded_per_message_and_the_latest_page_always_holds_messages() {
    let server = start(|config| config.limits.max_edits = 30).await;
    let mut alice = Client::join(&server, "alice").await;
    let mut seqs = Vec::new();
    for i in 0..3 {
        alice.say(&format!("message {i}"), &format!("m-{i}")).await;
        seqs.push(next(&mut alice, "ack").await["seq"].as_u64().expect("seq"));
    }
    let target = seqs[2];
    for i in 0..30 {
        alice
            .send(json!({"type":"edit","room":"general","seq":target,"text":format!("edit {i}"),"client_id":format!("e-{i}")}))
            .await;
        next(&mut alice, "ack").await;
    }
    alice
        .send(json!({"type":"edit","room":"general","seq":target,"text":"one more","client_id":"e-x"}))
        .await;
    let refused = next(&mut alice, "error").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    // A newcomer's first page: the three messages as they are now, ending at the last position.
    let mut newcomer = Client::connect(&server).await;
    assert_eq!(newcomer.hello("newcomer").await["type"], "welcome");
    let page = next(&mut newcomer, "history").await;
    let entries = page["messages"].as_array().expect("messages");
    let messages: Vec<&Value> = entries.iter().filter(|e| e["type"] == "message").collect();
    assert_eq!(messages.len(), 3, "{page}");
    assert_eq!(messages[2]["text"], "edit 29");
    assert_eq!(entries.last().expect("an entry")["log_seq"], target + 30);
}

/// One websocket that asks for everything after seq 0 of `general` as a new session, and then never
/// reads again.
async fn never_reads(addr: SocketAddr, from: [u8; 4], nick: String) -> impl Sized {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind the source address");
    // A small window, as a slow or stalled phone's: the server's writes stop soon.
    socket.set_recv_buffer_size(8 * 1024).expect("buffer size");
    let stream = socket.connect(addr).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(
        format!("ws://{addr}/ws"),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("handshake");
    let hello = json!({"type":"hello","nick":nick,"since":{"general":0}});
    ws.send(Message::text(hello.to_string()))
        .await
        .expect("hello");
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_ups_nobody_reads_cost_the_server_little_and_a_bystander_nothing() {
    let dir = TempDir::new("catch-up");
    let server = Process::start(
        &dir.0,
        &[
            ("CHINWAG_RATE_PER_SEC", "100000"),
            ("CHINWAG_RATE_BURST", "100000"),
            ("CHINWAG_FRAMES_PER_SEC", "100000"),
            ("CHINWAG_FRAMES_BURST", "100000"),
            ("CHINWAG_ADDRESS_RATE_PER_SEC", "100000"),
            ("CHINWAG_ADDRESS_RATE_BURST", "100000"),
            ("CHINWAG_SESSIONS_PER_MINUTE", "100000"),
            ("CHINWAG_SESSIONS_BURST", "100000"),
            ("CHINWAG_NEW_CONNECTIONS_PER_SEC", "100000"),
            ("CHINWAG_NEW_CONNECTIONS_BURST", "100000"),
            // Not paced here: what is measured is what a connection holds while it waits for
            // a client that does not read, not what the pacing spares.
            ("CHINWAG_CATCH_UP_PER_SEC", "100000000"),
            ("CHINWAG_CATCH_UP_BURST", "100000000"),
        ],
    );
    // 5,000 messages of 4 KB: 20 MB of catch-up each, more than a socket's buffers hold, and a
    // store page of them (200 KB) more than the two frames a connection may hold.
    let mut writer = Client::connect_url(&server.ws_url()).await;
    writer.send(json!({"type":"hello","nick":"writer"})).await;
    next(&mut writer, "dm_history").await;
    let body = "x".repeat(4000);
    for chunk in 0..50 {
        for i in 0..100 {
            writer.say(&body, &format!("w-{chunk}-{i}")).await;
        }
        for _ in 0..100 {
            next(&mut writer, "ack").await;
        }
    }
    let mut bystander = Client::connect_url(&server.ws_url()).await;
    bystander
        .send(json!({"type":"hello","nick":"bystander"}))
        .await;
    next(&mut bystander, "dm_history").await;
    let quiet = round_trips(&mut bystander, 40, "q").await;
    // The writes above left freed memory in the allocator, resident and reused by what comes
    // next; the server gives it back every 10 s: measure from there.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let before = server.rss_kib();

    // 200 connections over 4 addresses, each asking for all 5,000, none ever reading.
    let mut silent = Vec::new();
    for n in 0..200u8 {
        let from = [127, 0, 0, 91 + n % 4];
        silent.push(never_reads(server.addr, from, format!("silent{n}")).await);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let during = round_trips(&mut bystander, 40, "f").await;
    let after = server.rss_kib();
    let grown = after.saturating_sub(before);
    eprintln!(
        "non-reading catch-ups: RSS {before} -> {after} KiB ({} KiB per connection); bystander \
         p50/p99 {:.1}/{:.1} ms quiet, {:.1}/{:.1} ms during",
        grown / 200,
        percentile(&quiet, 0.5),
        percentile(&quiet, 0.99),
        percentile(&during, 0.5),
        percentile(&during, 0.99),
    );
    assert!(
        grown < 200 * 160,
        "at most two frames (128 KiB) held per connection: grew {grown} KiB for 200"
    );
    assert!(
        percentile(&during, 0.99) < percentile(&quiet, 0.99) + 250.0,
        "a bystander is not held up: quiet {quiet:?}, during {during:?}"
    );
    drop(silent);
}
