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
//! ping clock and the shutdown signal. What a welcomed connection holds (who it speaks for, its
//! subscriptions, how far its client has been brought) is one value, [`live::Live`].
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
pub mod live;
pub mod socket;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use futures::{Sink, Stream};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio::time::Sleep;
use tokio_stream::StreamExt as _;
use tokio_tungstenite::WebSocketStream;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::Message;

use super::hub::{ConnId, Hub};
use super::limits::{AddressLimits, Limits};
use super::metrics::Metrics;
use super::session::{Sessions, COOKIE};
use super::state::AppState;
use super::store::Store;
use crate::protocol::{FrameError, ServerMsg};
pub use live::{Live, Me};
use socket::{End, Incoming, Socket, SocketLimits, CLOSE_GONE, CLOSE_RESTART};

/// The websocket read buffer per connection: chat frames are small (a larger one grows the buffer
/// as it arrives, a few reads each), and tungstenite's default (128 KiB, allocated up front) would
/// dominate an idle connection's memory.
const READ_BUFFER: usize = 256;

/// How much the websocket buffers before writing, within a burst of deliveries.
const WRITE_BUFFER: usize = 16 * 1024;

/// What one connection may have waiting to be written at most (a burst, or one catch-up page).
const MAX_WRITE_BUFFER: usize = 1024 * 1024;

/// Anything that carries websocket messages both ways: tokio-tungstenite's `WebSocketStream`, or a
/// test's channels.
pub trait WsIo:
    Stream<Item = Result<Message, tungstenite::Error>>
    + Sink<Message, Error = tungstenite::Error>
    + socket::Linger
    + Unpin
    + Send
{
}

impl<T> WsIo for T where
    T: Stream<Item = Result<Message, tungstenite::Error>>
        + Sink<Message, Error = tungstenite::Error>
        + socket::Linger
        + Unpin
        + Send
{
}

/// The axum handler for `GET /ws`. A browser's session arrives in its cookie. A cross-site page is
/// refused (403), and so is an upgrade over the connection caps (429 for the address, 503 for the
/// server), before any websocket exists. The handshake itself is checked here (RFC 6455), and the
/// upgraded connection is handed to tokio-tungstenite with the frame limits set, so an oversize
/// message is refused before it is buffered.
pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    mut request: Request,
) -> Response {
    let (accept, slot) = match admit(&state, peer, request.headers()) {
        Ok(admitted) => admitted,
        Err(refusal) => return *refusal,
    };
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return (
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded\n",
        )
            .into_response();
    };
    let cookie_token = jar.get(COOKIE).map(|c| c.value().to_owned());
    let parts = parts(state, peer, cookie_token, &request, slot);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => connection_task(upgraded, parts).await,
            Err(err) => tracing::debug!(%err, "the websocket upgrade did not complete"),
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, HeaderValue::from_static("upgrade")),
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

/// The upgrade's checks, in order: its origin, its handshake, then a place under the connection
/// caps. Admitted: the handshake's answer and the place; refused: the response that says why.
fn admit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(HeaderValue, super::limits::ConnectionSlot), Box<Response>> {
    if !super::origin::allowed(headers, &state.http.allowed_origins) {
        state.metrics.refused("origin");
        tracing::info!(%peer, "refused a cross-origin websocket");
        return Err(Box::new(
            (
                StatusCode::FORBIDDEN,
                "this page's origin may not open a chinwag websocket\n",
            )
                .into_response(),
        ));
    }
    let accept = handshake_key(headers)?;
    match state.connections.acquire(peer.ip()) {
        Ok(slot) => Ok((accept, slot)),
        Err(status) => {
            let reason = if status == StatusCode::TOO_MANY_REQUESTS {
                "per_address"
            } else {
                "total"
            };
            state.metrics.refused(reason);
            Err(Box::new(
                (status, "too many connections; try again later\n").into_response(),
            ))
        }
    }
}

