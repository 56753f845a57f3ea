//! The connection, driven over in-memory channels instead of a socket (as axum's
//! `testing-websockets` example does), with paused time where timing is the point.

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{Sink, SinkExt as _, Stream, StreamExt as _};
use serde_json::{json, Value};
use tokio::sync::watch;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

use super::{Connection, Ctx};
use crate::server::hub::{Hub, HubConfig};
use crate::server::limits::{AddressLimits, Limits};
use crate::server::metrics::Metrics;
use crate::server::session::{SessionConfig, Sessions};
use crate::server::store::{Store, StoreConfig};

/// The server's end of an in-memory websocket.
struct TestSocket {
    incoming: mpsc::UnboundedReceiver<Result<Message, tungstenite::Error>>,
    outgoing: mpsc::UnboundedSender<Message>,
}

impl crate::server::ws::socket::Linger for TestSocket {}

impl Stream for TestSocket {
    type Item = Result<Message, tungstenite::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.incoming.poll_next_unpin(cx)
    }
}

impl Sink<Message> for TestSocket {
    type Error = tungstenite::Error;

    fn poll_ready(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.outgoing
            .poll_ready_unpin(cx)
            .map_err(|_| tungstenite::Error::ConnectionClosed)
    }

    fn start_send(mut self: std::pin::Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        self.outgoing
            .start_send_unpin(item)
            .map_err(|_| tungstenite::Error::ConnectionClosed)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.outgoing
            .poll_flush_unpin(cx)
            .map_err(|_| tungstenite::Error::ConnectionClosed)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.outgoing
            .poll_close_unpin(cx)
            .map_err(|_| tungstenite::Error::ConnectionClosed)
    }
}

/// The client's end.
struct Peer {
    to_server: mpsc::UnboundedSender<Result<Message, tungstenite::Error>>,
    from_server: mpsc::UnboundedReceiver<Message>,
    _dir: TempDir,
    _shutdown: watch::Sender<bool>,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Peer {
    fn send(&self, frame: Value) {
        self.send_message(Message::Text(Utf8Bytes::from(frame.to_string())));
    }

    fn send_message(&self, message: Message) {
        let _ = self.to_server.unbounded_send(Ok(message));
    }

    /// The next message the server sent, if one comes within a (possibly paused) second.
    async fn next(&mut self) -> Option<Message> {
        tokio::time::timeout(Duration::from_secs(1), self.from_server.next())
            .await
            .ok()
            .flatten()
    }

    /// The next text frame, as JSON; pings and pongs are skipped.
    async fn frame(&mut self) -> Value {
        loop {
            match self.next().await {
                Some(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str()).expect("JSON")
                }
                Some(Message::Ping(_) | Message::Pong(_)) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Waits for the server's close frame: its code and reason.
    async fn closed(&mut self) -> (u16, String) {
        loop {
            match self.next().await {
                Some(Message::Close(Some(CloseFrame { code, reason }))) => {
                    return (u16::from(code), reason.as_str().to_owned())
                }
                Some(_) => continue,
                None => panic!("no close frame"),
            }
        }
    }
}

/// A connection task on a fresh SQLite store, with `limits`, and the client's end of it.
async fn connect(limits: Limits) -> Peer {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "chinwag-ws-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let store = Store::open(&StoreConfig::Sqlite(dir.join("chinwag.db")))
        .await
        .expect("store");
    let metrics = Metrics::new();
    let hub = Hub::new(
        HubConfig::default(),
        Arc::new(store.clone()),
        metrics.clone(),
        crate::server::bus::Bus::local(),
    );
    let ctx = Ctx {
        sessions: Sessions::new(SessionConfig::default(), store.clone()),
        store,
        addresses: Arc::new(AddressLimits::new(&limits)),
        metrics,
        limits: Arc::new(limits),
        peer: [127, 0, 0, 1].into(),
        hub: hub.clone(),
        signup: Default::default(),
        user_agent: None,
    };
    let (to_server, incoming) = mpsc::unbounded();
    let (outgoing, from_server) = mpsc::unbounded();
    let (shutdown_tx, shutdown) = watch::channel(false);
    let socket = TestSocket { incoming, outgoing };
    let mut connection = Connection::new(socket, ctx, hub.connection_id(), shutdown, None);
    tokio::spawn(async move { connection.run().await });
    Peer {
        to_server,
        from_server,
        _dir: TempDir(dir),
        _shutdown: shutdown_tx,
    }
}

#[tokio::test]
async fn a_client_that_never_says_hello_is_closed_after_the_hello_timeout() {
    let mut peer = connect(Limits::default()).await;
    tokio::time::pause();
    tokio::time::sleep(Duration::from_secs(9)).await;
    peer.send(json!({"type":"typing","room":"general","active":true}));
    assert_eq!(peer.frame().await["code"], "hello_required");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(peer.closed().await, (1008, "no hello in time".to_owned()));
}

#[tokio::test]
async fn refused_hellos_are_answered_a_few_times_then_the_connection_is_closed() {
    let mut peer = connect(Limits::default()).await;
    tokio::time::pause();
    for i in 0..5 {
        peer.send(json!({"type":"hello","nick":"","id":format!("h-{i}")}));
        let refusal = peer.frame().await;
        assert_eq!(
            (refusal["code"].as_str(), refusal["reply_to"].as_str()),
            (Some("nick_invalid"), Some(format!("h-{i}").as_str())),
            "each refusal names its request"
        );
    }
    assert_eq!(
        peer.closed().await,
        (1008, "too many refused hellos".to_owned())
    );
}

#[tokio::test]
async fn a_flood_of_any_frames_is_closed_once_over_the_connections_budget() {
    let limits = Limits::default();
    let burst = limits.frames.burst as usize;
    let mut peer = connect(limits).await;
    tokio::time::pause();
    // Pings are answered by the websocket layer, bad frames with errors: both count.
    for _ in 0..burst + 10 {
        peer.send_message(Message::Ping(Default::default()));
    }
    assert_eq!(peer.closed().await, (1008, "too many frames".to_owned()));
}

#[tokio::test]
async fn an_oversize_message_refused_by_the_websocket_layer_closes_with_1009() {
    let mut peer = connect(Limits::default()).await;
    tokio::time::pause();
    let too_long =
        tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size: 70_000,
            max_size: 65_536,
        });
    let _ = peer.to_server.unbounded_send(Err(too_long));
    assert_eq!(
        peer.closed().await,
        (1009, "frame larger than 65536 bytes".to_owned())
    );
}

#[tokio::test]
async fn a_binary_frame_is_refused_by_name_and_the_connection_goes_on() {
    let mut peer = connect(Limits::default()).await;
    tokio::time::pause();
    peer.send_message(Message::Binary(vec![1, 2, 3].into()));
    assert_eq!(peer.frame().await["code"], "unsupported");
    peer.send(json!({"type":"nick","nick":"x","id":"r-1"}));
    let refusal = peer.frame().await;
    assert_eq!(
        (refusal["code"].as_str(), refusal["reply_to"].as_str()),
        (Some("hello_required"), Some("r-1"))
    );
}

#[tokio::test]
async fn a_silent_client_is_pinged_and_closed_at_the_idle_timeout_exactly() {
    let mut peer = connect(Limits::default()).await;
    peer.send(json!({"type":"hello","nick":"sleepy"}));
    assert_eq!(peer.frame().await["type"], "welcome");
    // Its presence, the history of general and its private messages follow; then a last pong,
    // and silence from then on.
    while peer.next().await.is_some() {}
    peer.send_message(Message::Pong(Default::default()));
    tokio::task::yield_now().await;
    tokio::time::pause();
    let mut pings = 0;
    let quiet_until = tokio::time::Instant::now() + Duration::from_millis(74_500);
    while tokio::time::Instant::now() < quiet_until {
        match tokio::time::timeout_at(quiet_until, peer.from_server.next()).await {
            Ok(Some(Message::Ping(_))) => pings += 1,
            Ok(other) => panic!("nothing but pings before the idle timeout: {other:?}"),
            Err(_) => break,
        }
    }
    assert!((2..=3).contains(&pings), "pinged every 30 s: {pings}");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let (code, reason) = peer.closed().await;
    assert_eq!(
        (code, reason.as_str()),
        (1001, "no answer to pings"),
        "closed at 75 s"
    );
}

#[tokio::test]
async fn a_pong_counts_as_hearing_from_the_client() {
    let mut peer = connect(Limits::default()).await;
    peer.send(json!({"type":"hello","nick":"awake"}));
    assert_eq!(peer.frame().await["type"], "welcome");
    while peer.next().await.is_some() {}
    tokio::time::pause();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(matches!(peer.next().await, Some(Message::Ping(_))));
        peer.send_message(Message::Pong(Default::default()));
    }
    assert!(
        peer.from_server.try_recv().is_err(),
        "open after two minutes of pongs"
    );
}

