//! Search over what one person may read: the rooms they are in (everyone is in `general`) and
//! their own private messages; never a deleted message, an edited one by its current text (the
//! message's row holds it). SQLite answers from FTS5 tables, PostgreSQL from a generated
//! `tsvector` column (migration 0011); both are kept by the statements that change the text, in
//! their transactions.
//!
//! Hits are newest first, in the order the store keeps rows: rooms' messages by their row number
//! (SQLite's `rowid`, PostgreSQL's `row_id`), private messages by id. Each is read from the end of
//! its order until a page is full (a common word stops after a page's worth of rows; nothing sorts
//! every match), and the two are merged by time. A [`Cursor`] holds where each left off, so the
//! next page neither repeats nor skips a hit.

use sqlx::Row;

use super::{unsigned, Store, StoreError};
use crate::server::search::{Cursor, Query};

/// Search, as a view of the store.
#[derive(Clone, Copy)]
pub struct Search<'a>(pub(super) &'a Store);

/// Who a search is for, and whom it narrows to (people already looked up by name).
#[derive(Debug, Clone, Copy)]
pub struct Searcher {
    pub person: i64,
    /// `from:`, as a person.
    pub from: Option<i64>,
    /// `in:@name`, as a person.
    pub with: Option<i64>,
}

/// One message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// A room's message (`Some(room)`, `num` its seq) or a private one (`None`, `num` its id).
    pub room: Option<String>,
    pub num: u64,
    /// For a private message: the other party's name.
    pub peer: Option<String>,
    pub from: String,
    pub at: String,
    pub text: String,
    /// Its place in its source's order (row number, or id).
    key: i64,
}

/// A page of hits, and where the next one starts (`None`: there is no more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub hits: Vec<Found>,
    pub next: Option<Cursor>,
}

#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// A query's conditions and their parameters, numbered as they are added.
#[derive(Clone)]
struct Sql {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Sql {
    fn new() -> Self {
        Self {
            conditions: Vec::new(),
            binds: Vec::new(),
        }
    }

    /// The next parameter's placeholder, bound to `bind`.
    fn param(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.binds.len())
    }

    /// Adds `condition`, where `{}` stands for a parameter bound to `bind`.
    fn add(&mut self, condition: &str, bind: Bind) {
        let p = self.param(bind);
        self.conditions.push(condition.replace("{}", &p));
    }

    fn text(&mut self, condition: &str, value: &str) {
        self.add(condition, Bind::Text(value.to_owned()));
    }

    fn int(&mut self, condition: &str, value: i64) {
        self.add(condition, Bind::Int(value));
    }

    fn filters(&self) -> String {
        self.conditions.join(" AND ")
    }

    async fn fetch(
        self,
        store: &Store,
        statement: &str,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let sql = store.sql(statement);
        Ok(self.bound(&sql).fetch_all(&store.pool).await?)
    }

    /// As [`Sql::fetch`], planned for these values every time (PostgreSQL): a cached generic
    /// plan knows nothing of the query's words, and for a phrase it reads the whole table.
    async fn fetch_planned(
        self,
        store: &Store,
        statement: &str,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let sql = store.sql(statement);
        let mut tx = store.pool.begin().await?;
        sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
            .execute(&mut *tx)
            .await?;
        let rows = self.bound(&sql).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// `sql` with this query's values bound, in order.
    fn bound(self, sql: &str) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut query = sqlx::query(sql);
        for bind in self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text),
                Bind::Int(n) => query.bind(n),
            };
        }
        query
    }
}

