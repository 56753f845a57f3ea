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
    /// The private conversation the page was opened on (`?dm=<name>`, a notification's link).
    pub dm: StoredValue<Option<String>>,
}

impl Nav {
    /// The URL this page was loaded (or rendered) at; in the browser, also follows the back and
    /// forward buttons.
    pub fn install() -> Self {
        let Here {
            path,
            error,
            at,
            dm,
        } = current();
        let nav = Self {
            path: RwSignal::new(path),
            error: RwSignal::new(error),
            at,
            dm: StoredValue::new(dm),
        };
        #[cfg(feature = "hydrate")]
        {
            // Lives as long as the tab, like the page.
            let _ = window_event_listener(leptos::ev::popstate, move |_| {
                let here = current();
                nav.path.set(here.path);
                nav.error.set(here.error);
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

/// What the URL says: its path and its `?error=`, `?at=` and `?dm=`.
struct Here {
    path: String,
    error: Option<String>,
    at: Option<u64>,
    dm: Option<String>,
}

/// The URL: in the browser, the window's; on the server, the request's.
fn current() -> Here {
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        let path = location.pathname().unwrap_or_else(|_| "/".to_owned());
        let params = location
            .search()
            .ok()
            .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok());
        let param = |name: &str| params.as_ref().and_then(|params| params.get(name));
        Here {
            path,
            error: param("error"),
            at: super::paths::position(param("at")),
            dm: param("dm"),
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        server_current()
    }
}

#[cfg(all(feature = "ssr", not(feature = "hydrate")))]
fn server_current() -> Here {
    use leptos_router::hooks::{use_location, use_query_map};
    let query = use_query_map();
    let param = |name: &str| query.read_untracked().get(name);
    Here {
        path: use_location().pathname.get_untracked(),
        error: param("error"),
        at: super::paths::position(param("at")),
        dm: param("dm"),
    }
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn server_current() -> Here {
    Here {
        path: "/".to_owned(),
        error: None,
        at: None,
        dm: None,
    }
}
