//! The broadcast hub: the shared state every connection publishes to and listens on.
//!
//! A [`Hub`] is a cheap-to-clone handle; the rooms live behind it. Each room owns a bounded
//! [`broadcast`] channel of [`Delivery`]s and a queue of messages waiting to be stored.
//!
//! # Group commit
//! [`Hub::publish`] queues a message on its room. One committer per room at a time takes everything
//! queued, has the [`Committer`] (the store) commit it in one transaction, which assigns consecutive
//! `seq`s, then puts the messages on the channel in that order and answers each publisher. So the order
//! on the channel is commit order (no reader ever sees seq 18 before seq 17), a message is delivered
//! and acked only once stored, and a busy room pays one commit per batch instead of one per message.
//!
//! # Serialize once
//! A published message is turned into its JSON `message` frame once, here; every subscriber gets a
//! clone of the same reference-counted bytes, so a fan-out to N connections costs one serialization.
//!
//! # Slow subscribers
//! The channel is a ring of [`HubConfig::room_capacity`] frames. A connection that falls more than that
//! far behind does not hold anyone back: the ring moves on, and its next [`Subscription::recv`]
//! returns [`Received::Lagged`] with how many frames it missed. The connection then tells its client
//! (`lagged`), which knows it has a gap. Nobody is stalled by a slow reader and nobody is dropped
//! without a word.
//!
//! # People
//! Besides rooms the hub knows who is online: each session with its rooms and open connections, each
//! connection with a bounded inbox for what is meant for it alone (private messages, and the news
//! that its session joined or left a room, so every tab follows). A person comes online with
//! their first connection and goes offline [`HubConfig::leave_grace`] after their last one closed, so
//! a reload or a second tab never announces a leave and a join. An inbox that is full when a private
//! message arrives counts the miss, and the connection reports it like a room lag.
//!
//! # Growing it
//! Rooms are created on demand by name. A cross-node bus plugs in at [`Hub::publish`]: frames arriving from other
//! nodes are fed in as [`Delivery`]s; subscribers do not change.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures::future::BoxFuture;
use time::OffsetDateTime;
use tokio::sync::{broadcast, oneshot, Notify};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt as _};

use crate::metrics::Metrics;
use crate::protocol::{ChatMessage, DirectMessage, ErrorCode, FrameError, ServerMsg, GENERAL};
use crate::roster::Rosters;
use crate::session::SessionId;
use crate::store::NewMessage;

/// Identifies one websocket connection, so a subscriber can skip its own messages (no echo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

impl ConnId {
    /// The number, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The origin of frames the server makes itself (presence, renames): no connection skips them.
const SERVER: ConnId = ConnId(0);

/// Tunables of the hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How many frames a room's ring holds: how far a subscriber may fall behind before it lags.
    /// 1024 frames is about 5 seconds of a very busy room; a healthy browser is never that far behind.
    pub room_capacity: usize,
    /// How many private frames a connection's inbox holds before further ones are counted as missed.
    pub inbox_capacity: usize,
    /// How long after someone's last connection closed they are announced as gone. Long enough for a
    /// reload or a brief network blip, short enough that the online list stays honest.
    pub leave_grace: Duration,
    /// How many people online make a room a crowd: lists stop at this many names and comings and
    /// goings are summed up in `roster` frames instead of announced one by one (see [`crate::roster`]).
    /// 100 names already fill several screens of a sidebar, and the `welcome` every newcomer gets
    /// stays around 2 KB.
    pub crowd: usize,
    /// How often a crowd's `roster` frame goes out at most.
    pub roster_every: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            room_capacity: 1024,
            inbox_capacity: 256,
            leave_grace: Duration::from_secs(3),
            crowd: 100,
            roster_every: Duration::from_secs(1),
        }
    }
}

/// One frame on its way to a room's subscribers.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The connection that caused it; that connection does not receive it (no echo).
    pub origin: ConnId,
    /// The message's `seq`, for stored messages: a reader that caught up from the store skips what it
    /// already has.
    pub seq: Option<u64>,
    /// The complete frame, serialized once and shared.
    pub frame: Utf8Bytes,
}

/// The shared hub handle. Cloning is cheap; every clone is the same hub.
#[derive(Debug, Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

struct Shared {
    config: HubConfig,
    committer: Committer,
    /// The server's metrics: the hub is the one handle every part holds.
    metrics: Metrics,
    /// Room name → room. A std mutex: it is held only to look up or insert, never across `.await`.
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    /// Who is online. A std mutex, held only for map updates, never across `.await`; frames are sent
    /// after it is released.
    people: Mutex<People>,
    /// Source of fresh connection ids.
    next_conn: AtomicU64,
    /// Held across a private message's commit and its delivery, so every connection receives
    /// private messages in id order (and a reconnect's `dm_since` never skips one).
    direct_writer: tokio::sync::Mutex<()>,
}

/// Who is online: each person, and each room's sorted list.
#[derive(Debug, Default)]
struct People {
    persons: HashMap<SessionId, Person>,
    rosters: Rosters,
}

