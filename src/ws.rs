//! The websocket transport: `GET /ws`, one task per connection.
//!
//! A connection goes through two phases. Until a good `hello` it only answers that frame (anything
//! else gets `hello_required`). The `hello` names a session: the browser's cookie, a `session` field,
//! or, for a client without one, a new session claiming `nick`. After the `welcome` it catches the
//! client up from the store (the latest messages, or exactly those after the `since` it sent), then a
//! single task `select!`s between the client's frames, the `general` room's deliveries and the
//! connection's private inbox. A client that reads slowly only slows its own task: the hub's ring
//! moves on without it, and it is told it lagged and resynced from the store.
//!
//! No message falls between catch-up and live traffic: the connection subscribes to the room
//! *before* it reads the store, and then skips live deliveries whose `seq` it already sent.
//! A message is acked only after the store has committed it.
//!
//! Every frame is parsed at the edge by [`ClientMsg::parse`]; a bad one is answered with a typed
//! error and the connection stays open.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use tokio::sync::watch;

use crate::hub::{now_rfc3339, ConnId, Hub, Inbox, Received, Subscription};
use crate::post::{ensure_member, post, Post};
use crate::protocol::{
    validate_client_id, validate_text, ChatMessage, ClientMsg, DirectMessage, ErrorCode,
    FrameError, ServerMsg, Stored, GENERAL,
};
use crate::session::{write_through, SessionId, Sessions, COOKIE};
use crate::state::AppState;
use crate::store::{Store, StoreError};

/// How many messages a fresh connection is shown from the room's history.
const HISTORY_PAGE: u32 = 50;

/// The largest gap a catch-up fills message by message; beyond it the client gets the latest page
/// with `reset` and reloads the room instead.
const CATCH_UP_LIMIT: u32 = 1000;

/// Largest websocket message accepted from a client. A `say` at the text limit is ~16 KiB of UTF-8
/// at worst (4000 four-byte characters) plus its envelope.
pub const MAX_FRAME_BYTES: usize = 20 * 1024;

/// How long a client may take to send its `hello` before it is closed.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one write to a client may take. A client whose socket stays full this long is gone
/// (or hostile); closing it frees its task instead of letting it sit forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// A typer's `active: true` is passed on at most this often; clients refresh it while typing so a
/// receiver's expiry timer does not clear it, and this keeps a chatty client from flooding the room.
const TYPING_REFRESH: Duration = Duration::from_millis(1500);

/// Close code sent when the server shuts down: "service restart", the client should come back.
const CLOSE_RESTART: u16 = 1012;
/// Close code for a client that never said hello, or cannot be written to: "policy violation".
const CLOSE_POLICY: u16 = 1008;

/// The pseudo-room private-message acks and lag reports are filed under.
const DIRECT: &str = "direct";

/// The axum handler for `GET /ws`. A browser's session arrives in its cookie.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    jar: CookieJar,
) -> Response {
    let cookie_token = jar.get(COOKIE).map(|c| c.value().to_owned());
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            let conn = Connection {
                socket,
                id: state.hub.connection_id(),
                hub: state.hub,
                sessions: state.sessions,
                store: state.store,
                shutdown: state.shutdown,
                cookie_token,
            };
            conn.run().await;
        })
}

