//! The browser's end of the websocket: one connection per tab, opened after hydration, kept open.
//!
//! [`ChatHandle`] is what the page holds: the [`Chat`], one trigger per part of the page
//! ([`Parts`]), the connection state, and the actions the page offers (submit the composer, retry,
//! open a conversation, report typing). A reader of the chat names the parts it shows
//! ([`ChatHandle::read`]); a change wakes the readers of the parts it changed, so a typing frame
//! redraws the typing line and not the messages. In
//! the browser, [`start`] spawns the connection loop: it opens `/ws` (gloo-net; the session cookie
//! goes with the upgrade), says `hello`, applies every server frame to the chat, and when the socket
//! drops it waits with exponential backoff (0.5 s doubling to 15 s, with jitter so a restarted server
//! is not hit by every tab at once), counting down on screen, and reconnects. The browser's own
//! `offline` event drops the socket at once (a dead network can leave a websocket looking open for
//! minutes) and its `online` event cuts the wait short. Messages written while offline stay
//! "sending" (their ack clock stopped while offline) and go out once the server has welcomed the tab
//! again, under the same `client_id`, so the server stores each at most once; a stored copy that
//! comes back by catch-up settles its line. Joins, leaves, renames, edits and deletes asked for
//! while offline are kept and sent after the `welcome` (the page says so); typing is not (it would
//! be stale).

use futures::channel::mpsc;
use leptos::prelude::*;

use crate::chat::{Chat, Parts, View};
use crate::protocol::{ClientMsg, FileInfo};
use crate::slash::{Command, HELP};

/// The name of the global under which the page's inline script (`ui::chat_page`) leaves the
/// websocket it opened and the frames received on it before the wasm took it over:
/// `{w: WebSocket, q: [text]}`. The connection loop adopts it.
pub const EARLY_SOCKET: &str = "cwSocket";

/// A typer refreshes `typing: true` at most this often while still typing.
const TYPING_REFRESH_MS: f64 = 2_000.0;
/// The typing frames a tab sends, at most: the server takes 2 a second in bursts of 5, per session.
const TYPING_PER_SEC: f64 = 2.0;
const TYPING_BURST: f64 = 4.0;
/// Typing stops by itself after this long without input.
const TYPING_IDLE_MS: f64 = 5_000.0;
/// An older-history request unanswered for this long (lost with a dropped connection, or refused)
/// may be made again.
const HISTORY_RETRY_MS: f64 = 10_000.0;

/// The connection as the user is told about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Opening the socket or waiting for `welcome`.
    Connecting,
    /// Welcomed; messages flow.
    Online,
    /// Disconnected; the next attempt is in this many seconds.
    Offline { retry_in_secs: u32 },
    /// A moderator banned this session: no more attempts.
    Banned,
}

impl ConnState {
    /// The words shown to the user.
    pub fn label(self) -> String {
        match self {
            ConnState::Connecting => "Connecting…".to_owned(),
            ConnState::Online => "Online".to_owned(),
            ConnState::Offline { retry_in_secs: 0 } => "Offline, reconnecting…".to_owned(),
            ConnState::Offline { retry_in_secs } => {
                format!("Offline, reconnecting in {retry_in_secs} s")
            }
            ConnState::Banned => "Banned".to_owned(),
        }
    }

    /// A stable name for styling and tests.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Online => "online",
            ConnState::Offline { .. } => "offline",
            ConnState::Banned => "banned",
        }
    }
}

/// Whether I am telling a room I am typing, which one, and since when.
#[derive(Debug, Clone, Default)]
struct Typing {
    /// The room told, while active.
    room: Option<String>,
    /// The room I am typing in but have not told yet (no typing frame was allowed just then):
    /// told by the clock's next tick that may.
    wanted: Option<String>,
    last_sent_ms: f64,
    last_input_ms: f64,
    /// Typing frames sent recently, draining at the server's typing rate: the client stays
    /// within it, so someone posting short messages one after another never sees a refusal.
    spent: f64,
    spent_at_ms: f64,
}

impl Typing {
    /// Whether one more typing frame may go out now (and counts it if so).
    fn allowed(&mut self, now: f64) -> bool {
        let drained = (now - self.spent_at_ms).max(0.0) / 1000.0 * TYPING_PER_SEC;
        self.spent = (self.spent - drained).max(0.0);
        self.spent_at_ms = now;
        if self.spent + 1.0 <= TYPING_BURST {
            self.spent += 1.0;
            true
        } else {
            false
        }
    }

