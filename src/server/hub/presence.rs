//! Who is online: each person (a session with at least one connection here, or within the leave
//! grace after its last one), their rooms, and each open connection's inbox. (Long because local
//! connections and other servers' reports change the same `Whereabouts` state, so both paths live
//! beside it.)
//!
//! A person comes online with their first connection and goes offline
//! [`super::HubConfig::leave_grace`] after their last one closed, so a reload or a second tab never
//! announces a leave and a join. Registration is RAII: [`Directory::connect`] returns a
//! [`Presence`] guard whose drop unregisters the connection, whatever ends the connection's task.
//!
//! The state, `Whereabouts` (who is online where), sits behind one std mutex in the
//! [`Directory`]; its changes are methods of `Whereabouts` so that the local paths here and the
//! cluster ingress ([`super::remote`]) change it the same way, and announce what they decided only
//! after the lock is released.
//!
//! Every person's rooms here are a cache of the session's memberships, written only under the
//! session's order lock (by `membership` and by a connection's registration), so it never
//! disagrees with the store for longer than one change takes.
//!
//! # Several servers
//! Each server owns the entries of the people connected to it: it tells the others over the bus
//! when someone comes online *here* (their first connection here) and goes offline *here* (after
//! the grace), numbering these changes. Every server keeps, per person, whether they are online
//! here and on which other servers, and announces to its own clients only the transitions of that
//! whole view: online on some server after none, online on none after some. So a person with tabs
//! on two servers comes online once, a reload that lands on another server announces nothing,
//! and everyone hears of a change once, from the server they are connected to. What the other
//! servers say is applied by [`super::remote`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tungstenite::Utf8Bytes;

use super::inbox::{Inbox, Mailbox, Private};
use super::room::Registry;
use super::roster::Rosters;
use super::{ConnId, HubConfig, SERVER};
use crate::protocol::{ServerMsg, GENERAL};
use crate::server::bus::{Bus, Event, NodeId, PersonInfo};
use crate::server::session::{nick, PersonId, SessionId};

/// Who is online: each person, an index of their name keys, and each room's sorted list.
#[derive(Debug)]
pub(super) struct Whereabouts {
    pub(super) persons: HashMap<PersonId, Person>,
    pub(super) by_key: HashMap<String, PersonId>,
    pub(super) rosters: Rosters,
    /// How many presence changes this server has told the others (each one numbered, so a server
    /// that missed one asks for a snapshot).
    pub(super) version: u64,
    /// The bots among `persons`, with their names (a bot never renames): a few, listed in every
    /// `welcome` without a walk over everyone.
    pub(super) bots: BTreeMap<PersonId, String>,
    /// How many people online make a room a crowd ([`HubConfig::crowd`]).
    pub(super) crowd: usize,
}

/// Someone online (here or on another server), or within the leave grace here.
#[derive(Debug)]
pub(super) struct Person {
    pub(super) nick: String,
    pub(super) key: String,
    /// The rooms they are in besides `general` (where everyone is): for most people none, and an
    /// empty set costs nothing.
    pub(super) rooms: BTreeSet<String>,
    /// Each open connection's inbox.
    pub(super) connections: HashMap<ConnId, Arc<Mailbox>>,
    /// Which of their sessions each open connection speaks for.
    sessions: HashMap<ConnId, SessionId>,
    /// Bumped on every connect, so a pending leave can tell that the person came back meanwhile.
    epoch: u64,
    /// Whether they are online on this server: connected, or within the leave grace.
    pub(super) here: bool,
    /// A bot, not a person.
    pub(super) bot: bool,
    /// The other servers they are online on.
    pub(super) elsewhere: Vec<NodeId>,
}

