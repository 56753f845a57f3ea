//! The messages of the open conversation.

use std::sync::Arc;

use leptos::either::Either;
use leptos::html;
use leptos::prelude::*;

use super::avatar::Avatar;
use super::reactions::reaction_bar;
use crate::chat::links::{defused, segments, Segment};
use crate::chat::mentions::{names, pieces, Piece};
use crate::chat::{Line, LineKind, Parts, SendState, View};
use crate::client::{self, ChatHandle};
use crate::protocol::{FileInfo, Quote, MAX_TEXT_CHARS};

/// The messages of the open conversation, oldest first; follows new ones unless the reader has
/// scrolled up. A polite live region, so screen readers announce what arrives.
#[component]
pub fn MessageList(chat: ChatHandle) -> impl IntoView {
    let list = NodeRef::<html::Ul>::new();
    // Whether the reader is at (or near) the bottom; only then do new messages scroll the list.
    let follow = StoredValue::new(true);
    // Whether the reader is more than a screen above the newest message: "Jump to latest" shows.
    let far = RwSignal::new(false);
    // The first message I had not read when I opened the room: a "new messages" line above it.
    let first_unread = Memo::new(move |_| chat.read(Parts::LINES, |c| c.first_unread()));
    // A search hit or permalink opened here: highlighted, and brought into view once loaded.
    let jump = Memo::new(move |_| chat.read(Parts::LINES, |c| c.jump.clone()));
    let on_scroll = follow_the_bottom(chat, list, follow, far, (first_unread, jump));
    let more = move || {
        chat.read(Parts::LINES | Parts::CONVERSATIONS, |c| {
            c.conversations.current_room().is_some_and(|room| {
                c.conversations.is_member(room)
                    && !c.conversations.room(room).complete
                    && c.timeline.oldest_seq(room).is_some()
            })
        })
    };
    let lines = move || chat.read(Parts::LINES, |c| c.conversations.current().lines.clone());
    // One memo for every line: a frame re-runs it once, and the lines only when it changes.
    let moderator = Memo::new(move |_| chat.read(Parts::ME, |c| c.moderator));
    let empty = move || chat.read(Parts::LINES, |c| c.conversations.current().lines.is_empty());
    bring_into_view(chat, list, jump, follow);
    let to_latest = move |_| {
        if let Some(el) = list.get_untracked() {
            follow.set_value(true);
            far.set(false);
            el.set_scroll_top(el.scroll_height());
        }
    };

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
                <For each=lines key=line_key let:line>
                    <LineView chat line moderator first_unread jump/>
                </For>
            </ul>
            <Show when=move || far.get()>
                <button type="button" class="latest" on:click=to_latest>
                    "Jump to latest"
                </button>
            </Show>
            // A picture opened full size; Escape (or Close) closes it and gives the focus back.
            <dialog class="lightbox" aria-label="Picture">
                <img alt=""/>
                <form method="dialog">
                    <button class="lightbox-close">"Close"</button>
                </form>
            </dialog>
        </div>
    }
}

/// Brings the line `jump` names into view: at once if it is loaded, else older pages are asked
/// for, one at a time, until it is (or the room has no older messages).
fn bring_into_view(
    chat: ChatHandle,
    list: NodeRef<html::Ul>,
    jump: Memo<Option<String>>,
    follow: StoredValue<bool>,
) {
    Effect::new(move |_| {
        let Some(id) = jump.get() else {
            return;
        };
        let (loaded, more) = chat.read(Parts::LINES | Parts::CONVERSATIONS, |c| {
            let conv = c.conversations.current();
            // A room's `room:seq` at or after the oldest line loaded, and not among them, is no
            // message (a change's place, or past the end): older pages would not bring it.
            let target = id
                .rsplit_once(':')
                .and_then(|(_, seq)| seq.parse::<u64>().ok());
            let passed = c
                .conversations
                .current_room()
                .and_then(|room| c.timeline.oldest_seq(room))
                .zip(target)
                .is_some_and(|(oldest, target)| oldest <= target);
            (
                conv.lines.iter().any(|l| l.id == id),
                !conv.complete && !passed,
            )
        });
        if !loaded {
            if more {
                chat.load_older();
            }
            return;
        }
        let Some(el) = list.get_untracked() else {
            return;
        };
        request_animation_frame(move || {
            // What arrives next (a catch-up of newer messages) must not scroll it away.
            if scroll_to_line(&el, &id, true) {
                let _ = follow.try_set_value(false);
            }
        });
    });
}

