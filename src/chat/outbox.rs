//! My own messages: shown at once as "sending", marked "sent" by their `ack` (or by their stored
//! copy when the ack was lost), "not sent" by an `error` naming them or by no ack within
//! [`ACK_TIMEOUT_MS`] of being sent; a failed one can be retried under its first `client_id`.

use super::conversation::{Line, LineKind};
use super::{Chat, SendState, View, ACK_TIMEOUT_MS};
use crate::protocol::ClientMsg;

/// One of my messages not yet confirmed: what to send again after a reconnect or a Retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub view: View,
    pub client_id: String,
    pub text: String,
    pub action: bool,
}

impl Outgoing {
    /// The frame that sends it.
    pub fn frame(&self) -> ClientMsg {
        match &self.view {
            View::Room(room) => ClientMsg::Say {
                room: room.clone(),
                text: self.text.clone(),
                client_id: self.client_id.clone(),
                action: self.action,
                files: Vec::new(),
            },
            View::Direct(to) => ClientMsg::Dm {
                to: to.clone(),
                text: self.text.clone(),
                client_id: self.client_id.clone(),
                action: self.action,
                files: Vec::new(),
            },
        }
    }
}

impl Chat {
    /// Shows my own message at once, as sending, in conversation `view`.
    pub fn push_own(&mut self, view: View, client_id: &str, text: &str, action: bool, at: &str) {
        let from = self.me.clone();
        self.conversation_mut(&view).push(Line::new(
            client_id.to_owned(),
            LineKind::Chat {
                from,
                text: text.to_owned(),
                at: at.to_owned(),
                action,
                mine: Some(SendState::Sending),
                seq: None,
                edited: false,
                deleted: false,
            },
        ));
        self.pending.insert(client_id.to_owned(), (view, None));
    }

    /// Records that message `client_id` went out on an open socket at `now_ms`; its ack timer starts.
    pub fn mark_transmitted(&mut self, client_id: &str, now_ms: f64) {
        if let Some((_, sent)) = self.pending.get_mut(client_id) {
            *sent = Some(now_ms);
        }
    }

    /// My messages still "sending", oldest first per conversation: sent again after a reconnect.
    pub fn unconfirmed(&self) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for (view, conv) in self.rooms().chain(self.directs()) {
            for line in &conv.lines {
                if let LineKind::Chat {
                    text,
                    action,
                    mine: Some(SendState::Sending),
                    ..
                } = &line.kind
                {
                    out.push(Outgoing {
                        view: view.clone(),
                        client_id: line.id.clone(),
                        text: text.clone(),
                        action: *action,
                    });
                }
            }
        }
        out
    }

    /// How many of my messages are not confirmed (sending, or shown as not sent): what a reload
    /// would lose.
    pub fn unsent(&self) -> usize {
        self.rooms()
            .chain(self.directs())
            .flat_map(|(_, conv)| &conv.lines)
            .filter(|line| {
                matches!(
                    line.kind,
                    LineKind::Chat {
                        mine: Some(SendState::Sending | SendState::Failed),
                        ..
                    }
                )
            })
            .count()
    }

    /// Puts a failed message back to "sending" and returns what to send, with the same `client_id`
    /// (so the server stores it at most once).
    pub fn retry(&mut self, client_id: &str) -> Option<Outgoing> {
        let view = self.find_line_view(client_id)?;
        let conv = self.conversation_mut(&view);
        let LineKind::Chat {
            text, action, mine, ..
        } = conv.line_mut(client_id)?
        else {
            return None;
        };
        if *mine != Some(SendState::Failed) {
            return None;
        }
        *mine = Some(SendState::Sending);
        let out = Outgoing {
            view: view.clone(),
            client_id: client_id.to_owned(),
            text: text.clone(),
            action: *action,
        };
        self.pending.insert(client_id.to_owned(), (view, None));
        Some(out)
    }

    pub(super) fn find_line_view(&self, client_id: &str) -> Option<View> {
        self.rooms()
            .chain(self.directs())
            .find(|(_, c)| c.lines.iter().any(|l| l.id == client_id))
            .map(|(view, _)| view)
    }

    /// The connection dropped: messages that went out and wait for their ack stop their clock (no
    /// ack can come while offline) and stay "sending"; [`Chat::unconfirmed`] sends them again, with
    /// the same `client_id`, after the next `welcome`.
    pub fn disconnected(&mut self) {
        for (_, sent) in self.pending.values_mut() {
            *sent = None;
        }
    }

    /// My message `client_id` is stored (its copy came back, live or by catch-up): its line, still
    /// "sending" or already shown as failed, becomes "sent"; it is never shown twice. Returns
    /// whether such a line was found.
    pub(super) fn confirm_stored(&mut self, view: &View, client_id: &str, at: Option<u64>) -> bool {
        self.settle(client_id, SendState::Sent);
        let conv = self.conversation_mut(view);
        let Some(line) = conv.line_mut(client_id) else {
            return false;
        };
        if let LineKind::Chat { mine, seq, .. } = line {
            *mine = Some(SendState::Sent);
            *seq = seq.or(at);
        }
        true
    }

    /// My room message `client_id` is stored as `seq` of `room` (its ack): its line can now be
    /// edited or deleted.
    pub(super) fn number_own(&mut self, room: &str, client_id: &str, at: u64) {
        let Some(conv) = self.rooms.get_mut(room) else {
            return;
        };
        if let Some(LineKind::Chat { seq, .. }) = conv.line_mut(client_id) {
            *seq = Some(at);
        }
    }

    /// An `ack`: my message is stored (a room message with its place in the room).
    pub(super) fn acked(&mut self, client_id: &str, place: Option<(&str, u64)>) -> bool {
        if let Some((room, seq)) = place {
            self.seen.insert((room.to_owned(), seq));
            self.number_own(room, client_id, seq);
        }
        self.settle(client_id, SendState::Sent)
    }

    /// A refusal of my message: "not sent", with why, in its conversation.
    pub(super) fn refused(&mut self, client_id: &str, message: &str) -> bool {
        let view = self.pending.get(client_id).map(|(v, _)| v.clone());
        let changed = self.settle(client_id, SendState::Failed);
        if let (true, Some(view)) = (changed, view) {
            self.notice(&view, format!("Not sent: {message}"));
        }
        changed
    }

    /// Moves a pending message to its final state. Returns whether it was pending.
    pub(super) fn settle(&mut self, client_id: &str, state: SendState) -> bool {
        let Some((view, _)) = self.pending.remove(client_id) else {
            return false;
        };
        let conv = self.conversation_mut(&view);
        if let Some(LineKind::Chat { mine, .. }) = conv.line_mut(client_id) {
            *mine = Some(state);
            return true;
        }
        false
    }

    /// Fails my messages that waited too long for their ack. Returns whether any did.
    pub(super) fn expire_unacked(&mut self, now_ms: f64) -> bool {
        let overdue: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, (_, sent))| sent.is_some_and(|t| now_ms - t > ACK_TIMEOUT_MS))
            .map(|(id, _)| id.clone())
            .collect();
        let mut changed = false;
        for client_id in overdue {
            changed |= self.settle(&client_id, SendState::Failed);
        }
        changed
    }
}
