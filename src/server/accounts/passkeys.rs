//! Passkeys (WebAuthn), with webauthn-rs.
//!
//! The relying party is the chat's public address (`CHINWAG_PUBLIC_URL`; `http://localhost:PORT`
//! without it): its host is the RP id, so it must be a name, not an IP address. A ceremony (adding
//! a passkey on `/account`, signing in on `/login`) is two requests; its state is kept in the store
//! between them ([`crate::server::store::Accounts::put_ceremony`]), for a few minutes, so that any
//! server can finish what another began.
//!
//! Sign-in is discoverable: the browser offers the passkeys it holds for this chat, and the one
//! chosen names its person (the user handle stored with the person). Registration asks the
//! authenticator for a discoverable credential for that reason (the page's script sets
//! `residentKey: required` before calling the browser).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::server::clock::{now_rfc3339, rfc3339_in};
use crate::server::store::{Store, StoreError};

/// How long a ceremony may take, from its start to its finish.
const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);

/// Why a passkey ceremony did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys need the chat's address to be a host name (CHINWAG_PUBLIC_URL)")]
    Unconfigured,
    #[error("this attempt expired or was already used; try again")]
    Expired,
    #[error("the passkey was not accepted: {0}")]
    Refused(String),
    #[error("no person holds this passkey here")]
    Unknown,
    #[error("you have as many passkeys as you may ({0}); remove one first")]
    TooMany(usize),
    #[error("the store: {0}")]
    Store(#[from] StoreError),
}

/// The relying party: this chat, as passkeys know it.
#[derive(Clone)]
pub struct Passkeys {
    webauthn: Option<std::sync::Arc<Webauthn>>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys")
            .field("configured", &self.webauthn.is_some())
            .finish()
    }
}

impl Passkeys {
    /// The relying party for the chat at `origin` (its host must be a name). `any_port`: the
    /// browser's origin may have another port than `origin` (this machine's own address).
    pub fn new(origin: &url::Url, any_port: bool) -> Self {
        let webauthn = origin.host_str().and_then(|host| {
            let built = WebauthnBuilder::new(host, origin)
                .ok()?
                .rp_name("chinwag")
                .allow_any_port(any_port)
                .build();
            match built {
                Ok(webauthn) => Some(std::sync::Arc::new(webauthn)),
                Err(err) => {
                    tracing::warn!(%err, %origin, "passkeys are off: the chat's address does not suit them");
                    None
                }
            }
        });
        Self { webauthn }
    }

    /// No passkeys (the chat's address does not suit them).
    pub fn off() -> Self {
        Self { webauthn: None }
    }

    /// Whether passkeys can be used here.
    pub fn enabled(&self) -> bool {
        self.webauthn.is_some()
    }

    fn webauthn(&self) -> Result<&Webauthn, PasskeyError> {
        self.webauthn.as_deref().ok_or(PasskeyError::Unconfigured)
    }

    /// Starts adding a passkey to person `person` (called `nick`): the options for the browser,
    /// and the ceremony's id to finish it with.
    pub async fn start_registration(
        &self,
        store: &Store,
        person: i64,
        nick: &str,
    ) -> Result<(String, CreationChallengeResponse), PasskeyError> {
        let webauthn = self.webauthn()?;
        let handle = store
            .accounts()
            .webauthn_id(person, &Uuid::new_v4().to_string())
            .await?;
        let handle =
            Uuid::parse_str(&handle).map_err(|err| PasskeyError::Refused(err.to_string()))?;
        let existing: Vec<Passkey> = store
            .accounts()
            .passkeys_of(person)
            .await?
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect();
        if existing.len() >= crate::server::store::accounts::MAX_PASSKEYS {
            return Err(PasskeyError::TooMany(existing.len()));
        }
        let exclude = existing.iter().map(|key| key.cred_id().clone()).collect();
        let (options, state) = webauthn
            .start_passkey_registration(handle, nick, nick, Some(exclude))
            .map_err(|err| PasskeyError::Refused(err.to_string()))?;
        let id = ceremony_id();
        let state =
            serde_json::to_string(&state).map_err(|err| PasskeyError::Refused(err.to_string()))?;
        store
            .accounts()
            .put_ceremony(
                &id,
                Some(person),
                &state,
                (&now_rfc3339(), &rfc3339_in(CEREMONY_TTL)),
            )
            .await?;
        Ok((id, options))
    }

