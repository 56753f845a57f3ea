//! One typed configuration: every setting, read from a flag or from the environment (the flag
//! wins), with its default, and validated once at start-up. `chinwag --help` lists them all.
//!
//! A value that does not parse or breaks its rule (NaN, zero, negative, a frame limit too small for
//! a valid message, ...) stops the server before it listens, with one line naming the variable;
//! nothing is checked (or can panic) later. [`Settings`] is what clap reads (most of this file: one
//! documented field per setting); [`ServerConfig`] is
//! what the server runs on, built from it by [`Settings::into_config`] (tests build it directly from
//! its defaults).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, CommandFactory, Parser, ValueEnum};

pub mod files;

pub use files::{FilesAt, FilesSettings, FilesSetup};

use super::clock::duration;
use super::cluster::ClusterConfig;
use super::hub::HubConfig;
use super::limits::{Limits, Rate, MIN_FRAME_BYTES};
use super::session::SessionConfig;
use super::store::StoreConfig;

/// The `chinwag` command line: the server's settings (every one also read from the environment).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "chinwag",
    version = version(),
    about = "chinwag: a real-time chat server (Leptos page, axum websocket hub).",
    long_about = "chinwag: a real-time chat server (Leptos page, axum websocket hub).\n\n\
        Every setting can be given as a flag or as the environment variable shown beside it; a \
        flag wins. Durations take a unit: 500ms, 30s, 15m, 2h, 30d (a bare number is seconds)."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    /// Without a command, the server runs.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What else the binary does besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Administer a chinwag's store (works while the server runs): moderators, bans, bots.
    #[command(subcommand)]
    Admin(super::admin::AdminCommand),
}

