//! `edit` and `delete`: change one of my messages. The store decides
//! ([`crate::server::store::Store::change`]) and gives the change its place in the room's log;
//! everyone in the room gets `edited` or `deleted` in that place, this connection included, then an
//! `ack` if the request carried a `client_id`.

use super::{Outcome, Refused};
use crate::protocol::{
    validate_client_id, validate_room, validate_text, ErrorCode, FrameError, ServerMsg,
};
use crate::server::clock::now_rfc3339;
use crate::server::session::unavailable;
use crate::server::store::{ChangeDraft, ChangeOutcome};
use crate::server::ws::{Connection, Live, Me, WsIo};

/// An edit (`Some` text) or a delete (`None`) of message `seq` of `room`.
pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    live: &mut Live,
    room: String,
    seq: u64,
    text: Option<String>,
    client_id: Option<String>,
) -> Outcome {
    if let Some(client_id) = &client_id {
        validate_client_id(client_id)?;
    }
    validate_room(&room)?;
    if let Some(text) = &text {
        validate_text(text)?;
    }
    me.session.ensure_member(&room)?;
    me.session.ensure_may_post()?;
    let draft = ChangeDraft {
        by: me.session.nick(),
        session_hash: me.session.token_hash.to_string(),
        at: now_rfc3339(),
        text,
        // The store checks that it is one, in the change's transaction.
        moderator: me.session.standing().moderator,
    };
    let outcome = conn
        .ctx
        .store
        .change(&room, seq, draft)
        .await
        .map_err(unavailable)?;
    let change =
        match outcome {
            ChangeOutcome::Stored(change) => change,
            ChangeOutcome::AlreadyDeleted => {
                // A retried delete whose answer was lost: done, and said so again.
                if let Some(client_id) = client_id {
                    let ack = ack(client_id, &room, None);
                    conn.socket.send(&ack).await?;
                }
                return Ok(());
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
    let position = change.position();
    conn.ctx.hub.deliver_change(&room, conn.id, &change);
    // This connection's copy, in its place among the room's frames (the ring skips the sender).
    let frame = match change {
        crate::protocol::Stored::Edited(change) => ServerMsg::Edited(change),
        crate::protocol::Stored::Deleted(change) => ServerMsg::Deleted(change),
        _ => return Ok(()),
    };
    conn.ack_in_order(me, live, &room, position, &frame)
        .await
        .map_err(Refused::End)?;
    if let Some(client_id) = client_id {
        conn.socket
            .send(&ack(client_id, &room, Some(position)))
            .await?;
    }
    Ok(())
}

fn ack(client_id: String, room: &str, seq: Option<u64>) -> ServerMsg {
    ServerMsg::Ack {
        client_id,
        room: Some(room.to_owned()),
        seq,
        to: None,
        id: None,
    }
}
