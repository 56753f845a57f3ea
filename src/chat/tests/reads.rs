//! Read positions: unread counts from the server's positions, badges cleared by another device's
//! reading, `read` frames sent once per new position, and the "new messages" line.

use super::*;

/// A `welcome` for alice in general and rust, with her read positions.
fn welcome_with(read: &[(&str, u64)], dm_read: &[(&str, u64)]) -> ServerMsg {
    ServerMsg::Welcome {
        nick: "alice".into(),
        rooms: vec!["general".into(), "rust".into()],
        online: vec!["alice".into(), "bob".into()],
        members: BTreeMap::new(),
        counts: Default::default(),
        session: None,
        version: crate::protocol::PROTOCOL_VERSION,
        moderator: false,
        bots: Vec::new(),
        muted_until: None,
        blocked: Vec::new(),
        secured: true,
        read: read.iter().map(|(r, s)| ((*r).to_owned(), *s)).collect(),
        dm_read: dm_read.iter().map(|(p, i)| ((*p).to_owned(), *i)).collect(),
        reply_to: None,
    }
}

fn rust_history(seqs: std::ops::RangeInclusive<u64>) -> ServerMsg {
    ServerMsg::History {
        room: "rust".into(),
        messages: seqs
            .map(
                |seq| match in_room("rust", seq, "bob", &format!("m{seq}")) {
                    ServerMsg::Message(m) => Stored::Message(m),
                    _ => Stored::Unknown,
                },
            )
            .collect(),
        complete: true,
        reset: false,
        before: None,
        more: false,
        reply_to: None,
    }
}

fn read_room(room: &str, seq: u64) -> ServerMsg {
    ServerMsg::Read {
        room: Some(room.into()),
        seq: Some(seq),
        dm: None,
        id: None,
    }
}

#[test]
fn a_first_page_counts_what_lies_past_my_read_position() {
    let mut chat = Chat::default();
    chat.apply(&welcome_with(&[("rust", 3)], &[]), 0.0);
    assert!(chat.secured);
    chat.apply(&rust_history(1..=5), 0.0);
    assert_eq!(
        chat.conversations.room("rust").unread,
        2,
        "4 and 5 are past 3"
    );
    // Without a position (a room never read), a first page is not news.
    let mut fresh = Chat::default();
    fresh.apply(&welcome_with(&[], &[]), 0.0);
    fresh.apply(&rust_history(1..=5), 0.0);
    assert_eq!(fresh.conversations.room("rust").unread, 0);
}

#[test]
fn reading_on_another_device_clears_the_badge_and_never_moves_back() {
    let mut chat = Chat::default();
    chat.apply(&welcome_with(&[("rust", 3)], &[]), 0.0);
    chat.apply(&rust_history(1..=5), 0.0);
    chat.apply(&in_room("rust", 6, "bob", "live"), 0.0);
    assert_eq!(chat.conversations.room("rust").unread, 3);
    assert_eq!(
        chat.receive_frame(&read_room("rust", 5), 0.0),
        Parts::CONVERSATIONS | Parts::LINES
    );
    assert_eq!(
        chat.conversations.room("rust").unread,
        1,
        "6 is still unread"
    );
    assert!(
        !chat.apply(&read_room("rust", 4), 0.0),
        "an older position changes nothing"
    );
    assert_eq!(chat.conversations.room("rust").unread, 1);
    chat.apply(&read_room("rust", 6), 0.0);
    assert_eq!(chat.conversations.room("rust").unread, 0);
    assert_eq!(chat.reads.room("rust"), Some(6));
}

#[test]
fn what_is_on_screen_is_read_once_and_only_while_the_tab_is_visible() {
    let mut chat = Chat::default();
    chat.apply(&welcome_with(&[("general", 1)], &[]), 0.0);
    chat.apply(&message(2, "bob", "hi"), 0.0);
    chat.attention.set_hidden(true);
    assert_eq!(chat.read_to_send(), None, "a hidden tab reads nothing");
    chat.attention.set_hidden(false);
    assert_eq!(
        chat.read_to_send(),
        Some(ClientMsg::Read {
            room: Some("general".into()),
            seq: Some(2),
            dm: None,
            id: None
        })
    );
    assert_eq!(chat.read_to_send(), None, "once per position");
    // A position another device reached is not sent again.
    chat.apply(&message(3, "bob", "more"), 0.0);
    chat.apply(&read_room("general", 3), 0.0);
    assert_eq!(chat.read_to_send(), None);
}

#[test]
fn a_private_conversation_reads_by_message_id() {
    let mut chat = Chat::default();
    chat.apply(&welcome_with(&[], &[("bob", 7)]), 0.0);
    let first_load = ServerMsg::DmHistory {
        reactions: Vec::new(),
        messages: [7, 8, 9]
            .into_iter()
            .map(|id| DirectMessage {
                reactions: Default::default(),
                id,
                from: "bob".into(),
                to: "alice".into(),
                text: format!("d{id}"),
                at: "2026-11-25T22:00:00.000Z".into(),
                client_id: None,
                action: false,
                files: Vec::new(),
                reply_to: None,
            })
            .collect(),
        reset: false,
        more: false,
        before: None,
        with: None,
        complete: true,
        reply_to: None,
    };
    chat.apply(&first_load, 0.0);
    let unread = |chat: &Chat| {
        chat.conversations
            .directs()
            .find(|(v, _)| *v == View::Direct("bob".into()))
            .map_or(0, |(_, c)| c.unread)
    };
    assert_eq!(unread(&chat), 2, "8 and 9 are past 7, even in a first load");
    chat.open(View::Direct("bob".into()));
    assert_eq!(
        chat.first_unread(),
        Some("dm-8".into()),
        "the line starts at 8"
    );
    assert_eq!(
        chat.read_to_send(),
        Some(ClientMsg::Read {
            room: None,
            seq: None,
            dm: Some("bob".into()),
            id: Some(9)
        })
    );
}

#[test]
fn opening_a_room_marks_where_its_unread_messages_begin() {
    let mut chat = Chat::default();
    chat.apply(&welcome_with(&[("rust", 3)], &[]), 0.0);
    chat.apply(&rust_history(1..=5), 0.0);
    chat.open(View::Room("rust".into()));
    assert_eq!(chat.first_unread(), Some("rust:4".into()));
    assert_eq!(chat.conversations.room("rust").unread, 0);
    chat.open(View::general());
    assert_eq!(chat.first_unread(), None, "general had nothing unread");
}
