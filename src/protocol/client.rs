//! Frames a client sends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{is_false, is_zero, ErrorCode, FrameError, MAX_REQUEST_ID_CHARS};

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
        /// The client's [`crate::protocol::PROTOCOL_VERSION`] (absent from clients before it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u32>,
        /// In an invite-only chat, the invitation a newcomer (`nick`, no session) came with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invite: Option<String>,
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
        /// Files this person uploaded and has not posted yet (`POST /upload`'s ids), at most
        /// [`MAX_FILES_PER_MESSAGE`](crate::protocol::MAX_FILES_PER_MESSAGE); `text` may then
        /// be empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<String>,
        /// The `seq` of the message of `room` this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<u64>,
    },
    /// Replace the text of my message `seq` in `room`. Everyone in the room gets `edited`; with a
    /// `client_id`, I also get an `ack` naming the change's place in the log.
    Edit {
        room: String,
        seq: u64,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// Delete my message `seq` in `room`. Everyone in the room gets
    /// `deleted`; with a `client_id`, I also get an `ack`.
    Delete {
        room: String,
        seq: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
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
        /// As `say`'s.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<String>,
        /// The `id` of the private message between the two this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<u64>,
    },
    /// Moderators: mute `nick` for `seconds` (they can read, not post). Everyone gets `moderated`.
    Mute {
        nick: String,
        seconds: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// Moderators: ban `nick` for `seconds`: their connections are closed, their session refused,
    /// and new sessions from their address too. Everyone gets `moderated`.
    Ban {
        nick: String,
        seconds: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// Moderators: the audit log, newest first; `before` an entry's `id` for older ones.
    Audit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
    },
    /// Moderators: lift `nick`'s mute. Everyone gets `moderated` (`unmuted`).
    Unmute { nick: String },
    /// Moderators: lift `nick`'s ban (and its extension to their other sessions). Everyone gets
    /// `moderated` (`unbanned`).
    Unban { nick: String },
    /// No more private messages from `nick`, live or stored (answered `blocked`).
    Block { nick: String },
    /// Private messages from `nick` are welcome again (answered `blocked` with `blocked: false`).
    Unblock { nick: String },
    /// I have read up to here: `room` and `seq` (the highest position shown), or `dm` (the other
    /// party's name) and `id`. Positions only move forward; my other connections are told.
    Read {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dm: Option<String>,
        /// The private message's id. (On the wire it is the frame's `id`, where other frames
        /// carry a request id: [`Request::parse`] reads a number there as this.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// The page of my private messages just before id `before` (scrolling up), only those with
    /// `with` if given.
    DmHistory {
        before: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        with: Option<String>,
    },
    /// React to message `seq` of `room` with `emoji` (`on`), or take the reaction back. Everyone
    /// in the room gets `reacted`; with a `client_id`, I also get an `ack`.
    React {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        room: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        seq: u64,
        /// Instead of `room` and `seq`: the private message `id` of my conversation with `dm`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dm: Option<String>,
        /// As `read`'s: on the wire it is the frame's `id` ([`Request::parse`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        emoji: String,
        on: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// Search what I may read: words, "phrases", a prefix (the last word), `from:`, `in:`,
    /// `before:`, `after:`. Answered with `results`, newest first; `before` is a previous page's
    /// `next`.
    Search {
        q: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<String>,
    },
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
            ClientMsg::Edit { client_id, .. }
            | ClientMsg::Delete { client_id, .. }
            | ClientMsg::React { client_id, .. } => client_id.as_deref(),
            _ => None,
        }
    }

    /// Whether this is a frame about a private message whose `id` is that message's.
    fn names_direct(&self) -> bool {
        matches!(
            self,
            ClientMsg::Read { dm: Some(_), .. } | ClientMsg::React { dm: Some(_), .. }
        )
    }

    /// Where a frame about a private message (`read` or `react` naming `dm`) keeps that message's
    /// id, which is the frame's `id` on the wire.
    fn direct_id_mut(&mut self) -> Option<&mut Option<u64>> {
        match self {
            ClientMsg::Read {
                dm: Some(_), id, ..
            }
            | ClientMsg::React {
                dm: Some(_), id, ..
            } => Some(id),
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
            // `read` or `react` in a private conversation: its `id` is the message's, a number.
            Ok(Envelope {
                id: Some(serde_json::Value::Number(number)),
                mut msg,
            }) if msg.names_direct() => match number.as_u64() {
                Some(dm_id) => {
                    if let Some(slot) = msg.direct_id_mut() {
                        *slot = Some(dm_id);
                    }
                    Ok(Request { id: None, msg })
                }
                None => Err((
                    None,
                    FrameError::new(ErrorCode::BadFrame, "this id is a private message's id"),
                )),
            },
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
