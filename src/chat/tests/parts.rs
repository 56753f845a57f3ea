//! Which parts of the page a frame changes: never fewer than it does (the page would go stale),
//! and for the frequent frames no more (they would redraw what they did not change).

use super::*;

/// What the page shows of each part, in the order of [`Parts::indices`].
fn shown(chat: &Chat) -> [String; Parts::COUNT] {
    let room = chat.conversations.current_room().map(str::to_owned);
    let more = room.as_deref().is_some_and(|room| {
        chat.conversations.is_member(room)
            && !chat.conversations.room(room).complete
            && chat.timeline.oldest_seq(room).is_some()
    });
    let conversations: Vec<_> = chat
        .conversations
        .rooms()
        .chain(chat.conversations.directs())
        .map(|(view, conv)| (view, conv.title.clone(), conv.unread, conv.mentions))
        .collect();
    let member = room
        .as_deref()
        .map(|room| chat.conversations.is_member(room));
    let people = (
        &chat.people,
        room.as_deref().map(|room| chat.people.head_count(room)),
    );
    [
        format!("{:?} {more}", chat.conversations.current().lines),
        format!("{:?}", chat.typing_line()),
        format!(
            "{conversations:?} {:?} {member:?} {}",
            chat.conversations.current_view(),
            chat.conversations.current().title
        ),
        format!("{people:?}"),
        format!(
            "{} {} {} {} {} {:?} {:?}",
            chat.me,
            chat.moderator,
            chat.outdated,
            chat.unsent(),
            chat.attention.alerts(),
            chat.muted_until,
            chat.banned_until
        ),
        format!("{:?}", chat.search),
    ]
}

/// Applies `frame` and fails if a part it changed is not among the parts it named.
fn check(chat: &mut Chat, frame: &ServerMsg, now: f64) -> Parts {
    let before = shown(chat);
    let parts = chat.receive_frame(frame, now);
    let after = shown(chat);
    for (i, (before, after)) in before.iter().zip(&after).enumerate() {
        if before != after {
            assert!(
                parts.indices().any(|p| p == i),
                "{frame:?} changed part {i} but named only {parts:?}:\n{before}\n{after}"
            );
        }
    }
    parts
}

fn in_rust(seq: u64, from: &str, text: &str) -> ServerMsg {
    in_room("rust", seq, from, text)
}

/// Every kind of frame, in an order a session could see them.
fn script() -> Vec<ServerMsg> {
    let error = |code, client_id: Option<&str>| ServerMsg::Error {
        code,
        message: "no".into(),
        client_id: client_id.map(str::to_owned),
        retry_after_ms: None,
        reply_to: None,
        until: None,
    };
    let mut dm_from_carol = dm("carol", "me", "psst @me", None);
    if let ServerMsg::Dm(dm) = &mut dm_from_carol {
        dm.id = 7;
    }
    vec![
        ServerMsg::History {
            room: "rust".into(),
            messages: vec![Stored::Message(match in_rust(1, "bob", "first") {
                ServerMsg::Message(m) => m,
                _ => unreachable!(),
            })],
            complete: false,
            reset: false,
            before: None,
            more: false,
            reply_to: None,
        },
        message(1, "bob", "hello @me"),
        in_rust(2, "bob", "hi rust"),
        typing("bob", true),
        ServerMsg::Typing {
            room: "rust".into(),
            nick: "bob".into(),
            active: true,
        },
        message(2, "bob", "again"),
        in_rust(3, "bob", "again"),
        typing("carol", true),
        typing("carol", false),
        ack("c-general", 3),
        ServerMsg::Ack {
            client_id: "c-rust".into(),
            room: Some("rust".into()),
            seq: Some(4),
            to: None,
            id: None,
            reply_to: None,
        },
        error(ErrorCode::TooLong, Some("c-carol")),
        ServerMsg::Member {
            room: "rust".into(),
            nick: "carol".into(),
            joined: true,
        },
        ServerMsg::Member {
            room: "rust".into(),
            nick: "bob".into(),
            joined: false,
        },
        ServerMsg::Presence {
            nick: "dave".into(),
            online: true,
            rooms: vec!["rust".into()],
            bot: true,
        },
        ServerMsg::Presence {
            nick: "carol".into(),
            online: false,
            rooms: vec![],
            bot: false,
        },
        ServerMsg::Roster {
            room: "general".into(),
            count: 500,
            members: None,
        },
        ServerMsg::Roster {
            room: "rust".into(),
            count: 2,
            members: Some(vec!["me".into(), "dave".into()]),
        },
        dm_from_carol,
        dm("me", "carol", "hi", Some("c-dm")),
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
        ServerMsg::Edited(change("general", 1, 4, Some("hello, edited"))),
        ServerMsg::Deleted(change("rust", 2, 5, None)),
        ServerMsg::Lagged {
            room: "rust".into(),
            missed: 3,
        },
        error(ErrorCode::RateLimited, None),
        renamed("dave", "david"),
        ServerMsg::Moderated {
            action: "muted".into(),
            nick: "me".into(),
            by: "mod".into(),
            until: "2026-11-25T23:00:00.000Z".into(),
            reason: String::new(),
            reply_to: None,
        },
        ServerMsg::Unknown,
        ServerMsg::Left {
            room: "rust".into(),
            reply_to: None,
        },
        ServerMsg::Welcome {
            nick: "me".into(),
            rooms: vec!["general".into()],
            online: vec!["me".into()],
            members: BTreeMap::new(),
            counts: Default::default(),
            session: None,
            version: crate::protocol::PROTOCOL_VERSION + 1,
            moderator: true,
            bots: Vec::new(),
            muted_until: None,
            blocked: Vec::new(),
            reply_to: None,
            dm_read: Default::default(),
            read: Default::default(),
            secured: false,
        },
    ]
}

