//! The plain HTML forms, which work without JavaScript (and before the wasm has loaded).
//!
//! - `POST /join`: the nickname form. Creates a session, sets its cookie and redirects back to the
//!   chat. A browser whose session lost its name while away (someone else took it) is renamed
//!   instead, so it keeps its rooms and private messages. A refused name redirects back to the form
//!   with the error code and the name typed.
//! - `POST /say`: the composer, when no wasm intercepts it. Stores and broadcasts the message like a
//!   websocket `say` and redirects back to the room's page.
//! - `POST /rooms/join` and `POST /rooms/leave`: join (or create) and leave a room, like the
//!   websocket's `join` and `leave`; the session's open tabs follow.
//!
//! Every form is refused from another site's page (403, see `origin`), counted against its
//! address's limits (new sessions, new rooms, form posts) and, once signed in, against the
//! session's message rate.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::protocol::{ErrorCode, GENERAL};
use crate::server::accounts::signup;
use crate::server::clock::now_rfc3339;
use crate::server::limits::Throttle;
use crate::server::membership::Membership;
use crate::server::posting::{publish, Draft};
use crate::server::session::{user_agent, Person, COOKIE};
use crate::server::state::AppState;
use crate::ui::paths::{room_from_input, room_path as room_page};

/// The session cookie for `token`: HttpOnly, SameSite=Lax, `Secure` when served over HTTPS (a
/// TLS proxy says so) or when configured to always be, and kept by the browser as long as the
/// server keeps an unused session (`CHINWAG_SESSION_TTL`); every page load renews it, as it
/// renews the session.
pub fn session_cookie(state: &AppState, headers: &HeaderMap, token: String) -> Cookie<'static> {
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
    let ttl = state.sessions.config().forget_after;
    let max_age = time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    Cookie::build((COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https || state.http.secure_cookies)
        .max_age(max_age)
        .build()
}

#[derive(Debug, Deserialize)]
pub struct JoinForm {
    #[serde(default)]
    nick: String,
    /// The invitation a newcomer came with (an invite-only chat's `/invite/TOKEN` page puts it).
    #[serde(default)]
    invite: String,
}

/// `POST /join`.
pub async fn join(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<JoinForm>,
) -> Response {
    let mut fields = vec![("nick", form.nick.clone())];
    if !form.invite.is_empty() {
        fields.push(("invite", form.invite.clone()));
    }
    let back = |code| back_with_error("/", code, &fields);
    // A browser that already has a session keeps it under the new name.
    if let Some(cookie) = jar.get(COOKIE) {
        match state.sessions.lookup(cookie.value()).await {
            Ok(Some(found)) => return rename(&state, &found.person, &form.nick, back).await,
            Ok(None) => {}
            Err(err) => return back(crate::protocol::FrameError::from(err).code),
        }
    }
    let invite = match signup::admit(&state.store, state.http.signup, Some(&form.invite)).await {
        Ok(invite) => invite,
        Err(err) => return back(err.code),
    };
    let nick = match state.sessions.check_name(&form.nick) {
        Ok(nick) => nick,
        Err(err) => return back(err.code),
    };
    if state.addresses.sessions.check(peer.ip()).is_err() {
        state.metrics.refused("sessions_per_address");
        return back(ErrorCode::RateLimited);
    }
    let created = match state
        .sessions
        .create(nick, peer.ip(), user_agent(&headers))
        .await
    {
        Ok(created) => created,
        Err(err) => return back(err.code),
    };
    signup::use_invite(&state.store, invite).await;
    let cookie = session_cookie(&state, &headers, created.token);
    (jar.add(cookie), Redirect::to("/")).into_response()
}

/// Renames the person a browser already speaks for, and tells everyone if they are online.
async fn rename(
    state: &AppState,
    session: &Arc<Person>,
    nick: &str,
    back: impl Fn(ErrorCode) -> Response,
) -> Response {
    match state.sessions.rename(session, nick).await {
        Ok((from, to)) => {
            if from != to {
                let key = session.nick_key();
                let origin = state.hub.connection_id();
                state
                    .hub
                    .presence()
                    .rename(session.id, &from, &to, &key, origin);
            }
            Redirect::to("/").into_response()
        }
        Err(err) => back(err.code),
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

/// `POST /say`: the composer without JavaScript. Its form is multipart (it may carry files, each
/// kept as `POST /upload` keeps it and posted with the text); a plain form-encoded post works too.
pub async fn say(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    request: axum::extract::Request,
) -> Response {
    let multipart = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        return match Form::<SayForm>::from_request(request, &state).await {
            Ok(Form(form)) => say_with(&state, peer, &jar, form, &[]).await,
            Err(rejection) => rejection.into_response(),
        };
    }
    let headers = request.headers().clone();
    let mut parts = match axum::extract::Multipart::from_request(request, &state).await {
        Ok(parts) => parts,
        Err(rejection) => return rejection.into_response(),
    };
    let mut form = SayForm {
        text: String::new(),
        room: general(),
    };
    let mut files = Vec::new();
    let mut admitted = false;
    loop {
        let field = match parts.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => {
                let refusal =
                    super::files::multipart_failed(&err, state.files.config.max_upload_bytes);
                return back_with_error(&room_page(&form.room), refusal.error_code(), &[]);
            }
        };
        match field.name() {
            Some("text") => form.text = field.text().await.unwrap_or_default(),
            Some("room") => form.room = field.text().await.unwrap_or_else(|_| general()),
            // A file input left empty still sends a part, without a name or content.
            Some("file") if field.file_name().is_some_and(|n| !n.is_empty()) => {
                let page = room_page(&form.room);
                let Some(found) = super::files::requester(&state, &headers, &jar).await else {
                    return back_with_error(&page, ErrorCode::SignedOut, &[]);
                };
                if !admitted {
                    if let Err(refusal) = super::files::admit(&state, peer, &found, &headers).await
                    {
                        return back_with_error(&page, refusal.error_code(), &[]);
                    }
                    admitted = true;
                }
                match super::files::keep(&state, &found, field).await {
                    Ok(file) => files.push(file.id),
                    Err(refusal) => return back_with_error(&page, refusal.error_code(), &[]),
                }
            }
            _ => {}
        }
    }
    say_with(&state, peer, &jar, form, &files).await
}

