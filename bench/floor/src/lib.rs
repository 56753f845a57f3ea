//! The socket.io tutorial's page in Leptos: every message received is appended to a list, the
//! composer sends what is typed. The least a Leptos chat hydrated in the browser downloads.

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::Message;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[island]
pub fn Chat() -> impl IntoView {
    let lines = RwSignal::new(Vec::<(usize, String)>::new());
    let text = RwSignal::new(String::new());
    let (tx, mut rx) = mpsc::unbounded::<String>();
    if let Ok(ws) = WebSocket::open("/ws") {
        let (mut write, mut read) = ws.split();
        spawn_local(async move {
            while let Some(text) = rx.next().await {
                let _ = write.send(Message::Text(text)).await;
            }
        });
        spawn_local(async move {
            while let Some(Ok(Message::Text(text))) = read.next().await {
                lines.update(|l| {
                    let n = l.len();
                    l.push((n, text))
                });
            }
        });
    }
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let _ = tx.unbounded_send(text.get_untracked());
        text.set(String::new());
    };
    view! {
        <ul id="messages">
            <For each=move || lines.get() key=|l| l.0 let:l>
                <li>{l.1}</li>
            </For>
        </ul>
        <form on:submit=send>
            <input autocomplete="off" bind:value=text/>
            <button>"Send"</button>
        </form>
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
}
