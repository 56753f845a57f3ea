//! The chat: the page around the conversation on screen, the connection state, and the prompts to
//! join the room in the URL or leave it.
//!
//! [`ChatApp`] is the page's one island: the only part of the page compiled to wasm and hydrated.
//! Everything around it (the document, the router, the nickname form) is rendered on the server
//! only. It takes no props (they would be serialized with serde_json, which the wasm does without):
//! its first state is two protocol frames the server writes into the page ([`ChatPage`]), read in
//! the browser with the websocket's own decoder.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::composer::Composer;
use super::message_list::MessageList;
use super::nav::Nav;
use super::paths::{room_of_path, room_path};
use super::search::{SearchBox, SearchResults};
use super::sidebar::{Badge, Sidebar};
use crate::chat::{Chat, Parts, View};
use crate::client::ChatHandle;
use crate::protocol::{ServerMsg, GENERAL};

/// The `id` of the script element holding the chat's first frames.
const INIT_ID: &str = "cw-init";

pub use crate::client::EARLY_SOCKET;

/// Run where the parser meets it, before the rest of the page is parsed and laid out: starts
/// compiling the wasm (`%WASM%`) as it downloads, and opens `/ws` and says the page's `hello`
/// (`%HELLO%`, a JSON string), keeping what arrives until the client takes the socket over
/// (`client::browser`). Where either is impossible, the client does it later as usual: without
/// WebAssembly no socket is opened (nothing would take it over), a failed compile hands the client
/// the download instead, and a socket not taken over within a minute (the wasm failed) is closed.
/// (Addresses in double quotes, as in the page's attributes, for tools that read them.)
#[cfg(feature = "ssr")]
const EARLY_SCRIPT: &str = "(()=>{if(typeof WebAssembly!=='object')return;\
try{if(WebAssembly.compileStreaming)window.cwWasm=WebAssembly.compileStreaming(fetch(\"%WASM%\"))\
.catch(()=>fetch(\"%WASM%\"))}catch(e){}\
try{const w=new WebSocket(location.origin.replace(/^http/,'ws')+'/ws'),q=[];\
w.onopen=()=>w.send(%HELLO%);w.onmessage=e=>q.push(e.data);window.%NAME%={w,q};\
setTimeout(()=>{if(window.%NAME%){delete window.%NAME%;w.close()}},60000)}catch(e){}})()";

/// Loads the client once the page is parsed (a module script) and hydrates the chat: Leptos's
/// hydration script, except that the wasm is the module the early script is already compiling.
/// Then registers the service worker (`server::http::worker`), which keeps this build's files for
/// the next visit.
#[cfg(feature = "ssr")]
const HYDRATE_SCRIPT: &str = "import init,{hydrate} from \"%JS%\";\
init({module_or_path:window.cwWasm||\"%WASM%\"}).then(()=>{hydrate();\
navigator.serviceWorker&&navigator.serviceWorker.register(\"/sw.js\").catch(()=>{})})";

/// The client's files as `cargo leptos` named them: paths on the site.
#[cfg(feature = "ssr")]
#[derive(Debug)]
pub struct ClientFiles {
    pub js: String,
    pub wasm: String,
    pub css: String,
}

/// The client's JavaScript, wasm and stylesheet, as `cargo leptos` named them (with their content
/// hashes, from the hash file beside the server's binary, when `hash_files` is on): the names
/// Leptos's `HydrationScripts` and `HashedStylesheet` compute, read once rather than on every page
/// (the hash file is written by the build, before the server starts).
#[cfg(feature = "ssr")]
pub fn client_files(options: &LeptosOptions) -> &'static ClientFiles {
    static FILES: std::sync::OnceLock<ClientFiles> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let mut js = options.output_name.to_string();
        let mut wasm = js.clone();
        let mut css = js.clone();
        if options.hash_files {
            let hashes = std::env::current_exe()
                .ok()
                .and_then(|exe| Some(exe.parent()?.join(options.hash_file.as_ref())))
                .and_then(|path| std::fs::read_to_string(path).ok())
                .unwrap_or_default();
            for (file, hash) in hashes.lines().filter_map(|line| line.split_once(':')) {
                match file.trim() {
                    "js" => js = format!("{js}.{}", hash.trim()),
                    "wasm" => wasm = format!("{wasm}.{}", hash.trim()),
                    "css" => css = format!("{css}.{}", hash.trim()),
                    _ => {}
                }
            }
        } else if option_env!("LEPTOS_OUTPUT_NAME").is_none() {
            wasm.push_str("_bg");
        }
        let pkg = &options.site_pkg_dir;
        ClientFiles {
            js: format!("/{pkg}/{js}.js"),
            wasm: format!("/{pkg}/{wasm}.wasm"),
            css: format!("/{pkg}/{css}.css"),
        }
    })
}

