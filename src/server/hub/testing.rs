//! A hub whose messages live in memory only, numbered per room (for tests and benchmarks; never
//! part of the server, which always stores through the store).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;

use super::{Hub, HubConfig, Log};
use crate::protocol::{ChatMessage, DirectMessage};
use crate::server::metrics::Metrics;
use crate::server::store::{DirectDraft, NewMessage, StoreError};

/// Room messages numbered per room and private messages numbered in order, kept nowhere.
#[derive(Debug, Default)]
pub struct MemoryLog {
    seqs: Mutex<HashMap<String, u64>>,
    direct_ids: AtomicU64,
}

impl Log for MemoryLog {
    fn append_batch<'a>(
        &'a self,
        room: &'a str,
        drafts: Vec<NewMessage>,
    ) -> BoxFuture<'a, Result<Vec<ChatMessage>, StoreError>> {
        Box::pin(async move {
            // Yield, as a real store would, to invite interleaving.
            tokio::task::yield_now().await;
            let mut seqs = self.seqs.lock().unwrap_or_else(PoisonError::into_inner);
            let last = seqs.entry(room.to_owned()).or_insert(0);
            Ok(drafts
                .into_iter()
                .map(|d| {
                    *last += 1;
                    ChatMessage {
                        room: room.to_owned(),
                        seq: *last,
                        from: d.from,
                        text: d.text,
                        at: d.at,
                        client_id: d.client_id,
                        action: d.action,
                    }
                })
                .collect())
        })
    }

    fn append_directs(
        &self,
        drafts: Vec<DirectDraft>,
    ) -> BoxFuture<'_, Result<Vec<DirectMessage>, StoreError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            Ok(drafts
                .into_iter()
                .map(|d| DirectMessage {
                    id: self.direct_ids.fetch_add(1, Ordering::Relaxed) + 1,
                    from: d.from,
                    to: d.to,
                    text: d.text,
                    at: d.at,
                    client_id: d.client_id,
                    action: d.action,
                })
                .collect())
        })
    }
}

impl Hub {
    /// A hub that keeps messages in memory only.
    pub fn in_memory(config: HubConfig) -> Self {
        Self::new(config, Arc::new(MemoryLog::default()), Metrics::new())
    }
}
