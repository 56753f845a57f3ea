//! Operations: Prometheus metrics at `/metrics`, liveness at `/healthz`, readiness at `/readyz`.
//!
//! The counters are plain atomics (prometheus-client), cheap enough for the hot path. What is
//! measured: open websockets, client frames in, frames out, errors sent by code, refused upgrades by
//! reason, connections that fell behind, and how long the store takes to commit a message. Nothing
//! here ever holds message text or tokens.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::protocol::ErrorCode;
use crate::state::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The server's metrics. Cheap to clone; every clone counts into the same registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    connections: Gauge,
    frames_in: Counter,
    frames_out: Counter,
    errors: Family<CodeLabel, Counter>,
    refused: Family<ReasonLabel, Counter>,
    lagged: Counter,
    store_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("chinwag");
        let connections = Gauge::default();
        registry.register("connections", "Open websockets", connections.clone());
        let frames_in = Counter::default();
        registry.register("frames_in", "Client frames received", frames_in.clone());
        let frames_out = Counter::default();
        registry.register("frames_out", "Frames sent to clients", frames_out.clone());
        let errors = Family::<CodeLabel, Counter>::default();
        registry.register("errors", "Error frames sent, by code", errors.clone());
        let refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "upgrades_refused",
            "Websocket upgrades refused, by reason",
            refused.clone(),
        );
        let lagged = Counter::default();
        registry.register(
            "lagged",
            "Times a connection fell behind a room and was resynced from the store",
            lagged.clone(),
        );
        // 100 µs to ~3 s.
        let store_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "store_commit_seconds",
            "Time to commit one message to the store",
            store_seconds.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                connections,
                frames_in,
                frames_out,
                errors,
                refused,
                lagged,
                store_seconds,
            }),
        }
    }

    pub fn connection_opened(&self) {
        self.inner.connections.inc();
    }

    pub fn connection_closed(&self) {
        self.inner.connections.dec();
    }

    pub fn frame_in(&self) {
        self.inner.frames_in.inc();
    }

    pub fn frame_out(&self) {
        self.inner.frames_out.inc();
    }

    pub fn error(&self, code: ErrorCode) {
        self.inner
            .errors
            .get_or_create(&CodeLabel { code: code.name() })
            .inc();
    }

    pub fn refused(&self, reason: &'static str) {
        self.inner
            .refused
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub fn lagged(&self) {
        self.inner.lagged.inc();
    }

    pub fn store_commit(&self, seconds: f64) {
        self.inner.store_seconds.observe(seconds);
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.inner.registry);
        text
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
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
