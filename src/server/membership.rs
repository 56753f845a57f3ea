//! Joining and leaving rooms: one path for the websocket's `join`/`leave` and the HTML forms.
//!
//! Membership belongs to the session and the store owns it. A change is written to the store
//! first; only then do the caches follow (the session's room set, the hub's online lists), and the
//! room's members and the session's other connections are told, which then follow by themselves.
//! All of it happens under the session's order lock, so two tabs changing rooms at once are put in
//! one order, and a connection registering meanwhile sees the rooms before or after a change,
//! never half of it.

use std::net::IpAddr;

use super::hub::{ConnId, Hub};
use super::limits::{wait_ms, AddrKey, AddressLimits, Limits};
use super::session::Person;
use super::store::{JoinOutcome, RoomCaps, Store};
use crate::protocol::{validate_room, ErrorCode, FrameError, GENERAL, MAX_ROOMS_PER_PERSON};

/// Everything a membership change touches.
#[derive(Debug, Clone, Copy)]
pub struct Membership<'a> {
    pub hub: &'a Hub,
    pub store: &'a Store,
    pub limits: &'a Limits,
    pub addresses: &'a AddressLimits,
}

impl Membership<'_> {
    /// Puts `session` in `room` (created if new: counted against `addr`'s room creations and the
    /// server's room cap). Returns whether it was new to the session; joining twice is not an
    /// error. `origin` is the connection that asked (it updates itself).
    pub async fn join(
        &self,
        session: &Person,
        room: &str,
        origin: ConnId,
        addr: IpAddr,
    ) -> Result<bool, FrameError> {
        validate_room(room)?;
        if room == GENERAL {
            return Ok(false);
        }
        let _order = session.in_order().await;
        if session.is_member(room) {
            return Ok(false);
        }
        if session.room_count() >= MAX_ROOMS_PER_PERSON {
            return Err(FrameError::new(
                ErrorCode::TooManyRooms,
                format!("you can be in at most {MAX_ROOMS_PER_PERSON} rooms; leave one first"),
            ));
        }
        // Creating a room costs more than joining one: it is counted per address. (Live rooms exist,
        // so only a room no one listens to needs asking the store.)
        let exists = self.hub.is_live(room) || self.store.rooms().room_exists(room).await?;
        if !exists {
            if let Err(wait) = self.addresses.rooms.check(addr) {
                return Err(FrameError::rate_limited(
                    "new rooms from your address",
                    wait_ms(wait),
                ));
            }
        }
        let at = super::clock::now_rfc3339();
        let address = AddrKey::stored(addr);
        let caps = RoomCaps {
            total: self.limits.max_rooms_total,
            per_address: self.limits.max_rooms_per_addr,
            address: &address,
        };
        let outcome = self
            .store
            .rooms()
            .join(session.id.get(), room, &at, caps)
            .await?;
        match outcome {
            JoinOutcome::Joined { .. } => {}
            JoinOutcome::RoomLimit => {
                return Err(FrameError::new(
                    ErrorCode::RoomLimit,
                    "this server holds as many rooms as it may; join an existing one",
                ))
            }
            JoinOutcome::AddressLimit => {
                return Err(FrameError::new(
                    ErrorCode::RoomLimit,
                    format!(
                        "your address has made {} rooms that still exist; join an existing one",
                        self.limits.max_rooms_per_addr
                    ),
                ))
            }
        }
        session.add_room(room);
        self.hub
            .presence()
            .membership(session.id, room, true, origin);
        Ok(true)
    }

    /// Takes `session` out of `room`. Fails with `unknown_room` if it was not in it.
    pub async fn leave(
        &self,
        session: &Person,
        room: &str,
        origin: ConnId,
    ) -> Result<(), FrameError> {
        validate_room(room)?;
        if room == GENERAL {
            return Err(FrameError::new(
                ErrorCode::CannotLeave,
                "everyone is in #general; it cannot be left",
            ));
        }
        let _order = session.in_order().await;
        if !session.is_member(room) {
            return Err(FrameError::new(
                ErrorCode::UnknownRoom,
                format!("you are not in the room {room:?}"),
            ));
        }
        self.store.rooms().leave(session.id.get(), room).await?;
        session.remove_room(room);
        self.hub
            .presence()
            .membership(session.id, room, false, origin);
        Ok(())
    }
}
