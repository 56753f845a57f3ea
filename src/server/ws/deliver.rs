//! Passing what the hub has for this connection on to its client: room frames (in bursts, one
//! flush each), the private inbox, the session's rooms as they change, and acks in their place in
//! the order.

use std::sync::Arc;

use futures::FutureExt as _;
use tokio_stream::StreamExt as _;

use super::socket::{written, End};
use super::{Connection, Cursor, Live, Me, WsIo};
use crate::protocol::ServerMsg;
use crate::server::hub::{Delivery, Private, Received};

/// Most room frames written before one flush.
const DELIVERY_BATCH: usize = 64;

impl<S: WsIo> Connection<S> {
    /// Forwards `received` and whatever else the rooms already have ready (up to a batch), writing
    /// them into the socket's buffer and flushing once: one write for a burst instead of one each,
    /// and one write timeout for the burst.
    pub(super) async fn deliver_ready(
        &mut self,
        me: &mut Me,
        live: &mut Live,
        room: Arc<str>,
        received: Received,
    ) -> Result<(), End> {
        let timeout = self.socket.write_timeout();
        let burst = async {
            self.deliver(me, &room, received).await?;
            for _ in 1..DELIVERY_BATCH {
                match live.rooms.next().now_or_never() {
                    Some(Some((room, received))) => self.deliver(me, &room, received).await?,
                    _ => break,
                }
            }
            self.socket.flush().await
        };
        written(timeout, burst).await
    }

    /// Forwards what a room produced (buffered; the caller flushes), skipping what the client
    /// already has. A gap (a position that does not follow the last one sent) is filled from the
    /// store first; after a lag the client is told, then resynced from the store.
    async fn deliver(&mut self, me: &mut Me, room: &str, received: Received) -> Result<(), End> {
        match received {
            Received::Frame(delivery) => {
                let Some(seq) = delivery.seq else {
                    return self.socket.feed(delivery.frame).await;
                };
                let Some(cursor) = me.cursors.get(room) else {
                    return Ok(());
                };
                if !cursor.takes(seq) {
                    return Ok(());
                }
                if seq > cursor.delivered + 1 {
                    Box::pin(self.fill(me, room, Some(seq - 1))).await?;
                }
                match me.cursors.get_mut(room) {
                    Some(cursor) if cursor.takes(seq) => {
                        cursor.advance(seq);
                        self.socket.feed(delivery.frame).await
                    }
                    _ => Ok(()),
                }
            }
            Received::Lagged { missed } => Box::pin(self.resync(me, room, missed, None)).await,
        }
    }

    /// Sends the ack of this connection's own message `seq` of `room` in its place: after every
    /// earlier message of the room this connection has to pass on (they are already on the ring:
    /// the hub answers a publisher only after), before any later one.
    pub(super) async fn ack_in_order(
        &mut self,
        me: &mut Me,
        live: &mut Live,
        room: &str,
        seq: u64,
        ack: &ServerMsg,
    ) -> Result<(), End> {
        let timeout = self.socket.write_timeout();
        let settle = async {
            let mut later: Option<Delivery> = None;
            loop {
                let Some((_, subscription)) = live.rooms.iter_mut().find(|(r, _)| &**r == room)
                else {
                    break;
                };
                match subscription.next().now_or_never() {
                    Some(Some(Received::Frame(delivery)))
                        if delivery.seq.is_some_and(|s| s > seq) =>
                    {
                        later = Some(delivery);
                        break;
                    }
                    Some(Some(received @ Received::Frame(_))) => {
                        self.deliver(me, room, received).await?;
                    }
                    Some(Some(Received::Lagged { missed })) => {
                        Box::pin(self.resync(me, room, missed, Some(seq.saturating_sub(1))))
                            .await?;
                    }
                    _ => break,
                }
            }
            if let Some(cursor) = me.cursors.get(room) {
                if cursor.stale.is_none() && cursor.delivered + 1 < seq {
                    Box::pin(self.fill(me, room, Some(seq - 1))).await?;
                }
            }
            if let Some(cursor) = me.cursors.get_mut(room) {
                acked(cursor, seq);
            }
            self.socket.feed_msg(ack).await?;
            if let Some(delivery) = later {
                self.deliver(me, room, Received::Frame(delivery)).await?;
            }
            self.socket.flush().await
        };
        written(timeout, settle).await
    }

    /// Sends the ack of this connection's own private message `id` after every private message
    /// with a lower id meant for this connection: those in its inbox (the hub answers a sender
    /// only after delivering), and, if the session's previous one (`prev`) has still not been
    /// passed on (it was committed by another server and is on its way), those read from the
    /// store.
    pub(super) async fn direct_ack_in_order(
        &mut self,
        me: &mut Me,
        live: &mut Live,
        (id, prev): (u64, u64),
        ack: &ServerMsg,
    ) -> Result<(), End> {
        loop {
            let front = live.inbox.try_recv_if(|private| match private {
                Private::Dm { id: earlier, .. } | Private::Missed { id: earlier } => *earlier < id,
                Private::RoomsChanged | Private::Frame(_) => true,
                // Left for the main loop, which closes the connection.
                Private::Banned { .. } | Private::Ended { .. } => false,
            });
            match front {
                Some(Private::Dm {
                    id: earlier,
                    prev: before,
                    frame,
                }) => {
                    if me.dm_stale || earlier <= me.dm_delivered {
                        continue;
                    }
                    if before.is_none_or(|before| before <= me.dm_delivered) {
                        me.dm_delivered = earlier;
                        self.socket.feed(frame).await?;
                    } else {
                        Box::pin(self.fill_directs(me, Some(id - 1))).await?;
                    }
                }
                Some(Private::Missed { id: earlier }) => {
                    if !me.dm_stale && earlier > me.dm_delivered {
                        Box::pin(self.fill_directs(me, Some(id - 1))).await?;
                    }
                }
                Some(Private::RoomsChanged) => Box::pin(self.reconcile(me, live, None)).await?,
                Some(Private::Frame(frame)) => self.socket.feed(frame).await?,
                Some(Private::Banned { .. } | Private::Ended { .. }) | None => break,
            }
        }
        if !me.dm_stale && prev > me.dm_delivered {
            Box::pin(self.fill_directs(me, Some(id - 1))).await?;
        }
        if !me.dm_stale {
            me.dm_delivered = me.dm_delivered.max(id);
        }
        self.socket.send(ack).await
    }

