//! What the composer's text means: a message, or one of the slash commands keyboard users expect.
//!
//! - `/nick new` renames me; `/msg bob text` sends bob a private message; `/me waves` is an action;
//!   `/help` lists the commands. `//text` sends `/text` literally.
//! - Moderators: `/mute bob [10m] [reason]` and `/ban bob [1d] [reason]` (durations in s, m, h, d).
//! - Anything else starting with `/` is an unknown command, answered locally, never sent.

/// One line typed into the composer, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A message to the conversation on screen.
    Say { text: String, action: bool },
    /// `/nick new`.
    Nick(String),
    /// `/msg nick text`.
    Msg { to: String, text: String },
    /// `/mute nick [duration] [reason]` (`ban: false`) or `/ban ...`.
    Sanction {
        ban: bool,
        nick: String,
        seconds: u64,
        reason: String,
    },
    /// `/help`.
    Help,
    /// A command used wrongly or not known: the text to show the user.
    Invalid(String),
}

/// The help shown for `/help`.
pub const HELP: &str = "Commands: /nick <name> renames you · /msg <name> <text> sends a private \
message · /me <action> shows an action · /help shows this. Start with // to send a leading slash. \
Moderators: /mute <name> [10m] [reason] · /ban <name> [1d] [reason].";

/// How long a mute lasts when no duration is typed: ten minutes.
pub const DEFAULT_MUTE_SECS: u64 = 600;
/// How long a ban lasts when no duration is typed: a day.
pub const DEFAULT_BAN_SECS: u64 = 86_400;

/// `30s`, `10m`, `2h`, `7d`: a duration in seconds, if that is one.
fn duration(word: &str) -> Option<u64> {
    let unit = word.chars().last()?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let n: u64 = word[..word.len() - 1].parse().ok()?;
    n.checked_mul(scale).filter(|s| *s > 0)
}

impl Command {
    pub fn parse(input: &str) -> Self {
        if let Some(literal) = input.strip_prefix("//") {
            return Command::Say {
                text: format!("/{literal}"),
                action: false,
            };
        }
        let Some(rest) = input.strip_prefix('/') else {
            return Command::Say {
                text: input.to_owned(),
                action: false,
            };
        };
        let (name, args) = match rest.split_once(char::is_whitespace) {
            Some((name, args)) => (name, args.trim()),
            None => (rest, ""),
        };
        match (name.to_ascii_lowercase().as_str(), args) {
            ("nick", "") => Command::Invalid("Usage: /nick <new name>".to_owned()),
            ("nick", name) => Command::Nick(name.to_owned()),
            ("me", "") => Command::Invalid("Usage: /me <action>".to_owned()),
            ("me", action) => Command::Say {
                text: action.to_owned(),
                action: true,
            },
            ("msg", args) => match args.split_once(char::is_whitespace) {
                Some((to, text)) if !text.trim().is_empty() => Command::Msg {
                    to: to.to_owned(),
                    text: text.trim().to_owned(),
                },
                _ => Command::Invalid("Usage: /msg <name> <text>".to_owned()),
            },
            (kind @ ("mute" | "ban"), args) => {
                let ban = kind == "ban";
                let mut words = args.splitn(2, char::is_whitespace);
                let nick = words.next().unwrap_or_default().to_owned();
                if nick.is_empty() {
                    return Command::Invalid(format!("Usage: /{kind} <name> [duration] [reason]"));
                }
                let rest = words.next().unwrap_or_default().trim();
                let (first, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let (seconds, reason) = match duration(first) {
                    Some(seconds) => (seconds, after.trim()),
                    None if ban => (DEFAULT_BAN_SECS, rest),
                    None => (DEFAULT_MUTE_SECS, rest),
                };
                Command::Sanction {
                    ban,
                    nick,
                    seconds,
                    reason: reason.to_owned(),
                }
            }
            ("help", _) => Command::Help,
            (other, _) => Command::Invalid(format!("Unknown command /{other}. Type /help.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(text: &str, action: bool) -> Command {
        Command::Say {
            text: text.into(),
            action,
        }
    }

    #[test]
    fn plain_text_is_a_message() {
        assert_eq!(Command::parse("hello /nick"), say("hello /nick", false));
        assert_eq!(Command::parse("//shrug"), say("/shrug", false));
    }

    #[test]
    fn commands() {
        assert_eq!(Command::parse("/nick  Zoë "), Command::Nick("Zoë".into()));
        assert_eq!(Command::parse("/me waves"), say("waves", true));
        assert_eq!(
            Command::parse("/msg bob are you there?"),
            Command::Msg {
                to: "bob".into(),
                text: "are you there?".into()
            }
        );
        assert_eq!(Command::parse("/HELP"), Command::Help);
        assert_eq!(
            Command::parse("/mute troll 30m stop spamming"),
            Command::Sanction {
                ban: false,
                nick: "troll".into(),
                seconds: 1800,
                reason: "stop spamming".into()
            }
        );
        assert_eq!(
            Command::parse("/ban troll spam"),
            Command::Sanction {
                ban: true,
                nick: "troll".into(),
                seconds: DEFAULT_BAN_SECS,
                reason: "spam".into()
            }
        );
        assert_eq!(
            Command::parse("/mute troll"),
            Command::Sanction {
                ban: false,
                nick: "troll".into(),
                seconds: DEFAULT_MUTE_SECS,
                reason: String::new()
            }
        );
    }

    #[test]
    fn misuse_is_explained_not_sent() {
        for input in [
            "/nick",
            "/me",
            "/msg",
            "/msg bob",
            "/msg bob   ",
            "/frobnicate x",
            "/ban",
            "/mute  ",
        ] {
            assert!(
                matches!(Command::parse(input), Command::Invalid(_)),
                "{input}"
            );
        }
    }
}
