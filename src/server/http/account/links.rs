//! The links a person hands on: a device link (signs one device in, once) and an invitation
//! (lets newcomers pick a name in an invite-only chat).
//!
//! - `GET /link/{token}`: "Sign in as NAME on this device?", a button. A GET changes nothing (link
//!   previews and prefetchers open links too).
//! - `POST /link/{token}`: spends the link and signs the browser in (a new session).
//! - `GET /invite/{token}`: the nickname form, carrying the invitation to `POST /join`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::super::html::{escape, page};
use super::{form_allowed, sign_in_to, slow_down, unavailable};
use crate::protocol::MAX_NICK_CHARS;
use crate::server::clock::now_rfc3339;
use crate::server::session::{token, PersonId};
use crate::server::state::AppState;

fn gone() -> Response {
    page(
        StatusCode::GONE,
        "Link used or expired",
        "<p>This link was used already, or it has expired. Make a new one on a device that is \
         signed in (<b>Your account</b>, <b>Link a device</b>), or <a href=\"/login\">sign in</a>.</p>",
    )
}

/// `GET /link/{token}`.
pub async fn show(State(state): State<AppState>, Path(secret): Path<String>) -> Response {
    let hash = token::hex(&token::digest(&secret));
    match state
        .store
        .accounts()
        .device_link(&hash, &now_rfc3339())
        .await
    {
        Ok(Some((_, nick))) => {
            let body = format!(
                "<p>This link signs this device in as <b id=\"link-nick\">{}</b>. It works once.</p>\
                 <form method=\"post\"><button type=\"submit\" id=\"use-link\">Sign in as {}</button>\
                 </form>",
                escape(&nick),
                escape(&nick)
            );
            page(StatusCode::OK, "Sign in on this device", &body)
        }
        Ok(None) => gone(),
        Err(err) => {
            tracing::error!(%err, "reading a device link failed");
            unavailable()
        }
    }
}

/// `POST /link/{token}`.
pub async fn use_link(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(secret): Path<String>,
) -> Response {
    if !form_allowed(&state, peer) {
        return slow_down();
    }
    let hash = token::hex(&token::digest(&secret));
    match state
        .store
        .accounts()
        .use_device_link(&hash, &now_rfc3339())
        .await
    {
        Ok(Some(id)) => {
            let person = PersonId::from_store(id);
            sign_in_to(&state, (peer, &headers), jar, person, "/").await
        }
        Ok(None) => gone(),
        Err(err) => {
            tracing::error!(%err, "using a device link failed");
            unavailable()
        }
    }
}

/// `GET /invite/{token}`.
pub async fn invite(State(state): State<AppState>, Path(secret): Path<String>) -> Response {
    let hash = token::hex(&token::digest(&secret));
    match state
        .store
        .accounts()
        .invite_valid(&hash, &now_rfc3339())
        .await
    {
        Ok(true) => {
            let body = format!(
                "<p>You are invited to this chat. Pick a nickname to join.</p>\
                 <form method=\"post\" action=\"/join\" class=\"card\">\
                 <input type=\"hidden\" name=\"invite\" value=\"{}\">\
                 <label for=\"nick\">Nickname</label>\
                 <input id=\"nick\" name=\"nick\" type=\"text\" required maxlength=\"{MAX_NICK_CHARS}\" \
                 autocomplete=\"nickname\"><button type=\"submit\">Join</button></form>\
                 <p>Already here? <a href=\"/login\">Sign in</a>.</p>",
                escape(&secret)
            );
            page(StatusCode::OK, "You are invited", &body)
        }
        Ok(false) => page(
            StatusCode::GONE,
            "Invitation used or expired",
            "<p>This invitation was used up, or it has expired. Ask whoever sent it for another, \
             or <a href=\"/login\">sign in</a> if you have a name here.</p>",
        ),
        Err(err) => {
            tracing::error!(%err, "reading an invitation failed");
            unavailable()
        }
    }
}
