//! Where I have read to, on every device: the server keeps my read position per room and per
//! private conversation (`welcome`'s `read` and `dm_read`), moves it when any of my devices shows
//! a message (`read`), and tells my other connections. So unread badges are the same everywhere,
//! and reading on the phone clears the laptop's badge.
//!
//! - A conversation's unread count is its messages from others past my read position (a room by
//!   `seq`, a private conversation by message `id`); a conversation whose position nobody knows yet
//!   counts only what arrives live while it is not on screen, as before read positions existed.
//! - When a conversation is on screen and the tab is visible, what it shows is read: the position
//!   moves to the newest message shown, and [`Reads::read_to_send`] hands the page a `read` frame.
//! - Opening a conversation with unread messages (or a page load showing one) remembers where the
//!   unread ones begin, so the page draws a "new messages" line there ([`Reads::first_unread`]).
//!
//! The unread counts are the conversations', so the methods that set them are handed those.

use std::collections::BTreeMap;

use super::conversation::Conversations;
use super::{key, LineKind, View};
use crate::protocol::ClientMsg;

/// My read positions, as the server and my own reading have them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// Per room: the highest position read.
    rooms: BTreeMap<String, u64>,
    /// Per private conversation (the other person's name key): the highest message id read.
    directs: BTreeMap<String, u64>,
    /// The positions last sent to the server (so each is sent once).
    sent_rooms: BTreeMap<String, u64>,
    sent_directs: BTreeMap<String, u64>,
    /// Per private conversation: the newest message id from the other person.
    newest_direct: BTreeMap<String, u64>,
    /// The conversation opened with unread messages, and the line of the first of them.
    unread_from: Option<(View, String)>,
}

impl Reads {
    /// The positions `welcome` brought (the server's word replaces what this page had).
    pub(super) fn learn(&mut self, rooms: &BTreeMap<String, u64>, directs: &BTreeMap<String, u64>) {
        for (room, seq) in rooms {
            let held = self.rooms.entry(room.clone()).or_insert(0);
            *held = (*held).max(*seq);
            self.sent_rooms.insert(room.clone(), *held);
        }
        for (peer, id) in directs {
            let held = self.directs.entry(key(peer)).or_insert(0);
            *held = (*held).max(*id);
            self.sent_directs.insert(key(peer), *held);
        }
    }

    /// The read position in `room`, if known.
    pub fn room(&self, room: &str) -> Option<u64> {
        self.rooms.get(room).copied()
    }

    /// The read position in the private conversation with `peer` (a name key), if known.
    pub fn direct(&self, peer: &str) -> Option<u64> {
        self.directs.get(peer).copied()
    }

    /// Records a private message from `peer` (a name key) with `id`.
    pub(super) fn direct_arrived(&mut self, peer: &str, id: u64) {
        let newest = self.newest_direct.entry(peer.to_owned()).or_insert(0);
        *newest = (*newest).max(id);
    }

    /// The line of the first message that was unread when the conversation `view` (the one on
    /// screen) was opened (or first shown): the page draws a "new messages" line above it.
    pub fn first_unread(&self, view: &View) -> Option<String> {
        match &self.unread_from {
            Some((from, line)) if from == view => Some(line.clone()),
            _ => None,
        }
    }

    /// Remembers where the `unread` newest messages from others in `view` begin.
    fn mark_from(&mut self, view: &View, unread: u32, conversations: &Conversations, me: &str) {
        if unread == 0 {
            return;
        }
        let Some(conv) = conversations.get(view) else {
            return;
        };
        let mut left = unread;
        let mut first = None;
        for line in conv.lines.iter().rev() {
            if let LineKind::Chat { from, .. } = &line.kind {
                if from != me {
                    first = Some(line.id.clone());
                    left -= 1;
                    if left == 0 {
                        break;
                    }
                }
            }
        }
        if let Some(line) = first {
            let view = match view {
                View::Direct(peer) => View::Direct(key(peer)),
                room => room.clone(),
            };
            self.unread_from = Some((view, line));
        }
    }