    /// Finishes adding a passkey: stores it for the person who began.
    pub async fn finish_registration(
        &self,
        store: &Store,
        person: i64,
        ceremony: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<(), PasskeyError> {
        let webauthn = self.webauthn()?;
        let now = now_rfc3339();
        let (owner, state) = store
            .accounts()
            .take_ceremony(ceremony, &now)
            .await?
            .ok_or(PasskeyError::Expired)?;
        if owner != Some(person) {
            return Err(PasskeyError::Expired);
        }
        let state: PasskeyRegistration =
            serde_json::from_str(&state).map_err(|_| PasskeyError::Expired)?;
        let passkey = webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|err| PasskeyError::Refused(err.to_string()))?;
        let json = serde_json::to_string(&passkey)
            .map_err(|err| PasskeyError::Refused(err.to_string()))?;
        let credential_id = URL_SAFE_NO_PAD.encode::<&[u8]>(passkey.cred_id().as_ref());
        store
            .accounts()
            .add_passkey(person, &credential_id, &json, &now)
            .await?;
        Ok(())
    }

    /// Starts a sign-in with a passkey: the options for the browser, and the ceremony's id.
    pub async fn start_login(
        &self,
        store: &Store,
    ) -> Result<(String, RequestChallengeResponse), PasskeyError> {
        let webauthn = self.webauthn()?;
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|err| PasskeyError::Refused(err.to_string()))?;
        let id = ceremony_id();
        let state =
            serde_json::to_string(&state).map_err(|err| PasskeyError::Refused(err.to_string()))?;
        store
            .accounts()
            .put_ceremony(
                &id,
                None,
                &state,
                (&now_rfc3339(), &rfc3339_in(CEREMONY_TTL)),
            )
            .await?;
        Ok((id, options))
    }

    /// Finishes a sign-in with a passkey: the person it signs in.
    pub async fn finish_login(
        &self,
        store: &Store,
        ceremony: &str,
        credential: &PublicKeyCredential,
    ) -> Result<i64, PasskeyError> {
        let webauthn = self.webauthn()?;
        let now = now_rfc3339();
        let (_, state) = store
            .accounts()
            .take_ceremony(ceremony, &now)
            .await?
            .ok_or(PasskeyError::Expired)?;
        let state: DiscoverableAuthentication =
            serde_json::from_str(&state).map_err(|_| PasskeyError::Expired)?;
        let (handle, credential_id) = webauthn
            .identify_discoverable_authentication(credential)
            .map_err(|err| PasskeyError::Refused(err.to_string()))?;
        let credential_id = URL_SAFE_NO_PAD.encode(credential_id);
        let stored = store
            .accounts()
            .passkey(&credential_id)
            .await?
            .ok_or(PasskeyError::Unknown)?;
        let owner = store
            .accounts()
            .person_of_handle(&handle.to_string())
            .await?
            .ok_or(PasskeyError::Unknown)?;
        if owner != stored.person_id {
            return Err(PasskeyError::Unknown);
        }
        let mut passkey: Passkey = serde_json::from_str(&stored.json)
            .map_err(|err| PasskeyError::Refused(err.to_string()))?;
        let result = webauthn
            .finish_discoverable_authentication_v2(credential, state, &passkey)
            .map_err(|err| PasskeyError::Refused(err.to_string()))?;
        if passkey.update_credential(&result).is_some() {
            if let Ok(json) = serde_json::to_string(&passkey) {
                store
                    .accounts()
                    .used_passkey(&credential_id, &json, &now)
                    .await?;
            }
        }
        Ok(owner)
    }
}

/// A ceremony's id: random, unguessable.
fn ceremony_id() -> String {
    let mut raw = [0u8; 24];
    rand::rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}
