//! The search box (Ctrl+K, or a click) and its results over the conversation: each hit with its
//! conversation, author, time and the matched words highlighted; a click (or Enter) opens the
//! message in its conversation. Results come page by page ("Older results").

use leptos::html;
use leptos::prelude::*;

use crate::chat::search::Ask;
use crate::chat::Parts;
use crate::client::{self, ChatHandle};
use crate::protocol::SearchHit;

/// The search field.
#[component]
pub fn SearchBox(chat: ChatHandle) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let query = RwSignal::new(String::new());
    focus_on_ctrl_k(input);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        chat.search(Ask::Query(&query.get_untracked()));
    };
    let keys = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            query.set(String::new());
            chat.search(Ask::Close);
        }
    };
    view! {
        <form class="search-box" role="search" on:submit=submit>
            <label for="search" class="sr-only">"Search messages"</label>
            <input
                id="search"
                type="search"
                name="q"
                placeholder="Search (Ctrl+K)"
                autocomplete="off"
                aria-keyshortcuts="Control+K"
                node_ref=input
                prop:value=query
                on:input=move |ev| query.set(event_target_value(&ev))
                on:keydown=keys
            />
        </form>
    }
}

/// Ctrl+K (Cmd+K on a Mac) anywhere on the page moves to the search field.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
fn focus_on_ctrl_k(input: NodeRef<html::Input>) {
    #[cfg(feature = "hydrate")]
    {
        let listener = window_event_listener(leptos::ev::keydown, move |ev| {
            if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("k") {
                ev.prevent_default();
                if let Some(input) = input.get_untracked() {
                    let _ = input.focus();
                    input.select();
                }
            }
        });
        on_cleanup(move || listener.remove());
    }
}

/// The results of the search on screen, over the conversation; nothing while there is none.
#[component]
pub fn SearchResults(chat: ChatHandle) -> impl IntoView {
    let open = move || chat.read(Parts::SEARCH, |c| !c.search.query.is_empty());
    let hits = move || chat.read(Parts::SEARCH, |c| c.search.hits.clone());
    let status = move || {
        chat.read(Parts::SEARCH, |c| {
            let s = &c.search;
            if let Some(error) = &s.error {
                error.clone()
            } else if s.waiting() && s.hits.is_empty() {
                "Searching…".to_owned()
            } else if s.hits.is_empty() {
                format!("Nothing found for “{}”.", s.query)
            } else {
                let more = if s.more { "+" } else { "" };
                format!("{}{more} found for “{}”", s.hits.len(), s.query)
            }
        })
    };
    let more = move || chat.read(Parts::SEARCH, |c| c.search.more);
    view! {
        <Show when=open>
            <section class="search-results" aria-label="Search results">
                <div class="search-head">
                    <p role="status">{status}</p>
                    <button type="button" class="secondary" on:click=move |_| chat.search(Ask::Close)>
                        "Close"
                    </button>
                </div>
                <ol class="hits">
                    <For
                        each=hits
                        key=|hit| (hit.room.clone(), hit.seq, hit.id)
                        children=move |hit| view! { <HitView chat hit/> }
                    />
                </ol>
                <Show when=more>
                    <button type="button" class="older" on:click=move |_| chat.search(Ask::More)>
                        "Older results"
                    </button>
                </Show>
            </section>
        </Show>
    }
}

/// One hit: where, who, when, and the text with its matched words marked; a button that opens it.
#[component]
fn HitView(chat: ChatHandle, hit: SearchHit) -> impl IntoView {
    let place = match (&hit.room, &hit.dm) {
        (Some(room), _) => format!("#{room}"),
        (_, Some(peer)) => format!("@{peer}"),
        _ => String::new(),
    };
    let when = client::utc_time(&hit.at);
    let pieces = marked(&hit.text, &hit.marks);
    let open = hit.clone();
    view! {
        <li>
            <button type="button" class="hit" on:click=move |_| chat.open_hit(&open)>
                <span class="hit-meta">
                    <span class="hit-place">{place}</span>
                    " "
                    <bdi class="from">{hit.from.clone()}</bdi>
                    " "
                    <time datetime=hit.at.clone()>{when}</time>
                </span>
                <span class="hit-text">
                    {pieces
                        .into_iter()
                        .map(|(text, mark)| {
                            if mark {
                                view! { <mark>{text}</mark> }.into_any()
                            } else {
                                text.into_any()
                            }
                        })
                        .collect_view()}
                </span>
            </button>
        </li>
    }
}

/// `text` cut at `marks` (character offsets): each piece, and whether it is a match.
pub fn marked(text: &str, marks: &[[u32; 2]]) -> Vec<(String, bool)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut at = 0usize;
    for [start, end] in marks {
        let (start, end) = (*start as usize, *end as usize);
        if start < at || end <= start || end > chars.len() {
            continue;
        }
        if start > at {
            out.push((chars[at..start].iter().collect(), false));
        }
        out.push((chars[start..end].iter().collect(), true));
        at = end;
    }
    if at < chars.len() {
        out.push((chars[at..].iter().collect(), false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::marked;

    #[test]
    fn marks_cut_the_text_by_characters() {
        assert_eq!(
            marked("Über-cool: Deployed.", &[[0, 4], [11, 19]]),
            [
                ("Über".to_owned(), true),
                ("-cool: ".to_owned(), false),
                ("Deployed".to_owned(), true),
                (".".to_owned(), false)
            ]
        );
        // Marks out of order or past the end are skipped, never a panic.
        assert_eq!(
            marked("ab", &[[1, 5], [0, 1]]),
            [("a".to_owned(), true), ("b".to_owned(), false)]
        );
    }
}