impl Person {
    /// Takes the name (and key) `id` has now, in the rosters of every room they are in too;
    /// `by_key` forgets their old key if it still named them.
    fn rename(
        &mut self,
        id: PersonId,
        (nick, key): (&str, &str),
        rosters: &mut Rosters,
        by_key: &mut HashMap<String, PersonId>,
    ) {
        let rooms: Vec<String> = self.rooms.iter().cloned().collect();
        for room in std::iter::once(GENERAL).chain(rooms.iter().map(String::as_str)) {
            rosters.remove(room, id, &self.nick);
            rosters.add(room, id, nick);
        }
        if by_key.get(&self.key) == Some(&id) {
            by_key.remove(&self.key);
        }
        nick.clone_into(&mut self.nick);
        key.clone_into(&mut self.key);
    }

    /// Puts `id` in the rosters of `general` and of `rooms`, and out of those of the rooms they
    /// left. Returns the rooms they are new in, with their sizes now (`general` only for a
    /// `newcomer`).
    fn seat(
        &mut self,
        id: PersonId,
        rooms: &[String],
        newcomer: bool,
        rosters: &mut Rosters,
    ) -> Vec<(String, usize)> {
        let now_in: BTreeSet<String> = rooms
            .iter()
            .filter(|room| *room != GENERAL)
            .cloned()
            .collect();
        for gone in self.rooms.difference(&now_in) {
            rosters.remove(gone, id, &self.nick);
        }
        let mut sizes = Vec::new();
        let general = rosters.add(GENERAL, id, &self.nick);
        if newcomer {
            sizes.push((GENERAL.to_owned(), general));
        }
        for room in &now_in {
            let size = rosters.add(room, id, &self.nick);
            if !self.rooms.contains(room) {
                sizes.push((room.clone(), size));
            }
        }
        self.rooms = now_in;
        sizes
    }

    /// Someone who just came online, here or elsewhere, with no connection here yet.
    pub(super) fn new(nick: String, key: String, rooms: BTreeSet<String>) -> Self {
        Self {
            nick,
            key,
            rooms,
            connections: HashMap::new(),
            sessions: HashMap::new(),
            epoch: 0,
            here: false,
            bot: false,
            elsewhere: Vec::new(),
        }
    }

    /// Whether they are online on any server.
    pub(super) fn online(&self) -> bool {
        self.here || !self.elsewhere.is_empty()
    }

    /// Who they are, as the other servers learn it.
    pub(super) fn info(&self, session: PersonId) -> PersonInfo {
        PersonInfo {
            id: session.get(),
            nick: self.nick.clone(),
            rooms: self.rooms.iter().cloned().collect(),
            bot: self.bot,
        }
    }
}

/// Who someone online is, for a private message to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub person: PersonId,
    /// Their nickname as they spell it.
    pub nick: String,
}

/// A connection registered with the hub; dropping it unregisters the connection (and, after the
/// leave grace, the person if it was their last).
#[derive(Debug)]
pub struct Presence {
    directory: Arc<Directory>,
    session: PersonId,
    conn: ConnId,
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.directory.disconnect(self.session, self.conn);
    }
}

/// A connection of a person, as the hub registers it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub person: PersonId,
    /// The session (device) it speaks for.
    pub session: SessionId,
    pub nick: &'a str,
    pub key: &'a str,
    /// Its rooms, `general` included, read under the session's order lock.
    pub rooms: &'a [String],
    /// A bot's session.
    pub bot: bool,
}

/// Frames to send once the people lock is released, and rooms whose crowd summary to schedule.
#[derive(Debug, Default)]
pub(super) struct Announce {
    pub(super) frames: Vec<(String, ServerMsg)>,
    summaries: Vec<String>,
    /// The connection not to tell (a newcomer's own: its `welcome` already lists it).
    skip: Option<ConnId>,
}

