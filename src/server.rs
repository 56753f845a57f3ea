//! The HTTP server: the router (page, websocket, static files), start-up and graceful shutdown.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use leptos::config::{get_configuration, LeptosOptions};
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

use axum::extract::Request;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::app::{shell, App};
use crate::hub::{Committer, Hub, HubConfig};
use crate::limits::{ConnectionLimits, Limits};
use crate::session::{SessionConfig, Sessions};
use crate::state::AppState;
use crate::store::{Store, StoreConfig};
use crate::{forms, metrics, ws};

/// The server's tunables, with production defaults; tests shorten the timers.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub hub: HubConfig,
    pub sessions: SessionConfig,
    pub store: StoreConfig,
    pub limits: Limits,
    /// Origins allowed to open a websocket besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Always mark the session cookie `Secure`.
    pub secure_cookies: bool,
}

impl ServerConfig {
    /// Production defaults, with the store chosen by `DATABASE_URL` / `CHINWAG_DATA_DIR`, limits
    /// from `CHINWAG_*` variables, extra websocket origins from `CHINWAG_ALLOWED_ORIGINS`
    /// (comma-separated) and `CHINWAG_SECURE_COOKIES=1` to always mark the cookie `Secure`.
    pub fn from_env() -> Self {
        let limits = Limits::from_env();
        let allowed_origins = std::env::var("CHINWAG_ALLOWED_ORIGINS")
            .map(|list| {
                list.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let secure_cookies = std::env::var("CHINWAG_SECURE_COOKIES").is_ok_and(|v| v == "1");
        Self {
            hub: HubConfig::default(),
            sessions: SessionConfig {
                message_rate: (limits.messages_per_sec, limits.message_burst),
                typing_rate: (limits.typing_per_sec, limits.typing_burst),
                ..SessionConfig::default()
            },
            store: StoreConfig::from_env(),
            limits,
            allowed_origins,
            secure_cookies,
        }
    }
}

/// How long shutdown waits for open websockets to say goodbye before the process exits anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The whole application as an axum router, ready to serve.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let pkg = format!("/{}", options.site_pkg_dir);
    // Pages, forms and assets are compressed (brotli or gzip, as the browser accepts); the
    // websocket upgrade is kept apart from that layer.
    let compressed = Router::new()
        .route("/join", post(forms::join))
        .route("/say", post(forms::say))
        .route("/rooms/join", post(forms::join_room))
        .route("/rooms/leave", post(forms::leave_room))
        .route("/healthz", get(metrics::healthz))
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics))
        .nest_service(&pkg, assets(&options))
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(CompressionLayer::new());
    Router::new()
        .route("/ws", get(ws::upgrade))
        .merge(compressed)
        // Headers on every response: no MIME sniffing, no referrer beyond this origin, no framing.
        // (The page's Content-Security-Policy carries a per-response nonce, so `shell` sets it.)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // One span per request with an id, the method and the path (never the query, which may
        // carry a typed nickname, and never headers, which carry the session cookie).
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                static NEXT: AtomicU64 = AtomicU64::new(1);
                tracing::debug_span!(
                    "request",
                    id = NEXT.fetch_add(1, Ordering::Relaxed),
                    method = %request.method(),
                    path = request.uri().path(),
                )
            }),
        )
        .with_state(state)
}

/// The client's wasm, script and stylesheet. A release build ships them precompressed (brotli at
/// its highest level and gzip, `cargo leptos build --release --precompress`), and those files are
/// served as they are; otherwise the compression layer compresses on the fly. With hashed file
/// names (`hash-files`) a name never changes meaning, so browsers may keep a file for a year without
/// asking again; without them every use revalidates.
fn assets(options: &LeptosOptions) -> Router {
    let dir = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let cache = if options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Router::new()
        .fallback_service(
            tower_http::services::ServeDir::new(dir)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache),
        ))
        // Which file is sent depends on Accept-Encoding; caches between must know.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ))
}

/// Opens the store, serves chinwag on `listener` until `stop` resolves, then tells every websocket
/// client to come back later (close 1012), waits up to [`DRAIN_TIMEOUT`] for them, closes the store
/// and returns.
pub async fn serve(
    listener: TcpListener,
    leptos_options: LeptosOptions,
    config: ServerConfig,
    stop: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let store = Store::open(&config.store)
        .await
        .map_err(|err| io::Error::other(format!("cannot open the store: {err}")))?;
    let sessions = Sessions::new(config.sessions);
    let saved = store
        .sessions()
        .await
        .map_err(|err| io::Error::other(format!("cannot read sessions: {err}")))?;
    sessions.restore(saved);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let hub = Hub::new(config.hub, store_committer(store.clone()));
    let state = AppState {
        leptos_options,
        metrics: hub.metrics().clone(),
        hub,
        sessions,
        store: store.clone(),
        connections: ConnectionLimits::new(&config.limits),
        limits: config.limits,
        allowed_origins: config.allowed_origins,
        secure_cookies: config.secure_cookies,
        shutdown: shutdown_rx,
    };
    let app = router(state);
    let signal_tx = shutdown_tx.clone();
    // The peer address is what the per-address connection cap counts.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // No Nagle delay: chat frames are small and latency is the point.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(%err, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            stop.await;
            tracing::info!("shutting down: closing websockets with 1012");
            // Nobody listening only means no connection is open.
            let _ = signal_tx.send(true);
        })
        .await?;
    // Every connection holds a receiver; `closed` resolves when the last one has finished.
    if tokio::time::timeout(DRAIN_TIMEOUT, shutdown_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!("some websockets did not close within {DRAIN_TIMEOUT:?}");
    }
    store.close().await;
    Ok(())
}

/// The hub's group commit, done by the store.
fn store_committer(store: Store) -> Committer {
    Arc::new(move |room: String, drafts| {
        let store = store.clone();
        Box::pin(async move {
            store
                .append_batch(&room, drafts)
                .await
                .map_err(|err| err.to_string())
        })
    })
}

/// Reads the configuration, binds, prints the URL and serves until SIGTERM or Ctrl-C.
pub async fn run() -> io::Result<()> {
    init_tracing();
    // A Leptos.toml beside the binary carries the runtime settings; LEPTOS_* variables override it.
    // Without the file (e.g. under `cargo leptos`, which sets the variables) the environment alone is used.
    let file = std::path::Path::new("Leptos.toml")
        .exists()
        .then_some("Leptos.toml");
    let conf = get_configuration(file).map_err(|err| io::Error::other(err.to_string()))?;
    let options = conf.leptos_options;
    let addr = options.site_addr;
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "listening");
    println!("chinwag is running at http://{local}/");
    serve(
        listener,
        options,
        ServerConfig::from_env(),
        shutdown_signal(),
    )
    .await
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`); `CHINWAG_LOG_FORMAT=json` writes one JSON
/// object per line for log collectors. Message text and session tokens are never logged.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("CHINWAG_LOG_FORMAT").is_ok_and(|f| f == "json") {
        subscriber.json().init();
    } else {
        subscriber.init();
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
