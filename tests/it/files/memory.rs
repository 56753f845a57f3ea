//! Uploads are streamed: the real binary's resident memory does not grow with a file's size, for
//! an upload refused past the limit (sent without a declared length, so it is counted as it comes)
//! or one accepted.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::request;
use crate::common::*;

/// Posts `total` bytes of one file to `/upload` in chunked encoding, 1 MiB at a time, and returns
/// the status; stops sending when the server answers early.
async fn stream_upload(addr: SocketAddr, token: &str, total: usize) -> u16 {
    let boundary = "memory-boundary-5";
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let chunk = |data: &[u8]| {
        let mut out = format!("{:x}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        out
    };
    let opening = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
    );
    let _ = stream.write_all(&chunk(opening.as_bytes())).await;
    let block = vec![0x5Au8; 1 << 20];
    let mut sent = 0;
    while sent < total {
        if stream.write_all(&chunk(&block)).await.is_err() {
            break;
        }
        sent += block.len();
    }
    let closing = format!("\r\n--{boundary}--\r\n");
    let _ = stream.write_all(&chunk(closing.as_bytes())).await;
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(WAIT * 6, stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn memory_does_not_grow_with_an_uploads_size() {
    let data = TempDir::new("upload-memory");
    std::fs::create_dir_all(&data.0).expect("data dir");
    let server = Process::start(
        &data.0,
        &[
            ("CHINWAG_MAX_UPLOAD_BYTES", "80000000"),
            ("CHINWAG_SESSIONS_PER_MINUTE", "1000"),
        ],
    );
    let joined = request(
        server.addr,
        "POST",
        "/join",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"nick=heavy",
    )
    .await;
    let token = cookie_token(&joined.head).expect("a session");
    // A first small upload, so everything an upload needs is allocated before measuring.
    assert_eq!(stream_upload(server.addr, &token, 1 << 20).await, 200);
    let before = server.rss_kib();
    // 200 MiB past an 80 MB limit: refused as it passes the limit.
    assert_eq!(stream_upload(server.addr, &token, 200 << 20).await, 413);
    let refused = server.rss_kib();
    // 64 MiB, accepted.
    assert_eq!(stream_upload(server.addr, &token, 64 << 20).await, 200);
    let accepted = server.rss_kib();
    let grew = |after: u64| after.saturating_sub(before) / 1024;
    eprintln!("resident memory: {before} KiB before, {refused} KiB after a refused 200 MiB upload, {accepted} KiB after an accepted 64 MiB one");
    assert!(
        grew(refused) < 32,
        "a refused 200 MiB upload grew memory by {} MiB",
        grew(refused)
    );
    assert!(
        grew(accepted) < 32,
        "an accepted 64 MiB upload grew memory by {} MiB",
        grew(accepted)
    );
}
