//! Which parts of the page a change to the chat touches, so that a frame re-renders only those: a
//! typing frame the typing line, a message in another room that room's badge, a presence the online
//! list. The page keeps one trigger per part (`client::ChatHandle`); what reads the chat names the
//! parts it shows, and a frame wakes only the readers of the parts it changed.
//!
//! [`Chat::parts`] answers for a frame from the chat as it stands before the frame is applied. It may
//! name a part the frame leaves as it was (that costs a re-render), never leave out one it changes:
//! `tests::parts` checks that over a run of every kind of frame.

use std::ops::{BitOr, BitOrAssign};

use super::conversation::Conversations;
use super::{Chat, View};
use crate::protocol::{ErrorCode, ServerMsg};

/// A set of parts of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parts(u8);

impl Parts {
    pub const NONE: Parts = Parts(0);
    /// The open conversation's lines, and whether older ones can be loaded.
    pub const LINES: Parts = Parts(1);
    /// The "is typing" line of the open room.
    pub const TYPING: Parts = Parts(1 << 1);
    /// The conversations: rooms and private conversations, their titles and unread badges, which
    /// one is open and whether I am in it.
    pub const CONVERSATIONS: Parts = Parts(1 << 2);
    /// Who is online, and how many.
    pub const PEOPLE: Parts = Parts(1 << 3);
    /// About me: my nickname, moderator or not, muted, banned, unsent messages, the title's count,
    /// a newer server.
    pub const ME: Parts = Parts(1 << 4);
    /// The search box's results.
    pub const SEARCH: Parts = Parts(1 << 5);
    pub const ALL: Parts = Parts((1 << Self::COUNT) - 1);
    /// How many parts there are.
    pub const COUNT: usize = 6;

    /// Whether any part is in the set.
    pub fn any(self) -> bool {
        self.0 != 0
    }

    /// Whether every part of `other` is in the set.
    pub fn contains(self, other: Parts) -> bool {
        self.0 & other.0 == other.0
    }

    /// The parts in the set, by index (`0..COUNT`).
    pub fn indices(self) -> impl Iterator<Item = usize> {
        (0..Self::COUNT).filter(move |i| self.0 & (1 << i) != 0)
    }

    /// `self` if `cond`, else nothing.
    pub fn when(self, cond: bool) -> Parts {
        if cond {
            self
        } else {
            Parts::NONE
        }
    }
}

impl BitOr for Parts {
    type Output = Parts;
    fn bitor(self, other: Parts) -> Parts {
        Parts(self.0 | other.0)
    }
}

impl BitOrAssign for Parts {
    fn bitor_assign(&mut self, other: Parts) {
        self.0 |= other.0;
    }
}

impl Chat {
    /// Applies one server frame at time `now_ms` and returns the parts of the page it changed.
    pub fn receive_frame(&mut self, msg: &ServerMsg, now_ms: f64) -> Parts {
        let parts = self.parts(msg);
        parts.when(self.apply(msg, now_ms))
    }

    /// The parts of the page `msg` may change, from the chat as it stands before it is applied.
    pub fn parts(&self, msg: &ServerMsg) -> Parts {
        use Parts as P;
        let c = &self.conversations;
        match msg {
            // Rare, and they change much: everything.
            ServerMsg::Welcome { .. }
            | ServerMsg::Joined { .. }
            | ServerMsg::Left { .. }
            | ServerMsg::Renamed { .. }
            | ServerMsg::Moderated { .. }
            | ServerMsg::Error {
                code: ErrorCode::Banned,
                client_id: None,
                ..
            } => P::ALL,
            ServerMsg::Results { .. } => P::SEARCH,
            // Pictures show in the online list and beside messages, both of which read PEOPLE.
            ServerMsg::Roster { .. } | ServerMsg::Avatar { .. } => P::PEOPLE,
            // A member's arrival or departure, noted in that room; a departure ends their typing.
            ServerMsg::Member { room, .. } => {
                P::PEOPLE | P::TYPING | lines_of(c, &View::Room(room.clone()))
            }
            // Noted in general.
            ServerMsg::Presence { .. } => P::PEOPLE | P::TYPING | lines_of(c, &View::general()),
            ServerMsg::Typing { room, .. } => P::TYPING.when(c.current_room() == Some(room)),
            // The open conversation's lines, or another's unread badge; a mention of me while
            // hidden counts in the title.
            // The sender stops typing; my own message settles (my unsent count); a mention of me
            // counts in the title while the tab is hidden.
            ServerMsg::Message(message) => {
                let view = View::Room(message.room.clone());
                let me = self.attention.hidden() || message.from == self.me;
                arrival(c, &view) | P::ME.when(me) | P::TYPING.when(c.is_open(&view))
            }
            ServerMsg::Dm(dm) => {
                let peer = if super::key(&dm.from) == super::key(&self.me) {
                    &dm.to
                } else {
                    &dm.from
                };
                // A first message from someone opens a conversation in the list.
                P::CONVERSATIONS | P::ME | lines_of(c, &View::Direct(peer.clone()))
            }
            ServerMsg::DmHistory { .. } => P::LINES | P::CONVERSATIONS | P::ME,
            // Messages as above, and the end of the "load older" offer.
            ServerMsg::History { room, .. } => {
                let view = View::Room(room.clone());
                lines_of(c, &view) | P::CONVERSATIONS | P::ME | P::TYPING.when(c.is_open(&view))
            }
            ServerMsg::Edited(change) | ServerMsg::Deleted(change) => {
                lines_of(c, &View::Room(change.room.clone()))
            }
            ServerMsg::Reacted(reaction) => lines_of(c, &View::Room(reaction.room.clone())),
            ServerMsg::DmReacted(reaction) => {
                let peer = if super::key(&reaction.by) == super::key(&self.me) {
                    &reaction.to
                } else {
                    &reaction.by
                };
                lines_of(c, &View::Direct(super::key(peer)))
            }
            ServerMsg::Lagged { room, .. } => lines_of(c, &View::Room(room.clone())),
            // My message settled (sent, or not with a notice) where it was written; the count of
            // unsent ones changes.
            ServerMsg::Ack { client_id, .. }
            | ServerMsg::Error {
                client_id: Some(client_id),
                ..
            } => {
                P::ME
                    | self
                        .outbox
                        .view_of(client_id)
                        .map_or(P::NONE, |view| lines_of(c, view))
            }
            // A notice in the open conversation, or a refused search.
            ServerMsg::Error { .. } => P::LINES | P::SEARCH.when(self.search.waiting()),
            // Another device of mine read somewhere: badges, and the "new messages" line.
            ServerMsg::Read { .. } => P::CONVERSATIONS | P::LINES,
            ServerMsg::AuditLog { .. } | ServerMsg::Blocked { .. } | ServerMsg::Unknown => P::NONE,
        }
    }
}

/// [`Parts::LINES`] if `view` is on screen.
fn lines_of(conversations: &Conversations, view: &View) -> Parts {
    Parts::LINES.when(conversations.is_open(view))
}

/// What a new message in `view` changes: the lines if it is on screen, else its badge.
fn arrival(conversations: &Conversations, view: &View) -> Parts {
    if conversations.is_open(view) {
        Parts::LINES
    } else {
        Parts::CONVERSATIONS
    }
}
