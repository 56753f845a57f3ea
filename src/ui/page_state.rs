//! What the server knows when it renders the chat for a session, read before anything is sent
//! (server only).
//!
//! It reaches the browser once: the history as rendered lines, the rest as two protocol frames in
//! the page ([`PageData::frames`], the history's without its messages), which the chat island reads
//! with the websocket's own decoder. No serialized copy of the history rides along for hydration.

use leptos::prelude::*;

use crate::protocol::{ChatMessage, ServerMsg, Stored, PROTOCOL_VERSION};

/// What the server knows when it renders the chat for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageData {
    /// The nickname this session chats under.
    pub me: String,
    /// The rooms this session is in, `general` first.
    pub rooms: Vec<String>,
    /// The room in the URL.
    pub room: String,
    /// Its latest messages, or those around a permalink's message, oldest first (none if the
    /// session is not in it).
    pub history: Vec<ChatMessage>,
    /// Whether `history` reaches back to the room's first message.
    pub complete: bool,
    /// The session is a moderator (the page shows their controls).
    pub moderator: bool,
}

impl PageData {
    /// The page's chat as the websocket would tell it: a `welcome` (who I am, my rooms) and the
    /// room's `history`. The websocket later asks only for what is newer.
    pub fn frames(self) -> [ServerMsg; 2] {
        let welcome = ServerMsg::Welcome {
            nick: self.me,
            rooms: self.rooms,
            online: Vec::new(),
            members: Default::default(),
            counts: Default::default(),
            session: None,
            version: PROTOCOL_VERSION,
            moderator: self.moderator,
            bots: Vec::new(),
            muted_until: None,
            blocked: Vec::new(),
            secured: false,
            read: Default::default(),
            dm_read: Default::default(),
            reply_to: None,
        };
        let history = ServerMsg::History {
            room: self.room,
            messages: self.history.into_iter().map(Stored::Message).collect(),
            complete: self.complete,
            reset: false,
            before: None,
            more: false,
            reply_to: None,
        };
        [welcome, history]
    }
}

/// What a visit to a room's page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visit {
    /// The chat.
    Chat(PageData),
    /// The nickname form: this browser has no usable session.
    Join,
    /// This session is banned until then: the page says so, and shows nothing of the chat.
    Banned { until: String },
}

/// How the server finds out what a visit shows: who the browser's session is, its rooms, and what
/// the room said lately. The server provides it as context when it renders a page (the page knows
/// nothing of sessions or the store; `server::http::page` does the reading).
#[derive(Clone)]
pub struct LoadVisit(pub std::sync::Arc<dyn Fn(String, Option<u64>) -> VisitFuture + Send + Sync>);

/// What [`LoadVisit`] returns.
pub type VisitFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Visit, ServerFnError>> + Send>>;

impl std::fmt::Debug for LoadVisit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoadVisit")
    }
}

/// What a visit to `room` (at its message `at`, for a permalink) shows, as the server's
/// [`LoadVisit`] says.
pub async fn page_state(room: String, at: Option<u64>) -> Result<Visit, ServerFnError> {
    let load = use_context::<LoadVisit>()
        .ok_or_else(|| ServerFnError::new("the server provides no page loader"))?;
    (load.0)(room, at).await
}
