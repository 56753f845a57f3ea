//! The browser's end of the websocket: one connection per tab, opened after hydration, kept open.
//!
//! [`ChatHandle`] is what the page holds: signals for the timeline, the connection state and the
//! nickname, plus [`ChatHandle::send`]. In the browser, [`start`] spawns the connection loop: it
//! opens `/ws` (gloo-net), says `hello`, applies every server frame to the timeline, and when the
//! socket drops it waits with exponential backoff (0.5 s doubling to 15 s, with jitter so a restarted
//! server is not hit by every tab at once), counting down on screen, and reconnects. Messages written
//! while offline stay "sending" and go out once the server has welcomed the tab again.

use futures::channel::mpsc;
use leptos::prelude::*;

use crate::chat::Timeline;
use crate::protocol::{ClientMsg, GENERAL};

/// The connection as the user is told about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Opening the socket or waiting for `welcome`.
    Connecting,
    /// Welcomed; messages flow.
    Online,
    /// Disconnected; the next attempt is in this many seconds.
    Offline { retry_in_secs: u32 },
}

impl ConnState {
    /// The words shown to the user.
    pub fn label(self) -> String {
        match self {
            ConnState::Connecting => "Connecting…".to_owned(),
            ConnState::Online => "Online".to_owned(),
            ConnState::Offline { retry_in_secs: 0 } => "Offline, reconnecting…".to_owned(),
            ConnState::Offline { retry_in_secs } => {
                format!("Offline, reconnecting in {retry_in_secs} s")
            }
        }
    }

    /// A stable name for styling and tests.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Online => "online",
            ConnState::Offline { .. } => "offline",
        }
    }
}

/// The page's handle on the chat. `Copy`, so every event handler can hold one.
#[derive(Debug, Clone, Copy)]
pub struct ChatHandle {
    pub timeline: RwSignal<Timeline>,
    pub status: RwSignal<ConnState>,
    /// My nickname; empty until the browser has chosen one.
    pub nick: RwSignal<String>,
    /// Frames for the connection loop; `None` on the server and before [`start`].
    outbox: StoredValue<Option<mpsc::UnboundedSender<ClientMsg>>>,
}

impl ChatHandle {
    pub fn new() -> Self {
        Self {
            timeline: RwSignal::new(Timeline::default()),
            status: RwSignal::new(ConnState::Connecting),
            nick: RwSignal::new(String::new()),
            outbox: StoredValue::new(None),
        }
    }

    /// Shows `text` at once as my message, "sending", and hands it to the connection. If the tab is
    /// offline it stays "sending" and is sent after the reconnect.
    pub fn send(&self, text: String) {
        let client_id = new_client_id();
        let nick = self.nick.get_untracked();
        self.timeline
            .update(|t| t.push_own(&client_id, &nick, &text, &now_rfc3339()));
        self.outbox.with_value(|outbox| {
            if let Some(outbox) = outbox {
                // Fails only if the loop is gone, and then the line stays "sending" on screen.
                let _ = outbox.unbounded_send(ClientMsg::Say {
                    room: GENERAL.to_owned(),
                    text,
                    client_id,
                });
            }
        });
    }
}

impl Default for ChatHandle {
    fn default() -> Self {
        Self::new()
    }
}

/// Formats an RFC 3339 time as the reader's local `HH:MM`.
pub fn local_time(at: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(at));
        if !date.get_time().is_nan() {
            return format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
        }
    }
    // On the server (and for unparsable input): the UTC time as written.
    at.get(11..16).unwrap_or_default().to_owned()
}

#[cfg(feature = "hydrate")]
fn now_rfc3339() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

#[cfg(not(feature = "hydrate"))]
fn now_rfc3339() -> String {
    String::new()
}

