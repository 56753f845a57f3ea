//! Who is online: everyone (`general`), each room's members, crowds summed up by count; arrivals,
//! departures and renames, each announced once per person.

use super::{key, Chat, View};
use crate::protocol::GENERAL;

impl Chat {
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

    pub(super) fn sort_online(&mut self) {
        self.online.sort_by_key(|n| super::lower(n));
        self.online.dedup();
    }

    /// `joined`: I am in `room` (again), with who of it is online, or its count if crowded.
    pub(super) fn joined(&mut self, room: &str, members: &[String], count: Option<usize>) -> bool {
        self.ensure_room(room);
        if room != GENERAL {
            self.members.insert(room.to_owned(), members.to_vec());
        }
        match count {
            Some(count) => self.crowds.insert(room.to_owned(), count),
            None => self.crowds.remove(room),
        };
        true
    }

    /// A crowded room's summary: its count, and its list once it is small enough to list again.
    pub(super) fn roster(&mut self, room: &str, count: usize, members: Option<&[String]>) -> bool {
        if room != GENERAL && !self.rooms.contains_key(room) {
            return false;
        }
        match members {
            Some(members) => {
                let mut members = members.to_vec();
                members.sort_by_key(|n| super::lower(n));
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

    /// A moderator's action, told to everyone; mine changes whether I may post.
    pub(super) fn moderated(
        &mut self,
        action: &str,
        nick: &str,
        by: &str,
        until: &str,
        reason: &str,
    ) -> bool {
        if key(nick) == key(&self.me) {
            match action {
                "muted" => self.muted_until = Some(until.to_owned()),
                "unmuted" => self.muted_until = None,
                _ => {}
            }
        }
        let reason = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        let notice = if action.starts_with("un") {
            format!("{nick} was {action} by {by}")
        } else {
            let until = super::readable_time(until);
            format!("{nick} was {action} by {by} until {until}{reason}")
        };
        self.notice(&View::Room(GENERAL.to_owned()), notice);
        true
    }

    pub(super) fn member(&mut self, room: &str, nick: &str, joined: bool) -> bool {
        if room == GENERAL || !self.rooms.contains_key(room) {
            return false;
        }
        let members = self.members.entry(room.to_owned()).or_default();
        let listed = members.iter().any(|n| n == nick);
        if joined == listed {
            return false;
        }
        if joined {
            members.push(nick.to_owned());
            members.sort_by_key(|n| super::lower(n));
        } else {
            members.retain(|n| n != nick);
            self.typing.stopped(room, nick);
        }
        if nick != self.me {
            let verb = if joined { "joined" } else { "left" };
            self.notice(
                &View::Room(room.to_owned()),
                format!("{nick} {verb} #{room}"),
            );
        }
        true
    }

    pub(super) fn presence(&mut self, nick: &str, online: bool, rooms: &[String]) -> bool {
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
                        members.sort_by_key(|n| super::lower(n));
                    }
                }
            }
        } else {
            self.online.retain(|n| n != nick);
            for members in self.members.values_mut() {
                members.retain(|n| n != nick);
            }
            self.typing.gone(nick);
        }
        if nick != self.me {
            let verb = if online { "joined" } else { "left" };
            self.notice(&View::general(), format!("{nick} {verb}"));
        }
        true
    }

    pub(super) fn renamed(&mut self, from: &str, to: &str) -> bool {
        let lists = std::iter::once(&mut self.online).chain(self.members.values_mut());
        for list in lists {
            for name in list.iter_mut() {
                if name == from {
                    *name = to.to_owned();
                }
            }
            list.sort_by_key(|n| super::lower(n));
        }
        self.online.dedup();
        self.typing.renamed(from, to);
        let text = if from == self.me {
            self.me = to.to_owned();
            format!("You are now known as {to}")
        } else {
            format!("{from} is now known as {to}")
        };
        // A conversation with the renamed person moves to the new name, with my messages to them
        // still waiting for their ack (settled there, not in a conversation under the old name).
        let (old, new) = (key(from), key(to));
        if old != new {
            for (view, _) in self.pending.values_mut() {
                if matches!(view, View::Direct(peer) if key(peer) == old) {
                    *view = View::Direct(new.clone());
                }
            }
            if let Some(mut conv) = self.directs.remove(&old) {
                conv.title = to.to_owned();
                if self.view == View::Direct(old) {
                    self.view = View::Direct(new.clone());
                }
                self.directs.insert(new, conv);
            }
        } else if let Some(conv) = self.directs.get_mut(&old) {
            conv.title = to.to_owned();
        }
        self.notice(&View::general(), text);
        true
    }
}
