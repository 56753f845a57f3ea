//! Test support: a real chinwag server on `127.0.0.1:0` and a websocket client speaking the protocol.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chinwag::server::config::ServerConfig;
use chinwag::server::hub::HubConfig;
use chinwag::server::limits::Rate;
use chinwag::server::store::StoreConfig;
use futures_util::{SinkExt, StreamExt};
use leptos::config::LeptosOptions;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame it expects before failing.
pub const WAIT: Duration = Duration::from_secs(5);

/// A running server; stopped when dropped (or explicitly, to test shutdown).
pub struct TestServer {
    pub addr: SocketAddr,
    /// Where its SQLite store lives; removed when the last server using it is dropped.
    pub data: Arc<DataDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), chinwag::server::StartError>>>,
}

/// A temporary data directory, removed on drop.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn new() -> Arc<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "chinwag-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        Arc::new(Self(dir))
    }

    pub fn store(&self) -> StoreConfig {
        StoreConfig::Sqlite(self.0.join("chinwag.db"))
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The server's settings for tests: production values, but a short leave grace so tests need not
/// wait, and rates high enough that tests can go as fast as they like (the limits have tests of
/// their own, which set them back).
pub fn test_config(data: &DataDir) -> ServerConfig {
    let mut config = ServerConfig::with_store(data.store());
    config.hub.leave_grace = Duration::from_millis(300);
    let fast = Rate::new(100_000.0, 100_000.0);
    config.limits.messages = fast;
    config.limits.typing = fast;
    config.limits.frames = fast;
    config.limits.sessions_per_addr = fast;
    config.limits.rooms_per_addr = fast;
    config.limits.forms_per_addr = fast;
    config.limits.messages_per_addr = fast;
    config.limits.connections_per_addr = fast;
    config.limits.catch_up_per_addr = fast;
    config.limits.renames = fast;
    config.sessions.renames = fast;
    config.limits.max_unanswered = 100_000;
    config.limits.max_strangers_per_day = 100_000;
    config
}

impl TestServer {
    /// A server with [`test_config`] and a fresh store.
    pub async fn start() -> Self {
        let data = DataDir::new();
        Self::start_on(data.clone(), test_config(&data)).await
    }

    /// Like [`TestServer::start`], with these hub settings.
    pub async fn start_with(hub: HubConfig) -> Self {
        let data = DataDir::new();
        let config = ServerConfig {
            hub,
            ..test_config(&data)
        };
        Self::start_on(data, config).await
    }

    /// A server on an existing data directory (e.g. to restart on the same store).
    pub async fn start_on(data: Arc<DataDir>, config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let options = LeptosOptions::builder()
            .output_name("chinwag")
            .site_root("target/site")
            .site_addr(addr)
            .build();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(chinwag::server::serve(
            listener,
            options,
            config,
            async move {
                let _ = stopped.await;
            },
        ));
        // Serving once it answers: its store is open and migrated (a test that runs `chinwag
        // admin` at once would otherwise race the server's first migration).
        let started = std::time::Instant::now();
        loop {
            if let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await
            {
                let server = Self {
                    addr,
                    data: data.clone(),
                    stop: None,
                    task: None,
                };
                let health = http(&server, "GET", "/healthz", &[], "").await;
                if health.starts_with("HTTP/1.1 200") {
                    break;
                }
            }
            assert!(
                started.elapsed() < WAIT,
                "the server serves within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self {
            addr,
            data,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Stops the server the way SIGTERM does and waits for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops within 10 s");
            result.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A websocket client that speaks JSON frames.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(server: &TestServer) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .expect("websocket connect");
        Self { ws }
    }

    /// Connects to a websocket URL (e.g. a [`Process`]'s).
    pub async fn connect_url(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connect");
        Self { ws }
    }

    /// Connects from the local address `from` (e.g. 127.0.0.2), as a different client address.
    pub async fn connect_from(server: &TestServer, from: [u8; 4]) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from((from, 0)))
            .expect("bind the source address");
        let stream = socket.connect(server.addr).await.expect("connect");
        let (ws, _) =
            tokio_tungstenite::client_async(server.ws_url(), MaybeTlsStream::Plain(stream))
                .await
                .expect("websocket handshake");
        Self { ws }
    }

    /// Connects from the local address `from` with extra request headers (a proxy's
    /// `X-Forwarded-For`, say).
    pub async fn connect_with_headers(
        server: &TestServer,
        from: [u8; 4],
        headers: &[(&str, &str)],
    ) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = server.ws_url().into_client_request().expect("request");
        for (name, value) in headers {
            request.headers_mut().append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                value.parse().expect("header value"),
            );
        }
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from((from, 0)))
            .expect("bind the source address");
        let stream = socket.connect(server.addr).await.expect("connect");
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .expect("websocket handshake");
        Self { ws }
    }

    /// Says hello as a new session for `nick`; returns the first answer (a welcome or an error).
    pub async fn hello(&mut self, nick: &str) -> Value {
        self.send(json!({"type": "hello", "nick": nick})).await;
        self.recv().await
    }

    /// Connects with a browser's session cookie.
    pub async fn connect_with_cookie(server: &TestServer, token: &str) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = server.ws_url().into_client_request().expect("request");
        request
            .headers_mut()
            .insert("cookie", session_cookie(token).parse().expect("header"));
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connect");
        Self { ws }
    }

    /// Connects, says hello as a new session for `nick` and checks the welcome. Returns the client
    /// and its session token. Frames announcing the join that others send are left unread.
    pub async fn join_session(server: &TestServer, nick: &str) -> (Self, String) {
        let mut client = Self::connect(server).await;
        client.send(json!({"type": "hello", "nick": nick})).await;
        let welcome = client.recv().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        assert_eq!(welcome["nick"], nick);
        let token = welcome["session"]
            .as_str()
            .expect("a new session")
            .to_owned();
        // The catch-up that follows the welcome ends with the private messages' (no presence of
        // my own follows: the welcome lists me).
        client.expect_frame("dm_history").await;
        (client, token)
    }

    /// Like [`Client::join_session`], without the token.
    pub async fn join(server: &TestServer, nick: &str) -> Self {
        Self::join_session(server, nick).await.0
    }

    /// Another connection (tab) of an existing session.
    pub async fn resume(server: &TestServer, token: &str) -> (Self, Value) {
        let (client, welcome, _) = Self::resume_since(server, token, None).await;
        (client, welcome)
    }

    /// Reconnects a session, optionally with `since` for `general`; returns the welcome and the
    /// history frame that follows it.
    pub async fn resume_since(
        server: &TestServer,
        token: &str,
        since: Option<u64>,
    ) -> (Self, Value, Value) {
        let mut client = Self::connect(server).await;
        let mut hello = json!({"type": "hello", "session": token});
        if let Some(since) = since {
            hello["since"] = json!({ "general": since });
        }
        client.send(hello).await;
        let welcome = client.recv().await;
        let history = if welcome["type"] == "welcome" {
            client.expect_frame("history").await
        } else {
            Value::Null
        };
        (client, welcome, history)
    }

    /// The next frame of type `kind`, skipping welcomes, histories and notices (presence, members,
    /// typing, renames) of other types; any other frame fails the test.
    pub async fn expect_frame(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return frame;
            }
            let skippable = [
                "welcome",
                "presence",
                "member",
                "typing",
                "renamed",
                "history",
                "dm_history",
                "roster",
            ];
            assert!(
                skippable.contains(&frame["type"].as_str().unwrap_or_default()),
                "expected {kind}, got {frame}"
            );
        }
    }

    /// The next frame that is not a presence notice (others joining or leaving) or the histories
    /// sent after a welcome.
    pub async fn recv_chat(&mut self) -> Value {
        loop {
            let frame = self.recv().await;
            if !["presence", "history", "dm_history"]
                .contains(&frame["type"].as_str().unwrap_or_default())
            {
                return frame;
            }
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send frame");
    }

    pub async fn send_raw(&mut self, msg: Message) {
        self.ws.send(msg).await.expect("send frame");
    }

    /// Sends a message that the server may refuse by closing (the send may then fail).
    pub async fn try_send_raw(
        &mut self,
        msg: Message,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(msg).await
    }

    /// The next websocket message of any kind, `None` once the connection is over.
    pub async fn next_raw(&mut self) -> Option<Message> {
        self.ws.next().await.and_then(Result::ok)
    }

    /// Posts `text` to general as `client_id`.
    pub async fn say(&mut self, text: &str, client_id: &str) {
        self.send(json!({"type": "say", "room": "general", "text": text, "client_id": client_id}))
            .await;
    }

    /// The next JSON text frame; fails the test after [`WAIT`].
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait")
                .expect("the connection is open")
                .expect("a good frame");
            match msg {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON frame"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next JSON text frame before `deadline`; `None` at the deadline or once the connection
    /// is over.
    pub async fn recv_until(&mut self, deadline: tokio::time::Instant) -> Option<Value> {
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Some(serde_json::from_str(&text).expect("JSON frame"))
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                _ => return None,
            }
        }
    }

    /// Asserts that no text frame at all arrives within `for_`.
    pub async fn expect_silence(&mut self, for_: Duration) {
        self.expect_only(for_, &[]).await;
    }

    /// Asserts that nothing but presence notices (others joining) or post-welcome history arrives
    /// within `for_`.
    pub async fn expect_no_chat(&mut self, for_: Duration) {
        self.expect_only(for_, &["presence", "history", "dm_history"])
            .await;
    }

    async fn expect_only(&mut self, for_: Duration, allowed: &[&str]) {
        let deadline = tokio::time::Instant::now() + for_;
        while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            if let Message::Text(text) = msg {
                let frame: Value = serde_json::from_str(&text).expect("JSON frame");
                let kind = frame["type"].as_str().unwrap_or_default();
                assert!(allowed.contains(&kind), "expected nothing, got {frame}");
            }
        }
    }

    /// Waits for the server to close the connection and returns its close code and reason.
    pub async fn closed_with_reason(&mut self) -> Option<(CloseCode, String)> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close within the wait")
            {
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| (f.code, f.reason.as_str().to_owned()))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Stops reading (and so answering pings) but keeps the TCP connection open, like a peer
    /// that vanished without closing. Drop the result to close it.
    pub fn stop_reading(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.ws
    }

    /// Waits for the server to close the connection and returns its close code.
    pub async fn closed(&mut self) -> Option<CloseCode> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close within the wait")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// Sends one raw HTTP/1.1 request to the server and returns the whole response (head and body).
