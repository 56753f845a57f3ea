//! From the first frame to live traffic: `hello`, the session it names, registration, `welcome`,
//! and the catch-up of every room and of private messages.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_stream::StreamMap;

use super::live::{Live, Me};
use super::socket::{End, Incoming, CLOSE_POLICY, CLOSE_RESTART};
use super::{stopping, Connection, Ctx, WsIo};
use crate::protocol::{
    ClientMsg, ErrorCode, FrameError, Request, ServerMsg, GENERAL, PROTOCOL_VERSION,
};
use crate::server::clock::now_rfc3339;
use crate::server::hub::Arrival;
use crate::server::limits::wait_ms;
use crate::server::session::{banned, Found, Online, Person};

/// The largest frame the server sends: history and catch-up pages are cut to fit, and so are the
/// lists in a `welcome`.
pub const MAX_SERVER_FRAME: usize = 64 * 1024;

/// What a good `hello` asked for besides who it is.
struct Hello {
    since: BTreeMap<String, u64>,
    dm_since: Option<u64>,
    /// Its request `id`, which the `welcome` carries back.
    reply_to: Option<String>,
}

/// What the `welcome` says besides who is online where.
struct WelcomeExtra {
    /// The token of a session this `hello` created.
    new_token: Option<String>,
    blocked: Vec<String>,
    reads: crate::server::store::ReadPositions,
    reply_to: Option<String>,
}

/// Who a good `hello` speaks for.
struct Identified {
    found: Found,
    online: Online,
    /// The token of a session this `hello` created (told once, in `welcome`).
    new_token: Option<String>,
}

impl<S: WsIo> Connection<S> {
    /// Waits for a valid `hello`, answers `welcome` and catches the client up. A client gets a few
    /// refused `hello`s (a taken name, say) before it is closed, and a bounded time for all of them.
    /// (Boxed: the caller keeps a pointer, not the whole of it, for the connection's life.)
    pub(super) async fn handshake(&mut self) -> Result<Box<Live>, End> {
        let deadline = tokio::time::sleep(self.ctx.limits.hello_timeout);
        tokio::pin!(deadline);
        let mut refused = 0;
        loop {
            let incoming = tokio::select! {
                incoming = self.socket.recv() => incoming?,
                () = &mut deadline => return Err(End::close(CLOSE_POLICY, "no hello in time")),
                () = stopping(&mut self.shutdown) => {
                    return Err(End::close(CLOSE_RESTART, "server restarting"))
                }
            };
            let (reply_to, err) = match incoming {
                Incoming::Control => continue,
                Incoming::Request(Err((id, err))) => (id, err),
                Incoming::Request(Ok(Request {
                    id,
                    msg:
                        ClientMsg::Hello {
                            nick,
                            session,
                            since,
                            dm_since,
                            invite,
                            ..
                        },
                })) => match self.identify(&nick, session, invite.as_deref()).await {
                    Ok(who) => {
                        let hello = Hello {
                            since,
                            dm_since,
                            reply_to: id,
                        };
                        return self.welcome(who, hello).await;
                    }
                    Err(err) => (id, err),
                },
                Incoming::Request(Ok(Request { id, .. })) => (
                    id,
                    FrameError::new(ErrorCode::HelloRequired, "say hello first"),
                ),
            };
            refused += 1;
            self.socket.send(&err.answer(None, reply_to)).await?;
            if err.code == ErrorCode::Banned {
                self.ctx.metrics.refused("banned");
                return Err(End::close(CLOSE_POLICY, "banned"));
            }
            if refused >= self.ctx.limits.hello_attempts {
                self.ctx.metrics.refused("hello_attempts");
                return Err(End::close(CLOSE_POLICY, "too many refused hellos"));
            }
        }
    }

    /// Finds (or, for a client without one, creates) the session a `hello` speaks for and opens a
    /// connection of it.
    async fn identify(
        &mut self,
        nick: &str,
        token: Option<String>,
        invite: Option<&str>,
    ) -> Result<Identified, FrameError> {
        let sessions = &self.ctx.sessions;
        if let Some(token) = token.or_else(|| self.cookie_token.clone()) {
            let found = sessions.lookup(&token).await?.ok_or_else(|| {
                FrameError::new(
                    ErrorCode::BadSession,
                    "unknown session: pick a nickname again",
                )
            })?;
            check_standing(&self.ctx, &found).await?;
            let online = sessions.connect(&found).await?;
            return Ok(Identified {
                found,
                online,
                new_token: None,
            });
        }
        let invite =
            crate::server::accounts::signup::admit(&self.ctx.store, self.ctx.signup, invite)
                .await?;
        // A name checked for free here costs nothing; only then does creating a session count
        // against the address and reach the store.
        let nick = sessions.check_name(nick)?;
        if let Err(wait) = self.ctx.addresses.sessions.check(self.ctx.peer) {
            self.ctx.metrics.refused("sessions_per_address");
            return Err(FrameError::rate_limited(
                "new sessions from your address",
                wait_ms(wait),
            ));
        }
        let created = sessions
            .create(nick, self.ctx.peer, self.ctx.user_agent.as_deref())
            .await?;
        crate::server::accounts::signup::use_invite(&self.ctx.store, invite).await;
        let found = created.found();
        let online = sessions.connect(&found).await?;
        Ok(Identified {
            found,
            online,
            new_token: Some(created.token),
        })
    }

