//! The composer: the text field and Send button, a plain form without JavaScript.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::errors::{about_messages, describe};
use super::nav::Nav;
use crate::chat::{Parts, View};
use crate::client::ChatHandle;
use crate::protocol::{GENERAL, MAX_TEXT_CHARS};

/// The text field and Send button. Enter sends (it submits the form), and so does the button. Without
/// wasm the form posts to `/say` and the page reloads with the message in it.
#[component]
pub fn Composer(chat: ChatHandle) -> impl IntoView {
    let nav = expect_context::<Nav>();
    let error = move || {
        nav.error
            .get()
            .filter(|code| about_messages(code))
            .map(|code| describe(&code))
    };
    let draft = RwSignal::new(String::new());
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        chat.submit(&text);
        draft.set(String::new());
    };
    let placeholder = move || {
        chat.read(Parts::CONVERSATIONS, |c| {
            match c.conversations.current_view() {
                View::Room(room) => format!("Message #{room}  (/help for commands)"),
                View::Direct(_) => format!("Message @{}", c.conversations.current().title),
            }
        })
    };
    // Which room the no-JavaScript post goes to.
    let room = move || {
        chat.read(Parts::CONVERSATIONS, |c| {
            c.conversations.current_room().map(str::to_owned)
        })
        .unwrap_or_else(|| GENERAL.to_owned())
    };
    view! {
        {move || error().map(|e| view! { <p class="form-error composer-error" role="alert">{e}</p> })}
        <form class="composer" method="post" action="/say" on:submit=on_submit>
            <input type="hidden" name="room" value=room/>
            <input
                type="text"
                name="text"
                aria-label="Message"
                placeholder=placeholder
                autocomplete="off"
                maxlength=MAX_TEXT_CHARS
                prop:value=draft
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    chat.input_changed(!text.trim().is_empty());
                    draft.set(text);
                }
                on:blur=move |_| chat.stop_typing()
            />
            <button type="submit">"Send"</button>
        </form>
    }
}
