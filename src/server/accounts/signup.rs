//! Who may become a person here: anyone (`open`, the default), only someone who came through an
//! invitation (`invite`), or nobody new (`closed`: the people there are sign in, nobody joins).
//! `CHINWAG_SIGNUP` sets it; `chinwag admin invite` and moderators make invitations.

use crate::protocol::{ErrorCode, FrameError};

/// Who may become a person here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Signup {
    /// Anyone who picks a name.
    #[default]
    Open,
    /// Only someone who came through a valid invitation.
    Invite,
    /// Nobody new: only existing people sign in.
    Closed,
}

impl Signup {
    /// Whether a newcomer needs something (an invitation) or is refused outright.
    pub fn restricted(self) -> bool {
        self != Signup::Open
    }

    /// What a newcomer without what the policy asks for is told.
    pub fn refusal(self, invite_given: bool) -> FrameError {
        match self {
            Signup::Closed => FrameError::new(
                ErrorCode::SignupClosed,
                "this chat takes no new people; sign in if you have a name here",
            ),
            _ if invite_given => FrameError::new(
                ErrorCode::InviteRequired,
                "this invitation was used up or has expired; ask for another",
            ),
            _ => FrameError::new(
                ErrorCode::InviteRequired,
                "this chat is by invitation: open the link you were sent, or sign in",
            ),
        }
    }
}

/// What lets a newcomer in under `signup`: nothing (open), or the invitation they came with, if
/// it is valid now. Returns the invitation's hash, to be used once the person is made
/// ([`use_invite`]); a refusal otherwise.
pub async fn admit(
    store: &crate::server::store::Store,
    signup: Signup,
    invite: Option<&str>,
) -> Result<Option<String>, FrameError> {
    if !signup.restricted() {
        return Ok(None);
    }
    let invite = invite.map(str::trim).filter(|i| !i.is_empty());
    if signup == Signup::Closed {
        return Err(signup.refusal(invite.is_some()));
    }
    let Some(invite) = invite else {
        return Err(signup.refusal(false));
    };
    let hash = crate::server::session::token::hex(&crate::server::session::token::digest(invite));
    let now = crate::server::clock::now_rfc3339();
    let valid = store.accounts().invite_valid(&hash, &now).await?;
    if valid {
        Ok(Some(hash))
    } else {
        Err(signup.refusal(true))
    }
}

/// Counts one use of the invitation a newcomer came with (see [`admit`]).
pub async fn use_invite(store: &crate::server::store::Store, hash: Option<String>) {
    let Some(hash) = hash else {
        return;
    };
    let now = crate::server::clock::now_rfc3339();
    if let Err(err) = store.accounts().use_invite(&hash, &now).await {
        tracing::warn!(%err, "counting an invitation's use failed");
    }
}
