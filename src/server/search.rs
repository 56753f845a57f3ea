//! Search's query language and what a hit shows: `deploy "staging db" from:alice in:#ops
//! before:2026-12-01 after:2026-11-01 depl` becomes words, phrases, a prefix (the last word, as
//! someone types it) and filters; the store turns it into its index's own query (FTS5 on SQLite,
//! a `tsquery` on PostgreSQL, `store::search`), and [`marks`] finds the matched words in a hit's
//! text for the page to highlight.
//!
//! Words are folded the way the indexes fold them (lower case, accents removed) and are only
//! letters and digits, so nothing typed reaches either index's query syntax unquoted.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::protocol::{ErrorCode, FrameError};

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// How many words (phrases' included) a query may hold.
pub const MAX_TERMS: usize = 12;

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Words every hit holds (folded).
    pub words: Vec<String>,
    /// Runs of words a hit holds in this order (folded).
    pub phrases: Vec<Vec<String>>,
    /// The last word, unquoted and not followed by a space: a hit holds a word starting with it.
    pub prefix: Option<String>,
    /// `from:NAME`.
    pub from: Option<String>,
    /// `in:#room` (or `in:room`).
    pub room: Option<String>,
    /// `in:@name`: private messages with them only.
    pub with: Option<String>,
    /// `before:YYYY-MM-DD`: sent before that day began (UTC).
    pub before: Option<String>,
    /// `after:YYYY-MM-DD`: sent after that day ended (UTC).
    pub after: Option<String>,
}

/// Lower case, accents removed: how both indexes see a word.
pub fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words of `text`: runs of letters and digits (as the indexes' tokenizers split), folded.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(fold)
        .filter(|w| !w.is_empty())
        .collect()
}

fn refused(why: impl Into<String>) -> FrameError {
    FrameError::new(ErrorCode::BadFrame, why)
}

fn date(value: &str, name: &str) -> Result<String, FrameError> {
    let bytes = value.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(refused(format!("{name}: takes a date, YYYY-MM-DD")));
    }
    Ok(value.to_owned())
}

impl Query {
    /// Parses what someone typed in the search box.
    pub fn parse(q: &str) -> Result<Self, FrameError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(refused(format!(
                "a search has at most {MAX_QUERY_CHARS} characters"
            )));
        }
        let mut query = Query::default();
        let mut rest = q;
        let mut last_bare: Option<String> = None;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            if let Some(quoted) = rest.strip_prefix('"') {
                let (phrase, after) = quoted.split_once('"').unwrap_or((quoted, ""));
                let phrase = words(phrase);
                match phrase.len() {
                    0 => {}
                    1 => query.words.extend(phrase),
                    _ => query.phrases.push(phrase),
                }
                last_bare = None;
                rest = after;
                continue;
            }
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (token, after) = rest.split_at(end);
            rest = after;
            last_bare = None;
            if let Some((name, value)) = token.split_once(':') {
                if query.filter(name, value)? {
                    continue;
                }
            }
            let found = words(token);
            if let Some(last) = found.last() {
                last_bare = Some(last.clone());
            }
            query.words.extend(found);
        }
        // The last word as typed, with nothing after it, is still being typed: a prefix.
        if let Some(last) = last_bare.filter(|_| !q.ends_with(char::is_whitespace)) {
            if query.words.last() == Some(&last) {
                query.words.pop();
                query.prefix = Some(last);
            }
        }
        let terms = query.words.len()
            + query.phrases.iter().map(Vec::len).sum::<usize>()
            + usize::from(query.prefix.is_some());
        if terms == 0 {
            return Err(refused("search for at least one word"));
        }
        if terms > MAX_TERMS {
            return Err(refused(format!("a search has at most {MAX_TERMS} words")));
        }
        if query.room.is_some() && query.with.is_some() {
            return Err(refused("in: names a room or a person, not both"));
        }
        Ok(query)
    }

    /// Takes `name:value` as a filter; `false` if `name` names none (the token is then words).
    fn filter(&mut self, name: &str, value: &str) -> Result<bool, FrameError> {
        let name = name.to_ascii_lowercase();
        if !matches!(name.as_str(), "from" | "in" | "before" | "after") {
            return Ok(false);
        }
        if value.is_empty() {
            return Err(refused(format!("{name}: needs a value")));
        }
        match name.as_str() {
            "from" => self.from = Some(value.trim_start_matches('@').to_owned()),
            "in" => match value.strip_prefix('@') {
                Some(person) => self.with = Some(person.to_owned()),
                None => self.room = Some(value.trim_start_matches('#').to_lowercase()),
            },
            "before" => self.before = Some(date(value, "before")?),
            _ => self.after = Some(date(value, "after")?),
        }
        Ok(true)
    }

    /// The query in FTS5's syntax: every word and phrase quoted, the prefix starred.
    pub fn fts5(&self) -> String {
        let mut parts: Vec<String> = self.words.iter().map(|w| format!("\"{w}\"")).collect();
        parts.extend(self.phrases.iter().map(|p| format!("\"{}\"", p.join(" "))));
        if let Some(prefix) = &self.prefix {
            parts.push(format!("\"{prefix}\"*"));
        }
        parts.join(" ")
    }

    /// The query as PostgreSQL's `tsquery` text: words joined by `&`, phrases by `<->`, the
    /// prefix as `:*`.
    pub fn tsquery(&self) -> String {
        let mut parts: Vec<String> = self.words.iter().map(|w| format!("'{w}'")).collect();
        parts.extend(self.phrases.iter().map(|p| {
            let quoted: Vec<String> = p.iter().map(|w| format!("'{w}'")).collect();
            format!("({})", quoted.join(" <-> "))
        }));
        if let Some(prefix) = &self.prefix {
            parts.push(format!("'{prefix}':*"));
        }
        parts.join(" & ")
    }

    /// The earliest `at` a hit may have (`after:`): past the end of that day.
    pub fn after_at(&self) -> Option<String> {
        // "T24" sorts after every time of that day and before the next day.
        self.after.as_ref().map(|day| format!("{day}T24"))
    }
}

