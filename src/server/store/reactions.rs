//! Reactions to room messages: who reacted with which emoji, now (`reactions`), and each one
//! added or taken back as a row of the room's log (kinds [`KIND_REACT`] and [`KIND_UNREACT`]), so
//! catch-up brings exactly those missed, as it does edits. A message carries its reactions in
//! history ([`fill`]); deleting a message deletes them (`messages::rewrite`).

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;

use super::log::{original, take_position};
use super::{signed, unsigned, Store, StoreError};
use crate::protocol::{Reaction, Stored};

/// A log row that adds the reaction `text` to the message `target`.
pub(super) const KIND_REACT: i64 = 3;
/// A log row that takes the reaction `text` back from the message `target`.
pub(super) const KIND_UNREACT: i64 = 4;

/// Reactions, as a view of the store.
#[derive(Clone, Copy)]
pub struct Reactions<'a>(pub(super) &'a Store);

/// A reaction someone asks for.
#[derive(Debug, Clone)]
pub struct ReactionDraft {
    pub by: String,
    pub person_id: i64,
    pub emoji: String,
    pub on: bool,
    pub at: String,
    /// How many different emoji a message may carry.
    pub max_distinct: usize,
}

/// What became of a reaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReactOutcome {
    /// Stored, with its place in the room's log.
    Stored(Reaction),
    /// It was so already (added twice, or taken back without being there): nothing changed.
    Unchanged,
    /// The room has no such message, or it was deleted.
    NotFound,
    /// The message carries as many different emoji as it may, and this is another.
    Full,
}

impl Reactions<'_> {
    /// Adds or takes back a reaction, in one transaction: the room's lock first (the reaction's
    /// place in the log), then the message, then the change and its log row.
    pub async fn react(
        self,
        room: &str,
        seq: u64,
        draft: ReactionDraft,
    ) -> Result<ReactOutcome, StoreError> {
        let store = self.0;
        let mut tx = store.begin_write().await?;
        let Some(position) = take_position(store, &mut tx, room).await? else {
            return Ok(ReactOutcome::NotFound);
        };
        match original(store, &mut tx, room, seq).await? {
            Some(original) if !original.deleted => {}
            _ => return Ok(ReactOutcome::NotFound),
        }
        let (mine, distinct) = current(store, &mut tx, room, seq, &draft).await?;
        if mine == draft.on {
            return Ok(ReactOutcome::Unchanged);
        }
        if draft.on && !distinct.contains(&draft.emoji) && distinct.len() >= draft.max_distinct {
            return Ok(ReactOutcome::Full);
        }
        let (statement, extra) = if draft.on {
            (
                "INSERT INTO reactions (room, seq, person_id, emoji, nick, at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                Some((&draft.by, &draft.at)),
            )
        } else {
            (
                "DELETE FROM reactions \
                 WHERE room = $1 AND seq = $2 AND person_id = $3 AND emoji = $4",
                None,
            )
        };
        let sql = store.sql(statement);
        let mut query = sqlx::query(&sql)
            .bind(room)
            .bind(signed(seq))
            .bind(draft.person_id)
            .bind(&draft.emoji);
        if let Some((by, at)) = extra {
            query = query.bind(by).bind(at);
        }
        query.execute(&mut *tx).await?;
        sqlx::query(&store.sql(
            "INSERT INTO messages (room, seq, sender, text, at, kind, target, person_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ))
        .bind(room)
        .bind(position)
        .bind(&draft.by)
        .bind(&draft.emoji)
        .bind(&draft.at)
        .bind(if draft.on { KIND_REACT } else { KIND_UNREACT })
        .bind(signed(seq))
        .bind(draft.person_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ReactOutcome::Stored(Reaction {
            room: room.to_owned(),
            seq,
            log_seq: unsigned(position)?,
            by: draft.by,
            emoji: draft.emoji,
            on: draft.on,
            at: draft.at,
            reply_to: None,
        }))
    }
}

/// Whether `draft`'s person has its emoji on message `seq` of `room` now, and which emoji the
/// message carries.
async fn current(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    room: &str,
    seq: u64,
    draft: &ReactionDraft,
) -> Result<(bool, std::collections::HashSet<String>), StoreError> {
    let rows = sqlx::query(
        &store.sql("SELECT emoji, person_id FROM reactions WHERE room = $1 AND seq = $2"),
    )
    .bind(room)
    .bind(signed(seq))
    .fetch_all(&mut **tx)
    .await?;
    let mut mine = false;
    let mut distinct = std::collections::HashSet::new();
    for row in &rows {
        let emoji: String = row.try_get("emoji")?;
        let person: i64 = row.try_get("person_id")?;
        if emoji == draft.emoji && person == draft.person_id {
            mine = true;
        }
        distinct.insert(emoji);
    }
    Ok((mine, distinct))
}

/// Fills in the reactions of the messages among `entries` (of `room`): each emoji with who
/// reacted, by their name now, in the order they reacted.
pub(super) async fn fill(
    store: &Store,
    room: &str,
    entries: &mut [Stored],
) -> Result<(), StoreError> {
    let seqs = entries.iter().filter_map(|e| e.message().map(|m| m.seq));
    let (Some(low), Some(high)) = (seqs.clone().min(), seqs.max()) else {
        return Ok(());
    };
    let rows = sqlx::query(&store.sql(
        "SELECT r.seq, r.emoji, COALESCE(p.nick, r.nick) AS nick FROM reactions r \
         LEFT JOIN people p ON p.id = r.person_id \
         WHERE r.room = $1 AND r.seq >= $2 AND r.seq <= $3 ORDER BY r.seq, r.at, r.person_id",
    ))
    .bind(room)
    .bind(signed(low))
    .bind(signed(high))
    .fetch_all(&store.pool)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut by_seq: HashMap<u64, BTreeMap<String, Vec<String>>> = HashMap::new();
    for row in &rows {
        let seq = unsigned(row.try_get("seq")?)?;
        by_seq
            .entry(seq)
            .or_default()
            .entry(row.try_get("emoji")?)
            .or_default()
            .push(row.try_get("nick")?);
    }
    for entry in entries {
        if let Stored::Message(message) = entry {
            if let Some(reactions) = by_seq.remove(&message.seq) {
                message.reactions = reactions;
            }
        }
    }
    Ok(())
}