impl Announce {
    /// How `room`, `size` people at its largest around a change, hears of it: `frame` if the room
    /// is no crowd (at most `crowd`), otherwise the room's next `roster` summary.
    pub(super) fn tell(
        &mut self,
        rosters: &mut Rosters,
        crowd: usize,
        room: String,
        size: usize,
        frame: ServerMsg,
    ) {
        if size <= crowd {
            self.frames.push((room, frame));
        } else if rosters.mark_pending(&room) {
            self.summaries.push(room);
        }
    }
}

/// Who is online, and what everyone is told of it: owns `Whereabouts` and hands out [`Presence`]
/// guards. It reaches the rooms only to announce, and the bus only to tell the other servers of
/// this one's changes.
#[derive(Debug)]
pub struct Directory {
    /// A std mutex, held only for map updates, never across `.await`; frames are sent after it is
    /// released.
    people: Mutex<Whereabouts>,
    rooms: Arc<Registry>,
    bus: Bus,
    /// Of [`HubConfig`], only what presence uses: the rest is the rooms' and group commit's.
    inbox_capacity: usize,
    leave_grace: Duration,
    roster_every: Duration,
}

impl Directory {
    pub(super) fn new(config: &HubConfig, rooms: Arc<Registry>, bus: Bus) -> Self {
        Self {
            people: Mutex::new(Whereabouts::new(config.crowd)),
            rooms,
            bus,
            inbox_capacity: config.inbox_capacity,
            leave_grace: config.leave_grace,
            roster_every: config.roster_every,
        }
    }

    pub(super) fn people(&self) -> MutexGuard<'_, Whereabouts> {
        self.people.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers connection `conn` of a session; announces the person as online if this is their
    /// first connection. Returns the connection's inbox and the guard that unregisters it.
    pub fn connect(self: &Arc<Self>, arrival: Arrival<'_>, conn: ConnId) -> (Inbox, Presence) {
        let mailbox = Mailbox::new(self.inbox_capacity);
        let session = arrival.person;
        let announce = {
            let mut people = self.people();
            let crowd = people.crowd;
            let Whereabouts {
                persons,
                by_key,
                rosters,
                version,
                bots,
                ..
            } = &mut *people;
            let newcomer = !persons.get(&session).is_some_and(Person::online);
            let person = persons.entry(session).or_insert_with(|| {
                Person::new(
                    arrival.nick.to_owned(),
                    arrival.key.to_owned(),
                    BTreeSet::new(),
                )
            });
            if person.nick != arrival.nick {
                // Another server's word on them was older than the store's.
                person.rename(session, (arrival.nick, arrival.key), rosters, by_key);
            }
            if arrival.bot {
                person.bot = true;
                bots.insert(session, person.nick.clone());
            }
            by_key.insert(person.key.clone(), session);
            // The session's rooms were read under its order lock, so they are the current ones.
            let sizes = person.seat(session, arrival.rooms, newcomer, rosters);
            person.epoch += 1;
            person.connections.insert(conn, Arc::clone(&mailbox));
            person.sessions.insert(conn, arrival.session);
            if !std::mem::replace(&mut person.here, true) && self.bus.is_shared() {
                // Told under the lock, so the others hear this server's changes in their order.
                *version += 1;
                let online = Event::Online {
                    v: *version,
                    person: person.info(session),
                };
                self.bus.publish(&online, None);
            }
            let nick = person.nick.clone();
            let bot = person.bot;
            newcomer.then(|| {
                let mut announce = plan_presence(rosters, crowd, nick, bot, true, sizes);
                announce.skip = Some(conn);
                announce
            })
        };
        if let Some(announce) = announce {
            self.announce(announce);
        }
        let presence = Presence {
            directory: Arc::clone(self),
            session,
            conn,
        };
        (Inbox { mailbox }, presence)
    }

