//! The server's periodic work: forget refilled per-address counters, keep live sessions' claims
//! and last-seen times current (and the session cache small), delete expired sessions, reclaim
//! rooms nobody is in that have been idle for long, and act on what `chinwag admin` changed in
//! the store (a deleted room, a lifted mute or ban, a bot's old token): every server reads those
//! events within [`ADMIN_EVENTS_EVERY`] and acts for its own clients.

use std::time::Duration;

use tokio::sync::watch;

use super::clock::{now_rfc3339, rfc3339_ago};
use super::session::{PersonId, SessionId};
use super::state::AppState;
use super::store::AdminEvent;
use crate::protocol::{ErrorCode, ServerMsg, GENERAL};

/// How often per-address counters are swept.
const SWEEP_ADDRESSES_EVERY: Duration = Duration::from_secs(10);

/// How often the store is asked for what `chinwag admin` changed.
pub const ADMIN_EVENTS_EVERY: Duration = Duration::from_secs(2);

/// How often idle rooms nobody is in are looked for at most (a room idle for less than an hour is
/// looked for as often as it may go idle).
const RECLAIM_ROOMS_EVERY: Duration = Duration::from_secs(3600);

/// Runs until the server shuts down.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut addresses = tokio::time::interval(SWEEP_ADDRESSES_EVERY);
    let mut refresh = tokio::time::interval(state.sessions.config().refresh_every);
    let mut sweep = tokio::time::interval(state.sessions.config().sweep_every);
    let mut admin = tokio::time::interval(ADMIN_EVENTS_EVERY);
    let mut reclaim = tokio::time::interval(
        state
            .limits
            .room_idle
            .clamp(Duration::from_secs(1), RECLAIM_ROOMS_EVERY),
    );
    let stop = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    tokio::pin!(stop);
    for timer in [
        &mut addresses,
        &mut refresh,
        &mut sweep,
        &mut admin,
        &mut reclaim,
    ] {
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    // Only what the operator does from now on: what came before, the store already says.
    let mut seen = state
        .store
        .moderation()
        .admin_events_head()
        .await
        .unwrap_or(0);
    loop {
        tokio::select! {
            _ = addresses.tick() => {
                state.addresses.sweep();
                trim_heap();
            }
            _ = refresh.tick() => {
                if let Err(err) = state.sessions.refresh().await {
                    tracing::warn!(%err, "refreshing live sessions failed");
                }
            }
            _ = sweep.tick() => match state.sessions.sweep().await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "deleted expired sessions"),
                Err(err) => tracing::warn!(%err, "deleting expired sessions failed"),
            },
            _ = admin.tick() => match state.store.moderation().admin_events_after(seen).await {
                Ok(events) => {
                    for event in events {
                        seen = seen.max(event.id);
                        act_on(&state, event).await;
                    }
                }
                Err(err) => tracing::warn!(%err, "reading the operator's changes failed"),
            },
            _ = reclaim.tick() => {
                let idle_before = rfc3339_ago(state.limits.room_idle);
                match state.store.rooms().reclaim_rooms(&idle_before).await {
                    Ok(rooms) if rooms.is_empty() => {}
                    Ok(rooms) => tracing::info!(count = rooms.len(), "reclaimed idle rooms nobody is in"),
                    Err(err) => tracing::warn!(%err, "reclaiming idle rooms failed"),
                }
            }
            () = &mut stop => return,
        }
    }
}

/// Does what an operator's change means for this server's clients.
async fn act_on(state: &AppState, event: AdminEvent) {
    match event.kind.as_str() {
        "room_deleted" => room_deleted(state, event.subject).await,
        kind @ ("mute_lifted" | "ban_lifted") => {
            if let Some(id) = person(&event.subject) {
                lifted(state, id, kind == "ban_lifted", event.detail);
            }
        }
        "signed_out" => {
            // A person signed devices out on another server (whose bus event may have been lost).
            if let Some(id) = person(&event.subject) {
                let which = sessions_in(&event.detail);
                state.sessions.cache().forget_sessions(id, &which);
                state.hub.presence().end_signed_out(id, &which);
            }
        }
        kind @ ("sessions_revoked" | "person_deleted") => {
            if let Some(id) = person(&event.subject) {
                revoked(state, id, &event.detail, kind == "person_deleted");
            }
        }
        other => tracing::debug!(
            kind = other,
            "an operator's change this server does not know"
        ),
    }
}

/// The person an event is about.
fn person(subject: &str) -> Option<PersonId> {
    subject.parse::<i64>().ok().map(PersonId::from_store)
}

/// The room's members here are told they left it.
async fn room_deleted(state: &AppState, room: String) {
    for session in state.sessions.cache().cached_in(&room) {
        let _order = session.in_order().await;
        session.remove_room(&room);
        if session.connections() > 0 {
            let origin = state.hub.connection_id();
            state
                .hub
                .presence()
                .membership(session.id, &room, false, origin);
        }
    }
    tracing::info!(room, "a room was deleted by the operator");
}

/// A mute or ban on `id` (named `nick`) was lifted: the cache forgets it, and everyone is told.
fn lifted(state: &AppState, id: PersonId, ban: bool, nick: String) {
    state.sessions.cache().lifted(id, ban);
    let lifted = ServerMsg::Moderated {
        action: if ban { "unbanned" } else { "unmuted" }.to_owned(),
        nick,
        by: "chinwag admin".to_owned(),
        until: now_rfc3339(),
        reason: String::new(),
        reply_to: None,
    };
    // Every server reads the event: each tells its own clients.
    state
        .hub
        .broadcast(GENERAL, state.hub.connection_id(), &lifted);
}

/// Closes the connections here of `id`'s sessions in `detail` (all of them if the person was
/// deleted): their tokens no longer work.
fn revoked(state: &AppState, id: PersonId, detail: &str, person_deleted: bool) {
    let which = sessions_in(detail);
    let message = "this session's token no longer works";
    if person_deleted {
        state.sessions.cache().forget_person(id);
        state.hub.presence().end_sessions(
            id,
            None,
            ErrorCode::BadSession,
            (message, "session revoked"),
        );
    } else {
        state.sessions.cache().forget_sessions(id, &which);
        state.hub.presence().end_sessions(
            id,
            Some(&which),
            ErrorCode::BadSession,
            (message, "session revoked"),
        );
    }
}

/// The sessions an event's detail lists (ids separated by commas).
fn sessions_in(detail: &str) -> Vec<SessionId> {
    detail
        .split(',')
        .filter_map(|s| s.parse().ok())
        .map(SessionId::from_store)
        .collect()
}

/// Gives memory freed since the last time back to the system. glibc keeps what is freed in its
/// arenas, mostly unused pages in the middle of them that it never returns by itself: after a
/// crowd leaves (or a burst of catch-ups ends), the server would stay at its peak size.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and has no precondition; it only walks the allocator's
    // own free lists and releases whole free pages.
    unsafe {
        libc::malloc_trim(0);
    }
}
