//! The websocket transport: `GET /ws`, one task per connection.
//!
//! A connection goes through two phases. Until a good `hello` it only answers that frame (anything
//! else gets `hello_required`). The `hello` names a session: the browser's cookie, a `session` field,
//! or, for a client without one, a new session claiming `nick`. After the `welcome` it catches the
//! client up from the store, room by room (the latest messages, or exactly those after the `since` it
//! sent), and its private messages likewise; then a single task `select!`s between the client's
//! frames, the deliveries of every room the session is in (a `StreamMap` keyed by room) and the
//! connection's private inbox. A client that reads slowly only slows its own task: the hub's ring
//! moves on without it, and it is told it lagged and resynced from the store.
//!
//! No message falls between catch-up and live traffic: the connection subscribes to a room *before*
//! it reads the store, and then skips live deliveries whose `seq` it already sent. A message is acked
//! only after the store has committed it.
//!
//! Rooms follow the session: when any of its connections joins or leaves one, the others get
//! [`Private::RoomsChanged`] and reconcile their subscriptions with the session's rooms.
//!
//! Every frame is parsed at the edge by [`ClientMsg::parse`]; a bad one is answered with a typed
//! error and the connection stays open.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use tokio::sync::watch;
use tokio_stream::{StreamExt as _, StreamMap};

use crate::hub::{now_rfc3339, ConnId, Hub, Inbox, Private, Received, Subscription};
use crate::limits::{ConnectionSlot, Limits, Throttle};
use crate::metrics::Metrics;
use crate::post::{post, unavailable, Post};
use crate::protocol::{
    validate_client_id, validate_room, validate_text, ChatMessage, ClientMsg, ErrorCode,
    FrameError, ServerMsg, Stored, GENERAL,
};
use crate::rooms::Rooms;
use crate::session::{write_through, SessionId, Sessions, COOKIE};
use crate::state::AppState;
use crate::store::{DirectDraft, Store, StoreError};

/// How many messages a room's history page holds (a fresh connection, a join, scrolling up).
const HISTORY_PAGE: u32 = 50;

/// How many private messages a fresh connection is shown.
const DM_PAGE: u32 = 100;

/// The largest gap a catch-up fills message by message; beyond it the client gets the latest page
/// with `reset` and reloads the room instead.
const CATCH_UP_LIMIT: u32 = 1000;

/// What the websocket layer itself buffers at most for one message. Anything over
/// [`Limits::max_frame_bytes`] but under this is answered with close code 1009 and a reason; beyond
/// it the connection is simply dropped.
const HARD_FRAME_CAP: usize = 1024 * 1024;

/// The websocket read buffer per connection.
const READ_BUFFER: usize = 1024;

/// How much the websocket buffers before writing, within a burst of deliveries.
const WRITE_BUFFER: usize = 16 * 1024;

/// Most room frames written before one flush.
const DELIVERY_BATCH: usize = 64;

/// How long a client may take to send its `hello` before it is closed.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one write to a client may take. A client whose socket stays full this long is gone
/// (or hostile); closing it frees its task instead of letting it sit forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a closing connection waits for the client to answer its close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A typer's `active: true` is passed on at most this often; clients refresh it while typing so a
/// receiver's expiry timer does not clear it, and this keeps a chatty client from flooding the room.
const TYPING_REFRESH: Duration = Duration::from_millis(1500);

/// Close code sent when the server shuts down: "service restart", the client should come back.
const CLOSE_RESTART: u16 = 1012;
/// Close code for a client that never said hello, or cannot be written to: "policy violation".
const CLOSE_POLICY: u16 = 1008;
/// Close code for a frame over the size limit: "message too big".
const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a connection that stopped answering pings: "going away".
const CLOSE_GONE: u16 = 1001;

/// The `sessions.once` scope of private messages: their `client_id`s are unique per sender.
const DIRECT_SCOPE: &str = "@direct";

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
    if !origin_allowed(&headers, &state.allowed_origins) {
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
    // Only what the connection needs is captured, not the whole state: the callback waits inside
    // the upgrade task for the connection's whole life.
    let AppState {
        hub,
        sessions,
        store,
        shutdown,
        limits,
        ..
    } = state;
    ws.max_message_size(HARD_FRAME_CAP)
        .max_frame_size(HARD_FRAME_CAP)
        // tungstenite's default 128 KiB read buffer is allocated up front for every connection;
        // chat frames are small (a larger one grows the buffer as it arrives), so 1 KiB keeps an
        // idle connection cheap.
        .read_buffer_size(READ_BUFFER)
        // Frames fed in a burst are written together once this fills or at the flush.
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| {
            let id = hub.connection_id();
            let span = tracing::info_span!("ws", conn = id.get(), %peer);
            let conn = Connection {
                socket,
                id,
                hub,
                sessions,
                store,
                shutdown,
                cookie_token,
                limits,
                metrics,
                _slot: slot,
            };
            tracing::Instrument::instrument(conn.run(), span)
        })
}

