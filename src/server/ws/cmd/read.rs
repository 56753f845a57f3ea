//! `read`: how far the person has read, in a room (`room`, `seq`) or a private conversation (`dm`,
//! `id`). Stored per person, only ever forward; when it moves, the person's other connections, on
//! every server, get the same frame, so a badge cleared on one device clears on the others. A
//! notification like `typing`: answered only when refused.

use super::Outcome;
use crate::protocol::{validate_room, ErrorCode, FrameError, ServerMsg};
use crate::server::session::nick;
use crate::server::ws::{Connection, Me, WsIo};

/// Where the person read to.
#[derive(Debug, Clone)]
pub enum Position {
    Room { room: String, seq: u64 },
    Direct { peer: String, id: u64 },
}

impl Position {
    /// The position a `read` frame names, or why it names none.
    pub fn of(
        room: Option<String>,
        seq: Option<u64>,
        dm: Option<String>,
        id: Option<u64>,
    ) -> Result<Self, FrameError> {
        match (room, seq, dm, id) {
            (Some(room), Some(seq), None, _) => Ok(Position::Room { room, seq }),
            (None, _, Some(peer), Some(id)) => Ok(Position::Direct { peer, id }),
            _ => Err(FrameError::new(
                ErrorCode::BadFrame,
                "a read names a room and a seq, or a dm and an id",
            )),
        }
    }
}

pub async fn apply<S: WsIo>(conn: &mut Connection<S>, me: &mut Me, at: Position) -> Outcome {
    let store = &conn.ctx.store;
    let person = me.person.id.get();
    let (moved, frame) = match at {
        Position::Room { room, seq } => {
            validate_room(&room)?;
            me.person.ensure_member(&room)?;
            // Never past the room's head: a position beyond it would hide messages not yet sent.
            let head = store.messages().room_head(&room).await?;
            let seq = seq.min(head);
            let moved = store.reads().read_room(person, &room, seq).await?;
            let frame = ServerMsg::Read {
                room: Some(room),
                seq: Some(seq),
                dm: None,
                id: None,
            };
            (moved, frame)
        }
        Position::Direct { peer, id } => {
            let peer_id = store
                .people()
                .person_named(&nick::key(&peer))
                .await?
                .map(|(peer_id, _)| peer_id)
                .ok_or_else(|| {
                    FrameError::new(ErrorCode::UnknownUser, format!("nobody is called {peer:?}"))
                })?;
            // The position is a message of this conversation, so it cannot run ahead of it.
            let theirs = store.directs().direct_peer(person, id).await?;
            if theirs != Some(peer_id) {
                return Err(FrameError::new(
                    ErrorCode::BadFrame,
                    format!("message {id} is not in your conversation with {peer:?}"),
                )
                .into());
            }
            let moved = store.reads().read_direct(person, peer_id, id).await?;
            let frame = ServerMsg::Read {
                room: None,
                seq: None,
                dm: Some(peer),
                id: Some(id),
            };
            (moved, frame)
        }
    };
    if moved {
        conn.ctx
            .hub
            .presence()
            .tell_person_everywhere(me.person.id, conn.id, &frame);
    }
    Ok(())
}
