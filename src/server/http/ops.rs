//! Operations: liveness at `/healthz`, readiness at `/readyz`, Prometheus metrics at `/metrics`.
//!
//! `/metrics` says how busy the server is and how many people are online: it is for the operator.
//! With `CHINWAG_METRICS_ADDR` set it is served there only. Without it, the public address
//! serves it only to a client on the same host that came directly (a loopback peer whose request
//! carries no `X-Forwarded-For`, `Forwarded` or `X-Real-IP`, as a reverse proxy's would); anyone
//! else gets 404.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::server::state::AppState;

/// `GET /metrics` on the public address: only for a direct client on this host.
pub async fn local_metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let proxied = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|name| headers.contains_key(*name));
    if !peer.ip().is_loopback() || proxied {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    metrics(State(state)).await
}

/// `GET /metrics`: what the server counts, and what it holds in memory right now.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (live, idle) = state.sessions.cache().cached();
    state.metrics.holding(
        state.hub.live_rooms(),
        live + idle,
        state.hub.presence().people_online(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /healthz`: the process is up and serving HTTP.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: the store answers; 503 otherwise, so a load balancer stops sending traffic.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(err) => {
            tracing::error!(%err, "readiness check: the store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

/// The router of the private metrics address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(state)
}
