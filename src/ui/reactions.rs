//! Reactions under a message: a chip per emoji with its count (mine highlighted, who reacted in
//! its title and its accessible name), a click toggles mine; and a small picker with a search
//! field to add one. All of it works from the keyboard: the chips and the picker's emoji are
//! buttons, the search field takes the focus when the picker opens, and Escape closes it.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::chat::View;
use crate::client::ChatHandle;

/// The picker's emoji, with the words that find them.
pub const PICKER: &[(&str, &str)] = &[
    ("👍", "thumbs up yes like"),
    ("👎", "thumbs down no dislike"),
    ("❤️", "heart love"),
    ("😂", "laughing joy funny"),
    ("🎉", "party tada congratulations"),
    ("😮", "surprised wow"),
    ("😢", "sad cry"),
    ("🙏", "thanks please pray"),
    ("🔥", "fire hot"),
    ("👀", "eyes looking"),
    ("✅", "done check yes"),
    ("🚀", "rocket ship launch"),
    ("💯", "hundred perfect"),
    ("🤔", "thinking hmm"),
    ("👏", "clap applause"),
    ("😍", "love eyes"),
    ("🙌", "hooray raised hands"),
    ("😅", "sweat smile phew"),
    ("🤝", "handshake deal"),
    ("⭐", "star"),
    ("☕", "coffee"),
    ("🐛", "bug"),
    ("💡", "idea light bulb"),
    ("⚠️", "warning"),
    ("❌", "no cross wrong"),
    ("➕", "plus one agree"),
    ("😎", "cool sunglasses"),
    ("🥳", "celebrate party"),
    ("😴", "sleepy tired"),
    ("🍕", "pizza food"),
];

/// The reactions of a message, and the picker when it can take them (`target`: stored, not
/// deleted): its conversation and its place there (`seq` in a room, `id` in a private one).
pub fn reaction_bar(
    chat: ChatHandle,
    target: Option<(View, u64)>,
    reactions: BTreeMap<String, Vec<String>>,
) -> impl IntoView {
    if target.is_none() && reactions.is_empty() {
        return None;
    }
    let me = chat.peek(|c| c.me.clone());
    let chips = reactions
        .into_iter()
        .map(|(emoji, who)| {
            let mine = who.contains(&me);
            let count = who.len();
            let names = who.join(", ");
            // Read back at hydration (`message_list::rendered_history`).
            let data_who = who.join("\n");
            let data_emoji = emoji.clone();
            let label = format!("{emoji} {count}: {names}");
            let target = target.clone();
            let toggle = emoji.clone();
            view! {
                <li>
                    <button
                        type="button"
                        class="reaction"
                        class:mine=mine
                        aria-pressed=mine.to_string()
                        aria-label=label
                        title=names
                        data-emoji=data_emoji
                        data-who=data_who
                        on:click=move |_| {
                            if let Some((view, at)) = &target {
                                chat.react(view, *at, &toggle, !mine);
                            }
                        }
                    >
                        {emoji}
                        " "
                        <span class="reaction-count">{count}</span>
                    </button>
                </li>
            }
        })
        .collect_view();
    let picker = target.map(|(view, at)| view! { <li><Picker chat view at/></li> });
    Some(view! { <ul class="reactions" aria-label="Reactions">{chips} {picker}</ul> })
}

/// "Add a reaction": a search field and the emoji it finds.
#[component]
fn Picker(chat: ChatHandle, view: View, at: u64) -> impl IntoView {
    let open = RwSignal::new(false);
    let find = RwSignal::new(String::new());
    let shown = move || {
        let words = find.get().to_lowercase();
        PICKER
            .iter()
            .filter(|(_, names)| words.trim().is_empty() || names.contains(words.trim()))
            .map(|(emoji, names)| {
                let view = view.clone();
                let label = format!("{emoji} {}", names.split(' ').next().unwrap_or(""));
                view! {
                    <button
                        type="button"
                        class="pick"
                        aria-label=label
                        title=*names
                        on:click=move |_| {
                            chat.react(&view, at, emoji, true);
                            open.set(false);
                            find.set(String::new());
                        }
                    >
                        {*emoji}
                    </button>
                }
            })
            .collect_view()
    };
    let button = NodeRef::<leptos::html::Button>::new();
    let field = NodeRef::<leptos::html::Input>::new();
    // Opened: the search field takes the focus.
    Effect::new(move |_| {
        if open.get() {
            if let Some(field) = field.get() {
                let _ = field.focus();
            }
        }
    });
    let escape = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            open.set(false);
            if let Some(button) = button.get_untracked() {
                let _ = button.focus();
            }
        }
    };
    view! {
        <span class="react-picker" on:keydown=escape>
            <button
                type="button"
                class="react-open"
                aria-label="Add a reaction"
                title="Add a reaction"
                aria-expanded=move || open.get().to_string()
                node_ref=button
                on:click=move |_| open.update(|open| *open = !*open)
            >
                "☺+"
            </button>
            <Show when=move || open.get()>
                <div class="picker-panel">
                    <input
                        type="search"
                        aria-label="Find an emoji"
                        placeholder="Find an emoji"
                        node_ref=field
                        prop:value=find
                        on:input=move |ev| find.set(event_target_value(&ev))
                    />
                    <div class="picks">{shown.clone()}</div>
                </div>
            </Show>
        </span>
    }
}
