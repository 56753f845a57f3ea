//! The server's Prometheus metrics (served by `http::ops`).
//!
//! The counters are plain atomics (prometheus-client), cheap enough for the hot path. What is
//! measured: open websockets, client frames in, frames out, errors sent by code, refusals by
//! reason (upgrades, forms, closes), connections that fell behind, how long the store takes to
//! commit a batch, and, read when scraped, how much the server holds in memory: live rooms, cached
//! sessions, people online. Nothing here ever holds message text or tokens.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::protocol::ErrorCode;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
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
    rooms_live: Gauge,
    sessions_cached: Gauge,
    people_online: Gauge,
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
            "refused",
            "Requests refused by a limit, by reason (upgrades, forms, connections closed)",
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
            "Time to commit one batch of messages (room or private) to the store",
            store_seconds.clone(),
        );
        let rooms_live = Gauge::default();
        registry.register(
            "rooms_live",
            "Rooms held in memory (listened to, or being written to)",
            rooms_live.clone(),
        );
        let sessions_cached = Gauge::default();
        registry.register(
            "sessions_cached",
            "Sessions held in memory (with a connection here, or recently used)",
            sessions_cached.clone(),
        );
        let people_online = Gauge::default();
        registry.register(
            "people_online",
            "People with a connection here (or within the leave grace)",
            people_online.clone(),
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
                rooms_live,
                sessions_cached,
                people_online,
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
            .get_or_create(&CodeLabel {
                code: code.as_str(),
            })
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

    /// Records what the server holds in memory, before a scrape.
    pub fn holding(&self, rooms: usize, sessions: usize, people: usize) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.inner.rooms_live.set(gauge(rooms));
        self.inner.sessions_cached.set(gauge(sessions));
        self.inner.people_online.set(gauge(people));
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.inner.registry);
        text
    }
}
