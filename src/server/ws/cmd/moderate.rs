//! `mute`, `ban`, `unmute`, `unban` and `audit`: a moderator's commands. (A moderator's `delete`
//! is `edit`'s.)
//!
//! A session this server does not know as a moderator is refused at once, without a store round
//! trip. Otherwise the store decides, in the transaction that records the action and its audit
//! entry ([`crate::server::store::Moderation::sanction`]). Then this server updates the person's
//! session if it holds it (closing their connections for a ban), tells the other servers the same
//! (`Event::Sanctioned`), and then everyone online (`moderated`).

use super::Outcome;
use crate::protocol::{validate_reason, ErrorCode, FrameError, ServerMsg, MAX_SANCTION_SECS};
use crate::server::clock::{now_rfc3339, rfc3339_ago, rfc3339_in};
use crate::server::session::{nick, PersonId};
use crate::server::store::{SanctionDraft, SanctionKind, SanctionOutcome};
use crate::server::ws::{Connection, Me, WsIo};

/// How many audit entries one `audit_log` frame carries at most (well inside a frame: each entry is
/// a few hundred bytes at most).
pub const AUDIT_PAGE: u32 = 50;

/// A moderator's mute or ban: whom, for how long, why.
#[derive(Debug, Clone)]
pub struct Sanction {
    pub kind: SanctionKind,
    pub nick: String,
    pub seconds: u64,
    pub reason: String,
}

/// Mutes or bans someone; everyone is told (`moderated`), the moderator's connection with its
/// request's `id`.
pub async fn sanction<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    order: Sanction,
    reply_to: Option<&str>,
) -> Outcome {
    ensure_moderator(me)?;
    let Sanction {
        kind,
        nick: target,
        seconds,
        reason,
    } = order;
    if !(1..=MAX_SANCTION_SECS).contains(&seconds) {
        return Err(FrameError::new(
            ErrorCode::BadFrame,
            format!("seconds must be from 1 to {MAX_SANCTION_SECS}"),
        )
        .into());
    }
    let reason = validate_reason(&reason)?;
    let target = nick::normalize(&target)?;
    let draft = SanctionDraft {
        kind,
        actor: me.person.id.get(),
        actor_nick: me.person.nick(),
        target_key: target.key,
        reason,
        at: now_rfc3339(),
        until: rfc3339_in(std::time::Duration::from_secs(seconds)),
        recent_since: rfc3339_ago(conn.ctx.limits.ban_reach),
    };
    let outcome = conn.ctx.store.moderation().sanction(draft).await?;
    let sanction = match outcome {
        SanctionOutcome::Stored(sanction) => *sanction,
        SanctionOutcome::NotModerator => {
            me.person.update_standing(|s| s.moderator = false);
            return Err(not_moderator().into());
        }
        SanctionOutcome::NoSuchPerson => {
            return Err(FrameError::new(
                ErrorCode::UnknownUser,
                format!("nobody is called {}", target.display),
            )
            .into())
        }
        SanctionOutcome::TargetIsModerator => {
            return Err(FrameError::new(
                ErrorCode::Forbidden,
                "a moderator cannot be muted or banned (revoke them first, with chinwag admin)",
            )
            .into())
        }
    };
    let (hub, cached) = (&conn.ctx.hub, conn.ctx.sessions.cache());
    let (ban, until) = (kind == SanctionKind::Ban, &sanction.until);
    let people = std::iter::once(sanction.person_id).chain(sanction.covered.iter().copied());
    for id in people {
        let id = PersonId::from_store(id);
        cached.sanctioned(id, ban, until);
        if ban {
            hub.presence().close_session(id, until, &sanction.reason);
        }
        // Before everyone is told: the other servers apply it first (the bus keeps one order).
        hub.sanctioned(id, ban, until, &sanction.reason);
    }
    let announcement = ServerMsg::Moderated {
        action: match kind {
            SanctionKind::Mute => "muted",
            SanctionKind::Ban => "banned",
        }
        .to_owned(),
        nick: sanction.nick,
        by: sanction.by,
        until: sanction.until,
        reason: sanction.reason,
        reply_to: None,
    };
    tell_everyone(conn, announcement, reply_to).await
}

/// Lifts someone's mute or ban; everyone is told (`moderated`: `unmuted` or `unbanned`).
pub async fn lift<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    kind: SanctionKind,
    target: &str,
    reply_to: Option<&str>,
) -> Outcome {
    ensure_moderator(me)?;
    let target = nick::normalize(target)?;
    let now = now_rfc3339();
    let lifted = conn
        .ctx
        .store
        .moderation()
        .lift_as_moderator(
            kind,
            me.person.id.get(),
            &me.person.nick(),
            &target.key,
            &now,
        )
        .await?;
    let Some(lifted) = lifted else {
        me.person.update_standing(|s| s.moderator = false);
        return Err(not_moderator().into());
    };
    let Some(first) = lifted.first() else {
        return Err(FrameError::new(
            ErrorCode::NotFound,
            format!("{} has no {} in force", target.display, kind.as_str()),
        )
        .into());
    };
    let nick = first.nick.clone();
    for person in &lifted {
        let id = PersonId::from_store(person.person_id);
        conn.ctx
            .sessions
            .cache()
            .lifted(id, kind == SanctionKind::Ban);
        conn.ctx.hub.session_changed(id);
    }
    let announcement = ServerMsg::Moderated {
        action: match kind {
            SanctionKind::Mute => "unmuted",
            SanctionKind::Ban => "unbanned",
        }
        .to_owned(),
        nick,
        by: me.person.nick(),
        until: now,
        reason: String::new(),
        reply_to: None,
    };
    tell_everyone(conn, announcement, reply_to).await
}

/// Tells everyone online, on every server, of a moderation action; this connection gets its copy
/// with the request's `id`.
async fn tell_everyone<S: WsIo>(
    conn: &mut Connection<S>,
    mut announcement: ServerMsg,
    reply_to: Option<&str>,
) -> Outcome {
    conn.ctx
        .hub
        .broadcast_everywhere(crate::protocol::GENERAL, conn.id, &announcement);
    if let ServerMsg::Moderated { reply_to: own, .. } = &mut announcement {
        *own = reply_to.map(str::to_owned);
    }
    conn.socket.send(&announcement).await?;
    Ok(())
}

/// Sends a page of the audit log, newest first, before entry `before` (or the latest).
pub async fn audit<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    before: Option<u64>,
    reply_to: Option<&str>,
) -> Outcome {
    ensure_moderator(me)?;
    let store = &conn.ctx.store;
    if !store.moderation().is_moderator(me.person.id.get()).await? {
        me.person.update_standing(|s| s.moderator = false);
        return Err(not_moderator().into());
    }
    let mut entries = store.moderation().audit_log(before, AUDIT_PAGE + 1).await?;
    let more = entries.len() > AUDIT_PAGE as usize;
    entries.truncate(AUDIT_PAGE as usize);
    let page = ServerMsg::AuditLog {
        entries,
        more,
        reply_to: reply_to.map(str::to_owned),
    };
    conn.socket.send(&page).await?;
    Ok(())
}

/// Refuses at once a session this server does not know as a moderator.
fn ensure_moderator(me: &Me) -> Result<(), FrameError> {
    if me.person.standing().moderator {
        Ok(())
    } else {
        Err(not_moderator())
    }
}

fn not_moderator() -> FrameError {
    FrameError::new(ErrorCode::Forbidden, "only moderators can do that")
}