/// The version `chinwag --version` prints: the crate's, and the commit it was built from when the
/// build said (`CHINWAG_COMMIT`, set by the release script).
pub fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let commit = option_env!("CHINWAG_COMMIT").unwrap_or("development build");
        format!("{} ({commit})", env!("CARGO_PKG_VERSION"))
    })
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Every setting of the server.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address and port to listen on (`0.0.0.0:3000` to expose it) [default: Leptos.toml's
    /// site-addr, else 127.0.0.1:3000]
    #[arg(long = "addr", env = "LEPTOS_SITE_ADDR", value_name = "ADDR")]
    pub site_addr: Option<SocketAddr>,
    /// Where the built client files are [default: Leptos.toml's site-root, else target/site]
    #[arg(long, env = "LEPTOS_SITE_ROOT", value_name = "DIR")]
    pub site_root: Option<String>,
    /// Where the SQLite store `chinwag.db` lives (unused with --database-url)
    #[arg(
        long,
        global = true,
        env = "CHINWAG_DATA_DIR",
        default_value = "data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// `postgres://user@host:5432/db` to store in PostgreSQL instead of SQLite
    #[arg(long, global = true, env = "DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Extra page origins allowed to open the websocket and post forms, comma-separated (the
    /// server's own origin always is)
    #[arg(
        long,
        env = "CHINWAG_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGINS"
    )]
    pub allowed_origins: Vec<String>,
    /// Always mark the session cookie `Secure` (it already is behind a TLS proxy that sends
    /// `X-Forwarded-Proto: https`)
    #[arg(long, env = "CHINWAG_SECURE_COOKIES", action = ArgAction::Set, default_value = "false",
          value_parser = clap::builder::BoolishValueParser::new(), value_name = "BOOL")]
    pub secure_cookies: bool,
    /// Reverse proxies (e.g. 127.0.0.1 for an nginx on the same host), comma-separated, whose
    /// `X-Forwarded-For` names the client: the per-address limits then count each client, not
    /// the proxy
    #[arg(
        long,
        env = "CHINWAG_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "ADDRESSES"
    )]
    pub trusted_proxies: Vec<IpAddr>,
    /// Serve `/metrics` on this address only (e.g. 127.0.0.1:9100), not on the public one
    #[arg(long, env = "CHINWAG_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Log format
    #[arg(long, env = "CHINWAG_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Who may become a person here: anyone (open), only someone with an invitation from `chinwag
    /// admin invite` or a moderator (invite), or nobody new (closed)
    #[arg(long, env = "CHINWAG_SIGNUP", value_enum, default_value = "open")]
    pub signup: crate::server::accounts::Signup,
    /// The chat's address as people open it (e.g. https://chat.example.org): passkeys are bound to
    /// it (a host name, not an IP address) [default: http://localhost and the listening port]
    #[arg(long, env = "CHINWAG_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Largest websocket message, in bytes; larger ones close the connection with 1009 (at least
    /// 53248, so that every valid message fits however it is escaped)
    #[arg(
        long,
        env = "CHINWAG_MAX_FRAME_BYTES",
        default_value = "65536",
        value_name = "BYTES"
    )]
    pub max_frame_bytes: usize,
    /// Messages per second per session (`say`, `dm`, `join`, `leave`, `nick`, `history`)
    #[arg(
        long,
        env = "CHINWAG_RATE_PER_SEC",
        default_value = "10",
        value_name = "N"
    )]
    pub rate_per_sec: f64,
    /// Messages a session may send at once before the rate applies
    #[arg(
        long,
        env = "CHINWAG_RATE_BURST",
        default_value = "20",
        value_name = "N"
    )]
    pub rate_burst: f64,
    /// `typing` frames per second per session
    #[arg(
        long,
        env = "CHINWAG_TYPING_RATE_PER_SEC",
        default_value = "2",
        value_name = "N"
    )]
    pub typing_rate_per_sec: f64,
    /// `typing` frames a session may send at once
    #[arg(
        long,
        env = "CHINWAG_TYPING_BURST",
        default_value = "5",
        value_name = "N"
    )]
    pub typing_burst: f64,
    /// Frames of any kind per second per connection (over it: close 1008)
    #[arg(
        long,
        env = "CHINWAG_FRAMES_PER_SEC",
        default_value = "50",
        value_name = "N"
    )]
    pub frames_per_sec: f64,
    /// Frames a connection may send at once
    #[arg(
        long,
        env = "CHINWAG_FRAMES_BURST",
        default_value = "200",
        value_name = "N"
    )]
    pub frames_burst: f64,
    /// New sessions per minute per client address
    #[arg(
        long,
        env = "CHINWAG_SESSIONS_PER_MINUTE",
        default_value = "10",
        value_name = "N"
    )]
    pub sessions_per_minute: f64,
    /// New sessions an address may create at once
    #[arg(
        long,
        env = "CHINWAG_SESSIONS_BURST",
        default_value = "30",
        value_name = "N"
    )]
    pub sessions_burst: f64,
    /// New rooms per minute per client address
    #[arg(
        long,
        env = "CHINWAG_ROOMS_PER_MINUTE",
        default_value = "1",
        value_name = "N"
    )]
    pub rooms_per_minute: f64,
    /// New rooms an address may create at once
    #[arg(
        long,
        env = "CHINWAG_ROOMS_BURST",
        default_value = "10",
        value_name = "N"
    )]
    pub rooms_burst: f64,
    /// Form posts (`/say`, `/rooms/join`, `/rooms/leave`) per minute per client address
    #[arg(
        long,
        env = "CHINWAG_FORMS_PER_MINUTE",
        default_value = "120",
        value_name = "N"
    )]
    pub forms_per_minute: f64,
    /// Form posts an address may send at once
    #[arg(
        long,
        env = "CHINWAG_FORMS_BURST",
        default_value = "30",
        value_name = "N"
    )]
    pub forms_burst: f64,
    /// Messages per second from one client address, all its sessions together (the same frames
    /// as --rate-per-sec)
    #[arg(
        long,
        env = "CHINWAG_ADDRESS_RATE_PER_SEC",
        default_value = "30",
        value_name = "N"
    )]
    pub address_rate_per_sec: f64,
    /// Messages one address may send at once
    #[arg(
        long,
        env = "CHINWAG_ADDRESS_RATE_BURST",
        default_value = "60",
        value_name = "N"
    )]
    pub address_rate_burst: f64,
    /// New TCP connections per second per client address (more are closed at once)
    #[arg(
        long,
        env = "CHINWAG_NEW_CONNECTIONS_PER_SEC",
        default_value = "20",
        value_name = "N"
    )]
    pub new_connections_per_sec: f64,
    /// New TCP connections an address may open at once
    #[arg(
        long,
        env = "CHINWAG_NEW_CONNECTIONS_BURST",
        default_value = "100",
        value_name = "N"
    )]
    pub new_connections_burst: f64,
    /// Stored messages per second that catch-ups from one address may replay (more: paced)
    #[arg(
        long,
        env = "CHINWAG_CATCH_UP_PER_SEC",
        default_value = "5000",
        value_name = "N"
    )]
    pub catch_up_per_sec: f64,
    /// Stored messages catch-ups from one address may replay at once
    #[arg(
        long,
        env = "CHINWAG_CATCH_UP_BURST",
        default_value = "20000",
        value_name = "N"
    )]
    pub catch_up_burst: f64,
    /// Renames per hour per session
    #[arg(
        long,
        env = "CHINWAG_RENAMES_PER_HOUR",
        default_value = "5",
        value_name = "N"
    )]
    pub renames_per_hour: f64,
    /// Renames a session may make at once
    #[arg(
        long,
        env = "CHINWAG_RENAMES_BURST",
        default_value = "3",
        value_name = "N"
    )]
    pub renames_burst: f64,
    /// Rooms created from one client address that may exist at once
    #[arg(
        long,
        env = "CHINWAG_MAX_ROOMS_PER_ADDRESS",
        default_value = "20",
        value_name = "N"
    )]
    pub max_rooms_per_address: usize,
    /// A room nobody is in and nobody wrote in for this long is deleted, with its messages
    #[arg(long, env = "CHINWAG_ROOM_IDLE", default_value = "7d", value_parser = duration, value_name = "DURATION")]
    pub room_idle: Duration,
    /// Edits one message may have
    #[arg(
        long,
        env = "CHINWAG_MAX_EDITS",
        default_value = "25",
        value_name = "N"
    )]
    pub max_edits: u32,
    /// Private messages someone may leave for a person who never wrote to them, until answered
    #[arg(
        long,
        env = "CHINWAG_MAX_UNANSWERED",
        default_value = "50",
        value_name = "N"
    )]
    pub max_unanswered: u32,
    /// Private messages a person may receive in a day from people they never wrote to
    #[arg(
        long,
        env = "CHINWAG_MAX_STRANGERS_PER_DAY",
        default_value = "500",
        value_name = "N"
    )]
    pub max_strangers_per_day: u32,
    /// A ban also covers the sessions made from the banned person's address within this time
    /// before it
    #[arg(long, env = "CHINWAG_BAN_REACH", default_value = "1h", value_parser = duration, value_name = "DURATION")]
    pub ban_reach: Duration,
    /// Rooms the server holds at most
    #[arg(
        long,
        env = "CHINWAG_MAX_ROOMS",
        default_value = "1000",
        value_name = "N"
    )]
    pub max_rooms: usize,
    /// Open websockets per client address (more get HTTP 429)
    #[arg(
        long,
        env = "CHINWAG_MAX_CONNECTIONS_PER_IP",
        default_value = "256",
        value_name = "N"
    )]
    pub max_connections_per_ip: usize,
    /// Open websockets in all (more get HTTP 503)
    #[arg(
        long,
        env = "CHINWAG_MAX_CONNECTIONS",
        default_value = "200000",
        value_name = "N"
    )]
    pub max_connections: usize,
    /// Open TCP connections per client address (more are closed at once)
    #[arg(
        long,
        env = "CHINWAG_MAX_HTTP_CONNECTIONS_PER_IP",
        default_value = "256",
        value_name = "N"
    )]
    pub max_http_connections_per_ip: usize,
    /// Open TCP connections in all
    #[arg(
        long,
        env = "CHINWAG_MAX_HTTP_CONNECTIONS",
        default_value = "210000",
        value_name = "N"
    )]
    pub max_http_connections: usize,
    /// How long a client may take to send a request's headers; also how long an idle keep-alive
    /// connection is kept
    #[arg(long, env = "CHINWAG_HEADER_TIMEOUT", default_value = "10s", value_parser = duration, value_name = "DURATION")]
    pub header_timeout: Duration,
    /// How long a websocket may take to say `hello` (then: close 1008)
    #[arg(long, env = "CHINWAG_HELLO_TIMEOUT", default_value = "10s", value_parser = duration, value_name = "DURATION")]
    pub hello_timeout: Duration,
    /// How often an idle websocket is pinged
    #[arg(long, env = "CHINWAG_PING_INTERVAL", default_value = "30s", value_parser = duration, value_name = "DURATION")]
    pub ping_interval: Duration,
    /// A websocket that sends nothing, not even a pong, for this long is closed (1001)
    #[arg(long, env = "CHINWAG_IDLE_TIMEOUT", default_value = "75s", value_parser = duration, value_name = "DURATION")]
    pub idle_timeout: Duration,
    /// A write the client does not take within this is its end (close 1008, too slow)
    #[arg(long, env = "CHINWAG_WRITE_TIMEOUT", default_value = "20s", value_parser = duration, value_name = "DURATION")]
    pub write_timeout: Duration,
    /// Largest gap a reconnect's `since` is filled message by message (beyond: the latest page,
    /// with `reset`)
    #[arg(
        long,
        env = "CHINWAG_CATCH_UP_LIMIT",
        default_value = "5000",
        value_name = "N"
    )]
    pub catch_up_limit: u64,
    /// How long a session keeps its nickname after its last connection closed
    #[arg(long, env = "CHINWAG_NICK_HOLD", default_value = "15m", value_parser = duration, value_name = "DURATION")]
    pub nick_hold: Duration,
    /// How long an unused session is kept at all (then deleted from the store)
    #[arg(long, env = "CHINWAG_SESSION_TTL", default_value = "30d", value_parser = duration, value_name = "DURATION")]
    pub session_ttl: Duration,
    /// Sessions without a connection kept in memory at most (the store has them all)
    #[arg(
        long,
        env = "CHINWAG_SESSION_CACHE",
        default_value = "10000",
        value_name = "N"
    )]
    pub session_cache: usize,
    /// How long after someone's last tab closed they are announced as gone
    #[arg(long, env = "CHINWAG_LEAVE_GRACE", default_value = "3s", value_parser = duration, value_name = "DURATION")]
    pub leave_grace: Duration,
    /// People online that make a room a crowd (cut lists, summed-up arrivals)
    #[arg(long, env = "CHINWAG_CROWD", default_value = "100", value_name = "N")]
    pub crowd: usize,
    /// Frames a room buffers for its slowest reader before that reader is resynced from the store
    #[arg(
        long,
        env = "CHINWAG_ROOM_BUFFER",
        default_value = "256",
        value_name = "N"
    )]
    pub room_buffer: usize,
    /// Private frames a connection buffers before it resyncs from the store
    #[arg(long, env = "CHINWAG_INBOX", default_value = "256", value_name = "N")]
    pub inbox: usize,

    /// Run as one of several servers sharing the store, linked through this Redis
    /// (`redis://host:6379`); needs --database-url (PostgreSQL). Unset: one server
    #[arg(long, env = "CHINWAG_REDIS_URL", value_name = "URL")]
    pub redis_url: Option<String>,

    /// Prefix of the Redis channel the servers share (servers of one chat must agree; different
    /// chats on one Redis must not)
    #[arg(
        long,
        env = "CHINWAG_BUS_PREFIX",
        default_value = "chinwag",
        value_name = "NAME"
    )]
    pub bus_prefix: String,

    /// How long another server may stay silent on the bus before its people are announced gone
    #[arg(long, env = "CHINWAG_NODE_TIMEOUT", default_value = "5s", value_parser = duration, value_name = "DURATION")]
    pub node_timeout: Duration,

    #[command(flatten)]
    pub files: FilesSettings,
}

