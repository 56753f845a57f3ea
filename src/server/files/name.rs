//! A file's name as others will see it and save it: no path, no control or bidi characters, no
//! leading dot, bounded in length.

/// The longest name kept, in characters (the extension is kept when a name is shortened).
pub const MAX_NAME_CHARS: usize = 120;

/// `given` made safe to show and to put in a `Content-Disposition` header; `fallback` when
/// nothing usable is left.
pub fn sanitise(given: &str, fallback: &str) -> String {
    // Browsers on Windows send `C:\Users\...\name.png`; keep only the last part either way.
    let base = given.rsplit(['/', '\\']).next().unwrap_or(given);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || is_format(c) || r#"<>:"|?*"#.contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    if trimmed.is_empty() {
        return fallback.to_owned();
    }
    shorten(trimmed)
}

/// Unicode format characters (bidi controls, zero-width joiners): they could make `gpj.exe` read
/// as `exe.jpg`.
fn is_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

fn shorten(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS {
        return name.to_owned();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.chars().count() <= 10 => (stem, Some(ext)),
        _ => (name, None),
    };
    let room = MAX_NAME_CHARS - ext.map_or(0, |e| e.chars().count() + 1);
    let mut out: String = stem.chars().take(room).collect();
    if let Some(ext) = ext {
        out.push('.');
        out.push_str(ext);
    }
    out
}

/// The name in a `Content-Disposition` header: an ASCII fallback and the UTF-8 form (RFC 6266).
pub fn disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_controls_are_removed() {
        assert_eq!(sanitise("C:\\Users\\me\\shot.png", "file"), "shot.png");
        assert_eq!(sanitise("../../etc/passwd", "file"), "passwd");
        assert_eq!(sanitise(".htaccess", "file"), "htaccess");
        assert_eq!(sanitise("a\u{202E}gpj.exe", "file"), "a_gpj.exe");
        assert_eq!(sanitise("re\npo<rt>.pdf", "file"), "re_po_rt_.pdf");
        assert_eq!(sanitise("  ", "file"), "file");
        assert_eq!(sanitise("/", "file"), "file");
    }

    #[test]
    fn long_names_keep_their_extension() {
        let long = format!("{}.tar.gz", "x".repeat(300));
        let short = sanitise(&long, "file");
        assert_eq!(short.chars().count(), MAX_NAME_CHARS);
        assert!(short.ends_with(".gz"));
    }

    #[test]
    fn the_header_carries_both_forms() {
        assert_eq!(
            disposition("attachment", "naïve \"plan\".pdf"),
            "attachment; filename=\"na_ve _plan_.pdf\"; filename*=UTF-8''na%C3%AFve%20%22plan%22.pdf"
        );
    }
}
