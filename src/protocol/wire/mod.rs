//! The browser's side of the wire without serde: decoding server frames and encoding client frames
//! by hand.
//!
//! The server and the tools use serde (`ServerMsg::to_json`, `Request::parse`); the wasm client uses
//! these instead, because serde's derive for internally tagged enums and serde_json's generic
//! deserializers were about a tenth of the client's code before optimisation (`docs/BENCHMARKS.md`,
//! the twiggy table). What they accept is what serde accepts for the same types, and the tests here hold them
//! to it: every frame serde writes decodes to the same value, every frame encoded here parses with
//! serde to the same value.
//!
//! Like serde's, the decoder ignores fields it does not know, takes an unknown frame `type` as
//! [`ServerMsg::Unknown`](crate::protocol::ServerMsg::Unknown) and an unknown error code as
//! [`ErrorCode::Unknown`](crate::protocol::ErrorCode::Unknown), and refuses a frame
//! whose required field is missing or of the wrong kind (`None`). Numbers are whole and
//! non-negative in every server frame; any other number is kept only as "a number", so a field
//! that needs one refuses it.
//!
//! Here: [`Json`], the parser; `decode.rs`: server frames from it; `encode.rs`: client frames.

mod decode;
mod encode;
#[cfg(test)]
mod tests;

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

    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<String> {
        match self {
            Json::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn as_uint(&self) -> Option<u64> {
        match self {
            Json::Uint(n) => Some(*n),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
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
                let mut items = Vec::new();
                self.sequence(b']', |p| {
                    items.push(p.value(depth + 1)?);
                    Some(())
                })?;
                Some(Json::Array(items))
            }
            b'{' => {
                let mut fields = Vec::new();
                self.sequence(b'}', |p| {
                    p.skip_space();
                    if p.bytes.get(p.at) != Some(&b'"') {
                        return None;
                    }
                    let key = p.string()?;
                    if !p.eat(b':') {
                        return None;
                    }
                    fields.push((key, p.value(depth + 1)?));
                    Some(())
                })?;
                Some(Json::Object(fields))
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// The items of an array or object, the opening bracket next: `item` reads one, and they are
    /// separated by commas up to `close`.
    fn sequence(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.at += 1;
        if self.eat(close) {
            return Some(());
        }
        loop {
            item(self)?;
            if self.eat(close) {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
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
