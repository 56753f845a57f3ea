//! The browser's connection loop: open `/ws`, say `hello`, apply frames, reconnect with backoff.

use std::collections::VecDeque;

use futures::channel::mpsc;
use futures::{select, FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::Message;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{now_ms, ChatHandle, ConnState};
use crate::chat::{Chat, Parts};
use crate::protocol::{ClientMsg, ErrorCode, ServerMsg};

/// First reconnect delay; doubled on each failure up to [`MAX_BACKOFF_MS`].
const BASE_BACKOFF_MS: u32 = 500;
const MAX_BACKOFF_MS: u32 = 15_000;

/// What the browser says about the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    Up,
    Down,
}

/// Starts the connection loop and the clock for this tab. Call once, in the browser, after
/// hydration.
pub fn start(chat: ChatHandle) {
    let (tx, rx) = mpsc::unbounded();
    chat.outbox.set_value(Some(tx));
    let (net_tx, net_rx) = mpsc::unbounded();
    for (event, state) in [("online", Network::Up), ("offline", Network::Down)] {
        let net_tx = net_tx.clone();
        // The listeners live as long as the tab; their handles are never removed.
        let _ = window_event_listener_untyped(event, move |_| {
            let _ = net_tx.unbounded_send(state);
        });
    }
    super::attention::watch(chat);
    spawn_local(run(chat, rx, net_rx));
    spawn_local(async move {
        loop {
            TimeoutFuture::new(1000).await;
            chat.tick();
        }
    });
}

