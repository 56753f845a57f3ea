//! The store: the authority on everything that outlives a connection. Room messages (committed here
//! before anyone is told about them), private messages, people and their sessions, nickname
//! claims, room memberships, read positions and credentials. A server's memory only caches it.
//!
//! One sqlx pool over either backend: embedded SQLite by default (a file in the data directory, WAL
//! mode, created on first start) or PostgreSQL when `DATABASE_URL` says `postgres://...`. The
//! schema lives in `migrations/sqlite` and `migrations/postgres` and is applied at start-up. Queries
//! are written once in PostgreSQL's placeholder style and rewritten for SQLite ([`Store::sql`]).
//!
//! [`Store`] is the handle: the pool, opening and closing it. Each concept is read and written
//! through a view that borrows it (`store.messages().append_batch(..)`), so no one type holds
//! every query:
//!
//! - [`messages`] ([`Messages`]): room messages and their edits and deletes; gap-free per-room
//!   `seq` in commit order (group commit).
//! - [`directs`] ([`Directs`]): private messages; ids from a counter row, so in commit order too.
//! - [`people`] ([`People`]): people, their sessions (by token hash), nickname claims, expiry.
//! - [`accounts`] ([`Accounts`]): passwords, passkeys, device links, invitations, the sign-in
//!   throttle, deleting a person.
//! - [`reactions`] ([`Reactions`]): reactions to room messages, now and in the log.
//! - [`reads`] ([`Reads`]): read positions.
//! - [`rooms`] ([`Rooms`]): rooms and memberships.
//! - [`search`] ([`Search`]): messages a person may read, by their words (FTS5 or a `tsvector`).
//! - [`moderation`] ([`Moderation`]): moderators, mutes and bans, the audit log, bots.

pub mod accounts;
pub mod directs;
pub mod files;
mod log;
pub mod messages;
pub mod moderation;
pub mod people;
pub mod push;
pub mod reactions;
pub mod reads;
pub mod rooms;
pub mod search;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};

pub use accounts::{Accounts, Deleted, StoredPasskey};
pub use directs::{
    DirectDraft, DirectEntry, DirectGate, DirectParties, DirectSend, Directs, Reacting,
    ReactionState, StoredDirect,
};
pub use files::{FileRecords, FileUsage, StoredFile};
pub use messages::{ChangeDraft, ChangeOutcome, Committed, Messages, NewMessage, Page};
pub use moderation::{
    AdminEvent, BotOutcome, Lifted, Moderation, Moderator, Sanction, SanctionDraft, SanctionKind,
    SanctionOutcome,
};
pub use people::{Claim, Device, DeviceSession, People, SavedPerson, SavedSession, SignOut};
pub use reactions::{ReactOutcome, ReactionDraft, Reactions};
pub use reads::{ReadPositions, Reads};
pub use rooms::{JoinOutcome, RoomCaps, RoomInfo, Rooms};
pub use search::{Found, Search, Searcher};

use crate::protocol::{Change, ChatMessage, DirectMessage, Stored};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a request waits for the store before it is answered `unavailable`.
pub const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the store keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// Embedded SQLite in this file, created if missing.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL server.
    Postgres(String),
}

/// A store failure: the cause is for the log, the client only learns that the store is unavailable.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("the store answered a batch with {got} rows for {sent}")]
    Mismatch { sent: usize, got: usize },
    #[error("a stored number is out of range: {0}")]
    OutOfRange(i64),
}

/// A store failure as a client hears it (`unavailable`); the cause goes to the log, once, here. So a
/// command or a form uses `?` on the store and never words this error itself.
impl From<StoreError> for crate::protocol::FrameError {
    fn from(err: StoreError) -> Self {
        tracing::error!(%err, "the store failed");
        crate::protocol::FrameError::new(
            crate::protocol::ErrorCode::Unavailable,
            "the server cannot reach its store right now; try again",
        )
    }
}

