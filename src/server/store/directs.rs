//! Private messages, readable only by their two parties (people, by number).
//!
//! Their ids come from the `direct_messages` counter row, bumped in the inserting transaction as a
//! room's `last_seq` is: the row lock orders writers (on one server or several), so ids follow
//! commit order and a client that saw id N never later finds a missing N−1. A batch of them is one
//! transaction (group commit, see `hub::direct`).
//!
//! Each stored message also says which private message of each party came before it
//! ([`StoredDirect`]): a server that receives it from another can tell whether a connection has
//! everything before it, or must read the store first.

use std::collections::HashMap;

use sqlx::Row;

use super::{direct_entry, signed, unsigned, value_rows, Store, StoreError, DIRECT_COLUMNS};
use crate::protocol::{DirectMessage, DirectReaction, FileInfo, Quote, ServerMsg};

/// A row of `direct_messages` that is a private message.
pub(super) const KIND_MESSAGE: i64 = 0;
/// A row that adds the reaction `text` to private message `target`.
pub(super) const KIND_REACT: i64 = 3;
/// A row that takes the reaction `text` back from private message `target`.
pub(super) const KIND_UNREACT: i64 = 4;

/// A private message about to be stored: who sends it to whom, by person and by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectDraft {
    pub from_person: i64,
    pub to_person: i64,
    pub from: String,
    pub to: String,
    pub text: String,
    pub at: String,
    pub client_id: Option<String>,
    pub action: bool,
    /// The sender's uploads it carries (attached in the commit).
    pub files: Vec<FileInfo>,
    /// The id of the private message between the two it answers (quoted in the commit).
    pub answering: Option<u64>,
    /// Not a message: a reaction (`text`, one emoji) to private message `target` between the
    /// two, added (`on`) or taken back. It takes its place among private messages all the same.
    pub reacting: Option<Reacting>,
}

/// What a reaction draft does ([`DirectDraft::reacting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reacting {
    pub target: u64,
    pub on: bool,
}

/// An entry among a person's private messages, in id order: a message, or a reaction to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectEntry {
    Message(DirectMessage),
    Reacted(DirectReaction),
}

impl DirectEntry {
    /// Its place among private messages.
    pub fn id(&self) -> u64 {
        match self {
            DirectEntry::Message(message) => message.id,
            DirectEntry::Reacted(reaction) => reaction.log_id,
        }
    }

    /// The live frame that carries it: `dm` or `dm_reacted`.
    pub fn frame(&self) -> ServerMsg {
        match self {
            DirectEntry::Message(message) => ServerMsg::Dm(message.clone()),
            DirectEntry::Reacted(reaction) => ServerMsg::DmReacted(reaction.clone()),
        }
    }
}

/// Whether a reaction to a private message would change anything ([`Directs::reaction_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionState {
    /// The reacting person has this emoji on the message now.
    pub mine: bool,
    /// Someone has this emoji on it.
    pub there: bool,
    /// How many different emoji it carries.
    pub distinct: usize,
}

/// A private message (or a reaction to one) as stored, with the id of each party's private message
/// before it (0 if none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDirect {
    pub entry: DirectEntry,
    pub prev_from: u64,
    pub prev_to: u64,
}

/// A private message's id and its parties, as a server that missed it reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectParties {
    pub id: u64,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Private messages and blocks in the store ([`Store::directs`]).
#[derive(Debug, Clone, Copy)]
pub struct Directs<'a>(pub(super) &'a Store);