    /// Counts a room's unread messages from my read position: messages from others after it.
    /// `hidden`: the tab is, so what is on screen is not being read.
    pub(super) fn recount_room(
        &mut self,
        room: &str,
        conversations: &mut Conversations,
        me: &str,
        hidden: bool,
    ) {
        let Some(read) = self.room(room) else {
            return;
        };
        let view = View::Room(room.to_owned());
        let on_screen = !hidden && conversations.current_view() == view;
        let Some(conv) = conversations.room_mut(room) else {
            return;
        };
        let unread = conv
            .lines
            .iter()
            .filter(|line| match &line.kind {
                LineKind::Chat {
                    from,
                    seq: Some(seq),
                    deleted,
                    ..
                } => *seq > read && from != me && !deleted,
                _ => false,
            })
            .count();
        let unread = u32::try_from(unread).unwrap_or(u32::MAX);
        if on_screen {
            conv.unread = 0;
            conv.mentions = 0;
            // Shown for the first time with unread messages (a page load): where they begin.
            let marked = self.unread_from.as_ref().is_some_and(|(v, _)| *v == view);
            if !marked {
                self.mark_from(&view, unread, conversations, me);
            }
            return;
        }
        conv.unread = unread;
        // Mentions counted live may have been read meanwhile: never more of them than unread.
        conv.mentions = conv.mentions.min(unread);
    }

    /// Another device of mine read a room up to a `seq`, or the conversation with a peer up to an
    /// `id`: badges here follow.
    pub(super) fn read_elsewhere(
        &mut self,
        room: Option<(&str, u64)>,
        peer: Option<(&str, u64)>,
        conversations: &mut Conversations,
        me: &str,
        hidden: bool,
    ) -> bool {
        if let Some((room, seq)) = room {
            let held = self.rooms.entry(room.to_owned()).or_insert(0);
            if seq <= *held {
                return false;
            }
            *held = seq;
            self.sent_rooms.insert(room.to_owned(), seq);
            self.recount_room(room, conversations, me, hidden);
            return true;
        }
        let Some((peer, id)) = peer else {
            return false;
        };
        let peer = key(peer);
        let held = self.directs.entry(peer.clone()).or_insert(0);
        if id <= *held {
            return false;
        }
        *held = id;
        self.sent_directs.insert(peer.clone(), id);
        let newest = self.newest_direct.get(&peer).copied().unwrap_or(0);
        if let Some(conv) = conversations.get_mut(&View::Direct(peer)) {
            if id >= newest {
                conv.unread = 0;
            }
        }
        true
    }

    /// Remembers where the unread messages of `view` begin, as it is opened.
    pub(super) fn mark_unread_start(
        &mut self,
        view: &View,
        conversations: &Conversations,
        me: &str,
    ) {
        self.unread_from = None;
        let unread = conversations.get(view).map_or(0, |conv| conv.unread);
        self.mark_from(view, unread, conversations, me);
    }

    /// The `read` frame to send now, if the conversation on screen (the tab visible), `view`, shows
    /// more than my read position: the position moves to the newest message it shows. For a room,
    /// `delivered` is the newest `seq` received there (the timeline's).
    pub(super) fn read_to_send(
        &mut self,
        view: View,
        delivered: Option<u64>,
        conversations: &Conversations,
    ) -> Option<ClientMsg> {
        match view {
            View::Room(room) => {
                let newest = delivered?;
                let sent = self.sent_rooms.get(&room).copied().unwrap_or(0);
                if newest <= sent {
                    return None;
                }
                self.sent_rooms.insert(room.clone(), newest);
                let held = self.rooms.entry(room.clone()).or_insert(0);
                *held = (*held).max(newest);
                Some(ClientMsg::Read {
                    room: Some(room),
                    seq: Some(newest),
                    dm: None,
                    id: None,
                })
            }
            View::Direct(peer) => {
                let newest = self.newest_direct.get(&peer).copied()?;
                let sent = self.sent_directs.get(&peer).copied().unwrap_or(0);
                if newest <= sent {
                    return None;
                }
                self.sent_directs.insert(peer.clone(), newest);
                let held = self.directs.entry(peer.clone()).or_insert(0);
                *held = (*held).max(newest);
                let name = conversations
                    .get(&View::Direct(peer.clone()))
                    .map_or_else(|| peer.clone(), |conv| conv.title.clone());
                Some(ClientMsg::Read {
                    room: None,
                    seq: None,
                    dm: Some(name),
                    id: Some(newest),
                })
            }
        }
    }
}
