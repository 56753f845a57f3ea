//! `edit` and `delete`: change one of my messages. The store decides
//! ([`crate::server::store::Messages::change`]) and gives the change its place in the room's log;
//! everyone in the room gets `edited` or `deleted` in that place, this connection included, then an
//! `ack` if the request carried a `client_id`.

use super::{Outcome, Refused};
use crate::protocol::{
    validate_client_id, validate_room, validate_text, ErrorCode, FrameError, ServerMsg,
};
use crate::server::clock::now_rfc3339;
use crate::server::store::{ChangeDraft, ChangeOutcome};
use crate::server::ws::{Connection, Ctx, Live, WsIo};

/// An edit (`Some` text) or a delete (`None`) of message `seq` of `room`.
#[derive(Debug, Clone)]
pub struct Change {
    pub room: String,
    pub seq: u64,
    pub text: Option<String>,
    pub client_id: Option<String>,
}

/// Makes the change; the `edited` or `deleted` frame and the `ack` this connection gets carry the
/// request's `id`.
pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    live: &mut Live,
    change: Change,
    reply_to: Option<&str>,
) -> Outcome {
    let Change {
        room,
        seq,
        text,
        client_id,
    } = change;
    check(live, &room, text.as_deref(), client_id.as_deref())?;
    let draft = draft(&conn.ctx, live, text).await;
    let outcome = conn.ctx.store.messages().change(&room, seq, draft).await?;
    let change =
        match outcome {
            ChangeOutcome::Stored(change) => change,
            ChangeOutcome::AlreadyDeleted => {
                // A retried delete whose answer was lost: done, and said so again.
                let ack = ack(client_id, &room, None, reply_to);
                conn.socket.send(&ack).await?;
                return Ok(());
            }
            ChangeOutcome::TooManyEdits => {
                return Err(FrameError::new(
                    ErrorCode::Forbidden,
                    format!(
                        "a message can be edited {} times at most",
                        conn.ctx.limits.max_edits
                    ),
                )
                .into())
            }
            ChangeOutcome::NotFound => {
                return Err(FrameError::new(
                    ErrorCode::NotFound,
                    format!("#{room} has no message {seq}"),
                )
                .into())
            }
            ChangeOutcome::Forbidden => return Err(FrameError::new(
                ErrorCode::Forbidden,
                "only its author can edit a message, and only its author or a moderator delete it",
            )
            .into()),
        };
    announce(conn, live, &room, change, client_id, reply_to).await
}

/// The request's own checks, then whether I may post in `room` at all (whose message it is, the
/// store decides).
fn check(
    live: &Live,
    room: &str,
    text: Option<&str>,
    client_id: Option<&str>,
) -> Result<(), FrameError> {
    if let Some(client_id) = client_id {
        validate_client_id(client_id)?;
    }
    validate_room(room)?;
    if let Some(text) = text {
        validate_text(text)?;
        crate::server::text::ensure_visible(text)?;
    }
    live.me.person.ensure_member(room)?;
    live.me.person.ensure_may_post()
}

/// The change as the store takes it, made by me now.
async fn draft(ctx: &Ctx, live: &Live, text: Option<String>) -> ChangeDraft {
    let me = &live.me;
    ChangeDraft {
        by: me.person.nick(),
        person_id: Some(me.person.id.get()),
        at: now_rfc3339(),
        mentions: match &text {
            Some(text) => crate::server::text::mentions(&ctx.hub, &ctx.store, text).await,
            None => Vec::new(),
        },
        text,
        // The store checks that it is one, in the change's transaction.
        moderator: me.person.standing().moderator,
        max_edits: ctx.limits.max_edits,
    }
}

/// Tells the room about a stored change, and this connection in its place among the room's
/// frames, then acks it if it carried a `client_id`.
async fn announce<S: WsIo>(
    conn: &mut Connection<S>,
    live: &mut Live,
    room: &str,
    change: crate::protocol::Stored,
    client_id: Option<String>,
    reply_to: Option<&str>,
) -> Outcome {
    let position = change.position();
    conn.ctx.hub.deliver_change(room, conn.id, &change);
    // This connection's copy, in its place among the room's frames (the ring skips the sender).
    let own = |mut change: crate::protocol::Change| {
        change.reply_to = reply_to.map(str::to_owned);
        change
    };
    let frame = match change {
        crate::protocol::Stored::Edited(change) => ServerMsg::Edited(own(change)),
        crate::protocol::Stored::Deleted(change) => ServerMsg::Deleted(own(change)),
        _ => return Ok(()),
    };
    conn.ack_in_order(live, room, position, &frame)
        .await
        .map_err(Refused::End)?;
    if client_id.is_some() {
        conn.socket
            .send(&ack(client_id, room, Some(position), reply_to))
            .await?;
    }
    Ok(())
}

/// The `ack` of a change, when it carried a `client_id` (a retried delete is acked without one
/// too, so the request is answered).
pub(super) fn ack(
    client_id: Option<String>,
    room: &str,
    seq: Option<u64>,
    reply_to: Option<&str>,
) -> ServerMsg {
    ServerMsg::Ack {
        client_id: client_id.unwrap_or_default(),
        room: Some(room.to_owned()),
        seq,
        to: None,
        id: None,
        reply_to: reply_to.map(str::to_owned),
    }
}
