//! Moderators, mutes and bans, the audit log, and bots.
//!
//! Every decision is made here, in one transaction with what it depends on: whether the actor is
//! a moderator is read from `people` in the transaction that mutes, bans or deletes, so a
//! moderator revoked by `chinwag admin` (another process) cannot act a moment later on a server
//! whose memory still says otherwise. Every action writes its `audit_log` row in the same
//! transaction, so the log has every action and nothing that did not happen.
//!
//! A one-time moderator link is kept by its token's SHA-256, like sessions. A bot is a person
//! whose name claim never runs out ([`FOREVER`]) and who is never swept.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::people::{NewPerson, FOREVER, PERSON_NAMED};
use super::{signed, unsigned, Store, StoreError};
use crate::protocol::AuditEntry;

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
    pub person_id: i64,
    pub nick: String,
    pub address: Option<String>,
    pub reason: String,
    pub by: String,
    pub at: String,
    pub until: String,
    /// A ban's other people: those made from the person's address since the draft's
    /// `recent_since`, banned with it (lifting it lifts them).
    pub covered: Vec<i64>,
}

/// A mute or ban lifted: whose, and under which name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifted {
    pub person_id: i64,
    pub nick: String,
}

/// Something `chinwag admin` changed that running servers act on ([`Moderation::admin_events_after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEvent {
    pub id: i64,
    /// `room_deleted`, `mute_lifted`, `ban_lifted`, `sessions_revoked`, `signed_out`, `person_deleted`.
    pub kind: String,
    /// The room's name, or the person's id.
    pub subject: String,
    pub detail: String,
}

/// A moderator's request to mute or ban someone.
#[derive(Debug, Clone)]
pub struct SanctionDraft {
    pub kind: SanctionKind,
    /// The moderator (checked to be one in the transaction).
    pub actor: i64,
    pub actor_nick: String,
    /// The name key of the person.
    pub target_key: String,
    pub reason: String,
    pub at: String,
    pub until: String,
    /// A ban also covers the other people made from the person's address since this time.
    pub recent_since: String,
}

/// What became of a mute or a ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanctionOutcome {
    Stored(Box<Sanction>),
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
    pub person_id: i64,
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

/// Moderators, mutes and bans, the audit log and bots in the store ([`Store::moderation`]).
#[derive(Debug, Clone, Copy)]
pub struct Moderation<'a>(pub(super) &'a Store);

