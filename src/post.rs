//! Posting a room message: validate, commit to the store, broadcast. One path for the websocket's
//! `say` and the no-JavaScript form (`POST /say`), so both get the same rules and the same ordering.

use crate::hub::{now_rfc3339, ConnId, Hub};
use crate::protocol::{validate_text, ChatMessage, ErrorCode, FrameError};
use crate::session::{SessionId, Sessions};
use crate::store::{NewMessage, Store};

/// What is being posted.
#[derive(Debug, Clone)]
pub struct Post<'a> {
    pub room: &'a str,
    /// The sending session: it must be in `room`. With `client_id`, its token hash makes a retry
    /// recognisable even after a server restart.
    pub session: SessionId,
    pub from: &'a str,
    pub text: &'a str,
    pub client_id: Option<&'a str>,
    pub action: bool,
}

/// Validates `post`, commits it and delivers it to everyone in its room but `origin`. Returns the
/// stored message; it is acked by the caller only after this returns, so an acked message is stored.
/// A message this session already stored under the same `client_id` is returned as it was, neither
/// stored nor delivered again.
pub async fn post(
    hub: &Hub,
    store: &Store,
    sessions: &Sessions,
    origin: ConnId,
    post: Post<'_>,
) -> Result<ChatMessage, FrameError> {
    validate_text(post.text)?;
    sessions.ensure_member(post.session, post.room)?;
    let session_hash = sessions.token_hash(post.session);
    if let (Some(session_hash), Some(client_id)) = (session_hash.as_deref(), post.client_id) {
        let earlier = store.sent_before(post.room, session_hash, client_id).await;
        if let Some(message) = earlier.map_err(unavailable)? {
            return Ok(message);
        }
    }
    let draft = NewMessage {
        from: post.from.to_owned(),
        text: post.text.to_owned(),
        at: now_rfc3339(),
        client_id: post.client_id.map(str::to_owned),
        action: post.action,
        session_hash,
    };
    hub.publish(post.room, origin, draft)
        .await
        .map_err(unavailable)
}

/// A store failure as the client hears it; the cause goes to the log.
pub fn unavailable(err: impl std::fmt::Display) -> FrameError {
    tracing::error!(%err, "storing a message failed");
    FrameError::new(
        ErrorCode::Unavailable,
        "the message could not be stored; try again",
    )
}
