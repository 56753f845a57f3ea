//! The page's chat model under random but valid server traffic: every kind of server frame, in any
//! order, interleaved with what the page does (post, open a conversation, hide the tab, let time
//! pass, read). After every step the model must hold its promises:
//! - no line twice: no `(room, seq)` twice in a room, no line id twice in any conversation;
//! - lines bounded (a conversation is cut back to its limit; only older pages asked for by
//!   scrolling may add a page above it until the next message);
//! - counts that make sense: a conversation's mentions never exceed its unread count;
//! - my unconfirmed messages kept: each message I wrote that was not confirmed stays on screen,
//!   "sending" or "not sent", until I leave its room.
//!
//! It fails if `Chat::apply` panics on any frame kind or doubles a line (tried: making `receive`
//! skip its `seen` check fails it with "line general:283 twice"; making `receive_direct` skip both
//! its id and its line check fails it with "line d-2 twice"; it found that a rename of me was not
//! followed when my own message came back under my new name — a test bug, fixed here).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chinwag::chat::{Chat, LineKind, Outgoing, SendState, View, MAX_LINES};
use chinwag::protocol::ServerMsg;
use proptest::prelude::*;
use serde_json::{json, Value};

const ROOMS: &[&str] = &["general", "rust", "go"];
const PEOPLE: &[&str] = &["me", "bob", "carol", "Bob"];
/// How far past its limit a conversation may grow before it is cut back (chat::conversation).
const TRIM_SLACK: usize = 50;

fn room() -> impl Strategy<Value = &'static str> {
    prop::sample::select(ROOMS)
}

fn person() -> impl Strategy<Value = &'static str> {
    prop::sample::select(PEOPLE)
}

fn seq() -> impl Strategy<Value = u64> {
    1u64..400
}

fn client_id() -> impl Strategy<Value = String> {
    (0u8..12).prop_map(|n| format!("c-{n}"))
}

fn at() -> Value {
    json!("2026-12-07T10:00:00.000Z")
}

fn message(room: &str, seq: u64, from: &str, cid: Option<String>, text: &str) -> Value {
    json!({"type":"message","room":room,"seq":seq,"from":from,"text":text,"at":at(),
           "client_id":cid,"mentions":if text.contains("@me") { json!(["me"]) } else { json!([]) }})
}

fn a_message() -> impl Strategy<Value = Value> {
    (
        room(),
        seq(),
        person(),
        prop::option::of(client_id()),
        prop::sample::select(vec!["hi", "hey @me", "x"]),
    )
        .prop_map(|(r, s, f, c, t)| message(r, s, f, c, t))
}

fn change(kind: &str, room: &str, seq: u64, log_seq: u64) -> Value {
    let mut v = json!({"type":kind,"room":room,"seq":seq,"log_seq":log_seq,"by":"bob","at":at()});
    if kind == "edited" {
        v["text"] = json!("edited");
    }
    v
}

/// A private message; its client id is of another namespace than room messages' (a tab never
/// uses one id for two messages).
fn a_dm() -> impl Strategy<Value = Value> {
    let cid = (0u8..12).prop_map(|n| format!("d-{n}"));
    (1u64..200, person(), person(), prop::option::of(cid)).prop_map(|(id, from, to, cid)| {
        json!({"type":"dm","id":id,"from":from,"to":to,"text":"psst","at":at(),"client_id":cid})
    })
}

