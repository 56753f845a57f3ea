//! The bus between chinwag servers: how one server hears what happened on the others.
//!
//! One server needs none ([`Bus::local`], the default): its hub is the whole truth. Several servers
//! behind a load balancer share the store (PostgreSQL) and a Redis ([`redis`]): each publishes what
//! its own clients did (a stored message, a private message, typing, who came and went) and hears
//! the others'. The bus is a fast path, never the record: it may lose or reorder anything, and
//! Redis may restart empty. The store stays the only place that orders and keeps messages, and
//! every server repairs what the bus lost from it (see `server::cluster`).
//!
//! # Wire format
//! Every server publishes to one channel, `<prefix>:events`, and every server listens to it (its
//! own events come back too, which is how it knows its link works). An event is a line of JSON
//! (the [`Envelope`]: who sent it, when, and what happened) then, for events that carry a frame for
//! clients, a newline and the frame exactly as clients get it, so a message is serialized once in
//! the whole cluster.

pub mod redis;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tungstenite::Utf8Bytes;

/// A server's identity on the bus: random, new at every start (so a restarted server is a new
/// one, and nothing it said before the restart is mistaken for what it says now).
pub type NodeId = u64;

/// Someone online on a server, as the others learn of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonInfo {
    /// Their id (a person's, on every server).
    pub id: i64,
    pub nick: String,
    /// Their rooms besides `general`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
    /// A bot's session.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
}

/// What a server tells the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Event {
    /// A stored room message; the frame is its `message`.
    Message { room: String, seq: u64 },
    /// A room frame that is not stored (typing); passed on as it is.
    Frame { room: String },
    /// A stored private message between two sessions; the frame is its `dm`. `prev_from` and
    /// `prev_to` are each party's private message before it (0 if none).
    Dm {
        id: u64,
        from: i64,
        to: i64,
        prev_from: u64,
        prev_to: u64,
    },
    /// A session was renamed or joined or left a room: servers that know it read it again from the
    /// store.
    Session { id: i64 },
    /// A moderator muted (`ban: false`) or banned session `id` until `until`: servers where it is
    /// connected apply it at once, in the bus's order (before the `moderated` frame that follows,
    /// so no post slips through between the two), and close its connections for a ban.
    Sanctioned {
        id: i64,
        ban: bool,
        until: String,
        #[serde(default)]
        reason: String,
    },
    /// Someone came online on the sender (their first connection there). `v` numbers the sender's
    /// presence changes, so a receiver can tell it missed one.
    Online { v: u64, person: PersonInfo },
    /// Someone's last connection on the sender closed (after the leave grace).
    Offline { v: u64, id: i64 },
    /// The sender is alive; `v` is its latest presence change.
    Heartbeat { v: u64 },
    /// Asks `node` (every server, if `None`) to send everyone it has online.
    Sync { node: Option<NodeId> },
    /// Part `part` of `parts` of everyone online on the sender, as of change `v`.
    Snapshot {
        v: u64,
        part: u32,
        parts: u32,
        people: Vec<PersonInfo>,
    },
    /// The sender is shutting down: its people move to other servers or leave.
    Down,
    /// A frame for every connection of person `id` (their read position moved on one of their
    /// devices); the frame is carried as it is.
    Personal { id: i64 },
    /// Sessions `sessions` of person `id` were signed out: their connections are closed.
    SignedOut { id: i64, sessions: Vec<i64> },
}

/// An event with who sent it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending server.
    pub n: NodeId,
    /// When it was sent, in milliseconds since the Unix epoch (for the lag metric).
    pub at: u64,
    pub e: Event,
}

/// An event as received: its envelope and the frame it carries, if any.
#[derive(Debug, Clone)]
pub struct Received {
    pub envelope: Envelope,
    pub frame: Option<Utf8Bytes>,
}

/// Why a bus payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("bad envelope: {0}")]
    Envelope(#[from] serde_json::Error),
    #[error("the frame is not UTF-8")]
    Frame,
}

/// Writes an event as published: the envelope's JSON, then a newline and the frame if any.
pub fn encode(envelope: &Envelope, frame: Option<&str>) -> Vec<u8> {
    // serde_json never writes a raw newline, so the first one ends the envelope.
    let mut payload = serde_json::to_vec(envelope).unwrap_or_default();
    if let Some(frame) = frame {
        payload.reserve(frame.len() + 1);
        payload.push(b'\n');
        payload.extend_from_slice(frame.as_bytes());
    }
    payload
}

/// Reads a published event.
pub fn decode(payload: &[u8]) -> Result<Received, DecodeError> {
    let (head, frame) = match payload.iter().position(|b| *b == b'\n') {
        Some(at) => (&payload[..at], Some(&payload[at + 1..])),
        None => (payload, None),
    };
    let envelope = serde_json::from_slice(head)?;
    let frame = frame
        .map(|bytes| {
            std::str::from_utf8(bytes)
                .map(|text| Utf8Bytes::from(text.to_owned()))
                .map_err(|_| DecodeError::Frame)
        })
        .transpose()?;
    Ok(Received { envelope, frame })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// This server's handle on the bus. Cheap to clone. Publishing never waits: while the link is
/// down (or cannot keep up) events are dropped and counted, and the servers repair from the store.
#[derive(Debug, Clone)]
pub struct Bus {
    node: NodeId,
    link: Option<Arc<redis::Link>>,
}

impl Bus {
    /// No bus: this server is the only one.
    pub fn local() -> Self {
        Self {
            node: rand::random(),
            link: None,
        }
    }

    /// A bus over `link`, as server `node`.
    pub fn shared(node: NodeId, link: Arc<redis::Link>) -> Self {
        Self {
            node,
            link: Some(link),
        }
    }

    /// This server's id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Whether other servers may exist (a shared bus is configured).
    pub fn is_shared(&self) -> bool {
        self.link.is_some()
    }

    /// Whether the link to the other servers works right now (always false without one).
    pub fn is_up(&self) -> bool {
        self.link.as_ref().is_some_and(|link| link.is_up())
    }

    /// Tells the other servers `event`, with `frame` if it carries one.
    pub fn publish(&self, event: &Event, frame: Option<&str>) {
        if let Some(link) = &self.link {
            let envelope = Envelope {
                n: self.node,
                at: now_ms(),
                e: event.clone(),
            };
            link.publish(encode(&envelope, frame));
        }
    }

    /// Drops the link and makes a new one (the link looked alive but carried nothing).
    pub fn reconnect(&self) {
        if let Some(link) = &self.link {
            link.reconnect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_and_its_frame_survive_the_wire() {
        let envelope = Envelope {
            n: 7,
            at: 1,
            e: Event::Message {
                room: "general".into(),
                seq: 3,
            },
        };
        let frame = "{\"type\":\"message\",\"text\":\"a\\nb\"}\nnot a second envelope";
        let decoded = decode(&encode(&envelope, Some(frame))).expect("decodes");
        assert_eq!(decoded.envelope, envelope);
        assert_eq!(decoded.frame.as_deref(), Some(frame));
        let bare = Envelope {
            n: 7,
            at: 1,
            e: Event::Heartbeat { v: 9 },
        };
        let decoded = decode(&encode(&bare, None)).expect("decodes");
        assert_eq!(decoded.envelope, bare);
        assert!(decoded.frame.is_none());
    }

    #[test]
    fn garbage_is_refused_not_trusted() {
        assert!(decode(b"").is_err());
        assert!(decode(b"{\"n\":1}").is_err());
        assert!(decode(b"{\"n\":1,\"at\":0,\"e\":{\"t\":\"down\"}}\n\xff").is_err());
    }
}
