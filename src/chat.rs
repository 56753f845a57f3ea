//! The chat as the page shows it, and how server frames and the clock change it.
//!
//! This is plain data with no browser or signal in it, so every rule is unit-tested natively:
//! - my own messages are shown at once as "sending", marked sent by their `ack`, and failed by an
//!   `error` that names them or by no ack within [`ACK_TIMEOUT_MS`] of being sent; a failed one can be
//!   retried under the same `client_id`;
//! - one conversation per room I am in, each with its messages, unread count, members and typing
//!   line; room messages are kept once each, by `(room, seq)`, whether they came live or in a
//!   `history` frame; the highest `seq` received per room is what a reconnect asks to continue from
//!   (`since`);
//! - private messages form one conversation per person, with an unread count while not open, kept
//!   once each by id; the highest id is the reconnect's `dm_since`;
//! - the online list follows `presence` and `renamed`; join and leave notices appear once per person;
//! - "is typing" entries expire by themselves, so a lost `typing:false` never leaves one stuck.
//!
//! The page keeps a [`Chat`] in a signal; `client` feeds it frames and clock ticks.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::protocol::{ChatMessage, ClientMsg, DirectMessage, ServerMsg, Stored, GENERAL};

/// How long a sent message may wait for its ack before it is shown as failed.
pub const ACK_TIMEOUT_MS: f64 = 8_000.0;

/// How long a "typing" entry lasts without a refresh. Typers refresh every ~2 s.
pub const TYPING_TTL_MS: f64 = 6_000.0;

/// Where one of my own messages stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Shown, not yet confirmed by the server.
    Sending,
    /// Confirmed by the server.
    Sent,
    /// Refused, or unconfirmed for too long; can be retried.
    Failed,
}

/// What a line of a conversation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// A chat message, mine (`Some` delivery state) or someone else's (`None`).
    Chat {
        from: String,
        text: String,
        /// RFC 3339.
        at: String,
        /// A `/me` action.
        action: bool,
        mine: Option<Delivery>,
    },
    /// A notice: joins, leaves, renames, missed messages, command help.
    Notice(String),
}

/// One line of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Stable identity: `client_id` for my own messages, `room:seq` for others', `notice-N`.
    pub id: String,
    pub kind: LineKind,
}

impl Line {
    /// A key that changes whenever the line's look does, so a keyed list re-renders it.
    pub fn render_key(&self) -> String {
        match &self.kind {
            LineKind::Chat {
                mine: Some(state), ..
            } => format!("{}#{state:?}", self.id),
            _ => self.id.clone(),
        }
    }
}

/// Which conversation is on screen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum View {
    /// A room, by name.
    Room(String),
    /// Private messages with this person (keyed case-insensitively, shown as they spell it).
    Direct(String),
}

impl View {
    /// The room `#general`, where everyone is.
    pub fn general() -> Self {
        View::Room(GENERAL.to_owned())
    }
}

impl Default for View {
    fn default() -> Self {
        View::general()
    }
}

/// A conversation: a room, or private messages with one person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversation {
    /// The room's name, or the other person's name as last seen.
    pub title: String,
    pub lines: Vec<Line>,
    /// Messages received while another conversation was open.
    pub unread: u32,
    /// Whether the history shown reaches back to the first message (no older page to load).
    pub complete: bool,
}

/// What is shown for a room I am not in.
static NOT_JOINED: Conversation = Conversation {
    title: String::new(),
    lines: Vec::new(),
    unread: 0,
    complete: true,
};

/// One of my messages not yet confirmed: what to send again after a reconnect or a Retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub view: View,
    pub client_id: String,
    pub text: String,
    pub action: bool,
}

impl Outgoing {
    /// The frame that sends it.
    pub fn frame(&self) -> ClientMsg {
        match &self.view {
            View::Room(room) => ClientMsg::Say {
                room: room.clone(),
                text: self.text.clone(),
                client_id: self.client_id.clone(),
                action: self.action,
            },
            View::Direct(to) => ClientMsg::Dm {
                to: to.clone(),
                text: self.text.clone(),
                client_id: self.client_id.clone(),
                action: self.action,
            },
        }
    }
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chat {
    /// My nickname, once known.
    pub me: String,
    /// The conversation on screen.
    view: View,
    /// The rooms I am in, by name; `general` always.
    rooms: BTreeMap<String, Conversation>,
    /// Who of each room but `general` is online (in `general` that is `online`).
    members: BTreeMap<String, Vec<String>>,
    directs: BTreeMap<String, Conversation>,
    online: Vec<String>,
    /// For a crowded room (general included), how many are online in all: its list above holds only
    /// some of them and follows `roster` summaries rather than every arrival.
    crowds: BTreeMap<String, usize>,
    /// Typing per room: nick → when the entry expires (ms since the epoch).
    typing: BTreeMap<String, HashMap<String, f64>>,
    /// Every `(room, seq)` shown, from others' messages and my acks. Membership, not a high-water
    /// mark: my ack for seq 5 may arrive before someone else's seq 4, which must still be shown.
    seen: HashSet<(String, u64)>,
    /// The highest `seq` per room received from the server, live or from history (not from acks: my
    /// ack for 5 can overtake someone's 4). A reconnect asks for what came after it.
    delivered: BTreeMap<String, u64>,
    /// Private message ids shown, and the highest one (a reconnect's `dm_since`).
    dm_seen: HashSet<u64>,
    dm_delivered: u64,
    /// My unconfirmed messages: client_id → (conversation, when it was last sent, if it was).
    pending: HashMap<String, (View, Option<f64>)>,
    notices: u64,
}

fn key(nick: &str) -> String {
    nick.to_lowercase()
}

impl Chat {
    /// A chat for `me`, before anything has arrived: in `general` only.
    pub fn new(me: impl Into<String>) -> Self {
        let mut chat = Self {
            me: me.into(),
            ..Self::default()
        };
        chat.ensure_room(GENERAL);
        chat
    }