/// Scrolls the list so line `id` is in view: in its middle (`centre`) or at its top. Whether the
/// line is there.
fn scroll_to_line(list: &leptos::web_sys::HtmlUListElement, id: &str, centre: bool) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let selector = format!("li[data-id=\"{}\"]", id.replace('"', ""));
        let Ok(Some(line)) = list.query_selector(&selector) else {
            return false;
        };
        let options = web_sys::ScrollIntoViewOptions::new();
        options.set_block(if centre {
            web_sys::ScrollLogicalPosition::Center
        } else {
            web_sys::ScrollLogicalPosition::Start
        });
        line.scroll_into_view_with_scroll_into_view_options(&options);
        true
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (list, id, centre);
        false
    }
}

fn line_key(line: &Arc<Line>) -> u64 {
    line.render_key()
}

/// Keeps the list at the bottom while the reader is there, keeps it still when older lines are put
/// on top, and loads older lines near the top; a room opened with unread messages opens at the
/// first of them instead of the bottom (unless it was opened at a line to jump to). Tells `far`
/// whether the reader is more than a screen above the bottom. Returns the list's scroll handler.
fn follow_the_bottom(
    chat: ChatHandle,
    list: NodeRef<html::Ul>,
    follow: StoredValue<bool>,
    far: RwSignal<bool>,
    (first_unread, jump): (Memo<Option<String>>, Memo<Option<String>>),
) -> impl Fn(leptos::ev::Event) + Copy {
    // The first unread line the list was last opened at (each is scrolled to once).
    let unread_shown = StoredValue::new(None::<String>);
    // The first line and the list's height at the last render: when older lines are put on top,
    // the view is kept where the reader was instead of jumping.
    let top = StoredValue::new((String::new(), 0));
    // Where the list was scrolled to, and its height, at the last scroll event: only a move up by
    // the reader stops following. The list growing under a scroll of ours must not (its scroll
    // event can come after more lines were added, far from the bottom though nobody scrolled), nor
    // the browser moving the view up when the oldest lines are trimmed (the list got shorter).
    let last = StoredValue::new((0, 0));
    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            let (top, height) = (el.scroll_top(), el.scroll_height());
            let gap = height - top - el.client_height();
            far.set(gap > el.client_height());
            let (last_top, last_height) = last.get_value();
            if gap < 48 {
                follow.set_value(true);
            } else if top < last_top && height >= last_height {
                follow.set_value(false);
            }
            last.set_value((top, height));
            if top < 40 {
                chat.load_older();
            }
        }
    };
    Effect::new(move |_| {
        let first = chat
            .read(Parts::LINES, |c| {
                c.conversations
                    .current()
                    .lines
                    .first()
                    .map(|l| l.id.clone())
            })
            .unwrap_or_default();
        // A line to jump to (a search hit, a permalink) is where the list goes instead.
        let unread = first_unread
            .get()
            .filter(|_| jump.with_untracked(Option::is_none));
        if let Some(el) = list.get_untracked() {
            let (old_first, old_height) = top.get_value();
            // After the new rows are laid out, so scroll_height includes them.
            request_animation_frame(move || {
                // The list may be gone by the next frame (the reader left the room).
                let Some(following) = follow.try_get_value() else {
                    return;
                };
                let height = el.scroll_height();
                // A conversation opened with unread messages: the first of them at the top (once
                // its line is loaded), and the list follows new ones only if all fit on screen.
                let opened_unread = unread
                    .as_deref()
                    .filter(|id| unread_shown.get_value().as_deref() != Some(*id))
                    .filter(|id| scroll_to_line(&el, id, false));
                if let Some(id) = opened_unread {
                    unread_shown.set_value(Some(id.to_owned()));
                    let gap = el.scroll_height() - el.scroll_top() - el.client_height();
                    follow.set_value(gap < 48);
                } else if following {
                    el.set_scroll_top(height);
                } else if !old_first.is_empty() && old_first != first {
                    el.set_scroll_top(el.scroll_top() + height - old_height);
                }
                let _ = top.try_set_value((first, height));
            });
        }
    });
    on_scroll
}

