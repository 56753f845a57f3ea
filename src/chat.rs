//! The chat as the page shows it: a timeline of lines and how server frames change it.
//!
//! This is plain data with no browser or signal in it, so the rules (own messages shown at once as
//! "sending", marked sent by their `ack`, failed by an `error` that names them; others' messages kept
//! once each, by `seq`) are unit-tested natively. The page wraps a [`Timeline`] in a signal and
//! `client` feeds it the frames it receives.

use std::collections::HashSet;

use crate::protocol::{ChatMessage, ServerMsg};

/// Where one of my own messages stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Shown, not yet confirmed by the server.
    Sending,
    /// Confirmed: stored under this `seq`.
    Sent,
    /// Refused by the server.
    Failed,
}

/// What a line of the timeline is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// A chat message, mine (`Some` delivery state) or someone else's (`None`).
    Chat {
        from: String,
        text: String,
        /// RFC 3339; for my own messages, the local time they were written until acked.
        at: String,
        mine: Option<Delivery>,
    },
    /// A notice from chinwag itself, e.g. about missed messages.
    Notice(String),
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Stable identity: `client_id` for my own messages, `room:seq` for others', `notice-N`.
    pub id: String,
    pub kind: LineKind,
}

impl Line {
    /// A key that changes whenever the line's look does, so a keyed list re-renders it.
    pub fn render_key(&self) -> String {
        match &self.kind {
            LineKind::Chat {
                mine: Some(state), ..
            } => format!("{}#{state:?}", self.id),
            _ => self.id.clone(),
        }
    }
}

/// The lines on screen, in the order they appeared, plus what is needed to keep them exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    lines: Vec<Line>,
    /// Every `(room, seq)` on screen, from others' messages and my acks. Membership, not a high-water
    /// mark: my ack for seq 5 may arrive before someone else's seq 4, which must still be shown.
    seen: HashSet<(String, u64)>,
    notices: u64,
}

impl Timeline {
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Shows my own message at once, as sending.
    pub fn push_own(&mut self, client_id: &str, from: &str, text: &str, at: &str) {
        self.lines.push(Line {
            id: client_id.to_owned(),
            kind: LineKind::Chat {
                from: from.to_owned(),
                text: text.to_owned(),
                at: at.to_owned(),
                mine: Some(Delivery::Sending),
            },
        });
    }

    /// Adds a notice line.
    pub fn notice(&mut self, text: impl Into<String>) {
        self.notices += 1;
        self.lines.push(Line {
            id: format!("notice-{}", self.notices),
            kind: LineKind::Notice(text.into()),
        });
    }

    /// My messages the server has not confirmed yet, oldest first: `(client_id, text)`. They are sent
    /// again after a reconnect.
    pub fn unconfirmed(&self) -> Vec<(String, String)> {
        self.lines
            .iter()
            .filter_map(|line| match &line.kind {
                LineKind::Chat {
                    text,
                    mine: Some(Delivery::Sending),
                    ..
                } => Some((line.id.clone(), text.clone())),
                _ => None,
            })
            .collect()
    }

    /// Applies one server frame. Returns whether anything visible changed.
    pub fn apply(&mut self, msg: &ServerMsg) -> bool {
        match msg {
            ServerMsg::Message(message) => self.receive(message),
            ServerMsg::Ack {
                client_id,
                room,
                seq,
            } => {
                self.seen.insert((room.clone(), *seq));
                self.set_state(client_id, Delivery::Sent)
            }
            ServerMsg::Error {
                client_id: Some(client_id),
                message,
                ..
            } => {
                let changed = self.set_state(client_id, Delivery::Failed);
                if changed {
                    self.notice(format!("Not sent: {message}"));
                }
                changed
            }
            ServerMsg::Lagged { room, missed } => {
                self.notice(format!(
                    "Your connection fell behind: {missed} messages in #{room} were skipped."
                ));
                true
            }
            ServerMsg::Welcome { .. } | ServerMsg::Error { .. } => false,
        }
    }

    fn receive(&mut self, message: &ChatMessage) -> bool {
        if !self.seen.insert((message.room.clone(), message.seq)) {
            return false;
        }
        self.lines.push(Line {
            id: format!("{}:{}", message.room, message.seq),
            kind: LineKind::Chat {
                from: message.from.clone(),
                text: message.text.clone(),
                at: message.at.clone(),
                mine: None,
            },
        });
        true
    }

