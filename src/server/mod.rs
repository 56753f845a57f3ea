//! The server (feature `ssr`): everything that runs in the `chinwag` process.
//!
//! # Layout
//! - [`config`]: every setting, from flags and the environment, validated once.
//! - [`http`]: the router, the accept loop (header deadline, connection caps), the forms,
//!   `/healthz`, `/readyz`, `/metrics`; [`origin`]: the cross-site check the forms and `/ws` share.
//! - [`net`]: the TCP side: the accept loop (deadlines, connection caps) and trusted proxies.
//! - [`ws`]: `GET /ws`, one task per connection: handshake, catch-up, delivery, one module per
//!   client command.
//! - [`hub`]: live rooms and their broadcast rings, group commit, private-message delivery, who is
//!   online.
//! - [`session`]: people, their sessions and nickname claims, a bounded cache of the store's.
//! - [`accounts`]: who may join, passwords, passkeys.
//! - [`membership`]: joining and leaving rooms (store first, then every cache, in one order per
//!   session).
//! - [`posting`]: posting a room message, for `/ws` and the form; [`text`]: whether a text has
//!   anything visible, and whom it mentions.
//! - [`search`]: the search box's query language, and the words a hit matched.
//! - [`store`]: SQLite or PostgreSQL, the authority on everything that outlives a connection.
//! - [`bus`] and [`cluster`]: several servers as one (Redis between them, PostgreSQL shared): what
//!   each tells the others, and what each repairs from the store when the bus lost it.
//! - [`admin`]: `chinwag admin ...`, the operator's commands on the store; [`maintenance`]: the
//!   server's periodic work, and what it does about the operator's changes.
//! - [`limits`]: rates and caps; [`metrics`]: Prometheus counters; [`clock`]: timestamps;
//!   [`state`]: what every handler shares.
//!
//! # Ownership
//! The store owns messages, sessions, nickname claims and memberships. Memory holds bounded caches
//! of them, each with an owner and a way to be freed: live rooms go with their last listener,
//! sessions with their last connection (then a bounded LRU), people with their last connection
//! (after the leave grace), per-address counters when their buckets refill, and expired sessions
//! are deleted from the store by a sweep.

pub mod accounts;
pub mod admin;
pub mod bus;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod files;
pub mod http;
pub mod hub;
pub mod limits;
pub mod maintenance;
pub mod membership;
pub mod metrics;
pub mod net;
pub mod origin;
pub mod posting;
pub mod push;
pub mod search;
pub mod session;
pub mod state;
pub mod store;
pub mod text;
pub mod ws;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use leptos::config::{get_configuration, LeptosOptions};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use config::{LogFormat, ServerConfig};
use hub::Hub;
use limits::{AddressLimits, ConnectionLimits};
use metrics::Metrics;
use session::Sessions;
use state::AppState;
use store::Store;

