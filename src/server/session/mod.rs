//! Sessions: who a connection or a page speaks for, and who holds which nickname.
//!
//! The store owns sessions, their nicknames' claims and their rooms ([`crate::server::store`]);
//! this module is a bounded cache of them with the rules around it:
//!
//! - A session is created when someone picks a nickname (the page's form, or a bot's `hello`), and
//!   named by a random token ([`token`]) the browser keeps in an HttpOnly cookie. It is found by
//!   that token on any server: read through from the store on a miss, never loaded wholesale.
//! - Nicknames are normalized and compared by a confusable-folded key ([`nick`]). A name is held
//!   by a claim in the store: while the session has a connection (its server refreshes the claim)
//!   and for [`SessionConfig::idle_hold`] after its last one closed. After that someone else may
//!   take it; the old session is told `nick_taken` if it comes back, and may pick a new name
//!   without losing its rooms or messages. After a restart the claim, not the last one to load,
//!   decides who holds a name.
//! - Sessions unseen for [`SessionConfig::forget_after`] are deleted by a sweep.
//!
//! # Memory
//! Sessions with a connection on this server are kept (their connections hold them); of the rest,
//! at most [`SessionConfig::max_cached`] recently used ones, least recently used out first, and
//! none unused for long. Each [`Session`] carries its rate-limit buckets and an async lock that
//! puts what must happen in one order per session (membership changes, a new connection's
//! registration, at-most-once sends) in that order across all its tabs.

mod entry;
pub mod nick;
pub mod token;

use entry::State;
pub use entry::{banned, Online, Session, Standing};

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

use super::clock::{now_rfc3339, rfc3339_ago, rfc3339_in};
use super::limits::{wait_ms, AddrKey, Rate, Throttle, TokenBucket};
use super::store::{SavedSession, Store, StoreError};
use crate::protocol::{ErrorCode, FrameError, GENERAL};
use nick::Nick;
use token::Digest;

/// The name of the browser's session cookie.
pub const COOKIE: &str = "chinwag_session";

/// A session's identity on every server: its number in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(i64);

impl SessionId {
    pub fn get(self) -> i64 {
        self.0
    }

    /// The session with this id in the store (as another server names it on the bus).
    pub fn from_store(id: i64) -> Self {
        Self(id)
    }

    /// Any id, for tests of the structures keyed by it.
    #[cfg(any(test, feature = "test-util"))]
    pub fn from_raw(n: i64) -> Self {
        Self(n)
    }
}

/// Tunables of the session cache.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How long a session keeps its nickname after its last connection closed.
    pub idle_hold: Duration,
    /// How long an unused session is kept at all. After this its cookie leads back to the
    /// nickname form and its row is deleted.
    pub forget_after: Duration,
    /// Sessions without a connection kept in memory at most.
    pub max_cached: usize,
    /// How long a session without a connection stays cached unused.
    pub cache_idle: Duration,
    /// How often live sessions are marked seen and their claims moved forward (well within
    /// `idle_hold`, so a connected session's name never runs out).
    pub refresh_every: Duration,
    /// How often expired sessions are deleted from the store.
    pub sweep_every: Duration,
    /// Per session, all its tabs together.
    pub messages: Rate,
    pub typing: Rate,
    /// Renames per session (a few an hour: everyone is told of each).
    pub renames: Rate,
    /// Whether other servers share the store (and may rename a session or change its rooms):
    /// then a session without a connection here is read again from the store whenever it is
    /// looked up, and one with a connection here is re-read when the bus says it changed.
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
    cache: Mutex<Cache>,
}

#[derive(Debug)]
struct Cache {
    /// Sessions with a connection on this server; each leaves when its last connection closes.
    live: HashMap<Digest, Arc<Session>>,
    /// The same sessions by id (the bus names sessions by id).
    live_ids: HashMap<SessionId, Digest>,
    /// Recently used sessions without a connection, bounded.
    idle: LruCache<Digest, Arc<Session>>,
    /// The name keys held by live sessions: a name in use here is refused without a store round
    /// trip.
    names: HashMap<String, SessionId>,
}

