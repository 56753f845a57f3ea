//! `POST /upload` (multipart, field `file`), `GET /files/{id}/{name}` and `GET /thumbs/{id}`.
//!
//! An upload is streamed to a temporary file and refused (413) as soon as it passes the size
//! limit; its type is sniffed from its content. Nothing served from here can run in chinwag's
//! origin: every response carries `Content-Security-Policy: sandbox` and `nosniff`, and only the
//! four picture formats are served inline, everything else as a download. A file someone may not
//! read is answered exactly like one that does not exist (404).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum_extra::extract::CookieJar;
use futures::StreamExt;
use serde_json::json;

use crate::protocol::ErrorCode;
use crate::server::files::{name, UploadError};
use crate::server::session::{Found, COOKIE};
use crate::server::state::AppState;
use crate::server::store::StoredFile;

/// What the upload's form fields other than the file may add at most (boundaries, headers).
pub const MULTIPART_SLACK: u64 = 64 << 10;

/// A JSON error: `{"error": code, "message": ...}` plus any extra fields.
fn error(status: StatusCode, code: &str, message: &str, extra: serde_json::Value) -> Response {
    let mut body = json!({ "error": code, "message": message });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    (status, Json(body)).into_response()
}

/// The session a request speaks for: `Authorization: Bearer TOKEN` (bots, clients), else the
/// session cookie (browsers).
pub async fn requester(state: &AppState, headers: &HeaderMap, jar: &CookieJar) -> Option<Found> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let token = match bearer {
        Some(token) => token.to_owned(),
        None => jar.get(COOKIE)?.value().to_owned(),
    };
    state.sessions.lookup(&token).await.ok().flatten()
}

/// Why an upload was refused: the status and JSON `/upload` answers, or the error code the
/// no-JavaScript form shows.
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: serde_json::Value,
    retry_after: Option<std::time::Duration>,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: json!({}),
            retry_after: None,
        }
    }

    pub(super) fn with(mut self, extra: serde_json::Value) -> Self {
        self.extra = extra;
        self
    }

    /// The error's code, as in the JSON answer.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The nearest of the protocol's error codes (what the form's page explains).
    pub fn error_code(&self) -> ErrorCode {
        match self.code {
            "too_large" | "quota" => ErrorCode::TooLong,
            "rate_limited" => ErrorCode::RateLimited,
            "muted" => ErrorCode::Muted,
            "banned" => ErrorCode::Banned,
            "signed_out" => ErrorCode::SignedOut,
            "unavailable" | "storage_full" => ErrorCode::Unavailable,
            _ => ErrorCode::BadFrame,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = error(self.status, self.code, &self.message, self.extra);
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&secs) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// `POST /upload`.
pub async fn upload(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let Some(found) = requester(&state, &headers, &jar).await else {
        return Refusal::new(
            StatusCode::UNAUTHORIZED,
            "signed_out",
            "sign in (the session cookie, or Authorization: Bearer with the session's token)",
        )
        .into_response();
    };
    let mut multipart = match multipart {
        Ok(multipart) => multipart,
        Err(rejection) => return bad_request(&rejection.body_text()).into_response(),
    };
    if let Err(refusal) = admit(&state, peer, &found, &headers).await {
        return refusal.into_response();
    }
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return bad_request("the form has no field named file").into_response(),
            Err(err) => {
                return multipart_failed(&err, state.files.config.max_upload_bytes).into_response()
            }
        };
        if field.name() != Some("file") {
            continue;
        }
        return match keep(&state, &found, field).await {
            Ok(file) => Json(file.info()).into_response(),
            Err(refusal) => refusal.into_response(),
        };
    }
}

/// Whether `found` may upload now (from `peer`, a request with `headers`): the declared size,
/// the rates per address and per person, a mute, the person's quota and the server's total.
pub async fn admit(
    state: &AppState,
    peer: SocketAddr,
    found: &Found,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let files = &state.files;
    let limit = files.config.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + MULTIPART_SLACK) {
        state.metrics.refused("upload_size");
        return Err(too_large(limit));
    }
    may_upload(state, peer, found)?;
    let person = found.person.id;
    let usage = state
        .store
        .files()
        .usage(person.get())
        .await
        .map_err(|err| store_failed(&err))?;
    let coming = declared.unwrap_or(0).min(limit);
    if usage.total + coming > files.config.max_total_bytes {
        return Err(Refusal::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "storage_full",
            "this server's file storage is full; ask its administrator to make room",
        ));
    }
    if usage.person + coming > files.config.quota_per_person {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "quota",
            "you keep as many files as one person may; delete some messages with files first",
        )
        .with(json!({ "quota": files.config.quota_per_person, "used": usage.person })));
    }
    Ok(())
}

/// Whether `found` may upload anything now (from `peer`): the rates per address and per person,
/// a ban, a mute. Counts one upload against both rates.
pub fn may_upload(state: &AppState, peer: SocketAddr, found: &Found) -> Result<(), Refusal> {
    let person = found.person.id;
    if let Err(wait) = state.addresses.uploads.check(peer.ip()) {
        return Err(slow_down(wait));
    }
    if let Err(wait) = state.files.check_rate(person) {
        return Err(slow_down(wait));
    }
    let now = crate::server::clock::now_rfc3339();
    let standing = found.person.standing();
    if let Some(until) = standing.banned_at(&now) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "banned",
            format!("you are banned until {until}"),
        )
        .with(json!({ "until": until })));
    }
    if let Some(until) = standing.muted_at(&now) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "muted",
            format!("you are muted until {until}"),
        )
        .with(json!({ "until": until })));
    }
    Ok(())
}

