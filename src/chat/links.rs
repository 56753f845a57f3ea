//! Web addresses in a message's text, so the page can show them as links.
//!
//! Only `http://` and `https://` addresses are links; everything else in a message stays plain
//! text, shown as typed (the page renders text nodes, never HTML). An address ends at whitespace or
//! at a character that cannot be part of one as people write them in prose (`<`, `>`, `"`, and
//! similar); trailing sentence punctuation is left out (`see https://a.example/x.` links
//! `https://a.example/x`), and so is a closing bracket that the address did not open (so
//! `(https://a.example)` links `https://a.example`, while a Wikipedia-style `.../Rust_(language)`
//! keeps its `)`). Nothing is fetched: no previews.

/// `text` as it is shown: without the bidi embeddings, overrides and isolates, which would make
/// it read differently from what it is (`invoice_\u{202E}fdp.exe` would show as
/// `invoice_exe.pdf`). The page also isolates each message and name (`dir="auto"`, `<bdi>`), so
/// right-to-left text stays readable without reordering what is around it.
pub fn defused(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(crate::protocol::is_bidi_control) {
        std::borrow::Cow::Owned(
            text.chars()
                .filter(|c| !crate::protocol::is_bidi_control(*c))
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Whether an address holds a character that changes how text around it reads (bidi controls and
/// marks): such an address is never a link, since it does not read as where it goes.
fn disguised(address: &str) -> bool {
    address.chars().any(|c| {
        crate::protocol::is_bidi_control(c) || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
    })
}

/// A piece of a message's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Link(&'a str),
}

/// Splits `text` into plain text and web addresses, in order; joined, the pieces are `text`.
pub fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut plain_from = 0;
    let mut search_from = 0;
    while let Some(found) = next_scheme(text, search_from) {
        let Some(end) = address_end(text, found) else {
            // A scheme with nothing after it: not an address.
            search_from = found + scheme_len(&text[found..]);
            continue;
        };
        if disguised(&text[found..end]) {
            // Left as text (it stays in the plain run).
            search_from = end;
            continue;
        }
        if plain_from < found {
            out.push(Segment::Text(&text[plain_from..found]));
        }
        out.push(Segment::Link(&text[found..end]));
        plain_from = end;
        search_from = end;
    }
    if plain_from < text.len() {
        out.push(Segment::Text(&text[plain_from..]));
    }
    out
}

/// Where the next `http://` or `https://` starts (any case), at or after `from`, not glued to a
/// word before it (`xhttp://` is not an address).
fn next_scheme(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if scheme_len_bytes(rest) > 0 {
            let glued = at > 0 && bytes[at - 1].is_ascii_alphanumeric();
            if !glued {
                return Some(at);
            }
        }
        at += 1;
        // Stay on character boundaries: skip UTF-8 continuation bytes.
        while at < bytes.len() && !text.is_char_boundary(at) {
            at += 1;
        }
    }
    None
}

fn scheme_len(s: &str) -> usize {
    scheme_len_bytes(s.as_bytes())
}

fn scheme_len_bytes(s: &[u8]) -> usize {
    for scheme in [&b"https://"[..], &b"http://"[..]] {
        if s.len() >= scheme.len() && s[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return scheme.len();
        }
    }
    0
}

/// Where the address starting at `start` ends (exclusive); `None` if nothing follows its scheme.
fn address_end(text: &str, start: usize) -> Option<usize> {
    let body_start = start + scheme_len(&text[start..]);
    let mut end = body_start;
    for (i, c) in text[body_start..].char_indices() {
        if c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"' | '`' | '{' | '}' | '|' | '\\' | '^')
        {
            break;
        }
        end = body_start + i + c.len_utf8();
    }
    // Trailing punctuation belongs to the sentence, and a closing bracket to the text around the
    // address unless the address opened it.
    while end > body_start {
        let address = &text[start..end];
        let Some(last) = address.chars().last() else {
            break;
        };
        let trim = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' | '_' => true,
            ')' => address.matches(')').count() > address.matches('(').count(),
            ']' => address.matches(']').count() > address.matches('[').count(),
            _ => false,
        };
        if !trim {
            break;
        }
        end -= last.len_utf8();
    }
    (end > body_start).then_some(end)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use Segment::{Link, Text};

    #[test]
    fn an_address_with_bidi_controls_is_not_a_link_and_none_is_shown() {
        let spoof = "see https://\u{202E}@moc.elgoog.evil.net now";
        assert_eq!(segments(spoof), vec![Text(spoof)]);
        assert_eq!(
            segments("https://a.example/\u{200F}x"),
            vec![Text("https://a.example/\u{200F}x")]
        );
        assert_eq!(defused("invoice_\u{202E}fdp.exe"), "invoice_fdp.exe");
        assert_eq!(defused("\u{2067}שלום\u{2069} ok"), "שלום ok");
        assert!(matches!(
            defused("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn addresses_in_prose() {
        assert_eq!(segments("no links here"), vec![Text("no links here")]);
        assert_eq!(
            segments("see https://example.com/a?b=1&c=2#d, then reply."),
            vec![
                Text("see "),
                Link("https://example.com/a?b=1&c=2#d"),
                Text(", then reply.")
            ]
        );
        assert_eq!(segments("http://x.org"), vec![Link("http://x.org")]);
        assert_eq!(
            segments("HTTPS://EXAMPLE.COM/Path."),
            vec![Link("HTTPS://EXAMPLE.COM/Path"), Text(".")]
        );
        assert_eq!(
            segments("two: http://a.example and https://b.example/x!"),
            vec![
                Text("two: "),
                Link("http://a.example"),
                Text(" and "),
                Link("https://b.example/x"),
                Text("!"),
            ]
        );
    }

    #[test]
    fn brackets_belong_to_the_address_only_when_it_opened_them() {
        assert_eq!(
            segments("(see https://en.wikipedia.org/wiki/Rust_(programming_language))"),
            vec![
                Text("(see "),
                Link("https://en.wikipedia.org/wiki/Rust_(programming_language)"),
                Text(")"),
            ]
        );
        assert_eq!(
            segments("[https://a.example]"),
            vec![Text("["), Link("https://a.example"), Text("]")]
        );
    }

    #[test]
    fn only_web_addresses_are_links() {
        for text in [
            "javascript:alert(1)",
            "data:text/html,<b>x</b>",
            "ftp://files.example/",
            "https://",
            "http:// spaced",
            "xhttp://glued.example",
            "<a href=\"https://x.example\">",
        ] {
            let links: Vec<_> = segments(text)
                .into_iter()
                .filter_map(|s| match s {
                    Link(l) => Some(l),
                    Text(_) => None,
                })
                .collect();
            if text.starts_with("<a href") {
                // The address inside is a link; the markup around it stays text.
                assert_eq!(links, vec!["https://x.example"], "{text}");
            } else {
                assert!(links.is_empty(), "{text}: {links:?}");
            }
        }
    }

    #[test]
    fn addresses_end_at_what_cannot_be_in_one() {
        assert_eq!(
            segments("<https://a.example/x>"),
            vec![Text("<"), Link("https://a.example/x"), Text(">")]
        );
        assert_eq!(
            segments("\"https://a.example/ü/日本\""),
            vec![Text("\""), Link("https://a.example/ü/日本"), Text("\"")]
        );
    }

    proptest! {
        #[test]
        fn the_pieces_are_the_text(text in any::<String>()) {
            let joined: String = segments(&text)
                .into_iter()
                .map(|s| match s { Text(t) | Link(t) => t })
                .collect();
            prop_assert_eq!(joined, text);
        }

        #[test]
        fn every_link_is_a_web_address(text in "[ a-z:/.()hpst]{0,40}") {
            for segment in segments(&text) {
                if let Link(link) = segment {
                    let lower = link.to_ascii_lowercase();
                    prop_assert!(lower.starts_with("http://") || lower.starts_with("https://"));
                    prop_assert!(link.len() > scheme_len(link));
                    prop_assert!(!link.chars().any(char::is_whitespace));
                }
            }
        }
    }
}
