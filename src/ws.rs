//! The websocket transport: `GET /ws`, one task per connection.
//!
//! A connection goes through two phases. Until a good `hello` it only answers that frame (anything
//! else gets `hello_required`). After the `welcome` it is subscribed to `general` and a single task
//! `select!`s between the client's frames and the room's deliveries, so a client that reads slowly
//! only slows its own task: the hub's ring moves on without it and it is told it lagged.
//!
//! Every frame is parsed at the edge by [`ClientMsg::parse`]; a bad one is answered with a typed
//! error and the connection stays open.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use tokio::sync::watch;

use crate::hub::{ConnId, Hub, Received, Subscription};
use crate::protocol::{
    validate_client_id, validate_nick, validate_text, ClientMsg, ErrorCode, FrameError, ServerMsg,
    GENERAL,
};
use crate::state::AppState;

/// Largest websocket message accepted from a client. A `say` at the text limit is ~16 KiB of UTF-8
/// at worst (4000 four-byte characters) plus its envelope.
pub const MAX_FRAME_BYTES: usize = 20 * 1024;

/// How long a client may take to send its `hello` before it is closed.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one write to a client may take. A client whose socket stays full this long is gone
/// (or hostile); closing it frees its task instead of letting it sit forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// Close code sent when the server shuts down: "service restart", the client should come back.
const CLOSE_RESTART: u16 = 1012;
/// Close code for a client that never said hello: "policy violation".
const CLOSE_POLICY: u16 = 1008;

/// The axum handler for `GET /ws`.
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            let conn = Connection {
                socket,
                hub: state.hub.clone(),
                id: state.hub.connection_id(),
                shutdown: state.shutdown.clone(),
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
    id: ConnId,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self) {
        let end = match self.handshake().await {
            Ok(nick) => self.chat(nick).await,
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

    /// Waits for a valid `hello` and answers `welcome`; returns the nickname.
    async fn handshake(&mut self) -> Result<String, End> {
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
            let reply = match parsed {
                Ok(ClientMsg::Hello { nick }) => match validate_nick(&nick) {
                    Ok(nick) => {
                        let welcome = ServerMsg::Welcome {
                            nick: nick.clone(),
                            rooms: vec![GENERAL.to_owned()],
                        };
                        self.send(&welcome).await?;
                        return Ok(nick);
                    }
                    Err(err) => err,
                },
                Ok(_) => FrameError::new(ErrorCode::HelloRequired, "say hello first"),
                Err(err) => err,
            };
            self.send(&reply.to_server_msg()).await?;
        }
    }

    /// The main loop after `welcome`.
    async fn chat(&mut self, nick: String) -> End {
        let mut general = self.hub.subscribe(GENERAL, self.id);
        loop {
            let step = tokio::select! {
                frame = self.socket.recv() => match Incoming::sort(frame).map(Incoming::parse) {
                    Ok(Some(parsed)) => self.handle(&nick, parsed).await,
                    Ok(None) => Ok(()),
                    Err(end) => Err(end),
                },
                received = general.recv() => self.deliver(&general, received).await,
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
        nick: &str,
        parsed: Result<ClientMsg, FrameError>,
    ) -> Result<(), End> {
        let reply = match parsed {
            Ok(ClientMsg::Say {
                room,
                text,
                client_id,
            }) => match self.say(nick, room, text, &client_id) {
                Ok(ack) => ack,
                Err(err) if validate_client_id(&client_id).is_ok() => err.about(client_id),
                Err(err) => err.to_server_msg(),
            },
            Ok(ClientMsg::Hello { .. }) => ServerMsg::error(
                ErrorCode::AlreadyHello,
                "this connection already said hello",
            ),
            Err(err) => err.to_server_msg(),
        };
        self.send(&reply).await
    }

    /// Validates and publishes a `say`; returns the sender's `ack`.
    fn say(
        &self,
        nick: &str,
        room: String,
        text: String,
        client_id: &str,
    ) -> Result<ServerMsg, FrameError> {
        validate_client_id(client_id)?;
        validate_text(&text)?;
        if room != GENERAL {
            return Err(FrameError::new(
                ErrorCode::UnknownRoom,
                format!("you are not in the room {room:?}"),
            ));
        }
        let posted = self
            .hub
            .publish(self.id, &room, nick, text, Some(client_id.to_owned()));
        Ok(ServerMsg::Ack {
            client_id: client_id.to_owned(),
            room,
            seq: posted.seq,
        })
    }

    /// Forwards what the room produced to the client.
    async fn deliver(&mut self, sub: &Subscription, received: Received) -> Result<(), End> {
        match received {
            Received::Frame(delivery) => self.send_raw(delivery.frame).await,
            Received::Lagged { missed } => {
                let lagged = ServerMsg::Lagged {
                    room: sub.room().to_owned(),
                    missed,
                };
                self.send(&lagged).await
            }
        }
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
