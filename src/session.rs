//! Sessions: who a connection is, and which nicknames are taken.
//!
//! A session is created when someone picks a nickname (the page's form, or a bot's `hello`). It is
//! named by a random 256-bit token that the browser keeps in an HttpOnly cookie; the server keeps only
//! the token's SHA-256, so a leaked session table cannot be replayed. Every tab of the browser shares
//! the session, and so its nickname.
//!
//! A nickname is unique among *active* sessions, compared case-insensitively. A session is active while
//! it has an open connection, and for [`SessionConfig::idle_hold`] after its last one closed (so a
//! reload, a laptop lid or a train tunnel does not lose the name). After that it may be taken by
//! someone else; the old session keeps working and is told `nick_taken` if it comes back to a name
//! now in use.
//!
//! The registry lives in memory and is written through to the store by its callers (a new session,
//! a rename), and restored from it at start-up ([`Sessions::restore`]), so a browser keeps its name
//! across a server restart.
//!
//! A session also owns its room memberships: every tab of a browser is in the same rooms, and they
//! survive reconnects, reloads and restarts (written through to the store like the name). Everyone
//! is in `general`, which is never stored and cannot be left.
//!
//! Sessions also remember the `client_id`s of their recent messages, so a retried `say` is stored and
//! delivered at most once (the retry is acked with the first `seq`).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use crate::limits::{Throttle, TokenBucket};
use crate::protocol::{validate_nick, validate_room, ErrorCode, FrameError, GENERAL, MAX_ROOMS};
use crate::store::SavedSession;

/// The name of the browser's session cookie.
pub const COOKIE: &str = "chinwag_session";

/// Identifies a session inside the server (never shown to clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(u64);

#[cfg(test)]
impl SessionId {
    /// Any id, for tests of the structures keyed by it.
    pub(crate) fn from_raw(n: u64) -> Self {
        Self(n)
    }
}

/// Tunables of the session registry.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How long a session keeps its nickname after its last connection closed.
    pub idle_hold: Duration,
    /// How long an unused session is kept at all. After this its cookie leads back to the nickname
    /// form; until then the server remembers it (a few hundred bytes each).
    pub forget_after: Duration,
    /// How many recent `client_id`s a session remembers for de-duplication. A client retries only its
    /// unconfirmed messages, which are few; 512 covers any realistic backlog.
    pub remembered_ids: usize,
    /// Per-session rate of messages: (per second, burst). Shared by all the session's tabs.
    pub message_rate: (f64, f64),
    /// Per-session rate of `typing` frames: (per second, burst).
    pub typing_rate: (f64, f64),
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_hold: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(30 * 24 * 3600),
            remembered_ids: 512,
            message_rate: (10.0, 20.0),
            typing_rate: (2.0, 5.0),
        }
    }
}

/// The shared session registry. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    config: SessionConfig,
    next_id: u64,
    /// SHA-256 of the token → session.
    by_token: HashMap<[u8; 32], SessionId>,
    sessions: HashMap<SessionId, Session>,
}

#[derive(Debug)]
struct Session {
    nick: String,
    /// The token's SHA-256 in hex, as the store keys the session.
    token_hash: String,
    connections: usize,
    /// The rooms joined besides `general`.
    rooms: BTreeSet<String>,
    /// Rate limits: messages, and typing frames.
    messages: TokenBucket,
    typing: TokenBucket,
    /// When the last connection closed (or the session was created): starts the idle hold.
    idle_since: Instant,
    /// The session's recent `client_id`s, behind a lock of their own so that checking for a
    /// duplicate and publishing happen as one step per session, without holding the registry. An
    /// async lock: it is held while the message is committed to the store.
    sent: Arc<tokio::sync::Mutex<SentIds>>,
}

/// Recent `(scope, client_id) → seq` of one session, oldest first in `order`.
#[derive(Debug, Default)]
struct SentIds {
    seqs: HashMap<(String, String), u64>,
    order: VecDeque<(String, String)>,
}

/// What a new session gets: its id, and the token for the cookie (shown once, never stored).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub token: String,
    /// The token's SHA-256 in hex: what the store keeps.
    pub token_hash: String,
    pub nick: String,
}

