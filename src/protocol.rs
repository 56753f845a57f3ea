//! The wire protocol: every frame that crosses the websocket at `GET /ws`.
//!
//! Each frame is one JSON object in a websocket text frame, tagged by its `"type"` field. These types
//! are compiled into both the server and the wasm client, so the two cannot drift apart; bots, the
//! load tool and the tests rely on the same names, documented in `docs/protocol.md`.
//!
//! Parsing happens here and nowhere else: [`ClientMsg::parse`] turns a text frame into a typed message
//! or a typed [`ErrorCode`], so the connection handler never sees raw JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The room every connection is in from its `hello` on.
pub const GENERAL: &str = "general";

/// Longest accepted nickname, in characters (not bytes: Unicode names are welcome).
pub const MAX_NICK_CHARS: usize = 32;

/// Longest accepted message text, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Longest accepted `client_id`; it is echoed back in acks and frames, so it must stay small.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// Longest room name, in characters (lowercase letters, digits and dashes).
pub const MAX_ROOM_CHARS: usize = 32;

/// How many rooms one session may be in, `general` included.
pub const MAX_ROOMS: usize = 50;

/// Longest accepted request `id`; it is echoed back as `reply_to`.
pub const MAX_REQUEST_ID_CHARS: usize = 64;

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// The first frame of every connection: who is talking. A browser's session comes in its cookie;
    /// other clients may name theirs in `session`. Without a session, `nick` claims a new one.
    Hello {
        #[serde(default)]
        nick: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
        /// The last `seq` this client saw per room: the server sends exactly what came after, before
        /// anything live. Without it, the room's latest messages are sent.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        since: BTreeMap<String, u64>,
        /// The highest private-message `id` this client saw: the server sends the ones after it.
        /// Without it, the latest private messages are sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dm_since: Option<u64>,
    },
    /// Join `room`, creating it if nobody has yet. Every tab of the session joins with it.
    Join { room: String },
    /// Leave `room` (`general` cannot be left). Every tab of the session leaves with it.
    Leave { room: String },
    /// Post `text` to `room`. `client_id` is the sender's own id for the message, echoed in its `ack`
    /// and in the `message` others receive, so a client can match the two; a retry reuses it.
    Say {
        room: String,
        text: String,
        client_id: String,
        /// A `/me` action: shown as "alice waves" rather than as a quote.
        #[serde(default, skip_serializing_if = "is_false")]
        action: bool,
    },
    /// Change my nickname.
    Nick { nick: String },
    /// I started (`true`) or stopped (`false`) typing in `room`.
    Typing { room: String, active: bool },
    /// Asks for the page of `room`'s history just before seq `before` (scrolling up).
    History { room: String, before: u64 },
    /// A private message to one person.
    Dm {
        to: String,
        text: String,
        client_id: String,
        #[serde(default, skip_serializing_if = "is_false")]
        action: bool,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ClientMsg {
    /// Parses one websocket text frame. Anything that is not a well-formed client frame is a
    /// [`ErrorCode::BadFrame`], with a message precise enough for a client author to fix it.
    pub fn parse(frame: &str) -> Result<Self, FrameError> {
        serde_json::from_str(frame).map_err(|err| {
            FrameError::new(
                ErrorCode::BadFrame,
                format!("not a valid client frame: {err}"),
            )
        })
    }

    /// The sender's id for the message, for frames that carry one (`say`, `dm`).
    pub fn client_id(&self) -> Option<&str> {
        match self {
            ClientMsg::Say { client_id, .. } | ClientMsg::Dm { client_id, .. } => Some(client_id),
            _ => None,
        }
    }

    /// The frame as sent on the wire.
    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail: no maps with non-string keys, no custom impls.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A client frame with its optional request id: `{"type":"join","room":"rust","id":"r-7"}`. The
/// server's answer to it (an `error`, or the frame that completes it: `joined`, `left`, `renamed`,
/// `history`) carries the id back as `reply_to`, so a client always knows which request an answer
/// belongs to. `say` and `dm` are named by their `client_id` instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: Option<String>,
    pub msg: ClientMsg,
}

impl Request {
    /// Parses one websocket text frame. A bad frame is a [`ErrorCode::BadFrame`] that still
    /// carries the request id when one could be read, so even that refusal names its request.
    pub fn parse(frame: &str) -> Result<Self, (Option<String>, FrameError)> {
        #[derive(Deserialize)]
        struct Envelope {
            #[serde(default)]
            id: Option<serde_json::Value>,
            #[serde(flatten)]
            msg: ClientMsg,
        }
        #[derive(Deserialize)]
        struct IdOnly {
            #[serde(default)]
            id: Option<serde_json::Value>,
        }
        let request_id = |id: Option<serde_json::Value>| -> Result<Option<String>, FrameError> {
            match id {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(id))
                    if (1..=MAX_REQUEST_ID_CHARS).contains(&id.chars().count()) =>
                {
                    Ok(Some(id))
                }
                Some(_) => Err(FrameError::new(
                    ErrorCode::BadFrame,
                    format!("id must be a string of 1 to {MAX_REQUEST_ID_CHARS} characters"),
                )),
            }
        };
        match serde_json::from_str::<Envelope>(frame) {
            Ok(Envelope { id, msg }) => match request_id(id) {
                Ok(id) => Ok(Request { id, msg }),
                Err(err) => Err((None, err)),
            },
            Err(err) => {
                let id = serde_json::from_str::<IdOnly>(frame)
                    .ok()
                    .and_then(|only| request_id(only.id).ok().flatten());
                Err((
                    id,
                    FrameError::new(
                        ErrorCode::BadFrame,
                        format!("not a valid client frame: {err}"),
                    ),
                ))
            }
        }
    }
}

