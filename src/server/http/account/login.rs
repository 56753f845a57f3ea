//! Signing in on a device: `/login`.
//!
//! - `GET /login`: the form (name and password), and where passkeys are on, the passkey button.
//! - `POST /login`: checks the password. A name nobody can sign in as costs as long as a wrong
//!   password (see `accounts::password`), and both answer the same: "that name and password do
//!   not match". Failures count against the name and against the address, in the store (every
//!   server counts them): past [`password::MAX_FAILURES`] in [`password::WINDOW`] for either, the
//!   answer is 429 with `Retry-After`, the right password included, until the oldest counted
//!   failure is that old.
//! - `POST /login/passkey/start` and `/finish` (JSON, from `/passkeys.js`): a discoverable passkey
//!   sign-in; the passkey names the person. A failure counts against the address like a wrong
//!   password.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use webauthn_rs::prelude::PublicKeyCredential;

use super::super::html::{escape, page};
use super::{form_allowed, sign_in_to, slow_down, start_session, unavailable};
use crate::server::accounts::password;
use crate::server::clock::{now_rfc3339, rfc3339_ago};
use crate::server::limits::AddrKey;
use crate::server::session::{nick, PersonId};
use crate::server::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    error: String,
}

/// `GET /login`.
pub async fn form(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Response {
    let notice = match query.error.as_str() {
        "signed_out" => "This device was signed out. Sign in again to continue.",
        "bad_session" => "Your session has ended. Sign in, or pick a new nickname.",
        _ => "",
    };
    login_page(&state, StatusCode::OK, notice, "")
}

/// The sign-in page, with `notice` above the form and `nick` in it.
fn login_page(state: &AppState, status: StatusCode, notice: &str, nick: &str) -> Response {
    let notice = if notice.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"form-error\" role=\"alert\">{}</p>",
            escape(notice)
        )
    };
    let passkey = if state.passkeys.enabled() {
        "<p><button type=\"button\" id=\"passkey-login\" hidden>Sign in with a passkey</button></p>\
         <p id=\"passkey-error\" class=\"form-error\" role=\"alert\" hidden></p>\
         <script src=\"/passkeys.js\" defer></script>"
    } else {
        ""
    };
    let body = format!(
        "{notice}<form method=\"post\" action=\"/login\" class=\"card\">\
         <label for=\"nick\">Name</label>\
         <input id=\"nick\" name=\"nick\" type=\"text\" required autocomplete=\"username\" value=\"{}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" required \
         autocomplete=\"current-password\">\
         <button type=\"submit\">Sign in</button></form>{passkey}\
         <p>New here? <a href=\"/\">Pick a nickname</a>. On a device that is signed in, \
         <a href=\"/account\">your account</a> can link this one without a password.</p>",
        escape(nick)
    );
    page(status, "Sign in", &body)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    nick: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    if !form_allowed(&state, peer) {
        return slow_down();
    }
    // A name that is not one still costs a check (below), and counts as a failure.
    let name_key = nick::normalize(&form.nick)
        .map(|n| n.key)
        .unwrap_or_else(|_| form.nick.clone());
    let keys = [
        format!("name:{name_key}"),
        format!("addr:{}", AddrKey::stored(peer.ip())),
    ];
    match throttled(&state, &keys).await {
        Ok(Some(wait)) => return too_many(&state, wait, &form.nick),
        Ok(None) => {}
        Err(page) => return page,
    }
    let holder = match state.store.accounts().password_login(&name_key).await {
        Ok(holder) => holder,
        Err(err) => {
            tracing::error!(%err, "reading a password failed");
            return unavailable();
        }
    };
    let phc = holder.as_ref().map(|(_, _, phc)| phc.clone());
    let given = form.password;
    let right = tokio::task::spawn_blocking(move || password::verify(&given, phc.as_deref()))
        .await
        .unwrap_or(false);
    match holder {
        Some((id, _, _)) if right => {
            let client = (peer, &headers);
            sign_in_to(&state, client, jar, PersonId::from_store(id), "/").await
        }
        _ => {
            failed(&state, &keys).await;
            login_page(
                &state,
                StatusCode::UNAUTHORIZED,
                "That name and password do not match.",
                &form.nick,
            )
        }
    }
}

