//! A room's log, as the changes to it need it: the next position (taken under the room row's
//! lock, which orders every message, edit, delete and reaction of the room), and the message a
//! change names. Shared by [`super::messages`] (edits, deletes) and [`super::reactions`].

use sqlx::Row;

use super::{signed, Store, StoreError};

/// The message a change names, as `Messages::change` needs it to decide.
pub(super) struct Original {
    pub(super) author: Option<i64>,
    pub(super) deleted: bool,
    /// The author as shown (for the audit log of a moderator's delete).
    pub(super) sender: String,
}

/// Takes `room`'s next position (and with it the room row's write lock); `None` if there is no
/// such room.
pub(super) async fn take_position(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    room: &str,
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        &store.sql("UPDATE rooms SET last_seq = last_seq + 1 WHERE name = $1 RETURNING last_seq"),
    )
    .bind(room)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|row| row.try_get(0)).transpose()?)
}

/// The message `target` of `room` (not an edit or delete row), if there is one.
pub(super) async fn original(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    room: &str,
    target: u64,
) -> Result<Option<Original>, StoreError> {
    let Some(row) = sqlx::query(&store.sql(
        "SELECT person_id, deleted, sender FROM messages \
         WHERE room = $1 AND seq = $2 AND kind = 0",
    ))
    .bind(room)
    .bind(signed(target))
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(Original {
        author: row.try_get(0)?,
        deleted: row.try_get::<i64, _>(1)? != 0,
        sender: row.try_get(2)?,
    }))
}
