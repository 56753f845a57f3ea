//! A conversation and its lines: a room, or private messages with one person; and
//! [`Conversations`], the ones I have and which is on screen.
//!
//! Lines are shared (`Arc`) between the chat and the page: showing the conversation again after a
//! frame copies pointers, not texts, and a line is copied only when it changes while shown.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::key;
use crate::protocol::{FileInfo, Quote, GENERAL};

/// Where one of my own messages stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendState {
    /// Shown, not yet confirmed by the server.
    Sending,
    /// Confirmed by the server.
    Sent,
    /// Refused, or unconfirmed for too long; can be retried.
    Failed,
}

/// What a line of a conversation is.
// Notices are few beside messages, and every line is kept behind an `Arc`: boxing the message
// would cost an allocation per message to save a few words per notice.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// A chat message, mine (`Some` delivery state) or someone else's (`None`).
    Chat {
        from: String,
        text: String,
        /// RFC 3339.
        at: String,
        /// A `/me` action.
        action: bool,
        mine: Option<SendState>,
        /// Its place in its room, once known (mine learn it from their ack); `None` for private
        /// messages.
        seq: Option<u64>,
        /// Its id among private messages, once known (mine learn it from their ack); `None` for
        /// room messages.
        dm_id: Option<u64>,
        /// Changed by its author since it was posted.
        edited: bool,
        /// Deleted: shown as a tombstone.
        deleted: bool,
        /// Its files (pictures shown, others as chips to download).
        files: Vec<FileInfo>,
        /// The message it answers, quoted as it was then.
        reply: Option<Quote>,
        /// Each emoji with who reacted with it.
        reactions: BTreeMap<String, Vec<String>>,
    },
    /// A notice: joins, leaves, renames, missed messages, command help.
    Notice(String),
}

/// One line of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Stable identity: `client_id` for my own messages, `room:seq` for others', `notice-N`.
    pub id: String,
    /// Changed only through [`Conversation::line_mut`] and the like, which renew `version`.
    pub kind: LineKind,
    /// Unique to this line as it looks now: taken afresh whenever it changes.
    version: u64,
}

/// The next line version; unique for the life of the page (or the server process).
fn next_version() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Line {
    pub fn new(id: String, kind: LineKind) -> Self {
        Self {
            id,
            kind,
            version: next_version(),
        }
    }

    /// The line's key in a keyed list: it changes whenever the line's look does, so the list
    /// re-renders that line and no other, and costs no more than comparing numbers.
    pub fn render_key(&self) -> u64 {
        self.version
    }

    /// The line taken apart, to render it.
    pub fn into_parts(self) -> (String, LineKind) {
        (self.id, self.kind)
    }
}

/// Which conversation is on screen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum View {
    /// A room, by name.
    Room(String),
    /// Private messages with this person (keyed case-insensitively, shown as they spell it).
    Direct(String),
}

impl View {
    /// The room `#general`, where everyone is.
    pub fn general() -> Self {
        View::Room(GENERAL.to_owned())
    }
}

impl Default for View {
    fn default() -> Self {
        View::general()
    }
}

/// A conversation: a room, or private messages with one person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversation {
    /// The room's name, or the other person's name as last seen.
    pub title: String,
    pub lines: Vec<Arc<Line>>,
    /// Messages received while another conversation was open.
    pub unread: u32,
    /// Of those, the ones that mention me (rooms only).
    pub mentions: u32,
    /// Whether the history shown reaches back to the first message (no older page to load).
    pub complete: bool,
}

/// How many lines a conversation keeps: the newest. Older ones come back by scrolling up ("Load
/// older messages"), so a tab left open for days holds no more than this per conversation.
pub const MAX_LINES: usize = 300;

/// How far past [`MAX_LINES`] a conversation may grow before it is cut back: trimming costs a pass
/// over the lines, so it happens once per this many new lines, not on every one.
const TRIM_SLACK: usize = 50;

impl Conversation {
    pub(super) fn push(&mut self, line: Line) {
        self.lines.push(Arc::new(line));
    }

    /// The newest line whose `id` is given, to change: it takes a new version (and is copied if
    /// the page still shows the old one).
    pub(super) fn line_mut(&mut self, id: &str) -> Option<&mut LineKind> {
        let line = self.lines.iter_mut().rev().find(|l| l.id == id)?;
        Some(changed(line))
    }

