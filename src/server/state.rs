//! What every request handler shares: the Leptos options, the hub, the sessions, the store,
//! metrics, limits and the shutdown signal. Leptos provides it as context to server functions and
//! server-side rendering.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::watch;

use super::accounts::passkeys::Passkeys;
use super::config::HttpConfig;
use super::files::Files;
use super::hub::Hub;
use super::limits::{AddressLimits, ConnectionLimits, Limits};
use super::metrics::Metrics;
use super::session::Sessions;
use super::store::push::VapidKeys;
use super::store::Store;

/// Cloned into every handler by axum; each field is itself a cheap handle.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Hub,
    pub sessions: Sessions,
    pub store: Store,
    pub metrics: Metrics,
    pub limits: Arc<Limits>,
    /// Open websockets, per client address and in total.
    pub connections: ConnectionLimits,
    /// Rates per client address: new sessions, new rooms, form posts.
    pub addresses: Arc<AddressLimits>,
    pub http: Arc<HttpConfig>,
    /// This chat as passkeys know it (its public address).
    pub passkeys: Passkeys,
    /// Shared files: their storage and limits.
    pub files: Files,
    /// The VAPID key pair Web Push is signed with (the store's, the same on every server).
    pub vapid: Arc<VapidKeys>,
    /// Turns `true` once when the server starts shutting down; every connection watches it so it
    /// can tell its client to come back (close code 1012) instead of vanishing.
    pub shutdown: watch::Receiver<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