    /// Records that `room` is told I am typing, if the rate allows a frame now; returns whether
    /// to send it.
    fn start(&mut self, room: &str, now: f64) -> bool {
        if !self.allowed(now) {
            return false;
        }
        self.room = Some(room.to_owned());
        self.wanted = None;
        self.last_sent_ms = now;
        true
    }
}

/// The page's handle on the chat. `Copy`, so every event handler can hold one.
#[derive(Debug, Clone, Copy)]
pub struct ChatHandle {
    /// Not a signal: who shows what of it is woken through `parts`.
    chat: StoredValue<Chat>,
    /// One trigger per part of the page, by [`Parts::indices`].
    parts: [Trigger; Parts::COUNT],
    pub status: RwSignal<ConnState>,
    /// Set once the wasm has hydrated the page: from then on, browser-only details (local times).
    pub hydrated: RwSignal<bool>,
    /// Whether the browser may show notifications ("granted", "denied", "default" for not asked
    /// yet, "unsupported"); `None` on the server and before hydration.
    pub notify_permission: RwSignal<Option<String>>,
    /// Frames for the connection loop; `None` on the server and before [`start`].
    outbox: StoredValue<Option<mpsc::UnboundedSender<ClientMsg>>>,
    typing: StoredValue<Typing>,
    /// The `before` of an older-history request in flight and when it was made, so scrolling does
    /// not repeat it (until it is answered, refused, lost with the connection, or too old).
    loading_older: StoredValue<Option<(u64, f64)>>,
}

impl ChatHandle {
    pub fn new(me: String) -> Self {
        Self {
            chat: StoredValue::new(Chat::new(me)),
            parts: std::array::from_fn(|_| Trigger::new()),
            status: RwSignal::new(ConnState::Connecting),
            hydrated: RwSignal::new(false),
            notify_permission: RwSignal::new(None),
            outbox: StoredValue::new(None),
            typing: StoredValue::new(Typing::default()),
            loading_older: StoredValue::new(None),
        }
    }

    /// Reads the chat, and runs the reader again when one of `parts` changes.
    pub fn read<T>(&self, parts: Parts, f: impl FnOnce(&Chat) -> T) -> T {
        for i in parts.indices() {
            self.parts[i].track();
        }
        self.chat.with_value(f)
    }

    /// Reads the chat without following it (in event handlers).
    pub fn peek<T>(&self, f: impl FnOnce(&Chat) -> T) -> T {
        self.chat.with_value(f)
    }

    /// Changes the chat; `f` says which parts of the page it changed, and their readers run again.
    pub fn change(&self, f: impl FnOnce(&mut Chat) -> Parts) {
        let mut parts = Parts::NONE;
        self.chat.update_value(|c| parts = f(c));
        for i in parts.indices() {
            self.parts[i].notify();
        }
    }

    fn transmit(&self, msg: ClientMsg) {
        if kept_while_offline(&msg) && self.status.get_untracked() != ConnState::Online {
            // Kept by the connection loop and sent after the next `welcome`.
            self.note("Not connected: this will be done once the connection is back.");
        }
        self.outbox.with_value(|outbox| {
            if let Some(outbox) = outbox {
                // Fails only if the loop is gone; a message then stays "sending" and times out.
                let _ = outbox.unbounded_send(msg);
            }
        });
    }

    /// Handles what was typed into the composer: a message to the conversation on screen (with
    /// `files`, my finished uploads), or a slash command.
    pub fn submit(&self, input: &str, files: Vec<FileInfo>) {
        match Command::parse(input) {
            Command::Say { text, action } => {
                let view = self.peek(|c| c.conversations.current_view());
                if let View::Room(room) = &view {
                    // The room clears my typing line when my message arrives: no `typing: false`
                    // frame is needed (each one counts against the typing rate).
                    self.typing.update_value(|t| {
                        if t.room.as_ref() == Some(room) {
                            t.room = None;
                        }
                        t.wanted = None;
                    });
                }
                self.post(view, text, action, files);
            }
            Command::Msg { to, .. }
                if crate::chat::lower(&to) == self.peek(|c| crate::chat::lower(&c.me)) =>
            {
                // Never let a private message fall through to the room.
                self.note("You cannot send a private message to yourself.");
            }
            Command::Msg { to, text } => {
                let view = View::Direct(to);
                self.change(|c| {
                    c.open(view.clone());
                    Parts::ALL
                });
                let view = self.peek(|c| c.conversations.current_view());
                self.post(view, text, false, files);
            }
            Command::Nick(nick) => self.transmit(ClientMsg::Nick { nick }),
            Command::Sanction {
                ban,
                nick,
                seconds,
                reason,
            } => self.sanction(ban, nick, seconds, reason),
            Command::Help => self.note(HELP),
            Command::Invalid(why) => self.note(&why),
        }
        self.stop_typing();
    }

