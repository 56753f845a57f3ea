//! The page: the HTML shell, the router and the chat components.
//!
//! Everything here is rendered on the server first and then hydrated in the browser. Who you are is
//! decided on the server from the session cookie ([`page_state`]): without a session the page is the
//! nickname form, a plain `POST /join` that works before (or without) the wasm; with one it is the
//! chat, already holding the room's latest messages, whose websocket an effect opens after hydration
//! ([`client::start`]). Without wasm the composer is a plain `POST /say`.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_query_map;
use leptos_router::{path, SsrMode};

use serde::{Deserialize, Serialize};

use crate::chat::{Delivery, Line, LineKind, View};
use crate::client::{self, ChatHandle};
use crate::protocol::{ChatMessage, ServerMsg, Stored, GENERAL, MAX_NICK_CHARS, MAX_TEXT_CHARS};

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
                // InOrder: the page waits at the Suspense for who you are, so it arrives as
                // complete HTML that works without wasm, not a template that script moves into place.
                <Route path=path!("/") view=Home ssr=SsrMode::InOrder/>
            </Routes>
        </Router>
    }
}

/// What the server knows when it renders the chat for a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageData {
    /// The nickname this session chats under.
    pub me: String,
    /// The room's latest messages, oldest first.
    pub history: Vec<ChatMessage>,
    /// Whether `history` reaches back to the room's first message.
    pub complete: bool,
}

/// Who this browser's session is and what the room said lately; `None` if it must pick a nickname.
#[server]
pub async fn page_state() -> Result<Option<PageData>, ServerFnError> {
    use axum_extra::extract::CookieJar;

    use crate::session::COOKIE;
    use crate::state::AppState;

    let state = use_context::<AppState>()
        .ok_or_else(|| ServerFnError::new("the server state is missing"))?;
    let jar: CookieJar = leptos_axum::extract().await?;
    let Some(me) = jar
        .get(COOKIE)
        .and_then(|cookie| state.sessions.current(cookie.value()))
    else {
        return Ok(None);
    };
    let page = state
        .store
        .history(GENERAL, None, 50)
        .await
        .map_err(|err| {
            tracing::error!(%err, "reading history for the page failed");
            ServerFnError::new("history is unavailable")
        })?;
    Ok(Some(PageData {
        me,
        history: page.messages,
        complete: page.complete,
    }))
}

/// `/`: the chat, or the nickname form if this browser has no usable session.
#[component]
fn Home() -> impl IntoView {
    let state = Resource::new_blocking(|| (), |()| page_state());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match state.await {
                    Ok(Some(state)) => view! { <ChatPage state/> }.into_any(),
                    _ => view! { <JoinPage/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Marks the page once the wasm has hydrated it (tests and styles can tell the two apart).
fn hydrated_marker() -> RwSignal<bool> {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    hydrated
}

/// The words for a `/join` refusal, by error code.
fn join_error(code: &str) -> &'static str {
    match code {
        "nick_taken" => "That nickname is in use right now. Pick another one.",
        "nick_invalid" => "A nickname has 1 to 32 characters and no control characters.",
        "bad_session" => "Your session has ended. Pick a nickname to come back in.",
        _ => "That did not work. Please try again.",
    }
}

/// The nickname form: a plain HTML form, so it works before the wasm has loaded, or without it.
#[component]
fn JoinPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("error").map(|code| join_error(&code));
    let nick = query.read_untracked().get("nick").unwrap_or_default();
    let hydrated = hydrated_marker();
    view! {
        <main class="join" data-hydrated=move || hydrated.get().to_string()>
            <form class="join-card" method="post" action="/join">
                <h1 class="brand">"chinwag"</h1>
                <p class="lead">"Pick a nickname to start chatting."</p>
                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <label for="nick">"Nickname"</label>
                <input
                    id="nick"
                    name="nick"
                    type="text"
                    required
                    maxlength=MAX_NICK_CHARS
                    autocomplete="nickname"
                    value=nick
                />
                <button type="submit">"Join"</button>
            </form>
        </main>
    }
}

/// The chat: conversations and who is online beside the messages of the open conversation.
#[component]
fn ChatPage(state: PageData) -> impl IntoView {
    let chat = ChatHandle::new(state.me);
    // The latest messages are part of the page itself; the websocket later asks only for newer ones.
    let history = ServerMsg::History {
        room: GENERAL.to_owned(),
        messages: state.history.into_iter().map(Stored::Message).collect(),
        complete: state.complete,
        reset: false,
        before: None,
    };
    chat.chat.update(|c| {
        c.apply(&history, 0.0);
    });
    let hydrated = chat.hydrated;
    // Effects run only in the browser, after hydration: this is where the websocket opens.
    Effect::new(move |_| {
        untrack(|| {
            hydrated.set(true);
            #[cfg(feature = "hydrate")]
            client::start(chat);
        })
    });
    let title = move || {
        chat.chat.with(|c| match c.current_view() {
            View::Room => "# general".to_owned(),
            View::Direct(_) => format!("@ {}", c.current().title),
        })
    };
    let typing = move || chat.chat.with(|c| c.typing_line()).unwrap_or_default();

    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <h1 class="brand">"chinwag"</h1>
                <ConnectionStatus chat/>
            </header>
            <div class="layout">
                <Sidebar chat/>
                <main class="chat">
                    <h2 class="conv-title">{title}</h2>
                    <MessageList chat/>
                    <p class="typing" aria-live="polite">{typing}</p>
                    <Composer chat/>
                </main>
            </div>
        </div>
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
            <p class="me">"You are " <strong>{move || chat.chat.with(|c| c.me.clone())}</strong></p>
        </div>
    }
}

