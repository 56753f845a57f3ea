//! The protocol's frames against their documented JSON, both ways.

use super::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn wire(msg: &ServerMsg) -> Value {
    serde_json::from_str(&msg.to_json()).expect("server frames are JSON")
}

#[test]
fn hello_and_say_parse_from_the_documented_json() {
    assert_eq!(
        ClientMsg::parse(r#"{"type":"hello","nick":"alice"}"#),
        Ok(ClientMsg::Hello {
            nick: "alice".into(),
            session: None,
            since: BTreeMap::new(),
            dm_since: None,
            version: None,
            invite: None,
        })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"hello","session":"tok"}"#),
        Ok(ClientMsg::Hello {
            nick: String::new(),
            session: Some("tok".into()),
            since: BTreeMap::new(),
            dm_since: None,
            version: None,
            invite: None,
        })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"say","room":"general","text":"hi","client_id":"c-1"}"#),
        Ok(ClientMsg::Say {
            room: "general".into(),
            text: "hi".into(),
            client_id: "c-1".into(),
            action: false,
            files: Vec::new(),
            reply_to: None,
        })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"edit","room":"general","seq":3,"text":"fixed"}"#),
        Ok(ClientMsg::Edit {
            room: "general".into(),
            seq: 3,
            text: "fixed".into(),
            client_id: None,
        })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"delete","room":"general","seq":3,"client_id":"c-2"}"#),
        Ok(ClientMsg::Delete {
            room: "general".into(),
            seq: 3,
            client_id: Some("c-2".into()),
        })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"typing","room":"general","active":true}"#),
        Ok(ClientMsg::Typing {
            room: "general".into(),
            active: true
        })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"history","room":"general","before":11}"#),
        Ok(ClientMsg::History {
            room: "general".into(),
            before: 11
        })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"join","room":"rust"}"#),
        Ok(ClientMsg::Join {
            room: "rust".into()
        })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"leave","room":"rust"}"#),
        Ok(ClientMsg::Leave {
            room: "rust".into()
        })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"hello","since":{"general":41,"rust":7},"dm_since":3}"#),
        Ok(ClientMsg::Hello {
            nick: String::new(),
            session: None,
            since: BTreeMap::from([("general".to_owned(), 41), ("rust".to_owned(), 7)]),
            dm_since: Some(3),
            version: None,
            invite: None,
        })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"nick","nick":"new"}"#),
        Ok(ClientMsg::Nick { nick: "new".into() })
    );
    assert_eq!(
        ClientMsg::parse(r#"{"type":"dm","to":"bob","text":"psst","client_id":"d-1"}"#),
        Ok(ClientMsg::Dm {
            to: "bob".into(),
            text: "psst".into(),
            client_id: "d-1".into(),
            action: false,
            files: Vec::new(),
            reply_to: None,
        })
    );
}

