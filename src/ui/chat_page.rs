//! The chat: the page around the conversation on screen, the connection state, and the prompts to
//! join the room in the URL or leave it.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;

use super::composer::Composer;
use super::messages::MessageList;
use super::page_state::PageData;
use super::paths::{room_of_path, room_path};
use super::sidebar::{Badge, Sidebar};
use crate::chat::View;
use crate::client::ChatHandle;
use crate::protocol::{ServerMsg, Stored, GENERAL};

/// The chat: conversations and who is online beside the messages of the open conversation.
#[component]
pub fn ChatPage(state: PageData) -> impl IntoView {
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
        version: crate::protocol::PROTOCOL_VERSION,
        moderator: state.moderator,
        bots: Vec::new(),
        muted_until: None,
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
            crate::client::start(chat);
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

    // On a phone the sidebar is a drawer over the conversation (see `Sidebar`).
    let drawer = RwSignal::new(false);

    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <h1 class="brand">"chinwag"</h1>
                <DrawerToggle chat drawer/>
                <NotifyControl chat/>
                <ConnectionStatus chat/>
            </header>
            <NewVersion chat/>
            <div class="layout" class:drawer-open=move || drawer.get()>
                <Sidebar chat drawer/>
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

/// On a phone: opens the drawer with the rooms, private conversations and who is online, showing
/// how many unread messages wait there. Hidden on wider screens, where the sidebar is always shown.
#[component]
fn DrawerToggle(chat: ChatHandle, drawer: RwSignal<bool>) -> impl IntoView {
    let unread = Memo::new(move |_| {
        chat.chat.with(|c| {
            c.rooms()
                .chain(c.directs())
                .map(|(_, conv)| conv.unread)
                .sum::<u32>()
        })
    });
    view! {
        <a
            class="drawer-toggle"
            href="#sidebar"
            aria-controls="sidebar"
            aria-expanded=move || drawer.get().to_string()
            on:click=move |ev| {
                ev.prevent_default();
                drawer.update(|open| *open = !*open);
            }
        >
            "Rooms & people"
            {move || view! { <Badge count=unread.get()/> }}
        </a>
    }
}

/// Shown once the server speaks a newer protocol than this page: a reload gets the new page. It
/// never reloads by itself, and offers the reload only when no message of mine would be lost.
#[component]
fn NewVersion(chat: ChatHandle) -> impl IntoView {
    let outdated = Memo::new(move |_| chat.chat.with(|c| c.outdated));
    let unsent = Memo::new(move |_| chat.chat.with(|c| c.outdated.then(|| c.unsent())));
    let reload = move |_| {
        #[cfg(feature = "hydrate")]
        let _ = window().location().reload();
    };
    move || {
        outdated.get().then(|| {
            view! {
                <p class="new-version" aria-live="polite">
                    "A new version of chinwag is available. "
                    {move || match unsent.get() {
                        Some(n) if n > 0 => view! {
                            <span>"Reload once your " {n} " unsent message(s) are sent."</span>
                        }
                            .into_any(),
                        _ => view! {
                            <button type="button" class="reload" on:click=reload>"Reload"</button>
                        }
                            .into_any(),
                    }}
                </p>
            }
        })
    }
}

/// Offers browser notifications (for mentions of me and private messages while the tab is hidden)
/// until the person has answered; asking happens only when they click, never on load. Nothing is
/// shown before hydration, so the server's page and the hydrated one agree.
#[component]
fn NotifyControl(chat: ChatHandle) -> impl IntoView {
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        crate::client::ask_permission(chat);
    };
    move || {
        (chat.notify_permission.get().as_deref() == Some("default")).then(|| {
            view! {
                <button type="button" class="notify secondary" on:click=ask>
                    "Turn on notifications"
                </button>
            }
        })
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