/// Any server frame, valid by the protocol (a few of them from a newer server).
fn frame() -> impl Strategy<Value = Value> {
    let rooms = prop::sample::subsequence(ROOMS.to_vec(), 0..=3);
    prop_oneof![
        (rooms.clone(), any::<bool>(), 0u64..300, prop::option::of(0u64..200)).prop_map(
            |(rooms, moderator, read, dm_read)| {
                let mut rooms: Vec<&str> = rooms;
                rooms.insert(0, "general");
                rooms.dedup();
                json!({"type":"welcome","nick":"me","rooms":rooms,"online":["me","bob"],
                       "version":3,"moderator":moderator,"read":{"rust":read},
                       "dm_read": dm_read.map(|i| json!({"bob": i})).unwrap_or(json!({}))})
            }
        ),
        (room(), prop::option::of(0usize..500)).prop_map(|(r, count)| {
            json!({"type":"joined","room":r,"members":["me","bob"],"count":count})
        }),
        room().prop_map(|r| json!({"type":"left","room":r})),
        (room(), person(), any::<bool>())
            .prop_map(|(r, n, j)| json!({"type":"member","room":r,"nick":n,"joined":j})),
        (room(), 0usize..300, any::<bool>()).prop_map(|(r, c, listed)| {
            json!({"type":"roster","room":r,"count":c,"members":if listed { json!(["me","carol"]) } else { Value::Null }})
        }),
        a_message(),
        (room(), seq(), 1u64..600, any::<bool>()).prop_map(|(r, s, l, edit)| {
            change(if edit { "edited" } else { "deleted" }, r, s, l)
        }),
        (client_id(), room(), 500u64..1000).prop_map(|(c, r, s)| {
            json!({"type":"ack","client_id":c,"room":r,"seq":s})
        }),
        (client_id(), prop::sample::select(vec!["too_long", "rate_limited", "unavailable", "from_the_future"]))
            .prop_map(|(c, code)| json!({"type":"error","code":code,"message":"no","client_id":c})),
        prop::sample::select(vec!["unknown_room", "banned", "signed_out", "rate_limited"])
            .prop_map(|code| json!({"type":"error","code":code,"message":"no","until":"2026-12-08T00:00:00.000Z"})),
        (prop::sample::select(vec!["muted", "banned", "unmuted", "unbanned"]), person())
            .prop_map(|(a, n)| json!({"type":"moderated","action":a,"nick":n,"by":"carol","until":"2026-12-08T00:00:00.000Z","reason":"x"})),
        (room(), 0u64..1000).prop_map(|(r, m)| json!({"type":"lagged","room":r,"missed":m})),
        (person(), any::<bool>(), any::<bool>())
            .prop_map(|(n, o, b)| json!({"type":"presence","nick":n,"online":o,"rooms":["general"],"bot":b})),
        (person(), person()).prop_map(|(f, t)| json!({"type":"renamed","from":f,"to":t})),
        (room(), person(), any::<bool>()).prop_map(|(r, n, a)| json!({"type":"typing","room":r,"nick":n,"active":a})),
        a_dm(),
        (prop::collection::vec(a_dm(), 0..6), any::<bool>()).prop_map(|(dms, reset)| {
            let messages: Vec<Value> = dms.into_iter().map(|mut d| {
                d.as_object_mut().map(|o| o.remove("type"));
                d
            }).collect();
            json!({"type":"dm_history","messages":messages,"reset":reset})
        }),
        (room(), 1u64..340, 1usize..60, any::<bool>(), any::<bool>(), prop::option::of(2u64..400)).prop_map(
            |(r, from, len, reset, complete, before)| {
                let messages: Vec<Value> = (from..from + len as u64)
                    .map(|s| message(r, s, if s % 3 == 0 { "me" } else { "bob" }, None, "h"))
                    .collect();
                json!({"type":"history","room":r,"messages":messages,"reset":reset,
                       "complete":complete,"before":before})
            }
        ),
        (room(), 0u64..500).prop_map(|(r, s)| json!({"type":"read","room":r,"seq":s})),
        (person(), 0u64..300).prop_map(|(p, i)| json!({"type":"read","dm":p,"id":i})),
        Just(json!({"type":"blocked","nick":"bob","blocked":true})),
        Just(json!({"type":"audit_log","entries":[]})),
        Just(json!({"type":"from_a_newer_server","what":1})),
    ]
}

/// One step: a server frame, or something the page does.
#[derive(Debug, Clone)]
enum Step {
    Frame(Value),
    Say(&'static str, String),
    Open(View),
    Hide(bool),
    Tick(f64),
    Read,
    Disconnected,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => frame().prop_map(Step::Frame),
        2 => (room(), client_id()).prop_map(|(r, c)| Step::Say(r, c)),
        1 => room().prop_map(|r| Step::Open(View::Room(r.to_owned()))),
        1 => person().prop_map(|p| Step::Open(View::Direct(p.to_owned()))),
        1 => any::<bool>().prop_map(Step::Hide),
        1 => (0.0f64..20_000.0).prop_map(Step::Tick),
        1 => Just(Step::Read),
        1 => Just(Step::Disconnected),
    ]
}

