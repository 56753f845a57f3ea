//! The state every request handler shares: the Leptos options, the hub, the sessions, the store
//! and the shutdown signal. Leptos provides it as context to server functions and server-side rendering.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::watch;

use crate::hub::Hub;
use crate::session::Sessions;
use crate::store::Store;

/// Cloned into every handler by axum; each field is itself a cheap handle.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Hub,
    pub sessions: Sessions,
    pub store: Store,
    /// Turns `true` once when the server starts shutting down; every connection watches it so it can
    /// tell its client to come back (close code 1012) instead of vanishing.
    pub shutdown: watch::Receiver<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
