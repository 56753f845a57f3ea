//! Where files' bytes live: a directory under the data directory (the default; nothing to
//! install), or an S3-compatible bucket when `CHINWAG_FILES_URL=s3://bucket/prefix` is set, which
//! several servers behind one Redis need so that each can serve what another received.
//!
//! Both are `object_store` stores, so the two backends run the same code. Objects are named by the
//! SHA-256 of their content (`blobs/ab/abcdef…`): the same bytes are kept once, and a name never
//! changes meaning.

use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

/// The size of each part a streamed write sends (S3 needs at least 5 MiB for all but the last).
const PART: usize = 8 << 20;

/// A failure of the file storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("file storage: {0}")]
    Store(#[from] object_store::Error),
    #[error("file storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("file storage address {0:?}: {1}")]
    Address(String, String),
}

/// A handle on the file storage; cheap to clone.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// Where it is, for logs and the README's backup advice (`/var/lib/chinwag/files`, `s3://…`).
    pub describe: String,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("at", &self.describe)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Files under `dir`, made if missing.
    pub fn local(dir: &FsPath) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir)?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self {
            store: Arc::new(store),
            prefix: Path::default(),
            describe: dir.display().to_string(),
        })
    }

    /// The store at `url` (`s3://bucket/prefix`, or `file:///path`), with `options` as
    /// `object_store` names them (`aws_endpoint`, `aws_access_key_id`, `aws_allow_http`, ...;
    /// [`aws_env`] reads them from the standard variables).
    pub fn from_url(
        url: &str,
        options: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, StorageError> {
        let parsed = url::Url::parse(url)
            .map_err(|err| StorageError::Address(url.into(), err.to_string()))?;
        if parsed.scheme() == "file" {
            let dir = parsed
                .to_file_path()
                .map_err(|()| StorageError::Address(url.into(), "not a local path".into()))?;
            return Self::local(&dir);
        }
        let (store, prefix) = object_store::parse_url_opts(&parsed, options)?;
        Ok(Self {
            store: Arc::from(store),
            prefix,
            describe: url.to_owned(),
        })
    }

    fn path(&self, hash: &str) -> Path {
        let shard = hash.get(..2).unwrap_or("00");
        self.prefix.child("blobs").child(shard).child(hash)
    }

    /// Whether the object `hash` is stored.
    pub async fn has(&self, hash: &str) -> Result<bool, StorageError> {
        match self.store.head(&self.path(hash)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Stores `bytes` as `hash` (small objects: thumbnails, avatars, cleaned pictures).
    pub async fn put(&self, hash: &str, bytes: Bytes) -> Result<(), StorageError> {
        if self.has(hash).await? {
            return Ok(());
        }
        self.store
            .put(&self.path(hash), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// Stores the file at `from` as `hash`, read and sent a part at a time, so memory holds at
    /// most a part or two whatever the file's size.
    pub async fn put_file(&self, hash: &str, from: &FsPath) -> Result<(), StorageError> {
        if self.has(hash).await? {
            return Ok(());
        }
        let mut file = tokio::fs::File::open(from).await?;
        let upload = self.store.put_multipart(&self.path(hash)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut buf = vec![0; 256 << 10];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) => {
                    // Leaves no half-written object behind.
                    let _ = writer.abort().await;
                    return Err(err.into());
                }
            };
            writer.wait_for_capacity(2).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(())
    }

    /// The object `hash` as a stream of chunks, with its size; `None` if it is not stored.
    pub async fn get(
        &self,
        hash: &str,
    ) -> Result<Option<(u64, BoxStream<'static, Result<Bytes, StorageError>>)>, StorageError> {
        match self.store.get(&self.path(hash)).await {
            Ok(found) => {
                let size = found.meta.size;
                let stream = found
                    .into_stream()
                    .map(|chunk| chunk.map_err(StorageError::from));
                Ok(Some((size, stream.boxed())))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Removes the object `hash` (gone already is fine).
    pub async fn delete(&self, hash: &str) -> Result<(), StorageError> {
        match self.store.delete(&self.path(hash)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}

/// An S3 bucket's options from the standard `AWS_*` variables (`AWS_ENDPOINT`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP` for a local
/// endpoint).
pub fn aws_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with("AWS_"))
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect()
}
