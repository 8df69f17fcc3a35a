//! The download cache of remote archives: `<work>/downloads/<sha256>.<ext>`.

use std::collections::HashMap;
use std::path::PathBuf;

use kao_dataset::FileLock;
use url::Url;

use crate::archive::{self, ArchiveKind};
use crate::crawl::{parse_url, CrawlEvent, Ctx};
use crate::error::{CrawlError, Result};
use crate::store::remove_temp_files;

/// Archives fetched into `<work>/downloads/`, once per run and across runs.
pub(crate) struct Downloads {
    dir: PathBuf,
    /// Spec → (local file, source id), for archives already resolved by this run.
    resolved: tokio::sync::Mutex<HashMap<String, (PathBuf, String)>>,
}

/// Held while a process removes temp files from the folder or downloads into it, so that
/// collect shards running at once download each archive once and never remove another's
/// download in progress.
const LOCK: &str = ".lock";

impl Downloads {
    pub(crate) fn new(dir: PathBuf) -> Result<Self> {
        if dir.is_dir() {
            let _lock = FileLock::acquire(&dir.join(LOCK))?;
            remove_temp_files(&dir)?;
        }
        Ok(Downloads {
            dir,
            resolved: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The verified local file of an archive spec (URL or path) and the id its members'
    /// sources start with.
    pub(crate) async fn resolve(
        &self,
        ctx: &Ctx<'_>,
        spec: &str,
        sha256: Option<&str>,
    ) -> Result<(PathBuf, String)> {
        let key = format!("{spec}\n{}", sha256.unwrap_or(""));
        let mut resolved = self.resolved.lock().await;
        if let Some(hit) = resolved.get(&key) {
            return Ok(hit.clone());
        }
        let is_url = spec.starts_with("http://") || spec.starts_with("https://");
        let hit = if is_url {
            let url = parse_url(spec)?;
            (self.download(ctx, &url, sha256).await?, url.to_string())
        } else {
            let path = std::path::absolute(spec).map_err(CrawlError::io(spec))?;
            if let Some(expected) = sha256 {
                let p = path.clone();
                let actual = tokio::task::spawn_blocking(move || archive::file_sha256(&p))
                    .await
                    .map_err(|e| CrawlError::Config(e.to_string()))??;
                archive::check_sha256(spec, expected, &actual)?;
            } else if !path.is_file() {
                return Err(CrawlError::Io {
                    path,
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
            let id = path.display().to_string();
            (path, id)
        };
        resolved.insert(key, hit.clone());
        Ok(hit)
    }

    async fn download(&self, ctx: &Ctx<'_>, url: &Url, sha256: Option<&str>) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir).map_err(CrawlError::io(&self.dir))?;
        let lock = self.dir.join(LOCK);
        let _lock = tokio::task::spawn_blocking(move || FileLock::acquire(&lock))
            .await
            .map_err(|e| CrawlError::Config(e.to_string()))??;
        let stem = match sha256 {
            Some(s) => s.trim().to_ascii_lowercase(),
            None => format!(
                "url-{}",
                &kao_image::content_id(url.as_str().as_bytes())[..16]
            ),
        };
        if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(CrawlError::Config(format!("{stem:?} is not a SHA-256")));
        }
        for kind in ArchiveKind::ALL {
            let path = self.dir.join(format!("{stem}.{}", kind.extension()));
            if !path.is_file() {
                continue;
            }
            match sha256 {
                None => return Ok(path),
                Some(expected) => {
                    let p = path.clone();
                    let actual = tokio::task::spawn_blocking(move || archive::file_sha256(&p))
                        .await
                        .map_err(|e| CrawlError::Config(e.to_string()))??;
                    if archive::check_sha256("", expected, &actual).is_ok() {
                        tracing::info!(file = %path.display(), "reusing the downloaded archive");
                        return Ok(path);
                    }
                    tracing::warn!(file = %path.display(), "downloaded archive does not match its checksum: downloading again");
                    std::fs::remove_file(&path).map_err(CrawlError::io(&path))?;
                }
            }
        }
        let tmp = self
            .dir
            .join(format!(".{stem}.{}.download.tmp", std::process::id()));
        let on_progress = |bytes: u64, total: Option<u64>| {
            (ctx.progress)(&CrawlEvent::Download {
                url: url.as_str(),
                bytes,
                total,
            })
        };
        tracing::info!(url = %url, "downloading archive");
        let result = ctx
            .fetcher
            .download(url, &tmp, ctx.opts.max_archive_bytes, &on_progress)
            .await;
        let finish = || -> Result<PathBuf> {
            let (actual, _len) = result.map_err(|r| CrawlError::Download {
                url: url.to_string(),
                reason: format!("{}: {}", r.reason, r.detail),
            })?;
            if let Some(expected) = sha256 {
                archive::check_sha256(url.as_str(), expected, &actual)?;
            }
            let kind = archive::sniff(&tmp)?;
            let path = self.dir.join(format!("{stem}.{}", kind.extension()));
            std::fs::rename(&tmp, &path).map_err(CrawlError::io(&path))?;
            Ok(path)
        };
        let out = finish();
        if out.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        out
    }
}
