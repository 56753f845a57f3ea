//! Where each person has read to: a room's position (the highest `seq` or `log_seq` shown), a
//! private conversation's last `id`. Positions only move forward: a device that shows an older
//! message after another showed a newer one changes nothing.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{signed, unsigned, Store, StoreError};

/// A person's read positions, by room and by the other party's name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadPositions {
    pub rooms: BTreeMap<String, u64>,
    pub directs: BTreeMap<String, u64>,
}

/// Read positions in the store ([`Store::reads`]).
#[derive(Debug, Clone, Copy)]
pub struct Reads<'a>(pub(super) &'a Store);

impl Reads<'_> {
    /// Moves person `id`'s position in `room` to `seq` if that is forward. Returns whether it
    /// moved.
    pub async fn read_room(self, id: i64, room: &str, seq: u64) -> Result<bool, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "INSERT INTO read_positions (person_id, room, seq) VALUES ($1, $2, $3) \
             ON CONFLICT (person_id, room) DO UPDATE SET seq = excluded.seq \
             WHERE read_positions.seq < excluded.seq RETURNING seq",
        ))
        .bind(id)
        .bind(room)
        .bind(signed(seq))
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Moves person `id`'s position in their private conversation with person `peer` to `dm_id`
    /// if that is forward. Returns whether it moved.
    pub async fn read_direct(self, id: i64, peer: i64, dm_id: u64) -> Result<bool, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "INSERT INTO dm_read_positions (person_id, peer, id) VALUES ($1, $2, $3) \
             ON CONFLICT (person_id, peer) DO UPDATE SET id = excluded.id \
             WHERE dm_read_positions.id < excluded.id RETURNING id",
        ))
        .bind(id)
        .bind(peer)
        .bind(signed(dm_id))
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Person `id`'s read positions: rooms they are in, and private conversations by the other
    /// party's current name.
    pub async fn read_positions(self, id: i64) -> Result<ReadPositions, StoreError> {
        let mut positions = ReadPositions::default();
        let rows = sqlx::query(
            &self
                .0
                .sql("SELECT room, seq FROM read_positions WHERE person_id = $1 ORDER BY room"),
        )
        .bind(id)
        .fetch_all(&self.0.pool)
        .await?;
        for row in &rows {
            positions
                .rooms
                .insert(row.try_get(0)?, unsigned(row.try_get(1)?)?);
        }
        let rows = sqlx::query(&self.0.sql(
            "SELECT p.nick, r.id FROM dm_read_positions r JOIN people p ON p.id = r.peer \
             WHERE r.person_id = $1",
        ))
        .bind(id)
        .fetch_all(&self.0.pool)
        .await?;
        for row in &rows {
            positions
                .directs
                .insert(row.try_get(0)?, unsigned(row.try_get(1)?)?);
        }
        Ok(positions)
    }
}
