//! The state every request handler shares: the Leptos options, the hub, the sessions, the store,
//! metrics, limits and the shutdown signal. Leptos provides it as context to server functions and server-side rendering.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::watch;

use crate::hub::Hub;
use crate::limits::{ConnectionLimits, Limits};
use crate::metrics::Metrics;
use crate::session::Sessions;
use crate::store::Store;

/// Cloned into every handler by axum; each field is itself a cheap handle.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Hub,
    pub sessions: Sessions,
    pub store: Store,
    pub metrics: Metrics,
    pub limits: Limits,
    /// Open websockets, per client address and in total.
    pub connections: ConnectionLimits,
    /// Origins allowed to open a websocket besides the server's own, e.g. `https://chat.example.com`.
    pub allowed_origins: Vec<String>,
    /// Always mark the session cookie `Secure` (it is also marked when the request came over HTTPS,
    /// as a TLS proxy's `X-Forwarded-Proto: https` says).
    pub secure_cookies: bool,
    /// Turns `true` once when the server starts shutting down; every connection watches it so it can
    /// tell its client to come back (close code 1012) instead of vanishing.
    pub shutdown: watch::Receiver<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
