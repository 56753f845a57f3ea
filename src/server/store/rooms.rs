//! Rooms and memberships. Membership belongs to a person and is written here first, before any
//! server's memory follows. Everyone is in `general` without a row for it.
//!
//! Rooms are created by joining them, up to the server's cap and a cap per address they are
//! created from. A room nobody is in and nobody ever wrote in is deleted when its last member
//! leaves, and one nobody is in and nobody wrote in for a while is reclaimed by a sweep
//! ([`Rooms::reclaim_rooms`]), so abandoned rooms never fill the cap. An operator can list and
//! delete rooms (`chinwag admin rooms`, `delete-room`).

use sqlx::Row;

use super::{Store, StoreError};
use crate::protocol::GENERAL;

/// What a join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The session is in the room now; `created` says the room is new.
    Joined { created: bool },
    /// The room does not exist and the server already holds its maximum of rooms.
    RoomLimit,
    /// The room does not exist and its creator's address already created its maximum of rooms.
    AddressLimit,
}

/// The caps a new room must fit under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomCaps<'a> {
    /// Rooms in all.
    pub total: usize,
    /// Rooms created from one address.
    pub per_address: usize,
    /// The creator's address, as the store records addresses.
    pub address: &'a str,
}

/// A room as `chinwag admin rooms` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    pub name: String,
    pub members: u64,
    /// Its last position (messages and changes).
    pub last_seq: u64,
    pub created_at: String,
    /// When its last message or change was made (its creation if none).
    pub last_active: String,
    pub created_from: Option<String>,
}

/// Rooms and memberships in the store ([`Store::rooms`]).
#[derive(Debug, Clone, Copy)]
pub struct Rooms<'a>(pub(super) &'a Store);

impl Rooms<'_> {
    /// Whether `room` exists.
    pub async fn room_exists(self, room: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(&self.0.sql("SELECT 1 FROM rooms WHERE name = $1"))
            .bind(room)
            .fetch_optional(&self.0.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Puts person `person` in `room`, creating the room if it is new and it fits under `caps`.
    pub async fn join(
        self,
        person: i64,
        room: &str,
        at: &str,
        caps: RoomCaps<'_>,
    ) -> Result<JoinOutcome, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let exists = sqlx::query(&self.0.sql("SELECT 1 FROM rooms WHERE name = $1"))
            .bind(room)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            let total: i64 = sqlx::query("SELECT COUNT(*) FROM rooms")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            if usize::try_from(total).unwrap_or(usize::MAX) >= caps.total {
                return Ok(JoinOutcome::RoomLimit);
            }
            let from_here: i64 = sqlx::query(
                &self
                    .0
                    .sql("SELECT COUNT(*) FROM rooms WHERE created_from = $1"),
            )
            .bind(caps.address)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            if usize::try_from(from_here).unwrap_or(usize::MAX) >= caps.per_address {
                return Ok(JoinOutcome::AddressLimit);
            }
            sqlx::query(&self.0.sql(
                "INSERT INTO rooms (name, last_seq, created_at, created_from) VALUES ($1, 0, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            ))
            .bind(room)
            .bind(at)
            .bind(caps.address)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(&self.0.sql(
            "INSERT INTO memberships (person_id, room, joined_at) VALUES ($1, $2, $3) \
             ON CONFLICT (person_id, room) DO NOTHING",
        ))
        .bind(person)
        .bind(room)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(JoinOutcome::Joined { created: !exists })
    }

    /// Every room (but `general`), with its members and when it was last used, by name.
    pub async fn all(self) -> Result<Vec<RoomInfo>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT r.name, (SELECT COUNT(*) FROM memberships m WHERE m.room = r.name), r.last_seq, \
             r.created_at, COALESCE((SELECT at FROM messages WHERE room = r.name AND seq = r.last_seq), \
             r.created_at), r.created_from FROM rooms r WHERE r.name <> $1 ORDER BY r.name",
        ))
        .bind(GENERAL)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RoomInfo {
                    name: row.try_get(0)?,
                    members: super::unsigned(row.try_get(1)?)?,
                    last_seq: super::unsigned(row.try_get(2)?)?,
                    created_at: row.try_get(3)?,
                    last_active: row.try_get(4)?,
                    created_from: row.try_get(5)?,
                })
            })
            .collect()
    }

    /// Deletes `room` with its messages and memberships (`general` cannot be deleted). Returns
    /// whether it existed.
    pub async fn delete_room(self, room: &str) -> Result<bool, StoreError> {
        self.delete_room_if(room, false).await
    }

    /// Deletes `room` (with its messages and memberships), unless `only_if_empty` and someone is
    /// in it now (checked in the deleting transaction, so a join racing a reclaim keeps the room).
    async fn delete_room_if(self, room: &str, only_if_empty: bool) -> Result<bool, StoreError> {
        if room == GENERAL {
            return Ok(false);
        }
        let mut tx = self.0.begin_write().await?;
        if only_if_empty {
            let member = sqlx::query(
                &self
                    .0
                    .sql("SELECT 1 FROM memberships WHERE room = $1 LIMIT 1"),
            )
            .bind(room)
            .fetch_optional(&mut *tx)
            .await?;
            if member.is_some() {
                return Ok(false);
            }
        }
        for statement in [
            "DELETE FROM messages WHERE room = $1",
            "DELETE FROM memberships WHERE room = $1",
        ] {
            sqlx::query(&self.0.sql(statement))
                .bind(room)
                .execute(&mut *tx)
                .await?;
        }
        let deleted = sqlx::query(&self.0.sql("DELETE FROM rooms WHERE name = $1"))
            .bind(room)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Deletes the rooms nobody is in whose last message (or creation, if none) is older than
    /// `idle_before`, with their messages. Returns their names.
    pub async fn reclaim_rooms(self, idle_before: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT r.name FROM rooms r WHERE r.name <> $1 AND r.created_at < $2 \
             AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.room = r.name) \
             AND NOT EXISTS (SELECT 1 FROM messages g WHERE g.room = r.name AND g.seq = r.last_seq \
                             AND g.at >= $2) \
             LIMIT 100",
        ))
        .bind(GENERAL)
        .bind(idle_before)
        .fetch_all(&self.0.pool)
        .await?;
        let mut reclaimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let room: String = row.try_get(0)?;
            if self.delete_room_if(&room, true).await? {
                reclaimed.push(room);
            }
        }
        Ok(reclaimed)
    }

    /// Takes person `person` out of `room`; returns whether they were in it. A room left empty
    /// that never had a message is deleted.
    pub async fn leave(self, person: i64, room: &str) -> Result<bool, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let removed = sqlx::query(
            &self
                .0
                .sql("DELETE FROM memberships WHERE person_id = $1 AND room = $2"),
        )
        .bind(person)
        .bind(room)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(&self.0.sql(
            "DELETE FROM rooms WHERE name = $1 AND last_seq = 0 \
             AND NOT EXISTS (SELECT 1 FROM memberships WHERE room = $1)",
        ))
        .bind(room)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(removed > 0)
    }

    /// The rooms person `person` is in besides `general`, by name.
    pub async fn rooms_of(self, person: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            &self
                .0
                .sql("SELECT room FROM memberships WHERE person_id = $1 ORDER BY room"),
        )
        .bind(person)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("room")?)).collect()
    }

    /// How many rooms exist.
    pub async fn room_count(self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM rooms")
            .fetch_one(&self.0.pool)
            .await?
            .try_get(0)?;
        super::unsigned(count)
    }
}
