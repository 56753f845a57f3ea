//! Passing what the hub has for this connection on to its client: room frames (in bursts, one
//! flush each), the private inbox, the session's rooms as they change, and acks in their place in
//! the order.

use std::sync::Arc;

use super::live::Live;
use super::socket::{written, End};
use super::{Connection, WsIo};
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
        live: &mut Live,
        room: Arc<str>,
        received: Received,
    ) -> Result<(), End> {
        let timeout = self.socket.write_timeout();
        let burst = async {
            self.deliver(live, &room, received).await?;
            for _ in 1..DELIVERY_BATCH {
                match live.ready() {
                    Some((room, received)) => self.deliver(live, &room, received).await?,
                    None => break,
                }
            }
            self.socket.flush().await
        };
        written(timeout, burst).await
    }

    /// Forwards what a room produced (buffered; the caller flushes), skipping what the client
    /// already has. A gap (a position that does not follow the last one sent) is filled from the
    /// store first; after a lag the client is told, then resynced from the store.
    async fn deliver(
        &mut self,
        live: &mut Live,
        room: &str,
        received: Received,
    ) -> Result<(), End> {
        match received {
            Received::Frame(delivery) => {
                let Some(seq) = delivery.seq else {
                    return self.socket.feed(delivery.frame).await;
                };
                let Some(cursor) = live.cursors.get(room) else {
                    return Ok(());
                };
                if !cursor.takes(seq) {
                    return Ok(());
                }
                if seq > cursor.delivered + 1 {
                    Box::pin(self.fill(live, room, Some(seq - 1))).await?;
                }
                match live.cursors.get_mut(room) {
                    Some(cursor) if cursor.takes(seq) => {
                        cursor.advance(seq);
                        self.socket.feed(delivery.frame).await
                    }
                    _ => Ok(()),
                }
            }
            Received::Lagged { missed } => Box::pin(self.resync(live, room, missed, None)).await,
        }
    }

    /// Sends the ack of this connection's own message `seq` of `room` in its place: after every
    /// earlier message of the room this connection has to pass on (they are already on the ring:
    /// the hub answers a publisher only after), before any later one.
    pub(super) async fn ack_in_order(
        &mut self,
        live: &mut Live,
        room: &str,
        seq: u64,
        ack: &ServerMsg,
    ) -> Result<(), End> {
        let timeout = self.socket.write_timeout();
        let settle = async {
            let mut later: Option<Delivery> = None;
            while let Some(received) = live.ready_in(room) {
                match received {
                    Received::Frame(delivery) if delivery.seq.is_some_and(|s| s > seq) => {
                        later = Some(delivery);
                        break;
                    }
                    received @ Received::Frame(_) => self.deliver(live, room, received).await?,
                    Received::Lagged { missed } => {
                        Box::pin(self.resync(live, room, missed, Some(seq.saturating_sub(1))))
                            .await?;
                    }
                }
            }
            if let Some(cursor) = live.cursors.get(room) {
                if cursor.stale.is_none() && cursor.delivered + 1 < seq {
                    Box::pin(self.fill(live, room, Some(seq - 1))).await?;
                }
            }
            if let Some(cursor) = live.cursors.get_mut(room) {
                cursor.ack(seq);
            }
            self.socket.feed_msg(ack).await?;
            if let Some(delivery) = later {
                self.deliver(live, room, Received::Frame(delivery)).await?;
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
                    if !live.wants_direct(earlier) {
                        continue;
                    }
                    if live.next_direct(earlier, before) {
                        self.socket.feed(frame).await?;
                    } else {
                        Box::pin(self.fill_directs(live, Some(id - 1))).await?;
                    }
                }
                Some(Private::Missed { id: earlier }) => {
                    if live.wants_direct(earlier) {
                        Box::pin(self.fill_directs(live, Some(id - 1))).await?;
                    }
                }
                Some(Private::RoomsChanged) => Box::pin(self.reconcile(live, None)).await?,
                Some(Private::Frame(frame)) => self.socket.feed(frame).await?,
                Some(Private::Banned { .. } | Private::Ended { .. }) | None => break,
            }
        }
        if live.wants_direct(prev) {
            Box::pin(self.fill_directs(live, Some(id - 1))).await?;
        }
        if !live.dm_stale {
            live.dm_delivered = live.dm_delivered.max(id);
        }
        self.socket.send(ack).await
    }

    /// Forwards a private message, or follows the session into or out of rooms. A private message
    /// whose predecessor this connection has not passed on (it came from another server ahead of
    /// it) is preceded by what the store has. If the inbox overflowed, both are resynced: rooms
    /// from the session, private messages from the store.
    pub(super) async fn deliver_private(
        &mut self,
        live: &mut Live,
        private: Private,
    ) -> Result<(), End> {
        match private {
            Private::Dm { id, prev, frame } if live.wants_direct(id) => {
                if live.next_direct(id, prev) {
                    self.socket.send_raw(frame).await?;
                } else {
                    self.fill_directs(live, None).await?;
                }
            }
            Private::Missed { id } if live.wants_direct(id) => {
                self.fill_directs(live, None).await?;
            }
            Private::Dm { .. } | Private::Missed { .. } => {}
            Private::RoomsChanged => self.reconcile(live, None).await?,
            Private::Frame(frame) => self.socket.send_raw(frame).await?,
            Private::Banned { until, reason } => {
                self.socket.send(&super::banned(&until, &reason)).await?;
                return Err(End::close(super::socket::CLOSE_POLICY, "banned"));
            }
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
            self.reconcile(live, None).await?;
            let since = live.dm_delivered;
            self.catch_up_directs(live, Some(since)).await?;
        }
        Ok(())
    }

    /// Makes this connection's subscriptions match its session's rooms: stops listening to rooms
    /// the session left (`left`), and starts on rooms it joined (`joined` and their latest page).
    /// `reply` names the room of this connection's own request and its id, so that room's answer
    /// carries it.
    pub(super) async fn reconcile(
        &mut self,
        live: &mut Live,
        reply: Option<(&str, Option<&str>)>,
    ) -> Result<(), End> {
        let rooms = live.me.person.rooms();
        let mut answered = false;
        let mut reply_to = |room: &str| {
            let id = reply.filter(|(r, _)| *r == room);
            answered |= id.is_some();
            id.and_then(|(_, id)| id.map(str::to_owned))
        };
        for room in live.left(&rooms) {
            live.unsubscribe(&room);
            if live.typing.as_deref() == Some(&*room) {
                live.stop_typing(&self.ctx.hub, self.id);
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
                live.subscribe(self.ctx.hub.subscribe(&room, self.id));
                let id = reply_to(&room);
                self.send_joined(live, &room, id.as_deref()).await?;
            }
        }
        // Every request is answered, also when it changed nothing here (joining a room this tab
        // is in, leaving one it is not in, or a join and a leave of two tabs crossing): with the
        // room's state as it is now.
        match reply {
            Some((room, id)) if !answered => {
                if live.rooms.contains_key(room) {
                    self.send_joined(live, room, id).await
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
        live: &mut Live,
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
        self.latest_page(live, room, false, None).await
    }
}
