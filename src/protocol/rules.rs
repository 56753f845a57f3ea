//! What a nickname, a message, a room name and a `client_id` may be: checked by the page before it
//! sends, and by the server whatever the client checked. (The server also normalizes nicknames and
//! folds look-alikes: `server::session::nick`.)

use super::{
    ErrorCode, FrameError, MAX_CLIENT_ID_CHARS, MAX_NICK_CHARS, MAX_ROOM_CHARS, MAX_TEXT_CHARS,
};

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
