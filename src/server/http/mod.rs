//! HTTP: the router (pages, forms, `/ws`, operations, hashed client files), the security headers
//! every response carries (the accept loop that serves it is `net::accept`).
//!
//! - [`account`]: `/login`, `/account` (devices, password, passkeys, deletion), `/link/{token}`
//!   and `/invite/{token}`.
//! - [`avatars`]: `POST /avatar`, `POST /account/avatar`, `GET /avatars/{name}`.
//! - [`files`]: `POST /upload`, `GET /files/{id}/{name}`, `GET /thumbs/{id}`.
//! - [`forms`]: `POST /join`, `/say`, `/rooms/join`, `/rooms/leave`, for browsers without wasm.
//! - [`moderation`]: the one-time moderator link's page and `/moderation`, the audit log.
//! - [`page`]: what a visit to the chat page shows (the session, its rooms, the latest messages).
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics`.
//! - [`worker`]: `/sw.js`, the service worker that keeps this build's client files.

pub mod account;
pub mod avatars;
pub mod files;
pub mod forms;
pub mod html;
pub mod moderation;
pub mod ops;
pub mod page;
pub mod push;
pub mod worker;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use super::state::AppState;
use crate::ui::{shell, App};

/// The whole application as an axum router, ready to serve.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let pkg = format!("/{}", options.site_pkg_dir);
    // Pages, forms and assets are compressed (brotli or gzip, as the browser accepts); the
    // websocket upgrade is kept apart from that layer.
    let compressed = Router::new()
        .merge(form_routes(&state))
        .merge(page_routes())
        .merge(ops_routes(&state))
        .nest_service(&pkg, assets(&options))
        .leptos_routes_with_context(
            &state,
            routes,
            || provide_context(page::loader()),
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(CompressionLayer::new())
        // A request body that stops arriving is answered (and its connection closed) instead
        // of holding a handler; the accept loop also drops a connection that moves nothing.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            state.limits.header_read_timeout,
        ));
    // Files are served as they are kept: pictures are compressed already, and a download's
    // length is told up front.
    let files = Router::new()
        .route("/files/{id}", get(files::fetch))
        .route("/files/{id}/{name}", get(files::fetch))
        .route("/thumbs/{id}", get(files::thumb))
        .route("/avatars/{name}", get(avatars::fetch));
    let app = Router::new()
        .route("/ws", get(super::ws::upgrade))
        .merge(files)
        .merge(compressed);
    with_headers_and_trace(app).with_state(state)
}

/// Every `POST`, behind the same-origin check.
fn form_routes(state: &AppState) -> Router<AppState> {
    let one_file = axum::extract::DefaultBodyLimit::max(
        usize::try_from(state.files.config.max_upload_bytes + files::MULTIPART_SLACK)
            .unwrap_or(usize::MAX),
    );
    Router::new()
        .route("/join", post(forms::join))
        .route(
            "/say",
            post(forms::say).layer(axum::extract::DefaultBodyLimit::max(
                usize::try_from(
                    (state.files.config.max_upload_bytes + files::MULTIPART_SLACK)
                        .saturating_mul(crate::protocol::MAX_FILES_PER_MESSAGE as u64),
                )
                .unwrap_or(usize::MAX),
            )),
        )
        .route("/rooms/join", post(forms::join_room))
        .route("/rooms/leave", post(forms::leave_room))
        .route("/moderator", post(moderation::claim))
        .route("/login", post(account::login::submit))
        .route("/login/passkey/start", post(account::login::passkey_start))
        .route(
            "/login/passkey/finish",
            post(account::login::passkey_finish),
        )
        .route("/account/password", post(account::devices::set_password))
        .route(
            "/account/passkey/start",
            post(account::devices::passkey_start),
        )
        .route(
            "/account/passkey/finish",
            post(account::devices::passkey_finish),
        )
        .route(
            "/account/passkey/remove",
            post(account::devices::passkey_remove),
        )
        .route("/account/signout", post(account::devices::sign_out_device))
        .route(
            "/account/signout-others",
            post(account::devices::sign_out_others),
        )
        .route("/account/link", post(account::devices::link))
        .route("/account/invite", post(account::devices::invite))
        .route("/account/delete", post(account::devices::delete))
        .route("/link/{token}", post(account::links::use_link))
        .route("/push/subscribe", post(push::subscribe))
        .route("/push/unsubscribe", post(push::unsubscribe))
        .route("/upload", post(files::upload).layer(one_file))
        .route("/avatar", post(avatars::change).layer(one_file))
        .route("/account/avatar", post(avatars::form).layer(one_file))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::origin::same_origin_posts,
        ))
}

/// The server-rendered pages besides the chat's own.
fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/moderator/{token}", get(moderation::link))
        .route("/moderation", get(moderation::log))
        .route("/login", get(account::login::form))
        .route("/account", get(account::devices::show))
        .route("/link/{token}", get(account::links::show))
        .route("/invite/{token}", get(account::links::invite))
        .route("/sw.js", get(worker::script))
        .route("/push/key", get(push::key))
}

/// Health checks, and `/metrics` unless it is served on an address of its own.
fn ops_routes(state: &AppState) -> Router<AppState> {
    let ops = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz));
    if state.http.metrics_addr.is_none() {
        return ops.route("/metrics", get(ops::local_metrics));
    }
    ops
}

fn with_headers_and_trace(app: Router<AppState>) -> Router<AppState> {
    app
        // Headers on every response: no MIME sniffing, no referrer beyond this origin, no framing.
        // (The page's Content-Security-Policy carries a per-response nonce, so `shell` sets it.)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // One span per request with an id, the method and the path (never the query, which may
        // carry a typed nickname, and never headers, which carry the session cookie).
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                static NEXT: AtomicU64 = AtomicU64::new(1);
                tracing::debug_span!(
                    "request",
                    id = NEXT.fetch_add(1, Ordering::Relaxed),
                    method = %request.method(),
                    path = request.uri().path(),
                )
            }),
        )
}

/// What a connection over the server's total cap is served: `/healthz` and `/readyz`, so
/// monitoring sees a busy server rather than a dead one; anything else is 503.
pub fn busy_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .fallback(|| async {
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "the server is at its connection limit; try again in a few seconds\n",
            )
        })
        .with_state(state)
}

/// The client's wasm, script and stylesheet. A release build ships them precompressed (brotli at
/// its highest level and gzip, `cargo leptos build --release --precompress`), and those files are
/// served as they are; otherwise the compression layer compresses on the fly. With hashed file
/// names (`hash-files`) a name never changes meaning, so browsers may keep a file for a year without
/// asking again; without them every use revalidates.
fn assets(options: &LeptosOptions) -> Router {
    let dir = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let cache = if options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Router::new()
        .fallback_service(
            tower_http::services::ServeDir::new(dir)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache),
        ))
        // Which file is sent depends on Accept-Encoding; caches between must know.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ))
}
