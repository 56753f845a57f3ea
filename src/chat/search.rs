//! The search box's side of the chat: the query on screen, its hits page after page, and whether
//! older ones remain. Answers to a query no longer on screen are dropped (they name their `q`).

use crate::protocol::{ClientMsg, SearchHit};

/// What the search box asks of the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask<'a> {
    /// A new query (empty: close the results).
    Query(&'a str),
    /// The next page of the query on screen.
    More,
    /// Close the results.
    Close,
}

/// What the search box shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Searching {
    /// The query on screen (empty: the box is closed or cleared).
    pub query: String,
    pub hits: Vec<SearchHit>,
    /// Older hits remain.
    pub more: bool,
    next: Option<String>,
    /// A page was asked for and has not come: `Some(true)` a further page.
    pending: Option<bool>,
    /// Why the last search was refused.
    pub error: Option<String>,
}

impl Searching {
    /// Whether an answer is awaited.
    pub fn waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// Searches for `q` from its newest hits; `None` if there is nothing to ask.
    pub fn ask(&mut self, q: &str) -> Option<ClientMsg> {
        let q = q.trim();
        *self = Searching {
            query: q.to_owned(),
            ..Searching::default()
        };
        if q.is_empty() {
            return None;
        }
        self.pending = Some(false);
        Some(ClientMsg::Search {
            q: q.to_owned(),
            before: None,
        })
    }

    /// The next page of the query on screen, if there is one and none is awaited.
    pub fn ask_more(&mut self) -> Option<ClientMsg> {
        if self.pending.is_some() || !self.more {
            return None;
        }
        let before = self.next.clone()?;
        self.pending = Some(true);
        Some(ClientMsg::Search {
            q: self.query.clone(),
            before: Some(before),
        })
    }

    /// A page of hits for `q`.
    pub(super) fn results(
        &mut self,
        q: &str,
        hits: &[SearchHit],
        more: bool,
        next: Option<&str>,
    ) -> bool {
        let Some(further) = self.pending.filter(|_| q == self.query) else {
            return false;
        };
        if !further {
            self.hits.clear();
        }
        self.hits.extend_from_slice(hits);
        self.more = more;
        self.next = next.map(str::to_owned);
        self.pending = None;
        true
    }

    /// The awaited answer was a refusal.
    pub(super) fn refused(&mut self, message: &str) -> bool {
        if self.pending.take().is_none() {
            return false;
        }
        self.error = Some(message.to_owned());
        true
    }

    /// Closes the search.
    pub fn clear(&mut self) {
        *self = Searching::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(seq: u64) -> SearchHit {
        SearchHit {
            room: Some("general".into()),
            seq: Some(seq),
            dm: None,
            id: None,
            from: "bob".into(),
            at: "2026-12-01T10:00:00.000Z".into(),
            text: "deploy".into(),
            marks: vec![[0, 6]],
        }
    }

    #[test]
    fn pages_append_and_a_stale_answer_is_dropped() {
        let mut s = Searching::default();
        assert!(s.ask("depl").is_some());
        assert!(s.waiting());
        assert!(
            !s.results("dep", &[hit(1)], false, None),
            "an older query's"
        );
        assert!(s.results("depl", &[hit(9), hit(8)], true, Some("c")));
        assert_eq!(
            s.ask_more(),
            Some(ClientMsg::Search {
                q: "depl".into(),
                before: Some("c".into())
            })
        );
        assert_eq!(s.ask_more(), None, "one page at a time");
        assert!(s.results("depl", &[hit(7)], false, None));
        assert_eq!(s.hits.len(), 3);
        assert_eq!(s.ask_more(), None, "no more");
        assert!(s.ask("  ").is_none());
        assert!(s.hits.is_empty());
    }
}