    /// Sends what was decided, after the lock is released.
    pub(super) fn announce(self: &Arc<Self>, announce: Announce) {
        for (room, frame) in &announce.frames {
            self.rooms
                .broadcast(room, announce.skip.unwrap_or(SERVER), frame);
        }
        for room in announce.summaries {
            let directory = Arc::clone(self);
            let wait = summary_wait(self.roster_every, self.people().rosters.count(&room));
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let (count, members) = {
                    let mut people = directory.people();
                    let crowd = people.crowd;
                    people.rosters.take_pending(&room, crowd)
                };
                let roster = ServerMsg::Roster {
                    room: room.clone(),
                    count,
                    members,
                };
                directory.rooms.broadcast(&room, SERVER, &roster);
            });
        }
    }

    /// Records that `session` joined (`joined`) or left `room`: its members are told, if the person
    /// is online, and the session's connections other than `origin` follow. Called under the
    /// session's order lock, after the store took the change. Other servers are told to read the
    /// session again.
    pub fn membership(
        self: &Arc<Self>,
        session: PersonId,
        room: &str,
        joined: bool,
        origin: ConnId,
    ) {
        self.bus
            .publish(&Event::Session { id: session.get() }, None);
        let announce = self.people().change_room(session, room, joined, origin);
        if let Some(announce) = announce {
            self.announce(announce);
        }
    }

    /// Who of `room` is online, sorted case-insensitively; in a crowd, only the first
    /// [`super::HubConfig::crowd`] of them.
    pub fn members(&self, room: &str) -> Vec<String> {
        let people = self.people();
        people.rosters.list(room, people.crowd)
    }

    /// Who of `room` is online, as [`Directory::members`], and how many in all if that list was
    /// cut short (a crowd). Both are read under one lock, so the count always belongs to the list.
    pub fn listing(&self, room: &str) -> (Vec<String>, Option<usize>) {
        let people = self.people();
        let list = people.rosters.list(room, people.crowd);
        let count = people.rosters.count(room);
        let cut = (list.len() < count).then_some(count);
        (list, cut)
    }

    /// Everyone online, sorted case-insensitively; in a crowd, only the first ones.
    pub fn online(&self) -> Vec<String> {
        self.members(GENERAL)
    }

    /// Forgets connection `conn` of `session`. If it was the person's last one, they are announced
    /// as gone after the leave grace, unless they came back meanwhile (or are online on another
    /// server).
    fn disconnect(self: &Arc<Self>, session: PersonId, conn: ConnId) {
        let epoch = {
            let mut people = self.people();
            let Some(person) = people.persons.get_mut(&session) else {
                return;
            };
            person.connections.remove(&conn);
            person.sessions.remove(&conn);
            if !person.connections.is_empty() {
                return;
            }
            person.epoch
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let directory = Arc::clone(self);
        runtime.spawn(async move {
            tokio::time::sleep(directory.leave_grace).await;
            let announce = {
                let mut people = directory.people();
                match people.persons.get_mut(&session) {
                    Some(p) if p.connections.is_empty() && p.epoch == epoch && p.here => {
                        p.here = false;
                        if directory.bus.is_shared() {
                            people.version += 1;
                            let offline = Event::Offline {
                                v: people.version,
                                id: session.get(),
                            };
                            directory.bus.publish(&offline, None);
                        }
                        people.forget_if_gone(session)
                    }
                    _ => None,
                }
            };
            if let Some(announce) = announce {
                directory.announce(announce);
            }
        });
    }

    /// Closes every connection of `session` on this server: each says it is banned until `until`
    /// (and why), then closes.
    pub fn close_session(&self, session: PersonId, until: &str, reason: &str) {
        let people = self.people();
        for mailbox in people.inboxes(session) {
            mailbox.push(Private::Banned {
                until: until.to_owned(),
                reason: reason.to_owned(),
            });
        }
    }

    /// Closes connections of `person` here with `code` and `message`, then close code 1008 and
    /// `close_reason`: those of sessions `which` (signed out, replaced), or all of them (`None`: the
    /// person was deleted).
    pub fn end_sessions(
        &self,
        person: PersonId,
        which: Option<&[SessionId]>,
        code: crate::protocol::ErrorCode,
        (message, close_reason): (&str, &str),
    ) {
        let people = self.people();
        if let Some(found) = people.persons.get(&person) {
            for (conn, mailbox) in &found.connections {
                let session = found.sessions.get(conn).copied().unwrap_or_default();
                if which.is_some_and(|which| !which.contains(&session)) {
                    continue;
                }
                mailbox.push(Private::Ended {
                    code,
                    message: message.to_owned(),
                    close_reason: close_reason.to_owned(),
                });
            }
        }
    }

    /// Puts `frame` in the inboxes of `person`'s connections here, but `origin`'s (a frame for
    /// all of a person's devices: their read position moved).
    pub fn tell_person(&self, person: PersonId, origin: Option<ConnId>, frame: Utf8Bytes) {
        let people = self.people();
        if let Some(found) = people.persons.get(&person) {
            for (conn, mailbox) in &found.connections {
                if Some(*conn) != origin {
                    mailbox.push(Private::Frame(frame.clone()));
                }
            }
        }
    }

    /// Tells `person`'s connections everywhere but `origin` of `frame`: here at once, on the
    /// other servers through the bus.
    pub fn tell_person_everywhere(&self, person: PersonId, origin: ConnId, frame: &ServerMsg) {
        let frame = Utf8Bytes::from(frame.to_json());
        self.bus
            .publish(&Event::Personal { id: person.get() }, Some(frame.as_str()));
        self.tell_person(person, Some(origin), frame);
    }

    /// Closes the connections here of sessions `which` of `person`: they were signed out
    /// (`signed_out`, then close 1008 `signed out`).
    pub fn end_signed_out(&self, person: PersonId, which: &[SessionId]) {
        self.end_sessions(
            person,
            Some(which),
            crate::protocol::ErrorCode::SignedOut,
            ("this device was signed out", "signed out"),
        );
    }

    /// Signs out sessions `which` of `person` on every server: their connections here now, the
    /// others' through the bus.
    pub fn sign_out_everywhere(&self, person: PersonId, which: &[SessionId]) {
        let event = Event::SignedOut {
            id: person.get(),
            sessions: which.iter().map(|s| s.get()).collect(),
        };
        self.bus.publish(&event, None);
        self.end_signed_out(person, which);
    }

    /// Puts a stored private message in the inboxes of its parties' connections here but
    /// `skip`'s (its sender's), each with that party's previous private message, so a connection
    /// that lacks it reads the store first.
    pub(super) fn deliver_dm(
        &self,
        id: u64,
        (from, prev_from): (PersonId, u64),
        (to, prev_to): (PersonId, u64),
        frame: &Utf8Bytes,
        skip: Option<ConnId>,
    ) {
        let people = self.people();
        for (session, prev) in [(to, prev_to), (from, prev_from)] {
            if let Some(person) = people.persons.get(&session) {
                for (conn, mailbox) in &person.connections {
                    if Some(*conn) != skip {
                        mailbox.push(Private::Dm {
                            id,
                            prev: Some(prev),
                            frame: frame.clone(),
                        });
                    }
                }
            }
            if to == from {
                break;
            }
        }
    }

    /// The bots online, sorted.
    pub fn bots_online(&self) -> Vec<String> {
        let mut bots: Vec<String> = self.people().bots.values().cloned().collect();
        bots.sort_unstable();
        bots
    }

    /// How many people are online (or within the leave grace).
    pub fn people_online(&self) -> usize {
        self.people().persons.len()
    }

    /// Records that `session` is now called `to` (key `key`) and, if they are online, tells everyone
    /// but `origin`, which answers its own client. Other servers are told to read the session
    /// again.
    pub fn rename(&self, session: PersonId, from: &str, to: &str, key: &str, origin: ConnId) {
        self.bus
            .publish(&Event::Session { id: session.get() }, None);
        let online = self.people().rekey(session, to, key);
        if online {
            let renamed = ServerMsg::Renamed {
                from: from.to_owned(),
                to: to.to_owned(),
                reply_to: None,
            };
            self.rooms.broadcast(GENERAL, origin, &renamed);
        }
    }

    /// The person online (here or on another server) whose name has key `key` (see
    /// `session::nick`), if any.
    pub fn find_online(&self, key: &str) -> Option<Recipient> {
        let people = self.people();
        let session = *people.by_key.get(key)?;
        let person = people.persons.get(&session)?;
        (!person.connections.is_empty() || !person.elsewhere.is_empty()).then(|| Recipient {
            person: session,
            nick: person.nick.clone(),
        })
    }
}