impl Moderation<'_> {
    /// Stores a one-time moderator link's token hash, usable until `expires_at`.
    pub async fn create_moderator_link(
        self,
        token_hash: &str,
        now: &str,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        // Used and expired links are of no further use: they go as new ones are made.
        sqlx::query(
            &self
                .0
                .sql("DELETE FROM moderator_links WHERE used_at IS NOT NULL OR expires_at < $1"),
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&self.0.sql(
            "INSERT INTO moderator_links (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
        ))
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        audit(
            self.0,
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

    /// Uses a moderator link: if it is unused and has not expired, person `person_id` becomes a
    /// moderator and the link is spent. Returns whether it did.
    pub async fn use_moderator_link(
        self,
        token_hash: &str,
        person_id: i64,
        nick: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let spent = sqlx::query(&self.0.sql(
            "UPDATE moderator_links SET used_at = $2, used_by = $3 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at >= $2 RETURNING token_hash",
        ))
        .bind(token_hash)
        .bind(now)
        .bind(person_id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if !spent {
            return Ok(false);
        }
        sqlx::query(&self.0.sql("UPDATE people SET moderator = 1 WHERE id = $1"))
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        audit(self.0, &mut tx, now, nick, "moderator_added", nick, "").await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every moderator, by name.
    pub async fn moderators(self) -> Result<Vec<Moderator>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, nick, last_seen FROM people WHERE moderator = 1 ORDER BY nick_key, id",
        )
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Moderator {
                    person_id: row.try_get(0)?,
                    nick: row.try_get(1)?,
                    last_seen: row.try_get(2)?,
                })
            })
            .collect()
    }

    /// Whether person `id` is a moderator now.
    pub async fn is_moderator(self, id: i64) -> Result<bool, StoreError> {
        self.moderator_in(&self.0.pool, id).await
    }

    /// Whether person `id` is a moderator, as `executor` (the pool, or a transaction that acts on
    /// it) reads it.
    async fn moderator_in<'e, E>(self, executor: E, id: i64) -> Result<bool, StoreError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        let row = sqlx::query(&self.0.sql("SELECT moderator FROM people WHERE id = $1"))
            .bind(id)
            .fetch_optional(executor)
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<i64, _>(0)? != 0,
            None => false,
        })
    }

    /// Takes the moderator role from the person named `nick_key`. Returns their ids.
    pub async fn revoke_moderator(
        self,
        nick_key: &str,
        actor: &str,
        now: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let rows = sqlx::query(&self.0.sql(
            "UPDATE people SET moderator = 0 WHERE nick_key = $1 AND moderator = 1 \
             RETURNING id, nick",
        ))
        .bind(nick_key)
        .fetch_all(&mut *tx)
        .await?;
        let ids = audit_rows(self.0, &mut tx, &rows, (now, actor, "moderator_removed")).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Mutes or bans someone, if the actor is a moderator. The person is whoever holds the name,
    /// or, while nobody does, the person last seen under it (as for private messages).
    pub async fn sanction(self, draft: SanctionDraft) -> Result<SanctionOutcome, StoreError> {
        let mut tx = self.0.begin_write().await?;
        if !self.moderator_in(&mut *tx, draft.actor).await? {
            return Ok(SanctionOutcome::NotModerator);
        }
        let Some(target) = sqlx::query(&self.0.sql(&format!(
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
        let (person_id, nick, address): (i64, String, Option<String>) =
            (target.try_get(0)?, target.try_get(1)?, target.try_get(2)?);
        let nick_key: String = target.try_get(4)?;
        let id: i64 = sqlx::query(&self.0.sql(
            "INSERT INTO sanctions \
             (kind, person_id, nick, nick_key, address, reason, by_nick, at, until) \
             VALUES ($1, $2, $3, $9, $4, $5, $6, $7, $8) RETURNING id",
        ))
        .bind(draft.kind.as_str())
        .bind(person_id)
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
        let covered = match (draft.kind, address.as_deref()) {
            (SanctionKind::Ban, Some(address)) => {
                self.ban_made_from(&mut tx, address, person_id, id, &draft)
                    .await?
            }
            _ => Vec::new(),
        };
        let detail = sanction_detail(&draft, covered.len());
        audit(
            self.0,
            &mut tx,
            &draft.at,
            &draft.actor_nick,
            draft.kind.as_str(),
            &nick,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(SanctionOutcome::Stored(Box::new(Sanction {
            id,
            kind: draft.kind.as_str().to_owned(),
            person_id,
            nick,
            address,
            reason: draft.reason,
            by: draft.actor_nick,
            at: draft.at,
            until: draft.until,
            covered,
        })))
    }

    /// Bans, as part of ban `parent` on `person_id`, the people made from `address` shortly
    /// before (moderators and bots aside): a ban is on the person, not on the one name they
    /// prepared a second for. Returns their ids.
    async fn ban_made_from(
        self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        address: &str,
        person_id: i64,
        parent: i64,
        draft: &SanctionDraft,
    ) -> Result<Vec<i64>, StoreError> {
        let others = sqlx::query(&self.0.sql(
            "SELECT id, nick, nick_key FROM people \
             WHERE created_from = $1 AND id <> $2 AND created_at >= $3 \
             AND moderator = 0 AND bot = 0",
        ))
        .bind(address)
        .bind(person_id)
        .bind(&draft.recent_since)
        .fetch_all(&mut **tx)
        .await?;
        let mut covered = Vec::with_capacity(others.len());
        for other in &others {
            let (other_id, other_nick, other_key): (i64, String, String) =
                (other.try_get(0)?, other.try_get(1)?, other.try_get(2)?);
            sqlx::query(&self.0.sql(
                "INSERT INTO sanctions \
                 (kind, person_id, nick, nick_key, address, reason, by_nick, at, until, parent) \
                 VALUES ('ban', $1, $2, $3, $4, $5, $6, $7, $8, $9)",
            ))
            .bind(other_id)
            .bind(&other_nick)
            .bind(&other_key)
            .bind(address)
            .bind(&draft.reason)
            .bind(&draft.actor_nick)
            .bind(&draft.at)
            .bind(&draft.until)
            .bind(parent)
            .execute(&mut **tx)
            .await?;
            covered.push(other_id);
        }
        Ok(covered)
    }

    /// Mutes or bans (`kind`) in force at `now`, newest first.
    pub async fn sanctions_in_force(
        self,
        kind: SanctionKind,
        now: &str,
    ) -> Result<Vec<Sanction>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT id, kind, person_id, nick, address, reason, by_nick, at, until \
             FROM sanctions WHERE kind = $1 AND lifted_at IS NULL AND until > $2 AND parent IS NULL \
             ORDER BY id DESC",
        ))
        .bind(kind.as_str())
        .bind(now)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter().map(sanction).collect()
    }

    /// Lifts the mutes or bans (`kind`) in force of the person whose name key is `nick_key`, or
    /// the one numbered `id`, with the people a ban extended to. Returns whose were lifted.
    pub async fn lift_sanctions(
        self,
        kind: SanctionKind,
        nick_key: &str,
        id: Option<i64>,
        actor: &str,
        now: &str,
    ) -> Result<Vec<Lifted>, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let lifted = lift_in(self.0, &mut tx, kind, nick_key, id, (now, actor)).await?;
        tx.commit().await?;
        Ok(lifted)
    }

    /// A moderator's lift of someone's mute or ban, if the actor is a moderator (read in the
    /// transaction, as for a sanction). `None` when the actor is not one.
    pub async fn lift_as_moderator(
        self,
        kind: SanctionKind,
        actor: i64,
        actor_nick: &str,
        nick_key: &str,
        now: &str,
    ) -> Result<Option<Vec<Lifted>>, StoreError> {
        let mut tx = self.0.begin_write().await?;
        if !self.moderator_in(&mut *tx, actor).await? {
            return Ok(None);
        }
        let lifted = lift_in(self.0, &mut tx, kind, nick_key, None, (now, actor_nick)).await?;
        tx.commit().await?;
        Ok(Some(lifted))
    }

    /// Records something running servers must act on (see [`AdminEvent`]), and forgets events
    /// older than `forget_before`.
    pub async fn admin_event(
        self,
        kind: &str,
        subject: &str,
        detail: &str,
        now: &str,
        forget_before: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(&self.0.sql("DELETE FROM admin_events WHERE at < $1"))
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            &self.0.sql(
                "INSERT INTO admin_events (at, kind, subject, detail) VALUES ($1, $2, $3, $4)",
            ),
        )
        .bind(now)
        .bind(kind)
        .bind(subject)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest admin event's number (0 if none): a starting server acts only on later ones.
    pub async fn admin_events_head(self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT MAX(id) FROM admin_events")
            .fetch_one(&self.0.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
    }

    /// Admin events after number `after`, oldest first (at most 100).
    pub async fn admin_events_after(self, after: i64) -> Result<Vec<AdminEvent>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT id, kind, subject, detail FROM admin_events WHERE id > $1 ORDER BY id LIMIT 100",
        ))
        .bind(after)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AdminEvent {
                    id: row.try_get(0)?,
                    kind: row.try_get(1)?,
                    subject: row.try_get(2)?,
                    detail: row.try_get(3)?,
                })
            })
            .collect()
    }

    /// Until when new sessions from `address` are refused (the latest ban in force of a person
    /// last seen there), if they are.
    pub async fn address_banned_until(
        self,
        address: &str,
        now: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "SELECT MAX(until) FROM sanctions \
             WHERE address = $1 AND kind = 'ban' AND lifted_at IS NULL AND until > $2",
        ))
        .bind(address)
        .bind(now)
        .fetch_one(&self.0.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// The audit log, newest first: at most `limit` (up to [`MAX_AUDIT_PAGE`]) entries before
    /// entry `before`, or the latest.
    pub async fn audit_log(
        self,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT id, at, actor, action, target, detail FROM audit_log \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        ))
        .bind(before.map_or(i64::MAX, signed))
        .bind(i64::from(limit.min(MAX_AUDIT_PAGE)))
        .fetch_all(&self.0.pool)
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

    /// Creates a bot (a person with one session): its name is claimed for good (unless someone
    /// holds it now) and it is never swept. Returns the bot's person id.
    pub async fn create_bot(
        self,
        token_hash: &str,
        nick: &str,
        nick_key: &str,
        now: &str,
    ) -> Result<BotOutcome, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let new = NewPerson {
            token_hash,
            nick,
            nick_key,
            address: None,
            user_agent: None,
            bot: true,
        };
        let Some((_, id)) = self
            .0
            .people()
            .insert_person(&mut tx, new, now, FOREVER)
            .await?
        else {
            return Ok(BotOutcome::NameTaken);
        };
        audit(
            self.0,
            &mut tx,
            now,
            "chinwag admin",
            "bot_created",
            nick,
            "",
        )
        .await?;
        tx.commit().await?;
        Ok(BotOutcome::Created(id))
    }
}

