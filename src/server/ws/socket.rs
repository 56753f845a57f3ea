//! The websocket as the connection logic sees it: typed frames in, frames out, every limit of the
//! transport applied here, in one place.
//!
//! Generic over any `Sink` + `Stream` of websocket messages (tokio-tungstenite's `WebSocketStream`
//! in the server, a pair of channels in the unit tests), as axum's `testing-websockets` example
//! does.
//!
//! - Size: a message over the frame limit is refused by the websocket layer itself before it is
//!   buffered (fragments included); it closes the connection with 1009 and a reason.
//! - Rate: every frame the client sends counts against the connection's budget, control frames and
//!   bad frames included, so no reply (error, pong, refusal) can be driven faster than the budget;
//!   over it, the connection is closed with 1008.
//! - Time: every write has a deadline: a client that takes nothing of what is sent for the write
//!   timeout is closed as too slow. One that reads slowly but reads is never cut off (it falls
//!   behind, is told `lagged` and is resynced): the deadline runs from the last byte it took.
//! - Memory: a frame larger than [`FRAGMENT`] is sent in fragments of that size, each written
//!   before the next: the websocket keeps its write buffer at the size of the largest write for the
//!   connection's life, and an idle connection should not keep the size of its `welcome` or of a
//!   catch-up page.

use std::time::{Duration, Instant};

use futures::{Sink, SinkExt as _, Stream, StreamExt as _};
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame};
use tungstenite::{Bytes, Message, Utf8Bytes};

use std::sync::Arc;

use crate::protocol::{ErrorCode, FrameError, Request, ServerMsg};
use crate::server::limits::{Rate, TokenBucket};
use crate::server::metrics::Metrics;
use crate::server::net::accept::Activity;

/// Close code sent when the server shuts down: "service restart", the client should come back.
pub const CLOSE_RESTART: u16 = 1012;
/// Close code for a client that broke a rule (no hello in time, too many frames, too slow to read).
pub const CLOSE_POLICY: u16 = 1008;
/// Close code for a message over the size limit: "message too big".
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a connection that stopped answering pings: "going away".
pub const CLOSE_GONE: u16 = 1001;
/// Close code for a server that cannot go on with this connection (the store failed it).
pub const CLOSE_ERROR: u16 = 1011;

/// How long a closing connection waits for the client to answer its close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How much a closing connection reads and throws away, at most, while it lingers (what a client
/// had in flight when it was closed, e.g. the rest of an oversize message).
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// The largest piece a frame is sent in by [`Socket::send_raw`]: small enough that the websocket's
/// write buffer stays small, large enough that a 64 KiB catch-up page is a hundred-odd writes.
pub const FRAGMENT: usize = 512;

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The client closed or the socket failed; nothing more can be said to it.
    Gone,
    /// The server closes it with this code and reason.
    Close(u16, String),
}

impl End {
    pub fn close(code: u16, reason: &str) -> Self {
        End::Close(code, reason.to_owned())
    }
}

/// One thing the client sent.
#[derive(Debug)]
pub enum Incoming {
    /// A text frame, parsed: the request, or why it was refused (with its id if it had one).
    Request(Result<Request, (Option<String>, FrameError)>),
    /// A control frame (ping, pong): nothing to answer (the websocket layer answers pings).
    Control,
}

/// The transport's limits.
#[derive(Debug, Clone, Copy)]
pub struct SocketLimits {
    /// The largest message, for the close reason (the websocket layer enforces it).
    pub max_frame_bytes: usize,
    /// Every frame the client sends counts against this.
    pub frames: Rate,
    pub write_timeout: Duration,
}

/// A websocket with the transport's rules.
pub struct Socket<S> {
    io: S,
    metrics: Metrics,
    limits: SocketLimits,
    budget: TokenBucket,
    /// When the client last took a byte (a real socket's; a test's channels have none).
    progress: Option<Arc<Activity>>,
}

/// How long a write may wait for the client: [`SocketLimits::write_timeout`] from the last byte
/// the client took, when that is known, else from the write's start.
#[derive(Debug, Clone)]
pub struct WriteDeadline {
    timeout: Duration,
    progress: Option<Arc<Activity>>,
}

