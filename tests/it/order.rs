//! Order and completeness on one connection: a slow reader is brought back to exactly what it
//! missed, an ack never overtakes an earlier message of its room, every valid message fits,
//! and a catch-up the store cannot serve leaves no hole.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{test_config, Client, DataDir, TestServer};
use chinwag::server::store::StoreConfig;

/// Every `seq` a frame shows the client: a `message`, the messages of a `history`, an `ack`.
fn seqs_of(frame: &Value) -> Vec<u64> {
    match frame["type"].as_str() {
        Some("message" | "ack") => frame["seq"].as_u64().into_iter().collect(),
        Some("history") => frame["messages"]
            .as_array()
            .map(|ms| ms.iter().filter_map(|m| m["seq"].as_u64()).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_too_slow_for_the_ring_gets_exactly_what_it_missed() {
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.hub.room_capacity = 16;
    let server = TestServer::start_on(data, config).await;
    let (mut reader, _) = Client::join_session(&server, "slow").await;
    let (mut writer, _) = Client::join_session(&server, "fast").await;
    const N: u64 = 1500;
    let text = "x".repeat(4000);
    // The reader reads nothing meanwhile: its socket fills, its task stops, the ring moves on.
    for i in 0..N {
        writer
            .send(json!({"type":"say","room":"general","text":text,"client_id":format!("w-{i}")}))
            .await;
        let ack = writer.expect_frame("ack").await;
        assert_eq!(ack["seq"], i + 1);
    }
    let (mut got, mut lagged, mut resets) = (Vec::new(), 0, 0);
    while (got.len() as u64) < N {
        let frame = reader.recv().await;
        match frame["type"].as_str() {
            Some("lagged") => lagged += 1,
            Some("history") if frame["reset"] == true => resets += 1,
            _ => {}
        }
        got.extend(seqs_of(&frame));
    }
    assert!(lagged >= 1, "it did fall behind");
    assert_eq!(resets, 0, "and was never reset");
    assert_eq!(
        got,
        (1..=N).collect::<Vec<_>>(),
        "every message once, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acks_arrive_in_seq_order_among_the_rooms_messages() {
    let server = TestServer::start().await;
    const WRITERS: usize = 4;
    const EACH: usize = 150;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        writers.push(Client::join(&server, &format!("w{w}")).await);
    }
    let tasks: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(w, mut client)| {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut acks = 0;
                for i in 0..EACH {
                    client
                        .send(
                            json!({"type":"say","room":"general","text":format!("{w}-{i}"),
                                     "client_id":format!("c{w}-{i}")}),
                        )
                        .await;
                }
                while acks < EACH || seen.len() < WRITERS * EACH {
                    let frame = client.recv().await;
                    if frame["type"] == "ack" {
                        acks += 1;
                    }
                    seen.extend(seqs_of(&frame));
                }
                seen
            })
        })
        .collect();
    for task in tasks {
        let seen = task.await.expect("writer");
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "acks and messages in seq order: {seen:?}"
        );
        assert_eq!(seen, (1..=(WRITERS * EACH) as u64).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn the_longest_message_fits_however_it_is_escaped() {
    let server = TestServer::start().await;
    let (client, _) = Client::join_session(&server, "crab").await;
    let mut bob = Client::join(&server, "bob").await;
    // 4000 characters, each written as a surrogate pair escape, as Python's json module writes them.
    let text = r"\ud83e\udd80".repeat(4000);
    let frame = format!(r#"{{"type":"say","room":"general","client_id":"big","text":"{text}"}}"#);
    assert!(frame.len() > 48_000);
    let mut client = client;
    client.send_text(&frame).await;
    assert_eq!(client.expect_frame("ack").await["client_id"], "big");
    let message = bob.expect_frame("message").await;
    assert_eq!(
        message["text"].as_str().map(|t| t.chars().count()),
        Some(4000)
    );
}

/// A PostgreSQL schema owned by a role of its own, so a test can take privileges away from the
/// server (a store that fails reads) and give them back.
struct RestrictedPostgres {
    admin: sqlx::AnyPool,
    schema: String,
    role: String,
    url: String,
}

impl RestrictedPostgres {
    async fn new() -> Self {
        let base = std::env::var("CHINWAG_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base)
            .await
            .expect("PostgreSQL must be running for this test (see README)");
        let tag = format!("{}_{}", std::process::id(), rand_tag());
        let (schema, role) = (
            format!("chinwag_fault_{tag}"),
            format!("chinwag_role_{tag}"),
        );
        for statement in [
            format!("CREATE ROLE {role} LOGIN"),
            format!("CREATE SCHEMA {schema} AUTHORIZATION {role}"),
        ] {
            sqlx::query(&statement)
                .execute(&admin)
                .await
                .expect("set up");
        }
        let (head, db) = base.rsplit_once('/').expect("a database in the URL");
        let host = head.rsplit_once('@').map_or(head, |(_, host)| host);
        let host = host.trim_start_matches("postgres://");
        let url = format!("postgres://{role}@{host}/{db}?options=-c%20search_path%3D{schema}");
        Self {
            admin,
            schema,
            role,
            url,
        }
    }

    async fn reads_of_messages(&self, allowed: bool) {
        let statement = if allowed {
            format!("GRANT SELECT ON {}.messages TO {}", self.schema, self.role)
        } else {
            format!(
                "REVOKE SELECT ON {}.messages FROM {}",
                self.schema, self.role
            )
        };
        sqlx::query(&statement)
            .execute(&self.admin)
            .await
            .expect("privileges");
    }

    async fn finish(self) {
        for statement in [
            format!("DROP SCHEMA {} CASCADE", self.schema),
            format!("DROP ROLE {}", self.role),
        ] {
            let _ = sqlx::query(&statement).execute(&self.admin).await;
        }
        self.admin.close().await;
    }
}

fn rand_tag() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(7);
    h.finish() % 1_000_000_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_the_store_cannot_serve_is_retried_and_leaves_no_hole() {
    let pg = RestrictedPostgres::new().await;
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.store = StoreConfig::Postgres(pg.url.clone());
    let server = TestServer::start_on(data, config).await;
    let (mut bob, bob_token) = Client::join_session(&server, "bob").await;
    let (alice, alice_token) = Client::join_session(&server, "alice").await;
    for i in 1..=3 {
        bob.say(&format!("before {i}"), &format!("b-{i}")).await;
        bob.expect_frame("ack").await;
    }
    drop(alice);

    // The store stops serving reads of messages; posting (by form: no read needed) goes on.
    pg.reads_of_messages(false).await;
    let post = |text: &str| {
        let body = format!("text={text}&room=general");
        let cookie = crate::common::session_cookie(&bob_token);
        let server = &server;
        async move {
            let headers = [crate::common::FORM, ("cookie", cookie.as_str())];
            let answer = crate::common::http(server, "POST", "/say", &headers, &body).await;
            assert!(answer.contains("location: /\r\n"), "{answer}");
        }
    };
    post("missed-4").await;
    let mut alice = Client::connect(&server).await;
    alice
        .send(json!({"type":"hello","session":alice_token,"since":{"general":3}}))
        .await;
    assert_eq!(alice.recv().await["type"], "welcome");
    let refusal = alice.expect_frame("error").await;
    assert_eq!(refusal["code"], "unavailable", "told: {refusal}");
    post("live-5").await;
    post("live-6").await;
    // Nothing of general moves alice past the hole meanwhile.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
    while let Ok(frame) = tokio::time::timeout_at(deadline, alice.recv()).await {
        assert!(
            seqs_of(&frame).is_empty(),
            "nothing with a seq while stale: {frame}"
        );
    }

    // The store answers again: the retry brings exactly what was missed, then live traffic.
    pg.reads_of_messages(true).await;
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend(seqs_of(
            &tokio::time::timeout(Duration::from_secs(10), alice.recv())
                .await
                .expect("the retry comes within seconds"),
        ));
    }
    assert_eq!(got, [4, 5, 6]);
    post("live-7").await;
    assert_eq!(alice.expect_frame("message").await["seq"], 7);
    drop((bob, alice));
    server.shutdown().await;
    pg.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_the_store_cannot_serve_is_an_error_page_not_the_nickname_form() {
    let pg = RestrictedPostgres::new().await;
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.store = StoreConfig::Postgres(pg.url.clone());
    let server = TestServer::start_on(data, config).await;
    let token = crate::common::join_by_form(&server, "paige").await;
    pg.reads_of_messages(false).await;
    let cookie = crate::common::session_cookie(&token);
    let page = crate::common::http(&server, "GET", "/", &[("cookie", cookie.as_str())], "").await;
    assert!(page.starts_with("HTTP/1.1 503"), "{page}");
    assert!(page.contains("cannot reach its store"), "{page}");
    assert!(!page.contains("Pick a nickname"), "{page}");
    pg.reads_of_messages(true).await;
    let page = crate::common::http(&server, "GET", "/", &[("cookie", cookie.as_str())], "").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    server.shutdown().await;
    pg.finish().await;
}

#[tokio::test]
async fn a_connection_closed_mid_write_leaves_the_others_whole() {
    let server = TestServer::start().await;
    let (mut alice, _) = Client::join_session(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    let mut ws = {
        let (ws, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .expect("connect");
        ws
    };
    ws.send(Message::text(
        json!({"type":"hello","nick":"gone"}).to_string(),
    ))
    .await
    .expect("hello");
    let _ = ws.next().await;
    drop(ws);
    for i in 0..20 {
        alice.say(&format!("m{i}"), &format!("a-{i}")).await;
    }
    for i in 0..20 {
        assert_eq!(bob.expect_frame("message").await["text"], format!("m{i}"));
    }
}
