//! A room's messages put in `seq` order, whatever order they arrive in.
//!
//! On one server, messages reach a room's ring in commit order by construction: its committer puts
//! them there. With several servers they also arrive from the others, over a bus that may reorder
//! them (two servers publish after their own commits, in whatever order their tasks run) or lose
//! them (a server that died between commit and publish, a bus that restarted). The store's row
//! lock still gives every room one gap-free order of `seq`s; this is what makes each server deliver
//! in that order: a message that arrives early waits for the ones before it, a gap that stays
//! open is read from the store (the caller does the read and feeds the messages back in), and a
//! message seen before is dropped.
//!
//! Pure logic, no clock and no I/O: [`super::room`] holds one per live room under a lock and sends
//! what it returns, in order, onto the room's ring.

use std::collections::BTreeMap;

/// Most messages one room keeps waiting for an earlier one. Past this the store cannot keep up
/// (or is down); the waiting messages are released with their gaps, and each reader fills its own
/// gaps from the store when it can, as after any gap.
pub const MAX_PENDING: usize = 4096;

/// One room's order.
#[derive(Debug)]
pub struct Sequencer<T> {
    /// The next `seq` to pass on; `None` until something tells (the first message passed on, or a
    /// reader's position once a position check comes).
    next: Option<u64>,
    /// The lowest position a reader of this room reported after its catch-up, while `next` is not
    /// known: everything after it must reach the ring.
    floor: Option<u64>,
    /// Messages that arrived before an earlier one.
    pending: BTreeMap<u64, T>,
    /// The highest `seq` known to exist (a waiting message's, or the store's last as a position
    /// check read it).
    want: u64,
}

impl<T> Default for Sequencer<T> {
    fn default() -> Self {
        Self {
            next: None,
            floor: None,
            pending: BTreeMap::new(),
            want: 0,
        }
    }
}

/// A range of `seq`s to read from the store, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub from: u64,
    pub to: u64,
}

impl<T> Sequencer<T> {
    /// Takes message `seq`; returns what can be passed on now, in order (nothing if it waits for
    /// an earlier one or was seen before).
    pub fn accept(&mut self, seq: u64, item: T) -> Vec<(u64, T)> {
        let next = *self
            .next
            .get_or_insert_with(|| self.floor.map_or(seq, |floor| floor + 1));
        if seq < next {
            return Vec::new();
        }
        self.want = self.want.max(seq);
        if seq > next {
            self.pending.insert(seq, item);
            if self.pending.len() > MAX_PENDING {
                return self.release_all();
            }
            return Vec::new();
        }
        let mut ready = vec![(seq, item)];
        let mut next = seq + 1;
        while let Some(item) = self.pending.remove(&next) {
            ready.push((next, item));
            next += 1;
        }
        self.next = Some(next);
        ready
    }

    /// Gives up waiting: everything waiting is released in order, gaps and all.
    fn release_all(&mut self) -> Vec<(u64, T)> {
        let ready: Vec<(u64, T)> = std::mem::take(&mut self.pending).into_iter().collect();
        if let Some((last, _)) = ready.last() {
            self.next = Some(last + 1);
        }
        ready
    }

    /// Stops waiting for everything up to `to` (the store does not have it): passes on what waited
    /// behind it.
    pub fn skip(&mut self, to: u64) -> Vec<(u64, T)> {
        let Some(next) = self.next else {
            return Vec::new();
        };
        let mut next = next.max(to + 1);
        let mut ready = Vec::new();
        // Anything still waiting below the new start can never be passed on in order.
        self.pending = self.pending.split_off(&next);
        while let Some(item) = self.pending.remove(&next) {
            ready.push((next, item));
            next += 1;
        }
        self.next = Some(next);
        ready
    }

    /// What is missing before the next message can be passed on, if anything: from `next` up to
    /// the first waiting message (or to the last one known to exist).
    pub fn gap(&self) -> Option<Gap> {
        let next = self.next?;
        let to = match self.pending.keys().next() {
            Some(first) => first - 1,
            None if self.want >= next => self.want,
            None => return None,
        };
        (to >= next).then_some(Gap { from: next, to })
    }

    /// A reader finished its catch-up at `position`. Until `next` is known, the lowest such
    /// position is where the ring must start for nobody to miss anything.
    pub fn reported(&mut self, position: u64) {
        if self.next.is_none() {
            self.floor = Some(self.floor.map_or(position, |floor| floor.min(position)));
        }
    }

    /// The store's last `seq` for this room is `head` (a position check): if it is beyond what was
    /// passed on, the rest is a gap to read. Returns whether there is one.
    pub fn learn(&mut self, head: u64) -> bool {
        if self.next.is_none() {
            match self.floor {
                Some(floor) => self.next = Some(floor + 1),
                // No reader has a position yet: each one's catch-up reads the store itself.
                None => return false,
            }
        }
        self.want = self.want.max(head);
        self.gap().is_some()
    }