/// Where each part of the server takes its settings from.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub store: StoreConfig,
    pub hub: HubConfig,
    pub sessions: SessionConfig,
    pub limits: Limits,
    pub http: HttpConfig,
    /// Several servers: how they are linked (none: this server is the only one).
    pub cluster: Option<BusConfig>,
    pub files: FilesSetup,
}

/// How this server is linked to the others.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// The Redis they share.
    pub redis_url: String,
    /// The Redis channel is `<prefix>:events`.
    pub prefix: String,
    pub cluster: ClusterConfig,
}

/// The HTTP side's settings.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// Origins allowed to open a websocket or post a form besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Always mark the session cookie `Secure`.
    pub secure_cookies: bool,
    /// Where `/metrics` is served instead of the public address, if set.
    pub metrics_addr: Option<SocketAddr>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Who may become a person here.
    pub signup: crate::server::accounts::Signup,
    /// The chat's public address (passkeys are bound to it); `None`: `http://localhost:PORT`.
    pub public_url: Option<url::Url>,
}

impl ServerConfig {
    /// Production defaults with the store in `data_dir`.
    /// Files are kept beside an SQLite store, or in a fresh temporary directory beside a
    /// PostgreSQL one (tests; `into_config` always names the data directory).
    pub fn with_store(store: StoreConfig) -> Self {
        let files_home = match &store {
            StoreConfig::Sqlite(path) => path
                .parent()
                .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf),
            StoreConfig::Postgres(_) => std::env::temp_dir().join(format!(
                "chinwag-files-{}-{:x}",
                std::process::id(),
                rand::random::<u64>()
            )),
        };
        Self {
            files: FilesSetup::in_dir(&files_home),
            store,
            hub: HubConfig::default(),
            sessions: SessionConfig::default(),
            limits: Limits::default(),
            http: HttpConfig::default(),
            cluster: None,
        }
    }
}