/// Everything the connection is made of, in one box: the task keeps a pointer to it while the
/// upgrade completes.
fn parts(
    state: AppState,
    peer: SocketAddr,
    cookie_token: Option<String>,
    request: &Request,
    slot: super::limits::ConnectionSlot,
) -> Box<Parts> {
    // The TCP connection's own slot (and its activity) go with the websocket: its descriptor is
    // counted until the websocket closes.
    let tcp_slot = request
        .extensions()
        .get::<super::net::accept::TcpSlot>()
        .and_then(super::net::accept::TcpSlot::take);
    let activity = request
        .extensions()
        .get::<Arc<super::net::accept::Activity>>()
        .cloned();
    let limits = Arc::clone(&state.limits);
    // Only what the connection needs goes into its task, not the whole state.
    let ctx = Ctx {
        hub: state.hub,
        sessions: state.sessions,
        store: state.store,
        addresses: state.addresses,
        metrics: state.metrics,
        limits: Arc::clone(&limits),
        peer: peer.ip(),
        signup: state.http.signup,
        user_agent: super::session::user_agent(request.headers()).map(str::to_owned),
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_frame_bytes))
        .max_frame_size(Some(limits.max_frame_bytes))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER.max(limits.max_frame_bytes * 2));
    Box::new(Parts {
        ctx,
        shutdown: state.shutdown,
        cookie_token,
        slots: (slot, tcp_slot),
        activity,
        config,
        peer,
    })
}

/// What a connection is made of, between the handshake's answer and the upgraded socket.
struct Parts {
    ctx: Ctx,
    shutdown: watch::Receiver<bool>,
    cookie_token: Option<String>,
    /// Its place among the websockets, and its TCP connection's among all connections.
    slots: (
        super::limits::ConnectionSlot,
        Option<super::limits::ConnectionSlot>,
    ),
    /// When a byte last moved on its TCP connection.
    activity: Option<Arc<super::net::accept::Activity>>,
    config: WebSocketConfig,
    peer: SocketAddr,
}

/// The connection's life on an upgraded socket, as one boxed future: its task holds the box and
/// nothing else, and the box holds the connection once (its parts come in one box, emptied at the
/// start, so the future does not keep a copy of each part beside the connection made of them).
fn connection_task(
    upgraded: hyper::upgrade::Upgraded,
    parts: Box<Parts>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    let parts = Box::new((upgraded, parts));
    Box::pin(async move {
        let (upgraded, parts) = unbox(parts);
        let Parts {
            ctx,
            shutdown,
            cookie_token,
            slots,
            activity,
            config,
            peer,
        } = unbox(parts);
        let socket = Box::pin(WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(config),
        ))
        .await;
        let id = ctx.hub.connection_id();
        let span = tracing::info_span!("ws", conn = id.get(), peer = %peer);
        let mut connection = Connection::new(socket, ctx, id, shutdown, cookie_token);
        connection.slot = Some(slots);
        if let Some(activity) = activity {
            connection.socket.watch_progress(activity);
        }
        tracing::Instrument::instrument(connection.run(), span).await;
    })
}

/// Moves a value out of its box and frees the box at once (inside a future, the box would
/// otherwise be freed only when the future ends).
#[allow(clippy::boxed_local)]
fn unbox<T>(boxed: Box<T>) -> T {
    *boxed
}