/// Someone online (or within the leave grace).
#[derive(Debug)]
struct Person {
    nick: String,
    /// The rooms they are in, `general` included.
    rooms: BTreeSet<String>,
    /// Each open connection's inbox.
    connections: HashMap<ConnId, Arc<Mailbox>>,
    /// Bumped on every connect, so a pending leave can tell that the person came back meanwhile.
    epoch: u64,
}

/// Frames to send once the people lock is released, and rooms whose crowd summary to schedule.
#[derive(Debug, Default)]
struct Announce {
    frames: Vec<(String, ServerMsg)>,
    summaries: Vec<String>,
}

impl Announce {
    /// How `room`, `size` people at its largest around a change, hears of it: `frame` if the room
    /// is no crowd (at most `crowd`), otherwise the room's next `roster` summary.
    fn tell(
        &mut self,
        rosters: &mut Rosters,
        crowd: usize,
        room: String,
        size: usize,
        frame: ServerMsg,
    ) {
        if size <= crowd {
            self.frames.push((room, frame));
        } else if rosters.mark_pending(&room) {
            self.summaries.push(room);
        }
    }
}

/// What arrives in a connection's inbox.
#[derive(Debug, Clone)]
pub enum Private {
    /// A private message (`dm` frame) with its id.
    Dm { id: u64, frame: Utf8Bytes },
    /// The session joined or left a room on another connection: the connection re-reads its
    /// session's rooms and follows.
    RoomsChanged,
}

/// The shared half of a connection's inbox: a bounded queue the hub pushes to without waiting.
///
/// Built on [`Notify`] rather than a tokio `mpsc` channel because it costs nothing until something
/// arrives: a channel allocates its first block of slots and its padded state up front, about
/// 1.8 KiB for every connection, and nearly every connection's inbox stays empty (issue 6).
#[derive(Debug)]
struct Mailbox {
    queue: Mutex<VecDeque<Private>>,
    ready: Notify,
    /// Items that did not fit; the connection reports them.
    missed: AtomicU64,
    capacity: usize,
}

impl Mailbox {
    /// Queues `item`, or counts it as missed if the inbox is full.
    fn push(&self, item: Private) {
        {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.len() >= self.capacity {
                self.missed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            queue.push_back(item);
        }
        // Stores a permit if the connection is not waiting right now, so no wake-up is lost.
        self.ready.notify_one();
    }

    fn pop(&self) -> Option<Private> {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }
}

/// A connection's private inbox.
#[derive(Debug)]
pub struct Inbox {
    mailbox: Arc<Mailbox>,
}

impl Inbox {
    /// The next private item. Cancel-safe: an item is taken only when it is returned. Pends
    /// forever once the hub has forgotten the connection.
    pub async fn recv(&mut self) -> Private {
        loop {
            if let Some(item) = self.mailbox.pop() {
                return item;
            }
            self.mailbox.ready.notified().await;
        }
    }

    /// The next private item if one is waiting.
    pub fn try_recv(&mut self) -> Option<Private> {
        self.mailbox.pop()
    }

