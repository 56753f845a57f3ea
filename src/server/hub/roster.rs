//! Who is online in each room, kept sorted, and when a room has become a crowd.
//!
//! In a small room everyone sees everyone come and go (`presence`, `member`) and gets the whole
//! list. Done the same way in a crowd, every arrival would cost a frame to everyone already there
//! (N arrivals, N² frames) and every `welcome` a list of N names (N² names again). So a room with
//! more than its crowd size online is listed only up to that many names with the full count beside
//! them, and its comings and goings are summed up in one `roster` frame per interval, as large chat
//! services do with lazy member lists. The hub decides when; this module keeps the lists.
//!
//! A room's list is dropped when its last name leaves and no summary is pending, so the map holds
//! only rooms with someone online.

use std::collections::{BTreeMap, HashMap};

use crate::server::session::PersonId;

/// Everyone online, by room.
#[derive(Debug, Default)]
pub struct Rosters {
    rooms: HashMap<String, Roster>,
}

#[derive(Debug, Default)]
struct Roster {
    /// Keyed by lowercase nickname then session, so iteration is the case-insensitive order the
    /// clients show and two people with one nickname (in two spellings) are both kept.
    names: BTreeMap<(String, PersonId), String>,
    /// Whether a `roster` frame is already scheduled for this room.
    pending: bool,
}

impl Rosters {
    /// Lists `nick` of `session` in `room`. Returns how many are online there now.
    pub fn add(&mut self, room: &str, session: PersonId, nick: &str) -> usize {
        let roster = self.rooms.entry(room.to_owned()).or_default();
        roster
            .names
            .insert((nick.to_lowercase(), session), nick.to_owned());
        roster.names.len()
    }

    /// Takes `nick` of `session` off `room`'s list. Returns how many were online there before.
    pub fn remove(&mut self, room: &str, session: PersonId, nick: &str) -> usize {
        let Some(roster) = self.rooms.get_mut(room) else {
            return 0;
        };
        let before = roster.names.len();
        roster.names.remove(&(nick.to_lowercase(), session));
        if roster.names.is_empty() && !roster.pending {
            self.rooms.remove(room);
        }
        before
    }

    /// The first `cap` names online in `room`, sorted case-insensitively.
    pub fn list(&self, room: &str, cap: usize) -> Vec<String> {
        self.rooms
            .get(room)
            .map(|r| r.names.values().take(cap).cloned().collect())
            .unwrap_or_default()
    }

    /// How many are online in `room`.
    pub fn count(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, |r| r.names.len())
    }

    /// Notes that `room` has changes to sum up. Returns true if no summary was scheduled yet, so the
    /// caller schedules one.
    pub fn mark_pending(&mut self, room: &str) -> bool {
        let roster = self.rooms.entry(room.to_owned()).or_default();
        !std::mem::replace(&mut roster.pending, true)
    }

    /// Clears `room`'s scheduled summary; returns its count and, if it has no more than `cap`
    /// online, its whole list.
    pub fn take_pending(&mut self, room: &str, cap: usize) -> (usize, Option<Vec<String>>) {
        let Some(roster) = self.rooms.get_mut(room) else {
            return (0, Some(Vec::new()));
        };
        roster.pending = false;
        let count = roster.names.len();
        let names = (count <= cap).then(|| roster.names.values().cloned().collect());
        if count == 0 {
            self.rooms.remove(room);
        }
        (count, names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(n: i64) -> PersonId {
        PersonId::from_raw(n)
    }

    #[test]
    fn lists_are_sorted_case_insensitively_and_capped() {
        let mut rosters = Rosters::default();
        assert_eq!(rosters.add("general", session(1), "bob"), 1);
        assert_eq!(rosters.add("general", session(2), "Alice"), 2);
        assert_eq!(rosters.add("general", session(3), "carol"), 3);
        assert_eq!(rosters.list("general", 10), ["Alice", "bob", "carol"]);
        assert_eq!(rosters.list("general", 2), ["Alice", "bob"]);
        assert_eq!(rosters.count("general"), 3);
        assert_eq!(rosters.count("rust"), 0);
    }

    #[test]
    fn one_nickname_in_two_sessions_is_listed_twice_and_removed_once() {
        let mut rosters = Rosters::default();
        rosters.add("general", session(1), "sam");
        rosters.add("general", session(2), "Sam");
        assert_eq!(rosters.remove("general", session(1), "sam"), 2);
        assert_eq!(rosters.list("general", 10), ["Sam"]);
        assert_eq!(rosters.remove("general", session(2), "Sam"), 1);
        assert_eq!(rosters.count("general"), 0);
    }

    #[test]
    fn a_summary_is_scheduled_once_until_taken() {
        let mut rosters = Rosters::default();
        for n in 0..5 {
            rosters.add("general", session(n), &format!("p{n}"));
        }
        assert!(rosters.mark_pending("general"));
        assert!(!rosters.mark_pending("general"));
        assert_eq!(rosters.take_pending("general", 3), (5, None));
        assert!(rosters.mark_pending("general"));
        rosters.remove("general", session(0), "p0");
        rosters.remove("general", session(1), "p1");
        let (count, names) = rosters.take_pending("general", 3);
        assert_eq!(count, 3);
        assert_eq!(
            names.as_deref(),
            Some(&["p2", "p3", "p4"].map(String::from)[..])
        );
    }
}