/// Receives one multipart field as an upload of `found`'s and keeps it.
pub async fn keep(
    state: &AppState,
    found: &Found,
    field: axum::extract::multipart::Field<'_>,
) -> Result<StoredFile, Refusal> {
    let files = &state.files;
    let given = field.file_name().unwrap_or("file").to_owned();
    // The request's body limit may be what notices first.
    let over = |err: &axum::extract::multipart::MultipartError| {
        err.status() == StatusCode::PAYLOAD_TOO_LARGE
    };
    let received = files
        .receive(field, over)
        .await
        .map_err(|err| upload_failed(&err))?;
    let kept = files
        .keep(&received)
        .await
        .map_err(|err| upload_failed(&err))?;
    let (thumb, thumb_mime) = kept.thumb.clone().unzip();
    let file = StoredFile {
        id: crate::server::files::new_id(),
        person: found.person.id.get(),
        hash: kept.hash,
        name: name::sanitise(&given, "file"),
        size: kept.size,
        mime: kept.mime,
        width: kept.width,
        height: kept.height,
        thumb,
        thumb_mime,
        created_at: crate::server::clock::now_rfc3339(),
    };
    state
        .store
        .files()
        .add(&file)
        .await
        .map_err(|err| store_failed(&err))?;
    state.metrics.uploaded(file.size);
    Ok(file)
}

fn too_large(limit: u64) -> Refusal {
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("files may be at most {limit} bytes"),
    )
    .with(json!({ "limit": limit }))
}

fn slow_down(wait: std::time::Duration) -> Refusal {
    let mut refusal = Refusal::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many uploads; wait a moment",
    )
    .with(json!({ "retry_ms": crate::server::limits::wait_ms(wait) }));
    refusal.retry_after = Some(wait);
    refusal
}

pub(super) fn bad_request(message: &str) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "bad_upload", message)
}

pub(super) fn store_failed(err: &crate::server::store::StoreError) -> Refusal {
    tracing::error!(%err, "the store failed during an upload");
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the server cannot reach its store; try again",
    )
}

/// A multipart body that broke: over the body limit (413), or malformed.
pub fn multipart_failed(err: &axum::extract::multipart::MultipartError, limit: u64) -> Refusal {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(limit);
    }
    bad_request(&err.body_text())
}

pub(super) fn upload_failed(err: &UploadError) -> Refusal {
    match err {
        UploadError::TooLarge { limit } => too_large(*limit),
        UploadError::Picture(picture) => Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            match picture {
                crate::server::files::picture::PictureError::TooLarge { .. } => "too_many_pixels",
                crate::server::files::picture::PictureError::Unreadable => "unreadable_image",
            },
            picture.to_string(),
        ),
        UploadError::Broken(why) => bad_request(why),
        UploadError::NotPicture => Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_a_picture",
            err.to_string(),
        ),
        UploadError::Storage(err) => {
            tracing::error!(%err, "the file storage failed during an upload");
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server cannot reach its file storage; try again",
            )
        }
    }
}

/// `GET /files/{id}` and `GET /files/{id}/{name}` (the name is for people and ignored).
pub async fn fetch(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let id = params.first().map(|(_, id)| id.as_str()).unwrap_or("");
    serve(&state, id, &headers, &jar, false).await
}

/// `GET /thumbs/{id}`: a picture's thumbnail.
pub async fn thumb(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    serve(&state, &id, &headers, &jar, true).await
}

pub(super) fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such file\n").into_response()
}

async fn serve(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    jar: &CookieJar,
    thumb: bool,
) -> Response {
    let Some(found) = requester(state, headers, jar).await else {
        return not_found();
    };
    let file = match state
        .store
        .files()
        .readable(id, found.person.id.get())
        .await
    {
        Ok(Some(file)) => file,
        Ok(None) => return not_found(),
        Err(err) => return store_failed(&err).into_response(),
    };
    let (hash, mime) = if thumb {
        match (&file.thumb, &file.thumb_mime) {
            (Some(hash), Some(mime)) => (hash.clone(), mime.clone()),
            _ => return not_found(),
        }
    } else {
        (file.hash.clone(), file.mime.clone())
    };
    let (size, stream) = match state.files.storage.get(&hash).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(err) => {
            tracing::error!(%err, "reading a file from storage failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response();
        }
    };
    let inline = mime.starts_with("image/")
        && matches!(
            mime.as_str(),
            "image/png" | "image/jpeg" | "image/gif" | "image/webp"
        );
    let served_as = if inline {
        mime.as_str()
    } else {
        "application/octet-stream"
    };
    let disposition = name::disposition(if inline { "inline" } else { "attachment" }, &file.name);
    let mut response =
        Response::new(Body::from_stream(stream.map(|chunk| {
            chunk.map_err(|err| std::io::Error::other(err.to_string()))
        })));
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, served_as);
    set(header::CONTENT_LENGTH, &size.to_string());
    set(header::CONTENT_DISPOSITION, &disposition);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        header::CONTENT_SECURITY_POLICY,
        "sandbox; default-src 'none'",
    );
    // The bytes behind an id never change, but who may read them can: browsers keep it, shared
    // caches do not.
    set(header::CACHE_CONTROL, "private, max-age=86400");
    response
}
