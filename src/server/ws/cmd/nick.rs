//! `nick`: rename. Everyone else gets `renamed`; this connection gets it too, with the request's
//! `id`, even when the name did not change (every request is answered).

use super::Outcome;
use crate::protocol::ServerMsg;
use crate::server::ws::{Connection, Me, WsIo};

pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    nick: &str,
    reply_to: Option<&str>,
) -> Outcome {
    let (from, to) = conn.ctx.sessions.rename(&me.person, nick).await?;
    if from != to {
        let key = me.person.nick_key();
        conn.ctx
            .hub
            .presence()
            .rename(me.person.id, &from, &to, &key, conn.id);
    }
    let renamed = ServerMsg::Renamed {
        from,
        to,
        reply_to: reply_to.map(str::to_owned),
    };
    conn.socket.send(&renamed).await?;
    Ok(())
}