/// The chat page for a session: the scripts that load the wasm, the chat's first frames, then the
/// chat island.
#[cfg(feature = "ssr")]
#[component]
pub fn ChatPage(state: super::page_state::PageData) -> impl IntoView {
    let frames = state.frames();
    // The history's messages are in the page once, as rendered lines, which the browser reads
    // back (`message_list::rendered_history`); the frame written here says only which room and whether
    // that history is complete.
    let text = frames
        .iter()
        .map(|frame| {
            let mut frame = frame.clone();
            if let ServerMsg::History { messages, .. } = &mut frame {
                messages.clear();
            }
            frame.to_json()
        })
        // One frame per line (a frame's JSON holds no raw newline). `<` only occurs inside JSON
        // strings, where `\u003c` means the same, so no nickname can close the script.
        .map(|json| json.replace('<', "\\u003c"))
        .collect::<Vec<_>>()
        .join("\n");
    // The `hello` the client would send for these frames, sent by the page itself: the welcome is
    // usually in before the wasm is hydrated. A JSON string is a JavaScript string literal; `<`
    // escaped as above.
    let mut chat = Chat::default();
    for frame in &frames {
        chat.apply(frame, 0.0);
    }
    let hello = serde_json::to_string(&crate::client::hello(&chat).encode())
        .unwrap_or_default()
        .replace('<', "\\u003c");
    provide_context(InitFrames(frames.into()));
    // Only this page loads the wasm: the nickname form and the error page need none.
    let scripts = use_context::<LeptosOptions>().map(|options| {
        let ClientFiles { js, wasm, .. } = client_files(&options);
        let early = EARLY_SCRIPT
            .replace("%WASM%", wasm)
            .replace("%HELLO%", &hello)
            .replace("%NAME%", EARLY_SOCKET);
        let load = HYDRATE_SCRIPT.replace("%JS%", js).replace("%WASM%", wasm);
        let nonce = leptos::nonce::use_nonce();
        // In the head, ahead of the stylesheet: a script after a stylesheet waits for it to load.
        let early_nonce = nonce
            .as_ref()
            .map(|n| n.as_inner().to_string())
            .unwrap_or_default();
        view! {
            // The early script's `fetch` takes this download over (same URL, same CORS mode).
            <leptos_meta::Link
                rel="preload"
                href=wasm.clone()
                as_="fetch"
                type_="application/wasm"
                crossorigin=""
            />
            <leptos_meta::Script nonce=early_nonce>{early}</leptos_meta::Script>
            <link rel="modulepreload" href=js.clone()/>
            <script type="module" nonce=nonce inner_html=load></script>
        }
    });
    view! {
        {scripts}
        <script type="application/json" id=INIT_ID inner_html=text></script>
        <ChatApp/>
    }
}

/// The chat's first frames, as the server hands them to the island it renders.
#[derive(Clone)]
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
struct InitFrames(Vec<ServerMsg>);

/// The chat's first frames: on the server, the page's data; in the browser, read back from the
/// page (the history's messages from its rendered lines).
fn init_frames() -> Vec<ServerMsg> {
    #[cfg(feature = "hydrate")]
    {
        let mut frames: Vec<ServerMsg> = document()
            .get_element_by_id(INIT_ID)
            .and_then(|script| script.text_content())
            .map(|text| text.lines().filter_map(ServerMsg::decode).collect())
            .unwrap_or_default();
        for frame in &mut frames {
            if let ServerMsg::History { room, messages, .. } = frame {
                *messages = super::message_list::rendered_history(room);
            }
        }
        frames
    }
    #[cfg(not(feature = "hydrate"))]
    {
        use_context::<InitFrames>()
            .map(|frames| frames.0)
            .unwrap_or_default()
    }
}

