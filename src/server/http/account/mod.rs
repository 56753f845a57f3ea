//! Accounts on the web: signing in on any device, and the page where a person manages theirs.
//! Plain server-rendered pages and forms (they work without JavaScript); only passkeys need the
//! small `/passkeys.js`, as the browser's WebAuthn API is JavaScript's.
//!
//! - [`login`]: `GET`/`POST /login` (name and password, throttled), `POST /login/passkey/start`
//!   and `/finish` (a passkey).
//! - [`devices`]: `GET /account` (name, password, passkeys, devices, invitations, deletion) and
//!   its forms: sign a device out (or every other one), set the password, add a passkey, link a
//!   new device, delete the person.
//! - [`links`]: `GET`/`POST /link/{token}` (a one-time link that signs a device in) and
//!   `GET /invite/{token}` (an invitation's nickname form).
//!
//! Every sign-in makes a new session (a new cookie); the browser's previous session, if it had
//! one, is signed out, so a shared computer never keeps a session someone forgot.

pub mod devices;
pub mod links;
pub mod login;

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::forms::session_cookie;
use super::html::page;
use crate::server::session::{user_agent, Found, PersonId, COOKIE};
use crate::server::state::AppState;
use crate::server::store::SignOut;

/// Who the browser's cookie signs in, if anyone.
pub async fn signed_in(state: &AppState, jar: &CookieJar) -> Option<Found> {
    let token = jar.get(COOKIE)?.value().to_owned();
    state.sessions.lookup(&token).await.ok().flatten()
}

/// Signs this browser in as `person`: a new session, and the jar with its cookie (the browser's
/// previous session is signed out); the page to show if the store failed.
pub async fn start_session(
    state: &AppState,
    (peer, headers): (SocketAddr, &HeaderMap),
    jar: CookieJar,
    person: PersonId,
) -> Result<CookieJar, Response> {
    let (token, over) = state
        .sessions
        .sign_in(person, peer.ip(), user_agent(headers))
        .await
        .map_err(|err| {
            tracing::error!(%err, "storing a new session failed");
            unavailable()
        })?;
    if !over.is_empty() {
        state.hub.presence().sign_out_everywhere(person, &over);
    }
    if let Some(previous) = signed_in(state, &jar).await {
        sign_out(state, previous.person.id, &[previous.session.get()]).await;
    }
    Ok(jar.add(session_cookie(state, headers, token)))
}

/// [`start_session`], then on to `to`.
pub async fn sign_in_to(
    state: &AppState,
    client: (SocketAddr, &HeaderMap),
    jar: CookieJar,
    person: PersonId,
    to: &str,
) -> Response {
    match start_session(state, client, jar, person).await {
        Ok(jar) => (jar, Redirect::to(to)).into_response(),
        Err(page) => page,
    }
}

/// Signs out sessions `which` of `person`: deleted in the store, forgotten here, and their
/// connections on every server told (`signed_out`) and closed.
pub async fn sign_out(state: &AppState, person: PersonId, which: &[i64]) -> bool {
    sign_out_where(state, person, SignOut::These(which)).await
}

/// Signs out `person`'s sessions as `which` says (see [`sign_out`]).
pub async fn sign_out_where(state: &AppState, person: PersonId, which: SignOut<'_>) -> bool {
    match state
        .store
        .people()
        .delete_sessions(person.get(), which)
        .await
    {
        Ok(deleted) => {
            let deleted: Vec<_> = deleted
                .into_iter()
                .map(crate::server::session::SessionId::from_store)
                .collect();
            if !deleted.is_empty() {
                state.sessions.cache().forget_sessions(person, &deleted);
                state.hub.presence().sign_out_everywhere(person, &deleted);
                // The bus tells the other servers at once; the store's event tells them even if
                // the bus lost it (each server polls it).
                let ids: Vec<String> = deleted.iter().map(|s| s.get().to_string()).collect();
                let noted = state
                    .store
                    .moderation()
                    .admin_event(
                        "signed_out",
                        &person.get().to_string(),
                        &ids.join(","),
                        &crate::server::clock::now_rfc3339(),
                        &crate::server::clock::rfc3339_ago(crate::server::admin::EVENTS_KEPT),
                    )
                    .await;
                if let Err(err) = noted {
                    tracing::warn!(%err, "recording a sign-out for the other servers failed");
                }
            }
            true
        }
        Err(err) => {
            tracing::error!(%err, "signing sessions out failed");
            false
        }
    }
}

/// The page for a store that cannot be reached.
pub fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "<p>The server cannot reach its store right now. Try again in a moment.</p>",
    )
}

/// The page for too many tries from one address (every form's per-address rate).
pub fn slow_down() -> Response {
    page(
        StatusCode::TOO_MANY_REQUESTS,
        "Slow down",
        "<p>Too many tries from here; wait a moment and try again.</p>",
    )
}

/// Whether `peer` may post one more form now (counted against its address).
pub fn form_allowed(state: &AppState, peer: SocketAddr) -> bool {
    if state.addresses.forms.check(peer.ip()).is_err() {
        state.metrics.refused("forms_per_address");
        return false;
    }
    true
}
