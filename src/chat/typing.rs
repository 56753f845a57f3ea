//! The "is typing" line: who is typing in each room, each entry expiring by itself, so a lost
//! `typing:false` never leaves one stuck. Its own type: the chat model tells it what happened
//! (a typing frame, a message, a departure, a rename, a room left) and asks it for the line.

use std::collections::{BTreeMap, HashMap};

use super::TYPING_TTL_MS;

/// Typing per room: nick → when the entry expires (ms since the epoch).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Typing {
    rooms: BTreeMap<String, HashMap<String, f64>>,
}

impl Typing {
    /// `nick` started (or refreshed) or stopped typing in `room`. Returns whether the line changed.
    pub fn set(&mut self, room: &str, nick: &str, active: bool, now_ms: f64) -> bool {
        if active {
            self.rooms
                .entry(room.to_owned())
                .or_default()
                .insert(nick.to_owned(), now_ms + TYPING_TTL_MS)
                .is_none()
        } else {
            self.stopped(room, nick)
        }
    }

    /// `nick` stopped typing in `room` (they posted, or left it). Returns whether they were typing.
    pub fn stopped(&mut self, room: &str, nick: &str) -> bool {
        self.rooms
            .get_mut(room)
            .is_some_and(|typing| typing.remove(nick).is_some())
    }

    /// `nick` went offline: typing nowhere.
    pub fn gone(&mut self, nick: &str) {
        for typing in self.rooms.values_mut() {
            typing.remove(nick);
        }
    }

    /// `from` is now called `to`; their entries follow.
    pub fn renamed(&mut self, from: &str, to: &str) {
        for typing in self.rooms.values_mut() {
            if let Some(expires) = typing.remove(from) {
                typing.insert(to.to_owned(), expires);
            }
        }
    }

    /// A room I left: nothing of it is kept.
    pub fn forget_room(&mut self, room: &str) {
        self.rooms.remove(room);
    }

    /// Drops entries not refreshed in time. Returns whether any went.
    pub fn expire(&mut self, now_ms: f64) -> bool {
        let mut changed = false;
        self.rooms.retain(|_, typing| {
            let before = typing.len();
            typing.retain(|_, expires| *expires > now_ms);
            changed |= typing.len() != before;
            !typing.is_empty()
        });
        changed
    }

    /// The line for `room`: who is typing there but `me`, in a stable order.
    pub fn line(&self, room: &str, me: &str) -> Option<String> {
        let typing = self.rooms.get(room)?;
        let mut typers: Vec<&String> = typing.keys().filter(|n| *n != me).collect();
        typers.sort_by_key(|n| super::lower(n));
        match typers.as_slice() {
            [] => None,
            [one] => Some(format!("{one} is typing…")),
            [one, two] => Some(format!("{one} and {two} are typing…")),
            _ => Some("several people are typing…".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_follow_renames_and_leave_with_their_room() {
        let mut typing = Typing::default();
        assert!(typing.set("rust", "bob", true, 0.0));
        assert!(!typing.set("rust", "bob", true, 1_000.0), "a refresh");
        assert!(typing.set("rust", "carol", true, 0.0));
        assert_eq!(
            typing.line("rust", "me").as_deref(),
            Some("bob and carol are typing…")
        );
        typing.renamed("bob", "rob");
        assert_eq!(
            typing.line("rust", "carol").as_deref(),
            Some("rob is typing…")
        );
        assert!(typing.expire(6_500.0), "carol's entry ran out");
        assert_eq!(typing.line("rust", "me").as_deref(), Some("rob is typing…"));
        typing.gone("rob");
        assert_eq!(typing.line("rust", "me"), None);
        assert!(!typing.stopped("rust", "rob"));
        typing.set("go", "ann", true, 0.0);
        typing.forget_room("go");
        assert_eq!(typing.line("go", "me"), None);
    }
}
