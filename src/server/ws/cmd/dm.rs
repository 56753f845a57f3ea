//! `dm`: a private message to someone, online or not (it waits in the store for their next
//! connection). Answered with an `ack` (with the message's id) once it is stored, after every
//! earlier private message this connection had to pass on.

use super::{Outcome, Post, Refused};
use crate::protocol::{validate_client_id, validate_post, ErrorCode, FrameError, ServerMsg};
use crate::server::clock::{now_rfc3339, rfc3339_ago};
use crate::server::posting::postable_files;
use crate::server::session::{nick, PersonId};
use crate::server::store::{DirectDraft, DirectEntry, DirectGate, DirectSend};
use crate::server::text::ensure_visible;
use crate::server::ws::{Connection, Ctx, Live, Me, WsIo};

pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    live: &mut Live,
    to: &str,
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
    let me = &live.me;
    validate_client_id(&client_id)?;
    validate_post(&text, &files)?;
    if !text.is_empty() {
        ensure_visible(&text)?;
    }
    me.person.ensure_may_post()?;
    let (dm, prev) = {
        // A retry of a message already stored (even before a restart, even to someone who has
        // gone offline since) is acked, not stored again; the check and the commit are in the
        // person's order, so two tabs (or devices) retrying at once store it once.
        let _order = me.person.in_order().await;
        let earlier = conn
            .ctx
            .store
            .directs()
            .direct_sent_before(me.person.id.get(), &client_id)
            .await?;
        match earlier {
            // Already stored: everything before it was passed on or is in the store.
            Some(dm) => (dm, 0),
            None => {
                let (person, to_nick) = recipient(&conn.ctx, to).await?;
                admitted(&conn.ctx, me, person, &to_nick).await?;
                answerable(&conn.ctx, me, person, answering).await?;
                let files = postable_files(&conn.ctx.store, &me.person, &files).await?;
                let draft = DirectDraft {
                    from_person: me.person.id.get(),
                    to_person: person.get(),
                    from: me.person.nick(),
                    to: to_nick,
                    text,
                    at: now_rfc3339(),
                    client_id: Some(client_id.clone()),
                    action,
                    files,
                    answering,
                    reacting: None,
                };
                let stored = conn
                    .ctx
                    .hub
                    .send_direct(draft, me.person.id, person, conn.id)
                    .await?;
                // A message's draft is stored as a message.
                let DirectEntry::Message(dm) = stored.entry else {
                    return Err(FrameError::new(ErrorCode::Unavailable, "not stored").into());
                };
                (dm, stored.prev_from)
            }
        }
    };
    let ack = ServerMsg::Ack {
        client_id,
        room: None,
        seq: None,
        to: Some(dm.to.clone()),
        id: Some(dm.id),
        reply_to: reply_to.map(str::to_owned),
    };
    conn.direct_ack_in_order(live, (dm.id, prev), &ack)
        .await
        .map_err(Refused::End)
}

/// Refuses a reply to a private message that is not one between these two (`not_found`).
async fn answerable(
    ctx: &Ctx,
    me: &Me,
    to: PersonId,
    answering: Option<u64>,
) -> Result<(), FrameError> {
    let Some(id) = answering else {
        return Ok(());
    };
    if ctx
        .store
        .directs()
        .answerable(me.person.id.get(), to.get(), id)
        .await?
    {
        Ok(())
    } else {
        Err(FrameError::new(
            ErrorCode::NotFound,
            format!("there is no private message {id} between you to answer"),
        ))
    }
}

/// Refuses a private message its recipient does not take: from someone they blocked
/// (`forbidden`), or, from someone they never wrote to, past a few unanswered ones or past what
/// all such people together may send them in a day (`inbox_full`).
async fn admitted(ctx: &Ctx, me: &Me, to: PersonId, to_nick: &str) -> Result<(), FrameError> {
    let day_ago = rfc3339_ago(std::time::Duration::from_secs(24 * 3600));
    let gate = ctx
        .store
        .directs()
        .direct_gate(DirectSend {
            from: me.person.id.get(),
            to: to.get(),
            max_unanswered: ctx.limits.max_unanswered,
            max_strangers: ctx.limits.max_strangers_per_day,
            day_ago: &day_ago,
        })
        .await?;
    match gate {
        DirectGate::Allowed => Ok(()),
        DirectGate::Blocked => Err(FrameError::new(
            ErrorCode::Forbidden,
            format!("{to_nick} does not take private messages from you"),
        )),
        DirectGate::Unanswered => Err(FrameError::new(
            ErrorCode::InboxFull,
            format!(
                "{to_nick} has not answered your last {} messages; wait for an answer",
                ctx.limits.max_unanswered
            ),
        )),
        DirectGate::StrangersFull => Err(FrameError::new(
            ErrorCode::InboxFull,
            format!(
                "{to_nick} has received too many messages from people they have not written to \
                 today; try again tomorrow"
            ),
        )),
    }
}

/// Who `to` names: someone online (here or on another server), or else the person who goes by
/// that name in the store, online or not (their private messages wait in the store for their next
/// connection). Returns their id and their name as they spell it; `unknown_user` when nobody goes
/// by that name.
pub(super) async fn recipient(ctx: &Ctx, to: &str) -> Result<(PersonId, String), FrameError> {
    let key = nick::key(to);
    if let Some(online) = ctx.hub.presence().find_online(&key) {
        return Ok((online.person, online.nick));
    }
    let (id, nick) = ctx
        .store
        .people()
        .person_named(&key)
        .await?
        .ok_or_else(|| {
            FrameError::new(ErrorCode::UnknownUser, format!("nobody is called {to:?}"))
        })?;
    Ok((PersonId::from_store(id), nick))
}
