//! The websocket transport: `GET /ws`, one task per connection.
//!
//! A connection goes through two phases ([`handshake`]). Until a good `hello` it only answers that
//! frame. The `hello` names a session: the browser's cookie, a `session` field, or, for a client
//! without one, a new session claiming `nick`. The connection then registers with the hub under
//! the session's order lock (so a membership change on another tab lands before or after it,
//! never half), answers `welcome`, and catches the client up from the store, room by room
//! ([`catch_up`]): the latest messages, or exactly those after the `since` it sent. Then one task
//! `select!`s between the client's frames (each command in its own module under [`cmd`]), the
//! deliveries of every room the session is in ([`deliver`]), the connection's private inbox, the
//! ping clock and the shutdown signal.
//!
//! # Order and completeness
//! No message falls between catch-up and live traffic: the connection subscribes to a room
//! *before* it reads the store, then skips live deliveries whose `seq` it already sent. On each
//! connection a room's frames, its own acks included, arrive in `seq` order: an ack is sent only
//! after every earlier message of its room the connection had to send. A connection that falls
//! behind is told (`lagged`) and resynced from the store exactly, however far behind. A catch-up
//! the store cannot serve right now leaves its room marked stale (no live message of it is passed
//! on, so the client's position never moves past the hole) and is retried.
//!
//! # Limits
//! Every frame is parsed at the edge ([`socket`]); a bad one is answered with a typed error that
//! names its request, and the connection stays open. Frames over the size limit, floods, silent
//! peers and clients that will not read are closed with a code and a reason.

pub mod catch_up;
pub mod cmd;
pub mod deliver;
pub mod handshake;
pub mod socket;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use futures::{Sink, Stream};
use tokio::sync::watch;
use tokio::time::Sleep;
use tokio_stream::{StreamExt as _, StreamMap};

use super::hub::{ConnId, Hub, Inbox, Presence, Subscription};
use super::limits::{AddressLimits, Limits};
use super::metrics::Metrics;
use super::session::{Online, Session, Sessions, COOKIE};
use super::state::AppState;
use super::store::Store;
use socket::{End, Incoming, Socket, SocketLimits, CLOSE_GONE, CLOSE_RESTART};

/// The websocket read buffer per connection: chat frames are small (a larger one grows the buffer
/// as it arrives), and tungstenite's default (128 KiB, allocated up front) would dominate an idle
/// connection's memory.
const READ_BUFFER: usize = 1024;

/// How much the websocket buffers before writing, within a burst of deliveries.
const WRITE_BUFFER: usize = 16 * 1024;

/// What one connection may have waiting to be written at most (a burst, or one catch-up page).
const MAX_WRITE_BUFFER: usize = 1024 * 1024;

/// Anything that carries websocket messages both ways: axum's `WebSocket`, or a test's channels.
pub trait WsIo:
    Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin + Send
{
}

impl<T> WsIo for T where
    T: Stream<Item = Result<Message, axum::Error>>
        + Sink<Message, Error = axum::Error>
        + Unpin
        + Send
{
}

/// The axum handler for `GET /ws`. A browser's session arrives in its cookie. A cross-site page is
/// refused (403), and so is an upgrade over the connection caps (429 for the address, 503 for the
/// server), before any websocket exists.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let metrics = state.metrics.clone();
    if !super::http::origin::allowed(&headers, &state.http.allowed_origins) {
        metrics.refused("origin");
        tracing::info!(%peer, "refused a cross-origin websocket");
        return (
            StatusCode::FORBIDDEN,
            "this page's origin may not open a chinwag websocket\n",
        )
            .into_response();
    }
    let slot = match state.connections.acquire(peer.ip()) {
        Ok(slot) => slot,
        Err(status) => {
            let reason = if status == StatusCode::TOO_MANY_REQUESTS {
                "per_address"
            } else {
                "total"
            };
            metrics.refused(reason);
            return (status, "too many connections; try again later\n").into_response();
        }
    };
    let cookie_token = jar.get(COOKIE).map(|c| c.value().to_owned());
    let limits = Arc::clone(&state.limits);
    // Only what the connection needs is captured, not the whole state: the callback waits inside
    // the upgrade task for the connection's whole life.
    let ctx = Ctx {
        hub: state.hub,
        sessions: state.sessions,
        store: state.store,
        addresses: state.addresses,
        metrics,
        limits: Arc::clone(&limits),
        peer: peer.ip(),
    };
    let shutdown = state.shutdown;
    ws.max_message_size(limits.max_frame_bytes)
        .max_frame_size(limits.max_frame_bytes)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER.max(limits.max_frame_bytes * 2))
        .on_upgrade(move |socket: WebSocket| {
            let id = ctx.hub.connection_id();
            let span = tracing::info_span!("ws", conn = id.get(), peer = %peer);
            let connection = Connection::new(socket, ctx, id, shutdown, cookie_token);
            async move {
                let _slot = slot;
                tracing::Instrument::instrument(connection.run(), span).await;
            }
        })
}

