//! The sidebar: rooms and private conversations with unread badges, the form to join or create a
//! room, and who of the room on screen is online.

use super::avatar::{Avatar, MyPicture};
use super::errors::{about_rooms, describe};
use super::nav::{plain_click, Nav};
use super::paths::{room_from_input, room_path};
use crate::chat::{Parts, View};
use crate::client::ChatHandle;
use crate::protocol::{validate_room, GENERAL, MAX_ROOM_CHARS};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

/// An unread count, read out as "3 unread".
#[component]
pub(super) fn Badge(count: u32) -> impl IntoView {
    (count > 0).then(|| {
        view! {
            <span class="badge">
                {count}
                <span class="sr-only">" unread"</span>
            </span>
        }
    })
}

/// How many unread messages of a room mention me, read out as "2 mentions of you".
#[component]
pub(super) fn MentionBadge(count: u32) -> impl IntoView {
    (count > 0).then(|| {
        view! {
            <span class="badge mention-badge">
                "@" {count}
                <span class="sr-only">" mentions of you"</span>
            </span>
        }
    })
}

/// Rooms (links to their pages) and private conversations, with unread badges; a form to join or
/// create a room; who of the room on screen is online.
///
/// On a phone it is a drawer over the conversation, opened from the top bar (`drawer`), and closed
/// by its Close link or by opening a conversation from it; without wasm, `#sidebar` as the URL's fragment
/// opens it (CSS `:target`).
#[component]
pub fn Sidebar(chat: ChatHandle, drawer: RwSignal<bool>) -> impl IntoView {
    view! {
        <aside class="sidebar" id="sidebar">
            <a
                class="drawer-close"
                href="#"
                on:click=move |ev| {
                    ev.prevent_default();
                    drawer.set(false);
                }
            >
                "Close"
            </a>
            <RoomList chat drawer/>
            <DirectList chat drawer/>
            <People chat drawer/>
        </aside>
    }
}

