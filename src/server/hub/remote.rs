//! What other servers tell this one's hub (see `server::bus`): their rooms' messages and typing,
//! their private messages, and who is online on them. Everything lands in the same structures the
//! local paths use, so a connection cannot tell where a frame came from.

use std::collections::{BTreeSet, HashSet};

use tungstenite::Utf8Bytes;

use super::inbox::Private;
use super::presence::{Announce, People, Person};
use super::{Delivery, Hub, SERVER};
use crate::protocol::{ServerMsg, GENERAL};
use crate::server::bus::{Event, NodeId, PersonInfo};
use crate::server::session::{nick, PersonId};

impl Hub {
    /// A message another server stored: on to its room's ring, in order, if anyone listens here.
    pub fn remote_message(&self, room: &str, seq: u64, frame: Utf8Bytes) {
        if let Some(room) = self.shared.rooms.get(room) {
            if !room.has_listeners() {
                return;
            }
            if room.deliver(Delivery::sequenced(SERVER, seq, frame)) {
                self.repair_soon(&room);
            }
        }
    }

    /// A frame without a `seq` (typing) from another server: on to the room's ring as it is.
    pub fn remote_frame(&self, room: &str, frame: Utf8Bytes) {
        self.send_unsequenced(room, SERVER, frame);
    }

    /// A private message another server stored: into the inboxes of its parties' connections
    /// here, each with that party's previous private message, so a connection that lacks it reads
    /// the store first.
    pub fn remote_direct(
        &self,
        id: u64,
        (from, prev_from): (PersonId, u64),
        (to, prev_to): (PersonId, u64),
        frame: &Utf8Bytes,
    ) {
        let people = self.people();
        for (session, prev) in [(to, prev_to), (from, prev_from)] {
            if let Some(person) = people.persons.get(&session) {
                for mailbox in person.connections.values() {
                    mailbox.push(Private::Dm {
                        id,
                        prev: Some(prev),
                        frame: frame.clone(),
                    });
                }
            }
            if to == from {
                break;
            }
        }
    }

    /// A private message this server may not have been told of (read from the store by a tail
    /// check): each party's connections here check the store for what they lack.
    pub fn missed_direct(&self, id: u64, parties: [Option<PersonId>; 2]) {
        let people = self.people();
        let mut seen = None;
        for session in parties.into_iter().flatten() {
            if seen == Some(session) {
                continue;
            }
            seen = Some(session);
            if let Some(person) = people.persons.get(&session) {
                for mailbox in person.connections.values() {
                    mailbox.push(Private::Missed { id });
                }
            }
        }
    }

    /// `node` says `info` came online there.
    pub fn remote_online(&self, node: NodeId, info: &PersonInfo) {
        let (announce, stale) = {
            let mut people = self.people();
            let stale = Self::stale_view(&people, info);
            (self.online_on(&mut people, node, info), stale)
        };
        if let Some(announce) = announce {
            self.announce(announce);
        }
        if stale {
            self.apply_session(
                PersonId::from_store(info.id),
                &info.nick,
                &Self::room_set(&info.rooms),
            );
        }
    }

    /// Whether this server's view of someone online only elsewhere differs from what their server
    /// says (a change whose news was lost): then the news is applied as if it had come.
    fn stale_view(people: &People, info: &PersonInfo) -> bool {
        people
            .persons
            .get(&PersonId::from_store(info.id))
            .is_some_and(|p| {
                !p.here
                    && (p.nick != info.nick
                        || p.rooms.len() != info.rooms.len()
                        || !info.rooms.iter().all(|room| p.rooms.contains(room)))
            })
    }

