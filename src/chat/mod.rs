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
//!
//! - [`conversation`]: a conversation, its lines and what is on screen.
//! - [`links`]: web addresses in a message's text, shown as links.
//! - [`mentions`]: `@name` in a message's text; a mention of me raises badges and notifications.
//! - [`outbox`]: my own messages, from "sending" to "sent" or "not sent", and their resending.
//! - [`parts`]: which parts of the page a frame changes, so only those re-render.
//! - [`timeline`]: messages received, live or from history, each kept once and in order.
//! - [`people`]: who is online, per room, and their comings, goings and renames.
//! - [`reads`]: where I have read to, the same on all my devices; unread badges count from it.
//! - [`typing`]: the "is typing" line, a type of its own ([`typing::Typing`]) that the model tells
//!   what happened and asks for the line.
//!
//! [`Chat::apply`] only dispatches: each frame kind goes to the part it is about.

pub mod conversation;
pub mod links;
pub mod mentions;
pub mod outbox;
pub mod parts;
pub mod people;
pub mod reads;
#[cfg(test)]
mod tests;
pub mod timeline;
pub mod typing;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use conversation::{Conversation, Line, LineKind, SendState, View, MAX_LINES};
pub use outbox::Outgoing;
pub use parts::Parts;

use crate::protocol::{ServerMsg, GENERAL, PROTOCOL_VERSION};
use conversation::NOT_JOINED;
use typing::Typing;

/// How long a sent message may wait for its ack before it is shown as failed.
pub const ACK_TIMEOUT_MS: f64 = 8_000.0;

/// How long a "typing" entry lasts without a refresh. Typers refresh every ~2 s.
pub const TYPING_TTL_MS: f64 = 6_000.0;

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
    /// Who is typing in each room.
    typing: Typing,
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
    /// The server speaks a newer protocol than this page: a new version is available (reload).
    pub outdated: bool,
    /// The tab is hidden (another tab, minimized): mentions of me and private messages count in
    /// the title and are notified.
    hidden: bool,
    /// Mentions of me and private messages to me since the tab was hidden: the title's count.
    pub alerts: u32,
    /// Notifications to show (title, body), taken by the browser after each frame; at most
    /// [`MAX_NOTIFY`].
    notify: Vec<(String, String)>,
    /// I am a moderator: I may delete anyone's message, mute and ban.
    pub moderator: bool,
    /// Who online are bots (by name key).
    bots: HashSet<String>,
    /// I am muted until then (RFC 3339).
    pub muted_until: Option<String>,
    /// I was banned until then: the tab stops reconnecting.
    pub banned_until: Option<String>,
    /// My name is mine for good (I have a password or a passkey).
    pub secured: bool,
    /// Where I have read to, on every device.
    reads: reads::Reads,
}

/// Notifications waiting to be shown at most: a burst while hidden shows its first few.
const MAX_NOTIFY: usize = 3;

/// An RFC 3339 UTC time as people read it: `2026-11-27 10:00 UTC`.
fn readable_time(at: &str) -> String {
    format!("{} UTC", at.get(..16).unwrap_or(at).replace('T', " "))
}

fn key(nick: &str) -> String {
    lower(nick)
}

