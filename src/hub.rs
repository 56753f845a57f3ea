//! The broadcast hub: the shared state every connection publishes to and listens on.
//!
//! A [`Hub`] is a cheap-to-clone handle; the rooms live behind it. Each room owns a bounded
//! [`broadcast`] channel of [`Delivery`]s and a writer lock. [`Hub::publish_with`] holds the writer lock
//! while the store commits the message (which assigns its `seq`) and while the message goes on the
//! channel, so the order on the channel is commit order: no reader ever sees seq 18 before seq 17.
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
//! Besides rooms the hub knows who is online: each session with its open connections, each connection
//! with a bounded inbox for frames meant for it alone (private messages). A person comes online with
//! their first connection and goes offline [`HubConfig::leave_grace`] after their last one closed, so
//! a reload or a second tab never announces a leave and a join. An inbox that is full when a private
//! message arrives counts the miss, and the connection reports it like a room lag.
//!
//! # Growing it
//! Rooms are created on demand by name ([`Hub::room`]), so adding room commands touches only the
//! connection handler. A cross-node bus plugs in at [`Hub::publish_with`]: frames arriving from other
//! nodes are fed in as [`Delivery`]s; subscribers do not change.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc};

use crate::protocol::{ChatMessage, ErrorCode, FrameError, ServerMsg, GENERAL};
use crate::session::SessionId;

/// Identifies one websocket connection, so a subscriber can skip its own messages (no echo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

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
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            room_capacity: 1024,
            inbox_capacity: 256,
            leave_grace: Duration::from_secs(3),
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

#[derive(Debug)]
struct Shared {
    config: HubConfig,
    /// Room name → room. A std mutex: it is held only to look up or insert, never across `.await`.
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    /// Who is online. A std mutex, held only for map updates, never across `.await`; frames are sent
    /// after it is released.
    people: Mutex<HashMap<SessionId, Person>>,
    /// Source of fresh connection ids.
    next_conn: AtomicU64,
}

/// Someone online (or within the leave grace).
#[derive(Debug)]
struct Person {
    nick: String,
    /// Each open connection's inbox.
    connections: HashMap<ConnId, InboxSender>,
    /// Bumped on every connect, so a pending leave can tell that the person came back meanwhile.
    epoch: u64,
}

#[derive(Debug, Clone)]
struct InboxSender {
    tx: mpsc::Sender<Utf8Bytes>,
    /// Frames that did not fit; the connection reports them.
    missed: Arc<AtomicU64>,
}

/// A connection's private inbox.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::Receiver<Utf8Bytes>,
    missed: Arc<AtomicU64>,
}

impl Inbox {
    /// The next private frame. Cancel-safe. Pends forever once the hub has forgotten the connection.
    pub async fn recv(&mut self) -> Utf8Bytes {
        match self.rx.recv().await {
            Some(frame) => frame,
            None => std::future::pending().await,
        }
    }