    /// The message `seq` of this room, to change, as [`Conversation::line_mut`].
    pub(super) fn message_mut(&mut self, seq: u64) -> Option<&mut LineKind> {
        self.find_mut(|kind| matches!(kind, LineKind::Chat { seq: Some(s), .. } if *s == seq))
    }

    /// The first line that `is_it` picks, to change, as [`Conversation::line_mut`].
    pub(super) fn find_mut(&mut self, is_it: impl Fn(&LineKind) -> bool) -> Option<&mut LineKind> {
        let line = self.lines.iter_mut().find(|l| is_it(&l.kind))?;
        Some(changed(line))
    }

    /// Drops the oldest lines past [`MAX_LINES`] (never my own unconfirmed ones, which still offer
    /// their state and Retry). Returns whether any went; the conversation then has older messages
    /// to load again.
    pub(super) fn trim(&mut self) -> bool {
        if self.lines.len() <= MAX_LINES + TRIM_SLACK {
            return false;
        }
        let excess = self.lines.len() - MAX_LINES;
        let mut dropped = 0;
        self.lines.retain(|line| {
            let unsent = matches!(
                line.kind,
                LineKind::Chat {
                    mine: Some(SendState::Sending | SendState::Failed),
                    ..
                }
            );
            if dropped == excess || unsent {
                return true;
            }
            dropped += 1;
            false
        });
        if dropped > 0 {
            self.complete = false;
        }
        dropped > 0
    }

    /// Message `seq` was deleted: the replies quoting it say so, without its words. Returns
    /// whether any line changed.
    pub(super) fn quoted_deleted(&mut self, seq: u64) -> bool {
        let mut any = false;
        for line in &mut self.lines {
            let quotes_it = matches!(
                &line.kind,
                LineKind::Chat { reply: Some(quote), .. } if quote.seq == seq && !quote.deleted
            );
            if quotes_it {
                if let LineKind::Chat {
                    reply: Some(quote), ..
                } = changed(line)
                {
                    quote.deleted = true;
                    quote.text.clear();
                }
                any = true;
            }
        }
        any
    }

    /// The lowest `seq` among the room messages still shown.
    pub(super) fn lowest_seq(&self) -> Option<u64> {
        self.lines
            .iter()
            .filter_map(|line| match line.kind {
                LineKind::Chat { seq, .. } => seq,
                LineKind::Notice(_) => None,
            })
            .min()
    }
}

fn changed(line: &mut Arc<Line>) -> &mut LineKind {
    let line = Arc::make_mut(line);
    line.version = next_version();
    &mut line.kind
}

/// What is shown for a room I am not in.
pub(super) static NOT_JOINED: Conversation = Conversation {
    title: String::new(),
    lines: Vec::new(),
    unread: 0,
    mentions: 0,
    complete: true,
};

/// The conversations I have: one per room I am in (`general` always, once the chat is made), one
/// per person I wrote with, and which of them is on screen. The other parts of the chat change
/// lines through it, so a room I am not in is never created by accident.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversations {
    /// The conversation on screen.
    view: View,
    /// The rooms I am in, by name.
    rooms: BTreeMap<String, Conversation>,
    /// Private conversations, by the other person's name key.
    directs: BTreeMap<String, Conversation>,
    /// Notices made so far: each one's line id is unique.
    notices: u64,
}

impl Conversations {
    /// The conversation on screen (an empty one for a room I am not in).
    pub fn current(&self) -> &Conversation {
        match &self.view {
            View::Room(room) => self.room(room),
            View::Direct(peer) => self.directs.get(&key(peer)).unwrap_or(&NOT_JOINED),
        }
    }

    pub fn current_view(&self) -> View {
        self.view.clone()
    }

    /// The room on screen, if a room is.
    pub fn current_room(&self) -> Option<&str> {
        match &self.view {
            View::Room(room) => Some(room),
            View::Direct(_) => None,
        }
    }

    /// Whether `view` is the conversation on screen.
    pub fn is_open(&self, view: &View) -> bool {
        match (view, &self.view) {
            (View::Room(a), View::Room(b)) => a == b,
            (View::Direct(a), View::Direct(b)) => key(a) == key(b),
            _ => false,
        }
    }

    /// A room's conversation (an empty one if I am not in it).
    pub fn room(&self, room: &str) -> &Conversation {
        self.rooms.get(room).unwrap_or(&NOT_JOINED)
    }

