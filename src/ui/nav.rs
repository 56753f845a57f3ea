//! Moving between rooms inside the page, without a client-side router.
//!
//! The chat is one island (see [`super::chat_page`]): the router runs on the server only, so the
//! page keeps its own note of the URL. Room links stay plain links (they work without wasm, and a
//! middle click or Ctrl-click opens a new tab); a plain click is taken over by [`Nav::go`], which
//! pushes the new URL onto the browser's history, and the back and forward buttons come back
//! through `popstate`. Either way the chat follows [`Nav::path`].

use leptos::prelude::*;

/// The page's URL as the chat sees it.
#[derive(Debug, Clone, Copy)]
pub struct Nav {
    /// The path on screen (`/`, `/r/rust`).
    pub path: RwSignal<String>,
    /// The `?error=` code a form post came back with, until the reader moves on.
    pub error: RwSignal<Option<String>>,
    /// The message a permalink (`?at=<seq>`) opened the page at: brought into view, highlighted.
    pub at: Option<u64>,
}

impl Nav {
    /// The URL this page was loaded (or rendered) at; in the browser, also follows the back and
    /// forward buttons.
    pub fn install() -> Self {
        let (path, error, at) = current();
        let nav = Self {
            path: RwSignal::new(path),
            error: RwSignal::new(error),
            at,
        };
        #[cfg(feature = "hydrate")]
        {
            // Lives as long as the tab, like the page.
            let _ = window_event_listener(leptos::ev::popstate, move |_| {
                let (path, error, _) = current();
                nav.path.set(path);
                nav.error.set(error);
            });
        }
        nav
    }

    /// Shows `path` as a new entry of the browser's history (the page stays; the chat follows).
    pub fn go(&self, path: &str) {
        #[cfg(feature = "hydrate")]
        if let Ok(history) = window().history() {
            let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path));
        }
        self.error.set(None);
        self.path.set(path.to_owned());
    }
}

/// Whether a click on a link should be taken over by the page: a plain left click, not one that
/// asks for a new tab or window.
pub fn plain_click(ev: &leptos::ev::MouseEvent) -> bool {
    ev.button() == 0 && !(ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key())
}

/// The path, `?error=` code and `?at=` position of the URL: in the browser, the window's; on the
/// server, the request's.
fn current() -> (String, Option<String>, Option<u64>) {
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        let path = location.pathname().unwrap_or_else(|_| "/".to_owned());
        let params = location
            .search()
            .ok()
            .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok());
        let error = params.as_ref().and_then(|params| params.get("error"));
        let at = params.and_then(|params| params.get("at"));
        (path, error, super::paths::position(at))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        server_current()
    }
}

#[cfg(all(feature = "ssr", not(feature = "hydrate")))]
fn server_current() -> (String, Option<String>, Option<u64>) {
    use leptos_router::hooks::{use_location, use_query_map};
    let path = use_location().pathname.get_untracked();
    let query = use_query_map();
    let error = query.read_untracked().get("error");
    let at = super::paths::position(query.read_untracked().get("at"));
    (path, error, at)
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn server_current() -> (String, Option<String>, Option<u64>) {
    ("/".to_owned(), None, None)
}
