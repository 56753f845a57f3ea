//! What the server decides about a message's text beyond the protocol's rules: whether anything
//! in it is visible, and whom its `@name`s name.
//!
//! The protocol's rules (`protocol::rules`) run in the page too; these need the server's Unicode
//! tables (general categories) and who exists, so they run here only.

use crate::chat::mentions::{pieces, Piece};
use crate::protocol::{ErrorCode, FrameError};

use super::hub::Hub;
use super::session::nick;
use super::store::Store;

/// The most `@name`s of one message that are looked up (a message of 4000 characters could hold
/// a thousand; past these, the rest are shown as text and notify nobody).
pub const MAX_MENTIONS: usize = 20;

/// Refuses (`empty`) a text in which nothing would be seen: only spaces, invisible, format or
/// control characters (a message of zero-width spaces is no message).
pub fn ensure_visible(text: &str) -> Result<(), FrameError> {
    if text.chars().any(|c| !c.is_whitespace() && !nick::hidden(c)) {
        Ok(())
    } else {
        Err(FrameError::new(
            ErrorCode::Empty,
            "the message has nothing visible in it",
        ))
    }
}

/// The people `text`'s `@name`s name, as they are called, each once, in the order written: the
/// name is compared as nicknames are (its key), with whoever holds it, online or not. A name
/// nobody goes by names nobody. (No mention, no lookup: most messages have none.)
pub async fn mentions(hub: &Hub, store: &Store, text: &str) -> Vec<String> {
    if !text.contains('@') {
        return Vec::new();
    }
    let mut keys: Vec<String> = Vec::new();
    for piece in pieces(text) {
        if let Piece::Mention(mention) = piece {
            // Compared as typed names are: normalized first (a fullwidth `ｂｏｂ` is `bob`).
            if let Ok(name) = nick::normalize(mention.trim_start_matches('@')) {
                if !keys.contains(&name.key) {
                    keys.push(name.key);
                }
            }
        }
        if keys.len() == MAX_MENTIONS {
            break;
        }
    }
    let mut names = Vec::with_capacity(keys.len());
    for key in keys {
        let name = match hub.presence().find_online(&key) {
            Some(online) => Some(online.nick),
            // A lookup failure only leaves one mention unlisted; the message itself is not at
            // stake.
            None => store
                .people()
                .person_named(&key)
                .await
                .ok()
                .flatten()
                .map(|(_, nick)| nick),
        };
        if let Some(name) = name {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_must_have_something_visible() {
        for blank in [
            " ",
            "\u{200B}\u{200B}\u{200B}",
            "\u{202E}\u{2066}",
            "\u{3164}",
            "\u{2800} \u{FEFF}",
            "\u{115F}\u{1160}",
        ] {
            assert_eq!(
                ensure_visible(blank).map_err(|e| e.code),
                Err(ErrorCode::Empty),
                "{blank:?}"
            );
        }
        for seen in ["a", "\u{200B}x", "🦀", "  ok  ", "שלום", "\u{202E}abc"] {
            assert!(ensure_visible(seen).is_ok(), "{seen:?}");
        }
    }
}
