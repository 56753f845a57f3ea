//! Frees what nobody uses any more: uploads never posted (after [`FilesConfig::unposted_ttl`](super::FilesConfig::unposted_ttl)),
//! and objects a delete left without a row naming them. Every server of a cluster runs it; each
//! step is safe to repeat (a delete of a missing object succeeds), so they need no coordination.
//!
//! One race is left: the same bytes uploaded again between the check that nothing names an object
//! and its delete find the object present (so it is not written again) and lose it. It needs an
//! identical file uploaded within milliseconds of the last message naming it being deleted; a
//! fix is to write an object again when its row is added after the collector's check (a
//! generation number on `unlinked_objects`).

use tokio::sync::watch;

use super::Files;
use crate::server::clock::rfc3339_ago;
use crate::server::store::{Store, StoreError};

/// How many objects one round deletes before looking again.
const ROUND: u32 = 100;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub unposted: u64,
    pub objects: u64,
}

/// Sweeps every [`FilesConfig::collect_every`](super::FilesConfig::collect_every) until shutdown.
pub async fn run(files: Files, store: Store, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(files.config.collect_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        match sweep(&files, &store).await {
            Ok(swept) if swept != Swept::default() => {
                tracing::info!(
                    unposted = swept.unposted,
                    objects = swept.objects,
                    "files swept"
                );
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "sweeping files failed; will retry"),
        }
    }
}

/// A failure of one sweep.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] super::StorageError),
}

/// One sweep: unposted uploads past their time, then unnamed objects, a round at a time.
pub async fn sweep(files: &Files, store: &Store) -> Result<Swept, SweepError> {
    let mut swept = Swept {
        unposted: store
            .files()
            .sweep_unposted(&rfc3339_ago(files.config.unposted_ttl))
            .await?,
        objects: 0,
    };
    loop {
        let unnamed = store.files().unlinked(ROUND).await?;
        for hash in &unnamed {
            files.storage.delete(hash).await?;
        }
        // Off the queue only once gone: a crash in between deletes them again next time.
        store.files().forget_unlinked(&unnamed).await?;
        swept.objects += unnamed.len() as u64;
        if unnamed.len() < ROUND as usize {
            break;
        }
    }
    files.sweep_rates();
    Ok(swept)
}
