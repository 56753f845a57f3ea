//! Tests of [`super`]: the hand-written decoder and encoder against serde's.
use proptest::prelude::*;

use std::collections::BTreeMap;

use super::*;
use crate::protocol::{
    Change, ChatMessage, ClientMsg, DirectMessage, ErrorCode, Request, ServerMsg, Stored,
};

fn message(text: &str, client_id: Option<&str>, action: bool) -> ChatMessage {
    ChatMessage {
        room: "general".into(),
        seq: u64::MAX,
        from: "ana".into(),
        text: text.into(),
        at: "2026-11-26T20:00:00Z".into(),
        client_id: client_id.map(Into::into),
        action,
        edited: action,
        deleted: client_id.is_none() && !action,
        mentions: Vec::new(),
        files: Vec::new(),
        reply_to: None,
        reactions: Default::default(),
    }
}

fn direct_reaction(emoji: &str, on: bool) -> crate::protocol::DirectReaction {
    crate::protocol::DirectReaction {
        id: 12,
        log_id: u64::MAX,
        by: "ana".into(),
        to: "bo".into(),
        emoji: emoji.into(),
        on,
        at: "2026-12-07T22:00:00Z".into(),
        reply_to: on.then(|| "r-1".into()),
    }
}

fn change(text: Option<&str>) -> Change {
    Change {
        room: "general".into(),
        seq: 4,
        log_seq: u64::MAX,
        by: "ana".into(),
        at: "2026-11-26T20:00:00Z".into(),
        text: text.map(Into::into),
        mentions: Vec::new(),
        reply_to: None,
    }
}

fn direct(text: &str) -> DirectMessage {
    DirectMessage {
        reactions: Default::default(),
        id: 7,
        from: "ana".into(),
        to: "bo".into(),
        text: text.into(),
        at: "2026-11-26T20:00:00Z".into(),
        client_id: Some("c-1".into()),
        action: true,
        files: Vec::new(),
        reply_to: None,
    }
}

