//! The browser's side of the wire without serde: decoding server frames and encoding client frames
//! by hand.
//!
//! The server and the tools use serde (`ServerMsg::to_json`, `Request::parse`); the wasm client uses
//! these instead, because serde's derive for internally tagged enums and serde_json's generic
//! deserializers were about a tenth of the client's download (`docs/BENCHMARKS.md`, the twiggy
//! table). What they accept is what serde accepts for the same types, and the tests here hold them
//! to it: every frame serde writes decodes to the same value, every frame encoded here parses with
//! serde to the same value.
//!
//! Like serde's, the decoder ignores fields it does not know, takes an unknown frame `type` as
//! [`ServerMsg::Unknown`] and an unknown error code as [`ErrorCode::Unknown`], and refuses a frame
//! whose required field is missing or of the wrong kind (`None`). Numbers are whole and
//! non-negative in every server frame; any other number is kept only as "a number", so a field
//! that needs one refuses it.

use std::collections::BTreeMap;

use super::{ChatMessage, ClientMsg, DirectMessage, ErrorCode, ServerMsg, Stored};

/// How deeply arrays and objects may nest; server frames nest three levels.
const MAX_DEPTH: usize = 16;

/// A parsed JSON value, as much of JSON as the protocol uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A whole number from 0 to `u64::MAX`.
    Uint(u64),
    /// Any other number (negative, fractional, with an exponent, or too large).
    OtherNumber,
    Str(String),
    Array(Vec<Json>),
    /// Fields in the order sent; a repeated key keeps its first value for lookups.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses one JSON text; `None` if it is not valid JSON (or nests deeper than [`MAX_DEPTH`]).
    pub fn parse(text: &str) -> Option<Json> {
        let mut parser = Parser {
            bytes: text.as_bytes(),
            at: 0,
        };
        let value = parser.value(0)?;
        parser.skip_space();
        (parser.at == parser.bytes.len()).then_some(value)
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Option<Json> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end) == Some(word.as_bytes())).then(|| {
            self.at = end;
            value
        })
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_space();
        match *self.bytes.get(self.at)? {
            b'n' => self.literal("null", Json::Null),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'"' => self.string().map(Json::Str),
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Some(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if self.eat(b']') {
                        return Some(Json::Array(items));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'{' => {
                self.at += 1;
                let mut fields = Vec::new();
                if self.eat(b'}') {
                    return Some(Json::Object(fields));
                }
                loop {
                    self.skip_space();
                    if self.bytes.get(self.at) != Some(&b'"') {
                        return None;
                    }
                    let key = self.string()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    fields.push((key, self.value(depth + 1)?));
                    if self.eat(b'}') {
                        return Some(Json::Object(fields));
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A number as JSON writes it; only plain whole numbers that fit a u64 are kept as such.
    fn number(&mut self) -> Option<Json> {
        let start = self.at;
        let negative = self.bytes[self.at] == b'-';
        if negative {
            self.at += 1;
        }
        let digits = self.digits();
        if digits == 0 || (digits > 1 && self.bytes[self.at - digits] == b'0') {
            return None;
        }
        let whole_end = self.at;
        let mut plain = !negative;
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return None;
            }
            plain = false;
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
            plain = false;
        }
        if !plain {
            return Some(Json::OtherNumber);
        }
        let text = std::str::from_utf8(&self.bytes[start..whole_end]).ok()?;
        Some(text.parse().map_or(Json::OtherNumber, Json::Uint))
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.bytes.get(self.at) {
            self.at += 1;
        }
        self.at - start
    }

    /// A string, the opening quote next; escapes resolved, `\u` surrogate pairs joined.
    fn string(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control character at once.
            let start = self.at;
            while let Some(&b) = self.bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The input is a &str and the run stops only at ASCII bytes, so it is whole UTF-8.
            out.push_str(std::str::from_utf8(&self.bytes[start..self.at]).ok()?);
            match *self.bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.at += 1;
                    let escaped = *self.bytes.get(self.at)?;
                    self.at += 1;
                    out.push(match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                _ => return None,
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let hex = self.bytes.get(self.at..self.at + 4)?;
        let hex = std::str::from_utf8(hex).ok()?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(hex, 16).ok()
    }

    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            // A high surrogate must be followed by an escaped low one.
            if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                return None;
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return None;
            }
            char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
        } else {
            char::from_u32(first)
        }
    }
}

/// Reading one frame's fields: each accessor is `None` when the field is missing or of the wrong
/// kind, and the `opt_` ones also accept a missing field or `null` (serde's `#[serde(default)]`).
struct Fields<'a>(&'a Json);

