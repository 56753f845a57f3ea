//! Criterion benchmarks of the hot pure paths: a `message` frame's encoding (done once per message),
//! a `say` frame's parsing (once per message received), and the hub's fan-out of one published
//! message to many subscribers. CI only builds them (`cargo bench --no-run`); numbers come from
//! running `cargo bench --features ssr` on a quiet machine.

use std::hint::black_box;

use chinwag::protocol::{ChatMessage, ClientMsg, ServerMsg, GENERAL};
use chinwag::server::hub::{Hub, HubConfig, Received};
use chinwag::server::store::NewMessage;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use futures::StreamExt;

fn message() -> ChatMessage {
    ChatMessage {
        room: GENERAL.to_owned(),
        seq: 123_456,
        from: "alice".to_owned(),
        text: "hello everyone, the new chat is up — Leptos page, axum websocket".to_owned(),
        at: "2026-11-26T02:30:00.000Z".to_owned(),
        client_id: Some("c-0123456789abcdef".to_owned()),
        action: false,
        edited: false,
        deleted: false,
    }
}

fn frames(c: &mut Criterion) {
    let msg = ServerMsg::Message(message());
    c.bench_function("encode message frame", |b| {
        b.iter(|| black_box(&msg).to_json())
    });
    let say = r#"{"type":"say","room":"general","text":"hello everyone, the new chat is up","client_id":"c-0123456789abcdef"}"#;
    c.bench_function("parse say frame", |b| {
        b.iter(|| ClientMsg::parse(black_box(say)))
    });
}

fn fan_out(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("hub fan-out");
    for subscribers in [10usize, 200] {
        group.bench_with_input(
            BenchmarkId::from_parameter(subscribers),
            &subscribers,
            |b, &n| {
                let hub = Hub::in_memory(HubConfig::default());
                let origin = hub.connection_id();
                let mut subs: Vec<_> = (0..n)
                    .map(|_| hub.subscribe(GENERAL, hub.connection_id()))
                    .collect();
                b.iter(|| {
                    runtime.block_on(async {
                        let draft = NewMessage {
                            from: "alice".into(),
                            text: "hi".into(),
                            at: String::new(),
                            client_id: None,
                            action: false,
                            session_hash: None,
                        };
                        let _ = hub.publish(GENERAL, origin, draft).await;
                        for sub in &mut subs {
                            match sub.next().await {
                                Some(Received::Frame(d)) => {
                                    black_box(d.frame);
                                }
                                other => panic!("unexpected {other:?}"),
                            }
                        }
                    })
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, frames, fan_out);
criterion_main!(benches);
