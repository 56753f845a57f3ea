//! Files' descriptions: who uploaded what, which message carries it, and so who may read it. The
//! bytes are in the file storage under `hash` (and `thumb`); rows share a hash when the same bytes
//! were uploaded twice, so an object is removed only when no row names it any more.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{signed, unsigned, Store, StoreError};

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

    /// Removes uploads made before `before` that no message carries; returns the objects no row
    /// names any more (for the caller to delete from the file storage).
    pub async fn sweep_unposted(self, before: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "DELETE FROM files WHERE created_at < $1 AND room IS NULL AND direct_id IS NULL \
             RETURNING hash, thumb",
        ))
        .bind(before)
        .fetch_all(&self.0.pool)
        .await?;
        self.unnamed_objects(&rows).await
    }

    /// Of the objects named in `rows` (`hash`, `thumb`), those no file or avatar names any more.
    pub(super) async fn unnamed_objects(self, rows: &[AnyRow]) -> Result<Vec<String>, StoreError> {
        let mut candidates = Vec::new();
        for row in rows {
            candidates.push(row.try_get::<String, _>("hash")?);
            if let Some(thumb) = row.try_get::<Option<String>, _>("thumb")? {
                candidates.push(thumb);
            }
        }
        candidates.sort();
        candidates.dedup();
        let mut unnamed = Vec::new();
        for hash in candidates {
            let named = sqlx::query(&self.0.sql(
                "SELECT 1 FROM files WHERE hash = $1 OR thumb = $1 \
                 UNION ALL SELECT 1 FROM people WHERE avatar = $1 LIMIT 1",
            ))
            .bind(&hash)
            .fetch_optional(&self.0.pool)
            .await?;
            if named.is_none() {
                unnamed.push(hash);
            }
        }
        Ok(unnamed)
    }
}