impl Directs<'_> {
    /// Commits private messages in one transaction with consecutive ids, in the given order.
    pub async fn append_directs(
        self,
        drafts: Vec<DirectDraft>,
    ) -> Result<Vec<StoredDirect>, StoreError> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.0;
        let count = i64::try_from(drafts.len()).unwrap_or(i64::MAX);
        let mut tx = store.begin_write().await?;
        let last: i64 = sqlx::query(&store.sql(
            "UPDATE counters SET value = value + $1 WHERE name = 'direct_messages' RETURNING value",
        ))
        .bind(count)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        // Under the counter's lock every earlier message is committed: each party's latest one is
        // its previous.
        let latest = latest_of_parties(store, &mut tx, &drafts).await?;
        let first = last - count + 1;
        let mut quotes = Vec::with_capacity(drafts.len());
        for draft in &drafts {
            quotes.push(match draft.answering {
                Some(id) if draft.reacting.is_none() => {
                    Some(quote_in(store, &mut tx, draft, id).await?)
                }
                _ => None,
            });
        }
        insert_directs(store, &mut tx, first, &drafts, &quotes).await?;
        for draft in &drafts {
            if let Some(reacting) = draft.reacting {
                set_reaction(store, &mut tx, draft, reacting).await?;
            }
        }
        let mut attached = Vec::with_capacity(drafts.len());
        for (id, draft) in (first..).zip(&drafts) {
            attached.push(if draft.files.is_empty() {
                Vec::new()
            } else {
                let to = super::files::Attach::Direct(id);
                super::files::attach(store, &mut tx, to, Some(draft.from_person), &draft.files)
                    .await?
            });
        }
        let chained = chain(latest, first, &drafts)?;
        tx.commit().await?;
        Ok(chained
            .into_iter()
            .zip(drafts)
            .zip(attached)
            .zip(quotes)
            .map(
                |((((id, prev_from, prev_to), draft), files), quote)| StoredDirect {
                    entry: match draft.reacting {
                        Some(reacting) => DirectEntry::Reacted(DirectReaction {
                            id: reacting.target,
                            log_id: id,
                            by: draft.from,
                            to: draft.to,
                            emoji: draft.text,
                            on: reacting.on,
                            at: draft.at,
                            reply_to: None,
                        }),
                        None => DirectEntry::Message(DirectMessage {
                            id,
                            from: draft.from,
                            to: draft.to,
                            text: draft.text,
                            at: draft.at,
                            client_id: draft.client_id,
                            action: draft.action,
                            files,
                            reply_to: quote.map(Box::new),
                            reactions: Default::default(),
                        }),
                    },
                    prev_from,
                    prev_to,
                },
            )
            .collect())
    }

    /// Where person `person`'s reaction `emoji` to private message `id` between people `a` and
    /// `b` stands: `None` if there is no such message between them.
    pub async fn reaction_state(
        self,
        (a, b): (i64, i64),
        id: u64,
        person: i64,
        emoji: &str,
    ) -> Result<Option<ReactionState>, StoreError> {
        if !self.answerable(a, b, id).await? {
            return Ok(None);
        }
        let rows = sqlx::query(
            &self
                .0
                .sql("SELECT emoji, person_id FROM direct_reactions WHERE id = $1"),
        )
        .bind(signed(id))
        .fetch_all(&self.0.pool)
        .await?;
        let mut state = ReactionState {
            mine: false,
            there: false,
            distinct: 0,
        };
        let mut seen = std::collections::HashSet::new();
        for row in &rows {
            let theirs: String = row.try_get("emoji")?;
            let by: i64 = row.try_get("person_id")?;
            if theirs == emoji {
                state.there = true;
                state.mine |= by == person;
            }
            seen.insert(theirs);
        }
        state.distinct = seen.len();
        Ok(Some(state))
    }

    /// Whether private message `id` is one between people `a` and `b` (either way), to be answered.
    pub async fn answerable(self, a: i64, b: i64, id: u64) -> Result<bool, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "SELECT 1 FROM direct_messages WHERE id = $1 AND kind = 0 \
             AND ((from_person = $2 AND to_person = $3) OR (from_person = $3 AND to_person = $2))",
        ))
        .bind(signed(id))
        .bind(a)
        .bind(b)
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Private messages after id `after` (at most `limit`), with their parties: what a
    /// server reads to deliver those another server committed but could not announce.
    pub async fn directs_after(
        self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<DirectParties>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT id, from_person, to_person FROM direct_messages \
             WHERE id > $1 ORDER BY id LIMIT $2",
        ))
        .bind(signed(after))
        .bind(i64::from(limit))
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DirectParties {
                    id: unsigned(row.try_get(0)?)?,
                    from: row.try_get(1)?,
                    to: row.try_get(2)?,
                })
            })
            .collect()
    }

    /// The private message a person already stored under `client_id`, if any.
    pub async fn direct_sent_before(
        self,
        person: i64,
        client_id: &str,
    ) -> Result<Option<DirectMessage>, StoreError> {
        let row = sqlx::query(&self.0.sql(&format!(
            "SELECT {DIRECT_COLUMNS} FROM direct_messages \
             WHERE from_person = $1 AND client_id = $2"
        )))
        .bind(person)
        .bind(client_id)
        .fetch_optional(&self.0.pool)
        .await?;
        let mut found: Vec<DirectMessage> = row
            .as_ref()
            .map(super::direct)
            .transpose()?
            .into_iter()
            .collect();
        self.0.files().fill_directs(&mut found).await?;
        Ok(found.pop())
    }

    /// A person's private messages (sent or received), oldest first, each with its reactions now:
    /// up to `limit` entries after id `after` (reactions among them, in their places), or the
    /// latest `limit` messages if `after` is `None`. Nobody else's are ever read. (Two indexed
    /// reads, one per side of the conversation, so a person's messages cost what they are however
    /// many others exist.)
    pub async fn of_person(
        self,
        person: i64,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<DirectEntry>, StoreError> {
        let (order, kinds) = if after.is_some() {
            ("", "")
        } else {
            (" DESC", " AND kind = 0")
        };
        let side = |party: &str| {
            format!(
                "SELECT * FROM (SELECT {DIRECT_COLUMNS} FROM direct_messages \
                 WHERE {party} = $1 AND id > $2{kinds} ORDER BY id{order} LIMIT $3) AS {party}_side"
            )
        };
        let rows = sqlx::query(&self.0.sql(&format!(
            "SELECT {DIRECT_COLUMNS} FROM ({} UNION {}) AS both_sides ORDER BY id{order} LIMIT $3",
            side("from_person"),
            side("to_person"),
        )))
        .bind(person)
        .bind(after.map_or(0, signed))
        .bind(i64::from(limit))
        .fetch_all(&self.0.pool)
        .await?;
        let (mut messages, mut reactions) = (Vec::new(), Vec::new());
        for row in &rows {
            match direct_entry(row)? {
                DirectEntry::Message(message) => messages.push(message),
                DirectEntry::Reacted(reaction) => reactions.push(reaction),
            }
        }
        self.fill(&mut messages).await?;
        let mut entries: Vec<DirectEntry> = messages
            .into_iter()
            .map(DirectEntry::Message)
            .chain(reactions.into_iter().map(DirectEntry::Reacted))
            .collect();
        entries.sort_by_key(DirectEntry::id);
        Ok(entries)
    }

    /// Fills in the files and the reactions of `messages`.
    async fn fill(self, messages: &mut [DirectMessage]) -> Result<(), StoreError> {
        self.0.files().fill_directs(messages).await?;
        fill_reactions(self.0, messages).await
    }

    /// How many of a person's private messages come after id `after`, counting no further than
    /// `cap` (a bounded count: enough to decide whether a catch-up is exact or a reset).
    pub async fn count_directs_after(
        self,
        person: i64,
        after: u64,
        cap: u64,
    ) -> Result<u64, StoreError> {
        let side = |party: &str| {
            format!(
                "SELECT * FROM (SELECT id FROM direct_messages \
                 WHERE {party} = $1 AND id > $2 ORDER BY id LIMIT $3) AS {party}_side"
            )
        };
        let count: i64 = sqlx::query(&self.0.sql(&format!(
            "SELECT COUNT(*) FROM ({} UNION {}) AS newer",
            side("from_person"),
            side("to_person"),
        )))
        .bind(person)
        .bind(signed(after))
        .bind(signed(cap))
        .fetch_one(&self.0.pool)
        .await?
        .try_get(0)?;
        Ok(unsigned(count)?.min(cap))
    }

    /// The highest private-message id stored.
    pub async fn direct_head(self) -> Result<u64, StoreError> {
        let value: i64 = sqlx::query("SELECT value FROM counters WHERE name = 'direct_messages'")
            .fetch_one(&self.0.pool)
            .await?
            .try_get(0)?;
        unsigned(value)
    }
}

