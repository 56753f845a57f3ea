//! Whether I am looking: while the tab is hidden, mentions of me and private messages to me count
//! in the title and are notified; showing the tab again clears both. Its own type, as the timeline
//! raises alerts and the page takes them, and neither needs the rest of the chat for it.

/// Notifications waiting to be shown at most: a burst while hidden shows its first few.
const MAX_NOTIFY: usize = 3;

/// The tab's visibility, the title's count and the notifications waiting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attention {
    /// The tab is hidden (another tab, minimized).
    hidden: bool,
    /// Mentions of me and private messages to me since the tab was hidden: the title's count.
    alerts: u32,
    /// Notifications to show (title, body), taken by the browser after each frame; at most
    /// [`MAX_NOTIFY`].
    notify: Vec<(String, String)>,
}

impl Attention {
    /// Whether the tab is hidden.
    pub fn hidden(&self) -> bool {
        self.hidden
    }

    /// The title's count.
    pub fn alerts(&self) -> u32 {
        self.alerts
    }

    /// The tab was hidden or shown again; shown, its title's count is cleared. Returns whether
    /// anything visible changed.
    pub fn set_hidden(&mut self, hidden: bool) -> bool {
        self.hidden = hidden;
        if !hidden {
            self.notify.clear();
            return std::mem::take(&mut self.alerts) > 0;
        }
        false
    }

    /// Whether notifications wait to be shown.
    pub fn notifications_waiting(&self) -> bool {
        !self.notify.is_empty()
    }

    /// The notifications to show now (title, body), oldest first.
    pub fn take_notifications(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.notify)
    }

    /// Something for me arrived (a mention, a private message): counted in the title and notified
    /// while the tab is hidden.
    pub(super) fn alert(&mut self, title: String, body: &str) {
        if !self.hidden {
            return;
        }
        self.alerts += 1;
        if self.notify.len() < MAX_NOTIFY {
            let body: String = body.chars().take(200).collect();
            self.notify.push((title, body));
        }
    }
}
