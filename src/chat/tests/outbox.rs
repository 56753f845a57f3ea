//! My own messages: sending, sent, not sent, retried, resent.

use super::*;

#[test]
fn my_message_is_shown_at_once_then_marked_sent_by_its_ack() {
    let mut chat = welcomed("me", &["me"]);
    chat.push_own(own(View::general(), "c-1", "hi", false), "now");
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Sending)]
    );
    let key_before = chat.conversations.room(GENERAL).lines[0].render_key();
    assert!(chat.apply(&ack("c-1", 3), 0.0));
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Sent)]
    );
    assert_ne!(
        chat.conversations.room(GENERAL).lines[0].render_key(),
        key_before
    );
    assert!(chat.unconfirmed().is_empty());
}

#[test]
fn a_refused_message_fails_says_why_and_can_be_retried_under_its_id() {
    let mut chat = welcomed("me", &["me"]);
    chat.push_own(own(View::general(), "c-1", "x", false), "now");
    let refusal = ServerMsg::Error {
        code: ErrorCode::TooLong,
        message: "too long".into(),
        client_id: Some("c-1".into()),
        retry_after_ms: None,
        reply_to: None,
        until: None,
    };
    assert!(chat.apply(&refusal, 0.0));
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Failed)]
    );
    assert!(notices(chat.conversations.room(GENERAL))[0].contains("too long"));
    assert!(
        chat.unconfirmed().is_empty(),
        "failed messages are not resent by themselves"
    );
    let retry = chat.retry("c-1").expect("failed can be retried");
    assert_eq!(retry.client_id, "c-1");
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Sending)]
    );
    assert!(chat.retry("c-1").is_none(), "only failed messages");
    assert!(chat.apply(&ack("c-1", 9), 0.0));
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Sent)]
    );
}

#[test]
fn a_message_without_ack_fails_only_after_it_was_sent_and_the_timeout_passed() {
    let mut chat = welcomed("me", &["me"]);
    chat.push_own(own(View::general(), "c-1", "x", false), "now");
    // Queued while offline: never times out.
    assert!(!chat.tick(1e9).any());
    chat.outbox.transmitted("c-1", 1e9);
    assert!(!chat.tick(1e9 + ACK_TIMEOUT_MS - 1.0).any());
    assert!(chat.tick(1e9 + ACK_TIMEOUT_MS + 1.0).any());
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Failed)]
    );
    // A late ack after the timeout does not flip it back.
    assert!(!chat.apply(&ack("c-1", 2), 0.0));
}

#[test]
fn unconfirmed_messages_are_listed_oldest_first_for_resending() {
    let mut chat = welcomed("me", &["me", "bob"]);
    chat.push_own(own(View::general(), "c-1", "one", false), "now");
    chat.push_own(own(View::general(), "c-2", "two", true), "now");
    chat.apply(&ack("c-1", 1), 0.0);
    chat.push_own(own(View::Direct("bob".into()), "d-1", "psst", false), "now");
    let frames: Vec<ClientMsg> = chat.unconfirmed().iter().map(Outgoing::frame).collect();
    assert_eq!(
        frames,
        [
            ClientMsg::Say {
                room: "general".into(),
                text: "two".into(),
                client_id: "c-2".into(),
                action: true,
                files: Vec::new(),
                reply_to: None,
            },
            ClientMsg::Dm {
                to: "bob".into(),
                text: "psst".into(),
                client_id: "d-1".into(),
                action: false,
                files: Vec::new(),
                reply_to: None,
            },
        ]
    );
}

#[test]
fn my_own_dm_is_confirmed_by_its_ack() {
    let mut chat = welcomed("me", &["me", "bob"]);
    chat.open(View::Direct("bob".into()));
    chat.push_own(own(View::Direct("bob".into()), "d-1", "psst", false), "now");
    let acked = ServerMsg::Ack {
        client_id: "d-1".into(),
        room: None,
        seq: None,
        to: Some("bob".into()),
        id: None,
        reply_to: None,
    };
    assert!(chat.apply(&acked, 0.0));
    assert_eq!(
        states(chat.conversations.current()),
        [Some(SendState::Sent)]
    );
}

#[test]
fn a_stored_copy_confirms_my_message_whose_ack_was_lost() {
    let mut chat = welcomed("me", &["me"]);
    chat.push_own(own(View::general(), "c-1", "hi", false), "now");
    let mut stored = message(7, "me", "hi");
    if let ServerMsg::Message(m) = &mut stored {
        m.client_id = Some("c-1".into());
    }
    chat.apply(&history(vec![stored], false), 0.0);
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Sent)],
        "confirmed, not doubled"
    );
    assert!(chat.unconfirmed().is_empty());
}

#[test]
fn a_reset_replaces_the_room_but_keeps_my_unsent_messages() {
    let mut chat = welcomed("me", &["me"]);
    chat.apply(&message(1, "bob", "old"), 0.0);
    chat.push_own(own(View::general(), "c-1", "queued", false), "now");
    chat.apply(&history(vec![message(900, "bob", "new")], true), 0.0);
    let texts: Vec<&str> = chat
        .conversations
        .room(GENERAL)
        .lines
        .iter()
        .filter_map(|l| match &l.kind {
            LineKind::Chat { text, .. } => Some(text.as_str()),
            LineKind::Notice(_) => None,
        })
        .collect();
    assert_eq!(texts, ["queued", "new"]);
    assert_eq!(chat.timeline.since().get("general"), Some(&900));
}

