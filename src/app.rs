//! The page: the HTML shell, the router and the chat components.
//!
//! Everything here is rendered on the server first (the message list and the composer are in the HTML
//! itself) and then hydrated in the browser, where an effect starts the websocket ([`client::start`]).

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::chat::{Delivery, Line, LineKind};
use crate::client::{self, ChatHandle};
use crate::protocol::{GENERAL, MAX_TEXT_CHARS};

/// The whole HTML document, as the server sends it.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/chinwag.css"/>
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="chinwag: real-time chat"/>
        <Meta name="theme-color" content="#1f6f5c"/>
        <Title text="chinwag"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                <Route path=path!("/") view=ChatPage/>
            </Routes>
        </Router>
    }
}

/// `#general`: the message list, the composer and the connection state.
#[component]
fn ChatPage() -> impl IntoView {
    let chat = ChatHandle::new();
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, after hydration: this is where the websocket opens.
    Effect::new(move |_| {
        untrack(|| {
            hydrated.set(true);
            #[cfg(feature = "hydrate")]
            client::start(chat);
        })
    });

    view! {
        <main class="chat" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <h1 class="brand">"chinwag"</h1>
                <span class="room-name">"#" {GENERAL}</span>
                <ConnectionStatus chat/>
            </header>
            <MessageList chat/>
            <Composer chat/>
        </main>
    }
}

/// The connection state and my nickname, announced politely to screen readers when it changes.
#[component]
fn ConnectionStatus(chat: ChatHandle) -> impl IntoView {
    view! {
        <div class="status-bar">
            <p class="status" role="status" data-state=move || chat.status.get().as_str()>
                <span class="dot" aria-hidden="true"></span>
                {move || chat.status.get().label()}
            </p>
            <Show when=move || !chat.nick.get().is_empty()>
                <p class="me">"You are " <strong>{move || chat.nick.get()}</strong></p>
            </Show>
        </div>
    }
}

/// The messages, oldest first; follows new ones unless the reader has scrolled up.
#[component]
fn MessageList(chat: ChatHandle) -> impl IntoView {
    let list = NodeRef::<html::Ul>::new();
    // Whether the reader is at (or near) the bottom; only then do new messages scroll the list.
    let follow = StoredValue::new(true);
    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            let gap = el.scroll_height() - el.scroll_top() - el.client_height();
            follow.set_value(gap < 48);
        }
    };
    Effect::new(move |_| {
        chat.timeline.track();
        if follow.get_value() {
            if let Some(el) = list.get_untracked() {
                // After the new rows are laid out, so scroll_height includes them.
                request_animation_frame(move || el.set_scroll_top(el.scroll_height()));
            }
        }
    });
    let lines = move || chat.timeline.with(|t| t.lines().to_vec());

    view! {
        <div class="messages-wrap">
            <Show when=move || chat.timeline.with(|t| t.lines().is_empty())>
                <p class="empty">"No messages yet. Say hello!"</p>
            </Show>
            <ul class="messages" aria-label="Messages" node_ref=list on:scroll=on_scroll>
                <For each=lines key=Line::render_key let:line>
                    <LineView line/>
                </For>
            </ul>
        </div>
    }
}

#[component]
fn LineView(line: Line) -> impl IntoView {
    match line.kind {
        LineKind::Notice(text) => view! { <li class="notice">{text}</li> }.into_any(),
        LineKind::Chat {
            from,
            text,
            at,
            mine,
        } => {
            let (class, state) = match mine {
                None => ("msg", None),
                Some(Delivery::Sending) => ("msg mine sending", Some("sending…")),
                Some(Delivery::Sent) => ("msg mine sent", Some("sent")),
                Some(Delivery::Failed) => ("msg mine failed", Some("not sent")),
            };
            let time = client::local_time(&at);
            view! {
                <li class=class data-id=line.id>
                    <div class="meta">
                        <span class="from">{from}</span>
                        <time datetime=at>{time}</time>
                        {state.map(|s| view! { <span class="state">{s}</span> })}
                    </div>
                    // Text nodes, never HTML: whatever a user types is shown as typed.
                    <p class="text">{text}</p>
                </li>
            }
            .into_any()
        }
    }
}

/// The text field and Send button. Enter sends (it submits the form), and so does the button.
#[component]
fn Composer(chat: ChatHandle) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        chat.send(text);
        draft.set(String::new());
    };
    view! {
        <form class="composer" on:submit=on_submit>
            <input
                type="text"
                name="text"
                aria-label="Message"
                placeholder="Message #general"
                autocomplete="off"
                maxlength=MAX_TEXT_CHARS
                prop:value=draft
                on:input=move |ev| draft.set(event_target_value(&ev))
            />
            <button type="submit">"Send"</button>
        </form>
    }
}
