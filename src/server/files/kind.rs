//! What a file is, told from its first bytes and never from the name or type the client sent.
//!
//! Only the four image formats the page previews are ever served as what they are; every other
//! type is named for the download chip, but served as a download (see `http::files`).

/// How many leading bytes decide a file's type.
pub const SNIFF_LEN: usize = 8192;

/// The four formats shown inline, each re-checked by decoding its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    Png,
    Jpeg,
    Gif,
    WebP,
}

impl Picture {
    /// The type it is served as.
    pub fn mime(self) -> &'static str {
        match self {
            Picture::Png => "image/png",
            Picture::Jpeg => "image/jpeg",
            Picture::Gif => "image/gif",
            Picture::WebP => "image/webp",
        }
    }

    /// The `image` crate's name for it.
    pub fn format(self) -> image::ImageFormat {
        match self {
            Picture::Png => image::ImageFormat::Png,
            Picture::Jpeg => image::ImageFormat::Jpeg,
            Picture::Gif => image::ImageFormat::Gif,
            Picture::WebP => image::ImageFormat::WebP,
        }
    }
}

/// A file's type as sniffed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Previewed inline once its header checks out.
    Picture(Picture),
    /// Anything else: named by its sniffed type, always served as a download.
    Other(&'static str),
}

impl Kind {
    /// The type told to clients (`"type"` in the file's description).
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Picture(p) => p.mime(),
            Kind::Other(mime) => mime,
        }
    }
}

/// The type of a file that starts with `head` (its first [`SNIFF_LEN`] bytes, or all of it).
pub fn sniff(head: &[u8]) -> Kind {
    if let Some(picture) = picture(head) {
        return Kind::Picture(picture);
    }
    if let Some(found) = infer::get(head) {
        return Kind::Other(found.mime_type());
    }
    // Text without a recognised signature (logs, source code): told apart from binary by having
    // no NUL and being UTF-8, allowing for a character cut off at the end of the window.
    if !head.contains(&0) {
        match std::str::from_utf8(head) {
            Ok(_) => return Kind::Other("text/plain"),
            Err(err) if err.error_len().is_none() => return Kind::Other("text/plain"),
            Err(_) => {}
        }
    }
    Kind::Other("application/octet-stream")
}

fn picture(head: &[u8]) -> Option<Picture> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Picture::Png)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Picture::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(Picture::Gif)
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(Picture::WebP)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Kind::Picture(Picture::Png)
        );
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Kind::Picture(Picture::Jpeg)
        );
        assert_eq!(sniff(b"GIF89a...."), Kind::Picture(Picture::Gif));
        assert_eq!(
            sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Kind::Picture(Picture::WebP)
        );
        assert_eq!(sniff(b"%PDF-1.7\n"), Kind::Other("application/pdf"));
        assert_eq!(
            sniff(b"2026-12-07 error: disk full\n"),
            Kind::Other("text/plain")
        );
        assert_eq!(
            sniff(&[0, 1, 2, 3, 0xFF]),
            Kind::Other("application/octet-stream")
        );
    }

    #[test]
    fn markup_is_never_an_image() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert!(!matches!(sniff(svg), Kind::Picture(_)));
        assert!(!matches!(
            sniff(b"<!doctype html><script>1</script>"),
            Kind::Picture(_)
        ));
    }

    #[test]
    fn a_character_cut_by_the_window_is_still_text() {
        let mut text = "é".repeat(10).into_bytes();
        text.pop();
        assert_eq!(sniff(&text), Kind::Other("text/plain"));
    }
}
