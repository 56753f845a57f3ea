//! The nickname form (server only: it needs no wasm).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::errors::describe;
use crate::protocol::MAX_NICK_CHARS;

/// The nickname form: a plain HTML form, so it works without wasm.
#[component]
pub fn JoinPage() -> impl IntoView {
    let query = use_query_map();
    let error = query
        .read_untracked()
        .get("error")
        .map(|code| describe(&code));
    let nick = query.read_untracked().get("nick").unwrap_or_default();
    // An invitation's form comes back here on a refusal, with its invitation.
    let invite = query.read_untracked().get("invite").unwrap_or_default();
    view! {
        <main class="join">
            <form class="join-card" method="post" action="/join">
                <h1 class="brand">"chinwag"</h1>
                <p class="lead">"Pick a nickname to start chatting."</p>
                {error.map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
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
                {(!invite.is_empty()).then(|| view! { <input type="hidden" name="invite" value=invite/> })}
                <button type="submit">"Join"</button>
                <p class="sign-in">"Have a name here? " <a href="/login" rel="external">"Sign in"</a></p>
            </form>
        </main>
    }
}