    /// Whether I am in `room`.
    pub fn is_member(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// The rooms I am in, `general` first, then by name.
    pub fn rooms(&self) -> impl Iterator<Item = (View, &Conversation)> {
        let general = self.rooms.get(GENERAL).map(|c| (View::general(), c));
        let others = self
            .rooms
            .iter()
            .filter(|(name, _)| *name != GENERAL)
            .map(|(name, c)| (View::Room(name.clone()), c));
        general.into_iter().chain(others)
    }

    /// Private conversations, by the other person's name.
    pub fn directs(&self) -> impl Iterator<Item = (View, &Conversation)> {
        self.directs
            .iter()
            .map(|(k, c)| (View::Direct(k.clone()), c))
    }

    /// The conversation `view` names, if I have it.
    pub fn get(&self, view: &View) -> Option<&Conversation> {
        match view {
            View::Room(room) => self.rooms.get(room),
            View::Direct(peer) => self.directs.get(&key(peer)),
        }
    }

    /// The conversation `view` names, if I have it, to change.
    pub(super) fn get_mut(&mut self, view: &View) -> Option<&mut Conversation> {
        match view {
            View::Room(room) => self.rooms.get_mut(room),
            View::Direct(peer) => self.directs.get_mut(&key(peer)),
        }
    }

    /// A room I am in, to change (`None` for a room I left meanwhile).
    pub(super) fn room_mut(&mut self, room: &str) -> Option<&mut Conversation> {
        self.rooms.get_mut(room)
    }

    /// The conversation holding the line `id`, if any does.
    pub(super) fn find_line(&self, id: &str) -> Option<View> {
        self.rooms()
            .chain(self.directs())
            .find(|(_, c)| c.lines.iter().any(|l| l.id == id))
            .map(|(view, _)| view)
    }

    /// Adds a notice to conversation `view`.
    pub fn notice(&mut self, view: &View, text: impl Into<String>) {
        self.notices += 1;
        let id = format!("notice-{}", self.notices);
        self.conversation_mut(view)
            .push(Line::new(id, LineKind::Notice(text.into())));
    }

    /// Puts `view` on screen, its unread messages now read; my own name opens `general`, as there
    /// is no conversation with myself.
    pub(super) fn open(&mut self, view: View, me: &str) {
        let view = match view {
            View::Direct(peer) if key(&peer) == key(me) => View::general(),
            View::Direct(peer) => {
                let conv = self.direct_mut(&peer);
                conv.unread = 0;
                conv.mentions = 0;
                View::Direct(key(&peer))
            }
            View::Room(room) => {
                if let Some(conv) = self.rooms.get_mut(&room) {
                    conv.unread = 0;
                    conv.mentions = 0;
                }
                View::Room(room)
            }
        };
        self.view = view;
    }

    pub(super) fn ensure_room(&mut self, room: &str) -> &mut Conversation {
        self.rooms
            .entry(room.to_owned())
            .or_insert_with(|| Conversation {
                title: room.to_owned(),
                ..Conversation::default()
            })
    }

    pub(super) fn direct_mut(&mut self, peer: &str) -> &mut Conversation {
        let conv = self.directs.entry(key(peer)).or_default();
        conv.title = peer.to_owned();
        conv
    }

    /// The conversation `view` names; for a room I am not (or no longer) in, `general`, so a
    /// notice is never lost and no room is joined by accident.
    pub(super) fn conversation_mut(&mut self, view: &View) -> &mut Conversation {
        match view {
            View::Room(room) if self.rooms.contains_key(room) => self.ensure_room(room),
            View::Room(_) => self.ensure_room(GENERAL),
            View::Direct(peer) => {
                let peer = self
                    .directs
                    .get(&key(peer))
                    .map(|c| c.title.clone())
                    .unwrap_or_else(|| peer.clone());
                self.direct_mut(&peer)
            }
        }
    }

    /// A room I left: its conversation goes.
    pub(super) fn forget_room(&mut self, room: &str) {
        self.rooms.remove(room);
    }

    /// `from` is now called `to`: a conversation with them moves to the new name (and stays on
    /// screen if it was).
    pub(super) fn renamed(&mut self, from: &str, to: &str) {
        let (old, new) = (key(from), key(to));
        if old != new {
            if let Some(mut conv) = self.directs.remove(&old) {
                conv.title = to.to_owned();
                if self.view == View::Direct(old) {
                    self.view = View::Direct(new.clone());
                }
                self.directs.insert(new, conv);
            }
        } else if let Some(conv) = self.directs.get_mut(&old) {
            conv.title = to.to_owned();
        }
    }
}
