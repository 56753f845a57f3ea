//! Posting a room message: validate, commit (which finds a retry), broadcast. One path for the
//! websocket's `say` and the no-JavaScript form (`POST /say`), so both get the same rules and the
//! same ordering.

use super::clock::now_rfc3339;
use super::hub::{ConnId, Hub};
use super::session::Person;
use super::store::{NewMessage, Store};
use crate::protocol::{validate_post, ChatMessage, ErrorCode, FileInfo, FrameError};

/// What is being posted.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    pub room: &'a str,
    pub text: &'a str,
    pub client_id: Option<&'a str>,
    pub action: bool,
    /// Ids of the poster's uploads it carries.
    pub files: &'a [String],
    /// The seq of the message of the room it answers.
    pub answering: Option<u64>,
}

/// Validates `draft`, commits it and delivers it to everyone in its room but `origin`. Returns the
/// stored message; it is acked by the caller only after this returns, so an acked message is
/// stored. A message this person already stored under the same `client_id` is returned as it
/// was, neither stored nor delivered again: the group commit finds it by the store's unique key
/// (so two tabs or devices retrying one message at once store it once), without a lock held
/// across the commit or a read before it.
pub async fn publish(
    hub: &Hub,
    store: &Store,
    session: &Person,
    origin: ConnId,
    draft: Draft<'_>,
) -> Result<ChatMessage, FrameError> {
    validate_post(draft.text, draft.files)?;
    if !draft.text.is_empty() {
        super::text::ensure_visible(draft.text)?;
    }
    session.ensure_member(draft.room)?;
    session.ensure_may_post()?;
    if let Some(seq) = draft.answering {
        if !store.messages().answerable(draft.room, seq).await? {
            return Err(FrameError::new(
                ErrorCode::NotFound,
                format!("#{} has no message {seq} to reply to", draft.room),
            ));
        }
    }
    let files = postable_files(store, session, draft.files).await?;
    let mentions = super::text::mentions(hub, store, draft.text).await;
    let message = NewMessage {
        from: session.nick(),
        mentions,
        text: draft.text.to_owned(),
        at: now_rfc3339(),
        client_id: draft.client_id.map(str::to_owned),
        action: draft.action,
        person_id: Some(session.id.get()),
        files,
        answering: draft.answering,
    };
    hub.publish(draft.room, origin, message).await
}

/// The uploads `ids` of `person` that no message carries yet, described; `not_found` if one is
/// not (never uploaded, someone else's, already posted, or swept).
pub async fn postable_files(
    store: &Store,
    person: &Person,
    ids: &[String],
) -> Result<Vec<FileInfo>, FrameError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = store.files().postable(person.id.get(), ids).await?;
    if found.len() != ids.len() {
        return Err(FrameError::new(
            ErrorCode::NotFound,
            "a file is not yours to post: upload it first (POST /upload), once per message",
        ));
    }
    Ok(found)
}
