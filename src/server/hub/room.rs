//! The live rooms: for each room someone listens to (or is posting to right now), a bounded
//! broadcast ring of frames and a queue of messages waiting to be stored.
//!
//! # Freed when unused
//! A room is in memory only while it has a subscriber, a queued message or a commit at work; when
//! the last of those goes, the room goes (the store keeps its messages). Every decision about a
//! room's life is taken under the registry's lock: subscribing (the receiver is made while the lock
//! is held), queueing a message, sending a frame, and the check that removes a room. So a
//! subscriber can never attach to a room that was just removed while a new one takes its place,
//! which would split its listeners in two.
//!
//! # Order
//! Messages with a `seq` go through the room's [`Sequencer`]: they reach the ring in `seq` order,
//! once each, whichever server committed them and whatever order they arrived in. A gap that
//! stays open is read from the store ([`super::repair`]).
//!
//! # Slow subscribers
//! A ring holds [`super::HubConfig::room_capacity`] frames. A connection that falls further behind
//! does not hold anyone back: the ring moves on, and its next read returns [`Received::Lagged`]
//! with how many frames it missed; the connection then resyncs that room from the store, exactly.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt as _};

use super::batch::Batch;
use super::sequencer::{Gap, Sequencer};
use super::{ConnId, Delivery};
use crate::protocol::{ChatMessage, FrameError, ServerMsg};
use crate::server::store::NewMessage;

/// Every live room, by name.
#[derive(Debug)]
pub(super) struct Registry {
    rooms: Mutex<HashMap<Arc<str>, Arc<Room>>>,
    /// Frames per ring.
    capacity: usize,
}

/// One live room.
#[derive(Debug)]
pub(super) struct Room {
    pub(super) name: Arc<str>,
    tx: broadcast::Sender<Delivery>,
    /// Messages waiting to be committed, and whether a committer is at work.
    pub(super) queue: Batch<Queued>,
    /// The room's last committed `seq`, as far as this server knows ([`UNKNOWN_HEAD`] until a
    /// delivery here or a read of the store tells): a reconnect that missed nothing needs no read.
    head: AtomicU64,
    /// Puts messages in `seq` order on the ring.
    order: Mutex<Sequencer<Delivery>>,
    /// Whether a task is reading a gap of this room from the store.
    pub(super) repairing: AtomicBool,
    /// Publishers' answers waiting until the ring has passed their messages on (and so every one
    /// before them), by the last seq of their batch.
    held: Mutex<Vec<Held>>,
}

/// A batch's answers, held until the ring passes its last seq on.
type Held = (u64, Vec<(Reply, ChatMessage)>);

impl Drop for Room {
    fn drop(&mut self) {
        // Stored is stored: whoever still waits hears so.
        let held = std::mem::take(self.held.get_mut().unwrap_or_else(PoisonError::into_inner));
        answer(held.into_iter().flat_map(|(_, replies)| replies));
    }
}

/// Tells publishers their messages are stored.
pub(super) fn answer(replies: impl IntoIterator<Item = (Reply, ChatMessage)>) {
    for (reply, message) in replies {
        let _ = reply.send(Ok(message));
    }
}

/// A room message waiting to be stored, with who sent it and how they hear of it.
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) draft: NewMessage,
    pub(super) origin: ConnId,
    pub(super) reply: Reply,
}

/// How a publisher hears of its message.
pub(super) type Reply = tokio::sync::oneshot::Sender<Result<ChatMessage, FrameError>>;

/// A room's head before anything told it.
const UNKNOWN_HEAD: u64 = u64::MAX;

impl Room {
    fn order(&self) -> MutexGuard<'_, Sequencer<Delivery>> {
        self.order.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts a frame without a `seq` on the ring at once.
    pub(super) fn send(&self, delivery: Delivery) {
        // An error only means nobody is listening right now, which is not a failure.
        let _ = self.tx.send(delivery);
    }

    /// Puts a stored message on the ring in its place in the order: at once if it is the next one,
    /// later if an earlier one is missing, never if it was passed on before. Returns whether a gap
    /// is left open (the caller starts its repair).
    pub(super) fn deliver(&self, delivery: Delivery) -> bool {
        let Some(seq) = delivery.seq else {
            self.send(delivery);
            return false;
        };
        let mut order = self.order();
        let mut last = None;
        for (seq, delivery) in order.accept(seq, delivery) {
            last = Some(seq);
            self.send(delivery);
        }
        if let Some(last) = last {
            self.committed(last);
            self.release_held(last);
        }
        order.gap().is_some()
    }