    /// The last `seq` passed on, if any.
    pub fn head(&self) -> Option<u64> {
        self.next.and_then(|next| next.checked_sub(1))
    }

    /// How many messages wait for an earlier one.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Forgets everything: the room has no reader left to pass anything on to.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn seqs(ready: Vec<(u64, u64)>) -> Vec<u64> {
        ready.into_iter().map(|(seq, _)| seq).collect()
    }

    #[test]
    fn in_order_passes_straight_through() {
        let mut s = Sequencer::default();
        assert_eq!(seqs(s.accept(5, 5)), [5]);
        assert_eq!(seqs(s.accept(6, 6)), [6]);
        assert_eq!(s.head(), Some(6));
        assert_eq!(s.gap(), None);
    }

    #[test]
    fn an_early_message_waits_for_the_one_before() {
        let mut s = Sequencer::default();
        assert_eq!(seqs(s.accept(1, 1)), [1]);
        assert!(s.accept(3, 3).is_empty());
        assert_eq!(s.gap(), Some(Gap { from: 2, to: 2 }));
        assert_eq!(seqs(s.accept(2, 2)), [2, 3]);
        assert_eq!(s.gap(), None);
    }

    #[test]
    fn a_message_seen_before_is_dropped() {
        let mut s = Sequencer::default();
        s.accept(1, 1);
        s.accept(2, 2);
        assert!(s.accept(2, 2).is_empty());
        assert!(s.accept(1, 1).is_empty());
        assert_eq!(s.head(), Some(2));
    }

    #[test]
    fn the_ring_starts_where_the_slowest_reader_is() {
        let mut s = Sequencer::default();
        s.reported(10);
        s.reported(7);
        s.reported(9);
        // Seq 10 arrives first: 8 and 9 are missing for the reader at 7.
        assert!(s.accept(10, 10).is_empty());
        assert_eq!(s.gap(), Some(Gap { from: 8, to: 9 }));
    }

    #[test]
    fn a_position_check_finds_the_tail_nobody_announced() {
        let mut s = Sequencer::default();
        s.accept(1, 1);
        assert!(s.learn(4));
        assert_eq!(s.gap(), Some(Gap { from: 2, to: 4 }));
        assert_eq!(seqs(s.accept(2, 2)), [2]);
        assert_eq!(seqs(s.accept(3, 3)), [3]);
        assert_eq!(seqs(s.accept(4, 4)), [4]);
        assert!(!s.learn(4));
    }

    #[test]
    fn without_a_reader_position_a_check_waits() {
        let mut s: Sequencer<u64> = Sequencer::default();
        assert!(!s.learn(4));
        s.reported(2);
        assert!(s.learn(4));
        assert_eq!(s.gap(), Some(Gap { from: 3, to: 4 }));
    }

    #[test]
    fn too_many_waiting_are_released_with_their_gaps() {
        let mut s = Sequencer::default();
        s.accept(1, 1);
        let mut released = Vec::new();
        for seq in 3..(3 + MAX_PENDING as u64 + 1) {
            released.extend(seqs(s.accept(seq, seq)));
        }
        assert_eq!(released.len(), MAX_PENDING + 1);
        assert_eq!(released.first(), Some(&3));
        assert_eq!(s.pending(), 0);
        assert!(s.accept(2, 2).is_empty(), "behind the released ones now");
    }

    proptest! {
        /// Whatever order the messages come in, dropped or doubled, and however the gaps are
        /// filled from the store, what is passed on is exactly 1..=n, in order, once each.
        #[test]
        fn passes_on_exactly_the_stream_in_order(
            n in 1u64..60,
            order in proptest::collection::vec(any::<proptest::sample::Index>(), 0..120),
            drops in proptest::collection::vec(any::<bool>(), 60),
        ) {
            let mut s = Sequencer::default();
            s.reported(0);
            let mut arriving: Vec<u64> = (1..=n).filter(|seq| !drops[*seq as usize - 1]).collect();
            // Shuffle, and deliver some twice.
            for index in &order {
                if arriving.is_empty() { break; }
                let i = index.index(arriving.len());
                let seq = arriving[i];
                arriving.push(seq);
                let last = arriving.len() - 1;
                arriving.swap(i, last);
            }
            let mut out = Vec::new();
            for seq in arriving {
                out.extend(seqs(s.accept(seq, seq)));
            }
            // The position check, then the store fills every gap.
            s.learn(n);
            while let Some(gap) = s.gap() {
                for seq in gap.from..=gap.to {
                    out.extend(seqs(s.accept(seq, seq)));
                }
            }
            prop_assert_eq!(out, (1..=n).collect::<Vec<_>>());
        }
    }
}
