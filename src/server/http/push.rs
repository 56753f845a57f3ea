//! Web Push over HTTP: `GET /push/key` answers `{"key":"<the VAPID public key>"}`, for a browser's
//! `pushManager.subscribe`; `POST /push/subscribe` keeps the subscription it made for this
//! device's session (`{"endpoint":"https://…","keys":{"p256dh":"…","auth":"…"}}`, as
//! `PushSubscription.toJSON()` writes it), and `POST /push/unsubscribe` (`{"endpoint":"…"}`)
//! forgets it. Both posts need the session (cookie or bearer token) and are same-origin form posts
//! (rated per address); they answer 204, or a JSON error.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use serde_json::json;

use super::account::form_allowed;
use super::files::requester;
use crate::server::clock::now_rfc3339;
use crate::server::push::validate;
use crate::server::session::Found;
use crate::server::state::AppState;
use crate::server::store::push::PushSubscription;

/// A subscription as `PushSubscription.toJSON()` writes it (its `expirationTime` is not kept:
/// browsers renew a subscription by subscribing again).
#[derive(Debug, Deserialize)]
pub struct Subscribe {
    endpoint: String,
    keys: Keys,
}

#[derive(Debug, Deserialize)]
struct Keys {
    p256dh: String,
    auth: String,
}

#[derive(Debug, Deserialize)]
pub struct Unsubscribe {
    endpoint: String,
}

/// `GET /push/key`.
pub async fn key(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Json(json!({ "key": state.vapid.public })),
    )
        .into_response()
}

/// `POST /push/subscribe`.
pub async fn subscribe(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<Subscribe>, JsonRejection>,
) -> Response {
    let me = match poster(&state, peer, &headers, &jar).await {
        Ok(me) => me,
        Err(refused) => return refused,
    };
    let Ok(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "not a push subscription",
        );
    };
    let subscription = PushSubscription {
        endpoint: body.endpoint,
        p256dh: body.keys.p256dh,
        auth: body.keys.auth,
    };
    let subscription = match validate(subscription) {
        Ok(subscription) => subscription,
        Err(bad) => return error(StatusCode::BAD_REQUEST, "bad_request", &bad.to_string()),
    };
    let owner = (me.person.id.get(), me.session.get());
    match state
        .store
        .push()
        .subscribe(owner, &subscription, &now_rfc3339())
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => {
            tracing::error!(%err, "keeping a push subscription failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again")
        }
    }
}

/// `POST /push/unsubscribe`.
pub async fn unsubscribe(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Result<Json<Unsubscribe>, JsonRejection>,
) -> Response {
    let me = match poster(&state, peer, &headers, &jar).await {
        Ok(me) => me,
        Err(refused) => return refused,
    };
    let Ok(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "name the endpoint");
    };
    match state
        .store
        .push()
        .unsubscribe(me.person.id.get(), &body.endpoint)
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => {
            tracing::error!(%err, "forgetting a push subscription failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again")
        }
    }
}

/// Who posts, within the address's rate of form posts: their session, or the refusal.
async fn poster(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    jar: &CookieJar,
) -> Result<Found, Response> {
    if !form_allowed(state, peer) {
        return Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests",
        ));
    }
    requester(state, headers, jar)
        .await
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "signed_out", "sign in first"))
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}
