//! People and their sessions: who a connection or a page speaks for, and who holds which
//! nickname.
//!
//! The store owns people, their sessions, their names' claims and their rooms
//! ([`crate::server::store`]); this module is a bounded cache of them with the rules around it:
//!
//! - A **person** ([`Person`]) owns a name, rooms, private messages, read positions, roles, mutes
//!   and bans. A **session** is one browser's or client's: a random token ([`token`]) the browser
//!   keeps in an HttpOnly cookie, naming one person. A person made by the nickname form (or a
//!   bot's `hello`) is a guest with one session; signing in on another device gives the same
//!   person another session. A session is found by its token on any server: read through from the
//!   store on a miss, never loaded wholesale.
//! - Nicknames are normalized and compared by a confusable-folded key ([`nick`]). A name is held
//!   by a claim in the store: while the person has a connection (their server refreshes the claim)
//!   and for [`SessionConfig::idle_hold`] after their last one closed; for good once they have a
//!   password or a passkey. After that someone else may take it; the old person is told
//!   `nick_taken` if they come back, and may pick a new name without losing their rooms or
//!   messages.
//! - Sessions unused for [`SessionConfig::forget_after`] are deleted by a sweep, and so are guests
//!   left without a session.
//!
//! # Memory
//! People with a connection on this server are kept (their connections hold them); of the rest,
//! sessions are kept in a bounded cache, at most [`SessionConfig::max_cached`] recently used,
//! least recently used out first, and none unused for long. There is never more than one
//! [`Person`] in memory for one person, however many of their sessions are cached. Each carries
//! its rate-limit buckets and an async lock that puts what must happen in one order per person
//! (membership changes, a new connection's registration, at-most-once sends) in that order across
//! all their devices and tabs.
//!
//! [`Sessions`] is what goes through the store (creating, looking up, claiming, renaming,
//! refreshing); [`SessionCache`] (`sessions.cache()`) is what this server holds and can answer
//! or forget without it, which is all that what the bus and the moderators' paths tell it needs.

mod cache;
pub mod nick;
mod person;
pub mod token;

use cache::Entry;
pub use cache::SessionCache;

use person::State;
pub use person::{banned, Online, Person, Standing};

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::clock::{now_rfc3339, rfc3339_ago, rfc3339_in};
use super::limits::{wait_ms, AddrKey, Rate, Throttle, TokenBucket};
use super::store::{Device, SavedPerson, Store, StoreError};
use crate::protocol::{ErrorCode, FrameError, GENERAL};
use nick::Nick;
use token::Digest;

/// The name of the browser's session cookie.
pub const COOKIE: &str = "chinwag_session";

/// The browser's `User-Agent`, which a new session records for its line on the devices page.
pub fn user_agent(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
}

/// A person's identity on every server: their number in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonId(i64);

impl PersonId {
    pub fn get(self) -> i64 {
        self.0
    }

    /// The person with this id in the store (as another server names them on the bus).
    pub fn from_store(id: i64) -> Self {
        Self(id)
    }

    /// Any id, for tests of the structures keyed by it.
    #[cfg(any(test, feature = "test-util"))]
    pub fn from_raw(n: i64) -> Self {
        Self(n)
    }
}

/// A session's identity (one device's, or one client's): its number in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SessionId(i64);

impl SessionId {
    pub fn get(self) -> i64 {
        self.0
    }

    /// The session with this id in the store.
    pub fn from_store(id: i64) -> Self {
        Self(id)
    }
}

/// Tunables of the session cache.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How long a guest keeps their nickname after their last connection closed.
    pub idle_hold: Duration,
    /// How long an unused session is kept at all (and a guest without one). After this its cookie
    /// leads back to the nickname form and its row is deleted.
    pub forget_after: Duration,
    /// Sessions without a connection kept in memory at most.
    pub max_cached: usize,
    /// How long a session without a connection stays cached unused.
    pub cache_idle: Duration,
    /// How often live sessions are marked seen and their names' claims moved forward (well
    /// within `idle_hold`, so a connected person's name never runs out).
    pub refresh_every: Duration,
    /// How often expired sessions are deleted from the store.
    pub sweep_every: Duration,
    /// Per person, all their devices and tabs together.
    pub messages: Rate,
    pub typing: Rate,
    /// Renames per person (a few an hour: everyone is told of each).
    pub renames: Rate,
    /// Whether other servers share the store (and may rename a person or change their rooms):
    /// then a person without a connection here is read again from the store whenever one of
    /// their sessions is looked up, and one with a connection here is re-read when the bus says
    /// they changed.
    pub shared: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_hold: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(30 * 24 * 3600),
            max_cached: 10_000,
            cache_idle: Duration::from_secs(120),
            refresh_every: Duration::from_secs(60),
            sweep_every: Duration::from_secs(3600),
            messages: Rate::new(10.0, 20.0),
            typing: Rate::new(2.0, 5.0),
            renames: Rate::per_hour(5.0, 3.0),
            shared: false,
        }
    }
}