    /// Answers the publishers of a batch ending at `last` once the ring has passed it on: now, if
    /// it has.
    pub(super) fn answer_when_passed(&self, last: u64, replies: Vec<(Reply, ChatMessage)>) {
        {
            let order = self.order();
            if order.head().is_none_or(|head| head < last) {
                self.held().push((last, replies));
                return;
            }
        }
        answer(replies);
    }

    fn held(&self) -> MutexGuard<'_, Vec<Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers the publishers whose batches the ring has now passed on (up to `head`).
    fn release_held(&self, head: u64) {
        let ready: Vec<(Reply, ChatMessage)> = {
            let mut held = self.held();
            if held.is_empty() {
                return;
            }
            let mut ready = Vec::new();
            held.retain_mut(|(last, replies)| {
                if *last <= head {
                    ready.append(replies);
                    false
                } else {
                    true
                }
            });
            ready
        };
        answer(ready);
    }

    /// Gives up on the messages up to `to`, passing on what waited behind them.
    pub(super) fn skip_gap(&self, to: u64) {
        let mut order = self.order();
        let mut last = None;
        for (seq, delivery) in order.skip(to) {
            last = Some(seq);
            self.send(delivery);
        }
        if let Some(last) = last.or_else(|| order.head()) {
            self.committed(last);
            self.release_held(last);
        }
    }

    /// What is missing before the next message can be passed on.
    pub(super) fn gap(&self) -> Option<Gap> {
        self.order().gap()
    }

    /// The store's last `seq` of this room is `head`: returns whether that leaves a gap to read.
    pub(super) fn learn_position(&self, head: u64) -> bool {
        self.order().learn(head)
    }

    /// A reader of this room has everything up to `position` (from its catch-up).
    pub(super) fn reported(&self, position: u64) {
        self.order().reported(position);
    }

    /// Forgets the room's order (nobody listens: nothing to pass on); whoever waits for it hears
    /// their message is stored.
    pub(super) fn forget_order(&self) {
        self.order().reset();
        let held = std::mem::take(&mut *self.held());
        answer(held.into_iter().flat_map(|(_, replies)| replies));
    }

    /// Whether anyone listens to this room.
    pub(super) fn has_listeners(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Records that everything up to `seq` is committed.
    pub(super) fn committed(&self, seq: u64) {
        let _ = self
            .head
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |head| {
                (head == UNKNOWN_HEAD || head < seq).then_some(seq)
            });
    }

    fn head(&self) -> Option<u64> {
        let head = self.head.load(Ordering::Acquire);
        (head != UNKNOWN_HEAD).then_some(head)
    }

    /// Whether nothing needs this room: no subscriber, nothing queued, no commit or repair at work.
    fn unused(&self) -> bool {
        self.tx.receiver_count() == 0
            && self.queue.is_idle()
            && !self.repairing.load(Ordering::Acquire)
    }
}

impl Registry {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            rooms: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Arc<Room>>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get_or_create(&self, rooms: &mut HashMap<Arc<str>, Arc<Room>>, name: &str) -> Arc<Room> {
        if let Some(room) = rooms.get(name) {
            return Arc::clone(room);
        }
        let (tx, _) = broadcast::channel(self.capacity);
        let name: Arc<str> = Arc::from(name);
        let room = Arc::new(Room {
            name: Arc::clone(&name),
            tx,
            queue: Batch::default(),
            head: AtomicU64::new(UNKNOWN_HEAD),
            order: Mutex::new(Sequencer::default()),
            repairing: AtomicBool::new(false),
            held: Mutex::new(Vec::new()),
        });
        rooms.insert(name, Arc::clone(&room));
        room
    }

    /// Runs `queue` on the room called `name` (created if needed) under the registry's lock, so the
    /// room cannot be removed between finding it and queueing on it.
    pub(super) fn with_room<T>(&self, name: &str, queue: impl FnOnce(&Arc<Room>) -> T) -> T {
        let mut rooms = self.lock();
        let room = self.get_or_create(&mut rooms, name);
        queue(&room)
    }

    /// Sends a frame to the room's subscribers, if it has any (a room nobody listens to is not
    /// created for a frame nobody would read).
    pub(super) fn send(&self, name: &str, delivery: Delivery) {
        if let Some(room) = self.lock().get(name) {
            room.send(delivery);
        }
    }

