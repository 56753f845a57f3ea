//! Messages received, live or from history: room messages kept once each by `(room, seq)`, private
//! ones by id; the highest of each is what a reconnect asks to continue from.
//!
//! [`Timeline`] keeps that record. A message arriving touches more than it: the conversation it
//! shows in, the read position that says whether it is unread, the sender's typing entry, my own
//! copy waiting for its ack, the title's count. Those parts are handed to it by name
//! ([`Around`]), so what a message may change is written in one place.

use std::collections::{BTreeMap, HashSet};

use super::attention::Attention;
use super::conversation::{Conversation, Conversations, Line, LineKind, MAX_LINES};
use super::outbox::Outbox;
use super::reads::Reads;
use super::typing::Typing;
use super::{key, SendState, View};
use crate::protocol::{Change, ChatMessage, DirectMessage, DirectReaction, Reaction, Stored};

/// What a message arriving touches besides the timeline's record of it.
pub(super) struct Around<'a> {
    /// My name: my own messages are neither unread nor alerts.
    pub me: &'a str,
    pub conversations: &'a mut Conversations,
    pub reads: &'a mut Reads,
    pub typing: &'a mut Typing,
    pub outbox: &'a mut Outbox,
    pub attention: &'a mut Attention,
}

/// What has been received, so nothing is shown twice and a reconnect asks for what is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Every `(room, seq)` shown, from others' messages and my acks. Membership, not a high-water
    /// mark: my ack for seq 5 may arrive before someone else's seq 4, which must still be shown.
    seen: HashSet<(String, u64)>,
    /// The highest `seq` per room received from the server, live or from history (not from acks: my
    /// ack for 5 can overtake someone's 4). A reconnect asks for what came after it.
    delivered: BTreeMap<String, u64>,
    /// Private message ids shown, and the highest one (a reconnect's `dm_since`).
    dm_seen: HashSet<u64>,
    dm_delivered: u64,
}

impl Timeline {
    /// The oldest `seq` shown in `room`: older pages are asked for before it.
    pub fn oldest_seq(&self, room: &str) -> Option<u64> {
        self.seen
            .iter()
            .filter(|(r, _)| r == room)
            .map(|(_, seq)| *seq)
            .min()
    }

    /// The last `seq` received per room: the `since` of the next `hello`.
    pub fn since(&self) -> BTreeMap<String, u64> {
        self.delivered.clone()
    }

    /// The highest private-message id received: the `dm_since` of the next `hello`.
    pub fn dm_since(&self) -> Option<u64> {
        (self.dm_delivered > 0).then_some(self.dm_delivered)
    }

    /// The highest `seq` received in `room`, if any.
    pub(super) fn newest(&self, room: &str) -> Option<u64> {
        self.delivered.get(room).copied()
    }

    /// My message is stored as `seq` of `room` (its ack): that place is taken, by my line.
    pub(super) fn acked(&mut self, room: &str, seq: u64) {
        self.seen.insert((room.to_owned(), seq));
    }

    /// A room I left: nothing of it is kept, so a rejoin starts it afresh.
    pub(super) fn forget_room(&mut self, room: &str) {
        self.delivered.remove(room);
        self.seen.retain(|(r, _)| r != room);
    }

