//! The cluster ingress: what other servers tell this one's hub (see `server::bus`), applied here.
//! Their rooms' messages and typing, their private messages, and who is online on them all land
//! in the same structures the local paths use, so a connection cannot tell where a frame came
//! from.
//!
//! [`Ingress`] holds the handles that takes (the rooms, [`Directory`], [`Repair`], the bus) and
//! nothing of group commit: what arrives here was committed elsewhere.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use tungstenite::Utf8Bytes;

use super::inbox::Private;
use super::presence::{Announce, Directory};
use super::repair::Repair;
use super::room::Registry;
use super::{Delivery, SERVER};
use crate::protocol::{ServerMsg, GENERAL};
use crate::server::bus::{Bus, Event, NodeId, PersonInfo};
use crate::server::session::{nick, PersonId};

/// Applies what the bus delivers to the rooms and to who is online.
#[derive(Debug)]
pub struct Ingress {
    presence: Arc<Directory>,
    rooms: Arc<Registry>,
    repair: Repair,
    /// Only to answer a snapshot request.
    bus: Bus,
}

impl Ingress {
    pub(super) fn new(
        presence: Arc<Directory>,
        rooms: Arc<Registry>,
        repair: Repair,
        bus: Bus,
    ) -> Self {
        Self {
            presence,
            rooms,
            repair,
            bus,
        }
    }

    /// A message another server stored: on to its room's ring, in order, if anyone listens here.
    pub fn message(&self, room: &str, seq: u64, frame: Utf8Bytes) {
        if let Some(room) = self.rooms.get(room) {
            if !room.has_listeners() {
                return;
            }
            if room.deliver(Delivery::sequenced(SERVER, seq, frame)) {
                self.repair.soon(&room);
            }
        }
    }

    /// A frame without a `seq` (typing) from another server: on to the room's ring as it is.
    pub fn frame(&self, room: &str, frame: Utf8Bytes) {
        self.rooms.send(room, Delivery::unsequenced(SERVER, frame));
    }

    /// A private message another server stored: into the inboxes of its parties' connections
    /// here, each with that party's previous private message, so a connection that lacks it reads
    /// the store first.
    pub fn direct(&self, id: u64, from: (PersonId, u64), to: (PersonId, u64), frame: &Utf8Bytes) {
        self.presence.deliver_dm(id, from, to, frame, None);
    }

    /// A private message this server may not have been told of (read from the store by a tail
    /// check): each party's connections here check the store for what they lack.
    pub fn missed_direct(&self, id: u64, parties: [Option<PersonId>; 2]) {
        let people = self.presence.people();
        let mut seen = None;
        for session in parties.into_iter().flatten() {
            if seen == Some(session) {
                continue;
            }
            seen = Some(session);
            for mailbox in people.inboxes(session) {
                mailbox.push(Private::Missed { id });
            }
        }
    }

    /// `node` says `info` came online there.
    pub fn online(&self, node: NodeId, info: &PersonInfo) {
        let (announce, stale) = {
            let mut people = self.presence.people();
            let stale = people.stale_view(info);
            (people.online_on(node, info), stale)
        };
        if let Some(announce) = announce {
            self.presence.announce(announce);
        }
        if stale {
            self.apply_session(
                PersonId::from_store(info.id),
                &info.nick,
                &Self::room_set(&info.rooms),
            );
        }
    }

    /// `node` says session `id` went offline there.
    pub fn offline(&self, node: NodeId, id: i64) {
        let announce = self
            .presence
            .people()
            .offline_on(node, PersonId::from_store(id));
        if let Some(announce) = announce {
            self.presence.announce(announce);
        }
    }

    /// `node` is gone (it stopped, or stopped answering): nobody is online there any more.
    pub fn gone(&self, node: NodeId) {
        self.snapshot(node, &[]);
    }

