//! The accept loop: every TCP connection of the server passes here, and every one has deadlines.
//!
//! `axum::serve` gives hyper no timer, and hyper alone times only a request's headers: a client
//! that connects and sends nothing, sends a request whose body never comes, or keeps an idle
//! HTTP/2 connection open (answering its pings) would hold a file descriptor forever. Here:
//! - a connection with no request in flight is closed once it has been idle for
//!   [`Limits::header_read_timeout`]: before its first byte, between keep-alive requests, and on
//!   an idle HTTP/2 connection alike (pings do not count as use);
//! - a request's headers must arrive within that time too (hyper's own header timer);
//! - a connection with a request in flight that moves no byte, in or out, for
//!   [`Limits::write_timeout`] is dropped (a body that never comes, a response nobody reads);
//! - new connections are rate-limited per client address, and open ones capped per address and
//!   in total; the total is derived from the process's file limit (`limits::files`), so accepting
//!   never runs out of descriptors;
//! - over the total cap, a few more connections are still taken (two per address at a time), each
//!   for at most [`BUSY_DEADLINE`], and answered `/healthz` and `/readyz` (anything else 503), so
//!   monitoring sees a busy server, not a dead one;
//! - on shutdown the listener stops accepting and open HTTP connections finish their requests.
//!
//! A websocket upgrade takes its TCP connection's slot with it ([`TcpSlot`]): the descriptor stays
//! counted until the websocket closes. A trusted reverse proxy's connections count only in the
//! total, and each request names its client from the proxy's `X-Forwarded-For`
//! ([`TrustedProxies`]): the address the per-address limits see is the client's.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt as _;

use super::proxy::TrustedProxies;
use crate::server::limits::{AddrKey, ConnectionLimits, ConnectionSlot, KeyedLimiter, Limits};
use crate::server::metrics::Metrics;

/// How long a connection taken over the total cap may stay: one health check.
pub const BUSY_DEADLINE: Duration = Duration::from_secs(2);

/// How many connections over the total cap are served at once (their descriptors are kept in
/// reserve by `limits::files`).
pub const BUSY_SLOTS: usize = 16;

/// How often each connection's deadlines are checked.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// How many of those one address may hold at once: two, so that a monitor checking again right
/// after an answer is served even while its previous connection's slot is still being given back
/// (the client sees the close a moment before the server's task ends).
const BUSY_PER_ADDRESS: usize = 2;

/// How long a connection asked to close gracefully (idle, or the server stopping) may take to do
/// so before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How often a failing `accept` is logged at most (out of descriptors, it fails on every try).
const ACCEPT_ERROR_LOG_EVERY: Duration = Duration::from_secs(5);

/// What the accept loop works with.
pub struct Listen {
    pub listener: TcpListener,
    /// The application.
    pub app: Router,
    /// What a connection over the total cap is served: health checks only.
    pub busy: Router,
    pub proxies: TrustedProxies,
    pub metrics: Metrics,
    /// TCP connections per address and in total (see `limits::files` for the total).
    pub caps: ConnectionLimits,
    /// New TCP connections per address.
    pub new_connections: Arc<KeyedLimiter>,
}

/// Serves on `listen.listener` until `stop` resolves; then stops accepting and gives open HTTP
/// requests up to `drain` to finish (upgraded websockets have their own shutdown).
pub async fn serve(
    listen: Listen,
    limits: &Limits,
    stop: impl Future<Output = ()>,
    drain: Duration,
) {
    let Listen {
        listener,
        app,
        busy,
        proxies,
        metrics,
        caps,
        new_connections,
    } = listen;
    let (closing_tx, closing) = watch::channel(false);
    let serving = Serving {
        builder: builder(limits),
        app,
        deadlines: Deadlines {
            idle: limits.header_read_timeout,
            stall: limits.write_timeout,
        },
        closing,
        open: Arc::new(AtomicUsize::new(0)),
    };
    let busy_slots = BusySlots::default();
    let mut accept_errors = AcceptErrors::default();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_errors.failed(&err);
                    // Out of descriptors or the like: wait a little instead of spinning.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let proxied = proxies.trusts(peer.ip());
        if !proxied && new_connections.check(peer.ip()).is_err() {
            metrics.refused("connection_rate");
            continue;
        }
        let acquired = if proxied {
            caps.acquire_shared()
        } else {
            caps.acquire(peer.ip())
        };
        // No Nagle delay: chat frames are small and latency is the point.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        match acquired {
            Ok(slot) => serving.spawn(tcp, peer, proxied.then(|| proxies.clone()), slot),
            Err(status) => {
                metrics.refused("tcp_connections");
                // Over the total cap (not the address's): still answer a health check, at most
                // two connections per address at a time, so a flood cannot hold these few too.
                if status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
                    busy_slots.serve(tcp, peer, &busy);
                }
            }
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    serving.drain(drain).await;
}

