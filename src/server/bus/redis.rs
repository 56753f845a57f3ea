//! The bus over Redis pub/sub: one RESP3 connection per server that subscribes to the cluster's
//! channel and publishes on it, made again whenever it breaks.
//!
//! The connection is ours to manage (redis-rs's `MultiplexedConnection`, not its connection
//! manager), because what matters here is knowing *when* the link is whole: after every
//! (re)connection the subscription is confirmed by Redis before the link reports [`Inbound::Up`],
//! and the servers repair from the store only then, so nothing published meanwhile can fall
//! between the repair and the live stream. A link that breaks reports [`Inbound::Down`]; one that
//! looks alive but carries nothing (the server's own heartbeats stop coming back) is dropped by
//! [`Link::reconnect`].
//!
//! Nothing here blocks a caller: [`Link::publish`] queues (bounded), a dedicated task writes the
//! queue out in pipelines, and what cannot be queued or written is counted as dropped. Incoming
//! events go through a bounded queue too; if it overflows, the link says so
//! ([`Inbound::Overflow`]) and the servers repair everything from the store, as after an outage.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{AsyncPushSender, MultiplexedConnection};
use redis::{
    AsyncConnectionConfig, Client, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind,
};
use tokio::sync::{mpsc, oneshot, Notify};

use super::{decode, Received};
use crate::server::metrics::Metrics;

/// Events waiting to be published, at most (a burst of a busy server; more are dropped), and
/// their bytes at most.
const OUT_QUEUE: usize = 16_384;
const OUT_BYTES: usize = 32 * 1024 * 1024;
/// Events read from Redis and not yet decoded, at most, and their bytes at most (past either, the
/// link reports an overflow and the servers repair from the store).
const PUSH_QUEUE: usize = 16_384;
const PUSH_BYTES: usize = 32 * 1024 * 1024;
/// Events decoded and not yet handled by the server, at most.
const IN_QUEUE: usize = 1024;
/// Most events one pipeline writes.
const PIPELINE: usize = 256;
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long Redis may take to answer a command.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Wait before reconnecting, doubling up to [`MAX_BACKOFF`]: short, since the servers' view of
/// each other is frozen while the link is down.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What the link tells the server.
#[derive(Debug)]
pub enum Inbound {
    /// Subscribed (again): everything published from now on arrives.
    Up,
    /// The link broke: nothing arrives until the next `Up`.
    Down,
    /// An event from a server (this one's included).
    Event(Box<Received>),
    /// Events were lost on the way in (the server could not keep up).
    Overflow,
}

