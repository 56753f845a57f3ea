//! Posting a room message: validate, check it is not a retry, commit, broadcast. One path for the
//! websocket's `say` and the no-JavaScript form (`POST /say`), so both get the same rules and the
//! same ordering.

use super::clock::now_rfc3339;
use super::hub::{ConnId, Hub};
use super::session::{unavailable, Person};
use super::store::{NewMessage, Store};
use crate::protocol::{validate_text, ChatMessage, FrameError};

/// What is being posted.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    pub room: &'a str,
    pub text: &'a str,
    pub client_id: Option<&'a str>,
    pub action: bool,
}

/// Validates `draft`, commits it and delivers it to everyone in its room but `origin`. Returns the
/// stored message; it is acked by the caller only after this returns, so an acked message is
/// stored. A message this session already stored under the same `client_id` is returned as it
/// was, neither stored nor delivered again: the check and the commit happen in the session's
/// order, so two tabs retrying one message at once store it once.
pub async fn publish(
    hub: &Hub,
    store: &Store,
    session: &Person,
    origin: ConnId,
    draft: Draft<'_>,
) -> Result<ChatMessage, FrameError> {
    validate_text(draft.text)?;
    super::text::ensure_visible(draft.text)?;
    session.ensure_member(draft.room)?;
    session.ensure_may_post()?;
    // Before the session's order lock: a name may be looked up in the store.
    let mentions = super::text::mentions(hub, store, draft.text).await;
    let _order = match draft.client_id {
        Some(client_id) => {
            let order = session.in_order().await;
            let earlier = store
                .sent_before(draft.room, session.id.get(), client_id)
                .await
                .map_err(unavailable)?;
            if let Some(message) = earlier {
                return Ok(message);
            }
            Some(order)
        }
        None => None,
    };
    let message = NewMessage {
        from: session.nick(),
        mentions,
        text: draft.text.to_owned(),
        at: now_rfc3339(),
        client_id: draft.client_id.map(str::to_owned),
        action: draft.action,
        person_id: Some(session.id.get()),
    };
    hub.publish(draft.room, origin, message).await
}
