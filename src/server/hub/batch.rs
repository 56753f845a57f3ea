//! Group commit's queue, for room messages and private messages alike: what waits to be stored,
//! and whether a committer is at work. The first to queue onto an idle queue leads (it starts the
//! committer); the committer takes up to [`MAX_BATCH`] at a time until nothing is left, and marks
//! the queue idle in the same step that finds it empty, so exactly one committer runs at a time
//! and nothing queued is ever left without one.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::protocol::{ErrorCode, FrameError};

/// Most entries one commit takes.
pub(super) const MAX_BATCH: usize = 256;

/// What a publisher hears when its commit failed; the cause goes to the log once, by the committer.
pub(super) fn not_stored() -> FrameError {
    FrameError::new(
        ErrorCode::Unavailable,
        "the message could not be stored; try again",
    )
}

/// Entries waiting to be committed.
#[derive(Debug)]
pub(super) struct Batch<T> {
    state: Mutex<State<T>>,
}

#[derive(Debug)]
struct State<T> {
    waiting: Vec<T>,
    committing: bool,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                waiting: Vec::new(),
                committing: false,
            }),
        }
    }
}

impl<T> Batch<T> {
    fn state(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `entry`. Returns whether the caller leads: no committer was at work, and the caller
    /// must start one.
    pub(super) fn push(&self, entry: T) -> bool {
        let mut state = self.state();
        state.waiting.push(entry);
        !std::mem::replace(&mut state.committing, true)
    }

    /// The committer's next batch, oldest first; `None` when nothing is left, and the queue is
    /// then idle (the next entry's publisher leads).
    pub(super) fn next(&self) -> Option<Vec<T>> {
        let mut state = self.state();
        if state.waiting.is_empty() {
            state.committing = false;
            return None;
        }
        let take = state.waiting.len().min(MAX_BATCH);
        Some(state.waiting.drain(..take).collect())
    }

    /// For a committer that ended before [`Batch::next`] said it was done (its task panicked or
    /// was dropped): whether entries remain, which a new committer must take; if none, the queue
    /// is idle.
    pub(super) fn abandoned(&self) -> bool {
        let mut state = self.state();
        if state.waiting.is_empty() {
            state.committing = false;
            false
        } else {
            true
        }
    }

    /// Marks the queue idle whatever it holds (no runtime is left to commit it).
    pub(super) fn stop(&self) {
        self.state().committing = false;
    }

    /// Nothing queued and no committer at work.
    pub(super) fn is_idle(&self) -> bool {
        let state = self.state();
        state.waiting.is_empty() && !state.committing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_leader_at_a_time_and_idle_only_when_empty() {
        let batch = Batch::default();
        assert!(batch.push(1), "the first leads");
        assert!(!batch.push(2), "a committer is at work");
        assert!(!batch.is_idle());
        assert_eq!(batch.next(), Some(vec![1, 2]));
        assert!(
            !batch.push(3),
            "still at work until it finds the queue empty"
        );
        assert_eq!(batch.next(), Some(vec![3]));
        assert_eq!(batch.next(), None);
        assert!(batch.is_idle());
        assert!(batch.push(4), "the next one leads again");
    }

    #[test]
    fn a_batch_takes_at_most_max_batch() {
        let batch = Batch::default();
        for n in 0..MAX_BATCH + 3 {
            batch.push(n);
        }
        assert_eq!(batch.next().map(|b| b.len()), Some(MAX_BATCH));
        assert_eq!(batch.next().map(|b| b.len()), Some(3));
    }

    #[test]
    fn an_abandoned_queue_with_entries_needs_a_new_committer() {
        let batch = Batch::default();
        batch.push(1);
        assert!(batch.abandoned());
        assert!(!batch.is_idle());
        assert_eq!(batch.next(), Some(vec![1]));
        assert_eq!(batch.next(), None);
        batch.push(2);
        let _ = batch.next();
        assert!(!batch.abandoned(), "nothing left: idle");
        assert!(batch.is_idle());
    }
}
