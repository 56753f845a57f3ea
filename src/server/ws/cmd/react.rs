//! `react`: add an emoji to a room message, or take it back. The store decides and gives the
//! reaction its place in the room's log ([`crate::server::store::Reactions::react`]); everyone in
//! the room gets `reacted` in that place, this connection included, then an `ack` if the request
//! carried a `client_id`. Adding one already there, or taking back one that is not, changes
//! nothing and is acked all the same.
//!
//! A reaction to a private message (`dm` and `id`) takes its place among private messages instead:
//! it is committed and delivered as one ([`crate::server::hub::Hub::send_direct`]), so both
//! parties' connections get `dm_reacted` in id order and a reconnect's `dm_since` brings exactly
//! those missed.

use unicode_properties::{EmojiStatus, UnicodeEmoji};
use unicode_segmentation::UnicodeSegmentation;

use super::edit::ack;
use super::{Outcome, Refused};
use crate::protocol::{
    validate_client_id, validate_room, ErrorCode, FrameError, ServerMsg, Stored,
    MAX_REACTIONS_PER_MESSAGE,
};
use crate::server::clock::now_rfc3339;
use crate::server::store::{
    DirectDraft, DirectEntry, ReactOutcome, Reacting, ReactionDraft, ReactionState,
};
use crate::server::ws::{Connection, Ctx, Live, WsIo};

/// The longest emoji accepted, in bytes (a family joined with zero-width joiners and skin tones
/// is about 35).
const MAX_EMOJI_BYTES: usize = 64;

/// A reaction as asked for: to message `seq` of `room`, or to private message `id` of my
/// conversation with `dm`.
#[derive(Debug, Clone)]
pub struct React {
    pub room: String,
    pub seq: u64,
    pub dm: Option<String>,
    pub id: Option<u64>,
    pub emoji: String,
    pub on: bool,
    pub client_id: Option<String>,
}

/// The message a reaction is for.
#[derive(Debug, Clone)]
enum Target {
    /// Message `seq` of `room`.
    Room { room: String, seq: u64 },
    /// Private message `id` of my conversation with `with`.
    Direct { with: String, id: u64 },
}

impl Target {
    /// The target a `react` names: `dm` and `id`, or else `room` and `seq`.
    fn of(react: &mut React) -> Result<Target, FrameError> {
        match (react.dm.take(), react.id) {
            (Some(with), Some(id)) => Ok(Target::Direct { with, id }),
            (None, None) => Ok(Target::Room {
                room: std::mem::take(&mut react.room),
                seq: react.seq,
            }),
            _ => Err(FrameError::new(
                ErrorCode::BadFrame,
                "a reaction to a private message names both `dm` and `id`",
            )),
        }
    }
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
    mut react: React,
    reply_to: Option<&str>,
) -> Outcome {
    if let Some(client_id) = &react.client_id {
        validate_client_id(client_id)?;
    }
    validate_emoji(&react.emoji)?;
    match Target::of(&mut react)? {
        Target::Room { room, seq } => in_room(conn, live, (room, seq), react, reply_to).await,
        Target::Direct { with, id } => in_direct(conn, live, (with, id), react, reply_to).await,
    }
}

async fn in_room<S: WsIo>(
    conn: &mut Connection<S>,
    live: &mut Live,
    (room, seq): (String, u64),
    react: React,
    reply_to: Option<&str>,
) -> Outcome {
    let React {
        emoji,
        on,
        client_id,
        ..
    } = react;
    validate_room(&room)?;
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
        ReactOutcome::Full => return Err(too_many().into()),
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

async fn in_direct<S: WsIo>(
    conn: &mut Connection<S>,
    live: &mut Live,
    (with, id): (String, u64),
    react: React,
    reply_to: Option<&str>,
) -> Outcome {
    let React {
        emoji,
        on,
        client_id,
        ..
    } = react;
    let me = &live.me;
    me.person.ensure_may_post()?;
    let (entry, prev, to_nick) = {
        // One person's reactions are looked at and committed in their order: a double click
        // stores one.
        let order = me.person.in_order().await;
        let (peer, to_nick) = super::dm::recipient(&conn.ctx, &with).await?;
        let mine = me.person.id.get();
        let state = standing(&conn.ctx, (mine, peer.get(), &to_nick), id, &emoji).await?;
        if state.mine == on {
            drop(order);
            let unchanged = direct_ack(client_id, &to_nick, None, reply_to);
            conn.socket.send(&unchanged).await?;
            return Ok(());
        }
        if on && !state.there && state.distinct >= MAX_REACTIONS_PER_MESSAGE {
            return Err(too_many().into());
        }
        let draft = DirectDraft {
            from_person: mine,
            to_person: peer.get(),
            from: me.person.nick(),
            to: to_nick.clone(),
            text: emoji,
            at: now_rfc3339(),
            client_id: None,
            action: false,
            files: Vec::new(),
            answering: None,
            reacting: Some(Reacting { target: id, on }),
        };
        let stored = conn
            .ctx
            .hub
            .send_direct(draft, me.person.id, peer, conn.id)
            .await?;
        drop(order);
        (stored.entry, stored.prev_from, to_nick)
    };
    // A reaction's draft is stored as a reaction.
    let DirectEntry::Reacted(mut own) = entry else {
        return Err(FrameError::new(ErrorCode::Unavailable, "not stored").into());
    };
    let position = own.log_id;
    own.reply_to = reply_to.map(str::to_owned);
    conn.direct_ack_in_order(live, (position, prev), &ServerMsg::DmReacted(own))
        .await
        .map_err(Refused::End)?;
    if client_id.is_some() {
        let ack = direct_ack(client_id, &to_nick, Some(position), reply_to);
        conn.socket.send(&ack).await?;
    }
    Ok(())
}

/// Where `mine`'s reaction `emoji` to private message `id` of their conversation with `peer`
/// (called `to_nick`) stands: `forbidden` if `peer` blocked them, `not_found` if the message is
/// not one between the two.
async fn standing(
    ctx: &Ctx,
    (mine, peer, to_nick): (i64, i64, &str),
    id: u64,
    emoji: &str,
) -> Result<ReactionState, FrameError> {
    let directs = ctx.store.directs();
    if directs.blocks(peer, mine).await? {
        return Err(FrameError::new(
            ErrorCode::Forbidden,
            format!("{to_nick} does not take private messages from you"),
        ));
    }
    directs
        .reaction_state((mine, peer), id, mine, emoji)
        .await?
        .ok_or_else(|| {
            FrameError::new(
                ErrorCode::NotFound,
                format!("there is no private message {id} between you and {to_nick}"),
            )
        })
}

/// A reaction past the message's different emoji.
fn too_many() -> FrameError {
    FrameError::new(
        ErrorCode::Forbidden,
        format!("a message carries at most {MAX_REACTIONS_PER_MESSAGE} different emoji"),
    )
}

/// The `ack` of a reaction to a private message: its place among private messages, or none when
/// it changed nothing.
fn direct_ack(
    client_id: Option<String>,
    to: &str,
    id: Option<u64>,
    reply_to: Option<&str>,
) -> ServerMsg {
    ServerMsg::Ack {
        client_id: client_id.unwrap_or_default(),
        room: None,
        seq: None,
        to: Some(to.to_owned()),
        id,
        reply_to: reply_to.map(str::to_owned),
    }
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