impl Whereabouts {
    fn new(crowd: usize) -> Self {
        Self {
            persons: HashMap::new(),
            by_key: HashMap::new(),
            rosters: Rosters::default(),
            version: 0,
            bots: BTreeMap::new(),
            crowd,
        }
    }

    /// The inboxes of `session`'s connections here.
    pub(super) fn inboxes(&self, session: PersonId) -> impl Iterator<Item = &Arc<Mailbox>> {
        self.persons
            .get(&session)
            .into_iter()
            .flat_map(|person| person.connections.values())
    }

    /// One room of an online person changed: the room's lists, what its members hear, and the
    /// person's connections here (but `origin`) told to follow.
    pub(super) fn change_room(
        &mut self,
        session: PersonId,
        room: &str,
        joined: bool,
        origin: ConnId,
    ) -> Option<Announce> {
        let crowd = self.crowd;
        let Self {
            persons, rosters, ..
        } = self;
        let person = persons.get_mut(&session)?;
        let changed = if joined {
            person.rooms.insert(room.to_owned())
        } else {
            person.rooms.remove(room)
        };
        for (conn, inbox) in &person.connections {
            // If it does not fit, the connection reconciles its rooms when it reports the miss.
            if *conn != origin {
                inbox.push(Private::RoomsChanged);
            }
        }
        let size = match (changed, joined) {
            (false, _) => rosters.count(room),
            (true, true) => rosters.add(room, session, &person.nick),
            (true, false) => rosters.remove(room, session, &person.nick),
        };
        let member = ServerMsg::Member {
            room: room.to_owned(),
            nick: person.nick.clone(),
            joined,
        };
        let mut announce = Announce::default();
        announce.tell(rosters, crowd, room.to_owned(), size, member);
        Some(announce)
    }