/// Lifts, in `tx`, the sanctions of `kind` in force on the person named `nick_key` (theirs, and
/// those another's ban extended to them), or the one numbered `id`, and those a lifted ban
/// extended to others; one audit entry per sanction lifted by name or number.
async fn lift_in(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    kind: SanctionKind,
    nick_key: &str,
    id: Option<i64>,
    (now, actor): (&str, &str),
) -> Result<Vec<Lifted>, StoreError> {
    let rows = sqlx::query(&store.sql(
        "UPDATE sanctions SET lifted_at = $1 \
         WHERE kind = $4 AND lifted_at IS NULL AND until > $1 AND (nick_key = $2 OR id = $3) \
         RETURNING id, person_id, nick",
    ))
    .bind(now)
    .bind(nick_key)
    .bind(id.unwrap_or(-1))
    .bind(kind.as_str())
    .fetch_all(&mut **tx)
    .await?;
    let mut lifted = Vec::with_capacity(rows.len());
    for row in &rows {
        let parent: i64 = row.try_get(0)?;
        let lifted_one = Lifted {
            person_id: row.try_get(1)?,
            nick: row.try_get(2)?,
        };
        let action = format!("{}_lifted", kind.as_str());
        audit(store, tx, now, actor, &action, &lifted_one.nick, "").await?;
        lifted.push(lifted_one);
        let children = sqlx::query(&store.sql(
            "UPDATE sanctions SET lifted_at = $1 WHERE parent = $2 AND lifted_at IS NULL \
             RETURNING person_id, nick",
        ))
        .bind(now)
        .bind(parent)
        .fetch_all(&mut **tx)
        .await?;
        for child in &children {
            lifted.push(Lifted {
                person_id: child.try_get(0)?,
                nick: child.try_get(1)?,
            });
        }
    }
    Ok(lifted)
}