/// What a connection works with.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub hub: Hub,
    pub sessions: Sessions,
    pub store: Store,
    pub addresses: Arc<AddressLimits>,
    pub metrics: Metrics,
    pub limits: Arc<Limits>,
    /// The client's address, for the per-address limits.
    pub peer: IpAddr,
}

/// One websocket connection.
pub struct Connection<S> {
    socket: Socket<S>,
    ctx: Ctx,
    id: ConnId,
    shutdown: watch::Receiver<bool>,
    /// The session token from the upgrade request's cookie, if any.
    cookie_token: Option<String>,
}

/// Who a welcomed connection speaks for, and what it has sent them. Holding it keeps the
/// connection registered; dropping it (however the task ends) unregisters it.
pub struct Me {
    pub session: Arc<Session>,
    /// The connection's place in the hub and among the session's connections.
    _presence: Presence,
    _online: Online,
    /// The room this connection last told it is typing in, if it still is.
    typing: Option<Arc<str>>,
    /// When `typing: true` was last passed on.
    typing_sent: Option<Instant>,
    /// Per room: how far the client has been brought.
    cursors: HashMap<Arc<str>, Cursor>,
    /// The highest private-message id sent to the client.
    dm_delivered: u64,
    /// The store could not serve the private messages' catch-up: live ones wait for the retry.
    dm_stale: bool,
    /// A catch-up failed and waits for its retry.
    retry_due: bool,
    /// How long the next retry waits (doubling, up to a limit).
    retry_backoff: Duration,
}

/// How far the client has been brought in one room.
#[derive(Debug, Default, Clone)]
pub struct Cursor {
    /// Every message up to this seq has been sent to the client (or acked to it), in order.
    delivered: u64,
    /// The store could not serve this room's catch-up: nothing of it with a seq is passed on until
    /// a retry succeeds, so the client's position never moves past the hole.
    stale: Option<catch_up::Stale>,
    /// Own messages acked while the room was stale, above `delivered`: a later read from the store
    /// skips them (the client has their ack).
    acked: BTreeSet<u64>,
}

impl Cursor {
    /// Records that the client now has `seq`, and everything it had acked right after it.
    fn advance(&mut self, seq: u64) {
        self.delivered = self.delivered.max(seq);
        while self.acked.remove(&(self.delivered + 1)) {
            self.delivered += 1;
        }
        self.acked.retain(|acked| *acked > self.delivered);
    }
}

/// What a welcomed connection listens to: every room of its session, and its private inbox.
pub struct Live {
    /// Keyed by a shared name: the map hands its key out with every delivery, and cloning an
    /// `Arc<str>` does not allocate.
    rooms: StreamMap<Arc<str>, Subscription>,
    inbox: Inbox,
}

/// Counts the connection in the metrics for as long as it exists, however its task ends.
struct Counted(Metrics);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.connection_closed();
    }
}

impl<S: WsIo> Connection<S> {
    pub fn new(
        io: S,
        ctx: Ctx,
        id: ConnId,
        shutdown: watch::Receiver<bool>,
        cookie_token: Option<String>,
    ) -> Self {
        let limits = SocketLimits {
            max_frame_bytes: ctx.limits.max_frame_bytes,
            frames: ctx.limits.frames,
            write_timeout: ctx.limits.write_timeout,
        };
        Self {
            socket: Socket::new(io, ctx.metrics.clone(), limits),
            ctx,
            id,
            shutdown,
            cookie_token,
        }
    }

