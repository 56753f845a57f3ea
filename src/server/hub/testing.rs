//! A hub whose messages live in memory only, numbered per room (for tests and benchmarks; never
//! part of the server, which always stores through the store).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;

use super::{Hub, HubConfig, Log};
use crate::protocol::{ChatMessage, DirectMessage, Stored};
use crate::server::metrics::Metrics;
use crate::server::store::{
    Committed, DirectDraft, DirectEntry, NewMessage, StoreError, StoredDirect,
};

/// Room messages numbered per room and private messages numbered in order, kept nowhere (so there
/// is nothing to read back: one server's hub never needs to).
#[derive(Debug, Default)]
pub struct MemoryLog {
    seqs: Mutex<HashMap<String, u64>>,
    direct_ids: AtomicU64,
    /// Each party's latest private message.
    latest_direct: Mutex<HashMap<i64, u64>>,
}

impl Log for MemoryLog {
    fn append_batch<'a>(
        &'a self,
        room: &'a str,
        drafts: Vec<NewMessage>,
    ) -> BoxFuture<'a, Result<Vec<Committed>, StoreError>> {
        Box::pin(async move {
            // Yield, as a real store would, to invite interleaving.
            tokio::task::yield_now().await;
            let mut seqs = self.seqs.lock().unwrap_or_else(PoisonError::into_inner);
            let last = seqs.entry(room.to_owned()).or_insert(0);
            Ok(drafts
                .into_iter()
                .map(|d| {
                    *last += 1;
                    Committed::New(ChatMessage {
                        room: room.to_owned(),
                        seq: *last,
                        from: d.from,
                        text: d.text,
                        at: d.at,
                        client_id: d.client_id,
                        action: d.action,
                        edited: false,
                        deleted: false,
                        mentions: Vec::new(),
                        files: d.files,
                        reply_to: None,
                        reactions: Default::default(),
                    })
                })
                .collect())
        })
    }

    fn append_directs(
        &self,
        drafts: Vec<DirectDraft>,
    ) -> BoxFuture<'_, Result<Vec<StoredDirect>, StoreError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut latest = self
                .latest_direct
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Ok(drafts
                .into_iter()
                .map(|d| {
                    let id = self.direct_ids.fetch_add(1, Ordering::Relaxed) + 1;
                    let prev_from = latest.get(&d.from_person).copied().unwrap_or(0);
                    let prev_to = latest.get(&d.to_person).copied().unwrap_or(0);
                    latest.insert(d.from_person, id);
                    latest.insert(d.to_person, id);
                    StoredDirect {
                        entry: DirectEntry::Message(DirectMessage {
                            id,
                            from: d.from,
                            to: d.to,
                            text: d.text,
                            at: d.at,
                            client_id: d.client_id,
                            action: d.action,
                            files: d.files,
                            reply_to: None,
                            reactions: Default::default(),
                        }),
                        prev_from,
                        prev_to,
                    }
                })
                .collect())
        })
    }

    fn since<'a>(
        &'a self,
        _room: &'a str,
        _after: u64,
        _limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

impl Hub {
    /// A hub that keeps messages in memory only.
    pub fn in_memory(config: HubConfig) -> Self {
        Self::new(
            config,
            Arc::new(MemoryLog::default()),
            Metrics::new(),
            crate::server::bus::Bus::local(),
        )
    }
}