/// What the audit log says of a sanction: until when, why, and how many other names it covers.
fn sanction_detail(draft: &SanctionDraft, covered: usize) -> String {
    let mut detail = match draft.reason.as_str() {
        "" => format!("until {}", draft.until),
        reason => format!("until {}: {reason}", draft.until),
    };
    if covered > 0 {
        detail.push_str(&format!(
            " (and {covered} other name(s) made from the same address)"
        ));
    }
    detail
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

/// Records `action` (at, by whom, what) on each changed row, a `(person id, nick)`; returns the
/// people's ids.
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
        person_id: row.try_get("person_id")?,
        nick: row.try_get("nick")?,
        address: row.try_get("address")?,
        reason: row.try_get("reason")?,
        by: row.try_get("by_nick")?,
        at: row.try_get("at")?,
        until: row.try_get("until")?,
        covered: Vec::new(),
    })
}

impl Moderation<'_> {
    /// Gives the bot named `nick_key` a new token: its sessions are replaced by one with the new
    /// token (the old one stops working; its name, rooms and private messages stay). Returns the
    /// bot's id and the sessions replaced, or `None` if no bot goes by that name.
    pub async fn rotate_bot_token(
        self,
        nick_key: &str,
        new_hash: &str,
        now: &str,
    ) -> Result<Option<(i64, Vec<i64>)>, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let Some(row) = sqlx::query(
            &self
                .0
                .sql("SELECT id, nick FROM people WHERE nick_key = $1 AND bot = 1"),
        )
        .bind(nick_key)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let (id, nick): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
        let old: Vec<i64> = sqlx::query(
            &self
                .0
                .sql("DELETE FROM sessions WHERE person_id = $1 RETURNING id"),
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
        super::push::forget_ended(self.0, &mut tx, id).await?;
        sqlx::query(&self.0.sql(
            "INSERT INTO sessions (token_hash, person_id, created_at, last_seen) \
             VALUES ($1, $2, $3, $3)",
        ))
        .bind(new_hash)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit(
            self.0,
            &mut tx,
            now,
            "chinwag admin",
            "bot_token_rotated",
            &nick,
            "",
        )
        .await?;
        tx.commit().await?;
        Ok(Some((id, old)))
    }

    /// The bot named `nick_key`, if there is one: its id.
    pub async fn bot_named(self, nick_key: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            &self
                .0
                .sql("SELECT id FROM people WHERE nick_key = $1 AND bot = 1"),
        )
        .bind(nick_key)
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }
}