impl Search<'_> {
    /// Up to `limit` hits of `query` for `who`, starting after `cursor`, newest first.
    pub async fn find(
        self,
        who: Searcher,
        query: &Query,
        cursor: Option<&Cursor>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let start = cursor.cloned().unwrap_or(Cursor {
            rooms: Some(i64::MAX),
            directs: Some(i64::MAX),
        });
        // One more than a page from each: whether more remain is then known.
        let rooms = match start.rooms.filter(|_| query.with.is_none()) {
            Some(below) => self.in_rooms(who, query, below, limit + 1).await?,
            None => Vec::new(),
        };
        let directs = match start.directs.filter(|_| query.room.is_none()) {
            Some(below) => self.in_directs(who, query, below, limit + 1).await?,
            None => Vec::new(),
        };
        Ok(merge(rooms, directs, &start, limit as usize))
    }

    async fn in_rooms(
        self,
        who: Searcher,
        query: &Query,
        below: i64,
        limit: u32,
    ) -> Result<Vec<Found>, StoreError> {
        let store = self.0;
        let mut sql = Sql::new();
        // SQLite: the FTS table hands its matches out by rowid, newest first, and the join reads
        // each message by its rowid: no sort, and a common word stops after a page.
        let (from, matching, key) = if store.postgres {
            (
                "messages m",
                "m.search @@ to_tsquery('simple'::regconfig, {})",
                "m.row_id",
            )
        } else {
            (
                "message_search s JOIN messages m ON m.rowid = s.rowid",
                "message_search MATCH {}",
                "s.rowid",
            )
        };
        let terms = if store.postgres {
            query.tsquery()
        } else {
            query.fts5()
        };
        sql.text(matching, &terms);
        sql.conditions.push("m.kind = 0 AND m.deleted = 0".into());
        sql.int(
            "(m.room = 'general' OR m.room IN \
             (SELECT room FROM memberships WHERE person_id = {}))",
            who.person,
        );
        if let Some(from) = who.from {
            sql.int("m.person_id = {}", from);
        }
        if let Some(room) = &query.room {
            sql.text("m.room = {}", room);
        }
        dates(&mut sql, "m", query);
        let (low, high) = self.window(query, "messages", key_column(store)).await?;
        if low > 0 {
            sql.add(&format!("{key} > {{}}"), Bind::Int(low));
        }
        let rows = if store.postgres && !query.phrases.is_empty() {
            self.phrase_rows(sql, below.min(high), limit).await?
        } else {
            // One room on PostgreSQL: its rows by the room's own key (the primary key's order,
            // `seq`, which is also the page's cursor), rather than every room's rows by `row_id`.
            let order = if store.postgres && query.room.is_some() {
                if high < i64::MAX {
                    sql.add(&format!("{key} < {{}}"), Bind::Int(high));
                }
                "m.seq"
            } else {
                key
            };
            let below = if order == key { below.min(high) } else { below };
            sql.add(&format!("{order} < {{}}"), Bind::Int(below));
            let limit = sql.param(Bind::Int(i64::from(limit)));
            let statement = format!(
                "SELECT {order} AS k, m.room, m.seq, m.sender, m.at, m.text FROM {from} WHERE {} \
                 ORDER BY {order} DESC LIMIT {limit}",
                sql.filters()
            );
            sql.fetch(store, &statement).await?
        };
        rows.iter()
            .map(|row| {
                Ok(Found {
                    room: Some(row.try_get("room")?),
                    num: unsigned(row.try_get("seq")?)?,
                    peer: None,
                    from: row.try_get("sender")?,
                    at: row.try_get("at")?,
                    text: row.try_get("text")?,
                    key: row.try_get("k")?,
                })
            })
            .collect()
    }

    /// A phrase on PostgreSQL. GIN knows which rows hold the phrase's words, not where, so each
    /// must be read to check; the planner cannot tell how rare the phrase is among them. So: the
    /// newest [`RECENT_ROWS`] rows first, walked by `row_id` (a common phrase fills the page
    /// there), then, for what is missing, the rows GIN names further back, sorted (a rare phrase
    /// costs its words' rows, not the whole table's).
    async fn phrase_rows(
        self,
        sql: Sql,
        below: i64,
        limit: u32,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let store = self.0;
        const COLUMNS: &str = "m.row_id AS k, m.room, m.seq, m.sender, m.at, m.text";
        let newest: Option<i64> = sqlx::query("SELECT MAX(row_id) FROM messages")
            .fetch_one(&store.pool)
            .await?
            .try_get(0)?;
        let split = newest.unwrap_or(0).saturating_sub(RECENT_ROWS);
        let mut rows = Vec::new();
        if below > split {
            let mut recent = sql.clone();
            recent.int("m.row_id < {}", below);
            recent.int("m.row_id > {}", split);
            let limit = recent.param(Bind::Int(i64::from(limit)));
            let statement = format!(
                "SELECT {COLUMNS} FROM messages m WHERE {} ORDER BY m.row_id DESC LIMIT {limit}",
                recent.filters()
            );
            rows = recent.fetch_planned(store, &statement).await?;
        }
        let missing = (limit as usize).saturating_sub(rows.len());
        if missing > 0 {
            let mut older = sql;
            older.int("m.row_id < {}", below.min(split.saturating_add(1)));
            let limit = older.param(Bind::Int(i64::try_from(missing).unwrap_or(i64::MAX)));
            // `+ 0`: not the `row_id` index's order, so the planner takes GIN's rows and sorts.
            let statement = format!(
                "SELECT {COLUMNS} FROM messages m WHERE {} ORDER BY m.row_id + 0 DESC \
                 LIMIT {limit}",
                older.filters()
            );
            rows.extend(older.fetch_planned(store, &statement).await?);
        }
        Ok(rows)
    }

    async fn in_directs(
        self,
        who: Searcher,
        query: &Query,
        below: i64,
        limit: u32,
    ) -> Result<Vec<Found>, StoreError> {
        let store = self.0;
        let mut sql = Sql::new();
        let (from, matching, terms) = if store.postgres {
            (
                "direct_messages m",
                "m.search @@ to_tsquery('simple'::regconfig, {})",
                query.tsquery(),
            )
        } else {
            (
                "direct_search s JOIN direct_messages m ON m.id = s.rowid",
                "direct_search MATCH {}",
                query.fts5(),
            )
        };
        sql.text(matching, &terms);
        let me = sql.param(Bind::Int(who.person));
        sql.conditions.push(format!(
            "m.kind = 0 AND (m.from_person = {me} OR m.to_person = {me})"
        ));
        if let Some(from) = who.from {
            sql.int("m.from_person = {}", from);
        }
        if let Some(with) = who.with {
            let with = sql.param(Bind::Int(with));
            sql.conditions
                .push(format!("(m.from_person = {with} OR m.to_person = {with})"));
        }
        dates(&mut sql, "m", query);
        let (low, high) = self.window(query, "direct_messages", "id").await?;
        sql.int("m.id < {}", below.min(high));
        if low > 0 {
            sql.int("m.id > {}", low);
        }
        let person = sql.param(Bind::Int(who.person));
        let limit = sql.param(Bind::Int(i64::from(limit)));
        let statement = format!(
            "SELECT m.id, m.sender, m.at, m.text, \
             CASE WHEN m.from_person = {person} THEN m.recipient ELSE m.sender END AS peer \
             FROM {from} WHERE {} ORDER BY m.id DESC LIMIT {limit}",
            sql.filters()
        );
        let rows = sql.fetch(store, &statement).await?;
        rows.iter()
            .map(|row| {
                Ok(Found {
                    room: None,
                    num: unsigned(row.try_get("id")?)?,
                    peer: Some(row.try_get("peer")?),
                    from: row.try_get("sender")?,
                    at: row.try_get("at")?,
                    text: row.try_get("text")?,
                    key: row.try_get("id")?,
                })
            })
            .collect()
    }
}

