//! Stable error codes, and the refusal a client is told.

use serde::{Deserialize, Serialize};

use super::ServerMsg;

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
    /// The person is already in [`MAX_ROOMS_PER_PERSON`] rooms.
    TooManyRooms,
    /// Too many frames too fast; `retry_after_ms` says when the next one will be accepted.
    RateLimited,
    /// A frame type the server does not accept from clients (binary frames).
    Unsupported,
    /// The server could not store the message right now; it was not delivered. Try again.
    Unavailable,
    /// The server holds as many rooms as it is configured to; no new one can be created.
    RoomLimit,
    /// Not allowed to this session: editing or deleting someone else's message.
    Forbidden,
    /// What the frame names does not exist: a message `seq` the room never had, or one deleted.
    NotFound,
    /// This session is muted: it may read but not post until `until`.
    Muted,
    /// This session is banned until `until` (or a new session is refused because its address is):
    /// the connection is closed.
    Banned,
    /// A private message to someone who never wrote to the sender, over what such a person may
    /// receive: the sender's unanswered ones, or everyone's in a day.
    InboxFull,
    /// This chat is by invitation, and no valid one came with the newcomer.
    InviteRequired,
    /// This chat takes no new people.
    SignupClosed,
    /// This session was signed out (from another device, or everywhere): the connection is closed.
    SignedOut,
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
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Muted => "muted",
            ErrorCode::Banned => "banned",
            ErrorCode::InboxFull => "inbox_full",
            ErrorCode::InviteRequired => "invite_required",
            ErrorCode::SignupClosed => "signup_closed",
            ErrorCode::SignedOut => "signed_out",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// Every code this build knows, [`ErrorCode::Unknown`] aside.
    pub const KNOWN: [ErrorCode; 26] = [
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
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Muted,
        ErrorCode::Banned,
        ErrorCode::InboxFull,
        ErrorCode::InviteRequired,
        ErrorCode::SignupClosed,
        ErrorCode::SignedOut,
    ];

    /// The code a name stands for; [`ErrorCode::Unknown`] for a name this build does not know (a
    /// newer server's), as serde reads it.
    pub fn from_name(name: &str) -> ErrorCode {
        Self::KNOWN
            .into_iter()
            .find(|code| code.as_str() == name)
            .unwrap_or(ErrorCode::Unknown)
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
    /// For `muted` and `banned`: until when.
    pub until: Option<String>,
}

impl FrameError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
            until: None,
        }
    }

    /// A `muted` or `banned` refusal lasting until `until`.
    pub fn sanctioned(code: ErrorCode, until: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
            until: Some(until.to_owned()),
        }
    }

    /// Too many of `what` (e.g. "messages from this session"): the next is accepted in
    /// `retry_after_ms`.
    pub fn rate_limited(what: &str, retry_after_ms: u64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            message: format!("too many {what}; wait {retry_after_ms} ms"),
            retry_after_ms: Some(retry_after_ms),
            until: None,
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
            until: self.until.clone(),
        }
    }
}
