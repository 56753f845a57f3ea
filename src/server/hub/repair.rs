//! Filling a room's gaps from the store.
//!
//! A room's sequencer holds back a message whose predecessor has not arrived. Usually the
//! predecessor is a moment behind on the bus; if it is still missing after [`GAP_WAIT`], it was
//! lost (its server died between commit and publish, or the bus dropped it), and it is read from
//! the store, which has it: a message with a higher `seq` exists only once every lower one is
//! committed. One task per room does this, reading at most [`REPAIR_PAGE`] messages at a time,
//! with backoff while the store fails.
//!
//! The *tail* (a last message nothing follows, so no gap shows it) is found by position checks:
//! the cluster reads the store's last `seq` of every room listened to here and hands it to
//! [`Repair::check_positions`].
//!
//! [`Repair`] holds only what repairing takes (the rooms, the log, the bus's state, metrics), so
//! the commit paths and the cluster ingress can start a repair without the rest of the hub.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tungstenite::Utf8Bytes;

use super::commit::Log;
use super::room::{Registry, Room};
use super::{Delivery, SERVER};
use crate::server::bus::Bus;
use crate::server::metrics::Metrics;

/// How long a gap may stay open before it is read from the store: long enough for a message a
/// moment behind on the bus, short enough to be a hiccup rather than a stall.
pub const GAP_WAIT: Duration = Duration::from_millis(100);

/// The wait before reading a gap while the bus is down.
const GAP_WAIT_BUS_DOWN: Duration = Duration::from_millis(5);

/// Most messages one repair read takes.
const REPAIR_PAGE: u64 = 256;

/// The longest wait between repair reads while the store fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Fills the live rooms' gaps from the store. Cheap to clone: every clone repairs the same rooms.
#[derive(Clone)]
pub struct Repair {
    rooms: Arc<Registry>,
    log: Arc<dyn Log>,
    metrics: Metrics,
    /// Only asked whether it is up: with the bus down, nothing is on its way.
    bus: Bus,
}

impl std::fmt::Debug for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repair").finish_non_exhaustive()
    }
}

impl Repair {
    pub(super) fn new(rooms: Arc<Registry>, log: Arc<dyn Log>, metrics: Metrics, bus: Bus) -> Self {
        Self {
            rooms,
            log,
            metrics,
            bus,
        }
    }

    /// A delivery left a gap in `room`: reads it from the store after [`GAP_WAIT`], unless a
    /// repair is already at work there.
    pub(super) fn soon(&self, room: &Arc<Room>) {
        // With the bus down nothing is on its way: read at once (after a moment that lets a burst
        // of gaps be read together).
        let wait = if self.bus.is_up() {
            GAP_WAIT
        } else {
            GAP_WAIT_BUS_DOWN
        };
        self.start(room, wait, "gap");
    }

    fn start(&self, room: &Arc<Room>, wait: Duration, reason: &'static str) {
        if room.repairing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            room.repairing.store(false, Ordering::Release);
            return;
        };
        let (repair, room) = (self.clone(), Arc::clone(room));
        runtime.spawn(async move {
            let _repairing = Repairing {
                repair: repair.clone(),
                room: Arc::clone(&room),
            };
            repair.fill(&room, wait, reason).await;
        });
    }

    /// Reads `room`'s gaps from the store until none is left (or nobody listens any more).
    async fn fill(&self, room: &Room, mut wait: Duration, reason: &'static str) {
        loop {
            tokio::time::sleep(wait).await;
            if !room.has_listeners() {
                room.forget_order();
                return;
            }
            let Some(gap) = room.gap() else {
                return;
            };
            let limit = (gap.to - gap.from + 1).min(REPAIR_PAGE);
            let read = self
                .log
                .since(
                    &room.name,
                    gap.from - 1,
                    u32::try_from(limit).unwrap_or(u32::MAX),
                )
                .await;
            match read {
                Ok(entries) if !entries.is_empty() => {
                    self.metrics.repaired(reason, entries.len() as u64);
                    for entry in entries {
                        let frame = Utf8Bytes::from(entry.to_json());
                        room.deliver(Delivery::sequenced(SERVER, entry.position(), frame));
                    }
                    wait = Duration::ZERO;
                }
                Ok(_) => {
                    // The store has nothing there (it cannot be the store these seqs came from):
                    // stop waiting for what will never come.
                    tracing::error!(room = %room.name, from = gap.from, to = gap.to,
                        "a gap the store cannot fill; passing on without it");
                    room.skip_gap(gap.to);
                    wait = Duration::ZERO;
                }
                Err(err) => {
                    tracing::warn!(%err, room = %room.name, "reading a gap from the store failed; will retry");
                    wait = (wait * 2).clamp(GAP_WAIT, MAX_BACKOFF);
                }
            }
        }
    }

    /// The store's last `seq` of each room: rooms listened to here whose end this server has not
    /// passed on are repaired at once. The cluster calls it periodically and whenever the bus
    /// comes back.
    pub fn check_positions(&self, heads: &[(String, u64)]) {
        for (name, head) in heads {
            if let Some(room) = self.rooms.get(name) {
                if room.learn_position(*head) {
                    self.start(&room, Duration::ZERO, "tail");
                }
            }
        }
    }

    /// The rooms someone listens to here (whose positions to check).
    pub fn listened_rooms(&self) -> Vec<String> {
        self.rooms
            .listened()
            .iter()
            .map(|room| room.name.to_string())
            .collect()
    }

    /// A reader of `room` has everything up to `position` after its catch-up.
    pub fn reported(&self, room: &str, position: u64) {
        if let Some(room) = self.rooms.get(room) {
            room.reported(position);
        }
    }
}

/// Ends a room's repair however its task ends; starts another if a gap opened meanwhile.
struct Repairing {
    repair: Repair,
    room: Arc<Room>,
}

impl Drop for Repairing {
    fn drop(&mut self) {
        self.room.repairing.store(false, Ordering::Release);
        if self.room.has_listeners() && self.room.gap().is_some() {
            self.repair.start(&self.room, GAP_WAIT, "gap");
        } else {
            self.repair.rooms.release(&self.room);
        }
    }
}