    /// A room's first page, a catch-up after a reconnect, or (with `reset`) the latest page after
    /// too long away.
    pub(super) fn history(
        &mut self,
        room: &str,
        messages: &[Stored],
        complete: bool,
        reset: bool,
        cx: &mut Around,
    ) -> bool {
        // Messages after what I had are news (unread); a first page is not.
        let news = self.delivered.contains_key(room) && !reset;
        let Some(conv) = cx.conversations.room_mut(room) else {
            return false;
        };
        // The first page (or a reset) says whether the room has anything older; a catch-up's
        // `complete` is about the gap, not the room.
        let fresh = !conv
            .lines
            .iter()
            .any(|l| matches!(l.kind, LineKind::Chat { .. }));
        if reset || fresh {
            conv.complete = complete;
        }
        let mut changed = false;
        if reset {
            // Too much was missed to fill in: start the room over from this page. My own
            // unconfirmed messages stay, sending or failed (a failed one still offers Retry).
            conv.lines.retain(|l| {
                matches!(
                    &l.kind,
                    LineKind::Chat {
                        mine: Some(SendState::Sending | SendState::Failed),
                        ..
                    }
                )
            });
            self.seen.retain(|(r, _)| r != room);
            cx.conversations.notice(
                &View::Room(room.to_owned()),
                "You were away for a while: showing the latest messages.",
            );
            changed = true;
        }
        for entry in messages {
            changed |= match entry {
                Stored::Message(message) => self.receive(message, news, cx),
                Stored::Edited(change) => self.change(change, false, cx.conversations),
                Stored::Deleted(change) => self.change(change, true, cx.conversations),
                Stored::Reacted(reaction) => self.react(reaction, cx.conversations),
                Stored::Unknown => false,
            };
        }
        // With a read position, what is unread is what lies past it, however it arrived.
        let hidden = cx.attention.hidden();
        cx.reads.recount_room(room, cx.conversations, cx.me, hidden);
        changed
    }

    /// An edit or a delete of a message of a room I am in: its line, if shown, takes the change (a
    /// delete for good: a later or repeated edit does not bring it back). Either way the room's
    /// position moves past the change, so a reconnect does not ask for it again.
    pub(super) fn change(
        &mut self,
        change: &Change,
        delete: bool,
        conversations: &mut Conversations,
    ) -> bool {
        let Some(conv) = conversations.room_mut(&change.room) else {
            return false;
        };
        let delivered = self.delivered.entry(change.room.clone()).or_insert(0);
        *delivered = (*delivered).max(change.log_seq);
        let quotes = delete && conv.quoted_deleted(change.seq);
        // Looked at before it is taken to change: a repeated delete changes nothing.
        let shown = conv.lines.iter().any(|line| {
            matches!(line.kind, LineKind::Chat { seq: Some(seq), deleted: false, .. } if seq == change.seq)
        });
        if !shown {
            return quotes;
        }
        let Some(LineKind::Chat {
            text,
            edited,
            deleted,
            files,
            ..
        }) = conv.message_mut(change.seq)
        else {
            return quotes;
        };
        if delete {
            *deleted = true;
            text.clear();
            files.clear();
        } else {
            *edited = true;
            *text = change.text.clone().unwrap_or_default();
        }
        true
    }

    /// A reaction added or taken back: the message's chips follow (if it is shown), and the
    /// room's position moves past it. Applying one twice changes nothing.
    pub(super) fn react(&mut self, reaction: &Reaction, conversations: &mut Conversations) -> bool {
        let Some(conv) = conversations.room_mut(&reaction.room) else {
            return false;
        };
        let delivered = self.delivered.entry(reaction.room.clone()).or_insert(0);
        *delivered = (*delivered).max(reaction.log_seq);
        let seq = reaction.seq;
        let toggle = (&reaction.by, &reaction.emoji, reaction.on);
        toggle_reaction(
            conv,
            |kind| matches!(kind, LineKind::Chat { seq: Some(s), .. } if *s == seq),
            toggle,
        )
    }

    /// A reaction to a private message, in its place among private messages: the message's chips
    /// change if it is shown (an older page loaded later carries its reactions as they are then).
    pub(super) fn react_direct(
        &mut self,
        reaction: &DirectReaction,
        me: &str,
        conversations: &mut Conversations,
    ) -> bool {
        self.dm_delivered = self.dm_delivered.max(reaction.log_id);
        let peer = if key(&reaction.by) == key(me) {
            &reaction.to
        } else {
            &reaction.by
        };
        let Some(conv) = conversations.get_mut(&View::Direct(key(peer))) else {
            return false;
        };
        let id = reaction.id;
        let toggle = (&reaction.by, &reaction.emoji, reaction.on);
        toggle_reaction(
            conv,
            |kind| matches!(kind, LineKind::Chat { dm_id: Some(i), .. } if *i == id),
            toggle,
        )
    }