/// In `rust` with bob, with `view` open and messages of mine waiting in general, rust and a private
/// conversation with carol.
fn setup(view: View, hidden: bool) -> Chat {
    let mut chat = welcomed("me", &["me", "bob", "carol"]);
    chat.apply(&joined("rust", &["bob", "me"]), 0.0);
    chat.push_own(
        own(View::general(), "c-general", "mine", false),
        "2026-11-25T22:00:00.000Z",
    );
    chat.push_own(
        own(View::Room("rust".into()), "c-rust", "mine", false),
        "2026-11-25T22:00:00.000Z",
    );
    chat.push_own(
        own(View::Direct("carol".into()), "c-carol", "mine", false),
        "2026-11-25T22:00:00.000Z",
    );
    chat.open(view);
    chat.attention.set_hidden(hidden);
    chat
}

#[test]
fn a_frame_names_every_part_it_changes() {
    let views = [
        View::general(),
        View::Room("rust".into()),
        View::Direct("carol".into()),
    ];
    for view in views {
        for hidden in [false, true] {
            let mut chat = setup(view.clone(), hidden);
            for (i, frame) in script().iter().enumerate() {
                check(&mut chat, frame, 1_000.0 * i as f64);
            }
        }
    }
}

#[test]
fn the_clock_names_every_part_it_changes() {
    let mut chat = setup(View::general(), false);
    check(&mut chat, &typing("bob", true), 0.0);
    let before = shown(&chat);
    let parts = chat.tick(TYPING_TTL_MS + 1.0);
    assert_eq!(parts, Parts::TYPING, "only the typing line expired");
    assert_ne!(before[1], shown(&chat)[1]);
    let before = shown(&chat);
    let parts = chat.tick(1e12);
    let after = shown(&chat);
    for (i, (before, after)) in before.iter().zip(&after).enumerate() {
        if before != after {
            assert!(parts.indices().any(|p| p == i), "part {i}");
        }
    }
}

#[test]
fn frequent_frames_name_only_what_they_change() {
    let mut chat = setup(View::general(), false);
    // Typing in the open room: its typing line only; elsewhere: nothing on screen.
    assert_eq!(check(&mut chat, &typing("bob", true), 0.0), Parts::TYPING);
    let elsewhere = ServerMsg::Typing {
        room: "rust".into(),
        nick: "bob".into(),
        active: true,
    };
    assert_eq!(check(&mut chat, &elsewhere, 0.0), Parts::NONE);
    // A message in the open room: its lines, never the conversation list or who is online.
    let parts = check(&mut chat, &message(1, "bob", "hi"), 0.0);
    assert!(parts.contains(Parts::LINES));
    assert!(!parts.contains(Parts::CONVERSATIONS) && !parts.contains(Parts::PEOPLE));
    // In another room: its badge, never the open conversation's lines.
    let parts = check(&mut chat, &in_rust(1, "bob", "hi"), 0.0);
    assert!(parts.contains(Parts::CONVERSATIONS));
    assert!(!parts.contains(Parts::LINES) && !parts.contains(Parts::PEOPLE));
    // A message seen before changes nothing.
    assert_eq!(check(&mut chat, &message(1, "bob", "hi"), 0.0), Parts::NONE);
    // Who is online: that list, not the lines of a room where nobody is told.
    let roster = ServerMsg::Roster {
        room: "general".into(),
        count: 900,
        members: None,
    };
    assert_eq!(check(&mut chat, &roster, 0.0), Parts::PEOPLE);
    let member = ServerMsg::Member {
        room: "rust".into(),
        nick: "carol".into(),
        joined: true,
    };
    assert!(!check(&mut chat, &member, 0.0).contains(Parts::LINES));
}

#[test]
fn a_frame_redraws_only_the_lines_it_changes() {
    let mut chat = welcomed("me", &["me", "bob"]);
    for seq in 1..=20 {
        chat.apply(&message(seq, "bob", "hi"), 0.0);
    }
    chat.push_own(
        own(View::general(), "c-1", "mine", false),
        "2026-11-25T22:00:00.000Z",
    );
    let keys = |chat: &Chat| -> Vec<u64> {
        chat.conversations
            .current()
            .lines
            .iter()
            .map(|l| l.render_key())
            .collect()
    };
    let changed = |before: &[u64], after: &[u64]| -> Vec<usize> {
        before
            .iter()
            .zip(after)
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i)
            .collect()
    };
    let shown = chat.conversations.current().lines.clone();
    let before = keys(&chat);

    // A new message: the lines before it keep their keys (the list renders one new row), and the
    // chat still shares them with what the page holds.
    chat.apply(&message(21, "bob", "new"), 0.0);
    let after = keys(&chat);
    assert_eq!(after.len(), before.len() + 1);
    assert!(changed(&before, &after).is_empty());
    assert!(shown
        .iter()
        .zip(&chat.conversations.current().lines)
        .all(|(a, b)| std::sync::Arc::ptr_eq(a, b)));

    // My message's ack changes that line only.
    chat.apply(&ack("c-1", 22), 0.0);
    let acked = keys(&chat);
    assert_eq!(changed(&after, &acked), [20]);

    // An edit of message 3 changes that line only, and so does a second edit of it.
    let edit = |text: &str, log_seq| ServerMsg::Edited(change(GENERAL, 3, log_seq, Some(text)));
    chat.apply(&edit("once", 23), 0.0);
    let edited = keys(&chat);
    assert_eq!(changed(&acked, &edited), [2]);
    chat.apply(&edit("twice", 24), 0.0);
    assert_eq!(changed(&edited, &keys(&chat)), [2]);
}
