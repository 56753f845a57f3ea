//! My own messages: shown at once as "sending", marked "sent" by their `ack` (or by their stored
//! copy when the ack was lost), "not sent" by an `error` naming them or by no ack within
//! [`ACK_TIMEOUT_MS`] of being sent; a failed one can be retried under its first `client_id`.
//!
//! [`Outbox`] keeps which of my messages wait, where and since when; their lines are in the
//! conversations, which its methods are handed to change.

use std::collections::{BTreeMap, HashMap};

use super::conversation::{Conversations, Line, LineKind};
use super::{key, SendState, View, ACK_TIMEOUT_MS};
use crate::protocol::{ClientMsg, FileInfo, Quote};

/// One of my messages not yet confirmed: what to send again after a reconnect or a Retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub view: View,
    pub client_id: String,
    pub text: String,
    pub action: bool,
    /// My uploads it carries (described by the upload's answer, shown before the ack).
    pub files: Vec<FileInfo>,
    /// The message it answers, quoted as shown.
    pub reply: Option<Quote>,
}

impl Outgoing {
    fn file_ids(&self) -> Vec<String> {
        self.files.iter().map(|f| f.id.clone()).collect()
    }

    /// The frame that sends it.
    pub fn frame(&self) -> ClientMsg {
        match &self.view {
            View::Room(room) => ClientMsg::Say {
                room: room.clone(),
                text: self.text.clone(),
                client_id: self.client_id.clone(),
                action: self.action,
                files: self.file_ids(),
                reply_to: self.reply.as_ref().map(|quote| quote.seq),
            },
            View::Direct(to) => ClientMsg::Dm {
                to: to.clone(),
                text: self.text.clone(),
                client_id: self.client_id.clone(),
                action: self.action,
                files: self.file_ids(),
                reply_to: self.reply.as_ref().and_then(|quote| quote.id),
            },
        }
    }
}

/// My unconfirmed messages: client_id → (conversation, when it was last sent, if it was).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outbox {
    pending: HashMap<String, (View, Option<f64>)>,
}

impl Outbox {
    /// Shows my own message `out`, from `from`, at once, as sending.
    pub(super) fn push_own(
        &mut self,
        conversations: &mut Conversations,
        from: &str,
        out: Outgoing,
        at: &str,
    ) {
        conversations.conversation_mut(&out.view).push(Line::new(
            out.client_id.clone(),
            LineKind::Chat {
                from: from.to_owned(),
                text: out.text,
                at: at.to_owned(),
                action: out.action,
                mine: Some(SendState::Sending),
                seq: None,
                dm_id: None,
                edited: false,
                deleted: false,
                files: out.files,
                reply: out.reply,
                reactions: BTreeMap::new(),
            },
        ));
        self.pending.insert(out.client_id, (out.view, None));
    }

    /// Records that message `client_id` went out on an open socket at `now_ms`; its ack timer starts.
    pub fn transmitted(&mut self, client_id: &str, now_ms: f64) {
        if let Some((_, sent)) = self.pending.get_mut(client_id) {
            *sent = Some(now_ms);
        }
    }

    /// The connection dropped: messages that went out and wait for their ack stop their clock (no
    /// ack can come while offline) and stay "sending"; [`Outbox::unconfirmed`] finds them to send
    /// again, with the same `client_id`, after the next `welcome`.
    pub fn disconnected(&mut self) {
        for (_, sent) in self.pending.values_mut() {
            *sent = None;
        }
    }

    /// The conversation where my message `client_id` waits, if it does.
    pub fn view_of(&self, client_id: &str) -> Option<&View> {
        self.pending.get(client_id).map(|(view, _)| view)
    }

