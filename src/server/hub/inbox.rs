//! A connection's private inbox: what is meant for it alone (private messages, and the news that
//! its session joined or left a room on another tab, so every tab follows).
//!
//! Built on [`Notify`] rather than a tokio `mpsc` channel because it costs nothing until something
//! arrives: a channel allocates its first block of slots up front, for every connection, and
//! nearly every connection's inbox stays empty. It is bounded: an item that finds it full is
//! counted as missed, and the connection resyncs from the store when it sees the count.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;
use tungstenite::Utf8Bytes;

/// What arrives in a connection's inbox.
#[derive(Debug, Clone)]
pub enum Private {
    /// A private message (`dm` frame) with its id, and, when it came from another server, the id
    /// of this session's private message before it: a connection that has not sent that one yet
    /// reads the store first.
    Dm {
        id: u64,
        prev: Option<u64>,
        frame: Utf8Bytes,
    },
    /// A private message with this id may have been missed (another server could not announce
    /// it): the connection reads the store if it has not sent it.
    Missed { id: u64 },
    /// The session joined or left a room on another connection: the connection re-reads its
    /// session's rooms and follows.
    RoomsChanged,
    /// The session was banned until then, for that reason (empty if none was given or it is not
    /// known here): the connection says so and closes.
    Banned { until: String, reason: String },
    /// A frame for this connection as it is (the person's read position moved on another device).
    Frame(Utf8Bytes),
    /// The session can no longer be used (its token was replaced or revoked, or it was signed
    /// out): the connection says so with this error and closes with 1008 and `close_reason`.
    Ended {
        code: crate::protocol::ErrorCode,
        message: String,
        close_reason: String,
    },
}

/// The shared half of a connection's inbox: the hub pushes to it without waiting.
#[derive(Debug)]
pub(super) struct Mailbox {
    queue: Mutex<VecDeque<Private>>,
    ready: Notify,
    /// Items that did not fit; the connection reports them.
    missed: AtomicU64,
    capacity: usize,
}

impl Mailbox {
    pub(super) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            missed: AtomicU64::new(0),
            capacity,
        })
    }

    /// Queues `item`, or counts it as missed if the inbox is full (a ban or an ended session is
    /// never missed: it goes first, whatever waits).
    pub(super) fn push(&self, item: Private) {
        {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if matches!(item, Private::Banned { .. } | Private::Ended { .. }) {
                queue.push_front(item);
            } else if queue.len() >= self.capacity {
                self.missed.fetch_add(1, Ordering::Relaxed);
                return;
            } else {
                queue.push_back(item);
            }
        }
        // Stores a permit if the connection is not waiting right now, so no wake-up is lost.
        self.ready.notify_one();
    }

    fn pop(&self) -> Option<Private> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let item = queue.pop_front();
        if queue.is_empty() && queue.capacity() > 8 {
            // A burst's buffer is not kept for the connection's life.
            queue.shrink_to(0);
        }
        item
    }

    fn pop_if(&self, take: impl FnOnce(&Private) -> bool) -> Option<Private> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.front().is_some_and(take) {
            queue.pop_front()
        } else {
            None
        }
    }
}

/// A connection's private inbox.
#[derive(Debug)]
pub struct Inbox {
    pub(super) mailbox: Arc<Mailbox>,
}

impl Inbox {
    /// The next private item. Cancel-safe: an item is taken only when it is returned.
    pub async fn recv(&mut self) -> Private {
        loop {
            if let Some(item) = self.mailbox.pop() {
                return item;
            }
            self.mailbox.ready.notified().await;
        }
    }

    /// The next private item if one is waiting.
    pub fn try_recv(&mut self) -> Option<Private> {
        self.mailbox.pop()
    }

    /// The next private item if one is waiting and `take` accepts it.
    pub fn try_recv_if(&mut self, take: impl FnOnce(&Private) -> bool) -> Option<Private> {
        self.mailbox.pop_if(take)
    }

    /// How many items were dropped because the inbox was full since the last call.
    pub fn take_missed(&self) -> u64 {
        self.mailbox.missed.swap(0, Ordering::Relaxed)
    }
}