/// Whether a websocket may be opened from the page at `Origin`: the server's own origin (the
/// `Origin`'s host is the `Host` the request was sent to), or one configured. Clients that are not
/// browsers send no `Origin` and are let in; they cannot carry someone else's cookie.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .split_once("://")
        .map(|(_, host)| host)
        .filter(|host| !host.contains('/'));
    matches!((host, origin_host), (Some(host), Some(origin_host)) if host.eq_ignore_ascii_case(origin_host))
}

/// Why a connection's loop ended.
enum End {
    /// The client closed or the socket failed; nothing more can be said to it.
    Gone,
    /// The server closes it with this code and reason.
    Close(u16, String),
}

impl End {
    fn close(code: u16, reason: &str) -> Self {
        End::Close(code, reason.to_owned())
    }
}

struct Connection {
    socket: WebSocket,
    hub: Hub,
    sessions: Sessions,
    store: Store,
    id: ConnId,
    shutdown: watch::Receiver<bool>,
    /// The session token from the upgrade request's cookie, if any.
    cookie_token: Option<String>,
    limits: Limits,
    metrics: Metrics,
    /// Counts this connection against the caps until it is dropped.
    _slot: ConnectionSlot,
}

/// Who this connection speaks for, once welcomed, and what it has sent them.
struct Me {
    session: SessionId,
    /// The room this connection last told it is typing in, if it still is.
    typing: Option<String>,
    /// When `typing: true` was last passed on.
    typing_sent: Option<Instant>,
    /// Per room, the highest `seq` this connection has sent the client, from the store or live.
    delivered: HashMap<String, u64>,
    /// The highest private-message id sent to the client.
    dm_delivered: u64,
}

/// What a welcomed connection listens to: every room of its session, and its private inbox.
struct Live {
    /// Keyed by a shared name: the map hands its key out with every delivery, and cloning an
    /// `Arc<str>` does not allocate.
    rooms: StreamMap<Arc<str>, Subscription>,
    inbox: Inbox,
}

