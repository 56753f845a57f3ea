//! Room messages: every one is committed here before anyone is told about it.
//!
//! [`Messages::append_batch`] bumps the room's `last_seq` by the number of messages and inserts them in
//! one transaction (group commit: the hub hands it everything that queued up for a room while the
//! previous commit ran). The bump takes the room row's write lock (a row lock in PostgreSQL, the
//! database write lock in SQLite), so concurrent writers, on one server or several, are ordered:
//! seqs within a room are gap-free and in commit order, and a reader who saw seq N never later
//! discovers a missing N−1. A retry of a message (the same person and `client_id` in the same room)
//! is found by the `messages_once` unique key inside that same commit, not by a read before it.
//!
//! An edit or a delete ([`Messages::change`]) is a row of the same log: it takes the next `seq` the
//! same way, names the message it changes (`target`), and rewrites that message's row to its
//! current version in the same transaction. So a reader of the log after a position gets exactly
//! the messages and changes it missed, and a reader of a page of messages gets them as they are
//! now.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use sqlx::Row;

use super::log::{original, take_position};
use super::{entry, message, signed, unsigned, value_rows, Store, StoreError, MESSAGE_COLUMNS};
use crate::protocol::{Change, ChatMessage, FileInfo, Quote, Stored};

/// A log row that is a message.
pub(super) const KIND_MESSAGE: i64 = 0;
/// A log row that is an edit of the message `target`.
pub(super) const KIND_EDIT: i64 = 1;
/// A log row that is the delete of the message `target`.
pub(super) const KIND_DELETE: i64 = 2;

/// A room message about to be stored; the store gives it its `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub from: String,
    pub text: String,
    pub at: String,
    pub client_id: Option<String>,
    pub action: bool,
    /// The sending person: with `client_id`, unique per room.
    pub person_id: Option<i64>,
    /// Whom it mentions (see `ChatMessage::mentions`).
    pub mentions: Vec<String>,
    /// The sender's uploads it carries, as described before the commit (attached in it).
    pub files: Vec<FileInfo>,
    /// The seq of the message of the room it answers: quoted as it is at the commit.
    pub answering: Option<u64>,
}

/// What a commit did with one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Stored by this commit, with its new seq.
    New(ChatMessage),
    /// Stored before under the same person's `client_id` (this is a retry): the stored message.
    Earlier(ChatMessage),
}

impl Committed {
    /// The message as stored.
    pub fn message(&self) -> &ChatMessage {
        match self {
            Self::New(message) | Self::Earlier(message) => message,
        }
    }

    /// The message as stored.
    pub fn into_message(self) -> ChatMessage {
        match self {
            Self::New(message) | Self::Earlier(message) => message,
        }
    }
}

/// One try of a commit: stored, or not stored because some of the messages are retries.
enum Inserted {
    All(Vec<ChatMessage>),
    Retries,
}

/// One page of a room's history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Messages as they are now; the latest page ends with the room's last entry when that is a
    /// change (so it ends at the room's last position).
    pub entries: Vec<Stored>,
    /// Whether the page reaches back to the room's first message.
    pub complete: bool,
}

impl Page {
    /// The page's messages, changes left out.
    pub fn messages(&self) -> impl Iterator<Item = &ChatMessage> {
        self.entries.iter().filter_map(Stored::message)
    }
}

/// An edit (`text`) or a delete (`None`) about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeDraft {
    /// Who makes it, as shown.
    pub by: String,
    /// Who makes it: the author may change their message.
    pub person_id: Option<i64>,
    pub at: String,
    /// The new text; `None` deletes.
    pub text: Option<String>,
    /// Asked as a moderator: may delete anyone's message if the store says the person is one
    /// (such a delete is written to the audit log).
    pub moderator: bool,
    /// An edit: whom the new text mentions.
    pub mentions: Vec<String>,
    /// How many edits a message may have.
    pub max_edits: u32,
}

/// What became of a change. One per edit or delete, returned at once: its size does not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum ChangeOutcome {
    /// Stored: the `edited` or `deleted` entry, with its place in the log.
    Stored(Stored),
    /// A delete of a message already deleted, by someone who may: nothing more to do.
    AlreadyDeleted,
    /// The room has no such message (or, for an edit, it was deleted).
    NotFound,
    /// The message is someone else's.
    Forbidden,
    /// The message was edited as many times as a message may be.
    TooManyEdits,
}