#[test]
fn extra_fields_are_ignored() {
    let parsed = ClientMsg::parse(r#"{"type":"nick","nick":"bob","client":"bot/1.0"}"#);
    assert_eq!(parsed, Ok(ClientMsg::Nick { nick: "bob".into() }));
}

#[test]
fn client_frames_round_trip() {
    for msg in [
        ClientMsg::Hello {
            nick: "zoë".into(),
            session: Some("t".into()),
            since: BTreeMap::from([("general".to_owned(), 41)]),
            dm_since: Some(7),
            version: Some(1),
            invite: None,
        },
        ClientMsg::Join {
            room: "rust".into(),
        },
        ClientMsg::Leave {
            room: "rust".into(),
        },
        ClientMsg::Say {
            room: GENERAL.into(),
            text: "line\n\"quoted\" <b>".into(),
            client_id: "c-9".into(),
            action: true,
            files: Vec::new(),
            reply_to: None,
        },
        ClientMsg::Nick { nick: "x".into() },
        ClientMsg::Typing {
            room: GENERAL.into(),
            active: false,
        },
        ClientMsg::Dm {
            to: "bob".into(),
            text: "hi".into(),
            client_id: "d".into(),
            action: false,
            files: Vec::new(),
            reply_to: None,
        },
    ] {
        assert_eq!(ClientMsg::parse(&msg.to_json()), Ok(msg));
    }
}

#[test]
fn server_frames_have_the_documented_shape() {
    let message = ServerMsg::Message(ChatMessage {
        room: "general".into(),
        seq: 17,
        from: "alice".into(),
        text: "hi".into(),
        at: "2026-11-25T22:00:00.000Z".into(),
        client_id: Some("c-1".into()),
        action: false,
        edited: false,
        deleted: false,
        mentions: Vec::new(),
        files: Vec::new(),
        reply_to: None,
        reactions: Default::default(),
    });
    let cases = [
        (
            message,
            json!({"type":"message","room":"general","seq":17,"from":"alice","text":"hi",
                   "at":"2026-11-25T22:00:00.000Z","client_id":"c-1"}),
        ),
        (
            ServerMsg::Ack {
                client_id: "c-1".into(),
                room: Some("general".into()),
                seq: Some(17),
                to: None,
                id: None,
                reply_to: None,
            },
            json!({"type":"ack","client_id":"c-1","room":"general","seq":17}),
        ),
        (
            ServerMsg::Edited(Change {
                room: "general".into(),
                seq: 17,
                log_seq: 21,
                by: "alice".into(),
                at: "2026-11-25T22:01:00.000Z".into(),
                text: Some("hi all".into()),
                mentions: Vec::new(),
                reply_to: None,
            }),
            json!({"type":"edited","room":"general","seq":17,"log_seq":21,"by":"alice",
                   "at":"2026-11-25T22:01:00.000Z","text":"hi all"}),
        ),
        (
            ServerMsg::Deleted(Change {
                room: "general".into(),
                seq: 17,
                log_seq: 22,
                by: "mod".into(),
                at: "2026-11-25T22:02:00.000Z".into(),
                text: None,
                mentions: Vec::new(),
                reply_to: None,
            }),
            json!({"type":"deleted","room":"general","seq":17,"log_seq":22,"by":"mod",
                   "at":"2026-11-25T22:02:00.000Z"}),
        ),
        (
            ServerMsg::error(ErrorCode::BadFrame, "nope"),
            json!({"type":"error","code":"bad_frame","message":"nope"}),
        ),
        (
            ServerMsg::Welcome {
                nick: "alice".into(),
                rooms: vec!["general".into()],
                online: vec!["alice".into(), "bob".into()],
                members: BTreeMap::from([("rust".to_owned(), vec!["alice".to_owned()])]),
                counts: Default::default(),
                session: None,
                version: 1,
                moderator: false,
                bots: Vec::new(),
                muted_until: None,
                blocked: Vec::new(),
                reply_to: None,
                dm_read: Default::default(),
                read: Default::default(),
                secured: false,
            },
            json!({"type":"welcome","nick":"alice","rooms":["general"],"online":["alice","bob"],
                   "members":{"rust":["alice"]},"version":1}),
        ),
        (
            ServerMsg::Presence {
                nick: "alice".into(),
                online: false,
                rooms: vec![],
                bot: false,
            },
            json!({"type":"presence","nick":"alice","online":false}),
        ),
        (
            ServerMsg::Presence {
                nick: "alice".into(),
                online: true,
                rooms: vec!["rust".into()],
                bot: false,
            },
            json!({"type":"presence","nick":"alice","online":true,"rooms":["rust"]}),
        ),
        (
            ServerMsg::Joined {
                room: "rust".into(),
                members: vec!["alice".into()],
                count: None,
                reply_to: None,
            },
            json!({"type":"joined","room":"rust","members":["alice"]}),
        ),
        (
            ServerMsg::Left {
                room: "rust".into(),
                reply_to: Some("r-2".into()),
            },
            json!({"type":"left","room":"rust","reply_to":"r-2"}),
        ),
        (
            ServerMsg::Member {
                room: "rust".into(),
                nick: "bob".into(),
                joined: true,
            },
            json!({"type":"member","room":"rust","nick":"bob","joined":true}),
        ),
        (
            ServerMsg::Renamed {
                from: "old".into(),
                to: "new".into(),
                reply_to: None,
            },
            json!({"type":"renamed","from":"old","to":"new"}),
        ),
        (
            ServerMsg::Typing {
                room: "general".into(),
                nick: "bob".into(),
                active: true,
            },
            json!({"type":"typing","room":"general","nick":"bob","active":true}),
        ),
        (
            ServerMsg::Dm(DirectMessage {
                reactions: Default::default(),
                id: 4,
                from: "alice".into(),
                to: "bob".into(),
                text: "psst".into(),
                at: "2026-11-25T22:00:00.000Z".into(),
                client_id: None,
                action: true,
                files: Vec::new(),
                reply_to: None,
            }),
            json!({"type":"dm","id":4,"from":"alice","to":"bob","text":"psst",
                   "at":"2026-11-25T22:00:00.000Z","action":true}),
        ),
        (
            ServerMsg::DmHistory {
                reactions: Vec::new(),
                messages: vec![],
                reset: true,
                more: false,
                before: None,
                complete: false,
                reply_to: None,
                with: None,
            },
            json!({"type":"dm_history","messages":[],"reset":true}),
        ),
        (
            ServerMsg::History {
                room: "general".into(),
                messages: vec![Stored::Message(ChatMessage {
                    room: "general".into(),
                    seq: 1,
                    from: "a".into(),
                    text: "x".into(),
                    at: "2026-11-25T22:00:00.000Z".into(),
                    client_id: None,
                    action: false,
                    edited: false,
                    deleted: false,
                    mentions: Vec::new(),
                    files: Vec::new(),
                    reply_to: None,
                    reactions: Default::default(),
                })],
                complete: true,
                reset: false,
                before: None,
                more: false,
                reply_to: None,
            },
            json!({"type":"history","room":"general","complete":true,"messages":[
                {"type":"message","room":"general","seq":1,"from":"a","text":"x",
                 "at":"2026-11-25T22:00:00.000Z"}]}),
        ),
    ];
    for (msg, expected) in cases {
        assert_eq!(wire(&msg), expected);
        assert_eq!(ServerMsg::parse(&msg.to_json()).ok(), Some(msg));
    }
}

#[test]
fn bad_frames_are_bad_frame_errors() {
    for frame in [
        "not json",
        "{}",
        r#"{"type":"shout","text":"x"}"#,
        r#"{"type":"say","room":"general","text":"x"}"#,
        r#"{"type":"hello","nick":42}"#,
        r#"{"type":"typing","room":"general"}"#,
        r#"{"type":"dm","to":"bob","text":"x"}"#,
        "[]",
        "",
    ] {
        let err = ClientMsg::parse(frame).expect_err(frame);
        assert_eq!(err.code, ErrorCode::BadFrame, "{frame}");
    }
}

#[test]
fn a_request_id_is_read_with_the_frame_and_named_in_a_refusal() {
    assert_eq!(
        Request::parse(r#"{"type":"join","room":"rust","id":"r-1"}"#),
        Ok(Request {
            id: Some("r-1".into()),
            msg: ClientMsg::Join {
                room: "rust".into()
            }
        })
    );
    assert_eq!(
        Request::parse(r#"{"type":"nick","nick":"x"}"#).map(|r| r.id),
        Ok(None)
    );
    let (id, err) = Request::parse(r#"{"type":"join","id":"r-2"}"#).expect_err("no room");
    assert_eq!(
        (id.as_deref(), err.code),
        (Some("r-2"), ErrorCode::BadFrame)
    );
    let (id, err) = Request::parse(r#"{"type":"shout","id":"r-3"}"#).expect_err("unknown");
    assert_eq!(
        (id.as_deref(), err.code),
        (Some("r-3"), ErrorCode::BadFrame)
    );
    for bad_id in [r#"42"#, r#""""#, &format!("{:?}", "x".repeat(65))] {
        let frame = format!(r#"{{"type":"nick","nick":"x","id":{bad_id}}}"#);
        let (id, err) = Request::parse(&frame).expect_err(&frame);
        assert_eq!((id, err.code), (None, ErrorCode::BadFrame), "{frame}");
    }
    let refusal = FrameError::new(ErrorCode::UnknownRoom, "no").answer(None, Some("r-4".into()));
    assert_eq!(
        wire(&refusal),
        json!({"type":"error","code":"unknown_room","message":"no","reply_to":"r-4"})
    );
}

#[test]
fn an_unknown_error_code_still_parses() {
    let frame = r#"{"type":"error","code":"from_the_future","message":"hm","client_id":"c-1"}"#;
    match ServerMsg::parse(frame) {
        Ok(ServerMsg::Error {
            code, client_id, ..
        }) => {
            assert_eq!(
                (code, client_id.as_deref()),
                (ErrorCode::Unknown, Some("c-1"))
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_rate_limit_says_when_to_retry() {
    let msg = FrameError::rate_limited("messages from this session", 250).about("c-1".into());
    assert_eq!(
        wire(&msg),
        json!({"type":"error","code":"rate_limited","message":"too many messages from this session; wait 250 ms",
               "client_id":"c-1","retry_after_ms":250})
    );
}

#[test]
fn error_codes_have_their_wire_names() {
    assert_eq!(ErrorCode::NickTaken.name(), "nick_taken");
    assert_eq!(ErrorCode::BadFrame.name(), "bad_frame");
    // The hand-written names agree with serde's.
    for code in ErrorCode::KNOWN {
        assert_eq!(serde_json::to_value(code).ok(), Some(json!(code.as_str())));
    }
}

#[test]
fn nick_rules() {
    assert_eq!(validate_nick("  alice "), Ok("alice".into()));
    assert_eq!(validate_nick("Zoë 🦀"), Ok("Zoë 🦀".into()));
    assert_eq!(
        validate_nick(&"é".repeat(32)).map(|n| n.chars().count()),
        Ok(32)
    );
    for bad in ["", "   ", "a\u{7}b", "tab\there", &"x".repeat(33)] {
        assert_eq!(
            validate_nick(bad).map_err(|e| e.code),
            Err(ErrorCode::NickInvalid),
            "{bad:?}"
        );
    }
}

#[test]
fn room_rules() {
    for good in ["general", "rust", "a", "rust-2026", "-", &"x".repeat(32)] {
        assert!(validate_room(good).is_ok(), "{good:?}");
    }
    for bad in [
        "",
        "Rust",
        "ru st",
        "rüst",
        "r_s",
        "#rust",
        "a/b",
        &"x".repeat(33),
    ] {
        assert_eq!(
            validate_room(bad).map_err(|e| e.code),
            Err(ErrorCode::RoomInvalid),
            "{bad:?}"
        );
    }
}

#[test]
fn text_rules() {
    assert!(validate_text(" hi ").is_ok());
    assert!(validate_text(&"é".repeat(MAX_TEXT_CHARS)).is_ok());
    assert_eq!(
        validate_text(" \n ").map_err(|e| e.code),
        Err(ErrorCode::Empty)
    );
    assert_eq!(
        validate_text(&"a".repeat(MAX_TEXT_CHARS + 1)).map_err(|e| e.code),
        Err(ErrorCode::TooLong)
    );
    assert!(validate_client_id("c-1").is_ok());
    assert!(validate_client_id("").is_err());
    assert!(validate_client_id(&"c".repeat(65)).is_err());
}

#[test]
fn a_newer_servers_frames_never_break_parsing() {
    // A frame type this build does not know is ignored, not an error hiding what follows.
    assert_eq!(
        ServerMsg::parse(r#"{"type":"reaction","room":"general","seq":4,"emoji":"+1"}"#).ok(),
        Some(ServerMsg::Unknown)
    );
    // An error code it does not know is shown by its message.
    let Ok(ServerMsg::Error { code, message, .. }) =
        ServerMsg::parse(r#"{"type":"error","code":"brand_new","message":"Something new"}"#)
    else {
        panic!("an unknown error code must parse");
    };
    assert_eq!(
        (code, message.as_str()),
        (ErrorCode::Unknown, "Something new")
    );
    // A history entry of a new kind is skipped; the messages beside it are kept.
    let Ok(ServerMsg::History { messages, .. }) = ServerMsg::parse(
        r#"{"type":"history","room":"general","complete":true,"messages":[
            {"type":"poll","room":"general","seq":1,"question":"x"},
            {"type":"message","room":"general","seq":2,"from":"bob","text":"hi","at":"2026-11-26T10:00:00Z"}]}"#,
    ) else {
        panic!("a history with a new kind of entry must parse");
    };
    let seqs: Vec<u64> = messages
        .iter()
        .filter_map(Stored::message)
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, [2]);
    // A welcome from a server before versions says version 0.
    let Ok(ServerMsg::Welcome { version, .. }) =
        ServerMsg::parse(r#"{"type":"welcome","nick":"a","rooms":["general"]}"#)
    else {
        panic!("an old welcome must parse");
    };
    assert_eq!(version, 0);
}

#[test]
fn a_quote_keeps_the_first_characters_not_bytes() {
    let text = "é".repeat(QUOTE_CHARS + 30);
    let quote = Quote::of(7, None, "ana", &text);
    assert_eq!(quote.text.chars().count(), QUOTE_CHARS);
    assert!((quote.seq, quote.id, quote.deleted) == (7, None, false));
    let gone = Quote::gone(0, Some(12));
    assert!(gone.deleted && gone.text.is_empty() && gone.from.is_empty());
}