async fn run(
    chat: ChatHandle,
    mut outbox: mpsc::UnboundedReceiver<ClientMsg>,
    mut network: mpsc::UnboundedReceiver<Network>,
) {
    let mut failures: u32 = 0;
    // Joins, leaves, renames, edits and deletes asked for while not connected: sent after the next
    // `welcome`.
    let mut deferred = VecDeque::new();
    // The first connection is the one the page opened while the wasm loaded, if it is still up.
    let mut early = early_socket();
    loop {
        let welcomed = if browser_online() {
            chat.status.set(ConnState::Connecting);
            let opened = match early.take() {
                Some((ws, received)) => Ok((ws, Some(received))),
                None => WebSocket::open(&ws_url()).map(|ws| (ws, None)),
            };
            match opened {
                Ok((ws, received)) => {
                    session(chat, ws, received, &mut outbox, &mut network, &mut deferred).await
                }
                Err(_) => false,
            }
        } else {
            false
        };
        // No ack can come while offline: my messages wait, "sending", for the next welcome.
        chat.change(|c| {
            c.outbox.disconnected();
            Parts::NONE
        });
        if chat.peek(|c| c.banned_until.is_some()) {
            // Coming back is refused until the ban ends; the page says so, and a reload later
            // tries again.
            chat.status.set(ConnState::Banned);
            return;
        }
        // An older-history request in flight is lost with the socket.
        chat.history_answered();
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

/// Sends one frame; for a message, starts its ack timer.
async fn send<S>(chat: ChatHandle, sink: &mut S, msg: &ClientMsg) -> bool
where
    S: futures::Sink<Message> + Unpin,
{
    if sink.send(Message::Text(msg.encode())).await.is_err() {
        return false;
    }
    if let ClientMsg::Say { client_id, .. } | ClientMsg::Dm { client_id, .. } = msg {
        let now = now_ms();
        chat.change(|c| {
            c.outbox.transmitted(client_id, now);
            Parts::NONE
        });
    }
    true
}

/// How many joins, leaves, renames, edits and deletes wait for the next `welcome` at most; past
/// that one is refused (and the page says so).
const MAX_DEFERRED: usize = 32;

/// Keeps what must survive until the next `welcome` ([`super::kept_while_offline`]).
fn defer(chat: ChatHandle, deferred: &mut VecDeque<ClientMsg>, msg: ClientMsg) {
    if !super::kept_while_offline(&msg) {
        return;
    }
    if deferred.len() >= MAX_DEFERRED {
        chat.note("Not done: too many actions are waiting for the connection.");
        return;
    }
    deferred.push_back(msg);
}

/// One connection, from `hello` until it drops. Returns whether the server welcomed us.
///
/// `early`: the page's own socket, adopted with the frames it has already received; its `hello`
/// was sent by the page.
async fn session(
    chat: ChatHandle,
    ws: WebSocket,
    early: Option<Vec<String>>,
    outbox: &mut mpsc::UnboundedReceiver<ClientMsg>,
    network: &mut mpsc::UnboundedReceiver<Network>,
    deferred: &mut VecDeque<ClientMsg>,
) -> bool {
    let said_hello = early.is_some();
    let (mut sink, stream) = ws.split();
    let received = early.unwrap_or_default().into_iter();
    let mut incoming = futures::stream::iter(received.map(|text| Ok(Message::Text(text))))
        .chain(stream)
        .fuse();
    if !said_hello && !send(chat, &mut sink, &chat.peek(super::hello)).await {
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
                let Some(msg) = ServerMsg::decode(&text) else { continue };
                match msg {
                    ServerMsg::Welcome { .. } => {
                        welcomed = true;
                        if !welcome(chat, &msg, &mut sink, outbox, deferred).await {
                            return welcomed;
                        }
                    }
                    ServerMsg::Error { code: ErrorCode::SignedOut, .. } => {
                        // Signed out from another device (or deleted): this tab is nobody now.
                        let _ = window().location().assign("/login?error=signed_out");
                        return false;
                    }
                    ServerMsg::Error { code: code @ (ErrorCode::BadSession | ErrorCode::NickTaken), .. }
                        if !welcomed =>
                    {
                        // The session is gone or its name was taken while away: back to the
                        // nickname form, which says why.
                        let _ = window().location().assign(&format!("/?error={}", code.as_str()));
                        return false;
                    }
                    other => receive(chat, &other),
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
                // Before `welcome`: a message is still "sending" in the chat and goes out when the
                // welcome arrives; a join, leave or rename waits for it too.
                if !welcomed {
                    defer(chat, deferred, msg);
                } else if !send(chat, &mut sink, &msg).await {
                    defer(chat, deferred, msg);
                    return welcomed;
                }
            }
        }
    }
}

/// The server welcomed us: online, then everything that waited for it is sent. Whether the
/// connection still works.
async fn welcome<S>(
    chat: ChatHandle,
    msg: &ServerMsg,
    sink: &mut S,
    outbox: &mut mpsc::UnboundedReceiver<ClientMsg>,
    deferred: &mut VecDeque<ClientMsg>,
) -> bool
where
    S: futures::Sink<Message> + Unpin,
{
    chat.change(|c| c.receive_frame(msg, now_ms()));
    chat.status.set(ConnState::Online);
    // My messages written while offline are in the chat as "sending": send them from there, once,
    // in order; then the joins, leaves and renames asked for meanwhile.
    while let Ok(msg) = outbox.try_recv() {
        defer(chat, deferred, msg);
    }
    let unconfirmed = chat.peek(Chat::unconfirmed);
    for outgoing in unconfirmed {
        if !send(chat, sink, &outgoing.frame()).await {
            return false;
        }
    }
    while let Some(msg) = deferred.pop_front() {
        if !send(chat, sink, &msg).await {
            // Not sent: it waits for the next welcome.
            deferred.push_front(msg);
            return false;
        }
    }
    true
}

/// Any other frame: into the chat.
fn receive(chat: ChatHandle, msg: &ServerMsg) {
    if matches!(
        msg,
        ServerMsg::History {
            before: Some(_),
            ..
        } | ServerMsg::Error {
            client_id: None,
            ..
        }
    ) {
        // An older page, or a refusal that may be its answer: scrolling up may ask again.
        chat.history_answered();
    }
    let now = now_ms();
    chat.change(|c| c.receive_frame(msg, now));
    super::attention::notify(chat);
}

/// Delay before reconnect attempt number `failures` (1-based), with ±25% jitter.
fn backoff_ms(failures: u32) -> u32 {
    let exp = failures.saturating_sub(1).min(10);
    let base = BASE_BACKOFF_MS.saturating_mul(1 << exp).min(MAX_BACKOFF_MS);
    let jitter = 0.75 + js_sys::Math::random() * 0.5;
    (f64::from(base) * jitter) as u32
}

/// Takes over the socket the page opened before the wasm was loaded (`ui::chat_page`'s
/// `EARLY_SOCKET`), with the frames it has received so far, if it is still connecting or open.
/// From here on its frames come to the connection loop: the page's handler is removed in the same
/// turn of the event loop, so none falls between the two.
fn early_socket() -> Option<(WebSocket, Vec<String>)> {
    use wasm_bindgen::JsCast;

    let window = window();
    let key = wasm_bindgen::JsValue::from_str(super::EARLY_SOCKET);
    let early = js_sys::Reflect::get(&window, &key).ok()?;
    let _ = js_sys::Reflect::delete_property(&window, &key);
    let ws: web_sys::WebSocket = js_sys::Reflect::get(&early, &"w".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let received: js_sys::Array = js_sys::Reflect::get(&early, &"q".into())
        .ok()?
        .dyn_into()
        .ok()?;
    ws.set_onmessage(None);
    if ws.ready_state() > web_sys::WebSocket::OPEN {
        return None;
    }
    let received = received
        .iter()
        .filter_map(|text| text.as_string())
        .collect();
    WebSocket::try_from(ws).ok().map(|ws| (ws, received))
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