/// A setting that broke its rule: one line for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    /// The environment variable and flag, e.g. `CHINWAG_RATE_BURST (--rate-burst)`.
    pub name: String,
    pub problem: String,
}

impl Settings {
    /// Checks every rule and builds the server's configuration.
    pub fn into_config(self) -> Result<ServerConfig, ConfigError> {
        // The checks run in this order so that of several bad settings, the same one is named.
        self.check_rates()?;
        self.check_sizes()?;
        let public_url = self.public_url()?;
        let files = self.files.clone().into_setup(&self.data_dir)?;
        let store = self.store()?;
        let cluster = self.cluster(&store)?;
        Ok(ServerConfig {
            limits: self.limits(&files),
            hub: self.hub(),
            sessions: self.sessions(cluster.is_some()),
            http: self.into_http(public_url),
            store,
            cluster,
            files,
        })
    }

    /// Every rate takes a positive number of events and a burst of at least one.
    fn check_rates(&self) -> Result<(), ConfigError> {
        for (per, per_id, burst, burst_id) in [
            (
                self.rate_per_sec,
                "rate_per_sec",
                self.rate_burst,
                "rate_burst",
            ),
            (
                self.typing_rate_per_sec,
                "typing_rate_per_sec",
                self.typing_burst,
                "typing_burst",
            ),
            (
                self.frames_per_sec,
                "frames_per_sec",
                self.frames_burst,
                "frames_burst",
            ),
            (
                self.sessions_per_minute,
                "sessions_per_minute",
                self.sessions_burst,
                "sessions_burst",
            ),
            (
                self.rooms_per_minute,
                "rooms_per_minute",
                self.rooms_burst,
                "rooms_burst",
            ),
            (
                self.forms_per_minute,
                "forms_per_minute",
                self.forms_burst,
                "forms_burst",
            ),
            (
                self.address_rate_per_sec,
                "address_rate_per_sec",
                self.address_rate_burst,
                "address_rate_burst",
            ),
            (
                self.new_connections_per_sec,
                "new_connections_per_sec",
                self.new_connections_burst,
                "new_connections_burst",
            ),
            (
                self.catch_up_per_sec,
                "catch_up_per_sec",
                self.catch_up_burst,
                "catch_up_burst",
            ),
            (
                self.renames_per_hour,
                "renames_per_hour",
                self.renames_burst,
                "renames_burst",
            ),
        ] {
            positive(per, per_id)?;
            at_least_one(burst, burst_id)?;
        }
        Ok(())
    }