/// The shared store handle. Cheap to clone (the pool is reference-counted).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    postgres: bool,
}

impl Store {
    /// Opens (creating if needed) the store and applies pending migrations.
    pub async fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        Self::open_with(config, STORE_TIMEOUT).await
    }

    /// Opens the store for `chinwag admin`, which runs beside a busy server: it waits longer for
    /// the server's writes to let it in than a request does.
    pub async fn open_patiently(config: &StoreConfig) -> Result<Self, StoreError> {
        Self::open_with(config, std::time::Duration::from_secs(30)).await
    }

    /// Opens the store; a query waits at most `patience` for a connection or SQLite's write lock.
    async fn open_with(
        config: &StoreConfig,
        patience: std::time::Duration,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, postgres) = match config {
            StoreConfig::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                (format!("sqlite://{}?mode=rwc", path.display()), false)
            }
            StoreConfig::Postgres(url) => (url.clone(), true),
        };
        let pool = AnyPoolOptions::new()
            // SQLite has one writer at a time anyway; a few connections serve the readers.
            .max_connections(if postgres { 16 } else { 4 })
            // A store that cannot lend a connection within this is unavailable (the client is
            // told `unavailable` within it), as SQLite's `busy_timeout` below is for a write.
            .acquire_timeout(patience)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if !postgres {
                        // In WAL mode NORMAL keeps every commit across a killed process (only a
                        // power cut can lose the last ones) without an fsync per message. Writers
                        // wait for each other instead of failing.
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query(&format!("PRAGMA busy_timeout = {}", patience.as_millis()))
                            .execute(&mut *conn)
                            .await?;
                        // 1 MiB of page cache per connection (SQLite's default is 2): the
                        // operating system caches the file too, and the server's memory is
                        // better spent on connections.
                        sqlx::query("PRAGMA cache_size = -1024")
                            .execute(&mut *conn)
                            .await?;
                        // A deleted message's words are overwritten on disk, not merely unlinked
                        // (its page is rewritten anyway, so the cost is small).
                        sqlx::query("PRAGMA secure_delete = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        if postgres {
            POSTGRES_MIGRATIONS.run(&pool).await?;
        } else {
            // WAL: readers never block the writer, and a commit survives a killed process.
            // Only when it is not already: changing the mode takes the database's exclusive
            // lock, which a running server's writes would make wait.
            let mode: String = sqlx::query("PRAGMA journal_mode")
                .fetch_one(&pool)
                .await?
                .try_get(0)?;
            if !mode.eq_ignore_ascii_case("wal") {
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&pool)
                    .await?;
            }
            SQLITE_MIGRATIONS.run(&pool).await?;
        }
        Ok(Self { pool, postgres })
    }

    /// Whether this store is PostgreSQL (several servers may share it).
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Whether the store answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for in-flight queries (a clean SQLite checkpoint on shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A transaction that will write. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads and then writes fails at once with
    /// SQLITE_BUSY, without waiting (`busy_timeout` does not apply), when another connection wrote
    /// in between, so a room join could be answered `unavailable` while the store was fine.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        if self.postgres {
            self.pool.begin().await
        } else {
            self.pool.begin_with("BEGIN IMMEDIATE").await
        }
    }

    // The views are `Copy` and their methods take `self`: a query's future then holds the store,
    // not a borrowed temporary view, so `tokio::try_join!` over several queries and the hub's
    // boxed `Log` futures need no `let` for the view first.
    pub fn messages(&self) -> Messages<'_> {
        Messages(self)
    }

    pub fn directs(&self) -> Directs<'_> {
        Directs(self)
    }

    pub fn people(&self) -> People<'_> {
        People(self)
    }

    pub fn accounts(&self) -> Accounts<'_> {
        Accounts(self)
    }

    pub fn files(&self) -> FileRecords<'_> {
        FileRecords(self)
    }

    pub fn reads(&self) -> Reads<'_> {
        Reads(self)
    }

    pub fn rooms(&self) -> Rooms<'_> {
        Rooms(self)
    }

    pub fn push(&self) -> push::Push<'_> {
        push::Push(self)
    }

    pub fn reactions(&self) -> Reactions<'_> {
        Reactions(self)
    }

    pub fn search(&self) -> Search<'_> {
        Search(self)
    }

    pub fn moderation(&self) -> Moderation<'_> {
        Moderation(self)
    }

    /// The query in this backend's placeholder style: PostgreSQL's `$1` as written, SQLite's `?1`.
    fn sql(&self, query: &str) -> String {
        if self.postgres {
            query.to_owned()
        } else {
            query.replace('$', "?")
        }
    }
}