#[test]
fn a_message_in_flight_when_the_connection_drops_stays_sending_and_is_resent() {
    let mut chat = welcomed("me", &["me"]);
    chat.push_own(own(View::general(), "c-1", "hi", false), "now");
    chat.outbox.transmitted("c-1", 1_000.0);
    chat.outbox.disconnected();
    // However long the tab stays offline, no ack can come: it is not "not sent".
    assert!(!chat.tick(1_000.0 + 10.0 * ACK_TIMEOUT_MS).any());
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Sending)]
    );
    let resend = chat.unconfirmed();
    assert_eq!(resend.len(), 1);
    assert_eq!(
        resend[0].client_id, "c-1",
        "the same id: stored at most once"
    );
    // Sent again after the welcome: its clock starts again.
    chat.outbox.transmitted("c-1", 100_000.0);
    assert!(chat.tick(100_000.0 + ACK_TIMEOUT_MS + 1.0).any());
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Failed)]
    );
}

#[test]
fn a_stored_copy_settles_a_line_already_shown_as_not_sent() {
    let mut chat = welcomed("me", &["me"]);
    chat.push_own(own(View::general(), "c-1", "hi", false), "now");
    chat.outbox.transmitted("c-1", 0.0);
    assert!(chat.tick(ACK_TIMEOUT_MS + 1.0).any());
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Failed)]
    );
    // The server had stored it: catch-up brings the copy.
    let mut stored = message(7, "me", "hi");
    if let ServerMsg::Message(m) = &mut stored {
        m.client_id = Some("c-1".into());
    }
    chat.apply(&history(vec![stored], false), 0.0);
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Sent)],
        "one line, sent, no Retry beside a second copy"
    );
    assert_eq!(chat.unsent(), 0);
    assert!(chat.retry("c-1").is_none());
}

#[test]
fn a_stored_copy_of_my_dm_settles_its_failed_line() {
    let mut chat = welcomed("me", &["me", "bob"]);
    chat.push_own(own(View::Direct("bob".into()), "d-1", "psst", false), "now");
    chat.outbox.transmitted("d-1", 0.0);
    assert!(chat.tick(ACK_TIMEOUT_MS + 1.0).any());
    chat.apply(&dm("me", "bob", "psst", Some("d-1")), 0.0);
    let conv = chat
        .conversations
        .directs()
        .find(|(v, _)| *v == View::Direct("bob".into()))
        .map(|(_, c)| c.clone())
        .expect("the conversation");
    assert_eq!(states(&conv), [Some(SendState::Sent)]);
}

#[test]
fn a_reset_keeps_my_failed_messages_too() {
    let mut chat = welcomed("me", &["me"]);
    chat.push_own(own(View::general(), "c-1", "refused", false), "now");
    chat.apply(
        &ServerMsg::Error {
            code: ErrorCode::Unavailable,
            message: "try again".into(),
            client_id: Some("c-1".into()),
            retry_after_ms: None,
            reply_to: None,
            until: None,
        },
        0.0,
    );
    chat.apply(&history(vec![message(900, "bob", "new")], true), 0.0);
    assert_eq!(
        states(chat.conversations.room(GENERAL)),
        [Some(SendState::Failed), None],
        "the failed line still offers Retry"
    );
    assert_eq!(chat.unsent(), 1);
}

#[test]
fn a_newer_server_marks_the_page_outdated_and_unknown_frames_change_nothing() {
    let mut chat = welcomed("me", &["me"]);
    assert!(!chat.outdated);
    let before = chat.clone();
    assert!(!chat.apply(&ServerMsg::Unknown, 0.0));
    assert_eq!(chat, before);
    chat.apply(
        &ServerMsg::Welcome {
            nick: "me".into(),
            rooms: vec!["general".into()],
            online: vec!["me".into()],
            members: BTreeMap::new(),
            counts: Default::default(),
            session: None,
            version: crate::protocol::PROTOCOL_VERSION + 1,
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
    assert!(chat.outdated);
}

#[test]
fn a_private_message_learns_its_id_from_the_ack_and_a_reply_to_it_names_it() {
    let mut chat = welcomed("me", &["me", "bob"]);
    let bob = View::Direct("bob".into());
    chat.open(bob.clone());
    chat.push_own(own(bob.clone(), "d-1", "when?", false), "now");
    let acked = ServerMsg::Ack {
        client_id: "d-1".into(),
        room: None,
        seq: None,
        to: Some("Bob".into()),
        id: Some(41),
        reply_to: None,
    };
    assert!(chat.apply(&acked, 0.0));
    let line = &chat.conversations.current().lines[0];
    assert!(
        matches!(
            line.kind,
            LineKind::Chat {
                dm_id: Some(41),
                seq: None,
                ..
            }
        ),
        "{line:?}"
    );

    let quote = crate::protocol::Quote {
        seq: 0,
        id: Some(41),
        from: "me".into(),
        text: "when?".into(),
        deleted: false,
    };
    let mut answer = own(bob, "d-2", "at six", false);
    answer.reply = Some(quote);
    assert!(matches!(
        answer.frame(),
        ClientMsg::Dm {
            reply_to: Some(41),
            ..
        }
    ));
    chat.jump_to_direct(41);
    assert_eq!(
        chat.jump.as_deref(),
        Some("d-1"),
        "the line of message 41 is highlighted"
    );
}