impl Sessions {
    pub fn new(config: SessionConfig) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                config,
                ..Inner::default()
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain maps behind, still consistent enough to use.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates a session for `nick` (validated and trimmed), if the name is free.
    pub fn create(&self, nick: &str) -> Result<NewSession, FrameError> {
        let nick = validate_nick(nick)?;
        let mut inner = self.lock();
        inner.forget_unused();
        inner.ensure_free(&nick, None)?;
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        let digest = hash(&token);
        let id = inner.insert(digest, nick.clone());
        Ok(NewSession {
            id,
            token,
            token_hash: hex(&digest),
            nick,
        })
    }

    /// Restores sessions saved in the store, with their rooms. Their names are held for the idle
    /// hold from now, so people coming back after a restart find them free.
    pub fn restore(&self, saved: impl IntoIterator<Item = SavedSession>) {
        let mut inner = self.lock();
        for session in saved {
            if let Some(digest) = unhex(&session.token_hash) {
                if !inner.by_token.contains_key(&digest) {
                    let id = inner.insert(digest, session.nick);
                    if let Some(restored) = inner.sessions.get_mut(&id) {
                        restored.rooms = session
                            .rooms
                            .into_iter()
                            .filter(|room| room != GENERAL && validate_room(room).is_ok())
                            .collect();
                    }
                }
            }
        }
    }

    /// The rooms session `id` is in: `general` first, then the others by name.
    pub fn rooms(&self, id: SessionId) -> Vec<String> {
        let inner = self.lock();
        let mut rooms = vec![GENERAL.to_owned()];
        if let Some(session) = inner.sessions.get(&id) {
            rooms.extend(session.rooms.iter().cloned());
        }
        rooms
    }

    /// Whether session `id` is in `room`.
    pub fn is_member(&self, id: SessionId, room: &str) -> bool {
        room == GENERAL
            || self
                .lock()
                .sessions
                .get(&id)
                .is_some_and(|s| s.rooms.contains(room))
    }

    /// Fails with `unknown_room` unless session `id` is in `room`: the one place that rule lives.
    pub fn ensure_member(&self, id: SessionId, room: &str) -> Result<(), FrameError> {
        if self.is_member(id, room) {
            Ok(())
        } else {
            Err(FrameError::new(
                ErrorCode::UnknownRoom,
                format!("you are not in the room {room:?}; join it first"),
            ))
        }
    }