    fn note(&self, text: &str) {
        self.change(|c| {
            let view = c.conversations.current_view();
            c.conversations.notice(&view, text);
            Parts::LINES
        });
    }

    /// Shows my message at once as "sending" and hands it to the connection.
    fn post(&self, view: View, text: String, action: bool, files: Vec<FileInfo>) {
        if text.trim().is_empty() && files.is_empty() {
            return;
        }
        let mut outgoing = crate::chat::Outgoing {
            view,
            client_id: new_client_id(),
            text,
            action,
            files,
            reply: None,
        };
        let at = now_rfc3339();
        let mut frame = None;
        self.change(|c| {
            // The reply being written, if it is to this conversation.
            outgoing.reply = c
                .replying
                .take()
                .filter(|(view, _)| *view == outgoing.view)
                .map(|(_, quote)| quote);
            frame = Some(outgoing.frame());
            c.push_own(outgoing, &at);
            Parts::LINES | Parts::ME
        });
        if let Some(frame) = frame {
            self.transmit(frame);
        }
    }

    /// Adds my reaction `emoji` (`on`), or takes it back, to a message of conversation `view`: its
    /// `seq` in a room, its `id` in a private conversation. The chips change when the server's
    /// `reacted` (or `dm_reacted`) comes back, in its place.
    pub fn react(&self, view: &View, at: u64, emoji: &str, on: bool) {
        let (room, seq, dm, id) = match view {
            View::Room(room) => (room.clone(), at, None, None),
            View::Direct(peer) => (String::new(), 0, Some(peer.clone()), Some(at)),
        };
        self.transmit(ClientMsg::React {
            room,
            seq,
            dm,
            id,
            emoji: emoji.to_owned(),
            on,
            client_id: None,
        });
    }

    /// Opens message `seq` of `room`, highlighted (older history is loaded until it is there).
    pub fn jump_to(&self, room: &str, seq: u64) {
        self.change(|c| {
            c.jump_to(room, seq);
            Parts::ALL
        });
    }

    /// Starts a reply to message `seq` of the room on screen (the composer shows what it
    /// answers), or with `None` cancels it.
    pub fn reply_to(&self, quote: Option<crate::protocol::Quote>) {
        self.change(|c| {
            c.replying = quote.map(|quote| (c.conversations.current_view(), quote));
            Parts::ME
        });
    }

    /// Sends a failed message again, under its first `client_id`.
    pub fn retry(&self, client_id: &str) {
        let mut outgoing = None;
        self.change(|c| {
            outgoing = c.retry(client_id);
            Parts::LINES | Parts::ME
        });
        if let Some(outgoing) = outgoing {
            self.transmit(outgoing.frame());
        }
    }

    /// Replaces the text of my message `seq` of `room`; every tab shows it once the server has
    /// stored the change (`edited`).
    pub fn edit(&self, room: &str, seq: u64, text: &str) {
        if text.trim().is_empty() {
            self.note("A message cannot be edited to nothing: delete it instead.");
            return;
        }
        self.transmit(ClientMsg::Edit {
            room: room.to_owned(),
            seq,
            text: text.to_owned(),
            client_id: None,
        });
    }

    /// Deletes my message `seq` of `room`; every tab shows a tombstone once the server has stored
    /// it (`deleted`).
    pub fn delete(&self, room: &str, seq: u64) {
        self.transmit(ClientMsg::Delete {
            room: room.to_owned(),
            seq,
            client_id: None,
        });
    }

    /// A moderator mutes (`ban: false`) or bans `nick` for `seconds`; everyone is told
    /// (`moderated`) once the server has stored it.
    pub fn sanction(&self, ban: bool, nick: String, seconds: u64, reason: String) {
        if !self.peek(|c| c.moderator) {
            self.note("Only moderators can mute and ban.");
            return;
        }
        self.transmit(if ban {
            ClientMsg::Ban {
                nick,
                seconds,
                reason,
            }
        } else {
            ClientMsg::Mute {
                nick,
                seconds,
                reason,
            }
        });
    }

