//! chinwag: a real-time chat web app. A Leptos page rendered on the server and hydrated in the
//! browser talks over one websocket per tab to an axum handler that keeps a shared broadcast hub.
//!
//! # Layout
//! - [`protocol`]: the wire types (client and server frames, error codes, validation), shared by the
//!   server and the wasm client. Documented for outsiders in `docs/protocol.md`.
//! - [`chat`]: the conversations, online list and typing line the page shows, and how server frames
//!   and the clock change them (pure, unit-tested).
//! - [`command`]: slash commands typed into the composer.
//! - [`client`]: the page's handle on the chat, and in the browser the websocket loop with reconnect.
//! - [`app`]: the HTML shell, router and components.
//! - `hub` (server): rooms, per-room `seq`, bounded broadcast with a lag policy.
//! - `session` (server): sessions, nickname claims, `client_id` de-duplication.
//! - `store` (server): messages in SQLite or PostgreSQL (sqlx), gap-free per-room `seq`.
//! - `limits` (server): rate limits (token buckets) and connection caps.
//! - `metrics` (server): Prometheus metrics, `/metrics`, `/healthz`, `/readyz`.
//! - `post` (server): posting a room message (validate, store, broadcast), for `/ws` and the form.
//! - `rooms` (server): joining and leaving rooms, for `/ws` and the forms.
//! - `forms` (server): `POST /join` (nickname, session cookie) and `POST /say`, for browsers without
//!   JavaScript.
//! - `ws` (server): the `/ws` handler, one task per connection.
//! - `state` (server): what every handler shares.
//! - `server` (server): router, start-up, graceful shutdown.
//!
//! The feature `ssr` builds the server, `hydrate` the wasm client; `cargo leptos` builds both.

// Leptos views are nested types; the chat page's goes deeper than the default limit of 128.
#![recursion_limit = "256"]

pub mod app;
pub mod chat;
pub mod client;
pub mod command;
pub mod protocol;

#[cfg(feature = "ssr")]
pub mod server;

/// The wasm entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
