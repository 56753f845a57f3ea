//! Bringing a client up to date from the store: a room's latest page, exactly what came after its
//! `since`, what a slow reader missed, and private messages likewise. (One concept with four
//! entry points sharing one paced cursor; about a third of the file is its tests.)
//!
//! Every reply is bounded and paced: a catch-up is read from the store a page at a time and sent as
//! `history` frames of at most [`MAX_SERVER_FRAME`] bytes, each written (and so taken by the client)
//! before the next page is read. What a connection holds unsent is at most [`HELD_FRAMES`] frames:
//! entries of a page past that are dropped and read again once the client took the rest. The
//! entries replayed count against the client address's catch-up budget
//! (`CHINWAG_CATCH_UP_PER_SEC`): past it the catch-up waits, so one address's reconnects cannot
//! keep the store busy for everyone.
//!
//! A read the store cannot serve leaves the room (or the private messages) stale: the client is
//! told, nothing of it with a position is passed on live meanwhile, and the catch-up is retried
//! with backoff until it succeeds. The client's position so never moves past a hole.

use tungstenite::Utf8Bytes;

use super::handshake::MAX_SERVER_FRAME;
use super::live::{Cursor, Live, Stale};
use super::socket::End;
use super::{Connection, Ctx, WsIo};
use crate::protocol::{DirectMessage, ErrorCode, ServerMsg, Stored};
use crate::server::store::{DirectEntry, StoreError};

/// How many messages a room's latest page holds (a fresh connection, a join, scrolling up).
pub const HISTORY_PAGE: u32 = 50;

/// How many private messages a fresh connection is shown.
pub const DM_PAGE: u32 = 100;

/// How many messages one store read of a catch-up takes at most (fewer after a page of long
/// messages: see [`HELD_FRAMES`]).
const CATCH_UP_PAGE: u32 = 50;

/// The fewest a catch-up page is cut to after long messages.
const MIN_CATCH_UP_PAGE: u32 = 4;

/// How many full frames a catch-up holds at once at most: what a client that stops reading leaves
/// in the server's memory.
pub const HELD_FRAMES: usize = 2;

/// Room for a frame's own fields around its messages.
const ENVELOPE: usize = 512;

/// A `history` frame's fields besides its messages.
#[derive(Debug, Clone, Default)]
pub struct HistoryFrame<'a> {
    pub room: &'a str,
    pub complete: bool,
    pub reset: bool,
    pub before: Option<u64>,
    pub reply_to: Option<&'a str>,
}

impl<S: WsIo> Connection<S> {
    /// Sends the client what it is missing of `room`: the latest page if it has nothing (`since` is
    /// `None`); exactly what came after `since`; or, when that gap is larger than the catch-up
    /// limit or `since` is beyond the room's end (the client saw another store), the latest page
    /// with `reset`.
    pub(super) async fn catch_up(
        &mut self,
        live: &mut Live,
        room: &str,
        since: Option<u64>,
        reply_to: Option<&str>,
    ) -> Result<(), End> {
        let Some(since) = since else {
            return self.latest_page(live, room, false, reply_to).await;
        };
        // The connection is subscribed, so the room is live: its head is known once it has been
        // committed to or read here. A `since` beyond it may be a message another server stored
        // that has not arrived here yet: only the store says whether it is beyond the room's end.
        let head = match self.ctx.hub.known_head(room) {
            Some(head) if since <= head => head,
            _ => match self.ctx.store.messages().room_head(room).await {
                Ok(head) => {
                    self.ctx.hub.learn_head(room, head);
                    head
                }
                Err(err) => return self.went_stale(live, room, Stale::Missed, since, err).await,
            },
        };
        if since > head || head - since > self.ctx.limits.catch_up_limit {
            return self.latest_page(live, room, true, reply_to).await;
        }
        if let Some(cursor) = live.cursors.get_mut(room) {
            cursor.delivered = cursor.delivered.max(since);
        }
        if head == since {
            self.ctx.hub.repair().reported(room, since);
            // Nothing was missed: said so, without reading a page.
            let frame = history_frame(
                &HistoryFrame {
                    room,
                    complete: true,
                    reply_to,
                    ..HistoryFrame::default()
                },
                &[],
                false,
            );
            return self.socket.send_raw(frame).await;
        }
        self.fill(live, room, None).await
    }

