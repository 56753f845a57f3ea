//! What the server knows when it renders the chat for a session, read before anything is sent
//! (server only).
//!
//! It reaches the browser once: the history as rendered lines, the rest as two protocol frames in
//! the page ([`PageData::frames`], the history's without its messages), which the chat island reads
//! with the websocket's own decoder. No serialized copy of the history rides along for hydration.

use leptos::prelude::*;

use crate::protocol::{ChatMessage, ServerMsg, Stored, PROTOCOL_VERSION};

/// What the server knows when it renders the chat for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageData {
    /// The nickname this session chats under.
    pub me: String,
    /// The rooms this session is in, `general` first.
    pub rooms: Vec<String>,
    /// The room in the URL.
    pub room: String,
    /// Its latest messages, oldest first (none if the session is not in it).
    pub history: Vec<ChatMessage>,
    /// Whether `history` reaches back to the room's first message.
    pub complete: bool,
    /// The session is a moderator (the page shows their controls).
    pub moderator: bool,
}

impl PageData {
    /// The page's chat as the websocket would tell it: a `welcome` (who I am, my rooms) and the
    /// room's `history`. The websocket later asks only for what is newer.
    pub fn frames(self) -> [ServerMsg; 2] {
        let welcome = ServerMsg::Welcome {
            nick: self.me,
            rooms: self.rooms,
            online: Vec::new(),
            members: Default::default(),
            counts: Default::default(),
            session: None,
            version: PROTOCOL_VERSION,
            moderator: self.moderator,
            bots: Vec::new(),
            muted_until: None,
            blocked: Vec::new(),
            secured: false,
            read: Default::default(),
            dm_read: Default::default(),
            reply_to: None,
        };
        let history = ServerMsg::History {
            room: self.room,
            messages: self.history.into_iter().map(Stored::Message).collect(),
            complete: self.complete,
            reset: false,
            before: None,
            more: false,
            reply_to: None,
        };
        [welcome, history]
    }
}

/// What a visit to a room's page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visit {
    /// The chat.
    Chat(PageData),
    /// The nickname form: this browser has no usable session.
    Join,
    /// This session is banned until then: the page says so, and shows nothing of the chat.
    Banned { until: String },
}

/// Who this browser's session is, its rooms, and what `room` said lately; the nickname form if it
/// must pick a nickname; only the ban if it is banned.
pub async fn page_state(room: String) -> Result<Visit, ServerFnError> {
    use axum_extra::extract::CookieJar;

    use crate::server::session::COOKIE;
    use crate::server::state::AppState;

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
        let cookie = crate::server::http::forms::session_cookie(&state, &headers, token.clone());
        if let Ok(value) = axum::http::HeaderValue::from_str(&cookie.to_string()) {
            response.append_header(axum::http::header::SET_COOKIE, value);
        }
    }
    let now = crate::server::clock::now_rfc3339();
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
    let page = state.store.history(&room, None, 50).await.map_err(|err| {
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