    /// Asks for the page of the room on screen before the oldest message shown (scrolling up).
    pub fn load_older(&self) {
        let request = self.peek(|c| {
            let room = c
                .conversations
                .current_room()
                .filter(|room| c.conversations.is_member(room))?;
            let before = c
                .timeline
                .oldest_seq(room)
                .filter(|_| !c.conversations.room(room).complete)?;
            Some((room.to_owned(), before))
        });
        let Some((room, before)) = request else {
            return;
        };
        let now = now_ms();
        if self
            .loading_older
            .get_value()
            .is_some_and(|(asked, at)| asked == before && now - at < HISTORY_RETRY_MS)
        {
            return;
        }
        self.loading_older.set_value(Some((before, now)));
        self.transmit(ClientMsg::History { room, before });
    }

    /// Forgets the older-history request in flight: it was answered, refused, or lost with the
    /// connection, so scrolling up may ask again.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn history_answered(&self) {
        self.loading_older.set_value(None);
    }

    /// Joins (or creates) a room; the server answers `joined` and its history.
    pub fn join(&self, room: &str) {
        self.transmit(ClientMsg::Join {
            room: room.to_owned(),
        });
    }

    /// Leaves a room; the server answers `left` (on every tab of this browser).
    pub fn leave(&self, room: &str) {
        self.stop_typing();
        self.transmit(ClientMsg::Leave {
            room: room.to_owned(),
        });
    }

    /// Opens a conversation (the room, or private messages with someone).
    pub fn open(&self, view: View) {
        self.stop_typing();
        self.change(|c| {
            c.open(view);
            Parts::ALL
        });
    }

    /// The search box asks: a new query (an empty one closes the results), the next page of
    /// the one on screen, or to close them.
    pub fn search(&self, ask: crate::chat::search::Ask<'_>) {
        use crate::chat::search::Ask;
        let mut msg = None;
        self.change(|c| {
            msg = match ask {
                Ask::Query(q) => c.search.ask(q),
                Ask::More => c.search.ask_more(),
                Ask::Close => {
                    c.search.clear();
                    None
                }
            };
            Parts::SEARCH
        });
        if let Some(msg) = msg {
            self.transmit(msg);
        }
    }

    /// Opens a search hit: a room's message in its conversation, loading older history until it
    /// is there (`message_list` asks page by page); a private one's conversation.
    pub fn open_hit(&self, hit: &crate::protocol::SearchHit) {
        self.stop_typing();
        self.change(|c| {
            match (&hit.room, hit.seq, &hit.dm) {
                (Some(room), Some(seq), _) => c.jump_to(room, seq),
                (_, _, Some(peer)) => {
                    c.search.clear();
                    c.open(View::Direct(peer.clone()));
                }
                _ => c.search.clear(),
            }
            Parts::ALL
        });
    }

    /// The composer's text changed: tell the room on screen I am typing (throttled), or that I
    /// stopped. Private conversations have no typing line.
    pub fn input_changed(&self, has_text: bool) {
        let room = self.peek(|c| c.conversations.current_room().map(str::to_owned));
        let Some(room) = room.filter(|_| has_text) else {
            self.stop_typing();
            return;
        };
        let now = now_ms();
        let mut typing = self.typing.get_value();
        if typing.room.as_ref().is_some_and(|r| *r != room) {
            self.stop_typing();
            typing = self.typing.get_value();
        }
        typing.last_input_ms = now;
        if typing.room.is_none() || now - typing.last_sent_ms >= TYPING_REFRESH_MS {
            if typing.start(&room, now) {
                self.transmit(ClientMsg::Typing { room, active: true });
            } else if typing.room.is_none() {
                typing.wanted = Some(room);
            }
        }
        self.typing.set_value(typing);
    }

    /// Tells the room I stopped typing, if I had said I was (send, blur, idle, empty box, switching
    /// conversations). Past the typing rate it is not said: the room forgets a typer by itself
    /// after a few seconds.
    pub fn stop_typing(&self) {
        let mut typing = self.typing.get_value();
        typing.wanted = None;
        if let Some(room) = typing.room.take() {
            if typing.allowed(now_ms()) {
                self.transmit(ClientMsg::Typing {
                    room,
                    active: false,
                });
            }
        }
        self.typing.set_value(typing);
    }

    /// Once a second: expire typing entries and unacked messages, and stop my own idle typing.
    pub fn tick(&self) {
        let now = now_ms();
        if self.typing.with_value(|t| {
            (t.room.is_some() || t.wanted.is_some()) && now - t.last_input_ms > TYPING_IDLE_MS
        }) {
            self.stop_typing();
        }
        // Typing that could not be told at the time, once the rate allows.
        let mut typing = self.typing.get_value();
        if let Some(room) = typing.wanted.clone() {
            if typing.start(&room, now) {
                self.transmit(ClientMsg::Typing { room, active: true });
            }
            self.typing.set_value(typing);
        }
        self.change(|c| c.tick(now));
        // What the conversation on screen shows is read: at most one `read` a second, well
        // within the server's rate, and only on a welcomed connection (it is not kept offline).
        if self.status.get_untracked() == ConnState::Online {
            let mut read = None;
            self.chat.update_value(|c| read = c.read_to_send());
            if let Some(read) = read {
                self.transmit(read);
            }
        }
    }
}

