//! A welcomed connection's state, as one value: who it speaks for ([`Me`]), what it listens to
//! (every room of its session and its private inbox), and how far its client has been brought (a
//! [`Cursor`] per room, the last private message sent, the retry of a catch-up the store failed).
//!
//! The socket side ([`super::Connection`]) decides nothing about order: it asks this state whether
//! a frame is to be passed on, and what to read from the store. Keeping the bookkeeping here, away
//! from the socket, keeps it testable as plain data and keeps one `&mut` borrow per call.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use tokio_stream::{StreamExt as _, StreamMap};

use crate::protocol::ServerMsg;
use crate::server::hub::{ConnId, Hub, Inbox, Presence, Received, Subscription};
use crate::server::session::{Online, Person, SessionId};

/// The first wait before a failed catch-up is tried again.
const FIRST_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between tries.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// Who a welcomed connection speaks for. Holding it keeps the connection registered; dropping it
/// (however the task ends) unregisters it.
pub struct Me {
    pub person: Arc<Person>,
    /// The session (device) it speaks for.
    pub session: SessionId,
    /// The connection's place in the hub and among the session's connections.
    _presence: Presence,
    _online: Online,
}

impl Me {
    pub(super) fn new(
        person: Arc<Person>,
        session: SessionId,
        presence: Presence,
        online: Online,
    ) -> Self {
        Self {
            person,
            session,
            _presence: presence,
            _online: online,
        }
    }
}

/// Everything a welcomed connection holds, in one value.
pub struct Live {
    /// Keyed by a shared name: the map hands its key out with every delivery, and cloning an
    /// `Arc<str>` does not allocate.
    pub(super) rooms: StreamMap<Arc<str>, Subscription>,
    pub(super) inbox: Inbox,
    /// After the subscriptions (fields drop in order): the connection stops listening before it
    /// leaves presence, as it always has.
    pub me: Me,
    /// The room this connection last told it is typing in, if it still is.
    pub(super) typing: Option<Arc<str>>,
    /// When `typing: true` was last passed on.
    pub(super) typing_sent: Option<Instant>,
    /// Per room: how far the client has been brought.
    pub(super) cursors: Cursors,
    /// The highest private-message id sent to the client.
    pub(super) dm_delivered: u64,
    /// The store could not serve the private messages' catch-up: live ones wait for the retry.
    pub(super) dm_stale: bool,
    /// A catch-up failed and waits for its retry.
    retry_due: bool,
    /// How long the next retry waits (doubling, up to a limit).
    retry_backoff: Duration,
}

impl Live {
    /// A fresh connection's state: subscribed to `rooms`, with the client brought nowhere yet.
    pub(super) fn new(me: Me, rooms: StreamMap<Arc<str>, Subscription>, inbox: Inbox) -> Self {
        let mut cursors = Cursors::with_capacity(rooms.len());
        for room in rooms.keys() {
            cursors.insert(Arc::clone(room), Cursor::default());
        }
        Self {
            rooms,
            inbox,
            me,
            typing: None,
            typing_sent: None,
            cursors,
            dm_delivered: 0,
            dm_stale: false,
            retry_due: false,
            retry_backoff: FIRST_RETRY_BACKOFF,
        }
    }

    /// Whatever the rooms already have ready, without waiting: what a burst is made of.
    pub(super) fn ready(&mut self) -> Option<(Arc<str>, Received)> {
        self.rooms.next().now_or_never().flatten()
    }

    /// What `room` already has ready for this connection, without waiting.
    pub(super) fn ready_in(&mut self, room: &str) -> Option<Received> {
        let (_, subscription) = self.rooms.iter_mut().find(|(r, _)| &**r == room)?;
        subscription.next().now_or_never().flatten()
    }

    /// Starts listening to a room the session joined; its client has nothing of it yet.
    pub(super) fn subscribe(&mut self, subscription: Subscription) {
        let key = Arc::clone(subscription.room());
        self.rooms.insert(Arc::clone(&key), subscription);
        self.cursors.insert(key, Cursor::default());
    }

    /// Stops listening to `room`. Dropping the subscription frees the room here if nobody else
    /// listens.
    pub(super) fn unsubscribe(&mut self, room: &str) {
        self.rooms.remove(room);
        self.cursors.remove(room);
    }

    /// The rooms this connection listens to that are not among the session's `rooms` any more.
    pub(super) fn left(&self, rooms: &[String]) -> Vec<Arc<str>> {
        self.rooms
            .keys()
            .filter(|room| !rooms.iter().any(|r| r.as_str() == &***room))
            .cloned()
            .collect()
    }

    /// Tells the room this connection stopped typing in, if it had said it was typing.
    pub(super) fn stop_typing(&mut self, hub: &Hub, id: ConnId) {
        if let Some(room) = self.typing.take() {
            let stopped = ServerMsg::Typing {
                room: room.to_string(),
                nick: self.me.person.nick(),
                active: false,
            };
            hub.broadcast_everywhere(&room, id, &stopped);
        }
    }

    /// Whether a private message `id` is still to be passed on: the client does not have it, and
    /// the private messages do not wait for a catch-up.
    pub(super) fn wants_direct(&self, id: u64) -> bool {
        !self.dm_stale && id > self.dm_delivered
    }

