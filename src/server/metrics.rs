//! The server's Prometheus metrics (served by `http::ops`).
//!
//! The counters are plain atomics (prometheus-client), cheap enough for the hot path. What is
//! measured: open websockets, client frames in, frames out, errors sent by code, refusals by
//! reason (upgrades, forms, closes), connections that fell behind, how long the store takes to
//! commit a batch, and, read when scraped, how much the server holds in memory: live rooms, cached
//! sessions, people online. With several servers: whether the bus is up, what went over it (and
//! what was dropped), how late it arrives, how many servers are seen, and what was repaired from
//! the store. Nothing here ever holds message text or tokens.

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

/// The metrics, in groups that each register their own, in the order `/metrics` lists them.
#[derive(Debug)]
struct Inner {
    registry: Registry,
    traffic: Traffic,
    held: Held,
    cluster: Cluster,
    files: Files,
}

/// Websockets, what crosses them, and the store commits behind them.
#[derive(Debug)]
struct Traffic {
    connections: Gauge,
    frames_in: Counter,
    frames_out: Counter,
    errors: Family<CodeLabel, Counter>,
    refused: Family<ReasonLabel, Counter>,
    lagged: Counter,
    store_seconds: Histogram,
}

/// What the server holds in memory, set before each scrape.
#[derive(Debug)]
struct Held {
    rooms_live: Gauge,
    sessions_cached: Gauge,
    people_online: Gauge,
}

/// The bus between several servers, and what was repaired from the store when it failed.
#[derive(Debug)]
struct Cluster {
    bus_up: Gauge,
    bus_published: Counter,
    bus_received: Counter,
    bus_dropped: Counter,
    bus_lag: Histogram,
    repaired: Family<ReasonLabel, Counter>,
    cluster_nodes: Gauge,
}

#[derive(Debug)]
struct Files {
    uploads: Counter,
    upload_bytes: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Traffic {
    fn register(registry: &mut Registry) -> Self {
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
        Self {
            connections,
            frames_in,
            frames_out,
            errors,
            refused,
            lagged,
            store_seconds,
        }
    }
}

impl Held {
    fn register(registry: &mut Registry) -> Self {
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
            rooms_live,
            sessions_cached,
            people_online,
        }
    }
}

impl Cluster {
    fn register(registry: &mut Registry) -> Self {
        let bus_up = Gauge::default();
        registry.register(
            "bus_up",
            "1 while the link to the other servers (Redis) is up, 0 while it is down or unused",
            bus_up.clone(),
        );
        let bus_published = Counter::default();
        registry.register(
            "bus_published",
            "Events published to the other servers",
            bus_published.clone(),
        );
        let bus_received = Counter::default();
        registry.register(
            "bus_received",
            "Events received from the servers (this one's included)",
            bus_received.clone(),
        );
        let bus_dropped = Counter::default();
        registry.register(
            "bus_dropped",
            "Events not published (bus down or behind); the servers repair from the store",
            bus_dropped.clone(),
        );
        // 100 µs to ~3 s.
        let bus_lag = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "bus_lag_seconds",
            "Time from an event's publishing on another server to its arrival here",
            bus_lag.clone(),
        );
        let repaired = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "repaired",
            "Messages read from the store because the bus lost or delayed them, by reason \
             (gap: a later one came first; tail: a position check; direct: private messages)",
            repaired.clone(),
        );
        let cluster_nodes = Gauge::default();
        registry.register(
            "cluster_nodes",
            "Servers this one hears from, itself included",
            cluster_nodes.clone(),
        );
        Self {
            bus_up,
            bus_published,
            bus_received,
            bus_dropped,
            bus_lag,
            repaired,
            cluster_nodes,
        }
    }
}

impl Files {
    fn register(registry: &mut Registry) -> Self {
        let uploads = Counter::default();
        registry.register("uploads", "Files uploaded and kept", uploads.clone());
        let upload_bytes = Counter::default();
        registry.register(
            "upload_bytes",
            "Bytes of files uploaded and kept",
            upload_bytes.clone(),
        );
        Self {
            uploads,
            upload_bytes,
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("chinwag");
        let traffic = Traffic::register(&mut registry);
        let held = Held::register(&mut registry);
        let cluster = Cluster::register(&mut registry);
        let files = Files::register(&mut registry);
        Self {
            inner: Arc::new(Inner {
                registry,
                traffic,
                held,
                cluster,
                files,
            }),
        }
    }

    /// A file was uploaded and kept.
    pub fn uploaded(&self, bytes: u64) {
        self.inner.files.uploads.inc();
        self.inner.files.upload_bytes.inc_by(bytes);
    }

    pub fn connection_opened(&self) {
        self.inner.traffic.connections.inc();
    }

    pub fn connection_closed(&self) {
        self.inner.traffic.connections.dec();
    }

    pub fn frame_in(&self) {
        self.inner.traffic.frames_in.inc();
    }

    pub fn frame_out(&self) {
        self.inner.traffic.frames_out.inc();
    }

    pub fn error(&self, code: ErrorCode) {
        self.inner
            .traffic
            .errors
            .get_or_create(&CodeLabel {
                code: code.as_str(),
            })
            .inc();
    }

    pub fn refused(&self, reason: &'static str) {
        self.inner
            .traffic
            .refused
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub fn lagged(&self) {
        self.inner.traffic.lagged.inc();
    }

    pub fn store_commit(&self, seconds: f64) {
        self.inner.traffic.store_seconds.observe(seconds);
    }

    /// Records what the server holds in memory, before a scrape.
    pub fn holding(&self, rooms: usize, sessions: usize, people: usize) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.inner.held.rooms_live.set(gauge(rooms));
        self.inner.held.sessions_cached.set(gauge(sessions));
        self.inner.held.people_online.set(gauge(people));
    }

    pub fn bus_up(&self, up: bool) {
        self.inner.cluster.bus_up.set(i64::from(up));
    }

    pub fn bus_published(&self, n: u64) {
        self.inner.cluster.bus_published.inc_by(n);
    }

    pub fn bus_received(&self) {
        self.inner.cluster.bus_received.inc();
    }

    pub fn bus_dropped(&self, n: u64) {
        if n > 0 {
            self.inner.cluster.bus_dropped.inc_by(n);
        }
    }

    pub fn bus_lag(&self, seconds: f64) {
        self.inner.cluster.bus_lag.observe(seconds);
    }

    pub fn repaired(&self, reason: &'static str, n: u64) {
        self.inner
            .cluster
            .repaired
            .get_or_create(&ReasonLabel { reason })
            .inc_by(n);
    }

    pub fn cluster_nodes(&self, n: usize) {
        self.inner
            .cluster
            .cluster_nodes
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.inner.registry);
        text
    }
}