    /// Sends `room`'s latest page, cut to fit one frame.
    pub(super) async fn latest_page(
        &mut self,
        live: &mut Live,
        room: &str,
        reset: bool,
        reply_to: Option<&str>,
    ) -> Result<(), End> {
        let page = match self
            .ctx
            .store
            .messages()
            .history(room, None, HISTORY_PAGE)
            .await
        {
            Ok(page) => page,
            Err(err) => return self.went_stale(live, room, Stale::Latest, 0, err).await,
        };
        let (messages, cut) = fitting_tail(&page.entries);
        if let Some(cursor) = live.cursors.get_mut(room) {
            if let Some(last) = messages.last() {
                if reset {
                    cursor.delivered = 0;
                    cursor.acked.clear();
                }
                cursor.advance(last.1);
            }
            cursor.stale = None;
            self.ctx.hub.repair().reported(room, cursor.delivered);
        }
        let frame = history_frame(
            &HistoryFrame {
                room,
                complete: page.complete && !cut,
                reset,
                before: None,
                reply_to,
            },
            &messages,
            false,
        );
        self.socket.send_raw(frame).await
    }

    /// Sends everything of `room` after the cursor (up to `upto`, if given), a page at a time, as
    /// long as the store has more. Own messages acked meanwhile are skipped (the client has their
    /// ack). The last frame is the one without `more`.
    pub(super) async fn fill(
        &mut self,
        live: &mut Live,
        room: &str,
        upto: Option<u64>,
    ) -> Result<(), End> {
        let mut limit = CATCH_UP_PAGE;
        // Whether the client was told more follows and has not had the last frame yet.
        let mut open = false;
        loop {
            let Some(cursor) = live.cursors.get(room) else {
                return Ok(());
            };
            let after = cursor.delivered;
            if upto.is_some_and(|upto| after >= upto) {
                if open {
                    self.socket.send_raw(history_end(room)).await?;
                }
                return Ok(());
            }
            self.ctx.pace_catch_up(limit).await;
            // One more than is taken: whether the store has more decides `more` on the last frame.
            let mut page = match self
                .ctx
                .store
                .messages()
                .since(room, after, limit + 1)
                .await
            {
                Ok(page) => page,
                Err(err) => return self.went_stale(live, room, Stale::Missed, after, err).await,
            };
            let in_store = page.len() > limit as usize;
            page.truncate(limit as usize);
            let Some(cursor) = live.cursors.get_mut(room) else {
                return Ok(());
            };
            let (messages, done) = take_page(cursor, page, upto, in_store, &mut limit);
            open = self.send_caught_up(room, &messages, done, open).await?;
            if done {
                if let Some(cursor) = live.cursors.get(room) {
                    self.ctx.hub.repair().reported(room, cursor.delivered);
                }
                return Ok(());
            }
        }
    }

    /// Sends one taken page of a catch-up of `room` as `history` frames, `more` on all but the
    /// last frame of the last page. Whether the client was told more follows, after these frames.
    async fn send_caught_up(
        &mut self,
        room: &str,
        messages: &[(String, u64)],
        done: bool,
        mut open: bool,
    ) -> Result<bool, End> {
        let header = HistoryFrame {
            room,
            complete: true,
            ..HistoryFrame::default()
        };
        let parts = chunks(messages);
        for (i, chunk) in parts.iter().enumerate() {
            let more = !done || i + 1 < parts.len();
            let frame = history_frame(&header, chunk, more);
            self.socket.send_raw(frame).await?;
            open = more;
        }
        if done && (open || parts.is_empty()) {
            // Nothing was sent, or the client was told more follows: say it is done.
            self.socket.send_raw(history_end(room)).await?;
        }
        Ok(open)
    }

