//! Files' descriptions: who uploaded what, which message carries it, and so who may read it. The
//! bytes are in the file storage under `hash` (and `thumb`); rows share a hash when the same bytes
//! were uploaded twice, so an object is removed only when no row names it any more.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{signed, unsigned, Store, StoreError};
use crate::protocol::{DirectMessage, FileInfo, Stored};

/// An upload as described in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub id: String,
    pub person: i64,
    pub hash: String,
    pub name: String,
    pub size: u64,
    pub mime: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub thumb: Option<String>,
    pub thumb_mime: Option<String>,
    pub created_at: String,
}

const FILE_COLUMNS: &str =
    "id, person_id, hash, name, size, type, width, height, thumb, thumb_type, created_at";

fn file_of(row: &AnyRow) -> Result<StoredFile, StoreError> {
    let dimension = |column: &str| -> Result<Option<u32>, StoreError> {
        let n: Option<i64> = row.try_get(column)?;
        n.map(|n| u32::try_from(n).map_err(|_| StoreError::OutOfRange(n)))
            .transpose()
    };
    Ok(StoredFile {
        id: row.try_get("id")?,
        person: row.try_get("person_id")?,
        hash: row.try_get("hash")?,
        name: row.try_get("name")?,
        size: unsigned(row.try_get("size")?)?,
        mime: row.try_get("type")?,
        width: dimension("width")?,
        height: dimension("height")?,
        thumb: row.try_get("thumb")?,
        thumb_mime: row.try_get("thumb_type")?,
        created_at: row.try_get("created_at")?,
    })
}

impl StoredFile {
    /// The file as clients see it: the upload's answer, and each of a message's `files`.
    pub fn info(&self) -> FileInfo {
        let encoded: String = url::form_urlencoded::byte_serialize(self.name.as_bytes()).collect();
        FileInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            size: self.size,
            mime: self.mime.clone(),
            url: format!("/files/{}/{}", self.id, encoded.replace('+', "%20")),
            width: self.width,
            height: self.height,
            thumb: self.thumb.as_ref().map(|_| format!("/thumbs/{}", self.id)),
        }
    }
}

/// What a file is attached to.
#[derive(Debug, Clone, Copy)]
pub enum Attach<'a> {
    Room(&'a str, i64),
    Direct(i64),
}

/// Attaches `files` (uploads of `person` that no message carries yet) to a message, inside the
/// transaction that stores it; returns those attached. One another message took in between (two
/// messages posting one upload at once) is left out of this one.
pub(super) async fn attach(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    to: Attach<'_>,
    person: Option<i64>,
    files: &[FileInfo],
) -> Result<Vec<FileInfo>, StoreError> {
    let mut attached = Vec::with_capacity(files.len());
    let Some(person) = person else {
        return Ok(attached);
    };
    for (position, file) in files.iter().enumerate() {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        let done = match to {
            Attach::Room(room, seq) => {
                sqlx::query(&store.sql(
                    "UPDATE files SET room = $1, seq = $2, position = $3 WHERE id = $4 \
                     AND person_id = $5 AND room IS NULL AND direct_id IS NULL",
                ))
                .bind(room)
                .bind(seq)
                .bind(position)
                .bind(&file.id)
                .bind(person)
                .execute(&mut **tx)
                .await?
            }
            Attach::Direct(id) => {
                sqlx::query(&store.sql(
                    "UPDATE files SET direct_id = $1, position = $2 WHERE id = $3 \
                     AND person_id = $4 AND room IS NULL AND direct_id IS NULL",
                ))
                .bind(id)
                .bind(position)
                .bind(&file.id)
                .bind(person)
                .execute(&mut **tx)
                .await?
            }
        };
        if done.rows_affected() == 1 {
            attached.push(file.clone());
        }
    }
    Ok(attached)
}

/// Removes the files of a deleted message inside its transaction, and queues their objects for
/// the collector (which deletes those no other row names).
pub(super) async fn unlink(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    of: Attach<'_>,
) -> Result<(), StoreError> {
    match of {
        Attach::Room(room, seq) => {
            let binds = [Bound::Text(room), Bound::Int(seq)];
            unlink_where(store, tx, "room = $1 AND seq = $2", &binds).await?;
        }
        Attach::Direct(id) => {
            unlink_where(store, tx, "direct_id = $1", &[Bound::Int(id)]).await?;
        }
    }
    Ok(())
}

