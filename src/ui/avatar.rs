//! People's pictures in the page: [`Avatar`] beside a name (the address the chat knows for it,
//! which changes when they set a new one), and [`MyPicture`], mine, which is also the button to
//! change it.

use leptos::prelude::*;

use crate::chat::Parts;
use crate::client::ChatHandle;

/// `nick`'s picture, `size` pixels square. Decorative (`alt=""`): the name beside it says who.
#[component]
pub fn Avatar(chat: ChatHandle, nick: String, size: u32) -> impl IntoView {
    let src = move || chat.read(Parts::PEOPLE, |c| c.people.picture(&nick));
    view! {
        <img
            class="avatar"
            src=src
            alt=""
            width=size
            height=size
            loading="lazy"
            decoding="async"
        />
    }
}

/// My picture in the online list: choosing a file sets it (everyone online sees it at once);
/// the account page also has it, and the way back to initials.
#[component]
pub fn MyPicture(chat: ChatHandle, nick: String) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let chooser = Chooser::new();
    let on_change = move |ev: leptos::ev::Event| chooser.take(&ev, error);
    view! {
        <label class="avatar-change" title="Change your picture">
            <Avatar chat nick size=20/>
            <input
                type="file"
                class="sr-only"
                name="avatar"
                accept="image/png,image/jpeg,image/gif,image/webp"
                aria-label="Change your picture"
                on:change=on_change
            />
        </label>
        {move || error.get().map(|e| view! { <span class="form-error" role="alert">{e}</span> })}
    }
}

/// The picture upload in flight; browser only.
#[derive(Clone, Copy)]
struct Chooser {
    #[cfg(feature = "hydrate")]
    live: StoredValue<Option<crate::client::upload::Upload>, leptos::prelude::LocalStorage>,
}

impl Chooser {
    fn new() -> Self {
        Self {
            #[cfg(feature = "hydrate")]
            live: StoredValue::new_local(None),
        }
    }

    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    fn take(self, ev: &leptos::ev::Event, error: RwSignal<Option<String>>) {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(input) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            else {
                return;
            };
            let Some(file) = input.files().and_then(|list| list.get(0)) else {
                return;
            };
            input.set_value("");
            error.set(None);
            let live = self.live;
            let upload = crate::client::upload::set_avatar(&file, move |done| {
                if let Err(why) = done {
                    error.set(Some(why));
                }
                live.set_value(None);
            });
            match upload {
                Ok(upload) => self.live.set_value(Some(upload)),
                Err(_) => error.set(Some("the picture could not be sent".to_owned())),
            }
        }
    }
}