/// Whether a private message may be stored for its recipient ([`Directs::direct_gate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectGate {
    Allowed,
    /// The recipient blocked the sender.
    Blocked,
    /// The recipient never wrote to the sender, who already left this many unanswered.
    Unanswered,
    /// The recipient received this many messages in a day from people they never wrote to.
    StrangersFull,
}

/// The parties of a private message about to be stored, and the caps on a stranger's messages.
#[derive(Debug, Clone, Copy)]
pub struct DirectSend<'a> {
    pub from: i64,
    pub to: i64,
    pub max_unanswered: u32,
    pub max_strangers: u32,
    /// A day ago (the strangers' cap counts from then).
    pub day_ago: &'a str,
}

impl Directs<'_> {
    /// Whether the recipient takes this private message: not if they blocked the sender; and
    /// from someone they never wrote to, only up to a few unanswered ones, and up to a daily
    /// number from all such people together. (Read before the message is queued: a few racing
    /// sends may pass a cap by one each.)
    pub async fn direct_gate(self, p: DirectSend<'_>) -> Result<DirectGate, StoreError> {
        if self.blocks(p.to, p.from).await? {
            return Ok(DirectGate::Blocked);
        }
        if p.from == p.to {
            return Ok(DirectGate::Allowed);
        }
        let answered = sqlx::query(&self.0.sql(
            "SELECT 1 FROM direct_messages \
             WHERE from_person = $1 AND to_person = $2 AND kind = 0 LIMIT 1",
        ))
        .bind(p.to)
        .bind(p.from)
        .fetch_optional(&self.0.pool)
        .await?;
        if answered.is_some() {
            return Ok(DirectGate::Allowed);
        }
        let mine: i64 = sqlx::query(&self.0.sql(
            "SELECT COUNT(*) FROM (SELECT 1 FROM direct_messages \
             WHERE from_person = $1 AND to_person = $2 AND kind = 0 LIMIT $3) AS mine",
        ))
        .bind(p.from)
        .bind(p.to)
        .bind(i64::from(p.max_unanswered) + 1)
        .fetch_one(&self.0.pool)
        .await?
        .try_get(0)?;
        if mine >= i64::from(p.max_unanswered) {
            return Ok(DirectGate::Unanswered);
        }
        let strangers: i64 = sqlx::query(&self.0.sql(
            "SELECT COUNT(*) FROM (SELECT 1 FROM direct_messages d \
             WHERE d.to_person = $1 AND d.at >= $2 AND d.kind = 0 AND NOT EXISTS \
             (SELECT 1 FROM direct_messages a WHERE a.from_person = $1 \
              AND a.to_person = d.from_person AND a.kind = 0) LIMIT $3) AS strangers",
        ))
        .bind(p.to)
        .bind(p.day_ago)
        .bind(i64::from(p.max_strangers) + 1)
        .fetch_one(&self.0.pool)
        .await?
        .try_get(0)?;
        Ok(if strangers >= i64::from(p.max_strangers) {
            DirectGate::StrangersFull
        } else {
            DirectGate::Allowed
        })
    }

    /// Whether person `id` blocked person `blocked`.
    pub async fn blocks(self, id: i64, blocked: i64) -> Result<bool, StoreError> {
        let row = sqlx::query(
            &self
                .0
                .sql("SELECT 1 FROM blocks WHERE person_id = $1 AND blocked = $2"),
        )
        .bind(id)
        .bind(blocked)
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Records that person `id` blocks person `blocked` (again is no error).
    pub async fn block(self, id: i64, blocked: i64, at: &str) -> Result<(), StoreError> {
        sqlx::query(&self.0.sql(
            "INSERT INTO blocks (person_id, blocked, at) VALUES ($1, $2, $3) \
             ON CONFLICT (person_id, blocked) DO NOTHING",
        ))
        .bind(id)
        .bind(blocked)
        .bind(at)
        .execute(&self.0.pool)
        .await?;
        Ok(())
    }

    /// Lifts person `id`'s block of person `blocked`.
    pub async fn unblock(self, id: i64, blocked: i64) -> Result<(), StoreError> {
        sqlx::query(
            &self
                .0
                .sql("DELETE FROM blocks WHERE person_id = $1 AND blocked = $2"),
        )
        .bind(id)
        .bind(blocked)
        .execute(&self.0.pool)
        .await?;
        Ok(())
    }

    /// The names of the people person `id` blocked, as they are called now.
    pub async fn blocked_names(self, id: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&self.0.sql(
            "SELECT s.nick FROM blocks b JOIN people s ON s.id = b.blocked \
             WHERE b.person_id = $1 ORDER BY s.nick_key",
        ))
        .bind(id)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    /// A person's private messages before id `before` (scrolling up), oldest first: at most
    /// `limit`, only those with person `with` if given; and whether they reach back to the first
    /// one.
    pub async fn directs_before(
        self,
        person: i64,
        before: u64,
        with: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<DirectMessage>, bool), StoreError> {
        let side = |party: &str, other: &str| {
            let filter = if with.is_some() {
                format!(" AND {other} = $4")
            } else {
                String::new()
            };
            format!(
                "SELECT * FROM (SELECT {DIRECT_COLUMNS} FROM direct_messages \
                 WHERE {party} = $1 AND id < $2 AND kind = 0{filter} \
                 ORDER BY id DESC LIMIT $3) AS {party}_side"
            )
        };
        let sql = self.0.sql(&format!(
            "SELECT {DIRECT_COLUMNS} FROM ({} UNION {}) AS both_sides ORDER BY id DESC LIMIT $3",
            side("from_person", "to_person"),
            side("to_person", "from_person"),
        ));
        let mut query = sqlx::query(&sql)
            .bind(person)
            .bind(signed(before))
            .bind(i64::from(limit) + 1);
        if let Some(with) = with {
            query = query.bind(with);
        }
        let rows = query.fetch_all(&self.0.pool).await?;
        let complete = rows.len() <= limit as usize;
        let mut messages = rows
            .iter()
            .take(limit as usize)
            .map(super::direct)
            .collect::<Result<Vec<_>, _>>()?;
        messages.sort_by_key(|m| m.id);
        self.fill(&mut messages).await?;
        Ok((messages, complete))
    }

    /// The other party (a person's id) of private message `id` for person `me`, if `me` is one.
    pub async fn direct_peer(self, me: i64, id: u64) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "SELECT from_person, to_person FROM direct_messages \
             WHERE id = $1 AND (from_person = $2 OR to_person = $2)",
        ))
        .bind(signed(id))
        .bind(me)
        .fetch_optional(&self.0.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (from, to): (Option<i64>, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
        Ok(if from == Some(me) { to } else { from })
    }
}

