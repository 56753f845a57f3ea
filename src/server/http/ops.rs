//! Operations: liveness at `/healthz`, readiness at `/readyz`, Prometheus metrics at `/metrics`
//! (on the public address, or only on `CHINWAG_METRICS_ADDR` when that is set: keep it on a
//! private address or block it at the proxy).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::server::state::AppState;

/// `GET /metrics`: what the server counts, and what it holds in memory right now.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (live, idle) = state.sessions.cached();
    state.metrics.holding(
        state.hub.live_rooms(),
        live + idle,
        state.hub.people_online(),
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
