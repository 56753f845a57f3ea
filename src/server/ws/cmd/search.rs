//! `search`: one page of what the person may read that matches a query, newest first, answered
//! with `results` and the request's `id`. Each search counts against the person's message rate,
//! like every request someone makes on purpose, and reads at most a page and one more hit from
//! each source (rooms' messages, private messages).

use super::Outcome;
use crate::protocol::{ErrorCode, FrameError, SearchHit, ServerMsg};
use crate::server::search::{marks, Cursor, Query};
use crate::server::session::nick;
use crate::server::store::Searcher;
use crate::server::ws::{Connection, Me, WsIo};

/// Hits in one `results` frame.
pub const PAGE: u32 = 20;

pub async fn apply<S: WsIo>(
    conn: &mut Connection<S>,
    me: &mut Me,
    q: String,
    before: Option<&str>,
    reply_to: Option<&str>,
) -> Outcome {
    let query = Query::parse(&q)?;
    let cursor = before.map(Cursor::decode).transpose()?;
    let store = &conn.ctx.store;
    let mut who = Searcher {
        person: me.person.id.get(),
        from: None,
        with: None,
    };
    for (name, slot) in [(&query.from, &mut who.from), (&query.with, &mut who.with)] {
        let Some(name) = name else { continue };
        match store.people().person_named(&nick::key(name)).await? {
            Some((id, _)) => *slot = Some(id),
            None => {
                return Err(FrameError::new(
                    ErrorCode::UnknownUser,
                    format!("nobody is called {name:?}"),
                )
                .into())
            }
        }
    }
    let page = store
        .search()
        .find(who, &query, cursor.as_ref(), PAGE)
        .await?;
    let next = page.next.map(|cursor| cursor.encode());
    let more = next.is_some();
    let hits = page
        .hits
        .into_iter()
        .map(|hit| {
            let marks = marks(&hit.text, &query);
            let (room, seq, dm, id) = match hit.room {
                Some(room) => (Some(room), Some(hit.num), None, None),
                None => (None, None, hit.peer, Some(hit.num)),
            };
            SearchHit {
                room,
                seq,
                dm,
                id,
                from: hit.from,
                at: hit.at,
                text: hit.text,
                marks,
            }
        })
        .collect();
    let results = ServerMsg::Results {
        q,
        hits,
        more,
        next,
        reply_to: reply_to.map(str::to_owned),
    };
    conn.socket.send(&results).await?;
    Ok(())
}