    /// How many frames were dropped because the inbox was full since the last call.
    pub fn take_missed(&self) -> u64 {
        self.missed.swap(0, Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct Room {
    name: String,
    tx: broadcast::Sender<Delivery>,
    /// Held across a message's commit and its send, so channel order is commit order. An async lock:
    /// it is held across the store's `.await`. Frames without a seq (typing, presence) skip it.
    writer: tokio::sync::Mutex<()>,
}

impl Hub {
    pub fn new(config: HubConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                rooms: Mutex::new(HashMap::new()),
                people: Mutex::new(HashMap::new()),
                next_conn: AtomicU64::new(1),
            }),
        }
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
            writer: tokio::sync::Mutex::new(()),
        });
        rooms.insert(name.to_owned(), Arc::clone(&room));
        room
    }

    /// Starts listening to `room` on behalf of connection `conn`. Only messages published after this
    /// call are received.
    pub fn subscribe(&self, room: &str, conn: ConnId) -> Subscription {
        let room = self.room(room);
        let rx = room.tx.subscribe();
        Subscription {
            room: room.name.clone(),
            conn,
            rx,
        }
    }

    /// Stores a message with `commit` (which assigns its `seq`) and delivers it to every subscriber of
    /// its room except `origin`, in commit order. Returns the stored message, or `commit`'s error, in
    /// which case nothing is delivered.
    pub async fn publish_with<E>(
        &self,
        room: &str,
        origin: ConnId,
        commit: impl Future<Output = Result<ChatMessage, E>>,
    ) -> Result<ChatMessage, E> {
        let room = self.room(room);
        let _writer = room.writer.lock().await;
        let message = commit.await?;
        let frame = Utf8Bytes::from(ServerMsg::Message(message.clone()).to_json());
        // An error here only means nobody is listening right now, which is not a failure.
        let _ = room.tx.send(Delivery {
            origin,
            seq: Some(message.seq),
            frame,
        });
        Ok(message)
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

    fn people(&self) -> MutexGuard<'_, HashMap<SessionId, Person>> {
        self.shared
            .people
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers connection `conn` of `session` (called `nick`). Announces the person as online if
    /// this is their first connection. Returns the connection's inbox.
    pub fn connect(&self, session: SessionId, nick: &str, conn: ConnId) -> Inbox {
        let (tx, rx) = mpsc::channel(self.shared.config.inbox_capacity);
        let missed = Arc::new(AtomicU64::new(0));
        let newcomer = {
            let mut people = self.people();
            let newcomer = !people.contains_key(&session);
            let person = people.entry(session).or_insert_with(|| Person {
                nick: nick.to_owned(),
                connections: HashMap::new(),
                epoch: 0,
            });
            person.epoch += 1;
            let sender = InboxSender {
                tx,
                missed: Arc::clone(&missed),
            };
            person.connections.insert(conn, sender);
            newcomer
        };
        if newcomer {
            let online = ServerMsg::Presence {
                nick: nick.to_owned(),
                online: true,
            };
            self.broadcast(GENERAL, SERVER, &online);
        }
        Inbox { rx, missed }
    }

    /// Forgets connection `conn` of `session`. If it was the person's last one, they are announced as
    /// gone after the leave grace, unless they came back meanwhile.
    pub fn disconnect(&self, session: SessionId, conn: ConnId) {
        let epoch = {
            let mut people = self.people();
            let Some(person) = people.get_mut(&session) else {
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
            let gone = {
                let mut people = hub.people();
                match people.get(&session) {
                    Some(p) if p.connections.is_empty() && p.epoch == epoch => {
                        people.remove(&session).map(|p| p.nick)
                    }
                    _ => None,
                }
            };
            if let Some(nick) = gone {
                hub.broadcast(
                    GENERAL,
                    SERVER,
                    &ServerMsg::Presence {
                        nick,
                        online: false,
                    },
                );
            }
        });
    }

    /// Everyone online, sorted case-insensitively.
    pub fn online(&self) -> Vec<String> {
        let mut nicks: Vec<String> = self.people().values().map(|p| p.nick.clone()).collect();
        nicks.sort_by_key(|n| n.to_lowercase());
        nicks
    }

    /// Records that `session` is now called `to` and tells everyone.
    pub fn rename(&self, session: SessionId, from: &str, to: &str) {
        if let Some(person) = self.people().get_mut(&session) {
            person.nick = to.to_owned();
        }
        let renamed = ServerMsg::Renamed {
            from: from.to_owned(),
            to: to.to_owned(),
        };
        self.broadcast(GENERAL, SERVER, &renamed);
    }

    /// The nickname of the online person called `nick` (case-insensitively), as they spell it.
    pub fn find_online(&self, nick: &str) -> Option<String> {
        let wanted = nick.trim().to_lowercase();
        self.people()
            .values()
            .find(|p| !p.connections.is_empty() && p.nick.to_lowercase() == wanted)
            .map(|p| p.nick.clone())
    }

    /// Delivers a private frame to every connection of the person called `to` and to the sender's
    /// other connections (not `origin`). Fails with `unknown_user` if `to` is not online.
    pub fn direct(
        &self,
        from: SessionId,
        origin: ConnId,
        to: &str,
        msg: &ServerMsg,
    ) -> Result<(), FrameError> {
        let frame = Utf8Bytes::from(msg.to_json());
        let wanted = to.trim().to_lowercase();
        let people = self.people();
        let recipient = people
            .iter()
            .find(|(_, p)| !p.connections.is_empty() && p.nick.to_lowercase() == wanted)
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                FrameError::new(ErrorCode::UnknownUser, format!("{to:?} is not online"))
            })?;
        let mut targets: Vec<&InboxSender> = Vec::new();
        for id in [recipient, from] {
            if let Some(person) = people.get(&id) {
                targets.extend(
                    person
                        .connections
                        .iter()
                        .filter(|(conn, _)| **conn != origin)
                        .map(|(_, inbox)| inbox),
                );
            }
            if recipient == from {
                break;
            }
        }
        for inbox in targets {
            if inbox.tx.try_send(frame.clone()).is_err() {
                inbox.missed.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(HubConfig::default())
    }
}

