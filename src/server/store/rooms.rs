//! Rooms and memberships. Membership belongs to a session (by its token hash) and is written here
//! first, before any server's memory follows. Everyone is in `general` without a row for it.
//!
//! Rooms are created by joining them, up to the server's cap. A room nobody is in and nobody ever
//! wrote in is deleted when its last member leaves, so abandoned names do not pile up.

use sqlx::Row;

use super::{Store, StoreError};

/// What a join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The session is in the room now; `created` says the room is new.
    Joined { created: bool },
    /// The room does not exist and the server already holds its maximum of rooms.
    RoomLimit,
}

impl Store {
    /// Whether `room` exists.
    pub async fn room_exists(&self, room: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(&self.sql("SELECT 1 FROM rooms WHERE name = $1"))
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Puts a session in `room`, creating the room if it is new and fewer than `max_rooms` exist.
    pub async fn join(
        &self,
        session_hash: &str,
        room: &str,
        at: &str,
        max_rooms: usize,
    ) -> Result<JoinOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query(&self.sql("SELECT 1 FROM rooms WHERE name = $1"))
            .bind(room)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            let count: i64 = sqlx::query("SELECT COUNT(*) FROM rooms")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= max_rooms {
                return Ok(JoinOutcome::RoomLimit);
            }
            sqlx::query(&self.sql(
                "INSERT INTO rooms (name, last_seq, created_at) VALUES ($1, 0, $2) \
                 ON CONFLICT (name) DO NOTHING",
            ))
            .bind(room)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(&self.sql(
            "INSERT INTO memberships (session_hash, room, joined_at) VALUES ($1, $2, $3) \
             ON CONFLICT (session_hash, room) DO NOTHING",
        ))
        .bind(session_hash)
        .bind(room)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(JoinOutcome::Joined { created: !exists })
    }

    /// Takes a session out of `room`; returns whether it was in it. A room left empty that never
    /// had a message is deleted.
    pub async fn leave(&self, session_hash: &str, room: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let removed =
            sqlx::query(&self.sql("DELETE FROM memberships WHERE session_hash = $1 AND room = $2"))
                .bind(session_hash)
                .bind(room)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query(&self.sql(
            "DELETE FROM rooms WHERE name = $1 AND last_seq = 0 \
             AND NOT EXISTS (SELECT 1 FROM memberships WHERE room = $1)",
        ))
        .bind(room)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(removed > 0)
    }

    /// The rooms a session is in besides `general`, by name.
    pub async fn rooms_of(&self, session_hash: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            &self.sql("SELECT room FROM memberships WHERE session_hash = $1 ORDER BY room"),
        )
        .bind(session_hash)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("room")?)).collect()
    }

    /// How many rooms exist.
    pub async fn room_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM rooms")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        super::unsigned(count)
    }
}