/// Checks a websocket handshake request (RFC 6455, section 4.2.1) and returns the
/// `Sec-WebSocket-Accept` value; a request that is not a version-13 websocket handshake is refused
/// (400, or 426 with the version the server speaks).
fn handshake_key(headers: &HeaderMap) -> Result<HeaderValue, Box<Response>> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return Err(Box::new(
            (StatusCode::BAD_REQUEST, "not a websocket handshake\n").into_response(),
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        let version = [(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        )];
        return Err(Box::new(
            (
                StatusCode::UPGRADE_REQUIRED,
                version,
                "websocket version 13 is required\n",
            )
                .into_response(),
        ));
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or_else(|| {
        Box::new((StatusCode::BAD_REQUEST, "no Sec-WebSocket-Key\n").into_response())
    })?;
    HeaderValue::from_str(&derive_accept_key(key.as_bytes())).map_err(|_| {
        Box::new((StatusCode::BAD_REQUEST, "a bad Sec-WebSocket-Key\n").into_response())
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
    /// Who may become a person here (a `hello` that makes one is a newcomer).
    pub signup: crate::server::accounts::Signup,
    /// The upgrade request's `User-Agent`, for a session the connection makes.
    pub user_agent: Option<String>,
}

/// One websocket connection, the socket side: what it reads and writes frames with. What it has
/// told its client and listens to once welcomed is one value, [`Live`], owned by the chat loop
/// and lent to each step.
pub struct Connection<S> {
    socket: Socket<S>,
    ctx: Ctx,
    id: ConnId,
    shutdown: watch::Receiver<bool>,
    /// The session token from the upgrade request's cookie, if any.
    cookie_token: Option<String>,
    /// Counts this connection (and its TCP connection) against the caps until it ends.
    slot: Option<(
        super::limits::ConnectionSlot,
        Option<super::limits::ConnectionSlot>,
    )>,
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
            slot: None,
        }
    }

    /// The connection's whole life: handshake, chat, close.
    /// (By `&mut self`: a by-value `mut self` would be kept twice in this future, once as it came in
    /// and once as the local it is moved to.)
    pub async fn run(&mut self) {
        self.ctx.metrics.connection_opened();
        let _counted = Counted(self.ctx.metrics.clone());
        // Boxed, like every rare and deep path below: the task's own future is as large as its
        // largest state, so what is not held while waiting (the handshake, a handler, the close)
        // is allocated only while it runs. The chat loop is boxed too, so the task is no larger
        // than the handshake's start needs.
        let end = match Box::pin(self.handshake()).await {
            Ok(live) => Box::pin(self.live(live)).await,
            Err(end) => end,
        };
        if let End::Close(code, reason) = end {
            tracing::info!(code, reason, "closing");
            Box::pin(self.socket.close(code, reason)).await;
        }
    }

    /// The main loop after `welcome`, owning the connection's state (so the task's own future does
    /// not keep a copy of it). Pings the client every ping interval, and closes it once it has said
    /// nothing (not even a pong) for the idle timeout: a dead peer never lingers in presence.
    async fn live(&mut self, welcomed: Box<Live>) -> End {
        let mut live = *welcomed;
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
        let end = loop {
            let step = tokio::select! {
                incoming = self.socket.recv() => {
                    last_heard = tokio::time::Instant::now();
                    match incoming {
                        Ok(Incoming::Request(request)) => Box::pin(self.handle(&mut live, request)).await,
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
                            Box::pin(self.socket.ping()).await
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
                    Box::pin(self.deliver_ready(&mut live, room, received)).await
                },
                private = live.inbox.recv() => Box::pin(self.deliver_private(&mut live, private)).await,
                () = wait(&mut retry) => {
                    retry = None;
                    Box::pin(self.retry_stale(&mut live)).await
                },
                () = &mut stop => Err(End::close(CLOSE_RESTART, "server restarting")),
            };
            if let Err(end) = step {
                break end;
            }
            if retry.is_none() {
                if let Some(wait) = live.retry_wait() {
                    retry = Some(Box::pin(tokio::time::sleep(wait)));
                }
            }
        };
        live.stop_typing(&self.ctx.hub, self.id);
        end
    }
}

/// What a banned client is told before its connection ends: until when, and why.
fn banned(until: &str, reason: &str) -> ServerMsg {
    let why = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    FrameError::sanctioned(
        crate::protocol::ErrorCode::Banned,
        until,
        format!("a moderator banned you until {until}{why}"),
    )
    .to_server_msg()
}

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
