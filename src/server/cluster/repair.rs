//! What a server reads from the store to make up for the bus: rooms' tails and missed private
//! messages (position checks), and sessions another server changed.
//!
//! Each runs in a task of its own, one at a time: a check asked for while one runs is folded into
//! the next, and session refreshes queue (bounded: past the bound, every session connected here
//! is refreshed instead).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use crate::server::hub::{Hub, Ingress};
use crate::server::metrics::Metrics;
use crate::server::session::{PersonId, Sessions};
use crate::server::store::Store;

/// Private messages one check reads at a time.
const DIRECTS_PAGE: u32 = 500;

/// Session refreshes waiting, at most.
const REFRESH_QUEUE: usize = 4096;

/// The handle on the repair tasks.
#[derive(Debug, Clone)]
pub struct Repairs {
    check: Arc<Notify>,
    refresh: mpsc::Sender<PersonId>,
    /// Set when a refresh did not fit in the queue: everything is refreshed next.
    refresh_all: Arc<AtomicBool>,
}

impl Repairs {
    /// Starts the tasks.
    pub async fn start(hub: Hub, sessions: Sessions, store: Store, metrics: Metrics) -> Self {
        let check = Arc::new(Notify::new());
        let (refresh, queue) = mpsc::channel(REFRESH_QUEUE);
        let refresh_all = Arc::new(AtomicBool::new(false));
        let repairs = Self {
            check: Arc::clone(&check),
            refresh,
            refresh_all: Arc::clone(&refresh_all),
        };
        tokio::spawn(checks(hub.clone(), store, metrics, check));
        tokio::spawn(refreshes(hub, sessions, queue, refresh_all));
        repairs
    }

    /// Checks positions as soon as possible.
    pub fn check_now(&self) {
        self.check.notify_one();
    }

    /// Reads session `id` again (another server changed it).
    pub fn refresh(&self, id: PersonId) {
        if self.refresh.try_send(id).is_err() {
            self.refresh_all();
        }
    }

    /// Reads every session connected here again (the bus may have lost changes).
    pub fn refresh_all(&self) {
        self.refresh_all.store(true, Ordering::Release);
        // A wake-up for the refresher; if the queue is full it is busy anyway.
        let _ = self.refresh.try_send(PersonId::from_store(0));
    }
}

/// The position checks, one at a time, whenever asked.
async fn checks(hub: Hub, store: Store, metrics: Metrics, check: Arc<Notify>) {
    // Private messages are checked from the store's latest at start: anything before it, the
    // connections catch up on by themselves.
    let mut directs_seen: Option<u64> = None;
    loop {
        check.notified().await;
        let rooms = hub.repair().listened_rooms();
        if !rooms.is_empty() {
            let names: Vec<&str> = rooms.iter().map(String::as_str).collect();
            match store.messages().room_heads(&names).await {
                Ok(heads) => hub.repair().check_positions(&heads),
                Err(err) => tracing::warn!(%err, "a position check failed; will retry"),
            }
        }
        match directs_seen {
            None => match store.directs().direct_head().await {
                Ok(head) => directs_seen = Some(head),
                Err(err) => tracing::warn!(%err, "reading the private messages' head failed"),
            },
            Some(mut after) => loop {
                match store.directs().directs_after(after, DIRECTS_PAGE).await {
                    Ok(page) => {
                        let full = page.len() == DIRECTS_PAGE as usize;
                        for dm in &page {
                            hub.ingress().missed_direct(
                                dm.id,
                                [
                                    dm.from.map(PersonId::from_store),
                                    dm.to.map(PersonId::from_store),
                                ],
                            );
                            after = dm.id;
                        }
                        if !page.is_empty() {
                            metrics.repaired("direct_check", page.len() as u64);
                        }
                        directs_seen = Some(after);
                        if !full {
                            break;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%err, "checking private messages failed; will retry");
                        break;
                    }
                }
            },
        }
    }
}

/// Session refreshes, one at a time.
async fn refreshes(
    hub: Hub,
    sessions: Sessions,
    mut queue: mpsc::Receiver<PersonId>,
    refresh_all: Arc<AtomicBool>,
) {
    while let Some(id) = queue.recv().await {
        if refresh_all.swap(false, Ordering::AcqRel) {
            // Drain what is queued: refreshing everyone covers it.
            while queue.try_recv().is_ok() {}
            for id in sessions.cache().live_ids() {
                refresh(&hub, &sessions, id).await;
            }
            continue;
        }
        refresh(&hub, &sessions, id).await;
    }
}

/// Reads session `id` from the store and brings this server up to date: the cached session (under
/// its order lock, as a change made here would be), its connections' rooms, and who is online.
async fn refresh(hub: &Hub, sessions: &Sessions, id: PersonId) {
    let live = sessions.cache().live(id);
    if live.is_none() && !hub.ingress().knows(id) {
        return;
    }
    let Some(session) = live else {
        match sessions.read(id).await {
            Ok(Some(saved)) => {
                hub.ingress()
                    .apply_session(id, &saved.nick, &Ingress::room_set(&saved.rooms))
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(%err, "re-reading a session failed"),
        }
        return;
    };
    let _order = session.in_order().await;
    match sessions.read(id).await {
        Ok(Some(saved)) => {
            let before = session.rooms();
            sessions.reload(&session, saved);
            let rooms = session.rooms();
            hub.ingress()
                .apply_session(id, &session.nick(), &Ingress::room_set(&rooms));
            if rooms != before {
                hub.ingress().rooms_changed(id);
            }
            // Banned on another server: its connections here are closed too.
            let now = crate::server::clock::now_rfc3339();
            if let Some(until) = session.standing().banned_at(&now) {
                hub.presence().close_session(id, until, "");
            }
        }
        Ok(None) => {}
        Err(err) => tracing::warn!(%err, "re-reading a session failed"),
    }
}