/// The `hello` that opens a connection for this chat. The session cookie rides along with the
/// upgrade, and the nickname comes back in `welcome`; `since` asks for exactly what this tab has
/// not seen. The server writes the chat page's first one into the page (`ui::chat_page`), so the
/// connection opens while the wasm loads.
pub fn hello(chat: &Chat) -> ClientMsg {
    ClientMsg::Hello {
        nick: String::new(),
        session: None,
        since: chat.timeline.since(),
        dm_since: chat.timeline.dm_since(),
        version: Some(crate::protocol::PROTOCOL_VERSION),
        invite: None,
    }
}

/// Whether a frame asked for while not connected is kept and sent after the next `welcome`: what a
/// person asked for (joins, leaves, renames, edits, deletes). Messages need not be kept (the chat
/// has them, "sending"); typing is stale by then; a history request is asked again by scrolling.
pub(crate) fn kept_while_offline(msg: &ClientMsg) -> bool {
    matches!(
        msg,
        ClientMsg::Join { .. }
            | ClientMsg::Leave { .. }
            | ClientMsg::Nick { .. }
            | ClientMsg::Edit { .. }
            | ClientMsg::Delete { .. }
            | ClientMsg::Mute { .. }
            | ClientMsg::Ban { .. }
    )
}

/// The `HH:MM` of an RFC 3339 UTC time, as written: what the server can render.
pub fn utc_time(at: &str) -> String {
    at.get(11..16).unwrap_or_default().to_owned()
}

/// Formats an RFC 3339 time as the reader's local `HH:MM`.
pub fn local_time(at: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(at));
        if !date.get_time().is_nan() {
            return format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
        }
    }
    // On the server (and for unparsable input): the UTC time as written.
    utc_time(at)
}

#[cfg(feature = "hydrate")]
fn now_rfc3339() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

#[cfg(not(feature = "hydrate"))]
fn now_rfc3339() -> String {
    String::new()
}

#[cfg(feature = "hydrate")]
fn now_ms() -> f64 {
    js_sys::Date::now()
}

#[cfg(not(feature = "hydrate"))]
fn now_ms() -> f64 {
    0.0
}

/// A fresh id for one of my messages: random enough that two tabs never collide.
fn new_client_id() -> String {
    #[cfg(feature = "hydrate")]
    {
        let a = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        let b = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        format!("c-{a:08x}{b:08x}")
    }
    #[cfg(not(feature = "hydrate"))]
    {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        format!("c-{}", NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

#[cfg(feature = "hydrate")]
pub use browser::start;

#[cfg(feature = "hydrate")]
pub use attention::ask_permission;

#[cfg(feature = "hydrate")]
mod attention;
#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "hydrate")]
pub mod upload;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_frames_stay_within_the_servers_rate() {
        let mut typing = Typing::default();
        // A burst, then nothing until the rate has made room again.
        let sent = (0..10).filter(|_| typing.allowed(1_000.0)).count();
        assert_eq!(sent, TYPING_BURST as usize);
        assert!(!typing.allowed(1_100.0));
        assert!(typing.allowed(1_000.0 + 1_000.0 / TYPING_PER_SEC));
        // Over any second after that, no more than the server's 2 a second.
        let mut now = 2_000.0;
        let mut in_a_second = 0;
        while now < 3_000.0 {
            in_a_second += usize::from(typing.allowed(now));
            now += 50.0;
        }
        assert!(in_a_second <= 2, "{in_a_second}");
    }
}
