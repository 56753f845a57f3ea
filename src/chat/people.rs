//! Who is online: everyone (`general`), each room's members, crowds summed up by count, and who of
//! them are bots. Arrivals, departures and renames change the lists here; the notices they make
//! and the typing entries they end are the chat's to make, as they are other parts.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::conversation::Conversations;
use super::{key, lower};
use crate::protocol::{avatar_path, GENERAL};

/// Who is online, as far as the page knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roster {
    /// Everyone online, me included (also `general`'s list).
    online: Vec<String>,
    /// Who of each room but `general` is online (in `general` that is `online`).
    members: BTreeMap<String, Vec<String>>,
    /// For a crowded room (general included), how many are online in all: its list above holds only
    /// some of them and follows `roster` summaries rather than every arrival.
    crowds: BTreeMap<String, usize>,
    /// Who online are bots (by name key).
    bots: HashSet<String>,
    /// Pictures changed while the page was open (by name key): their new addresses. Everyone
    /// else's is at [`avatar_path`], which the browser checks again on each page load. Bounded:
    /// past [`MAX_PICTURES`] it is emptied, which only costs a check of each picture.
    pictures: HashMap<String, String>,
}

/// How many changed pictures the page remembers.
pub const MAX_PICTURES: usize = 1_000;

impl Roster {
    /// Who of `room` is online, sorted case-insensitively.
    pub fn members(&self, room: &str) -> &[String] {
        if room == GENERAL {
            &self.online
        } else {
            self.members.get(room).map_or(&[], Vec::as_slice)
        }
    }

    /// How many are online in `room`: its list's length, or the count of a crowd.
    pub fn head_count(&self, room: &str) -> usize {
        let listed = self.members(room).len();
        self.crowds
            .get(room)
            .map_or(listed, |&count| count.max(listed))
    }

    /// Everyone online, me included, sorted case-insensitively.
    pub fn online(&self) -> &[String] {
        &self.online
    }

    /// Whether `nick` is a bot.
    pub fn is_bot(&self, nick: &str) -> bool {
        !self.bots.is_empty() && self.bots.contains(&key(nick))
    }

    /// Where `nick`'s picture is.
    pub fn picture(&self, nick: &str) -> String {
        self.pictures
            .get(&key(nick))
            .cloned()
            .unwrap_or_else(|| avatar_path(nick))
    }

    /// `nick` set or removed their picture: it is at `url` now.
    pub(super) fn picture_changed(&mut self, nick: &str, url: &str) -> bool {
        if self.pictures.len() >= MAX_PICTURES {
            self.pictures.clear();
        }
        self.pictures.insert(key(nick), url.to_owned());
        true
    }

    fn sort_online(&mut self) {
        self.online.sort_by_key(|n| lower(n));
        self.online.dedup();
    }

    /// A `welcome`'s word on who is online and which of them are bots, and the crowds' counts.
    pub(super) fn welcome(
        &mut self,
        online: &[String],
        counts: &BTreeMap<String, usize>,
        bots: &[String],
    ) {
        self.bots = bots.iter().map(|b| key(b)).collect();
        self.crowds = counts.clone();
        self.online = online.to_vec();
        self.sort_online();
    }

    /// A `welcome`'s members of my rooms. Apart from [`Roster::welcome`], as rooms left elsewhere
    /// are forgotten between the two and these lists replace whatever that left.
    pub(super) fn welcome_members(&mut self, members: &BTreeMap<String, Vec<String>>) {
        self.members = members.clone();
    }

    /// `joined`: I am in `room` (again), with who of it is online, or its count if crowded.
    pub(super) fn joined(&mut self, room: &str, members: &[String], count: Option<usize>) {
        if room != GENERAL {
            self.members.insert(room.to_owned(), members.to_vec());
        }
        match count {
            Some(count) => self.crowds.insert(room.to_owned(), count),
            None => self.crowds.remove(room),
        };
    }

    /// A crowded room's summary: its count, and its list once it is small enough to list again.
    pub(super) fn roster(
        &mut self,
        room: &str,
        count: usize,
        members: Option<&[String]>,
        conversations: &Conversations,
    ) -> bool {
        if room != GENERAL && !conversations.is_member(room) {
            return false;
        }
        match members {
            Some(members) => {
                let mut members = members.to_vec();
                members.sort_by_key(|n| lower(n));
                if room == GENERAL {
                    self.online = members;
                } else {
                    self.members.insert(room.to_owned(), members);
                }
                self.crowds.remove(room);
            }
            None => {
                self.crowds.insert(room.to_owned(), count);
            }
        }
        true
    }

    /// `nick` joined or left `room` (one I am in, not `general`). Returns whether the list changed.
    pub(super) fn member(
        &mut self,
        room: &str,
        nick: &str,
        joined: bool,
        conversations: &Conversations,
    ) -> bool {
        if room == GENERAL || !conversations.is_member(room) {
            return false;
        }
        let members = self.members.entry(room.to_owned()).or_default();
        let listed = members.iter().any(|n| n == nick);
        if joined == listed {
            return false;
        }
        if joined {
            members.push(nick.to_owned());
            members.sort_by_key(|n| lower(n));
        } else {
            members.retain(|n| n != nick);
        }
        true
    }

    /// `nick` came online (into `rooms`) or went. Returns whether the online list changed. Whether
    /// they are a bot follows either way.
    pub(super) fn presence(
        &mut self,
        nick: &str,
        online: bool,
        rooms: &[String],
        bot: bool,
    ) -> bool {
        if bot && online {
            self.bots.insert(key(nick));
        } else if !online {
            self.bots.remove(&key(nick));
        }
        let listed = self.online.iter().any(|n| n == nick);
        if online == listed {
            return false;
        }
        if online {
            self.online.push(nick.to_owned());
            self.sort_online();
            for room in rooms.iter().filter(|r| *r != GENERAL) {
                if let Some(members) = self.members.get_mut(room) {
                    if !members.iter().any(|n| n == nick) {
                        members.push(nick.to_owned());
                        members.sort_by_key(|n| lower(n));
                    }
                }
            }
        } else {
            self.online.retain(|n| n != nick);
            for members in self.members.values_mut() {
                members.retain(|n| n != nick);
            }
        }
        true
    }

    /// `from` is now called `to`, in every list.
    pub(super) fn renamed(&mut self, from: &str, to: &str) {
        let lists = std::iter::once(&mut self.online).chain(self.members.values_mut());
        for list in lists {
            for name in list.iter_mut() {
                if name == from {
                    *name = to.to_owned();
                }
            }
            list.sort_by_key(|n| lower(n));
        }
        self.online.dedup();
        // The new name's plain address finds the picture.
        self.pictures.remove(&key(from));
    }

    /// A room I left: who is in it is no longer followed.
    pub(super) fn forget_room(&mut self, room: &str) {
        self.members.remove(room);
        self.crowds.remove(room);
    }
}
