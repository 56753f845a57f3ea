//! The nickname form.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::errors::describe;
use super::hydrated_marker;
use crate::protocol::MAX_NICK_CHARS;

/// The nickname form: a plain HTML form, so it works before the wasm has loaded, or without it.
#[component]
pub fn JoinPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("error").map(|code| describe(&code));
    let nick = query.read_untracked().get("nick").unwrap_or_default();
    let hydrated = hydrated_marker();
    view! {
        <main class="join" data-hydrated=move || hydrated.get().to_string()>
            <form class="join-card" method="post" action="/join">
                <h1 class="brand">"chinwag"</h1>
                <p class="lead">"Pick a nickname to start chatting."</p>
                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <label for="nick">"Nickname"</label>
                <input
                    id="nick"
                    name="nick"
                    type="text"
                    required
                    maxlength=MAX_NICK_CHARS
                    autocomplete="nickname"
                    value=nick
                />
                <button type="submit">"Join"</button>
            </form>
        </main>
    }
}
