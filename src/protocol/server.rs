//! Frames the server sends, and the messages they carry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{is_false, is_zero, ErrorCode};

/// A chat message as stored and delivered; also the shape of a `message` frame's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub room: String,
    /// Per-room sequence number: it only grows, so a client can order and de-duplicate by it.
    pub seq: u64,
    pub from: String,
    pub text: String,
    /// When the server accepted the message, RFC 3339 in UTC.
    pub at: String,
    /// The sender's id for the message, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A `/me` action.
    #[serde(default, skip_serializing_if = "is_false")]
    pub action: bool,
    /// Changed by its author since it was posted: `text` is the current version.
    #[serde(default, skip_serializing_if = "is_false")]
    pub edited: bool,
    /// Deleted by its author or a moderator: a tombstone, `text` is empty.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    /// Reactions now: each emoji with who reacted with it, in the order they did.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reactions: BTreeMap<String, Vec<String>>,
    /// The message this one answers, quoted as it was when answered (boxed: most messages
    /// answer none, and every message in memory would carry the room otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Box<Quote>>,
    /// The people its `@name`s name, as they are called (the server matches names as it
    /// compares nicknames: case, accents and look-alikes folded). A name nobody goes by is not
    /// listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// Its files, in the order they were posted (none once it is deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
}

/// An edit or a delete of a stored room message (the body of `edited` and `deleted` frames, and of
/// those entries in `history`). The change has a place of its own in the room's log, `log_seq`,
/// after every message and change before it: a client's position in the room (its `since`) counts
/// it, so a client that was away gets exactly the changes it missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub room: String,
    /// The message changed.
    pub seq: u64,
    /// The change's own place in the room's log.
    pub log_seq: u64,
    /// Who made it: the author, or a moderator.
    pub by: String,
    /// When the server accepted it, RFC 3339 in UTC.
    pub at: String,
    /// An edit's new text (absent from a delete; empty for an edit whose message was deleted
    /// since, as the old words are gone from the store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// An edit: the people its new text mentions (see [`ChatMessage::mentions`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// On the connection that asked for the change: its request's `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// A shared file: the answer to `POST /upload`, and each of a message's `files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub id: String,
    /// The file's name, made safe by the server.
    pub name: String,
    /// In bytes (a picture's after its metadata was removed).
    pub size: u64,
    /// Sniffed from the content by the server, never taken from the uploader.
    #[serde(rename = "type")]
    pub mime: String,
    /// Where it is fetched (by the room's members or the private message's parties only).
    pub url: String,
    /// A picture's size as shown, so a page can reserve its place before it loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// A picture's small version, made by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb: Option<String>,
}

/// A private message, as delivered to both parties' connections (`"type":"dm"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectMessage {
    /// Its number among all private messages: it only grows, so a client can de-duplicate by it and
    /// ask for what came after it (`hello.dm_since`).
    pub id: u64,
    pub from: String,
    pub to: String,
    pub text: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub action: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
    /// The private message it answers, as it was then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Box<Quote>>,
    /// Reactions now: each emoji with who reacted with it, in the order they did.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reactions: BTreeMap<String, Vec<String>>,
}

/// A reaction added (`on`) or taken back, to private message `id` (`"type":"dm_reacted"`): like a
/// private message it has its own place among private messages, `log_id`, which `dm_since`
/// counts, so a reconnect brings exactly the reactions it missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectReaction {
    /// The private message reacted to.
    pub id: u64,
    /// The reaction's own place among private messages.
    pub log_id: u64,
    /// Who reacted: one of the two.
    pub by: String,
    /// The other one.
    pub to: String,
    pub emoji: String,
    pub on: bool,
    pub at: String,
    /// On the connection that asked: its request's `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// One moderation action, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: u64,
    /// When, RFC 3339 in UTC.
    pub at: String,
    /// Who: a moderator's name, or `chinwag admin`.
    pub by: String,
    /// What: `delete`, `mute`, `ban`, `ban_lifted`, `moderator_link`, `moderator_added`,
    /// `moderator_removed`, `bot_created`.
    pub action: String,
    /// On whom.
    pub target: String,
    /// The rest: which message, until when, why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A reaction added (`on`) or taken back, to message `seq` of `room`: like an edit, it has its own
/// place in the room's log (`log_seq`), so catch-up brings exactly the ones missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub room: String,
    pub seq: u64,
    pub log_seq: u64,
    pub by: String,
    pub emoji: String,
    pub on: bool,
    pub at: String,
    /// On the connection that asked: its request's `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// The message a reply answers, as it was when answered: its author and its first
/// [`QUOTE_CHARS`](crate::protocol::QUOTE_CHARS) characters; `deleted` (and no text) once it was
/// deleted. A room message is named by its `seq`, a private message by its `id` (and no `seq`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The room message's place (0 for a private message, and then not sent).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
    /// The private message's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
}

