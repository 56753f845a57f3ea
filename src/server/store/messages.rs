//! Room messages: every one is committed here before anyone is told about it.
//!
//! [`Store::append_batch`] bumps the room's `last_seq` by the number of messages and inserts them in
//! one transaction (group commit: the hub hands it everything that queued up for a room while the
//! previous commit ran). The bump takes the room row's write lock (a row lock in PostgreSQL, the
//! database write lock in SQLite), so concurrent writers, on one server or several, are ordered:
//! seqs within a room are gap-free and in commit order, and a reader who saw seq N never later
//! discovers a missing N−1.

use sqlx::Row;

use super::{message, signed, unsigned, value_rows, Store, StoreError, MESSAGE_COLUMNS};
use crate::protocol::ChatMessage;

/// A room message about to be stored; the store gives it its `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub from: String,
    pub text: String,
    pub at: String,
    pub client_id: Option<String>,
    pub action: bool,
    /// The sending session's token hash: with `client_id`, unique per room.
    pub session_hash: Option<String>,
}

/// One page of a room's history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub messages: Vec<ChatMessage>,
    /// Whether the page reaches back to the room's first message.
    pub complete: bool,
}

impl Store {
    /// The message a session already stored in `room` under `client_id`, if any: a retry (even one
    /// made after a server restart) is answered with it instead of being stored again.
    pub async fn sent_before(
        &self,
        room: &str,
        session_hash: &str,
        client_id: &str,
    ) -> Result<Option<ChatMessage>, StoreError> {
        let row = sqlx::query(&self.sql(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE room = $1 AND session_hash = $2 AND client_id = $3"
        )))
        .bind(room)
        .bind(session_hash)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(message).transpose()
    }

    /// Commits several messages to `room` in one transaction (group commit), with consecutive seqs
    /// in the given order. Either all are stored or none.
    pub async fn append_batch(
        &self,
        room: &str,
        drafts: Vec<NewMessage>,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        let Some(first) = drafts.first() else {
            return Ok(Vec::new());
        };
        let count = i64::try_from(drafts.len()).unwrap_or(i64::MAX);
        // Two statements whatever the batch size: SQLite runs on a worker thread of its own, so
        // every statement is a round trip to it.
        let mut tx = self.begin_write().await?;
        let last: i64 = sqlx::query(&self.sql(
            "INSERT INTO rooms (name, last_seq, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET last_seq = rooms.last_seq + excluded.last_seq \
             RETURNING last_seq",
        ))
        .bind(room)
        .bind(count)
        .bind(&first.at)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let insert = self.sql(&format!(
            "INSERT INTO messages (room, seq, sender, text, at, client_id, action, session_hash) \
             VALUES {}",
            value_rows(drafts.len(), 7, &[1])
        ));
        let first_seq = last - count + 1;
        let mut query = sqlx::query(&insert).bind(room);
        for (seq, draft) in (first_seq..).zip(&drafts) {
            query = query
                .bind(seq)
                .bind(&draft.from)
                .bind(&draft.text)
                .bind(&draft.at)
                .bind(draft.client_id.as_deref())
                .bind(i64::from(draft.action))
                .bind(draft.session_hash.as_deref());
        }
        query.execute(&mut *tx).await?;
        let stored = (first_seq..)
            .zip(drafts)
            .map(|(seq, draft)| {
                Ok(ChatMessage {
                    room: room.to_owned(),
                    seq: unsigned(seq)?,
                    from: draft.from,
                    text: draft.text,
                    at: draft.at,
                    client_id: draft.client_id,
                    action: draft.action,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        tx.commit().await?;
        Ok(stored)
    }

    /// The latest `limit` messages of `room` before seq `before` (all, if `None`), oldest first.
    pub async fn history(
        &self,
        room: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let before = before.map_or(i64::MAX, signed);
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE room = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        )))
        .bind(room)
        .bind(before)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let complete = rows.len() <= limit as usize;
        let mut messages = rows
            .iter()
            .take(limit as usize)
            .map(message)
            .collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(Page { messages, complete })
    }

    /// Up to `limit` messages of `room` after seq `after`, oldest first: what a client that saw
    /// `after` missed.
    pub async fn since(
        &self,
        room: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        )))
        .bind(room)
        .bind(signed(after))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message).collect()
    }

    /// The last `seq` of `room` (0 for a room without messages, or none at all).
    pub async fn room_head(&self, room: &str) -> Result<u64, StoreError> {
        let row = sqlx::query(&self.sql("SELECT last_seq FROM rooms WHERE name = $1"))
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => unsigned(row.try_get(0)?),
            None => Ok(0),
        }
    }

    /// The last `seq` of each of `rooms` that exists (a position check: one indexed read per room,
    /// not blocked by writers).
    pub async fn room_heads(&self, rooms: &[&str]) -> Result<Vec<(String, u64)>, StoreError> {
        let mut heads = Vec::with_capacity(rooms.len());
        for chunk in rooms.chunks(HEADS_CHUNK) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = self.sql(&format!(
                "SELECT name, last_seq FROM rooms WHERE name IN ({list})"
            ));
            let mut query = sqlx::query(&sql);
            for room in chunk {
                query = query.bind(*room);
            }
            for row in query.fetch_all(&self.pool).await? {
                heads.push((row.try_get(0)?, unsigned(row.try_get(1)?)?));
            }
        }
        Ok(heads)
    }
}

/// How many rooms one position-check statement names at most.
const HEADS_CHUNK: usize = 500;