/// A stored (non-negative) number as the protocol's `u64`.
fn unsigned(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::OutOfRange(n))
}

/// A protocol number as the store's `BIGINT` (saturating: such numbers are bounds in queries).
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The columns a room message is read back with.
const MESSAGE_COLUMNS: &str = "room, seq, sender, text, at, client_id, action, kind, target, \
     edited, deleted, mentions, reply_seq, reply_from, reply_text";

/// Names as the `mentions` column keeps them: one per line, `NULL` for none.
fn mentions_column(names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| names.join("\n"))
}

fn mentions_of(row: &AnyRow) -> Result<Vec<String>, StoreError> {
    let column: Option<String> = row.try_get("mentions")?;
    Ok(column
        .map(|names| names.lines().map(str::to_owned).collect())
        .unwrap_or_default())
}

/// The columns a private message is read back with.
const DIRECT_COLUMNS: &str = "id, sender, recipient, text, at, client_id, action, reply_id, \
     reply_from, reply_text, kind, target";

fn message(row: &AnyRow) -> Result<ChatMessage, StoreError> {
    let flag =
        |column: &str| -> Result<bool, StoreError> { Ok(row.try_get::<i64, _>(column)? != 0) };
    Ok(ChatMessage {
        room: row.try_get("room")?,
        seq: unsigned(row.try_get("seq")?)?,
        from: row.try_get("sender")?,
        text: row.try_get("text")?,
        at: row.try_get("at")?,
        client_id: row.try_get("client_id")?,
        action: flag("action")?,
        edited: flag("edited")?,
        deleted: flag("deleted")?,
        mentions: mentions_of(row)?,
        files: Vec::new(),
        reply_to: quote_of(row)?.map(Box::new),
        reactions: Default::default(),
    })
}

/// The quote a reply keeps of what it answers; a `NULL` text once that was deleted.
fn quote_of(row: &AnyRow) -> Result<Option<crate::protocol::Quote>, StoreError> {
    let Some(seq) = row.try_get::<Option<i64>, _>("reply_seq")? else {
        return Ok(None);
    };
    let text: Option<String> = row.try_get("reply_text")?;
    Ok(Some(crate::protocol::Quote {
        seq: unsigned(seq)?,
        id: None,
        from: row
            .try_get::<Option<String>, _>("reply_from")?
            .unwrap_or_default(),
        deleted: text.is_none(),
        text: text.unwrap_or_default(),
    }))
}

