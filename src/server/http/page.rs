//! The chat page's server side: what a visit to `/` or `/r/<room>` shows, read before anything is
//! sent. The page (`ui::document`) asks through the [`LoadVisit`] this module's [`loader`] gives
//! it, so the page knows nothing of sessions or the store.
//!
//! Without a session the page is the nickname form; with a banned one, the ban; otherwise the chat
//! with the room's latest 50 messages, or, for a permalink (`/r/<room>?at=<seq>`), the 25 before
//! that message, the message and the 25 after it. Every visit renews the session's cookie.

use axum_extra::extract::CookieJar;
use leptos::prelude::*;

use crate::server::clock::now_rfc3339;
use crate::server::session::COOKIE;
use crate::server::state::AppState;
use crate::ui::page_state::{LoadVisit, PageData, Visit};

/// How many messages a permalink shows on each side of its message; a room's page shows twice as
/// many, its latest.
const AROUND: u32 = 25;

/// The loader the page calls, for the router to provide as context.
pub fn loader() -> LoadVisit {
    LoadVisit(std::sync::Arc::new(|room, at| Box::pin(visit(room, at))))
}

/// Who this browser's session is, its rooms, and what `room` said lately (or around its message
/// `at`); the nickname form if it must pick a nickname; only the ban if it is banned.
pub async fn visit(room: String, at: Option<u64>) -> Result<Visit, ServerFnError> {
    let state = use_context::<AppState>()
        .ok_or_else(|| ServerFnError::new("the server state is missing"))?;
    let jar: CookieJar = leptos_axum::extract().await?;
    let Some(token) = jar.get(COOKIE).map(|cookie| cookie.value().to_owned()) else {
        return Ok(Visit::Join);
    };
    // A store that does not answer is an error page, not the nickname form: the session is not
    // lost, only unreachable for a moment.
    let session = state.sessions.authenticate(&token).await.map_err(|err| {
        tracing::error!(%err, "reading the session for the page failed");
        ServerFnError::new("the server cannot reach its store right now")
    })?;
    let Some(found) = session else {
        return Ok(Visit::Join);
    };
    let session = found.person;
    // The cookie lives as long as an unused session does; this visit renews both.
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        let headers: axum::http::HeaderMap = leptos_axum::extract().await?;
        let cookie = super::forms::session_cookie(&state, &headers, token.clone());
        if let Ok(value) = axum::http::HeaderValue::from_str(&cookie.to_string()) {
            response.append_header(axum::http::header::SET_COOKIE, value);
        }
    }
    let now = now_rfc3339();
    if let Some(until) = session.standing().banned_at(&now) {
        return Ok(Visit::Banned {
            until: until.to_owned(),
        });
    }
    let me = session.nick();
    let rooms = session.rooms();
    let moderator = session.standing().moderator;
    if !rooms.contains(&room) {
        return Ok(Visit::Chat(PageData {
            me,
            rooms,
            room,
            history: Vec::new(),
            complete: true,
            moderator,
        }));
    }
    let messages = state.store.messages();
    let page = match at {
        Some(at) => messages.around(&room, at, AROUND).await,
        None => messages.history(&room, None, 2 * AROUND).await,
    };
    let page = page.map_err(|err| {
        tracing::error!(%err, "reading history for the page failed");
        ServerFnError::new("history is unavailable")
    })?;
    Ok(Visit::Chat(PageData {
        me,
        rooms,
        room,
        history: page.messages().cloned().collect(),
        complete: page.complete,
        moderator,
    }))
}
