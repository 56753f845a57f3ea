//! Abuse limits: how much one client may ask of the server, and what it is told when it asks too
//! much. Every limit answers in O(1) and every refusal is named (an `error` frame with
//! `retry_after_ms`, an HTTP status, or a close code with a reason); nothing is dropped silently.
//!
//! - [`bucket`]: the token bucket behind every rate.
//! - [`keyed`]: rates per client address (new sessions, new rooms, form posts), bounded in how
//!   many addresses they track.
//! - [`connections`]: caps on open connections per address and in total.
//! - [`files`]: the caps on connections, derived from the process's file limit.
//! - [`Limits`]: the numbers, validated once at start-up (`server::config`).

pub mod bucket;
pub mod connections;
pub mod files;
pub mod keyed;

use std::time::Duration;

pub use bucket::{wait_ms, Rate, TokenBucket};
pub use connections::{ConnectionLimits, ConnectionSlot};
pub use keyed::{AddrKey, KeyedLimiter};

use crate::protocol::ClientMsg;

/// The smallest frame limit that still admits every valid message however it is encoded: 4000
/// characters each written as a `\uXXXX\uXXXX` surrogate pair (12 bytes) is 48,000 bytes, plus a
/// `client_id`, a room and the frame's own fields, all escaped the same way.
pub const MIN_FRAME_BYTES: usize = 52 * 1024;

/// Which per-session rate limit a client frame counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// Everything a person does on purpose: `say`, `dm`, `join`, `leave`, `nick`, `history`.
    Message,
    /// `typing` and `read`, which clients send by themselves while someone types or reads.
    Typing,
}

impl Throttle {
    pub fn of(msg: &ClientMsg) -> Self {
        match msg {
            // Both come by themselves as someone types or reads.
            ClientMsg::Typing { .. } | ClientMsg::Read { .. } => Throttle::Typing,
            _ => Throttle::Message,
        }
    }
}

