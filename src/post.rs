//! Posting a room message: validate, commit to the store, broadcast. One path for the websocket's
//! `say` and the no-JavaScript form (`POST /say`), so both get the same rules and the same ordering.

use crate::hub::{now_rfc3339, ConnId, Hub};
use crate::protocol::{validate_text, ChatMessage, ErrorCode, FrameError, GENERAL};
use crate::store::{Store, StoreError};

/// Fails with `unknown_room` unless the connection is in `room`. Every connection is in `general`,
/// and (until rooms can be joined) only there: the one place that rule lives.
pub fn ensure_member(room: &str) -> Result<(), FrameError> {
    if room == GENERAL {
        return Ok(());
    }
    Err(FrameError::new(
        ErrorCode::UnknownRoom,
        format!("you are not in the room {room:?}"),
    ))
}

/// What is being posted.
#[derive(Debug, Clone)]
pub struct Post<'a> {
    pub room: &'a str,
    pub from: &'a str,
    pub text: &'a str,
    pub client_id: Option<&'a str>,
    pub action: bool,
    /// The sending session's token hash: with `client_id`, what makes a retry recognisable even
    /// after a server restart.
    pub session_hash: Option<&'a str>,
}

/// Validates `post`, commits it and delivers it to everyone in its room but `origin`. Returns the
/// stored message; it is acked by the caller only after this returns, so an acked message is stored.
/// A message this session already stored under the same `client_id` is returned as it was, neither
/// stored nor delivered again.
pub async fn post(
    hub: &Hub,
    store: &Store,
    origin: ConnId,
    post: Post<'_>,
) -> Result<ChatMessage, FrameError> {
    validate_text(post.text)?;
    ensure_member(post.room)?;
    if let (Some(session_hash), Some(client_id)) = (post.session_hash, post.client_id) {
        let earlier = store.sent_before(post.room, session_hash, client_id).await;
        if let Some(message) = earlier.map_err(unavailable)? {
            return Ok(message);
        }
    }
    let at = now_rfc3339();
    let commit = store.append(
        post.room,
        post.from,
        post.text,
        &at,
        post.client_id,
        post.action,
        post.session_hash,
    );
    hub.publish_with(post.room, origin, commit)
        .await
        .map_err(unavailable)
}

fn unavailable(err: StoreError) -> FrameError {
    tracing::error!(%err, "storing a message failed");
    FrameError::new(
        ErrorCode::Unavailable,
        "the message could not be stored; try again",
    )
}
