//! The "is typing" line: entries expire by themselves, so a lost `typing:false` never leaves one
//! stuck.

use super::Chat;

impl Chat {
    /// Who is typing in the room on screen right now, me excluded, in a stable order.
    pub fn typing_line(&self) -> Option<String> {
        let typing = self.typing.get(self.current_room()?)?;
        let mut typers: Vec<&String> = typing.keys().filter(|n| **n != self.me).collect();
        typers.sort_by_key(|n| super::lower(n));
        match typers.as_slice() {
            [] => None,
            [one] => Some(format!("{one} is typing…")),
            [one, two] => Some(format!("{one} and {two} are typing…")),
            _ => Some("several people are typing…".to_owned()),
        }
    }

    /// Drops typing entries not refreshed in time. Returns whether any went.
    pub(super) fn expire_typing(&mut self, now_ms: f64) -> bool {
        let mut changed = false;
        for typing in self.typing.values_mut() {
            let before = typing.len();
            typing.retain(|_, expires| *expires > now_ms);
            changed |= typing.len() != before;
        }
        changed
    }
}
