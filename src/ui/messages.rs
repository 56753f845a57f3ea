//! The messages of the open conversation.

use leptos::either::Either;
use leptos::html;
use leptos::prelude::*;

use crate::chat::links::{segments, Segment};
use crate::chat::{Line, LineKind, SendState};
use crate::client::{self, ChatHandle};

/// The messages of the open conversation, oldest first; follows new ones unless the reader has
/// scrolled up. A polite live region, so screen readers announce what arrives.
#[component]
pub fn MessageList(chat: ChatHandle) -> impl IntoView {
    let list = NodeRef::<html::Ul>::new();
    // Whether the reader is at (or near) the bottom; only then do new messages scroll the list.
    let follow = StoredValue::new(true);
    // The first line and the list's height at the last render: when older lines are put on top,
    // the view is kept where the reader was instead of jumping.
    let top = StoredValue::new((String::new(), 0));
    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            let gap = el.scroll_height() - el.scroll_top() - el.client_height();
            follow.set_value(gap < 48);
            if el.scroll_top() < 40 {
                chat.load_older();
            }
        }
    };
    Effect::new(move |_| {
        let first = chat
            .chat
            .with(|c| c.current().lines.first().map(|l| l.id.clone()))
            .unwrap_or_default();
        if let Some(el) = list.get_untracked() {
            let (old_first, old_height) = top.get_value();
            // After the new rows are laid out, so scroll_height includes them.
            request_animation_frame(move || {
                // The list may be gone by the next frame (the reader left the room).
                let Some(following) = follow.try_get_value() else {
                    return;
                };
                let height = el.scroll_height();
                if following {
                    el.set_scroll_top(height);
                } else if !old_first.is_empty() && old_first != first {
                    el.set_scroll_top(el.scroll_top() + height - old_height);
                }
                let _ = top.try_set_value((first, height));
            });
        }
    });
    let more = move || {
        chat.chat.with(|c| {
            c.current_room().is_some_and(|room| {
                c.is_member(room) && !c.room(room).complete && c.oldest_seq(room).is_some()
            })
        })
    };
    let lines = move || chat.chat.with(|c| c.current().lines.clone());
    let empty = move || chat.chat.with(|c| c.current().lines.is_empty());

    view! {
        <div class="messages-wrap">
            <Show when=empty>
                <p class="empty">"No messages yet. Say hello!"</p>
            </Show>
            <Show when=more>
                <button class="older" on:click=move |_| chat.load_older()>
                    "Load older messages"
                </button>
            </Show>
            <ul
                class="messages"
                aria-label="Messages"
                aria-live="polite"
                aria-relevant="additions"
                // Focusable, so keyboard users can scroll back through it.
                tabindex="0"
                node_ref=list
                on:scroll=on_scroll
            >
                <For each=lines key=Line::render_key let:line>
                    <LineView chat line/>
                </For>
            </ul>
        </div>
    }
}

#[component]
fn LineView(chat: ChatHandle, line: Line) -> impl IntoView {
    match line.kind {
        LineKind::Notice(text) => view! { <li class="notice">{text}</li> }.into_any(),
        LineKind::Chat {
            from,
            text,
            at,
            action,
            mine,
        } => {
            let (class, state) = match mine {
                None => ("msg", None),
                Some(SendState::Sending) => ("msg mine sending", Some("sending…")),
                Some(SendState::Sent) => ("msg mine sent", Some("sent")),
                Some(SendState::Failed) => ("msg mine failed", Some("not sent")),
            };
            // The server writes UTC; once hydrated the reader's own clock is used.
            let hydrated = chat.hydrated;
            let at_text = at.clone();
            let time = move || {
                if hydrated.get() {
                    client::local_time(&at_text)
                } else {
                    client::utc_time(&at_text)
                }
            };
            let id = line.id.clone();
            let retry = (mine == Some(SendState::Failed)).then(|| {
                view! {
                    <button class="retry" on:click=move |_| chat.retry(&id)>
                        "Retry"
                    </button>
                }
            });
            // Text nodes, never HTML: whatever a user types is shown as typed, web addresses as links.
            let body = if action {
                view! { <p class="text action">"* " {from.clone()} " " {message_text(&text)}</p> }
                    .into_any()
            } else {
                view! { <p class="text">{message_text(&text)}</p> }.into_any()
            };
            view! {
                <li class=class data-id=line.id>
                    <div class="meta">
                        <span class="from">{from}</span>
                        <time datetime=at>{time}</time>
                        {state.map(|s| view! { <span class="state">{s}</span> })}
                        {retry}
                    </div>
                    {body}
                </li>
            }
            .into_any()
        }
    }
}

/// A message's text as text nodes, with its `http(s)://` addresses as links that open in a new tab
/// and tell the site nothing about this page (`rel`): user-generated (`ugc`), not endorsed
/// (`nofollow`). Nothing else becomes markup.
fn message_text(text: &str) -> impl IntoView {
    segments(text)
        .into_iter()
        .map(|segment| match segment {
            Segment::Text(t) => Either::Left(t.to_owned()),
            Segment::Link(url) => Either::Right(view! {
                <a href=url.to_owned() rel="noopener noreferrer nofollow ugc" target="_blank">
                    {url.to_owned()}
                </a>
            }),
        })
        .collect_view()
}