/// hyper's HTTP/1 and HTTP/2 server, with a deadline on a request's headers.
fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // No keep-alive pings of our own: an idle HTTP/2 connection is closed, not kept alive.
    builder.http2().timer(TokioTimer::new());
    builder
}

/// What every admitted connection is served with.
struct Serving {
    builder: auto::Builder<TokioExecutor>,
    app: Router,
    deadlines: Deadlines,
    /// Turns true when the server stops.
    closing: watch::Receiver<bool>,
    /// Connections being served, counted down as each ends.
    open: Arc<AtomicUsize>,
}

impl Serving {
    /// Serves `tcp` in its own task, holding `slot` until it ends (or its websocket does).
    /// `proxies`: set when the peer is a trusted proxy, which names the client of each request.
    fn spawn(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        proxies: Option<TrustedProxies>,
        slot: ConnectionSlot,
    ) {
        let activity = Arc::new(Activity::new());
        let service = PerConnection {
            app: self.app.clone(),
            peer,
            proxies,
            activity: Arc::clone(&activity),
            slot: TcpSlot(Arc::new(Mutex::new(Some(slot)))),
        };
        let io = TokioIo::new(Watched {
            io: tcp,
            activity: Arc::clone(&activity),
        });
        let connection = self
            .builder
            .serve_connection_with_upgrades(io, TowerToHyperService::new(service))
            .into_owned();
        let mut closing = self.closing.clone();
        let task = Counted::new(&self.open);
        let deadlines = self.deadlines;
        tokio::spawn(async move {
            let _task = task;
            watch_over(connection, &activity, deadlines, &mut closing).await;
        });
    }

    /// Waits up to `drain` for the open connections to finish.
    async fn drain(self, drain: Duration) {
        let drained = tokio::time::timeout(drain, async {
            while self.open.load(Ordering::Acquire) > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("some HTTP connections did not finish within {drain:?}");
        }
    }
}

/// The deadlines of one connection.
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    /// No request in flight for this long: closed.
    idle: Duration,
    /// A request in flight and no byte moved for this long: dropped.
    stall: Duration,
}

/// Drives one connection until it ends, closing it when a deadline passes or the server stops.
async fn watch_over(
    connection: Connection,
    activity: &Activity,
    deadlines: Deadlines,
    closing: &mut watch::Receiver<bool>,
) {
    tokio::pin!(connection);
    let mut check = tokio::time::interval(CHECK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Set once the connection was asked to close: it must be gone by then.
    let mut closing_by: Option<Instant> = None;
    loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(err) = ended {
                    tracing::debug!(%err, "connection ended with an error");
                }
                return;
            }
            _ = check.tick() => {
                let now = Instant::now();
                if let Some(by) = closing_by {
                    if now >= by {
                        return;
                    }
                    continue;
                }
                match activity.verdict(now, deadlines) {
                    Verdict::Fine => {}
                    Verdict::Idle => {
                        connection.as_mut().graceful_shutdown();
                        closing_by = Some(now + CLOSE_GRACE);
                    }
                    Verdict::Stalled => {
                        tracing::debug!("a request moved nothing for {:?}; dropping it", deadlines.stall);
                        return;
                    }
                }
            }
            _ = closing.wait_for(|closing| *closing), if closing_by.is_none() => {
                connection.as_mut().graceful_shutdown();
                closing_by = Some(Instant::now() + CLOSE_GRACE.max(Duration::from_secs(4)));
            }
        }
    }
}

/// One served connection, as hyper drives it.
type Connection = auto::UpgradeableConnection<
    'static,
    TokioIo<Watched>,
    TowerToHyperService<PerConnection>,
    TokioExecutor,
>;