/// An unread count, read out as "3 unread".
#[component]
fn Badge(count: u32) -> impl IntoView {
    (count > 0).then(|| {
        view! {
            <span class="badge">
                {count}
                <span class="sr-only">" unread"</span>
            </span>
        }
    })
}

/// Conversations (the room and private ones, with unread badges) and the online list.
#[component]
fn Sidebar(chat: ChatHandle) -> impl IntoView {
    let conversations = move || {
        chat.chat.with(|c| {
            let current = c.current_view();
            let mut rows = vec![(
                View::Room,
                "# general".to_owned(),
                c.room().unread,
                current == View::Room,
            )];
            rows.extend(c.directs().map(|(view, conv)| {
                let open = current == view;
                (view, format!("@ {}", conv.title), conv.unread, open)
            }));
            rows
        })
    };
    let online = move || chat.chat.with(|c| c.online().to_vec());
    let count = move || chat.chat.with(|c| c.online().len());
    let me = move || chat.chat.with(|c| c.me.clone());

    view! {
        <aside class="sidebar">
            <nav aria-label="Conversations">
                <ul class="conversations">
                    <For
                        each=conversations
                        key=|(view, title, unread, open)| (view.clone(), title.clone(), *unread, *open)
                        children=move |(view, title, unread, open)| {
                            view! {
                                <li>
                                    <button
                                        class="conv"
                                        class:open=open
                                        aria-current=open.then_some("true")
                                        on:click=move |_| chat.open(view.clone())
                                    >
                                        <span class="conv-name">{title}</span>
                                        <Badge count=unread/>
                                    </button>
                                </li>
                            }
                        }
                    />
                </ul>
            </nav>
            <section class="people" aria-labelledby="online-heading">
                <h2 id="online-heading">
                    "Online " <span class="count">{count}</span>
                </h2>
                <ul class="online" aria-label="Online">
                    <For
                        each=online
                        key=|nick| nick.clone()
                        children=move |nick| {
                            let is_me = nick == me();
                            let peer = nick.clone();
                            view! {
                                <li>
                                    {if is_me {
                                        view! { <span class="person me-person">{nick}" (you)"</span> }
                                            .into_any()
                                    } else {
                                        view! {
                                            <button
                                                class="person"
                                                title="Send a private message"
                                                on:click=move |_| chat.open(View::Direct(peer.clone()))
                                            >
                                                {nick}
                                            </button>
                                        }
                                            .into_any()
                                    }}
                                </li>
                            }
                        }
                    />
                </ul>
            </section>
        </aside>
    }
}