/// Every kind of server frame, with its optional fields both set and left out.
fn server_frames(text: &str) -> Vec<ServerMsg> {
    vec![
        ServerMsg::Welcome {
            nick: "ana".into(),
            rooms: vec!["general".into(), "rust".into()],
            online: vec!["ana".into(), "bo".into()],
            members: [("rust".to_owned(), vec!["bo".to_owned()])].into(),
            counts: [("general".to_owned(), 1500)].into(),
            session: Some("token".into()),
            version: 1,
            moderator: true,
            bots: vec!["bo".into()],
            muted_until: Some("2026-11-27T10:00:00.000Z".into()),
            blocked: Vec::new(),
            reply_to: None,
            dm_read: Default::default(),
            read: Default::default(),
            secured: false,
        },
        ServerMsg::Welcome {
            nick: text.into(),
            rooms: vec![],
            online: vec![],
            members: BTreeMap::new(),
            counts: BTreeMap::new(),
            session: None,
            version: 0,
            moderator: false,
            bots: vec![],
            muted_until: None,
            blocked: Vec::new(),
            reply_to: None,
            dm_read: Default::default(),
            read: Default::default(),
            secured: false,
        },
        ServerMsg::Message(message(text, None, false)),
        ServerMsg::Message(message(text, Some("c-9"), true)),
        ServerMsg::Edited(change(Some(text))),
        ServerMsg::Deleted(change(None)),
        ServerMsg::Ack {
            client_id: "c-1".into(),
            room: Some("general".into()),
            seq: Some(3),
            to: None,
            id: None,
            reply_to: None,
        },
        ServerMsg::Ack {
            client_id: "c-2".into(),
            room: None,
            seq: None,
            to: Some("bo".into()),
            id: Some(4),
            reply_to: None,
        },
        ServerMsg::Error {
            code: ErrorCode::RateLimited,
            message: text.into(),
            client_id: Some("c-1".into()),
            retry_after_ms: Some(250),
            reply_to: Some("r-1".into()),
            until: Some("2026-11-27T10:00:00.000Z".into()),
        },
        ServerMsg::error(ErrorCode::NickTaken, "taken"),
        ServerMsg::Lagged {
            room: "general".into(),
            missed: 12,
        },
        ServerMsg::Presence {
            nick: "bo".into(),
            online: true,
            rooms: vec!["rust".into()],
            bot: true,
        },
        ServerMsg::Presence {
            nick: "bo".into(),
            online: false,
            rooms: vec![],
            bot: false,
        },
        ServerMsg::Moderated {
            action: "muted".into(),
            nick: "bo".into(),
            by: "ana".into(),
            until: "2026-11-27T10:00:00.000Z".into(),
            reason: text.into(),
            reply_to: None,
        },
        ServerMsg::Moderated {
            action: "banned".into(),
            nick: "bo".into(),
            by: "ana".into(),
            until: "2026-11-27T10:00:00.000Z".into(),
            reason: String::new(),
            reply_to: None,
        },
        ServerMsg::Joined {
            room: "rust".into(),
            members: vec!["ana".into()],
            count: Some(2),
            reply_to: Some("r-2".into()),
        },
        ServerMsg::Joined {
            room: "rust".into(),
            members: vec![],
            count: None,
            reply_to: None,
        },
        ServerMsg::Left {
            room: "rust".into(),
            reply_to: None,
        },
        ServerMsg::Member {
            room: "rust".into(),
            nick: "bo".into(),
            joined: true,
        },
        ServerMsg::Roster {
            room: "general".into(),
            count: 1200,
            members: Some(vec!["ana".into()]),
        },
        ServerMsg::Roster {
            room: "general".into(),
            count: 0,
            members: None,
        },
        ServerMsg::Renamed {
            from: "ana".into(),
            to: text.into(),
            reply_to: Some("r-3".into()),
        },
        ServerMsg::Results {
            q: "depl".into(),
            hits: vec![
                crate::protocol::SearchHit {
                    room: Some("ops".into()),
                    seq: Some(41),
                    dm: None,
                    id: None,
                    from: "alice".into(),
                    at: "2026-12-01T10:00:00.000Z".into(),
                    text: text.into(),
                    marks: vec![[0, 4], [7, 9]],
                },
                crate::protocol::SearchHit {
                    room: None,
                    seq: None,
                    dm: Some("bob".into()),
                    id: Some(12),
                    from: "bob".into(),
                    at: "2026-12-01T09:00:00.000Z".into(),
                    text: "deploy".into(),
                    marks: Vec::new(),
                },
            ],
            more: true,
            next: Some("2026-12-01T09:00:00.000Z~d~12".into()),
            reply_to: Some("s-1".into()),
        },
        ServerMsg::Avatar {
            nick: text.into(),
            url: "/avatars/bo?v=1f2e".into(),
        },
        ServerMsg::Typing {
            room: "general".into(),
            nick: "bo".into(),
            active: false,
        },
        ServerMsg::Dm(direct(text)),
        ServerMsg::Dm(DirectMessage {
            reactions: BTreeMap::from([("👍".to_owned(), vec![text.to_owned(), "bo".to_owned()])]),
            ..direct("reacted to")
        }),
        ServerMsg::DmReacted(direct_reaction(text, true)),
        ServerMsg::DmHistory {
            reactions: vec![direct_reaction("🎉", true), direct_reaction("👍", false)],
            messages: vec![direct(text), direct("second")],
            reset: true,
            more: true,
            before: None,
            complete: false,
            reply_to: None,
            with: None,
        },
        ServerMsg::DmHistory {
            reactions: Vec::new(),
            messages: vec![],
            reset: false,
            more: false,
            before: None,
            complete: false,
            reply_to: None,
            with: None,
        },
        ServerMsg::History {
            room: "general".into(),
            messages: vec![
                Stored::Message(message(text, None, false)),
                Stored::Message(message("two", Some("c-3"), false)),
                Stored::Edited(change(Some(text))),
                Stored::Deleted(change(None)),
            ],
            complete: true,
            reset: true,
            before: Some(40),
            more: true,
            reply_to: Some("r-4".into()),
        },
        ServerMsg::History {
            room: "general".into(),
            messages: vec![],
            complete: false,
            reset: false,
            before: None,
            more: false,
            reply_to: None,
        },
    ]
}

