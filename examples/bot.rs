//! A complete chinwag bot, in one file: it answers `!ping` with `pong` and `!echo TEXT` with
//! TEXT, in whichever of its rooms it is asked, and follows `!join ROOM`.
//!
//! Make the bot once (its name is reserved for good), then run it with the token printed:
//!
//! ```sh
//! chinwag admin bot helper            # prints the bot's token
//! CHINWAG_URL=ws://127.0.0.1:3000/ws CHINWAG_BOT_TOKEN=<token> \
//!     cargo run --features ssr --example bot
//! ```
//!
//! It uses tokio, tokio-tungstenite, futures-util and serde_json; any websocket client in any
//! language does the same with the frames of `docs/protocol.md`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() {
    let url = std::env::var("CHINWAG_URL").unwrap_or_else(|_| "ws://127.0.0.1:3000/ws".into());
    let Ok(token) = std::env::var("CHINWAG_BOT_TOKEN") else {
        eprintln!("set CHINWAG_BOT_TOKEN to the token `chinwag admin bot NAME` printed");
        std::process::exit(2);
    };
    // Where it is in each room, so a reconnect asks for exactly what it missed (`since`).
    let mut since = serde_json::Map::new();
    let mut backoff = Duration::from_millis(500);
    loop {
        match run(&url, &token, &mut since).await {
            Ok(Stop::Refused(why)) => {
                eprintln!("the server refused the bot: {why}");
                std::process::exit(1);
            }
            Ok(Stop::Dropped) => backoff = Duration::from_millis(500),
            Err(err) => eprintln!("connection failed: {err}"),
        }
        // Reconnect with a growing wait, so a restarting server is not hammered.
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Why a connection ended.
enum Stop {
    /// The server said no for good (an unknown token, a ban).
    Refused(String),
    /// The connection dropped (a restart, the network): try again.
    Dropped,
}

async fn run(
    url: &str,
    token: &str,
    since: &mut serde_json::Map<String, Value>,
) -> Result<Stop, Box<dyn std::error::Error>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let hello = json!({"type": "hello", "session": token, "since": since});
    ws.send(Message::text(hello.to_string())).await?;
    let mut next_id = 0u64;
    while let Some(frame) = ws.next().await {
        let text = match frame? {
            Message::Text(text) => text,
            Message::Close(_) => break,
            // Pings are answered by the library; nothing else is sent as binary.
            _ => continue,
        };
        let frame: Value = serde_json::from_str(&text)?;
        let mut reply = |room: &Value, text: String| {
            next_id += 1;
            json!({"type": "say", "room": room, "text": text, "client_id": format!("bot-{next_id}")})
        };
        match frame["type"].as_str() {
            Some("welcome") => eprintln!("connected as {}", frame["nick"]),
            Some("message") => {
                hold(since, &frame["room"], frame["seq"].as_u64());
                let said = frame["text"].as_str().unwrap_or_default().trim();
                let answer = if said == "!ping" {
                    let from = frame["from"].as_str().unwrap_or("you");
                    Some(reply(&frame["room"], format!("pong, {from}")))
                } else if let Some(echo) = said.strip_prefix("!echo ") {
                    Some(reply(&frame["room"], echo.to_owned()))
                } else {
                    let room = said.strip_prefix("!join ").map(str::trim);
                    room.map(|room| json!({"type": "join", "room": room}))
                };
                if let Some(answer) = answer {
                    ws.send(Message::text(answer.to_string())).await?;
                }
            }
            // An edit or a delete has its own place in the room's log.
            Some("edited" | "deleted") => hold(since, &frame["room"], frame["log_seq"].as_u64()),
            // My own message, stored: it holds its place like anyone's.
            Some("ack") => hold(since, &frame["room"], frame["seq"].as_u64()),
            Some("history") => {
                // Messages from before (or while it was away) are not commands to answer now;
                // only the position is kept. A `reset` replaces what it held of the room.
                if frame["reset"] == true {
                    if let Some(room) = frame["room"].as_str() {
                        since.remove(room);
                    }
                }
                for entry in frame["messages"].as_array().into_iter().flatten() {
                    hold(
                        since,
                        &frame["room"],
                        entry["log_seq"].as_u64().or(entry["seq"].as_u64()),
                    );
                }
            }
            Some("left") => {
                if let Some(room) = frame["room"].as_str() {
                    since.remove(room);
                }
            }
            Some("error") => {
                let code = frame["code"].as_str().unwrap_or_default();
                if matches!(code, "bad_session" | "banned") {
                    return Ok(Stop::Refused(frame["message"].to_string()));
                }
                // Anything else (a rate limit, say) is one refused frame; the bot goes on.
                eprintln!("refused: {}", frame["message"]);
            }
            // `presence`, `typing`, `moderated`, `lagged` (the history that follows it brings
            // what was missed) and the rest: nothing to do.
            _ => {}
        }
    }
    Ok(Stop::Dropped)
}

/// Where the bot is in a room: the highest position it holds, messages, changes and its own acks
/// alike (`since` asks for what came after it on a reconnect).
fn hold(since: &mut serde_json::Map<String, Value>, room: &Value, position: Option<u64>) {
    if let (Some(room), Some(position)) = (room.as_str(), position) {
        let held = since.get(room).and_then(Value::as_u64).unwrap_or(0);
        since.insert(room.to_owned(), json!(held.max(position)));
    }
}