/// Removes the files rows `which` selects (with `binds` for its parameters) inside `tx`, queueing
/// the objects they name (bytes and thumbnails) for the collector: every way files go (a deleted
/// message, an account, the sweep of unposted uploads) goes through here. Returns how many rows
/// went.
pub(super) async fn unlink_where(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    which: &str,
    binds: &[Bound<'_>],
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for statement in [
        format!(
            // In parentheses: `which` may hold an OR.
            "INSERT INTO unlinked_objects (hash) SELECT hash FROM files WHERE ({which}) \
             UNION SELECT thumb FROM files WHERE ({which}) AND thumb IS NOT NULL \
             ON CONFLICT DO NOTHING"
        ),
        format!("DELETE FROM files WHERE ({which})"),
    ] {
        let sql = store.sql(&statement);
        let mut query = sqlx::query(&sql);
        for bound in binds {
            query = match bound {
                Bound::Text(text) => query.bind(*text),
                Bound::Int(n) => query.bind(*n),
            };
        }
        removed = query.execute(&mut **tx).await?.rows_affected();
    }
    // The last statement is the delete.
    Ok(removed)
}

/// A parameter of [`unlink_where`]'s condition.
pub(super) enum Bound<'a> {
    Text(&'a str),
    Int(i64),
}

/// How many bytes of files are kept: by one person, and in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileUsage {
    pub person: u64,
    pub total: u64,
}

/// The store's view of uploaded files.
#[derive(Debug, Clone, Copy)]
pub struct FileRecords<'a>(pub(super) &'a Store);