    /// The client fell behind in `room`: tell it, then send exactly what it missed, however much.
    pub(super) async fn resync(
        &mut self,
        live: &mut Live,
        room: &str,
        missed: u64,
        upto: Option<u64>,
    ) -> Result<(), End> {
        self.ctx.metrics.lagged();
        // What it had not been sent, counted in the room's positions (messages and changes): the
        // ring's own count also counts notices (typing, presence) that are not replayed.
        let delivered = live.cursors.get(room).map_or(0, |c| c.delivered);
        let missed = self
            .ctx
            .hub
            .known_head(room)
            .filter(|head| *head >= delivered)
            .map_or(missed, |head| head - delivered);
        tracing::info!(room, missed, "fell behind; resyncing from the store");
        let lagged = ServerMsg::Lagged {
            room: room.to_owned(),
            missed,
        };
        self.socket.send(&lagged).await?;
        if live.cursors.get(room).is_some_and(|c| c.stale.is_some()) {
            // Already waiting for the store; the retry brings this too.
            return Ok(());
        }
        self.fill(live, room, upto).await
    }

    /// Marks `room` stale after a failed read and tells the client; a retry follows.
    async fn went_stale(
        &mut self,
        live: &mut Live,
        room: &str,
        stale: Stale,
        since: u64,
        err: StoreError,
    ) -> Result<(), End> {
        tracing::error!(%err, room, "catch-up read failed; will retry");
        if live.room_went_stale(room, stale, since) != Some(false) {
            // Left meanwhile, or the client was told already.
            return Ok(());
        }
        let err = crate::protocol::FrameError::new(
            ErrorCode::Unavailable,
            format!(
                "the history of #{room} is unavailable right now; it will follow when the store \
                 answers"
            ),
        );
        self.socket.send(&err.to_server_msg()).await
    }

    /// Tries every stale catch-up again.
    pub(super) async fn retry_stale(&mut self, live: &mut Live) -> Result<(), End> {
        for (room, stale) in live.stale_rooms() {
            match stale {
                Stale::Latest => self.latest_page(live, &room, false, None).await?,
                Stale::Missed => self.fill(live, &room, None).await?,
            }
        }
        if live.dm_stale {
            let since = live.dm_delivered;
            self.catch_up_directs(live, Some(since)).await?;
        }
        live.retried();
        Ok(())
    }

    /// Sends the client its private messages: the latest ones, or exactly those after `since`,
    /// however many (paced as the client reads). Only a `since` beyond the last private message
    /// stored (the client saw another store) gets the latest ones with `reset`.
    pub(super) async fn catch_up_directs(
        &mut self,
        live: &mut Live,
        since: Option<u64>,
    ) -> Result<(), End> {
        let store = self.ctx.store.clone();
        let beyond = match since {
            Some(after) => match store.directs().direct_head().await {
                Ok(head) => after > head,
                Err(err) => return self.directs_stale(live, err).await,
            },
            None => false,
        };
        if since.is_none() || beyond {
            let person = live.me.person.id.get();
            self.ctx.pace_catch_up(DM_PAGE).await;
            let latest = match store.directs().of_person(person, None, DM_PAGE).await {
                Ok(latest) => latest,
                Err(err) => return self.directs_stale(live, err).await,
            };
            let encoded: Vec<(String, u64)> = latest.iter().map(encode_direct_entry).collect();
            let (fitting, _) = fitting_tail_encoded(encoded);
            if beyond {
                live.dm_delivered = 0;
            }
            if let Some(last) = fitting.last() {
                live.dm_delivered = live.dm_delivered.max(last.1);
            }
            live.dm_stale = false;
            let header = DmHistoryFrame {
                reset: beyond,
                ..DmHistoryFrame::default()
            };
            return self
                .socket
                .send_raw(dm_history_frame(&fitting, header))
                .await;
        }
        if let Some(since) = since {
            live.dm_delivered = live.dm_delivered.max(since);
        }
        self.fill_directs(live, None).await
    }

