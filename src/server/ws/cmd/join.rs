//! `join`: join (or create) a room. Every tab of the session follows; this one answers `joined`
//! (with the request's `id`) and the room's latest page. Joining a room the session is already in
//! answers the same, so a client may always ask again.

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
    membership
        .join(&live.me.person, room, conn.id, conn.ctx.peer)
        .await?;
    // Answers `joined` also when this tab was in the room already.
    Ok(conn.reconcile(live, Some((room, reply_to))).await?)
}