/// My rooms, as links to their pages, and the form to join or create one.
#[component]
fn RoomList(chat: ChatHandle, drawer: RwSignal<bool>) -> impl IntoView {
    let nav = expect_context::<Nav>();
    let rooms = move || {
        chat.read(Parts::CONVERSATIONS, |c| {
            let current = c.conversations.current_view();
            c.conversations
                .rooms()
                .map(|(view, conv)| {
                    let open = current == view;
                    (view, conv.title.clone(), (conv.unread, conv.mentions), open)
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <nav aria-label="Rooms">
            <ul class="conversations rooms">
                <For
                    each=rooms
                    key=|row| row.clone()
                    children=move |(view, title, (unread, mentions), open)| {
                        let href = room_path(&title);
                        let target = href.clone();
                        view! {
                            <li>
                                <a
                                    class="conv"
                                    class:open=open
                                    href=href
                                    aria-current=open.then_some("page")
                                    on:click=move |ev| {
                                        if !plain_click(&ev) {
                                            return;
                                        }
                                        ev.prevent_default();
                                        nav.go(&target);
                                        chat.open(view.clone());
                                        drawer.set(false);
                                    }
                                >
                                    <span class="conv-name">"# " {title}</span>
                                    <MentionBadge count=mentions/>
                                    <Badge count=unread/>
                                </a>
                            </li>
                        }
                    }
                />
            </ul>
            <NewRoom chat/>
        </nav>
    }
}

/// My private conversations.
#[component]
fn DirectList(chat: ChatHandle, drawer: RwSignal<bool>) -> impl IntoView {
    let directs = move || {
        chat.read(Parts::CONVERSATIONS, |c| {
            let current = c.conversations.current_view();
            c.conversations
                .directs()
                .map(|(view, conv)| {
                    let open = current == view;
                    (view, conv.title.clone(), conv.unread, open)
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
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
                                    on:click=move |_| {
                                        chat.open(view.clone());
                                        drawer.set(false);
                                    }
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
    }
}

/// Who of the room on screen is online (in a private conversation, everyone online), and for a
/// moderator, how long a Mute or Ban lasts.
#[component]
fn People(chat: ChatHandle, drawer: RwSignal<bool>) -> impl IntoView {
    let online = move || {
        chat.read(Parts::PEOPLE | Parts::CONVERSATIONS, |c| {
            match c.conversations.current_room() {
                Some(room) => c.people.members(room).to_vec(),
                None => c.people.online().to_vec(),
            }
        })
    };
    // In a crowd the list holds only some of them; the count is everyone.
    let count = move || {
        chat.read(Parts::PEOPLE | Parts::CONVERSATIONS, |c| {
            c.people
                .head_count(c.conversations.current_room().unwrap_or(GENERAL))
        })
    };
    let where_ = move || {
        chat.read(Parts::CONVERSATIONS, |c| {
            c.conversations
                .current_room()
                .map(|room| format!(" in #{room}"))
        })
        .unwrap_or_default()
    };
    let moderator = Memo::new(move |_| chat.read(Parts::ME, |c| c.moderator));
    // How long a moderator's Mute and Ban last, in seconds (`/mute` and `/ban` take their own).
    let span = RwSignal::new(3600_u64);
    view! {
        <section class="people" aria-labelledby="online-heading">
            <h2 id="online-heading">
                "Online" {where_} " " <span class="count">{count}</span>
            </h2>
            <ul class="online" aria-label="Online">
                <For
                    each=online
                    key=|nick| nick.clone()
                    children=move |nick| person(chat, drawer, moderator, span, nick)
                />
            </ul>
            <Show when=move || moderator.get()>
                <SanctionSpan span/>
            </Show>
        </section>
    }
}

/// One person online, with their picture (mine is the button to change it): me, or a button to write to them privately; whether they are a bot; a
/// moderator's Mute and Ban.
fn person(
    chat: ChatHandle,
    drawer: RwSignal<bool>,
    moderator: Memo<bool>,
    span: RwSignal<u64>,
    nick: String,
) -> impl IntoView {
    // Untracked: my renaming changes this row's key, which rebuilds it.
    let is_me = chat.peek(|c| c.me == nick);
    let peer = nick.clone();
    let bot = chat.peek(|c| c.people.is_bot(&nick));
    let target = nick.clone();
    let controls = (!is_me && !bot).then(|| {
        view! {
            <Show when=move || moderator.get()>
                <span class="mod-controls">
                    {sanction_button(chat, span, false, target.clone())}
                    {sanction_button(chat, span, true, target.clone())}
                </span>
            </Show>
        }
    });
    view! {
        <li>
            {if is_me {
                view! {
                    <MyPicture chat nick=nick.clone()/>
                    <span class="person me-person">{nick}" (you)"</span>
                }
                    .into_any()
            } else {
                view! {
                    <Avatar chat nick=nick.clone() size=20/>
                    <button
                        class="person"
                        title="Send a private message"
                        on:click=move |_| {
                            chat.open(View::Direct(peer.clone()));
                            drawer.set(false);
                        }
                    >
                        {nick}
                    </button>
                }
                    .into_any()
            }}
            {bot.then(|| view! { <span class="bot-badge" title="A bot">"bot"</span> })}
            {controls}
        </li>
    }
}

/// A moderator's choice of how long a Mute or Ban lasts, and the link to the moderation log.
#[component]
fn SanctionSpan(span: RwSignal<u64>) -> impl IntoView {
    view! {
        <p class="moderation-link">
            <label>
                "Mute and ban for "
                <select on:change=move |ev| {
                    if let Ok(secs) = event_target_value(&ev).parse() {
                        span.set(secs);
                    }
                }>
                    <option value="600">"10 minutes"</option>
                    <option value="3600" selected>"1 hour"</option>
                    <option value="86400">"1 day"</option>
                    <option value="604800">"1 week"</option>
                </select>
            </label>
            " · "
            <a href="/moderation" rel="external">"Moderation log"</a>
        </p>
    }
}

/// A moderator's Mute (`ban: false`) or Ban of `nick`, for as long as `span` says.
fn sanction_button(
    chat: ChatHandle,
    span: RwSignal<u64>,
    ban: bool,
    nick: String,
) -> impl IntoView {
    let (class, title, label) = if ban {
        (
            "mod-action ban",
            "Ban for the time chosen below: disconnected, and refused from their address",
            "Ban",
        )
    } else {
        (
            "mod-action mute",
            "Mute for the time chosen below: they can read, not post",
            "Mute",
        )
    };
    let act = move |_| chat.sanction(ban, nick.clone(), span.get_untracked(), String::new());
    view! {
        <button class=class title=title on:click=act>
            {label}
        </button>
    }
}

/// "Join or create a room": a plain form to `POST /rooms/join`; with wasm it joins over the
/// websocket and moves to the room's page without a reload.
#[component]
fn NewRoom(chat: ChatHandle) -> impl IntoView {
    let nav = expect_context::<Nav>();
    let server_error = move || {
        nav.error
            .get()
            .filter(|code| about_rooms(code) || code == "room_limit")
            .map(|code| describe(&code))
    };
    let local_error = RwSignal::new(None::<String>);
    let name = RwSignal::new(String::new());
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let room = room_from_input(&name.get_untracked());
        if validate_room(&room).is_err() {
            local_error.set(Some(describe("room_invalid")));
            return;
        }
        local_error.set(None);
        name.set(String::new());
        chat.join(&room);
        chat.open(View::Room(room.clone()));
        nav.go(&room_path(&room));
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
