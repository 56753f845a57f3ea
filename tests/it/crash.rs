//! Durability against the real binary: SIGKILL it (or SIGTERM it) while messages flow, start it again
//! on the same data directory, and check that no acked message was lost and every client converges on
//! one history. After SIGTERM the clients are also told to come back (close code 1012).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::Process;

/// The writers here post as fast as they can on purpose.
const FAST: &[(&str, &str)] = &[
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
];

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn hello(addr: SocketAddr, nick: &str, since: Option<u64>) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connect");
    let mut hello = json!({"type":"hello","nick":nick});
    if let Some(since) = since {
        hello["since"] = json!({ "general": since });
    }
    ws.send(Message::text(hello.to_string()))
        .await
        .expect("hello");
    ws
}

async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(crate::common::WAIT, ws.next())
            .await
            .ok()??
        {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// Posts `m0`, `m1`, ... (client ids `c-0`, ...) with `gap` between them, without waiting for acks;
/// at most 800 in all, so a restart's catch-up (up to 1000) returns every one of them.
async fn write_numbered(mut tx: futures_util::stream::SplitSink<Ws, Message>, gap: Duration) {
    for i in 0..800 {
        let say = json!({"type":"say","room":"general","text":format!("m{i}"),"client_id":format!("c-{i}")});
        if tx.send(Message::text(say.to_string())).await.is_err() {
            break;
        }
        tokio::time::sleep(gap).await;
    }
}

/// The `(seq, text)` an `ack` frame confirms (the text is `m<n>` for client id `c-<n>`).
fn ack_of(text: &str) -> Option<(u64, String)> {
    let frame: Value = serde_json::from_str(text).ok()?;
    if frame["type"] != "ack" {
        return None;
    }
    let n: u64 = frame["client_id"].as_str()?.get(2..)?.parse().ok()?;
    Some((frame["seq"].as_u64()?, format!("m{n}")))
}

/// Every `(seq, text)` in a history frame or message frame.
fn messages_of(frame: &Value) -> Vec<(u64, String)> {
    let one = |m: &Value| {
        (
            m["seq"].as_u64().unwrap_or(0),
            m["text"].as_str().unwrap_or("").to_owned(),
        )
    };
    match frame["type"].as_str() {
        Some("message") => vec![one(frame)],
        Some("history") => frame["messages"]
            .as_array()
            .map(|a| a.iter().map(one).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn sigkill_mid_stream_loses_no_acked_message() {
    let data = std::env::temp_dir().join(format!("chinwag-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut server = Process::start(&data, FAST);

    // Bob listens; Alice writes without waiting for acks, as fast as the server takes them.
    let mut bob = hello(server.addr, "bob", None).await;
    let mut seen_by_bob = Vec::new();
    let alice = hello(server.addr, "alice", None).await;
    let (alice_tx, mut alice_rx) = alice.split();
    let writer = tokio::spawn(write_numbered(alice_tx, Duration::from_micros(200)));
    let mut acked: Vec<(u64, String)> = Vec::new();
    // Kill the server once a few hundred messages are acked, while more are in flight.
    while acked.len() < 300 {
        match alice_rx.next().await {
            Some(Ok(Message::Text(text))) => {
                acked.extend(ack_of(&text));
            }
            _ => panic!("alice's connection ended before the kill"),
        }
        while let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::ZERO, bob.next()).await
        {
            let frame: Value = serde_json::from_str(&text).expect("json");
            seen_by_bob.extend(messages_of(&frame));
        }
    }
    server.kill();
    writer.abort();
    // Whatever else reached Alice or Bob before the kill counts too.
    while let Ok(Some(Ok(Message::Text(text)))) =
        tokio::time::timeout(Duration::from_millis(200), alice_rx.next()).await
    {
        acked.extend(ack_of(&text));
    }
    while let Some(frame) = tokio::time::timeout(Duration::from_millis(200), next(&mut bob))
        .await
        .ok()
        .flatten()
    {
        seen_by_bob.extend(messages_of(&frame));
    }

    // Start again on the same data: everything acked is there, gap-free and in order.
    let server = Process::start(&data, FAST);
    let mut carol = hello(server.addr, "carol", Some(0)).await;
    let mut stored: Vec<(u64, String)> = Vec::new();
    while stored.len() < acked.len() {
        let frame = next(&mut carol).await.expect("carol's catch-up");
        stored.extend(messages_of(&frame));
    }
    let seqs: Vec<u64> = stored.iter().map(|(s, _)| *s).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1) && seqs.first() == Some(&1),
        "gap-free from 1"
    );
    for (seq, text) in &acked {
        assert_eq!(
            stored.get((*seq - 1) as usize).map(|(_, t)| t),
            Some(text),
            "acked seq {seq} is stored as acked"
        );
    }

    // Bob comes back with what he saw and converges on the same history.
    let last_seen = seen_by_bob.last().map(|(s, _)| *s).unwrap_or(0);
    let mut bob = hello(server.addr, "bob2", Some(last_seen)).await;
    loop {
        let frame = next(&mut bob).await.expect("bob's catch-up");
        if frame["type"] == "history" {
            seen_by_bob.extend(messages_of(&frame));
            break;
        }
    }
    let stored_prefix: Vec<_> = stored.iter().take(seen_by_bob.len()).cloned().collect();
    assert!(seen_by_bob.len() >= acked.len(), "bob has everything acked");
    assert!(
        seen_by_bob == stored_prefix,
        "bob's history is the store's, in order, once each"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn sigterm_mid_stream_stores_every_acked_message_and_tells_clients_to_come_back() {
    let data = std::env::temp_dir().join(format!("chinwag-term-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut server = Process::start(&data, FAST);

    let mut bob = hello(server.addr, "bob", None).await;
    let alice = hello(server.addr, "alice", None).await;
    let (alice_tx, mut alice_rx) = alice.split();
    let writer = tokio::spawn(write_numbered(alice_tx, Duration::from_micros(300)));
    // SIGTERM once some are acked; keep reading alice's acks until her socket closes.
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut alice_close = None;
    let mut terminated = None;
    loop {
        if acked.len() >= 200 && terminated.is_none() {
            let mut server_ref = std::mem::replace(&mut server, Process::placeholder());
            terminated = Some(tokio::task::spawn_blocking(move || {
                let result = server_ref.terminate();
                (server_ref, result)
            }));
        }
        match tokio::time::timeout(Duration::from_secs(10), alice_rx.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                acked.extend(ack_of(&text));
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                alice_close = frame.map(|f| u16::from(f.code));
                break;
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => break,
            Err(_) => panic!("alice heard nothing for 10 s"),
        }
    }
    writer.abort();
    assert_eq!(alice_close, Some(1012), "told to come back");
    let mut bob_close = None;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(10), bob.next()).await {
        if let Ok(Message::Close(frame)) = frame {
            bob_close = frame.map(|f| u16::from(f.code));
            break;
        }
    }
    assert_eq!(bob_close, Some(1012));
    let (process, (took, clean)) = terminated.expect("terminated").await.expect("join");
    drop(process);
    assert!(clean, "a clean exit");
    assert!(took < Duration::from_secs(8), "exited in {took:?}");

    // Back up on the same data: every acked message is there, as acked.
    let server = Process::start(&data, FAST);
    let mut carol = hello(server.addr, "carol", Some(0)).await;
    let mut stored: Vec<(u64, String)> = Vec::new();
    while stored.len() < acked.len() {
        let frame = next(&mut carol).await.expect("carol's catch-up");
        stored.extend(messages_of(&frame));
    }
    for (seq, text) in &acked {
        assert_eq!(
            stored.get((*seq - 1) as usize).map(|(_, t)| t),
            Some(text),
            "acked seq {seq} is stored as acked"
        );
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}