/// One line. The server's rendering of a stored message is also where the browser reads the page's
/// history from ([`rendered_history`]): `data-id` (`room:seq`), `.from`, `time[datetime]`, `.text`,
/// `.edited` and the `deleted` class carry everything it needs.
#[component]
fn LineView(
    chat: ChatHandle,
    line: Arc<Line>,
    moderator: Memo<bool>,
    first_unread: Memo<Option<String>>,
    jump: Memo<Option<String>>,
) -> impl IntoView {
    let (line_id, kind) = Arc::unwrap_or_clone(line).into_parts();
    match kind {
        LineKind::Notice(text) => view! { <li class="notice">{text}</li> }.into_any(),
        LineKind::Chat {
            from,
            text,
            at,
            action,
            mine,
            seq,
            dm_id,
            edited,
            deleted,
            files,
            reply,
            reactions,
        } => {
            let (class, state) = match (deleted, mine) {
                (true, None) => ("msg deleted", None),
                (true, Some(_)) => ("msg mine deleted", None),
                (false, None) => ("msg", None),
                (false, Some(SendState::Sending)) => ("msg mine sending", Some("sending…")),
                (false, Some(SendState::Sent)) => ("msg mine sent", Some("sent")),
                (false, Some(SendState::Failed)) => ("msg mine failed", Some("not sent")),
            };
            let time = shown_time(chat, at.clone());
            // My stored room messages can be edited and deleted; a moderator deletes anyone's.
            let changeable = seq.filter(|_| mine == Some(SendState::Sent) && !deleted);
            let editing = RwSignal::new(false);
            let buttons = line_buttons(
                chat, &line_id, mine, seq, deleted, changeable, moderator, editing,
            );
            let reply_button = quote_of_line(seq, dm_id, &from, &text)
                .filter(|_| !deleted)
                .map(|quote| reply_button(chat, quote));
            let quote = reply.map(|quote| quote_view(chat, quote));
            let view = chat.peek(|c| c.conversations.current_view());
            let stored = !deleted && mine.is_none_or(|m| m == SendState::Sent);
            let at = match view {
                View::Room(_) => seq,
                View::Direct(_) => dm_id,
            };
            let reacting =
                reaction_bar(chat, at.filter(|_| stored).map(|at| (view, at)), reactions);
            let shown = Shown {
                from: &from,
                text,
                action,
                deleted,
            };
            let body = line_body(chat, shown, changeable, editing);
            let class = marked_class(class, line_id.clone(), first_unread, jump);
            view! {
                <li class=class data-id=line_id>
                    <div class="meta">
                        <Avatar chat nick=from.clone() size=24/>
                        <bdi class="from">{from}</bdi>
                        <time datetime=at>{time}</time>
                        {edited.then(|| view! { <span class="edited">"(edited)"</span> })}
                        {state.map(|s| view! { <span class="state">{s}</span> })}
                        {reply_button}
                        {buttons}
                    </div>
                    {quote}
                    {body}
                    {file_views(files)}
                    {reacting}
                </li>
            }
            .into_any()
        }
    }
}

/// When a message was sent, as shown: the server writes UTC; once hydrated the reader's own
/// clock is used.
fn shown_time(chat: ChatHandle, at: String) -> impl Fn() -> String {
    let hydrated = chat.hydrated;
    move || {
        if hydrated.get() {
            client::local_time(&at)
        } else {
            client::utc_time(&at)
        }
    }
}

/// A line's classes: its own, and whether it is the first unread one or a search hit opened.
fn marked_class(
    class: &'static str,
    id: String,
    first_unread: Memo<Option<String>>,
    jump: Memo<Option<String>>,
) -> impl Fn() -> String {
    move || {
        let mut class = class.to_owned();
        if first_unread.with(|first| first.as_deref() == Some(id.as_str())) {
            class.push_str(" first-unread");
        }
        if jump.with(|jump| jump.as_deref() == Some(id.as_str())) {
            class.push_str(" jumped");
        }
        class
    }
}

/// What a reply to a stored message quotes of it: a room's by its `seq`, a private one by its id.
fn quote_of_line(seq: Option<u64>, dm_id: Option<u64>, from: &str, text: &str) -> Option<Quote> {
    let (seq, id) = match (seq, dm_id) {
        (Some(seq), _) => (seq, None),
        (None, Some(id)) => (0, Some(id)),
        (None, None) => return None,
    };
    Some(Quote::of(seq, id, from, text))
}

/// Reply, on a stored message: the composer then answers it (with the cursor in it).
fn reply_button(chat: ChatHandle, quote: Quote) -> impl IntoView {
    view! {
        <button
            class="line-action"
            on:click=move |_| {
                chat.reply_to(Some(quote.clone()));
                super::composer::focus_composer();
            }
        >
            "Reply"
        </button>
    }
}

