//! `history`: the page of a room's history just before a seq, for a client scrolling up. Answered
//! with a `history` frame carrying `before` and the request's `id`, cut to fit one frame.

use super::Outcome;
use crate::server::session::unavailable;
use crate::server::ws::catch_up::{fitting_tail, history_frame, HistoryFrame, HISTORY_PAGE};
use crate::server::ws::{Connection, Me, WsIo};

pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    room: &str,
    before: u64,
    reply_to: Option<&str>,
) -> Outcome {
    me.session.ensure_member(room)?;
    let page = conn
        .ctx
        .store
        .history(room, Some(before), HISTORY_PAGE)
        .await
        .map_err(unavailable)?;
    let (messages, cut) = fitting_tail(&page.entries);
    let header = HistoryFrame {
        room,
        complete: page.complete && !cut,
        reset: false,
        before: Some(before),
        reply_to,
    };
    conn.socket
        .send_raw(history_frame(&header, &messages, false))
        .await?;
    Ok(())
}
