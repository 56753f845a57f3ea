//! People, their sessions, and nickname claims.
//!
//! A **person** owns a name, rooms, private messages, read positions, roles, mutes and bans. A
//! **session** is one browser's or client's: its token (kept as the token's SHA-256 in hex, so a
//! copy of the table cannot be used to act as anyone), the person it belongs to, and when and
//! from where it was last used. A person without a credential is a guest: unused for the session
//! TTL, their sessions and then they are swept. A person with a password or a passkey (secured),
//! a moderator and a bot are never swept; their unused sessions are.
//!
//! A nickname is held through a row of `nick_claims`, one per name key: the database's primary key
//! is what makes two people unable to hold one name, on one server or several, however they race.
//! A claim lasts until `held_until`; a person may take a name whose claim ran out, and their
//! server moves `held_until` forward while they are connected ([`People::refresh_people`]). A
//! secured person's claim, like a bot's, never runs out ([`FOREVER`]).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Store, StoreError};

/// A person as stored, with their rooms (besides `general`) and the claim on their name key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPerson {
    pub id: i64,
    pub nick: String,
    pub nick_key: String,
    pub rooms: Vec<String>,
    pub claim: Option<Claim>,
    /// The id of their latest private message (sent or received), 0 if none: a returning tab with
    /// nothing newer needs no read of them.
    pub last_direct: u64,
    /// A moderator (may delete any message, mute and ban).
    pub moderator: bool,
    /// A bot (its name is held for good; it may not rename).
    pub bot: bool,
    /// Has a password or a passkey: their name is theirs for good.
    pub secured: bool,
    /// Where they last connected from.
    pub address: Option<String>,
    /// The end of their latest mute and ban not lifted (possibly past).
    pub muted_until: Option<String>,
    pub banned_until: Option<String>,
}

/// A session as stored: its number, and its person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSession {
    pub id: i64,
    pub person: SavedPerson,
}

/// One of a person's sessions, as their devices page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSession {
    pub id: i64,
    pub created_at: String,
    pub last_seen: String,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// A person to insert, with their first session ([`People::insert_person`]).
pub(super) struct NewPerson<'a> {
    pub(super) token_hash: &'a str,
    pub(super) nick: &'a str,
    pub(super) nick_key: &'a str,
    pub(super) address: Option<&'a str>,
    pub(super) user_agent: Option<&'a str>,
    pub(super) bot: bool,
}

/// Where a new session connects from and with what.
#[derive(Debug, Clone, Copy, Default)]
pub struct Device<'a> {
    /// The client's address, as the store records addresses.
    pub address: Option<&'a str>,
    /// The browser's `User-Agent`, cut short.
    pub user_agent: Option<&'a str>,
}

/// Who holds a name key, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub person_id: i64,
    pub held_until: String,
}

/// Claims `$1` for person `$2` until `$3`, unless another person holds it past `$4` (now).
/// Returns a row only when the claim is this person's afterwards. A person's own claim is never
/// shortened (a bot's or a secured person's lasts for good).
const CLAIM: &str =
    "INSERT INTO nick_claims (nick_key, person_id, held_until) VALUES ($1, $2, $3) \
     ON CONFLICT (nick_key) DO UPDATE \
     SET person_id = excluded.person_id, held_until = CASE \
     WHEN nick_claims.person_id = excluded.person_id AND nick_claims.held_until > excluded.held_until \
     THEN nick_claims.held_until ELSE excluded.held_until END \
     WHERE nick_claims.held_until < $4 OR nick_claims.person_id = excluded.person_id \
     RETURNING person_id";

/// Who a name key (`$1`) means, online or not: the person who holds it, or, while nobody does,
/// the person last seen under it. Private messages and moderators' mutes and bans go to them.
pub(super) const PERSON_NAMED: &str = "FROM people s \
     LEFT JOIN nick_claims c ON c.nick_key = s.nick_key \
     WHERE s.nick_key = $1 AND (c.person_id IS NULL OR c.person_id = s.id) \
     ORDER BY s.last_seen DESC LIMIT 1";

