//! chinwag: a real-time chat web app. A Leptos page rendered on the server, whose chat (one island)
//! is hydrated in the browser, talks over one websocket per tab to an axum handler that keeps a
//! shared broadcast hub.
//!
//! # Layout
//! Shared by the server and the wasm client:
//! - [`protocol`]: the wire types (client and server frames, error codes, rules), documented for
//!   outsiders in `docs/protocol.md`.
//! - [`chat`]: the page's chat model: conversations, my messages' states, who is online, the
//!   typing line, and how server frames and the clock change them (pure, unit-tested).
//! - [`slash`]: slash commands typed into the composer (`/nick`, `/join`, `/me`...), not to be
//!   confused with the wire's commands (`server::ws::cmd`).
//! - [`client`]: the page's handle on the chat; in the browser, the websocket loop with reconnect.
//! - [`ui`]: the chat island and its components; on the server, the HTML document and the router.
//!
//! The server (feature `ssr`), all under [`server`]:
//! - `server::config`: every setting, from flags and the environment, validated once.
//! - `server::http`: router, accept loop (header deadline, connection caps), forms, cross-site
//!   check, `/healthz`, `/readyz`, `/metrics`.
//! - `server::ws`: `GET /ws`, one task per connection (`socket`, `handshake`, `catch_up`,
//!   `deliver`, and `cmd/` with one module per client command).
//! - `server::hub`: live rooms (freed when unused) and their broadcast rings, group commit of room
//!   and private messages, who is online.
//! - `server::session`: sessions and nickname claims, a bounded cache of the store's.
//! - `server::membership`, `server::posting`: joining and leaving rooms, posting a message.
//! - `server::store`: SQLite or PostgreSQL, the authority on everything that outlives a connection.
//! - `server::files`: shared files (uploads, pictures, storage in a directory or an S3 bucket).
//! - `server::bus`, `server::cluster`: several servers as one (Redis between them): what each
//!   tells the others, and what each reads from the store when the bus lost it.
//! - `server::limits`, `server::metrics`, `server::clock`, `server::state`.
//!
//! Dependencies point one way: `protocol` ← `chat` ← `client` ← `ui`; on the server, `ws` and
//! `http` use `membership` and `messages`, which use `hub`, `session` and `store`; `store`,
//! `limits`, `metrics` and `clock` use nothing of the server's; `cluster` feeds what `bus`
//! brings into `hub` and `session`, and `hub` publishes on `bus`. The page reaches into the server
//! in one place, `ui::page_state` (server only), and the server uses the page's shell,
//! routes and `ui::paths`.
//!
//! # The main types
//! One concept each, none over 25 methods:
//!
//! | type | owns |
//! |---|---|
//! | `server::store::Store` | the pool; views per concept: `messages()`, `directs()`, `rooms()`, `people()`, `accounts()`, `moderation()`, `reads()`, `files()` |
//! | `server::hub::Hub` | live rooms, group commit, the bus; `presence()` (`Directory`), `ingress()` (`Ingress`), `repair()` (`Repair`) |
//! | `server::session::Sessions`, `SessionCache` | sessions through the store; the bounded cache |
//! | `server::ws::Connection`, `Live` | one websocket's socket; its state as one value |
//! | `server::files::Files`, `Storage` | uploads and their limits; a directory or an S3 bucket |
//! | [`chat::Chat`] | the page's model: `Conversations`, `Timeline`, `Outbox`, `Roster`, `Reads`, `Typing`, `Attention` |
//!
//! The feature `ssr` builds the server, `hydrate` the wasm client; `cargo leptos` builds both.

// Leptos views are nested types; the chat page's goes deeper than the default limit of 128.
#![recursion_limit = "256"]

pub mod chat;
pub mod client;
pub mod protocol;
pub mod slash;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod server;

/// The wasm entry point, called by Leptos's hydration script as soon as the wasm is loaded:
/// hydrates the page's one island, the chat.
///
/// Leptos's own islands script would wait for the browser to be idle before even loading the
/// wasm, which delayed a usable composer by about a hundred milliseconds here; the page's only
/// island is hydrated at once instead (`ui::chat_page::hydrate_chat`).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Debug builds only: the hook formats the panic for the console, and that formatting code is
    // a few KB of the release wasm; a release panic still shows in the console as a trap.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    ui::chat_page::hydrate_chat();
}
