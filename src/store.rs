//! The message store: every room message is committed here before anyone is told about it.
//!
//! One sqlx pool over either backend: embedded SQLite by default (a file in the data directory, WAL
//! mode, created on first start) or PostgreSQL when `DATABASE_URL` says `postgres://...`. The schema
//! lives in `migrations/sqlite` and `migrations/postgres` and is applied at start-up.
//!
//! # Sequence numbers
//! [`Store::append_batch`] bumps the room's `last_seq` by the number of messages and inserts them in
//! one transaction (group commit: the hub hands it everything that queued up for a room while the
//! previous commit ran). The
//! bump takes the room row's write lock (a row lock in PostgreSQL, the database write lock in
//! SQLite), so concurrent writers are ordered: seqs within a room are gap-free and in commit order, and
//! a reader who saw seq N never later discovers a missing N−1.
//!
//! # Sessions, rooms and private messages
//! Sessions are kept by their token's hash, with the rooms they joined (memberships), so a browser
//! keeps its name and rooms across restarts. Private messages are stored with both parties' session
//! hashes and read back only for one of them ([`Store::directs`]).

use std::path::Path;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};

use crate::protocol::{ChatMessage, DirectMessage};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Where the store keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// Embedded SQLite in this file, created if missing.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL server.
    Postgres(String),
}

impl StoreConfig {
    /// From the environment: `DATABASE_URL=postgres://...` selects PostgreSQL; otherwise SQLite in
    /// `CHINWAG_DATA_DIR` (default `./data`).
    pub fn from_env() -> Self {
        match std::env::var("DATABASE_URL") {
            Ok(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                StoreConfig::Postgres(url)
            }
            _ => {
                let dir = std::env::var("CHINWAG_DATA_DIR").unwrap_or_else(|_| "data".to_owned());
                StoreConfig::Sqlite(Path::new(&dir).join("chinwag.db"))
            }
        }
    }
}

/// A store failure: the cause is for the log, the client only learns that storing failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("the store returned nothing for a stored message")]
    Empty,
}

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

/// The shared store handle. Cheap to clone (the pool is reference-counted).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    postgres: bool,
}

/// A session as saved: its token's hash, nickname and the rooms it joined (`general` implied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSession {
    pub token_hash: String,
    pub nick: String,
    pub rooms: Vec<String>,
}

/// A private message about to be stored: who sends it to whom, by session and by name.
#[derive(Debug, Clone)]
pub struct DirectDraft<'a> {
    pub from_session: &'a str,
    pub to_session: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub text: &'a str,
    pub at: &'a str,
    pub client_id: Option<&'a str>,
    pub action: bool,
}

const DIRECT_COLUMNS: &str = "id, sender, recipient, text, at, client_id, action";

/// One page of a room's history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub messages: Vec<ChatMessage>,
    /// Whether the page reaches back to the room's first message.
    pub complete: bool,
}

impl Store {
    /// Opens (creating if needed) the store and applies pending migrations.
    pub async fn open(config: &StoreConfig) -> Result<Self, StoreError> {
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
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if !postgres {
                        // In WAL mode NORMAL keeps every commit across a killed process (only a
                        // power cut can lose the last ones) without an fsync per message. Writers
                        // wait for each other instead of failing.
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
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
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            SQLITE_MIGRATIONS.run(&pool).await?;
        }
        Ok(Self { pool, postgres })
    }

