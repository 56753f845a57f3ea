//! The client's commands, one module each (as mini-redis's `cmd/`): [`say`], [`edit`], [`dm`], [`join`],
//! [`leave`], [`nick`], [`typing`], [`history`], and a moderator's [`moderate`]. [`Connection::handle`] throttles a frame, then
//! hands it to its command, whose answer (or refusal) names the request: a `say` or `dm` by its
//! `client_id`, anything else by the request's `id`.

pub mod dm;
pub mod edit;
pub mod history;
pub mod join;
pub mod leave;
pub mod moderate;
pub mod nick;
pub mod say;
pub mod typing;

use super::socket::End;
use super::{Connection, Live, Me, WsIo};
use crate::protocol::{validate_client_id, ClientMsg, ErrorCode, FrameError, Request, ServerMsg};
use crate::server::limits::Throttle;
use crate::server::store::SanctionKind;

/// How a command ended: answered already, or refused with an error to send.
pub type Outcome = Result<(), Refused>;

/// A refused request, or a connection that ended while answering it.
#[derive(Debug)]
pub enum Refused {
    Frame(FrameError),
    End(End),
}

impl From<FrameError> for Refused {
    fn from(err: FrameError) -> Self {
        Refused::Frame(err)
    }
}

impl From<End> for Refused {
    fn from(end: End) -> Self {
        Refused::End(end)
    }
}

impl<S: WsIo> Connection<S> {
    /// Answers one client frame (or the error its parsing produced).
    pub(super) async fn handle(
        &mut self,
        me: &mut Me,
        live: &mut Live,
        request: Result<Request, (Option<String>, FrameError)>,
    ) -> Result<(), End> {
        let Request { id, msg } = match request {
            Ok(request) => request,
            Err((id, err)) => return self.socket.send(&err.answer(None, id)).await,
        };
        let client_id = msg.client_id().map(str::to_owned);
        let reply_to = id.as_deref();
        if let Err(err) = self.ctx.sessions.throttle(&me.session, Throttle::of(&msg)) {
            return self.refuse(err, client_id, id).await;
        }
        let outcome = match msg {
            ClientMsg::Say {
                room,
                text,
                client_id,
                action,
            } => say::apply(self, me, live, room, text, client_id, action).await,
            ClientMsg::Edit {
                room,
                seq,
                text,
                client_id,
            } => edit::apply(self, me, live, room, seq, Some(text), client_id).await,
            ClientMsg::Delete {
                room,
                seq,
                client_id,
            } => edit::apply(self, me, live, room, seq, None, client_id).await,
            ClientMsg::Dm {
                to,
                text,
                client_id,
                action,
            } => dm::apply(self, me, live, &to, text, client_id, action).await,
            ClientMsg::Join { room } => join::apply(self, me, live, &room, reply_to).await,
            ClientMsg::Leave { room } => leave::apply(self, me, live, &room, reply_to).await,
            ClientMsg::Nick { nick } => nick::apply(self, me, &nick, reply_to).await,
            ClientMsg::Typing { room, active } => typing::apply(self, me, &room, active),
            ClientMsg::History { room, before } => {
                history::apply(self, me, &room, before, reply_to).await
            }
            ClientMsg::Mute {
                nick,
                seconds,
                reason,
            } => moderate::sanction(self, me, SanctionKind::Mute, &nick, seconds, reason).await,
            ClientMsg::Ban {
                nick,
                seconds,
                reason,
            } => moderate::sanction(self, me, SanctionKind::Ban, &nick, seconds, reason).await,
            ClientMsg::Audit { before } => moderate::audit(self, me, before, reply_to).await,
            ClientMsg::Hello { .. } => Err(FrameError::new(
                ErrorCode::AlreadyHello,
                "this connection already said hello",
            )
            .into()),
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(Refused::Frame(err)) => self.refuse(err, client_id, id).await,
            Err(Refused::End(end)) => Err(end),
        }
    }

    /// Sends a refusal naming its request: the message's `client_id` when it is usable, and the
    /// request's `id`.
    async fn refuse(
        &mut self,
        err: FrameError,
        client_id: Option<String>,
        reply_to: Option<String>,
    ) -> Result<(), End> {
        let client_id = client_id.filter(|id| validate_client_id(id).is_ok());
        let refusal: ServerMsg = err.answer(client_id, reply_to);
        self.socket.send(&refusal).await
    }
}
