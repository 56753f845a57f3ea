//! People's pictures: `POST /avatar` sets or removes mine, `POST /account/avatar` is the same
//! from the account page's form (no JavaScript), and `GET /avatars/{name}` is anyone's.
//!
//! A picture is made small and square from an upload (the centre of it, encoded anew, so no
//! metadata survives) and kept in the file storage like any file. Everyone online is told of a
//! change with an `avatar` frame carrying a new address, so browsers fetch it again; the address
//! without a version is answered with `Cache-Control: no-cache` and an `ETag`, so a page that
//! loads later revalidates it (304) instead of keeping an old picture.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use axum_extra::extract::CookieJar;
use futures::TryStreamExt;
use serde_json::json;

use super::files::{
    bad_request, may_upload, multipart_failed, not_found, requester, store_failed, upload_failed,
    Refusal,
};
use crate::protocol::{avatar_url, ServerMsg};
use crate::server::files::initials;
use crate::server::session::{nick, Found};
use crate::server::state::AppState;

/// The largest picture kept as an avatar, in bytes (it is a 128-pixel square; this is slack).
const MAX_AVATAR_BYTES: usize = 256 << 10;

/// What a form asked for.
enum Asked {
    /// A new picture, now kept under this hash.
    Set(String),
    Remove,
}

/// `POST /avatar` (multipart: `file`, a picture; or `remove`): answers
/// `{"url":"/avatars/NAME?v=..."}`, the address everyone online is told of.
pub async fn change(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let Some(found) = requester(&state, &headers, &jar).await else {
        return Refusal::new(StatusCode::UNAUTHORIZED, "signed_out", "sign in first")
            .into_response();
    };
    match apply(&state, peer, &found, multipart).await {
        Ok(url) => Json(json!({ "url": url })).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// `POST /account/avatar`: the account page's form; back to the page with what happened.
pub async fn form(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let Some(found) = requester(&state, &headers, &jar).await else {
        return Redirect::to("/login").into_response();
    };
    match apply(&state, peer, &found, multipart).await {
        Ok(_) => Redirect::to("/account?done=avatar").into_response(),
        Err(refusal) => {
            Redirect::to(&format!("/account?error=avatar_{}", refusal.code())).into_response()
        }
    }
}

/// Reads the form, keeps the new picture (or removes the old), and tells everyone online.
async fn apply(
    state: &AppState,
    peer: SocketAddr,
    found: &Found,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<String, Refusal> {
    let mut multipart = multipart.map_err(|rejection| bad_request(&rejection.body_text()))?;
    may_upload(state, peer, found)?;
    let limit = state.files.config.max_upload_bytes;
    let asked = loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|err| multipart_failed(&err, limit))?
            .ok_or_else(|| bad_request("the form has neither a file nor remove"))?;
        match field.name() {
            Some("remove") => break Asked::Remove,
            // A form sent with no file chosen has an empty, nameless part.
            Some("file") if field.file_name().is_some_and(|name| !name.is_empty()) => {
                break Asked::Set(receive(state, field).await?);
            }
            _ => {}
        }
    };
    let person = found.person.id.get();
    let (hash, version) = match &asked {
        Asked::Set(hash) => (
            Some(hash.as_str()),
            hash.get(..12).unwrap_or(hash).to_owned(),
        ),
        Asked::Remove => (None, format!("i{}", unix_millis())),
    };
    state
        .store
        .files()
        .set_avatar(person, hash)
        .await
        .map_err(|err| store_failed(&err))?;
    let nick = found.person.nick();
    let url = avatar_url(&nick, &version);
    state.hub.announce_everywhere(&ServerMsg::Avatar {
        nick,
        url: url.clone(),
    });
    Ok(url)
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis())
        .unwrap_or(0)
}

async fn receive(state: &AppState, field: Field<'_>) -> Result<String, Refusal> {
    let over = |err: &axum::extract::multipart::MultipartError| {
        err.status() == StatusCode::PAYLOAD_TOO_LARGE
    };
    let received = state
        .files
        .receive(field, over)
        .await
        .map_err(|err| upload_failed(&err))?;
    state
        .files
        .keep_avatar(&received)
        .await
        .map_err(|err| upload_failed(&err))
}

/// `GET /avatars/{name}`: the picture of whoever goes by `name`, or their initials; for signed-in
/// people only, like the names themselves.
pub async fn fetch(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    if requester(&state, &headers, &jar).await.is_none() {
        return not_found();
    }
    let found = match state.store.files().avatar_named(&nick::key(&name)).await {
        Ok(found) => found,
        Err(err) => return store_failed(&err).into_response(),
    };
    let (shown_name, hash) = match found {
        Some((nick, hash)) => (nick, hash),
        // Nobody goes by it now (a deleted person's old messages): their initials still.
        None => (name, None),
    };
    match hash {
        Some(hash) => picture(&state, &hash, &headers).await,
        None => {
            let svg = initials::svg(&shown_name);
            let etag = format!("\"i{}\"", &crate::server::files::hash(svg.as_bytes())[..16]);
            respond(&headers, &etag, "image/svg+xml", Body::from(svg))
        }
    }
}

async fn picture(state: &AppState, hash: &str, headers: &HeaderMap) -> Response {
    let etag = format!("\"{hash}\"");
    if fresh(headers, &etag) {
        return not_modified(&etag);
    }
    let (_, stream) = match state.files.storage.get(hash).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(err) => {
            tracing::error!(%err, "reading an avatar from storage failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response();
        }
    };
    let bytes: Vec<u8> = match stream
        .map_err(|err| std::io::Error::other(err.to_string()))
        .try_fold(Vec::new(), |mut all, chunk| async move {
            if all.len() + chunk.len() > MAX_AVATAR_BYTES {
                return Err(std::io::Error::other("an avatar too large"));
            }
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
    {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::error!(%err, "reading an avatar from storage failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response();
        }
    };
    // The server made it: a PNG when it has transparency, else a JPEG.
    let mime = if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    };
    respond(headers, &etag, mime, Body::from(bytes))
}

/// Whether the browser's copy (`If-None-Match`) is `etag`.
fn fresh(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag))
}

fn not_modified(etag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    set_caching(response.headers_mut(), etag);
    response
}

fn respond(headers: &HeaderMap, etag: &str, mime: &'static str, body: Body) -> Response {
    if fresh(headers, etag) {
        return not_modified(etag);
    }
    let mut response = Response::new(body);
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    set_caching(out, etag);
    response
}

/// Kept by the browser, but asked again (cheaply, 304) before each use in a new page: a picture
/// can change under the same address. The `avatar` frame's addresses differ by version.
fn set_caching(out: &mut HeaderMap, etag: &str) {
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Ok(value) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, value);
    }
}