impl FileRecords<'_> {
    /// Describes a new upload (not yet on any message).
    pub async fn add(self, file: &StoredFile) -> Result<(), StoreError> {
        sqlx::query(&self.0.sql(
            "INSERT INTO files (id, person_id, hash, name, size, type, width, height, thumb, \
             thumb_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        ))
        .bind(&file.id)
        .bind(file.person)
        .bind(&file.hash)
        .bind(&file.name)
        .bind(signed(file.size))
        .bind(&file.mime)
        .bind(file.width.map(i64::from))
        .bind(file.height.map(i64::from))
        .bind(&file.thumb)
        .bind(&file.thumb_mime)
        .bind(&file.created_at)
        .execute(&self.0.pool)
        .await?;
        Ok(())
    }

    /// Bytes kept for person `id`, and for everyone (each stored object counted once).
    pub async fn usage(self, id: i64) -> Result<FileUsage, StoreError> {
        let row = sqlx::query(&self.0.sql(
            // PostgreSQL's SUM of BIGINT is NUMERIC, which the Any driver cannot read: cast.
            "SELECT \
             CAST((SELECT COALESCE(SUM(size), 0) FROM files WHERE person_id = $1) AS BIGINT) \
               AS person, \
             CAST((SELECT COALESCE(SUM(size), 0) FROM \
                (SELECT MAX(size) AS size FROM files GROUP BY hash) AS kept) AS BIGINT) AS total",
        ))
        .bind(id)
        .fetch_one(&self.0.pool)
        .await?;
        Ok(FileUsage {
            person: unsigned(row.try_get("person")?)?,
            total: unsigned(row.try_get("total")?)?,
        })
    }

    /// File `file` if person `reader` may read it: its uploader; a member of the room whose
    /// message carries it (everyone is in general); a party of the private message that carries
    /// it. `None` otherwise, exactly as for a file that does not exist.
    pub async fn readable(self, file: &str, reader: i64) -> Result<Option<StoredFile>, StoreError> {
        let row = sqlx::query(&self.0.sql(&format!(
            "SELECT {FILE_COLUMNS} FROM files f WHERE f.id = $1 AND ( \
               f.person_id = $2 \
               OR (f.room IS NOT NULL AND (f.room = 'general' OR EXISTS ( \
                   SELECT 1 FROM memberships m WHERE m.person_id = $2 AND m.room = f.room))) \
               OR (f.direct_id IS NOT NULL AND EXISTS ( \
                   SELECT 1 FROM direct_messages d WHERE d.id = f.direct_id \
                   AND (d.from_person = $2 OR d.to_person = $2))))"
        )))
        .bind(file)
        .bind(reader)
        .fetch_optional(&self.0.pool)
        .await?;
        row.as_ref().map(file_of).transpose()
    }

    /// Of `ids`, person `person`'s uploads that no message carries yet, described, in the order
    /// given (the caller refuses the message when one is missing).
    pub async fn postable(self, person: i64, ids: &[String]) -> Result<Vec<FileInfo>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let row = sqlx::query(&self.0.sql(&format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND person_id = $2 \
                 AND room IS NULL AND direct_id IS NULL"
            )))
            .bind(id)
            .bind(person)
            .fetch_optional(&self.0.pool)
            .await?;
            if let Some(row) = row {
                found.push(file_of(&row)?.info());
            }
        }
        Ok(found)
    }

    /// Fills in the files of `entries`' messages, all of `room` (one query per page).
    pub async fn fill_room(self, room: &str, entries: &mut [Stored]) -> Result<(), StoreError> {
        let seqs = entries.iter().filter_map(|e| e.message().map(|m| m.seq));
        let (Some(low), Some(high)) = (seqs.clone().min(), seqs.max()) else {
            return Ok(());
        };
        let rows = sqlx::query(&self.0.sql(&format!(
            "SELECT {FILE_COLUMNS}, seq FROM files WHERE room = $1 AND seq >= $2 AND seq <= $3 \
             ORDER BY seq, position"
        )))
        .bind(room)
        .bind(signed(low))
        .bind(signed(high))
        .fetch_all(&self.0.pool)
        .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut by_seq: HashMap<u64, Vec<FileInfo>> = HashMap::new();
        for row in &rows {
            let seq = unsigned(row.try_get("seq")?)?;
            by_seq.entry(seq).or_default().push(file_of(row)?.info());
        }
        for entry in entries {
            if let Stored::Message(message) = entry {
                if let Some(files) = by_seq.remove(&message.seq) {
                    message.files = files;
                }
            }
        }
        Ok(())
    }

    /// Fills in the files of private messages `directs`.
    pub async fn fill_directs(self, directs: &mut [DirectMessage]) -> Result<(), StoreError> {
        if directs.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (1..=directs.len()).map(|i| format!("${i}")).collect();
        let sql = self.0.sql(&format!(
            "SELECT {FILE_COLUMNS}, direct_id FROM files WHERE direct_id IN ({}) \
             ORDER BY direct_id, position",
            placeholders.join(", ")
        ));
        let mut query = sqlx::query(&sql);
        for direct in directs.iter() {
            query = query.bind(signed(direct.id));
        }
        let rows = query.fetch_all(&self.0.pool).await?;
        let mut by_id: HashMap<u64, Vec<FileInfo>> = HashMap::new();
        for row in &rows {
            let id = unsigned(row.try_get("direct_id")?)?;
            by_id.entry(id).or_default().push(file_of(row)?.info());
        }
        for direct in directs {
            if let Some(files) = by_id.remove(&direct.id) {
                direct.files = files;
            }
        }
        Ok(())
    }

    /// Removes uploads made before `before` that no message carries, queueing their objects for
    /// the collector; returns how many.
    pub async fn sweep_unposted(self, before: &str) -> Result<u64, StoreError> {
        let which = "created_at < $1 AND room IS NULL AND direct_id IS NULL";
        let mut tx = self.0.begin_write().await?;
        let swept = unlink_where(self.0, &mut tx, which, &[Bound::Text(before)]).await?;
        tx.commit().await?;
        Ok(swept)
    }

    /// Up to `limit` queued objects that no file or avatar names (those named again are taken
    /// off the queue): the collector deletes them, then [`FileRecords::forget_unlinked`]s them.
    pub async fn unlinked(self, limit: u32) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT hash, EXISTS (SELECT 1 FROM files f WHERE f.hash = u.hash OR f.thumb = u.hash) \
             OR EXISTS (SELECT 1 FROM people p WHERE p.avatar = u.hash) AS named \
             FROM unlinked_objects u LIMIT $1",
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.0.pool)
        .await?;
        let mut unnamed = Vec::new();
        let mut named = Vec::new();
        for row in &rows {
            let hash: String = row.try_get("hash")?;
            // SQLite answers EXISTS with an integer, PostgreSQL with a boolean.
            let is_named = row
                .try_get::<bool, _>("named")
                .or_else(|_| row.try_get::<i64, _>("named").map(|n| n != 0))?;
            if is_named {
                named.push(hash);
            } else {
                unnamed.push(hash);
            }
        }
        self.forget_unlinked(&named).await?;
        Ok(unnamed)
    }

    /// The person who goes by the name key `nick_key` (as [`super::People::person_named`] finds
    /// them): their name and their picture's object, if they set one.
    pub async fn avatar_named(
        self,
        nick_key: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let row = sqlx::query(&self.0.sql(&format!(
            "SELECT s.nick, s.avatar {}",
            super::people::PERSON_NAMED
        )))
        .bind(nick_key)
        .fetch_optional(&self.0.pool)
        .await?;
        row.map(|row| Ok((row.try_get("nick")?, row.try_get("avatar")?)))
            .transpose()
    }

    /// Sets (or with `None` removes) person `id`'s picture; the one it replaces is queued for the
    /// collector in the same transaction. Returns whether the person exists.
    pub async fn set_avatar(self, id: i64, hash: Option<&str>) -> Result<bool, StoreError> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(&self.0.sql(
            "INSERT INTO unlinked_objects (hash) \
             SELECT avatar FROM people WHERE id = $1 AND avatar IS NOT NULL \
             ON CONFLICT DO NOTHING",
        ))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let changed = sqlx::query(&self.0.sql("UPDATE people SET avatar = $2 WHERE id = $1"))
            .bind(id)
            .bind(hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// Takes `hashes` off the collector's queue.
    pub async fn forget_unlinked(self, hashes: &[String]) -> Result<(), StoreError> {
        for hash in hashes {
            sqlx::query(&self.0.sql("DELETE FROM unlinked_objects WHERE hash = $1"))
                .bind(hash)
                .execute(&self.0.pool)
                .await?;
        }
        Ok(())
    }
}