    /// My messages still "sending", oldest first per conversation: sent again after a reconnect.
    pub fn unconfirmed(&self, conversations: &Conversations) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for (view, conv) in conversations.rooms().chain(conversations.directs()) {
            for line in &conv.lines {
                if let LineKind::Chat {
                    text,
                    action,
                    mine: Some(SendState::Sending),
                    files,
                    reply,
                    ..
                } = &line.kind
                {
                    out.push(Outgoing {
                        view: view.clone(),
                        client_id: line.id.clone(),
                        text: text.clone(),
                        action: *action,
                        files: files.clone(),
                        reply: reply.clone(),
                    });
                }
            }
        }
        out
    }

    /// How many of my messages are not confirmed (sending, or shown as not sent): what a reload
    /// would lose. Failed ones wait here no more, so this counts lines.
    pub fn unsent(&self, conversations: &Conversations) -> usize {
        conversations
            .rooms()
            .chain(conversations.directs())
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
    pub(super) fn retry(
        &mut self,
        client_id: &str,
        conversations: &mut Conversations,
    ) -> Option<Outgoing> {
        let view = conversations.find_line(client_id)?;
        let conv = conversations.conversation_mut(&view);
        let LineKind::Chat {
            text,
            action,
            mine,
            files,
            reply,
            ..
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
            files: files.clone(),
            reply: reply.clone(),
        };
        self.pending.insert(client_id.to_owned(), (view, None));
        Some(out)
    }

    /// My message `client_id` is stored (its copy came back, live or by catch-up): its line, still
    /// "sending" or already shown as failed, becomes "sent"; it is never shown twice. Returns
    /// whether such a line was found.
    pub(super) fn confirm_stored(
        &mut self,
        conversations: &mut Conversations,
        view: &View,
        client_id: &str,
        at: Option<u64>,
    ) -> bool {
        self.settle(client_id, SendState::Sent, conversations);
        let conv = conversations.conversation_mut(view);
        let Some(line) = conv.line_mut(client_id) else {
            return false;
        };
        if let LineKind::Chat {
            mine, seq, dm_id, ..
        } = line
        {
            *mine = Some(SendState::Sent);
            match view {
                View::Room(_) => *seq = seq.or(at),
                View::Direct(_) => *dm_id = dm_id.or(at),
            }
        }
        true
    }

    /// An `ack`: my message is stored (a room message with its place in the room, from which its
    /// line can be edited or deleted; a private message with its id, by which it can be answered).
    pub(super) fn acked(
        &mut self,
        client_id: &str,
        place: Option<(View, u64)>,
        conversations: &mut Conversations,
    ) -> bool {
        if let Some((view, at)) = place {
            let line = conversations
                .get_mut(&view)
                .and_then(|conv| conv.line_mut(client_id));
            if let Some(LineKind::Chat { seq, dm_id, .. }) = line {
                match view {
                    View::Room(_) => *seq = Some(at),
                    View::Direct(_) => *dm_id = Some(at),
                }
            }
        }
        self.settle(client_id, SendState::Sent, conversations)
    }

    /// A refusal of my message: "not sent", with why, in its conversation.
    pub(super) fn refused(
        &mut self,
        client_id: &str,
        message: &str,
        conversations: &mut Conversations,
    ) -> bool {
        let view = self.view_of(client_id).cloned();
        let changed = self.settle(client_id, SendState::Failed, conversations);
        if let (true, Some(view)) = (changed, view) {
            conversations.notice(&view, format!("Not sent: {message}"));
        }
        changed
    }

    /// Moves a pending message to its final state. Returns whether it was pending.
    fn settle(
        &mut self,
        client_id: &str,
        state: SendState,
        conversations: &mut Conversations,
    ) -> bool {
        let Some((view, _)) = self.pending.remove(client_id) else {
            return false;
        };
        let conv = conversations.conversation_mut(&view);
        if let Some(LineKind::Chat { mine, .. }) = conv.line_mut(client_id) {
            *mine = Some(state);
            return true;
        }
        false
    }

    /// Fails my messages that waited too long for their ack. Returns whether any did.
    pub(super) fn expire(&mut self, now_ms: f64, conversations: &mut Conversations) -> bool {
        let overdue: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, (_, sent))| sent.is_some_and(|t| now_ms - t > ACK_TIMEOUT_MS))
            .map(|(id, _)| id.clone())
            .collect();
        let mut changed = false;
        for client_id in overdue {
            changed |= self.settle(&client_id, SendState::Failed, conversations);
        }
        changed
    }

    /// A room I left: my messages in it wait no more.
    pub(super) fn forget_room(&mut self, room: &str) {
        self.pending
            .retain(|_, (view, _)| *view != View::Room(room.to_owned()));
    }

    /// `from` is now called `to`: my messages to them still waiting for their ack settle in the
    /// conversation under the new name, where it moves.
    pub(super) fn renamed(&mut self, from: &str, to: &str) {
        let (old, new) = (key(from), key(to));
        if old == new {
            return;
        }
        for (view, _) in self.pending.values_mut() {
            if matches!(view, View::Direct(peer) if key(peer) == old) {
                *view = View::Direct(new.clone());
            }
        }
    }
}
