//! `typing`: pass a typing change on to the room's other members. A notification, not a request:
//! it is answered only when refused. Typing in one room ends typing in another, and repeats are
//! passed on at most every [`TYPING_REFRESH`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Outcome;
use crate::protocol::ServerMsg;
use crate::server::ws::{Connection, Live, WsIo};

/// A typer's `active: true` is passed on at most this often; clients refresh it while typing so a
/// receiver's expiry timer does not clear it, and this keeps a chatty client from flooding the room.
const TYPING_REFRESH: Duration = Duration::from_millis(1500);

pub fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    live: &mut Live,
    room: &str,
    active: bool,
) -> Outcome {
    live.me.person.ensure_member(room)?;
    let here = live.typing.as_deref() == Some(room);
    if !active {
        if here {
            live.stop_typing(&conn.ctx.hub, conn.id);
        }
        return Ok(());
    }
    let refresh_due = live
        .typing_sent
        .is_none_or(|sent| sent.elapsed() >= TYPING_REFRESH);
    if here && !refresh_due {
        return Ok(());
    }
    if !here {
        live.stop_typing(&conn.ctx.hub, conn.id);
    }
    if live.me.person.ensure_may_post().is_err() {
        // Someone who may not post is not shown typing either (and is not told: nothing they
        // type could be sent, which their refused messages say).
        return Ok(());
    }
    live.typing = Some(Arc::from(room));
    live.typing_sent = Some(Instant::now());
    let typing = ServerMsg::Typing {
        room: room.to_owned(),
        nick: live.me.person.nick(),
        active: true,
    };
    conn.ctx.hub.broadcast_everywhere(room, conn.id, &typing);
    Ok(())
}
