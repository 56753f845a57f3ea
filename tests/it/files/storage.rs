//! The file storage's contract, passed by both backends: a local directory, and an S3 bucket on a
//! real S3-compatible server (moto's, from PyPI, started on a free port by [`S3Server`]); and two
//! servers sharing one bucket serve each other's uploads.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use chinwag::server::files::Storage;
use futures_util::StreamExt;

use super::{fetch, request, upload};
use crate::cluster::harness::{free_port, Database, Node, Redis};
use crate::common::*;

/// moto's S3 server on a free port, with one bucket; stopped (by PID) when dropped.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    pub bucket: String,
}

impl S3Server {
    /// `scripts/setup --browser` installs it in `.tools/moto`; `CHINWAG_TEST_MOTO` names
    /// another `moto_server`.
    pub async fn start() -> Self {
        let binary = std::env::var("CHINWAG_TEST_MOTO").map_or_else(
            |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/moto/bin/moto_server"),
            PathBuf::from,
        );
        let port = free_port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "{} must be installed (scripts/setup --browser): {err}",
                    binary.display()
                )
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let addr = format!("127.0.0.1:{port}").parse().expect("address");
        let started = std::time::Instant::now();
        let server = Self {
            child,
            endpoint,
            bucket: "chinwag-files".to_owned(),
        };
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                let made = request(addr, "PUT", &format!("/{}", server.bucket), &[], b"").await;
                if made.status == 200 {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto serves within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// The options `Storage::from_url` takes, and the same as the environment a server reads.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "chinwag"),
            ("AWS_SECRET_ACCESS_KEY", "chinwag-secret"),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What every backend does: a streamed put of a file larger than one part, read back whole; the
/// same content stored once; small puts; deletes that may repeat.
async fn contract(storage: &Storage) {
    let body = Bytes::from(
        (0..9u32 << 20)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let hash = chinwag::server::files::hash(&body);
    assert!(!storage.has(&hash).await.expect("head"));
    let dir = TempDir::new("storage-contract");
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let file = dir.0.join("upload");
    std::fs::write(&file, &body).expect("temp file");
    storage.put_file(&hash, &file).await.expect("streamed put");
    storage
        .put_file(&hash, &file)
        .await
        .expect("the same content again");
    let (size, mut stream) = storage.get(&hash).await.expect("get").expect("stored");
    assert_eq!(size, body.len() as u64);
    let mut got = Vec::new();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.expect("chunk"));
    }
    assert!(got == body, "the bytes read back are the bytes put");
    storage
        .put("small", Bytes::from_static(b"thumb"))
        .await
        .expect("small put");
    assert!(storage.has("small").await.expect("head"));
    storage.delete(&hash).await.expect("delete");
    storage.delete("small").await.expect("delete");
    storage
        .delete("small")
        .await
        .expect("deleting twice is fine");
    assert!(storage.get(&hash).await.expect("get").is_none());
}

#[tokio::test]
async fn a_directory_keeps_what_it_is_given() {
    let dir = TempDir::new("storage-local");
    contract(&Storage::local(&dir.0.join("files")).expect("local")).await;
}

#[tokio::test]
async fn an_s3_bucket_keeps_what_it_is_given() {
    let s3 = S3Server::start().await;
    let options = s3
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v));
    let storage = Storage::from_url(&s3.url("contract"), options).expect("s3");
    contract(&storage).await;
}

#[tokio::test]
async fn two_servers_share_files_through_a_bucket() {
    let s3 = S3Server::start().await;
    let db = Database::create().await;
    let redis = Redis::start();
    let url = s3.url("shared");
    let mut env: Vec<(&str, &str)> = vec![("CHINWAG_FILES_URL", &url)];
    let aws = s3.env();
    env.extend(aws.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let a = Node::start(&db, &redis, &env);
    let b = Node::start(&db, &redis, &env);
    let joined = request(
        a.addr(),
        "POST",
        "/join",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"nick=alice",
    )
    .await;
    let token = cookie_token(&joined.head).expect("a session");
    let content = b"the same bytes, whichever server is asked\n".repeat(100);
    let uploaded = upload(a.addr(), &token, "shared.txt", &content).await;
    assert_eq!(uploaded.status, 200);
    let url = uploaded.json()["url"].as_str().expect("url").to_owned();
    let served = fetch(b.addr(), &token, &url).await;
    assert_eq!(served.status, 200, "the other server serves it");
    assert_eq!(served.body, content);
}