/// Hydrates the chat island the server rendered, if the page has one (the nickname page has
/// none), as the generated island entry point would, without waiting for Leptos's island script.
#[cfg(feature = "hydrate")]
pub fn hydrate_chat() {
    use leptos::tachys::view::{Position, RenderHtml};

    let Some(island) = document().query_selector("leptos-island").ok().flatten() else {
        return;
    };
    let state = ChatApp().hydrate_from_position::<true>(&island, Position::Current);
    // The chat lives as long as the page.
    std::mem::forget(state);
}

/// The chat: conversations and who is online beside the messages of the open conversation.
#[island]
pub fn ChatApp() -> impl IntoView {
    let (chat, nav) = first_state();
    let hydrated = chat.hydrated;
    // Effects run only in the browser, after hydration: this is where the websocket opens.
    Effect::new(move |_| {
        untrack(|| {
            hydrated.set(true);
            #[cfg(feature = "hydrate")]
            crate::client::start(chat);
            if let Some(peer) = nav.dm.get_value().filter(|peer| !peer.is_empty()) {
                chat.open(View::Direct(peer));
            }
        })
    });
    // The URL names the room on screen: follow it when the reader moves between rooms (links, back
    // and forward buttons).
    // The page opened what its URL says already (a room at a permalink's message or at the first
    // unread one, or a private conversation): opening it again would forget that.
    Effect::new(move |first: Option<()>| {
        let room = nav.path.with(|path| room_of_path(path));
        if first.is_none() {
            return;
        }
        if let Some(view) = room.map(View::Room) {
            if chat.peek(|c| c.conversations.current_view() != view) {
                chat.open(view);
            }
        }
    });
    // On a phone the sidebar is a drawer over the conversation (see `Sidebar`).
    let drawer = RwSignal::new(false);

    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <h1 class="brand">"chinwag"</h1>
                <DrawerToggle chat drawer/>
                <ConnectionStatus chat/>
            </header>
            <NewVersion chat/>
            <div class="layout" class:drawer-open=move || drawer.get()>
                <Sidebar chat drawer/>
                <Conversation chat/>
            </div>
        </div>
    }
}

