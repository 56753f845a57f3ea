//! The broadcast hub: what every connection on this server publishes to and listens on.
//!
//! A [`Hub`] is a cheap-to-clone handle to a few parts, each a type of its own that holds only the
//! handles it uses, so none of them reaches into the others' state through the whole hub:
//! - the rooms registry ([`room`]): the live rooms (freed when nobody needs them), each a bounded
//!   broadcast ring; [`Subscription`] is one connection's view of one room. The hub itself keeps
//!   group commit: [`commit`] for room messages through the [`Log`] (the store), delivered in
//!   commit order, and [`direct`] for private messages, into the parties' inboxes; [`batch`] is
//!   their queue.
//! - [`Directory`] ([`presence`], behind [`Hub::presence`]): who is online, per room ([`roster`]
//!   keeps the sorted lists and decides when a room is a crowd), each connection's [`Inbox`]
//!   ([`inbox`]), and the RAII [`Presence`] guard. It owns its state, and reaches the rooms only to
//!   announce and the bus only to tell the other servers.
//! - [`Repair`] ([`repair`], behind [`Hub::repair`]): with each room's [`sequencer`], a room's
//!   messages in `seq` order whatever server committed them, gaps read from the store.
//! - [`Ingress`] ([`remote`], behind [`Hub::ingress`]): the cluster ingress, what other servers say
//!   over the bus, applied to the rooms and to the directory.
//!
//! # Serialize once
//! A published message is turned into its JSON frame once; every subscriber gets a clone of the
//! same reference-counted bytes, so a fan-out to N connections costs one serialization.

mod batch;
pub mod commit;
pub mod direct;
pub mod inbox;
pub mod presence;
pub mod remote;
pub mod repair;
pub mod room;
pub mod roster;
pub mod sequencer;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tungstenite::Utf8Bytes;

pub use commit::Log;
pub use inbox::{Inbox, Private};
pub use presence::{Arrival, Directory, Presence, Recipient};
pub use remote::Ingress;
pub use repair::Repair;
pub use room::{Received, Subscription};

use super::bus::{Bus, Event};
use super::metrics::Metrics;
use super::session::PersonId;
use crate::protocol::ServerMsg;

/// Identifies one websocket connection, so a subscriber can skip its own messages (no echo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

impl ConnId {
    /// The number, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The origin of frames the server makes itself (presence, summaries): no connection skips them.
const SERVER: ConnId = ConnId(0);

/// Tunables of the hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How many frames a room's ring holds: how far a subscriber may fall behind before it is
    /// resynced from the store. A ring is allocated whole when its room goes live.
    pub room_capacity: usize,
    /// How many private frames a connection's inbox holds before further ones are counted as
    /// missed (and the connection resyncs from the store).
    pub inbox_capacity: usize,
    /// How long after someone's last connection closed they are announced as gone. Long enough for
    /// a reload or a brief network blip, short enough that the online list stays honest.
    pub leave_grace: Duration,
    /// How many people online make a room a crowd: lists stop at this many names and comings and
    /// goings are summed up in `roster` frames instead of announced one by one.
    pub crowd: usize,
    /// How often a crowd's `roster` frame goes out at most.
    pub roster_every: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            room_capacity: 256,
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
    /// The message's `seq`, for stored messages: a reader that caught up from the store skips what
    /// it already has.
    pub seq: Option<u64>,
    /// The complete frame, serialized once and shared.
    pub frame: Utf8Bytes,
}

impl Delivery {
    /// A frame without a `seq` (typing, presence, renames): passed on at once, never held back.
    pub fn unsequenced(origin: ConnId, frame: Utf8Bytes) -> Self {
        Self {
            origin,
            seq: None,
            frame,
        }
    }

    /// A stored entry of a room's log (a message or a change) at `seq`.
    pub fn sequenced(origin: ConnId, seq: u64, frame: Utf8Bytes) -> Self {
        Self {
            origin,
            seq: Some(seq),
            frame,
        }
    }
}

/// The shared hub handle. Cloning is cheap; every clone is the same hub.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

