//! Sessions and nickname claims.
//!
//! A session is kept by its token's SHA-256 (hex): a copy of the table cannot be used to act as
//! anyone. Each has a number (`id`, its identity on every server), its nickname, the key that
//! nickname is claimed under, and when it was last seen; a session unseen for longer than the
//! session TTL is deleted by [`Store::sweep_sessions`], with its memberships and claim.
//!
//! A nickname is held through a row of `nick_claims`, one per name key: the database's primary key
//! is what makes two sessions unable to hold one name, on one server or several, however they race.
//! A claim lasts until `held_until`; a session may take a name whose claim ran out, and its server
//! moves `held_until` forward while the session is connected ([`Store::refresh_sessions`]).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Store, StoreError};

/// A session as stored, with its rooms (besides `general`) and the claim on its name key, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSession {
    pub id: i64,
    pub token_hash: String,
    pub nick: String,
    pub nick_key: String,
    pub rooms: Vec<String>,
    pub claim: Option<Claim>,
    /// The id of its latest private message (sent or received), 0 if none: a returning tab with
    /// nothing newer needs no read of them.
    pub last_direct: u64,
    /// A moderator (may delete any message, mute and ban).
    pub moderator: bool,
    /// A bot (its name is held for good; it may not rename).
    pub bot: bool,
    /// Where it last connected from.
    pub address: Option<String>,
    /// The end of its latest mute and ban not lifted (possibly past).
    pub muted_until: Option<String>,
    pub banned_until: Option<String>,
}

/// A session to insert ([`Store::insert_session`]).
pub(super) struct NewSession<'a> {
    pub(super) token_hash: &'a str,
    pub(super) nick: &'a str,
    pub(super) nick_key: &'a str,
    pub(super) address: Option<&'a str>,
    pub(super) bot: bool,
}

/// Who holds a name key, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub session_id: i64,
    pub held_until: String,
}

/// Claims `$1` for session `$2` until `$3`, unless another session holds it past `$4` (now).
/// Returns a row only when the claim is this session's afterwards. A session's own claim is never
/// shortened (a bot's lasts for good).
const CLAIM: &str =
    "INSERT INTO nick_claims (nick_key, session_id, held_until) VALUES ($1, $2, $3) \
     ON CONFLICT (nick_key) DO UPDATE \
     SET session_id = excluded.session_id, held_until = CASE \
     WHEN nick_claims.session_id = excluded.session_id AND nick_claims.held_until > excluded.held_until \
     THEN nick_claims.held_until ELSE excluded.held_until END \
     WHERE nick_claims.held_until < $4 OR nick_claims.session_id = excluded.session_id \
     RETURNING session_id";

/// Who a name key (`$1`) means, online or not: the session that holds it, or, while nobody does,
/// the session last seen under it. Private messages and moderators' mutes and bans go to them.
pub(super) const PERSON_NAMED: &str = "FROM sessions s \
     LEFT JOIN nick_claims c ON c.nick_key = s.nick_key \
     WHERE s.nick_key = $1 AND (c.session_id IS NULL OR c.session_id = s.id) \
     ORDER BY s.last_seen DESC LIMIT 1";

/// How many ids one refresh statement names at most.
const REFRESH_CHUNK: usize = 500;