    /// The sizes, counts and timeouts of every part (limits, hub, sessions) in one pass, so that
    /// none of them can be zero where a part would divide by it or never make progress.
    fn check_sizes(&self) -> Result<(), ConfigError> {
        if !(MIN_FRAME_BYTES..=16 * 1024 * 1024).contains(&self.max_frame_bytes) {
            return Err(invalid(
                "max_frame_bytes",
                format!(
                    "must be between {MIN_FRAME_BYTES} (the largest valid message, fully escaped) \
                     and 16777216, not {}",
                    self.max_frame_bytes
                ),
            ));
        }
        for (value, id) in [
            (self.max_rooms, "max_rooms"),
            (self.max_rooms_per_address, "max_rooms_per_address"),
            (self.max_edits as usize, "max_edits"),
            (self.max_unanswered as usize, "max_unanswered"),
            (self.max_strangers_per_day as usize, "max_strangers_per_day"),
            (self.max_connections_per_ip, "max_connections_per_ip"),
            (self.max_connections, "max_connections"),
            (
                self.max_http_connections_per_ip,
                "max_http_connections_per_ip",
            ),
            (self.max_http_connections, "max_http_connections"),
            (self.session_cache, "session_cache"),
            (self.crowd, "crowd"),
            (self.inbox, "inbox"),
        ] {
            if value == 0 {
                return Err(invalid(id, "must be at least 1, not 0".to_owned()));
            }
        }
        if self.catch_up_limit == 0 {
            return Err(invalid(
                "catch_up_limit",
                "must be at least 1, not 0".to_owned(),
            ));
        }
        if self.room_buffer < 16 {
            return Err(invalid(
                "room_buffer",
                format!("must be at least 16, not {}", self.room_buffer),
            ));
        }
        if self.idle_timeout <= self.ping_interval {
            return Err(invalid(
                "idle_timeout",
                format!(
                    "must be longer than the ping interval ({:?}), not {:?}",
                    self.ping_interval, self.idle_timeout
                ),
            ));
        }
        Ok(())
    }