/// What a reply answers, above its text: a button that opens the original in the conversation
/// on screen (older history is loaded until it is there).
fn quote_view(chat: ChatHandle, quote: Quote) -> impl IntoView {
    let (seq, id) = (quote.seq, quote.id);
    let open = move |_| match id {
        Some(id) => chat.change(|c| {
            c.jump_to_direct(id);
            Parts::LINES
        }),
        None => {
            if let Some(room) = chat.peek(|c| c.conversations.current_room().map(str::to_owned)) {
                chat.jump_to(&room, seq);
            }
        }
    };
    let text = if quote.deleted {
        "message deleted".to_owned()
    } else {
        quote.text
    };
    view! {
        <button
            type="button"
            class="quote"
            class:quote-deleted=quote.deleted
            data-seq=seq
            on:click=open
        >
            <span class="sr-only">"In reply to "</span>
            <bdi class="quote-from">{quote.from}</bdi>
            " "
            <span class="quote-text">{text}</span>
        </button>
    }
}

/// What a message line shows as its text.
struct Shown<'a> {
    from: &'a str,
    text: String,
    action: bool,
    deleted: bool,
}

/// Retry for my failed message; Edit and Delete for my stored one; Delete for a moderator.
#[allow(clippy::too_many_arguments)]
fn line_buttons(
    chat: ChatHandle,
    line_id: &str,
    mine: Option<SendState>,
    seq: Option<u64>,
    deleted: bool,
    changeable: Option<u64>,
    moderator: Memo<bool>,
    editing: RwSignal<bool>,
) -> impl IntoView {
    let id = line_id.to_owned();
    let retry = (mine == Some(SendState::Failed)).then(|| {
        view! {
            <button class="retry" on:click=move |_| chat.retry(&id)>
                "Retry"
            </button>
        }
    });
    let delete = move |seq: u64| {
        move |_| {
            if let Some(room) = chat.peek(|c| c.conversations.current_room().map(str::to_owned)) {
                chat.delete(&room, seq);
            }
        }
    };
    let actions = changeable.map(|seq| {
        view! {
            <button class="line-action" on:click=move |_| editing.set(true)>"Edit"</button>
            <button class="line-action" on:click=delete(seq)>"Delete"</button>
        }
    });
    let moderated = seq.filter(|_| mine.is_none() && !deleted).map(|seq| {
        view! {
            <Show when=move || moderator.get()>
                <button class="line-action mod-delete" on:click=delete(seq)>"Delete"</button>
            </Show>
        }
    });
    (retry, actions, moderated)
}

/// The message's text (or its tombstone); for my changeable message, with its editor.
fn line_body(
    chat: ChatHandle,
    shown: Shown<'_>,
    changeable: Option<u64>,
    editing: RwSignal<bool>,
) -> AnyView {
    let Shown {
        from,
        text,
        action,
        deleted,
    } = shown;
    // Text nodes, never HTML: whatever a user types is shown as typed, web addresses as links.
    let me = chat.peek(|c| c.me.clone());
    let body = if deleted {
        view! { <p class="text tombstone">"message deleted"</p> }.into_any()
    } else if action {
        view! {
            <p class="text action" dir="auto">
                "* " <bdi>{from.to_owned()}</bdi> " " {message_text(&text, &me)}
            </p>
        }
        .into_any()
    } else {
        view! { <p class="text" dir="auto">{message_text(&text, &me)}</p> }.into_any()
    };
    // While my message is edited, its text stays above the box, dimmed: what is being changed
    // stays in view.
    match changeable {
        Some(seq) => {
            let editor = move || editing.get().then(|| editor(chat, seq, &text, editing));
            let class = move || {
                if editing.get() {
                    "body editing"
                } else {
                    "body"
                }
            };
            view! { <div class=class>{body}</div> {editor} }.into_any()
        }
        None => body,
    }
}

/// A message's files: pictures as previews whose box is reserved before they load (the list does
/// not jump), opened full size on click; other files as chips with name, type and size that
/// download. Without JavaScript a picture's link opens it. Every field is also in `data-*`
/// attributes, for [`rendered_history`].
fn file_views(files: Vec<FileInfo>) -> Option<impl IntoView> {
    (!files.is_empty()).then(|| {
        view! { <div class="files">{files.into_iter().map(file_view).collect_view()}</div> }
    })
}

