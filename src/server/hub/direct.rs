//! Private messages (and reactions to them, which take their places among them): group commit and
//! delivery.
//!
//! Private messages queue on one server-wide queue; one committer at a time takes everything
//! queued and has the store commit it in one transaction, which gives them consecutive ids in
//! commit order. It then puts each message, in id order, in the inboxes of the recipient's
//! connections and the sender's other ones, and only then answers the senders. So every connection
//! receives private messages in id order (a reconnect's `dm_since` never skips one), a sender's
//! ack never overtakes a message with a lower id, and no lock is held across the store's round
//! trip: senders only wait for their batch.
//!
//! With several servers, ids still follow commit order (the store's counter row orders every
//! server's writers), but a message committed elsewhere may arrive after a later one committed
//! here. So each stored message carries each party's previous private message, and each is also
//! published on the bus with it: a connection passes a message on only if it has passed on that
//! previous one, and reads the store first otherwise.

use tokio::sync::oneshot;
use tungstenite::Utf8Bytes;

use super::batch::{not_stored, Batch};
use super::{ConnId, Hub};
use crate::protocol::FrameError;
use crate::server::bus::Event;
use crate::server::session::PersonId;
use crate::server::store::{DirectDraft, StoreError, StoredDirect};

/// Private messages waiting to be stored (one queue for the server).
pub(super) type DirectQueue = Batch<QueuedDm>;

/// A private message waiting to be stored, with its parties and how its sender hears of it.
#[derive(Debug)]
pub(super) struct QueuedDm {
    draft: DirectDraft,
    from: PersonId,
    to: PersonId,
    origin: ConnId,
    reply: oneshot::Sender<Result<StoredDirect, FrameError>>,
}

impl Hub {
    /// Stores a private message from session `from` to session `to` and delivers it to `to`'s
    /// connections and `from`'s other connections (not `origin`), in id order. Returns it once it
    /// is stored and delivered; someone who went offline meanwhile finds it in the store.
    pub async fn send_direct(
        &self,
        draft: DirectDraft,
        from: PersonId,
        to: PersonId,
        origin: ConnId,
    ) -> Result<StoredDirect, FrameError> {
        let (reply, stored) = oneshot::channel();
        let lead = self.shared.directs.push(QueuedDm {
            draft,
            from,
            to,
            origin,
            reply,
        });
        if lead {
            let hub = self.clone();
            tokio::spawn(async move { hub.commit_directs().await });
        }
        stored.await.unwrap_or_else(|_| Err(not_stored()))
    }

    async fn commit_directs(&self) {
        let mut committing = CommittingDirects {
            hub: self.clone(),
            done: false,
        };
        loop {
            let Some(batch) = self.shared.directs.next() else {
                committing.done = true;
                return;
            };
            let mut drafts = Vec::with_capacity(batch.len());
            let mut waiters = Vec::with_capacity(batch.len());
            for queued in batch {
                drafts.push(queued.draft);
                waiters.push((queued.from, queued.to, queued.origin, queued.reply));
            }
            let started = std::time::Instant::now();
            let result = self.shared.log.append_directs(drafts).await;
            self.shared
                .metrics
                .store_commit(started.elapsed().as_secs_f64());
            match result {
                Ok(stored) if stored.len() == waiters.len() => {
                    let mut replies = Vec::with_capacity(waiters.len());
                    for (dm, (from, to, origin, reply)) in stored.into_iter().zip(waiters) {
                        let frame = Utf8Bytes::from(dm.entry.frame().to_json());
                        let id = dm.entry.id();
                        self.shared.bus.publish(
                            &Event::Dm {
                                id,
                                from: from.get(),
                                to: to.get(),
                                prev_from: dm.prev_from,
                                prev_to: dm.prev_to,
                            },
                            Some(frame.as_str()),
                        );
                        self.shared.presence.deliver_dm(
                            id,
                            (from, dm.prev_from),
                            (to, dm.prev_to),
                            &frame,
                            Some(origin),
                        );
                        replies.push((reply, dm));
                    }
                    for (reply, dm) in replies {
                        let _ = reply.send(Ok(dm));
                    }
                }
                other => {
                    match other {
                        Err(err) => tracing::error!(%err, "committing private messages failed"),
                        Ok(stored) => {
                            let err = StoreError::Mismatch {
                                sent: waiters.len(),
                                got: stored.len(),
                            };
                            tracing::error!(%err, "committing private messages failed");
                        }
                    }
                    for (_, _, _, reply) in waiters {
                        let _ = reply.send(Err(not_stored()));
                    }
                }
            }
        }
    }
}

/// Replaces a committer that ended before the queue was empty (its task panicked), so private
/// messages are never stalled.
struct CommittingDirects {
    hub: Hub,
    /// The queue said it was done (and is idle).
    done: bool,
}

impl Drop for CommittingDirects {
    fn drop(&mut self) {
        if self.done || !self.hub.shared.directs.abandoned() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let hub = self.hub.clone();
                runtime.spawn(async move { hub.commit_directs().await });
            }
            Err(_) => self.hub.shared.directs.stop(),
        }
    }
}