/// The chat as the page starts it, and the page's navigation (provided as context): the session's
/// rooms and the room's latest messages are part of the page itself; the websocket later asks only
/// for what is newer.
fn first_state() -> (ChatHandle, Nav) {
    let frames = init_frames();
    let me = frames
        .iter()
        .find_map(|frame| match frame {
            ServerMsg::Welcome { nick, .. } => Some(nick.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let chat = ChatHandle::new(me);
    let nav = Nav::install();
    provide_context(nav);
    let room = nav
        .path
        .with_untracked(|path| room_of_path(path))
        .unwrap_or_else(|| GENERAL.to_owned());
    chat.change(|c| {
        for frame in &frames {
            c.apply(frame, 0.0);
        }
        // A permalink opens the room at its message, brought into view and highlighted. (A
        // notification's `?dm=` is opened once hydrated: the page shows the room, whose rendered
        // lines are where the browser reads the room's history from.)
        match nav.at {
            Some(seq) => c.jump_to(&room, seq),
            None => c.open(View::Room(room)),
        }
        Parts::ALL
    });
    (chat, nav)
}

/// The open conversation: its title (and Leave, for a room I may leave), then its messages, who is
/// typing and the composer; for a room in the URL I am not in, the offer to join it instead.
#[component]
fn Conversation(chat: ChatHandle) -> impl IntoView {
    let title = move || {
        chat.read(Parts::CONVERSATIONS, |c| {
            match c.conversations.current_view() {
                View::Room(room) => format!("# {room}"),
                View::Direct(_) => format!("@ {}", c.conversations.current().title),
            }
        })
    };
    let typing = move || {
        chat.read(Parts::TYPING, Chat::typing_line)
            .unwrap_or_default()
    };
    // A room in the URL that this session is not in: offer to join it. Memos, so the views below
    // are rebuilt only when these change, not on every message.
    let outside = Memo::new(move |_| {
        chat.read(Parts::CONVERSATIONS, |c| {
            c.conversations
                .current_room()
                .filter(|room| !c.conversations.is_member(room))
                .map(str::to_owned)
        })
    });
    let leavable = Memo::new(move |_| {
        chat.read(Parts::CONVERSATIONS, |c| {
            c.conversations
                .current_room()
                .filter(|room| *room != GENERAL && c.conversations.is_member(room))
                .map(str::to_owned)
        })
    });
    view! {
        <main class="chat">
            <div class="conv-head">
                <h2 class="conv-title">{title}</h2>
                <SearchBox chat/>
                {move || leavable.get().map(|room| view! { <LeaveRoom chat room/> })}
            </div>
            <SearchResults chat/>
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
    }
}

/// For a room in the URL that I am not in: what it is and a button to join it.
#[component]
fn JoinRoomPrompt(chat: ChatHandle, room: String) -> impl IntoView {
    let target = room.clone();
    let nav = expect_context::<Nav>();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        chat.join(&target);
        nav.go(&room_path(&target));
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
    let nav = expect_context::<Nav>();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        chat.leave(&target);
        nav.go("/");
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
        chat.read(Parts::CONVERSATIONS, |c| {
            c.conversations
                .rooms()
                .chain(c.conversations.directs())
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
    let outdated = Memo::new(move |_| chat.read(Parts::ME, |c| c.outdated));
    let unsent = Memo::new(move |_| chat.read(Parts::ME, |c| c.outdated.then(|| c.unsent())));
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

/// The settings menu at the end of the top bar: browser notifications and the account page. A
/// popover (the browser opens and closes it, from the keyboard too, with or without wasm; Escape
/// or a click elsewhere closes it), so the top bar stays one line on a phone.
#[component]
fn Settings(chat: ChatHandle) -> impl IntoView {
    view! {
        <button type="button" class="settings-button" popovertarget="settings" title="Settings">
            <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                <path d="M4 6h16M4 12h16M4 18h16" stroke="currentColor" stroke-width="2"
                    stroke-linecap="round"/>
            </svg>
            <span class="sr-only">"Settings"</span>
        </button>
        <div id="settings" class="settings-menu" popover="auto" role="group" aria-label="Settings">
            <NotifyControl chat/>
            <a href="/account" rel="external" class="account-link">"Account and devices"</a>
        </div>
    }
}

/// Browser notifications (for mentions of me and private messages while the tab is hidden):
/// offered until the person has answered, asked only when they click, never on load; then what
/// they answered. Says nothing before hydration, so the server's page and the hydrated one agree.
#[component]
fn NotifyControl(chat: ChatHandle) -> impl IntoView {
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        crate::client::ask_permission(chat);
    };
    let state = move || match chat.notify_permission.get().as_deref() {
        Some("default") => Some(
            view! {
                <button type="button" class="notify" on:click=ask>"Turn on notifications"</button>
            }
            .into_any(),
        ),
        Some("granted") => {
            Some(view! { <p class="setting-state">"Notifications are on"</p> }.into_any())
        }
        Some("denied") => Some(
            view! {
                <p class="setting-state">"Notifications are blocked in this browser's settings"</p>
            }
            .into_any(),
        ),
        Some(_) => Some(
            view! { <p class="setting-state">"This browser cannot show notifications"</p> }
                .into_any(),
        ),
        None => None,
    };
    view! { <div class="setting">{state}</div> }
}

/// The connection state and my nickname, announced politely to screen readers when it changes.
#[component]
fn ConnectionStatus(chat: ChatHandle) -> impl IntoView {
    view! {
        <div class="status-bar">
            <p class="status" role="status" data-state=move || chat.status.get().as_str()>
                <span class="dot" aria-hidden="true"></span>
                <span class="status-label">{move || chat.status.get().label()}</span>
            </p>
            <p class="me">"You are " <strong>{move || chat.read(Parts::ME, |c| c.me.clone())}</strong></p>
            <Settings chat/>
        </div>
    }
}
