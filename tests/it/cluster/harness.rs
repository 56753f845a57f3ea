//! What the several-servers tests run on: their own Redis (a `redis-server` on a free port,
//! stopped and restarted by PID, never the machine's shared one), a fresh PostgreSQL database
//! (created, then dropped), real chinwag processes sharing both, and clients that record what they
//! receive the way a browser tab keeps it.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Process, TempDir};

/// Settings every node of a test cluster gets: the limits out of the way (the tests post fast).
const FAST: &[(&str, &str)] = &[
    ("CHINWAG_RATE_PER_SEC", "100000"),
    ("CHINWAG_MAX_UNANSWERED", "100000"),
    ("CHINWAG_MAX_STRANGERS_PER_DAY", "100000"),
    ("CHINWAG_BAN_REACH", "1ms"),
    ("CHINWAG_ADDRESS_RATE_PER_SEC", "100000"),
    ("CHINWAG_ADDRESS_RATE_BURST", "100000"),
    ("CHINWAG_NEW_CONNECTIONS_PER_SEC", "100000"),
    ("CHINWAG_NEW_CONNECTIONS_BURST", "100000"),
    ("CHINWAG_CATCH_UP_PER_SEC", "10000000"),
    ("CHINWAG_CATCH_UP_BURST", "10000000"),
    ("CHINWAG_RENAMES_PER_HOUR", "100000"),
    ("CHINWAG_RENAMES_BURST", "100000"),
    ("CHINWAG_RATE_BURST", "100000"),
    ("CHINWAG_FRAMES_PER_SEC", "100000"),
    ("CHINWAG_FRAMES_BURST", "100000"),
    ("CHINWAG_SESSIONS_PER_MINUTE", "100000"),
    ("CHINWAG_SESSIONS_BURST", "100000"),
    ("CHINWAG_ROOMS_PER_MINUTE", "100000"),
    ("CHINWAG_ROOMS_BURST", "100000"),
];

/// A free TCP port on loopback (free a moment ago; nothing else here races for ports).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The test's own Redis server.
pub struct Redis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl Redis {
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// (Re)starts it on its port, empty (it keeps nothing on disk), and waits until it answers.
    pub fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/setup installs it)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if ping(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// SIGKILL, by PID: Redis is gone, with everything it held.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && &answer == b"+PONG\r\n"
}

/// A fresh PostgreSQL database on the machine's server, dropped at the end.
pub struct Database {
    pub url: String,
    admin: String,
    name: String,
}

impl Database {
    pub async fn create() -> Self {
        let admin = std::env::var("CHINWAG_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!(
            "chinwag_cluster_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&admin)
            .await
            .expect("PostgreSQL must be running for the cluster tests (see README)");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&pool)
            .await
            .expect("drop an old database");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("create the test database");
        pool.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }

    /// A connection to the database, for checking what the store has.
    pub async fn pool(&self) -> sqlx::AnyPool {
        sqlx::AnyPool::connect(&self.url).await.expect("connect")
    }