/// `text` in lower case, as `str::to_lowercase` has it. In the browser, JavaScript's
/// `toLowerCase` does it (the same Unicode mapping), so the wasm carries no case tables of its own.
pub fn lower(text: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        String::from(js_sys::JsString::from(text).to_lower_case())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        text.to_lowercase()
    }
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

    /// Whether `nick` is a bot.
    pub fn is_bot(&self, nick: &str) -> bool {
        !self.bots.is_empty() && self.bots.contains(&key(nick))
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

    /// Private conversations, by the other person's name.
    pub fn directs(&self) -> impl Iterator<Item = (View, &Conversation)> {
        self.directs
            .iter()
            .map(|(k, c)| (View::Direct(k.clone()), c))
    }

    /// Opens a conversation and marks it read.
    pub fn open(&mut self, view: View) {
        self.mark_unread_start(&view);
        let view = match view {
            View::Direct(peer) if key(&peer) == key(&self.me) => View::general(),
            View::Direct(peer) => {
                let conv = self.direct_mut(&peer);
                conv.unread = 0;
                conv.mentions = 0;
                View::Direct(key(&peer))
            }
            View::Room(room) => {
                if let Some(conv) = self.rooms.get_mut(&room) {
                    conv.unread = 0;
                    conv.mentions = 0;
                }
                View::Room(room)
            }
        };
        self.view = view;
    }

    /// The tab was hidden or shown again; shown, its title's count is cleared. Returns whether
    /// anything visible changed.
    pub fn set_hidden(&mut self, hidden: bool) -> bool {
        self.hidden = hidden;
        if !hidden {
            self.notify.clear();
            return std::mem::take(&mut self.alerts) > 0;
        }
        false
    }

    /// Whether notifications wait to be shown.
    pub fn notifications_waiting(&self) -> bool {
        !self.notify.is_empty()
    }

    /// The notifications to show now (title, body), oldest first.
    pub fn take_notifications(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.notify)
    }

    /// Something for me arrived (a mention, a private message): counted in the title and notified
    /// while the tab is hidden.
    pub(super) fn alert(&mut self, title: String, body: &str) {
        if !self.hidden {
            return;
        }
        self.alerts += 1;
        if self.notify.len() < MAX_NOTIFY {
            let body: String = body.chars().take(200).collect();
            self.notify.push((title, body));
        }
    }

    pub(super) fn ensure_room(&mut self, room: &str) -> &mut Conversation {
        self.rooms
            .entry(room.to_owned())
            .or_insert_with(|| Conversation {
                title: room.to_owned(),
                ..Conversation::default()
            })
    }

    pub(super) fn direct_mut(&mut self, peer: &str) -> &mut Conversation {
        let conv = self.directs.entry(key(peer)).or_default();
        conv.title = peer.to_owned();
        conv
    }

    /// The conversation `view` names; for a room I am not (or no longer) in, `general`, so a
    /// notice is never lost and no room is joined by accident.
    pub(super) fn conversation_mut(&mut self, view: &View) -> &mut Conversation {
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

    /// Advances the clock: unacked messages time out, typing entries expire. Returns the parts of
    /// the page that changed.
    pub fn tick(&mut self, now_ms: f64) -> Parts {
        let typing = self.typing.expire(now_ms);
        let unacked = self.expire_unacked(now_ms);
        // A message timing out may be in any conversation, with a notice: the lines are redrawn
        // only if it was the open one's, which is not worth tracking for a rare event.
        Parts::TYPING.when(typing) | (Parts::LINES | Parts::ME).when(unacked)
    }

    /// Applies one server frame at time `now_ms`. Returns whether anything visible changed. Each
    /// kind goes to the part of the model it is about: people (welcome, joins, presence, renames,
    /// moderation), the timeline (messages, changes, history), the outbox (acks and refusals),
    /// typing, read positions.
    pub fn apply(&mut self, msg: &ServerMsg, now_ms: f64) -> bool {
        match msg {
            ServerMsg::Welcome { .. } => self.welcome(msg),
            ServerMsg::Joined {
                room,
                members,
                count,
                ..
            } => self.joined(room, members, *count),
            ServerMsg::Roster {
                room,
                count,
                members,
            } => self.roster(room, *count, members.as_deref()),
            ServerMsg::Left { room, .. } => {
                self.forget_room(room);
                true
            }
            ServerMsg::Member { room, nick, joined } => self.member(room, nick, *joined),
            ServerMsg::Message(message) => self.receive(message, true),
            ServerMsg::Edited(change) => self.change(change, false),
            ServerMsg::Deleted(change) => self.change(change, true),
            ServerMsg::Ack {
                client_id,
                room,
                seq,
                ..
            } => self.acked(client_id, room.as_deref().zip(*seq)),
            ServerMsg::Error {
                client_id: Some(client_id),
                message,
                ..
            } => self.refused(client_id, message),
            ServerMsg::Error {
                code,
                message,
                until,
                ..
            } => self.error(*code, message, until.as_deref()),
            ServerMsg::Moderated {
                action,
                nick,
                by,
                until,
                reason,
                ..
            } => self.moderated(action, nick, by, until, reason),
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
                bot,
            } => {
                if *bot && *online {
                    self.bots.insert(key(nick));
                } else if !*online {
                    self.bots.remove(&key(nick));
                }
                self.presence(nick, *online, rooms)
            }
            ServerMsg::Renamed { from, to, .. } => self.renamed(from, to),
            ServerMsg::Typing { nick, active, room } => {
                self.rooms.contains_key(room) && self.typing.set(room, nick, *active, now_ms)
            }
            ServerMsg::Dm(dm) => self.receive_direct(dm, true),
            ServerMsg::DmHistory { messages, .. } => self.direct_history(messages),
            ServerMsg::History {
                room,
                messages,
                complete,
                before: Some(_),
                ..
            } => self.older_page(room, messages, *complete),
            ServerMsg::History {
                room,
                messages,
                reset,
                complete,
                before: None,
                ..
            } => self.history(room, messages, *complete, *reset),
            ServerMsg::Read { room, seq, dm, id } => {
                self.read_elsewhere(room.as_deref(), *seq, dm.as_deref(), *id)
            }
            // A newer server's frame: nothing this page knows how to show.
            ServerMsg::AuditLog { .. } | ServerMsg::Blocked { .. } | ServerMsg::Unknown => false,
        }
    }

    /// A `welcome`: who I am, my rooms and roles, who is online, where I read up to.
    fn welcome(&mut self, msg: &ServerMsg) -> bool {
        let ServerMsg::Welcome {
            nick,
            rooms,
            online,
            members,
            counts,
            version,
            moderator,
            bots,
            muted_until,
            secured,
            read,
            dm_read,
            ..
        } = msg
        else {
            return false;
        };
        self.me = nick.clone();
        self.secured = *secured;
        self.reads.learn(read, dm_read);
        self.moderator = *moderator;
        self.bots = bots.iter().map(|b| key(b)).collect();
        if muted_until.is_some() && *muted_until != self.muted_until {
            if let Some(until) = muted_until {
                let until = readable_time(until);
                self.notice(
                    &View::Room(GENERAL.to_owned()),
                    format!("A moderator muted you until {until}: you can read, not post."),
                );
            }
        }
        self.muted_until.clone_from(muted_until);
        self.outdated = *version > PROTOCOL_VERSION;
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

    /// An error that names no message of mine: shown where I am; a ban also stops the composer.
    fn error(
        &mut self,
        code: crate::protocol::ErrorCode,
        message: &str,
        until: Option<&str>,
    ) -> bool {
        if code == crate::protocol::ErrorCode::Banned {
            self.banned_until = Some(until.unwrap_or_default().to_owned());
        }
        let view = self.current_view();
        self.notice(&view, message.to_owned());
        true
    }

    pub(super) fn forget_room(&mut self, room: &str) {
        if room == GENERAL {
            return;
        }
        self.rooms.remove(room);
        self.members.remove(room);
        self.crowds.remove(room);
        self.typing.forget_room(room);
        self.delivered.remove(room);
        self.seen.retain(|(r, _)| r != room);
        self.pending
            .retain(|_, (view, _)| *view != View::Room(room.to_owned()));
    }
}