    /// Forwards a private message, or follows the session into or out of rooms. A private message
    /// whose predecessor this connection has not passed on (it came from another server ahead of
    /// it) is preceded by what the store has. If the inbox overflowed, both are resynced: rooms
    /// from the session, private messages from the store.
    pub(super) async fn deliver_private(
        &mut self,
        me: &mut Me,
        live: &mut Live,
        private: Private,
    ) -> Result<(), End> {
        match private {
            Private::Dm { id, prev, frame } if !me.dm_stale && id > me.dm_delivered => {
                if prev.is_none_or(|prev| prev <= me.dm_delivered) {
                    me.dm_delivered = id;
                    self.socket.send_raw(frame).await?;
                } else {
                    self.fill_directs(me, None).await?;
                }
            }
            Private::Missed { id } if !me.dm_stale && id > me.dm_delivered => {
                self.fill_directs(me, None).await?;
            }
            Private::Dm { .. } | Private::Missed { .. } => {}
            Private::RoomsChanged => self.reconcile(me, live, None).await?,
            Private::Frame(frame) => self.socket.send_raw(frame).await?,
            Private::Banned { until, reason } => return Err(self.banned(&until, &reason).await),
            Private::Ended {
                code,
                message,
                close_reason,
            } => {
                let error = crate::protocol::FrameError::new(code, message);
                self.socket.send(&error.to_server_msg()).await?;
                return Err(End::Close(super::socket::CLOSE_POLICY, close_reason));
            }
        }
        if live.inbox.take_missed() > 0 {
            self.reconcile(me, live, None).await?;
            let since = me.dm_delivered;
            self.catch_up_directs(me, Some(since)).await?;
        }
        Ok(())
    }

    /// Makes this connection's subscriptions match its session's rooms: stops listening to rooms
    /// the session left (`left`), and starts on rooms it joined (`joined` and their latest page).
    /// `reply` names the room of this connection's own request and its id, so that room's answer
    /// carries it.
    pub(super) async fn reconcile(
        &mut self,
        me: &mut Me,
        live: &mut Live,
        reply: Option<(&str, Option<&str>)>,
    ) -> Result<(), End> {
        let rooms = me.person.rooms();
        let mut answered = false;
        let mut reply_to = |room: &str| {
            let id = reply.filter(|(r, _)| *r == room);
            answered |= id.is_some();
            id.and_then(|(_, id)| id.map(str::to_owned))
        };
        let gone: Vec<Arc<str>> = live
            .rooms
            .keys()
            .filter(|room| !rooms.iter().any(|r| r.as_str() == &***room))
            .cloned()
            .collect();
        for room in gone {
            // Dropping the subscription frees the room here if nobody else listens.
            live.rooms.remove(&room);
            me.cursors.remove(&room);
            if me.typing.as_deref() == Some(&*room) {
                self.stop_typing(me);
            }
            let left = ServerMsg::Left {
                room: room.to_string(),
                reply_to: reply_to(&room),
            };
            self.socket.send(&left).await?;
        }
        for room in rooms {
            if !live.rooms.contains_key(room.as_str()) {
                // Subscribe first, then read the store: nothing falls between.
                let subscription = self.ctx.hub.subscribe(&room, self.id);
                let key = Arc::clone(subscription.room());
                live.rooms.insert(Arc::clone(&key), subscription);
                me.cursors.insert(key, Cursor::default());
                let id = reply_to(&room);
                self.send_joined(me, &room, id.as_deref()).await?;
            }
        }
        // Every request is answered, also when it changed nothing here (joining a room this tab
        // is in, leaving one it is not in, or a join and a leave of two tabs crossing): with the
        // room's state as it is now.
        match reply {
            Some((room, id)) if !answered => {
                if live.rooms.contains_key(room) {
                    self.send_joined(me, room, id).await
                } else {
                    let left = ServerMsg::Left {
                        room: room.to_owned(),
                        reply_to: id.map(str::to_owned),
                    };
                    self.socket.send(&left).await
                }
            }
            _ => Ok(()),
        }
    }

    /// `joined` with who of the room is online, then its latest page.
    pub(super) async fn send_joined(
        &mut self,
        me: &mut Me,
        room: &str,
        reply_to: Option<&str>,
    ) -> Result<(), End> {
        let (members, count) = self.ctx.hub.presence().listing(room);
        let joined = ServerMsg::Joined {
            room: room.to_owned(),
            members,
            count,
            reply_to: reply_to.map(str::to_owned),
        };
        self.socket.send(&joined).await?;
        self.latest_page(me, room, false, None).await
    }
}

/// Records that the client was acked its own message `seq`: it is in the client's order if
/// everything before it was sent; otherwise (the room waits for a catch-up) a later read from the
/// store skips it.
fn acked(cursor: &mut Cursor, seq: u64) {
    if cursor.stale.is_none() && cursor.delivered + 1 >= seq {
        cursor.advance(seq);
    } else if seq > cursor.delivered {
        cursor.acked.insert(seq);
    }
}
