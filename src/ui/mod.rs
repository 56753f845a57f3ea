//! The page: the HTML document, the router and the chat components, one file per part.
//!
//! Everything is rendered on the server; only the chat itself ([`chat_page::ChatApp`], the page's
//! one island) is compiled to wasm and hydrated in the browser. Who you are is decided on the
//! server from the session cookie ([`page_state::page_state`]): without a session the page is the
//! nickname form, a plain `POST /join` that needs no wasm; with one it is the chat, already holding
//! the room's latest messages, whose websocket the page opens at once (a few lines of inline script
//! in [`chat_page::ChatPage`]) and the island takes over once hydrated
//! ([`client::start`](crate::client)), so connecting overlaps loading the wasm. Without wasm the composer is a plain `POST /say`, and
//! joining, creating and leaving rooms are plain forms too.
//!
//! Each room has its own URL: `/` is `#general`, `/r/<room>` any other. The router runs on the
//! server; in the browser, moving between rooms keeps the page (and its websocket) and only changes
//! which conversation is on screen ([`nav`]).
//!
//! - [`document`] (server): the shell, the routes, and what a page shows for a session.
//! - [`paths`]: which URL shows which room. [`nav`]: moving between them in the page.
//! - [`page_state`] (server): what the server knows when it renders the chat.
//! - [`join_page`] (server): the nickname form. [`chat_page`]: the chat island.
//! - [`sidebar`], [`message_list`], [`composer`]: the parts of the chat.
//! - [`avatar`]: people's pictures, and the button to change mine.
//! - [`reactions`]: reaction chips under a message, and the emoji picker.
//! - [`search`]: the search box (Ctrl+K) and its results.
//! - [`errors`]: refusals, in words.

pub mod avatar;
pub mod chat_page;
pub mod composer;
#[cfg(feature = "ssr")]
mod document;
pub mod errors;
#[cfg(feature = "ssr")]
pub mod join_page;
pub mod message_list;
pub mod nav;
#[cfg(feature = "ssr")]
pub mod page_state;
pub mod paths;
pub mod reactions;
pub mod search;
pub mod sidebar;

pub use chat_page::EARLY_SOCKET;
#[cfg(feature = "ssr")]
pub use document::{shell, App};