    /// Sends a message without a `seq` (typing, presence, renames), serialized once, to `name`'s
    /// subscribers but `origin`.
    pub(super) fn broadcast(&self, name: &str, origin: ConnId, msg: &ServerMsg) {
        let frame = tungstenite::Utf8Bytes::from(msg.to_json());
        self.send(name, Delivery::unsequenced(origin, frame));
    }

    /// The live room called `name`, if any.
    pub(super) fn get(&self, name: &str) -> Option<Arc<Room>> {
        self.lock().get(name).cloned()
    }

    /// The live rooms that someone listens to.
    pub(super) fn listened(&self) -> Vec<Arc<Room>> {
        self.lock()
            .values()
            .filter(|room| room.has_listeners())
            .cloned()
            .collect()
    }

    /// Starts listening to `name` on behalf of connection `conn`: only frames sent after this call
    /// are received.
    pub(super) fn subscribe(self: &Arc<Self>, name: &str, conn: ConnId) -> Subscription {
        let mut rooms = self.lock();
        let room = self.get_or_create(&mut rooms, name);
        let rx = room.tx.subscribe();
        drop(rooms);
        Subscription {
            conn,
            rx: Some(BroadcastStream::new(rx)),
            registry: Arc::clone(self),
            room,
        }
    }

    /// Removes `room` if nothing needs it any more (and it is still the registered room of its
    /// name).
    pub(super) fn release(&self, room: &Arc<Room>) {
        let mut rooms = self.lock();
        let registered = rooms
            .get(&room.name)
            .is_some_and(|current| Arc::ptr_eq(current, room));
        if registered && room.unused() {
            rooms.remove(&room.name);
            if rooms.capacity() > 64 && rooms.len() < rooms.capacity() / 4 {
                let keep = rooms.len() * 2;
                rooms.shrink_to(keep);
            }
        }
    }

    /// How many rooms are live.
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The last committed `seq` of `name`, if it is live and this server knows it.
    pub(super) fn head(&self, name: &str) -> Option<u64> {
        self.lock().get(name).and_then(|room| room.head())
    }

    /// Records that `name`'s messages are committed up to `seq` (from a read of the store), if it
    /// is live.
    pub(super) fn learn_head(&self, name: &str, seq: u64) {
        if let Some(room) = self.lock().get(name) {
            room.committed(seq);
        }
    }

    /// Whether `name` is live.
    pub(super) fn contains(&self, name: &str) -> bool {
        self.lock().contains_key(name)
    }
}

/// One connection's view of one room: a stream of what others publish there. Dropping it stops
/// the listening, and frees the room if nothing else needs it.
#[derive(Debug)]
pub struct Subscription {
    conn: ConnId,
    /// Taken out (and dropped) first when the subscription is dropped, so the room's receiver
    /// count is already down when the registry looks at it.
    rx: Option<BroadcastStream<Delivery>>,
    registry: Arc<Registry>,
    room: Arc<Room>,
}

/// What a [`Subscription`] yields.
#[derive(Debug, Clone)]
pub enum Received {
    /// The next frame from someone else.
    Frame(Delivery),
    /// This subscriber fell behind and `missed` frames were skipped; the next read goes on with the
    /// oldest frame still in the ring.
    Lagged { missed: u64 },
}

impl Subscription {
    /// The room this subscription listens to.
    pub fn room(&self) -> &Arc<str> {
        &self.room.name
    }

    /// Waits for the next frame from another connection. Cancel-safe.
    pub async fn recv(&mut self) -> Received {
        match self.next().await {
            Some(received) => received,
            // The subscription holds its room, and so the ring's sender: this never happens.
            None => std::future::pending().await,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.rx.take());
        self.registry.release(&self.room);
    }
}

impl Stream for Subscription {
    type Item = Received;

    /// The next frame from another connection (its own are skipped: no echo). A connection listens
    /// to all its rooms at once through a `StreamMap` of these.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Received>> {
        let conn = self.conn;
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            return match Pin::new(&mut *rx).poll_next(cx) {
                Poll::Ready(Some(Ok(delivery))) if delivery.origin == conn => continue,
                Poll::Ready(Some(Ok(delivery))) => Poll::Ready(Some(Received::Frame(delivery))),
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(missed)))) => {
                    Poll::Ready(Some(Received::Lagged { missed }))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}
