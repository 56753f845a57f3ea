//! The broadcast hub: the shared state every connection publishes to and listens on.
//!
//! A [`Hub`] is a cheap-to-clone handle; the rooms live behind it. Each room owns its sequence counter
//! and a bounded [`broadcast`] channel of [`Delivery`]s. A message is numbered and put on the channel
//! under the room's lock, so the order on the channel is the order of the `seq`s: no reader ever sees
//! seq 18 before seq 17.
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
//! # Growing it
//! Rooms are created on demand by name ([`Hub::room`]), so adding room commands touches only the
//! connection handler. Stored history and a cross-node bus plug in at [`Hub::publish`]: the store
//! assigns the `seq` when it commits, and frames arriving from other nodes are fed in as
//! [`Delivery`]s; subscribers do not change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::ws::Utf8Bytes;
use time::OffsetDateTime;
use tokio::sync::broadcast;

use crate::protocol::{ChatMessage, ServerMsg};

/// Identifies one websocket connection, so a subscriber can skip its own messages (no echo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

/// Tunables of the hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How many frames a room's ring holds: how far a subscriber may fall behind before it lags.
    /// 1024 frames is about 5 seconds of a very busy room; a healthy browser is never that far behind.
    pub room_capacity: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            room_capacity: 1024,
        }
    }
}

/// One message on its way to a room's subscribers.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The connection that sent it; that connection gets an `ack` instead of the frame.
    pub origin: ConnId,
    pub seq: u64,
    /// The complete `message` frame, serialized once and shared.
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
    /// Source of fresh connection ids.
    next_conn: AtomicU64,
}

#[derive(Debug)]
struct Room {
    name: String,
    /// Numbering and sending happen under this lock so channel order equals seq order. It is held for
    /// a counter bump and a non-blocking channel send, never across `.await`.
    state: Mutex<RoomState>,
}

#[derive(Debug)]
struct RoomState {
    /// The seq the next message gets. Starts at 1 so that "last seen 0" means "seen nothing".
    next_seq: u64,
    tx: broadcast::Sender<Delivery>,
}

/// A message accepted by the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub seq: u64,
    pub message: ChatMessage,
}

impl Hub {
    pub fn new(config: HubConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                rooms: Mutex::new(HashMap::new()),
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
            state: Mutex::new(RoomState { next_seq: 1, tx }),
        });
        rooms.insert(name.to_owned(), Arc::clone(&room));
        room
    }

    /// Starts listening to `room` on behalf of connection `conn`. Only messages published after this
    /// call are received.
    pub fn subscribe(&self, room: &str, conn: ConnId) -> Subscription {
        let room = self.room(room);
        let rx = room
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tx
            .subscribe();
        Subscription {
            room: room.name.clone(),
            conn,
            rx,
        }
    }

    /// Numbers a message and delivers it to every subscriber of `room` except `origin`.
    /// The caller has validated `text` and `client_id` already.
    pub fn publish(
        &self,
        origin: ConnId,
        room: &str,
        from: &str,
        text: String,
        client_id: Option<String>,
    ) -> Posted {
        let room = self.room(room);
        let at = now_rfc3339();
        let mut state = room.state.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = state.next_seq;
        state.next_seq += 1;
        let message = ChatMessage {
            room: room.name.clone(),
            seq,
            from: from.to_owned(),
            text,
            at,
            client_id,
        };
        let frame = Utf8Bytes::from(ServerMsg::Message(message.clone()).to_json());
        // An error here only means nobody is listening right now, which is not a failure.
        let _ = state.tx.send(Delivery { origin, seq, frame });
        drop(state);
        Posted { seq, message }
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

    fn frame_of(received: Received) -> ChatMessage {
        match received {
            Received::Frame(d) => match ServerMsg::parse(d.frame.as_str()) {
                Ok(ServerMsg::Message(m)) => {
                    assert_eq!(m.seq, d.seq);
                    m
                }
                other => panic!("not a message frame: {other:?}"),
            },
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn others_receive_the_sender_does_not() {
        let hub = Hub::default();
        let (alice, bob) = (hub.connection_id(), hub.connection_id());
        let mut alice_sub = hub.subscribe("general", alice);
        let mut bob_sub = hub.subscribe("general", bob);

        let posted = hub.publish(alice, "general", "alice", "hi".into(), Some("c-1".into()));
        assert_eq!(posted.seq, 1);
        let got = frame_of(bob_sub.recv().await);
        assert_eq!((got.from.as_str(), got.text.as_str()), ("alice", "hi"));
        assert_eq!(got.client_id.as_deref(), Some("c-1"));

        hub.publish(bob, "general", "bob", "hello".into(), None);
        let got = frame_of(alice_sub.recv().await);
        assert_eq!((got.seq, got.from.as_str()), (2, "bob"));
    }

    #[tokio::test]
    async fn seqs_grow_per_room() {
        let hub = Hub::default();
        let me = hub.connection_id();
        let seqs: Vec<u64> = (0..3)
            .map(|_| hub.publish(me, "general", "a", "x".into(), None).seq)
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(hub.publish(me, "rust", "a", "x".into(), None).seq, 1);
        assert_eq!(hub.publish(me, "general", "a", "x".into(), None).seq, 4);
    }

    #[tokio::test]
    async fn concurrent_publishers_are_delivered_in_seq_order() {
        let hub = Hub::default();
        let reader = hub.connection_id();
        let mut sub = hub.subscribe("general", reader);
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let hub = hub.clone();
                std::thread::spawn(move || {
                    let me = hub.connection_id();
                    for i in 0..100 {
                        hub.publish(me, "general", "w", format!("{w}-{i}"), None);
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().expect("writer thread");
        }
        for expected in 1..=400 {
            assert_eq!(frame_of(sub.recv().await).seq, expected);
        }
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_how_much_it_missed_and_others_are_not_held_back() {
        let hub = Hub::new(HubConfig { room_capacity: 8 });
        let (writer, slow, fast) = (
            hub.connection_id(),
            hub.connection_id(),
            hub.connection_id(),
        );
        let mut slow_sub = hub.subscribe("general", slow);
        let mut fast_sub = hub.subscribe("general", fast);
        for i in 1..=20u64 {
            hub.publish(writer, "general", "w", i.to_string(), None);
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

    #[test]
    fn timestamps_are_rfc3339_utc_millis() {
        let at = now_rfc3339();
        assert!(at.ends_with('Z'), "{at}");
        assert_eq!(at.len(), "2026-11-25T22:10:56.123Z".len(), "{at}");
        let parsed = OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339);
        assert!(parsed.is_ok(), "{at}");
    }
}