impl Store {
    /// Creates a session for `nick` if its key can be claimed: returns its id, or `None` if another
    /// session holds the name. Nothing is stored when the name is taken.
    pub async fn create_session(
        &self,
        token_hash: &str,
        nick: &str,
        nick_key: &str,
        address: &str,
        now: &str,
        hold_until: &str,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_write().await?;
        let new = NewSession {
            token_hash,
            nick,
            nick_key,
            address: Some(address),
            bot: false,
        };
        let Some(id) = self.insert_session(&mut tx, new, now, hold_until).await? else {
            // Dropping the transaction rolls the session back.
            return Ok(None);
        };
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Inserts a session and claims its name until `hold_until`, in `tx`: its id, or `None` if
    /// another session holds the name (the caller then drops `tx`, and nothing is stored).
    pub(super) async fn insert_session(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        new: NewSession<'_>,
        now: &str,
        hold_until: &str,
    ) -> Result<Option<i64>, StoreError> {
        let id: i64 = sqlx::query(&self.sql(
            "INSERT INTO sessions \
             (token_hash, nick, nick_key, created_at, last_seen, address, created_from, bot) \
             VALUES ($1, $2, $3, $4, $4, $5, $5, $6) RETURNING id",
        ))
        .bind(new.token_hash)
        .bind(new.nick)
        .bind(new.nick_key)
        .bind(now)
        .bind(new.address)
        .bind(i64::from(new.bot))
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
        let claimed = sqlx::query(&self.sql(CLAIM))
            .bind(new.nick_key)
            .bind(id)
            .bind(hold_until)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
        Ok(claimed.then_some(id))
    }

    /// The session with this token hash, unless it expired (last seen before `expired_before`).
    pub async fn session_by_hash(
        &self,
        token_hash: &str,
        expired_before: &str,
    ) -> Result<Option<SavedSession>, StoreError> {
        self.saved_session("s.token_hash = $1", token_hash.to_owned(), expired_before)
            .await
    }

    /// Session `id` as the store has it now (another server may have renamed it or changed its
    /// rooms), unless it expired.
    pub async fn session_by_id(
        &self,
        id: i64,
        expired_before: &str,
    ) -> Result<Option<SavedSession>, StoreError> {
        self.saved_session("s.id = $1", id, expired_before).await
    }

    async fn saved_session<T>(
        &self,
        which: &str,
        key: T,
        expired_before: &str,
    ) -> Result<Option<SavedSession>, StoreError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + 'static,
    {
        // One read for the session, its name's claim and its rooms: a row per room (or one row
        // with no room).
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT s.id, s.token_hash, s.nick, s.nick_key, c.session_id AS holder, c.held_until, \
             m.room, s.moderator, s.bot, s.address, \
             (SELECT MAX(until) FROM sanctions WHERE session_id = s.id AND kind = 'mute' \
              AND lifted_at IS NULL) AS muted_until, \
             (SELECT MAX(until) FROM sanctions WHERE session_id = s.id AND kind = 'ban' \
              AND lifted_at IS NULL) AS banned_until, \
             (SELECT MAX(id) FROM direct_messages WHERE from_session = s.token_hash) AS sent, \
             (SELECT MAX(id) FROM direct_messages WHERE to_session = s.token_hash) AS received \
             FROM sessions s LEFT JOIN nick_claims c ON c.nick_key = s.nick_key \
             LEFT JOIN memberships m ON m.session_hash = s.token_hash \
             WHERE {which} AND (s.last_seen >= $2 OR s.moderator = 1 OR s.bot = 1) ORDER BY m.room"
        )))
        .bind(key)
        .bind(expired_before)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut saved = saved_session(first)?;
        for row in &rows {
            if let Some(room) = row.try_get::<Option<String>, _>("room")? {
                saved.rooms.push(room);
            }
        }
        Ok(Some(saved))
    }

    /// The token hash of session `id` (what its private messages are stored by), if it exists.
    pub async fn session_hash(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(&self.sql("SELECT token_hash FROM sessions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// Who a private message to the name key `nick_key` is for, online or not: the session that
    /// holds the name; or, while nobody does (its holder has been away longer than the hold), the
    /// session last seen under that name, which takes it back when it returns. `None` when no
    /// session goes by that name. Returns its id, token hash and nickname.
    pub async fn direct_recipient(
        &self,
        nick_key: &str,
    ) -> Result<Option<(i64, String, String)>, StoreError> {
        let row =
            sqlx::query(&self.sql(&format!("SELECT s.id, s.token_hash, s.nick {PERSON_NAMED}")))
                .bind(nick_key)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .transpose()
    }

    /// Claims `nick_key` for session `id` until `hold_until`, unless another session holds it
    /// beyond `now`. Returns whether the session holds it now.
    pub async fn claim_nick(
        &self,
        nick_key: &str,
        id: i64,
        now: &str,
        hold_until: &str,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(&self.sql(CLAIM))
            .bind(nick_key)
            .bind(id)
            .bind(hold_until)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        Ok(claimed)
    }

    /// Renames session `id` to `nick` if `nick_key` can be claimed; its old claim (`old_key`) is
    /// given up in the same transaction. Returns whether it was renamed.
    #[allow(clippy::too_many_arguments)]
    pub async fn rename_session(
        &self,
        id: i64,
        old_key: &str,
        nick: &str,
        nick_key: &str,
        now: &str,
        hold_until: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(&self.sql(CLAIM))
            .bind(nick_key)
            .bind(id)
            .bind(hold_until)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !claimed {
            return Ok(false);
        }
        if old_key != nick_key {
            sqlx::query(
                &self.sql("DELETE FROM nick_claims WHERE nick_key = $1 AND session_id = $2"),
            )
            .bind(old_key)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            &self.sql("UPDATE sessions SET nick = $1, nick_key = $2, last_seen = $3 WHERE id = $4"),
        )
        .bind(nick)
        .bind(nick_key)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Marks sessions `ids` as seen `now` and moves their claims to `hold_until` (claims another
    /// session took meanwhile are left alone).
    pub async fn refresh_sessions(
        &self,
        ids: &[i64],
        now: &str,
        hold_until: &str,
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(REFRESH_CHUNK) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let mut tx = self.begin_write().await?;
            let statements = [
                (
                    format!("UPDATE sessions SET last_seen = $1 WHERE id IN ({list})"),
                    now,
                ),
                // Never shortened: a bot's claim lasts for good.
                (
                    format!(
                        "UPDATE nick_claims SET held_until = $1 \
                         WHERE session_id IN ({list}) AND held_until < $1"
                    ),
                    hold_until,
                ),
            ];
            for (statement, time) in &statements {
                let sql = self.sql(statement);
                let mut query = sqlx::query(&sql).bind(*time);
                for id in chunk {
                    query = query.bind(*id);
                }
                query.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Deletes sessions last seen before `expired_before`, with their memberships and claims, and
    /// every claim that ran out before `now`. Moderators and bots are kept. Returns how many
    /// sessions were deleted.
    pub async fn sweep_sessions(&self, expired_before: &str, now: &str) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "DELETE FROM memberships WHERE session_hash IN \
             (SELECT token_hash FROM sessions WHERE last_seen < $1 AND moderator = 0 AND bot = 0)",
        ))
        .bind(expired_before)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&self.sql(
            "DELETE FROM nick_claims WHERE held_until < $1 OR session_id IN \
             (SELECT id FROM sessions WHERE last_seen < $2 AND moderator = 0 AND bot = 0)",
        ))
        .bind(now)
        .bind(expired_before)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query(
            &self.sql("DELETE FROM sessions WHERE last_seen < $1 AND moderator = 0 AND bot = 0"),
        )
        .bind(expired_before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }

    /// How many sessions are stored.
    pub async fn session_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM sessions")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        super::unsigned(count)
    }
}

fn saved_session(row: &AnyRow) -> Result<SavedSession, StoreError> {
    let holder: Option<i64> = row.try_get("holder")?;
    let held_until: Option<String> = row.try_get("held_until")?;
    let sent: Option<i64> = row.try_get("sent")?;
    let received: Option<i64> = row.try_get("received")?;
    Ok(SavedSession {
        id: row.try_get("id")?,
        token_hash: row.try_get("token_hash")?,
        nick: row.try_get("nick")?,
        nick_key: row.try_get("nick_key")?,
        rooms: Vec::new(),
        claim: holder
            .zip(held_until)
            .map(|(session_id, held_until)| Claim {
                session_id,
                held_until,
            }),
        last_direct: sent.max(received).map_or(Ok(0), super::unsigned)?,
        moderator: row.try_get::<i64, _>("moderator")? != 0,
        bot: row.try_get::<i64, _>("bot")? != 0,
        address: row.try_get("address")?,
        muted_until: row.try_get("muted_until")?,
        banned_until: row.try_get("banned_until")?,
    })
}