/// Rooms' logs in the store: messages, edits and deletes ([`Store::messages`]).
#[derive(Debug, Clone, Copy)]
pub struct Messages<'a>(pub(super) &'a Store);

impl Messages<'_> {
    /// The message a person already stored in `room` under `client_id`, if any: a retry (even one
    /// made after a server restart, from another device) is answered with it instead of being
    /// stored again.
    pub async fn sent_before(
        self,
        room: &str,
        person: i64,
        client_id: &str,
    ) -> Result<Option<ChatMessage>, StoreError> {
        let row = sqlx::query(&self.0.sql(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE room = $1 AND person_id = $2 AND client_id = $3"
        )))
        .bind(room)
        .bind(person)
        .bind(client_id)
        .fetch_optional(&self.0.pool)
        .await?;
        let Some(found) = row.as_ref().map(message).transpose()? else {
            return Ok(None);
        };
        let mut entries = [Stored::Message(found)];
        self.0.files().fill_room(room, &mut entries).await?;
        super::reactions::fill(self.0, room, &mut entries).await?;
        let [Stored::Message(found)] = entries else {
            return Ok(None);
        };
        Ok(Some(found))
    }

    /// Commits several messages to `room` (group commit), new ones with consecutive seqs in the
    /// given order; either all new ones are stored or none. A message its person already stored
    /// in `room` under the same `client_id` (a retry: in this batch, by an earlier commit, on any
    /// server, before a restart) is not stored again but answered with the stored one. The check
    /// costs nothing in the usual case: the insert skips a duplicate by the `messages_once`
    /// unique key, which its count of rows shows; only then (a rare retry) are the batch's
    /// messages looked up and the transaction redone without the retries.
    pub async fn append_batch(
        self,
        room: &str,
        drafts: Vec<NewMessage>,
    ) -> Result<Vec<Committed>, StoreError> {
        let mut answers: Vec<Option<Committed>> = vec![None; drafts.len()];
        // A retry queued in the same batch as its original is that message.
        let mut same_as: Vec<Option<usize>> = vec![None; drafts.len()];
        let mut keys = HashMap::new();
        for (i, draft) in drafts.iter().enumerate() {
            if let (Some(person), Some(client_id)) = (draft.person_id, draft.client_id.as_deref()) {
                match keys.entry((person, client_id)) {
                    Entry::Occupied(first) => same_as[i] = Some(*first.get()),
                    Entry::Vacant(slot) => {
                        slot.insert(i);
                    }
                }
            }
        }
        // Twice at most: a duplicate found on the first try is looked up and left out of the
        // second; a third is only needed if another server stored a retry in between.
        for _ in 0..3 {
            let fresh: Vec<usize> = (0..drafts.len())
                .filter(|&i| same_as[i].is_none() && answers[i].is_none())
                .collect();
            match self
                .insert_batch(room, fresh.iter().map(|&i| &drafts[i]))
                .await?
            {
                Inserted::All(stored) => {
                    for (i, message) in fresh.into_iter().zip(stored) {
                        answers[i] = Some(Committed::New(message));
                    }
                    return drafts
                        .iter()
                        .enumerate()
                        .map(|(i, _)| match (&answers[i], same_as[i]) {
                            (Some(answer), _) => Ok(answer.clone()),
                            (None, Some(first)) => answers[first]
                                .as_ref()
                                .map(|a| Committed::Earlier(a.message().clone()))
                                .ok_or(StoreError::Mismatch {
                                    sent: drafts.len(),
                                    got: i,
                                }),
                            (None, None) => Err(StoreError::Mismatch {
                                sent: drafts.len(),
                                got: i,
                            }),
                        })
                        .collect();
                }
                Inserted::Retries => {
                    // Rare (a retry after a lost ack): which ones, looked up one by one.
                    let mut found = false;
                    for i in fresh {
                        let draft = &drafts[i];
                        let (Some(person), Some(client_id)) =
                            (draft.person_id, draft.client_id.as_deref())
                        else {
                            continue;
                        };
                        if let Some(earlier) = self.sent_before(room, person, client_id).await? {
                            answers[i] = Some(Committed::Earlier(earlier));
                            found = true;
                        }
                    }
                    if !found {
                        break;
                    }
                }
            }
        }
        Err(StoreError::Mismatch {
            sent: drafts.len(),
            got: answers.iter().flatten().count(),
        })
    }

    /// Whether message `seq` of `room` is there to be answered (stored, not deleted).
    pub async fn answerable(self, room: &str, seq: u64) -> Result<bool, StoreError> {
        let row = sqlx::query(&self.0.sql(
            "SELECT 1 FROM messages WHERE room = $1 AND seq = $2 AND kind = 0 AND deleted = 0",
        ))
        .bind(room)
        .bind(signed(seq))
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.is_some())
    }

    /// One try of [`Messages::append_batch`]: all of `drafts` stored with consecutive seqs, or
    /// nothing stored because the store already has some of them.
    async fn insert_batch<'d>(
        self,
        room: &str,
        drafts: impl ExactSizeIterator<Item = &'d NewMessage> + Clone,
    ) -> Result<Inserted, StoreError> {
        let Some(first) = drafts.clone().next() else {
            return Ok(Inserted::All(Vec::new()));
        };
        let count = i64::try_from(drafts.len()).unwrap_or(i64::MAX);
        // Two statements whatever the batch size: SQLite runs on a worker thread of its own, so
        // every statement is a round trip to it.
        let mut tx = self.0.begin_write().await?;
        let last: i64 = sqlx::query(&self.0.sql(
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
        // What replies quote, read after the room's lock: a delete of the original (which takes
        // the same lock) is either before, and the quote says so, or after, and clears it.
        let quotes = quotes_in(self.0, &mut tx, room, drafts.clone()).await?;
        let insert = self.0.sql(&format!(
            "INSERT INTO messages \
             (room, seq, sender, text, at, client_id, action, person_id, mentions, \
             reply_seq, reply_from, reply_text) VALUES {} \
             ON CONFLICT DO NOTHING",
            value_rows(drafts.len(), 11, &[1])
        ));
        let first_seq = last - count + 1;
        let mut query = sqlx::query(&insert).bind(room);
        for ((seq, draft), quote) in (first_seq..).zip(drafts.clone()).zip(&quotes) {
            let (reply_from, reply_text) = match quote {
                Some(quote) => (
                    Some(quote.from.as_str()),
                    (!quote.deleted).then_some(quote.text.as_str()),
                ),
                None => (None, None),
            };
            query = query
                .bind(seq)
                .bind(&draft.from)
                .bind(&draft.text)
                .bind(&draft.at)
                .bind(draft.client_id.as_deref())
                .bind(i64::from(draft.action))
                .bind(draft.person_id)
                .bind(super::mentions_column(&draft.mentions))
                .bind(draft.answering.map(signed))
                .bind(reply_from)
                .bind(reply_text);
        }
        // Only `messages_once` can turn a row away here (the room row's lock makes the seqs
        // free); a row skipped for any other reason is not found as a retry, and the commit fails.
        let inserted = query.execute(&mut *tx).await?.rows_affected();
        if inserted != drafts.len() as u64 {
            // A seq left unused would be a gap in the room's log: nothing of this try is kept.
            tx.rollback().await?;
            return Ok(Inserted::Retries);
        }
        let mut attached = Vec::with_capacity(drafts.len());
        for (seq, draft) in (first_seq..).zip(drafts.clone()) {
            attached.push(if draft.files.is_empty() {
                Vec::new()
            } else {
                let to = super::files::Attach::Room(room, seq);
                super::files::attach(self.0, &mut tx, to, draft.person_id, &draft.files).await?
            });
        }
        let stored = stored_messages(room, first_seq, drafts, attached, quotes)?;
        tx.commit().await?;
        Ok(Inserted::All(stored))
    }

    /// A page of `room`'s messages as they are now, oldest first: the latest `limit`, or, with
    /// `before` (scrolling up), the `limit` before that seq. The latest page also ends with the
    /// room's last entry when that is a change, so it ends at the room's last position: the
    /// changes before it are already in the messages (each is as it is now), so a page never
    /// fills up with edits while the room has messages.
    pub async fn history(
        self,
        room: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        let rows = sqlx::query(&self.0.sql(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE room = $1 AND seq < $2 AND kind = 0 ORDER BY seq DESC LIMIT $3"
        )))
        .bind(room)
        .bind(before.map_or(i64::MAX, signed))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.0.pool)
        .await?;
        let complete = rows.len() <= limit as usize;
        let mut entries = rows
            .iter()
            .take(limit as usize)
            .map(entry)
            .collect::<Result<Vec<_>, _>>()?;
        entries.reverse();
        if before.is_none() {
            let last = sqlx::query(&self.0.sql(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room = $1 AND kind <> 0 \
                 AND seq = (SELECT last_seq FROM rooms WHERE name = $1)"
            )))
            .bind(room)
            .fetch_optional(&self.0.pool)
            .await?;
            if let Some(last) = last {
                entries.push(entry(&last)?);
            }
        }
        self.0.files().fill_room(room, &mut entries).await?;
        super::reactions::fill(self.0, room, &mut entries).await?;
        Ok(Page { entries, complete })
    }

    /// The messages around position `at` of `room` as they are now, oldest first (a permalink):
    /// up to `limit` before it and the message at `at` itself, then up to `limit` after it.
    /// Changes are left out: each message is already as it is now, and a catch-up from the last
    /// one shown brings any change stored after it.
    pub async fn around(self, room: &str, at: u64, limit: u32) -> Result<Page, StoreError> {
        // Scrolling up from just after `at`: messages only, `at` the newest.
        let mut page = self
            .history(room, Some(at.saturating_add(1)), limit + 1)
            .await?;
        let rows = sqlx::query(&self.0.sql(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE room = $1 AND seq > $2 AND kind = 0 ORDER BY seq LIMIT $3"
        )))
        .bind(room)
        .bind(signed(at))
        .bind(i64::from(limit))
        .fetch_all(&self.0.pool)
        .await?;
        let mut after = rows.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
        self.0.files().fill_room(room, &mut after).await?;
        super::reactions::fill(self.0, room, &mut after).await?;
        page.entries.append(&mut after);
        Ok(page)
    }

    /// Up to `limit` entries of `room`'s log after position `after`, oldest first: exactly what a
    /// client that saw `after` missed, messages and changes.
    pub async fn since(
        self,
        room: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Stored>, StoreError> {
        let rows = sqlx::query(&self.0.sql(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        )))
        .bind(room)
        .bind(signed(after))
        .bind(i64::from(limit))
        .fetch_all(&self.0.pool)
        .await?;
        let mut entries = rows.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
        self.0.files().fill_room(room, &mut entries).await?;
        super::reactions::fill(self.0, room, &mut entries).await?;
        Ok(entries)
    }

    /// Edits or deletes message `target` of `room`, in one transaction: the change takes the
    /// room's next position (the room row's lock orders it among messages and other changes), the
    /// message's row becomes its current version, and a delete empties the text of the message
    /// and of its earlier edits. Only the author (any of their sessions) may edit; the author or a moderator may
    /// delete. A refusal stores nothing.
    pub async fn change(
        self,
        room: &str,
        target: u64,
        draft: ChangeDraft,
    ) -> Result<ChangeOutcome, StoreError> {
        let store = self.0;
        let mut tx = store.begin_write().await?;
        // The lock first: a check made before it could be stale by the time the change is
        // written (a delete racing an edit).
        let Some(position) = take_position(store, &mut tx, room).await? else {
            return Ok(ChangeOutcome::NotFound);
        };
        let Some(original) = original(store, &mut tx, room, target).await? else {
            return Ok(ChangeOutcome::NotFound);
        };
        let own = original.author.is_some() && original.author == draft.person_id;
        let moderating = !own
            && draft.moderator
            && draft.text.is_none()
            && is_moderator(store, &mut tx, draft.person_id).await?;
        let allowed = own || moderating;
        // Someone else's deleted message is as good as gone: not found, not forbidden.
        match (original.deleted, allowed, &draft.text) {
            (true, true, None) => return Ok(ChangeOutcome::AlreadyDeleted),
            (true, _, _) => return Ok(ChangeOutcome::NotFound),
            (false, false, _) => return Ok(ChangeOutcome::Forbidden),
            (false, true, _) => {}
        }
        if draft.text.is_some()
            && edit_count(store, &mut tx, room, target).await? >= i64::from(draft.max_edits)
        {
            return Ok(ChangeOutcome::TooManyEdits);
        }
        let mentions = super::mentions_column(&draft.mentions);
        let kind = rewrite(store, &mut tx, room, target, &draft, &mentions).await?;
        let row = ChangeRow {
            room,
            position,
            target,
            kind,
            mentions: &mentions,
        };
        insert_change(store, &mut tx, &row, &draft).await?;
        if moderating {
            let detail = format!("#{room} message {target}");
            super::moderation::audit(
                store,
                &mut tx,
                &draft.at,
                &draft.by,
                "delete",
                &original.sender,
                &detail,
            )
            .await?;
        }
        tx.commit().await?;
        let change = Change {
            room: room.to_owned(),
            seq: target,
            log_seq: unsigned(position)?,
            by: draft.by,
            at: draft.at,
            text: draft.text,
            mentions: draft.mentions,
            reply_to: None,
        };
        Ok(ChangeOutcome::Stored(if kind == KIND_EDIT {
            Stored::Edited(change)
        } else {
            Stored::Deleted(change)
        }))
    }

    /// The last `seq` of `room` (0 for a room without messages, or none at all).
    pub async fn room_head(self, room: &str) -> Result<u64, StoreError> {
        let row = sqlx::query(&self.0.sql("SELECT last_seq FROM rooms WHERE name = $1"))
            .bind(room)
            .fetch_optional(&self.0.pool)
            .await?;
        match row {
            Some(row) => unsigned(row.try_get(0)?),
            None => Ok(0),
        }
    }

    /// The last `seq` of each of `rooms` that exists (a position check: one indexed read per room,
    /// not blocked by writers).
    pub async fn room_heads(self, rooms: &[&str]) -> Result<Vec<(String, u64)>, StoreError> {
        let mut heads = Vec::with_capacity(rooms.len());
        for chunk in rooms.chunks(HEADS_CHUNK) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = self.0.sql(&format!(
                "SELECT name, last_seq FROM rooms WHERE name IN ({list})"
            ));
            let mut query = sqlx::query(&sql);
            for room in chunk {
                query = query.bind(*room);
            }
            for row in query.fetch_all(&self.0.pool).await? {
                heads.push((row.try_get(0)?, unsigned(row.try_get(1)?)?));
            }
        }
        Ok(heads)
    }
}