/// A chat message as stored and delivered; also the shape of a `message` frame's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub room: String,
    /// Per-room sequence number: it only grows, so a client can order and de-duplicate by it.
    pub seq: u64,
    pub from: String,
    pub text: String,
    /// When the server accepted the message, RFC 3339 in UTC.
    pub at: String,
    /// The sender's id for the message, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A `/me` action.
    #[serde(default, skip_serializing_if = "is_false")]
    pub action: bool,
}

/// A private message, as delivered to both parties' connections (`"type":"dm"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectMessage {
    /// Its number among all private messages: it only grows, so a client can de-duplicate by it and
    /// ask for what came after it (`hello.dm_since`).
    pub id: u64,
    pub from: String,
    pub to: String,
    pub text: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub action: bool,
}

/// A frame sent by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The answer to a good `hello`: the nickname as the server will show it, the rooms joined and who
    /// is online (the newcomer included). `session` is set only when this `hello` created the session,
    /// so a bot can reconnect as itself.
    Welcome {
        nick: String,
        rooms: Vec<String>,
        #[serde(default)]
        online: Vec<String>,
        /// Who of each of my rooms but `general` is online (in `general` that is `online`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        members: BTreeMap<String, Vec<String>>,
        /// The rooms (`general` included) whose lists above were cut short because the room is a
        /// crowd, with how many are online there in all.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        counts: BTreeMap<String, usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
    },
    /// Someone else's message.
    Message(ChatMessage),
    /// The sender's own message was accepted (it gets this instead of an echo). Room messages carry
    /// their `room` and `seq`; private ones their recipient `to` and their `id`.
    Ack {
        client_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        /// A private message's id, as its `dm` frame carries it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// A frame was refused. The connection stays open unless the code says otherwise. A refused `say`
    /// or `dm` carries its `client_id`, so the client can mark that message as failed.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// For `rate_limited`: how long to wait before the next frame of that kind is accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// The `id` of the request refused, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// The connection fell behind and `missed` messages of `room` were not delivered to it.
    /// The client knows it has a gap; it is never cut off without being told.
    Lagged { room: String, missed: u64 },
    /// Someone came online (their first tab) or went offline (their last tab closed). Coming online,
    /// it lists the rooms they are in besides `general` (omitted if none).
    Presence {
        nick: String,
        online: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rooms: Vec<String>,
    },
    /// This session joined `room` (on this tab or another): who of it is online. Its `history`
    /// follows.
    Joined {
        room: String,
        members: Vec<String>,
        /// How many are online in all, when `members` was cut short (a crowd).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<usize>,
        /// On the connection that asked: the `id` of its `join`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// This session left `room` (on this tab or another); nothing more of it arrives.
    Left {
        room: String,
        /// On the connection that asked: the `id` of its `leave`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// Someone online joined (`joined: true`) or left `room`; sent to the room's members.
    Member {
        room: String,
        nick: String,
        joined: bool,
    },
    /// A crowd's comings and goings, summed up: in a room with more people online than it lists,
    /// `presence` and `member` frames give way to this, at most about once a second. `members`, the
    /// whole list, comes only once it fits again.
    Roster {
        room: String,
        count: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        members: Option<Vec<String>>,
    },
    /// Someone changed their nickname.
    Renamed {
        from: String,
        to: String,
        /// On the connection that asked: the `id` of its `nick`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// Someone started or stopped typing in `room`.
    Typing {
        room: String,
        nick: String,
        active: bool,
    },
    /// A private message: to the recipient's connections and to the sender's other ones.
    Dm(DirectMessage),
    /// Stored private messages of this session, oldest first, each shaped like a `dm` frame: the
    /// latest ones after `welcome`, or exactly those after `hello.dm_since`.
    DmHistory {
        messages: Vec<DirectMessage>,
        /// The gap after `dm_since` was too large: these are only the latest ones.
        #[serde(default, skip_serializing_if = "is_false")]
        reset: bool,
        /// More `dm_history` frames follow at once (a catch-up too large for one frame).
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
    },
    /// Stored messages of `room`, oldest first, each shaped like a `message` frame: the latest ones
    /// after `welcome`, exactly the missed ones after a `since`, or the missed ones after a lag.
    /// `complete` says whether they reach back to the room's first message. `reset` says the gap
    /// was too large to fill: the client should replace what it shows of the room with these.
    History {
        room: String,
        messages: Vec<Stored>,
        complete: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        reset: bool,
        /// Set when this answers a client's `history` request: the page ends just before this seq.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        /// More `history` frames of this room follow at once: a catch-up too large for one frame
        /// comes in several, each continuing where the last ended.
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
        /// The `id` of the `history` request this answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
}

/// An entry of a `history` frame: a message, tagged like a `message` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Stored {
    Message(ChatMessage),
}

impl ServerMsg {
    /// The frame as sent on the wire.
    pub fn to_json(&self) -> String {
        // Cannot fail for these types; see `ClientMsg::to_json`.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a server frame (used by the wasm client and the tests).
    pub fn parse(frame: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(frame)
    }

    /// An error frame.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMsg::Error {
            code,
            message: message.into(),
            client_id: None,
            retry_after_ms: None,
            reply_to: None,
        }
    }
}

/// Stable, snake_case error codes. Clients switch on these; the `message` beside them is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, an unknown `type`, or a missing or mistyped field.
    BadFrame,
    /// A frame other than `hello` arrived before the `hello`.
    HelloRequired,
    /// A second `hello` on a connection that already has one.
    AlreadyHello,
    /// The nickname breaks the rules (empty, too long, control characters).
    NickInvalid,
    /// The nickname is in use by someone else.
    NickTaken,
    /// The session token is unknown (expired, forged, or the server forgot it).
    BadSession,
    /// A private message to someone who is not online.
    UnknownUser,
    /// The message text is empty after trimming.
    Empty,
    /// The message text is longer than [`MAX_TEXT_CHARS`].
    TooLong,
    /// The `client_id` is empty or longer than [`MAX_CLIENT_ID_CHARS`].
    BadClientId,
    /// The room does not exist or the connection is not in it.
    UnknownRoom,
    /// A room name breaks the rules: 1–32 lowercase letters, digits and dashes.
    RoomInvalid,
    /// `general` cannot be left.
    CannotLeave,
    /// The session is already in [`MAX_ROOMS`] rooms.
    TooManyRooms,
    /// Too many frames too fast; `retry_after_ms` says when the next one will be accepted.
    RateLimited,
    /// A frame type the server does not accept from clients (binary frames).
    Unsupported,
    /// The server could not store the message right now; it was not delivered. Try again.
    Unavailable,
    /// The server holds as many rooms as it is configured to; no new one can be created.
    RoomLimit,
    /// A code this build does not know (a newer server's): shown by its `message`.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it appears on the wire, e.g. `"nick_taken"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::AlreadyHello => "already_hello",
            ErrorCode::NickInvalid => "nick_invalid",
            ErrorCode::NickTaken => "nick_taken",
            ErrorCode::BadSession => "bad_session",
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::Empty => "empty",
            ErrorCode::TooLong => "too_long",
            ErrorCode::BadClientId => "bad_client_id",
            ErrorCode::UnknownRoom => "unknown_room",
            ErrorCode::RoomInvalid => "room_invalid",
            ErrorCode::CannotLeave => "cannot_leave",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::RoomLimit => "room_limit",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// The code as it appears on the wire, owned.
    pub fn name(self) -> String {
        self.as_str().to_owned()
    }
}

/// A client frame that could not be accepted: what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    /// For `rate_limited`: when to try again.
    pub retry_after_ms: Option<u64>,
}