    fn online_on(&self, people: &mut People, node: NodeId, info: &PersonInfo) -> Option<Announce> {
        let session = PersonId::from_store(info.id);
        let People {
            persons,
            by_key,
            rosters,
            bots,
            ..
        } = people;
        let newcomer = !persons.contains_key(&session);
        let person = persons.entry(session).or_insert_with(|| {
            let rooms: BTreeSet<String> = info
                .rooms
                .iter()
                .filter(|room| *room != GENERAL)
                .cloned()
                .collect();
            Person::new(info.nick.clone(), nick::key(&info.nick), rooms)
        });
        if !person.elsewhere.contains(&node) {
            person.elsewhere.push(node);
        }
        if info.bot {
            person.bot = true;
            bots.insert(session, person.nick.clone());
        }
        if !newcomer {
            return None;
        }
        by_key.insert(person.key.clone(), session);
        let sizes = std::iter::once(GENERAL)
            .chain(person.rooms.iter().map(String::as_str))
            .map(|room| (room.to_owned(), rosters.add(room, session, &person.nick)))
            .collect();
        let nick = person.nick.clone();
        Some(self.plan_presence(rosters, nick, person.bot, true, sizes))
    }

    /// `node` says session `id` went offline there.
    pub fn remote_offline(&self, node: NodeId, id: i64) {
        let announce = {
            let mut people = self.people();
            self.offline_on(&mut people, node, PersonId::from_store(id))
        };
        if let Some(announce) = announce {
            self.announce(announce);
        }
    }

    fn offline_on(&self, people: &mut People, node: NodeId, session: PersonId) -> Option<Announce> {
        let person = people.persons.get_mut(&session)?;
        person.elsewhere.retain(|n| *n != node);
        self.forget_if_gone(people, session)
    }

    /// `node` is gone (it stopped, or stopped answering): nobody is online there any more.
    pub fn remote_gone(&self, node: NodeId) {
        self.remote_snapshot(node, &[]);
    }

    /// Everyone online on `node`, as it says: whoever this server thought was there and is not
    /// goes offline there, whoever is comes online there.
    pub fn remote_snapshot(&self, node: NodeId, online: &[PersonInfo]) {
        let mut stale = Vec::new();
        let announces: Vec<Announce> = {
            let mut people = self.people();
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
                announces.extend(self.offline_on(&mut people, node, session));
            }
            for info in online {
                if Self::stale_view(&people, info) {
                    stale.push(info);
                }
                announces.extend(self.online_on(&mut people, node, info));
            }
            announces
        };
        for announce in announces {
            self.announce(announce);
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
        let people = self.people();
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
            self.shared.bus.publish(&snapshot, None);
        }
    }

    /// The number of this server's latest presence change.
    pub fn presence_version(&self) -> u64 {
        self.people().version
    }

    /// Whether `session` is online anywhere, as far as this server knows.
    pub fn knows(&self, session: PersonId) -> bool {
        self.people().persons.contains_key(&session)
    }

    /// Session `session` is now called `nick` and in `rooms` (besides general), as the store says
    /// after another server changed it: this server's lists follow, and its clients hear of the
    /// change as they would have from a change made here.
    pub fn apply_session(&self, session: PersonId, nick: &str, rooms: &BTreeSet<String>) {
        let (from, renamed) = {
            let people = self.people();
            match people.persons.get(&session) {
                Some(person) if person.nick != nick => (person.nick.clone(), true),
                Some(_) => (String::new(), false),
                None => return,
            }
        };
        if renamed && self.rekey(session, nick, &nick::key(nick)) {
            let renamed = ServerMsg::Renamed {
                from,
                to: nick.to_owned(),
                reply_to: None,
            };
            self.broadcast(GENERAL, SERVER, &renamed);
        }
        let announces: Vec<Announce> = {
            let mut people = self.people();
            let Some(person) = people.persons.get(&session) else {
                return;
            };
            let joined: Vec<String> = rooms.difference(&person.rooms).cloned().collect();
            let left: Vec<String> = person.rooms.difference(rooms).cloned().collect();
            let mut announces = Vec::new();
            for room in joined {
                announces.extend(self.change_room(&mut people, session, &room, true, SERVER));
            }
            for room in left {
                announces.extend(self.change_room(&mut people, session, &room, false, SERVER));
            }
            announces
        };
        for announce in announces {
            self.announce(announce);
        }
    }

    /// The inboxes of `session`'s connections here are told its rooms changed (so they re-read
    /// them), even if this server's lists already agree.
    pub fn rooms_changed(&self, session: PersonId) {
        let people = self.people();
        if let Some(person) = people.persons.get(&session) {
            for mailbox in person.connections.values() {
                mailbox.push(Private::RoomsChanged);
            }
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
