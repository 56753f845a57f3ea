//! Abuse limits: how much one client may ask of the server, and what it is told when it asks too much.
//!
//! - [`TokenBucket`]: the per-session rate limit (messages, and typing separately). A frame over the
//!   limit is answered with `rate_limited` and how long to wait, never dropped silently.
//! - [`ConnectionLimits`]: caps on open websockets per client address and in total. An upgrade over a
//!   cap is refused with 429 (that address) or 503 (the server), before any websocket exists.
//! - [`Limits`]: the numbers, with defaults and `CHINWAG_*` environment overrides.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::protocol::ClientMsg;

/// Which rate limit a client frame counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// Everything a person does on purpose: `say`, `dm`, `join`, `leave`, `nick`, `history`.
    Message,
    /// `typing`, which clients send by themselves while someone types.
    Typing,
}

impl Throttle {
    pub fn of(msg: &ClientMsg) -> Self {
        match msg {
            ClientMsg::Typing { .. } => Throttle::Typing,
            _ => Throttle::Message,
        }
    }
}

/// The server's limits. Every one is documented in the README's configuration section and in
/// `docs/protocol.md`.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest websocket message accepted; a larger one closes the connection with 1009.
    pub max_frame_bytes: usize,
    /// Sustained messages per second per session (`say`, `dm`, `join`, `leave`, `nick`, `history`).
    pub messages_per_sec: f64,
    /// How many messages a session may send at once before the rate applies.
    pub message_burst: f64,
    /// The same for `typing` frames, counted separately.
    pub typing_per_sec: f64,
    pub typing_burst: f64,
    /// Open websockets per client address.
    pub max_connections_per_ip: usize,
    /// Open websockets in all.
    pub max_connections: usize,
    /// How often an idle connection is pinged.
    pub ping_interval: Duration,
    /// A connection that sends nothing (not even a pong) for this long is closed as dead.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 16 * 1024,
            messages_per_sec: 10.0,
            message_burst: 20.0,
            typing_per_sec: 2.0,
            typing_burst: 5.0,
            max_connections_per_ip: 256,
            max_connections: 200_000,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
        }
    }
}

impl Limits {
    /// The defaults, overridden by `CHINWAG_MAX_FRAME_BYTES`, `CHINWAG_RATE_PER_SEC`,
    /// `CHINWAG_RATE_BURST`, `CHINWAG_MAX_CONNECTIONS_PER_IP` and `CHINWAG_MAX_CONNECTIONS` where set
    /// (a value that does not parse is ignored, with a warning).
    pub fn from_env() -> Self {
        let mut limits = Self::default();
        env("CHINWAG_MAX_FRAME_BYTES", &mut limits.max_frame_bytes);
        env("CHINWAG_RATE_PER_SEC", &mut limits.messages_per_sec);
        env("CHINWAG_RATE_BURST", &mut limits.message_burst);
        env(
            "CHINWAG_MAX_CONNECTIONS_PER_IP",
            &mut limits.max_connections_per_ip,
        );
        env("CHINWAG_MAX_CONNECTIONS", &mut limits.max_connections);
        limits
    }
}

fn env<T: std::str::FromStr>(name: &str, value: &mut T) {
    if let Ok(text) = std::env::var(name) {
        match text.trim().parse() {
            Ok(parsed) => *value = parsed,
            Err(_) => tracing::warn!(name, text, "ignoring a setting that does not parse"),
        }
    }
}

/// A token bucket: `burst` tokens, refilled at `rate` per second; each frame takes one.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        if self.rate <= 0.0 {
            return Err(Duration::from_secs(3600));
        }
        Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
    }
}

/// Counts open websockets per client address and in total.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    inner: Arc<Counts>,
}

#[derive(Debug)]
struct Counts {
    max_total: usize,
    max_per_ip: usize,
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One open websocket, counted until dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    counts: Arc<Counts>,
    ip: IpAddr,
}

impl ConnectionLimits {
    pub fn new(limits: &Limits) -> Self {
        Self {
            inner: Arc::new(Counts {
                max_total: limits.max_connections,
                max_per_ip: limits.max_connections_per_ip,
                total: AtomicUsize::new(0),
                per_ip: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Counts a new websocket from `ip`, or refuses it: 503 if the server is full, 429 if this
    /// address has too many open.
    pub fn acquire(&self, ip: IpAddr) -> Result<ConnectionSlot, StatusCode> {
        let counts = &self.inner;
        let mut per_ip = counts.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total.load(Ordering::Relaxed) >= counts.max_total {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        let mine = per_ip.entry(ip).or_insert(0);
        if *mine >= counts.max_per_ip {
            return Err(StatusCode::TOO_MANY_REQUESTS);
        }
        *mine += 1;
        counts.total.fetch_add(1, Ordering::Relaxed);
        Ok(ConnectionSlot {
            counts: Arc::clone(counts),
            ip,
        })
    }

    /// How many websockets are open.
    pub fn open(&self) -> usize {
        self.inner.total.load(Ordering::Relaxed)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut per_ip = self
            .counts
            .per_ip
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.counts.total.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 20.0, start);
        for _ in 0..20 {
            assert!(bucket.take(start).is_ok());
        }
        let wait = bucket.take(start).expect_err("empty");
        assert_eq!(wait.as_millis(), 100);
        // A tenth of a second later one more is allowed, and only one.
        let later = start + Duration::from_millis(100);
        assert!(bucket.take(later).is_ok());
        assert!(bucket.take(later).is_err());
        // A long pause refills to the burst, not beyond.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..20 {
            assert!(bucket.take(much_later).is_ok());
        }
        assert!(bucket.take(much_later).is_err());
    }

    #[test]
    fn connections_are_capped_per_address_and_in_total() {
        let limits = ConnectionLimits::new(&Limits {
            max_connections_per_ip: 2,
            max_connections: 3,
            ..Limits::default()
        });
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let a1 = limits.acquire(a).expect("free");
        let _a2 = limits.acquire(a).expect("free");
        assert_eq!(
            limits.acquire(a).map(|_| ()),
            Err(StatusCode::TOO_MANY_REQUESTS)
        );
        let _b1 = limits.acquire(b).expect("another address");
        assert_eq!(
            limits.acquire(b).map(|_| ()),
            Err(StatusCode::SERVICE_UNAVAILABLE)
        );
        drop(a1);
        assert_eq!(limits.open(), 2);
        let _a3 = limits.acquire(a).expect("a slot was freed");
    }
}
