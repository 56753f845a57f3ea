//! `block` and `unblock`: whether someone's private messages reach me. A blocked person's `dm`s
//! are refused from then on (`forbidden`), live or stored; it is mine to lift. Answered with
//! `blocked` (with the request's `id`); `welcome` lists whom I blocked.

use super::Outcome;
use crate::protocol::{ErrorCode, FrameError, ServerMsg};
use crate::server::clock::now_rfc3339;
use crate::server::session::nick;
use crate::server::ws::{Connection, Me, WsIo};

pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    who: &str,
    block: bool,
    reply_to: Option<&str>,
) -> Outcome {
    let target = nick::normalize(who)?;
    let store = &conn.ctx.store;
    let (id, name) = store
        .people()
        .person_named(&target.key)
        .await?
        .ok_or_else(|| {
            FrameError::new(
                ErrorCode::UnknownUser,
                format!("nobody is called {}", target.display),
            )
        })?;
    if id == me.person.id.get() {
        return Err(FrameError::new(ErrorCode::Forbidden, "you cannot block yourself").into());
    }
    if block {
        store
            .directs()
            .block(me.person.id.get(), id, &now_rfc3339())
            .await?;
    } else {
        store.directs().unblock(me.person.id.get(), id).await?;
    }
    let answer = ServerMsg::Blocked {
        nick: name,
        blocked: block,
        reply_to: reply_to.map(str::to_owned),
    };
    conn.socket.send(&answer).await?;
    Ok(())
}