    /// The conversation on screen (an empty one for a room I am not in).
    pub fn current(&self) -> &Conversation {
        match &self.view {
            View::Room(room) => self.room(room),
            View::Direct(peer) => self.directs.get(&key(peer)).unwrap_or(&NOT_JOINED),
        }
    }

    pub fn current_view(&self) -> View {
        self.view.clone()
    }

    /// The room on screen, if a room is.
    pub fn current_room(&self) -> Option<&str> {
        match &self.view {
            View::Room(room) => Some(room),
            View::Direct(_) => None,
        }
    }

    /// A room's conversation (an empty one if I am not in it).
    pub fn room(&self, room: &str) -> &Conversation {
        self.rooms.get(room).unwrap_or(&NOT_JOINED)
    }

    /// Whether I am in `room`.
    pub fn is_member(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// The rooms I am in, `general` first, then by name.
    pub fn rooms(&self) -> impl Iterator<Item = (View, &Conversation)> {
        let general = self.rooms.get(GENERAL).map(|c| (View::general(), c));
        let others = self
            .rooms
            .iter()
            .filter(|(name, _)| *name != GENERAL)
            .map(|(name, c)| (View::Room(name.clone()), c));
        general.into_iter().chain(others)
    }

    /// Who of `room` is online, sorted case-insensitively.
    pub fn members(&self, room: &str) -> &[String] {
        if room == GENERAL {
            &self.online
        } else {
            self.members.get(room).map_or(&[], Vec::as_slice)
        }
    }

    /// How many are online in `room`: its list's length, or the count of a crowd.
    pub fn head_count(&self, room: &str) -> usize {
        let listed = self.members(room).len();
        self.crowds
            .get(room)
            .map_or(listed, |&count| count.max(listed))
    }

    /// Private conversations, by the other person's name.
    pub fn directs(&self) -> impl Iterator<Item = (View, &Conversation)> {
        self.directs
            .iter()
            .map(|(k, c)| (View::Direct(k.clone()), c))
    }

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

    /// Everyone online, me included, sorted case-insensitively.
    pub fn online(&self) -> &[String] {
        &self.online
    }

    /// Opens a conversation and marks it read.
    pub fn open(&mut self, view: View) {
        let view = match view {
            View::Direct(peer) if key(&peer) == key(&self.me) => View::general(),
            View::Direct(peer) => {
                let conv = self.direct_mut(&peer);
                conv.unread = 0;
                View::Direct(key(&peer))
            }
            View::Room(room) => {
                if let Some(conv) = self.rooms.get_mut(&room) {
                    conv.unread = 0;
                }
                View::Room(room)
            }
        };
        self.view = view;
    }

    fn ensure_room(&mut self, room: &str) -> &mut Conversation {
        self.rooms
            .entry(room.to_owned())
            .or_insert_with(|| Conversation {
                title: room.to_owned(),
                ..Conversation::default()
            })
    }

    fn direct_mut(&mut self, peer: &str) -> &mut Conversation {
        let conv = self.directs.entry(key(peer)).or_default();
        conv.title = peer.to_owned();
        conv
    }

    /// The conversation `view` names; for a room I am not (or no longer) in, `general`, so a
    /// notice is never lost and no room is joined by accident.
    fn conversation_mut(&mut self, view: &View) -> &mut Conversation {
        match view {
            View::Room(room) if self.rooms.contains_key(room) => self.ensure_room(room),
            View::Room(_) => self.ensure_room(GENERAL),
            View::Direct(peer) => {
                let peer = self
                    .directs
                    .get(&key(peer))
                    .map(|c| c.title.clone())
                    .unwrap_or_else(|| peer.clone());
                self.direct_mut(&peer)
            }
        }
    }

    /// Who is typing in the room on screen right now, me excluded, in a stable order.
    pub fn typing_line(&self) -> Option<String> {
        let typing = self.typing.get(self.current_room()?)?;
        let mut typers: Vec<&String> = typing.keys().filter(|n| **n != self.me).collect();
        typers.sort_by_key(|n| n.to_lowercase());
        match typers.as_slice() {
            [] => None,
            [one] => Some(format!("{one} is typing…")),
            [one, two] => Some(format!("{one} and {two} are typing…")),
            _ => Some("several people are typing…".to_owned()),
        }
    }

    /// Shows my own message at once, as sending, in conversation `view`.
    pub fn push_own(&mut self, view: View, client_id: &str, text: &str, action: bool, at: &str) {
        let from = self.me.clone();
        self.conversation_mut(&view).lines.push(Line {
            id: client_id.to_owned(),
            kind: LineKind::Chat {
                from,
                text: text.to_owned(),
                at: at.to_owned(),
                action,
                mine: Some(Delivery::Sending),
            },
        });
        self.pending.insert(client_id.to_owned(), (view, None));
    }

    /// Records that message `client_id` went out on an open socket at `now_ms`; its ack timer starts.
    pub fn mark_transmitted(&mut self, client_id: &str, now_ms: f64) {
        if let Some((_, sent)) = self.pending.get_mut(client_id) {
            *sent = Some(now_ms);
        }
    }

    /// Adds a notice to conversation `view`.
    pub fn notice(&mut self, view: &View, text: impl Into<String>) {
        self.notices += 1;
        let id = format!("notice-{}", self.notices);
        self.conversation_mut(view).lines.push(Line {
            id,
            kind: LineKind::Notice(text.into()),
        });
    }

    /// My messages still "sending", oldest first per conversation: sent again after a reconnect.
    pub fn unconfirmed(&self) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for (view, conv) in self.rooms().chain(self.directs()) {
            for line in &conv.lines {
                if let LineKind::Chat {
                    text,
                    action,
                    mine: Some(Delivery::Sending),
                    ..
                } = &line.kind
                {
                    out.push(Outgoing {
                        view: view.clone(),
                        client_id: line.id.clone(),
                        text: text.clone(),
                        action: *action,
                    });
                }
            }
        }
        out
    }