fn client_frames(text: &str) -> Vec<ClientMsg> {
    vec![
        ClientMsg::Hello {
            nick: text.into(),
            session: Some("token".into()),
            since: [("general".to_owned(), 41), ("rust".to_owned(), u64::MAX)].into(),
            dm_since: Some(3),
            version: Some(1),
            invite: None,
        },
        ClientMsg::Hello {
            nick: String::new(),
            session: None,
            since: BTreeMap::new(),
            dm_since: None,
            version: None,
            invite: None,
        },
        ClientMsg::Join {
            room: "rust".into(),
        },
        ClientMsg::Leave {
            room: "rust".into(),
        },
        ClientMsg::Say {
            room: "general".into(),
            text: text.into(),
            client_id: "c-1".into(),
            action: false,
            files: Vec::new(),
            reply_to: None,
        },
        ClientMsg::Say {
            room: "general".into(),
            text: text.into(),
            client_id: "c-2".into(),
            action: true,
            files: Vec::new(),
            reply_to: None,
        },
        ClientMsg::Edit {
            room: "general".into(),
            seq: u64::MAX,
            text: text.into(),
            client_id: Some("c-4".into()),
        },
        ClientMsg::Edit {
            room: "general".into(),
            seq: 1,
            text: text.into(),
            client_id: None,
        },
        ClientMsg::Delete {
            room: "general".into(),
            seq: 2,
            client_id: Some("c-5".into()),
        },
        ClientMsg::Delete {
            room: "general".into(),
            seq: 3,
            client_id: None,
        },
        ClientMsg::Nick { nick: text.into() },
        ClientMsg::Typing {
            room: "general".into(),
            active: true,
        },
        ClientMsg::Search {
            q: "deploy from:alice".into(),
            before: Some("2026-12-01T09:00:00.000Z~d~12".into()),
        },
        ClientMsg::History {
            room: "general".into(),
            before: 100,
        },
        ClientMsg::Dm {
            to: "bo".into(),
            text: text.into(),
            client_id: "c-3".into(),
            action: true,
            files: Vec::new(),
            reply_to: None,
        },
        ClientMsg::Mute {
            nick: text.into(),
            seconds: 600,
            reason: text.into(),
        },
        ClientMsg::Ban {
            nick: "bo".into(),
            seconds: 86_400,
            reason: String::new(),
        },
        ClientMsg::Audit { before: Some(9) },
        ClientMsg::Audit { before: None },
        ClientMsg::React {
            room: "general".into(),
            seq: 17,
            dm: None,
            id: None,
            emoji: "👍".into(),
            on: true,
            client_id: Some("x-1".into()),
        },
        ClientMsg::React {
            room: String::new(),
            seq: 0,
            dm: Some(text.into()),
            id: Some(12),
            emoji: "🎉".into(),
            on: false,
            client_id: None,
        },
    ]
}

const AWKWARD: &str = "quote \" backslash \\ slash / tab \t nl \n cr \r nul \u{0} bell \u{7} \
                       del \u{7f} é 漢字 🦀 \u{2028} \u{feff}";

#[test]
fn every_server_frame_serde_writes_decodes_to_the_same_value() {
    for msg in server_frames(AWKWARD) {
        let json = msg.to_json();
        assert_eq!(ServerMsg::decode(&json), Some(msg), "{json}");
    }
}

#[test]
fn every_client_frame_encoded_here_is_the_frame_serde_reads() {
    for msg in client_frames(AWKWARD) {
        let json = msg.encode();
        let parsed = Request::parse(&json).map(|r| r.msg);
        assert_eq!(parsed, Ok(msg), "{json}");
        // And the same text serde writes, so the server sees no difference at all.
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).ok(),
            serde_json::from_str::<serde_json::Value>(&parsed.unwrap().to_json()).ok()
        );
    }
}

#[test]
fn unknown_types_and_codes_are_kept_as_unknown_not_refused() {
    assert_eq!(
        ServerMsg::decode(r#"{"type":"reaction","room":"general","emoji":"👍"}"#),
        Some(ServerMsg::Unknown)
    );
    assert_eq!(
        ServerMsg::decode(r#"{"type":"error","code":"slow_down_please","message":"later"}"#),
        Some(ServerMsg::error(ErrorCode::Unknown, "later"))
    );
    let history = r#"{"type":"history","room":"general","complete":true,"messages":[
        {"type":"poll","question":"?"},
        {"type":"message","room":"general","seq":1,"from":"a","text":"t","at":"x","extra":[1.5,-2,{}]}
    ]}"#;
    let Some(ServerMsg::History { messages, .. }) = ServerMsg::decode(history) else {
        panic!("history not decoded");
    };
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0], Stored::Unknown);
    assert!(messages[1].message().is_some());
    // A change shaped otherwise than this build reads it is skipped the same way.
    let history = r#"{"type":"history","room":"general","complete":true,"messages":[
        {"type":"edited","room":"general","seq":1,"text":"no log_seq"},
        {"type":"message","room":"general","seq":2,"from":"a","text":"t","at":"x"}
    ]}"#;
    let Some(ServerMsg::History { messages, .. }) = ServerMsg::decode(history) else {
        panic!("history not decoded");
    };
    assert_eq!(messages[0], Stored::Unknown);
    assert!(messages[1].message().is_some());
}