fn file_view(file: FileInfo) -> impl IntoView {
    let FileInfo {
        id,
        name,
        size,
        mime,
        url,
        width,
        height,
        thumb,
    } = file;
    match (thumb, width, height) {
        (Some(thumb), Some(w), Some(h)) => {
            let (box_w, box_h) = preview_box(w, h);
            let full = url.clone();
            let (alt, src) = (name.clone(), thumb.clone());
            Either::Left(view! {
                <a
                    class="file file-picture"
                    href=url
                    data-file-id=id
                    data-name=name
                    data-size=size
                    data-type=mime
                    data-w=w
                    data-h=h
                    data-thumb=thumb
                    on:click=move |ev| open_picture(&ev, &full)
                >
                    <img src=src width=box_w height=box_h loading="lazy" alt=alt/>
                </a>
            })
        }
        _ => {
            let (download, shown, shown_type) = (name.clone(), name.clone(), mime.clone());
            Either::Right(view! {
                <a
                    class="file file-chip"
                    href=url
                    download=download
                    data-file-id=id
                    data-name=name
                    data-size=size
                    data-type=mime
                >
                    <span class="file-name">{shown}</span>
                    <span class="file-meta">
                        {shown_type} " · " {super::composer::human_size(size)}
                    </span>
                </a>
            })
        }
    }
}

/// A preview's size: the picture's shape, at most 320 × 240.
fn preview_box(width: u32, height: u32) -> (u32, u32) {
    let scale = (320.0 / f64::from(width.max(1)))
        .min(240.0 / f64::from(height.max(1)))
        .min(1.0);
    let w = (f64::from(width) * scale).round().max(1.0);
    let h = (f64::from(height) * scale).round().max(1.0);
    (w as u32, h as u32)
}

/// Opens the picture at `url` in the page's lightbox instead of following the link.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
fn open_picture(ev: &leptos::ev::MouseEvent, url: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        // A modified click (a new tab, a download) is the browser's.
        if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.button() != 0 {
            return;
        }
        let Some(dialog) = document()
            .query_selector("dialog.lightbox")
            .ok()
            .flatten()
            .and_then(|d| d.dyn_into::<web_sys::HtmlDialogElement>().ok())
        else {
            return;
        };
        if let Some(img) = dialog.query_selector("img").ok().flatten() {
            let _ = img.set_attribute("src", url);
        }
        ev.prevent_default();
        let _ = dialog.show_modal();
    }
}

/// The box that edits my message `seq` in place: Enter or Save sends the new text, Escape or
/// Cancel puts the message back as it was.
fn editor(chat: ChatHandle, seq: u64, text: &str, editing: RwSignal<bool>) -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let room = chat.peek(|c| c.conversations.current_room().map(str::to_owned));
        if let (Some(room), Some(input)) = (room, input.get_untracked()) {
            chat.edit(&room, seq, &input.value());
        }
        editing.set(false);
    };
    let cancel_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            editing.set(false);
        }
    };
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });
    view! {
        <form class="edit" on:submit=save>
            <input
                node_ref=input
                aria-label="Edit message"
                value=text.to_owned()
                maxlength=MAX_TEXT_CHARS.to_string()
                on:keydown=cancel_key
            />
            <button type="submit">"Save"</button>
            <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
        </form>
    }
}

/// A message's text as text nodes, with its `http(s)://` addresses as links that open in a new tab
/// and tell the site nothing about this page (`rel`): user-generated (`ugc`), not endorsed
/// (`nofollow`), and its `@name` mentions highlighted (strongly when they name `me`). Nothing else
/// becomes markup.
fn message_text(text: &str, me: &str) -> impl IntoView {
    segments(text)
        .into_iter()
        .map(|segment| match segment {
            Segment::Text(t) => Either::Left(
                pieces(t)
                    .into_iter()
                    .map(|piece| match piece {
                        Piece::Text(t) => Either::Left(defused(t).into_owned()),
                        Piece::Mention(m) => {
                            let class = if names(m, me) {
                                "mention me"
                            } else {
                                "mention"
                            };
                            Either::Right(view! { <span class=class>{m.to_owned()}</span> })
                        }
                    })
                    .collect_view(),
            ),
            Segment::Link(url) => Either::Right(view! {
                <a href=url.to_owned() rel="noopener noreferrer nofollow ugc" target="_blank">
                    {url.to_owned()}
                </a>
            }),
        })
        .collect_view()
}