impl Sessions {
    pub fn new(config: SessionConfig, store: Store) -> Self {
        let capacity = NonZeroUsize::new(config.max_cached).unwrap_or(NonZeroUsize::MIN);
        Self {
            shared: Arc::new(Shared {
                config,
                store,
                cache: Mutex::new(Cache {
                    live: HashMap::new(),
                    live_ids: HashMap::new(),
                    idle: LruCache::new(capacity),
                    names: HashMap::new(),
                }),
            }),
        }
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.shared
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The session cache's settings.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    fn new_session(&self, id: i64, digest: Digest, nick: Nick, rooms: BTreeSet<String>) -> Session {
        let now = Instant::now();
        Session {
            id: SessionId(id),
            token_hash: Arc::from(token::hex(&digest)),
            digest,
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
                revoked: false,
            }),
            order: tokio::sync::Mutex::new(()),
        }
    }

    /// The name key's holder among sessions live here, other than `me`.
    fn held_here(&self, key: &str, me: Option<SessionId>) -> bool {
        self.cache()
            .names
            .get(key)
            .is_some_and(|holder| Some(*holder) != me)
    }

    /// Checks a nickname someone typed: normalized, valid, and not held by a session connected
    /// here (a name in use here is refused without a store round trip).
    pub fn check_name(&self, nick: &str) -> Result<Nick, FrameError> {
        let nick = nick::normalize(nick)?;
        if self.held_here(&nick.key, None) {
            return Err(nick_taken(&nick.display));
        }
        Ok(nick)
    }

    /// Creates a session for `nick` (see [`Sessions::check_name`]), for someone at `address`, if
    /// the store's claim on the name can be had and the address is not banned. Returns it with its
    /// token (shown once, never stored).
    pub async fn create(
        &self,
        nick: Nick,
        address: IpAddr,
    ) -> Result<(Arc<Session>, String), FrameError> {
        let (token, digest) = token::generate();
        let hold = self.config().idle_hold;
        let now = now_rfc3339();
        let address = AddrKey::stored(address);
        let store = &self.shared.store;
        if let Some(until) = store
            .address_banned_until(&address, &now)
            .await
            .map_err(unavailable)?
        {
            return Err(FrameError::sanctioned(
                ErrorCode::Banned,
                &until,
                format!("new sessions from your address are refused until {until}"),
            ));
        }
        let created = store
            .create_session(
                &token::hex(&digest),
                &nick.display,
                &nick.key,
                &address,
                &now,
                &rfc3339_in(hold),
            )
            .await
            .map_err(unavailable)?;
        let Some(id) = created else {
            return Err(nick_taken(&nick.display));
        };
        let session = self.new_session(id, digest, nick, BTreeSet::new());
        {
            let mut state = session.lock();
            state.claim_until = Some(Instant::now() + hold / 2);
            state.standing.address = Some(address);
        }
        let session = Arc::new(session);
        self.cache().idle.put(digest, Arc::clone(&session));
        Ok((session, token))
    }

    /// The session a token names, from the cache or the store; `None` for an unknown or expired
    /// token.
    pub async fn lookup(&self, token: &str) -> Result<Option<Arc<Session>>, StoreError> {
        let digest = token::digest(token);
        if let Some(session) = self.in_cache(&digest) {
            // With other servers, only a session connected here is kept current (by the bus);
            // any other is read again, as another server may have changed it.
            if !self.config().shared || session.connections() > 0 {
                return Ok(Some(session));
            }
        }
        let expired_before = rfc3339_ago(self.config().forget_after);
        let saved = self
            .shared
            .store
            .session_by_hash(&token::hex(&digest), &expired_before)
            .await?;
        Ok(saved.map(|saved| self.admit(digest, saved)))
    }

    fn in_cache(&self, digest: &Digest) -> Option<Arc<Session>> {
        let mut cache = self.cache();
        if let Some(session) = cache.live.get(digest) {
            if session.lock().revoked {
                return None;
            }
            return Some(Arc::clone(session));
        }
        let session = Arc::clone(cache.idle.get(digest)?);
        // Unused for longer than a session lives: expired, whatever the cache still holds.
        if session.lock().idle_since.elapsed() > self.config().forget_after {
            cache.idle.pop(digest);
            return None;
        }
        Some(session)
    }

    /// Caches a session read from the store, unless another lookup cached it meanwhile (then that
    /// one is the session, brought up to date: there is never more than one in memory).
    fn admit(&self, digest: Digest, saved: SavedSession) -> Arc<Session> {
        let existing = {
            let mut cache = self.cache();
            match cache.live.get(&digest) {
                Some(existing) => Some(Arc::clone(existing)),
                None => cache.idle.get(&digest).cloned(),
            }
        };
        if let Some(existing) = existing {
            self.reload(&existing, saved);
            return existing;
        }
        let session = self.new_session(saved.id, digest, Nick::default(), BTreeSet::new());
        let last_direct = saved.last_direct;
        self.reload(&session, saved);
        session.lock().fresh_directs = Some(last_direct);
        let mut cache = self.cache();
        if let Some(existing) = cache.live.get(&digest) {
            return Arc::clone(existing);
        }
        if let Some(existing) = cache.idle.get(&digest) {
            return Arc::clone(existing);
        }
        let session = Arc::new(session);
        cache.idle.put(digest, Arc::clone(&session));
        session
    }

    /// Brings `session` up to date with the store's row; returns its name before. Under the
    /// session's order lock (or before anyone else can see it).
    pub fn reload(&self, session: &Session, saved: SavedSession) -> String {
        let display = saved.nick;
        let key = nick::key(&display);
        let standing = Standing {
            moderator: saved.moderator,
            bot: saved.bot,
            address: saved.address,
            muted_until: saved.muted_until,
            banned_until: saved.banned_until,
        };
        let rooms: BTreeSet<String> = saved
            .rooms
            .into_iter()
            .filter(|room| room != GENERAL && crate::protocol::validate_room(room).is_ok())
            .collect();
        // Still held by this session for at least half a hold: no need to claim it again soon.
        let fresh_until = rfc3339_in(self.config().idle_hold / 2);
        let held = saved.nick_key == key
            && saved
                .claim
                .is_some_and(|c| c.session_id == saved.id && c.held_until >= fresh_until);
        let (old, connected) = {
            let mut state = session.lock();
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
            let mut cache = self.cache();
            if cache.names.get(&old.key) == Some(&session.id) {
                cache.names.remove(&old.key);
            }
            cache.names.insert(key, session.id);
        }
        old.display
    }

    /// Records that session `id` was muted (`ban: false`) or banned until `until` (by this server
    /// or, through the bus, another): its connected copy learns it; a copy without a connection is
    /// dropped, so that its next use reads the store.
    pub fn sanctioned(&self, id: SessionId, ban: bool, until: &str) {
        match self.live(id) {
            Some(session) => session.update_standing(|s| {
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

    /// Records that session `id`'s mutes (`ban: false`) or bans were lifted: its connected copy
    /// learns it; a copy without a connection is dropped, so that its next use reads the store.
    pub fn lifted(&self, id: SessionId, ban: bool) {
        match self.live(id) {
            Some(session) => session.update_standing(|s| {
                if ban {
                    s.banned_until = None;
                } else {
                    s.muted_until = None;
                }
            }),
            None => self.forget_idle(id),
        }
    }

    /// Drops session `id` from the cache of sessions without a connection here, so that its next
    /// use reads it from the store: after a change made to it in the store by someone else (a mute
    /// or a ban). A walk of that cache (at most `max_cached`), for what moderators do, not what
    /// every request does.
    fn forget_idle(&self, id: SessionId) {
        let mut cache = self.cache();
        let digest = cache
            .idle
            .iter()
            .find(|(_, session)| session.id == id)
            .map(|(digest, _)| *digest);
        if let Some(digest) = digest {
            cache.idle.pop(&digest);
        }
    }

    /// Forgets session `id`: its token no longer works here (the store already says so). Its
    /// connections are closed by the caller (`Hub::end_session`).
    pub fn revoke(&self, id: SessionId) {
        if let Some(session) = self.live(id) {
            session.lock().revoked = true;
        }
        self.forget_idle(id);
    }

    /// The sessions this server holds (with a connection here, or cached) that are in `room`.
    pub fn cached_in(&self, room: &str) -> Vec<Arc<Session>> {
        let cache = self.cache();
        cache
            .live
            .values()
            .chain(cache.idle.iter().map(|(_, session)| session))
            .filter(|session| session.is_member(room))
            .cloned()
            .collect()
    }

    /// The session with this id, if it has a connection here.
    pub fn live(&self, id: SessionId) -> Option<Arc<Session>> {
        let cache = self.cache();
        let digest = cache.live_ids.get(&id)?;
        cache.live.get(digest).cloned()
    }

    /// The sessions with a connection here.
    pub fn live_ids(&self) -> Vec<SessionId> {
        self.cache().live_ids.keys().copied().collect()
    }

    /// Session `id` as the store has it now, unless it expired.
    pub async fn read(&self, id: SessionId) -> Result<Option<SavedSession>, StoreError> {
        let expired_before = rfc3339_ago(self.config().forget_after);
        self.shared.store.session_by_id(id.0, &expired_before).await
    }

    /// Makes sure `session` holds its name: known to this server, or claimed in the store now.
    /// `false` if someone else took the name while the session was away.
    pub async fn claim(&self, session: &Session) -> Result<bool, StoreError> {
        let (key, known) = {
            let state = session.lock();
            let known = state
                .claim_until
                .is_some_and(|until| until > Instant::now());
            (state.nick.key.clone(), known)
        };
        if known {
            return Ok(true);
        }
        if self.held_here(&key, Some(session.id)) {
            return Ok(false);
        }
        let hold = self.config().idle_hold;
        let claimed = self
            .shared
            .store
            .claim_nick(&key, session.id.0, &now_rfc3339(), &rfc3339_in(hold))
            .await?;
        if claimed {
            session.lock().claim_until = Some(Instant::now() + hold / 2);
        }
        Ok(claimed)
    }

    /// The session a token names and can chat under now, for pages and forms: `None` if the token
    /// is unknown, or if someone else took its name while it was away (the page then asks for a
    /// new name, which renames this session).
    pub async fn authenticate(&self, token: &str) -> Result<Option<Arc<Session>>, StoreError> {
        let Some(session) = self.lookup(token).await? else {
            return Ok(None);
        };
        Ok(self.claim(&session).await?.then_some(session))
    }

    /// A connection of `session` opens: it claims its name (`nick_taken` if someone else took it
    /// while the session was away) and counts the connection until the returned guard is dropped.
    pub async fn connect(&self, session: &Arc<Session>) -> Result<Online, FrameError> {
        if !self.claim(session).await.map_err(unavailable)? {
            return Err(nick_taken(&session.nick()));
        }
        let mut cache = self.cache();
        let key = {
            let mut state = session.lock();
            state.connections += 1;
            state.nick.key.clone()
        };
        cache.idle.pop(&session.digest);
        cache.live.insert(session.digest, Arc::clone(session));
        cache.live_ids.insert(session.id, session.digest);
        cache.names.insert(key, session.id);
        Ok(Online {
            sessions: self.clone(),
            session: Arc::clone(session),
        })
    }

    /// The last part of a connection's life, from [`Online`]'s drop.
    fn disconnected(&self, session: &Arc<Session>) {
        let last = {
            let mut cache = self.cache();
            let (last, key) = {
                let mut state = session.lock();
                state.connections = state.connections.saturating_sub(1);
                if state.connections == 0 {
                    state.idle_since = Instant::now();
                }
                (state.connections == 0, state.nick.key.clone())
            };
            if last {
                cache.live.remove(&session.digest);
                cache.live_ids.remove(&session.id);
                if cache.names.get(&key) == Some(&session.id) {
                    cache.names.remove(&key);
                }
                if !session.lock().revoked {
                    cache.idle.put(session.digest, Arc::clone(session));
                }
            }
            last
        };
        if last {
            // The hold starts now: tell the store when the session was last seen. (Outside a
            // runtime, i.e. while the process exits, the last refresh stands.)
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let store = self.shared.store.clone();
                let (id, hold) = (session.id.0, self.config().idle_hold);
                runtime.spawn(async move {
                    let saved = store
                        .refresh_sessions(&[id], &now_rfc3339(), &rfc3339_in(hold))
                        .await;
                    if let Err(err) = saved {
                        tracing::warn!(%err, "recording a session's last connection failed");
                    }
                });
            }
        }
    }

    /// Renames `session`; returns the old and the new name (equal when nothing changed). The new
    /// name is claimed in the store and the old one given up, in one transaction.
    pub async fn rename(
        &self,
        session: &Session,
        nick: &str,
    ) -> Result<(String, String), FrameError> {
        let new = nick::normalize(nick)?;
        let standing = session.standing();
        if standing.bot {
            return Err(FrameError::new(
                ErrorCode::Forbidden,
                "a bot keeps the name it was made with",
            ));
        }
        // Everyone is told of a rename: someone who may not post may not rename either.
        session.ensure_may_post()?;
        let _order = session.in_order().await;
        let old = session.lock().nick.clone();
        if old == new {
            return Ok((old.display, new.display));
        }
        session
            .lock()
            .renames
            .take(Instant::now())
            .map_err(|wait| FrameError::rate_limited("renames", wait_ms(wait)))?;
        if self.held_here(&new.key, Some(session.id)) {
            return Err(nick_taken(&new.display));
        }
        let hold = self.config().idle_hold;
        let renamed = self
            .shared
            .store
            .rename_session(
                session.id.0,
                &old.key,
                &new.display,
                &new.key,
                &now_rfc3339(),
                &rfc3339_in(hold),
            )
            .await
            .map_err(unavailable)?;
        if !renamed {
            return Err(nick_taken(&new.display));
        }
        let connected = {
            let mut state = session.lock();
            state.nick = new.clone();
            state.claim_until = Some(Instant::now() + hold / 2);
            state.connections > 0
        };
        if connected {
            let mut cache = self.cache();
            if cache.names.get(&old.key) == Some(&session.id) {
                cache.names.remove(&old.key);
            }
            cache.names.insert(new.key, session.id);
        }
        Ok((old.display, new.display))
    }

    /// Counts one frame of `kind` against `session`'s rate limit; over it, `rate_limited` with when
    /// to try again.
    pub fn throttle(&self, session: &Session, kind: Throttle) -> Result<(), FrameError> {
        let mut state = session.lock();
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

    /// Keeps the store current and the cache small; the server runs it every minute:
    /// live sessions are marked seen and their names' claims moved forward, and sessions unused
    /// for [`SessionConfig::cache_idle`] leave the cache.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let live: Vec<i64> = {
            let mut cache = self.cache();
            let cutoff = Instant::now()
                .checked_sub(self.config().cache_idle)
                .unwrap_or_else(Instant::now);
            while let Some((_, oldest)) = cache.idle.peek_lru() {
                if oldest.lock().idle_since > cutoff {
                    break;
                }
                cache.idle.pop_lru();
            }
            cache.live.values().map(|s| s.id.0).collect()
        };
        let hold = self.config().idle_hold;
        self.shared
            .store
            .refresh_sessions(&live, &now_rfc3339(), &rfc3339_in(hold))
            .await
    }

    /// Deletes sessions unseen for [`SessionConfig::forget_after`] from the store (with their
    /// rooms and claims) and every claim that ran out. Returns how many sessions went.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        self.shared
            .store
            .sweep_sessions(&rfc3339_ago(self.config().forget_after), &now_rfc3339())
            .await
    }

    /// How many sessions are in memory: with a connection here, and without.
    pub fn cached(&self) -> (usize, usize) {
        let cache = self.cache();
        (cache.live.len(), cache.idle.len())
    }
}

fn nick_taken(nick: &str) -> FrameError {
    FrameError::new(
        ErrorCode::NickTaken,
        format!("{nick:?} is already in use; pick another name"),
    )
}

/// A store failure as the client hears it; the cause goes to the log.
pub fn unavailable(err: impl std::fmt::Display) -> FrameError {
    tracing::error!(%err, "the store failed");
    FrameError::new(
        ErrorCode::Unavailable,
        "the server cannot reach its store right now; try again",
    )
}