/// Why the bus could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("bad Redis URL: {0}")]
pub struct UrlError(#[from] redis::RedisError);

/// The server's end of the Redis link.
#[derive(Debug)]
pub struct Link {
    out: mpsc::Sender<Vec<u8>>,
    /// Bytes waiting in `out`.
    out_bytes: AtomicUsize,
    up: AtomicBool,
    reconnect: Notify,
    metrics: Metrics,
}

impl Link {
    /// Checks `url` and starts the link in the background (Redis need not be up yet: the server
    /// serves its own clients meanwhile). Events of every server arrive on the returned queue.
    pub fn start(
        url: &str,
        channel: String,
        metrics: Metrics,
    ) -> Result<(Arc<Self>, mpsc::Receiver<Inbound>), UrlError> {
        let info = url.into_connection_info()?;
        // Pushes (pub/sub messages on a connection that also sends commands) need RESP3.
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = Client::open(info.set_redis_settings(settings))?;
        let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
        let (in_tx, in_rx) = mpsc::channel(IN_QUEUE);
        let link = Arc::new(Self {
            out: out_tx,
            out_bytes: AtomicUsize::new(0),
            up: AtomicBool::new(false),
            reconnect: Notify::new(),
            metrics,
        });
        tokio::spawn(Arc::clone(&link).run(client, channel, out_rx, in_tx));
        Ok((link, in_rx))
    }

    /// Queues `payload` for publishing; dropped (and counted) while the link is down or the queue
    /// is full.
    pub fn publish(&self, payload: Vec<u8>) {
        let len = payload.len();
        if !self.is_up() || self.out_bytes.load(Ordering::Acquire) + len > OUT_BYTES {
            self.metrics.bus_dropped(1);
            return;
        }
        self.out_bytes.fetch_add(len, Ordering::AcqRel);
        if self.out.try_send(payload).is_err() {
            self.out_bytes.fetch_sub(len, Ordering::AcqRel);
            self.metrics.bus_dropped(1);
        }
    }

    /// `payload` left the queue (published or dropped).
    fn taken(&self, payload: &[u8]) {
        self.out_bytes.fetch_sub(payload.len(), Ordering::AcqRel);
    }

    /// Whether the link is subscribed right now.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Drops the connection and makes a new one.
    pub fn reconnect(&self) {
        self.reconnect.notify_one();
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Release);
        self.metrics.bus_up(up);
    }

    /// Connects, subscribes, relays; again whenever the connection breaks.
    async fn run(
        self: Arc<Self>,
        client: Client,
        channel: String,
        mut out: mpsc::Receiver<Vec<u8>>,
        inbound: mpsc::Sender<Inbound>,
    ) {
        let mut backoff = MIN_BACKOFF;
        let mut failing = false;
        loop {
            let (mut pushes, sender) = Pushes::channel();
            let conn = match connect(&client, &channel, sender).await {
                Ok(conn) => conn,
                Err(err) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(%err, "the bus (Redis) is unreachable; retrying");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            failing = false;
            backoff = MIN_BACKOFF;
            // Whatever waited to be published while the link was down is stale: the repair that
            // follows `Up` covers it.
            let mut stale = 0;
            while let Ok(payload) = out.try_recv() {
                self.taken(&payload);
                stale += 1;
            }
            self.metrics.bus_dropped(stale);
            tracing::info!("the bus (Redis) is up");
            self.set_up(true);
            if inbound.send(Inbound::Up).await.is_err() {
                return;
            }
            let (stop, stopped) = oneshot::channel();
            let publisher = tokio::spawn(publish(
                Arc::clone(&self),
                conn.clone(),
                channel.clone(),
                out,
                stopped,
            ));
            if self.relay(&mut pushes, &inbound).await.is_err() {
                return;
            }
            tracing::warn!("the bus (Redis) link broke; reconnecting");
            self.set_up(false);
            let _ = stop.send(());
            out = match publisher.await {
                Ok(out) => out,
                Err(err) => {
                    tracing::error!(%err, "the bus publisher failed; the bus is off");
                    return;
                }
            };
            drop(conn);
            if inbound.send(Inbound::Down).await.is_err() {
                return;
            }
        }
    }

    /// Passes what the connection receives on to the server until the connection breaks or is to
    /// be made again; `Err` when the server no longer listens.
    async fn relay(
        &self,
        pushes: &mut Pushes,
        inbound: &mpsc::Sender<Inbound>,
    ) -> Result<(), mpsc::error::SendError<Inbound>> {
        let mut check = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                push = pushes.queue.recv() => {
                    let Some(push) = push else { return Ok(()) };
                    pushes.bytes.fetch_sub(payload_len(&push), Ordering::AcqRel);
                    if let Some(received) = self.received(push) {
                        inbound.send(Inbound::Event(Box::new(received))).await?;
                    }
                }
                () = pushes.broken.notified() => return Ok(()),
                () = self.reconnect.notified() => return Ok(()),
                _ = check.tick() => {
                    if pushes.overflow.swap(false, Ordering::AcqRel) {
                        inbound.send(Inbound::Overflow).await?;
                    }
                }
            }
        }
    }

    /// The event a push carries, if it is a message on the channel that can be read.
    fn received(&self, push: PushInfo) -> Option<Received> {
        if push.kind != PushKind::Message {
            return None;
        }
        let redis::Value::BulkString(payload) = push.data.get(1)? else {
            return None;
        };
        self.metrics.bus_received();
        match decode(payload) {
            Ok(received) => Some(received),
            Err(err) => {
                tracing::warn!(%err, "ignored an unreadable bus event");
                None
            }
        }
    }
}

