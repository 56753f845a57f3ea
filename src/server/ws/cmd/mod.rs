//! The client's commands, one module each (as mini-redis's `cmd/`): [`say`], [`edit`], [`dm`],
//! [`block`], [`join`], [`leave`], [`nick`], [`typing`], [`read`], [`history`], [`search`], [`react`], and a moderator's
//! [`moderate`]. [`Connection::handle`] throttles a frame, then hands it to its command, whose
//! answer (or refusal) names the request: a `say` or `dm` by its `client_id`, anything else by
//! the request's `id`. A command gets the connection's state, [`Live`], or only who it speaks for,
//! [`Me`](super::Me), when that is all it reads.

pub mod block;
pub mod dm;
pub mod edit;
pub mod history;
pub mod join;
pub mod leave;
pub mod moderate;
pub mod nick;
pub mod react;
pub mod read;
pub mod say;
pub mod search;
pub mod typing;

use super::socket::End;
use super::{Connection, Live, WsIo};
use crate::protocol::{validate_client_id, ClientMsg, ErrorCode, FrameError, Request, ServerMsg};
use crate::server::limits::{wait_ms, Throttle};
use crate::server::store::SanctionKind;

/// What `say` and `dm` post: text and files, under the client's id.
#[derive(Debug)]
pub struct Post {
    pub text: String,
    pub client_id: String,
    /// A `/me` action.
    pub action: bool,
    /// Ids of the poster's uploads.
    pub files: Vec<String>,
    /// The message this one answers (`reply_to`): a room's seq, or a private message's id.
    pub answering: Option<u64>,
}

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

impl From<crate::server::store::StoreError> for Refused {
    fn from(err: crate::server::store::StoreError) -> Self {
        Refused::Frame(err.into())
    }
}

impl From<End> for Refused {
    fn from(end: End) -> Self {
        Refused::End(end)
    }
}

impl<S: WsIo> Connection<S> {
    /// Answers one client frame (or the error its parsing produced).
    ///
    /// Long because it is one flat `match` over the client's commands, each arm only handing the
    /// fields to its command's module: split up, the one place that says which module answers
    /// which command would be scattered.
    pub(super) async fn handle(
        &mut self,
        live: &mut Live,
        request: Result<Request, (Option<String>, FrameError)>,
    ) -> Result<(), End> {
        let Request { id, msg } = match request {
            Ok(request) => request,
            Err((id, err)) => return self.socket.send(&err.answer(None, id)).await,
        };
        let client_id = msg.client_id().map(str::to_owned);
        let reply_to = id.as_deref();
        let throttle = Throttle::of(&msg);
        let me = &mut live.me;
        if let Err(err) = self.ctx.sessions.throttle(&me.person, throttle) {
            return self.socket.send(&refusal(err, client_id, id)).await;
        }
        // Many sessions from one address do not multiply the rate.
        if throttle == Throttle::Message {
            if let Err(wait) = self.ctx.addresses.messages.check(self.ctx.peer) {
                self.ctx.metrics.refused("messages_per_address");
                let err = FrameError::rate_limited("messages from your address", wait_ms(wait));
                return self.socket.send(&refusal(err, client_id, id)).await;
            }
        }
        let outcome = match msg {
            ClientMsg::Say {
                room,
                text,
                client_id,
                action,
                files,
                reply_to: answering,
            } => {
                let post = Post {
                    text,
                    client_id,
                    action,
                    files,
                    answering,
                };
                say::apply(self, live, room, post, reply_to).await
            }
            ClientMsg::Edit {
                room,
                seq,
                text,
                client_id,
            } => {
                let change = edit::Change {
                    room,
                    seq,
                    text: Some(text),
                    client_id,
                };
                edit::apply(self, live, change, reply_to).await
            }
            ClientMsg::Delete {
                room,
                seq,
                client_id,
            } => {
                let change = edit::Change {
                    room,
                    seq,
                    text: None,
                    client_id,
                };
                edit::apply(self, live, change, reply_to).await
            }
            ClientMsg::Dm {
                to,
                text,
                client_id,
                action,
                files,
                reply_to: answering,
            } => {
                let post = Post {
                    text,
                    client_id,
                    action,
                    files,
                    answering,
                };
                dm::apply(self, live, &to, post, reply_to).await
            }
            ClientMsg::Join { room } => join::apply(self, live, &room, reply_to).await,
            ClientMsg::Leave { room } => leave::apply(self, live, &room, reply_to).await,
            ClientMsg::Nick { nick } => nick::apply(self, me, &nick, reply_to).await,
            ClientMsg::Typing { room, active } => typing::apply(self, live, &room, active),
            ClientMsg::History { room, before } => {
                history::apply(self, me, &room, before, reply_to).await
            }
            ClientMsg::Mute {
                nick,
                seconds,
                reason,
            } => {
                let order = moderate::Sanction {
                    kind: SanctionKind::Mute,
                    nick,
                    seconds,
                    reason,
                };
                moderate::sanction(self, me, order, reply_to).await
            }
            ClientMsg::Ban {
                nick,
                seconds,
                reason,
            } => {
                let order = moderate::Sanction {
                    kind: SanctionKind::Ban,
                    nick,
                    seconds,
                    reason,
                };
                moderate::sanction(self, me, order, reply_to).await
            }
            ClientMsg::Unmute { nick } => {
                moderate::lift(self, me, SanctionKind::Mute, &nick, reply_to).await
            }
            ClientMsg::Unban { nick } => {
                moderate::lift(self, me, SanctionKind::Ban, &nick, reply_to).await
            }
            ClientMsg::Audit { before } => moderate::audit(self, me, before, reply_to).await,
            ClientMsg::Block { nick } => block::apply(self, me, &nick, true, reply_to).await,
            ClientMsg::Unblock { nick } => block::apply(self, me, &nick, false, reply_to).await,
            ClientMsg::Read { room, seq, dm, id } => match read::Position::of(room, seq, dm, id) {
                Ok(at) => read::apply(self, me, at).await,
                Err(err) => Err(err.into()),
            },
            ClientMsg::DmHistory { before, with } => {
                history::directs(self, me, before, with.as_deref(), reply_to).await
            }
            ClientMsg::React {
                room,
                seq,
                dm,
                id,
                emoji,
                on,
                client_id,
            } => {
                let react = react::React {
                    room,
                    seq,
                    dm,
                    id,
                    emoji,
                    on,
                    client_id,
                };
                react::apply(self, live, react, reply_to).await
            }
            ClientMsg::Search { q, before } => {
                search::apply(self, me, q, before.as_deref(), reply_to).await
            }
            ClientMsg::Hello { .. } => Err(FrameError::new(
                ErrorCode::AlreadyHello,
                "this connection already said hello",
            )
            .into()),
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(Refused::Frame(err)) => self.socket.send(&refusal(err, client_id, id)).await,
            Err(Refused::End(end)) => Err(end),
        }
    }
}

/// A refusal naming its request: the message's `client_id` when it is usable, and the request's
/// `id`.
fn refusal(err: FrameError, client_id: Option<String>, reply_to: Option<String>) -> ServerMsg {
    let client_id = client_id.filter(|id| validate_client_id(id).is_ok());
    err.answer(client_id, reply_to)
}
