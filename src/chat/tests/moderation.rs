//! What the page learns of moderation and bots: who is a bot, what a moderator did, and that this
//! tab is muted or banned.

use super::*;

const UNTIL: &str = "2026-11-27T10:00:00.000Z";

fn moderated(action: &str, nick: &str, reason: &str) -> ServerMsg {
    ServerMsg::Moderated {
        action: action.into(),
        nick: nick.into(),
        by: "mod".into(),
        until: UNTIL.into(),
        reason: reason.into(),
        reply_to: None,
    }
}

#[test]
fn everyone_is_told_of_a_mute_or_a_ban_and_the_person_knows_their_mute() {
    let mut chat = welcomed("ana", &["ana", "troll"]);
    assert!(chat.apply(&moderated("banned", "troll", "spam"), 1.0));
    assert!(chat.apply(&moderated("muted", "Ana", ""), 2.0));
    assert_eq!(
        notices(chat.conversations.room(GENERAL)),
        [
            "troll was banned by mod until 2026-11-27 10:00 UTC: spam",
            "Ana was muted by mod until 2026-11-27 10:00 UTC",
        ]
    );
    assert_eq!(chat.muted_until.as_deref(), Some(UNTIL));
    assert_eq!(chat.banned_until, None);
}

#[test]
fn a_ban_stops_the_tab_and_says_why() {
    let mut chat = welcomed("troll", &["troll"]);
    let refusal = ServerMsg::Error {
        code: ErrorCode::Banned,
        message: "a moderator banned you until then".into(),
        client_id: None,
        retry_after_ms: None,
        reply_to: None,
        until: Some(UNTIL.into()),
    };
    assert!(chat.apply(&refusal, 1.0));
    assert_eq!(chat.banned_until.as_deref(), Some(UNTIL));
    assert_eq!(
        notices(chat.conversations.room(GENERAL)),
        ["a moderator banned you until then"]
    );
}

#[test]
fn bots_are_known_from_welcome_and_presence_until_they_leave() {
    let mut chat = Chat::default();
    chat.apply(
        &ServerMsg::Welcome {
            nick: "ana".into(),
            rooms: vec!["general".into()],
            online: vec!["ana".into(), "helper".into()],
            members: BTreeMap::new(),
            counts: Default::default(),
            session: None,
            version: crate::protocol::PROTOCOL_VERSION,
            moderator: true,
            bots: vec!["helper".into()],
            muted_until: Some(UNTIL.into()),
            blocked: Vec::new(),
            reply_to: None,
            dm_read: Default::default(),
            read: Default::default(),
            secured: false,
        },
        0.0,
    );
    assert!(chat.moderator);
    assert!(chat.people.is_bot("Helper") && !chat.people.is_bot("ana"));
    assert_eq!(
        notices(chat.conversations.room(GENERAL)),
        ["A moderator muted you until 2026-11-27 10:00 UTC: you can read, not post."]
    );
    let presence = |nick: &str, online: bool, bot: bool| ServerMsg::Presence {
        nick: nick.into(),
        online,
        rooms: Vec::new(),
        bot,
    };
    chat.apply(&presence("echo", true, true), 1.0);
    chat.apply(&presence("bo", true, false), 1.0);
    assert!(chat.people.is_bot("echo") && !chat.people.is_bot("bo"));
    chat.apply(&presence("helper", false, true), 2.0);
    assert!(!chat.people.is_bot("helper"));
}