    /// Counts one frame of `kind` against session `id`'s rate limit; over it, `rate_limited` with
    /// when to try again.
    pub fn throttle(&self, id: SessionId, kind: Throttle) -> Result<(), FrameError> {
        let mut inner = self.lock();
        let Some(session) = inner.sessions.get_mut(&id) else {
            return Ok(());
        };
        let bucket = match kind {
            Throttle::Message => &mut session.messages,
            Throttle::Typing => &mut session.typing,
        };
        bucket.take(Instant::now()).map_err(|wait| {
            FrameError::rate_limited(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1))
        })
    }

    /// Adds `room` to session `id`'s rooms. Returns whether it is new (joining twice is no error).
    pub fn join(&self, id: SessionId, room: &str) -> Result<bool, FrameError> {
        validate_room(room)?;
        if room == GENERAL {
            return Ok(false);
        }
        let mut inner = self.lock();
        let session = inner
            .sessions
            .get_mut(&id)
            .ok_or_else(|| FrameError::new(ErrorCode::BadSession, "the session has ended"))?;
        if session.rooms.contains(room) {
            return Ok(false);
        }
        if session.rooms.len() + 1 >= MAX_ROOMS {
            return Err(FrameError::new(
                ErrorCode::TooManyRooms,
                format!("you can be in at most {MAX_ROOMS} rooms; leave one first"),
            ));
        }
        session.rooms.insert(room.to_owned());
        Ok(true)
    }

    /// Removes `room` from session `id`'s rooms. Returns whether it was there.
    pub fn leave(&self, id: SessionId, room: &str) -> Result<bool, FrameError> {
        validate_room(room)?;
        if room == GENERAL {
            return Err(FrameError::new(
                ErrorCode::CannotLeave,
                "everyone is in #general; it cannot be left",
            ));
        }
        let mut inner = self.lock();
        Ok(inner
            .sessions
            .get_mut(&id)
            .is_some_and(|s| s.rooms.remove(room)))
    }

    /// The hex SHA-256 of session `id`'s token, as the store keys it.
    pub fn token_hash(&self, id: SessionId) -> Option<String> {
        self.lock().sessions.get(&id).map(|s| s.token_hash.clone())
    }

    /// The session a token names, with its current nickname.
    pub fn find(&self, token: &str) -> Option<(SessionId, String)> {
        let inner = self.lock();
        let id = *inner.by_token.get(&hash(token))?;
        let nick = inner.sessions.get(&id)?.nick.clone();
        Some((id, nick))
    }

    /// The current nickname of session `id`.
    pub fn nick(&self, id: SessionId) -> Option<String> {
        self.lock().sessions.get(&id).map(|s| s.nick.clone())
    }

    /// The session a token names and the nickname it can chat under now: `None` if the token is
    /// unknown or, while the session was away, someone else took its name (the page then asks for
    /// a new one).
    pub fn current(&self, token: &str) -> Option<(SessionId, String)> {
        let inner = self.lock();
        let id = *inner.by_token.get(&hash(token))?;
        let nick = inner.sessions.get(&id)?.nick.clone();
        inner.ensure_free(&nick, Some(id)).ok()?;
        Some((id, nick))
    }

    /// A connection of `id` opens. Fails with `nick_taken` if, while the session was away, someone
    /// else took its name.
    pub fn connect(&self, id: SessionId) -> Result<String, FrameError> {
        let mut inner = self.lock();
        let nick = match inner.sessions.get(&id) {
            Some(session) => session.nick.clone(),
            None => return Err(FrameError::new(ErrorCode::BadSession, "unknown session")),
        };
        inner.ensure_free(&nick, Some(id))?;
        if let Some(session) = inner.sessions.get_mut(&id) {
            session.connections += 1;
        }
        Ok(nick)
    }

    /// A connection of `id` closed.
    pub fn disconnect(&self, id: SessionId) {
        let mut inner = self.lock();
        if let Some(session) = inner.sessions.get_mut(&id) {
            session.connections = session.connections.saturating_sub(1);
            if session.connections == 0 {
                session.idle_since = Instant::now();
            }
        }
    }

    /// Renames session `id`; returns the old name.
    pub fn rename(&self, id: SessionId, nick: &str) -> Result<(String, String), FrameError> {
        let nick = validate_nick(nick)?;
        let mut inner = self.lock();
        inner.ensure_free(&nick, Some(id))?;
        let session = inner
            .sessions
            .get_mut(&id)
            .ok_or_else(|| FrameError::new(ErrorCode::BadSession, "unknown session"))?;
        let old = std::mem::replace(&mut session.nick, nick.clone());
        Ok((old, nick))
    }

    /// Runs `publish` for this session's `client_id` in `scope` (a room, or a private conversation)
    /// at most once: a repeat gets the `seq` the first run returned, without running again. Two
    /// connections of one session racing with the same id are serialized here (only that session
    /// waits; others never contend).
    pub async fn once(
        &self,
        id: SessionId,
        scope: &str,
        client_id: &str,
        publish: impl std::future::Future<Output = Result<u64, FrameError>>,
    ) -> Result<u64, FrameError> {
        let (sent, limit) = {
            let inner = self.lock();
            let session = inner
                .sessions
                .get(&id)
                .ok_or_else(|| FrameError::new(ErrorCode::BadSession, "the session has ended"))?;
            (Arc::clone(&session.sent), inner.config.remembered_ids)
        };
        let mut sent = sent.lock().await;
        let key = (scope.to_owned(), client_id.to_owned());
        if let Some(seq) = sent.seqs.get(&key) {
            return Ok(*seq);
        }
        let seq = publish.await?;
        sent.seqs.insert(key.clone(), seq);
        sent.order.push_back(key);
        while sent.order.len() > limit {
            if let Some(old) = sent.order.pop_front() {
                sent.seqs.remove(&old);
            }
        }
        Ok(seq)
    }
}

impl Inner {
    fn insert(&mut self, digest: [u8; 32], nick: String) -> SessionId {
        self.next_id += 1;
        let id = SessionId(self.next_id);
        self.by_token.insert(digest, id);
        self.sessions.insert(
            id,
            Session {
                nick,
                token_hash: hex(&digest),
                connections: 0,
                rooms: BTreeSet::new(),
                messages: TokenBucket::new(
                    self.config.message_rate.0,
                    self.config.message_rate.1,
                    Instant::now(),
                ),
                typing: TokenBucket::new(
                    self.config.typing_rate.0,
                    self.config.typing_rate.1,
                    Instant::now(),
                ),
                idle_since: Instant::now(),
                sent: Arc::default(),
            },
        );
        id
    }