#[test]
fn frames_serde_refuses_are_refused() {
    for frame in [
        "",
        "null",
        "[]",
        r#"{"nick":"ana"}"#,
        r#"{"type":"welcome","rooms":[]}"#,
        r#"{"type":"message","room":"g","seq":-1,"from":"a","text":"t","at":"x"}"#,
        r#"{"type":"message","room":"g","seq":1.0,"from":"a","text":"t","at":"x"}"#,
        r#"{"type":"message","room":"g","seq":18446744073709551616,"from":"a","text":"t","at":"x"}"#,
        r#"{"type":"message","room":"g","seq":1,"from":"a","text":5,"at":"x"}"#,
        r#"{"type":"typing","room":"g","nick":"a","active":"yes"}"#,
        r#"{"type":"welcome","nick":"a","rooms":["general",1]}"#,
        r#"{"type":"lagged","room":"g","missed":1,}"#,
        r#"{"type":"lagged","room":"g","missed":01}"#,
        r#"{"type":"lagged","room":"g","missed":1} x"#,
        "{\"type\":\"left\",\"room\":\"a\u{1}b\"}",
        r#"{"type":"left","room":"\ud800"}"#,
        r#"{"type":"left","room":"\x41"}"#,
    ] {
        assert_eq!(ServerMsg::decode(frame), None, "{frame}");
        assert!(ServerMsg::parse(frame).is_err(), "{frame}");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(Json::parse(&deep), None);
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(Json::parse(&ok).is_some());
}

#[test]
fn error_code_names_read_as_serde_reads_them() {
    for name in [
        "bad_frame",
        "hello_required",
        "already_hello",
        "nick_invalid",
        "nick_taken",
        "bad_session",
        "unknown_user",
        "empty",
        "too_long",
        "bad_client_id",
        "unknown_room",
        "room_invalid",
        "cannot_leave",
        "too_many_rooms",
        "rate_limited",
        "unsupported",
        "unavailable",
        "room_limit",
        "unknown",
        "never_heard_of_it",
    ] {
        let serde: ErrorCode = serde_json::from_str(&format!("\"{name}\"")).unwrap();
        assert_eq!(ErrorCode::from_name(name), serde, "{name}");
    }
}

/// Any JSON value serde_json can write, as this parser should read it.
fn expected(value: &serde_json::Value) -> Json {
    match value {
        serde_json::Value::Null => Json::Null,
        serde_json::Value::Bool(b) => Json::Bool(*b),
        serde_json::Value::Number(n) => n.as_u64().map_or(Json::OtherNumber, Json::Uint),
        serde_json::Value::String(s) => Json::Str(s.clone()),
        serde_json::Value::Array(items) => Json::Array(items.iter().map(expected).collect()),
        serde_json::Value::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), expected(v))).collect())
        }
    }
}

fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<u64>().prop_map(|n| serde_json::json!(n)),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        (-1e9f64..1e9).prop_map(|n| serde_json::json!(n)),
        any::<String>().prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn parses_what_serde_json_writes(value in any_json()) {
        prop_assert_eq!(Json::parse(&value.to_string()), Some(expected(&value)));
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        prop_assert_eq!(Json::parse(&pretty), Some(expected(&value)));
    }

    #[test]
    fn any_text_survives_both_directions(text in any::<String>()) {
        for msg in server_frames(&text) {
            prop_assert_eq!(ServerMsg::decode(&msg.to_json()), Some(msg));
        }
        for msg in client_frames(&text) {
            prop_assert_eq!(Request::parse(&msg.encode()).map(|r| r.msg), Ok(msg));
        }
    }

    #[test]
    fn never_panics_on_any_input(frame in any::<String>()) {
        let _ = ServerMsg::decode(&frame);
    }
}

#[test]
fn files_decode_as_serde_writes_them() {
    let picture = crate::protocol::FileInfo {
        id: "Vn3kR0dY2aH6tLw9Pq1bXg".into(),
        name: "holiday \"1\".jpg".into(),
        size: 183_402,
        mime: "image/jpeg".into(),
        url: "/files/Vn3kR0dY2aH6tLw9Pq1bXg/holiday%20%221%22.jpg".into(),
        width: Some(1600),
        height: Some(1200),
        thumb: Some("/thumbs/Vn3kR0dY2aH6tLw9Pq1bXg".into()),
    };
    let pdf = crate::protocol::FileInfo {
        id: "q7bPz1sXcYk8mQ2cN5xq0w".into(),
        name: "report.pdf".into(),
        size: 48_213,
        mime: "application/pdf".into(),
        url: "/files/q7bPz1sXcYk8mQ2cN5xq0w/report.pdf".into(),
        width: None,
        height: None,
        thumb: None,
    };
    let mut with_files = message("", Some("c-1"), false);
    with_files.files = vec![picture.clone(), pdf.clone()];
    let frame = ServerMsg::Message(with_files);
    assert_eq!(ServerMsg::decode(&frame.to_json()), Some(frame));
    for file in [picture, pdf] {
        let answer = serde_json::to_string(&file).expect("json");
        assert_eq!(crate::protocol::FileInfo::decode(&answer), Some(file));
    }
    let say = ClientMsg::Say {
        room: "general".into(),
        text: String::new(),
        client_id: "c-1".into(),
        action: false,
        files: vec!["a".into(), "b-_9".into()],
        reply_to: None,
    };
    assert_eq!(Request::parse(&say.encode()).ok().map(|r| r.msg), Some(say));
}
