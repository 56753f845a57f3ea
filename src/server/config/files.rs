//! File sharing's settings: where files are kept and how much anyone may upload.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{invalid, positive, ConfigError};
use crate::server::files::FilesConfig;

/// Where uploaded files are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilesAt {
    /// A directory (by default `files` in the data directory).
    Dir(PathBuf),
    /// An object store: `s3://bucket/prefix` (several servers share it), or `file:///path`.
    Url(String),
}

/// File sharing, as the server runs it.
#[derive(Debug, Clone)]
pub struct FilesSetup {
    pub at: FilesAt,
    /// Where uploads in flight are written (always local: a temporary file per upload).
    pub incoming: PathBuf,
    pub config: FilesConfig,
}

impl FilesSetup {
    /// Files in `dir/files`, uploads in flight in `dir/incoming`, default limits.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            at: FilesAt::Dir(dir.join("files")),
            incoming: dir.join("incoming"),
            config: FilesConfig::default(),
        }
    }
}

/// The settings of file sharing (part of `chinwag --help`).
#[derive(Debug, Clone, Args)]
pub struct FilesSettings {
    /// Keep uploaded files in this object store instead of the data directory:
    /// `s3://bucket/prefix` (configured by the standard AWS_* variables: AWS_ENDPOINT,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP); several servers
    /// need one they share
    #[arg(long, env = "CHINWAG_FILES_URL", value_name = "URL")]
    pub files_url: Option<String>,
    /// The largest file one may upload, in bytes
    #[arg(
        long,
        env = "CHINWAG_MAX_UPLOAD_BYTES",
        default_value = "25000000",
        value_name = "BYTES"
    )]
    pub max_upload_bytes: u64,
    /// The most pixels a picture may have (refused from its header, before it is decoded)
    #[arg(
        long,
        env = "CHINWAG_MAX_PICTURE_PIXELS",
        default_value = "50000000",
        value_name = "PIXELS"
    )]
    pub max_picture_pixels: u64,
    /// How many bytes of files one person may keep
    #[arg(
        long,
        env = "CHINWAG_UPLOAD_QUOTA_BYTES",
        default_value = "1000000000",
        value_name = "BYTES"
    )]
    pub upload_quota_bytes: u64,
    /// How many bytes of files the server keeps at most (uploads past it are refused)
    #[arg(
        long,
        env = "CHINWAG_FILES_MAX_BYTES",
        default_value = "20000000000",
        value_name = "BYTES"
    )]
    pub files_max_bytes: u64,
    /// Uploads per minute per person
    #[arg(
        long,
        env = "CHINWAG_UPLOADS_PER_MINUTE",
        default_value = "30",
        value_name = "N"
    )]
    pub uploads_per_minute: f64,
}

impl FilesSettings {
    /// Checks the rules and builds file sharing's setup, with `data_dir` as the default home.
    pub fn into_setup(self, data_dir: &Path) -> Result<FilesSetup, ConfigError> {
        for (value, id) in [
            (self.max_upload_bytes, "max_upload_bytes"),
            (self.max_picture_pixels, "max_picture_pixels"),
            (self.upload_quota_bytes, "upload_quota_bytes"),
            (self.files_max_bytes, "files_max_bytes"),
        ] {
            if value == 0 {
                return Err(invalid(id, "must be at least 1".to_owned()));
            }
        }
        positive(self.uploads_per_minute, "uploads_per_minute")?;
        let at = match self.files_url {
            None => FilesAt::Dir(data_dir.join("files")),
            Some(url) => {
                let parsed = url::Url::parse(&url)
                    .map_err(|err| invalid("files_url", format!("{url:?}: {err}")))?;
                if !matches!(parsed.scheme(), "s3" | "file") {
                    return Err(invalid(
                        "files_url",
                        format!("{url:?}: only s3:// and file:// are supported"),
                    ));
                }
                FilesAt::Url(url)
            }
        };
        Ok(FilesSetup {
            at,
            incoming: data_dir.join("incoming"),
            config: FilesConfig {
                max_upload_bytes: self.max_upload_bytes,
                max_pixels: self.max_picture_pixels,
                quota_per_person: self.upload_quota_bytes,
                max_total_bytes: self.files_max_bytes,
                uploads_per_minute: self.uploads_per_minute,
                ..FilesConfig::default()
            },
        })
    }
}