/// Where `text` holds the query's words, as `[start, end)` offsets in characters (Unicode scalar
/// values), in order.
pub fn marks(text: &str, query: &Query) -> Vec<[u32; 2]> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (char offset, byte offset)
    let mut chars = 0usize;
    let check = |from: (usize, usize), to_char: usize, to_byte: usize, out: &mut Vec<[u32; 2]>| {
        let word = fold(&text[from.1..to_byte]);
        let hit = query.words.contains(&word)
            || query.phrases.iter().any(|p| p.contains(&word))
            || query
                .prefix
                .as_ref()
                .is_some_and(|p| word.starts_with(p.as_str()));
        if hit {
            if let (Ok(a), Ok(b)) = (u32::try_from(from.0), u32::try_from(to_char)) {
                out.push([a, b]);
            }
        }
    };
    for (byte, c) in text.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some((chars, byte));
            }
        } else if let Some(from) = start.take() {
            check(from, chars, byte, &mut out);
        }
        chars += 1;
    }
    if let Some(from) = start {
        check(from, chars, text.len(), &mut out);
    }
    out
}

/// Where the next page of hits starts: below which row of the rooms' messages, and below which
/// private message id (`None`: that source has no more). Sent to clients as an opaque string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub rooms: Option<i64>,
    pub directs: Option<i64>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let part = |key: Option<i64>| key.map_or_else(|| "-".to_owned(), |k| k.to_string());
        format!("{}.{}", part(self.rooms), part(self.directs))
    }

    pub fn decode(text: &str) -> Result<Self, FrameError> {
        let bad = || refused("before: is the `next` of a previous page of results");
        let (rooms, directs) = text.split_once('.').ok_or_else(bad)?;
        let part = |part: &str| -> Result<Option<i64>, FrameError> {
            match part {
                "-" => Ok(None),
                n => n.parse().map(Some).map_err(|_| bad()),
            }
        };
        Ok(Self {
            rooms: part(rooms)?,
            directs: part(directs)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_prefix_and_filters() {
        let q = Query::parse(r#"Déploy "Staging DB" from:@alice in:#ops before:2026-12-01 depl"#)
            .expect("parses");
        assert_eq!(q.words, ["deploy"]);
        assert_eq!(q.phrases, [vec!["staging".to_owned(), "db".to_owned()]]);
        assert_eq!(q.prefix.as_deref(), Some("depl"));
        assert_eq!(q.from.as_deref(), Some("alice"));
        assert_eq!(q.room.as_deref(), Some("ops"));
        assert_eq!(q.before.as_deref(), Some("2026-12-01"));
        assert_eq!(q.fts5(), r#""deploy" "staging db" "depl"*"#);
        assert_eq!(q.tsquery(), "'deploy' & ('staging' <-> 'db') & 'depl':*");
    }

    #[test]
    fn a_finished_word_is_not_a_prefix() {
        let q = Query::parse("deploy ").expect("parses");
        assert_eq!((q.words.len(), q.prefix), (1, None));
        let q = Query::parse("deploy from:bob").expect("parses");
        assert_eq!((q.words.len(), q.prefix), (1, None));
    }

    #[test]
    fn nothing_typed_reaches_the_index_syntax() {
        let q = Query::parse(r#"a" OR b* NEAR(c) 'x' & !y:*"#).expect("parses");
        for text in [q.fts5(), q.tsquery()] {
            assert!(!text.contains("OR b"), "{text}");
            assert!(!text.contains('!'), "{text}");
            assert!(!text.contains("NEAR("), "{text}");
        }
    }

    #[test]
    fn refusals_are_clear() {
        for q in [
            "",
            "from:alice",
            "before:yesterday x",
            &"w ".repeat(13),
            "in:#a in:@b x",
        ] {
            assert!(Query::parse(q).is_err(), "{q:?}");
        }
    }

    #[test]
    fn marks_are_character_offsets_of_folded_matches() {
        let q = Query::parse("über depl").expect("parses");
        assert_eq!(marks("Über-cool: Deployed.", &q), [[0, 4], [11, 19]]);
        assert_eq!(marks("nothing here", &q), Vec::<[u32; 2]>::new());
    }

    #[test]
    fn a_cursor_round_trips() {
        for (rooms, directs) in [(Some(41), None), (None, Some(12)), (Some(7), Some(3))] {
            let cursor = Cursor { rooms, directs };
            assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        }
        assert!(Cursor::decode("junk").is_err());
        assert!(Cursor::decode("1.x").is_err());
    }
}