/// One connection's view of one room.
#[derive(Debug)]
pub struct Subscription {
    room: String,
    conn: ConnId,
    rx: broadcast::Receiver<Delivery>,
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
        loop {
            match self.rx.recv().await {
                Ok(delivery) if delivery.origin == self.conn => continue,
                Ok(delivery) => return Received::Frame(delivery),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    return Received::Lagged { missed }
                }
                // The room's sender lives as long as the hub, which outlives every subscription.
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
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

    /// Stands in for the store: numbers messages per hub, inside the writer lock like a commit.
    #[derive(Default)]
    struct Counter(AtomicU64);

    async fn post(hub: &Hub, n: &Counter, origin: ConnId, from: &str, text: &str) -> u64 {
        let commit = async {
            Ok::<_, ()>(ChatMessage {
                room: GENERAL.into(),
                seq: n.0.fetch_add(1, Ordering::SeqCst) + 1,
                from: from.into(),
                text: text.into(),
                at: now_rfc3339(),
                client_id: Some(format!("c-{text}")),
                action: false,
            })
        };
        match hub.publish_with(GENERAL, origin, commit).await {
            Ok(message) => message.seq,
            Err(()) => unreachable!(),
        }
    }

    #[tokio::test]
    async fn others_receive_the_sender_does_not() {
        let hub = Hub::default();
        let n = Counter::default();
        let (alice, bob) = (hub.connection_id(), hub.connection_id());
        let mut alice_sub = hub.subscribe(GENERAL, alice);
        let mut bob_sub = hub.subscribe(GENERAL, bob);

        assert_eq!(post(&hub, &n, alice, "alice", "hi").await, 1);
        let got = frame_of(bob_sub.recv().await);
        assert_eq!((got.from.as_str(), got.text.as_str()), ("alice", "hi"));
        assert_eq!(got.client_id.as_deref(), Some("c-hi"));

        post(&hub, &n, bob, "bob", "hello").await;
        let got = frame_of(alice_sub.recv().await);
        assert_eq!((got.seq, got.from.as_str()), (2, "bob"));
    }

    #[tokio::test]
    async fn a_failed_commit_delivers_nothing() {
        let hub = Hub::default();
        let (writer, reader) = (hub.connection_id(), hub.connection_id());
        let mut sub = hub.subscribe(GENERAL, reader);
        let failed = hub
            .publish_with(GENERAL, writer, async {
                Err::<ChatMessage, _>("disk full")
            })
            .await;
        assert_eq!(failed, Err("disk full"));
        assert!(next_frame(&mut sub).is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_publishers_are_delivered_in_commit_order() {
        let hub = Hub::default();
        let n = Arc::new(Counter::default());
        let reader = hub.connection_id();
        let mut sub = hub.subscribe(GENERAL, reader);
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (hub, n) = (hub.clone(), Arc::clone(&n));
                tokio::spawn(async move {
                    let me = hub.connection_id();
                    for i in 0..100 {
                        // Yield inside the commit, as a real store would, to invite interleaving.
                        let commit = async {
                            tokio::task::yield_now().await;
                            Ok::<_, ()>(ChatMessage {
                                room: GENERAL.into(),
                                seq: n.0.fetch_add(1, Ordering::SeqCst) + 1,
                                from: "w".into(),
                                text: format!("{w}-{i}"),
                                at: String::new(),
                                client_id: None,
                                action: false,
                            })
                        };
                        let _ = hub.publish_with(GENERAL, me, commit).await;
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.expect("writer task");
        }
        for expected in 1..=400 {
            assert_eq!(frame_of(sub.recv().await).seq, expected);
        }
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_how_much_it_missed_and_others_are_not_held_back() {
        let hub = Hub::new(HubConfig {
            room_capacity: 8,
            ..HubConfig::default()
        });
        let n = Counter::default();
        let (writer, slow, fast) = (
            hub.connection_id(),
            hub.connection_id(),
            hub.connection_id(),
        );
        let mut slow_sub = hub.subscribe(GENERAL, slow);
        let mut fast_sub = hub.subscribe(GENERAL, fast);
        for i in 1..=20u64 {
            post(&hub, &n, writer, "w", &i.to_string()).await;
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
        })
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
            .map(|t| hub.connect(alice, "alice", *t))
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
        let _inbox = hub.connect(alice, "alice", reloaded);
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
        let mut a1_inbox = hub.connect(alice, "alice", a1);
        let mut a2_inbox = hub.connect(alice, "alice", a2);
        let mut b1_inbox = hub.connect(bob, "Bob", b1);
        let mut c1_inbox = hub.connect(carol, "carol", c1);

        let dm = ServerMsg::error(ErrorCode::Empty, "stand-in frame");
        hub.direct(alice, a1, "bob", &dm).expect("bob is online");
        assert_eq!(b1_inbox.recv().await.as_str(), dm.to_json());
        assert_eq!(a2_inbox.recv().await.as_str(), dm.to_json(), "my other tab");
        assert!(
            a1_inbox.rx.try_recv().is_err(),
            "not back to the sending tab"
        );
        assert!(c1_inbox.rx.try_recv().is_err(), "never to a third person");

        let err = hub.direct(alice, a1, "nobody", &dm).expect_err("offline");
        assert_eq!(err.code, ErrorCode::UnknownUser);
        assert_eq!(hub.find_online("BOB").as_deref(), Some("Bob"));
    }

    #[tokio::test]
    async fn a_full_inbox_counts_what_it_missed() {
        let hub = Hub::new(HubConfig {
            inbox_capacity: 2,
            ..HubConfig::default()
        });
        let sessions = Sessions::default();
        let (alice, bob) = (
            sessions.create("alice").expect("free").id,
            sessions.create("bob").expect("free").id,
        );
        let (a, b) = (hub.connection_id(), hub.connection_id());
        let _a_inbox = hub.connect(alice, "alice", a);
        let b_inbox = hub.connect(bob, "bob", b);
        let dm = ServerMsg::error(ErrorCode::Empty, "x");
        for _ in 0..5 {
            hub.direct(alice, a, "bob", &dm).expect("online");
        }
        assert_eq!(b_inbox.take_missed(), 3);
        assert_eq!(b_inbox.take_missed(), 0);
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
