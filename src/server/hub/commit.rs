//! Group commit of room messages.
//!
//! [`Hub::publish`] queues a message on its room. One committer per room at a time takes
//! everything queued, has the [`Log`] (the store) commit it in one transaction, which assigns
//! consecutive `seq`s, then puts the messages on the room's ring in that order and only then
//! answers each publisher. So the order on the ring is commit order (no reader ever sees seq 18
//! before seq 17), a message is delivered and acked only once stored, a publisher's answer comes
//! after every earlier message of its room is on the ring, and a busy room pays one commit per
//! batch instead of one per message. With several servers, each committed message is also
//! published on the bus, and the room's sequencer may hold it until an earlier one committed
//! elsewhere arrives (the connection then reads that one from the store before its ack).
//!
//! The queue is bounded by its publishers: each connection waits for its message's answer before
//! it reads its next frame, so a room never holds more than one queued message per connection.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::oneshot;
use tungstenite::Utf8Bytes;

use super::batch::not_stored;
use super::room::{Queued, Room};
use super::{ConnId, Delivery, Hub};
use crate::protocol::{ChatMessage, FrameError, ServerMsg, Stored};
use crate::server::bus::Event;
use crate::server::store::{Committed, DirectDraft, NewMessage, Store, StoreError, StoredDirect};

/// Where the hub commits what it is given: the store. (Tests use an in-memory one.)
pub trait Log: Send + Sync + 'static {
    /// Stores a batch of one room's messages in one transaction and returns them with their seqs,
    /// in order; all or nothing. A retry of a message stored before (the same person and
    /// `client_id`) is answered with that message and not stored again.
    fn append_batch<'a>(
        &'a self,
        room: &'a str,
        drafts: Vec<NewMessage>,
    ) -> BoxFuture<'a, Result<Vec<Committed>, StoreError>>;

    /// Stores a batch of private messages in one transaction, ids in order; all or nothing.
    fn append_directs(
        &self,
        drafts: Vec<DirectDraft>,
    ) -> BoxFuture<'_, Result<Vec<StoredDirect>, StoreError>>;

    /// Up to `limit` entries of `room`'s log (messages and changes) after position `after`, in
    /// order (to fill a gap).
    fn since<'a>(
        &'a self,
        room: &'a str,
        after: u64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>>;
}

impl Log for Store {
    fn append_batch<'a>(
        &'a self,
        room: &'a str,
        drafts: Vec<NewMessage>,
    ) -> BoxFuture<'a, Result<Vec<Committed>, StoreError>> {
        Box::pin(self.messages().append_batch(room, drafts))
    }

    fn append_directs(
        &self,
        drafts: Vec<DirectDraft>,
    ) -> BoxFuture<'_, Result<Vec<StoredDirect>, StoreError>> {
        Box::pin(self.directs().append_directs(drafts))
    }

    fn since<'a>(
        &'a self,
        room: &'a str,
        after: u64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>> {
        Box::pin(self.messages().since(room, after, limit))
    }
}

impl Hub {
    /// Stores `draft` in `room` (group commit, see the module docs) and delivers it to every
    /// subscriber of the room except `origin`, in commit order. Returns the stored message once it
    /// and every earlier message of the room are on the room's ring; nothing is delivered if it
    /// could not be stored.
    pub async fn publish(
        &self,
        room: &str,
        origin: ConnId,
        draft: NewMessage,
    ) -> Result<ChatMessage, FrameError> {
        let (reply, stored) = oneshot::channel();
        let queued = Queued {
            draft,
            origin,
            reply,
        };
        let (room, lead) = self
            .shared
            .rooms
            .with_room(room, |room| (Arc::clone(room), room.queue.push(queued)));
        if lead {
            // A task of its own: a publisher whose connection goes away must not strand the queue.
            let hub = self.clone();
            tokio::spawn(async move { hub.commit_queued(room).await });
        }
        stored.await.unwrap_or_else(|_| Err(not_stored()))
    }