    /// Counts private message `id` as sent if it follows the last one sent (its predecessor
    /// `prev` was passed on), and says whether it did; if not, the store has what comes between.
    pub(super) fn next_direct(&mut self, id: u64, prev: Option<u64>) -> bool {
        let follows = prev.is_none_or(|prev| prev <= self.dm_delivered);
        if follows {
            self.dm_delivered = id;
        }
        follows
    }

    /// Marks `room` stale after a failed read (at least `since` is the client's), and says whether
    /// it already was (the client was told then); `None` if the connection left the room.
    pub(super) fn room_went_stale(&mut self, room: &str, stale: Stale, since: u64) -> Option<bool> {
        let cursor = self.cursors.get_mut(room)?;
        let already = cursor.stale.is_some();
        cursor.delivered = cursor.delivered.max(since);
        cursor.stale = Some(match (cursor.stale, stale) {
            (Some(Stale::Latest), _) | (None, Stale::Latest) => Stale::Latest,
            _ => Stale::Missed,
        });
        self.retry_due = true;
        Some(already)
    }

    /// Marks the private messages stale after a failed read, and says whether they already were.
    pub(super) fn directs_went_stale(&mut self) -> bool {
        self.retry_due = true;
        std::mem::replace(&mut self.dm_stale, true)
    }

    /// The rooms waiting for a catch-up, and what each needs.
    pub(super) fn stale_rooms(&self) -> Vec<(Arc<str>, Stale)> {
        self.cursors
            .iter()
            .filter_map(|(room, c)| c.stale.map(|s| (Arc::clone(room), s)))
            .collect()
    }

    /// How long to wait before retrying, if a catch-up failed since the last call; each wait
    /// doubles the next, so a store that is down is not hammered.
    pub(super) fn retry_wait(&mut self) -> Option<Duration> {
        if !std::mem::take(&mut self.retry_due) {
            return None;
        }
        let wait = self.retry_backoff;
        self.retry_backoff = (self.retry_backoff * 2).min(MAX_RETRY_BACKOFF);
        Some(wait)
    }

    /// After a retry: if nothing failed again, the next failure starts from the shortest wait.
    pub(super) fn retried(&mut self) {
        if !self.retry_due {
            self.retry_backoff = FIRST_RETRY_BACKOFF;
        }
    }
}

/// What a stale room needs once the store answers again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Its latest page (the client had nothing of it).
    Latest,
    /// Everything after the cursor.
    Missed,
}

/// How far the client has been brought in one room.
#[derive(Debug, Default, Clone)]
pub struct Cursor {
    /// Every message up to this seq has been sent to the client (or acked to it), in order.
    pub(super) delivered: u64,
    /// The store could not serve this room's catch-up: nothing of it with a seq is passed on until
    /// a retry succeeds, so the client's position never moves past the hole.
    pub(super) stale: Option<Stale>,
    /// Own messages acked while the room was stale, above `delivered`: a later read from the store
    /// skips them (the client has their ack).
    pub(super) acked: BTreeSet<u64>,
}

impl Cursor {
    /// Whether a live frame with `seq` is to be passed on: not already sent, and the room not
    /// waiting for a catch-up.
    pub(super) fn takes(&self, seq: u64) -> bool {
        self.stale.is_none() && seq > self.delivered && !self.acked.contains(&seq)
    }

    /// Records that the client now has `seq`, and everything it had acked right after it.
    pub(super) fn advance(&mut self, seq: u64) {
        self.delivered = self.delivered.max(seq);
        while self.acked.remove(&(self.delivered + 1)) {
            self.delivered += 1;
        }
        self.acked.retain(|acked| *acked > self.delivered);
    }

    /// Records that the client was acked its own message `seq`: it is in the client's order if
    /// everything before it was sent; otherwise (the room waits for a catch-up) a later read from
    /// the store skips it.
    pub(super) fn ack(&mut self, seq: u64) {
        if self.stale.is_none() && self.delivered + 1 >= seq {
            self.advance(seq);
        } else if seq > self.delivered {
            self.acked.insert(seq);
        }
    }
}

/// The cursors of a connection's rooms: a few (at most the rooms a session may be in), so a list
/// searched in order, which costs less than a hash table for the one room most connections have.
#[derive(Debug, Default)]
pub struct Cursors(Vec<(Arc<str>, Cursor)>);

impl Cursors {
    fn with_capacity(rooms: usize) -> Self {
        Self(Vec::with_capacity(rooms))
    }

    pub(super) fn get(&self, room: &str) -> Option<&Cursor> {
        self.0.iter().find(|(r, _)| &**r == room).map(|(_, c)| c)
    }

    pub(super) fn get_mut(&mut self, room: &str) -> Option<&mut Cursor> {
        self.0
            .iter_mut()
            .find(|(r, _)| &**r == room)
            .map(|(_, c)| c)
    }

    fn insert(&mut self, room: Arc<str>, cursor: Cursor) {
        match self.get_mut(&room) {
            Some(existing) => *existing = cursor,
            None => self.0.push((room, cursor)),
        }
    }

    fn remove(&mut self, room: &str) {
        self.0.retain(|(r, _)| &**r != room);
    }

    fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Cursor)> {
        self.0.iter().map(|(r, c)| (r, c))
    }
}