    /// Drops sessions unused for longer than `forget_after`, so the registry does not grow forever.
    /// Called when a session is created, which is when the registry grows.
    fn forget_unused(&mut self) {
        let forget_after = self.config.forget_after;
        let stale: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.connections == 0 && s.idle_since.elapsed() > forget_after)
            .map(|(id, _)| *id)
            .collect();
        if stale.is_empty() {
            return;
        }
        self.sessions.retain(|id, _| !stale.contains(id));
        self.by_token.retain(|_, id| !stale.contains(id));
    }

    /// Fails with `nick_taken` if an active session other than `me` has this name.
    fn ensure_free(&self, nick: &str, me: Option<SessionId>) -> Result<(), FrameError> {
        let wanted = nick.to_lowercase();
        let hold = self.config.idle_hold;
        let taken = self.sessions.iter().any(|(id, s)| {
            Some(*id) != me
                && s.nick.to_lowercase() == wanted
                && (s.connections > 0 || s.idle_since.elapsed() < hold)
        });
        if taken {
            return Err(FrameError::new(
                ErrorCode::NickTaken,
                format!("{nick:?} is already in use; pick another name"),
            ));
        }
        Ok(())
    }
}

/// Writes a session (new, or renamed) through to the store, by its token hash. A failure is logged:
/// the session still works, it just will not outlive a restart.
pub async fn write_through(store: &crate::store::Store, token_hash: &str, nick: &str) {
    let saved = store
        .save_session(token_hash, nick, &crate::hub::now_rfc3339())
        .await;
    if let Err(err) = saved {
        tracing::error!(%err, "saving a session failed");
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T: std::fmt::Debug>(r: Result<T, FrameError>) -> ErrorCode {
        r.expect_err("should fail").code
    }

    #[test]
    fn a_session_is_found_by_its_token_and_only_by_it() {
        let sessions = Sessions::default();
        let alice = sessions.create(" alice ").expect("free");
        assert_eq!(alice.nick, "alice");
        assert!(alice.token.len() >= 43, "256 bits of token");
        assert_eq!(
            sessions.find(&alice.token),
            Some((alice.id, "alice".into()))
        );
        assert_eq!(sessions.find("forged"), None);
        assert_eq!(
            sessions.current(&alice.token),
            Some((alice.id, "alice".into()))
        );
        assert_eq!(sessions.current("forged"), None);
        let inner = sessions.lock();
        assert!(inner.by_token.keys().all(|k| k != alice.token.as_bytes()));
    }

    #[test]
    fn sessions_restore_from_their_hashes() {
        let before = Sessions::default();
        let alice = before.create("alice").expect("free");
        assert_eq!(
            before.token_hash(alice.id).as_deref(),
            Some(alice.token_hash.as_str())
        );
        let after = Sessions::default();
        after.restore([
            SavedSession {
                token_hash: alice.token_hash.clone(),
                nick: "alice".to_owned(),
                rooms: vec!["rust".into(), "Bad Name".into()],
            },
            SavedSession {
                token_hash: "junk".into(),
                nick: "x".into(),
                rooms: vec![],
            },
        ]);
        assert_eq!(
            after.current(&alice.token).map(|(_, nick)| nick).as_deref(),
            Some("alice")
        );
        let (id, _) = after.find(&alice.token).expect("restored");
        assert_eq!(
            after.rooms(id),
            ["general", "rust"],
            "invalid names dropped"
        );
        assert_eq!(
            code(after.create("ALICE")),
            ErrorCode::NickTaken,
            "held after a restart"
        );
    }

    #[test]
    fn names_are_unique_case_insensitively_while_active() {
        let sessions = Sessions::default();
        let alice = sessions.create("Alice").expect("free");
        assert_eq!(code(sessions.create("alice")), ErrorCode::NickTaken);
        assert_eq!(code(sessions.create("ALICE ")), ErrorCode::NickTaken);
        let bob = sessions.create("bob").expect("free");
        assert_eq!(code(sessions.rename(bob.id, "aLiCe")), ErrorCode::NickTaken);
        // Renaming to your own name in another case is fine.
        assert_eq!(
            sessions.rename(alice.id, "ALICE").expect("mine"),
            ("Alice".into(), "ALICE".into())
        );
        assert_eq!(code(sessions.create("")), ErrorCode::NickInvalid);
    }

    #[test]
    fn an_idle_name_is_released_and_its_owner_told_when_it_returns() {
        let sessions = Sessions::new(SessionConfig {
            idle_hold: Duration::ZERO,
            ..SessionConfig::default()
        });
        let first = sessions.create("zed").expect("free");
        sessions.connect(first.id).expect("connect");
        // Connected: held no matter how long.
        assert_eq!(code(sessions.create("zed")), ErrorCode::NickTaken);
        sessions.disconnect(first.id);
        let second = sessions.create("zed").expect("released");
        sessions.connect(second.id).expect("connect");
        assert_eq!(code(sessions.connect(first.id)), ErrorCode::NickTaken);
        assert_eq!(
            sessions.current(&first.token),
            None,
            "the page asks for a new name"
        );
    }

    #[test]
    fn unused_sessions_are_forgotten_in_time() {
        let sessions = Sessions::new(SessionConfig {
            forget_after: Duration::ZERO,
            ..SessionConfig::default()
        });
        let connected = sessions.create("here").expect("free");
        sessions.connect(connected.id).expect("connect");
        let gone = sessions.create("gone").expect("free");
        std::thread::sleep(Duration::from_millis(2));
        sessions.create("new").expect("free");
        assert!(sessions.find(&gone.token).is_none());
        assert!(
            sessions.find(&connected.token).is_some(),
            "connected sessions stay"
        );
    }

    #[test]
    fn rooms_belong_to_the_session() {
        let sessions = Sessions::default();
        let alice = sessions.create("alice").expect("free").id;
        assert_eq!(sessions.rooms(alice), ["general"]);
        assert!(sessions.is_member(alice, "general"));
        assert!(!sessions.is_member(alice, "rust"));
        assert_eq!(
            code(sessions.ensure_member(alice, "rust")),
            ErrorCode::UnknownRoom
        );
        assert_eq!(sessions.join(alice, "rust"), Ok(true));
        assert_eq!(sessions.join(alice, "rust"), Ok(false), "twice is fine");
        assert_eq!(sessions.join(alice, "general"), Ok(false));
        assert_eq!(code(sessions.join(alice, "No")), ErrorCode::RoomInvalid);
        assert_eq!(sessions.rooms(alice), ["general", "rust"]);
        assert!(sessions.ensure_member(alice, "rust").is_ok());
        assert_eq!(
            code(sessions.leave(alice, "general")),
            ErrorCode::CannotLeave
        );
        assert_eq!(sessions.leave(alice, "rust"), Ok(true));
        assert_eq!(sessions.leave(alice, "rust"), Ok(false));
        assert_eq!(sessions.rooms(alice), ["general"]);
        for i in 0..MAX_ROOMS - 1 {
            sessions
                .join(alice, &format!("r{i}"))
                .expect("under the cap");
        }
        assert_eq!(
            code(sessions.join(alice, "one-more")),
            ErrorCode::TooManyRooms
        );
    }

    #[tokio::test]
    async fn client_ids_publish_once_per_session_and_scope_up_to_a_limit() {
        let sessions = Sessions::new(SessionConfig {
            remembered_ids: 2,
            ..SessionConfig::default()
        });
        let a = sessions.create("a").expect("free");
        let b = sessions.create("b").expect("free");
        let runs = std::sync::atomic::AtomicU32::new(0);
        let publish = |seq: u64| {
            let runs = &runs;
            async move {
                runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(seq)
            }
        };
        assert_eq!(
            sessions.once(a.id, "general", "c-1", publish(7)).await,
            Ok(7)
        );
        assert_eq!(
            sessions.once(a.id, "general", "c-1", publish(99)).await,
            Ok(7)
        );
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "the repeat did not publish"
        );
        assert_eq!(
            sessions.once(b.id, "general", "c-1", publish(8)).await,
            Ok(8)
        );
        assert_eq!(sessions.once(a.id, "rust", "c-1", publish(9)).await, Ok(9));
        // A failed publish is not remembered: the retry runs again.
        let refused = async { Err(FrameError::new(ErrorCode::UnknownUser, "offline")) };
        assert!(sessions
            .once(a.id, "direct:x", "d-1", refused)
            .await
            .is_err());
        assert_eq!(
            sessions.once(a.id, "direct:x", "d-1", publish(0)).await,
            Ok(0)
        );
        // Only the last `remembered_ids` are kept.
        assert_eq!(
            sessions.once(a.id, "general", "c-1", publish(10)).await,
            Ok(10)
        );
    }
}