    /// The store's last seq of `room`.
    pub async fn last_seq(&self, room: &str) -> u64 {
        let pool = self.pool().await;
        let row: Option<(i64,)> = sqlx::query_as("SELECT last_seq FROM rooms WHERE name = $1")
            .bind(room)
            .fetch_optional(&pool)
            .await
            .expect("read");
        pool.close().await;
        row.map_or(0, |(n,)| u64::try_from(n).unwrap_or(0))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Drop may run outside a runtime: a thread of its own with one.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(pool) = sqlx::AnyPool::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

/// A chinwag server of the cluster.
pub struct Node {
    pub process: Process,
    _dir: TempDir,
}

impl Node {
    pub fn start(db: &Database, redis: &Redis, extra: &[(&str, &str)]) -> Self {
        let dir = TempDir::new("cluster-node");
        let mut env: Vec<(&str, &str)> = FAST.to_vec();
        let redis_url = redis.url();
        env.push(("DATABASE_URL", &db.url));
        env.push(("CHINWAG_REDIS_URL", &redis_url));
        env.extend_from_slice(extra);
        let process = Process::start(&dir.0, &env);
        Self { process, _dir: dir }
    }

    pub fn ws_url(&self) -> String {
        self.process.ws_url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.process.addr
    }
}

/// Starts `n` nodes on one database and Redis, and waits until each hears the others.
pub async fn start_nodes(n: usize, db: &Database, redis: &Redis) -> Vec<Node> {
    let nodes: Vec<Node> = (0..n).map(|_| Node::start(db, redis, &[])).collect();
    for node in &nodes {
        wait_for_metric(node.addr(), "chinwag_cluster_nodes", n as f64).await;
    }
    nodes
}

/// Waits (up to 20 s) until `/metrics` of the server at `addr` shows `name` at `value`.
pub async fn wait_for_metric(addr: SocketAddr, name: &str, value: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if metric(addr, name).await == Some(value) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never reached {value} on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server's `/metrics` text.
async fn metrics(addr: SocketAddr) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await.ok()?;
    Some(body)
}

/// One metric's value (without labels) from the server's `/metrics`.
pub async fn metric(addr: SocketAddr, name: &str) -> Option<f64> {
    metrics(addr)
        .await?
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// The sum of a metric over all its labels.
pub async fn metric_sum(addr: SocketAddr, name: &str) -> f64 {
    let Some(body) = metrics(addr).await else {
        return 0.0;
    };
    body.lines()
        .filter(|l| {
            l.split(['{', ' '])
                .next()
                .is_some_and(|first| first == name)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// What a client has received, as a browser tab would keep it.
#[derive(Debug, Default)]
pub struct Seen {
    /// Per room: the positions in the order they arrived (messages, edits and deletes, history,
    /// and own acks).
    pub seqs: HashMap<String, Vec<u64>>,
    /// Seqs that arrived twice.
    pub doubled: Vec<(String, u64)>,
    /// Private message ids in the order they arrived (live and from history).
    pub dms: Vec<u64>,
    pub doubled_dms: Vec<u64>,
    /// Every other frame (presence, members, typing, errors...), in order.
    pub frames: Vec<Value>,
    /// Client ids acked.
    pub acked: BTreeSet<String>,
}

impl Seen {
    fn record_seq(&mut self, room: &str, seq: u64) {
        let seqs = self.seqs.entry(room.to_owned()).or_default();
        if seqs.contains(&seq) {
            self.doubled.push((room.to_owned(), seq));
        } else {
            seqs.push(seq);
        }
    }

    fn record_dm(&mut self, id: u64) {
        if self.dms.contains(&id) {
            self.doubled_dms.push(id);
        } else {
            self.dms.push(id);
        }
    }

    fn record(&mut self, frame: Value) {
        match frame["type"].as_str().unwrap_or_default() {
            "message" => {
                if let (Some(room), Some(seq)) = (frame["room"].as_str(), frame["seq"].as_u64()) {
                    self.record_seq(room, seq);
                }
                // A reply is kept too, so that a test can look at its quote.
                if frame.get("reply_to").is_some() {
                    self.frames.push(frame);
                }
            }
            // A change (or a reaction) has a place of its own in the room's log.
            "edited" | "deleted" | "reacted" => {
                if let (Some(room), Some(seq)) = (frame["room"].as_str(), frame["log_seq"].as_u64())
                {
                    self.record_seq(room, seq);
                }
                self.frames.push(frame);
            }
            "history" => {
                let room = frame["room"].as_str().unwrap_or_default().to_owned();
                for entry in frame["messages"].as_array().into_iter().flatten() {
                    if let Some(seq) = entry["log_seq"].as_u64().or(entry["seq"].as_u64()) {
                        self.record_seq(&room, seq);
                    }
                    if entry["type"] != "message" {
                        self.frames.push(entry.clone());
                    }
                }
            }
            "ack" => {
                if let Some(id) = frame["client_id"].as_str() {
                    self.acked.insert(id.to_owned());
                }
                if let (Some(room), Some(seq)) = (frame["room"].as_str(), frame["seq"].as_u64()) {
                    // An own message the client already has (a retry after a reconnect, whose
                    // catch-up brought it) is not a second copy.
                    if !self.seqs.get(room).is_some_and(|s| s.contains(&seq)) {
                        self.record_seq(room, seq);
                    }
                }
                if let Some(id) = frame["id"].as_u64() {
                    if !self.dms.contains(&id) {
                        self.dms.push(id);
                    }
                }
            }
            "dm" => {
                if let Some(id) = frame["id"].as_u64() {
                    self.record_dm(id);
                }
                // Kept too, so that a test can look at who a message was for.
                self.frames.push(frame);
            }
            "dm_history" => {
                for dm in frame["messages"].as_array().into_iter().flatten() {
                    if let Some(id) = dm["id"].as_u64() {
                        self.record_dm(id);
                    }
                }
            }
            _ => self.frames.push(frame),
        }
    }

    /// Whether `room`'s seqs are exactly `1..=last`, in order, once each.
    pub fn complete(&self, room: &str, last: u64) -> bool {
        let seqs = self.seqs.get(room).map(Vec::as_slice).unwrap_or(&[]);
        self.doubled.is_empty() && seqs.len() as u64 == last && seqs.iter().copied().eq(1..=last)
    }

    /// The frames of type `kind`.
    pub fn of(&self, kind: &str) -> Vec<&Value> {
        self.frames.iter().filter(|f| f["type"] == kind).collect()
    }
}

/// A client connected to one node: a task keeps reading and recording while the test sends.
pub struct Peer {
    out: mpsc::UnboundedSender<Message>,
    pub seen: Arc<Mutex<Seen>>,
    changed: Arc<Notify>,
    pub welcome: Value,
    pub token: String,
    task: tokio::task::JoinHandle<()>,
}

impl Peer {
    /// Connects to `url` and says `hello`; fails the test if the answer is not a welcome.
    pub async fn connect(url: &str, hello: Value) -> Self {
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connect");
        ws.send(Message::text(hello.to_string()))
            .await
            .expect("hello");
        let welcome = loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .expect("an answer to hello")
                .expect("open")
                .expect("a frame");
            if let Message::Text(text) = msg {
                break serde_json::from_str::<Value>(&text).expect("JSON");
            }
        };
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let token = welcome["session"]
            .as_str()
            .or_else(|| hello["session"].as_str())
            .unwrap_or_default()
            .to_owned();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let changed = Arc::new(Notify::new());
        let (out, mut outgoing) = mpsc::unbounded_channel::<Message>();
        let task = {
            let (seen, changed) = (Arc::clone(&seen), Arc::clone(&changed));
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        msg = outgoing.recv() => {
                            let Some(msg) = msg else { return };
                            if ws.send(msg).await.is_err() {
                                return;
                            }
                        }
                        msg = ws.next() => {
                            match msg {
                                Some(Ok(Message::Text(text))) => {
                                    if let Ok(frame) = serde_json::from_str::<Value>(&text) {
                                        seen.lock().unwrap_or_else(PoisonError::into_inner).record(frame);
                                        changed.notify_waiters();
                                    }
                                }
                                Some(Ok(_)) => {}
                                _ => {
                                    changed.notify_waiters();
                                    return;
                                }
                            }
                        }
                    }
                }
            })
        };
        Self {
            out,
            seen,
            changed,
            welcome,
            token,
            task,
        }
    }

    /// A new session called `nick` on `url`.
    pub async fn join(url: &str, nick: &str) -> Self {
        Self::connect(url, json!({"type":"hello","nick":nick})).await
    }

    /// Another tab of session `token` on `url`.
    pub async fn tab(url: &str, token: &str) -> Self {
        Self::connect(url, json!({"type":"hello","session":token})).await
    }

    pub fn send(&self, frame: Value) {
        let _ = self.out.send(Message::text(frame.to_string()));
    }

    /// Posts to `room`.
    pub fn say(&self, room: &str, text: &str, client_id: &str) {
        self.send(json!({"type":"say","room":room,"text":text,"client_id":client_id}));
    }

    /// Whether the connection is still open.
    pub fn is_open(&self) -> bool {
        !self.task.is_finished()
    }

    /// Runs `check` on what was seen until it holds; fails the test after `wait`.
    pub async fn wait_until(&self, wait: Duration, what: &str, check: impl Fn(&Seen) -> bool) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.changed.notified();
            if check(&self.seen.lock().unwrap_or_else(PoisonError::into_inner)) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
                panic!(
                    "{what}: not within {wait:?}; seqs {:?}, dms {:?}, doubled {:?}, frames {:?}",
                    seen.seqs
                        .iter()
                        .map(|(r, s)| (r, s.len(), s.last()))
                        .collect::<Vec<_>>(),
                    seen.dms.len(),
                    seen.doubled,
                    seen.frames.iter().rev().take(5).collect::<Vec<_>>()
                );
            }
        }
    }

    /// Reads what was seen.
    pub fn with<T>(&self, read: impl FnOnce(&Seen) -> T) -> T {
        read(&self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Sends `count` messages to `room` as `{tag}-{i}`, at most `window` unacked at a time; stops
    /// early if the connection closes. Returns the client ids sent.
    pub async fn say_many(
        &self,
        room: &str,
        tag: String,
        count: usize,
        window: usize,
    ) -> Vec<String> {
        let mut sent = Vec::with_capacity(count);
        for i in 0..count {
            loop {
                let unacked = self.with(|s| {
                    sent.iter()
                        .filter(|id: &&String| !s.acked.contains(*id))
                        .count()
                });
                if unacked < window || !self.is_open() {
                    break;
                }
                let notified = self.changed.notified();
                let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
            }
            if !self.is_open() {
                break;
            }
            let id = format!("{tag}-{i}");
            self.say(room, &id, &id);
            sent.push(id);
        }
        sent
    }

    /// Waits until every one of `ids` is acked; fails the test after `wait`.
    pub async fn wait_acked(&self, ids: &[String], wait: Duration) {
        self.wait_until(wait, "every message acked", |s| {
            ids.iter().all(|id| s.acked.contains(id))
        })
        .await;
    }

    /// Who this client knows is online: its welcome's list, then the comings and goings since.
    pub fn online(&self) -> BTreeSet<String> {
        let mut online: BTreeSet<String> = self.welcome["online"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect();
        self.with(|s| {
            for f in s.of("presence") {
                let nick = f["nick"].as_str().unwrap_or_default().to_owned();
                if f["online"] == true {
                    online.insert(nick);
                } else {
                    online.remove(&nick);
                }
            }
        });
        online
    }

    /// Closes the connection.
    pub fn close(self) {
        self.task.abort();
    }
}
