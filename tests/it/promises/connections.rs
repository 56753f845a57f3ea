//! Every connection has deadlines, and the caps come from the real file limit.
//!
//! The probe: a TCP connection that sends nothing stayed open (95 s), a POST whose body never came
//! stayed open (150 s), an idle cleartext HTTP/2 connection stayed open (70 s); under a 1,024-file
//! limit three addresses made `/healthz` time out for everyone, and the log said "accept failed: too
//! many open files" twenty times a second.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::start;
use crate::common::{http, TempDir};

/// Reads from `stream` until the server closes it; fails the test if it is still open after
/// `within`. Returns what was read.
async fn closed_within(stream: &mut (impl AsyncReadExt + Unpin), within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "still open after {within:?} (read {:?})",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

#[tokio::test]
async fn a_silent_connection_a_body_that_never_comes_and_an_idle_http2_connection_are_closed() {
    let server = start(|config| {
        config.limits.header_read_timeout = Duration::from_millis(800);
        config.limits.write_timeout = Duration::from_secs(2);
    })
    .await;

    // Connects and sends nothing at all.
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    closed_within(&mut silent, Duration::from_secs(4)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "not before its deadline: {:?}",
        started.elapsed()
    );

    // A form post whose body never comes: answered and closed.
    let mut half = TcpStream::connect(server.addr).await.expect("connect");
    half.write_all(
        b"POST /join HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nnick=a",
    )
    .await
    .expect("write");
    let answer = closed_within(&mut half, Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "refused, not served: {answer}"
    );

    // A keep-alive connection after its request: closed once idle.
    let mut kept = TcpStream::connect(server.addr).await.expect("connect");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let answer = closed_within(&mut kept, Duration::from_secs(4)).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));

    // Cleartext HTTP/2 (prior knowledge), idle but for the client's own pings: pings do not count
    // as use, so it is told to go away and closed.
    let h2 = TcpStream::connect(server.addr).await.expect("connect");
    let (mut read, mut write) = h2.into_split();
    write
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .expect("preface");
    let pinger = tokio::spawn(async move {
        let ping = b"\0\0\x08\x06\0\0\0\0\0chinwag!";
        while write.write_all(ping).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let frames = closed_within(&mut read, Duration::from_secs(5)).await;
    pinger.abort();
    // A GOAWAY frame (type 7) was sent before the end.
    assert!(
        frames.windows(4).any(|w| w[3] == 7 && w[0] == 0),
        "a GOAWAY came: {frames:?}"
    );

    // And the server serves as before.
    let health = http(&server, "GET", "/healthz", &[], "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}

#[tokio::test]
async fn new_connections_are_rate_limited_per_address() {
    let server = start(|config| {
        config.limits.connections_per_addr = chinwag::server::limits::Rate::new(5.0, 10.0);
    })
    .await;
    let mut refused = 0;
    for _ in 0..40 {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 51], 0)))
            .expect("bind");
        let mut stream = socket.connect(server.addr).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok();
        let got = closed_within(&mut stream, Duration::from_secs(3)).await;
        if got.is_empty() {
            refused += 1;
        }
    }
    assert!(
        refused >= 25,
        "most of a burst of 40 past a burst of 10 is closed at once: {refused}"
    );
    // Another address is not affected.
    let health = http(&server, "GET", "/healthz", &[], "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}

/// The real binary under a file limit of its own, its log in a file.
struct Limited {
    child: std::process::Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Limited {
    fn start(files: u32, data: &Path, env: &[(&str, &str)]) -> Self {
        let log = data.join("stderr.log");
        std::fs::create_dir_all(data).expect("data dir");
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\""))
            .arg(env!("CARGO_BIN_EXE_chinwag"))
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("CHINWAG_DATA_DIR", data)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start chinwag");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the URL line");
        let addr = line
            .trim()
            .trim_start_matches("chinwag is running at http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|_| panic!("unexpected first line: {line:?}"));
        Self { child, addr, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `GET /healthz` from `127.0.0.1`, with its own deadline: the status line, or `None` if it was
/// not answered in time.
async fn health(addr: SocketAddr, within: Duration) -> Option<String> {
    let ask = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        answer.lines().next().map(str::to_owned)
    };
    tokio::time::timeout(within, ask).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_low_file_limit_health_is_answered_and_accept_never_runs_out() {
    let dir = TempDir::new("files");
    let server = Limited::start(
        256,
        &dir.0,
        &[
            ("CHINWAG_NEW_CONNECTIONS_PER_SEC", "100000"),
            ("CHINWAG_NEW_CONNECTIONS_BURST", "100000"),
            // Long enough that the flood's connections are all open while health is checked.
            ("CHINWAG_HEADER_TIMEOUT", "30s"),
        ],
    );
    super::eventually(
        Duration::from_secs(5),
        "the caps follow the file limit",
        || server.log().contains("connection caps lowered"),
    )
    .await;
    // Twelve addresses open far more idle connections than 256 files could hold: each may hold an
    // eighth of what is left after the reserve (14), so eight of them fill the server.
    let mut held = Vec::new();
    for from in 2u8..14 {
        for _ in 0..30 {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket
                .bind(SocketAddr::from(([127, 0, 0, from], 0)))
                .expect("bind");
            if let Ok(stream) = socket.connect(server.addr).await {
                held.push(stream);
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Monitoring still gets its answer, every time.
    for _ in 0..20 {
        let status = health(server.addr, Duration::from_secs(2)).await;
        assert_eq!(
            status.as_deref(),
            Some("HTTP/1.1 200 OK"),
            "/healthz at the cap"
        );
    }
    drop(held);
    let log = server.log();
    assert!(
        !log.contains("accept failed"),
        "the server never ran out of files: {log}"
    );
}
