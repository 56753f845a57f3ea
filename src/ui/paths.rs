//! Which page shows which room: `/` is `#general`, `/r/<room>` any other. Used by the page and
//! by the server's forms, which redirect to these pages.

use crate::protocol::{validate_room, GENERAL};

/// The page of `room`: `/` for `general`, `/r/<room>` for the others (and `/` for a bad name).
pub fn room_path(room: &str) -> String {
    if room == GENERAL || validate_room(room).is_err() {
        "/".to_owned()
    } else {
        format!("/r/{room}")
    }
}

/// A permalink's message position (`?at=<seq>`), if the query's value is one.
pub fn position(at: Option<String>) -> Option<u64> {
    at?.parse().ok().filter(|seq| *seq > 0)
}

/// The room a page path shows: `general` for `/`, the room for `/r/<room>`, `None` otherwise.
pub fn room_of_path(path: &str) -> Option<String> {
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return Some(GENERAL.to_owned());
    }
    let room = path.strip_prefix("/r/")?;
    validate_room(room).ok()?;
    Some(room.to_owned())
}

/// What someone typed as a room name, made into one if it can be: "#Rust " means `rust`. Room
/// names are ASCII, so only ASCII letters are lowered (anything else is refused by validation).
pub fn room_from_input(input: &str) -> String {
    input.trim().trim_start_matches('#').to_ascii_lowercase()
}