/// A fresh id for one of my messages: random enough that two tabs never collide.
fn new_client_id() -> String {
    #[cfg(feature = "hydrate")]
    {
        let a = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        let b = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        format!("c-{a:08x}{b:08x}")
    }
    #[cfg(not(feature = "hydrate"))]
    {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        format!("c-{}", NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

#[cfg(feature = "hydrate")]
pub use browser::start;

#[cfg(feature = "hydrate")]
mod browser {
    use futures::channel::mpsc;
    use futures::{select, FutureExt, SinkExt, StreamExt};
    use gloo_net::websocket::futures::WebSocket;
    use gloo_net::websocket::Message;
    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;
    use leptos::task::spawn_local;

    use super::{ChatHandle, ConnState};
    use crate::protocol::{ClientMsg, ErrorCode, ServerMsg, GENERAL};

    /// localStorage key of the nickname this browser uses.
    const NICK_KEY: &str = "chinwag.nick";
    /// First reconnect delay; doubled on each failure up to [`MAX_BACKOFF_MS`].
    const BASE_BACKOFF_MS: u32 = 500;
    const MAX_BACKOFF_MS: u32 = 15_000;

    /// What the browser says about the network.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Network {
        Up,
        Down,
    }

    /// Starts the connection loop for this tab. Call once, in the browser, after hydration.
    pub fn start(chat: ChatHandle) {
        let (tx, rx) = mpsc::unbounded();
        chat.outbox.set_value(Some(tx));
        chat.nick.set(stored_nick().unwrap_or_else(guest_nick));
        let (net_tx, net_rx) = mpsc::unbounded();
        for (event, state) in [("online", Network::Up), ("offline", Network::Down)] {
            let net_tx = net_tx.clone();
            // The listeners live as long as the tab; their handles are never removed.
            let _ = window_event_listener_untyped(event, move |_| {
                let _ = net_tx.unbounded_send(state);
            });
        }
        spawn_local(run(chat, rx, net_rx));
    }

    async fn run(
        chat: ChatHandle,
        mut outbox: mpsc::UnboundedReceiver<ClientMsg>,
        mut network: mpsc::UnboundedReceiver<Network>,
    ) {
        let mut failures: u32 = 0;
        loop {
            let welcomed = if browser_online() {
                chat.status.set(ConnState::Connecting);
                match WebSocket::open(&ws_url()) {
                    Ok(ws) => session(chat, ws, &mut outbox, &mut network).await,
                    Err(_) => false,
                }
            } else {
                false
            };
            failures = if welcomed {
                1
            } else {
                failures.saturating_add(1)
            };
            let mut left = backoff_ms(failures);
            while left > 0 {
                chat.status.set(ConnState::Offline {
                    retry_in_secs: left.div_ceil(1000),
                });
                let step = left.min(1000);
                select! {
                    () = TimeoutFuture::new(step).fuse() => left -= step,
                    net = network.next() => if net == Some(Network::Up) { break },
                }
            }
        }
    }

    fn browser_online() -> bool {
        window().navigator().on_line()
    }

    /// One connection, from `hello` until it drops. Returns whether the server welcomed us.
    async fn session(
        chat: ChatHandle,
        ws: WebSocket,
        outbox: &mut mpsc::UnboundedReceiver<ClientMsg>,
        network: &mut mpsc::UnboundedReceiver<Network>,
    ) -> bool {
        let (mut sink, stream) = ws.split();
        let mut incoming = stream.fuse();
        let hello = ClientMsg::Hello {
            nick: chat.nick.get_untracked(),
        };
        if sink.send(Message::Text(hello.to_json())).await.is_err() {
            return false;
        }
        let mut welcomed = false;
        loop {
            select! {
                frame = incoming.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Bytes(_))) => continue,
                        Some(Err(_)) | None => return welcomed,
                    };
                    // Unknown frames are skipped: a newer server may say more than this client knows.
                    let Ok(msg) = ServerMsg::parse(&text) else { continue };
                    match msg {
                        ServerMsg::Welcome { nick, .. } => {
                            welcomed = true;
                            remember_nick(&nick);
                            chat.nick.set(nick);
                            chat.status.set(ConnState::Online);
                            // Whatever queued up while offline is in the timeline as "sending";
                            // send it from there, once, in order.
                            while outbox.try_recv().is_ok() {}
                            let unconfirmed = chat.timeline.with_untracked(|t| t.unconfirmed());
                            for (client_id, text) in unconfirmed {
                                let say = ClientMsg::Say { room: GENERAL.to_owned(), text, client_id };
                                if sink.send(Message::Text(say.to_json())).await.is_err() {
                                    return welcomed;
                                }
                            }
                        }
                        ServerMsg::Error { code: ErrorCode::NickInvalid, .. } if !welcomed => {
                            // The stored name is no longer acceptable: pick a fresh one and retry.
                            chat.nick.set(guest_nick());
                            return false;
                        }
                        other => chat.timeline.maybe_update(|t| t.apply(&other)),
                    }
                }
                net = network.next() => {
                    // Dropping the socket closes it; the loop reconnects when the network is back.
                    if net == Some(Network::Down) {
                        return welcomed;
                    }
                }
                out = outbox.next() => {
                    let Some(msg) = out else { return welcomed };
                    // Before `welcome` the frame is dropped here; it is still "sending" in the
                    // timeline and goes out when the welcome arrives.
                    if welcomed && sink.send(Message::Text(msg.to_json())).await.is_err() {
                        return welcomed;
                    }
                }
            }
        }
    }

    /// Delay before reconnect attempt number `failures` (1-based), with ±25% jitter.
    fn backoff_ms(failures: u32) -> u32 {
        let exp = failures.saturating_sub(1).min(10);
        let base = BASE_BACKOFF_MS.saturating_mul(1 << exp).min(MAX_BACKOFF_MS);
        let jitter = 0.75 + js_sys::Math::random() * 0.5;
        (f64::from(base) * jitter) as u32
    }

    fn ws_url() -> String {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_default();
        format!("{scheme}://{host}/ws")
    }

    fn stored_nick() -> Option<String> {
        let storage = window().local_storage().ok()??;
        storage.get_item(NICK_KEY).ok()?.filter(|n| !n.is_empty())
    }

    fn remember_nick(nick: &str) {
        if let Ok(Some(storage)) = window().local_storage() {
            // Private mode may refuse; the name then lasts for this tab only.
            let _ = storage.set_item(NICK_KEY, nick);
        }
    }

    fn guest_nick() -> String {
        format!("guest-{:04}", (js_sys::Math::random() * 10_000.0) as u32)
    }
}
