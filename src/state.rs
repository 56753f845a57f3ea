//! The state every request handler shares: the Leptos options, the hub and the shutdown signal.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::watch;

use crate::hub::Hub;

/// Cloned into every handler by axum; each field is itself a cheap handle.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Hub,
    /// Turns `true` once when the server starts shutting down; every connection watches it so it can
    /// tell its client to come back (close code 1012) instead of vanishing.
    pub shutdown: watch::Receiver<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
