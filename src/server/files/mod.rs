//! Files people share: received streamed to a temporary file (memory does not grow with a file's
//! size), typed by their content, pictures checked, cleaned and thumbnailed, then kept in the
//! [`storage::Storage`] under their SHA-256.
//!
//! - [`kind`]: a file's type from its first bytes.
//! - [`picture`]: pixel limit before decoding, metadata removed, thumbnails and avatars.
//! - [`initials`]: the picture of someone who has not set one.
//! - [`name`]: file names made safe to show and to download.
//! - [`storage`]: a directory or an S3-compatible bucket.
//! - [`collector`]: sweeps uploads never posted and objects nothing names any more.
//!
//! Who may upload how much, and who may read what, is the store's (`store::files`); the HTTP side
//! is `http::files`.

pub mod collector;
pub mod initials;
pub mod kind;
pub mod name;
pub mod picture;
pub mod storage;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::limits::{AddrKey, KeyedLimiter, Rate};
use crate::server::session::PersonId;
use kind::Kind;
use picture::PictureError;
pub use storage::{Storage, StorageError};

/// Tunables of file sharing.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// The largest upload, in bytes (answered 413 with this number above it).
    pub max_upload_bytes: u64,
    /// The most pixels a picture may declare; more is refused before decoding.
    pub max_pixels: u64,
    /// How many bytes of files one person may keep.
    pub quota_per_person: u64,
    /// How many bytes of files the whole server keeps at most.
    pub max_total_bytes: u64,
    /// Uploads per minute per person (and a burst of as many).
    pub uploads_per_minute: f64,
    /// How many files one message carries at most.
    pub max_per_message: usize,
    /// How long an upload may wait to be posted before it is swept.
    pub unposted_ttl: std::time::Duration,
    /// How often the collector sweeps.
    pub collect_every: std::time::Duration,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 25_000_000,
            max_pixels: 50_000_000,
            quota_per_person: 1_000_000_000,
            max_total_bytes: 20_000_000_000,
            uploads_per_minute: 30.0,
            max_per_message: 10,
            unposted_ttl: std::time::Duration::from_secs(3600),
            collect_every: std::time::Duration::from_secs(60),
        }
    }
}

/// Why an upload was refused (each becomes a status and a JSON error in `http::files`).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Picture(#[from] PictureError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the upload broke off: {0}")]
    Broken(String),
    #[error("a picture must be a PNG, JPEG, GIF or WebP image")]
    NotPicture,
}

impl From<std::io::Error> for UploadError {
    fn from(err: std::io::Error) -> Self {
        UploadError::Storage(StorageError::Io(err))
    }
}

/// File sharing's handle: the storage, a directory for uploads in flight, the limits.
#[derive(Debug, Clone)]
pub struct Files {
    pub storage: Storage,
    incoming: Arc<PathBuf>,
    pub config: Arc<FilesConfig>,
    /// Uploads per person. Bounded like every keyed limiter (past its cap of people, they share
    /// one bucket) and swept with the unposted files.
    uploads: Arc<KeyedLimiter>,
}

/// An upload received whole into a temporary file (removed when this is dropped).
#[derive(Debug)]
pub struct Received {
    path: PathBuf,
    pub size: u64,
    /// SHA-256 of the bytes, hex.
    pub hash: String,
}

impl Drop for Received {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A file as kept in storage, ready to be described in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub hash: String,
    pub size: u64,
    pub mime: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The thumbnail's hash and type, for pictures.
    pub thumb: Option<(String, String)>,
}