#[tokio::test]
async fn every_request_is_answered_and_names_its_id() {
    let mut peer = connect(Limits::default()).await;
    peer.send(json!({"type":"hello","nick":"alice","id":"h"}));
    assert_eq!(peer.frame().await["type"], "welcome");
    while peer.next().await.is_some() {}
    peer.send(json!({"type":"nick","nick":"alice","id":"n-1"}));
    assert_eq!(
        peer.frame().await,
        json!({"type":"renamed","from":"alice","to":"alice","reply_to":"n-1"}),
        "a rename to one's own name is answered too"
    );
    peer.send(json!({"type":"join","room":"rust","id":"j-1"}));
    let joined = peer.frame().await;
    assert_eq!(
        (joined["type"].as_str(), joined["reply_to"].as_str()),
        (Some("joined"), Some("j-1"))
    );
    assert_eq!(peer.frame().await["type"], "history");
    peer.send(json!({"type":"history","room":"rust","before":1,"id":"h-1"}));
    let page = peer.frame().await;
    assert_eq!(
        (page["type"].as_str(), page["reply_to"].as_str()),
        (Some("history"), Some("h-1"))
    );
    peer.send(json!({"type":"leave","room":"rust","id":"l-1"}));
    assert_eq!(
        peer.frame().await,
        json!({"type":"left","room":"rust","reply_to":"l-1"})
    );
    peer.send(json!({"type":"leave","room":"rust","id":"l-2"}));
    let refusal = peer.frame().await;
    assert_eq!(
        (refusal["code"].as_str(), refusal["reply_to"].as_str()),
        (Some("unknown_room"), Some("l-2"))
    );
    peer.send(json!({"type":"shout","id":"s-1"}));
    let refusal = peer.frame().await;
    assert_eq!(
        (refusal["code"].as_str(), refusal["reply_to"].as_str()),
        (Some("bad_frame"), Some("s-1"))
    );
}