/// What carries a connection's websocket messages both ways, and how it lingers when closing.
pub trait Linger {
    /// After the close frame was sent: reads and throws away what the client still sends, for a
    /// short, bounded while, so that closing does not reset a connection with unread input (a
    /// reset can destroy the close frame before the client reads it).
    fn linger(&mut self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

impl<S> Socket<S>
where
    S: Stream<Item = Result<Message, tungstenite::Error>>
        + Sink<Message, Error = tungstenite::Error>
        + Linger
        + Unpin,
{
    pub fn new(io: S, metrics: Metrics, limits: SocketLimits) -> Self {
        Self {
            io,
            metrics,
            limits,
            budget: TokenBucket::new(limits.frames, Instant::now()),
            progress: None,
        }
    }

    /// Times writes from the last byte the client took on this connection, not from their start.
    pub fn watch_progress(&mut self, activity: Arc<Activity>) {
        self.progress = Some(activity);
    }

    /// The next thing the client sent. Cancel-safe: its only wait is for the next message.
    pub async fn recv(&mut self) -> Result<Incoming, End> {
        let message = self.io.next().await;
        self.sort(message)
    }

    fn sort(
        &mut self,
        message: Option<Result<Message, tungstenite::Error>>,
    ) -> Result<Incoming, End> {
        let message = match message {
            None | Some(Ok(Message::Close(_))) => return Err(End::Gone),
            Some(Err(err)) => return Err(self.read_failed(err)),
            Some(Ok(message)) => message,
        };
        self.metrics.frame_in();
        if self.budget.take(Instant::now()).is_err() {
            self.metrics.refused("frames");
            return Err(End::close(CLOSE_POLICY, "too many frames"));
        }
        Ok(match message {
            Message::Text(text) => Incoming::Request(Request::parse(text.as_str())),
            Message::Binary(_) => Incoming::Request(Err((
                None,
                FrameError::new(
                    ErrorCode::Unsupported,
                    "binary frames are not supported; send JSON text frames",
                ),
            ))),
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                Incoming::Control
            }
        })
    }

    /// What a failed read means: a message over the size limit is answered with 1009 and a reason;
    /// anything else means the client is gone.
    fn read_failed(&self, err: tungstenite::Error) -> End {
        if matches!(err, tungstenite::Error::Capacity(_)) {
            self.metrics.error(ErrorCode::TooLong);
            self.metrics.refused("frame_size");
            let limit = self.limits.max_frame_bytes;
            End::Close(CLOSE_TOO_BIG, format!("frame larger than {limit} bytes"))
        } else {
            End::Gone
        }
    }

    /// Sends a frame and flushes it.
    pub async fn send(&mut self, msg: &ServerMsg) -> Result<(), End> {
        if let ServerMsg::Error { code, .. } = msg {
            self.metrics.error(*code);
        }
        self.send_raw(Utf8Bytes::from(msg.to_json())).await
    }

    /// Sends serialized frame bytes and flushes them; a frame larger than [`FRAGMENT`] goes in
    /// fragments (clients see one message).
    pub async fn send_raw(&mut self, frame: Utf8Bytes) -> Result<(), End> {
        self.metrics.frame_out();
        let timeout = self.write_timeout();
        if frame.len() <= FRAGMENT {
            return written(timeout, self.io.send(Message::Text(frame))).await;
        }
        let bytes = Bytes::from(frame);
        let mut start = 0;
        while start < bytes.len() {
            let end = (start + FRAGMENT).min(bytes.len());
            let opcode = if start == 0 {
                OpCode::Data(Data::Text)
            } else {
                OpCode::Data(Data::Continue)
            };
            let fragment = Frame::message(bytes.slice(start..end), opcode, end == bytes.len());
            written(timeout.clone(), self.io.send(Message::Frame(fragment))).await?;
            start = end;
        }
        Ok(())
    }

    /// Writes a frame into the websocket's buffer without flushing it: the caller feeds a burst,
    /// then flushes once, within one timeout ([`Socket::within_timeout`]).
    pub async fn feed(&mut self, frame: Utf8Bytes) -> Result<(), End> {
        self.metrics.frame_out();
        self.io.feed(Message::Text(frame)).await.map_err(End::from)
    }

    /// Like [`Socket::feed`], for a typed frame.
    pub async fn feed_msg(&mut self, msg: &ServerMsg) -> Result<(), End> {
        if let ServerMsg::Error { code, .. } = msg {
            self.metrics.error(*code);
        }
        self.feed(Utf8Bytes::from(msg.to_json())).await
    }

    /// Flushes what was fed.
    pub async fn flush(&mut self) -> Result<(), End> {
        self.io.flush().await.map_err(End::from)
    }

    /// The write deadline, for a burst of feeds and its flush.
    pub fn write_timeout(&self) -> WriteDeadline {
        WriteDeadline {
            timeout: self.limits.write_timeout,
            progress: self.progress.clone(),
        }
    }

    /// Pings the client (it must answer with a pong, which counts as hearing from it).
    pub async fn ping(&mut self) -> Result<(), End> {
        let timeout = self.write_timeout();
        written(timeout, self.io.send(Message::Ping(Default::default()))).await
    }

    /// Closes with `code` and `reason`, then waits briefly for the client's own close: dropping a
    /// socket with unread input resets it, and a reset can destroy the close frame before the
    /// client reads it; then it would not know to come back.
    pub async fn close(&mut self, code: u16, reason: String) {
        let close = Message::Close(Some(CloseFrame {
            code: code.into(),
            reason: Utf8Bytes::from(reason),
        }));
        // The peer may already be gone; there is nobody left to tell.
        let sent = tokio::time::timeout(self.limits.write_timeout, self.io.send(close)).await;
        if !matches!(sent, Ok(Ok(()))) {
            return;
        }
        let answered = tokio::time::timeout(CLOSE_WAIT, async {
            loop {
                match self.io.next().await {
                    Some(Ok(Message::Close(_))) | None => return true,
                    Some(Ok(_)) => {}
                    // The input cannot be read as websocket frames any more (the rest of an
                    // oversize message): it is thrown away below.
                    Some(Err(_)) => return false,
                }
            }
        })
        .await;
        if answered != Ok(true) {
            let _ = tokio::time::timeout(CLOSE_WAIT, self.io.linger()).await;
        }
    }
}

/// Waits for a write to the client until its deadline: a client that takes nothing for the write
/// timeout is closed instead of holding its task forever; one that keeps taking bytes, however
/// slowly, is waited for.
pub async fn written<E>(
    deadline: WriteDeadline,
    write: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), End>
where
    End: From<E>,
{
    tokio::pin!(write);
    let mut wake = tokio::time::Instant::now() + deadline.timeout;
    loop {
        match tokio::time::timeout_at(wake, &mut write).await {
            Ok(result) => return result.map_err(End::from),
            Err(_) => {
                let taken = deadline
                    .progress
                    .as_ref()
                    .map(|activity| activity.last_write().elapsed());
                match taken {
                    Some(since) if since < deadline.timeout => {
                        wake = tokio::time::Instant::now() + (deadline.timeout - since);
                    }
                    _ => return Err(End::close(CLOSE_POLICY, "too slow to read")),
                }
            }
        }
    }
}

/// The server's websocket over an upgraded HTTP connection lingers by reading its raw bytes.
impl Linger
    for tokio_tungstenite::WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>
{
    fn linger(&mut self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        Box::pin(async move {
            let raw = self.get_mut();
            // Our side is done: the client reads the close frame, then sees the end.
            let _ = raw.shutdown().await;
            let mut buf = vec![0u8; 16 * 1024];
            let mut thrown = 0;
            while thrown < LINGER_BYTES {
                match raw.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => thrown += n,
                }
            }
        })
    }
}

impl From<tungstenite::Error> for End {
    /// A failed write: the client is gone.
    fn from(_: tungstenite::Error) -> Self {
        End::Gone
    }
}