/// A row of a room's log: a message, or a change to one ([`messages::KIND_EDIT`],
/// [`messages::KIND_DELETE`]).
fn entry(row: &AnyRow) -> Result<Stored, StoreError> {
    let kind: i64 = row.try_get("kind")?;
    if kind == messages::KIND_MESSAGE {
        return message(row).map(Stored::Message);
    }
    let target: Option<i64> = row.try_get("target")?;
    let text: String = row.try_get("text")?;
    if kind == reactions::KIND_REACT || kind == reactions::KIND_UNREACT {
        return Ok(Stored::Reacted(crate::protocol::Reaction {
            room: row.try_get("room")?,
            seq: unsigned(target.unwrap_or_default())?,
            log_seq: unsigned(row.try_get("seq")?)?,
            by: row.try_get("sender")?,
            emoji: text,
            on: kind == reactions::KIND_REACT,
            at: row.try_get("at")?,
            reply_to: None,
        }));
    }
    let change = Change {
        room: row.try_get("room")?,
        seq: unsigned(target.unwrap_or_default())?,
        log_seq: unsigned(row.try_get("seq")?)?,
        by: row.try_get("sender")?,
        at: row.try_get("at")?,
        text: (kind == messages::KIND_EDIT).then_some(text),
        mentions: mentions_of(row)?,
        reply_to: None,
    };
    Ok(match kind {
        messages::KIND_EDIT => Stored::Edited(change),
        messages::KIND_DELETE => Stored::Deleted(change),
        _ => Stored::Unknown,
    })
}

/// A row of `direct_messages`: a private message, or a reaction to one.
fn direct_entry(row: &AnyRow) -> Result<directs::DirectEntry, StoreError> {
    let kind: i64 = row.try_get("kind")?;
    if kind != directs::KIND_REACT && kind != directs::KIND_UNREACT {
        return direct(row).map(directs::DirectEntry::Message);
    }
    let target: Option<i64> = row.try_get("target")?;
    Ok(directs::DirectEntry::Reacted(
        crate::protocol::DirectReaction {
            id: unsigned(target.unwrap_or_default())?,
            log_id: unsigned(row.try_get("id")?)?,
            by: row.try_get("sender")?,
            to: row.try_get("recipient")?,
            emoji: row.try_get("text")?,
            on: kind == directs::KIND_REACT,
            at: row.try_get("at")?,
            reply_to: None,
        },
    ))
}

fn direct(row: &AnyRow) -> Result<DirectMessage, StoreError> {
    let action: i64 = row.try_get("action")?;
    Ok(DirectMessage {
        id: unsigned(row.try_get("id")?)?,
        from: row.try_get("sender")?,
        to: row.try_get("recipient")?,
        text: row.try_get("text")?,
        at: row.try_get("at")?,
        client_id: row.try_get("client_id")?,
        action: action != 0,
        files: Vec::new(),
        reply_to: direct_quote_of(row)?.map(Box::new),
        reactions: Default::default(),
    })
}

/// The quote a private reply keeps of what it answers (a `NULL` text: it was not there).
fn direct_quote_of(row: &AnyRow) -> Result<Option<crate::protocol::Quote>, StoreError> {
    let Some(id) = row.try_get::<Option<i64>, _>("reply_id")? else {
        return Ok(None);
    };
    let text: Option<String> = row.try_get("reply_text")?;
    Ok(Some(crate::protocol::Quote {
        seq: 0,
        id: Some(unsigned(id)?),
        from: row
            .try_get::<Option<String>, _>("reply_from")?
            .unwrap_or_default(),
        deleted: text.is_none(),
        text: text.unwrap_or_default(),
    }))
}

/// The placeholders of a multi-row insert: `($first, $first+1, ...), (...)`, `rows` rows of `width`
/// parameters each, after `shared` leading parameters that every row repeats (e.g. `$1` the room).
fn value_rows(rows: usize, width: usize, shared: &[usize]) -> String {
    let mut sql = String::new();
    let mut next = shared.len() + 1;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        let mut first = true;
        for s in shared {
            if !first {
                sql.push_str(", ");
            }
            first = false;
            sql.push_str(&format!("${s}"));
        }
        for _ in 0..width {
            if !first {
                sql.push_str(", ");
            }
            first = false;
            sql.push_str(&format!("${next}"));
            next += 1;
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_rows_number_the_placeholders() {
        assert_eq!(super::value_rows(2, 2, &[1]), "($1, $2, $3), ($1, $4, $5)");
        assert_eq!(super::value_rows(1, 3, &[]), "($1, $2, $3)");
    }
}