/// The id of each party's latest private message, sent or received (0 if none).
async fn latest_of_parties(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    drafts: &[DirectDraft],
) -> Result<HashMap<i64, u64>, StoreError> {
    let mut latest: HashMap<i64, u64> = HashMap::new();
    for draft in drafts {
        for party in [draft.from_person, draft.to_person] {
            if let std::collections::hash_map::Entry::Vacant(slot) = latest.entry(party) {
                let row = sqlx::query(&store.sql(
                    "SELECT (SELECT MAX(id) FROM direct_messages WHERE from_person = $1), \
                     (SELECT MAX(id) FROM direct_messages WHERE to_person = $1)",
                ))
                .bind(party)
                .fetch_one(&mut **tx)
                .await?;
                let sent: Option<i64> = row.try_get(0)?;
                let received: Option<i64> = row.try_get(1)?;
                let last = sent.max(received).map_or(Ok(0), unsigned)?;
                slot.insert(last);
            }
        }
    }
    Ok(latest)
}

/// Inserts `drafts` with the ids from `first` on, in one statement.
async fn insert_directs(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    first: i64,
    drafts: &[DirectDraft],
    quotes: &[Option<Quote>],
) -> Result<(), StoreError> {
    let insert = store.sql(&format!(
        "INSERT INTO direct_messages (id, from_person, to_person, sender, recipient, text, at, \
         client_id, action, reply_id, reply_from, reply_text, kind, target) VALUES {}",
        value_rows(drafts.len(), 14, &[])
    ));
    let mut query = sqlx::query(&insert);
    for ((id, draft), quote) in (first..).zip(drafts).zip(quotes) {
        let quote = quote.as_ref();
        query = query
            .bind(id)
            .bind(draft.from_person)
            .bind(draft.to_person)
            .bind(&draft.from)
            .bind(&draft.to)
            .bind(&draft.text)
            .bind(&draft.at)
            .bind(draft.client_id.as_deref())
            .bind(i64::from(draft.action))
            .bind(quote.and_then(|q| q.id).map(signed))
            .bind(quote.map(|q| q.from.as_str()))
            .bind(quote.filter(|q| !q.deleted).map(|q| q.text.as_str()))
            .bind(match draft.reacting {
                None => KIND_MESSAGE,
                Some(Reacting { on: true, .. }) => KIND_REACT,
                Some(Reacting { on: false, .. }) => KIND_UNREACT,
            })
            .bind(draft.reacting.map(|r| signed(r.target)));
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Adds or takes back the reaction a draft carries (again changes nothing: the caller looked
/// first, and a racing twin only repeats it).
async fn set_reaction(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    draft: &DirectDraft,
    reacting: Reacting,
) -> Result<(), StoreError> {
    let statement = if reacting.on {
        "INSERT INTO direct_reactions (id, person_id, emoji, nick, at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM direct_reactions WHERE id = $1 AND person_id = $2 AND emoji = $3"
    };
    let sql = store.sql(statement);
    let mut query = sqlx::query(&sql)
        .bind(signed(reacting.target))
        .bind(draft.from_person)
        .bind(&draft.text);
    if reacting.on {
        query = query.bind(&draft.from).bind(&draft.at);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Fills in the reactions of `messages`: each emoji with who reacted, by their name now, in the
/// order they reacted.
async fn fill_reactions(store: &Store, messages: &mut [DirectMessage]) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = (1..=messages.len()).map(|n| format!("${n}")).collect();
    let sql = store.sql(&format!(
        "SELECT r.id, r.emoji, COALESCE(p.nick, r.nick) AS nick FROM direct_reactions r \
         LEFT JOIN people p ON p.id = r.person_id \
         WHERE r.id IN ({}) ORDER BY r.id, r.at, r.person_id",
        ids.join(", ")
    ));
    let mut query = sqlx::query(&sql);
    for message in messages.iter() {
        query = query.bind(signed(message.id));
    }
    let rows = query.fetch_all(&store.pool).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut by_id: HashMap<u64, std::collections::BTreeMap<String, Vec<String>>> = HashMap::new();
    for row in &rows {
        by_id
            .entry(unsigned(row.try_get("id")?)?)
            .or_default()
            .entry(row.try_get("emoji")?)
            .or_default()
            .push(row.try_get("nick")?);
    }
    for message in messages {
        if let Some(reactions) = by_id.remove(&message.id) {
            message.reactions = reactions;
        }
    }
    Ok(())
}

/// What a reply to private message `id` quotes of it ([`Quote::of`]), if it is one between the
/// draft's two parties; else that it is not there.
async fn quote_in(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    draft: &DirectDraft,
    id: u64,
) -> Result<Quote, StoreError> {
    let row = sqlx::query(&store.sql(
        "SELECT sender, text FROM direct_messages WHERE id = $1 AND kind = 0 \
         AND ((from_person = $2 AND to_person = $3) OR (from_person = $3 AND to_person = $2))",
    ))
    .bind(signed(id))
    .bind(draft.from_person)
    .bind(draft.to_person)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(row) => {
            let (from, text): (String, String) = (row.try_get("sender")?, row.try_get("text")?);
            Ok(Quote::of(0, Some(id), &from, &text))
        }
        None => Ok(Quote::gone(0, Some(id))),
    }
}

/// Each draft's id (from `first` on) and the ids of its sender's and recipient's private message
/// before it: a party's latest, then each of the batch's messages in turn.
fn chain(
    mut latest: HashMap<i64, u64>,
    first: i64,
    drafts: &[DirectDraft],
) -> Result<Vec<(u64, u64, u64)>, StoreError> {
    let mut chained = Vec::with_capacity(drafts.len());
    for (id, draft) in (first..).zip(drafts) {
        let id = unsigned(id)?;
        let prev_from = latest.get(&draft.from_person).copied().unwrap_or(0);
        let prev_to = latest.get(&draft.to_person).copied().unwrap_or(0);
        latest.insert(draft.from_person, id);
        latest.insert(draft.to_person, id);
        chained.push((id, prev_from, prev_to));
    }
    Ok(chained)
}
