//! `dm`: a private message to someone online. Answered with an `ack` (with the message's id) once
//! it is stored, after every earlier private message this connection had to pass on.

use super::{Outcome, Refused};
use crate::protocol::{validate_client_id, validate_text, ErrorCode, FrameError, ServerMsg};
use crate::server::clock::now_rfc3339;
use crate::server::session::{nick, unavailable};
use crate::server::store::DirectDraft;
use crate::server::ws::{Connection, Live, Me, WsIo};

pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    live: &mut Live,
    to: &str,
    text: String,
    client_id: String,
    action: bool,
) -> Outcome {
    validate_client_id(&client_id)?;
    validate_text(&text)?;
    let recipient =
        conn.ctx.hub.find_online(&nick::key(to)).ok_or_else(|| {
            FrameError::new(ErrorCode::UnknownUser, format!("{to:?} is not online"))
        })?;
    // Someone online on another server: their private messages are stored by their token hash,
    // which only the store tells (it never crosses the bus).
    let to_hash = match &recipient.token_hash {
        Some(hash) => hash.to_string(),
        None => conn
            .ctx
            .store
            .session_hash(recipient.session.get())
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                FrameError::new(ErrorCode::UnknownUser, format!("{to:?} is not online"))
            })?,
    };
    let (dm, prev) = {
        // A retry of a message already stored (even before a restart) is acked, not stored again;
        // the check and the commit are in the session's order, so two tabs retrying at once store
        // it once.
        let _order = me.session.in_order().await;
        let earlier = conn
            .ctx
            .store
            .direct_sent_before(&me.session.token_hash, &client_id)
            .await
            .map_err(unavailable)?;
        match earlier {
            // Already stored: everything before it was passed on or is in the store.
            Some(dm) => (dm, 0),
            None => {
                let draft = DirectDraft {
                    from_session: me.session.token_hash.to_string(),
                    to_session: to_hash,
                    from: me.session.nick(),
                    to: recipient.nick.clone(),
                    text,
                    at: now_rfc3339(),
                    client_id: Some(client_id.clone()),
                    action,
                };
                let stored = conn
                    .ctx
                    .hub
                    .send_direct(draft, me.session.id, recipient.session, conn.id)
                    .await?;
                (stored.message, stored.prev_from)
            }
        }
    };
    let ack = ServerMsg::Ack {
        client_id,
        room: None,
        seq: None,
        to: Some(dm.to.clone()),
        id: Some(dm.id),
    };
    conn.direct_ack_in_order(me, live, (dm.id, prev), &ack)
        .await
        .map_err(Refused::End)
}
