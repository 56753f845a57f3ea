//! `@name` mentions in a message's text: shown highlighted for everyone (strongly for the person
//! named), and a mention of me raises a badge on its room and, while the tab is hidden, the title's
//! count and a notification.
//!
//! A mention is `@` not glued to a word before it (so an e-mail address is not one), then the name:
//! letters, digits, `-`, `_` and `.`, a trailing `.` left to the sentence. Names compare as the
//! server compares them, case aside.

/// A piece of a message's plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// `@name`, with its `@`.
    Mention(&'a str),
}

/// Splits `text` into plain text and mentions, in order; joined, the pieces are `text`.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut plain_from = 0;
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let glued = previous.is_some_and(|p| p.is_alphanumeric() || p == '_');
        previous = Some(c);
        if c != '@' || glued {
            continue;
        }
        let name_start = at + 1;
        let mut end = name_start;
        while let Some(&(i, n)) = chars.peek() {
            if !(n.is_alphanumeric() || matches!(n, '-' | '_' | '.')) {
                break;
            }
            end = i + n.len_utf8();
            previous = Some(n);
            chars.next();
        }
        let name = text[name_start..end].trim_end_matches('.');
        if name.is_empty() {
            continue;
        }
        let end = name_start + name.len();
        if plain_from < at {
            out.push(Piece::Text(&text[plain_from..at]));
        }
        out.push(Piece::Mention(&text[at..end]));
        plain_from = end;
    }
    if plain_from < text.len() {
        out.push(Piece::Text(&text[plain_from..]));
    }
    out
}

/// Whether `mention` (`@name`) names `me`.
pub fn names(mention: &str, me: &str) -> bool {
    let name = mention.strip_prefix('@').unwrap_or(mention);
    !me.is_empty() && super::lower(name) == super::lower(me)
}

/// Whether `text` mentions `me`.
pub fn mentions(text: &str, me: &str) -> bool {
    pieces(text)
        .iter()
        .any(|piece| matches!(piece, Piece::Mention(m) if names(m, me)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use Piece::{Mention, Text};

    #[test]
    fn mentions_in_prose() {
        assert_eq!(
            pieces("hi @Bob, and @ana-2."),
            vec![
                Text("hi "),
                Mention("@Bob"),
                Text(", and "),
                Mention("@ana-2"),
                Text(".")
            ]
        );
        assert_eq!(
            pieces("mail bob@example.org"),
            vec![Text("mail bob@example.org")]
        );
        assert_eq!(pieces("@ alone @"), vec![Text("@ alone @")]);
        assert_eq!(pieces("@zoë!"), vec![Mention("@zoë"), Text("!")]);
        assert!(mentions("ping @BOB please", "bob"));
        assert!(!mentions("ping @bobby", "bob"));
        assert!(!mentions("bob@example.org", "bob"));
        assert!(!mentions("@bob", ""));
    }

    proptest! {
        #[test]
        fn the_pieces_are_the_text(text in any::<String>()) {
            let joined: String = pieces(&text)
                .iter()
                .map(|piece| match piece {
                    Text(t) | Mention(t) => *t,
                })
                .collect();
            prop_assert_eq!(joined, text);
        }
    }
}
