//! `react`: add an emoji to a room message, or take it back. The store decides and gives the
//! reaction its place in the room's log ([`crate::server::store::Reactions::react`]); everyone in
//! the room gets `reacted` in that place, this connection included, then an `ack` if the request
//! carried a `client_id`. Adding one already there, or taking back one that is not, changes
//! nothing and is acked all the same.

use unicode_properties::{EmojiStatus, UnicodeEmoji};
use unicode_segmentation::UnicodeSegmentation;

use super::edit::ack;
use super::{Outcome, Refused};
use crate::protocol::{
    validate_client_id, validate_room, ErrorCode, FrameError, ServerMsg, Stored,
    MAX_REACTIONS_PER_MESSAGE,
};
use crate::server::clock::now_rfc3339;
use crate::server::store::{ReactOutcome, ReactionDraft};
use crate::server::ws::{Connection, Live, WsIo};

/// The longest emoji accepted, in bytes (a family joined with zero-width joiners and skin tones
/// is about 35).
const MAX_EMOJI_BYTES: usize = 64;

/// A reaction as asked for.
#[derive(Debug, Clone)]
pub struct React {
    pub room: String,
    pub seq: u64,
    pub emoji: String,
    pub on: bool,
    pub client_id: Option<String>,
}

/// Whether `emoji` is one emoji: a single extended grapheme cluster (a flag, a skin tone or a
/// joined family is one) shown as an emoji: one that is an emoji by default, or asks to be one
/// (U+FE0F), or a keycap.
pub fn validate_emoji(emoji: &str) -> Result<(), FrameError> {
    let refused = || FrameError::new(ErrorCode::BadFrame, "a reaction is one emoji");
    if emoji.is_empty() || emoji.len() > MAX_EMOJI_BYTES || emoji.graphemes(true).count() != 1 {
        return Err(refused());
    }
    let first = emoji.chars().next().ok_or_else(refused)?;
    let presented = matches!(
        first.emoji_status(),
        EmojiStatus::EmojiPresentation
            | EmojiStatus::EmojiPresentationAndModifierBase
            | EmojiStatus::EmojiPresentationAndEmojiComponent
            | EmojiStatus::EmojiPresentationAndModifierAndEmojiComponent
    );
    let asked =
        first.is_emoji_char() && emoji.chars().any(|c| matches!(c, '\u{FE0F}' | '\u{20E3}'));
    if presented || asked {
        Ok(())
    } else {
        Err(refused())
    }
}

pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    live: &mut Live,
    react: React,
    reply_to: Option<&str>,
) -> Outcome {
    let React {
        room,
        seq,
        emoji,
        on,
        client_id,
    } = react;
    if let Some(client_id) = &client_id {
        validate_client_id(client_id)?;
    }
    validate_room(&room)?;
    validate_emoji(&emoji)?;
    live.me.person.ensure_member(&room)?;
    live.me.person.ensure_may_post()?;
    let draft = ReactionDraft {
        by: live.me.person.nick(),
        person_id: live.me.person.id.get(),
        emoji,
        on,
        at: now_rfc3339(),
        max_distinct: MAX_REACTIONS_PER_MESSAGE,
    };
    let reaction = match conn.ctx.store.reactions().react(&room, seq, draft).await? {
        ReactOutcome::Stored(reaction) => reaction,
        ReactOutcome::Unchanged => {
            let ack = ack(client_id, &room, None, reply_to);
            conn.socket.send(&ack).await?;
            return Ok(());
        }
        ReactOutcome::NotFound => {
            return Err(FrameError::new(
                ErrorCode::NotFound,
                format!("#{room} has no message {seq}"),
            )
            .into())
        }
        ReactOutcome::Full => {
            return Err(FrameError::new(
                ErrorCode::Forbidden,
                format!("a message carries at most {MAX_REACTIONS_PER_MESSAGE} different emoji"),
            )
            .into())
        }
    };
    let position = reaction.log_seq;
    let stored = Stored::Reacted(reaction);
    conn.ctx.hub.deliver_change(&room, conn.id, &stored);
    let Stored::Reacted(mut own) = stored else {
        return Ok(());
    };
    own.reply_to = reply_to.map(str::to_owned);
    conn.ack_in_order(live, &room, position, &ServerMsg::Reacted(own))
        .await
        .map_err(Refused::End)?;
    if client_id.is_some() {
        conn.socket
            .send(&ack(client_id, &room, Some(position), reply_to))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_emoji;

    #[test]
    fn one_emoji_and_nothing_else() {
        for ok in ["👍", "❤️", "🇫🇷", "👍🏽", "👨‍👩‍👧", "1️⃣", "🎉"]
        {
            assert!(validate_emoji(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "1", "#", "👍👍", "ok", "❤", "<b>", "👍 "] {
            assert!(validate_emoji(bad).is_err(), "{bad:?}");
        }
    }
}
