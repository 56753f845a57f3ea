//! Memory against the real binary (its resident set, from /proc): what a client can make the
//! server hold is bounded, and freed when the client is gone.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Client, Process, TempDir};

/// Limits opened wide: these tests measure memory, not rates.
const WIDE: &[(&str, &str)] = &[
    ("CHINWAG_RATE_PER_SEC", "100000"),
    ("CHINWAG_MAX_UNANSWERED", "100000"),
    ("CHINWAG_MAX_STRANGERS_PER_DAY", "100000"),
    ("CHINWAG_BAN_REACH", "1ms"),
    ("CHINWAG_ADDRESS_RATE_PER_SEC", "100000"),
    ("CHINWAG_ADDRESS_RATE_BURST", "100000"),
    ("CHINWAG_NEW_CONNECTIONS_PER_SEC", "100000"),
    ("CHINWAG_NEW_CONNECTIONS_BURST", "100000"),
    ("CHINWAG_CATCH_UP_PER_SEC", "10000000"),
    ("CHINWAG_CATCH_UP_BURST", "10000000"),
    ("CHINWAG_RENAMES_PER_HOUR", "100000"),
    ("CHINWAG_RENAMES_BURST", "100000"),
    ("CHINWAG_RATE_BURST", "100000"),
    ("CHINWAG_FRAMES_PER_SEC", "100000"),
    ("CHINWAG_FRAMES_BURST", "100000"),
    ("CHINWAG_ROOMS_PER_MINUTE", "1000000"),
    ("CHINWAG_ROOMS_BURST", "1000000"),
    ("CHINWAG_SESSIONS_PER_MINUTE", "1000000"),
    ("CHINWAG_SESSIONS_BURST", "1000000"),
    ("CHINWAG_MAX_ROOMS", "100000"),
];

/// The server's RSS once it stops moving: two readings 100 ms apart within 256 KiB of each other
/// (at most 5 s of readings).
async fn settled_rss(server: &Process) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut last = server.rss_kib();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = server.rss_kib();
        if now.abs_diff(last) < 256 || std::time::Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Waits until the server (on loopback) reports `open` websockets.
async fn connections_open(server: &Process, open: u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        let request = format!(
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut body = String::new();
        let _ = stream.read_to_string(&mut body).await;
        let count = body
            .lines()
            .find_map(|l| l.strip_prefix("chinwag_connections "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if count == Some(open as f64) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open} websockets open (the server says {count:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates rooms `from..from + 1000` one by one, and leaves each.
async fn abandon_rooms(client: &mut Client, from: usize) {
    for i in from..from + 1000 {
        let room = format!("room-{i}");
        client.send(json!({"type":"join","room":room})).await;
        while client.recv().await["type"] != "history" {}
        client.send(json!({"type":"leave","room":room})).await;
        while client.recv().await["type"] != "left" {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_abandoned_a_second_time_cost_no_new_memory() {
    let dir = TempDir::new("rooms-rss");
    let server = Process::start(&dir.0, WIDE);
    let mut client = Client::connect_url(&server.ws_url()).await;
    assert_eq!(client.hello("roamer").await["type"], "welcome");
    abandon_rooms(&mut client, 0).await;
    let after_first = settled_rss(&server).await;
    abandon_rooms(&mut client, 1000).await;
    let after_second = settled_rss(&server).await;
    assert!(
        after_second <= after_first + 2048,
        "1000 more abandoned rooms grew the server from {after_first} KiB to {after_second} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_their_catch_up_hold_little_and_free_it() {
    let dir = TempDir::new("reader-rss");
    let server = Process::start(&dir.0, WIDE);
    let mut writer = Client::connect_url(&server.ws_url()).await;
    assert_eq!(writer.hello("writer").await["type"], "welcome");
    let text = "é".repeat(4000);
    for i in 0..400 {
        writer.say(&text, &format!("w-{i}")).await;
        while writer.recv().await["type"] != "ack" {}
    }
    let before = settled_rss(&server).await;
    let mut silent = Vec::new();
    for i in 0..20 {
        let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .expect("connect");
        let hello = json!({"type":"hello","nick":format!("silent{i}"),"since":{"general":0}});
        ws.send(Message::text(hello.to_string()))
            .await
            .expect("hello");
        silent.push(ws);
    }
    // All of them connected and their catch-ups under way (each waiting on a socket nobody reads).
    connections_open(&server, 21).await;
    let holding = settled_rss(&server).await;
    assert!(
        holding < before + 40 * 1024,
        "20 clients that never read their 3 MB catch-up: {before} KiB before, {holding} KiB now"
    );
    drop(silent);
    // Freed memory goes back to the system within the server's maintenance interval (10 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut after = settled_rss(&server).await;
    while after >= before + 8 * 1024 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        after = server.rss_kib();
    }
    assert!(
        after < before + 8 * 1024,
        "and after they left: {before} KiB before, {after} KiB after"
    );
    // The server is still fine.
    writer.say("still here", "w-last").await;
    while writer.recv().await["type"] != "ack" {}
}
