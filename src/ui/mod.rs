//! The page: the HTML shell, the router and the chat components, one file per part.
//!
//! Everything here is rendered on the server first and then hydrated in the browser. Who you are is
//! decided on the server from the session cookie ([`page_state::page_state`]): without a session the page is the
//! nickname form, a plain `POST /join` that works before (or without) the wasm; with one it is the
//! chat, already holding the room's latest messages, whose websocket an effect opens after hydration
//! ([`client::start`]). Without wasm the composer is a plain `POST /say`, and joining, creating and
//! leaving rooms are plain forms too.
//!
//! Each room has its own URL: `/` is `#general`, `/r/<room>` any other. Both are children of one
//! parent route, so moving between rooms in the browser keeps the page (and its websocket) and only
//! changes which conversation is on screen.
//!
//! - [`paths`]: which URL shows which room.
//! - [`page_state`]: what the server knows when it renders the chat.
//! - [`join_page`]: the nickname form. [`chat_page`]: the chat around the conversation.
//! - [`sidebar`], [`messages`], [`composer`]: the parts of the chat.
//! - [`errors`]: refusals, in words.

pub mod chat_page;
pub mod composer;
pub mod errors;
pub mod join_page;
pub mod messages;
pub mod page_state;
pub mod paths;
pub mod sidebar;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, Meta, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::{path, SsrMode};

use crate::protocol::GENERAL;
use chat_page::ChatPage;
use join_page::JoinPage;
use page_state::page_state;
use paths::room_of_path;

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
pub(crate) fn hydrated_marker() -> RwSignal<bool> {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    hydrated
}