async fn say_with(
    state: &AppState,
    peer: SocketAddr,
    jar: &CookieJar,
    form: SayForm,
    files: &[String],
) -> Response {
    let page = room_page(&form.room);
    let session = match current(state, jar, peer).await {
        Ok(session) => session,
        Err((to, code)) => return back_with_error(if to == "/" { "/" } else { &page }, code, &[]),
    };
    if let Err(err) = state.sessions.throttle(&session, Throttle::Message) {
        return back_with_error(&page, err.code, &[]);
    }
    // A connection id of its own: nobody is subscribed under it, so everyone gets the message.
    let origin = state.hub.connection_id();
    let draft = Draft {
        room: &form.room,
        text: &form.text,
        client_id: None,
        action: false,
        files,
        answering: None,
    };
    match publish(&state.hub, &state.store, &session, origin, draft).await {
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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<RoomForm>,
) -> Response {
    // Forgive what people type into a form: "#Rust " means the room rust.
    let room = room_from_input(&form.room);
    let session = match current(&state, &jar, peer).await {
        Ok(session) => session,
        Err((_, code)) => return back_with_error("/", code, &[("room", form.room)]),
    };
    let joined = async {
        state.sessions.throttle(&session, Throttle::Message)?;
        let origin = state.hub.connection_id();
        membership(&state)
            .join(&session, &room, origin, peer.ip())
            .await
    };
    match joined.await {
        Ok(_) => Redirect::to(&room_page(&room)).into_response(),
        Err(err) => back_with_error("/", err.code, &[("room", form.room)]),
    }
}

/// `POST /rooms/leave`: leaves the room and goes back to `general`.
pub async fn leave_room(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<RoomForm>,
) -> Response {
    let session = match current(&state, &jar, peer).await {
        Ok(session) => session,
        Err((_, code)) => return back_with_error("/", code, &[]),
    };
    let left = async {
        state.sessions.throttle(&session, Throttle::Message)?;
        let origin = state.hub.connection_id();
        membership(&state).leave(&session, &form.room, origin).await
    };
    match left.await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(err) => back_with_error(&room_page(&form.room), err.code, &[]),
    }
}

fn membership(state: &AppState) -> Membership<'_> {
    Membership {
        hub: &state.hub,
        store: &state.store,
        limits: &state.limits,
        addresses: &state.addresses,
    }
}

/// The session the cookie names, if it can chat under its name now (a session whose name someone
/// else took while it was away must not act under that name), after counting the post against
/// its address. On refusal: where to send the browser back to, and why.
async fn current(
    state: &AppState,
    jar: &CookieJar,
    peer: SocketAddr,
) -> Result<Arc<Person>, (&'static str, ErrorCode)> {
    if state.addresses.forms.check(peer.ip()).is_err() {
        state.metrics.refused("forms_per_address");
        return Err(("page", ErrorCode::RateLimited));
    }
    let token = jar
        .get(COOKIE)
        .ok_or(("/", ErrorCode::BadSession))?
        .value()
        .to_owned();
    match state.sessions.authenticate(&token).await {
        // A banned person sees the ban, and does nothing else.
        Ok(Some(found)) if found.person.standing().banned_at(&now_rfc3339()).is_some() => {
            Err(("/", ErrorCode::Banned))
        }
        Ok(Some(found)) => Ok(found.person),
        Ok(None) => Err(("/", ErrorCode::BadSession)),
        Err(err) => Err(("page", crate::protocol::FrameError::from(err).code)),
    }
}

/// A redirect to `page` with `?error=<code>` (and any other fields), for the page to explain.
fn back_with_error(page: &str, code: ErrorCode, fields: &[(&str, String)]) -> Response {
    let mut query = vec![("error", code.name())];
    query.extend(fields.iter().map(|(k, v)| (*k, v.clone())));
    let query = serde_urlencoded::to_string(query).unwrap_or_default();
    Redirect::to(&format!("{page}?{query}")).into_response()
}