/// The shared session cache. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sessions {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: SessionConfig,
    store: Store,
    cache: SessionCache,
}

/// A person made for someone who picked a name, with the session their browser or client now
/// holds.
#[derive(Debug)]
pub struct Created {
    pub person: Arc<Person>,
    pub session: SessionId,
    /// The session's token, given out once and never stored.
    pub token: String,
}

/// Who a token speaks for.
#[derive(Debug, Clone)]
pub struct Found {
    pub person: Arc<Person>,
    pub session: SessionId,
    /// The token's digest (the cache's key).
    digest: Digest,
}

impl Created {
    /// The new session as a lookup of its token finds it.
    pub fn found(&self) -> Found {
        Found {
            person: Arc::clone(&self.person),
            session: self.session,
            digest: token::digest(&self.token),
        }
    }
}

impl Sessions {
    pub fn new(config: SessionConfig, store: Store) -> Self {
        Self {
            shared: Arc::new(Shared {
                cache: SessionCache::new(config.max_cached),
                config,
                store,
            }),
        }
    }

    /// What this server holds in memory, asked and changed without the store.
    pub fn cache(&self) -> &SessionCache {
        &self.shared.cache
    }

    /// The session cache's settings.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    fn new_person(&self, id: i64, nick: Nick, rooms: BTreeSet<String>) -> Person {
        let now = Instant::now();
        Person {
            id: PersonId(id),
            state: Mutex::new(State {
                nick,
                rooms,
                connections: 0,
                claim_until: None,
                idle_since: now,
                fresh_directs: None,
                messages: TokenBucket::new(self.config().messages, now),
                typing: TokenBucket::new(self.config().typing, now),
                renames: TokenBucket::new(self.config().renames, now),
                standing: Standing::default(),
            }),
            order: tokio::sync::Mutex::new(()),
        }
    }

    /// Checks a nickname someone typed: normalized, valid, and not held by someone connected
    /// here (a name in use here is refused without a store round trip).
    pub fn check_name(&self, nick: &str) -> Result<Nick, FrameError> {
        let nick = nick::normalize(nick)?;
        if self.shared.cache.held_here(&nick.key, None) {
            return Err(nick_taken(&nick.display));
        }
        Ok(nick)
    }

    /// Makes a guest person for `nick` (see [`Sessions::check_name`]) with a first session, for
    /// someone at `address`, if the store's claim on the name can be had and the address is not
    /// banned.
    pub async fn create(
        &self,
        nick: Nick,
        address: IpAddr,
        user_agent: Option<&str>,
    ) -> Result<Created, FrameError> {
        let (token, digest) = token::generate();
        let hold = self.config().idle_hold;
        let now = now_rfc3339();
        let address = AddrKey::stored(address);
        let store = &self.shared.store;
        if let Some(until) = store
            .moderation()
            .address_banned_until(&address, &now)
            .await?
        {
            return Err(FrameError::sanctioned(
                ErrorCode::Banned,
                &until,
                format!("new sessions from your address are refused until {until}"),
            ));
        }
        let device = Device {
            address: Some(&address),
            user_agent,
        };
        let created = store
            .people()
            .create_person(
                &token::hex(&digest),
                (&nick.display, &nick.key),
                device,
                &now,
                &rfc3339_in(hold),
            )
            .await?;
        let Some((session, id)) = created else {
            return Err(nick_taken(&nick.display));
        };
        let person = self.new_person(id, nick, BTreeSet::new());
        {
            let mut state = person.lock();
            state.claim_until = Some(Instant::now() + hold / 2);
            state.standing.address = Some(address);
            state.fresh_directs = Some(0);
        }
        let person = Arc::new(person);
        let session = SessionId(session);
        let mut cache = self.shared.cache.lock();
        cache.known.insert(person.id, Arc::downgrade(&person));
        cache.idle.put(
            digest,
            Entry {
                session,
                person: Arc::clone(&person),
                connections: 0,
            },
        );
        Ok(Created {
            person,
            session,
            token,
        })
    }

    /// A new session of `person` (a sign-in on another device): its token, given out once, and
    /// the sessions signed out to make room for it (forgotten here already; their connections
    /// are the caller's to close).
    pub async fn sign_in(
        &self,
        person: PersonId,
        address: IpAddr,
        user_agent: Option<&str>,
    ) -> Result<(String, Vec<SessionId>), StoreError> {
        let (token, digest) = token::generate();
        let address = AddrKey::stored(address);
        let device = Device {
            address: Some(&address),
            user_agent,
        };
        let (_, over) = self
            .shared
            .store
            .people()
            .add_session(person.0, &token::hex(&digest), device, &now_rfc3339())
            .await?;
        let over: Vec<SessionId> = over.into_iter().map(SessionId).collect();
        if !over.is_empty() {
            self.shared.cache.forget_sessions(person, &over);
        }
        Ok((token, over))
    }

    /// The session a token names, and its person, from the cache or the store; `None` for an
    /// unknown, expired or signed-out token.
    pub async fn lookup(&self, token: &str) -> Result<Option<Found>, StoreError> {
        let digest = token::digest(token);
        if let Some(found) = self.shared.cache.find(&digest, self.config().forget_after) {
            // With other servers, only a person connected here is kept current (by the bus); any
            // other is read again, as another server may have changed them.
            if !self.config().shared || found.person.connections() > 0 {
                return Ok(Some(found));
            }
        }
        let expired_before = rfc3339_ago(self.config().forget_after);
        let saved = self
            .shared
            .store
            .people()
            .session_by_hash(&token::hex(&digest), &expired_before)
            .await?;
        Ok(saved.map(|saved| self.admit(digest, SessionId(saved.id), saved.person)))
    }

    /// Caches a session read from the store with its person, who is the one already in memory if
    /// there is one (brought up to date: there is never more than one in memory).
    fn admit(&self, digest: Digest, session: SessionId, saved: SavedPerson) -> Found {
        let id = PersonId(saved.id);
        let existing = self
            .shared
            .cache
            .lock()
            .known
            .get(&id)
            .and_then(Weak::upgrade);
        let person = match existing {
            Some(person) => {
                self.reload(&person, saved);
                person
            }
            None => {
                let person = self.new_person(saved.id, Nick::default(), BTreeSet::new());
                let last_direct = saved.last_direct;
                self.reload(&person, saved);
                person.lock().fresh_directs = Some(last_direct);
                let person = Arc::new(person);
                let mut cache = self.shared.cache.lock();
                // Another lookup may have made them meanwhile: that one is the person.
                match cache.known.get(&id).and_then(Weak::upgrade) {
                    Some(first) => first,
                    None => {
                        cache.known.insert(id, Arc::downgrade(&person));
                        person
                    }
                }
            }
        };
        let mut cache = self.shared.cache.lock();
        if let Some(entry) = cache.live.get(&digest) {
            return Found {
                person: Arc::clone(&entry.person),
                session: entry.session,
                digest,
            };
        }
        cache.idle.put(
            digest,
            Entry {
                session,
                person: Arc::clone(&person),
                connections: 0,
            },
        );
        Found {
            person,
            session,
            digest,
        }
    }

    /// Brings `person` up to date with the store's row; returns their name before. Under the
    /// person's order lock (or before anyone else can see them).
    pub fn reload(&self, person: &Person, saved: SavedPerson) -> String {
        let display = saved.nick;
        let key = nick::key(&display);
        let standing = Standing {
            moderator: saved.moderator,
            bot: saved.bot,
            secured: saved.secured,
            address: saved.address,
            muted_until: saved.muted_until,
            banned_until: saved.banned_until,
        };
        let rooms: BTreeSet<String> = saved
            .rooms
            .into_iter()
            .filter(|room| room != GENERAL && crate::protocol::validate_room(room).is_ok())
            .collect();
        // Still held by this person for at least half a hold: no need to claim it again soon.
        let fresh_until = rfc3339_in(self.config().idle_hold / 2);
        let held = saved.nick_key == key
            && saved
                .claim
                .is_some_and(|c| c.person_id == saved.id && c.held_until >= fresh_until);
        let (old, connected) = {
            let mut state = person.lock();
            let old = std::mem::replace(
                &mut state.nick,
                Nick {
                    display,
                    key: key.clone(),
                },
            );
            state.rooms = rooms;
            state.standing = standing;
            state.claim_until = held.then(|| Instant::now() + self.config().idle_hold / 2);
            (old, state.connections > 0)
        };
        if connected && old.key != key {
            self.shared.cache.lock().rekey(person.id, &old.key, key);
        }
        old.display
    }

    /// Person `id` as the store has them now.
    pub async fn read(&self, id: PersonId) -> Result<Option<SavedPerson>, StoreError> {
        self.shared.store.people().person_by_id(id.0).await
    }

    /// Makes sure `person` holds their name: known to this server, or claimed in the store now.
    /// `false` if someone else took the name while they were away.
    pub async fn claim(&self, person: &Person) -> Result<bool, StoreError> {
        let (key, known) = {
            let state = person.lock();
            let known = state
                .claim_until
                .is_some_and(|until| until > Instant::now());
            (state.nick.key.clone(), known)
        };
        if known {
            return Ok(true);
        }
        if self.shared.cache.held_here(&key, Some(person.id)) {
            return Ok(false);
        }
        let hold = self.config().idle_hold;
        let claimed = self
            .shared
            .store
            .people()
            .claim_nick(&key, person.id.0, &now_rfc3339(), &rfc3339_in(hold))
            .await?;
        if claimed {
            person.lock().claim_until = Some(Instant::now() + hold / 2);
        }
        Ok(claimed)
    }

    /// Who a token speaks for and can chat as now, for pages and forms: `None` if the token is
    /// unknown, or if someone else took the person's name while they were away (the page then
    /// asks for a new name, which renames this person).
    pub async fn authenticate(&self, token: &str) -> Result<Option<Found>, StoreError> {
        let Some(found) = self.lookup(token).await? else {
            return Ok(None);
        };
        Ok(self.claim(&found.person).await?.then_some(found))
    }

    /// A connection of a session opens: its person claims their name (`nick_taken` if someone
    /// else took it while they were away) and the connection counts until the returned guard is
    /// dropped.
    pub async fn connect(&self, found: &Found) -> Result<Online, FrameError> {
        let person = &found.person;
        if !self.claim(person).await? {
            return Err(nick_taken(&person.nick()));
        }
        let digest = found.digest;
        let mut cache = self.shared.cache.lock();
        let key = {
            let mut state = person.lock();
            state.connections += 1;
            state.nick.key.clone()
        };
        let entry = match cache.live.get_mut(&digest) {
            Some(entry) => entry,
            None => {
                cache.idle.pop(&digest);
                cache.live.entry(digest).or_insert(Entry {
                    session: found.session,
                    person: Arc::clone(person),
                    connections: 0,
                })
            }
        };
        entry.connections += 1;
        cache.people.insert(person.id, Arc::clone(person));
        cache.known.insert(person.id, Arc::downgrade(person));
        cache.names.insert(key, person.id);
        Ok(Online {
            sessions: self.clone(),
            person: Arc::clone(person),
            session: found.session,
            digest,
        })
    }

    /// The last part of a connection's life, from [`Online`]'s drop.
    fn disconnected(&self, person: &Arc<Person>, session: SessionId, digest: &Digest) {
        let last = {
            let mut cache = self.shared.cache.lock();
            let (last, key) = {
                let mut state = person.lock();
                state.connections = state.connections.saturating_sub(1);
                if state.connections == 0 {
                    state.idle_since = Instant::now();
                }
                (state.connections == 0, state.nick.key.clone())
            };
            // The session's own count (it is gone from the map if it was signed out).
            let session_done = match cache.live.get_mut(digest) {
                Some(entry) => {
                    entry.connections = entry.connections.saturating_sub(1);
                    entry.connections == 0
                }
                None => false,
            };
            if session_done {
                if let Some(entry) = cache.live.remove(digest) {
                    cache.idle.put(*digest, entry);
                }
            }
            if last {
                cache.people.remove(&person.id);
                if cache.names.get(&key) == Some(&person.id) {
                    cache.names.remove(&key);
                }
            }
            last
        };
        if last {
            // The hold starts now: tell the store when the person was last seen. (Outside a
            // runtime, i.e. while the process exits, the last refresh stands.)
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let store = self.shared.store.clone();
                let (id, hold) = (person.id.0, self.config().idle_hold);
                runtime.spawn(async move {
                    let saved = store
                        .people()
                        .refresh_people(&[session.0], &[id], &now_rfc3339(), &rfc3339_in(hold))
                        .await;
                    if let Err(err) = saved {
                        tracing::warn!(%err, "recording a person's last connection failed");
                    }
                });
            }
        }
    }

    /// Renames `person`; returns the old and the new name (equal when nothing changed). The new
    /// name is claimed in the store and the old one given up, in one transaction.
    pub async fn rename(
        &self,
        person: &Person,
        nick: &str,
    ) -> Result<(String, String), FrameError> {
        let new = nick::normalize(nick)?;
        let standing = person.standing();
        if standing.bot {
            return Err(FrameError::new(
                ErrorCode::Forbidden,
                "a bot keeps the name it was made with",
            ));
        }
        // Everyone is told of a rename: someone who may not post may not rename either.
        person.ensure_may_post()?;
        let _order = person.in_order().await;
        let old = person.lock().nick.clone();
        if old == new {
            return Ok((old.display, new.display));
        }
        person
            .lock()
            .renames
            .take(Instant::now())
            .map_err(|wait| FrameError::rate_limited("renames", wait_ms(wait)))?;
        if self.shared.cache.held_here(&new.key, Some(person.id)) {
            return Err(nick_taken(&new.display));
        }
        let hold = self.config().idle_hold;
        let renamed = self
            .shared
            .store
            .people()
            .rename_person(
                person.id.0,
                (&old.key, &new.display, &new.key),
                &now_rfc3339(),
                &rfc3339_in(hold),
            )
            .await?;
        if !renamed {
            return Err(nick_taken(&new.display));
        }
        let connected = {
            let mut state = person.lock();
            state.nick = new.clone();
            state.claim_until = Some(Instant::now() + hold / 2);
            state.connections > 0
        };
        if connected {
            self.shared.cache.lock().rekey(person.id, &old.key, new.key);
        }
        Ok((old.display, new.display))
    }

    /// Counts one frame of `kind` against `person`'s rate limit; over it, `rate_limited` with when
    /// to try again.
    pub fn throttle(&self, person: &Person, kind: Throttle) -> Result<(), FrameError> {
        let mut state = person.lock();
        let bucket = match kind {
            Throttle::Message => &mut state.messages,
            Throttle::Typing => &mut state.typing,
        };
        let what = match kind {
            Throttle::Message => "messages from this session",
            Throttle::Typing => "typing notices",
        };
        bucket
            .take(Instant::now())
            .map_err(|wait| FrameError::rate_limited(what, wait_ms(wait)))
    }

    /// Keeps the store current and the cache small; the server runs it every minute: live
    /// sessions and people are marked seen and their names' claims moved forward, and sessions
    /// unused for [`SessionConfig::cache_idle`] leave the cache.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let (sessions, people): (Vec<i64>, Vec<i64>) = {
            let mut cache = self.shared.cache.lock();
            let cutoff = Instant::now()
                .checked_sub(self.config().cache_idle)
                .unwrap_or_else(Instant::now);
            while let Some((_, oldest)) = cache.idle.peek_lru() {
                if oldest.person.lock().idle_since > cutoff {
                    break;
                }
                cache.idle.pop_lru();
            }
            cache.known.retain(|_, person| person.strong_count() > 0);
            (
                cache.live.values().map(|e| e.session.0).collect(),
                cache.people.keys().map(|id| id.0).collect(),
            )
        };
        let hold = self.config().idle_hold;
        self.shared
            .store
            .people()
            .refresh_people(&sessions, &people, &now_rfc3339(), &rfc3339_in(hold))
            .await
    }

    /// Deletes sessions unused for [`SessionConfig::forget_after`] from the store, then guests
    /// left without one (with their rooms and claims), and every claim that ran out. Returns how
    /// many people went.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        self.shared
            .store
            .people()
            .sweep_people(&rfc3339_ago(self.config().forget_after), &now_rfc3339())
            .await
    }
}

fn nick_taken(nick: &str) -> FrameError {
    FrameError::new(
        ErrorCode::NickTaken,
        format!("{nick:?} is already in use; pick another name"),
    )
}