    /// The public URL, if set: passkeys are bound to its host, so it must have one.
    fn public_url(&self) -> Result<Option<url::Url>, ConfigError> {
        let Some(text) = &self.public_url else {
            return Ok(None);
        };
        match url::Url::parse(text.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Ok(Some(url))
            }
            _ => Err(invalid(
                "public_url",
                format!("must be an http:// or https:// address with a host, not {text:?}"),
            )),
        }
    }

    fn store(&self) -> Result<StoreConfig, ConfigError> {
        match &self.database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(StoreConfig::Postgres(url.clone()))
            }
            Some(_) => Err(invalid(
                "database_url",
                "must be a postgres:// or postgresql:// URL (leave it unset for SQLite)".to_owned(),
            )),
            None => Ok(StoreConfig::Sqlite(self.data_dir.join("chinwag.db"))),
        }
    }

    /// How this server is linked to the others, if it is one of several.
    fn cluster(&self, store: &StoreConfig) -> Result<Option<BusConfig>, ConfigError> {
        let Some(redis_url) = &self.redis_url else {
            return Ok(None);
        };
        if !matches!(store, StoreConfig::Postgres(_)) {
            return Err(invalid(
                "redis_url",
                "several servers must share their store: set DATABASE_URL to a PostgreSQL \
                 database (SQLite is one server's file)"
                    .to_owned(),
            ));
        }
        if !(redis_url.starts_with("redis://") || redis_url.starts_with("rediss://")) {
            return Err(invalid(
                "redis_url",
                "must be a redis:// or rediss:// URL".to_owned(),
            ));
        }
        let prefix = self.bus_prefix.trim().to_owned();
        if prefix.is_empty() || prefix.len() > 64 || prefix.chars().any(char::is_whitespace) {
            return Err(invalid(
                "bus_prefix",
                "must be 1 to 64 characters without spaces".to_owned(),
            ));
        }
        Ok(Some(BusConfig {
            redis_url: redis_url.clone(),
            prefix,
            cluster: ClusterConfig {
                node_timeout: self.node_timeout,
                leave_grace: self.leave_grace,
                ..ClusterConfig::default()
            },
        }))
    }

    /// The limits, once [`Self::check_rates`] and [`Self::check_sizes`] passed.
    fn limits(&self, files: &FilesSetup) -> Limits {
        // Several people may share an address: four times one person's upload rate.
        let uploads = files.config.uploads_per_minute * 4.0;
        Limits {
            max_frame_bytes: self.max_frame_bytes,
            messages: Rate::new(self.rate_per_sec, self.rate_burst),
            typing: Rate::new(self.typing_rate_per_sec, self.typing_burst),
            frames: Rate::new(self.frames_per_sec, self.frames_burst),
            sessions_per_addr: Rate::per_minute(self.sessions_per_minute, self.sessions_burst),
            rooms_per_addr: Rate::per_minute(self.rooms_per_minute, self.rooms_burst),
            forms_per_addr: Rate::per_minute(self.forms_per_minute, self.forms_burst),
            messages_per_addr: Rate::new(self.address_rate_per_sec, self.address_rate_burst),
            connections_per_addr: Rate::new(
                self.new_connections_per_sec,
                self.new_connections_burst,
            ),
            catch_up_per_addr: Rate::new(self.catch_up_per_sec, self.catch_up_burst),
            renames: Rate::per_hour(self.renames_per_hour, self.renames_burst),
            max_rooms_per_addr: self.max_rooms_per_address,
            room_idle: self.room_idle,
            max_edits: self.max_edits,
            max_unanswered: self.max_unanswered,
            max_strangers_per_day: self.max_strangers_per_day,
            ban_reach: self.ban_reach,
            max_rooms_total: self.max_rooms,
            max_connections_per_ip: self.max_connections_per_ip,
            max_connections: self.max_connections,
            max_http_connections_per_ip: self.max_http_connections_per_ip,
            max_http_connections: self.max_http_connections,
            header_read_timeout: self.header_timeout,
            hello_timeout: self.hello_timeout,
            ping_interval: self.ping_interval,
            idle_timeout: self.idle_timeout,
            write_timeout: self.write_timeout,
            catch_up_limit: self.catch_up_limit,
            uploads_per_addr: Rate::per_minute(uploads, uploads),
            ..Limits::default()
        }
    }

    fn hub(&self) -> HubConfig {
        HubConfig {
            room_capacity: self.room_buffer,
            inbox_capacity: self.inbox,
            leave_grace: self.leave_grace,
            crowd: self.crowd,
            ..HubConfig::default()
        }
    }

    /// `shared`: other servers use the same store (see [`SessionConfig::shared`]).
    fn sessions(&self, shared: bool) -> SessionConfig {
        SessionConfig {
            idle_hold: self.nick_hold,
            forget_after: self.session_ttl,
            // Well within the hold, so a connected session's claim never runs out.
            refresh_every: (self.nick_hold / 3).min(SessionConfig::default().refresh_every),
            max_cached: self.session_cache,
            shared,
            ..SessionConfig::default()
        }
    }

    fn into_http(self, public_url: Option<url::Url>) -> HttpConfig {
        HttpConfig {
            allowed_origins: self
                .allowed_origins
                .into_iter()
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            secure_cookies: self.secure_cookies,
            metrics_addr: self.metrics_addr,
            trusted_proxies: self.trusted_proxies,
            signup: self.signup,
            public_url,
        }
    }
}

