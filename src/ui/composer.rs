//! The composer: the text field, attachments and Send button, a plain form without JavaScript.
//!
//! Files are attached with the Attach button, by dropping them anywhere on the page, or by pasting
//! a picture into the text field. Each uploads at once (`POST /upload`) with a progress bar and a
//! Cancel button; Send waits until every upload has finished, then posts the text with the files.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use super::errors::{about_messages, describe};
use super::nav::Nav;
use crate::chat::{Parts, View};
use crate::client::ChatHandle;
#[cfg(feature = "hydrate")]
use crate::protocol::MAX_FILES_PER_MESSAGE;
use crate::protocol::{FileInfo, GENERAL, MAX_TEXT_CHARS};

/// One file on its way into the next message.
#[derive(Debug, Clone, Copy)]
struct Attachment {
    key: u64,
    name: StoredValue<String>,
    /// The fraction sent, 0 to 1.
    progress: RwSignal<f64>,
    state: RwSignal<Attached>,
}

#[derive(Debug, Clone, PartialEq)]
// Only the browser's uploads finish; the server renders none.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Attached {
    Uploading,
    Ready(FileInfo),
    Failed(String),
}

/// The text field, attachments and Send button. Enter sends (it submits the form), and so does the
/// button. Without wasm the form posts to `/say` (with its files, multipart) and the page reloads
/// with the message in it.
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
    let attachments = RwSignal::new(Vec::<Attachment>::new());
    let uploads = Uploads::new();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        send(chat, draft, attachments, uploads);
    };
    let placeholder = move || placeholder(chat);
    let room = move || room_of(chat);
    uploads.listen_for_drops(attachments);
    let cancel = move |key: u64| {
        uploads.cancel(key);
        attachments.update(|all| all.retain(|a| a.key != key));
    };
    let list = move || {
        attachments
            .get()
            .into_iter()
            .map(|a| attachment_view(a, cancel))
            .collect_view()
    };
    view! {
        {move || error().map(|e| view! { <p class="form-error composer-error" role="alert">{e}</p> })}
        <ul class="attachments" aria-label="Attachments">{list}</ul>
        <Replying chat/>
        <form
            class="composer"
            method="post"
            action="/say"
            enctype="multipart/form-data"
            on:submit=on_submit
        >
            <input type="hidden" name="room" value=room/>
            <label class="attach" title="Attach files">
                <input
                    type="file"
                    name="file"
                    multiple
                    class="visually-hidden"
                    on:change=move |ev| uploads.take_input(&ev, attachments)
                />
                <span aria-hidden="true">"+"</span>
                <span class="visually-hidden">"Attach files"</span>
            </label>
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
                on:paste=move |ev| uploads.take_paste(&ev, attachments)
                on:blur=move |_| chat.stop_typing()
            />
            // While a file uploads, Send waits (each attachment shows its progress).
            <button type="submit">"Send"</button>
        </form>
    }
}

/// The message my next one answers, if I chose Reply on one in this conversation; × cancels.
#[component]
fn Replying(chat: ChatHandle) -> impl IntoView {
    let quote = move || {
        chat.read(Parts::ME | Parts::CONVERSATIONS, |c| {
            c.replying
                .as_ref()
                .filter(|(view, _)| *view == c.conversations.current_view())
                .map(|(_, quote)| quote.clone())
        })
    };
    move || {
        quote().map(|quote| {
            view! {
                <p class="replying">
                    "Replying to " <bdi class="from">{quote.from}</bdi> ": "
                    <span class="quote-text">{quote.text}</span>
                    <button
                        type="button"
                        class="line-action"
                        aria-label="Cancel the reply"
                        on:click=move |_| chat.reply_to(None)
                    >
                        "×"
                    </button>
                </p>
            }
        })
    }
}

/// Puts the cursor in the composer (after Reply).
pub fn focus_composer() {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(input) = document()
            .query_selector(".composer input[name=\"text\"]")
            .ok()
            .flatten()
            .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = input.focus();
        }
    }
}

/// Whether a file is still on its way.
fn still_uploading(attachments: RwSignal<Vec<Attachment>>) -> bool {
    attachments.with(|all| {
        all.iter()
            .any(|a| a.state.with(|s| *s == Attached::Uploading))
    })
}

/// Sends the text and the finished files, once nothing is still uploading, and empties the
/// composer.
fn send(
    chat: ChatHandle,
    draft: RwSignal<String>,
    attachments: RwSignal<Vec<Attachment>>,
    uploads: Uploads,
) {
    if still_uploading(attachments) {
        return;
    }
    let text = draft.get_untracked();
    let files: Vec<FileInfo> = attachments.with_untracked(|all| {
        all.iter()
            .filter_map(|a| match a.state.get_untracked() {
                Attached::Ready(info) => Some(info),
                _ => None,
            })
            .collect()
    });
    if text.trim().is_empty() && files.is_empty() {
        return;
    }
    chat.submit(&text, files);
    draft.set(String::new());
    attachments.set(Vec::new());
    uploads.clear();
}

fn placeholder(chat: ChatHandle) -> String {
    chat.read(Parts::CONVERSATIONS, |c| {
        match c.conversations.current_view() {
            View::Room(room) => format!("Message #{room}  (/help for commands)"),
            View::Direct(_) => format!("Message @{}", c.conversations.current().title),
        }
    })
}

