//! Server frames from parsed JSON: [`ServerMsg::decode`].

use std::collections::BTreeMap;

use super::Json;
use crate::protocol::{
    Change, ChatMessage, DirectMessage, DirectReaction, ErrorCode, FileInfo, Quote, Reaction,
    SearchHit, ServerMsg, Stored,
};

/// Reading one frame's fields: each accessor is `None` when the field is missing or of the wrong
/// kind, and the `opt_` ones also accept a missing field or `null` (serde's `#[serde(default)]`).
struct Fields<'a>(&'a Json);

impl Fields<'_> {
    fn str(&self, key: &str) -> Option<String> {
        self.0.get(key)?.as_str()
    }

    fn uint(&self, key: &str) -> Option<u64> {
        self.0.get(key)?.as_uint()
    }

    fn bool(&self, key: &str) -> Option<bool> {
        self.0.get(key)?.as_bool()
    }

    /// `Some(None)` when missing or null, `None` when present but not what `read` accepts.
    fn optional<T>(&self, key: &str, read: impl Fn(&Json) -> Option<T>) -> Option<Option<T>> {
        match self.0.get(key) {
            None | Some(Json::Null) => Some(None),
            Some(value) => read(value).map(Some),
        }
    }

    fn opt_str(&self, key: &str) -> Option<Option<String>> {
        self.optional(key, Json::as_str)
    }

    fn opt_uint(&self, key: &str) -> Option<Option<u64>> {
        self.optional(key, Json::as_uint)
    }

    fn opt_u32(&self, key: &str) -> Option<Option<u32>> {
        self.optional(key, |v| u32::try_from(v.as_uint()?).ok())
    }

    /// A flag that defaults to false (null is refused, as serde refuses it for a `bool`).
    fn flag(&self, key: &str) -> Option<bool> {
        match self.0.get(key) {
            None => Some(false),
            Some(Json::Bool(b)) => Some(*b),
            Some(_) => None,
        }
    }

    fn strings(&self, key: &str) -> Option<Vec<String>> {
        strings(self.0.get(key)?)
    }

    fn opt_strings(&self, key: &str) -> Option<Vec<String>> {
        match self.0.get(key) {
            None => Some(Vec::new()),
            Some(value) => strings(value),
        }
    }

    fn opt_map<T>(
        &self,
        key: &str,
        read: impl Fn(&Json) -> Option<T>,
    ) -> Option<BTreeMap<String, T>> {
        match self.0.get(key) {
            None => Some(BTreeMap::new()),
            Some(Json::Object(fields)) => {
                let mut map = BTreeMap::new();
                for (k, v) in fields {
                    map.insert(k.clone(), read(v)?);
                }
                Some(map)
            }
            Some(_) => None,
        }
    }
}

fn strings(value: &Json) -> Option<Vec<String>> {
    match value {
        Json::Array(items) => items.iter().map(Json::as_str).collect(),
        _ => None,
    }
}

fn usize_of(value: &Json) -> Option<usize> {
    usize::try_from(value.as_uint()?).ok()
}

fn chat_message(f: &Fields) -> Option<ChatMessage> {
    Some(ChatMessage {
        room: f.str("room")?,
        seq: f.uint("seq")?,
        from: f.str("from")?,
        text: f.str("text")?,
        at: f.str("at")?,
        client_id: f.opt_str("client_id")?,
        action: f.flag("action")?,
        edited: f.flag("edited")?,
        deleted: f.flag("deleted")?,
        mentions: f.opt_strings("mentions")?,
        files: files(f)?,
        reactions: f.opt_map("reactions", strings)?,
        reply_to: f.optional("reply_to", |value| quote(&Fields(value)).map(Box::new))?,
    })
}

fn reaction(f: &Fields) -> Option<Reaction> {
    Some(Reaction {
        room: f.str("room")?,
        seq: f.uint("seq")?,
        log_seq: f.uint("log_seq")?,
        by: f.str("by")?,
        emoji: f.str("emoji")?,
        on: f.bool("on")?,
        at: f.str("at")?,
        reply_to: f.opt_str("reply_to")?,
    })
}

fn quote(f: &Fields) -> Option<Quote> {
    Some(Quote {
        seq: f.opt_uint("seq")?.unwrap_or(0),
        id: f.opt_uint("id")?,
        from: f.opt_str("from")?.unwrap_or_default(),
        text: f.opt_str("text")?.unwrap_or_default(),
        deleted: f.flag("deleted")?,
    })
}

/// A message's `files` (none when absent).
fn files(f: &Fields) -> Option<Vec<FileInfo>> {
    match f.0.get("files") {
        None => Some(Vec::new()),
        value => list(value, file_info),
    }
}