    /// How many items were dropped because the inbox was full since the last call.
    pub fn take_missed(&self) -> u64 {
        self.mailbox.missed.swap(0, Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct Room {
    name: String,
    tx: broadcast::Sender<Delivery>,
    /// Messages waiting to be committed, and whether a committer is at work. Frames without a seq
    /// (typing, presence) skip it.
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    waiting: Vec<Queued>,
    committing: bool,
}

#[derive(Debug)]
struct Queued {
    draft: NewMessage,
    origin: ConnId,
    reply: oneshot::Sender<Result<ChatMessage, String>>,
}

/// Most messages one commit takes; more wait for the next.
const MAX_BATCH: usize = 256;

/// Stores a batch of one room's messages in one transaction and returns them with their seqs, in
/// order; all or nothing. The server's is the store's [`crate::store::Store::append_batch`].
pub type Committer = Arc<
    dyn Fn(String, Vec<NewMessage>) -> BoxFuture<'static, Result<Vec<ChatMessage>, String>>
        + Send
        + Sync,
>;

impl Hub {
    /// A hub whose room messages are stored by `committer`.
    pub fn new(config: HubConfig, committer: Committer) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                committer,
                metrics: Metrics::new(),
                rooms: Mutex::new(HashMap::new()),
                people: Mutex::new(People::default()),
                next_conn: AtomicU64::new(1),
                direct_writer: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// A fresh id for a new connection.
    pub fn connection_id(&self) -> ConnId {
        ConnId(self.shared.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// The room called `name`, created empty if it does not exist yet.
    fn room(&self, name: &str) -> Arc<Room> {
        let mut rooms = self
            .shared
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(room) = rooms.get(name) {
            return Arc::clone(room);
        }
        let (tx, _) = broadcast::channel(self.shared.config.room_capacity);
        let room = Arc::new(Room {
            name: name.to_owned(),
            tx,
            queue: Mutex::new(Queue::default()),
        });
        rooms.insert(name.to_owned(), Arc::clone(&room));
        room
    }

    /// Starts listening to `room` on behalf of connection `conn`. Only messages published after this
    /// call are received.
    pub fn subscribe(&self, room: &str, conn: ConnId) -> Subscription {
        let room = self.room(room);
        Subscription {
            room: room.name.clone(),
            conn,
            rx: BroadcastStream::new(room.tx.subscribe()),
        }
    }

    /// Stores `draft` in `room` (group commit, see the module docs) and delivers it to every
    /// subscriber of the room except `origin`, in commit order. Returns the stored message, or why it
    /// could not be stored, in which case nothing is delivered.
    pub async fn publish(
        &self,
        room: &str,
        origin: ConnId,
        draft: NewMessage,
    ) -> Result<ChatMessage, String> {
        let room = self.room(room);
        let (reply, stored) = oneshot::channel();
        let lead = {
            let mut queue = room.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.waiting.push(Queued {
                draft,
                origin,
                reply,
            });
            !std::mem::replace(&mut queue.committing, true)
        };
        if lead {
            // A task of its own: a publisher whose connection goes away must not strand the queue.
            let hub = self.clone();
            tokio::spawn(async move { hub.commit_queued(room).await });
        }
        stored
            .await
            .unwrap_or_else(|_| Err("the commit was abandoned".to_owned()))
    }

    /// Commits what is queued on `room`, batch after batch, until the queue is empty.
    async fn commit_queued(&self, room: Arc<Room>) {
        loop {
            let batch: Vec<Queued> = {
                let mut queue = room.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.waiting.is_empty() {
                    queue.committing = false;
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            let (drafts, waiters): (Vec<NewMessage>, Vec<_>) = batch
                .into_iter()
                .map(|q| (q.draft, (q.origin, q.reply)))
                .unzip();
            let started = std::time::Instant::now();
            let result = (self.shared.committer)(room.name.clone(), drafts).await;
            self.metrics().store_commit(started.elapsed().as_secs_f64());
            match result {
                Ok(stored) if stored.len() == waiters.len() => {
                    for (message, (origin, reply)) in stored.into_iter().zip(waiters) {
                        let frame = Utf8Bytes::from(ServerMsg::Message(message.clone()).to_json());
                        // An error only means nobody is listening right now, which is not a failure.
                        let _ = room.tx.send(Delivery {
                            origin,
                            seq: Some(message.seq),
                            frame,
                        });
                        let _ = reply.send(Ok(message));
                    }
                }
                Ok(_) => {
                    for (_, reply) in waiters {
                        let _ = reply.send(Err("the store answered a batch wrongly".to_owned()));
                    }
                }
                Err(err) => {
                    for (_, reply) in waiters {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
            }
        }
    }

    /// Sends a frame without a `seq` (typing, presence, renames) to every subscriber of `room`
    /// except `origin`.
    pub fn broadcast(&self, room: &str, origin: ConnId, msg: &ServerMsg) {
        let room = self.room(room);
        let frame = Utf8Bytes::from(msg.to_json());
        let _ = room.tx.send(Delivery {
            origin,
            seq: None,
            frame,
        });
    }

    fn people(&self) -> MutexGuard<'_, People> {
        self.shared
            .people
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers connection `conn` of `session` (called `nick`, in `rooms`). Announces the person as
    /// online if this is their first connection. Returns the connection's inbox.
    pub fn connect(&self, session: SessionId, nick: &str, rooms: &[String], conn: ConnId) -> Inbox {
        let mailbox = Arc::new(Mailbox {
            queue: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            missed: AtomicU64::new(0),
            capacity: self.shared.config.inbox_capacity,
        });
        let announce = {
            let mut people = self.people();
            let People { persons, rosters } = &mut *people;
            let newcomer = !persons.contains_key(&session);
            let person = persons.entry(session).or_insert_with(|| Person {
                nick: nick.to_owned(),
                rooms: BTreeSet::new(),
                connections: HashMap::new(),
                epoch: 0,
            });
            let mut now_in: BTreeSet<String> = rooms.iter().cloned().collect();
            now_in.insert(GENERAL.to_owned());
            for gone in person.rooms.difference(&now_in) {
                rosters.remove(gone, session, &person.nick);
            }
            let mut sizes = Vec::new();
            for room in &now_in {
                let size = rosters.add(room, session, &person.nick);
                if !person.rooms.contains(room) {
                    sizes.push((room.clone(), size));
                }
            }
            person.rooms = now_in;
            person.epoch += 1;
            person.connections.insert(conn, Arc::clone(&mailbox));
            let nick = person.nick.clone();
            newcomer.then(|| self.plan_presence(rosters, nick, true, sizes))
        };
        if let Some(announce) = announce {
            self.announce(announce);
        }
        Inbox { mailbox }
    }

    /// Decides how the rooms of someone who came online (`online`) or went offline hear of it,
    /// given each room's size at its largest around the change: one `presence` in `general` if that
    /// is no crowd; otherwise a `roster` summary for each crowd and a `presence` in each other room.
    fn plan_presence(
        &self,
        rosters: &mut Rosters,
        nick: String,
        online: bool,
        sizes: Vec<(String, usize)>,
    ) -> Announce {
        let crowd = self.shared.config.crowd;
        let rooms: Vec<String> = sizes
            .iter()
            .filter(|(room, _)| room != GENERAL)
            .map(|(room, _)| room.clone())
            .collect();
        let general_fits = sizes
            .iter()
            .find(|(room, _)| room == GENERAL)
            .is_none_or(|(_, size)| *size <= crowd);
        let mut announce = Announce::default();
        let presence = ServerMsg::Presence {
            nick,
            online,
            rooms: if online { rooms } else { Vec::new() },
        };
        if general_fits {
            announce.frames.push((GENERAL.to_owned(), presence));
            return announce;
        }
        for (room, size) in sizes {
            announce.tell(rosters, crowd, room, size, presence.clone());
        }
        announce
    }

    /// Sends what [`Hub::plan_presence`] or [`Hub::membership`] decided, after the lock is released.
    fn announce(&self, announce: Announce) {
        for (room, frame) in &announce.frames {
            self.broadcast(room, SERVER, frame);
        }
        for room in announce.summaries {
            let hub = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(hub.shared.config.roster_every).await;
                let (count, members) = hub
                    .people()
                    .rosters
                    .take_pending(&room, hub.shared.config.crowd);
                let roster = ServerMsg::Roster {
                    room: room.clone(),
                    count,
                    members,
                };
                hub.broadcast(&room, SERVER, &roster);
            });
        }
    }

    /// Records that `session` joined (`joined`) or left `room`: its members are told, if the person
    /// is online, and the session's connections other than `origin` follow.
    pub fn membership(&self, session: SessionId, room: &str, joined: bool, origin: ConnId) {
        let announce = {
            let mut people = self.people();
            let People { persons, rosters } = &mut *people;
            let Some(person) = persons.get_mut(&session) else {
                return;
            };
            let changed = if joined {
                person.rooms.insert(room.to_owned())
            } else {
                person.rooms.remove(room)
            };
            for (conn, inbox) in &person.connections {
                // If it does not fit, the connection reconciles its rooms when it reports the miss.
                if *conn != origin {
                    inbox.push(Private::RoomsChanged);
                }
            }
            let size = match (changed, joined) {
                (false, _) => rosters.count(room),
                (true, true) => rosters.add(room, session, &person.nick),
                (true, false) => rosters.remove(room, session, &person.nick),
            };
            let member = ServerMsg::Member {
                room: room.to_owned(),
                nick: person.nick.clone(),
                joined,
            };
            let mut announce = Announce::default();
            announce.tell(
                rosters,
                self.shared.config.crowd,
                room.to_owned(),
                size,
                member,
            );
            announce
        };
        self.announce(announce);
    }

    /// Who of `room` is online, sorted case-insensitively; in a crowd, only the first
    /// [`HubConfig::crowd`] of them.
    pub fn members(&self, room: &str) -> Vec<String> {
        self.people().rosters.list(room, self.shared.config.crowd)
    }

    /// Who of `room` is online, as [`Hub::members`], and how many in all if that list was cut
    /// short (a crowd). Both are read under one lock, so the count always belongs to the list.
    pub fn listing(&self, room: &str) -> (Vec<String>, Option<usize>) {
        let people = self.people();
        let list = people.rosters.list(room, self.shared.config.crowd);
        let count = people.rosters.count(room);
        let cut = (list.len() < count).then_some(count);
        (list, cut)
    }

    /// Forgets connection `conn` of `session`. If it was the person's last one, they are announced as
    /// gone after the leave grace, unless they came back meanwhile.
    pub fn disconnect(&self, session: SessionId, conn: ConnId) {
        let epoch = {
            let mut people = self.people();
            let Some(person) = people.persons.get_mut(&session) else {
                return;
            };
            person.connections.remove(&conn);
            if !person.connections.is_empty() {
                return;
            }
            person.epoch
        };
        let hub = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(hub.shared.config.leave_grace).await;
            let announce = {
                let mut people = hub.people();
                let People { persons, rosters } = &mut *people;
                match persons.get(&session) {
                    Some(p) if p.connections.is_empty() && p.epoch == epoch => {
                        persons.remove(&session).map(|p| {
                            let sizes = p
                                .rooms
                                .iter()
                                .map(|room| (room.clone(), rosters.remove(room, session, &p.nick)))
                                .collect();
                            hub.plan_presence(rosters, p.nick, false, sizes)
                        })
                    }
                    _ => None,
                }
            };
            if let Some(announce) = announce {
                hub.announce(announce);
            }
        });
    }

    /// Everyone online, sorted case-insensitively; in a crowd, only the first [`HubConfig::crowd`].
    pub fn online(&self) -> Vec<String> {
        self.members(GENERAL)
    }

    /// Records that `session` is now called `to` and tells everyone.
    pub fn rename(&self, session: SessionId, from: &str, to: &str) {
        {
            let mut people = self.people();
            let People { persons, rosters } = &mut *people;
            if let Some(person) = persons.get_mut(&session) {
                for room in &person.rooms {
                    rosters.remove(room, session, &person.nick);
                    rosters.add(room, session, to);
                }
                person.nick = to.to_owned();
            }
        }
        let renamed = ServerMsg::Renamed {
            from: from.to_owned(),
            to: to.to_owned(),
        };
        self.broadcast(GENERAL, SERVER, &renamed);
    }

    /// The session and nickname (as they spell it) of the online person called `nick`,
    /// case-insensitively. Fails with `unknown_user` if nobody online is called that.
    pub fn find_online(&self, nick: &str) -> Result<(SessionId, String), FrameError> {
        let wanted = nick.trim().to_lowercase();
        self.people()
            .persons
            .iter()
            .find(|(_, p)| !p.connections.is_empty() && p.nick.to_lowercase() == wanted)
            .map(|(id, p)| (*id, p.nick.clone()))
            .ok_or_else(|| {
                FrameError::new(ErrorCode::UnknownUser, format!("{nick:?} is not online"))
            })
    }

    /// Stores a private message with `commit` (which assigns its id) and delivers it to every
    /// connection of session `recipient` and to the sender's other connections (not `origin`), in
    /// id order. Someone who went offline meanwhile just does not get it live (it is stored).
    pub async fn direct_with<E>(
        &self,
        from: SessionId,
        origin: ConnId,
        recipient: SessionId,
        commit: impl Future<Output = Result<DirectMessage, E>>,
    ) -> Result<DirectMessage, E> {
        let _writer = self.shared.direct_writer.lock().await;
        let started = std::time::Instant::now();
        let dm = commit.await?;
        self.metrics().store_commit(started.elapsed().as_secs_f64());
        let frame = Utf8Bytes::from(ServerMsg::Dm(dm.clone()).to_json());
        let people = self.people();
        let mut targets: Vec<&Mailbox> = Vec::new();
        for id in [recipient, from] {
            if let Some(person) = people.persons.get(&id) {
                targets.extend(
                    person
                        .connections
                        .iter()
                        .filter(|(conn, _)| **conn != origin)
                        .map(|(_, inbox)| &**inbox),
                );
            }
            if recipient == from {
                break;
            }
        }
        for inbox in targets {
            let private = Private::Dm {
                id: dm.id,
                frame: frame.clone(),
            };
            inbox.push(private);
        }
        Ok(dm)
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub that keeps room messages in memory only, numbering them per room (for tests).
    pub fn in_memory(config: HubConfig) -> Self {
        let seqs: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let committer: Committer = Arc::new(move |room: String, drafts: Vec<NewMessage>| {
            let seqs = Arc::clone(&seqs);
            Box::pin(async move {
                // Yield, as a real store would, to invite interleaving.
                tokio::task::yield_now().await;
                let mut seqs = seqs.lock().unwrap_or_else(PoisonError::into_inner);
                let last = seqs.entry(room.clone()).or_insert(0);
                Ok(drafts
                    .into_iter()
                    .map(|d| {
                        *last += 1;
                        ChatMessage {
                            room: room.clone(),
                            seq: *last,
                            from: d.from,
                            text: d.text,
                            at: d.at,
                            client_id: d.client_id,
                            action: d.action,
                        }
                    })
                    .collect())
            })
        });
        Self::new(config, committer)
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::in_memory(HubConfig::default())
    }
}

/// One connection's view of one room: a stream of what others publish there.
#[derive(Debug)]
pub struct Subscription {
    room: String,
    conn: ConnId,
    rx: BroadcastStream<Delivery>,
}

/// What [`Subscription::recv`] yields.
#[derive(Debug, Clone)]
pub enum Received {
    /// The next message from someone else.
    Frame(Delivery),
    /// This subscriber fell behind and `missed` messages were skipped; the next `recv` goes on with
    /// the oldest message still in the ring.
    Lagged { missed: u64 },
}

impl Subscription {
    /// The room this subscription listens to.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// Waits for the next message from another connection. Cancel-safe, so it can sit in a
    /// `select!`. Never ends: rooms outlive their subscribers.
    pub async fn recv(&mut self) -> Received {
        match self.next().await {
            Some(received) => received,
            None => std::future::pending().await,
        }
    }
}

impl Stream for Subscription {
    type Item = Received;

    /// The next message from another connection (own ones are skipped: no echo). A connection
    /// listens to all its rooms at once through a `StreamMap` of these.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Received>> {
        loop {
            return match Pin::new(&mut self.rx).poll_next(cx) {
                Poll::Ready(Some(Ok(delivery))) if delivery.origin == self.conn => continue,
                Poll::Ready(Some(Ok(delivery))) => Poll::Ready(Some(Received::Frame(delivery))),
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(missed)))) => {
                    Poll::Ready(Some(Received::Lagged { missed }))
                }
                // The room's sender lives as long as the hub, which outlives every subscription.
                Poll::Ready(None) => Poll::Pending,
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

/// The current time as RFC 3339 UTC with millisecond precision, e.g. `2026-11-25T22:10:56.123Z`.
pub fn now_rfc3339() -> String {
    // Written by hand rather than with `Rfc3339`, which trims trailing zeros: a fixed width sorts
    // and compares as text.
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Sessions;

    fn frame_of(received: Received) -> ChatMessage {
        match received {
            Received::Frame(d) => match ServerMsg::parse(d.frame.as_str()) {
                Ok(ServerMsg::Message(m)) => m,
                other => panic!("not a message frame: {other:?}"),
            },
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    fn draft(from: &str, text: &str) -> NewMessage {
        NewMessage {
            from: from.into(),
            text: text.into(),
            at: now_rfc3339(),
            client_id: Some(format!("c-{text}")),
            action: false,
            session_hash: None,
        }
    }

    async fn post(hub: &Hub, origin: ConnId, from: &str, text: &str) -> u64 {
        match hub.publish(GENERAL, origin, draft(from, text)).await {
            Ok(message) => message.seq,
            Err(err) => panic!("in-memory commits do not fail: {err}"),
        }
    }

    #[tokio::test]
    async fn others_receive_the_sender_does_not() {
        let hub = Hub::default();
        let (alice, bob) = (hub.connection_id(), hub.connection_id());
        let mut alice_sub = hub.subscribe(GENERAL, alice);
        let mut bob_sub = hub.subscribe(GENERAL, bob);

        assert_eq!(post(&hub, alice, "alice", "hi").await, 1);
        let got = frame_of(bob_sub.recv().await);
        assert_eq!((got.from.as_str(), got.text.as_str()), ("alice", "hi"));
        assert_eq!(got.client_id.as_deref(), Some("c-hi"));

        post(&hub, bob, "bob", "hello").await;
        let got = frame_of(alice_sub.recv().await);
        assert_eq!((got.seq, got.from.as_str()), (2, "bob"));
    }

    #[tokio::test]
    async fn a_failed_commit_delivers_nothing_and_tells_every_publisher() {
        let failing: Committer =
            Arc::new(|_, _| Box::pin(async { Err::<Vec<ChatMessage>, _>("disk full".to_owned()) }));
        let hub = Hub::new(HubConfig::default(), failing);
        let (writer, reader) = (hub.connection_id(), hub.connection_id());
        let mut sub = hub.subscribe(GENERAL, reader);
        let failed = hub.publish(GENERAL, writer, draft("w", "x")).await;
        assert_eq!(failed, Err("disk full".to_owned()));
        assert!(next_frame(&mut sub).is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_publishers_are_committed_in_batches_and_delivered_in_commit_order() {
        let batches = Arc::new(AtomicU64::new(0));
        let inner = Hub::in_memory(HubConfig::default());
        let counting: Committer = {
            let batches = Arc::clone(&batches);
            let inner = Arc::clone(&inner.shared.committer);
            Arc::new(move |room, drafts| {
                batches.fetch_add(1, Ordering::Relaxed);
                inner(room, drafts)
            })
        };
        let hub = Hub::new(HubConfig::default(), counting);
        let reader = hub.connection_id();
        let mut sub = hub.subscribe(GENERAL, reader);
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let hub = hub.clone();
                tokio::spawn(async move {
                    let me = hub.connection_id();
                    let mut seqs = Vec::new();
                    for i in 0..100 {
                        seqs.push(post(&hub, me, "w", &format!("{w}-{i}")).await);
                    }
                    seqs
                })
            })
            .collect();
        let mut acked = Vec::new();
        for writer in writers {
            let seqs = writer.await.expect("writer task");
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "each writer's acks grow"
            );
            acked.extend(seqs);
        }
        acked.sort_unstable();
        assert_eq!(acked, (1..=800).collect::<Vec<_>>(), "gap-free, each once");
        for expected in 1..=800 {
            assert_eq!(frame_of(sub.recv().await).seq, expected);
        }
        let batches = batches.load(Ordering::Relaxed);
        assert!(
            batches < 800,
            "concurrent messages share commits ({batches} for 800)"
        );
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_how_much_it_missed_and_others_are_not_held_back() {
        let hub = Hub::in_memory(HubConfig {
            room_capacity: 8,
            ..HubConfig::default()
        });
        let (writer, slow, fast) = (
            hub.connection_id(),
            hub.connection_id(),
            hub.connection_id(),
        );
        let mut slow_sub = hub.subscribe(GENERAL, slow);
        let mut fast_sub = hub.subscribe(GENERAL, fast);
        for i in 1..=20u64 {
            post(&hub, writer, "w", &i.to_string()).await;
            // The fast reader keeps up: every publish is read at once.
            assert_eq!(frame_of(fast_sub.recv().await).seq, i);
        }
        match slow_sub.recv().await {
            Received::Lagged { missed } => assert_eq!(missed, 12),
            other => panic!("expected lag, got {other:?}"),
        }
        // Then it goes on with what the ring still holds, in order.
        for seq in 13..=20 {
            assert_eq!(frame_of(slow_sub.recv().await).seq, seq);
        }
    }

    fn next_frame(sub: &mut Subscription) -> Option<ServerMsg> {
        let mut next = std::pin::pin!(sub.recv());
        let waker = std::task::Waker::noop();
        match next
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
        {
            std::task::Poll::Ready(Received::Frame(d)) => ServerMsg::parse(d.frame.as_str()).ok(),
            _ => None,
        }
    }

    fn presence(nick: &str, online: bool) -> Option<ServerMsg> {
        Some(ServerMsg::Presence {
            nick: nick.into(),
            online,
            rooms: vec![],
        })
    }

    fn rooms(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn frame_text(private: Private) -> String {
        match private {
            Private::Dm { frame, .. } => frame.as_str().to_owned(),
            Private::RoomsChanged => "rooms changed".to_owned(),
        }
    }

    fn stand_in_dm(id: u64) -> DirectMessage {
        DirectMessage {
            id,
            from: "alice".into(),
            to: "Bob".into(),
            text: "psst".into(),
            at: now_rfc3339(),
            client_id: None,
            action: false,
        }
    }

    async fn send_dm(hub: &Hub, from: SessionId, origin: ConnId, to: SessionId, id: u64) -> String {
        let dm = stand_in_dm(id);
        let sent = hub
            .direct_with(from, origin, to, async { Ok::<_, ()>(dm) })
            .await;
        ServerMsg::Dm(sent.expect("stored")).to_json()
    }

    fn roster(room: &str, count: usize, members: Option<&[&str]>) -> Option<ServerMsg> {
        Some(ServerMsg::Roster {
            room: room.into(),
            count,
            members: members.map(rooms),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_crowd_is_summed_up_instead_of_announced_one_by_one() {
        let hub = Hub::in_memory(HubConfig {
            crowd: 2,
            ..HubConfig::default()
        });
        let watcher = hub.connection_id();
        let mut general = hub.subscribe(GENERAL, watcher);
        let mut rust = hub.subscribe("rust", watcher);
        let people: Vec<(SessionId, ConnId)> = (1..=4)
            .map(|n| (SessionId::from_raw(n), hub.connection_id()))
            .collect();
        let arrive = |n: usize, in_rooms: &[&str]| {
            let (session, conn) = people[n];
            hub.connect(session, &format!("p{n}"), &rooms(in_rooms), conn)
        };

        let _inboxes = [arrive(0, &["general"]), arrive(1, &["general"])];
        assert_eq!(next_frame(&mut general), presence("p0", true));
        assert_eq!(next_frame(&mut general), presence("p1", true));

        // The third and fourth make general a crowd: no frame each, one summary later; the small
        // room p3 is in still hears of p3 in person.
        let _more = [arrive(2, &["general"]), arrive(3, &["general", "rust"])];
        assert_eq!(
            next_frame(&mut general),
            None,
            "no presence frame in a crowd"
        );
        assert_eq!(
            next_frame(&mut rust),
            Some(ServerMsg::Presence {
                nick: "p3".into(),
                online: true,
                rooms: rooms(&["rust"]),
            })
        );
        assert_eq!(hub.online(), ["p0", "p1"], "a crowd's list is cut short");
        assert_eq!(hub.listing(GENERAL).1, Some(4));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(next_frame(&mut general), roster(GENERAL, 4, None));
        assert_eq!(next_frame(&mut general), None, "one summary for both");

        // Back under the crowd size: the summary carries the whole list again.
        hub.disconnect(people[2].0, people[2].1);
        hub.disconnect(people[3].0, people[3].1);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            next_frame(&mut general),
            roster(GENERAL, 2, Some(&["p0", "p1"]))
        );
        assert_eq!(next_frame(&mut general), None);

        // And small again, so one by one.
        hub.disconnect(people[1].0, people[1].1);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(next_frame(&mut general), presence("p1", false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_person_joins_once_and_leaves_once_whatever_their_tabs() {
        let hub = Hub::default();
        let sessions = Sessions::default();
        let alice = sessions.create("alice").expect("free").id;
        let watcher = hub.connection_id();
        let mut general = hub.subscribe(GENERAL, watcher);

        let tabs: Vec<ConnId> = (0..3).map(|_| hub.connection_id()).collect();
        let _inboxes: Vec<Inbox> = tabs
            .iter()
            .map(|t| hub.connect(alice, "alice", &rooms(&["general"]), *t))
            .collect();
        assert_eq!(next_frame(&mut general), presence("alice", true));
        assert_eq!(next_frame(&mut general), None, "one join for three tabs");
        assert_eq!(hub.online(), ["alice"]);

        hub.disconnect(alice, tabs[0]);
        hub.disconnect(alice, tabs[1]);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(next_frame(&mut general), None, "still has a tab");

        // A reload: the last tab closes and a new one opens within the grace.
        hub.disconnect(alice, tabs[2]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let reloaded = hub.connection_id();
        let _inbox = hub.connect(alice, "alice", &rooms(&["general"]), reloaded);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(next_frame(&mut general), None, "a reload does not flap");

        hub.disconnect(alice, reloaded);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(hub.online(), ["alice"], "listed during the grace");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(next_frame(&mut general), presence("alice", false));
        assert!(hub.online().is_empty());
    }

    #[tokio::test]
    async fn a_private_message_reaches_both_parties_and_nobody_else() {
        let hub = Hub::default();
        let sessions = Sessions::default();
        let (alice, bob, carol) = (
            sessions.create("alice").expect("free").id,
            sessions.create("Bob").expect("free").id,
            sessions.create("carol").expect("free").id,
        );
        let (a1, a2, b1, c1) = (
            hub.connection_id(),
            hub.connection_id(),
            hub.connection_id(),
            hub.connection_id(),
        );
        let general = rooms(&["general"]);
        let mut a1_inbox = hub.connect(alice, "alice", &general, a1);
        let mut a2_inbox = hub.connect(alice, "alice", &general, a2);
        let mut b1_inbox = hub.connect(bob, "Bob", &general, b1);
        let mut c1_inbox = hub.connect(carol, "carol", &general, c1);

        let (to, spelled) = hub.find_online("bob").expect("bob is online");
        assert_eq!((to, spelled.as_str()), (bob, "Bob"));
        let dm = send_dm(&hub, alice, a1, to, 1).await;
        assert_eq!(frame_text(b1_inbox.recv().await), dm);
        assert_eq!(frame_text(a2_inbox.recv().await), dm, "my other tab");
        assert!(a1_inbox.try_recv().is_none(), "not back to the sending tab");
        assert!(c1_inbox.try_recv().is_none(), "never to a third person");

        let err = hub.find_online("nobody").expect_err("offline");
        assert_eq!(err.code, ErrorCode::UnknownUser);
    }

    #[tokio::test]
    async fn a_full_inbox_counts_what_it_missed() {
        let hub = Hub::in_memory(HubConfig {
            inbox_capacity: 2,
            ..HubConfig::default()
        });
        let sessions = Sessions::default();
        let (alice, bob) = (
            sessions.create("alice").expect("free").id,
            sessions.create("bob").expect("free").id,
        );
        let (a, b) = (hub.connection_id(), hub.connection_id());
        let general = rooms(&["general"]);
        let _a_inbox = hub.connect(alice, "alice", &general, a);
        let b_inbox = hub.connect(bob, "bob", &general, b);
        for id in 1..=5 {
            send_dm(&hub, alice, a, bob, id).await;
        }
        assert_eq!(b_inbox.take_missed(), 3);
        assert_eq!(b_inbox.take_missed(), 0);
    }

    #[tokio::test]
    async fn membership_tells_the_room_and_the_sessions_other_tabs() {
        let hub = Hub::default();
        let sessions = Sessions::default();
        let (alice, bob) = (
            sessions.create("alice").expect("free").id,
            sessions.create("bob").expect("free").id,
        );
        let (a1, a2, b1) = (
            hub.connection_id(),
            hub.connection_id(),
            hub.connection_id(),
        );
        let general = rooms(&["general"]);
        let mut a1_inbox = hub.connect(alice, "alice", &general, a1);
        let mut a2_inbox = hub.connect(alice, "alice", &general, a2);
        let _b1_inbox = hub.connect(bob, "bob", &rooms(&["general", "rust"]), b1);
        let mut rust = hub.subscribe("rust", b1);
        assert_eq!(hub.members("rust"), ["bob"]);

        hub.membership(alice, "rust", true, a1);
        assert_eq!(hub.members("rust"), ["alice", "bob"]);
        assert_eq!(hub.members("general"), ["alice", "bob"]);
        assert_eq!(
            next_frame(&mut rust),
            Some(ServerMsg::Member {
                room: "rust".into(),
                nick: "alice".into(),
                joined: true
            })
        );
        assert_eq!(
            frame_text(a2_inbox.recv().await),
            "rooms changed",
            "the other tab follows"
        );
        assert!(a1_inbox.try_recv().is_none(), "the tab that joined knows");

        hub.membership(alice, "rust", false, a2);
        assert_eq!(hub.members("rust"), ["bob"]);
        assert_eq!(frame_text(a1_inbox.recv().await), "rooms changed");
    }

    #[test]
    fn timestamps_are_rfc3339_utc_millis() {
        let at = now_rfc3339();
        assert!(at.ends_with('Z'), "{at}");
        assert_eq!(at.len(), "2026-11-25T22:10:56.123Z".len(), "{at}");
        let parsed = OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339);
        assert!(parsed.is_ok(), "{at}");
    }
}
