//! Messages kept once each, in order, from live frames and history.

use super::*;

#[test]
fn others_messages_are_kept_once_each() {
    let mut chat = welcomed("me", &["me"]);
    assert!(chat.apply(&message(1, "bob", "a"), 0.0));
    assert!(chat.apply(&message(2, "bob", "b"), 0.0));
    assert!(!chat.apply(&message(2, "bob", "b"), 0.0));
    assert!(!chat.apply(&message(1, "bob", "a"), 0.0));
    assert_eq!(chat.conversations.room(GENERAL).lines.len(), 2);
}

#[test]
fn an_ack_overtaking_an_older_message_does_not_hide_it() {
    let mut chat = welcomed("me", &["me"]);
    chat.push_own(own(View::general(), "c-1", "mine", false), "now");
    chat.apply(&ack("c-1", 5), 0.0);
    assert!(chat.apply(&message(4, "bob", "older"), 0.0));
    assert_eq!(chat.conversations.room(GENERAL).lines.len(), 2);
}

#[test]
fn private_messages_form_conversations_with_unread_badges() {
    let mut chat = welcomed("me", &["me", "Bob"]);
    chat.apply(&dm("Bob", "me", "psst", Some("b-1")), 0.0);
    chat.apply(&dm("Bob", "me", "hey", Some("b-2")), 0.0);
    let (view, conv) = chat.conversations.directs().next().expect("a conversation");
    assert_eq!((conv.title.as_str(), conv.unread), ("Bob", 2));
    chat.open(view.clone());
    assert_eq!(chat.conversations.current().lines.len(), 2);
    assert_eq!(
        chat.conversations.directs().next().map(|(_, c)| c.unread),
        Some(0)
    );
    // While it is open, new ones are read at once; the room counts its own unread.
    chat.apply(&dm("Bob", "me", "still there?", Some("b-3")), 0.0);
    chat.apply(&message(1, "carol", "room talk"), 0.0);
    assert_eq!(
        chat.conversations.directs().next().map(|(_, c)| c.unread),
        Some(0)
    );
    assert_eq!(chat.conversations.room(GENERAL).unread, 1);
    // My own dm, sent from my other tab, lands in the same conversation, once.
    chat.apply(&dm("me", "bob", "yes", Some("m-1")), 0.0);
    chat.apply(&dm("me", "bob", "yes", Some("m-1")), 0.0);
    assert_eq!(chat.conversations.current().lines.len(), 4);
    chat.open(View::general());
    assert_eq!(chat.conversations.room(GENERAL).unread, 0);
}

#[test]
fn an_older_page_goes_on_top_and_says_when_the_room_is_complete() {
    let mut chat = welcomed("me", &["me"]);
    chat.apply(
        &history(
            vec![message(51, "bob", "x"), message(52, "bob", "y")],
            false,
        ),
        0.0,
    );
    assert!(!chat.conversations.room(GENERAL).complete);
    assert_eq!(chat.timeline.oldest_seq(GENERAL), Some(51));
    let older = ServerMsg::History {
        room: "general".into(),
        messages: vec![
            Stored::Message(match message(49, "bob", "old") {
                ServerMsg::Message(m) => m,
                _ => unreachable!(),
            }),
            Stored::Message(match message(50, "bob", "older") {
                ServerMsg::Message(m) => m,
                _ => unreachable!(),
            }),
        ],
        complete: true,
        reset: false,
        before: Some(51),
        more: false,
        reply_to: None,
    };
    assert!(chat.apply(&older, 0.0));
    let ids: Vec<&str> = chat
        .conversations
        .room(GENERAL)
        .lines
        .iter()
        .map(|l| l.id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["general:49", "general:50", "general:51", "general:52"]
    );
    assert!(chat.conversations.room(GENERAL).complete);
    assert_eq!(
        chat.timeline.since().get("general"),
        Some(&52),
        "older pages do not move since"
    );
}

#[test]
fn history_fills_in_once_and_sets_since() {
    let mut chat = welcomed("me", &["me"]);
    assert!(chat.timeline.since().is_empty());
    chat.apply(
        &history(
            vec![message(1, "bob", "a"), message(2, "me", "mine")],
            false,
        ),
        0.0,
    );
    chat.apply(&message(3, "bob", "live"), 0.0);
    // A catch-up overlapping what arrived live adds only what is new.
    chat.apply(
        &history(
            vec![
                message(2, "me", "mine"),
                message(3, "bob", "live"),
                message(4, "bob", "b"),
            ],
            false,
        ),
        0.0,
    );
    assert_eq!(chat.conversations.room(GENERAL).lines.len(), 4);
    assert_eq!(chat.timeline.since().get("general"), Some(&4));
    assert_eq!(
        states(chat.conversations.room(GENERAL))[1],
        Some(SendState::Sent),
        "my own, from an earlier visit"
    );
}