    /// Tells the client it has every private message (after `since`, or none at all), without
    /// reading the store: the caller knows.
    pub(super) async fn no_new_directs(
        &mut self,
        live: &mut Live,
        since: Option<u64>,
    ) -> Result<(), End> {
        live.dm_delivered = live.dm_delivered.max(since.unwrap_or(0));
        live.dm_stale = false;
        self.socket
            .send_raw(dm_history_frame(&[], DmHistoryFrame::default()))
            .await
    }

    /// Sends every private message of the session after the last one sent to the client, up to
    /// `upto` if given, as `dm_history` frames, a page at a time (at most [`HELD_FRAMES`] frames
    /// held).
    pub(super) async fn fill_directs(
        &mut self,
        live: &mut Live,
        upto: Option<u64>,
    ) -> Result<(), End> {
        let person = live.me.person.id.get();
        let store = self.ctx.store.clone();
        let mut limit = CATCH_UP_PAGE;
        let mut open = false;
        loop {
            let after = live.dm_delivered;
            if upto.is_some_and(|upto| after >= upto) {
                if open {
                    let end = dm_history_frame(&[], DmHistoryFrame::default());
                    self.socket.send_raw(end).await?;
                }
                return Ok(());
            }
            self.ctx.pace_catch_up(limit).await;
            let mut page = match store
                .directs()
                .of_person(person, Some(after), limit + 1)
                .await
            {
                Ok(page) => page,
                Err(err) => return self.directs_stale(live, err).await,
            };
            let in_store = page.len() > limit as usize;
            page.truncate(limit as usize);
            let reached = page
                .last()
                .is_some_and(|last| upto.is_some_and(|upto| last.id() >= upto));
            let mut encoded: Vec<(String, u64)> = page
                .iter()
                .filter(|entry| upto.is_none_or(|upto| entry.id() <= upto))
                .map(encode_direct_entry)
                .collect();
            drop(page);
            let (kept, cut) = holdable(encoded.iter().map(|(json, _)| json.len()));
            encoded.truncate(kept);
            if cut {
                limit = (kept as u32).clamp(MIN_CATCH_UP_PAGE, CATCH_UP_PAGE);
            }
            let done = (reached || !in_store) && !cut;
            if let Some(last) = encoded.last() {
                live.dm_delivered = live.dm_delivered.max(last.1);
            }
            live.dm_stale = false;
            let parts = chunks(&encoded);
            for (i, chunk) in parts.iter().enumerate() {
                let more = !done || i + 1 < parts.len();
                let header = DmHistoryFrame {
                    more,
                    ..DmHistoryFrame::default()
                };
                self.socket
                    .send_raw(dm_history_frame(chunk, header))
                    .await?;
                open = more;
            }
            if done {
                if open || parts.is_empty() {
                    let end = dm_history_frame(&[], DmHistoryFrame::default());
                    self.socket.send_raw(end).await?;
                }
                return Ok(());
            }
        }
    }

    async fn directs_stale(&mut self, live: &mut Live, err: StoreError) -> Result<(), End> {
        tracing::error!(%err, "reading private messages failed; will retry");
        if live.directs_went_stale() {
            return Ok(());
        }
        let err = crate::protocol::FrameError::new(
            ErrorCode::Unavailable,
            "private messages are unavailable right now; they will follow when the store answers",
        );
        self.socket.send(&err.to_server_msg()).await
    }
}

