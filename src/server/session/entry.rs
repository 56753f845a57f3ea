//! One session as this server holds it ([`Session`]: its nickname, rooms, connection count and
//! rate-limit buckets, behind one lock, and the async lock that orders what its tabs do), and
//! [`Online`], the guard a connection holds while it counts as one of the session's connections.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::nick::Nick;
use super::token::Digest;
use super::{SessionId, Sessions};
use crate::protocol::{ErrorCode, FrameError, GENERAL};
use crate::server::limits::TokenBucket;

/// One session, shared by its connections and the cache.
#[derive(Debug)]
pub struct Session {
    pub id: SessionId,
    /// The token's SHA-256 in hex, as the store keys the session.
    pub token_hash: Arc<str>,
    pub(super) digest: Digest,
    pub(super) state: Mutex<State>,
    /// Serializes, per session: membership changes (store first, then every cache), a new
    /// connection's registration (which reads the rooms), renames and at-most-once sends. Async:
    /// it is held across the store's round trips; only this session's tabs ever wait on it.
    pub(super) order: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) nick: Nick,
    /// The rooms joined besides `general`, as the store has them.
    pub(super) rooms: BTreeSet<String>,
    pub(super) connections: usize,
    /// Until when this server knows the session holds its name's claim without asking the store.
    pub(super) claim_until: Option<Instant>,
    /// When it was last used without a connection (for the cache's idle eviction).
    pub(super) idle_since: Instant,
    /// Its latest private message's id, as the store said when this session was just read from it
    /// (taken by the first connection: see [`Session::take_fresh_directs`]).
    pub(super) fresh_directs: Option<u64>,
    pub(super) messages: TokenBucket,
    pub(super) typing: TokenBucket,
    pub(super) renames: TokenBucket,
    pub(super) standing: Standing,
    /// Its token no longer works (replaced, revoked, signed out): never cached again.
    pub(super) revoked: bool,
}

/// What the store says a session may do: its role, and the mute or ban on it. Read with the
/// session; kept current by whoever changes it (the server that does, and every other server
/// through the bus, which re-reads the session). The store decides again where it matters (a
/// moderator's action is checked in its transaction; a ban is read again before it refuses a
/// connection, so a ban lifted by `chinwag admin` holds at once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    pub moderator: bool,
    pub bot: bool,
    /// Where it last connected from, as the store has it.
    pub address: Option<String>,
    /// The end of its latest mute and ban (RFC 3339; possibly past).
    pub muted_until: Option<String>,
    pub banned_until: Option<String>,
}

impl Standing {
    /// Until when it is muted, if it is at `now`.
    pub fn muted_at(&self, now: &str) -> Option<&str> {
        self.muted_until.as_deref().filter(|until| *until > now)
    }

    /// Until when it is banned, if it is at `now`.
    pub fn banned_at(&self, now: &str) -> Option<&str> {
        self.banned_until.as_deref().filter(|until| *until > now)
    }
}

/// A connection of a session, counted until dropped: whatever ends the connection (a close, an
/// error, a panic, a cancelled task), the session's count goes down and, at zero, its name's hold
/// starts running out.
#[derive(Debug)]
pub struct Online {
    pub(super) sessions: Sessions,
    pub(super) session: Arc<Session>,
}

impl Drop for Online {
    fn drop(&mut self) {
        self.sessions.disconnected(&self.session);
    }
}

/// The refusal of a banned session (whatever it asked), lasting until `until`.
pub fn banned(until: &str) -> FrameError {
    FrameError::sanctioned(
        ErrorCode::Banned,
        until,
        format!("you are banned until {until}"),
    )
}

impl Session {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind, consistent enough to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The nickname as shown.
    pub fn nick(&self) -> String {
        self.lock().nick.display.clone()
    }

    /// The nickname's key (see [`nick`]).
    pub fn nick_key(&self) -> String {
        self.lock().nick.key.clone()
    }

    /// The rooms this session is in: `general` first, then the others by name.
    pub fn rooms(&self) -> Vec<String> {
        let state = self.lock();
        let mut rooms = Vec::with_capacity(state.rooms.len() + 1);
        rooms.push(GENERAL.to_owned());
        rooms.extend(state.rooms.iter().cloned());
        rooms
    }

    /// Whether this session is in `room`.
    pub fn is_member(&self, room: &str) -> bool {
        room == GENERAL || self.lock().rooms.contains(room)
    }

    /// How many rooms this session is in, `general` included.
    pub fn room_count(&self) -> usize {
        self.lock().rooms.len() + 1
    }

    /// Fails with `unknown_room` unless this session is in `room`: the one place that rule lives.
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

    /// Waits for this session's turn: see [`Session::order`].
    pub async fn in_order(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.order.lock().await
    }

    /// Records a room the store now has this session in. Only under [`Session::in_order`].
    pub fn add_room(&self, room: &str) {
        if room != GENERAL {
            self.lock().rooms.insert(room.to_owned());
        }
    }

    /// Records a room the store no longer has this session in. Only under [`Session::in_order`].
    pub fn remove_room(&self, room: &str) {
        self.lock().rooms.remove(room);
    }

    /// The latest private message id the store had for this session when it was read from the
    /// store for this connection, once (`None` if it came from the cache, or was taken). While
    /// nobody else on one server speaks for the session, no private message of it can be stored
    /// between that read and the connection's registration (nobody can send one to someone not
    /// online), so a returning tab that has it needs no read of its private messages.
    pub fn take_fresh_directs(&self) -> Option<u64> {
        self.lock().fresh_directs.take()
    }

    /// Its role and the mute or ban on it, as last read.
    pub fn standing(&self) -> Standing {
        self.lock().standing.clone()
    }

    /// Changes what is known of its standing (after this server changed it in the store).
    pub fn update_standing(&self, change: impl FnOnce(&mut Standing)) {
        change(&mut self.lock().standing);
    }

    /// Fails with `banned` or `muted` unless this session may post now: the one place that rule
    /// lives. (On every message: the clock is read only for a session ever muted or banned.)
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

    /// How many connections this session has on this server.
    pub fn connections(&self) -> usize {
        self.lock().connections
    }
}
