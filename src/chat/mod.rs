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
//! - the online list follows `presence` and `renamed`, pictures follow `avatar`; join and leave notices appear once per person;
//! - "is typing" entries expire by themselves, so a lost `typing:false` never leaves one stuck.
//!
//! The page keeps a [`Chat`] in a signal; `client` feeds it frames and clock ticks.
//!
//! Each part below is a type of its own that owns its state; [`Chat`] holds them, with what is
//! about me, and [`Chat::apply`] only dispatches: each frame kind goes to the part it is about.
//! When a change needs two parts, the other is handed over as an argument, never the whole chat.
//!
//! - [`attention`]: whether the tab is hidden, the title's count, notifications waiting.
//! - [`conversation`]: a conversation and its lines; the ones I have, and which is on screen.
//! - [`links`]: web addresses in a message's text, shown as links.
//! - [`mentions`]: `@name` in a message's text; a mention of me raises badges and notifications.
//! - [`outbox`]: my own messages, from "sending" to "sent" or "not sent", and their resending.
//! - [`parts`]: which parts of the page a frame changes, so only those re-render.
//! - [`timeline`]: messages received, live or from history, each kept once and in order.
//! - [`people`]: who is online, per room, and their comings, goings and renames.
//! - [`search`]: the search box's query and its hits, page after page.
//! - [`reads`]: where I have read to, the same on all my devices; unread badges count from it.
//! - [`typing`]: the "is typing" line, which the model tells what happened and asks for the line.

pub mod attention;
pub mod conversation;
pub mod links;
pub mod mentions;
pub mod outbox;
pub mod parts;
pub mod people;
pub mod reads;
pub mod search;
#[cfg(test)]
mod tests;
pub mod timeline;
pub mod typing;

pub use conversation::{Conversation, Line, LineKind, SendState, View, MAX_LINES};
pub use outbox::Outgoing;
pub use parts::Parts;

use crate::protocol::{ClientMsg, ServerMsg, GENERAL, PROTOCOL_VERSION};
use attention::Attention;
use conversation::Conversations;
use outbox::Outbox;
use people::Roster;
use reads::Reads;
use timeline::{Around, Timeline};
use typing::Typing;

/// How long a sent message may wait for its ack before it is shown as failed.
pub const ACK_TIMEOUT_MS: f64 = 8_000.0;

/// How long a "typing" entry lasts without a refresh. Typers refresh every ~2 s.
pub const TYPING_TTL_MS: f64 = 6_000.0;

