//! The wire protocol: every frame that crosses the websocket at `GET /ws`.
//!
//! Each frame is one JSON object in a websocket text frame, tagged by its `"type"` field. These types
//! are compiled into both the server and the wasm client, so the two cannot drift apart; bots, the
//! load tool and the tests rely on the same names, documented in `docs/protocol.md`.
//!
//! - [`avatar`]: where a person's picture is.
//! - [`client`]: the frames a client sends ([`ClientMsg`]), and [`Request`], one parsed with its id.
//! - [`server`]: the frames the server sends ([`ServerMsg`]) and the messages they carry.
//! - [`error`]: the stable error codes and the refusal a client is told.
//! - [`rules`]: what a nickname, a message, a room name and a `client_id` may be.
//! - [`wire`]: the browser's decoder and encoder, the same frames without serde (a smaller wasm).
//!
//! Parsing happens here and nowhere else: [`Request::parse`] turns a text frame into a typed
//! message or a typed [`ErrorCode`], so the connection handler never sees raw JSON.

pub mod avatar;
pub mod client;
pub mod error;
pub mod rules;
pub mod server;
#[cfg(test)]
mod tests;
pub mod wire;

pub use avatar::{avatar_path, avatar_url};
pub use client::{ClientMsg, Request};
pub use error::{ErrorCode, FrameError};
pub use rules::{
    is_bidi_control, validate_client_id, validate_nick, validate_post, validate_reason,
    validate_room, validate_text, MAX_FILES_PER_MESSAGE,
};
pub use server::{
    AuditEntry, Change, ChatMessage, DirectMessage, DirectReaction, FileInfo, Quote, Reaction,
    SearchHit, ServerMsg, Stored,
};

/// This build's protocol version: a client says it in `hello`, the server in `welcome`. A tab whose
/// version is older than its server's is told a new version is available (it may reload when it
/// likes). Within a version, frames only gain optional fields; a new frame type or error code is
/// one an older client ignores (frames) or shows by its `message` (codes).
///
/// - 1: the first numbered version.
/// - 2: `edit` and `delete`; `edited` and `deleted` frames and history entries; `forbidden` and
///   `not_found`.
/// - 3: moderation (`mute`, `ban`, `audit`; `moderated` and `audit_log` frames; `muted` and
///   `banned`; `welcome.moderator`, `welcome.muted_until`) and bots (`welcome.bots`,
///   `presence.bot`).
pub const PROTOCOL_VERSION: u32 = 3;

/// How many different emoji one message may carry.
pub const MAX_REACTIONS_PER_MESSAGE: usize = 20;

/// How many characters of the original a reply's quote keeps.
pub const QUOTE_CHARS: usize = 120;

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

/// How many rooms one person may be in, `general` included (the server's total is
/// `Limits::max_rooms_total`).
pub const MAX_ROOMS_PER_PERSON: usize = 50;

/// Longest accepted request `id`; it is echoed back as `reply_to`.
pub const MAX_REQUEST_ID_CHARS: usize = 64;

/// Longest reason a moderator may give for a mute or a ban, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// Longest mute or ban, in seconds (a year).
pub const MAX_SANCTION_SECS: u64 = 365 * 24 * 3600;

/// Serde's `skip_serializing_if` for flags that are off.
fn is_false(b: &bool) -> bool {
    !*b
}

/// Serde's `skip_serializing_if` for numbers that mean "none".
fn is_zero(n: &u64) -> bool {
    *n == 0
}