impl Connection {
    async fn run(mut self) {
        self.metrics.connection_opened();
        // Boxed, like every rare and deep path below: an idle connection's task holds only what
        // waiting needs, not the largest state any of its handlers could reach (issue 6: memory per
        // idle connection).
        let end = match Box::pin(self.handshake()).await {
            Ok((mut me, mut live)) => {
                let end = self.chat(&mut me, &mut live).await;
                self.leave(&mut me);
                end
            }
            Err(end) => end,
        };
        if let End::Close(code, reason) = end {
            tracing::info!(code, reason, "closing");
            let close = Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            }));
            // The peer may already be gone; there is nobody left to tell.
            let _ = tokio::time::timeout(WRITE_TIMEOUT, self.socket.send(close)).await;
            // Finish the closing handshake: wait (briefly) for the client's close. Dropping a socket
            // with unread input resets it, and a reset can destroy our close frame before the client
            // reads it; then it would not know to come back.
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                while let Some(Ok(frame)) = self.socket.recv().await {
                    if matches!(frame, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
        self.metrics.connection_closed();
    }

    fn rooms(&self) -> Rooms<'_> {
        Rooms {
            hub: &self.hub,
            store: &self.store,
            sessions: &self.sessions,
        }
    }

    /// Waits for a valid `hello`, answers `welcome` and catches the client up.
    async fn handshake(&mut self) -> Result<(Me, Live), End> {
        let deadline = tokio::time::sleep(HELLO_TIMEOUT);
        tokio::pin!(deadline);
        loop {
            let frame = tokio::select! {
                frame = self.socket.recv() => frame,
                () = &mut deadline => return Err(End::close(CLOSE_POLICY, "no hello in time")),
                () = stopping(&mut self.shutdown) => return Err(End::close(CLOSE_RESTART, "server restarting")),
            };
            let Some(parsed) = self.incoming(frame)?.parse() else {
                continue;
            };
            let refusal = match parsed {
                Ok(ClientMsg::Hello {
                    nick,
                    session,
                    since,
                    dm_since,
                }) => match self.identify(&nick, session) {
                    Ok((session, nick, new_token)) => {
                        if new_token.is_some() {
                            self.save_session(session, &nick).await;
                        }
                        return self
                            .welcome(session, nick, new_token, since, dm_since)
                            .await;
                    }
                    Err(err) => err,
                },
                Ok(_) => FrameError::new(ErrorCode::HelloRequired, "say hello first"),
                Err(err) => err,
            };
            self.send(&refusal.to_server_msg()).await?;
        }
    }

    /// Everything after a good `hello`: rejoin the rooms `since` names, subscribe to every room of
    /// the session (before reading the store, so nothing falls between), announce, `welcome`, then
    /// each room's catch-up and the private messages'.
    async fn welcome(
        &mut self,
        session: SessionId,
        nick: String,
        new_token: Option<String>,
        since: BTreeMap<String, u64>,
        dm_since: Option<u64>,
    ) -> Result<(Me, Live), End> {
        let mut refused = Vec::new();
        for room in since.keys() {
            if let Err(err) = self.rooms().join(session, room, self.id).await {
                refused.push(err.to_server_msg());
            }
        }
        let rooms = self.sessions.rooms(session);
        let mut subscriptions = StreamMap::new();
        for room in &rooms {
            subscriptions.insert(Arc::from(room.as_str()), self.hub.subscribe(room, self.id));
        }
        let inbox = self.hub.connect(session, &nick, &rooms, self.id);
        let mut me = Me {
            session,
            typing: None,
            typing_sent: None,
            delivered: HashMap::new(),
            dm_delivered: 0,
        };
        let live = Live {
            rooms: subscriptions,
            inbox,
        };
        // Every session is in general, so `online` is always filled in here.
        let mut online = Vec::new();
        let mut members = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for room in &rooms {
            let (list, count) = self.hub.listing(room);
            if let Some(count) = count {
                counts.insert(room.clone(), count);
            }
            if room == GENERAL {
                online = list;
            } else {
                members.insert(room.clone(), list);
            }
        }
        let welcome = ServerMsg::Welcome {
            nick,
            rooms: rooms.clone(),
            online,
            members,
            counts,
            session: new_token,
        };
        let mut welcomed = self.send(&welcome).await;
        for err in &refused {
            if welcomed.is_ok() {
                welcomed = self.send(err).await;
            }
        }
        for room in &rooms {
            if welcomed.is_ok() {
                welcomed = self.catch_up(&mut me, room, since.get(room).copied()).await;
            }
        }
        if welcomed.is_ok() {
            welcomed = self.catch_up_directs(&mut me, dm_since).await;
        }
        match welcomed {
            Ok(()) => Ok((me, live)),
            Err(end) => {
                self.leave(&mut me);
                Err(end)
            }
        }
    }

    /// Finds (or, for a client without one, creates) the session a `hello` speaks for and opens a
    /// connection of it. Returns the session, its nickname and the token if it is new.
    fn identify(
        &self,
        nick: &str,
        token: Option<String>,
    ) -> Result<(SessionId, String, Option<String>), FrameError> {
        if let Some(token) = token.or_else(|| self.cookie_token.clone()) {
            let (session, _) = self.sessions.find(&token).ok_or_else(|| {
                FrameError::new(
                    ErrorCode::BadSession,
                    "unknown session: pick a nickname again",
                )
            })?;
            let nick = self.sessions.connect(session)?;
            return Ok((session, nick, None));
        }
        let created = self.sessions.create(nick)?;
        let nick = self.sessions.connect(created.id)?;
        Ok((created.id, nick, Some(created.token)))
    }

    /// Sends the client what it is missing of `room`: the latest page if it has nothing (`since` is
    /// `None`), exactly what came after `since` otherwise, or, if that gap is too large, the latest
    /// page with `reset`. A store failure is reported and the connection goes on live.
    async fn catch_up(&mut self, me: &mut Me, room: &str, since: Option<u64>) -> Result<(), End> {
        let history = match read_missing(&self.store, room, since).await {
            Ok(history) => history,
            Err(err) => {
                tracing::error!(%err, room, "catch-up read failed");
                let err = ServerMsg::error(
                    ErrorCode::Unavailable,
                    format!("the history of {room:?} is unavailable right now; live messages still arrive"),
                );
                return self.send(&err).await;
            }
        };
        if let ServerMsg::History { messages, .. } = &history {
            if let Some(Stored::Message(last)) = messages.last() {
                let delivered = me.delivered.entry(room.to_owned()).or_default();
                *delivered = (*delivered).max(last.seq);
            }
        }
        self.send(&history).await
    }

    /// Sends the client its private messages: the latest ones, or exactly those after `since`
    /// (the latest ones with `reset` if that gap is too large).
    async fn catch_up_directs(&mut self, me: &mut Me, since: Option<u64>) -> Result<(), End> {
        let Some(token_hash) = self.sessions.token_hash(me.session) else {
            return Ok(());
        };
        let read = async {
            if let Some(after) = since {
                let missed = self
                    .store
                    .directs(&token_hash, Some(after), CATCH_UP_LIMIT + 1)
                    .await?;
                if missed.len() <= CATCH_UP_LIMIT as usize {
                    return Ok((missed, false));
                }
            }
            let latest = self.store.directs(&token_hash, None, DM_PAGE).await?;
            Ok::<_, StoreError>((latest, since.is_some()))
        };
        match read.await {
            Ok((messages, reset)) => {
                if let Some(last) = messages.last() {
                    me.dm_delivered = me.dm_delivered.max(last.id);
                }
                self.send(&ServerMsg::DmHistory { messages, reset }).await
            }
            Err(err) => {
                tracing::error!(%err, "reading private messages failed");
                let err = ServerMsg::error(
                    ErrorCode::Unavailable,
                    "private messages are unavailable right now; new ones still arrive",
                );
                self.send(&err).await
            }
        }
    }

    /// Writes a session (new, or renamed) through to the store.
    async fn save_session(&mut self, session: SessionId, nick: &str) {
        if let Some(token_hash) = self.sessions.token_hash(session) {
            write_through(&self.store, &token_hash, nick).await;
        }
    }

    /// Tells the room this connection stopped typing in, if it had said it was typing.
    fn stop_typing(&self, me: &mut Me) {
        if let Some(room) = me.typing.take() {
            if let Some(nick) = self.sessions.nick(me.session) {
                let stopped = ServerMsg::Typing {
                    room: room.clone(),
                    nick,
                    active: false,
                };
                self.hub.broadcast(&room, self.id, &stopped);
            }
        }
    }

    /// Undoes the connect: presence (after its grace) and any typing indicator.
    fn leave(&self, me: &mut Me) {
        self.stop_typing(me);
        self.hub.disconnect(me.session, self.id);
        self.sessions.disconnect(me.session);
    }

    /// Sorts what the socket produced, counting it and enforcing the frame size limit.
    fn incoming(&self, frame: Option<Result<Message, axum::Error>>) -> Result<Incoming, End> {
        let incoming = Incoming::sort(frame)?;
        if let Incoming::Text(text) = &incoming {
            self.metrics.frame_in();
            let limit = self.limits.max_frame_bytes;
            if text.len() > limit {
                self.metrics.error(ErrorCode::TooLong);
                return Err(End::Close(
                    CLOSE_TOO_BIG,
                    format!("frame larger than {limit} bytes"),
                ));
            }
        }
        Ok(incoming)
    }

    /// The main loop after `welcome`. Pings the client when it is quiet, and closes it once it has
    /// said nothing (not even a pong) for the idle timeout: a dead peer never lingers in presence.
    async fn chat(&mut self, me: &mut Me, live: &mut Live) -> End {
        let mut last_heard = Instant::now();
        let mut ping = tokio::time::interval(self.limits.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        // Made once, not on every turn of the loop: waiting on the shared shutdown signal registers
        // with it, and doing that per wake-up of every connection is a lock they all contend for.
        let mut shutdown = self.shutdown.clone();
        let stop = stopping(&mut shutdown);
        tokio::pin!(stop);
        loop {
            let step = tokio::select! {
                frame = self.socket.recv() => {
                    last_heard = Instant::now();
                    match self.incoming(frame).map(Incoming::parse) {
                        Ok(Some(parsed)) => Box::pin(self.handle(me, live, parsed)).await,
                        Ok(None) => Ok(()),
                        Err(end) => Err(end),
                    }
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() >= self.limits.idle_timeout {
                        Err(End::close(CLOSE_GONE, "no answer to pings"))
                    } else {
                        self.send_message(Message::Ping(Default::default())).await
                    }
                },
                // Never empty (everyone is in general), so this branch never finishes.
                Some((room, received)) = live.rooms.next() => Box::pin(self.deliver_ready(me, live, room, received)).await,
                private = live.inbox.recv() => Box::pin(self.deliver_private(me, live, private)).await,
                () = &mut stop => Err(End::close(CLOSE_RESTART, "server restarting")),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Answers one client frame (or the error its parsing produced).
    async fn handle(
        &mut self,
        me: &mut Me,
        live: &mut Live,
        parsed: Result<ClientMsg, FrameError>,
    ) -> Result<(), End> {
        if let Ok(msg) = &parsed {
            if let Err(err) = self.sessions.throttle(me.session, Throttle::of(msg)) {
                let reply = match msg.client_id() {
                    Some(client_id) => refusal(err, client_id.to_owned()),
                    None => err.to_server_msg(),
                };
                return self.send(&reply).await;
            }
        }
        let reply = match parsed {
            Ok(ClientMsg::Say {
                room,
                text,
                client_id,
                action,
            }) => {
                // Receivers clear a typer's line when their message arrives; no frame needed.
                if me.typing.as_deref() == Some(room.as_str()) {
                    me.typing = None;
                }
                self.say(me, room, text, &client_id, action)
                    .await
                    .unwrap_or_else(|err| refusal(err, client_id))
            }
            Ok(ClientMsg::Dm {
                to,
                text,
                client_id,
                action,
            }) => self
                .dm(me, &to, text, &client_id, action)
                .await
                .unwrap_or_else(|err| refusal(err, client_id)),
            Ok(ClientMsg::Join { room }) => match self.join(me, live, &room).await {
                Ok(()) => return Ok(()),
                Err(Refused::Frame(err)) => err.to_server_msg(),
                Err(Refused::End(end)) => return Err(end),
            },
            Ok(ClientMsg::Leave { room }) => {
                match self.rooms().leave(me.session, &room, self.id).await {
                    Ok(()) => return self.reconcile(me, live).await,
                    Err(err) => err.to_server_msg(),
                }
            }
            Ok(ClientMsg::Nick { nick }) => match self.rename(me, &nick).await {
                Ok(()) => return Ok(()),
                Err(err) => err.to_server_msg(),
            },
            Ok(ClientMsg::Typing { room, active }) => match self.typing(me, &room, active) {
                Ok(()) => return Ok(()),
                Err(err) => err.to_server_msg(),
            },
            Ok(ClientMsg::History { room, before }) => self
                .older(me, &room, before)
                .await
                .unwrap_or_else(|err| err.to_server_msg()),
            Ok(ClientMsg::Hello { .. }) => ServerMsg::error(
                ErrorCode::AlreadyHello,
                "this connection already said hello",
            ),
            Err(err) => err.to_server_msg(),
        };
        self.send(&reply).await
    }

    fn nick(&self, me: &Me) -> Result<String, FrameError> {
        self.sessions
            .nick(me.session)
            .ok_or_else(|| FrameError::new(ErrorCode::BadSession, "the session has ended"))
    }

    /// Joins a room (creating it if new). This connection answers `joined` and the room's history;
    /// joining a room it is already in answers the same, so a client can always ask again.
    async fn join(&mut self, me: &mut Me, live: &mut Live, room: &str) -> Result<(), Refused> {
        self.rooms().join(me.session, room, self.id).await?;
        if live.rooms.contains_key(room) {
            self.send_joined(me, room).await?;
            Ok(())
        } else {
            Ok(self.reconcile(me, live).await?)
        }
    }

    /// Makes this connection's subscriptions match its session's rooms: stops listening to rooms
    /// the session left (`left`), and starts on rooms it joined (`joined` and their history).
    async fn reconcile(&mut self, me: &mut Me, live: &mut Live) -> Result<(), End> {
        let rooms = self.sessions.rooms(me.session);
        let gone: Vec<Arc<str>> = live
            .rooms
            .keys()
            .filter(|room| !rooms.iter().any(|r| r.as_str() == &***room))
            .cloned()
            .collect();
        for room in gone {
            live.rooms.remove(&*room);
            me.delivered.remove(&*room);
            if me.typing.as_deref() == Some(&*room) {
                self.stop_typing(me);
            }
            let room = room.to_string();
            self.send(&ServerMsg::Left { room }).await?;
        }
        for room in rooms {
            if !live.rooms.contains_key(room.as_str()) {
                // Subscribe first, then read the store: nothing falls between.
                live.rooms
                    .insert(Arc::from(room.as_str()), self.hub.subscribe(&room, self.id));
                self.send_joined(me, &room).await?;
            }
        }
        Ok(())
    }

    /// `joined` with who of the room is online, then its latest page.
    async fn send_joined(&mut self, me: &mut Me, room: &str) -> Result<(), End> {
        let (members, count) = self.hub.listing(room);
        let joined = ServerMsg::Joined {
            room: room.to_owned(),
            members,
            count,
        };
        self.send(&joined).await?;
        self.catch_up(me, room, None).await
    }

    /// Validates, stores and publishes a `say`; returns the sender's `ack`, sent only once the store
    /// has committed the message. A `client_id` this session used before in this room is acked with
    /// its first `seq` and not stored or published again.
    async fn say(
        &mut self,
        me: &Me,
        room: String,
        text: String,
        client_id: &str,
        action: bool,
    ) -> Result<ServerMsg, FrameError> {
        validate_client_id(client_id)?;
        validate_room(&room)?;
        let nick = self.nick(me)?;
        // Only the shareable parts go into the future; the socket stays out of it.
        let (hub, store, sessions, id) = (&self.hub, &self.store, &self.sessions, self.id);
        let publish = async {
            let stored = post(
                hub,
                store,
                sessions,
                id,
                Post {
                    room: &room,
                    session: me.session,
                    from: &nick,
                    text: &text,
                    client_id: Some(client_id),
                    action,
                },
            )
            .await?;
            Ok(stored.seq)
        };
        let seq = sessions.once(me.session, &room, client_id, publish).await?;
        Ok(ServerMsg::Ack {
            client_id: client_id.to_owned(),
            room: Some(room),
            seq: Some(seq),
            to: None,
        })
    }

    /// Validates, stores and delivers a private message; returns the sender's `ack`, sent only once
    /// the store has committed it. A repeated `client_id` is acked without storing it again.
    async fn dm(
        &mut self,
        me: &Me,
        to: &str,
        text: String,
        client_id: &str,
        action: bool,
    ) -> Result<ServerMsg, FrameError> {
        validate_client_id(client_id)?;
        validate_text(&text)?;
        let (recipient, to) = self.hub.find_online(to)?;
        let from = self.nick(me)?;
        let session_ended = || FrameError::new(ErrorCode::BadSession, "the session has ended");
        let from_session = self
            .sessions
            .token_hash(me.session)
            .ok_or_else(session_ended)?;
        let to_session = self.sessions.token_hash(recipient).ok_or_else(|| {
            FrameError::new(ErrorCode::UnknownUser, format!("{to:?} is not online"))
        })?;
        let (hub, store, sessions, id) = (&self.hub, &self.store, &self.sessions, self.id);
        let deliver = async {
            let earlier = store.direct_sent_before(&from_session, client_id).await;
            if let Some(dm) = earlier.map_err(unavailable)? {
                return Ok(dm.id);
            }
            let at = now_rfc3339();
            let commit = store.append_direct(DirectDraft {
                from_session: &from_session,
                to_session: &to_session,
                from: &from,
                to: &to,
                text: &text,
                at: &at,
                client_id: Some(client_id),
                action,
            });
            let dm = hub
                .direct_with(me.session, id, recipient, commit)
                .await
                .map_err(unavailable)?;
            Ok(dm.id)
        };
        sessions
            .once(me.session, DIRECT_SCOPE, client_id, deliver)
            .await?;
        Ok(ServerMsg::Ack {
            client_id: client_id.to_owned(),
            room: None,
            seq: None,
            to: Some(to),
        })
    }

    /// The page of history before seq `before`, for a client scrolling up.
    async fn older(&mut self, me: &Me, room: &str, before: u64) -> Result<ServerMsg, FrameError> {
        self.sessions.ensure_member(me.session, room)?;
        let page = self
            .store
            .history(room, Some(before), HISTORY_PAGE)
            .await
            .map_err(|err| {
                tracing::error!(%err, "reading older history failed");
                FrameError::new(ErrorCode::Unavailable, "history is unavailable right now")
            })?;
        Ok(ServerMsg::History {
            room: room.to_owned(),
            messages: page.messages.into_iter().map(Stored::Message).collect(),
            complete: page.complete,
            reset: false,
            before: Some(before),
        })
    }

    /// Renames this connection's session; everyone (this connection included) gets `renamed`.
    async fn rename(&mut self, me: &Me, nick: &str) -> Result<(), FrameError> {
        let (from, to) = self.sessions.rename(me.session, nick)?;
        if from != to {
            self.save_session(me.session, &to).await;
            self.hub.rename(me.session, &from, &to);
        }
        Ok(())
    }

    /// Passes a typing change on to the room's other connections. Typing in one room ends typing
    /// in another.
    fn typing(&self, me: &mut Me, room: &str, active: bool) -> Result<(), FrameError> {
        self.sessions.ensure_member(me.session, room)?;
        let here = me.typing.as_deref() == Some(room);
        if !active {
            if here {
                self.stop_typing(me);
            }
            return Ok(());
        }
        let refresh_due = me
            .typing_sent
            .is_none_or(|sent| sent.elapsed() >= TYPING_REFRESH);
        if here && !refresh_due {
            return Ok(());
        }
        if !here {
            self.stop_typing(me);
        }
        me.typing = Some(room.to_owned());
        me.typing_sent = Some(Instant::now());
        let typing = ServerMsg::Typing {
            room: room.to_owned(),
            nick: self.nick(me)?,
            active: true,
        };
        self.hub.broadcast(room, self.id, &typing);
        Ok(())
    }

    /// Forwards `received` and whatever else the rooms already have ready (up to a batch), writing
    /// them into the socket's buffer and flushing once: one write for a burst instead of one each.
    /// The whole burst gets one write timeout rather than one per frame (reading the clock per frame
    /// showed in the profile).
    async fn deliver_ready(
        &mut self,
        me: &mut Me,
        live: &mut Live,
        room: Arc<str>,
        received: Received,
    ) -> Result<(), End> {
        let burst = async {
            self.deliver(me, &room, received).await?;
            for _ in 1..DELIVERY_BATCH {
                match futures::FutureExt::now_or_never(live.rooms.next()) {
                    Some(Some((room, received))) => self.deliver(me, &room, received).await?,
                    _ => break,
                }
            }
            Ok::<(), End>(futures::SinkExt::flush(&mut self.socket).await?)
        };
        written(burst).await
    }

    /// Forwards what a room produced to the client (buffered; the caller flushes), skipping what
    /// catch-up already sent. After a lag the client is told, then resynced from the store.
    async fn deliver(&mut self, me: &mut Me, room: &str, received: Received) -> Result<(), End> {
        match received {
            Received::Frame(delivery) => match delivery.seq {
                Some(seq) => {
                    // The hot path: look the room up without allocating its name; catch-up has
                    // already entered every room this connection listens to.
                    let delivered = match me.delivered.get_mut(room) {
                        Some(delivered) => delivered,
                        None => me.delivered.entry(room.to_owned()).or_default(),
                    };
                    if seq <= *delivered {
                        return Ok(());
                    }
                    *delivered = seq;
                    self.feed_raw(delivery.frame).await
                }
                None => self.feed_raw(delivery.frame).await,
            },
            Received::Lagged { missed } => Box::pin(self.resync(me, room, missed)).await,
        }
    }

    /// Tells the client it fell behind in `room`, then sends what it missed from the store.
    async fn resync(&mut self, me: &mut Me, room: &str, missed: u64) -> Result<(), End> {
        self.metrics.lagged();
        tracing::info!(room, missed, "fell behind; resyncing from the store");
        let lagged = ServerMsg::Lagged {
            room: room.to_owned(),
            missed,
        };
        self.send(&lagged).await?;
        let since = me.delivered.get(room).copied().unwrap_or_default();
        self.catch_up(me, room, Some(since)).await
    }

    /// Forwards a private message, or follows the session into or out of rooms. If the inbox
    /// overflowed, both are resynced: rooms from the session, private messages from the store.
    async fn deliver_private(
        &mut self,
        me: &mut Me,
        live: &mut Live,
        private: Private,
    ) -> Result<(), End> {
        match private {
            Private::Dm { id, frame } if id > me.dm_delivered => {
                me.dm_delivered = id;
                self.send_raw(frame).await?;
            }
            Private::Dm { .. } => {}
            Private::RoomsChanged => self.reconcile(me, live).await?,
        }
        if live.inbox.take_missed() > 0 {
            self.reconcile(me, live).await?;
            let since = me.dm_delivered;
            self.catch_up_directs(me, Some(since)).await?;
        }
        Ok(())
    }

    async fn send(&mut self, msg: &ServerMsg) -> Result<(), End> {
        if let ServerMsg::Error { code, .. } = msg {
            self.metrics.error(*code);
        }
        self.send_raw(Utf8Bytes::from(msg.to_json())).await
    }

    async fn send_raw(&mut self, frame: Utf8Bytes) -> Result<(), End> {
        self.metrics.frame_out();
        self.send_message(Message::Text(frame)).await
    }

    /// Writes a frame into the socket's buffer without flushing it; the caller bounds the time.
    async fn feed_raw(&mut self, frame: Utf8Bytes) -> Result<(), End> {
        self.metrics.frame_out();
        Ok(futures::SinkExt::feed(&mut self.socket, Message::Text(frame)).await?)
    }

    async fn send_message(&mut self, message: Message) -> Result<(), End> {
        written(self.socket.send(message)).await
    }
}

/// Waits for a write to the client, for at most [`WRITE_TIMEOUT`]: a client whose socket stays full
/// that long is closed instead of holding its task forever.
async fn written<E>(write: impl std::future::Future<Output = Result<(), E>>) -> Result<(), End>
where
    End: From<E>,
{
    match tokio::time::timeout(WRITE_TIMEOUT, write).await {
        Ok(result) => result.map_err(End::from),
        Err(_) => Err(End::close(CLOSE_POLICY, "too slow to read")),
    }
}

impl From<axum::Error> for End {
    /// A failed write: the client is gone.
    fn from(_: axum::Error) -> Self {
        End::Gone
    }
}

/// A request refused with an error frame, or a connection that ended while answering it.
enum Refused {
    Frame(FrameError),
    End(End),
}

impl From<FrameError> for Refused {
    fn from(err: FrameError) -> Self {
        Refused::Frame(err)
    }
}

impl From<End> for Refused {
    fn from(end: End) -> Self {
        Refused::End(end)
    }
}

/// What a client that saw up to `since` is missing of `room`, as a `history` frame.
async fn read_missing(
    store: &Store,
    room: &str,
    since: Option<u64>,
) -> Result<ServerMsg, StoreError> {
    if let Some(after) = since {
        let missed = store.since(room, after, CATCH_UP_LIMIT + 1).await?;
        if missed.len() <= CATCH_UP_LIMIT as usize {
            return Ok(history(room, missed, true, false));
        }
    }
    let page = store.history(room, None, HISTORY_PAGE).await?;
    Ok(history(room, page.messages, page.complete, since.is_some()))
}

/// A `history` frame of `room`.
fn history(room: &str, messages: Vec<ChatMessage>, complete: bool, reset: bool) -> ServerMsg {
    ServerMsg::History {
        room: room.to_owned(),
        messages: messages.into_iter().map(Stored::Message).collect(),
        complete,
        reset,
        before: None,
    }
}
/// A refused `say` or `dm`: the error, naming the message when its `client_id` is usable.
fn refusal(err: FrameError, client_id: String) -> ServerMsg {
    if validate_client_id(&client_id).is_ok() {
        err.about(client_id)
    } else {
        err.to_server_msg()
    }
}

/// Resolves once the server is shutting down (at once if it already is).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also only happens at shutdown.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// One websocket message from the client, sorted.
enum Incoming {
    /// A text frame: to be parsed as a [`ClientMsg`].
    Text(Utf8Bytes),
    /// A frame the client must be told it cannot send.
    Refused(FrameError),
    /// A control frame that needs no answer (axum answers pings by itself).
    Control,
}

impl Incoming {
    /// Sorts what `WebSocket::recv` returned; `Err` when the connection is over.
    fn sort(frame: Option<Result<Message, axum::Error>>) -> Result<Self, End> {
        match frame {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Err(End::Gone),
            Some(Ok(Message::Text(text))) => Ok(Incoming::Text(text)),
            Some(Ok(Message::Binary(_))) => Ok(Incoming::Refused(FrameError::new(
                ErrorCode::Unsupported,
                "binary frames are not supported; send JSON text frames",
            ))),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(Incoming::Control),
        }
    }

    /// The typed client message, or the error to answer with. `None` for control frames.
    fn parse(self) -> Option<Result<ClientMsg, FrameError>> {
        match self {
            Incoming::Text(text) => Some(ClientMsg::parse(text.as_str())),
            Incoming::Refused(err) => Some(Err(err)),
            Incoming::Control => None,
        }
    }
}