/// How many of the newest rows a phrase is first looked for in, walking them in order
/// ([`Search::phrase_rows`]).
const RECENT_ROWS: i64 = 50_000;

/// How many rows past a date's first one a search still reads: rows are numbered as they are
/// stored, and a message's time is taken just before, so near a boundary the two orders can
/// differ by what a few commits hold.
const DATE_SLACK: i64 = 2_000;

/// The column that numbers the rooms' messages in the order they were stored.
fn key_column(store: &Store) -> &'static str {
    if store.postgres {
        "row_id"
    } else {
        "rowid"
    }
}

impl Search<'_> {
    /// The keys of `table` (numbered by `key`) a search with dates need read: above `low` and
    /// below `high` (`0` and `i64::MAX` without dates). Found by bisecting the keys, each probe
    /// one indexed read, so a date range far back skips the newer rows instead of reading them.
    async fn window(self, query: &Query, table: &str, key: &str) -> Result<(i64, i64), StoreError> {
        let mut window = (0, i64::MAX);
        if let Some(before) = &query.before {
            let first = self.first_at_or_after(table, key, before).await?;
            window.1 = first.saturating_add(DATE_SLACK);
        }
        if let Some(after) = query.after_at() {
            let first = self.first_at_or_after(table, key, &after).await?;
            window.0 = first.saturating_sub(DATE_SLACK).max(0);
        }
        Ok(window)
    }

    /// The first key of `table` whose row's time is `at` or later (one past the last key if
    /// none), assuming times grow with keys.
    async fn first_at_or_after(self, table: &str, key: &str, at: &str) -> Result<i64, StoreError> {
        let store = self.0;
        let max: Option<i64> = sqlx::query(&format!("SELECT MAX({key}) FROM {table}"))
            .fetch_one(&store.pool)
            .await?
            .try_get(0)?;
        let (mut low, mut high) = (0i64, max.unwrap_or(0).saturating_add(1));
        let probe = store.sql(&format!(
            "SELECT {key} AS k, at FROM {table} WHERE {key} >= $1 ORDER BY {key} LIMIT 1"
        ));
        while low < high {
            let mid = low + (high - low) / 2;
            let row = sqlx::query(&probe)
                .bind(mid)
                .fetch_optional(&store.pool)
                .await?;
            match row {
                Some(row) if row.try_get::<String, _>("at")?.as_str() < at => {
                    low = row.try_get::<i64, _>("k")?.saturating_add(1);
                }
                _ => high = mid,
            }
        }
        Ok(high)
    }
}