/// How many rooms one position-check statement names at most.
const HEADS_CHUNK: usize = 500;

/// The log row of a change, apart from what its draft says.
struct ChangeRow<'a> {
    room: &'a str,
    position: i64,
    target: u64,
    kind: i64,
    mentions: &'a Option<String>,
}

/// What each of `drafts` quotes, if it is a reply (read in the commit's transaction).
async fn quotes_in<'d>(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    room: &str,
    drafts: impl Iterator<Item = &'d NewMessage>,
) -> Result<Vec<Option<Quote>>, StoreError> {
    let mut quotes = Vec::new();
    for draft in drafts {
        quotes.push(match draft.answering {
            Some(seq) => Some(quote_in(store, tx, room, seq).await?),
            None => None,
        });
    }
    Ok(quotes)
}

/// The messages a commit stored, from their drafts, from seq `first_seq` on.
fn stored_messages<'d>(
    room: &str,
    first_seq: i64,
    drafts: impl Iterator<Item = &'d NewMessage>,
    attached: Vec<Vec<FileInfo>>,
    quotes: Vec<Option<Quote>>,
) -> Result<Vec<ChatMessage>, StoreError> {
    (first_seq..)
        .zip(drafts)
        .zip(attached)
        .zip(quotes)
        .map(|(((seq, draft), files), reply_to)| {
            Ok(ChatMessage {
                room: room.to_owned(),
                seq: unsigned(seq)?,
                from: draft.from.clone(),
                text: draft.text.clone(),
                at: draft.at.clone(),
                client_id: draft.client_id.clone(),
                action: draft.action,
                edited: false,
                deleted: false,
                mentions: draft.mentions.clone(),
                files,
                reactions: Default::default(),
                reply_to: reply_to.map(Box::new),
            })
        })
        .collect()
}