#[test]
fn lag_is_shown_as_a_notice() {
    let mut chat = welcomed("me", &["me"]);
    assert!(chat.apply(
        &ServerMsg::Lagged {
            room: "general".into(),
            missed: 7
        },
        0.0
    ));
    assert!(notices(chat.conversations.room(GENERAL))[0].contains('7'));
}

#[test]
fn private_messages_are_kept_once_by_id_and_set_dm_since() {
    let mut chat = welcomed("me", &["me", "bob"]);
    assert_eq!(chat.timeline.dm_since(), None);
    let stored = |id: u64, text: &str| DirectMessage {
        reactions: Default::default(),
        id,
        from: "bob".into(),
        to: "me".into(),
        text: text.into(),
        at: "2026-11-25T22:00:00.000Z".into(),
        client_id: Some(format!("b-{id}")),
        action: false,
        files: Vec::new(),
        reply_to: None,
    };
    // The first load is history, not unread.
    chat.apply(
        &ServerMsg::DmHistory {
            reactions: Vec::new(),
            messages: vec![stored(3, "old")],
            reset: false,
            more: false,
            before: None,
            complete: false,
            reply_to: None,
            with: None,
        },
        0.0,
    );
    assert_eq!(
        chat.conversations.directs().next().map(|(_, c)| c.unread),
        Some(0)
    );
    chat.apply(&ServerMsg::Dm(stored(4, "new")), 0.0);
    // A catch-up overlapping the live one adds only what is new, and counts it.
    chat.apply(
        &ServerMsg::DmHistory {
            reactions: Vec::new(),
            messages: vec![stored(4, "new"), stored(5, "newer")],
            reset: false,
            more: false,
            before: None,
            complete: false,
            reply_to: None,
            with: None,
        },
        0.0,
    );
    let (_, conv) = chat.conversations.directs().next().expect("a conversation");
    assert_eq!(conv.lines.len(), 3);
    assert_eq!(conv.unread, 2);
    assert_eq!(chat.timeline.dm_since(), Some(5));
}