/// The numbers every limit uses. Defaults are production values; `server::config` reads them from
/// flags and the environment and validates them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest websocket message accepted (whole message, fragments included); larger ones close
    /// the connection with 1009 before they are buffered.
    pub max_frame_bytes: usize,
    /// Per session, all its tabs together: `say`, `dm`, `join`, `leave`, `nick`, `history`.
    pub messages: Rate,
    /// Per session: `typing` frames, counted apart.
    pub typing: Rate,
    /// Per connection: every frame it sends (pings, bad frames and frames before `hello`
    /// included), so no reply path (errors, pongs, refusals) can be driven faster than this.
    /// Over it the connection is closed with 1008.
    pub frames: Rate,
    /// How many refused `hello`s a connection gets before it is closed with 1008.
    pub hello_attempts: u32,
    /// Per address: new sessions (`POST /join`, `hello` with a nickname).
    pub sessions_per_addr: Rate,
    /// Per address: new rooms.
    pub rooms_per_addr: Rate,
    /// Per address: form posts (`/say`, `/rooms/join`, `/rooms/leave`).
    pub forms_per_addr: Rate,
    /// Per address, all its sessions together: what the per-session `messages` rate counts, so
    /// many sessions from one address cannot multiply it.
    pub messages_per_addr: Rate,
    /// Per address: new TCP connections (over it: closed at once).
    pub connections_per_addr: Rate,
    /// Per address: entries of the rooms' logs (and private messages) replayed by catch-ups and
    /// resyncs. A catch-up over it is paced, not refused: it waits for the address's budget.
    pub catch_up_per_addr: Rate,
    /// Uploads per address (several people may share one, so more than one person's rate).
    pub uploads_per_addr: Rate,
    /// Per session: renames (a few an hour).
    pub renames: Rate,
    /// Rooms created from one address that may exist at once.
    pub max_rooms_per_addr: usize,
    /// A room nobody is in and nobody wrote in for this long is reclaimed (deleted, with its
    /// messages), so abandoned rooms never fill the server's cap.
    pub room_idle: Duration,
    /// Edits one message may have.
    pub max_edits: u32,
    /// Private messages someone may leave for a person who never wrote to them, before that
    /// person answers.
    pub max_unanswered: u32,
    /// Private messages from people they never wrote to that a person may receive in a day.
    pub max_strangers_per_day: u32,
    /// A ban also covers the sessions made from the banned person's address within this time
    /// before it (a second session prepared to evade it).
    pub ban_reach: Duration,
    /// How many addresses each per-address limiter tracks at most.
    pub tracked_addrs: usize,
    /// Rooms the server holds at most (in the store).
    pub max_rooms_total: usize,
    /// Open websockets per client address.
    pub max_connections_per_ip: usize,
    /// Open websockets in all.
    pub max_connections: usize,
    /// Open TCP connections (pages, forms, websockets) per client address and in all.
    pub max_http_connections_per_ip: usize,
    pub max_http_connections: usize,
    /// How long a client may take to send a request's headers (and how long an idle keep-alive
    /// connection is kept).
    pub header_read_timeout: Duration,
    /// How long a websocket may take to send its `hello`.
    pub hello_timeout: Duration,
    /// How often an idle connection is pinged.
    pub ping_interval: Duration,
    /// A connection that sends nothing (not even a pong) for this long is closed as dead.
    pub idle_timeout: Duration,
    /// How long one write to a client may take before it is closed as too slow.
    pub write_timeout: Duration,
    /// The largest gap a reconnect's `since` is filled message by message; beyond it the client
    /// gets the latest page with `reset`. (A connection that fell behind is always resynced
    /// exactly, however far.)
    pub catch_up_limit: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            messages: Rate::new(10.0, 20.0),
            typing: Rate::new(2.0, 5.0),
            frames: Rate::new(50.0, 200.0),
            hello_attempts: 5,
            sessions_per_addr: Rate::per_minute(10.0, 30.0),
            rooms_per_addr: Rate::per_minute(1.0, 10.0),
            forms_per_addr: Rate::per_minute(120.0, 30.0),
            messages_per_addr: Rate::new(30.0, 60.0),
            connections_per_addr: Rate::new(20.0, 100.0),
            catch_up_per_addr: Rate::new(5000.0, 20_000.0),
            uploads_per_addr: Rate::per_minute(120.0, 120.0),
            renames: Rate::per_hour(5.0, 3.0),
            max_rooms_per_addr: 20,
            room_idle: Duration::from_secs(7 * 24 * 3600),
            max_edits: 25,
            max_unanswered: 50,
            max_strangers_per_day: 500,
            ban_reach: Duration::from_secs(3600),
            tracked_addrs: 100_000,
            max_rooms_total: 1000,
            max_connections_per_ip: 256,
            max_connections: 200_000,
            max_http_connections_per_ip: 256,
            max_http_connections: 210_000,
            header_read_timeout: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            write_timeout: Duration::from_secs(20),
            catch_up_limit: 5000,
        }
    }
}

/// The per-address limiters, shared by the websocket, the forms and the accept loop.
#[derive(Debug)]
pub struct AddressLimits {
    pub sessions: KeyedLimiter,
    pub rooms: KeyedLimiter,
    pub forms: KeyedLimiter,
    pub messages: KeyedLimiter,
    pub catch_up: KeyedLimiter,
    pub uploads: KeyedLimiter,
    pub connections: std::sync::Arc<KeyedLimiter>,
}

impl AddressLimits {
    pub fn new(limits: &Limits) -> Self {
        let keyed = |rate| KeyedLimiter::new(rate, limits.tracked_addrs);
        Self {
            sessions: keyed(limits.sessions_per_addr),
            rooms: keyed(limits.rooms_per_addr),
            forms: keyed(limits.forms_per_addr),
            messages: keyed(limits.messages_per_addr),
            catch_up: keyed(limits.catch_up_per_addr),
            uploads: keyed(limits.uploads_per_addr),
            connections: std::sync::Arc::new(keyed(limits.connections_per_addr)),
        }
    }

    /// Forgets addresses whose buckets refilled; run periodically.
    pub fn sweep(&self) {
        self.sessions.sweep();
        self.rooms.sweep();
        self.forms.sweep();
        self.messages.sweep();
        self.catch_up.sweep();
        self.uploads.sweep();
        self.connections.sweep();
    }
}
