//! Files over HTTP against a real server: what is uploaded is typed by its content, pictures lose
//! their metadata, bombs and oversize uploads are refused, nothing uploaded can run in the page,
//! and nobody but who may read a file learns that it exists.

use std::io::Cursor;
use std::net::SocketAddr;

use bytes::Bytes;
use img_parts::ImageEXIF;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// A response: its head (status line and headers, lower-cased names) and its body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "a JSON body, not {:?} ({})",
                String::from_utf8_lossy(&self.body),
                self.head
            )
        })
    }
}

/// One HTTP/1.1 request with a binary body.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    // The server may answer (413) and close before the whole body is sent.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut response)).await;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    Answer { status, head, body }
}

fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap_or("0"), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 4 + size..];
    }
    out
}

/// A multipart body with one field `file`.
pub fn multipart(name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "chinwag-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads `content` as `name` for the session `token` (as a bot does: a bearer token).
pub async fn upload(addr: SocketAddr, token: &str, name: &str, content: &[u8]) -> Answer {
    let (kind, body) = multipart(name, content);
    let auth = format!("Bearer {token}");
    request(
        addr,
        "POST",
        "/upload",
        &[("content-type", &kind), ("authorization", &auth)],
        &body,
    )
    .await
}

/// `GET path` with the session `token`'s cookie.
pub async fn fetch(addr: SocketAddr, token: &str, path: &str) -> Answer {
    let cookie = session_cookie(token);
    request(addr, "GET", path, &[("cookie", &cookie)], b"").await
}

/// A JPEG photo whose EXIF says where it was taken.
pub fn jpeg_with_gps() -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::new_rgb8(64, 48)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    // TIFF, little-endian: IFD0 with one entry pointing at a GPS IFD with GPSLatitudeRef "N".
    let mut exif = b"II*\0\x08\0\0\0".to_vec();
    exif.extend_from_slice(&[1, 0]); // one entry
    exif.extend_from_slice(&[0x25, 0x88, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0]); // GPS IFD at 26
    exif.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
    exif.extend_from_slice(&[1, 0]); // one GPS entry
    exif.extend_from_slice(&[1, 0, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0]); // GPSLatitudeRef = "N"
    exif.extend_from_slice(&[0, 0, 0, 0]);
    exif.extend_from_slice(b"GPS-SECRET-51.5007N");
    let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(Bytes::from(out.into_inner())).expect("jpeg");
    jpeg.set_exif(Some(Bytes::from(exif)));
    jpeg.encoder().bytes().to_vec()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_photo_is_served_without_its_location() {
    let server = TestServer::start().await;
    let (_alice, token) = Client::join_session(&server, "alice").await;
    let photo = jpeg_with_gps();
    assert!(
        contains(&photo, b"GPS-SECRET"),
        "the test photo carries GPS"
    );
    let answer = upload(server.addr, &token, "holiday.jpg", &photo).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let info = answer.json();
    assert_eq!(info["type"], "image/jpeg");
    assert_eq!(info["name"], "holiday.jpg");
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(64), Some(48))
    );
    let url = info["url"].as_str().expect("url");
    let served = fetch(server.addr, &token, url).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("image/jpeg"));
    assert!(
        !contains(&served.body, b"GPS-SECRET"),
        "the location is gone"
    );
    assert!(!contains(&served.body, b"Exif\0\0"), "no EXIF at all");
    let decoded = image::load_from_memory(&served.body).expect("still a picture");
    assert_eq!((decoded.width(), decoded.height()), (64, 48));
    assert_eq!(info["size"].as_u64(), Some(served.body.len() as u64));
    let thumb = fetch(server.addr, &token, info["thumb"].as_str().expect("thumb")).await;
    assert_eq!(thumb.status, 200);
    assert!(
        image::load_from_memory(&thumb.body).is_ok(),
        "the thumbnail is a picture"
    );
}

#[tokio::test]
async fn a_picture_bomb_is_refused_from_its_header() {
    let server = TestServer::start().await;
    let (_alice, token) = Client::join_session(&server, "alice").await;
    // IHDR claiming 100 × 100,000,000 pixels, then a little compressed data.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&100u32.to_be_bytes());
    png.extend_from_slice(&100_000_000u32.to_be_bytes());
    png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    png.extend_from_slice(&[
        0, 0, 0, 8, b'I', b'D', b'A', b'T', 0x78, 0x9C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    let answer = upload(server.addr, &token, "bomb.png", &png).await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.json()["error"], "too_many_pixels");
}

#[tokio::test]
async fn markup_is_only_ever_a_download() {
    let server = TestServer::start().await;
    let (_alice, token) = Client::join_session(&server, "alice").await;
    for (name, content) in [
        ("page.html", &b"<!doctype html><html><script>alert(document.cookie)</script></html>"[..]),
        (
            "logo.svg",
            &br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>"#[..],
        ),
    ] {
        let answer = upload(server.addr, &token, name, content).await;
        assert_eq!(answer.status, 200, "{name}");
        let info = answer.json();
        assert!(!info["type"].as_str().unwrap_or("").starts_with("image/"), "{name}: {info}");
        assert!(info.get("thumb").is_none());
        let served = fetch(server.addr, &token, info["url"].as_str().expect("url")).await;
        assert_eq!(served.status, 200);
        assert_eq!(served.body, content, "{name}: served as uploaded");
        assert_eq!(served.header("content-type"), Some("application/octet-stream"));
        assert!(served.header("content-disposition").is_some_and(|d| d.starts_with("attachment;")));
        assert_eq!(served.header("x-content-type-options"), Some("nosniff"));
        assert!(served
            .header("content-security-policy")
            .is_some_and(|csp| csp.starts_with("sandbox")));
    }
}

#[tokio::test]
async fn nobody_else_learns_an_unposted_file_exists() {
    let server = TestServer::start().await;
    let (_alice, alice) = Client::join_session(&server, "alice").await;
    let (_bob, bob) = Client::join_session(&server, "bob").await;
    let info = upload(server.addr, &alice, "notes.txt", b"only mine for now\n")
        .await
        .json();
    assert_eq!(info["type"], "text/plain");
    let url = info["url"].as_str().expect("url");
    assert_eq!(fetch(server.addr, &alice, url).await.status, 200);
    let theirs = fetch(server.addr, &bob, url).await;
    let missing = fetch(server.addr, &bob, "/files/AAAAAAAAAAAAAAAAAAAAAA/x").await;
    assert_eq!((theirs.status, missing.status), (404, 404));
    assert_eq!(
        theirs.body, missing.body,
        "exactly as for a file that does not exist"
    );
    let anonymous = request(server.addr, "GET", url, &[], b"").await;
    assert_eq!(anonymous.status, 404);
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_with_the_limit() {
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.files.config.max_upload_bytes = 100_000;
    let server = TestServer::start_on(data, config).await;
    let (_alice, token) = Client::join_session(&server, "alice").await;
    let answer = upload(server.addr, &token, "big.bin", &vec![7u8; 300_000]).await;
    assert_eq!(answer.status, 413);
    let body = answer.json();
    assert_eq!(body["error"], "too_large");
    assert_eq!(body["limit"], 100_000);
    let signed_out = request(server.addr, "POST", "/upload", &[], b"").await;
    assert_eq!(signed_out.status, 401);
}

mod avatars;
mod memory;
mod messages;
mod storage;