/// Whether person `s` has a credential (as a SQL condition).
pub(super) const SECURED: &str = "(s.password_hash IS NOT NULL \
     OR EXISTS (SELECT 1 FROM passkeys k WHERE k.person_id = s.id))";

/// How many ids one refresh statement names at most.
const REFRESH_CHUNK: usize = 500;

/// The longest `User-Agent` kept.
const MAX_USER_AGENT: usize = 256;

/// The `held_until` of a claim that never runs out (a bot's name): later than any real time, in
/// the same format, so the string comparisons the claims use hold.
pub const FOREVER: &str = "9999-12-31T23:59:59.999Z";

/// The sessions a person keeps at most (devices and clients signed in); a new one past it signs
/// out the least recently used.
pub const MAX_SESSIONS: u32 = 64;

/// People, their sessions and nickname claims in the store ([`Store::people`]).
#[derive(Debug, Clone, Copy)]
pub struct People<'a>(pub(super) &'a Store);

impl People<'_> {
    /// Creates a guest person for `nick` with their first session, if the name key can be
    /// claimed: returns the session's and the person's ids, or `None` if someone else holds the
    /// name. Nothing is stored when the name is taken.
    pub async fn create_person(
        self,
        token_hash: &str,
        (nick, nick_key): (&str, &str),
        device: Device<'_>,
        now: &str,
        hold_until: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let new = NewPerson {
            token_hash,
            nick,
            nick_key,
            address: device.address,
            user_agent: device.user_agent,
            bot: false,
        };
        let Some(ids) = self.insert_person(&mut tx, new, now, hold_until).await? else {
            // Dropping the transaction rolls the person back.
            return Ok(None);
        };
        tx.commit().await?;
        Ok(Some(ids))
    }

    /// Inserts a person and their first session, and claims their name until `hold_until`, in
    /// `tx`: (session id, person id), or `None` if someone else holds the name (the caller then
    /// drops `tx`, and nothing is stored).
    pub(super) async fn insert_person(
        self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        new: NewPerson<'_>,
        now: &str,
        hold_until: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let person: i64 = sqlx::query(&self.0.sql(
            "INSERT INTO people (nick, nick_key, created_at, last_seen, address, created_from, bot) \
             VALUES ($1, $2, $3, $3, $4, $4, $5) RETURNING id",
        ))
        .bind(new.nick)
        .bind(new.nick_key)
        .bind(now)
        .bind(new.address)
        .bind(i64::from(new.bot))
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
        let claimed = sqlx::query(&self.0.sql(CLAIM))
            .bind(new.nick_key)
            .bind(person)
            .bind(hold_until)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
        if !claimed {
            return Ok(None);
        }
        let device = Device {
            address: new.address,
            user_agent: new.user_agent,
        };
        let session = insert_session(self.0, tx, person, new.token_hash, device, now).await?;
        Ok(Some((session, person)))
    }

    /// A new session of person `person_id` (a sign-in on another device): its id, and the
    /// sessions signed out to make room for it (a person keeps at most [`MAX_SESSIONS`], the
    /// least recently used go first).
    pub async fn add_session(
        self,
        person_id: i64,
        token_hash: &str,
        device: Device<'_>,
        now: &str,
    ) -> Result<(i64, Vec<i64>), StoreError> {
        let mut tx = self.0.begin_write().await?;
        let id = insert_session(self.0, &mut tx, person_id, token_hash, device, now).await?;
        let over: Vec<i64> = sqlx::query(&self.0.sql(
            "SELECT id FROM sessions WHERE person_id = $1 AND id NOT IN \
             (SELECT id FROM sessions WHERE person_id = $1 ORDER BY last_seen DESC, id DESC \
             LIMIT $2)",
        ))
        .bind(person_id)
        .bind(i64::from(MAX_SESSIONS))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
        for old in &over {
            sqlx::query(&self.0.sql("DELETE FROM sessions WHERE id = $1"))
                .bind(*old)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((id, over))
    }

    /// The session with this token hash and its person, unless it expired (unused since before
    /// `expired_before`).
    pub async fn session_by_hash(
        self,
        token_hash: &str,
        expired_before: &str,
    ) -> Result<Option<SavedSession>, StoreError> {
        let row =
            sqlx::query(&self.0.sql(
                "SELECT id, person_id FROM sessions WHERE token_hash = $1 AND last_seen >= $2",
            ))
            .bind(token_hash)
            .bind(expired_before)
            .fetch_optional(&self.0.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (id, person_id): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok(self
            .person_by_id(person_id)
            .await?
            .map(|person| SavedSession { id, person }))
    }

    /// Whether session `id` still exists (it was not signed out), unless it expired.
    pub async fn session_alive(self, id: i64, expired_before: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            &self
                .0
                .sql("SELECT 1 FROM sessions WHERE id = $1 AND last_seen >= $2"),
        )
        .bind(id)
        .bind(expired_before)
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Person `id` as the store has them now (another server may have renamed them or changed
    /// their rooms), if they exist.
    pub async fn person_by_id(self, id: i64) -> Result<Option<SavedPerson>, StoreError> {
        // One read for the person, their name's claim and their rooms: a row per room (or one
        // row with no room).
        let rows = sqlx::query(&self.0.sql(&format!(
            "SELECT s.id, s.nick, s.nick_key, c.person_id AS holder, c.held_until, \
             m.room, s.moderator, s.bot, s.address, {SECURED} AS secured, \
             (SELECT MAX(until) FROM sanctions WHERE person_id = s.id AND kind = 'mute' \
              AND lifted_at IS NULL) AS muted_until, \
             (SELECT MAX(until) FROM sanctions WHERE person_id = s.id AND kind = 'ban' \
              AND lifted_at IS NULL) AS banned_until, \
             (SELECT MAX(id) FROM direct_messages WHERE from_person = s.id) AS sent, \
             (SELECT MAX(id) FROM direct_messages WHERE to_person = s.id) AS received \
             FROM people s LEFT JOIN nick_claims c ON c.nick_key = s.nick_key \
             LEFT JOIN memberships m ON m.person_id = s.id \
             WHERE s.id = $1 ORDER BY m.room"
        )))
        .bind(id)
        .fetch_all(&self.0.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut saved = saved_person(first)?;
        for row in &rows {
            if let Some(room) = row.try_get::<Option<String>, _>("room")? {
                saved.rooms.push(room);
            }
        }
        Ok(Some(saved))
    }

    /// Who a private message to the name key `nick_key` is for, online or not: the person who
    /// holds the name; or, while nobody does (their claim ran out), the person last seen under
    /// that name, who takes it back when they return. `None` when nobody goes by that name.
    /// Returns their id and nickname.
    pub async fn person_named(self, nick_key: &str) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query(&self.0.sql(&format!("SELECT s.id, s.nick {PERSON_NAMED}")))
            .bind(nick_key)
            .fetch_optional(&self.0.pool)
            .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
    }

    /// Claims `nick_key` for person `id` until `hold_until`, unless someone else holds it beyond
    /// `now`. Returns whether the person holds it now.
    pub async fn claim_nick(
        self,
        nick_key: &str,
        id: i64,
        now: &str,
        hold_until: &str,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(&self.0.sql(CLAIM))
            .bind(nick_key)
            .bind(id)
            .bind(hold_until)
            .bind(now)
            .fetch_optional(&self.0.pool)
            .await?
            .is_some();
        Ok(claimed)
    }

    /// Renames person `id` to `nick` if `nick_key` can be claimed; their old claim (`old_key`)
    /// is given up in the same transaction. A secured person's new claim lasts for good. Returns
    /// whether they were renamed.
    pub async fn rename_person(
        self,
        id: i64,
        (old_key, nick, nick_key): (&str, &str, &str),
        now: &str,
        hold_until: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let secured = sqlx::query(&self.0.sql(&format!(
            "SELECT {SECURED} AS secured FROM people s WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| flag(&row, "secured"))
        .transpose()?
        .unwrap_or(false);
        let claimed = sqlx::query(&self.0.sql(CLAIM))
            .bind(nick_key)
            .bind(id)
            .bind(if secured { FOREVER } else { hold_until })
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !claimed {
            return Ok(false);
        }
        if old_key != nick_key {
            sqlx::query(
                &self
                    .0
                    .sql("DELETE FROM nick_claims WHERE nick_key = $1 AND person_id = $2"),
            )
            .bind(old_key)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            &self
                .0
                .sql("UPDATE people SET nick = $1, nick_key = $2, last_seen = $3 WHERE id = $4"),
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

    /// Marks sessions `sessions` and people `people` as seen `now` and moves the people's claims
    /// to `hold_until` (claims someone else took meanwhile are left alone).
    pub async fn refresh_people(
        self,
        sessions: &[i64],
        people: &[i64],
        now: &str,
        hold_until: &str,
    ) -> Result<(), StoreError> {
        let statements: [(&str, &[i64], &str); 3] = [
            (
                "UPDATE sessions SET last_seen = $1 WHERE id IN ({list})",
                sessions,
                now,
            ),
            (
                "UPDATE people SET last_seen = $1 WHERE id IN ({list})",
                people,
                now,
            ),
            // Never shortened: a bot's or a secured person's claim lasts for good.
            (
                "UPDATE nick_claims SET held_until = $1 \
                 WHERE person_id IN ({list}) AND held_until < $1",
                people,
                hold_until,
            ),
        ];
        for (statement, ids, time) in statements {
            for chunk in ids.chunks(REFRESH_CHUNK) {
                let list = (0..chunk.len())
                    .map(|i| format!("${}", i + 2))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = self.0.sql(&statement.replace("{list}", &list));
                let mut query = sqlx::query(&sql).bind(time);
                for id in chunk {
                    query = query.bind(*id);
                }
                let mut tx = self.0.begin_write().await?;
                query.execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Deletes sessions unused since before `expired_before`, then guests (people without a
    /// credential, role or bot) unseen since then and left without a session, with their rooms,
    /// claims and read positions; and every claim that ran out before `now`. Returns how many
    /// people were deleted.
    pub async fn sweep_people(self, expired_before: &str, now: &str) -> Result<u64, StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(&self.0.sql("DELETE FROM sessions WHERE last_seen < $1"))
            .bind(expired_before)
            .execute(&mut *tx)
            .await?;
        // Push subscriptions go with their sessions, however those ended (signed out, banned,
        // expired, the person deleted); until then they are never read back.
        sqlx::query(
            "DELETE FROM push_subscriptions WHERE NOT EXISTS \
             (SELECT 1 FROM sessions s WHERE s.id = push_subscriptions.session_id)",
        )
        .execute(&mut *tx)
        .await?;
        let gone = format!(
            "SELECT s.id FROM people s WHERE s.last_seen < $1 AND s.moderator = 0 AND s.bot = 0 \
             AND NOT {SECURED} AND NOT EXISTS (SELECT 1 FROM sessions d WHERE d.person_id = s.id)"
        );
        for statement in [
            format!("DELETE FROM memberships WHERE person_id IN ({gone})"),
            format!("DELETE FROM read_positions WHERE person_id IN ({gone})"),
            format!("DELETE FROM dm_read_positions WHERE person_id IN ({gone})"),
            format!("DELETE FROM nick_claims WHERE person_id IN ({gone})"),
            format!("DELETE FROM blocks WHERE person_id IN ({gone}) OR blocked IN ({gone})"),
        ] {
            sqlx::query(&self.0.sql(&statement))
                .bind(expired_before)
                .execute(&mut *tx)
                .await?;
        }
        let deleted = sqlx::query(
            &self
                .0
                .sql(&format!("DELETE FROM people WHERE id IN ({gone})")),
        )
        .bind(expired_before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(&self.0.sql("DELETE FROM nick_claims WHERE held_until < $1"))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Person `id`'s sessions, most recently used first.
    pub async fn sessions_of(self, id: i64) -> Result<Vec<DeviceSession>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT id, created_at, last_seen, address, user_agent FROM sessions \
             WHERE person_id = $1 ORDER BY last_seen DESC, id DESC",
        ))
        .bind(id)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeviceSession {
                    id: row.try_get(0)?,
                    created_at: row.try_get(1)?,
                    last_seen: row.try_get(2)?,
                    address: row.try_get(3)?,
                    user_agent: row.try_get(4)?,
                })
            })
            .collect()
    }

    /// Signs out person `person`'s sessions: those numbered `which`, or every one but `keep`.
    /// Returns the sessions deleted.
    pub async fn delete_sessions(
        self,
        person: i64,
        which: SignOut<'_>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let rows = match which {
            SignOut::These(ids) => {
                let mut deleted = Vec::new();
                for id in ids {
                    let row =
                        sqlx::query(&self.0.sql(
                            "DELETE FROM sessions WHERE id = $1 AND person_id = $2 RETURNING id",
                        ))
                        .bind(*id)
                        .bind(person)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(row) = row {
                        deleted.push(row.try_get(0)?);
                    }
                }
                deleted
            }
            SignOut::AllBut(keep) => sqlx::query(
                &self
                    .0
                    .sql("DELETE FROM sessions WHERE person_id = $1 AND id <> $2 RETURNING id"),
            )
            .bind(person)
            .bind(keep)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?,
        };
        super::push::forget_ended(self.0, &mut tx, person).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// How many people are stored.
    pub async fn person_count(self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM people")
            .fetch_one(&self.0.pool)
            .await?
            .try_get(0)?;
        super::unsigned(count)
    }

    /// How many sessions are stored.
    pub async fn session_count(self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM sessions")
            .fetch_one(&self.0.pool)
            .await?
            .try_get(0)?;
        super::unsigned(count)
    }

    /// Records where session `session` of person `person` connects from (for a ban's refusal of
    /// new sessions, and the devices page).
    pub async fn record_address(
        self,
        session: i64,
        person: i64,
        address: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(&self.0.sql("UPDATE sessions SET address = $1 WHERE id = $2"))
            .bind(address)
            .bind(session)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&self.0.sql("UPDATE people SET address = $1 WHERE id = $2"))
            .bind(address)
            .bind(person)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Which sessions of a person to sign out.
#[derive(Debug, Clone, Copy)]
pub enum SignOut<'a> {
    These(&'a [i64]),
    /// Every one but this (the device asking).
    AllBut(i64),
}

/// Inserts a session of `person` in `tx`: its id.
async fn insert_session(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    person: i64,
    token_hash: &str,
    device: Device<'_>,
    now: &str,
) -> Result<i64, StoreError> {
    let user_agent = device.user_agent.map(|agent| {
        let cut = agent
            .char_indices()
            .nth(MAX_USER_AGENT)
            .map_or(agent.len(), |(at, _)| at);
        &agent[..cut]
    });
    Ok(sqlx::query(&store.sql(
        "INSERT INTO sessions (token_hash, person_id, created_at, last_seen, address, user_agent) \
         VALUES ($1, $2, $3, $3, $4, $5) RETURNING id",
    ))
    .bind(token_hash)
    .bind(person)
    .bind(now)
    .bind(device.address)
    .bind(user_agent)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?)
}

fn saved_person(row: &AnyRow) -> Result<SavedPerson, StoreError> {
    let holder: Option<i64> = row.try_get("holder")?;
    let held_until: Option<String> = row.try_get("held_until")?;
    let sent: Option<i64> = row.try_get("sent")?;
    let received: Option<i64> = row.try_get("received")?;
    Ok(SavedPerson {
        id: row.try_get("id")?,
        nick: row.try_get("nick")?,
        nick_key: row.try_get("nick_key")?,
        rooms: Vec::new(),
        claim: holder.zip(held_until).map(|(person_id, held_until)| Claim {
            person_id,
            held_until,
        }),
        last_direct: sent.max(received).map_or(Ok(0), super::unsigned)?,
        moderator: row.try_get::<i64, _>("moderator")? != 0,
        bot: row.try_get::<i64, _>("bot")? != 0,
        secured: flag(row, "secured")?,
        address: row.try_get("address")?,
        muted_until: row.try_get("muted_until")?,
        banned_until: row.try_get("banned_until")?,
    })
}

/// A boolean SQL expression's value: SQLite gives an integer, PostgreSQL a boolean.
pub(super) fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    match row.try_get::<bool, _>(column) {
        Ok(value) => Ok(value),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}
