//! Where a person's picture is: `/avatars/NAME`, the same address in the server's pages, the
//! browser's and a bot's. It always answers a picture: the one they uploaded, or their initials
//! on a colour derived from the name, so a page never needs to know which before showing it.

/// The picture of `nick`, percent-encoded so any name makes one path segment.
pub fn avatar_path(nick: &str) -> String {
    let mut path = String::with_capacity(9 + nick.len());
    path.push_str("/avatars/");
    for byte in nick.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            path.push(char::from(byte));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            path.push('%');
            path.push(char::from(HEX[usize::from(byte >> 4)]));
            path.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
    path
}

/// The picture of `nick` as of `version` (what the `avatar` frame announces): a new address
/// whenever it changes, so browsers holding the old one fetch it again.
pub fn avatar_url(nick: &str, version: &str) -> String {
    format!("{}?v={version}", avatar_path(nick))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_name_is_one_path_segment() {
        assert_eq!(avatar_path("alice"), "/avatars/alice");
        assert_eq!(avatar_path("Zoë B/1?"), "/avatars/Zo%C3%AB%20B%2F1%3F");
        assert_eq!(avatar_url("bo", "ab12"), "/avatars/bo?v=ab12");
    }
}