    /// Passes on a change the store has just committed to `room` (an edit or a delete): to the
    /// other servers, and to the room's subscribers here but `origin`, in its place in the room's
    /// order (a message committed just before it is passed on first).
    pub fn deliver_change(&self, room: &str, origin: ConnId, change: &Stored) {
        let seq = change.position();
        let frame = Utf8Bytes::from(change.to_json());
        self.publish_committed(room, seq, &frame);
        if let Some(room) = self.shared.rooms.get(room) {
            if room.deliver(Delivery::sequenced(origin, seq, frame)) {
                self.shared.repair.soon(&room);
            }
        }
    }

    /// Tells the other servers that `room` has `seq` committed, with its frame.
    fn publish_committed(&self, room: &str, seq: u64, frame: &str) {
        let event = Event::Message {
            room: room.to_owned(),
            seq,
        };
        self.shared.bus.publish(&event, Some(frame));
    }

    /// Commits what is queued on `room`, batch after batch, until the queue is empty.
    async fn commit_queued(&self, room: Arc<Room>) {
        // Whatever ends this task (an empty queue, or a panic in the store's driver), the room is
        // not left marked as committing, which would stall it for good.
        let mut committing = Committing {
            hub: self.clone(),
            room: Arc::clone(&room),
            done: false,
        };
        loop {
            let Some(batch) = room.queue.next() else {
                committing.done = true;
                return;
            };
            let (drafts, waiters): (Vec<NewMessage>, Vec<_>) = batch
                .into_iter()
                .map(|q| (q.draft, (q.origin, q.reply)))
                .unzip();
            let started = std::time::Instant::now();
            let result = self.shared.log.append_batch(&room.name, drafts).await;
            self.shared
                .metrics
                .store_commit(started.elapsed().as_secs_f64());
            match result {
                Ok(stored) if stored.len() == waiters.len() => {
                    // Every message of the batch goes to the ring before any publisher hears back:
                    // an ack never overtakes a message committed before it. (With several
                    // servers, one committed elsewhere just before may still be on its way: the
                    // room then holds the answers until it has passed it on.)
                    let mut replies = Vec::with_capacity(waiters.len());
                    let mut gap = false;
                    let mut last = None;
                    for (committed, (origin, reply)) in stored.into_iter().zip(waiters) {
                        let message = match committed {
                            Committed::New(message) => message,
                            // A retry: delivered when it was first stored; its publisher's
                            // connection reads what it missed before its ack.
                            Committed::Earlier(message) => {
                                replies.push((reply, message));
                                continue;
                            }
                        };
                        let frame = Utf8Bytes::from(ServerMsg::Message(message.clone()).to_json());
                        self.publish_committed(&room.name, message.seq, &frame);
                        gap |= room.deliver(Delivery::sequenced(origin, message.seq, frame));
                        last = Some(message.seq);
                        replies.push((reply, message));
                    }
                    match last {
                        Some(last) => room.answer_when_passed(last, replies),
                        None => super::room::answer(replies),
                    }
                    if gap {
                        self.shared.repair.soon(&room);
                    }
                }
                Ok(stored) => {
                    let err = StoreError::Mismatch {
                        sent: waiters.len(),
                        got: stored.len(),
                    };
                    tracing::error!(%err, room = %room.name, "committing messages failed");
                    for (_, reply) in waiters {
                        let _ = reply.send(Err(not_stored()));
                    }
                }
                Err(err) => {
                    tracing::error!(%err, room = %room.name, "committing messages failed");
                    for (_, reply) in waiters {
                        let _ = reply.send(Err(not_stored()));
                    }
                }
            }
        }
    }
}

/// Frees the room when its committer ends, if nothing needs it. A committer that ended before its
/// queue was empty (its task panicked) is replaced, so the room is never stalled.
struct Committing {
    hub: Hub,
    room: Arc<Room>,
    /// The queue said it was done (and is idle).
    done: bool,
}

impl Drop for Committing {
    fn drop(&mut self) {
        if !self.done && self.room.queue.abandoned() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let (hub, room) = (self.hub.clone(), Arc::clone(&self.room));
                runtime.spawn(async move { hub.commit_queued(room).await });
                return;
            }
            self.room.queue.stop();
        }
        self.hub.shared.rooms.release(&self.room);
    }
}