    /// The connection's whole life: handshake, chat, close.
    pub async fn run(mut self) {
        self.ctx.metrics.connection_opened();
        let _counted = Counted(self.ctx.metrics.clone());
        // Boxed, like every rare and deep path below: an idle connection's task holds only what
        // waiting needs, not the largest state any of its handlers could reach.
        let end = match Box::pin(self.handshake()).await {
            Ok((mut me, mut live)) => {
                let end = self.chat(&mut me, &mut live).await;
                self.stop_typing(&mut me);
                end
            }
            Err(end) => end,
        };
        if let End::Close(code, reason) = end {
            tracing::info!(code, reason, "closing");
            self.socket.close(code, reason).await;
        }
    }

    /// The main loop after `welcome`. Pings the client every ping interval, and closes it once it
    /// has said nothing (not even a pong) for the idle timeout: a dead peer never lingers in
    /// presence.
    async fn chat(&mut self, me: &mut Me, live: &mut Live) -> End {
        let (ping_every, idle) = (self.ctx.limits.ping_interval, self.ctx.limits.idle_timeout);
        // Tokio's clock, the one the timer below runs on (and tests can pause).
        let mut last_heard = tokio::time::Instant::now();
        let mut next_ping = last_heard + ping_every;
        let clock = tokio::time::sleep(ping_every);
        tokio::pin!(clock);
        let mut retry: Option<Pin<Box<Sleep>>> = None;
        // Made once, not on every turn of the loop: waiting on the shared shutdown signal registers
        // with it, and doing that per wake-up of every connection is a lock they all contend for.
        let mut shutdown = self.shutdown.clone();
        let stop = stopping(&mut shutdown);
        tokio::pin!(stop);
        loop {
            let step = tokio::select! {
                incoming = self.socket.recv() => {
                    last_heard = tokio::time::Instant::now();
                    match incoming {
                        Ok(Incoming::Request(request)) => Box::pin(self.handle(me, live, request)).await,
                        Ok(Incoming::Control) => Ok(()),
                        Err(end) => Err(end),
                    }
                },
                () = &mut clock => {
                    let now = tokio::time::Instant::now();
                    if now >= last_heard + idle {
                        Err(End::close(CLOSE_GONE, "no answer to pings"))
                    } else {
                        let pinged = if now >= next_ping {
                            next_ping = now + ping_every;
                            self.socket.ping().await
                        } else {
                            Ok(())
                        };
                        let wake = next_ping.min(last_heard + idle);
                        clock.as_mut().reset(wake);
                        pinged
                    }
                },
                // Never empty (everyone is in general), so this branch never finishes.
                Some((room, received)) = live.rooms.next() => {
                    Box::pin(self.deliver_ready(me, live, room, received)).await
                },
                private = live.inbox.recv() => Box::pin(self.deliver_private(me, live, private)).await,
                () = wait(&mut retry) => {
                    retry = None;
                    Box::pin(self.retry_stale(me, live)).await
                },
                () = &mut stop => Err(End::close(CLOSE_RESTART, "server restarting")),
            };
            if let Err(end) = step {
                return end;
            }
            if me.retry_due && retry.is_none() {
                me.retry_due = false;
                retry = Some(Box::pin(tokio::time::sleep(me.retry_backoff)));
                me.retry_backoff = (me.retry_backoff * 2).min(MAX_RETRY_BACKOFF);
            }
        }
    }

    /// Tells the room this connection stopped typing in, if it had said it was typing.
    fn stop_typing(&self, me: &mut Me) {
        if let Some(room) = me.typing.take() {
            let stopped = crate::protocol::ServerMsg::Typing {
                room: room.to_string(),
                nick: me.session.nick(),
                active: false,
            };
            self.ctx.hub.broadcast(&room, self.id, &stopped);
        }
    }
}

/// The first wait before a failed catch-up is tried again.
const FIRST_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between tries.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// Waits for the retry timer, or forever when none is set.
async fn wait(timer: &mut Option<Pin<Box<Sleep>>>) {
    match timer {
        Some(timer) => timer.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Resolves once the server is shutting down (at once if it already is).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also only happens at shutdown.
    let _ = shutdown.wait_for(|stop| *stop).await;
}