impl Fields<'_> {
    fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Json::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn uint(&self, key: &str) -> Option<u64> {
        match self.0.get(key)? {
            Json::Uint(n) => Some(*n),
            _ => None,
        }
    }

    fn bool(&self, key: &str) -> Option<bool> {
        match self.0.get(key)? {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// `Ok(None)` when missing or null, `Err` when present but not what `read` accepts.
    fn optional<T>(&self, key: &str, read: impl Fn(&Json) -> Option<T>) -> Option<Option<T>> {
        match self.0.get(key) {
            None | Some(Json::Null) => Some(None),
            Some(value) => read(value).map(Some),
        }
    }

    fn opt_str(&self, key: &str) -> Option<Option<String>> {
        self.optional(key, |v| match v {
            Json::Str(s) => Some(s.clone()),
            _ => None,
        })
    }

    fn opt_uint(&self, key: &str) -> Option<Option<u64>> {
        self.optional(key, |v| match v {
            Json::Uint(n) => Some(*n),
            _ => None,
        })
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
        Json::Array(items) => items
            .iter()
            .map(|item| match item {
                Json::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn usize_of(value: &Json) -> Option<usize> {
    match value {
        Json::Uint(n) => usize::try_from(*n).ok(),
        _ => None,
    }
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
    })
}

fn list<T>(value: Option<&Json>, read: impl Fn(&Fields) -> Option<T>) -> Option<Vec<T>> {
    match value? {
        Json::Array(items) => items.iter().map(|item| read(&Fields(item))).collect(),
        _ => None,
    }
}

fn stored(f: &Fields) -> Option<Stored> {
    match f.str("type")?.as_str() {
        "message" => chat_message(f).map(Stored::Message),
        _ => Some(Stored::Unknown),
    }
}

impl ServerMsg {
    /// The client's decoder: what [`ServerMsg::parse`] returns for the same frame, without serde.
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
            },
            "message" => ServerMsg::Message(chat_message(&f)?),
            "ack" => ServerMsg::Ack {
                client_id: f.str("client_id")?,
                room: f.opt_str("room")?,
                seq: f.opt_uint("seq")?,
                to: f.opt_str("to")?,
                id: f.opt_uint("id")?,
            },
            "error" => ServerMsg::Error {
                code: ErrorCode::from_name(&f.str("code")?),
                message: f.str("message")?,
                client_id: f.opt_str("client_id")?,
                retry_after_ms: f.opt_uint("retry_after_ms")?,
                reply_to: f.opt_str("reply_to")?,
            },
            "lagged" => ServerMsg::Lagged {
                room: f.str("room")?,
                missed: f.uint("missed")?,
            },
            "presence" => ServerMsg::Presence {
                nick: f.str("nick")?,
                online: f.bool("online")?,
                rooms: f.opt_strings("rooms")?,
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
            "typing" => ServerMsg::Typing {
                room: f.str("room")?,
                nick: f.str("nick")?,
                active: f.bool("active")?,
            },
            "dm" => ServerMsg::Dm(direct_message(&f)?),
            "dm_history" => ServerMsg::DmHistory {
                messages: list(json.get("messages"), direct_message)?,
                reset: f.flag("reset")?,
                more: f.flag("more")?,
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
            _ => ServerMsg::Unknown,
        })
    }
}

/// Writes JSON text by hand, fields in the order given.
struct Writer(String);

impl Writer {
    fn new(kind: &str) -> Self {
        let mut w = Writer(String::with_capacity(64));
        w.0.push_str("{\"type\":");
        w.string(kind);
        w
    }

    fn string(&mut self, s: &str) {
        self.0.push('"');
        for c in s.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                '\t' => self.0.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let n = c as usize;
                    self.0.push_str("\\u00");
                    self.0.push(HEX[n >> 4] as char);
                    self.0.push(HEX[n & 15] as char);
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
    }

    fn key(&mut self, key: &str) {
        self.0.push(',');
        self.string(key);
        self.0.push(':');
    }

    fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        self.string(value);
        self
    }

    fn uint(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        self.0.push_str(&value.to_string());
        self
    }

    fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.0.push_str(if value { "true" } else { "false" });
        self
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

impl ClientMsg {
    /// The client's encoder: JSON that [`super::Request::parse`] reads back as this frame, without
    /// serde (see the module's doc).
    pub fn encode(&self) -> String {
        match self {
            ClientMsg::Hello {
                nick,
                session,
                since,
                dm_since,
                version,
            } => {
                let mut w = Writer::new("hello").str("nick", nick);
                if let Some(session) = session {
                    w = w.str("session", session);
                }
                if !since.is_empty() {
                    w.key("since");
                    w.0.push('{');
                    for (i, (room, seq)) in since.iter().enumerate() {
                        if i > 0 {
                            w.0.push(',');
                        }
                        w.string(room);
                        w.0.push(':');
                        w.0.push_str(&seq.to_string());
                    }
                    w.0.push('}');
                }
                if let Some(dm_since) = dm_since {
                    w = w.uint("dm_since", *dm_since);
                }
                if let Some(version) = version {
                    w = w.uint("version", u64::from(*version));
                }
                w.finish()
            }
            ClientMsg::Join { room } => Writer::new("join").str("room", room).finish(),
            ClientMsg::Leave { room } => Writer::new("leave").str("room", room).finish(),
            ClientMsg::Say {
                room,
                text,
                client_id,
                action,
            } => {
                let w = Writer::new("say")
                    .str("room", room)
                    .str("text", text)
                    .str("client_id", client_id);
                if *action { w.bool("action", true) } else { w }.finish()
            }
            ClientMsg::Nick { nick } => Writer::new("nick").str("nick", nick).finish(),
            ClientMsg::Typing { room, active } => Writer::new("typing")
                .str("room", room)
                .bool("active", *active)
                .finish(),
            ClientMsg::History { room, before } => Writer::new("history")
                .str("room", room)
                .uint("before", *before)
                .finish(),
            ClientMsg::Dm {
                to,
                text,
                client_id,
                action,
            } => {
                let w = Writer::new("dm")
                    .str("to", to)
                    .str("text", text)
                    .str("client_id", client_id);
                if *action { w.bool("action", true) } else { w }.finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::Request;

    fn message(text: &str, client_id: Option<&str>, action: bool) -> ChatMessage {
        ChatMessage {
            room: "general".into(),
            seq: u64::MAX,
            from: "ana".into(),
            text: text.into(),
            at: "2026-11-26T20:00:00Z".into(),
            client_id: client_id.map(Into::into),
            action,
        }
    }

    fn direct(text: &str) -> DirectMessage {
        DirectMessage {
            id: 7,
            from: "ana".into(),
            to: "bo".into(),
            text: text.into(),
            at: "2026-11-26T20:00:00Z".into(),
            client_id: Some("c-1".into()),
            action: true,
        }
    }

    /// Every kind of server frame, with its optional fields both set and left out.
    fn server_frames(text: &str) -> Vec<ServerMsg> {
        vec![
            ServerMsg::Welcome {
                nick: "ana".into(),
                rooms: vec!["general".into(), "rust".into()],
                online: vec!["ana".into(), "bo".into()],
                members: [("rust".to_owned(), vec!["bo".to_owned()])].into(),
                counts: [("general".to_owned(), 1500)].into(),
                session: Some("token".into()),
                version: 1,
            },
            ServerMsg::Welcome {
                nick: text.into(),
                rooms: vec![],
                online: vec![],
                members: BTreeMap::new(),
                counts: BTreeMap::new(),
                session: None,
                version: 0,
            },
            ServerMsg::Message(message(text, None, false)),
            ServerMsg::Message(message(text, Some("c-9"), true)),
            ServerMsg::Ack {
                client_id: "c-1".into(),
                room: Some("general".into()),
                seq: Some(3),
                to: None,
                id: None,
            },
            ServerMsg::Ack {
                client_id: "c-2".into(),
                room: None,
                seq: None,
                to: Some("bo".into()),
                id: Some(4),
            },
            ServerMsg::Error {
                code: ErrorCode::RateLimited,
                message: text.into(),
                client_id: Some("c-1".into()),
                retry_after_ms: Some(250),
                reply_to: Some("r-1".into()),
            },
            ServerMsg::error(ErrorCode::NickTaken, "taken"),
            ServerMsg::Lagged {
                room: "general".into(),
                missed: 12,
            },
            ServerMsg::Presence {
                nick: "bo".into(),
                online: true,
                rooms: vec!["rust".into()],
            },
            ServerMsg::Presence {
                nick: "bo".into(),
                online: false,
                rooms: vec![],
            },
            ServerMsg::Joined {
                room: "rust".into(),
                members: vec!["ana".into()],
                count: Some(2),
                reply_to: Some("r-2".into()),
            },
            ServerMsg::Joined {
                room: "rust".into(),
                members: vec![],
                count: None,
                reply_to: None,
            },
            ServerMsg::Left {
                room: "rust".into(),
                reply_to: None,
            },
            ServerMsg::Member {
                room: "rust".into(),
                nick: "bo".into(),
                joined: true,
            },
            ServerMsg::Roster {
                room: "general".into(),
                count: 1200,
                members: Some(vec!["ana".into()]),
            },
            ServerMsg::Roster {
                room: "general".into(),
                count: 0,
                members: None,
            },
            ServerMsg::Renamed {
                from: "ana".into(),
                to: text.into(),
                reply_to: Some("r-3".into()),
            },
            ServerMsg::Typing {
                room: "general".into(),
                nick: "bo".into(),
                active: false,
            },
            ServerMsg::Dm(direct(text)),
            ServerMsg::DmHistory {
                messages: vec![direct(text), direct("second")],
                reset: true,
                more: true,
            },
            ServerMsg::DmHistory {
                messages: vec![],
                reset: false,
                more: false,
            },
            ServerMsg::History {
                room: "general".into(),
                messages: vec![
                    Stored::Message(message(text, None, false)),
                    Stored::Message(message("two", Some("c-3"), false)),
                ],
                complete: true,
                reset: true,
                before: Some(40),
                more: true,
                reply_to: Some("r-4".into()),
            },
            ServerMsg::History {
                room: "general".into(),
                messages: vec![],
                complete: false,
                reset: false,
                before: None,
                more: false,
                reply_to: None,
            },
        ]
    }

    fn client_frames(text: &str) -> Vec<ClientMsg> {
        vec![
            ClientMsg::Hello {
                nick: text.into(),
                session: Some("token".into()),
                since: [("general".to_owned(), 41), ("rust".to_owned(), u64::MAX)].into(),
                dm_since: Some(3),
                version: Some(1),
            },
            ClientMsg::Hello {
                nick: String::new(),
                session: None,
                since: BTreeMap::new(),
                dm_since: None,
                version: None,
            },
            ClientMsg::Join {
                room: "rust".into(),
            },
            ClientMsg::Leave {
                room: "rust".into(),
            },
            ClientMsg::Say {
                room: "general".into(),
                text: text.into(),
                client_id: "c-1".into(),
                action: false,
            },
            ClientMsg::Say {
                room: "general".into(),
                text: text.into(),
                client_id: "c-2".into(),
                action: true,
            },
            ClientMsg::Nick { nick: text.into() },
            ClientMsg::Typing {
                room: "general".into(),
                active: true,
            },
            ClientMsg::History {
                room: "general".into(),
                before: 100,
            },
            ClientMsg::Dm {
                to: "bo".into(),
                text: text.into(),
                client_id: "c-3".into(),
                action: true,
            },
        ]
    }

    const AWKWARD: &str = "quote \" backslash \\ slash / tab \t nl \n cr \r nul \u{0} bell \u{7} \
                           del \u{7f} é 漢字 🦀 \u{2028} \u{feff}";

    #[test]
    fn every_server_frame_serde_writes_decodes_to_the_same_value() {
        for msg in server_frames(AWKWARD) {
            let json = msg.to_json();
            assert_eq!(ServerMsg::decode(&json), Some(msg), "{json}");
        }
    }

    #[test]
    fn every_client_frame_encoded_here_is_the_frame_serde_reads() {
        for msg in client_frames(AWKWARD) {
            let json = msg.encode();
            let parsed = Request::parse(&json).map(|r| r.msg);
            assert_eq!(parsed, Ok(msg), "{json}");
            // And the same text serde writes, so the server sees no difference at all.
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&json).ok(),
                serde_json::from_str::<serde_json::Value>(&parsed.unwrap().to_json()).ok()
            );
        }
    }

    #[test]
    fn unknown_types_and_codes_are_kept_as_unknown_not_refused() {
        assert_eq!(
            ServerMsg::decode(r#"{"type":"reaction","room":"general","emoji":"👍"}"#),
            Some(ServerMsg::Unknown)
        );
        assert_eq!(
            ServerMsg::decode(r#"{"type":"error","code":"slow_down_please","message":"later"}"#),
            Some(ServerMsg::error(ErrorCode::Unknown, "later"))
        );
        let history = r#"{"type":"history","room":"general","complete":true,"messages":[
            {"type":"poll","question":"?"},
            {"type":"message","room":"general","seq":1,"from":"a","text":"t","at":"x","extra":[1.5,-2,{}]}
        ]}"#;
        let Some(ServerMsg::History { messages, .. }) = ServerMsg::decode(history) else {
            panic!("history not decoded");
        };
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], Stored::Unknown);
        assert!(messages[1].message().is_some());
    }

    #[test]
    fn frames_serde_refuses_are_refused() {
        for frame in [
            "",
            "null",
            "[]",
            r#"{"nick":"ana"}"#,
            r#"{"type":"welcome","rooms":[]}"#,
            r#"{"type":"message","room":"g","seq":-1,"from":"a","text":"t","at":"x"}"#,
            r#"{"type":"message","room":"g","seq":1.0,"from":"a","text":"t","at":"x"}"#,
            r#"{"type":"message","room":"g","seq":18446744073709551616,"from":"a","text":"t","at":"x"}"#,
            r#"{"type":"message","room":"g","seq":1,"from":"a","text":5,"at":"x"}"#,
            r#"{"type":"typing","room":"g","nick":"a","active":"yes"}"#,
            r#"{"type":"welcome","nick":"a","rooms":["general",1]}"#,
            r#"{"type":"lagged","room":"g","missed":1,}"#,
            r#"{"type":"lagged","room":"g","missed":01}"#,
            r#"{"type":"lagged","room":"g","missed":1} x"#,
            "{\"type\":\"left\",\"room\":\"a\u{1}b\"}",
            r#"{"type":"left","room":"\ud800"}"#,
            r#"{"type":"left","room":"\x41"}"#,
        ] {
            assert_eq!(ServerMsg::decode(frame), None, "{frame}");
            assert!(ServerMsg::parse(frame).is_err(), "{frame}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(Json::parse(&deep), None);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(Json::parse(&ok).is_some());
    }

    #[test]
    fn error_code_names_read_as_serde_reads_them() {
        for name in [
            "bad_frame",
            "hello_required",
            "already_hello",
            "nick_invalid",
            "nick_taken",
            "bad_session",
            "unknown_user",
            "empty",
            "too_long",
            "bad_client_id",
            "unknown_room",
            "room_invalid",
            "cannot_leave",
            "too_many_rooms",
            "rate_limited",
            "unsupported",
            "unavailable",
            "room_limit",
            "unknown",
            "never_heard_of_it",
        ] {
            let serde: ErrorCode = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(ErrorCode::from_name(name), serde, "{name}");
        }
    }

    /// Any JSON value serde_json can write, as this parser should read it.
    fn expected(value: &serde_json::Value) -> Json {
        match value {
            serde_json::Value::Null => Json::Null,
            serde_json::Value::Bool(b) => Json::Bool(*b),
            serde_json::Value::Number(n) => n.as_u64().map_or(Json::OtherNumber, Json::Uint),
            serde_json::Value::String(s) => Json::Str(s.clone()),
            serde_json::Value::Array(items) => Json::Array(items.iter().map(expected).collect()),
            serde_json::Value::Object(map) => {
                Json::Object(map.iter().map(|(k, v)| (k.clone(), expected(v))).collect())
            }
        }
    }

    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<u64>().prop_map(|n| serde_json::json!(n)),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            (-1e9f64..1e9).prop_map(|n| serde_json::json!(n)),
            any::<String>().prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parses_what_serde_json_writes(value in any_json()) {
            prop_assert_eq!(Json::parse(&value.to_string()), Some(expected(&value)));
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            prop_assert_eq!(Json::parse(&pretty), Some(expected(&value)));
        }

        #[test]
        fn any_text_survives_both_directions(text in any::<String>()) {
            for msg in server_frames(&text) {
                prop_assert_eq!(ServerMsg::decode(&msg.to_json()), Some(msg));
            }
            for msg in client_frames(&text) {
                prop_assert_eq!(Request::parse(&msg.encode()).map(|r| r.msg), Ok(msg));
            }
        }

        #[test]
        fn never_panics_on_any_input(frame in any::<String>()) {
            let _ = ServerMsg::decode(&frame);
        }
    }
}