/// How long shutdown waits for open websockets (and HTTP requests) to say goodbye before the
/// process exits anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A start-up failure, said in one line.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    #[error("cannot read Leptos.toml: {0}")]
    Leptos(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: io::Error },
    #[error("cannot open the store: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot set up the bus: {0}")]
    Bus(#[from] bus::redis::UrlError),
    #[error("{0}")]
    Admin(#[from] admin::AdminError),
    #[error("cannot open the file storage: {0}")]
    Files(#[from] files::StorageError),
}

/// The file storage the configuration names, with its directory for uploads in flight.
fn open_files(setup: &config::FilesSetup) -> Result<files::Files, files::StorageError> {
    let storage = match &setup.at {
        config::FilesAt::Dir(dir) => files::Storage::local(dir)?,
        config::FilesAt::Url(url) => files::Storage::from_url(url, files::storage::aws_env())?,
    };
    tracing::info!(at = %storage.describe, "files are kept here");
    Ok(files::Files::new(
        storage,
        &setup.incoming,
        setup.config.clone(),
    )?)
}

/// Opens the store, serves chinwag on `listener` until `stop` resolves, then tells every websocket
/// client to come back later (close 1012), waits up to [`DRAIN_TIMEOUT`] for them, closes the store
/// and returns.
pub async fn serve(
    listener: TcpListener,
    leptos_options: LeptosOptions,
    config: ServerConfig,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let store = Store::open(&config.store).await?;
    let vapid = Arc::new(push::vapid_keys(&store).await?);
    let files = open_files(&config.files)?;
    let metrics = Metrics::new();
    let sessions = Sessions::new(
        session::SessionConfig {
            messages: config.limits.messages,
            typing: config.limits.typing,
            renames: config.limits.renames,
            ..config.sessions
        },
        store.clone(),
    );
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (bus, inbound) = link(config.cluster.as_ref(), &metrics)?;
    let hub = Hub::new(config.hub, Arc::new(store.clone()), metrics.clone(), bus);
    let cluster_task = match (config.cluster, inbound) {
        (Some(settings), Some(inbound)) => Some(
            cluster::Cluster {
                hub: hub.clone(),
                sessions: sessions.clone(),
                store: store.clone(),
                metrics: metrics.clone(),
                config: settings.cluster,
            }
            .start(inbound, shutdown_rx.clone()),
        ),
        _ => None,
    };
    let limits = Arc::new(within_file_limit(config.limits));
    let proxies = net::proxy::TrustedProxies::new(config.http.trusted_proxies.clone());
    let state = AppState {
        leptos_options,
        hub,
        sessions: sessions.clone(),
        store: store.clone(),
        metrics: metrics.clone(),
        connections: ConnectionLimits::new(limits.max_connections_per_ip, limits.max_connections),
        addresses: Arc::new(AddressLimits::new(&limits)),
        limits: Arc::clone(&limits),
        passkeys: passkeys(config.http.public_url.as_ref(), &listener),
        http: Arc::new(config.http),
        files,
        vapid,
        shutdown: shutdown_rx.clone(),
    };
    let maintenance = start_background(&state).await?;
    let listen = listen(listener, state, proxies, metrics);
    let stop = tell_connections(stop, shutdown_tx.clone());
    net::accept::serve(listen, &limits, stop, DRAIN_TIMEOUT).await;
    drain(shutdown_tx, shutdown_rx).await;
    maintenance.abort();
    if let Some(task) = cluster_task {
        // It says goodbye to the other servers as it ends.
        let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
    }
    close(&sessions, store).await;
    Ok(())
}

/// The server's own work beside its connections: maintenance (whose task is returned, to be
/// stopped at the end), the files' collector, and `/metrics` on its own address if configured.
async fn start_background(state: &AppState) -> Result<tokio::task::JoinHandle<()>, StartError> {
    let maintenance = tokio::spawn(maintenance::run(state.clone(), state.shutdown.clone()));
    tokio::spawn(files::collector::run(
        state.files.clone(),
        state.store.clone(),
        state.shutdown.clone(),
    ));
    if let Some(addr) = state.http.metrics_addr {
        serve_metrics(addr, state, state.shutdown.clone()).await?;
    }
    Ok(maintenance)
}

/// What the accept loop serves on `listener`: the app, and the answer it gives when busy. The
/// state goes into the routers only, so nothing else keeps it alive once they are gone.
fn listen(
    listener: TcpListener,
    state: AppState,
    proxies: net::proxy::TrustedProxies,
    metrics: Metrics,
) -> net::accept::Listen {
    net::accept::Listen {
        listener,
        app: http::router(state.clone()),
        busy: http::busy_router(state.clone()),
        proxies,
        metrics,
        caps: ConnectionLimits::new(
            state.limits.max_http_connections_per_ip,
            state.limits.max_http_connections,
        ),
        new_connections: Arc::clone(&state.addresses.connections),
    }
}

/// `stop`, then every connection told to close (1012) through `shutdown`.
async fn tell_connections(stop: impl Future<Output = ()>, shutdown: watch::Sender<bool>) {
    stop.await;
    tracing::info!("shutting down: closing websockets with 1012");
    // Nobody listening only means no connection is open.
    let _ = shutdown.send(true);
}

async fn close(sessions: &Sessions, store: Store) {
    // The last word on who was connected: the hold of their names starts now.
    if let Err(err) = sessions.refresh().await {
        tracing::warn!(%err, "recording live sessions at shutdown failed");
    }
    store.close().await;
}

/// The bus to the other servers, with what they send, when this server is one of several; else
/// a bus that only reaches this server.
fn link(
    cluster: Option<&config::BusConfig>,
    metrics: &Metrics,
) -> Result<(bus::Bus, Option<mpsc::Receiver<bus::redis::Inbound>>), StartError> {
    let Some(cluster) = cluster else {
        return Ok((bus::Bus::local(), None));
    };
    let node: bus::NodeId = rand::random();
    let (link, inbound) = bus::redis::Link::start(
        &cluster.redis_url,
        format!("{}:events", cluster.prefix),
        metrics.clone(),
    )?;
    tracing::info!(node, "one of several servers, linked through Redis");
    Ok((bus::Bus::shared(node, link), Some(inbound)))
}

/// The configured limits, with the connection caps lowered if the process's open-file limit
/// could not hold that many connections.
fn within_file_limit(mut limits: limits::Limits) -> limits::Limits {
    if let Some(budget) = limits::files::budget(net::accept::BUSY_SLOTS) {
        if limits::files::apply(&mut limits, budget) {
            tracing::info!(
                file_limit = budget.limit,
                tcp = limits.max_http_connections,
                websockets = limits.max_connections,
                "connection caps lowered to what the file limit allows"
            );
        }
    }
    limits
}

/// Passkeys bound to the public address, if one is set.
fn passkeys(public_url: Option<&url::Url>, listener: &TcpListener) -> accounts::passkeys::Passkeys {
    if let Some(url) = public_url {
        return accounts::passkeys::Passkeys::new(url, false);
    }
    // Without a public address, this machine's: passkeys work on http://localhost, on any
    // port (a development server behind `cargo leptos watch`'s proxy too).
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(3000);
    match url::Url::parse(&format!("http://localhost:{port}")) {
        Ok(url) => accounts::passkeys::Passkeys::new(&url, true),
        Err(_) => accounts::passkeys::Passkeys::off(),
    }
}

/// Binds `addr` and serves `/metrics` there, in its own task, until shutdown.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    state: &AppState,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), StartError> {
    let metrics_listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    let router = http::ops::metrics_router(state.clone());
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        let served = axum::serve(metrics_listener, router)
            .with_graceful_shutdown(stop)
            .await;
        if let Err(err) = served {
            tracing::error!(%err, "the metrics listener failed");
        }
    });
    Ok(())
}

