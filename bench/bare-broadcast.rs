//! The benchmark's baseline: a minimal axum + tokio broadcast chat server with nothing else. Every
//! text frame a client sends goes to every other client. No storage, no sessions, no limits, no
//! acks: what a bare broadcast server costs, to compare chinwag against.
//!
//! `bare-broadcast 127.0.0.1:3301`

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast;

#[derive(Clone)]
struct Hub {
    tx: broadcast::Sender<(u64, Utf8Bytes)>,
}

static NEXT: AtomicU64 = AtomicU64::new(1);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3301".to_owned())
        .parse()
        .map_err(|_| std::io::Error::other("usage: bare-broadcast HOST:PORT"))?;
    let (tx, _) = broadcast::channel(1024);
    let app = Router::new()
        .route("/ws", get(upgrade))
        .with_state(Hub { tx });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("bare-broadcast listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}

async fn upgrade(ws: WebSocketUpgrade, State(hub): State<Hub>) -> Response {
    ws.on_upgrade(move |socket| client(socket, hub))
}

async fn client(socket: WebSocket, hub: Hub) {
    let me = NEXT.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let mut rx = hub.tx.subscribe();
    let forward = tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok((from, text)) if from != me => {
                    if sink.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    while let Some(Ok(msg)) = stream.next().await {
        if let Message::Text(text) = msg {
            let _ = hub.tx.send((me, text));
        }
    }
    forward.abort();
}