/// Everything the page shows: the parts, each its own type, and what is about me.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chat {
    /// My nickname, once known.
    pub me: String,
    /// My rooms and private conversations, and which is on screen.
    pub conversations: Conversations,
    /// What was received, so nothing is shown twice and a reconnect asks for what is missing.
    pub timeline: Timeline,
    /// Who is online.
    pub people: Roster,
    /// Who is typing in each room.
    pub typing: Typing,
    /// My messages waiting for their ack.
    pub outbox: Outbox,
    /// Where I have read to, on every device.
    pub reads: Reads,
    /// Whether the tab is hidden; the title's count and notifications while it is.
    pub attention: Attention,
    /// The search box and its hits.
    pub search: search::Searching,
    /// The reply being written: to which conversation's message.
    pub replying: Option<(View, crate::protocol::Quote)>,
    /// The line a search hit opened: brought into view (older history loaded until it is there)
    /// and highlighted.
    pub jump: Option<String>,
    /// The server speaks a newer protocol than this page: a new version is available (reload).
    pub outdated: bool,
    /// I am a moderator: I may delete anyone's message, mute and ban.
    pub moderator: bool,
    /// I am muted until then (RFC 3339).
    pub muted_until: Option<String>,
    /// I was banned until then: the tab stops reconnecting.
    pub banned_until: Option<String>,
    /// My name is mine for good (I have a password or a passkey).
    pub secured: bool,
}

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
        chat.conversations.ensure_room(GENERAL);
        chat
    }

    /// Opens room `room` at its message `seq` (a search hit): the search closes, the line is
    /// brought into view once it is loaded.
    pub fn jump_to(&mut self, room: &str, seq: u64) {
        self.search.clear();
        self.open(View::Room(room.to_owned()));
        self.jump = Some(format!("{room}:{seq}"));
    }

    /// Brings private message `id` of the conversation on screen into view, highlighted (older
    /// messages are loaded until it is there).
    pub fn jump_to_direct(&mut self, id: u64) {
        let line = self
            .conversations
            .current()
            .lines
            .iter()
            .find(|line| matches!(line.kind, LineKind::Chat { dm_id: Some(d), .. } if d == id));
        self.jump = Some(line.map_or_else(|| format!("dm-{id}"), |line| line.id.clone()));
    }

    /// Opens a conversation and marks it read.
    pub fn open(&mut self, view: View) {
        self.jump = None;
        self.reads
            .mark_unread_start(&view, &self.conversations, &self.me);
        self.conversations.open(view, &self.me);
    }

    /// Who is typing in the room on screen right now, me excluded, in a stable order.
    pub fn typing_line(&self) -> Option<String> {
        self.typing
            .line(self.conversations.current_room()?, &self.me)
    }

    /// The line of the first message that was unread when the conversation on screen was
    /// opened (or first shown): the page draws a "new messages" line above it.
    pub fn first_unread(&self) -> Option<String> {
        self.reads.first_unread(&self.conversations.current_view())
    }

    /// Shows my own message at once, as sending, in conversation `view`.
    pub fn push_own(&mut self, out: Outgoing, at: &str) {
        self.outbox
            .push_own(&mut self.conversations, &self.me, out, at);
    }

    /// Puts a failed message back to "sending" and returns what to send, with the same `client_id`
    /// (so the server stores it at most once).
    pub fn retry(&mut self, client_id: &str) -> Option<Outgoing> {
        self.outbox.retry(client_id, &mut self.conversations)
    }

    /// My messages still "sending", oldest first per conversation: sent again after a reconnect.
    pub fn unconfirmed(&self) -> Vec<Outgoing> {
        self.outbox.unconfirmed(&self.conversations)
    }

    /// How many of my messages are not confirmed (sending, or shown as not sent): what a reload
    /// would lose.
    pub fn unsent(&self) -> usize {
        self.outbox.unsent(&self.conversations)
    }

    /// The `read` frame to send now, if the conversation on screen (the tab visible) shows more
    /// than my read position: the position moves to the newest message it shows.
    pub fn read_to_send(&mut self) -> Option<ClientMsg> {
        if self.attention.hidden() {
            return None;
        }
        let view = self.conversations.current_view();
        let delivered = match &view {
            View::Room(room) => self.timeline.newest(room),
            View::Direct(_) => None,
        };
        self.reads
            .read_to_send(view, delivered, &self.conversations)
    }

    /// Advances the clock: unacked messages time out, typing entries expire. Returns the parts of
    /// the page that changed.
    pub fn tick(&mut self, now_ms: f64) -> Parts {
        let typing = self.typing.expire(now_ms);
        let unacked = self.outbox.expire(now_ms, &mut self.conversations);
        // A message timing out may be in any conversation, with a notice: the lines are redrawn
        // only if it was the open one's, which is not worth tracking for a rare event.
        Parts::TYPING.when(typing) | (Parts::LINES | Parts::ME).when(unacked)
    }

    /// Applies one server frame at time `now_ms`. Returns whether anything visible changed. Each
    /// kind goes to the part of the model it is about: messages and what settles mine to
    /// [`Chat::message_frame`]; here people (welcome, joins, presence, renames, moderation),
    /// typing, and errors about no message of mine.
    pub fn apply(&mut self, msg: &ServerMsg, now_ms: f64) -> bool {
        match msg {
            ServerMsg::Message(_)
            | ServerMsg::Edited(_)
            | ServerMsg::Reacted(_)
            | ServerMsg::Deleted(_)
            | ServerMsg::Ack { .. }
            | ServerMsg::Error {
                client_id: Some(_), ..
            }
            | ServerMsg::Lagged { .. }
            | ServerMsg::Dm(_)
            | ServerMsg::DmReacted(_)
            | ServerMsg::DmHistory { .. }
            | ServerMsg::History { .. }
            | ServerMsg::Read { .. } => self.message_frame(msg),
            ServerMsg::Welcome { .. } => self.welcome(msg),
            ServerMsg::Joined {
                room,
                members,
                count,
                ..
            } => {
                self.conversations.ensure_room(room);
                self.people.joined(room, members, *count);
                true
            }
            ServerMsg::Roster {
                room,
                count,
                members,
            } => self
                .people
                .roster(room, *count, members.as_deref(), &self.conversations),
            ServerMsg::Left { room, .. } => {
                self.forget_room(room);
                true
            }
            ServerMsg::Member { room, nick, joined } => self.member(room, nick, *joined),
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
            ServerMsg::Presence {
                nick,
                online,
                rooms,
                bot,
            } => self.presence(nick, *online, rooms, *bot),
            ServerMsg::Renamed { from, to, .. } => self.renamed(from, to),
            ServerMsg::Avatar { nick, url } => self.people.picture_changed(nick, url),
            ServerMsg::Results {
                q,
                hits,
                more,
                next,
                ..
            } => self.search.results(q, hits, *more, next.as_deref()),
            ServerMsg::Typing { nick, active, room } => {
                self.conversations.is_member(room) && self.typing.set(room, nick, *active, now_ms)
            }
            // A newer server's frame: nothing this page knows how to show.
            ServerMsg::AuditLog { .. } | ServerMsg::Blocked { .. } | ServerMsg::Unknown => false,
        }
    }

    /// A frame about messages: to the timeline (others' messages, changes, history), the outbox
    /// (acks and refusals of mine) or read positions.
    fn message_frame(&mut self, msg: &ServerMsg) -> bool {
        match msg {
            ServerMsg::Message(message) => self.arrive(|t, cx| t.receive(message, true, cx)),
            ServerMsg::Edited(change) => {
                self.timeline.change(change, false, &mut self.conversations)
            }
            ServerMsg::Deleted(change) => {
                self.timeline.change(change, true, &mut self.conversations)
            }
            ServerMsg::Reacted(reaction) => self.timeline.react(reaction, &mut self.conversations),
            ServerMsg::Ack {
                client_id,
                room,
                seq,
                to,
                id,
                ..
            } => {
                if let Some((room, seq)) = room.as_deref().zip(*seq) {
                    self.timeline.acked(room, seq);
                }
                let place = match (room, seq, to, id) {
                    (Some(room), Some(seq), _, _) => Some((View::Room(room.clone()), *seq)),
                    (_, _, Some(to), Some(id)) => Some((View::Direct(key(to)), *id)),
                    _ => None,
                };
                self.outbox.acked(client_id, place, &mut self.conversations)
            }
            ServerMsg::Error {
                client_id: Some(client_id),
                message,
                ..
            } => self
                .outbox
                .refused(client_id, message, &mut self.conversations),
            ServerMsg::Lagged { room, missed } => {
                self.conversations.notice(
                    &View::Room(room.clone()),
                    format!("Your connection fell behind: {missed} messages in #{room} were skipped; catching up."),
                );
                true
            }
            ServerMsg::Dm(dm) => self.arrive(|t, cx| t.receive_direct(dm, true, cx)),
            ServerMsg::DmReacted(reaction) => {
                self.timeline
                    .react_direct(reaction, &self.me, &mut self.conversations)
            }
            ServerMsg::DmHistory {
                messages,
                reactions,
                ..
            } => self.arrive(|t, cx| t.direct_history(messages, reactions, cx)),
            ServerMsg::History {
                room,
                messages,
                complete,
                before: Some(_),
                ..
            } => self.timeline.older_page(
                room,
                messages,
                *complete,
                &self.me,
                &mut self.conversations,
            ),
            ServerMsg::History {
                room,
                messages,
                reset,
                complete,
                before: None,
                ..
            } => self.arrive(|t, cx| t.history(room, messages, *complete, *reset, cx)),
            ServerMsg::Read { room, seq, dm, id } => self.reads.read_elsewhere(
                room.as_deref().zip(*seq),
                dm.as_deref().zip(*id),
                &mut self.conversations,
                &self.me,
                self.attention.hidden(),
            ),
            // [`Chat::apply`] sends only the kinds above here.
            _ => false,
        }
    }

    /// Hands the timeline what a message arriving touches, part by part.
    fn arrive(&mut self, receive: impl FnOnce(&mut Timeline, &mut Around) -> bool) -> bool {
        let mut around = Around {
            me: &self.me,
            conversations: &mut self.conversations,
            reads: &mut self.reads,
            typing: &mut self.typing,
            outbox: &mut self.outbox,
            attention: &mut self.attention,
        };
        receive(&mut self.timeline, &mut around)
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
        if muted_until.is_some() && *muted_until != self.muted_until {
            if let Some(until) = muted_until {
                let until = readable_time(until);
                self.conversations.notice(
                    &View::Room(GENERAL.to_owned()),
                    format!("A moderator muted you until {until}: you can read, not post."),
                );
            }
        }
        self.muted_until.clone_from(muted_until);
        self.outdated = *version > PROTOCOL_VERSION;
        self.people.welcome(online, counts, bots);
        // Rooms left on another tab while this one was away are gone.
        let gone: Vec<String> = self
            .conversations
            .rooms()
            .filter_map(|(view, _)| match view {
                View::Room(room) if room != GENERAL && !rooms.contains(&room) => Some(room),
                _ => None,
            })
            .collect();
        for room in gone {
            self.forget_room(&room);
        }
        for room in rooms {
            self.conversations.ensure_room(room);
        }
        self.people.welcome_members(members);
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
        // A refused search is told in the search box, not the conversation.
        if matches!(
            code,
            crate::protocol::ErrorCode::BadFrame | crate::protocol::ErrorCode::UnknownUser
        ) && self.search.refused(message)
        {
            return true;
        }
        let view = self.conversations.current_view();
        self.conversations.notice(&view, message.to_owned());
        true
    }

    /// A moderator's action, told to everyone; mine changes whether I may post.
    fn moderated(&mut self, action: &str, nick: &str, by: &str, until: &str, reason: &str) -> bool {
        if key(nick) == key(&self.me) {
            match action {
                "muted" => self.muted_until = Some(until.to_owned()),
                "unmuted" => self.muted_until = None,
                _ => {}
            }
        }
        let reason = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        let notice = if action.starts_with("un") {
            format!("{nick} was {action} by {by}")
        } else {
            let until = readable_time(until);
            format!("{nick} was {action} by {by} until {until}{reason}")
        };
        self.conversations.notice(&View::general(), notice);
        true
    }

    /// `nick` joined or left `room`: the list follows, a departure ends their typing, and others'
    /// comings and goings are noted in the room.
    fn member(&mut self, room: &str, nick: &str, joined: bool) -> bool {
        if !self.people.member(room, nick, joined, &self.conversations) {
            return false;
        }
        if !joined {
            self.typing.stopped(room, nick);
        }
        if nick != self.me {
            let verb = if joined { "joined" } else { "left" };
            self.conversations.notice(
                &View::Room(room.to_owned()),
                format!("{nick} {verb} #{room}"),
            );
        }
        true
    }

    /// `nick` came online or went: the lists follow, one gone types nowhere, and others' comings
    /// and goings are noted in `general`.
    fn presence(&mut self, nick: &str, online: bool, rooms: &[String], bot: bool) -> bool {
        if !self.people.presence(nick, online, rooms, bot) {
            return false;
        }
        if !online {
            self.typing.gone(nick);
        }
        if nick != self.me {
            let verb = if online { "joined" } else { "left" };
            self.conversations
                .notice(&View::general(), format!("{nick} {verb}"));
        }
        true
    }

    /// `from` is now called `to`, in every part; if it is me, my name follows.
    fn renamed(&mut self, from: &str, to: &str) -> bool {
        self.people.renamed(from, to);
        self.typing.renamed(from, to);
        let text = if from == self.me {
            self.me = to.to_owned();
            format!("You are now known as {to}")
        } else {
            format!("{from} is now known as {to}")
        };
        self.outbox.renamed(from, to);
        self.conversations.renamed(from, to);
        self.conversations.notice(&View::general(), text);
        true
    }

    /// A room I left: every part lets go of it (never `general`).
    fn forget_room(&mut self, room: &str) {
        if room == GENERAL {
            return;
        }
        self.conversations.forget_room(room);
        self.people.forget_room(room);
        self.typing.forget_room(room);
        self.timeline.forget_room(room);
        self.outbox.forget_room(room);
    }
}