/// A new file's id: 128 random bits, URL-safe. Access is checked on every fetch, so the id is not
/// a secret, but it tells nothing about other files either.
pub fn new_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// The hex SHA-256 of `bytes`.
pub fn hash(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

impl Files {
    /// Files kept in `storage`, with uploads in flight under `incoming` (emptied now: whatever is
    /// there was left by a server that stopped mid-upload).
    pub fn new(storage: Storage, incoming: &Path, config: FilesConfig) -> std::io::Result<Self> {
        let _ = std::fs::remove_dir_all(incoming);
        std::fs::create_dir_all(incoming)?;
        let rate = Rate::per_minute(config.uploads_per_minute, config.uploads_per_minute);
        Ok(Self {
            storage,
            incoming: Arc::new(incoming.to_owned()),
            config: Arc::new(config),
            uploads: Arc::new(KeyedLimiter::new(rate, 100_000)),
        })
    }

    /// Counts one upload against person `id`'s rate; how long to wait if it is spent.
    pub fn check_rate(&self, id: PersonId) -> Result<(), std::time::Duration> {
        self.uploads.check(AddrKey::person(id.get()))
    }

    /// Forgets people whose upload rate refilled.
    pub fn sweep_rates(&self) {
        self.uploads.sweep();
    }

    /// Receives an upload's chunks into a temporary file, counting and hashing as they arrive;
    /// refused as soon as it passes the size limit (or the stream says it did: `too_large`).
    pub async fn receive<S, E>(
        &self,
        mut chunks: S,
        too_large: impl Fn(&E) -> bool,
    ) -> Result<Received, UploadError>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures::StreamExt;
        let path = self
            .incoming
            .join(format!("{:032x}", rand::random::<u128>()));
        let mut received = Received {
            path,
            size: 0,
            hash: String::new(),
        };
        let mut file = tokio::fs::File::create(&received.path).await?;
        let mut digest = Sha256::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|err| {
                if too_large(&err) {
                    UploadError::TooLarge {
                        limit: self.config.max_upload_bytes,
                    }
                } else {
                    UploadError::Broken(err.to_string())
                }
            })?;
            received.size += chunk.len() as u64;
            if received.size > self.config.max_upload_bytes {
                return Err(UploadError::TooLarge {
                    limit: self.config.max_upload_bytes,
                });
            }
            digest.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        received.hash = format!("{:x}", digest.finalize());
        Ok(received)
    }

    /// Makes a person's picture from a received upload: the centre square, small, without any
    /// metadata (it is encoded anew). Returns the object's hash.
    pub async fn keep_avatar(&self, received: &Received) -> Result<String, UploadError> {
        let bytes = tokio::fs::read(&received.path).await?;
        let Kind::Picture(picture) = kind::sniff(&bytes[..bytes.len().min(kind::SNIFF_LEN)]) else {
            return Err(UploadError::NotPicture);
        };
        let max = self.config.max_pixels;
        let avatar = tokio::task::spawn_blocking(move || picture::avatar(picture, &bytes, max))
            .await
            .map_err(|err| UploadError::Broken(err.to_string()))??;
        let hash = hash(&avatar.bytes);
        self.storage.put(&hash, Bytes::from(avatar.bytes)).await?;
        Ok(hash)
    }

    /// Types a received file and keeps it: a picture cleaned and thumbnailed (its cleaned bytes
    /// are what is kept), anything else as it came.
    pub async fn keep(&self, received: &Received) -> Result<Kept, UploadError> {
        let mut head = vec![0; kind::SNIFF_LEN];
        let mut file = tokio::fs::File::open(&received.path).await?;
        let mut filled = 0;
        while filled < head.len() {
            match file.read(&mut head[filled..]).await? {
                0 => break,
                n => filled += n,
            }
        }
        head.truncate(filled);
        match kind::sniff(&head) {
            Kind::Picture(picture) => {
                let bytes = Bytes::from(tokio::fs::read(&received.path).await?);
                let max = self.config.max_pixels;
                let prepared =
                    tokio::task::spawn_blocking(move || picture::prepare(picture, bytes, max))
                        .await
                        .map_err(|err| UploadError::Broken(err.to_string()))??;
                let cleaned = hash(&prepared.bytes);
                let thumb = hash(&prepared.thumb.bytes);
                self.storage
                    .put(&thumb, Bytes::from(prepared.thumb.bytes))
                    .await?;
                let size = prepared.bytes.len() as u64;
                self.storage.put(&cleaned, prepared.bytes).await?;
                Ok(Kept {
                    hash: cleaned,
                    size,
                    mime: picture.mime().to_owned(),
                    width: Some(prepared.width),
                    height: Some(prepared.height),
                    thumb: Some((thumb, prepared.thumb.mime.to_owned())),
                })
            }
            Kind::Other(mime) => {
                self.storage
                    .put_file(&received.hash, &received.path)
                    .await?;
                Ok(Kept {
                    hash: received.hash.clone(),
                    size: received.size,
                    mime: mime.to_owned(),
                    width: None,
                    height: None,
                    thumb: None,
                })
            }
        }
    }
}