    /// Removes `session` if it is online on no server any more, and says how that is announced.
    pub(super) fn forget_if_gone(&mut self, session: PersonId) -> Option<Announce> {
        let crowd = self.crowd;
        let Self {
            persons,
            by_key,
            rosters,
            bots,
            ..
        } = self;
        if persons.get(&session).is_none_or(Person::online) {
            return None;
        }
        let p = persons.remove(&session)?;
        if p.bot {
            bots.remove(&session);
        }
        if by_key.get(&p.key) == Some(&session) {
            by_key.remove(&p.key);
        }
        let sizes = std::iter::once(GENERAL)
            .chain(p.rooms.iter().map(String::as_str))
            .map(|room| (room.to_owned(), rosters.remove(room, session, &p.nick)))
            .collect();
        Some(plan_presence(rosters, crowd, p.nick, p.bot, false, sizes))
    }

    /// Lists an online person under their new name. Returns whether they are online.
    pub(super) fn rekey(&mut self, session: PersonId, to: &str, key: &str) -> bool {
        let Self {
            persons,
            by_key,
            rosters,
            ..
        } = self;
        let Some(person) = persons.get_mut(&session) else {
            return false;
        };
        for room in std::iter::once(GENERAL).chain(person.rooms.iter().map(String::as_str)) {
            rosters.remove(room, session, &person.nick);
            rosters.add(room, session, to);
        }
        if by_key.get(&person.key) == Some(&session) {
            by_key.remove(&person.key);
        }
        person.nick = to.to_owned();
        person.key = key.to_owned();
        by_key.insert(person.key.clone(), session);
        true
    }