#[test]
fn reactions_to_private_messages_change_their_chips_and_move_dm_since() {
    let mut chat = welcomed("me", &["me", "bob"]);
    let stored = DirectMessage {
        reactions: BTreeMap::from([("🎉".to_owned(), vec!["bob".to_owned()])]),
        id: 3,
        from: "me".into(),
        to: "bob".into(),
        text: "lunch?".into(),
        at: "2026-12-07T22:00:00.000Z".into(),
        client_id: None,
        action: false,
        files: Vec::new(),
        reply_to: None,
    };
    chat.apply(&ServerMsg::Dm(stored), 0.0);
    let reaction = |log_id: u64, by: &str, emoji: &str, on: bool| DirectReaction {
        id: 3,
        log_id,
        by: by.into(),
        to: if by == "me" { "bob" } else { "me" }.into(),
        emoji: emoji.into(),
        on,
        at: "2026-12-07T22:01:00.000Z".into(),
        reply_to: None,
    };
    let chips = |chat: &Chat| {
        let (_, conv) = chat.conversations.directs().next().expect("a conversation");
        match &conv.lines[0].kind {
            LineKind::Chat { reactions, .. } => reactions.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(chips(&chat)["🎉"], ["bob"], "carried by the message");
    // Live, mine (from another tab) and theirs.
    assert!(chat.apply(&ServerMsg::DmReacted(reaction(4, "me", "👍", true)), 0.0));
    assert!(!chat.apply(&ServerMsg::DmReacted(reaction(4, "me", "👍", true)), 0.0));
    // A catch-up: applied after its messages, in order; a repeat changes nothing.
    chat.apply(
        &ServerMsg::DmHistory {
            reactions: vec![
                reaction(5, "bob", "👍", true),
                reaction(6, "bob", "🎉", false),
                reaction(7, "me", "👍", false),
            ],
            messages: Vec::new(),
            reset: false,
            more: false,
            before: None,
            complete: false,
            reply_to: None,
            with: None,
        },
        0.0,
    );
    assert_eq!(
        chips(&chat),
        BTreeMap::from([("👍".to_owned(), vec!["bob".to_owned()])])
    );
    assert_eq!(
        chat.timeline.dm_since(),
        Some(7),
        "reactions count in dm_since"
    );
}

#[test]
fn a_conversation_keeps_a_bounded_number_of_lines_and_older_ones_come_back() {
    let mut chat = welcomed("me", &["me", "bob"]);
    // My unsent message, the oldest line of all: it is never trimmed.
    chat.push_own(own(View::general(), "c-1", "still sending", false), "now");
    for seq in 1..=2_000 {
        chat.apply(&message(seq, "bob", &format!("line {seq}")), 0.0);
    }
    let conv = chat.conversations.room(GENERAL);
    assert!(
        conv.lines.len() <= MAX_LINES + 60,
        "{} lines kept",
        conv.lines.len()
    );
    assert!(conv.lines.len() >= MAX_LINES);
    assert_eq!(
        states(conv)[0],
        Some(SendState::Sending),
        "my unsent line stays"
    );
    let LineKind::Chat { text, .. } = &conv.lines.last().expect("lines").kind else {
        panic!("the last line is a message");
    };
    assert_eq!(text, "line 2000", "the newest are kept");
    assert!(!conv.complete, "older messages can be loaded again");
    // What was forgotten can come back: "Load older" asks before the oldest kept, and the page it
    // gets is shown once each.
    let oldest = chat.timeline.oldest_seq(GENERAL).expect("an oldest seq");
    assert!(
        oldest > 1_500,
        "seen was trimmed with the lines: oldest {oldest}"
    );
    let older: Vec<Stored> = (oldest - 50..oldest)
        .map(|seq| match message(seq, "bob", &format!("line {seq}")) {
            ServerMsg::Message(m) => Stored::Message(m),
            _ => unreachable!(),
        })
        .collect();
    let page = ServerMsg::History {
        room: GENERAL.into(),
        messages: older.clone(),
        complete: false,
        reset: false,
        before: Some(oldest),
        more: false,
        reply_to: None,
    };
    let before = chat.conversations.room(GENERAL).lines.len();
    assert!(chat.apply(&page, 0.0));
    assert_eq!(chat.conversations.room(GENERAL).lines.len(), before + 50);
    // The same page again (a retried request) adds nothing.
    chat.apply(&page, 0.0);
    assert_eq!(chat.conversations.room(GENERAL).lines.len(), before + 50);
    // The live stream goes on where it was: no re-delivery of a kept message doubles it.
    assert!(!chat.apply(&message(2_000, "bob", "line 2000"), 0.0));
    assert_eq!(chat.timeline.since().get(GENERAL), Some(&2_000));
}

#[test]
fn private_conversations_are_bounded_too() {
    let mut chat = welcomed("me", &["me", "bob"]);
    for id in 1..=2_000u64 {
        let mut frame = dm("bob", "me", &format!("dm {id}"), None);
        if let ServerMsg::Dm(d) = &mut frame {
            d.id = id;
        }
        chat.apply(&frame, 0.0);
    }
    let conv = chat
        .conversations
        .directs()
        .find(|(v, _)| *v == View::Direct("bob".into()))
        .map(|(_, c)| c.clone())
        .expect("the conversation");
    assert!(conv.lines.len() <= MAX_LINES + 60);
    assert_eq!(chat.timeline.dm_since(), Some(2_000));
}

fn shown(chat: &Chat, seq: u64) -> Option<(String, bool, bool)> {
    chat.conversations
        .room(GENERAL)
        .lines
        .iter()
        .find_map(|l| match &l.kind {
            LineKind::Chat {
                seq: Some(s),
                text,
                edited,
                deleted,
                ..
            } if *s == seq => Some((text.clone(), *edited, *deleted)),
            _ => None,
        })
}

#[test]
fn edits_and_deletes_change_the_line_in_place_and_move_the_position() {
    let mut chat = welcomed("me", &["me", "bob"]);
    chat.apply(&message(1, "bob", "helo"), 0.0);
    chat.apply(&message(2, "bob", "next"), 0.0);
    assert!(chat.apply(
        &ServerMsg::Edited(change(GENERAL, 1, 3, Some("hello"))),
        0.0
    ));
    assert_eq!(shown(&chat, 1), Some(("hello".into(), true, false)));
    assert_eq!(
        chat.timeline.since().get(GENERAL),
        Some(&3),
        "a reconnect asks after the edit"
    );
    assert!(chat.apply(&ServerMsg::Deleted(change(GENERAL, 1, 4, None)), 0.0));
    assert_eq!(shown(&chat, 1), Some((String::new(), true, true)));
    // A delete is for good: an edit replayed after it does not bring the words back.
    assert!(!chat.apply(
        &ServerMsg::Edited(change(GENERAL, 1, 3, Some("hello"))),
        0.0
    ));
    assert_eq!(shown(&chat, 1), Some((String::new(), true, true)));
    // A change to a message no longer (or never) shown still moves the position.
    assert!(!chat.apply(&ServerMsg::Edited(change(GENERAL, 40, 41, Some("x"))), 0.0));
    assert_eq!(chat.timeline.since().get(GENERAL), Some(&41));
    assert_eq!(
        chat.conversations.room(GENERAL).lines.len(),
        2,
        "no line was added"
    );
    // From a catch-up, in order with the messages.
    chat.apply(
        &ServerMsg::History {
            room: "general".into(),
            messages: vec![
                Stored::Message(match message(42, "bob", "late") {
                    ServerMsg::Message(m) => m,
                    _ => unreachable!(),
                }),
                Stored::Edited(change(GENERAL, 42, 43, Some("later"))),
            ],
            complete: true,
            reset: false,
            before: None,
            more: false,
            reply_to: None,
        },
        0.0,
    );
    assert_eq!(shown(&chat, 42), Some(("later".into(), true, false)));
    assert_eq!(chat.timeline.since().get(GENERAL), Some(&43));
}

#[test]
fn my_message_learns_its_seq_from_its_ack_so_it_can_be_changed() {
    let mut chat = welcomed("me", &["me"]);
    chat.push_own(own(View::general(), "c-1", "mine", false), "now");
    chat.apply(&ack("c-1", 7), 0.0);
    let line = chat
        .conversations
        .room(GENERAL)
        .lines
        .last()
        .expect("my line")
        .clone();
    assert!(matches!(line.kind, LineKind::Chat { seq: Some(7), .. }));
    let before = line.render_key();
    chat.apply(
        &ServerMsg::Edited(change(GENERAL, 7, 8, Some("mine, fixed"))),
        0.0,
    );
    let line = chat
        .conversations
        .room(GENERAL)
        .lines
        .last()
        .expect("my line");
    assert_ne!(line.render_key(), before, "an edited line is drawn again");
    assert_eq!(shown(&chat, 7), Some(("mine, fixed".into(), true, false)));
}

#[test]
fn a_mention_of_me_badges_its_room_and_counts_in_the_title_while_hidden() {
    let mut chat = welcomed("Bo", &["Bo", "ana"]);
    chat.apply(&joined("rust", &["Bo"]), 0.0);
    chat.open(View::Room("rust".into()));
    // In general, which is not on screen: unread, and a mention of me.
    chat.apply(&message(1, "ana", "hi @bo, look"), 0.0);
    chat.apply(&message(2, "ana", "and @bob is not you"), 0.0);
    assert_eq!(
        (
            chat.conversations.room(GENERAL).unread,
            chat.conversations.room(GENERAL).mentions
        ),
        (2, 1)
    );
    assert_eq!(
        chat.attention.alerts(),
        0,
        "the tab is visible: nothing for the title"
    );
    assert!(!chat.attention.notifications_waiting());
    chat.open(View::general());
    assert_eq!(chat.conversations.room(GENERAL).mentions, 0);

    // Hidden: mentions and private messages count in the title and are notified.
    chat.attention.set_hidden(true);
    chat.apply(&message(3, "ana", "@Bo are you there?"), 0.0);
    chat.apply(&dm("ana", "Bo", "psst", Some("a-1")), 0.0);
    chat.apply(&message(4, "ana", "no mention here"), 0.0);
    assert_eq!(chat.attention.alerts(), 2);
    let shown = chat.attention.take_notifications();
    assert_eq!(
        shown,
        vec![
            (
                "ana mentioned you in #general".to_owned(),
                "@Bo are you there?".to_owned()
            ),
            ("ana (private)".to_owned(), "psst".to_owned()),
        ]
    );
    // My own mention of myself, or a first page, is nothing new.
    chat.apply(&message(5, "Bo", "note to @bo"), 0.0);
    assert_eq!(chat.attention.alerts(), 2);
    assert!(
        chat.attention.set_hidden(false),
        "shown again: the title's count clears"
    );
    assert_eq!(chat.attention.alerts(), 0);
}

#[test]
fn a_deleted_original_leaves_its_replies_quoting_only_that() {
    let mut chat = welcomed("me", &["me", "bob"]);
    let quote = crate::protocol::Quote {
        seq: 7,
        id: None,
        from: "bob".into(),
        text: "the secret plan".into(),
        deleted: false,
    };
    let ServerMsg::Message(mut reply) = message(9, "me", "sounds good") else {
        unreachable!("a message")
    };
    reply.reply_to = Some(Box::new(quote));
    chat.apply(&ServerMsg::Message(reply), 0.0);
    let quoted = |chat: &Chat| {
        chat.conversations
            .room(GENERAL)
            .lines
            .iter()
            .find_map(|line| match &line.kind {
                LineKind::Chat { reply: Some(q), .. } => Some(q.clone()),
                _ => None,
            })
    };
    assert_eq!(
        quoted(&chat).map(|q| q.text),
        Some("the secret plan".into())
    );
    // The original is not even loaded here (older than the page): its delete still reaches the
    // quote.
    assert!(chat.apply(&ServerMsg::Deleted(change(GENERAL, 7, 10, None)), 0.0));
    let after = quoted(&chat).expect("still a reply");
    assert!(after.deleted);
    assert_eq!(after.text, "");
}
