//! Search over what one person may read: the rooms they are in (everyone is in `general`) and
//! their own private messages; never a deleted message, an edited one by its current text (the
//! message's row holds it). SQLite answers from FTS5 tables, PostgreSQL from a generated
//! `tsvector` column (migration 0011); both are kept by the statements that change the text, in
//! their transactions.
//!
//! Hits are newest first. Rooms' and private messages' hits are read by one query each, both in
//! the same order (time, then rooms before private messages, then room and seq or id, all
//! descending) and merged, so a [`Cursor`] names a place in that one order.

use sqlx::Row;

use super::{signed, unsigned, Store, StoreError};
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
}

impl Found {
    /// Where the next page starts if this is the last hit of one.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            at: self.at.clone(),
            room: self.room.clone(),
            num: self.num,
        }
    }

    /// The order hits are shown in, newest first (a larger key comes first).
    fn key(&self) -> (&str, bool, &str, u64) {
        (
            &self.at,
            self.room.is_some(),
            self.room.as_deref().unwrap_or(""),
            self.num,
        )
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

/// A query's conditions and their parameters, numbered as they are added.
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
        let mut query = sqlx::query(&sql);
        for bind in self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text),
                Bind::Int(n) => query.bind(n),
            };
        }
        Ok(query.fetch_all(&store.pool).await?)
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
    ) -> Result<Vec<Found>, StoreError> {
        let mut found = Vec::new();
        if query.with.is_none() {
            found.extend(self.in_rooms(who, query, cursor, limit).await?);
        }
        if query.room.is_none() {
            found.extend(self.in_directs(who, query, cursor, limit).await?);
        }
        found.sort_by(|a, b| b.key().cmp(&a.key()));
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(found)
    }

    async fn in_rooms(
        self,
        who: Searcher,
        query: &Query,
        cursor: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Found>, StoreError> {
        let store = self.0;
        let mut sql = Sql::new();
        let (from, matching) = if store.postgres {
            (
                "messages m",
                "m.search @@ to_tsquery('simple'::regconfig, {})",
            )
        } else {
            (
                "message_search s JOIN messages m ON m.rowid = s.rowid",
                "message_search MATCH {}",
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
        if let Some(cursor) = cursor {
            let at = sql.param(Bind::Text(cursor.at.clone()));
            match &cursor.room {
                Some(room) => {
                    let room = sql.param(Bind::Text(room.clone()));
                    let seq = sql.param(Bind::Int(signed(cursor.num)));
                    sql.conditions.push(format!(
                        "(m.at < {at} OR (m.at = {at} AND \
                         (m.room < {room} OR (m.room = {room} AND m.seq < {seq}))))"
                    ));
                }
                // Private messages come after every room's at the same time.
                None => sql.conditions.push(format!("m.at < {at}")),
            }
        }
        let limit = sql.param(Bind::Int(i64::from(limit)));
        let statement = format!(
            "SELECT m.room, m.seq, m.sender, m.at, m.text FROM {from} WHERE {} \
             ORDER BY m.at DESC, m.room DESC, m.seq DESC LIMIT {limit}",
            sql.filters()
        );
        let rows = sql.fetch(store, &statement).await?;
        rows.iter()
            .map(|row| {
                Ok(Found {
                    room: Some(row.try_get("room")?),
                    num: unsigned(row.try_get("seq")?)?,
                    peer: None,
                    from: row.try_get("sender")?,
                    at: row.try_get("at")?,
                    text: row.try_get("text")?,
                })
            })
            .collect()
    }

    async fn in_directs(
        self,
        who: Searcher,
        query: &Query,
        cursor: Option<&Cursor>,
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
        sql.conditions
            .push(format!("(m.from_person = {me} OR m.to_person = {me})"));
        if let Some(from) = who.from {
            sql.int("m.from_person = {}", from);
        }
        if let Some(with) = who.with {
            let with = sql.param(Bind::Int(with));
            sql.conditions
                .push(format!("(m.from_person = {with} OR m.to_person = {with})"));
        }
        dates(&mut sql, "m", query);
        if let Some(cursor) = cursor {
            let at = sql.param(Bind::Text(cursor.at.clone()));
            match cursor.room {
                // Every private message at the cursor's time comes after its room's hit.
                Some(_) => sql.conditions.push(format!("m.at <= {at}")),
                None => {
                    let id = sql.param(Bind::Int(signed(cursor.num)));
                    sql.conditions
                        .push(format!("(m.at < {at} OR (m.at = {at} AND m.id < {id}))"));
                }
            }
        }
        let person = sql.param(Bind::Int(who.person));
        let limit = sql.param(Bind::Int(i64::from(limit)));
        let statement = format!(
            "SELECT m.id, m.sender, m.at, m.text, \
             CASE WHEN m.from_person = {person} THEN m.recipient ELSE m.sender END AS peer \
             FROM {from} WHERE {} ORDER BY m.at DESC, m.id DESC LIMIT {limit}",
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
                })
            })
            .collect()
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