/// What one connection's reader hands over: its pushes, in a queue bounded in bytes too, and
/// whether it dropped some or broke.
struct Pushes {
    queue: mpsc::Receiver<PushInfo>,
    /// Bytes waiting in `queue`.
    bytes: Arc<AtomicUsize>,
    /// Set when a push did not fit in the queue.
    overflow: Arc<AtomicBool>,
    /// Notified when the connection broke.
    broken: Arc<Notify>,
}

impl Pushes {
    /// A fresh queue, and the sender that the connection's reader fills it with.
    fn channel() -> (Self, impl AsyncPushSender) {
        let (pushes_tx, queue) = mpsc::channel::<PushInfo>(PUSH_QUEUE);
        let pushes = Self {
            queue,
            bytes: Arc::new(AtomicUsize::new(0)),
            overflow: Arc::new(AtomicBool::new(false)),
            broken: Arc::new(Notify::new()),
        };
        let (overflow, broken, bytes) = (
            Arc::clone(&pushes.overflow),
            Arc::clone(&pushes.broken),
            Arc::clone(&pushes.bytes),
        );
        // Called by the connection's reader: it must not block.
        let sender = move |push: PushInfo| -> Result<(), redis::aio::SendError> {
            if push.kind == PushKind::Disconnection {
                broken.notify_one();
                return Ok(());
            }
            let len = payload_len(&push);
            if bytes.load(Ordering::Acquire) + len > PUSH_BYTES {
                overflow.store(true, Ordering::Release);
                return Ok(());
            }
            bytes.fetch_add(len, Ordering::AcqRel);
            if pushes_tx.try_send(push).is_err() {
                bytes.fetch_sub(len, Ordering::AcqRel);
                overflow.store(true, Ordering::Release);
            }
            Ok(())
        };
        (pushes, sender)
    }
}

/// A connection subscribed to `channel`, its pushes going to `sender`.
async fn connect(
    client: &Client,
    channel: &str,
    sender: impl AsyncPushSender,
) -> Result<MultiplexedConnection, redis::RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_push_sender(sender);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    conn.subscribe(channel).await?;
    Ok(conn)
}

/// The bytes a push carries (its payload, for the queue's bound).
fn payload_len(push: &PushInfo) -> usize {
    push.data
        .iter()
        .map(|value| match value {
            redis::Value::BulkString(bytes) => bytes.len(),
            _ => 16,
        })
        .sum()
}

/// Writes queued events out, a pipeline at a time, until told to stop; returns the queue.
async fn publish(
    link: Arc<Link>,
    mut conn: MultiplexedConnection,
    channel: String,
    mut out: mpsc::Receiver<Vec<u8>>,
    mut stop: oneshot::Receiver<()>,
) -> mpsc::Receiver<Vec<u8>> {
    let metrics = link.metrics.clone();
    let mut batch = Vec::with_capacity(PIPELINE);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => return out,
            n = out.recv_many(&mut batch, PIPELINE) => {
                if n == 0 {
                    return out;
                }
                let mut pipe = redis::pipe();
                for payload in batch.drain(..) {
                    link.taken(&payload);
                    pipe.cmd("PUBLISH").arg(&channel).arg(payload).ignore();
                }
                match pipe.exec_async(&mut conn).await {
                    Ok(()) => metrics.bus_published(n as u64),
                    Err(err) => {
                        tracing::debug!(%err, "publishing on the bus failed");
                        metrics.bus_dropped(n as u64);
                    }
                }
            }
        }
    }
}