impl FrameError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// Too many frames of one kind: the next is accepted in `retry_after_ms`.
    pub fn rate_limited(retry_after_ms: u64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            message: format!("too many frames; wait {retry_after_ms} ms"),
            retry_after_ms: Some(retry_after_ms),
        }
    }

    /// The error as the frame the client receives.
    pub fn to_server_msg(&self) -> ServerMsg {
        self.answer(None, None)
    }

    /// The error as the answer to the message the client calls `client_id`.
    pub fn about(&self, client_id: String) -> ServerMsg {
        self.answer(Some(client_id), None)
    }

    /// The error as the answer to a request: the message it names (`client_id`) and the request's
    /// `id` (`reply_to`), where the client gave them.
    pub fn answer(&self, client_id: Option<String>, reply_to: Option<String>) -> ServerMsg {
        ServerMsg::Error {
            code: self.code,
            message: self.message.clone(),
            client_id,
            retry_after_ms: self.retry_after_ms,
            reply_to,
        }
    }
}

/// Checks a nickname and returns it trimmed: 1–[`MAX_NICK_CHARS`] characters, no control characters.
pub fn validate_nick(nick: &str) -> Result<String, FrameError> {
    let nick = nick.trim();
    if nick.is_empty() {
        return Err(FrameError::new(
            ErrorCode::NickInvalid,
            "the nickname is empty",
        ));
    }
    if nick.chars().count() > MAX_NICK_CHARS {
        return Err(FrameError::new(
            ErrorCode::NickInvalid,
            format!("a nickname has at most {MAX_NICK_CHARS} characters"),
        ));
    }
    if nick.chars().any(char::is_control) {
        return Err(FrameError::new(
            ErrorCode::NickInvalid,
            "a nickname cannot contain control characters",
        ));
    }
    Ok(nick.to_owned())
}

