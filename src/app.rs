//! The page: the HTML shell, the router and the chat components.
//!
//! Everything here is rendered on the server first and then hydrated in the browser. Who you are is
//! decided on the server from the session cookie ([`page_state`]): without a session the page is the
//! nickname form, a plain `POST /join` that works before (or without) the wasm; with one it is the
//! chat, already holding the room's latest messages, whose websocket an effect opens after hydration
//! ([`client::start`]). Without wasm the composer is a plain `POST /say`, and joining, creating and
//! leaving rooms are plain forms too.
//!
//! Each room has its own URL: `/` is `#general`, `/r/<room>` any other. Both are children of one
//! parent route, so moving between rooms in the browser keeps the page (and its websocket) and only
//! changes which conversation is on screen.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, Meta, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::{path, NavigateOptions, SsrMode};

use serde::{Deserialize, Serialize};

use crate::chat::{Delivery, Line, LineKind, View};
use crate::client::{self, ChatHandle};
use crate::protocol::{
    validate_room, ChatMessage, ServerMsg, Stored, GENERAL, MAX_NICK_CHARS, MAX_ROOM_CHARS,
    MAX_TEXT_CHARS,
};

/// The page of `room`: `/` for `general`, `/r/<room>` for the others (and `/` for a bad name).
pub fn room_path(room: &str) -> String {
    if room == GENERAL || validate_room(room).is_err() {
        "/".to_owned()
    } else {
        format!("/r/{room}")
    }
}

/// The room a page path shows: `general` for `/`, the room for `/r/<room>`, `None` otherwise.
pub fn room_of_path(path: &str) -> Option<String> {
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return Some(GENERAL.to_owned());
    }
    let room = path.strip_prefix("/r/")?;
    validate_room(room).ok()?;
    Some(room.to_owned())
}

/// What someone typed as a room name, made into one if it can be: "#Rust " means `rust`.
pub fn room_from_input(input: &str) -> String {
    input.trim().trim_start_matches('#').to_lowercase()
}