/// The page of `limit` hits from two sources, each newest first in its own order (one more than
/// a page fetched from each), merged by time (rooms first at the same time); and where each source
/// continues. A source that had nothing more is left out of the next cursor.
fn merge(rooms: Vec<Found>, directs: Vec<Found>, start: &Cursor, limit: usize) -> Page {
    let (rooms_ended, directs_ended) = (rooms.len() <= limit, directs.len() <= limit);
    let mut rooms = rooms.into_iter().peekable();
    let mut directs = directs.into_iter().peekable();
    let mut hits = Vec::with_capacity(limit);
    let mut next = start.clone();
    while hits.len() < limit {
        let take_room = match (rooms.peek(), directs.peek()) {
            (Some(room), Some(direct)) => room.at >= direct.at,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let hit = if take_room {
            rooms.next()
        } else {
            directs.next()
        };
        let Some(hit) = hit else { break };
        if take_room {
            next.rooms = Some(hit.key);
        } else {
            next.directs = Some(hit.key);
        }
        hits.push(hit);
    }
    // A source with nothing left after this page is done.
    if rooms.peek().is_none() && rooms_ended {
        next.rooms = None;
    }
    if directs.peek().is_none() && directs_ended {
        next.directs = None;
    }
    let more = next.rooms.is_some() || next.directs.is_some();
    Page {
        hits,
        next: more.then_some(next),
    }
}

/// `before:` and `after:`, on the `at` of table alias `table`.
fn dates(sql: &mut Sql, table: &str, query: &Query) {
    if let Some(before) = &query.before {
        sql.text(&format!("{table}.at < {{}}"), before);
    }
    if let Some(after) = query.after_at() {
        sql.text(&format!("{table}.at > {{}}"), &after);
    }
}