fn file_info(f: &Fields) -> Option<FileInfo> {
    Some(FileInfo {
        id: f.str("id")?,
        name: f.str("name")?,
        size: f.uint("size")?,
        mime: f.str("type")?,
        url: f.str("url")?,
        width: f.opt_u32("width")?,
        height: f.opt_u32("height")?,
        thumb: f.opt_str("thumb")?,
    })
}

impl FileInfo {
    /// `POST /upload`'s answer, read as serde reads it.
    pub fn decode(answer: &str) -> Option<FileInfo> {
        file_info(&Fields(&Json::parse(answer)?))
    }
}

fn change(f: &Fields) -> Option<Change> {
    Some(Change {
        room: f.str("room")?,
        seq: f.uint("seq")?,
        log_seq: f.uint("log_seq")?,
        by: f.str("by")?,
        at: f.str("at")?,
        text: f.opt_str("text")?,
        mentions: f.opt_strings("mentions")?,
        reply_to: f.opt_str("reply_to")?,
    })
}

fn direct_message(f: &Fields) -> Option<DirectMessage> {
    Some(DirectMessage {
        id: f.uint("id")?,
        from: f.str("from")?,
        to: f.str("to")?,
        text: f.str("text")?,
        at: f.str("at")?,
        client_id: f.opt_str("client_id")?,
        action: f.flag("action")?,
        files: files(f)?,
        reply_to: f.optional("reply_to", |value| quote(&Fields(value)).map(Box::new))?,
        reactions: f.opt_map("reactions", strings)?,
    })
}

fn direct_reaction(f: &Fields) -> Option<DirectReaction> {
    Some(DirectReaction {
        id: f.uint("id")?,
        log_id: f.uint("log_id")?,
        by: f.str("by")?,
        to: f.str("to")?,
        emoji: f.str("emoji")?,
        on: f.bool("on")?,
        at: f.str("at")?,
        reply_to: f.opt_str("reply_to")?,
    })
}

