//! The plain HTML forms, which work without JavaScript (and before the wasm has loaded).
//!
//! - `POST /join`: the nickname form. Creates a session, sets its cookie and redirects back to the
//!   chat; a refused name redirects back to the form with the error code and the name typed.
//! - `POST /say`: the composer, when no wasm intercepts it. Stores and broadcasts the message like a
//!   websocket `say` and redirects back to the room's page, which then shows it; a refused message
//!   redirects back with the error code.
//! - `POST /rooms/join` and `POST /rooms/leave`: join (or create) and leave a room, like the
//!   websocket's `join` and `leave`; the session's open tabs follow.
//!
//! Both rely on the session cookie being `SameSite=Lax`: a form on another site cannot post as you.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::app::{room_from_input, room_path as room_page};
use crate::hub::ConnId;
use crate::limits::Throttle;
use crate::post::{post, Post};
use crate::protocol::{ErrorCode, GENERAL};
use crate::rooms::Rooms;
use crate::session::{write_through, SessionId, COOKIE};
use crate::state::AppState;

/// How long the browser keeps the session cookie. The server may forget an idle name sooner; the
/// cookie then leads back to the form.
const COOKIE_DAYS: i64 = 365;

#[derive(Debug, Deserialize)]
pub struct JoinForm {
    #[serde(default)]
    nick: String,
}

pub async fn join(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<JoinForm>,
) -> Response {
    match state.sessions.create(&form.nick) {
        Ok(session) => {
            write_through(&state.store, &session.token_hash, &session.nick).await;
            // Secure when served over HTTPS (a TLS proxy says so), or when configured to always be.
            let https = headers
                .get("x-forwarded-proto")
                .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
            let cookie = Cookie::build((COOKIE, session.token))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(https || state.secure_cookies)
                .max_age(time::Duration::days(COOKIE_DAYS))
                .build();
            (jar.add(cookie), Redirect::to("/")).into_response()
        }
        Err(err) => back_with_error("/", err.code, &[("nick", form.nick)]),
    }
}

#[derive(Debug, Deserialize)]
pub struct SayForm {
    #[serde(default)]
    text: String,
    #[serde(default = "general")]
    room: String,
}

fn general() -> String {
    GENERAL.to_owned()
}

pub async fn say(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<SayForm>,
) -> Response {
    let page = room_page(&form.room);
    let Some((session, nick)) = current(&state, &jar) else {
        return back_with_error("/", ErrorCode::BadSession, &[]);
    };
    if let Err(err) = state.sessions.throttle(session, Throttle::Message) {
        return back_with_error(&page, err.code, &[]);
    }
    // A connection id of its own: nobody is subscribed under it, so everyone gets the message.
    let origin = state.hub.connection_id();
    let message = Post {
        room: &form.room,
        session,
        from: &nick,
        text: &form.text,
        client_id: None,
        action: false,
    };
    match post(&state.hub, &state.store, &state.sessions, origin, message).await {
        Ok(_) => Redirect::to(&page).into_response(),
        Err(err) => back_with_error(&page, err.code, &[]),
    }
}

#[derive(Debug, Deserialize)]
pub struct RoomForm {
    #[serde(default)]
    room: String,
}

/// `POST /rooms/join`: joins (or creates) the room and shows it.
pub async fn join_room(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<RoomForm>,
) -> Response {
    // Forgive what people type into a form: "#Rust " means the room rust.
    let room = room_from_input(&form.room);
    let Some((session, _)) = current(&state, &jar) else {
        return back_with_error("/", ErrorCode::BadSession, &[]);
    };
    let (rooms, origin) = rooms_of(&state);
    match rooms.join(session, &room, origin).await {
        Ok(_) => Redirect::to(&room_page(&room)).into_response(),
        Err(err) => back_with_error("/", err.code, &[("room", form.room)]),
    }
}

/// `POST /rooms/leave`: leaves the room and goes back to `general`.
pub async fn leave_room(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<RoomForm>,
) -> Response {
    let Some((session, _)) = current(&state, &jar) else {
        return back_with_error("/", ErrorCode::BadSession, &[]);
    };
    let (rooms, origin) = rooms_of(&state);
    match rooms.leave(session, &form.room, origin).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(err) => back_with_error(&room_page(&form.room), err.code, &[]),
    }
}

/// Membership changes from a form, under a connection id of their own (no tab is this request, so
/// every open tab of the session follows).
fn rooms_of(state: &AppState) -> (Rooms<'_>, ConnId) {
    let rooms = Rooms {
        hub: &state.hub,
        store: &state.store,
        sessions: &state.sessions,
    };
    (rooms, state.hub.connection_id())
}

/// The session the cookie names and the name it chats under: `current`, not `find`, because a
/// session whose name someone else took while it was away must not act under that name.
fn current(state: &AppState, jar: &CookieJar) -> Option<(SessionId, String)> {
    state.sessions.current(jar.get(COOKIE)?.value())
}

/// A redirect to `page` with `?error=<code>` (and any other fields), for the page to explain.
fn back_with_error(page: &str, code: ErrorCode, fields: &[(&str, String)]) -> Response {
    let mut query = vec![("error", code.name())];
    query.extend(fields.iter().map(|(k, v)| (*k, v.clone())));
    let query = serde_urlencoded::to_string(query).unwrap_or_default();
    Redirect::to(&format!("{page}?{query}")).into_response()
}
