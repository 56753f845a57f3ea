//! The other servers as this one sees them: whether each is alive, whether this server missed any
//! of its presence changes, and the snapshot it is sending in parts.
//!
//! Pure bookkeeping with the clock passed in, so the rules are unit-tested: a server is gone when
//! it said so (after the leave grace, so its people can reconnect elsewhere first) or when it has
//! not been heard for the node timeout *while this server's own link works* (a server whose own
//! link is down knows nothing about the others and changes nothing).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::server::bus::{NodeId, PersonInfo};

/// Most often this server asks one other for a snapshot.
const SYNC_EVERY: Duration = Duration::from_secs(2);

/// Another server.
#[derive(Debug)]
struct Node {
    /// Its latest presence change this server applied.
    version: u64,
    last_heard: Instant,
    /// When it said it is shutting down, plus the grace.
    leaving_at: Option<Instant>,
    /// When this server last asked it for a snapshot.
    asked: Option<Instant>,
    /// A snapshot arriving in parts.
    staging: Option<Staging>,
}

#[derive(Debug)]
struct Staging {
    v: u64,
    parts: u32,
    next: u32,
    people: Vec<PersonInfo>,
}

/// What to do about a presence change from another server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard {
    /// Apply the change (always: a change is news even if one before it was missed).
    pub apply: bool,
    /// Ask that server for a snapshot: a change before this one was missed.
    pub ask: bool,
}

/// Every other server this one has heard from.
#[derive(Debug, Default)]
pub struct Nodes {
    nodes: HashMap<NodeId, Node>,
}

impl Nodes {
    /// `node` was heard from at `now`. Returns whether it is new (ask it for its people).
    pub fn heard(&mut self, node: NodeId, now: Instant) -> bool {
        let mut new = false;
        let entry = self.nodes.entry(node).or_insert_with(|| {
            new = true;
            Node {
                version: 0,
                last_heard: now,
                leaving_at: None,
                asked: None,
                staging: None,
            }
        });
        entry.last_heard = now;
        if new {
            entry.asked = Some(now);
        }
        new
    }

    /// A presence change `v` from `node`.
    pub fn change(&mut self, node: NodeId, v: u64, now: Instant) -> Heard {
        let Some(entry) = self.nodes.get_mut(&node) else {
            return Heard {
                apply: true,
                ask: false,
            };
        };
        let missed = v > entry.version + 1;
        entry.version = entry.version.max(v);
        Heard {
            apply: true,
            ask: missed && ask_due(entry, now),
        }
    }

    /// A heartbeat from `node` naming its latest change `v`: returns whether to ask it for a
    /// snapshot (this server missed a change).
    pub fn heartbeat(&mut self, node: NodeId, v: u64, now: Instant) -> bool {
        match self.nodes.get_mut(&node) {
            Some(entry) if v > entry.version => ask_due(entry, now),
            _ => false,
        }
    }

    /// Part of a snapshot from `node`. Returns the whole list once the last part is in (and the
    /// version it is as of); a part out of turn drops what was gathered (a part was lost: the next
    /// heartbeat asks again).
    pub fn snapshot_part(
        &mut self,
        node: NodeId,
        v: u64,
        (part, parts): (u32, u32),
        people: Vec<PersonInfo>,
    ) -> Option<Vec<PersonInfo>> {
        let entry = self.nodes.get_mut(&node)?;
        if part == 0 {
            entry.staging = Some(Staging {
                v,
                parts,
                next: 0,
                people: Vec::new(),
            });
        }
        let staging = entry.staging.as_mut()?;
        if staging.v != v || staging.parts != parts || staging.next != part {
            entry.staging = None;
            return None;
        }
        staging.people.extend(people);
        staging.next += 1;
        if staging.next < staging.parts {
            return None;
        }
        let done = entry.staging.take()?;
        entry.version = entry.version.max(done.v);
        // An answer came: a later miss may ask again at once.
        entry.asked = None;
        Some(done.people)
    }

    /// `node` said it is shutting down: it is gone after `grace`, unless heard from again as new.
    pub fn leaving(&mut self, node: NodeId, now: Instant, grace: Duration) {
        if let Some(entry) = self.nodes.get_mut(&node) {
            entry.leaving_at = Some(now + grace);
        }
    }