/// Checks a message's text: not blank, at most [`MAX_TEXT_CHARS`] characters. The text is kept as
/// typed (leading spaces can matter, e.g. in code), only its emptiness is judged on the trimmed form.
pub fn validate_text(text: &str) -> Result<(), FrameError> {
    if text.trim().is_empty() {
        return Err(FrameError::new(ErrorCode::Empty, "the message is empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(FrameError::new(
            ErrorCode::TooLong,
            format!("a message has at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Checks a room name: 1–[`MAX_ROOM_CHARS`] lowercase ASCII letters, digits and dashes. Names are
/// part of URLs (`/r/<room>`), so nothing else is allowed and nothing is normalised.
pub fn validate_room(room: &str) -> Result<(), FrameError> {
    let valid = (1..=MAX_ROOM_CHARS).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(FrameError::new(
            ErrorCode::RoomInvalid,
            format!("a room name has 1 to {MAX_ROOM_CHARS} lowercase letters, digits and dashes"),
        ))
    }
}

/// Checks a `client_id`: 1–[`MAX_CLIENT_ID_CHARS`] characters.
pub fn validate_client_id(client_id: &str) -> Result<(), FrameError> {
    let len = client_id.chars().count();
    if len == 0 || len > MAX_CLIENT_ID_CHARS {
        return Err(FrameError::new(
            ErrorCode::BadClientId,
            format!("client_id must have 1 to {MAX_CLIENT_ID_CHARS} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn wire(msg: &ServerMsg) -> Value {
        serde_json::from_str(&msg.to_json()).expect("server frames are JSON")
    }

    #[test]
    fn hello_and_say_parse_from_the_documented_json() {
        assert_eq!(
            ClientMsg::parse(r#"{"type":"hello","nick":"alice"}"#),
            Ok(ClientMsg::Hello {
                nick: "alice".into(),
                session: None,
                since: BTreeMap::new(),
                dm_since: None,
            })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"hello","session":"tok"}"#),
            Ok(ClientMsg::Hello {
                nick: String::new(),
                session: Some("tok".into()),
                since: BTreeMap::new(),
                dm_since: None,
            })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"say","room":"general","text":"hi","client_id":"c-1"}"#),
            Ok(ClientMsg::Say {
                room: "general".into(),
                text: "hi".into(),
                client_id: "c-1".into(),
                action: false,
            })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"typing","room":"general","active":true}"#),
            Ok(ClientMsg::Typing {
                room: "general".into(),
                active: true
            })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"history","room":"general","before":11}"#),
            Ok(ClientMsg::History {
                room: "general".into(),
                before: 11
            })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"join","room":"rust"}"#),
            Ok(ClientMsg::Join {
                room: "rust".into()
            })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"leave","room":"rust"}"#),
            Ok(ClientMsg::Leave {
                room: "rust".into()
            })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"hello","since":{"general":41,"rust":7},"dm_since":3}"#),
            Ok(ClientMsg::Hello {
                nick: String::new(),
                session: None,
                since: BTreeMap::from([("general".to_owned(), 41), ("rust".to_owned(), 7)]),
                dm_since: Some(3),
            })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"nick","nick":"new"}"#),
            Ok(ClientMsg::Nick { nick: "new".into() })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"dm","to":"bob","text":"psst","client_id":"d-1"}"#),
            Ok(ClientMsg::Dm {
                to: "bob".into(),
                text: "psst".into(),
                client_id: "d-1".into(),
                action: false,
            })
        );
    }

    #[test]
    fn extra_fields_are_ignored() {
        let parsed = ClientMsg::parse(r#"{"type":"nick","nick":"bob","client":"bot/1.0"}"#);
        assert_eq!(parsed, Ok(ClientMsg::Nick { nick: "bob".into() }));
    }

    #[test]
    fn client_frames_round_trip() {
        for msg in [
            ClientMsg::Hello {
                nick: "zoë".into(),
                session: Some("t".into()),
                since: BTreeMap::from([("general".to_owned(), 41)]),
                dm_since: Some(7),
            },
            ClientMsg::Join {
                room: "rust".into(),
            },
            ClientMsg::Leave {
                room: "rust".into(),
            },
            ClientMsg::Say {
                room: GENERAL.into(),
                text: "line\n\"quoted\" <b>".into(),
                client_id: "c-9".into(),
                action: true,
            },
            ClientMsg::Nick { nick: "x".into() },
            ClientMsg::Typing {
                room: GENERAL.into(),
                active: false,
            },
            ClientMsg::Dm {
                to: "bob".into(),
                text: "hi".into(),
                client_id: "d".into(),
                action: false,
            },
        ] {
            assert_eq!(ClientMsg::parse(&msg.to_json()), Ok(msg));
        }
    }

    #[test]
    fn server_frames_have_the_documented_shape() {
        let message = ServerMsg::Message(ChatMessage {
            room: "general".into(),
            seq: 17,
            from: "alice".into(),
            text: "hi".into(),
            at: "2026-11-25T22:00:00.000Z".into(),
            client_id: Some("c-1".into()),
            action: false,
        });
        let cases = [
            (
                message,
                json!({"type":"message","room":"general","seq":17,"from":"alice","text":"hi",
                       "at":"2026-11-25T22:00:00.000Z","client_id":"c-1"}),
            ),
            (
                ServerMsg::Ack {
                    client_id: "c-1".into(),
                    room: Some("general".into()),
                    seq: Some(17),
                    to: None,
                    id: None,
                },
                json!({"type":"ack","client_id":"c-1","room":"general","seq":17}),
            ),
            (
                ServerMsg::error(ErrorCode::BadFrame, "nope"),
                json!({"type":"error","code":"bad_frame","message":"nope"}),
            ),
            (
                ServerMsg::Welcome {
                    nick: "alice".into(),
                    rooms: vec!["general".into()],
                    online: vec!["alice".into(), "bob".into()],
                    members: BTreeMap::from([("rust".to_owned(), vec!["alice".to_owned()])]),
                    counts: Default::default(),
                    session: None,
                },
                json!({"type":"welcome","nick":"alice","rooms":["general"],"online":["alice","bob"],
                       "members":{"rust":["alice"]}}),
            ),
            (
                ServerMsg::Presence {
                    nick: "alice".into(),
                    online: false,
                    rooms: vec![],
                },
                json!({"type":"presence","nick":"alice","online":false}),
            ),
            (
                ServerMsg::Presence {
                    nick: "alice".into(),
                    online: true,
                    rooms: vec!["rust".into()],
                },
                json!({"type":"presence","nick":"alice","online":true,"rooms":["rust"]}),
            ),
            (
                ServerMsg::Joined {
                    room: "rust".into(),
                    members: vec!["alice".into()],
                    count: None,
                    reply_to: None,
                },
                json!({"type":"joined","room":"rust","members":["alice"]}),
            ),
            (
                ServerMsg::Left {
                    room: "rust".into(),
                    reply_to: Some("r-2".into()),
                },
                json!({"type":"left","room":"rust","reply_to":"r-2"}),
            ),
            (
                ServerMsg::Member {
                    room: "rust".into(),
                    nick: "bob".into(),
                    joined: true,
                },
                json!({"type":"member","room":"rust","nick":"bob","joined":true}),
            ),
            (
                ServerMsg::Renamed {
                    from: "old".into(),
                    to: "new".into(),
                    reply_to: None,
                },
                json!({"type":"renamed","from":"old","to":"new"}),
            ),
            (
                ServerMsg::Typing {
                    room: "general".into(),
                    nick: "bob".into(),
                    active: true,
                },
                json!({"type":"typing","room":"general","nick":"bob","active":true}),
            ),
            (
                ServerMsg::Dm(DirectMessage {
                    id: 4,
                    from: "alice".into(),
                    to: "bob".into(),
                    text: "psst".into(),
                    at: "2026-11-25T22:00:00.000Z".into(),
                    client_id: None,
                    action: true,
                }),
                json!({"type":"dm","id":4,"from":"alice","to":"bob","text":"psst",
                       "at":"2026-11-25T22:00:00.000Z","action":true}),
            ),
            (
                ServerMsg::DmHistory {
                    messages: vec![],
                    reset: true,
                    more: false,
                },
                json!({"type":"dm_history","messages":[],"reset":true}),
            ),
            (
                ServerMsg::History {
                    room: "general".into(),
                    messages: vec![Stored::Message(ChatMessage {
                        room: "general".into(),
                        seq: 1,
                        from: "a".into(),
                        text: "x".into(),
                        at: "2026-11-25T22:00:00.000Z".into(),
                        client_id: None,
                        action: false,
                    })],
                    complete: true,
                    reset: false,
                    before: None,
                    more: false,
                    reply_to: None,
                },
                json!({"type":"history","room":"general","complete":true,"messages":[
                    {"type":"message","room":"general","seq":1,"from":"a","text":"x",
                     "at":"2026-11-25T22:00:00.000Z"}]}),
            ),
        ];
        for (msg, expected) in cases {
            assert_eq!(wire(&msg), expected);
            assert_eq!(ServerMsg::parse(&msg.to_json()).ok(), Some(msg));
        }
    }

    #[test]
    fn bad_frames_are_bad_frame_errors() {
        for frame in [
            "not json",
            "{}",
            r#"{"type":"shout","text":"x"}"#,
            r#"{"type":"say","room":"general","text":"x"}"#,
            r#"{"type":"hello","nick":42}"#,
            r#"{"type":"typing","room":"general"}"#,
            r#"{"type":"dm","to":"bob","text":"x"}"#,
            "[]",
            "",
        ] {
            let err = ClientMsg::parse(frame).expect_err(frame);
            assert_eq!(err.code, ErrorCode::BadFrame, "{frame}");
        }
    }

    #[test]
    fn a_request_id_is_read_with_the_frame_and_named_in_a_refusal() {
        assert_eq!(
            Request::parse(r#"{"type":"join","room":"rust","id":"r-1"}"#),
            Ok(Request {
                id: Some("r-1".into()),
                msg: ClientMsg::Join {
                    room: "rust".into()
                }
            })
        );
        assert_eq!(
            Request::parse(r#"{"type":"nick","nick":"x"}"#).map(|r| r.id),
            Ok(None)
        );
        let (id, err) = Request::parse(r#"{"type":"join","id":"r-2"}"#).expect_err("no room");
        assert_eq!(
            (id.as_deref(), err.code),
            (Some("r-2"), ErrorCode::BadFrame)
        );
        let (id, err) = Request::parse(r#"{"type":"shout","id":"r-3"}"#).expect_err("unknown");
        assert_eq!(
            (id.as_deref(), err.code),
            (Some("r-3"), ErrorCode::BadFrame)
        );
        for bad_id in [r#"42"#, r#""""#, &format!("{:?}", "x".repeat(65))] {
            let frame = format!(r#"{{"type":"nick","nick":"x","id":{bad_id}}}"#);
            let (id, err) = Request::parse(&frame).expect_err(&frame);
            assert_eq!((id, err.code), (None, ErrorCode::BadFrame), "{frame}");
        }
        let refusal =
            FrameError::new(ErrorCode::UnknownRoom, "no").answer(None, Some("r-4".into()));
        assert_eq!(
            wire(&refusal),
            json!({"type":"error","code":"unknown_room","message":"no","reply_to":"r-4"})
        );
    }

    #[test]
    fn an_unknown_error_code_still_parses() {
        let frame = r#"{"type":"error","code":"from_the_future","message":"hm","client_id":"c-1"}"#;
        match ServerMsg::parse(frame) {
            Ok(ServerMsg::Error {
                code, client_id, ..
            }) => {
                assert_eq!(
                    (code, client_id.as_deref()),
                    (ErrorCode::Unknown, Some("c-1"))
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rate_limit_says_when_to_retry() {
        let msg = FrameError::rate_limited(250).about("c-1".into());
        assert_eq!(
            wire(&msg),
            json!({"type":"error","code":"rate_limited","message":"too many frames; wait 250 ms",
                   "client_id":"c-1","retry_after_ms":250})
        );
    }

    #[test]
    fn error_codes_have_their_wire_names() {
        assert_eq!(ErrorCode::NickTaken.name(), "nick_taken");
        assert_eq!(ErrorCode::BadFrame.name(), "bad_frame");
        // The hand-written names agree with serde's.
        for code in [
            ErrorCode::BadFrame,
            ErrorCode::HelloRequired,
            ErrorCode::AlreadyHello,
            ErrorCode::NickInvalid,
            ErrorCode::NickTaken,
            ErrorCode::BadSession,
            ErrorCode::UnknownUser,
            ErrorCode::Empty,
            ErrorCode::TooLong,
            ErrorCode::BadClientId,
            ErrorCode::UnknownRoom,
            ErrorCode::RoomInvalid,
            ErrorCode::CannotLeave,
            ErrorCode::TooManyRooms,
            ErrorCode::RateLimited,
            ErrorCode::Unsupported,
            ErrorCode::Unavailable,
            ErrorCode::RoomLimit,
        ] {
            assert_eq!(serde_json::to_value(code).ok(), Some(json!(code.as_str())));
        }
    }

    #[test]
    fn nick_rules() {
        assert_eq!(validate_nick("  alice "), Ok("alice".into()));
        assert_eq!(validate_nick("Zoë 🦀"), Ok("Zoë 🦀".into()));
        assert_eq!(
            validate_nick(&"é".repeat(32)).map(|n| n.chars().count()),
            Ok(32)
        );
        for bad in ["", "   ", "a\u{7}b", "tab\there", &"x".repeat(33)] {
            assert_eq!(
                validate_nick(bad).map_err(|e| e.code),
                Err(ErrorCode::NickInvalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn room_rules() {
        for good in ["general", "rust", "a", "rust-2026", "-", &"x".repeat(32)] {
            assert!(validate_room(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "Rust",
            "ru st",
            "rüst",
            "r_s",
            "#rust",
            "a/b",
            &"x".repeat(33),
        ] {
            assert_eq!(
                validate_room(bad).map_err(|e| e.code),
                Err(ErrorCode::RoomInvalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn text_rules() {
        assert!(validate_text(" hi ").is_ok());
        assert!(validate_text(&"é".repeat(MAX_TEXT_CHARS)).is_ok());
        assert_eq!(
            validate_text(" \n ").map_err(|e| e.code),
            Err(ErrorCode::Empty)
        );
        assert_eq!(
            validate_text(&"a".repeat(MAX_TEXT_CHARS + 1)).map_err(|e| e.code),
            Err(ErrorCode::TooLong)
        );
        assert!(validate_client_id("c-1").is_ok());
        assert!(validate_client_id("").is_err());
        assert!(validate_client_id(&"c".repeat(65)).is_err());
    }
}