/// Checks every promise of the model; `older` is how many lines older pages put on top.
fn check(chat: &Chat, mine: &BTreeMap<String, &'static str>, older: usize) {
    let conversations: Vec<(View, _)> = chat
        .conversations
        .rooms()
        .chain(chat.conversations.directs())
        .collect();
    for (view, conv) in &conversations {
        let mut ids = HashSet::new();
        let mut seqs = BTreeSet::new();
        for line in &conv.lines {
            assert!(
                ids.insert(line.id.clone()),
                "{view:?}: line {} twice",
                line.id
            );
            if let (View::Room(_), LineKind::Chat { seq: Some(seq), .. }) = (view, &line.kind) {
                assert!(seqs.insert(*seq), "{view:?}: seq {seq} twice");
            }
        }
        assert!(
            conv.lines.len() <= MAX_LINES + TRIM_SLACK + older,
            "{view:?}: {} lines",
            conv.lines.len()
        );
        assert!(
            conv.mentions <= conv.unread,
            "{view:?}: {} mentions, {} unread",
            conv.mentions,
            conv.unread
        );
    }
    for (client_id, room) in mine {
        if !chat.conversations.is_member(room) {
            continue;
        }
        let line = chat
            .conversations
            .room(room)
            .lines
            .iter()
            .find(|l| l.id == *client_id)
            .unwrap_or_else(|| panic!("my unconfirmed {client_id} in #{room} is gone"));
        if let LineKind::Chat { mine: state, .. } = &line.kind {
            assert!(
                matches!(state, Some(SendState::Sending | SendState::Failed)),
                "{client_id}: {state:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_chat_model_keeps_its_promises_under_any_valid_traffic(steps in prop::collection::vec(step(), 1..60)) {
        let mut chat = Chat::new("me");
        // My messages not yet confirmed (sent or failed), by client id, with their room.
        let mut mine: BTreeMap<String, &'static str> = BTreeMap::new();
        let mut used = HashSet::new();
        let mut older = 0;
        let mut now = 0.0;
        for step in steps {
            match step {
                Step::Frame(value) => {
                    let msg: ServerMsg = serde_json::from_value(value.clone())
                        .unwrap_or_else(|err| panic!("the strategy made an invalid frame: {err}: {value}"));
                    // My name as the model knows it before this frame (a rename changes it).
                    let me = chat.me.clone();
                    match &msg {
                        ServerMsg::Ack { client_id, .. } => { mine.remove(client_id); }
                        ServerMsg::Message(m) if m.from == me => {
                            if let Some(cid) = &m.client_id { mine.remove(cid); }
                        }
                        ServerMsg::History { before: Some(_), messages, .. } => older += messages.len(),
                        ServerMsg::History { messages, .. } => {
                            for m in messages.iter().filter_map(|s| s.message()) {
                                if let Some(cid) = &m.client_id { mine.remove(cid); }
                            }
                        }
                        _ => {}
                    }
                    chat.receive_frame(&msg, now);
                    // A refused message is "not sent": still mine, still shown.
                }
                Step::Say(room, client_id) => {
                    // A client id is used once, as the page makes them.
                    if chat.conversations.is_member(room) && used.insert(client_id.clone()) {
                        chat.push_own(
                            Outgoing {
                                view: View::Room(room.to_owned()),
                                client_id: client_id.clone(),
                                text: "mine".to_owned(),
                                action: false,
                                files: Vec::new(),
                                reply: None,
                            },
                            "now",
                        );
                        chat.outbox.transmitted(&client_id, now);
                        mine.insert(client_id, room);
                    }
                }
                Step::Open(view) => chat.open(view),
                Step::Hide(hidden) => { chat.attention.set_hidden(hidden); }
                Step::Tick(ms) => { now += ms; chat.tick(now); }
                Step::Read => { let _ = chat.read_to_send(); }
                Step::Disconnected => chat.outbox.disconnected(),
            }
            // A room I left takes my unconfirmed messages in it with it.
            mine.retain(|_, room| chat.conversations.is_member(room));
            check(&chat, &mine, older);
        }
    }
}