/// Why a connection's loop ended.
enum End {
    /// The client closed or the socket failed; nothing more can be said to it.
    Gone,
    /// The server closes it with this code and reason.
    Close(u16, &'static str),
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
}

/// Who this connection speaks for, once welcomed.
struct Me {
    session: SessionId,
    /// Whether this connection last told the room it is typing.
    typing: bool,
    /// When `typing: true` was last passed on.
    typing_sent: Option<Instant>,
    /// The highest `seq` of `general` this connection has sent the client, from the store or live.
    delivered: u64,
}

impl Connection {
    async fn run(mut self) {
        let end = match self.handshake().await {
            Ok((mut me, mut general, mut inbox)) => {
                let end = self.chat(&mut me, &mut general, &mut inbox).await;
                self.leave(&me);
                end
            }
            Err(end) => end,
        };
        if let End::Close(code, reason) = end {
            let close = Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            }));
            // The peer may already be gone; there is nobody left to tell.
            let _ = tokio::time::timeout(WRITE_TIMEOUT, self.socket.send(close)).await;
        }
    }

    /// Waits for a valid `hello` and answers `welcome`.
    async fn handshake(&mut self) -> Result<(Me, Subscription, Inbox), End> {
        let deadline = tokio::time::sleep(HELLO_TIMEOUT);
        tokio::pin!(deadline);
        loop {
            let frame = tokio::select! {
                frame = self.socket.recv() => frame,
                () = &mut deadline => return Err(End::Close(CLOSE_POLICY, "no hello in time")),
                () = stopping(&mut self.shutdown) => return Err(End::Close(CLOSE_RESTART, "server restarting")),
            };
            let Some(parsed) = Incoming::sort(frame)?.parse() else {
                continue;
            };
            let refusal = match parsed {
                Ok(ClientMsg::Hello {
                    nick,
                    session,
                    since,
                }) => match self.identify(&nick, session) {
                    Ok((session, nick, new_token)) => {
                        if new_token.is_some() {
                            self.save_session(session, &nick).await;
                        }
                        // Subscribe before announcing, so nothing said from here on is missed.
                        let general = self.hub.subscribe(GENERAL, self.id);
                        let inbox = self.hub.connect(session, &nick, self.id);
                        let welcome = ServerMsg::Welcome {
                            nick,
                            rooms: vec![GENERAL.to_owned()],
                            online: self.hub.online(),
                            session: new_token,
                        };
                        let mut me = Me {
                            session,
                            typing: false,
                            typing_sent: None,
                            delivered: 0,
                        };
                        let since = since.get(GENERAL).copied();
                        let welcomed = match self.send(&welcome).await {
                            Ok(()) => self.catch_up(&mut me, since).await,
                            Err(end) => Err(end),
                        };
                        if let Err(end) = welcomed {
                            self.leave(&me);
                            return Err(end);
                        }
                        return Ok((me, general, inbox));
                    }
                    Err(err) => err,
                },
                Ok(_) => FrameError::new(ErrorCode::HelloRequired, "say hello first"),
                Err(err) => err,
            };
            self.send(&refusal.to_server_msg()).await?;
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

    /// Sends the client what it is missing of `general`: the latest page if it has nothing
    /// (`since` is `None`), exactly what came after `since` otherwise, or, if that gap is too large,
    /// the latest page with `reset`. A store failure is reported and the connection goes on live.
    async fn catch_up(&mut self, me: &mut Me, since: Option<u64>) -> Result<(), End> {
        let history = match read_missing(&self.store, since).await {
            Ok(history) => history,
            Err(err) => {
                tracing::error!(%err, "catch-up read failed");
                let err = ServerMsg::error(
                    ErrorCode::Unavailable,
                    "history is unavailable right now; live messages still arrive",
                );
                return self.send(&err).await;
            }
        };
        if let ServerMsg::History { messages, .. } = &history {
            if let Some(Stored::Message(last)) = messages.last() {
                me.delivered = me.delivered.max(last.seq);
            }
        }
        self.send(&history).await
    }

    /// Writes a session (new, or renamed) through to the store.
    async fn save_session(&mut self, session: SessionId, nick: &str) {
        if let Some(token_hash) = self.sessions.token_hash(session) {
            write_through(&self.store, &token_hash, nick).await;
        }
    }

    /// Undoes the connect: presence (after its grace) and any typing indicator.
    fn leave(&self, me: &Me) {
        if me.typing {
            if let Some(nick) = self.sessions.nick(me.session) {
                let stopped = ServerMsg::Typing {
                    room: GENERAL.to_owned(),
                    nick,
                    active: false,
                };
                self.hub.broadcast(GENERAL, self.id, &stopped);
            }
        }
        self.hub.disconnect(me.session, self.id);
        self.sessions.disconnect(me.session);
    }

    /// The main loop after `welcome`.
    async fn chat(&mut self, me: &mut Me, general: &mut Subscription, inbox: &mut Inbox) -> End {
        loop {
            let step = tokio::select! {
                frame = self.socket.recv() => match Incoming::sort(frame).map(Incoming::parse) {
                    Ok(Some(parsed)) => self.handle(me, parsed).await,
                    Ok(None) => Ok(()),
                    Err(end) => Err(end),
                },
                received = general.recv() => self.deliver(me, general, received).await,
                frame = inbox.recv() => self.deliver_direct(inbox, frame).await,
                () = stopping(&mut self.shutdown) => Err(End::Close(CLOSE_RESTART, "server restarting")),
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
        parsed: Result<ClientMsg, FrameError>,
    ) -> Result<(), End> {
        let reply = match parsed {
            Ok(ClientMsg::Say {
                room,
                text,
                client_id,
                action,
            }) => {
                me.typing = false;
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
            Ok(ClientMsg::Nick { nick }) => match self.rename(me, &nick).await {
                Ok(()) => return Ok(()),
                Err(err) => err.to_server_msg(),
            },
            Ok(ClientMsg::Typing { room, active }) => match self.typing(me, &room, active) {
                Ok(()) => return Ok(()),
                Err(err) => err.to_server_msg(),
            },
            Ok(ClientMsg::History { room, before }) => self
                .older(&room, before)
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
        let nick = self.nick(me)?;
        let session_hash = self.sessions.token_hash(me.session);
        // Only the shareable parts go into the future; the socket stays out of it.
        let (hub, store, sessions, id) = (&self.hub, &self.store, &self.sessions, self.id);
        let publish = async {
            let stored = post(
                hub,
                store,
                id,
                Post {
                    room: &room,
                    from: &nick,
                    text: &text,
                    client_id: Some(client_id),
                    action,
                    session_hash: session_hash.as_deref(),
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

    /// Validates and delivers a private message; returns the sender's `ack`.
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
        let to = self.hub.find_online(to).ok_or_else(|| {
            FrameError::new(ErrorCode::UnknownUser, format!("{to:?} is not online"))
        })?;
        // Private messages are filed per recipient for de-duplication; they have no seq (yet).
        let key = format!("{DIRECT}:{}", to.to_lowercase());
        let from = self.nick(me)?;
        let (hub, sessions, id) = (&self.hub, &self.sessions, self.id);
        let deliver = async {
            let dm = ServerMsg::Dm(DirectMessage {
                from,
                to: to.clone(),
                text,
                at: now_rfc3339(),
                client_id: Some(client_id.to_owned()),
                action,
            });
            hub.direct(me.session, id, &to, &dm)?;
            Ok(0)
        };
        sessions.once(me.session, &key, client_id, deliver).await?;
        Ok(ServerMsg::Ack {
            client_id: client_id.to_owned(),
            room: None,
            seq: None,
            to: Some(to),
        })
    }

    /// The page of history before seq `before`, for a client scrolling up.
    async fn older(&mut self, room: &str, before: u64) -> Result<ServerMsg, FrameError> {
        ensure_member(room)?;
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

    /// Passes a typing change on to the room's other connections.
    fn typing(&self, me: &mut Me, room: &str, active: bool) -> Result<(), FrameError> {
        ensure_member(room)?;
        let refresh_due = me
            .typing_sent
            .is_none_or(|sent| sent.elapsed() >= TYPING_REFRESH);
        if active == me.typing && !(active && refresh_due) {
            return Ok(());
        }
        me.typing = active;
        if active {
            me.typing_sent = Some(Instant::now());
        }
        let typing = ServerMsg::Typing {
            room: room.to_owned(),
            nick: self.nick(me)?,
            active,
        };
        self.hub.broadcast(room, self.id, &typing);
        Ok(())
    }

    /// Forwards what the room produced to the client, skipping what catch-up already sent. After a
    /// lag the client is told, then resynced from the store.
    async fn deliver(
        &mut self,
        me: &mut Me,
        sub: &Subscription,
        received: Received,
    ) -> Result<(), End> {
        match received {
            Received::Frame(delivery) => match delivery.seq {
                Some(seq) if seq <= me.delivered => Ok(()),
                Some(seq) => {
                    me.delivered = seq;
                    self.send_raw(delivery.frame).await
                }
                None => self.send_raw(delivery.frame).await,
            },
            Received::Lagged { missed } => {
                let lagged = ServerMsg::Lagged {
                    room: sub.room().to_owned(),
                    missed,
                };
                self.send(&lagged).await?;
                let since = me.delivered;
                self.catch_up(me, Some(since)).await
            }
        }
    }

    /// Forwards a private frame, then reports any that did not fit in the inbox.
    async fn deliver_direct(&mut self, inbox: &Inbox, frame: Utf8Bytes) -> Result<(), End> {
        self.send_raw(frame).await?;
        let missed = inbox.take_missed();
        if missed > 0 {
            let lagged = ServerMsg::Lagged {
                room: DIRECT.to_owned(),
                missed,
            };
            self.send(&lagged).await?;
        }
        Ok(())
    }

    async fn send(&mut self, msg: &ServerMsg) -> Result<(), End> {
        self.send_raw(Utf8Bytes::from(msg.to_json())).await
    }

    async fn send_raw(&mut self, frame: Utf8Bytes) -> Result<(), End> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.socket.send(Message::Text(frame))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::Close(CLOSE_POLICY, "too slow to read")),
        }
    }
}

/// What a client that saw up to `since` is missing of `general`, as a `history` frame.
async fn read_missing(store: &Store, since: Option<u64>) -> Result<ServerMsg, StoreError> {
    if let Some(after) = since {
        let missed = store.since(GENERAL, after, CATCH_UP_LIMIT + 1).await?;
        if missed.len() <= CATCH_UP_LIMIT as usize {
            return Ok(history(missed, true, false));
        }
    }
    let page = store.history(GENERAL, None, HISTORY_PAGE).await?;
    Ok(history(page.messages, page.complete, since.is_some()))
}

/// A `history` frame of `general`.
fn history(messages: Vec<ChatMessage>, complete: bool, reset: bool) -> ServerMsg {
    ServerMsg::History {
        room: GENERAL.to_owned(),
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