    /// The servers that are gone at `now`: those leaving whose grace is over, and, if this
    /// server's own link is healthy, those silent for `timeout`. They are forgotten.
    pub fn gone(&mut self, now: Instant, timeout: Duration, healthy: bool) -> Vec<NodeId> {
        let gone: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, n)| {
                n.leaving_at.is_some_and(|at| at <= now)
                    || (healthy && now.saturating_duration_since(n.last_heard) >= timeout)
            })
            .map(|(node, _)| *node)
            .collect();
        for node in &gone {
            self.nodes.remove(node);
        }
        gone
    }

    /// This server's link came back: every other server gets a fresh timeout (they could not be
    /// heard meanwhile, which says nothing about them).
    pub fn link_restored(&mut self, now: Instant) {
        for node in self.nodes.values_mut() {
            node.last_heard = now;
            node.asked = None;
        }
    }

    /// How many other servers are known.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no other server is known.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

fn ask_due(node: &mut Node, now: Instant) -> bool {
    if node
        .asked
        .is_some_and(|asked| now.saturating_duration_since(asked) < SYNC_EVERY)
    {
        return false;
    }
    node.asked = Some(now);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: i64) -> PersonInfo {
        PersonInfo {
            id,
            nick: format!("p{id}"),
            rooms: Vec::new(),
            bot: false,
        }
    }

    #[test]
    fn a_missed_change_asks_for_a_snapshot_once_in_a_while() {
        let t = Instant::now();
        let mut nodes = Nodes::default();
        assert!(nodes.heard(1, t), "a new server is asked at once");
        assert!(!nodes.change(1, 1, t).ask);
        assert!(!nodes.change(1, 2, t).ask);
        // 3 was lost; asked recently (when it was new), so not yet.
        assert!(!nodes.change(1, 4, t).ask);
        assert!(nodes.change(1, 6, t + SYNC_EVERY).ask);
        assert!(!nodes.heartbeat(1, 6, t + SYNC_EVERY));
        assert!(
            nodes.heartbeat(1, 7, t + SYNC_EVERY * 2),
            "the heartbeat shows a miss"
        );
    }

    #[test]
    fn a_snapshot_counts_only_when_whole_and_in_order() {
        let t = Instant::now();
        let mut nodes = Nodes::default();
        nodes.heard(1, t);
        assert_eq!(nodes.snapshot_part(1, 5, (0, 2), vec![person(1)]), None);
        let all = nodes.snapshot_part(1, 5, (1, 2), vec![person(2)]);
        assert_eq!(all, Some(vec![person(1), person(2)]));
        // A lost middle part: nothing applied.
        assert_eq!(nodes.snapshot_part(1, 6, (0, 3), vec![person(1)]), None);
        assert_eq!(nodes.snapshot_part(1, 6, (2, 3), vec![person(3)]), None);
        assert!(
            !nodes.change(1, 6, t).ask,
            "the whole snapshot set the version"
        );
    }

    #[test]
    fn a_silent_server_is_gone_only_while_this_link_is_healthy() {
        let t = Instant::now();
        let timeout = Duration::from_secs(5);
        let mut nodes = Nodes::default();
        nodes.heard(1, t);
        nodes.heard(2, t + Duration::from_secs(3));
        let later = t + Duration::from_secs(6);
        assert!(
            nodes.gone(later, timeout, false).is_empty(),
            "frozen while down"
        );
        nodes.link_restored(later);
        assert!(nodes
            .gone(later + Duration::from_secs(4), timeout, true)
            .is_empty());
        assert_eq!(nodes.gone(later + timeout, timeout, true).len(), 2);
        assert!(nodes.is_empty());
    }

    #[test]
    fn a_server_that_says_goodbye_is_gone_after_the_grace() {
        let t = Instant::now();
        let mut nodes = Nodes::default();
        nodes.heard(1, t);
        nodes.leaving(1, t, Duration::from_secs(3));
        let timeout = Duration::from_secs(60);
        assert!(nodes
            .gone(t + Duration::from_secs(2), timeout, true)
            .is_empty());
        assert_eq!(nodes.gone(t + Duration::from_secs(3), timeout, true), [1]);
    }
}
