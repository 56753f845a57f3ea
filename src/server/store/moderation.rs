//! Moderators, mutes and bans, the audit log, and bots.
//!
//! Every decision is made here, in one transaction with what it depends on: whether the actor is
//! a moderator is read from `sessions` in the transaction that mutes, bans or deletes, so a
//! moderator revoked by `chinwag admin` (another process) cannot act a moment later on a server
//! whose memory still says otherwise. Every action writes its `audit_log` row in the same
//! transaction, so the log has every action and nothing that did not happen.
//!
//! A one-time moderator link is kept by its token's SHA-256, like sessions. A bot is a session
//! whose name claim never runs out ([`FOREVER`]) and that is never swept.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::sessions::{NewSession, PERSON_NAMED};
use super::{signed, unsigned, Store, StoreError};
use crate::protocol::AuditEntry;

/// The `held_until` of a claim that never runs out (a bot's name): later than any real time, in
/// the same format, so the string comparisons the claims use hold.
pub const FOREVER: &str = "9999-12-31T23:59:59.999Z";

/// The most audit entries one read returns.
pub const MAX_AUDIT_PAGE: u32 = 200;

/// A mute (can read, cannot post) or a ban (cannot connect; new sessions from the address are
/// refused too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanctionKind {
    Mute,
    Ban,
}

impl SanctionKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            SanctionKind::Mute => "mute",
            SanctionKind::Ban => "ban",
        }
    }
}

/// A mute or a ban as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanction {
    pub id: i64,
    pub kind: String,
    pub session_id: i64,
    pub nick: String,
    pub address: Option<String>,
    pub reason: String,
    pub by: String,
    pub at: String,
    pub until: String,
}

/// A moderator's request to mute or ban someone.
#[derive(Debug, Clone)]
pub struct SanctionDraft {
    pub kind: SanctionKind,
    /// The moderator's session (checked to be a moderator in the transaction).
    pub actor: i64,
    pub actor_nick: String,
    /// The name key of the person.
    pub target_key: String,
    pub reason: String,
    pub at: String,
    pub until: String,
}

/// What became of a mute or a ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanctionOutcome {
    Stored(Sanction),
    /// The actor is not a moderator (any more).
    NotModerator,
    /// Nobody goes by that name.
    NoSuchPerson,
    /// Moderators are not muted or banned by each other (revoke first, with `chinwag admin`).
    TargetIsModerator,
}

/// A moderator, as `chinwag admin moderators` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderator {
    pub session_id: i64,
    pub nick: String,
    pub last_seen: String,
}

/// A new bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotOutcome {
    Created(i64),
    /// Someone else holds the name now.
    NameTaken,
}