fn search_hit(f: &Fields) -> Option<SearchHit> {
    let marks = match f.0.get("marks") {
        None => Vec::new(),
        Some(Json::Array(items)) => items
            .iter()
            .map(|pair| match pair {
                Json::Array(ends) if ends.len() == 2 => Some([
                    u32::try_from(ends[0].as_uint()?).ok()?,
                    u32::try_from(ends[1].as_uint()?).ok()?,
                ]),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?,
        Some(_) => return None,
    };
    Some(SearchHit {
        room: f.opt_str("room")?,
        seq: f.opt_uint("seq")?,
        dm: f.opt_str("dm")?,
        id: f.opt_uint("id")?,
        from: f.str("from")?,
        at: f.str("at")?,
        text: f.str("text")?,
        marks,
    })
}

fn list<T>(value: Option<&Json>, read: impl Fn(&Fields) -> Option<T>) -> Option<Vec<T>> {
    match value? {
        Json::Array(items) => items.iter().map(|item| read(&Fields(item))).collect(),
        _ => None,
    }
}

/// An entry of a `history` frame. A change this build cannot read (a server of another version
/// shaped it differently) is skipped like an unknown kind: the messages beside it still count, and
/// the message it names stays as shown. A message must be well-formed, as serde reads it.
fn stored(f: &Fields) -> Option<Stored> {
    match f.str("type")?.as_str() {
        "message" => chat_message(f).map(Stored::Message),
        "edited" => Some(change(f).map_or(Stored::Unknown, Stored::Edited)),
        "deleted" => Some(change(f).map_or(Stored::Unknown, Stored::Deleted)),
        "reacted" => Some(reaction(f).map_or(Stored::Unknown, Stored::Reacted)),
        _ => Some(Stored::Unknown),
    }
}

impl ServerMsg {
    /// The client's decoder: what [`ServerMsg::parse`] returns for the same frame, without serde.
    ///
    /// Long because it is one flat `match` over the server's message kinds, each arm reading that
    /// kind's fields: kept whole, it reads against [`ServerMsg`] one variant at a time.
    pub fn decode(frame: &str) -> Option<ServerMsg> {
        let json = Json::parse(frame)?;
        let f = Fields(&json);
        Some(match f.str("type")?.as_str() {
            "welcome" => ServerMsg::Welcome {
                nick: f.str("nick")?,
                rooms: f.strings("rooms")?,
                online: f.opt_strings("online")?,
                members: f.opt_map("members", strings)?,
                counts: f.opt_map("counts", usize_of)?,
                session: f.opt_str("session")?,
                version: match f.opt_uint("version")? {
                    None => 0,
                    Some(v) => u32::try_from(v).ok()?,
                },
                moderator: f.flag("moderator")?,
                bots: f.opt_strings("bots")?,
                muted_until: f.opt_str("muted_until")?,
                blocked: f.opt_strings("blocked")?,
                secured: f.flag("secured")?,
                read: f.opt_map("read", Json::as_uint)?,
                dm_read: f.opt_map("dm_read", Json::as_uint)?,
                reply_to: f.opt_str("reply_to")?,
            },
            "message" => ServerMsg::Message(chat_message(&f)?),
            "edited" => ServerMsg::Edited(change(&f)?),
            "deleted" => ServerMsg::Deleted(change(&f)?),
            "reacted" => ServerMsg::Reacted(reaction(&f)?),
            "ack" => ServerMsg::Ack {
                client_id: f.opt_str("client_id")?.unwrap_or_default(),
                room: f.opt_str("room")?,
                seq: f.opt_uint("seq")?,
                to: f.opt_str("to")?,
                id: f.opt_uint("id")?,
                reply_to: f.opt_str("reply_to")?,
            },
            "error" => ServerMsg::Error {
                code: ErrorCode::from_name(&f.str("code")?),
                message: f.str("message")?,
                client_id: f.opt_str("client_id")?,
                retry_after_ms: f.opt_uint("retry_after_ms")?,
                reply_to: f.opt_str("reply_to")?,
                until: f.opt_str("until")?,
            },
            "lagged" => ServerMsg::Lagged {
                room: f.str("room")?,
                missed: f.uint("missed")?,
            },
            "presence" => ServerMsg::Presence {
                nick: f.str("nick")?,
                online: f.bool("online")?,
                rooms: f.opt_strings("rooms")?,
                bot: f.flag("bot")?,
            },
            "moderated" => ServerMsg::Moderated {
                action: f.str("action")?,
                nick: f.str("nick")?,
                by: f.str("by")?,
                until: f.str("until")?,
                reason: f.opt_str("reason")?.unwrap_or_default(),
                reply_to: f.opt_str("reply_to")?,
            },
            "read" => ServerMsg::Read {
                room: f.opt_str("room")?,
                seq: f.opt_uint("seq")?,
                dm: f.opt_str("dm")?,
                id: f.opt_uint("id")?,
            },
            "blocked" => ServerMsg::Blocked {
                nick: f.str("nick")?,
                blocked: f.bool("blocked")?,
                reply_to: f.opt_str("reply_to")?,
            },
            "joined" => ServerMsg::Joined {
                room: f.str("room")?,
                members: f.strings("members")?,
                count: f.optional("count", usize_of)?,
                reply_to: f.opt_str("reply_to")?,
            },
            "left" => ServerMsg::Left {
                room: f.str("room")?,
                reply_to: f.opt_str("reply_to")?,
            },
            "member" => ServerMsg::Member {
                room: f.str("room")?,
                nick: f.str("nick")?,
                joined: f.bool("joined")?,
            },
            "roster" => ServerMsg::Roster {
                room: f.str("room")?,
                count: usize_of(json.get("count")?)?,
                members: f.optional("members", strings)?,
            },
            "renamed" => ServerMsg::Renamed {
                from: f.str("from")?,
                to: f.str("to")?,
                reply_to: f.opt_str("reply_to")?,
            },
            "results" => ServerMsg::Results {
                q: f.str("q")?,
                hits: list(json.get("hits"), search_hit)?,
                more: f.flag("more")?,
                next: f.opt_str("next")?,
                reply_to: f.opt_str("reply_to")?,
            },
            "avatar" => ServerMsg::Avatar {
                nick: f.str("nick")?,
                url: f.str("url")?,
            },
            "typing" => ServerMsg::Typing {
                room: f.str("room")?,
                nick: f.str("nick")?,
                active: f.bool("active")?,
            },
            "dm" => ServerMsg::Dm(direct_message(&f)?),
            "dm_reacted" => ServerMsg::DmReacted(direct_reaction(&f)?),
            "dm_history" => ServerMsg::DmHistory {
                messages: list(json.get("messages"), direct_message)?,
                reactions: match json.get("reactions") {
                    None => Vec::new(),
                    some => list(some, direct_reaction)?,
                },
                reset: f.flag("reset")?,
                more: f.flag("more")?,
                before: f.opt_uint("before")?,
                with: f.opt_str("with")?,
                complete: f.flag("complete")?,
                reply_to: f.opt_str("reply_to")?,
            },
            "history" => ServerMsg::History {
                room: f.str("room")?,
                messages: list(json.get("messages"), stored)?,
                complete: f.bool("complete")?,
                reset: f.flag("reset")?,
                before: f.opt_uint("before")?,
                more: f.flag("more")?,
                reply_to: f.opt_str("reply_to")?,
            },
            // The page reads the audit log from `/moderation`, not over the socket.
            _ => ServerMsg::Unknown,
        })
    }
}
