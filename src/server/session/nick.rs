//! What a nickname may be, how it is shown, and when two are "the same name".
//!
//! A nickname is shown in its NFKC form (fullwidth `ａｌｉｃｅ` is `alice`, ligatures and
//! compatibility characters become what they stand for), trimmed, with runs of spaces made one.
//! It is refused when it hides something: control, format (zero-width space and joiner, soft
//! hyphen, bidi overrides and isolates), separator, private-use, unassigned and invisible filler
//! characters, piles of combining marks, or nothing visible at all.
//!
//! Its *key* is what uniqueness is decided on: lowercased, folded with Unicode's confusables
//! skeleton (UTS #39, so Cyrillic `о` counts as Latin `o`, `ℓ` as `l`) and without combining marks
//! (so `alicé` counts as `alice`). Two sessions can never hold two names with one key.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization as _;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

use crate::protocol::{ErrorCode, FrameError, MAX_NICK_CHARS};

/// A nickname as shown, and the key it is claimed under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nick {
    pub display: String,
    pub key: String,
}

/// More combining marks than this in a row is a pile meant to spill over other lines of text.
const MAX_MARKS_IN_A_ROW: usize = 2;

/// Checks and normalizes a nickname typed by someone.
pub fn normalize(input: &str) -> Result<Nick, FrameError> {
    let normalized: String = input.nfkc().collect();
    // Before spaces are tidied: a tab or a line break is a control character, not a space.
    if let Some(bad) = normalized.chars().find(|c| hidden(*c)) {
        return Err(refused(&format!(
            "a nickname cannot contain invisible or control characters (U+{:04X})",
            u32::from(bad)
        )));
    }
    let mut display = String::with_capacity(normalized.len());
    for word in normalized.split(|c: char| c.is_whitespace()) {
        if word.is_empty() {
            continue;
        }
        if !display.is_empty() {
            display.push(' ');
        }
        display.push_str(word);
    }
    if display.is_empty() {
        return Err(refused("the nickname is empty"));
    }
    if display.chars().count() > MAX_NICK_CHARS {
        return Err(refused(&format!(
            "a nickname has at most {MAX_NICK_CHARS} characters"
        )));
    }
    let mut marks = 0;
    for (i, c) in display.chars().enumerate() {
        if is_combining_mark(c) {
            marks += 1;
            if i == 0 || marks > MAX_MARKS_IN_A_ROW {
                return Err(refused("a nickname cannot pile up combining marks"));
            }
        } else {
            marks = 0;
        }
    }
    let key = key(&display);
    if key.is_empty() {
        return Err(refused(
            "a nickname needs at least one visible letter or sign",
        ));
    }
    Ok(Nick { display, key })
}

/// The key of a nickname that is already valid (e.g. one read back from the store).
pub fn key(display: &str) -> String {
    let lower = display.to_lowercase();
    let folded: String = unicode_security::skeleton(&lower).collect();
    folded
        .nfd()
        .filter(|c| !is_combining_mark(*c) && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Characters that are invisible, reorder text, or stand for nothing, and so could make one name
/// look like another (or a message look like nothing at all).
pub fn hidden(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    ) || matches!(
        c,
        // Default-ignorable letters and marks that are not format characters: the combining
        // grapheme joiner, Hangul and Khmer fillers, Mongolian variation selectors; and the blank
        // braille pattern, a common stand-in for a space.
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'
            ..='\u{180D}' | '\u{180F}' | '\u{2800}' | '\u{3164}' | '\u{FFA0}'
    )
}

fn refused(why: &str) -> FrameError {
    FrameError::new(ErrorCode::NickInvalid, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(nick: &str) -> String {
        normalize(nick).expect(nick).key
    }

    #[test]
    fn names_are_shown_normalized() {
        assert_eq!(normalize("  alice ").map(|n| n.display), Ok("alice".into()));
        assert_eq!(normalize("Zoë 🦀").map(|n| n.display), Ok("Zoë 🦀".into()));
        assert_eq!(
            normalize("ａｌｉｃｅ").map(|n| n.display),
            Ok("alice".into())
        );
        assert_eq!(
            normalize("a \u{3000}  b").map(|n| n.display),
            Ok("a b".into())
        );
        assert_eq!(
            normalize("e\u{301}mile").map(|n| n.display),
            Ok("émile".into()),
            "composed"
        );
        assert_eq!(
            normalize(&"é".repeat(32)).map(|n| n.display.chars().count()),
            Ok(32)
        );
        // Emoji with a presentation selector are fine.
        assert!(normalize("❤\u{FE0F} bob").is_ok());
        // Scripts other than Latin are welcome.
        for name in ["Дмитрий", "さくら", "محمد", "Σωκράτης", "देवनागरी"]
        {
            assert!(normalize(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn hidden_characters_are_refused() {
        for bad in [
            "",
            "   ",
            "a\u{7}b",
            "tab\there",
            "alice\u{200B}",                     // zero-width space
            "al\u{200D}ice",                     // zero-width joiner
            "ali\u{AD}ce",                       // soft hyphen
            "\u{202E}ecila",                     // right-to-left override
            "\u{2066}alice\u{2069}",             // isolates
            "alice\u{034F}",                     // combining grapheme joiner
            "\u{3164}",                          // Hangul filler
            "\u{2800}\u{2800}",                  // blank braille
            "a\u{E000}",                         // private use
            "\u{301}alice",                      // a mark with nothing under it
            "al\u{301}\u{302}\u{303}\u{304}ice", // a pile of marks
            &"x".repeat(33),
        ] {
            assert_eq!(
                normalize(bad).map_err(|e| e.code),
                Err(ErrorCode::NickInvalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn look_alikes_share_a_key() {
        let alice = key_of("alice");
        for twin in [
            "Alice",
            "ALICE",
            "ａｌｉｃｅ",    // fullwidth
            "аlice",         // Cyrillic а
            "alicе",         // Cyrillic е
            "alicé",         // an accent
            "ali\u{0301}ce", // a combining accent
            "a l i c e",     // spaces
        ] {
            assert_eq!(key_of(twin), alice, "{twin:?}");
        }
        assert_eq!(key_of("rn"), key_of("m"), "the confusables skeleton");
        assert_ne!(key_of("bob"), alice);
        assert_eq!(key("Zoë 🦀"), key_of("zoe 🦀"));
    }
}