struct Shared {
    config: HubConfig,
    log: Arc<dyn Log>,
    metrics: Metrics,
    /// To and from the other servers (none by default).
    bus: Bus,
    rooms: Arc<room::Registry>,
    presence: Arc<Directory>,
    repair: Repair,
    ingress: Ingress,
    directs: direct::DirectQueue,
    /// Source of fresh connection ids.
    next_conn: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub whose messages are stored by `log`, and shared with other servers over `bus`.
    pub fn new(config: HubConfig, log: Arc<dyn Log>, metrics: Metrics, bus: Bus) -> Self {
        let rooms = Arc::new(room::Registry::new(config.room_capacity));
        let presence = Arc::new(Directory::new(&config, Arc::clone(&rooms), bus.clone()));
        let repair = Repair::new(
            Arc::clone(&rooms),
            Arc::clone(&log),
            metrics.clone(),
            bus.clone(),
        );
        let ingress = Ingress::new(
            Arc::clone(&presence),
            Arc::clone(&rooms),
            repair.clone(),
            bus.clone(),
        );
        Self {
            shared: Arc::new(Shared {
                rooms,
                presence,
                repair,
                ingress,
                config,
                log,
                metrics,
                bus,
                directs: direct::DirectQueue::default(),
                next_conn: AtomicU64::new(1),
            }),
        }
    }

    /// A fresh id for a new connection (or a form post, which is no connection: everyone gets
    /// what it publishes).
    pub fn connection_id(&self) -> ConnId {
        ConnId(self.shared.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Starts listening to `room` on behalf of connection `conn`. Only frames sent after this call
    /// are received; the room stays live while the subscription does.
    pub fn subscribe(&self, room: &str, conn: ConnId) -> Subscription {
        self.shared.rooms.subscribe(room, conn)
    }

    /// Sends a frame without a `seq` (typing, presence, renames) to every subscriber of `room`
    /// except `origin`.
    pub fn broadcast(&self, room: &str, origin: ConnId, msg: &ServerMsg) {
        self.shared.rooms.broadcast(room, origin, msg);
    }

    /// Sends a frame without a `seq` (typing) to every subscriber of `room` except `origin`, on
    /// this server and on the others.
    pub fn broadcast_everywhere(&self, room: &str, origin: ConnId, msg: &ServerMsg) {
        let frame = Utf8Bytes::from(msg.to_json());
        self.shared.bus.publish(
            &Event::Frame {
                room: room.to_owned(),
            },
            Some(frame.as_str()),
        );
        self.shared
            .rooms
            .send(room, Delivery::unsequenced(origin, frame));
    }

    /// Tells everyone online, on every server, of a moderation action (`moderated`).
    pub fn announce_everywhere(&self, msg: &ServerMsg) {
        self.broadcast_everywhere(crate::protocol::GENERAL, SERVER, msg);
    }

    /// Tells the other servers that session `id` was muted (`ban: false`) or banned until `until`.
    pub fn sanctioned(&self, id: PersonId, ban: bool, until: &str, reason: &str) {
        let event = Event::Sanctioned {
            id: id.get(),
            ban,
            until: until.to_owned(),
            reason: reason.to_owned(),
        };
        self.shared.bus.publish(&event, None);
    }

    /// Tells the other servers that session `id` changed in the store (its role): those that
    /// know it read it again.
    pub fn session_changed(&self, id: PersonId) {
        self.shared
            .bus
            .publish(&Event::Session { id: id.get() }, None);
    }

    /// The bus this hub is shared over.
    pub fn bus(&self) -> &Bus {
        &self.shared.bus
    }

    /// How many rooms are live (listened to, or with a commit at work).
    pub fn live_rooms(&self) -> usize {
        self.shared.rooms.len()
    }

    /// The last `seq` committed in `room`, if it is live and this server knows it without asking
    /// the store.
    pub fn known_head(&self, room: &str) -> Option<u64> {
        self.shared.rooms.head(room)
    }

    /// Tells a live room its last committed `seq`, read from the store.
    pub fn learn_head(&self, room: &str, seq: u64) {
        self.shared.rooms.learn_head(room, seq);
    }

    /// Whether `room` is live here (so it exists).
    pub fn is_live(&self, room: &str) -> bool {
        self.shared.rooms.contains(room)
    }

    /// Who is online, and what they are told of it.
    pub fn presence(&self) -> &Arc<Directory> {
        &self.shared.presence
    }

    /// Where what the other servers say is applied.
    pub fn ingress(&self) -> &Ingress {
        &self.shared.ingress
    }

    /// Gap filling and position checks of the live rooms.
    pub fn repair(&self) -> &Repair {
        &self.shared.repair
    }
}
#[cfg(test)]
mod tests;
