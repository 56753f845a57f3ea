//! The chat model's rules, one file per concern; the builders they share are here.

mod moderation;
mod outbox;
mod parts;
mod people;
mod reads;
mod rooms;
mod timeline;

pub(super) use super::*;
pub(super) use crate::protocol::ErrorCode;

/// One of my messages without files, to show as "sending".
pub(super) fn own(view: View, client_id: &str, text: &str, action: bool) -> Outgoing {
    Outgoing {
        view,
        client_id: client_id.to_owned(),
        text: text.to_owned(),
        action,
        files: Vec::new(),
        reply: None,
    }
}
pub(super) use crate::protocol::{ChatMessage, ClientMsg, DirectMessage, DirectReaction, Stored};
pub(super) use std::collections::BTreeMap;

pub(super) fn message(seq: u64, from: &str, text: &str) -> ServerMsg {
    ServerMsg::Message(ChatMessage {
        room: "general".into(),
        seq,
        from: from.into(),
        text: text.into(),
        at: "2026-11-25T22:00:00.000Z".into(),
        client_id: None,
        action: false,
        edited: false,
        deleted: false,
        mentions: Vec::new(),
        files: Vec::new(),
        reply_to: None,
        reactions: Default::default(),
    })
}

pub(super) fn ack(client_id: &str, seq: u64) -> ServerMsg {
    ServerMsg::Ack {
        client_id: client_id.into(),
        room: Some("general".into()),
        seq: Some(seq),
        to: None,
        id: None,
        reply_to: None,
    }
}

pub(super) fn welcomed(me: &str, online: &[&str]) -> Chat {
    let mut chat = Chat::default();
    chat.apply(
        &ServerMsg::Welcome {
            nick: me.into(),
            rooms: vec!["general".into()],
            online: online.iter().map(|s| s.to_string()).collect(),
            members: BTreeMap::new(),
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
    chat
}

pub(super) fn states(conv: &Conversation) -> Vec<Option<SendState>> {
    conv.lines
        .iter()
        .filter_map(|l| match l.kind {
            LineKind::Chat { mine, .. } => Some(mine),
            LineKind::Notice(_) => None,
        })
        .collect()
}

pub(super) fn notices(conv: &Conversation) -> Vec<String> {
    conv.lines
        .iter()
        .filter_map(|l| match &l.kind {
            LineKind::Notice(n) => Some(n.clone()),
            LineKind::Chat { .. } => None,
        })
        .collect()
}

pub(super) fn typing(nick: &str, active: bool) -> ServerMsg {
    ServerMsg::Typing {
        room: "general".into(),
        nick: nick.into(),
        active,
    }
}

pub(super) fn dm(from: &str, to: &str, text: &str, client_id: Option<&str>) -> ServerMsg {
    ServerMsg::Dm(DirectMessage {
        reactions: Default::default(),
        id: 0,
        from: from.into(),
        to: to.into(),
        text: text.into(),
        at: "2026-11-25T22:00:00.000Z".into(),
        client_id: client_id.map(str::to_owned),
        action: false,
        files: Vec::new(),
        reply_to: None,
    })
}

pub(super) fn history(messages: Vec<ServerMsg>, reset: bool) -> ServerMsg {
    ServerMsg::History {
        room: "general".into(),
        messages: messages
            .into_iter()
            .filter_map(|m| match m {
                ServerMsg::Message(m) => Some(Stored::Message(m)),
                _ => None,
            })
            .collect(),
        complete: false,
        reset,
        before: None,
        more: false,
        reply_to: None,
    }
}

pub(super) fn in_room(room: &str, seq: u64, from: &str, text: &str) -> ServerMsg {
    let mut msg = message(seq, from, text);
    if let ServerMsg::Message(m) = &mut msg {
        m.room = room.into();
    }
    msg
}

pub(super) fn joined(room: &str, members: &[&str]) -> ServerMsg {
    ServerMsg::Joined {
        room: room.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        count: None,
        reply_to: None,
    }
}

pub(super) fn renamed(from: &str, to: &str) -> ServerMsg {
    ServerMsg::Renamed {
        from: from.into(),
        to: to.into(),
        reply_to: None,
    }
}

/// An edit (`text`) or a delete (`None`) of message `seq` of `room`, made by bob.
pub(super) fn change(
    room: &str,
    seq: u64,
    log_seq: u64,
    text: Option<&str>,
) -> crate::protocol::Change {
    crate::protocol::Change {
        room: room.into(),
        seq,
        log_seq,
        by: "bob".into(),
        at: "2026-11-26T22:00:00.000Z".into(),
        text: text.map(str::to_owned),
        mentions: Vec::new(),
        reply_to: None,
    }
}
