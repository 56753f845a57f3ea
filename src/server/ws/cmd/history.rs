//! `history`: the page of a room's history just before a seq, for a client scrolling up. Answered
//! with a `history` frame carrying `before` and the request's `id`, cut to fit one frame. And
//! `dm_history`, the same for private messages.

use super::Outcome;
use crate::server::ws::catch_up::{
    dm_history_frame, encode_direct, fitting_tail, fitting_tail_encoded, history_frame,
    DmHistoryFrame, HistoryFrame, DM_PAGE, HISTORY_PAGE,
};
use crate::server::ws::{Connection, Me, WsIo};

pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    room: &str,
    before: u64,
    reply_to: Option<&str>,
) -> Outcome {
    me.person.ensure_member(room)?;
    let page = conn
        .ctx
        .store
        .messages()
        .history(room, Some(before), HISTORY_PAGE)
        .await?;
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

/// `dm_history`: the page of my private messages just before id `before`, only those with `with`
/// if it names someone; answered with a `dm_history` frame carrying `before`, `with`, whether the
/// page reaches back to the first one (`complete`), and the request's `id`.
pub async fn directs<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    before: u64,
    with: Option<&str>,
    reply_to: Option<&str>,
) -> Outcome {
    let store = &conn.ctx.store;
    let with_person = match with {
        None => None,
        Some(name) => {
            let key = crate::server::session::nick::key(name);
            let found = store.people().person_named(&key).await?;
            match found {
                Some((id, _)) => Some(id),
                None => {
                    return Err(crate::protocol::FrameError::new(
                        crate::protocol::ErrorCode::UnknownUser,
                        format!("nobody is called {name:?}"),
                    )
                    .into())
                }
            }
        }
    };
    let (page, complete) = store
        .directs()
        .directs_before(me.person.id.get(), before, with_person, DM_PAGE)
        .await?;
    let encoded: Vec<(String, u64)> = page.iter().map(encode_direct).collect();
    let (fitting, cut) = fitting_tail_encoded(encoded);
    let frame = dm_history_frame(
        &fitting,
        DmHistoryFrame {
            before: Some(before),
            with,
            complete: complete && !cut,
            reply_to,
            ..DmHistoryFrame::default()
        },
    );
    conn.socket.send_raw(frame).await?;
    Ok(())
}