pub async fn http(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        server.addr,
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("response within the wait")
        .expect("read response");
    String::from_utf8_lossy(&response).into_owned()
}

/// The session token a response's `Set-Cookie: chinwag_session=...` carries, if any.
pub fn cookie_token(response: &str) -> Option<String> {
    response
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie: chinwag_session="))
        .and_then(|l| l.split_once('=').map(|(_, v)| v))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// The content type of a form posted by a browser without JavaScript.
pub const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// The `Cookie` header's value for session `token`.
pub fn session_cookie(token: &str) -> String {
    format!("{}={token}", chinwag::server::session::COOKIE)
}

/// Picks a nickname with the form, as a browser without JavaScript does (`nick` form-encoded);
/// returns the token of the session its cookie carries.
pub async fn join_by_form(server: &TestServer, nick: &str) -> String {
    let joined = http(server, "POST", "/join", &[FORM], &format!("nick={nick}")).await;
    cookie_token(&joined).expect("session cookie")
}

/// `GET path` as the browser holding session `token`; the whole response.
pub async fn get_as(server: &TestServer, path: &str, token: &str) -> String {
    let cookie = session_cookie(token);
    http(server, "GET", path, &[("cookie", &cookie)], "").await
}

/// The chinwag binary running on its own port and data directory; killed (by PID) when dropped.
pub struct Process {
    child: std::process::Child,
    pub addr: SocketAddr,
}

impl Process {
    /// Starts the binary on a free port with its SQLite store in `data_dir` and these settings.
    pub fn start(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_chinwag"));
        command
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("CHINWAG_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start chinwag");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the URL line");
        let addr = line
            .trim()
            .trim_start_matches("chinwag is running at http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|_| panic!("unexpected first line: {line:?}"));
        Self { child, addr }
    }

    /// The process's resident memory, in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// SIGTERM, by PID, and waits for the process to exit; returns how long that took and
    /// whether it exited cleanly.
    pub fn terminate(&mut self) -> (Duration, bool) {
        let started = std::time::Instant::now();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("wait");
        (started.elapsed(), status.success())
    }

    /// SIGKILL: no shutdown handler runs, no buffer is flushed.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A stand-in while the real process is terminated on another thread.
    pub fn placeholder() -> Self {
        let child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A temporary directory for a test's own files, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "chinwag-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `chinwag admin ARGS` on the server's store; returns its output (it must succeed).
pub async fn admin(server: &TestServer, args: &[&str]) -> String {
    let output = admin_output(server, args).await;
    assert!(
        output.status.success(),
        "chinwag admin {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Runs `chinwag admin ARGS`, off the test's runtime: the server under test runs on it, and a
/// command waiting for the store while the server cannot finish its write would wait for nothing.
pub async fn admin_output(server: &TestServer, args: &[&str]) -> std::process::Output {
    let mut command = admin_command(server, args);
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the command's thread")
        .expect("run chinwag admin")
}

pub fn admin_command(server: &TestServer, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_chinwag"));
    command
        .arg("admin")
        .args(args)
        .env("CHINWAG_DATA_DIR", &server.data.0)
        .env_remove("DATABASE_URL")
        .env("CHINWAG_PUBLIC_URL", format!("http://{}", server.addr));
    command
}

/// Makes session `token` a moderator the way an operator does: `chinwag admin moderator-link`,
/// then the link's form posted with the browser's cookie.
pub async fn make_moderator(server: &TestServer, token: &str) {
    let printed = admin(server, &["moderator-link"]).await;
    let link = printed.lines().next().expect("a link");
    let prefix = format!("http://{}/moderator/", server.addr);
    let secret = link.strip_prefix(&prefix).expect("a link to this server");
    let cookie = session_cookie(token);
    let origin = format!("http://{}", server.addr);
    let page = http(
        server,
        "GET",
        &format!("/moderator/{secret}"),
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert!(page.contains("Make me a moderator"), "{page}");
    let form = [
        ("cookie", cookie.as_str()),
        ("origin", origin.as_str()),
        FORM,
    ];
    let body = format!("token={secret}");
    let answer = http(server, "POST", "/moderator", &form, &body).await;
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let again = http(server, "POST", "/moderator", &form, &body).await;
    assert!(
        again.starts_with("HTTP/1.1 410"),
        "a link works once: {again}"
    );
}

/// The next frame of type `kind`, whatever comes before it.
pub async fn until_frame(client: &mut Client, kind: &str) -> Value {
    loop {
        let frame = client.recv().await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// The answer to the request that carried `client_id`: its `ack` or its `error`, whatever comes
/// before it.
pub async fn answer_to(client: &mut Client, client_id: &str) -> Value {
    loop {
        let frame = client.recv().await;
        if frame["client_id"] == client_id && (frame["type"] == "ack" || frame["type"] == "error") {
            return frame;
        }
    }
}

/// Message `seq` among a `history` frame's entries.
pub fn message_of(history: &Value, seq: u64) -> Value {
    history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["seq"] == seq && m["type"] == "message")
        .cloned()
        .unwrap_or_else(|| panic!("message {seq} in {history}"))
}

/// A server with [`test_config`] on a fresh PostgreSQL database (dropped with the `Database`).
pub async fn start_on_postgres() -> (crate::cluster::harness::Database, TestServer) {
    let db = crate::cluster::harness::Database::create().await;
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.store = StoreConfig::Postgres(db.url.clone());
    let server = TestServer::start_on(data, config).await;
    (db, server)
}