/// Waits up to [`DRAIN_TIMEOUT`] for the websockets told to close to finish.
async fn drain(shutdown_tx: watch::Sender<bool>, shutdown_rx: watch::Receiver<bool>) {
    // Every connection holds a receiver; `closed` resolves when the last one has finished.
    drop(shutdown_rx);
    if tokio::time::timeout(DRAIN_TIMEOUT, shutdown_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!("some websockets did not close within {DRAIN_TIMEOUT:?}");
    }
}

/// Reads the configuration, binds, prints the URL and serves until SIGTERM or Ctrl-C.
pub async fn run() -> Result<(), StartError> {
    let cli = config::parse_cli()?;
    if let Some(config::Command::Admin(command)) = cli.command {
        let store = cli.settings.into_config()?.store;
        print!("{}", admin::run(command, &store).await?);
        return Ok(());
    }
    init_tracing(cli.settings.log_format);
    let site_addr = cli.settings.site_addr;
    let site_root = cli.settings.site_root.clone();
    let config = cli.settings.into_config()?;
    // A Leptos.toml beside the binary carries the runtime settings; LEPTOS_* variables and the
    // flags override it. Without the file (e.g. under `cargo leptos`, which sets the variables)
    // the environment alone is used.
    let file = std::path::Path::new("Leptos.toml")
        .exists()
        .then_some("Leptos.toml");
    let conf = get_configuration(file).map_err(|err| StartError::Leptos(err.to_string()))?;
    let mut options = conf.leptos_options;
    if let Some(addr) = site_addr {
        options.site_addr = addr;
    }
    if let Some(root) = site_root {
        options.site_root = root.into();
    }
    let addr = options.site_addr;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| StartError::Listen {
        addr: addr.to_string(),
        source,
    })?;
    tracing::info!(%local, "listening");
    println!("chinwag is running at http://{local}/");
    serve(listener, options, config, shutdown_signal()).await
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). Message text and session tokens are
/// never logged.
fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // stderr, as the README says: stdout carries only the "running at" line.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => subscriber.json().try_init(),
        LogFormat::Text => subscriber.try_init(),
    };
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