    /// Everyone online on `node`, as it says: whoever this server thought was there and is not
    /// goes offline there, whoever is comes online there.
    pub fn snapshot(&self, node: NodeId, online: &[PersonInfo]) {
        let mut stale = Vec::new();
        let announces: Vec<Announce> = {
            let mut people = self.presence.people();
            let listed: HashSet<i64> = online.iter().map(|info| info.id).collect();
            let gone: Vec<PersonId> = people
                .persons
                .iter()
                .filter(|(session, p)| {
                    p.elsewhere.contains(&node) && !listed.contains(&session.get())
                })
                .map(|(session, _)| *session)
                .collect();
            let mut announces = Vec::new();
            for session in gone {
                announces.extend(people.offline_on(node, session));
            }
            for info in online {
                if people.stale_view(info) {
                    stale.push(info);
                }
                announces.extend(people.online_on(node, info));
            }
            announces
        };
        for announce in announces {
            self.presence.announce(announce);
        }
        for info in stale {
            self.apply_session(
                PersonId::from_store(info.id),
                &info.nick,
                &Self::room_set(&info.rooms),
            );
        }
    }

    /// Tells the other servers everyone online here, in parts of `part` people: under the people
    /// lock, so no change of this server's is published between the snapshot and its version.
    pub fn publish_people(&self, part: usize) {
        let people = self.presence.people();
        let here: Vec<PersonInfo> = people
            .persons
            .iter()
            .filter(|(_, p)| p.here)
            .map(|(session, p)| p.info(*session))
            .collect();
        let chunks: Vec<&[PersonInfo]> = if here.is_empty() {
            vec![&[]]
        } else {
            here.chunks(part.max(1)).collect()
        };
        let parts = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
        for (i, chunk) in chunks.into_iter().enumerate() {
            let snapshot = Event::Snapshot {
                v: people.version,
                part: u32::try_from(i).unwrap_or(u32::MAX),
                parts,
                people: chunk.to_vec(),
            };
            self.bus.publish(&snapshot, None);
        }
    }

    /// The number of this server's latest presence change.
    pub fn presence_version(&self) -> u64 {
        self.presence.people().version
    }

    /// Whether `session` is online anywhere, as far as this server knows.
    pub fn knows(&self, session: PersonId) -> bool {
        self.presence.people().persons.contains_key(&session)
    }

    /// Session `session` is now called `nick` and in `rooms` (besides general), as the store says
    /// after another server changed it: this server's lists follow, and its clients hear of the
    /// change as they would have from a change made here.
    pub fn apply_session(&self, session: PersonId, nick: &str, rooms: &BTreeSet<String>) {
        let (from, renamed) = {
            let people = self.presence.people();
            match people.persons.get(&session) {
                Some(person) if person.nick != nick => (person.nick.clone(), true),
                Some(_) => (String::new(), false),
                None => return,
            }
        };
        if renamed
            && self
                .presence
                .people()
                .rekey(session, nick, &nick::key(nick))
        {
            let renamed = ServerMsg::Renamed {
                from,
                to: nick.to_owned(),
                reply_to: None,
            };
            self.rooms.broadcast(GENERAL, SERVER, &renamed);
        }
        let announces: Vec<Announce> = {
            let mut people = self.presence.people();
            let Some(person) = people.persons.get(&session) else {
                return;
            };
            let joined: Vec<String> = rooms.difference(&person.rooms).cloned().collect();
            let left: Vec<String> = person.rooms.difference(rooms).cloned().collect();
            let mut announces = Vec::new();
            for room in joined {
                announces.extend(people.change_room(session, &room, true, SERVER));
            }
            for room in left {
                announces.extend(people.change_room(session, &room, false, SERVER));
            }
            announces
        };
        for announce in announces {
            self.presence.announce(announce);
        }
    }

    /// The inboxes of `session`'s connections here are told its rooms changed (so they re-read
    /// them), even if this server's lists already agree.
    pub fn rooms_changed(&self, session: PersonId) {
        for mailbox in self.presence.people().inboxes(session) {
            mailbox.push(Private::RoomsChanged);
        }
    }

    /// Rooms as a set, without general.
    pub fn room_set(rooms: &[String]) -> BTreeSet<String> {
        rooms
            .iter()
            .filter(|room| *room != GENERAL)
            .cloned()
            .collect()
    }
}
