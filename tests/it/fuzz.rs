//! Fuzzing with proptest (stable Rust; cargo-fuzz would need nightly): the frame parser and the real
//! server's connection handler get arbitrary input (the page's chat model gets valid traffic in
//! `chat_model`). Nothing may panic, every
//! answer must be a well-formed server frame, and the server must go on serving others.
//!
//! CI runs a bounded number of cases (proptest's default, 256, or `PROPTEST_CASES`). To fuzz longer:
//! `PROPTEST_CASES=20000 cargo test --release --features ssr --test fuzz`.

use std::sync::OnceLock;
use std::time::Duration;

use crate::common::{Client, TestServer};
use chinwag::protocol::{ClientMsg, ServerMsg};
use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Arbitrary JSON, biased towards the shapes the protocol uses.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "general",
            "rust",
            "",
            "Rust",
            "a/b",
            "x".repeat(40).leak()
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A client frame: mostly well-typed frames with arbitrary field values, sometimes garbage.
fn client_frame() -> impl Strategy<Value = String> {
    let kinds = prop::sample::select(vec![
        "hello", "say", "dm", "nick", "typing", "history", "join", "leave", "shout",
    ]);
    let fields = prop::sample::select(vec![
        "room",
        "text",
        "client_id",
        "to",
        "nick",
        "active",
        "before",
        "since",
        "dm_since",
        "session",
        "action",
    ]);
    let typed = (
        kinds,
        prop::collection::btree_map(fields, json_value(), 0..6),
    )
        .prop_map(|(kind, fields)| {
            let mut frame = serde_json::Map::new();
            frame.insert("type".into(), kind.into());
            for (k, v) in fields {
                frame.insert(k.to_owned(), v);
            }
            Value::Object(frame).to_string()
        });
    let valid = prop_oneof![
        (".{0,50}", "[a-z0-9-]{1,12}").prop_map(|(text, id)| {
            json!({"type":"say","room":"general","text":text,"client_id":id}).to_string()
        }),
        "[a-z0-9-]{0,34}".prop_map(|room| json!({"type":"join","room":room}).to_string()),
        "[a-z0-9-]{0,34}".prop_map(|room| json!({"type":"leave","room":room}).to_string()),
        any::<u64>().prop_map(
            |before| json!({"type":"history","room":"general","before":before}).to_string()
        ),
    ];
    prop_oneof![
        4 => typed,
        3 => valid,
        1 => json_value().prop_map(|v| v.to_string()),
        1 => ".{0,200}",
    ]
}

proptest! {
    #[test]
    fn the_frame_parser_never_panics(frame in client_frame()) {
        // Either a typed message or a bad_frame error; never a panic.
        let _ = ClientMsg::parse(&frame);
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(text in ".*") {
        let _ = ClientMsg::parse(&text);
    }

}

/// One runtime and one server for every case of the connection fuzz.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| runtime().block_on(TestServer::start()))
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Each case is a real connection; CI keeps it bounded. PROPTEST_CASES overrides.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_server_answers_any_frames_with_well_formed_frames_and_keeps_serving(
        before_hello in prop::collection::vec(client_frame(), 0..3),
        after_hello in prop::collection::vec(client_frame(), 0..12),
        case in any::<u32>(),
    ) {
        let server = server();
        runtime().block_on(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
                .await
                .expect("connect");
            for frame in &before_hello {
                let _ = ws.send(Message::text(frame.clone())).await;
            }
            let hello = json!({"type":"hello","nick":format!("fz{case}-{}", before_hello.len())});
            let _ = ws.send(Message::text(hello.to_string())).await;
            for frame in &after_hello {
                if ws.send(Message::text(frame.clone())).await.is_err() {
                    break;
                }
            }
            // Everything the server says back is a frame this protocol knows.
            let deadline = tokio::time::Instant::now() + Duration::from_millis(150);
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
                if let Message::Text(text) = msg {
                    assert!(
                        ServerMsg::parse(&text).is_ok(),
                        "the server sent a malformed frame: {text}"
                    );
                }
            }
            drop(ws);
            // And it still serves a newcomer.
            let mut probe = Client::join(server, &format!("probe{case}")).await;
            probe.say("alive?", "p-1").await;
            assert_eq!(probe.expect_frame("ack").await["client_id"], "p-1");
        });
    }
}
