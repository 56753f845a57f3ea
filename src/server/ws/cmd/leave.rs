//! `leave`: leave a room (`general` cannot be left). Every tab of the session follows; this one
//! answers `left` with the request's `id`.

use super::Outcome;
use crate::server::membership::Membership;
use crate::server::ws::{Connection, Live, WsIo};

pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    live: &mut Live,
    room: &str,
    reply_to: Option<&str>,
) -> Outcome {
    let membership = Membership {
        hub: &conn.ctx.hub,
        store: &conn.ctx.store,
        limits: &conn.ctx.limits,
        addresses: &conn.ctx.addresses,
    };
    membership.leave(&live.me.person, room, conn.id).await?;
    // Answers `left` also when the session was not in the room.
    Ok(conn.reconcile(live, Some((room, reply_to))).await?)
}
