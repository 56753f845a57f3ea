//! Who is online, crowds, renames and the typing line.

use super::*;

#[test]
fn a_crowd_shows_its_count_and_its_list_comes_back_when_it_fits() {
    let mut chat = welcomed("me", &["ann", "me"]);
    chat.apply(
        &ServerMsg::Roster {
            room: "general".into(),
            count: 300,
            members: None,
        },
        0.0,
    );
    assert_eq!(
        chat.people.online(),
        ["ann", "me"],
        "the list stays as it was"
    );
    assert_eq!(chat.people.head_count("general"), 300);
    chat.apply(
        &ServerMsg::Roster {
            room: "general".into(),
            count: 2,
            members: Some(vec!["me".into(), "Bea".into()]),
        },
        0.0,
    );
    assert_eq!(chat.people.online(), ["Bea", "me"]);
    assert_eq!(chat.people.head_count("general"), 2);
    let ignored = chat.apply(
        &ServerMsg::Roster {
            room: "elsewhere".into(),
            count: 9,
            members: None,
        },
        0.0,
    );
    assert!(!ignored, "a room I am not in");
}

#[test]
fn presence_keeps_the_online_list_and_announces_others_once() {
    let mut chat = welcomed("me", &["me", "bob"]);
    assert_eq!(chat.people.online(), ["bob", "me"]);
    assert!(chat.apply(
        &ServerMsg::Presence {
            nick: "Alice".into(),
            online: true,
            rooms: vec![],
            bot: false,
        },
        0.0
    ));
    assert!(!chat.apply(
        &ServerMsg::Presence {
            nick: "Alice".into(),
            online: true,
            rooms: vec![],
            bot: false,
        },
        0.0
    ));
    assert_eq!(chat.people.online(), ["Alice", "bob", "me"]);
    assert!(chat.apply(
        &ServerMsg::Presence {
            nick: "bob".into(),
            online: false,
            rooms: vec![],
            bot: false,
        },
        0.0
    ));
    assert_eq!(chat.people.online(), ["Alice", "me"]);
    // My own presence frame is not news to me.
    chat.apply(
        &ServerMsg::Presence {
            nick: "me".into(),
            online: false,
            rooms: vec![],
            bot: false,
        },
        0.0,
    );
    assert_eq!(
        notices(chat.conversations.room(GENERAL)),
        ["Alice joined", "bob left"]
    );
}

#[test]
fn renames_update_the_list_my_name_and_the_conversation() {
    let mut chat = welcomed("me", &["me", "bob"]);
    chat.apply(&dm("bob", "me", "hi", None), 0.0);
    chat.apply(&renamed("bob", "robert"), 0.0);
    assert_eq!(chat.people.online(), ["me", "robert"]);
    let titles: Vec<String> = chat
        .conversations
        .directs()
        .map(|(_, c)| c.title.clone())
        .collect();
    assert_eq!(titles, ["robert"]);
    chat.apply(&renamed("me", "moi"), 0.0);
    assert_eq!(chat.me, "moi");
    assert_eq!(
        notices(chat.conversations.room(GENERAL)),
        ["bob is now known as robert", "You are now known as moi"]
    );
}

#[test]
fn the_typing_line_names_one_two_or_several_and_never_sticks() {
    let mut chat = welcomed("me", &["me"]);
    assert_eq!(chat.typing_line(), None);
    chat.apply(&typing("bob", true), 0.0);
    assert_eq!(chat.typing_line().as_deref(), Some("bob is typing…"));
    chat.apply(&typing("alice", true), 0.0);
    assert_eq!(
        chat.typing_line().as_deref(),
        Some("alice and bob are typing…")
    );
    chat.apply(&typing("carol", true), 1000.0);
    assert_eq!(
        chat.typing_line().as_deref(),
        Some("several people are typing…")
    );
    chat.apply(&typing("carol", false), 1000.0);
    // bob's message ends his typing; alice's entry expires without a refresh.
    chat.apply(&message(1, "bob", "done"), 1000.0);
    assert_eq!(chat.typing_line().as_deref(), Some("alice is typing…"));
    assert!(chat.tick(TYPING_TTL_MS + 1.0).any());
    assert_eq!(chat.typing_line(), None);
    // And someone who leaves stops typing.
    chat.apply(&typing("dan", true), 0.0);
    chat.apply(
        &ServerMsg::Presence {
            nick: "dan".into(),
            online: true,
            rooms: vec![],
            bot: false,
        },
        0.0,
    );
    chat.apply(
        &ServerMsg::Presence {
            nick: "dan".into(),
            online: false,
            rooms: vec![],
            bot: false,
        },
        0.0,
    );
    assert_eq!(chat.typing_line(), None);
}

#[test]
fn my_message_to_someone_who_renames_before_its_ack_settles_in_their_renamed_conversation() {
    let mut chat = welcomed("me", &["me", "bob"]);
    let bob = View::Direct("bob".into());
    chat.open(bob.clone());
    chat.push_own(
        own(bob, "c-dm", "hi bob", false),
        "2026-11-25T22:00:00.000Z",
    );
    chat.apply(&renamed("bob", "robert"), 0.0);
    let acked = ServerMsg::Ack {
        client_id: "c-dm".into(),
        room: None,
        seq: None,
        to: Some("robert".into()),
        id: Some(5),
        reply_to: None,
    };
    assert!(chat.apply(&acked, 0.0));
    let titles: Vec<String> = chat
        .conversations
        .directs()
        .map(|(_, c)| c.title.clone())
        .collect();
    assert_eq!(
        titles,
        ["robert"],
        "no conversation left under the old name"
    );
    assert_eq!(
        states(chat.conversations.current()),
        [Some(SendState::Sent)]
    );
    assert_eq!(chat.unsent(), 0);
}

#[test]
fn pictures_follow_avatar_frames_and_renames() {
    let mut chat = welcomed("me", &["me", "bob"]);
    assert_eq!(chat.people.picture("bob"), "/avatars/bob");
    let url = "/avatars/bob?v=3f9a0c1d2e4b";
    let frame = ServerMsg::Avatar {
        nick: "bob".into(),
        url: url.into(),
    };
    assert!(chat
        .receive_frame(&frame, 0.0)
        .contains(crate::chat::Parts::PEOPLE));
    assert_eq!(chat.people.picture("Bob"), url, "by name key");
    // Renamed, the new name's own address is the picture's.
    chat.apply(&renamed("bob", "robert"), 0.0);
    assert_eq!(chat.people.picture("robert"), "/avatars/robert");
    assert_eq!(chat.people.picture("bob"), "/avatars/bob");
}
