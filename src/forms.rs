//! The plain HTML forms, which work without JavaScript (and before the wasm has loaded).
//!
//! - `POST /join`: the nickname form. Creates a session, sets its cookie and redirects back to the
//!   chat; a refused name redirects back to the form with the error code and the name typed.
//! - `POST /say`: the composer, when no wasm intercepts it. Stores and broadcasts the message like a
//!   websocket `say` and redirects back to the chat, which then shows it; a refused message redirects
//!   back with the error code.
//!
//! Both rely on the session cookie being `SameSite=Lax`: a form on another site cannot post as you.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::post::{post, Post};
use crate::protocol::{ErrorCode, GENERAL};
use crate::session::{write_through, COOKIE};
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
    jar: CookieJar,
    Form(form): Form<JoinForm>,
) -> Response {
    match state.sessions.create(&form.nick) {
        Ok(session) => {
            write_through(&state.store, &session.token_hash, &session.nick).await;
            let cookie = Cookie::build((COOKIE, session.token))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .max_age(time::Duration::days(COOKIE_DAYS))
                .build();
            (jar.add(cookie), Redirect::to("/")).into_response()
        }
        Err(err) => back_with_error(err.code, &[("nick", form.nick)]),
    }
}

#[derive(Debug, Deserialize)]
pub struct SayForm {
    #[serde(default)]
    text: String,
}

pub async fn say(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<SayForm>,
) -> Response {
    // `current`, not `find`: a session whose name someone else took while it was away must not post
    // under that name.
    let Some(nick) = jar
        .get(COOKIE)
        .and_then(|cookie| state.sessions.current(cookie.value()))
    else {
        return back_with_error(ErrorCode::BadSession, &[]);
    };
    // A connection id of its own: nobody is subscribed under it, so everyone gets the message.
    let origin = state.hub.connection_id();
    let message = Post {
        room: GENERAL,
        from: &nick,
        text: &form.text,
        client_id: None,
        action: false,
        session_hash: None,
    };
    match post(&state.hub, &state.store, origin, message).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(err) => back_with_error(err.code, &[]),
    }
}

/// A redirect to the page with `?error=<code>` (and any other fields), for the page to explain.
fn back_with_error(code: ErrorCode, fields: &[(&str, String)]) -> Response {
    let mut query = vec![("error", code.name())];
    query.extend(fields.iter().map(|(k, v)| (*k, v.clone())));
    let query = serde_urlencoded::to_string(query).unwrap_or_default();
    Redirect::to(&format!("/?{query}")).into_response()
}
