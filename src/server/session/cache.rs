//! The sessions this server holds in memory, and the people they name: what can be answered and
//! changed without the store. [`super::Sessions`] reads through it and writes the store; the bus
//! and the moderators' paths change it directly, as they only tell this server what the store
//! already says.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use lru::LruCache;

use super::token::Digest;
use super::{Found, Person, PersonId, SessionId};

/// A session as cached: its number, its person, and its connections here.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) session: SessionId,
    pub(super) person: Arc<Person>,
    pub(super) connections: usize,
}

#[derive(Debug)]
pub(super) struct Cache {
    /// Sessions with a connection on this server; each leaves when its last connection closes.
    pub(super) live: HashMap<Digest, Entry>,
    /// The people with a connection here, by id (the bus names people by id).
    pub(super) people: HashMap<PersonId, Arc<Person>>,
    /// Every person in memory, so that two sessions of one person share one [`Person`].
    pub(super) known: HashMap<PersonId, Weak<Person>>,
    /// Recently used sessions without a connection, bounded.
    pub(super) idle: LruCache<Digest, Entry>,
    /// The name keys held by people live here: a name in use here is refused without a store
    /// round trip.
    pub(super) names: HashMap<String, PersonId>,
}

impl Cache {
    /// `person`'s name key is now `new` instead of `old`, while they are connected here.
    pub(super) fn rekey(&mut self, person: PersonId, old: &str, new: String) {
        if self.names.get(old) == Some(&person) {
            self.names.remove(old);
        }
        self.names.insert(new, person);
    }
}

/// The bounded session cache, behind one std mutex that is never held across `.await`.
#[derive(Debug)]
pub struct SessionCache {
    cache: Mutex<Cache>,
}

impl SessionCache {
    /// A cache that keeps at most `max_idle` sessions without a connection here.
    pub(super) fn new(max_idle: usize) -> Self {
        let capacity = NonZeroUsize::new(max_idle).unwrap_or(NonZeroUsize::MIN);
        Self {
            cache: Mutex::new(Cache {
                live: HashMap::new(),
                people: HashMap::new(),
                known: HashMap::new(),
                idle: LruCache::new(capacity),
                names: HashMap::new(),
            }),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The name key's holder among people live here, other than `me`.
    pub(super) fn held_here(&self, key: &str, me: Option<PersonId>) -> bool {
        self.lock()
            .names
            .get(key)
            .is_some_and(|holder| Some(*holder) != me)
    }

    /// The session with token digest `digest`, if cached and used within `forget_after`.
    pub(super) fn find(&self, digest: &Digest, forget_after: Duration) -> Option<Found> {
        let mut cache = self.lock();
        if let Some(entry) = cache.live.get(digest) {
            return Some(Found {
                person: Arc::clone(&entry.person),
                session: entry.session,
                digest: *digest,
            });
        }
        let entry = cache.idle.get(digest)?.clone();
        // Unused for longer than a session lives: expired, whatever the cache still holds.
        if entry.person.lock().idle_since.elapsed() > forget_after {
            cache.idle.pop(digest);
            return None;
        }
        Some(Found {
            person: entry.person,
            session: entry.session,
            digest: *digest,
        })
    }

    /// Records that person `id` was muted (`ban: false`) or banned until `until` (by this server
    /// or, through the bus, another): their connected copy learns it; a copy without a connection
    /// is forgotten, so that its next use reads the store.
    pub fn sanctioned(&self, id: PersonId, ban: bool, until: &str) {
        match self.live(id) {
            Some(person) => person.update_standing(|s| {
                let until = Some(until.to_owned());
                if ban {
                    s.banned_until = until;
                } else {
                    s.muted_until = until;
                }
            }),
            None => self.forget_idle(id),
        }
    }

    /// Records that person `id`'s mutes (`ban: false`) or bans were lifted: their connected copy
    /// learns it; a copy without a connection is forgotten, so that its next use reads the store.
    pub fn lifted(&self, id: PersonId, ban: bool) {
        match self.live(id) {
            Some(person) => person.update_standing(|s| {
                if ban {
                    s.banned_until = None;
                } else {
                    s.muted_until = None;
                }
            }),
            None => self.forget_idle(id),
        }
    }

    /// Drops person `id`'s sessions from the cache of sessions without a connection here, so that
    /// their next use reads the store: after a change made to them in the store by someone else.
    /// A walk of that cache (at most `max_cached`), for what moderators and the operator do, not
    /// what every request does.
    fn forget_idle(&self, id: PersonId) {
        let mut cache = self.lock();
        let digests: Vec<Digest> = cache
            .idle
            .iter()
            .filter(|(_, entry)| entry.person.id == id)
            .map(|(digest, _)| *digest)
            .collect();
        for digest in digests {
            cache.idle.pop(&digest);
        }
        if !cache.people.contains_key(&id) {
            cache.known.remove(&id);
        }
    }

    /// Forgets sessions `which` of person `id` (signed out, replaced, revoked): their tokens no
    /// longer work here (the store already says so). Their connections are closed by the caller
    /// (`Directory::end_sessions`).
    pub fn forget_sessions(&self, id: PersonId, which: &[SessionId]) {
        let mut cache = self.lock();
        let live: Vec<Digest> = cache
            .live
            .iter()
            .filter(|(_, entry)| entry.person.id == id && which.contains(&entry.session))
            .map(|(digest, _)| *digest)
            .collect();
        for digest in live {
            cache.live.remove(&digest);
        }
        let idle: Vec<Digest> = cache
            .idle
            .iter()
            .filter(|(_, entry)| entry.person.id == id && which.contains(&entry.session))
            .map(|(digest, _)| *digest)
            .collect();
        for digest in idle {
            cache.idle.pop(&digest);
        }
    }

    /// Forgets every session of person `id` (they were deleted).
    pub fn forget_person(&self, id: PersonId) {
        let mut cache = self.lock();
        cache.live.retain(|_, entry| entry.person.id != id);
        let idle: Vec<Digest> = cache
            .idle
            .iter()
            .filter(|(_, entry)| entry.person.id == id)
            .map(|(digest, _)| *digest)
            .collect();
        for digest in idle {
            cache.idle.pop(&digest);
        }
        cache.known.remove(&id);
    }

    /// The people this server holds (with a connection here, or cached) who are in `room`.
    pub fn cached_in(&self, room: &str) -> Vec<Arc<Person>> {
        let cache = self.lock();
        cache
            .known
            .values()
            .filter_map(Weak::upgrade)
            .filter(|person| person.is_member(room))
            .collect()
    }

    /// Person `id`, if they have a connection here.
    pub fn live(&self, id: PersonId) -> Option<Arc<Person>> {
        self.lock().people.get(&id).cloned()
    }

    /// Person `id`, if this server holds them at all.
    pub fn known(&self, id: PersonId) -> Option<Arc<Person>> {
        self.lock().known.get(&id).and_then(Weak::upgrade)
    }

    /// The people with a connection here.
    pub fn live_ids(&self) -> Vec<PersonId> {
        self.lock().people.keys().copied().collect()
    }

    /// How many sessions are in memory: with a connection here, and without.
    pub fn cached(&self) -> (usize, usize) {
        let cache = self.lock();
        (cache.live.len(), cache.idle.len())
    }
}