    /// Puts a failed message back to "sending" and returns what to send, with the same `client_id`
    /// (so the server stores it at most once).
    pub fn retry(&mut self, client_id: &str) -> Option<Outgoing> {
        let view = self.find_line_view(client_id)?;
        let conv = self.conversation_mut(&view);
        let line = conv.lines.iter_mut().rev().find(|l| l.id == client_id)?;
        let LineKind::Chat {
            text, action, mine, ..
        } = &mut line.kind
        else {
            return None;
        };
        if *mine != Some(Delivery::Failed) {
            return None;
        }
        *mine = Some(Delivery::Sending);
        let out = Outgoing {
            view: view.clone(),
            client_id: client_id.to_owned(),
            text: text.clone(),
            action: *action,
        };
        self.pending.insert(client_id.to_owned(), (view, None));
        Some(out)
    }

    fn find_line_view(&self, client_id: &str) -> Option<View> {
        self.rooms()
            .chain(self.directs())
            .find(|(_, c)| c.lines.iter().any(|l| l.id == client_id))
            .map(|(view, _)| view)
    }

    /// Advances the clock: unacked messages time out, typing entries expire. Returns whether anything
    /// visible changed.
    pub fn tick(&mut self, now_ms: f64) -> bool {
        let mut changed = false;
        for typing in self.typing.values_mut() {
            let before = typing.len();
            typing.retain(|_, expires| *expires > now_ms);
            changed |= typing.len() != before;
        }
        let overdue: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, (_, sent))| sent.is_some_and(|t| now_ms - t > ACK_TIMEOUT_MS))
            .map(|(id, _)| id.clone())
            .collect();
        for client_id in overdue {
            changed |= self.settle(&client_id, Delivery::Failed);
        }
        changed
    }

    /// Applies one server frame at time `now_ms`. Returns whether anything visible changed.
    pub fn apply(&mut self, msg: &ServerMsg, now_ms: f64) -> bool {
        match msg {
            ServerMsg::Welcome {
                nick,
                rooms,
                online,
                members,
                counts,
                ..
            } => {
                self.me = nick.clone();
                self.crowds = counts.clone();
                self.online = online.clone();
                self.sort_online();
                // Rooms left on another tab while this one was away are gone.
                let gone: Vec<String> = self
                    .rooms
                    .keys()
                    .filter(|r| *r != GENERAL && !rooms.contains(r))
                    .cloned()
                    .collect();
                for room in gone {
                    self.forget_room(&room);
                }
                for room in rooms {
                    self.ensure_room(room);
                }
                self.members = members.clone();
                true
            }
            ServerMsg::Joined {
                room,
                members,
                count,
                ..
            } => {
                self.ensure_room(room);
                if room != GENERAL {
                    self.members.insert(room.clone(), members.clone());
                }
                match count {
                    Some(count) => self.crowds.insert(room.clone(), *count),
                    None => self.crowds.remove(room),
                };
                true
            }
            ServerMsg::Roster {
                room,
                count,
                members,
            } => {
                if room != GENERAL && !self.rooms.contains_key(room) {
                    return false;
                }
                match members {
                    Some(members) => {
                        let mut members = members.clone();
                        members.sort_by_key(|n| n.to_lowercase());
                        if room == GENERAL {
                            self.online = members;
                        } else {
                            self.members.insert(room.clone(), members);
                        }
                        self.crowds.remove(room);
                    }
                    None => {
                        self.crowds.insert(room.clone(), *count);
                    }
                }
                true
            }
            ServerMsg::Left { room, .. } => {
                self.forget_room(room);
                true
            }
            ServerMsg::Member { room, nick, joined } => self.member(room, nick, *joined),
            ServerMsg::Message(message) => self.receive(message, true),
            ServerMsg::Ack {
                client_id,
                room,
                seq,
                ..
            } => {
                if let (Some(room), Some(seq)) = (room, seq) {
                    self.seen.insert((room.clone(), *seq));
                }
                self.settle(client_id, Delivery::Sent)
            }
            ServerMsg::Error {
                client_id: Some(client_id),
                message,
                ..
            } => {
                let view = self.pending.get(client_id).map(|(v, _)| v.clone());
                let changed = self.settle(client_id, Delivery::Failed);
                if let (true, Some(view)) = (changed, view) {
                    self.notice(&view, format!("Not sent: {message}"));
                }
                changed
            }
            ServerMsg::Error { message, .. } => {
                let view = self.current_view();
                self.notice(&view, message.clone());
                true
            }
            ServerMsg::Lagged { room, missed } => {
                self.notice(
                    &View::Room(room.clone()),
                    format!("Your connection fell behind: {missed} messages in #{room} were skipped; catching up."),
                );
                true
            }
            ServerMsg::Presence {
                nick,
                online,
                rooms,
            } => self.presence(nick, *online, rooms),
            ServerMsg::Renamed { from, to, .. } => self.renamed(from, to),
            ServerMsg::Typing { nick, active, room } => {
                if !self.rooms.contains_key(room) {
                    return false;
                }
                let typing = self.typing.entry(room.clone()).or_default();
                if *active {
                    typing
                        .insert(nick.clone(), now_ms + TYPING_TTL_MS)
                        .is_none()
                } else {
                    typing.remove(nick).is_some()
                }
            }
            ServerMsg::Dm(dm) => self.receive_direct(dm, true),
            ServerMsg::DmHistory { messages, .. } => {
                // The first load is not news; a catch-up after a reconnect is.
                let news = self.dm_delivered > 0;
                let mut changed = false;
                for dm in messages {
                    changed |= self.receive_direct(dm, news);
                }
                changed
            }
            ServerMsg::History {
                room,
                messages,
                complete,
                before: Some(_),
                ..
            } => {
                if !self.rooms.contains_key(room) {
                    return false;
                }
                // An older page, asked for by scrolling up: it goes on top, oldest first.
                let mut older = Vec::new();
                for Stored::Message(message) in messages {
                    if self.seen.insert((room.clone(), message.seq)) {
                        older.push(self.line_of(message));
                    }
                }
                let conv = self.ensure_room(room);
                conv.complete = *complete;
                conv.lines.splice(0..0, older);
                true
            }
            ServerMsg::History {
                room,
                messages,
                reset,
                complete,
                before: None,
                ..
            } => self.history(room, messages, *complete, *reset),
        }
    }

    /// A room's first page, a catch-up after a reconnect, or (with `reset`) the latest page after
    /// too long away.
    fn history(&mut self, room: &str, messages: &[Stored], complete: bool, reset: bool) -> bool {
        // Messages after what I had are news (unread); a first page is not.
        let news = self.delivered.contains_key(room) && !reset;
        let Some(conv) = self.rooms.get_mut(room) else {
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
            // unconfirmed messages stay.
            let pending = &self.pending;
            conv.lines.retain(|l| {
                matches!(
                    &l.kind,
                    LineKind::Chat {
                        mine: Some(Delivery::Sending | Delivery::Failed),
                        ..
                    }
                ) && pending.contains_key(&l.id)
            });
            self.seen.retain(|(r, _)| r != room);
            self.notice(
                &View::Room(room.to_owned()),
                "You were away for a while: showing the latest messages.",
            );
            changed = true;
        }
        for Stored::Message(message) in messages {
            changed |= self.receive(message, news);
        }
        changed
    }

    fn forget_room(&mut self, room: &str) {
        if room == GENERAL {
            return;
        }
        self.rooms.remove(room);
        self.members.remove(room);
        self.crowds.remove(room);
        self.typing.remove(room);
        self.delivered.remove(room);
        self.seen.retain(|(r, _)| r != room);
        self.pending
            .retain(|_, (view, _)| *view != View::Room(room.to_owned()));
    }

    fn sort_online(&mut self) {
        self.online.sort_by_key(|n| n.to_lowercase());
        self.online.dedup();
    }

    fn member(&mut self, room: &str, nick: &str, joined: bool) -> bool {
        if room == GENERAL || !self.rooms.contains_key(room) {
            return false;
        }
        let members = self.members.entry(room.to_owned()).or_default();
        let listed = members.iter().any(|n| n == nick);
        if joined == listed {
            return false;
        }
        if joined {
            members.push(nick.to_owned());
            members.sort_by_key(|n| n.to_lowercase());
        } else {
            members.retain(|n| n != nick);
            if let Some(typing) = self.typing.get_mut(room) {
                typing.remove(nick);
            }
        }
        if nick != self.me {
            let verb = if joined { "joined" } else { "left" };
            self.notice(
                &View::Room(room.to_owned()),
                format!("{nick} {verb} #{room}"),
            );
        }
        true
    }

    fn presence(&mut self, nick: &str, online: bool, rooms: &[String]) -> bool {
        let listed = self.online.iter().any(|n| n == nick);
        if online == listed {
            return false;
        }
        if online {
            self.online.push(nick.to_owned());
            self.sort_online();
            for room in rooms.iter().filter(|r| *r != GENERAL) {
                if let Some(members) = self.members.get_mut(room) {
                    if !members.iter().any(|n| n == nick) {
                        members.push(nick.to_owned());
                        members.sort_by_key(|n| n.to_lowercase());
                    }
                }
            }
        } else {
            self.online.retain(|n| n != nick);
            for members in self.members.values_mut() {
                members.retain(|n| n != nick);
            }
            for typing in self.typing.values_mut() {
                typing.remove(nick);
            }
        }
        if nick != self.me {
            let verb = if online { "joined" } else { "left" };
            self.notice(&View::general(), format!("{nick} {verb}"));
        }
        true
    }

    fn renamed(&mut self, from: &str, to: &str) -> bool {
        let lists = std::iter::once(&mut self.online).chain(self.members.values_mut());
        for list in lists {
            for name in list.iter_mut() {
                if name == from {
                    *name = to.to_owned();
                }
            }
            list.sort_by_key(|n| n.to_lowercase());
        }
        self.online.dedup();
        for typing in self.typing.values_mut() {
            if let Some(expires) = typing.remove(from) {
                typing.insert(to.to_owned(), expires);
            }
        }
        let text = if from == self.me {
            self.me = to.to_owned();
            format!("You are now known as {to}")
        } else {
            format!("{from} is now known as {to}")
        };
        // A conversation with the renamed person moves to the new name.
        if key(from) != key(to) {
            if let Some(mut conv) = self.directs.remove(&key(from)) {
                conv.title = to.to_owned();
                self.directs.insert(key(to), conv);
                if self.view == View::Direct(key(from)) {
                    self.view = View::Direct(key(to));
                }
            }
        } else if let Some(conv) = self.directs.get_mut(&key(from)) {
            conv.title = to.to_owned();
        }
        self.notice(&View::general(), text);
        true
    }

    /// Shows a room message once. `news`: it counts as unread if its room is not on screen.
    fn receive(&mut self, message: &ChatMessage, news: bool) -> bool {
        if !self.rooms.contains_key(&message.room) {
            // A room I left meanwhile.
            return false;
        }
        let delivered = self.delivered.entry(message.room.clone()).or_insert(0);
        *delivered = (*delivered).max(message.seq);
        if !self.seen.insert((message.room.clone(), message.seq)) {
            return false;
        }
        if let Some(typing) = self.typing.get_mut(&message.room) {
            typing.remove(&message.from);
        }
        let mine = message.from == self.me;
        // My own message whose ack was lost (sent just before a disconnect): the stored copy confirms it.
        if let Some(client_id) = message.client_id.as_deref() {
            if mine && self.pending.contains_key(client_id) {
                return self.settle(client_id, Delivery::Sent);
            }
        }
        let view = View::Room(message.room.clone());
        let unseen = news && self.current_view() != view && !mine;
        let line = self.line_of(message);
        let conv = self.ensure_room(&message.room);
        conv.lines.push(line);
        if unseen {
            conv.unread += 1;
        }
        true
    }

    fn line_of(&self, message: &ChatMessage) -> Line {
        Line {
            id: format!("{}:{}", message.room, message.seq),
            kind: LineKind::Chat {
                from: message.from.clone(),
                text: message.text.clone(),
                at: message.at.clone(),
                action: message.action,
                // Mine from another tab or an earlier visit.
                mine: (message.from == self.me).then_some(Delivery::Sent),
            },
        }
    }

    /// Shows a private message once (by id, and by `client_id` for my own).
    fn receive_direct(&mut self, dm: &DirectMessage, news: bool) -> bool {
        if dm.id > 0 {
            self.dm_delivered = self.dm_delivered.max(dm.id);
            if !self.dm_seen.insert(dm.id) {
                return false;
            }
        }
        let mine = key(&dm.from) == key(&self.me);
        // My own message whose ack was lost: the stored copy confirms it.
        if let Some(client_id) = dm.client_id.as_deref() {
            if mine && self.pending.contains_key(client_id) {
                return self.settle(client_id, Delivery::Sent);
            }
        }
        let peer = if mine { &dm.to } else { &dm.from };
        let view = View::Direct(key(peer));
        let unseen = news && self.current_view() != view && !mine;
        let conv = self.direct_mut(peer);
        // My message from this tab (already shown) or from another one: once, by its client_id.
        let id = dm
            .client_id
            .clone()
            .unwrap_or_else(|| format!("dm-{}", dm.id));
        if conv.lines.iter().any(|l| l.id == id) {
            return false;
        }
        conv.lines.push(Line {
            id,
            kind: LineKind::Chat {
                from: dm.from.clone(),
                text: dm.text.clone(),
                at: dm.at.clone(),
                action: dm.action,
                mine: mine.then_some(Delivery::Sent),
            },
        });
        if unseen {
            conv.unread += 1;
        }
        true
    }

    /// Moves a pending message to its final state. Returns whether it was pending.
    fn settle(&mut self, client_id: &str, state: Delivery) -> bool {
        let Some((view, _)) = self.pending.remove(client_id) else {
            return false;
        };
        let conv = self.conversation_mut(&view);
        if let Some(line) = conv.lines.iter_mut().rev().find(|l| l.id == client_id) {
            if let LineKind::Chat { mine, .. } = &mut line.kind {
                *mine = Some(state);
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    fn message(seq: u64, from: &str, text: &str) -> ServerMsg {
        ServerMsg::Message(ChatMessage {
            room: "general".into(),
            seq,
            from: from.into(),
            text: text.into(),
            at: "2026-11-25T22:00:00.000Z".into(),
            client_id: None,
            action: false,
        })
    }

    fn ack(client_id: &str, seq: u64) -> ServerMsg {
        ServerMsg::Ack {
            client_id: client_id.into(),
            room: Some("general".into()),
            seq: Some(seq),
            to: None,
            id: None,
        }
    }

    fn welcomed(me: &str, online: &[&str]) -> Chat {
        let mut chat = Chat::default();
        chat.apply(
            &ServerMsg::Welcome {
                nick: me.into(),
                rooms: vec!["general".into()],
                online: online.iter().map(|s| s.to_string()).collect(),
                members: BTreeMap::new(),
                counts: Default::default(),
                session: None,
            },
            0.0,
        );
        chat
    }

    fn states(conv: &Conversation) -> Vec<Option<Delivery>> {
        conv.lines
            .iter()
            .filter_map(|l| match l.kind {
                LineKind::Chat { mine, .. } => Some(mine),
                LineKind::Notice(_) => None,
            })
            .collect()
    }

    fn notices(conv: &Conversation) -> Vec<String> {
        conv.lines
            .iter()
            .filter_map(|l| match &l.kind {
                LineKind::Notice(n) => Some(n.clone()),
                LineKind::Chat { .. } => None,
            })
            .collect()
    }

    #[test]
    fn my_message_is_shown_at_once_then_marked_sent_by_its_ack() {
        let mut chat = welcomed("me", &["me"]);
        chat.push_own(View::general(), "c-1", "hi", false, "now");
        assert_eq!(states(chat.room(GENERAL)), [Some(Delivery::Sending)]);
        let key_before = chat.room(GENERAL).lines[0].render_key();
        assert!(chat.apply(&ack("c-1", 3), 0.0));
        assert_eq!(states(chat.room(GENERAL)), [Some(Delivery::Sent)]);
        assert_ne!(chat.room(GENERAL).lines[0].render_key(), key_before);
        assert!(chat.unconfirmed().is_empty());
    }

    #[test]
    fn others_messages_are_kept_once_each() {
        let mut chat = welcomed("me", &["me"]);
        assert!(chat.apply(&message(1, "bob", "a"), 0.0));
        assert!(chat.apply(&message(2, "bob", "b"), 0.0));
        assert!(!chat.apply(&message(2, "bob", "b"), 0.0));
        assert!(!chat.apply(&message(1, "bob", "a"), 0.0));
        assert_eq!(chat.room(GENERAL).lines.len(), 2);
    }

    #[test]
    fn an_ack_overtaking_an_older_message_does_not_hide_it() {
        let mut chat = welcomed("me", &["me"]);
        chat.push_own(View::general(), "c-1", "mine", false, "now");
        chat.apply(&ack("c-1", 5), 0.0);
        assert!(chat.apply(&message(4, "bob", "older"), 0.0));
        assert_eq!(chat.room(GENERAL).lines.len(), 2);
    }

    #[test]
    fn a_refused_message_fails_says_why_and_can_be_retried_under_its_id() {
        let mut chat = welcomed("me", &["me"]);
        chat.push_own(View::general(), "c-1", "x", false, "now");
        let refusal = ServerMsg::Error {
            code: ErrorCode::TooLong,
            message: "too long".into(),
            client_id: Some("c-1".into()),
            retry_after_ms: None,
            reply_to: None,
        };
        assert!(chat.apply(&refusal, 0.0));
        assert_eq!(states(chat.room(GENERAL)), [Some(Delivery::Failed)]);
        assert!(notices(chat.room(GENERAL))[0].contains("too long"));
        assert!(
            chat.unconfirmed().is_empty(),
            "failed messages are not resent by themselves"
        );
        let retry = chat.retry("c-1").expect("failed can be retried");
        assert_eq!(retry.client_id, "c-1");
        assert_eq!(states(chat.room(GENERAL)), [Some(Delivery::Sending)]);
        assert!(chat.retry("c-1").is_none(), "only failed messages");
        assert!(chat.apply(&ack("c-1", 9), 0.0));
        assert_eq!(states(chat.room(GENERAL)), [Some(Delivery::Sent)]);
    }

    #[test]
    fn a_message_without_ack_fails_only_after_it_was_sent_and_the_timeout_passed() {
        let mut chat = welcomed("me", &["me"]);
        chat.push_own(View::general(), "c-1", "x", false, "now");
        // Queued while offline: never times out.
        assert!(!chat.tick(1e9));
        chat.mark_transmitted("c-1", 1e9);
        assert!(!chat.tick(1e9 + ACK_TIMEOUT_MS - 1.0));
        assert!(chat.tick(1e9 + ACK_TIMEOUT_MS + 1.0));
        assert_eq!(states(chat.room(GENERAL)), [Some(Delivery::Failed)]);
        // A late ack after the timeout does not flip it back.
        assert!(!chat.apply(&ack("c-1", 2), 0.0));
    }

    #[test]
    fn unconfirmed_messages_are_listed_oldest_first_for_resending() {
        let mut chat = welcomed("me", &["me", "bob"]);
        chat.push_own(View::general(), "c-1", "one", false, "now");
        chat.push_own(View::general(), "c-2", "two", true, "now");
        chat.apply(&ack("c-1", 1), 0.0);
        chat.push_own(View::Direct("bob".into()), "d-1", "psst", false, "now");
        let frames: Vec<ClientMsg> = chat.unconfirmed().iter().map(Outgoing::frame).collect();
        assert_eq!(
            frames,
            [
                ClientMsg::Say {
                    room: "general".into(),
                    text: "two".into(),
                    client_id: "c-2".into(),
                    action: true
                },
                ClientMsg::Dm {
                    to: "bob".into(),
                    text: "psst".into(),
                    client_id: "d-1".into(),
                    action: false
                },
            ]
        );
    }

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
        assert_eq!(chat.online(), ["ann", "me"], "the list stays as it was");
        assert_eq!(chat.head_count("general"), 300);
        chat.apply(
            &ServerMsg::Roster {
                room: "general".into(),
                count: 2,
                members: Some(vec!["me".into(), "Bea".into()]),
            },
            0.0,
        );
        assert_eq!(chat.online(), ["Bea", "me"]);
        assert_eq!(chat.head_count("general"), 2);
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
        assert_eq!(chat.online(), ["bob", "me"]);
        assert!(chat.apply(
            &ServerMsg::Presence {
                nick: "Alice".into(),
                online: true,
                rooms: vec![],
            },
            0.0
        ));
        assert!(!chat.apply(
            &ServerMsg::Presence {
                nick: "Alice".into(),
                online: true,
                rooms: vec![],
            },
            0.0
        ));
        assert_eq!(chat.online(), ["Alice", "bob", "me"]);
        assert!(chat.apply(
            &ServerMsg::Presence {
                nick: "bob".into(),
                online: false,
                rooms: vec![],
            },
            0.0
        ));
        assert_eq!(chat.online(), ["Alice", "me"]);
        // My own presence frame is not news to me.
        chat.apply(
            &ServerMsg::Presence {
                nick: "me".into(),
                online: false,
                rooms: vec![],
            },
            0.0,
        );
        assert_eq!(notices(chat.room(GENERAL)), ["Alice joined", "bob left"]);
    }

    #[test]
    fn renames_update_the_list_my_name_and_the_conversation() {
        let mut chat = welcomed("me", &["me", "bob"]);
        chat.apply(&dm("bob", "me", "hi", None), 0.0);
        chat.apply(
            &ServerMsg::Renamed {
                from: "bob".into(),
                to: "robert".into(),
                reply_to: None,
            },
            0.0,
        );
        assert_eq!(chat.online(), ["me", "robert"]);
        let titles: Vec<String> = chat.directs().map(|(_, c)| c.title.clone()).collect();
        assert_eq!(titles, ["robert"]);
        chat.apply(
            &ServerMsg::Renamed {
                from: "me".into(),
                to: "moi".into(),
                reply_to: None,
            },
            0.0,
        );
        assert_eq!(chat.me, "moi");
        assert_eq!(
            notices(chat.room(GENERAL)),
            ["bob is now known as robert", "You are now known as moi"]
        );
    }

    fn typing(nick: &str, active: bool) -> ServerMsg {
        ServerMsg::Typing {
            room: "general".into(),
            nick: nick.into(),
            active,
        }
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
        assert!(chat.tick(TYPING_TTL_MS + 1.0));
        assert_eq!(chat.typing_line(), None);
        // And someone who leaves stops typing.
        chat.apply(&typing("dan", true), 0.0);
        chat.apply(
            &ServerMsg::Presence {
                nick: "dan".into(),
                online: true,
                rooms: vec![],
            },
            0.0,
        );
        chat.apply(
            &ServerMsg::Presence {
                nick: "dan".into(),
                online: false,
                rooms: vec![],
            },
            0.0,
        );
        assert_eq!(chat.typing_line(), None);
    }

    fn dm(from: &str, to: &str, text: &str, client_id: Option<&str>) -> ServerMsg {
        ServerMsg::Dm(DirectMessage {
            id: 0,
            from: from.into(),
            to: to.into(),
            text: text.into(),
            at: "2026-11-25T22:00:00.000Z".into(),
            client_id: client_id.map(str::to_owned),
            action: false,
        })
    }

    #[test]
    fn private_messages_form_conversations_with_unread_badges() {
        let mut chat = welcomed("me", &["me", "Bob"]);
        chat.apply(&dm("Bob", "me", "psst", Some("b-1")), 0.0);
        chat.apply(&dm("Bob", "me", "hey", Some("b-2")), 0.0);
        let (view, conv) = chat.directs().next().expect("a conversation");
        assert_eq!((conv.title.as_str(), conv.unread), ("Bob", 2));
        chat.open(view.clone());
        assert_eq!(chat.current().lines.len(), 2);
        assert_eq!(chat.directs().next().map(|(_, c)| c.unread), Some(0));
        // While it is open, new ones are read at once; the room counts its own unread.
        chat.apply(&dm("Bob", "me", "still there?", Some("b-3")), 0.0);
        chat.apply(&message(1, "carol", "room talk"), 0.0);
        assert_eq!(chat.directs().next().map(|(_, c)| c.unread), Some(0));
        assert_eq!(chat.room(GENERAL).unread, 1);
        // My own dm, sent from my other tab, lands in the same conversation, once.
        chat.apply(&dm("me", "bob", "yes", Some("m-1")), 0.0);
        chat.apply(&dm("me", "bob", "yes", Some("m-1")), 0.0);
        assert_eq!(chat.current().lines.len(), 4);
        chat.open(View::general());
        assert_eq!(chat.room(GENERAL).unread, 0);
    }

    #[test]
    fn my_own_dm_is_confirmed_by_its_ack() {
        let mut chat = welcomed("me", &["me", "bob"]);
        chat.open(View::Direct("bob".into()));
        chat.push_own(View::Direct("bob".into()), "d-1", "psst", false, "now");
        let acked = ServerMsg::Ack {
            client_id: "d-1".into(),
            room: None,
            seq: None,
            to: Some("bob".into()),
            id: None,
        };
        assert!(chat.apply(&acked, 0.0));
        assert_eq!(states(chat.current()), [Some(Delivery::Sent)]);
    }

    fn history(messages: Vec<ServerMsg>, reset: bool) -> ServerMsg {
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
        assert!(!chat.room(GENERAL).complete);
        assert_eq!(chat.oldest_seq(GENERAL), Some(51));
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
            .room(GENERAL)
            .lines
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["general:49", "general:50", "general:51", "general:52"]
        );
        assert!(chat.room(GENERAL).complete);
        assert_eq!(
            chat.since().get("general"),
            Some(&52),
            "older pages do not move since"
        );
    }

    #[test]
    fn history_fills_in_once_and_sets_since() {
        let mut chat = welcomed("me", &["me"]);
        assert!(chat.since().is_empty());
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
        assert_eq!(chat.room(GENERAL).lines.len(), 4);
        assert_eq!(chat.since().get("general"), Some(&4));
        assert_eq!(
            states(chat.room(GENERAL))[1],
            Some(Delivery::Sent),
            "my own, from an earlier visit"
        );
    }

    #[test]
    fn a_stored_copy_confirms_my_message_whose_ack_was_lost() {
        let mut chat = welcomed("me", &["me"]);
        chat.push_own(View::general(), "c-1", "hi", false, "now");
        let mut stored = message(7, "me", "hi");
        if let ServerMsg::Message(m) = &mut stored {
            m.client_id = Some("c-1".into());
        }
        chat.apply(&history(vec![stored], false), 0.0);
        assert_eq!(
            states(chat.room(GENERAL)),
            [Some(Delivery::Sent)],
            "confirmed, not doubled"
        );
        assert!(chat.unconfirmed().is_empty());
    }

    #[test]
    fn a_reset_replaces_the_room_but_keeps_my_unsent_messages() {
        let mut chat = welcomed("me", &["me"]);
        chat.apply(&message(1, "bob", "old"), 0.0);
        chat.push_own(View::general(), "c-1", "queued", false, "now");
        chat.apply(&history(vec![message(900, "bob", "new")], true), 0.0);
        let texts: Vec<&str> = chat
            .room(GENERAL)
            .lines
            .iter()
            .filter_map(|l| match &l.kind {
                LineKind::Chat { text, .. } => Some(text.as_str()),
                LineKind::Notice(_) => None,
            })
            .collect();
        assert_eq!(texts, ["queued", "new"]);
        assert_eq!(chat.since().get("general"), Some(&900));
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
        assert!(notices(chat.room(GENERAL))[0].contains('7'));
    }

    fn in_room(room: &str, seq: u64, from: &str, text: &str) -> ServerMsg {
        let mut msg = message(seq, from, text);
        if let ServerMsg::Message(m) = &mut msg {
            m.room = room.into();
        }
        msg
    }

    #[test]
    fn rooms_have_their_own_messages_members_unread_and_typing() {
        let mut chat = welcomed("me", &["me", "bob", "carol"]);
        assert!(!chat.is_member("rust"));
        assert!(!chat.apply(&in_room("rust", 1, "bob", "not for me"), 0.0));
        chat.apply(
            &ServerMsg::Joined {
                room: "rust".into(),
                members: vec!["bob".into(), "me".into()],
                count: None,
                reply_to: None,
            },
            0.0,
        );
        let names: Vec<View> = chat.rooms().map(|(v, _)| v).collect();
        assert_eq!(names, [View::general(), View::Room("rust".into())]);
        assert_eq!(chat.members("rust"), ["bob", "me"]);
        assert_eq!(chat.members("general"), ["bob", "carol", "me"]);

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
        assert_eq!(chat.room("rust").unread, 2);
        assert_eq!(chat.room(GENERAL).unread, 0);
        assert_eq!(chat.since().get("rust"), Some(&2));

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
        assert_eq!(chat.room("rust").unread, 0);
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
        assert_eq!(chat.members("rust"), ["bob", "carol", "me"]);
        assert!(notices(chat.room("rust")).contains(&"carol joined #rust".to_owned()));
        chat.apply(
            &ServerMsg::Presence {
                nick: "bob".into(),
                online: false,
                rooms: vec![],
            },
            0.0,
        );
        assert_eq!(chat.members("rust"), ["carol", "me"]);
        assert_eq!(chat.typing_line(), None);
        chat.apply(
            &ServerMsg::Presence {
                nick: "bob".into(),
                online: true,
                rooms: vec!["general".into(), "rust".into()],
            },
            0.0,
        );
        assert_eq!(chat.members("rust"), ["bob", "carol", "me"]);

        // My message here goes to this room.
        chat.push_own(View::Room("rust".into()), "c-1", "hi", false, "now");
        assert_eq!(
            chat.unconfirmed()[0].frame(),
            ClientMsg::Say {
                room: "rust".into(),
                text: "hi".into(),
                client_id: "c-1".into(),
                action: false
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
        assert!(!chat.is_member("rust"));
        assert_eq!(chat.since().get("rust"), None);
        assert!(chat.unconfirmed().is_empty());
        assert_eq!(
            chat.current().lines.len(),
            0,
            "the page offers to join again"
        );
    }

    #[test]
    fn a_welcome_drops_rooms_left_elsewhere_and_keeps_general() {
        let mut chat = welcomed("me", &["me"]);
        for room in ["rust", "go"] {
            chat.apply(
                &ServerMsg::Joined {
                    room: room.into(),
                    members: vec![],
                    count: None,
                    reply_to: None,
                },
                0.0,
            );
        }
        chat.apply(
            &ServerMsg::Welcome {
                nick: "me".into(),
                rooms: vec!["general".into(), "rust".into()],
                online: vec!["me".into()],
                members: BTreeMap::from([("rust".to_owned(), vec!["me".to_owned()])]),
                counts: Default::default(),
                session: None,
            },
            0.0,
        );
        let names: Vec<String> = chat.rooms().map(|(_, c)| c.title.clone()).collect();
        assert_eq!(names, ["general", "rust"]);
        assert_eq!(chat.members("rust"), ["me"]);
    }

    #[test]
    fn private_messages_are_kept_once_by_id_and_set_dm_since() {
        let mut chat = welcomed("me", &["me", "bob"]);
        assert_eq!(chat.dm_since(), None);
        let stored = |id: u64, text: &str| DirectMessage {
            id,
            from: "bob".into(),
            to: "me".into(),
            text: text.into(),
            at: "2026-11-25T22:00:00.000Z".into(),
            client_id: Some(format!("b-{id}")),
            action: false,
        };
        // The first load is history, not unread.
        chat.apply(
            &ServerMsg::DmHistory {
                messages: vec![stored(3, "old")],
                reset: false,
                more: false,
            },
            0.0,
        );
        assert_eq!(chat.directs().next().map(|(_, c)| c.unread), Some(0));
        chat.apply(&ServerMsg::Dm(stored(4, "new")), 0.0);
        // A catch-up overlapping the live one adds only what is new, and counts it.
        chat.apply(
            &ServerMsg::DmHistory {
                messages: vec![stored(4, "new"), stored(5, "newer")],
                reset: false,
                more: false,
            },
            0.0,
        );
        let (_, conv) = chat.directs().next().expect("a conversation");
        assert_eq!(conv.lines.len(), 3);
        assert_eq!(conv.unread, 2);
        assert_eq!(chat.dm_since(), Some(5));
    }
}