    /// Shows a room message once. `news`: it counts as unread if its room is not on screen.
    pub(super) fn receive(&mut self, message: &ChatMessage, news: bool, cx: &mut Around) -> bool {
        if !cx.conversations.is_member(&message.room) {
            // A room I left meanwhile.
            return false;
        }
        let delivered = self.delivered.entry(message.room.clone()).or_insert(0);
        *delivered = (*delivered).max(message.seq);
        if !self.seen.insert((message.room.clone(), message.seq)) {
            return false;
        }
        cx.typing.stopped(&message.room, &message.from);
        let mine = message.from == cx.me;
        let view = View::Room(message.room.clone());
        // My own message whose ack was lost (sent just before a disconnect): the stored copy confirms
        // its line, even one already shown as not sent.
        if let Some(client_id) = message.client_id.as_deref() {
            if mine
                && cx
                    .outbox
                    .confirm_stored(cx.conversations, &view, client_id, Some(message.seq))
            {
                return true;
            }
        }
        let unread = cx
            .reads
            .room(&message.room)
            .is_none_or(|read| message.seq > read);
        let unseen = news && unread && cx.conversations.current_view() != view && !mine;
        // The server says whom a message names (it folds names as it compares them); from a server
        // before it, the text is read here.
        let names_me = if message.mentions.is_empty() {
            super::mentions::mentions(&message.text, cx.me)
        } else {
            message
                .mentions
                .iter()
                .any(|name| super::lower(name) == super::lower(cx.me))
        };
        let mentioned = news && !mine && names_me;
        if mentioned {
            let title = format!("{} mentioned you in #{}", message.from, message.room);
            cx.attention.alert(title, &message.text);
        }
        let line = line_of(message, cx.me);
        let conv = cx.conversations.ensure_room(&message.room);
        conv.push(line);
        if unseen {
            conv.unread += 1;
            if mentioned {
                conv.mentions += 1;
            }
        }
        if conv.trim() {
            // What scrolled out of memory is forgotten too; "Load older" asks before the oldest
            // line kept, and brings the rest back once each.
            if let Some(floor) = conv.lowest_seq() {
                let room = &message.room;
                self.seen.retain(|(r, seq)| r != room || *seq >= floor);
            }
        }
        true
    }

    /// An older page of `room`, asked for by scrolling up: it goes on top, oldest first.
    pub(super) fn older_page(
        &mut self,
        room: &str,
        messages: &[Stored],
        complete: bool,
        me: &str,
        conversations: &mut Conversations,
    ) -> bool {
        if !conversations.is_member(room) {
            return false;
        }
        let mut older = Vec::new();
        for message in messages.iter().filter_map(Stored::message) {
            if self.seen.insert((room.to_owned(), message.seq)) {
                older.push(std::sync::Arc::new(line_of(message, me)));
            }
        }
        let conv = conversations.ensure_room(room);
        conv.complete = complete;
        conv.lines.splice(0..0, older);
        true
    }

    /// Private messages from the store: the first load is not news; a catch-up after a reconnect is.
    /// The reactions among them come after, each naming a message at or before them.
    pub(super) fn direct_history(
        &mut self,
        messages: &[DirectMessage],
        reactions: &[DirectReaction],
        cx: &mut Around,
    ) -> bool {
        let news = self.dm_delivered > 0;
        let mut changed = false;
        for dm in messages {
            changed |= self.receive_direct(dm, news, cx);
        }
        for reaction in reactions {
            changed |= self.react_direct(reaction, cx.me, cx.conversations);
        }
        changed
    }