/// Parses the command line and the environment. A help or version request is printed and the
/// process exits; a bad setting becomes one line naming its variable.
pub fn parse_cli() -> Result<Cli, ConfigError> {
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(err) => match err.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                err.exit()
            }
            _ => Err(from_clap(&err)),
        },
    }
}

/// One line from clap's (multi-line) error, naming the environment variable behind the flag.
fn from_clap(err: &clap::Error) -> ConfigError {
    use clap::error::{ContextKind, ContextValue};
    let context = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let arg = context(ContextKind::InvalidArg).unwrap_or_default();
    let flag = arg.split_whitespace().next().unwrap_or_default();
    let id = Cli::command()
        .get_arguments()
        .find(|a| a.get_long().is_some_and(|long| flag == format!("--{long}")))
        .map(|a| a.get_id().to_string());
    let problem = match context(ContextKind::InvalidValue) {
        Some(value) => {
            let why = std::error::Error::source(err)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            format!("invalid value {value:?}{why}")
        }
        None => err
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_owned(),
    };
    match id {
        Some(id) => invalid(&id, problem),
        None => ConfigError {
            name: "command line".to_owned(),
            problem,
        },
    }
}

/// The error for the setting with clap id `id`, named by its environment variable and flag.
fn invalid(id: &str, problem: String) -> ConfigError {
    let command = Cli::command();
    let arg = command.get_arguments().find(|a| a.get_id() == id);
    let env = arg
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned());
    let flag = arg.and_then(|a| a.get_long()).map(|l| format!("--{l}"));
    let name = match (env, flag) {
        (Some(env), Some(flag)) => format!("{env} ({flag})"),
        (None, Some(flag)) => flag,
        _ => id.to_owned(),
    };
    ConfigError { name, problem }
}

fn positive(value: f64, id: &str) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 && value <= 1e12 {
        Ok(())
    } else {
        Err(invalid(
            id,
            format!("must be a finite number above 0, not {value}"),
        ))
    }
}

fn at_least_one(value: f64, id: &str) -> Result<(), ConfigError> {
    if value.is_finite() && (1.0..=1e12).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            id,
            format!("must be a finite number of at least 1, not {value}"),
        ))
    }
}

#[cfg(test)]
mod tests;