    /// Everything after a good `hello`: register (subscribe to every room of the session before
    /// reading the store, so nothing falls between), `welcome`, then each room's catch-up and the
    /// private messages'. `since` resumes only rooms the session is still in: joining is only ever
    /// explicit.
    async fn welcome(&mut self, who: Identified, hello: Hello) -> Result<Box<Live>, End> {
        let Identified {
            found,
            online,
            new_token,
        } = who;
        let person = found.person;
        let Hello {
            since,
            dm_since,
            reply_to,
        } = hello;
        // Read before registering: a store that does not answer only leaves these empty.
        let store = &self.ctx.store;
        let (blocked, reads) = match (
            store.directs().blocked_names(person.id.get()).await,
            store.reads().read_positions(person.id.get()).await,
        ) {
            (Ok(blocked), Ok(reads)) => (blocked, reads),
            (Err(err), _) | (_, Err(err)) => {
                tracing::warn!(%err, "reading whom a person blocked and where they read failed");
                (Vec::new(), Default::default())
            }
        };
        // Not needed again: the connection speaks for this session from now on.
        self.cookie_token = None;
        let (rooms, subscriptions, inbox, presence) = {
            // Under the person's order lock: a join or leave on another tab lands wholly before
            // (these rooms include it) or after (this connection's inbox hears of it).
            let _order = person.in_order().await;
            let rooms = person.rooms();
            let mut subscriptions = StreamMap::with_capacity(rooms.len());
            for room in &rooms {
                let subscription = self.ctx.hub.subscribe(room, self.id);
                subscriptions.insert(Arc::clone(subscription.room()), subscription);
            }
            let (nick, key) = (person.nick(), person.nick_key());
            let arrival = Arrival {
                person: person.id,
                session: found.session,
                nick: &nick,
                key: &key,
                rooms: &rooms,
                bot: person.standing().bot,
            };
            let (inbox, presence) = self.ctx.hub.presence().connect(arrival, self.id);
            (rooms, subscriptions, inbox, presence)
        };
        let me = Me::new(person, found.session, presence, online);
        let mut live = Live::new(me, subscriptions, inbox);
        let extra = WelcomeExtra {
            new_token,
            blocked,
            reads,
            reply_to,
        };
        let welcome = welcome_frame(&self.ctx.hub, &live.me.person, rooms.clone(), extra);
        self.socket.send_raw(welcome).await?;
        for room in &rooms {
            self.catch_up(&mut live, room, since.get(room).copied(), None)
                .await?;
        }
        // Just read from the store, and this the session's only connection (on the only server):
        // the store's latest private message then is still its latest.
        let fresh = live.me.person.take_fresh_directs();
        let alone = !self.ctx.hub.bus().is_shared() && live.me.person.connections() == 1;
        match fresh.filter(|_| alone) {
            Some(last) if dm_since.map_or(last == 0, |since| since >= last) => {
                self.no_new_directs(&mut live, dm_since).await?;
            }
            _ => self.catch_up_directs(&mut live, dm_since).await?,
        }
        // Whatever arrived in the inbox meanwhile (a join on another tab) is handled by the loop.
        Ok(Box::new(live))
    }
}

/// The `welcome`, its lists cut to fit in one frame: each room's list holds at most the crowd
/// size, and fewer if the session is in many crowded rooms (the counts say how many in all).
/// Serialized once.
fn welcome_frame(
    hub: &crate::server::hub::Hub,
    session: &Person,
    rooms: Vec<String>,
    extra: WelcomeExtra,
) -> tungstenite::Utf8Bytes {
    let WelcomeExtra {
        new_token,
        blocked,
        reads,
        reply_to,
    } = extra;
    let standing = session.standing();
    let muted_until = standing.muted_at(&now_rfc3339()).map(str::to_owned);
    let bots = hub.presence().bots_online();
    let mut cap = usize::MAX;
    loop {
        let mut online = Vec::new();
        let mut members = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for room in &rooms {
            let (mut list, mut count) = hub.presence().listing(room);
            if room != GENERAL && list.len() > cap {
                count = Some(count.unwrap_or(list.len()));
                list.truncate(cap);
            }
            if let Some(count) = count {
                counts.insert(room.clone(), count);
            }
            if room == GENERAL {
                online = list;
            } else {
                members.insert(room.clone(), list);
            }
        }
        let welcome = ServerMsg::Welcome {
            nick: session.nick(),
            rooms: rooms.clone(),
            online,
            members,
            counts,
            session: new_token.clone(),
            version: PROTOCOL_VERSION,
            moderator: standing.moderator,
            bots: bots.clone(),
            muted_until: muted_until.clone(),
            blocked: blocked.clone(),
            secured: standing.secured,
            read: reads.rooms.clone(),
            dm_read: reads.directs.clone(),
            reply_to: reply_to.clone(),
        };
        let json = welcome.to_json();
        if cap == 0 || json.len() <= MAX_SERVER_FRAME {
            return json.into();
        }
        let longest = rooms
            .iter()
            .filter(|room| *room != GENERAL)
            .map(|room| hub.presence().listing(room).0.len())
            .max()
            .unwrap_or(0);
        cap = cap.min(longest) / 2;
    }
}

/// Refuses a banned person (read again from the store first: a ban lifted by `chinwag admin`
/// holds at once), and records where the session connects from when that changed.
async fn check_standing(ctx: &Ctx, found: &Found) -> Result<(), FrameError> {
    let (sessions, person) = (&ctx.sessions, &found.person);
    if person.standing().banned_at(&now_rfc3339()).is_some() {
        let _order = person.in_order().await;
        if let Some(saved) = sessions.read(person.id).await? {
            sessions.reload(person, saved);
        }
        if let Some(until) = person.standing().banned_at(&now_rfc3339()) {
            return Err(banned(until));
        }
    }
    let address = crate::server::limits::AddrKey::stored(ctx.peer);
    if person.standing().address.as_deref() != Some(address.as_str()) {
        ctx.store
            .people()
            .record_address(found.session.get(), person.id.get(), &address)
            .await?;
        person.update_standing(|s| s.address = Some(address));
    }
    Ok(())
}