    /// Whether the store answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The message a session already stored in `room` under `client_id`, if any: a retry (even one
    /// made after a server restart) is answered with it instead of being stored again.
    pub async fn sent_before(
        &self,
        room: &str,
        session_hash: &str,
        client_id: &str,
    ) -> Result<Option<ChatMessage>, StoreError> {
        let row = sqlx::query(&self.sql(
            "SELECT room, seq, sender, text, at, client_id, action FROM messages \
             WHERE room = $1 AND session_hash = $2 AND client_id = $3",
        ))
        .bind(room)
        .bind(session_hash)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(message).transpose()?)
    }

    /// Commits a message to its room and returns it with its `seq`. `session_hash` names the sending
    /// session; with a `client_id`, the pair is unique per room (a second insert fails).
    #[allow(clippy::too_many_arguments)]
    pub async fn append(
        &self,
        room: &str,
        from: &str,
        text: &str,
        at: &str,
        client_id: Option<&str>,
        action: bool,
        session_hash: Option<&str>,
    ) -> Result<ChatMessage, StoreError> {
        let draft = NewMessage {
            from: from.to_owned(),
            text: text.to_owned(),
            at: at.to_owned(),
            client_id: client_id.map(str::to_owned),
            action,
            session_hash: session_hash.map(str::to_owned),
        };
        let mut stored = self.append_batch(room, vec![draft]).await?;
        stored.pop().ok_or(StoreError::Empty)
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
        // Two statements whatever the batch size: SQLite runs on a worker thread of its own, so every
        // statement is a round trip to it, and a statement per message made storage the largest cost
        // of a busy room (issue 6's profile).
        let mut tx = self.pool.begin().await?;
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
        let mut insert = String::from(
            "INSERT INTO messages (room, seq, sender, text, at, client_id, action, session_hash) VALUES ",
        );
        for row in 0..drafts.len() {
            // `$1` is the room, shared by every row; then seven parameters per row.
            let base = 2 + row * 7;
            if row > 0 {
                insert.push_str(", ");
            }
            insert.push_str("($1");
            for column in base..base + 7 {
                insert.push_str(&format!(", ${column}"));
            }
            insert.push(')');
        }
        let insert = self.sql(&insert);
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
            .map(|(seq, draft)| ChatMessage {
                room: room.to_owned(),
                seq: u64::try_from(seq).unwrap_or_default(),
                from: draft.from,
                text: draft.text,
                at: draft.at,
                client_id: draft.client_id,
                action: draft.action,
            })
            .collect::<Vec<_>>();
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
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let rows = sqlx::query(&self.sql(
            "SELECT room, seq, sender, text, at, client_id, action FROM messages \
             WHERE room = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
        ))
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
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = sqlx::query(&self.sql(
            "SELECT room, seq, sender, text, at, client_id, action FROM messages \
             WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        ))
        .bind(room)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(message).collect::<Result<Vec<_>, _>>()?)
    }

    /// Records a new session (by its token's hash) and its nickname.
    pub async fn save_session(
        &self,
        token_hash: &str,
        nick: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(&self.sql(
            "INSERT INTO sessions (token_hash, nick, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (token_hash) DO UPDATE SET nick = excluded.nick",
        ))
        .bind(token_hash)
        .bind(nick)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every stored session with its rooms.
    pub async fn sessions(&self) -> Result<Vec<SavedSession>, StoreError> {
        let rows = sqlx::query("SELECT token_hash, nick FROM sessions")
            .fetch_all(&self.pool)
            .await?;
        let mut saved = rows
            .iter()
            .map(|row| {
                Ok(SavedSession {
                    token_hash: row.try_get("token_hash")?,
                    nick: row.try_get("nick")?,
                    rooms: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let mut rooms: std::collections::HashMap<String, Vec<String>> = Default::default();
        let rows = sqlx::query("SELECT session_hash, room FROM memberships ORDER BY room")
            .fetch_all(&self.pool)
            .await?;
        for row in &rows {
            let hash: String = row.try_get("session_hash")?;
            rooms.entry(hash).or_default().push(row.try_get("room")?);
        }
        for session in &mut saved {
            session.rooms = rooms.remove(&session.token_hash).unwrap_or_default();
        }
        Ok(saved)
    }

    /// Records that a session joined `room`, creating the room if it is new.
    pub async fn join(&self, session_hash: &str, room: &str, at: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&self.sql(
            "INSERT INTO rooms (name, last_seq, created_at) VALUES ($1, 0, $2) \
             ON CONFLICT (name) DO NOTHING",
        ))
        .bind(room)
        .bind(at)
        .execute(&mut *tx)
        .await?;
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
        Ok(())
    }

    /// Records that a session left `room`.
    pub async fn leave(&self, session_hash: &str, room: &str) -> Result<(), StoreError> {
        sqlx::query(&self.sql("DELETE FROM memberships WHERE session_hash = $1 AND room = $2"))
            .bind(session_hash)
            .bind(room)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Commits a private message and returns it with its `id`. With a `client_id`, the pair
    /// (sending session, client_id) is unique: a second insert fails.
    pub async fn append_direct(&self, dm: DirectDraft<'_>) -> Result<DirectMessage, StoreError> {
        let id: i64 = sqlx::query(&self.sql(
            "INSERT INTO direct_messages \
             (from_session, to_session, sender, recipient, text, at, client_id, action) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        ))
        .bind(dm.from_session)
        .bind(dm.to_session)
        .bind(dm.from)
        .bind(dm.to)
        .bind(dm.text)
        .bind(dm.at)
        .bind(dm.client_id)
        .bind(i64::from(dm.action))
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(DirectMessage {
            id: u64::try_from(id).unwrap_or_default(),
            from: dm.from.to_owned(),
            to: dm.to.to_owned(),
            text: dm.text.to_owned(),
            at: dm.at.to_owned(),
            client_id: dm.client_id.map(str::to_owned),
            action: dm.action,
        })
    }

    /// The private message a session already stored under `client_id`, if any.
    pub async fn direct_sent_before(
        &self,
        session_hash: &str,
        client_id: &str,
    ) -> Result<Option<DirectMessage>, StoreError> {
        let row = sqlx::query(&self.sql(&format!(
            "SELECT {DIRECT_COLUMNS} FROM direct_messages \
             WHERE from_session = $1 AND client_id = $2"
        )))
        .bind(session_hash)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(direct).transpose()?)
    }

    /// A session's private messages (sent or received), oldest first: up to `limit` after id
    /// `after`, or the latest `limit` if `after` is `None`. Nobody else's are ever read.
    pub async fn directs(
        &self,
        session_hash: &str,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<DirectMessage>, StoreError> {
        let parties = "(from_session = $1 OR to_session = $1)";
        let query = match after {
            Some(_) => format!(
                "SELECT {DIRECT_COLUMNS} FROM direct_messages \
                 WHERE {parties} AND id > $2 ORDER BY id LIMIT $3"
            ),
            None => format!(
                "SELECT {DIRECT_COLUMNS} FROM direct_messages \
                 WHERE {parties} AND id > $2 ORDER BY id DESC LIMIT $3"
            ),
        };
        let after = after.map_or(0, |a| i64::try_from(a).unwrap_or(i64::MAX));
        let rows = sqlx::query(&self.sql(&query))
            .bind(session_hash)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let mut messages = rows.iter().map(direct).collect::<Result<Vec<_>, _>>()?;
        messages.sort_by_key(|m| m.id);
        Ok(messages)
    }

    /// Closes the pool, waiting for in-flight queries (a clean SQLite checkpoint on shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
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

fn direct(row: &AnyRow) -> Result<DirectMessage, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    let action: i64 = row.try_get("action")?;
    Ok(DirectMessage {
        id: u64::try_from(id).unwrap_or_default(),
        from: row.try_get("sender")?,
        to: row.try_get("recipient")?,
        text: row.try_get("text")?,
        at: row.try_get("at")?,
        client_id: row.try_get("client_id")?,
        action: action != 0,
    })
}

fn message(row: &AnyRow) -> Result<ChatMessage, sqlx::Error> {
    let seq: i64 = row.try_get("seq")?;
    let action: i64 = row.try_get("action")?;
    Ok(ChatMessage {
        room: row.try_get("room")?,
        seq: u64::try_from(seq).unwrap_or_default(),
        from: row.try_get("sender")?,
        text: row.try_get("text")?,
        at: row.try_get("at")?,
        client_id: row.try_get("client_id")?,
        action: action != 0,
    })
}
