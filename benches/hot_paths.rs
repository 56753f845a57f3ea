//! Criterion benchmarks of the hot pure paths: a `message` frame's encoding (done once per message),
//! a `say` frame's parsing (once per message received), and the hub's fan-out of one published
//! message to many subscribers; and what a frame costs the browser's page with a full conversation
//! on screen (the chat model and the re-reads of the parts of the page it changed). CI only builds them (`cargo bench --no-run`); numbers come from
//! running `cargo bench --features ssr` on a quiet machine.

use std::hint::black_box;

use chinwag::chat::{Chat, Line, LineKind, Parts, MAX_LINES};
use chinwag::protocol::{ChatMessage, ClientMsg, ServerMsg, GENERAL};
use chinwag::server::hub::{Hub, HubConfig, Received};
use chinwag::server::store::NewMessage;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
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
        mentions: Vec::new(),
        files: Vec::new(),
        reply_to: None,
        reactions: Default::default(),
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
                            person_id: None,
                            mentions: Vec::new(),
                            files: Vec::new(),
                            answering: None,
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

/// How the page re-reads the open conversation's lines for its keyed list.
#[derive(Clone, Copy)]
enum Lines {
    /// Pointers and number keys (now).
    Shared,
    /// Every line copied, keyed by a string of its id and state (before this round).
    Copied,
}

/// What the page's readers of `parts` do once woken: the lines and their keys (what the keyed
/// list compares), the typing line, the conversation list, who is online, my own state.
fn redraw(chat: &Chat, parts: Parts, how: Lines) -> usize {
    let mut work = 0;
    if parts.contains(Parts::LINES) {
        work += match how {
            Lines::Shared => {
                let lines = chat.conversations.current().lines.clone();
                lines.iter().map(|l| l.render_key() as usize).sum::<usize>()
            }
            Lines::Copied => {
                let lines: Vec<Line> = chat
                    .conversations
                    .current()
                    .lines
                    .iter()
                    .map(|l| Line::clone(l))
                    .collect();
                // The old key: the id, the state and a hash of the text.
                let keys: Vec<String> = lines
                    .iter()
                    .map(|l| {
                        let text = match &l.kind {
                            LineKind::Chat { text, .. } | LineKind::Notice(text) => text,
                        };
                        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                        });
                        format!("{}#o0falsefalse{hash:x}", l.id)
                    })
                    .collect();
                keys.len()
            }
        };
    }
    if parts.contains(Parts::TYPING) {
        work += chat.typing_line().map_or(0, |t| t.len());
    }
    if parts.contains(Parts::CONVERSATIONS) {
        let list: Vec<_> = chat
            .conversations
            .rooms()
            .chain(chat.conversations.directs())
            .map(|(view, conv)| (view, conv.title.clone(), conv.unread))
            .collect();
        work += list.len();
    }
    if parts.contains(Parts::PEOPLE) {
        work += chat.people.online().to_vec().len();
    }
    if parts.contains(Parts::ME) {
        // The unsent count is read only while a newer server is announced.
        work += chat.me.len() + usize::from(chat.moderator) + usize::from(chat.outdated);
    }
    work
}

/// A frame applied to a chat showing a full conversation (`MAX_LINES` lines) in general, followed
/// by the redraw of the parts it named; of every part (what a frame woke while the chat was one
/// signal); and of every part with the lines copied and string-keyed (the page before this round).
fn client_frame(c: &mut Criterion) {
    let mut chat = Chat::new("me");
    let mut seq = 0;
    for _ in 0..MAX_LINES {
        seq += 1;
        let mut m = message();
        m.seq = seq;
        m.client_id = None;
        chat.apply(&ServerMsg::Message(m), 0.0);
    }
    let mut next = message();
    next.seq = seq + 1;
    next.client_id = None;
    let frames = [
        (
            "typing",
            ServerMsg::Typing {
                room: GENERAL.to_owned(),
                nick: "alice".to_owned(),
                active: true,
            },
        ),
        ("message", ServerMsg::Message(next)),
    ];
    let mut group = c.benchmark_group("client frame, 300 lines shown");
    let ways = [
        ("parts named", false, Lines::Shared),
        ("every part", true, Lines::Shared),
        ("every part, lines copied", true, Lines::Copied),
    ];
    for (name, frame) in &frames {
        for (way, all, lines) in ways {
            group.bench_function(format!("{name}, {way}"), |b| {
                b.iter_batched_ref(
                    || chat.clone(),
                    |chat| {
                        let parts = chat.receive_frame(frame, 0.0);
                        redraw(chat, if all { Parts::ALL } else { parts }, lines)
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, frames, fan_out, client_frame);
criterion_main!(benches);
