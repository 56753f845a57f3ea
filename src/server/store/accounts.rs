//! What makes a person's name theirs and lets them in on another device: a password, passkeys
//! (and the WebAuthn ceremonies under way), one-time device links, invitations, the throttle on
//! failed sign-ins; and deleting a person.
//!
//! Secrets are kept as hashes only: an argon2id PHC string for a password, a token's SHA-256 for
//! a link or an invitation. A person who gets a credential keeps their name for good: their claim
//! is made to last ([`FOREVER`]) in the transaction that stores it.

use sqlx::Row;

use super::people::{FOREVER, SECURED};
use super::{Store, StoreError};
use crate::protocol::Stored;

/// A stored passkey: its person and webauthn-rs's JSON of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub person_id: i64,
    pub json: String,
}

/// A passkey as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub id: i64,
    pub created_at: String,
    pub last_used: Option<String>,
}

/// The passkeys a person may have at most.
pub const MAX_PASSKEYS: usize = 16;

/// What deleting a person did to the rooms' logs: the deletes of their messages, to be told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    pub changes: Vec<Stored>,
}

/// A person's credentials in the store: passwords, passkeys, device links, invitations, the
/// sign-in throttle, and deleting a person ([`Store::accounts`]).
#[derive(Debug, Clone, Copy)]
pub struct Accounts<'a>(pub(super) &'a Store);

