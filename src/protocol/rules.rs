//! What a nickname, a message, a room name and a `client_id` may be: checked by the page before it
//! sends, and by the server whatever the client checked. (The server also normalizes nicknames and
//! folds look-alikes: `server::session::nick`.)

use super::{
    ErrorCode, FrameError, MAX_CLIENT_ID_CHARS, MAX_NICK_CHARS, MAX_REASON_CHARS, MAX_ROOM_CHARS,
    MAX_TEXT_CHARS,
};

/// Whether `c` reorders the text around it: the bidi embeddings, overrides and isolates. Shown as
/// typed, they make text read differently from what it is (`invoice_\u{202E}fdp.exe` shows as
/// `invoice_exe.pdf`).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
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
/// How many files one message carries at most.
pub const MAX_FILES_PER_MESSAGE: usize = 10;

/// A message's text and files: files may stand without text; each id as `POST /upload` makes
/// them (URL-safe, at most 64 characters), each once.
pub fn validate_post(text: &str, files: &[String]) -> Result<(), FrameError> {
    if files.is_empty() {
        return validate_text(text);
    }
    if !text.trim().is_empty() {
        validate_text(text)?;
    }
    if files.len() > MAX_FILES_PER_MESSAGE {
        return Err(FrameError::new(
            ErrorCode::BadFrame,
            format!("a message carries at most {MAX_FILES_PER_MESSAGE} files"),
        ));
    }
    let well_formed = |id: &String| {
        !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !files.iter().all(well_formed) {
        return Err(FrameError::new(
            ErrorCode::BadFrame,
            "a file id is malformed",
        ));
    }
    let mut sorted: Vec<&String> = files.iter().collect();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(FrameError::new(
            ErrorCode::BadFrame,
            "a file is listed twice",
        ));
    }
    Ok(())
}

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

/// Checks a moderator's reason for a mute or a ban and returns it trimmed: at most
/// [`MAX_REASON_CHARS`] characters, with no control characters (a line break or an escape would
/// forge lines where it is printed, e.g. by `chinwag admin audit`) and no bidi controls.
pub fn validate_reason(reason: &str) -> Result<String, FrameError> {
    let reason = reason.trim();
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(FrameError::new(
            ErrorCode::TooLong,
            format!("a reason has at most {MAX_REASON_CHARS} characters"),
        ));
    }
    if reason.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(FrameError::new(
            ErrorCode::BadFrame,
            "a reason is one line of text, without control characters or bidi controls",
        ));
    }
    Ok(reason.to_owned())
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