/// The messages of the open conversation, oldest first; follows new ones unless the reader has
/// scrolled up. A polite live region, so screen readers announce what arrives.
#[component]
fn MessageList(chat: ChatHandle) -> impl IntoView {
    let list = NodeRef::<html::Ul>::new();
    // Whether the reader is at (or near) the bottom; only then do new messages scroll the list.
    let follow = StoredValue::new(true);
    // The first line and the list's height at the last render: when older lines are put on top,
    // the view is kept where the reader was instead of jumping.
    let top = StoredValue::new((String::new(), 0));
    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            let gap = el.scroll_height() - el.scroll_top() - el.client_height();
            follow.set_value(gap < 48);
            if el.scroll_top() < 40 && chat.chat.with_untracked(|c| c.current_view() == View::Room)
            {
                chat.load_older();
            }
        }
    };
    Effect::new(move |_| {
        let first = chat
            .chat
            .with(|c| c.current().lines.first().map(|l| l.id.clone()))
            .unwrap_or_default();
        if let Some(el) = list.get_untracked() {
            let (old_first, old_height) = top.get_value();
            // After the new rows are laid out, so scroll_height includes them.
            request_animation_frame(move || {
                let height = el.scroll_height();
                if follow.get_value() {
                    el.set_scroll_top(height);
                } else if !old_first.is_empty() && old_first != first {
                    el.set_scroll_top(el.scroll_top() + height - old_height);
                }
                top.set_value((first, height));
            });
        }
    });
    let more = move || {
        chat.chat.with(|c| {
            c.current_view() == View::Room && !c.room().complete && c.oldest_seq().is_some()
        })
    };
    let lines = move || chat.chat.with(|c| c.current().lines.clone());
    let empty = move || chat.chat.with(|c| c.current().lines.is_empty());

    view! {
        <div class="messages-wrap">
            <Show when=empty>
                <p class="empty">"No messages yet. Say hello!"</p>
            </Show>
            <Show when=more>
                <button class="older" on:click=move |_| chat.load_older()>
                    "Load older messages"
                </button>
            </Show>
            <ul
                class="messages"
                aria-label="Messages"
                aria-live="polite"
                aria-relevant="additions"
                // Focusable, so keyboard users can scroll back through it.
                tabindex="0"
                node_ref=list
                on:scroll=on_scroll
            >
                <For each=lines key=Line::render_key let:line>
                    <LineView chat line/>
                </For>
            </ul>
        </div>
    }
}

#[component]
fn LineView(chat: ChatHandle, line: Line) -> impl IntoView {
    match line.kind {
        LineKind::Notice(text) => view! { <li class="notice">{text}</li> }.into_any(),
        LineKind::Chat {
            from,
            text,
            at,
            action,
            mine,
        } => {
            let (class, state) = match mine {
                None => ("msg", None),
                Some(Delivery::Sending) => ("msg mine sending", Some("sending…")),
                Some(Delivery::Sent) => ("msg mine sent", Some("sent")),
                Some(Delivery::Failed) => ("msg mine failed", Some("not sent")),
            };
            // The server writes UTC; once hydrated the reader's own clock is used.
            let hydrated = chat.hydrated;
            let at_text = at.clone();
            let time = move || {
                if hydrated.get() {
                    client::local_time(&at_text)
                } else {
                    client::utc_time(&at_text)
                }
            };
            let id = line.id.clone();
            let retry = (mine == Some(Delivery::Failed)).then(|| {
                view! {
                    <button class="retry" on:click=move |_| chat.retry(&id)>
                        "Retry"
                    </button>
                }
            });
            // Text nodes, never HTML: whatever a user types is shown as typed.
            let body = if action {
                view! { <p class="text action">"* " {from.clone()} " " {text}</p> }.into_any()
            } else {
                view! { <p class="text">{text}</p> }.into_any()
            };
            view! {
                <li class=class data-id=line.id>
                    <div class="meta">
                        <span class="from">{from}</span>
                        <time datetime=at>{time}</time>
                        {state.map(|s| view! { <span class="state">{s}</span> })}
                        {retry}
                    </div>
                    {body}
                </li>
            }
            .into_any()
        }
    }
}

/// The text field and Send button. Enter sends (it submits the form), and so does the button. Without
/// wasm the form posts to `/say` and the page reloads with the message in it.
#[component]
fn Composer(chat: ChatHandle) -> impl IntoView {
    let query = use_query_map();
    let error = move || {
        query.read().get("error").map(|code| match code.as_str() {
            "too_long" => "That message is too long (4000 characters at most).",
            "empty" => "Type something first.",
            _ => "That message could not be sent. Please try again.",
        })
    };
    let draft = RwSignal::new(String::new());
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        chat.submit(&text);
        draft.set(String::new());
    };
    let placeholder = move || {
        chat.chat.with(|c| match c.current_view() {
            View::Room => "Message #general  (/help for commands)".to_owned(),
            View::Direct(_) => format!("Message @{}", c.current().title),
        })
    };
    view! {
        {move || error().map(|e| view! { <p class="form-error composer-error" role="alert">{e}</p> })}
        <form class="composer" method="post" action="/say" on:submit=on_submit>
            <input
                type="text"
                name="text"
                aria-label="Message"
                placeholder=placeholder
                autocomplete="off"
                maxlength=MAX_TEXT_CHARS
                prop:value=draft
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    chat.input_changed(!text.trim().is_empty());
                    draft.set(text);
                }
                on:blur=move |_| chat.stop_typing()
            />
            <button type="submit">"Send"</button>
        </form>
    }
}