impl Accounts<'_> {
    /// Sets person `id`'s password (an argon2id PHC string); their name becomes theirs for good.
    pub async fn set_password(self, id: i64, phc: &str) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(
            &self
                .0
                .sql("UPDATE people SET password_hash = $1 WHERE id = $2"),
        )
        .bind(phc)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        keep_name(self.0, &mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Person `id`'s password hash, if they set one.
    pub async fn password_of(self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(&self.0.sql("SELECT password_hash FROM people WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.0.pool)
            .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?.flatten())
    }

    /// The person who holds the name key `nick_key` and has a password: their id, name and
    /// password hash. (A guest's name, or one nobody holds, signs nobody in.)
    pub async fn password_login(
        self,
        nick_key: &str,
    ) -> Result<Option<(i64, String, String)>, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "SELECT s.id, s.nick, s.password_hash FROM people s \
             JOIN nick_claims c ON c.nick_key = s.nick_key AND c.person_id = s.id \
             WHERE s.nick_key = $1 AND s.password_hash IS NOT NULL",
        ))
        .bind(nick_key)
        .fetch_optional(&self.0.pool)
        .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .transpose()
    }

    /// Counts a failed sign-in against each of `keys` (a name, an address) at `now`, and forgets
    /// failures older than `forget_before`.
    pub async fn record_failure(
        self,
        keys: &[&str],
        now: &str,
        forget_before: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(&self.0.sql("DELETE FROM login_failures WHERE at < $1"))
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        for key in keys {
            sqlx::query(
                &self
                    .0
                    .sql("INSERT INTO login_failures (key, at) VALUES ($1, $2)"),
            )
            .bind(*key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The failed sign-ins counted against `key` since `since`: how many (up to `cap`), and the
    /// oldest of them (when the count goes down again).
    pub async fn failures(
        self,
        key: &str,
        since: &str,
        cap: u32,
    ) -> Result<(u32, Option<String>), StoreError> {
        let rows =
            sqlx::query(&self.0.sql(
                "SELECT at FROM login_failures WHERE key = $1 AND at >= $2 ORDER BY at LIMIT $3",
            ))
            .bind(key)
            .bind(since)
            .bind(i64::from(cap))
            .fetch_all(&self.0.pool)
            .await?;
        let oldest = rows.first().map(|row| row.try_get(0)).transpose()?;
        Ok((u32::try_from(rows.len()).unwrap_or(u32::MAX), oldest))
    }

    /// Person `id`'s WebAuthn user handle, made now if they have none.
    pub async fn webauthn_id(self, id: i64, fresh: &str) -> Result<String, StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(
            &self
                .0
                .sql("UPDATE people SET webauthn_id = $1 WHERE id = $2 AND webauthn_id IS NULL"),
        )
        .bind(fresh)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let handle: String =
            sqlx::query(&self.0.sql("SELECT webauthn_id FROM people WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        tx.commit().await?;
        Ok(handle)
    }

    /// The person whose WebAuthn user handle is `handle`.
    pub async fn person_of_handle(self, handle: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(&self.0.sql("SELECT id FROM people WHERE webauthn_id = $1"))
            .bind(handle)
            .fetch_optional(&self.0.pool)
            .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// Stores a passkey of person `id`; their name becomes theirs for good.
    pub async fn add_passkey(
        self,
        id: i64,
        credential_id: &str,
        json: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(&self.0.sql(
            "INSERT INTO passkeys (person_id, credential_id, passkey, created_at) \
             VALUES ($1, $2, $3, $4)",
        ))
        .bind(id)
        .bind(credential_id)
        .bind(json)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        keep_name(self.0, &mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Person `id`'s passkeys (webauthn-rs's JSON).
    pub async fn passkeys_of(self, id: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            &self
                .0
                .sql("SELECT passkey FROM passkeys WHERE person_id = $1"),
        )
        .bind(id)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    /// Person `id`'s passkeys, oldest first.
    pub async fn passkey_list(self, id: i64) -> Result<Vec<PasskeyInfo>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT id, created_at, last_used FROM passkeys WHERE person_id = $1 ORDER BY id",
        ))
        .bind(id)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PasskeyInfo {
                    id: row.try_get(0)?,
                    created_at: row.try_get(1)?,
                    last_used: row.try_get(2)?,
                })
            })
            .collect()
    }

    /// Removes passkey `passkey` of person `id`: whether there was one.
    pub async fn remove_passkey(self, id: i64, passkey: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            &self
                .0
                .sql("DELETE FROM passkeys WHERE id = $1 AND person_id = $2"),
        )
        .bind(passkey)
        .bind(id)
        .execute(&self.0.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The passkey with this credential id.
    pub async fn passkey(self, credential_id: &str) -> Result<Option<StoredPasskey>, StoreError> {
        let row = sqlx::query(
            &self
                .0
                .sql("SELECT person_id, passkey FROM passkeys WHERE credential_id = $1"),
        )
        .bind(credential_id)
        .fetch_optional(&self.0.pool)
        .await?;
        row.map(|row| {
            Ok(StoredPasskey {
                person_id: row.try_get(0)?,
                json: row.try_get(1)?,
            })
        })
        .transpose()
    }

    /// Records a passkey's use (its counter moved: webauthn-rs's updated JSON).
    pub async fn used_passkey(
        self,
        credential_id: &str,
        json: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            &self
                .0
                .sql("UPDATE passkeys SET passkey = $1, last_used = $2 WHERE credential_id = $3"),
        )
        .bind(json)
        .bind(now)
        .bind(credential_id)
        .execute(&self.0.pool)
        .await?;
        Ok(())
    }

    /// Keeps a WebAuthn ceremony's state until `expires_at` (and forgets expired ones).
    pub async fn put_ceremony(
        self,
        id: &str,
        person_id: Option<i64>,
        state: &str,
        (now, expires_at): (&str, &str),
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(&self.0.sql("DELETE FROM ceremonies WHERE expires_at < $1"))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&self.0.sql(
            "INSERT INTO ceremonies (id, person_id, state, expires_at) VALUES ($1, $2, $3, $4)",
        ))
        .bind(id)
        .bind(person_id)
        .bind(state)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes (once) a ceremony's state, unless it expired: its person and state.
    pub async fn take_ceremony(
        self,
        id: &str,
        now: &str,
    ) -> Result<Option<(Option<i64>, String)>, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "DELETE FROM ceremonies WHERE id = $1 AND expires_at >= $2 RETURNING person_id, state",
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&self.0.pool)
        .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
    }

    /// Stores a one-time link that signs a device in as person `id`, until `expires_at`.
    pub async fn create_device_link(
        self,
        token_hash: &str,
        id: i64,
        (now, expires_at): (&str, &str),
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(
            &self
                .0
                .sql("DELETE FROM device_links WHERE used_at IS NOT NULL OR expires_at < $1"),
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&self.0.sql(
            "INSERT INTO device_links (token_hash, person_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        ))
        .bind(token_hash)
        .bind(id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The person a device link signs in, while it is unused and valid (without using it).
    pub async fn device_link(
        self,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "SELECT p.id, p.nick FROM device_links l JOIN people p ON p.id = l.person_id \
             WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at >= $2",
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.0.pool)
        .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
    }

    /// Uses a device link (once): the person it signs in, or `None` if it was used or expired.
    pub async fn use_device_link(
        self,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "UPDATE device_links SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at >= $2 RETURNING person_id",
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// Stores an invitation, usable `uses` times until `expires_at`, with its audit entry.
    pub async fn create_invite(
        self,
        token_hash: &str,
        by: &str,
        uses: u32,
        (now, expires_at): (&str, &str),
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(&self.0.sql(
            "INSERT INTO invites (token_hash, created_at, created_by, expires_at, uses_left) \
             VALUES ($1, $2, $3, $4, $5)",
        ))
        .bind(token_hash)
        .bind(now)
        .bind(by)
        .bind(expires_at)
        .bind(i64::from(uses))
        .execute(&mut *tx)
        .await?;
        let detail = format!("{uses} use(s), until {expires_at}");
        super::moderation::audit(self.0, &mut tx, now, by, "invite", "", &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether an invitation can still be used.
    pub async fn invite_valid(self, token_hash: &str, now: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "SELECT 1 FROM invites WHERE token_hash = $1 AND uses_left > 0 AND expires_at >= $2",
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Uses an invitation once: whether it could be.
    pub async fn use_invite(self, token_hash: &str, now: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "UPDATE invites SET uses_left = uses_left - 1, used = used + 1 \
             WHERE token_hash = $1 AND uses_left > 0 AND expires_at >= $2 RETURNING uses_left",
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Whether person `id` has a credential (a password or a passkey).
    pub async fn is_secured(self, id: i64) -> Result<bool, StoreError> {
        let row = sqlx::query(&self.0.sql(&format!(
            "SELECT {SECURED} AS secured FROM people s WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.0.pool)
        .await?;
        row.map(|row| super::people::flag(&row, "secured"))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Deletes person `id`: their credentials, sessions, read positions, rooms, blocks, private
    /// messages and files (every upload of theirs, kept messages' too), and gives up their name. Their room messages stay unless `keep_messages` is false:
    /// then each is deleted as a moderator's delete is, a change in its room's log (returned, for
    /// the rooms to be told).
    pub async fn delete_person(
        self,
        id: i64,
        keep_messages: bool,
        now: &str,
    ) -> Result<Deleted, StoreError> {
        let mut deleted = Deleted::default();
        if !keep_messages {
            let rows = sqlx::query(&self.0.sql(
                "SELECT room, seq, sender FROM messages \
                 WHERE person_id = $1 AND kind = 0 AND deleted = 0 ORDER BY room, seq",
            ))
            .bind(id)
            .fetch_all(&self.0.pool)
            .await?;
            for row in &rows {
                let (room, seq, by): (String, i64, String) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                let draft = super::ChangeDraft {
                    by,
                    person_id: Some(id),
                    at: now.to_owned(),
                    text: None,
                    moderator: false,
                    mentions: Vec::new(),
                    max_edits: u32::MAX,
                };
                if let super::ChangeOutcome::Stored(change) = self
                    .0
                    .messages()
                    .change(&room, super::unsigned(seq)?, draft)
                    .await?
                {
                    deleted.changes.push(change);
                }
            }
        }
        let mut tx = self.0.begin_write().await?;
        // Their files, and those of the private messages that go with them.
        super::files::unlink_where(
            self.0,
            &mut tx,
            "person_id = $1 OR direct_id IN \
             (SELECT id FROM direct_messages WHERE from_person = $1 OR to_person = $1)",
            &[super::files::Bound::Int(id)],
        )
        .await?;
        for statement in [
            "DELETE FROM passkeys WHERE person_id = $1",
            "DELETE FROM ceremonies WHERE person_id = $1",
            "DELETE FROM device_links WHERE person_id = $1",
            "DELETE FROM sessions WHERE person_id = $1",
            "DELETE FROM push_subscriptions WHERE person_id = $1",
            "DELETE FROM read_positions WHERE person_id = $1",
            "DELETE FROM dm_read_positions WHERE person_id = $1 OR peer = $1",
            "DELETE FROM memberships WHERE person_id = $1",
            "DELETE FROM reactions WHERE person_id = $1",
            "DELETE FROM blocks WHERE person_id = $1 OR blocked = $1",
            // Their picture is queued for the collector before its row goes.
            "INSERT INTO unlinked_objects (hash) \
             SELECT avatar FROM people WHERE id = $1 AND avatar IS NOT NULL \
             ON CONFLICT DO NOTHING",
            "DELETE FROM direct_reactions WHERE id IN \
             (SELECT id FROM direct_messages WHERE from_person = $1 OR to_person = $1)",
            "DELETE FROM direct_messages WHERE from_person = $1 OR to_person = $1",
            "DELETE FROM nick_claims WHERE person_id = $1",
            "UPDATE messages SET person_id = NULL WHERE person_id = $1",
            "DELETE FROM people WHERE id = $1",
        ] {
            sqlx::query(&self.0.sql(statement))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}

/// Makes person `id`'s claim on their name last for good (they have a credential now).
async fn keep_name(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
) -> Result<(), StoreError> {
    sqlx::query(&store.sql("UPDATE nick_claims SET held_until = $1 WHERE person_id = $2"))
        .bind(FOREVER)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
