//! The HTML document, the router and the pages around the chat island (server only: none of this
//! is compiled to wasm).

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, Meta, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::{use_location, use_query_map};
use leptos_router::{path, SsrMode};

use super::chat_page::ChatPage;
use super::join_page::JoinPage;
use super::page_state::{page_state, Visit};
use super::paths::{position, room_of_path};
use crate::protocol::GENERAL;

/// The whole HTML document, as the server sends it.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    set_content_security_policy(&options);
    // Only the chat island is hydrated (it turns hydration on for itself): nothing else needs
    // hydration markers. Leptos's islands script would say so, but it also waits for the browser
    // to be idle before loading the wasm, so the chat page uses the plain hydration script, whose
    // `hydrate()` hydrates the island at once (`crate::hydrate`).
    if let Some(context) = Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
    // For the chat page, which alone loads the wasm (`ChatPage`).
    provide_context(options.clone());
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                // First: the chat page's early script is among them (`ChatPage`).
                <MetaTags/>
                <HashedStylesheet id="leptos" options/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Sends this page's Content-Security-Policy: scripts only from this server or inline with this
/// response's nonce (Leptos puts it on the hydration script of the chat page), wasm allowed to
/// compile (`'wasm-unsafe-eval'`), no `'unsafe-inline'` anywhere, no framing, forms only to this server.
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
        // Installable: the manifest names the icons; `server::http::worker` is the service worker.
        <Link rel="manifest" href="/manifest.webmanifest"/>
        <Link rel="apple-touch-icon" href="/icon-192.png"/>
        <Meta name="description" content="chinwag: real-time chat"/>
        <Meta name="theme-color" content="#1f6f5c"/>
        <Title text="chinwag"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                // Async: the page waits for who you are before anything is sent, so it arrives as
                // complete HTML that works without wasm (not a template that script moves into
                // place), and with the right status (503 when the store does not answer). In the
                // browser, moving between rooms stays in the page (`ui::nav`).
                <Route path=path!("") view=Home ssr=SsrMode::Async/>
                <Route path=path!("r/:room") view=Home ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

/// `/` and `/r/<room>` (`?at=<seq>` for a permalink to a message): the chat, or the nickname form
/// if this browser has no usable session.
#[component]
fn Home() -> impl IntoView {
    let room = use_location()
        .pathname
        .with_untracked(|path| room_of_path(path))
        .unwrap_or_else(|| GENERAL.to_owned());
    let at = position(use_query_map().read_untracked().get("at"));
    // Awaited here rather than read through a `Resource`: a resource would also write its value
    // into the page for hydration, a second copy of the history the chat island never reads.
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let room = room.clone();
                Suspend::new(async move {
                    match page_state(room, at).await {
                        Ok(Visit::Chat(state)) => view! { <ChatPage state/> }.into_any(),
                        Ok(Visit::Join) => view! { <JoinPage/> }.into_any(),
                        Ok(Visit::Banned { until }) => view! { <Banned until/> }.into_any(),
                        // Not the nickname form: the session is fine, the server is not, for now.
                        Err(_) => view! { <Unavailable/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// This session is banned: the page says until when, and nothing of the chat (403).
#[component]
fn Banned(until: String) -> impl IntoView {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::FORBIDDEN);
    }
    view! {
        <main class="join">
            <div class="join-card" role="alert">
                <h1 class="brand">"chinwag"</h1>
                <p class="lead">"A moderator banned you from this chat until "
                    <time datetime=until.clone()>{until.clone()}</time> "."</p>
            </div>
        </main>
    }
}

/// The server could not tell who this is (its store did not answer): say so, with a way to retry.
#[component]
fn Unavailable() -> impl IntoView {
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