    /// Shows a private message once (by id, and by `client_id` for my own).
    pub(super) fn receive_direct(
        &mut self,
        dm: &DirectMessage,
        news: bool,
        cx: &mut Around,
    ) -> bool {
        if dm.id > 0 {
            self.dm_delivered = self.dm_delivered.max(dm.id);
            if !self.dm_seen.insert(dm.id) {
                return false;
            }
        }
        let mine = key(&dm.from) == key(cx.me);
        let peer = if mine { &dm.to } else { &dm.from };
        let view = View::Direct(key(peer));
        // My own message whose ack was lost: the stored copy confirms its line.
        if let Some(client_id) = dm.client_id.as_deref() {
            if mine
                && cx.conversations.get(&view).is_some()
                && cx
                    .outbox
                    .confirm_stored(cx.conversations, &view, client_id, Some(dm.id))
            {
                return true;
            }
        }
        if !mine && dm.id > 0 {
            cx.reads.direct_arrived(&key(peer), dm.id);
        }
        // Past my read position it is unread, even in a first load; without one, only news is.
        let unread = match cx.reads.direct(&key(peer)) {
            Some(read) => dm.id > read,
            None => news,
        };
        let unseen = unread && cx.conversations.current_view() != view && !mine;
        if news && !mine {
            cx.attention
                .alert(format!("{} (private)", dm.from), &dm.text);
        }
        let conv = cx.conversations.direct_mut(peer);
        // My message from this tab (already shown) or from another one: once, by its client_id.
        let id = dm
            .client_id
            .clone()
            .unwrap_or_else(|| format!("dm-{}", dm.id));
        if conv.lines.iter().any(|l| l.id == id) {
            return false;
        }
        conv.push(Line::new(
            id,
            LineKind::Chat {
                from: dm.from.clone(),
                text: dm.text.clone(),
                at: dm.at.clone(),
                action: dm.action,
                mine: mine.then_some(SendState::Sent),
                seq: None,
                dm_id: (dm.id > 0).then_some(dm.id),
                edited: false,
                deleted: false,
                files: dm.files.clone(),
                reply: dm.reply_to.as_deref().cloned(),
                reactions: dm.reactions.clone(),
            },
        ));
        if unseen {
            conv.unread += 1;
        }
        conv.trim();
        // Ids at or below `dm_since` never come again (a reconnect asks for what is newer), so the
        // newest ones are all that de-duplication needs.
        if self.dm_seen.len() > 3 * MAX_LINES {
            let mut ids: Vec<u64> = self.dm_seen.iter().copied().collect();
            ids.sort_unstable();
            let keep_from = ids[ids.len() - 2 * MAX_LINES];
            self.dm_seen.retain(|id| *id >= keep_from);
        }
        true
    }
}

/// Adds (`on`) or takes back `by`'s `emoji` on the message of `conv` that `is_target` picks, if it
/// is shown. Whether that changed it: a repeat changes nothing.
fn toggle_reaction(
    conv: &mut Conversation,
    is_target: impl Fn(&LineKind) -> bool,
    (by, emoji, on): (&String, &String, bool),
) -> bool {
    // Looked at before it is taken to change: a repeat changes nothing (and keeps its version).
    let has = conv.lines.iter().find_map(|line| match &line.kind {
        LineKind::Chat { reactions, .. } if is_target(&line.kind) => {
            Some(reactions.get(emoji).is_some_and(|who| who.contains(by)))
        }
        _ => None,
    });
    if has.is_none_or(|has| has == on) {
        return false;
    }
    let Some(LineKind::Chat { reactions, .. }) = conv.find_mut(is_target) else {
        return false;
    };
    let who = reactions.entry(emoji.clone()).or_default();
    if on {
        who.push(by.clone());
    } else {
        who.retain(|name| name != by);
        if who.is_empty() {
            reactions.remove(emoji);
        }
    }
    true
}

/// The line of a room message; `me` marks mine, from another tab or an earlier visit, as sent.
fn line_of(message: &ChatMessage, me: &str) -> Line {
    Line::new(
        format!("{}:{}", message.room, message.seq),
        LineKind::Chat {
            from: message.from.clone(),
            text: message.text.clone(),
            at: message.at.clone(),
            action: message.action,
            mine: (message.from == me).then_some(SendState::Sent),
            seq: Some(message.seq),
            dm_id: None,
            edited: message.edited,
            deleted: message.deleted,
            files: message.files.clone(),
            reply: message.reply_to.as_deref().cloned(),
            reactions: message.reactions.clone(),
        },
    )
}
