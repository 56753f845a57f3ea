//! One person as this server holds them ([`Person`]: their nickname, rooms, connection count and
//! rate-limit buckets, behind one lock, and the async lock that orders what their devices and tabs
//! do), and [`Online`], the guard a connection holds while it counts as one of theirs.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::nick::Nick;
use super::token::Digest;
use super::{PersonId, SessionId, Sessions};
use crate::protocol::{ErrorCode, FrameError, GENERAL};
use crate::server::limits::TokenBucket;

/// One person, shared by every connection of theirs (whichever session it speaks for) and the
/// cache.
#[derive(Debug)]
pub struct Person {
    pub id: PersonId,
    pub(super) state: Mutex<State>,
    /// Serializes, per person: membership changes (store first, then every cache), a new
    /// connection's registration (which reads the rooms), renames and at-most-once sends. Async:
    /// it is held across the store's round trips; only this person's connections ever wait on it.
    pub(super) order: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) nick: Nick,
    /// The rooms joined besides `general`, as the store has them.
    pub(super) rooms: BTreeSet<String>,
    /// Open connections here, of all their sessions.
    pub(super) connections: usize,
    /// Until when this server knows the person holds their name's claim without asking the store.
    pub(super) claim_until: Option<Instant>,
    /// When they were last used without a connection (for the cache's idle eviction).
    pub(super) idle_since: Instant,
    /// Their latest private message's id, as the store said when they were just read from it
    /// (taken by the first connection: see [`Person::take_fresh_directs`]).
    pub(super) fresh_directs: Option<u64>,
    pub(super) messages: TokenBucket,
    pub(super) typing: TokenBucket,
    pub(super) renames: TokenBucket,
    pub(super) standing: Standing,
}

/// What the store says a person may do: their role and credentials, and the mute or ban on them.
/// Read with the person; kept current by whoever changes it (the server that does, and every other
/// server through the bus, which re-reads the person). The store decides again where it matters
/// (a moderator's action is checked in its transaction; a ban is read again before it refuses a
/// connection, so a ban lifted by `chinwag admin` holds at once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    pub moderator: bool,
    pub bot: bool,
    /// Has a password or a passkey: their name is theirs for good.
    pub secured: bool,
    /// Where they last connected from, as the store has it.
    pub address: Option<String>,
    /// The end of their latest mute and ban (RFC 3339; possibly past).
    pub muted_until: Option<String>,
    pub banned_until: Option<String>,
}

impl Standing {
    /// Until when they are muted, if they are at `now`.
    pub fn muted_at(&self, now: &str) -> Option<&str> {
        self.muted_until.as_deref().filter(|until| *until > now)
    }

    /// Until when they are banned, if they are at `now`.
    pub fn banned_at(&self, now: &str) -> Option<&str> {
        self.banned_until.as_deref().filter(|until| *until > now)
    }
}

/// A connection of a person, through one of their sessions, counted until dropped: whatever ends
/// the connection (a close, an error, a panic, a cancelled task), the counts go down and, at zero,
/// the person's name's hold starts running out.
#[derive(Debug)]
pub struct Online {
    pub(super) sessions: Sessions,
    pub(super) person: Arc<Person>,
    pub(super) session: SessionId,
    pub(super) digest: Digest,
}

impl Drop for Online {
    fn drop(&mut self) {
        self.sessions
            .disconnected(&self.person, self.session, &self.digest);
    }
}

/// The refusal of a banned person (whatever they asked), lasting until `until`.
pub fn banned(until: &str) -> FrameError {
    FrameError::sanctioned(
        ErrorCode::Banned,
        until,
        format!("you are banned until {until}"),
    )
}

impl Person {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind, consistent enough to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The nickname as shown.
    pub fn nick(&self) -> String {
        self.lock().nick.display.clone()
    }

    /// The nickname's key (see [`super::nick`]).
    pub fn nick_key(&self) -> String {
        self.lock().nick.key.clone()
    }

    /// The rooms this person is in: `general` first, then the others by name.
    pub fn rooms(&self) -> Vec<String> {
        let state = self.lock();
        let mut rooms = Vec::with_capacity(state.rooms.len() + 1);
        rooms.push(GENERAL.to_owned());
        rooms.extend(state.rooms.iter().cloned());
        rooms
    }

    /// Whether this person is in `room`.
    pub fn is_member(&self, room: &str) -> bool {
        room == GENERAL || self.lock().rooms.contains(room)
    }

    /// How many rooms this person is in, `general` included.
    pub fn room_count(&self) -> usize {
        self.lock().rooms.len() + 1
    }

    /// Fails with `unknown_room` unless this person is in `room`: the one place that rule lives.
    pub fn ensure_member(&self, room: &str) -> Result<(), FrameError> {
        if self.is_member(room) {
            Ok(())
        } else {
            Err(FrameError::new(
                ErrorCode::UnknownRoom,
                format!("you are not in the room {room:?}; join it first"),
            ))
        }
    }

    /// Waits for this person's turn: see [`Person::order`].
    pub async fn in_order(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.order.lock().await
    }

    /// Records a room the store now has this person in. Only under [`Person::in_order`].
    pub fn add_room(&self, room: &str) {
        if room != GENERAL {
            self.lock().rooms.insert(room.to_owned());
        }
    }

    /// Records a room the store no longer has this person in. Only under [`Person::in_order`].
    pub fn remove_room(&self, room: &str) {
        self.lock().rooms.remove(room);
    }

    /// The latest private message id the store had for this person when they were read from the
    /// store for this connection, once (`None` if they came from the cache, or it was taken).
    /// While nobody else on one server speaks for the person, no private message of theirs can be
    /// stored between that read and the connection's registration (nobody can send one to someone
    /// not online), so a returning tab that has it needs no read of their private messages.
    pub fn take_fresh_directs(&self) -> Option<u64> {
        self.lock().fresh_directs.take()
    }

    /// Their role, credentials and the mute or ban on them, as last read.
    pub fn standing(&self) -> Standing {
        self.lock().standing.clone()
    }

    /// Changes what is known of their standing (after this server changed it in the store).
    pub fn update_standing(&self, change: impl FnOnce(&mut Standing)) {
        change(&mut self.lock().standing);
    }

    /// Fails with `banned` or `muted` unless this person may post now: the one place that rule
    /// lives. (On every message: the clock is read only for someone ever muted or banned.)
    pub fn ensure_may_post(&self) -> Result<(), FrameError> {
        let state = self.lock();
        if state.standing.banned_until.is_none() && state.standing.muted_until.is_none() {
            return Ok(());
        }
        let now = crate::server::clock::now_rfc3339();
        if let Some(until) = state.standing.banned_at(&now) {
            return Err(banned(until));
        }
        if let Some(until) = state.standing.muted_at(&now) {
            return Err(FrameError::sanctioned(
                ErrorCode::Muted,
                until,
                format!("you are muted until {until}: you can read, not post"),
            ));
        }
        Ok(())
    }

    /// How many connections this person has on this server.
    pub fn connections(&self) -> usize {
        self.lock().connections
    }
}