    fn set_state(&mut self, client_id: &str, state: Delivery) -> bool {
        for line in self.lines.iter_mut().rev() {
            if line.id != client_id {
                continue;
            }
            if let LineKind::Chat {
                mine: Some(current),
                ..
            } = &mut line.kind
            {
                if *current == Delivery::Sending {
                    *current = state;
                    return true;
                }
            }
            return false;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    fn message(seq: u64, from: &str, text: &str) -> ServerMsg {
        ServerMsg::Message(ChatMessage {
            room: "general".into(),
            seq,
            from: from.into(),
            text: text.into(),
            at: "2026-11-25T22:00:00.000Z".into(),
            client_id: None,
        })
    }

    fn states(timeline: &Timeline) -> Vec<Option<Delivery>> {
        timeline
            .lines()
            .iter()
            .map(|l| match l.kind {
                LineKind::Chat { mine, .. } => mine,
                LineKind::Notice(_) => None,
            })
            .collect()
    }

    #[test]
    fn my_message_is_shown_at_once_then_marked_sent_by_its_ack() {
        let mut t = Timeline::default();
        t.push_own("c-1", "me", "hi", "now");
        assert_eq!(states(&t), [Some(Delivery::Sending)]);
        let key_before = t.lines()[0].render_key();
        assert!(t.apply(&ServerMsg::Ack {
            client_id: "c-1".into(),
            room: "general".into(),
            seq: 3
        }));
        assert_eq!(states(&t), [Some(Delivery::Sent)]);
        assert_ne!(t.lines()[0].render_key(), key_before);
        assert!(t.unconfirmed().is_empty());
    }

    #[test]
    fn others_messages_are_kept_once_each() {
        let mut t = Timeline::default();
        assert!(t.apply(&message(1, "bob", "a")));
        assert!(t.apply(&message(2, "bob", "b")));
        assert!(!t.apply(&message(2, "bob", "b")));
        assert!(!t.apply(&message(1, "bob", "a")));
        assert_eq!(t.lines().len(), 2);
    }

    #[test]
    fn an_ack_overtaking_an_older_message_does_not_hide_it() {
        let mut t = Timeline::default();
        t.push_own("c-1", "me", "mine", "now");
        t.apply(&ServerMsg::Ack {
            client_id: "c-1".into(),
            room: "general".into(),
            seq: 5,
        });
        assert!(t.apply(&message(4, "bob", "older")));
        assert_eq!(t.lines().len(), 2);
    }

    #[test]
    fn a_refused_message_fails_and_says_why() {
        let mut t = Timeline::default();
        t.push_own("c-1", "me", "x", "now");
        let refusal = ServerMsg::Error {
            code: ErrorCode::TooLong,
            message: "too long".into(),
            client_id: Some("c-1".into()),
        };
        assert!(t.apply(&refusal));
        assert_eq!(states(&t)[0], Some(Delivery::Failed));
        assert!(matches!(&t.lines()[1].kind, LineKind::Notice(n) if n.contains("too long")));
        // A late ack does not resurrect it, and nothing is resent.
        assert!(!t.apply(&ServerMsg::Ack {
            client_id: "c-1".into(),
            room: "general".into(),
            seq: 1
        }));
        assert!(t.unconfirmed().is_empty());
    }

    #[test]
    fn unconfirmed_messages_are_listed_oldest_first_for_resending() {
        let mut t = Timeline::default();
        t.push_own("c-1", "me", "one", "now");
        t.push_own("c-2", "me", "two", "now");
        t.apply(&ServerMsg::Ack {
            client_id: "c-1".into(),
            room: "general".into(),
            seq: 1,
        });
        t.push_own("c-3", "me", "three", "now");
        assert_eq!(
            t.unconfirmed(),
            [("c-2".into(), "two".into()), ("c-3".into(), "three".into())]
        );
    }

    #[test]
    fn lag_is_shown_as_a_notice() {
        let mut t = Timeline::default();
        assert!(t.apply(&ServerMsg::Lagged {
            room: "general".into(),
            missed: 7
        }));
        assert!(matches!(&t.lines()[0].kind, LineKind::Notice(n) if n.contains('7')));
    }
}