/// Which room the no-JavaScript post goes to.
fn room_of(chat: ChatHandle) -> String {
    chat.read(Parts::CONVERSATIONS, |c| {
        c.conversations.current_room().map(str::to_owned)
    })
    .unwrap_or_else(|| GENERAL.to_owned())
}

fn attachment_view(a: Attachment, cancel: impl Fn(u64) + Copy + 'static) -> impl IntoView {
    let state = move || a.state.get();
    let percent = move || (a.progress.get() * 100.0).round();
    view! {
        <li class="attachment">
            <span class="attachment-name">{a.name.get_value()}</span>
            {move || match state() {
                Attached::Uploading => view! {
                    <progress max="100" value=percent aria-label="Uploaded"></progress>
                }
                .into_any(),
                Attached::Ready(info) => view! {
                    <span class="attachment-ready">{human_size(info.size)}</span>
                }
                .into_any(),
                Attached::Failed(why) => view! {
                    <span class="attachment-failed" role="alert">{why}</span>
                }
                .into_any(),
            }}
            <button type="button" class="attachment-cancel" on:click=move |_| cancel(a.key)>
                {move || if state() == Attached::Uploading { "Cancel" } else { "Remove" }}
            </button>
        </li>
    }
}

/// A size as people read it: `48 KB`, `1.2 MB`.
pub fn human_size(bytes: u64) -> String {
    const KB: f64 = 1000.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} B")
    } else if b < KB * KB {
        format!("{:.0} KB", b / KB)
    } else if b < KB * KB * KB {
        format!("{:.1} MB", b / (KB * KB))
    } else {
        format!("{:.1} GB", b / (KB * KB * KB))
    }
}

/// The uploads in flight, by attachment; browser only (on the server nothing is ever attached).
#[derive(Clone, Copy)]
struct Uploads {
    #[cfg(feature = "hydrate")]
    live: StoredValue<
        std::collections::HashMap<u64, crate::client::upload::Upload>,
        leptos::prelude::LocalStorage,
    >,
}

impl Uploads {
    fn new() -> Self {
        Self {
            #[cfg(feature = "hydrate")]
            live: StoredValue::new_local(std::collections::HashMap::new()),
        }
    }

    fn cancel(&self, key: u64) {
        #[cfg(feature = "hydrate")]
        self.live.update_value(|live| {
            if let Some(upload) = live.remove(&key) {
                upload.cancel();
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = key;
    }

    fn clear(&self) {
        #[cfg(feature = "hydrate")]
        self.live.update_value(|live| live.clear());
    }

    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    fn take_input(&self, ev: &leptos::ev::Event, attachments: RwSignal<Vec<Attachment>>) {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(input) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            else {
                return;
            };
            if let Some(list) = input.files() {
                self.add(files_of(&list), attachments);
            }
            // Sent already: the form's own file field stays empty.
            input.set_value("");
        }
    }

    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    fn take_paste(&self, ev: &leptos::ev::ClipboardEvent, attachments: RwSignal<Vec<Attachment>>) {
        #[cfg(feature = "hydrate")]
        {
            let Some(list) = ev.clipboard_data().and_then(|data| data.files()) else {
                return;
            };
            let files = files_of(&list);
            if !files.is_empty() {
                // A pasted picture is attached, not pasted as text.
                ev.prevent_default();
                self.add(files, attachments);
            }
        }
    }

    /// Files dropped anywhere on the page are attached to the conversation on screen.
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    fn listen_for_drops(&self, attachments: RwSignal<Vec<Attachment>>) {
        #[cfg(feature = "hydrate")]
        {
            let this = *self;
            // Without this the browser would open a dropped file instead of handing it over.
            let over = window_event_listener(leptos::ev::dragover, |ev| ev.prevent_default());
            let drop = window_event_listener(leptos::ev::drop, move |ev| {
                ev.prevent_default();
                if let Some(list) = ev.data_transfer().and_then(|d| d.files()) {
                    this.add(files_of(&list), attachments);
                }
            });
            on_cleanup(move || {
                over.remove();
                drop.remove();
            });
        }
    }

    #[cfg(feature = "hydrate")]
    fn add(&self, files: Vec<web_sys::File>, attachments: RwSignal<Vec<Attachment>>) {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        for file in files {
            if attachments.with_untracked(Vec::len) >= MAX_FILES_PER_MESSAGE {
                break;
            }
            let a = Attachment {
                key: NEXT.fetch_add(1, Ordering::Relaxed),
                name: StoredValue::new(file.name()),
                progress: RwSignal::new(0.0),
                state: RwSignal::new(Attached::Uploading),
            };
            attachments.update(|all| all.push(a));
            let live = self.live;
            let started = crate::client::upload::start(
                &file,
                move |sent| a.progress.set(sent),
                move |answer| {
                    a.state.set(match answer {
                        Ok(info) => Attached::Ready(info),
                        Err(why) => Attached::Failed(why),
                    });
                    live.update_value(|live| {
                        live.remove(&a.key);
                    });
                },
            );
            match started {
                Ok(upload) => live.update_value(|live| {
                    live.insert(a.key, upload);
                }),
                Err(_) => a.state.set(Attached::Failed(
                    "this browser could not upload it".to_owned(),
                )),
            }
        }
    }
}

#[cfg(feature = "hydrate")]
fn files_of(list: &web_sys::FileList) -> Vec<web_sys::File> {
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}
