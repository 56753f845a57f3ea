//! The three wire protocols the load tool speaks: chinwag's (`docs/protocol.md`), socket.io 4
//! (Engine.IO v4 over a websocket, the tutorial's `chat message` event), and plain text frames (the
//! minimal broadcast server). Each turns "send this text" into a frame and a received frame into
//! what the tool counts.

use std::net::{IpAddr, SocketAddr};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async_with_config, WebSocketStream};

pub type Ws = WebSocketStream<tokio::net::TcpStream>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Chinwag,
    SocketIo,
    Plain,
}

impl std::str::FromStr for Proto {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "chinwag" => Ok(Proto::Chinwag),
            "socketio" => Ok(Proto::SocketIo),
            "plain" => Ok(Proto::Plain),
            other => Err(format!(
                "unknown protocol {other:?}: chinwag, socketio or plain"
            )),
        }
    }
}

/// What a received frame means to the tool.
#[derive(Debug)]
pub enum Event {
    /// Someone's chat text.
    Chat(String),
    /// The server confirmed one of my messages.
    Ack,
    /// A frame that must be answered (Engine.IO ping).
    Reply(String),
    /// A `history` frame (chinwag catch-up): the texts in it.
    History(Vec<String>),
    /// Anything else.
    Other,
}

/// An open connection after its handshake.
pub struct Connected {
    pub ws: Ws,
    /// chinwag's `welcome` frame.
    pub welcome: Option<Value>,
    /// chinwag: the texts of the `history` frames that followed the welcome, in order.
    pub history: Vec<String>,
}

/// Opens a websocket from source address `source` (spread over 127.0.0.x so ephemeral ports do not
/// run out) and completes the protocol's handshake. For chinwag, `hello` is the hello frame to send.
pub async fn connect(
    proto: Proto,
    server: SocketAddr,
    source: IpAddr,
    hello: Option<Value>,
) -> Result<Connected, String> {
    connect_with(proto, server, source, hello, None).await
}

/// [`connect`] with small socket buffers (tungstenite's read buffer is 128 KiB by default): for
/// scenarios that hold many mostly idle connections in one process.
pub async fn connect_lean(
    proto: Proto,
    server: SocketAddr,
    source: IpAddr,
    hello: Option<Value>,
) -> Result<Connected, String> {
    let config = WebSocketConfig::default().read_buffer_size(4096);
    connect_with(proto, server, source, hello, Some(config)).await
}

async fn connect_with(
    proto: Proto,
    server: SocketAddr,
    source: IpAddr,
    hello: Option<Value>,
    config: Option<WebSocketConfig>,
) -> Result<Connected, String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| format!("bind {source}: {e}"))?;
    let stream = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let path = match proto {
        Proto::Chinwag | Proto::Plain => "/ws",
        Proto::SocketIo => "/socket.io/?EIO=4&transport=websocket",
    };
    let (mut ws, _) = client_async_with_config(format!("ws://{server}{path}"), stream, config)
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    let mut welcome = None;
    let mut history = Vec::new();
    match proto {
        Proto::Plain => {}
        Proto::Chinwag => {
            let hello = hello.unwrap_or_else(|| json!({"type":"hello","nick":"load"}));
            send(&mut ws, hello.to_string()).await?;
            // Up to the welcome and the histories that follow it.
            loop {
                let frame = next_text(&mut ws).await?;
                let value: Value = serde_json::from_str(&frame).map_err(|e| e.to_string())?;
                match value["type"].as_str() {
                    Some("welcome") => welcome = Some(value),
                    Some("history") => {
                        if let Event::History(texts) = decode(proto, &frame) {
                            history.extend(texts);
                        }
                    }
                    Some("dm_history") => break,
                    Some("error") => return Err(format!("refused: {frame}")),
                    _ => {}
                }
            }
        }
        Proto::SocketIo => {
            let open = next_text(&mut ws).await?;
            if !open.starts_with('0') {
                return Err(format!("expected an Engine.IO open packet, got {open}"));
            }
            send(&mut ws, "40".to_owned()).await?;
            loop {
                let frame = next_text(&mut ws).await?;
                if frame.starts_with("40") {
                    break;
                }
                if frame == "2" {
                    send(&mut ws, "3".to_owned()).await?;
                }
            }
        }
    }
    Ok(Connected {
        ws,
        welcome,
        history,
    })
}

async fn send(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| e.to_string())
}

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed".to_owned()),
        }
    }
}

/// The frame that sends `text` (with `client_id`, for protocols that have one).
pub fn encode(proto: Proto, text: &str, client_id: &str) -> String {
    match proto {
        Proto::Chinwag => {
            json!({"type":"say","room":"general","text":text,"client_id":client_id}).to_string()
        }
        Proto::SocketIo => format!("42{}", json!(["chat message", text])),
        Proto::Plain => text.to_owned(),
    }
}

/// What a received text frame is.
pub fn decode(proto: Proto, frame: &str) -> Event {
    match proto {
        Proto::Plain => Event::Chat(frame.to_owned()),
        Proto::SocketIo => {
            if frame == "2" {
                return Event::Reply("3".to_owned());
            }
            let Some(payload) = frame.strip_prefix("42") else {
                return Event::Other;
            };
            match serde_json::from_str::<(String, String)>(payload) {
                Ok((_, text)) => Event::Chat(text),
                Err(_) => Event::Other,
            }
        }
        Proto::Chinwag => {
            #[derive(serde::Deserialize)]
            struct Frame {
                #[serde(rename = "type")]
                kind: String,
                #[serde(default)]
                text: Option<String>,
                #[serde(default)]
                messages: Option<Vec<Frame>>,
            }
            match serde_json::from_str::<Frame>(frame) {
                Ok(f) if f.kind == "message" => Event::Chat(f.text.unwrap_or_default()),
                Ok(f) if f.kind == "ack" => Event::Ack,
                Ok(f) if f.kind == "history" => Event::History(
                    f.messages
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|m| m.text)
                        .collect(),
                ),
                _ => Event::Other,
            }
        }
    }
}