/// Serves a connection taken over the total cap: health checks, for at most [`BUSY_DEADLINE`],
/// one request, no keep-alive.
async fn serve_busy(tcp: TcpStream, peer: SocketAddr, busy: Router) {
    let service = busy.map_request(move |mut request: Request<Incoming>| {
        request
            .extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(peer));
        request
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .timer(TokioTimer::new())
        .header_read_timeout(BUSY_DEADLINE)
        .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
    let _ = tokio::time::timeout(BUSY_DEADLINE, connection).await;
}

/// The connections served over the total cap: at most [`BUSY_SLOTS`], one per address.
#[derive(Debug, Clone, Default)]
struct BusySlots(Arc<Mutex<std::collections::HashMap<AddrKey, usize>>>);

/// One connection served over the total cap, until dropped.
struct BusySlot {
    slots: BusySlots,
    addr: AddrKey,
}

impl BusySlots {
    /// Serves `tcp` the health checks in its own task if a slot is free; else it is closed.
    fn serve(&self, tcp: TcpStream, peer: SocketAddr, busy: &Router) {
        if let Some(slot) = self.take(peer.ip()) {
            let busy = busy.clone();
            tokio::spawn(async move {
                let _slot = slot;
                serve_busy(tcp, peer, busy).await;
            });
        }
    }

    fn take(&self, ip: std::net::IpAddr) -> Option<BusySlot> {
        let addr = AddrKey::from(ip);
        let mut taken = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if taken.values().sum::<usize>() >= BUSY_SLOTS {
            return None;
        }
        let mine = taken.entry(addr).or_insert(0);
        if *mine >= BUSY_PER_ADDRESS {
            return None;
        }
        *mine += 1;
        Some(BusySlot {
            slots: self.clone(),
            addr,
        })
    }
}

impl Drop for BusySlot {
    fn drop(&mut self) {
        let mut taken = self.slots.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(mine) = taken.get_mut(&self.addr) {
            *mine -= 1;
            if *mine == 0 {
                taken.remove(&self.addr);
            }
        }
    }
}

/// When a connection last did something, and how many of its requests are in flight.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    /// Milliseconds after `start` a byte last moved, in or out.
    last_io: AtomicU64,
    /// Milliseconds after `start` the client last took a byte (a write went out).
    last_write: AtomicU64,
    /// Milliseconds after `start` the last request ended (its response body was sent or dropped).
    last_done: AtomicU64,
    in_flight: AtomicUsize,
}

/// What a connection's deadlines say now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Fine,
    /// No request in flight for the idle deadline: ask it to close.
    Idle,
    /// A request in flight that moved nothing for the stall deadline: drop it.
    Stalled,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_io: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            last_done: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn since_start(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX)
    }

    /// A byte came in.
    fn read_some(&self) {
        self.last_io
            .store(self.since_start(Instant::now()), Ordering::Relaxed);
    }

    /// A byte went out.
    fn wrote_some(&self) {
        let now = self.since_start(Instant::now());
        self.last_io.store(now, Ordering::Relaxed);
        self.last_write.store(now, Ordering::Relaxed);
    }

    /// When the client last took a byte of what this connection sends (for the websocket's write
    /// deadline: a client that reads slowly is never cut off, one that reads nothing is).
    pub fn last_write(&self) -> Instant {
        self.start + Duration::from_millis(self.last_write.load(Ordering::Relaxed))
    }

    fn started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }

    fn verdict(&self, now: Instant, deadlines: Deadlines) -> Verdict {
        let now_ms = self.since_start(now);
        let elapsed = |at: &AtomicU64| {
            Duration::from_millis(now_ms.saturating_sub(at.load(Ordering::Relaxed)))
        };
        if self.in_flight.load(Ordering::Acquire) == 0 {
            if elapsed(&self.last_done) >= deadlines.idle {
                return Verdict::Idle;
            }
        } else if elapsed(&self.last_io) >= deadlines.stall {
            return Verdict::Stalled;
        }
        Verdict::Fine
    }
}

/// A request in flight on a connection, until its response body is done.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        activity
            .last_done
            .store(activity.since_start(Instant::now()), Ordering::Relaxed);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that holds its request's [`InFlight`] until it is sent (or dropped).
struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// The TCP connection's slot among the caps, for a websocket upgrade to take over (the
/// descriptor stays open as long as the websocket does).
#[derive(Debug, Clone)]
pub struct TcpSlot(Arc<Mutex<Option<ConnectionSlot>>>);

impl TcpSlot {
    /// Takes the slot (once): the caller now keeps the connection counted.
    pub fn take(&self) -> Option<ConnectionSlot> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The application as one connection sees it: each request learns its client's address, its
/// connection's slot and activity, and is counted in flight until its response is sent.
#[derive(Clone)]
struct PerConnection {
    app: Router,
    peer: SocketAddr,
    /// Set when the peer is a trusted proxy: the client is named by `X-Forwarded-For`.
    proxies: Option<TrustedProxies>,
    activity: Arc<Activity>,
    slot: TcpSlot,
}

impl tower::Service<Request<Incoming>> for PerConnection {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.started();
        // The client's address is what the per-address limits count.
        let client = match &self.proxies {
            Some(proxies) => proxies.client(self.peer, request.headers()),
            None => self.peer,
        };
        let extensions = request.extensions_mut();
        extensions.insert(ConnectInfo::<SocketAddr>(client));
        extensions.insert(self.slot.clone());
        extensions.insert(Arc::clone(&self.activity));
        let response = self.app.clone().oneshot(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| {
                Body::new(TrackedBody {
                    body,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// A TCP stream that records when a byte last moved.
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote_some();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote_some();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Counts a connection's task while it runs (the drain at shutdown waits for none).
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(open))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Failed accepts, logged at most every [`ACCEPT_ERROR_LOG_EVERY`] with how many there were.
#[derive(Debug, Default)]
struct AcceptErrors {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    fn failed(&mut self, err: &io::Error) {
        self.unlogged += 1;
        let due = self
            .last_logged
            .is_none_or(|at| at.elapsed() >= ACCEPT_ERROR_LOG_EVERY);
        if due {
            tracing::warn!(%err, failures = self.unlogged, "accept failed");
            self.last_logged = Some(Instant::now());
            self.unlogged = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINES: Deadlines = Deadlines {
        idle: Duration::from_secs(10),
        stall: Duration::from_secs(20),
    };

    #[test]
    fn over_the_cap_an_address_holds_two_connections_and_all_hold_at_most_busy_slots() {
        let slots = BusySlots::default();
        let monitor = std::net::IpAddr::from([127, 0, 0, 1]);
        let first = slots.take(monitor).expect("a first");
        let second = slots
            .take(monitor)
            .expect("the next check while the first closes");
        assert!(slots.take(monitor).is_none(), "a third at once is refused");
        drop(first);
        let third = slots.take(monitor).expect("one given back, one more");
        drop((second, third));
        let flood: Vec<BusySlot> = (1..=BUSY_SLOTS as u8)
            .filter_map(|n| slots.take(std::net::IpAddr::from([10, 0, n, 1])))
            .collect();
        assert_eq!(flood.len(), BUSY_SLOTS);
        assert!(slots.take(monitor).is_none(), "all taken");
        drop(flood);
        assert!(slots.0.lock().expect("lock").is_empty(), "nothing left");
    }

    #[test]
    fn an_idle_connection_is_closed_and_a_busy_one_only_when_it_stalls() {
        let activity = Arc::new(Activity::new());
        let start = activity.start;
        assert_eq!(
            activity.verdict(start + Duration::from_secs(9), DEADLINES),
            Verdict::Fine
        );
        assert_eq!(
            activity.verdict(start + Duration::from_secs(10), DEADLINES),
            Verdict::Idle,
            "nothing asked within the idle deadline"
        );
        let request = activity.started();
        assert_eq!(
            activity.verdict(start + Duration::from_secs(15), DEADLINES),
            Verdict::Fine,
            "a request in flight is not idle"
        );
        assert_eq!(
            activity.verdict(start + Duration::from_secs(21), DEADLINES),
            Verdict::Stalled,
            "but it must move bytes"
        );
        drop(request);
        let done = activity.last_done.load(Ordering::Relaxed);
        let after = start + Duration::from_millis(done);
        assert_eq!(
            activity.verdict(after + Duration::from_secs(9), DEADLINES),
            Verdict::Fine
        );
        assert_eq!(
            activity.verdict(after + Duration::from_secs(10), DEADLINES),
            Verdict::Idle
        );
    }
}