/// The whole HTML document, as the server sends it.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HashedStylesheet id="leptos" options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Sends this page's Content-Security-Policy: scripts only from this server or inline with this
/// response's nonce (Leptos puts it on the hydration and resource scripts it writes), wasm allowed to
/// compile (`'wasm-unsafe-eval'`), no `'unsafe-inline'` anywhere, no framing, forms only to this server.
#[cfg(feature = "ssr")]
fn set_content_security_policy(options: &LeptosOptions) {
    use axum::http::{header, HeaderValue};
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    // `cargo leptos watch` live reload talks to its own port.
    let reload = if std::env::var_os("LEPTOS_WATCH").is_some() {
        format!(" ws://{}:{}", options.site_addr.ip(), options.reload_port)
    } else {
        String::new()
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'{reload}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="chinwag: real-time chat"/>
        <Meta name="theme-color" content="#1f6f5c"/>
        <Title text="chinwag"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                // Async: the page waits for who you are before anything is sent, so it arrives as
                // complete HTML that works without wasm (not a template that script moves into
                // place), and with the right status (503 when the store does not answer).
                // The parent stays mounted while the child (the room in the URL) changes.
                <ParentRoute path=path!("") view=Home ssr=SsrMode::Async>
                    <Route path=path!("") view=|| () ssr=SsrMode::Async/>
                    <Route path=path!("r/:room") view=|| () ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// What the server knows when it renders the chat for a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageData {
    /// The nickname this session chats under.
    pub me: String,
    /// The rooms this session is in, `general` first.
    pub rooms: Vec<String>,
    /// The room in the URL.
    pub room: String,
    /// Its latest messages, oldest first (none if the session is not in it).
    pub history: Vec<ChatMessage>,
    /// Whether `history` reaches back to the room's first message.
    pub complete: bool,
}

/// Who this browser's session is, its rooms, and what `room` said lately; `None` if it must pick
/// a nickname.
#[server]
pub async fn page_state(room: String) -> Result<Option<PageData>, ServerFnError> {
    use axum_extra::extract::CookieJar;

    use crate::server::session::COOKIE;
    use crate::server::state::AppState;

    let state = use_context::<AppState>()
        .ok_or_else(|| ServerFnError::new("the server state is missing"))?;
    let jar: CookieJar = leptos_axum::extract().await?;
    let Some(token) = jar.get(COOKIE).map(|cookie| cookie.value().to_owned()) else {
        return Ok(None);
    };
    // A store that does not answer is an error page, not the nickname form: the session is not
    // lost, only unreachable for a moment.
    let session = state.sessions.authenticate(&token).await.map_err(|err| {
        tracing::error!(%err, "reading the session for the page failed");
        ServerFnError::new("the server cannot reach its store right now")
    })?;
    let Some(session) = session else {
        return Ok(None);
    };
    let me = session.nick();
    let rooms = session.rooms();
    if !rooms.contains(&room) {
        return Ok(Some(PageData {
            me,
            rooms,
            room,
            history: Vec::new(),
            complete: true,
        }));
    }
    let page = state.store.history(&room, None, 50).await.map_err(|err| {
        tracing::error!(%err, "reading history for the page failed");
        ServerFnError::new("history is unavailable")
    })?;
    Ok(Some(PageData {
        me,
        rooms,
        room,
        history: page.messages,
        complete: page.complete,
    }))
}

/// `/` and `/r/<room>`: the chat, or the nickname form if this browser has no usable session.
#[component]
fn Home() -> impl IntoView {
    // Read once: later moves between rooms happen in the page, without asking the server again.
    let room = use_location()
        .pathname
        .with_untracked(|path| room_of_path(path))
        .unwrap_or_else(|| GENERAL.to_owned());
    let state = Resource::new_blocking(|| (), move |()| page_state(room.clone()));
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match state.await {
                    Ok(Some(state)) => view! { <ChatPage state/> }.into_any(),
                    Ok(None) => view! { <JoinPage/> }.into_any(),
                    // Not the nickname form: the session is fine, the server is not, for now.
                    Err(_) => view! { <Unavailable/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The server could not tell who this is (its store did not answer): say so, with a way to retry.
#[component]
fn Unavailable() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::SERVICE_UNAVAILABLE);
    }
    view! {
        <main class="join">
            <div class="join-card" role="alert">
                <h1 class="brand">"chinwag"</h1>
                <p class="lead">"chinwag cannot reach its store right now. Your session is safe."</p>
                <a href="/">"Try again"</a>
            </div>
        </main>
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
    let chat = ChatHandle::new(state.me.clone());
    // The session's rooms and the room's latest messages are part of the page itself; the websocket
    // later asks only for what is newer.
    let rooms = ServerMsg::Welcome {
        nick: state.me,
        rooms: state.rooms,
        online: Vec::new(),
        members: Default::default(),
        counts: Default::default(),
        session: None,
    };
    let history = ServerMsg::History {
        room: state.room.clone(),
        messages: state.history.into_iter().map(Stored::Message).collect(),
        complete: state.complete,
        reset: false,
        before: None,
        more: false,
        reply_to: None,
    };
    chat.chat.update(|c| {
        c.apply(&rooms, 0.0);
        c.apply(&history, 0.0);
        c.open(View::Room(state.room));
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
    // The URL names the room on screen: follow it when the reader moves between rooms (links, back
    // and forward buttons).
    let location = use_location();
    Effect::new(move |_| {
        let room = location.pathname.with(|path| room_of_path(path));
        if let Some(room) = room {
            chat.open(View::Room(room));
        }
    });
    let title = move || {
        chat.chat.with(|c| match c.current_view() {
            View::Room(room) => format!("# {room}"),
            View::Direct(_) => format!("@ {}", c.current().title),
        })
    };
    let typing = move || chat.chat.with(|c| c.typing_line()).unwrap_or_default();
    // A room in the URL that this session is not in: offer to join it. Memos, so the views below
    // are rebuilt only when these change, not on every message.
    let outside = Memo::new(move |_| {
        chat.chat.with(|c| {
            c.current_room()
                .filter(|room| !c.is_member(room))
                .map(str::to_owned)
        })
    });
    let leavable = Memo::new(move |_| {
        chat.chat.with(|c| {
            c.current_room()
                .filter(|room| *room != GENERAL && c.is_member(room))
                .map(str::to_owned)
        })
    });

    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <h1 class="brand">"chinwag"</h1>
                <ConnectionStatus chat/>
            </header>
            <div class="layout">
                <Sidebar chat/>
                <main class="chat">
                    <div class="conv-head">
                        <h2 class="conv-title">{title}</h2>
                        {move || leavable.get().map(|room| view! { <LeaveRoom chat room/> })}
                    </div>
                    {move || match outside.get() {
                        Some(room) => view! { <JoinRoomPrompt chat room/> }.into_any(),
                        None => {
                            view! {
                                <MessageList chat/>
                                <p class="typing" aria-live="polite">{typing}</p>
                                <Composer chat/>
                            }
                                .into_any()
                        }
                    }}
                </main>
            </div>
        </div>
    }
}

/// For a room in the URL that I am not in: what it is and a button to join it.
#[component]
fn JoinRoomPrompt(chat: ChatHandle, room: String) -> impl IntoView {
    let target = room.clone();
    let navigate = use_navigate();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        chat.join(&target);
        navigate(&room_path(&target), NavigateOptions::default());
    };
    view! {
        <form class="join-room" method="post" action="/rooms/join" on:submit=on_submit>
            <p>"You are not in " <strong>"#" {room.clone()}</strong> " yet."</p>
            <input type="hidden" name="room" value=room.clone()/>
            <button type="submit">"Join #" {room}</button>
        </form>
    }
}

/// Leaves the room on screen and goes back to `#general`.
#[component]
fn LeaveRoom(chat: ChatHandle, room: String) -> impl IntoView {
    let target = room.clone();
    let navigate = use_navigate();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        chat.leave(&target);
        navigate("/", NavigateOptions::default());
    };
    view! {
        <form class="leave-room" method="post" action="/rooms/leave" on:submit=on_submit>
            <input type="hidden" name="room" value=room.clone()/>
            <button type="submit" class="secondary">"Leave #" {room}</button>
        </form>
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

/// Rooms (links to their pages) and private conversations, with unread badges; a form to join or
/// create a room; who of the room on screen is online.
#[component]
fn Sidebar(chat: ChatHandle) -> impl IntoView {
    let rooms = move || {
        chat.chat.with(|c| {
            let current = c.current_view();
            c.rooms()
                .map(|(view, conv)| {
                    let open = current == view;
                    (view, conv.title.clone(), conv.unread, open)
                })
                .collect::<Vec<_>>()
        })
    };
    let directs = move || {
        chat.chat.with(|c| {
            let current = c.current_view();
            c.directs()
                .map(|(view, conv)| {
                    let open = current == view;
                    (view, conv.title.clone(), conv.unread, open)
                })
                .collect::<Vec<_>>()
        })
    };
    // Who is online in the room on screen; in a private conversation, everyone online.
    let online = move || {
        chat.chat.with(|c| match c.current_room() {
            Some(room) => c.members(room).to_vec(),
            None => c.online().to_vec(),
        })
    };
    // In a crowd the list holds only some of them; the count is everyone.
    let count = move || {
        chat.chat
            .with(|c| c.head_count(c.current_room().unwrap_or(GENERAL)))
    };
    let where_ = move || {
        chat.chat
            .with(|c| c.current_room().map(|room| format!(" in #{room}")))
            .unwrap_or_default()
    };
    let me = move || chat.chat.with(|c| c.me.clone());

    view! {
        <aside class="sidebar">
            <nav aria-label="Rooms">
                <ul class="conversations rooms">
                    <For
                        each=rooms
                        key=|row| row.clone()
                        children=move |(view, title, unread, open)| {
                            let href = room_path(&title);
                            view! {
                                <li>
                                    <a
                                        class="conv"
                                        class:open=open
                                        href=href
                                        aria-current=open.then_some("page")
                                        on:click=move |_| chat.open(view.clone())
                                    >
                                        <span class="conv-name">"# " {title}</span>
                                        <Badge count=unread/>
                                    </a>
                                </li>
                            }
                        }
                    />
                </ul>
                <NewRoom chat/>
            </nav>
            <nav aria-label="Private messages">
                <ul class="conversations directs">
                    <For
                        each=directs
                        key=|row| row.clone()
                        children=move |(view, title, unread, open)| {
                            view! {
                                <li>
                                    <button
                                        class="conv"
                                        class:open=open
                                        aria-current=open.then_some("true")
                                        on:click=move |_| chat.open(view.clone())
                                    >
                                        <span class="conv-name">"@ " {title}</span>
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
                    "Online" {where_} " " <span class="count">{count}</span>
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

/// The words for a room form's refusal, by error code.
fn room_error(code: &str) -> &'static str {
    match code {
        "room_invalid" => "A room name has 1 to 32 lowercase letters, digits and dashes.",
        "too_many_rooms" => "You are in too many rooms; leave one first.",
        _ => "That did not work. Please try again.",
    }
}

/// "Join or create a room": a plain form to `POST /rooms/join`; with wasm it joins over the
/// websocket and moves to the room's page without a reload.
#[component]
fn NewRoom(chat: ChatHandle) -> impl IntoView {
    let query = use_query_map();
    let server_error = move || {
        query
            .read()
            .get("error")
            .filter(|code| code.starts_with("room_") || code == "too_many_rooms")
            .map(|code| room_error(&code))
    };
    let local_error = RwSignal::new(None::<&'static str>);
    let name = RwSignal::new(String::new());
    let navigate = use_navigate();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let room = room_from_input(&name.get_untracked());
        if validate_room(&room).is_err() {
            local_error.set(Some(room_error("room_invalid")));
            return;
        }
        local_error.set(None);
        name.set(String::new());
        chat.join(&room);
        chat.open(View::Room(room.clone()));
        navigate(&room_path(&room), NavigateOptions::default());
    };
    let error = move || local_error.get().or_else(server_error);
    view! {
        <form class="new-room" method="post" action="/rooms/join" on:submit=on_submit>
            <label for="new-room">"Join or create a room"</label>
            <div class="new-room-row">
                <input
                    id="new-room"
                    name="room"
                    type="text"
                    required
                    maxlength=MAX_ROOM_CHARS + 1
                    placeholder="room-name"
                    autocomplete="off"
                    prop:value=name
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
                <button type="submit">"Join"</button>
            </div>
            {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </form>
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
            if el.scroll_top() < 40 {
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
                // The list may be gone by the next frame (the reader left the room).
                let Some(following) = follow.try_get_value() else {
                    return;
                };
                let height = el.scroll_height();
                if following {
                    el.set_scroll_top(height);
                } else if !old_first.is_empty() && old_first != first {
                    el.set_scroll_top(el.scroll_top() + height - old_height);
                }
                let _ = top.try_set_value((first, height));
            });
        }
    });
    let more = move || {
        chat.chat.with(|c| {
            c.current_room().is_some_and(|room| {
                c.is_member(room) && !c.room(room).complete && c.oldest_seq(room).is_some()
            })
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
        query
            .read()
            .get("error")
            .and_then(|code| match code.as_str() {
                "too_long" => Some("That message is too long (4000 characters at most)."),
                "empty" => Some("Type something first."),
                "unknown_room" => Some("You are not in that room; join it first."),
                "unavailable" => Some("That message could not be sent. Please try again."),
                _ => None,
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
            View::Room(room) => format!("Message #{room}  (/help for commands)"),
            View::Direct(_) => format!("Message @{}", c.current().title),
        })
    };
    // Which room the no-JavaScript post goes to.
    let room = move || {
        chat.chat
            .with(|c| c.current_room().map(str::to_owned))
            .unwrap_or_else(|| GENERAL.to_owned())
    };
    view! {
        {move || error().map(|e| view! { <p class="form-error composer-error" role="alert">{e}</p> })}
        <form class="composer" method="post" action="/say" on:submit=on_submit>
            <input type="hidden" name="room" value=room/>
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
