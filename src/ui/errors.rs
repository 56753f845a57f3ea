//! What a refusal means, in words for people: one table for every form and the composer, by
//! the protocol's stable error codes.

use crate::protocol::{MAX_NICK_CHARS, MAX_ROOMS_PER_PERSON, MAX_ROOM_CHARS, MAX_TEXT_CHARS};

/// The words for refusal `code` (as `?error=` carries it after a form, or an `error` frame).
pub fn describe(code: &str) -> String {
    match code {
        "nick_taken" => "That nickname is in use right now. Pick another one.".into(),
        "nick_invalid" => format!(
            "A nickname has 1 to {MAX_NICK_CHARS} characters, none of them invisible, control or \
             direction-changing characters."
        ),
        "bad_session" => "Your session has ended. Pick a nickname to come back in.".into(),
        "rate_limited" => "Too many tries from here; wait a moment and try again.".into(),
        "room_invalid" => {
            format!("A room name has 1 to {MAX_ROOM_CHARS} lowercase letters, digits and dashes.")
        }
        "too_many_rooms" => format!("You are in {MAX_ROOMS_PER_PERSON} rooms; leave one first."),
        "room_limit" => "This server holds as many rooms as it may; join an existing one.".into(),
        "too_long" => format!("That message is too long ({MAX_TEXT_CHARS} characters at most)."),
        "empty" => "Type something first.".into(),
        "unknown_room" => "You are not in that room; join it first.".into(),
        "unavailable" => "That could not be done just now. Please try again.".into(),
        "banned" => "A moderator banned you from this chat for now.".into(),
        "muted" => "A moderator muted you for now: you can read, not post.".into(),
        "invite_required" => {
            "This chat is by invitation: open the link you were sent, or sign in.".into()
        }
        "signup_closed" => "This chat takes no new people. Sign in if you have a name here.".into(),
        "signed_out" => "This device was signed out. Sign in again to continue.".into(),
        _ => "That did not work. Please try again.".into(),
    }
}

/// Whether refusal `code` is about a room form (shown by that form, not the composer).
pub fn about_rooms(code: &str) -> bool {
    code.starts_with("room_") || code == "too_many_rooms"
}

/// Whether refusal `code` is about a message posted without JavaScript (shown by the composer).
pub fn about_messages(code: &str) -> bool {
    matches!(
        code,
        "too_long" | "empty" | "unknown_room" | "unavailable" | "rate_limited" | "muted" | "banned"
    )
}
