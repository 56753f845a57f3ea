//! Rooms: their own messages, members, unread counts and typing; leaving elsewhere.

use super::*;

#[test]
fn rooms_have_their_own_messages_members_unread_and_typing() {
    let mut chat = welcomed("me", &["me", "bob", "carol"]);
    assert!(!chat.conversations.is_member("rust"));
    assert!(!chat.apply(&in_room("rust", 1, "bob", "not for me"), 0.0));
    chat.apply(&joined("rust", &["bob", "me"]), 0.0);
    let names: Vec<View> = chat.conversations.rooms().map(|(v, _)| v).collect();
    assert_eq!(names, [View::general(), View::Room("rust".into())]);
    assert_eq!(chat.people.members("rust"), ["bob", "me"]);
    assert_eq!(chat.people.members("general"), ["bob", "carol", "me"]);

    // The first page is not news; live messages elsewhere are.
    chat.apply(
        &ServerMsg::History {
            room: "rust".into(),
            messages: vec![],
            complete: true,
            reset: false,
            before: None,
            more: false,
            reply_to: None,
        },
        0.0,
    );
    chat.apply(&in_room("rust", 1, "bob", "borrowck"), 0.0);
    chat.apply(&in_room("rust", 2, "bob", "lifetimes"), 0.0);
    assert_eq!(chat.conversations.room("rust").unread, 2);
    assert_eq!(chat.conversations.room(GENERAL).unread, 0);
    assert_eq!(chat.timeline.since().get("rust"), Some(&2));

    // Typing is per room: bob typing in rust is not shown in general.
    chat.apply(
        &ServerMsg::Typing {
            room: "rust".into(),
            nick: "bob".into(),
            active: true,
        },
        0.0,
    );
    assert_eq!(chat.typing_line(), None);
    chat.open(View::Room("rust".into()));
    assert_eq!(chat.conversations.room("rust").unread, 0);
    assert_eq!(chat.typing_line().as_deref(), Some("bob is typing…"));

    // Members come and go; someone going offline leaves every list.
    chat.apply(
        &ServerMsg::Member {
            room: "rust".into(),
            nick: "carol".into(),
            joined: true,
        },
        0.0,
    );
    assert_eq!(chat.people.members("rust"), ["bob", "carol", "me"]);
    assert!(notices(chat.conversations.room("rust")).contains(&"carol joined #rust".to_owned()));
    chat.apply(
        &ServerMsg::Presence {
            nick: "bob".into(),
            online: false,
            rooms: vec![],
            bot: false,
        },
        0.0,
    );
    assert_eq!(chat.people.members("rust"), ["carol", "me"]);
    assert_eq!(chat.typing_line(), None);
    chat.apply(
        &ServerMsg::Presence {
            nick: "bob".into(),
            online: true,
            rooms: vec!["general".into(), "rust".into()],
            bot: false,
        },
        0.0,
    );
    assert_eq!(chat.people.members("rust"), ["bob", "carol", "me"]);

    // My message here goes to this room.
    chat.push_own(own(View::Room("rust".into()), "c-1", "hi", false), "now");
    assert_eq!(
        chat.unconfirmed()[0].frame(),
        ClientMsg::Say {
            room: "rust".into(),
            text: "hi".into(),
            client_id: "c-1".into(),
            action: false,
            files: Vec::new(),
            reply_to: None,
        }
    );

    // Leaving forgets the room, and reconnecting no longer asks for it.
    chat.apply(
        &ServerMsg::Left {
            room: "rust".into(),
            reply_to: None,
        },
        0.0,
    );
    assert!(!chat.conversations.is_member("rust"));
    assert_eq!(chat.timeline.since().get("rust"), None);
    assert!(chat.unconfirmed().is_empty());
    assert_eq!(
        chat.conversations.current().lines.len(),
        0,
        "the page offers to join again"
    );
}

#[test]
fn a_welcome_drops_rooms_left_elsewhere_and_keeps_general() {
    let mut chat = welcomed("me", &["me"]);
    for room in ["rust", "go"] {
        chat.apply(&joined(room, &[]), 0.0);
    }
    chat.apply(
        &ServerMsg::Welcome {
            nick: "me".into(),
            rooms: vec!["general".into(), "rust".into()],
            online: vec!["me".into()],
            members: BTreeMap::from([("rust".to_owned(), vec!["me".to_owned()])]),
            counts: Default::default(),
            session: None,
            version: crate::protocol::PROTOCOL_VERSION,
            moderator: false,
            bots: Vec::new(),
            muted_until: None,
            blocked: Vec::new(),
            reply_to: None,
            dm_read: Default::default(),
            read: Default::default(),
            secured: false,
        },
        0.0,
    );
    let names: Vec<String> = chat
        .conversations
        .rooms()
        .map(|(_, c)| c.title.clone())
        .collect();
    assert_eq!(names, ["general", "rust"]);
    assert_eq!(chat.people.members("rust"), ["me"]);
}
