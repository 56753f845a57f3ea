//! `say`: post to a room. Answered with an `ack` once the message is stored, in its place among
//! the room's messages on this connection.

use super::{Outcome, Post, Refused};
use crate::protocol::{validate_client_id, validate_room, ServerMsg};
use crate::server::posting::{publish, Draft};
use crate::server::ws::{Connection, Live, WsIo};

pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    live: &mut Live,
    room: String,
    post: Post,
    reply_to: Option<&str>,
) -> Outcome {
    let Post {
        text,
        client_id,
        action,
        files,
        answering,
    } = post;
    validate_client_id(&client_id)?;
    validate_room(&room)?;
    // Receivers clear a typer's line when their message arrives; no frame needed.
    if live.typing.as_deref() == Some(room.as_str()) {
        live.typing = None;
    }
    let draft = Draft {
        room: &room,
        text: &text,
        client_id: Some(&client_id),
        action,
        files: &files,
        answering,
    };
    let stored = publish(
        &conn.ctx.hub,
        &conn.ctx.store,
        &live.me.person,
        conn.id,
        draft,
    )
    .await?;
    let ack = ServerMsg::Ack {
        client_id,
        room: Some(room.clone()),
        seq: Some(stored.seq),
        to: None,
        id: None,
        reply_to: reply_to.map(str::to_owned),
    };
    conn.ack_in_order(live, &room, stored.seq, &ack)
        .await
        .map_err(Refused::End)
}