/// What a reply to message `seq` of `room` quotes of it: its author and first
/// [`crate::protocol::QUOTE_CHARS`] characters, or that it was deleted (or never was).
async fn quote_in(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    room: &str,
    seq: u64,
) -> Result<Quote, StoreError> {
    let row = sqlx::query(&store.sql(
        "SELECT sender, text, deleted FROM messages WHERE room = $1 AND seq = $2 AND kind = 0",
    ))
    .bind(room)
    .bind(signed(seq))
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(row) if row.try_get::<i64, _>("deleted")? == 0 => {
            let (from, text): (String, String) = (row.try_get("sender")?, row.try_get("text")?);
            Ok(Quote::of(seq, None, &from, &text))
        }
        _ => Ok(Quote::gone(seq, None)),
    }
}

/// Whether the person is a moderator is the store's word, read in the change's transaction: a
/// moderator revoked a moment ago (by `chinwag admin`, another process) cannot delete.
async fn is_moderator(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    person_id: Option<i64>,
) -> Result<bool, StoreError> {
    Ok(
        sqlx::query(&store.sql("SELECT 1 FROM people WHERE id = $1 AND moderator = 1"))
            .bind(person_id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

/// How many times message `target` of `room` was edited.
async fn edit_count(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    room: &str,
    target: u64,
) -> Result<i64, StoreError> {
    Ok(sqlx::query(
        &store.sql("SELECT COUNT(*) FROM messages WHERE room = $1 AND target = $2 AND kind = 1"),
    )
    .bind(room)
    .bind(signed(target))
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?)
}

/// Rewrites message `target`'s row to its version after the change (a delete also empties its
/// earlier edits and unlinks its files); the change's kind of log row.
async fn rewrite(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    room: &str,
    target: u64,
    draft: &ChangeDraft,
    mentions: &Option<String>,
) -> Result<i64, StoreError> {
    match &draft.text {
        Some(text) => {
            sqlx::query(&store.sql(
                "UPDATE messages SET text = $3, edited = 1, mentions = $4 \
                     WHERE room = $1 AND seq = $2",
            ))
            .bind(room)
            .bind(signed(target))
            .bind(text)
            .bind(mentions)
            .execute(&mut **tx)
            .await?;
            Ok(KIND_EDIT)
        }
        None => {
            sqlx::query(&store.sql(
                "UPDATE messages SET text = '', deleted = 1, mentions = NULL \
                 WHERE room = $1 AND (seq = $2 OR target = $2)",
            ))
            .bind(room)
            .bind(signed(target))
            .execute(&mut **tx)
            .await?;
            sqlx::query(&store.sql("DELETE FROM reactions WHERE room = $1 AND seq = $2"))
                .bind(room)
                .bind(signed(target))
                .execute(&mut **tx)
                .await?;
            // Replies keep who they answered, not its words.
            sqlx::query(
                &store.sql(
                    "UPDATE messages SET reply_text = NULL WHERE room = $1 AND reply_seq = $2",
                ),
            )
            .bind(room)
            .bind(signed(target))
            .execute(&mut **tx)
            .await?;
            let of = super::files::Attach::Room(room, signed(target));
            super::files::unlink(store, tx, of).await?;
            Ok(KIND_DELETE)
        }
    }
}

/// Writes the change's own row of the log, at its position.
async fn insert_change(
    store: &Store,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    row: &ChangeRow<'_>,
    draft: &ChangeDraft,
) -> Result<(), StoreError> {
    sqlx::query(&store.sql(
        "INSERT INTO messages \
         (room, seq, sender, text, at, kind, target, person_id, mentions) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    ))
    .bind(row.room)
    .bind(row.position)
    .bind(&draft.by)
    .bind(draft.text.as_deref().unwrap_or_default())
    .bind(&draft.at)
    .bind(row.kind)
    .bind(signed(row.target))
    .bind(draft.person_id)
    .bind(row.mentions)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