impl Ctx {
    /// Waits until the client address's catch-up budget has room for `entries` more: replaying
    /// the store is paced per address, not refused.
    async fn pace_catch_up(&self, entries: u32) {
        loop {
            match self
                .addresses
                .catch_up
                .check_n(self.peer, f64::from(entries))
            {
                Ok(()) => return,
                Err(wait) => {
                    self.metrics.refused("catch_up_paced");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// The last frame of a catch-up whose entries were all sent (or all the client's own).
/// Takes a page of a catch-up read from the store into `cursor`: the entries to send (own acked
/// ones are skipped, the client has them), and whether the catch-up is done after them (`upto`
/// reached, or the store had no more). What does not fit the frames a catch-up may hold is left to
/// be read again, with `limit` cut to what fitted.
fn take_page(
    cursor: &mut Cursor,
    page: Vec<Stored>,
    upto: Option<u64>,
    in_store: bool,
    limit: &mut u32,
) -> (Vec<(String, u64)>, bool) {
    // Each entry with its JSON, `None` for my own acked ones (the client has them).
    let mut items: Vec<(Option<String>, u64)> = Vec::with_capacity(page.len());
    let mut reached = false;
    for entry in &page {
        let seq = entry.position();
        if upto.is_some_and(|upto| seq > upto) {
            reached = true;
            break;
        }
        let json = (!cursor.acked.contains(&seq)).then(|| entry.to_json());
        items.push((json, seq));
    }
    drop(page);
    // Keep what fits in the frames a catch-up may hold; the rest is read again later.
    let (kept, cut) = holdable(
        items
            .iter()
            .map(|(json, _)| json.as_ref().map_or(0, String::len)),
    );
    items.truncate(kept);
    if cut {
        *limit = (kept as u32).clamp(MIN_CATCH_UP_PAGE, CATCH_UP_PAGE);
    }
    for (_, seq) in &items {
        cursor.advance(*seq);
    }
    cursor.stale = None;
    let done = reached || (!in_store && !cut) || upto.is_some_and(|upto| cursor.delivered >= upto);
    let messages = items
        .into_iter()
        .filter_map(|(json, seq)| json.map(|json| (json, seq)))
        .collect();
    (messages, done)
}

fn history_end(room: &str) -> Utf8Bytes {
    let header = HistoryFrame {
        room,
        complete: true,
        ..HistoryFrame::default()
    };
    history_frame(&header, &[], false)
}

/// An entry of a room's log as it appears in a `history` frame, with its position.
pub fn encode_entry(entry: &Stored) -> (String, u64) {
    (entry.to_json(), entry.position())
}

/// A private message as it appears in a `dm_history` frame, with its id.
pub fn encode_direct(dm: &DirectMessage) -> (String, u64) {
    let json = serde_json::to_string(&ServerMsg::Dm(dm.clone())).unwrap_or_default();
    (json, dm.id)
}

/// A private message, or a reaction to one, encoded as its live frame (`dm`, `dm_reacted`), with
/// its id.
pub fn encode_direct_entry(entry: &DirectEntry) -> (String, u64) {
    match entry {
        DirectEntry::Message(dm) => encode_direct(dm),
        DirectEntry::Reacted(_) => (entry.frame().to_json(), entry.id()),
    }
}

/// Whether an encoded private entry is a reaction: serde writes the frame's tag first.
fn is_reaction(json: &str) -> bool {
    json.starts_with(r#"{"type":"dm_reacted""#)
}

/// The newest messages of a page that fit in one frame, oldest first, and whether older ones were
/// cut off to fit.
pub fn fitting_tail(entries: &[Stored]) -> (Vec<(String, u64)>, bool) {
    fitting_tail_encoded(entries.iter().map(encode_entry).collect())
}

pub fn fitting_tail_encoded(mut encoded: Vec<(String, u64)>) -> (Vec<(String, u64)>, bool) {
    let mut size = ENVELOPE;
    let mut keep = 0;
    for (json, _) in encoded.iter().rev() {
        if size + json.len() + 1 > MAX_SERVER_FRAME {
            break;
        }
        size += json.len() + 1;
        keep += 1;
    }
    let cut = keep < encoded.len();
    let tail = encoded.split_off(encoded.len() - keep);
    (tail, cut)
}

/// Encoded messages in runs that each fit in one frame.
fn chunks(encoded: &[(String, u64)]) -> Vec<&[(String, u64)]> {
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0, ENVELOPE);
    for (i, (json, _)) in encoded.iter().enumerate() {
        if size + json.len() + 1 > MAX_SERVER_FRAME && i > start {
            chunks.push(&encoded[start..i]);
            start = i;
            size = ENVELOPE;
        }
        size += json.len() + 1;
    }
    if start < encoded.len() {
        chunks.push(&encoded[start..]);
    }
    chunks
}

/// A `history` frame from messages already encoded (each serialized once, whatever the paging).
pub fn history_frame(
    header: &HistoryFrame<'_>,
    messages: &[(String, u64)],
    more: bool,
) -> Utf8Bytes {
    let mut frame = String::with_capacity(
        ENVELOPE
            + messages
                .iter()
                .map(|(json, _)| json.len() + 1)
                .sum::<usize>(),
    );
    frame.push_str(r#"{"type":"history","room":"#);
    frame.push_str(&json_string(header.room));
    frame.push_str(r#","messages":["#);
    push_joined(&mut frame, messages);
    frame.push_str(r#"],"complete":"#);
    frame.push_str(if header.complete { "true" } else { "false" });
    if header.reset {
        frame.push_str(r#","reset":true"#);
    }
    if let Some(before) = header.before {
        frame.push_str(&format!(r#","before":{before}"#));
    }
    if more {
        frame.push_str(r#","more":true"#);
    }
    if let Some(reply_to) = header.reply_to {
        frame.push_str(r#","reply_to":"#);
        frame.push_str(&json_string(reply_to));
    }
    frame.push('}');
    Utf8Bytes::from(frame)
}

/// A `dm_history` frame's fields besides its messages.
#[derive(Debug, Clone, Default)]
pub struct DmHistoryFrame<'a> {
    pub reset: bool,
    pub more: bool,
    pub before: Option<u64>,
    pub with: Option<&'a str>,
    pub complete: bool,
    pub reply_to: Option<&'a str>,
}

/// A `dm_history` frame from private messages already encoded.
pub fn dm_history_frame(entries: &[(String, u64)], header: DmHistoryFrame<'_>) -> Utf8Bytes {
    let (reactions, messages): (Vec<_>, Vec<_>) =
        entries.iter().partition(|(json, _)| is_reaction(json));
    let mut frame = String::from(r#"{"type":"dm_history","messages":["#);
    push_joined(&mut frame, messages);
    frame.push(']');
    if !reactions.is_empty() {
        frame.push_str(r#","reactions":["#);
        push_joined(&mut frame, reactions);
        frame.push(']');
    }
    if header.reset {
        frame.push_str(r#","reset":true"#);
    }
    if header.more {
        frame.push_str(r#","more":true"#);
    }
    if let Some(before) = header.before {
        frame.push_str(&format!(r#","before":{before}"#));
    }
    if let Some(with) = header.with {
        frame.push_str(r#","with":"#);
        frame.push_str(&json_string(with));
    }
    if header.complete {
        frame.push_str(r#","complete":true"#);
    }
    if let Some(reply_to) = header.reply_to {
        frame.push_str(r#","reply_to":"#);
        frame.push_str(&json_string(reply_to));
    }
    frame.push('}');
    Utf8Bytes::from(frame)
}

/// How many of a page's entries, of these encoded sizes, a catch-up may hold at once (at least
/// one), and whether that leaves some out.
fn holdable(sizes: impl Iterator<Item = usize>) -> (usize, bool) {
    let budget = HELD_FRAMES * MAX_SERVER_FRAME;
    let (mut kept, mut total, mut cut) = (0, 0, false);
    for size in sizes {
        if kept > 0 && total + size + 1 > budget {
            cut = true;
            break;
        }
        total += size + 1;
        kept += 1;
    }
    (kept, cut)
}

fn push_joined<'a>(frame: &mut String, messages: impl IntoIterator<Item = &'a (String, u64)>) {
    for (i, (json, _)) in messages.into_iter().enumerate() {
        if i > 0 {
            frame.push(',');
        }
        frame.push_str(json);
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Change, ChatMessage};

    fn message(seq: u64, text: &str) -> Stored {
        Stored::Message(ChatMessage {
            room: "general".into(),
            seq,
            from: "a\"b".into(),
            text: text.into(),
            at: "2026-11-26T00:00:00.000Z".into(),
            client_id: Some("c-1".into()),
            action: seq.is_multiple_of(2),
            edited: seq.is_multiple_of(3),
            deleted: false,
            mentions: Vec::new(),
            files: Vec::new(),
            reply_to: None,
            reactions: Default::default(),
        })
    }

    fn change(seq: u64, log_seq: u64, text: Option<&str>) -> Stored {
        let change = Change {
            room: "general".into(),
            seq,
            log_seq,
            by: "a\"b".into(),
            at: "2026-11-26T00:00:00.000Z".into(),
            text: text.map(str::to_owned),
            mentions: Vec::new(),
            reply_to: None,
        };
        if text.is_some() {
            Stored::Edited(change)
        } else {
            Stored::Deleted(change)
        }
    }

    #[test]
    fn a_hand_built_history_frame_is_what_serde_would_write() {
        let messages = vec![
            message(1, "hi \u{1}\n"),
            message(2, "yo"),
            change(1, 3, Some("hi!")),
            change(2, 4, None),
        ];
        let encoded: Vec<_> = messages.iter().map(encode_entry).collect();
        assert_eq!(
            encoded.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        let header = HistoryFrame {
            room: "general",
            complete: false,
            reset: true,
            before: Some(9),
            reply_to: Some("r\"1"),
        };
        let frame = history_frame(&header, &encoded, true);
        let expected = ServerMsg::History {
            room: "general".into(),
            messages,
            complete: false,
            reset: true,
            before: Some(9),
            more: true,
            reply_to: Some("r\"1".into()),
        };
        assert_eq!(ServerMsg::parse(frame.as_str()).ok(), Some(expected));
        let empty = history_frame(
            &HistoryFrame {
                room: "x",
                ..HistoryFrame::default()
            },
            &[],
            false,
        );
        assert!(matches!(
            ServerMsg::parse(empty.as_str()),
            Ok(ServerMsg::History { .. })
        ));
    }

    #[test]
    fn a_catch_up_holds_two_frames_of_a_page_of_long_messages_at_most() {
        // A store page of 50 messages of 4 KB: 200 KB, more than two 64 KiB frames.
        let sizes = vec![4100; 50];
        let (kept, cut) = holdable(sizes.iter().copied());
        assert!(cut);
        assert!(kept * 4101 <= HELD_FRAMES * MAX_SERVER_FRAME, "{kept}");
        assert!(kept >= 30, "but as much as fits: {kept}");
        // Short messages: the whole page.
        assert_eq!(holdable([200; 50].into_iter()), (50, false));
        // One message longer than two frames is still sent, alone.
        assert_eq!(holdable([200_000, 10].into_iter()), (1, true));
    }

    #[test]
    fn frames_never_pass_the_limit_and_keep_every_message_in_order() {
        let big = "\u{1}".repeat(4000); // escaped as \u0001: 24 KB of JSON
        let messages: Vec<_> = (1..=20).map(|seq| message(seq, &big)).collect();
        let encoded: Vec<_> = messages.iter().map(encode_entry).collect();
        let parts = chunks(&encoded);
        assert!(parts.len() > 1);
        let mut seqs = Vec::new();
        for part in &parts {
            let frame = history_frame(
                &HistoryFrame {
                    room: "general",
                    ..HistoryFrame::default()
                },
                part,
                true,
            );
            assert!(frame.len() <= MAX_SERVER_FRAME, "{}", frame.len());
            seqs.extend(part.iter().map(|(_, seq)| *seq));
        }
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
        let (tail, cut) = fitting_tail(&messages);
        assert!(cut);
        assert_eq!(tail.last().map(|m| m.1), Some(20), "the newest are kept");
    }
}