impl Quote {
    /// A quote of a message as it is now: its author and first
    /// [`QUOTE_CHARS`](crate::protocol::QUOTE_CHARS) characters. A room message is named by its
    /// `seq` (and `id` none), a private one by its `id` (and `seq` 0).
    pub fn of(seq: u64, id: Option<u64>, from: &str, text: &str) -> Quote {
        Quote {
            seq,
            id,
            from: from.to_owned(),
            text: text.chars().take(super::QUOTE_CHARS).collect(),
            deleted: false,
        }
    }

    /// A quote of a message that is not there: deleted, or never was.
    pub fn gone(seq: u64, id: Option<u64>) -> Quote {
        Quote {
            seq,
            id,
            from: String::new(),
            text: String::new(),
            deleted: true,
        }
    }
}

/// A message found by `search`: a room's (`room`, `seq`) or a private one (`dm`, the other
/// party, and `id`). `marks` are where the query's words are in `text`, as `[start, end)`
/// offsets in characters (Unicode scalar values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub from: String,
    pub at: String,
    pub text: String,
    #[serde(default)]
    pub marks: Vec<[u32; 2]>,
}

/// A frame sent by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The answer to a good `hello`: the nickname as the server will show it, the rooms joined and who
    /// is online (the newcomer included). `session` is set only when this `hello` created the session,
    /// so a bot can reconnect as itself.
    Welcome {
        nick: String,
        rooms: Vec<String>,
        #[serde(default)]
        online: Vec<String>,
        /// Who of each of my rooms but `general` is online (in `general` that is `online`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        members: BTreeMap<String, Vec<String>>,
        /// The rooms (`general` included) whose lists above were cut short because the room is a
        /// crowd, with how many are online there in all.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        counts: BTreeMap<String, usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
        /// The server's [`crate::protocol::PROTOCOL_VERSION`] (0 from a server before it).
        #[serde(default)]
        version: u32,
        /// This session is a moderator: it may delete any message, `mute`, `ban` and read the
        /// `audit` log.
        #[serde(default, skip_serializing_if = "is_false")]
        moderator: bool,
        /// Who of `online` are bots.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bots: Vec<String>,
        /// This session is muted until then (it may read, not post).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        muted_until: Option<String>,
        /// The people this person blocked (no private message from them arrives).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        blocked: Vec<String>,
        /// This person has a password or a passkey: their name is theirs for good.
        #[serde(default, skip_serializing_if = "is_false")]
        secured: bool,
        /// Where this person has read to in each room (the highest position shown on any of
        /// their devices).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        read: BTreeMap<String, u64>,
        /// Where they have read to in each private conversation, by the other party's name.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        dm_read: BTreeMap<String, u64>,
        /// The `id` of the `hello` this answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// Someone else's message.
    Message(ChatMessage),
    /// A message of `room` was edited (to everyone in the room, the editor's own connection
    /// included, which then gets an `ack` if the `edit` carried a `client_id`).
    Edited(Change),
    /// A message of `room` was deleted: show a tombstone in its place.
    Deleted(Change),
    /// Someone reacted to a message of `room` with an emoji, or took it back.
    Reacted(Reaction),
    /// The sender's own message was accepted (it gets this instead of an echo). Room messages carry
    /// their `room` and `seq`; private ones their recipient `to` and their `id`.
    Ack {
        /// The acked message's `client_id` (absent only from the ack of a retried `delete` that
        /// carried none).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        client_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        /// A private message's id, as its `dm` frame carries it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// The `id` of the request this answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// A frame was refused. The connection stays open unless the code says otherwise. A refused `say`
    /// or `dm` carries its `client_id`, so the client can mark that message as failed.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// For `rate_limited`: how long to wait before the next frame of that kind is accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// The `id` of the request refused, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        /// For `muted` and `banned`: until when (RFC 3339, UTC).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
    },
    /// The connection fell behind and `missed` messages of `room` were not delivered to it.
    /// The client knows it has a gap; it is never cut off without being told.
    Lagged { room: String, missed: u64 },
    /// Someone came online (their first tab) or went offline (their last tab closed). Coming online,
    /// it lists the rooms they are in besides `general` (omitted if none).
    Presence {
        nick: String,
        online: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rooms: Vec<String>,
        /// A bot (made by `chinwag admin bot`), not a person.
        #[serde(default, skip_serializing_if = "is_false")]
        bot: bool,
    },
    /// A moderator muted (`action: "muted"`) or banned (`"banned"`) someone, or lifted a mute or
    /// ban (`"unmuted"`, `"unbanned"`; `until` is then when): to everyone. A muted person can read
    /// but not post until `until`; a banned one is disconnected.
    Moderated {
        action: String,
        nick: String,
        by: String,
        until: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
        /// On the moderator's own connection: the `id` of the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// The person read up to here on one of their devices (the same shape as the client's `read`):
    /// to their other connections.
    Read {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dm: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
    },
    /// This person blocked (`blocked: true`) or unblocked `nick` (the answer to `block` and
    /// `unblock`).
    Blocked {
        nick: String,
        blocked: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// The moderation audit log, newest first (the answer to a moderator's `audit`). `more`: older
    /// entries exist (ask with `before` the last `id`).
    AuditLog {
        entries: Vec<AuditEntry>,
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// This session joined `room` (on this tab or another): who of it is online. Its `history`
    /// follows.
    Joined {
        room: String,
        members: Vec<String>,
        /// How many are online in all, when `members` was cut short (a crowd).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<usize>,
        /// On the connection that asked: the `id` of its `join`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// This session left `room` (on this tab or another); nothing more of it arrives.
    Left {
        room: String,
        /// On the connection that asked: the `id` of its `leave`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// Someone online joined (`joined: true`) or left `room`; sent to the room's members.
    Member {
        room: String,
        nick: String,
        joined: bool,
    },
    /// A crowd's comings and goings, summed up: in a room with more people online than it lists,
    /// `presence` and `member` frames give way to this, at most about once a second. `members`, the
    /// whole list, comes only once it fits again.
    Roster {
        room: String,
        count: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        members: Option<Vec<String>>,
    },
    /// Someone changed their nickname.
    Renamed {
        from: String,
        to: String,
        /// On the connection that asked: the `id` of its `nick`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// A page of search hits, newest first, answering `search`.
    Results {
        /// The query these answer (a client drops answers to queries it no longer shows).
        q: String,
        hits: Vec<SearchHit>,
        /// More hits are older than these: ask again with `before` set to `next`.
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// Someone set or removed their picture: `url` is where it is now (their initials on a
    /// colour when they have none), changed so a browser fetches it again. To everyone online.
    Avatar { nick: String, url: String },
    /// Someone started or stopped typing in `room`.
    Typing {
        room: String,
        nick: String,
        active: bool,
    },
    /// A private message: to the recipient's connections and to the sender's other ones.
    Dm(DirectMessage),
    /// A reaction to a private message, added or taken back: to both parties' connections.
    DmReacted(DirectReaction),
    /// Stored private messages of this session, oldest first, each shaped like a `dm` frame: the
    /// latest ones after `welcome`, or exactly those after `hello.dm_since`.
    DmHistory {
        messages: Vec<DirectMessage>,
        /// Reactions among the private messages asked for (a catch-up's), in their order, to
        /// apply after `messages` (each names a message at or before them).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reactions: Vec<DirectReaction>,
        /// `dm_since` was beyond the last private message (the client saw another store): these
        /// are the latest ones, to replace what it shows.
        #[serde(default, skip_serializing_if = "is_false")]
        reset: bool,
        /// More `dm_history` frames follow at once (a catch-up too large for one frame).
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
        /// Set when this answers a `dm_history` request: the page ends just before this id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        /// The request's `with`, if it named one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        with: Option<String>,
        /// On a page asked for with `before`: whether it reaches back to the first one.
        #[serde(default, skip_serializing_if = "is_false")]
        complete: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// Stored messages of `room`, oldest first, each shaped like a `message` frame: the latest ones
    /// after `welcome`, exactly the missed ones after a `since`, or the missed ones after a lag.
    /// `complete` says whether they reach back to the room's first message. `reset` says the gap
    /// was too large to fill: the client should replace what it shows of the room with these.
    History {
        room: String,
        messages: Vec<Stored>,
        complete: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        reset: bool,
        /// Set when this answers a client's `history` request: the page ends just before this seq.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        /// More `history` frames of this room follow at once: a catch-up too large for one frame
        /// comes in several, each continuing where the last ended.
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
        /// The `id` of the `history` request this answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    /// A frame type this build does not know (a newer server's): ignored, never a parse failure
    /// that would hide the frames around it. Never sent.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// An entry of a `history` frame: a message, tagged like a `message` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Stored {
    Message(ChatMessage),
    /// An edit, in its place in the log (a catch-up with `since` brings the changes it missed).
    Edited(Change),
    /// A delete, likewise.
    Deleted(Change),
    /// A reaction added or taken back, likewise.
    Reacted(Reaction),
    /// An entry of a kind this build does not know (a newer server's): skipped. Never sent.
    #[serde(other, skip_serializing)]
    Unknown,
}

impl Stored {
    /// The message, if this entry is one.
    pub fn message(&self) -> Option<&ChatMessage> {
        match self {
            Stored::Message(message) => Some(message),
            _ => None,
        }
    }

    /// The entry's place in its room's log (0 for an unknown one).
    pub fn position(&self) -> u64 {
        match self {
            Stored::Message(message) => message.seq,
            Stored::Edited(change) | Stored::Deleted(change) => change.log_seq,
            Stored::Reacted(reaction) => reaction.log_seq,
            Stored::Unknown => 0,
        }
    }

    /// The entry as the live frame that carries it (`message`, `edited` or `deleted`): the two
    /// are tagged alike, so the JSON is the same.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ServerMsg {
    /// The frame as sent on the wire.
    pub fn to_json(&self) -> String {
        // Cannot fail for these types; see `ClientMsg::to_json`.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a server frame (used by the wasm client and the tests).
    pub fn parse(frame: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(frame)
    }

    /// An error frame.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMsg::Error {
            code,
            message: message.into(),
            client_id: None,
            retry_after_ms: None,
            reply_to: None,
            until: None,
        }
    }
}