/// How long `keys` must wait before another try, if any of them has used up its failures.
async fn throttled(state: &AppState, keys: &[String]) -> Result<Option<Duration>, Response> {
    let since = rfc3339_ago(password::WINDOW);
    let mut wait = None;
    for key in keys {
        let (count, oldest) = state
            .store
            .accounts()
            .failures(key, &since, password::MAX_FAILURES)
            .await
            .map_err(|err| {
                tracing::error!(%err, "reading sign-in failures failed");
                unavailable()
            })?;
        if count >= password::MAX_FAILURES {
            let left = oldest
                .as_deref()
                .and_then(seconds_since)
                .map_or(password::WINDOW, |ago| password::WINDOW.saturating_sub(ago));
            let left = left.max(Duration::from_secs(1));
            wait = Some(wait.map_or(left, |w: Duration| w.max(left)));
        }
    }
    Ok(wait)
}

/// How long ago `at` (RFC 3339) was.
fn seconds_since(at: &str) -> Option<Duration> {
    let at =
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
    let ago = time::OffsetDateTime::now_utc() - at;
    Some(Duration::from_secs(
        u64::try_from(ago.whole_seconds()).unwrap_or(0),
    ))
}

/// Counts a failed sign-in against `keys`.
async fn failed(state: &AppState, keys: &[String]) {
    state.metrics.refused("sign_in");
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let forget = rfc3339_ago(password::WINDOW);
    if let Err(err) = state
        .store
        .accounts()
        .record_failure(&keys, &now_rfc3339(), &forget)
        .await
    {
        tracing::error!(%err, "counting a failed sign-in failed");
    }
}

/// 429 with `Retry-After`: too many failed sign-ins for the name or from the address.
fn too_many(state: &AppState, wait: Duration, nick: &str) -> Response {
    let minutes = wait.as_secs().div_ceil(60);
    let notice = format!(
        "Too many failed sign-ins for this name or from this address. Try again in {minutes} \
         minute(s)."
    );
    let mut response = login_page(state, StatusCode::TOO_MANY_REQUESTS, &notice, nick);
    if let Ok(value) = HeaderValue::from_str(&wait.as_secs().to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A JSON refusal for the passkey script: `{"error": "..."}`.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// `POST /login/passkey/start`: the options for `navigator.credentials.get`.
pub async fn passkey_start(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !form_allowed(&state, peer) {
        return json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many tries; wait a moment",
        );
    }
    let keys = [format!("addr:{}", AddrKey::stored(peer.ip()))];
    match throttled(&state, &keys).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            return json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed sign-ins from here; try again later",
            )
        }
        Err(page) => return page,
    }
    match state.passkeys.start_login(&state.store).await {
        Ok((ceremony, options)) => {
            Json(serde_json::json!({ "ceremony": ceremony, "options": options })).into_response()
        }
        Err(err) => json_error(StatusCode::SERVICE_UNAVAILABLE, &err.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct PasskeyLogin {
    ceremony: String,
    credential: PublicKeyCredential,
}

/// `POST /login/passkey/finish`: signs the browser in as the passkey's person.
pub async fn passkey_finish(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Json(login): Json<PasskeyLogin>,
) -> Response {
    if !form_allowed(&state, peer) {
        return json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many tries; wait a moment",
        );
    }
    let person = state
        .passkeys
        .finish_login(&state.store, &login.ceremony, &login.credential)
        .await;
    match person {
        Ok(id) => {
            match start_session(&state, (peer, &headers), jar, PersonId::from_store(id)).await {
                Ok(jar) => (jar, Json(serde_json::json!({ "to": "/" }))).into_response(),
                Err(page) => page,
            }
        }
        Err(err) => {
            failed(&state, &[format!("addr:{}", AddrKey::stored(peer.ip()))]).await;
            json_error(StatusCode::UNAUTHORIZED, &err.to_string())
        }
    }
}
