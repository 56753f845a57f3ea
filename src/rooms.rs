//! Joining and leaving rooms: one path for the websocket's `join`/`leave` and the HTML forms.
//!
//! Membership belongs to the session ([`Sessions::join`]), is written through to the store so it
//! survives a restart, and is announced by the hub to the room's members and to the session's other
//! connections, which then follow (subscribe, or stop listening) by themselves.

use crate::hub::{now_rfc3339, ConnId, Hub};
use crate::protocol::{ErrorCode, FrameError};
use crate::session::{SessionId, Sessions};
use crate::store::Store;

/// Everything a membership change touches.
#[derive(Debug, Clone, Copy)]
pub struct Rooms<'a> {
    pub hub: &'a Hub,
    pub store: &'a Store,
    pub sessions: &'a Sessions,
}

impl Rooms<'_> {
    /// Puts `session` in `room` (created if new). Returns whether it was new; joining a room twice
    /// is not an error. `origin` is the connection that asked (it updates itself).
    pub async fn join(
        &self,
        session: SessionId,
        room: &str,
        origin: ConnId,
    ) -> Result<bool, FrameError> {
        if !self.sessions.join(session, room)? {
            return Ok(false);
        }
        let token_hash = self.token_hash(session)?;
        if let Err(err) = self.store.join(&token_hash, room, &now_rfc3339()).await {
            tracing::error!(%err, "storing a room membership failed");
            // Not saved, so not joined: the session and the store agree.
            let _ = self.sessions.leave(session, room);
            return Err(unavailable());
        }
        self.hub.membership(session, room, true, origin);
        Ok(true)
    }

    /// Takes `session` out of `room`. Fails with `unknown_room` if it was not in it.
    pub async fn leave(
        &self,
        session: SessionId,
        room: &str,
        origin: ConnId,
    ) -> Result<(), FrameError> {
        if !self.sessions.leave(session, room)? {
            return Err(FrameError::new(
                ErrorCode::UnknownRoom,
                format!("you are not in the room {room:?}"),
            ));
        }
        let token_hash = self.token_hash(session)?;
        if let Err(err) = self.store.leave(&token_hash, room).await {
            tracing::error!(%err, "removing a room membership failed");
            let _ = self.sessions.join(session, room);
            return Err(unavailable());
        }
        self.hub.membership(session, room, false, origin);
        Ok(())
    }

    fn token_hash(&self, session: SessionId) -> Result<String, FrameError> {
        self.sessions
            .token_hash(session)
            .ok_or_else(|| FrameError::new(ErrorCode::BadSession, "the session has ended"))
    }
}

fn unavailable() -> FrameError {
    FrameError::new(
        ErrorCode::Unavailable,
        "rooms cannot be changed right now; try again",
    )
}