impl Store {
    /// Stores a one-time moderator link's token hash, usable until `expires_at`.
    pub async fn create_moderator_link(
        &self,
        token_hash: &str,
        now: &str,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // Used and expired links are of no further use: they go as new ones are made.
        sqlx::query(
            &self.sql("DELETE FROM moderator_links WHERE used_at IS NOT NULL OR expires_at < $1"),
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&self.sql(
            "INSERT INTO moderator_links (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
        ))
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        audit(
            self,
            &mut tx,
            now,
            "chinwag admin",
            "moderator_link",
            "",
            "",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses a moderator link: if it is unused and has not expired, session `session_id` becomes a
    /// moderator and the link is spent. Returns whether it did.
    pub async fn use_moderator_link(
        &self,
        token_hash: &str,
        session_id: i64,
        nick: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let spent = sqlx::query(&self.sql(
            "UPDATE moderator_links SET used_at = $2, used_by = $3 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at >= $2 RETURNING token_hash",
        ))
        .bind(token_hash)
        .bind(now)
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if !spent {
            return Ok(false);
        }
        sqlx::query(&self.sql("UPDATE sessions SET moderator = 1 WHERE id = $1"))
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        audit(self, &mut tx, now, nick, "moderator_added", nick, "").await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every moderator, by name.
    pub async fn moderators(&self) -> Result<Vec<Moderator>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, nick, last_seen FROM sessions WHERE moderator = 1 ORDER BY nick_key, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Moderator {
                    session_id: row.try_get(0)?,
                    nick: row.try_get(1)?,
                    last_seen: row.try_get(2)?,
                })
            })
            .collect()
    }

    /// Whether session `id` is a moderator now.
    pub async fn is_moderator(&self, id: i64) -> Result<bool, StoreError> {
        self.moderator_in(&self.pool, id).await
    }

    /// Whether session `id` is a moderator, as `executor` (the pool, or a transaction that acts on
    /// it) reads it.
    async fn moderator_in<'e, E>(&self, executor: E, id: i64) -> Result<bool, StoreError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        let row = sqlx::query(&self.sql("SELECT moderator FROM sessions WHERE id = $1"))
            .bind(id)
            .fetch_optional(executor)
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<i64, _>(0)? != 0,
            None => false,
        })
    }

    /// Takes the moderator role from the sessions named `nick_key`. Returns their ids.
    pub async fn revoke_moderator(
        &self,
        nick_key: &str,
        actor: &str,
        now: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(&self.sql(
            "UPDATE sessions SET moderator = 0 WHERE nick_key = $1 AND moderator = 1 \
             RETURNING id, nick",
        ))
        .bind(nick_key)
        .fetch_all(&mut *tx)
        .await?;
        let ids = audit_rows(self, &mut tx, &rows, (now, actor, "moderator_removed")).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Mutes or bans someone, if the actor is a moderator. The person is whoever holds the name,
    /// or, while nobody does, the session last seen under it (as for private messages).
    pub async fn sanction(&self, draft: SanctionDraft) -> Result<SanctionOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        if !self.moderator_in(&mut *tx, draft.actor).await? {
            return Ok(SanctionOutcome::NotModerator);
        }
        let Some(target) = sqlx::query(&self.sql(&format!(
            "SELECT s.id, s.nick, s.address, s.moderator, s.nick_key {PERSON_NAMED}"
        )))
        .bind(&draft.target_key)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(SanctionOutcome::NoSuchPerson);
        };
        if target.try_get::<i64, _>(3)? != 0 {
            return Ok(SanctionOutcome::TargetIsModerator);
        }
        let (session_id, nick, address): (i64, String, Option<String>) =
            (target.try_get(0)?, target.try_get(1)?, target.try_get(2)?);
        let nick_key: String = target.try_get(4)?;
        let id: i64 = sqlx::query(&self.sql(
            "INSERT INTO sanctions \
             (kind, session_id, nick, nick_key, address, reason, by_nick, at, until) \
             VALUES ($1, $2, $3, $9, $4, $5, $6, $7, $8) RETURNING id",
        ))
        .bind(draft.kind.as_str())
        .bind(session_id)
        .bind(&nick)
        .bind(&address)
        .bind(&draft.reason)
        .bind(&draft.actor_nick)
        .bind(&draft.at)
        .bind(&draft.until)
        .bind(&nick_key)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let detail = match draft.reason.as_str() {
            "" => format!("until {}", draft.until),
            reason => format!("until {}: {reason}", draft.until),
        };
        audit(
            self,
            &mut tx,
            &draft.at,
            &draft.actor_nick,
            draft.kind.as_str(),
            &nick,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(SanctionOutcome::Stored(Sanction {
            id,
            kind: draft.kind.as_str().to_owned(),
            session_id,
            nick,
            address,
            reason: draft.reason,
            by: draft.actor_nick,
            at: draft.at,
            until: draft.until,
        }))
    }

    /// Mutes or bans (`kind`) in force at `now`, newest first.
    pub async fn sanctions_in_force(
        &self,
        kind: SanctionKind,
        now: &str,
    ) -> Result<Vec<Sanction>, StoreError> {
        let rows = sqlx::query(&self.sql(
            "SELECT id, kind, session_id, nick, address, reason, by_nick, at, until \
             FROM sanctions WHERE kind = $1 AND lifted_at IS NULL AND until > $2 ORDER BY id DESC",
        ))
        .bind(kind.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(sanction).collect()
    }

    /// Lifts the bans in force of the person whose name key is `nick_key`, or the ban numbered
    /// `id`. Returns the banned sessions.
    pub async fn lift_bans(
        &self,
        nick_key: &str,
        id: Option<i64>,
        actor: &str,
        now: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(&self.sql(
            "UPDATE sanctions SET lifted_at = $1 \
             WHERE kind = 'ban' AND lifted_at IS NULL AND until > $1 AND (nick_key = $2 OR id = $3) \
             RETURNING session_id, nick",
        ))
        .bind(now)
        .bind(nick_key)
        .bind(id.unwrap_or(-1))
        .fetch_all(&mut *tx)
        .await?;
        let lifted = audit_rows(self, &mut tx, &rows, (now, actor, "ban_lifted")).await?;
        tx.commit().await?;
        Ok(lifted)
    }

    /// Until when new sessions from `address` are refused (the latest ban in force of a session
    /// last seen there), if they are.
    pub async fn address_banned_until(
        &self,
        address: &str,
        now: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(&self.sql(
            "SELECT MAX(until) FROM sanctions \
             WHERE address = $1 AND kind = 'ban' AND lifted_at IS NULL AND until > $2",
        ))
        .bind(address)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Records where session `id` connects from (for a ban's refusal of new sessions).
    pub async fn record_address(&self, id: i64, address: &str) -> Result<(), StoreError> {
        sqlx::query(&self.sql("UPDATE sessions SET address = $1 WHERE id = $2"))
            .bind(address)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The audit log, newest first: at most `limit` (up to [`MAX_AUDIT_PAGE`]) entries before
    /// entry `before`, or the latest.
    pub async fn audit_log(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(&self.sql(
            "SELECT id, at, actor, action, target, detail FROM audit_log \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        ))
        .bind(before.map_or(i64::MAX, signed))
        .bind(i64::from(limit.min(MAX_AUDIT_PAGE)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: unsigned(row.try_get(0)?)?,
                    at: row.try_get(1)?,
                    by: row.try_get(2)?,
                    action: row.try_get(3)?,
                    target: row.try_get(4)?,
                    detail: row.try_get(5)?,
                })
            })
            .collect()
    }

    /// Creates a bot's session: its name is claimed for good (unless someone holds it now) and it
    /// is never swept.
    pub async fn create_bot(
        &self,
        token_hash: &str,
        nick: &str,
        nick_key: &str,
        now: &str,
    ) -> Result<BotOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let new = NewSession {
            token_hash,
            nick,
            nick_key,
            address: None,
            bot: true,
        };
        let Some(id) = self.insert_session(&mut tx, new, now, FOREVER).await? else {
            return Ok(BotOutcome::NameTaken);
        };
        audit(self, &mut tx, now, "chinwag admin", "bot_created", nick, "").await?;
        tx.commit().await?;
        Ok(BotOutcome::Created(id))
    }
}

/// Appends an audit entry in the transaction of the action it records.
pub(super) async fn audit(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    at: &str,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(&store.sql(
        "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
    ))
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records `action` (at, by whom, what) on each changed row, a `(session id, nick)`; returns the
/// session ids.
async fn audit_rows(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rows: &[AnyRow],
    (at, actor, action): (&str, &str, &str),
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(row.try_get(0)?);
        let nick: String = row.try_get(1)?;
        audit(store, tx, at, actor, action, &nick, "").await?;
    }
    Ok(ids)
}

fn sanction(row: &AnyRow) -> Result<Sanction, StoreError> {
    Ok(Sanction {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        session_id: row.try_get("session_id")?,
        nick: row.try_get("nick")?,
        address: row.try_get("address")?,
        reason: row.try_get("reason")?,
        by: row.try_get("by_nick")?,
        at: row.try_get("at")?,
        until: row.try_get("until")?,
    })
}