    /// Whether this server's view of someone online only elsewhere differs from what their server
    /// says (a change whose news was lost): then the news is applied as if it had come.
    pub(super) fn stale_view(&self, info: &PersonInfo) -> bool {
        self.persons
            .get(&PersonId::from_store(info.id))
            .is_some_and(|p| {
                !p.here
                    && (p.nick != info.nick
                        || p.rooms.len() != info.rooms.len()
                        || !info.rooms.iter().all(|room| p.rooms.contains(room)))
            })
    }

    /// `node` says `info` is online there.
    pub(super) fn online_on(&mut self, node: NodeId, info: &PersonInfo) -> Option<Announce> {
        let session = PersonId::from_store(info.id);
        let crowd = self.crowd;
        let Self {
            persons,
            by_key,
            rosters,
            bots,
            ..
        } = self;
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
        Some(plan_presence(rosters, crowd, nick, person.bot, true, sizes))
    }

    /// `node` says `session` is offline there.
    pub(super) fn offline_on(&mut self, node: NodeId, session: PersonId) -> Option<Announce> {
        let person = self.persons.get_mut(&session)?;
        person.elsewhere.retain(|n| *n != node);
        self.forget_if_gone(session)
    }
}

/// Decides how the rooms of someone who came online (`online`) or went offline hear of it,
/// given each room's size at its largest around the change: one `presence` in `general` if that
/// is no crowd; otherwise a `roster` summary for each crowd and a `presence` in each other room.
fn plan_presence(
    rosters: &mut Rosters,
    crowd: usize,
    nick: String,
    bot: bool,
    online: bool,
    sizes: Vec<(String, usize)>,
) -> Announce {
    let rooms: Vec<String> = sizes
        .iter()
        .filter(|(room, _)| room != GENERAL)
        .map(|(room, _)| room.clone())
        .collect();
    let general_fits = sizes
        .iter()
        .find(|(room, _)| room == GENERAL)
        .is_none_or(|(_, size)| *size <= crowd);
    let mut announce = Announce::default();
    let presence = ServerMsg::Presence {
        nick,
        online,
        rooms: if online { rooms } else { Vec::new() },
        bot,
    };
    if general_fits {
        announce.frames.push((GENERAL.to_owned(), presence));
        return announce;
    }
    for (room, size) in sizes {
        announce.tell(rosters, crowd, room, size, presence.clone());
    }
    announce
}

/// A crowd's summary costs one frame to everyone in it, so a larger crowd gets it less often: one
/// more `every` per [`SUMMARY_PEOPLE_PER_STEP`] online, up to [`SUMMARY_MAX_WAIT`]. A room of 100,000
/// would otherwise cost 100,000 frames a second just to say how many are there.
fn summary_wait(every: Duration, online: usize) -> Duration {
    let steps = u32::try_from(online / SUMMARY_PEOPLE_PER_STEP)
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    every.saturating_mul(steps).min(SUMMARY_MAX_WAIT.max(every))
}

/// See [`summary_wait`].
const SUMMARY_PEOPLE_PER_STEP: usize = 1_000;
/// See [`summary_wait`].
const SUMMARY_MAX_WAIT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod summary_tests {
    use super::*;

    #[test]
    fn larger_crowds_get_their_summary_less_often() {
        let every = Duration::from_secs(1);
        assert_eq!(summary_wait(every, 150), every);
        assert_eq!(summary_wait(every, 999), every);
        assert_eq!(summary_wait(every, 5_400), Duration::from_secs(6));
        assert_eq!(summary_wait(every, 100_000), Duration::from_secs(30));
        assert_eq!(summary_wait(every, usize::MAX), Duration::from_secs(30));
    }
}