/// The stored messages of `room` as the server rendered them into the page, oldest first: the
/// page's history is sent once, as HTML, and read back here before the chat hydrates.
#[cfg(feature = "hydrate")]
pub fn rendered_history(room: &str) -> Vec<crate::protocol::Stored> {
    use crate::protocol::{ChatMessage, Stored};
    use wasm_bindgen::JsCast;

    let Ok(items) = document().query_selector_all("ul.messages > li.msg[data-id]") else {
        return Vec::new();
    };
    let find =
        |item: &web_sys::Element, selector: &str| item.query_selector(selector).ok().flatten();
    let text_of = |item: &web_sys::Element, selector: &str| find(item, selector)?.text_content();
    (0..items.length())
        .filter_map(|i| items.item(i)?.dyn_into::<web_sys::Element>().ok())
        .filter_map(|item| {
            let id = item.get_attribute("data-id")?;
            let (line_room, seq) = id.rsplit_once(':')?;
            if line_room != room {
                return None;
            }
            let from = text_of(&item, ".from")?;
            let at = find(&item, "time")?.get_attribute("datetime")?;
            let deleted = item.class_list().contains("deleted");
            let action = find(&item, ".text.action").is_some();
            let text = if deleted {
                String::new()
            } else {
                let shown = text_of(&item, ".text")?;
                if action {
                    shown
                        .strip_prefix(&format!("* {from} "))
                        .map(str::to_owned)
                        .unwrap_or(shown)
                } else {
                    shown
                }
            };
            Some(Stored::Message(ChatMessage {
                room: room.to_owned(),
                seq: seq.parse().ok()?,
                edited: find(&item, ".edited").is_some(),
                from,
                text,
                at,
                client_id: None,
                action,
                deleted,
                mentions: Vec::new(),
                files: rendered_files(&item),
                reply_to: rendered_quote(&item),
                reactions: rendered_reactions(&item),
            }))
        })
        .collect()
}

/// The reactions the server rendered under a message (see `reactions::reaction_bar`).
#[cfg(feature = "hydrate")]
fn rendered_reactions(item: &web_sys::Element) -> std::collections::BTreeMap<String, Vec<String>> {
    use wasm_bindgen::JsCast;
    let mut out = std::collections::BTreeMap::new();
    let Ok(chips) = item.query_selector_all("button.reaction[data-emoji]") else {
        return out;
    };
    for chip in
        (0..chips.length()).filter_map(|i| chips.item(i)?.dyn_into::<web_sys::Element>().ok())
    {
        if let (Some(emoji), Some(who)) = (
            chip.get_attribute("data-emoji"),
            chip.get_attribute("data-who"),
        ) {
            out.insert(emoji, who.lines().map(str::to_owned).collect());
        }
    }
    out
}

/// The quote the server rendered above a reply (see [`quote_view`]).
#[cfg(feature = "hydrate")]
fn rendered_quote(item: &web_sys::Element) -> Option<Box<Quote>> {
    let quote = item
        .query_selector("button.quote[data-seq]")
        .ok()
        .flatten()?;
    let text_of = |selector: &str| {
        quote
            .query_selector(selector)
            .ok()
            .flatten()
            .and_then(|el| el.text_content())
            .unwrap_or_default()
    };
    let deleted = quote.class_list().contains("quote-deleted");
    Some(Box::new(Quote {
        seq: quote.get_attribute("data-seq")?.parse().ok()?,
        id: None,
        from: text_of(".quote-from"),
        text: if deleted {
            String::new()
        } else {
            text_of(".quote-text")
        },
        deleted,
    }))
}

/// The files the server rendered under a message (see [`file_views`]).
#[cfg(feature = "hydrate")]
fn rendered_files(item: &web_sys::Element) -> Vec<FileInfo> {
    use wasm_bindgen::JsCast;
    let Ok(links) = item.query_selector_all("a.file[data-file-id]") else {
        return Vec::new();
    };
    (0..links.length())
        .filter_map(|i| links.item(i)?.dyn_into::<web_sys::Element>().ok())
        .filter_map(|a| {
            let number = |name: &str| a.get_attribute(name).and_then(|v| v.parse::<u64>().ok());
            let side = |name: &str| number(name).and_then(|n| u32::try_from(n).ok());
            Some(FileInfo {
                id: a.get_attribute("data-file-id")?,
                name: a.get_attribute("data-name")?,
                size: number("data-size")?,
                mime: a.get_attribute("data-type")?,
                url: a.get_attribute("href")?,
                width: side("data-w"),
                height: side("data-h"),
                thumb: a.get_attribute("data-thumb"),
            })
        })
        .collect()
}
