//! The picture of someone who has not set one: their initials, white on a colour derived from
//! their name (the same name always gets the same colour, on every server), as a small SVG.
//!
//! The SVG is made here from the name alone, the text escaped; like every file it is served with
//! `Content-Security-Policy: sandbox`, and pages show it through `<img>`, where SVG runs nothing.

/// Up to two initials: the first letter or digit of the first two words, upper-cased; `?` for a
/// name with none.
pub fn initials(nick: &str) -> String {
    let mut out = String::new();
    let words = nick
        .split(|c: char| c.is_whitespace() || matches!(c, '-' | '_' | '.'))
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()));
    for first in words.take(2) {
        out.extend(first.to_uppercase());
    }
    if out.is_empty() {
        out.push('?');
    }
    out
}

/// A hue from 0 to 359 for `nick`, the same for every way of writing its case (FNV-1a of the
/// lower-cased name).
pub fn hue(nick: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in nick.to_lowercase().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % 360
}

/// The SVG: a 64×64 square of the name's colour with its initials in white. The colour is dark
/// enough (lightness 38%) for white text to keep a contrast above 4.5:1 on every hue.
pub fn svg(nick: &str) -> String {
    let mut text = String::new();
    for c in initials(nick).chars() {
        match c {
            '<' => text.push_str("&lt;"),
            '>' => text.push_str("&gt;"),
            '&' => text.push_str("&amp;"),
            c => text.push(c),
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 64 64\" width=\"64\" height=\"64\">\
         <rect width=\"64\" height=\"64\" fill=\"hsl({} 55% 38%)\"/>\
         <text x=\"32\" y=\"32\" dy=\".35em\" text-anchor=\"middle\" fill=\"#fff\" \
         font-family=\"system-ui,sans-serif\" font-size=\"28\" font-weight=\"600\">{text}</text></svg>",
        hue(nick)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_initials_at_most_from_words() {
        assert_eq!(initials("alice"), "A");
        assert_eq!(initials("bob smith"), "BS");
        assert_eq!(initials("ana-maria de la cruz"), "AM");
        assert_eq!(initials("élodie"), "É");
        assert_eq!(initials("__"), "?");
    }

    #[test]
    fn the_colour_follows_the_name_not_its_case() {
        assert_eq!(hue("Alice"), hue("alice"));
        assert_ne!(hue("alice"), hue("bob"));
    }

    #[test]
    fn markup_in_a_name_stays_text() {
        let bold = svg("<b>");
        assert!(bold.contains(">B<"), "{bold}");
        let tag = svg("&<x");
        assert!(!tag.contains("<x"), "{tag}");
    }
}
