//! Getting my attention while the tab is hidden: the title's count ("(3) chinwag") and, where the
//! person allowed them, browser notifications for mentions of me and private messages. Permission
//! is asked for only from the page's control ([`ask_permission`]), never on load.

use leptos::prelude::*;
use web_sys::{Notification, NotificationOptions, NotificationPermission};

use super::ChatHandle;
use crate::chat::Parts;

/// The page's name, as the title shows it when nothing waits.
const TITLE: &str = "chinwag";

/// Follows the tab's visibility into the chat, keeps the title's count, and shows the chat's
/// notifications. Call once, after hydration.
pub fn watch(chat: ChatHandle) {
    let hidden = || document().hidden();
    let follow = move || chat.change(|c| Parts::ME.when(c.attention.set_hidden(hidden())));
    follow();
    // The listener lives as long as the tab.
    let _ = window_event_listener_untyped("visibilitychange", move |_| follow());
    Effect::new(move |_| {
        let alerts = chat.read(Parts::ME, |c| c.attention.alerts());
        let title = if alerts > 0 {
            format!("({alerts}) {TITLE}")
        } else {
            TITLE.to_owned()
        };
        document().set_title(&title);
    });
    chat.notify_permission.set(Some(permission()));
}

/// Shows what the chat has to notify, if the person allowed notifications.
pub fn notify(chat: ChatHandle) {
    if !chat.peek(|c| c.attention.notifications_waiting()) {
        return;
    }
    let mut shown = Vec::new();
    chat.change(|c| {
        shown = c.attention.take_notifications();
        Parts::NONE
    });
    if Notification::permission() != NotificationPermission::Granted {
        return;
    }
    for (title, body) in shown {
        let options = NotificationOptions::new();
        options.set_body(&body);
        options.set_tag("chinwag");
        let _ = Notification::new_with_options(&title, &options);
    }
}

/// The page's control: asks the browser for permission to notify, and remembers the answer.
pub fn ask_permission(chat: ChatHandle) {
    let Ok(promise) = Notification::request_permission() else {
        return;
    };
    leptos::task::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        chat.notify_permission.set(Some(permission()));
    });
}

/// Whether the browser may notify: "granted", "denied" or "default" (not asked yet), or
/// "unsupported" where it has no notifications.
fn permission() -> String {
    let supported = js_sys::Reflect::has(&window(), &"Notification".into()).unwrap_or(false);
    if !supported {
        return "unsupported".to_owned();
    }
    match Notification::permission() {
        NotificationPermission::Granted => "granted",
        NotificationPermission::Denied => "denied",
        _ => "default",
    }
    .to_owned()
}
